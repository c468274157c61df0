//! Webhook notifications: endpoints configured by administrators receive signed JSON events
//! about tokens (docs/webhooks.md).
//!
//! # Layout
//!
//! - [`signing`]: signing secrets and the `Portcullis-Signature` header (HMAC-SHA256).
//! - [`payload`]: the event body built from an audit event; never a secret.
//! - [`schedule`]: when a failed delivery is tried again (pure, unit-tested).
//! - [`sender`]: one HTTP attempt, with a timeout.
//! - [`dispatcher`]: the server's background task: audit events → deliveries (the outbox),
//!   expiry notices, and sending what is due.
//!
//! Events come from the audit log, which every change writes in the same transaction as the
//! change itself, by the server and the CLI alike; the dispatcher turns each event into
//! deliveries once, even with several instances on one PostgreSQL database.

pub mod dispatcher;
pub mod payload;
pub mod schedule;
pub mod sender;
pub mod signing;

pub use signing::SigningSecret;

use crate::store::audit_kind;

/// The event types an endpoint can subscribe to.
pub const EVENT_TYPES: [&str; 6] = [
    audit_kind::TOKEN_CREATED,
    audit_kind::TOKEN_REVOKED,
    audit_kind::TOKEN_REGENERATED,
    audit_kind::TOKEN_EXPIRING,
    audit_kind::TOKEN_EXPIRED,
    audit_kind::TOKEN_DISABLED,
];

/// The type of the test event `POST /api/webhooks/{id}/test` sends.
pub const PING: &str = "ping";

/// Parses a subscription list: known event types, without repetition; `["*"]` or an empty
/// list mean all (stored as empty).
pub fn parse_events(events: &[String]) -> Result<Vec<String>, String> {
    if events.iter().any(|e| e == "*") {
        return if events.len() == 1 {
            Ok(Vec::new())
        } else {
            Err("events: \"*\" (all) stands alone".into())
        };
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            let shown: String = event.chars().take(40).collect();
            return Err(format!(
                "events: unknown event type {shown:?}; known: {} (or \"*\" for all)",
                EVENT_TYPES.join(", ")
            ));
        }
        if !out.contains(event) {
            out.push(event.clone());
        }
    }
    Ok(out)
}

/// An endpoint URL: absolute `http://` with a host, no user name or password, at most 2,000
/// characters. `https://` is refused for now: Portcullis has no outgoing TLS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Parses and checks a URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        const HELP: &str = "url: an absolute http:// URL such as http://127.0.0.1:9000/hooks";
        if text.len() > 2000 {
            return Err("url: at most 2000 characters".into());
        }
        let uri: axum::http::Uri = text.parse().map_err(|_| HELP.to_owned())?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(
                    "url: https:// endpoints are not supported yet; use http:// (e.g. to a local relay or over a private network)"
                        .into(),
                );
            }
            _ => return Err(HELP.into()),
        }
        let Some(authority) = uri.authority() else {
            return Err(HELP.into());
        };
        if authority.as_str().contains('@') {
            return Err("url: must not contain a user name or password".into());
        }
        // `Authority::port` hides a port that is not a number from 0 to 65535; refuse those.
        let port_ok = match authority.as_str().rsplit_once(':') {
            Some((_, port)) if !port.contains(']') => port.parse::<u16>().is_ok_and(|p| p > 0),
            _ => true,
        };
        if authority.host().is_empty() || !port_ok {
            return Err(HELP.into());
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HELP.into());
        }
        Ok(Self(text.to_owned()))
    }

    /// Reads a stored URL (checked when it was stored).
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        for good in [
            "http://127.0.0.1:9000/hooks",
            "http://example.test/a?b=c",
            "http://[::1]:80/",
        ] {
            assert!(WebhookUrl::parse(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "absolute"),
            ("/relative", "absolute"),
            ("ftp://x/", "absolute"),
            ("http://user:pw@example.test/", "user name"),
            ("https://example.test/", "https"),
            ("http:///nohost", "absolute"),
            ("http://127.0.0.1:99999/", "absolute"),
            ("http://127.0.0.1:0/", "absolute"),
            ("http://127.0.0.1:/", "absolute"),
            ("javascript:alert(1)", "absolute"),
        ] {
            let error = WebhookUrl::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad:?} gave {error:?}");
        }
    }

    #[test]
    fn events_are_known_names_or_all() {
        let s = |v: &[&str]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_events(&s(&["*"])).unwrap(), Vec::<String>::new());
        assert_eq!(parse_events(&s(&[])).unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_events(&s(&["token.revoked", "token.revoked", "token.created"])).unwrap(),
            s(&["token.revoked", "token.created"])
        );
        assert!(parse_events(&s(&["token.deleted"])).unwrap_err().contains("unknown"));
        assert!(parse_events(&s(&["*", "token.created"])).is_err());
        assert!(parse_events(&s(&["ping"])).is_err());
    }
}
