//! Digital certificates and key rings (RACDCERT), as Zowe's key ring
//! setup jobs use them, and applications reading a ring (R_datalib).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{location, ManualClock};
use zgate_esm::keywrap::{kek_path, KeyEncryption};
use zgate_esm::{
    AccessLevel, CertOwner, CommandErrorKind, Esm, EsmConfig, HashCost, Issuer, RingAccessError,
    RingRef, Trust, Usage,
};

fn open(home: &Path) -> Esm {
    let random = zgate_base::SystemRandom;
    let kek = KeyEncryption::load_or_create(&kek_path(home), &random).unwrap();
    Esm::open_store(
        &location(home),
        EsmConfig {
            clock: Arc::new(ManualClock::new(1_790_000_000_000)),
            hash_cost: HashCost::TEST_ONLY,
            key_encryption: Some(Arc::new(kek)),
            ..EsmConfig::default()
        },
    )
    .unwrap()
}

fn fresh() -> (common::Home, Esm) {
    let home = common::home();
    let esm = open(home.path());
    (home, esm)
}

fn op(esm: &Esm, cmd: &str) -> Vec<String> {
    match esm.run_command(&Issuer::Operator, cmd) {
        Ok(out) => out.lines,
        Err(e) => panic!("`{cmd}` failed: {e}"),
    }
}

fn as_user(esm: &Esm, user: &str, cmd: &str) -> Result<Vec<String>, zgate_esm::CommandError> {
    esm.run_command(&Issuer::User(user.into()), cmd)
        .map(|o| o.lines)
}

fn fails(esm: &Esm, cmd: &str) -> zgate_esm::CommandError {
    esm.run_command(&Issuer::Operator, cmd)
        .expect_err(&format!("`{cmd}` should fail"))
}

const OPTION_ONE: &str = "\
RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTRING) REFRESH
RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Zowe Development Instances CA') OU('API Mediation Layer') O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) +
         SIZE(2048) NOTAFTER(DATE(2030-05-01)) WITHLABEL('localca') KEYUSAGE(CERTSIGN)
RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)
RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('Zowe Service') OU('API Mediation Layer') O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) SIZE(2048) NOTAFTER(DATE(2030-05-01)) +
         WITHLABEL('localhost') KEYUSAGE(HANDSHAKE) ALTNAME(IP(10.1.2.3) DOMAIN('zowe.example.com')) SIGNWITH(CERTAUTH LABEL('localca'))
RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH
SETROPTS CLASSACT(RDATALIB) RACLIST(RDATALIB)
RDEFINE RDATALIB ZWESVUSR.ZoweKeyring.LST UACC(NONE)
PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(CONTROL)
SETROPTS RACLIST(RDATALIB) REFRESH
PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
PERMIT IRR.DIGTCERT.LIST     CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
SETROPTS RACLIST(FACILITY) REFRESH
RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)
";

const LISTRING_SAMPLE: &str = "\
Digital ring information for user ZWESVUSR:

  Ring:
       >ZoweKeyring<
  Certificate Label Name             Cert Owner     USAGE      DEFAULT
  --------------------------------   ------------   --------   -------
  localca                            CERTAUTH       CERTAUTH     NO
  localhost                          ID(ZWESVUSR)   PERSONAL     YES";

fn base_setup(esm: &Esm) {
    common::run(
        esm,
        "ADDUSER ZWESVUSR
         ADDUSER IZUSVR
         ADDUSER READER
         SETROPTS CLASSACT(FACILITY) GENERIC(FACILITY)
         RDEFINE FACILITY (IRR.DIGTCERT.ADDRING IRR.DIGTCERT.LISTRING IRR.DIGTCERT.DELRING +
           IRR.DIGTCERT.CONNECT IRR.DIGTCERT.REMOVE IRR.DIGTCERT.GENCERT IRR.DIGTCERT.ADD +
           IRR.DIGTCERT.ALTER IRR.DIGTCERT.DELETE IRR.DIGTCERT.LIST IRR.DIGTCERT.EXPORT +
           IRR.DIGTCERT.EXPORTKEY) UACC(NONE)",
    );
}

fn run_batch_as(esm: &Esm, issuer: &Issuer, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for cmd in zgate_esm::split_batch(text).unwrap() {
        match esm.run_command(issuer, &cmd.text) {
            Ok(out) => lines = out.lines,
            Err(e) => panic!("`{}` failed: {e}", cmd.text),
        }
    }
    lines
}

#[test]
fn zowe_option_one_as_the_administrator_lists_the_ring_as_racf_prints_it() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    op(&esm, "SETROPTS RACLIST(FACILITY)");
    let last = run_batch_as(&esm, &Issuer::Operator, OPTION_ONE);
    assert_eq!(last.join("\n"), LISTRING_SAMPLE);
    // The server certificate: signed by the CA (AKI), one SAN of each kind.
    let list = op(&esm, "RACDCERT LIST(LABEL('localhost')) ID(ZWESVUSR)").join("\n");
    for want in [
        "Digital certificate information for user ZWESVUSR:",
        "  Label: localhost",
        "  Status: TRUST",
        "  End Date:   2030/05/01 23:59:59",
        "       >CN=Zowe Development Instances CA.OU=API Mediation Layer.O=Zowe Sample.L=Prague.SP=Prague.C=CZ<",
        "       >CN=Zowe Service.OU=API Mediation Layer.O=Zowe Sample.L=Prague.SP=Prague.C=CZ<",
        "    IP: 10.1.2.3",
        "    Domain: zowe.example.com",
        "  Signing Algorithm: sha256RSA",
        "  Key Usage: HANDSHAKE",
        "  Key Type: RSA",
        "  Key Size: 2048",
        "  Private Key: YES",
        "  Ring Associations:",
        "    Ring Owner: ZWESVUSR",
        "       >ZoweKeyring<",
    ] {
        assert!(list.contains(want), "missing {want:?} in\n{list}");
    }
    let ca = op(&esm, "RACDCERT CERTAUTH LIST(LABEL('localca'))").join("\n");
    assert!(
        ca.contains("Digital certificate information for CERTAUTH:"),
        "{ca}"
    );
    assert!(ca.contains("Key Usage: CERTSIGN"), "{ca}");
    // The ring as the gateway reads it: RDATALIB CONTROL gives the key.
    let ring = esm
        .read_ring("ZWESVUSR", &RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap())
        .unwrap();
    assert_eq!(ring.entries.len(), 2);
    assert_eq!(ring.entries[0].label, "localca");
    assert_eq!(ring.entries[0].usage, Usage::CertAuth);
    assert!(ring.entries[0].private_key_pkcs8.is_none());
    assert_eq!(ring.entries[1].owner, CertOwner::User("ZWESVUSR".into()));
    assert!(ring.entries[1].default);
    let key = ring.entries[1].private_key_pkcs8.as_ref().unwrap();
    assert!(zgate_pki::x509::key_matches_cert(
        key,
        &rustls_pki_types::CertificateDer::from(ring.entries[1].certificate_der.clone())
    )
    .unwrap());
    let cert = openssl_text(&ring.entries[1].certificate_der);
    assert!(cert.contains("X509v3 Authority Key Identifier"), "{cert}");
    assert!(cert.contains("X509v3 Subject Key Identifier"), "{cert}");
    let ca_text = openssl_text(&ring.entries[0].certificate_der);
    assert!(ca_text.contains("CA:TRUE"), "{ca_text}");
    assert!(!ca_text.contains("Authority Key Identifier"), "{ca_text}");
}

fn openssl_text(der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.der");
    std::fs::write(&path, der).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn zowe_option_one_by_split_roles_needs_the_facility_profiles_it_names() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(
        &esm,
        "ADDUSER CERTADM
         ADDUSER SECADM SPECIAL
         PERMIT IRR.DIGTCERT.ADDRING CLASS(FACILITY) ID(CERTADM) ACCESS(UPDATE)
         PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) ID(CERTADM) ACCESS(CONTROL)
         PERMIT IRR.DIGTCERT.CONNECT CLASS(FACILITY) ID(CERTADM) ACCESS(CONTROL)
         PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(CERTADM) ACCESS(UPDATE)
         SETROPTS RACLIST(FACILITY)",
    );
    let certadm = Issuer::User("CERTADM".into());
    let secadm = Issuer::User("SECADM".into());
    for cmd in zgate_esm::split_batch(OPTION_ONE).unwrap() {
        let issuer = if cmd.text.starts_with("RACDCERT") {
            &certadm
        } else {
            &secadm
        };
        if let Err(e) = esm.run_command(issuer, &cmd.text) {
            panic!("`{}` failed: {e}", cmd.text);
        }
    }
    let listing = as_user(&esm, "ZWESVUSR", "RACDCERT LISTRING(ZoweKeyring)").unwrap();
    assert_eq!(listing.join("\n"), LISTRING_SAMPLE);
    // Without LISTRING authority (READER), refused with IRRD101I.
    let e = as_user(
        &esm,
        "READER",
        "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)",
    )
    .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::NotAuthorized);
    assert!(e.to_string().starts_with("IRRD101I"), "{e}");
}

#[test]
fn the_authority_tables_are_applied_per_owner_and_level() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(
        &esm,
        "ADDUSER ALICE
         ADDUSER BOB
         PERMIT IRR.DIGTCERT.ADDRING CLASS(FACILITY) ID(ALICE) ACCESS(READ)
         PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) ID(ALICE) ACCESS(READ)
         PERMIT IRR.DIGTCERT.CONNECT CLASS(FACILITY) ID(ALICE) ACCESS(READ)
         PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ALICE) ACCESS(READ)
         PERMIT IRR.DIGTCERT.ADDRING CLASS(FACILITY) ID(BOB) ACCESS(UPDATE)",
    );
    let denied = |user: &str, cmd: &str| {
        let e = as_user(&esm, user, cmd).unwrap_err();
        assert_eq!(e.kind, CommandErrorKind::NotAuthorized, "{cmd}: {e}");
        assert_eq!(
            e.to_string(),
            "IRRD101I You are not authorized to issue the RACDCERT command.",
            "{cmd}"
        );
    };
    // READ on ADDRING: one's own ring, not another user's.
    as_user(&esm, "ALICE", "RACDCERT ADDRING(Mine)").unwrap();
    denied("ALICE", "RACDCERT ADDRING(Yours) ID(BOB)");
    // UPDATE: another user's ring too.
    as_user(&esm, "BOB", "RACDCERT ADDRING(ForAlice) ID(ALICE)").unwrap();
    // ADDRING does not imply LISTRING.
    denied("BOB", "RACDCERT LISTRING(*)");
    // GENCERT READ: own certificate; not another user's, not CERTAUTH.
    as_user(
        &esm,
        "ALICE",
        "RACDCERT GENCERT SUBJECTSDN(CN('alice')) NISTECC WITHLABEL('a1')",
    )
    .unwrap();
    denied(
        "ALICE",
        "RACDCERT GENCERT ID(BOB) SUBJECTSDN(CN('bob')) NISTECC WITHLABEL('b1')",
    );
    denied(
        "ALICE",
        "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('ca')",
    );
    // CONNECT READ: own certificate to own ring as PERSONAL; promoting it
    // to CERTAUTH needs CONTROL on ADD as well; a CERTAUTH certificate
    // needs UPDATE; another user's ring CONTROL.
    as_user(
        &esm,
        "ALICE",
        "RACDCERT CONNECT(LABEL('a1') RING(Mine) USAGE(PERSONAL) DEFAULT)",
    )
    .unwrap();
    denied(
        "ALICE",
        "RACDCERT CONNECT(LABEL('a1') RING(Mine) USAGE(CERTAUTH))",
    );
    op(
        &esm,
        "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('ca')",
    );
    denied("ALICE", "RACDCERT CONNECT(CERTAUTH LABEL('ca') RING(Mine))");
    denied(
        "ALICE",
        "RACDCERT CONNECT(LABEL('a1') RING(ForAlice)) ID(BOB)",
    );
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.CONNECT CLASS(FACILITY) ID(ALICE) ACCESS(UPDATE)",
    );
    as_user(
        &esm,
        "ALICE",
        "RACDCERT CONNECT(CERTAUTH LABEL('ca') RING(Mine))",
    )
    .unwrap();
    let listing = as_user(&esm, "ALICE", "RACDCERT LISTRING(Mine)")
        .unwrap()
        .join("\n");
    assert!(
        listing.contains("  ca                                 CERTAUTH       CERTAUTH     NO"),
        "{listing}"
    );
    // A revoked user has no authority at all.
    op(&esm, "ALTUSER ALICE REVOKE");
    denied("ALICE", "RACDCERT LISTRING(Mine)");
    // SPECIAL bypasses.
    op(&esm, "ADDUSER BOSS SPECIAL");
    as_user(&esm, "BOSS", "RACDCERT LISTRING(Mine) ID(ALICE)").unwrap();
}

#[test]
fn zowe_option_two_connects_a_site_certificate_and_its_key_needs_gencert_control() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(
        &esm,
        "RACDCERT GENCERT SITE SUBJECTSDN(CN('site server')) NISTECC SIZE(384) WITHLABEL('Site Server')
         RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
         RACDCERT CONNECT(SITE LABEL('Site Server') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)
         PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(
        listing.contains("  Site Server                        SITE           PERSONAL     YES"),
        "{listing}"
    );
    let ring = RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap();
    // FACILITY path: the ring, but no key of a SITE certificate...
    let read = esm.read_ring("ZWESVUSR", &ring).unwrap();
    assert_eq!(read.entries.len(), 1);
    assert!(read.entries[0].private_key_pkcs8.is_none());
    // ... until CONTROL on IRR.DIGTCERT.GENCERT.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) ID(ZWESVUSR) ACCESS(CONTROL)",
    );
    let with_key = esm.read_ring("ZWESVUSR", &ring).unwrap();
    assert!(with_key.entries[0].private_key_pkcs8.is_some());
    assert_ne!(read.fingerprint, with_key.fingerprint);
    let list = op(&esm, "RACDCERT SITE LIST").join("\n");
    assert!(
        list.contains("Key Type: NIST ECC") && list.contains("Key Size: 384"),
        "{list}"
    );
    assert!(list.contains("Signing Algorithm: sha384ECDSA"), "{list}");
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_p12(dir: &Path, password: &str) -> std::path::PathBuf {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/C=US/O=ACME/CN=ACME Root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/C=US/O=ACME/CN=zowe.acme.com",
        ],
        dir,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "77",
            "-days",
            "30",
            "-out",
            "srv.pem",
        ],
        dir,
    );
    let pass = format!("pass:{password}");
    openssl(
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "srv.key",
            "-in",
            "srv.pem",
            "-certfile",
            "ca.pem",
            "-name",
            "server",
            "-out",
            "srv.p12",
            "-passout",
            &pass,
        ],
        dir,
    );
    dir.join("srv.p12")
}

#[test]
fn zowe_option_three_adds_a_pkcs12_and_its_ca_goes_under_certauth_unconnected() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    let tmp = tempfile::tempdir().unwrap();
    let p12 = make_p12(tmp.path(), "Imp0rt-Pw");
    common::run(
        &esm,
        &format!(
            "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
             RACDCERT ADD('{}') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('Imp0rt-Pw') TRUST
             RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)",
            p12.display()
        ),
    );
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)");
    assert_eq!(listing.len(), 7, "{listing:?}");
    let ca = op(&esm, "RACDCERT CERTAUTH LIST").join("\n");
    assert!(
        ca.contains("Label: LABEL00000001") && ca.contains(">CN=ACME Root.O=ACME.C=US<"),
        "{ca}"
    );
    assert!(!ca.contains("Ring Associations"), "{ca}");
    // The same certificate again, under another label or owner: refused.
    let again = fails(
        &esm,
        &format!(
            "RACDCERT ADD('{}') ID(IZUSVR) WITHLABEL('copy') PASSWORD('Imp0rt-Pw')",
            p12.display()
        ),
    );
    assert_eq!(again.kind, CommandErrorKind::Duplicate);
    assert!(again.to_string().starts_with("IRRD111I"), "{again}");
    // A wrong password reads nothing and stores nothing.
    let before = esm.dump_store().unwrap();
    let wrong = fails(
        &esm,
        &format!(
            "RACDCERT ADD('{}') ID(IZUSVR) WITHLABEL('x') PASSWORD('nope')",
            p12.display()
        ),
    );
    assert_eq!(wrong.kind, CommandErrorKind::Invalid, "{wrong}");
    assert_eq!(esm.dump_store().unwrap(), before);
    // A PEM certificate adds without a key, under the status given.
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "o.key",
            "-out",
            "srv.pem",
            "-days",
            "3",
            "-subj",
            "/CN=other",
        ],
        tmp.path(),
    );
    op(
        &esm,
        &format!(
            "RACDCERT ADD('{}') ID(IZUSVR) WITHLABEL('server pem') NOTRUST",
            tmp.path().join("srv.pem").display()
        ),
    );
    let e = fails(
        &esm,
        &format!(
            "RACDCERT ADD('{}') ID(IZUSVR)",
            tmp.path().join("srv.pem").display()
        ),
    );
    assert_eq!(e.kind, CommandErrorKind::Duplicate);
    let _ = before;
}

#[test]
fn zwenokrr_cleanup_removes_the_ring_and_certificates_but_not_others() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    op(&esm, "SETROPTS RACLIST(FACILITY)");
    run_batch_as(&esm, &Issuer::Operator, OPTION_ONE);
    common::run(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) DELETE ID(ZWESVUSR)
         RDELETE RDATALIB ZWESVUSR.ZoweKeyring.LST
         RACDCERT DELETE(LABEL('localhost')) ID(ZWESVUSR)
         RACDCERT DELETE(LABEL('localca')) CERTAUTH
         RACDCERT DELRING(ZoweKeyring) ID(ZWESVUSR)
         SETROPTS RACLIST(DIGTCERT,DIGTRING,RDATALIB,FACILITY) REFRESH",
    );
    let e = fails(&esm, "RACDCERT LISTRING(*) ID(ZWESVUSR)");
    assert_eq!(e.to_string(), "IRRD115I User ZWESVUSR has no rings.");
    assert_eq!(
        op(&esm, "RACDCERT LIST ID(ZWESVUSR)"),
        ["No certificate information was found."]
    );
    assert!(matches!(
        esm.read_ring("ZWESVUSR", &RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap()),
        Err(RingAccessError::NoSuchRing { .. }) | Err(RingAccessError::NotAuthorized { .. })
    ));
}

#[test]
fn every_message_of_the_functions_is_given_where_racf_gives_it() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(
        &esm,
        "RACDCERT ADDRING(Ring1) ID(ZWESVUSR)
         RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('ca')",
    );
    let tmp = tempfile::tempdir().unwrap();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "3",
            "-subj",
            "/CN=nokey",
        ],
        tmp.path(),
    );
    op(
        &esm,
        &format!(
            "RACDCERT ADD('{}') CERTAUTH WITHLABEL('nokey')",
            tmp.path().join("c.pem").display()
        ),
    );
    for (cmd, id) in [
        ("RACDCERT CONNECT(CERTAUTH LABEL('ca') RING(Nope)) ID(ZWESVUSR)", "IRRD114I Ring Nope does not exist."),
        ("RACDCERT LISTRING(Nope) ID(ZWESVUSR)", "IRRD114I Ring Nope does not exist."),
        ("RACDCERT LISTRING(*) ID(IZUSVR)", "IRRD115I User IZUSVR has no rings."),
        ("RACDCERT REMOVE(CERTAUTH LABEL('ca') RING(Ring1)) ID(ZWESVUSR)", "IRRD116I Label ca does not exist in ring Ring1 for user ZWESVUSR"),
        ("RACDCERT ADDRING(R) CERTAUTH", "IRRD120I Incorrect use of CERTAUTH. A Certificate Authority cannot own a key ring."),
        ("RACDCERT ADDRING(R) SITE", "IRRD120I Incorrect use of SITE. A Site Certificate cannot own a key ring."),
        ("RACDCERT CONNECT(CERTAUTH LABEL('ca')) ID(ZWESVUSR)", "IRRD121I A ring name and label name must be specified."),
        ("RACDCERT CONNECT(CERTAUTH RING(Ring1)) ID(ZWESVUSR)", "IRRD121I A ring name and label name must be specified."),
        ("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC SIGNWITH(CERTAUTH LABEL('nokey'))", "IRRD128I GENCERT requires a certificate with an associated private key. The request is not processed."),
        ("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC NOTBEFORE(DATE(2030-01-02)) NOTAFTER(DATE(2030-01-01))", "IRRD133I The NOTBEFORE value must be earlier than the NOTAFTER value."),
        ("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC KEYUSAGE(DATAENCRYPT)", "IRRD156I Keyusage is incompatible with Key algorithm."),
        ("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) SIZE(1024) KEYUSAGE(KEYAGREE)", "IRRD156I Keyusage is incompatible with Key algorithm."),
        ("RACDCERT ADDRING(Ring1) ID(ZWESVUSR)", "IRRD190I Ring Ring1 already exists for user ZWESVUSR."),
        ("RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('ca')", "IRRD107I Label 'ca' is already in use for CERTAUTH."),
        ("RACDCERT DELETE(LABEL('gone')) CERTAUTH", "IRRD104I Certificate with label 'gone' not found for CERTAUTH."),
        ("RACDCERT EXPORT(LABEL('nokey')) CERTAUTH DSN('/tmp/zgate-never.p12') FORMAT(PKCS12DER) PASSWORD('secret-pw')", "IRRD128I EXPORT requires a certificate with an associated private key. The request is not processed."),
    ] {
        let e = fails(&esm, cmd);
        assert_eq!(e.to_string(), id, "{cmd}");
    }
    assert!(!Path::new("/tmp/zgate-never.p12").exists());
    for cmd in [
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) ICSF",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) PCICC",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) PKDS(LABEL)",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) TOKEN(TKN1)",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) DSA",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) BPECC",
    ] {
        let e = fails(&esm, cmd);
        assert_eq!(e.kind, CommandErrorKind::NotSupported, "{cmd}: {e}");
        assert!(e.to_string().contains("not supported"), "{e}");
    }
    // Not authorized: IRRD101I (a user with no FACILITY access).
    let e = as_user(&esm, "READER", "RACDCERT ADDRING(Mine)").unwrap_err();
    assert!(e.to_string().starts_with("IRRD101I"));
    // Generated labels count from LABEL00000001.
    op(
        &esm,
        "RACDCERT GENCERT ID(IZUSVR) SUBJECTSDN(CN('z')) NISTECC",
    );
    op(
        &esm,
        "RACDCERT GENCERT ID(IZUSVR) SUBJECTSDN(CN('z2')) NISTECC",
    );
    let list = op(&esm, "RACDCERT LIST ID(IZUSVR)").join("\n");
    assert!(
        list.contains("Label: LABEL00000001") && list.contains("Label: LABEL00000002"),
        "{list}"
    );
}

#[test]
fn labels_are_byte_exact_and_ring_names_case_sensitive_and_hostile_names_are_refused() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(
        &esm,
        "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
         RACDCERT ADDRING(zowekeyring) ID(ZWESVUSR)
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('My Label')
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('b')) NISTECC WITHLABEL('my label')
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('c')) NISTECC WITHLABEL('My Label ')",
    );
    op(
        &esm,
        "RACDCERT CONNECT(LABEL('My Label') RING(zowekeyring)) ID(ZWESVUSR)",
    );
    let upper = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(upper.contains("No certificates connected"), "{upper}");
    let lower = op(&esm, "RACDCERT LISTRING(zowekeyring) ID(ZWESVUSR)").join("\n");
    assert!(lower.contains("  My Label      "), "{lower}");
    let e = fails(
        &esm,
        "RACDCERT CONNECT(LABEL('MY LABEL') RING(zowekeyring)) ID(ZWESVUSR)",
    );
    assert_eq!(e.kind, CommandErrorKind::NotFound);
    let before = esm.dump_store().unwrap();
    let long_label = "x".repeat(33);
    let long_ring = "r".repeat(238);
    for cmd in [
        format!("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('{long_label}')"),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('a\tb')".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('a\u{1b}[2Jb')".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('   ')".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('')".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('unbalanced)".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a\u{0}b')) NISTECC WITHLABEL('nul')".into(),
        format!("RACDCERT ADDRING({long_ring}) ID(ZWESVUSR)"),
        "RACDCERT ADDRING('a b') ID(ZWESVUSR)".into(),
        "RACDCERT ADDRING('a\u{7}') ID(ZWESVUSR)".into(),
        "RACDCERT ADDRING(a/b) ID(ZWESVUSR)".into(),
        "RACDCERT ADDRING(*) ID(ZWESVUSR)".into(),
        "RACDCERT ADDRING(ok) ID('ZWES VUSR')".into(),
        "RACDCERT ADDRING(ok) ID(ZWESVUSR) +".into(),
        "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR) ID(IZUSVR) CERTAUTH".into(),
        "RACDCERT ADD('/dev/zero') ID(ZWESVUSR)".into(),
        "RACDCERT ADD('/nonexistent/file.pem') ID(ZWESVUSR)".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC ALTNAME(IP(1.2.3.4) IP(5.6.7.8))".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC ALTNAME(DOMAIN('a b'))".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a') C('CZE')) NISTECC".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NOTAFTER(DATE(2030-13-01)) NISTECC".into(),
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) SIZE(99999)".into(),
    ] {
        assert!(esm.run_command(&Issuer::Operator, &cmd).is_err(), "accepted: {cmd:?}");
    }
    // A label of exactly 32 and a ring of exactly 237 characters are fine;
    // quotes inside a quoted label are byte-exact.
    op(
        &esm,
        &format!(
            "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('a')) NISTECC WITHLABEL('{}')",
            "y".repeat(32)
        ),
    );
    op(
        &esm,
        &format!("RACDCERT ADDRING({}) ID(ZWESVUSR)", "r".repeat(237)),
    );
    op(
        &esm,
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('q')) NISTECC WITHLABEL('it''s +')",
    );
    let list = op(&esm, "RACDCERT LIST(LABEL('it''s +')) ID(ZWESVUSR)").join("\n");
    assert!(list.contains("  Label: it's +"), "{list}");
    assert_ne!(esm.dump_store().unwrap(), before);
}

#[test]
fn a_failing_gencert_in_a_transaction_leaves_nothing() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    let before = esm.dump_store().unwrap();
    let err = esm
        .run_atomic(
            &Issuer::Operator,
            &[
                "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)",
                "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('localca')",
                "RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)",
                "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC NOTBEFORE(DATE(2031-01-01)) NOTAFTER(DATE(2030-01-01))",
            ],
        )
        .unwrap_err();
    assert_eq!(err.0, 3);
    assert!(err.1.to_string().starts_with("IRRD133I"));
    assert_eq!(esm.dump_store().unwrap(), before);
}

fn rdatalib_setup(esm: &Esm) {
    common::run(
        esm,
        "ADDUSER OTHER
         RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
         RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('ca')) NISTECC WITHLABEL('localca')
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('srv')) NISTECC WITHLABEL('localhost') SIGNWITH(CERTAUTH LABEL('localca'))
         RACDCERT GENCERT ID(OTHER) SUBJECTSDN(CN('other')) NISTECC WITHLABEL('theirs')
         RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)
         RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) DEFAULT) ID(ZWESVUSR)
         RACDCERT CONNECT(ID(OTHER) LABEL('theirs') RING(ZoweKeyring)) ID(ZWESVUSR)
         RACDCERT ALTER(LABEL('theirs')) ID(OTHER) NOTRUST",
    );
}

#[test]
fn read_ring_takes_rdatalib_when_a_profile_covers_it_and_facility_otherwise() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    rdatalib_setup(&esm);
    let ring = RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap();
    // No RDATALIB profile and no FACILITY access: refused, naming LISTRING.
    match esm.read_ring("ZWESVUSR", &ring) {
        Err(RingAccessError::NotAuthorized {
            resource,
            class,
            needed,
            ..
        }) => {
            assert_eq!(
                (resource.as_str(), class.as_str(), needed),
                ("IRR.DIGTCERT.LISTRING", "FACILITY", AccessLevel::Read)
            );
        }
        other => panic!("{other:?}"),
    }
    // FACILITY READ: the ring; own key only; NOTRUST entries flagged.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let read = esm.read_ring("ZWESVUSR", &ring).unwrap();
    let labels: Vec<_> = read.entries.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["localca", "localhost", "theirs"]);
    assert!(read.entries[1].private_key_pkcs8.is_some());
    assert!(read.entries[2].private_key_pkcs8.is_none());
    assert_eq!(read.entries[2].trust, Trust::NoTrust);
    // Another user's ring needs UPDATE on the FACILITY path.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(READER) ACCESS(READ)",
    );
    assert!(matches!(
        esm.read_ring("READER", &ring),
        Err(RingAccessError::NotAuthorized {
            needed: AccessLevel::Update,
            ..
        })
    ));
    // RDATALIB active, RACLISTed, a profile covers it: FACILITY no longer
    // counts, and READER without access is told which profile to PERMIT.
    common::run(
        &esm,
        "SETROPTS CLASSACT(RDATALIB) RACLIST(RDATALIB)
         RDEFINE RDATALIB ZWESVUSR.ZoweKeyring.LST UACC(NONE)
         PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(READ)
         SETROPTS RACLIST(RDATALIB) REFRESH",
    );
    let e = esm.read_ring("READER", &ring).unwrap_err();
    match &e {
        RingAccessError::NotAuthorized {
            resource,
            class,
            needed,
            caller,
        } => {
            assert_eq!(resource, "ZWESVUSR.ZOWEKEYRING.LST");
            assert_eq!(class, "RDATALIB");
            assert_eq!(*needed, AccessLevel::Read);
            assert_eq!(caller, "READER");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .contains("PERMIT ZWESVUSR.ZOWEKEYRING.LST CLASS(RDATALIB) ID(READER) ACCESS(READ)"),
        "{e}"
    );
    // READ: own keys; UPDATE: others' PERSONAL keys too.
    let read = esm.read_ring("ZWESVUSR", &ring).unwrap();
    assert!(read.entries[1].private_key_pkcs8.is_some());
    assert!(read.entries[2].private_key_pkcs8.is_none());
    common::run(
        &esm,
        "PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(UPDATE)
         SETROPTS RACLIST(RDATALIB) REFRESH",
    );
    let update = esm.read_ring("ZWESVUSR", &ring).unwrap();
    assert!(update.entries[2].private_key_pkcs8.is_some());
    assert!(
        update.entries[0].private_key_pkcs8.is_none(),
        "CERTAUTH usage: never a key"
    );
    // The fingerprint follows changes of a member.
    let f1 = update.fingerprint;
    op(&esm, "RACDCERT ALTER(LABEL('theirs')) ID(OTHER) TRUST");
    assert_ne!(esm.read_ring("ZWESVUSR", &ring).unwrap().fingerprint, f1);
    // Unknown ring (once authorized): IRRD114I.
    common::run(
        &esm,
        "RDEFINE RDATALIB ZWESVUSR.** UACC(NONE)
         PERMIT ZWESVUSR.** CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(READ)
         SETROPTS GENERIC(RDATALIB) RACLIST(RDATALIB) REFRESH",
    );
    let e = esm
        .read_ring(
            "ZWESVUSR",
            &RingRef::parse("ZWESVUSR/zowekeyring2").unwrap(),
        )
        .unwrap_err();
    assert!(matches!(e, RingAccessError::NoSuchRing { .. }), "{e:?}");
    // Virtual rings.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(READER) ACCESS(READ)",
    );
    let anchors = esm
        .read_ring("READER", &RingRef::parse("*AUTH*/*").unwrap())
        .unwrap();
    assert_eq!(anchors.entries.len(), 1);
    assert_eq!(anchors.entries[0].usage, Usage::CertAuth);
}

#[test]
fn exports_are_read_by_openssl_and_keytool_and_written_only_on_success() {
    use std::os::unix::fs::PermissionsExt;
    let (_home, esm) = fresh();
    base_setup(&esm);
    rdatalib_setup(&esm);
    let tmp = tempfile::tempdir().unwrap();
    let p12 = tmp.path().join("server.p12");
    let pem = tmp.path().join("server.pem");
    op(&esm, &format!("RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}') FORMAT(PKCS12DER) PASSWORD('Exp0rt-pw')", p12.display()));
    op(
        &esm,
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}')",
            pem.display()
        ),
    );
    assert_eq!(
        std::fs::metadata(&p12).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&p12)
        .args(["-passin", "pass:Exp0rt-pw", "-nodes", "-info"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(" = ", "=");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("PRIVATE KEY") && text.contains("subject=CN=srv"),
        "{text}"
    );
    assert!(text.contains("subject=CN=ca"), "the chain: {text}");
    let out = Command::new("keytool")
        .args([
            "-list",
            "-storetype",
            "PKCS12",
            "-storepass",
            "Exp0rt-pw",
            "-keystore",
        ])
        .arg(&p12)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(" = ", "=");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("localhost") && text.contains("PrivateKeyEntry"),
        "{text}"
    );
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .replace(" = ", "=")
        .contains("CN=srv"));
    // An existing file is never replaced.
    std::fs::write(tmp.path().join("taken.pem"), "mine").unwrap();
    let e = fails(
        &esm,
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}')",
            tmp.path().join("taken.pem").display()
        ),
    );
    assert!(e.to_string().starts_with("IRRD193I"), "{e}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("taken.pem")).unwrap(),
        "mine"
    );
    // PKCS#7 of the certificate and its chain.
    let p7 = tmp.path().join("chain.p7b");
    op(
        &esm,
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}') FORMAT(PKCS7B64)",
            p7.display()
        ),
    );
    let out = Command::new("openssl")
        .args(["pkcs7", "-print_certs", "-noout", "-in"])
        .arg(&p7)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(" = ", "=");
    assert!(
        out.status.success() && text.contains("CN=srv") && text.contains("CN=ca"),
        "{text}"
    );
    // EXPORTKEY: READ on EXPORT is not enough for a PKCS#12.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.EXPORT CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let denied = tmp.path().join("denied.p12");
    let e = as_user(
        &esm,
        "ZWESVUSR",
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) DSN('{}') FORMAT(PKCS12DER) PASSWORD('Exp0rt-pw')",
            denied.display()
        ),
    )
    .unwrap_err();
    assert_eq!(e.kind, CommandErrorKind::NotAuthorized);
    assert!(!denied.exists());
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.EXPORTKEY CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    as_user(
        &esm,
        "ZWESVUSR",
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) DSN('{}') FORMAT(PKCS12B64) PASSWORD('Exp0rt-pw')",
            denied.display()
        ),
    )
    .unwrap();
    assert!(denied.exists());
    // A batch that fails after an EXPORT writes no file.
    let never = tmp.path().join("never.pem");
    let _ = esm
        .run_atomic(
            &Issuer::Operator,
            &[
                format!(
                    "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}')",
                    never.display()
                ),
                "RACDCERT LISTRING(Nope) ID(ZWESVUSR)".into(),
            ],
        )
        .unwrap_err();
    assert!(!never.exists());
    // CHECKCERT reads a file and says where it is defined.
    let check = op(&esm, &format!("RACDCERT CHECKCERT('{}')", pem.display())).join("\n");
    assert!(
        check.contains("Defined to RACF: label 'localhost' for ID(ZWESVUSR)"),
        "{check}"
    );
    let check = op(
        &esm,
        &format!(
            "RACDCERT CHECKCERT('{}') PASSWORD('Exp0rt-pw')",
            p12.display()
        ),
    )
    .join("\n");
    assert!(check.contains("private key"), "{check}");
}

#[test]
fn private_keys_are_stored_sealed_and_a_rotation_reseals_them() {
    let (home, esm) = fresh();
    base_setup(&esm);
    rdatalib_setup(&esm);
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let ring = RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap();
    let key = esm.read_ring("ZWESVUSR", &ring).unwrap().entries[1]
        .private_key_pkcs8
        .clone()
        .unwrap();
    let dump = esm.dump_store().unwrap().join("\n");
    let raw_hex = hex_of(&key);
    let raw_b64 = data_encoding_b64(&key);
    assert!(
        !dump.contains(&raw_hex) && !dump.contains(&raw_b64),
        "plaintext key in the store"
    );
    assert!(dump.contains("kek"), "the sealed key names its KEK");
    let list = op(&esm, "RACDCERT LIST ID(ZWESVUSR)").join("\n");
    assert!(!list.contains(&raw_b64) && list.contains("Private Key: YES"));
    let mode = std::fs::metadata(kek_path(home.path()))
        .unwrap()
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o600);
    // Rotation through an ESM that owns the key file.
    drop(esm);
    let esm = Esm::open_store(
        &location(home.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            key_encryption_file: Some(kek_path(home.path())),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    let old_ids = esm.key_encryption_ids();
    assert_eq!(esm.rotate_key_encryption_key().unwrap(), 3);
    let new_ids = esm.key_encryption_ids();
    assert_eq!(new_ids.len(), 1);
    assert_ne!(new_ids, old_ids);
    let file = std::fs::read_to_string(kek_path(home.path())).unwrap();
    assert!(!file.contains(&old_ids[0]), "the old key left the file");
    let again = esm.read_ring("ZWESVUSR", &ring).unwrap().entries[1]
        .private_key_pkcs8
        .clone()
        .unwrap();
    assert_eq!(*again, *key);
    // A process with only the old key cannot open the re-sealed keys.
    let stale = Esm::open_store(
        &location(home.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            key_encryption: Some(Arc::new(KeyEncryption::from_key("stale", [7; 32]))),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    assert!(matches!(
        stale.read_ring("ZWESVUSR", &ring),
        Err(RingAccessError::KeyUnavailable { .. })
    ));
}

#[test]
fn without_a_key_encryption_key_no_private_key_is_stored() {
    let home = common::home();
    let esm = Esm::open_store(
        &location(home.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap();
    common::run(&esm, "ADDUSER ZWESVUSR");
    let before = esm.dump_store().unwrap();
    let e = fails(
        &esm,
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC",
    );
    assert!(e.to_string().starts_with("IRRD192I"), "{e}");
    assert_eq!(esm.dump_store().unwrap(), before);
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn data_encoding_b64(b: &[u8]) -> String {
    data_encoding::BASE64.encode(b)
}

#[test]
fn hostile_operands_in_every_function_fail_cleanly_and_write_nothing() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    common::run(&esm, "RACDCERT ADDRING(R) ID(ZWESVUSR)");
    let before = esm.dump_store().unwrap();
    let hostile = [
        "",
        "'",
        "''",
        "(",
        ")",
        "()",
        "('a' 'b')",
        "'\u{0}'",
        "'\u{202e}x'",
        "*",
        "ID(A B)",
        "LABEL()",
        "LABEL('x') LABEL('y')",
        "RING()",
        "RING('')",
        "USAGE(ROOT)",
        "DATE(9999-99-99)",
        "DATE(-1-1-1) TIME(25:61:61)",
        "IP(999.1.1.1)",
        "CN(('a'))",
        "+",
    ];
    let templates = [
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN({h})) NISTECC",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN({h}) NISTECC",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC NOTAFTER({h})",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC ALTNAME({h})",
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('x')) NISTECC SIGNWITH({h})",
        "RACDCERT CONNECT({h}) ID(ZWESVUSR)",
        "RACDCERT REMOVE({h}) ID(ZWESVUSR)",
        "RACDCERT ADDRING({h})",
        "RACDCERT LISTRING({h}) ID(ZWESVUSR)",
        "RACDCERT DELRING({h}) ID(ZWESVUSR)",
        "RACDCERT LIST({h}) ID(ZWESVUSR)",
        "RACDCERT DELETE({h}) ID(ZWESVUSR)",
        "RACDCERT ALTER({h}) ID(ZWESVUSR) NOTRUST",
        "RACDCERT EXPORT({h}) ID(ZWESVUSR) DSN('/nonexistent/x')",
        "RACDCERT EXPORT(LABEL('x')) ID(ZWESVUSR) DSN({h})",
        "RACDCERT ADD({h}) ID(ZWESVUSR)",
        "RACDCERT CHECKCERT({h})",
        "RACDCERT {h} ID(ZWESVUSR)",
    ];
    for t in templates {
        for h in hostile {
            let cmd = t.replace("{h}", h);
            let before = esm.dump_store().unwrap();
            match esm.run_command(&Issuer::Operator, &cmd) {
                // An odd but valid value (a CN of `+`) may be accepted;
                // nothing else changes the ring set-up.
                Ok(_) => assert!(
                    cmd.contains("LIST") || cmd.contains("SUBJECTSDN("),
                    "accepted: {cmd:?}"
                ),
                Err(_) => assert_eq!(esm.dump_store().unwrap(), before, "{cmd:?}"),
            }
        }
    }
    let _ = before;
}

#[test]
fn one_default_per_ring_and_another_process_reads_the_ring_it_did_not_write() {
    let (home, esm) = fresh();
    base_setup(&esm);
    let other_process = open(home.path());
    common::run(
        &esm,
        "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('one')) NISTECC WITHLABEL('one')
         RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('two')) NISTECC WITHLABEL('two')
         RACDCERT CONNECT(ID(ZWESVUSR) LABEL('one') RING(ZoweKeyring) DEFAULT) ID(ZWESVUSR)
         RACDCERT CONNECT(ID(ZWESVUSR) LABEL('two') RING(ZoweKeyring)) ID(ZWESVUSR)
         PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(
        listing.contains("  one                                ID(ZWESVUSR)   PERSONAL     YES"),
        "{listing}"
    );
    assert!(
        listing.contains("  two                                ID(ZWESVUSR)   PERSONAL     NO"),
        "{listing}"
    );
    // A new default clears the old one.
    op(
        &esm,
        "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('two') RING(ZoweKeyring) DEFAULT) ID(ZWESVUSR)",
    );
    let ring = RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap();
    let read = esm.read_ring("ZWESVUSR", &ring).unwrap();
    let defaults: Vec<bool> = read.entries.iter().map(|e| e.default).collect();
    assert_eq!(defaults, [false, true]);
    // The other process applies the journal and reads the same ring,
    // keys included (same key file).
    other_process.reload_if_changed().unwrap();
    let there = other_process.read_ring("ZWESVUSR", &ring).unwrap();
    assert_eq!(there.fingerprint, read.fingerprint);
    assert!(there.entries[1].private_key_pkcs8.is_some());
    // REMOVE leaves the certificate; DELETE takes it out of the ring.
    op(
        &esm,
        "RACDCERT REMOVE(ID(ZWESVUSR) LABEL('one') RING(ZoweKeyring)) ID(ZWESVUSR)",
    );
    op(&esm, "RACDCERT LIST(LABEL('one')) ID(ZWESVUSR)");
    op(&esm, "RACDCERT DELETE(LABEL('two')) ID(ZWESVUSR)");
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(listing.contains("No certificates connected"), "{listing}");
    // ALTER NEWLABEL follows into the rings and keeps the key usable.
    op(
        &esm,
        "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('one') RING(ZoweKeyring) DEFAULT) ID(ZWESVUSR)",
    );
    op(
        &esm,
        "RACDCERT ALTER(LABEL('one')) ID(ZWESVUSR) NEWLABEL('renamed') HIGHTRUST",
    );
    let read = esm.read_ring("ZWESVUSR", &ring).unwrap();
    assert_eq!(read.entries[0].label, "renamed");
    assert_eq!(read.entries[0].trust, Trust::HighTrust);
    assert!(read.entries[0].private_key_pkcs8.is_some());
}

#[test]
fn a_refused_ring_read_is_recorded_as_a_check_and_commands_are_recorded_masked() {
    let home = common::home();
    let sink = Arc::new(zgate_esm::MemorySink::default());
    let esm = Esm::open_store(
        &location(home.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            audit: Some(sink.clone()),
            key_encryption: Some(Arc::new(KeyEncryption::from_key("k1", [3; 32]))),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    base_setup(&esm);
    common::run(&esm, "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)");
    let tmp = tempfile::tempdir().unwrap();
    let p12 = make_p12(tmp.path(), "Aud1t-Pw-Secret");
    common::run(&esm, "ADDUSER ADM SPECIAL\nSETROPTS SAUDIT");
    as_user(
        &esm,
        "ADM",
        &format!(
            "RACDCERT ADD('{}') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('Aud1t-Pw-Secret')",
            p12.display()
        ),
    )
    .unwrap();
    let commands = format!("{:?}", sink.records());
    assert!(commands.contains("PASSWORD(********)"), "{commands}");
    let from = sink.records().len();
    let e = esm
        .read_ring("READER", &RingRef::parse("ZWESVUSR/ZoweKeyring").unwrap())
        .unwrap_err();
    assert!(matches!(e, RingAccessError::NotAuthorized { .. }));
    let records: Vec<_> = sink.records().into_iter().skip(from).collect();
    assert!(
        records.iter().any(|r| {
            let text = serde_json::Value::Object(r.clone()).to_string();
            text.contains("IRR.DIGTCERT.LISTRING") && text.contains("READER")
        }),
        "{records:?}"
    );
    let all = format!("{:?}", sink.records());
    assert!(
        !all.contains("Aud1t-Pw-Secret"),
        "a password reached the trail"
    );
}

#[test]
fn a_package_adds_its_cas_as_trust_anchors_only_for_an_issuer_with_control() {
    let (home, esm) = fresh();
    base_setup(&esm);
    let dir = home.path().join("pkg");
    std::fs::create_dir_all(&dir).unwrap();
    let p12 = make_p12(&dir, "pw");
    // READ on ADD: the user's own certificate goes in, its CA does not.
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.ADD CLASS(FACILITY) ID(READER) ACCESS(READ)",
    );
    let lines = as_user(
        &esm,
        "READER",
        &format!(
            "RACDCERT ADD('{}') WITHLABEL('mine') PASSWORD('pw')",
            p12.display()
        ),
    )
    .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("IRRD195I 1 certificate authority")),
        "{lines:?}"
    );
    let certauth = esm
        .read_ring("ZWESVUSR", &RingRef::parse("*AUTH*/*").unwrap())
        .map(|c| c.entries.len());
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    let certauth_now = esm
        .read_ring("ZWESVUSR", &RingRef::parse("*AUTH*/*").unwrap())
        .unwrap()
        .entries;
    assert!(certauth_now.is_empty(), "{certauth:?} {certauth_now:?}");
    // CONTROL: the CA is added under CERTAUTH.
    op(&esm, "RACDCERT DELETE(LABEL('mine')) ID(READER)");
    op(
        &esm,
        "PERMIT IRR.DIGTCERT.ADD CLASS(FACILITY) ID(READER) ACCESS(CONTROL)",
    );
    as_user(
        &esm,
        "READER",
        &format!(
            "RACDCERT ADD('{}') WITHLABEL('mine') PASSWORD('pw')",
            p12.display()
        ),
    )
    .unwrap();
    let certauth_now = esm
        .read_ring("ZWESVUSR", &RingRef::parse("*AUTH*/*").unwrap())
        .unwrap()
        .entries;
    assert_eq!(certauth_now.len(), 1);
}

#[test]
fn a_notrust_certificate_logs_no_one_on() {
    let (home, esm) = fresh();
    base_setup(&esm);
    let dir = home.path().join("pkg");
    std::fs::create_dir_all(&dir).unwrap();
    let p12 = make_p12(&dir, "pw");
    op(&esm, "ADDUSER BOB");
    op(
        &esm,
        &format!(
            "RACDCERT ADD('{}') ID(BOB) WITHLABEL('bob') PASSWORD('pw')",
            p12.display()
        ),
    );
    let der = std::fs::read(dir.join("srv.pem")).unwrap();
    let der = pem_to_der(&der);
    assert_eq!(esm.map_certificate(&der).unwrap().as_deref(), Some("BOB"));
    op(&esm, "RACDCERT ALTER(LABEL('bob')) ID(BOB) NOTRUST");
    assert_eq!(esm.map_certificate(&der).unwrap(), None);
    // A name filter that would match it is not tried for a NOTRUST one.
    op(
        &esm,
        "RACDCERT MAP ID(BOB) SDNFILTER('CN=zowe.acme.com.O=ACME.C=US') WITHLABEL('f')",
    );
    assert_eq!(esm.map_certificate(&der).unwrap(), None);
    op(&esm, "RACDCERT ALTER(LABEL('bob')) ID(BOB) TRUST");
    assert_eq!(esm.map_certificate(&der).unwrap().as_deref(), Some("BOB"));
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pem);
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    data_encoding::BASE64.decode(b64.as_bytes()).unwrap()
}

#[test]
fn deluser_takes_the_users_certificates_keys_rings_and_connections_with_it() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    op(&esm, "ADDUSER BOB");
    op(
        &esm,
        "RACDCERT GENCERT ID(BOB) SUBJECTSDN(CN('bob')) WITHLABEL('bobcert')",
    );
    op(&esm, "RACDCERT ADDRING(BobRing) ID(BOB)");
    op(
        &esm,
        "RACDCERT CONNECT(ID(BOB) LABEL('bobcert') RING(BobRing)) ID(BOB)",
    );
    op(&esm, "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)");
    op(
        &esm,
        "RACDCERT CONNECT(ID(BOB) LABEL('bobcert') RING(ZoweKeyring) USAGE(PERSONAL)) ID(ZWESVUSR)",
    );
    op(&esm, "DELUSER BOB");
    // Defined again, the id inherits nothing.
    op(&esm, "ADDUSER BOB");
    let err = fails(&esm, "RACDCERT LIST(LABEL('bobcert')) ID(BOB)");
    assert_eq!(err.kind, CommandErrorKind::NotFound, "{err}");
    let err = fails(&esm, "RACDCERT LISTRING(BobRing) ID(BOB)");
    assert!(err.to_string().contains("IRRD114I"), "{err}");
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(!listing.contains("bobcert"), "{listing}");
    // A certificate of the same label for the new BOB is not connected
    // anywhere the old one was.
    op(
        &esm,
        "RACDCERT GENCERT ID(BOB) SUBJECTSDN(CN('bob2')) WITHLABEL('bobcert')",
    );
    let listing = op(&esm, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)").join("\n");
    assert!(!listing.contains("bobcert"), "{listing}");
}

#[test]
fn impossible_and_out_of_range_dates_are_refused_not_rolled_over() {
    let (_home, esm) = fresh();
    base_setup(&esm);
    for date in [
        "2030-02-31",
        "2030-04-31",
        "2029-02-29",
        "9999-06-01",
        "1969-12-31",
    ] {
        let err = fails(
            &esm,
            &format!("RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('x')) WITHLABEL('x') NOTBEFORE(DATE({date}))"),
        );
        assert!(err.to_string().contains("IRRD194I"), "{date}: {err}");
    }
    op(
        &esm,
        "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('x')) WITHLABEL('x') NOTBEFORE(DATE(2028-02-29)) NOTAFTER(DATE(9998-12-31))",
    );
}

#[test]
fn a_process_reads_keys_another_process_resealed_under_a_new_key_encryption_key() {
    let home = common::home();
    let open_with_file = || {
        Esm::open_store(
            &location(home.path()),
            EsmConfig {
                clock: Arc::new(ManualClock::new(1_790_000_000_000)),
                hash_cost: HashCost::TEST_ONLY,
                key_encryption_file: Some(kek_path(home.path())),
                ..EsmConfig::default()
            },
        )
        .unwrap()
    };
    let gateway = open_with_file();
    let admin = open_with_file();
    base_setup(&admin);
    op(
        &admin,
        "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
    );
    op(&admin, "RACDCERT ADDRING(Ring) ID(ZWESVUSR)");
    op(
        &admin,
        "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('srv')) WITHLABEL('srv')",
    );
    op(&admin, "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('srv') RING(Ring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)");
    let ring = RingRef::parse("ZWESVUSR/Ring").unwrap();
    gateway.reload_if_changed().unwrap();
    let before = gateway.read_ring("ZWESVUSR", &ring).unwrap();
    assert!(before.entries[0].private_key_pkcs8.is_some());

    assert_eq!(admin.rotate_key_encryption_key().unwrap(), 1);
    gateway.reload_if_changed().unwrap();
    let after = gateway.read_ring("ZWESVUSR", &ring).unwrap();
    assert_eq!(
        after.entries[0].private_key_pkcs8.as_deref(),
        before.entries[0].private_key_pkcs8.as_deref(),
        "the same key, opened with the key-encryption key the other process wrote"
    );
    assert_eq!(gateway.key_encryption_ids(), admin.key_encryption_ids());
}
