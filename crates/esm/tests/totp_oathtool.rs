//! Interoperability with the real `oathtool` (OATH Toolkit): for every hash
//! and digit count, codes it computes from a zgate secret's base32 equal
//! zgate's. The test fails, loudly, when `oathtool` is missing: the project's
//! test script installs it (`apt-get install oathtool`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use zgate_base::SeededRandom;
use zgate_esm::totp::{code_at, verify, Algorithm, Digits, SharedSecret, TotpParams};

/// Runs oathtool with the secret on standard input (`-`), never on the command
/// line where other users' `ps` could see it.
fn oathtool(secret_base32: &str, params: &TotpParams, now: &str) -> String {
    let mode = format!("--totp={}", params.algorithm.as_str());
    let digits = format!("--digits={}", params.digits.count());
    let step = format!("--time-step-size={}s", params.period);
    let mut child = Command::new("oathtool")
        .args([
            mode.as_str(),
            digits.as_str(),
            step.as_str(),
            "--base32",
            "--now",
            now,
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `oathtool` ({e}): the TOTP interop test needs the real OATH Toolkit; \
                 install it with `apt-get install -y oathtool`"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret_base32}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oathtool {mode} {digits} --now {now:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn oathtool_agrees_for_every_algorithm_and_digit_count() {
    let rng = SeededRandom::new(6238);
    // (oathtool's --now, the same instant in Unix seconds)
    let times = [
        ("2026-01-01 00:00:00 UTC", 1_767_225_600u64),
        ("2026-01-01 00:00:29 UTC", 1_767_225_629),
        ("@59", 59),
        ("@1111111111", 1_111_111_111),
        ("@2000000000", 2_000_000_000),
        ("@20000000000", 20_000_000_000),
    ];
    let mut compared = 0;
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let secret = SharedSecret::generate(&rng, algorithm).unwrap();
        let base32 = secret.to_base32();
        for digits in [Digits::Six, Digits::Eight] {
            let params = TotpParams {
                algorithm,
                digits,
                ..TotpParams::default()
            };
            for (now_text, now) in times {
                let theirs = oathtool(&base32, &params, now_text);
                let ours = code_at(&secret, &params, now);
                assert_eq!(
                    ours,
                    theirs,
                    "{} {} digits at {now_text}",
                    algorithm.as_str(),
                    digits.count()
                );
                // And zgate accepts oathtool's code, at the right step.
                assert_eq!(verify(&secret, &params, &theirs, now, 1), Some(now / 30));
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 36);
}

#[test]
fn oathtool_agrees_on_a_non_default_period() {
    let secret = SharedSecret::generate(&SeededRandom::new(4226), Algorithm::Sha256).unwrap();
    let params = TotpParams::new(Algorithm::Sha256, 8, 60).unwrap();
    let theirs = oathtool(&secret.to_base32(), &params, "2026-01-01 00:00:00 UTC");
    assert_eq!(code_at(&secret, &params, 1_767_225_600), theirs);
}

#[test]
fn oathtool_reads_the_secret_as_zgate_shows_it_in_lower_case_with_spaces() {
    // What a user might paste into another tool: zgate's parser and oathtool's
    // must see the same key.
    let secret = SharedSecret::generate(&SeededRandom::new(1), Algorithm::Sha1).unwrap();
    let spaced: String = secret
        .to_base32()
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let reread = SharedSecret::from_base32(&spaced).unwrap();
    let params = TotpParams::default();
    assert_eq!(
        code_at(&reread, &params, 1_767_225_600),
        oathtool(&secret.to_base32(), &params, "2026-01-01 00:00:00 UTC")
    );
}
