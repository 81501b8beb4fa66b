//! Credentials on a request (spec section 2) and the proof types handlers
//! require. [`AuthenticatedToken`] and [`Authenticated`] can only be built
//! here, after the check succeeded, so a handler that takes one cannot forget
//! to authenticate.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http::request::Parts;
use http::{header, HeaderMap};
use zgate_auth::{Claims, TokenError};

use crate::error::ApiError;
use crate::security::{AuthOutcome, Password};
use crate::server::PeerCertificates;
use crate::state::AppState;

/// The JWT cookie name.
pub const TOKEN_COOKIE: &str = "apimlAuthenticationToken";

/// The gateway JWT of the request: cookie first, then `Authorization: Bearer`.
pub fn token_from(headers: &HeaderMap) -> Option<&str> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name.trim() == TOKEN_COOKIE && !value.trim().is_empty() {
                    return Some(value.trim());
                }
            }
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
        return Some(rest.trim());
    }
    None
}

/// Basic credentials, if the request carries an `Authorization: Basic` header.
/// `Some(Err)` for a Basic header that does not decode.
pub fn basic_from(headers: &HeaderMap) -> Option<Result<(String, Password), ApiError>> {
    let auth = headers.get(header::AUTHORIZATION)?;
    let text = match auth.to_str() {
        Ok(text) => text,
        Err(_) => return Some(Err(ApiError::InvalidInput)),
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = match B64
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(decoded) => decoded,
        None => return Some(Err(ApiError::InvalidInput)),
    };
    // Split at the first ':'; passwords may contain ':'.
    match decoded.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Some(Ok((user.to_string(), Password::new(password.to_string()))))
        }
        _ => Some(Err(ApiError::InvalidInput)),
    }
}

/// Maps a token verification failure to the API answer.
pub fn token_error(error: &TokenError) -> ApiError {
    match error {
        TokenError::Expired => ApiError::TokenExpired,
        TokenError::Store(_) => ApiError::BackendUnavailable,
        _ => ApiError::InvalidToken,
    }
}

/// Proof that the request carries a valid gateway JWT.
#[derive(Debug, Clone)]
pub struct AuthenticatedToken {
    claims: Arc<Claims>,
    token: TokenText,
}

/// The raw token, kept for refresh/logout; no `Debug` of its content.
#[derive(Clone)]
struct TokenText(String);

impl std::fmt::Debug for TokenText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenText(..)")
    }
}

impl AuthenticatedToken {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    /// The token itself (a credential).
    pub fn token(&self) -> &str {
        &self.token.0
    }
}

impl FromRequestParts<AppState> for AuthenticatedToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_from(&parts.headers).ok_or(ApiError::TokenNotProvided)?;
        let verified = state.tokens().verify(token).map_err(|e| token_error(&e))?;
        Ok(Self {
            claims: verified.claims,
            token: TokenText(token.to_owned()),
        })
    }
}

/// How an [`Authenticated`] caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A gateway JWT.
    Token,
    /// Basic user and password.
    Basic,
    /// A personal access token (issue 5); see [`Authenticated::scopes`].
    PersonalAccessToken,
    /// A client certificate mapped by the ESM (issue 5).
    ClientCertificate,
}

/// The service id of the gateway's own endpoints: a PAT must have it in its
/// scopes to be used on them.
pub const GATEWAY_SERVICE_ID: &str = "gateway";

/// Proof that the request is authenticated (spec section 2, in this order):
/// a JWT (cookie, then Bearer) or a PAT in those places, a PAT in the
/// `personalAccessToken` cookie or the `PRIVATE-TOKEN` header, Basic
/// credentials verified by the ESM, or a client certificate the ESM maps.
#[derive(Debug, Clone)]
pub struct Authenticated {
    user: String,
    via: Via,
    scopes: Option<Arc<[String]>>,
}

impl Authenticated {
    /// The user id.
    pub fn user(&self) -> &str {
        &self.user
    }
    /// The credential used.
    pub fn via(&self) -> Via {
        self.via
    }
    /// A PAT's scopes (lower-case service ids); `None` for other credentials.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }
    /// Whether the credential may be used for `service_id`: every
    /// credential but a PAT may; a PAT only for a service in its scopes.
    pub fn allows_service(&self, service_id: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(scopes) => {
                let service = service_id.to_ascii_lowercase();
                scopes.contains(&service)
            }
        }
    }
}

/// The PAT cookie name.
pub const PAT_COOKIE: &str = "personalAccessToken";
/// The PAT header.
pub const PAT_HEADER: &str = "private-token";

fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name.trim() == wanted && !value.trim().is_empty() {
                    return Some(value.trim().to_string());
                }
            }
        }
    }
    None
}

/// A PAT in the places only a PAT may be: cookie `personalAccessToken`,
/// then header `PRIVATE-TOKEN`.
pub fn pat_from(headers: &HeaderMap) -> Option<String> {
    cookie(headers, PAT_COOKIE).or_else(|| {
        headers
            .get(PAT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn from_pat(state: &AppState, token: &str) -> Result<Authenticated, ApiError> {
    let Some(pats) = state.pats() else {
        return Err(ApiError::InvalidToken);
    };
    let verified = pats.verify(token).map_err(|e| token_error(&e))?;
    // A PAT outlives its logon: a user revoked or deleted since loses it.
    if !state
        .security()
        .user_active(&verified.claims.sub)
        .map_err(|error| {
            tracing::error!(%error, "security manager failed");
            ApiError::BackendUnavailable
        })?
    {
        return Err(ApiError::UserRevoked);
    }
    Ok(Authenticated {
        user: verified.claims.sub.clone(),
        via: Via::PersonalAccessToken,
        scopes: Some(verified.claims.scopes.clone().into()),
    })
}

/// Basic credentials verified by the ESM (`None`: no Basic header).
pub async fn authenticate_basic(
    headers: &HeaderMap,
    state: &AppState,
) -> Option<Result<Authenticated, ApiError>> {
    let (user, password) = match basic_from(headers)? {
        Ok(pair) => pair,
        Err(_) => return Some(Err(ApiError::InvalidCredentials)),
    };
    Some(match state.authenticate(user, password, None).await {
        Err(e) => Err(e),
        Ok(AuthOutcome::Authenticated { user }) => Ok(Authenticated {
            user,
            via: Via::Basic,
            scopes: None,
        }),
        Ok(AuthOutcome::PasswordExpired) => Err(ApiError::PasswordExpired),
        Ok(AuthOutcome::Revoked) => Err(ApiError::UserRevoked),
        Ok(AuthOutcome::InvalidCredentials | AuthOutcome::NewPasswordInvalid) => {
            Err(ApiError::InvalidCredentials)
        }
    })
}

/// The client certificate of the connection mapped to a user, when x509 is
/// enabled (`None`: disabled or no certificate).
pub fn authenticate_certificate(
    extensions: &http::Extensions,
    state: &AppState,
) -> Option<Result<Authenticated, ApiError>> {
    if !state.settings().x509_enabled {
        return None;
    }
    let peer = extensions.get::<PeerCertificates>()?;
    let leaf = peer.0.first()?;
    Some(
        state
            .authenticate_certificate(leaf.as_ref())
            .map(|user| Authenticated {
                user,
                via: Via::ClientCertificate,
                scopes: None,
            }),
    )
}

/// THE authentication of a request (every handler and routed request goes
/// through here).
pub async fn authenticate_request(
    parts: &Parts,
    state: &AppState,
) -> Result<Authenticated, ApiError> {
    if let Some(token) = token_from(&parts.headers) {
        return match state.tokens().verify(token) {
            Ok(verified) => Ok(Authenticated {
                user: verified.claims.sub.clone(),
                via: Via::Token,
                scopes: None,
            }),
            // Not a gateway JWT: a PAT may stand in the same places.
            Err(TokenError::WrongIssuer) if state.pats().is_some() => from_pat(state, token),
            Err(e) => Err(token_error(&e)),
        };
    }
    if state.pats().is_some() {
        if let Some(token) = pat_from(&parts.headers) {
            return from_pat(state, &token);
        }
    }
    if let Some(result) = authenticate_basic(&parts.headers, state).await {
        return result;
    }
    if let Some(result) = authenticate_certificate(&parts.extensions, state) {
        return result;
    }
    Err(ApiError::AuthRequired)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_request(parts, state).await
    }
}
