//! The PostgreSQL change feed: a dedicated connection that `LISTEN`s on the changes channel.
//!
//! A notification means "drop the cache". Losing the connection means notifications may be
//! missed, so the feed reports `Lost` at once (the server stops trusting its cache) and
//! reconnects; only after `LISTEN` succeeded on the new connection does it report
//! `Subscribed` (the server clears the cache, then trusts it again). A connection that hangs
//! without closing (a network partition) is found by a heartbeat query whenever the channel
//! has been quiet for the heartbeat interval.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::CHANGES_CHANNEL;
use crate::store::changes::{Change, ChangeFeed};

/// Longest pause between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// First pause after a failed reconnection attempt.
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// The feed; created unsubscribed, it connects on the first `next`.
pub struct ListenerFeed {
    pool: PgPool,
    heartbeat: Duration,
    listener: Option<PgListener>,
    /// Whether the current outage was already reported as `Lost`.
    reported_loss: bool,
    backoff: Duration,
}

impl ListenerFeed {
    pub fn new(pool: PgPool, heartbeat: Duration) -> Self {
        Self {
            pool,
            heartbeat,
            listener: None,
            // The server starts with an untrusted cache: there is nothing to report yet.
            reported_loss: true,
            backoff: Duration::ZERO,
        }
    }

    async fn subscribe(&self) -> anyhow::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("connecting the change listener")?;
        // A lost connection must surface as `Ok(None)` at once, not after a reconnect.
        listener.eager_reconnect(false);
        tokio::time::timeout(
            self.heartbeat.max(Duration::from_secs(1)),
            listener.listen(CHANGES_CHANNEL),
        )
        .await
        .context("LISTEN timed out")?
        .context("LISTEN failed")?;
        Ok(listener)
    }

    fn lose(&mut self, error: anyhow::Error) -> Option<Change> {
        self.listener = None;
        if self.reported_loss {
            return None;
        }
        self.reported_loss = true;
        Some(Change::Lost(error))
    }
}

#[async_trait]
impl ChangeFeed for ListenerFeed {
    async fn next(&mut self) -> Change {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                tokio::time::sleep(self.backoff).await;
                match self.subscribe().await {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        self.reported_loss = false;
                        self.backoff = Duration::ZERO;
                        return Change::Subscribed;
                    }
                    Err(error) => {
                        self.backoff = (self.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
                        if let Some(change) = self.lose(error) {
                            return change;
                        }
                        continue;
                    }
                }
            };
            // Cancelling the wait is safe: sqlx reads messages into the connection's buffer and
            // takes one out only when it is complete (`recv_unchecked` is cancel-safe), so a
            // notification split across reads is not lost; it is returned by the next wait.
            match tokio::time::timeout(self.heartbeat, listener.try_recv()).await {
                Ok(Ok(Some(_notification))) => return Change::Changed,
                Ok(Ok(None)) => {
                    if let Some(change) = self.lose(anyhow::anyhow!("the change listener's connection was closed")) {
                        return change;
                    }
                }
                Ok(Err(error)) => {
                    if let Some(change) = self.lose(anyhow::Error::new(error).context("the change listener failed")) {
                        return change;
                    }
                }
                Err(_quiet) => {
                    let probe = tokio::time::timeout(self.heartbeat, sqlx::query("SELECT 1").execute(&mut *listener));
                    let error = match probe.await {
                        Ok(Ok(_)) => continue,
                        Ok(Err(error)) => anyhow::Error::new(error).context("the change listener's heartbeat failed"),
                        Err(_) => anyhow::anyhow!("the change listener's heartbeat timed out"),
                    };
                    if let Some(change) = self.lose(error) {
                        return change;
                    }
                }
            }
        }
    }
}
