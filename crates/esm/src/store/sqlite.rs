//! The SQLite backend: one file `<home>/esm.db` (mode 0600), WAL journal,
//! schema versioned with `PRAGMA user_version` and forward-only migrations.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{dump_table, journal_of, Journal, Store, StoreError, JOURNAL_KEPT};
use crate::model::{
    AccessLevel, ClassSettings, Condition, Credential, Group, Options, Profile, SecretHash, User,
};
use crate::passticket::SsignonKeys;
use crate::password::PasswordRule;
use crate::records::Record;
use crate::state::{Change, State};

/// Forward-only migrations; index + 1 is the schema version they lead to.
/// PostgreSQL runs the same ones, respelled (`postgres::migration`).
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the ESM model.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     INSERT INTO meta (key, value) VALUES ('generation', '0');
     CREATE TABLE users (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,
        default_group TEXT NOT NULL,
        special INTEGER NOT NULL, auditor INTEGER NOT NULL,
        operations INTEGER NOT NULL, restricted INTEGER NOT NULL,
        revoked INTEGER NOT NULL,
        password_hash TEXT, password_set_ms INTEGER, password_expired INTEGER,
        phrase_hash TEXT, phrase_set_ms INTEGER, phrase_expired INTEGER,
        password_history TEXT NOT NULL, phrase_history TEXT NOT NULL,
        failed_attempts INTEGER NOT NULL, created_ms INTEGER NOT NULL,
        last_logon_ms INTEGER);
     CREATE TABLE groups (id TEXT PRIMARY KEY, superior TEXT, owner TEXT NOT NULL,
        created_ms INTEGER NOT NULL);
     CREATE TABLE connects (user_id TEXT NOT NULL, group_id TEXT NOT NULL,
        PRIMARY KEY (user_id, group_id));
     CREATE TABLE classes (name TEXT PRIMARY KEY, active INTEGER NOT NULL,
        generic INTEGER NOT NULL, raclist INTEGER NOT NULL, global INTEGER NOT NULL);
     CREATE TABLE options (id INTEGER PRIMARY KEY CHECK (id = 1),
        grplist INTEGER NOT NULL, interval_days INTEGER NOT NULL,
        revoke_after INTEGER, history INTEGER NOT NULL, mixed_case INTEGER NOT NULL);
     CREATE TABLE profiles (class TEXT NOT NULL, name TEXT NOT NULL,
        owner TEXT NOT NULL, uacc TEXT NOT NULL, warning INTEGER NOT NULL,
        appldata TEXT NOT NULL, data TEXT NOT NULL, created_ms INTEGER NOT NULL,
        PRIMARY KEY (class, name));
     CREATE TABLE access_list (class TEXT NOT NULL, profile TEXT NOT NULL,
        id TEXT NOT NULL, access TEXT NOT NULL, PRIMARY KEY (class, profile, id));
     CREATE TABLE conditional_access (class TEXT NOT NULL, profile TEXT NOT NULL,
        id TEXT NOT NULL, when_kind TEXT NOT NULL, when_value TEXT NOT NULL,
        access TEXT NOT NULL, PRIMARY KEY (class, profile, id, when_kind, when_value));
     CREATE TABLE members (class TEXT NOT NULL, profile TEXT NOT NULL,
        member TEXT NOT NULL, PRIMARY KEY (class, profile, member));",
    // 2: token state for the auth crate (revoked token hashes).
    "CREATE TABLE revoked_tokens (hash TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
     CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at_ms);",
    // 3: password syntax rules, `n=rule` lines.
    "ALTER TABLE options ADD COLUMN rules TEXT NOT NULL DEFAULT '';",
    // 4: refresh counters, so RACLIST/GLOBAL refreshes reach every process.
    "ALTER TABLE classes ADD COLUMN raclist_generation INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE classes ADD COLUMN global_generation INTEGER NOT NULL DEFAULT 0;",
    // 5: security records beside the model: PAT revocation rules
    // (salted hashes only), TOTP factors and their last accepted step,
    // certificate name filters and registered certificates.
    "CREATE TABLE security_records (kind TEXT NOT NULL, key TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (kind, key));",
    // 6: PTKTDATA keys on profiles; PassTicket replay protection.
    "ALTER TABLE profiles ADD COLUMN ssignon TEXT;
     CREATE TABLE passticket_uses (hash TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
     CREATE INDEX passticket_uses_expiry ON passticket_uses (expires_at_ms);",
    // 7: when a user was last revoked: credentials issued before stay invalid.
    "ALTER TABLE users ADD COLUMN revoked_at_ms INTEGER NOT NULL DEFAULT 0;",
    // 8: the in-storage copies of RACLISTed classes and GLOBAL tables are
    // security records (see `crate::raclist`); the refresh counters go.
    "ALTER TABLE classes DROP COLUMN raclist_generation;
     ALTER TABLE classes DROP COLUMN global_generation;
     ALTER TABLE profiles ADD COLUMN literal_name INTEGER NOT NULL DEFAULT 0;",
    // 9: audit controls: UAUDIT, profile AUDIT and GLOBALAUDIT, SETROPTS
    // AUDIT(class) and LOGOPTIONS per class, SAUDIT/CMDVIOL/OPERAUDIT.
    "ALTER TABLE users ADD COLUMN uaudit INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE profiles ADD COLUMN audit TEXT NOT NULL DEFAULT 'FAILURES(READ)';
     ALTER TABLE profiles ADD COLUMN global_audit TEXT NOT NULL DEFAULT 'NONE';
     ALTER TABLE classes ADD COLUMN audit INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE classes ADD COLUMN log_options TEXT NOT NULL DEFAULT 'DEFAULT';
     ALTER TABLE options ADD COLUMN audit_options TEXT NOT NULL DEFAULT 'SAUDIT CMDVIOL';",
    // 10: the journal: what each generation changed, so that other
    // processes apply only that (`Store::journal_since`).
    "CREATE TABLE change_log (generation INTEGER PRIMARY KEY, entry TEXT NOT NULL);",
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    /// Whether [`SqliteStore::migrate`] found no schema.
    created: bool,
}

impl SqliteStore {
    /// Opens or creates the database file (0600) and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        create_private_file(path)?;
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        // WAL + NORMAL: a killed process loses nothing committed; a power
        // loss may lose the last commits but never corrupts the file.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        // Old password hashes must not linger in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let mut store = SqliteStore {
            conn,
            created: false,
        };
        store.migrate()?;
        Ok(store)
    }

    /// A private in-memory database (tests of crates built on the ESM).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(db)?;
        let mut store = SqliteStore {
            conn,
            created: false,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        self.created = version == 0;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(db)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }
}

fn read_generation(conn: &Connection) -> Result<i64, StoreError> {
    let v: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
            r.get(0)
        })
        .map_err(db)?;
    v.parse()
        .map_err(|_| StoreError::Corrupt(format!("generation `{v}`")))
}

/// Moves the generation to `next` with its journal entry, dropping entries
/// older than the journal keeps.
fn write_generation(tx: &Transaction<'_>, next: i64, journal: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'generation'",
        [next.to_string()],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT OR REPLACE INTO change_log (generation, entry) VALUES (?1, ?2)",
        params![next, journal],
    )
    .map_err(db)?;
    tx.execute(
        "DELETE FROM change_log WHERE generation <= ?1",
        [next - JOURNAL_KEPT],
    )
    .map_err(db)?;
    Ok(())
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    // An existing file keeps whatever mode it had: tighten it.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)
}

#[cfg(not(unix))]
fn create_private_file(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

pub(crate) fn rules_text(rules: &std::collections::BTreeMap<u8, PasswordRule>) -> String {
    rules
        .iter()
        .map(|(n, r)| format!("{n}={}", r.to_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn rules_parse(
    text: &str,
) -> Result<std::collections::BTreeMap<u8, PasswordRule>, StoreError> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (n, rule) = line
            .split_once('=')
            .ok_or_else(|| StoreError::Corrupt(format!("password rule `{line}`")))?;
        let n: u8 = n
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("password rule `{line}`")))?;
        let rule = PasswordRule::parse(rule).map_err(StoreError::Corrupt)?;
        out.insert(n, rule);
    }
    Ok(out)
}

pub(crate) fn b(v: bool) -> i64 {
    i64::from(v)
}

pub(crate) fn level(s: &str) -> Result<AccessLevel, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("access level `{s}`")))
}

pub(crate) fn history_text(h: &[SecretHash]) -> String {
    h.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn history_parse(s: &str) -> Vec<SecretHash> {
    s.split_whitespace()
        .map(|x| SecretHash(x.to_owned()))
        .collect()
}

pub(crate) fn audit_options_text(o: &Options) -> String {
    [
        (o.saudit, "SAUDIT"),
        (o.cmdviol, "CMDVIOL"),
        (o.operaudit, "OPERAUDIT"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| *w)
    .collect::<Vec<_>>()
    .join(" ")
}

fn put_user(tx: &Transaction<'_>, u: &User) -> rusqlite::Result<()> {
    let cred = |c: &Option<Credential>| {
        (
            c.as_ref().map(|c| c.hash.0.clone()),
            c.as_ref().map(|c| c.set_at_ms),
            c.as_ref().map(|c| b(c.expired)),
        )
    };
    let (pw_h, pw_t, pw_e) = cred(&u.password);
    let (ph_h, ph_t, ph_e) = cred(&u.phrase);
    tx.execute(
        "INSERT OR REPLACE INTO users VALUES
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        params![
            u.id,
            u.name,
            u.owner,
            u.default_group,
            b(u.special),
            b(u.auditor),
            b(u.operations),
            b(u.restricted),
            b(u.revoked),
            pw_h,
            pw_t,
            pw_e,
            ph_h,
            ph_t,
            ph_e,
            history_text(&u.password_history),
            history_text(&u.phrase_history),
            u.failed_attempts,
            u.created_ms,
            u.last_logon_ms,
            u.revoked_at_ms,
            b(u.uaudit)
        ],
    )?;
    Ok(())
}

fn apply_one(tx: &Transaction<'_>, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::PutRecord(r) => {
            tx.execute(
                "INSERT OR REPLACE INTO security_records (kind, key, value) VALUES (?1, ?2, ?3)",
                params![r.kind, r.key, r.value],
            )?;
        }
        Change::DeleteRecord { kind, key } => {
            tx.execute(
                "DELETE FROM security_records WHERE kind = ?1 AND key = ?2",
                params![kind, key],
            )?;
        }
        Change::PutUser(u) => put_user(tx, u)?,
        Change::DeleteUser(id) => {
            tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM connects WHERE user_id = ?1", [id])?;
        }
        Change::PutGroup(g) => {
            tx.execute(
                "INSERT OR REPLACE INTO groups VALUES (?1, ?2, ?3, ?4)",
                params![g.id, g.superior, g.owner, g.created_ms],
            )?;
        }
        Change::DeleteGroup(id) => {
            tx.execute("DELETE FROM groups WHERE id = ?1", [id])?;
        }
        Change::Connect { user, group } => {
            tx.execute(
                "INSERT OR IGNORE INTO connects VALUES (?1, ?2)",
                [user, group],
            )?;
        }
        Change::Disconnect { user, group } => {
            tx.execute(
                "DELETE FROM connects WHERE user_id = ?1 AND group_id = ?2",
                [user, group],
            )?;
        }
        Change::PutClass(c) => {
            tx.execute(
                "INSERT OR REPLACE INTO classes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.name,
                    b(c.active),
                    b(c.generic),
                    b(c.raclist),
                    b(c.global),
                    b(c.audit),
                    crate::model::log_options_text(c.log_options)
                ],
            )?;
        }
        Change::PutOptions(o) => {
            tx.execute(
                "INSERT OR REPLACE INTO options VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    b(o.grplist),
                    o.password_interval_days,
                    o.revoke_after,
                    o.history,
                    b(o.mixed_case),
                    rules_text(&o.rules),
                    audit_options_text(o)
                ],
            )?;
        }
        Change::PutProfile(p) => {
            tx.execute(
                "INSERT INTO profiles VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (class, name) DO UPDATE SET owner = excluded.owner,
                   uacc = excluded.uacc, warning = excluded.warning,
                   appldata = excluded.appldata, data = excluded.data,
                   ssignon = excluded.ssignon, audit = excluded.audit,
                   global_audit = excluded.global_audit",
                params![
                    p.class,
                    p.name,
                    p.owner,
                    p.uacc.as_str(),
                    b(p.warning),
                    p.appldata,
                    p.data,
                    p.created_ms,
                    p.ssignon.as_ref().map(|k| k.to_stored()),
                    b(p.literal_name),
                    crate::model::audit_setting_text(&p.audit),
                    crate::model::audit_setting_text(&p.global_audit)
                ],
            )?;
        }
        Change::DeleteProfile { class, name } => {
            for table in ["profiles", "access_list", "conditional_access", "members"] {
                let key = if table == "profiles" {
                    "name"
                } else {
                    "profile"
                };
                tx.execute(
                    &format!("DELETE FROM {table} WHERE class = ?1 AND {key} = ?2"),
                    [class, name],
                )?;
            }
        }
        Change::PutAccess {
            class,
            name,
            id,
            level,
        } => {
            tx.execute(
                "INSERT OR REPLACE INTO access_list VALUES (?1, ?2, ?3, ?4)",
                params![class, name, id, level.as_str()],
            )?;
        }
        Change::DeleteAccess { class, name, id } => {
            tx.execute(
                "DELETE FROM access_list WHERE class = ?1 AND profile = ?2 AND id = ?3",
                [class, name, id],
            )?;
        }
        Change::PutConditional {
            class,
            name,
            id,
            condition,
            level,
        } => {
            tx.execute(
                "INSERT OR REPLACE INTO conditional_access VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    class,
                    name,
                    id,
                    condition.kind,
                    condition.value,
                    level.as_str()
                ],
            )?;
        }
        Change::DeleteConditional {
            class,
            name,
            id,
            condition,
        } => {
            tx.execute(
                "DELETE FROM conditional_access WHERE class = ?1 AND profile = ?2 AND id = ?3
                 AND when_kind = ?4 AND when_value = ?5",
                [class, name, id, &condition.kind, &condition.value],
            )?;
        }
        Change::PutMember {
            class,
            name,
            member,
        } => {
            tx.execute(
                "INSERT OR IGNORE INTO members VALUES (?1, ?2, ?3)",
                [class, name, member],
            )?;
        }
        Change::DeleteMember {
            class,
            name,
            member,
        } => {
            tx.execute(
                "DELETE FROM members WHERE class = ?1 AND profile = ?2 AND member = ?3",
                [class, name, member],
            )?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<State, StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        let mut state = State::default();
        {
            let mut st = tx.prepare("SELECT * FROM users").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    let cred = |h: Option<String>, t: Option<i64>, e: Option<i64>| {
                        h.map(|h| Credential {
                            hash: SecretHash(h),
                            set_at_ms: t.unwrap_or(0),
                            expired: e.unwrap_or(1) != 0,
                        })
                    };
                    Ok(User {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        owner: r.get(2)?,
                        default_group: r.get(3)?,
                        special: r.get::<_, i64>(4)? != 0,
                        auditor: r.get::<_, i64>(5)? != 0,
                        operations: r.get::<_, i64>(6)? != 0,
                        restricted: r.get::<_, i64>(7)? != 0,
                        revoked: r.get::<_, i64>(8)? != 0,
                        password: cred(r.get(9)?, r.get(10)?, r.get(11)?),
                        phrase: cred(r.get(12)?, r.get(13)?, r.get(14)?),
                        password_history: history_parse(&r.get::<_, String>(15)?),
                        phrase_history: history_parse(&r.get::<_, String>(16)?),
                        failed_attempts: r.get(17)?,
                        created_ms: r.get(18)?,
                        last_logon_ms: r.get(19)?,
                        revoked_at_ms: r.get(20)?,
                        uaudit: r.get::<_, i64>(21)? != 0,
                    })
                })
                .map_err(db)?;
            for u in rows {
                let u = u.map_err(db)?;
                state.users.insert(u.id.clone(), u);
            }
            let mut st = tx.prepare("SELECT * FROM groups").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(Group {
                        id: r.get(0)?,
                        superior: r.get(1)?,
                        owner: r.get(2)?,
                        created_ms: r.get(3)?,
                    })
                })
                .map_err(db)?;
            for g in rows {
                let g = g.map_err(db)?;
                state.groups.insert(g.id.clone(), g);
            }
            let mut st = tx
                .prepare("SELECT user_id, group_id FROM connects")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(db)?;
            for row in rows {
                let (u, g) = row.map_err(db)?;
                state.connects.entry(u).or_default().insert(g);
            }
            let mut st = tx.prepare("SELECT * FROM classes").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(ClassSettings {
                        name: r.get(0)?,
                        active: r.get::<_, i64>(1)? != 0,
                        generic: r.get::<_, i64>(2)? != 0,
                        raclist: r.get::<_, i64>(3)? != 0,
                        global: r.get::<_, i64>(4)? != 0,
                        audit: r.get::<_, i64>(5)? != 0,
                        log_options: crate::model::parse_log_options(&r.get::<_, String>(6)?)
                            .unwrap_or_default(),
                    })
                })
                .map_err(db)?;
            for c in rows {
                let c = c.map_err(db)?;
                state.classes.insert(c.name.clone(), c);
            }
            if let Some(o) = tx
                .query_row("SELECT * FROM options WHERE id = 1", [], |r| {
                    Ok((
                        Options {
                            grplist: r.get::<_, i64>(1)? != 0,
                            password_interval_days: r.get(2)?,
                            revoke_after: r.get(3)?,
                            history: r.get(4)?,
                            mixed_case: r.get::<_, i64>(5)? != 0,
                            rules: Default::default(),
                            ..Options::default()
                        },
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })
                .optional()
                .map_err(db)?
            {
                let (mut o, rules, audit_options) = o;
                o.rules = rules_parse(&rules)?;
                let words: Vec<&str> = audit_options.split_whitespace().collect();
                o.saudit = words.contains(&"SAUDIT");
                o.cmdviol = words.contains(&"CMDVIOL");
                o.operaudit = words.contains(&"OPERAUDIT");
                state.options = o;
            }
            let mut st = tx.prepare("SELECT * FROM profiles").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)? != 0,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, i64>(9)? != 0,
                        r.get::<_, String>(10)?,
                        r.get::<_, String>(11)?,
                    ))
                })
                .map_err(db)?;
            let mut profiles: std::collections::BTreeMap<(String, String), Profile> =
                Default::default();
            for row in rows {
                let (
                    class,
                    name,
                    owner,
                    uacc,
                    warning,
                    appldata,
                    data,
                    created,
                    ssignon,
                    literal,
                    audit,
                    global_audit,
                ) = row.map_err(db)?;
                let mut p = Profile::new(class.clone(), name.clone(), owner, created);
                p.uacc = level(&uacc)?;
                p.warning = warning;
                p.appldata = appldata;
                p.data = data;
                p.literal_name = literal;
                let setting = |text: &str| {
                    crate::model::parse_audit_setting(text)
                        .ok_or_else(|| StoreError::Corrupt(format!("audit setting {text:?}")))
                };
                p.audit = setting(&audit)?;
                p.global_audit = setting(&global_audit)?;
                p.ssignon = ssignon
                    .as_deref()
                    .map(SsignonKeys::from_stored)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                profiles.insert((class, name), p);
            }
            let mut st = tx.prepare("SELECT * FROM access_list").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (class, name, id, access) = row.map_err(db)?;
                if let Some(p) = profiles.get_mut(&(class, name)) {
                    p.access.insert(id, level(&access)?);
                }
            }
            let mut st = tx.prepare("SELECT * FROM conditional_access").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (class, name, id, kind, value, access) = row.map_err(db)?;
                if let Some(p) = profiles.get_mut(&(class, name)) {
                    p.conditional
                        .insert((id, Condition { kind, value }), level(&access)?);
                }
            }
            let mut st = tx.prepare("SELECT * FROM members").map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (class, name, member) = row.map_err(db)?;
                if let Some(p) = profiles.get_mut(&(class, name)) {
                    p.members.insert(member);
                }
            }
            for ((class, name), p) in profiles {
                state
                    .profiles
                    .entry(class)
                    .or_default()
                    .insert(name, Arc::new(p));
            }
            let mut st = tx
                .prepare("SELECT hash, expires_at_ms FROM revoked_tokens")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db)?;
            for row in rows {
                let (h, e) = row.map_err(db)?;
                state.revoked_tokens.insert(h, e);
            }
            let mut st = tx
                .prepare("SELECT kind, key, value FROM security_records")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(Record {
                        kind: r.get(0)?,
                        key: r.get(1)?,
                        value: r.get(2)?,
                    })
                })
                .map_err(db)?;
            for row in rows {
                state.records.put(&row.map_err(db)?);
            }
        }
        tx.commit().map_err(db)?;
        Ok(state)
    }

    fn apply(
        &mut self,
        changes: &[Change],
        journal: &str,
        expected_generation: i64,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let found = read_generation(&tx)?;
        if found != expected_generation {
            return Err(StoreError::Conflict {
                found,
                expected: expected_generation,
            });
        }
        for c in changes {
            apply_one(&tx, c).map_err(db)?;
        }
        let next = found + 1;
        write_generation(&tx, next, journal)?;
        tx.commit().map_err(db)?;
        Ok(next)
    }

    fn generation(&mut self) -> Result<i64, StoreError> {
        read_generation(&self.conn)
    }

    fn revoke_token(
        &mut self,
        hash: &str,
        expires_at_ms: i64,
        journal: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let generation = read_generation(&tx)?;
        tx.execute(
            "INSERT OR REPLACE INTO revoked_tokens VALUES (?1, ?2)",
            params![hash, expires_at_ms],
        )
        .map_err(db)?;
        // Other processes learn of the revocation by the journal.
        write_generation(&tx, generation + 1, journal)?;
        tx.commit().map_err(db)
    }

    fn journal_since(&mut self, generation: i64) -> Result<Journal, StoreError> {
        // A read transaction: the generation and the entries from one
        // snapshot of the WAL.
        let tx = self.conn.transaction().map_err(db)?;
        let current = read_generation(&tx)?;
        if current == generation {
            return Ok(Journal::Entries(Vec::new()));
        }
        let entries = {
            let mut st = tx
                .prepare_cached(
                    "SELECT generation, entry FROM change_log
                     WHERE generation > ?1 ORDER BY generation",
                )
                .map_err(db)?;
            let rows = st
                .query_map([generation], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<Vec<(i64, String)>, _>>()
                .map_err(db)?
        };
        tx.commit().map_err(db)?;
        Ok(journal_of(generation, current, entries))
    }

    fn purge_expired_tokens(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "DELETE FROM revoked_tokens WHERE expires_at_ms < ?1",
                [now_ms],
            )
            .map_err(db)
    }

    fn claim_passticket(
        &mut self,
        ticket_hash: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute(
            "DELETE FROM passticket_uses WHERE expires_at_ms < ?1",
            [now_ms],
        )
        .map_err(db)?;
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO passticket_uses VALUES (?1, ?2)",
                params![ticket_hash, expires_at_ms],
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(inserted == 1)
    }

    fn note_rejected_logon(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        // Read the generation as a real commit does, then count.
        read_generation(&tx)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('rejected_logons', '1')
             ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            [],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn was_created(&self) -> bool {
        self.created
    }

    fn dump(&mut self) -> Result<Vec<String>, StoreError> {
        let tables: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .map_err(db)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut out = Vec::new();
        for t in tables {
            // Bookkeeping: the generation counter, statistics, the journal.
            if t == "meta" || t == "change_log" {
                continue;
            }
            let mut st = self
                .conn
                .prepare(&format!("SELECT * FROM \"{t}\""))
                .map_err(db)?;
            let n = st.column_count();
            let mut rows = st.query([]).map_err(db)?;
            let mut values = Vec::new();
            while let Some(r) = rows.next().map_err(db)? {
                let row = (0..n)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db)?;
                values.push(row);
            }
            dump_table(&t, values, &mut out);
        }
        Ok(out)
    }
}

/// What a copy between stores (`super::copy`) needs of the file: its
/// tables and rows as raw values, and all of them replaced in one
/// transaction.
impl SqliteStore {
    /// The database file (none in memory).
    pub(crate) fn file(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// The schema version (`PRAGMA user_version`).
    pub(crate) fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)
    }

    /// The copied tables (`super::is_copied_table`) in byte order of
    /// their names, each with its columns in order.
    pub(crate) fn copied_tables(&mut self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        copied_table_columns(&self.conn)
    }

    /// The generation and every row of the copied tables, in one read
    /// transaction.
    pub(crate) fn read_tables(&mut self) -> Result<super::TablesSnapshot, StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        let generation = read_generation(&tx)?;
        let mut tables = Vec::new();
        for (name, columns) in copied_table_columns(&tx)? {
            let mut st = tx.prepare(&select_all(&name, &columns)).map_err(db)?;
            let mut rows = st.query([]).map_err(db)?;
            let mut values = Vec::new();
            while let Some(r) = rows.next().map_err(db)? {
                let row = (0..columns.len())
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db)?;
                values.push(row);
            }
            drop(rows);
            drop(st);
            tables.push(super::TableRows {
                name,
                columns,
                rows: values,
            });
        }
        tx.commit().map_err(db)?;
        Ok(super::TablesSnapshot { generation, tables })
    }

    /// Writes `snapshot`'s rows in ONE transaction: refused (nothing
    /// written) when a table of it holds rows here, unless `replace`, which
    /// deletes them first; the generation becomes greater than before and
    /// than the snapshot's. `progress(table, copied, rows)` every
    /// [`super::PROGRESS_EVERY`] rows and at each table's end.
    pub(crate) fn write_tables(
        &mut self,
        snapshot: &super::TablesSnapshot,
        replace: bool,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<super::WriteOutcome, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let generation_before = read_generation(&tx)?;
        for table in &snapshot.tables {
            let rows: i64 = tx
                .query_row(
                    &format!("SELECT count(*) FROM {}", quoted(&table.name)),
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
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
                tx.execute(&format!("DELETE FROM {}", quoted(&table.name)), [])
                    .map_err(db)?;
            }
        }
        for table in &snapshot.tables {
            let total = table.rows.len() as u64;
            let mut st = tx
                .prepare(&insert_row(&table.name, &table.columns, '?'))
                .map_err(db)?;
            for (i, row) in table.rows.iter().enumerate() {
                if row.len() != table.columns.len() {
                    return Err(StoreError::Corrupt(format!(
                        "{}: a row of {} values for {} columns",
                        table.name,
                        row.len(),
                        table.columns.len()
                    )));
                }
                st.execute(rusqlite::params_from_iter(row.iter()))
                    .map_err(db)?;
                let copied = i as u64 + 1;
                if super::reports_progress(copied, total) {
                    progress(&table.name, copied, total);
                }
            }
            if total == 0 {
                progress(&table.name, 0, 0);
            }
        }
        let generation = super::generation_after_copy(generation_before, snapshot.generation);
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'generation'",
            [generation.to_string()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(super::WriteOutcome::Written {
            generation_before,
            generation,
        })
    }
}

/// A table or column name as an SQL identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SELECT` of `columns` (in their order) of every row of `table`.
pub(crate) fn select_all(table: &str, columns: &[String]) -> String {
    let list: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
    format!("SELECT {} FROM {}", list.join(", "), quoted(table))
}

/// `INSERT` of one row of `columns` into `table`, parameters numbered
/// after `sigil` (SQLite's `?1`..., PostgreSQL's `$1`...).
pub(crate) fn insert_row(table: &str, columns: &[String], sigil: char) -> String {
    let list: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("{sigil}{i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quoted(table),
        list.join(", "),
        params.join(", ")
    )
}

fn copied_table_columns(conn: &Connection) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let names: Vec<String> = {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(db)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)?
    };
    let mut out = Vec::new();
    for name in names
        .into_iter()
        .filter(|n: &String| super::is_copied_table(n))
    {
        let st = conn
            .prepare(&format!("SELECT * FROM {}", quoted(&name)))
            .map_err(db)?;
        let columns = st.column_names().iter().map(|c| (*c).to_owned()).collect();
        out.push((name, columns));
    }
    Ok(out)
}
