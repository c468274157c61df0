//! The gateway: Portcullis guarding HTTP APIs it does not own.
//!
//! Two ways in, one decision:
//! - `forward_auth` — `/auth/verify` for nginx `auth_request`, Traefik `ForwardAuth` and Caddy
//!   `forward_auth`, and `/auth/envoy/…` for Envoy `ext_authz`: another proxy asks, Portcullis
//!   answers yes (2xx with identity headers) or no (the 400/401/403/503 of DESIGN §3).
//! - `proxy` — the `[[routes]]` of the configuration: Portcullis itself forwards the request,
//!   over upstream connections from `upstream`, a pool driven by the tasks that use it.
//!
//! Both accept API tokens only, never user sessions: a session is for the web admin and the
//! REST API, and a gateway that took it would let a browser credential reach every API behind
//! it. `path` is the normaliser both use; `headers` the hop-by-hop and identity header rules;
//! `route` the configuration; `framing` refuses requests with ambiguous framing (smuggling).

mod forward_auth;
pub mod framing;
pub mod headers;
pub mod path;
mod proxy;
pub mod route;
mod upstream;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, Method};

use crate::auth::access::has_method_override;
use crate::auth::bearer::{header_credential, refuse_query_token};
use crate::auth::{Grant, Quota, Rejection};
use crate::domain::Access;
use crate::http::AppState;
use crate::http::error::ApiError;

pub use forward_auth::{VERIFY_PATH, serve_verify};
pub use proxy::{Proxy, new as new_proxy};
pub use route::{Route, RouteAccess, RouteConfig};

/// The API token a gateway request was allowed with.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: i64,
    pub name: Arc<str>,
    pub access: Access,
    /// The token's rate-limit state after this request, for the `RateLimit-*` headers.
    pub quota: Option<Quota>,
}

/// The forward-auth endpoints, to merge into the application's router.
pub fn router(state: &AppState) -> Router<AppState> {
    forward_auth::router(state)
}

/// The reverse proxy, the application's fallback: requests no Portcullis route matched.
pub fn proxy(proxy: Arc<Proxy>) -> Router {
    proxy::router(proxy)
}

/// Authenticates a gateway request and applies `mode` to `method`. `query` is the raw query
/// string of the request being judged (a token there is refused, `_method` is an override).
/// `Ok(None)` only for a public route. `client` is the address failed authentications are
/// counted against (none for forward-auth, whose peer is the proxy in front).
pub async fn authorise(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    query: Option<&str>,
    method: &Method,
    mode: RouteAccess,
) -> Result<Option<Identity>, ApiError> {
    if mode == RouteAccess::Public {
        return Ok(None);
    }
    // Unlike the API, the gateway lets form bodies through: they belong to the guarded API.
    let credential = refuse_query_token(query).and_then(|()| header_credential(headers));
    let grant = crate::http::extract::verify_credential(state, credential, client).await?;
    let Grant::Token {
        id, ref name, access, ..
    } = grant
    else {
        return Err(ApiError::InvalidToken(Rejection::SessionNotAccepted));
    };
    let quota = state.verifier.admit(&grant).map_err(ApiError::RateLimited)?;
    let decision = mode.decide(access, method, has_method_override(headers, query));
    state.verifier.count(&grant, decision.is_ok());
    decision.map_err(|needed| crate::http::extract::insufficient_scope(state, needed))?;
    Ok(Some(Identity {
        id,
        name: name.clone(),
        access,
        quota,
    }))
}
