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

use crate::audit::origin;
use crate::error::ApiError;
use crate::oidc::provider::Refusal;
use crate::peer::{PeerCertificates, RemoteAddr};
use crate::security::{AccessLevel, AuthOutcome, IdentityOutcome, Origin, Secret};
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
pub fn basic_from(headers: &HeaderMap) -> Option<Result<(String, Secret), ApiError>> {
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
        Some((user, password)) if !password.is_empty() => match user_id(user) {
            Ok(user) => Some(Ok((user, Secret::new(password.to_string())))),
            Err(e) => Some(Err(e)),
        },
        _ => Some(Err(ApiError::InvalidInput)),
    }
}

/// A user id as a client sent it, checked by RACF's rules and upper-cased.
/// Nothing is trimmed: `" ALICE"` is malformed input (400), never `ALICE`,
/// and never a failed logon of anybody. The rules are public, so refusing
/// them tells nothing about which users exist.
pub fn user_id(raw: &str) -> Result<String, ApiError> {
    zgate_esm::model::normalize_id(raw).map_err(|_| ApiError::InvalidInput)
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
        let verified = state.tokens().verify(token)?;
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
    /// A personal access token; see [`Authenticated::scopes`].
    PersonalAccessToken,
    /// A client certificate mapped by the ESM.
    ClientCertificate,
    /// An OpenID provider's access token whose subject the ESM maps
    /// (RACMAP); see [`Authenticated::expires_s`].
    ProviderToken,
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
    expires_s: Option<i64>,
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
    /// When the credential expires (s since the epoch), where a credential
    /// made from it must end by then (a provider token's `exp`).
    pub fn expires_s(&self) -> Option<i64> {
        self.expires_s
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

fn from_pat(state: &AppState, token: &str, origin: &Origin) -> Result<Authenticated, ApiError> {
    let Some(pats) = state.pats() else {
        return Err(ApiError::InvalidToken);
    };
    // The PAT service also refuses a PAT whose user was revoked or deleted
    // since it was issued.
    let verified = match pats.verify(token) {
        Ok(v) => v,
        // A store that cannot answer decided nothing: no logon to record.
        Err(e @ TokenError::Store(_)) => return Err(e.into()),
        Err(e) => {
            // The answer is a refusal whether or not the trail takes it.
            state.audit_done(|now| crate::audit::pat_refused(now, origin));
            return Err(e.into());
        }
    };
    Ok(Authenticated {
        user: verified.claims.sub.clone(),
        via: Via::PersonalAccessToken,
        scopes: Some(verified.claims.scopes.clone().into()),
        expires_s: None,
    })
}

/// An OpenID provider's access token, verified ([`crate::oidc::provider`])
/// and its subject mapped to a user by the security manager (RACMAP
/// filters of the configured registry), on every request.
async fn from_provider(
    state: &AppState,
    token: &str,
    origin: &Origin,
) -> Result<Authenticated, ApiError> {
    let Some(oidc) = state.oidc() else {
        return Err(ApiError::InvalidToken);
    };
    let identity = match oidc.validate(token).await {
        Ok(identity) => identity,
        Err(refusal) if refusal.is_expired() => return Err(ApiError::TokenExpired),
        Err(Refusal::Unavailable(why)) => {
            tracing::warn!(%why, "an OIDC token could not be checked");
            return Err(ApiError::BackendUnavailable);
        }
        Err(refusal) => {
            tracing::info!(%refusal, "OIDC token refused");
            return Err(ApiError::InvalidToken);
        }
    };
    match state
        .security()
        .map_identity(origin, &identity.sub, oidc.registry())?
    {
        IdentityOutcome::Mapped { user } => Ok(Authenticated {
            user,
            via: Via::ProviderToken,
            scopes: None,
            expires_s: identity.exp_s,
        }),
        IdentityOutcome::NoMapping => Err(ApiError::IdentityNotMapped),
        IdentityOutcome::Revoked => Err(ApiError::UserRevoked),
    }
}

/// Basic credentials verified by the ESM for a request from `origin`
/// (`None`: no Basic header).
pub async fn authenticate_basic(
    headers: &HeaderMap,
    state: &AppState,
    origin: Origin,
) -> Option<Result<Authenticated, ApiError>> {
    let (user, password) = match basic_from(headers)? {
        Ok(pair) => pair,
        Err(_) => return Some(Err(ApiError::InvalidCredentials)),
    };
    Some(
        match state.authenticate(origin, user, password, None).await {
            Err(e) => Err(e),
            Ok(AuthOutcome::Authenticated { user }) => Ok(Authenticated {
                user,
                via: Via::Basic,
                scopes: None,
                expires_s: None,
            }),
            Ok(AuthOutcome::PasswordExpired) => Err(ApiError::PasswordExpired),
            Ok(AuthOutcome::Revoked) => Err(ApiError::UserRevoked),
            Ok(AuthOutcome::InvalidCredentials | AuthOutcome::NewPasswordInvalid) => {
                Err(ApiError::InvalidCredentials)
            }
        },
    )
}

/// The client certificate of the connection mapped to a user, when x509 is
/// enabled, for a request from `origin` (`None`: disabled or no
/// certificate).
pub fn authenticate_certificate(
    peer: Option<&PeerCertificates>,
    state: &AppState,
    origin: &Origin,
) -> Option<Result<Authenticated, ApiError>> {
    if !state.settings().x509_enabled {
        return None;
    }
    let leaf = peer?.leaf()?;
    Some(
        state
            .authenticate_certificate(origin, leaf.as_ref())
            .map(|user| Authenticated {
                user,
                via: Via::ClientCertificate,
                scopes: None,
                expires_s: None,
            }),
    )
}

/// Which kinds of credential an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Gateway JWTs and PATs (cookie, Bearer, PAT cookie, `PRIVATE-TOKEN`).
    pub tokens: bool,
    /// Basic user and password (with a TOTP code where the user has one).
    pub basic: bool,
    /// A client certificate the ESM maps to a user.
    pub certificate: bool,
}

impl Credentials {
    /// Every kind of credential.
    pub const ANY: Credentials = Credentials {
        tokens: true,
        basic: true,
        certificate: true,
    };
    /// A real logon only (what a PAT is made from): Basic or a certificate.
    pub const LOGON: Credentials = Credentials {
        tokens: false,
        basic: true,
        certificate: true,
    };
}

/// THE authentication of a request (every handler and routed request goes
/// through here), with the credentials in spec section 2's order; kinds
/// outside `accepted` are not looked at.
pub async fn authenticate_request(
    parts: &Parts,
    state: &AppState,
    accepted: Credentials,
) -> Result<Authenticated, ApiError> {
    if accepted.tokens {
        if let Some(token) = token_from(&parts.headers) {
            return match state.tokens().verify(token) {
                Ok(verified) => Ok(Authenticated {
                    user: verified.claims.sub.clone(),
                    via: Via::Token,
                    scopes: None,
                    expires_s: None,
                }),
                // Not a gateway JWT: a PAT may stand in the same places.
                Err(TokenError::WrongIssuer) if state.pats().is_some() => {
                    from_pat(state, token, &origin(&parts.extensions))
                }
                // Not signed by the gateway at all: the provider's, if it
                // verifies as the provider's.
                Err(
                    TokenError::UnknownKey
                    | TokenError::BadSignature
                    | TokenError::UnsupportedAlgorithm
                    | TokenError::Malformed,
                ) if state.oidc().is_some() => {
                    from_provider(state, token, &origin(&parts.extensions)).await
                }
                Err(e) => Err(e.into()),
            };
        }
        if state.pats().is_some() {
            if let Some(token) = pat_from(&parts.headers) {
                return from_pat(state, &token, &origin(&parts.extensions));
            }
        }
    }
    if accepted.basic {
        if let Some(result) =
            authenticate_basic(&parts.headers, state, origin(&parts.extensions)).await
        {
            return result;
        }
    }
    if accepted.certificate {
        let origin = origin(&parts.extensions);
        if let Some(result) = authenticate_certificate(parts.extensions.get(), state, &origin) {
            return result;
        }
    }
    Err(ApiError::AuthRequired)
}

/// What an endpoint requires of its caller, as a type: the credentials it
/// takes and the SAF access (class `ZOWE`) it needs. A handler takes
/// [`Permitted<R>`], so the requirement is part of its signature and
/// cannot be forgotten.
pub trait Requirement: Send + Sync + 'static {
    /// The credentials that count.
    const CREDENTIALS: Credentials;
    /// The resource in the `ZOWE` class and the level needed, if any.
    const ACCESS: Option<(&'static str, AccessLevel)>;
}

/// Any authenticated caller of the gateway's own endpoints.
pub enum AnyCaller {}
impl Requirement for AnyCaller {
    const CREDENTIALS: Credentials = Credentials::ANY;
    const ACCESS: Option<(&'static str, AccessLevel)> = None;
}

/// A caller who proved a real logon (Basic or a mapped certificate).
pub enum LoggedOn {}
impl Requirement for LoggedOn {
    const CREDENTIALS: Credentials = Credentials::LOGON;
    const ACCESS: Option<(&'static str, AccessLevel)> = None;
}

/// The SAF resource guarding the service list and PAT administration.
pub const SERVICES_RESOURCE: &str = "APIML.SERVICES";

/// A caller with `ZOWE APIML.SERVICES` READ.
pub enum ServicesRead {}
impl Requirement for ServicesRead {
    const CREDENTIALS: Credentials = Credentials::ANY;
    const ACCESS: Option<(&'static str, AccessLevel)> =
        Some((SERVICES_RESOURCE, AccessLevel::Read));
}

/// A caller with `ZOWE APIML.SERVICES` UPDATE.
pub enum ServicesUpdate {}
impl Requirement for ServicesUpdate {
    const CREDENTIALS: Credentials = Credentials::ANY;
    const ACCESS: Option<(&'static str, AccessLevel)> =
        Some((SERVICES_RESOURCE, AccessLevel::Update));
}

/// Proof that the caller of one of the gateway's own endpoints meets
/// requirement `R`: authenticated with a credential `R` takes (a PAT only
/// with the gateway, service `gateway`, in its scopes) and granted `R`'s
/// SAF access.
#[derive(Debug)]
pub struct Permitted<R: Requirement> {
    caller: Authenticated,
    requirement: std::marker::PhantomData<R>,
}

impl<R: Requirement> Permitted<R> {
    /// Authenticates and authorizes the request for `R`.
    pub async fn check(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate_request(parts, state, R::CREDENTIALS).await?;
        // A PAT out of its scopes is no credential at all here.
        if !caller.allows_service(GATEWAY_SERVICE_ID) {
            return Err(ApiError::InvalidToken);
        }
        if let Some((resource, level)) = R::ACCESS {
            let origin = origin(&parts.extensions);
            let conditions = state.conditions(parts.extensions.get::<RemoteAddr>(), &origin);
            state.require_access(caller.user(), resource, level, conditions)?;
        }
        Ok(Self {
            caller,
            requirement: std::marker::PhantomData,
        })
    }

    /// The user id.
    pub fn user(&self) -> &str {
        self.caller.user()
    }

    /// How the caller authenticated.
    pub fn caller(&self) -> &Authenticated {
        &self.caller
    }
}

impl<R: Requirement> FromRequestParts<AppState> for Permitted<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Permitted::check(parts, state).await
    }
}
