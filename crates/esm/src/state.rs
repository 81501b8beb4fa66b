//! Everything the ESM knows, as values: [`State`], and the [`Change`]s
//! commands compute against it. A backend ([`crate::store`]) commits a list
//! of changes as one transaction; then the same list is applied here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::{AccessLevel, ClassSettings, Condition, Group, Options, Profile, User};
use crate::records::{Record, Records};

/// One change to durable state. A command produces a list of these, applied
/// all at once or not at all.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Insert or replace a user (the whole record, credentials included).
    PutUser(Box<User>),
    /// Delete a user and its connects.
    DeleteUser(String),
    /// Insert or replace a group.
    PutGroup(Group),
    /// Delete a group.
    DeleteGroup(String),
    /// Connect a user to a group.
    Connect {
        /// User id.
        user: String,
        /// Group name.
        group: String,
    },
    /// Remove a user from a group.
    Disconnect {
        /// User id.
        user: String,
        /// Group name.
        group: String,
    },
    /// Insert or replace a class's settings.
    PutClass(ClassSettings),
    /// Replace the system options.
    PutOptions(Options),
    /// Insert a profile or replace its header (owner, UACC, WARNING, data);
    /// the access lists and members of an existing profile are kept.
    PutProfile(Box<Profile>),
    /// Delete a profile with its lists.
    DeleteProfile {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
    },
    /// Set one standard access list entry.
    PutAccess {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// User, group or `*`.
        id: String,
        /// Level.
        level: AccessLevel,
    },
    /// Remove one standard access list entry.
    DeleteAccess {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// User, group or `*`.
        id: String,
    },
    /// Set one conditional access list entry.
    PutConditional {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// User, group or `*`.
        id: String,
        /// The `WHEN()` condition.
        condition: Condition,
        /// Level.
        level: AccessLevel,
    },
    /// Remove one conditional access list entry.
    DeleteConditional {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// User, group or `*`.
        id: String,
        /// The `WHEN()` condition.
        condition: Condition,
    },
    /// Add a member (GLOBAL entries `resource/level`).
    PutMember {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// The member text.
        member: String,
    },
    /// Remove a member.
    DeleteMember {
        /// Class.
        class: String,
        /// Profile name.
        name: String,
        /// The member text.
        member: String,
    },
    /// Insert or replace a security record (see [`crate::records`]).
    PutRecord(Record),
    /// Remove a security record, if present.
    DeleteRecord {
        /// The kind.
        kind: String,
        /// Its key within the kind.
        key: String,
    },
}

impl Change {
    /// A [`Change::PutRecord`].
    pub fn put_record(kind: &str, key: &str, value: impl Into<String>) -> Change {
        Change::PutRecord(Record {
            kind: kind.to_owned(),
            key: key.to_owned(),
            value: value.into(),
        })
    }

    /// A [`Change::DeleteRecord`].
    pub fn delete_record(kind: &str, key: &str) -> Change {
        Change::DeleteRecord {
            kind: kind.to_owned(),
            key: key.to_owned(),
        }
    }
}

/// Everything the store holds, in memory.
#[derive(Clone, Default, PartialEq)]
pub struct State {
    /// Users by id.
    pub users: BTreeMap<String, User>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// User id → connected groups.
    pub connects: BTreeMap<String, BTreeSet<String>>,
    /// Class settings by class.
    pub classes: BTreeMap<String, ClassSettings>,
    /// SETROPTS options.
    pub options: Options,
    /// Class → profile name → profile (shared with the decision index).
    pub profiles: BTreeMap<String, BTreeMap<String, Arc<Profile>>>,
    /// Revoked token hashes → expiry (ms).
    pub revoked_tokens: HashMap<String, i64>,
    /// The security records kept beside the RACF model (TOTP factors, PAT
    /// rules, certificate mappings, RACLIST snapshots).
    pub records: Records,
}

impl State {
    /// A profile by class and name.
    pub fn profile(&self, class: &str, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.get(class)?.get(name)
    }

    /// The class settings, or the default (inactive) ones.
    pub fn class(&self, class: &str) -> ClassSettings {
        self.classes
            .get(class)
            .cloned()
            .unwrap_or_else(|| ClassSettings::new(class))
    }

    fn profile_mut(&mut self, class: &str, name: &str) -> Option<&mut Profile> {
        self.profiles
            .get_mut(class)?
            .get_mut(name)
            .map(Arc::make_mut)
    }

    /// Applies one change to the in-memory copy (after the store committed it).
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::PutUser(u) => {
                self.users.insert(u.id.clone(), (**u).clone());
            }
            Change::DeleteUser(id) => {
                self.users.remove(id);
                self.connects.remove(id);
            }
            Change::PutGroup(g) => {
                self.groups.insert(g.id.clone(), g.clone());
            }
            Change::DeleteGroup(id) => {
                self.groups.remove(id);
            }
            Change::Connect { user, group } => {
                self.connects
                    .entry(user.clone())
                    .or_default()
                    .insert(group.clone());
            }
            Change::Disconnect { user, group } => {
                if let Some(set) = self.connects.get_mut(user) {
                    set.remove(group);
                }
            }
            Change::PutClass(c) => {
                self.classes.insert(c.name.clone(), c.clone());
            }
            Change::PutOptions(o) => self.options = o.clone(),
            Change::PutProfile(p) => {
                let class = self.profiles.entry(p.class.clone()).or_default();
                match class.get_mut(&p.name) {
                    Some(existing) => {
                        let e = Arc::make_mut(existing);
                        e.owner = p.owner.clone();
                        e.uacc = p.uacc;
                        e.warning = p.warning;
                        e.appldata = p.appldata.clone();
                        e.data = p.data.clone();
                        e.ssignon = p.ssignon.clone();
                        e.audit = p.audit;
                        e.global_audit = p.global_audit;
                    }
                    None => {
                        class.insert(p.name.clone(), Arc::new((**p).clone()));
                    }
                }
            }
            Change::DeleteProfile { class, name } => {
                if let Some(c) = self.profiles.get_mut(class) {
                    c.remove(name);
                }
            }
            Change::PutAccess {
                class,
                name,
                id,
                level,
            } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.access.insert(id.clone(), *level);
                }
            }
            Change::DeleteAccess { class, name, id } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.access.remove(id);
                }
            }
            Change::PutConditional {
                class,
                name,
                id,
                condition,
                level,
            } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.conditional
                        .insert((id.clone(), condition.clone()), *level);
                }
            }
            Change::DeleteConditional {
                class,
                name,
                id,
                condition,
            } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.conditional.remove(&(id.clone(), condition.clone()));
                }
            }
            Change::PutMember {
                class,
                name,
                member,
            } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.members.insert(member.clone());
                }
            }
            Change::DeleteMember {
                class,
                name,
                member,
            } => {
                if let Some(p) = self.profile_mut(class, name) {
                    p.members.remove(member);
                }
            }
            Change::PutRecord(r) => self.records.put(r),
            Change::DeleteRecord { kind, key } => self.records.delete(kind, key),
        }
    }
}
