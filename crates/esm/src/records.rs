//! Security records kept beside the RACF model: PAT revocation
//! rules, TOTP factors, certificate and distributed identity mappings,
//! digital certificates and key rings.
//!
//! They are small keyed values (`kind`, `key`) → `value` in one table, part
//! of the [`crate::state::State`] commands compute against and written by
//! the same [`crate::state::Change`]s (`PutRecord`, `DeleteRecord`), so a
//! command that sets a TOTP factor or a certificate mapping is one
//! transaction like any other, and every process sees it at its next reload.
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
//! | `idid.map` | user id, tab, label | see [`crate::idmap`] |
//! | `dcert.cert` | `ID(USER)`/`CERTAUTH`/`SITE`, tab, label | a certificate, its trust and its sealed private key, see [`crate::digtcert`] |
//! | `dcert.ring` | ring owner, tab, ring name | the ring's connections in order, see [`crate::digtcert`] |
//! | `raclist.ididmap` | `IDIDMAP` | the filters as of the last `SETROPTS RACLIST(IDIDMAP) [REFRESH]` |
//! | `raclist.profiles` | class | the class's profiles as of the last `SETROPTS RACLIST(c) [REFRESH]` |
//! | `raclist.global` | class | the class's GLOBAL entries as of the last `SETROPTS GLOBAL(c) [REFRESH]` |

use std::collections::HashMap;

/// One stored record.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// What it is (see the module table).
    pub kind: String,
    /// Its key within the kind.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The records in memory, by kind then key.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Records {
    by_kind: HashMap<String, HashMap<String, String>>,
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

    /// Inserts or replaces a record.
    pub fn put(&mut self, record: &Record) {
        self.by_kind
            .entry(record.kind.clone())
            .or_default()
            .insert(record.key.clone(), record.value.clone());
    }

    /// Removes a record, if present.
    pub fn delete(&mut self, kind: &str, key: &str) {
        if let Some(m) = self.by_kind.get_mut(kind) {
            m.remove(key);
        }
    }

    /// Every record, unordered.
    pub fn all(&self) -> impl Iterator<Item = Record> + '_ {
        self.by_kind.iter().flat_map(|(kind, m)| {
            m.iter().map(move |(key, value)| Record {
                kind: kind.clone(),
                key: key.clone(),
                value: value.clone(),
            })
        })
    }
}
