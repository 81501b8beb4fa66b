//! The PostgreSQL backend: the security state of several gateways in one
//! database. The same tables, columns and meanings as [`super::sqlite`]
//! (integers are `BIGINT`, text is `TEXT`), the same forward-only
//! migrations (so a schema version means the same on both), the version
//! kept in a one-row table `schema_version` (SQLite keeps it in
//! `PRAGMA user_version`), and the same canonical [`Store::dump`].
//!
//! Concurrency between processes: a process plans and commits under a
//! session advisory lock ([`Store::lock_commits`]), so commands and
//! counted logons of several gateways wait for each other instead of
//! failing; [`Store::apply`] still locks the generation row
//! (`SELECT ... FOR UPDATE`) before it compares it, so a commit planned on
//! stale data (the lock lost with its connection) answers
//! [`StoreError::Conflict`] and is redone. PassTicket claims
//! insert-if-absent on the primary key, so exactly one claim of a ticket
//! succeeds. Migrations run under a transaction-scoped advisory lock:
//! processes starting together migrate once.
//!
//! Propagation: each commit writes its journal entry and `NOTIFY`s
//! [`CHANNEL`] with the new generation; [`Store::watch`] keeps a second
//! connection `LISTEN`ing (application name `zgate-esm-listen`) that wakes
//! the process on each announcement and on each reconnection, after which
//! the process reads the journal from its own generation: a notification
//! lost with a connection loses no change.
//!
//! One connection, no pool: the ESM applies one commit at a time per
//! process anyway (its state in memory is planned on), and the cluster one
//! at a time under the commit lock; checks and token verification never
//! reach the database, only logons, commands and the gateway's look at the
//! journal do, on blocking threads.
//!
//! The connection is plain TCP or a Unix socket (`NoTls`): for a local or
//! trusted network only in this version. Encrypting it (TLS to PostgreSQL)
//! is not supported yet; put the server next to the gateways.
//!
//! The driver is the `postgres` crate, the synchronous client over
//! tokio-postgres. Its calls run a private tokio runtime with `block_on`,
//! which panics on a thread that already drives a tokio runtime (the
//! gateway opens its ESM inside one, and a store method may be called from
//! one); so the client lives on a thread of its own and every method hands
//! it a job and waits for the answer, as a call into SQLite waits for the
//! disk.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, IsolationLevel, NoTls, Row, Transaction};
use rusqlite::types::Value;

use super::{dump_table, journal_of, Journal, Store, StoreError, Wake, JOURNAL_KEPT};
use crate::model::{
    ClassSettings, Condition, Credential, Group, Options, Profile, SecretHash, User,
};
use crate::passticket::SsignonKeys;
use crate::records::Record;
use crate::state::{Change, State};
use crate::store::sqlite::{
    audit_options_text, b, history_parse, history_text, level, rules_parse, rules_text,
};

/// SQLite's migration `sql` in PostgreSQL's spelling: the schemas are the
/// same but for SQLite's `INTEGER` (64-bit there), PostgreSQL's `BIGINT`.
/// One list of migrations for both backends keeps version N the same
/// schema on each.
fn migration(sql: &str) -> String {
    sql.replace("INTEGER", "BIGINT")
}

/// The newest schema version this build knows (the same numbers as SQLite's).
pub const SCHEMA_VERSION: i64 = super::sqlite::SCHEMA_VERSION;

/// The advisory lock key migrations run under ("zgateESM").
const MIGRATION_LOCK: i64 = 0x7a67_6174_6545_534d;

/// The advisory lock commits run under ("zgateCMT"): one process plans
/// and commits at a time, so none is redone for another's sake.
const COMMIT_LOCK: i64 = 0x7a67_6174_6543_4d54;

/// How long connecting may take, and a sent request may stay unanswered,
/// when the URL does not say (`connect_timeout`, `tcp_user_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The channel commits are announced on; the payload is the new generation.
const CHANNEL: &str = "zgate_esm";

/// How long the listener waits for a notification before it looks whether
/// it should stop, and the longest pause between attempts to reconnect.
const LISTEN_TICK: Duration = Duration::from_millis(500);

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgresql: {e}"))
}

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// The PostgreSQL store: one connection, on a thread of its own.
pub struct PostgresStore {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    created: bool,
    config: postgres::Config,
    /// Set on drop: the listener (if any) stops.
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/database`, or the
    /// key=value form) without TLS, and creates or migrates the schema.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("postgresql URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A server that stops answering (a network cut: no reset ever
        // comes) fails a call within these instead of hanging it, so the
        // gateway notices and fails closed.
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives_idle(CONNECT_TIMEOUT);
        if config.get_options().is_none() {
            // A commit waits this long at most for another process's.
            config.options("-c lock_timeout=10s");
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let store_config = config.clone();
        let worker = std::thread::Builder::new()
            .name("zgate-esm-postgres".into())
            .spawn(move || {
                let mut client = match config.connect(NoTls) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = ready.send(Err(pg(e)));
                        return;
                    }
                };
                for job in queue {
                    // A lost connection (a server restart) is made anew
                    // for the next job; this one fails if it cannot be.
                    if client.is_closed() {
                        if let Ok(fresh) = config.connect(NoTls) {
                            client = fresh;
                        }
                    }
                    job(&mut client);
                }
            })
            .map_err(|e| StoreError::Backend(format!("postgresql connection thread: {e}")))?;
        let mut store = PostgresStore {
            jobs: Some(jobs),
            worker: Some(worker),
            created: false,
            config: store_config,
            stop: Arc::new(AtomicBool::new(false)),
        };
        connected.recv().map_err(|_| {
            StoreError::Backend("postgresql: the connection thread stopped".into())
        })??;
        store.created = store.call(migrate)?;
        Ok(store)
    }

    /// Runs `job` on the connection's thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let stopped = || StoreError::Backend("postgresql: the connection thread stopped".into());
        let (answer, answered) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Box::new(move |client: &mut Client| {
            let _ = answer.send(job(client));
        }))
        .map_err(|_| stopped())?;
        answered.recv().map_err(|_| stopped())?
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing the queue ends the thread, which closes the connection.
        self.stop.store(true, Ordering::Relaxed);
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Creates or migrates the schema; whether it was created now.
fn migrate(client: &mut Client) -> Result<bool, StoreError> {
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);",
    )
    .map_err(pg)?;
    let version: i64 = match tx
        .query_opt("SELECT max(version) FROM schema_version", &[])
        .map_err(pg)?
    {
        Some(row) => get::<Option<i64>>(&row, 0)?.unwrap_or(0),
        None => 0,
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for sql in super::sqlite::MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.batch_execute(&migration(sql)).map_err(pg)?;
    }
    if version < SCHEMA_VERSION {
        tx.execute("DELETE FROM schema_version", &[]).map_err(pg)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )
        .map_err(pg)?;
    }
    tx.commit().map_err(pg)?;
    Ok(version == 0)
}

/// A column of a row; a value of another type is corrupt data.
fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

fn flag(row: &Row, i: usize) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, i)? != 0)
}

fn count(row: &Row, i: usize) -> Result<u32, StoreError> {
    let v = get::<i64>(row, i)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {i}: {v}")))
}

fn generation_of(value: &str) -> Result<i64, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("generation `{value}`")))
}

fn read_generation(tx: &mut Transaction<'_>, lock: bool) -> Result<i64, StoreError> {
    let sql = if lock {
        "SELECT value FROM meta WHERE key = 'generation' FOR UPDATE"
    } else {
        "SELECT value FROM meta WHERE key = 'generation'"
    };
    let row = tx.query_one(sql, &[]).map_err(pg)?;
    generation_of(&get::<String>(&row, 0)?)
}

/// Moves the generation to `next` with its journal entry, drops entries
/// older than the journal keeps, and announces the commit: PostgreSQL
/// delivers the notification when (and only if) the transaction commits.
fn write_generation(tx: &mut Transaction<'_>, next: i64, journal: &str) -> Result<(), StoreError> {
    exec(
        tx,
        "UPDATE meta SET value = $1 WHERE key = 'generation'",
        &[&next.to_string()],
    )?;
    exec(
        tx,
        "INSERT INTO change_log (generation, entry) VALUES ($1, $2)
         ON CONFLICT (generation) DO UPDATE SET entry = excluded.entry",
        &[&next, &journal],
    )?;
    exec(
        tx,
        "DELETE FROM change_log WHERE generation <= $1",
        &[&(next - JOURNAL_KEPT)],
    )?;
    tx.query("SELECT pg_notify($1, $2)", &[&CHANNEL, &next.to_string()])
        .map_err(pg)?;
    Ok(())
}

/// The listener: its own connection, `LISTEN`ing on [`CHANNEL`], calling
/// `wake` on each notification, and on each connection made (a lost one
/// may have missed some: the process then reads the journal from its own
/// generation, so nothing is missed). Runs until `stop`.
fn listen(config: &postgres::Config, stop: &AtomicBool, wake: &Wake) {
    let mut pause = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        let mut client = match config.connect(NoTls) {
            Ok(client) => client,
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(LISTEN_TICK);
                continue;
            }
        };
        if client.batch_execute(&format!("LISTEN {CHANNEL}")).is_err() {
            continue;
        }
        pause = Duration::from_millis(50);
        wake();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let lost = {
                let mut notifications = client.notifications();
                let mut waiting = notifications.timeout_iter(LISTEN_TICK);
                loop {
                    match waiting.next() {
                        Ok(Some(_)) => wake(),
                        Ok(None) => break false,
                        Err(_) => break true,
                    }
                }
            };
            if lost || client.is_closed() {
                break;
            }
        }
    }
}

fn exec(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    tx.execute(sql, params).map_err(pg)
}

fn put_user(tx: &mut Transaction<'_>, u: &User) -> Result<(), StoreError> {
    let cred = |c: &Option<Credential>| {
        (
            c.as_ref().map(|c| c.hash.0.clone()),
            c.as_ref().map(|c| c.set_at_ms),
            c.as_ref().map(|c| b(c.expired)),
        )
    };
    let (pw_h, pw_t, pw_e) = cred(&u.password);
    let (ph_h, ph_t, ph_e) = cred(&u.phrase);
    exec(
        tx,
        "INSERT INTO users VALUES
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner,
           default_group = excluded.default_group, special = excluded.special,
           auditor = excluded.auditor, operations = excluded.operations,
           restricted = excluded.restricted, revoked = excluded.revoked,
           password_hash = excluded.password_hash, password_set_ms = excluded.password_set_ms,
           password_expired = excluded.password_expired, phrase_hash = excluded.phrase_hash,
           phrase_set_ms = excluded.phrase_set_ms, phrase_expired = excluded.phrase_expired,
           password_history = excluded.password_history,
           phrase_history = excluded.phrase_history,
           failed_attempts = excluded.failed_attempts, created_ms = excluded.created_ms,
           last_logon_ms = excluded.last_logon_ms, revoked_at_ms = excluded.revoked_at_ms,
           uaudit = excluded.uaudit",
        &[
            &u.id,
            &u.name,
            &u.owner,
            &u.default_group,
            &b(u.special),
            &b(u.auditor),
            &b(u.operations),
            &b(u.restricted),
            &b(u.revoked),
            &pw_h,
            &pw_t,
            &pw_e,
            &ph_h,
            &ph_t,
            &ph_e,
            &history_text(&u.password_history),
            &history_text(&u.phrase_history),
            &i64::from(u.failed_attempts),
            &u.created_ms,
            &u.last_logon_ms,
            &u.revoked_at_ms,
            &b(u.uaudit),
        ],
    )?;
    Ok(())
}

fn apply_one(tx: &mut Transaction<'_>, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::PutRecord(r) => {
            exec(
                tx,
                "INSERT INTO security_records (kind, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                &[&r.kind, &r.key, &r.value],
            )?;
        }
        Change::DeleteRecord { kind, key } => {
            exec(
                tx,
                "DELETE FROM security_records WHERE kind = $1 AND key = $2",
                &[kind, key],
            )?;
        }
        Change::PutUser(u) => put_user(tx, u)?,
        Change::DeleteUser(id) => {
            exec(tx, "DELETE FROM users WHERE id = $1", &[id])?;
            exec(tx, "DELETE FROM connects WHERE user_id = $1", &[id])?;
        }
        Change::PutGroup(g) => {
            exec(
                tx,
                "INSERT INTO groups VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET superior = excluded.superior,
                   owner = excluded.owner, created_ms = excluded.created_ms",
                &[&g.id, &g.superior, &g.owner, &g.created_ms],
            )?;
        }
        Change::DeleteGroup(id) => {
            exec(tx, "DELETE FROM groups WHERE id = $1", &[id])?;
        }
        Change::Connect { user, group } => {
            exec(
                tx,
                "INSERT INTO connects VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[user, group],
            )?;
        }
        Change::Disconnect { user, group } => {
            exec(
                tx,
                "DELETE FROM connects WHERE user_id = $1 AND group_id = $2",
                &[user, group],
            )?;
        }
        Change::PutClass(c) => {
            exec(
                tx,
                "INSERT INTO classes VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET active = excluded.active,
                   generic = excluded.generic, raclist = excluded.raclist,
                   global = excluded.global, audit = excluded.audit,
                   log_options = excluded.log_options",
                &[
                    &c.name,
                    &b(c.active),
                    &b(c.generic),
                    &b(c.raclist),
                    &b(c.global),
                    &b(c.audit),
                    &crate::model::log_options_text(c.log_options),
                ],
            )?;
        }
        Change::PutOptions(o) => {
            exec(
                tx,
                "INSERT INTO options VALUES (1, $1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET grplist = excluded.grplist,
                   interval_days = excluded.interval_days,
                   revoke_after = excluded.revoke_after, history = excluded.history,
                   mixed_case = excluded.mixed_case, rules = excluded.rules,
                   audit_options = excluded.audit_options",
                &[
                    &b(o.grplist),
                    &i64::from(o.password_interval_days),
                    &o.revoke_after.map(i64::from),
                    &i64::from(o.history),
                    &b(o.mixed_case),
                    &rules_text(&o.rules),
                    &audit_options_text(o),
                ],
            )?;
        }
        Change::PutProfile(p) => {
            exec(
                tx,
                "INSERT INTO profiles VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (class, name) DO UPDATE SET owner = excluded.owner,
                   uacc = excluded.uacc, warning = excluded.warning,
                   appldata = excluded.appldata, data = excluded.data,
                   ssignon = excluded.ssignon, audit = excluded.audit,
                   global_audit = excluded.global_audit",
                &[
                    &p.class,
                    &p.name,
                    &p.owner,
                    &p.uacc.as_str(),
                    &b(p.warning),
                    &p.appldata,
                    &p.data,
                    &p.created_ms,
                    &p.ssignon.as_ref().map(|k| k.to_stored()),
                    &b(p.literal_name),
                    &crate::model::audit_setting_text(&p.audit),
                    &crate::model::audit_setting_text(&p.global_audit),
                ],
            )?;
        }
        Change::DeleteProfile { class, name } => {
            exec(
                tx,
                "DELETE FROM profiles WHERE class = $1 AND name = $2",
                &[class, name],
            )?;
            for table in ["access_list", "conditional_access", "members"] {
                exec(
                    tx,
                    &format!("DELETE FROM {table} WHERE class = $1 AND profile = $2"),
                    &[class, name],
                )?;
            }
        }
        Change::PutAccess {
            class,
            name,
            id,
            level,
        } => {
            exec(
                tx,
                "INSERT INTO access_list VALUES ($1, $2, $3, $4)
                 ON CONFLICT (class, profile, id) DO UPDATE SET access = excluded.access",
                &[class, name, id, &level.as_str()],
            )?;
        }
        Change::DeleteAccess { class, name, id } => {
            exec(
                tx,
                "DELETE FROM access_list WHERE class = $1 AND profile = $2 AND id = $3",
                &[class, name, id],
            )?;
        }
        Change::PutConditional {
            class,
            name,
            id,
            condition,
            level,
        } => {
            exec(
                tx,
                "INSERT INTO conditional_access VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (class, profile, id, when_kind, when_value)
                 DO UPDATE SET access = excluded.access",
                &[
                    class,
                    name,
                    id,
                    &condition.kind,
                    &condition.value,
                    &level.as_str(),
                ],
            )?;
        }
        Change::DeleteConditional {
            class,
            name,
            id,
            condition,
        } => {
            exec(
                tx,
                "DELETE FROM conditional_access WHERE class = $1 AND profile = $2 AND id = $3
                 AND when_kind = $4 AND when_value = $5",
                &[class, name, id, &condition.kind, &condition.value],
            )?;
        }
        Change::PutMember {
            class,
            name,
            member,
        } => {
            exec(
                tx,
                "INSERT INTO members VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[class, name, member],
            )?;
        }
        Change::DeleteMember {
            class,
            name,
            member,
        } => {
            exec(
                tx,
                "DELETE FROM members WHERE class = $1 AND profile = $2 AND member = $3",
                &[class, name, member],
            )?;
        }
    }
    Ok(())
}

/// A consistent snapshot for reading several tables.
fn snapshot(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg)
}

fn load(client: &mut Client) -> Result<State, StoreError> {
    let mut tx = snapshot(client)?;
    let mut state = State::default();
    for r in tx.query("SELECT * FROM users", &[]).map_err(pg)? {
        let cred = |h: usize| -> Result<Option<Credential>, StoreError> {
            let Some(hash) = get::<Option<String>>(&r, h)? else {
                return Ok(None);
            };
            Ok(Some(Credential {
                hash: SecretHash(hash),
                set_at_ms: get::<Option<i64>>(&r, h + 1)?.unwrap_or(0),
                expired: get::<Option<i64>>(&r, h + 2)?.unwrap_or(1) != 0,
            }))
        };
        let u = User {
            id: get(&r, 0)?,
            name: get(&r, 1)?,
            owner: get(&r, 2)?,
            default_group: get(&r, 3)?,
            special: flag(&r, 4)?,
            auditor: flag(&r, 5)?,
            operations: flag(&r, 6)?,
            restricted: flag(&r, 7)?,
            revoked: flag(&r, 8)?,
            password: cred(9)?,
            phrase: cred(12)?,
            password_history: history_parse(&get::<String>(&r, 15)?),
            phrase_history: history_parse(&get::<String>(&r, 16)?),
            failed_attempts: count(&r, 17)?,
            created_ms: get(&r, 18)?,
            last_logon_ms: get(&r, 19)?,
            revoked_at_ms: get(&r, 20)?,
            uaudit: flag(&r, 21)?,
        };
        state.users.insert(u.id.clone(), u);
    }
    for r in tx.query("SELECT * FROM groups", &[]).map_err(pg)? {
        let g = Group {
            id: get(&r, 0)?,
            superior: get(&r, 1)?,
            owner: get(&r, 2)?,
            created_ms: get(&r, 3)?,
        };
        state.groups.insert(g.id.clone(), g);
    }
    for r in tx
        .query("SELECT user_id, group_id FROM connects", &[])
        .map_err(pg)?
    {
        state
            .connects
            .entry(get(&r, 0)?)
            .or_default()
            .insert(get(&r, 1)?);
    }
    for r in tx.query("SELECT * FROM classes", &[]).map_err(pg)? {
        let c = ClassSettings {
            name: get(&r, 0)?,
            active: flag(&r, 1)?,
            generic: flag(&r, 2)?,
            raclist: flag(&r, 3)?,
            global: flag(&r, 4)?,
            audit: flag(&r, 5)?,
            log_options: crate::model::parse_log_options(&get::<String>(&r, 6)?)
                .unwrap_or_default(),
        };
        state.classes.insert(c.name.clone(), c);
    }
    if let Some(r) = tx
        .query_opt("SELECT * FROM options WHERE id = 1", &[])
        .map_err(pg)?
    {
        let mut o = Options {
            grplist: flag(&r, 1)?,
            password_interval_days: count(&r, 2)?,
            revoke_after: get::<Option<i64>>(&r, 3)?
                .map(|v| {
                    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("revoke_after {v}")))
                })
                .transpose()?,
            history: count(&r, 4)?,
            mixed_case: flag(&r, 5)?,
            rules: rules_parse(&get::<String>(&r, 6)?)?,
            ..Options::default()
        };
        let audit_options: String = get(&r, 7)?;
        let words: Vec<&str> = audit_options.split_whitespace().collect();
        o.saudit = words.contains(&"SAUDIT");
        o.cmdviol = words.contains(&"CMDVIOL");
        o.operaudit = words.contains(&"OPERAUDIT");
        state.options = o;
    }
    let mut profiles: BTreeMap<(String, String), Profile> = BTreeMap::new();
    for r in tx.query("SELECT * FROM profiles", &[]).map_err(pg)? {
        let class: String = get(&r, 0)?;
        let name: String = get(&r, 1)?;
        let mut p = Profile::new(class.clone(), name.clone(), get(&r, 2)?, get(&r, 7)?);
        p.uacc = level(&get::<String>(&r, 3)?)?;
        p.warning = flag(&r, 4)?;
        p.appldata = get(&r, 5)?;
        p.data = get(&r, 6)?;
        p.literal_name = flag(&r, 9)?;
        let setting = |text: String| {
            crate::model::parse_audit_setting(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("audit setting {text:?}")))
        };
        p.audit = setting(get(&r, 10)?)?;
        p.global_audit = setting(get(&r, 11)?)?;
        p.ssignon = get::<Option<String>>(&r, 8)?
            .as_deref()
            .map(SsignonKeys::from_stored)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        profiles.insert((class, name), p);
    }
    for r in tx.query("SELECT * FROM access_list", &[]).map_err(pg)? {
        if let Some(p) = profiles.get_mut(&(get(&r, 0)?, get(&r, 1)?)) {
            p.access.insert(get(&r, 2)?, level(&get::<String>(&r, 3)?)?);
        }
    }
    for r in tx
        .query("SELECT * FROM conditional_access", &[])
        .map_err(pg)?
    {
        if let Some(p) = profiles.get_mut(&(get(&r, 0)?, get(&r, 1)?)) {
            let condition = Condition {
                kind: get(&r, 3)?,
                value: get(&r, 4)?,
            };
            p.conditional
                .insert((get(&r, 2)?, condition), level(&get::<String>(&r, 5)?)?);
        }
    }
    for r in tx.query("SELECT * FROM members", &[]).map_err(pg)? {
        if let Some(p) = profiles.get_mut(&(get(&r, 0)?, get(&r, 1)?)) {
            p.members.insert(get(&r, 2)?);
        }
    }
    for ((class, name), p) in profiles {
        state
            .profiles
            .entry(class)
            .or_default()
            .insert(name, Arc::new(p));
    }
    for r in tx
        .query("SELECT hash, expires_at_ms FROM revoked_tokens", &[])
        .map_err(pg)?
    {
        state.revoked_tokens.insert(get(&r, 0)?, get(&r, 1)?);
    }
    for r in tx
        .query("SELECT kind, key, value FROM security_records", &[])
        .map_err(pg)?
    {
        state.records.put(&Record {
            kind: get(&r, 0)?,
            key: get(&r, 1)?,
            value: get(&r, 2)?,
        });
    }
    tx.commit().map_err(pg)?;
    Ok(state)
}

fn dump(client: &mut Client) -> Result<Vec<String>, StoreError> {
    let mut tx = snapshot(client)?;
    let mut tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .map_err(pg)?
        .iter()
        .map(|r| get::<String>(r, 0))
        .collect::<Result<_, _>>()?;
    // Byte order, as SQLite's BINARY collation sorts.
    tables.sort();
    let mut out = Vec::new();
    for t in tables {
        // The bookkeeping tables: the generation counter and statistics,
        // and the schema version (in SQLite a header field).
        if t == "meta" || t == "schema_version" || t == "change_log" {
            continue;
        }
        let mut rows = Vec::new();
        for r in tx
            .query(&format!("SELECT * FROM \"{t}\""), &[])
            .map_err(pg)?
        {
            let mut values = Vec::with_capacity(r.len());
            for (i, column) in r.columns().iter().enumerate() {
                let v = match *column.type_() {
                    Type::INT8 => get::<Option<i64>>(&r, i)?.map_or(Value::Null, Value::Integer),
                    Type::TEXT => get::<Option<String>>(&r, i)?.map_or(Value::Null, Value::Text),
                    ref other => {
                        return Err(StoreError::Corrupt(format!(
                            "{t}.{}: unexpected type {other}",
                            column.name()
                        )))
                    }
                };
                values.push(v);
            }
            rows.push(values);
        }
        dump_table(&t, rows, &mut out);
    }
    tx.commit().map_err(pg)?;
    Ok(out)
}

impl Store for PostgresStore {
    fn load(&mut self) -> Result<State, StoreError> {
        self.call(load)
    }

    fn apply(
        &mut self,
        changes: &[Change],
        journal: &str,
        expected_generation: i64,
    ) -> Result<i64, StoreError> {
        let changes = changes.to_vec();
        let journal = journal.to_owned();
        self.call(move |client| {
            let mut tx = client.transaction().map_err(pg)?;
            // The row lock orders concurrent applies: a second one waits
            // here, then reads the generation the first one wrote.
            let found = read_generation(&mut tx, true)?;
            if found != expected_generation {
                return Err(StoreError::Conflict {
                    found,
                    expected: expected_generation,
                });
            }
            for c in &changes {
                apply_one(&mut tx, c)?;
            }
            let next = found + 1;
            write_generation(&mut tx, next, &journal)?;
            tx.commit().map_err(pg)?;
            Ok(next)
        })
    }

    fn generation(&mut self) -> Result<i64, StoreError> {
        self.call(|client| {
            let row = client
                .query_one("SELECT value FROM meta WHERE key = 'generation'", &[])
                .map_err(pg)?;
            generation_of(&get::<String>(&row, 0)?)
        })
    }

    fn revoke_token(
        &mut self,
        hash: &str,
        expires_at_ms: i64,
        journal: &str,
    ) -> Result<(), StoreError> {
        let hash = hash.to_owned();
        let journal = journal.to_owned();
        self.call(move |client| {
            let mut tx = client.transaction().map_err(pg)?;
            let generation = read_generation(&mut tx, true)?;
            exec(
                &mut tx,
                "INSERT INTO revoked_tokens VALUES ($1, $2)
                 ON CONFLICT (hash) DO UPDATE SET expires_at_ms = excluded.expires_at_ms",
                &[&hash, &expires_at_ms],
            )?;
            // Other processes learn of the revocation by the journal.
            write_generation(&mut tx, generation + 1, &journal)?;
            tx.commit().map_err(pg)
        })
    }

    fn journal_since(&mut self, generation: i64) -> Result<Journal, StoreError> {
        self.call(move |client| {
            let mut tx = snapshot(client)?;
            let current = read_generation(&mut tx, false)?;
            if current == generation {
                tx.commit().map_err(pg)?;
                return Ok(Journal::Entries(Vec::new()));
            }
            let entries = tx
                .query(
                    "SELECT generation, entry FROM change_log
                     WHERE generation > $1 ORDER BY generation",
                    &[&generation],
                )
                .map_err(pg)?
                .iter()
                .map(|r| Ok((get::<i64>(r, 0)?, get::<String>(r, 1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit().map_err(pg)?;
            Ok(journal_of(generation, current, entries))
        })
    }

    fn lock_commits(&mut self) -> Result<(), StoreError> {
        self.call(|client| {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&COMMIT_LOCK])
                .map_err(pg)?;
            Ok(())
        })
    }

    fn unlock_commits(&mut self) {
        // A lock not released here (a lost connection) went with the
        // connection's session.
        let _ = self.call(|client| {
            client
                .execute("SELECT pg_advisory_unlock($1)", &[&COMMIT_LOCK])
                .map_err(pg)?;
            Ok(())
        });
    }

    fn watch(&mut self, wake: Wake) -> Result<(), StoreError> {
        let mut config = self.config.clone();
        config.application_name("zgate-esm-listen");
        let stop = self.stop.clone();
        std::thread::Builder::new()
            .name("zgate-esm-listen".into())
            .spawn(move || listen(&config, &stop, &wake))
            .map(|_| ())
            .map_err(|e| StoreError::Backend(format!("postgresql listener thread: {e}")))
    }

    fn purge_expired_tokens(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        self.call(move |client| {
            let n = client
                .execute(
                    "DELETE FROM revoked_tokens WHERE expires_at_ms < $1",
                    &[&now_ms],
                )
                .map_err(pg)?;
            usize::try_from(n).map_err(|_| StoreError::Backend(format!("{n} rows")))
        })
    }

    fn claim_passticket(
        &mut self,
        ticket_hash: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let hash = ticket_hash.to_owned();
        self.call(move |client| {
            let mut tx = client.transaction().map_err(pg)?;
            exec(
                &mut tx,
                "DELETE FROM passticket_uses WHERE expires_at_ms < $1",
                &[&now_ms],
            )?;
            // The primary key decides between concurrent claims: a second
            // insert of the hash waits for the first and then does nothing.
            let inserted = exec(
                &mut tx,
                "INSERT INTO passticket_uses VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                &[&hash, &expires_at_ms],
            )?;
            tx.commit().map_err(pg)?;
            Ok(inserted == 1)
        })
    }

    fn note_rejected_logon(&mut self) -> Result<(), StoreError> {
        self.call(|client| {
            let mut tx = client.transaction().map_err(pg)?;
            // Read the generation as a real commit does, then count.
            read_generation(&mut tx, false)?;
            exec(
                &mut tx,
                "INSERT INTO meta (key, value) VALUES ('rejected_logons', '1')
                 ON CONFLICT (key) DO UPDATE
                 SET value = (CAST(meta.value AS BIGINT) + 1)::text",
                &[],
            )?;
            tx.commit().map_err(pg)
        })
    }

    fn was_created(&self) -> bool {
        self.created
    }

    fn dump(&mut self) -> Result<Vec<String>, StoreError> {
        self.call(dump)
    }
}

/// An answer of a job that reports progress on its way
/// ([`PostgresStore::call_reporting`]).
enum Reply<R> {
    /// `(table, copied, rows)`.
    Progress(String, u64, u64),
    /// The job's result.
    Done(Result<R, StoreError>),
}

/// What a copy between stores (`super::copy`) needs of the database: its
/// tables and rows as raw values, all of them replaced in one
/// transaction, and whether two connections reach the same database.
impl PostgresStore {
    /// [`PostgresStore::call`] for a job that reports progress: the reports
    /// reach `progress` on the caller's thread while the job runs.
    fn call_reporting<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client, &mut dyn FnMut(&str, u64, u64)) -> Result<R, StoreError>
            + Send
            + 'static,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<R, StoreError> {
        let stopped = || StoreError::Backend("postgresql: the connection thread stopped".into());
        let (reply, replies) = mpsc::channel::<Reply<R>>();
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Box::new(move |client: &mut Client| {
            let reporter = reply.clone();
            let mut report = move |table: &str, copied: u64, rows: u64| {
                let _ = reporter.send(Reply::Progress(table.to_owned(), copied, rows));
            };
            let result = job(client, &mut report);
            let _ = reply.send(Reply::Done(result));
        }))
        .map_err(|_| stopped())?;
        loop {
            match replies.recv().map_err(|_| stopped())? {
                Reply::Progress(table, copied, rows) => progress(&table, copied, rows),
                Reply::Done(result) => return result,
            }
        }
    }

    /// The schema version (the `schema_version` table).
    pub(crate) fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.call(|client| {
            let row = client
                .query_one("SELECT max(version) FROM schema_version", &[])
                .map_err(pg)?;
            Ok(get::<Option<i64>>(&row, 0)?.unwrap_or(0))
        })
    }

    /// The copied tables (`super::is_copied_table`) in byte order of
    /// their names, each with its columns in order.
    pub(crate) fn copied_tables(&mut self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        self.call(|client| {
            let mut tx = snapshot(client)?;
            let tables = copied_table_columns(&mut tx)?;
            tx.commit().map_err(pg)?;
            Ok(tables)
        })
    }

    /// Names this connection's session `marker` (its `application_name`),
    /// for [`PostgresStore::sees_session`] on another connection.
    pub(crate) fn mark_session(&mut self, marker: &str) -> Result<(), StoreError> {
        let marker = marker.to_owned();
        self.call(move |client| {
            client
                .execute(
                    "SELECT set_config('application_name', $1, false)",
                    &[&marker],
                )
                .map_err(pg)?;
            Ok(())
        })
    }

    /// Whether another session named `marker` is connected to this
    /// connection's database: the two connections reach one database.
    pub(crate) fn sees_session(&mut self, marker: &str) -> Result<bool, StoreError> {
        let marker = marker.to_owned();
        self.call(move |client| {
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                     WHERE application_name = $1 AND datname = current_database()
                       AND pid <> pg_backend_pid())",
                    &[&marker],
                )
                .map_err(pg)?;
            get::<bool>(&row, 0)
        })
    }

    /// The generation and every row of the copied tables, in one snapshot.
    pub(crate) fn read_tables(&mut self) -> Result<super::TablesSnapshot, StoreError> {
        self.call(|client| {
            let mut tx = snapshot(client)?;
            let generation = read_generation(&mut tx, false)?;
            let mut tables = Vec::new();
            for (name, columns) in copied_table_columns(&mut tx)? {
                let mut rows = Vec::new();
                for r in tx
                    .query(&super::sqlite::select_all(&name, &columns), &[])
                    .map_err(pg)?
                {
                    rows.push(raw_row(&name, &r)?);
                }
                tables.push(super::TableRows {
                    name,
                    columns,
                    rows,
                });
            }
            tx.commit().map_err(pg)?;
            Ok(super::TablesSnapshot { generation, tables })
        })
    }

    /// Writes `snapshot`'s rows in ONE transaction, as
    /// `SqliteStore::write_tables` does: refused when a table of it holds
    /// rows here unless `replace`; the generation row is locked first (a
    /// gateway's apply waits, then conflicts and reloads) and ends greater
    /// than before and than the snapshot's. Each value goes as the Rust type
    /// of its column's parameter: a value of another type is refused, never
    /// converted.
    pub(crate) fn write_tables(
        &mut self,
        snapshot: Arc<super::TablesSnapshot>,
        replace: bool,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<super::WriteOutcome, StoreError> {
        self.call_reporting(
            move |client, progress| {
                let mut tx = client.transaction().map_err(pg)?;
                let generation_before = read_generation(&mut tx, true)?;
                for table in &snapshot.tables {
                    let count = format!(
                        "SELECT count(*) FROM {}",
                        super::sqlite::quoted(&table.name)
                    );
                    let rows: i64 = get(&tx.query_one(&count, &[]).map_err(pg)?, 0)?;
                    if rows > 0 && !replace {
                        // Dropping the transaction rolls it back.
                        return Ok(super::WriteOutcome::NotEmpty {
                            table: table.name.clone(),
                            rows: u64::try_from(rows).unwrap_or_default(),
                        });
                    }
                }
                if replace {
                    for table in &snapshot.tables {
                        let delete = format!("DELETE FROM {}", super::sqlite::quoted(&table.name));
                        exec(&mut tx, &delete, &[])?;
                    }
                }
                for table in &snapshot.tables {
                    let total = table.rows.len() as u64;
                    let insert = super::sqlite::insert_row(&table.name, &table.columns, '$');
                    let statement = tx.prepare(&insert).map_err(pg)?;
                    let types = statement.params().to_vec();
                    for (i, row) in table.rows.iter().enumerate() {
                        if row.len() != types.len() || row.len() != table.columns.len() {
                            return Err(StoreError::Corrupt(format!(
                                "{}: a row of {} values for {} columns",
                                table.name,
                                row.len(),
                                types.len()
                            )));
                        }
                        let params = row
                            .iter()
                            .zip(&types)
                            .zip(&table.columns)
                            .map(|((value, ty), column)| {
                                parameter(ty, value).ok_or_else(|| {
                                    // The type only: a value may be a secret's hash.
                                    StoreError::Corrupt(format!(
                                        "{}.{column}: a {} value does not fit a {ty} column",
                                        table.name,
                                        value.data_type()
                                    ))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            params.iter().map(|p| p.as_ref()).collect();
                        tx.execute(&statement, &refs).map_err(pg)?;
                        let copied = i as u64 + 1;
                        if super::reports_progress(copied, total) {
                            progress(&table.name, copied, total);
                        }
                    }
                    if total == 0 {
                        progress(&table.name, 0, 0);
                    }
                }
                let generation =
                    super::generation_after_copy(generation_before, snapshot.generation);
                exec(
                    &mut tx,
                    "UPDATE meta SET value = $1 WHERE key = 'generation'",
                    &[&generation.to_string()],
                )?;
                tx.commit().map_err(pg)?;
                Ok(super::WriteOutcome::Written {
                    generation_before,
                    generation,
                })
            },
            progress,
        )
    }
}

/// The copied tables of the current schema in byte order of their names,
/// each with its columns in order.
fn copied_table_columns(
    tx: &mut Transaction<'_>,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut tables: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for r in tx
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.ordinal_position::bigint
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
            &[],
        )
        .map_err(pg)?
    {
        let table: String = get(&r, 0)?;
        if super::is_copied_table(&table) {
            tables
                .entry(table)
                .or_default()
                .push((get(&r, 2)?, get(&r, 1)?));
        }
    }
    // A BTreeMap of Strings: byte order, as SQLite's BINARY collation sorts.
    Ok(tables
        .into_iter()
        .map(|(table, mut columns)| {
            columns.sort();
            (table, columns.into_iter().map(|(_, c)| c).collect())
        })
        .collect())
}

/// A row as raw values, by each column's type.
fn raw_row(table: &str, r: &Row) -> Result<Vec<Value>, StoreError> {
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let v = match *column.type_() {
            Type::INT8 => get::<Option<i64>>(r, i)?.map_or(Value::Null, Value::Integer),
            Type::INT4 => {
                get::<Option<i32>>(r, i)?.map_or(Value::Null, |v| Value::Integer(v.into()))
            }
            Type::INT2 => {
                get::<Option<i16>>(r, i)?.map_or(Value::Null, |v| Value::Integer(v.into()))
            }
            Type::TEXT | Type::VARCHAR => {
                get::<Option<String>>(r, i)?.map_or(Value::Null, Value::Text)
            }
            Type::BYTEA => get::<Option<Vec<u8>>>(r, i)?.map_or(Value::Null, Value::Blob),
            Type::FLOAT8 => get::<Option<f64>>(r, i)?.map_or(Value::Null, Value::Real),
            ref other => {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{}: unexpected type {other}",
                    column.name()
                )))
            }
        };
        values.push(v);
    }
    Ok(values)
}

/// `value` as the Rust type PostgreSQL expects for a parameter of type
/// `ty`; `None` when it is of another kind or out of range (never
/// converted: the copy is exact). A NULL is a NULL of the column's type.
fn parameter(ty: &Type, value: &Value) -> Option<Box<dyn ToSql + Sync>> {
    Some(match (ty, value) {
        (&Type::INT8, Value::Null) => Box::new(None::<i64>),
        (&Type::INT8, Value::Integer(v)) => Box::new(*v),
        (&Type::INT4, Value::Null) => Box::new(None::<i32>),
        (&Type::INT4, Value::Integer(v)) => Box::new(i32::try_from(*v).ok()?),
        (&Type::INT2, Value::Null) => Box::new(None::<i16>),
        (&Type::INT2, Value::Integer(v)) => Box::new(i16::try_from(*v).ok()?),
        (&Type::TEXT | &Type::VARCHAR, Value::Null) => Box::new(None::<String>),
        (&Type::TEXT | &Type::VARCHAR, Value::Text(v)) => Box::new(v.clone()),
        (&Type::BYTEA, Value::Null) => Box::new(None::<Vec<u8>>),
        (&Type::BYTEA, Value::Blob(v)) => Box::new(v.clone()),
        (&Type::FLOAT8, Value::Null) => Box::new(None::<f64>),
        (&Type::FLOAT8, Value::Real(v)) => Box::new(*v),
        _ => return None,
    })
}
