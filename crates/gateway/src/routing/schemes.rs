//! The authentication schemes (spec §7 table): strip every inbound
//! credential, then add what the service's scheme names. A scheme whose
//! credential cannot be produced yields `Err(message)`: the caller forwards
//! the request without credentials and sets `X-Zowe-Auth-Failure`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http::request::Parts;
use http::{header, HeaderName, HeaderValue};

use super::services::{Scheme, Service};
use super::tickets::PassTicketIssuer;
use crate::audit::{origin, token_issued, TokenKind};
use crate::error::ApiError;
use crate::extract::{token_from, Authenticated, Via};
use crate::headers::{is_certificate_header, remove_headers};
use crate::peer::PeerCertificates;
use crate::state::AppState;

/// Cookies that carry credentials (names, or prefixes ending in `*`).
const CREDENTIAL_COOKIES: [&str; 4] = [
    "apimlAuthenticationToken*",
    "personalAccessToken",
    "jwtToken",
    "LtpaToken2",
];

/// Headers that carry credentials (and every other `x-certificate-*`).
static CREDENTIAL_HEADERS: [HeaderName; 7] = [
    header::AUTHORIZATION,
    HeaderName::from_static("private-token"),
    HeaderName::from_static("x-saf-token"),
    HeaderName::from_static("client-cert"),
    HeaderName::from_static("x-certificate-public"),
    HeaderName::from_static("x-certificate-distinguishedname"),
    HeaderName::from_static("x-certificate-commonname"),
];

fn is_credential_cookie(name: &str) -> bool {
    CREDENTIAL_COOKIES
        .iter()
        .any(|c| match c.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *c,
        })
}

/// Removes every inbound credential, keeping the other cookies.
pub fn strip_credentials(parts: &mut Parts) {
    remove_headers(&mut parts.headers, |n| {
        CREDENTIAL_HEADERS.contains(n) || is_certificate_header(n)
    });
    if parts.headers.contains_key(header::COOKIE) {
        let mut others = String::new();
        for cookie in parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .filter(|c| !is_credential_cookie(c.split_once('=').map_or(*c, |(n, _)| n.trim())))
        {
            if !others.is_empty() {
                others.push_str("; ");
            }
            others.push_str(cookie);
        }
        parts.headers.remove(header::COOKIE);
        if !others.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&others) {
                parts.headers.insert(header::COOKIE, v);
            }
        }
    }
}

fn add_cookie(parts: &mut Parts, cookie: &str) -> Result<(), String> {
    let value = match parts
        .headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) => format!("{existing}; {cookie}"),
        None => cookie.to_owned(),
    };
    let v = HeaderValue::from_str(&value).map_err(|_| "ZWEAG160E bad cookie".to_owned())?;
    parts.headers.insert(header::COOKIE, v);
    Ok(())
}

/// The `X-Zowe-Auth-Failure` text for an authentication error.
pub fn failure_text(e: &ApiError) -> String {
    match e {
        ApiError::AuthRequired | ApiError::TokenNotProvided => {
            "ZWEAG160E No authentication provided in the request".into()
        }
        ApiError::InvalidToken | ApiError::UnparsableToken => "ZWEAG102E Token is not valid".into(),
        ApiError::TokenExpired => "ZWEAT100E Token is expired".into(),
        ApiError::BackendUnavailable => "ZWEAG104E Authentication service is not available".into(),
        ApiError::UserRevoked => "ZWEAT414E The user is revoked".into(),
        ApiError::PasswordExpired => "ZWEAT412E The password has expired".into(),
        ApiError::IdentityNotMapped => crate::error::NO_MAINFRAME_IDENTITY.into(),
        _ => "ZWEAG120E Invalid username or password".into(),
    }
}

/// Rewrites the request's credentials for `service`'s scheme. Inbound
/// credentials are stripped whatever happens.
pub async fn apply(
    state: &AppState,
    issuer: Option<&Arc<dyn PassTicketIssuer>>,
    saf_idt_lifetime_seconds: i64,
    service: &Service,
    caller: Option<&Authenticated>,
    parts: &mut Parts,
) -> Result<(), String> {
    // Read the caller's own gateway JWT before stripping (zoweJwt reuses it).
    // `Via::Token` means authentication verified exactly this token (the same
    // `token_from` on the same headers), so it is not verified a second time.
    let inbound_jwt = token_from(&parts.headers)
        .filter(|_| caller.is_some_and(|c| c.via() == Via::Token))
        .map(str::to_owned);
    strip_credentials(parts);
    if service.scheme == Scheme::X509 {
        // The TLS peer certificate is the credential, whoever the caller is.
        return x509(service, parts);
    }
    let Some(caller) = caller else {
        // Already reported by the authentication failure.
        return Ok(());
    };
    let user = caller.user().to_owned();
    use Scheme as S;
    match service.scheme {
        S::Bypass => Ok(()),
        S::ZoweJwt | S::Zosmf => {
            let jwt = match inbound_jwt {
                Some(t) => t,
                None => {
                    // Made from a provider token, it ends when that does.
                    let token = state
                        .tokens()
                        .issue_until(&user, caller.expires_s())
                        .map_err(|_| "ZWEAG104E The token could not be issued".to_owned())?
                        .token;
                    minted(state, &user, TokenKind::Jwt, parts, None)?;
                    token
                }
            };
            let name = if service.scheme == S::ZoweJwt {
                crate::extract::TOKEN_COOKIE
            } else {
                "jwtToken"
            };
            add_cookie(parts, &format!("{name}={jwt}"))
        }
        S::HttpBasicPassTicket => {
            let applid = service.applid.clone().ok_or_else(|| {
                "ZWEAG141E The service defines no applid for PassTickets".to_owned()
            })?;
            let issuer = issuer
                .cloned()
                .ok_or_else(|| "ZWEAG141E PassTickets are not available".to_owned())?;
            let (u, a, o) = (user.clone(), applid.clone(), origin(&parts.extensions));
            let ticket = tokio::task::spawn_blocking(move || issuer.passticket(&o, &u, &a))
                .await
                .map_err(|_| "ZWEAG141E PassTicket generation failed".to_owned())?
                .map_err(|e| {
                    format!("ZWEAG141E The generation of the PassTicket failed. Reason: {e}")
                })?;
            minted(state, &user, TokenKind::PassTicket, parts, Some(&applid))?;
            let basic = B64.encode(format!("{user}:{ticket}"));
            let v = HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| "ZWEAG141E bad PassTicket".to_owned())?;
            parts.headers.insert(header::AUTHORIZATION, v);
            Ok(())
        }
        S::SafIdt => {
            let applid = service
                .applid
                .clone()
                .ok_or_else(|| "ZWEAG151E The service defines no applid for SAF IDTs".to_owned())?;
            let lifetime = match caller.expires_s() {
                Some(exp) => {
                    let now_s = state.tokens().now_ms().div_euclid(1000);
                    saf_idt_lifetime_seconds.min(exp.saturating_sub(now_s))
                }
                None => saf_idt_lifetime_seconds,
            };
            if lifetime <= 0 {
                return Err("ZWEAT100E Token is expired".to_owned());
            }
            let idt = state
                .tokens()
                .issue_saf_idt(&user, &applid, lifetime)
                .map_err(|_| "ZWEAG151E The SAF identity token could not be issued".to_owned())?;
            minted(state, &user, TokenKind::SafIdt, parts, Some(&applid))?;
            let v = HeaderValue::from_str(&idt).map_err(|_| "ZWEAG151E bad token".to_owned())?;
            parts.headers.insert("x-saf-token", v);
            Ok(())
        }
        S::X509 => x509(service, parts),
    }
}

/// Records a credential minted for a service; one the trail refuses is not
/// sent (the request goes on without it, as for any other failure).
fn minted(
    state: &AppState,
    user: &str,
    kind: TokenKind,
    parts: &Parts,
    appl: Option<&str>,
) -> Result<(), String> {
    let origin = origin(&parts.extensions);
    state
        .audit(|now| {
            let record = token_issued(now, user, kind, &origin);
            match appl {
                Some(appl) => record.set("appl", appl),
                None => record,
            }
        })
        .map_err(|_| "ZWEAG104E The credential could not be recorded".to_owned())
}

fn x509(service: &Service, parts: &mut Parts) -> Result<(), String> {
    // A clone of the chain's `Arc`: the headers are written below.
    let peer = parts.extensions.get::<PeerCertificates>().cloned();
    let Some(leaf) = peer.as_ref().and_then(PeerCertificates::leaf) else {
        return Err("ZWEAG167E No client certificate provided in the request".into());
    };
    let info = zgate_pki::x509::CertInfo::parse(leaf)
        .map_err(|_| "ZWEAG167E The client certificate cannot be parsed".to_owned())?;
    let wanted = |h: &str| {
        service.headers.is_empty() || service.headers.iter().any(|w| w.eq_ignore_ascii_case(h))
    };
    let mut set = |name: &'static str, value: String| {
        if wanted(name) {
            if let Ok(v) = HeaderValue::from_str(&value) {
                parts.headers.insert(name, v);
            }
        }
    };
    set("x-certificate-public", B64.encode(leaf.as_ref()));
    set("x-certificate-distinguishedname", info.subject.clone());
    set(
        "x-certificate-commonname",
        info.common_name.clone().unwrap_or_default(),
    );
    Ok(())
}
