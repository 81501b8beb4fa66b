//! Private keys at rest: PKCS#8 sealed with AES-256-GCM under a
//! key-encryption key (KEK), the record's key as associated data (a sealed
//! key moved to another owner or label does not open), the KEK's id stored
//! beside it.
//!
//! The KEK file (`<home>/state/esm-key-encryption.key`, mode 0600) holds
//! one `id hex` line per key; the first is current (it seals), the others
//! still open what they sealed until a rotation has re-sealed everything.
//! Processes sharing one database need the same file (copy it, as
//! `state/oidc-login.key`). A backup needs both the file and the database:
//! neither alone reveals a key.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;
use zgate_base::Random;

/// The KEK file's name under `<home>/state`.
pub const KEK_FILE: &str = "esm-key-encryption.key";

/// Where a home keeps its KEK.
pub fn kek_path(home: &Path) -> PathBuf {
    home.join("state").join(KEK_FILE)
}

/// Why a key could not be sealed or opened, or the KEK file read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWrapError {
    /// The file could not be read or written.
    #[error("key-encryption key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not `id hex` lines of 32-byte keys.
    #[error("key-encryption key file {path} is malformed (line {line}); expected `id hex-of-32-bytes` lines")]
    Malformed {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
    },
    /// The key was sealed under a KEK this process does not have.
    #[error("the private key was sealed under key-encryption key {0}, which is not in this process's key file; copy the key file of the process that stored it")]
    UnknownKek(String),
    /// The sealed key does not open (altered, or moved to another record).
    #[error("the sealed private key does not open: altered, or not stored for this certificate")]
    Corrupt,
    /// No randomness for a nonce or a new key.
    #[error("no randomness: {0}")]
    Random(String),
}

/// A sealed private key, as stored beside its certificate.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrappedKey {
    /// The id of the KEK that sealed it.
    pub kek: String,
    /// The AES-GCM nonce, hex.
    pub nonce: String,
    /// Ciphertext and tag, hex.
    pub sealed: String,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey {{ kek: {} }}", self.kek)
    }
}

/// The key-encryption keys: the current one first.
#[derive(Clone)]
pub struct KeyEncryption {
    keys: Vec<(String, Zeroizing<[u8; 32]>)>,
}

impl fmt::Debug for KeyEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "KeyEncryption {{ ids: {ids:?} }}")
    }
}

fn random_bytes<const N: usize>(random: &dyn Random) -> Result<[u8; N], KeyWrapError> {
    let mut buf = [0u8; N];
    random
        .fill(&mut buf)
        .map_err(|e| KeyWrapError::Random(e.to_string()))?;
    Ok(buf)
}

fn aad_for(record_key: &str) -> Vec<u8> {
    let mut aad = b"zgate dcert private key\0".to_vec();
    aad.extend_from_slice(record_key.as_bytes());
    aad
}

impl KeyEncryption {
    /// A new KEK with a random id.
    pub fn generate(random: &dyn Random) -> Result<KeyEncryption, KeyWrapError> {
        let id = hex::encode(random_bytes::<8>(random)?);
        let key = Zeroizing::new(random_bytes::<32>(random)?);
        Ok(KeyEncryption {
            keys: vec![(id, key)],
        })
    }

    /// A KEK from raw bytes (tests, or a key kept elsewhere).
    pub fn from_key(id: &str, key: [u8; 32]) -> KeyEncryption {
        KeyEncryption {
            keys: vec![(id.to_owned(), Zeroizing::new(key))],
        }
    }

    /// The current KEK's id.
    pub fn current_id(&self) -> &str {
        self.keys.first().map(|(id, _)| id.as_str()).unwrap_or("")
    }

    /// The ids of every KEK held, current first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|(id, _)| id.clone()).collect()
    }

    /// A new current KEK, the present ones kept to open what they sealed.
    pub fn with_new_current(&self, random: &dyn Random) -> Result<KeyEncryption, KeyWrapError> {
        let mut next = KeyEncryption::generate(random)?;
        next.keys.extend(self.keys.iter().cloned());
        Ok(next)
    }

    /// Only the current KEK.
    pub fn current_only(&self) -> KeyEncryption {
        KeyEncryption {
            keys: self.keys.iter().take(1).cloned().collect(),
        }
    }

    /// Reads a KEK file.
    pub fn read(path: &Path) -> Result<KeyEncryption, KeyWrapError> {
        let shown = path.display().to_string();
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| KeyWrapError::File {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?,
            );
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let malformed = || KeyWrapError::Malformed {
                path: shown.clone(),
                line: i + 1,
            };
            let (id, hex_key) = line.trim().split_once(' ').ok_or_else(malformed)?;
            let bytes = Zeroizing::new(hex::decode(hex_key.trim()).map_err(|_| malformed())?);
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| malformed())?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(malformed());
            }
            keys.push((id.to_owned(), Zeroizing::new(key)));
        }
        if keys.is_empty() {
            return Err(KeyWrapError::Malformed {
                path: shown,
                line: 0,
            });
        }
        Ok(KeyEncryption { keys })
    }

    /// Writes the KEK file (0600), replacing it in one rename.
    pub fn write(&self, path: &Path) -> Result<(), KeyWrapError> {
        let shown = path.display().to_string();
        let fail = |e: std::io::Error| KeyWrapError::File {
            path: shown.clone(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut text = Zeroizing::new(String::new());
        for (id, key) in &self.keys {
            text.push_str(id);
            text.push(' ');
            text.push_str(&Zeroizing::new(hex::encode(key.as_slice())));
            text.push('\n');
        }
        // Beside the file, named after it: writers of different files
        // never share a temporary one.
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(fail)?;
            f.write_all(text.as_bytes()).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, path).map_err(fail)
    }

    /// Reads the KEK file, or creates it (0600) with a new KEK. Of
    /// processes creating it at once, one KEK wins and all read it: the new
    /// file is written aside and linked into place, which fails when one is
    /// there already.
    pub fn load_or_create(path: &Path, random: &dyn Random) -> Result<KeyEncryption, KeyWrapError> {
        if !path.exists() {
            let kek = KeyEncryption::generate(random)?;
            // The new KEK's own id names the file aside: no two makers share it.
            let aside = path.with_extension(format!("key.new-{}", kek.current_id()));
            kek.write(&aside)?;
            let linked = std::fs::hard_link(&aside, path);
            let _ = std::fs::remove_file(&aside);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(KeyWrapError::File {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        KeyEncryption::read(path)
    }

    /// Seals a PKCS#8 key for the record `record_key` under the current KEK.
    pub fn wrap(
        &self,
        record_key: &str,
        pkcs8: &[u8],
        random: &dyn Random,
    ) -> Result<WrappedKey, KeyWrapError> {
        let (id, key) = self.keys.first().ok_or(KeyWrapError::Corrupt)?;
        let nonce = random_bytes::<NONCE_LEN>(random)?;
        let sealing = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key.as_slice()).map_err(|_| KeyWrapError::Corrupt)?,
        );
        let mut buf = Zeroizing::new(pkcs8.to_vec());
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad_for(record_key)),
                &mut *buf,
            )
            .map_err(|_| KeyWrapError::Corrupt)?;
        Ok(WrappedKey {
            kek: id.clone(),
            nonce: hex::encode(nonce),
            sealed: hex::encode(buf.as_slice()),
        })
    }

    /// Opens a sealed key stored for the record `record_key`.
    pub fn unwrap_key(
        &self,
        record_key: &str,
        wrapped: &WrappedKey,
    ) -> Result<Zeroizing<Vec<u8>>, KeyWrapError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == wrapped.kek)
            .ok_or_else(|| KeyWrapError::UnknownKek(wrapped.kek.clone()))?;
        let nonce: [u8; NONCE_LEN] = hex::decode(&wrapped.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(KeyWrapError::Corrupt)?;
        let mut buf =
            Zeroizing::new(hex::decode(&wrapped.sealed).map_err(|_| KeyWrapError::Corrupt)?);
        let opening = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key.as_slice()).map_err(|_| KeyWrapError::Corrupt)?,
        );
        let plain = opening
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad_for(record_key)),
                &mut buf,
            )
            .map_err(|_| KeyWrapError::Corrupt)?;
        Ok(Zeroizing::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makers_racing_on_a_new_file_all_read_the_one_kek_that_won() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join(KEK_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let ids: Vec<Vec<String>> = std::thread::scope(|scope| {
            let makers: Vec<_> = (0..8)
                .map(|_| {
                    let path = path.clone();
                    scope.spawn(move || {
                        KeyEncryption::load_or_create(&path, &zgate_base::SystemRandom)
                            .unwrap()
                            .ids()
                    })
                })
                .collect();
            makers.into_iter().map(|m| m.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
        assert_eq!(KeyEncryption::read(&path).unwrap().ids(), ids[0]);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
    use zgate_base::SeededRandom;

    #[test]
    fn a_sealed_key_opens_only_for_its_record_and_under_a_known_kek() {
        let random = SeededRandom::new(7);
        let kek = KeyEncryption::generate(&random).unwrap();
        let w = kek.wrap("ID(BOB)\tlabel", b"pkcs8 bytes", &random).unwrap();
        assert!(!w.sealed.contains(&hex::encode(b"pkcs8 bytes")));
        assert_eq!(
            kek.unwrap_key("ID(BOB)\tlabel", &w).unwrap().as_slice(),
            b"pkcs8 bytes"
        );
        assert_eq!(
            kek.unwrap_key("ID(EVE)\tlabel", &w).unwrap_err(),
            KeyWrapError::Corrupt
        );
        let other = KeyEncryption::generate(&random).unwrap();
        assert!(matches!(
            other.unwrap_key("ID(BOB)\tlabel", &w),
            Err(KeyWrapError::UnknownKek(_))
        ));
        let rotated = kek.with_new_current(&random).unwrap();
        assert_ne!(rotated.current_id(), kek.current_id());
        assert!(rotated.unwrap_key("ID(BOB)\tlabel", &w).is_ok());
        assert!(rotated
            .current_only()
            .unwrap_key("ID(BOB)\tlabel", &w)
            .is_err());
    }

    #[test]
    fn the_file_is_private_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = kek_path(dir.path());
        let random = SeededRandom::new(9);
        let kek = KeyEncryption::load_or_create(&path, &random).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = KeyEncryption::load_or_create(&path, &random).unwrap();
        assert_eq!(again.ids(), kek.ids());
        std::fs::write(&path, "abc nothex\n").unwrap();
        assert!(matches!(
            KeyEncryption::read(&path),
            Err(KeyWrapError::Malformed { .. })
        ));
    }
}
