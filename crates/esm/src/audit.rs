//! Where the ESM reports security events: checks granted only because of
//! WARNING and denied checks.

use std::sync::Mutex;

use crate::index::Decision;

/// One audited check (RACF writes an SMF record).
pub struct AuditEvent<'a> {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// The user (upper case).
    pub user: &'a str,
    /// The class.
    pub class: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// The decision, with its explanation.
    pub decision: &'a Decision,
}

/// Receives audit records: access granted only because of WARNING (always,
/// as the spec requires) and access denied (RACF's default
/// `AUDIT(FAILURES(READ))`). Called on the check path, so it must not block
/// on I/O: log through `tracing`, or hand the record to a channel.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: &AuditEvent<'_>);
}

/// An [`AuditSink`] keeping the last `capacity` records in memory, as text.
pub struct MemoryAudit {
    capacity: usize,
    records: Mutex<std::collections::VecDeque<String>>,
}

impl MemoryAudit {
    /// A recorder keeping at most `capacity` records.
    pub fn new(capacity: usize) -> MemoryAudit {
        MemoryAudit {
            capacity,
            records: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> Vec<String> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, e: &AuditEvent<'_>) {
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == self.capacity {
            r.pop_front();
        }
        r.push_back(format!(
            "{} {} {} {}: {}",
            e.at_ms, e.user, e.class, e.resource, e.decision
        ));
    }
}
