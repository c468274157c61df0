//! The sessions table.

use async_trait::async_trait;
use sqlx::Row;

use super::{PgStore, unavailable};
use crate::clock::UnixTime;
use crate::store::{SessionRecord, SessionStore, StoreResult};
use crate::token::TokenDigest;

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        user_id: i64,
        digest: TokenDigest,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO sessions (digest, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&digest.as_bytes()[..])
        .bind(user_id)
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.id, s.user_id, s.expires_at, u.username, u.admin
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.digest = $1 AND s.revoked_at IS NULL AND u.active",
        )
        .bind(&digest.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(row.map(|row| SessionRecord {
            id: row.get("id"),
            user_id: row.get("user_id"),
            username: row.get("username"),
            admin: row.get("admin"),
            expires_at: row.get("expires_at"),
        }))
    }

    async fn revoke_session(&self, id: i64, at: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
