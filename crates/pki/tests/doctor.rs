//! The doctor catches each problem of the spec, with its fix, and passes a
//! fresh `cert init`. Broken certificates are made with openssl; expiry uses
//! the injected clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use zgate_pki as pki;
use zgate_pki::{Check, Status};

fn doctor_for(report: &pki::InitReport, tweak: impl FnOnce(&mut pki::DoctorParams)) -> Vec<Check> {
    let mut params = pki::DoctorParams::new(SystemTime::now());
    params.keystore = Some(keystore_params(report));
    params.truststore = Some(truststore_params(report));
    params.hostnames = vec!["localhost".into(), "127.0.0.1".into()];
    tweak(&mut params);
    pki::doctor(&params)
}

/// The first check with `id` and `status`; its fix must mention `fix_has`.
fn expect<'a>(checks: &'a [Check], id: &str, status: Status, fix_has: &str) -> &'a Check {
    let found = checks
        .iter()
        .find(|c| c.id == id && c.status == status)
        .unwrap_or_else(|| panic!("no {id} {status:?} in {checks:#?}"));
    if status != Status::Ok {
        let fix = found.fix.as_deref().unwrap_or_default();
        assert!(
            fix.contains(fix_has),
            "fix of {id} should mention `{fix_has}`: {found:#?}"
        );
        assert!(
            fix.ends_with(|c: char| c.is_alphanumeric() || c == ')' || c == '`'),
            "one sentence: {fix}"
        );
    }
    found
}

fn summary(checks: &[Check]) -> (usize, usize) {
    (
        checks.iter().filter(|c| c.status == Status::Warn).count(),
        checks.iter().filter(|c| c.status == Status::Fail).count(),
    )
}

#[test]
fn a_fresh_init_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let checks = doctor_for(&report, |_| {});
    assert_eq!(summary(&checks), (0, 0), "{checks:#?}");
    for id in [
        "truststore.open",
        "keystore.open",
        "keystore.alias",
        "keystore.key_matches",
        "chain.trusted",
        "cert.validity",
        "cert.hostname",
        "cert.eku",
        "cert.key_size",
        "cert.signature",
        "jwt.algorithm",
    ] {
        expect(&checks, id, Status::Ok, "");
    }
    assert!(!pki::doctor::any_failed(&checks));
}

#[test]
fn wrong_passwords_fail_and_name_the_setting_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let checks = doctor_for(&report, |p| {
        p.keystore = Some(pki::KeystoreParams::Pkcs12 {
            file: report.keystore.clone(),
            password: pki::Secret::new("wrong"),
            alias: Some("localhost".into()),
        });
        p.truststore = Some(pki::TruststoreParams::Pkcs12 {
            file: report.truststore.clone(),
            password: pki::Secret::new("wrong"),
        });
    });
    expect(
        &checks,
        "keystore.open",
        Status::Fail,
        "set zowe.certificate.keystore.password",
    );
    expect(
        &checks,
        "truststore.open",
        Status::Fail,
        "set zowe.certificate.truststore.password",
    );
    assert!(pki::doctor::any_failed(&checks));
}

#[test]
fn missing_alias_or_alias_without_key_fails_and_lists_key_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    for (alias, message) in [
        ("nosuch", "not a private key entry"),
        ("local_ca", "only a trusted certificate"),
    ] {
        let checks = doctor_for(&report, |p| {
            p.keystore = Some(pki::KeystoreParams::Pkcs12 {
                file: report.keystore.clone(),
                password: pki::Secret::new("password"),
                alias: Some(alias.into()),
            })
        });
        let check = expect(
            &checks,
            "keystore.alias",
            Status::Fail,
            "keystore.alias to one of: localhost",
        );
        assert!(check.message.contains(message), "{check:?}");
    }
}

#[test]
fn key_not_matching_the_certificate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let a = init_in(&dir.path().join("a"));
    let b = init_in(&dir.path().join("b"));
    // PEM: B's key with A's certificate.
    let checks = doctor_for(&a, |p| {
        p.keystore = Some(pki::KeystoreParams::Pem {
            key: b.key_pem.clone(),
            certificate: a.cert_pem.clone(),
        })
    });
    expect(
        &checks,
        "keystore.key_matches",
        Status::Fail,
        "zgate cert import --key",
    );
    // PKCS12 holding a mismatched pair (written through the store API, as no
    // tool will write one).
    let store_a = pki::Keystore::read_pkcs12(&a.keystore, &pki::Secret::new("password")).unwrap();
    let store_b = pki::Keystore::read_pkcs12(&b.keystore, &pki::Secret::new("password")).unwrap();
    let mixed = pki::Keystore {
        keys: vec![pki::KeyEntry {
            alias: "localhost".into(),
            key: store_b.keys[0].key.clone(),
            chain: store_a.keys[0].chain.clone(),
        }],
        trusted: Vec::new(),
    };
    let file = dir.path().join("mixed.p12");
    std::fs::write(
        &file,
        mixed
            .to_pkcs12(&pki::Secret::new("password"), pki::Pkcs12Encoding::Modern)
            .unwrap(),
    )
    .unwrap();
    let checks = doctor_for(&a, |p| {
        p.keystore = Some(pki::KeystoreParams::Pkcs12 {
            file: file.clone(),
            password: pki::Secret::new("password"),
            alias: Some("localhost".into()),
        })
    });
    expect(
        &checks,
        "keystore.key_matches",
        Status::Fail,
        "certificate that was issued for it",
    );
}

#[test]
fn ca_missing_from_truststore_fails_the_chain_check() {
    let dir = tempfile::tempdir().unwrap();
    let a = init_in(&dir.path().join("a"));
    let b = init_in(&dir.path().join("b"));
    let checks = doctor_for(&a, |p| p.truststore = Some(truststore_params(&b)));
    let check = expect(
        &checks,
        "chain.trusted",
        Status::Fail,
        "import the CA certificate",
    );
    assert!(
        check
            .message
            .contains("Zowe Development Instances Certificate Authority"),
        "{check:?}"
    );
}

#[test]
fn validity_warns_before_expiry_and_fails_when_expired_or_not_yet_valid() {
    let dir = tempfile::tempdir().unwrap();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let report = init_with(dir.path(), |p| {
        p.now = start;
        p.validity_days = 90;
    });
    let day = Duration::from_secs(86_400);
    let checks = doctor_for(&report, |p| p.now = start + 80 * day);
    let check = expect(
        &checks,
        "cert.validity",
        Status::Warn,
        "renew it before 2030-06-15",
    );
    assert!(check.message.contains("expires in 10 day(s)"), "{check:?}");
    assert_eq!(summary(&checks).1, 0, "soon-expiring is a warning only");

    let checks = doctor_for(&report, |p| p.now = start + 91 * day);
    let check = expect(&checks, "cert.validity", Status::Fail, "renew it");
    assert!(check.message.contains("expired on 2030-06-15"), "{check:?}");

    let checks = doctor_for(&report, |p| p.now = start - day);
    expect(&checks, "cert.validity", Status::Fail, "clock");
}

#[test]
fn host_names_not_in_the_san_fail_with_the_option_to_add_them() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| p.sans = vec!["*.apps.example.com".into()]);
    let checks = doctor_for(&report, |p| {
        p.hostnames = vec![
            "gw.apps.example.com".into(),
            "zowe.example.com".into(),
            "10.9.9.9".into(),
            "a.b.apps.example.com".into(),
        ]
    });
    expect(&checks, "cert.hostname", Status::Ok, "");
    let fails: Vec<&Check> = checks
        .iter()
        .filter(|c| c.id == "cert.hostname" && c.status == Status::Fail)
        .collect();
    assert_eq!(fails.len(), 3, "{fails:#?}");
    assert!(fails[0]
        .fix
        .as_deref()
        .unwrap()
        .contains("--hostname zowe.example.com"));
    assert!(fails[1].fix.as_deref().unwrap().contains("--ip 10.9.9.9"));
    assert!(fails[2].message.contains("a.b.apps.example.com"));
}

/// A CA and leaf certificates made by openssl.
struct OpensslCa {
    dir: PathBuf,
    key: PathBuf,
    cert: PathBuf,
}

impl OpensslCa {
    fn new(dir: &Path) -> Self {
        let key = dir.join("ca.key");
        let cert = dir.join("ca.pem");
        run_ok(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                p(&key),
                "-out",
                p(&cert),
                "-subj",
                "/CN=Test Root CA",
                "-days",
                "365",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self {
            dir: dir.to_path_buf(),
            key,
            cert,
        }
    }

    /// A leaf with `newkey` (e.g. `rsa:2048`), `digest` (`sha256`) and extensions.
    fn leaf(
        &self,
        name: &str,
        key_args: &[&str],
        digest: &str,
        extensions: &str,
    ) -> pki::KeystoreParams {
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        let cert = self.dir.join(format!("{name}.pem"));
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(&ext, extensions).unwrap();
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-new", "-newkey"];
        args.extend_from_slice(key_args);
        args.extend([
            "-nodes",
            "-keyout",
            p(&key),
            "-out",
            p(&csr),
            "-subj",
            &subject,
        ]);
        run_ok("openssl", &args);
        run_ok(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                p(&csr),
                "-CA",
                p(&self.cert),
                "-CAkey",
                p(&self.key),
                "-CAcreateserial",
                "-days",
                "100",
                &format!("-{digest}"),
                "-extfile",
                p(&ext),
                "-out",
                p(&cert),
            ],
        );
        pki::KeystoreParams::Pem {
            key,
            certificate: cert,
        }
    }

    fn truststore(&self) -> pki::TruststoreParams {
        pki::TruststoreParams::Pem {
            files: vec![self.cert.clone()],
        }
    }

    fn doctor(&self, keystore: pki::KeystoreParams) -> Vec<Check> {
        let mut params = pki::DoctorParams::new(SystemTime::now());
        params.keystore = Some(keystore);
        params.truststore = Some(self.truststore());
        params.hostnames = vec!["localhost".into()];
        pki::doctor(&params)
    }
}

const GOOD_EXT: &str = "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n";

#[test]
fn openssl_made_certificates_are_judged_on_eku_key_size_signature_and_san() {
    let dir = tempfile::tempdir().unwrap();
    let ca = OpensslCa::new(dir.path());

    // A good one passes: the checks are not failing by default.
    let checks = ca.doctor(ca.leaf("good", &["rsa:2048"], "sha256", GOOD_EXT));
    assert_eq!(summary(&checks), (0, 0), "{checks:#?}");
    expect(&checks, "chain.trusted", Status::Ok, "");

    // serverAuth only.
    let checks = ca.doctor(ca.leaf(
        "server_only",
        &["rsa:2048"],
        "sha256",
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    ));
    let check = expect(
        &checks,
        "cert.eku",
        Status::Fail,
        "both serverAuth and clientAuth",
    );
    assert!(
        check.message.contains("serverAuth but not clientAuth"),
        "{check:?}"
    );
    // No EKU at all is fine for Zowe.
    let checks = ca.doctor(ca.leaf(
        "no_eku",
        &["rsa:2048"],
        "sha256",
        "subjectAltName=DNS:localhost\n",
    ));
    expect(&checks, "cert.eku", Status::Ok, "");

    // 1024-bit RSA.
    let checks = ca.doctor(ca.leaf("weak", &["rsa:1024"], "sha256", GOOD_EXT));
    let check = expect(&checks, "cert.key_size", Status::Fail, "2048-bit");
    assert!(check.message.contains("1024-bit"), "{check:?}");
    expect(
        &checks,
        "jwt.algorithm",
        Status::Fail,
        "RSA key of 2048 bits",
    );

    // SHA-1 signature.
    let checks = ca.doctor(ca.leaf("sha1", &["rsa:2048"], "sha1", GOOD_EXT));
    let check = expect(&checks, "cert.signature", Status::Fail, "SHA-256");
    assert!(check.message.contains("sha1WithRSAEncryption"), "{check:?}");

    // Only a CN, no SAN: warned (clients ignore the CN).
    let checks = ca.doctor(ca.leaf(
        "localhost",
        &["rsa:2048"],
        "sha256",
        "extendedKeyUsage=serverAuth,clientAuth\n",
    ));
    expect(
        &checks,
        "cert.hostname",
        Status::Warn,
        "subject alternative name",
    );

    // EC P-256 signs ES256.
    let checks = ca.doctor(ca.leaf(
        "ec",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "sha256",
        GOOD_EXT,
    ));
    assert_eq!(summary(&checks), (0, 0), "{checks:#?}");
    assert!(expect(&checks, "jwt.algorithm", Status::Ok, "")
        .message
        .contains("ES256"));
}

#[test]
fn unreadable_keystores_fail_and_z_os_keyrings_warn() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let garbage = dir.path().join("garbage.p12");
    std::fs::write(&garbage, b"this is not a keystore").unwrap();
    for (file, fix) in [
        (garbage.clone(), "convert it to PKCS12"),
        (dir.path().join("missing.p12"), "run `zgate cert init`"),
    ] {
        let checks = doctor_for(&report, |p| {
            p.keystore = Some(pki::KeystoreParams::Pkcs12 {
                file,
                password: pki::Secret::new("password"),
                alias: None,
            })
        });
        expect(&checks, "keystore.open", Status::Fail, fix);
    }
    let checks = doctor_for(&report, |p| {
        p.keystore = Some(pki::KeystoreParams::Pem {
            key: dir.path().join("missing.key"),
            certificate: report.cert_pem.clone(),
        })
    });
    expect(
        &checks,
        "keystore.open",
        Status::Fail,
        "zowe.certificate.pem.key and zowe.certificate.pem.certificate",
    );
    let checks = doctor_for(&report, |p| {
        p.keystore = Some(pki::KeystoreParams::Pkcs12 {
            file: "safkeyring:////ZWESVUSR/ZoweKeyring".into(),
            password: pki::Secret::new("password"),
            alias: Some("localhost".into()),
        })
    });
    let check = expect(&checks, "keystore.open", Status::Warn, "RACDCERT EXPORT");
    assert!(check.message.contains("z/OS keyring"));
}

/// A rustls server on `addr` for the live checks.
fn serve_on(addr: &str, config: rustls::ServerConfig) -> (tokio::runtime::Runtime, u16) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"hello\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (runtime, port)
}

#[test]
fn live_handshake_result_follows_the_verification_mode() {
    let dir = tempfile::tempdir().unwrap();
    let a = init_in(&dir.path().join("a"));
    let b = init_in(&dir.path().join("b"));
    let server =
        pki::tls::server_config(&pki::ServerTlsParams::new(keystore_params(&a), None)).unwrap();
    let (_rt, port) = serve_on("127.0.0.1:0", server);

    let live = |truststore: &pki::InitReport, target: String, verify: pki::VerifySetting| {
        let mut params = pki::DoctorParams::new(SystemTime::now());
        params.truststore = Some(truststore_params(truststore));
        params.connect = Some(target);
        params.verify = verify;
        let checks = pki::doctor(&params);
        checks
            .into_iter()
            .filter(|c| c.id.starts_with("connect."))
            .collect::<Vec<_>>()
    };

    // Trusted, right name.
    let checks = live(&a, format!("localhost:{port}"), pki::VerifySetting::Strict);
    let hs = expect(&checks, "connect.handshake", Status::Ok, "");
    assert!(hs.message.contains("TLSv1.3"), "{hs:?}");
    assert!(
        hs.message
            .contains("'Zowe Service' <- 'Zowe Development Instances Certificate Authority'"),
        "{hs:?}"
    );
    expect(&checks, "connect.strict", Status::Ok, "");
    expect(&checks, "connect.nonstrict", Status::Ok, "");
    expect(&checks, "connect.disabled", Status::Ok, "");

    // Untrusted chain: fails under STRICT and NONSTRICT, DISABLED accepts it.
    let checks = live(&b, format!("localhost:{port}"), pki::VerifySetting::Strict);
    expect(
        &checks,
        "connect.strict",
        Status::Fail,
        "import the CA that issued the server's certificate",
    );
    expect(&checks, "connect.nonstrict", Status::Fail, "import the CA");
    expect(&checks, "connect.disabled", Status::Ok, "");

    // Name not in the SAN (127.0.0.2 reaches the loopback listener only if
    // bound there): STRICT fails, NONSTRICT passes; with NONSTRICT configured
    // the STRICT result is only a warning.
    let server =
        pki::tls::server_config(&pki::ServerTlsParams::new(keystore_params(&a), None)).unwrap();
    let (_rt2, port2) = serve_on("127.0.0.2:0", server);
    let checks = live(&a, format!("127.0.0.2:{port2}"), pki::VerifySetting::Strict);
    expect(
        &checks,
        "connect.strict",
        Status::Fail,
        "add '127.0.0.2' to the server certificate's SAN",
    );
    expect(&checks, "connect.nonstrict", Status::Ok, "");
    let checks = live(
        &a,
        format!("127.0.0.2:{port2}"),
        pki::VerifySetting::NonStrict,
    );
    expect(&checks, "connect.strict", Status::Warn, "SAN");
    assert!(!pki::doctor::any_failed(&checks), "{checks:#?}");

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let checks = live(
        &a,
        format!("127.0.0.1:{closed_port}"),
        pki::VerifySetting::Strict,
    );
    expect(
        &checks,
        "connect.handshake",
        Status::Fail,
        "server is running",
    );
}

#[test]
fn chain_is_followed_through_an_intermediate_to_a_trusted_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = OpensslCa::new(dir.path());
    // root -> intermediate (made with openssl) -> leaf
    let int_dir = dir.path().join("int");
    std::fs::create_dir(&int_dir).unwrap();
    let int_key = int_dir.join("ca.key");
    let int_csr = int_dir.join("ca.csr");
    let int_cert = int_dir.join("ca.pem");
    let int_ext = int_dir.join("ca.ext");
    std::fs::write(
        &int_ext,
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    run_ok(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            p(&int_key),
            "-out",
            p(&int_csr),
            "-subj",
            "/CN=Test Intermediate CA",
        ],
    );
    run_ok(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            p(&int_csr),
            "-CA",
            p(&root.cert),
            "-CAkey",
            p(&root.key),
            "-CAcreateserial",
            "-days",
            "200",
            "-sha256",
            "-extfile",
            p(&int_ext),
            "-out",
            p(&int_cert),
        ],
    );
    let intermediate = OpensslCa {
        dir: int_dir.clone(),
        key: int_key,
        cert: int_cert.clone(),
    };
    let pki::KeystoreParams::Pem { key, certificate } =
        intermediate.leaf("svc", &["rsa:2048"], "sha256", GOOD_EXT)
    else {
        unreachable!()
    };
    let chain = dir.path().join("chain.pem");
    let mut text = std::fs::read_to_string(&certificate).unwrap();
    text.push_str(&std::fs::read_to_string(&int_cert).unwrap());
    std::fs::write(&chain, text).unwrap();
    let keystore = pki::KeystoreParams::Pem {
        key: key.clone(),
        certificate: chain,
    };

    // The truststore holds only the root: the full chain is followed.
    let checks = root.doctor(keystore.clone());
    assert_eq!(summary(&checks), (0, 0), "{checks:#?}");
    assert!(expect(&checks, "chain.trusted", Status::Ok, "")
        .message
        .contains("Test Root CA"));

    // Without the intermediate in the keystore the chain stops at the leaf's issuer.
    let leaf_only = pki::KeystoreParams::Pem { key, certificate };
    let checks = root.doctor(leaf_only);
    let check = expect(
        &checks,
        "chain.trusted",
        Status::Fail,
        "Test Intermediate CA",
    );
    assert!(check.message.contains("'svc'"), "{check:?}");

    // An openssl client verifies the chain the rustls server sends.
    let server = pki::tls::server_config(&pki::ServerTlsParams::new(keystore, None)).unwrap();
    let (_rt, port) = serve_on("127.0.0.1:0", server);
    let out = run_ok(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-verify_return_error",
            "-CAfile",
            p(&root.cert),
            "-verify_hostname",
            "localhost",
        ],
    );
    assert!(out.contains("Verification: OK"), "{out}");
}
