//! The records the store reads and writes, independent of the backend.

use serde::Serialize;

use crate::auth::{Allowlist, TokenRateLimit};
use crate::clock::UnixTime;
use crate::domain::{Access, Description, Email, PersonName, TokenName, Username};
use crate::token::TokenDigest;

/// A user as the API shows it (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    pub admin: bool,
    pub date_created: UnixTime,
    pub date_modified: UnixTime,
    pub date_logged: Option<UnixTime>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub active: bool,
    pub admin: bool,
    pub password_hash: Option<String>,
}

/// The editable fields of a user, all given (PUT and PATCH both resolve to this).
#[derive(Debug, Clone)]
pub struct UserChanges {
    pub username: Username,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub active: bool,
    pub admin: bool,
}

/// Lifecycle state of an API token, derived from its timestamps and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
    Disabled,
}

impl TokenStatus {
    /// The wire name: `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Disabled => "disabled",
        }
    }
}

/// The user a token was created by, as recorded then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CreatedBy {
    pub id: i64,
    pub username: String,
}

/// An API token's metadata; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    /// SHA-256 of the secret: not a secret itself, and what lets `token export`/`import`
    /// move tokens between installations without anyone learning or re-issuing them.
    pub digest: TokenDigest,
    pub name: String,
    pub description: String,
    pub access: Access,
    pub hint: String,
    pub created_at: UnixTime,
    pub created_by: Option<CreatedBy>,
    pub expires_at: Option<UnixTime>,
    pub last_used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    /// Its own rate limits, or the installation's defaults, or none.
    pub rate_limit: TokenRateLimit,
    /// When it was disabled (it is refused until enabled again).
    pub disabled_at: Option<UnixTime>,
    /// The networks it may be used from; `None`: anywhere.
    pub allowed_ips: Option<Allowlist>,
    /// The secret replaced by the last regeneration, while it may still work.
    pub previous_digest: Option<TokenDigest>,
    /// Until when the previous secret works.
    pub previous_valid_until: Option<UnixTime>,
    /// The last use of the previous secret.
    pub previous_last_used_at: Option<UnixTime>,
}

impl TokenRecord {
    /// The status at time `now`: revoked wins over disabled, disabled over expired.
    pub fn status(&self, now: UnixTime) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.disabled_at.is_some() {
            TokenStatus::Disabled
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub digest: TokenDigest,
    pub hint: String,
    pub name: TokenName,
    pub description: Description,
    pub access: Access,
    pub created_by: Option<CreatedBy>,
    pub expires_at: Option<UnixTime>,
    pub rate_limit: TokenRateLimit,
    pub allowed_ips: Option<Allowlist>,
}

/// Editable token fields; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct TokenChanges {
    pub name: Option<TokenName>,
    pub description: Option<Description>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<UnixTime>>,
    pub rate_limit: Option<TokenRateLimit>,
    /// `Some(None)` removes the allowlist.
    pub allowed_ips: Option<Option<Allowlist>>,
}

/// Which tokens a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFilter {
    /// Every token, revoked and expired ones too.
    #[default]
    All,
    /// Neither revoked nor expired at the given time.
    ActiveAt(UnixTime),
}

/// A live session and the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub admin: bool,
    pub expires_at: UnixTime,
}

/// Offset pagination, validated at the edge (page ≥ 1, limit 1–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// A signed-in user.
    User { id: i64, username: String },
    /// An API token.
    Token { id: i64, name: String },
    /// The command line on the server's machine.
    Cli,
    /// Someone not (yet) identified, e.g. a failed sign-in.
    Anonymous,
    /// Portcullis itself, e.g. disabling unused tokens.
    System,
}

/// Who acts, when and from where: attached to every audited mutation.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    pub at: UnixTime,
    pub client_ip: Option<String>,
}

/// The kinds of audited events.
pub mod audit_kind {
    pub const TOKEN_CREATED: &str = "token.created";
    pub const TOKEN_UPDATED: &str = "token.updated";
    pub const TOKEN_REGENERATED: &str = "token.regenerated";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const TOKEN_LEAK_REPORTED: &str = "token.leak_reported";
    pub const TOKEN_DISABLED: &str = "token.disabled";
    pub const TOKEN_ENABLED: &str = "token.enabled";
    pub const TOKEN_EXPIRING: &str = "token.expiring";
    pub const TOKEN_EXPIRED: &str = "token.expired";
    pub const WEBHOOK_CREATED: &str = "webhook.created";
    pub const WEBHOOK_CHANGED: &str = "webhook.changed";
    pub const WEBHOOK_DELETED: &str = "webhook.deleted";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_CHANGED: &str = "user.changed";
    pub const USER_DELETED: &str = "user.deleted";
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";

    /// Every kind, in the order the audit log's filter offers them.
    pub const ALL: [&str; 19] = [
        TOKEN_CREATED,
        TOKEN_UPDATED,
        TOKEN_REGENERATED,
        TOKEN_REVOKED,
        TOKEN_LEAK_REPORTED,
        TOKEN_DISABLED,
        TOKEN_ENABLED,
        TOKEN_EXPIRING,
        TOKEN_EXPIRED,
        WEBHOOK_CREATED,
        WEBHOOK_CHANGED,
        WEBHOOK_DELETED,
        WEBHOOK_SECRET_ROTATED,
        USER_CREATED,
        USER_CHANGED,
        USER_DELETED,
        USER_PASSWORD_CHANGED,
        LOGIN_SUCCEEDED,
        LOGIN_FAILED,
    ];
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: UnixTime,
    pub kind: String,
    pub actor: Actor,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// An event about to be written (id 0 until stored).
    pub fn new(kind: &str, context: &AuditContext, target: Option<String>, details: serde_json::Value) -> Self {
        Self {
            id: 0,
            at: context.at,
            kind: kind.to_owned(),
            actor: context.actor.clone(),
            target,
            client_ip: context.client_ip.clone(),
            details,
        }
    }
}

/// Allowed and denied requests of one token in one hour (`hour`: its first second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourlyUsage {
    pub token_id: i64,
    pub hour: UnixTime,
    pub allowed: u64,
    pub denied: u64,
}

/// A webhook endpoint. `secret` signs its deliveries and is never shown after creation or
/// rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty means all.
    pub events: Vec<String>,
    pub secret: crate::webhooks::SigningSecret,
    pub active: bool,
    pub created_at: UnixTime,
    pub created_by: Option<CreatedBy>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    /// Whether it receives events of type `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.active && (self.events.is_empty() || self.events.iter().any(|e| e == kind))
    }
}

/// A webhook endpoint to create.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub url: crate::webhooks::WebhookUrl,
    pub description: crate::domain::Description,
    pub events: Vec<String>,
    pub secret: crate::webhooks::SigningSecret,
    pub active: bool,
    pub created_by: Option<CreatedBy>,
}

/// Editable endpoint fields; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointChanges {
    pub url: Option<crate::webhooks::WebhookUrl>,
    pub description: Option<crate::domain::Description>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet delivered; another attempt is due at `next_attempt_at`.
    Pending,
    /// A 2xx answer arrived.
    Succeeded,
    /// Every attempt failed; no more will be made.
    Failed,
}

impl DeliveryStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Reads the stored name (the CHECK constraint admits only these).
    pub fn parse(text: &str) -> Self {
        match text {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One event for one endpoint, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    /// The JSON body sent, exactly (it never holds a secret).
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<UnixTime>,
    pub last_attempt_at: Option<UnixTime>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: UnixTime,
    pub delivered_at: Option<UnixTime>,
}

/// What one attempt came to, for the store to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub at: UnixTime,
    /// The HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// Why it failed, short, without secrets; `None` on success.
    pub error: Option<String>,
    /// When to try again; `None` when done (succeeded, or the last attempt failed).
    pub retry_at: Option<UnixTime>,
}
