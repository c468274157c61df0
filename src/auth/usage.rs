//! Per-token usage counts: allowed and denied requests per token and hour, gathered in memory
//! on the request path and added to the store in batches by the last-used flusher.
//!
//! The store adds a batch to what is already there (an upsert per token and hour), so several
//! instances writing the same hour sum correctly. Hours older than [`RETENTION`] are pruned.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::clock::UnixTime;
use crate::store::{HourlyUsage, Store, StoreResult};

/// Seconds in an hour, the width of a usage bucket.
pub const HOUR: i64 = 3600;

/// How long hourly counts are kept: 30 days.
pub const RETENTION: i64 = 30 * 24 * HOUR;

/// Shards of the in-memory counts, so requests of different tokens rarely share a lock.
const SHARDS: usize = 16;

/// The start of the hour `at` falls in.
pub fn hour_of(at: UnixTime) -> UnixTime {
    at - at.rem_euclid(HOUR)
}

/// Allowed and denied requests of one token in one hour, not yet written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    allowed: u64,
    denied: u64,
}

/// The counts gathered since the last flush.
#[derive(Debug)]
pub struct UsageCounter {
    /// (token id, hour) → counts, sharded by token id. A std mutex: it is held for one map
    /// update, never across an await.
    shards: [Mutex<HashMap<(i64, UnixTime), Counts>>; SHARDS],
    /// When old hours were last pruned (0: never since start).
    pruned_at: AtomicI64,
}

impl Default for UsageCounter {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::default()),
            pruned_at: AtomicI64::new(0),
        }
    }
}

impl UsageCounter {
    /// Counts one request with token `id` at `now`: allowed, or denied for this token.
    pub fn record(&self, id: i64, allowed: bool, now: UnixTime) {
        let shard = &self.shards[id.rem_euclid(SHARDS as i64) as usize];
        let mut counts = shard.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counts.entry((id, hour_of(now))).or_default();
        if allowed {
            entry.allowed += 1;
        } else {
            entry.denied += 1;
        }
    }

    /// Takes every gathered count, leaving none.
    fn take(&self) -> Vec<HourlyUsage> {
        let mut batch = Vec::new();
        for shard in &self.shards {
            let counts = std::mem::take(&mut *shard.lock().unwrap_or_else(|p| p.into_inner()));
            batch.extend(counts.into_iter().map(|((token_id, hour), c)| HourlyUsage {
                token_id,
                hour,
                allowed: c.allowed,
                denied: c.denied,
            }));
        }
        batch
    }

    /// Puts back counts a failed write could not store, for the next flush.
    fn restore(&self, batch: Vec<HourlyUsage>) {
        for usage in batch {
            let shard = &self.shards[usage.token_id.rem_euclid(SHARDS as i64) as usize];
            let mut counts = shard.lock().unwrap_or_else(|p| p.into_inner());
            let entry = counts.entry((usage.token_id, usage.hour)).or_default();
            entry.allowed += usage.allowed;
            entry.denied += usage.denied;
        }
    }

    /// Adds the gathered counts to the store in one transaction (kept for the next flush on
    /// failure), and at most once an hour deletes hours older than [`RETENTION`]. Returns
    /// how many (token, hour) rows were written.
    pub async fn flush(&self, store: &dyn Store, now: UnixTime) -> StoreResult<usize> {
        let batch = self.take();
        let written = batch.len();
        if !batch.is_empty()
            && let Err(error) = store.add_token_usage(&batch).await
        {
            self.restore(batch);
            return Err(error);
        }
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now - last >= HOUR
            && self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let before = hour_of(now) - RETENTION;
            match store.prune_token_usage(before).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "pruned hourly usage older than 30 days"),
                Err(error) => {
                    // Tried again at the next flush.
                    self.pruned_at.store(last, Ordering::Relaxed);
                    tracing::warn!(error = format!("{error:#}"), "pruning old hourly usage");
                }
            }
        }
        Ok(written)
    }

    /// Counts gathered for token `id` and not yet written, per hour.
    pub fn pending(&self, id: i64) -> Vec<HourlyUsage> {
        let shard = &self.shards[id.rem_euclid(SHARDS as i64) as usize];
        let counts = shard.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .iter()
            .filter(|((token_id, _), _)| *token_id == id)
            .map(|((token_id, hour), c)| HourlyUsage {
                token_id: *token_id,
                hour: *hour,
                allowed: c.allowed,
                denied: c.denied,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_start_on_the_hour() {
        let cases = [
            (0, 0),
            (3599, 0),
            (3600, 3600),
            (1_800_001_234, 1_800_000_000),
            (-1, -3600),
        ];
        for (at, hour) in cases {
            assert_eq!(hour_of(at), hour, "hour of {at}");
        }
    }

    #[test]
    fn requests_are_counted_per_token_and_hour() {
        let counter = UsageCounter::default();
        let now = 1_800_000_000;
        counter.record(1, true, now);
        counter.record(1, true, now + 1);
        counter.record(1, false, now);
        counter.record(2, false, now);
        counter.record(17, true, now);
        let mut pending = counter.pending(1);
        pending.sort_by_key(|u| u.hour);
        assert_eq!(
            pending,
            [HourlyUsage {
                token_id: 1,
                hour: hour_of(now),
                allowed: 2,
                denied: 1
            }],
            "token 17 shares token 1's shard but not its counts"
        );
        let mut taken = counter.take();
        taken.sort_by_key(|u| u.token_id);
        assert_eq!(taken.len(), 3);
        assert!(counter.pending(1).is_empty(), "taking empties the counter");
        counter.restore(taken);
        assert_eq!(counter.pending(2)[0].denied, 1, "restored after a failed write");
    }

    #[tokio::test]
    async fn counts_land_in_the_hour_of_the_clock_and_add_up_across_flushes() {
        use crate::auth::{Grant, TokenRateLimit, Verifier};
        use crate::clock::{Clock, ManualClock};
        use crate::domain::{Access, Description, TokenName};
        use crate::issue::{TokenRequest, issue_token};
        use crate::store::{Actor, AuditContext, SqliteStore};
        use crate::token::Prefix;
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        // Ten seconds before a full hour.
        let start = 1_800_003_590;
        let clock = ManualClock::new(start);
        let verifier = Verifier::new(store.clone(), Arc::new(clock.clone()), 100, 60);
        let request = TokenRequest {
            name: TokenName::parse("t").unwrap(),
            description: Description::parse("").unwrap(),
            access: Access::Read,
            expires_at: None,
            rate_limit: TokenRateLimit::Default,
            allowed_ips: None,
        };
        let audit = AuditContext {
            actor: Actor::Cli,
            at: start,
            client_ip: None,
        };
        let (record, secret) = issue_token(store.as_ref(), &Prefix::default(), request, None, audit.clone())
            .await
            .unwrap();
        let id = record.id;
        let grant: Grant = verifier.verify(secret.expose()).await.unwrap().unwrap();
        verifier.count(&grant, true);
        verifier.count(&grant, false);
        clock.advance(10);
        verifier.count(&grant, true);
        assert_eq!(verifier.flush_usage().await.unwrap(), 1, "last-used still written");
        let first = hour_of(start);
        let stored = |from, to| {
            let store = store.clone();
            async move { store.token_usage(id, from, to).await.unwrap() }
        };
        assert_eq!(
            stored(0, i64::MAX).await,
            [
                HourlyUsage {
                    token_id: id,
                    hour: first,
                    allowed: 1,
                    denied: 1
                },
                HourlyUsage {
                    token_id: id,
                    hour: first + HOUR,
                    allowed: 1,
                    denied: 0
                },
            ],
            "one row per hour the requests fell in"
        );
        // Another instance (or a later flush) adds to the same hour.
        verifier.count(&grant, true);
        verifier.counts().flush(store.as_ref(), clock.now()).await.unwrap();
        assert_eq!(
            stored(first + HOUR, first + 2 * HOUR).await[0].allowed,
            2,
            "added, not replaced"
        );

        // A revoked token's refusals count as denied once the cache lets the store answer.
        store.revoke_token(id, audit).await.unwrap();
        verifier.invalidate();
        assert!(verifier.verify(secret.expose()).await.unwrap().is_err());
        assert_eq!(
            verifier.counts().pending(id)[0].denied,
            1,
            "a revoked token's request is denied"
        );

        // Thirty days later the old hours are pruned at the next flush.
        clock.advance(RETENTION + HOUR);
        verifier.counts().flush(store.as_ref(), clock.now()).await.unwrap();
        assert!(stored(0, first + 2 * HOUR).await.is_empty(), "older than 30 days: gone");
    }
}
