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
use crate::state::AppState;

/// The JWT cookie name.
pub const TOKEN_COOKIE: &str = "apimlAuthenticationToken";

/// The gateway JWT of the request: cookie first, then `Authorization: Bearer`.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name.trim() == TOKEN_COOKIE && !value.trim().is_empty() {
                    return Some(value.trim().to_string());
                }
            }
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
        return Some(rest.trim().to_string());
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
        let verified = state.tokens().verify(&token).map_err(|e| token_error(&e))?;
        Ok(Self {
            claims: verified.claims,
            token: TokenText(token),
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
}

/// Proof that the request is authenticated by a JWT (cookie or Bearer) or by
/// Basic credentials verified by the ESM.
#[derive(Debug, Clone)]
pub struct Authenticated {
    user: String,
    via: Via,
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
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = token_from(&parts.headers) {
            let verified = state.tokens().verify(&token).map_err(|e| token_error(&e))?;
            return Ok(Self {
                user: verified.claims.sub.clone(),
                via: Via::Token,
            });
        }
        match basic_from(&parts.headers) {
            None => Err(ApiError::AuthRequired),
            Some(Err(_)) => Err(ApiError::InvalidCredentials),
            Some(Ok((user, password))) => match state.authenticate(user, password, None).await? {
                AuthOutcome::Authenticated { user } => Ok(Self {
                    user,
                    via: Via::Basic,
                }),
                AuthOutcome::PasswordExpired => Err(ApiError::PasswordExpired),
                AuthOutcome::Revoked => Err(ApiError::UserRevoked),
                AuthOutcome::InvalidCredentials | AuthOutcome::NewPasswordInvalid => {
                    Err(ApiError::InvalidCredentials)
                }
            },
        }
    }
}
