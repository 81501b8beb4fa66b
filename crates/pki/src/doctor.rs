//! The certificate doctor.
