//! The lifecycle controls of the token forms — rate limit and address allowlist — and what the
//! token's page shows about them, the old secret after a regeneration and leak reports.

use std::collections::HashMap;

use super::*;
use crate::auth::{Allowlist, RateLimits, TokenRateLimit};
use crate::store::{AuditEvent, audit_kind};

/// The rate-limit and allowlist fields of the create and edit forms, as sent.
#[derive(Deserialize, Debug, Clone)]
pub(super) struct LimitFields {
    /// `default`, `off` or `custom`.
    #[serde(default = "default_mode")]
    rate_limit: String,
    #[serde(default)]
    rate_short: String,
    #[serde(default)]
    rate_long: String,
    /// One network per line; empty: anywhere.
    #[serde(default)]
    allowed_ips: String,
}

fn default_mode() -> String {
    "default".into()
}

impl Default for LimitFields {
    fn default() -> Self {
        Self {
            rate_limit: default_mode(),
            rate_short: String::new(),
            rate_long: String::new(),
            allowed_ips: String::new(),
        }
    }
}

impl LimitFields {
    /// The fields showing a token's current settings.
    pub(super) fn of(token: &TokenRecord) -> Self {
        let (rate_limit, rate_short, rate_long) = match token.rate_limit {
            TokenRateLimit::Default => ("default", String::new(), String::new()),
            TokenRateLimit::Off => ("off", String::new(), String::new()),
            TokenRateLimit::Custom { short, long } => ("custom", short.to_string(), long.to_string()),
        };
        Self {
            rate_limit: rate_limit.into(),
            rate_short,
            rate_long,
            allowed_ips: token
                .allowed_ips
                .as_ref()
                .map(|list| list.entries().join("\n"))
                .unwrap_or_default(),
        }
    }

    /// Parses the fields with the API's rules; the error is a sentence for the form.
    pub(super) fn parse(&self) -> Result<(TokenRateLimit, Option<Allowlist>), String> {
        let rate_limit = match self.rate_limit.as_str() {
            "default" => TokenRateLimit::Default,
            "off" => TokenRateLimit::Off,
            "custom" => TokenRateLimit::parse(&format!("{},{}", self.rate_short.trim(), self.rate_long.trim()))
                .map_err(|why| format!("Rate limit: {}.", why.replace('`', "\"")))?,
            _ => return Err("Rate limit: choose the default, off, or custom limits.".into()),
        };
        let lines: Vec<&str> = self
            .allowed_ips
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let allowed_ips = if lines.is_empty() {
            None
        } else {
            Some(Allowlist::parse(&lines).map_err(|why| format!("Allowed addresses: {why}."))?)
        };
        Ok((rate_limit, allowed_ips))
    }

    /// The form fields; `limits` are the installation's defaults, named in the choice.
    pub(super) fn render(&self, limits: &RateLimits) -> Markup {
        let default_label = match (limits.short_limit, limits.long_limit) {
            (None, None) => "Installation default (none)".to_owned(),
            (short, long) => format!(
                "Installation default ({} per {}, {} per {})",
                short.map_or("no limit".into(), |n| n.to_string()),
                window(limits.short_seconds),
                long.map_or("no limit".into(), |n| n.to_string()),
                window(limits.long_seconds),
            ),
        };
        html! {
            fieldset.limits {
                legend { "Rate limit" }
                @for (value, label) in [("default", default_label.as_str()), ("off", "Off — no limit"), ("custom", "Custom")] {
                    label.choice {
                        input type="radio" name="rate_limit" value=(value) checked[self.rate_limit == value];
                        span { (label) }
                    }
                }
                div.row {
                    div.field {
                        label for="rate_short" { "Per " (window(limits.short_seconds)) " " span.hint { "(custom)" } }
                        input #rate_short type="number" name="rate_short" min="1" inputmode="numeric" value=(self.rate_short);
                    }
                    div.field {
                        label for="rate_long" { "Per " (window(limits.long_seconds)) " " span.hint { "(custom)" } }
                        input #rate_long type="number" name="rate_long" min="1" inputmode="numeric" value=(self.rate_long);
                    }
                }
            }
            label for="allowed_ips" { "Allowed addresses " span.hint { "(optional)" } }
            textarea #allowed_ips name="allowed_ips" rows="3" spellcheck="false" aria-describedby="allowed-ips-help"
                placeholder="203.0.113.7\n10.0.0.0/8" { (self.allowed_ips) }
            p.help #allowed-ips-help { "One IP address or CIDR network per line. Empty: the token works from anywhere." }
        }
    }
}

/// A window length for people: `10 min`, `24 h`.
fn window(seconds: u32) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A token's rate limit in words.
pub(super) fn rate_limit_text(rate_limit: TokenRateLimit, limits: &RateLimits) -> String {
    match rate_limit {
        TokenRateLimit::Default => match (limits.short_limit, limits.long_limit) {
            (None, None) => "Installation default (none)".into(),
            (short, long) => format!(
                "Installation default: {} per {}, {} per {}",
                short.map_or("no limit".into(), |n| n.to_string()),
                window(limits.short_seconds),
                long.map_or("no limit".into(), |n| n.to_string()),
                window(limits.long_seconds)
            ),
        },
        TokenRateLimit::Off => "Off".into(),
        TokenRateLimit::Custom { short, long } => format!(
            "{short} per {}, {long} per {}",
            window(limits.short_seconds),
            window(limits.long_seconds)
        ),
    }
}

/// Until when the secret replaced by the last regeneration works, and its last use (seen
/// by this instance or stored): "still in use" when both are known.
pub(super) fn old_secret(web: &Web, token: &TokenRecord) -> Option<(UnixTime, Option<UnixTime>)> {
    let until = token
        .previous_valid_until
        .filter(|until| *until > web.app.clock.now() && token.previous_digest.is_some())?;
    let used = token
        .previous_last_used_at
        .max(web.app.verifier.pending_previous_use(token.id));
    Some((until, used))
}

/// The leak reports that revoked tokens, by token id (newest report first wins; the most
/// recent 1,000 reports are read).
pub(super) async fn leak_reports(web: &Web) -> Result<HashMap<i64, AuditEvent>, WebError> {
    let mut reports = HashMap::new();
    for page in 1..=10 {
        let (events, total) = web
            .app
            .store
            .list_audit(
                Some(audit_kind::TOKEN_LEAK_REPORTED.to_owned()),
                PageRequest { page, limit: 100 },
            )
            .await?;
        let done = events.len() < 100 || u64::from(page) * 100 >= total;
        for event in events {
            let ids: Vec<i64> = event.details["revoked"]
                .as_array()
                .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
                .unwrap_or_default();
            for id in ids {
                reports.entry(id).or_insert_with(|| event.clone());
            }
        }
        if done {
            break;
        }
    }
    Ok(reports)
}

/// What the token's page says about a leak report.
pub(super) fn leak_notice(event: &AuditEvent) -> Markup {
    let reporter = event.details["reporter"].as_str().unwrap_or_default();
    html! {
        div.notice.error role="status" #leak-report {
            strong { "Reported as leaked" }
            " and revoked " (layout::time(Some(event.at), "")) ", by "
            @if reporter.is_empty() { "an anonymous reporter" } @else { "“" (reporter) "”" }
            @if let Some(ip) = &event.client_ip { " from " code { (ip) } }
            ". Issue a new token for the scripts that used it."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(mode: &str, short: &str, long: &str, ips: &str) -> LimitFields {
        LimitFields {
            rate_limit: mode.into(),
            rate_short: short.into(),
            rate_long: long.into(),
            allowed_ips: ips.into(),
        }
    }

    #[test]
    fn the_form_fields_parse_with_the_apis_rules() {
        assert_eq!(
            fields("default", "9", "", "").parse(),
            Ok((TokenRateLimit::Default, None))
        );
        assert_eq!(fields("off", "", "", " \n ").parse(), Ok((TokenRateLimit::Off, None)));
        let (limit, ips) = fields("custom", " 5 ", "50", "10.0.0.0/8\n\n 192.0.2.7 \n")
            .parse()
            .unwrap();
        assert_eq!(limit, TokenRateLimit::Custom { short: 5, long: 50 });
        assert_eq!(ips.unwrap().entries(), ["10.0.0.0/8", "192.0.2.7/32"]);
        for (bad, field) in [
            (fields("custom", "0", "5", ""), "Rate limit"),
            (fields("custom", "", "5", ""), "Rate limit"),
            (fields("lots", "", "", ""), "Rate limit"),
            (fields("default", "", "", "10.0.0.0/33"), "Allowed addresses"),
            (fields("default", "", "", "example.com"), "Allowed addresses"),
        ] {
            let error = bad.parse().unwrap_err();
            assert!(error.starts_with(field), "{bad:?}: {error}");
        }
    }

    #[test]
    fn windows_read_as_people_say_them() {
        assert_eq!(window(600), "10 min");
        assert_eq!(window(86_400), "24 h");
        assert_eq!(window(90), "90 s");
    }
}
