//! What the gateway adds to the audit trail: the request id and the
//! [`Origin`] every record of a request carries, and the records of what
//! the gateway itself decides (tokens issued, refreshed and revoked,
//! logouts, service definition reloads). The ESM records its own logons
//! and checks, given the same origin.
//!
//! No record carries a secret: no password, token, token hash, cookie,
//! PassTicket or key; a token is named by its kind and its user.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::Extensions;
use serde_json::{json, Value};
use zgate_audit::decide::LogReason;
use zgate_audit::record::{self, jobinit};
pub use zgate_audit::{AuditHealth, AuditRecord, AuditSink, AuditUnavailable, Origin};

use crate::peer::RemoteAddr;

/// The response header naming the request, as the access log and the audit
/// records name it.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The `job_name` of requests to the gateway's own endpoints (a routed
/// request's is its service id).
pub const LISTENER_JOB_NAME: &str = "ZGATE";

/// The id zgate gave a request. A client's `X-Request-Id` is never taken
/// for it: a client could otherwise make its requests look like another's
/// in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

/// Makes request ids: a random prefix per process and a counter, so ids
/// are unique across restarts without a random draw per request.
#[derive(Debug)]
pub struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl RequestIds {
    /// A new sequence with a random prefix.
    pub fn new() -> RequestIds {
        use ring::rand::{SecureRandom as _, SystemRandom};
        let mut bytes = [0u8; 4];
        // Without randomness the ids are still unique within the process.
        let _ = SystemRandom::new().fill(&mut bytes);
        RequestIds {
            prefix: u32::from_be_bytes(bytes),
            next: AtomicU64::new(1),
        }
    }

    /// The next id.
    pub fn next(&self) -> RequestId {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        RequestId(Arc::from(format!("{:08x}-{n:012x}", self.prefix)))
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

/// What received a routed request: its service id (`job_name`), set by
/// routing before it authenticates the caller.
#[derive(Debug, Clone)]
pub struct JobName(pub Arc<str>);

/// The origin of the request these extensions belong to: the client's
/// address and port, the request id, the routed service or the listener.
pub fn origin(extensions: &Extensions) -> Origin {
    Origin {
        term: extensions
            .get::<RemoteAddr>()
            .map(|RemoteAddr(addr)| addr.to_string()),
        request_id: extensions
            .get::<RequestId>()
            .map(|RequestId(id)| id.to_string()),
        job_name: Some(
            extensions
                .get::<JobName>()
                .map_or(LISTENER_JOB_NAME, |JobName(name)| name)
                .to_owned(),
        ),
    }
}

/// The request's [`Origin`], as a handler argument.
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestOrigin(origin(&parts.extensions)))
    }
}

/// The trail as the gateway and the app need it: records go in, its health
/// comes out for `/application/health` and the metrics, and it can be
/// waited for. No method has a default.
pub trait AuditTrail: AuditSink {
    /// The trail's state now.
    fn health(&self) -> AuditHealth;

    /// Waits until every record submitted before is written (blocking).
    fn flush(&self);
}

impl AuditTrail for zgate_audit::QueuedTrail {
    fn health(&self) -> AuditHealth {
        zgate_audit::QueuedTrail::health(self)
    }

    fn flush(&self) {
        zgate_audit::QueuedTrail::flush(self);
    }
}

/// A kind of token the gateway makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The gateway's JWT (`apimlAuthenticationToken`).
    Jwt,
    /// A personal access token.
    Pat,
    /// A SAF identity token for a service.
    SafIdt,
    /// A PassTicket for a service's application.
    PassTicket,
}

impl TokenKind {
    /// The name in the record's `token.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Jwt => "jwt",
            TokenKind::Pat => "pat",
            TokenKind::SafIdt => "safidt",
            TokenKind::PassTicket => "passticket",
        }
    }
}

/// TOKEN (event 200) qualifiers.
pub mod token {
    /// Issued.
    pub const ISSUE: u32 = 0;
    /// Refreshed (a new token for an old one).
    pub const REFRESH: u32 = 1;
    /// Revoked.
    pub const REVOKE: u32 = 2;
}

/// RELOAD (event 201) qualifiers.
pub mod reload {
    /// The definitions were applied.
    pub const APPLIED: u32 = 0;
    /// The definitions were refused; the previous set stays.
    pub const REFUSED: u32 = 1;
}

fn token_record(
    qualifier: u32,
    at_ms: i64,
    user: &str,
    kind: TokenKind,
    action: &str,
    origin: &Origin,
) -> AuditRecord {
    AuditRecord::new(record::TOKEN, qualifier, at_ms, Some(user))
        .set("token", json!({ "kind": kind.as_str(), "action": action }))
        .reasons(&[LogReason::Always])
        .origin(origin)
}

/// A token of `kind` issued to `user`.
pub fn token_issued(at_ms: i64, user: &str, kind: TokenKind, origin: &Origin) -> AuditRecord {
    token_record(token::ISSUE, at_ms, user, kind, "issue", origin)
}

/// A JWT of `user` refreshed.
pub fn token_refreshed(at_ms: i64, user: &str, origin: &Origin) -> AuditRecord {
    token_record(
        token::REFRESH,
        at_ms,
        user,
        TokenKind::Jwt,
        "refresh",
        origin,
    )
}

/// Tokens revoked for `user` (the user the revocation is about: the owner
/// of a token, the target of a rule, or the administrator for a rule by
/// scope); `what` says which (never the token itself).
pub fn tokens_revoked(
    at_ms: i64,
    user: &str,
    kind: TokenKind,
    what: Value,
    origin: &Origin,
) -> AuditRecord {
    let mut token = json!({ "kind": kind.as_str(), "action": "revoke" });
    if let (Some(token), Value::Object(what)) = (token.as_object_mut(), what) {
        token.extend(what);
    }
    AuditRecord::new(record::TOKEN, token::REVOKE, at_ms, Some(user))
        .set("token", token)
        .reasons(&[LogReason::Always])
        .origin(origin)
}

/// A personal access token refused as a logon credential (RACF's JOBINIT
/// "invalid password", always recorded as every failed logon is): expired,
/// revoked, forged or of a revoked user. Its user is not named, as the
/// token's claims are not to be believed once it failed; the token itself
/// never appears.
pub fn pat_refused(at_ms: i64, origin: &Origin) -> AuditRecord {
    AuditRecord::new(record::JOBINIT, jobinit::INVALID_PASSWORD, at_ms, None)
        .set("logstr", "PAT")
        .reasons(&[LogReason::Racinit])
        .origin(origin)
}

/// `user` logged out (RACF's JOBINIT termination), ending a token of `kind`.
pub fn logout(at_ms: i64, user: &str, kind: TokenKind, origin: &Origin) -> AuditRecord {
    AuditRecord::new(record::JOBINIT, jobinit::TERMINATION, at_ms, Some(user))
        .set(
            "token",
            json!({ "kind": kind.as_str(), "action": "logout" }),
        )
        .reasons(&[LogReason::Always])
        .origin(origin)
}

/// The service definitions were re-read: `Ok(services now loaded)` or
/// `Err(services kept)`; `by` is the user who asked, when one did.
pub fn services_reloaded(
    at_ms: i64,
    outcome: Result<usize, usize>,
    by: Option<&str>,
    origin: &Origin,
) -> AuditRecord {
    let (qualifier, services) = match outcome {
        Ok(n) => (reload::APPLIED, json!({ "loaded": n })),
        Err(kept) => (reload::REFUSED, json!({ "kept": kept })),
    };
    AuditRecord::new(record::RELOAD, qualifier, at_ms, by)
        .set("services", services)
        .reasons(&[LogReason::Always])
        .origin(origin)
}

/// The server certificate, key and truststore were read again: the new
/// leaf's subject, serial and notAfter when applied, or why they were
/// refused (the previous ones stay); `by` is the user who asked, when one
/// did.
pub fn certificates_reloaded(
    at_ms: i64,
    outcome: Result<(&str, &str, i64), &str>,
    by: Option<&str>,
    origin: &Origin,
) -> AuditRecord {
    let (qualifier, certificates) = match outcome {
        Ok((subject, serial, not_after)) => (
            reload::APPLIED,
            json!({ "subject": subject, "serial": serial, "notAfter": not_after }),
        ),
        Err(reason) => (reload::REFUSED, json!({ "refused": reason })),
    };
    AuditRecord::new(record::RELOAD, qualifier, at_ms, by)
        .set("certificates", certificates)
        .reasons(&[LogReason::Always])
        .origin(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_share_the_process_prefix() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.0.split('-').next(), b.0.split('-').next());
        assert_eq!(a.0.len(), 21);
    }

    #[test]
    fn the_origin_names_the_client_the_request_and_what_received_it() {
        let mut extensions = Extensions::new();
        extensions.insert(RemoteAddr("[::1]:4711".parse().unwrap()));
        extensions.insert(RequestId(Arc::from("r-1")));
        let endpoint = origin(&extensions);
        assert_eq!(endpoint.term.as_deref(), Some("[::1]:4711"));
        assert_eq!(endpoint.request_id.as_deref(), Some("r-1"));
        assert_eq!(endpoint.job_name.as_deref(), Some(LISTENER_JOB_NAME));
        extensions.insert(JobName(Arc::from("zosmf")));
        assert_eq!(origin(&extensions).job_name.as_deref(), Some("zosmf"));
    }

    #[test]
    fn a_revocation_says_what_was_revoked_beside_the_kind() {
        let record = tokens_revoked(
            0,
            "ALICE",
            TokenKind::Pat,
            json!({ "scope": "zosmf" }),
            &Origin::default(),
        );
        assert_eq!(
            record.get("token"),
            Some(&json!({ "kind": "pat", "action": "revoke", "scope": "zosmf" }))
        );
        assert_eq!(record.get("event_qual"), Some(&json!(token::REVOKE)));
    }
}
