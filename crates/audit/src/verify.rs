//! Checking a trail: every line JSON, sequence numbers without a gap, each
//! hash recomputed and chained to the record before (across files), each
//! file begun by its own `FILEHDR` and, when rotated, continued in the file
//! its `ROTATE` names, checkpoint signatures, and the head: the trail must
//! reach the last checkpoint the writer recorded. The first break is
//! reported with its file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use ring::signature::{UnparsedPublicKey, ED25519};
use serde_json::{Map, Value};

use crate::trail::{checkpoint_message, record_hash, GENESIS};

/// Where and how a trail is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based); 0 for the trail as a whole.
    pub line: usize,
    /// What was expected and what was found.
    pub what: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.what)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
        }
    }
}

/// An intact trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Files read.
    pub files: usize,
    /// Records read.
    pub records: u64,
    /// Checkpoint signatures checked.
    pub checkpoints: u64,
    /// The last sequence number.
    pub last_seq: u64,
}

/// What the verifier is given besides the files.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The public key (32 bytes) that signed the checkpoints; without it
    /// signatures are not checked.
    pub public_key: Option<Vec<u8>>,
    /// The last checkpoint the writer recorded (sequence number, hash).
    pub head: Option<(u64, String)>,
}

/// Reads the `<key>.head` file's text.
pub fn parse_head(text: &str) -> Option<(u64, String)> {
    let mut parts = text.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let hash = parts.next()?.to_owned();
    Some((seq, hash))
}

/// Checks `files`, in order (see [`crate::trail::trail_files`]).
pub fn verify(files: &[PathBuf], expect: &Expectations) -> Result<Verified, Break> {
    let mut state = Chain {
        seq: 0,
        hash: GENESIS.to_owned(),
        next_file: None,
        head_seen: false,
    };
    let mut verified = Verified {
        files: files.len(),
        records: 0,
        checkpoints: 0,
        last_seq: 0,
    };
    let mut last_place = PathBuf::new();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let at = |line: usize, what: String| Break {
            file: file.clone(),
            line,
            what,
        };
        // A file ends with ROTATE when the writer moved on, or without it
        // when the writer stopped; either way the next file's FILEHDR must
        // chain to its last record.
        if let Some(next) = state.next_file.take() {
            if next != name {
                return Err(at(
                    0,
                    format!("the file before names `{next}` as the next file"),
                ));
            }
        }
        let bytes = std::fs::read(file).map_err(|e| at(0, format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| at(0, "not UTF-8".into()))?;
        if !text.is_empty() && !text.ends_with('\n') {
            let line = text.lines().count();
            return Err(at(line, "the last line is cut short (no newline)".into()));
        }
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let record: Map<String, Value> = match serde_json::from_str(line) {
                Ok(Value::Object(m)) => m,
                _ => return Err(at(n, "not a JSON object".into())),
            };
            state
                .record(&record, n == 1, &name, expect, &mut verified)
                .map_err(|what| at(n, what))?;
        }
        last_place = file.clone();
    }
    if let Some((head_seq, head_hash)) = &expect.head {
        if !state.head_seen {
            let what = if state.seq < *head_seq {
                format!(
                    "the trail ends at seq {} but the writer recorded a checkpoint at seq {head_seq}: records were cut from the end",
                    state.seq
                )
            } else {
                format!("no record has the head's seq {head_seq} and hash {head_hash}")
            };
            return Err(Break {
                file: last_place,
                line: 0,
                what,
            });
        }
    }
    verified.last_seq = state.seq;
    Ok(verified)
}

struct Chain {
    seq: u64,
    hash: String,
    next_file: Option<String>,
    head_seen: bool,
}

impl Chain {
    fn record(
        &mut self,
        r: &Map<String, Value>,
        first_in_file: bool,
        file_name: &str,
        expect: &Expectations,
        verified: &mut Verified,
    ) -> Result<(), String> {
        if self.next_file.is_some() {
            return Err("a record after ROTATE".into());
        }
        let text = |k: &str| r.get(k).and_then(Value::as_str);
        let seq = r.get("seq").and_then(Value::as_u64).ok_or("no seq")?;
        if seq != self.seq + 1 {
            return Err(format!("expected seq {}, found {seq}", self.seq + 1));
        }
        let prev = text("prev_hash").ok_or("no prev_hash")?;
        if prev != self.hash {
            return Err(format!(
                "prev_hash {prev} does not follow the record before (hash {})",
                self.hash
            ));
        }
        let stored = text("hash").ok_or("no hash")?;
        let computed = record_hash(&self.hash, r).map_err(|e| e.to_string())?;
        if stored != computed {
            return Err(format!(
                "the record was altered: its hash is {stored}, its content hashes to {computed}"
            ));
        }
        let kind = text("event_type").unwrap_or_default();
        if first_in_file && (kind != "FILEHDR" || text("file") != Some(file_name)) {
            return Err(format!(
                "the file does not begin with its own FILEHDR (`{file_name}`)"
            ));
        }
        match kind {
            "ROTATE" => {
                self.next_file = Some(
                    text("next_file")
                        .ok_or("ROTATE without next_file")?
                        .to_owned(),
                )
            }
            "CHECKPOINT" => {
                let signed_seq = r
                    .get("signed_seq")
                    .and_then(Value::as_u64)
                    .ok_or("CHECKPOINT without signed_seq")?;
                let signed_hash = text("signed_hash").ok_or("CHECKPOINT without signed_hash")?;
                if signed_seq != self.seq || signed_hash != self.hash {
                    return Err("the checkpoint signs another record than the one before it".into());
                }
                if let Some(key) = &expect.public_key {
                    let sig = hex::decode(text("sig").unwrap_or_default())
                        .map_err(|_| "a checkpoint signature that is not hex")?;
                    UnparsedPublicKey::new(&ED25519, key)
                        .verify(&checkpoint_message(signed_seq, signed_hash), &sig)
                        .map_err(|_| "the checkpoint signature does not verify with the key")?;
                    verified.checkpoints += 1;
                }
            }
            _ => {}
        }
        if let Some((head_seq, head_hash)) = &expect.head {
            if seq == *head_seq {
                if computed != *head_hash {
                    return Err(
                        "the record at the head's seq is not the one the writer recorded".into(),
                    );
                }
                self.head_seen = true;
            }
        }
        self.seq = seq;
        self.hash = computed;
        verified.records += 1;
        Ok(())
    }
}

/// Reads a public key file (`<key>.pub`, hex).
pub fn read_public_key(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = hex::decode(text.trim()).map_err(|_| format!("{}: not a hex key", path.display()))?;
    if key.len() != 32 {
        return Err(format!("{}: not an Ed25519 public key", path.display()));
    }
    Ok(key)
}
