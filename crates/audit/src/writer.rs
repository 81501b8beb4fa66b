//! Writing records without making a request wait for the disk: a bounded
//! queue and one writer thread ([`QueuedTrail`]), and the policy for when
//! the queue is full or the disk fails ([`OnFailure`]). A short-lived
//! process writes through [`DirectTrail`] instead.
//!
//! While the trail cannot take records (the queue is full, or the last
//! write failed and is being retried), [`OnFailure::Refuse`] answers
//! [`AuditUnavailable`] so that callers refuse what must be audited, and
//! [`OnFailure::Count`] drops the record and counts it. A record the writer
//! could not write is kept and retried: nothing accepted is lost while the
//! process runs. A record accepted just before the process dies may be lost
//! (the queue lives in memory); the signed head shows whether the trail was
//! cut, not whether a queue was.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::record::{AuditRecord, AuditSink, AuditUnavailable};
use crate::trail::{Trail, TrailError, TrailPolicy};

/// What happens to records the trail cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Refuse what must be audited (the default: an ESM fails closed).
    #[default]
    Refuse,
    /// Drop the record and count it.
    Count,
}

impl OnFailure {
    /// The configuration word (`refuse` / `count`).
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Refuse => "refuse",
            OnFailure::Count => "count",
        }
    }
}

/// The writer's settings.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// The trail directory.
    pub dir: PathBuf,
    /// The checkpoint signing key.
    pub key: PathBuf,
    /// Rotation and checkpoint counts.
    pub policy: TrailPolicy,
    /// Records the queue holds.
    pub capacity: usize,
    /// A checkpoint at least this often while records arrive.
    pub checkpoint_interval: Duration,
    /// What to do when the trail cannot take a record.
    pub on_failure: OnFailure,
    /// `system_smfid` of every record.
    pub system_id: String,
}

/// What `/application/health` says of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHealth {
    /// The policy.
    pub on_failure: OnFailure,
    /// Records waiting in the queue.
    pub queued: usize,
    /// Records written.
    pub written: u64,
    /// Records dropped ([`OnFailure::Count`]) or refused ([`OnFailure::Refuse`]).
    pub dropped: u64,
    /// The last write error, while writes fail.
    pub error: Option<String>,
}

impl AuditHealth {
    /// Records can be taken now.
    pub fn is_up(&self) -> bool {
        self.error.is_none()
    }
}

enum Message {
    Record(Box<Map<String, Value>>),
    Flush(mpsc::Sender<()>),
}

struct Shared {
    on_failure: OnFailure,
    queued: AtomicUsize,
    written: AtomicU64,
    dropped: AtomicU64,
    failing: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Shared {
    fn set_error(&self, e: Option<String>) {
        self.failing.store(e.is_some(), Ordering::SeqCst);
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }
}

/// The queue in front of the writer thread. Dropping it (and every clone's
/// sender) ends the thread after the queue is written.
pub struct QueuedTrail {
    tx: SyncSender<Message>,
    shared: Arc<Shared>,
    system_id: String,
}

impl QueuedTrail {
    /// Opens the trail and starts the writer thread.
    pub fn start(settings: WriterSettings) -> Result<(QueuedTrail, JoinHandle<()>), TrailError> {
        let trail = Trail::open(&settings.dir, &settings.key, settings.policy)?;
        let (tx, rx) = mpsc::sync_channel(settings.capacity.max(1));
        let shared = Arc::new(Shared {
            on_failure: settings.on_failure,
            queued: AtomicUsize::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        let thread_shared = shared.clone();
        let system_id = settings.system_id.clone();
        let handle = std::thread::Builder::new()
            .name("zgate-audit".into())
            .spawn(move || write_loop(trail, rx, &thread_shared, &settings))
            .map_err(|source| TrailError::Io {
                path: PathBuf::from("zgate-audit thread"),
                source,
            })?;
        Ok((
            QueuedTrail {
                tx,
                shared,
                system_id,
            },
            handle,
        ))
    }

    /// The trail's state.
    pub fn health(&self) -> AuditHealth {
        AuditHealth {
            on_failure: self.shared.on_failure,
            queued: self.shared.queued.load(Ordering::SeqCst),
            written: self.shared.written.load(Ordering::SeqCst),
            dropped: self.shared.dropped.load(Ordering::SeqCst),
            error: self
                .shared
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Waits until every record submitted before is written (or the writer
    /// is retrying a failed write). For shutdown and tests.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    fn refuse(&self, why: &str) -> Result<(), AuditUnavailable> {
        self.shared.dropped.fetch_add(1, Ordering::SeqCst);
        match self.shared.on_failure {
            OnFailure::Refuse => Err(AuditUnavailable(why.to_owned())),
            OnFailure::Count => Ok(()),
        }
    }
}

impl AuditSink for QueuedTrail {
    fn submit(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        if self.shared.failing.load(Ordering::SeqCst) {
            return self.refuse("the last write failed");
        }
        let fields = record
            .set("system_smfid", self.system_id.as_str())
            .into_fields();
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        match self.tx.try_send(Message::Record(Box::new(fields))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.shared.queued.fetch_sub(1, Ordering::SeqCst);
                self.refuse("the queue is full")
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.queued.fetch_sub(1, Ordering::SeqCst);
                self.refuse("the writer has stopped")
            }
        }
    }
}

/// How long the writer waits before retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_millis(200);

fn write_loop(mut trail: Trail, rx: Receiver<Message>, shared: &Shared, settings: &WriterSettings) {
    let mut pending: Vec<Map<String, Value>> = Vec::new();
    let mut flushes: Vec<mpsc::Sender<()>> = Vec::new();
    let mut last_checkpoint = Instant::now();
    let mut open = true;
    while open || !pending.is_empty() {
        let wait = if pending.is_empty() {
            settings.checkpoint_interval
        } else {
            RETRY_AFTER
        };
        match rx.recv_timeout(wait) {
            Ok(m) => take(m, &mut pending, &mut flushes, shared),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        // Everything queued now goes in one locked append.
        while let Ok(m) = rx.try_recv() {
            take(m, &mut pending, &mut flushes, shared);
        }
        if !pending.is_empty() {
            let n = pending.len() as u64;
            match trail.append_all(pending.iter().cloned()) {
                Ok(_) => {
                    pending.clear();
                    shared.written.fetch_add(n, Ordering::SeqCst);
                    shared.set_error(None);
                }
                Err(e) => {
                    shared.set_error(Some(e.to_string()));
                    // The file may be gone or its handle bad: start anew.
                    if let Ok(t) = Trail::open(&settings.dir, &settings.key, settings.policy) {
                        trail = t;
                    }
                    if !open {
                        // Shutting down with a failing disk: what is left
                        // is lost, and counted as such.
                        shared
                            .dropped
                            .fetch_add(pending.len() as u64, Ordering::SeqCst);
                        break;
                    }
                }
            }
        }
        if trail.unsigned() > 0
            && last_checkpoint.elapsed() >= settings.checkpoint_interval
            && trail.checkpoint().is_ok()
        {
            last_checkpoint = Instant::now();
        }
        if pending.is_empty() || shared.failing.load(Ordering::SeqCst) {
            for f in flushes.drain(..) {
                let _ = f.send(());
            }
        }
    }
}

fn take(
    m: Message,
    pending: &mut Vec<Map<String, Value>>,
    flushes: &mut Vec<mpsc::Sender<()>>,
    shared: &Shared,
) {
    match m {
        Message::Record(r) => {
            shared.queued.fetch_sub(1, Ordering::SeqCst);
            pending.push(*r);
        }
        Message::Flush(f) => flushes.push(f),
    }
}

/// Writes each record at once, under the trail's lock: for a process that
/// runs one command and exits (`zgate esm`). A write error refuses.
pub struct DirectTrail {
    trail: Mutex<Trail>,
    system_id: String,
}

impl DirectTrail {
    /// Opens the trail, continuing its newest file.
    pub fn open(
        dir: &Path,
        key: &Path,
        policy: TrailPolicy,
        system_id: &str,
    ) -> Result<DirectTrail, TrailError> {
        Ok(DirectTrail {
            trail: Mutex::new(Trail::open_continuing(dir, key, policy)?),
            system_id: system_id.to_owned(),
        })
    }
}

impl AuditSink for DirectTrail {
    fn submit(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        let fields = record
            .set("system_smfid", self.system_id.as_str())
            .into_fields();
        self.trail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(fields)
            .map(|_| ())
            .map_err(|e| AuditUnavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::JOBINIT;
    use crate::verify::{verify, Expectations};

    fn settings(dir: &Path, capacity: usize, on_failure: OnFailure) -> WriterSettings {
        WriterSettings {
            dir: dir.join("audit"),
            key: dir.join("state/audit.key"),
            policy: TrailPolicy::default(),
            capacity,
            checkpoint_interval: Duration::from_secs(3600),
            on_failure,
            system_id: "ZGT1".into(),
        }
    }

    fn record(i: i64) -> AuditRecord {
        AuditRecord::new(JOBINIT, 1, i, Some("ALICE"))
    }

    #[test]
    fn queued_records_are_written_in_order_and_chain_with_a_direct_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let s = settings(tmp.path(), 64, OnFailure::Refuse);
        let (q, handle) = QueuedTrail::start(s.clone()).unwrap();
        for i in 0..10 {
            q.submit(record(i)).unwrap();
        }
        q.flush();
        // Another process's writer appends between two of ours.
        let direct = DirectTrail::open(&s.dir, &s.key, s.policy, "ZGT2").unwrap();
        direct.submit(record(100)).unwrap();
        q.submit(record(11)).unwrap();
        q.flush();
        assert_eq!(q.health().written, 11);
        drop(direct);
        drop(q);
        handle.join().unwrap();
        let files = crate::trail::trail_files(&s.dir).unwrap();
        let v = verify(&files, &Expectations::default()).unwrap();
        assert!(v.records >= 14, "{v:?}");
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(text.contains("\"system_smfid\":\"ZGT2\""));
        assert_eq!(text.matches("\"evt_user_id\":\"ALICE\"").count(), 12);
    }

    #[test]
    fn a_full_queue_refuses_or_counts_as_configured() {
        for (policy, refused) in [(OnFailure::Refuse, true), (OnFailure::Count, false)] {
            let tmp = tempfile::tempdir().unwrap();
            let s = settings(tmp.path(), 1, policy);
            // No writer thread: the queue fills at once.
            let (tx, _rx) = mpsc::sync_channel(1);
            let q = QueuedTrail {
                tx,
                shared: Arc::new(Shared {
                    on_failure: s.on_failure,
                    queued: AtomicUsize::new(0),
                    written: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                    failing: AtomicBool::new(false),
                    error: Mutex::new(None),
                }),
                system_id: s.system_id.clone(),
            };
            assert!(q.submit(record(1)).is_ok());
            assert_eq!(q.submit(record(2)).is_err(), refused, "{policy:?}");
            assert_eq!(q.health().dropped, 1);
            assert_eq!(q.health().queued, 1);
        }
    }

    #[test]
    fn a_failing_disk_refuses_until_a_write_succeeds() {
        let tmp = tempfile::tempdir().unwrap();
        let s = settings(tmp.path(), 64, OnFailure::Refuse);
        let (q, handle) = QueuedTrail::start(s.clone()).unwrap();
        q.submit(record(1)).unwrap();
        q.flush();
        // The trail directory becomes a file: every write fails.
        std::fs::rename(&s.dir, tmp.path().join("moved")).unwrap();
        std::fs::write(&s.dir, b"not a directory").unwrap();
        q.submit(record(2)).unwrap();
        q.flush();
        let h = q.health();
        assert!(h.error.is_some(), "{h:?}");
        assert!(q.submit(record(3)).is_err());
        // The disk comes back: the kept record is written.
        std::fs::remove_file(&s.dir).unwrap();
        std::fs::rename(tmp.path().join("moved"), &s.dir).unwrap();
        q.flush();
        drop(q);
        handle.join().unwrap();
        let text: String = crate::trail::trail_files(&s.dir)
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(text.contains("\"time_written\":\"1970-01-01T00:00:00.002Z\""));
    }
}
