//! Request size limits: the header section (431) and, for the bodies Portcullis reads itself,
//! the body (413, applied through axum's `DefaultBodyLimit` and mapped in `ApiJson`).

use super::error::ApiError;

/// The refusal of a request whose request line and headers together exceed `max` bytes,
/// counted as on the wire (`name: value\r\n`); `None` when it fits.
pub fn headers_too_large<B>(request: &axum::http::Request<B>, max: usize) -> Option<ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3);
    let mut size = request.method().as_str().len() + target + 12;
    for (name, value) in request.headers() {
        size += name.as_str().len() + value.len() + 4;
        if size > max {
            return Some(ApiError::HeadersTooLarge(max));
        }
    }
    (size > max).then_some(ApiError::HeadersTooLarge(max))
}
