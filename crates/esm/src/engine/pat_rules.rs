//! Personal access token revocation state (API ML's "invalidated tokens"
//! and "rules"), persisted as [`crate::records`].
//!
//! The ESM stores only what it is given: the auth crate hashes tokens, user
//! ids and service ids with SHA-512 over [`Esm::pat_salt`] ‖ value, so the
//! database never holds a token, and not even which users or services have
//! rules. Lookups are in memory.

use super::{Esm, EsmError};
use crate::state::Change;

const SALT_KIND: &str = "pat.salt";
const SALT_KEY: &str = "salt";

/// The three kinds of revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatRule {
    /// One token (value: its expiry, ms).
    Token,
    /// Every token of a user issued at or before the rule time.
    User,
    /// Every token with a scope, issued at or before the rule time.
    Scope,
}

impl PatRule {
    fn kind(self) -> &'static str {
        match self {
            PatRule::Token => "pat.token",
            PatRule::User => "pat.user",
            PatRule::Scope => "pat.scope",
        }
    }
}

impl Esm {
    /// The salt of PAT hashes: 32 random bytes made on first use and kept
    /// in the store (every instance sharing the store hashes alike).
    pub fn pat_salt(&self) -> Result<Vec<u8>, EsmError> {
        if let Some(salt) =
            self.with_records(|r| r.get(SALT_KIND, SALT_KEY).and_then(|h| hex::decode(h).ok()))
        {
            return Ok(salt);
        }
        self.transact_records(|records| {
            if let Some(salt) = records
                .get(SALT_KIND, SALT_KEY)
                .and_then(|h| hex::decode(h).ok())
            {
                return Ok((Vec::new(), salt));
            }
            let mut salt = vec![0u8; 32];
            self.config.random.fill(&mut salt)?;
            Ok::<_, EsmError>((
                vec![Change::put_record(SALT_KIND, SALT_KEY, hex::encode(&salt))],
                salt,
            ))
        })
    }

    /// The value of a rule for `hash` (token: expiry; user/scope: rule time), ms.
    pub fn pat_rule(&self, rule: PatRule, hash: &str) -> Option<i64> {
        self.with_records(|r| r.get(rule.kind(), hash).and_then(|v| v.parse().ok()))
    }

    /// Records a rule. A later time replaces an earlier one, never the
    /// reverse (a revocation cannot be narrowed). Returns whether it was new
    /// (for tokens: `false` = already revoked).
    pub fn put_pat_rule(&self, rule: PatRule, hash: &str, value_ms: i64) -> Result<bool, EsmError> {
        self.transact_records(|records| {
            let old: Option<i64> = records.get(rule.kind(), hash).and_then(|v| v.parse().ok());
            match old {
                Some(old) if old >= value_ms => Ok::<_, EsmError>((Vec::new(), false)),
                _ => Ok((
                    vec![Change::put_record(rule.kind(), hash, value_ms.to_string())],
                    old.is_none(),
                )),
            }
        })
    }

    /// Drops revoked tokens that expired before `now_ms` and user/scope rules
    /// older than `now_ms - max_rule_age_ms`; returns how many went.
    pub fn evict_pat_rules(&self, now_ms: i64, max_rule_age_ms: i64) -> Result<usize, EsmError> {
        self.transact_records(|records| {
            let mut ops = Vec::new();
            for (key, value) in records.iter(PatRule::Token.kind()) {
                if value.parse::<i64>().map_or(true, |exp| exp < now_ms) {
                    ops.push(Change::delete_record(PatRule::Token.kind(), key));
                }
            }
            let oldest = now_ms.saturating_sub(max_rule_age_ms);
            for rule in [PatRule::User, PatRule::Scope] {
                for (key, value) in records.iter(rule.kind()) {
                    if value.parse::<i64>().map_or(true, |at| at < oldest) {
                        ops.push(Change::delete_record(rule.kind(), key));
                    }
                }
            }
            let n = ops.len();
            Ok::<_, EsmError>((ops, n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EsmConfig;

    #[test]
    fn rules_persist_grow_only_and_evict() {
        let dir = tempfile::tempdir().unwrap();
        let esm = Esm::open(dir.path()).unwrap();
        let salt = esm.pat_salt().unwrap();
        assert_eq!(salt.len(), 32);
        assert_eq!(esm.pat_salt().unwrap(), salt);
        assert!(esm.put_pat_rule(PatRule::Token, "aa", 5_000).unwrap());
        assert!(!esm.put_pat_rule(PatRule::Token, "aa", 5_000).unwrap());
        esm.put_pat_rule(PatRule::User, "uu", 2_000).unwrap();
        esm.put_pat_rule(PatRule::User, "uu", 1_000).unwrap();
        assert_eq!(esm.pat_rule(PatRule::User, "uu"), Some(2_000));
        esm.put_pat_rule(PatRule::Scope, "ss", 9_000).unwrap();
        drop(esm);
        let esm = Esm::open(dir.path()).unwrap();
        assert_eq!(esm.pat_salt().unwrap(), salt);
        assert_eq!(esm.pat_rule(PatRule::Token, "aa"), Some(5_000));
        // now 6000, rules older than 5000 ms go: token (expired) and user rule.
        assert_eq!(esm.evict_pat_rules(6_000, 1_000).unwrap(), 2);
        assert_eq!(esm.pat_rule(PatRule::Token, "aa"), None);
        assert_eq!(esm.pat_rule(PatRule::User, "uu"), None);
        assert_eq!(esm.pat_rule(PatRule::Scope, "ss"), Some(9_000));
    }

    #[test]
    fn another_instance_sees_rules_after_reload() {
        let dir = tempfile::tempdir().unwrap();
        let a = Esm::open(dir.path()).unwrap();
        let b = Esm::open_with(dir.path(), EsmConfig::default()).unwrap();
        a.put_pat_rule(PatRule::Scope, "ss", 1).unwrap();
        assert!(b.reload_if_changed().unwrap());
        assert_eq!(b.pat_rule(PatRule::Scope, "ss"), Some(1));
    }
}
