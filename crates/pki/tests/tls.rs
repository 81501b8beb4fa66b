//! The rustls configs built from zgate's keystores, against the real
//! `openssl s_client`, and the JWT signing key.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;

use common::*;
use tokio::io::AsyncWriteExt;
use zgate_pki as pki;

/// Serve TLS with `config` on 127.0.0.1 until the test ends; returns the port.
async fn serve(config: rustls::ServerConfig) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"hello\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

async fn s_client(port: u16, ca: &std::path::Path, host: &str) -> (bool, String) {
    let out = tokio::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-verify_return_error",
            "-CAfile",
            p(ca),
            "-verify_hostname",
            host,
            "-servername",
            host,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("`openssl` is required by this test and could not be run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_verifies_the_server_for_names_in_the_san_only() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| p.sans = vec!["zowe.example.com".into()]);
    let params =
        pki::ServerTlsParams::new(keystore_params(&report), Some(truststore_params(&report)));
    let config = pki::tls::server_config(&params).unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let port = serve(config).await;

    for host in ["localhost", "zowe.example.com"] {
        let (ok, text) = s_client(port, &report.ca_cert, host).await;
        assert!(ok, "handshake for {host} should verify:\n{text}");
        assert!(text.contains("Verification: OK"), "{text}");
    }
    let (ok, text) = s_client(port, &report.ca_cert, "not-in-san.example.com").await;
    assert!(!ok, "a host name outside the SAN must fail:\n{text}");
    assert!(text.contains("hostname mismatch"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec_p256_server_verifies_too() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_with(dir.path(), |p| p.key_type = pki::KeyType::EcP256);
    let params =
        pki::ServerTlsParams::new(keystore_params(&report), Some(truststore_params(&report)));
    let port = serve(pki::tls::server_config(&params).unwrap()).await;
    let (ok, text) = s_client(port, &report.ca_cert, "localhost").await;
    assert!(ok, "{text}");
    assert!(text.contains("Verification: OK"), "{text}");
    let (ok, _) = s_client(port, &report.ca_cert, "elsewhere.example.com").await;
    assert!(!ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_key_and_certificate_serve_too() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let params = pki::ServerTlsParams::new(
        pki::KeystoreParams::Pem {
            key: report.key_pem.clone(),
            certificate: report.cert_pem.clone(),
        },
        Some(pki::TruststoreParams::Pem {
            files: vec![report.ca_pem.clone()],
        }),
    );
    let port = serve(pki::tls::server_config(&params).unwrap()).await;
    let (ok, text) = s_client(port, &report.ca_cert, "localhost").await;
    assert!(ok, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verification_modes_and_optional_client_certificates_work() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other_report = init_in(other.path());
    let server = pki::tls::server_config(&pki::ServerTlsParams::new(
        keystore_params(&report),
        Some(truststore_params(&report)),
    ))
    .unwrap();
    let port = serve(server).await;

    async fn connect(config: rustls::ClientConfig, port: u16, name: &str) -> Result<(), String> {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        connector
            .connect(name, tcp)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    let trusted = pki::ClientTlsParams::new(Some(truststore_params(&report)));
    let untrusted = pki::ClientTlsParams::new(Some(truststore_params(&other_report)));

    let strict = pki::tls::client_config(&trusted, pki::VerifyMode::Strict).unwrap();
    assert!(connect(strict.clone(), port, "localhost").await.is_ok());
    let err = connect(strict, port, "wrong.example.com")
        .await
        .unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");

    let nonstrict = pki::tls::client_config(&trusted, pki::VerifyMode::NonStrict).unwrap();
    assert!(connect(nonstrict, port, "wrong.example.com").await.is_ok());
    let nonstrict_untrusted =
        pki::tls::client_config(&untrusted, pki::VerifyMode::NonStrict).unwrap();
    let err = connect(nonstrict_untrusted, port, "localhost")
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid peer certificate") && !err.contains("not valid for name"),
        "{err}"
    );

    let disabled =
        pki::tls::client_config(&untrusted, pki::VerifyMode::dangerous_disabled()).unwrap();
    assert!(connect(disabled, port, "wrong.example.com").await.is_ok());

    // A client certificate signed by the local CA is accepted by the "want" verifier.
    let mut with_cert = trusted.clone();
    with_cert.client_cert = Some(keystore_params(&report));
    let strict_cert = pki::tls::client_config(&with_cert, pki::VerifyMode::Strict).unwrap();
    assert_eq!(fetch(strict_cert, port).await.unwrap(), b"hello\n");
    // One from another CA is refused by the server (TLS 1.3 reports it after
    // the client's Finished, so look at what the server sends).
    let mut foreign_cert = trusted.clone();
    foreign_cert.client_cert = Some(keystore_params(&other_report));
    let foreign = pki::tls::client_config(&foreign_cert, pki::VerifyMode::Strict).unwrap();
    let refused = fetch(foreign, port).await;
    assert!(
        refused.as_ref().map_or(true, |data| data.is_empty()),
        "{refused:?}"
    );
    // Without a certificate the connection is still accepted ("want").
    let plain = pki::tls::client_config(&trusted, pki::VerifyMode::Strict).unwrap();
    assert_eq!(fetch(plain, port).await.unwrap(), b"hello\n");
    // DISABLED verifies nothing but still presents the certificate: the
    // server refuses a foreign one, so it was sent.
    let mut foreign_disabled = untrusted.clone();
    foreign_disabled.client_cert = Some(keystore_params(&other_report));
    let refused = fetch(
        pki::tls::client_config(&foreign_disabled, pki::VerifyMode::dangerous_disabled()).unwrap(),
        port,
    )
    .await;
    assert!(
        refused.as_ref().map_or(true, |data| data.is_empty()),
        "{refused:?}"
    );
    let mut own_disabled = untrusted.clone();
    own_disabled.client_cert = Some(keystore_params(&report));
    let accepted =
        pki::tls::client_config(&own_disabled, pki::VerifyMode::dangerous_disabled()).unwrap();
    assert_eq!(fetch(accepted, port).await.unwrap(), b"hello\n");
}

#[test]
fn material_whose_key_is_not_its_certificates_or_out_of_date_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other_report = init_in(other.path());
    let material =
        pki::TlsMaterial::load(&keystore_params(&report), Some(&truststore_params(&report)))
            .unwrap();
    assert!(!material.trust_anchors.is_empty());
    let info = material.check_leaf(now_seconds()).unwrap();
    assert!(info.subject.contains("CN="), "{}", info.subject);
    // The day after notAfter, and the day before notBefore.
    let late = material.check_leaf(info.not_after + 86_400).unwrap_err();
    assert!(late.to_string().contains("not valid now"), "{late}");
    let early = material.check_leaf(info.not_before - 86_400).unwrap_err();
    assert!(early.to_string().contains("not valid now"), "{early}");
    let mut mismatched = material.clone();
    mismatched.key = pki::load_key(&keystore_params(&other_report)).unwrap().key;
    let error = mismatched.check_leaf(now_seconds()).unwrap_err();
    assert!(
        matches!(error, pki::PkiError::KeyMismatch { .. }),
        "{error}"
    );
    let mut empty = material.clone();
    empty.chain.clear();
    assert!(empty.check_leaf(now_seconds()).is_err());
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn fetch(config: rustls::ClientConfig, port: u16) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    tls.read_to_end(&mut data)
        .await
        .map_err(|e| e.to_string())?;
    Ok(data)
}

#[test]
fn unsupported_cipher_names_are_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let mut params = pki::ServerTlsParams::new(keystore_params(&report), None);
    params.ciphers = pki::tls::DEFAULT_CIPHERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    match pki::tls::server_config(&params) {
        Err(pki::PkiError::UnsupportedCipherSuites { names }) => assert_eq!(
            names,
            vec![
                "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"
            ]
        ),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("CBC suites must be reported"),
    }
    let (_, warnings) = pki::tls::server_config_with_warnings(&params).unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    // The default (no list configured) needs no warning handling to start.
    params.ciphers.clear();
    pki::tls::server_config(&params).unwrap();
}

#[test]
fn signing_keys_have_their_jwt_algorithm_and_an_spki_based_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let key = pki::signing_key(&keystore_params(&report)).unwrap();
    assert_eq!(key.algorithm(), pki::JwtAlgorithm::RS256);
    assert!(key.rsa_pkcs1_der().is_some());
    // The same key through the PEM exports has the same id.
    let pem = pki::signing_key(&pki::KeystoreParams::Pem {
        key: report.key_pem.clone(),
        certificate: report.cert_pem.clone(),
    })
    .unwrap();
    assert_eq!(key.key_id(), pem.key_id());
    assert_eq!(key.pkcs8_der(), pem.pkcs8_der());
    // The key id is base64url(SHA-256(SPKI)), computed here with openssl.
    let spki = dir.path().join("spki.der");
    let pubkey = dir.path().join("pub.pem");
    run_ok(
        "openssl",
        &[
            "x509",
            "-in",
            p(&report.cert_pem),
            "-pubkey",
            "-noout",
            "-out",
            p(&pubkey),
        ],
    );
    run_ok(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            p(&pubkey),
            "-outform",
            "DER",
            "-out",
            p(&spki),
        ],
    );
    assert_eq!(std::fs::read(&spki).unwrap(), key.public_key_spki_der());
    assert!(
        !format!("{key:?}").contains("BEGIN"),
        "Debug must not show the key"
    );

    let ec_dir = tempfile::tempdir().unwrap();
    let ec = init_with(ec_dir.path(), |p| p.key_type = pki::KeyType::EcP256);
    let ec_key = pki::signing_key(&keystore_params(&ec)).unwrap();
    assert_eq!(ec_key.algorithm(), pki::JwtAlgorithm::ES256);
    assert!(ec_key.rsa_pkcs1_der().is_none());
    assert_ne!(ec_key.key_id(), key.key_id());
}

/// Connects with `client` to a server built from `server`; the negotiated
/// protocol version and key exchange group, or the handshake's error.
async fn negotiate(
    server: &pki::ServerTlsParams,
    client: &pki::ClientTlsParams,
) -> Result<(rustls::ProtocolVersion, rustls::NamedGroup), String> {
    let port = serve(pki::tls::server_config(server).unwrap()).await;
    let config = pki::tls::client_config(client, pki::VerifyMode::Strict).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let session = tls.get_ref().1;
    Ok((
        session.protocol_version().unwrap(),
        session.negotiated_key_exchange_group().unwrap().name(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curves_choose_the_key_exchange_and_disjoint_ones_do_not_connect() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let mut server = pki::ServerTlsParams::new(keystore_params(&report), None);
    let mut client = pki::ClientTlsParams::new(Some(truststore_params(&report)));

    // Unrestricted, the client's first preference (x25519) is used.
    let (_, group) = negotiate(&server, &client).await.unwrap();
    assert_eq!(group, rustls::NamedGroup::X25519);

    server.curves = vec!["secp384r1".into()];
    client.curves = vec!["x25519".into()];
    let err = negotiate(&server, &client).await.unwrap_err();
    assert!(!err.is_empty());

    // Java's, OpenSSL's and NIST's names, any case, are the same group.
    for name in ["secp384r1", "P-384", "SECP384R1"] {
        client.curves = vec![name.into()];
        let (_, group) = negotiate(&server, &client).await.unwrap();
        assert_eq!(group, rustls::NamedGroup::secp384r1, "{name}");
    }
    server.curves = vec!["prime256v1".into(), "x25519".into()];
    client.curves = vec!["secp256r1".into()];
    let (_, group) = negotiate(&server, &client).await.unwrap();
    assert_eq!(group, rustls::NamedGroup::secp256r1);

    // The same over TLS 1.2 (ECDHE suites).
    server.max_tls = pki::TlsVersion::Tls12;
    let (version, group) = negotiate(&server, &client).await.unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(group, rustls::NamedGroup::secp256r1);
    client.curves = vec!["secp384r1".into()];
    assert!(negotiate(&server, &client).await.is_err());
}

#[test]
fn curves_the_tls_library_does_not_offer_are_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let mut server = pki::ServerTlsParams::new(keystore_params(&report), None);
    server.curves = vec!["x25519".into(), "secp521r1".into(), "brainpool".into()];
    match pki::tls::server_config(&server) {
        Err(pki::PkiError::UnsupportedCurves { names }) => {
            assert_eq!(names, ["secp521r1", "brainpool"])
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("unsupported curves must be refused"),
    }
    let err = pki::tls::server_config_with_warnings(&server)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("secp521r1") && err.contains("x25519, secp256r1"),
        "{err}"
    );
    let mut client = pki::ClientTlsParams::new(Some(truststore_params(&report)));
    client.curves = vec!["x448".into()];
    assert!(matches!(
        pki::tls::client_config_with_warnings(&client, pki::VerifyMode::Strict),
        Err(pki::PkiError::UnsupportedCurves { .. })
    ));
    // Every group the provider implements has a name here.
    assert_eq!(
        pki::tls::select_curves(&[]).unwrap().len(),
        rustls::crypto::ring::ALL_KX_GROUPS.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_and_max_tls_versions_are_honoured_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let mut server = pki::ServerTlsParams::new(keystore_params(&report), None);
    let mut client = pki::ClientTlsParams::new(Some(truststore_params(&report)));
    let (version, _) = negotiate(&server, &client).await.unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);

    client.max_tls = pki::TlsVersion::Tls12;
    let (version, _) = negotiate(&server, &client).await.unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    server.min_tls = pki::TlsVersion::Tls13;
    assert!(negotiate(&server, &client).await.is_err());

    let mut server = pki::ServerTlsParams::new(keystore_params(&report), None);
    server.max_tls = pki::TlsVersion::Tls12;
    let mut client = pki::ClientTlsParams::new(Some(truststore_params(&report)));
    client.min_tls = pki::TlsVersion::Tls13;
    assert!(negotiate(&server, &client).await.is_err());
}

#[test]
fn only_configured_cipher_suites_warn_on_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let report = init_in(dir.path());
    let default_list: Vec<String> = pki::tls::DEFAULT_CIPHERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    // No list configured: Zowe's default, CBC suites and all, and no warning.
    let mut server = pki::ServerTlsParams::new(keystore_params(&report), None);
    let (_, warnings) = pki::tls::server_config_with_warnings(&server).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut client = pki::ClientTlsParams::new(Some(truststore_params(&report)));
    let (_, warnings) =
        pki::tls::client_config_with_warnings(&client, pki::VerifyMode::Strict).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    // The same names configured: each suite left out is named.
    server.ciphers = default_list.clone();
    let (_, warnings) = pki::tls::server_config_with_warnings(&server).unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    client.ciphers = default_list;
    let (config, warnings) =
        pki::tls::client_config_with_warnings(&client, pki::VerifyMode::Strict).unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"));
    assert_eq!(config.crypto_provider().cipher_suites.len(), 6);
    assert!(matches!(
        pki::tls::client_config(&client, pki::VerifyMode::Strict),
        Err(pki::PkiError::UnsupportedCipherSuites { .. })
    ));
}
