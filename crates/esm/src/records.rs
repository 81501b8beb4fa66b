//! Security records kept beside the RACF model: PAT revocation
//! rules, TOTP factors and certificate mappings.
//!
//! They are not part of the [`crate::store::State`] model that commands
//! compute [`crate::store::Change`]s against: they are small keyed values
//! (`kind`, `key`) → `value` in one table, written through
//! [`crate::store::Store::apply_records`] under the same generation check as
//! commands (so another process sees them at its next reload, and a write
//! computed on stale data is redone), and read from memory only.
//!
//! Kinds and their values:
//!
//! | kind | key | value |
//! |---|---|---|
//! | `pat.salt` | `salt` | hex of 32 random bytes |
//! | `pat.token` | salted hash of a revoked PAT | its expiry, ms |
//! | `pat.user` | salted hash of a user id | rule time, ms |
//! | `pat.scope` | salted hash of a service id | rule time, ms |
//! | `mfa.totp` | user id | `ALG DIGITS PERIOD BASE32` |
//! | `mfa.step` | user id | last accepted TOTP time step |
//! | `cert.map` | label | see [`crate::certmap`] |
//! | `cert.reg` | issuer DN + serial | see [`crate::certmap`] |

use std::collections::HashMap;
use std::sync::RwLock;

use crate::store::{State, StoreError};
use crate::{Esm, EsmError, MAX_ATTEMPTS};

/// One stored record.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// What it is (see the module table).
    pub kind: String,
    /// Its key within the kind.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// A write to the records.
#[derive(Clone)]
pub enum RecordOp {
    /// Insert or replace.
    Put(Record),
    /// Remove, if present.
    Delete {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
    },
}

impl RecordOp {
    /// A put.
    pub fn put(kind: &str, key: &str, value: impl Into<String>) -> RecordOp {
        RecordOp::Put(Record {
            kind: kind.to_owned(),
            key: key.to_owned(),
            value: value.into(),
        })
    }
    /// A delete.
    pub fn delete(kind: &str, key: &str) -> RecordOp {
        RecordOp::Delete {
            kind: kind.to_owned(),
            key: key.to_owned(),
        }
    }
}

/// The records in memory, by kind then key.
#[derive(Default, Clone)]
pub struct Records {
    by_kind: HashMap<String, HashMap<String, String>>,
    /// Certificate name filters (subject, issuer) → user, derived from the
    /// `cert.map` records so a mapping is a few hash lookups.
    pub(crate) cert_filters: HashMap<(String, String), String>,
}

impl Records {
    /// Builds the map from stored rows.
    pub fn from_rows(rows: Vec<Record>) -> Records {
        let mut records = Records::default();
        for r in rows {
            records
                .by_kind
                .entry(r.kind)
                .or_default()
                .insert(r.key, r.value);
        }
        records.cert_filters = crate::certmap::filter_index(&records);
        records
    }

    /// A value.
    pub fn get(&self, kind: &str, key: &str) -> Option<&str> {
        self.by_kind.get(kind)?.get(key).map(String::as_str)
    }

    /// Every (key, value) of a kind, unordered.
    pub fn iter(&self, kind: &str) -> impl Iterator<Item = (&str, &str)> {
        self.by_kind
            .get(kind)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Applies committed operations.
    pub fn apply(&mut self, ops: &[RecordOp]) {
        let filters_changed = ops.iter().any(|op| match op {
            RecordOp::Put(r) => r.kind == crate::certmap::MAP_KIND,
            RecordOp::Delete { kind, .. } => kind == crate::certmap::MAP_KIND,
        });
        self.apply_ops(ops);
        if filters_changed {
            self.cert_filters = crate::certmap::filter_index(self);
        }
    }

    fn apply_ops(&mut self, ops: &[RecordOp]) {
        for op in ops {
            match op {
                RecordOp::Put(r) => {
                    self.by_kind
                        .entry(r.kind.clone())
                        .or_default()
                        .insert(r.key.clone(), r.value.clone());
                }
                RecordOp::Delete { kind, key } => {
                    if let Some(m) = self.by_kind.get_mut(kind) {
                        m.remove(key);
                    }
                }
            }
        }
    }
}

/// TOTP verification settings (`zgate.mfa.*`).
#[derive(Debug, Clone)]
pub struct MfaSettings {
    /// What separates the password from the code in the password field
    /// (`zgate.mfa.separator`, default `:`).
    pub separator: String,
    /// Time steps accepted either side of now (`zgate.mfa.skewSteps`, default 1).
    pub skew_steps: u32,
}

impl Default for MfaSettings {
    fn default() -> Self {
        MfaSettings {
            separator: ":".into(),
            skew_steps: 1,
        }
    }
}

/// The ESM's part that holds the records (one field of [`Esm`]).
#[derive(Default)]
pub struct Extensions {
    pub(crate) records: RwLock<Records>,
    pub(crate) mfa: RwLock<MfaSettings>,
}

impl Extensions {
    pub(crate) fn new(records: Records) -> Extensions {
        Extensions {
            records: RwLock::new(records),
            mfa: RwLock::new(MfaSettings::default()),
        }
    }

    pub(crate) fn replace(&self, records: Records) {
        *self.records.write().unwrap_or_else(|e| e.into_inner()) = records;
    }
}

impl Esm {
    /// Reads the records (in memory).
    pub(crate) fn with_records<T>(&self, f: impl FnOnce(&Records) -> T) -> T {
        f(&self.ext.records.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Computes record operations on current data and commits them as one
    /// transaction (redone when another process committed first).
    pub(crate) fn commit_records<T, E: From<EsmError>>(
        &self,
        mut plan: impl FnMut(&Records, &State) -> Result<(Vec<RecordOp>, T), E>,
    ) -> Result<T, E> {
        let mut inner = self.lock();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.sync_locked(&mut inner)
                .map_err(|e| E::from(EsmError::Store(e)))?;
            let (ops, out) = {
                let records = self.ext.records.read().unwrap_or_else(|e| e.into_inner());
                plan(&records, &inner.state)?
            };
            if ops.is_empty() {
                return Ok(out);
            }
            let expected = inner.generation;
            match inner.store.apply_records(&ops, expected) {
                Ok(generation) => {
                    inner.generation = generation;
                    self.ext
                        .records
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .apply(&ops);
                    return Ok(out);
                }
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => continue,
                Err(e) => return Err(E::from(EsmError::Store(e))),
            }
        }
    }

    /// Sets how TOTP codes are read and checked.
    pub fn set_mfa_settings(&self, settings: MfaSettings) {
        *self.ext.mfa.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// The TOTP settings in force.
    pub fn mfa_settings(&self) -> MfaSettings {
        self.ext
            .mfa
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
