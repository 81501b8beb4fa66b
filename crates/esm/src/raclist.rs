//! The in-storage copies of RACLISTed classes and of GLOBAL tables.
//!
//! On RACF, `SETROPTS RACLIST(c)` copies the class's profiles into storage
//! and checks read only that copy: `RDEFINE`, `PERMIT` and the rest change the
//! database, and reach checks at `SETROPTS RACLIST(c) REFRESH` (IBM, z/OS
//! Security Server RACF Command Language Reference, SETROPTS "RACLIST",
//! "REFRESH"). `SETROPTS GLOBAL(c)` likewise builds the class's GLOBAL access
//! table, which changes only at `SETROPTS GLOBAL(c) REFRESH` (same page,
//! "GLOBAL").
//!
//! zgate's "storage" is every process on the store at once: a gateway, a
//! second gateway, and each `zgate esm` command. So the copy is itself stored,
//! as a security record written by the command that makes it (one record per
//! class, replaced at each refresh), and every process builds its index of a
//! RACLISTed class from that record, not from the profiles. A process that
//! starts later therefore sees what the running ones see, and an unrefreshed
//! change is invisible to all of them. Decision: a zgate process start is not
//! an IPL; only the administrator's REFRESH (or NORACLIST) publishes changes.
//!
//! PTKTDATA keys are not copied (PassTicket evaluation reads the profiles as
//! RACF's does through the database copy of the key), so no secret is
//! stored twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::idmap;
use crate::model::{AccessLevel, Condition, Profile, GLOBAL_CLASS};
use crate::state::{Change, State};

/// Record kind: a RACLISTed class's profiles, keyed by class.
pub const PROFILES_KIND: &str = "raclist.profiles";
/// Record kind: a class's GLOBAL entries, keyed by class.
pub const GLOBAL_KIND: &str = "raclist.global";

/// The change that stores the current profiles of `class` as its
/// in-storage copy.
pub fn copy_profiles(state: &State, class: &str) -> Change {
    let profiles: Vec<Value> = state
        .profiles
        .get(class)
        .into_iter()
        .flat_map(|m| m.values())
        .map(|p| encode(p))
        .collect();
    Change::put_record(PROFILES_KIND, class, Value::Array(profiles).to_string())
}

/// The changes that make `class`'s in-storage copy: its profiles and, for
/// IDIDMAP, the distributed identity filters (which RACF keeps as IDIDMAP
/// profiles and zgate as records; see [`crate::idmap`]).
pub fn copy_class(state: &State, class: &str) -> Vec<Change> {
    let mut out = vec![copy_profiles(state, class)];
    if class == idmap::CLASS {
        out.push(idmap::copy_filters(state));
    }
    out
}

/// The changes that drop `class`'s in-storage copy (NORACLIST).
pub fn drop_class(class: &str) -> Vec<Change> {
    let mut out = vec![Change::delete_record(PROFILES_KIND, class)];
    if class == idmap::CLASS {
        out.push(Change::delete_record(idmap::COPY_KIND, class));
    }
    out
}

/// The change that stores the current GLOBAL entries of `class`.
pub fn copy_global(state: &State, class: &str) -> Change {
    let members: Vec<&String> = state
        .profile(GLOBAL_CLASS, class)
        .map(|p| p.members.iter().collect())
        .unwrap_or_default();
    Change::put_record(GLOBAL_KIND, class, json!(members).to_string())
}

/// The copies a store lacks: one for every class RACLISTed, and every
/// GLOBAL table active, without one.
pub fn missing_copies(state: &State) -> Vec<Change> {
    let mut out = Vec::new();
    for (class, settings) in &state.classes {
        if settings.raclist && state.records.get(PROFILES_KIND, class).is_none() {
            out.push(copy_profiles(state, class));
        }
        if settings.raclist
            && class == idmap::CLASS
            && state.records.get(idmap::COPY_KIND, class).is_none()
        {
            out.push(idmap::copy_filters(state));
        }
        if settings.global && state.records.get(GLOBAL_KIND, class).is_none() {
            out.push(copy_global(state, class));
        }
    }
    out
}

/// The in-storage profiles of `class`, when it has a copy. A copy that does
/// not decode (hand-edited or corrupt) is no copy: the class is read from
/// its profiles, as after a refresh. Dropping profiles instead would turn
/// "protected" into "not protected", which some callers take as allowed.
pub fn profiles(state: &State, class: &str) -> Option<Vec<Arc<Profile>>> {
    let text = state.records.get(PROFILES_KIND, class)?;
    let values: Vec<Value> = serde_json::from_str(text).ok()?;
    values
        .iter()
        .map(|v| decode(class, v).map(Arc::new))
        .collect()
}

/// The in-storage GLOBAL entries of `class`, when it has a copy (a corrupt
/// copy is none, as for [`profiles`]).
pub fn global_members(state: &State, class: &str) -> Option<Vec<String>> {
    let text = state.records.get(GLOBAL_KIND, class)?;
    serde_json::from_str(text).ok()
}

fn encode(p: &Profile) -> Value {
    let access: Vec<Value> = p
        .access
        .iter()
        .map(|(id, l)| json!([id, l.to_string()]))
        .collect();
    let conditional: Vec<Value> = p
        .conditional
        .iter()
        .map(|((id, c), l)| json!([id, c.kind, c.value, l.to_string()]))
        .collect();
    json!({
        "name": p.name,
        "owner": p.owner,
        "uacc": p.uacc.to_string(),
        "warning": p.warning,
        "appldata": p.appldata,
        "data": p.data,
        "access": access,
        "conditional": conditional,
        "members": p.members,
        "created_ms": p.created_ms,
        "literal_name": p.literal_name,
        "audit": crate::model::audit_setting_text(&p.audit),
        "global_audit": crate::model::audit_setting_text(&p.global_audit),
    })
}

fn decode(class: &str, v: &Value) -> Option<Profile> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let level = |v: &Value| v.as_str().and_then(|s| s.parse::<AccessLevel>().ok());
    let mut p = Profile::new(
        class.to_owned(),
        text("name")?,
        text("owner")?,
        v.get("created_ms")?.as_i64()?,
    );
    p.uacc = level(v.get("uacc")?)?;
    p.warning = v.get("warning")?.as_bool()?;
    p.appldata = text("appldata")?;
    p.data = text("data")?;
    p.literal_name = v.get("literal_name")?.as_bool()?;
    // A copy made before audit settings existed has RACF's defaults.
    if let Some(a) = text("audit") {
        p.audit = crate::model::parse_audit_setting(&a)?;
    }
    if let Some(a) = text("global_audit") {
        p.global_audit = crate::model::parse_audit_setting(&a)?;
    }
    let mut access = BTreeMap::new();
    for e in v.get("access")?.as_array()? {
        access.insert(e.get(0)?.as_str()?.to_owned(), level(e.get(1)?)?);
    }
    p.access = access;
    let mut conditional = BTreeMap::new();
    for e in v.get("conditional")?.as_array()? {
        let condition = Condition {
            kind: e.get(1)?.as_str()?.to_owned(),
            value: e.get(2)?.as_str()?.to_owned(),
        };
        conditional.insert(
            (e.get(0)?.as_str()?.to_owned(), condition),
            level(e.get(3)?)?,
        );
    }
    p.conditional = conditional;
    let mut members = BTreeSet::new();
    for m in v.get("members")?.as_array()? {
        members.insert(m.as_str()?.to_owned());
    }
    p.members = members;
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_gives_back_the_profiles_it_was_made_from() {
        let mut state = State::default();
        let mut p = Profile::new("ZOWE".into(), "APIML.**".into(), "SYS1".into(), 7);
        p.uacc = AccessLevel::Read;
        p.warning = true;
        p.appldata = "A B".into();
        p.access.insert("BOB".into(), AccessLevel::Update);
        p.conditional.insert(
            (
                "*".into(),
                Condition {
                    kind: "SERVAUTH".into(),
                    value: "NET1".into(),
                },
            ),
            AccessLevel::Read,
        );
        p.members.insert("X/READ".into());
        state.apply(&Change::PutProfile(Box::new(p.clone())));
        state.apply(&copy_profiles(&state, "ZOWE"));
        let back = profiles(&state, "ZOWE").unwrap();
        assert_eq!(back.len(), 1);
        let b = &back[0];
        assert_eq!(
            (
                &b.name,
                &b.owner,
                b.uacc,
                b.warning,
                &b.appldata,
                &b.access,
                &b.conditional,
                &b.members,
                b.created_ms
            ),
            (
                &p.name,
                &p.owner,
                p.uacc,
                p.warning,
                &p.appldata,
                &p.access,
                &p.conditional,
                &p.members,
                p.created_ms
            )
        );
    }

    #[test]
    fn a_corrupt_copy_is_no_copy() {
        let mut state = State::default();
        state.apply(&Change::put_record(PROFILES_KIND, "ZOWE", "{not json"));
        state.apply(&Change::put_record(
            PROFILES_KIND,
            "FACILITY",
            r#"[{"name":"X"}]"#,
        ));
        state.apply(&Change::put_record(GLOBAL_KIND, "ZOWE", "7"));
        assert!(profiles(&state, "ZOWE").is_none());
        assert!(profiles(&state, "FACILITY").is_none());
        assert!(profiles(&state, "OTHER").is_none());
        assert!(global_members(&state, "ZOWE").is_none());
    }
}
