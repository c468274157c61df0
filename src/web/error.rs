//! Failures of the web admin, shown as HTML pages with the status the API would answer.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout;
use crate::http::error::ApiError;
use crate::store::StoreError;

/// What a web admin handler can fail with.
#[derive(Debug)]
pub enum WebError {
    /// No live session: go to the sign-in page.
    SignIn,
    /// Signed in, but not allowed (or a refused form): 403.
    Forbidden(String),
    /// A form that cannot be read: 400.
    BadForm(String),
    /// Anything the API's rules refuse, with the API's status and detail.
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, detail) = match self {
            Self::SignIn => return Redirect::to("/admin/login").into_response(),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, why),
            Self::BadForm(why) => (StatusCode::BAD_REQUEST, why),
            Self::Api(error) => {
                match &error {
                    ApiError::Unavailable(cause) => tracing::error!(error = format!("{cause:#}"), "store unavailable"),
                    ApiError::Unexpected(cause) => tracing::error!(error = format!("{cause:#}"), "unexpected error"),
                    _ => {}
                }
                error.status_and_detail()
            }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            section.card.narrow {
                h1 { (status.as_u16()) " · " (title) }
                p.error-detail { (detail) }
                p { a.button href="/admin/tokens" { "Back to API tokens" } }
            }
        };
        (status, layout::bare(title, body)).into_response()
    }
}
