//! Personal access tokens (spec apiml-api.md §5, §6): long-lived JWTs with
//! `iss: "APIML_PAT"`, `auth.prov: "APIML"` and the service ids they may be
//! used for (`scopes`), signed by the gateway's key ring.
//!
//! Revocation (API ML's rules): a PAT is revoked when its hash is in the
//! revoked set, or a rule for its user, or for any of its scopes, is at or
//! after its `iat`. Everything persisted goes through a [`PatRuleStore`] as
//! a salted hash — SHA-512 over the store's salt ‖ value, hex — so the store
//! never holds a token, user id or service id in clear.
//!
//! A verified PAT is cached by the SHA-256 of its text together with its
//! three kinds of salted hashes, so the next request with it costs one
//! SHA-256 and a few hash-map lookups; revocation and expiry are checked on
//! every call.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::tokens::{StoreError, TokenError, TokenHash, TokenService};

/// The issuer of PATs.
pub const PAT_ISSUER: &str = "APIML_PAT";
/// The `auth.prov` claim.
pub const PAT_PROVIDER: &str = "APIML";
/// Longest validity, days; `<= 0` asks for it too.
pub const MAX_VALIDITY_DAYS: i64 = 90;
/// How long user/scope rules are kept by evict, ms (the longest PAT life).
pub const RULE_RETENTION_MS: i64 = MAX_VALIDITY_DAYS * 86_400_000;
const CACHE_CAPACITY: usize = 100_000;
const MAX_SCOPES: usize = 64;
const MAX_SCOPE_LEN: usize = 64;

/// The claims of a PAT. Times in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatClaims {
    /// The user id.
    pub sub: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Always [`PAT_ISSUER`].
    pub iss: String,
    /// Random id.
    pub jti: String,
    /// Always [`PAT_PROVIDER`].
    #[serde(rename = "auth.prov")]
    pub auth_prov: String,
    /// Lower-case service ids.
    pub scopes: Vec<String>,
    /// Issued at, in milliseconds (see [`crate::Claims::iat_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
}

/// The three kinds of revocation record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// One token (value: its expiry, ms).
    Token,
    /// All tokens of a user issued at or before the value (ms).
    User,
    /// All tokens with a scope issued at or before the value (ms).
    Scope,
}

/// Where PAT revocations persist (the ESM). Only salted hashes are given to
/// it. `rule` is asked on every request: an in-memory lookup.
pub trait PatRuleStore: Send + Sync {
    /// The salt, the same for every instance sharing the store.
    fn salt(&self) -> Result<Vec<u8>, StoreError>;
    /// The value of a record.
    fn rule(&self, kind: RuleKind, hash: &str) -> Option<i64>;
    /// Records a rule (a later value replaces an earlier one only). Returns
    /// whether the record is new.
    fn put_rule(&self, kind: RuleKind, hash: &str, value_ms: i64) -> Result<bool, StoreError>;
    /// Drops expired token records and rules older than `now_ms - max_age_ms`.
    fn evict(&self, now_ms: i64, max_age_ms: i64) -> Result<usize, StoreError>;
}

/// Why a PAT operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatError {
    /// No scopes, or only empty ones.
    #[error("a personal access token needs at least one scope")]
    NoScopes,
    /// A scope that is not a service id.
    #[error("a scope must be a service id: 1-64 characters of a-z 0-9 . _ -")]
    BadScope,
    /// The token is not a valid, unrevoked PAT.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Not in the token's scopes.
    #[error("the service is not in the token's scopes")]
    OutOfScope,
}

/// A verified PAT.
#[derive(Debug, Clone)]
pub struct VerifiedPat {
    /// Its claims.
    pub claims: Arc<PatClaims>,
}

struct Cached {
    claims: Arc<PatClaims>,
    token: String,
    user: String,
    scopes: Vec<String>,
}

/// Issues, verifies and revokes PATs.
pub struct PatService {
    tokens: Arc<TokenService>,
    store: Arc<dyn PatRuleStore>,
    salt: OnceLock<Vec<u8>>,
    cache: RwLock<HashMap<TokenHash, Arc<Cached>>>,
}

/// Normalises requested scopes: lower-cased (never trimmed), de-duplicated, in order.
pub fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>, PatError> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        // Lower-cased as API ML does; never trimmed: `" zosmf"` is no
        // service id, not `zosmf`.
        let s = s.to_ascii_lowercase();
        if s.is_empty() {
            continue;
        }
        if s.len() > MAX_SCOPE_LEN
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(PatError::BadScope);
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(PatError::NoScopes);
    }
    if out.len() > MAX_SCOPES {
        return Err(PatError::BadScope);
    }
    Ok(out)
}

/// Validity asked → validity granted (days): `<= 0` and anything over
/// [`MAX_VALIDITY_DAYS`] give the maximum.
pub fn granted_days(requested: i64) -> i64 {
    if requested <= 0 || requested > MAX_VALIDITY_DAYS {
        MAX_VALIDITY_DAYS
    } else {
        requested
    }
}

impl PatService {
    /// A service signing with `tokens`' key ring and clock.
    pub fn new(tokens: Arc<TokenService>, store: Arc<dyn PatRuleStore>) -> PatService {
        PatService {
            tokens,
            store,
            salt: OnceLock::new(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> i64 {
        self.tokens.clock().now_ms()
    }

    fn salt(&self) -> Result<&[u8], TokenError> {
        if let Some(s) = self.salt.get() {
            return Ok(s);
        }
        let salt = self.store.salt().map_err(|e| TokenError::Store(e.0))?;
        Ok(self.salt.get_or_init(|| salt))
    }

    /// SHA-512(salt ‖ kind ‖ value), hex. The kind keeps a user id and a
    /// service id that are spelled alike from sharing a hash.
    fn hash(&self, kind: &str, value: &str) -> Result<String, TokenError> {
        let mut h = Sha512::new();
        h.update(self.salt()?);
        h.update(kind.as_bytes());
        h.update([0u8]);
        h.update(value.as_bytes());
        let digest = h.finalize();
        Ok(hex::encode(digest))
    }

    /// Issues a PAT for `user` (already authenticated).
    pub fn generate(
        &self,
        user: &str,
        validity_days: i64,
        scopes: &[String],
    ) -> Result<(String, PatClaims), PatError> {
        let scopes = normalize_scopes(scopes)?;
        let now_ms = self.tokens.issue_time(user)?;
        let now_s = now_ms.div_euclid(1000);
        let claims = PatClaims {
            sub: user.to_string(),
            iat: now_s,
            exp: now_s.saturating_add(granted_days(validity_days) * 86_400),
            iss: PAT_ISSUER.to_string(),
            jti: self.tokens.new_jti()?,
            auth_prov: PAT_PROVIDER.to_string(),
            scopes,
            iat_ms: Some(now_ms),
        };
        let token = self.tokens.sign_claims(&claims)?;
        Ok((token, claims))
    }

    fn cached(&self, token: &str) -> Result<Arc<Cached>, TokenError> {
        let key = TokenHash::of(token);
        if let Some(c) = self
            .cache
            .read()
            .ok()
            .and_then(|cache| cache.get(&key).cloned())
        {
            return Ok(c);
        }
        let now_ms = self.now_ms();
        let payload: serde_json::Value = self.tokens.verify_signature(token, now_ms)?;
        if payload.get("iss").and_then(|v| v.as_str()) != Some(PAT_ISSUER) {
            return Err(TokenError::WrongIssuer);
        }
        let claims: PatClaims =
            serde_json::from_value(payload).map_err(|_| TokenError::Malformed)?;
        let cached = Arc::new(Cached {
            token: self.hash("token", token)?,
            user: self.hash("user", &claims.sub)?,
            scopes: claims
                .scopes
                .iter()
                .map(|s| self.hash("scope", s))
                .collect::<Result<_, _>>()?,
            claims: Arc::new(claims),
        });
        if cached.claims.exp.saturating_mul(1000) > now_ms {
            if let Ok(mut cache) = self.cache.write() {
                if cache.len() >= CACHE_CAPACITY {
                    cache.retain(|_, c| c.claims.exp.saturating_mul(1000) > now_ms);
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                }
                cache.insert(key, cached.clone());
            }
        }
        Ok(cached)
    }

    fn is_revoked(&self, c: &Cached) -> bool {
        let iat_ms = c.claims.iat.saturating_mul(1000);
        let after = |v: Option<i64>| v.is_some_and(|at| at >= iat_ms);
        self.store.rule(RuleKind::Token, &c.token).is_some()
            || after(self.store.rule(RuleKind::User, &c.user))
            || c.scopes
                .iter()
                .any(|s| after(self.store.rule(RuleKind::Scope, s)))
    }

    /// Verifies a PAT: signature, issuer, expiry, revocation.
    pub fn verify(&self, token: &str) -> Result<VerifiedPat, TokenError> {
        let c = self.cached(token)?;
        if c.claims.exp.saturating_mul(1000) <= self.now_ms() {
            return Err(TokenError::Expired);
        }
        if self.is_revoked(&c) {
            return Err(TokenError::Revoked);
        }
        // A PAT outlives its logon: a user revoked since loses it for good.
        self.tokens.check_standing(
            &c.claims.sub,
            crate::tokens::issued_ms(c.claims.iat, c.claims.iat_ms),
        )?;
        Ok(VerifiedPat {
            claims: c.claims.clone(),
        })
    }

    /// `access-token/validate`: valid and `service_id` (any case) in scope.
    pub fn validate(&self, token: &str, service_id: &str) -> Result<VerifiedPat, PatError> {
        let v = self.verify(token)?;
        let service = service_id.to_ascii_lowercase();
        if v.claims.scopes.contains(&service) {
            Ok(v)
        } else {
            Err(PatError::OutOfScope)
        }
    }

    /// Revokes one token; an invalid or already revoked one is an error.
    pub fn revoke(&self, token: &str) -> Result<Arc<PatClaims>, TokenError> {
        let v = self.verify(token)?;
        let c = self.cached(token)?;
        let new = self
            .store
            .put_rule(RuleKind::Token, &c.token, v.claims.exp.saturating_mul(1000))
            .map_err(|e| TokenError::Store(e.0))?;
        if !new {
            return Err(TokenError::Revoked);
        }
        Ok(v.claims)
    }

    /// Revokes every token of `user` issued at or before `at_ms` (`<= 0`: now).
    pub fn revoke_user(&self, user: &str, at_ms: i64) -> Result<(), TokenError> {
        let at = if at_ms <= 0 { self.now_ms() } else { at_ms };
        let hash = self.hash("user", &user.to_ascii_uppercase())?;
        self.store
            .put_rule(RuleKind::User, &hash, at)
            .map(|_| ())
            .map_err(|e| TokenError::Store(e.0))
    }

    /// Revokes every token scoped to `service` issued at or before `at_ms` (`<= 0`: now).
    pub fn revoke_scope(&self, service: &str, at_ms: i64) -> Result<(), TokenError> {
        let at = if at_ms <= 0 { self.now_ms() } else { at_ms };
        let hash = self.hash("scope", &service.to_ascii_lowercase())?;
        self.store
            .put_rule(RuleKind::Scope, &hash, at)
            .map(|_| ())
            .map_err(|e| TokenError::Store(e.0))
    }

    /// Drops expired revocations and rules older than the longest PAT life.
    pub fn evict(&self) -> Result<usize, TokenError> {
        self.store
            .evict(self.now_ms(), RULE_RETENTION_MS)
            .map_err(|e| TokenError::Store(e.0))
    }
}

/// An in-memory [`PatRuleStore`] (tests).
#[derive(Default)]
pub struct MemoryPatStore {
    rules: std::sync::Mutex<HashMap<(u8, String), i64>>,
}

fn kind_byte(kind: RuleKind) -> u8 {
    match kind {
        RuleKind::Token => 0,
        RuleKind::User => 1,
        RuleKind::Scope => 2,
    }
}

impl PatRuleStore for MemoryPatStore {
    fn salt(&self) -> Result<Vec<u8>, StoreError> {
        Ok(b"memory-salt".to_vec())
    }
    fn rule(&self, kind: RuleKind, hash: &str) -> Option<i64> {
        self.rules
            .lock()
            .ok()?
            .get(&(kind_byte(kind), hash.to_string()))
            .copied()
    }
    fn put_rule(&self, kind: RuleKind, hash: &str, value_ms: i64) -> Result<bool, StoreError> {
        let mut rules = self
            .rules
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?;
        let key = (kind_byte(kind), hash.to_string());
        match rules.get(&key) {
            Some(old) if *old >= value_ms => Ok(false),
            old => {
                let new = old.is_none();
                rules.insert(key, value_ms);
                Ok(new)
            }
        }
    }
    fn evict(&self, now_ms: i64, max_age_ms: i64) -> Result<usize, StoreError> {
        let mut rules = self
            .rules
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?;
        let before = rules.len();
        rules.retain(|(k, _), v| {
            if *k == 0 {
                *v >= now_ms
            } else {
                *v >= now_ms - max_age_ms
            }
        });
        Ok(before - rules.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zgate_base::{Clock as _, ManualClock};

    fn service() -> (PatService, Arc<ManualClock>, Arc<TokenService>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let tokens = Arc::new(crate::tests::token_service_with_clock(clock.clone()));
        let pats = PatService::new(tokens.clone(), Arc::new(MemoryPatStore::default()));
        (pats, clock, tokens)
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn claims_validity_and_scopes() {
        let (pats, _, tokens) = service();
        let (token, claims) = pats
            .generate("ALICE", 0, &scopes(&["API1", "Api2", ""]))
            .unwrap();
        assert_eq!(claims.iss, "APIML_PAT");
        assert_eq!(claims.auth_prov, "APIML");
        assert_eq!(claims.scopes, ["api1", "api2"]);
        assert_eq!(claims.exp - claims.iat, 90 * 86_400);
        let (_, c) = pats.generate("ALICE", 10_000, &scopes(&["a"])).unwrap();
        assert_eq!(c.exp - c.iat, 90 * 86_400);
        let (_, c) = pats.generate("ALICE", 7, &scopes(&["a"])).unwrap();
        assert_eq!(c.exp - c.iat, 7 * 86_400);
        assert_eq!(pats.generate("A", 1, &[]).unwrap_err(), PatError::NoScopes);
        assert_eq!(
            pats.generate("A", 1, &scopes(&[""])).unwrap_err(),
            PatError::NoScopes
        );
        // Blanks are never trimmed into a service id.
        for scope in [" ", " api2", "api2 ", "api2\t", "api\u{0}2"] {
            assert_eq!(
                pats.generate("A", 1, &scopes(&[scope])).unwrap_err(),
                PatError::BadScope,
                "{scope:?}"
            );
        }
        assert_eq!(
            pats.generate("A", 1, &scopes(&["a b"])).unwrap_err(),
            PatError::BadScope
        );
        // The payload carries the claim names of the spec.
        let payload = token.split('.').nth(1).unwrap();
        use base64::Engine as _;
        let json: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(json["auth.prov"], "APIML");
        // A PAT is not a gateway JWT.
        assert_eq!(tokens.verify(&token).unwrap_err(), TokenError::WrongIssuer);
        // A gateway JWT is not a PAT.
        let jwt = tokens.issue("ALICE").unwrap().token;
        assert_eq!(pats.verify(&jwt).unwrap_err(), TokenError::WrongIssuer);
    }

    #[test]
    fn rules_before_and_after_the_token() {
        let (pats, clock, _) = service();
        let (t1, _) = pats.generate("ALICE", 1, &scopes(&["api1"])).unwrap();
        assert!(pats.validate(&t1, "API1").is_ok());
        assert_eq!(
            pats.validate(&t1, "api2").unwrap_err(),
            PatError::OutOfScope
        );
        // A user rule dated before the token does not touch it.
        pats.revoke_user("alice", clock.now_ms() - 1_000).unwrap();
        assert!(pats.verify(&t1).is_ok());
        clock.advance_ms(2_000);
        pats.revoke_user("ALICE", 0).unwrap();
        assert_eq!(pats.verify(&t1).unwrap_err(), TokenError::Revoked);
        // Tokens issued after the rule are fine.
        clock.advance_ms(2_000);
        let (t2, _) = pats
            .generate("ALICE", 1, &scopes(&["api1", "api3"]))
            .unwrap();
        assert!(pats.verify(&t2).is_ok());
        clock.advance_ms(2_000);
        pats.revoke_scope("API3", 0).unwrap();
        assert_eq!(pats.verify(&t2).unwrap_err(), TokenError::Revoked);
        clock.advance_ms(2_000);
        let (t3, _) = pats.generate("BOB", 1, &scopes(&["api1"])).unwrap();
        pats.revoke(&t3).unwrap();
        assert_eq!(pats.revoke(&t3).unwrap_err(), TokenError::Revoked);
        assert_eq!(pats.verify(&t3).unwrap_err(), TokenError::Revoked);
        clock.advance_ms(86_400_000 * 2);
        assert_eq!(pats.verify(&t2).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn evict_keeps_live_rules() {
        let (pats, clock, _) = service();
        let (t, _) = pats.generate("A", 1, &scopes(&["s"])).unwrap();
        pats.revoke(&t).unwrap();
        pats.revoke_user("OLD", 0).unwrap();
        clock.advance_ms(2 * 86_400_000);
        pats.revoke_user("NEW", 0).unwrap();
        // The revoked token expired: evicted; both user rules are younger than 90 days.
        assert_eq!(pats.evict().unwrap(), 1);
        clock.advance_ms(89 * 86_400_000);
        // OLD is now 91 days old.
        assert_eq!(pats.evict().unwrap(), 1);
        let (t, _) = pats.generate("NEW", 1, &scopes(&["s"])).unwrap();
        assert!(pats.verify(&t).is_ok());
    }
}
