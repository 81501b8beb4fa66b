//! Key rings for applications (R_datalib, keyrings spec §2.2), the files
//! RACDCERT EXPORT writes after its commit, and the rotation of the
//! key-encryption key.

use std::io::Write;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Esm, EsmError, Transaction};
use crate::command::{CommandError, CommandErrorKind, Effect, FileExport};
use crate::digtcert::{
    self as dc, cert_key, CertOwner, RingAccessError, RingContents, RingEntry, RingRef, Usage,
    VirtualRing, CERT_KIND,
};
use crate::index::CheckContext;
use crate::keywrap::KeyEncryption;
use crate::model::{normalize_id, AccessLevel};
use crate::state::Change;

/// Writes one exported file: a new file beside the target, complete,
/// then linked to the target name, which must not exist (a reader never
/// sees half a file, nothing existing is replaced, a symbolic link at the
/// target is not followed); 0600 when it holds a private key.
pub(super) fn write_export(export: &FileExport) -> Result<(), CommandError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| {
        CommandError::new(
            CommandErrorKind::NotFound,
            format!("IRRD193I Cannot write {}: {e}", export.path.display()),
        )
    };
    let name = export
        .path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::other("not a file name")))?;
    let dir = export
        .path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".{}.zgate-export", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let mode = if export.private { 0o600 } else { 0o644 };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    let written = f.write_all(&export.data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    // Linked, not renamed: an existing file is never replaced, so an
    // export cannot overwrite the configuration, the key file or a
    // database the process can write.
    let linked = std::fs::hard_link(&tmp, &export.path);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(fail)
}

/// How the caller reached the ring, and what it may have of keys.
struct Grant {
    /// Others' PERSONAL keys (RDATALIB UPDATE).
    others_keys: bool,
    /// SITE/CERTAUTH certificates connected PERSONAL.
    site_keys: bool,
}

/// Re-seal passes of a rotation before the old key is dropped anyway.
const MAX_RESEAL_PASSES: usize = 3;

impl Esm {
    /// Opens a key ring as `caller` would with R_datalib (keyrings spec
    /// §2.2): RDATALIB `<OWNER>.<RING>.LST` when class RDATALIB is active
    /// and RACLISTed and a profile covers it (READ: the ring and the
    /// caller's own private keys; UPDATE: others' too), else FACILITY
    /// `IRR.DIGTCERT.LISTRING` (READ for one's own ring, UPDATE for
    /// another's; private keys of certificates the caller owns, and of
    /// SITE/CERTAUTH ones connected PERSONAL with CONTROL on
    /// `IRR.DIGTCERT.GENCERT`). Keys come only with USAGE(PERSONAL)
    /// connections. NOTRUST entries are returned with their status: the
    /// caller decides.
    ///
    /// Reads memory only; the access decision is recorded as a check is.
    pub fn read_ring(&self, caller: &str, ring: &RingRef) -> Result<RingContents, RingAccessError> {
        let caller = normalize_id(caller)
            .map_err(|e| RingAccessError::InvalidName(format!("caller {caller}: {e}")))?;
        // Virtual rings' RDATALIB names (R_datalib "RACF authorization").
        let (ring_owner, lst_owner, lst_ring) = match ring {
            RingRef::Ring { owner, name } => (
                Some(owner.clone()),
                owner.clone(),
                name.to_ascii_uppercase(),
            ),
            RingRef::Virtual(VirtualRing::User(u)) => {
                (Some(u.clone()), u.clone(), "IRR_VIRTUAL_KEYRING".to_owned())
            }
            RingRef::Virtual(VirtualRing::CertAuth) => {
                (None, "CERTIFAUTH".into(), "IRR_VIRTUAL_KEYRING".to_owned())
            }
            RingRef::Virtual(VirtualRing::Site) => {
                (None, "SITECERTIF".into(), "IRR_VIRTUAL_KEYRING".to_owned())
            }
        };
        let lst = format!("{lst_owner}.{lst_ring}.LST");
        let rdatalib = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            index
                .class_settings("RDATALIB")
                .is_some_and(|s| s.active && s.raclist)
                && index.protecting("RDATALIB", &lst).is_some()
        };
        let own_ring = ring_owner.as_deref() == Some(caller.as_str());
        let probe = |class: &str, resource: &str, level: AccessLevel| {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            index
                .decide(&caller, class, resource, level, &CheckContext::default())
                .authorized()
        };
        let grant = if rdatalib {
            if !self
                .check(&caller, "RDATALIB", &lst, AccessLevel::Read)
                .authorized()
            {
                return Err(RingAccessError::NotAuthorized {
                    caller,
                    resource: lst,
                    class: "RDATALIB".into(),
                    needed: AccessLevel::Read,
                });
            }
            let update = probe("RDATALIB", &lst, AccessLevel::Update);
            Grant {
                others_keys: update,
                // Unverified: UPDATE, as for others' keys.
                site_keys: update,
            }
        } else {
            // Unverified: the CERTAUTH and SITE virtual rings hold trust
            // anchors anyone with READ may list.
            let needed = if own_ring || ring_owner.is_none() {
                AccessLevel::Read
            } else {
                AccessLevel::Update
            };
            let resource = "IRR.DIGTCERT.LISTRING";
            if !self
                .check(&caller, "FACILITY", resource, needed)
                .authorized()
            {
                return Err(RingAccessError::NotAuthorized {
                    caller,
                    resource: resource.into(),
                    class: "FACILITY".into(),
                    needed,
                });
            }
            Grant {
                others_keys: false,
                site_keys: probe("FACILITY", "IRR.DIGTCERT.GENCERT", AccessLevel::Control),
            }
        };
        let view = self.records.read().unwrap_or_else(|e| e.into_inner());
        let records = &view.records;
        // (owner, label, usage, default)
        let members: Vec<(CertOwner, String, Usage, bool)> = match ring {
            RingRef::Ring { owner, name } => {
                let stored =
                    dc::ring(records, owner, name).ok_or_else(|| RingAccessError::NoSuchRing {
                        owner: owner.clone(),
                        name: name.clone(),
                    })?;
                stored
                    .connections
                    .into_iter()
                    .filter_map(|c| {
                        Some((CertOwner::from_tag(&c.owner)?, c.label, c.usage, c.default))
                    })
                    .collect()
            }
            RingRef::Virtual(v) => {
                let owner = match v {
                    VirtualRing::User(u) => CertOwner::User(u.clone()),
                    VirtualRing::CertAuth => CertOwner::CertAuth,
                    VirtualRing::Site => CertOwner::Site,
                };
                let usage = owner.default_usage();
                dc::certs_of(records, &owner)
                    .into_keys()
                    .map(|label| (owner.clone(), label, usage, false))
                    .collect()
            }
        };
        let kek = self.kek.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut hash = Sha256::new();
        hash.update(ring.display().as_bytes());
        let mut entries = Vec::new();
        for (owner, label, usage, default) in members {
            // A connection whose certificate is gone is not returned.
            let Some(cert) = dc::cert(records, &owner, &label) else {
                continue;
            };
            let key_allowed = usage == Usage::Personal
                && match &owner {
                    CertOwner::User(u) if *u == caller => true,
                    CertOwner::User(_) => grant.others_keys,
                    CertOwner::CertAuth | CertOwner::Site => grant.site_keys,
                };
            let private_key_pkcs8 = match (&cert.key, key_allowed) {
                (Some(wrapped), true) => {
                    let kek = self
                        .key_encryption_for(kek.clone(), &wrapped.kek)
                        .ok_or_else(|| RingAccessError::KeyUnavailable {
                            label: label.clone(),
                            reason: "no key-encryption key is configured".into(),
                        })?;
                    Some(
                        kek.unwrap_key(&cert_key(&owner, &label), wrapped)
                            .map_err(|e| RingAccessError::KeyUnavailable {
                                label: label.clone(),
                                reason: e.to_string(),
                            })?,
                    )
                }
                _ => None,
            };
            let der = cert.der_bytes();
            for part in [
                label.as_bytes(),
                owner.tag().as_bytes(),
                usage.name().as_bytes(),
                if default { b"1" } else { b"0" },
                cert.trust.name().as_bytes(),
                if private_key_pkcs8.is_some() {
                    b"k"
                } else {
                    b"-"
                },
            ] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
            hash.update((der.len() as u64).to_be_bytes());
            hash.update(&der);
            entries.push(RingEntry {
                label,
                owner,
                usage,
                default,
                trust: cert.trust,
                certificate_der: der,
                private_key_pkcs8,
            });
        }
        Ok(RingContents {
            entries,
            fingerprint: hash.finalize().into(),
        })
    }

    /// The key-encryption keys that hold `id`: those in memory, or, when
    /// they do not (another process rotated them), the key file read
    /// again and kept.
    fn key_encryption_for(
        &self,
        held: Option<Arc<KeyEncryption>>,
        id: &str,
    ) -> Option<Arc<KeyEncryption>> {
        if held
            .as_ref()
            .is_some_and(|k| k.ids().iter().any(|i| i == id))
        {
            return held;
        }
        let reread = self
            .kek_file
            .as_ref()
            .and_then(|path| KeyEncryption::read(path).ok())
            .filter(|k| k.ids().iter().any(|i| i == id))
            .map(Arc::new);
        match reread {
            Some(kek) => {
                *self.kek.write().unwrap_or_else(|e| e.into_inner()) = Some(kek.clone());
                Some(kek)
            }
            None => held,
        }
    }

    /// The ids of the key-encryption keys held, current first.
    pub fn key_encryption_ids(&self) -> Vec<String> {
        self.kek
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|k| k.ids())
            .unwrap_or_default()
    }

    /// Replaces the key-encryption key: a new one becomes current (written
    /// to the key file beside the old one first), every stored private key
    /// is re-sealed under it in ONE transaction, and only then is the old
    /// key dropped from the file. A crash in between leaves a file that
    /// opens every key. Returns how many keys were re-sealed. Other
    /// processes on the same database need the new file (copy it) before
    /// they can open the re-sealed keys.
    pub fn rotate_key_encryption_key(&self) -> Result<usize, EsmError> {
        let current = self
            .kek
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| EsmError::KeyEncryption("no key-encryption key is configured".into()))?;
        let next = Arc::new(
            current
                .with_new_current(&*self.config.random)
                .map_err(|e| EsmError::KeyEncryption(e.to_string()))?,
        );
        if let Some(path) = &self.kek_file {
            next.write(path)
                .map_err(|e| EsmError::KeyEncryption(e.to_string()))?;
        }
        *self.kek.write().unwrap_or_else(|e| e.into_inner()) = Some(next.clone());
        let random = &*self.config.random;
        // Passes until one finds nothing left under an older key (each
        // starts from the store's latest commits): a command of another
        // process that sealed a key under the old one while a pass ran is
        // caught by the next, before the old key is dropped.
        let mut count = 0;
        for _ in 0..MAX_RESEAL_PASSES {
            let result = self.transact(|state| {
                let mut effect = Effect::default();
                for (owner, label, mut cert) in dc::all_certs(&state.records) {
                    let Some(wrapped) = &cert.key else { continue };
                    if wrapped.kek == next.current_id() {
                        continue;
                    }
                    let key = cert_key(&owner, &label);
                    let plain = next
                        .unwrap_key(&key, wrapped)
                        .map_err(|e| EsmError::KeyEncryption(format!("{key}: {e}")))?;
                    cert.key = Some(
                        next.wrap(&key, &plain, random)
                            .map_err(|e| EsmError::KeyEncryption(e.to_string()))?,
                    );
                    effect
                        .changes
                        .push(Change::put_record(CERT_KIND, &key, cert.encode()));
                }
                let n = effect.changes.len();
                Ok((effect, n))
            });
            let resealed = match result {
                Ok((_, n)) => n,
                Err(Transaction::Refused(e)) => return Err(e),
                Err(Transaction::Store(e)) => return Err(e.into()),
            };
            if resealed == 0 {
                break;
            }
            count += resealed;
        }
        let only = Arc::new(next.current_only());
        if let Some(path) = &self.kek_file {
            only.write(path)
                .map_err(|e| EsmError::KeyEncryption(e.to_string()))?;
        }
        *self.kek.write().unwrap_or_else(|e| e.into_inner()) = Some(only);
        Ok(count)
    }
}
