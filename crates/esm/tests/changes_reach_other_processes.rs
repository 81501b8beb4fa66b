//! Processes on one store learn what the others committed from the store's
//! journal: each commit's changes, replayed in order, so that a change
//! costs the others what it changed. After any mix of commands, logons and
//! revocations, every process's memory is the store's (as a fresh load
//! reads it) and decides alike; a process the journal no longer reaches
//! back to, or that meets an entry it cannot read, loads everything.
//!
//! Runs on SQLite, and on PostgreSQL with `ZGATE_TEST_STORE=postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{open_with_clock, run, ManualClock};
use zgate_esm::{AccessLevel, Esm, Issuer, PatRule, SyncCounts, VerifyOutcome};

const START_MS: i64 = 1_790_000_000_000;

/// Both processes decide `user`'s access to `resource` alike.
fn decide_alike(a: &Esm, b: &Esm, user: &str, class: &str, resource: &str) {
    for level in [AccessLevel::Read, AccessLevel::Update, AccessLevel::Alter] {
        let (da, db) = (
            a.check(user, class, resource, level),
            b.check(user, class, resource, level),
        );
        assert_eq!(
            (da.saf_rc, da.racf_rc, da.reason, &da.profile),
            (db.saf_rc, db.racf_rc, db.reason, &db.profile),
            "{user} {class} {resource} {level:?}"
        );
    }
}

/// `b` catches up: something changed, by replay only, and its memory is
/// the store's.
fn catches_up_by_replay(b: &Esm, step: &str) {
    let before = b.sync_counts();
    assert!(b.reload_if_changed().unwrap(), "{step}: nothing seen");
    let after = b.sync_counts();
    assert!(after.replayed > before.replayed, "{step}: {after:?}");
    assert_eq!(after.reloads, before.reloads, "{step}: reloaded everything");
    assert!(b.memory_matches_store().unwrap(), "{step}: memory differs");
}

#[test]
fn every_kind_of_change_reaches_the_other_process_by_replay() {
    let home = common::home();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_with_clock(home.path(), &clock);
    let b = open_with_clock(home.path(), &clock);
    assert!(!b.reload_if_changed().unwrap());

    let steps: &[(&str, &str)] = &[
        ("users", "ADDUSER ALICE PASSWORD(PASSW0RD) NOEXPIRED\nADDUSER BOB PASSWORD(PASSW0RD) NOEXPIRED\nADDGROUP DEV"),
        ("connect", "CONNECT ALICE GROUP(DEV)"),
        ("profiles", "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nRDEFINE ZOWE APIML.** UACC(NONE)\nRDEFINE ZOWE APIML.SERVICES UACC(NONE)"),
        ("permit", "PERMIT APIML.** CLASS(ZOWE) ID(DEV) ACCESS(READ)"),
        ("permit user", "PERMIT APIML.SERVICES CLASS(ZOWE) ID(BOB) ACCESS(UPDATE)"),
        ("ralter", "RALTER ZOWE APIML.** UACC(READ) WARNING"),
        ("raclist", "SETROPTS RACLIST(ZOWE)"),
        ("change while raclisted", "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(ALTER)"),
        ("refresh", "SETROPTS RACLIST(ZOWE) REFRESH"),
        ("revoke", "ALTUSER BOB REVOKE"),
        ("resume", "ALTUSER BOB RESUME"),
        ("password", "ALTUSER ALICE PASSWORD(NEWPASS1) NOEXPIRED"),
        ("options", "SETROPTS PASSWORD(REVOKE(3) HISTORY(4))"),
        ("mfa", "ALTUSER BOB MFA(FACTOR(TOTP) ACTIVE)"),
        ("racmap", "RACMAP ID(ALICE) MAP USERDIDFILTER(NAME('alice@example.com')) REGISTRY(NAME('https://idp.example.com')) WITHLABEL('alice')\nSETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)"),
        ("disconnect", "REMOVE ALICE GROUP(DEV)"),
        ("delete", "PERMIT APIML.SERVICES CLASS(ZOWE) ID(BOB) DELETE\nRDELETE ZOWE APIML.SERVICES"),
    ];
    for (step, commands) in steps {
        run(&a, commands);
        catches_up_by_replay(&b, step);
        for user in ["ALICE", "BOB", "NOBODY"] {
            for resource in ["APIML.SERVICES", "APIML.OTHER"] {
                decide_alike(&a, &b, user, "ZOWE", resource);
            }
        }
        assert_eq!(
            a.credentials_valid_since("BOB"),
            b.credentials_valid_since("BOB"),
            "{step}"
        );
    }

    // A failed logon counts on the other process too.
    assert_eq!(
        a.verify("ALICE", "WRONGPW1", None),
        VerifyOutcome::WrongPassword
    );
    catches_up_by_replay(&b, "failed logon");

    // A revoked token.
    a.token_state()
        .revoke_token("feed", START_MS + 60_000)
        .unwrap();
    catches_up_by_replay(&b, "token");
    assert!(b.token_state().is_token_revoked("feed"));

    // A PAT rule.
    a.put_pat_rule(PatRule::User, "c0ffee", START_MS).unwrap();
    catches_up_by_replay(&b, "pat rule");
    assert_eq!(b.pat_rule(PatRule::User, "c0ffee"), Some(START_MS));

    // A user deleted.
    run(&a, "DELUSER BOB");
    catches_up_by_replay(&b, "deluser");
    assert_eq!(b.credentials_valid_since("BOB"), None);
    assert_eq!(b.sync_counts().reloads, 0);
}

#[test]
fn interleaved_commits_of_two_processes_leave_a_third_equal_to_the_store() {
    let home = common::home();
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = open_with_clock(home.path(), &clock);
    let b = open_with_clock(home.path(), &clock);
    let watcher = open_with_clock(home.path(), &clock);
    run(
        &a,
        "SETROPTS CLASSACT(FACILITY) GENERIC(FACILITY)\nADDGROUP G0\nADDGROUP G1",
    );
    // A deterministic walk over users, groups, profiles and access lists,
    // the two writers taking turns, the watcher looking now and then.
    let mut seed = 0x9e37_79b9_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for i in 0..120 {
        let writer = if next(2) == 0 { &a } else { &b };
        let u = format!("U{}", next(6));
        let g = format!("G{}", next(2));
        let p = format!("RES{}.**", next(5));
        let command = match next(9) {
            0 => format!("ADDUSER {u} PASSWORD(PASSW0RD) NOEXPIRED"),
            1 => format!("DELUSER {u}"),
            2 => format!("CONNECT {u} GROUP({g})"),
            3 => format!("REMOVE {u} GROUP({g})"),
            4 => format!("RDEFINE FACILITY {p} UACC(NONE)"),
            5 => format!("RDELETE FACILITY {p}"),
            6 => format!("PERMIT {p} CLASS(FACILITY) ID({g}) ACCESS(UPDATE)"),
            7 => format!("PERMIT {p} CLASS(FACILITY) ID({u}) DELETE"),
            _ => format!("ALTUSER {u} REVOKE"),
        };
        // Refusals (no such user, ...) are part of the walk.
        let _ = writer.run_command(&Issuer::Operator, &command);
        if i % 7 == 0 {
            watcher.reload_if_changed().unwrap();
        }
    }
    assert!(watcher.memory_matches_store().unwrap());
    assert_eq!(watcher.sync_counts().reloads, 0);
    for u in 0..6 {
        for p in 0..5 {
            decide_alike(
                &a,
                &watcher,
                &format!("U{u}"),
                "FACILITY",
                &format!("RES{p}.X"),
            );
        }
    }
}

#[test]
fn a_process_the_journal_no_longer_reaches_loads_everything() {
    let (home, a, clock) = common::fresh_sqlite();
    let b = open_with_clock(home.path(), &clock);
    run(&a, "ADDUSER ALICE\nADDUSER BOB");
    let conn = rusqlite::Connection::open(home.path().join("esm.db")).unwrap();
    conn.execute("DELETE FROM change_log", []).unwrap();
    assert!(b.reload_if_changed().unwrap());
    assert_eq!(
        b.sync_counts(),
        SyncCounts {
            replayed: 0,
            reloads: 1
        }
    );
    assert!(b.user("BOB").is_some());
    assert!(b.memory_matches_store().unwrap());
}

#[test]
fn an_entry_that_cannot_be_read_makes_the_process_load_everything() {
    let (home, a, clock) = common::fresh_sqlite();
    let b = open_with_clock(home.path(), &clock);
    run(&a, "ADDUSER ALICE\nADDUSER BOB");
    let conn = rusqlite::Connection::open(home.path().join("esm.db")).unwrap();
    conn.execute(
        "UPDATE change_log SET entry = '{\"Commit\": 42}' WHERE generation = (SELECT max(generation) FROM change_log)",
        [],
    )
    .unwrap();
    assert!(b.reload_if_changed().unwrap());
    let counts = b.sync_counts();
    assert_eq!(counts.reloads, 1, "{counts:?}");
    assert!(b.user("BOB").is_some());
    assert!(b.memory_matches_store().unwrap());
}
