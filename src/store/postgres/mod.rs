//! The PostgreSQL backend, for several instances sharing one database.
//!
//! Same tables as SQLite (times as BIGINT unix seconds, digests as BYTEA). Migrations run
//! under sqlx's PostgreSQL advisory lock, so instances starting together migrate once.
//! Triggers announce every change that can alter a verification on the channel
//! [`CHANGES_CHANNEL`]; [`listener::ListenerFeed`] turns those into cache invalidations.

mod audit;
mod listener;
mod sessions;
mod tokens;
mod usage;
mod users;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::changes::ChangeFeed;
use super::{AuditContext, AuditEvent, Store, StoreError, StoreResult};

/// The NOTIFY channel of the migration's triggers.
pub const CHANGES_CHANNEL: &str = "portcullis_changes";

/// How the pool talks to PostgreSQL; from the `[database]` settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Most connections per instance.
    pub max_connections: u32,
    /// Longest wait for a connection (including connecting) before the store is "unavailable".
    pub acquire_timeout: Duration,
    /// Longest a statement may run before PostgreSQL cancels it.
    pub statement_timeout: Duration,
    /// How long the change listener may hear nothing before it checks its connection.
    pub listener_heartbeat: Duration,
}

/// The `application_name` of the change listener's connection, so operators (and tests) can
/// tell it from the pool's in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "portcullis-listener";

/// A PostgreSQL database shared by every instance and the CLI.
pub struct PgStore {
    pool: PgPool,
    /// A pool of one for the change listener, so it never competes with requests.
    listener_pool: PgPool,
    heartbeat: Duration,
}

impl PgStore {
    /// Connects lazily: the pool opens connections on first use, so an instance can start
    /// (and answer `/readyz` with 503) while PostgreSQL is still down.
    pub fn open(url: &str, settings: &PgSettings) -> StoreResult<Self> {
        let statement_timeout = settings.statement_timeout.as_millis().max(1).to_string();
        let options = PgConnectOptions::from_str(url)
            .map_err(unavailable)?
            .application_name("portcullis")
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection that died with the server is found and replaced before use.
            .test_before_acquire(true)
            .connect_lazy_with(options.clone());
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.application_name(LISTENER_APPLICATION_NAME));
        Ok(Self {
            pool,
            listener_pool,
            heartbeat: settings.listener_heartbeat,
        })
    }
}

/// Maps a database error to the store's vocabulary.
fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.into())
}

/// Like [`unavailable`], but a uniqueness violation becomes a `Conflict` naming `what`.
fn conflict_or_unavailable(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => unavailable(error),
    }
}

/// Writes an audit event inside the caller's transaction.
async fn audit_in(
    tx: &mut PgConnection,
    kind: &str,
    context: &AuditContext,
    target: String,
    details: serde_json::Value,
) -> StoreResult<()> {
    audit::insert(tx, &AuditEvent::new(kind, context, Some(target), details)).await
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        // sqlx's migrator takes `pg_advisory_lock` (keyed by database name) before it reads or
        // creates its bookkeeping table, so concurrent starts apply each migration once.
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.into()))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn change_counter(&self) -> StoreResult<i64> {
        // Changes are pushed (LISTEN/NOTIFY), not polled; see `changes`. This answers
        // whether the database is reachable, with a constant.
        self.ping().await.map(|()| 0)
    }

    fn changes(&self, _poll_interval: Duration) -> Box<dyn ChangeFeed + '_> {
        Box::new(listener::ListenerFeed::new(self.listener_pool.clone(), self.heartbeat))
    }

    fn pool_usage(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    async fn close(&self) {
        self.listener_pool.close().await;
        self.pool.close().await;
    }
}
