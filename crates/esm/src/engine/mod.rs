use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use zgate_base::{Clock, Random, SystemClock, SystemRandom};

use crate::audit::{self as auditing, AuditSink, LogonMethod, LogonResult};
use crate::certmap::{self, CertFilters};
use crate::command::{self, CommandError, CommandOutput, Effect, Env, Issuer, Refresh};
use crate::idmap::{self, IdidFilters};
use crate::import;
use crate::index::{CheckContext, Decision, Index};
use crate::keywrap::{kek_path, KeyEncryption};
use crate::model::{normalize_id, AccessLevel, Credential, Group, SecretHash, User, GLOBAL_CLASS};
use crate::password::{
    check_password_syntax, check_phrase_syntax, dummy_hash, hash_secret, kind_of,
    normalize_password, verify_secret, HashCost, SecretKind,
};
use crate::raclist;
use crate::records::Records;
use crate::state::{Change, State};
use crate::store::{
    postgres::PostgresStore, sqlite::SqliteStore, Journal, Store, StoreError, Wake,
};
use crate::syntax::BatchCommand;
use zgate_audit::{AuditRecord, Origin};

pub(crate) mod identity;
pub(crate) mod journal;
pub(crate) mod logon;
pub(crate) mod passtickets;
pub(crate) mod pat_rules;
pub(crate) mod rings;
pub(crate) mod store_copy;

/// How an [`Esm`] is built.
#[derive(Clone)]
pub struct EsmConfig {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The argon2id cost for new hashes (tests may lower it).
    pub hash_cost: HashCost,
    /// Where audit records go (none by default): logons, checks,
    /// commands, as RACF's controls decide.
    pub audit: Option<Arc<dyn AuditSink>>,
    /// Where new secrets (TOTP seeds, the PAT salt) come from.
    pub random: Arc<dyn Random>,
    /// What seals the private keys of certificates (RACDCERT GENCERT,
    /// ADD of a PKCS#12): see [`crate::keywrap`]. [`Esm::open_with`] loads
    /// or creates `<home>/state/esm-key-encryption.key` when none is given.
    pub key_encryption: Option<Arc<KeyEncryption>>,
    /// The KEK file: read (or created, 0600) when `key_encryption` is
    /// `None`, and rewritten by [`Esm::rotate_key_encryption_key`].
    /// [`Esm::open_with`] sets `<home>/state/esm-key-encryption.key`;
    /// with [`Esm::open_store`] (PostgreSQL) the caller names it.
    pub key_encryption_file: Option<std::path::PathBuf>,
}

impl Default for EsmConfig {
    fn default() -> Self {
        EsmConfig {
            clock: Arc::new(SystemClock),
            hash_cost: HashCost::DEFAULT,
            audit: None,
            random: Arc::new(SystemRandom),
            key_encryption: None,
            key_encryption_file: None,
        }
    }
}

/// Where an ESM keeps its state.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An embedded SQLite database file (created 0600, its directory too).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database, by its URL (`postgres://user@host/db`), that
    /// several processes share; connected without TLS (a local or trusted
    /// network).
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            // The URL may hold a password.
            StoreLocation::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// An ESM failure outside a command.
#[derive(Debug, thiserror::Error)]
pub enum EsmError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The home directory could not be created.
    #[error("cannot create {path}: {source}")]
    Home {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The system gave no randomness for a new secret.
    #[error(transparent)]
    Random(#[from] zgate_base::RandomError),
    /// An import file is not valid.
    #[error("import: {0}")]
    Import(String),
    /// The key-encryption key file could not be read, written or used.
    #[error("key encryption: {0}")]
    KeyEncryption(String),
    /// A command of an import failed.
    #[error("import: {command}: {error}")]
    ImportCommand {
        /// The generated command, secrets masked.
        command: String,
        /// Its error.
        error: CommandError,
    },
}

/// The result of [`Esm::verify`], as RACROUTE REQUEST=VERIFY reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Authenticated (and the password changed when a new one was given).
    Success {
        /// The user id (upper case).
        user: String,
    },
    /// 8/4: the user is not defined. Callers must answer as for a wrong password.
    UnknownUser,
    /// 8/8: wrong password or phrase (or the user has none: PROTECTED).
    WrongPassword,
    /// 8/12: the password is expired; a new one is needed.
    Expired,
    /// 8/16: the new password does not meet the rules.
    NewPasswordInvalid {
        /// Why.
        why: String,
    },
    /// 8/28: the user is revoked.
    Revoked,
    /// 4/0: the security database could not be read or the logon could not
    /// be recorded, so no decision was made. Never a success: an attempt
    /// that cannot be counted toward revocation is not answered.
    StoreUnavailable,
}

impl VerifyOutcome {
    /// SAF return code.
    pub fn saf_rc(&self) -> u32 {
        match self {
            VerifyOutcome::Success { .. } => 0,
            VerifyOutcome::StoreUnavailable => 4,
            _ => 8,
        }
    }

    /// RACF return code.
    pub fn racf_rc(&self) -> u32 {
        match self {
            VerifyOutcome::Success { .. } | VerifyOutcome::StoreUnavailable => 0,
            VerifyOutcome::UnknownUser => 4,
            VerifyOutcome::WrongPassword => 8,
            VerifyOutcome::Expired => 12,
            VerifyOutcome::NewPasswordInvalid { .. } => 16,
            VerifyOutcome::Revoked => 28,
        }
    }

    /// The RACF RC to show to an unauthenticated peer: unknown user is
    /// reported as a wrong password so ids cannot be enumerated.
    pub fn public_rc(&self) -> u32 {
        match self {
            VerifyOutcome::UnknownUser => 8,
            other => other.racf_rc(),
        }
    }
}

/// What the gateway needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user id.
    pub id: String,
    /// The programmer name.
    pub name: String,
    /// Revoked.
    pub revoked: bool,
    /// SPECIAL.
    pub special: bool,
    /// PROTECTED (no password and no phrase).
    pub protected: bool,
    /// Default group.
    pub default_group: String,
    /// Connected groups.
    pub groups: Vec<String>,
}

/// Progress of a batch, given to the callback after each command.
pub struct BatchProgress<'a> {
    /// Commands finished (this one included).
    pub done: usize,
    /// Commands in the batch.
    pub total: usize,
    /// The command.
    pub command: &'a BatchCommand,
    /// Its result.
    pub result: &'a Result<CommandOutput, CommandError>,
}

/// The end of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Commands that succeeded (and are committed).
    pub succeeded: usize,
    /// The command that failed and its error; the batch stops there.
    pub failed: Option<(BatchCommand, CommandError)>,
}

fn method_of(kind: SecretKind) -> LogonMethod {
    match kind {
        SecretKind::Password => LogonMethod::Password,
        SecretKind::Phrase => LogonMethod::Phrase,
    }
}

fn audit_refused(e: &auditing::AuditUnavailable) -> CommandError {
    CommandError {
        kind: command::CommandErrorKind::Store,
        lines: vec![format!(
            "ICH00099I COMMAND NOT PROCESSED: {e}; a command that cannot be audited is not run"
        )],
    }
}

/// How often a command is redone when another process commits first.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

struct Inner {
    store: Box<dyn Store>,
    state: State,
    generation: i64,
}

/// The embedded security manager. `Send + Sync`: share it with `Arc`.
pub struct Esm {
    inner: Mutex<Inner>,
    index: RwLock<Index>,
    tokens: RwLock<HashMap<String, i64>>,
    config: EsmConfig,
    dummy: SecretHash,
    /// The security records (PAT rules, TOTP factors, certificate
    /// mappings) for reads on the request path, which must not wait for a
    /// command; a copy of `Inner::state.records` kept with it.
    records: RwLock<RecordsView>,
    mfa: RwLock<MfaSettings>,
    /// Whether opening the store created it (a first start).
    created: bool,
    /// When this process last knew its state to be the store's (ms after
    /// `opened`, on the monotonic clock: an outage is real time, whatever
    /// the injected clock says): a look at the journal or a commit that
    /// succeeded.
    synced_at_ms: AtomicU64,
    opened: Instant,
    /// Journal entries of other processes replayed, and whole reloads.
    replayed: AtomicU64,
    reloads: AtomicU64,
    /// The key-encryption keys (replaced by a rotation) and the file they
    /// came from.
    kek: RwLock<Option<Arc<KeyEncryption>>>,
    kek_file: Option<std::path::PathBuf>,
}

/// How a process has kept up with the others on its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncCounts {
    /// Journal entries of other processes' commits applied.
    pub replayed: u64,
    /// Times the whole state was loaded instead (the journal did not reach
    /// back far enough, or an entry could not be read).
    pub reloads: u64,
}

/// The records and what is derived from them for lookups.
#[derive(Default)]
struct RecordsView {
    records: Records,
    cert_filters: CertFilters,
    /// The in-storage distributed identity filters (IDIDMAP), built from
    /// the copy and the class's settings, never from the live filters.
    idid_filters: IdidFilters,
}

impl RecordsView {
    fn new(state: &State) -> RecordsView {
        RecordsView {
            records: state.records.clone(),
            cert_filters: CertFilters::build(&state.records),
            idid_filters: IdidFilters::build(state),
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

fn upper(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

impl Esm {
    /// Opens or creates `<home>/esm.db` with the product defaults.
    pub fn open(home: &Path) -> Result<Esm, EsmError> {
        Esm::open_with(home, EsmConfig::default())
    }

    /// Opens or creates `<home>/esm.db` with an injected clock (tests).
    pub fn open_with_clock(home: &Path, clock: Arc<dyn Clock>) -> Result<Esm, EsmError> {
        Esm::open_with(
            home,
            EsmConfig {
                clock,
                ..EsmConfig::default()
            },
        )
    }

    /// An ESM on a private in-memory database: nothing persists (tests of
    /// crates built on the ESM).
    pub fn in_memory(config: EsmConfig) -> Result<Esm, EsmError> {
        Esm::with_store(Box::new(SqliteStore::in_memory()?), config)
    }

    /// Opens or creates `<home>/esm.db` with a given clock and hash cost.
    pub fn open_with(home: &Path, config: EsmConfig) -> Result<Esm, EsmError> {
        std::fs::create_dir_all(home).map_err(|source| EsmError::Home {
            path: home.display().to_string(),
            source,
        })?;
        let store = SqliteStore::open(&home.join("esm.db"))?;
        let mut config = config;
        if config.key_encryption.is_none() && config.key_encryption_file.is_none() {
            config.key_encryption_file = Some(kek_path(home));
        }
        Esm::with_store(Box::new(store), config)
    }

    /// Opens or creates the store at `location`: a SQLite file or a
    /// PostgreSQL database.
    pub fn open_store(location: &StoreLocation, config: EsmConfig) -> Result<Esm, EsmError> {
        let store: Box<dyn Store> = match location {
            StoreLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| EsmError::Home {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                Box::new(SqliteStore::open(path)?)
            }
            StoreLocation::Postgres(url) => Box::new(PostgresStore::connect(url)?),
        };
        Esm::with_store(store, config)
    }

    /// Whether opening the store created it: no schema was there before
    /// (a first start). Of processes starting together on a new shared
    /// database, exactly one sees `true`.
    pub fn store_was_created(&self) -> bool {
        self.created
    }

    /// Builds an ESM over any store backend; initialises group SYS1.
    pub fn with_store(mut store: Box<dyn Store>, config: EsmConfig) -> Result<Esm, EsmError> {
        let mut config = config;
        if let (None, Some(path)) = (&config.key_encryption, &config.key_encryption_file) {
            let kek = KeyEncryption::load_or_create(path, &*config.random)
                .map_err(|e| EsmError::KeyEncryption(e.to_string()))?;
            config.key_encryption = Some(Arc::new(kek));
        }
        let created = store.was_created();
        let mut state = store.load()?;
        // Processes starting together on a new shared store all find no
        // SYS1: one defines it, the others conflict and find it.
        for attempt in 1..=MAX_ATTEMPTS {
            if state.groups.contains_key("SYS1") {
                break;
            }
            let sys1 = Change::PutGroup(Group {
                id: "SYS1".into(),
                superior: None,
                owner: "SYS1".into(),
                created_ms: config.clock.now_ms(),
            });
            let generation = store.generation()?;
            let entry = journal::commit(std::slice::from_ref(&sys1), &[])?;
            match store.apply(std::slice::from_ref(&sys1), &entry, generation) {
                Ok(_) => state.apply(&sys1),
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                    state = store.load()?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        // A class RACLISTed (or a GLOBAL table activated) by a zgate that
        // kept no in-storage copy gets one now, as an IPL would build it;
        // from then on only a REFRESH changes what checks see.
        for attempt in 1..=MAX_ATTEMPTS {
            let copies = raclist::missing_copies(&state);
            if copies.is_empty() {
                break;
            }
            let generation = store.generation()?;
            let entry = journal::commit(&copies, &[])?;
            match store.apply(&copies, &entry, generation) {
                Ok(_) => copies.iter().for_each(|c| state.apply(c)),
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                    state = store.load()?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let generation = store.generation()?;
        let index = Index::build(&state);
        let tokens = state.revoked_tokens.clone();
        Ok(Esm {
            records: RwLock::new(RecordsView::new(&state)),
            mfa: RwLock::new(MfaSettings::default()),
            inner: Mutex::new(Inner {
                store,
                state,
                generation,
            }),
            index: RwLock::new(index),
            tokens: RwLock::new(tokens),
            dummy: dummy_hash(config.hash_cost),
            synced_at_ms: AtomicU64::new(0),
            opened: Instant::now(),
            replayed: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            kek: RwLock::new(config.key_encryption.clone()),
            kek_file: config.key_encryption_file.clone(),
            config,
            created,
        })
    }

    /// The store generation this process's state is at: every commit, of
    /// this process or one it has caught up with, changes it, so equal
    /// generations mean equal state (what a key ring reader polls).
    pub fn generation(&self) -> i64 {
        self.lock().generation
    }

    /// How long ago this process last knew its state to be the store's.
    /// Processes sharing a store look at it on a schedule (and when woken
    /// by [`Esm::watch_changes`]); an age well past that schedule means the
    /// store does not answer, and what other processes committed since
    /// (revocations among it) is not known here.
    pub fn state_age(&self) -> Duration {
        let synced = Duration::from_millis(self.synced_at_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(synced)
    }

    /// How this process has kept up with the others on its store.
    pub fn sync_counts(&self) -> SyncCounts {
        SyncCounts {
            replayed: self.replayed.load(Ordering::Relaxed),
            reloads: self.reloads.load(Ordering::Relaxed),
        }
    }

    fn mark_synced(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.synced_at_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// Has the store call `wake` when another process commits, where the
    /// store can (PostgreSQL's notifications); the caller then looks
    /// ([`Esm::reload_if_changed`]) at once instead of at its next tick.
    pub fn watch_changes(&self, wake: Wake) -> Result<(), EsmError> {
        Ok(self.lock().store.watch(wake)?)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `user`'s `level` access to `resource` in `class` (spec section 3).
    /// In memory only.
    pub fn check(&self, user: &str, class: &str, resource: &str, level: AccessLevel) -> Decision {
        self.check_with(user, class, resource, level, &CheckContext::default())
    }

    /// [`Esm::check`] with conditions for conditional (`WHEN`) entries.
    pub fn check_with(
        &self,
        user: &str,
        class: &str,
        resource: &str,
        level: AccessLevel,
        ctx: &CheckContext,
    ) -> Decision {
        // A name RACF would refuse never reaches a decision that could grant:
        // a blank or control character is no part of a name, and trimming it
        // would check another resource (fail closed; callers validate first
        // and answer a clear error).
        if crate::model::normalize_id(user).is_err()
            || crate::model::normalize_class(class).is_err()
            || crate::model::normalize_resource_name(resource).is_err()
        {
            return Decision::invalid_name(level);
        }
        let (user, class, resource) = (upper(user), upper(class), upper(resource));
        let (decision, operaudit) = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            (
                index.decide(&user, &class, &resource, level, ctx),
                index.operaudit(),
            )
        };
        let Some(sink) = &self.config.audit else {
            return decision;
        };
        let record = auditing::access_record(
            self.config.clock.now_ms(),
            &user,
            &class,
            &resource,
            &decision,
            operaudit,
            &ctx.origin,
        );
        match record.map(|r| sink.submit(r)) {
            // A check that must be recorded and cannot be is refused.
            Some(Err(_)) => decision.unrecorded(),
            _ => decision,
        }
    }

    /// Hands a record to the audit sink; `Err` when it must be kept and
    /// cannot be (the trail's policy is to refuse).
    fn audit(&self, record: Option<AuditRecord>) -> Result<(), auditing::AuditUnavailable> {
        match (&self.config.audit, record) {
            (Some(sink), Some(r)) => sink.submit(r),
            _ => Ok(()),
        }
    }

    /// The time for records.
    fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// From when `user`'s credentials (tokens, PATs) count, in ms since the
    /// epoch; `None` when no credential of the user counts: revoked,
    /// deleted or never defined. In memory, O(1): asked on every
    /// authenticated request, and current within one reload of a change
    /// made by another process.
    pub fn credentials_valid_since(&self, user: &str) -> Option<i64> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        if user.bytes().any(|b| b.is_ascii_lowercase()) {
            index.credentials_valid_since(&user.to_ascii_uppercase())
        } else {
            index.credentials_valid_since(user)
        }
    }

    /// A user's summary, if defined.
    pub fn user(&self, id: &str) -> Option<UserSummary> {
        let id = normalize_id(id).ok()?;
        let inner = self.lock();
        let u = inner.state.users.get(&id)?;
        Some(UserSummary {
            id: u.id.clone(),
            name: u.name.clone(),
            revoked: u.revoked,
            special: u.special,
            protected: u.protected(),
            default_group: u.default_group.clone(),
            groups: inner
                .state
                .connects
                .get(&id)
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_default(),
        })
    }

    /// Runs one RACF command as one transaction.
    pub fn run_command(&self, issuer: &Issuer, text: &str) -> Result<CommandOutput, CommandError> {
        self.run_command_from(issuer, &Origin::default(), text)
    }

    /// [`Esm::run_command`] from `origin`, for its audit record.
    pub fn run_command_from(
        &self,
        issuer: &Issuer,
        origin: &Origin,
        text: &str,
    ) -> Result<CommandOutput, CommandError> {
        self.run_atomic_from(issuer, origin, std::slice::from_ref(&text))
            .map_err(|(_, e)| e)
    }

    /// Runs several commands as ONE transaction: all or nothing. Each sees
    /// the effect of the ones before it. Every command, alone, in a batch or
    /// in an import, goes through [`command::execute`].
    pub fn run_atomic<S: AsRef<str>>(
        &self,
        issuer: &Issuer,
        commands: &[S],
    ) -> Result<CommandOutput, (usize, CommandError)> {
        self.run_atomic_from(issuer, &Origin::default(), commands)
    }

    /// [`Esm::run_atomic`] from `origin`. The commands' audit records are
    /// handed to the trail once every command of the transaction has run,
    /// before the commit: a transaction the trail cannot record is not
    /// committed, and a command refused for want of authority is recorded
    /// as such. An attempt redone because another process committed first,
    /// or whose commit fails, has its records repeated with
    /// `logstr: "NOT COMMITTED"`.
    pub fn run_atomic_from<S: AsRef<str>>(
        &self,
        issuer: &Issuer,
        origin: &Origin,
        commands: &[S],
    ) -> Result<CommandOutput, (usize, CommandError)> {
        let now_ms = self.config.clock.now_ms();
        let kek = self.kek.read().unwrap_or_else(|e| e.into_inner()).clone();
        let env = Env {
            issuer,
            now_ms,
            cost: self.config.hash_cost,
            random: &*self.config.random,
            key_encryption: kek.as_deref(),
        };
        // Records of an attempt that did not commit: marked when the
        // transaction is redone or fails.
        let mut submitted: Vec<AuditRecord> = Vec::new();
        let not_committed = |records: &mut Vec<AuditRecord>| {
            for r in records.drain(..) {
                let _ = self.audit(Some(r.set("logstr", "NOT COMMITTED")));
            }
        };
        let result = self.transact(|state| {
            not_committed(&mut submitted);
            let mut scratch: Option<State> = None;
            let mut all = Effect::default();
            let mut records = Vec::new();
            for (i, text) in commands.iter().enumerate() {
                let current = scratch.as_ref().unwrap_or(state);
                let result = command::execute(current, &env, text.as_ref());
                let record = self.command_record(current, issuer, origin, text.as_ref(), &result);
                let out = match result {
                    Ok(out) => out,
                    Err(e) => {
                        // A refusal for want of authority is final and
                        // recorded (CMDVIOL); the commands before it in
                        // the batch are not committed and not recorded.
                        let _ = self.audit(record);
                        return Err((i, e));
                    }
                };
                records.extend(record.map(|r| (i, r)));
                if commands.len() > 1 {
                    let s = scratch.get_or_insert_with(|| state.clone());
                    for c in &out.changes {
                        s.apply(c);
                    }
                }
                all.changes.extend(out.changes);
                all.lines.extend(out.lines);
                all.refresh.extend(out.refresh);
                all.exports.extend(out.exports);
            }
            // Recorded before the commit: a command the trail cannot take
            // is not run.
            for (i, r) in records {
                if let Err(e) = self.audit(Some(r.clone())) {
                    not_committed(&mut submitted);
                    return Err((i, audit_refused(&e)));
                }
                submitted.push(r);
            }
            let exports = std::mem::take(&mut all.exports);
            Ok((all, exports))
        });
        if let Err(Transaction::Store(_)) = &result {
            not_committed(&mut submitted);
        }
        result
            .map_err(|e| match e {
                Transaction::Refused(e) => e,
                Transaction::Store(e) => (commands.len(), CommandError::store(&e)),
            })
            .and_then(|(lines, exports)| {
                for export in &exports {
                    rings::write_export(export)
                        .map_err(|e| (commands.len().saturating_sub(1), e))?;
                }
                Ok(CommandOutput { lines })
            })
    }

    /// The audit record of a command (or of its refusal for want of
    /// authority), when RACF's controls log it.
    fn command_record(
        &self,
        state: &State,
        issuer: &Issuer,
        origin: &Origin,
        text: &str,
        result: &Result<Effect, CommandError>,
    ) -> Option<AuditRecord> {
        self.config.audit.as_ref()?;
        let refused = match result {
            Ok(_) => false,
            Err(e) if e.kind == command::CommandErrorKind::NotAuthorized => true,
            // A command that failed otherwise changed nothing.
            Err(_) => return None,
        };
        let written = text.split_whitespace().next()?;
        let name = command::command_name(written)?;
        // RACF does not log listings.
        if command::lists_only(name, text) {
            return None;
        }
        let user = match issuer {
            Issuer::Operator => None,
            Issuer::User(u) => Some(u.to_ascii_uppercase()),
        };
        let facts_of = user.as_deref().and_then(|u| state.users.get(u));
        let who = auditing::CommandIssuer {
            user: user.as_deref(),
            special: facts_of.is_some_and(|u| u.special && !u.revoked),
            auditor: facts_of.is_some_and(|u| u.auditor && !u.revoked),
            uaudit: facts_of.is_some_and(|u| u.uaudit),
        };
        let empty = Effect::default();
        let effect = result.as_ref().unwrap_or(&empty);
        let masked = command::masking::masked(text);
        let facts = auditing::CommandFacts {
            name,
            text_masked: &masked,
            audit_class: {
                let candidates = command::audit_classes(name, text);
                candidates
                    .iter()
                    .find(|c| state.class(c).audit)
                    .or(candidates.first())
                    .cloned()
            },
            refused,
            ignored: &effect.ignored,
            used_auditor: effect.used_auditor,
            // An AUDITOR's keyword is a change of the controls even when it
            // sets what was set already.
            changes_audit_controls: effect.changes_audit_controls || effect.used_auditor,
        };
        let audit_classes = state
            .classes
            .values()
            .filter(|c| c.audit)
            .map(|c| c.name.clone())
            .collect();
        auditing::command_record(
            self.now_ms(),
            &who,
            &facts,
            &state.options,
            audit_classes,
            origin,
        )
    }

    /// Computes an [`Effect`] on the current state and commits it as one
    /// transaction, redone on fresh data when another process committed
    /// first. Returns the effect's lines.
    fn transact<T, E>(
        &self,
        mut plan: impl FnMut(&State) -> Result<(Effect, T), E>,
    ) -> Result<(Vec<String>, T), Transaction<E>> {
        let mut inner = self.lock();
        // Other processes' commits wait meanwhile, so this one is planned
        // on the current data and not redone; without the lock (a store
        // that has none, a lost connection) the generation check still
        // refuses a stale commit, and it is redone.
        let locked = inner.store.lock_commits().is_ok();
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            // Another process may have committed since: execute against
            // the current data, and redo if it commits again in between.
            if let Err(e) = self.sync_locked(&mut inner) {
                break Err(Transaction::Store(e));
            }
            let (effect, value) = match plan(&inner.state) {
                Ok(planned) => planned,
                Err(e) => break Err(Transaction::Refused(e)),
            };
            match self.commit(&mut inner, effect) {
                Ok(lines) => break Ok((lines, value)),
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => continue,
                Err(e) => break Err(Transaction::Store(e)),
            }
        };
        if locked {
            inner.store.unlock_commits();
        }
        result
    }

    /// Runs a batch, one transaction per command, calling `progress` after
    /// each; stops at the first failing command.
    pub fn run_batch(
        &self,
        issuer: &Issuer,
        commands: &[BatchCommand],
        progress: &mut dyn FnMut(BatchProgress<'_>),
    ) -> BatchReport {
        self.run_batch_from(issuer, &Origin::default(), commands, progress)
    }

    /// [`Esm::run_batch`] from `origin`.
    pub fn run_batch_from(
        &self,
        issuer: &Issuer,
        origin: &Origin,
        commands: &[BatchCommand],
        progress: &mut dyn FnMut(BatchProgress<'_>),
    ) -> BatchReport {
        let total = commands.len();
        for (i, cmd) in commands.iter().enumerate() {
            let result = self.run_command_from(issuer, origin, &cmd.text);
            progress(BatchProgress {
                done: i + 1,
                total,
                command: cmd,
                result: &result,
            });
            if let Err(e) = result {
                return BatchReport {
                    succeeded: i,
                    failed: Some((cmd.clone(), e)),
                };
            }
        }
        BatchReport {
            succeeded: total,
            failed: None,
        }
    }

    /// Commits a command's changes (one transaction), then applies them in
    /// memory and refreshes the index as spec section 3 says.
    fn commit(&self, inner: &mut Inner, effect: Effect) -> Result<Vec<String>, StoreError> {
        let Effect {
            changes,
            lines,
            refresh,
            ..
        } = effect;
        if !changes.is_empty() {
            let entry = journal::commit(&changes, &refresh)?;
            inner.generation = inner.store.apply(&changes, &entry, inner.generation)?;
            self.mark_synced();
        }
        self.apply_in_memory(inner, &changes, &refresh);
        Ok(lines)
    }

    /// Applies committed changes to the state in memory and refreshes the
    /// index as spec section 3 says: what a commit does after the store's
    /// transaction, here or (replayed from the journal) in another process.
    fn apply_in_memory(&self, inner: &mut Inner, changes: &[Change], refresh: &[Refresh]) {
        for c in changes {
            inner.state.apply(c);
        }
        let state = &inner.state;
        let mut idx = self.index.write().unwrap_or_else(|e| e.into_inner());
        for c in changes {
            let profile = match c {
                Change::PutUser(u) => {
                    idx.refresh_user(state, &u.id);
                    None
                }
                Change::DeleteUser(id) => {
                    idx.refresh_user(state, id);
                    None
                }
                Change::Connect { user, .. } | Change::Disconnect { user, .. } => {
                    idx.refresh_user(state, user);
                    None
                }
                Change::PutClass(s) => {
                    idx.refresh_settings(state, &s.name);
                    None
                }
                Change::PutOptions(o) => {
                    idx.set_options(o);
                    None
                }
                Change::PutGroup(_) | Change::DeleteGroup(_) => None,
                Change::PutRecord(_) | Change::DeleteRecord { .. } => None,
                Change::PutProfile(p) => Some((&p.class, &p.name)),
                Change::DeleteProfile { class, name }
                | Change::PutAccess { class, name, .. }
                | Change::DeleteAccess { class, name, .. }
                | Change::PutConditional { class, name, .. }
                | Change::DeleteConditional { class, name, .. }
                | Change::PutMember { class, name, .. }
                | Change::DeleteMember { class, name, .. } => Some((class, name)),
            };
            // Classes the admin RACLISTed explicitly wait for REFRESH; the
            // GLOBAL table waits for SETROPTS GLOBAL(c) REFRESH.
            if let Some((class, name)) = profile {
                if class != GLOBAL_CLASS && !state.class(class).raclist {
                    idx.refresh_profile(state, class, name);
                }
            }
        }
        for r in refresh {
            match r {
                Refresh::Class(c) => idx.refresh_class(state, c),
                Refresh::Global(c) => idx.refresh_global(state, c),
            }
        }
        drop(idx);
        if changes
            .iter()
            .any(|c| matches!(c, Change::PutRecord(_) | Change::DeleteRecord { .. }))
        {
            let mut view = self.records.write().unwrap_or_else(|e| e.into_inner());
            for c in changes {
                match c {
                    Change::PutRecord(r) => view.records.put(r),
                    Change::DeleteRecord { kind, key } => view.records.delete(kind, key),
                    _ => {}
                }
            }
            if changes.iter().any(certmap::changes_filters) {
                view.cert_filters = CertFilters::build(&view.records);
            }
        }
        if changes.iter().any(idmap::changes_lookups) {
            let mut view = self.records.write().unwrap_or_else(|e| e.into_inner());
            view.idid_filters = IdidFilters::build(&inner.state);
        }
    }

    /// Applies what other processes committed since this one last looked:
    /// their journal entries, replayed in order as their own commits
    /// applied them; everything reloaded only when the journal does not
    /// reach back far enough or an entry cannot be read. Returns whether
    /// anything changed.
    pub fn reload_if_changed(&self) -> Result<bool, EsmError> {
        let mut inner = self.lock();
        Ok(self.sync_locked(&mut inner)?)
    }

    fn sync_locked(&self, inner: &mut Inner) -> Result<bool, StoreError> {
        let changed = match inner.store.journal_since(inner.generation)? {
            Journal::Entries(entries) if entries.is_empty() => false,
            Journal::Entries(entries) => {
                for (generation, text) in entries {
                    match journal::read(&text) {
                        Ok(entry) => {
                            self.replay(inner, entry);
                            inner.generation = generation;
                            self.replayed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            self.reload_all(inner)?;
                            break;
                        }
                    }
                }
                true
            }
            Journal::Gap => {
                self.reload_all(inner)?;
                true
            }
        };
        self.mark_synced();
        Ok(changed)
    }

    /// Applies one journal entry of another process's.
    fn replay(&self, inner: &mut Inner, entry: journal::Entry) {
        match entry {
            journal::Entry::Commit { changes, refresh } => {
                self.apply_in_memory(inner, &changes, &refresh);
            }
            journal::Entry::RevokedToken {
                hash,
                expires_at_ms,
            } => {
                inner
                    .state
                    .revoked_tokens
                    .insert(hash.clone(), expires_at_ms);
                self.tokens
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(hash, expires_at_ms);
            }
        }
    }

    /// Loads everything and rebuilds what is derived from it. RACLISTed
    /// classes are rebuilt from their in-storage copies, as a restart
    /// would.
    fn reload_all(&self, inner: &mut Inner) -> Result<(), StoreError> {
        // The generation before the state: a commit in between is then in
        // the state and replayed once more, which changes nothing (every
        // change sets or deletes by key).
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let generation = inner.store.generation()?;
        let state = inner.store.load()?;
        let index = Index::build(&state);
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = state.revoked_tokens.clone();
        *self.records.write().unwrap_or_else(|e| e.into_inner()) = RecordsView::new(&state);
        inner.state = state;
        inner.generation = generation;
        Ok(())
    }

    /// Whether the state in memory is the store's, as a fresh load reads
    /// it (an invariant of the journal's replay; for tests and
    /// diagnostics). Looks at the journal first, as any use does.
    pub fn memory_matches_store(&self) -> Result<bool, EsmError> {
        let mut inner = self.lock();
        self.sync_locked(&mut inner)?;
        let stored = inner.store.load()?;
        Ok(stored == inner.state)
    }

    /// A canonical dump of the store (every row), for tests and diagnostics.
    pub fn dump_store(&self) -> Result<Vec<String>, EsmError> {
        Ok(self.lock().store.dump()?)
    }

    /// RACROUTE REQUEST=VERIFY: checks a password (1-8 characters) or a
    /// phrase (9-100), and changes it when `new_secret` is given.
    ///
    /// Unknown users are hashed against a dummy so the time taken does not
    /// tell them apart from a wrong password. A revoked user is reported as
    /// revoked only when the secret is right. Failures are counted; with
    /// `SETROPTS PASSWORD(REVOKE(n))` the (n+1)th consecutive failure revokes.
    pub fn verify(&self, user: &str, secret: &str, new_secret: Option<&str>) -> VerifyOutcome {
        self.verify_with_factor(user, secret, new_secret, None)
    }

    /// [`Esm::verify`] with a second factor (see [`mfa`]): for a user with an
    /// active TOTP factor, `code` or else the text after the last separator
    /// of `secret` must be a fresh code; a wrong or missing code is a wrong
    /// password (counted). Users without a factor ignore `code`.
    pub fn verify_with_factor(
        &self,
        user: &str,
        secret: &str,
        new_secret: Option<&str>,
        code: Option<&str>,
    ) -> VerifyOutcome {
        self.verify_from(&Origin::default(), user, secret, new_secret, code)
    }

    /// [`Esm::verify_with_factor`] from `origin`, recorded as RACF records
    /// a logon (event 1): every failure, and a success when the secret
    /// changed or the user has UAUDIT. A success that must be recorded and
    /// cannot be is answered [`VerifyOutcome::StoreUnavailable`].
    pub fn verify_from(
        &self,
        origin: &Origin,
        user: &str,
        secret: &str,
        new_secret: Option<&str>,
        code: Option<&str>,
    ) -> VerifyOutcome {
        let mut kind = kind_of(secret);
        let mut auto_revoked = false;
        let mut recorded = false;
        let outcome = self.verify_body(
            origin,
            user,
            secret,
            new_secret,
            code,
            &mut kind,
            &mut auto_revoked,
            &mut recorded,
        );
        if recorded {
            return outcome;
        }
        let changed = new_secret.is_some();
        self.record_logon(
            origin,
            user,
            method_of(kind),
            &outcome,
            changed,
            auto_revoked,
            None,
        )
    }

    /// Records a logon's outcome; a success that cannot be recorded
    /// becomes [`VerifyOutcome::StoreUnavailable`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_logon(
        &self,
        origin: &Origin,
        user: &str,
        method: LogonMethod,
        outcome: &VerifyOutcome,
        changed: bool,
        auto_revoked: bool,
        appl: Option<&str>,
    ) -> VerifyOutcome {
        let result = match outcome {
            VerifyOutcome::Success { .. } if changed => LogonResult::SuccessChanged,
            VerifyOutcome::Success { .. } => LogonResult::Success,
            VerifyOutcome::UnknownUser => LogonResult::UndefinedUser,
            VerifyOutcome::WrongPassword if auto_revoked => LogonResult::AutoRevoked,
            VerifyOutcome::WrongPassword => LogonResult::WrongSecret,
            VerifyOutcome::Expired => LogonResult::Expired,
            VerifyOutcome::NewPasswordInvalid { .. } => LogonResult::NewSecretInvalid,
            VerifyOutcome::Revoked => LogonResult::Revoked,
            VerifyOutcome::StoreUnavailable => return VerifyOutcome::StoreUnavailable,
        };
        // A name that is no user id is often a password typed in the
        // wrong field: it is not recorded, only that it was no id.
        let id = match outcome {
            VerifyOutcome::Success { user } => Some(user.clone()),
            _ => normalize_id(user).ok(),
        };
        let uaudit = id.as_deref().is_some_and(|id| {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            index.uaudit(id)
        });
        let record = auditing::logon_record(
            self.now_ms(),
            id.as_deref().unwrap_or(""),
            method,
            result,
            uaudit,
            appl,
            origin,
        )
        .map(|r| match id {
            Some(_) => r,
            None => r.set("logstr", "INVALID USERID"),
        });
        match (self.audit(record), outcome) {
            (Err(_), VerifyOutcome::Success { .. }) => VerifyOutcome::StoreUnavailable,
            _ => outcome.clone(),
        }
    }

    /// The logon itself. It says through `kind_seen` the kind of secret,
    /// through `auto_revoked` whether this failure revoked the user, and
    /// through `recorded` whether the logon's record was already handed to
    /// the trail (a changed secret is, before its commit).
    #[allow(clippy::too_many_arguments)]
    fn verify_body(
        &self,
        origin: &Origin,
        user: &str,
        secret: &str,
        new_secret: Option<&str>,
        code: Option<&str>,
        kind_seen: &mut SecretKind,
        auto_revoked: &mut bool,
        recorded: &mut bool,
    ) -> VerifyOutcome {
        // An invalid id takes the unknown-user path, at the same cost.
        let id = normalize_id(user).unwrap_or_default();
        // The second factor, as the store has it now: a factor enrolled by
        // another process counts at once.
        if self.reload_if_changed().is_err() {
            return VerifyOutcome::StoreUnavailable;
        }
        let factor = self.totp_factor(&id);
        let separator = self.mfa_settings().separator;
        let (secret, code) = match (&factor, code) {
            (None, _) => (secret, None),
            (Some(_), Some(code)) => (secret, Some(code)),
            (Some(_), None) => match secret.rsplit_once(separator.as_str()) {
                Some((password, code)) if !separator.is_empty() => (password, Some(code)),
                _ => (secret, None),
            },
        };
        let kind = kind_of(secret);
        *kind_seen = kind;
        // Read what is needed, then hash without holding the lock.
        let (stored, mixed_case) = {
            let mut inner = self.lock();
            // A password changed by another process counts at once.
            if self.sync_locked(&mut inner).is_err() {
                return VerifyOutcome::StoreUnavailable;
            }
            let mixed = inner.state.options.mixed_case;
            match inner.state.users.get(&id) {
                None => (None, mixed),
                Some(u) => {
                    let cred = match kind {
                        SecretKind::Password => u.password.clone(),
                        SecretKind::Phrase => u.phrase.clone(),
                    };
                    (Some(cred), mixed)
                }
            }
        };
        let candidate = match kind {
            SecretKind::Password => normalize_password(secret, mixed_case),
            SecretKind::Phrase => secret.to_owned(),
        };
        let Some(cred) = stored else {
            verify_secret(&candidate, &self.dummy);
            // A wrong password writes its failure count; this writes a
            // statistic of the same size, so the two cost the same.
            let mut inner = self.lock();
            if self.sync_locked(&mut inner).is_err() || inner.store.note_rejected_logon().is_err() {
                return VerifyOutcome::StoreUnavailable;
            }
            return VerifyOutcome::UnknownUser;
        };
        let ok = match &cred {
            Some(c) => verify_secret(&candidate, &c.hash),
            None => {
                verify_secret(&candidate, &self.dummy);
                false
            }
        };
        let now = self.config.clock.now_ms();
        // The code is consumed only when the password is right.
        let ok = ok
            && match &factor {
                None => true,
                Some(None) => false,
                Some(Some(f)) => code.is_some_and(|c| self.accept_totp(&id, f, c, now)),
            };
        let mut inner = self.lock();
        // Other processes' commits wait meanwhile: a logon counts on the
        // current record and is not redone for their sake.
        let locked = inner.store.lock_commits().is_ok();
        let outcome = 'settled: {
            let mut attempt = 0;
            loop {
                attempt += 1;
                // Count on the current record, not a stale copy.
                if self.sync_locked(&mut inner).is_err() {
                    break 'settled VerifyOutcome::StoreUnavailable;
                }
                let (outcome, updated) =
                    self.settle_verify(&inner.state, &id, ok, cred.as_ref(), kind, new_secret, now);
                let Some(u) = updated else {
                    if outcome == VerifyOutcome::WrongPassword {
                        // Revoked user, wrong secret: same cost as any failure.
                        if inner.store.note_rejected_logon().is_err() {
                            break 'settled VerifyOutcome::StoreUnavailable;
                        }
                    }
                    break 'settled outcome;
                };
                *auto_revoked = outcome == VerifyOutcome::WrongPassword && u.revoked;
                // A changed secret is always recorded, and recorded before it
                // is committed: one the trail cannot take is not changed.
                if new_secret.is_some()
                    && matches!(outcome, VerifyOutcome::Success { .. })
                    && !*recorded
                {
                    let record = auditing::logon_record(
                        now,
                        &id,
                        method_of(kind),
                        LogonResult::SuccessChanged,
                        u.uaudit,
                        None,
                        origin,
                    );
                    if self.audit(record).is_err() {
                        break 'settled VerifyOutcome::StoreUnavailable;
                    }
                    *recorded = true;
                }
                let change = [Change::PutUser(Box::new(u))];
                let expected = inner.generation;
                let Ok(entry) = journal::commit(&change, &[]) else {
                    break 'settled VerifyOutcome::StoreUnavailable;
                };
                match inner.store.apply(&change, &entry, expected) {
                    Ok(generation) => {
                        inner.generation = generation;
                        self.mark_synced();
                        self.apply_in_memory(&mut inner, &change, &[]);
                        break 'settled outcome;
                    }
                    Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => continue,
                    // A logon that cannot be recorded is not answered: a failure
                    // that is not counted would let guessing go on past
                    // REVOKE(n), and a success could not reset the count.
                    Err(_) => break 'settled VerifyOutcome::StoreUnavailable,
                }
            }
        };
        if locked {
            inner.store.unlock_commits();
        }
        outcome
    }

    /// The answer of a verify and the updated user record to store, given
    /// whether the secret matched.
    #[allow(clippy::too_many_arguments)]
    fn settle_verify(
        &self,
        state: &State,
        id: &str,
        ok: bool,
        cred: Option<&Credential>,
        kind: SecretKind,
        new_secret: Option<&str>,
        now: i64,
    ) -> (VerifyOutcome, Option<User>) {
        let opts = &state.options;
        let Some(mut u) = state.users.get(id).cloned() else {
            return (VerifyOutcome::UnknownUser, None);
        };
        if !ok {
            if u.revoked {
                return (VerifyOutcome::WrongPassword, None);
            }
            u.failed_attempts = u.failed_attempts.saturating_add(1);
            if opts.revoke_after.is_some_and(|n| u.failed_attempts > n) {
                u.revoked = true;
                u.revoked_at_ms = now;
            }
            return (VerifyOutcome::WrongPassword, Some(u));
        }
        if u.revoked {
            return (VerifyOutcome::Revoked, None);
        }
        let Some(cred) = cred else {
            return (VerifyOutcome::WrongPassword, None);
        };
        let interval_ms = i64::from(opts.password_interval_days) * 86_400_000;
        let expired = cred.expired || (interval_ms > 0 && now - cred.set_at_ms >= interval_ms);
        if let Some(new) = new_secret {
            if let Err(why) = self.check_new_secret(&u, kind, cred, new, opts) {
                let reset = u.failed_attempts != 0;
                u.failed_attempts = 0;
                return (
                    VerifyOutcome::NewPasswordInvalid { why },
                    reset.then_some(u),
                );
            }
            let new_norm = match kind {
                SecretKind::Password => normalize_password(new, opts.mixed_case),
                SecretKind::Phrase => new.to_owned(),
            };
            let Ok(hash) = hash_secret(&new_norm, self.config.hash_cost) else {
                return (
                    VerifyOutcome::NewPasswordInvalid {
                        why: "the new password could not be stored".into(),
                    },
                    None,
                );
            };
            let fresh = Credential {
                hash,
                set_at_ms: now,
                expired: false,
            };
            let keep = opts.history as usize;
            let (slot, history) = match kind {
                SecretKind::Password => (&mut u.password, &mut u.password_history),
                SecretKind::Phrase => (&mut u.phrase, &mut u.phrase_history),
            };
            history.insert(0, cred.hash.clone());
            history.truncate(keep);
            *slot = Some(fresh);
        } else if expired {
            return (VerifyOutcome::Expired, None);
        }
        u.failed_attempts = 0;
        u.last_logon_ms = Some(now);
        let user = u.id.clone();
        (VerifyOutcome::Success { user }, Some(u))
    }

    fn check_new_secret(
        &self,
        u: &User,
        kind: SecretKind,
        current: &Credential,
        new: &str,
        opts: &crate::model::Options,
    ) -> Result<(), String> {
        if kind_of(new) != kind {
            return Err(match kind {
                SecretKind::Password => "a new password is 1 to 8 characters".into(),
                SecretKind::Phrase => "a new password phrase is 9 to 100 characters".into(),
            });
        }
        let norm = match kind {
            SecretKind::Password => {
                check_password_syntax(&u.id, new, opts.mixed_case)?;
                let norm = normalize_password(new, opts.mixed_case);
                crate::password::check_rules(&norm, &opts.rules)?;
                norm
            }
            SecretKind::Phrase => {
                check_phrase_syntax(&u.id, new)?;
                new.to_owned()
            }
        };
        if verify_secret(&norm, &current.hash) {
            return Err("the new value must differ from the current one".into());
        }
        let history = match kind {
            SecretKind::Password => &u.password_history,
            SecretKind::Phrase => &u.phrase_history,
        };
        if history
            .iter()
            .take(opts.history as usize)
            .any(|h| verify_secret(&norm, h))
        {
            return Err("the new value was used before (password history)".into());
        }
        Ok(())
    }

    /// The token-state part of the store (for the auth crate).
    pub fn token_state(&self) -> TokenState<'_> {
        TokenState { esm: self }
    }

    /// Imports a YAML file's text: Zowe's `mock-saf.yml` or zgate's own
    /// format (see [`import`]); all of it in one transaction.
    pub fn import_yaml(
        &self,
        issuer: &Issuer,
        text: &str,
    ) -> Result<import::ImportReport, EsmError> {
        let plan = {
            let inner = self.lock();
            import::plan(&inner.state, text)?
        };
        match self.run_atomic_from(issuer, &Origin::local_shell(), &plan.commands) {
            Ok(out) => Ok(import::ImportReport {
                commands: plan.commands,
                notes: plan.notes,
                lines: out.lines,
            }),
            Err((i, error)) => Err(EsmError::ImportCommand {
                command: plan
                    .commands
                    .get(i)
                    .map(|c| command::masking::masked(c))
                    .unwrap_or_default(),
                error,
            }),
        }
    }
}

/// Revoked tokens, persisted with the ESM (the auth crate decides what is
/// hashed). Lookups are in memory, O(1).
pub struct TokenState<'a> {
    esm: &'a Esm,
}

impl TokenState<'_> {
    /// Records a revoked token hash until it expires.
    pub fn revoke_token(&self, hash: &str, expires_at_ms: i64) -> Result<(), EsmError> {
        let mut inner = self.esm.lock();
        let entry = journal::revoked_token(hash, expires_at_ms)?;
        inner.store.revoke_token(hash, expires_at_ms, &entry)?;
        self.esm.replay(
            &mut inner,
            journal::Entry::RevokedToken {
                hash: hash.to_owned(),
                expires_at_ms,
            },
        );
        // Catch up with the others (and this entry, again: no change). A
        // failure here is the next look's to repeat: the revocation is
        // committed and in memory.
        let _ = self.esm.sync_locked(&mut inner);
        Ok(())
    }

    /// Whether a hash was revoked.
    pub fn is_token_revoked(&self, hash: &str) -> bool {
        self.esm
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(hash)
    }

    /// All revoked hashes with their expiry, sorted by hash.
    pub fn revoked_tokens(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self
            .esm
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(h, e)| (h.clone(), *e))
            .collect();
        v.sort();
        v
    }

    /// Forgets revocations that expired before `now_ms`; returns how many.
    pub fn purge_expired_tokens(&self, now_ms: i64) -> Result<usize, EsmError> {
        let mut inner = self.esm.lock();
        let n = inner.store.purge_expired_tokens(now_ms)?;
        self.esm
            .tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| *e >= now_ms);
        Ok(n)
    }
}

/// Why [`Esm::transact`] did not commit.
enum Transaction<E> {
    /// The plan refused (a command's error).
    Refused(E),
    /// The store failed.
    Store(StoreError),
}
