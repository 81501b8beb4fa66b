//! TOTP.
