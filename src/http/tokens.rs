//! `/api/tokens` (managed by signed-in administrators only) and `/api/token` (introspection).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::openapi::{Problem, TokenCollection, TokenCreated, TokenItem};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, Id, Principal};
use super::representation::{Format, Kind, Pagination};
use crate::auth::{Allowlist, Endpoint, Grant, TokenRateLimit};
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
        // The same rule as regenerating: an administrator's session.
        .route(
            "/api/tokens/{id}/disable",
            post(disable).route_layer(state.guard(Endpoint::TokenRegenerate)),
        )
        .route(
            "/api/tokens/{id}/enable",
            post(enable).route_layer(state.guard(Endpoint::TokenRegenerate)),
        )
}

/// A token's metadata as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Token, example = json!({
    "id": 3, "name": "nightly export", "description": "", "access": "read", "hint": "pcl_…x9Qa",
    "status": "active", "createdAt": "2026-11-29T13:39:17Z", "createdBy": {"id": 1, "username": "ada"},
    "expiresAt": null, "lastUsedAt": null, "revokedAt": null, "rateLimit": "default"
}))]
pub struct TokenView {
    id: i64,
    name: String,
    description: String,
    access: Access,
    /// The prefix and the last four characters, to recognise a token without its secret.
    hint: String,
    status: TokenStatus,
    #[schema(format = DateTime)]
    created_at: String,
    created_by: Option<CreatedBy>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    /// `"default"` (the installation's limits), `"off"`, or `{"short": N, "long": N}`.
    rate_limit: TokenRateLimit,
    #[schema(format = DateTime)]
    disabled_at: Option<String>,
    /// The networks it may be used from (CIDR); `null`: anywhere.
    allowed_ips: Option<Vec<String>>,
    /// Until when the secret replaced by the last regeneration still works (`null`: it does not).
    #[schema(format = DateTime)]
    old_secret_valid_until: Option<String>,
    /// The last use of that old secret.
    #[schema(format = DateTime)]
    old_secret_last_used_at: Option<String>,
    /// Whether the old secret still works and was used since the regeneration: clients to update.
    old_secret_still_in_use: bool,
}

impl TokenView {
    /// The view of `token` at time `now`, with a last use not yet written to the store.
    pub fn new(token: TokenRecord, now: UnixTime, pending_use: Option<UnixTime>) -> Self {
        Self::with_old_secret_use(token, now, pending_use, None)
    }

    /// Like [`new`](Self::new), with a use of the old secret not yet written to the store.
    pub fn with_old_secret_use(
        token: TokenRecord,
        now: UnixTime,
        pending_use: Option<UnixTime>,
        pending_old_use: Option<UnixTime>,
    ) -> Self {
        let old_valid_until = token
            .previous_valid_until
            .filter(|until| *until > now && token.previous_digest.is_some());
        let old_last_used = token
            .previous_last_used_at
            .max(pending_old_use)
            .filter(|_| old_valid_until.is_some());
        Self {
            old_secret_valid_until: old_valid_until.map(rfc3339),
            old_secret_last_used_at: old_last_used.map(rfc3339),
            old_secret_still_in_use: old_last_used.is_some(),
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
            rate_limit: token.rate_limit,
            disabled_at: token.disabled_at.map(rfc3339),
            allowed_ips: token.allowed_ips.as_ref().map(Allowlist::entries),
        }
    }
}

fn view(state: &AppState, token: TokenRecord) -> serde_json::Value {
    let pending = state.verifier.pending_use(token.id);
    let pending_old = state.verifier.pending_previous_use(token.id);
    serde_json::to_value(TokenView::with_old_secret_use(
        token,
        state.clock.now(),
        pending,
        pending_old,
    ))
    .unwrap_or_default()
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

/// List tokens, newest first (Hydra collection in JSON-LD, plain array in JSON).
#[utoipa::path(get, path = "/api/tokens", tag = "Tokens", params(super::representation::PageQuery),
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 200, description = "A page of tokens",
        content((TokenCollection = "application/ld+json"), (Vec<TokenView> = "application/json")))))]
async fn list(
    State(state): State<AppState>,
    format: Format,
    Pagination(page): Pagination,
) -> Result<Response, ApiError> {
    let (tokens, total) = state.store.list_tokens(TokenFilter::All, page).await?;
    let members = tokens.into_iter().map(|t| (t.id, view(&state, t))).collect();
    Ok(TOKENS.collection(format, page, total, members))
}

/// One token's metadata.
#[utoipa::path(get, path = "/api/tokens/{id}", tag = "Tokens", params(("id" = i64, Path, description = "Token id")),
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 200, description = "The token", content((TokenItem = "application/ld+json"), (TokenView = "application/json")))))]
async fn show(State(state): State<AppState>, format: Format, Id(id): Id) -> Result<Response, ApiError> {
    let token = state.store.token(id).await?;
    Ok(TOKENS.item(format, StatusCode::OK, id, view(&state, token)))
}

/// `Option<Option<T>>` that tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A new token; `access` defaults to `read`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "nightly export", "access": "read", "expiresAt": "2027-06-01T00:00:00Z", "rateLimit": {"short": 600, "long": 30000}}))]
pub(super) struct CreateToken {
    name: String,
    #[serde(default)]
    description: String,
    /// Least privilege by default: a token that does not say otherwise can only read.
    #[serde(default = "read_access")]
    access: Access,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// `"default"` (the installation's limits, when absent), `"off"`, or
    /// `{"short": N, "long": N}`: requests per short and per long window.
    #[serde(default)]
    rate_limit: TokenRateLimit,
    /// CIDR networks (`10.0.0.0/8`, `192.0.2.7`) it may be used from; absent or `null`: anywhere.
    allowed_ips: Option<Vec<String>>,
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

/// Create a token. The secret is in `token`, in this response only.
#[utoipa::path(post, path = "/api/tokens", tag = "Tokens", request_body = CreateToken,
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 201, description = "Created; copy `token` now, it is not shown again",
        content((TokenCreated = "application/ld+json"), (TokenCreated = "application/json")))))]
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
        rate_limit: body.rate_limit,
        allowed_ips: allowlist(body.allowed_ips.as_deref())?,
    };
    let (token, secret) = create_token(&state, request, client.audit(&principal, &state)).await?;
    Ok(with_secret(&state, format, StatusCode::CREATED, token, &secret))
}

/// Issues a token recorded as created by the acting user, within the maximum lifetime
/// policy (shared with the web admin).
pub(crate) async fn create_token(
    state: &AppState,
    request: TokenRequest,
    audit: AuditContext,
) -> Result<(TokenRecord, TokenSecret), ApiError> {
    issue::check_lifetime(request.expires_at, audit.at, state.settings.token_max_lifetime)
        .map_err(ApiError::Unprocessable)?;
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

/// Fields to change; `expiresAt: null` removes the expiry.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "nightly export (old)", "expiresAt": null}))]
pub(super) struct UpdateToken {
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Option<String>>,
    rate_limit: Option<TokenRateLimit>,
    #[serde(default, deserialize_with = "explicit_null_list")]
    #[schema(value_type = Option<Vec<String>>)]
    allowed_ips: Option<Option<Vec<String>>>,
}

/// Like [`explicit_null`], for a list.
fn explicit_null_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// Parses the `allowedIps` of a request.
fn allowlist(entries: Option<&[String]>) -> Result<Option<Allowlist>, ApiError> {
    entries
        .map(|e| Allowlist::parse(e).map_err(|why| ApiError::Unprocessable(format!("allowedIps: {why}"))))
        .transpose()
}

/// Change a token's name, description, expiry or rate limit.
#[utoipa::path(patch, path = "/api/tokens/{id}", tag = "Tokens", request_body = UpdateToken, params(("id" = i64, Path, description = "Token id")),
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 200, description = "The changed token", content((TokenItem = "application/ld+json"), (TokenView = "application/json")))))]
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
        rate_limit: body.rate_limit,
        allowed_ips: body.allowed_ips.map(|e| allowlist(e.as_deref())).transpose()?,
    };
    let token = update_token(&state, id, changes, client.audit(&principal, &state)).await?;
    Ok(TOKENS.item(format, StatusCode::OK, id, view(&state, token)))
}

/// Changes a token's metadata within the maximum lifetime policy and drops cached
/// verifications (shared with the web admin).
pub(crate) async fn update_token(
    state: &AppState,
    id: i64,
    changes: TokenChanges,
    audit: AuditContext,
) -> Result<TokenRecord, ApiError> {
    if let Some(expires_at) = changes.expires_at {
        let created_at = state.store.token(id).await?.created_at;
        issue::check_lifetime(expires_at, created_at, state.settings.token_max_lifetime)
            .map_err(ApiError::Unprocessable)?;
    }
    let token = state.store.update_token(id, changes, audit).await?;
    state.verifier.invalidate();
    Ok(token)
}

/// Revoke a token: it is refused from the next request on. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "Tokens", params(("id" = i64, Path, description = "Token id")),
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked")))]
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

/// Optional settings of a regeneration.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"gracePeriod": "24h"}))]
pub(super) struct RegenerateOptions {
    /// How long the old secret keeps working (`30m`, `24h`, `7d`; at most 30 days). Absent:
    /// it stops at once.
    grace_period: Option<String>,
}

/// Give a token a new secret (in `token`, in this response only); the old one stops working
/// at once, or after `gracePeriod`.
#[utoipa::path(post, path = "/api/tokens/{id}/regenerate", tag = "Tokens", params(("id" = i64, Path, description = "Token id")),
    request_body(content = Option<RegenerateOptions>, description = "Optional; without a body the old secret stops at once"),
    description = "Needs a signed-in administrator's session; no API token may manage tokens.",
    security(("bearer" = [])),
    responses((status = 200, description = "Regenerated; copy `token` now", content((TokenCreated = "application/ld+json"), (TokenCreated = "application/json"))),
        (status = 409, description = "The token is revoked or expired", body = Problem, content_type = "application/problem+json")))]
async fn regenerate(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let options: RegenerateOptions = if body.iter().all(u8::is_ascii_whitespace) {
        RegenerateOptions::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::Unprocessable(e.to_string()),
            _ => ApiError::BadRequest(format!("The body is not valid JSON: {e}")),
        })?
    };
    let grace = options.grace_period.as_deref().map(grace_period).transpose()?;
    let (token, secret) = regenerate_token(&state, id, grace, client.audit(&principal, &state)).await?;
    Ok(with_secret(&state, format, StatusCode::OK, token, &secret))
}

/// Parses a regeneration's grace period: a duration of at most 30 days (shared with the web admin).
pub(crate) fn grace_period(text: &str) -> Result<std::time::Duration, ApiError> {
    humantime::parse_duration(text)
        .ok()
        .filter(|g| *g <= issue::MAX_GRACE)
        .ok_or_else(|| ApiError::Unprocessable("gracePeriod: a duration such as 24h or 7d, at most 30d".into()))
}

/// Gives an unexpired, unrevoked token a new secret; the old one keeps working for `grace`
/// if given (shared with the web admin).
pub(crate) async fn regenerate_token(
    state: &AppState,
    id: i64,
    grace: Option<std::time::Duration>,
    audit: AuditContext,
) -> Result<(TokenRecord, TokenSecret), ApiError> {
    if state.store.token(id).await?.status(state.clock.now()) == TokenStatus::Expired {
        return Err(ApiError::Conflict(
            "an expired token cannot be regenerated; extend its expiry first".into(),
        ));
    }
    let (token, secret) =
        issue::reissue_token(state.store.as_ref(), &state.settings.token_prefix, id, grace, audit).await?;
    state.verifier.invalidate();
    Ok((token, secret))
}

/// Disable a token: refused (401) until enabled again, without losing its secret or settings.
#[utoipa::path(post, path = "/api/tokens/{id}/disable", tag = "Tokens", params(("id" = i64, Path, description = "Token id")),
    description = "Needs a signed-in administrator's session. Disabling twice is harmless.",
    security(("bearer" = [])),
    responses((status = 200, description = "The disabled token", content((TokenItem = "application/ld+json"), (TokenView = "application/json"))),
        (status = 409, description = "The token is revoked", body = Problem, content_type = "application/problem+json")))]
async fn disable(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
) -> Result<Response, ApiError> {
    set_disabled(state, principal, client, format, id, true).await
}

/// Enable a disabled token again.
#[utoipa::path(post, path = "/api/tokens/{id}/enable", tag = "Tokens", params(("id" = i64, Path, description = "Token id")),
    description = "Needs a signed-in administrator's session. Enabling an enabled token is harmless.",
    security(("bearer" = [])),
    responses((status = 200, description = "The enabled token", content((TokenItem = "application/ld+json"), (TokenView = "application/json"))),
        (status = 409, description = "The token is revoked", body = Problem, content_type = "application/problem+json")))]
async fn enable(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
) -> Result<Response, ApiError> {
    set_disabled(state, principal, client, format, id, false).await
}

async fn set_disabled(
    state: AppState,
    principal: Principal,
    client: ClientIp,
    format: Format,
    id: i64,
    disabled: bool,
) -> Result<Response, ApiError> {
    let token = set_token_disabled(&state, id, disabled, client.audit(&principal, &state)).await?;
    Ok(TOKENS.item(format, StatusCode::OK, id, view(&state, token)))
}

/// Disables or enables a token, effective from the next request (shared with the web admin).
pub(crate) async fn set_token_disabled(
    state: &AppState,
    id: i64,
    disabled: bool,
    audit: AuditContext,
) -> Result<TokenRecord, ApiError> {
    let token = state.store.set_token_disabled(id, disabled, audit).await?;
    state.verifier.invalidate();
    Ok(token)
}

/// Describe the presented credential: an API token or a user session.
#[utoipa::path(get, path = "/api/token", tag = "Tokens",
    description = "Any valid credential: a Read Access token suffices.",
    security(("bearer" = [])),
    responses((status = 200, description = "The presented credential", body = super::openapi::Introspection, content_type = "application/json")))]
async fn introspect(principal: Principal) -> Response {
    let body = match principal.0 {
        Grant::Token {
            id,
            name,
            access,
            expires_at,
            ..
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
