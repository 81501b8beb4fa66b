//! From when a user's credentials count (`Esm::credentials_valid_since`),
//! the in-memory answer every authenticated request asks: revocation by
//! command and by failed attempts, RESUME, deletion and re-creation, and a
//! change made by another process; and names that are never trimmed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use zgate_esm::{AccessLevel, Issuer, VerifyOutcome};

const T0: i64 = 1_790_000_000_000;

#[test]
fn revocation_deletion_and_resume_move_the_start_of_a_users_credentials() {
    let (_dir, esm, clock) = fresh();
    run(&esm, "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    assert_eq!(esm.credentials_valid_since("ALICE"), Some(T0));
    assert_eq!(esm.credentials_valid_since("alice"), Some(T0));
    assert_eq!(esm.credentials_valid_since("NOBODY"), None);

    clock.advance_ms(5_000);
    run(&esm, "ALTUSER ALICE REVOKE");
    assert_eq!(esm.credentials_valid_since("ALICE"), None);
    clock.advance_ms(5_000);
    run(&esm, "ALTUSER ALICE RESUME");
    // Resumed: credentials count again, but only those issued after the
    // revocation.
    assert_eq!(esm.credentials_valid_since("ALICE"), Some(T0 + 5_001));

    clock.advance_ms(5_000);
    run(&esm, "DELUSER ALICE");
    assert_eq!(esm.credentials_valid_since("ALICE"), None);
    run(&esm, "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    // A new user of the same id: nothing issued to the old one counts.
    assert_eq!(esm.credentials_valid_since("ALICE"), Some(T0 + 15_000));
}

#[test]
fn revocation_by_failed_attempts_ends_earlier_credentials() {
    let (_dir, esm, clock) = fresh();
    run(
        &esm,
        "ADDUSER BOB PASSWORD(BOBPW1) NOEXPIRED\nSETROPTS PASSWORD(REVOKE(2))",
    );
    clock.advance_ms(60_000);
    for _ in 0..3 {
        assert_eq!(
            esm.verify("BOB", "WRONG1", None),
            VerifyOutcome::WrongPassword
        );
    }
    assert_eq!(esm.credentials_valid_since("BOB"), None);
    run(&esm, "ALTUSER BOB RESUME");
    assert_eq!(esm.credentials_valid_since("BOB"), Some(T0 + 60_001));
}

#[test]
fn a_revocation_by_another_process_counts_after_one_reload() {
    let (dir, esm, _clock) = fresh();
    run(&esm, "ADDUSER CAROL PASSWORD(CAROLPW1) NOEXPIRED");
    let other = common::open(dir.path());
    other
        .run_command(&Issuer::Operator, "ALTUSER CAROL REVOKE")
        .unwrap();
    assert!(
        esm.credentials_valid_since("CAROL").is_some(),
        "not reloaded yet"
    );
    assert!(esm.reload_if_changed().unwrap());
    assert_eq!(esm.credentials_valid_since("CAROL"), None);
}

#[test]
fn blanks_and_control_characters_never_make_another_name() {
    let (_dir, esm, _clock) = fresh();
    run(
        &esm,
        "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED
         SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)
         RDEFINE ZOWE APIML.DENY.* UACC(READ)
         RDEFINE ZOWE APIML.DENY.ME UACC(NONE)",
    );
    assert_eq!(
        esm.check("ALICE", "ZOWE", "APIML.DENY.ME", AccessLevel::Read)
            .saf_rc,
        8
    );
    assert_eq!(
        esm.check("ALICE", "ZOWE", "APIML.DENY.OTHER", AccessLevel::Read)
            .saf_rc,
        0
    );
    for (user, class, resource) in [
        ("ALICE", "ZOWE", "APIML.DENY.ME "),
        ("ALICE", "ZOWE", " APIML.DENY.ME"),
        ("ALICE", "ZOWE", "APIML.DENY.ME\t"),
        ("ALICE", "ZOWE", "APIML.DENY.ME\0"),
        ("ALICE", "ZOWE", "APIML.DENY. ME"),
        ("ALICE", "ZOWE ", "APIML.DENY.OTHER"),
        (" ALICE", "ZOWE", "APIML.DENY.OTHER"),
        ("ALICE\t", "ZOWE", "APIML.DENY.OTHER"),
    ] {
        let decision = esm.check(user, class, resource, AccessLevel::Read);
        assert_eq!(decision.saf_rc, 8, "{user:?} {class:?} {resource:?}");
        assert_eq!(decision.why, "invalid name");
    }
    // A logon with a blank in the id is nobody's, and counts for nobody.
    for user in [" ALICE", "ALICE ", "ALICE\t", "AL ICE", "ALICE\0"] {
        assert_eq!(
            esm.verify(user, "ALICEPW1", None),
            VerifyOutcome::UnknownUser,
            "{user:?}"
        );
    }
    assert!(matches!(
        esm.verify("alice", "ALICEPW1", None),
        VerifyOutcome::Success { .. }
    ));
    // RACF commands refuse such names and change nothing.
    for command in [
        "ADDUSER ' BOB'",
        "ADDUSER 'BOB '",
        "RDEFINE ZOWE 'APIML. X'",
        "PERMIT 'APIML.DENY.ME ' CLASS(ZOWE) ID(ALICE) ACCESS(READ)",
        "PERMIT APIML.DENY.ME CLASS(ZOWE) ID(' ALICE') ACCESS(READ)",
    ] {
        assert!(
            esm.run_command(&Issuer::Operator, command).is_err(),
            "{command}"
        );
    }
    assert!(esm.user("BOB").is_none());
    assert_eq!(
        esm.check("ALICE", "ZOWE", "APIML.DENY.ME", AccessLevel::Read)
            .saf_rc,
        8
    );
}
