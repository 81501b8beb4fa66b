//! The durable store: an interface the ESM writes through and loads from.
//!
//! The ESM's logic only ever speaks in [`Change`]s and [`State`]; a backend
//! turns a slice of changes into ONE transaction. SQLite ([`sqlite`]) is the
//! single-instance backend; a PostgreSQL backend implements the same trait
//! (a later issue), so nothing SQLite-specific may leak into the ESM.

pub mod sqlite;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::{AccessLevel, ClassSettings, Condition, Group, Options, Profile, User};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, SQL, lock).
    #[error("store: {0}")]
    Backend(String),
    /// Stored data does not make sense (hand-edited or corrupt).
    #[error("store holds invalid data: {0}")]
    Corrupt(String),
    /// The database was written by a newer zgate.
    #[error("the database schema version {found} is newer than this zgate knows ({known})")]
    TooNew {
        /// Version found.
        found: i64,
        /// Newest version known.
        known: i64,
    },
    /// Another process changed the store since it was loaded.
    #[error("the store was changed by another process (generation {found}, expected {expected})")]
    Conflict {
        /// The store's generation.
        found: i64,
        /// The generation the change was computed against.
        expected: i64,
    },
    /// A file-system error.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// One change to durable state. A command produces a list of these, applied
/// all at once or not at all.
#[derive(Clone)]
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
}

/// Everything the store holds, in memory.
#[derive(Clone, Default)]
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
        }
    }
}

/// A durable backend. Every method is one transaction.
pub trait Store: Send {
    /// Loads the whole state.
    fn load(&mut self) -> Result<State, StoreError>;
    /// Applies the changes in ONE transaction: all or nothing, and only if
    /// the store's generation is still `expected_generation` (optimistic
    /// concurrency between processes sharing the store); returns the new
    /// generation. [`StoreError::Conflict`] means another process committed
    /// first: reload and redo.
    fn apply(&mut self, changes: &[Change], expected_generation: i64) -> Result<i64, StoreError>;
    /// A counter bumped by every committed [`Store::apply`]: lets a process
    /// notice that another one changed the data.
    fn generation(&mut self) -> Result<i64, StoreError>;
    /// Records a revoked token hash until `expires_at_ms`.
    fn revoke_token(&mut self, hash: &str, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Forgets revocations that expired before `now_ms`; returns how many.
    fn purge_expired_tokens(&mut self, now_ms: i64) -> Result<usize, StoreError>;
    /// Counts a logon rejected without a user record to update (unknown
    /// user, or revoked user with a wrong secret). It exists so that such a
    /// rejection writes as much as a counted failure does (timing), and as
    /// a statistic. Not part of the model: changes no generation.
    fn note_rejected_logon(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// PassTicket replay protection: records the use of a ticket
    /// (`ticket_hash`, a digest of user, application and ticket) until
    /// `expires_at_ms`, dropping expired records; `false` when it was
    /// already used. One transaction, shared by every process on the store.
    fn claim_passticket(
        &mut self,
        ticket_hash: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        // A backend without replay records refuses: tickets fail closed.
        let _ = (ticket_hash, expires_at_ms, now_ms);
        Err(StoreError::Backend(
            "PassTicket replay protection is not supported by this store".to_owned(),
        ))
    }
    /// Loads the security records (PAT rules, TOTP factors,
    /// certificate mappings; see [`crate::records`]).
    /// A backend without them has none (and refuses to write any).
    fn load_records(&mut self) -> Result<Vec<crate::records::Record>, StoreError> {
        Ok(Vec::new())
    }
    /// Applies record operations in ONE transaction, under the same
    /// generation check as [`Store::apply`]; returns the new generation.
    fn apply_records(
        &mut self,
        _ops: &[crate::records::RecordOp],
        _expected_generation: i64,
    ) -> Result<i64, StoreError> {
        Err(StoreError::Backend(
            "this store keeps no security records".into(),
        ))
    }
    /// A canonical text dump of every row (tests compare dumps).
    fn dump(&mut self) -> Result<Vec<String>, StoreError>;
}
