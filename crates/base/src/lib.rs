//! zgate-base: what every zgate crate shares — the time and randomness it
//! injects, the type of secret text, and RACF's access levels. Nothing here knows of security, HTTP or storage; every other
//! crate may depend on this one and it depends on none of them.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod access;
pub mod clock;
pub mod random;
pub mod secret;

pub use access::{AccessLevel, InvalidAccessLevel};
pub use clock::{civil_date, iso_date, Clock, ManualClock, SystemClock};
pub use random::{Random, RandomError, SeededRandom, SystemRandom};
pub use secret::Secret;
