//! Copying a store into another (`zgate store migrate`): SQLite into
//! PostgreSQL and into SQLite, row for row (the dumps are equal, argon2
//! hashes included), in one transaction on the target, a non-empty target
//! refused unless replaced, a store never copied into itself.
//!
//! PostgreSQL databases come from [`common::pg`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::pg::TestDb;
use common::ManualClock;
use zgate_esm::store::copy::{CopyError, Side};
use zgate_esm::{
    copy_store, AccessLevel, Esm, EsmConfig, HashCost, Issuer, StoreLocation, VerifyOutcome,
};

const START_MS: i64 = 1_790_000_000_000;

const SCENARIO: &str = "
ADDGROUP DEV
ADDGROUP OPS SUPGROUP(DEV)
ADDUSER ALICE DFLTGRP(DEV) PASSWORD(SECRET1) NOEXPIRED NAME('ALICE A') SPECIAL
ADDUSER BOB DFLTGRP(DEV) PASSWORD(SECRET2) NOEXPIRED AUDITOR
ADDUSER CAROL PHRASE('a long pass phrase') NOEXPIRED
CONNECT BOB GROUP(OPS)
SETROPTS PASSWORD(REVOKE(3) HISTORY(2) INTERVAL(60) MIXEDCASE)
SETROPTS CLASSACT(ZOWE FACILITY PTKTDATA) GENERIC(ZOWE PTKTDATA) RACLIST(FACILITY)
RDEFINE ZOWE APIML.** UACC(NONE) APPLDATA('generic') DATA('installation data')
PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(UPDATE)
PERMIT APIML.** CLASS(ZOWE) ID(CAROL) ACCESS(READ) WHEN(SERVAUTH(INTRANET))
RDEFINE FACILITY BPX.SERVER UACC(NONE)
PERMIT BPX.SERVER CLASS(FACILITY) ID(ALICE) ACCESS(READ)
SETROPTS RACLIST(FACILITY) REFRESH
RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)
RDEFINE GLOBAL ZOWE ADDMEM('APIML.G'/READ)
ALTUSER BOB PASSWORD(NEWPW2) NOEXPIRED
";

fn config(clock: &Arc<ManualClock>) -> EsmConfig {
    EsmConfig {
        clock: clock.clone(),
        hash_cost: HashCost::TEST_ONLY,
        ..EsmConfig::default()
    }
}

fn open(location: &StoreLocation) -> Esm {
    let clock = Arc::new(ManualClock::new(START_MS + 60_000));
    Esm::open_store(location, config(&clock)).unwrap()
}

fn sqlite(dir: &Path) -> StoreLocation {
    StoreLocation::Sqlite(dir.join("esm.db"))
}

fn postgres(db: &TestDb) -> StoreLocation {
    StoreLocation::Postgres(db.url.clone())
}

/// A store at `location` with the scenario, a counted failure and a
/// revoked token in it.
fn populated(location: &StoreLocation) {
    let esm = open(location);
    common::run(&esm, SCENARIO);
    assert_eq!(
        esm.verify("BOB", "WRONG1", None),
        VerifyOutcome::WrongPassword
    );
    esm.token_state()
        .revoke_token("bb22", START_MS + 999_999_999)
        .unwrap();
}

fn dump(location: &StoreLocation) -> Vec<String> {
    open(location).dump_store().unwrap()
}

fn answers(esm: &Esm) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in [
        "LISTUSER BOB",
        "LISTGRP OPS",
        "RLIST ZOWE APIML.** ALL",
        "RLIST PTKTDATA TSTAPPL ALL",
        "SETROPTS LIST",
    ] {
        let lines = esm.run_command(&Issuer::Operator, cmd).unwrap().lines;
        out.push(format!("{cmd}: {}", lines.join("\n")));
    }
    for (user, class, resource) in [
        ("BOB", "ZOWE", "APIML.A"),
        ("CAROL", "ZOWE", "APIML.A"),
        ("ALICE", "FACILITY", "BPX.SERVER"),
        ("BOB", "ZOWE", "APIML.G"),
    ] {
        let d = esm.check(user, class, resource, AccessLevel::Read);
        out.push(format!("{user} {class} {resource}: {}", d.saf_rc));
    }
    out.push(format!("{:?}", esm.token_state().revoked_tokens()));
    out
}

fn copy(
    source: &StoreLocation,
    target: &StoreLocation,
    replace: bool,
) -> Result<Vec<(String, u64, u64)>, CopyError> {
    let mut progress = Vec::new();
    let report = copy_store(source, target, replace, &mut |p| {
        progress.push((p.table.to_owned(), p.copied, p.rows));
    })?;
    assert!(report.all_equal(), "{report:#?}");
    assert!(report.generation > report.generation_before);
    Ok(progress)
}

fn copied_exactly(source: &StoreLocation, target: &StoreLocation) {
    populated(source);
    let before = dump(source);
    let users = before.iter().filter(|l| l.starts_with("users:")).count() as u64;
    assert_eq!(users, 3);
    let progress = copy(source, target, false).unwrap();
    // Each table reported complete.
    assert!(
        progress.contains(&("users".to_owned(), users, users)),
        "{progress:?}"
    );
    assert_eq!(dump(target), before);
    // The target answers as the source does, and passwords still work.
    let (from, to) = (open(source), open(target));
    assert_eq!(answers(&to), answers(&from));
    assert!(matches!(
        to.verify("BOB", "NEWPW2", None),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        to.verify("CAROL", "a long pass phrase", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(
        to.verify("ALICE", "WRONG", None),
        VerifyOutcome::WrongPassword
    );
}

#[test]
fn a_sqlite_store_copied_into_postgresql_holds_the_same_rows_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    copied_exactly(&sqlite(dir.path()), &postgres(&db));
}

#[test]
fn a_sqlite_store_copied_into_another_sqlite_file_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    copied_exactly(
        &sqlite(dir.path()),
        &StoreLocation::Sqlite(other.join("copy.db")),
    );
}

#[test]
fn a_postgresql_store_copied_into_sqlite_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    copied_exactly(&postgres(&db), &sqlite(dir.path()));
}

#[test]
fn a_target_with_rows_is_refused_unchanged_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (source, target) = (sqlite(dir.path()), postgres(&db));
    populated(&source);
    // A gateway started on the target once: SYS1 and a user of its own.
    common::run(&open(&target), "ADDUSER ZED PASSWORD(ZEDPW1) NOEXPIRED");
    let target_before = dump(&target);
    match copy(&source, &target, false) {
        Err(CopyError::TargetNotEmpty { table, rows }) => {
            assert!(
                rows > 0
                    && target_before
                        .iter()
                        .any(|l| l.starts_with(&format!("{table}:")))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dump(&target), target_before);
    copy(&source, &target, true).unwrap();
    assert_eq!(dump(&target), dump(&source));
    assert_eq!(
        open(&target).verify("ZED", "ZEDPW1", None),
        VerifyOutcome::UnknownUser
    );
}

#[test]
fn a_store_is_not_copied_into_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    populated(&sqlite(dir.path()));
    populated(&postgres(&db));
    let spelled_otherwise = StoreLocation::Sqlite(dir.path().join(".").join("esm.db"));
    for (source, target) in [
        (sqlite(dir.path()), spelled_otherwise),
        (postgres(&db), postgres(&db)),
        // Another URL of the same database.
        (
            postgres(&db),
            StoreLocation::Postgres(db.url.replace("127.0.0.1", "localhost")),
        ),
    ] {
        let before = dump(&target);
        match copy(&source, &target, true) {
            Err(CopyError::SameStore) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(dump(&target), before);
    }
}

#[test]
fn a_missing_source_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let source = StoreLocation::Sqlite(dir.path().join("nothing.db"));
    match copy(&source, &sqlite(dir.path()), false) {
        Err(CopyError::SourceMissing { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("nothing.db").exists());
}

/// A value PostgreSQL's column cannot hold as it is (SQLite keeps text in
/// an INTEGER column) fails the copy: nothing is converted, nothing is
/// written, nothing deleted.
#[test]
fn a_value_of_another_type_fails_the_whole_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (source, target) = (sqlite(dir.path()), postgres(&db));
    populated(&source);
    let before = dump(&target);
    let conn = rusqlite::Connection::open(dir.path().join("esm.db")).unwrap();
    conn.execute(
        "UPDATE users SET failed_attempts = 'many' WHERE id = 'BOB'",
        [],
    )
    .unwrap();
    drop(conn);
    // Replacing: the deleted rows (SYS1, from opening the target) come back.
    match copy(&source, &target, true) {
        Err(CopyError::Store {
            side: Side::Target,
            error,
        }) => {
            let text = error.to_string();
            assert!(text.contains("users.failed_attempts"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dump(&target), before);
}

/// Progress every 10,000 rows of a table, and at its end.
#[test]
fn long_tables_report_progress_every_ten_thousand_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (source, target) = (sqlite(dir.path()), postgres(&db));
    populated(&source);
    let mut conn = rusqlite::Connection::open(dir.path().join("esm.db")).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..25_000 {
        tx.execute(
            "INSERT INTO passticket_uses (hash, expires_at_ms) VALUES (?1, ?2)",
            rusqlite::params![format!("h{i:05}"), START_MS + i],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    let progress = copy(&source, &target, false).unwrap();
    let uses: Vec<_> = progress
        .iter()
        .filter(|(t, _, _)| t == "passticket_uses")
        .map(|(_, copied, rows)| (*copied, *rows))
        .collect();
    assert_eq!(uses, [(10_000, 25_000), (20_000, 25_000), (25_000, 25_000)]);
    assert_eq!(dump(&target), dump(&source));
}
