//! The HTTP surface: router, shared state, and one module per resource.

pub mod error;
pub mod extract;
mod health;
mod leaks;
pub(crate) mod observe;
pub mod openapi;
pub mod representation;
pub mod serve;
pub(crate) mod sessions;
mod size_limits;
pub(crate) mod tokens;
pub(crate) mod usage;
pub(crate) mod users;
pub(crate) mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{self, FromFnLayer};

use crate::auth::{Endpoint, Verifier};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;
use error::ApiError;

pub use tokens::TokenView;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub verifier: Arc<Verifier>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
}

/// The authentication layer for one endpoint.
type Guard = FromFnLayer<
    fn(
        axum::extract::State<(AppState, Endpoint)>,
        axum::extract::Request,
        middleware::Next,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<axum::response::Response, ApiError>> + Send>>,
    (AppState, Endpoint),
    (axum::extract::State<(AppState, Endpoint)>, axum::extract::Request),
>;

impl AppState {
    /// Authentication and access rules for `endpoint`, to put on its routes.
    pub fn guard(&self, endpoint: Endpoint) -> Guard {
        middleware::from_fn_with_state((self.clone(), endpoint), |state, request, next| {
            Box::pin(extract::authenticate(state, request, next))
        })
    }
}

/// The whole application.
pub fn router(state: AppState, proxy: Arc<crate::gateway::Proxy>) -> Router {
    Router::new()
        .merge(health::router(&state))
        .merge(openapi::router())
        .merge(users::router(&state))
        .merge(tokens::router(&state))
        .merge(usage::router(&state))
        .merge(leaks::router(&state))
        .merge(sessions::router(&state))
        .merge(webhooks::router(&state))
        .merge(crate::gateway::router(&state))
        .fallback_service(crate::gateway::proxy(proxy))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(axum::Extension(extract::BodyLimit(state.settings.max_body_bytes)))
        .layer(middleware::from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}
