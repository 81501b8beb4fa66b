//! Routing to services (spec `apiml-api.md` §7): service definitions,
//! the router `/<serviceId>/<api|ui|ws>/<version>/<rest>`, the
//! authentication schemes, instance health and failover, and the endpoints
//! that go with them:
//!
//! - `GET /gateway/api/v1/services`: the loaded definitions (SAF `ZOWE`
//!   `APIML.SERVICES` READ);
//! - `POST /gateway/api/v1/services/reload`: re-reads the definitions
//!   (SAF `ZOWE` `APIML.SERVICES` UPDATE); `SIGHUP` does the same. A bad
//!   set is refused with its file:line errors and the previous one kept;
//! - `POST /gateway/api/v1/auth/ticket`: a PassTicket for the caller;
//! - `POST /gateway/api/v1/auth/safidt/validate`: checks a SAF identity
//!   token for a backend (`{"token","applid"?}` → 200 claims / 401).
//!
//! Architecture invariant: routed requests authenticate through the one
//! path every endpoint uses ([`authenticate_request`]); this module never
//! reads a credential itself except to strip it. The path a backend
//! receives is the normalized one ([`crate::target`]), below the service's
//! root.

pub mod proxy;
pub mod schemes;
pub mod services;
pub mod setup;
pub mod tickets;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use serde::Deserialize;

use crate::audit::{self, JobName, RequestOrigin, TokenKind};
use crate::error::{refuse_other_methods, ApiError, AUTH_FAILURE_HEADER};
use crate::extract::{
    authenticate_request, Authenticated, Credentials, Permitted, ServicesRead, ServicesUpdate,
};
use crate::headers::remove_headers;
use crate::metrics::RouteTag;
use crate::peer::RemoteAddr;
use crate::security::AccessLevel;
use crate::state::AppState;
use crate::target::Target as NormalizedTarget;
pub use services::{DefinitionErrors, Scheme, Service};
pub use tickets::{PassTicketIssuer, TicketError};

/// Routing settings.
#[derive(Clone)]
pub struct RoutingSettings {
    /// Where the definitions are.
    pub services_directory: PathBuf,
    /// `ZOWE APIML.SERVICES.<serviceId>` READ for routed requests.
    pub per_service_authorization: bool,
    /// Time to the backend's response headers.
    pub response_timeout: Duration,
    /// Connect timeout per instance.
    pub connect_timeout: Duration,
    /// Health polling interval.
    pub health_interval: Duration,
    /// TLS to `https` instances (a `pki::tls` client config).
    pub client_tls: Option<Arc<rustls::ClientConfig>>,
    /// SAF IDT lifetime.
    pub saf_idt_lifetime_seconds: i64,
    /// Where the certificates `https` instances present are noted.
    pub certificates: Option<Arc<crate::metrics::TlsStatus>>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            services_directory: PathBuf::from("services"),
            per_service_authorization: false,
            response_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            health_interval: Duration::from_secs(10),
            client_tls: None,
            saf_idt_lifetime_seconds: zgate_auth::SAF_IDT_LIFETIME_SECONDS,
            certificates: None,
        }
    }
}

struct Instance {
    origin: proxy::Origin,
    healthy: AtomicBool,
}

struct Entry {
    service: Service,
    instances: Vec<Instance>,
    next: AtomicUsize,
    /// The metrics label of its requests, `/<serviceId>/**`.
    route_label: Arc<str>,
    /// What its requests' audit records name as `job_name`: the service id.
    job_name: JobName,
}

impl Entry {
    /// Instances to try, round-robin, healthy first.
    fn order(&self) -> Vec<&Instance> {
        let n = self.instances.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut all: Vec<&Instance> = (0..n).map(|i| &self.instances[(start + i) % n]).collect();
        all.sort_by_key(|i| !i.healthy.load(Ordering::Relaxed));
        all
    }
}

/// The loaded services and the client that reaches them.
pub struct Routing {
    entries: RwLock<Arc<Vec<Arc<Entry>>>>,
    settings: RoutingSettings,
    upstream: proxy::Upstream,
    issuer: Option<Arc<dyn PassTicketIssuer>>,
}

fn build(services: Vec<Service>) -> Vec<Arc<Entry>> {
    services
        .into_iter()
        .map(|service| {
            Arc::new(Entry {
                // The definitions' validation refuses what does not parse.
                instances: service
                    .instance_base_urls
                    .iter()
                    .filter_map(|b| proxy::Origin::parse(b))
                    .map(|origin| origin.of_service(&service.service_id))
                    .map(|origin| Instance {
                        origin,
                        healthy: AtomicBool::new(true),
                    })
                    .collect(),
                route_label: Arc::from(format!("/{}/**", service.service_id)),
                job_name: JobName(Arc::from(service.service_id.as_str())),
                service,
                next: AtomicUsize::new(0),
            })
        })
        .collect()
}

impl Routing {
    /// Loads the definitions (errors refuse the start).
    pub fn new(
        settings: RoutingSettings,
        issuer: Option<Arc<dyn PassTicketIssuer>>,
    ) -> Result<Arc<Routing>, DefinitionErrors> {
        let services = services::load_dir(&settings.services_directory)?;
        Ok(Arc::new(Routing {
            entries: RwLock::new(Arc::new(build(services))),
            upstream: proxy::Upstream::new(settings.client_tls.clone(), settings.connect_timeout)
                .with_certificates(settings.certificates.clone()),
            settings,
            issuer,
        }))
    }

    /// Re-reads the definitions; a bad set is refused and the current one
    /// kept. Returns how many services are loaded.
    pub fn reload(&self) -> Result<usize, DefinitionErrors> {
        let services = services::load_dir(&self.settings.services_directory)?;
        let n = services.len();
        if let Ok(mut e) = self.entries.write() {
            *e = Arc::new(build(services));
        }
        Ok(n)
    }

    /// The TLS configuration of the upstream connections made after this
    /// call (a reload's truststore); pooled connections keep theirs.
    pub fn set_client_tls(&self, tls: Option<Arc<rustls::ClientConfig>>) {
        self.upstream.set_tls(tls);
    }

    /// The loaded services.
    pub fn services(&self) -> Vec<Service> {
        self.snapshot().iter().map(|e| e.service.clone()).collect()
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Entry>>> {
        self.entries
            .read()
            .map(|e| e.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn find(&self, id: &str) -> Option<Arc<Entry>> {
        self.snapshot()
            .iter()
            .find(|e| e.service.service_id.eq_ignore_ascii_case(id))
            .cloned()
    }

    /// Polls every instance's health URL forever (spawn it).
    pub async fn poll_health(self: Arc<Self>) {
        loop {
            let entries = self.snapshot();
            for e in entries.iter() {
                let Some(path) = &e.service.health_check_relative_url else {
                    continue;
                };
                let path = format!("/{}", path.trim_start_matches('/'));
                for i in &e.instances {
                    let check = async {
                        let response = self
                            .upstream
                            .send(
                                &i.origin,
                                &Method::GET,
                                &path,
                                &HeaderMap::new(),
                                &Bytes::new(),
                            )
                            .await
                            .ok()?;
                        let ok = response.status().is_success();
                        // Read to the end, so that the connection is reused.
                        axum::body::to_bytes(Body::new(response.into_body()), 1 << 20)
                            .await
                            .ok()?;
                        Some(ok)
                    };
                    let ok = tokio::time::timeout(self.settings.connect_timeout, check)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or(false);
                    if i.healthy.swap(ok, Ordering::Relaxed) != ok {
                        tracing::info!(service = %e.service.service_id, instance = %i.origin.base(), healthy = ok, "instance health changed");
                    }
                }
            }
            tokio::time::sleep(self.settings.health_interval).await;
        }
    }
}

/// The service endpoints this module adds, at their full paths (merge into
/// the main router before its layers; the routed fallback is [`routed`]).
pub fn endpoints() -> Router<AppState> {
    Router::new()
        .route(
            "/gateway/api/v1/services",
            refuse_other_methods(get(list_services)),
        )
        .route(
            "/gateway/api/v1/services/reload",
            refuse_other_methods(post(reload_services)),
        )
}

/// The authentication endpoints this module adds, relative to an auth
/// prefix (nest under every one).
pub fn auth_endpoints() -> Router<AppState> {
    Router::new()
        .route("/ticket", refuse_other_methods(post(ticket)))
        .route(
            "/safidt/validate",
            refuse_other_methods(post(validate_safidt)),
        )
}

async fn list_services(
    Extension(routing): Extension<Arc<Routing>>,
    _caller: Permitted<ServicesRead>,
) -> Result<Response, ApiError> {
    Ok(Json(serde_json::json!({ "services": routing.services() })).into_response())
}

async fn reload_services(
    State(state): State<AppState>,
    Extension(routing): Extension<Arc<Routing>>,
    caller: Permitted<ServicesUpdate>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, ApiError> {
    let r = routing.clone();
    let result = tokio::task::spawn_blocking(move || r.reload())
        .await
        .map_err(|_| ApiError::BackendUnavailable)?;
    let kept = routing.services().len();
    // The reload is done (or refused) whether or not the trail takes this.
    state.audit_done(|now| {
        let outcome = result.as_ref().map(|n| *n).map_err(|_| kept);
        audit::services_reloaded(now, outcome, Some(caller.user()), &origin)
    });
    Ok(match result {
        Ok(n) => Json(serde_json::json!({ "loaded": n })).into_response(),
        Err(errors) => {
            tracing::warn!(%errors, "service definitions refused; the previous set stays");
            ApiError::DefinitionsRefused {
                errors: errors.0.iter().map(ToString::to_string).collect(),
                kept,
            }
            .into_response()
        }
    })
}

#[derive(Deserialize)]
struct TicketBody {
    #[serde(rename = "applicationName")]
    application_name: Option<String>,
}

async fn ticket(
    State(state): State<AppState>,
    Extension(routing): Extension<Arc<Routing>>,
    caller: crate::extract::AuthenticatedToken,
    RequestOrigin(origin): RequestOrigin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // A body that cannot be read (too large) is refused in API ML's shape,
    // like any other error, not with axum's plain-text answer.
    let body = body.map_err(|_| ApiError::InvalidInput)?;
    let parsed: TicketBody =
        serde_json::from_slice(&body).map_err(|_| ApiError::TicketNoApplication)?;
    // An application id by RACF's rules, never trimmed into another one.
    let appl = parsed
        .application_name
        .filter(|a| zgate_esm::model::normalize_id(a).is_ok())
        .ok_or(ApiError::TicketNoApplication)?;
    let user = caller.claims().sub.clone();
    let issuer = routing.issuer.clone().ok_or(ApiError::TicketFailed {
        reason: "PassTickets are not available".into(),
        bad_request: false,
    })?;
    let (u, a, o) = (user.clone(), appl.clone(), origin.clone());
    let result = tokio::task::spawn_blocking(move || issuer.passticket(&o, &u, &a))
        .await
        .map_err(|_| ApiError::BackendUnavailable)?;
    match result {
        Ok(ticket) => {
            // A ticket the trail refuses to record is never handed out.
            state.audit(|now| {
                audit::token_issued(now, &user, TokenKind::PassTicket, &origin)
                    .set("appl", appl.as_str())
            })?;
            Ok(Json(serde_json::json!({
                "token": caller.token(),
                "userId": user,
                "applicationName": appl,
                "ticket": ticket,
            }))
            .into_response())
        }
        Err(TicketError::NoProfile(_)) => Err(ApiError::TicketFailed {
            reason: format!("no PTKTDATA profile for application {appl}"),
            bad_request: true,
        }),
        Err(TicketError::Failed(reason)) => Err(ApiError::TicketFailed {
            reason,
            bad_request: false,
        }),
    }
}

#[derive(Deserialize)]
struct IdtBody {
    token: Option<String>,
    applid: Option<String>,
}

async fn validate_safidt(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|_| ApiError::InvalidInput)?;
    let parsed: IdtBody = serde_json::from_slice(&body).map_err(|_| ApiError::InvalidInput)?;
    let token = parsed.token.ok_or(ApiError::InvalidInput)?;
    match state
        .tokens()
        .verify_saf_idt(&token, parsed.applid.as_deref())
    {
        Ok(claims) => Ok(Json(claims).into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The parts of a routed path.
struct Target {
    entry: Arc<Entry>,
    kind: &'static str,
    /// Path on the instance, after the base URL (starts with `/` or empty).
    path: String,
}

fn resolve(routing: &Routing, uri: &Uri) -> Option<Target> {
    let path = uri.path();
    let mut segs = path.trim_start_matches('/').splitn(4, '/');
    let id = segs.next()?;
    let kind: &'static str = match segs.next()? {
        "api" => "api",
        "ui" => "ui",
        "ws" => "ws",
        _ => return None,
    };
    let version = segs.next();
    let rest = segs.next();
    let entry = routing.find(id)?;
    let routes = &entry.service.routes;
    let mut target = String::with_capacity(path.len() + 32);
    // `<kind>/<version>` routes first, then a `<kind>` route that takes the
    // version as part of the path.
    match version.and_then(|v| {
        routes
            .iter()
            .find(|r| r.gateway_url.split_once('/') == Some((kind, v)))
    }) {
        Some(route) => {
            target.push_str(&route.service_relative_url);
            if let Some(rest) = rest {
                target.push('/');
                target.push_str(rest);
            }
        }
        None => {
            let route = routes.iter().find(|r| r.gateway_url == kind)?;
            target.push_str(&route.service_relative_url);
            if !(version.is_none_or(str::is_empty) && rest.is_none()) {
                for part in [version, rest].into_iter().flatten() {
                    target.push('/');
                    target.push_str(part);
                }
            }
        }
    }
    if target.is_empty() {
        target.push('/');
    }
    if let Some(q) = uri.query() {
        target.push('?');
        target.push_str(q);
    }
    Some(Target {
        entry,
        kind,
        path: target,
    })
}

static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for n in listed {
            if !(keep_upgrade && n == header::UPGRADE) {
                headers.remove(n);
            }
        }
    }
    remove_headers(headers, |n| {
        HOP_BY_HOP.contains(n)
            && !(keep_upgrade && (n == header::UPGRADE || n == header::CONNECTION))
    });
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Request bodies up to this size, when their size is known, are held in
/// memory until an instance takes the request, so that they fail over like
/// requests without a body. Larger or unsized bodies stream straight through
/// and go to one instance only (as with nginx's `proxy_request_buffering
/// off`): they are never held whole.
const REPLAYABLE_BODY_LIMIT: u64 = 64 * 1024;

/// A routed request's body, as the attempts at its instances see it.
enum Payload {
    /// Known to be empty.
    Empty,
    /// Small and complete: every attempt sends a copy (a reference count).
    Replayable(Bytes),
    /// Streamed to the first instance that takes the request.
    Streamed(Option<Body>),
}

impl Payload {
    /// Reads a small body of known size; streams anything else.
    async fn of(body: Body, within: Duration) -> Result<Payload, ApiError> {
        use axum::body::HttpBody as _;
        // HTTP/2 has neither Content-Length nor chunking: ask the body itself.
        if body.is_end_stream() || body.size_hint().exact() == Some(0) {
            return Ok(Payload::Empty);
        }
        match body.size_hint().upper() {
            Some(upper) if upper <= REPLAYABLE_BODY_LIMIT => {
                // A client that stops sending gets the time a backend would
                // have had to answer, as if the body were streamed.
                let bytes = tokio::time::timeout(
                    within,
                    axum::body::to_bytes(body, REPLAYABLE_BODY_LIMIT as usize),
                )
                .await
                .map_err(|_| ApiError::InvalidInput)?
                .map_err(|_| ApiError::InvalidInput)?;
                Ok(Payload::Replayable(bytes))
            }
            _ => Ok(Payload::Streamed(Some(body))),
        }
    }
}

/// Refuses a routed path that left its service on the way in (a `..`
/// that removed the service id or the `api|ui|ws` segment; the edge has
/// refused those already when it normalized), or that holds encoded
/// separators the service did not opt in to: with them, a backend
/// that decodes could still find a dot segment, so those are refused even
/// then.
fn stays_in_service(request: &Request, service: Option<&Service>) -> Result<(), ApiError> {
    let computed;
    let target = match request.extensions().get::<NormalizedTarget>() {
        Some(target) => target,
        // The edge leaves no target when the path was normal already.
        None if crate::target::is_plain(request.uri().path()) => return Ok(()),
        None => {
            computed = crate::target::accept(request.uri().path())?;
            &computed
        }
    };
    if target.encoded_separators && !service.is_some_and(|s| s.url_encoded_characters) {
        return Err(ApiError::RejectedTarget {
            why:
                "the path contains an encoded '/', '\\' or '%' and the service does not accept them",
        });
    }
    if target.decodes_to_dot_segment {
        return Err(ApiError::RejectedTarget {
            why: "the path decodes to a dot segment",
        });
    }
    Ok(())
}

/// The fallback handler: routes `/<serviceId>/<api|ui|ws>/...`.
pub async fn routed(
    State(state): State<AppState>,
    Extension(routing): Extension<Arc<Routing>>,
    request: Request,
) -> Response {
    let Some(target) = resolve(&routing, request.uri()) else {
        return match stays_in_service(&request, None) {
            Ok(()) => ApiError::NotFound.into_response(),
            Err(error) => error.into_response(),
        };
    };
    let entry = target.entry.clone();
    let service = &entry.service;
    if let Err(error) = stays_in_service(&request, Some(service)) {
        return error.into_response();
    }
    let (mut parts, body) = request.into_parts();
    // The records of this request name the service that received it.
    parts.extensions.insert(entry.job_name.clone());

    // Authenticate through the one path, unless the service bypasses.
    let mut failure: Option<String> = None;
    let mut caller: Option<Authenticated> = None;
    if service.scheme != Scheme::Bypass || routing.settings.per_service_authorization {
        match authenticate_request(&parts, &state, Credentials::ANY).await {
            // A personal access token authenticates only for the services
            // in its scopes; elsewhere it is no credential at all.
            Ok(c) if !c.allows_service(&service.service_id) => {
                failure = Some(schemes::failure_text(&ApiError::InvalidToken));
            }
            Ok(c) => caller = Some(c),
            Err(e) => failure = Some(schemes::failure_text(&e)),
        }
    }
    if routing.settings.per_service_authorization {
        let Some(c) = &caller else {
            return ApiError::AuthRequired.into_response();
        };
        let resource = format!("APIML.SERVICES.{}", service.service_id.to_ascii_uppercase());
        let origin = audit::origin(&parts.extensions);
        let conditions = state.conditions(parts.extensions.get::<RemoteAddr>(), &origin);
        if let Err(e) = state.require_access(c.user(), &resource, AccessLevel::Read, conditions) {
            return e.into_response();
        }
    }
    if service.scheme != Scheme::Bypass {
        let produced = schemes::apply(
            &state,
            routing.issuer.as_ref(),
            routing.settings.saf_idt_lifetime_seconds,
            service,
            caller.as_ref(),
            &mut parts,
        )
        .await;
        match produced {
            Err(why) => {
                failure.get_or_insert(why);
            }
            // The certificate is the x509 scheme's credential.
            Ok(()) if service.scheme == Scheme::X509 => failure = None,
            Ok(()) => {}
        }
    }
    if let Some(f) = &failure {
        if let Ok(v) = HeaderValue::from_str(f) {
            parts.headers.insert(AUTH_FAILURE_HEADER, v);
        }
    }
    let upgrade = target.kind == "ws" && is_upgrade(&parts.headers);
    strip_hop_by_hop(&mut parts.headers, upgrade);
    parts.headers.remove(header::HOST);
    let request = Request::from_parts(parts, body);
    let mut response = forward(&routing, &target, request, upgrade).await;
    if let Some(f) = &failure {
        if let Ok(v) = HeaderValue::from_str(f) {
            response.headers_mut().insert(AUTH_FAILURE_HEADER, v);
        }
    }
    response
        .extensions_mut()
        .insert(RouteTag::Service(entry.route_label.clone()));
    response
}

async fn forward(
    routing: &Routing,
    target: &Target,
    mut request: Request,
    upgrade: bool,
) -> Response {
    let mut client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let mut payload = if upgrade {
        Payload::Streamed(Some(body))
    } else {
        match Payload::of(body, routing.settings.response_timeout).await {
            Ok(payload) => payload,
            Err(e) => return e.into_response(),
        }
    };
    let service = &target.entry.service.service_id;
    for instance in target.entry.order() {
        let sent = tokio::time::timeout(
            routing.settings.response_timeout,
            attempt(
                routing,
                target,
                instance,
                &parts,
                &mut payload,
                &mut client_upgrade,
            ),
        )
        .await;
        match sent {
            Ok(Ok(response)) => return response,
            Ok(Err(e)) => {
                if let Some(r) = failed(service, instance, e) {
                    return r;
                }
            }
            Err(_) => {
                return ApiError::UpstreamTimeout {
                    service: service.to_owned(),
                }
                .into_response()
            }
        }
    }
    ApiError::ServiceUnavailable {
        service: service.clone(),
    }
    .into_response()
}

/// One attempt at one instance: a body in hand goes on a pooled
/// connection (every attempt can send it), a streamed body or an upgrade on
/// a connection of its own (the body goes to the first instance reached).
async fn attempt(
    routing: &Routing,
    target: &Target,
    instance: &Instance,
    parts: &http::request::Parts,
    payload: &mut Payload,
    client_upgrade: &mut Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, proxy::SendError> {
    let held = match payload {
        Payload::Empty => Bytes::new(),
        Payload::Replayable(bytes) => bytes.clone(),
        Payload::Streamed(body) => {
            return dedicated(routing, target, instance, parts, body, client_upgrade).await
        }
    };
    let response = routing
        .upstream
        .send(
            &instance.origin,
            &parts.method,
            &target.path,
            &parts.headers,
            &held,
        )
        .await?;
    Ok(relayed(response.map(Body::new)))
}

/// The streamed or upgrade half of [`attempt`].
async fn dedicated(
    routing: &Routing,
    target: &Target,
    instance: &Instance,
    parts: &http::request::Parts,
    body: &mut Option<Body>,
    client_upgrade: &mut Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, proxy::SendError> {
    let mut response = routing
        .upstream
        .dedicated(
            &instance.origin,
            &target.path,
            &parts.method,
            &parts.headers,
            body,
        )
        .await?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_up) = client_upgrade.take() {
            let backend_up = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                if let (Ok(c), Ok(b)) = (client_up.await, backend_up.await) {
                    let mut c = hyper_util::rt::TokioIo::new(c);
                    let mut b = hyper_util::rt::TokioIo::new(b);
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut b).await;
                }
            });
            let (p, _) = response.into_parts();
            return Ok(Response::from_parts(p, Body::empty()));
        }
    }
    Ok(relayed(response.map(Body::new)))
}

/// A backend's response on its way to the caller.
fn relayed(mut response: Response) -> Response {
    strip_hop_by_hop(response.headers_mut(), false);
    response
}

/// An attempt that failed: an unreachable instance is marked down and the
/// next one tried (`None`); any other failure is the caller's 502.
fn failed(service: &str, instance: &Instance, error: proxy::SendError) -> Option<Response> {
    match error {
        proxy::SendError::Connect(e) => {
            instance.healthy.store(false, Ordering::Relaxed);
            tracing::warn!(service, instance = %instance.origin.base(), error = %e, "instance unreachable; trying the next");
            None
        }
        proxy::SendError::Failed(e) => {
            tracing::warn!(service, instance = %instance.origin.base(), error = %e, "routed request failed");
            Some(
                ApiError::UpstreamFailed {
                    service: service.to_owned(),
                }
                .into_response(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn routing(yaml: &str) -> Arc<Routing> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.yml"), yaml).unwrap();
        let r = Routing::new(
            RoutingSettings {
                services_directory: dir.path().to_path_buf(),
                ..RoutingSettings::default()
            },
            None,
        )
        .unwrap();
        // The definitions are loaded; the directory may go.
        drop(dir);
        r
    }

    fn path(r: &Routing, uri: &str) -> Option<String> {
        resolve(r, &uri.parse().unwrap()).map(|t| format!("{} {}", t.kind, t.path))
    }

    #[tokio::test]
    async fn paths_map_to_instance_paths() {
        let r = routing(
            "services:\n  - serviceId: svc\n    instanceBaseUrls: [http://h:1/ctx/]\n    routes:\n      - {gatewayUrl: api/v1, serviceRelativeUrl: /api/v1}\n      - {gatewayUrl: ui/v1, serviceRelativeUrl: /}\n      - {gatewayUrl: api, serviceRelativeUrl: /zosmf}\n",
        );
        assert_eq!(
            path(&r, "/svc/api/v1/a/b?q=1").unwrap(),
            "api /api/v1/a/b?q=1"
        );
        assert_eq!(path(&r, "/svc/api/v1").unwrap(), "api /api/v1");
        assert_eq!(path(&r, "/svc/ui/v1/").unwrap(), "ui /");
        assert_eq!(path(&r, "/SVC/api/v2/x").unwrap(), "api /zosmf/v2/x");
        assert_eq!(path(&r, "/svc/api/").unwrap(), "api /zosmf");
        assert_eq!(path(&r, "/svc/api").unwrap(), "api /zosmf");
        assert_eq!(path(&r, "/svc/api/v1/").unwrap(), "api /api/v1/");
        assert_eq!(path(&r, "/svc/api/v3//x").unwrap(), "api /zosmf/v3//x");
        assert!(path(&r, "/svc/ws/v1/x").is_none());
        assert!(path(&r, "/svc/other/v1/x").is_none());
        assert!(path(&r, "/nosuch/api/v1/x").is_none());
    }

    /// What a backend would receive for `raw`, or `None` when the gateway
    /// sends nothing (refused at the edge, in routing, or not found).
    fn backend_path(r: &Routing, raw: &str) -> Option<(String, String)> {
        let target = crate::target::accept(raw).ok()?;
        let uri: Uri = target.path.parse().ok()?;
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = uri.clone();
        request.extensions_mut().insert(target);
        let resolved = resolve(r, &uri)?;
        stays_in_service(&request, Some(&resolved.entry.service)).ok()?;
        Some((resolved.entry.service.service_id.clone(), resolved.path))
    }

    #[tokio::test]
    async fn normalized_paths_reach_the_backend_below_the_route() {
        let r = routing(
            "services:\n  - serviceId: svc\n    instanceBaseUrls: [http://h:1/]\n    routes:\n      - {gatewayUrl: api/v1, serviceRelativeUrl: /root/v1}\n  - serviceId: enc\n    instanceBaseUrls: [http://h:2/]\n    customMetadata: {apiml: {enableUrlEncodedCharacters: 'true'}}\n    routes:\n      - {gatewayUrl: api/v1, serviceRelativeUrl: /eroot/v1}\n",
        );
        let sent = |raw: &str| backend_path(&r, raw).map(|(_, path)| path);
        assert_eq!(
            sent("/svc/api/v1/a/./b/../c").as_deref(),
            Some("/root/v1/a/c")
        );
        assert_eq!(sent("/svc/api/v1/%61%7e").as_deref(), Some("/root/v1/a~"));
        assert_eq!(sent("/svc/api/v1/../v1/x").as_deref(), Some("/root/v1/x"));
        assert_eq!(sent("/svc/api/v1/a%2Fb"), None);
        assert_eq!(
            sent("/enc/api/v1/a%2fb").as_deref(),
            Some("/eroot/v1/a%2Fb")
        );
        assert_eq!(sent("/enc/api/v1/a%2F..%2Fb"), None);
        assert_eq!(sent("/svc/api/../../x"), None);
        assert_eq!(sent("/svc/api/v1/..;/x"), None);
        assert_eq!(sent("/nosuch%2f/api/v1/x"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// For any target a client sends, the backend's path is below the
        /// service's route (its `serviceRelativeUrl`) and has no dot or empty
        /// segment even when fully decoded; or nothing is sent.
        #[test]
        fn the_backend_path_never_leaves_the_service(
            start in proptest::sample::select(vec!["/svc/api/v1/", "/enc/api/v1/", "/svc/", "/", "/enc/ui/"]),
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%25", "%252e", ";", ";x",
                "a", "api", "v1", "svc", "enc", "gateway", "\\", "%00", "%0a", "%41", "//", "~", "%7e",
            ]), 0..14),
        ) {
            let r = routing(
                "services:\n  - serviceId: svc\n    instanceBaseUrls: [http://h:1/]\n    routes:\n      - {gatewayUrl: api/v1, serviceRelativeUrl: /root/v1}\n  - serviceId: enc\n    instanceBaseUrls: [http://h:2/]\n    customMetadata: {apiml: {enableUrlEncodedCharacters: true}}\n    routes:\n      - {gatewayUrl: api/v1, serviceRelativeUrl: /eroot/v1}\n      - {gatewayUrl: ui, serviceRelativeUrl: /eui}\n",
            );
            let raw = format!("{start}{}", parts.concat());
            if let Some((service, path)) = backend_path(&r, &raw) {
                let root = match (service.as_str(), path.starts_with("/eui")) {
                    ("svc", _) => "/root/v1",
                    (_, true) => "/eui",
                    _ => "/eroot/v1",
                };
                proptest::prop_assert!(
                    path == root || path.starts_with(&format!("{root}/")),
                    "{raw:?} reached {service} as {path:?}"
                );
                let decoded = path
                    .replace("%2F", "/")
                    .replace("%5C", "/")
                    .replace("%2E", ".")
                    .replace('\\', "/");
                let below = &decoded[root.len()..];
                let segments: Vec<&str> = below.split('/').skip(1).collect();
                for (i, segment) in segments.iter().enumerate() {
                    let name = segment.split(';').next().unwrap_or(segment);
                    proptest::prop_assert!(
                        name != "." && name != "..",
                        "{raw:?} reached {service} as {path:?}"
                    );
                    proptest::prop_assert!(
                        !segment.is_empty() || i + 1 == segments.len() || service == "enc",
                        "{raw:?} reached {service} as {path:?}"
                    );
                }
                proptest::prop_assert!(
                    !path.bytes().any(|b| b.is_ascii_control()),
                    "{raw:?} reached {service} as {path:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn only_small_sized_bodies_are_held_for_a_retry() {
        let within = Duration::from_secs(5);
        let kind = |p: &Payload| match p {
            Payload::Empty => "empty",
            Payload::Replayable(_) => "replayable",
            Payload::Streamed(_) => "streamed",
        };
        let empty = Payload::of(Body::empty(), within).await.unwrap();
        assert_eq!(kind(&empty), "empty");
        let small = Payload::of(Body::from(vec![7u8; 1000]), within)
            .await
            .unwrap();
        assert!(matches!(&small, Payload::Replayable(b) if b.len() == 1000));
        let limit = usize::try_from(REPLAYABLE_BODY_LIMIT).unwrap();
        let large = Payload::of(Body::from(vec![7u8; limit + 1]), within)
            .await
            .unwrap();
        assert_eq!(kind(&large), "streamed");
        // Chunked (no size known): streamed, never read ahead.
        use http_body_util::BodyExt as _;
        let chunked = http_body_util::Full::new(Bytes::from_static(b"x")).map_frame(|f| f);
        let unsized_body = Payload::of(Body::new(chunked), within).await.unwrap();
        assert_eq!(kind(&unsized_body), "streamed");
    }

    #[test]
    fn every_inbound_credential_is_stripped_and_other_cookies_kept() {
        let req = http::Request::get("/x")
            .header("authorization", "Basic QTpC")
            .header("private-token", "pat")
            .header("x-saf-token", "idt")
            .header("client-cert", "c")
            .header("x-certificate-public", "p")
            .header("x-certificate-whatever", "w")
            .header(
                "cookie",
                "apimlAuthenticationToken=a; apimlAuthenticationToken.2=b; personalAccessToken=c; jwtToken=d; LtpaToken2=e; keep=1",
            )
            .header("cookie", "also=2")
            .header("accept", "text/plain")
            .body(())
            .unwrap();
        let (mut parts, _) = req.into_parts();
        schemes::strip_credentials(&mut parts);
        let mut names: Vec<&str> = parts.headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "cookie"]);
        assert_eq!(parts.headers["cookie"], "keep=1; also=2");
    }
}
