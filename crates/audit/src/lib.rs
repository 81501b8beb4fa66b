//! zgate-audit: the audit trail's file format. Records are JSON lines,
//! hash-chained across rotated files with signed checkpoints
//! ([`trail::Trail`]); [`verify::verify`] finds the first altered, removed,
//! reordered or inserted record; [`query`] selects records as an auditor
//! asks for them.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod canonical;
pub mod query;
pub mod trail;
pub mod verify;
