//! Liveness (`/healthz`), readiness (`/readyz`), metrics (`/metrics`) and the JSON-LD contexts.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::representation::{Format, context_document};
use crate::auth::Endpoint;

/// The open routes; `/metrics` is behind a token when the configuration says so.
pub fn router(state: &AppState) -> Router<AppState> {
    let metrics = if state.settings.metrics_require_token {
        get(metrics).route_layer(state.guard(Endpoint::TokenSelf))
    } else {
        get(metrics)
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", metrics)
        .route("/api/contexts/{name}", get(context))
}

async fn healthz() -> Response {
    Format::Json.respond(StatusCode::OK, &json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await?;
    Ok(Format::Json.respond(StatusCode::OK, &json!({ "status": "ready" })))
}

/// Prometheus text exposition format 0.0.4.
async fn metrics(State(state): State<AppState>) -> Response {
    let verifier = &state.verifier;
    let body = verifier
        .metrics()
        .render(state.store.pool_usage(), verifier.cache().len());
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn context(Path(name): Path<String>) -> Result<Response, ApiError> {
    let document = context_document(&name).ok_or(ApiError::NotFound)?;
    Ok(Format::JsonLd.respond(StatusCode::OK, &document))
}
