//! `zgate store migrate` end to end: the real binary moves a home's SQLite
//! store, built with `zgate esm` commands, into a PostgreSQL database of
//! its own, and `zgate esm` on that database answers as on the file.
//!
//! PostgreSQL: the server `crates/esm/tests/common/pg.rs` finds or starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../esm/tests/common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::{Command, Output};

use pg::TestDb;
use zgate_esm::{Esm, EsmConfig, StoreLocation, VerifyOutcome};

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

fn esm(home: &Path, command: &str) {
    let out = zgate(home, &["esm", command]);
    assert!(
        out.status.success(),
        "{command}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// What commands can write: users with passwords and a phrase, groups,
/// connects, SETROPTS, profiles with access lists, conditional access and
/// members, a PassTicket key, a RACLISTed class, RACMAP filters, a TOTP
/// factor, a counted failure and a revocation.
const SETUP: &[&str] = &[
    "ADDGROUP DEV",
    "ADDGROUP OPS SUPGROUP(DEV)",
    "ADDUSER ALICE DFLTGRP(DEV) PASSWORD(ALICEPW1) NOEXPIRED NAME('Alice A') SPECIAL",
    "ADDUSER BOB DFLTGRP(DEV) PASSWORD(BOBPW1) NOEXPIRED",
    "ADDUSER CAROL PHRASE('a long pass phrase') NOEXPIRED",
    "ADDUSER DAVE PASSWORD(DAVEPW1) NOEXPIRED",
    "CONNECT BOB GROUP(OPS)",
    "SETROPTS PASSWORD(REVOKE(3) HISTORY(2) INTERVAL(60))",
    "SETROPTS CLASSACT(ZOWE FACILITY PTKTDATA IDIDMAP) GENERIC(ZOWE PTKTDATA) RACLIST(FACILITY IDIDMAP)",
    "RDEFINE ZOWE APIML.** UACC(NONE) DATA('installation data')",
    "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(UPDATE)",
    "PERMIT APIML.** CLASS(ZOWE) ID(OPS) ACCESS(READ)",
    "PERMIT APIML.** CLASS(ZOWE) ID(DAVE) ACCESS(READ) WHEN(SERVAUTH(INTRANET))",
    "RDEFINE FACILITY BPX.SERVER UACC(NONE)",
    "PERMIT BPX.SERVER CLASS(FACILITY) ID(ALICE) ACCESS(READ)",
    "SETROPTS RACLIST(FACILITY) REFRESH",
    "RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)",
    "RDEFINE GLOBAL ZOWE ADDMEM('APIML.G'/READ)",
    "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('bob@example.com')) REGISTRY(NAME('https://idp')) WITHLABEL('Bob map')",
    "SETROPTS RACLIST(IDIDMAP) REFRESH",
    "ALTUSER CAROL MFA(FACTOR(TOTP) ACTIVE)",
    "ALTUSER BOB PASSWORD(BOBPW2) NOEXPIRED",
    "ALTUSER DAVE REVOKE",
];

/// A home whose SQLite store went through [`SETUP`].
fn populated_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for command in SETUP {
        esm(home.path(), command);
    }
    home
}

fn sqlite_loc(home: &Path) -> String {
    format!("sqlite:{}", home.join("esm.db").display())
}

fn dump(location: &StoreLocation) -> Vec<String> {
    Esm::open_store(location, EsmConfig::default())
        .unwrap()
        .dump_store()
        .unwrap()
}

fn migrate(home: &Path, from: &str, to: &str, more: &[&str]) -> Output {
    let mut args = vec!["store", "migrate", "--from", from, "--to", to];
    args.extend_from_slice(more);
    zgate(home, &args)
}

/// The copy's table: every copied table `equal`, none `DIFFERENT`.
fn assert_every_table_equal(out: &Output) {
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(!stdout.contains("DIFFERENT"), "{stdout}");
    for table in [
        "users",
        "groups",
        "connects",
        "profiles",
        "access_list",
        "security_records",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no line for {table}: {stdout}"));
        assert!(line.ends_with("equal"), "{line}");
    }
}

#[test]
fn a_home_moves_into_postgresql_and_answers_there_as_before() {
    let home = populated_home();
    let db = TestDb::new();
    let out = migrate(home.path(), &sqlite_loc(home.path()), &db.url, &[]);
    assert_every_table_equal(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("copying users: 4/4"), "{stderr}");
    let source = StoreLocation::Sqlite(home.path().join("esm.db"));
    let target = StoreLocation::Postgres(db.url.clone());
    assert_eq!(dump(&target), dump(&source));

    // `zgate esm` on the database answers as on the file.
    let on_pg = tempfile::tempdir().unwrap();
    let store = format!("zgate.store={}", db.url);
    for args in [
        &["esm", "LISTUSER BOB"][..],
        &["esm", "LISTUSER DAVE"],
        &["esm", "RLIST ZOWE APIML.** ALL"],
        &["esm", "RACMAP ID(BOB) LISTMAP"],
        &["esm", "check", "BOB", "ZOWE", "APIML.SERVICES", "UPDATE"],
        &["esm", "check", "DAVE", "ZOWE", "APIML.SERVICES", "READ"],
        &["esm", "check", "ALICE", "FACILITY", "BPX.SERVER", "READ"],
    ] {
        let expected = zgate(home.path(), args);
        let mut on_postgres = vec!["--set", store.as_str()];
        on_postgres.extend_from_slice(args);
        let got = zgate(on_pg.path(), &on_postgres);
        assert_eq!(got.status.code(), expected.status.code(), "{args:?}");
        assert_eq!(text(&got.stdout), text(&expected.stdout), "{args:?}");
    }

    // Passwords and phrases still log on; the revoked user stays revoked.
    let esm = Esm::open_store(&target, EsmConfig::default()).unwrap();
    assert!(matches!(
        esm.verify("BOB", "BOBPW2", None),
        VerifyOutcome::Success { .. }
    ));
    assert!(matches!(
        esm.verify("ALICE", "ALICEPW1", None),
        VerifyOutcome::Success { .. }
    ));
    assert_eq!(
        esm.verify("BOB", "BOBPW1", None),
        VerifyOutcome::WrongPassword
    );
    assert_eq!(esm.verify("DAVE", "DAVEPW1", None), VerifyOutcome::Revoked);
}

#[test]
fn a_target_with_rows_is_refused_unchanged_and_replaced_with_replace() {
    let home = populated_home();
    let db = TestDb::new();
    let target = StoreLocation::Postgres(db.url.clone());
    assert_every_table_equal(&migrate(
        home.path(),
        &sqlite_loc(home.path()),
        &db.url,
        &[],
    ));
    esm(home.path(), "ADDUSER ERIN PASSWORD(ERINPW1) NOEXPIRED");
    let before = dump(&target);

    let out = migrate(home.path(), &sqlite_loc(home.path()), &db.url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("--replace"),
        "{stderr}"
    );
    assert_eq!(dump(&target), before);

    let out = migrate(
        home.path(),
        &sqlite_loc(home.path()),
        &db.url,
        &["--replace"],
    );
    assert_every_table_equal(&out);
    let after = dump(&target);
    assert_ne!(after, before);
    assert_eq!(
        after,
        dump(&StoreLocation::Sqlite(home.path().join("esm.db")))
    );
    assert!(after
        .iter()
        .any(|l| l.starts_with("users:") && l.contains("\"ERIN\"")));
}

#[test]
fn a_store_is_not_migrated_into_itself() {
    let home = populated_home();
    let db = TestDb::new();
    let file = sqlite_loc(home.path());
    let other_spelling = format!("sqlite:{}/./esm.db", home.path().display());
    for (from, to) in [(file.as_str(), other_spelling.as_str()), (&db.url, &db.url)] {
        let out = migrate(home.path(), from, to, &["--replace"]);
        assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("same store"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_bad_location_is_a_usage_error_that_names_the_syntax() {
    let home = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("mysql://u:secretpw@h/db", "sqlite:/tmp/x.db"),
        ("sqlite:/tmp/x.db", "esm.db"),
        ("sqlite:", "sqlite:/tmp/x.db"),
    ] {
        let out = migrate(home.path(), from, to, &[]);
        assert_eq!(out.status.code(), Some(64), "{from} {to}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("sqlite:PATH"), "{stderr}");
        assert!(!stderr.contains("secretpw"), "{stderr}");
    }
    // A source file that is not there is not created.
    let missing = home.path().join("none.db");
    let out = migrate(
        home.path(),
        &format!("sqlite:{}", missing.display()),
        &format!("sqlite:{}", home.path().join("t.db").display()),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
    assert!(!missing.exists());
}

#[test]
fn the_password_of_a_url_is_never_printed() {
    let home = populated_home();
    let db = TestDb::new();
    // The server trusts local connections: the password is sent, unused.
    let with_password = db.url.replacen("postgres@", "postgres:secretpw@", 1);
    assert_ne!(
        with_password, db.url,
        "the test server's URL names user postgres"
    );
    let outs = [
        migrate(home.path(), &sqlite_loc(home.path()), &with_password, &[]),
        // Refused: not empty.
        migrate(home.path(), &sqlite_loc(home.path()), &with_password, &[]),
        // Refused: the same store.
        migrate(home.path(), &with_password, &with_password, &[]),
        // No server there.
        migrate(
            home.path(),
            &sqlite_loc(home.path()),
            "postgresql://zgate:secretpw@127.0.0.1:1/zgate",
            &[],
        ),
    ];
    assert_every_table_equal(&outs[0]);
    for (i, out) in outs.iter().enumerate() {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("secretpw"), "{i}: {all}");
        assert!(all.contains("PostgreSQL database"), "{i}: {all}");
    }
    assert_eq!(outs[1].status.code(), Some(1));
    assert_eq!(outs[2].status.code(), Some(64));
    assert_eq!(outs[3].status.code(), Some(1));
}
