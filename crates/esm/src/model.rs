//! The ESM's data model: users, groups, connects, classes, profiles, access
//! lists, the GLOBAL access table and the SETROPTS options.
//!
//! These are plain values; the durable copy lives behind [`crate::store::Store`]
//! and the decision index ([`crate::index`]) is built from them. Identifier
//! rules (spec section 4) are enforced here so that every entry point
//! (commands, import, the API) validates the same way.

use std::collections::{BTreeMap, BTreeSet};

use crate::passticket::SsignonKeys;
use crate::password::PasswordRule;

pub use zgate_base::{AccessLevel, InvalidAccessLevel};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty identifier.
    #[error("the name is empty")]
    Empty,
    /// More than 8 characters.
    #[error("`{0}` is longer than 8 characters")]
    TooLong(String),
    /// A character outside `A-Z 0-9 @ # $`.
    #[error("`{0}` contains a character other than A-Z, 0-9, @, # and $")]
    InvalidChar(String),
    /// A group name that begins with a digit.
    #[error("`{0}` does not begin with A-Z, #, $ or @")]
    LeadingDigit(String),
}

/// Validates and upper-cases a user id or group name (1-8 of `A-Z 0-9 @ # $`).
/// Upper-casing is RACF's rule; trimming is not: `" ALICE"` is refused, never
/// read as `ALICE`.
pub fn normalize_id(raw: &str) -> Result<String, IdError> {
    let id = raw.to_ascii_uppercase();
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '@' | '#' | '$'))
    {
        return Err(IdError::InvalidChar(raw.to_owned()));
    }
    if id.len() > 8 {
        return Err(IdError::TooLong(raw.to_owned()));
    }
    Ok(id)
}

/// Validates and upper-cases a new group name: a user id's characters, but
/// beginning with `A-Z`, `#`, `$` or `@` (IBM, RACF Command Language
/// Reference, ADDGROUP, "group-name"; spec esm.md section 4).
pub fn normalize_group(raw: &str) -> Result<String, IdError> {
    let id = normalize_id(raw)?;
    if id.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(IdError::LeadingDigit(raw.to_owned()));
    }
    Ok(id)
}

/// Why a class name or profile name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Class names are 1-8 characters of `A-Z 0-9 @ # $`.
    #[error("invalid class name `{0}`")]
    Class(String),
    /// Profile names are 1-246 printable characters without blanks,
    /// with generic characters used as RACF allows.
    #[error("invalid profile name `{name}`: {why}")]
    Profile {
        /// The name as given.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Validates and upper-cases a class name.
pub fn normalize_class(raw: &str) -> Result<String, NameError> {
    normalize_id(raw).map_err(|_| NameError::Class(raw.to_owned()))
}

/// Maximum length of a general-resource profile name (RACF: 246).
pub const MAX_PROFILE_NAME: usize = 246;

/// Validates and upper-cases the resource name of a SAF check: 1-246
/// printable ASCII characters, no blank or control character. Unlike a
/// profile name it is literal (`*` and `%` are ordinary characters), but a
/// blank is never trimmed into another resource: `"APIML.DENY.ME "` is an
/// error, not `APIML.DENY.ME`, and not something a generic may grant.
pub fn normalize_resource_name(raw: &str) -> Result<String, NameError> {
    let bad = |why| NameError::Profile {
        name: raw.to_owned(),
        why,
    };
    if raw.is_empty() {
        return Err(bad("the name is empty"));
    }
    if raw.len() > MAX_PROFILE_NAME {
        return Err(bad("longer than 246 characters"));
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "contains a blank, a control character or a non-ASCII character",
        ));
    }
    Ok(raw.to_ascii_uppercase())
}

pub use crate::password::SecretHash;

/// A password or a password phrase as stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credential {
    /// The salted slow hash.
    pub hash: SecretHash,
    /// When it was set (ms since the epoch).
    pub set_at_ms: i64,
    /// Expired: must be changed at the next logon.
    pub expired: bool,
}

/// A user profile.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// The user id (upper case).
    pub id: String,
    /// The programmer name (free text, case kept).
    pub name: String,
    /// Owner (a user or group).
    pub owner: String,
    /// Default group.
    pub default_group: String,
    /// SPECIAL: may administer.
    pub special: bool,
    /// AUDITOR.
    pub auditor: bool,
    /// OPERATIONS: resource access where nothing lists the user.
    pub operations: bool,
    /// RESTRICTED: ID(*), UACC and GLOBAL do not apply.
    pub restricted: bool,
    /// Revoked: cannot log on.
    pub revoked: bool,
    /// The password, if any.
    pub password: Option<Credential>,
    /// The password phrase, if any.
    pub phrase: Option<Credential>,
    /// Previous password hashes, newest first.
    pub password_history: Vec<SecretHash>,
    /// Previous phrase hashes, newest first.
    pub phrase_history: Vec<SecretHash>,
    /// Consecutive failed logon attempts.
    pub failed_attempts: u32,
    /// Created (ms since the epoch).
    pub created_ms: i64,
    /// Last successful logon (ms since the epoch).
    pub last_logon_ms: Option<i64>,
    /// Credentials (tokens) issued before this time (ms since the epoch) no
    /// longer count: set when the user is revoked, so a later RESUME does
    /// not revive them. See [`User::credentials_valid_since_ms`].
    pub revoked_at_ms: i64,
    /// UAUDIT: every RACF-related action of the user is logged (set by an
    /// AUDITOR only).
    pub uaudit: bool,
}

impl User {
    /// A new user with no credential (PROTECTED).
    pub fn new(id: String, default_group: String, owner: String, now_ms: i64) -> User {
        User {
            id,
            name: String::new(),
            owner,
            default_group,
            special: false,
            auditor: false,
            operations: false,
            restricted: false,
            revoked: false,
            password: None,
            phrase: None,
            password_history: Vec::new(),
            phrase_history: Vec::new(),
            failed_attempts: 0,
            created_ms: now_ms,
            last_logon_ms: None,
            revoked_at_ms: 0,
            uaudit: false,
        }
    }

    /// From when credentials issued to this user count (ms since the
    /// epoch): its creation (a token of an earlier user of the same id is
    /// not this user's), or just after its last revocation (a token issued
    /// in the revocation's millisecond is not known to be later), whichever
    /// is later.
    pub fn credentials_valid_since_ms(&self) -> i64 {
        if self.revoked_at_ms > 0 {
            self.created_ms.max(self.revoked_at_ms.saturating_add(1))
        } else {
            self.created_ms
        }
    }

    /// PROTECTED: neither a password nor a phrase (cannot log on with one).
    pub fn protected(&self) -> bool {
        self.password.is_none() && self.phrase.is_none()
    }
}

/// A group profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// The group name.
    pub id: String,
    /// Superior group (none only for SYS1).
    pub superior: Option<String>,
    /// Owner.
    pub owner: String,
    /// Created (ms since the epoch).
    pub created_ms: i64,
}

/// Per-class settings made by SETROPTS.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ClassSettings {
    /// The class name.
    pub name: String,
    /// `SETROPTS CLASSACT(c)`.
    pub active: bool,
    /// `SETROPTS GENERIC(c)`: generic profiles are used.
    pub generic: bool,
    /// `SETROPTS RACLIST(c)` given explicitly: changes wait for REFRESH.
    pub raclist: bool,
    /// `SETROPTS GLOBAL(c)`: the GLOBAL access table applies.
    pub global: bool,
    /// `SETROPTS AUDIT(c)`: commands changing the class's profiles are logged.
    pub audit: bool,
    /// `SETROPTS LOGOPTIONS(level(c))`.
    pub log_options: LogOptions,
}

impl ClassSettings {
    /// Default (inactive) settings for a class.
    pub fn new(name: &str) -> ClassSettings {
        ClassSettings {
            name: name.to_owned(),
            ..ClassSettings::default()
        }
    }
}

/// System-wide options (SETROPTS).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// `GRPLIST`: all connected groups count (default on in zgate).
    pub grplist: bool,
    /// `PASSWORD(INTERVAL(n))`: days a password stays valid; 0 = never expires.
    pub password_interval_days: u32,
    /// `PASSWORD(REVOKE(n))`: n consecutive failures allowed, the next revokes.
    pub revoke_after: Option<u32>,
    /// `PASSWORD(HISTORY(n))`: previous values kept and refused.
    pub history: u32,
    /// `PASSWORD(MIXEDCASE)`: passwords are case-sensitive.
    pub mixed_case: bool,
    /// `PASSWORD(RULEn(...))`: syntax rules for passwords users choose.
    pub rules: BTreeMap<u8, PasswordRule>,
    /// `SAUDIT`: commands of SPECIAL users are logged (initially on).
    pub saudit: bool,
    /// `CMDVIOL`: command violations are logged (initially on).
    pub cmdviol: bool,
    /// `OPERAUDIT`: access granted by OPERATIONS is logged (initially off).
    pub operaudit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            grplist: true,
            password_interval_days: 0,
            revoke_after: None,
            history: 0,
            mixed_case: false,
            rules: BTreeMap::new(),
            saudit: true,
            cmdviol: true,
            operaudit: false,
        }
    }
}

/// The condition of a conditional access list entry (`WHEN(...)`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Condition {
    /// The condition kind: `TERMINAL`, `PROGRAM`, `CONSOLE`, `APPCPORT`,
    /// `JESINPUT`, `SYSID`, `SERVAUTH`, `CRITERIA`.
    pub kind: String,
    /// The value (upper case).
    pub value: String,
}

/// The condition kinds a zgate request carries: `SERVAUTH`, the network
/// access zone of the client's address (RACF's TCP/IP NETACCESS zones, as
/// `SERVAUTH` profiles `EZB.NETACCESS.sysname.tcpname.zone`; zgate names the
/// zone itself, from `zgate.network.zones`). RACF's other kinds describe a
/// TSO terminal, a program, a console, a JES reader, an APPC port, a system
/// or a DB2 role, none of which an HTTPS request has: they are accepted on
/// PERMIT, as RACF accepts them, and never match.
pub const REQUEST_CONDITION_KINDS: [&str; 1] = ["SERVAUTH"];

/// The condition kinds `WHEN()` accepts.
pub const CONDITION_KINDS: [&str; 8] = [
    "APPCPORT", "CONSOLE", "CRITERIA", "JESINPUT", "PROGRAM", "SERVAUTH", "SYSID", "TERMINAL",
];

/// A general-resource profile (discrete or generic).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// The class.
    pub class: String,
    /// The name (a pattern when generic).
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Universal access.
    pub uacc: AccessLevel,
    /// WARNING mode: grant and say so.
    pub warning: bool,
    /// Application data (`APPLDATA`).
    pub appldata: String,
    /// Free text (`DATA`).
    pub data: String,
    /// The standard access list: id (user, group or `*`) → level.
    pub access: BTreeMap<String, AccessLevel>,
    /// The conditional access list: (id, condition) → level.
    #[serde(with = "conditional_pairs")]
    pub conditional: BTreeMap<(String, Condition), AccessLevel>,
    /// Members (`ADDMEM`), used by the GLOBAL class: `resource/level`.
    pub members: BTreeSet<String>,
    /// Created (ms since the epoch).
    pub created_ms: i64,
    /// PTKTDATA PassTicket keys (`SSIGNON`); secret, never listed.
    pub ssignon: Option<SsignonKeys>,
    /// The name's `*` and `%` are ordinary characters: the profile was
    /// defined while generics were off for the class, so RACF made it
    /// discrete (message ICH10321I). It protects the one resource of that
    /// name, and nothing once generics are on.
    pub literal_name: bool,
    /// The owner's `AUDIT(...)` (RACF's default `FAILURES(READ)`).
    pub audit: AuditSetting,
    /// The auditor's `GLOBALAUDIT(...)` (default none).
    pub global_audit: AuditSetting,
}

impl Profile {
    /// A new empty profile.
    pub fn new(class: String, name: String, owner: String, now_ms: i64) -> Profile {
        Profile {
            class,
            name,
            owner,
            uacc: AccessLevel::None,
            warning: false,
            appldata: String::new(),
            data: String::new(),
            access: BTreeMap::new(),
            conditional: BTreeMap::new(),
            members: BTreeSet::new(),
            created_ms: now_ms,
            ssignon: None,
            literal_name: false,
            audit: AuditSetting::DEFAULT,
            global_audit: AuditSetting::default(),
        }
    }

    /// Whether it is a generic profile: generic characters in its name,
    /// and not defined as discrete.
    pub fn is_generic(&self) -> bool {
        !self.literal_name && is_generic(&self.name)
    }
}

pub use zgate_audit::decide::{AuditSetting, Level as AuditLevel, LogOptions};

/// RACF's text of an audit setting, as `RLIST` shows it and `AUDIT(...)`
/// takes it: `NONE`, `ALL(READ)`, `FAILURES(READ)`,
/// `SUCCESS(UPDATE) FAILURES(READ)`.
pub fn audit_setting_text(a: &AuditSetting) -> String {
    let name = |l: AuditLevel| match l {
        AuditLevel::Read => "READ",
        AuditLevel::Update => "UPDATE",
        AuditLevel::Control => "CONTROL",
        AuditLevel::Alter => "ALTER",
    };
    match (a.successes, a.failures) {
        (None, None) => "NONE".into(),
        (Some(s), Some(f)) if s == f => format!("ALL({})", name(s)),
        (Some(s), None) => format!("SUCCESS({})", name(s)),
        (None, Some(f)) => format!("FAILURES({})", name(f)),
        (Some(s), Some(f)) => format!("SUCCESS({}) FAILURES({})", name(s), name(f)),
    }
}

/// Reads an audit access level (`READ`, `UPDATE`, `CONTROL`, `ALTER`).
pub fn parse_audit_level(text: &str) -> Option<AuditLevel> {
    Some(match text.to_ascii_uppercase().as_str() {
        "READ" => AuditLevel::Read,
        "UPDATE" => AuditLevel::Update,
        "CONTROL" => AuditLevel::Control,
        "ALTER" => AuditLevel::Alter,
        _ => return None,
    })
}

/// Reads the stored form of [`audit_setting_text`].
pub fn parse_audit_setting(text: &str) -> Option<AuditSetting> {
    let mut a = AuditSetting::default();
    for part in text.split_whitespace() {
        if part == "NONE" {
            continue;
        }
        let (kind, level) = part.strip_suffix(')')?.split_once('(')?;
        let level = parse_audit_level(level)?;
        match kind {
            "ALL" => {
                a.successes = Some(level);
                a.failures = Some(level);
            }
            "SUCCESS" => a.successes = Some(level),
            "FAILURES" => a.failures = Some(level),
            _ => return None,
        }
    }
    Some(a)
}

/// The word of a `LOGOPTIONS` level.
pub fn log_options_text(l: LogOptions) -> &'static str {
    match l {
        LogOptions::Default => "DEFAULT",
        LogOptions::Always => "ALWAYS",
        LogOptions::Never => "NEVER",
        LogOptions::Successes => "SUCCESSES",
        LogOptions::Failures => "FAILURES",
    }
}

/// Reads a `LOGOPTIONS` level.
pub fn parse_log_options(text: &str) -> Option<LogOptions> {
    Some(match text.to_ascii_uppercase().as_str() {
        "DEFAULT" => LogOptions::Default,
        "ALWAYS" => LogOptions::Always,
        "NEVER" => LogOptions::Never,
        "SUCCESSES" => LogOptions::Successes,
        "FAILURES" => LogOptions::Failures,
        _ => return None,
    })
}

/// Where the GLOBAL access table lives: profiles of this class named after
/// the class they grant in, with members `resource/level`.
pub const GLOBAL_CLASS: &str = "GLOBAL";

/// The class of PassTicket keys (`SSIGNON`) and generation authority
/// (`IRRPTAUTH.appl.user`).
pub const PTKTDATA: &str = "PTKTDATA";

/// Whether a profile name holds generic characters (`*`, `%`).
pub fn is_generic(name: &str) -> bool {
    name.contains(['*', '%'])
}

/// The conditional access list as a list of entries: its keys are pairs,
/// which JSON objects cannot hold.
mod conditional_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::{AccessLevel, Condition};

    type Entries = BTreeMap<(String, Condition), AccessLevel>;

    pub(super) fn serialize<S: Serializer>(map: &Entries, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        let entries = Vec::<((String, Condition), AccessLevel)>::deserialize(d)?;
        Ok(entries.into_iter().collect())
    }
}
