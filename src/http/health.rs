//! Liveness (`/healthz`), readiness (`/readyz`) and the JSON-LD contexts: no credential needed.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::representation::{Format, context_document};

/// The open routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/contexts/{name}", get(context))
}

async fn healthz() -> Response {
    Format::Json.respond(StatusCode::OK, &json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await?;
    Ok(Format::Json.respond(StatusCode::OK, &json!({ "status": "ready" })))
}

async fn context(Path(name): Path<String>) -> Result<Response, ApiError> {
    let document = context_document(&name).ok_or(ApiError::NotFound)?;
    Ok(Format::JsonLd.respond(StatusCode::OK, &document))
}
