//! `GET /api/tokens/{id}/usage`: a token's allowed and denied requests per hour, last 30 days.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::Id;
use super::representation::Format;
use crate::auth::Endpoint;
use crate::auth::usage::{HOUR, RETENTION, hour_of};
use crate::clock::{UnixTime, rfc3339};
use crate::store::HourlyUsage;

/// The most hours a client may ask for: the 30 days that are kept.
pub const MAX_HOURS: u32 = (RETENTION / HOUR) as u32;

/// The route, behind the same rule as reading the token itself.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new().route(
        "/api/tokens/{id}/usage",
        get(usage).route_layer(state.guard(Endpoint::Token)),
    )
}

/// One hour with requests.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HourView {
    /// The first second of the hour (UTC).
    #[schema(format = DateTime)]
    hour: String,
    /// Requests the token was allowed to make.
    allowed: u64,
    /// Requests refused for this token: insufficient access, rate limited, address not
    /// allowed, or the token revoked, disabled or expired.
    denied: u64,
}

/// A token's usage in a window of whole hours.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TokenUsage, example = json!({
    "tokenId": 3, "from": "2026-11-29T12:00:00Z", "to": "2026-11-29T14:00:00Z",
    "hours": [{"hour": "2026-11-29T13:00:00Z", "allowed": 41, "denied": 2}], "allowed": 41, "denied": 2
}))]
pub struct UsageView {
    token_id: i64,
    /// Start of the window: the first second of its oldest hour.
    #[schema(format = DateTime)]
    from: String,
    /// End of the window (exclusive): the end of the current hour.
    #[schema(format = DateTime)]
    to: String,
    /// The hours of the window that had requests, oldest first; hours without any are left out.
    hours: Vec<HourView>,
    /// Allowed requests in the window.
    allowed: u64,
    /// Denied requests in the window.
    denied: u64,
}

impl UsageView {
    /// The view of a token's hours with requests in `from..to` (shared with the CLI).
    pub fn new(token_id: i64, from: UnixTime, to: UnixTime, rows: Vec<HourlyUsage>) -> Self {
        Self {
            token_id,
            from: rfc3339(from),
            to: rfc3339(to),
            allowed: rows.iter().map(|r| r.allowed).sum(),
            denied: rows.iter().map(|r| r.denied).sum(),
            hours: rows
                .into_iter()
                .map(|r| HourView {
                    hour: rfc3339(r.hour),
                    allowed: r.allowed,
                    denied: r.denied,
                })
                .collect(),
        }
    }
}

/// `?hours=N`: how many hours, ending with the current one (1–720, default 720).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Hours to show, ending with the current one: 1–720 (30 days), default 720.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 720)]
    hours: Option<String>,
}

impl UsageQuery {
    fn parse(uri: &Uri) -> Result<u32, ApiError> {
        let query = axum::extract::Query::<UsageQuery>::try_from_uri(uri)
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?
            .0;
        let Some(text) = query.hours else {
            return Ok(MAX_HOURS);
        };
        text.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_HOURS).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("`hours` must be an integer from 1 to {MAX_HOURS}.")))
    }
}

/// The window of `hours` whole hours that ends with the hour of `now`: `from..to`.
pub fn window(now: UnixTime, hours: u32) -> (UnixTime, UnixTime) {
    let to = hour_of(now) + HOUR;
    (to - i64::from(hours) * HOUR, to)
}

/// A token's usage in `from..to` as the store has it, after writing this instance's pending
/// counts so a client sees its own requests.
pub(crate) async fn token_usage(
    state: &AppState,
    id: i64,
    from: UnixTime,
    to: UnixTime,
) -> Result<Vec<HourlyUsage>, ApiError> {
    state
        .verifier
        .counts()
        .flush(state.store.as_ref(), state.clock.now())
        .await?;
    Ok(state.store.token_usage(id, from, to).await?)
}

/// Allowed and denied requests per hour, for at most the last 30 days.
#[utoipa::path(get, path = "/api/tokens/{id}/usage", tag = "Tokens",
    params(("id" = i64, Path, description = "Token id"), UsageQuery),
    description = "Needs a signed-in administrator's session, like reading the token. Counts requests made with \
the token (allowed or denied) by hour; hours without requests are left out of `hours`.",
    security(("bearer" = [])),
    responses((status = 200, description = "The token's usage", body = UsageView, content_type = "application/json")))]
async fn usage(State(state): State<AppState>, Id(id): Id, uri: Uri) -> Result<Response, ApiError> {
    let hours = UsageQuery::parse(&uri)?;
    // 404 for an unknown token, before anything else.
    state.store.token(id).await?;
    let (from, to) = window(state.clock.now(), hours);
    let rows = token_usage(&state, id, from, to).await?;
    let body = serde_json::to_value(UsageView::new(id, from, to, rows)).map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(Format::Json.respond(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_with_the_current_hour() {
        let now = 1_800_001_234;
        assert_eq!(window(now, 1), (1_800_000_000, 1_800_003_600));
        assert_eq!(window(now, 720), (1_800_003_600 - 720 * 3600, 1_800_003_600));
    }
}
