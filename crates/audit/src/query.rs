//! Selecting records as an auditor asks (RACF's IRRADU00 questions): by
//! user, event and qualifier, class, resource, time, violation, WARNING,
//! and the authority a command used. The trail's own records (`FILEHDR`,
//! `ROTATE`, `CHECKPOINT`) are never answers.

use serde_json::{Map, Value};

/// A query: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `evt_user_id`, compared case-insensitively.
    pub user: Option<String>,
    /// `event` (RACF's event code).
    pub event: Option<u64>,
    /// `event_qual`.
    pub qualifier: Option<u64>,
    /// `class`, case-insensitively.
    pub class: Option<String>,
    /// `res_name`, case-insensitively.
    pub resource: Option<String>,
    /// `time_written` at or after (RFC 3339, UTC).
    pub since: Option<String>,
    /// `time_written` before (RFC 3339, UTC).
    pub until: Option<String>,
    /// `violation`.
    pub violation: Option<bool>,
    /// `user_warning`: granted only because of WARNING.
    pub warning: Option<bool>,
    /// An entry of `auth` (`SPECIAL`, `AUDITOR`, ...).
    pub authority: Option<String>,
}

const TRAIL_RECORDS: [&str; 3] = ["FILEHDR", "ROTATE", "CHECKPOINT"];

impl Query {
    /// Whether `record` answers the query.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        let text = |k: &str| record.get(k).and_then(Value::as_str);
        let same = |k: &str, want: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| text(k).is_some_and(|v| v.eq_ignore_ascii_case(w)))
        };
        let number = |k: &str, want: Option<u64>| {
            want.is_none_or(|w| record.get(k).and_then(Value::as_u64) == Some(w))
        };
        let flag = |k: &str, want: Option<bool>| {
            want.is_none_or(|w| record.get(k).and_then(Value::as_bool).unwrap_or(false) == w)
        };
        let time = text("time_written").unwrap_or_default();
        !TRAIL_RECORDS.contains(&text("event_type").unwrap_or_default())
            && same("evt_user_id", &self.user)
            && number("event", self.event)
            && number("event_qual", self.qualifier)
            && same("class", &self.class)
            && same("res_name", &self.resource)
            && self.since.as_deref().is_none_or(|s| time >= s)
            && self.until.as_deref().is_none_or(|u| time < u)
            && flag("violation", self.violation)
            && flag("user_warning", self.warning)
            && self.authority.as_ref().is_none_or(|a| {
                record
                    .get("auth")
                    .and_then(Value::as_array)
                    .is_some_and(|list| {
                        list.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(a)))
                    })
            })
    }
}
