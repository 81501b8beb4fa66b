//! The ESM over a store that fails or conflicts: a command that cannot be
//! committed changes nothing in memory either; a conflicting commit is
//! redone on fresh data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use zgate_esm::state::{Change, State};
use zgate_esm::store::{sqlite::SqliteStore, Journal, Store, StoreError};
use zgate_esm::{AccessLevel, CommandErrorKind, Esm, EsmConfig, HashCost, Issuer};

/// Wraps the SQLite store; `conflicts` next applies answer Conflict,
/// `failures` next applies fail outright.
struct Faulty {
    inner: SqliteStore,
    conflicts: Arc<AtomicU32>,
    failures: Arc<AtomicU32>,
    applies: Arc<AtomicU32>,
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl Store for Faulty {
    fn load(&mut self) -> Result<State, StoreError> {
        self.inner.load()
    }
    fn apply(
        &mut self,
        changes: &[Change],
        journal: &str,
        generation: i64,
    ) -> Result<i64, StoreError> {
        if take(&self.conflicts) {
            return Err(StoreError::Conflict {
                found: generation + 1,
                expected: generation,
            });
        }
        if take(&self.failures) {
            return Err(StoreError::Backend("disk full".into()));
        }
        self.applies.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(changes, journal, generation)
    }
    fn generation(&mut self) -> Result<i64, StoreError> {
        self.inner.generation()
    }
    fn revoke_token(
        &mut self,
        hash: &str,
        expires_at_ms: i64,
        journal: &str,
    ) -> Result<(), StoreError> {
        self.inner.revoke_token(hash, expires_at_ms, journal)
    }
    fn journal_since(&mut self, generation: i64) -> Result<Journal, StoreError> {
        self.inner.journal_since(generation)
    }
    fn purge_expired_tokens(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        self.inner.purge_expired_tokens(now_ms)
    }
    fn dump(&mut self) -> Result<Vec<String>, StoreError> {
        self.inner.dump()
    }
}

fn setup() -> (
    tempfile::TempDir,
    Esm,
    Arc<AtomicU32>,
    Arc<AtomicU32>,
    Arc<AtomicU32>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (c, f, a) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let store = Faulty {
        inner: SqliteStore::open(&dir.path().join("esm.db")).unwrap(),
        conflicts: c.clone(),
        failures: f.clone(),
        applies: a.clone(),
    };
    let esm = Esm::with_store(
        Box::new(store),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap();
    (dir, esm, c, f, a)
}

#[test]
fn conflicting_commit_is_redone() {
    let (_d, esm, conflicts, _f, applies) = setup();
    let before = applies.load(Ordering::SeqCst);
    conflicts.store(2, Ordering::SeqCst);
    esm.run_command(&Issuer::Operator, "ADDUSER BOB").unwrap();
    assert_eq!(
        applies.load(Ordering::SeqCst),
        before + 1,
        "applied exactly once"
    );
    assert!(esm.user("BOB").is_some());
    // Three conflicts in a row: give up with a store error, nothing applied.
    conflicts.store(3, Ordering::SeqCst);
    let e = esm
        .run_command(&Issuer::Operator, "ADDUSER ANN")
        .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::Store);
    assert!(esm.user("ANN").is_none());
}

#[test]
fn failed_commit_leaves_memory_and_index_unchanged() {
    let (_d, esm, _c, failures, _a) = setup();
    esm.run_command(&Issuer::Operator, "SETROPTS CLASSACT(ZOWE)\n")
        .unwrap();
    esm.run_command(&Issuer::Operator, "RDEFINE ZOWE R UACC(NONE)")
        .unwrap();
    failures.store(1, Ordering::SeqCst);
    let e = esm
        .run_command(&Issuer::Operator, "RALTER ZOWE R UACC(ALTER)")
        .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::Store);
    assert!(e.to_string().contains("disk full"));
    assert_eq!(esm.check("X", "ZOWE", "R", AccessLevel::Read).saf_rc, 8);
    let rl = esm
        .run_command(&Issuer::Operator, "RLIST ZOWE R")
        .unwrap()
        .lines
        .join("\n");
    assert!(
        rl.contains("SYS1          NONE"),
        "UACC must still be NONE: {rl}"
    );
    // A logon that cannot be recorded is not answered (fail closed), for a
    // right and a wrong password alike; the next one, with the store back,
    // is.
    esm.run_command(&Issuer::Operator, "ADDUSER BOB PASSWORD(PW1) NOEXPIRED")
        .unwrap();
    failures.store(1, Ordering::SeqCst);
    assert_eq!(
        esm.verify("BOB", "PW1", None),
        zgate_esm::VerifyOutcome::StoreUnavailable
    );
    failures.store(1, Ordering::SeqCst);
    assert_eq!(
        esm.verify("BOB", "WRONG", None),
        zgate_esm::VerifyOutcome::StoreUnavailable
    );
    assert!(matches!(
        esm.verify("BOB", "PW1", None),
        zgate_esm::VerifyOutcome::Success { .. }
    ));
}
