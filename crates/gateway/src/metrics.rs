//! Prometheus text metrics, hand-rolled on atomics: requests by route, method
//! and status; a latency histogram; login outcomes. The request counters sit
//! behind a read-mostly lock whose write side is taken only the first time a
//! (route, method, status) combination is seen.
//!
//! Counting is on every request's path, so it allocates nothing and touches
//! as few shared cache lines as it can: the lookup borrows the route and
//! method, and the histogram stores per-bucket counts (one increment), made
//! cumulative only when rendered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::RwLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;

use crate::audit::{AuditHealth, RequestId};

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A login's result, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in.
    Success,
    /// Unknown user or wrong password.
    InvalidCredentials,
    /// Secret expired.
    PasswordExpired,
    /// New password rejected.
    NewPasswordInvalid,
    /// User revoked.
    Revoked,
    /// ESM unavailable.
    BackendError,
}

impl LoginOutcome {
    const ALL: [LoginOutcome; 6] = [
        Self::Success,
        Self::InvalidCredentials,
        Self::PasswordExpired,
        Self::NewPasswordInvalid,
        Self::Revoked,
        Self::BackendError,
    ];
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::PasswordExpired => "password_expired",
            Self::NewPasswordInvalid => "new_password_invalid",
            Self::Revoked => "revoked",
            Self::BackendError => "backend_error",
        }
    }
}

/// One route's request counts.
type CountsByMethodStatus = HashMap<(Method, u16), AtomicU64>;

/// All counters.
#[derive(Default)]
pub struct Metrics {
    /// route → (method, status) → count.
    requests: RwLock<HashMap<String, CountsByMethodStatus>>,
    /// Requests per latency bucket; the last one is over every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    logins: [AtomicU64; 6],
}

impl Metrics {
    /// Counts one request.
    pub fn request(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let counted = self.requests.read().ok().is_some_and(|map| {
            map.get(route)
                .and_then(|by_method| by_method.get(&(method.clone(), status)))
                .map(|count| count.fetch_add(1, Ordering::Relaxed))
                .is_some()
        });
        if !counted {
            if let Ok(mut map) = self.requests.write() {
                map.entry(route.to_owned())
                    .or_default()
                    .entry((method.clone(), status))
                    .or_insert_with(|| AtomicU64::new(0))
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        if let Some(bucket) = self.buckets.get(bucket) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Counts one login attempt.
    pub fn login(&self, outcome: LoginOutcome) {
        if let Some(i) = LoginOutcome::ALL.iter().position(|o| *o == outcome) {
            self.logins[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition; `audit` is the trail's state (`None`:
    /// auditing disabled, counted as nothing written or dropped).
    pub fn render(&self, signature_checks: u64, audit: Option<&AuditHealth>) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP zgate_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE zgate_http_requests_total counter\n");
        if let Ok(map) = self.requests.read() {
            let mut lines: Vec<(&str, &str, u16, u64)> = map
                .iter()
                .flat_map(|(route, by_method)| {
                    by_method.iter().map(|((method, status), count)| {
                        (
                            route.as_str(),
                            method.as_str(),
                            *status,
                            count.load(Ordering::Relaxed),
                        )
                    })
                })
                .collect();
            lines.sort_unstable();
            for (route, method, status, count) in lines {
                let _ = writeln!(
                    out,
                    "zgate_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                    escape(route),
                    escape(method),
                );
            }
        }
        out.push_str("# HELP zgate_http_request_duration_seconds Time to produce a response.\n");
        out.push_str("# TYPE zgate_http_request_duration_seconds histogram\n");
        let mut count = 0;
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            count += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "zgate_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        count += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "zgate_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "zgate_http_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "zgate_http_request_duration_seconds_count {count}");
        out.push_str("# HELP zgate_login_total Login attempts by outcome.\n");
        out.push_str("# TYPE zgate_login_total counter\n");
        for (outcome, count) in LoginOutcome::ALL.iter().zip(&self.logins) {
            let _ = writeln!(
                out,
                "zgate_login_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP zgate_token_signature_checks_total JWT signatures verified (verification cache misses).\n");
        out.push_str("# TYPE zgate_token_signature_checks_total counter\n");
        let _ = writeln!(out, "zgate_token_signature_checks_total {signature_checks}");
        let (written, dropped) = audit.map_or((0, 0), |a| (a.written, a.dropped));
        out.push_str(
            "# HELP zgate_audit_records_written_total Audit records written to the trail.\n",
        );
        out.push_str("# TYPE zgate_audit_records_written_total counter\n");
        let _ = writeln!(out, "zgate_audit_records_written_total {written}");
        out.push_str("# HELP zgate_audit_records_dropped_total Audit records the trail could not take (dropped under onFailure count, refused under refuse).\n");
        out.push_str("# TYPE zgate_audit_records_dropped_total counter\n");
        let _ = writeln!(out, "zgate_audit_records_dropped_total {dropped}");
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts and times one answered request, and logs one line for it
/// (request id, client address, method, route, status, latency — never
/// headers or bodies, which carry credentials).
pub fn record(
    metrics: &Metrics,
    method: &Method,
    started: Instant,
    response: &Response,
    id: &RequestId,
    remote: Option<SocketAddr>,
) {
    // The route template, not the raw path: bounded label cardinality.
    let route = response
        .extensions()
        .get::<RouteTag>()
        .map_or("unmatched", RouteTag::as_str);
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.request(route, method, status, elapsed);
    // Debug, not info: at tens of thousands of requests a second an access
    // line per request costs more than the request. Audit events (login,
    // logout) are logged at info by the handlers.
    tracing::debug!(
        target: "zgate::access",
        request_id = %id.0,
        remote = remote.map(|a| a.to_string()).as_deref().unwrap_or("-"),
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed * 1000.0,
        "request"
    );
}

/// The route a response answered, carried out to [`record`] on the
/// response: an endpoint's template, or a routed service's.
#[derive(Debug, Clone)]
pub enum RouteTag {
    /// A gateway endpoint.
    Endpoint(MatchedPath),
    /// A routed service (`/<serviceId>/**`).
    Service(Arc<str>),
}

impl RouteTag {
    fn as_str(&self) -> &str {
        match self {
            RouteTag::Endpoint(path) => path.as_str(),
            RouteTag::Service(label) => label,
        }
    }
}

/// Route middleware (inside routing, where [`MatchedPath`] is known): tags
/// the response with the route template.
pub async fn tag_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTag::Endpoint(route));
    }
    response
}

/// The lines of how the process keeps up with other processes' commits on
/// its store (appended to [`Metrics::render`]'s).
pub fn render_store_sync(sync: &crate::security::StoreSync) -> String {
    format!(
        "# HELP zgate_esm_state_age_seconds Since the security state in memory was last known to be the store's.\n\
         # TYPE zgate_esm_state_age_seconds gauge\n\
         zgate_esm_state_age_seconds {:.3}\n\
         # HELP zgate_esm_journal_entries_replayed_total Other processes' commits applied from the store's journal.\n\
         # TYPE zgate_esm_journal_entries_replayed_total counter\n\
         zgate_esm_journal_entries_replayed_total {}\n\
         # HELP zgate_esm_full_reloads_total Times the whole security state was loaded instead of replayed.\n\
         # TYPE zgate_esm_full_reloads_total counter\n\
         zgate_esm_full_reloads_total {}\n",
        sync.state_age_ms as f64 / 1000.0,
        sync.replayed,
        sync.reloads
    )
}

/// What is known of one certificate for its expiry gauge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The subject DN.
    pub subject: String,
    /// The serial number, hex.
    pub serial: String,
    /// notAfter, seconds since the epoch.
    pub not_after: i64,
}

impl CertificateFacts {
    /// The facts of `cert`; `None` for what does not parse.
    pub fn of(cert: &rustls::pki_types::CertificateDer<'_>) -> Option<CertificateFacts> {
        let info = zgate_pki::x509::CertInfo::parse(cert).ok()?;
        Some(CertificateFacts {
            subject: info.subject,
            serial: info.serial,
            not_after: info.not_after,
        })
    }
}

/// The role of a certificate in the expiry gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateRole {
    /// The gateway's own (server and client) certificate.
    Server,
    /// A trust anchor of the truststore.
    Ca,
    /// A routed service's, as presented at a handshake.
    Service,
}

impl CertificateRole {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            CertificateRole::Server => "server",
            CertificateRole::Ca => "ca",
            CertificateRole::Service => "service",
        }
    }
}

/// A certificate under watch: the server's and the CAs' (set at each
/// load), a service instance's (noted at each new upstream handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedCertificate {
    /// What it is to the gateway.
    pub role: CertificateRole,
    /// The service id (services only).
    pub service: Option<String>,
    /// The instance's base URL (services only).
    pub instance: Option<String>,
    /// Its facts.
    pub facts: CertificateFacts,
}

/// The certificates' state: reloads counted by outcome, and every watched
/// certificate's expiry.
#[derive(Debug)]
pub struct TlsStatus {
    reloads_ok: AtomicU64,
    reloads_refused: AtomicU64,
    /// The server's certificate and the trust anchors, in that order.
    stores: RwLock<Vec<WatchedCertificate>>,
    /// (service id, instance base URL) → what the instance presented last.
    services: RwLock<std::collections::BTreeMap<(String, String), CertificateFacts>>,
    /// A certificate expiring within this many seconds is warned about.
    warning_seconds: i64,
}

impl TlsStatus {
    /// Warnings for certificates expiring within `warning_days`.
    pub fn new(warning_days: u32) -> TlsStatus {
        TlsStatus {
            reloads_ok: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            stores: RwLock::new(Vec::new()),
            services: RwLock::new(std::collections::BTreeMap::new()),
            warning_seconds: i64::from(warning_days) * 86_400,
        }
    }

    /// Counts a reload: applied (`true`) or refused.
    pub fn reloaded(&self, applied: bool) {
        let counter = if applied {
            &self.reloads_ok
        } else {
            &self.reloads_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (applied, refused) reloads so far.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_refused.load(Ordering::Relaxed),
        )
    }

    /// The server's chain (leaf first) and the trust anchors now in use.
    pub fn set_stores(
        &self,
        chain: &[rustls::pki_types::CertificateDer<'_>],
        anchors: &[rustls::pki_types::CertificateDer<'_>],
    ) {
        let server = chain
            .first()
            .and_then(CertificateFacts::of)
            .map(|facts| WatchedCertificate {
                role: CertificateRole::Server,
                service: None,
                instance: None,
                facts,
            });
        let cas = anchors
            .iter()
            .filter_map(CertificateFacts::of)
            .map(|facts| WatchedCertificate {
                role: CertificateRole::Ca,
                service: None,
                instance: None,
                facts,
            });
        let watched: Vec<WatchedCertificate> = server.into_iter().chain(cas).collect();
        if let Ok(mut stores) = self.stores.write() {
            *stores = watched;
        }
    }

    /// Notes the leaf a service instance presented at a new handshake; a
    /// certificate not seen before and expiring within the warning window
    /// (at `now`, seconds since the epoch) is warned about at once.
    pub fn note_service(
        &self,
        service: &str,
        instance: &str,
        leaf: &rustls::pki_types::CertificateDer<'_>,
        now: i64,
    ) {
        let key = (service.to_owned(), instance.to_owned());
        let known = self
            .services
            .read()
            .ok()
            .and_then(|map| map.get(&key).cloned());
        let Some(facts) = CertificateFacts::of(leaf) else {
            return;
        };
        if known.as_ref() == Some(&facts) {
            return;
        }
        if facts.not_after - now <= self.warning_seconds {
            warn_expiring(
                &WatchedCertificate {
                    role: CertificateRole::Service,
                    service: Some(key.0.clone()),
                    instance: Some(key.1.clone()),
                    facts: facts.clone(),
                },
                now,
            );
        }
        if let Ok(mut map) = self.services.write() {
            map.insert(key, facts);
        }
    }

    /// Every watched certificate: the server's, the CAs', the services'.
    pub fn watched(&self) -> Vec<WatchedCertificate> {
        let mut all = self.stores.read().map(|s| s.clone()).unwrap_or_default();
        if let Ok(map) = self.services.read() {
            all.extend(
                map.iter()
                    .map(|((service, instance), facts)| WatchedCertificate {
                        role: CertificateRole::Service,
                        service: Some(service.clone()),
                        instance: Some(instance.clone()),
                        facts: facts.clone(),
                    }),
            );
        }
        all
    }

    /// Logs a warning for each watched certificate expiring within the
    /// window at `now` (seconds since the epoch); how many there were.
    pub fn warn_expiring(&self, now: i64) -> usize {
        let expiring: Vec<WatchedCertificate> = self
            .watched()
            .into_iter()
            .filter(|w| w.facts.not_after - now <= self.warning_seconds)
            .collect();
        for watched in &expiring {
            warn_expiring(watched, now);
        }
        expiring.len()
    }

    /// The Prometheus lines of the reloads and the expiry gauges.
    pub fn render(&self) -> String {
        let (ok, refused) = self.reloads();
        let mut out = String::new();
        out.push_str("# HELP zgate_tls_reloads_total Reloads of the server certificate, key and truststore by result.\n");
        out.push_str("# TYPE zgate_tls_reloads_total counter\n");
        let _ = writeln!(out, "zgate_tls_reloads_total{{result=\"ok\"}} {ok}");
        let _ = writeln!(
            out,
            "zgate_tls_reloads_total{{result=\"refused\"}} {refused}"
        );
        out.push_str("# HELP zgate_certificate_not_after_seconds When a certificate expires (notAfter), seconds since the epoch.\n");
        out.push_str("# TYPE zgate_certificate_not_after_seconds gauge\n");
        for watched in self.watched() {
            let _ = writeln!(
                out,
                "zgate_certificate_not_after_seconds{{role=\"{}\",subject=\"{}\",serial=\"{}\",service=\"{}\",instance=\"{}\"}} {}",
                watched.role.label(),
                escape(&watched.facts.subject),
                escape(&watched.facts.serial),
                escape(watched.service.as_deref().unwrap_or("")),
                escape(watched.instance.as_deref().unwrap_or("")),
                watched.facts.not_after
            );
        }
        out
    }
}

fn warn_expiring(watched: &WatchedCertificate, now: i64) {
    let days = (watched.facts.not_after - now).div_euclid(86_400);
    tracing::warn!(
        role = watched.role.label(),
        subject = %watched.facts.subject,
        serial = %watched.facts.serial,
        service = watched.service.as_deref().unwrap_or("-"),
        not_after = watched.facts.not_after,
        days_left = days,
        "certificate expires soon"
    );
}
