//! Access tokens of the configured OpenID provider, as the gateway accepts
//! them (spec `oidc.md` sections 2 and 8): checked with the provider's key
//! set by zgate's strict validator ([`zgate_auth::oidc`]), or by asking the
//! provider's userinfo endpoint; results cached briefly by the token's hash.
//!
//! This says only whether a token is the provider's and whose (`sub`); the
//! mainframe user it maps to is asked of the security manager on every
//! request ([`crate::extract`]), so a DELMAP or a REVOKE counts at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;
use zgate_auth::oidc::{
    verify, Algorithm, JwksSource, KeySet, OidcError, ProviderKeys, ProviderPolicy,
    MAX_SUBJECT_BYTES, MAX_TOKEN_BYTES,
};
use zgate_auth::TokenHash;
use zgate_base::clock::Clock;
use zgate_config::{OidcConfig, OidcValidation};

use super::fetch::{FetchError, ProviderClient};

/// A valid result is kept at most this long (API ML's documented 20 s),
/// and never past the token's `exp`.
const VALID_FOR_S: i64 = 20;
/// A refusal is kept this long, so a flood of one bad token costs one
/// check, and a token the provider just started to accept waits little.
const REFUSED_FOR_S: i64 = 5;
/// Results kept at most.
const CACHE_CAPACITY: usize = 10_000;
/// Keys not refreshed for this long are not trusted any more.
const MAX_KEY_STALENESS_S: i64 = 24 * 3600;
/// The scheduled refresh is never sooner or later than these.
const MIN_REFRESH_S: u64 = 300;
const MAX_REFRESH_S: u64 = 24 * 3600;

/// `oidc-token/validate` requests admitted per client address and minute:
/// API ML's endpoint needs no authentication, so it must not become an
/// oracle anyone can ask without end.
pub const VALIDATIONS_PER_MINUTE: u32 = 60;
/// Client addresses the limiter remembers at most.
const LIMITER_CAPACITY: usize = 10_000;

/// A token the provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The distributed user name (`sub`).
    pub sub: String,
    /// When the token expires (s since the epoch); `None` for a token only
    /// its userinfo endpoint knows.
    pub exp_s: Option<i64>,
}

/// Why a provider token is not accepted. The text is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The strict validator refused it.
    #[error(transparent)]
    Token(#[from] OidcError),
    /// The userinfo endpoint did not accept it, or named another subject.
    #[error("the provider's userinfo endpoint refused the token: {0}")]
    Userinfo(String),
    /// The provider could not be asked, or its keys are too old to trust.
    #[error("the provider cannot vouch for the token now: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// Whether the token has expired (API ML answers that apart).
    pub fn is_expired(&self) -> bool {
        matches!(self, Refusal::Token(OidcError::Expired))
    }
}

enum Validation {
    Keys {
        keys: Arc<ProviderKeys>,
        uri: String,
        refresh_hours: u64,
        /// When the keys were last fetched (s); `None`: never.
        fetched_at: Mutex<Option<i64>>,
    },
    Userinfo {
        uri: String,
        /// Userinfo requests in flight at most: every new token costs the
        /// provider a request, and a flood of made-up tokens must not
        /// become a flood at the provider.
        in_flight: tokio::sync::Semaphore,
    },
}

/// [`Validation::Userinfo`]'s bound on requests in flight.
const USERINFO_IN_FLIGHT: usize = 16;

#[derive(Clone)]
struct Cached {
    until_s: i64,
    result: Result<ProviderIdentity, Refusal>,
}

/// The provider's tokens, as one gateway checks them.
pub struct ProviderTokens {
    /// The configuration it was made from (the login flow reads its client
    /// registration, issuers and cookie settings).
    config: OidcConfig,
    policy: ProviderPolicy,
    registry: String,
    validation: Validation,
    client: ProviderClient,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<TokenHash, Cached>>,
    /// Per client address: the minute and the validations in it.
    validations: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

/// The key set fetched synchronously, for a forced refetch (an unknown
/// `kid`), which runs on a blocking thread of its own.
struct BlockingJwks {
    client: ProviderClient,
    uri: String,
}

impl JwksSource for BlockingJwks {
    fn fetch(&self) -> Result<Vec<u8>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let answer = runtime
            .block_on(self.client.get(&self.uri, None))
            .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("the key set answered {}", answer.status));
        }
        Ok(answer.body.to_vec())
    }
}

/// What the provider's tokens must satisfy, from `config`: the one policy
/// the gateway checks them with (and `zgate oidc check` explains).
pub fn policy(config: &OidcConfig) -> ProviderPolicy {
    ProviderPolicy {
        issuers: config.issuers.clone(),
        audiences: config.audiences.clone(),
        algorithms: config
            .algorithms
            .iter()
            .filter_map(|a| Algorithm::from_name(a))
            .collect(),
        skew_s: i64::try_from(config.skew_seconds).unwrap_or(30),
        max_age_s: config
            .max_token_age_seconds
            .and_then(|s| i64::try_from(s).ok()),
        refetch_interval_s: i64::try_from(config.refetch_interval_seconds).unwrap_or(60),
        authorized_parties: config.authorized_parties.clone(),
        require_access_token_type: config.require_access_token_type,
    }
}

impl ProviderTokens {
    /// The provider `config` describes, asked through `client`.
    pub fn new(config: &OidcConfig, client: ProviderClient, clock: Arc<dyn Clock>) -> Self {
        let policy = policy(config);
        let validation = match &config.validation {
            OidcValidation::Jwk { uri, refresh_hours } => Validation::Keys {
                keys: Arc::new(ProviderKeys::new(Box::new(BlockingJwks {
                    client: client.clone(),
                    uri: uri.clone(),
                }))),
                uri: uri.clone(),
                refresh_hours: *refresh_hours,
                fetched_at: Mutex::new(None),
            },
            OidcValidation::Endpoint { userinfo_uri } => Validation::Userinfo {
                uri: userinfo_uri.clone(),
                in_flight: tokio::sync::Semaphore::new(USERINFO_IN_FLIGHT),
            },
        };
        ProviderTokens {
            config: config.clone(),
            policy,
            registry: config.registry.clone(),
            validation,
            client,
            clock,
            cache: Mutex::new(HashMap::new()),
            validations: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more validation request from `client` is admitted this
    /// minute ([`VALIDATIONS_PER_MINUTE`]).
    pub fn admit_validation(&self, client: IpAddr) -> bool {
        let minute = self.now_s().div_euclid(60);
        let mut seen = self.validations.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= LIMITER_CAPACITY && !seen.contains_key(&client) {
            seen.retain(|_, (m, _)| *m == minute);
            if seen.len() >= LIMITER_CAPACITY {
                // A flood from many addresses: no room to tell them apart.
                return false;
            }
        }
        let entry = seen.entry(client).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= VALIDATIONS_PER_MINUTE
    }

    /// The registry name mappings are asked for (RACMAP `REGISTRY`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The configuration of the provider (and of zgate as its client).
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// What asks the provider (its token endpoint, for the login flow).
    pub fn client(&self) -> &ProviderClient {
        &self.client
    }

    /// The claims of an ID token the token endpoint just gave zgate as the
    /// client `client_id` (OIDC Core 3.1.3.7): a configured issuer, `aud`
    /// holding the client, `exp` and `iat` within the skew, a usable `sub`;
    /// in JWK mode signed with the provider's keys (an unknown `kid` makes
    /// the same rate-limited fetch as an access token's). In userinfo mode
    /// zgate holds no keys: the token came straight from the token endpoint
    /// on the connection zgate opened, which OIDC Core 3.1.3.7 (6) lets
    /// stand in for the signature, and the claims are checked all the same.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        client_id: &str,
    ) -> Result<serde_json::Map<String, Value>, Refusal> {
        let now = self.now_s();
        // An ID token is not an access token: its audience is the client,
        // and the access-token rules (`typ`, `azp` list, age) do not apply.
        let policy = ProviderPolicy {
            audiences: vec![client_id.to_owned()],
            max_age_s: None,
            authorized_parties: Vec::new(),
            require_access_token_type: false,
            ..self.policy.clone()
        };
        match &self.validation {
            Validation::Keys { keys, .. } => {
                let verified = match verify(id_token, &policy, &keys.current(), now) {
                    Err(OidcError::UnknownKid(_)) => {
                        let (keys, token) = (keys.clone(), id_token.to_owned());
                        tokio::task::spawn_blocking(move || keys.verify(&token, &policy, now))
                            .await
                            .map_err(|e| Refusal::Unavailable(e.to_string()))?
                    }
                    other => other,
                }?;
                Ok(verified.claims)
            }
            Validation::Userinfo { .. } => {
                if id_token.len() > MAX_TOKEN_BYTES {
                    return Err(OidcError::TooLarge.into());
                }
                let claims = unverified_claims(id_token).ok_or(OidcError::Malformed)?;
                let iss = claims.get("iss").and_then(Value::as_str);
                if !iss.is_some_and(|iss| policy.issuers.iter().any(|w| w == iss)) {
                    return Err(OidcError::WrongIssuer.into());
                }
                let for_client = |a: &Value| a.as_str() == Some(client_id);
                let audience_ok = match claims.get("aud") {
                    Some(Value::Array(list)) => list.iter().any(for_client),
                    Some(one) => for_client(one),
                    None => false,
                };
                if !audience_ok {
                    return Err(OidcError::WrongAudience.into());
                }
                let exp = claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .ok_or(OidcError::NoExpiry)?;
                if now > exp.saturating_add(policy.skew_s) {
                    return Err(OidcError::Expired.into());
                }
                let sub_ok = claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty() && s.len() <= MAX_SUBJECT_BYTES);
                if !sub_ok {
                    return Err(OidcError::BadSubject.into());
                }
                Ok(claims)
            }
        }
    }

    fn now_s(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    /// Whether `token` is a valid token of the provider, and whose.
    pub async fn validate(&self, token: &str) -> Result<ProviderIdentity, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OidcError::TooLarge.into());
        }
        let hash = TokenHash::of(token);
        let now = self.now_s();
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .filter(|c| c.until_s > now)
            .map(|c| c.result.clone());
        if let Some(result) = cached {
            return result;
        }
        let result = match &self.validation {
            Validation::Keys {
                keys, fetched_at, ..
            } => self.with_keys(token, keys, fetched_at, now).await,
            Validation::Userinfo { uri, in_flight } => {
                let Ok(_permit) = in_flight.acquire().await else {
                    return Err(Refusal::Unavailable("shutting down".into()));
                };
                self.with_userinfo(token, uri, now).await
            }
        };
        let until_s = match &result {
            Ok(identity) => identity
                .exp_s
                .map_or(now + VALID_FOR_S, |exp| exp.min(now + VALID_FOR_S)),
            // The provider may be back in a moment: ask again then.
            Err(Refusal::Unavailable(_)) => now,
            Err(_) => now + REFUSED_FOR_S,
        };
        if until_s > now {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| c.until_s > now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(
                hash,
                Cached {
                    until_s,
                    result: result.clone(),
                },
            );
        }
        result
    }

    async fn with_keys(
        &self,
        token: &str,
        keys: &Arc<ProviderKeys>,
        fetched_at: &Mutex<Option<i64>>,
        now: i64,
    ) -> Result<ProviderIdentity, Refusal> {
        let fetched = *fetched_at.lock().unwrap_or_else(|p| p.into_inner());
        if fetched.is_some_and(|at| now - at > MAX_KEY_STALENESS_S) {
            return Err(Refusal::Unavailable(
                "the provider's keys have not been refreshed for 24 hours".into(),
            ));
        }
        let verified = match verify(token, &self.policy, &keys.current(), now) {
            Err(OidcError::UnknownKid(_)) => {
                // The provider may have rotated its keys: one fetch, shared
                // and rate-limited by `ProviderKeys`, on a blocking thread.
                let (keys, policy, token) = (keys.clone(), self.policy.clone(), token.to_owned());
                let before = keys.current();
                let result = tokio::task::spawn_blocking(move || {
                    let result = keys.verify(&token, &policy, now);
                    (result, !Arc::ptr_eq(&before, &keys.current()))
                })
                .await
                .map_err(|e| Refusal::Unavailable(e.to_string()))?;
                if result.1 {
                    *fetched_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
                }
                result.0
            }
            other => other,
        }?;
        Ok(ProviderIdentity {
            sub: verified.sub,
            exp_s: Some(verified.exp),
        })
    }

    async fn with_userinfo(
        &self,
        token: &str,
        uri: &str,
        now: i64,
    ) -> Result<ProviderIdentity, Refusal> {
        // A JWT names its issuer and subject: a foreign or expired one is
        // not sent to the provider at all. An opaque token only the
        // provider can judge.
        let claims = unverified_claims(token);
        let mut exp_s = None;
        if let Some(claims) = &claims {
            let iss = claims.get("iss").and_then(Value::as_str);
            if !iss.is_some_and(|iss| self.policy.issuers.iter().any(|w| w == iss)) {
                return Err(OidcError::WrongIssuer.into());
            }
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .ok_or(OidcError::NoExpiry)?;
            if now > exp.saturating_add(self.policy.skew_s) {
                return Err(OidcError::Expired.into());
            }
            exp_s = Some(exp);
        } else if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        {
            return Err(OidcError::Malformed.into());
        }
        let answer = self
            .client
            .get(uri, Some(token))
            .await
            .map_err(|e: FetchError| Refusal::Unavailable(e.to_string()))?;
        if answer.status >= 500 {
            return Err(Refusal::Unavailable(format!(
                "userinfo answered {}",
                answer.status
            )));
        }
        if !answer.is_success() {
            return Err(Refusal::Userinfo(format!("status {}", answer.status)));
        }
        let info: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| Refusal::Userinfo("the answer is not JSON".into()))?;
        let sub = info
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty() && s.len() <= MAX_SUBJECT_BYTES)
            .ok_or_else(|| Refusal::Userinfo("the answer names no usable subject".into()))?;
        // The provider's word, not the token's, names the user; a JWT that
        // says otherwise is not the token the provider answered for.
        if let Some(claims) = &claims {
            if claims.get("sub").and_then(Value::as_str) != Some(sub) {
                return Err(Refusal::Userinfo(
                    "the token's subject is not the one userinfo names".into(),
                ));
            }
        }
        Ok(ProviderIdentity {
            sub: sub.to_owned(),
            exp_s,
        })
    }

    /// Keeps the key set fresh (JWK mode; returns at once otherwise):
    /// fetched now, then when the provider's `Cache-Control` says (within
    /// 5 minutes and 24 hours), else every `refreshInternalHours`. A failed
    /// fetch keeps the last good keys and is retried with backoff.
    pub async fn keep_keys_fresh(self: Arc<Self>) {
        let Validation::Keys {
            keys,
            uri,
            refresh_hours,
            fetched_at,
        } = &self.validation
        else {
            return;
        };
        let scheduled = next_refresh_s(None, *refresh_hours);
        let mut backoff = Duration::from_secs(5);
        loop {
            let wait = match self.client.get(uri, None).await {
                Ok(answer) if answer.status == 200 => match KeySet::from_jwks(&answer.body) {
                    Ok(set) => {
                        for skipped in &set.skipped {
                            tracing::debug!(%skipped, "OIDC key not used");
                        }
                        let n = keys.install(set);
                        *fetched_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.now_s());
                        tracing::info!(keys = n, "OIDC provider keys fetched");
                        backoff = Duration::from_secs(5);
                        Duration::from_secs(next_refresh_s(answer.max_age_s, *refresh_hours))
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the OIDC provider's key set is not usable; the last good keys stay");
                        backoff
                    }
                },
                Ok(answer) => {
                    tracing::warn!(
                        status = answer.status,
                        "the OIDC provider's key set could not be fetched; the last good keys stay"
                    );
                    backoff
                }
                Err(error) => {
                    tracing::warn!(%error, "the OIDC provider's key set could not be fetched; the last good keys stay");
                    backoff
                }
            };
            if wait == backoff {
                backoff = (backoff * 2).min(Duration::from_secs(scheduled));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Seconds until the next scheduled key fetch: what the provider's
/// `Cache-Control: max-age` says, else `refreshInternalHours`, within 5
/// minutes and 24 hours either way.
fn next_refresh_s(max_age_s: Option<u64>, refresh_hours: u64) -> u64 {
    max_age_s
        .unwrap_or_else(|| refresh_hours.saturating_mul(3600))
        .clamp(MIN_REFRESH_S, MAX_REFRESH_S)
}

/// The payload of a compact JWS, unverified: only to decide whether the
/// provider is asked, never to accept.
fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    match serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fetched_when_the_provider_says_within_bounds() {
        assert_eq!(next_refresh_s(None, 1), 3600);
        assert_eq!(next_refresh_s(Some(7200), 1), 7200);
        // `no-store` or a tiny max-age would hammer the provider.
        assert_eq!(next_refresh_s(Some(0), 1), 300);
        assert_eq!(next_refresh_s(Some(10), 1), 300);
        // A year-long max-age would keep a revoked key.
        assert_eq!(next_refresh_s(Some(365 * 86400), 1), 86400);
        assert_eq!(next_refresh_s(None, 48), 86400);
        assert_eq!(next_refresh_s(None, u64::MAX), 86400);
    }

    #[test]
    fn validation_requests_are_counted_per_address_and_minute() {
        let clock = Arc::new(zgate_base::clock::ManualClock::new(120_000));
        let config = OidcConfig {
            registry: "r".into(),
            validation: OidcValidation::Endpoint {
                userinfo_uri: "http://127.0.0.1:1/me".into(),
            },
            issuers: vec!["http://127.0.0.1:1".into()],
            audiences: vec!["a".into()],
            algorithms: vec!["RS256".into()],
            skew_seconds: 30,
            max_token_age_seconds: None,
            refetch_interval_seconds: 60,
            authorized_parties: Vec::new(),
            require_access_token_type: false,
            cookie_same_site: "Lax".into(),
            client: None,
        };
        let tokens = ProviderTokens::new(
            &config,
            ProviderClient::new(None, Duration::from_secs(1)),
            clock.clone(),
        );
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for _ in 0..VALIDATIONS_PER_MINUTE {
            assert!(tokens.admit_validation(a));
        }
        assert!(!tokens.admit_validation(a));
        assert!(tokens.admit_validation(b));
        clock.advance_ms(60_000);
        assert!(tokens.admit_validation(a));
    }
}
