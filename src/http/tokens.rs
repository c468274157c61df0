//! `/api/tokens` (managed by signed-in administrators only) and `/api/token` (introspection).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, Id, Principal};
use super::representation::{Format, Kind, Pagination};
use crate::auth::{Endpoint, Grant};
use crate::clock::{UnixTime, parse_rfc3339, rfc3339};
use crate::domain::{Access, Description, TokenName};
use crate::issue::{self, TokenRequest};
use crate::store::{Actor, AuditContext, CreatedBy, TokenChanges, TokenFilter, TokenRecord, TokenStatus};
use crate::token::TokenSecret;

/// JSON-LD identity of tokens.
pub const TOKENS: Kind = Kind {
    type_name: "Token",
    path: "/api/tokens",
};

/// The routes, each behind the authentication layer for its endpoint.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/token",
            get(introspect).route_layer(state.guard(Endpoint::TokenSelf)),
        )
        .route(
            "/api/tokens",
            get(list).post(create).route_layer(state.guard(Endpoint::Tokens)),
        )
        .route(
            "/api/tokens/{id}",
            get(show)
                .patch(update)
                .delete(revoke)
                .route_layer(state.guard(Endpoint::Token)),
        )
        .route(
            "/api/tokens/{id}/regenerate",
            post(regenerate).route_layer(state.guard(Endpoint::TokenRegenerate)),
        )
}

/// A token's metadata as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    id: i64,
    name: String,
    description: String,
    access: Access,
    hint: String,
    status: TokenStatus,
    created_at: String,
    created_by: Option<CreatedBy>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

impl TokenView {
    /// The view of `token` at time `now`, with a last use not yet written to the store.
    pub fn new(token: TokenRecord, now: UnixTime, pending_use: Option<UnixTime>) -> Self {
        Self {
            id: token.id,
            status: token.status(now),
            name: token.name,
            description: token.description,
            access: token.access,
            hint: token.hint,
            created_at: rfc3339(token.created_at),
            created_by: token.created_by,
            expires_at: token.expires_at.map(rfc3339),
            last_used_at: token.last_used_at.max(pending_use).map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
        }
    }
}

fn view(state: &AppState, token: TokenRecord) -> serde_json::Value {
    let pending = state.verifier.pending_use(token.id);
    serde_json::to_value(TokenView::new(token, state.clock.now(), pending)).unwrap_or_default()
}

/// The one response that shows a secret: the token's metadata plus `token`.
fn with_secret(
    state: &AppState,
    format: Format,
    status: StatusCode,
    token: TokenRecord,
    secret: &TokenSecret,
) -> Response {
    let id = token.id;
    let mut body = view(state, token);
    body["token"] = secret.expose().into();
    TOKENS.item(format, status, id, body)
}

async fn list(
    State(state): State<AppState>,
    format: Format,
    Pagination(page): Pagination,
) -> Result<Response, ApiError> {
    let (tokens, total) = state.store.list_tokens(TokenFilter::All, page).await?;
    let members = tokens.into_iter().map(|t| (t.id, view(&state, t))).collect();
    Ok(TOKENS.collection(format, page, total, members))
}

async fn show(State(state): State<AppState>, format: Format, Id(id): Id) -> Result<Response, ApiError> {
    let token = state.store.token(id).await?;
    Ok(TOKENS.item(format, StatusCode::OK, id, view(&state, token)))
}

/// `Option<Option<T>>` that tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateToken {
    name: String,
    #[serde(default)]
    description: String,
    /// Least privilege by default: a token that does not say otherwise can only read.
    #[serde(default = "read_access")]
    access: Access,
    expires_at: Option<String>,
}

fn read_access() -> Access {
    Access::Read
}

/// Parses an RFC 3339 expiry that must lie in the future.
fn future_time(text: &str, now: UnixTime) -> Result<UnixTime, ApiError> {
    let at = parse_rfc3339(text)
        .ok_or_else(|| ApiError::Unprocessable("expiresAt: an RFC 3339 time such as 2027-06-01T00:00:00Z".into()))?;
    if at <= now {
        return Err(ApiError::Unprocessable("expiresAt: must be in the future".into()));
    }
    Ok(at)
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let request = TokenRequest {
        name: TokenName::parse(&body.name)?,
        description: Description::parse(&body.description)?,
        access: body.access,
        expires_at: body.expires_at.as_deref().map(|t| future_time(t, now)).transpose()?,
    };
    let (token, secret) = create_token(&state, request, client.audit(&principal, &state)).await?;
    Ok(with_secret(&state, format, StatusCode::CREATED, token, &secret))
}

/// Issues a token recorded as created by the acting user (shared with the web admin).
pub(crate) async fn create_token(
    state: &AppState,
    request: TokenRequest,
    audit: AuditContext,
) -> Result<(TokenRecord, TokenSecret), ApiError> {
    let created_by = match &audit.actor {
        Actor::User { id, username } => Some(CreatedBy {
            id: *id,
            username: username.clone(),
        }),
        _ => None,
    };
    Ok(issue::issue_token(
        state.store.as_ref(),
        &state.settings.token_prefix,
        request,
        created_by,
        audit,
    )
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateToken {
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "explicit_null")]
    expires_at: Option<Option<String>>,
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
    ApiJson(body): ApiJson<UpdateToken>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let changes = TokenChanges {
        name: body.name.as_deref().map(TokenName::parse).transpose()?,
        description: body.description.as_deref().map(Description::parse).transpose()?,
        expires_at: body
            .expires_at
            .map(|e| e.as_deref().map(|t| future_time(t, now)).transpose())
            .transpose()?,
    };
    let token = update_token(&state, id, changes, client.audit(&principal, &state)).await?;
    Ok(TOKENS.item(format, StatusCode::OK, id, view(&state, token)))
}

/// Changes a token's metadata and drops cached verifications (shared with the web admin).
pub(crate) async fn update_token(
    state: &AppState,
    id: i64,
    changes: TokenChanges,
    audit: AuditContext,
) -> Result<TokenRecord, ApiError> {
    let token = state.store.update_token(id, changes, audit).await?;
    state.verifier.invalidate();
    Ok(token)
}

async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    revoke_token(&state, id, client.audit(&principal, &state)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a token so that its very next use is refused (shared with the web admin).
pub(crate) async fn revoke_token(state: &AppState, id: i64, audit: AuditContext) -> Result<TokenRecord, ApiError> {
    let token = state.store.revoke_token(id, audit).await?;
    state.verifier.invalidate();
    Ok(token)
}

async fn regenerate(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let (token, secret) = regenerate_token(&state, id, client.audit(&principal, &state)).await?;
    Ok(with_secret(&state, format, StatusCode::OK, token, &secret))
}

/// Gives an unexpired, unrevoked token a new secret (shared with the web admin).
pub(crate) async fn regenerate_token(
    state: &AppState,
    id: i64,
    audit: AuditContext,
) -> Result<(TokenRecord, TokenSecret), ApiError> {
    if state.store.token(id).await?.status(state.clock.now()) == TokenStatus::Expired {
        return Err(ApiError::Conflict(
            "an expired token cannot be regenerated; extend its expiry first".into(),
        ));
    }
    let (token, secret) = issue::reissue_token(state.store.as_ref(), &state.settings.token_prefix, id, audit).await?;
    state.verifier.invalidate();
    Ok((token, secret))
}

/// Describes the presented credential.
async fn introspect(principal: Principal) -> Response {
    let body = match principal.0 {
        Grant::Token {
            id,
            name,
            access,
            expires_at,
        } => json!({
            "kind": "token", "id": id, "name": &*name, "access": access, "expiresAt": expires_at.map(rfc3339),
        }),
        Grant::Session {
            user_id,
            username,
            admin,
            expires_at,
            ..
        } => json!({
            "kind": "session", "user": { "id": user_id, "username": &*username }, "admin": admin, "expiresAt": rfc3339(expires_at),
        }),
    };
    Format::Json.respond(StatusCode::OK, &body)
}
