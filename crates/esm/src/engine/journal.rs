//! The journal entry of a commit: what it changed, in the form the process
//! that made it applied in memory. Other processes on the store replay the
//! entries they have not seen (`Esm::sync_locked`) instead of loading
//! everything, so a change costs the others what it changed.
//!
//! The text is JSON. It is opaque to the store, which keeps it under the
//! commit's generation; an entry a process cannot read (written by a newer
//! zgate, or damaged) makes it load everything, never skip the entry.

use serde::{Deserialize, Serialize};

use crate::command::Refresh;
use crate::state::Change;
use crate::store::StoreError;

/// A journal entry, as read back.
#[derive(Deserialize)]
pub(crate) enum Entry {
    /// A command's or a logon's changes, and the refreshes that followed.
    Commit {
        changes: Vec<Change>,
        refresh: Vec<Refresh>,
    },
    /// A token revoked until its expiry.
    RevokedToken { hash: String, expires_at_ms: i64 },
}

/// [`Entry`] borrowed, to write one without copying the changes.
#[derive(Serialize)]
enum EntryRef<'a> {
    Commit {
        changes: &'a [Change],
        refresh: &'a [Refresh],
    },
    RevokedToken {
        hash: &'a str,
        expires_at_ms: i64,
    },
}

fn write(entry: &EntryRef<'_>) -> Result<String, StoreError> {
    serde_json::to_string(entry)
        .map_err(|e| StoreError::Corrupt(format!("a journal entry cannot be written: {e}")))
}

/// The entry of a commit of `changes` followed by `refresh`.
pub(crate) fn commit(changes: &[Change], refresh: &[Refresh]) -> Result<String, StoreError> {
    write(&EntryRef::Commit { changes, refresh })
}

/// The entry of a token revocation.
pub(crate) fn revoked_token(hash: &str, expires_at_ms: i64) -> Result<String, StoreError> {
    write(&EntryRef::RevokedToken {
        hash,
        expires_at_ms,
    })
}

/// Reads an entry back.
pub(crate) fn read(text: &str) -> Result<Entry, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("a journal entry cannot be read: {e}")))
}
