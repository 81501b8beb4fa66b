//! The PostgreSQL store: the same rows as SQLite after the same commands,
//! the same state read back, a versioned schema created once, and what a
//! server shared by several gateways needs: concurrent commands that lose
//! no update, failed logons counted exactly across processes, a PassTicket
//! used once among them, a revoked token seen by all.
//!
//! Each test has a database of its own on the server [`common::pg`] finds
//! or starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Barrier};

use common::pg::TestDb;
use common::{run, ManualClock};
use zgate_base::{Random, RandomError};
use zgate_esm::store::postgres::{PostgresStore, SCHEMA_VERSION};
use zgate_esm::store::{Store, StoreError};
use zgate_esm::{
    AccessLevel, Esm, EsmConfig, EsmError, HashCost, Issuer, StoreLocation, VerifyOutcome,
};

const START_MS: i64 = 1_790_000_000_000;

/// The same bytes on every backend, so that TOTP seeds and salts match.
struct Counting(std::sync::atomic::AtomicU8);

impl Random for Counting {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            *b = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

fn config(clock: &Arc<ManualClock>) -> EsmConfig {
    EsmConfig {
        clock: clock.clone(),
        hash_cost: HashCost::TEST_ONLY,
        random: Arc::new(Counting(Default::default())),
        ..EsmConfig::default()
    }
}

fn open_pg(db: &TestDb, clock: &Arc<ManualClock>) -> Esm {
    Esm::open_store(&StoreLocation::Postgres(db.url.clone()), config(clock)).unwrap()
}

fn open_sqlite(home: &std::path::Path, clock: &Arc<ManualClock>) -> Esm {
    Esm::open_store(&StoreLocation::Sqlite(home.join("esm.db")), config(clock)).unwrap()
}

/// A dump with the argon2 hashes (random salts) replaced by `<hash>`.
fn normalized(esm: &Esm) -> Vec<String> {
    esm.dump_store()
        .unwrap()
        .into_iter()
        .map(|line| {
            let mut out = String::new();
            let mut rest = line.as_str();
            while let Some(at) = rest.find("$argon2") {
                out.push_str(&rest[..at]);
                out.push_str("<hash>");
                let tail = &rest[at..];
                let end = tail.find([' ', '"']).unwrap_or(tail.len());
                rest = &tail[end..];
            }
            out.push_str(rest);
            out
        })
        .collect()
}

fn generation(db: &TestDb) -> i64 {
    let v: String = db
        .client()
        .query_one("SELECT value FROM meta WHERE key = 'generation'", &[])
        .unwrap()
        .get(0);
    v.parse().unwrap()
}

/// A representative set of what commands write: users with passwords,
/// phrases, history and attributes, groups and connects, class settings,
/// options and rules, discrete and generic profiles with access lists,
/// conditional access, members, PTKTDATA keys, RACLIST copies, a TOTP
/// factor, counted failures, deletions.
const SCENARIO: &str = "
ADDGROUP DEV
ADDGROUP OPS SUPGROUP(DEV)
ADDUSER ALICE DFLTGRP(DEV) PASSWORD(SECRET1) NOEXPIRED NAME('ALICE A') SPECIAL
ADDUSER BOB DFLTGRP(DEV) PASSWORD(SECRET2) NOEXPIRED AUDITOR
ADDUSER CAROL PHRASE('a long pass phrase') NOEXPIRED
ADDUSER DAVE PASSWORD(DAVEPW1) NOEXPIRED
CONNECT BOB GROUP(OPS)
SETROPTS PASSWORD(REVOKE(3) HISTORY(2) INTERVAL(60) MIXEDCASE)
SETROPTS PASSWORD(RULE1(LENGTH(6:8) ALPHANUM(1:8)))
SETROPTS CLASSACT(ZOWE FACILITY PTKTDATA) GENERIC(ZOWE PTKTDATA) RACLIST(FACILITY)
SETROPTS AUDIT(ZOWE) LOGOPTIONS(ALWAYS(FACILITY))
RDEFINE ZOWE APIML.** UACC(NONE) APPLDATA('generic') DATA('installation data')
RDEFINE ZOWE APIML.SERVICES.X UACC(READ) WARNING AUDIT(ALL(READ))
PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(UPDATE)
PERMIT APIML.** CLASS(ZOWE) ID(OPS) ACCESS(READ)
PERMIT APIML.** CLASS(ZOWE) ID(DAVE) ACCESS(READ) WHEN(SERVAUTH(INTRANET))
RDEFINE FACILITY BPX.SERVER UACC(NONE)
PERMIT BPX.SERVER CLASS(FACILITY) ID(ALICE) ACCESS(READ)
SETROPTS RACLIST(FACILITY) REFRESH
RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)
RDEFINE GLOBAL ZOWE ADDMEM('APIML.G'/READ)
RDEFINE ZOWE APIML.GONE UACC(READ)
PERMIT APIML.GONE CLASS(ZOWE) ID(BOB) ACCESS(READ)
RDELETE ZOWE APIML.GONE
ADDUSER GONE
CONNECT GONE GROUP(OPS)
DELUSER GONE
ALTUSER BOB PASSWORD(NEWPW2) NOEXPIRED
ALTUSER DAVE REVOKE
";

/// Runs [`SCENARIO`] and the logons and token calls that write.
fn scenario(esm: &Esm, clock: &ManualClock) {
    run(esm, SCENARIO);
    common::run(esm, "ALTUSER ALICE MFA(FACTOR(TOTP) ACTIVE)");
    clock.advance_ms(60_000);
    assert_eq!(
        esm.verify("BOB", "WRONG1", None),
        VerifyOutcome::WrongPassword
    );
    assert_eq!(
        esm.verify("BOB", "WRONG2", None),
        VerifyOutcome::WrongPassword
    );
    assert!(matches!(
        esm.verify("CAROL", "a long pass phrase", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(esm.verify("NOBODY", "X", None), VerifyOutcome::UnknownUser);
    let tokens = esm.token_state();
    tokens.revoke_token("aa11", START_MS + 10_000).unwrap();
    tokens.revoke_token("bb22", START_MS + 999_999_999).unwrap();
    assert_eq!(tokens.purge_expired_tokens(START_MS + 100_000).unwrap(), 1);
}

/// What a reopened ESM answers about the state, for comparing backends.
fn answers(esm: &Esm) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in [
        "LISTUSER ALICE",
        "LISTUSER BOB",
        "LISTUSER CAROL",
        "LISTUSER DAVE",
        "LISTGRP OPS",
        "RLIST ZOWE APIML.** ALL",
        "RLIST ZOWE APIML.SERVICES.X ALL",
        "RLIST PTKTDATA TSTAPPL ALL",
        "RLIST GLOBAL ZOWE",
        "SETROPTS LIST",
    ] {
        let lines = esm.run_command(&Issuer::Operator, cmd).unwrap().lines;
        out.push(format!("{cmd}: {}", lines.join("\n")));
    }
    for (user, class, resource) in [
        ("BOB", "ZOWE", "APIML.A"),
        ("DAVE", "ZOWE", "APIML.A"),
        ("ALICE", "FACILITY", "BPX.SERVER"),
        ("BOB", "ZOWE", "APIML.G"),
        ("BOB", "ZOWE", "APIML.GONE"),
    ] {
        let d = esm.check(user, class, resource, AccessLevel::Read);
        out.push(format!("{user} {class} {resource}: {}", d.saf_rc));
    }
    out.push(format!("{:?}", esm.token_state().revoked_tokens()));
    out
}

#[test]
fn the_same_commands_leave_the_same_rows_and_read_back_the_same_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let lite_clock = Arc::new(ManualClock::new(START_MS));
    let pg_clock = Arc::new(ManualClock::new(START_MS));
    let lite = open_sqlite(dir.path(), &lite_clock);
    let pg = open_pg(&db, &pg_clock);
    scenario(&lite, &lite_clock);
    scenario(&pg, &pg_clock);
    let dump = normalized(&pg);
    assert!(dump.iter().any(|l| l.starts_with("users:")), "{dump:#?}");
    assert!(dump.iter().any(|l| l.starts_with("conditional_access:")));
    assert_eq!(normalized(&lite), dump);
    // Read back by another process: the same answers.
    let lite_again = open_sqlite(dir.path(), &lite_clock);
    let pg_again = open_pg(&db, &pg_clock);
    let expected = answers(&lite_again);
    assert_eq!(answers(&pg_again), expected);
    assert_eq!(normalized(&pg_again), dump);
    // And the reopened ESM logs on as the first did.
    for esm in [&lite_again, &pg_again] {
        assert!(matches!(
            esm.verify("BOB", "NEWPW2", None),
            VerifyOutcome::Success { .. }
        ));
        assert_eq!(esm.verify("DAVE", "DAVEPW1", None), VerifyOutcome::Revoked);
    }
    assert_eq!(normalized(&lite_again), normalized(&pg_again));
}

#[test]
fn the_schema_is_versioned_created_once_and_a_newer_one_is_refused() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let first = open_pg(&db, &clock);
    assert!(first.store_was_created());
    let second = open_pg(&db, &clock);
    assert!(!second.store_was_created());
    let version: i64 = db
        .client()
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, zgate_esm::store::sqlite::SCHEMA_VERSION);
    drop((first, second));
    db.client()
        .execute(
            "UPDATE schema_version SET version = $1",
            &[&(SCHEMA_VERSION + 1)],
        )
        .unwrap();
    match PostgresStore::connect(&db.url) {
        Err(StoreError::TooNew { found, known }) => {
            assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gateways_starting_together_on_a_new_database_create_it_once() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let n = 4;
    let barrier = Barrier::new(n);
    let created: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    open_pg(&db, &clock).store_was_created()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    // SYS1 was defined once: one group row.
    let esm = open_pg(&db, &clock);
    let groups: Vec<String> = esm
        .dump_store()
        .unwrap()
        .into_iter()
        .filter(|l| l.starts_with("groups:"))
        .collect();
    assert_eq!(groups.len(), 1, "{groups:?}");
}

#[test]
fn a_bad_url_or_an_absent_server_is_an_error_not_a_panic() {
    let clock = Arc::new(ManualClock::new(START_MS));
    for url in ["postgres://", "postgres://nobody@127.0.0.1:1/none"] {
        match Esm::open_store(&StoreLocation::Postgres(url.into()), config(&clock)) {
            Err(EsmError::Store(StoreError::Backend(_))) => {}
            Err(e) => panic!("{url}: {e}"),
            Ok(_) => panic!("{url}: opened"),
        }
    }
}

#[test]
fn concurrent_commands_on_two_gateways_lose_no_update() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    let users = 25;
    let setup: String = (0..users).map(|i| format!("ADDUSER U{i}\n")).collect();
    run(&a, &setup);
    let before = generation(&db);
    // Each user's row is read, changed and written back whole by both
    // gateways at once: one attribute each.
    let barrier = Barrier::new(2);
    let done: Vec<Vec<String>> = std::thread::scope(|s| {
        let work = |esm: &Esm, attribute: &'static str| {
            barrier.wait();
            let mut ok = Vec::new();
            for i in 0..users {
                let cmd = format!("ALTUSER U{i} {attribute}");
                if esm.run_command(&Issuer::Operator, &cmd).is_ok() {
                    ok.push(cmd);
                }
            }
            ok
        };
        let (a, b) = (&a, &b);
        let ha = s.spawn(move || work(a, "SPECIAL"));
        let hb = s.spawn(move || work(b, "OPERATIONS"));
        vec![ha.join().unwrap(), hb.join().unwrap()]
    });
    let committed = done.iter().map(Vec::len).sum::<usize>();
    assert!(committed >= users, "{done:?}");
    // One generation per commit: no two committed against the same one.
    assert_eq!(generation(&db) - before, committed as i64);
    // The final state is that of the same commands run one after another.
    let dir = tempfile::tempdir().unwrap();
    let serial = open_sqlite(dir.path(), &clock);
    run(&serial, &setup);
    for cmd in done.concat() {
        run(&serial, &cmd);
    }
    let fresh = open_pg(&db, &clock);
    assert_eq!(normalized(&fresh), normalized(&serial));
    for esm in [&a, &b] {
        esm.reload_if_changed().unwrap();
        assert_eq!(normalized(esm), normalized(&serial));
    }
}

#[test]
fn failed_logons_on_two_gateways_revoke_exactly_past_the_limit() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    let limit = 6;
    run(
        &a,
        &format!("SETROPTS PASSWORD(REVOKE({limit}))\nADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED"),
    );
    let stored = |column: &str| -> i64 {
        db.client()
            .query_one(
                &format!("SELECT {column} FROM users WHERE id = 'ALICE'"),
                &[],
            )
            .unwrap()
            .get(0)
    };
    // Both gateways at once, two wrong passwords each: every answered
    // failure is counted.
    let barrier = Barrier::new(2);
    let counted: usize = std::thread::scope(|s| {
        let work = |esm: &Esm| {
            barrier.wait();
            (0..2)
                .filter(|_| esm.verify("ALICE", "WRONG", None) == VerifyOutcome::WrongPassword)
                .count()
        };
        let (a, b) = (&a, &b);
        let ha = s.spawn(move || work(a));
        let hb = s.spawn(move || work(b));
        ha.join().unwrap() + hb.join().unwrap()
    });
    assert!(counted >= 2, "{counted}");
    assert_eq!(stored("failed_attempts"), counted as i64);
    assert_eq!(stored("revoked"), 0);
    // Then in turns: revoked by exactly the failure past REVOKE(n), as
    // on one gateway.
    let mut total = counted;
    let mut turn = 0;
    while total <= limit {
        let esm = if turn % 2 == 0 { &a } else { &b };
        turn += 1;
        assert!(turn < 20, "failures not counted");
        if esm.verify("ALICE", "WRONG", None) == VerifyOutcome::WrongPassword {
            total += 1;
            assert_eq!(stored("failed_attempts"), total as i64);
            assert_eq!(stored("revoked"), i64::from(total > limit), "after {total}");
        }
    }
    for esm in [&a, &b] {
        assert_eq!(esm.verify("ALICE", "SECRET1", None), VerifyOutcome::Revoked);
    }
}

const PTKT_SETUP: &str = "
ADDGROUP STC
ADDUSER ZWESVUSR DFLTGRP(STC)
ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED
SETROPTS CLASSACT(PTKTDATA) GENERIC(PTKTDATA)
RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)
RDEFINE PTKTDATA IRRPTAUTH.TSTAPPL.* UACC(NONE)
PERMIT IRRPTAUTH.TSTAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)
";

#[test]
fn a_passticket_is_accepted_once_among_gateways_using_it_at_the_same_time() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    run(&a, PTKT_SETUP);
    for round in 0..10 {
        // A ticket is the same within a second: a new second each round.
        clock.advance_ms(1_000);
        let ticket = a
            .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
            .unwrap();
        let barrier = Barrier::new(2);
        let accepted = std::thread::scope(|s| {
            let work = |esm: &Esm| {
                barrier.wait();
                matches!(
                    esm.verify_for_appl("ALICE", ticket.as_str(), "TSTAPPL"),
                    VerifyOutcome::Success { .. }
                )
            };
            let (a, b) = (&a, &b);
            let ha = s.spawn(move || work(a));
            let hb = s.spawn(move || work(b));
            [ha.join().unwrap(), hb.join().unwrap()]
        });
        assert_eq!(
            accepted.iter().filter(|a| **a).count(),
            1,
            "round {round}: {accepted:?}"
        );
        // And refused on either afterwards.
        for esm in [&a, &b] {
            assert!(!matches!(
                esm.verify_for_appl("ALICE", ticket.as_str(), "TSTAPPL"),
                VerifyOutcome::Success { .. }
            ));
        }
    }
}

#[test]
fn a_passticket_claim_is_exact_at_the_store() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    drop(open_pg(&db, &clock));
    let n = 8;
    let barrier = Barrier::new(n);
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut store = PostgresStore::connect(&db.url).unwrap();
                    barrier.wait();
                    usize::from(store.claim_passticket("t1", 2_000, 1_000).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
    let mut store = PostgresStore::connect(&db.url).unwrap();
    assert!(!store.claim_passticket("t1", 2_000, 1_500).unwrap());
    // Expired records are dropped: the hash may be claimed again.
    assert!(store.claim_passticket("t1", 4_000, 2_001).unwrap());
}

#[test]
fn a_stale_apply_conflicts_instead_of_committing() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    drop(open_pg(&db, &clock));
    let mut one = PostgresStore::connect(&db.url).unwrap();
    let mut two = PostgresStore::connect(&db.url).unwrap();
    let g = one.generation().unwrap();
    assert_eq!(one.apply(&[], "{}", g).unwrap(), g + 1);
    match two.apply(&[], "{}", g) {
        Err(StoreError::Conflict { found, expected }) => {
            assert_eq!((found, expected), (g + 1, g));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(two.generation().unwrap(), g + 1);
}

/// A token revoked through one ESM is revoked in another on the same store
/// once it looks for changes, on both backends.
fn revocation_reaches_the_other(a: &Esm, b: &Esm) {
    assert!(!b.token_state().is_token_revoked("cafe"));
    a.token_state()
        .revoke_token("cafe", START_MS + 3_600_000)
        .unwrap();
    assert!(a.token_state().is_token_revoked("cafe"));
    assert!(b.reload_if_changed().unwrap());
    assert!(b.token_state().is_token_revoked("cafe"));
}

#[test]
fn a_token_revoked_by_one_gateway_is_revoked_in_the_other_after_its_poll() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    revocation_reaches_the_other(&open_pg(&db, &clock), &open_pg(&db, &clock));
    let dir = tempfile::tempdir().unwrap();
    revocation_reaches_the_other(
        &open_sqlite(dir.path(), &clock),
        &open_sqlite(dir.path(), &clock),
    );
}

#[test]
fn unknown_users_are_counted_apart_from_the_model() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    let before = generation(&db);
    for esm in [&a, &b, &a] {
        assert_eq!(esm.verify("NOBODY", "X", None), VerifyOutcome::UnknownUser);
    }
    let n: String = db
        .client()
        .query_one("SELECT value FROM meta WHERE key = 'rejected_logons'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, "3");
    // Not a change of the model: no generation, no reload elsewhere.
    assert_eq!(generation(&db), before);
    assert!(!b.reload_if_changed().unwrap());
}

#[test]
fn a_revocation_reaches_the_other_gateway_by_its_journal_entry() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    a.token_state().revoke_token("one", START_MS + 1).unwrap();
    // The gateway that revoked it is current already.
    assert!(!a.reload_if_changed().unwrap());
    assert!(b.reload_if_changed().unwrap());
    assert!(b.token_state().is_token_revoked("one"));
    // Another's commit in between: the revoking gateway replays it too.
    b.token_state().revoke_token("two", START_MS + 1).unwrap();
    a.token_state().revoke_token("three", START_MS + 1).unwrap();
    assert!(a.token_state().is_token_revoked("two"));
    assert_eq!(a.sync_counts().reloads, 0);
    assert_eq!(b.sync_counts().reloads, 0);
}

/// Waits up to a second for `woken` to receive; whether it did.
fn woken_within_a_second(woken: &std::sync::mpsc::Receiver<()>) -> bool {
    woken
        .recv_timeout(std::time::Duration::from_secs(1))
        .is_ok()
}

#[test]
fn the_listener_wakes_its_gateway_on_each_commit_and_after_losing_its_connection() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_pg(&db, &clock);
    let b = open_pg(&db, &clock);
    let (wake, woken) = std::sync::mpsc::channel();
    let wake = std::sync::Mutex::new(wake);
    b.watch_changes(Arc::new(move || {
        let _ = wake.lock().unwrap().send(());
    }))
    .unwrap();
    // The first wake: the listener connected (a look to catch up).
    assert!(woken_within_a_second(&woken));
    while woken.try_recv().is_ok() {}

    // A commit of A's wakes B, and B's look replays it.
    run(&a, "ADDUSER ALICE");
    assert!(woken_within_a_second(&woken), "no announcement");
    assert!(b.reload_if_changed().unwrap());
    assert!(b.user("ALICE").is_some());

    // The listener's connection killed: a commit made before it is back
    // is not announced to it, but the reconnection wakes B, whose look
    // finds the commit in the journal.
    let killed: i64 = db
        .client()
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'zgate-esm-listen' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .len() as i64;
    assert_eq!(killed, 1);
    run(&a, "ADDUSER BOB");
    // B looks only when woken: by the reconnection, or by the commit's
    // announcement if the listener was back by then.
    let start = std::time::Instant::now();
    while b.user("BOB").is_none() {
        let left = std::time::Duration::from_secs(1).saturating_sub(start.elapsed());
        assert!(!left.is_zero(), "BOB never arrived");
        if woken.recv_timeout(left).is_ok() {
            b.reload_if_changed().unwrap();
        }
    }
    assert_eq!(b.sync_counts().reloads, 0);
}
