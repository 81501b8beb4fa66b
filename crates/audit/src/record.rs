//! One audit record, as the trail stores it (spec `audit.md` section 5):
//! RACF's event code and qualifier with IRRADU00's field names, where the
//! request came from, and what was decided. Records are built here and
//! handed to an [`AuditSink`]; the trail adds `v`, `seq`, `prev_hash` and
//! `hash` when it writes them.
//!
//! zgate's own events, which RACF has no code for, take codes from 200 up
//! (RACF's stop below 100), so a RACF report tool never mistakes them:
//! [`TOKEN`] (a token issued, refreshed or revoked) and [`RELOAD`] (the
//! routing definitions reloaded). A logout is RACF's event 1 qualifier 8,
//! "successful termination".
//!
//! No secret ever enters a record: the builders take ids, names, levels,
//! addresses and fingerprints, and a command's text only through
//! [`AuditRecord::command`], whose caller masks it first.

use serde_json::{Map, Value};

use crate::decide::LogReason;

/// RACF event 1, JOBINIT: logon and logoff.
pub const JOBINIT: u32 = 1;
/// RACF event 2, ACCESS: a resource check.
pub const ACCESS: u32 = 2;
/// RACF event 66, RACDCERT.
pub const RACDCERT: u32 = 66;
/// RACF event 67, initACEE: a certificate that maps to no user.
pub const INITACEE: u32 = 67;
/// RACF event 85, RACMAP.
pub const RACMAP: u32 = 85;
/// zgate: a token issued (qualifier 0), refreshed (1) or revoked (2).
pub const TOKEN: u32 = 200;
/// zgate: the routing definitions reloaded (0) or a reload failed (1).
pub const RELOAD: u32 = 201;

/// RACF's event code of a command (events 8-25; RACDCERT 66; RACMAP 85),
/// or `None` for a command RACF does not log (listings).
pub fn command_event(name: &str) -> Option<u32> {
    Some(match name {
        "ADDSD" => 8,
        "ADDGROUP" => 9,
        "ADDUSER" => 10,
        "ALTDSD" => 11,
        "ALTGROUP" => 12,
        "ALTUSER" => 13,
        "CONNECT" => 14,
        "DELDSD" => 15,
        "DELGROUP" => 16,
        "DELUSER" => 17,
        "PASSWORD" | "PHRASE" => 18,
        "PERMIT" => 19,
        "RALTER" => 20,
        "RDEFINE" => 21,
        "RDELETE" => 22,
        "REMOVE" => 23,
        "SETROPTS" => 24,
        "RVARY" => 25,
        "RACDCERT" => RACDCERT,
        "RACMAP" => RACMAP,
        _ => return None,
    })
}

/// The name IRRADU00 gives an event (`<ID>_EVENT_TYPE`).
pub fn event_type(event: u32) -> &'static str {
    match event {
        JOBINIT => "JOBINIT",
        ACCESS => "ACCESS",
        8 => "ADDSD",
        9 => "ADDGROUP",
        10 => "ADDUSER",
        11 => "ALTDSD",
        12 => "ALTGROUP",
        13 => "ALTUSER",
        14 => "CONNECT",
        15 => "DELDSD",
        16 => "DELGROUP",
        17 => "DELUSER",
        18 => "PASSWORD",
        19 => "PERMIT",
        20 => "RALTER",
        21 => "RDEFINE",
        22 => "RDELETE",
        23 => "REMOVE",
        24 => "SETROPTS",
        25 => "RVARY",
        RACDCERT => "RACDCERT",
        INITACEE => "INITACEE",
        RACMAP => "RACMAP",
        TOKEN => "TOKEN",
        RELOAD => "RELOAD",
        _ => "UNKNOWN",
    }
}

/// Event 1 qualifiers zgate produces (RACF's numbers and meanings).
pub mod jobinit {
    /// Successful initiation.
    pub const SUCCESS: u32 = 0;
    /// Invalid password.
    pub const INVALID_PASSWORD: u32 = 1;
    /// Revoked user attempting access.
    pub const REVOKED: u32 = 6;
    /// User id automatically revoked (too many bad attempts).
    pub const AUTO_REVOKED: u32 = 7;
    /// Successful termination (logout).
    pub const TERMINATION: u32 = 8;
    /// Undefined user id.
    pub const UNDEFINED_USER: u32 = 9;
    /// Current password expired.
    pub const PASSWORD_EXPIRED: u32 = 25;
    /// Invalid new password.
    pub const INVALID_NEW_PASSWORD: u32 = 26;
    /// Successful initiation using a PassTicket.
    pub const PASSTICKET: u32 = 32;
    /// Attempted replay of a PassTicket.
    pub const PASSTICKET_REPLAY: u32 = 33;
    /// Invalid password phrase.
    pub const INVALID_PHRASE: u32 = 36;
    /// Current password phrase expired.
    pub const PHRASE_EXPIRED: u32 = 38;
    /// Invalid new password phrase.
    pub const INVALID_NEW_PHRASE: u32 = 37;
    /// No RACF user id found for a distributed identity.
    pub const NO_USER_FOR_IDENTITY: u32 = 39;
}

/// Event 67 qualifiers zgate produces.
pub mod initacee {
    /// No user id for the certificate.
    pub const NO_USER: u32 = 4;
    /// The certificate is not trusted.
    pub const NOT_TRUSTED: u32 = 5;
}

/// The name of a qualifier of `event` (`<ID>_EVENT_QUAL`).
pub fn qualifier_name(event: u32, qualifier: u32) -> &'static str {
    match (event, qualifier) {
        (JOBINIT, 0) => "SUCCESS",
        (JOBINIT, 1) => "INVPSWD",
        (JOBINIT, 6) => "USERREV",
        (JOBINIT, 7) => "AUTOREV",
        (JOBINIT, 8) => "TERM",
        (JOBINIT, 9) => "UNDFUSER",
        (JOBINIT, 25) => "PWDEXPR",
        (JOBINIT, 26) => "INVNEWPW",
        (JOBINIT, 32) => "SUCCPTKT",
        (JOBINIT, 33) => "PTKTREPL",
        (JOBINIT, 36) => "INVPHRSE",
        (JOBINIT, 37) => "INVNEWPH",
        (JOBINIT, 38) => "PHRSEXPR",
        (JOBINIT, 39) => "NOIDMAP",
        (ACCESS, 0) => "SUCCESS",
        (ACCESS, 1) => "INSAUTH",
        (ACCESS, 2) => "PROFNTFD",
        (ACCESS, 3) => "WARNING",
        (INITACEE, 4) => "NOUSRFND",
        (INITACEE, 5) => "NOTTRUST",
        (TOKEN, 0) => "ISSUE",
        (TOKEN, 1) => "REFRESH",
        (TOKEN, 2) => "REVOKE",
        (RELOAD, 0) => "SUCCESS",
        (RELOAD, 1) => "FAILED",
        (_, 0) => "SUCCESS",
        (_, 1) => "INSAUTH",
        (_, 2) => "KEYWVIOL",
        _ => "UNKNOWN",
    }
}

/// Whether a qualifier of `event` is a violation (SMF80DES bit 0).
pub fn is_violation(event: u32, qualifier: u32) -> bool {
    match event {
        JOBINIT => !matches!(qualifier, 0 | 8 | 12 | 13 | 32 | 40),
        ACCESS => !matches!(qualifier, 0 | 3 | 5),
        TOKEN => false,
        RELOAD => false,
        INITACEE => matches!(qualifier, 2..=5 | 7..=10),
        _ => qualifier != 0,
    }
}

/// Where a request came from, as the records name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address and port (`term`).
    pub term: Option<String>,
    /// The request id the access log shows too.
    pub request_id: Option<String>,
    /// What received it: the listener or the route (`job_name`).
    pub job_name: Option<String>,
}

impl Origin {
    /// A command or check from the local shell (`zgate esm ...`).
    pub fn local_shell() -> Origin {
        Origin {
            term: None,
            request_id: None,
            job_name: Some("ZGATECLI".into()),
        }
    }
}

/// The authority a command or check used (SMF80ATH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Authority {
    /// Normal authority checking.
    Normal,
    /// SPECIAL.
    Special,
    /// OPERATIONS.
    Operations,
    /// AUDITOR.
    Auditor,
    /// The local operator (`zgate esm` on the data directory): trusted.
    Trusted,
}

impl Authority {
    /// The name in `auth[]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Authority::Normal => "NORMAL",
            Authority::Special => "SPECIAL",
            Authority::Operations => "OPERATIONS",
            Authority::Auditor => "AUDITOR",
            Authority::Trusted => "TRUSTED",
        }
    }
}

/// One record being built.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    fields: Map<String, Value>,
}

impl AuditRecord {
    /// A record of `event` with `qualifier`, written at `at_ms` (ms since
    /// the epoch), about `user` (upper case; `None` when no user is known).
    pub fn new(event: u32, qualifier: u32, at_ms: i64, user: Option<&str>) -> AuditRecord {
        let mut f = Map::new();
        f.insert("time_written".into(), rfc3339_ms(at_ms).into());
        f.insert("event".into(), event.into());
        f.insert("event_type".into(), event_type(event).into());
        f.insert("event_qual".into(), qualifier.into());
        f.insert(
            "event_qual_name".into(),
            qualifier_name(event, qualifier).into(),
        );
        f.insert("violation".into(), is_violation(event, qualifier).into());
        f.insert(
            "user_warning".into(),
            (event == ACCESS && qualifier == 3).into(),
        );
        f.insert("evt_user_id".into(), user.unwrap_or("").into());
        AuditRecord { fields: f }
    }

    /// Sets a field (names of spec section 5).
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> AuditRecord {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// The user is not defined (`user_ndfnd`).
    pub fn undefined_user(self) -> AuditRecord {
        self.set("user_ndfnd", true)
    }

    /// Why the record is written.
    pub fn reasons(self, reasons: &[LogReason]) -> AuditRecord {
        let list: Vec<Value> = reasons.iter().map(|r| r.as_str().into()).collect();
        self.set("log_reason", list)
    }

    /// The authority used.
    pub fn authority(self, auth: &[Authority]) -> AuditRecord {
        let list: Vec<Value> = auth.iter().map(|a| a.as_str().into()).collect();
        self.set("auth", list)
    }

    /// Where the request came from.
    pub fn origin(mut self, origin: &Origin) -> AuditRecord {
        for (k, v) in [
            ("term", &origin.term),
            ("request_id", &origin.request_id),
            ("job_name", &origin.job_name),
        ] {
            if let Some(v) = v {
                self.fields.insert(k.into(), v.clone().into());
            }
        }
        self
    }

    /// A command's text, which the caller has masked
    /// (`zgate_esm::command::masking`), and its name.
    pub fn command(self, name: &str, text_masked: &str) -> AuditRecord {
        let mut cmd = Map::new();
        cmd.insert("name".into(), name.into());
        cmd.insert("text_masked".into(), text_masked.into());
        self.set("cmd", Value::Object(cmd))
    }

    /// A field's value, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The fields, for the trail.
    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }
}

/// `at_ms` as RFC 3339 UTC with milliseconds, e.g. `2026-12-05T22:19:29.123Z`.
pub fn rfc3339_ms(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let ms = at_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The trail cannot take the record now (queue full, or the disk failed)
/// and the policy is to refuse what must be audited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit trail cannot record: {0}")]
pub struct AuditUnavailable(pub String);

/// Where records go. `submit` must not block on disk: it is called on the
/// request path. An `Err` means the record is not kept and the policy is to
/// fail closed: the caller refuses what it was about to allow.
pub trait AuditSink: Send + Sync {
    /// Hands one record to the trail.
    fn submit(&self, record: AuditRecord) -> Result<(), AuditUnavailable>;
}

/// An [`AuditSink`] keeping records in memory (tests of the crates that
/// record).
#[derive(Default)]
pub struct MemorySink {
    records: std::sync::Mutex<Vec<Map<String, Value>>>,
}

impl MemorySink {
    /// The records so far, oldest first.
    pub fn records(&self) -> Vec<Map<String, Value>> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn submit(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record.into_fields());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_509_169_123), "2026-12-05T22:19:29.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_record_carries_racf_names_and_the_violation_flag() {
        let r = AuditRecord::new(JOBINIT, jobinit::REVOKED, 0, Some("ALICE"))
            .origin(&Origin {
                term: Some("10.0.0.1:5000".into()),
                request_id: Some("r1".into()),
                job_name: None,
            })
            .into_fields();
        assert_eq!(r["event_type"], "JOBINIT");
        assert_eq!(r["event_qual_name"], "USERREV");
        assert_eq!(r["violation"], true);
        assert_eq!(r["term"], "10.0.0.1:5000");
        assert!(!r.contains_key("job_name"));
        let ok = AuditRecord::new(JOBINIT, jobinit::PASSTICKET, 0, Some("A")).into_fields();
        assert_eq!(ok["violation"], false);
        let warn = AuditRecord::new(ACCESS, 3, 0, Some("A")).into_fields();
        assert_eq!(
            (warn["violation"].clone(), warn["user_warning"].clone()),
            (false.into(), true.into())
        );
    }

    #[test]
    fn commands_have_racf_event_codes_and_listings_none() {
        assert_eq!(command_event("ADDUSER"), Some(10));
        assert_eq!(command_event("SETROPTS"), Some(24));
        assert_eq!(command_event("RACDCERT"), Some(66));
        assert_eq!(command_event("LISTUSER"), None);
        assert_eq!(event_type(21), "RDEFINE");
    }
}
