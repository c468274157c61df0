//! The one mapping from errors to HTTP responses: RFC 9457 problem details, with
//! `WWW-Authenticate` on authentication failures (RFC 6750 §3). 5xx bodies are opaque; the
//! cause chain goes to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{BearerError, Limited, Needed, Rejection};
use crate::domain::Invalid;
use crate::store::StoreError;

/// The realm every challenge names.
pub const REALM: &str = "portcullis";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or another scheme than Bearer.
    #[error("missing credential")]
    MissingCredential,
    /// RFC 6750 `invalid_request`: the credential was sent wrongly.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// RFC 6750 `invalid_token`.
    #[error("invalid token")]
    InvalidToken(Rejection),
    /// RFC 6750 `insufficient_scope`.
    #[error("insufficient scope")]
    InsufficientScope(Needed),
    /// Sign-in failed; the same answer whether or not the user exists.
    #[error("sign-in failed")]
    LoginFailed,
    /// A malformed request that is not about the credential (bad pagination, bad JSON syntax).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Well-formed input that breaks a rule (bad email, unknown field, past expiry).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// The resource does not exist.
    #[error("not found")]
    NotFound,
    /// The request clashes with the current state (duplicate username, last admin).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No route for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// None of the acceptable media types can be produced.
    #[error("not acceptable")]
    NotAcceptable,
    /// The body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The gateway's upstream refused the connection or broke the exchange.
    #[error("bad gateway")]
    BadGateway(#[source] anyhow::Error),
    /// The gateway's upstream did not answer in time.
    #[error("gateway timeout")]
    GatewayTimeout,
    /// The token is beyond one of its rate limits: 429 with `Retry-After` and `RateLimit-*`.
    #[error("rate limited")]
    RateLimited(Limited),
    /// The request body is larger than the configured limit (bytes).
    #[error("payload too large")]
    PayloadTooLarge(usize),
    /// The request line and headers are larger than the configured limit (bytes).
    #[error("request headers too large")]
    HeadersTooLarge(usize),
    /// The token may not be used from the client's address (its allowlist).
    #[error("address not allowed")]
    AddressNotAllowed,
    /// Too many failed authentications from this client: 429 with `Retry-After` (seconds).
    #[error("too many failed authentications")]
    TooManyFailures(u64),
    /// The store did not answer: fail closed.
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or an unexpected failure.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(what) => Self::Conflict(what.to_owned()),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

impl From<BearerError> for ApiError {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Missing => Self::MissingCredential,
            BearerError::InvalidRequest(why) => Self::InvalidRequest(why),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(error: Invalid) -> Self {
        Self::Unprocessable(error.to_string())
    }
}

impl ApiError {
    /// The status and the detail text a client may see (for the web admin's HTML pages).
    pub fn status_and_detail(&self) -> (StatusCode, String) {
        let (status, _, detail) = self.parts();
        (status, detail)
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            MissingCredential => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "This endpoint needs `Authorization: Bearer <token>`.".into(),
            ),
            InvalidRequest(why) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("Invalid request: {why}."),
            ),
            InvalidToken(rejection) => (StatusCode::UNAUTHORIZED, "invalid-token", rejection.detail().into()),
            InsufficientScope(needed) => (
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                match needed {
                    Needed::Full => {
                        "This request needs a Full Access token; Read Access tokens may only read (GET, HEAD, OPTIONS)."
                    }
                    Needed::Admin => {
                        "This request needs a signed-in administrator; no API token may manage tokens or admin rights."
                    }
                    Needed::Session => "This request needs a user session, not an API token.",
                }
                .into(),
            ),
            LoginFailed => (
                StatusCode::UNAUTHORIZED,
                "login-failed",
                "The username or password is wrong.".into(),
            ),
            BadRequest(why) => (StatusCode::BAD_REQUEST, "bad-request", why.clone()),
            Unprocessable(why) => (StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", why.clone()),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                "No resource at this address.".into(),
            ),
            Conflict(why) => (StatusCode::CONFLICT, "conflict", sentence(why)),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "This resource does not support this method.".into(),
            ),
            NotAcceptable => (
                StatusCode::NOT_ACCEPTABLE,
                "not-acceptable",
                "Responses are application/ld+json or application/json.".into(),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Request bodies must be JSON with `Content-Type: application/json`.".into(),
            ),
            BadGateway(_) => (
                StatusCode::BAD_GATEWAY,
                "bad-gateway",
                "The upstream service could not be reached.".into(),
            ),
            GatewayTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "gateway-timeout",
                "The upstream service did not answer in time.".into(),
            ),
            RateLimited(limited) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!(
                    "This token has made too many requests ({} per {} s at most); retry in {} s.",
                    limited.quota.limit, limited.quota.window, limited.retry_after
                ),
            ),
            PayloadTooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("The request body is larger than {max} bytes."),
            ),
            HeadersTooLarge(max) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                format!("The request line and headers are larger than {max} bytes."),
            ),
            AddressNotAllowed => (
                StatusCode::FORBIDDEN,
                "address-not-allowed",
                "This token may not be used from this address.".into(),
            ),
            TooManyFailures(retry_after) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-failures",
                format!(
                    "Too many failed authentications (or leak reports) from this address; retry in {retry_after} s."
                ),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is temporarily unavailable.".into(),
            ),
            Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error occurred.".into(),
            ),
        }
    }

    fn challenge(&self) -> Option<String> {
        match self {
            Self::MissingCredential | Self::LoginFailed => Some(format!("Bearer realm=\"{REALM}\"")),
            Self::InvalidRequest(_) => Some(format!("Bearer realm=\"{REALM}\", error=\"invalid_request\"")),
            Self::InvalidToken(_) => Some(format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"")),
            Self::InsufficientScope(needed) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                needed.scope()
            )),
            _ => None,
        }
    }
}

/// `text` as a sentence: a capital first letter and a full stop. Shared by the web admin's
/// messages.
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        format!("{}{}.", first.to_uppercase(), chars.as_str())
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(cause) => tracing::error!(error = format!("{cause:#}"), "store unavailable"),
            Self::BadGateway(cause) => tracing::warn!(error = format!("{cause:#}"), "upstream failed"),
            Self::Unexpected(cause) => tracing::error!(error = format!("{cause:#}"), "unexpected error"),
            _ => {}
        }
        let (status, slug, detail) = self.parts();
        let body = json!({
            "type": format!("urn:portcullis:problem:{slug}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self.challenge().and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Self::RateLimited(limited) = &self {
            limited.quota.write_headers(headers);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
        }
        if let Self::TooManyFailures(retry_after) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}
