//! Certificate mapping (`RACDCERT`), with certificates made by the real
//! `openssl`: each step of the spec's search order, filter syntax, LISTMAP,
//! DELMAP, registering a certificate, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use zgate_esm::certmap::parse_filter;
use zgate_esm::{CommandErrorKind, Issuer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ca(dir: &Path, name: &str, subj: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subj,
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
        ],
    );
}

/// A leaf signed by `ca`; returns (PEM path, DER bytes).
fn leaf(dir: &Path, ca: &str, name: &str, subj: &str, serial: &str) -> (PathBuf, Vec<u8>) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subj,
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            serial,
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-in",
            &format!("{name}.pem"),
            "-outform",
            "der",
            "-out",
            &format!("{name}.der"),
        ],
    );
    (
        dir.join(format!("{name}.pem")),
        std::fs::read(dir.join(format!("{name}.der"))).unwrap(),
    )
}

fn ok(esm: &zgate_esm::Esm, cmd: &str) -> Vec<String> {
    esm.run_command(&Issuer::Operator, cmd)
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
        .lines
}

#[test]
fn filters_are_most_specific_rdn_first() {
    assert_eq!(
        parse_filter("CN=host.acme.com.OU=DEV.o=ACME.C=US").unwrap(),
        ["CN=host.acme.com", "OU=DEV", "O=ACME", "C=US"]
    );
    assert!(parse_filter("host.acme.com").is_err());
    assert!(parse_filter("CN=.O=ACME").is_err());
}

#[test]
fn mapping_follows_the_search_order_step_by_step() {
    let (_home, esm, _clock) = fresh();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca(d, "ca1", "/C=US/O=ACME/OU=CA/CN=ACME CA");
    ca(d, "ca2", "/C=DE/O=OTHER/CN=Other CA");
    let (alice_pem, alice) = leaf(
        d,
        "ca1",
        "alice",
        "/C=US/O=ACME/OU=DEV/CN=alice",
        "0x0A11CE",
    );
    let (_, bob) = leaf(d, "ca1", "bob", "/C=US/O=ACME/OU=OPS/CN=bob", "77");
    let (_, stranger) = leaf(d, "ca2", "x", "/C=FR/O=NOBODY/CN=x", "5");
    let (_, host) = leaf(d, "ca2", "host", "/C=US/O=ACME/CN=host.acme.com", "6");
    for u in ["U0", "U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8"] {
        ok(&esm, &format!("ADDUSER {u}"));
    }
    let s_full = "CN=alice.OU=DEV.O=ACME.C=US";
    let i_full = "CN=ACME CA.OU=CA.O=ACME.C=US";
    ok(
        &esm,
        &format!("RACDCERT MAP ID(U1) SDNFILTER('{s_full}') IDNFILTER('{i_full}') WITHLABEL('m1')"),
    );
    ok(&esm, &format!("RACDCERT MAP ID(U2) SDNFILTER('OU=DEV.O=ACME.C=US') IDNFILTER('{i_full}') WITHLABEL('m2')"));
    ok(
        &esm,
        &format!("RACDCERT MAP ID(U3) SDNFILTER('{s_full}') WITHLABEL('m3')"),
    );
    ok(
        &esm,
        "RACDCERT MAP ID(U4) SDNFILTER('O=ACME.C=US') WITHLABEL('m4')",
    );
    ok(
        &esm,
        "RACDCERT MAP ID(U8) SDNFILTER('C=US') WITHLABEL('m8')",
    );
    ok(
        &esm,
        &format!("RACDCERT MAP ID(U5) IDNFILTER('{i_full}') WITHLABEL('m5')"),
    );
    ok(
        &esm,
        "RACDCERT MAP ID(U6) IDNFILTER('O=ACME.C=US') WITHLABEL('m6')",
    );
    ok(
        &esm,
        &format!(
            "RACDCERT ID(U0) ADD('{}') WITHLABEL('alice-cert')",
            alice_pem.display()
        ),
    );
    ok(
        &esm,
        "RACDCERT MAP ID(U7) SDNFILTER('CN=host.acme.com.O=ACME.C=US') WITHLABEL('host')",
    );

    let map = |der: &[u8]| esm.map_certificate(der).unwrap();
    // bob: subject-partial (OU=OPS is not mapped) with the issuer-full → none of m1/m2;
    // subject partial O=ACME.C=US (m4) beats C=US (m8) and the issuer filters.
    assert_eq!(map(&bob).as_deref(), Some("U4"));
    assert_eq!(map(&host).as_deref(), Some("U7"), "a '.' inside a value");
    assert_eq!(map(&stranger), None);
    // alice walks down the order as each winner goes.
    let steps = [
        ("U0", "RACDCERT ID(U0) DELETE(LABEL('alice-cert'))"),
        ("U1", "RACDCERT DELMAP(LABEL('m1')) ID(U1)"),
        ("U2", "RACDCERT DELMAP(LABEL('m2'))"),
        ("U3", "RACDCERT DELMAP(LABEL('m3'))"),
        ("U4", "RACDCERT DELMAP(LABEL('m4'))"),
        ("U8", "RACDCERT DELMAP(LABEL('m8'))"),
        ("U5", "RACDCERT DELMAP(LABEL('m5'))"),
        ("U6", "RACDCERT DELMAP(LABEL('m6'))"),
    ];
    for (user, next) in steps {
        assert_eq!(map(&alice).as_deref(), Some(user), "before `{next}`");
        ok(&esm, next);
    }
    assert_eq!(map(&alice), None);
}

#[test]
fn maps_are_listed_and_deleted_and_bad_racdcert_input_writes_nothing() {
    let (home, esm, _clock) = fresh();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca(d, "ca1", "/C=US/O=ACME/CN=ACME CA");
    let (pem, der) = leaf(d, "ca1", "alice", "/C=US/O=ACME/CN=alice", "42");
    ok(&esm, "ADDUSER ALICE");
    ok(&esm, "ADDUSER BOB");
    ok(
        &esm,
        "RACDCERT MAP ID(ALICE) SDNFILTER('CN=alice.O=ACME.C=US') WITHLABEL('alice')",
    );
    let list = ok(&esm, "RACDCERT LISTMAP ID(ALICE)").join("\n");
    assert!(
        list.contains("Label: alice") && list.contains("Subject's DN filter: CN=alice.O=ACME.C=US"),
        "{list}"
    );
    assert_eq!(
        ok(&esm, "RACDCERT LISTMAP ID(BOB)"),
        ["No mapping information was found."]
    );
    // A DER file registers too.
    ok(
        &esm,
        &format!(
            "RACDCERT ID(BOB) ADD('{}') WITHLABEL('bob-der')",
            d.join("alice.der").display()
        ),
    );
    assert_eq!(esm.map_certificate(&der).unwrap().as_deref(), Some("BOB"));
    let list = ok(&esm, "RACDCERT LIST ID(BOB)").join("\n");
    // RACF's LIST layout: the serial on a line of its own.
    assert!(list.contains("  Serial Number:\n       >2A<"), "{list}");

    let junk = d.join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = d.join("text.txt");
    std::fs::write(&text, "hello, not a certificate").unwrap();
    let key = d.join("alice.key");
    let before = esm.dump_store().unwrap();
    for (cmd, kind) in [
        (
            format!(
                "RACDCERT ID(ALICE) ADD('{}') WITHLABEL('j')",
                junk.display()
            ),
            CommandErrorKind::Invalid,
        ),
        (
            format!(
                "RACDCERT ID(ALICE) ADD('{}') WITHLABEL('t')",
                text.display()
            ),
            CommandErrorKind::Invalid,
        ),
        (
            format!("RACDCERT ID(ALICE) ADD('{}') WITHLABEL('k')", key.display()),
            CommandErrorKind::Invalid,
        ),
        (
            format!(
                "RACDCERT ID(ALICE) ADD('{}') WITHLABEL('dup')",
                pem.display()
            ),
            CommandErrorKind::Duplicate,
        ),
        (
            "RACDCERT ID(ALICE) ADD('/no/such/file') WITHLABEL('n')".into(),
            CommandErrorKind::NotFound,
        ),
        (
            "RACDCERT MAP ID(ALICE) WITHLABEL('none')".into(),
            CommandErrorKind::Syntax,
        ),
        (
            "RACDCERT MAP ID(ALICE) SDNFILTER('alice') WITHLABEL('bad')".into(),
            CommandErrorKind::Invalid,
        ),
        (
            "RACDCERT MAP ID(BOB) SDNFILTER('CN=alice.O=ACME.C=US') WITHLABEL('again')".into(),
            CommandErrorKind::Duplicate,
        ),
        (
            "RACDCERT MAP ID(BOB) SDNFILTER('CN=x') WITHLABEL('alice')".into(),
            CommandErrorKind::Duplicate,
        ),
        (
            "RACDCERT MAP ID(NOSUCH) SDNFILTER('CN=x') WITHLABEL('x')".into(),
            CommandErrorKind::NotFound,
        ),
        (
            "RACDCERT MAP SDNFILTER('CN=x') WITHLABEL('x')".into(),
            CommandErrorKind::Syntax,
        ),
        (
            "RACDCERT DELMAP(LABEL('nope'))".into(),
            CommandErrorKind::NotFound,
        ),
        (
            "RACDCERT DELMAP(LABEL('alice')) ID(BOB)".into(),
            CommandErrorKind::NotFound,
        ),
        ("RACDCERT".into(), CommandErrorKind::Syntax),
    ] {
        let e = esm.run_command(&Issuer::Operator, &cmd).unwrap_err();
        assert_eq!(e.kind, kind, "{cmd}: {e}");
    }
    // Not SPECIAL: may list its own maps, not change any.
    let e = esm
        .run_command(
            &Issuer::User("ALICE".into()),
            "RACDCERT MAP ID(ALICE) SDNFILTER('CN=y') WITHLABEL('y')",
        )
        .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::NotAuthorized);
    esm.run_command(&Issuer::User("ALICE".into()), "RACDCERT LISTMAP")
        .unwrap();
    assert_eq!(esm.dump_store().unwrap(), before, "bad input wrote nothing");
    assert!(esm.map_certificate(b"not der").is_err());
    // Persisted: a new instance maps the same.
    let again = common::open(home.path());
    assert_eq!(again.map_certificate(&der).unwrap().as_deref(), Some("BOB"));
    ok(&esm, "RACDCERT DELMAP(LABEL('alice'))");
    ok(&esm, "RACDCERT MAP ID(ALICE) SDNFILTER('CN=nolabel')");
    assert!(ok(&esm, "RACDCERT LISTMAP")
        .join("\n")
        .contains("Label: LABEL00000001"));
}
