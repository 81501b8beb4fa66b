//! What the ESM finds in a database it did not write itself: a class
//! RACLISTed by a zgate that kept no in-storage copy, a stored profile name
//! today's RDEFINE would refuse, a factor enrolled by another process; and
//! profiles whose discrete and generic readings meet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use zgate_esm::{AccessLevel, CommandErrorKind, Issuer, VerifyOutcome};

fn sql(dir: &std::path::Path, statements: &str) {
    rusqlite::Connection::open(dir.join("esm.db"))
        .unwrap()
        .execute_batch(statements)
        .unwrap();
}

#[test]
fn a_class_raclisted_without_a_copy_gets_one_when_the_store_opens() {
    let (dir, esm, _clock) = common::fresh_sqlite();
    common::run(
        &esm,
        "ADDUSER BOB\nSETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nRDEFINE ZOWE APP.X UACC(NONE)\nSETROPTS RACLIST(ZOWE) GLOBAL(ZOWE)",
    );
    drop(esm);
    // As a database written before the copies were stored.
    sql(
        dir.path(),
        "DELETE FROM security_records WHERE kind LIKE 'raclist.%';",
    );
    let first = common::open(dir.path());
    let second = common::open(dir.path());
    common::run(
        &first,
        "PERMIT APP.X CLASS(ZOWE) ID(BOB) ACCESS(READ)\nRDEFINE GLOBAL ZOWE ADDMEM('APP.G'/READ)",
    );
    for esm in [&first, &second] {
        esm.reload_if_changed().unwrap();
        assert!(!esm
            .check("BOB", "ZOWE", "APP.X", AccessLevel::Read)
            .authorized());
        assert!(!esm
            .check("BOB", "ZOWE", "APP.G", AccessLevel::Read)
            .authorized());
    }
    common::run(&first, "SETROPTS RACLIST(ZOWE) GLOBAL(ZOWE) REFRESH");
    for esm in [&first, &second] {
        esm.reload_if_changed().unwrap();
        assert!(esm
            .check("BOB", "ZOWE", "APP.X", AccessLevel::Read)
            .authorized());
        assert!(esm
            .check("BOB", "ZOWE", "APP.G", AccessLevel::Read)
            .authorized());
    }
}

#[test]
fn a_stored_name_rdefine_would_refuse_stays_manageable() {
    let (dir, esm, _clock) = common::fresh_sqlite();
    common::run(&esm, "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nADDUSER BOB");
    let msg = esm
        .run_command(&Issuer::Operator, "RDEFINE ZOWE APP.S%*")
        .unwrap_err();
    assert!(msg.to_string().contains("ICH10313I"), "{msg}");
    drop(esm);
    sql(
        dir.path(),
        "INSERT INTO profiles (class, name, owner, uacc, warning, appldata, data, created_ms)
         VALUES ('ZOWE', 'APP.S%*', 'SYS1', 'READ', 0, '', '', 0);
         UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation';",
    );
    let esm = common::open(dir.path());
    assert!(esm
        .check("BOB", "ZOWE", "APP.SX", AccessLevel::Read)
        .authorized());
    common::run(&esm, "RALTER ZOWE APP.S%* UACC(NONE)\nRLIST ZOWE APP.S%*");
    assert!(!esm
        .check("BOB", "ZOWE", "APP.SX", AccessLevel::Read)
        .authorized());
    common::run(&esm, "RDELETE ZOWE APP.S%*");
}

#[test]
fn the_generic_profile_replaces_a_discrete_one_of_its_name_once_generics_are_on() {
    let (_dir, esm, _clock) = common::fresh();
    common::run(
        &esm,
        "ADDUSER BOB\nSETROPTS CLASSACT(ZOWE) NOGENERIC(ZOWE)\nRDEFINE ZOWE APIML.** UACC(NONE)\nSETROPTS GENERIC(ZOWE)",
    );
    // Changing the unusable discrete profile says so.
    let out = esm
        .run_command(
            &Issuer::Operator,
            "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ)",
        )
        .unwrap()
        .lines
        .join("\n");
    assert!(out.contains("IRRD122I"), "{out}");
    assert_eq!(
        esm.check("BOB", "ZOWE", "APIML.X", AccessLevel::Read)
            .saf_rc,
        4
    );
    let out = esm
        .run_command(&Issuer::Operator, "RDEFINE ZOWE APIML.** UACC(READ)")
        .unwrap()
        .lines
        .join("\n");
    assert!(out.contains("IRRD121I"), "{out}");
    assert!(esm
        .check("BOB", "ZOWE", "APIML.X", AccessLevel::Read)
        .authorized());
    // Now it is an ordinary generic profile.
    let err = esm
        .run_command(&Issuer::Operator, "RDEFINE ZOWE APIML.**")
        .unwrap_err();
    assert_eq!(err.kind, CommandErrorKind::Duplicate);
}

#[test]
fn authority_reads_the_issuer_as_racf_spells_it() {
    let (_dir, esm, _clock) = common::fresh();
    common::run(&esm, "ADDUSER ADM SPECIAL\nADDUSER BOB");
    for issuer in ["ADM", "adm"] {
        esm.run_command(&Issuer::User(issuer.into()), "LISTUSER BOB")
            .unwrap();
    }
    esm.run_command(&Issuer::User("bob".into()), "LISTUSER BOB")
        .unwrap();
    let err = esm
        .run_command(&Issuer::User("bob".into()), "LISTUSER ADM")
        .unwrap_err();
    assert_eq!(err.kind, CommandErrorKind::NotAuthorized);
}

#[test]
fn raclist_all_refresh_copies_only_the_raclisted_classes() {
    let (dir, esm, _clock) = common::fresh_sqlite();
    common::run(
        &esm,
        "SETROPTS CLASSACT(ZOWE FACILITY) RACLIST(FACILITY)\nSETROPTS RACLIST(*) REFRESH",
    );
    drop(esm);
    let kept: Vec<String> = rusqlite::Connection::open(dir.path().join("esm.db"))
        .unwrap()
        .prepare("SELECT key FROM security_records WHERE kind = 'raclist.profiles' ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kept, ["FACILITY"]);
}

#[test]
fn a_factor_enrolled_by_another_process_is_required_at_once() {
    let (dir, esm, _clock) = common::fresh();
    common::run(&esm, "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED");
    assert_eq!(
        esm.verify("U1", "PASSW0RD", None),
        VerifyOutcome::Success { user: "U1".into() }
    );
    let other = common::open(dir.path());
    common::run(&other, "ALTUSER U1 MFA(FACTOR(TOTP) ACTIVE)");
    assert_eq!(
        esm.verify("U1", "PASSW0RD", None),
        VerifyOutcome::WrongPassword
    );
}
