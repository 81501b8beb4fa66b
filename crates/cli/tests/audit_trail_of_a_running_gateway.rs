//! The audit trail a running `zgate serve` and `zgate esm` beside it write
//! together: each kind of decision gives the record RACF would write, with
//! its qualifier, origin and request id; RACF's controls change what is
//! recorded and only an AUDITOR changes them; no secret is in any byte
//! written; the auditor's questions are answered exactly; and every kind of
//! tampering with the real trail is found at its line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::path::{Path, PathBuf};

use gateway_support::{client_cert, zgate, Server};
use serde_json::{Map, Value};

type Record = Map<String, Value>;

fn esm(home: &Path, args: &[&str]) -> String {
    let mut all = vec!["esm"];
    all.extend_from_slice(args);
    let out = zgate(home, &all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zgate esm {args:?}: {text}");
    text
}

/// `zgate esm` beside a running gateway, and waits until the gateway has
/// picked the change up.
fn esm_seen(server: &Server, args: &[&str]) -> String {
    let from = server.stderr.len();
    let said = esm(&server.home, args);
    server.wait_for_log(from, "ESM changes picked up");
    said
}

fn trail_files(home: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(home.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Every record of the trail, the trail's own left out.
fn records(home: &Path) -> Vec<Record> {
    trail_files(home)
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Record>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|r| {
            !matches!(
                r["event_type"].as_str(),
                Some("FILEHDR" | "ROTATE" | "CHECKPOINT")
            )
        })
        .collect()
}

fn header(response: &str, name: &str) -> Option<String> {
    response.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

fn query(home: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "query", "--json"];
    all.extend_from_slice(args);
    let out = zgate(home, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const CHECK_BODY: &str = r#"{"resourceClass":"ZOWE","resourceName":"RES","accessLevel":"READ"}"#;

fn check(server: &Server, token: &str, resource: &str) -> (u16, String) {
    server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={token}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            &CHECK_BODY.replace("RES", resource),
        ],
        "/gateway/auth/check",
    )
}

fn login_fails(server: &Server, user: &str, password: &str) -> String {
    let (status, text) = server.curl(
        &["-X", "POST", "-u", &format!("{user}:{password}")],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 401, "{text}");
    text
}

/// The records of `event` whose user is `user`.
fn of<'a>(all: &'a [Record], event: u64, user: &str) -> Vec<&'a Record> {
    all.iter()
        .filter(|r| r["event"] == event && r["evt_user_id"] == user)
        .collect()
}

#[test]
fn a_running_gateway_records_each_decision_as_racf_would() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(
        &home,
        &[
            "--set",
            "components.gateway.apiml.security.x509.enabled=true",
        ],
        &[],
    );
    let admin_password = server.admin_password();
    // Commands beside the running gateway write the same trail.
    let setup = "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED\n\
                 ADDUSER BOB PASSWORD(BOBPW123) PHRASE('my secret phrase 99') NOEXPIRED\n\
                 ADDUSER AUD AUDITOR\nADDUSER SPEC SPECIAL\n\
                 ADDUSER GONE PASSWORD(GONEPW12) NOEXPIRED\nALTUSER GONE REVOKE\n\
                 SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\n\
                 RDEFINE ZOWE APIML.** UACC(NONE)\n\
                 PERMIT APIML.** CLASS(ZOWE) ID(ADMIN) ACCESS(UPDATE)\n\
                 RDEFINE ZOWE APIML.OPEN UACC(READ)\n\
                 RDEFINE ZOWE APIML.WARNED UACC(NONE) WARNING";
    let from = server.stderr.len();
    let out = std::process::Command::new(gateway_support::ZGATE)
        .arg("--home")
        .arg(&home)
        .args(["esm", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(setup.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.wait_for_log(from, "ESM changes picked up");

    // Logons: a success is recorded only for a UAUDIT user; failures always.
    let alice = server.login("ALICE", "ALICEPW1");
    login_fails(&server, "ALICE", "WRONGPW1");
    let failed = login_fails(&server, "ALICE", "WRONGPW2");
    let failed_id = header(&failed, "X-Request-Id").expect("a request id");
    login_fails(&server, "NOSUCH", "WHATEVER1");
    login_fails(&server, "GONE", "GONEPW12");
    // Checks under the default AUDIT(FAILURES(READ)): the failure, and the
    // WARNING grant.
    let (status, _) = check(&server, &alice, "APIML.OPEN");
    assert_eq!(status, 204);
    let (status, denied) = check(&server, &alice, "APIML.SECRET");
    assert_ne!(status, 204);
    let denied_id = header(&denied, "X-Request-Id").unwrap();
    let (status, _) = check(&server, &alice, "APIML.WARNED");
    assert_eq!(status, 204);
    // A certificate no filter maps.
    let cert = client_cert(&home, "NOBODY", &dir.path().join("nobody"));
    let (status, said) = server.curl(
        &[
            "--cert",
            cert.cert.to_str().unwrap(),
            "--key",
            cert.key.to_str().unwrap(),
            "-X",
            "POST",
        ],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 401, "{said}");

    // The controls: SPECIAL alone cannot set them, the AUDITOR can.
    let said = esm_seen(&server, &["--as", "SPEC", "ALTUSER ALICE UAUDIT"]);
    assert!(said.contains("UAUDIT IGNORED"), "{said}");
    esm_seen(&server, &["--as", "AUD", "ALTUSER ALICE UAUDIT"]);
    esm_seen(
        &server,
        &[
            "--as",
            "AUD",
            "RALTER ZOWE APIML.OPEN GLOBALAUDIT(SUCCESS(READ))",
        ],
    );
    esm_seen(
        &server,
        &["--as", "AUD", "SETROPTS LOGOPTIONS(NEVER(ZOWE))"],
    );
    let bob = server.login("BOB", "BOBPW123");
    // LOGOPTIONS(NEVER): BOB's failure is no longer recorded...
    let (status, _) = check(&server, &bob, "APIML.SECRET");
    assert_ne!(status, 204);
    esm_seen(
        &server,
        &["--as", "AUD", "SETROPTS LOGOPTIONS(DEFAULT(ZOWE))"],
    );
    // ...GLOBALAUDIT(SUCCESS(READ)) records BOB's success...
    let (status, _) = check(&server, &bob, "APIML.OPEN");
    assert_eq!(status, 204);
    // ...the owner's AUDIT(NONE) silences the failures the default logged...
    esm_seen(
        &server,
        &["--as", "SPEC", "RALTER ZOWE APIML.** AUDIT(NONE)"],
    );
    let (status, _) = check(&server, &bob, "APIML.SECRET");
    assert_ne!(status, 204);
    // ...UAUDIT records ALICE's logon.
    let alice2 = server.login("ALICE", "ALICEPW1");
    let (status, _) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={alice2}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204);
    // A reload of the service definitions, asked for by the administrator.
    let (status, reloaded) = server.curl(
        &["-X", "POST", "-u", &format!("ADMIN:{admin_password}")],
        "/gateway/api/v1/services/reload",
    );
    assert_eq!(status, 200, "{reloaded}");
    let reload_id = header(&reloaded, "X-Request-Id").unwrap();
    assert!(server.stop().success());

    let all = records(&home);
    // Event 1, RACF's qualifiers.
    let alice_logons = of(&all, 1, "ALICE");
    let quals: Vec<u64> = alice_logons
        .iter()
        .map(|r| r["event_qual"].as_u64().unwrap())
        .collect();
    assert_eq!(quals, [1, 1, 0, 8], "{alice_logons:?}");
    assert_eq!(
        alice_logons[1]["request_id"].as_str(),
        Some(failed_id.as_str())
    );
    assert!(alice_logons[1]["term"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(strings(&alice_logons[2]["log_reason"]), ["USER"]);
    let nosuch = of(&all, 1, "NOSUCH");
    assert_eq!(nosuch[0]["event_qual"], 9);
    assert_eq!(nosuch[0]["user_ndfnd"], true);
    assert_eq!(of(&all, 1, "GONE")[0]["event_qual"], 6);
    assert!(
        of(&all, 1, "BOB").is_empty(),
        "BOB's success is not recorded"
    );
    // Event 2: the failure and the WARNING grant, not the plain success.
    let alice_checks = of(&all, 2, "ALICE");
    let got: Vec<(&str, u64)> = alice_checks
        .iter()
        .map(|r| {
            (
                r["res_name"].as_str().unwrap(),
                r["event_qual"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("APIML.SECRET", 1), ("APIML.WARNED", 3)]);
    assert_eq!(
        alice_checks[0]["request_id"].as_str(),
        Some(denied_id.as_str())
    );
    assert_eq!(alice_checks[0]["profile"], "APIML.**");
    let bob_checks = of(&all, 2, "BOB");
    assert_eq!(bob_checks.len(), 1, "{bob_checks:?}");
    assert_eq!(bob_checks[0]["res_name"], "APIML.OPEN");
    assert_eq!(strings(&bob_checks[0]["log_reason"]), ["GLOBAL"]);
    // Event 67: the unmapped certificate, by fingerprint and names.
    let unmapped: Vec<_> = all.iter().filter(|r| r["event"] == 67).collect();
    assert_eq!(unmapped[0]["event_qual"], 4);
    assert!(unmapped[0]["tls"]["subject_dn"]
        .as_str()
        .unwrap()
        .contains("NOBODY"));
    // Commands: the operator's, the ignored keyword, the AUDITOR's.
    let altuser: Vec<_> = all.iter().filter(|r| r["event"] == 13).collect();
    let by: Vec<(&str, u64)> = altuser
        .iter()
        .map(|r| {
            (
                r["evt_user_id"].as_str().unwrap(),
                r["event_qual"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, [("", 0), ("SPEC", 2), ("AUD", 0)]);
    // Tokens the gateway issued: ALICE twice, BOB once, the logout's end.
    let issued: Vec<&str> = all
        .iter()
        .filter(|r| r["event"] == 200 && r["event_qual"] == 0)
        .map(|r| r["evt_user_id"].as_str().unwrap())
        .collect();
    assert_eq!(issued, ["ALICE", "BOB", "ALICE"]);
    // The reload (zgate's event 201), by whom and from where.
    let reloads: Vec<_> = all
        .iter()
        .filter(|r| {
            r["event"] == 201 && r.get("request_id") == Some(&Value::from(reload_id.as_str()))
        })
        .collect();
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert_eq!(reloads[0]["event_qual"], 0);
    assert_eq!(reloads[0]["evt_user_id"], "ADMIN");

    // Not one secret in any byte written.
    let mut written = Vec::new();
    for f in trail_files(&home) {
        written.extend(std::fs::read(f).unwrap());
    }
    let written = String::from_utf8_lossy(&written);
    let basic = "QUxJQ0U6QUxJQ0VQVzE"; // base64 of "ALICE:ALICEPW1"'s start
    for secret in [
        "ALICEPW1",
        "alicepw1",
        "WRONGPW1",
        "WRONGPW2",
        "BOBPW123",
        "my secret phrase 99",
        "GONEPW12",
        "WHATEVER1",
        admin_password.as_str(),
        alice.as_str(),
        &alice[alice.len() - 30..],
        bob.as_str(),
        alice2.as_str(),
        basic,
    ] {
        assert!(
            !written.contains(secret),
            "a secret ({secret:.6}…) is in the trail"
        );
    }

    // The auditor's questions, answered exactly.
    let failed_alice = query(&home, &["--user", "alice", "--event", "1", "--violation"]);
    let want: Vec<u64> = alice_logons[..2]
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs(&failed_alice), want);
    let warned = query(&home, &["--event", "2", "--warning"]);
    assert_eq!(seqs(&warned), [alice_checks[1]["seq"].as_u64().unwrap()]);
    let special = query(&home, &["--authority", "SPECIAL"]);
    let ralter = of(&all, 20, "SPEC");
    assert_eq!(ralter.len(), 1, "{ralter:?}");
    assert_eq!(
        seqs(&special),
        [
            altuser[1]["seq"].as_u64().unwrap(),
            ralter[0]["seq"].as_u64().unwrap()
        ]
    );

    // Intact, then each kind of tampering found at its line.
    let out = zgate(&home, &["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    tampering_is_found(dir.path(), &home);
}

/// Edits a copy of the trail each way and asks `zgate audit verify`.
fn tampering_is_found(root: &Path, home: &Path) {
    let file = trail_files(home).pop().unwrap();
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() > 8, "{} lines", lines.len());
    // A trail of another home, whose file is spliced in.
    let other = root.join("other");
    esm(&other, &["ADDUSER EVE"]);
    let foreign = std::fs::read_to_string(trail_files(&other).pop().unwrap()).unwrap();
    let edited = |f: &dyn Fn(&mut Vec<String>)| {
        let mut l = lines.clone();
        f(&mut l);
        l.join("\n") + "\n"
    };
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "an edited field",
            edited(&|l| l[5] = l[5].replacen("\"event_qual\":", "\"event_qual\":1", 1)),
            6,
        ),
        ("a deleted line", edited(&|l| drop(l.remove(4))), 5),
        ("swapped lines", edited(&|l| l.swap(3, 4)), 4),
        ("a cut end", edited(&|l| l.truncate(l.len() - 3)), 0),
        // Another trail's file chains within itself from its genesis: its
        // first checkpoint, signed with another key, gives it away.
        ("a spliced file", foreign.clone(), 3),
    ];
    for (what, text, line) in cases {
        let copy = root.join(format!("copy-{}", what.replace(' ', "-")));
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(copy.join("state")).unwrap();
        copy_trail(home, &copy);
        std::fs::write(copy.join("audit").join(&name), text).unwrap();
        let out = zgate(&copy, &["audit", "verify"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{what}: {said}");
        if line > 0 {
            assert!(said.contains(&format!("{name}:{line}:")), "{what}: {said}");
        } else {
            assert!(said.contains("cut"), "{what}: {said}");
        }
    }
}

/// Copies the trail and the key files of `home` to `to`.
fn copy_trail(home: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("audit")).unwrap();
    for f in trail_files(home) {
        std::fs::copy(&f, to.join("audit").join(f.file_name().unwrap())).unwrap();
    }
    for f in ["audit.key", "audit.key.pub", "audit.key.head"] {
        std::fs::copy(home.join("state").join(f), to.join("state").join(f)).unwrap();
    }
}
