//! Persistence: one [`Store`] trait, backends per database. SQLite is the embedded default;
//! PostgreSQL (`postgres/`) serves several instances, with changes pushed by LISTEN/NOTIFY.
//!
//! Every mutation that the audit log records is written in the same transaction as its
//! audit event, so an action is either done and recorded, or neither.

pub mod changes;
pub(crate) mod decode;
mod model;
mod postgres;
mod sqlite;

use async_trait::async_trait;

pub use changes::{Change, ChangeFeed, PollingFeed};
pub use model::*;
pub use postgres::{PgSettings, PgStore};
pub use sqlite::SqliteStore;

use crate::clock::UnixTime;
use crate::token::TokenDigest;

/// What can go wrong in the store, as callers need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the change; the text names what clashed.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database could not answer (down, locked, timed out, corrupt). Callers fail closed.
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users and their passwords.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Number of users, to know whether first-run setup is needed.
    async fn count_users(&self) -> StoreResult<u64>;
    /// Number of active administrators.
    async fn count_active_admins(&self) -> StoreResult<u64>;
    /// Creates a user; `Conflict` if the username is taken.
    async fn create_user(&self, user: NewUser, audit: AuditContext) -> StoreResult<User>;
    /// One user by id.
    async fn user(&self, id: i64) -> StoreResult<User>;
    /// One user by username (case-insensitive), with the password hash for sign-in.
    async fn user_for_login(&self, username: &str) -> StoreResult<(User, Option<String>)>;
    /// A page of users ordered by id, and the total count.
    async fn list_users(&self, page: PageRequest) -> StoreResult<(Vec<User>, u64)>;
    /// Replaces a user's editable fields. Deactivation or demotion ends the user's sessions.
    async fn update_user(&self, id: i64, changes: UserChanges, audit: AuditContext) -> StoreResult<User>;
    /// Deletes a user and their sessions; their tokens stay.
    async fn delete_user(&self, id: i64, audit: AuditContext) -> StoreResult<()>;
    /// Sets a new password hash and ends the user's sessions.
    async fn set_password_hash(&self, id: i64, hash: String, audit: AuditContext) -> StoreResult<()>;
    /// Records a successful sign-in time.
    async fn touch_login(&self, id: i64, at: UnixTime) -> StoreResult<()>;
}

/// API tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token by digest.
    async fn create_token(&self, token: NewToken, audit: AuditContext) -> StoreResult<TokenRecord>;
    /// Imports tokens in one transaction (a `token.created` event each, and `token.revoked`
    /// for those that come revoked), skipping digests already present; answers how many
    /// were imported.
    async fn import_tokens(&self, tokens: &[(NewToken, Option<UnixTime>)], audit: AuditContext) -> StoreResult<u64>;
    /// One token by id.
    async fn token(&self, id: i64) -> StoreResult<TokenRecord>;
    /// A page of tokens, newest first, and the total count.
    async fn list_tokens(&self, filter: TokenFilter, page: PageRequest) -> StoreResult<(Vec<TokenRecord>, u64)>;
    /// Changes name, description or expiry.
    async fn update_token(&self, id: i64, changes: TokenChanges, audit: AuditContext) -> StoreResult<TokenRecord>;
    /// Marks a token revoked at `audit.at`; revoking twice keeps the first time.
    async fn revoke_token(&self, id: i64, audit: AuditContext) -> StoreResult<TokenRecord>;
    /// Replaces the secret of an unrevoked token. With `grace_until`, the previous secret
    /// keeps working until then; without, it stops at once.
    async fn regenerate_token(
        &self,
        id: i64,
        digest: TokenDigest,
        hint: String,
        grace_until: Option<UnixTime>,
        audit: AuditContext,
    ) -> StoreResult<TokenRecord>;
    /// Writes gathered last uses of previous secrets (in their grace period).
    async fn record_previous_secret_use(&self, uses: &[(i64, UnixTime)]) -> StoreResult<()>;
    /// Disables (refused until enabled) or enables an unrevoked token; doing it twice is
    /// harmless. `Conflict` for a revoked token.
    async fn set_token_disabled(&self, id: i64, disabled: bool, audit: AuditContext) -> StoreResult<TokenRecord>;
    /// Disables every live token not used (nor created) since `unused_since`; their ids.
    async fn disable_unused_tokens(&self, unused_since: UnixTime, audit: AuditContext) -> StoreResult<Vec<i64>>;
    /// The token with this digest, whatever its state, or whose previous secret has this
    /// digest (whatever its grace period); the verifier judges it.
    async fn token_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<TokenRecord>>;
    /// Writes gathered last-used times in one transaction.
    async fn record_token_use(&self, uses: &[(i64, UnixTime)]) -> StoreResult<()>;
}

/// Hourly usage counts per token (a table of its own: writing them never touches
/// `api_tokens`, whose PostgreSQL triggers would drop every instance's cache).
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds counts to each (token, hour) row, creating it if needed, in one transaction:
    /// several instances writing the same hour sum up.
    async fn add_token_usage(&self, counts: &[HourlyUsage]) -> StoreResult<()>;
    /// A token's hours in `from..to` that have counts, oldest first.
    async fn token_usage(&self, token_id: i64, from: UnixTime, to: UnixTime) -> StoreResult<Vec<HourlyUsage>>;
    /// Deletes the hours before `before`; how many rows went.
    async fn prune_token_usage(&self, before: UnixTime) -> StoreResult<u64>;
}

/// Sign-in sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session for a user.
    async fn create_session(
        &self,
        user_id: i64,
        digest: TokenDigest,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<i64>;
    /// The live session with this digest and its (active) user, if any.
    async fn session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>>;
    /// Ends one session.
    async fn revoke_session(&self, id: i64, at: UnixTime) -> StoreResult<()>;
}

/// The audit log, the health check and change detection.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event on its own (sign-in outcomes, which change nothing else).
    async fn record(&self, event: AuditEvent) -> StoreResult<()>;
    /// A page of events, newest first, optionally of one kind.
    async fn list_audit(&self, kind: Option<String>, page: PageRequest) -> StoreResult<(Vec<AuditEvent>, u64)>;
}

/// Webhook endpoints and the outbox of their deliveries (docs/webhooks.md).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint.
    async fn create_webhook(&self, endpoint: NewWebhookEndpoint, audit: AuditContext) -> StoreResult<WebhookEndpoint>;
    /// One endpoint by id.
    async fn webhook(&self, id: i64) -> StoreResult<WebhookEndpoint>;
    /// A page of endpoints ordered by id, and the total count.
    async fn list_webhooks(&self, page: PageRequest) -> StoreResult<(Vec<WebhookEndpoint>, u64)>;
    /// Changes URL, description, events or whether it is active.
    async fn update_webhook(
        &self,
        id: i64,
        changes: WebhookEndpointChanges,
        audit: AuditContext,
    ) -> StoreResult<WebhookEndpoint>;
    /// Replaces the signing secret.
    async fn rotate_webhook_secret(
        &self,
        id: i64,
        secret: crate::webhooks::SigningSecret,
        audit: AuditContext,
    ) -> StoreResult<WebhookEndpoint>;
    /// Deletes an endpoint and its deliveries.
    async fn delete_webhook(&self, id: i64, audit: AuditContext) -> StoreResult<()>;
    /// A page of an endpoint's deliveries, newest first, and the total count.
    async fn list_deliveries(&self, endpoint_id: i64, page: PageRequest) -> StoreResult<(Vec<WebhookDelivery>, u64)>;
    /// Queues a test event (`ping`) for one endpoint, due at `now`.
    async fn enqueue_ping(&self, endpoint_id: i64, event_id: &str, now: UnixTime) -> StoreResult<WebhookDelivery>;
    /// Takes up to `limit` audit events not yet dispatched and, in the same transaction,
    /// queues a delivery for each active endpoint that wants one, due at `now`. Each event
    /// is taken once, also with several instances. Returns the number of events taken.
    async fn dispatch_audit_events(&self, now: UnixTime, limit: u32) -> StoreResult<u64>;
    /// Records `token.expiring` for live tokens expiring in `(now, expiring_until]`, and
    /// `token.expired` for unrevoked tokens expired by `now`, each once per expiry time.
    /// Returns the number of notices.
    async fn record_expiry_notices(&self, now: UnixTime, expiring_until: UnixTime) -> StoreResult<u64>;
    /// Claims up to `limit` deliveries due at `now` for active endpoints, leasing them until
    /// `lease_until` so no other sender takes them meanwhile; each with its endpoint.
    async fn claim_deliveries(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<(WebhookDelivery, WebhookEndpoint)>>;
    /// Records the outcome of one attempt.
    async fn record_attempt(&self, delivery_id: i64, result: AttemptResult) -> StoreResult<()>;
    /// Deletes finished (succeeded or failed) deliveries created before `before`; how many.
    async fn prune_deliveries(&self, before: UnixTime) -> StoreResult<u64>;
}

/// A backend: all of the above, plus migrations, readiness and change detection.
#[async_trait]
pub trait Store: UserStore + TokenStore + SessionStore + AuditStore + UsageStore + WebhookStore {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Whether the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    /// A number that changes whenever another connection or process commits a change, so a
    /// running server notices revocations made by the CLI.
    async fn change_counter(&self) -> StoreResult<i64>;
    /// Connections in the pool and how many of them are idle, for metrics.
    fn pool_usage(&self) -> (u32, u32);
    /// The feed of changes committed elsewhere, which the server's watcher applies to the
    /// verification cache. Polling backends check every `poll_interval`.
    fn changes(&self, poll_interval: std::time::Duration) -> Box<dyn ChangeFeed + '_>;
    /// Closes connections, flushing what the backend buffers.
    async fn close(&self);
}

/// Opens the store the settings name, creating the data directory for SQLite.
pub async fn open(settings: &crate::config::Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    use anyhow::Context;
    if settings.database.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        let store = SqliteStore::open(&settings.database)
            .await
            .context("opening the SQLite database")?;
        Ok(std::sync::Arc::new(store))
    } else {
        let store = PgStore::open(&settings.database, &settings.postgres).context("opening the PostgreSQL database")?;
        Ok(std::sync::Arc::new(store))
    }
}
