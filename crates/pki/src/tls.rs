//! rustls configurations from zgate's keystores: the gateway's server config
//! (client certificates requested, not required, and verified against the
//! truststore) and client configs under the three `verifyCertificates` modes.
//!
//! `DISABLED` trusts any server; it is reachable only through
//! [`VerifyMode::dangerous_disabled`] / [`VerifyMode::dangerous_from_setting`].
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedCipherSuite,
};

use crate::error::{PkiError, Result};
use crate::store::{load_key, load_trusted, KeystoreParams, TruststoreParams};

/// Zowe's default cipher list (IANA names, in order of preference).
pub const DEFAULT_CIPHERS: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
];

/// The key exchange groups (`curves`) zgate offers: everything its TLS
/// library (rustls with the `ring` provider) implements. Each is known by the
/// name Zowe and Java use first, then by OpenSSL's and NIST's names.
/// secp521r1, x448, the FFDHE groups and the post-quantum hybrids are not
/// implemented by `ring`, so a configuration naming them is refused rather
/// than quietly negotiated without them.
pub static CURVES: &[(&[&str], &dyn SupportedKxGroup)] = &[
    (&["x25519"], rustls::crypto::ring::kx_group::X25519),
    (
        &["secp256r1", "prime256v1", "P-256"],
        rustls::crypto::ring::kx_group::SECP256R1,
    ),
    (
        &["secp384r1", "P-384"],
        rustls::crypto::ring::kx_group::SECP384R1,
    ),
];

/// ALPN protocols the server offers, in order.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// A TLS protocol version (`TLSv1.2`, `TLSv1.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2
    Tls12,
    /// TLS 1.3
    Tls13,
}

impl std::str::FromStr for TlsVersion {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tlsv1.2" | "tls1.2" | "1.2" => Ok(TlsVersion::Tls12),
            "tlsv1.3" | "tls1.3" | "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(PkiError::InvalidInput(format!(
                "TLS version `{s}` is not supported; use TLSv1.2 or TLSv1.3"
            ))),
        }
    }
}

/// Whether the server asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never ask.
    None,
    /// Ask; accept the connection without one; verify one that is sent
    /// against the truststore (Zowe's "want").
    #[default]
    Want,
}

/// Inputs of [`server_config`].
#[derive(Debug, Clone)]
pub struct ServerTlsParams {
    /// The server key and certificate chain.
    pub keystore: KeystoreParams,
    /// CAs for client certificates.
    pub truststore: Option<TruststoreParams>,
    /// Lowest version offered (default TLSv1.2).
    pub min_tls: TlsVersion,
    /// Highest version offered (default TLSv1.3).
    pub max_tls: TlsVersion,
    /// IANA cipher suite names in preference order; empty = [`DEFAULT_CIPHERS`].
    pub ciphers: Vec<String>,
    /// Key exchange groups in preference order (names in [`CURVES`]);
    /// empty = all of them.
    pub curves: Vec<String>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
}

impl ServerTlsParams {
    /// Defaults (TLS 1.2–1.3, default ciphers, client auth "want").
    pub fn new(keystore: KeystoreParams, truststore: Option<TruststoreParams>) -> Self {
        Self {
            keystore,
            truststore,
            min_tls: TlsVersion::Tls12,
            max_tls: TlsVersion::Tls13,
            ciphers: Vec::new(),
            curves: Vec::new(),
            client_auth: ClientAuth::Want,
        }
    }
}

/// The cipher suites rustls (ring) offers for `names`, and the names it
/// does not offer. TLS 1.3 names may be given as `TLS_AES_...` (IANA) or
/// `TLS13_AES_...` (rustls).
pub fn select_cipher_suites(names: &[String]) -> (Vec<SupportedCipherSuite>, Vec<String>) {
    let available = rustls::crypto::ring::ALL_CIPHER_SUITES;
    let defaults: Vec<String>;
    let names = if names.is_empty() {
        defaults = DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect();
        &defaults[..]
    } else {
        names
    };
    let mut chosen = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let wanted = name.trim().to_ascii_uppercase();
        let found = available.iter().find(|suite| {
            let own = suite.suite().as_str().unwrap_or_default();
            own == wanted || own.replacen("TLS13_", "TLS_", 1) == wanted
        });
        match found {
            Some(suite) if !chosen.contains(suite) => chosen.push(*suite),
            Some(_) => {}
            None => unsupported.push(name.trim().to_string()),
        }
    }
    (chosen, unsupported)
}

/// The key exchange groups for `names`, in their order (duplicates
/// dropped); every group zgate offers when `names` is empty. A name that is
/// not in [`CURVES`] is an error, not left out: a connection that silently
/// used other groups than the configured ones would be worse than none.
pub fn select_curves(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>> {
    if names.is_empty() {
        return Ok(CURVES.iter().map(|(_, group)| *group).collect());
    }
    let mut chosen: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let name = name.trim();
        let found = CURVES
            .iter()
            .find(|(aliases, _)| aliases.iter().any(|a| a.eq_ignore_ascii_case(name)));
        match found {
            Some((_, group)) if !chosen.iter().any(|c| c.name() == group.name()) => {
                chosen.push(*group)
            }
            Some(_) => {}
            None => unsupported.push(name.to_string()),
        }
    }
    if unsupported.is_empty() {
        Ok(chosen)
    } else {
        Err(PkiError::UnsupportedCurves { names: unsupported })
    }
}

fn provider(
    ciphers: &[String],
    curves: &[String],
    min: TlsVersion,
    max: TlsVersion,
) -> Result<(CryptoProvider, Vec<String>)> {
    if min > max {
        return Err(PkiError::InvalidInput(
            "minTls is higher than maxTls".into(),
        ));
    }
    let (mut suites, unsupported) = select_cipher_suites(ciphers);
    suites.retain(|s| match s {
        SupportedCipherSuite::Tls13(_) => max >= TlsVersion::Tls13,
        SupportedCipherSuite::Tls12(_) => min <= TlsVersion::Tls12,
    });
    if suites.is_empty() {
        return Err(PkiError::NoUsableCipherSuite);
    }
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = suites;
    provider.kx_groups = select_curves(curves)?;
    Ok((provider, unsupported))
}

fn versions(min: TlsVersion, max: TlsVersion) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let mut out = Vec::new();
    if max >= TlsVersion::Tls13 {
        out.push(&rustls::version::TLS13);
    }
    if min <= TlsVersion::Tls12 {
        out.push(&rustls::version::TLS12);
    }
    out
}

fn root_store(certs: Vec<CertificateDer<'static>>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let (_, rejected) = roots.add_parsable_certificates(certs);
    if rejected > 0 && roots.is_empty() {
        return Err(PkiError::Tls(
            "no certificate in the truststore can be used as a trust anchor".into(),
        ));
    }
    Ok(roots)
}

/// Build the gateway's server config. Fails with
/// [`PkiError::UnsupportedCipherSuites`] when a configured cipher name is
/// not offered; see [`server_config_with_warnings`] to continue without them.
pub fn server_config(params: &ServerTlsParams) -> Result<rustls::ServerConfig> {
    let (config, unsupported) = build_server(params)?;
    if !unsupported.is_empty() && !params.ciphers.is_empty() {
        return Err(PkiError::UnsupportedCipherSuites { names: unsupported });
    }
    Ok(config)
}

/// Like [`server_config`], but configured cipher names the TLS library
/// does not offer are left out and returned as warnings to log. The default
/// list (no names configured) gives no warning: it is Zowe's, and what it
/// names that zgate does not offer (its CBC suites) is not the user's doing.
pub fn server_config_with_warnings(
    params: &ServerTlsParams,
) -> Result<(rustls::ServerConfig, Vec<String>)> {
    let (config, unsupported) = build_server(params)?;
    Ok((config, cipher_warnings(&params.ciphers, unsupported)))
}

/// One warning per configured cipher suite that was left out; none for the
/// default list.
fn cipher_warnings(configured: &[String], unsupported: Vec<String>) -> Vec<String> {
    if configured.is_empty() {
        return Vec::new();
    }
    unsupported
        .into_iter()
        .map(|name| {
            format!("cipher suite {name} is not offered by zgate's TLS library and was left out")
        })
        .collect()
}

fn build_server(params: &ServerTlsParams) -> Result<(rustls::ServerConfig, Vec<String>)> {
    let material = TlsMaterial::load(&params.keystore, params.truststore.as_ref())?;
    build_server_from(params, &material)
}

/// What a TLS configuration is made of, whatever it was read from: the
/// server's key and chain (which the gateway also presents to services) and
/// the trust anchors (for client certificates and for services).
#[derive(Clone)]
pub struct TlsMaterial {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key: crate::store::PrivateKey,
    /// The trusted certificates (empty: none configured).
    pub trust_anchors: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("chain", &self.chain.len())
            .field("trust_anchors", &self.trust_anchors.len())
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Reads the key entry of `keystore` and every certificate of
    /// `truststore`.
    pub fn load(keystore: &KeystoreParams, truststore: Option<&TruststoreParams>) -> Result<Self> {
        let entry = load_key(keystore)?;
        let trust_anchors = match truststore {
            Some(truststore) => load_trusted(truststore)?,
            None => Vec::new(),
        };
        Ok(TlsMaterial {
            chain: entry.chain,
            key: entry.key,
            trust_anchors,
        })
    }

    /// The leaf certificate, checked for what would make it unusable as a
    /// replacement: no leaf, a key that is not the leaf's, or a validity
    /// period that does not hold `now` (seconds since the epoch).
    pub fn check_leaf(&self, now: i64) -> Result<crate::x509::CertInfo> {
        let leaf = self
            .chain
            .first()
            .ok_or_else(|| PkiError::InvalidInput("the key entry holds no certificate".into()))?;
        let info = crate::x509::CertInfo::parse(leaf)?;
        if !crate::x509::key_matches_cert(self.key.pkcs8_der(), leaf)? {
            return Err(PkiError::KeyMismatch {
                subject: info.subject,
            });
        }
        if now < info.not_before || now > info.not_after {
            return Err(PkiError::NotValidNow {
                subject: info.subject,
                not_before: info.not_before,
                not_after: info.not_after,
            });
        }
        Ok(info)
    }
}

/// The gateway's server config for `material`, with the versions, ciphers,
/// curves and client certificate policy of `params` (its keystore and
/// truststore are not read), and the names of configured cipher suites left
/// out, as [`server_config_with_warnings`] gives them.
pub fn server_config_from(
    params: &ServerTlsParams,
    material: &TlsMaterial,
) -> Result<(rustls::ServerConfig, Vec<String>)> {
    let (config, unsupported) = build_server_from(params, material)?;
    Ok((config, cipher_warnings(&params.ciphers, unsupported)))
}

fn build_server_from(
    params: &ServerTlsParams,
    material: &TlsMaterial,
) -> Result<(rustls::ServerConfig, Vec<String>)> {
    let (provider, unsupported) = provider(
        &params.ciphers,
        &params.curves,
        params.min_tls,
        params.max_tls,
    )?;
    let provider = Arc::new(provider);
    let tls_err = |e: rustls::Error| PkiError::Tls(e.to_string());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(params.min_tls, params.max_tls))
        .map_err(tls_err)?;
    let verifier = match params.client_auth {
        ClientAuth::Want if !material.trust_anchors.is_empty() => {
            let roots = root_store(material.trust_anchors.clone())?;
            if roots.is_empty() {
                WebPkiClientVerifier::no_client_auth()
            } else {
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| PkiError::Tls(e.to_string()))?
            }
        }
        _ => WebPkiClientVerifier::no_client_auth(),
    };
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain.clone(), material.key.to_rustls())
        .map_err(|e| PkiError::Tls(format!("the server key or certificate cannot be used: {e}")))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok((config, unsupported))
}

/// `zowe.verifyCertificates` as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifySetting {
    /// Chain to the truststore and host name match.
    #[default]
    Strict,
    /// Chain to the truststore; host name not checked.
    NonStrict,
    /// Trust anything.
    Disabled,
}

impl std::str::FromStr for VerifySetting {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "" | "STRICT" => Ok(VerifySetting::Strict),
            "NONSTRICT" => Ok(VerifySetting::NonStrict),
            "DISABLED" => Ok(VerifySetting::Disabled),
            _ => Err(PkiError::InvalidInput(format!(
                "zowe.verifyCertificates `{s}` is not one of STRICT, NONSTRICT, DISABLED"
            ))),
        }
    }
}

/// Proof that the caller asked for no verification, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DangerousNoVerification(());

/// How a client verifies servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Chain to the truststore and host name match.
    Strict,
    /// Chain to the truststore; host name not checked.
    NonStrict,
    /// Trust any server (a client certificate is still presented when
    /// the server asks for one).
    Disabled(DangerousNoVerification),
}

impl VerifyMode {
    /// DISABLED: any server is trusted. Use only when the configuration says so.
    pub fn dangerous_disabled() -> Self {
        VerifyMode::Disabled(DangerousNoVerification(()))
    }

    /// The mode the configuration names, DISABLED included.
    pub fn dangerous_from_setting(setting: VerifySetting) -> Self {
        match setting {
            VerifySetting::Strict => VerifyMode::Strict,
            VerifySetting::NonStrict => VerifyMode::NonStrict,
            VerifySetting::Disabled => VerifyMode::dangerous_disabled(),
        }
    }
}

/// Inputs of [`client_config`].
#[derive(Debug, Clone)]
pub struct ClientTlsParams {
    /// Trusted CAs (required unless DISABLED).
    pub truststore: Option<TruststoreParams>,
    /// A client certificate to present when the server asks (in every mode).
    pub client_cert: Option<KeystoreParams>,
    /// Lowest version (default TLSv1.2).
    pub min_tls: TlsVersion,
    /// Highest version (default TLSv1.3).
    pub max_tls: TlsVersion,
    /// IANA names; empty = [`DEFAULT_CIPHERS`] (unsupported ones left out).
    pub ciphers: Vec<String>,
    /// Key exchange groups in preference order (names in [`CURVES`]);
    /// empty = all of them.
    pub curves: Vec<String>,
}

impl ClientTlsParams {
    /// Defaults around a truststore.
    pub fn new(truststore: Option<TruststoreParams>) -> Self {
        Self {
            truststore,
            client_cert: None,
            min_tls: TlsVersion::Tls12,
            max_tls: TlsVersion::Tls13,
            ciphers: Vec::new(),
            curves: Vec::new(),
        }
    }
}

/// Build a client config for calling services (and for the doctor). Fails
/// with [`PkiError::UnsupportedCipherSuites`] when a configured cipher name
/// is not offered; see [`client_config_with_warnings`] to continue without
/// them.
pub fn client_config(params: &ClientTlsParams, mode: VerifyMode) -> Result<rustls::ClientConfig> {
    let (config, unsupported) = build_client(params, mode)?;
    if !unsupported.is_empty() && !params.ciphers.is_empty() {
        return Err(PkiError::UnsupportedCipherSuites { names: unsupported });
    }
    Ok(config)
}

/// Like [`client_config`], but configured cipher names the TLS library does
/// not offer are left out and returned as warnings to log (none for the
/// default list), as [`server_config_with_warnings`] does.
pub fn client_config_with_warnings(
    params: &ClientTlsParams,
    mode: VerifyMode,
) -> Result<(rustls::ClientConfig, Vec<String>)> {
    let (config, unsupported) = build_client(params, mode)?;
    Ok((config, cipher_warnings(&params.ciphers, unsupported)))
}

fn build_client(
    params: &ClientTlsParams,
    mode: VerifyMode,
) -> Result<(rustls::ClientConfig, Vec<String>)> {
    let trust_anchors = match (&params.truststore, mode) {
        (Some(truststore), VerifyMode::Strict | VerifyMode::NonStrict) => load_trusted(truststore)?,
        _ => Vec::new(),
    };
    let certificate = match &params.client_cert {
        Some(keystore) => {
            let entry = load_key(keystore)?;
            Some((entry.chain, entry.key))
        }
        None => None,
    };
    build_client_from(
        params,
        mode,
        &trust_anchors,
        certificate
            .as_ref()
            .map(|(chain, key)| (chain.as_slice(), key)),
    )
}

/// A client config for calling services from `material`: its trust anchors
/// verify the services (unless DISABLED), and its key and chain are
/// presented when a service asks for a client certificate (in every mode).
/// The versions, ciphers and curves are `params`'; its stores are not read.
pub fn client_config_from(
    params: &ClientTlsParams,
    mode: VerifyMode,
    material: &TlsMaterial,
) -> Result<(rustls::ClientConfig, Vec<String>)> {
    let (config, unsupported) = build_client_from(
        params,
        mode,
        &material.trust_anchors,
        Some((material.chain.as_slice(), &material.key)),
    )?;
    Ok((config, cipher_warnings(&params.ciphers, unsupported)))
}

fn build_client_from(
    params: &ClientTlsParams,
    mode: VerifyMode,
    trust_anchors: &[CertificateDer<'static>],
    certificate: Option<(&[CertificateDer<'static>], &crate::store::PrivateKey)>,
) -> Result<(rustls::ClientConfig, Vec<String>)> {
    let (provider, unsupported) = provider(
        &params.ciphers,
        &params.curves,
        params.min_tls,
        params.max_tls,
    )?;
    let provider = Arc::new(provider);
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        VerifyMode::Disabled(_) => Arc::new(AcceptAnyServer::new(provider.clone())),
        VerifyMode::Strict | VerifyMode::NonStrict => {
            if params.truststore.is_none() && trust_anchors.is_empty() {
                return Err(PkiError::InvalidInput(
                    "a truststore is required unless verifyCertificates is DISABLED; set zowe.certificate.truststore.file".into(),
                ));
            }
            let verifier = webpki_verifier(trust_anchors.to_vec(), provider.clone())?;
            if mode == VerifyMode::Strict {
                verifier
            } else {
                Arc::new(IgnoreHostName { inner: verifier })
            }
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(params.min_tls, params.max_tls))
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    // Whether the service is verified or not, a service that asks for a
    // client certificate gets one: the x509 scheme depends on it.
    let config = match certificate {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.to_vec(), key.to_rustls())
            .map_err(|e| {
                PkiError::Tls(format!("the client key or certificate cannot be used: {e}"))
            })?,
        None => builder.with_no_client_auth(),
    };
    Ok((config, unsupported))
}

/// A standard verifier over `roots`.
pub(crate) fn webpki_verifier(
    roots: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let roots = root_store(roots)?;
    if roots.is_empty() {
        return Err(PkiError::Tls("the truststore holds no certificates".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| PkiError::Tls(e.to_string()))
}

/// NONSTRICT: the standard verifier, with only the name mismatch forgiven
/// (rustls checks the name after the chain, so a name error means the chain
/// itself verified).
#[derive(Debug)]
pub(crate) struct IgnoreHostName {
    pub(crate) inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// DISABLED: any certificate; the handshake signature is still checked so
/// the session is at least bound to the key the server presented. It keeps
/// the chain the server presented last, which the doctor examines.
#[derive(Debug)]
pub(crate) struct AcceptAnyServer {
    provider: Arc<CryptoProvider>,
    presented: std::sync::Mutex<Vec<CertificateDer<'static>>>,
}

impl AcceptAnyServer {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        AcceptAnyServer {
            provider,
            presented: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The chain of the last server seen: end entity first.
    pub(crate) fn presented_chain(&self) -> Vec<CertificateDer<'static>> {
        self.presented
            .lock()
            .map(|chain| chain.clone())
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.presented.lock() {
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
