//! zgate as the OpenID provider's client: a browser's login by the
//! authorization-code flow (spec `oidc.md` section 7), stricter where
//! section 8 says API ML is weak (allow-listed return URLs, PKCE S256,
//! short-lived state that cannot be changed).
//!
//! - `GET /gateway/oauth2/authorization/{id}[?returnUrl=...]`: for the
//!   configured registration `{id}` (else 404), a 302 to the provider's
//!   authorization endpoint (`response_type=code`, `client_id`,
//!   `redirect_uri`, `scope`, `state`, `nonce` as API ML sends it, i.e.
//!   base64url(SHA-256(nonce)), `code_challenge` S256, `resource` when
//!   configured) and the pending login in the cookie `oidc_state`. A return
//!   URL (`returnUrl`, else the `Origin` header, as API ML) that is not
//!   allowed is refused (400, ZGATE411E) before anything else happens.
//! - `GET /gateway/login/oauth2/code/{id}?code=..&state=..`: the provider
//!   sends the browser back here. The state must be the pending login's,
//!   the code is exchanged at the token endpoint (`client_secret_basic`,
//!   the PKCE verifier), the ID token's `nonce` must be the login's, the
//!   access token must be valid as any provider token is
//!   ([`ProviderTokens::validate`]) and its subject must map to a user
//!   (RACMAP). Then zgate's session cookie, `oidc_state` cleared, and a 302
//!   to the return URL (or a small page without one). Any failure clears
//!   `oidc_state` and answers the documented error (401 with
//!   `X-Zowe-Auth-Failure`: ZGATE401E, ZWEAG161E "No mainframe identity
//!   found.", ZWEAT414E for a revoked user); it never redirects.
//!
//! Decisions:
//! - **The pending login is one sealed cookie.** State, nonce, PKCE
//!   verifier, redirect URI, return URL and expiry travel in `oidc_state`,
//!   sealed with ChaCha20-Poly1305 under the key in the home's
//!   `state/oidc-login.key` (made at the first start, 0600; nodes of a
//!   cluster share it as they share `state/`). API ML spreads them in clear over `oidc_state`,
//!   `oidc_nonce` and `oidc_return_url`: a script or a sibling domain that
//!   plants cookies could then pick the return URL. Sealed, the browser can
//!   neither read the verifier nor change any part, the five minutes are
//!   enforced by zgate (not only by the cookie's `Max-Age`), and zgate
//!   keeps nothing per login, so no map can be flooded. A login may end on
//!   any node of a cluster, and survives a restart.
//! - **The redirect URI** is `zgate.oidc.client.redirectUri` when
//!   configured (the recommended setting: providers compare it exactly with
//!   the registered one). Without it, it is
//!   `https://<authority>/gateway/login/oauth2/code/{id}` where the
//!   authority is the request's `Host` (HTTP/2: `:authority`, and both must
//!   agree when both are sent), accepted only as a host name or IP literal
//!   with an optional port. The URI sent is sealed with the login, so the
//!   code is exchanged with exactly it.
//! - **The session is zgate's own JWT** for the mapped user, issued with
//!   [`zgate_auth::TokenService::issue_until`] capped at the provider
//!   token's `exp` — unlike API ML, which puts the provider's access token
//!   in `apimlAuthenticationToken`. zgate's token is what every endpoint
//!   knows (`auth/query` answers for it, logout revokes it, a REVOKE of the
//!   user ends it), and the provider's token never reaches the browser.
//! - **Without a return URL** the login ends on a small HTML page (200):
//!   a 204 would leave the browser on the provider's page.

use std::net::Ipv6Addr;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zgate_config::OidcClientConfig;

use super::fetch::form_encode;
use super::provider::{ProviderTokens, Refusal};
use crate::audit::{self, RequestOrigin, TokenKind};
use crate::auth_routes::token_cookie;
use crate::error::{refuse_other_methods, ApiError};
use crate::metrics::LoginOutcome;
use crate::security::{IdentityOutcome, Secret};
use crate::state::AppState;

/// Where a browser starts a login.
pub const AUTHORIZATION_PATH: &str = "/gateway/oauth2/authorization/{id}";
/// Where the provider sends the browser back (API ML's default redirect URI).
pub const CALLBACK_PATH: &str = "/gateway/login/oauth2/code/{id}";
const CALLBACK_PREFIX: &str = "/gateway/login/oauth2/code/";
/// The cookie holding the sealed pending login.
pub const STATE_COOKIE: &str = "oidc_state";
/// How long a login may take from start to callback (the cookie's
/// `Max-Age` and the sealed expiry).
pub const PENDING_SECONDS: i64 = 300;
/// The longest return URL taken: the sealed cookie must stay well below
/// the 4 KiB browsers keep.
pub const MAX_RETURN_URL_BYTES: usize = 1024;
/// The longest code taken from the callback's query.
const MAX_CODE_BYTES: usize = 4096;
/// `oidc_state` cookies tried at most (another path or a planted one may
/// stand beside zgate's).
const MAX_STATE_COOKIES: usize = 4;
/// Bound into every seal, so nothing else sealed under the key could pass
/// for a pending login.
const SEAL_LABEL: &[u8] = b"zgate oidc pending login v1";

const LANDING_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>zgate</title></head><body><p>You are logged in. You may close this window.</p></body></html>\n";

/// The login endpoints, at their full paths; pending logins sealed with
/// `key` (see [`AppState::with_oidc_login_key`]).
pub fn routes(key: Option<&[u8; 32]>) -> Router<AppState> {
    let sealer = Sealer::new(key).map(Arc::new);
    if sealer.is_none() {
        tracing::error!("no randomness for the OIDC login's key: its endpoints answer 503");
    }
    Router::new()
        .route(AUTHORIZATION_PATH, refuse_other_methods(get(authorize)))
        .route(CALLBACK_PATH, refuse_other_methods(get(callback)))
        .layer(Extension(Sealing(sealer)))
}

/// The pending login, as sealed in `oidc_state` (short names: it is a
/// cookie). No `Debug`: it holds the verifier and the nonce.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The registration id it was started for.
    #[serde(rename = "r")]
    registration: String,
    #[serde(rename = "s")]
    state: String,
    /// The nonce itself; the provider was sent its SHA-256.
    #[serde(rename = "n")]
    nonce: String,
    /// The PKCE code verifier.
    #[serde(rename = "v")]
    verifier: String,
    /// The redirect URI sent, sent again with the code.
    #[serde(rename = "u")]
    redirect_uri: String,
    /// Where the browser goes once logged in (allowed when started).
    #[serde(rename = "t")]
    return_url: Option<String>,
    /// Not accepted from then on (s since the epoch).
    #[serde(rename = "e")]
    expires_s: i64,
}

/// Seals and opens pending logins with a key of this process.
struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

#[derive(Clone)]
struct Sealing(Option<Arc<Sealer>>);

impl Sealer {
    /// With `key`, or a key drawn now.
    fn new(key: Option<&[u8; 32]>) -> Option<Sealer> {
        let random = SystemRandom::new();
        let mut bytes = [0u8; 32];
        match key {
            Some(key) => bytes.copy_from_slice(key),
            None => random.fill(&mut bytes).ok()?,
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).ok()?;
        bytes.fill(0);
        Some(Sealer {
            key: LessSafeKey::new(key),
            random,
        })
    }

    /// 32 random bytes, base64url (43 characters: also a valid PKCE verifier).
    fn random_text(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes).ok()?;
        Some(B64URL.encode(bytes))
    }

    /// base64url(random nonce ‖ sealed JSON ‖ tag). A random 96-bit nonce
    /// per seal: a repeat is out of reach.
    fn seal(&self, pending: &Pending) -> Option<String> {
        let mut data = serde_json::to_vec(pending).ok()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(SEAL_LABEL),
                &mut data,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(B64URL.encode(out))
    }

    /// The pending login `text` seals, if this process sealed it unchanged.
    fn open(&self, text: &str) -> Option<Pending> {
        let bytes = B64URL.decode(text).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(SEAL_LABEL), &mut sealed)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

/// The provider and its client registration `id`, or 404: an unknown
/// registration is no endpoint (as in API ML, which has no filter for it).
fn registration(
    state: &AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<(Arc<ProviderTokens>, String), ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::NotFound);
    };
    let provider = state.oidc().cloned().ok_or(ApiError::NotFound)?;
    if client_of(&provider).is_none_or(|c| c.registration_id != id) {
        return Err(ApiError::NotFound);
    }
    Ok((provider, id))
}

fn client_of(provider: &ProviderTokens) -> Option<&OidcClientConfig> {
    provider.config().client.as_ref()
}

/// `GET /gateway/oauth2/authorization/{id}`: the start of a login.
async fn authorize(
    State(state): State<AppState>,
    Extension(Sealing(sealer)): Extension<Sealing>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (provider, id) = registration(&state, id)?;
    let client = client_of(&provider).ok_or(ApiError::NotFound)?;
    let sealer = sealer.ok_or(ApiError::BackendUnavailable)?;
    let authority = request_authority(&uri, &headers);

    let return_url = match query_value(uri.query(), "returnUrl") {
        Err(()) => return Err(ApiError::ReturnUrlRefused),
        Ok(Some(url)) => Some(url),
        Ok(None) => origin_header(&headers)?,
    };
    if let Some(url) = &return_url {
        if !return_url_allowed(url, &client.return_urls, authority.as_deref()) {
            tracing::info!(target: "zgate::audit", registration = %id, "OIDC login refused: the return URL is not allowed");
            return Err(ApiError::ReturnUrlRefused);
        }
    }
    let redirect_uri = match &client.redirect_uri {
        Some(configured) => configured.clone(),
        None => {
            let authority = authority.ok_or(ApiError::RejectedTarget {
                why: "the Host is not a host name or IP address with an optional port",
            })?;
            format!("https://{authority}{CALLBACK_PREFIX}{id}")
        }
    };

    let unavailable = || {
        tracing::error!("no randomness for an OIDC login");
        ApiError::BackendUnavailable
    };
    let login_state = sealer.random_text().ok_or_else(unavailable)?;
    let nonce = sealer.random_text().ok_or_else(unavailable)?;
    let verifier = sealer.random_text().ok_or_else(unavailable)?;
    let now_s = state.tokens().now_ms().div_euclid(1000);
    let pending = Pending {
        registration: id,
        state: login_state,
        nonce,
        verifier,
        redirect_uri,
        return_url,
        expires_s: now_s.saturating_add(PENDING_SECONDS),
    };
    let sealed = sealer.seal(&pending).ok_or_else(unavailable)?;

    // API ML sends the provider the nonce's hash and keeps the nonce; so
    // does zgate (the ID token then carries the hash).
    let hashed_nonce = sha256_b64url(&pending.nonce);
    let challenge = sha256_b64url(&pending.verifier);
    let scope = client.scope.join(" ");
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.client_id),
        ("redirect_uri", &pending.redirect_uri),
        ("scope", &scope),
        ("state", &pending.state),
        ("nonce", &hashed_nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(resource) = &client.resource {
        params.push(("resource", resource));
    }
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let endpoint = client
        .authorization_uri
        .split('#')
        .next()
        .unwrap_or_default();
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let location = HeaderValue::from_str(&format!("{endpoint}{separator}{query}"))
        .map_err(|_| ApiError::BackendUnavailable)?;

    let same_site = &provider.config().cookie_same_site;
    let cookie = HeaderValue::from_str(&format!(
        "{STATE_COOKIE}={sealed}; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age={PENDING_SECONDS}"
    ))
    .map_err(|_| ApiError::BackendUnavailable)?;
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::SET_COOKIE, cookie);
    no_store(headers);
    Ok(response)
}

/// `GET /gateway/login/oauth2/code/{id}`: the provider's answer. Errors are
/// rendered here, not at the edge, because the answer must also clear the
/// pending login's cookie.
async fn callback(
    State(state): State<AppState>,
    Extension(Sealing(sealer)): Extension<Sealing>,
    RequestOrigin(origin): RequestOrigin,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let same_site = state
        .oidc()
        .map_or_else(|| "Lax".to_owned(), |p| p.config().cookie_same_site.clone());
    let result = finish_login(&state, sealer, &origin, id, &uri, &headers).await;
    let (mut response, failed) = match result {
        Ok(response) => (response, false),
        Err(error) => (error.render(uri.path()), true),
    };
    if let Ok(clear) = HeaderValue::from_str(&format!(
        "{STATE_COOKIE}=; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age=0"
    )) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    if failed {
        no_store(response.headers_mut());
    }
    response
}

/// Why a callback fails, as the client hears it (the log may say more).
fn failed(why: &'static str) -> ApiError {
    tracing::info!(target: "zgate::audit", %why, "OIDC login failed");
    ApiError::OidcLoginFailed { why }
}

async fn finish_login(
    state: &AppState,
    sealer: Option<Arc<Sealer>>,
    origin: &audit::Origin,
    id: Result<Path<String>, PathRejection>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (provider, id) = registration(state, id)?;
    let client = client_of(&provider).ok_or(ApiError::NotFound)?;
    let sealer = sealer.ok_or(ApiError::BackendUnavailable)?;
    let param = |name: &str| {
        query_value(uri.query(), name).map_err(|()| failed("the provider's answer is malformed"))
    };

    // 1. The pending login this browser started, whose state the answer
    //    carries: sealed by this process, for this registration, in time.
    let answered_state = param("state")?.unwrap_or_default();
    let now_s = state.tokens().now_ms().div_euclid(1000);
    let pending = pending_login(&sealer, headers, &id, &answered_state, now_s)?;

    // 2. The provider's answer: no error, its own issuer (RFC 9207, when
    //    it names one: a mix-up with another provider), a code.
    if let Some(error) = param("error")? {
        let code = if is_error_code(&error) {
            error.as_str()
        } else {
            "(not an error code)"
        };
        tracing::info!(target: "zgate::audit", error = %code, "the OIDC provider refused the login");
        return Err(failed("the provider refused the login"));
    }
    if let Some(iss) = param("iss")? {
        if !provider.config().issuers.contains(&iss) {
            return Err(failed("the answer names another issuer"));
        }
    }
    let code = param("code")?
        .filter(|c| !c.is_empty() && c.len() <= MAX_CODE_BYTES)
        .ok_or_else(|| failed("the provider's answer holds no code"))?;

    // 3. The code exchanged, with the verifier and the same redirect URI.
    let basic = format!(
        "Basic {}",
        B64.encode(format!(
            "{}:{}",
            // RFC 6749 2.3.1: both form-encoded before Basic.
            form_encode(&client.client_id),
            form_encode(client.client_secret.expose())
        ))
    );
    let mut basic = HeaderValue::from_str(&basic).map_err(|_| ApiError::BackendUnavailable)?;
    basic.set_sensitive(true);
    let answer = provider
        .client()
        .post_form(
            &client.token_uri,
            Some(basic),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &pending.redirect_uri),
                ("code_verifier", &pending.verifier),
            ],
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, "the OIDC provider's token endpoint could not be asked");
            failed("the code could not be exchanged")
        })?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| is_error_code(e))
            .unwrap_or("");
        tracing::info!(target: "zgate::audit", status = answer.status, %error, "the OIDC provider did not exchange the code");
        return Err(failed("the code could not be exchanged"));
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failed("the provider's answer holds no access token"))?;
    if body
        .get("token_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(failed("the provider's token is not a bearer token"));
    }

    // 4. The ID token: the provider's, for this client, with the nonce of
    //    this login (asked for with `openid`, so required then).
    match body.get("id_token").and_then(Value::as_str) {
        Some(id_token) => {
            let claims = provider
                .verify_id_token(id_token, &client.client_id)
                .await
                .map_err(|refusal| {
                    tracing::info!(%refusal, "OIDC ID token refused");
                    failed("the provider's ID token is not valid")
                })?;
            let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
            if Secret::new(nonce) != Secret::new(sha256_b64url(&pending.nonce)) {
                return Err(failed("the ID token's nonce is not the login's"));
            }
            if claims
                .get("azp")
                .and_then(Value::as_str)
                .is_some_and(|azp| azp != client.client_id)
            {
                return Err(failed("the ID token was issued to another client"));
            }
        }
        None if client.scope.iter().any(|s| s == "openid") => {
            return Err(failed("the provider's answer holds no ID token"));
        }
        None => {}
    }

    // 5. The access token, as any provider token is checked, and its
    //    subject mapped to a user (RACMAP, in the configured registry).
    let identity = provider.validate(access_token).await.map_err(|refusal| {
        match &refusal {
            Refusal::Unavailable(why) => {
                tracing::warn!(%why, "an OIDC token could not be checked");
            }
            other => tracing::info!(refusal = %other, "OIDC access token refused"),
        }
        failed("the provider's access token is not valid")
    })?;
    let user = match state
        .security()
        .map_identity(origin, &identity.sub, provider.registry())?
    {
        IdentityOutcome::Mapped { user } => user,
        IdentityOutcome::NoMapping => return Err(ApiError::IdentityNotMapped),
        IdentityOutcome::Revoked => {
            state.metrics().login(LoginOutcome::Revoked);
            return Err(ApiError::UserRevoked);
        }
    };

    // 6. zgate's session for the mapped user, never longer than the
    //    provider's token: its `exp`, else the answer's `expires_in`.
    let expires_in = body
        .get("expires_in")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0)
        .map(|s| now_s.saturating_add(s));
    let cap = [identity.exp_s, expires_in].into_iter().flatten().min();
    let issued = state.tokens().issue_until(&user, cap)?;
    // A token the trail refuses to record is never handed out.
    state.audit(|now| audit::token_issued(now, &user, TokenKind::Jwt, origin))?;
    state.metrics().login(LoginOutcome::Success);
    tracing::info!(target: "zgate::audit", user = %user, request_id = origin.request_id.as_deref().unwrap_or(""), "login succeeded (OIDC)");

    let mut response = match &pending.return_url {
        Some(url) => {
            let mut response = StatusCode::FOUND.into_response();
            let location = HeaderValue::from_str(url).map_err(|_| ApiError::ReturnUrlRefused)?;
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        None => {
            let mut response = LANDING_PAGE.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
            response
        }
    };
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, token_cookie(state, &issued.token)?);
    // The callback's URL holds the code: no page after it names it.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(headers);
    Ok(response)
}

/// The pending login among the request's `oidc_state` cookies whose state
/// is `answered` (compared in constant time), for registration `id`, not
/// expired at `now_s`.
fn pending_login(
    sealer: &Sealer,
    headers: &HeaderMap,
    id: &str,
    answered: &str,
    now_s: i64,
) -> Result<Pending, ApiError> {
    let mut found_any = false;
    let mut expired = false;
    for value in state_cookies(headers).into_iter().take(MAX_STATE_COOKIES) {
        let Some(pending) = sealer.open(&value) else {
            continue;
        };
        found_any = true;
        if pending.registration != id
            || answered.is_empty()
            || Secret::new(answered) != Secret::new(pending.state.as_str())
        {
            continue;
        }
        if now_s >= pending.expires_s {
            expired = true;
            continue;
        }
        return Ok(pending);
    }
    Err(failed(if expired {
        "the login took longer than 5 minutes"
    } else if found_any {
        "the state is not the login's"
    } else {
        "no login of this gateway is pending in this browser"
    }))
}

/// The values of the `oidc_state` cookies sent.
fn state_cookies(headers: &HeaderMap) -> Vec<String> {
    let mut values = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name.trim() == STATE_COOKIE && !value.trim().is_empty() {
                    values.push(value.trim().to_owned());
                }
            }
        }
    }
    values
}

/// An OAuth error code (RFC 6749 4.1.2.1: printable ASCII), short enough to
/// log; anything else is not logged.
fn is_error_code(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

fn sha256_b64url(text: &str) -> String {
    B64URL.encode(digest(&SHA256, text.as_bytes()))
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The `Origin` header as a return URL (API ML's fallback): `None` when
/// absent or `null` (an opaque origin names no place); two are refused.
fn origin_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(header::ORIGIN).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => match value.to_str() {
            Ok("null") => Ok(None),
            Ok(text) => Ok(Some(text.to_owned())),
            Err(_) => Err(ApiError::ReturnUrlRefused),
        },
        _ => Err(ApiError::ReturnUrlRefused),
    }
}

/// The one value of query parameter `name`, decoded; `Err` when it is
/// given twice (which one would count?) or does not decode.
fn query_value(query: Option<&str>, name: &str) -> Result<Option<String>, ()> {
    let mut found = None;
    for pair in query.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(key)? != name {
            continue;
        }
        if found.is_some() {
            return Err(());
        }
        found = Some(percent_decode(value)?);
    }
    Ok(found)
}

/// `application/x-www-form-urlencoded` decoding; a broken escape or bytes
/// that are not UTF-8 are an error, never guessed at.
fn percent_decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(())?;
                let hex = std::str::from_utf8(hex).map_err(|_| ())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// A host (lower-case; an IPv6 literal in brackets) and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    /// `host[:port]` with a DNS name (letters, digits, `-`, dot-separated
    /// labels of 1-63), an IPv4 address or a bracketed IPv6 address, and a
    /// port of 1-65535. No user info, no trailing dot, nothing else.
    fn parse(text: &str) -> Option<Authority> {
        if text.is_empty() || text.len() > 261 {
            return None;
        }
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => {
                let (v6, after) = rest.split_once(']')?;
                v6.parse::<Ipv6Addr>().ok()?;
                let port = match after {
                    "" => None,
                    other => Some(other.strip_prefix(':')?),
                };
                (format!("[{}]", v6.to_ascii_lowercase()), port)
            }
            None => {
                let (host, port) = match text.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (text, None),
                };
                let valid = host.len() <= 253
                    && host.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                if !valid {
                    return None;
                }
                (host.to_ascii_lowercase(), port)
            }
        };
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.parse::<u16>().ok().filter(|p| *p > 0)?)
            }
            Some(_) => return None,
        };
        Some(Authority { host, port })
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// The authority the request was sent to: HTTP/2's `:authority` or the
/// `Host` header (one), which must agree when both are there; `None` when
/// neither is a plain [`Authority`].
fn request_authority(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let from_header = match (hosts.next(), hosts.next()) {
        (None, _) => None,
        (Some(value), None) => Some(Authority::parse(value.to_str().ok()?)?),
        _ => return None,
    };
    let from_uri = match uri.authority() {
        Some(authority) => Some(Authority::parse(authority.as_str())?),
        None => None,
    };
    match (from_uri, from_header) {
        (Some(a), Some(b)) if a != b => None,
        (Some(a), _) | (None, Some(a)) => Some(a.to_string()),
        (None, None) => None,
    }
}

/// The origin of an absolute http(s) URL: scheme, host and the port (the
/// scheme's default when none is written).
#[derive(Debug, PartialEq, Eq)]
struct UrlOrigin {
    https: bool,
    host: String,
    port: u16,
}

/// An absolute `http`/`https` URL split into its origin and its path (`/`
/// when empty); `None` for anything else, user info included.
fn split_absolute(url: &str) -> Option<(UrlOrigin, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = Authority::parse(authority)?;
    let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    let origin = UrlOrigin {
        https,
        port: authority.port.unwrap_or(if https { 443 } else { 80 }),
        host: authority.host,
    };
    Some((origin, if path.is_empty() { "/" } else { path }))
}

/// Whether a path has a `.` or `..` segment, written or percent-encoded:
/// a return URL is taken as written, and one a browser would rewrite could
/// leave an allowed prefix.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..") || path.to_ascii_lowercase().contains("%2e")
}

/// Whether a login may send the browser to `url` when done:
/// - a path of this gateway: one leading `/` (`//host` is another host to a
///   browser), no `\` (browsers read it as `/`);
/// - an absolute http(s) URL whose origin is exactly an allowed entry's
///   (scheme, host and port compared as parsed, never as text prefixes, so
///   `https://app.example.com.evil.com` is not `https://app.example.com`)
///   and whose path is within the entry's path, if the entry has one;
/// - an absolute https URL of the gateway's own origin (`own`, the
///   authority the request came to: what API ML's `Origin` fallback is for
///   the gateway's own pages).
///
/// Printable ASCII only, at most [`MAX_RETURN_URL_BYTES`].
fn return_url_allowed(url: &str, allowed: &[String], own: Option<&str>) -> bool {
    if url.is_empty()
        || url.len() > MAX_RETURN_URL_BYTES
        || !url.bytes().all(|b| b.is_ascii_graphic())
        || url.contains('\\')
    {
        return false;
    }
    if let Some(rest) = url.strip_prefix('/') {
        let path = &url[..url.find(['?', '#']).unwrap_or(url.len())];
        return !rest.starts_with('/') && !has_dot_segment(path);
    }
    let Some((origin, path)) = split_absolute(url) else {
        return false;
    };
    if has_dot_segment(path) {
        return false;
    }
    let own_origin =
        own.and_then(|own| split_absolute(&format!("https://{own}")).map(|(origin, _)| origin));
    if own_origin.is_some_and(|own| own == origin) {
        return true;
    }
    allowed.iter().any(|entry| {
        split_absolute(entry).is_some_and(|(entry_origin, prefix)| {
            entry_origin == origin && path_within(path, prefix)
        })
    })
}

/// Whether `path` is `prefix` or below it, segment by segment (`/app` holds
/// `/app/x`, not `/application`).
fn path_within(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &[&str] = &[
        "https://app.example.com",
        "https://portal.example.com:8443/zowe/",
        "http://localhost:3000",
    ];

    fn allowed(url: &str) -> bool {
        let list: Vec<String> = ALLOWED.iter().map(|s| (*s).to_owned()).collect();
        return_url_allowed(url, &list, Some("gw.example.com:7554"))
    }

    #[test]
    fn return_urls_are_paths_of_the_gateway_or_allowed_origins() {
        for ok in [
            "/",
            "/gateway/api/v1/auth/query",
            "/ui/?tab=1#top",
            "https://app.example.com",
            "https://app.example.com/",
            "https://APP.example.com:443/x?y=%20#z",
            "https://portal.example.com:8443/zowe",
            "https://portal.example.com:8443/zowe/desktop",
            "http://localhost:3000/cb",
            "https://gw.example.com:7554/apicatalog/ui/v1/",
        ] {
            assert!(allowed(ok), "{ok} should be allowed");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil",
            "/ok\\..\\x",
            "\\\\evil.example",
            "https://evil.example",
            "https://app.example.com.evil.com",
            "https://app.example.com.evil.com/",
            "https://app.example.com@evil.com",
            "https://evil.com#@app.example.com",
            "https://app.example.com:8443/",
            "http://app.example.com/",
            "https://app.example.com./",
            "https://portal.example.com:8443/zowex",
            "https://portal.example.com:8443/",
            "https://portal.example.com:8443/zowe/../admin",
            "https://portal.example.com:8443/zowe/%2e%2e/admin",
            "/a/../b",
            "javascript:alert(1)",
            "data:text/html,x",
            "app.example.com",
            "https:/app.example.com",
            "/x y",
            "/x\ty",
            "/\u{e9}",
            "https://gw.example.com:7555/",
            "http://gw.example.com:7554/",
        ] {
            assert!(!allowed(bad), "{bad:?} should be refused");
        }
        let long = format!("/{}", "a".repeat(MAX_RETURN_URL_BYTES));
        assert!(!allowed(&long));
    }

    #[test]
    fn authorities_are_host_names_or_ip_literals_with_a_port() {
        let a = Authority::parse("LocalHost:7554").unwrap();
        assert_eq!(a.to_string(), "localhost:7554");
        assert_eq!(Authority::parse("[::1]:443").unwrap().host, "[::1]");
        assert_eq!(Authority::parse("10.0.0.1").unwrap().port, None);
        for bad in [
            "",
            "a@b",
            "host:",
            "host:0",
            "host:65536",
            "host:+1",
            "ho st",
            "host/x",
            "-host",
            "host.",
            "a..b",
            "[::1",
            "[zz]",
            "[::1]x",
            "h_st",
        ] {
            assert!(Authority::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_authority_of_a_request_is_one_and_plain() {
        let mut headers = HeaderMap::new();
        let origin_form: Uri = "/gateway/x".parse().unwrap();
        assert_eq!(request_authority(&origin_form, &headers), None);
        headers.insert(
            header::HOST,
            HeaderValue::from_static("gw.example.com:7554"),
        );
        assert_eq!(
            request_authority(&origin_form, &headers).as_deref(),
            Some("gw.example.com:7554")
        );
        let same: Uri = "https://GW.example.com:7554/gateway/x".parse().unwrap();
        assert!(request_authority(&same, &headers).is_some());
        let other: Uri = "https://evil.example/gateway/x".parse().unwrap();
        assert_eq!(request_authority(&other, &headers), None);
        headers.append(
            header::HOST,
            HeaderValue::from_static("gw.example.com:7554"),
        );
        assert_eq!(request_authority(&origin_form, &headers), None);
        let mut bad = HeaderMap::new();
        bad.insert(header::HOST, HeaderValue::from_static("evil.com/x"));
        assert_eq!(request_authority(&origin_form, &bad), None);
    }

    #[test]
    fn query_values_are_decoded_once_and_given_once() {
        let q = Some("code=a%2Fb+c&state=xyz&empty=&flag");
        assert_eq!(query_value(q, "code"), Ok(Some("a/b c".to_owned())));
        assert_eq!(query_value(q, "empty"), Ok(Some(String::new())));
        assert_eq!(query_value(q, "flag"), Ok(Some(String::new())));
        assert_eq!(query_value(q, "missing"), Ok(None));
        assert_eq!(query_value(None, "code"), Ok(None));
        assert_eq!(query_value(Some("state=a&state=b"), "state"), Err(()));
        assert_eq!(query_value(Some("st%61te=a&state=b"), "state"), Err(()));
        assert_eq!(query_value(Some("code=%zz"), "code"), Err(()));
        assert_eq!(query_value(Some("code=%f"), "code"), Err(()));
        assert_eq!(query_value(Some("code=%ff"), "code"), Err(()));
    }

    fn pending(expires_s: i64) -> Pending {
        Pending {
            registration: "zgate".into(),
            state: "the-state".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            redirect_uri: "https://gw/cb".into(),
            return_url: Some("/x".into()),
            expires_s,
        }
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {STATE_COOKIE}={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_pending_login_opens_only_unchanged_in_time_and_for_its_state() {
        let sealer = Sealer::new(None).unwrap();
        let sealed = sealer.seal(&pending(1000)).unwrap();
        let opened = pending_login(&sealer, &with_cookie(&sealed), "zgate", "the-state", 999);
        assert_eq!(opened.unwrap().return_url.as_deref(), Some("/x"));
        let refused = |headers: &HeaderMap, id: &str, state: &str, now: i64| match pending_login(
            &sealer, headers, id, state, now,
        ) {
            Err(ApiError::OidcLoginFailed { why }) => why,
            other => panic!("{:?}", other.map(|p| p.state)),
        };
        let headers = with_cookie(&sealed);
        assert_eq!(
            refused(&headers, "zgate", "the-state", 1000),
            "the login took longer than 5 minutes"
        );
        assert_eq!(
            refused(&headers, "zgate", "other-state", 999),
            "the state is not the login's"
        );
        assert_eq!(
            refused(&headers, "zgate", "", 999),
            "the state is not the login's"
        );
        assert_eq!(
            refused(&headers, "other", "the-state", 999),
            "the state is not the login's"
        );
        assert_eq!(
            refused(&HeaderMap::new(), "zgate", "the-state", 999),
            "no login of this gateway is pending in this browser"
        );
        // Every changed byte, and another process's key, break the seal.
        let mut bytes = B64URL.decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, bytes.len() / 2, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(sealer.open(&B64URL.encode(&bytes)).is_none(), "byte {i}");
            bytes[i] ^= 1;
        }
        assert!(Sealer::new(None).unwrap().open(&sealed).is_none());
        assert!(sealer.open("").is_none());
        assert!(sealer.open("not base64!").is_none());
        // A planted cookie beside the real one does not hide it.
        let mut both = with_cookie("planted");
        both.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{STATE_COOKIE}={sealed}")).unwrap(),
        );
        assert!(pending_login(&sealer, &both, "zgate", "the-state", 999).is_ok());
    }

    #[test]
    fn provider_error_codes_are_logged_only_when_plain() {
        assert!(is_error_code("access_denied"));
        assert!(!is_error_code("access denied"));
        assert!(!is_error_code("<script>"));
        assert!(!is_error_code(&"a".repeat(65)));
    }
}
