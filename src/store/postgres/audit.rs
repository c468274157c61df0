//! The audit log table.

use async_trait::async_trait;
use sqlx::postgres::PgConnection;

use super::{PgStore, unavailable};
use crate::store::decode;
use crate::store::{Actor, AuditEvent, AuditStore, PageRequest, StoreResult};

pub(super) async fn insert(conn: &mut PgConnection, event: &AuditEvent) -> StoreResult<()> {
    let (actor_kind, actor_id, actor_name) = match &event.actor {
        Actor::User { id, username } => ("user", Some(*id), Some(username.as_str())),
        Actor::Token { id, name } => ("token", Some(*id), Some(name.as_str())),
        Actor::Cli => ("cli", None, None),
        Actor::Anonymous => ("anonymous", None, None),
        Actor::System => ("system", None, None),
    };
    sqlx::query(
        "INSERT INTO audit_events (at, kind, actor_kind, actor_id, actor_name, target, client_ip, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
    )
    .bind(event.at)
    .bind(&event.kind)
    .bind(actor_kind)
    .bind(actor_id)
    .bind(actor_name)
    .bind(&event.target)
    .bind(&event.client_ip)
    .bind(event.details.to_string())
    .execute(conn)
    .await
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record(&self, event: AuditEvent) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert(&mut conn, &event).await
    }

    async fn list_audit(&self, kind: Option<String>, page: PageRequest) -> StoreResult<(Vec<AuditEvent>, u64)> {
        let rows = sqlx::query(
            "SELECT id, at, kind, actor_kind, actor_id, actor_name, target, client_ip, details::text AS details
             FROM audit_events WHERE ($1::text IS NULL OR kind = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(&kind)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE ($1::text IS NULL OR kind = $1)")
            .bind(&kind)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok((rows.iter().map(decode::audit_event).collect(), total as u64))
    }
}
