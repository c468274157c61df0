//! The users table.

use async_trait::async_trait;
use serde_json::json;
use sqlx::Row;

use super::{SqliteStore, audit_in, conflict_or_unavailable, unavailable, write_tx};
use crate::clock::UnixTime;
use crate::store::decode;
use crate::store::{
    AuditContext, NewUser, PageRequest, StoreError, StoreResult, User, UserChanges, UserStore, audit_kind,
};

const USERNAME_TAKEN: &str = "a user with this username already exists";

#[async_trait]
impl UserStore for SqliteStore {
    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn count_active_admins(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE admin = 1 AND active = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn create_user(&self, user: NewUser, audit: AuditContext) -> StoreResult<User> {
        let mut tx = write_tx(&self.pool).await?;
        let row = sqlx::query(
            "INSERT INTO users (username, email, first_name, last_name, password_hash, active, admin, date_created, date_modified)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(user.username.as_str())
        .bind(user.email.as_str())
        .bind(user.first_name.as_str())
        .bind(user.last_name.as_str())
        .bind(&user.password_hash)
        .bind(user.active)
        .bind(user.admin)
        .bind(audit.at)
        .bind(audit.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_or_unavailable(USERNAME_TAKEN))?;
        let created = decode::user(&row);
        let details = json!({ "username": created.username, "admin": created.admin, "active": created.active });
        audit_in(
            &mut tx,
            audit_kind::USER_CREATED,
            &audit,
            format!("user:{}", created.id),
            details,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(created)
    }

    async fn user(&self, id: i64) -> StoreResult<User> {
        sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| decode::user(&row))
            .ok_or(StoreError::NotFound)
    }

    async fn user_for_login(&self, username: &str) -> StoreResult<(User, Option<String>)> {
        sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| (decode::user(&row), row.get("password_hash")))
            .ok_or(StoreError::NotFound)
    }

    async fn list_users(&self, page: PageRequest) -> StoreResult<(Vec<User>, u64)> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY id LIMIT ? OFFSET ?")
            .bind(i64::from(page.limit))
            .bind(page.offset())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok((rows.iter().map(decode::user).collect(), self.count_users().await?))
    }

    async fn update_user(&self, id: i64, changes: UserChanges, audit: AuditContext) -> StoreResult<User> {
        let mut tx = write_tx(&self.pool).await?;
        let before = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .map(|row| decode::user(&row))
            .ok_or(StoreError::NotFound)?;
        let row = sqlx::query(
            "UPDATE users SET username = ?, email = ?, first_name = ?, last_name = ?, active = ?, admin = ?, date_modified = ?
             WHERE id = ? RETURNING *",
        )
        .bind(changes.username.as_str())
        .bind(changes.email.as_str())
        .bind(changes.first_name.as_str())
        .bind(changes.last_name.as_str())
        .bind(changes.active)
        .bind(changes.admin)
        .bind(audit.at)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_or_unavailable(USERNAME_TAKEN))?;
        let after = decode::user(&row);
        if (before.active && !after.active) || (before.admin && !after.admin) {
            end_sessions(&mut tx, id, audit.at).await?;
        }
        let details = json!({
            "username": after.username,
            "active": { "from": before.active, "to": after.active },
            "admin": { "from": before.admin, "to": after.admin },
        });
        audit_in(&mut tx, audit_kind::USER_CHANGED, &audit, format!("user:{id}"), details).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn delete_user(&self, id: i64, audit: AuditContext) -> StoreResult<()> {
        let mut tx = write_tx(&self.pool).await?;
        let username: Option<String> = sqlx::query_scalar("DELETE FROM users WHERE id = ? RETURNING username")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let username = username.ok_or(StoreError::NotFound)?;
        audit_in(
            &mut tx,
            audit_kind::USER_DELETED,
            &audit,
            format!("user:{id}"),
            json!({ "username": username }),
        )
        .await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn set_password_hash(&self, id: i64, hash: String, audit: AuditContext) -> StoreResult<()> {
        let mut tx = write_tx(&self.pool).await?;
        let updated = sqlx::query("UPDATE users SET password_hash = ?, date_modified = ? WHERE id = ?")
            .bind(hash)
            .bind(audit.at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        end_sessions(&mut tx, id, audit.at).await?;
        audit_in(
            &mut tx,
            audit_kind::USER_PASSWORD_CHANGED,
            &audit,
            format!("user:{id}"),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn touch_login(&self, id: i64, at: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE users SET date_logged = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Revokes every live session of a user (deactivation, demotion, password change).
async fn end_sessions(conn: &mut sqlx::SqliteConnection, user_id: i64, at: UnixTime) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
        .bind(at)
        .bind(user_id)
        .execute(conn)
        .await
        .map_err(unavailable)?;
    Ok(())
}
