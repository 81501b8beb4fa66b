//! The certificate doctor: every check of the spec's doctor section, each an
//! ok / warn / fail [`Check`] with a one-sentence fix. It never fails as a
//! whole: problems are checks. Time is a parameter (`now`).
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::PkiError;
use crate::signing::JwtAlgorithm;
use crate::store::{
    is_keyring_url, read_certs, read_private_key, KeyEntry, Keystore, KeystoreParams,
    TruststoreParams,
};
use crate::tls::{IgnoreHostName, VerifySetting};
use crate::x509::{key_matches_cert, CertInfo, KeyKind, San};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works today, needs attention.
    Warn,
    /// Broken.
    Fail,
}

impl Status {
    /// `ok`, `warn`, `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable identifier (`keystore.open`, `cert.hostname`, `connect.strict`, ...).
    pub id: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to do, in one sentence (absent when ok).
    pub fix: Option<String>,
}

impl Check {
    fn ok(id: &'static str, message: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }
    fn warn(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Inputs of [`doctor`].
#[derive(Debug, Clone)]
pub struct DoctorParams {
    /// The server keystore (or PEM key + certificate).
    pub keystore: Option<KeystoreParams>,
    /// The truststore.
    pub truststore: Option<TruststoreParams>,
    /// Host names clients use; each must be covered by the certificate.
    pub hostnames: Vec<String>,
    /// A live `host:port` to handshake with.
    pub connect: Option<String>,
    /// `zowe.verifyCertificates`: live results stricter than this warn, the
    /// configured mode and laxer ones fail.
    pub verify: VerifySetting,
    /// The current time.
    pub now: SystemTime,
    /// Warn when a certificate expires within this many days (default 30).
    pub expiry_warning_days: u32,
    /// Bound for connecting and the handshake.
    pub connect_timeout: Duration,
}

impl DoctorParams {
    /// Defaults: nothing configured, 30 days, 5 s timeout, STRICT.
    pub fn new(now: SystemTime) -> Self {
        Self {
            keystore: None,
            truststore: None,
            hostnames: Vec::new(),
            connect: None,
            verify: VerifySetting::Strict,
            now,
            expiry_warning_days: 30,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether any check failed.
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

fn unix(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// Short name for messages: the CN, else the whole subject.
fn label(info: &CertInfo) -> String {
    match &info.common_name {
        Some(cn) => format!("'{cn}'"),
        None => format!("'{}'", info.subject),
    }
}

/// Run every check that the inputs allow.
pub fn doctor(params: &DoctorParams) -> Vec<Check> {
    let mut checks = Vec::new();
    let trusted = check_truststore(params, &mut checks);
    if let Some(entry) = check_keystore(params, &mut checks) {
        check_certificate(params, &entry, trusted.as_deref(), &mut checks);
    }
    if let Some(target) = &params.connect {
        check_live(params, target, trusted.as_deref(), &mut checks);
    }
    checks
}

fn open_failure(id: &'static str, what: &str, config_key: &str, err: &PkiError) -> Check {
    match err {
        PkiError::WrongPassword { path } => Check::fail(
            id,
            format!("the {what} {} does not open with the configured password", path.display()),
            format!("set {config_key}.password to the password the {what} was created with (quote a `$` in shell commands)"),
        ),
        PkiError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => Check::fail(
            id,
            format!("the {what} {} does not exist", path.display()),
            if config_key.ends_with(".pem") {
                format!("run `zgate cert init`, or set {config_key}.key and {config_key}.certificate to existing files")
            } else {
                format!("run `zgate cert init`, or set {config_key}.file to an existing {what}")
            },
        ),
        PkiError::Read { path, source } => Check::fail(
            id,
            format!("the {what} {} cannot be read: {source}", path.display()),
            "give the zgate user read access to the file".to_string(),
        ),
        PkiError::Malformed { path, reason, .. } => Check::fail(
            id,
            format!("the {what} {} is not a readable PKCS12/PEM file: {reason}", path.display()),
            format!("convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12, or openssl pkcs12 -export) and set {config_key}.file to it"),
        ),
        PkiError::Keyring { url } => Check::warn(
            id,
            format!("{url} is a z/OS keyring, which can only be opened on z/OS"),
            "run the doctor on z/OS, or export the key ring to PKCS12 (RACDCERT EXPORT) to check it here",
        ),
        other => Check::fail(id, format!("the {what} cannot be used: {other}"), "fix the file or the configuration named in the message"),
    }
}

fn check_truststore(
    params: &DoctorParams,
    checks: &mut Vec<Check>,
) -> Option<Vec<CertificateDer<'static>>> {
    let Some(truststore) = &params.truststore else {
        checks.push(Check::warn(
            "truststore.open",
            "no truststore is configured, so no chain can be verified",
            "set zowe.certificate.truststore.file (zgate cert init writes one)",
        ));
        return None;
    };
    if let TruststoreParams::Pkcs12 { file, .. } = truststore {
        if is_keyring_url(&file.to_string_lossy()) {
            checks.push(open_failure(
                "truststore.open",
                "truststore",
                "zowe.certificate.truststore",
                &PkiError::Keyring {
                    url: file.display().to_string(),
                },
            ));
            return None;
        }
    }
    match crate::store::load_trusted(truststore) {
        Ok(certs) if certs.is_empty() => {
            checks.push(Check::fail(
                "truststore.open",
                "the truststore holds no trusted certificates",
                "import your CA certificates with `zgate cert import --ca FILE`",
            ));
            Some(certs)
        }
        Ok(certs) => {
            checks.push(Check::ok(
                "truststore.open",
                format!(
                    "the truststore opened and holds {} trusted certificate(s)",
                    certs.len()
                ),
            ));
            Some(certs)
        }
        Err(err) => {
            checks.push(open_failure(
                "truststore.open",
                "truststore",
                "zowe.certificate.truststore",
                &err,
            ));
            None
        }
    }
}

fn check_keystore(params: &DoctorParams, checks: &mut Vec<Check>) -> Option<KeyEntry> {
    let Some(keystore) = &params.keystore else {
        checks.push(Check::fail(
            "keystore.open",
            "no keystore is configured",
            "run `zgate cert init`, or set zowe.certificate.keystore.file (or pem.key and pem.certificate)",
        ));
        return None;
    };
    match keystore {
        KeystoreParams::Pkcs12 {
            file,
            password,
            alias,
        } => {
            if is_keyring_url(&file.to_string_lossy()) {
                checks.push(open_failure(
                    "keystore.open",
                    "keystore",
                    "zowe.certificate.keystore",
                    &PkiError::Keyring {
                        url: file.display().to_string(),
                    },
                ));
                return None;
            }
            let store = match Keystore::read_pkcs12(file, password) {
                Ok(store) => store,
                Err(err) => {
                    checks.push(open_failure(
                        "keystore.open",
                        "keystore",
                        "zowe.certificate.keystore",
                        &err,
                    ));
                    return None;
                }
            };
            checks.push(Check::ok(
                "keystore.open",
                format!(
                    "the keystore {} opened with the configured password",
                    file.display()
                ),
            ));
            let entry = match alias {
                Some(alias) => store.key(alias).cloned(),
                None if store.keys.len() == 1 => store.keys.first().cloned(),
                None => None,
            };
            let shown = alias.clone().unwrap_or_else(|| "(not set)".into());
            let Some(entry) = entry else {
                let holds_cert_only = alias.as_ref().is_some_and(|a| {
                    store
                        .trusted
                        .iter()
                        .any(|t| t.alias.eq_ignore_ascii_case(a))
                });
                let message = if holds_cert_only {
                    format!("alias '{shown}' holds only a trusted certificate, not a private key")
                } else {
                    format!(
                        "alias '{shown}' is not a private key entry; the keystore's key aliases are: {}",
                        store.key_aliases()
                    )
                };
                let fix = if store.keys.is_empty() {
                    "import the private key and its certificate with `zgate cert import`"
                        .to_string()
                } else {
                    format!(
                        "set zowe.certificate.keystore.alias to one of: {}",
                        store.key_aliases()
                    )
                };
                checks.push(Check::fail("keystore.alias", message, fix));
                return None;
            };
            checks.push(Check::ok(
                "keystore.alias",
                format!(
                    "alias '{}' holds a private key and {} certificate(s)",
                    entry.alias,
                    entry.chain.len()
                ),
            ));
            check_key_match(&entry, checks).then_some(entry)
        }
        KeystoreParams::Loaded { name, entry } => {
            checks.push(Check::ok("keystore.open", format!("{name} was read")));
            check_key_match(entry, checks).then(|| (**entry).clone())
        }
        KeystoreParams::Pem { key, certificate } => {
            let loaded =
                read_private_key(key).and_then(|k| read_certs(certificate).map(|c| (k, c)));
            match loaded {
                Ok((key, chain)) => {
                    checks.push(Check::ok(
                        "keystore.open",
                        "the PEM key and certificate were read",
                    ));
                    let entry = KeyEntry {
                        alias: "pem".into(),
                        key,
                        chain,
                    };
                    check_key_match(&entry, checks).then_some(entry)
                }
                Err(err) => {
                    checks.push(open_failure(
                        "keystore.open",
                        "PEM key or certificate",
                        "zowe.certificate.pem",
                        &err,
                    ));
                    None
                }
            }
        }
    }
}

/// Returns whether the later certificate checks make sense.
fn check_key_match(entry: &KeyEntry, checks: &mut Vec<Check>) -> bool {
    let Some(leaf) = entry.chain.first() else {
        checks.push(Check::fail(
            "keystore.key_matches",
            "the key entry has no certificate",
            "import the certificate issued for this key with `zgate cert import`",
        ));
        return false;
    };
    match key_matches_cert(entry.key.pkcs8_der(), leaf) {
        Ok(true) => {
            checks.push(Check::ok(
                "keystore.key_matches",
                "the private key matches the certificate",
            ));
            true
        }
        Ok(false) => {
            let subject = CertInfo::parse(leaf).map(|i| label(&i)).unwrap_or_default();
            checks.push(Check::fail(
                "keystore.key_matches",
                format!("the private key does not belong to the certificate {subject}"),
                "import the key together with the certificate that was issued for it (`zgate cert import --key KEY --cert CHAIN`)",
            ));
            // The certificate itself can still be examined.
            true
        }
        Err(err) => {
            checks.push(Check::fail(
                "keystore.key_matches",
                format!("the key or certificate cannot be read: {err}"),
                "re-export the key as unencrypted PKCS#8 and the certificate as PEM",
            ));
            false
        }
    }
}

fn check_certificate(
    params: &DoctorParams,
    entry: &KeyEntry,
    trusted: Option<&[CertificateDer<'static>]>,
    checks: &mut Vec<Check>,
) {
    let now = unix(params.now);
    let infos: Vec<(CertificateDer<'static>, CertInfo)> = entry
        .chain
        .iter()
        .filter_map(|c| CertInfo::parse(c).ok().map(|i| (c.clone(), i)))
        .collect();
    let Some((leaf_der, leaf)) = infos.first().cloned() else {
        checks.push(Check::fail(
            "cert.parse",
            "the certificate cannot be parsed",
            "re-export the certificate in DER or PEM form",
        ));
        return;
    };

    // Chain to the truststore, walking issuers through the keystore chain.
    let mut path: Vec<(CertificateDer<'static>, CertInfo)> = vec![(leaf_der.clone(), leaf.clone())];
    let mut anchor: Option<CertInfo> = None;
    if let Some(trusted) = trusted {
        while let Some((current_der, current)) = path.last().cloned() {
            if trusted.contains(&current_der) {
                anchor = Some(current);
                break;
            }
            if let Some(t) = trusted
                .iter()
                .find(|t| CertInfo::signed_by(&current_der, t))
            {
                anchor = CertInfo::parse(t).ok();
                break;
            }
            if current.is_self_issued() {
                break;
            }
            let next = infos
                .iter()
                .find(|(d, i)| {
                    i.subject_raw == current.issuer_raw && !path.iter().any(|(p, _)| p == d)
                })
                .cloned();
            match next {
                Some(next) => path.push(next),
                None => break,
            }
        }
        match &anchor {
            Some(a) => checks.push(Check::ok(
                "chain.trusted",
                format!("the chain leads to {} in the truststore", label(a)),
            )),
            None => {
                let top = path
                    .last()
                    .map(|(_, i)| i.clone())
                    .unwrap_or_else(|| leaf.clone());
                let missing = if top.is_self_issued() {
                    label(&top)
                } else {
                    format!("'{}'", top.issuer)
                };
                checks.push(Check::fail(
                    "chain.trusted",
                    format!("the chain ends at {} and no certificate in the truststore issued it", label(&top)),
                    format!("import the CA certificate {missing} into the truststore (`zgate cert import --ca CA.pem`)"),
                ));
            }
        }
    }

    // Validity of every certificate on the path, plus the anchor.
    let mut dated: Vec<CertInfo> = path.iter().map(|(_, i)| i.clone()).collect();
    if let Some(a) = &anchor {
        if !dated
            .iter()
            .any(|d| d.spki_der == a.spki_der && d.subject_raw == a.subject_raw)
        {
            dated.push(a.clone());
        }
    }
    let warn_secs = i64::from(params.expiry_warning_days) * 86_400;
    for info in &dated {
        let who = label(info);
        let check = if now > info.not_after {
            Check::fail(
                "cert.validity",
                format!("{who} expired on {}", date(info.not_after)),
                "renew it (`zgate cert init --force` for the local CA setup, or import a renewed certificate)",
            )
        } else if now < info.not_before {
            Check::fail(
                "cert.validity",
                format!("{who} is not valid before {}", date(info.not_before)),
                "check this machine's clock, or reissue the certificate with a start date in the past",
            )
        } else if info.not_after - now < warn_secs {
            let days = (info.not_after - now) / 86_400;
            Check::warn(
                "cert.validity",
                format!(
                    "{who} expires in {days} day(s), on {}",
                    date(info.not_after)
                ),
                format!("renew it before {}", date(info.not_after)),
            )
        } else {
            Check::ok(
                "cert.validity",
                format!("{who} is valid until {}", date(info.not_after)),
            )
        };
        checks.push(check);
    }

    // Host names.
    let sans: Vec<String> = leaf.sans.iter().map(San::to_string).collect();
    for host in &params.hostnames {
        if leaf.covers_host(host) {
            let how = if leaf.sans.is_empty() {
                "its CN"
            } else {
                "its SAN"
            };
            checks.push(Check::ok(
                "cert.hostname",
                format!("'{host}' is covered by {how}"),
            ));
            if leaf.sans.is_empty() {
                checks.push(Check::warn(
                    "cert.hostname",
                    format!("'{host}' matches only the CN; browsers and Java ignore the CN when checking names"),
                    "reissue the certificate with the host names in the subject alternative name",
                ));
            }
        } else {
            let flag = if host.parse::<std::net::IpAddr>().is_ok() {
                "--ip"
            } else {
                "--hostname"
            };
            checks.push(Check::fail(
                "cert.hostname",
                format!(
                    "'{host}' is not in the certificate's subject alternative names ({})",
                    if sans.is_empty() { "none".to_string() } else { sans.join(", ") }
                ),
                format!("regenerate with `zgate cert init --force {flag} {host}`, or have your CA add {host} to the SAN"),
            ));
        }
    }

    // Extended key usage.
    match leaf.eku {
        None => checks.push(Check::ok(
            "cert.eku",
            "no extended key usage: valid for server and client use",
        )),
        Some(eku) if eku.any || (eku.server_auth && eku.client_auth) => checks.push(Check::ok(
            "cert.eku",
            "extended key usage has serverAuth and clientAuth",
        )),
        Some(eku) => {
            let has = match (eku.server_auth, eku.client_auth) {
                (true, false) => "serverAuth but not clientAuth",
                (false, true) => "clientAuth but not serverAuth",
                _ => "neither serverAuth nor clientAuth",
            };
            checks.push(Check::fail(
                "cert.eku",
                format!("extended key usage has {has}; Zowe servers are also clients of each other"),
                "reissue the certificate with both serverAuth and clientAuth (zgate cert init does), or with no EKU",
            ));
        }
    }

    // Key strength and signature hash, for the leaf and its issuers (a
    // trust anchor's self-signature is never checked, so it is exempt).
    for (index, info) in dated.iter().enumerate() {
        let who = label(info);
        match &info.key {
            KeyKind::Rsa { bits } if *bits < 2048 => checks.push(Check::fail(
                "cert.key_size",
                format!("{who} has a {bits}-bit RSA key; at least 2048 bits are required"),
                "generate a new 2048-bit (or larger) RSA key and certificate",
            )),
            KeyKind::Rsa { bits } => checks.push(Check::ok(
                "cert.key_size",
                format!("{who} has a {bits}-bit RSA key"),
            )),
            KeyKind::Ec { curve } if curve == "P-256" || curve == "P-384" || curve == "P-521" => {
                checks.push(Check::ok(
                    "cert.key_size",
                    format!("{who} has an EC {curve} key"),
                ))
            }
            KeyKind::Ec { curve } => checks.push(Check::warn(
                "cert.key_size",
                format!("{who} uses EC curve {curve}, which TLS clients rarely support"),
                "use a P-256 key (zgate cert init --key-type ec)",
            )),
            KeyKind::Other(oid) => checks.push(Check::warn(
                "cert.key_size",
                format!("{who} uses key algorithm {oid}"),
                "use an RSA 2048 or EC P-256 key",
            )),
        }
        let is_anchor_self_signature = info.is_self_issued() && index > 0;
        if info.weak_signature_hash && !is_anchor_self_signature {
            checks.push(Check::fail(
                "cert.signature",
                format!(
                    "{who} is signed with {}, which TLS clients reject",
                    info.signature_algorithm
                ),
                "reissue the certificate with a SHA-256 signature (e.g. openssl ... -sha256)",
            ));
        } else if index == 0 {
            checks.push(Check::ok(
                "cert.signature",
                format!("{who} is signed with {}", info.signature_algorithm),
            ));
        }
    }

    // JWT signing.
    match JwtAlgorithm::for_key(&leaf.key) {
        Ok(alg) => checks.push(Check::ok(
            "jwt.algorithm",
            format!("the key can sign JWTs with {}", alg.as_str()),
        )),
        Err(why) => checks.push(Check::fail(
            "jwt.algorithm",
            format!("the key cannot sign JWTs: {why}"),
            "use an RSA key of 2048 bits or more (RS256) or an EC P-256 key (ES256)",
        )),
    }
}

struct Handshake {
    version: String,
    cipher: String,
    chain: Vec<CertificateDer<'static>>,
}

fn split_target(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    (!host.is_empty()).then_some((host, port))
}

fn handshake(target: &str, host: &str, port: u16, timeout: Duration) -> Result<Handshake, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(crate::tls::AcceptAnyServer::new(provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("bad host name: {e}"))?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{target} does not resolve"))?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown")
        .to_string();
    conn.send_close_notify();
    let _ = conn.write_tls(&mut tcp);
    let _ = tcp.flush();
    let mut sink = [0u8; 1];
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = tcp.read(&mut sink);
    let chain = recorder.presented_chain();
    Ok(Handshake {
        version,
        cipher,
        chain,
    })
}

fn check_live(
    params: &DoctorParams,
    target: &str,
    trusted: Option<&[CertificateDer<'static>]>,
    checks: &mut Vec<Check>,
) {
    let Some((host, port)) = split_target(target) else {
        checks.push(Check::fail(
            "connect.handshake",
            format!("'{target}' is not HOST:PORT"),
            "give --connect as HOST:PORT, e.g. localhost:7554",
        ));
        return;
    };
    let shake = match handshake(target, &host, port, params.connect_timeout) {
        Ok(shake) => shake,
        Err(why) => {
            checks.push(Check::fail(
                "connect.handshake",
                format!("no TLS handshake with {target}: {why}"),
                "check that the server is running, the host and port are right, and it speaks TLS",
            ));
            return;
        }
    };
    let presented: Vec<String> = shake
        .chain
        .iter()
        .map(|c| {
            CertInfo::parse(c)
                .map(|i| label(&i))
                .unwrap_or_else(|_| "(unparsable)".into())
        })
        .collect();
    checks.push(Check::ok(
        "connect.handshake",
        format!(
            "{target} negotiated {} with {}; it presented {}",
            shake.version,
            shake.cipher,
            presented.join(" <- ")
        ),
    ));
    let Some((leaf, intermediates)) = shake.chain.split_first() else {
        checks.push(Check::fail(
            "connect.chain",
            "the server presented no certificate",
            "configure the server with its certificate and key",
        ));
        return;
    };
    let name = match ServerName::try_from(host.clone()) {
        Ok(name) => name,
        Err(_) => return,
    };
    let now = UnixTime::since_unix_epoch(params.now.duration_since(UNIX_EPOCH).unwrap_or_default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = trusted.and_then(|t| crate::tls::webpki_verifier(t.to_vec(), provider).ok());
    let rank = |s: VerifySetting| match s {
        VerifySetting::Strict => 2,
        VerifySetting::NonStrict => 1,
        VerifySetting::Disabled => 0,
    };
    for (id, mode) in [
        ("connect.strict", VerifySetting::Strict),
        ("connect.nonstrict", VerifySetting::NonStrict),
    ] {
        let stricter_than_configured = rank(mode) > rank(params.verify);
        let result = match &verifier {
            None => Err("there is no usable truststore".to_string()),
            Some(v) => {
                let outcome = if mode == VerifySetting::Strict {
                    v.verify_server_cert(leaf, intermediates, &name, &[], now)
                } else {
                    IgnoreHostName { inner: v.clone() }.verify_server_cert(
                        leaf,
                        intermediates,
                        &name,
                        &[],
                        now,
                    )
                };
                outcome.map(|_| ()).map_err(|e| e.to_string())
            }
        };
        let mode_name = if mode == VerifySetting::Strict {
            "STRICT"
        } else {
            "NONSTRICT"
        };
        match result {
            Ok(()) => checks.push(Check::ok(
                id,
                format!("under {mode_name} the server is trusted"),
            )),
            Err(why) => {
                let fix = if why.contains("not valid for name") {
                    format!("add '{host}' to the server certificate's SAN, or connect with a name the certificate lists")
                } else if why.contains("UnknownIssuer")
                    || why.contains("BadSignature")
                    || why.contains("no usable truststore")
                {
                    // BadSignature: a trusted CA has the issuer's name but did not sign it.
                    "import the CA that issued the server's certificate into the truststore, or make the server send its full chain".to_string()
                } else if why.contains("Expired") {
                    "renew the server's certificate".to_string()
                } else {
                    "fix the server certificate named in the message".to_string()
                };
                let mut message = format!("under {mode_name} the server is rejected: {why}");
                if why.contains("BadSignature") {
                    message.push_str(" (a trusted CA has the issuer's name but did not sign the server's certificate)");
                }
                checks.push(if stricter_than_configured {
                    Check::warn(id, message, fix)
                } else {
                    Check::fail(id, message, fix)
                });
            }
        }
    }
    checks.push(if params.verify == VerifySetting::Disabled {
        Check::warn(
            "connect.disabled",
            "under DISABLED (the configured mode) the server is accepted, as any server would be",
            "set zowe.verifyCertificates to STRICT once the checks above pass",
        )
    } else {
        Check::ok(
            "connect.disabled",
            "under DISABLED the server would be accepted, as any server would be",
        )
    });
}
