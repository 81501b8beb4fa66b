//! `zgate esm` end to end: the real binary on a temporary home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use zgate_esm::Esm;

fn zgate(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zgate"))
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

fn dump(home: &Path) -> Vec<String> {
    Esm::open(home).unwrap().dump_store().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn single_commands_run_and_check_exits_with_the_saf_return_code() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().join("new-home");
    let out = zgate(&h, &["esm", "ADDUSER BOB NAME('Bob B')"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ICH01024I User BOB is defined as PROTECTED."));
    // Unquoted words work too.
    for cmd in [
        &["esm", "SETROPTS", "CLASSACT(ZOWE)", "GENERIC(ZOWE)"][..],
        &["esm", "RDEFINE ZOWE APIML.** UACC(NONE)"],
        &["esm", "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ)"],
    ] {
        let out = zgate(&h, cmd);
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
    }
    let out = zgate(
        &h,
        &["esm", "check", "BOB", "ZOWE", "APIML.SERVICES", "READ"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("APIML.**"));
    let out = zgate(
        &h,
        &[
            "esm",
            "check",
            "BOB",
            "ZOWE",
            "APIML.SERVICES",
            "UPDATE",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(8));
    let json = text(&out.stdout);
    for key in [
        "\"safRc\":8",
        "\"racfRc\":8",
        "\"reason\":0",
        "\"profile\":\"APIML.**\"",
        "\"grantedBy\":null",
        "\"authorized\":false",
    ] {
        assert!(json.contains(key), "{key} missing in {json}");
    }
    let out = zgate(
        &h,
        &["esm", "check", "BOB", "ZOWE", "OTHER", "READ", "--json"],
    );
    assert_eq!(out.status.code(), Some(4));
    let out = zgate(&h, &["esm", "check", "BOB", "ZOWE", "OTHER", "SOMETIMES"]);
    assert_eq!(out.status.code(), Some(64));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(h.join("esm.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn failing_command_exits_non_zero_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert!(zgate(h, &["esm", "ADDUSER BOB"]).status.success());
    let before = dump(h);
    for cmd in [
        "ADDUSER BOB",
        "ADDUSER TOOLONGID9",
        "ADDUSER JOE BOGUS(1)",
        "DELUSER NOBODY",
        "RDELETE ZOWE NO.SUCH",
        "ADDUSER (JOE BOB)",
        "FROB",
    ] {
        let out = zgate(h, &["esm", cmd]);
        assert_eq!(out.status.code(), Some(8), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("ICH") || err.starts_with("IKJ"),
            "{cmd}: {err}"
        );
        assert_eq!(before, dump(h), "{cmd} changed the database");
    }
}

#[test]
fn batch_from_file_and_stdin_stops_at_failure() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let file = h.join("batch.racf");
    std::fs::write(
        &file,
        "/* setup */\n# comment\nADDGROUP DEV\nADDUSER (A1 A2) -\n  DFLTGRP(DEV)\nADDUSER A1\nADDUSER A3\n",
    )
    .unwrap();
    let out = zgate(h, &["esm", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 6: ADDUSER A1") && err.contains("ICH01004I"),
        "{err}"
    );
    let esm = Esm::open(h).unwrap();
    assert!(esm.user("A2").is_some());
    assert!(esm.user("A3").is_none(), "the batch stops at the failure");
    drop(esm);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgate"))
        .arg("--home")
        .arg(h)
        .args(["esm", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ADDUSER A3\nLISTUSER A3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("USER=A3"));
    assert!(text(&out.stderr).contains("2 commands done"));
}

/// MFA factors and certificate mappings are commands like any other: a
/// batch runs them line by line and an import in its one transaction.
#[test]
fn batches_and_imports_run_mfa_and_racdcert_lines_like_single_commands() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let batch = h.join("batch.racf");
    std::fs::write(
        &batch,
        "ADDUSER ALICE\nALTUSER ALICE MFA(FACTOR(TOTP) ACTIVE)\n\
         RACDCERT MAP ID(ALICE) SDNFILTER('CN=ALICE.O=ACME') WITHLABEL('alice')\n",
    )
    .unwrap();
    let out = zgate(h, &["esm", "-f", batch.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("otpauth://totp/"),
        "{}",
        text(&out.stdout)
    );
    let listed = text(&zgate(h, &["esm", "LISTUSER ALICE"]).stdout);
    assert!(listed.contains(" MFA FACTOR=TOTP ACTIVE"), "{listed}");
    let maps = text(&zgate(h, &["esm", "RACDCERT LISTMAP ID(ALICE)"]).stdout);
    assert!(maps.contains("Label: alice"), "{maps}");

    // A failing line stops the batch: the lines before it stay, it and the
    // lines after it change nothing.
    std::fs::write(
        &batch,
        "ALTUSER ALICE DELFACTOR(TOTP)\nRACDCERT MAP ID(NOBODY) SDNFILTER('CN=X')\nADDUSER AFTER\n",
    )
    .unwrap();
    let out = zgate(h, &["esm", "-f", batch.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    let esm = Esm::open(h).unwrap();
    assert!(!esm.mfa_active("ALICE"), "line 1 ran");
    assert!(esm.user("AFTER").is_none(), "the batch stopped at line 2");
    drop(esm);
    let maps = text(&zgate(h, &["esm", "RACDCERT LISTMAP"]).stdout);
    assert!(!maps.contains("CN=X"), "{maps}");

    // An import: all of it, or nothing when one line fails.
    let import = h.join("import.yaml");
    std::fs::write(
        &import,
        "users: [{id: BOB}]\ncommands:\n  - ALTUSER BOB MFA(FACTOR(TOTP) ACTIVE DIGITS(8))\n  \
         - RACDCERT MAP ID(BOB) SDNFILTER('CN=BOB.O=ACME') WITHLABEL('bob')\n",
    )
    .unwrap();
    let out = zgate(h, &["esm", "import", import.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let esm = Esm::open(h).unwrap();
    assert!(esm.mfa_active("BOB"));
    drop(esm);
    let maps = text(&zgate(h, &["esm", "RACDCERT LISTMAP ID(BOB)"]).stdout);
    assert!(maps.contains("Label: bob"), "{maps}");
    std::fs::write(
        &import,
        "users: [{id: CAROL}]\ncommands:\n  - ALTUSER CAROL MFA(FACTOR(TOTP) ACTIVE)\n  \
         - RACDCERT MAP ID(CAROL) SDNFILTER('CN=BOB.O=ACME') WITHLABEL('carol')\n",
    )
    .unwrap();
    let before = dump(h);
    let out = zgate(h, &["esm", "import", import.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("IRRD108I"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(before, dump(h), "a failed import changes nothing");
}

#[test]
fn import_reads_zowe_mock_saf_files_and_a_bad_file_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/zowe/saf");
    for f in ["mock-saf.yml", "mock-saf-test.yml"] {
        let out = zgate(h, &["esm", "import", &format!("{data}/{f}")]);
        assert!(out.status.success(), "{f}: {}", text(&out.stderr));
    }
    let out = zgate(h, &["esm", "check", "user", "CLASS", "RESOURCE", "READ"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let bad = h.join("bad.yml");
    std::fs::write(
        &bad,
        "safAccess:\n  ZOWE:\n    X:\n      READ: [not-an-id]\n",
    )
    .unwrap();
    let before = dump(h);
    let out = zgate(h, &["esm", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    assert_eq!(before, dump(h));
}

/// SIGKILL in the middle of a batch: every command that completed is in
/// the database, and nothing of the one that was running.
#[test]
fn killed_batch_keeps_completed_commands_only() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    const N: usize = 20_000;
    // Each command defines three users and connects them: six rows in one
    // transaction, and three output lines.
    let mut batch = String::from("ADDGROUP G\n");
    for i in 0..N {
        batch.push_str(&format!("ADDUSER (A{i} B{i} C{i}) DFLTGRP(G)\n"));
    }
    let file = h.join("big.racf");
    std::fs::write(&file, batch).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgate"))
        .arg("--home")
        .arg(h)
        .args(["esm", "-f", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    while seen < 600 {
        lines.next().unwrap().unwrap();
        seen += 1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let esm = Esm::open(h).unwrap();
    let mut done = 0;
    while done < N && esm.user(&format!("A{done}")).is_some() {
        done += 1;
    }
    assert!(
        done >= seen / 3,
        "printed commands must be committed: {done} < {}",
        seen / 3
    );
    assert!(
        done < N,
        "the batch finished before the kill; the test proves nothing"
    );
    for i in 0..done {
        for p in ["A", "B", "C"] {
            let u = esm
                .user(&format!("{p}{i}"))
                .expect("completed command lost");
            assert_eq!(u.groups, vec!["G".to_owned()], "half a command: {p}{i}");
        }
    }
    for i in done..(done + 50).min(N) {
        for p in ["A", "B", "C"] {
            assert!(
                esm.user(&format!("{p}{i}")).is_none(),
                "part of command {i} persisted"
            );
        }
    }
}

/// A conditional permit is reachable from the command line: `--when` gives
/// the check the condition a gateway request would carry.
#[test]
fn check_takes_the_conditions_of_a_request() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for cmd in [
        "ADDUSER BOB",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.** UACC(NONE)",
    ] {
        assert!(zgate(h, &["esm", cmd]).status.success(), "{cmd}");
    }
    let out = zgate(
        h,
        &[
            "esm",
            "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ) WHEN(SERVAUTH(INTRANET))",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = zgate(
        h,
        &[
            "esm",
            "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(UPDATE) WHEN(TERMINAL(T1))",
        ],
    );
    assert!(
        text(&out.stdout).contains("IRRD120I WHEN(TERMINAL) NEVER MATCHES"),
        "{}",
        text(&out.stdout)
    );
    let check = |extra: &[&str]| {
        let mut args = vec!["esm", "check", "BOB", "ZOWE", "APIML.X", "READ"];
        args.extend_from_slice(extra);
        zgate(h, &args).status.code()
    };
    assert_eq!(check(&[]), Some(8));
    assert_eq!(check(&["--when", "SERVAUTH(INTRANET)"]), Some(0));
    assert_eq!(check(&["--when", "servauth(intranet)", "--json"]), Some(0));
    assert_eq!(check(&["--when", "SERVAUTH(INTERNET)"]), Some(8));
    assert_eq!(check(&["--when", "NOSUCH(X)"]), Some(64));
    assert_eq!(check(&["--when"]), Some(64));
}

/// A failing line's text is echoed with its secrets masked, in a batch and
/// in an import.
#[test]
fn failing_lines_are_echoed_without_their_secrets() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let batch = h.join("batch.racf");
    std::fs::write(&batch, "ALTUSER NOBODY PASSWORD(Sup3rS3cret)\n").unwrap();
    let out = zgate(h, &["esm", "-f", batch.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!said.contains("Sup3rS3cret"), "{said}");
    assert!(said.contains("ALTUSER NOBODY PASSWORD(********)"), "{said}");
    let import = h.join("import.yaml");
    std::fs::write(
        &import,
        "commands:\n  - ALTUSER NOBODY PHRASE('Sup3rS3cret phrase')\n",
    )
    .unwrap();
    let out = zgate(h, &["esm", "import", import.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!said.contains("Sup3rS3cret"), "{said}");
    assert!(said.contains("PHRASE(********)"), "{said}");
}
