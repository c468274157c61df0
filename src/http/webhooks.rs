//! `/api/webhooks`: webhook endpoints and their delivery logs, managed by signed-in
//! administrators only (docs/webhooks.md).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, Id, Principal};
use super::openapi::{DeliveryCollection, WebhookCollection, WebhookCreated, WebhookItem};
use super::representation::{Format, Kind, Pagination};
use crate::auth::Endpoint;
use crate::clock::{UnixTime, rfc3339};
use crate::domain::Description;
use crate::store::{
    Actor, AuditContext, CreatedBy, DeliveryStatus, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint,
    WebhookEndpointChanges,
};
use crate::token::OsRandom;
use crate::webhooks::{SigningSecret, WebhookUrl, parse_events};

/// JSON-LD identity of webhook endpoints.
pub const WEBHOOKS: Kind = Kind {
    type_name: "Webhook",
    path: "/api/webhooks",
};

/// The routes, all behind the administrators-only rule.
pub fn router(state: &AppState) -> Router<AppState> {
    let guard = || state.guard(Endpoint::Webhooks);
    Router::new()
        .route("/api/webhooks", get(list).post(create).route_layer(guard()))
        .route(
            "/api/webhooks/{id}",
            get(show).patch(update).delete(remove).route_layer(guard()),
        )
        .route(
            "/api/webhooks/{id}/rotate-secret",
            post(rotate_secret).route_layer(guard()),
        )
        .route("/api/webhooks/{id}/deliveries", get(deliveries).route_layer(guard()))
        .route("/api/webhooks/{id}/test", post(test).route_layer(guard()))
}

/// A webhook endpoint as the API shows it (never with its signing secret).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Webhook, example = json!({
    "id": 1, "url": "http://127.0.0.1:9000/hooks", "description": "audit relay",
    "events": ["token.revoked", "token.expiring"], "active": true,
    "createdAt": "2026-11-29T13:39:17Z", "createdBy": {"id": 1, "username": "ada"}
}))]
pub struct WebhookView {
    id: i64,
    url: String,
    description: String,
    /// The event types it receives; `["*"]`: all.
    events: Vec<String>,
    /// Inactive endpoints receive nothing; their pending deliveries wait.
    active: bool,
    #[schema(format = DateTime)]
    created_at: String,
    created_by: Option<CreatedBy>,
}

impl WebhookView {
    /// The view of `endpoint`.
    pub fn new(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: if endpoint.events.is_empty() {
                vec!["*".into()]
            } else {
                endpoint.events.clone()
            },
            active: endpoint.active,
            created_at: rfc3339(endpoint.created_at),
            created_by: endpoint.created_by.clone(),
        }
    }
}

/// One delivery: an event for an endpoint, and how its attempts went.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView {
    id: i64,
    webhook_id: i64,
    /// The event's id (`evt_…`), the same for every endpoint and attempt.
    event_id: String,
    /// `token.created`, …, or `ping`.
    event_type: String,
    status: DeliveryStatus,
    attempts: u32,
    /// When the next attempt is due (pending deliveries).
    #[schema(format = DateTime)]
    next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    last_attempt_at: Option<String>,
    /// The HTTP status of the last answer.
    last_status_code: Option<u16>,
    /// Why the last attempt failed.
    last_error: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    delivered_at: Option<String>,
    /// The JSON body sent (it never holds a secret).
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

impl DeliveryView {
    /// The view of `delivery`.
    pub fn new(delivery: &WebhookDelivery) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.endpoint_id,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            status: delivery.status,
            attempts: delivery.attempts,
            next_attempt_at: delivery
                .next_attempt_at
                .filter(|_| delivery.status == DeliveryStatus::Pending)
                .map(rfc3339),
            last_attempt_at: delivery.last_attempt_at.map(rfc3339),
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error.clone(),
            created_at: rfc3339(delivery.created_at),
            delivered_at: delivery.delivered_at.map(rfc3339),
            payload: serde_json::from_str(&delivery.payload).unwrap_or_default(),
        }
    }
}

fn view(endpoint: &WebhookEndpoint) -> serde_json::Value {
    serde_json::to_value(WebhookView::new(endpoint)).unwrap_or_default()
}

/// The one response that shows a signing secret: the endpoint plus `secret`.
fn with_secret(format: Format, status: StatusCode, endpoint: &WebhookEndpoint) -> Response {
    let mut body = view(endpoint);
    body["secret"] = endpoint.secret.expose().into();
    WEBHOOKS.item(format, status, endpoint.id, body)
}

/// List webhook endpoints (Hydra collection in JSON-LD, plain array in JSON).
#[utoipa::path(get, path = "/api/webhooks", tag = "Webhooks", params(super::representation::PageQuery),
    description = "Needs a signed-in administrator's session; no API token may manage webhooks.",
    security(("bearer" = [])),
    responses((status = 200, description = "A page of webhook endpoints",
        content((WebhookCollection = "application/ld+json"), (Vec<WebhookView> = "application/json")))))]
async fn list(
    State(state): State<AppState>,
    format: Format,
    Pagination(page): Pagination,
) -> Result<Response, ApiError> {
    let (endpoints, total) = state.store.list_webhooks(page).await?;
    let members = endpoints.iter().map(|e| (e.id, view(e))).collect();
    Ok(WEBHOOKS.collection(format, page, total, members))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "Webhooks", params(("id" = i64, Path, description = "Webhook id")),
    description = "Needs a signed-in administrator's session.",
    security(("bearer" = [])),
    responses((status = 200, description = "The webhook endpoint", content((WebhookItem = "application/ld+json"), (WebhookView = "application/json")))))]
async fn show(State(state): State<AppState>, format: Format, Id(id): Id) -> Result<Response, ApiError> {
    let endpoint = state.store.webhook(id).await?;
    Ok(WEBHOOKS.item(format, StatusCode::OK, id, view(&endpoint)))
}

/// A new webhook endpoint.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"url": "http://127.0.0.1:9000/hooks", "description": "audit relay", "events": ["token.revoked", "token.expiring"]}))]
pub(super) struct CreateWebhook {
    /// An absolute `http://` URL without user name or password.
    url: String,
    #[serde(default)]
    description: String,
    /// Event types to receive: `token.created`, `token.revoked`, `token.regenerated`,
    /// `token.expiring`, `token.expired`, `token.disabled`; `["*"]` or absent: all.
    events: Option<Vec<String>>,
    /// Whether it receives events (default true).
    active: Option<bool>,
}

/// Fields to change; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"active": false}))]
pub(super) struct UpdateWebhook {
    url: Option<String>,
    description: Option<String>,
    events: Option<Vec<String>>,
    active: Option<bool>,
}

/// Parsed fields of a create or update request.
pub(crate) struct WebhookFields {
    pub url: Option<WebhookUrl>,
    pub description: Option<Description>,
    pub events: Option<Vec<String>>,
}

/// Parses the fields a request gives (shared with the web admin).
pub(crate) fn parse_fields(
    url: Option<&str>,
    description: Option<&str>,
    events: Option<&[String]>,
) -> Result<WebhookFields, ApiError> {
    Ok(WebhookFields {
        url: url
            .map(|u| WebhookUrl::parse(u.trim()).map_err(ApiError::Unprocessable))
            .transpose()?,
        description: description.map(Description::parse).transpose()?,
        events: events
            .map(|e| parse_events(e).map_err(ApiError::Unprocessable))
            .transpose()?,
    })
}

/// Create a webhook endpoint. Its signing secret is in `secret`, in this response only.
#[utoipa::path(post, path = "/api/webhooks", tag = "Webhooks", request_body = CreateWebhook,
    description = "Needs a signed-in administrator's session; no API token may manage webhooks.",
    security(("bearer" = [])),
    responses((status = 201, description = "Created; copy `secret` now, it is not shown again",
        content((WebhookCreated = "application/ld+json"), (WebhookCreated = "application/json")))))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<Response, ApiError> {
    let fields = parse_fields(Some(&body.url), Some(&body.description), body.events.as_deref())?;
    let active = body.active.unwrap_or(true);
    let endpoint = create_webhook(&state, fields, active, client.audit(&principal, &state)).await?;
    Ok(with_secret(format, StatusCode::CREATED, &endpoint))
}

/// Creates an endpoint with a fresh signing secret (shared with the web admin).
pub(crate) async fn create_webhook(
    state: &AppState,
    fields: WebhookFields,
    active: bool,
    audit: AuditContext,
) -> Result<WebhookEndpoint, ApiError> {
    let url = fields
        .url
        .ok_or_else(|| ApiError::Unprocessable("url: required".into()))?;
    let created_by = match &audit.actor {
        Actor::User { id, username } => Some(CreatedBy {
            id: *id,
            username: username.clone(),
        }),
        _ => None,
    };
    let endpoint = NewWebhookEndpoint {
        url,
        description: match fields.description {
            Some(d) => d,
            None => Description::parse("")?,
        },
        events: fields.events.unwrap_or_default(),
        secret: new_secret()?,
        active,
        created_by,
    };
    Ok(state.store.create_webhook(endpoint, audit).await?)
}

/// A fresh signing secret from the OS CSPRNG.
pub(crate) fn new_secret() -> Result<SigningSecret, ApiError> {
    SigningSecret::generate(&mut OsRandom)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("reading the OS random number generator: {e}")))
}

/// Change a webhook endpoint's URL, description, events, or whether it is active.
#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "Webhooks", request_body = UpdateWebhook, params(("id" = i64, Path, description = "Webhook id")),
    description = "Needs a signed-in administrator's session.",
    security(("bearer" = [])),
    responses((status = 200, description = "The changed endpoint", content((WebhookItem = "application/ld+json"), (WebhookView = "application/json")))))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Response, ApiError> {
    let fields = parse_fields(body.url.as_deref(), body.description.as_deref(), body.events.as_deref())?;
    let changes = WebhookEndpointChanges {
        url: fields.url,
        description: fields.description,
        events: fields.events,
        active: body.active,
    };
    let endpoint = state
        .store
        .update_webhook(id, changes, client.audit(&principal, &state))
        .await?;
    Ok(WEBHOOKS.item(format, StatusCode::OK, id, view(&endpoint)))
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "Webhooks", params(("id" = i64, Path, description = "Webhook id")),
    description = "Needs a signed-in administrator's session.",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_webhook(id, client.audit(&principal, &state)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a webhook endpoint a new signing secret (in `secret`, in this response only); the
/// old one stops signing at once.
#[utoipa::path(post, path = "/api/webhooks/{id}/rotate-secret", tag = "Webhooks", params(("id" = i64, Path, description = "Webhook id")),
    description = "Needs a signed-in administrator's session.",
    security(("bearer" = [])),
    responses((status = 200, description = "Rotated; copy `secret` now", content((WebhookCreated = "application/ld+json"), (WebhookCreated = "application/json")))))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let endpoint = state
        .store
        .rotate_webhook_secret(id, new_secret()?, client.audit(&principal, &state))
        .await?;
    Ok(with_secret(format, StatusCode::OK, &endpoint))
}

/// The delivery log of one endpoint, newest first.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "Webhooks",
    params(("id" = i64, Path, description = "Webhook id"), super::representation::PageQuery),
    description = "Needs a signed-in administrator's session.",
    security(("bearer" = [])),
    responses((status = 200, description = "A page of deliveries",
        content((DeliveryCollection = "application/ld+json"), (Vec<DeliveryView> = "application/json")))))]
async fn deliveries(
    State(state): State<AppState>,
    format: Format,
    Id(id): Id,
    Pagination(page): Pagination,
) -> Result<Response, ApiError> {
    let (deliveries, total) = state.store.list_deliveries(id, page).await?;
    let members = deliveries
        .iter()
        .map(|d| (d.id, serde_json::to_value(DeliveryView::new(d)).unwrap_or_default()))
        .collect();
    let path = format!("/api/webhooks/{id}/deliveries");
    Ok(DELIVERIES.collection_at(&path, format, page, total, members))
}

/// JSON-LD identity of deliveries (their collection lives under their endpoint).
const DELIVERIES: Kind = Kind {
    type_name: "WebhookDelivery",
    path: "/api/webhooks",
};

/// Queue a `ping` event for this endpoint, sent like any other event (whether the endpoint
/// is active or not, it waits for it to be active).
#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "Webhooks", params(("id" = i64, Path, description = "Webhook id")),
    description = "Needs a signed-in administrator's session. The answer comes before the attempt; see the delivery log.",
    security(("bearer" = [])),
    responses((status = 202, description = "Queued", content((DeliveryView = "application/json")))))]
async fn test(State(state): State<AppState>, Id(id): Id) -> Result<Response, ApiError> {
    let delivery = queue_ping(&state, id, state.clock.now()).await?;
    let body = serde_json::to_value(DeliveryView::new(&delivery)).unwrap_or_default();
    Ok(Format::Json.respond(StatusCode::ACCEPTED, &body))
}

/// Queues a `ping` (shared with the web admin).
pub(crate) async fn queue_ping(state: &AppState, id: i64, now: UnixTime) -> Result<WebhookDelivery, ApiError> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)
        .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("reading the OS random number generator: {e}")))?;
    let event_id = format!("evt_ping_{}", hex::encode(random));
    Ok(state.store.enqueue_ping(id, &event_id, now).await?)
}
