//! TOTP multi-factor authentication in the ESM: enrolment by `ALTUSER ...
//! MFA(...)`, codes from the real `oathtool`, replay, skew, failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use zgate_esm::{CommandErrorKind, Esm, Issuer, MfaSettings, VerifyOutcome};

fn enrol(esm: &Esm, user: &str, extra: &str) -> String {
    let out = esm
        .run_command(
            &Issuer::Operator,
            &format!("ALTUSER {user} MFA(FACTOR(TOTP) ACTIVE {extra})"),
        )
        .unwrap();
    assert_eq!(out.lines.len(), 1, "{:?}", out.lines);
    let uri = out.lines[0].clone();
    assert!(
        uri.starts_with(&format!("otpauth://totp/zgate:{user}?secret=")),
        "{uri}"
    );
    uri
}

fn param<'a>(uri: &'a str, name: &str) -> &'a str {
    uri.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
}

/// The code `oathtool` computes for the enrolled URI at `unix_s`.
fn oathtool(uri: &str, unix_s: i64) -> String {
    let out = Command::new("oathtool")
        .arg(format!(
            "--totp={}",
            param(uri, "algorithm").to_ascii_lowercase()
        ))
        .arg(format!("--digits={}", param(uri, "digits")))
        .arg(format!("--time-step-size={}s", param(uri, "period")))
        .arg("--base32")
        .arg(format!("--now=@{unix_s}"))
        .arg(param(uri, "secret"))
        .output()
        .expect("oathtool is installed (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now_s(clock: &ManualClock) -> i64 {
    use zgate_esm::Clock as _;
    clock.now_ms() / 1000
}

#[test]
fn oathtool_codes_for_every_algorithm_and_length_log_on_once() {
    let (_dir, esm, clock) = fresh();
    run(
        &esm,
        "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED\nADDUSER U2 PHRASE('my:long phrase 12') NOEXPIRED",
    );
    for (alg, digits) in [
        ("SHA1", 6),
        ("SHA1", 8),
        ("SHA256", 6),
        ("SHA256", 8),
        ("SHA512", 6),
        ("SHA512", 8),
    ] {
        let uri = enrol(&esm, "U1", &format!("ALGORITHM({alg}) DIGITS({digits})"));
        assert_eq!(param(&uri, "algorithm"), alg);
        assert_eq!(param(&uri, "digits"), digits.to_string());
        clock.advance_ms(30_000);
        let code = oathtool(&uri, now_s(&clock));
        assert_eq!(code.len(), digits);
        // Compound in-band form.
        assert_eq!(
            esm.verify("U1", &format!("PASSW0RD:{code}"), None),
            VerifyOutcome::Success { user: "U1".into() },
            "{alg}/{digits}"
        );
        // Replay of the same code: rejected.
        assert_eq!(
            esm.verify("U1", &format!("PASSW0RD:{code}"), None),
            VerifyOutcome::WrongPassword
        );
        // The next period's code as a separate factor (mfaToken).
        clock.advance_ms(30_000);
        let next = oathtool(&uri, now_s(&clock));
        assert_eq!(
            esm.verify_with_factor("U1", "PASSW0RD", None, Some(&next)),
            VerifyOutcome::Success { user: "U1".into() }
        );
    }
    // A phrase with ':' in it: the code is after the LAST separator.
    let uri = enrol(&esm, "U2", "");
    clock.advance_ms(30_000);
    let code = oathtool(&uri, now_s(&clock));
    assert_eq!(
        esm.verify("U2", &format!("my:long phrase 12:{code}"), None),
        VerifyOutcome::Success { user: "U2".into() }
    );
}

#[test]
fn totp_needs_password_and_code_within_the_skew_and_wrong_codes_count_as_failures() {
    let (_dir, esm, clock) = fresh();
    run(
        &esm,
        "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED\nSETROPTS PASSWORD(REVOKE(3))",
    );
    let uri = enrol(&esm, "U1", "");
    // The password alone never logs on (and counts as a failure).
    assert_eq!(
        esm.verify("U1", "PASSW0RD", None),
        VerifyOutcome::WrongPassword
    );
    // Skew 1 (default): one step back and forth is accepted, two are not.
    let t = now_s(&clock);
    let two_back = oathtool(&uri, t - 60);
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{two_back}"), None),
        VerifyOutcome::WrongPassword
    );
    let one_ahead = oathtool(&uri, t + 30);
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{one_ahead}"), None),
        VerifyOutcome::Success { user: "U1".into() }
    );
    // After accepting step n+1, the code of step n (still inside the window) is a replay.
    let now_code = oathtool(&uri, t);
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{now_code}"), None),
        VerifyOutcome::WrongPassword
    );
    // Skew 0: only the current step.
    esm.set_mfa_settings(MfaSettings {
        separator: ":".into(),
        skew_steps: 0,
    });
    clock.advance_ms(120_000);
    let t = now_s(&clock);
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{}", oathtool(&uri, t + 30)), None),
        VerifyOutcome::WrongPassword
    );
    // A configurable separator.
    esm.set_mfa_settings(MfaSettings {
        separator: "/".into(),
        skew_steps: 1,
    });
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD/{}", oathtool(&uri, t)), None),
        VerifyOutcome::Success { user: "U1".into() }
    );
    esm.set_mfa_settings(MfaSettings::default());
    // A wrong code with the right password counts toward revocation.
    clock.advance_ms(120_000);
    for _ in 0..4 {
        assert_eq!(
            esm.verify("U1", "PASSW0RD:000000", None),
            VerifyOutcome::WrongPassword
        );
    }
    let good = oathtool(&uri, now_s(&clock));
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{good}"), None),
        VerifyOutcome::Revoked
    );
    assert!(esm.user("U1").unwrap().revoked);
}

#[test]
fn replay_is_rejected_by_another_instance_and_after_restart() {
    let (dir, esm, clock) = fresh();
    run(&esm, "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED");
    let uri = enrol(&esm, "U1", "");
    let code = oathtool(&uri, now_s(&clock));
    let other = common::open_with_clock(dir.path(), &clock);
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{code}"), None),
        VerifyOutcome::Success { user: "U1".into() }
    );
    assert_eq!(
        other.verify("U1", &format!("PASSW0RD:{code}"), None),
        VerifyOutcome::WrongPassword
    );
    drop((esm, other));
    let reopened = common::open_with_clock(dir.path(), &clock);
    assert_eq!(
        reopened.verify("U1", &format!("PASSW0RD:{code}"), None),
        VerifyOutcome::WrongPassword
    );
}

#[test]
fn totp_enrolment_is_listed_without_its_secret_and_bad_input_writes_nothing() {
    let (dir, esm, _clock) = fresh();
    run(
        &esm,
        "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED\nADDUSER PLAIN PASSWORD(PLAINPW) NOEXPIRED",
    );
    let uri = enrol(&esm, "U1", "ALG(SHA512) DIGITS(8)");
    let secret = param(&uri, "secret").to_string();
    // LISTUSER never shows the secret; the MFA line says TOTP is active.
    let listing = esm
        .run_command(&Issuer::Operator, "LISTUSER U1")
        .unwrap()
        .lines
        .join("\n");
    assert!(!listing.contains(&secret));
    assert!(
        listing.contains(" MFA FACTOR=TOTP ACTIVE ALGORITHM=SHA512 DIGITS=8 PERIOD=30"),
        "{listing}"
    );
    let plain = esm
        .run_command(&Issuer::Operator, "LISTUSER PLAIN")
        .unwrap()
        .lines
        .join("\n");
    assert!(!plain.contains("MFA"), "{plain}");
    assert_eq!(
        esm.mfa_listing("U1").unwrap(),
        "MFA FACTOR=TOTP ACTIVE ALGORITHM=SHA512 DIGITS=8 PERIOD=30"
    );
    assert!(esm.mfa_listing("PLAIN").is_none());
    // The store file is 0600 (the secret lives in it).
    #[cfg(unix)]
    if let zgate_esm::StoreLocation::Sqlite(file) = common::location(dir.path()) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Bad input: clear errors, nothing written.
    let before = esm.dump_store().unwrap();
    for (cmd, kind) in [
        (
            "ALTUSER U1 MFA(FACTOR(TOTP) ACTIVE ALGORITHM(MD5))",
            CommandErrorKind::Invalid,
        ),
        (
            "ALTUSER U1 MFA(FACTOR(TOTP) ACTIVE DIGITS(7))",
            CommandErrorKind::Invalid,
        ),
        (
            "ALTUSER U1 MFA(FACTOR(SMS) ACTIVE)",
            CommandErrorKind::Invalid,
        ),
        ("ALTUSER U1 MFA(ACTIVE)", CommandErrorKind::Syntax),
        ("ALTUSER U1 MFA(FACTOR(TOTP))", CommandErrorKind::Syntax),
        (
            "ALTUSER U1 MFA(FACTOR(TOTP) ACTIVE) SPECIAL",
            CommandErrorKind::Syntax,
        ),
        (
            "ALTUSER NOSUCH MFA(FACTOR(TOTP) ACTIVE)",
            CommandErrorKind::NotFound,
        ),
        ("ALTUSER PLAIN DELFACTOR(TOTP)", CommandErrorKind::NotFound),
    ] {
        let e = esm.run_command(&Issuer::Operator, cmd).unwrap_err();
        assert_eq!(e.kind, kind, "{cmd}: {e}");
    }
    let e = esm
        .run_command(
            &Issuer::User("PLAIN".into()),
            "ALTUSER U1 MFA(FACTOR(TOTP) INACTIVE)",
        )
        .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::NotAuthorized);
    assert_eq!(esm.dump_store().unwrap(), before);
    // The secret is stored (base32) for the verifier, and nowhere else.
    assert_eq!(before.iter().filter(|l| l.contains(&secret)).count(), 1);
    // Removal: INACTIVE, DELFACTOR (both spellings).
    esm.run_command(&Issuer::Operator, "ALTUSER U1 MFA(FACTOR(TOTP) INACTIVE)")
        .unwrap();
    assert!(!esm.mfa_active("U1"));
    assert_eq!(
        esm.verify("U1", "PASSW0RD", None),
        VerifyOutcome::Success { user: "U1".into() }
    );
    enrol(&esm, "U1", "");
    esm.run_command(&Issuer::Operator, "ALTUSER U1 DELFACTOR(TOTP)")
        .unwrap();
    assert!(!esm.mfa_active("U1"));
    enrol(&esm, "U1", "");
    esm.run_command(&Issuer::Operator, "ALU U1 MFA(DELFACTOR(AZFTOTP1))")
        .unwrap();
    assert!(!esm.mfa_active("U1"));
    assert!(!esm.dump_store().unwrap().iter().any(|l| l.contains("mfa.")));
    // A user without MFA is never split at ':'.
    run(&esm, "ADDUSER U3 PHRASE('pass:phrase 99') NOEXPIRED");
    assert_eq!(
        esm.verify("U3", "pass:phrase 99", None),
        VerifyOutcome::Success { user: "U3".into() }
    );
}

#[test]
fn a_corrupt_factor_record_fails_closed() {
    let (dir, esm, clock) = common::fresh_sqlite();
    run(&esm, "ADDUSER U1 PASSWORD(PASSW0RD) NOEXPIRED");
    let uri = enrol(&esm, "U1", "");
    drop(esm);
    {
        // A secret that is not base32 (hand-edited database).
        let conn = rusqlite::Connection::open(dir.path().join("esm.db")).unwrap();
        conn.execute(
            "UPDATE security_records SET value = 'SHA1 6 30 not-base32!' WHERE kind = 'mfa.totp'",
            [],
        )
        .unwrap();
    }
    let esm = common::open_with_clock(dir.path(), &clock);
    assert_eq!(
        esm.verify("U1", "PASSW0RD", None),
        VerifyOutcome::WrongPassword
    );
    let code = oathtool(&uri, now_s(&clock));
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{code}"), None),
        VerifyOutcome::WrongPassword
    );
    // Re-enrolling repairs it.
    let uri = enrol(&esm, "U1", "");
    let code = oathtool(&uri, now_s(&clock));
    assert_eq!(
        esm.verify("U1", &format!("PASSW0RD:{code}"), None),
        VerifyOutcome::Success { user: "U1".into() }
    );
}
