//! What zgate writes, keytool 17 and OpenSSL 3 read; what they (and Zowe's
//! own tooling) write, zgate reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::path::Path;

use common::*;
use zgate_pki as pki;

/// `keytool -list` lines of the form "alias, date, EntryType,".
fn keytool_entries(file: &Path, password: &str) -> Vec<(String, String)> {
    let text = run_ok(
        "keytool",
        &[
            "-list",
            "-keystore",
            p(file),
            "-storetype",
            "PKCS12",
            "-storepass",
            password,
        ],
    );
    let mut entries: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split(", ").collect();
            let kind = parts
                .iter()
                .find(|p| p.ends_with("Entry") || p.ends_with("Entry,"))?;
            Some((parts[0].to_string(), kind.trim_end_matches(',').to_string()))
        })
        .collect();
    entries.sort();
    entries
}

fn entries(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect()
}

fn check_layout_with_tools(report: &pki::InitReport, legacy: bool) {
    assert_eq!(
        keytool_entries(&report.keystore, "password"),
        entries(&[
            ("local_ca", "trustedCertEntry"),
            ("localhost", "PrivateKeyEntry")
        ])
    );
    assert_eq!(
        keytool_entries(&report.truststore, "password"),
        entries(&[("local_ca", "trustedCertEntry")])
    );
    assert_eq!(
        keytool_entries(&report.ca_keystore, "local_ca_password"),
        entries(&[("local_ca", "PrivateKeyEntry")])
    );
    for (file, password) in [
        (&report.keystore, "password"),
        (&report.truststore, "password"),
        (&report.ca_keystore, "local_ca_password"),
    ] {
        let pass = format!("pass:{password}");
        let mut args = vec![
            "pkcs12",
            "-in",
            p(file),
            "-passin",
            &pass,
            "-info",
            "-nodes",
            "-noout",
        ];
        if legacy {
            // OpenSSL 3 cannot read RC2-40 without the legacy provider ...
            let out = run("openssl", &args);
            assert!(
                !out.status.success(),
                "legacy file read without -legacy: {}",
                p(file)
            );
            args.push("-legacy");
        }
        let info = run_ok("openssl", &args);
        if legacy {
            assert!(info.contains("MAC: sha1"), "{info}");
            assert!(info.contains("pbeWithSHA1And40BitRC2-CBC"), "{info}");
            if file != &report.truststore {
                assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
            }
        } else {
            assert!(info.contains("MAC: sha256"), "{info}");
            assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
        }
    }
    let ca = report.ca_pem.clone();
    let out = run_ok(
        "openssl",
        &["verify", "-CAfile", p(&ca), p(&report.cert_pem)],
    );
    assert!(out.contains(": OK"), "{out}");
    let out = run_ok(
        "openssl",
        &["verify", "-CAfile", p(&report.ca_cert), p(&report.cert_pem)],
    );
    assert!(out.contains(": OK"), "{out}");
}

#[test]
fn modern_init_is_read_by_keytool_and_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    check_layout_with_tools(&report, false);
    // Layout and modes.
    assert_eq!(
        files_under(dir.path()),
        vec![
            "local_ca",
            "local_ca/local_ca.cer",
            "local_ca/local_ca.keystore.p12",
            "localhost",
            "localhost/local_ca.cer",
            "localhost/localhost.cer",
            "localhost/localhost.key",
            "localhost/localhost.keystore.p12",
            "localhost/localhost.truststore.p12",
        ]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&report.key_pem), 0o600);
    assert_eq!(mode(&report.keystore), 0o600);
    assert_eq!(mode(&report.ca_keystore), 0o600);
    let key_pem = std::fs::read_to_string(&report.key_pem).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 expected"
    );
    // openssl agrees the PEM key belongs to the certificate.
    let a = run_ok("openssl", &["pkey", "-in", p(&report.key_pem), "-pubout"]);
    let b = run_ok(
        "openssl",
        &["x509", "-in", p(&report.cert_pem), "-noout", "-pubkey"],
    );
    assert_eq!(a, b);
}

#[test]
fn legacy_init_is_read_by_keytool_and_openssl_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| p.legacy_pkcs12 = true);
    check_layout_with_tools(&report, true);
}

#[test]
fn certificate_contents_follow_zowe() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| {
        p.sans = vec!["Zowe.Example.com".into(), "10.1.2.3".into(), "::1".into()];
        p.validity_days = 100;
    });
    let text = run_ok(
        "openssl",
        &["x509", "-in", p(&report.cert_pem), "-noout", "-text"],
    );
    assert!(
        text.contains("DNS:zowe.example.com, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, DNS:localhost.localdomain, IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{text}"
    );
    assert!(
        text.contains("Digital Signature, Key Encipherment"),
        "{text}"
    );
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");
    assert!(
        text.contains("Subject: C = CZ, ST = Prague, L = Prague, O = Zowe Sample, OU = API Mediation Layer, CN = Zowe Service"),
        "{text}"
    );
    let ca = run_ok(
        "openssl",
        &["x509", "-in", p(&report.ca_cert), "-noout", "-text"],
    );
    assert!(
        ca.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{ca}"
    );
    assert!(ca.contains("Certificate Sign, CRL Sign"), "{ca}");
    assert!(
        ca.contains("CN = Zowe Development Instances Certificate Authority"),
        "{ca}"
    );
    // Validity is exactly the requested number of days from `now`.
    let info =
        pki::x509::CertInfo::parse(&pki::store::read_certs(&report.cert_pem).unwrap()[0]).unwrap();
    assert_eq!(info.not_after - info.not_before, 100 * 86_400);
}

#[test]
fn ec_key_and_extra_cas_are_stored_as_keytool_and_openssl_expect() {
    let dir = tempfile::tempdir().unwrap();
    // Two extra CAs from openssl, in one PEM file and another.
    for name in ["ext_a", "ext_b"] {
        let key = dir.path().join(format!("{name}.key"));
        let cert = dir.path().join(format!("{name}.pem"));
        run_ok(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                p(&key),
                "-out",
                p(&cert),
                "-subj",
                &format!("/CN={name}"),
                "-days",
                "30",
            ],
        );
    }
    let out = dir.path().join("out");
    let report = init_with(&out, |params| {
        params.key_type = pki::KeyType::EcP256;
        params.import_cas = vec![dir.path().join("ext_a.pem"), dir.path().join("ext_b.pem")];
    });
    assert_eq!(report.extra_ca_aliases, vec!["extca1", "extca2"]);
    assert_eq!(
        keytool_entries(&report.truststore, "password"),
        entries(&[
            ("extca1", "trustedCertEntry"),
            ("extca2", "trustedCertEntry"),
            ("local_ca", "trustedCertEntry")
        ])
    );
    assert_eq!(
        keytool_entries(&report.keystore, "password"),
        entries(&[
            ("extca1", "trustedCertEntry"),
            ("extca2", "trustedCertEntry"),
            ("local_ca", "trustedCertEntry"),
            ("localhost", "PrivateKeyEntry")
        ])
    );
    let text = run_ok(
        "openssl",
        &["x509", "-in", p(&report.cert_pem), "-noout", "-text"],
    );
    assert!(text.contains("ecdsa-with-SHA256"), "{text}");
    assert!(text.contains("NIST CURVE: P-256"), "{text}");
    run_ok(
        "openssl",
        &["verify", "-CAfile", p(&report.ca_cert), p(&report.cert_pem)],
    );
}

#[test]
fn dollar_in_password_round_trips_through_keytool_and_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| {
        p.password = pki::Secret::new("pa$$w0rd$HOME");
        p.ca_password = pki::Secret::new("ca$1$2secret");
    });
    assert_eq!(
        keytool_entries(&report.keystore, "pa$$w0rd$HOME"),
        entries(&[
            ("local_ca", "trustedCertEntry"),
            ("localhost", "PrivateKeyEntry")
        ])
    );
    keytool_entries(&report.ca_keystore, "ca$1$2secret");
    run_ok(
        "openssl",
        &[
            "pkcs12",
            "-in",
            p(&report.keystore),
            "-passin",
            "pass:pa$$w0rd$HOME",
            "-nodes",
            "-noout",
        ],
    );
    // A password cut at the `$` (what an unquoted shell does) is refused.
    let err = pki::Keystore::read_pkcs12(&report.keystore, &pki::Secret::new("pa"))
        .err()
        .unwrap();
    assert!(matches!(err, pki::PkiError::WrongPassword { .. }), "{err}");
}

fn keytool_genkeypair(file: &Path, alias: &str, password: &str, legacy: bool) {
    let mut args = vec![];
    if legacy {
        args.push("-J-Dkeystore.pkcs12.legacy");
    }
    args.extend([
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        "CN=Imported Service, OU=Test, O=Zgate, C=CZ",
        "-ext",
        "SAN=dns:imported.example.com,dns:localhost",
        "-ext",
        "EKU=serverAuth,clientAuth",
        "-validity",
        "30",
        "-keystore",
        p(file),
        "-storetype",
        "PKCS12",
        "-storepass",
        password,
        "-keypass",
        password,
    ]);
    run_ok("keytool", &args);
}

fn import_pkcs12(
    file: &Path,
    password: &str,
    alias: Option<&str>,
    out: &Path,
) -> pki::ImportReport {
    pki::import(&pki::ImportParams {
        dir: out.to_path_buf(),
        name: "localhost".into(),
        password: pki::Secret::new("password"),
        source: pki::ImportSource::Pkcs12 {
            file: file.to_path_buf(),
            password: pki::Secret::new(password),
            alias: alias.map(str::to_string),
        },
        cas: Vec::new(),
        legacy_pkcs12: false,
        force: false,
        lock: false,
    })
    .unwrap()
}

#[test]
fn imports_keytool_genkeypair_modern_and_zwe_legacy() {
    for legacy in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.p12");
        keytool_genkeypair(&source, "Service", "secret$1", legacy);
        if legacy {
            let info = run_ok(
                "openssl",
                &[
                    "pkcs12",
                    "-legacy",
                    "-in",
                    p(&source),
                    "-passin",
                    "pass:secret$1",
                    "-info",
                    "-noout",
                ],
            );
            assert!(
                info.contains("pbeWithSHA1And40BitRC2-CBC"),
                "keytool legacy encoding expected: {info}"
            );
        }
        let report = import_pkcs12(
            &source,
            "secret$1",
            Some("service"),
            &dir.path().join("out"),
        );
        assert_eq!(report.alias, "service");
        assert_eq!(
            report.trusted_aliases,
            vec!["extca1"],
            "a self-signed key trusts itself"
        );
        assert_eq!(
            keytool_entries(&report.keystore, "password"),
            entries(&[
                ("extca1", "trustedCertEntry"),
                ("service", "PrivateKeyEntry")
            ])
        );
        let key = pki::signing_key(&pki::KeystoreParams::Pkcs12 {
            file: report.keystore.clone(),
            password: pki::Secret::new("password"),
            alias: Some("service".into()),
        })
        .unwrap();
        assert_eq!(key.algorithm(), pki::JwtAlgorithm::RS256);
        // The same certificate as keytool exports.
        let exported = dir.path().join("exported.cer");
        run_ok(
            "keytool",
            &[
                "-exportcert",
                "-rfc",
                "-alias",
                "service",
                "-keystore",
                p(&source),
                "-storepass",
                "secret$1",
                "-file",
                p(&exported),
            ],
        );
        assert_eq!(
            pki::store::read_certs(&exported).unwrap()[0],
            *key.certificate_der()
        );
    }
}

#[test]
fn imports_openssl_pkcs12_export_modern_and_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = init_in(&dir.path().join("ca"));
    // A key and certificate issued by the local CA, packed by openssl with the chain.
    let key = dir.path().join("svc.key");
    let csr = dir.path().join("svc.csr");
    let cert = dir.path().join("svc.pem");
    let ca_key = dir.path().join("ca.key");
    run_ok(
        "openssl",
        &[
            "pkcs12",
            "-in",
            p(&ca.ca_keystore),
            "-passin",
            "pass:local_ca_password",
            "-nocerts",
            "-nodes",
            "-out",
            p(&ca_key),
        ],
    );
    run_ok(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            p(&key),
            "-out",
            p(&csr),
            "-subj",
            "/CN=svc",
        ],
    );
    run_ok(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            p(&csr),
            "-CA",
            p(&ca.ca_cert),
            "-CAkey",
            p(&ca_key),
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            p(&cert),
        ],
    );
    for legacy in [false, true] {
        let p12 = dir.path().join(format!("svc-{legacy}.p12"));
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            p(&key),
            "-in",
            p(&cert),
            "-certfile",
            p(&ca.ca_cert),
            "-name",
            "svc",
            "-passout",
            "pass:export",
            "-out",
            p(&p12),
        ];
        if legacy {
            args.push("-legacy");
        }
        run_ok("openssl", &args);
        let out = dir.path().join(format!("out-{legacy}"));
        let report = import_pkcs12(&p12, "export", None, &out);
        assert_eq!(report.alias, "svc");
        assert_eq!(
            report.trusted_aliases,
            vec!["extca1"],
            "the CA from the chain is trusted"
        );
        assert_eq!(
            keytool_entries(&report.truststore, "password"),
            entries(&[("extca1", "trustedCertEntry")])
        );
        run_ok(
            "openssl",
            &[
                "verify",
                "-CAfile",
                p(&report.ca_pems[0]),
                p(&report.cert_pem),
            ],
        );
    }
}

#[test]
fn imports_pem_key_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let source = init_in(&dir.path().join("src"));
    let chain = dir.path().join("chain.pem");
    let mut text = std::fs::read_to_string(&source.cert_pem).unwrap();
    text.push_str(&std::fs::read_to_string(&source.ca_cert).unwrap());
    std::fs::write(&chain, text).unwrap();
    // A PKCS#1 key (`BEGIN RSA PRIVATE KEY`) is accepted too.
    let pkcs1 = dir.path().join("key.pem");
    run_ok(
        "openssl",
        &[
            "rsa",
            "-in",
            p(&source.key_pem),
            "-traditional",
            "-out",
            p(&pkcs1),
        ],
    );
    let report = pki::import(&pki::ImportParams {
        dir: dir.path().join("out"),
        name: "gateway".into(),
        password: pki::Secret::new("changeit"),
        source: pki::ImportSource::Pem { key: pkcs1, chain },
        cas: Vec::new(),
        legacy_pkcs12: true,
        force: false,
        lock: false,
    })
    .unwrap();
    assert_eq!(
        keytool_entries(&report.keystore, "changeit"),
        entries(&[
            ("extca1", "trustedCertEntry"),
            ("gateway", "PrivateKeyEntry")
        ])
    );
    assert_eq!(
        std::fs::read(&report.key_pem).unwrap(),
        std::fs::read(&source.key_pem).unwrap()
    );
}

#[test]
fn reads_the_real_zowe_keystores() {
    let zowe = zowe_testdata().join("keystore");
    let pw = pki::Secret::new("password");
    let store =
        pki::Keystore::read_pkcs12(&zowe.join("localhost/localhost.keystore.p12"), &pw).unwrap();
    let key = store.key("localhost").expect("localhost key entry");
    assert!(pki::x509::key_matches_cert(key.key.pkcs8_der(), &key.chain[0]).unwrap());
    assert!(store.trusted.iter().any(|t| t.alias == "localca"));
    // The PEM exports are the same key and certificate.
    let signing = pki::signing_key(&pki::KeystoreParams::Pkcs12 {
        file: zowe.join("localhost/localhost.keystore.p12"),
        password: pw.clone(),
        alias: Some("localhost".into()),
    })
    .unwrap();
    let pem_cert = pki::store::read_certs(&zowe.join("localhost/localhost.keystore.cer")).unwrap();
    assert_eq!(pem_cert[0], *signing.certificate_der());
    let pem_key =
        pki::store::read_private_key(&zowe.join("localhost/localhost.keystore.key")).unwrap();
    assert!(pki::x509::key_matches_cert(pem_key.pkcs8_der(), &pem_cert[0]).unwrap());

    let trust =
        pki::Keystore::read_pkcs12(&zowe.join("localhost/localhost.truststore.p12"), &pw).unwrap();
    let mut aliases: Vec<&str> = trust.trusted.iter().map(|t| t.alias.as_str()).collect();
    aliases.sort();
    assert_eq!(aliases.len(), 8, "{aliases:?}");
    assert!(
        aliases.contains(&"localca") && aliases.contains(&"extca3"),
        "{aliases:?}"
    );

    let ca = pki::Keystore::read_pkcs12(
        &zowe.join("local_ca/localca.keystore.p12"),
        &pki::Secret::new("local_ca_password"),
    )
    .unwrap();
    assert!(ca.key("localca").is_some());
    let clients = pki::Keystore::read_pkcs12(&zowe.join("client-certs.p12"), &pw).unwrap();
    let mut client_aliases: Vec<&str> = clients.keys.iter().map(|k| k.alias.as_str()).collect();
    client_aliases.sort();
    assert_eq!(client_aliases, vec!["apimtst", "unknownuser", "user"]);
    let apiml = pki::Keystore::read_pkcs12(&zowe.join("apiml_ca.p12"), &pw).unwrap();
    assert!(apiml.key("apiml_ca").is_some());

    // Zowe's server keystore serves TLS through the library API.
    pki::tls::server_config(&pki::ServerTlsParams::new(
        pki::KeystoreParams::Pkcs12 {
            file: zowe.join("localhost/localhost.keystore.p12"),
            password: pw.clone(),
            alias: Some("localhost".into()),
        },
        Some(pki::TruststoreParams::Pkcs12 {
            file: zowe.join("localhost/localhost.truststore.p12"),
            password: pw,
        }),
    ))
    .unwrap();
}

#[test]
fn client_certificate_is_for_client_auth_and_comes_with_its_racdcert_map() {
    let dir = tempfile::tempdir().unwrap();
    let ca = init_in(dir.path());
    let out = dir.path().join("clients");
    let report = pki::client_cert(&pki::ClientCertParams {
        ca_keystore: ca.ca_keystore.clone(),
        ca_password: pki::Secret::new("local_ca_password"),
        ca_alias: "local_ca".into(),
        user: "ibmuser".into(),
        out_dir: out.clone(),
        password: pki::Secret::new("password"),
        dname: pki::Dname::default(),
        validity_days: 365,
        key_type: pki::KeyType::Rsa2048,
        legacy_pkcs12: false,
        force: false,
        now: std::time::SystemTime::now(),
    })
    .unwrap();
    assert_eq!(
        files_under(&out),
        vec!["ibmuser.cer", "ibmuser.key", "ibmuser.p12"]
    );
    assert_eq!(
        keytool_entries(&report.keystore, "password"),
        entries(&[("ibmuser", "PrivateKeyEntry")])
    );
    run_ok(
        "openssl",
        &[
            "verify",
            "-CAfile",
            p(&ca.ca_cert),
            "-purpose",
            "sslclient",
            p(&report.cert_pem),
        ],
    );
    let text = run_ok(
        "openssl",
        &["x509", "-in", p(&report.cert_pem), "-noout", "-text"],
    );
    assert!(
        text.contains("TLS Web Client Authentication")
            && !text.contains("TLS Web Server Authentication"),
        "{text}"
    );
    assert!(text.contains("CN = IBMUSER"), "{text}");
    assert_eq!(
        report.racdcert_map,
        "RACDCERT MAP ID(IBMUSER) SDNFILTER('CN=IBMUSER.OU=API Mediation Layer.O=Zowe Sample.L=Prague.SP=Prague.C=CZ') \
         IDNFILTER('CN=Zowe Development Instances Certificate Authority.OU=API Mediation Layer.O=Zowe Sample.L=Prague.SP=Prague.C=CZ') \
         WITHLABEL('ibmuser')"
    );
    // Not a valid user ID: nothing written.
    let mut bad = pki::ClientCertParams {
        ca_keystore: ca.ca_keystore.clone(),
        ca_password: pki::Secret::new("local_ca_password"),
        ca_alias: "local_ca".into(),
        user: "not/a user".into(),
        out_dir: dir.path().join("bad"),
        password: pki::Secret::new("password"),
        dname: pki::Dname::default(),
        validity_days: 365,
        key_type: pki::KeyType::EcP256,
        legacy_pkcs12: false,
        force: false,
        now: std::time::SystemTime::now(),
    };
    assert!(matches!(
        pki::client_cert(&bad),
        Err(pki::PkiError::InvalidInput(_))
    ));
    bad.user = "user2".into();
    bad.ca_password = pki::Secret::new("wrong-password");
    assert!(matches!(
        pki::client_cert(&bad),
        Err(pki::PkiError::WrongPassword { .. })
    ));
    assert!(!dir.path().join("bad").exists() || files_under(&dir.path().join("bad")).is_empty());
}
