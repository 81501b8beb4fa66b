//! Generating key pairs and certificates: `cert init` (the PKCS12 scenario of
//! `zwe init certificate`, in Zowe's layout) and `cert client`.
//!
//! Time comes in through the parameters (`now`), so validity is exact in tests.
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::error::{PkiError, Result};
use crate::fsutil::{self, Staging, PUBLIC_FILE_MODE, SECRET_FILE_MODE};
use crate::store::{
    certs_to_pem, KeyEntry, Keystore, Pkcs12Encoding, PrivateKey, Secret, TrustedEntry,
};

/// Key algorithm for generated key pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// RSA 2048 with SHA-256 signatures (Zowe's default; JWT RS256).
    #[default]
    Rsa2048,
    /// ECDSA P-256 with SHA-256 (JWT ES256).
    EcP256,
}

/// Subject fields (`zowe.setup.certificate.dname.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dname {
    /// CN of the local CA.
    pub ca_common_name: String,
    /// CN of the server certificate.
    pub common_name: String,
    /// OU
    pub org_unit: String,
    /// O
    pub org: String,
    /// L
    pub locality: String,
    /// ST
    pub state: String,
    /// C
    pub country: String,
}

impl Default for Dname {
    fn default() -> Self {
        Self {
            ca_common_name: "Zowe Development Instances Certificate Authority".into(),
            common_name: "Zowe Service".into(),
            org_unit: "API Mediation Layer".into(),
            org: "Zowe Sample".into(),
            locality: "Prague".into(),
            state: "Prague".into(),
            country: "CZ".into(),
        }
    }
}

impl Dname {
    fn to_rcgen(&self, common_name: &str) -> DistinguishedName {
        // Pushed most-significant first, so the DER order is C, ST, L, O, OU, CN
        // as keytool writes `-dname "CN=..., OU=..., C=..."`.
        let mut dn = DistinguishedName::new();
        for (ty, value) in [
            (DnType::CountryName, &self.country),
            (DnType::StateOrProvinceName, &self.state),
            (DnType::LocalityName, &self.locality),
            (DnType::OrganizationName, &self.org),
            (DnType::OrganizationalUnitName, &self.org_unit),
        ] {
            if value.is_empty() {
                continue;
            }
            // RFC 5280: countryName is a PrintableString; strict readers
            // (GSKit among them) reject the UTF8String default.
            match (
                &ty,
                rcgen::string::PrintableString::try_from(value.as_str()),
            ) {
                (DnType::CountryName, Ok(printable)) => {
                    dn.push(ty, rcgen::DnValue::PrintableString(printable))
                }
                _ => dn.push(ty, value.as_str()),
            }
        }
        dn.push(DnType::CommonName, common_name);
        dn
    }

    /// RFC 4514 text of the subject with `common_name`.
    pub fn to_string_with_cn(&self, common_name: &str) -> String {
        let mut parts = vec![format!("CN={common_name}")];
        for (key, value) in [
            ("OU", &self.org_unit),
            ("O", &self.org),
            ("L", &self.locality),
            ("ST", &self.state),
            ("C", &self.country),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key}={value}"));
            }
        }
        parts.join(", ")
    }

    /// The subject in RACF filter notation: `CN=x.OU=y.O=z.L=l.SP=s.C=c`.
    pub fn to_racf_filter(&self, common_name: &str) -> String {
        let mut parts = vec![format!("CN={common_name}")];
        for (key, value) in [
            ("OU", &self.org_unit),
            ("O", &self.org),
            ("L", &self.locality),
            ("SP", &self.state),
            ("C", &self.country),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key}={value}"));
            }
        }
        parts.join(".")
    }
}

/// Inputs of [`init`].
#[derive(Debug, Clone)]
pub struct InitParams {
    /// `pkcs12.directory`: the parent of `<ca_alias>/` and `<name>/`.
    pub dir: PathBuf,
    /// `pkcs12.name` (default `localhost`): server key alias and file prefix.
    pub name: String,
    /// `pkcs12.password` (default `password`).
    pub password: Secret,
    /// `pkcs12.caAlias` (default `local_ca`).
    pub ca_alias: String,
    /// `pkcs12.caPassword` (default `local_ca_password`).
    pub ca_password: Secret,
    /// Subject fields.
    pub dname: Dname,
    /// Validity in days (default 3650).
    pub validity_days: u32,
    /// Host names and IP literals; `localhost`, `localhost.localdomain` and
    /// `127.0.0.1` are always added.
    pub sans: Vec<String>,
    /// Key algorithm.
    pub key_type: KeyType,
    /// Write GSKit-compatible (legacy) PKCS12 encryption.
    pub legacy_pkcs12: bool,
    /// `importCertificateAuthorities`: PEM files whose certificates are added
    /// as `extca1`, `extca2`, ... to both stores.
    pub import_cas: Vec<PathBuf>,
    /// Replace existing output directories.
    pub force: bool,
    /// `pkcs12.lock`: directories 0700 and every file 0600.
    pub lock: bool,
    /// The current time (certificates are valid from it).
    pub now: SystemTime,
}

impl InitParams {
    /// Zowe's defaults for everything but `dir` and `now`.
    pub fn with_defaults(dir: PathBuf, now: SystemTime) -> Self {
        Self {
            dir,
            name: "localhost".into(),
            password: Secret::new("password"),
            ca_alias: "local_ca".into(),
            ca_password: Secret::new("local_ca_password"),
            dname: Dname::default(),
            validity_days: 3650,
            sans: Vec::new(),
            key_type: KeyType::Rsa2048,
            legacy_pkcs12: false,
            import_cas: Vec::new(),
            force: false,
            lock: false,
            now,
        }
    }
}

/// Where [`init`] wrote things (the runtime `zowe.certificate` values).
#[derive(Debug, Clone)]
pub struct InitReport {
    /// `<dir>/<ca>/<ca>.keystore.p12`
    pub ca_keystore: PathBuf,
    /// `<dir>/<ca>/<ca>.cer`
    pub ca_cert: PathBuf,
    /// `<dir>/<name>/<name>.keystore.p12` (`keystore.file`)
    pub keystore: PathBuf,
    /// `<dir>/<name>/<name>.truststore.p12` (`truststore.file`)
    pub truststore: PathBuf,
    /// `<dir>/<name>/<name>.cer` (`pem.certificate`)
    pub cert_pem: PathBuf,
    /// `<dir>/<name>/<name>.key` (`pem.key`)
    pub key_pem: PathBuf,
    /// `<dir>/<name>/<ca>.cer` (`pem.certificateAuthorities`)
    pub ca_pem: PathBuf,
    /// Key alias in the keystore (`keystore.alias`).
    pub alias: String,
    /// The SANs written, in order.
    pub sans: Vec<String>,
    /// Aliases of imported extra CAs.
    pub extra_ca_aliases: Vec<String>,
    /// Server certificate subject.
    pub subject: String,
    /// CA subject.
    pub ca_subject: String,
    /// End of validity.
    pub not_after: SystemTime,
}

/// A freshly generated key pair.
pub(crate) struct NewKey {
    pub(crate) pair: KeyPair,
}

impl NewKey {
    pub(crate) fn generate(key_type: KeyType) -> Result<Self> {
        let pair = match key_type {
            KeyType::Rsa2048 => {
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                    .map_err(|e| PkiError::Generate(format!("RSA key generation: {e}")))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| PkiError::Generate(format!("RSA key encoding: {e}")))?;
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()),
                    &rcgen::PKCS_RSA_SHA256,
                )
                .map_err(|e| PkiError::Generate(format!("RSA key: {e}")))?
            }
            KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| PkiError::Generate(format!("EC key generation: {e}")))?,
        };
        Ok(Self { pair })
    }

    fn private(&self) -> PrivateKey {
        PrivateKey::from_pkcs8_der(self.pair.serialize_der())
    }
}

/// Generate two keys at once: RSA generation dominates `cert init`, and the
/// two are independent.
fn generate_two(key_type: KeyType) -> Result<(NewKey, NewKey)> {
    std::thread::scope(|scope| {
        let first = scope.spawn(move || NewKey::generate(key_type));
        let second = NewKey::generate(key_type);
        let first = first
            .join()
            .map_err(|_| PkiError::Generate("key generation thread failed".into()))??;
        Ok((first, second?))
    })
}

pub(crate) fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| PkiError::Generate("no system randomness".into()))?;
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and full length
    Ok(SerialNumber::from_slice(&bytes))
}

fn validity(now: SystemTime, days: u32) -> Result<(time::OffsetDateTime, time::OffsetDateTime)> {
    if days == 0 {
        return Err(PkiError::InvalidInput(
            "validity must be at least 1 day".into(),
        ));
    }
    let start = time::OffsetDateTime::from(now);
    let end = start + time::Duration::days(i64::from(days));
    Ok((start, end))
}

fn check_name(kind: &str, value: &str) -> Result<()> {
    if value.is_empty()
        || value.contains(['/', '\\'])
        || value.starts_with('.')
        || value.chars().any(|c| c.is_control())
    {
        return Err(PkiError::InvalidInput(format!(
            "{kind} `{value}` cannot be used as a file name; use letters, digits, `_` or `-`"
        )));
    }
    Ok(())
}

fn check_password(kind: &str, password: &Secret) -> Result<()> {
    if password.expose().is_empty() {
        return Err(PkiError::InvalidInput(format!("{kind} must not be empty")));
    }
    if password.expose().chars().count() < 6 {
        return Err(PkiError::InvalidInput(format!(
            "{kind} must have at least 6 characters (keytool refuses shorter PKCS12 passwords)"
        )));
    }
    Ok(())
}

/// The SAN list: given names (trimmed, DNS names lower-cased), then the three
/// Zowe always adds, without duplicates.
pub fn server_sans(given: &[String]) -> Result<Vec<String>> {
    let mut sans: Vec<String> = Vec::new();
    for raw in
        given
            .iter()
            .map(String::as_str)
            .chain(["localhost", "localhost.localdomain", "127.0.0.1"])
    {
        let name = raw.trim().trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() {
            continue;
        }
        let normalized = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => {
                let lower = name.to_ascii_lowercase();
                if !lower.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '*' || c == '_'
                }) {
                    return Err(PkiError::InvalidInput(format!(
                        "`{raw}` is neither a host name nor an IP address"
                    )));
                }
                lower
            }
        };
        if !sans.contains(&normalized) {
            sans.push(normalized);
        }
    }
    Ok(sans)
}

fn read_extra_cas(files: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>> {
    let mut cas = Vec::new();
    for file in files {
        for cert in crate::store::read_certs(file)? {
            if !cas.contains(&cert) {
                cas.push(cert);
            }
        }
    }
    Ok(cas)
}

fn encoding(legacy: bool) -> Pkcs12Encoding {
    if legacy {
        Pkcs12Encoding::Legacy
    } else {
        Pkcs12Encoding::Modern
    }
}

/// `zgate cert init`: a local CA and a server certificate signed by it, in
/// Zowe's PKCS12 layout under `params.dir`. All or nothing: files are built in
/// a staging directory and renamed into place.
pub fn init(params: &InitParams) -> Result<InitReport> {
    check_name("pkcs12.name", &params.name)?;
    check_name("pkcs12.caAlias", &params.ca_alias)?;
    if params.name.eq_ignore_ascii_case(&params.ca_alias) {
        return Err(PkiError::InvalidInput(
            "pkcs12.name and pkcs12.caAlias must differ (they name two directories)".into(),
        ));
    }
    check_password("pkcs12.password", &params.password)?;
    check_password("pkcs12.caPassword", &params.ca_password)?;
    let name = params.name.to_ascii_lowercase();
    let ca_alias = params.ca_alias.to_ascii_lowercase();
    let sans = server_sans(&params.sans)?;
    let (not_before, not_after) = validity(params.now, params.validity_days)?;
    let extra_cas = read_extra_cas(&params.import_cas)?;
    // Refuse before doing any work when the outputs exist.
    if !params.force {
        for dir in [&ca_alias, &name] {
            let path = params.dir.join(dir);
            if path.exists() {
                return Err(PkiError::AlreadyExists { path });
            }
        }
    }

    let (ca_key, server_key) = generate_two(params.key_type)?;

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = params.dname.to_rcgen(&params.dname.ca_common_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    ca_params.serial_number = Some(random_serial()?);
    let ca_cert = ca_params
        .self_signed(&ca_key.pair)
        .map_err(|e| PkiError::Generate(format!("CA certificate: {e}")))?;
    let issuer = Issuer::new(ca_params, &ca_key.pair);

    let mut server_params = CertificateParams::new(sans.clone())
        .map_err(|e| PkiError::InvalidInput(format!("SAN list: {e}")))?;
    server_params.distinguished_name = params.dname.to_rcgen(&params.dname.common_name);
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.key_usages = match params.key_type {
        KeyType::Rsa2048 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
        KeyType::EcP256 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyAgreement,
        ],
    };
    server_params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = not_before;
    server_params.not_after = not_after;
    server_params.serial_number = Some(random_serial()?);
    let server_cert = server_params
        .signed_by(&server_key.pair, &issuer)
        .map_err(|e| PkiError::Generate(format!("server certificate: {e}")))?;

    let ca_der = ca_cert.der().clone();
    let server_der = server_cert.der().clone();
    let enc = encoding(params.legacy_pkcs12);

    let ca_store = Keystore {
        keys: vec![KeyEntry {
            alias: ca_alias.clone(),
            key: ca_key.private(),
            chain: vec![ca_der.clone()],
        }],
        trusted: Vec::new(),
    };
    let mut trusted = vec![TrustedEntry {
        alias: ca_alias.clone(),
        cert: ca_der.clone(),
    }];
    let mut extra_ca_aliases = Vec::new();
    for (i, cert) in extra_cas.iter().enumerate() {
        let alias = format!("extca{}", i + 1);
        extra_ca_aliases.push(alias.clone());
        trusted.push(TrustedEntry {
            alias,
            cert: cert.clone(),
        });
    }
    let server_store = Keystore {
        keys: vec![KeyEntry {
            alias: name.clone(),
            key: server_key.private(),
            chain: vec![server_der.clone(), ca_der.clone()],
        }],
        trusted: trusted.clone(),
    };
    let trust_store = Keystore {
        keys: Vec::new(),
        trusted,
    };

    let (dir_mode, public_mode) = if params.lock {
        (0o700, SECRET_FILE_MODE)
    } else {
        (0o755, PUBLIC_FILE_MODE)
    };
    let staging = Staging::new(&params.dir)?;
    let ca_dir = staging.dir(&ca_alias, dir_mode)?;
    let server_dir = staging.dir(&name, dir_mode)?;
    let ca_pem = certs_to_pem(std::slice::from_ref(&ca_der));
    fsutil::write_file(
        &ca_dir.join(format!("{ca_alias}.keystore.p12")),
        &ca_store.to_pkcs12(&params.ca_password, enc)?,
        SECRET_FILE_MODE,
    )?;
    fsutil::write_file(
        &ca_dir.join(format!("{ca_alias}.cer")),
        ca_pem.as_bytes(),
        public_mode,
    )?;
    fsutil::write_file(
        &server_dir.join(format!("{name}.keystore.p12")),
        &server_store.to_pkcs12(&params.password, enc)?,
        SECRET_FILE_MODE,
    )?;
    fsutil::write_file(
        &server_dir.join(format!("{name}.truststore.p12")),
        &trust_store.to_pkcs12(&params.password, enc)?,
        public_mode,
    )?;
    fsutil::write_file(
        &server_dir.join(format!("{name}.cer")),
        certs_to_pem(std::slice::from_ref(&server_der)).as_bytes(),
        public_mode,
    )?;
    fsutil::write_file(
        &server_dir.join(format!("{name}.key")),
        server_key.private().to_pem().as_bytes(),
        SECRET_FILE_MODE,
    )?;
    fsutil::write_file(
        &server_dir.join(format!("{ca_alias}.cer")),
        ca_pem.as_bytes(),
        public_mode,
    )?;
    staging.commit(&[&ca_alias, &name], params.force)?;

    let ca_dir = params.dir.join(&ca_alias);
    let server_dir = params.dir.join(&name);
    Ok(InitReport {
        ca_keystore: ca_dir.join(format!("{ca_alias}.keystore.p12")),
        ca_cert: ca_dir.join(format!("{ca_alias}.cer")),
        keystore: server_dir.join(format!("{name}.keystore.p12")),
        truststore: server_dir.join(format!("{name}.truststore.p12")),
        cert_pem: server_dir.join(format!("{name}.cer")),
        key_pem: server_dir.join(format!("{name}.key")),
        ca_pem: server_dir.join(format!("{ca_alias}.cer")),
        alias: name,
        sans,
        extra_ca_aliases,
        subject: params.dname.to_string_with_cn(&params.dname.common_name),
        ca_subject: params.dname.to_string_with_cn(&params.dname.ca_common_name),
        not_after: params.now + Duration::from_secs(u64::from(params.validity_days) * 86_400),
    })
}

/// Inputs of [`client_cert`].
#[derive(Debug, Clone)]
pub struct ClientCertParams {
    /// The local CA keystore (`<dir>/local_ca/local_ca.keystore.p12`).
    pub ca_keystore: PathBuf,
    /// Its password.
    pub ca_password: Secret,
    /// The CA's key alias.
    pub ca_alias: String,
    /// The user ID the certificate is for (its CN).
    pub user: String,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Secret of the client PKCS12.
    pub password: Secret,
    /// OU/O/L/ST/C of the subject (the CN is the user ID).
    pub dname: Dname,
    /// Validity in days.
    pub validity_days: u32,
    /// Key algorithm.
    pub key_type: KeyType,
    /// Legacy PKCS12 encryption.
    pub legacy_pkcs12: bool,
    /// Replace existing files.
    pub force: bool,
    /// The current time.
    pub now: SystemTime,
}

/// What [`client_cert`] wrote.
#[derive(Debug, Clone)]
pub struct ClientCertReport {
    /// `<out>/<user>.p12` (key + chain, alias = user in lower case).
    pub keystore: PathBuf,
    /// `<out>/<user>.cer`
    pub cert_pem: PathBuf,
    /// `<out>/<user>.key` (PKCS#8, 0600)
    pub key_pem: PathBuf,
    /// Alias in the PKCS12.
    pub alias: String,
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// Issuer DN (as in the CA certificate).
    pub issuer: String,
    /// The RACF command that maps this certificate's subject to the user.
    pub racdcert_map: String,
}

/// `zgate cert client`: a client certificate (EKU clientAuth) for a user,
/// signed by the local CA.
pub fn client_cert(params: &ClientCertParams) -> Result<ClientCertReport> {
    let user = params.user.trim().to_ascii_uppercase();
    if user.is_empty()
        || user.len() > 8
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@#$".contains(c))
    {
        return Err(PkiError::InvalidInput(format!(
            "`{}` is not a valid user ID (1 to 8 letters, digits, @, # or $)",
            params.user
        )));
    }
    check_password("client keystore password", &params.password)?;
    let alias = user.to_ascii_lowercase();
    let (not_before, not_after) = validity(params.now, params.validity_days)?;
    let names = [
        format!("{alias}.p12"),
        format!("{alias}.cer"),
        format!("{alias}.key"),
    ];
    if !params.force {
        for name in &names {
            let path = params.out_dir.join(name);
            if path.exists() {
                return Err(PkiError::AlreadyExists { path });
            }
        }
    }
    let ca_store = Keystore::read_pkcs12(&params.ca_keystore, &params.ca_password)?;
    let ca_entry = ca_store.key_for(&params.ca_keystore, Some(&params.ca_alias))?;
    let ca_der = ca_entry
        .chain
        .first()
        .ok_or_else(|| PkiError::InvalidInput("the CA key entry has no certificate".into()))?
        .clone();
    let ca_info = crate::x509::CertInfo::parse(&ca_der)?;
    let ca_pair = key_pair_for(&ca_entry.key)?;
    let issuer = Issuer::from_ca_cert_der(&ca_der, &ca_pair)
        .map_err(|e| PkiError::Generate(format!("CA certificate: {e}")))?;

    let key = NewKey::generate(params.key_type)?;
    let mut cert_params = CertificateParams::default();
    cert_params.distinguished_name = params.dname.to_rcgen(&user);
    cert_params.is_ca = IsCa::ExplicitNoCa;
    cert_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    cert_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    cert_params.use_authority_key_identifier_extension = true;
    cert_params.not_before = not_before;
    cert_params.not_after = not_after;
    cert_params.serial_number = Some(random_serial()?);
    let cert = cert_params
        .signed_by(&key.pair, &issuer)
        .map_err(|e| PkiError::Generate(format!("client certificate: {e}")))?;
    let mut chain = vec![cert.der().clone()];
    chain.extend(ca_entry.chain.iter().cloned());
    let store = Keystore {
        keys: vec![KeyEntry {
            alias: alias.clone(),
            key: key.private(),
            chain: chain.clone(),
        }],
        trusted: Vec::new(),
    };

    let staging = Staging::new(&params.out_dir)?;
    let root = staging.dir("client", 0o700)?;
    fsutil::write_file(
        &root.join(&names[0]),
        &store.to_pkcs12(&params.password, encoding(params.legacy_pkcs12))?,
        SECRET_FILE_MODE,
    )?;
    fsutil::write_file(
        &root.join(&names[1]),
        certs_to_pem(&chain[..1]).as_bytes(),
        PUBLIC_FILE_MODE,
    )?;
    fsutil::write_file(
        &root.join(&names[2]),
        key.private().to_pem().as_bytes(),
        SECRET_FILE_MODE,
    )?;
    // Move the three files up out of the staging subdirectory.
    for name in &names {
        std::fs::rename(root.join(name), staging_path(&root, name)).map_err(|source| {
            PkiError::Write {
                path: root.join(name),
                source,
            }
        })?;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    staging.commit(&refs, params.force)?;

    let subject = params.dname.to_string_with_cn(&user);
    let issuer_racf = racf_filter_from_dn(&ca_info.subject);
    let racdcert_map = format!(
        "RACDCERT MAP ID({user}) SDNFILTER('{}') IDNFILTER('{}') WITHLABEL('{alias}')",
        params.dname.to_racf_filter(&user),
        issuer_racf
    );
    Ok(ClientCertReport {
        keystore: params.out_dir.join(&names[0]),
        cert_pem: params.out_dir.join(&names[1]),
        key_pem: params.out_dir.join(&names[2]),
        alias,
        subject,
        issuer: ca_info.subject,
        racdcert_map,
    })
}

fn staging_path(root: &Path, name: &str) -> PathBuf {
    root.parent()
        .map(|p| p.join(name))
        .unwrap_or_else(|| root.join(name))
}

/// RACF writes filters most-specific first with `.` separators and `SP` for
/// state; x509-parser prints DER order (`C=.., ST=.., CN=..`), so reverse.
fn racf_filter_from_dn(dn: &str) -> String {
    let mut parts: Vec<String> = dn
        .split(", ")
        .map(|rdn| match rdn.split_once('=') {
            Some(("ST", value)) => format!("SP={value}"),
            _ => rdn.to_string(),
        })
        .collect();
    if parts.first().is_some_and(|p| !p.starts_with("CN=")) {
        parts.reverse();
    }
    parts.join(".")
}

/// An rcgen signing key from a PKCS#8 key (RSA → SHA-256, P-256 → ECDSA-SHA256).
pub(crate) fn key_pair_for(key: &PrivateKey) -> Result<KeyPair> {
    let alg = match crate::x509::key_algorithm(key.pkcs8_der())? {
        crate::x509::KeyKind::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
        crate::x509::KeyKind::Ec { curve } if curve == "P-256" => &rcgen::PKCS_ECDSA_P256_SHA256,
        crate::x509::KeyKind::Ec { curve } if curve == "P-384" => &rcgen::PKCS_ECDSA_P384_SHA384,
        other => {
            return Err(PkiError::UnsupportedKey(format!(
                "cannot sign with {other:?}"
            )))
        }
    };
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()), alg)
        .map_err(|e| PkiError::UnsupportedKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_always_include_the_zowe_three_once() {
        let sans = server_sans(&[
            "Zowe.Example.COM".into(),
            " 10.0.0.1 ".into(),
            "[::1]".into(),
            "localhost".into(),
        ])
        .unwrap();
        assert_eq!(
            sans,
            vec![
                "zowe.example.com",
                "10.0.0.1",
                "::1",
                "localhost",
                "localhost.localdomain",
                "127.0.0.1"
            ]
        );
        assert!(server_sans(&["bad name".into()]).is_err());
    }

    #[test]
    fn racf_filters_list_rdns_most_specific_first_joined_by_dots() {
        let dname = Dname::default();
        assert_eq!(
            dname.to_racf_filter("USER1"),
            "CN=USER1.OU=API Mediation Layer.O=Zowe Sample.L=Prague.SP=Prague.C=CZ"
        );
        assert_eq!(
            racf_filter_from_dn("C=CZ, ST=Prague, CN=Root"),
            "CN=Root.SP=Prague.C=CZ"
        );
    }
}
