//! Forward-auth: another proxy asks whether a request may pass.
//!
//! `/auth/verify` (nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`) reads the
//! original method and URI from `X-Original-Method` / `X-Forwarded-Method` and
//! `X-Original-URI` / `X-Forwarded-Uri`, and answers `204` with no body when allowed (nginx
//! drops its keep-alive connection to the auth service when the answer has a body).
//! `?access=read|full|method` on its own URL picks the rule (default `method`).
//!
//! `/auth/envoy/…` (Envoy `ext_authz`, HTTP service, `path_prefix: /auth/envoy`) judges the
//! method and path Envoy forwards as they are, and answers `200` when allowed, the only status
//! Envoy takes as a yes.

use std::borrow::Cow;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::path::normalise_strict;
use super::{RouteAccess, authorise, headers};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::observe::observed;

const ORIGINAL_METHOD: [HeaderName; 2] = [
    HeaderName::from_static("x-original-method"),
    HeaderName::from_static("x-forwarded-method"),
];
const ORIGINAL_URI: [HeaderName; 2] = [
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-uri"),
];
/// Where Envoy's `path_prefix` puts the original path.
const ENVOY_PREFIX: &str = "/auth/envoy";

/// The forward-auth path. It is answered by [`serve_verify`], called from the dispatch in front
/// of the router (`crate::http::serve`), not by a route: it is the request a forward-auth proxy
/// sends for every request it guards (issue #8).
pub const VERIFY_PATH: &str = "/auth/verify";

pub fn router(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route(ENVOY_PREFIX, any(envoy))
        .route("/auth/envoy/", any(envoy))
        .route("/auth/envoy/{*rest}", any(envoy))
}

/// Serves a request for [`VERIFY_PATH`], observed like every routed request (request id, log
/// line, metrics, head checks); its body, if any, is never read.
pub async fn serve_verify<B>(state: &AppState, request: Request<B>) -> Response {
    observed(state, request, Cow::Borrowed(VERIFY_PATH), |request| async move {
        verify(state, request.uri(), request.headers())
            .await
            .unwrap_or_else(IntoResponse::into_response)
    })
    .await
}

/// `/auth/verify`: judges the request the headers describe.
async fn verify(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Result<Response, ApiError> {
    let mode = mode_from_query(uri.query())?;
    let method = one_of(headers, &ORIGINAL_METHOD)?.ok_or_else(|| {
        ApiError::BadRequest("The request needs an X-Original-Method or X-Forwarded-Method header.".into())
    })?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::BadRequest("The original method is not a valid HTTP method.".into()))?;
    let original = one_of(headers, &ORIGINAL_URI)?
        .ok_or_else(|| ApiError::BadRequest("The request needs an X-Original-URI or X-Forwarded-Uri header.".into()))?;
    let (path, query) = split_uri(original)?;
    check_path(path)?;
    let identity = authorise(state, None, headers, query, &method, mode).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(identity) = identity {
        headers::insert_identity(response.headers_mut(), &identity);
        if let Some(quota) = &identity.quota {
            quota.write_headers(response.headers_mut());
        }
    }
    Ok(response)
}

/// `/auth/envoy/…`: judges this very request, its path without the prefix.
async fn envoy(State(state): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let path = request.uri().path().strip_prefix(ENVOY_PREFIX).unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    check_path(path)?;
    let identity = authorise(
        &state,
        None,
        request.headers(),
        request.uri().query(),
        request.method(),
        RouteAccess::Method,
    )
    .await?;
    let mut response = StatusCode::OK.into_response();
    if let Some(identity) = identity {
        headers::insert_identity(response.headers_mut(), &identity);
        if let Some(quota) = &identity.quota {
            quota.write_headers(response.headers_mut());
        }
    }
    Ok(response)
}

/// The forward-auth service cannot know which prefix the proxy matched, so a path that
/// normalisation would change in meaning (any `.` or `..`, encoded slashes, NUL…) is refused.
fn check_path(path: &str) -> Result<(), ApiError> {
    normalise_strict(path)
        .map(drop)
        .map_err(|e| ApiError::BadRequest(format!("Invalid original path: {e}.")))
}

/// The value of the first of `names` present; two different values → 400.
fn one_of<'h>(headers: &'h HeaderMap, names: &[HeaderName]) -> Result<Option<&'h str>, ApiError> {
    let mut found: Option<&str> = None;
    for name in names {
        for value in headers.get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| ApiError::BadRequest(format!("The {name} header is not ASCII.")))?;
            match found {
                Some(previous) if previous != value => {
                    return Err(ApiError::BadRequest(format!(
                        "The original request is described twice, differently ({name})."
                    )));
                }
                _ => found = Some(value),
            }
        }
    }
    Ok(found)
}

/// Splits an origin-form (or absolute-form) request target into path and query.
fn split_uri(uri: &str) -> Result<(&str, Option<&str>), ApiError> {
    let target = if uri.starts_with('/') {
        uri
    } else {
        // absolute-form: skip `scheme://authority`.
        let rest = uri
            .split_once("://")
            .map(|(_, rest)| rest)
            .ok_or_else(|| ApiError::BadRequest("The original URI is not a request target.".into()))?;
        rest.find('/').map_or("/", |at| &rest[at..])
    };
    let target = target.split('#').next().unwrap_or(target);
    Ok(match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    })
}

fn mode_from_query(query: Option<&str>) -> Result<RouteAccess, ApiError> {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("access="))
    else {
        return Ok(RouteAccess::Method);
    };
    match RouteAccess::parse(value) {
        Some(RouteAccess::Public) | None => Err(ApiError::BadRequest(
            "`access` must be `method`, `read` or `full`.".into(),
        )),
        Some(mode) => Ok(mode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets_split_into_path_and_query() {
        assert_eq!(split_uri("/a/b?x=1").unwrap(), ("/a/b", Some("x=1")));
        assert_eq!(split_uri("/a#frag").unwrap(), ("/a", None));
        assert_eq!(split_uri("http://h:1/a?q").unwrap(), ("/a", Some("q")));
        assert_eq!(split_uri("http://h:1").unwrap(), ("/", None));
        assert!(split_uri("a/b").is_err());
    }

    #[test]
    fn the_rule_comes_from_the_access_parameter() {
        assert_eq!(mode_from_query(None).unwrap(), RouteAccess::Method);
        assert_eq!(mode_from_query(Some("access=full")).unwrap(), RouteAccess::Full);
        assert!(mode_from_query(Some("access=public")).is_err());
        assert!(mode_from_query(Some("access=admin")).is_err());
    }
}
