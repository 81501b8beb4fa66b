//! The operations endpoints: health, Prometheus metrics, and the OpenAPI
//! document of the whole surface.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};

use zgate_audit::OnFailure;

use crate::error::refuse_other_methods;
use crate::state::AppState;

/// The OpenAPI document of every endpoint the gateway serves.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// The operations endpoints, at their full paths.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/application/health", refuse_other_methods(get(health)))
        .route("/application/metrics", refuse_other_methods(get(metrics)))
        .route("/gateway/api-docs", refuse_other_methods(get(api_docs)))
}

async fn health(State(state): State<AppState>) -> Response {
    let security = state.security().clone();
    let esm = tokio::task::spawn_blocking(move || security.health())
        .await
        .map_err(|e| crate::security::BackendError(e.to_string()))
        .and_then(|r| r);
    let esm_up = esm.is_ok();
    if let Err(error) = &esm {
        tracing::warn!(%error, "health: ESM unreachable");
    }
    let status = |up: bool| if up { "UP" } else { "DOWN" };
    let mut esm_details =
        serde_json::json!({ "store": if esm_up { "reachable" } else { "unreachable" } });
    if let (Some(sync), Some(details)) =
        (state.security().store_sync(), esm_details.as_object_mut())
    {
        details.insert("stateAgeMs".into(), sync.state_age_ms.into());
        details.insert("journalEntriesReplayed".into(), sync.replayed.into());
        details.insert("fullReloads".into(), sync.reloads.into());
    }
    let mut components = serde_json::json!({
        "esm": { "status": status(esm_up), "details": esm_details },
        "tokens": { "status": "UP", "details": { "signingKey": state.tokens().current_key().kid } },
    });
    let mut up = esm_up;
    if let Some(trail) = state.audit_trail() {
        let audit = trail.health();
        // Under `refuse` a trail that cannot write refuses logons, checks
        // and tokens, so zgate is down for its clients; under `count` it
        // grants them unrecorded and keeps serving, and only the component
        // (and the dropped count) says so.
        if audit.on_failure == OnFailure::Refuse {
            up &= audit.is_up();
        }
        let mut details = serde_json::json!({
            "policy": audit.on_failure.as_str(),
            "queued": audit.queued,
            "written": audit.written,
            "dropped": audit.dropped,
        });
        if let (Some(error), Some(details)) = (&audit.error, details.as_object_mut()) {
            details.insert("error".into(), error.as_str().into());
        }
        if let Some(components) = components.as_object_mut() {
            components.insert(
                "audit".into(),
                serde_json::json!({ "status": status(audit.is_up()), "details": details }),
            );
        }
    }
    let body = serde_json::json!({ "status": status(up), "components": components });
    let mut response = axum::Json(body).into_response();
    if !up {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    let audit = state.audit_trail().map(|trail| trail.health());
    let mut text = state
        .metrics()
        .render(state.tokens().signature_checks(), audit.as_ref());
    if let Some(sync) = state.security().store_sync() {
        text.push_str(&crate::metrics::render_store_sync(&sync));
    }
    if let Some(tls) = state.tls_status() {
        text.push_str(&tls.render());
    }
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn api_docs() -> Response {
    let mut response = Response::new(Body::from(OPENAPI_YAML));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    response
}
