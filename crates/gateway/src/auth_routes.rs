//! The API ML authentication endpoints (spec section 5): login, logout,
//! query, refresh, the public keys, and the SAF check.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::audit::{self, RequestOrigin, TokenKind};
use crate::error::{refuse_other_methods, ApiError};
use crate::extract::{
    authenticate_certificate, basic_from, token_from, user_id, AnyCaller, AuthenticatedToken,
    Permitted, TOKEN_COOKIE,
};
use crate::peer::{PeerCertificates, RemoteAddr};
use crate::security::{AccessLevel, AuthOutcome, Secret};
use crate::state::{off_the_request_path, AppState};

/// The endpoints served under every auth prefix, relative to it.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", refuse_other_methods(post(login)))
        .route("/logout", refuse_other_methods(post(logout)))
        .route("/query", refuse_other_methods(get(query)))
        .route("/refresh", refuse_other_methods(post(refresh)))
        .route("/keys/public", refuse_other_methods(get(keys_public_pem)))
        .route(
            "/keys/public/all",
            refuse_other_methods(get(keys_public_all)),
        )
        .route(
            "/keys/public/current",
            refuse_other_methods(get(keys_public_current)),
        )
        .route(
            "/oidc-token/validate",
            refuse_other_methods(post(validate_oidc_token)),
        )
}

/// The endpoints of the API Catalog's auth alias (login and logout only),
/// relative to its prefix.
pub fn catalog_routes() -> Router<AppState> {
    Router::new()
        .route("/login", refuse_other_methods(post(login)))
        .route("/logout", refuse_other_methods(post(logout)))
}

/// The SAF check, at its full path.
pub fn saf_check_routes() -> Router<AppState> {
    Router::new().route("/gateway/auth/check", refuse_other_methods(post(check)))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The session cookie of a token just issued (also set by the OIDC login,
/// [`crate::oidc::login`], so both logins' cookies are alike).
pub(crate) fn token_cookie(state: &AppState, token: &str) -> Result<HeaderValue, ApiError> {
    let mut cookie = format!("{TOKEN_COOKIE}={token}; Path=/; SameSite=Strict; HttpOnly; Secure");
    if let Some(max_age) = state.settings().cookie_max_age_seconds {
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    HeaderValue::from_str(&cookie).map_err(|_| ApiError::BackendUnavailable)
}

fn with_token_cookie(state: &AppState, token: &str) -> Result<Response, ApiError> {
    let mut response = no_content();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, token_cookie(state, token)?);
    Ok(response)
}

#[derive(Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
    #[serde(rename = "newPassword")]
    new_password: Option<String>,
    /// The MFA code, apart from the password.
    #[serde(rename = "mfaToken")]
    mfa_token: Option<String>,
}

/// The token cookie for a JWT just issued to `user`, once the trail has
/// the record of it: a token the trail refuses is never handed out.
fn issued_jwt(
    state: &AppState,
    user: &str,
    token: &str,
    origin: &audit::Origin,
) -> Result<Response, ApiError> {
    state.audit(|now| audit::token_issued(now, user, TokenKind::Jwt, origin))?;
    with_token_cookie(state, token)
}

/// POST login: Basic header or JSON body → 204 and the token cookie.
async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    remote: Option<Extension<RemoteAddr>>,
    peer: Option<Extension<PeerCertificates>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let remote = remote
        .map(|Extension(RemoteAddr(addr))| addr.to_string())
        .unwrap_or_default();
    let body = body.map_err(|_| ApiError::InvalidInput)?;
    // The body must parse whenever there is one, even when the header wins.
    let parsed: Option<LoginBody> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|_| ApiError::InvalidInput)?)
    };
    // A client certificate alone logs in as its mapped user.
    if basic_from(&headers).is_none() && parsed.is_none() {
        if let Some(Extension(peer)) = peer {
            if let Some(result) = authenticate_certificate(Some(&peer), &state, &origin) {
                let user = result?.user().to_string();
                let issued = state.tokens().issue(&user)?;
                tracing::info!(target: "zgate::audit", user = %user, remote = %remote, request_id = origin.request_id.as_deref().unwrap_or(""), "login succeeded (client certificate)");
                return issued_jwt(&state, &user, &issued.token, &origin);
            }
        }
    }
    let mfa_token = parsed
        .as_ref()
        .and_then(|b| b.mfa_token.clone())
        .filter(|c| !c.is_empty())
        .map(Secret::new);
    let (user, password, new_password) = match basic_from(&headers) {
        Some(basic) => {
            let (user, password) = basic?;
            let new_password = parsed.and_then(|b| b.new_password);
            (user, password, new_password)
        }
        None => {
            let body = parsed.ok_or(ApiError::InvalidInput)?;
            match (body.username, body.password) {
                (Some(user), Some(password)) if !password.is_empty() => {
                    (user_id(&user)?, Secret::new(password), body.new_password)
                }
                _ => return Err(ApiError::InvalidInput),
            }
        }
    };
    let new_password = new_password.filter(|p| !p.is_empty()).map(Secret::new);
    match state
        .authenticate_with_factor(origin.clone(), user, password, new_password, mfa_token)
        .await?
    {
        AuthOutcome::Authenticated { user } => {
            let issued = state.tokens().issue(&user)?;
            tracing::info!(target: "zgate::audit", user = %user, remote = %remote, request_id = origin.request_id.as_deref().unwrap_or(""), "login succeeded");
            issued_jwt(&state, &user, &issued.token, &origin)
        }
        AuthOutcome::InvalidCredentials => {
            // The attempted user id is not logged: people type passwords into it.
            tracing::info!(target: "zgate::audit", remote = %remote, "login failed: invalid credentials");
            Err(ApiError::InvalidCredentials)
        }
        AuthOutcome::PasswordExpired => Err(ApiError::PasswordExpired),
        AuthOutcome::NewPasswordInvalid => Err(ApiError::NewPasswordInvalid),
        AuthOutcome::Revoked => Err(ApiError::UserRevoked),
    }
}

/// POST logout: revokes the token everywhere (persisted).
async fn logout(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = token_from(&headers)
        .ok_or(ApiError::TokenNotProvided)?
        .to_owned();
    let revoking = state.clone();
    match off_the_request_path(move || revoking.tokens().revoke(&token)).await? {
        Ok(claims) => {
            tracing::info!(target: "zgate::audit", user = %claims.sub, "logout");
            // The token is revoked whether or not the trail takes this.
            state.audit_done(|now| audit::logout(now, &claims.sub, TokenKind::Jwt, &origin));
            Ok(no_content())
        }
        Err(zgate_auth::TokenError::Malformed) => Err(ApiError::UnparsableToken),
        Err(error) => Err(error.into()),
    }
}

#[derive(Serialize)]
struct QueryResponse<'a> {
    domain: &'a str,
    #[serde(rename = "userId")]
    user_id: &'a str,
    creation: i64,
    expiration: i64,
}

/// GET query: the claims of a valid token (dates in epoch milliseconds).
async fn query(token: AuthenticatedToken) -> Response {
    let claims = token.claims();
    axum::Json(QueryResponse {
        domain: &claims.dom,
        user_id: &claims.sub,
        creation: claims.iat.saturating_mul(1000),
        expiration: claims.exp.saturating_mul(1000),
    })
    .into_response()
}

/// POST refresh (only when `allowTokenRefresh`): a new token, the old revoked.
async fn refresh(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    token: Result<AuthenticatedToken, ApiError>,
) -> Result<Response, ApiError> {
    // Off means absent: 404 whatever the credentials.
    if !state.settings().allow_token_refresh {
        return Err(ApiError::NotFound);
    }
    let token = token?;
    let (refreshing, old) = (state.clone(), token.token().to_owned());
    let issued = off_the_request_path(move || refreshing.tokens().refresh(&old)).await??;
    let user = &token.claims().sub;
    state.audit(|now| audit::token_refreshed(now, user, &origin))?;
    with_token_cookie(&state, &issued.token)
}

async fn keys_public_pem(State(state): State<AppState>) -> Response {
    let mut response = Response::new(Body::from(state.tokens().current_key().pem()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

async fn keys_public_all(State(state): State<AppState>) -> Response {
    let keys: Vec<_> = state
        .tokens()
        .public_keys()
        .iter()
        .map(|k| k.jwk())
        .collect();
    axum::Json(serde_json::json!({ "keys": keys })).into_response()
}

async fn keys_public_current(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({ "keys": [state.tokens().current_key().jwk()] })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckRequest {
    resource_class: String,
    resource_name: String,
    access_level: String,
}

/// POST /gateway/auth/check: a SAF resource check for the caller.
#[derive(Deserialize)]
struct ValidateBody {
    token: Option<String>,
    /// API ML reads and ignores it.
    #[serde(rename = "serviceId")]
    _service_id: Option<serde_json::Value>,
}

/// `POST .../oidc-token/validate` (spec `oidc.md` section 6): 204 when the
/// token is a valid token of the configured provider, 401 otherwise (or
/// when OIDC is off). Whether it maps to a user is not asked. No
/// authentication, as in API ML, but a limited number per client address.
async fn validate_oidc_token(
    State(state): State<AppState>,
    remote: Option<Extension<RemoteAddr>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(oidc) = state.oidc() else {
        return Err(ApiError::InvalidToken);
    };
    if let Some(Extension(RemoteAddr(addr))) = remote {
        if !oidc.admit_validation(addr.ip()) {
            return Err(ApiError::TooManyRequests);
        }
    }
    let body = body.map_err(|_| ApiError::InvalidInput)?;
    let body: ValidateBody = serde_json::from_slice(&body).map_err(|_| ApiError::InvalidInput)?;
    let token = body
        .token
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::InvalidToken)?;
    match oidc.validate(&token).await {
        Ok(_) => Ok(no_content()),
        Err(crate::oidc::provider::Refusal::Unavailable(why)) => {
            tracing::warn!(%why, "an OIDC token could not be checked");
            Err(ApiError::BackendUnavailable)
        }
        Err(refusal) => {
            tracing::info!(%refusal, "OIDC token refused");
            Err(ApiError::InvalidToken)
        }
    }
}

async fn check(
    State(state): State<AppState>,
    caller: Permitted<AnyCaller>,
    RequestOrigin(origin): RequestOrigin,
    remote: Option<Extension<RemoteAddr>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|_| ApiError::InvalidCheckRequest)?;
    let request: CheckRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::InvalidCheckRequest)?;
    let level = requested_level(&request.access_level).ok_or(ApiError::InvalidCheckRequest)?;
    // Names by RACF's rules, never trimmed: `"APIML.DENY.ME "` is no name,
    // and must not be read as one a generic profile grants.
    if zgate_esm::model::normalize_class(&request.resource_class).is_err()
        || zgate_esm::model::normalize_resource_name(&request.resource_name).is_err()
    {
        return Err(ApiError::InvalidCheckRequest);
    }
    let allowed = state.security().check(
        caller.user(),
        &request.resource_class,
        &request.resource_name,
        level,
        state.conditions(remote.as_ref().map(|Extension(r)| r), &origin),
    )?;
    tracing::debug!(
        target: "zgate::audit",
        user = %caller.user(),
        class = %request.resource_class,
        resource = %request.resource_name,
        level = level.as_str(),
        allowed,
        "SAF check"
    );
    if allowed {
        Ok(no_content())
    } else {
        Err(ApiError::SafDenied {
            user: caller.user().to_string(),
        })
    }
}

/// The levels API ML's SAF check takes (its `AccessLevel` enum: READ,
/// UPDATE, CONTROL, ALTER, any case). RACF's abbreviations, NONE and EXECUTE
/// are commands' words, not this endpoint's.
fn requested_level(text: &str) -> Option<AccessLevel> {
    match text.to_ascii_uppercase().as_str() {
        "READ" => Some(AccessLevel::Read),
        "UPDATE" => Some(AccessLevel::Update),
        "CONTROL" => Some(AccessLevel::Control),
        "ALTER" => Some(AccessLevel::Alter),
        _ => None,
    }
}
