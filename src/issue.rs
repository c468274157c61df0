//! Issuing secrets: new and regenerated API tokens, and sign-in sessions. Shared by the API
//! and the CLI so both follow the same rules. The secret is returned once and never stored.

use time::{Date, OffsetDateTime, Time, format_description::well_known::Rfc3339};

use crate::clock::UnixTime;
use crate::domain::{Access, Description, TokenName};
use crate::store::{AuditContext, CreatedBy, NewToken, Store, StoreError, StoreResult, TokenRecord};
use crate::token::{OsRandom, Prefix, TokenSecret};

/// What a new token should be.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: TokenName,
    pub description: Description,
    pub access: Access,
    pub expires_at: Option<UnixTime>,
    pub rate_limit: crate::auth::TokenRateLimit,
    pub allowed_ips: Option<crate::auth::Allowlist>,
}

/// Checks an expiry against the maximum lifetime policy: a token created at `created_at`
/// must expire within `max_lifetime` seconds of it (and so must have an expiry at all).
pub fn check_lifetime(
    expires_at: Option<UnixTime>,
    created_at: UnixTime,
    max_lifetime: Option<std::time::Duration>,
) -> Result<(), String> {
    let Some(max) = max_lifetime else { return Ok(()) };
    let max_seconds = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
    let days = max.as_secs() / 86_400;
    let limit = if days > 0 && max.as_secs() % 86_400 == 0 {
        format!("{days} days")
    } else {
        format!("{} seconds", max.as_secs())
    };
    match expires_at {
        None => Err(format!(
            "expiresAt: tokens must expire within {limit} of their creation (tokens.max_lifetime)"
        )),
        Some(at) if at.saturating_sub(created_at) > max_seconds => Err(format!(
            "expiresAt: beyond the maximum lifetime of {limit} from the token's creation (tokens.max_lifetime)"
        )),
        Some(_) => Ok(()),
    }
}

fn fresh_secret(prefix: &Prefix) -> StoreResult<TokenSecret> {
    // Without the OS CSPRNG no secret can be issued; refusing (503) is the safe answer.
    TokenSecret::generate(prefix, &mut OsRandom)
        .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("the OS random number generator failed: {e}")))
}

/// Creates a token and returns it with its secret.
pub async fn issue_token(
    store: &dyn Store,
    prefix: &Prefix,
    request: TokenRequest,
    created_by: Option<CreatedBy>,
    audit: AuditContext,
) -> StoreResult<(TokenRecord, TokenSecret)> {
    let secret = fresh_secret(prefix)?;
    let presented = secret.parsed();
    let token = NewToken {
        digest: presented.digest(),
        hint: presented.hint(),
        name: request.name,
        description: request.description,
        access: request.access,
        created_by,
        expires_at: request.expires_at,
        rate_limit: request.rate_limit,
        allowed_ips: request.allowed_ips,
    };
    let record = store.create_token(token, audit).await?;
    Ok((record, secret))
}

/// Longest grace period during which a replaced secret keeps working.
pub const MAX_GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Gives an unrevoked token a new secret; the old one stops working at once, or after
/// `grace` (at most [`MAX_GRACE`]).
pub async fn reissue_token(
    store: &dyn Store,
    prefix: &Prefix,
    id: i64,
    grace: Option<std::time::Duration>,
    audit: AuditContext,
) -> StoreResult<(TokenRecord, TokenSecret)> {
    let secret = fresh_secret(prefix)?;
    let presented = secret.parsed();
    let grace_until = grace
        .filter(|g| !g.is_zero())
        .map(|g| audit.at + g.min(MAX_GRACE).as_secs() as i64);
    let record = store
        .regenerate_token(id, presented.digest(), presented.hint(), grace_until, audit)
        .await?;
    Ok((record, secret))
}

/// Starts a session for a user; returns its bearer secret and expiry.
pub async fn start_session(
    store: &dyn Store,
    user_id: i64,
    now: UnixTime,
    ttl_seconds: i64,
) -> StoreResult<(TokenSecret, UnixTime)> {
    let secret = fresh_secret(&Prefix::session())?;
    let expires_at = now + ttl_seconds;
    store
        .create_session(user_id, secret.parsed().digest(), now, expires_at)
        .await?;
    Ok((secret, expires_at))
}

/// Parses an expiry as the CLI takes it: `never`, a duration (`30d`, `12h`), a date
/// (`2027-06-01`, midnight UTC) or an RFC 3339 time. It must lie in the future.
pub fn parse_expiry(text: &str, now: UnixTime) -> Result<Option<UnixTime>, String> {
    let at = if text.eq_ignore_ascii_case("never") {
        return Ok(None);
    } else if let Ok(duration) = humantime::parse_duration(text) {
        i64::try_from(duration.as_secs())
            .ok()
            .and_then(|s| now.checked_add(s))
            .ok_or("the expiry is too far away")?
    } else if let Ok(date) = Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")) {
        OffsetDateTime::new_utc(date, Time::MIDNIGHT).unix_timestamp()
    } else if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        at.unix_timestamp()
    } else {
        return Err(format!(
            "`{text}` is not an expiry: use never, a duration such as 30d, a date such as 2027-06-01, or an RFC 3339 time"
        ));
    };
    if at <= now {
        return Err(format!("the expiry `{text}` is not in the future"));
    }
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000; // 2027-01-15

    #[test]
    fn expiries_are_read_in_every_documented_form() {
        assert_eq!(parse_expiry("never", NOW), Ok(None));
        assert_eq!(parse_expiry("30d", NOW), Ok(Some(NOW + 30 * 86_400)));
        assert_eq!(parse_expiry("2027-06-01", NOW), Ok(Some(1_811_808_000)));
        assert_eq!(parse_expiry("2027-06-01T12:00:00Z", NOW), Ok(Some(1_811_851_200)));
    }

    #[test]
    fn expiries_in_the_past_or_unreadable_are_refused() {
        for bad in ["2020-01-01", "0s", "soon", "", "2027-13-01"] {
            assert!(parse_expiry(bad, NOW).is_err(), "{bad:?}");
        }
    }
}
