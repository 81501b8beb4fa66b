//! Authentication (spec section 4): RACROUTE VERIFY results, expiry,
//! failure counting and revocation, password change rules and history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use zgate_esm::{Issuer, VerifyOutcome};

fn rcs(o: &VerifyOutcome) -> (u32, u32) {
    (o.saf_rc(), o.racf_rc())
}

#[test]
fn unknown_user_and_wrong_password_look_the_same_from_outside() {
    let (_d, esm, _c) = common::fresh();
    common::run(&esm, "ADDUSER BOB PASSWORD(SECRET1) NOEXPIRED");
    assert_eq!(rcs(&esm.verify("NOBODY", "SECRET1", None)), (8, 4));
    assert_eq!(rcs(&esm.verify("BOB", "WRONG", None)), (8, 8));
    // The same from outside.
    assert_eq!(
        esm.verify("NOBODY", "x", None).public_rc(),
        esm.verify("BOB", "x", None).public_rc()
    );
    // Invalid ids are unknown users, not errors.
    assert_eq!(rcs(&esm.verify("WAY-TOO-LONG-ID", "x", None)), (8, 4));
    assert_eq!(
        esm.verify("bob", "secret1", None),
        VerifyOutcome::Success { user: "BOB".into() }
    );
}

#[test]
fn temporary_password_is_expired_and_must_change() {
    let (_d, esm, _c) = common::fresh();
    common::run(&esm, "ADDUSER BOB PASSWORD(TEMP1)");
    assert_eq!(esm.verify("BOB", "TEMP1", None), VerifyOutcome::Expired);
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", None)), (8, 12));
    // The new one must be valid and differ.
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", Some("TEMP1"))), (8, 16));
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", Some("BOB"))), (8, 16));
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", Some("TOOLONGPW"))), (8, 16));
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", Some("BAD PW"))), (8, 16));
    assert!(matches!(
        esm.verify("BOB", "TEMP1", Some("NEWPW1")),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "NEWPW1", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(rcs(&esm.verify("BOB", "TEMP1", None)), (8, 8));
}

#[test]
fn password_expires_after_the_interval_and_is_changed_at_logon() {
    let (_d, esm, clock) = common::fresh();
    common::run(
        &esm,
        "SETROPTS PASSWORD(INTERVAL(30))\nADDUSER BOB PASSWORD(PW1) NOEXPIRED",
    );
    common::advance_days(&clock, 29);
    assert!(matches!(
        esm.verify("BOB", "PW1", None),
        VerifyOutcome::Success { .. }
    ));
    common::advance_days(&clock, 1);
    assert_eq!(esm.verify("BOB", "PW1", None), VerifyOutcome::Expired);
    assert!(matches!(
        esm.verify("BOB", "PW1", Some("PW2")),
        VerifyOutcome::Success { .. }
    ));
    common::advance_days(&clock, 29);
    assert!(matches!(
        esm.verify("BOB", "PW2", None),
        VerifyOutcome::Success { .. }
    ));
}

#[test]
fn user_is_revoked_after_more_than_n_consecutive_failures() {
    let (_d, esm, _c) = common::fresh();
    common::run(
        &esm,
        "SETROPTS PASSWORD(REVOKE(3))\nADDUSER BOB PASSWORD(PW1) NOEXPIRED",
    );
    // n failures are allowed...
    for _ in 0..3 {
        assert_eq!(esm.verify("BOB", "BAD", None), VerifyOutcome::WrongPassword);
    }
    assert!(!esm.user("BOB").unwrap().revoked);
    // ... a success resets the count ...
    assert!(matches!(
        esm.verify("BOB", "PW1", None),
        VerifyOutcome::Success { .. }
    ));
    for _ in 0..3 {
        esm.verify("BOB", "BAD", None);
    }
    assert!(!esm.user("BOB").unwrap().revoked);
    // ... and the next failure revokes.
    assert_eq!(esm.verify("BOB", "BAD", None), VerifyOutcome::WrongPassword);
    assert!(esm.user("BOB").unwrap().revoked);
    assert_eq!(rcs(&esm.verify("BOB", "PW1", None)), (8, 28));
    // Revoked status is only told to who knows the password.
    assert_eq!(esm.verify("BOB", "BAD", None), VerifyOutcome::WrongPassword);
    common::run(&esm, "ALTUSER BOB RESUME");
    assert!(matches!(
        esm.verify("BOB", "PW1", None),
        VerifyOutcome::Success { .. }
    ));
}

#[test]
fn revoked_and_protected_users_cannot_log_on() {
    let (_d, esm, _c) = common::fresh();
    common::run(&esm, "ADDUSER BOB PASSWORD(PW1) NOEXPIRED\nADDUSER SVC");
    common::run(&esm, "ALTUSER BOB REVOKE");
    assert_eq!(esm.verify("BOB", "PW1", None), VerifyOutcome::Revoked);
    // PROTECTED: no password, cannot log on with one.
    assert!(esm.user("SVC").unwrap().protected);
    assert_eq!(esm.verify("SVC", "", None), VerifyOutcome::WrongPassword);
    assert_eq!(
        esm.verify("SVC", "ANYTHING", None),
        VerifyOutcome::WrongPassword
    );
}

#[test]
fn history_refuses_previous_values() {
    let (_d, esm, _c) = common::fresh();
    common::run(
        &esm,
        "SETROPTS PASSWORD(HISTORY(2))\nADDUSER BOB PASSWORD(PW1) NOEXPIRED",
    );
    assert!(matches!(
        esm.verify("BOB", "PW1", Some("PW2")),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "PW2", Some("PW1")),
        VerifyOutcome::NewPasswordInvalid { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "PW2", Some("PW3")),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "PW3", Some("PW4")),
        VerifyOutcome::Success { .. }
    ));
    // Only 2 generations are kept: PW1 is allowed again.
    assert!(matches!(
        esm.verify("BOB", "PW4", Some("PW1")),
        VerifyOutcome::Success { .. }
    ));
}

#[test]
fn passwords_fold_case_without_mixedcase_and_phrases_keep_case() {
    let (_d, esm, _c) = common::fresh();
    common::run(&esm, "ADDUSER BOB PASSWORD(abc1) NOEXPIRED");
    // Without MIXEDCASE passwords are upper-cased.
    assert!(matches!(
        esm.verify("BOB", "ABC1", None),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "aBc1", None),
        VerifyOutcome::Success { .. }
    ));
    common::run(
        &esm,
        "SETROPTS PASSWORD(MIXEDCASE)\nADDUSER ANN PASSWORD(AbC1) NOEXPIRED",
    );
    assert!(matches!(
        esm.verify("ANN", "AbC1", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(
        esm.verify("ANN", "ABC1", None),
        VerifyOutcome::WrongPassword
    );
    // Phrases keep case and follow their own rules.
    esm.run_command(
        &Issuer::Operator,
        "ALTUSER ANN PHRASE('Correct horse 42') NOEXPIRED",
    )
    .unwrap();
    assert!(matches!(
        esm.verify("ANN", "Correct horse 42", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(
        esm.verify("ANN", "correct horse 42", None),
        VerifyOutcome::WrongPassword
    );
    for bad in [
        "'has ann inside 1'",
        "'aaa bbb 1234'",
        "'lettersonly'",
        "'short1'",
    ] {
        let e = esm
            .run_command(&Issuer::Operator, &format!("ALTUSER ANN PHRASE({bad})"))
            .unwrap_err();
        assert!(e.lines[0].starts_with("ICH"), "{e}");
    }
    assert!(matches!(
        esm.verify("ANN", "Correct horse 42", Some("Battery staple 7")),
        VerifyOutcome::Success { .. }
    ));
}

#[test]
fn hashes_are_salted_and_persisted() {
    let (dir, esm, _c) = common::fresh_sqlite();
    common::run(&esm, "ADDUSER (A1 A2) PASSWORD(SAME1) NOEXPIRED");
    {
        use std::os::unix::fs::PermissionsExt;
        // While open, WAL's side files hold the same secrets: owner only too.
        for side in ["esm.db-wal", "esm.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(side)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{side}");
        }
    }
    let dump = esm.dump_store().unwrap().join("\n");
    assert!(!dump.contains("SAME1"), "plain password stored");
    let hashes: Vec<&str> = dump.lines().filter(|l| l.starts_with("users:")).collect();
    assert_eq!(hashes.len(), 2);
    assert_ne!(
        hashes[0].split("argon2id").nth(1),
        hashes[1].split("argon2id").nth(1)
    );
    drop(esm);
    let esm = zgate_esm::Esm::open_with(
        dir.path(),
        zgate_esm::EsmConfig {
            hash_cost: zgate_esm::HashCost::TEST_ONLY,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        esm.verify("A2", "SAME1", None),
        VerifyOutcome::Success { .. }
    ));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("esm.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn token_state_persists() {
    let (dir, esm, _c) = common::fresh();
    let ts = esm.token_state();
    ts.revoke_token("h1", 1_000).unwrap();
    ts.revoke_token("h2", 5_000).unwrap();
    assert!(ts.is_token_revoked("h1"));
    assert!(!ts.is_token_revoked("h3"));
    assert_eq!(ts.purge_expired_tokens(2_000).unwrap(), 1);
    assert_eq!(ts.revoked_tokens(), vec![("h2".to_owned(), 5_000)]);
    drop(esm);
    let esm = common::open(dir.path());
    assert!(esm.token_state().is_token_revoked("h2"));
    assert!(!esm.token_state().is_token_revoked("h1"));
}

#[test]
fn esm_is_send_sync_and_user_summary_shows_groups_and_attributes() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<zgate_esm::Esm>();
    let (_d, esm, _c) = common::fresh();
    common::run(
        &esm,
        "ADDGROUP DEV\nADDUSER BOB SPECIAL NAME('Bob B')\nCONNECT BOB GROUP(DEV)",
    );
    let u = esm.user("bob").unwrap();
    assert!(u.special && !u.revoked && u.protected);
    assert_eq!(u.default_group, "SYS1");
    assert_eq!(u.groups, vec!["DEV".to_owned(), "SYS1".to_owned()]);
    assert_eq!(u.name, "Bob B");
    assert!(esm.user("NOBODY").is_none());
}

#[test]
fn another_process_changes_are_picked_up() {
    let (dir, esm, _c) = common::fresh();
    let other = common::open(dir.path());
    common::run(&other, "SETROPTS CLASSACT(ZOWE)\nRDEFINE ZOWE R UACC(READ)");
    assert_eq!(
        esm.check("X", "ZOWE", "R", zgate_esm::AccessLevel::Read)
            .saf_rc,
        4
    );
    assert!(esm.reload_if_changed().unwrap());
    assert_eq!(
        esm.check("X", "ZOWE", "R", zgate_esm::AccessLevel::Read)
            .saf_rc,
        0
    );
    assert!(!esm.reload_if_changed().unwrap());
}

#[test]
fn issuer_needs_special() {
    let (_d, esm, _c) = common::fresh();
    common::run(&esm, "ADDUSER ADM SPECIAL\nADDUSER JOE");
    let joe = Issuer::User("JOE".into());
    let e = esm.run_command(&joe, "ADDUSER EVE").unwrap_err();
    assert_eq!(e.kind, zgate_esm::CommandErrorKind::NotAuthorized);
    assert!(esm.user("EVE").is_none());
    assert!(esm.run_command(&joe, "LISTUSER JOE").is_ok());
    assert!(esm
        .run_command(&Issuer::User("ADM".into()), "ADDUSER EVE")
        .is_ok());
}

#[test]
fn two_processes_on_one_store_do_not_overwrite_each_other() {
    let (dir, a, _c) = common::fresh();
    let b = common::open(dir.path());
    common::run(
        &a,
        "ADDUSER BOB PASSWORD(PW1) NOEXPIRED\nSETROPTS PASSWORD(REVOKE(1))",
    );
    // B has not reloaded, yet its command sees A's user.
    let e = b.run_command(&Issuer::Operator, "ADDUSER BOB").unwrap_err();
    assert_eq!(e.kind, zgate_esm::CommandErrorKind::Duplicate);
    // Failure counts from both processes add up, and revoke.
    assert_eq!(a.verify("BOB", "BAD", None), VerifyOutcome::WrongPassword);
    assert_eq!(b.verify("BOB", "BAD", None), VerifyOutcome::WrongPassword);
    assert!(a.reload_if_changed().unwrap());
    assert!(a.user("BOB").unwrap().revoked);
    common::run(&b, "ALTUSER BOB RESUME");
    assert!(matches!(
        a.verify("BOB", "PW1", None),
        VerifyOutcome::Success { .. }
    ));
}

#[test]
fn store_refuses_stale_writes() {
    use zgate_esm::state::Change;
    use zgate_esm::store::{sqlite::SqliteStore, Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("esm.db");
    let mut s1 = SqliteStore::open(&path).unwrap();
    let mut s2 = SqliteStore::open(&path).unwrap();
    let g = s1.generation().unwrap();
    let change = Change::DeleteUser("NOBODY".into());
    assert_eq!(
        s1.apply(std::slice::from_ref(&change), "{}", g).unwrap(),
        g + 1
    );
    let err = s2
        .apply(std::slice::from_ref(&change), "{}", g)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { found, expected } if found == g + 1 && expected == g)
    );
}

#[test]
fn password_rules_apply_to_chosen_passwords() {
    let (_d, esm, _c) = common::fresh();
    common::run(
        &esm,
        "SETROPTS PASSWORD(RULE1(LENGTH(6:8) ALPHA(1) NUMERIC(6)) RULE2(LENGTH(8) NUMERIC(1:8)))\n\
         ADDUSER BOB PASSWORD(TEMP)",
    );
    // An administrator's temporary password is not held to the rules.
    assert_eq!(esm.verify("BOB", "TEMP", None), VerifyOutcome::Expired);
    assert!(matches!(
        esm.verify("BOB", "TEMP", Some("ABCDE")),
        VerifyOutcome::NewPasswordInvalid { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "TEMP", Some("1BCDE1")),
        VerifyOutcome::NewPasswordInvalid { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "TEMP", Some("ABCDE1")),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("BOB", "ABCDE1", Some("12345678")),
        VerifyOutcome::Success { .. }
    ));
    let list = esm
        .run_command(&Issuer::Operator, "SETROPTS LIST")
        .unwrap()
        .lines
        .join("\n");
    assert!(
        list.contains("RULE 1 LENGTH(6:8) ALPHA(1) NUMERIC(6)"),
        "{list}"
    );
    common::run(&esm, "SETROPTS PASSWORD(NORULES)");
    assert!(matches!(
        esm.verify("BOB", "12345678", Some("XY")),
        VerifyOutcome::Success { .. }
    ));
    assert!(esm
        .run_command(&Issuer::Operator, "SETROPTS PASSWORD(RULE1(ALPHA(1)))")
        .is_err());
}

#[test]
fn schema_migrates_forward_and_refuses_newer() {
    let (dir, esm, _c) = common::fresh_sqlite();
    common::run(
        &esm,
        "ADDUSER BOB\nSETROPTS PASSWORD(HISTORY(3)) CLASSACT(ZOWE)",
    );
    drop(esm);
    let db = dir.path().join("esm.db");
    {
        // Take the file back to schema version 2 (before password rules
        // and refresh counters).
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "ALTER TABLE options DROP COLUMN rules;
             ALTER TABLE profiles DROP COLUMN ssignon;
             ALTER TABLE profiles DROP COLUMN literal_name;
             DROP TABLE passticket_uses;
             DROP TABLE security_records;
             ALTER TABLE users DROP COLUMN revoked_at_ms;
             ALTER TABLE users DROP COLUMN uaudit;
             ALTER TABLE profiles DROP COLUMN audit;
             ALTER TABLE profiles DROP COLUMN global_audit;
             ALTER TABLE classes DROP COLUMN audit;
             ALTER TABLE classes DROP COLUMN log_options;
             ALTER TABLE options DROP COLUMN audit_options;
             DROP TABLE change_log;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let esm = common::open(dir.path());
    assert!(esm.user("BOB").is_some());
    common::run(&esm, "SETROPTS PASSWORD(RULE1(LENGTH(4:8)))");
    let list = esm
        .run_command(&Issuer::Operator, "SETROPTS LIST")
        .unwrap()
        .lines
        .join("\n");
    assert!(list.contains("3 GENERATIONS"), "{list}");
    drop(esm);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, zgate_esm::store::sqlite::SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    assert!(matches!(
        zgate_esm::Esm::open(dir.path()),
        Err(zgate_esm::EsmError::Store(
            zgate_esm::store::StoreError::TooNew { found: 99, .. }
        ))
    ));
}

#[test]
fn warning_and_denials_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audit = std::sync::Arc::new(zgate_esm::MemorySink::default());
    let esm = zgate_esm::Esm::open_with(
        dir.path(),
        zgate_esm::EsmConfig {
            audit: Some(audit.clone()),
            hash_cost: zgate_esm::HashCost::TEST_ONLY,
            ..Default::default()
        },
    )
    .unwrap();
    common::run(
        &esm,
        "SETROPTS CLASSACT(ZOWE)\nRDEFINE ZOWE W WARNING\nRDEFINE ZOWE D\nRDEFINE ZOWE G UACC(READ)",
    );
    use zgate_esm::AccessLevel::Read;
    assert_eq!(esm.check("bob", "zowe", "w", Read).reason, 4);
    assert_eq!(esm.check("BOB", "ZOWE", "D", Read).saf_rc, 8);
    assert_eq!(esm.check("BOB", "ZOWE", "G", Read).saf_rc, 0);
    assert_eq!(esm.check("BOB", "ZOWE", "NONE", Read).saf_rc, 4);
    let records: Vec<_> = audit
        .records()
        .into_iter()
        .filter(|r| r["event"] == 2)
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    let seen = |r: &serde_json::Map<String, serde_json::Value>| {
        (
            r["evt_user_id"].as_str().unwrap().to_owned(),
            r["res_name"].as_str().unwrap().to_owned(),
            r["event_qual_name"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        seen(&records[0]),
        ("BOB".into(), "W".into(), "WARNING".into())
    );
    assert_eq!(
        seen(&records[1]),
        ("BOB".into(), "D".into(), "INSAUTH".into())
    );
}

#[test]
fn in_memory_store_verifies_and_injected_clock_dates_records() {
    let esm = zgate_esm::Esm::in_memory(zgate_esm::EsmConfig {
        hash_cost: zgate_esm::HashCost::TEST_ONLY,
        ..Default::default()
    })
    .unwrap();
    common::run(&esm, "ADDUSER BOB PASSWORD(PW1) NOEXPIRED");
    assert!(matches!(
        esm.verify("BOB", "PW1", None),
        VerifyOutcome::Success { .. }
    ));
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(common::ManualClock::new(0));
    let esm = zgate_esm::Esm::open_with_clock(dir.path(), clock).unwrap();
    let lu = esm
        .run_command(&Issuer::Operator, "LISTGRP SYS1")
        .unwrap()
        .lines
        .join("\n");
    assert!(lu.contains("CREATED=1970-01-01"), "{lu}");
}

#[test]
fn unknown_users_are_counted_apart_from_the_model() {
    let (dir, esm, _c) = common::fresh_sqlite();
    let before = esm.dump_store().unwrap();
    assert_eq!(esm.verify("NOBODY", "X", None), VerifyOutcome::UnknownUser);
    assert_eq!(
        esm.verify("NOT VALID!", "X", None),
        VerifyOutcome::UnknownUser
    );
    assert_eq!(before, esm.dump_store().unwrap(), "the model is unchanged");
    let conn = rusqlite::Connection::open(dir.path().join("esm.db")).unwrap();
    let n: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'rejected_logons'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, "2");
    // Not a change of the model: no reload elsewhere.
    assert!(!esm.reload_if_changed().unwrap());
}

#[test]
fn raclist_semantics_hold_across_processes() {
    use zgate_esm::AccessLevel::Read;
    let (dir, admin, _c) = common::fresh();
    common::run(
        &admin,
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nRDEFINE ZOWE R UACC(NONE)\nADDUSER BOB\nSETROPTS RACLIST(ZOWE)",
    );
    // The gateway: another process on the same home.
    let gateway = common::open(dir.path());
    assert_eq!(gateway.check("BOB", "ZOWE", "R", Read).saf_rc, 8);
    common::run(
        &admin,
        "PERMIT R CLASS(ZOWE) ID(BOB) ACCESS(READ)\nADDUSER ANN",
    );
    assert!(gateway.reload_if_changed().unwrap());
    // Users reload at once; the RACLISTed profiles wait for REFRESH.
    assert!(gateway.user("ANN").is_some());
    assert_eq!(gateway.check("BOB", "ZOWE", "R", Read).saf_rc, 8);
    common::run(&admin, "SETROPTS RACLIST(ZOWE) REFRESH");
    assert!(gateway.reload_if_changed().unwrap());
    assert_eq!(gateway.check("BOB", "ZOWE", "R", Read).saf_rc, 0);
    // GLOBAL tables too wait for their refresh.
    // (A reload loads what the table holds then: the gateway reloads
    // between the activation and the change, as its periodic reload would.)
    common::run(&admin, "SETROPTS GLOBAL(ZOWE)");
    assert!(gateway.reload_if_changed().unwrap());
    common::run(&admin, "RDEFINE GLOBAL ZOWE ADDMEM('G'/READ)");
    assert!(gateway.reload_if_changed().unwrap());
    assert_eq!(gateway.check("ANN", "ZOWE", "G", Read).saf_rc, 4);
    common::run(&admin, "SETROPTS GLOBAL(ZOWE) REFRESH");
    assert!(gateway.reload_if_changed().unwrap());
    assert_eq!(gateway.check("ANN", "ZOWE", "G", Read).saf_rc, 0);
    // Back to automatic refresh.
    common::run(
        &admin,
        "SETROPTS NORACLIST(ZOWE)\nPERMIT R CLASS(ZOWE) ID(ANN) ACCESS(READ)",
    );
    assert!(gateway.reload_if_changed().unwrap());
    assert_eq!(gateway.check("ANN", "ZOWE", "R", Read).saf_rc, 0);
}
