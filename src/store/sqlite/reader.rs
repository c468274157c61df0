//! Verification lookups read on the calling thread.
//!
//! sqlx runs every SQLite connection on a worker thread of its own, so each query costs two
//! cross-thread wake-ups: about 100 µs for a lookup whose SQLite work is a few microseconds
//! (bench/RESULTS.md). The verifier's lookup by digest, the one query on the request path,
//! goes instead through a few plain connections (rusqlite) queried in place: an indexed point
//! read of a WAL database, which never waits for writers. When every such connection is busy
//! the caller falls back to the pool, so nothing ever queues behind them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::tokens::BY_DIGEST;
use crate::store::decode::{self, Columns};
use crate::store::{StoreError, StoreResult, TokenRecord};
use crate::token::TokenDigest;

/// How many connections: one per thread that may verify at once, on a small machine.
const READERS: usize = 4;

/// The longest a reader waits on a locked database (a WAL reader only does while the WAL is
/// being recovered); it runs on an async thread, so this stays short.
const BUSY: Duration = Duration::from_millis(100);

pub(super) struct Readers {
    connections: Vec<Mutex<Connection>>,
    /// Set when the store closes: lookups then go to the (closed) pool and fail there.
    closed: AtomicBool,
}

impl Readers {
    /// Opens the readers on the database file at `path`, which exists by now.
    pub(super) fn open(path: &std::path::Path) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connections = (0..READERS)
            .map(|_| {
                let connection = Connection::open_with_flags(path, flags).map_err(unavailable)?;
                connection.busy_timeout(BUSY).map_err(unavailable)?;
                // Readers only, whatever the code asks of them.
                connection
                    .pragma_update(None, "query_only", true)
                    .map_err(unavailable)?;
                Ok(Mutex::new(connection))
            })
            .collect::<StoreResult<_>>()?;
        Ok(Self {
            connections,
            closed: AtomicBool::new(false),
        })
    }

    /// Stops answering; the store is closing.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The token whose secret or previous secret has `digest`; `None` when every reader is
    /// busy, so the caller asks the pool instead.
    pub(super) fn token_by_digest(&self, digest: &TokenDigest) -> Option<StoreResult<Option<TokenRecord>>> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let connection = self.connections.iter().find_map(|c| c.try_lock().ok())?;
        let read = || -> rusqlite::Result<Option<TokenRecord>> {
            let mut statement = connection.prepare_cached(BY_DIGEST)?;
            statement
                .query_row([&digest.as_bytes()[..]], |row| Ok(decode::token(&RusqliteRow(row))))
                .optional()
        };
        Some(read().map_err(unavailable))
    }
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(error.into())
}

struct RusqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Columns for RusqliteRow<'_, '_> {
    fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).ok().flatten()
    }
    fn flag(&self, name: &str) -> bool {
        self.0.get(name).unwrap_or(false)
    }
    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
    fn blob(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::auth::TokenRateLimit;
    use crate::domain::{Access, Description, TokenName};
    use crate::issue::{TokenRequest, issue_token};
    use crate::store::{Actor, AuditContext, Store, TokenStore};
    use crate::token::{Prefix, TokenDigest};

    #[tokio::test]
    async fn readers_and_the_pool_find_the_same_token_and_busy_readers_fall_back_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let request = TokenRequest {
            name: TokenName::parse("reader").unwrap(),
            description: Description::parse("").unwrap(),
            access: Access::Read,
            expires_at: None,
            rate_limit: TokenRateLimit::Off,
            allowed_ips: None,
        };
        let audit = AuditContext {
            actor: Actor::Cli,
            at: 1_800_000_000,
            client_ip: None,
        };
        let (issued, secret) = issue_token(&store, &Prefix::default(), request, None, audit)
            .await
            .unwrap();
        let digest = TokenDigest::of(secret.expose());

        let in_place = store.readers.token_by_digest(&digest).expect("a free reader").unwrap();
        assert_eq!(in_place.as_ref().map(|t| t.id), Some(issued.id));
        assert_eq!(in_place.as_ref().map(|t| t.rate_limit), Some(TokenRateLimit::Off));
        let unknown = store.readers.token_by_digest(&TokenDigest([7; 32])).unwrap().unwrap();
        assert!(unknown.is_none(), "an unknown digest is no token");

        // Every reader busy: the readers decline and the store answers through the pool.
        let held: Vec<_> = store.readers.connections.iter().map(|c| c.lock().unwrap()).collect();
        assert!(store.readers.token_by_digest(&digest).is_none());
        let pooled = store.token_by_digest(&digest).await.unwrap();
        assert_eq!(pooled, in_place, "the pool reads the same row");
        drop(held);
    }
}
