//! Every error the HTTP surface can answer, and the one place that turns an
//! error into a response: status, compact JSON body in API ML's message shape,
//! and the `X-Zowe-Auth-Failure` header where the contract lists one.
//!
//! Handlers return `Err(ApiError)`; the response they produce carries the
//! error as an extension and no body. The gateway's edge ([`render_error`]) — the
//! outermost layer that knows the request path — writes the body, because
//! API ML's message texts quote the URL.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http::{header, HeaderValue, Method, StatusCode};
use serde::Serialize;
use zgate_auth::{PatError, TokenError};

use crate::security::BackendError;
use crate::target::TargetError;

/// The header API ML sets on authentication failures.
pub const AUTH_FAILURE_HEADER: &str = "x-zowe-auth-failure";

/// API ML's failure text for a valid provider token that maps to no user.
pub const NO_MAINFRAME_IDENTITY: &str = "No mainframe identity found.";

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// Unknown user or wrong password (indistinguishable).
    InvalidCredentials,
    /// Credentials missing or the body is malformed.
    InvalidInput,
    /// A wrong method on a known path.
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// Token invalid, revoked, unknown issuer or key (401).
    InvalidToken,
    /// A token that cannot even be parsed, on logout (400).
    UnparsableToken,
    /// No token on a request that needs one.
    TokenNotProvided,
    /// The token has expired.
    TokenExpired,
    /// No credentials of any kind.
    AuthRequired,
    /// The password has expired.
    PasswordExpired,
    /// The new password does not satisfy the rules.
    NewPasswordInvalid,
    /// The user is revoked.
    UserRevoked,
    /// The SAF check denied access.
    SafDenied {
        /// The user id.
        user: String,
    },
    /// The SAF check request body is unusable.
    InvalidCheckRequest,
    /// No such endpoint.
    NotFound,
    /// The ESM or token store did not answer.
    BackendUnavailable,
    /// No instance of a routed service answered (503).
    ServiceUnavailable {
        /// The service id.
        service: String,
    },
    /// `auth/ticket` without `applicationName` (400).
    TicketNoApplication,
    /// `auth/ticket` could not generate (400 when no PTKTDATA profile).
    TicketFailed {
        /// Why (no secrets).
        reason: String,
        /// 400 (missing profile) or 500.
        bad_request: bool,
    },
    /// A PAT request body that does not parse (ZWEAT605E).
    PatInvalidBody,
    /// A PAT request without scopes (ZWEAT606E).
    PatNoScopes,
    /// A revocation rule request without its user or service id (ZWEAT607E).
    PatMissingField,
    /// The caller lacks the SAF access an endpoint or routed service needs (403).
    Forbidden {
        /// Class, resource and level checked.
        resource: String,
    },
    /// A client certificate no ESM filter maps to a user (ZWEAG161E).
    CertificateNotMapped,
    /// A valid OpenID provider token whose subject no RACMAP filter maps
    /// to a user (ZWEAG161E, `X-Zowe-Auth-Failure: No mainframe identity
    /// found.`).
    IdentityNotMapped,
    /// Too many requests from one client address to an endpoint that
    /// limits them (429).
    TooManyRequests,
    /// The OpenID Connect login (authorization-code flow) did not end in a
    /// valid identity: no or another state, the provider's refusal, a code
    /// that could not be exchanged, a token that is not valid (401).
    OidcLoginFailed {
        /// Why, in a few words (no request bytes, no token).
        why: &'static str,
    },
    /// A login's return URL (`returnUrl`, or `Origin`) that is not allowed (400).
    ReturnUrlRefused,
    /// The request target is refused before routing: it would leave the
    /// service's root, or holds an encoded separator, a control character
    /// or an ambiguous segment (400).
    RejectedTarget {
        /// Why, in a few words (no request bytes).
        why: &'static str,
    },
    /// A body of another media type than the endpoint's JSON (415).
    UnsupportedMediaType,
    /// A routed service's instance answered with something that is not an
    /// HTTP response zgate passes on (502).
    UpstreamFailed {
        /// The service id.
        service: String,
    },
    /// A routed service's instance did not answer in time (504).
    UpstreamTimeout {
        /// The service id.
        service: String,
    },
    /// A reload found errors in the service definitions; the previous set
    /// stays (422).
    DefinitionsRefused {
        /// Each error, `file:line: what`.
        errors: Vec<String>,
        /// How many services are still served.
        kept: usize,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    message_type: &'a str,
    message_number: &'a str,
    message_content: String,
    message_action: &'a str,
    message_reason: &'a str,
    message_key: &'a str,
}

#[derive(Serialize)]
struct Messages<'a> {
    messages: [Message<'a>; 1],
}

struct Text {
    status: StatusCode,
    number: &'static str,
    key: &'static str,
    content: String,
    reason: &'static str,
    action: &'static str,
    auth_failure: Option<&'static str>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.text("").status
    }

    /// The message number (`ZWEAG120E`, ...).
    pub fn message_number(&self) -> &'static str {
        self.text("").number
    }

    fn text(&self, url: &str) -> Text {
        use StatusCode as S;
        let t = |status, number, key, content: String, reason, action| Text {
            status,
            number,
            key,
            content,
            reason,
            action,
            auth_failure: None,
        };
        match self {
            ApiError::InvalidCredentials => t(
                S::UNAUTHORIZED,
                "ZWEAG120E",
                "org.zowe.apiml.security.login.invalidCredentials",
                format!("Invalid username or password for URL '{url}'"),
                "The username and/or password are invalid.",
                "Provide a valid username and password.",
            ),
            ApiError::InvalidInput => t(
                S::BAD_REQUEST,
                "ZWEAG121E",
                "org.zowe.apiml.security.login.invalidInput",
                format!("Authorization header is missing, or the request body is missing or invalid for URL '{url}'"),
                "The authorization header is missing, or the request body is missing or invalid.",
                "Provide valid authentication.",
            ),
            ApiError::MethodNotAllowed { method } => t(
                S::METHOD_NOT_ALLOWED,
                "ZWEAG101E",
                "org.zowe.apiml.security.invalidMethod",
                format!("Authentication method '{method}' is not supported for URL '{url}'"),
                "The HTTP request method is not supported by the URL.",
                "Use the correct HTTP request method supported by the URL.",
            ),
            ApiError::InvalidToken | ApiError::UnparsableToken => Text {
                auth_failure: Some("ZWEAG102E Token is not valid"),
                ..t(
                    if *self == ApiError::UnparsableToken {
                        S::BAD_REQUEST
                    } else {
                        S::UNAUTHORIZED
                    },
                    "ZWEAG130E",
                    "org.zowe.apiml.security.query.invalidToken",
                    format!("Token is not valid for URL '{url}'"),
                    "The token is not valid.",
                    "Provide a valid token.",
                )
            },
            ApiError::TokenNotProvided => t(
                S::UNAUTHORIZED,
                "ZWEAG131E",
                "org.zowe.apiml.security.query.tokenNotProvided",
                format!("No authorization token provided for URL '{url}'"),
                "No authorization token is provided.",
                "Provide a valid authorization token.",
            ),
            ApiError::TokenExpired => t(
                S::UNAUTHORIZED,
                "ZWEAT100E",
                "org.zowe.apiml.security.expiredToken",
                format!("Token is expired for URL '{url}'"),
                "The validity of the token is expired.",
                "Obtain a new token by performing an authentication request.",
            ),
            ApiError::AuthRequired => Text {
                auth_failure: Some("ZWEAG160E No authentication provided in the request"),
                ..t(
                    S::UNAUTHORIZED,
                    "ZWEAG105E",
                    "org.zowe.apiml.security.authRequired",
                    format!("Authentication is required for URL '{url}'"),
                    "Authentication is required.",
                    "Provide valid authentication.",
                )
            },
            ApiError::PasswordExpired => t(
                S::UNAUTHORIZED,
                "ZWEAT412E",
                "org.zowe.apiml.security.platform.errno.EMVSEXPIRE",
                "The platform returned error: EMVSEXPIRE: The password for the specified identity has expired".to_string(),
                "The specified password is expired.",
                "Contact your security administrator to reset your password.",
            ),
            ApiError::NewPasswordInvalid => t(
                S::BAD_REQUEST,
                "ZWEAT413E",
                "org.zowe.apiml.security.platform.errno.EMVSPASSWORD",
                "The platform returned error: EMVSPASSWORD: The new password is not valid".to_string(),
                "The new password is not valid.",
                "Provide valid password.",
            ),
            ApiError::UserRevoked => t(
                S::UNAUTHORIZED,
                "ZWEAT414E",
                "org.zowe.apiml.security.platform.errno.EMVSSAFEXTRERR",
                "The platform returned error: EMVSSAFEXTRERR: The user name access has been revoked".to_string(),
                "The user name access has been revoked.",
                "Contact your security administrator to unsuspend your account.",
            ),
            ApiError::SafDenied { user } => t(
                S::UNAUTHORIZED,
                "ZWEAG711E",
                "org.zowe.apiml.security.unauthorized",
                format!("The principal '{user}' is missing queried authorization."),
                "The principal does not have the queried access to the resource name within the resource class.",
                "No action is needed.",
            ),
            ApiError::InvalidCheckRequest => t(
                S::BAD_REQUEST,
                // zgate's own number (API ML answers a bare 400 here).
                "ZGATE400E",
                "org.zowe.zgate.security.invalidCheckRequest",
                format!("The body of the SAF check request for URL '{url}' is missing or invalid"),
                "The request body must be {\"resourceClass\",\"resourceName\",\"accessLevel\"}.",
                "Provide a valid JSON body with an access level of READ, UPDATE, CONTROL or ALTER.",
            ),
            ApiError::NotFound => t(
                S::NOT_FOUND,
                "ZWEAM104E",
                "org.zowe.apiml.common.endPointNotFound",
                format!("The endpoint you are looking for '{url}' could not be located"),
                "The endpoint you are looking for could not be located.",
                "Verify that the URL of the endpoint you are trying to reach is correct.",
            ),
            ApiError::BackendUnavailable => t(
                S::SERVICE_UNAVAILABLE,
                "ZWEAG104E",
                "org.zowe.apiml.security.authenticationServiceUnavailable",
                format!("Authentication service is not available at URL '{url}'. Error returned: 'the security manager did not answer'"),
                "The authentication service is not available.",
                "Make sure that the authentication service is running and is accessible by the URL provided in the message.",
            ),
            ApiError::ServiceUnavailable { service } => t(
                S::SERVICE_UNAVAILABLE,
                // API ML's number for an unreachable routed service.
                "ZWEAO503E",
                "org.zowe.apiml.gateway.serviceUnavailable",
                format!("The service '{service}' is not available at URL '{url}'. No instance answered."),
                "No instance of the service answered the request.",
                "Make sure that the service is running and reachable by the gateway.",
            ),
            ApiError::TicketNoApplication => t(
                S::BAD_REQUEST,
                "ZWEAG140E",
                "org.zowe.apiml.security.ticket.invalidApplicationName",
                "The 'applicationName' parameter name is missing.".to_owned(),
                "The application name is not provided.",
                "Provide the 'applicationName' parameter.",
            ),
            ApiError::TicketFailed {
                reason,
                bad_request,
            } => t(
                if *bad_request {
                    S::BAD_REQUEST
                } else {
                    S::INTERNAL_SERVER_ERROR
                },
                "ZWEAG141E",
                "org.zowe.apiml.security.ticket.generateFailed",
                format!("The generation of the PassTicket failed. Reason: {reason}"),
                "The PassTicket could not be generated.",
                "Check the PTKTDATA profile of the application and the gateway's IRRPTAUTH access.",
            ),
            ApiError::PatInvalidBody => t(
                S::BAD_REQUEST,
                "ZWEAT605E",
                "org.zowe.apiml.security.query.invalidAccessTokenBody",
                format!("Invalid body provided in request to create personal access token for URL '{url}'"),
                "The request body is not valid JSON of the documented shape, or a scope is not a service id.",
                "Provide a body {\"validity\":days,\"scopes\":[\"serviceid\",...]} with service ids of a-z 0-9 . _ -.",
            ),
            ApiError::PatNoScopes => t(
                S::BAD_REQUEST,
                "ZWEAT606E",
                "org.zowe.apiml.security.token.accessTokenBodyMissingScopes",
                "Body in the HTTP request for Personal Access Token does not contain scopes".to_string(),
                "The request body has no scopes, or only empty ones.",
                "Provide at least one service id in \"scopes\".",
            ),
            ApiError::PatMissingField => t(
                S::BAD_REQUEST,
                "ZWEAT607E",
                "org.zowe.apiml.security.query.invalidRevokeRequestBody",
                format!("Body in the revoke request is not valid for URL '{url}'"),
                "The request body must name the user (\"userId\") or service (\"serviceId\") of the rule.",
                "Provide the missing field.",
            ),
            ApiError::Forbidden { resource } => t(
                S::FORBIDDEN,
                "ZWEAT403E",
                "org.zowe.apiml.security.forbidden",
                format!("The user is not authorized to the target resource: {resource}"),
                "The user does not have the SAF access this request needs.",
                "Ask your security administrator for access.",
            ),
            ApiError::RejectedTarget { why } => t(
                S::BAD_REQUEST,
                "ZGATE410E",
                "org.zowe.zgate.request.rejectedTarget",
                format!("The request target for URL '{url}' was rejected: {why}"),
                "Dot segments that leave the service's root, encoded slashes, backslashes or percent signs, empty segments and control characters are not accepted in a request path.",
                "Send the normalized path; a service that needs encoded characters sets apiml.enableUrlEncodedCharacters.",
            ),
            ApiError::UnsupportedMediaType => t(
                S::UNSUPPORTED_MEDIA_TYPE,
                "ZGATE415E",
                "org.zowe.zgate.request.unsupportedMediaType",
                format!("The request to URL '{url}' has a body that is not application/json"),
                "The gateway's endpoints take JSON bodies only, so that a cross-site form cannot call them.",
                "Send the body with Content-Type: application/json.",
            ),
            ApiError::UpstreamFailed { service } => t(
                S::BAD_GATEWAY,
                "ZGATE502E",
                "org.zowe.zgate.routing.upstreamFailed",
                format!("The service '{service}' gave no valid answer for URL '{url}'"),
                "The instance closed the connection or answered with a response that is not valid HTTP.",
                "Check the service's log; the gateway's log names the instance.",
            ),
            ApiError::UpstreamTimeout { service } => t(
                S::GATEWAY_TIMEOUT,
                "ZGATE504E",
                "org.zowe.zgate.routing.upstreamTimeout",
                format!("The service '{service}' did not answer in time for URL '{url}'"),
                "The instance did not send its response headers within the gateway's response timeout.",
                "Check that the service answers; the gateway's log names the instance.",
            ),
            ApiError::DefinitionsRefused { errors, kept } => t(
                S::UNPROCESSABLE_ENTITY,
                "ZGATE422E",
                "org.zowe.zgate.routing.definitionsRefused",
                format!(
                    "The service definitions were refused; the previous {kept} service(s) stay: {}",
                    errors.join("; ")
                ),
                "A service definition file has errors.",
                "Fix the files at the lines named and reload again.",
            ),
            ApiError::IdentityNotMapped => Text {
                auth_failure: Some(NO_MAINFRAME_IDENTITY),
                ..t(
                    S::UNAUTHORIZED,
                    "ZWEAG161E",
                    "org.zowe.apiml.security.login.noUserMappedToDistributedIdentity",
                    "No user was found".to_string(),
                    "No distributed identity filter (RACMAP) of the configured registry maps the token's subject to a user.",
                    "Ask your security administrator to map the identity (RACMAP ID(user) MAP ... then SETROPTS RACLIST(IDIDMAP) REFRESH).",
                )
            },
            ApiError::OidcLoginFailed { why } => Text {
                auth_failure: Some("ZGATE401E The OIDC login failed"),
                ..t(
                    S::UNAUTHORIZED,
                    "ZGATE401E",
                    "org.zowe.zgate.security.oidc.loginFailed",
                    format!("The OIDC login for URL '{url}' failed: {why}"),
                    "The login at the OpenID provider did not end in a valid identity of the provider.",
                    "Start the login again from /gateway/oauth2/authorization/{id}; if it fails again, the gateway's log says why.",
                )
            },
            ApiError::ReturnUrlRefused => t(
                S::BAD_REQUEST,
                "ZGATE411E",
                "org.zowe.zgate.security.oidc.returnUrlRefused",
                format!("The return URL of the login at URL '{url}' is not allowed"),
                "A login returns only to a path of the gateway (one '/', no '\\') or to an origin or URL prefix listed in zgate.oidc.client.returnUrls.",
                "Use a relative path, or add the application's origin to zgate.oidc.client.returnUrls.",
            ),
            ApiError::TooManyRequests => t(
                S::TOO_MANY_REQUESTS,
                "ZGATE429E",
                "org.zowe.zgate.request.tooManyRequests",
                format!("Too many requests to URL '{url}' from this address"),
                "The endpoint answers a limited number of requests per client address and minute.",
                "Wait a minute before trying again.",
            ),
            ApiError::CertificateNotMapped => t(
                S::UNAUTHORIZED,
                "ZWEAG161E",
                "org.zowe.apiml.security.login.noUserMappedToCertificate",
                "No user was found".to_string(),
                "No ESM certificate filter maps the client certificate to a user.",
                "Ask your security administrator to map the certificate (RACDCERT MAP).",
            ),
        }
    }

    /// The full response for a request to `url` (the path).
    pub fn render(&self, url: &str) -> Response {
        let text = self.text(url);
        let body = Messages {
            messages: [Message {
                message_type: "ERROR",
                message_number: text.number,
                message_content: text.content,
                message_action: text.action,
                message_reason: text.reason,
                message_key: text.key,
            }],
        };
        // serde_json writes compact JSON: `"messageKey":"` with no spaces.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = Response::new(Body::from(json));
        *response.status_mut() = text.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(failure) = text.auth_failure {
            response
                .headers_mut()
                .insert(AUTH_FAILURE_HEADER, HeaderValue::from_static(failure));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders an [`ApiError`] left in a response's extensions into the full
/// error response, with the request path in the message (the gateway's edge
/// calls it on every response).
pub fn render_error(mut response: Response, path: &str) -> Response {
    match response.extensions_mut().remove::<ApiError>() {
        Some(error) => {
            let mut rendered = error.render(path);
            // Keep the other extensions (the metrics' route tag).
            let extensions = std::mem::take(response.extensions_mut());
            rendered.extensions_mut().extend(extensions);
            rendered
        }
        None => response,
    }
}

/// A token that does not verify, or cannot be issued, as the API answers
/// it. Failures of the gateway itself (the revocation store, signing) are
/// logged here, the one place that sees them all, and reach the client only
/// as "unavailable".
impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Expired => ApiError::TokenExpired,
            TokenError::UserNotActive => ApiError::UserRevoked,
            TokenError::Store(_) | TokenError::Signing => {
                tracing::error!(%error, "token service failed");
                ApiError::BackendUnavailable
            }
            _ => ApiError::InvalidToken,
        }
    }
}

/// A personal access token that cannot be made or used.
impl From<PatError> for ApiError {
    fn from(error: PatError) -> Self {
        match error {
            PatError::NoScopes => ApiError::PatNoScopes,
            PatError::BadScope => ApiError::PatInvalidBody,
            PatError::Token(token) => token.into(),
            PatError::OutOfScope => ApiError::InvalidToken,
            other => {
                tracing::error!(error = %other, "personal access token service failed");
                ApiError::BackendUnavailable
            }
        }
    }
}

/// The security manager did not answer: logged, and "unavailable" to the
/// client (its text may name the store).
impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        tracing::error!(%error, "security manager failed");
        ApiError::BackendUnavailable
    }
}

/// A request target refused by normalization.
impl From<TargetError> for ApiError {
    fn from(error: TargetError) -> Self {
        ApiError::RejectedTarget { why: error.why() }
    }
}

/// `route` with every method it does not serve answered by
/// [`ApiError::MethodNotAllowed`] (axum's own 405 has no body).
pub(crate) fn refuse_other_methods<S>(route: MethodRouter<S>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route.fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
    }
}
