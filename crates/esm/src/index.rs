//! The in-memory decision index (RACF's RACLIST) and the decision procedure
//! of spec section 3.
//!
//! **Architecture invariant: checks never touch the disk.** [`Index`] is
//! built from the loaded [`State`] and patched after each committed command;
//! [`Index::decide`] reads only it. Per class it holds a hash map of discrete
//! profiles and a [`GenericIndex`] trie of generic ones (see
//! [`crate::generic`]), so a check costs one hash lookup plus a walk along the
//! resource name, independent of the number of profiles.

use std::fmt;
use std::sync::Arc;

use crate::generic::{is_generic, GenericIndex};
use crate::key::{FxMap, Key};
use crate::model::{AccessLevel, ClassSettings, Condition, LogOptions, Profile, GLOBAL_CLASS};
use crate::profile_name::parse_global_member;
use crate::raclist;
use crate::state::State;
use zgate_audit::decide::ProfileAudit;

/// What a check knows about the user.
#[derive(Debug, Clone)]
pub struct UserFacts {
    /// Connected groups (sorted).
    pub groups: Vec<Key>,
    /// Default group.
    pub default_group: Key,
    /// RESTRICTED.
    pub restricted: bool,
    /// OPERATIONS.
    pub operations: bool,
    /// Revoked: no credential of the user counts.
    pub revoked: bool,
    /// UAUDIT.
    pub uaudit: bool,
    /// Credentials issued before this time (ms) do not count
    /// ([`crate::model::User::credentials_valid_since_ms`]).
    pub credentials_valid_since_ms: i64,
}

/// The GLOBAL access table of one class.
#[derive(Debug, Clone, Default)]
struct GlobalTable {
    discrete: FxMap<Key, AccessLevel>,
    generic: GenericIndex<AccessLevel>,
}

impl GlobalTable {
    /// The table from the class's in-storage copy (see [`crate::raclist`]),
    /// or from the GLOBAL profile when it has none.
    fn build(state: &State, class: &str) -> GlobalTable {
        let mut t = GlobalTable::default();
        let members = raclist::global_members(state, class).unwrap_or_else(|| {
            state
                .profile(GLOBAL_CLASS, class)
                .map(|p| p.members.iter().cloned().collect())
                .unwrap_or_default()
        });
        for m in &members {
            if let Ok((res, level)) = parse_global_member(m) {
                if is_generic(&res) {
                    t.generic.insert(&res, level);
                } else {
                    t.discrete.insert(Key::new(&res), level);
                }
            }
        }
        t
    }

    fn lookup(&self, resource: &str) -> Option<(String, AccessLevel)> {
        if let Some(l) = self.discrete.get(resource.as_bytes()) {
            return Some((resource.to_owned(), *l));
        }
        self.generic
            .lookup(resource)
            .map(|(n, l)| (n.to_owned(), *l))
    }
}

/// A profile as checks read it: the profile and its standard access list
/// as a sorted vector of inline keys (one binary search, few cache lines).
#[derive(Debug, Clone)]
pub struct IndexedProfile {
    /// The profile.
    pub profile: Arc<Profile>,
    access: Vec<(Key, AccessLevel)>,
}

impl IndexedProfile {
    fn new(profile: Arc<Profile>) -> IndexedProfile {
        // BTreeMap order is byte order: already sorted.
        let access = profile
            .access
            .iter()
            .map(|(id, l)| (Key::new(id), *l))
            .collect();
        IndexedProfile { profile, access }
    }

    fn access(&self, id: &[u8]) -> Option<AccessLevel> {
        self.access
            .binary_search_by(|(k, _)| k.as_bytes().cmp(id))
            .ok()
            .map(|i| self.access[i].1)
    }
}

/// One class in memory.
#[derive(Debug, Clone, Default)]
pub struct ClassIndex {
    settings: ClassSettings,
    discrete: FxMap<Key, Arc<IndexedProfile>>,
    generic: GenericIndex<Arc<IndexedProfile>>,
    global: Option<GlobalTable>,
}

impl ClassIndex {
    fn build(state: &State, class: &str) -> ClassIndex {
        let mut c = ClassIndex {
            settings: state.class(class),
            ..ClassIndex::default()
        };
        // A class RACLISTed explicitly is read from its in-storage copy.
        let copy = c
            .settings
            .raclist
            .then(|| raclist::profiles(state, class))
            .flatten();
        match copy {
            Some(profiles) => profiles.into_iter().for_each(|p| c.put(p)),
            None => state
                .profiles
                .get(class)
                .into_iter()
                .flat_map(|m| m.values())
                .for_each(|p| c.put(p.clone())),
        }
        if c.settings.global {
            c.global = Some(GlobalTable::build(state, class));
        }
        c
    }

    fn put(&mut self, p: Arc<Profile>) {
        let name = p.name.clone();
        let generic = p.is_generic();
        let ip = Arc::new(IndexedProfile::new(p));
        self.remove(&name);
        if generic {
            self.generic.insert(&name, ip);
        } else {
            self.discrete.insert(Key::new(&name), ip);
        }
    }

    fn remove(&mut self, name: &str) {
        if is_generic(name) {
            self.generic.remove(name);
        }
        self.discrete.remove(name.as_bytes());
    }

    /// The profile protecting a literal resource name: discrete first, then
    /// the most specific generic (when GENERIC is active for the class).
    pub fn protecting(&self, resource: &str) -> Option<&Arc<IndexedProfile>> {
        if let Some(p) = self.discrete.get(resource.as_bytes()) {
            // A discrete profile named with generic characters is unusable
            // once generics are on (ICH10321I).
            if !(p.profile.literal_name && self.settings.generic) {
                return Some(p);
            }
        }
        if self.settings.generic {
            return self.generic.lookup(resource).map(|(_, p)| p);
        }
        None
    }
}

/// Who gave the level that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSource {
    /// The user's own access list entry.
    User(String),
    /// A group's entry (the highest of the user's groups).
    Group(String),
    /// The `ID(*)` entry.
    Everyone,
    /// The universal access.
    Uacc,
    /// A conditional entry (`WHEN(...)`) for this id.
    Conditional {
        /// User, group or `*`.
        id: String,
        /// The condition that held.
        condition: Condition,
    },
    /// The OPERATIONS attribute.
    Operations,
    /// WARNING mode let the request through.
    Warning,
    /// The GLOBAL access table entry.
    Global(String),
}

impl fmt::Display for GrantSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantSource::User(u) => write!(f, "user entry {u}"),
            GrantSource::Group(g) => write!(f, "group entry {g}"),
            GrantSource::Everyone => f.write_str("ID(*) entry"),
            GrantSource::Uacc => f.write_str("UACC"),
            GrantSource::Conditional { id, condition } => {
                write!(
                    f,
                    "conditional entry {id} WHEN({}({}))",
                    condition.kind, condition.value
                )
            }
            GrantSource::Operations => f.write_str("OPERATIONS attribute"),
            GrantSource::Warning => f.write_str("WARNING mode"),
            GrantSource::Global(e) => write!(f, "GLOBAL entry {e}"),
        }
    }
}

/// Extra facts a check may carry for conditional entries, e.g.
/// `TERMINAL(10.1.2.3)` or `SERVAUTH(...)`.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    /// Conditions that hold for this request.
    pub conditions: Vec<Condition>,
    /// Where the request came from, for the audit record.
    pub origin: zgate_audit::Origin,
}

/// The answer to a check: RACF's triplet and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// SAF return code: 0 granted, 4 not protected / no decision, 8 denied.
    pub saf_rc: u32,
    /// RACF return code.
    pub racf_rc: u32,
    /// RACF reason code (4 = granted because of WARNING).
    pub reason: u32,
    /// The profile that decided (a GLOBAL entry's name for GLOBAL).
    pub profile: Option<String>,
    /// What granted access, when granted.
    pub granted_by: Option<GrantSource>,
    /// What set the level that decided, granted or not (e.g. a user entry of NONE).
    pub decided_by: Option<GrantSource>,
    /// The level that entry gave.
    pub level: Option<AccessLevel>,
    /// Why, in a word: `class inactive`, `not protected`, ...
    pub why: &'static str,
    /// The level asked for.
    pub requested: AccessLevel,
    /// What RACF's logging controls need to know of the check: the
    /// deciding profile's AUDIT and GLOBALAUDIT, the class's LOGOPTIONS,
    /// the user's UAUDIT.
    pub logging: Logging,
}

/// The facts of a check that decide whether it is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Logging {
    /// The deciding profile's settings (`None`: no profile, or GLOBAL).
    pub profile: Option<ProfileAudit>,
    /// The deciding profile is generic.
    pub generic: bool,
    /// `SETROPTS LOGOPTIONS` of the class.
    pub log_options: LogOptions,
    /// The user has UAUDIT.
    pub uaudit: bool,
    /// Granted by the OPERATIONS attribute.
    pub by_operations: bool,
}

impl Decision {
    /// Whether access is granted (SAF RC 0).
    pub fn authorized(&self) -> bool {
        self.saf_rc == 0
    }

    /// The answer to a check whose user, class or resource name RACF would
    /// refuse: not authorized, decided by no profile.
    pub fn invalid_name(requested: AccessLevel) -> Decision {
        Decision {
            saf_rc: 8,
            racf_rc: 8,
            reason: 0,
            profile: None,
            granted_by: None,
            decided_by: None,
            level: None,
            why: "invalid name",
            requested,
            logging: Logging::default(),
        }
    }

    /// What a check the audit trail could not record answers: not
    /// authorized (fail closed), whatever it would have decided.
    pub fn unrecorded(mut self) -> Decision {
        self.saf_rc = 8;
        self.racf_rc = 8;
        self.why = UNRECORDED;
        self
    }

    /// Refused only because the audit trail could not record it.
    pub fn is_unrecorded(&self) -> bool {
        self.why == UNRECORDED
    }
}

const UNRECORDED: &str = "the audit trail cannot record the check";

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match (self.saf_rc, self.reason) {
            (0, 4) => "GRANTED (WARNING)",
            (0, _) => "GRANTED",
            (4, _) => "NOT PROTECTED",
            _ => "DENIED",
        };
        write!(
            f,
            "{verdict} {} (SAF RC {} RACF RC {} reason {}): {}",
            self.requested, self.saf_rc, self.racf_rc, self.reason, self.why
        )?;
        if let Some(p) = &self.profile {
            write!(f, "; profile {p}")?;
        }
        if let Some(src) = &self.decided_by {
            match self.level {
                Some(l) => write!(f, "; {src} gives {l}")?,
                None => write!(f, "; {src}")?,
            }
        }
        if let Some(g) = &self.granted_by {
            if Some(g) != self.decided_by.as_ref() {
                write!(f, "; granted by {g}")?;
            }
        }
        Ok(())
    }
}

/// The classes in which the OPERATIONS attribute grants access where no
/// access list entry names the user: DATASET and the general resource
/// classes whose IBM-supplied class descriptor has `OPER=YES` (IBM, "RACF
/// Security Administrator's Guide", the OPERATIONS attribute; spec esm.md
/// section 3 step 8). Not FACILITY, ZOWE, PTKTDATA or a class an
/// administrator adds.
pub const OPERATIONS_CLASSES: [&str; 10] = [
    "DATASET", "DASDVOL", "GDASDVOL", "PSFMPL", "TAPEVOL", "VMBATCH", "VMCMD", "VMMDISK", "VMNODE",
    "VMRDR",
];

/// Everything checks need, in memory.
#[derive(Debug, Clone, Default)]
pub struct Index {
    classes: FxMap<Key, ClassIndex>,
    users: FxMap<Key, UserFacts>,
    grplist: bool,
    operaudit: bool,
}

impl Index {
    /// Builds the whole index from the state.
    pub fn build(state: &State) -> Index {
        let mut idx = Index {
            grplist: state.options.grplist,
            operaudit: state.options.operaudit,
            ..Index::default()
        };
        let mut names: Vec<&String> = state.classes.keys().collect();
        names.extend(state.profiles.keys());
        for class in names {
            if class != GLOBAL_CLASS && !idx.classes.contains_key(class.as_bytes()) {
                idx.classes
                    .insert(Key::new(class), ClassIndex::build(state, class));
            }
        }
        for id in state.users.keys() {
            idx.refresh_user(state, id);
        }
        idx
    }

    /// An index of one class and one user only: what a command needs to
    /// decide its issuer's authority on the state it runs against.
    pub fn for_class(state: &State, class: &str, user: &str) -> Index {
        let mut idx = Index {
            grplist: state.options.grplist,
            operaudit: state.options.operaudit,
            ..Index::default()
        };
        idx.classes
            .insert(Key::new(class), ClassIndex::build(state, class));
        idx.refresh_user(state, user);
        idx
    }

    /// A class's settings, when the index knows the class.
    pub fn class_settings(&self, class: &str) -> Option<&ClassSettings> {
        self.classes.get(class.as_bytes()).map(|c| &c.settings)
    }

    /// Re-reads one user's facts (or forgets a deleted user).
    pub fn refresh_user(&mut self, state: &State, id: &str) {
        match state.users.get(id) {
            Some(u) => {
                let groups = state
                    .connects
                    .get(id)
                    .map(|g| g.iter().map(|g| Key::new(g)).collect())
                    .unwrap_or_default();
                self.users.insert(
                    Key::new(id),
                    UserFacts {
                        groups,
                        default_group: Key::new(&u.default_group),
                        restricted: u.restricted,
                        operations: u.operations,
                        revoked: u.revoked,
                        uaudit: u.uaudit,
                        credentials_valid_since_ms: u.credentials_valid_since_ms(),
                    },
                );
            }
            None => {
                self.users.remove(id.as_bytes());
            }
        }
    }

    /// From when `user`'s credentials count (ms), or `None` when none does
    /// (revoked, deleted, never defined). One hash lookup: it is asked on
    /// every authenticated request.
    pub fn credentials_valid_since(&self, user: &str) -> Option<i64> {
        match self.users.get(user.as_bytes()) {
            Some(facts) if !facts.revoked => Some(facts.credentials_valid_since_ms),
            _ => None,
        }
    }

    /// Sets the system options that checks use.
    pub fn set_options(&mut self, options: &crate::model::Options) {
        self.grplist = options.grplist;
        self.operaudit = options.operaudit;
    }

    /// Whether `user` (upper case) is defined.
    pub fn user_defined(&self, user: &str) -> bool {
        self.users.contains_key(user.as_bytes())
    }

    /// Whether `user` (upper case) has UAUDIT.
    pub fn uaudit(&self, user: &str) -> bool {
        self.users.get(user.as_bytes()).is_some_and(|f| f.uaudit)
    }

    /// `SETROPTS OPERAUDIT`.
    pub fn operaudit(&self) -> bool {
        self.operaudit
    }

    /// Applies new class settings (immediately, as SETROPTS does).
    pub fn refresh_settings(&mut self, state: &State, class: &str) {
        let settings = state.class(class);
        match self.classes.get_mut(class.as_bytes()) {
            Some(c) => {
                if settings.global && c.global.is_none() {
                    c.global = Some(GlobalTable::build(state, class));
                }
                if !settings.global {
                    c.global = None;
                }
                c.settings = settings;
            }
            None => {
                self.classes
                    .insert(Key::new(class), ClassIndex::build(state, class));
            }
        }
    }

    /// Re-reads one profile (RACLIST refresh of a single profile).
    pub fn refresh_profile(&mut self, state: &State, class: &str, name: &str) {
        let c = self
            .classes
            .entry(Key::new(class))
            .or_insert_with(|| ClassIndex {
                settings: state.class(class),
                ..ClassIndex::default()
            });
        match state.profile(class, name) {
            Some(p) => c.put(p.clone()),
            None => c.remove(name),
        }
    }

    /// Rebuilds a class's profiles (`SETROPTS RACLIST(c) REFRESH`).
    pub fn refresh_class(&mut self, state: &State, class: &str) {
        let global = self
            .classes
            .get(class.as_bytes())
            .and_then(|c| c.global.clone());
        let mut c = ClassIndex::build(state, class);
        // The GLOBAL table has its own refresh.
        if c.settings.global {
            c.global = global.or(c.global);
        }
        self.classes.insert(Key::new(class), c);
    }

    /// Reloads a class's GLOBAL table (`SETROPTS GLOBAL(c) REFRESH`).
    pub fn refresh_global(&mut self, state: &State, class: &str) {
        self.refresh_settings(state, class);
        if let Some(c) = self.classes.get_mut(class.as_bytes()) {
            if c.settings.global {
                c.global = Some(GlobalTable::build(state, class));
            }
        }
    }

    /// The profile protecting a resource, as checks see it.
    pub fn protecting(&self, class: &str, resource: &str) -> Option<&Arc<Profile>> {
        self.classes
            .get(class.as_bytes())?
            .protecting(resource)
            .map(|ip| &ip.profile)
    }

    /// Facts about a user, if defined.
    pub fn user(&self, id: &str) -> Option<&UserFacts> {
        self.users.get(id.as_bytes())
    }

    /// The decision procedure of spec section 3. `user`, `class` and
    /// `resource` must already be upper case.
    pub fn decide(
        &self,
        user: &str,
        class: &str,
        resource: &str,
        requested: AccessLevel,
        ctx: &CheckContext,
    ) -> Decision {
        let mut d = Decision {
            saf_rc: 4,
            racf_rc: 4,
            reason: 0,
            profile: None,
            granted_by: None,
            decided_by: None,
            level: None,
            why: "class inactive",
            requested,
            logging: Logging::default(),
        };
        let grant = |mut d: Decision, src: GrantSource, reason: u32, why| {
            d.saf_rc = 0;
            d.racf_rc = 0;
            d.reason = reason;
            d.granted_by = Some(src);
            d.why = why;
            d
        };
        // 1. Class inactive: no decision.
        let Some(ci) = self.classes.get(class.as_bytes()) else {
            return d;
        };
        if !ci.settings.active {
            return d;
        }
        let facts = self.users.get(user.as_bytes());
        let restricted = facts.is_some_and(|f| f.restricted);
        d.logging.log_options = ci.settings.log_options;
        d.logging.uaudit = facts.is_some_and(|f| f.uaudit);
        // 2. GLOBAL grants at once, before any profile.
        if let Some(table) = &ci.global {
            if !restricted {
                if let Some((entry, level)) = table.lookup(resource) {
                    if level >= requested {
                        d.profile = Some(entry.clone());
                        d.decided_by = Some(GrantSource::Global(entry.clone()));
                        d.level = Some(level);
                        return grant(d, GrantSource::Global(entry), 0, "GLOBAL access table");
                    }
                }
            }
        }
        let Some(indexed) = ci.protecting(resource) else {
            d.why = "not protected: no profile";
            return d;
        };
        let profile = &indexed.profile;
        d.profile = Some(profile.name.clone());
        d.logging.profile = Some(ProfileAudit {
            audit: profile.audit,
            global: profile.global_audit,
        });
        d.logging.generic = profile.is_generic();
        // 3-6. The standard access list, then UACC.
        let mut listed = false;
        let mut found: Option<(GrantSource, AccessLevel)> = None;
        if let Some(l) = indexed.access(user.as_bytes()) {
            listed = true;
            found = Some((GrantSource::User(user.to_owned()), l));
        } else if let Some(f) = facts {
            let mut best: Option<(&Key, AccessLevel)> = None;
            let candidates: &[Key] = if self.grplist {
                &f.groups
            } else {
                std::slice::from_ref(&f.default_group)
            };
            for g in candidates {
                if let Some(l) = indexed.access(g.as_bytes()) {
                    if best.is_none_or(|(_, b)| l > b) {
                        best = Some((g, l));
                    }
                }
            }
            if let Some((g, l)) = best {
                listed = true;
                found = Some((GrantSource::Group(g.to_text()), l));
            }
        }
        if found.is_none() && !restricted {
            if let (Some(l), Some(_)) = (indexed.access(b"*"), facts) {
                found = Some((GrantSource::Everyone, l));
            } else {
                found = Some((GrantSource::Uacc, profile.uacc));
            }
        }
        if let Some((src, level)) = &found {
            d.decided_by = Some(src.clone());
            d.level = Some(*level);
            if *level >= requested {
                return grant(d.clone(), src.clone(), 0, "access list");
            }
        }
        // 7. Conditional entries.
        if !ctx.conditions.is_empty() && !profile.conditional.is_empty() {
            let mut best: Option<(u8, &String, &Condition, AccessLevel)> = None;
            for ((id, cond), &level) in &profile.conditional {
                if !ctx.conditions.contains(cond) {
                    continue;
                }
                // User entry first, then groups, then ID(*).
                let rank = if id == user {
                    3
                } else if facts.is_some_and(|f| {
                    if self.grplist {
                        f.groups
                            .binary_search_by(|g| g.as_bytes().cmp(id.as_bytes()))
                            .is_ok()
                    } else {
                        f.default_group.as_bytes() == id.as_bytes()
                    }
                }) {
                    2
                } else if id == "*" && facts.is_some() && !restricted {
                    1
                } else {
                    continue;
                };
                if best.is_none_or(|(r, _, _, l)| (rank, level) > (r, l)) {
                    best = Some((rank, id, cond, level));
                }
            }
            if let Some((_, id, cond, level)) = best {
                if level >= requested {
                    let src = GrantSource::Conditional {
                        id: id.clone(),
                        condition: cond.clone(),
                    };
                    d.decided_by = Some(src.clone());
                    d.level = Some(level);
                    return grant(d, src, 0, "conditional access list");
                }
            }
        }
        // 8. OPERATIONS, when nothing listed the user, only where the class
        // descriptor says RACF honours it.
        if !listed && facts.is_some_and(|f| f.operations) && OPERATIONS_CLASSES.contains(&class) {
            d.decided_by = Some(GrantSource::Operations);
            d.level = Some(AccessLevel::Alter);
            d.logging.by_operations = true;
            return grant(d, GrantSource::Operations, 0, "OPERATIONS attribute");
        }
        // 9. WARNING.
        if profile.warning {
            return grant(d, GrantSource::Warning, 4, "WARNING mode (audited)");
        }
        // 10. Denied.
        d.saf_rc = 8;
        d.racf_rc = 8;
        d.why = "not authorized";
        d
    }
}
