//! Digital certificates and key rings (RACF's DIGTCERT and DIGTRING
//! profiles), as security records:
//!
//! - `dcert.cert`, key `<owner>\t<label>` (`ID(USER)`, `CERTAUTH` or
//!   `SITE`, a tab, the label byte-exact): the certificate (DER, base64),
//!   its trust status, serial and issuer (for the one-certificate-once
//!   rule) and, when it has one, its private key sealed under the
//!   key-encryption key ([`crate::keywrap`]) with the record key as AAD;
//! - `dcert.ring`, key `<OWNER>\t<ring>` (the ring name case-sensitive):
//!   the connections in connection order.
//!
//! This module also holds the listing layouts (LISTRING, LIST) and the
//! types of the application read API (R_datalib), [`RingRef`] to
//! [`RingAccessError`].

use std::collections::BTreeMap;

use data_encoding::BASE64;
use x509_parser::prelude::*;
use zeroize::Zeroizing;

use crate::certmap::CertNames;
use crate::keywrap::WrappedKey;
use crate::model::AccessLevel;
use crate::records::Records;
use crate::state::Change;

/// The record kind of certificates.
pub const CERT_KIND: &str = "dcert.cert";
/// The record kind of key rings.
pub const RING_KIND: &str = "dcert.ring";

/// The longest label (RACF: 1 to 32 characters).
pub const MAX_LABEL: usize = 32;
/// The longest ring name (RACF: 1 to 237 characters).
pub const MAX_RING: usize = 237;

/// Who owns a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertOwner {
    /// A user (upper case).
    User(String),
    /// Certificate authorities (RACF's `irrcerta`).
    CertAuth,
    /// Site certificates (RACF's `irrsitec`).
    Site,
}

impl CertOwner {
    /// As records and LISTRING write it: `ID(USER)`, `CERTAUTH`, `SITE`.
    pub fn tag(&self) -> String {
        match self {
            CertOwner::User(u) => format!("ID({u})"),
            CertOwner::CertAuth => "CERTAUTH".into(),
            CertOwner::Site => "SITE".into(),
        }
    }

    /// Reads [`CertOwner::tag`]'s form.
    pub fn from_tag(tag: &str) -> Option<CertOwner> {
        match tag {
            "CERTAUTH" => Some(CertOwner::CertAuth),
            "SITE" => Some(CertOwner::Site),
            _ => tag
                .strip_prefix("ID(")
                .and_then(|t| t.strip_suffix(')'))
                .map(|u| CertOwner::User(u.to_owned())),
        }
    }

    /// The usage a connection gets when none is given.
    pub fn default_usage(&self) -> Usage {
        match self {
            CertOwner::User(_) => Usage::Personal,
            CertOwner::CertAuth => Usage::CertAuth,
            CertOwner::Site => Usage::Site,
        }
    }

    /// LIST's heading: `for user BOB`, `for CERTAUTH`, `for SITE`.
    fn heading(&self) -> String {
        match self {
            CertOwner::User(u) => format!("Digital certificate information for user {u}:"),
            CertOwner::CertAuth => "Digital certificate information for CERTAUTH:".into(),
            CertOwner::Site => "Digital certificate information for SITE:".into(),
        }
    }
}

/// How a certificate is connected to a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Usage {
    /// May carry a private key; identifies the ring's owner.
    Personal,
    /// A trust anchor.
    CertAuth,
    /// A site certificate.
    Site,
}

impl Usage {
    /// RACF's keyword.
    pub fn name(self) -> &'static str {
        match self {
            Usage::Personal => "PERSONAL",
            Usage::CertAuth => "CERTAUTH",
            Usage::Site => "SITE",
        }
    }
}

/// A certificate's trust status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Trust {
    /// TRUST
    Trust,
    /// NOTRUST: listed, never to be used as an identity or an anchor.
    NoTrust,
    /// HIGHTRUST
    HighTrust,
}

impl Trust {
    /// RACF's keyword.
    pub fn name(self) -> &'static str {
        match self {
            Trust::Trust => "TRUST",
            Trust::NoTrust => "NOTRUST",
            Trust::HighTrust => "HIGHTRUST",
        }
    }
}

/// A stored certificate.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredCert {
    /// DER, base64.
    pub(crate) der: String,
    pub(crate) trust: Trust,
    /// Serial, lower-case hex without leading zero bytes.
    pub(crate) serial: String,
    /// Issuer DN, RACF notation.
    pub(crate) issuer: String,
    /// The sealed PKCS#8 private key.
    #[serde(default)]
    pub(crate) key: Option<WrappedKey>,
}

impl StoredCert {
    pub(crate) fn der_bytes(&self) -> Vec<u8> {
        BASE64.decode(self.der.as_bytes()).unwrap_or_default()
    }

    pub(crate) fn new(der: &[u8], trust: Trust, key: Option<WrappedKey>) -> Option<StoredCert> {
        let names = CertNames::from_der(der).ok()?;
        Some(StoredCert {
            der: BASE64.encode(der),
            trust,
            serial: names.serial,
            issuer: names.issuer.join("."),
            key,
        })
    }

    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One connection of a ring.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Connection {
    /// The certificate's owner, [`CertOwner::tag`].
    pub(crate) owner: String,
    pub(crate) label: String,
    pub(crate) usage: Usage,
    pub(crate) default: bool,
}

/// A stored ring.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredRing {
    pub(crate) connections: Vec<Connection>,
}

impl StoredRing {
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The record key of a certificate.
pub(crate) fn cert_key(owner: &CertOwner, label: &str) -> String {
    format!("{}\t{label}", owner.tag())
}

/// The record key of a ring.
pub(crate) fn ring_key(owner: &str, ring: &str) -> String {
    format!("{owner}\t{ring}")
}

pub(crate) fn cert(records: &Records, owner: &CertOwner, label: &str) -> Option<StoredCert> {
    serde_json::from_str(records.get(CERT_KIND, &cert_key(owner, label))?).ok()
}

/// What DELUSER removes with a user, as RACF does: the user's
/// certificates (their sealed keys with them, and their logon
/// registrations), key rings and certificate name filters, and the
/// connections of the user's certificates in other users' rings, so that a
/// user id defined again inherits none of them.
pub fn delete_all_of(records: &Records, user: &str) -> Vec<Change> {
    let tag = CertOwner::User(user.to_owned()).tag();
    let cert_prefix = format!("{tag}\t");
    let ring_prefix = format!("{user}\t");
    let mut deleted: Vec<(&str, String)> = Vec::new();
    for (key, _) in records.iter(CERT_KIND) {
        if key.starts_with(&cert_prefix) {
            deleted.push((CERT_KIND, key.to_owned()));
        }
    }
    for (key, value) in records.iter(crate::certmap::REG_KIND) {
        if value.split('\t').next() == Some(user) {
            deleted.push((crate::certmap::REG_KIND, key.to_owned()));
        }
    }
    for (key, value) in records.iter(crate::certmap::MAP_KIND) {
        if crate::certmap::decode_map(value).is_some_and(|m| m.user == user) {
            deleted.push((crate::certmap::MAP_KIND, key.to_owned()));
        }
    }
    let mut kept_rings: Vec<(String, StoredRing)> = Vec::new();
    for (key, value) in records.iter(RING_KIND) {
        if key.starts_with(&ring_prefix) {
            deleted.push((RING_KIND, key.to_owned()));
        } else if let Ok(mut ring) = serde_json::from_str::<StoredRing>(value) {
            let before = ring.connections.len();
            ring.connections.retain(|c| c.owner != tag);
            if ring.connections.len() != before {
                kept_rings.push((key.to_owned(), ring));
            }
        }
    }
    // Records are unordered in memory; the changes are not.
    deleted.sort();
    kept_rings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut changes: Vec<Change> = deleted
        .into_iter()
        .map(|(kind, key)| Change::delete_record(kind, &key))
        .collect();
    changes.extend(
        kept_rings
            .into_iter()
            .map(|(key, ring)| Change::put_record(RING_KIND, &key, ring.encode())),
    );
    changes
}

pub(crate) fn ring(records: &Records, owner: &str, name: &str) -> Option<StoredRing> {
    serde_json::from_str(records.get(RING_KIND, &ring_key(owner, name))?).ok()
}

/// Every certificate of an owner, by label.
pub(crate) fn certs_of(records: &Records, owner: &CertOwner) -> BTreeMap<String, StoredCert> {
    let prefix = format!("{}\t", owner.tag());
    records
        .iter(CERT_KIND)
        .filter_map(|(k, v)| {
            let label = k.strip_prefix(&prefix)?;
            Some((label.to_owned(), serde_json::from_str(v).ok()?))
        })
        .collect()
}

/// Every certificate: (owner, label, cert).
pub(crate) fn all_certs(records: &Records) -> Vec<(CertOwner, String, StoredCert)> {
    records
        .iter(CERT_KIND)
        .filter_map(|(k, v)| {
            let (tag, label) = k.split_once('\t')?;
            Some((
                CertOwner::from_tag(tag)?,
                label.to_owned(),
                serde_json::from_str(v).ok()?,
            ))
        })
        .collect()
}

/// Every ring of a user, by name.
pub(crate) fn rings_of(records: &Records, owner: &str) -> BTreeMap<String, StoredRing> {
    let prefix = format!("{owner}\t");
    records
        .iter(RING_KIND)
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(&prefix)?;
            Some((name.to_owned(), serde_json::from_str(v).ok()?))
        })
        .collect()
}

/// Every ring: ((owner, name), ring), ordered.
pub(crate) fn all_rings(records: &Records) -> BTreeMap<(String, String), StoredRing> {
    records
        .iter(RING_KIND)
        .filter_map(|(k, v)| {
            let (owner, name) = k.split_once('\t')?;
            Some((
                (owner.to_owned(), name.to_owned()),
                serde_json::from_str(v).ok()?,
            ))
        })
        .collect()
}

/// Rings a certificate is connected to: (ring owner, ring name).
pub(crate) fn rings_holding(
    records: &Records,
    owner: &CertOwner,
    label: &str,
) -> Vec<(String, String)> {
    let tag = owner.tag();
    all_rings(records)
        .into_iter()
        .filter(|(_, r)| {
            r.connections
                .iter()
                .any(|c| c.owner == tag && c.label == label)
        })
        .map(|(k, _)| k)
        .collect()
}

/// Why a label or a ring name is refused.
pub(crate) fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() || label.chars().all(|c| c == ' ') {
        Some("a label must not be empty or blank")
    } else if label.chars().count() > MAX_LABEL {
        Some("a label has at most 32 characters")
    } else if label.chars().any(char::is_control) {
        Some("a label must not hold control characters")
    } else {
        None
    }
}

/// Why a ring name is refused: 1 to 237 printable characters, no blank,
/// no `/` (it separates owner and ring in `OWNER/RING`), not `*` (all
/// rings).
pub(crate) fn ring_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a ring name must not be empty")
    } else if name.chars().count() > MAX_RING {
        Some("a ring name has at most 237 characters")
    } else if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '/' || c == '\'')
    {
        Some("a ring name must not hold blanks, control characters, quotes or '/'")
    } else if name == "*" {
        Some("'*' names every ring, not one")
    } else {
        None
    }
}

/// LISTRING's lines for `user`'s `rings` (RACF's layout, as Zowe's
/// scripts parse it).
pub(crate) fn listring_lines(user: &str, rings: &[(String, StoredRing)]) -> Vec<String> {
    let mut out = vec![
        format!("Digital ring information for user {user}:"),
        String::new(),
    ];
    for (i, (name, ring)) in rings.iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        out.push("  Ring:".into());
        out.push(format!("       >{name}<"));
        if ring.connections.is_empty() {
            out.push("  *** No certificates connected ***".into());
            continue;
        }
        out.push(format!(
            "  {:<32}   {:<12}   {:<8}   DEFAULT",
            "Certificate Label Name", "Cert Owner", "USAGE"
        ));
        out.push(format!(
            "  {}   {}   {}   -------",
            "-".repeat(32),
            "-".repeat(12),
            "-".repeat(8)
        ));
        for c in &ring.connections {
            out.push(format!(
                "  {:<32}   {:<12}   {:<8}     {}",
                c.label,
                c.owner,
                c.usage.name(),
                if c.default { "YES" } else { "NO" }
            ));
        }
    }
    out
}

fn racf_time(ts: i64) -> String {
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = zgate_base::civil_date(ts.div_euclid(86_400));
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn signing_algorithm(oid: &str) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1RSA",
        "1.2.840.113549.1.1.11" => "sha256RSA",
        "1.2.840.113549.1.1.12" => "sha384RSA",
        "1.2.840.113549.1.1.13" => "sha512RSA",
        "1.2.840.113549.1.1.14" => "sha224RSA",
        "1.2.840.10045.4.1" => "sha1ECDSA",
        "1.2.840.10045.4.3.1" => "sha224ECDSA",
        "1.2.840.10045.4.3.2" => "sha256ECDSA",
        "1.2.840.10045.4.3.3" => "sha384ECDSA",
        "1.2.840.10045.4.3.4" => "sha512ECDSA",
        _ => "UNKNOWN",
    }
}

/// A certificate's facts for LIST.
pub(crate) struct Facts {
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) subject: String,
    pub(crate) issuer: String,
    pub(crate) serial: String,
    pub(crate) algorithm: &'static str,
    pub(crate) key_usage: Vec<&'static str>,
    pub(crate) alt_names: Vec<(String, String)>,
    pub(crate) key_type: String,
    pub(crate) key_size: usize,
}

/// Reads a certificate's facts (None: not an X.509 certificate).
pub(crate) fn facts(der: &[u8]) -> Option<Facts> {
    let names = CertNames::from_der(der).ok()?;
    let (_, x) = X509Certificate::from_der(der).ok()?;
    let mut key_usage = Vec::new();
    if let Ok(Some(ku)) = x.key_usage() {
        let ku = ku.value;
        if ku.digital_signature() || ku.key_encipherment() {
            key_usage.push("HANDSHAKE");
        }
        if ku.data_encipherment() {
            key_usage.push("DATAENCRYPT");
        }
        if ku.non_repudiation() {
            key_usage.push("DOCSIGN");
        }
        if ku.key_cert_sign() || ku.crl_sign() {
            key_usage.push("CERTSIGN");
        }
        if ku.key_agreement() {
            key_usage.push("KEYAGREE");
        }
    }
    let mut alt_names = Vec::new();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .map(|o| std::net::IpAddr::from(o).to_string())
                            .ok(),
                        16 => <[u8; 16]>::try_from(*b)
                            .map(|o| std::net::IpAddr::from(o).to_string())
                            .ok(),
                        _ => None,
                    };
                    alt_names.extend(ip.map(|ip| ("IP".to_owned(), ip)));
                }
                GeneralName::DNSName(d) => alt_names.push(("Domain".into(), (*d).to_owned())),
                GeneralName::RFC822Name(e) => alt_names.push(("EMail".into(), (*e).to_owned())),
                GeneralName::URI(u) => alt_names.push(("URI".into(), (*u).to_owned())),
                _ => {}
            }
        }
    }
    let spki = x.public_key();
    let (key_type, key_size) = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => ("RSA".to_owned(), rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => ("NIST ECC".to_owned(), ec.key_size()),
        _ => ("UNKNOWN".to_owned(), 0),
    };
    Some(Facts {
        not_before: x.validity().not_before.timestamp(),
        not_after: x.validity().not_after.timestamp(),
        subject: names.subject.join("."),
        issuer: names.issuer.join("."),
        serial: names.serial.to_ascii_uppercase(),
        algorithm: signing_algorithm(&x.signature_algorithm.algorithm.to_id_string()),
        key_usage,
        alt_names,
        key_type,
        key_size,
    })
}

/// RACF's certificate ID: the base64 of the record name's first bytes
/// (RACF's own is an EBCDIC encoding; zgate's is stable and unique per
/// owner and label, and says nothing more).
fn certificate_id(owner: &CertOwner, label: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(cert_key(owner, label).as_bytes());
    BASE64.encode(digest.get(..18).unwrap_or_default())
}

/// LIST's lines for one certificate, RACF's layout (RACDCERT LIST sample
/// in the Command Language Reference): label, certificate ID, status,
/// dates, serial, names, algorithm, key usage, alternative names, key
/// type and size, private key, ring associations.
pub(crate) fn list_lines(
    owner: &CertOwner,
    label: &str,
    cert: &StoredCert,
    rings: &[(String, String)],
) -> Vec<String> {
    let mut out = vec![owner.heading(), String::new()];
    out.push(format!("  Label: {label}"));
    out.push(format!(
        "  Certificate ID: {}",
        certificate_id(owner, label)
    ));
    out.push(format!("  Status: {}", cert.trust.name()));
    match facts(&cert.der_bytes()) {
        Some(f) => {
            out.push(format!("  Start Date: {}", racf_time(f.not_before)));
            out.push(format!("  End Date:   {}", racf_time(f.not_after)));
            out.push("  Serial Number:".into());
            out.push(format!("       >{}<", f.serial));
            out.push("  Issuer's Name:".into());
            out.push(format!("       >{}<", f.issuer));
            out.push("  Subject's Name:".into());
            out.push(format!("       >{}<", truncate(&f.subject, 256)));
            if !f.alt_names.is_empty() {
                out.push("  Subject's AltNames:".into());
                for (kind, value) in &f.alt_names {
                    out.push(format!("    {kind}: {value}"));
                }
            }
            out.push(format!("  Signing Algorithm: {}", f.algorithm));
            if !f.key_usage.is_empty() {
                out.push(format!("  Key Usage: {}", f.key_usage.join(", ")));
            }
            out.push(format!("  Key Type: {}", f.key_type));
            out.push(format!("  Key Size: {}", f.key_size));
        }
        None => out.push("  *** The certificate cannot be read ***".into()),
    }
    out.push(format!(
        "  Private Key: {}",
        if cert.key.is_some() { "YES" } else { "NO" }
    ));
    if !rings.is_empty() {
        out.push("  Ring Associations:".into());
        for (ring_owner, ring) in rings {
            out.push(format!("    Ring Owner: {ring_owner}"));
            out.push("    Ring:".into());
            out.push(format!("       >{ring}<"));
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or(s)
}

// ---- the application read API (R_datalib) ----

/// A virtual ring: every certificate of one owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualRing {
    /// `OWNER/*`: a user's certificates (usage PERSONAL).
    User(String),
    /// `*AUTH*/*`: every CERTAUTH certificate (usage CERTAUTH).
    CertAuth,
    /// `*SITE*/*`: every SITE certificate (usage SITE).
    Site,
}

/// A ring an application asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingRef {
    /// A real ring.
    Ring {
        /// Its owner (upper case).
        owner: String,
        /// Its name, case as defined.
        name: String,
    },
    /// A virtual ring.
    Virtual(VirtualRing),
}

impl RingRef {
    /// Reads `OWNER/RING`, `OWNER/*`, `*AUTH*/*`, `*SITE*/*`: the owner
    /// upper-cased, the ring name exact.
    pub fn parse(text: &str) -> Result<RingRef, RingAccessError> {
        let invalid = |why: &str| RingAccessError::InvalidName(format!("`{text}`: {why}"));
        let (owner, name) = text
            .split_once('/')
            .ok_or_else(|| invalid("expected OWNER/RING"))?;
        match (owner, name) {
            ("*AUTH*", "*") => return Ok(RingRef::Virtual(VirtualRing::CertAuth)),
            ("*SITE*", "*") => return Ok(RingRef::Virtual(VirtualRing::Site)),
            _ => {}
        }
        let owner = crate::model::normalize_id(owner).map_err(|e| invalid(&e.to_string()))?;
        if name == "*" {
            return Ok(RingRef::Virtual(VirtualRing::User(owner)));
        }
        if let Some(why) = ring_problem(name) {
            return Err(invalid(why));
        }
        Ok(RingRef::Ring {
            owner,
            name: name.to_owned(),
        })
    }

    /// As [`RingRef::parse`] reads it.
    pub fn display(&self) -> String {
        match self {
            RingRef::Ring { owner, name } => format!("{owner}/{name}"),
            RingRef::Virtual(VirtualRing::User(u)) => format!("{u}/*"),
            RingRef::Virtual(VirtualRing::CertAuth) => "*AUTH*/*".into(),
            RingRef::Virtual(VirtualRing::Site) => "*SITE*/*".into(),
        }
    }
}

/// One certificate of a ring as an application gets it.
#[derive(Clone)]
pub struct RingEntry {
    /// Its label.
    pub label: String,
    /// Its owner.
    pub owner: CertOwner,
    /// How it is connected.
    pub usage: Usage,
    /// Whether it is the ring's default.
    pub default: bool,
    /// Its trust status (NOTRUST entries are returned, flagged).
    pub trust: Trust,
    /// The certificate (DER).
    pub certificate_der: Vec<u8>,
    /// Its private key (PKCS#8), when the rules of R_datalib give it.
    pub private_key_pkcs8: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for RingEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingEntry")
            .field("label", &self.label)
            .field("owner", &self.owner)
            .field("usage", &self.usage)
            .field("default", &self.default)
            .field("trust", &self.trust)
            .field("private_key", &self.private_key_pkcs8.is_some())
            .finish()
    }
}

/// What [`crate::Esm::read_ring`] returns.
#[derive(Debug, Clone)]
pub struct RingContents {
    /// In connection order (a virtual ring: by label).
    pub entries: Vec<RingEntry>,
    /// SHA-256 over everything returned (whether keys came included): it
    /// changes when the ring or a member changes.
    pub fingerprint: [u8; 32],
}

/// Why a ring could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingAccessError {
    /// The caller lacks the access R_datalib needs.
    #[error("{caller} is not authorized to read the key ring: {needed} access to {resource} in class {class} is required (PERMIT {resource} CLASS({class}) ID({caller}) ACCESS({needed}))")]
    NotAuthorized {
        /// The caller.
        caller: String,
        /// The profile's resource name.
        resource: String,
        /// Its class.
        class: String,
        /// The level needed.
        needed: AccessLevel,
    },
    /// IRRD114I.
    #[error("IRRD114I Ring {name} does not exist. (owner {owner})")]
    NoSuchRing {
        /// The owner.
        owner: String,
        /// The ring.
        name: String,
    },
    /// A name RACF would refuse.
    #[error("invalid key ring name {0}")]
    InvalidName(String),
    /// A private key the caller may have could not be opened.
    #[error("the private key of {label} cannot be opened: {reason}")]
    KeyUnavailable {
        /// The certificate's label.
        label: String,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_references_fold_the_owner_and_keep_the_ring_exact() {
        assert_eq!(
            RingRef::parse("zwesvusr/ZoweKeyring").unwrap(),
            RingRef::Ring {
                owner: "ZWESVUSR".into(),
                name: "ZoweKeyring".into()
            }
        );
        assert_eq!(
            RingRef::parse("*AUTH*/*").unwrap(),
            RingRef::Virtual(VirtualRing::CertAuth)
        );
        assert_eq!(
            RingRef::parse("*SITE*/*").unwrap(),
            RingRef::Virtual(VirtualRing::Site)
        );
        assert_eq!(
            RingRef::parse("bob/*").unwrap(),
            RingRef::Virtual(VirtualRing::User("BOB".into()))
        );
        for bad in [
            "ZoweKeyring",
            "/ring",
            "BOB/",
            "BOB/a b",
            "BOB/a\nb",
            "TOOLONGUSERID/r",
            "B OB/r",
            "BOB/a/b",
        ] {
            assert!(RingRef::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RingRef::parse(&format!("BOB/{}", "r".repeat(238))).is_err());
        assert!(RingRef::parse(&format!("BOB/{}", "r".repeat(237))).is_ok());
    }

    #[test]
    fn labels_are_refused_when_blank_long_or_with_control_characters() {
        assert!(label_problem("localhost").is_none());
        assert!(label_problem(" My Label ").is_none());
        assert!(label_problem(&"x".repeat(32)).is_none());
        for bad in ["", "   ", "a\tb", "a\u{7f}", "a\nb"] {
            assert!(label_problem(bad).is_some(), "{bad:?}");
        }
        assert!(label_problem(&"x".repeat(33)).is_some());
    }

    #[test]
    fn times_are_written_as_racf_writes_them() {
        assert_eq!(racf_time(0), "1970/01/01 00:00:00");
        assert_eq!(racf_time(1_893_456_000), "2030/01/01 00:00:00");
    }
}
