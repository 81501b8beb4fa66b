//! PassTickets through the ESM: PTKTDATA profiles, generation with
//! the IRRPTAUTH check, evaluation as a password, replay protection, the
//! lookup order, and keys never listed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fresh, run};
use zgate_esm::GenerateError;
use zgate_esm::{Issuer, VerifyOutcome};

const SETUP: &str = "
ADDGROUP STC
ADDGROUP DEV
ADDUSER ZWESVUSR DFLTGRP(STC)
ADDUSER ALICE DFLTGRP(DEV) PASSWORD(SECRET1) NOEXPIRED
ADDUSER BOB DFLTGRP(DEV) PASSWORD(SECRET2) NOEXPIRED
SETROPTS CLASSACT(PTKTDATA) GENERIC(PTKTDATA)
RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)
RDEFINE PTKTDATA IRRPTAUTH.TSTAPPL.* UACC(NONE)
PERMIT IRRPTAUTH.TSTAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)
";

fn ok(o: VerifyOutcome) -> bool {
    matches!(o, VerifyOutcome::Success { .. })
}

#[test]
fn generated_ticket_is_accepted_once_as_the_password() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    let t = esm
        .generate_passticket("ZWESVUSR", "alice", "tstappl")
        .unwrap();
    assert_eq!(t.as_str().len(), 8);
    assert!(ok(esm.verify_for_appl("ALICE", t.as_str(), "TSTAPPL")));
    // Replay protection: the second use fails.
    assert!(!ok(esm.verify_for_appl("ALICE", t.as_str(), "TSTAPPL")));
    // Bound to the user and the application.
    let t2 = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    assert!(!ok(esm.verify_for_appl("BOB", t2.as_str(), "TSTAPPL")));
    assert!(!ok(esm.verify_for_appl("ALICE", t2.as_str(), "OTHER")));
    // The password still works through the same call.
    assert!(ok(esm.verify_for_appl("ALICE", "SECRET1", "TSTAPPL")));
}

#[test]
fn generation_needs_update_on_irrptauth() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    let e = esm
        .generate_passticket("BOB", "ALICE", "TSTAPPL")
        .err()
        .unwrap();
    assert!(matches!(e, GenerateError::NotAuthorized { .. }), "{e}");
    let e = esm
        .generate_passticket("ZWESVUSR", "ALICE", "NOAPPL")
        .err()
        .unwrap();
    // Not authorized comes first: IRRPTAUTH.NOAPPL.ALICE is not protected.
    assert!(matches!(e, GenerateError::NotAuthorized { .. }), "{e}");
    run(
        &esm,
        "PERMIT IRRPTAUTH.TSTAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(READ)",
    );
    assert!(esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .is_err());
}

#[test]
fn missing_profile_is_reported() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    run(&esm, "RDEFINE PTKTDATA IRRPTAUTH.** UACC(NONE)\nPERMIT IRRPTAUTH.** CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)");
    let e = esm
        .generate_passticket("ZWESVUSR", "ALICE", "NOAPPL")
        .err()
        .unwrap();
    assert!(matches!(e, GenerateError::NoProfile(_)), "{e}");
}

#[test]
fn window_is_600_seconds_either_side() {
    let (_d, esm, clock) = fresh();
    run(&esm, SETUP);
    run(
        &esm,
        "RALTER PTKTDATA TSTAPPL APPLDATA('NO REPLAY PROTECTION')",
    );
    let t = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    let t = t.as_str().to_owned();
    clock.advance_ms(600_000);
    assert!(ok(esm.verify_for_appl("ALICE", &t, "TSTAPPL")));
    // No replay protection: usable again.
    assert!(ok(esm.verify_for_appl("ALICE", &t, "TSTAPPL")));
    clock.advance_ms(2_000);
    assert!(!ok(esm.verify_for_appl("ALICE", &t, "TSTAPPL")));
}

#[test]
fn failed_ticket_counts_toward_revocation() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    run(&esm, "SETROPTS PASSWORD(REVOKE(2))");
    for _ in 0..3 {
        assert!(!ok(esm.verify_for_appl("ALICE", "ZZZZZZZZ", "TSTAPPL")));
    }
    assert_eq!(
        esm.verify_for_appl("ALICE", "SECRET1", "TSTAPPL"),
        VerifyOutcome::Revoked
    );
}

#[test]
fn user_key_beats_group_key_beats_application_key() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    // A per-user key beats the application key: a ticket made with the
    // application key no longer works for ALICE.
    let old = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    run(
        &esm,
        "RDEFINE PTKTDATA TSTAPPL.DEV.ALICE SSIGNON(KEYMASKED(0123456789ABCDEF))",
    );
    assert!(!ok(esm.verify_for_appl("ALICE", old.as_str(), "TSTAPPL")));
    let new = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    assert!(ok(esm.verify_for_appl("ALICE", new.as_str(), "TSTAPPL")));
    // BOB (same group, no user profile) still uses the application key.
    let b = esm
        .generate_passticket("ZWESVUSR", "BOB", "TSTAPPL")
        .unwrap();
    assert_ne!(b.as_str(), new.as_str());
    assert!(ok(esm.verify_for_appl("BOB", b.as_str(), "TSTAPPL")));
    run(
        &esm,
        "RDEFINE PTKTDATA TSTAPPL.DEV SSIGNON(KEYMASKED(1111111111111111))",
    );
    assert!(!ok(esm.verify_for_appl("BOB", b.as_str(), "TSTAPPL")));
}

#[test]
fn enhanced_keys_make_mixed_or_upper_case_tickets_that_verify() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    let key = "0F".repeat(64);
    run(&esm, &format!("RDEFINE PTKTDATA MIXAPPL SSIGNON(EPTKEYMASKED({key}) EPTTYPE(MIXED))\nRDEFINE PTKTDATA IRRPTAUTH.MIXAPPL.* UACC(NONE)\nPERMIT IRRPTAUTH.MIXAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)"));
    let t = esm
        .generate_passticket("ZWESVUSR", "ALICE", "MIXAPPL")
        .unwrap();
    assert!(ok(esm.verify_for_appl("ALICE", t.as_str(), "MIXAPPL")));
    run(
        &esm,
        &format!("RALTER PTKTDATA TSTAPPL SSIGNON(EPTKEYMASKED({key}))"),
    );
    let t = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    assert!(t.as_str().bytes().all(|b| !b.is_ascii_lowercase()));
    assert!(ok(esm.verify_for_appl("ALICE", t.as_str(), "TSTAPPL")));
}

#[test]
fn bad_ssignon_is_refused_and_keys_never_listed() {
    let (_d, esm, _c) = fresh();
    run(&esm, SETUP);
    for bad in [
        "RDEFINE PTKTDATA X1 SSIGNON(KEYMASKED(12))",
        "RDEFINE PTKTDATA X2 SSIGNON(EPTKEYMASKED(00))",
        "RDEFINE PTKTDATA X3 SSIGNON(KEYENCRYPTED(E001193519561977))",
        "RDEFINE PTKTDATA X4 SSIGNON(EPTTYPE(MIXED))",
        "RDEFINE ZOWE X5 SSIGNON(KEYMASKED(E001193519561977))",
    ] {
        assert!(esm.run_command(&Issuer::Operator, bad).is_err(), "{bad}");
    }
    let out = esm
        .run_command(&Issuer::Operator, "RLIST PTKTDATA TSTAPPL ALL")
        .unwrap();
    let text = out.lines.join("\n");
    assert!(text.contains("SSIGNON: KEYMASKED DATA"), "{text}");
    assert!(!text.contains("E001193519561977"), "{text}");
}

#[test]
fn replay_is_shared_between_processes_and_survives_reopen() {
    let (dir, esm, clock) = fresh();
    run(&esm, SETUP);
    let other = common::open_with_clock(dir.path(), &clock);
    let t = esm
        .generate_passticket("ZWESVUSR", "ALICE", "TSTAPPL")
        .unwrap();
    assert!(ok(other.verify_for_appl("ALICE", t.as_str(), "TSTAPPL")));
    assert!(!ok(esm.verify_for_appl("ALICE", t.as_str(), "TSTAPPL")));
    // Keys survive the reopen.
    let t = other
        .generate_passticket("ZWESVUSR", "BOB", "TSTAPPL")
        .unwrap();
    assert!(ok(esm.verify_for_appl("BOB", t.as_str(), "TSTAPPL")));
}

#[test]
fn generation_and_evaluation_agree_over_random_inputs() {
    let (_d, esm, clock) = fresh();
    run(&esm, SETUP);
    run(
        &esm,
        "RALTER PTKTDATA TSTAPPL APPLDATA('NO REPLAY PROTECTION')",
    );
    let mut seed = [0u8; 64];
    for round in 0..40u64 {
        getrandom::getrandom(&mut seed).unwrap();
        let user = format!("U{}", round);
        let appl = format!("A{:X}", seed[0]);
        let legacy: String = seed[..8].iter().map(|b| format!("{b:02X}")).collect();
        let enhanced: String = seed.iter().map(|b| format!("{b:02X}")).collect();
        let kind = if round % 2 == 0 {
            format!("KEYMASKED({legacy})")
        } else {
            format!(
                "EPTKEYMASKED({enhanced}) EPTTYPE({})",
                if round % 4 == 1 { "MIXED" } else { "UPPER" }
            )
        };
        run(&esm, &format!("ADDUSER {user} DFLTGRP(DEV)\nRDEFINE PTKTDATA {appl}.{user} SSIGNON({kind}) APPLDATA('NO REPLAY PROTECTION')\nPERMIT IRRPTAUTH.TSTAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)\nRDEFINE PTKTDATA IRRPTAUTH.{appl}.{user} UACC(NONE)\nPERMIT IRRPTAUTH.{appl}.{user} CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)"));
        clock.set_ms(1_000_000_000_000 + i64::from(seed[1]) * 7_919_000 + (round as i64) * 1000);
        let t = esm.generate_passticket("ZWESVUSR", &user, &appl).unwrap();
        let skew = i64::from(seed[2] % 200) * 6_000 - 600_000;
        clock.advance_ms(skew);
        assert!(
            ok(esm.verify_for_appl(&user, t.as_str(), &appl)),
            "round {round} skew {skew}"
        );
        clock.advance_ms(-skew);
    }
}
