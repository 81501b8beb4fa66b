//! Gateway JWTs: issue, verify (with a cache), revoke, refresh.
//!
//! Verification order: size → shape → header (`alg` must be the algorithm of
//! the key named by `kid`, so `none`/`HS256` never reach a verifier) →
//! signature → claims → issuer → expiry. A verified token is cached by the
//! SHA-256 of its text, so the next request with the same token costs one hash
//! and two hash-map lookups; revocation and expiry are checked on every call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::ring_file::KeyRing;
use zgate_base::Clock;

// SAF identity tokens share the signer and its private fields.
#[path = "safidt.rs"]
pub mod safidt;

/// The issuer of gateway JWTs (spec section 6).
pub const ISSUER: &str = "APIML";
/// Tokens longer than this are rejected unparsed.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
const CACHE_CAPACITY: usize = 100_000;

/// The claims of a gateway JWT (spec section 6). Times in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Issued at (seconds since epoch).
    pub iat: i64,
    /// Expires at (seconds since epoch).
    pub exp: i64,
    /// Always [`ISSUER`].
    pub iss: String,
    /// Random token id.
    pub jti: String,
    /// Security domain.
    pub dom: String,
    /// Issued at, in milliseconds: `iat` has whole seconds, too coarse to
    /// tell a token issued just before a revocation from one issued just
    /// after it. Absent in tokens of older zgates (then `iat` counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
}

/// When a credential was issued (ms): its `iat_ms`, else its `iat`.
pub(crate) fn issued_ms(iat: i64, iat_ms: Option<i64>) -> i64 {
    iat_ms.unwrap_or_else(|| iat.saturating_mul(1000))
}

/// SHA-256 of a token's text: the cache key and what the revocation store
/// keeps (never the token itself).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses lower- or upper-case hex.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to correlate; the hash is not a secret, but short is kind to logs.
        write!(f, "TokenHash({}…)", &self.to_hex()[..12])
    }
}

/// Why a token was not accepted, or an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS, bad base64, bad JSON, missing claims, too long.
    #[error("the token is malformed")]
    Malformed,
    /// `alg` is not the algorithm of the key (includes `none` and `HS*`).
    #[error("the token's algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// No key with the token's `kid` verifies now.
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is not `APIML`.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// Logged out.
    #[error("the token has been revoked")]
    Revoked,
    /// The token's user is revoked or deleted, or was revoked after the
    /// token was issued.
    #[error("the token's user may no longer use it")]
    UserNotActive,
    /// The revocation store failed.
    #[error("the token store is unavailable: {0}")]
    Store(String),
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// A failure of the persistent revocation store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Where revoked token hashes persist (the ESM's token-state store). Only
/// hashes are given to it. `is_revoked` is asked on every verification, so it
/// must be an O(1) in-memory lookup that the store keeps current (also with
/// revocations made by other instances).
pub trait RevocationStore: Send + Sync {
    /// Records `hash` as revoked until `expires_at_ms` (after which the token
    /// is expired anyway and the record may be purged).
    fn revoke(&self, hash: &TokenHash, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Whether `hash` is revoked.
    fn is_revoked(&self, hash: &TokenHash) -> bool;
    /// From when credentials of `user` count (ms since the epoch); `None`
    /// when none does (the user is revoked, deleted or unknown). Asked on
    /// every verification and issue, so it must be O(1) in memory and kept
    /// current with changes made by other processes.
    fn credentials_valid_since(&self, user: &str) -> Option<i64>;
    /// `Err` when this store cannot know whether its answers are current
    /// (its database has not answered for longer than allowed):
    /// verification and issue then fail closed instead of trusting a
    /// revocation state that may be stale.
    fn current(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Whether a credential of `user` issued at `issued_ms` still counts.
pub(crate) fn user_standing(
    store: &dyn RevocationStore,
    user: &str,
    issued_ms: i64,
) -> Result<(), TokenError> {
    store.current().map_err(|e| TokenError::Store(e.0))?;
    match store.credentials_valid_since(user) {
        Some(since_ms) if issued_ms >= since_ms => Ok(()),
        _ => Err(TokenError::UserNotActive),
    }
}

/// The issue time (ms) of a credential issued now to `user`: refused when
/// the user may have none, or when its credentials count only from later
/// (another process's clock ahead of ours): such a token would be dead on
/// arrival.
pub(crate) fn issue_time(
    store: &dyn RevocationStore,
    user: &str,
    now_ms: i64,
) -> Result<i64, TokenError> {
    store.current().map_err(|e| TokenError::Store(e.0))?;
    match store.credentials_valid_since(user) {
        Some(since_ms) if now_ms >= since_ms => Ok(now_ms),
        _ => Err(TokenError::UserNotActive),
    }
}

/// Token lifetime and domain.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `exp - iat`, seconds.
    pub lifetime_seconds: i64,
    /// The `dom` claim.
    pub domain: String,
}

/// A newly issued token.
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWS (a credential: never log it).
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

/// A token that passed verification.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Its claims.
    pub claims: Arc<Claims>,
    /// Its hash (for revocation).
    pub hash: TokenHash,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Issues and verifies gateway JWTs.
pub struct TokenService {
    ring: KeyRing,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    store: Arc<dyn RevocationStore>,
    cache: RwLock<HashMap<TokenHash, Arc<Claims>>>,
    rng: SystemRandom,
    signature_checks: AtomicU64,
}

impl TokenService {
    /// A service signing with `ring`'s current key.
    pub fn new(
        ring: KeyRing,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
        store: Arc<dyn RevocationStore>,
    ) -> Result<Self, TokenError> {
        Ok(Self {
            ring,
            clock,
            settings,
            store,
            cache: RwLock::new(HashMap::new()),
            rng: SystemRandom::new(),
            signature_checks: AtomicU64::new(0),
        })
    }

    /// Token settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Issues a token for `user`.
    pub fn issue(&self, user: &str) -> Result<IssuedToken, TokenError> {
        self.issue_until(user, None)
    }

    /// Issues a token for `user` that expires at `cap_s` (s since the epoch)
    /// at the latest: a credential derived from another (an OIDC token)
    /// never outlives it. A cap already past is refused as expired.
    pub fn issue_until(&self, user: &str, cap_s: Option<i64>) -> Result<IssuedToken, TokenError> {
        let now_ms = self.issue_time(user)?;
        let now_s = now_ms.div_euclid(1000);
        let exp = now_s.saturating_add(self.settings.lifetime_seconds);
        let exp = cap_s.map_or(exp, |cap| exp.min(cap));
        if exp <= now_s {
            return Err(TokenError::Expired);
        }
        let claims = Claims {
            sub: user.to_string(),
            iat: now_s,
            exp,
            iss: ISSUER.to_string(),
            jti: self.uuid()?,
            dom: self.settings.domain.clone(),
            iat_ms: Some(now_ms),
        };
        let token = self.sign_claims(&claims)?;
        Ok(IssuedToken { token, claims })
    }

    /// The time now on the service's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The clock (shared with the PAT service).
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The issue time (ms) of a credential issued now to `user` (refused
    /// when the user may not have one).
    pub(crate) fn issue_time(&self, user: &str) -> Result<i64, TokenError> {
        issue_time(&*self.store, user, self.clock.now_ms())
    }

    /// Whether `user`'s credential issued at `issued_ms` still counts.
    pub(crate) fn check_standing(&self, user: &str, issued_ms: i64) -> Result<(), TokenError> {
        user_standing(&*self.store, user, issued_ms)
    }

    /// A random token id (UUID v4 text).
    pub(crate) fn new_jti(&self) -> Result<String, TokenError> {
        self.uuid()
    }

    /// Signs any claims with the current key: a compact JWS.
    pub(crate) fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        let signer = self.ring.current();
        let header = serde_json::json!({
            "alg": signer.public().alg.name(),
            "typ": "JWT",
            "kid": signer.public().kid,
        });
        let header = B64URL.encode(header.to_string());
        let payload = B64URL.encode(serde_json::to_vec(&claims).map_err(|_| TokenError::Signing)?);
        let signing_input = format!("{header}.{payload}");
        let signature = signer
            .sign(signing_input.as_bytes())
            .map_err(|_| TokenError::Signing)?;
        Ok(format!("{signing_input}.{}", B64URL.encode(signature)))
    }

    /// Verifies a token: signature once (then cached); revocation of the
    /// token, its user's standing and expiry every time.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let hash = TokenHash::of(token);
        if self.is_revoked(&hash) {
            return Err(TokenError::Revoked);
        }
        let now_ms = self.clock.now_ms();
        let cached = self
            .cache
            .read()
            .ok()
            .and_then(|cache| cache.get(&hash).cloned());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_uncached(token, now_ms)?);
                self.remember(hash, claims.clone(), now_ms);
                claims
            }
        };
        if claims.exp.saturating_mul(1000) <= now_ms {
            return Err(TokenError::Expired);
        }
        self.check_standing(&claims.sub, issued_ms(claims.iat, claims.iat_ms))?;
        Ok(VerifiedToken { claims, hash })
    }

    /// Revokes a valid token (logout): persisted first, then applied here.
    pub fn revoke(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        let verified = self.verify(token)?;
        self.store
            .revoke(&verified.hash, verified.claims.exp.saturating_mul(1000))
            .map_err(|e| TokenError::Store(e.0))?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&verified.hash);
        }
        Ok(verified.claims)
    }

    /// A new token for the same user; the old one is revoked.
    pub fn refresh(&self, token: &str) -> Result<IssuedToken, TokenError> {
        let claims = self.revoke(token)?;
        self.issue(&claims.sub)
    }

    /// The signer's public key.
    pub fn current_key(&self) -> &PublicKey {
        self.ring.current().public()
    }

    /// Every key that verifies now, current first.
    pub fn public_keys(&self) -> Vec<&PublicKey> {
        self.ring.all_public(self.clock.now_ms())
    }

    /// How many signatures were checked (a cache miss each); for metrics and
    /// the cache tests.
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks.load(Ordering::Relaxed)
    }

    fn is_revoked(&self, hash: &TokenHash) -> bool {
        self.store.is_revoked(hash)
    }

    fn remember(&self, hash: TokenHash, claims: Arc<Claims>, now_ms: i64) {
        if claims.exp.saturating_mul(1000) <= now_ms {
            return;
        }
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| c.exp.saturating_mul(1000) > now_ms);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(hash, claims);
        }
    }

    fn verify_uncached(&self, token: &str, now_ms: i64) -> Result<Claims, TokenError> {
        // The issuer first: a PAT (other claims) is a wrong issuer, not malformed.
        let payload: serde_json::Value = self.verify_signature(token, now_ms)?;
        if payload.get("iss").and_then(|v| v.as_str()) != Some(ISSUER) {
            return Err(TokenError::WrongIssuer);
        }
        serde_json::from_value(payload).map_err(|_| TokenError::Malformed)
    }

    /// Checks shape, header and signature (no claims): the decoded payload.
    pub(crate) fn verify_signature<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header_b64)?;
        if header.crit.is_some() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let key = match &header.kid {
            Some(kid) => self
                .ring
                .verifier(kid, now_ms)
                .ok_or(TokenError::UnknownKey)?,
            None => self.ring.current().public(),
        };
        // The key decides the algorithm; the header must agree with it.
        if header.alg != key.alg.name() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let signature = B64URL
            .decode(signature_b64)
            .map_err(|_| TokenError::Malformed)?;
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let signing_input = token
            .get(..signing_input_len)
            .ok_or(TokenError::Malformed)?;
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
        if !key.verify(signing_input.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        decode_json(payload_b64)
    }

    fn uuid(&self) -> Result<String, TokenError> {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b).map_err(|_| TokenError::Signing)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex = hex::encode(b);
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = B64URL.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// An in-memory [`RevocationStore`] for tests: every user is active unless
/// [`MemoryRevocationStore::set_user`] says otherwise.
#[derive(Default)]
pub struct MemoryRevocationStore {
    entries: std::sync::Mutex<HashMap<TokenHash, i64>>,
    users: std::sync::Mutex<HashMap<String, Option<i64>>>,
}

impl RevocationStore for MemoryRevocationStore {
    fn revoke(&self, hash: &TokenHash, expires_at_ms: i64) -> Result<(), StoreError> {
        self.entries
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?
            .insert(*hash, expires_at_ms);
        Ok(())
    }
    fn is_revoked(&self, hash: &TokenHash) -> bool {
        // A poisoned lock means a writer panicked; fail closed.
        self.entries
            .lock()
            .map(|e| e.contains_key(hash))
            .unwrap_or(true)
    }
    fn credentials_valid_since(&self, user: &str) -> Option<i64> {
        match self.users.lock() {
            Ok(users) => users.get(user).copied().unwrap_or(Some(i64::MIN)),
            Err(_) => None,
        }
    }
}

impl MemoryRevocationStore {
    /// Sets from when `user`'s credentials count (ms); `None` revokes the
    /// user.
    pub fn set_user(&self, user: &str, valid_since_ms: Option<i64>) {
        if let Ok(mut users) = self.users.lock() {
            users.insert(user.to_string(), valid_since_ms);
        }
    }

    /// Every revoked hash (tests).
    pub fn revoked(&self) -> Vec<TokenHash> {
        self.entries
            .lock()
            .map(|e| e.keys().copied().collect())
            .unwrap_or_default()
    }
}
