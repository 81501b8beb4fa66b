//! Importing YAML: Zowe's `mock-saf.yml` (spec section 9) and zgate's own
//! format. Both are turned into RACF commands run as one transaction, so an
//! import validates exactly as typed commands do.
//!
//! `mock-saf.yml`: `safAccess: {CLASS: {RESOURCE: {LEVEL: [user, ...]}}}`.
//! Ids are upper-cased (RACF ids are upper case; Zowe's sample lists `user`);
//! users that do not exist are defined (PROTECTED: no password); classes are
//! activated; resources become discrete profiles with `UACC(NONE)`; a user
//! listed under several levels gets the highest. The level `FAILURE` (the
//! dummy provider's "internal error") has no RACF meaning and is skipped with
//! a note.
//!
//! zgate's format:
//! ```yaml
//! groups:   [{name: DEV, superior: SYS1}]
//! users:    [{id: ALICE, name: "Alice", defaultGroup: DEV, groups: [OPS],
//!             special: false, operations: false, restricted: false}]
//! classes:  [{name: ZOWE, active: true, generic: true}]
//! profiles: [{class: ZOWE, name: APIML.**, uacc: NONE, warning: false,
//!             access: {ALICE: READ, DEV: UPDATE, "*": READ}}]
//! commands: ["ALTUSER ALICE MFA(FACTOR(TOTP) ACTIVE)",
//!            "RACDCERT MAP ID(ALICE) SDNFILTER('CN=ALICE.O=ACME') WITHLABEL('alice')"]
//! ```
//!
//! `commands` are RACF command lines run after everything else, in the same
//! transaction: what the model's lists do not express (certificate
//! mappings, MFA factors, SETROPTS options) is written as an administrator
//! would type it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::model::{normalize_class, normalize_id, AccessLevel};
use crate::profile_name::normalize_profile_name;
use crate::state::State;
use crate::EsmError;

/// The commands an import runs.
pub struct Plan {
    /// RACF commands, in order.
    pub commands: Vec<String>,
    /// Notes for the operator (skipped entries).
    pub notes: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The commands run.
    pub commands: Vec<String>,
    /// Notes (skipped entries).
    pub notes: Vec<String>,
    /// Messages the commands printed.
    pub lines: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Own {
    #[serde(default)]
    groups: Vec<OwnGroup>,
    #[serde(default)]
    users: Vec<OwnUser>,
    #[serde(default)]
    classes: Vec<OwnClass>,
    #[serde(default)]
    profiles: Vec<OwnProfile>,
    #[serde(default)]
    commands: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OwnGroup {
    name: String,
    superior: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OwnUser {
    id: String,
    name: Option<String>,
    default_group: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    special: bool,
    #[serde(default)]
    operations: bool,
    #[serde(default)]
    auditor: bool,
    #[serde(default)]
    restricted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OwnClass {
    name: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    generic: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OwnProfile {
    class: String,
    name: String,
    uacc: Option<String>,
    #[serde(default)]
    warning: bool,
    #[serde(default)]
    access: BTreeMap<String, String>,
}

fn bad(e: impl std::fmt::Display) -> EsmError {
    EsmError::Import(e.to_string())
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Plans the commands for a YAML text against the current state.
pub fn plan(state: &State, text: &str) -> Result<Plan, EsmError> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(bad)?;
    let is_mock = value
        .as_mapping()
        .is_some_and(|m| m.contains_key("safAccess"));
    if is_mock {
        plan_mock_saf(state, &value)
    } else {
        let own: Own = serde_yaml_ng::from_value(value).map_err(bad)?;
        plan_own(state, own)
    }
}

fn plan_mock_saf(state: &State, value: &serde_yaml_ng::Value) -> Result<Plan, EsmError> {
    let mut commands = Vec::new();
    let mut notes = Vec::new();
    let access = &value["safAccess"];
    if access.is_null() {
        notes.push("safAccess is empty: nothing to import".to_owned());
        return Ok(Plan { commands, notes });
    }
    let classes: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        serde_yaml_ng::from_value(access.clone()).map_err(|e| {
            bad(format!(
                "safAccess must map class -> resource -> level -> [user ids]: {e}"
            ))
        })?;
    let mut new_users = BTreeSet::new();
    let mut activate = BTreeSet::new();
    let mut body = Vec::new();
    for (class, resources) in &classes {
        let class = normalize_class(class).map_err(bad)?;
        activate.insert(class.clone());
        for (resource, levels) in resources {
            let name = normalize_profile_name(resource).map_err(bad)?;
            if state.profile(&class, &name).is_none() {
                body.push(format!("RDEFINE {class} {name} UACC(NONE)"));
            }
            let mut best: BTreeMap<String, AccessLevel> = BTreeMap::new();
            for (level, users) in levels {
                if level.eq_ignore_ascii_case("FAILURE") {
                    notes.push(format!(
                        "{class} {name}: level FAILURE (a simulated internal error) skipped for {}",
                        users.join(", ")
                    ));
                    continue;
                }
                let level: AccessLevel = level.parse().map_err(bad)?;
                for u in users {
                    let id = normalize_id(u).map_err(bad)?;
                    if !state.users.contains_key(&id) {
                        new_users.insert(id.clone());
                    }
                    let e = best.entry(id).or_insert(level);
                    *e = (*e).max(level);
                }
            }
            for (id, level) in best {
                body.push(format!(
                    "PERMIT {name} CLASS({class}) ID({id}) ACCESS({level})"
                ));
            }
        }
    }
    for u in &new_users {
        commands.push(format!("ADDUSER {u}"));
    }
    let to_activate: Vec<&String> = activate.iter().filter(|c| !state.class(c).active).collect();
    if !to_activate.is_empty() {
        let list: Vec<&str> = to_activate.iter().map(|s| s.as_str()).collect();
        commands.push(format!("SETROPTS CLASSACT({})", list.join(" ")));
    }
    commands.extend(body);
    Ok(Plan { commands, notes })
}

fn plan_own(state: &State, own: Own) -> Result<Plan, EsmError> {
    let mut c = Vec::new();
    for g in &own.groups {
        let id = normalize_id(&g.name).map_err(bad)?;
        if !state.groups.contains_key(&id) {
            let sup = match &g.superior {
                Some(s) => format!(" SUPGROUP({})", normalize_id(s).map_err(bad)?),
                None => String::new(),
            };
            c.push(format!("ADDGROUP {id}{sup}"));
        }
    }
    for u in &own.users {
        let id = normalize_id(&u.id).map_err(bad)?;
        let mut attrs = String::new();
        if let Some(n) = &u.name {
            attrs.push_str(&format!(" NAME({})", quote(n)));
        }
        for (on, kw) in [
            (u.special, "SPECIAL"),
            (u.operations, "OPERATIONS"),
            (u.auditor, "AUDITOR"),
            (u.restricted, "RESTRICTED"),
        ] {
            if on {
                attrs.push(' ');
                attrs.push_str(kw);
            }
        }
        let existing = state.users.get(&id);
        if existing.is_none() {
            let dg = match &u.default_group {
                Some(g) => format!(" DFLTGRP({})", normalize_id(g).map_err(bad)?),
                None => String::new(),
            };
            c.push(format!("ADDUSER {id}{dg}{attrs}"));
        } else if !attrs.is_empty() {
            c.push(format!("ALTUSER {id}{attrs}"));
        }
        for g in &u.groups {
            let g = normalize_id(g).map_err(bad)?;
            let dg = u.default_group.as_deref().map(str::to_ascii_uppercase);
            let already = state.connects.get(&id).is_some_and(|s| s.contains(&g));
            if !already
                && dg.as_deref() != Some(g.as_str())
                && !(existing.is_none() && dg.is_none() && g == "SYS1")
            {
                c.push(format!("CONNECT {id} GROUP({g})"));
            }
        }
    }
    for cl in &own.classes {
        let name = normalize_class(&cl.name).map_err(bad)?;
        let mut ops = Vec::new();
        ops.push(if cl.active {
            format!("CLASSACT({name})")
        } else {
            format!("NOCLASSACT({name})")
        });
        ops.push(if cl.generic {
            format!("GENERIC({name})")
        } else {
            format!("NOGENERIC({name})")
        });
        c.push(format!("SETROPTS {}", ops.join(" ")));
    }
    for p in &own.profiles {
        let class = normalize_class(&p.class).map_err(bad)?;
        let name = normalize_profile_name(&p.name).map_err(bad)?;
        let uacc: AccessLevel = match &p.uacc {
            Some(u) => u.parse().map_err(bad)?,
            None => AccessLevel::None,
        };
        let warn = if p.warning { "WARNING" } else { "NOWARNING" };
        let verb = if state.profile(&class, &name).is_some() {
            "RALTER"
        } else {
            "RDEFINE"
        };
        c.push(format!("{verb} {class} {name} UACC({uacc}) {warn}"));
        for (id, level) in &p.access {
            let id = if id == "*" {
                "*".to_owned()
            } else {
                normalize_id(id).map_err(bad)?
            };
            let level: AccessLevel = level.parse().map_err(bad)?;
            c.push(format!(
                "PERMIT {name} CLASS({class}) ID({id}) ACCESS({level})"
            ));
        }
    }
    c.extend(own.commands);
    Ok(Plan {
        commands: c,
        notes: Vec::new(),
    })
}
