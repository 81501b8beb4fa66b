//! General-resource profile names: which names a profile may have, as RACF's
//! commands accept them, and GLOBAL table members.

use crate::generic::Pattern;
use crate::model::{is_generic, AccessLevel, NameError};

/// Maximum length of a general-resource profile name (RACF: 246).
pub use crate::model::MAX_PROFILE_NAME;

/// Validates and upper-cases a general-resource profile name.
pub fn normalize_profile_name(raw: &str) -> Result<String, NameError> {
    let name = raw.to_ascii_uppercase();
    let bad = |why| NameError::Profile {
        name: raw.to_owned(),
        why,
    };
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    if name.len() > MAX_PROFILE_NAME {
        return Err(bad("longer than 246 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_graphic()) || name.contains(['(', ')', '\'', ',']) {
        return Err(bad(
            "contains a blank, a parenthesis, a quote, a comma or a non-ASCII character",
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Err(bad("has an empty qualifier"));
    }
    if is_generic(&name) {
        Pattern::parse(&name).map_err(bad)?;
    }
    Ok(name)
}

/// Splits a GLOBAL member `resource/level` (level defaults to READ).
pub fn parse_global_member(member: &str) -> Result<(String, AccessLevel), NameError> {
    let (res, level) = match member.rsplit_once('/') {
        Some((r, l)) => (
            r,
            l.parse::<AccessLevel>().map_err(|_| NameError::Profile {
                name: member.to_owned(),
                why: "the level after `/` is not an access level",
            })?,
        ),
        None => (member, AccessLevel::Read),
    };
    Ok((normalize_profile_name(res)?, level))
}
