//! Access tokens of an OpenID Connect provider, checked more strictly than
//! API ML checks them (spec `oidc.md` section 8):
//!
//! - the issuer is one configured exactly, and it has its own key set;
//! - `aud` holds a configured audience;
//! - the algorithm is on the provider's allow-list and fits the key's type
//!   (RSA: RS256, PS256; EC: ES256 on P-256, ES384 on P-384); `none` and
//!   `HS*` never verify; a JWK's own `alg`, when it has one, must equal the
//!   header's; keys with `use` other than `sig` and RSA keys under 2048 bits
//!   are not taken into the set at all;
//! - `exp` is required; `nbf` and `iat` are checked with a bounded skew and
//!   an `iat` in the future is refused;
//! - `sub` is present, not blank, at most 246 bytes (RACF's limit for a
//!   distributed user name); the token at most [`MAX_TOKEN_BYTES`].
//!
//! Nothing is read from a token before its signature verifies, except the
//! header's `alg` and `kid`, which only choose the key.
//!
//! [`ProviderKeys`] holds a provider's key set: replaced whole, only by a
//! fetch that succeeds (a failed fetch keeps the last good set), and fetched
//! again once, single-flight and at most every [`ProviderPolicy::refetch_interval_s`],
//! when a token names a `kid` the set lacks (the provider rotated its keys).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

/// The largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// RACF's limit for a distributed user name (R_usermap), in bytes.
pub const MAX_SUBJECT_BYTES: usize = 246;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A signature algorithm a provider may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// Reads a JOSE `alg` name; `None` for any other (`none`, `HS256`, ...).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::Rs256,
            "PS256" => Algorithm::Ps256,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            _ => return None,
        })
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
        }
    }
}

/// What a provider's tokens must satisfy.
#[derive(Debug, Clone)]
pub struct ProviderPolicy {
    /// The `iss` values accepted, compared exactly (one provider may have
    /// several spellings, as Entra ID's v1 and v2 endpoints do).
    pub issuers: Vec<String>,
    /// `aud` must hold one of these.
    pub audiences: Vec<String>,
    /// The algorithms accepted.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub skew_s: i64,
    /// A token older than this (by `iat`) is refused, when set.
    pub max_age_s: Option<i64>,
    /// Forced key fetches (an unknown `kid`) at most this often, in seconds.
    pub refetch_interval_s: i64,
    /// When not empty, `azp` (or, without it, `client_id`) must be one of
    /// these: the clients whose tokens count.
    pub authorized_parties: Vec<String>,
    /// Whether the header's `typ` must say an access token (`at+jwt`, RFC 9068).
    pub require_access_token_type: bool,
}

impl ProviderPolicy {
    /// A policy with zgate's defaults: RS256, PS256 and ES256, 30 s of
    /// skew, a forced key fetch at most every 60 s.
    pub fn new(issuer: &str, audiences: &[&str]) -> ProviderPolicy {
        ProviderPolicy {
            issuers: vec![issuer.to_owned()],
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            algorithms: vec![Algorithm::Rs256, Algorithm::Ps256, Algorithm::Es256],
            skew_s: 30,
            max_age_s: None,
            refetch_interval_s: 60,
            authorized_parties: Vec::new(),
            require_access_token_type: false,
        }
    }
}

/// Why a token is refused. The text is for the log, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Larger than [`MAX_TOKEN_BYTES`].
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// Not three base64url parts of JSON.
    #[error("the token is not a signed JWT")]
    Malformed,
    /// The header's algorithm is not allowed (`none`, `HS*`, off the list).
    #[error("algorithm {0} is not allowed for this provider")]
    Algorithm(String),
    /// The header names no key.
    #[error("the token names no key (kid)")]
    NoKid,
    /// The key set has no key of that id.
    #[error("the provider has no key {0}")]
    UnknownKid(String),
    /// The algorithm does not fit the key (its type, curve or own `alg`).
    #[error("algorithm {alg} does not fit key {kid}")]
    KeyMismatch {
        /// The header's algorithm.
        alg: String,
        /// The key.
        kid: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// No `exp`.
    #[error("the token has no expiry (exp)")]
    NoExpiry,
    /// Expired.
    #[error("the token has expired")]
    Expired,
    /// `nbf` in the future.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` in the future, or older than the maximum age.
    #[error("the token's issue time (iat) is in the future or too old")]
    IssueTime,
    /// `iss` is not the provider's.
    #[error("the token's issuer is not this provider")]
    WrongIssuer,
    /// `aud` holds none of the audiences.
    #[error("the token is not for this audience")]
    WrongAudience,
    /// `azp` / `client_id` is not an authorized party.
    #[error("the token was issued to a client that is not authorized (azp)")]
    WrongParty,
    /// `typ` is not `at+jwt` where an access token type is required.
    #[error("the token is not an access token (typ)")]
    WrongType,
    /// `sub` missing, blank or longer than [`MAX_SUBJECT_BYTES`].
    #[error("the token's subject (sub) is missing, blank or too long")]
    BadSubject,
}

/// The public half of a provider's key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256(Vec<u8>),
    P384(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Jwk {
    key: PublicKey,
    alg: Option<String>,
}

/// A provider's key set (JWKS), by `kid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: HashMap<String, Jwk>,
    /// Keys left out, with why (for diagnosis).
    pub skipped: Vec<String>,
}

/// A JWKS document that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JWK set: {0}")]
pub struct JwksError(pub String);

impl KeySet {
    /// Reads a JWKS document, keeping the signature keys zgate can use.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, JwksError> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| JwksError(e.to_string()))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError("no \"keys\" array".into()))?;
        let mut set = KeySet::default();
        for k in list {
            let text = |name: &str| k.get(name).and_then(Value::as_str);
            let Some(kid) = text("kid") else {
                set.skipped.push("a key without kid".into());
                continue;
            };
            if text("use").is_some_and(|u| u != "sig") {
                set.skipped.push(format!("{kid}: not a signature key"));
                continue;
            }
            let bytes = |name: &str| text(name).and_then(|v| B64URL.decode(v).ok());
            let key = match (text("kty"), text("crv")) {
                (Some("RSA"), _) => match (bytes("n"), bytes("e")) {
                    (Some(n), Some(e)) => {
                        let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
                        let bits =
                            n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                        if bits < MIN_RSA_BITS {
                            set.skipped.push(format!("{kid}: RSA key of {bits} bits"));
                            continue;
                        }
                        PublicKey::Rsa { n, e }
                    }
                    _ => {
                        set.skipped.push(format!("{kid}: RSA key without n and e"));
                        continue;
                    }
                },
                (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
                    let size = if crv == "P-256" { 32 } else { 48 };
                    match (bytes("x"), bytes("y")) {
                        (Some(x), Some(y)) if x.len() == size && y.len() == size => {
                            let mut point = vec![4u8];
                            point.extend(x);
                            point.extend(y);
                            if size == 32 {
                                PublicKey::P256(point)
                            } else {
                                PublicKey::P384(point)
                            }
                        }
                        _ => {
                            set.skipped.push(format!("{kid}: EC key without x and y"));
                            continue;
                        }
                    }
                }
                (kty, crv) => {
                    set.skipped.push(format!(
                        "{kid}: key type {} {} not supported",
                        kty.unwrap_or("?"),
                        crv.unwrap_or("")
                    ));
                    continue;
                }
            };
            set.keys.insert(
                kid.to_owned(),
                Jwk {
                    key,
                    alg: text("alg").map(str::to_owned),
                },
            );
        }
        Ok(set)
    }

    /// Whether the set has a key of this id.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A token whose signature and claims hold.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The distributed user name.
    pub sub: String,
    /// The expiry (s since the epoch): what zgate derives from it ends by then.
    pub exp: i64,
    /// Every claim, verified.
    pub claims: Map<String, Value>,
}

fn part(text: &str) -> Result<Map<String, Value>, OidcError> {
    let bytes = B64URL.decode(text).map_err(|_| OidcError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OidcError::Malformed),
    }
}

/// The `kid` a token names, read from its header (to know whether the key
/// set must be fetched again); nothing else of the token is believed.
pub fn key_id(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    part(header).ok()?.get("kid")?.as_str().map(str::to_owned)
}

/// Checks `token` against `policy` with `keys`, at `now_s` (s since the epoch).
pub fn verify(
    token: &str,
    policy: &ProviderPolicy,
    keys: &KeySet,
    now_s: i64,
) -> Result<VerifiedToken, OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed);
    };
    let header = part(h)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(OidcError::Malformed)?;
    let alg = Algorithm::from_name(alg_name)
        .filter(|a| policy.algorithms.contains(a))
        .ok_or_else(|| OidcError::Algorithm(alg_name.to_owned()))?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(OidcError::NoKid)?;
    let jwk = keys
        .keys
        .get(kid)
        .ok_or_else(|| OidcError::UnknownKid(kid.to_owned()))?;
    let mismatch = || OidcError::KeyMismatch {
        alg: alg_name.to_owned(),
        kid: kid.to_owned(),
    };
    if jwk.alg.as_deref().is_some_and(|a| a != alg_name) {
        return Err(mismatch());
    }
    let sig = B64URL.decode(s).map_err(|_| OidcError::Malformed)?;
    let message = &token.as_bytes()[..h.len() + 1 + p.len()];
    let verified = match (&jwk.key, alg) {
        (PublicKey::Rsa { n, e }, Algorithm::Rs256) => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            &sig,
        ),
        (PublicKey::Rsa { n, e }, Algorithm::Ps256) => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PSS_2048_8192_SHA256,
            message,
            &sig,
        ),
        (PublicKey::P256(point), Algorithm::Es256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, &sig)
        }
        (PublicKey::P384(point), Algorithm::Es384) => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).verify(message, &sig)
        }
        _ => return Err(mismatch()),
    };
    verified.map_err(|_| OidcError::BadSignature)?;
    // Only now are the header's other fields and the payload believed.
    let claims = part(p)?;
    if let Some(first) = claim_problems(&header, &claims, policy, now_s)
        .into_iter()
        .next()
    {
        return Err(first);
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    Ok(VerifiedToken { sub, exp, claims })
}

/// Every reason `policy` refuses a token at `now_s` for its header and
/// claims, in the order [`verify`] reports the first: the one statement of
/// the rules, for the gateway (the first reason) and for a diagnosis
/// (all of them). Believe the header and claims only of a token whose
/// signature verified.
pub fn claim_problems(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    policy: &ProviderPolicy,
    now_s: i64,
) -> Vec<OidcError> {
    let mut problems = Vec::new();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if policy.require_access_token_type {
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case("at+jwt") {
            problems.push(OidcError::WrongType);
        }
    }
    let issuer = claims.get("iss").and_then(Value::as_str);
    if !issuer.is_some_and(|iss| policy.issuers.iter().any(|w| w == iss)) {
        problems.push(OidcError::WrongIssuer);
    }
    let for_us = |a: &Value| {
        a.as_str()
            .is_some_and(|a| policy.audiences.iter().any(|w| w == a))
    };
    let audience_ok = match claims.get("aud") {
        Some(Value::Array(list)) => list.iter().any(for_us),
        Some(one) => for_us(one),
        None => false,
    };
    if !audience_ok {
        problems.push(OidcError::WrongAudience);
    }
    if !policy.authorized_parties.is_empty() {
        let party = claims
            .get("azp")
            .or_else(|| claims.get("client_id"))
            .and_then(Value::as_str);
        if !party.is_some_and(|p| policy.authorized_parties.iter().any(|w| w == p)) {
            problems.push(OidcError::WrongParty);
        }
    }
    match number("exp") {
        None => problems.push(OidcError::NoExpiry),
        Some(exp) if now_s > exp.saturating_add(policy.skew_s) => problems.push(OidcError::Expired),
        Some(_) => {}
    }
    if number("nbf").is_some_and(|nbf| now_s.saturating_add(policy.skew_s) < nbf) {
        problems.push(OidcError::NotYetValid);
    }
    if let Some(iat) = number("iat") {
        let future = iat > now_s.saturating_add(policy.skew_s);
        let too_old = policy
            .max_age_s
            .is_some_and(|max| now_s.saturating_sub(iat) > max.saturating_add(policy.skew_s));
        if future || too_old {
            problems.push(OidcError::IssueTime);
        }
    }
    let sub_ok = claims
        .get("sub")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty() && s.len() <= MAX_SUBJECT_BYTES);
    if !sub_ok {
        problems.push(OidcError::BadSubject);
    }
    problems
}

/// Where a provider's key set comes from (its `jwks_uri`).
pub trait JwksSource: Send + Sync {
    /// The JWKS document, or why it could not be had.
    fn fetch(&self) -> Result<Vec<u8>, String>;
}

/// A provider's keys as a running gateway keeps them.
pub struct ProviderKeys {
    source: Box<dyn JwksSource>,
    current: RwLock<Arc<KeySet>>,
    /// When a fetch was last forced by an unknown `kid` (s); held while
    /// fetching, so concurrent requests share one fetch.
    forced: Mutex<Option<i64>>,
}

impl ProviderKeys {
    /// Keys from `source`, none until the first [`ProviderKeys::refresh`].
    pub fn new(source: Box<dyn JwksSource>) -> ProviderKeys {
        ProviderKeys {
            source,
            current: RwLock::new(Arc::new(KeySet::default())),
            forced: Mutex::new(None),
        }
    }

    /// The key set now.
    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetches the set and replaces the current one, only on success: a
    /// provider that is down leaves the last good keys in place.
    pub fn refresh(&self) -> Result<usize, String> {
        let bytes = self.source.fetch()?;
        let set = KeySet::from_jwks(&bytes).map_err(|e| e.to_string())?;
        Ok(self.install(set))
    }

    /// Replaces the current set with `set` (fetched elsewhere); its size.
    pub fn install(&self, set: KeySet) -> usize {
        let n = set.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        n
    }

    /// [`verify`] with these keys. A `kid` the set lacks makes one fetch
    /// (shared by concurrent callers, at most every
    /// `policy.refetch_interval_s`), then one more try.
    pub fn verify(
        &self,
        token: &str,
        policy: &ProviderPolicy,
        now_s: i64,
    ) -> Result<VerifiedToken, OidcError> {
        let before = self.current();
        match verify(token, policy, &before, now_s) {
            Err(OidcError::UnknownKid(kid)) => {
                {
                    let mut forced = self.forced.lock().unwrap_or_else(|p| p.into_inner());
                    let fetched_meanwhile = !Arc::ptr_eq(&before, &self.current());
                    let may = forced.is_none_or(|at| now_s - at >= policy.refetch_interval_s);
                    if !fetched_meanwhile && may {
                        *forced = Some(now_s);
                        // A failed fetch keeps the keys; the token stays refused.
                        let _ = self.refresh();
                    }
                }
                let after = self.current();
                if after.has(&kid) {
                    verify(token, policy, &after, now_s)
                } else {
                    Err(OidcError::UnknownKid(kid))
                }
            }
            other => other,
        }
    }
}
