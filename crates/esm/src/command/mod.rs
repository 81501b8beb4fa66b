//! The RACF command language (spec section 7): parsing, authority, and the
//! effect of each command as a list of [`Change`]s plus RACF-style messages.
//!
//! Execution is a pure function of the current [`State`]: it validates
//! everything first and only returns changes; the caller commits them in one
//! store transaction and then applies them in memory. A command that fails
//! therefore changes nothing.

pub mod parse;

use std::collections::BTreeSet;
use std::fmt;

use parse::{parse_operands, texts, tokenize, KeywordSpec, Operand, Parsed};

use crate::generic::is_generic;
use crate::model::{
    normalize_class, normalize_id, normalize_profile_name, parse_global_member, AccessLevel,
    ClassSettings, Condition, Credential, Group, Options, Profile, User, CONDITION_KINDS,
    GLOBAL_CLASS,
};
use crate::password::{
    check_password_syntax, check_phrase_syntax, hash_secret, normalize_password, HashCost,
};
use crate::store::{Change, State, StoreError};

/// Who runs a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// The local operator running the CLI on the data directory: all authority.
    Operator,
    /// A user: administration needs SPECIAL.
    User(String),
}

/// What a successful command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Message and listing lines.
    pub lines: Vec<String>,
}

/// The kind of a command failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandErrorKind {
    /// The text does not parse (TSO `IKJ` messages).
    Syntax,
    /// The issuer may not run it.
    NotAuthorized,
    /// A value is invalid (ids, names, levels, passwords).
    Invalid,
    /// Something named does not exist.
    NotFound,
    /// Something to define exists already.
    Duplicate,
    /// A command or operand zgate does not implement (RACMAP, ICSF keys).
    NotSupported,
    /// The store failed; nothing was changed.
    Store,
}

/// A failed command: RACF-style message lines; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What went wrong.
    pub kind: CommandErrorKind,
    /// The messages.
    pub lines: Vec<String>,
}

impl CommandError {
    fn new(kind: CommandErrorKind, msg: impl Into<String>) -> CommandError {
        CommandError {
            kind,
            lines: vec![msg.into()],
        }
    }

    pub(crate) fn store(e: &StoreError) -> CommandError {
        CommandError::new(
            CommandErrorKind::Store,
            format!("ICH00099I COMMAND NOT PROCESSED: {e}"),
        )
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for CommandError {}

fn syntax(e: parse::SyntaxError) -> CommandError {
    CommandError::new(CommandErrorKind::Syntax, e.0)
}

fn invalid(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::Invalid, msg)
}

fn not_found(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::NotFound, msg)
}

fn duplicate(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::Duplicate, msg)
}

/// What must be refreshed in the index beyond the automatic refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Reload a class's profiles (`SETROPTS RACLIST(c) REFRESH`).
    Class(String),
    /// Reload a class's GLOBAL table (`SETROPTS GLOBAL(c) [REFRESH]`).
    Global(String),
}

/// The result of executing a command against the state.
pub struct Outcome {
    /// Changes to commit, in order.
    pub changes: Vec<Change>,
    /// Lines to print.
    pub lines: Vec<String>,
    /// Explicit refreshes requested.
    pub refresh: Vec<Refresh>,
}

/// What execution needs besides the state.
pub struct Env<'a> {
    /// Who runs it.
    pub issuer: &'a Issuer,
    /// Now (ms since the epoch).
    pub now_ms: i64,
    /// The password hash cost.
    pub cost: HashCost,
}

impl Env<'_> {
    fn owner(&self) -> String {
        match self.issuer {
            Issuer::Operator => "SYS1".into(),
            Issuer::User(u) => u.clone(),
        }
    }
}

macro_rules! kw {
    ($name:literal) => {
        KeywordSpec { name: $name, aliases: &[], value: None }
    };
    ($name:literal, $v:expr) => {
        KeywordSpec { name: $name, aliases: &[], value: Some($v) }
    };
    ($name:literal, $v:expr, [$($a:literal),*]) => {
        KeywordSpec { name: $name, aliases: &[$($a),*], value: $v }
    };
}

const USER_KWS: &[KeywordSpec] = &[
    kw!("NAME", true),
    kw!("OWNER", true),
    kw!("DFLTGRP", Some(true), ["DFLTGROUP"]),
    kw!("PASSWORD", Some(true), ["PW", "PASS"]),
    kw!("PHRASE", Some(true), ["PHR"]),
    kw!("NOPASSWORD", None, ["NOPW"]),
    kw!("NOPHRASE"),
    kw!("SPECIAL", None, ["SPEC"]),
    kw!("NOSPECIAL", None, ["NOSPEC"]),
    kw!("AUDITOR", None, ["AUD"]),
    kw!("NOAUDITOR", None, ["NOAUD"]),
    kw!("OPERATIONS", None, ["OPER"]),
    kw!("NOOPERATIONS", None, ["NOOPER"]),
    kw!("RESTRICTED", None, ["REST"]),
    kw!("NORESTRICTED", None, ["NOREST"]),
    kw!("REVOKE", None, ["REV"]),
    kw!("RESUME", None, ["RES"]),
    kw!("EXPIRED", None, ["EXP"]),
    kw!("NOEXPIRED", None, ["NOEXP"]),
];
const NO_KWS: &[KeywordSpec] = &[];
const LIST_KWS: &[KeywordSpec] = &[kw!("ALL")];
const GROUP_KWS: &[KeywordSpec] = &[kw!("SUPGROUP", Some(true), ["SUPGRP"]), kw!("OWNER", true)];
const CONNECT_KWS: &[KeywordSpec] = &[kw!("GROUP", true), kw!("OWNER", true)];
const REMOVE_KWS: &[KeywordSpec] = &[kw!("GROUP", true), kw!("OWNER", true)];
const RDEF_KWS: &[KeywordSpec] = &[
    kw!("UACC", true),
    kw!("OWNER", true),
    kw!("WARNING", None, ["WARN"]),
    kw!("NOWARNING", None, ["NOWARN"]),
    kw!("APPLDATA", Some(true), ["APPL"]),
    kw!("DATA", true),
    kw!("ADDMEM", Some(true), ["ADDMEMBER"]),
    kw!("DELMEM", Some(true), ["DELMEMBER"]),
    kw!("SSIGNON", true),
    kw!("GENERIC", None, ["GEN"]),
];
const RLIST_KWS: &[KeywordSpec] = &[kw!("AUTHUSER"), kw!("ALL"), kw!("GENERIC", None, ["GEN"])];
const PERMIT_KWS: &[KeywordSpec] = &[
    kw!("CLASS", true),
    kw!("ID", true),
    kw!("ACCESS", Some(true), ["ACC", "AC"]),
    kw!("DELETE", None, ["DEL"]),
    kw!("RESET", false),
    kw!("WHEN", true),
    kw!("GENERIC", None, ["GEN"]),
    kw!("FROM", true),
    kw!("FCLASS", true),
];
const SETR_KWS: &[KeywordSpec] = &[
    kw!("CLASSACT", true),
    kw!("NOCLASSACT", true),
    kw!("RACLIST", true),
    kw!("NORACLIST", true),
    kw!("REFRESH"),
    kw!("GENERIC", true),
    kw!("NOGENERIC", true),
    kw!("GRPLIST"),
    kw!("NOGRPLIST"),
    kw!("GLOBAL", true),
    kw!("NOGLOBAL", true),
    kw!("PASSWORD", true),
    kw!("LIST"),
];
const SEARCH_KWS: &[KeywordSpec] = &[kw!("CLASS", true), kw!("MASK", true), kw!("NOMASK")];
const PASSWORD_KWS: &[KeywordSpec] = &[
    kw!("INTERVAL", true),
    kw!("REVOKE", true),
    kw!("NOREVOKE"),
    kw!("HISTORY", true),
    kw!("NOHISTORY"),
    kw!("MIXEDCASE"),
    kw!("NOMIXEDCASE"),
    kw!("RULE1", true),
    kw!("RULE2", true),
    kw!("RULE3", true),
    kw!("RULE4", true),
    kw!("RULE5", true),
    kw!("RULE6", true),
    kw!("RULE7", true),
    kw!("RULE8", true),
    kw!("NORULE1"),
    kw!("NORULE2"),
    kw!("NORULE3"),
    kw!("NORULE4"),
    kw!("NORULE5"),
    kw!("NORULE6"),
    kw!("NORULE7"),
    kw!("NORULE8"),
    kw!("NORULES"),
];

/// Command names and their abbreviations.
const COMMANDS: &[(&str, &[&str])] = &[
    ("ADDUSER", &["AU"]),
    ("ALTUSER", &["ALU"]),
    ("DELUSER", &["DU"]),
    ("LISTUSER", &["LU"]),
    ("ADDGROUP", &["AG"]),
    ("ALTGROUP", &["ALG"]),
    ("DELGROUP", &["DG"]),
    ("LISTGRP", &["LG"]),
    ("CONNECT", &["CO"]),
    ("REMOVE", &["RE"]),
    ("RDEFINE", &["RDEF"]),
    ("RALTER", &["RALT"]),
    ("RDELETE", &["RDEL"]),
    ("RLIST", &["RL"]),
    ("PERMIT", &["PE"]),
    ("SETROPTS", &["SETR"]),
    ("SEARCH", &["SR"]),
    ("RACDCERT", &[]),
    ("RACMAP", &[]),
];

/// The canonical command name for a written one.
pub fn command_name(written: &str) -> Option<&'static str> {
    let w = written.to_ascii_uppercase();
    COMMANDS
        .iter()
        .find(|(n, a)| *n == w || a.contains(&w.as_str()))
        .map(|(n, _)| *n)
}

/// Executes a command against the state, returning changes and messages.
pub fn execute(state: &State, env: &Env<'_>, text: &str) -> Result<Outcome, CommandError> {
    let ops = tokenize(text).map_err(syntax)?;
    let Some((first, rest)) = ops.split_first() else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            "IKJ56621I INVALID COMMAND NAME SYNTAX",
        ));
    };
    let Operand::Word {
        text: word,
        quoted: false,
    } = first
    else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            "IKJ56621I INVALID COMMAND NAME SYNTAX",
        ));
    };
    let Some(name) = command_name(word) else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56500I COMMAND {} NOT FOUND", word.to_ascii_uppercase()),
        ));
    };
    authorize(state, env, name, rest)?;
    let mut x = Exec {
        state,
        env,
        out: Outcome {
            changes: Vec::new(),
            lines: Vec::new(),
            refresh: Vec::new(),
        },
    };
    match name {
        "ADDUSER" => x.adduser(&parse_operands(rest, 1, USER_KWS).map_err(syntax)?)?,
        "ALTUSER" => x.altuser(&parse_operands(rest, 1, USER_KWS).map_err(syntax)?)?,
        "DELUSER" => x.deluser(&parse_operands(rest, 1, NO_KWS).map_err(syntax)?)?,
        "LISTUSER" => x.listuser(&parse_operands(rest, 1, LIST_KWS).map_err(syntax)?)?,
        "ADDGROUP" => x.addgroup(&parse_operands(rest, 1, GROUP_KWS).map_err(syntax)?, false)?,
        "ALTGROUP" => x.addgroup(&parse_operands(rest, 1, GROUP_KWS).map_err(syntax)?, true)?,
        "DELGROUP" => x.delgroup(&parse_operands(rest, 1, NO_KWS).map_err(syntax)?)?,
        "LISTGRP" => x.listgrp(&parse_operands(rest, 1, LIST_KWS).map_err(syntax)?)?,
        "CONNECT" => x.connect(&parse_operands(rest, 1, CONNECT_KWS).map_err(syntax)?, true)?,
        "REMOVE" => x.connect(&parse_operands(rest, 1, REMOVE_KWS).map_err(syntax)?, false)?,
        "RDEFINE" => x.rdefine(&parse_operands(rest, 2, RDEF_KWS).map_err(syntax)?, false)?,
        "RALTER" => x.rdefine(&parse_operands(rest, 2, RDEF_KWS).map_err(syntax)?, true)?,
        "RDELETE" => x.rdelete(&parse_operands(rest, 2, NO_KWS).map_err(syntax)?)?,
        "RLIST" => x.rlist(&parse_operands(rest, 2, RLIST_KWS).map_err(syntax)?)?,
        "PERMIT" => x.permit(&parse_operands(rest, 1, PERMIT_KWS).map_err(syntax)?)?,
        "SETROPTS" => x.setropts(&parse_operands(rest, 0, SETR_KWS).map_err(syntax)?)?,
        "SEARCH" => x.search(&parse_operands(rest, 0, SEARCH_KWS).map_err(syntax)?)?,
        other => {
            return Err(CommandError::new(
                CommandErrorKind::NotSupported,
                format!("IRRD001I {other} IS NOT SUPPORTED BY ZGATE. Command not processed."),
            ))
        }
    }
    // One entry per printed line.
    let mut out = x.out;
    if out.lines.iter().any(|l| l.contains('\n')) {
        out.lines = out
            .lines
            .iter()
            .flat_map(|l| l.split('\n').map(str::to_owned))
            .collect();
    }
    Ok(out)
}

fn authorize(
    state: &State,
    env: &Env<'_>,
    name: &str,
    rest: &[Operand],
) -> Result<(), CommandError> {
    let Issuer::User(id) = env.issuer else {
        return Ok(());
    };
    let user = state.users.get(id);
    if user.is_some_and(|u| u.special && !u.revoked) {
        return Ok(());
    }
    // Anyone may list their own user profile.
    if name == "LISTUSER" {
        if let Some(Operand::Word { text, .. }) = rest.first() {
            if text.eq_ignore_ascii_case(id) {
                return Ok(());
            }
        }
    }
    Err(CommandError::new(
        CommandErrorKind::NotAuthorized,
        format!("ICH00007I {id} NOT AUTHORIZED TO ISSUE {name}: SPECIAL IS REQUIRED"),
    ))
}

/// The single text value of a keyword, e.g. `OWNER(x)`.
fn one_value(p: &Parsed, kw: &str) -> Result<Option<(String, bool)>, CommandError> {
    let Some(args) = p.args(kw) else {
        return Ok(None);
    };
    let mut t = texts(args);
    if t.len() != 1 {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56702I INVALID {kw}: EXACTLY ONE VALUE IS REQUIRED"),
        ));
    }
    Ok(t.pop())
}

fn id_value(p: &Parsed, kw: &str) -> Result<Option<String>, CommandError> {
    match one_value(p, kw)? {
        Some((v, _)) => normalize_id(&v)
            .map(Some)
            .map_err(|e| invalid(format!("IKJ56702I INVALID {kw}, {e}"))),
        None => Ok(None),
    }
}

fn ids(op: Option<&Operand>, what: &str) -> Result<Vec<String>, CommandError> {
    let Some(op) = op else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56701I MISSING {what}"),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for (t, _) in texts(std::slice::from_ref(op)) {
        let id = normalize_id(&t).map_err(|e| invalid(format!("IKJ56702I INVALID {what}, {e}")))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn level_value(p: &Parsed, kw: &str) -> Result<Option<AccessLevel>, CommandError> {
    match one_value(p, kw)? {
        Some((v, _)) => v
            .parse()
            .map(Some)
            .map_err(|e| invalid(format!("IKJ56702I INVALID {kw}, {e}"))),
        None => Ok(None),
    }
}

fn class_value(raw: &str) -> Result<String, CommandError> {
    normalize_class(raw).map_err(|e| invalid(format!("IKJ56702I INVALID CLASS NAME, {e}")))
}

fn classes_of(p: &Parsed, kw: &str) -> Result<Vec<String>, CommandError> {
    let mut out = Vec::new();
    for (t, _) in texts(p.args(kw).unwrap_or(&[])) {
        if t == "*" {
            out.push("*".to_owned());
        } else {
            out.push(class_value(&t)?);
        }
    }
    if out.is_empty() {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56701I MISSING CLASS NAME FOR {kw}"),
        ));
    }
    Ok(out)
}

fn date(ms: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

struct Exec<'a> {
    state: &'a State,
    env: &'a Env<'a>,
    out: Outcome,
}

impl Exec<'_> {
    fn say(&mut self, line: impl Into<String>) {
        self.out.lines.push(line.into());
    }

    fn owner_value(&self, p: &Parsed) -> Result<String, CommandError> {
        match id_value(p, "OWNER")? {
            Some(o) => {
                if !self.state.users.contains_key(&o) && !self.state.groups.contains_key(&o) {
                    return Err(not_found(format!(
                        "ICH00006I OWNER {o} IS NOT DEFINED TO RACF"
                    )));
                }
                Ok(o)
            }
            None => Ok(self.env.owner()),
        }
    }

    /// Credential keywords shared by ADDUSER and ALTUSER.
    fn set_credentials(
        &self,
        user: &mut User,
        p: &Parsed,
        altering: bool,
    ) -> Result<(), CommandError> {
        let opts = &self.state.options;
        // ALTUSER PASSWORD sets a temporary (expired) password unless NOEXPIRED;
        // ADDUSER does the same (RACF's initial passwords are expired).
        let expired = !p.has("NOEXPIRED");
        if let Some((pw, _)) = one_value(p, "PASSWORD")? {
            check_password_syntax(&user.id, &pw, opts.mixed_case).map_err(|why| {
                invalid(format!("ICH21009I INVALID PASSWORD FOR {}: {why}", user.id))
            })?;
            let hash = hash_secret(&normalize_password(&pw, opts.mixed_case), self.env.cost)
                .map_err(|e| invalid(format!("ICH00099I {e}")))?;
            user.password = Some(Credential {
                hash,
                set_at_ms: self.env.now_ms,
                expired,
            });
        } else if altering && p.has("EXPIRED") {
            if let Some(c) = user.password.as_mut() {
                c.expired = true;
            }
        } else if altering && p.has("NOEXPIRED") {
            if let Some(c) = user.password.as_mut() {
                c.expired = false;
            }
        }
        if let Some((ph, _)) = one_value(p, "PHRASE")? {
            check_phrase_syntax(&user.id, &ph).map_err(|why| {
                invalid(format!(
                    "ICH21044I INVALID PASSWORD PHRASE FOR {}: {why}",
                    user.id
                ))
            })?;
            let hash =
                hash_secret(&ph, self.env.cost).map_err(|e| invalid(format!("ICH00099I {e}")))?;
            user.phrase = Some(Credential {
                hash,
                set_at_ms: self.env.now_ms,
                expired,
            });
        }
        if p.has("NOPASSWORD") {
            if p.has("PASSWORD") {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56716I KEYWORDS PASSWORD AND NOPASSWORD CONFLICT",
                ));
            }
            user.password = None;
        }
        if p.has("NOPHRASE") {
            if p.has("PHRASE") {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56716I KEYWORDS PHRASE AND NOPHRASE CONFLICT",
                ));
            }
            user.phrase = None;
        }
        Ok(())
    }

    fn set_attributes(user: &mut User, p: &Parsed, now_ms: i64) -> Result<(), CommandError> {
        for (on, off) in [
            ("SPECIAL", "NOSPECIAL"),
            ("AUDITOR", "NOAUDITOR"),
            ("OPERATIONS", "NOOPERATIONS"),
            ("RESTRICTED", "NORESTRICTED"),
            ("REVOKE", "RESUME"),
            ("EXPIRED", "NOEXPIRED"),
        ] {
            if p.has(on) && p.has(off) {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    format!("IKJ56716I KEYWORDS {on} AND {off} CONFLICT"),
                ));
            }
        }
        let set = |flag: &mut bool, on, off| {
            if p.has(on) {
                *flag = true;
            }
            if p.has(off) {
                *flag = false;
            }
        };
        set(&mut user.special, "SPECIAL", "NOSPECIAL");
        set(&mut user.auditor, "AUDITOR", "NOAUDITOR");
        set(&mut user.operations, "OPERATIONS", "NOOPERATIONS");
        set(&mut user.restricted, "RESTRICTED", "NORESTRICTED");
        if p.has("REVOKE") {
            user.revoked = true;
            // Every credential issued so far ends here, also after a RESUME.
            user.revoked_at_ms = now_ms;
        }
        if p.has("RESUME") {
            user.revoked = false;
            user.failed_attempts = 0;
        }
        if let Some(args) = p.args("NAME") {
            let name: Vec<String> = texts(args).into_iter().map(|(t, _)| t).collect();
            let name = name.join(" ");
            if name.chars().count() > 20 {
                return Err(invalid("IKJ56702I INVALID NAME, LONGER THAN 20 CHARACTERS"));
            }
            user.name = name;
        }
        Ok(())
    }

    fn adduser(&mut self, p: &Parsed) -> Result<(), CommandError> {
        for kw in ["REVOKE", "RESUME", "EXPIRED"] {
            if p.has(kw) {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    format!("IKJ56712I INVALID KEYWORD, {kw}"),
                ));
            }
        }
        let users = ids(p.positionals.first(), "USERID")?;
        let owner = self.owner_value(p)?;
        let group = id_value(p, "DFLTGRP")?.unwrap_or_else(|| "SYS1".to_owned());
        if !self.state.groups.contains_key(&group) {
            return Err(not_found(format!(
                "ICH01008I DFLTGRP {group} IS NOT DEFINED TO RACF. COMMAND ENDED."
            )));
        }
        for id in users {
            if self.state.users.contains_key(&id) {
                return Err(duplicate(format!(
                    "ICH01004I USER {id} IS ALREADY DEFINED TO RACF"
                )));
            }
            if self.state.groups.contains_key(&id) {
                return Err(duplicate(format!(
                    "ICH01005I {id} IS ALREADY DEFINED TO RACF AS A GROUP"
                )));
            }
            let mut user = User::new(id.clone(), group.clone(), owner.clone(), self.env.now_ms);
            Self::set_attributes(&mut user, p, self.env.now_ms)?;
            self.set_credentials(&mut user, p, false)?;
            if user.protected() {
                self.say(format!("ICH01024I User {id} is defined as PROTECTED."));
            }
            self.out.changes.push(Change::PutUser(Box::new(user)));
            self.out.changes.push(Change::Connect {
                user: id,
                group: group.clone(),
            });
        }
        Ok(())
    }

    fn altuser(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let users = ids(p.positionals.first(), "USERID")?;
        for id in users {
            let Some(existing) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH21001I USER {id} NOT DEFINED TO RACF. COMMAND ENDED."
                )));
            };
            let mut user = existing.clone();
            if p.has("OWNER") {
                user.owner = self.owner_value(p)?;
            }
            if let Some(g) = id_value(p, "DFLTGRP")? {
                if !self.state.connects.get(&id).is_some_and(|s| s.contains(&g)) {
                    return Err(invalid(format!(
                        "ICH21012I USER {id} IS NOT CONNECTED TO GROUP {g}; DFLTGRP NOT CHANGED"
                    )));
                }
                user.default_group = g;
            }
            Self::set_attributes(&mut user, p, self.env.now_ms)?;
            self.set_credentials(&mut user, p, true)?;
            self.out.changes.push(Change::PutUser(Box::new(user)));
        }
        Ok(())
    }

    fn deluser(&mut self, p: &Parsed) -> Result<(), CommandError> {
        for id in ids(p.positionals.first(), "USERID")? {
            if !self.state.users.contains_key(&id) {
                return Err(not_found(format!(
                    "ICH04005I USER {id} NOT DEFINED TO RACF. COMMAND ENDED."
                )));
            }
            self.out.changes.push(Change::DeleteUser(id));
        }
        Ok(())
    }

    fn listuser(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let targets: Vec<String> = match p.positionals.first() {
            Some(Operand::Word { text, .. }) if text == "*" => {
                self.state.users.keys().cloned().collect()
            }
            Some(op) => ids(Some(op), "USERID")?,
            None => match self.env.issuer {
                Issuer::User(u) => vec![u.clone()],
                Issuer::Operator => self.state.users.keys().cloned().collect(),
            },
        };
        for id in targets {
            let Some(u) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH30001I UNABLE TO LOCATE USER ENTRY {id}"
                )));
            };
            let mut attrs = Vec::new();
            for (on, a) in [
                (u.special, "SPECIAL"),
                (u.auditor, "AUDITOR"),
                (u.operations, "OPERATIONS"),
                (u.restricted, "RESTRICTED"),
                (u.protected(), "PROTECTED"),
                (u.revoked, "REVOKED"),
            ] {
                if on {
                    attrs.push(a);
                }
            }
            if attrs.is_empty() {
                attrs.push("NONE");
            }
            let cred_date = |c: &Option<Credential>| match c {
                Some(c) if c.expired => "00.000 (EXPIRED)".to_owned(),
                Some(c) => date(c.set_at_ms),
                None => "N/A".to_owned(),
            };
            let name = if u.name.is_empty() {
                "UNKNOWN"
            } else {
                &u.name
            };
            let interval = match self.state.options.password_interval_days {
                0 => "N/A".to_owned(),
                n => n.to_string(),
            };
            let lines = vec![
                format!(
                    "USER={}  NAME={}  OWNER={}  CREATED={}",
                    u.id,
                    name,
                    u.owner,
                    date(u.created_ms)
                ),
                format!(
                    " DEFAULT-GROUP={} PASSDATE={} PASS-INTERVAL={} PHRASEDATE={}",
                    u.default_group,
                    cred_date(&u.password),
                    interval,
                    cred_date(&u.phrase)
                ),
                format!(" ATTRIBUTES={}", attrs.join(" ")),
                format!(
                    " LAST-ACCESS={}  FAILED-ATTEMPTS={}",
                    u.last_logon_ms
                        .map(date)
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    u.failed_attempts
                ),
            ];
            self.out.lines.extend(lines);
            for g in self.state.connects.get(&id).into_iter().flatten() {
                self.say(format!(" GROUP={g:<8}  AUTH=USE"));
            }
            self.say("");
        }
        Ok(())
    }

    fn addgroup(&mut self, p: &Parsed, altering: bool) -> Result<(), CommandError> {
        let groups = ids(p.positionals.first(), "GROUP NAME")?;
        let sup = id_value(p, "SUPGROUP")?;
        if let Some(s) = &sup {
            if !self.state.groups.contains_key(s) {
                return Err(not_found(format!(
                    "ICH00006I SUPGROUP {s} IS NOT DEFINED TO RACF"
                )));
            }
        }
        for id in groups {
            if !altering {
                crate::model::normalize_group(&id)
                    .map_err(|e| invalid(format!("IKJ56702I INVALID GROUP NAME, {e}")))?;
            }
            let group = match (self.state.groups.get(&id), altering) {
                (Some(_), false) => {
                    return Err(duplicate(format!(
                        "ICH02004I GROUP {id} IS ALREADY DEFINED TO RACF"
                    )))
                }
                (None, true) => {
                    return Err(not_found(format!(
                        "ICH22001I GROUP {id} NOT DEFINED TO RACF"
                    )))
                }
                (None, false) => {
                    if self.state.users.contains_key(&id) {
                        return Err(duplicate(format!(
                            "ICH02005I {id} IS ALREADY DEFINED TO RACF AS A USER"
                        )));
                    }
                    Group {
                        id: id.clone(),
                        superior: Some(sup.clone().unwrap_or_else(|| "SYS1".into())),
                        owner: self.owner_value(p)?,
                        created_ms: self.env.now_ms,
                    }
                }
                (Some(g), true) => {
                    let mut g = g.clone();
                    if sup.is_some() {
                        if sup.as_deref() == Some(id.as_str()) {
                            return Err(invalid(format!(
                                "ICH22005I GROUP {id} CANNOT BE ITS OWN SUPERIOR"
                            )));
                        }
                        g.superior = sup.clone();
                    }
                    if p.has("OWNER") {
                        g.owner = self.owner_value(p)?;
                    }
                    g
                }
            };
            self.out.changes.push(Change::PutGroup(group));
        }
        Ok(())
    }

    fn delgroup(&mut self, p: &Parsed) -> Result<(), CommandError> {
        for id in ids(p.positionals.first(), "GROUP NAME")? {
            if !self.state.groups.contains_key(&id) {
                return Err(not_found(format!(
                    "ICH03003I GROUP {id} NOT DEFINED TO RACF"
                )));
            }
            if id == "SYS1" {
                return Err(invalid("ICH03007I GROUP SYS1 CANNOT BE DELETED"));
            }
            if self.state.connects.values().any(|g| g.contains(&id)) {
                return Err(invalid(format!(
                    "ICH03008I GROUP {id} HAS USERS CONNECTED AND CANNOT BE DELETED"
                )));
            }
            if self
                .state
                .groups
                .values()
                .any(|g| g.superior.as_deref() == Some(id.as_str()))
            {
                return Err(invalid(format!(
                    "ICH03009I GROUP {id} HAS SUBGROUPS AND CANNOT BE DELETED"
                )));
            }
            self.out.changes.push(Change::DeleteGroup(id));
        }
        Ok(())
    }

    fn listgrp(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let targets: Vec<String> = match p.positionals.first() {
            Some(Operand::Word { text, .. }) if text == "*" => {
                self.state.groups.keys().cloned().collect()
            }
            Some(op) => ids(Some(op), "GROUP NAME")?,
            None => self.state.groups.keys().cloned().collect(),
        };
        for id in targets {
            let Some(g) = self.state.groups.get(&id) else {
                return Err(not_found(format!(
                    "ICH51003I NAME {id} NOT FOUND IN RACF DATA SET"
                )));
            };
            self.say(format!(
                "INFORMATION FOR GROUP {}\n    SUPERIOR GROUP={}  OWNER={}  CREATED={}",
                g.id,
                g.superior.as_deref().unwrap_or("NONE"),
                g.owner,
                date(g.created_ms)
            ));
            let subs: Vec<&str> = self
                .state
                .groups
                .values()
                .filter(|s| s.superior.as_deref() == Some(id.as_str()))
                .map(|s| s.id.as_str())
                .collect();
            self.say(format!(
                "    SUBGROUP(S)= {}",
                if subs.is_empty() {
                    "NONE".to_owned()
                } else {
                    subs.join(" ")
                }
            ));
            let members: Vec<&String> = self
                .state
                .connects
                .iter()
                .filter(|(_, gs)| gs.contains(&id))
                .map(|(u, _)| u)
                .collect();
            if members.is_empty() {
                self.say("    NO USERS");
            } else {
                self.say("    USER(S)=      ACCESS=");
                for m in members {
                    self.say(format!("      {m:<8}      USE"));
                }
            }
            self.say("");
        }
        Ok(())
    }

    fn connect(&mut self, p: &Parsed, adding: bool) -> Result<(), CommandError> {
        let users = ids(p.positionals.first(), "USERID")?;
        let Some(group) = id_value(p, "GROUP")? else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING GROUP NAME",
            ));
        };
        if !self.state.groups.contains_key(&group) {
            return Err(not_found(format!(
                "ICH02004I GROUP {group} NOT DEFINED TO RACF"
            )));
        }
        for id in users {
            let Some(u) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH02003I USER {id} NOT DEFINED TO RACF"
                )));
            };
            let connected = self
                .state
                .connects
                .get(&id)
                .is_some_and(|s| s.contains(&group));
            if adding {
                if connected {
                    return Err(duplicate(format!(
                        "ICH02006I USER {id} IS ALREADY CONNECTED TO GROUP {group}"
                    )));
                }
                self.out.changes.push(Change::Connect {
                    user: id,
                    group: group.clone(),
                });
            } else {
                if !connected {
                    return Err(not_found(format!(
                        "ICH03002I USER {id} IS NOT CONNECTED TO GROUP {group}"
                    )));
                }
                if u.default_group == group {
                    return Err(invalid(format!(
                        "ICH03004I GROUP {group} IS THE DEFAULT GROUP OF {id}; CHANGE DFLTGRP FIRST"
                    )));
                }
                self.out.changes.push(Change::Disconnect {
                    user: id,
                    group: group.clone(),
                });
            }
        }
        Ok(())
    }

    fn class_and_profiles(&self, p: &Parsed) -> Result<(String, Vec<String>), CommandError> {
        let Some(Operand::Word { text: class, .. }) = p.positionals.first() else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING CLASS NAME",
            ));
        };
        let class = class_value(class)?;
        let Some(op) = p.positionals.get(1) else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING PROFILE NAME",
            ));
        };
        let mut names: Vec<String> = Vec::new();
        for (t, _) in texts(std::slice::from_ref(op)) {
            let n = if t == "*" {
                "*".to_owned()
            } else if class == GLOBAL_CLASS {
                class_value(&t)?
            } else {
                normalize_profile_name(&t)
                    .map_err(|e| invalid(format!("ICH10103I INVALID PROFILE NAME: {e}")))?
            };
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Ok((class, names))
    }

    fn rdefine(&mut self, p: &Parsed, altering: bool) -> Result<(), CommandError> {
        let (class, names) = self.class_and_profiles(p)?;
        // PassTicket keys, PTKTDATA only.
        if p.has("SSIGNON") && class != crate::ptkt::PTKTDATA {
            return Err(invalid(
                "IKJ56712I INVALID KEYWORD, SSIGNON (PTKTDATA CLASS ONLY)",
            ));
        }
        if !altering && p.has("DELMEM") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56712I INVALID KEYWORD, DELMEM",
            ));
        }
        if p.has("WARNING") && p.has("NOWARNING") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56716I KEYWORDS WARNING AND NOWARNING CONFLICT",
            ));
        }
        let uacc = level_value(p, "UACC")?;
        let members = |kw| -> Result<Vec<String>, CommandError> {
            let mut out = Vec::new();
            for (m, _) in texts(p.args(kw).unwrap_or(&[])) {
                if class == GLOBAL_CLASS {
                    let (res, level) = parse_global_member(&m)
                        .map_err(|e| invalid(format!("ICH10104I INVALID MEMBER {m}: {e}")))?;
                    out.push(format!("{res}/{level}"));
                } else {
                    out.push(m.to_ascii_uppercase());
                }
            }
            Ok(out)
        };
        let add = members("ADDMEM")?;
        let del = members("DELMEM")?;
        for name in names {
            if name == "*" {
                return Err(invalid("ICH10103I INVALID PROFILE NAME *"));
            }
            let existing = self.state.profile(&class, &name);
            let mut profile = match (existing, altering) {
                (Some(_), false) => {
                    return Err(duplicate(format!(
                        "ICH10102I {name} ALREADY DEFINED TO CLASS {class}."
                    )))
                }
                (None, true) => {
                    return Err(not_found(format!(
                        "ICH11102I {name} NOT DEFINED TO CLASS {class}."
                    )))
                }
                (Some(p), true) => (**p).clone(),
                (None, false) => Profile::new(
                    class.clone(),
                    name.clone(),
                    self.env.owner(),
                    self.env.now_ms,
                ),
            };
            if let Some(u) = uacc {
                profile.uacc = u;
            }
            if p.has("OWNER") {
                profile.owner = self.owner_value(p)?;
            }
            if p.has("WARNING") {
                profile.warning = true;
            }
            if p.has("NOWARNING") {
                profile.warning = false;
            }
            if let Some((v, _)) = one_value(p, "APPLDATA")? {
                profile.appldata = v;
            }
            if let Some((v, _)) = one_value(p, "DATA")? {
                profile.data = v;
            }
            if let Some(args) = p.args("SSIGNON") {
                let mut keys = profile.ssignon.clone().unwrap_or_default();
                crate::ptkt::parse_ssignon(args, &mut keys)
                    .map_err(|e| CommandError::new(CommandErrorKind::Syntax, e.0))?;
                profile.ssignon = Some(keys);
            }
            self.out
                .changes
                .push(Change::PutProfile(Box::new(profile.clone())));
            for m in &add {
                self.out.changes.push(Change::PutMember {
                    class: class.clone(),
                    name: name.clone(),
                    member: m.clone(),
                });
            }
            for m in &del {
                if !profile.members.contains(m) {
                    return Err(not_found(format!(
                        "ICH11104I MEMBER {m} NOT FOUND IN {name}"
                    )));
                }
                self.out.changes.push(Change::DeleteMember {
                    class: class.clone(),
                    name: name.clone(),
                    member: m.clone(),
                });
            }
            let settings = self.state.class(&class);
            if settings.raclist {
                self.say(format!(
                    "ICH10006I RACLISTED PROFILES FOR {class} WILL NOT REFLECT THE ADDITION(S) UNTIL A SETROPTS REFRESH IS ISSUED."
                ));
            }
            if class == GLOBAL_CLASS && self.state.class(&name).global {
                self.say(format!(
                    "ICH10006I GLOBAL ACCESS TABLE FOR {name} WILL NOT REFLECT THE CHANGE UNTIL SETROPTS GLOBAL({name}) REFRESH IS ISSUED."
                ));
            }
            if is_generic(&name) && !settings.generic && class != GLOBAL_CLASS {
                self.say(format!(
                    "ICH10101I GENERIC PROFILE {name} IS NOT USED UNTIL SETROPTS GENERIC({class}) IS ISSUED."
                ));
            }
        }
        Ok(())
    }

    fn rdelete(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let (class, names) = self.class_and_profiles(p)?;
        for name in names {
            if self.state.profile(&class, &name).is_none() {
                return Err(not_found(format!(
                    "ICH12102I {name} NOT DEFINED TO CLASS {class}."
                )));
            }
            self.out.changes.push(Change::DeleteProfile {
                class: class.clone(),
                name,
            });
        }
        Ok(())
    }

    fn rlist(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let (class, names) = self.class_and_profiles(p)?;
        let names: Vec<String> = if names == ["*"] {
            self.state
                .profiles
                .get(&class)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            names
        };
        for name in names {
            let Some(prof) = self.state.profile(&class, &name) else {
                return Err(not_found(format!("ICH13003I {name} NOT FOUND")));
            };
            let prof = prof.clone();
            self.say("CLASS      NAME");
            self.say("-----      ----");
            self.say(format!(
                "{:<10} {}{}",
                class,
                name,
                if is_generic(&name) { " (G)" } else { "" }
            ));
            self.say("");
            self.say("LEVEL  OWNER      UNIVERSAL ACCESS  YOUR ACCESS  WARNING");
            self.say("-----  --------   ----------------  -----------  -------");
            let yours = match self.env.issuer {
                Issuer::Operator => "ALTER".to_owned(),
                Issuer::User(u) => prof
                    .access
                    .get(u)
                    .map_or_else(|| prof.uacc.to_string(), |l| l.to_string()),
            };
            self.say(format!(
                " 00    {:<8}      {:<8}         {:<8}     {}",
                prof.owner,
                prof.uacc,
                yours,
                if prof.warning { "YES" } else { "NO" }
            ));
            self.say("");
            if !prof.appldata.is_empty() {
                self.say(format!("APPLICATION DATA  {}", prof.appldata));
            } else {
                self.say("APPLICATION DATA  NONE");
            }
            if prof.ssignon.is_some() {
                // Keys are never shown, as RACF shows them.
                self.say("SSIGNON: KEYMASKED DATA");
            }
            if !prof.members.is_empty() {
                self.say("RESOURCES IN GROUP");
                self.say("--------- -- -----");
                for m in &prof.members {
                    self.say(m.clone());
                }
            }
            self.say("");
            if prof.access.is_empty() {
                self.say("NO USERS IN ACCESS LIST");
            } else {
                self.say("USER      ACCESS   ACCESS COUNT");
                self.say("----      ------   ------ -----");
                for (id, level) in &prof.access {
                    self.say(format!("{id:<8}  {:<8}  000000", level.as_str()));
                }
            }
            if !prof.conditional.is_empty() {
                self.say("");
                self.say("USER      ACCESS   ACCESS COUNT  CLASS     ENTITY NAME");
                self.say("----      ------   ------ -----  -----     ------ ----");
                for ((id, c), level) in &prof.conditional {
                    self.say(format!(
                        "{id:<8}  {:<8}  000000        {:<8}  {}",
                        level.as_str(),
                        c.kind,
                        c.value
                    ));
                }
            }
            self.say("");
        }
        Ok(())
    }

    fn permit(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let Some(op) = p.positionals.first() else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING PROFILE NAME",
            ));
        };
        let Some((class_raw, _)) = one_value(p, "CLASS")? else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING CLASS: PERMIT FOR GENERAL RESOURCES NEEDS CLASS(c)",
            ));
        };
        let class = class_value(&class_raw)?;
        let mut names = Vec::new();
        for (t, _) in texts(std::slice::from_ref(op)) {
            names.push(
                normalize_profile_name(&t)
                    .map_err(|e| invalid(format!("ICH06001I INVALID PROFILE NAME: {e}")))?,
            );
        }
        let id_list: Vec<String> = match p.args("ID") {
            Some(a) => texts(a)
                .into_iter()
                .map(|(t, _)| {
                    if t == "*" {
                        Ok("*".to_owned())
                    } else {
                        let id = normalize_id(&t)
                            .map_err(|e| invalid(format!("IKJ56702I INVALID ID, {e}")))?;
                        if !self.state.users.contains_key(&id)
                            && !self.state.groups.contains_key(&id)
                        {
                            return Err(not_found(format!("ICH06004I {id} NOT DEFINED TO RACF")));
                        }
                        Ok(id)
                    }
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let level = level_value(p, "ACCESS")?;
        let deleting = p.has("DELETE");
        let condition = match p.args("WHEN") {
            Some(args) => Some(parse_when(args)?),
            None => None,
        };
        let from = match one_value(p, "FROM")? {
            Some((f, _)) => {
                let fclass = match one_value(p, "FCLASS")? {
                    Some((c, _)) => class_value(&c)?,
                    None => class.clone(),
                };
                let fname = normalize_profile_name(&f)
                    .map_err(|e| invalid(format!("ICH06001I INVALID PROFILE NAME: {e}")))?;
                let Some(src) = self.state.profile(&fclass, &fname) else {
                    return Err(not_found(format!(
                        "ICH06007I FROM PROFILE {fname} NOT DEFINED TO CLASS {fclass}"
                    )));
                };
                Some(src.clone())
            }
            None => None,
        };
        if deleting && level.is_some() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56716I KEYWORDS DELETE AND ACCESS CONFLICT",
            ));
        }
        if id_list.is_empty() && !p.has("RESET") && from.is_none() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING ID, RESET OR FROM",
            ));
        }
        for name in names {
            let Some(prof) = self.state.profile(&class, &name) else {
                return Err(not_found(format!(
                    "ICH06002I {name} NOT DEFINED TO CLASS {class}"
                )));
            };
            let key = |id: &String| (class.clone(), name.clone(), id.clone());
            if let Some(reset) = p.args("RESET") {
                let which: Vec<String> = texts(reset)
                    .into_iter()
                    .map(|(t, _)| t.to_ascii_uppercase())
                    .collect();
                let (std, cond) = match which.first().map(String::as_str) {
                    None | Some("ALL") => (true, true),
                    Some("STANDARD") => (true, false),
                    Some("WHEN") => (false, true),
                    Some(o) => return Err(invalid(format!("IKJ56702I INVALID RESET, {o}"))),
                };
                if std {
                    for id in prof.access.keys() {
                        let (class, name, id) = key(id);
                        self.out
                            .changes
                            .push(Change::DeleteAccess { class, name, id });
                    }
                }
                if cond {
                    for (id, c) in prof.conditional.keys() {
                        let (class, name, id) = key(id);
                        self.out.changes.push(Change::DeleteConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                        });
                    }
                }
            }
            if let Some(src) = &from {
                for (id, l) in &src.access {
                    let (class, name, id) = key(id);
                    self.out.changes.push(Change::PutAccess {
                        class,
                        name,
                        id,
                        level: *l,
                    });
                }
                for ((id, c), l) in &src.conditional {
                    let (class, name, id) = key(id);
                    self.out.changes.push(Change::PutConditional {
                        class,
                        name,
                        id,
                        condition: c.clone(),
                        level: *l,
                    });
                }
            }
            for id in &id_list {
                let (class, name, id) = key(id);
                match (&condition, deleting) {
                    (None, true) => {
                        if !prof.access.contains_key(&id) {
                            return Err(not_found(format!(
                                "ICH06010I {id} NOT IN ACCESS LIST OF {name}"
                            )));
                        }
                        self.out
                            .changes
                            .push(Change::DeleteAccess { class, name, id });
                    }
                    (Some(c), true) => {
                        if !prof.conditional.contains_key(&(id.clone(), c.clone())) {
                            return Err(not_found(format!(
                                "ICH06010I {id} NOT IN CONDITIONAL ACCESS LIST OF {name}"
                            )));
                        }
                        self.out.changes.push(Change::DeleteConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                        });
                    }
                    (None, false) => {
                        let level = level.unwrap_or(AccessLevel::Read);
                        self.out.changes.push(Change::PutAccess {
                            class,
                            name,
                            id,
                            level,
                        });
                    }
                    (Some(c), false) => {
                        let level = level.unwrap_or(AccessLevel::Read);
                        self.out.changes.push(Change::PutConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                            level,
                        });
                    }
                }
            }
            if self.state.class(&class).raclist {
                self.say(format!(
                    "ICH06011I RACLISTED PROFILES FOR {class} WILL NOT REFLECT THE UPDATE(S) UNTIL A SETROPTS REFRESH IS ISSUED"
                ));
            }
        }
        Ok(())
    }

    fn setropts(&mut self, p: &Parsed) -> Result<(), CommandError> {
        if p.keywords.is_empty() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING SETROPTS OPERAND",
            ));
        }
        let mut classes: std::collections::BTreeMap<String, ClassSettings> = Default::default();
        let all_classes = || -> Vec<String> {
            let mut s: BTreeSet<String> = self.state.classes.keys().cloned().collect();
            s.extend(
                self.state
                    .profiles
                    .keys()
                    .filter(|c| *c != GLOBAL_CLASS)
                    .cloned(),
            );
            s.into_iter().collect()
        };
        let refresh = p.has("REFRESH");
        let mut touch = |kw: &str,
                         f: &dyn Fn(&mut ClassSettings),
                         this: &Self|
         -> Result<Vec<String>, CommandError> {
            let mut list = classes_of(p, kw)?;
            if list.iter().any(|c| c == "*") {
                list = all_classes();
            }
            for c in &list {
                if c == GLOBAL_CLASS {
                    return Err(invalid(format!(
                        "ICH14010I CLASS {GLOBAL_CLASS} IS NOT VALID FOR {kw}"
                    )));
                }
                let entry = classes
                    .entry(c.clone())
                    .or_insert_with(|| this.state.class(c));
                f(entry);
            }
            Ok(list)
        };
        let mut refreshes = Vec::new();
        if p.has("CLASSACT") {
            touch("CLASSACT", &|c| c.active = true, self)?;
        }
        if p.has("NOCLASSACT") {
            touch("NOCLASSACT", &|c| c.active = false, self)?;
        }
        if p.has("GENERIC") {
            touch("GENERIC", &|c| c.generic = true, self)?;
        }
        if p.has("NOGENERIC") {
            touch("NOGENERIC", &|c| c.generic = false, self)?;
        }
        if p.has("RACLIST") {
            let list = if refresh {
                touch("RACLIST", &|c| c.raclist_generation += 1, self)?
            } else {
                touch(
                    "RACLIST",
                    &|c| {
                        c.raclist = true;
                        c.raclist_generation += 1;
                    },
                    self,
                )?
            };
            refreshes.extend(list.into_iter().map(Refresh::Class));
        }
        if p.has("NORACLIST") {
            let list = touch(
                "NORACLIST",
                &|c| {
                    c.raclist = false;
                    c.raclist_generation += 1;
                },
                self,
            )?;
            refreshes.extend(list.into_iter().map(Refresh::Class));
        }
        if p.has("GLOBAL") {
            let list = touch(
                "GLOBAL",
                &|c| {
                    c.global = true;
                    c.global_generation += 1;
                },
                self,
            )?;
            refreshes.extend(list.into_iter().map(Refresh::Global));
        }
        if p.has("NOGLOBAL") {
            touch("NOGLOBAL", &|c| c.global = false, self)?;
        }
        if refresh && !p.has("RACLIST") && !p.has("GLOBAL") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I REFRESH NEEDS RACLIST(class) OR GLOBAL(class)",
            ));
        }
        if refresh {
            for (c, s) in &classes {
                if p.args("RACLIST")
                    .is_some_and(|a| texts(a).iter().any(|(t, _)| t.eq_ignore_ascii_case(c)))
                    && !s.raclist
                {
                    return Err(invalid(format!(
                        "ICH14070I SETROPTS REFRESH NOT PROCESSED: CLASS {c} IS NOT RACLISTED"
                    )));
                }
            }
        }
        let mut opts: Options = self.state.options.clone();
        if p.has("GRPLIST") {
            opts.grplist = true;
        }
        if p.has("NOGRPLIST") {
            opts.grplist = false;
        }
        if let Some(args) = p.args("PASSWORD") {
            let pp = parse_operands(args, 0, PASSWORD_KWS).map_err(syntax)?;
            let num = |kw: &str, max: u32| -> Result<Option<u32>, CommandError> {
                match one_value(&pp, kw)? {
                    Some((v, _)) => match v.parse::<u32>() {
                        Ok(n) if n <= max => Ok(Some(n)),
                        _ => Err(invalid(format!(
                            "ICH14002I INVALID {kw} VALUE {v} (0-{max})"
                        ))),
                    },
                    None => Ok(None),
                }
            };
            if let Some(n) = num("INTERVAL", 254)? {
                if n == 0 {
                    return Err(invalid("ICH14002I INVALID INTERVAL VALUE 0 (1-254)"));
                }
                opts.password_interval_days = n;
            }
            if let Some(n) = num("REVOKE", 255)? {
                opts.revoke_after = if n == 0 { None } else { Some(n) };
            }
            if pp.has("NOREVOKE") {
                opts.revoke_after = None;
            }
            if let Some(n) = num("HISTORY", 32)? {
                opts.history = n;
            }
            if pp.has("NOHISTORY") {
                opts.history = 0;
            }
            if pp.has("MIXEDCASE") {
                opts.mixed_case = true;
            }
            if pp.has("NOMIXEDCASE") {
                opts.mixed_case = false;
            }
            if pp.has("NORULES") {
                opts.rules.clear();
            }
            for n in 1..=8u8 {
                if pp.has(&format!("NORULE{n}")) {
                    opts.rules.remove(&n);
                }
                if let Some(args) = pp.args(&format!("RULE{n}")) {
                    let text: Vec<String> = args.iter().map(operand_text).collect();
                    let rule = crate::password::PasswordRule::parse(&text.join(" "))
                        .map_err(|why| invalid(format!("ICH14002I INVALID RULE{n}: {why}")))?;
                    opts.rules.insert(n, rule);
                }
            }
        }
        for (_, s) in classes {
            self.out.changes.push(Change::PutClass(s));
        }
        if opts != self.state.options {
            self.out.changes.push(Change::PutOptions(opts.clone()));
        }
        self.out.refresh.extend(refreshes);
        if p.has("LIST") {
            self.setropts_list(&opts);
        }
        self.say("ICH14063I SETROPTS command complete.");
        Ok(())
    }

    fn setropts_list(&mut self, opts: &Options) {
        let mut cls: BTreeSet<String> = self.state.classes.keys().cloned().collect();
        for c in &self.out.changes {
            if let Change::PutClass(s) = c {
                cls.insert(s.name.clone());
            }
        }
        let setting = |c: &String| -> ClassSettings {
            self.out
                .changes
                .iter()
                .rev()
                .find_map(|ch| match ch {
                    Change::PutClass(s) if &s.name == c => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| self.state.class(c))
        };
        let pick = |f: &dyn Fn(&ClassSettings) -> bool| -> String {
            let v: Vec<String> = cls
                .iter()
                .map(&setting)
                .filter(|s| f(s))
                .map(|s| s.name)
                .collect();
            if v.is_empty() {
                "NONE".into()
            } else {
                v.join(" ")
            }
        };
        let lines = vec![
            format!("ACTIVE CLASSES = {}", pick(&|s| s.active)),
            format!("GENERIC PROFILE CLASSES = {}", pick(&|s| s.generic)),
            format!("GLOBAL CHECKING CLASSES = {}", pick(&|s| s.global)),
            format!("SETR RACLIST CLASSES = {}", pick(&|s| s.raclist)),
            format!("LIST OF GROUPS ACCESS CHECKING IS {}", if opts.grplist { "ACTIVE." } else { "INACTIVE." }),
            format!(
                "PASSWORD PROCESSING OPTIONS:\n  PASSWORD CHANGE INTERVAL IS {}\n  MIXED CASE PASSWORD SUPPORT IS {}\n  {}\n  {}",
                match opts.password_interval_days { 0 => "NOT IN EFFECT".to_owned(), n => format!("{n} DAYS.") },
                if opts.mixed_case { "IN EFFECT" } else { "NOT IN EFFECT" },
                match opts.revoke_after { None => "AFTER ANY NUMBER OF UNSUCCESSFUL PASSWORD ATTEMPTS, THE USERID WILL NOT BE REVOKED".to_owned(), Some(n) => format!("AFTER {} CONSECUTIVE UNSUCCESSFUL PASSWORD ATTEMPTS, A USERID WILL BE REVOKED.", n + 1) },
                match opts.history { 0 => "NO PASSWORD HISTORY BEING MAINTAINED.".to_owned(), n => format!("{n} GENERATIONS OF PREVIOUS PASSWORDS BEING MAINTAINED.") },
            ),
        ];
        self.out.lines.extend(lines);
        if opts.rules.is_empty() {
            self.say("  NO INSTALLATION PASSWORD SYNTAX RULES.");
        } else {
            self.say("  INSTALLATION PASSWORD SYNTAX RULES:");
            for (n, r) in &opts.rules {
                self.say(format!("    RULE {n} {}", r.to_text()));
            }
        }
    }

    fn search(&mut self, p: &Parsed) -> Result<(), CommandError> {
        let class = match one_value(p, "CLASS")? {
            Some((c, _)) => class_value(&c)?,
            None => {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56701I MISSING CLASS: ONLY GENERAL RESOURCE CLASSES ARE SEARCHED",
                ))
            }
        };
        let mask = one_value(p, "MASK")?
            .map(|(m, _)| m.to_ascii_uppercase())
            .unwrap_or_default();
        let names: Vec<String> = if class == "USER" {
            self.state.users.keys().cloned().collect()
        } else if class == "GROUP" {
            self.state.groups.keys().cloned().collect()
        } else {
            self.state
                .profiles
                .get(&class)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let hits: Vec<String> = names.into_iter().filter(|n| n.starts_with(&mask)).collect();
        if hits.is_empty() {
            self.say("ICH31005I NO ENTRIES MEET SEARCH CRITERIA");
        }
        for h in hits {
            self.say(h);
        }
        Ok(())
    }
}

/// An operand written back as text (for re-parsing a nested value).
fn operand_text(op: &Operand) -> String {
    match op {
        Operand::Word { text, .. } => text.clone(),
        Operand::Keyword { name, args } => {
            let inner: Vec<String> = args.iter().map(operand_text).collect();
            format!("{name}({})", inner.join(" "))
        }
        Operand::List(items) => {
            let inner: Vec<String> = items.iter().map(operand_text).collect();
            format!("({})", inner.join(" "))
        }
    }
}

fn parse_when(args: &[Operand]) -> Result<Condition, CommandError> {
    match args {
        [Operand::Keyword { name, args }] => {
            let kind = CONDITION_KINDS
                .iter()
                .find(|k| **k == name.as_str() || k.starts_with(name.as_str()) && name.len() >= 4)
                .ok_or_else(|| {
                    invalid(format!(
                        "IKJ56712I INVALID KEYWORD, WHEN({name}(...)): USE {}",
                        CONDITION_KINDS.join(", ")
                    ))
                })?;
            let vals = texts(args);
            let [(value, _)] = vals.as_slice() else {
                return Err(invalid(format!(
                    "IKJ56702I INVALID WHEN({kind}): ONE VALUE IS REQUIRED"
                )));
            };
            if value.is_empty() || value.len() > 246 || value.contains(char::is_whitespace) {
                return Err(invalid(format!("IKJ56702I INVALID WHEN({kind}) VALUE")));
            }
            Ok(Condition {
                kind: (*kind).to_owned(),
                value: value.to_ascii_uppercase(),
            })
        }
        _ => Err(invalid(
            "IKJ56702I INVALID WHEN: WRITE WHEN(KIND(value)), e.g. WHEN(TERMINAL(T1))",
        )),
    }
}
