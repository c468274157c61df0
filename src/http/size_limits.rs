//! Request size limits: the header section (431) and, for the bodies Portcullis reads itself,
//! the body (413, applied through axum's `DefaultBodyLimit` and mapped in `ApiJson`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Refuses a request whose request line and headers together exceed `max` bytes, counted as
/// on the wire (`name: value\r\n`), before anything else looks at them.
pub async fn limit_headers(State(max): State<usize>, request: Request, next: Next) -> Response {
    let mut size = request.method().as_str().len() + request.uri().to_string().len() + 12;
    for (name, value) in request.headers() {
        size += name.as_str().len() + value.len() + 4;
        if size > max {
            return ApiError::HeadersTooLarge(max).into_response();
        }
    }
    if size > max {
        return ApiError::HeadersTooLarge(max).into_response();
    }
    next.run(request).await
}
