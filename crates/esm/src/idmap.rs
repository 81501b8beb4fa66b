//! Distributed identity → user mapping, administered as RACF's `RACMAP`
//! (class `IDIDMAP`) and looked up as R_usermap (IRRSIM00) function
//! `X'0008'` answers it.
//!
//! A filter is a user name filter and a registry name, linked to one user
//! under a label (unique per user):
//!
//! - user name: `*` (any user), an X.500 DN (normalized before storage:
//!   attribute keywords upper-cased, blanks around `=` and `,` removed), or
//!   any other string, compared exactly;
//! - registry: `*` (any registry) or a name compared exactly.
//!
//! `*` is valid only as the whole value: IBM documents "a single asterisk",
//! never a prefix or infix glob, so `A*` is refused rather than read as a
//! pattern nobody could predict.
//!
//! Byte limits are UTF-8 bytes: a user name up to 246 (R_usermap's DN
//! limit, which zowe-common-c also enforces), a registry up to 252 (zowe and
//! the IDF plug-in allow 255, but IBM's CICS documentation says RACMAP MAP
//! fails above 252, so the smaller number is the one every path accepts).
//!
//! Lookups read the in-storage copy, as on RACF: `RACMAP MAP`/`DELMAP`
//! change the database, and reach lookups at `SETROPTS RACLIST(IDIDMAP)
//! REFRESH`; with the class inactive or not RACLISTed nothing maps (8/8/48).
//! The copy is a security record like [`crate::raclist`]'s, so every
//! process on the store answers alike.
//!
//! Search order ([`IdidFilters::find`]): the user name and the registry;
//! then the DN without its most specific RDN, one at a time; then `*` with
//! the registry; then the user name (and its shorter DNs) with registry
//! `*`; then the default filter (`*`, `*`). The spec lists IBM's order
//! without a named user under registry `*`; zgate's decision is that every
//! filter naming the registry wins over one naming any registry, and the
//! default filter comes last.

use std::collections::HashMap;

use crate::records::Records;
use crate::state::{Change, State};

/// The class whose activation and RACLIST govern lookups.
pub const CLASS: &str = "IDIDMAP";
/// Record kind of the filters (`RACMAP MAP`), keyed `USER<tab>label`,
/// valued `user-name-filter<tab>registry` (neither may hold a control
/// character, so the tab separates).
pub const MAP_KIND: &str = "idid.map";
/// Record kind of the in-storage copy, keyed by [`CLASS`]: a JSON array of
/// `[user, label, filter, registry]` as of the last `SETROPTS
/// RACLIST(IDIDMAP) [REFRESH]`.
pub const COPY_KIND: &str = "raclist.ididmap";

/// The longest user name, in UTF-8 bytes.
pub const USER_NAME_MAX_BYTES: usize = 246;
/// The longest registry name, in UTF-8 bytes.
pub const REGISTRY_MAX_BYTES: usize = 252;
/// The longest label, in characters.
pub const LABEL_MAX_CHARS: usize = 32;

/// One filter, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdidFilter {
    /// The user it maps to.
    pub user: String,
    /// Its label.
    pub label: String,
    /// The user name filter (normalized when a DN).
    pub user_name: String,
    /// The registry name.
    pub registry: String,
}

/// Why a filter value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Empty or only blanks.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// Longer than the limit.
    #[error("the {what} is {bytes} bytes long; at most {max} UTF-8 bytes are allowed")]
    TooLong {
        /// Which value.
        what: &'static str,
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A control character.
    #[error("the {0} contains a control character")]
    Control(&'static str),
    /// A blank at either end: names are never trimmed, and a filter that
    /// only a name with the same blank matches is a typo.
    #[error("the {0} begins or ends with a blank")]
    EdgeBlank(&'static str),
    /// `*` anywhere but as the whole value.
    #[error("the {0} may be '*' alone, but may not contain '*' with other characters")]
    Asterisk(&'static str),
}

fn check_text(text: &str, what: &'static str, max: usize) -> Result<(), FilterError> {
    if text.trim().is_empty() {
        return Err(FilterError::Empty(what));
    }
    if text.len() > max {
        return Err(FilterError::TooLong {
            what,
            bytes: text.len(),
            max,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(FilterError::Control(what));
    }
    if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return Err(FilterError::EdgeBlank(what));
    }
    if text != "*" && text.contains('*') {
        return Err(FilterError::Asterisk(what));
    }
    Ok(())
}

/// A `USERDIDFILTER(NAME(...))` value as stored: checked and, when a DN,
/// normalized.
pub fn user_name_filter(text: &str) -> Result<String, FilterError> {
    check_text(text, "user name filter", USER_NAME_MAX_BYTES)?;
    Ok(normalize_dn(text).unwrap_or_else(|| text.to_owned()))
}

/// A `REGISTRY(NAME(...))` value as stored.
pub fn registry_filter(text: &str) -> Result<String, FilterError> {
    check_text(text, "registry name", REGISTRY_MAX_BYTES)?;
    Ok(text.to_owned())
}

/// A `WITHLABEL` or `LABEL` value: 1-32 characters, not blank, no control
/// character.
pub fn label(text: &str) -> Result<String, FilterError> {
    if text.trim().is_empty() {
        return Err(FilterError::Empty("label"));
    }
    let chars = text.chars().count();
    if chars > LABEL_MAX_CHARS {
        return Err(FilterError::TooLong {
            what: "label",
            bytes: chars,
            max: LABEL_MAX_CHARS,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(FilterError::Control("label"));
    }
    Ok(text.to_owned())
}

/// Splits at `sep` where it is not escaped by `\`.
fn split_unescaped(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out
}

/// Trims blanks at the end unless the last one is escaped (`\ `).
fn trim_end_unescaped(text: &str) -> &str {
    let mut end = text.len();
    while end > 0 && text[..end].ends_with(' ') {
        if text[..end - 1].ends_with('\\') {
            break;
        }
        end -= 1;
    }
    &text[..end]
}

fn is_attribute_type(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => key
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    }
}

/// The normalized form of an X.500 DN in string form (`CN=Bob, O=ACME`
/// → `CN=Bob,O=ACME`), or `None` when `text` is not one: every RDN must be
/// `type=value` with a keyword or dotted OID type and a value. Values keep
/// their case and inner blanks; a name with a blank at either end is no
/// DN (names are never trimmed into another identity).
pub fn normalize_dn(text: &str) -> Option<String> {
    let edge_blank = text.starts_with(' ') || (text.ends_with(' ') && !text.ends_with("\\ "));
    if edge_blank || !text.contains('=') {
        return None;
    }
    let mut rdns = Vec::new();
    for rdn in split_unescaped(text, ',') {
        let mut avas = Vec::new();
        for ava in split_unescaped(rdn, '+') {
            let (key, value) = ava.split_once('=')?;
            let key = key.trim();
            let value = trim_end_unescaped(value.trim_start());
            if !is_attribute_type(key) || value.is_empty() {
                return None;
            }
            avas.push(format!("{}={value}", key.to_ascii_uppercase()));
        }
        rdns.push(avas.join("+"));
    }
    Some(rdns.join(","))
}

/// A DN and its shorter forms, most specific first (`CN=A,OU=B,O=C`,
/// `OU=B,O=C`, `O=C`); a plain name alone.
fn user_names(name: &str) -> Vec<String> {
    match normalize_dn(name) {
        Some(dn) => {
            let rdns = split_unescaped(&dn, ',');
            (0..rdns.len()).map(|i| rdns[i..].join(",")).collect()
        }
        None => vec![name.to_owned()],
    }
}

/// R_usermap's answer when no user id comes back, with its codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsermapError {
    /// 8/8/40: the user name is empty, blank, longer than 246 bytes, or
    /// holds a control character (nulls included).
    #[error("the distributed user name is not valid (8/8/40)")]
    InvalidUserName,
    /// 8/8/44: the registry name is empty, blank, longer than 252 bytes, or
    /// holds a control character.
    #[error("the registry name is not valid (8/8/44)")]
    InvalidRegistry,
    /// 8/8/48: class IDIDMAP is not active or not RACLISTed.
    #[error("class IDIDMAP is not active and RACLISTed (8/8/48)")]
    ClassInactive,
    /// 8/8/48: no filter matches.
    #[error("no distributed identity filter matches (8/8/48)")]
    NoFilter,
    /// 8/8/16: the matching filter's user was deleted since the last
    /// refresh (DELUSER removes its filters from the database; the
    /// in-storage copy keeps them until REFRESH).
    #[error("the mapped user {user} is not defined (8/8/16)")]
    UndefinedUser {
        /// The user the filter names.
        user: String,
    },
    /// 8/8/16: the mapped user is revoked. R_usermap itself does not look
    /// at revocation; zgate's lookup is the gateway's logon, so it must,
    /// and it answers as "no mapping" (ZSS's 401, like an unmapped name).
    #[error("the mapped user {user} is revoked (8/8/16)")]
    Revoked {
        /// The user.
        user: String,
    },
}

impl UsermapError {
    /// SAF return code.
    pub fn saf_rc(&self) -> u32 {
        8
    }

    /// RACF return code.
    pub fn racf_rc(&self) -> u32 {
        8
    }

    /// RACF reason code.
    pub fn reason(&self) -> u32 {
        match self {
            UsermapError::InvalidUserName => 40,
            UsermapError::InvalidRegistry => 44,
            UsermapError::ClassInactive | UsermapError::NoFilter => 48,
            UsermapError::UndefinedUser { .. } | UsermapError::Revoked { .. } => 16,
        }
    }
}

fn check_lookup(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

/// The in-storage filters lookups read: `None` while IDIDMAP is not active
/// and RACLISTed with a copy.
#[derive(Debug, Default, Clone)]
pub struct IdidFilters(Option<HashMap<(String, String), IdidFilter>>);

impl IdidFilters {
    /// The filters of the in-storage copy, when the class is active and
    /// RACLISTed.
    pub fn build(state: &State) -> IdidFilters {
        let settings = state.class(CLASS);
        if !(settings.active && settings.raclist) {
            return IdidFilters(None);
        }
        IdidFilters(in_storage(&state.records).map(|filters| {
            filters
                .into_iter()
                .map(|f| ((f.user_name.clone(), f.registry.clone()), f))
                .collect()
        }))
    }

    /// The filter that maps `user_name` in `registry` (the module's search
    /// order). Whether its user may log on is the caller's to check.
    pub fn find(&self, user_name: &str, registry: &str) -> Result<&IdidFilter, UsermapError> {
        if !check_lookup(user_name, USER_NAME_MAX_BYTES) {
            return Err(UsermapError::InvalidUserName);
        }
        if !check_lookup(registry, REGISTRY_MAX_BYTES) {
            return Err(UsermapError::InvalidRegistry);
        }
        let filters = self.0.as_ref().ok_or(UsermapError::ClassInactive)?;
        let names = user_names(user_name);
        let any = "*".to_owned();
        let registry = registry.to_owned();
        let order = names
            .iter()
            .map(|n| (n, &registry))
            .chain(std::iter::once((&any, &registry)))
            .chain(names.iter().map(|n| (n, &any)))
            .chain(std::iter::once((&any, &any)));
        for (name, reg) in order {
            if let Some(f) = filters.get(&(name.clone(), reg.clone())) {
                return Ok(f);
            }
        }
        Err(UsermapError::NoFilter)
    }
}

/// Every filter in the database, unordered.
pub fn filters(records: &Records) -> impl Iterator<Item = IdidFilter> + '_ {
    records.iter(MAP_KIND).filter_map(|(key, value)| {
        let (user, label) = key.split_once('\t')?;
        let (user_name, registry) = value.split_once('\t')?;
        Some(IdidFilter {
            user: user.to_owned(),
            label: label.to_owned(),
            user_name: user_name.to_owned(),
            registry: registry.to_owned(),
        })
    })
}

/// The record key of a user's filter.
pub fn key(user: &str, label: &str) -> String {
    format!("{user}\t{label}")
}

/// The change that stores a filter.
pub fn put(filter: &IdidFilter) -> Change {
    Change::put_record(
        MAP_KIND,
        &key(&filter.user, &filter.label),
        format!("{}\t{}", filter.user_name, filter.registry),
    )
}

/// The changes that remove every filter of `user` (DELUSER).
pub fn delete_all_of(records: &Records, user: &str) -> Vec<Change> {
    let mut keys: Vec<String> = filters(records)
        .filter(|f| f.user == user)
        .map(|f| key(&f.user, &f.label))
        .collect();
    keys.sort();
    keys.iter()
        .map(|k| Change::delete_record(MAP_KIND, k))
        .collect()
}

/// The change that stores the current filters as the in-storage copy.
pub fn copy_filters(state: &State) -> Change {
    let mut all: Vec<IdidFilter> = filters(&state.records).collect();
    all.sort_by(|a, b| (&a.user, &a.label).cmp(&(&b.user, &b.label)));
    let rows: Vec<[&str; 4]> = all
        .iter()
        .map(|f| [&*f.user, &*f.label, &*f.user_name, &*f.registry])
        .collect();
    Change::put_record(
        COPY_KIND,
        CLASS,
        serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into()),
    )
}

/// The filters of the in-storage copy; `None` without one. A copy that
/// does not decode is none: nothing maps, which refuses (a mapping grants
/// an identity, so failing closed is the safe side).
pub fn in_storage(records: &Records) -> Option<Vec<IdidFilter>> {
    let text = records.get(COPY_KIND, CLASS)?;
    let rows: Vec<[String; 4]> = serde_json::from_str(text).ok()?;
    Some(
        rows.into_iter()
            .map(|[user, label, user_name, registry]| IdidFilter {
                user,
                label,
                user_name,
                registry,
            })
            .collect(),
    )
}

/// Whether a change alters what lookups see: the copy, or the class's
/// settings.
pub fn changes_lookups(change: &Change) -> bool {
    match change {
        Change::PutRecord(r) => r.kind == COPY_KIND,
        Change::DeleteRecord { kind, .. } => kind == COPY_KIND,
        Change::PutClass(c) => c.name == CLASS,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dns_are_normalized_and_plain_names_are_not() {
        assert_eq!(
            normalize_dn("cn = Bob Smith , ou=Dev,o=ACME").as_deref(),
            Some("CN=Bob Smith,OU=Dev,O=ACME")
        );
        assert_eq!(
            normalize_dn("2.5.4.3=x+uid = y,dc=com").as_deref(),
            Some("2.5.4.3=x+UID=y,DC=com")
        );
        assert_eq!(
            normalize_dn(r"CN=Smith\, Bob,O=A").as_deref(),
            Some(r"CN=Smith\, Bob,O=A")
        );
        assert_eq!(normalize_dn("bob@example.com"), None);
        assert_eq!(normalize_dn(" CN=Bob"), None);
        assert_eq!(normalize_dn("CN=,O=A"), None);
        assert_eq!(normalize_dn("=x"), None);
    }

    #[test]
    fn shorter_dns_drop_the_most_specific_rdn() {
        assert_eq!(
            user_names("CN=A, OU=B,O=C"),
            vec!["CN=A,OU=B,O=C", "OU=B,O=C", "O=C"]
        );
        assert_eq!(user_names("alice"), vec!["alice"]);
    }

    proptest! {
        // Untrusted input: names sent by any OIDC provider. Never a panic,
        // and normalizing twice changes nothing.
        #[test]
        fn normalizing_never_panics_and_is_stable(text in r"[A-Za-z0-9=,+ \\.é*]{0,40}") {
            if let Some(dn) = normalize_dn(&text) {
                prop_assert_eq!(normalize_dn(&dn), Some(dn.clone()));
            }
            let _ = user_names(&text);
            let _ = user_name_filter(&text);
        }
    }
}
