//! One log line and one metrics sample per request, with a request id that is taken from
//! `X-Request-Id` when the client sends a sane one, generated otherwise, and returned.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::AppState;

/// The request id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent request id that is honoured.
const MAX_REQUEST_ID_LEN: usize = 128;

fn client_request_id(request: &Request) -> Option<HeaderValue> {
    let value = request.headers().get(&REQUEST_ID)?;
    let bytes = value.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
    sane.then(|| value.clone())
}

/// The route template (`/api/users/{id}`) rather than the raw path, so neither ids nor
/// anything a client invents reaches a metric label.
fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned())
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Wraps every request: span with method, route and request id (the authentication layer
/// adds the token id), then one `request` event with status and latency.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = client_request_id(&request).unwrap_or_else(|| {
        // A UUID is always a valid header value.
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a valid header value")
    });
    request.headers_mut().insert(REQUEST_ID.clone(), request_id.clone());
    let method = method_label(request.method());
    let route = route_of(&request);
    let span = tracing::info_span!(
        "request",
        method,
        route = %route,
        request_id = request_id.to_str().unwrap_or(""),
        token_id = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    state.verifier.metrics().request(route, method, status, elapsed);
    response.headers_mut().insert(REQUEST_ID.clone(), request_id);
    response
}
