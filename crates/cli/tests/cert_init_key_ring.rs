//! `zgate cert init` with a key ring type: the real binary on a temporary
//! home, the RACF commands of `zwe init certificate` run against the
//! embedded ESM, and zgate.yaml pointed at the ring.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use zgate_config::{KeystoreLocation, LoadOptions};

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

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A home whose zgate.yaml asks for a JCERACFKS set-up, plus `extra`
/// lines under `zowe.setup.certificate.keyring`.
fn ring_home(extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("zgate.yaml"),
        format!(
            "zowe:\n  externalDomains:\n    - zowe.example.com\n  setup:\n    certificate:\n      type: JCERACFKS\n      san:\n        - zowe.example.com\n        - 10.1.2.3\n      keyring:\n        name: ZoweKeyring\n{extra}"
        ),
    )
    .unwrap();
    home
}

fn commands_of(batch: &str) -> Vec<String> {
    zgate_esm::split_batch(batch)
        .unwrap()
        .into_iter()
        .map(|c| c.text)
        .collect()
}

#[test]
fn dry_run_prints_zowes_racf_commands_and_changes_nothing() {
    let home = ring_home("");
    let before = std::fs::read(home.path().join("zgate.yaml")).unwrap();
    let out = zgate(home.path(), &["cert", "init", "--dry-run"]);
    let stdout = ok(&out);
    let commands = commands_of(&stdout);
    assert_eq!(commands[0], "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)");
    assert_eq!(commands[1], "SETROPTS RACLIST(DIGTRING) REFRESH");
    assert!(commands[2].starts_with("RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Zowe Development Instances Certificate Authority')"));
    assert!(
        commands[4].contains(
            " ALTNAME(IP(10.1.2.3) DOMAIN('zowe.example.com')) SIGNWITH(CERTAUTH LABEL('localca'))"
        ),
        "{}",
        commands[4]
    );
    assert_eq!(
        commands.last().unwrap(),
        "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)"
    );
    assert_eq!(commands.len(), 15);
    for line in stdout.lines() {
        assert!(line.len() <= 72, "{line}");
    }
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dry run: nothing was run"), "{stderr}");
    assert!(
        stderr.contains("zowe.certificate.keystore.file: safkeyring://ZWESVUSR/ZoweKeyring"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(home.path().join("zgate.yaml")).unwrap(),
        before
    );
    assert!(
        !home.path().join("esm.db").exists(),
        "the ESM was not opened"
    );

    // --force cleans up first; --allow-overwrite is Zowe's name for it.
    let forced = commands_of(&ok(&zgate(
        home.path(),
        &["cert", "init", "--dry-run", "--allow-overwrite"],
    )));
    assert_eq!(
        forced[0],
        "PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) DELETE ID(ZWESVUSR)"
    );
    assert_eq!(&forced[forced.len() - 15..], &commands[..]);
}

#[test]
fn dry_run_of_an_import_masks_the_password_unless_asked() {
    let home = ring_home(
        "        import:\n          dsName: ZOWE.CERT.P12\n          password: \"p12 pa$$\"\n",
    );
    let masked = ok(&zgate(home.path(), &["cert", "init", "--dry-run"]));
    assert!(!masked.contains("pa$$"), "{masked}");
    assert!(masked.contains("PASSWORD('********')"), "{masked}");
    let shown = ok(&zgate(
        home.path(),
        &["cert", "init", "--dry-run", "--show-secrets"],
    ));
    let add = commands_of(&shown)
        .into_iter()
        .find(|c| c.starts_with("RACDCERT ADD("))
        .unwrap();
    assert_eq!(
        add,
        "RACDCERT ADD('ZOWE.CERT.P12') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('p12 pa$$') TRUST"
    );
    // --show-secrets belongs to a dry run.
    let out = zgate(home.path(), &["cert", "init", "--show-secrets"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn hostile_key_ring_settings_are_refused_before_any_command() {
    for (extra, why) in [
        ("        owner: \"IBM USER\"\n", "A-Z 0-9 @ # $"),
        ("        label: \"x') ID(IBMUSER\"\n", ""),
        ("        caLabel: \" localca\"\n", "blank at either end"),
        ("        connect:\n          label: Cert\n", "connect.user"),
    ] {
        let home = ring_home(extra);
        let out = zgate(home.path(), &["cert", "init"]);
        let stderr = text(&out.stderr);
        if why.is_empty() {
            // A label may hold a quote: it is doubled in the command.
            let dry = ok(&zgate(home.path(), &["cert", "init", "--dry-run"]));
            assert!(dry.contains("WITHLABEL('x'') ID(IBMUSER')"), "{dry}");
            continue;
        }
        assert_eq!(out.status.code(), Some(64), "{extra}: {stderr}");
        assert!(stderr.contains(why), "{extra}: {stderr}");
        assert!(!home.path().join("esm.db").exists());
    }
    let home = tempfile::tempdir().unwrap();
    let out = zgate(
        home.path(),
        &[
            "--set",
            "zowe.setup.certificate.type=JCERACFKS",
            "--set",
            "zowe.setup.certificate.keyring.name=Ring) ID(IBMUSER",
            "cert",
            "init",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());

    // --as takes a user id; a blank is not trimmed into another one.
    let home = ring_home("");
    let out = zgate(home.path(), &["cert", "init", "--as", "BOB "]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--as BOB"),
        "{}",
        text(&out.stderr)
    );

    // A dry run is for key rings: a PKCS12 set-up says so and makes nothing.
    let home = tempfile::tempdir().unwrap();
    let out = zgate(home.path(), &["cert", "init", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("key ring set-up"),
        "{}",
        text(&out.stderr)
    );
    assert!(!home.path().join("keystore").exists());
}

#[test]
fn a_failing_command_stops_the_setup_and_leaves_the_configuration() {
    // The ring owner is not defined to the ESM: the first command fails.
    let home = ring_home("");
    let before = std::fs::read(home.path().join("zgate.yaml")).unwrap();
    let out = zgate(home.path(), &["cert", "init"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("command 1 of 15 failed: RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)"),
        "{stderr}"
    );
    assert!(stderr.contains("zgate.yaml was not changed"), "{stderr}");
    assert!(text(&out.stdout).contains("[1/15] RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)"));
    assert_eq!(
        std::fs::read(home.path().join("zgate.yaml")).unwrap(),
        before
    );
}

fn define_users(home: &Path, users: &[&str]) {
    for user in users {
        ok(&zgate(
            home,
            &["esm", &format!("ADDUSER {user} NOPASSWORD")],
        ));
    }
}

fn listring(home: &Path) -> String {
    ok(&zgate(
        home,
        &["esm", "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)"],
    ))
}

/// What every scenario leaves: zgate.yaml names the ring, and the server's
/// user may read it through its RDATALIB profile.
fn assert_configured_ring(home: &Path, alias: &str, cas: &[&str]) {
    let loaded = zgate_config::load(&LoadOptions {
        home: home.to_path_buf(),
        zowe_yaml: None,
        overrides: Vec::new(),
    })
    .unwrap();
    let certificate = &loaded.config.certificate;
    assert_eq!(
        certificate.keystore.location,
        KeystoreLocation::Ring {
            owner: "ZWESVUSR".into(),
            ring: "ZoweKeyring".into(),
            label: Some(alias.into()),
        }
    );
    assert_eq!(certificate.keystore.store_type, "JCERACFKS");
    assert_eq!(certificate.keystore.password.expose(), "password");
    assert_eq!(
        certificate.truststore.location.ring_name().unwrap().url(),
        "safkeyring://ZWESVUSR/ZoweKeyring"
    );
    let urls: Vec<String> = certificate
        .pem_certificate_authorities_in_rings
        .iter()
        .map(|ca| ca.url())
        .collect();
    assert_eq!(urls, cas);
    let out = zgate(
        home,
        &[
            "esm",
            "check",
            "ZWESVUSR",
            "RDATALIB",
            "ZWESVUSR.ZOWEKEYRING.LST",
            "CONTROL",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn option_1_makes_a_local_ca_and_a_server_certificate_in_the_ring() {
    let home = ring_home("");
    define_users(home.path(), &["ZWESVUSR"]);
    let stdout = ok(&zgate(home.path(), &["cert", "init"]));
    assert!(
        stdout.contains("[1/15] RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)"),
        "{stdout}"
    );
    assert!(stdout.contains("Updated zowe.certificate in"), "{stdout}");
    assert_configured_ring(
        home.path(),
        "localhost",
        &["safkeyring://ZWESVUSR/ZoweKeyring&localca"],
    );
    let ring = listring(home.path());
    let rows: Vec<Vec<&str>> = ring
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 4)
        .collect();
    assert!(
        rows.contains(&vec!["localca", "CERTAUTH", "CERTAUTH", "NO"]),
        "{ring}"
    );
    assert!(
        rows.contains(&vec!["localhost", "ID(ZWESVUSR)", "PERSONAL", "YES"]),
        "{ring}"
    );

    // Again: the ring exists, so the first command fails.
    let out = zgate(home.path(), &["cert", "init"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("command 1 of 15 failed"));
    // --force removes it first and makes it again.
    let stdout = ok(&zgate(home.path(), &["cert", "init", "--force"]));
    assert!(
        stdout.contains("RACDCERT DELRING(ZoweKeyring) ID(ZWESVUSR)"),
        "{stdout}"
    );
    assert!(listring(home.path()).contains("localhost"));
}

#[test]
fn option_2_connects_an_existing_certificate() {
    let home =
        ring_home("        connect:\n          user: CERTUSR\n          label: Existing Cert\n");
    define_users(home.path(), &["ZWESVUSR", "CERTUSR"]);
    ok(&zgate(
        home.path(),
        &[
            "esm",
            "RACDCERT GENCERT ID(CERTUSR) SUBJECTSDN(CN('zowe.example.com')) WITHLABEL('Existing Cert')",
        ],
    ));
    let stdout = ok(&zgate(home.path(), &["cert", "init"]));
    assert!(
        stdout.contains("RACDCERT CONNECT(ID(CERTUSR) LABEL('Existing Cert') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)"),
        "{stdout}"
    );
    assert!(!stdout.contains("GENCERT"), "{stdout}");
    assert_configured_ring(home.path(), "Existing Cert", &[]);
    let ring = listring(home.path());
    assert!(
        ring.lines().any(|l| l.starts_with("  Existing Cert")
            && l.contains("PERSONAL")
            && l.trim_end().ends_with("YES")),
        "{ring}"
    );
}

#[test]
fn option_3_imports_a_pkcs12_package_made_by_openssl() {
    let work = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(work.path())
            .output()
            .expect("openssl is required by this test");
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-subj",
        "/CN=zowe.example.com",
        "-days",
        "30",
    ]);
    run(&[
        "pkcs12",
        "-export",
        "-in",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-out",
        "zowe.p12",
        "-passout",
        "pass:p12 pass",
        "-name",
        "zowe",
    ]);
    let p12 = work.path().join("zowe.p12");
    let home = ring_home(&format!(
        "        import:\n          dsName: {}\n          password: p12 pass\n",
        p12.display()
    ));
    define_users(home.path(), &["ZWESVUSR"]);
    let stdout = ok(&zgate(home.path(), &["cert", "init"]));
    assert!(
        stdout.contains(&format!(
            "RACDCERT ADD('{}') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('********') TRUST",
            p12.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("p12 pass"), "the password is never echoed");
    assert_configured_ring(home.path(), "localhost", &[]);
    let ring = listring(home.path());
    assert!(
        ring.lines()
            .any(|l| l.starts_with("  localhost") && l.contains("PERSONAL")),
        "{ring}"
    );
}
