//! Hourly usage counts per token.

use async_trait::async_trait;

use super::{SqliteStore, unavailable};
use crate::clock::UnixTime;
use crate::store::decode;
use crate::store::{HourlyUsage, StoreResult, UsageStore};

/// Counts are stored as signed 64-bit integers; no real count comes near the limit.
fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[async_trait]
impl UsageStore for SqliteStore {
    async fn add_token_usage(&self, counts: &[HourlyUsage]) -> StoreResult<()> {
        let mut tx = super::write_tx(&self.pool).await?;
        for usage in counts {
            sqlx::query(
                "INSERT INTO token_usage (token_id, hour, allowed, denied) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (token_id, hour) DO UPDATE SET \
                 allowed = token_usage.allowed + excluded.allowed, denied = token_usage.denied + excluded.denied",
            )
            .bind(usage.token_id)
            .bind(usage.hour)
            .bind(stored(usage.allowed))
            .bind(stored(usage.denied))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn token_usage(&self, token_id: i64, from: UnixTime, to: UnixTime) -> StoreResult<Vec<HourlyUsage>> {
        let rows = sqlx::query(
            "SELECT token_id, hour, allowed, denied FROM token_usage \
             WHERE token_id = ? AND hour >= ? AND hour < ? ORDER BY hour",
        )
        .bind(token_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows.iter().map(decode::hourly_usage).collect())
    }

    async fn prune_token_usage(&self, before: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM token_usage WHERE hour < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}
