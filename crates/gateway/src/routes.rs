//! The edge: [`Gateway`], which the server calls for every request, and
//! the map of the gateway's URLs (every endpoint and alias) onto the
//! endpoint modules and routing.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Router;
use http::{header, HeaderMap, HeaderValue, Method};
use tower::ServiceExt as _;

use crate::audit::{RequestIds, REQUEST_ID_HEADER};
use crate::error::ApiError;
use crate::headers::remove_headers;
use crate::metrics::{record, tag_route};
use crate::peer::RemoteAddr;
use crate::state::AppState;
use crate::target::Target;

// Other crates name the document at this path.
pub use crate::ops_routes::OPENAPI_YAML;

/// The prefixes every auth endpoint is served under.
pub const AUTH_PREFIXES: [&str; 2] = ["/gateway/api/v1/auth", "/zaas/api/v1/auth"];
/// The API Catalog alias serves login and logout only.
pub const CATALOG_PREFIX: &str = "/apicatalog/api/v1/auth";

/// Request bodies on these endpoints are small JSON documents.
const BODY_LIMIT: usize = 64 * 1024;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Gateway {
    router_with(state, None)
}

/// The whole HTTP surface, with routing to services when given.
pub fn router_with(
    state: AppState,
    routing: Option<std::sync::Arc<crate::routing::Routing>>,
) -> Gateway {
    let mut auth = crate::auth_routes::routes().merge(crate::pat_routes::routes());
    if routing.is_some() {
        auth = auth.merge(crate::routing::auth_endpoints());
    }
    let mut app = Router::new();
    for prefix in AUTH_PREFIXES {
        app = app.nest(prefix, auth.clone());
    }
    let app = app
        .nest(CATALOG_PREFIX, crate::auth_routes::catalog_routes())
        .merge(crate::auth_routes::saf_check_routes())
        .merge(crate::oidc::login::routes(state.oidc_login_key()))
        .merge(crate::ops_routes::routes());
    // The service endpoints, and routed traffic as the fallback.
    let app = match &routing {
        Some(routing) => app
            .merge(crate::routing::endpoints())
            .fallback(crate::routing::routed)
            .layer(Extension(routing.clone())),
        None => app.fallback(not_found),
    };
    // Outside-in: the edge ([`Gateway::serve`]) → body limit → routes
    // (endpoints are tagged with their template for the metrics).
    let endpoints = app
        .route_layer(middleware::from_fn(tag_route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state.clone());
    Gateway {
        state,
        routing,
        endpoints,
        request_ids: std::sync::Arc::new(RequestIds::new()),
    }
}

/// The first path segments of the gateway's own endpoints. A request whose
/// path starts otherwise can only be a routed service's (or nobody's), and
/// the edge hands it to routing directly rather than through the router's
/// matching, which would only fall back to routing anyway.
const ENDPOINT_SEGMENTS: [&str; 4] = ["gateway", "zaas", "apicatalog", "application"];

/// Whether the router may have an endpoint for `path` (axum matches paths
/// case-sensitively, and so does this).
fn may_be_endpoint(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    ENDPOINT_SEGMENTS.contains(&first)
}

/// The gateway's whole HTTP surface: what the server calls for every
/// request, whichever protocol and parser it came through.
#[derive(Clone)]
pub struct Gateway {
    state: AppState,
    routing: Option<std::sync::Arc<crate::routing::Routing>>,
    /// The gateway's own endpoints (and routing's), behind the edge.
    endpoints: Router,
    /// Every request's id (the access log, the audit records, the
    /// `X-Request-Id` response header).
    request_ids: std::sync::Arc<RequestIds>,
}

impl Gateway {
    /// The edge every request passes, endpoints and routed services alike,
    /// in this order:
    /// 0. the request gets its id ([`crate::audit::RequestId`]), zgate's own: a client's
    ///    `X-Request-Id` is replaced, so neither a backend nor the trail
    ///    ever takes a client's word for which request it was;
    /// 1. the target is normalized ([`crate::target`]); what cannot be
    ///    normalized safely is refused before anything routes on it;
    /// 2. identity headers only the gateway may set are removed (forgery),
    ///    in every spelling;
    /// 3. the request is served: a routed service's path goes to routing
    ///    directly, anything else (the gateway's own endpoints, which take
    ///    JSON bodies only) through the endpoints' router;
    /// 4. an [`ApiError`] the handler left is rendered into the documented
    ///    error body, which quotes the path;
    /// 5. the request is counted and timed, with its final status, and
    ///    the response names the request (`X-Request-Id`).
    ///
    /// Plain code, not middleware: every axum layer costs a boxed future and
    /// a clone of the routes per request, and these steps are one unit.
    pub async fn serve(&self, mut request: Request) -> Response {
        let started = std::time::Instant::now();
        let method = request.method().clone();
        let uri = request.uri().clone();
        let id = self.request_ids.next();
        let id_header = HeaderValue::from_str(&id.0).ok();
        match &id_header {
            Some(value) => request
                .headers_mut()
                .insert(REQUEST_ID_HEADER, value.clone()),
            None => request.headers_mut().remove(REQUEST_ID_HEADER),
        };
        let remote = request.extensions().get::<RemoteAddr>().copied();
        request.extensions_mut().insert(id.clone());
        let response = match normalize_target(&mut request) {
            Err(error) => error.into_response(),
            Ok(target) => {
                strip_forgeable_headers(request.headers_mut());
                match &self.routing {
                    Some(routing) if !may_be_endpoint(request.uri().path()) => {
                        if let Some(target) = target {
                            request.extensions_mut().insert(target);
                        }
                        crate::routing::routed(
                            State(self.state.clone()),
                            Extension(routing.clone()),
                            request,
                        )
                        .await
                    }
                    _ => match endpoint_request_allowed(&request, target.as_ref()) {
                        Err(error) => error.into_response(),
                        Ok(()) => match self.endpoints.clone().oneshot(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        },
                    },
                }
            }
        };
        let mut response = crate::error::render_error(response, uri.path());
        record(
            self.state.metrics(),
            &method,
            started,
            &response,
            &id,
            remote.map(|RemoteAddr(addr)| addr),
        );
        // A backend's own X-Request-Id is its business; the caller gets
        // the id the access log and the audit trail know.
        if let Some(value) = id_header {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }
}

impl<B> tower::Service<http::Request<B>> for Gateway
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let gateway = self.clone();
        Box::pin(async move { Ok(gateway.serve(request.map(Body::new)).await) })
    }
}

/// Normalizes the request target in place (path only; the query is
/// passed as it came) and returns what routing needs to know of it; `None`
/// when the path was normal already (most are: nothing is allocated for
/// them).
fn normalize_target(request: &mut Request) -> Result<Option<Target>, ApiError> {
    if crate::target::is_plain(request.uri().path()) {
        return Ok(None);
    }
    let target = crate::target::accept(request.uri().path())?;
    if target.path != request.uri().path() {
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{}?{query}", target.path),
            None => target.path.clone(),
        };
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query =
            Some(
                path_and_query
                    .parse()
                    .map_err(|_| ApiError::RejectedTarget {
                        why: "the path is not valid",
                    })?,
            );
        *request.uri_mut() =
            http::Uri::from_parts(parts).map_err(|_| ApiError::RejectedTarget {
                why: "the path is not valid",
            })?;
    }
    Ok(Some(target))
}

/// What the gateway's own endpoints refuse before any handler runs:
/// - encoded separators in the path (no endpoint has them);
/// - a body that is not JSON on a method that changes state: every such
///   endpoint takes JSON or nothing, and a cross-site HTML form can only
///   send `application/x-www-form-urlencoded`, `multipart/form-data` or
///   `text/plain` (the session cookie is `SameSite=Strict` besides).
fn endpoint_request_allowed(request: &Request, target: Option<&Target>) -> Result<(), ApiError> {
    if target.is_some_and(|t| t.encoded_separators) {
        return Err(ApiError::RejectedTarget {
            why: "the path contains an encoded '/', '\\' or '%'",
        });
    }
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let mut types = request.headers().get_all(header::CONTENT_TYPE).iter();
    match (types.next(), types.next()) {
        (Some(value), None) if is_json(value) => Ok(()),
        (None, _) if !has_body(request) => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// `application/json`, any case, with or without parameters.
fn is_json(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("");
    essence
        .trim_matches([' ', '\t'])
        .eq_ignore_ascii_case("application/json")
}

/// Whether a request may carry body bytes.
fn has_body(request: &Request) -> bool {
    use axum::body::HttpBody as _;
    let body = request.body();
    !(body.is_end_stream() || body.size_hint().exact() == Some(0))
}

/// Headers only the gateway asserts (to routed services): a client never
/// sends them, in any spelling.
fn is_identity_header(canonical: &str) -> bool {
    canonical.starts_with("x-certificate-")
        || canonical == "client-cert"
        || canonical == "x-zowe-auth-failure"
}

/// Headers that carry a credential.
fn is_credential_header(canonical: &str) -> bool {
    matches!(
        canonical,
        "authorization" | "proxy-authorization" | "private-token" | "x-saf-token" | "cookie"
    )
}

/// Removes the identity headers only the gateway may set, and any
/// identity or credential header spelled with `_` for `-`: CGI, WSGI and
/// some Java containers read `X_Certificate_CommonName` as
/// `X-Certificate-CommonName`, so a backend must never see one. (Names
/// arrive lower-case: HTTP/2 requires it, and hyper folds HTTP/1.1 names.)
fn strip_forgeable_headers(headers: &mut HeaderMap) {
    remove_headers(headers, |name| {
        let name = name.as_str();
        if name.contains('_') {
            let canonical = name.replace('_', "-");
            is_identity_header(&canonical) || is_credential_header(&canonical)
        } else {
            is_identity_header(name)
        }
    });
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::middleware::Next;
    use axum::routing::get;

    #[test]
    fn the_openapi_document_is_valid_yaml_with_every_route() {
        let keys = zgate_config::raw::parse(OPENAPI_YAML).expect("valid YAML, no duplicate keys");
        assert!(keys.contains_key("openapi"));
        let paths = [
            "/gateway/api/v1/auth/login.post.summary",
            "/gateway/api/v1/auth/logout.post.summary",
            "/gateway/api/v1/auth/query.get.summary",
            "/gateway/api/v1/auth/refresh.post.summary",
            "/gateway/api/v1/auth/keys/public.get.summary",
            "/gateway/api/v1/auth/keys/public/all.get.summary",
            "/gateway/api/v1/auth/keys/public/current.get.summary",
            "/gateway/auth/check.post.summary",
            "/application/health.get.summary",
            "/application/metrics.get.summary",
            "/gateway/api-docs.get.summary",
            "/gateway/api/v1/auth/access-token/generate.post.summary",
            "/gateway/api/v1/auth/access-token/validate.post.summary",
            "/gateway/api/v1/auth/access-token/revoke.delete.summary",
            "/gateway/api/v1/auth/access-token/revoke/tokens.delete.summary",
            "/gateway/api/v1/auth/access-token/revoke/tokens/user.delete.summary",
            "/gateway/api/v1/auth/access-token/revoke/tokens/scope.delete.summary",
            "/gateway/api/v1/auth/access-token/evict.delete.summary",
            "/gateway/api/v1/auth/oidc-token/validate.post.summary",
            "/gateway/oauth2/authorization/{id}.get.summary",
            "/gateway/login/oauth2/code/{id}.get.summary",
        ];
        for path in paths {
            assert!(keys.contains_key(&format!("paths.{path}")), "{path}");
        }
    }

    #[test]
    fn every_endpoint_path_starts_with_an_endpoint_segment() {
        // The edge sends every other path straight to routing: an endpoint
        // outside ENDPOINT_SEGMENTS would never be reached.
        let keys = zgate_config::raw::parse(OPENAPI_YAML).unwrap();
        let mut seen = 0;
        for key in keys.keys() {
            let Some(rest) = key.strip_prefix("paths./") else {
                continue;
            };
            let path = format!("/{}", rest.split('.').next().unwrap());
            if path.starts_with("/{serviceId}") {
                // The routed services' template, not an endpoint.
                continue;
            }
            assert!(may_be_endpoint(&path), "{path}");
            seen += 1;
        }
        assert!(seen > 20, "{seen} paths");
        for prefix in AUTH_PREFIXES.iter().chain([&CATALOG_PREFIX]) {
            assert!(may_be_endpoint(prefix), "{prefix}");
        }
        assert!(!may_be_endpoint("/zosmf/api/v1/info"));
        assert!(!may_be_endpoint("/Gateway/api/v1/auth/login"));
        assert!(!may_be_endpoint("/"));
    }

    #[tokio::test]
    async fn forged_identity_headers_never_reach_a_handler() {
        let echo = Router::new()
            .route(
                "/echo",
                get(|headers: HeaderMap| async move {
                    let mut names: Vec<_> =
                        headers.keys().map(|k| k.as_str().to_string()).collect();
                    names.sort();
                    names.join(",")
                }),
            )
            .layer(middleware::from_fn(
                |mut r: Request, next: Next| async move {
                    strip_forgeable_headers(r.headers_mut());
                    next.run(r).await
                },
            ));
        let request = http::Request::builder()
            .uri("/echo")
            .header("X-Certificate-Public", "MIIB")
            .header("X-Certificate-DistinguishedName", "CN=ADMIN")
            .header("X-Certificate-CommonName", "ADMIN")
            .header("X-Certificate-Anything", "x")
            .header("Client-Cert", ":MIIB:")
            .header("X_Certificate_CommonName", "ADMIN")
            .header("x-certificate_distinguishedname", "CN=ADMIN")
            .header("CLIENT_CERT", ":MIIB:")
            .header("X_Zowe_Auth_Failure", "x")
            .header("Private_Token", "t")
            .header("X_SAF_Token", "t")
            .header("Proxy_Authorization", "Basic x")
            .header("X-Zowe-Auth-Failure", "x")
            .header("X_Custom_Name", "kept")
            .header("X-Other", "kept")
            .body(Body::empty())
            .unwrap();
        let response = echo.oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"x-other,x_custom_name");
    }
}
