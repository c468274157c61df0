//! Change detection: how a running server learns that another process (the CLI, another
//! instance) committed a change that can alter a verification result, so it drops its cache.
//!
//! A backend hands out a [`ChangeFeed`]. SQLite polls a counter that triggers raise
//! ([`PollingFeed`]); PostgreSQL wakes on `LISTEN/NOTIFY`. The server's watcher turns the
//! feed's [`Change`]s into cache operations, so the rule "trust the cache only while change
//! detection works" lives in one place for both backends.

use std::time::Duration;

use async_trait::async_trait;

use super::Store;

/// One event of a change feed.
#[derive(Debug)]
pub enum Change {
    /// Change detection works (again) from now on; anything before may have been missed, so
    /// the cache must be cleared, then may be trusted.
    Subscribed,
    /// Something changed: drop every cached verification.
    Changed,
    /// Change detection broke: stop trusting the cache until the next `Subscribed`.
    Lost(anyhow::Error),
}

/// A stream of [`Change`]s. `next` waits as long as nothing happens; it never ends.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next event.
    async fn next(&mut self) -> Change;
}

/// A feed that polls [`Store::change_counter`] every `interval`.
pub struct PollingFeed<'a> {
    store: &'a dyn Store,
    ticker: tokio::time::Interval,
    last: Option<i64>,
}

impl<'a> PollingFeed<'a> {
    /// Polls `store` every `interval`, the first time at once.
    pub fn new(store: &'a dyn Store, interval: Duration) -> Self {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            store,
            ticker,
            last: None,
        }
    }
}

#[async_trait]
impl ChangeFeed for PollingFeed<'_> {
    async fn next(&mut self) -> Change {
        loop {
            self.ticker.tick().await;
            match self.store.change_counter().await {
                Ok(counter) => match self.last.replace(counter) {
                    None => return Change::Subscribed,
                    Some(last) if last != counter => return Change::Changed,
                    Some(_) => {}
                },
                Err(error) => {
                    // Report a loss once; stay silent while it lasts.
                    if self.last.take().is_some() {
                        return Change::Lost(error.into());
                    }
                }
            }
        }
    }
}
