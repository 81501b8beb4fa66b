//! RACF's access levels, which the ESM decides with and the gateway asks for.

use std::fmt;
use std::str::FromStr;

/// An access level, ordered `NONE < EXECUTE < READ < UPDATE < CONTROL < ALTER`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum AccessLevel {
    /// No access.
    None,
    /// Execute (load) only.
    Execute,
    /// Read.
    Read,
    /// Update.
    Update,
    /// Control.
    Control,
    /// Alter: full control, including the profile itself.
    Alter,
}

impl AccessLevel {
    /// All levels, lowest first.
    pub const ALL: [AccessLevel; 6] = [
        AccessLevel::None,
        AccessLevel::Execute,
        AccessLevel::Read,
        AccessLevel::Update,
        AccessLevel::Control,
        AccessLevel::Alter,
    ];

    /// The RACF keyword (`READ`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::None => "NONE",
            AccessLevel::Execute => "EXECUTE",
            AccessLevel::Read => "READ",
            AccessLevel::Update => "UPDATE",
            AccessLevel::Control => "CONTROL",
            AccessLevel::Alter => "ALTER",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not an access level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access level `{0}` (NONE, EXECUTE, READ, UPDATE, CONTROL or ALTER)")]
pub struct InvalidAccessLevel(pub String);

impl FromStr for AccessLevel {
    type Err = InvalidAccessLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Nothing is trimmed: `"READ "` is no access level, not READ.
        let upper = s.to_ascii_uppercase();
        // RACF accepts the keyword abbreviated to any leading substring that is
        // unambiguous among the levels (`R`, `UPD`, `ALT`, `EXEC`, ...).
        if upper.is_empty() {
            return Err(InvalidAccessLevel(s.to_owned()));
        }
        let mut found = None;
        for level in AccessLevel::ALL {
            if level.as_str() == upper {
                return Ok(level);
            }
            if level.as_str().starts_with(&upper) {
                if found.is_some() {
                    return Err(InvalidAccessLevel(s.to_owned()));
                }
                found = Some(level);
            }
        }
        found.ok_or_else(|| InvalidAccessLevel(s.to_owned()))
    }
}
