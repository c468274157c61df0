//! The body of a delivery: `{"id","type","createdAt","data":{"token","actor",…}}`.
//!
//! Built from the audit event and the token's metadata, field by field: a token's secret and
//! digest are not among them, so no delivery can carry either.

use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::store::{AuditEvent, TokenRecord};

/// The event id of an audit event: stable, the same for every endpoint and every attempt,
/// so receivers can drop duplicates.
pub fn event_id(audit_id: i64) -> String {
    format!("evt_{audit_id}")
}

/// The delivery body for `event`, if its kind is a webhook event type; `token` is the token
/// it is about, as it is when the event is dispatched.
pub fn for_event(event: &AuditEvent, token: Option<&TokenRecord>) -> Option<String> {
    if !super::EVENT_TYPES.contains(&event.kind.as_str()) {
        return None;
    }
    let token = match token {
        Some(token) => token_json(token, event.at),
        // Tokens are never deleted, so this is a damaged row; say what the event knew.
        None => json!({
            "id": event.target.as_deref().and_then(|t| t.strip_prefix("token:")).and_then(|id| id.parse::<i64>().ok()),
            "name": event.details.get("name"),
        }),
    };
    let mut data = json!({ "token": token, "actor": event.actor });
    // What the change itself recorded, for the kinds that say more than "it happened".
    for key in ["reason", "unusedSince", "expiresAt"] {
        if let Some(value) = event.details.get(key) {
            data[key] = value.clone();
        }
    }
    Some(envelope(&event_id(event.id), &event.kind, event.at, data))
}

/// The test event of `POST /api/webhooks/{id}/test`.
pub fn ping(event_id: &str, endpoint_id: i64, at: i64) -> String {
    envelope(event_id, super::PING, at, json!({ "webhook": { "id": endpoint_id } }))
}

fn envelope(id: &str, kind: &str, at: i64, data: Value) -> String {
    json!({ "id": id, "type": kind, "createdAt": rfc3339(at), "data": data }).to_string()
}

/// A token's metadata, as the API shows it, at time `at`.
fn token_json(token: &TokenRecord, at: i64) -> Value {
    json!({
        "id": token.id,
        "name": token.name,
        "description": token.description,
        "access": token.access,
        "hint": token.hint,
        "status": token.status(at),
        "createdAt": rfc3339(token.created_at),
        "createdBy": token.created_by,
        "expiresAt": token.expires_at.map(rfc3339),
        "lastUsedAt": token.last_used_at.map(rfc3339),
        "revokedAt": token.revoked_at.map(rfc3339),
        "disabledAt": token.disabled_at.map(rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenRateLimit;
    use crate::domain::Access;
    use crate::store::{Actor, AuditContext, audit_kind};
    use crate::token::TokenDigest;

    fn token() -> TokenRecord {
        TokenRecord {
            id: 7,
            digest: TokenDigest([0xee; 32]),
            name: "nightly".into(),
            description: String::new(),
            access: Access::Read,
            hint: "pcl_…abcd".into(),
            created_at: 1_700_000_000,
            created_by: None,
            expires_at: None,
            last_used_at: None,
            revoked_at: Some(1_700_000_100),
            rate_limit: TokenRateLimit::default(),
            disabled_at: None,
            allowed_ips: None,
            previous_digest: Some(TokenDigest([0xdd; 32])),
            previous_valid_until: None,
            previous_last_used_at: None,
        }
    }

    #[test]
    fn a_revocation_names_the_token_and_actor_without_any_digest() {
        let context = AuditContext {
            actor: Actor::Cli,
            at: 1_700_000_100,
            client_ip: None,
        };
        let mut event = AuditEvent::new(audit_kind::TOKEN_REVOKED, &context, Some("token:7".into()), json!({}));
        event.id = 42;
        let body = for_event(&event, Some(&token())).unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["id"], "evt_42");
        assert_eq!(value["type"], "token.revoked");
        assert_eq!(value["createdAt"], "2023-11-14T22:15:00Z");
        assert_eq!(value["data"]["token"]["status"], "revoked");
        assert_eq!(value["data"]["actor"]["kind"], "cli");
        assert!(
            !body.to_lowercase().contains("eeee") && !body.contains("dddd"),
            "{body}"
        );
    }

    #[test]
    fn other_audit_kinds_are_no_webhook_events() {
        let context = AuditContext {
            actor: Actor::Anonymous,
            at: 0,
            client_ip: None,
        };
        let event = AuditEvent::new(audit_kind::LOGIN_FAILED, &context, None, json!({}));
        assert_eq!(for_event(&event, None), None);
    }
}
