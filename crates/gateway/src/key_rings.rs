//! The server's keystore and truststore when `zowe.certificate` names ESM
//! key rings (`safkeyring://OWNER/RING`): read with
//! [`Esm::read_ring`] as the gateway's own user id, under R_datalib's rules
//! (the ring's `.LST` profile in RDATALIB, or FACILITY
//! `IRR.DIGTCERT.LISTRING`; the private key only where they give it).
//!
//! The server certificate is the ring's entry labelled `keystore.alias`
//! (else the ring's DEFAULT), connected with USAGE(PERSONAL), with a
//! private key and not NOTRUST; its chain is completed from the ring's
//! CERTAUTH connections. The trust anchors are the truststore ring's
//! CERTAUTH and SITE connections that are not NOTRUST, plus each
//! `pem.certificateAuthorities` entry (`safkeyring://OWNER/RING&LABEL` or a
//! file).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use zgate_config::{Config, KeystoreLocation};
use zgate_esm::{Esm, RingAccessError, RingContents, RingEntry, RingRef, Trust, Usage};
use zgate_pki::{self as pki, PkiError, TlsMaterial};

use crate::tls_reload::{TlsSource, TlsSourceError};

/// Why a key ring cannot serve as the server's keystore or truststore.
/// Each message ends with what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingStoreError {
    /// R_datalib refused the ring, or it does not exist.
    #[error("key ring {ring}: {source}")]
    Access {
        /// `OWNER/RING`.
        ring: String,
        /// What the ESM said.
        source: RingAccessError,
    },
    /// No connection carries the label.
    #[error("key ring {ring} has no certificate labelled '{label}': connect it (RACDCERT CONNECT(ID(owner) LABEL('{label}') RING({ring_name}) USAGE(PERSONAL) DEFAULT) ID({ring_owner})) or set the label in {key}")]
    NoSuchLabel {
        /// `OWNER/RING`.
        ring: String,
        /// Its owner.
        ring_owner: String,
        /// Its name.
        ring_name: String,
        /// The label looked for.
        label: String,
        /// The configuration key naming it.
        key: &'static str,
    },
    /// No label configured and no DEFAULT connection.
    #[error("key ring {ring} has no DEFAULT certificate and zowe.certificate.keystore.alias is empty: set the alias to the server certificate's label")]
    NoDefault {
        /// `OWNER/RING`.
        ring: String,
    },
    /// The certificate cannot serve as what the configuration names it for.
    #[error("certificate '{label}' in key ring {ring} cannot be used: {why}")]
    Unusable {
        /// `OWNER/RING`.
        ring: String,
        /// Its label.
        label: String,
        /// Why, with what to do.
        why: String,
    },
    /// A certificate of the ring cannot be read.
    #[error("certificate '{label}' in key ring {ring}: {source}")]
    Certificate {
        /// `OWNER/RING`.
        ring: String,
        /// Its label.
        label: String,
        /// Why.
        source: PkiError,
    },
    /// A CA file of `pem.certificateAuthorities`.
    #[error(transparent)]
    File(#[from] PkiError),
}

/// The key rings (and files) of the configuration, read as `caller`.
pub struct KeyRingStores {
    esm: Arc<Esm>,
    caller: String,
    keystore: (RingRef, Option<String>),
    truststore: Option<RingRef>,
    /// `pem.certificateAuthorities` entries in rings: ring and label.
    authorities: Vec<(RingRef, String)>,
    /// `pem.certificateAuthorities` files, and the truststore file when it
    /// is not a ring (with the keystore in one).
    files: Option<pki::TruststoreParams>,
    /// The last fingerprint (or refusal), with the ESM generation and the
    /// files' hash it was read at: the rings are read again only when one
    /// of them moved, so a poll costs a lock and a hash, not a decryption
    /// and an access decision (nor an audit record of a refused one).
    last: std::sync::Mutex<Option<LastRead>>,
}

/// What [`KeyRingStores`] last read, and from what.
struct LastRead {
    generation: i64,
    files: [u8; 32],
    outcome: Result<[u8; 32], String>,
}

fn ring_ref(owner: &str, ring: &str) -> Result<RingRef, KeyRingStoreError> {
    let text = format!("{owner}/{ring}");
    RingRef::parse(&text).map_err(|source| KeyRingStoreError::Access { ring: text, source })
}

impl KeyRingStores {
    /// The stores `config` names, when its keystore is a key ring
    /// (`None`: files, read by pki).
    pub fn of(
        config: &Config,
        esm: Arc<Esm>,
        caller: &str,
    ) -> Result<Option<KeyRingStores>, KeyRingStoreError> {
        let certificate = &config.certificate;
        let KeystoreLocation::Ring { owner, ring, label } = &certificate.keystore.location else {
            return Ok(None);
        };
        let keystore = (ring_ref(owner, ring)?, label.clone());
        let truststore = match &certificate.truststore.location {
            KeystoreLocation::Ring { owner, ring, .. } => Some(ring_ref(owner, ring)?),
            KeystoreLocation::File(_) => None,
        };
        let mut authorities = Vec::new();
        for ca in &certificate.pem_certificate_authorities_in_rings {
            authorities.push((ring_ref(&ca.ring.owner, &ca.ring.ring)?, ca.label.clone()));
        }
        let mut files = None;
        if !certificate.pem_certificate_authorities.is_empty() {
            files = Some(pki::TruststoreParams::Pem {
                files: certificate.pem_certificate_authorities.clone(),
            });
        } else if let KeystoreLocation::File(file) = &certificate.truststore.location {
            if file.exists() {
                files = Some(pki::TruststoreParams::Pkcs12 {
                    file: file.clone(),
                    password: pki::Secret::new(certificate.truststore.password.expose()),
                });
            }
        }
        Ok(Some(KeyRingStores {
            esm,
            caller: caller.to_owned(),
            keystore,
            truststore,
            authorities,
            files,
            last: std::sync::Mutex::new(None),
        }))
    }

    fn read(&self, ring: &RingRef) -> Result<RingContents, KeyRingStoreError> {
        self.esm
            .read_ring(&self.caller, ring)
            .map_err(|source| KeyRingStoreError::Access {
                ring: ring.display(),
                source,
            })
    }

    /// The server's key and chain, and the trust anchors, with the
    /// fingerprint of everything read.
    pub fn load(&self) -> Result<(TlsMaterial, [u8; 32]), KeyRingStoreError> {
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut trust_anchors: Vec<CertificateDer<'static>> = Vec::new();
        let mut add_anchor = |cert: CertificateDer<'static>| {
            if !trust_anchors.contains(&cert) {
                trust_anchors.push(cert);
            }
        };
        let (ring, label) = &self.keystore;
        let contents = self.read(ring)?;
        digest.update(&contents.fingerprint);
        let (chain, key) = server_entry(ring, label.as_deref(), &contents)?;
        if let Some(ring) = &self.truststore {
            let contents = self.read(ring)?;
            digest.update(&contents.fingerprint);
            for entry in &contents.entries {
                if matches!(entry.usage, Usage::CertAuth | Usage::Site)
                    && entry.trust != Trust::NoTrust
                {
                    add_anchor(CertificateDer::from(entry.certificate_der.clone()));
                }
            }
        }
        for (ring, label) in &self.authorities {
            let contents = self.read(ring)?;
            digest.update(&contents.fingerprint);
            // Labels are unique per owner only: the CA connection of that
            // label, else any, to say why it is not one.
            let entry = contents
                .entries
                .iter()
                .filter(|e| &e.label == label)
                .min_by_key(|e| e.usage == Usage::Personal)
                .ok_or_else(|| {
                    no_such_label(ring, label, "zowe.certificate.pem.certificateAuthorities")
                })?;
            if entry.usage == Usage::Personal {
                return Err(KeyRingStoreError::Unusable {
                    ring: ring.display(),
                    label: label.clone(),
                    why: "it is connected with USAGE(PERSONAL); a certificate authority is connected with USAGE(CERTAUTH)".into(),
                });
            }
            if entry.trust == Trust::NoTrust {
                return Err(KeyRingStoreError::Unusable {
                    ring: ring.display(),
                    label: label.clone(),
                    why: "it is NOTRUST, so it cannot be a certificate authority (RACDCERT ALTER ... TRUST)".into(),
                });
            }
            add_anchor(CertificateDer::from(entry.certificate_der.clone()));
        }
        if let Some(files) = &self.files {
            for cert in pki::load_trusted(files)? {
                digest.update(cert.as_ref());
                add_anchor(cert);
            }
        }
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(digest.finish().as_ref());
        Ok((
            TlsMaterial {
                chain,
                key,
                trust_anchors,
            },
            fingerprint,
        ))
    }

    /// SHA-256 of the CA files' contents (a missing or unreadable file
    /// counts as such).
    fn files_hash(&self) -> [u8; 32] {
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let paths: Vec<&std::path::Path> = match &self.files {
            Some(pki::TruststoreParams::Pem { files }) => {
                files.iter().map(|p| p.as_path()).collect()
            }
            Some(pki::TruststoreParams::Pkcs12 { file, .. }) => vec![file.as_path()],
            _ => Vec::new(),
        };
        for path in paths {
            match std::fs::read(path) {
                Ok(contents) => {
                    digest.update(b"+");
                    digest.update(&(contents.len() as u64).to_be_bytes());
                    digest.update(&contents);
                }
                Err(_) => digest.update(b"-"),
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.finish().as_ref());
        out
    }

    /// The configured keystore ring's name (`OWNER/RING`), for messages.
    pub fn keystore_name(&self) -> String {
        self.keystore.0.display()
    }

    /// The issuer the server certificate's chain stops at when the
    /// keystore ring does not connect it (`None`: the chain reaches a
    /// self-signed certificate within the ring), with the label of the
    /// CERTAUTH certificate that is that issuer, when the gateway's user
    /// may see it.
    pub fn missing_issuer(&self) -> Result<Option<MissingIssuer>, KeyRingStoreError> {
        let (ring, label) = &self.keystore;
        let contents = self.read(ring)?;
        let (chain, _) = server_entry(ring, label.as_deref(), &contents)?;
        let Some(last) = chain.last() else {
            return Ok(None);
        };
        let info =
            pki::x509::CertInfo::parse(last).map_err(|source| KeyRingStoreError::Certificate {
                ring: ring.display(),
                label: label.clone().unwrap_or_default(),
                source,
            })?;
        if info.issuer_raw == info.subject_raw {
            return Ok(None);
        }
        let authorities = RingRef::Virtual(zgate_esm::VirtualRing::CertAuth);
        let label = self
            .esm
            .read_ring(&self.caller, &authorities)
            .ok()
            .and_then(|all| {
                all.entries.into_iter().find(|e| {
                    let der = CertificateDer::from(e.certificate_der.as_slice());
                    pki::x509::CertInfo::parse(&der)
                        .is_ok_and(|ca| ca.subject_raw == info.issuer_raw)
                })
            })
            .map(|e| e.label);
        let (ring_owner, ring_name) = match ring {
            RingRef::Ring { owner, name } => (owner.clone(), name.clone()),
            RingRef::Virtual(_) => (String::new(), ring.display()),
        };
        Ok(Some(MissingIssuer {
            issuer: info.issuer,
            subject: info.subject,
            ring_owner,
            ring_name,
            label,
        }))
    }
}

/// A CA certificate a key ring should connect and does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingIssuer {
    /// The CA's subject DN.
    pub issuer: String,
    /// The certificate it issued, the last of the chain found.
    pub subject: String,
    /// The ring's owner.
    pub ring_owner: String,
    /// The ring's name.
    pub ring_name: String,
    /// The CERTAUTH certificate's label, when found.
    pub label: Option<String>,
}

impl MissingIssuer {
    /// The RACF command that connects it.
    pub fn connect_command(&self) -> String {
        format!(
            "RACDCERT CONNECT(CERTAUTH LABEL('{}') RING({}) USAGE(CERTAUTH)) ID({})",
            self.label.as_deref().unwrap_or("label of the CA"),
            self.ring_name,
            self.ring_owner
        )
    }
}

fn no_such_label(ring: &RingRef, label: &str, key: &'static str) -> KeyRingStoreError {
    let (ring_owner, ring_name) = match ring {
        RingRef::Ring { owner, name } => (owner.clone(), name.clone()),
        RingRef::Virtual(_) => (String::new(), ring.display()),
    };
    KeyRingStoreError::NoSuchLabel {
        ring: ring.display(),
        ring_owner,
        ring_name,
        label: label.to_owned(),
        key,
    }
}

/// The server's chain (leaf first, completed from the ring's CERTAUTH
/// connections) and key.
fn server_entry(
    ring: &RingRef,
    label: Option<&str>,
    contents: &RingContents,
) -> Result<(Vec<CertificateDer<'static>>, pki::PrivateKey), KeyRingStoreError> {
    let entry = match label {
        // Labels are unique per owner only: the PERSONAL connection of
        // that label, else any, to say why it cannot serve.
        Some(label) => contents
            .entries
            .iter()
            .filter(|e| e.label == label)
            .min_by_key(|e| e.usage != Usage::Personal)
            .ok_or_else(|| no_such_label(ring, label, "zowe.certificate.keystore.alias"))?,
        None => contents.entries.iter().find(|e| e.default).ok_or_else(|| {
            KeyRingStoreError::NoDefault {
                ring: ring.display(),
            }
        })?,
    };
    let refuse = |why: String| KeyRingStoreError::Unusable {
        ring: ring.display(),
        label: entry.label.clone(),
        why,
    };
    if entry.usage != Usage::Personal {
        return Err(refuse(format!(
            "it is connected with USAGE({}); the server's certificate needs USAGE(PERSONAL)",
            entry.usage.name()
        )));
    }
    if entry.trust == Trust::NoTrust {
        return Err(refuse(
            "it is NOTRUST (RACDCERT ALTER(LABEL(...)) TRUST makes it usable)".into(),
        ));
    }
    let Some(key) = &entry.private_key_pkcs8 else {
        return Err(refuse(
            "its private key is not given to the gateway's user: R_datalib gives a private key only to the certificate's owner (READ on the ring's .LST profile), to others with UPDATE on it, and for SITE or CERTAUTH certificates with CONTROL on IRR.DIGTCERT.GENCERT"
                .into(),
        ));
    };
    let mut chain = vec![CertificateDer::from(entry.certificate_der.clone())];
    complete_chain(&mut chain, contents);
    Ok((chain, pki::PrivateKey::from_pkcs8_der(key.to_vec())))
}

/// Appends the issuers of the chain's last certificate found among the
/// ring's CERTAUTH connections, up to a self-signed one.
fn complete_chain(chain: &mut Vec<CertificateDer<'static>>, contents: &RingContents) {
    let authorities: Vec<(&RingEntry, pki::x509::CertInfo)> = contents
        .entries
        .iter()
        .filter(|e| e.usage == Usage::CertAuth && e.trust != Trust::NoTrust)
        .filter_map(|e| {
            let der = CertificateDer::from(e.certificate_der.as_slice());
            pki::x509::CertInfo::parse(&der).ok().map(|info| (e, info))
        })
        .collect();
    // A chain is at most as long as the ring; the bound also ends cycles.
    for _ in 0..authorities.len() {
        let Some(last) = chain
            .last()
            .and_then(|c| pki::x509::CertInfo::parse(c).ok())
        else {
            return;
        };
        if last.issuer_raw == last.subject_raw {
            return;
        }
        let Some((entry, _)) = authorities
            .iter()
            .find(|(_, info)| info.subject_raw == last.issuer_raw)
        else {
            return;
        };
        let der = CertificateDer::from(entry.certificate_der.clone());
        if chain.contains(&der) {
            return;
        }
        chain.push(der);
    }
}

impl TlsSource for KeyRingStores {
    fn load(&self) -> Result<TlsMaterial, TlsSourceError> {
        KeyRingStores::load(self)
            .map(|(material, _)| material)
            .map_err(|error| TlsSourceError::Other(Box::new(error)))
    }

    fn fingerprint(&self) -> Result<[u8; 32], TlsSourceError> {
        let generation = self.esm.generation();
        let files = self.files_hash();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = match &*last {
            Some(read) if read.generation == generation && read.files == files => {
                read.outcome.clone()
            }
            _ => {
                let outcome = KeyRingStores::load(self)
                    .map(|(_, fingerprint)| fingerprint)
                    .map_err(|error| error.to_string());
                *last = Some(LastRead {
                    generation,
                    files,
                    outcome: outcome.clone(),
                });
                outcome
            }
        };
        outcome.map_err(|message| TlsSourceError::Other(message.into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use zgate_esm::keywrap::KeyEncryption;
    use zgate_esm::{EsmConfig, Issuer};

    fn esm_with_ring() -> Esm {
        let esm = Esm::in_memory(EsmConfig {
            key_encryption: Some(Arc::new(KeyEncryption::from_key("k1", [7; 32]))),
            ..EsmConfig::default()
        })
        .unwrap();
        for command in [
            "ADDUSER ZWESVUSR",
            "SETROPTS CLASSACT(FACILITY)",
            "RDEFINE FACILITY IRR.DIGTCERT.LISTRING UACC(NONE)",
            "PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)",
            "RACDCERT ADDRING(Ring) ID(ZWESVUSR)",
            // One label, two owners: a CA and the server's certificate.
            "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Root')) WITHLABEL('same') KEYUSAGE(CERTSIGN)",
            "RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Issuing')) WITHLABEL('issuing') KEYUSAGE(CERTSIGN) SIGNWITH(CERTAUTH LABEL('same'))",
            "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('localhost')) WITHLABEL('same') ALTNAME(DOMAIN('localhost')) SIGNWITH(CERTAUTH LABEL('issuing'))",
            "RACDCERT CONNECT(CERTAUTH LABEL('same') RING(Ring)) ID(ZWESVUSR)",
            "RACDCERT CONNECT(CERTAUTH LABEL('issuing') RING(Ring)) ID(ZWESVUSR)",
            "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('same') RING(Ring) USAGE(PERSONAL)) ID(ZWESVUSR)",
        ] {
            esm.run_command(&Issuer::Operator, command)
                .unwrap_or_else(|e| panic!("{command}: {e}"));
        }
        esm
    }

    fn subject(der: &CertificateDer<'_>) -> String {
        pki::x509::CertInfo::parse(der).unwrap().subject
    }

    #[test]
    fn the_server_entry_is_the_personal_one_of_its_label_with_its_chain_from_the_ring() {
        let esm = esm_with_ring();
        let ring = RingRef::parse("ZWESVUSR/Ring").unwrap();
        let contents = esm.read_ring("ZWESVUSR", &ring).unwrap();
        let (chain, _) = server_entry(&ring, Some("same"), &contents).unwrap();
        let subjects: Vec<String> = chain.iter().map(subject).collect();
        assert_eq!(subjects, ["CN=localhost", "CN=Issuing", "CN=Root"]);
        // No label: no DEFAULT connection either.
        assert!(matches!(
            server_entry(&ring, None, &contents),
            Err(KeyRingStoreError::NoDefault { .. })
        ));
        assert!(matches!(
            server_entry(&ring, Some("issuing"), &contents),
            Err(KeyRingStoreError::Unusable { .. })
        ));
        assert!(matches!(
            server_entry(&ring, Some("Same"), &contents),
            Err(KeyRingStoreError::NoSuchLabel { .. })
        ));
    }

    #[test]
    fn the_fingerprint_moves_with_the_ring_and_a_refusal_is_reported() {
        let esm = Arc::new(esm_with_ring());
        let stores = KeyRingStores {
            esm: esm.clone(),
            caller: "ZWESVUSR".into(),
            keystore: (
                RingRef::parse("ZWESVUSR/Ring").unwrap(),
                Some("same".into()),
            ),
            truststore: None,
            authorities: Vec::new(),
            files: None,
            last: std::sync::Mutex::new(None),
        };
        let first = stores.fingerprint().unwrap();
        assert_eq!(stores.fingerprint().unwrap(), first);
        let run = |command: &str| {
            esm.run_command(&Issuer::Operator, command)
                .unwrap_or_else(|e| panic!("{command}: {e}"));
        };
        run("RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('other')) WITHLABEL('other')");
        // A commit that leaves the ring as it was: read again, same print.
        assert_eq!(stores.fingerprint().unwrap(), first);
        run(
            "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('other') RING(Ring) USAGE(PERSONAL)) ID(ZWESVUSR)",
        );
        let second = stores.fingerprint().unwrap();
        assert_ne!(second, first);
        run("PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) DELETE");
        let refused = stores.fingerprint().unwrap_err().to_string();
        assert!(refused.contains("IRR.DIGTCERT.LISTRING"), "{refused}");
        assert!(stores.fingerprint().is_err());
    }

    #[test]
    fn a_personal_certificate_is_never_taken_as_a_certificate_authority() {
        let esm = Arc::new(esm_with_ring());
        esm.run_command(
            &Issuer::Operator,
            "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('mine')) WITHLABEL('mine')",
        )
        .unwrap();
        esm.run_command(
            &Issuer::Operator,
            "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('mine') RING(Ring) USAGE(PERSONAL)) ID(ZWESVUSR)",
        )
        .unwrap();
        let stores = |authority: &str| KeyRingStores {
            esm: esm.clone(),
            caller: "ZWESVUSR".into(),
            keystore: (
                RingRef::parse("ZWESVUSR/Ring").unwrap(),
                Some("same".into()),
            ),
            truststore: None,
            authorities: vec![(RingRef::parse("ZWESVUSR/Ring").unwrap(), authority.into())],
            files: None,
            last: std::sync::Mutex::new(None),
        };
        let (material, first) = stores("issuing").load().unwrap();
        assert_eq!(material.trust_anchors.len(), 1);
        assert_eq!(
            stores("issuing").load().unwrap().1,
            first,
            "same ring, same fingerprint"
        );
        assert!(matches!(
            stores("mine").load(),
            Err(KeyRingStoreError::Unusable { .. })
        ));
    }
}
