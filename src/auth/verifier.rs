//! The verifier: checksum → cache → store, and the gathering of last-used times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, UnixTime};
use crate::domain::Access;
use crate::metrics::{Metrics, Outcome};
use crate::store::{Store, StoreResult};
use crate::token::{FormatError, PresentedToken};

use super::allowlist::Allowlist;
use super::cache::VerificationCache;
use super::failures::{FailureLimits, Failures};
use super::rate_limit::{Limited, Quota, RateLimiter, RateLimits, TokenRateLimit};
use super::usage::UsageCounter;

/// What the store knows about a digest; cached as is, judged against the clock on each use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No token or live session has this digest.
    Unknown,
    /// An API token.
    Token {
        id: i64,
        name: Arc<str>,
        access: Access,
        expires_at: Option<UnixTime>,
        revoked: bool,
        disabled: bool,
        rate_limit: TokenRateLimit,
        allowed_ips: Option<Arc<Allowlist>>,
        /// Set when the digest is the token's previous secret: until when it works.
        previous_until: Option<UnixTime>,
    },
    /// A live session of an active user.
    Session {
        id: i64,
        user_id: i64,
        username: Arc<str>,
        admin: bool,
        expires_at: UnixTime,
    },
}

/// A credential that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An API token.
    Token {
        id: i64,
        name: Arc<str>,
        access: Access,
        expires_at: Option<UnixTime>,
        rate_limit: TokenRateLimit,
        /// The networks it may be used from; `None`: anywhere.
        allowed_ips: Option<Arc<Allowlist>>,
    },
    /// A signed-in user.
    Session {
        id: i64,
        user_id: i64,
        username: Arc<str>,
        admin: bool,
        expires_at: UnixTime,
    },
}

/// Why a well-formed request's token is refused (all answer 401 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not `<prefix>_<49 base62>`.
    Malformed,
    /// The checksum does not match: refused without a store lookup.
    BadChecksum,
    /// No such token or session.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked (or a session that was ended).
    Revoked,
    /// A user session presented where only API tokens are accepted (the gateway).
    SessionNotAccepted,
    /// Disabled by an administrator (or for being unused); it works again once enabled.
    Disabled,
    /// A secret replaced by a regeneration, after its grace period.
    Superseded,
}

impl Rejection {
    /// A description safe to show the client (it never includes the token).
    pub fn detail(self) -> &'static str {
        match self {
            Self::Malformed => "The token is not a Portcullis token.",
            Self::BadChecksum => "The token's checksum does not match; it was probably mistyped or truncated.",
            Self::Unknown => "The token is not known.",
            Self::Expired => "The token has expired.",
            Self::Revoked => "The token has been revoked.",
            Self::SessionNotAccepted => "Session tokens are not accepted here; use an API token.",
            Self::Disabled => "The token is disabled.",
            Self::Superseded => "This secret was replaced when the token was regenerated; use the new one.",
        }
    }
}

/// Verifies presented tokens. Shared by every request; cheap on a cache hit.
pub struct Verifier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache: VerificationCache,
    /// Token id → latest use, written to the store in batches by [`flush_usage`](Self::flush_usage).
    usage: Mutex<HashMap<i64, UnixTime>>,
    /// The same for previous secrets still in their grace period.
    previous_usage: Mutex<HashMap<i64, UnixTime>>,
    metrics: Arc<Metrics>,
    limiter: RateLimiter,
    failures: Failures,
    /// Allowed and denied requests per token and hour, written by [`flush_usage`](Self::flush_usage).
    counts: UsageCounter,
}

impl Verifier {
    /// A verifier with a cache of `capacity` entries kept at most `ttl_seconds`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, capacity: usize, ttl_seconds: i64) -> Self {
        Self {
            store,
            clock,
            cache: VerificationCache::new(capacity, ttl_seconds),
            usage: Mutex::default(),
            previous_usage: Mutex::default(),
            metrics: Arc::default(),
            limiter: RateLimiter::new(RateLimits::default()),
            failures: Failures::new(FailureLimits::default()),
            counts: UsageCounter::default(),
        }
    }

    /// The same verifier blocking clients after failed authentications as `limits` say.
    pub fn with_failure_limits(mut self, limits: FailureLimits) -> Self {
        self.failures = Failures::new(limits);
        self
    }

    /// The failed-authentication limiters.
    pub fn failures(&self) -> &Failures {
        &self.failures
    }

    /// The current time of the verifier's clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// The same verifier judging tokens against `limits` (the default is Quable's).
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.limiter = RateLimiter::new(limits);
        self
    }

    /// The per-token rate limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Counts a verified request against its token's rate limits. Sessions are not limited
    /// (`Ok(None)`), nor are tokens whose limits are off. A refusal is counted in the metrics.
    pub fn admit(&self, grant: &Grant) -> Result<Option<Quota>, Limited> {
        let Grant::Token { id, rate_limit, .. } = grant else {
            return Ok(None);
        };
        self.limiter.check(*id, *rate_limit, self.clock.now()).inspect_err(|_| {
            self.metrics.verification(Outcome::RateLimited);
            self.counts.record(*id, false, self.clock.now());
        })
    }

    /// Counts the final decision on a request made with a verified token in its hourly usage
    /// (sessions are not counted). Refusals before this point count themselves.
    pub fn count(&self, grant: &Grant, allowed: bool) {
        if let Grant::Token { id, .. } = grant {
            self.counts.record(*id, allowed, self.clock.now());
        }
    }

    /// The hourly usage counts not yet written.
    pub fn counts(&self) -> &UsageCounter {
        &self.counts
    }

    /// The metrics this verifier records into (shared with the HTTP layer).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Verifies a token string. `Err` only when the store could not answer: callers fail closed.
    pub async fn verify(&self, text: &str) -> StoreResult<Result<Grant, Rejection>> {
        let started = std::time::Instant::now();
        let result = self.verify_uncounted(text).await;
        self.metrics.verification_time(started.elapsed());
        self.metrics.verification(match &result {
            Ok(Ok(_)) => Outcome::Allowed,
            Ok(Err(Rejection::Expired)) => Outcome::Expired,
            Ok(Err(Rejection::Revoked)) => Outcome::Revoked,
            Ok(Err(_)) => Outcome::Invalid,
            Err(_) => Outcome::Unavailable,
        });
        result
    }

    async fn verify_uncounted(&self, text: &str) -> StoreResult<Result<Grant, Rejection>> {
        let presented = match PresentedToken::parse(text) {
            Ok(presented) => presented,
            Err(FormatError::Malformed) => return Ok(Err(Rejection::Malformed)),
            Err(FormatError::BadChecksum) => return Ok(Err(Rejection::BadChecksum)),
        };
        let digest = presented.digest();
        let now = self.clock.now();
        let cached = self.cache.get(&digest, now);
        self.metrics.cache_lookup(cached.is_some());
        let lookup = match cached {
            Some(lookup) => lookup,
            None => {
                let generation = self.cache.generation();
                let lookup = self.lookup(&presented).await?;
                self.cache.insert(digest, lookup.clone(), now, generation);
                lookup
            }
        };
        // A refused token that is known (revoked, disabled, expired, superseded) counts as
        // denied in its usage.
        let known = match &lookup {
            Lookup::Token { id, .. } => Some(*id),
            _ => None,
        };
        let judged = self.judge(lookup, now);
        if let (Some(id), Err(_)) = (known, &judged) {
            self.counts.record(id, false, now);
        }
        Ok(judged)
    }

    async fn lookup(&self, presented: &PresentedToken<'_>) -> StoreResult<Lookup> {
        let digest = presented.digest();
        Ok(if presented.is_session() {
            self.store
                .session_by_digest(&digest)
                .await?
                .map_or(Lookup::Unknown, |s| Lookup::Session {
                    id: s.id,
                    user_id: s.user_id,
                    username: s.username.into(),
                    admin: s.admin,
                    expires_at: s.expires_at,
                })
        } else {
            self.store
                .token_by_digest(&digest)
                .await?
                .map_or(Lookup::Unknown, |t| Lookup::Token {
                    id: t.id,
                    name: t.name.into(),
                    access: t.access,
                    expires_at: t.expires_at,
                    revoked: t.revoked_at.is_some(),
                    disabled: t.disabled_at.is_some(),
                    rate_limit: t.rate_limit,
                    allowed_ips: t.allowed_ips.map(Arc::new),
                    // A previous secret without a grace time works no longer (time 0).
                    previous_until: (t.digest != digest).then(|| t.previous_valid_until.unwrap_or(0)),
                })
        })
    }

    fn judge(&self, lookup: Lookup, now: UnixTime) -> Result<Grant, Rejection> {
        match lookup {
            Lookup::Unknown => Err(Rejection::Unknown),
            Lookup::Token { revoked: true, .. } => Err(Rejection::Revoked),
            Lookup::Token { disabled: true, .. } => Err(Rejection::Disabled),
            Lookup::Token {
                previous_until: Some(until),
                ..
            } if until <= now => Err(Rejection::Superseded),
            Lookup::Token {
                expires_at: Some(at), ..
            } if at <= now => Err(Rejection::Expired),
            Lookup::Session { expires_at, .. } if expires_at <= now => Err(Rejection::Expired),
            Lookup::Token {
                id,
                name,
                access,
                expires_at,
                revoked: false,
                disabled: false,
                rate_limit,
                allowed_ips,
                previous_until,
            } => {
                let usage = if previous_until.is_some() {
                    &self.previous_usage
                } else {
                    &self.usage
                };
                usage.lock().unwrap_or_else(|p| p.into_inner()).insert(id, now);
                Ok(Grant::Token {
                    id,
                    name,
                    access,
                    expires_at,
                    rate_limit,
                    allowed_ips,
                })
            }
            Lookup::Session {
                id,
                user_id,
                username,
                admin,
                expires_at,
            } => Ok(Grant::Session {
                id,
                user_id,
                username,
                admin,
                expires_at,
            }),
        }
    }

    /// Forgets every cached lookup, e.g. after a revocation.
    pub fn invalidate(&self) {
        self.cache.clear();
    }

    /// The cache, for change detection to mark trusted or not.
    pub fn cache(&self) -> &VerificationCache {
        &self.cache
    }

    /// A use of token `id`'s previous secret seen but not yet written to the store.
    pub fn pending_previous_use(&self, id: i64) -> Option<UnixTime> {
        self.previous_usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
    }

    /// A use of token `id` seen but not yet written to the store.
    pub fn pending_use(&self, id: i64) -> Option<UnixTime> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).get(&id).copied()
    }

    /// Writes the gathered last-used times in one batch: at most one write per token per
    /// flush, whatever the request rate. On failure the times are kept for the next flush.
    pub async fn flush_usage(&self) -> StoreResult<usize> {
        let batch: Vec<(i64, UnixTime)> = std::mem::take(&mut *self.usage.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect();
        let previous: Vec<(i64, UnixTime)> =
            std::mem::take(&mut *self.previous_usage.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if !previous.is_empty() {
            // Informational only: on failure the next use is recorded instead.
            if let Err(error) = self.store.record_previous_secret_use(&previous).await {
                tracing::warn!(error = format!("{error:#}"), "writing last uses of previous secrets");
            }
        }
        // Kept in memory on failure; the last-used times are written regardless.
        if let Err(error) = self.counts.flush(self.store.as_ref(), self.clock.now()).await {
            tracing::warn!(error = format!("{error:#}"), "writing hourly usage counts; will retry");
        }
        // Piggybacks on the flusher's schedule to bound the limiter's memory.
        self.limiter.prune(self.clock.now());
        self.failures.prune(self.clock.now());
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(error) = self.store.record_token_use(&batch).await {
            let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in batch {
                let entry = usage.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(error);
        }
        self.metrics.last_used_written(batch.len());
        Ok(batch.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{Description, TokenName};
    use crate::issue::{TokenRequest, issue_token};
    use crate::store::{Actor, AuditContext, SqliteStore};
    use crate::token::{Prefix, TokenSecret};

    const NOW: UnixTime = 1_800_000_000;

    async fn setup(dir: &tempfile::TempDir) -> (Arc<dyn Store>, ManualClock, Verifier) {
        let store = SqliteStore::open(dir.path().join("test.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let clock = ManualClock::new(NOW);
        let verifier = Verifier::new(store.clone(), Arc::new(clock.clone()), 1000, 60);
        (store, clock, verifier)
    }

    fn audit() -> AuditContext {
        AuditContext {
            actor: Actor::Cli,
            at: NOW,
            client_ip: None,
        }
    }

    async fn token(store: &dyn Store, expires_at: Option<UnixTime>) -> (i64, TokenSecret) {
        let request = TokenRequest {
            name: TokenName::parse("t").unwrap(),
            description: Description::parse("").unwrap(),
            access: Access::Read,
            expires_at,
            rate_limit: TokenRateLimit::Default,
            allowed_ips: None,
        };
        let (record, secret) = issue_token(store, &Prefix::default(), request, None, audit())
            .await
            .unwrap();
        (record.id, secret)
    }

    #[tokio::test]
    async fn a_token_is_granted_until_its_expiry_and_refused_from_then_on() {
        let dir = tempfile::tempdir().unwrap();
        let (store, clock, verifier) = setup(&dir).await;
        let (id, secret) = token(store.as_ref(), Some(NOW + 60)).await;
        let granted = verifier.verify(secret.expose()).await.unwrap().unwrap();
        assert!(matches!(granted, Grant::Token { id: got, access: Access::Read, .. } if got == id));
        clock.advance(59);
        assert!(
            verifier.verify(secret.expose()).await.unwrap().is_ok(),
            "one second before expiry"
        );
        clock.advance(1);
        assert_eq!(
            verifier.verify(secret.expose()).await.unwrap(),
            Err(Rejection::Expired),
            "cached grant expires too"
        );
    }

    #[tokio::test]
    async fn a_bad_checksum_is_refused_without_asking_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _clock, verifier) = setup(&dir).await;
        let (_, secret) = token(store.as_ref(), None).await;
        let mut typo = secret.expose().to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
        // With the store closed, any lookup would fail with an error instead of an answer.
        store.close().await;
        assert_eq!(verifier.verify(&typo).await.unwrap(), Err(Rejection::BadChecksum));
        assert!(
            verifier.verify(secret.expose()).await.is_err(),
            "a real lookup does reach the closed store"
        );
    }

    #[tokio::test]
    async fn a_revocation_is_seen_once_the_cache_is_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _clock, verifier) = setup(&dir).await;
        let (id, secret) = token(store.as_ref(), None).await;
        assert!(verifier.verify(secret.expose()).await.unwrap().is_ok());
        store.revoke_token(id, audit()).await.unwrap();
        assert!(
            verifier.verify(secret.expose()).await.unwrap().is_ok(),
            "still cached: only invalidation drops it"
        );
        verifier.invalidate();
        assert_eq!(verifier.verify(secret.expose()).await.unwrap(), Err(Rejection::Revoked));
    }

    #[tokio::test]
    async fn unknown_tokens_and_store_failures_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _clock, verifier) = setup(&dir).await;
        let stranger = TokenSecret::generate(&Prefix::default(), &mut crate::token::OsRandom).unwrap();
        assert_eq!(
            verifier.verify(stranger.expose()).await.unwrap(),
            Err(Rejection::Unknown)
        );
        assert_eq!(verifier.verify("abc").await.unwrap(), Err(Rejection::Malformed));
        let other = TokenSecret::generate(&Prefix::default(), &mut crate::token::OsRandom).unwrap();
        store.close().await;
        assert!(
            verifier.verify(other.expose()).await.is_err(),
            "fail closed: an error, never a grant"
        );
    }

    #[tokio::test]
    async fn uses_are_written_once_per_flush_whatever_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        let (store, clock, verifier) = setup(&dir).await;
        let (id, secret) = token(store.as_ref(), None).await;
        for _ in 0..100 {
            verifier.verify(secret.expose()).await.unwrap().unwrap();
        }
        clock.advance(5);
        verifier.verify(secret.expose()).await.unwrap().unwrap();
        assert_eq!(
            store.token(id).await.unwrap().last_used_at,
            None,
            "nothing written before a flush"
        );
        assert_eq!(verifier.flush_usage().await.unwrap(), 1, "one row for 101 uses");
        assert_eq!(store.token(id).await.unwrap().last_used_at, Some(NOW + 5));
        assert_eq!(verifier.flush_usage().await.unwrap(), 0);
    }
}
