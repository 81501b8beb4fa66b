//! Bad input gives a clear message and writes nothing partial.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::path::Path;
use std::time::SystemTime;

use common::*;
use zgate_pki as pki;

fn try_init(dir: &Path, tweak: impl FnOnce(&mut pki::InitParams)) -> pki::PkiError {
    let mut params = pki::InitParams::with_defaults(dir.to_path_buf(), SystemTime::now());
    tweak(&mut params);
    pki::init(&params).expect_err("init should fail")
}

fn no_staging_left(dir: &Path) {
    assert!(
        files_under(dir)
            .iter()
            .all(|f| !f.contains(".zgate-staging")),
        "staging left behind: {:?}",
        files_under(dir)
    );
}

#[test]
fn init_in_a_directory_that_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = try_init(&file.join("keystore"), |_| {});
    assert!(matches!(err, pki::PkiError::Write { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("a-file/keystore") && text.contains("writable"),
        "{text}"
    );
    assert_eq!(files_under(dir.path()), vec!["a-file"]);

    // A read-only directory (effective only when not running as root, so also
    // a file system that refuses writes for everyone).
    let err = try_init(Path::new("/proc/zgate-cannot-write/keystore"), |_| {});
    assert!(matches!(err, pki::PkiError::Write { .. }), "{err}");

    use std::os::unix::fs::PermissionsExt;
    let read_only = dir.path().join("ro");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = read_only.join("probe");
    if std::fs::write(&probe, b"").is_err() {
        let err = try_init(&read_only, |_| {});
        assert!(matches!(err, pki::PkiError::Write { .. }), "{err}");
        assert!(files_under(&read_only).is_empty());
    } else {
        std::fs::remove_file(&probe).unwrap(); // root: permissions do not apply
    }
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn init_refuses_to_overwrite_without_force_and_replaces_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let before = std::fs::read(&report.keystore).unwrap();
    let err = try_init(dir.path(), |_| {});
    assert!(matches!(err, pki::PkiError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&report.keystore).unwrap(),
        before,
        "untouched without --force"
    );

    let again = init_with(dir.path(), |p| p.force = true);
    assert_ne!(
        std::fs::read(&again.keystore).unwrap(),
        before,
        "replaced with --force"
    );
    no_staging_left(dir.path());
    assert_eq!(files_under(dir.path()).len(), 9);
}

#[test]
fn init_with_bad_parameters_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    type Tweak = Box<dyn FnOnce(&mut pki::InitParams)>;
    let cases: Vec<(Tweak, &str)> = vec![
        (
            Box::new(|p| p.import_cas = vec!["/nonexistent/ca.pem".into()]),
            "cannot read /nonexistent/ca.pem",
        ),
        (
            Box::new(move |p| p.import_cas = vec![garbage]),
            "garbage.pem is not a valid certificate file",
        ),
        (
            Box::new(|p| p.password = pki::Secret::new("")),
            "must not be empty",
        ),
        (
            Box::new(|p| p.ca_password = pki::Secret::new("abc")),
            "at least 6 characters",
        ),
        (
            Box::new(|p| p.name = "../escape".into()),
            "cannot be used as a file name",
        ),
        (Box::new(|p| p.ca_alias = "localhost".into()), "must differ"),
        (
            Box::new(|p| p.sans = vec!["bad host name!".into()]),
            "neither a host name nor an IP address",
        ),
        (Box::new(|p| p.validity_days = 0), "at least 1 day"),
    ];
    for (tweak, message) in cases {
        let err = try_init(&out, tweak);
        assert!(
            err.to_string().contains(message),
            "expected `{message}` in `{err}`"
        );
        assert!(
            files_under(&out).is_empty(),
            "nothing written for `{message}`: {:?}",
            files_under(&out)
        );
    }
}

fn try_import(dir: &Path, source: pki::ImportSource) -> pki::PkiError {
    pki::import(&pki::ImportParams {
        dir: dir.to_path_buf(),
        name: "localhost".into(),
        password: pki::Secret::new("password"),
        source,
        cas: Vec::new(),
        legacy_pkcs12: false,
        force: false,
        lock: false,
    })
    .expect_err("import should fail")
}

#[test]
fn import_rejects_bad_keystores_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let a = init_in(&dir.path().join("a"));
    let b = init_in(&dir.path().join("b"));
    let garbage = dir.path().join("garbage.p12");
    std::fs::write(&garbage, [0x30, 0x82, 0x01, 0x00, 0x02, 0x01]).unwrap();
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, b"hello").unwrap();
    let out = dir.path().join("out");
    let pkcs12 = |file: &Path, password: &str, alias: Option<&str>| pki::ImportSource::Pkcs12 {
        file: file.to_path_buf(),
        password: pki::Secret::new(password),
        alias: alias.map(str::to_string),
    };
    let cases = vec![
        (
            pkcs12(&dir.path().join("missing.p12"), "password", None),
            "cannot read",
        ),
        (
            pkcs12(&garbage, "password", None),
            "is not a valid PKCS12 keystore",
        ),
        (
            pkcs12(&text_file, "password", None),
            "is not a valid PKCS12 keystore",
        ),
        (
            pkcs12(&a.keystore, "wrong$pass", None),
            "wrong password for keystore",
        ),
        (
            pkcs12(&a.keystore, "password", Some("nosuch")),
            "no private key under alias `nosuch`; aliases with keys: localhost",
        ),
        (
            pkcs12(&a.truststore, "password", None),
            "aliases with keys: none",
        ),
        (
            pki::ImportSource::Pem {
                key: b.key_pem.clone(),
                chain: a.cert_pem.clone(),
            },
            "the private key does not match the certificate",
        ),
        (
            pki::ImportSource::Pem {
                key: text_file.clone(),
                chain: a.cert_pem.clone(),
            },
            "no `BEGIN PRIVATE KEY` block found",
        ),
        (
            pki::ImportSource::Pem {
                key: a.key_pem.clone(),
                chain: text_file.clone(),
            },
            "no `BEGIN CERTIFICATE` block found",
        ),
    ];
    for (source, message) in cases {
        let err = try_import(&out, source);
        assert!(
            err.to_string().contains(message),
            "expected `{message}` in `{err}`"
        );
        assert!(
            files_under(&out).is_empty(),
            "nothing written for `{message}`"
        );
    }
    // An encrypted PEM key says how to decrypt it.
    let encrypted = dir.path().join("enc.key");
    run_ok(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            p(&a.key_pem),
            "-out",
            p(&encrypted),
            "-passout",
            "pass:secret",
        ],
    );
    let err = try_import(
        &out,
        pki::ImportSource::Pem {
            key: encrypted,
            chain: a.cert_pem.clone(),
        },
    );
    assert!(err.to_string().contains("openssl pkcs8"), "{err}");
    assert!(files_under(&out).is_empty());
}

#[test]
fn tls_and_signing_key_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let wrong = pki::KeystoreParams::Pkcs12 {
        file: report.keystore.clone(),
        password: pki::Secret::new("pass$word"),
        alias: Some("localhost".into()),
    };
    let err = pki::signing_key(&wrong).err().unwrap();
    assert!(err.to_string().contains("quote it"), "{err}");
    let err = pki::tls::server_config(&pki::ServerTlsParams::new(wrong, None))
        .err()
        .unwrap();
    assert!(matches!(err, pki::PkiError::WrongPassword { .. }), "{err}");
    let keyring = pki::KeystoreParams::Pkcs12 {
        file: "safkeyring://ZWESVUSR/ZoweKeyring".into(),
        password: pki::Secret::new("password"),
        alias: None,
    };
    let err = pki::signing_key(&keyring).err().unwrap();
    assert!(err.to_string().contains("z/OS keyring"), "{err}");
    // A Secret never shows in Debug output.
    let params = keystore_params(&report);
    assert!(
        !format!("{params:?}").contains("\"password\""),
        "{params:?}"
    );
    assert!(format!("{params:?}").contains("Secret(********)"));
    // Bad TLS settings.
    assert!("TLSv1.1".parse::<pki::TlsVersion>().is_err());
    assert!("SOMETIMES".parse::<pki::VerifySetting>().is_err());
    let mut params = pki::ServerTlsParams::new(keystore_params(&report), None);
    params.min_tls = pki::TlsVersion::Tls13;
    params.ciphers = vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()];
    let err = pki::tls::server_config(&params).err().unwrap();
    assert!(err.to_string().contains("no usable cipher suite"), "{err}");
}

#[test]
fn lock_restricts_every_file_and_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    init_with(dir.path(), |p| p.lock = true);
    for file in files_under(dir.path()) {
        let path = dir.path().join(&file);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{file}");
    }
}

/// A poor man's fuzzer, deterministic: every kind of damage to a real
/// keystore, certificate and key gives an error (or a valid parse), never a
/// panic.
#[test]
fn damaged_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let password = pki::Secret::new("password");
    let origin = Path::new("damaged");
    let keystore = std::fs::read(&report.keystore).unwrap();
    let legacy_dir = tempfile::tempdir().unwrap();
    let legacy =
        std::fs::read(init_with(legacy_dir.path(), |p| p.legacy_pkcs12 = true).keystore).unwrap();
    let cert = std::fs::read(&report.cert_pem).unwrap();
    let key = std::fs::read(&report.key_pem).unwrap();
    let der = pki::store::read_certs(&report.cert_pem).unwrap()[0].to_vec();

    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut damaged = Vec::new();
    for original in [&keystore, &legacy] {
        for _ in 0..150 {
            let mut copy = original.clone();
            let at = (next() as usize) % copy.len();
            copy[at] ^= 1 << (next() % 8);
            damaged.push(copy);
        }
        for cut in [0, 1, 2, 4, 16, 100, original.len() / 2, original.len() - 1] {
            damaged.push(original[..cut].to_vec());
        }
    }
    let mut opened = 0;
    for data in &damaged {
        // A flipped bit is almost always caught by the MAC; whatever happens,
        // the call returns.
        if pki::Keystore::from_pkcs12(data, &password, origin).is_ok() {
            opened += 1;
        }
    }
    assert!(
        opened < damaged.len() / 4,
        "damage should mostly be detected ({opened} opened)"
    );
    for original in [&cert, &key, &der] {
        for _ in 0..300 {
            let mut copy = original.clone();
            let at = (next() as usize) % copy.len();
            copy[at] = next() as u8;
            let _ = pki::store::parse_certs(&copy, origin);
            let _ = pki::store::parse_private_key(&copy, origin);
            let _ =
                pki::x509::CertInfo::parse(&rustls::pki_types::CertificateDer::from(copy.clone()));
            let _ = pki::x509::key_algorithm(&copy);
        }
    }
}
