//! `zgate audit verify` and `zgate audit query` on a trail in a home: the
//! auditor's questions answered exactly, tampering named with its line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Map, Value};
use zgate_audit::trail::{Trail, TrailPolicy};

fn zgate(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zgate"))
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn record(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Logons (event 1), accesses (event 2) and commands (event 8-25) as the
/// trail holds them.
fn sample_trail(home: &Path) {
    let mut trail = Trail::open(
        &home.join("audit"),
        &home.join("state").join("audit.key"),
        TrailPolicy {
            max_file_bytes: 2_000,
            checkpoint_every: 4,
        },
    )
    .unwrap();
    let records = [
        json!({"event": 1, "event_type": "JOBINIT", "event_qual": 1, "event_qual_name": "INVPSWD", "violation": true, "evt_user_id": "ALICE", "time_written": "2026-12-05T10:00:01.000Z"}),
        json!({"event": 1, "event_type": "JOBINIT", "event_qual": 0, "event_qual_name": "SUCCESS", "violation": false, "evt_user_id": "ALICE", "time_written": "2026-12-05T10:00:02.000Z"}),
        json!({"event": 1, "event_type": "JOBINIT", "event_qual": 1, "event_qual_name": "INVPSWD", "violation": true, "evt_user_id": "BOB", "time_written": "2026-12-05T10:00:03.000Z"}),
        json!({"event": 2, "event_type": "ACCESS", "event_qual": 3, "event_qual_name": "WARNING", "user_warning": true, "evt_user_id": "BOB", "class": "ZOWE", "res_name": "APIML.SERVICES", "time_written": "2026-12-05T10:00:04.000Z"}),
        json!({"event": 2, "event_type": "ACCESS", "event_qual": 1, "event_qual_name": "INSAUTH", "violation": true, "evt_user_id": "ALICE", "class": "ZOWE", "res_name": "APIML.ADMIN", "time_written": "2026-12-05T10:00:05.000Z"}),
        json!({"event": 8, "event_type": "ADDUSER", "event_qual": 0, "evt_user_id": "ADMIN", "auth": ["SPECIAL"], "cmd": {"name": "ADDUSER", "text_masked": "ADDUSER CAROL PASSWORD(********)"}, "time_written": "2026-12-05T10:00:06.000Z"}),
        json!({"event": 1, "event_type": "JOBINIT", "event_qual": 1, "event_qual_name": "INVPSWD", "violation": true, "evt_user_id": "ALICE", "time_written": "2026-12-05T11:00:00.000Z"}),
        json!({"event": 10, "event_type": "ALTUSER", "event_qual": 0, "evt_user_id": "OPER", "auth": ["NORMAL"], "cmd": {"name": "ALTUSER", "text_masked": "ALTUSER OPER NAME('x')"}, "time_written": "2026-12-05T11:00:01.000Z"}),
    ];
    for r in records {
        trail.append(record(r)).unwrap();
    }
}

fn query(home: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "query", "--json"];
    all.extend_from_slice(args);
    let out = zgate(home, &all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn times(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["time_written"].as_str().unwrap())
        .collect()
}

#[test]
fn queries_answer_the_auditors_questions_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    sample_trail(home);
    // Failed logons of ALICE.
    let failed = query(home, &["--user", "alice", "--event", "1", "--violation"]);
    assert_eq!(
        times(&failed),
        ["2026-12-05T10:00:01.000Z", "2026-12-05T11:00:00.000Z"]
    );
    // ... within a time window.
    let window = query(
        home,
        &[
            "--user",
            "ALICE",
            "--event",
            "1",
            "--violation",
            "--until",
            "2026-12-05T11:00:00.000Z",
        ],
    );
    assert_eq!(times(&window), ["2026-12-05T10:00:01.000Z"]);
    // Accesses granted by WARNING.
    let warned = query(home, &["--event", "2", "--warning"]);
    assert_eq!(times(&warned), ["2026-12-05T10:00:04.000Z"]);
    // Commands by SPECIAL users.
    let special = query(home, &["--authority", "SPECIAL"]);
    assert_eq!(times(&special), ["2026-12-05T10:00:06.000Z"]);
    // The trail's own records are never answers.
    let all = query(home, &[]);
    assert_eq!(all.len(), 8);
    // The table form prints the same rows.
    let out = zgate(home, &["audit", "query", "--class", "ZOWE"]);
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table.contains("APIML.ADMIN") && table.contains("VIOLATION"),
        "{table}"
    );
}

#[test]
fn verify_says_intact_or_names_the_tampered_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    sample_trail(home);
    let out = zgate(home, &["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("intact: "),
        "{}",
        text(&out.stdout)
    );
    let first = home.join("audit").join("audit-000001.jsonl");
    let edited = std::fs::read_to_string(&first)
        .unwrap()
        .replacen("\"BOB\"", "\"EVE\"", 1);
    std::fs::write(&first, edited).unwrap();
    let out = zgate(home, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stdout);
    assert!(
        said.starts_with("tampered: ") && said.contains("audit-000001.jsonl:4:"),
        "{said}"
    );
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        zgate(empty.path(), &["audit", "verify"]).status.code(),
        Some(2)
    );
}
