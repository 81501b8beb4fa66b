//! The personal access token endpoints (spec apiml-api.md §5), served under
//! every auth prefix when `personalAccessToken.enabled` (else 404):
//! `access-token/generate`, `validate`, `revoke`, `revoke/tokens`,
//! `revoke/tokens/user`, `revoke/tokens/scope`, `evict`.
//!
//! Who may call what: `generate` needs Basic credentials or a mapped client
//! certificate (not a token: a PAT is made from a real logon); `validate`
//! and `revoke` are proven by the token in the body; `revoke/tokens` needs
//! any authentication and revokes the caller's own tokens;
//! `revoke/tokens/user` and `/scope` need `ZOWE APIML.SERVICES` READ, and
//! `evict` UPDATE (403 otherwise).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use zgate_auth::{PatError, PatService, TokenError};

use crate::audit::{self, RequestOrigin, TokenKind};
use crate::error::{refuse_other_methods, ApiError};
use crate::extract::{user_id, AnyCaller, LoggedOn, Permitted, ServicesRead, ServicesUpdate};
use crate::state::{off_the_request_path, AppState};

/// The PAT routes, relative to an auth prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/access-token/generate",
            refuse_other_methods(post(generate)),
        )
        .route(
            "/access-token/validate",
            refuse_other_methods(post(validate)),
        )
        .route("/access-token/revoke", refuse_other_methods(delete(revoke)))
        .route(
            "/access-token/revoke/tokens",
            refuse_other_methods(delete(revoke_own)),
        )
        .route(
            "/access-token/revoke/tokens/user",
            refuse_other_methods(delete(revoke_user)),
        )
        .route(
            "/access-token/revoke/tokens/scope",
            refuse_other_methods(delete(revoke_scope)),
        )
        .route("/access-token/evict", refuse_other_methods(delete(evict)))
}

fn pats(state: &AppState) -> Result<Arc<PatService>, ApiError> {
    // Disabled means absent.
    state.pats().cloned().ok_or(ApiError::NotFound)
}

fn parse<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    bad: ApiError,
) -> Result<T, ApiError> {
    let body = body.map_err(|_| bad.clone())?;
    serde_json::from_slice(&body).map_err(|_| bad)
}

/// Unknown fields are ignored, as on login (clients may send more).
#[derive(Deserialize)]
struct GenerateBody {
    #[serde(default)]
    validity: i64,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// POST access-token/generate → 200 text/plain, the token.
async fn generate(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    // The body first: a bad one writes nothing, not even a logon statistic.
    let body: GenerateBody = parse(body, ApiError::PatInvalidBody)?;
    let scopes = body.scopes.unwrap_or_default();
    zgate_auth::pat::normalize_scopes(&scopes)?;
    // Only a real logon makes a PAT: Basic, else a mapped certificate.
    let caller = Permitted::<LoggedOn>::check(&parts, &state).await?;
    let (user, validity) = (caller.user().to_owned(), body.validity);
    let (token, claims) =
        off_the_request_path(move || pats.generate(&user, validity, &scopes)).await??;
    // A PAT the trail refuses to record is never handed out.
    let origin = audit::origin(&parts.extensions);
    state.audit(|now| {
        audit::token_issued(now, &claims.sub, TokenKind::Pat, &origin)
            .set("scopes", claims.scopes.clone())
            .set("days", (claims.exp - claims.iat) / 86_400)
    })?;
    tracing::info!(
        target: "zgate::audit",
        user = %claims.sub,
        scopes = %claims.scopes.join(","),
        days = (claims.exp - claims.iat) / 86_400,
        "personal access token issued"
    );
    let mut response = Response::new(Body::from(token));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

#[derive(Deserialize)]
struct ValidateBody {
    token: String,
    #[serde(rename = "serviceId")]
    service_id: String,
}

/// POST access-token/validate → 204 when valid and in scope, else 401.
async fn validate(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    let body: ValidateBody = parse(body, ApiError::InvalidInput)?;
    // The PAT service refuses a PAT whose user was revoked or deleted since.
    match pats.validate(&body.token, &body.service_id) {
        Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(error @ PatError::Token(TokenError::Store(_))) => Err(error.into()),
        // Any other reason is one answer: the token is not good here.
        Err(_) => Err(ApiError::InvalidToken),
    }
}

#[derive(Deserialize)]
struct RevokeBody {
    token: String,
}

/// DELETE access-token/revoke → 204; invalid or already revoked 401.
async fn revoke(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    let body: RevokeBody = parse(body, ApiError::InvalidInput)?;
    let claims = off_the_request_path(move || pats.revoke(&body.token)).await??;
    tracing::info!(target: "zgate::audit", user = %claims.sub, "personal access token revoked");
    // Revoked whether or not the trail takes the record; the token is
    // named by its owner and scopes, never by itself.
    state.audit_done(|now| {
        audit::tokens_revoked(
            now,
            &claims.sub,
            TokenKind::Pat,
            json!({ "which": "token", "scopes": claims.scopes }),
            &origin,
        )
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
struct TimestampBody {
    #[serde(default)]
    timestamp: i64,
}

/// DELETE access-token/revoke/tokens: the caller's own tokens.
async fn revoke_own(
    State(state): State<AppState>,
    caller: Permitted<AnyCaller>,
    RequestOrigin(origin): RequestOrigin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    let body = body.map_err(|_| ApiError::InvalidInput)?;
    let parsed: TimestampBody = if body.iter().all(u8::is_ascii_whitespace) {
        TimestampBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::InvalidInput)?
    };
    let (user, timestamp) = (caller.user().to_owned(), parsed.timestamp);
    off_the_request_path(move || pats.revoke_user(&user, timestamp)).await??;
    tracing::info!(target: "zgate::audit", user = %caller.user(), "own personal access tokens revoked");
    state.audit_done(|now| {
        audit::tokens_revoked(
            now,
            caller.user(),
            TokenKind::Pat,
            json!({ "which": "own", "timestamp": parsed.timestamp }),
            &origin,
        )
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct RuleBody {
    #[serde(rename = "userId", default)]
    user_id: Option<String>,
    #[serde(rename = "serviceId", default)]
    service_id: Option<String>,
    #[serde(default)]
    timestamp: i64,
}

async fn rule(
    state: AppState,
    caller: Permitted<ServicesRead>,
    origin: audit::Origin,
    body: Result<Bytes, BytesRejection>,
    by_user: bool,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    let body: RuleBody = parse(body, ApiError::PatMissingField)?;
    // Named as the tokens name them (a user id upper-cased, a service id
    // lower-cased), never trimmed into another user or service.
    let target = if by_user {
        let id = body.user_id.ok_or(ApiError::PatMissingField)?;
        user_id(&id).map_err(|_| ApiError::PatMissingField)?
    } else {
        let id = body.service_id.ok_or(ApiError::PatMissingField)?;
        let mut scopes = zgate_auth::pat::normalize_scopes(std::slice::from_ref(&id))
            .map_err(|_| ApiError::PatMissingField)?;
        match (scopes.pop(), scopes.is_empty()) {
            (Some(scope), true) if scope == id.to_ascii_lowercase() => scope,
            _ => return Err(ApiError::PatMissingField),
        }
    };
    let (rule_target, timestamp) = (target.clone(), body.timestamp);
    off_the_request_path(move || {
        if by_user {
            pats.revoke_user(&rule_target, timestamp)
        } else {
            pats.revoke_scope(&rule_target, timestamp)
        }
    })
    .await??;
    tracing::info!(
        target: "zgate::audit",
        user = %caller.user(),
        rule = if by_user { "user" } else { "scope" },
        "personal access token revocation rule added"
    );
    // A rule by user is about that user; a rule by scope about nobody in
    // particular, so its record names the administrator who added it.
    state.audit_done(|now| {
        let (by, timestamp) = (caller.user(), body.timestamp);
        let (subject, what) = if by_user {
            let what = json!({ "which": "user", "user": target, "timestamp": timestamp, "by": by });
            (target.as_str(), what)
        } else {
            let what =
                json!({ "which": "scope", "scope": target, "timestamp": timestamp, "by": by });
            (by, what)
        };
        audit::tokens_revoked(now, subject, TokenKind::Pat, what, &origin)
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE access-token/revoke/tokens/user `{"userId","timestamp"?}`.
async fn revoke_user(
    State(state): State<AppState>,
    caller: Permitted<ServicesRead>,
    RequestOrigin(origin): RequestOrigin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    rule(state, caller, origin, body, true).await
}

/// DELETE access-token/revoke/tokens/scope `{"serviceId","timestamp"?}`.
async fn revoke_scope(
    State(state): State<AppState>,
    caller: Permitted<ServicesRead>,
    RequestOrigin(origin): RequestOrigin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    rule(state, caller, origin, body, false).await
}

/// DELETE access-token/evict: drops what can no longer matter.
async fn evict(
    State(state): State<AppState>,
    caller: Permitted<ServicesUpdate>,
) -> Result<Response, ApiError> {
    let pats = pats(&state)?;
    let n = off_the_request_path(move || pats.evict()).await??;
    tracing::info!(target: "zgate::audit", user = %caller.user(), evicted = n, "personal access token rules evicted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
