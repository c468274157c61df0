//! The one middleware in front of every route: the request-head checks that come before
//! anything else (framing refused by the connection guard, oversized headers), then one log
//! line and one metrics sample per request, with a request id that is taken from
//! `X-Request-Id` when the client sends a sane one, generated otherwise, and returned.
//!
//! One layer rather than one per concern: each `from_fn` layer clones its inner service and
//! boxes a future on every request, which showed in the profile of the hot path (issue #8).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;

/// The request id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent request id that is honoured.
const MAX_REQUEST_ID_LEN: usize = 128;

/// A fresh request id: a random per-process prefix and a counter, 32 hex digits. Unique
/// within a process and, by the prefix, across instances; it is a correlation id, not a
/// secret, so it does not cost a read of the OS random generator per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the OS generator the prefix is only less unique; the id stays valid.
        let _ = getrandom::getrandom(&mut bytes);
        u64::from_le_bytes(bytes) ^ u64::from(std::process::id())
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut text = [0u8; 32];
    for (i, byte) in text.iter_mut().enumerate() {
        let word = if i < 16 { prefix } else { count };
        let nibble = (word >> (4 * (15 - (i % 16)))) & 0xf;
        *byte = b"0123456789abcdef"[nibble as usize];
    }
    HeaderValue::from_bytes(&text).expect("hex digits are a valid header value")
}

fn client_request_id<B>(request: &axum::http::Request<B>) -> Option<HeaderValue> {
    let value = request.headers().get(&REQUEST_ID)?;
    let bytes = value.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
    sane.then(|| value.clone())
}

/// The route template (`/api/users/{id}`) rather than the raw path, so neither ids nor
/// anything a client invents reaches a metric label.
fn route_of(request: &Request) -> Cow<'static, str> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(Cow::Borrowed(crate::metrics::UNMATCHED), |m| {
            Cow::Owned(m.as_str().to_owned())
        })
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

/// Wraps every request the router serves; see [`observed`].
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    observed(&state, request, route, |request| next.run(request)).await
}

/// Everything [`observe`] does around `handle`, for a request with any body type, so the
/// dispatch in front of the router ([`super::serve`]) gives the routes it answers itself the
/// same treatment: the head checks of [`refused_head`], a span with method, route and request
/// id (the authentication layer adds the token id), then one `request` event with status and
/// latency, one metrics sample, and the request id on the response.
pub(crate) async fn observed<B, F, Fut>(
    state: &AppState,
    mut request: axum::http::Request<B>,
    route: Cow<'static, str>,
    handle: F,
) -> Response
where
    F: FnOnce(axum::http::Request<B>) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let request_id = client_request_id(&request).unwrap_or_else(new_request_id);
    request.headers_mut().insert(REQUEST_ID.clone(), request_id.clone());
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        method,
        route = %route,
        request_id = request_id.to_str().unwrap_or(""),
        token_id = tracing::field::Empty,
    );
    let mut response = match refused_head(&request, state.settings.max_header_bytes) {
        Some(refusal) => refusal,
        None => handle(request).instrument(span.clone()).await,
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    state.verifier.metrics().request(route, method, status, elapsed);
    response.headers_mut().insert(REQUEST_ID.clone(), request_id);
    response
}

/// The answer to a request whose head is refused before anything else looks at it: a head
/// the connection guard marked for ambiguous framing, or a header section over `max_header`.
fn refused_head<B>(request: &axum::http::Request<B>, max_header: usize) -> Option<Response> {
    if request.headers().contains_key(crate::gateway::framing::MARKER_NAME) {
        return Some(crate::gateway::framing::refusal());
    }
    super::size_limits::headers_too_large(request, max_header).map(IntoResponse::into_response)
}
