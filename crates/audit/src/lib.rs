//! zgate-audit: the audit trail's file format, and what RACF's controls
//! log ([`decide::decide`]). Records are JSON lines,
//! hash-chained across rotated files with signed checkpoints
//! ([`trail::Trail`]); [`verify::verify`] finds the first altered, removed,
//! reordered or inserted record; [`query`] selects records as an auditor
//! asks for them; [`record`] builds them; [`writer`] writes them off the
//! request path.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod canonical;
pub mod decide;
pub mod query;
pub mod record;
pub mod trail;
pub mod verify;
pub mod writer;

pub use record::{AuditRecord, AuditSink, AuditUnavailable, Authority, MemorySink, Origin};
pub use writer::{AuditHealth, DirectTrail, OnFailure, QueuedTrail, WriterSettings};
