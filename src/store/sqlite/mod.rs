//! The embedded SQLite backend: one file under the data directory, WAL journal.

mod audit;
mod reader;
mod sessions;
mod tokens;
mod usage;
mod users;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::Mutex;

use super::{AuditContext, AuditEvent, Store, StoreError, StoreResult};

/// A SQLite database shared by the server and the CLI (several processes may open it).
pub struct SqliteStore {
    pool: SqlitePool,
    /// A connection of its own for the change watcher, so polling never waits for the pool.
    watcher: Mutex<SqliteConnection>,
    /// Connections queried in place for the verifier's lookups (`reader.rs`).
    readers: reader::Readers,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at a `sqlite://` URL or plain path.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(unavailable)?
        } else {
            SqliteConnectOptions::new().filename(url)
        }
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(unavailable)?;
        let watcher = SqliteConnection::connect_with(&options).await.map_err(unavailable)?;
        // The pool has created the file; the readers open it as it is.
        let readers = reader::Readers::open(options.get_filename())?;
        Ok(Self {
            pool,
            watcher: Mutex::new(watcher),
            readers,
        })
    }

    /// The URL of the default database file inside `data_dir`.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("portcullis.db").display())
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

/// Starts a write transaction with `BEGIN IMMEDIATE`: it takes the write lock at once, so it
/// waits (up to the busy timeout) while another connection or process writes. A deferred
/// transaction that read first would instead fail with SQLITE_BUSY at its first write if
/// another commit landed in between, which the server's background writers (last-used
/// times, webhook dispatching) make likely for the CLI.
async fn write_tx(pool: &sqlx::SqlitePool) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)
}

/// Writes an audit event inside the caller's transaction.
async fn audit_in(
    tx: &mut SqliteConnection,
    kind: &str,
    context: &AuditContext,
    target: String,
    details: serde_json::Value,
) -> StoreResult<()> {
    audit::insert(tx, &AuditEvent::new(kind, context, Some(target), details)).await
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.into()))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn change_counter(&self) -> StoreResult<i64> {
        let mut conn = self.watcher.lock().await;
        // Raised by triggers (migration 0007) on changes that can alter a verification only.
        sqlx::query_scalar("SELECT value FROM change_counter WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(unavailable)
    }

    fn pool_usage(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    fn changes(&self, poll_interval: Duration) -> Box<dyn super::ChangeFeed + '_> {
        Box::new(super::PollingFeed::new(self, poll_interval))
    }

    async fn close(&self) {
        self.readers.close();
        self.pool.close().await;
    }
}
