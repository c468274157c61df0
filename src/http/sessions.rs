//! `/api/sessions`: signing in with a password for a session bearer token, and signing out.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, Principal};
use super::representation::Format;
use crate::auth::{Endpoint, Grant};
use crate::clock::UnixTime;
use crate::clock::rfc3339;
use crate::issue;
use crate::store::{Actor, AuditContext, AuditEvent, StoreError, User, audit_kind};
use crate::token::TokenSecret;

/// The routes: sign-in is open to anyone, sign-out needs the session itself.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new().route("/api/sessions", post(sign_in)).route(
        "/api/sessions/current",
        delete(sign_out).route_layer(state.guard(Endpoint::SessionCurrent)),
    )
}

/// A username and password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "ada", "password": "correct horse battery staple"}))]
pub(super) struct Credentials {
    username: String,
    password: String,
}

/// Sign in: a session bearer token (`pcs_…`) for the user, which may manage tokens if the user is an administrator.
#[utoipa::path(post, path = "/api/sessions", tag = "Sessions", request_body = Credentials,
    responses((status = 201, description = "Signed in", body = super::openapi::SessionCreated, content_type = "application/json"),
        (status = 401, description = "Wrong username or password (the same answer either way)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this account from this address (`Retry-After`)", body = super::openapi::Problem, content_type = "application/problem+json")))]
async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let (_, secret, expires_at) = password_sign_in(&state, &body.username, body.password, ip).await?;
    let body = json!({ "token": secret.expose(), "expiresAt": rfc3339(expires_at) });
    Ok(Format::Json.respond(StatusCode::CREATED, &body))
}

/// Checks a username and password and starts a fresh session, recording the outcome in the
/// audit log (shared with the web admin's sign-in form). A wrong password, an unknown or an
/// inactive user all give the same [`ApiError::LoginFailed`].
pub(crate) async fn password_sign_in(
    state: &AppState,
    username: &str,
    password: String,
    ip: Option<String>,
) -> Result<(User, TokenSecret, UnixTime), ApiError> {
    let now = state.clock.now();
    // Per account and address: a guesser is stopped, the account's owner elsewhere is not.
    let failure_key = ip
        .as_deref()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map(|ip| (username.to_lowercase(), ip));
    let failures = &state.verifier.failures().sign_in;
    if let Some(wait) = failure_key.as_ref().and_then(|key| failures.blocked(key, now)) {
        return Err(ApiError::TooManyFailures(wait));
    }
    let found = match state.store.user_for_login(username).await {
        Ok(found) => Some(found),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    // Verify even when the user is unknown (against a dummy hash), so timing tells nothing.
    let (user, hash) = found.map_or((None, None), |(user, hash)| (Some(user), hash));
    let password_ok = crate::password::verify(hash, password).await;
    let audit = |actor| AuditContext {
        actor,
        at: now,
        client_ip: ip.clone(),
    };
    let user = match user {
        Some(user) if password_ok && user.active => user,
        _ => {
            let details = json!({ "username": username.chars().take(64).collect::<String>() });
            let event = AuditEvent::new(audit_kind::LOGIN_FAILED, &audit(Actor::Anonymous), None, details);
            state.store.record(event).await?;
            if let Some(key) = &failure_key
                && let Some(seconds) = failures.record_failure(key, now)
            {
                tracing::warn!(client = %key.1, seconds, "too many failed sign-ins for one account: client blocked");
            }
            return Err(ApiError::LoginFailed);
        }
    };
    let (secret, expires_at) = issue::start_session(
        state.store.as_ref(),
        user.id,
        now,
        state.settings.session_ttl.as_secs() as i64,
    )
    .await?;
    state.store.touch_login(user.id, now).await?;
    let actor = Actor::User {
        id: user.id,
        username: user.username.clone(),
    };
    let event = AuditEvent::new(
        audit_kind::LOGIN_SUCCEEDED,
        &audit(actor),
        Some(format!("user:{}", user.id)),
        json!({}),
    );
    state.store.record(event).await?;
    Ok((user, secret, expires_at))
}

/// Sign out: the presented session token stops working.
#[utoipa::path(delete, path = "/api/sessions/current", tag = "Sessions",
    description = "Needs the session itself (a `pcs_` token), not an API token.",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out")))]
async fn sign_out(State(state): State<AppState>, principal: Principal) -> Result<StatusCode, ApiError> {
    if let Grant::Session { id, .. } = principal.0 {
        state.store.revoke_session(id, state.clock.now()).await?;
        state.verifier.invalidate();
    }
    Ok(StatusCode::NO_CONTENT)
}
