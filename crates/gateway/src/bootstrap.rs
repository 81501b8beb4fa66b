//! Turning a validated [`Config`] into what the server runs with: the TLS
//! configuration, the JWT signing key ring, and — on a first start — the
//! certificates (`zgate cert init` with the configured setup values).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use zgate_auth::{KeyRing, SigningKey};
use zgate_config::{Config, TlsSettings, TlsVersion};
use zgate_pki as pki;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Certificates could not be created or read.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// The keystore's key cannot sign JWTs.
    #[error("the server key in {path} cannot sign tokens: {source}")]
    SigningKey {
        /// The keystore.
        path: PathBuf,
        /// Why.
        source: zgate_auth::KeyError,
    },
    /// The key ring file.
    #[error(transparent)]
    KeyRing(#[from] zgate_auth::KeyRingError),
    /// `zowe.network.server.tls` names what the TLS library cannot do.
    #[error("zowe.network.server.tls: {0}")]
    ServerTls(pki::PkiError),
    /// The keystore type names a z/OS keyring.
    #[error("keystore type {0} is not a file: a key ring is read from the ESM, other types are not supported")]
    Keyring(String),
    /// The key pending OIDC logins are sealed with.
    #[error("{path}: {reason}")]
    LoginKey {
        /// The key file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Anything else, with a sentence saying what.
    #[error("{0}")]
    Other(String),
}

impl StartError {
    /// Whether the configuration is at fault (wrong password, alias, store
    /// type, path): the CLI exits with `EX_USAGE` (64) for these.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            StartError::Keyring(_)
                | StartError::ServerTls(_)
                | StartError::Other(_)
                | StartError::Pki(
                    pki::PkiError::WrongPassword { .. }
                        | pki::PkiError::AliasNotFound { .. }
                        | pki::PkiError::UnsupportedCipherSuites { .. }
                        | pki::PkiError::UnsupportedCurves { .. }
                        | pki::PkiError::NoUsableCipherSuite
                        | pki::PkiError::Keyring { .. }
                        | pki::PkiError::InvalidInput(_)
                )
        )
    }
}

/// The runtime key file location for the configured keystore.
pub fn keystore_params(config: &Config) -> Result<pki::KeystoreParams, StartError> {
    let ks = &config.certificate.keystore;
    if ks.store_type != "PKCS12" {
        return Err(StartError::Keyring(ks.store_type.clone()));
    }
    Ok(pki::KeystoreParams::Pkcs12 {
        file: ks.file.clone(),
        password: pki::Secret::new(ks.password.expose()),
        alias: Some(config.certificate.keystore_alias.clone()).filter(|a| !a.is_empty()),
    })
}

/// The truststore of the configuration, when one exists (public for routing).
pub fn truststore_params(config: &Config) -> Option<pki::TruststoreParams> {
    let ts = &config.certificate.truststore;
    if ts.store_type == "PKCS12" && ts.file.exists() {
        Some(pki::TruststoreParams::Pkcs12 {
            file: ts.file.clone(),
            password: pki::Secret::new(ts.password.expose()),
        })
    } else if !config.certificate.pem_certificate_authorities.is_empty()
        && config
            .certificate
            .pem_certificate_authorities
            .iter()
            .all(|p| p.exists())
    {
        Some(pki::TruststoreParams::Pem {
            files: config.certificate.pem_certificate_authorities.clone(),
        })
    } else {
        None
    }
}

fn tls_version(version: TlsVersion) -> pki::TlsVersion {
    match version {
        TlsVersion::V1_2 => pki::TlsVersion::Tls12,
        TlsVersion::V1_3 => pki::TlsVersion::Tls13,
    }
}

/// The cipher list to hand pki: none for the default, which pki reads as
/// its own copy of Zowe's list and does not warn about (what it names that
/// the TLS library lacks is not the user's doing); the configured names
/// otherwise, each one left out being warned about.
fn configured_ciphers(tls: &TlsSettings) -> Vec<String> {
    if tls.ciphers_configured {
        tls.ciphers.clone()
    } else {
        Vec::new()
    }
}

/// The server TLS settings of the configuration (client certificates
/// wanted, not required): `zowe.network.server.tls` and the stores.
pub fn server_tls_params(config: &Config) -> Result<pki::ServerTlsParams, StartError> {
    Ok(server_tls_params_with(
        config,
        keystore_params(config)?,
        truststore_params(config),
    ))
}

/// The server TLS settings of the configuration for a key and trust
/// anchors already read (from files or a key ring).
pub fn server_tls_params_for(config: &Config, material: &pki::TlsMaterial) -> pki::ServerTlsParams {
    let keystore = pki::KeystoreParams::Loaded {
        name: "the server certificate".into(),
        entry: Box::new(pki::KeyEntry {
            alias: config.certificate.keystore_alias.clone(),
            key: material.key.clone(),
            chain: material.chain.clone(),
        }),
    };
    let truststore = pki::TruststoreParams::Loaded {
        name: "the trust anchors".into(),
        certs: material.trust_anchors.clone(),
    };
    server_tls_params_with(config, keystore, Some(truststore))
}

fn server_tls_params_with(
    config: &Config,
    keystore: pki::KeystoreParams,
    truststore: Option<pki::TruststoreParams>,
) -> pki::ServerTlsParams {
    let tls = &config.gateway.tls;
    let mut params = pki::ServerTlsParams::new(keystore, truststore);
    params.min_tls = tls_version(tls.min);
    params.max_tls = tls_version(tls.max);
    params.ciphers = configured_ciphers(tls);
    params.curves = tls.curves.clone();
    params.client_auth = pki::ClientAuth::Want;
    params
}

/// The server TLS configuration (client certificates wanted, not required),
/// with the names of configured cipher suites the TLS library does not offer.
pub fn server_tls(config: &Config) -> Result<(Arc<rustls::ServerConfig>, Vec<String>), StartError> {
    let params = server_tls_params(config)?;
    let (server, unsupported) =
        pki::tls::server_config_with_warnings(&params).map_err(|error| match error {
            pki::PkiError::UnsupportedCurves { .. } | pki::PkiError::NoUsableCipherSuite => {
                StartError::ServerTls(error)
            }
            other => StartError::Pki(other),
        })?;
    Ok((Arc::new(server), unsupported))
}

/// The client TLS settings for reaching services (`zowe.network.client.tls`
/// and the truststore; no client certificate).
pub fn client_tls_params(config: &Config) -> pki::ClientTlsParams {
    let tls = &config.client_tls;
    let mut params = pki::ClientTlsParams::new(truststore_params(config));
    params.min_tls = tls_version(tls.min);
    params.max_tls = tls_version(tls.max);
    params.ciphers = configured_ciphers(tls);
    params.curves = tls.curves.clone();
    params
}

/// The configured OpenID provider's tokens (`None`: OIDC is off). The
/// provider is reached over TLS verified against the truststore whatever
/// `zowe.verifyCertificates` says, presenting no client certificate.
pub fn provider_tokens(
    config: &Config,
    clock: std::sync::Arc<dyn zgate_base::clock::Clock>,
) -> Option<std::sync::Arc<crate::oidc::provider::ProviderTokens>> {
    let oidc = config.oidc.as_ref()?;
    let tls = match pki::tls::client_config(
        &client_tls_params(config),
        pki::tls::VerifyMode::Strict,
    ) {
        Ok(tls) => Some(std::sync::Arc::new(tls)),
        Err(error) => {
            tracing::warn!(%error, "no TLS to the OIDC provider: only http://localhost providers can be reached");
            None
        }
    };
    let client = crate::oidc::fetch::ProviderClient::new(tls, std::time::Duration::from_secs(10));
    Some(std::sync::Arc::new(
        crate::oidc::provider::ProviderTokens::new(oidc, client, clock),
    ))
}

/// Creates the local CA and server certificates when the configured keystore
/// does not exist yet (first start). Returns what was written.
pub fn ensure_certificates(config: &Config) -> Result<Option<pki::InitReport>, StartError> {
    let keystore = &config.certificate.keystore;
    // A key ring is set up with RACDCERT commands (`zgate cert init`), not
    // made on a first start.
    if matches!(
        keystore.location,
        zgate_config::KeystoreLocation::Ring { .. }
    ) {
        return Ok(None);
    }
    if keystore.store_type != "PKCS12" {
        return Err(StartError::Keyring(keystore.store_type.clone()));
    }
    if keystore.file.exists() {
        return Ok(None);
    }
    let setup = &config.setup_certificate;
    let default_file = setup
        .directory
        .join(&setup.name)
        .join(format!("{}.keystore.p12", setup.name));
    if keystore.file != default_file {
        return Err(StartError::Other(format!(
            "the keystore {} does not exist, and it is not where `zgate cert init` writes ({}); \
             create it, or point zowe.certificate.keystore.file at an existing keystore",
            keystore.file.display(),
            default_file.display()
        )));
    }
    let params = init_params(config, SystemTime::now());
    Ok(Some(pki::init(&params)?))
}

/// What `zgate cert init` and a first `zgate serve` generate, from
/// `zowe.setup.certificate.*`: Zowe's defaults, the configured SANs (else the
/// external domains) plus this machine's host name (pki adds `localhost`,
/// `localhost.localdomain` and `127.0.0.1`).
pub fn init_params(config: &Config, now: SystemTime) -> pki::InitParams {
    let setup = &config.setup_certificate;
    let mut params = pki::InitParams::with_defaults(setup.directory.clone(), now);
    params.name = setup.name.clone();
    params.password = pki::Secret::new(setup.password.expose());
    params.ca_alias = setup.ca_alias.clone();
    params.ca_password = pki::Secret::new(setup.ca_password.expose());
    params.dname = pki::Dname {
        ca_common_name: setup.ca_common_name.clone(),
        common_name: setup.common_name.clone(),
        org_unit: setup.org_unit.clone(),
        org: setup.org.clone(),
        locality: setup.locality.clone(),
        state: setup.state.clone(),
        country: setup.country.clone(),
    };
    params.validity_days = setup.validity_days;
    params.sans = if setup.san.is_empty() {
        config.external_domains.clone()
    } else {
        setup.san.clone()
    };
    if let Some(host) = machine_hostname() {
        params.sans.push(host);
    }
    params.import_cas = setup.import_certificate_authorities.clone();
    params.lock = setup.lock;
    params.legacy_pkcs12 = setup.legacy_pkcs12;
    params
}

/// This machine's host name (Linux: the kernel's; else `$HOSTNAME`).
pub fn machine_hostname() -> Option<String> {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(name) = std::fs::read_to_string(file) {
            let name = name.trim();
            if !name.is_empty() {
                return Some(name.to_string());
            }
        }
    }
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty())
}

/// The CA certificate clients should trust (for the start-up banner).
pub fn ca_file(config: &Config) -> PathBuf {
    let setup = &config.setup_certificate;
    setup
        .directory
        .join(&setup.ca_alias)
        .join(format!("{}.cer", setup.ca_alias))
}

/// The JWT key ring: the server key (RS256, or ES256 for EC) as the
/// signer; previous signers from `<home>/state/jwt-keys.json` keep verifying
/// until the tokens they signed expire.
pub fn key_ring(
    config: &Config,
    material: &pki::TlsMaterial,
    now_ms: i64,
) -> Result<KeyRing, StartError> {
    let params = pki::KeystoreParams::Loaded {
        name: "the server certificate".into(),
        entry: Box::new(pki::KeyEntry {
            alias: config.certificate.keystore_alias.clone(),
            key: material.key.clone(),
            chain: material.chain.clone(),
        }),
    };
    let key = pki::signing_key(&params)?;
    let signer = SigningKey::from_pkcs8(key.pkcs8_der(), key.key_id()).map_err(|source| {
        StartError::SigningKey {
            path: config.certificate.keystore.file.clone(),
            source,
        }
    })?;
    let lifetime_ms = i64::try_from(config.gateway.security.token_expiration_seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    Ok(KeyRing::open(
        &key_ring_file(&config.home),
        signer,
        now_ms,
        lifetime_ms,
    )?)
}

/// The key pending OIDC logins are sealed with: `<home>/state/oidc-login.key`
/// (32 bytes, 0600), made at the first start that needs it. Nodes of a
/// cluster share it with the rest of `state/`, so a login started on one
/// ends on another.
pub fn oidc_login_key(home: &Path) -> Result<[u8; 32], StartError> {
    use ring::rand::SecureRandom as _;
    let path = home.join("state").join("oidc-login.key");
    let failed = |reason: String| StartError::LoginKey {
        path: path.clone(),
        reason,
    };
    if !path.exists() {
        let mut key = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| failed("no randomness for a new key".into()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
        }
        // Written aside and linked into place: of two processes starting
        // together, one key wins and both read it.
        let aside = path.with_extension(format!("new{}", std::process::id()));
        crate::esm_adapter::write_private(&aside, &key).map_err(|e| failed(e.to_string()))?;
        let linked = std::fs::hard_link(&aside, &path);
        let _ = std::fs::remove_file(&aside);
        key.fill(0);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let bytes = std::fs::read(&path).map_err(|e| failed(e.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| failed(format!("holds {} bytes, not 32", bytes.len())))
}

/// Where retired JWT verification keys are kept.
pub fn key_ring_file(home: &Path) -> PathBuf {
    home.join("state").join("jwt-keys.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oidc_login_key_is_made_once_private_and_read_back() {
        let home = tempfile::tempdir().unwrap();
        let first = oidc_login_key(home.path()).unwrap();
        assert_eq!(oidc_login_key(home.path()).unwrap(), first);
        assert_ne!(first, [0u8; 32]);
        let path = home.path().join("state/oidc-login.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // Nothing left aside.
        let names: Vec<_> = std::fs::read_dir(home.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["oidc-login.key"]);
        // A damaged key is an error naming the file, never a new key.
        std::fs::write(&path, b"short").unwrap();
        let error = oidc_login_key(home.path()).unwrap_err().to_string();
        assert!(
            error.contains("oidc-login.key") && error.contains("5 bytes"),
            "{error}"
        );
    }
}
