#![forbid(unsafe_code)]

pub mod totp;
