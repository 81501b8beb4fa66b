//! What a command runs with and what it gives back: who issues it, the
//! outcome (changes, lines, refreshes) and the error, with RACF's message.

use std::fmt;

use zgate_base::Random;

use crate::password::HashCost;
use crate::state::Change;
use crate::store::StoreError;
use crate::syntax::SyntaxError;

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
    /// A command or operand zgate does not implement (ICSF keys).
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
    pub(crate) fn new(kind: CommandErrorKind, msg: impl Into<String>) -> CommandError {
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

pub(super) fn syntax(e: SyntaxError) -> CommandError {
    CommandError::new(CommandErrorKind::Syntax, e.0)
}

pub(super) fn invalid(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::Invalid, msg)
}

pub(super) fn not_found(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::NotFound, msg)
}

pub(super) fn duplicate(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::Duplicate, msg)
}

/// What must be refreshed in the index beyond the automatic refresh.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Refresh {
    /// Reload a class's profiles (`SETROPTS RACLIST(c) REFRESH`).
    Class(String),
    /// Reload a class's GLOBAL table (`SETROPTS GLOBAL(c) [REFRESH]`).
    Global(String),
}

/// What executing a command against the state gives: nothing is changed
/// until the caller commits it.
#[derive(Default)]
pub struct Effect {
    /// Changes to commit, in order.
    pub changes: Vec<Change>,
    /// Lines to print.
    pub lines: Vec<String>,
    /// Explicit refreshes requested.
    pub refresh: Vec<Refresh>,
    /// Keywords ignored for want of authority (RACF's command qualifier 2).
    pub ignored: Vec<String>,
    /// AUDITOR authority was used.
    pub used_auditor: bool,
    /// Audit controls changed (UAUDIT, GLOBALAUDIT, profile AUDIT,
    /// SETROPTS audit options): always logged.
    pub changes_audit_controls: bool,
    /// Files to write once the command's transaction committed
    /// (RACDCERT EXPORT): an effect of the command, never a half-done state.
    pub exports: Vec<FileExport>,
}

/// A file a command writes after its commit.
pub struct FileExport {
    /// Where (a host path).
    pub path: std::path::PathBuf,
    /// What.
    pub data: zeroize::Zeroizing<Vec<u8>>,
    /// It holds a private key: written 0600.
    pub private: bool,
}

/// What execution needs besides the state.
pub struct Env<'a> {
    /// Who runs it.
    pub issuer: &'a Issuer,
    /// Now (ms since the epoch).
    pub now_ms: i64,
    /// The password hash cost.
    pub cost: HashCost,
    /// Where new secrets (TOTP seeds) come from.
    pub random: &'a dyn Random,
    /// What seals stored private keys (none: a command that must store
    /// one fails).
    pub key_encryption: Option<&'a crate::keywrap::KeyEncryption>,
}

impl Env<'_> {
    pub(super) fn owner(&self) -> String {
        match self.issuer {
            Issuer::Operator => "SYS1".into(),
            Issuer::User(u) => u.clone(),
        }
    }
}
