//! The audit trail of a running app: started from `zgate.audit` on
//! `<home>/audit/` (key `<home>/state/audit.key`, where `zgate audit`
//! looks), shared by the ESM and the gateway, and closed on shutdown.
//!
//! The ESM and the gateway hold the trail through [`AppTrail`], which the
//! app can close: the writer thread ends only when every sender is gone,
//! and a [`crate::Handle`] (with the ESM in it) may outlive `run`. Closing
//! drops the one sender, so the queue is written and the thread joined
//! whoever still holds the ESM; a record submitted after that is refused
//! (or counted) like any other record the trail cannot take.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use zgate_audit::trail::{TrailError, TrailPolicy};
use zgate_audit::{
    AuditHealth, AuditRecord, AuditSink, AuditUnavailable, OnFailure, QueuedTrail, WriterSettings,
};
use zgate_config::{AuditConfig, AuditOnFailure};
use zgate_gateway::audit::AuditTrail;

/// The trail directory, under the home.
pub const AUDIT_DIR: &str = "audit";
/// The checkpoint signing key, under the home.
pub const AUDIT_KEY: &str = "state/audit.key";

/// A trail the app can close; what the ESM and the gateway record into.
pub(crate) struct AppTrail {
    on_failure: OnFailure,
    open: RwLock<Option<QueuedTrail>>,
}

impl AppTrail {
    fn queue(&self) -> std::sync::RwLockReadGuard<'_, Option<QueuedTrail>> {
        self.open.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl AuditSink for AppTrail {
    fn submit(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        match &*self.queue() {
            Some(trail) => trail.submit(record),
            None => match self.on_failure {
                OnFailure::Refuse => Err(AuditUnavailable("the trail is closed".into())),
                OnFailure::Count => Ok(()),
            },
        }
    }
}

impl AuditTrail for AppTrail {
    fn health(&self) -> AuditHealth {
        match &*self.queue() {
            Some(trail) => trail.health(),
            None => AuditHealth {
                on_failure: self.on_failure,
                queued: 0,
                written: 0,
                dropped: 0,
                error: Some("the trail is closed".into()),
            },
        }
    }

    fn flush(&self) {
        if let Some(trail) = &*self.queue() {
            trail.flush();
        }
    }
}

/// The running trail and its writer thread.
pub(crate) struct AuditWriter {
    pub(crate) trail: Arc<AppTrail>,
    thread: JoinHandle<()>,
}

impl AuditWriter {
    /// Opens the trail `config` describes for `home` and starts its writer.
    pub(crate) fn start(home: &Path, config: &AuditConfig) -> Result<AuditWriter, TrailError> {
        let on_failure = match config.on_failure {
            AuditOnFailure::Refuse => OnFailure::Refuse,
            AuditOnFailure::Count => OnFailure::Count,
        };
        let (queue, thread) = QueuedTrail::start(WriterSettings {
            dir: home.join(AUDIT_DIR),
            key: home.join(AUDIT_KEY),
            policy: TrailPolicy {
                max_file_bytes: config.max_file_mb.saturating_mul(1024 * 1024),
                ..TrailPolicy::default()
            },
            capacity: config.queue,
            checkpoint_interval: Duration::from_secs(config.checkpoint_seconds),
            on_failure,
            system_id: config.system_id.clone(),
        })?;
        Ok(AuditWriter {
            trail: Arc::new(AppTrail {
                on_failure,
                open: RwLock::new(Some(queue)),
            }),
            thread,
        })
    }

    /// Writes what is queued, closes the trail and waits for the writer
    /// (blocking: call on a blocking thread).
    pub(crate) fn close(self) {
        let queue = self
            .trail
            .open
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(queue) = queue {
            queue.flush();
            drop(queue);
            let _ = self.thread.join();
        }
    }
}
