//! `POST /api/tokens/revoke-leaked`: anyone who finds token strings in the wild (a public
//! repository, a paste, a log) can get them revoked without signing in. Holding a string
//! proves nothing beyond what the finder already has, so no authentication is needed; the
//! answer is the same `202` whether a string was a live token or not, and every report is
//! written to the audit log with the reporter and the client address.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp};
use super::representation::Format;
use crate::store::{Actor, AuditContext, AuditEvent, audit_kind};
use crate::token::PresentedToken;

/// Most token strings in one report.
const MAX_TOKENS: usize = 100;
/// Longest token string considered (a Portcullis token is far shorter).
const MAX_TOKEN_CHARS: usize = 256;
/// Longest reporter text kept.
const MAX_REPORTER_CHARS: usize = 200;

pub fn router(_state: &AppState) -> Router<AppState> {
    Router::new().route("/api/tokens/revoke-leaked", post(revoke_leaked))
}

/// Token strings found in the wild, and who found them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tokens": ["pcl_…"], "reporter": "secret-scanner@example.com"}))]
pub(super) struct LeakReport {
    /// 1–100 strings; anything that is not a live API token is ignored.
    tokens: Vec<String>,
    /// Who reports (an e-mail address, a scanner's name); recorded in the audit log.
    #[serde(default)]
    reporter: String,
}

/// Report leaked tokens: live API tokens among them are revoked at once.
#[utoipa::path(post, path = "/api/tokens/revoke-leaked", tag = "Tokens", request_body = LeakReport,
    description = "No authentication. The answer is the same whether or not a string was a live token. Limited per client address.",
    responses((status = 202, description = "Received; any live token among the strings is revoked", content_type = "application/json"),
        (status = 422, description = "No strings, too many, or too long", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many reports from this address (`Retry-After`)", body = super::openapi::Problem, content_type = "application/problem+json")))]
async fn revoke_leaked(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(report): ApiJson<LeakReport>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let limiter = &state.verifier.failures().reports;
    let address = ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    if let Some(address) = address {
        if let Some(wait) = limiter.blocked(&address, now) {
            return Err(ApiError::TooManyFailures(wait));
        }
        // Every report counts against the address's budget, the one beyond it included.
        if let Some(wait) = limiter.record_failure(&address, now) {
            return Err(ApiError::TooManyFailures(wait));
        }
    }
    if report.tokens.is_empty() || report.tokens.len() > MAX_TOKENS {
        return Err(ApiError::Unprocessable(format!(
            "tokens: between 1 and {MAX_TOKENS} strings"
        )));
    }
    if report.tokens.iter().any(|t| t.chars().count() > MAX_TOKEN_CHARS) {
        return Err(ApiError::Unprocessable(format!(
            "tokens: each at most {MAX_TOKEN_CHARS} characters"
        )));
    }
    let reporter: String = report.reporter.trim().chars().take(MAX_REPORTER_CHARS).collect();
    let audit = AuditContext {
        actor: Actor::Anonymous,
        at: now,
        client_ip: ip,
    };
    let mut revoked = Vec::new();
    for text in &report.tokens {
        // Only well-formed API tokens can be live; sessions end by signing out.
        let Ok(presented) = PresentedToken::parse(text.trim()) else {
            continue;
        };
        if presented.is_session() {
            continue;
        }
        let Some(token) = state.store.token_by_digest(&presented.digest()).await? else {
            continue;
        };
        if token.revoked_at.is_none() {
            state.store.revoke_token(token.id, audit.clone()).await?;
            revoked.push(token.id);
        }
    }
    if !revoked.is_empty() {
        state.verifier.invalidate();
        tracing::warn!(count = revoked.len(), ?revoked, "leaked tokens reported and revoked");
    }
    let details = json!({
        "reporter": reporter,
        "submitted": report.tokens.len(),
        "revoked": revoked,
    });
    state
        .store
        .record(AuditEvent::new(audit_kind::TOKEN_LEAK_REPORTED, &audit, None, details))
        .await?;
    let body = json!({
        "status": "received",
        "detail": "Any live token among the strings has been revoked.",
    });
    Ok(Format::Json.respond(StatusCode::ACCEPTED, &body))
}
