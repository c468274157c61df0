//! The API tokens table.

use async_trait::async_trait;
use serde_json::json;
use sqlx::Row;

use super::{PgStore, audit_in, conflict_or_unavailable, unavailable};
use crate::auth::Allowlist;
use crate::clock::UnixTime;
use crate::store::decode;
use crate::store::{
    AuditContext, NewToken, PageRequest, StoreError, StoreResult, TokenChanges, TokenFilter, TokenRecord, TokenStore,
    audit_kind,
};
use crate::token::TokenDigest;

/// Two tokens with the same digest would need a SHA-256 collision; say so if it ever happens.
const DIGEST_TAKEN: &str = "a token with this digest already exists";

/// A new token, answered with its whole row.
const INSERT_ROW: &str = "INSERT INTO api_tokens (digest, hint, name, description, access, created_at, created_by_id, created_by_name, expires_at, rate_limit_mode, rate_limit_short, rate_limit_long, allowed_ips) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *";
/// A new token unless its digest exists (import), answered with its id or nothing.
const INSERT_OR_SKIP: &str = "INSERT INTO api_tokens (digest, hint, name, description, access, created_at, created_by_id, created_by_name, expires_at, rate_limit_mode, rate_limit_short, rate_limit_long, allowed_ips) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (digest) DO NOTHING RETURNING id";

/// `sql` (one of the inserts above) with the new token's values bound.
fn insert<'q>(
    sql: &'q str,
    token: &'q NewToken,
    at: UnixTime,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(&token.digest.as_bytes()[..])
        .bind(&token.hint)
        .bind(token.name.as_str())
        .bind(token.description.as_str())
        .bind(token.access.as_str())
        .bind(at)
        .bind(token.created_by.as_ref().map(|c| c.id))
        .bind(token.created_by.as_ref().map(|c| c.username.as_str()))
        .bind(token.expires_at)
        .bind(token.rate_limit.to_columns().0)
        .bind(token.rate_limit.to_columns().1)
        .bind(token.rate_limit.to_columns().2)
        .bind(token.allowed_ips.as_ref().map(Allowlist::to_column))
}

pub(super) async fn fetch(conn: &mut sqlx::PgConnection, id: i64) -> StoreResult<TokenRecord> {
    sqlx::query("SELECT * FROM api_tokens WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(unavailable)?
        .map(|row| decode::token(&row))
        .ok_or(StoreError::NotFound)
}

#[async_trait]
impl TokenStore for PgStore {
    async fn create_token(&self, token: NewToken, audit: AuditContext) -> StoreResult<TokenRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = insert(INSERT_ROW, &token, audit.at)
            .fetch_one(&mut *tx)
            .await
            .map_err(conflict_or_unavailable(DIGEST_TAKEN))?;
        let created = decode::token(&row);
        let details = json!({
            "name": created.name, "access": created.access, "expiresAt": created.expires_at, "rateLimit": created.rate_limit,
        });
        audit_in(
            &mut tx,
            audit_kind::TOKEN_CREATED,
            &audit,
            format!("token:{}", created.id),
            details,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(created)
    }

    async fn import_tokens(&self, tokens: &[(NewToken, Option<UnixTime>)], audit: AuditContext) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut imported = 0;
        for (token, revoked_at) in tokens {
            let row = insert(INSERT_OR_SKIP, token, audit.at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
            let Some(id) = row.map(|row| row.get::<i64, _>("id")) else {
                continue;
            };
            imported += 1;
            let details = json!({
                "name": token.name.as_str(), "access": token.access, "expiresAt": token.expires_at,
                "rateLimit": token.rate_limit, "imported": true,
            });
            audit_in(
                &mut tx,
                audit_kind::TOKEN_CREATED,
                &audit,
                format!("token:{id}"),
                details,
            )
            .await?;
            if let Some(at) = *revoked_at {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let revoked = AuditContext { at, ..audit.clone() };
                let details = json!({ "name": token.name.as_str() });
                audit_in(
                    &mut tx,
                    audit_kind::TOKEN_REVOKED,
                    &revoked,
                    format!("token:{id}"),
                    details,
                )
                .await?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(imported)
    }

    async fn token(&self, id: i64) -> StoreResult<TokenRecord> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch(&mut conn, id).await
    }

    async fn list_tokens(&self, filter: TokenFilter, page: PageRequest) -> StoreResult<(Vec<TokenRecord>, u64)> {
        // NULL `$1` lists everything; otherwise only tokens live at that time.
        let now = match filter {
            TokenFilter::All => None,
            TokenFilter::ActiveAt(now) => Some(now),
        };
        const LIVE: &str = "($1::bigint IS NULL OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)))";
        let rows = sqlx::query(&format!(
            "SELECT * FROM api_tokens WHERE {LIVE} ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(now)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM api_tokens WHERE {LIVE}"))
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok((rows.iter().map(decode::token).collect(), total as u64))
    }

    async fn update_token(&self, id: i64, changes: TokenChanges, audit: AuditContext) -> StoreResult<TokenRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let before = fetch(&mut tx, id).await?;
        let name = changes.name.as_ref().map_or(before.name.as_str(), |n| n.as_str());
        let description = changes
            .description
            .as_ref()
            .map_or(before.description.as_str(), |d| d.as_str());
        let expires_at = changes.expires_at.unwrap_or(before.expires_at);
        let (limit_mode, limit_short, limit_long) = changes.rate_limit.unwrap_or(before.rate_limit).to_columns();
        let allowed_ips = changes
            .allowed_ips
            .clone()
            .unwrap_or_else(|| before.allowed_ips.clone());
        sqlx::query("UPDATE api_tokens SET name = $1, description = $2, expires_at = $3, rate_limit_mode = $4, rate_limit_short = $5, rate_limit_long = $6, allowed_ips = $7 WHERE id = $8")
            .bind(name)
            .bind(description)
            .bind(expires_at)
            .bind(limit_mode)
            .bind(limit_short)
            .bind(limit_long)
            .bind(allowed_ips.as_ref().map(Allowlist::to_column))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let after = fetch(&mut tx, id).await?;
        let details = json!({
            "name": after.name,
            "expiresAt": { "from": before.expires_at, "to": after.expires_at },
            "rateLimit": { "from": before.rate_limit, "to": after.rate_limit },
            "allowedIps": {
                "from": before.allowed_ips.as_ref().map(Allowlist::entries),
                "to": after.allowed_ips.as_ref().map(Allowlist::entries),
            },
        });
        audit_in(
            &mut tx,
            audit_kind::TOKEN_UPDATED,
            &audit,
            format!("token:{id}"),
            details,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn revoke_token(&self, id: i64, audit: AuditContext) -> StoreResult<TokenRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let before = fetch(&mut tx, id).await?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(audit.at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        audit_in(
            &mut tx,
            audit_kind::TOKEN_REVOKED,
            &audit,
            format!("token:{id}"),
            json!({ "name": before.name }),
        )
        .await?;
        let after = fetch(&mut tx, id).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn regenerate_token(
        &self,
        id: i64,
        digest: TokenDigest,
        hint: String,
        grace_until: Option<UnixTime>,
        audit: AuditContext,
    ) -> StoreResult<TokenRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // The right-hand sides read the row as it was: `digest` is the replaced secret.
        let updated = sqlx::query(
            "UPDATE api_tokens SET
                previous_digest = CASE WHEN $1::bigint IS NULL THEN NULL ELSE digest END,
                previous_valid_until = $2, previous_last_used_at = NULL,
                digest = $3, hint = $4
             WHERE id = $5 AND revoked_at IS NULL",
        )
        .bind(grace_until)
        .bind(grace_until)
        .bind(&digest.as_bytes()[..])
        .bind(&hint)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_unavailable(DIGEST_TAKEN))?;
        if updated.rows_affected() == 0 {
            // Either missing or revoked: tell the two apart for the caller.
            fetch(&mut tx, id).await?;
            return Err(StoreError::Conflict("a revoked token cannot be regenerated"));
        }
        let after = fetch(&mut tx, id).await?;
        audit_in(
            &mut tx,
            audit_kind::TOKEN_REGENERATED,
            &audit,
            format!("token:{id}"),
            json!({ "name": after.name }),
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn set_token_disabled(&self, id: i64, disabled: bool, audit: AuditContext) -> StoreResult<TokenRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let before = fetch(&mut tx, id).await?;
        if before.revoked_at.is_some() {
            return Err(StoreError::Conflict("a revoked token cannot be disabled or enabled"));
        }
        if before.disabled_at.is_some() == disabled {
            return Ok(before);
        }
        sqlx::query("UPDATE api_tokens SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then_some(audit.at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let kind = if disabled {
            audit_kind::TOKEN_DISABLED
        } else {
            audit_kind::TOKEN_ENABLED
        };
        audit_in(
            &mut tx,
            kind,
            &audit,
            format!("token:{id}"),
            json!({ "name": before.name }),
        )
        .await?;
        let after = fetch(&mut tx, id).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn disable_unused_tokens(&self, unused_since: UnixTime, audit: AuditContext) -> StoreResult<Vec<i64>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE api_tokens SET disabled_at = $1
             WHERE revoked_at IS NULL AND disabled_at IS NULL AND COALESCE(last_used_at, created_at) < $2
             RETURNING id",
        )
        .bind(audit.at)
        .bind(unused_since)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        for id in &ids {
            let details = json!({ "reason": "unused", "unusedSince": unused_since });
            audit_in(
                &mut tx,
                audit_kind::TOKEN_DISABLED,
                &audit,
                format!("token:{id}"),
                details,
            )
            .await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(ids)
    }

    async fn record_previous_secret_use(&self, uses: &[(i64, UnixTime)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE api_tokens SET previous_last_used_at = GREATEST(COALESCE(previous_last_used_at, 0), $1) WHERE id = $2",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn token_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE digest = $1 OR previous_digest = $2")
            .bind(&digest.as_bytes()[..])
            .bind(&digest.as_bytes()[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(row.map(|row| decode::token(&row)))
    }

    async fn record_token_use(&self, uses: &[(i64, UnixTime)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for (id, at) in uses {
            // MAX keeps the newest time if another process recorded a later use.
            sqlx::query("UPDATE api_tokens SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }
}
