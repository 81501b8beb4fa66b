//! The ESM's audit records (spec `audit.md`): what a logon (event 1), a
//! resource check (event 2), a certificate that maps to nobody (event 67)
//! and a command (events 8-25, 66, 85) record, and whether RACF's controls
//! log them ([`zgate_audit::decide::decide`]). The engine hands the records
//! to the [`AuditSink`] of its configuration.

use zgate_audit::decide::{self, Controls, Event, LogReason};
use zgate_audit::record::{self, initacee, jobinit};
use zgate_audit::{AuditRecord, Authority, Origin};

use crate::index::Decision;
use crate::model::{AccessLevel, AuditLevel, Options};

pub use zgate_audit::{AuditSink, AuditUnavailable};

/// RACF's audit level of a requested access (EXECUTE and NONE log as READ).
pub fn audit_level(level: AccessLevel) -> AuditLevel {
    match level {
        AccessLevel::Alter => AuditLevel::Alter,
        AccessLevel::Control => AuditLevel::Control,
        AccessLevel::Update => AuditLevel::Update,
        _ => AuditLevel::Read,
    }
}

/// The record of a resource check, when RACF's controls log it.
pub fn access_record(
    at_ms: i64,
    user: &str,
    class: &str,
    resource: &str,
    d: &Decision,
    operaudit: bool,
    origin: &Origin,
) -> Option<AuditRecord> {
    let granted = d.saf_rc == 0;
    let warning = granted && d.reason == 4;
    let controls = Controls {
        uaudit: d.logging.uaudit,
        log_options: d.logging.log_options,
        ..Controls::default()
    };
    let mut why = decide::decide(
        &Event::Access {
            granted,
            warning,
            requested: audit_level(d.requested),
            profile: d.logging.profile,
        },
        &controls,
    );
    // OPERAUDIT: access that only the OPERATIONS attribute allowed.
    if d.logging.by_operations && operaudit {
        why.push(LogReason::Special);
    }
    if why.is_empty() {
        return None;
    }
    let qualifier = match (d.saf_rc, warning) {
        (0, true) => 3,
        (0, false) => 0,
        (4, _) => 2,
        _ => 1,
    };
    let mut auth = vec![Authority::Normal];
    if d.logging.by_operations {
        auth = vec![Authority::Operations];
    }
    let mut r = AuditRecord::new(record::ACCESS, qualifier, at_ms, Some(user))
        .reasons(&why)
        .authority(&auth)
        .origin(origin)
        .set("res_name", resource)
        .set("class", class)
        .set("intent", d.requested.to_string());
    if let Some(p) = &d.profile {
        r = r
            .set("profile", p.as_str())
            .set("generic", d.logging.generic);
    }
    if granted {
        let allowed = d.level.unwrap_or(d.requested);
        r = r.set("allowed", allowed.to_string());
    } else {
        r = r.set(
            "allowed",
            d.level
                .map(|l| l.to_string())
                .unwrap_or_else(|| "NONE".into()),
        );
    }
    Some(r)
}

/// How a logon presented its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonMethod {
    /// A password.
    Password,
    /// A password phrase.
    Phrase,
    /// A PassTicket for an application.
    PassTicket,
    /// A client certificate.
    Certificate,
    /// A distributed identity mapped by a RACMAP filter.
    DistributedIdentity,
}

impl LogonMethod {
    fn as_str(self) -> &'static str {
        match self {
            LogonMethod::Password => "PASSWORD",
            LogonMethod::Phrase => "PHRASE",
            LogonMethod::PassTicket => "PASSTICKET",
            LogonMethod::Certificate => "CERTIFICATE",
            LogonMethod::DistributedIdentity => "DISTRIBUTED IDENTITY",
        }
    }
}

/// What a logon came to, for its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonResult {
    /// Logged on.
    Success,
    /// Logged on and changed the password or phrase.
    SuccessChanged,
    /// The user is not defined.
    UndefinedUser,
    /// Wrong secret (or second factor).
    WrongSecret,
    /// Wrong secret, and this failure revoked the user.
    AutoRevoked,
    /// The secret is expired.
    Expired,
    /// The new secret is refused.
    NewSecretInvalid,
    /// The user is revoked.
    Revoked,
    /// A PassTicket used before.
    PassTicketReplay,
}

/// The record of a logon, when RACF logs it: every failure; a success
/// with a PassTicket or a changed secret; anything by a UAUDIT user.
pub fn logon_record(
    at_ms: i64,
    user: &str,
    method: LogonMethod,
    result: LogonResult,
    uaudit: bool,
    appl: Option<&str>,
    origin: &Origin,
) -> Option<AuditRecord> {
    let phrase = method == LogonMethod::Phrase;
    let qualifier = match result {
        LogonResult::Success | LogonResult::SuccessChanged => {
            if method == LogonMethod::PassTicket {
                jobinit::PASSTICKET
            } else {
                jobinit::SUCCESS
            }
        }
        LogonResult::UndefinedUser => jobinit::UNDEFINED_USER,
        LogonResult::WrongSecret if phrase => jobinit::INVALID_PHRASE,
        LogonResult::WrongSecret => jobinit::INVALID_PASSWORD,
        LogonResult::AutoRevoked => jobinit::AUTO_REVOKED,
        LogonResult::Expired if phrase => jobinit::PHRASE_EXPIRED,
        LogonResult::Expired => jobinit::PASSWORD_EXPIRED,
        LogonResult::NewSecretInvalid if phrase => jobinit::INVALID_NEW_PHRASE,
        LogonResult::NewSecretInvalid => jobinit::INVALID_NEW_PASSWORD,
        LogonResult::Revoked => jobinit::REVOKED,
        LogonResult::PassTicketReplay => jobinit::PASSTICKET_REPLAY,
    };
    let success = matches!(result, LogonResult::Success | LogonResult::SuccessChanged);
    let why = decide::decide(
        &Event::Logon {
            success,
            passticket: method == LogonMethod::PassTicket,
            changed_secret: result == LogonResult::SuccessChanged,
        },
        &Controls {
            uaudit,
            ..Controls::default()
        },
    );
    if why.is_empty() {
        return None;
    }
    let mut r = AuditRecord::new(record::JOBINIT, qualifier, at_ms, Some(user))
        .reasons(&why)
        .authority(&[Authority::Normal])
        .origin(origin)
        .set("logstr", method.as_str());
    if result == LogonResult::UndefinedUser {
        r = r.undefined_user();
    }
    if let Some(appl) = appl {
        r = r.set("appl", appl);
    }
    Some(r)
}

/// The record of a client certificate no user is mapped to (event 67
/// qualifier 4): always logged. Only its fingerprint and names appear.
pub fn unmapped_certificate_record(
    at_ms: i64,
    sha256: &str,
    subject: &str,
    issuer: &str,
    origin: &Origin,
) -> AuditRecord {
    let mut tls = serde_json::Map::new();
    tls.insert("client_cert_sha256".into(), sha256.into());
    tls.insert("subject_dn".into(), subject.into());
    tls.insert("issuer_dn".into(), issuer.into());
    AuditRecord::new(record::INITACEE, initacee::NO_USER, at_ms, None)
        .reasons(&[LogReason::Always])
        .origin(origin)
        .set("tls", serde_json::Value::Object(tls))
}

/// The most of a distributed name or registry a record keeps: a little
/// over the limits (246 and 252 bytes), so that a name refused as too long
/// still shows that it was, without the trail holding whatever length a
/// caller sent.
const IDID_RECORD_MAX_BYTES: usize = 256;

fn clipped(text: &str) -> &str {
    let mut end = text.len().min(IDID_RECORD_MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The record of a distributed identity no user is mapped to (event 1
/// qualifier 39): always logged, as RACF logs it.
pub fn unmapped_identity_record(
    at_ms: i64,
    user_dn: &str,
    registry: &str,
    origin: &Origin,
) -> AuditRecord {
    let mut idid = serde_json::Map::new();
    idid.insert("user_dn".into(), clipped(user_dn).into());
    idid.insert("registry".into(), clipped(registry).into());
    AuditRecord::new(record::JOBINIT, jobinit::NO_USER_FOR_IDENTITY, at_ms, None)
        .reasons(&[LogReason::Always])
        .origin(origin)
        .set("idid", serde_json::Value::Object(idid))
}

/// Who issued a command, for its record and RACF's command controls.
pub struct CommandIssuer<'a> {
    /// The user id, `None` for the local operator.
    pub user: Option<&'a str>,
    /// SPECIAL.
    pub special: bool,
    /// AUDITOR.
    pub auditor: bool,
    /// UAUDIT.
    pub uaudit: bool,
}

/// What a command came to.
pub struct CommandFacts<'a> {
    /// The command's name (`ALTUSER`).
    pub name: &'a str,
    /// Its text, secrets masked.
    pub text_masked: &'a str,
    /// The `SETROPTS AUDIT` class it changes a profile of.
    pub audit_class: Option<String>,
    /// Refused for insufficient authority (qualifier 1).
    pub refused: bool,
    /// Keywords ignored for insufficient authority (qualifier 2).
    pub ignored: &'a [String],
    /// It used AUDITOR authority.
    pub used_auditor: bool,
    /// It changes audit controls (always logged).
    pub changes_audit_controls: bool,
}

/// The record of a command, when RACF's controls log it; `None` also for
/// the commands RACF does not log (listings).
pub fn command_record(
    at_ms: i64,
    issuer: &CommandIssuer<'_>,
    facts: &CommandFacts<'_>,
    options: &Options,
    audit_classes: Vec<String>,
    origin: &Origin,
) -> Option<AuditRecord> {
    let event = record::command_event(facts.name)?;
    let violation = facts.refused || !facts.ignored.is_empty();
    // The local operator acts with every authority, SPECIAL included, so
    // SAUDIT (initially on) logs its commands.
    let special = issuer.user.is_none() || issuer.special;
    let mut why = decide::decide(
        &Event::Command {
            always: matches!(facts.name, "SETROPTS" | "RVARY"),
            listing: false,
            audit_class: facts.audit_class.clone(),
            violation,
            by_operations: false,
        },
        &Controls {
            uaudit: issuer.uaudit,
            special,
            log_options: Default::default(),
            audit_classes,
            saudit: options.saudit,
            cmdviol: options.cmdviol,
            operaudit: options.operaudit,
        },
    );
    if facts.changes_audit_controls && !facts.refused {
        why.push(LogReason::Always);
        why.sort();
        why.dedup();
    }
    if why.is_empty() {
        return None;
    }
    let qualifier = if facts.refused {
        1
    } else if !facts.ignored.is_empty() {
        2
    } else {
        0
    };
    let mut auth = Vec::new();
    match issuer.user {
        None => auth.push(Authority::Trusted),
        Some(_) => {
            if issuer.special {
                auth.push(Authority::Special);
            }
            if issuer.auditor && facts.used_auditor {
                auth.push(Authority::Auditor);
            }
            if auth.is_empty() {
                auth.push(Authority::Normal);
            }
        }
    }
    let mut r = AuditRecord::new(event, qualifier, at_ms, issuer.user)
        .reasons(&why)
        .authority(&auth)
        .origin(origin)
        .command(facts.name, facts.text_masked);
    if !facts.ignored.is_empty() {
        r = r.set("ignored", facts.ignored.to_vec());
    }
    if let Some(class) = &facts.audit_class {
        r = r.set("class", class.as_str());
    }
    Some(r)
}
