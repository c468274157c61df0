//! Webhook endpoints and deliveries, and turning audit events into deliveries.

use async_trait::async_trait;
use serde_json::json;
use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{PgStore, audit_in, unavailable};
use crate::clock::{UnixTime, rfc3339};
use crate::store::decode;
use crate::store::{
    Actor, AttemptResult, AuditContext, DeliveryStatus, NewWebhookEndpoint, PageRequest, StoreError, StoreResult,
    WebhookDelivery, WebhookEndpoint, WebhookEndpointChanges, WebhookStore, audit_kind,
};
use crate::webhooks::{SigningSecret, payload};

async fn fetch(conn: &mut PgConnection, id: i64) -> StoreResult<WebhookEndpoint> {
    sqlx::query("SELECT * FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(unavailable)?
        .map(|row| decode::webhook_endpoint(&row))
        .ok_or(StoreError::NotFound)
}

async fn insert_delivery(
    conn: &mut PgConnection,
    endpoint_id: i64,
    event_id: &str,
    event_type: &str,
    body: &str,
    now: UnixTime,
) -> StoreResult<WebhookDelivery> {
    let row = sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(endpoint_id)
    .bind(event_id)
    .bind(event_type)
    .bind(body)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(unavailable)?;
    Ok(decode::webhook_delivery(&row))
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook(&self, endpoint: NewWebhookEndpoint, audit: AuditContext) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = sqlx::query(
            "INSERT INTO webhook_endpoints (url, description, events, secret, active, created_at, created_by_id, created_by_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(endpoint.url.as_str())
        .bind(endpoint.description.as_str())
        .bind(decode::webhook_events_column(&endpoint.events))
        .bind(endpoint.secret.expose())
        .bind(endpoint.active)
        .bind(audit.at)
        .bind(endpoint.created_by.as_ref().map(|c| c.id))
        .bind(endpoint.created_by.as_ref().map(|c| c.username.as_str()))
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        let created = decode::webhook_endpoint(&row);
        let details = json!({ "active": created.active, "events": decode::webhook_events_column(&created.events) });
        audit_in(
            &mut tx,
            audit_kind::WEBHOOK_CREATED,
            &audit,
            format!("webhook:{}", created.id),
            details,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(created)
    }

    async fn webhook(&self, id: i64) -> StoreResult<WebhookEndpoint> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch(&mut conn, id).await
    }

    async fn list_webhooks(&self, page: PageRequest) -> StoreResult<(Vec<WebhookEndpoint>, u64)> {
        let rows = sqlx::query("SELECT * FROM webhook_endpoints ORDER BY id LIMIT $1 OFFSET $2")
            .bind(i64::from(page.limit))
            .bind(page.offset())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok((rows.iter().map(decode::webhook_endpoint).collect(), total as u64))
    }

    async fn update_webhook(
        &self,
        id: i64,
        changes: WebhookEndpointChanges,
        audit: AuditContext,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let before = fetch(&mut tx, id).await?;
        let events = changes.events.unwrap_or(before.events);
        sqlx::query("UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, active = $4 WHERE id = $5")
            .bind(changes.url.as_ref().map_or(before.url.as_str(), |u| u.as_str()))
            .bind(
                changes
                    .description
                    .as_ref()
                    .map_or(before.description.as_str(), |d| d.as_str()),
            )
            .bind(decode::webhook_events_column(&events))
            .bind(changes.active.unwrap_or(before.active))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let after = fetch(&mut tx, id).await?;
        let details = json!({ "active": after.active, "events": decode::webhook_events_column(&after.events) });
        audit_in(
            &mut tx,
            audit_kind::WEBHOOK_CHANGED,
            &audit,
            format!("webhook:{id}"),
            details,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn rotate_webhook_secret(
        &self,
        id: i64,
        secret: SigningSecret,
        audit: AuditContext,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query("UPDATE webhook_endpoints SET secret = $1 WHERE id = $2")
            .bind(secret.expose())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let after = fetch(&mut tx, id).await?;
        audit_in(
            &mut tx,
            audit_kind::WEBHOOK_SECRET_ROTATED,
            &audit,
            format!("webhook:{id}"),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(after)
    }

    async fn delete_webhook(&self, id: i64, audit: AuditContext) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_in(
            &mut tx,
            audit_kind::WEBHOOK_DELETED,
            &audit,
            format!("webhook:{id}"),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list_deliveries(&self, endpoint_id: i64, page: PageRequest) -> StoreResult<(Vec<WebhookDelivery>, u64)> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch(&mut conn, endpoint_id).await?;
        let rows =
            sqlx::query("SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3")
                .bind(endpoint_id)
                .bind(i64::from(page.limit))
                .bind(page.offset())
                .fetch_all(&mut *conn)
                .await
                .map_err(unavailable)?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(unavailable)?;
        Ok((rows.iter().map(decode::webhook_delivery).collect(), total as u64))
    }

    async fn enqueue_ping(&self, endpoint_id: i64, event_id: &str, now: UnixTime) -> StoreResult<WebhookDelivery> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        fetch(&mut tx, endpoint_id).await?;
        let body = payload::ping(event_id, endpoint_id, now);
        let delivery = insert_delivery(&mut tx, endpoint_id, event_id, crate::webhooks::PING, &body, now).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(delivery)
    }

    async fn dispatch_audit_events(&self, now: UnixTime, limit: u32) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // No active endpoint: every pending event is done in one statement, rather than in
        // batches of `limit` (an import of a million tokens would keep the dispatcher busy).
        // An endpoint created meanwhile receives the events that come after it.
        let listening: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE active)")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        if !listening {
            let done = sqlx::query("UPDATE audit_events SET webhook_done = TRUE WHERE NOT webhook_done")
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
            tx.commit().await.map_err(unavailable)?;
            return Ok(done);
        }
        // Rows another instance is dispatching are locked and skipped; marked rows are done
        // for everyone once this commits, so each event is dispatched exactly once.
        let rows = sqlx::query(
            "UPDATE audit_events SET webhook_done = TRUE
             WHERE id IN (SELECT id FROM audit_events WHERE NOT webhook_done ORDER BY id LIMIT $1
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, at, kind, actor_kind, actor_id, actor_name, target, client_ip, details::text AS details",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut events: Vec<_> = rows.iter().map(decode::audit_event).collect();
        events.sort_by_key(|e| e.id);
        let endpoints: Vec<WebhookEndpoint> = sqlx::query("SELECT * FROM webhook_endpoints WHERE active ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?
            .iter()
            .map(decode::webhook_endpoint)
            .collect();
        for event in &events {
            let wanted: Vec<&WebhookEndpoint> = endpoints.iter().filter(|e| e.wants(&event.kind)).collect();
            if wanted.is_empty() || !crate::webhooks::EVENT_TYPES.contains(&event.kind.as_str()) {
                continue;
            }
            let token_id = event
                .target
                .as_deref()
                .and_then(|t| t.strip_prefix("token:"))
                .and_then(|id| id.parse::<i64>().ok());
            let token = match token_id {
                Some(id) => match super::tokens::fetch(&mut tx, id).await {
                    Ok(token) => Some(token),
                    Err(StoreError::NotFound) => None,
                    Err(error) => return Err(error),
                },
                None => None,
            };
            let Some(body) = payload::for_event(event, token.as_ref()) else {
                continue;
            };
            let event_id = payload::event_id(event.id);
            for endpoint in wanted {
                insert_delivery(&mut tx, endpoint.id, &event_id, &event.kind, &body, now).await?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(events.len() as u64)
    }

    async fn record_expiry_notices(&self, now: UnixTime, expiring_until: UnixTime) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let expiring = sqlx::query(
            "UPDATE api_tokens SET expiring_noticed_for = expires_at
             WHERE revoked_at IS NULL AND disabled_at IS NULL AND expires_at > $1 AND expires_at <= $2
               AND (expiring_noticed_for IS NULL OR expiring_noticed_for <> expires_at)
             RETURNING id, name, expires_at",
        )
        .bind(now)
        .bind(expiring_until)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let expired = sqlx::query(
            "UPDATE api_tokens SET expired_noticed_for = expires_at
             WHERE revoked_at IS NULL AND expires_at <= $1
               AND (expired_noticed_for IS NULL OR expired_noticed_for <> expires_at)
             RETURNING id, name, expires_at",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let audit = AuditContext {
            actor: Actor::System,
            at: now,
            client_ip: None,
        };
        for (kind, rows) in [
            (audit_kind::TOKEN_EXPIRING, &expiring),
            (audit_kind::TOKEN_EXPIRED, &expired),
        ] {
            for row in rows {
                let id: i64 = row.get("id");
                let name: String = row.get("name");
                let expires_at: i64 = row.get("expires_at");
                let details = json!({ "name": name, "expiresAt": rfc3339(expires_at) });
                audit_in(&mut tx, kind, &audit, format!("token:{id}"), details).await?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok((expiring.len() + expired.len()) as u64)
    }

    async fn claim_deliveries(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<(WebhookDelivery, WebhookEndpoint)>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let rows = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1
             WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                          WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND e.active
                          ORDER BY d.next_attempt_at, d.id LIMIT $3
                          FOR UPDATE OF d SKIP LOCKED)
             RETURNING *",
        )
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let delivery = decode::webhook_delivery(row);
            let endpoint = fetch(&mut tx, delivery.endpoint_id).await?;
            claimed.push((delivery, endpoint));
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(claimed)
    }

    async fn record_attempt(&self, delivery_id: i64, result: AttemptResult) -> StoreResult<()> {
        let status = match (&result.error, result.retry_at) {
            (None, _) => DeliveryStatus::Succeeded,
            (Some(_), Some(_)) => DeliveryStatus::Pending,
            (Some(_), None) => DeliveryStatus::Failed,
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $1, last_status_code = $2,
                 last_error = $3, status = $4, next_attempt_at = $5, delivered_at = $6
             WHERE id = $7",
        )
        .bind(result.at)
        .bind(result.status_code.map(i32::from))
        .bind(&result.error)
        .bind(status.as_str())
        .bind(result.retry_at)
        .bind((status == DeliveryStatus::Succeeded).then_some(result.at))
        .bind(delivery_id)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn prune_deliveries(&self, before: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}
