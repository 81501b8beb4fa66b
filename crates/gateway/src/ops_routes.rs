//! The operations endpoints: health, Prometheus metrics, and the OpenAPI
//! document of the whole surface.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};

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
    let up = esm.is_ok();
    if let Err(error) = &esm {
        tracing::warn!(%error, "health: ESM unreachable");
    }
    let status = if up { "UP" } else { "DOWN" };
    let body = serde_json::json!({
        "status": status,
        "components": {
            "esm": { "status": status, "details": { "store": if up { "reachable" } else { "unreachable" } } },
            "tokens": { "status": "UP", "details": { "signingKey": state.tokens().current_key().kid } },
        }
    });
    let mut response = axum::Json(body).into_response();
    if !up {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(state.tokens().signature_checks());
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
