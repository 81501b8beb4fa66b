//! The key ring: the current signer plus retired public keys that keep
//! verifying until every token they signed has expired. Retired keys are kept
//! in a small JSON file in the home so a restart with a new server key (a
//! renewed certificate) does not log everybody out.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, SigningKey};

/// A public key no longer used for signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    /// The key.
    pub key: PublicKey,
    /// Tokens it signed are accepted until this instant (ms since epoch).
    pub verify_until_ms: i64,
}

/// The signer and every key that still verifies.
pub struct KeyRing {
    current: SigningKey,
    retired: Vec<RetiredKey>,
}

/// Why the key ring file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// Reading or writing the file failed.
    #[error("key ring file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not what zgate writes.
    #[error("key ring file {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
}

#[derive(Serialize, Deserialize, Default)]
struct RingFile {
    /// The kid of the last signer, with its public key.
    current: Option<PublicKey>,
    retired: Vec<RetiredKey>,
}

impl KeyRing {
    /// A ring with only `current`.
    pub fn new(current: SigningKey) -> Self {
        Self {
            current,
            retired: Vec::new(),
        }
    }

    /// Opens (or creates) the ring file at `path` for signer `current`. When
    /// the file names a different previous signer, that key is retired and
    /// keeps verifying for `max_token_lifetime_ms` from `now_ms`; retired keys
    /// past their time are dropped. The file is rewritten (mode 0600).
    pub fn open(
        path: &Path,
        current: SigningKey,
        now_ms: i64,
        max_token_lifetime_ms: i64,
    ) -> Result<Self, KeyRingError> {
        let display = path.display().to_string();
        let mut file: RingFile = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyRingError::Corrupt {
                path: display.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RingFile::default(),
            Err(source) => {
                return Err(KeyRingError::Io {
                    path: display,
                    source,
                })
            }
        };
        if let Some(previous) = file.current.take() {
            if previous.kid != current.public().kid {
                file.retired.push(RetiredKey {
                    key: previous,
                    verify_until_ms: now_ms.saturating_add(max_token_lifetime_ms),
                });
            }
        }
        file.retired
            .retain(|r| r.verify_until_ms > now_ms && r.key.kid != current.public().kid);
        file.current = Some(current.public().clone());
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| KeyRingError::Corrupt {
            path: display.clone(),
            message: e.to_string(),
        })?;
        write_private(path, &bytes).map_err(|source| KeyRingError::Io {
            path: display,
            source,
        })?;
        Ok(Self {
            current,
            retired: file.retired,
        })
    }

    /// The signer.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The retired keys still verifying.
    pub fn retired(&self) -> &[RetiredKey] {
        &self.retired
    }

    /// The key with `kid` that may verify a token at `now_ms`.
    pub fn verifier(&self, kid: &str, now_ms: i64) -> Option<&PublicKey> {
        if self.current.public().kid == kid {
            return Some(self.current.public());
        }
        self.retired
            .iter()
            .find(|r| r.key.kid == kid && r.verify_until_ms > now_ms)
            .map(|r| &r.key)
    }

    /// Every public key that verifies at `now_ms`, current first.
    pub fn all_public(&self, now_ms: i64) -> Vec<&PublicKey> {
        std::iter::once(self.current.public())
            .chain(
                self.retired
                    .iter()
                    .filter(|r| r.verify_until_ms > now_ms)
                    .map(|r| &r.key),
            )
            .collect()
    }
}

/// Writes a file readable by the owner only, atomically (temp file + rename).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
