//! The durable store: an interface the ESM writes through and loads from.
//!
//! The ESM's logic only ever speaks in [`Change`]s and [`State`]; a backend
//! turns a slice of changes into ONE transaction. SQLite ([`sqlite`]) is the
//! embedded backend, PostgreSQL ([`postgres`]) the one several gateways
//! share; nothing backend-specific may leak into the ESM.

pub mod copy;
pub mod postgres;
pub mod sqlite;

use std::cmp::Ordering;
use std::sync::Arc;

use rusqlite::types::Value;

use crate::state::{Change, State};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, SQL, lock).
    #[error("store: {0}")]
    Backend(String),
    /// Stored data does not make sense (hand-edited or corrupt).
    #[error("store holds invalid data: {0}")]
    Corrupt(String),
    /// The database was written by a newer zgate.
    #[error("the database schema version {found} is newer than this zgate knows ({known})")]
    TooNew {
        /// Version found.
        found: i64,
        /// Newest version known.
        known: i64,
    },
    /// Another process changed the store since it was loaded.
    #[error("the store was changed by another process (generation {found}, expected {expected})")]
    Conflict {
        /// The store's generation.
        found: i64,
        /// The generation the change was computed against.
        expected: i64,
    },
    /// A file-system error.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// How many commits the journal keeps: a process further behind than this
/// loads the whole state instead of replaying.
pub const JOURNAL_KEPT: i64 = 10_000;

/// What was committed after a generation, as [`Store::journal_since`]
/// finds it.
#[derive(Debug, PartialEq, Eq)]
pub enum Journal {
    /// The journal entry of every generation after the one asked for, in
    /// order, each with its generation; empty when nothing was committed.
    Entries(Vec<(i64, String)>),
    /// The journal does not reach back that far (or the store went back):
    /// only loading everything brings a process up to date.
    Gap,
}

/// Called when another process may have committed (a notification, or a
/// notification connection made anew after a loss, when some may have been
/// missed).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A durable backend. Every method is one transaction.
pub trait Store: Send {
    /// Loads the whole state.
    fn load(&mut self) -> Result<State, StoreError>;
    /// Applies the changes in ONE transaction: all or nothing, and only if
    /// the store's generation is still `expected_generation` (optimistic
    /// concurrency between processes sharing the store); returns the new
    /// generation. [`StoreError::Conflict`] means another process committed
    /// first: reload and redo. `journal` (opaque to the store) is kept
    /// under the new generation for [`Store::journal_since`].
    fn apply(
        &mut self,
        changes: &[Change],
        journal: &str,
        expected_generation: i64,
    ) -> Result<i64, StoreError>;
    /// A counter bumped by every committed [`Store::apply`]: lets a process
    /// notice that another one changed the data.
    fn generation(&mut self) -> Result<i64, StoreError>;
    /// Records a revoked token hash until `expires_at_ms`, and bumps the
    /// generation with `journal` as its entry, so that other processes on
    /// the store see it.
    fn revoke_token(
        &mut self,
        hash: &str,
        expires_at_ms: i64,
        journal: &str,
    ) -> Result<(), StoreError>;
    /// The journal entries committed after `generation`, read in one
    /// snapshot with the current generation: a process replays them
    /// instead of loading everything.
    fn journal_since(&mut self, generation: i64) -> Result<Journal, StoreError>;
    /// Makes other processes' commits wait until [`Store::unlock_commits`]
    /// (a lock the store's processes share): a process then plans and
    /// commits on data nobody changes meanwhile. A store without one
    /// (one process, or SQLite's own file lock at commit) does nothing:
    /// the generation check of [`Store::apply`] still refuses a stale
    /// commit.
    fn lock_commits(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Ends [`Store::lock_commits`].
    fn unlock_commits(&mut self) {}
    /// Asks the store to call `wake` when another process commits. A
    /// store without notifications never calls it: its processes look
    /// (poll [`Store::journal_since`]) on their own schedule.
    fn watch(&mut self, wake: Wake) -> Result<(), StoreError> {
        let _ = wake;
        Ok(())
    }
    /// Forgets revocations that expired before `now_ms`; returns how many.
    fn purge_expired_tokens(&mut self, now_ms: i64) -> Result<usize, StoreError>;
    /// Counts a logon rejected without a user record to update (unknown
    /// user, or revoked user with a wrong secret). It exists so that such a
    /// rejection writes as much as a counted failure does (timing), and as
    /// a statistic. Not part of the model: changes no generation.
    fn note_rejected_logon(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// PassTicket replay protection: records the use of a ticket
    /// (`ticket_hash`, a digest of user, application and ticket) until
    /// `expires_at_ms`, dropping expired records; `false` when it was
    /// already used. One transaction, shared by every process on the store.
    fn claim_passticket(
        &mut self,
        ticket_hash: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        // A backend without replay records refuses: tickets fail closed.
        let _ = (ticket_hash, expires_at_ms, now_ms);
        Err(StoreError::Backend(
            "PassTicket replay protection is not supported by this store".to_owned(),
        ))
    }
    /// Whether opening this store created it (no schema before): a first
    /// start.
    fn was_created(&self) -> bool {
        false
    }
    /// A canonical text dump of every row (tests compare dumps): tables in
    /// byte order of their names (without the bookkeeping `meta`), rows
    /// sorted on all columns as SQLite sorts (NULL, then numbers, then text
    /// in byte order), one line `table: value...` each; the same on every
    /// backend for the same state.
    fn dump(&mut self) -> Result<Vec<String>, StoreError>;
}

/// Orders two column values as SQLite's `ORDER BY` does with the BINARY
/// collation.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
            Value::Blob(_) => 3,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
        #[allow(clippy::cast_precision_loss)]
        (Value::Integer(x), Value::Real(y)) => (*x as f64).total_cmp(y),
        #[allow(clippy::cast_precision_loss)]
        (Value::Real(x), Value::Integer(y)) => x.total_cmp(&(*y as f64)),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Checks that `entries` are exactly the generations after `since` up to
/// `current`, in order: anything else is a [`Journal::Gap`].
pub(crate) fn journal_of(since: i64, current: i64, entries: Vec<(i64, String)>) -> Journal {
    let contiguous = entries
        .iter()
        .enumerate()
        .all(|(i, (g, _))| i64::try_from(i).is_ok_and(|i| *g == since + 1 + i));
    if current >= since && contiguous && i64::try_from(entries.len()) == Ok(current - since) {
        Journal::Entries(entries)
    } else {
        Journal::Gap
    }
}

/// Appends a table's rows to a dump in canonical order and spelling.
pub(crate) fn dump_table(table: &str, mut rows: Vec<Vec<Value>>, out: &mut Vec<String>) {
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| compare(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    for row in rows {
        let mut line = format!("{table}:");
        for v in row {
            line.push_str(&format!(" {v:?}"));
        }
        out.push(line);
    }
}

/// Whether a table is part of the security state a copy moves
/// ([`copy`]): not the bookkeeping (`meta`: generation and statistics;
/// PostgreSQL's `schema_version`; SQLite's own `sqlite_*` tables) nor a
/// `change_log` (what one store's processes tell each other, meaningless
/// in another store).
pub(crate) fn is_copied_table(name: &str) -> bool {
    !matches!(name, "meta" | "schema_version" | "change_log") && !name.starts_with("sqlite_")
}

/// One table's columns (in their order) and every row, as raw values.
#[derive(Debug, Clone)]
pub(crate) struct TableRows {
    /// The table.
    pub name: String,
    /// Its columns, in the table's order.
    pub columns: Vec<String>,
    /// Every row, values in column order.
    pub rows: Vec<Vec<Value>>,
}

/// What a copy reads from its source, in one snapshot.
#[derive(Debug, Clone)]
pub(crate) struct TablesSnapshot {
    /// The source's generation when read.
    pub generation: i64,
    /// The copied tables ([`is_copied_table`]), in byte order of their names.
    pub tables: Vec<TableRows>,
}

/// What writing a snapshot into a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// Committed; the store's generation before and after.
    Written {
        /// Before the copy.
        generation_before: i64,
        /// After it: greater than before and than the source's.
        generation: i64,
    },
    /// Nothing written: the target holds rows and replacing was not asked.
    NotEmpty {
        /// The first table (by name) holding rows.
        table: String,
        /// How many.
        rows: u64,
    },
}

/// The generation a store gets when a copy commits: greater than its own
/// before and than the source's, so every process on it reloads.
pub(crate) fn generation_after_copy(target_before: i64, source: i64) -> i64 {
    target_before.max(source).saturating_add(1)
}

/// How often a copy reports progress, in rows.
pub(crate) const PROGRESS_EVERY: u64 = 10_000;

/// Whether a copy reports progress after `copied` of `total` rows of a
/// table: every [`PROGRESS_EVERY`] rows and at the table's end.
pub(crate) fn reports_progress(copied: u64, total: u64) -> bool {
    copied == total || copied.is_multiple_of(PROGRESS_EVERY)
}

#[cfg(test)]
mod tests {
    use super::{journal_of, Journal};

    fn entries(generations: &[i64]) -> Vec<(i64, String)> {
        generations.iter().map(|g| (*g, format!("e{g}"))).collect()
    }

    #[test]
    fn the_journal_counts_only_when_it_holds_every_generation_in_order() {
        assert_eq!(journal_of(4, 4, vec![]), Journal::Entries(vec![]));
        assert_eq!(
            journal_of(4, 6, entries(&[5, 6])),
            Journal::Entries(entries(&[5, 6]))
        );
        // Trimmed past the process's generation, a hole, out of order,
        // short of the current generation, more than it, the store gone
        // back: everything is loaded instead.
        for (since, current, got) in [
            (4, 6, vec![6]),
            (4, 7, vec![5, 7]),
            (4, 6, vec![6, 5]),
            (4, 7, vec![5, 6]),
            (4, 5, vec![5, 6]),
            (4, 3, vec![]),
            (4, 4, vec![5]),
        ] {
            assert_eq!(
                journal_of(since, current, entries(&got)),
                Journal::Gap,
                "{since} {current} {got:?}"
            );
        }
    }
}
