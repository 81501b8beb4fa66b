//! `zowe.network.{server,client}.tls` as the gateway uses them: a home with
//! certificates made on first start, its configuration loaded with `--set`
//! options, and the server and upstream-client TLS built from it, down to a
//! real handshake between the two.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zgate_config::{load, Config, LoadOptions};
use zgate_esm::{Esm, EsmConfig, HashCost};
use zgate_gateway::bootstrap::{client_tls_params, ensure_certificates, server_tls, StartError};
use zgate_gateway::routing::setup::{routing, RoutingSetupError};
use zgate_pki as pki;

/// The configuration of `home` with `overrides`, certificates created.
fn configured(home: &Path, overrides: &[&str]) -> Config {
    let loaded = load(&LoadOptions {
        home: home.to_path_buf(),
        zowe_yaml: None,
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
    })
    .unwrap();
    ensure_certificates(&loaded.config).unwrap();
    loaded.config
}

/// The upstream client's TLS for `config`, as routing builds it.
fn client_tls(config: &Config) -> (rustls::ClientConfig, Vec<String>) {
    pki::tls::client_config_with_warnings(&client_tls_params(config), pki::VerifyMode::Strict)
        .unwrap()
}

/// A handshake between the gateway's server TLS of `server` and the
/// upstream client TLS of `client`: the negotiated version and group, or
/// the error.
async fn handshake(
    server: &Config,
    client: &Config,
) -> Result<(rustls::ProtocolVersion, rustls::NamedGroup), String> {
    let (server_tls, _) = server_tls(server).unwrap();
    let (client_tls, _) = client_tls(client);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_tls);
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let _ = tls.write_all(b"ok").await;
                let _ = tls.shutdown().await;
            }
        }
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_tls));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let session = tls.get_ref().1;
    let negotiated = (
        session.protocol_version().unwrap(),
        session.negotiated_key_exchange_group().unwrap().name(),
    );
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(answer, b"ok");
    Ok(negotiated)
}

#[test]
fn zgates_default_cipher_list_is_pkis() {
    let config: Vec<&str> = zgate_config::schema::DEFAULT_CIPHERS.split(',').collect();
    assert_eq!(config, pki::tls::DEFAULT_CIPHERS);
}

#[test]
fn the_default_configuration_builds_both_sides_without_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let config = configured(home.path(), &[]);
    let (_, warnings) = server_tls(&config).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (client, warnings) = client_tls(&config);
    assert!(warnings.is_empty(), "{warnings:?}");
    // Every suite and group the library offers, both versions.
    assert_eq!(client.crypto_provider().cipher_suites.len(), 6);
    assert_eq!(
        client.crypto_provider().kx_groups.len(),
        pki::tls::CURVES.len()
    );
}

#[test]
fn configured_suites_the_library_lacks_still_warn_on_both_sides() {
    let home = tempfile::tempdir().unwrap();
    let cbc = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,TLS_AES_128_GCM_SHA256";
    let config = configured(
        home.path(),
        &[
            &format!("zowe.network.server.tls.ciphers={cbc}"),
            &format!("zowe.network.client.tls.ciphers={cbc}"),
        ],
    );
    let (_, warnings) = server_tls(&config).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"));
    let (client, warnings) = client_tls(&config);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(client.crypto_provider().cipher_suites.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_versions_and_curves_reach_the_upstream_client() {
    let home = tempfile::tempdir().unwrap();
    let config = configured(
        home.path(),
        &[
            "zowe.network.client.tls.maxTls=TLSv1.2",
            "zowe.network.client.tls.curves=secp384r1,x25519",
        ],
    );
    let (client, _) = client_tls(&config);
    let groups: Vec<_> = client
        .crypto_provider()
        .kx_groups
        .iter()
        .map(|g| g.name())
        .collect();
    assert_eq!(
        groups,
        [rustls::NamedGroup::secp384r1, rustls::NamedGroup::X25519]
    );
    // Against the default server (TLS 1.3 preferred, every group): the
    // client's limit and first group win.
    let server = configured(home.path(), &[]);
    assert_eq!(
        handshake(&server, &config).await.unwrap(),
        (
            rustls::ProtocolVersion::TLSv1_2,
            rustls::NamedGroup::secp384r1
        )
    );
    assert_eq!(
        handshake(&server, &server).await.unwrap().0,
        rustls::ProtocolVersion::TLSv1_3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_client_curves_decide_the_handshake() {
    let home = tempfile::tempdir().unwrap();
    let p384 = configured(
        home.path(),
        &[
            "zowe.network.server.tls.curves=secp384r1",
            "zowe.network.client.tls.curves=secp384r1",
        ],
    );
    let x25519 = configured(
        home.path(),
        &[
            "zowe.network.server.tls.curves=x25519",
            "zowe.network.client.tls.curves=x25519",
        ],
    );
    assert_eq!(
        handshake(&p384, &p384).await.unwrap().1,
        rustls::NamedGroup::secp384r1
    );
    assert_eq!(
        handshake(&x25519, &x25519).await.unwrap().1,
        rustls::NamedGroup::X25519
    );
    assert!(handshake(&p384, &x25519).await.is_err());
    assert!(handshake(&x25519, &p384).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_client_versions_decide_the_handshake() {
    let home = tempfile::tempdir().unwrap();
    let only_12 = configured(
        home.path(),
        &[
            "zowe.network.server.tls.maxTls=TLSv1.2",
            "zowe.network.client.tls.maxTls=TLSv1.2",
        ],
    );
    let only_13 = configured(
        home.path(),
        &[
            "zowe.network.server.tls.minTls=TLSv1.3",
            "zowe.network.client.tls.minTls=TLSv1.3",
        ],
    );
    assert_eq!(
        handshake(&only_12, &only_12).await.unwrap().0,
        rustls::ProtocolVersion::TLSv1_2
    );
    assert_eq!(
        handshake(&only_13, &only_13).await.unwrap().0,
        rustls::ProtocolVersion::TLSv1_3
    );
    assert!(handshake(&only_12, &only_13).await.is_err());
    assert!(handshake(&only_13, &only_12).await.is_err());
}

#[test]
fn curves_the_library_lacks_refuse_the_start_as_configuration_errors() {
    let home = tempfile::tempdir().unwrap();
    let config = configured(home.path(), &["zowe.network.server.tls.curves=secp521r1"]);
    let error = server_tls(&config).err().unwrap();
    assert!(error.is_configuration(), "{error}");
    assert!(
        matches!(
            error,
            StartError::ServerTls(pki::PkiError::UnsupportedCurves { .. })
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("zowe.network.server.tls") && text.contains("secp521r1"),
        "{text}"
    );

    let config = configured(home.path(), &["zowe.network.client.tls.curves=x448"]);
    let esm = Arc::new(
        Esm::open_with(
            home.path(),
            EsmConfig {
                hash_cost: HashCost::TEST_ONLY,
                ..EsmConfig::default()
            },
        )
        .unwrap(),
    );
    let error = routing(&config, esm, None).err().unwrap();
    assert!(
        matches!(
            error,
            RoutingSetupError::ClientTls(pki::PkiError::UnsupportedCurves { .. })
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("zowe.network.client.tls") && text.contains("x448"),
        "{text}"
    );
}
