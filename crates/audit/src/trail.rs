//! The trail on disk: JSON lines, each record chained to the one before by
//! its hash, across files; signed checkpoints; append-only, 0600.
//!
//! - `hash = hex(SHA-256(prev_hash ‖ canonical JSON of the record without
//!   "hash"))`, where `prev_hash` is the previous record's hash as 64 hex
//!   characters (64 zeros before the first record). The canonical form is
//!   RFC 8785's (see [`crate::canonical`]), and it is also how each line is
//!   written.
//! - Files are `audit-NNNNNN.jsonl` in the trail directory. Each begins with
//!   a `FILEHDR` record naming the file, chained to the last record of the
//!   file before, and ends (when rotated) with a `ROTATE` record naming the
//!   next. A zgate process that opens the trail starts a new file, so a
//!   restart never appends to a file another process may have left short.
//! - Every `checkpoint_every` records, and before rotation and at close, a
//!   `CHECKPOINT` record carries an Ed25519 signature of the sequence number
//!   and hash of the record before it, and the file is synced. The signing
//!   key lives outside the trail directory, 0600, beside a `head` file that
//!   names the last checkpoint: an attacker who can rewrite the trail can
//!   neither sign a new chain nor hide that records were cut from its end.
//! - Several processes may write one trail (`zgate serve`, and `zgate esm`
//!   commands run beside it): every write takes an exclusive lock on
//!   `<dir>/.lock` and first catches up with what another process appended,
//!   so the chain stays one chain.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::canonical::{canonical, NotCanonical};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The format version every record carries as `v`.
pub const VERSION: u64 = 1;

/// When the trail rotates files and signs checkpoints.
#[derive(Debug, Clone, Copy)]
pub struct TrailPolicy {
    /// Rotate after a file reaches this size.
    pub max_file_bytes: u64,
    /// Sign a checkpoint after this many records.
    pub checkpoint_every: u64,
}

impl Default for TrailPolicy {
    fn default() -> Self {
        TrailPolicy {
            max_file_bytes: 64 * 1024 * 1024,
            checkpoint_every: 1000,
        }
    }
}

/// Why the trail could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The signing key file is not an Ed25519 key.
    #[error("{0}: not an Ed25519 signing key (PKCS#8)")]
    BadKey(PathBuf),
    /// The existing trail's last record cannot be read, so the chain cannot
    /// be continued; nothing is written until someone looks.
    #[error("{path}: the last record cannot be read ({why}); run `zgate audit verify`")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A record holds a value with no canonical form.
    #[error(transparent)]
    NotCanonical(#[from] NotCanonical),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrailError + '_ {
    move |source| TrailError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The hash of `record` (its `"hash"` key left out) after `prev_hash`.
pub fn record_hash(prev_hash: &str, record: &Map<String, Value>) -> Result<String, NotCanonical> {
    let mut without = record.clone();
    without.remove("hash");
    let text = canonical(&Value::Object(without))?;
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(text.as_bytes());
    Ok(hex::encode(h.finalize()))
}

/// What a checkpoint signs: the sequence number and hash of the record
/// before it.
pub fn checkpoint_message(seq: u64, hash: &str) -> Vec<u8> {
    format!("zgate-audit-checkpoint {seq} {hash}").into_bytes()
}

/// The trail's file names, in order.
pub fn trail_files(dir: &Path) -> Result<Vec<PathBuf>, TrailError> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| file_number(p).is_some())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(TrailError::Io {
                path: dir.to_owned(),
                source,
            })
        }
    };
    files.sort();
    Ok(files)
}

/// `n` of `audit-NNNNNN.jsonl`.
pub fn file_number(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn file_name(n: u32) -> String {
    format!("audit-{n:06}.jsonl")
}

/// Writes the trail; other processes may write it too (see the module).
pub struct Trail {
    dir: PathBuf,
    lock: File,
    key: Ed25519KeyPair,
    head_path: PathBuf,
    policy: TrailPolicy,
    file: File,
    path: PathBuf,
    number: u32,
    bytes: u64,
    seq: u64,
    last_hash: String,
    since_checkpoint: u64,
}

impl Trail {
    /// Opens the trail in `dir` (created 0700), signing with the key at
    /// `key_path` (created, 0600, on first use; its public key is written
    /// beside it as `<key_path>.pub`, hex). Starts a new file chained to
    /// the last record of the existing trail.
    pub fn open(dir: &Path, key_path: &Path, policy: TrailPolicy) -> Result<Trail, TrailError> {
        Trail::open_with(dir, key_path, policy, false)
    }

    /// [`Trail::open`] for a short-lived writer (one `zgate esm` command):
    /// continues the newest file when it ends with a whole record, rather
    /// than starting a file of its own.
    pub fn open_continuing(
        dir: &Path,
        key_path: &Path,
        policy: TrailPolicy,
    ) -> Result<Trail, TrailError> {
        Trail::open_with(dir, key_path, policy, true)
    }

    fn open_with(
        dir: &Path,
        key_path: &Path,
        policy: TrailPolicy,
        continuing: bool,
    ) -> Result<Trail, TrailError> {
        create_private_dir(dir)?;
        let lock_path = dir.join(".lock");
        let lock = open_append(&lock_path)?;
        lock.lock().map_err(io(&lock_path))?;
        // On an error the lock file is closed, which releases the lock.
        let trail = Trail::open_locked(dir, key_path, policy, continuing, lock)?;
        trail.lock.unlock().map_err(io(&lock_path))?;
        Ok(trail)
    }

    fn open_locked(
        dir: &Path,
        key_path: &Path,
        policy: TrailPolicy,
        continuing: bool,
        lock: File,
    ) -> Result<Trail, TrailError> {
        let key = load_or_create_key(key_path)?;
        let head_path = head_path(key_path);
        let (file, path, number, bytes, seq, last_hash, new) = match newest_written(dir)? {
            None => {
                let f = start_file(dir, 1, 0, GENESIS)?;
                (f.file, f.path, 1, f.bytes, f.seq, f.hash, true)
            }
            Some(last) => {
                let end = last_record(&last)?;
                let number = file_number(&last).unwrap_or(0);
                if continuing && !end.rotated {
                    let file = open_append(&last)?;
                    (file, last, number, end.bytes, end.seq, end.hash, false)
                } else {
                    let f = start_file(dir, number + 1, end.seq, &end.hash)?;
                    (f.file, f.path, number + 1, f.bytes, f.seq, f.hash, true)
                }
            }
        };
        Ok(Trail {
            dir: dir.to_owned(),
            lock,
            key,
            head_path,
            policy,
            file,
            path,
            number,
            bytes,
            seq,
            last_hash,
            since_checkpoint: u64::from(new),
        })
    }

    /// Takes the lock, catches up with other writers, runs `f`, unlocks.
    fn locked<T>(
        &mut self,
        f: impl FnOnce(&mut Trail) -> Result<T, TrailError>,
    ) -> Result<T, TrailError> {
        let lock_path = self.dir.join(".lock");
        self.lock.lock().map_err(io(&lock_path))?;
        let result = self.catch_up().and_then(|()| f(self));
        let unlocked = self.lock.unlock().map_err(io(&lock_path));
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Follows records another process appended since this one last wrote:
    /// its own file grew, or a newer file exists. A trail whose last record
    /// is a `ROTATE` (its writer stopped before the next file existed) goes
    /// on in the file it names.
    fn catch_up(&mut self) -> Result<(), TrailError> {
        let len = fs::metadata(&self.path).map(|m| m.len()).ok();
        let newest = newest_written(&self.dir)?;
        let same_file = newest.as_deref().is_none_or(|n| n == self.path);
        if len == Some(self.bytes) && same_file {
            return Ok(());
        }
        let path = newest.unwrap_or_else(|| self.path.clone());
        let end = last_record(&path)?;
        if end.rotated {
            let number = file_number(&path).unwrap_or(self.number) + 1;
            self.switch_to(start_file(&self.dir, number, end.seq, &end.hash)?, number);
            return Ok(());
        }
        if !same_file {
            self.file = open_append(&path)?;
            self.number = file_number(&path).unwrap_or(self.number);
            self.path = path;
        }
        self.bytes = end.bytes;
        self.seq = end.seq;
        self.last_hash = end.hash;
        Ok(())
    }

    fn switch_to(&mut self, f: NewFile, number: u32) {
        self.file = f.file;
        self.path = f.path;
        self.number = number;
        self.bytes = f.bytes;
        self.seq = f.seq;
        self.last_hash = f.hash;
        self.since_checkpoint += 1;
    }

    /// The sequence number of the last record written.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The file being written.
    pub fn current_file(&self) -> &Path {
        &self.path
    }

    /// Appends one record (its `v`, `seq`, `prev_hash` and `hash` are set
    /// here); returns its sequence number.
    pub fn append(&mut self, record: Map<String, Value>) -> Result<u64, TrailError> {
        self.locked(|t| t.append_locked(record))
    }

    /// Appends records in order under one lock; returns the last one's
    /// sequence number.
    pub fn append_all(
        &mut self,
        records: impl IntoIterator<Item = Map<String, Value>>,
    ) -> Result<u64, TrailError> {
        self.locked(|t| {
            let mut last = t.seq;
            for r in records {
                last = t.append_locked(r)?;
            }
            Ok(last)
        })
    }

    fn append_locked(&mut self, record: Map<String, Value>) -> Result<u64, TrailError> {
        let seq = self.write(record)?;
        if self.since_checkpoint >= self.policy.checkpoint_every {
            self.checkpoint_locked()?;
        }
        if self.bytes >= self.policy.max_file_bytes {
            self.rotate()?;
        }
        Ok(seq)
    }

    /// Records written since the last checkpoint this writer signed.
    pub fn unsigned(&self) -> u64 {
        self.since_checkpoint
    }

    /// Signs a checkpoint and syncs the file (also done on drop).
    pub fn checkpoint(&mut self) -> Result<(), TrailError> {
        self.locked(Trail::checkpoint_locked)
    }

    fn checkpoint_locked(&mut self) -> Result<(), TrailError> {
        let signed_seq = self.seq;
        let signed_hash = self.last_hash.clone();
        let sig = self.key.sign(&checkpoint_message(signed_seq, &signed_hash));
        let mut r = Map::new();
        r.insert("event_type".into(), "CHECKPOINT".into());
        r.insert("signed_seq".into(), signed_seq.into());
        r.insert("signed_hash".into(), signed_hash.into());
        r.insert("sig".into(), hex::encode(sig.as_ref()).into());
        self.write(r)?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.since_checkpoint = 0;
        // The head names the checkpoint itself: cutting it, or anything
        // before it, from the trail shows.
        let head = format!("{} {}\n", self.seq, self.last_hash);
        write_private(&self.head_path, head.as_bytes())
    }

    fn rotate(&mut self) -> Result<(), TrailError> {
        self.checkpoint_locked()?;
        let next = self.number + 1;
        let mut r = Map::new();
        r.insert("event_type".into(), "ROTATE".into());
        r.insert("next_file".into(), file_name(next).into());
        self.write(r)?;
        self.file.sync_data().map_err(io(&self.path))?;
        let f = start_file(&self.dir, next, self.seq, &self.last_hash)?;
        self.switch_to(f, next);
        Ok(())
    }

    fn write(&mut self, record: Map<String, Value>) -> Result<u64, TrailError> {
        let (line, seq, hash) = chained_line(record, self.seq, &self.last_hash)?;
        // One write of a whole line to an O_APPEND file.
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.bytes += line.len() as u64;
        self.seq = seq;
        self.last_hash = hash;
        // Every record since the last checkpoint, the trail's own included,
        // is one the head does not cover yet.
        self.since_checkpoint += 1;
        Ok(seq)
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        if self.since_checkpoint > 0 {
            let _ = self.checkpoint();
        }
    }
}

/// A record as its line in the trail after the record `prev_seq` with hash
/// `prev_hash`: the line, its sequence number and its hash.
fn chained_line(
    mut record: Map<String, Value>,
    prev_seq: u64,
    prev_hash: &str,
) -> Result<(String, u64, String), TrailError> {
    let seq = prev_seq + 1;
    record.insert("v".into(), VERSION.into());
    record.insert("seq".into(), seq.into());
    record.insert("prev_hash".into(), prev_hash.into());
    record.remove("hash");
    let hash = record_hash(prev_hash, &record)?;
    record.insert("hash".into(), hash.clone().into());
    let mut line = canonical(&Value::Object(record))?;
    line.push('\n');
    Ok((line, seq, hash))
}

/// A trail file just begun.
struct NewFile {
    file: File,
    path: PathBuf,
    bytes: u64,
    seq: u64,
    hash: String,
}

/// Creates file `number` with its `FILEHDR` already in it (written beside
/// it and renamed into place), so that no writer ever sees it empty.
fn start_file(
    dir: &Path,
    number: u32,
    prev_seq: u64,
    prev_hash: &str,
) -> Result<NewFile, TrailError> {
    let mut r = Map::new();
    r.insert("event_type".into(), "FILEHDR".into());
    r.insert("file".into(), file_name(number).into());
    let (line, seq, hash) = chained_line(r, prev_seq, prev_hash)?;
    let path = dir.join(file_name(number));
    write_private(&path, line.as_bytes())?;
    Ok(NewFile {
        file: open_append(&path)?,
        path,
        bytes: line.len() as u64,
        seq,
        hash,
    })
}

/// The newest trail file with something in it. Newest files left empty
/// (by a writer stopped between creating a file and writing to it, as an
/// earlier zgate could) hold no record and are removed, so that they do not
/// stop every writer. Called under the trail's lock.
fn newest_written(dir: &Path) -> Result<Option<PathBuf>, TrailError> {
    let mut files = trail_files(dir)?;
    while let Some(last) = files.last() {
        if fs::metadata(last).map_err(io(last))?.len() > 0 {
            break;
        }
        fs::remove_file(last).map_err(io(last))?;
        files.pop();
    }
    Ok(files.pop())
}

/// `<key_path>.head`: the last checkpoint's sequence number and hash.
pub fn head_path(key_path: &Path) -> PathBuf {
    let mut p = key_path.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}

/// `<key_path>.pub`: the public key, hex.
pub fn public_key_path(key_path: &Path) -> PathBuf {
    let mut p = key_path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// The end of a trail file: its last record's sequence number and hash,
/// whether that record is a `ROTATE`, and the file's length.
struct FileEnd {
    seq: u64,
    hash: String,
    rotated: bool,
    bytes: u64,
}

/// The end of `path`, which must end with a whole line.
fn last_record(path: &Path) -> Result<FileEnd, TrailError> {
    let damaged = |why: &str| TrailError::Damaged {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let mut last = None;
    let mut bytes = 0u64;
    let mut ends_whole = true;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(io(path))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        ends_whole = line.ends_with('\n');
        last = Some(line);
    }
    if !ends_whole {
        return Err(damaged("the last line is cut short"));
    }
    let line = last.ok_or_else(|| damaged("the file is empty"))?;
    let value: Value = serde_json::from_str(&line).map_err(|_| damaged("not JSON"))?;
    let seq = value.get("seq").and_then(Value::as_u64);
    let hash = value.get("hash").and_then(Value::as_str);
    match (seq, hash) {
        (Some(seq), Some(hash)) => Ok(FileEnd {
            seq,
            hash: hash.to_owned(),
            rotated: value.get("event_type").and_then(Value::as_str) == Some("ROTATE"),
            bytes,
        }),
        _ => Err(damaged("no seq or hash")),
    }
}

fn load_or_create_key(path: &Path) -> Result<Ed25519KeyPair, TrailError> {
    let pkcs8 = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| TrailError::BadKey(path.to_owned()))?;
            if let Some(parent) = path.parent() {
                create_private_dir(parent)?;
            }
            write_private(path, doc.as_ref())?;
            doc.as_ref().to_vec()
        }
        Err(source) => {
            return Err(TrailError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let key =
        Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| TrailError::BadKey(path.to_owned()))?;
    let public = format!("{}\n", hex::encode(key.public_key().as_ref()));
    write_private(&public_key_path(path), public.as_bytes())?;
    Ok(key)
}

fn create_private_dir(dir: &Path) -> Result<(), TrailError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io(dir))
}

fn open_append(path: &Path) -> Result<File, TrailError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io(path))
}

/// Replaces a small file whole (written beside it, then renamed), 0600.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TrailError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}
