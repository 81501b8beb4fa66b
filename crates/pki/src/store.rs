//! Keystores in memory and on disk: PKCS12 (modern and legacy encodings) and
//! PEM. The in-memory model is deliberately small: private-key entries (key +
//! chain, leaf first) and trusted-certificate entries, each under an alias, as
//! keytool shows them (`PrivateKeyEntry`, `trustedCertEntry`).
use std::path::{Path, PathBuf};

use der::{Decode, Encode};
use p12_keystore::{EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub use zgate_base::Secret;

use crate::error::{PkiError, Result};

/// A PKCS#8 private key (DER). No `Debug`, no `Display`; zeroed when dropped.
#[derive(Clone)]
pub struct PrivateKey(Vec<u8>);

impl Drop for PrivateKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl PrivateKey {
    /// Wrap PKCS#8 DER bytes (not checked here).
    pub fn from_pkcs8_der(der: Vec<u8>) -> Self {
        Self(der)
    }
    /// The PKCS#8 DER bytes.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.0
    }
    /// As rustls wants it.
    pub fn to_rustls(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.0.clone()))
    }
    /// Unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", self.0.clone()))
    }
}

/// A private key with its certificate chain (leaf first).
#[derive(Clone)]
pub struct KeyEntry {
    /// The alias (lower case when zgate wrote it).
    pub alias: String,
    /// The private key.
    pub key: PrivateKey,
    /// Leaf first, then intermediates, then (often) the root.
    pub chain: Vec<CertificateDer<'static>>,
}

/// A trusted certificate.
#[derive(Clone, Debug)]
pub struct TrustedEntry {
    /// The alias.
    pub alias: String,
    /// The certificate.
    pub cert: CertificateDer<'static>,
}

/// What a PKCS12 file holds.
#[derive(Clone, Default)]
pub struct Keystore {
    /// Private-key entries.
    pub keys: Vec<KeyEntry>,
    /// Trusted-certificate entries.
    pub trusted: Vec<TrustedEntry>,
}

/// How a PKCS12 file is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pkcs12Encoding {
    /// PBES2 / AES-256-CBC / PBKDF2-HMAC-SHA256, HMAC-SHA256 MAC (keytool 17, OpenSSL 3).
    #[default]
    Modern,
    /// 3DES key bags, 40-bit RC2 certificate bags, SHA-1 MAC (GSKit; OpenSSL 3 needs `-legacy`).
    Legacy,
}

impl Keystore {
    /// The key entry under `alias` (case-insensitive, as keytool treats aliases).
    pub fn key(&self, alias: &str) -> Option<&KeyEntry> {
        self.keys
            .iter()
            .find(|k| k.alias.eq_ignore_ascii_case(alias))
    }

    /// The key entry under `alias`, or the only one when `alias` is `None`.
    pub fn key_for(&self, path: &Path, alias: Option<&str>) -> Result<&KeyEntry> {
        let found = match alias {
            Some(alias) => self.key(alias),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        };
        found.ok_or_else(|| PkiError::AliasNotFound {
            path: path.to_path_buf(),
            alias: alias.unwrap_or("(none given)").to_string(),
            available: self.key_aliases(),
        })
    }

    /// Comma-separated aliases of key entries, or "none".
    pub fn key_aliases(&self) -> String {
        if self.keys.is_empty() {
            "none".to_string()
        } else {
            self.keys
                .iter()
                .map(|k| k.alias.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// Every certificate this store trusts: the trusted entries.
    pub fn trusted_certs(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.trusted.iter().map(|t| &t.cert)
    }

    /// Read a PKCS12 file.
    pub fn read_pkcs12(path: &Path, password: &Secret) -> Result<Self> {
        refuse_keyring(path)?;
        let data = std::fs::read(path).map_err(|source| PkiError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_pkcs12(&data, password, path)
    }

    /// Parse PKCS12 bytes; `origin` names the input in errors.
    pub fn from_pkcs12(data: &[u8], password: &Secret, origin: &Path) -> Result<Self> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(data, password.expose())
            .map_err(|e| pkcs12_error(e, origin))?;
        let mut store = Keystore::default();
        let all_certs: Vec<CertificateDer<'static>> = archive
            .certs
            .iter()
            .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
            .collect();
        let mut used = vec![false; archive.certs.len()];
        for (index, key) in archive.keys.iter().enumerate() {
            // Link the key to its certificate by localKeyId, else by public key.
            let leaf_index = key
                .local_key_id
                .as_ref()
                .and_then(|id| {
                    archive
                        .certs
                        .iter()
                        .position(|c| c.local_key_id.as_deref() == Some(id.as_ref()))
                })
                .or_else(|| {
                    all_certs.iter().position(|c| {
                        crate::x509::key_matches_cert(key.key.as_der(), c).unwrap_or(false)
                    })
                });
            let Some(leaf_index) = leaf_index else {
                continue;
            };
            used[leaf_index] = true;
            let chain = build_chain(&all_certs, leaf_index);
            let alias = key
                .friendly_name
                .clone()
                .unwrap_or_else(|| format!("key{}", index + 1));
            store.keys.push(KeyEntry {
                alias,
                key: PrivateKey(key.key.as_der().to_vec()),
                chain,
            });
        }
        // Certificates not linked to a key are trusted entries. keytool marks
        // them with Oracle's trustedKeyUsage attribute; OpenSSL-made stores do
        // not, and the chain certificates of a key entry are not entries of
        // their own, so only unlinked certificates that are either marked or
        // not part of a key's chain count.
        let chain_members: Vec<&CertificateDer<'static>> = store
            .keys
            .iter()
            .flat_map(|k| k.chain.iter().skip(1))
            .collect();
        for (index, bag) in archive.certs.iter().enumerate() {
            if used[index] {
                continue;
            }
            let cert = &all_certs[index];
            if !bag.trusted && chain_members.contains(&cert) {
                continue;
            }
            let alias = bag.friendly_name.clone().unwrap_or_else(|| {
                crate::x509::CertInfo::parse(cert)
                    .map(|i| i.subject)
                    .unwrap_or_else(|_| format!("cert{}", index + 1))
            });
            if store.trusted.iter().any(|t| t.cert == *cert) {
                continue;
            }
            store.trusted.push(TrustedEntry {
                alias,
                cert: cert.clone(),
            });
        }
        Ok(store)
    }

    /// Encode as PKCS12.
    pub fn to_pkcs12(&self, password: &Secret, encoding: Pkcs12Encoding) -> Result<Vec<u8>> {
        let mut ks = KeyStore::new();
        for entry in &self.keys {
            let key = p12_keystore::PrivateKey::from_der(entry.key.pkcs8_der())
                .map_err(|e| PkiError::UnsupportedKey(e.to_string()))?;
            let certs = entry
                .chain
                .iter()
                .map(|c| p12_keystore::Certificate::from_der(c))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| PkiError::Generate(format!("certificate for the keystore: {e}")))?;
            // keytool names its local key ids "Time <millis>"; any unique bytes do.
            let local_key_id = format!("zgate {}", entry.alias);
            ks.add_entry(
                &entry.alias,
                KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                    local_key_id.as_str(),
                    key,
                    certs,
                )),
            );
        }
        for entry in &self.trusted {
            let cert = p12_keystore::Certificate::from_der(&entry.cert)
                .map_err(|e| PkiError::Generate(format!("trusted certificate: {e}")))?;
            ks.add_entry(&entry.alias, KeyStoreEntry::Certificate(cert));
        }
        let pw = password.expose();
        let write_err =
            |e: p12_keystore::error::Error| PkiError::Generate(format!("PKCS12 encoding: {e}"));
        match encoding {
            Pkcs12Encoding::Modern => ks
                .writer(pw)
                .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
                .mac_algorithm(MacAlgorithm::HmacSha256)
                .encryption_iterations(10_000)
                .mac_iterations(10_000)
                .write()
                .map_err(write_err),
            Pkcs12Encoding::Legacy => {
                // p12-keystore uses one algorithm for all bags; GSKit's layout
                // wants 3DES keys and RC2-40 certificates, so write both and
                // splice: certificate safe from the RC2 file, key safe from the
                // 3DES file, then a fresh SHA-1 MAC over the result.
                let des = ks
                    .writer(pw)
                    .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
                    .mac_algorithm(MacAlgorithm::HmacSha1)
                    .encryption_iterations(2048)
                    .mac_iterations(2048)
                    .write()
                    .map_err(write_err)?;
                let rc2 = ks
                    .writer(pw)
                    .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc)
                    .mac_algorithm(MacAlgorithm::HmacSha1)
                    .encryption_iterations(2048)
                    .mac_iterations(2048)
                    .write()
                    .map_err(write_err)?;
                splice_legacy(&rc2, &des, pw)
                    .map_err(|e| PkiError::Generate(format!("PKCS12 encoding: {e}")))
            }
        }
    }
}

fn splice_legacy(
    rc2: &[u8],
    des: &[u8],
    password: &str,
) -> std::result::Result<Vec<u8>, der::Error> {
    use der::asn1::OctetString;
    use pkcs12::pfx::Pfx;
    let safes =
        |pfx: &Pfx| -> std::result::Result<Vec<cms::content_info::ContentInfo>, der::Error> {
            let octets = OctetString::from_der(&pfx.auth_safe.content.to_der()?)?;
            Vec::<cms::content_info::ContentInfo>::from_der(octets.as_bytes())
        };
    let rc2_pfx = Pfx::from_der(rc2)?;
    let des_pfx = Pfx::from_der(des)?;
    let rc2_safes = safes(&rc2_pfx)?;
    let des_safes = safes(&des_pfx)?;
    let mut spliced = Vec::with_capacity(des_safes.len());
    spliced.extend(rc2_safes.into_iter().take(1));
    spliced.extend(des_safes.into_iter().skip(1));
    let content = spliced.to_der()?;
    let auth_safe = cms::content_info::ContentInfo {
        content_type: rc2_pfx.auth_safe.content_type,
        content: der::Any::from_der(&OctetString::new(content.clone())?.to_der()?)?,
    };
    let mut mac_data = rc2_pfx
        .mac_data
        .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?;
    let key = pkcs12::kdf::derive_key_utf8::<sha1::Sha1>(
        password,
        mac_data.mac_salt.as_bytes(),
        pkcs12::kdf::Pkcs12KeyType::Mac,
        mac_data.iterations,
        20,
    )?;
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let tag = ring::hmac::sign(&hmac_key, &content);
    mac_data.mac.digest = OctetString::new(tag.as_ref().to_vec())?;
    Pfx {
        version: rc2_pfx.version,
        auth_safe,
        mac_data: Some(mac_data),
    }
    .to_der()
}

/// Chain from `certs[leaf]` upwards by issuer name, without cycles.
fn build_chain(certs: &[CertificateDer<'static>], leaf: usize) -> Vec<CertificateDer<'static>> {
    let infos: Vec<Option<crate::x509::CertInfo>> = certs
        .iter()
        .map(|c| crate::x509::CertInfo::parse(c).ok())
        .collect();
    let mut chain = vec![certs[leaf].clone()];
    let mut current = leaf;
    while let Some(Some(info)) = infos.get(current) {
        if info.is_self_issued() {
            break;
        }
        let next = infos.iter().enumerate().position(|(i, candidate)| {
            candidate
                .as_ref()
                .is_some_and(|c| c.subject_raw == info.issuer_raw && !chain.contains(&certs[i]))
        });
        match next {
            Some(next) => {
                chain.push(certs[next].clone());
                current = next;
            }
            None => break,
        }
    }
    chain
}

fn pkcs12_error(error: p12_keystore::error::Error, origin: &Path) -> PkiError {
    use p12_keystore::error::Error as E;
    match error {
        E::MacError(_) => PkiError::WrongPassword {
            path: origin.to_path_buf(),
        },
        // A wrong password on a MAC-less file surfaces as bad padding.
        E::UnpadError => PkiError::WrongPassword {
            path: origin.to_path_buf(),
        },
        other => PkiError::Malformed {
            path: origin.to_path_buf(),
            expected: "PKCS12 keystore",
            reason: other.to_string(),
        },
    }
}

/// z/OS keyrings (`safkeyring://owner/ring`, 2 to 4 slashes) cannot be opened here.
pub fn refuse_keyring(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if is_keyring_url(&text) {
        return Err(PkiError::Keyring {
            url: text.into_owned(),
        });
    }
    Ok(())
}

/// Whether `location` is a z/OS keyring URL (`safkeyring:` with 2 to 4 slashes).
pub fn is_keyring_url(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("safkeyring:") else {
        return false;
    };
    let slashes = rest.chars().take_while(|c| *c == '/').count();
    (2..=4).contains(&slashes)
}

/// Read every certificate from a PEM file (or a single DER certificate).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_certs(&data, path)
}

/// Parse certificates from PEM or DER bytes.
pub fn parse_certs(data: &[u8], origin: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let malformed = |reason: String| PkiError::Malformed {
        path: origin.to_path_buf(),
        expected: "certificate file (PEM or DER)",
        reason,
    };
    if data.first() == Some(&0x30) {
        crate::x509::CertInfo::parse(&CertificateDer::from(data))
            .map_err(|e| malformed(e.to_string()))?;
        return Ok(vec![CertificateDer::from(data.to_vec())]);
    }
    let blocks = pem::parse_many(data).map_err(|e| malformed(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = blocks
        .into_iter()
        .filter(|b| {
            b.tag() == "CERTIFICATE"
                || b.tag() == "X509 CERTIFICATE"
                || b.tag() == "TRUSTED CERTIFICATE"
        })
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    if certs.is_empty() {
        return Err(malformed("no `BEGIN CERTIFICATE` block found".into()));
    }
    for cert in &certs {
        crate::x509::CertInfo::parse(cert).map_err(|e| malformed(e.to_string()))?;
    }
    Ok(certs)
}

/// Read a private key from PEM: PKCS#8 (`PRIVATE KEY`) or PKCS#1 RSA
/// (`RSA PRIVATE KEY`, converted to PKCS#8).
pub fn read_private_key(path: &Path) -> Result<PrivateKey> {
    let data = std::fs::read(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_private_key(&data, path)
}

/// Parse a PEM private key; see [`read_private_key`].
pub fn parse_private_key(data: &[u8], origin: &Path) -> Result<PrivateKey> {
    let malformed = |reason: String| PkiError::Malformed {
        path: origin.to_path_buf(),
        expected: "PEM private key",
        reason,
    };
    let blocks = pem::parse_many(data).map_err(|e| malformed(e.to_string()))?;
    for block in blocks {
        match block.tag() {
            "PRIVATE KEY" => {
                let der = block.into_contents();
                crate::x509::key_algorithm(&der).map_err(|e| malformed(e.to_string()))?;
                return Ok(PrivateKey(der));
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::RsaPrivateKey::from_pkcs1_der(block.contents()).map_err(|e| malformed(e.to_string()))?;
                let der = key.to_pkcs8_der().map_err(|e| malformed(e.to_string()))?;
                return Ok(PrivateKey(der.as_bytes().to_vec()));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(malformed(
                    "the key is encrypted; decrypt it first with `openssl pkcs8 -in KEY -out KEY.pem -nocrypt` (keep the result mode 0600)".into(),
                ))
            }
            "EC PRIVATE KEY" => {
                return Err(malformed(
                    "SEC1 EC keys are not read; convert with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pem`".into(),
                ))
            }
            _ => {}
        }
    }
    Err(malformed("no `BEGIN PRIVATE KEY` block found".into()))
}

/// Certificates as PEM text.
pub fn certs_to_pem(certs: &[CertificateDer<'_>]) -> String {
    certs
        .iter()
        .map(|c| pem::encode(&pem::Pem::new("CERTIFICATE", c.to_vec())))
        .collect()
}

/// Where a server or client key comes from.
#[derive(Clone, Debug)]
pub enum KeystoreParams {
    /// A PKCS12 keystore (`zowe.certificate.keystore.*`).
    Pkcs12 {
        /// `keystore.file`
        file: PathBuf,
        /// `keystore.password`
        password: Secret,
        /// `keystore.alias`; `None` takes the only key entry.
        alias: Option<String>,
    },
    /// PEM files (`zowe.certificate.pem.*`).
    Pem {
        /// `pem.key` (PKCS#8 or PKCS#1).
        key: PathBuf,
        /// `pem.certificate`: the leaf, optionally followed by its chain.
        certificate: PathBuf,
    },
    /// A key and chain read elsewhere (an ESM key ring).
    Loaded {
        /// Where it was read, for messages (`ZWESVUSR/ZoweKeyring label 'localhost'`).
        name: String,
        /// The key and its chain.
        entry: Box<KeyEntry>,
    },
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("alias", &self.alias)
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Where trusted certificates come from.
#[derive(Clone, Debug)]
pub enum TruststoreParams {
    /// A PKCS12 truststore (`zowe.certificate.truststore.*`).
    Pkcs12 {
        /// `truststore.file`
        file: PathBuf,
        /// `truststore.password`
        password: Secret,
    },
    /// PEM files (`pem.certificateAuthorities`).
    Pem {
        /// Each file may hold several certificates.
        files: Vec<PathBuf>,
    },
    /// Certificates read elsewhere (an ESM key ring's CA connections).
    Loaded {
        /// Where they were read, for messages.
        name: String,
        /// The trusted certificates.
        certs: Vec<CertificateDer<'static>>,
    },
}

/// Load the key entry `params` names: key + chain (leaf first).
pub fn load_key(params: &KeystoreParams) -> Result<KeyEntry> {
    match params {
        KeystoreParams::Pkcs12 {
            file,
            password,
            alias,
        } => {
            let store = Keystore::read_pkcs12(file, password)?;
            let entry = store.key_for(file, alias.as_deref())?.clone();
            Ok(entry)
        }
        KeystoreParams::Pem { key, certificate } => {
            refuse_keyring(key)?;
            let private = read_private_key(key)?;
            let chain = read_certs(certificate)?;
            let leaf = chain.first().ok_or_else(|| PkiError::Malformed {
                path: certificate.clone(),
                expected: "certificate file (PEM or DER)",
                reason: "no certificate".into(),
            })?;
            if !crate::x509::key_matches_cert(private.pkcs8_der(), leaf)? {
                return Err(PkiError::KeyMismatch {
                    subject: crate::x509::CertInfo::parse(leaf)?.subject,
                });
            }
            Ok(KeyEntry {
                alias: "pem".into(),
                key: private,
                chain,
            })
        }
        KeystoreParams::Loaded { entry, .. } => Ok((**entry).clone()),
    }
}

/// Load every trusted certificate `params` names.
pub fn load_trusted(params: &TruststoreParams) -> Result<Vec<CertificateDer<'static>>> {
    match params {
        TruststoreParams::Pkcs12 { file, password } => {
            let store = Keystore::read_pkcs12(file, password)?;
            let mut certs: Vec<CertificateDer<'static>> = store.trusted_certs().cloned().collect();
            // A keystore used as truststore: its key entries' CA certificates count too.
            for key in &store.keys {
                for cert in key.chain.iter().skip(1) {
                    if !certs.contains(cert) {
                        certs.push(cert.clone());
                    }
                }
            }
            Ok(certs)
        }
        TruststoreParams::Pem { files } => {
            let mut certs = Vec::new();
            for file in files {
                refuse_keyring(file)?;
                certs.extend(read_certs(file)?);
            }
            Ok(certs)
        }
        TruststoreParams::Loaded { certs, .. } => Ok(certs.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_urls_take_two_to_four_slashes() {
        assert!(is_keyring_url("safkeyring://ZWESVUSR/ZoweKeyring"));
        assert!(is_keyring_url("safkeyring:///ZWESVUSR/ZoweKeyring"));
        assert!(is_keyring_url("SAFKEYRING:////ZWESVUSR/ZoweKeyring"));
        assert!(!is_keyring_url("safkeyring:/ZWESVUSR/ZoweKeyring"));
        assert!(!is_keyring_url("safkeyring://///x"));
        assert!(!is_keyring_url(
            "/var/zowe/keystore/localhost/localhost.keystore.p12"
        ));
    }

    #[test]
    fn garbage_pkcs12_is_malformed() {
        for data in [
            &b""[..],
            b"\x30\x80",
            b"hello",
            &[0x30, 0x03, 0x02, 0x01, 0x03],
        ] {
            let err = Keystore::from_pkcs12(data, &Secret::new("x"), Path::new("t.p12")).err();
            assert!(matches!(err, Some(PkiError::Malformed { .. })), "{err:?}");
        }
    }

    #[test]
    fn password_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", Secret::new("s3cret")), "Secret(********)");
    }
}
