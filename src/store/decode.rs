//! Records decoded from table rows, once for every backend: SQLite through sqlx, the SQLite
//! in-place readers (rusqlite) and PostgreSQL. Each row type says how to read one column
//! ([`Columns`]); the functions here build the records, so a column added to a table is read
//! in one place.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{
    Actor, AuditEvent, CreatedBy, DeliveryStatus, HourlyUsage, TokenRecord, User, WebhookDelivery, WebhookEndpoint,
};
use crate::auth::{Allowlist, TokenRateLimit};
use crate::domain::Access;
use crate::token::TokenDigest;
use crate::webhooks::SigningSecret;

/// Reading one column of a row by name. NULL, a missing column and a column of another type
/// all read as `None` (a flag as `false`): the migrations own the schema, and a damaged row
/// then decodes to a record that matches nothing rather than stopping the server.
pub trait Columns {
    fn int(&self, name: &str) -> Option<i64>;
    fn flag(&self, name: &str) -> bool;
    fn text(&self, name: &str) -> Option<String>;
    fn blob(&self, name: &str) -> Option<Vec<u8>>;
}

impl Columns for SqliteRow {
    fn int(&self, name: &str) -> Option<i64> {
        self.try_get(name).ok().flatten()
    }
    fn flag(&self, name: &str) -> bool {
        self.try_get(name).unwrap_or(false)
    }
    fn text(&self, name: &str) -> Option<String> {
        self.try_get(name).ok().flatten()
    }
    fn blob(&self, name: &str) -> Option<Vec<u8>> {
        self.try_get(name).ok().flatten()
    }
}

impl Columns for PgRow {
    /// `BIGINT` mostly; `INTEGER` for the webhook attempt counts and status codes.
    fn int(&self, name: &str) -> Option<i64> {
        match self.try_get::<Option<i64>, _>(name) {
            Ok(value) => value,
            Err(_) => self.try_get::<Option<i32>, _>(name).ok().flatten().map(i64::from),
        }
    }
    fn flag(&self, name: &str) -> bool {
        self.try_get(name).unwrap_or(false)
    }
    fn text(&self, name: &str) -> Option<String> {
        self.try_get(name).ok().flatten()
    }
    fn blob(&self, name: &str) -> Option<Vec<u8>> {
        self.try_get(name).ok().flatten()
    }
}

fn text(row: &impl Columns, name: &str) -> String {
    row.text(name).unwrap_or_default()
}

fn created_by(row: &impl Columns) -> Option<CreatedBy> {
    row.int("created_by_id").map(|id| CreatedBy {
        id,
        username: text(row, "created_by_name"),
    })
}

/// A row of `api_tokens`.
pub fn token(row: &impl Columns) -> TokenRecord {
    let digest = |name: &str| {
        row.blob(name)
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
            .map(TokenDigest)
    };
    TokenRecord {
        id: row.int("id").unwrap_or_default(),
        // Digests are written as 32 bytes only; a damaged row then matches no token.
        digest: digest("digest").unwrap_or(TokenDigest([0; 32])),
        name: text(row, "name"),
        description: text(row, "description"),
        // The CHECK constraint admits only these two values.
        access: Access::parse(&text(row, "access")).unwrap_or(Access::Read),
        hint: text(row, "hint"),
        created_at: row.int("created_at").unwrap_or_default(),
        created_by: created_by(row),
        expires_at: row.int("expires_at"),
        last_used_at: row.int("last_used_at"),
        revoked_at: row.int("revoked_at"),
        rate_limit: TokenRateLimit::from_columns(
            &text(row, "rate_limit_mode"),
            row.int("rate_limit_short"),
            row.int("rate_limit_long"),
        ),
        disabled_at: row.int("disabled_at"),
        allowed_ips: row.text("allowed_ips").map(|text| Allowlist::from_column(&text)),
        previous_digest: digest("previous_digest"),
        previous_valid_until: row.int("previous_valid_until"),
        previous_last_used_at: row.int("previous_last_used_at"),
    }
}

/// A row of `users` (its password hash is read where it is needed, not here).
pub fn user(row: &impl Columns) -> User {
    User {
        id: row.int("id").unwrap_or_default(),
        username: text(row, "username"),
        email: text(row, "email"),
        first_name: text(row, "first_name"),
        last_name: text(row, "last_name"),
        active: row.flag("active"),
        admin: row.flag("admin"),
        date_created: row.int("date_created").unwrap_or_default(),
        date_modified: row.int("date_modified").unwrap_or_default(),
        date_logged: row.int("date_logged"),
    }
}

/// A row of `audit_events`, with `details` as JSON text.
pub fn audit_event(row: &impl Columns) -> AuditEvent {
    let actor = match text(row, "actor_kind").as_str() {
        "user" => Actor::User {
            id: row.int("actor_id").unwrap_or_default(),
            username: text(row, "actor_name"),
        },
        "token" => Actor::Token {
            id: row.int("actor_id").unwrap_or_default(),
            name: text(row, "actor_name"),
        },
        "cli" => Actor::Cli,
        "system" => Actor::System,
        _ => Actor::Anonymous,
    };
    AuditEvent {
        id: row.int("id").unwrap_or_default(),
        at: row.int("at").unwrap_or_default(),
        kind: text(row, "kind"),
        actor,
        target: row.text("target"),
        client_ip: row.text("client_ip"),
        details: serde_json::from_str(&text(row, "details")).unwrap_or_default(),
    }
}

/// A row of `token_usage`.
pub fn hourly_usage(row: &impl Columns) -> HourlyUsage {
    let count = |name: &str| u64::try_from(row.int(name).unwrap_or_default()).unwrap_or(0);
    HourlyUsage {
        token_id: row.int("token_id").unwrap_or_default(),
        hour: row.int("hour").unwrap_or_default(),
        allowed: count("allowed"),
        denied: count("denied"),
    }
}

/// Stored form of a webhook's subscription list: `*` for all.
pub fn webhook_events_column(events: &[String]) -> String {
    if events.is_empty() {
        "*".to_owned()
    } else {
        events.join(",")
    }
}

/// A row of `webhook_endpoints`.
pub fn webhook_endpoint(row: &impl Columns) -> WebhookEndpoint {
    let events = text(row, "events");
    WebhookEndpoint {
        id: row.int("id").unwrap_or_default(),
        url: text(row, "url"),
        description: text(row, "description"),
        events: if events == "*" {
            Vec::new()
        } else {
            events.split(',').map(str::to_owned).collect()
        },
        secret: SigningSecret::from_stored(text(row, "secret")),
        active: row.flag("active"),
        created_at: row.int("created_at").unwrap_or_default(),
        created_by: created_by(row),
    }
}

/// A row of `webhook_deliveries`.
pub fn webhook_delivery(row: &impl Columns) -> WebhookDelivery {
    WebhookDelivery {
        id: row.int("id").unwrap_or_default(),
        endpoint_id: row.int("endpoint_id").unwrap_or_default(),
        event_id: text(row, "event_id"),
        event_type: text(row, "event_type"),
        payload: text(row, "payload"),
        status: DeliveryStatus::parse(&text(row, "status")),
        attempts: u32::try_from(row.int("attempts").unwrap_or_default()).unwrap_or(0),
        next_attempt_at: row.int("next_attempt_at"),
        last_attempt_at: row.int("last_attempt_at"),
        last_status_code: row.int("last_status_code").and_then(|c| u16::try_from(c).ok()),
        last_error: row.text("last_error"),
        created_at: row.int("created_at").unwrap_or_default(),
        delivered_at: row.int("delivered_at"),
    }
}
