//! Per-token rate limits: two sliding windows (by default 6,000 requests per 10 minutes and
//! 300,000 per 24 hours), counted in memory by each instance.
//!
//! Each window is approximated with two fixed buckets, the current one and the one before: the
//! estimate at `elapsed` seconds into the current bucket is
//! `previous × (window − elapsed) / window + current`, i.e. the previous bucket's requests are
//! assumed to have been spread evenly. Exact when traffic is even; otherwise the estimate can be
//! off by at most the previous bucket's count in either direction, and it never lets more
//! than twice the limit through in any window-long span. The cost per request is one
//! uncontended lock of one of `SHARDS` maps and a few integer operations; refused requests
//! are not counted, so a client that backs off gets its quota back on time.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::UnixTime;

/// Independent maps, so tokens used at once rarely wait for each other.
const SHARDS: usize = 16;

/// One sliding window: at most `limit` requests per `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub seconds: u32,
}

/// The two windows' lengths and default limits, from `[rate_limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Length of the short window in seconds (default 600).
    pub short_seconds: u32,
    /// Length of the long window in seconds (default 86,400).
    pub long_seconds: u32,
    /// The default limit of each window for tokens without their own; `None`: not limited.
    pub short_limit: Option<u32>,
    pub long_limit: Option<u32>,
}

impl Default for RateLimits {
    /// Quable's limits: 6,000 per 10 minutes and 300,000 per 24 hours.
    fn default() -> Self {
        Self {
            short_seconds: 600,
            long_seconds: 86_400,
            short_limit: Some(6_000),
            long_limit: Some(300_000),
        }
    }
}

impl RateLimits {
    /// The windows that apply to a token with setting `own`.
    fn windows(&self, own: TokenRateLimit) -> [Option<Window>; 2] {
        let (short, long) = match own {
            TokenRateLimit::Default => (self.short_limit, self.long_limit),
            TokenRateLimit::Off => (None, None),
            TokenRateLimit::Custom { short, long } => (Some(short), Some(long)),
        };
        [
            short.map(|limit| Window {
                limit,
                seconds: self.short_seconds,
            }),
            long.map(|limit| Window {
                limit,
                seconds: self.long_seconds,
            }),
        ]
    }

    /// `RateLimit-Policy` for a token with setting `own` (e.g. `6000;w=600, 300000;w=86400`).
    fn policy(&self, own: TokenRateLimit) -> HeaderValue {
        let text = self
            .windows(own)
            .iter()
            .flatten()
            .map(|w| format!("{};w={}", w.limit, w.seconds))
            .collect::<Vec<_>>()
            .join(", ");
        // Digits, `;w=` and `, ` only: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A token's own rate-limit setting: the installation's defaults, none, or its own limits for
/// the two windows. On the wire: `"default"`, `"off"` or `{"short": 100, "long": 5000}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenRateLimit {
    #[default]
    Default,
    Off,
    Custom {
        short: u32,
        long: u32,
    },
}

impl TokenRateLimit {
    /// Parses the command-line form: `default`, `off` or `SHORT,LONG` (e.g. `100,5000`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "default" => Ok(Self::Default),
            "off" => Ok(Self::Off),
            _ => {
                let (short, long) = text
                    .split_once(',')
                    .ok_or_else(|| format!("`{text}` is not a rate limit: use default, off or SHORT,LONG"))?;
                let number = |s: &str| {
                    s.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("`{s}` is not a positive whole number of requests"))
                };
                Ok(Self::Custom {
                    short: number(short)?,
                    long: number(long)?,
                })
            }
        }
    }

    /// The stored form: mode (`default`, `off`, `custom`) and the two limits.
    pub fn to_columns(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Self::Default => ("default", None, None),
            Self::Off => ("off", None, None),
            Self::Custom { short, long } => ("custom", Some(short.into()), Some(long.into())),
        }
    }

    /// Reads the stored form; anything inconsistent falls back to the defaults (never to off).
    pub fn from_columns(mode: &str, short: Option<i64>, long: Option<i64>) -> Self {
        let limit = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
        match (mode, limit(short), limit(long)) {
            ("off", _, _) => Self::Off,
            ("custom", Some(short), Some(long)) => Self::Custom { short, long },
            _ => Self::Default,
        }
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Wire {
    Named(String),
    Custom { short: u32, long: u32 },
}

impl Serialize for TokenRateLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Default => s.serialize_str("default"),
            Self::Off => s.serialize_str("off"),
            Self::Custom { short, long } => Wire::Custom { short, long }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TokenRateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        const EXPECTED: &str = "rateLimit: \"default\", \"off\" or {\"short\": N, \"long\": N} with N ≥ 1";
        match Wire::deserialize(d).map_err(|_| D::Error::custom(EXPECTED))? {
            Wire::Named(name) if name == "default" => Ok(Self::Default),
            Wire::Named(name) if name == "off" => Ok(Self::Off),
            Wire::Custom { short, long } if short > 0 && long > 0 => Ok(Self::Custom { short, long }),
            _ => Err(D::Error::custom(EXPECTED)),
        }
    }
}

impl utoipa::PartialSchema for TokenRateLimit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Wire as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for TokenRateLimit {}

/// What the `RateLimit-*` headers of a response say: the window with the least room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    /// Length of that window in seconds.
    pub window: u32,
    pub remaining: u32,
    /// Seconds until that window's full quota is back if no more requests are made.
    pub reset: u64,
    /// Every window that applies, as `RateLimit-Policy` (a ready header value: built once for
    /// the installation's defaults, not per request).
    pub policy: HeaderValue,
}

impl Quota {
    /// Writes `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and
    /// `RateLimit-Policy`, replacing any an upstream set.
    pub fn write_headers(&self, headers: &mut axum::http::HeaderMap) {
        static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
        static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
        static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
        static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
        headers.insert(LIMIT.clone(), HeaderValue::from(self.limit));
        headers.insert(REMAINING.clone(), HeaderValue::from(self.remaining));
        headers.insert(RESET.clone(), HeaderValue::from(self.reset));
        headers.insert(POLICY.clone(), self.policy.clone());
    }
}

/// Beyond a limit: the quota to show and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub quota: Quota,
    /// Seconds until a request would be admitted (at least 1).
    pub retry_after: u64,
}

/// The counts of one window for one token.
#[derive(Debug, Clone, Copy, Default)]
struct Buckets {
    /// Which fixed bucket `current` counts: `now / window`.
    index: i64,
    current: u64,
    previous: u64,
}

impl Buckets {
    /// Moves to the bucket of `now`, ageing the counts.
    fn roll(&mut self, now: UnixTime, seconds: u32) {
        let index = now.div_euclid(i64::from(seconds));
        if index == self.index {
            return;
        }
        self.previous = if index == self.index + 1 { self.current } else { 0 };
        self.current = 0;
        self.index = index;
    }

    /// The estimate × `seconds` (kept scaled so it stays exact in integers).
    fn scaled(&self, elapsed: u64, seconds: u64) -> u64 {
        self.previous * (seconds - elapsed) + self.current * seconds
    }
}

/// Seconds until one more request fits: the estimate falls as the previous bucket ages out.
fn retry_after(buckets: &Buckets, elapsed: u64, seconds: u64, limit: u64) -> u64 {
    // Admitted when previous × (seconds − e) + current × seconds ≤ (limit − 1) × seconds.
    let room = (limit - 1) * seconds;
    if buckets.current * seconds <= room && buckets.previous > 0 {
        let at = seconds - (room - buckets.current * seconds) / buckets.previous;
        if at < seconds {
            return (at - elapsed).max(1);
        }
    }
    // Not within this bucket: in the next one, `current` is the one ageing out.
    let into_next = room
        .checked_div(buckets.current)
        .map_or(0, |fits| seconds - fits.min(seconds));
    (seconds - elapsed + into_next).max(1)
}

/// The counters of every token seen recently, with the windows they are judged against.
pub struct RateLimiter {
    limits: RateLimits,
    /// `RateLimit-Policy` of tokens on the defaults, the common case.
    default_policy: HeaderValue,
    shards: Vec<Mutex<HashMap<i64, [Buckets; 2]>>>,
}

impl RateLimiter {
    /// A limiter with no counts yet.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            default_policy: limits.policy(TokenRateLimit::Default),
            limits,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The windows and default limits in force.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Counts one request of token `id` at `now`, or refuses it without counting.
    /// `Ok(None)`: the token is not limited at all.
    pub fn check(&self, id: i64, own: TokenRateLimit, now: UnixTime) -> Result<Option<Quota>, Limited> {
        let windows = self.limits.windows(own);
        if windows.iter().all(Option::is_none) {
            return Ok(None);
        }
        let shard = &self.shards[id.rem_euclid(SHARDS as i64) as usize];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let counts = map.entry(id).or_default();
        let mut tightest: Option<Quota> = None;
        let mut refused: Option<u64> = None;
        for (window, buckets) in windows.iter().zip(counts.iter_mut()) {
            let Some(window) = window else { continue };
            buckets.roll(now, window.seconds);
            let seconds = u64::from(window.seconds);
            let elapsed = now.rem_euclid(i64::from(window.seconds)) as u64;
            let limit = u64::from(window.limit);
            let scaled = buckets.scaled(elapsed, seconds);
            let fits = scaled + seconds <= limit * seconds;
            if !fits {
                let wait = retry_after(buckets, elapsed, seconds, limit);
                refused = Some(refused.map_or(wait, |w| w.max(wait)));
            }
            // After this request, if admitted: ceil(estimate) requests are counted.
            let used = if fits { scaled + seconds } else { scaled }.div_ceil(seconds);
            let quota = Quota {
                limit: window.limit,
                window: window.seconds,
                remaining: limit.saturating_sub(used) as u32,
                reset: if buckets.current > 0 || fits {
                    2 * seconds - elapsed
                } else {
                    seconds - elapsed
                },
                policy: HeaderValue::from_static(""),
            };
            let tighter = match &tightest {
                None => true,
                Some(t) => quota.remaining < t.remaining,
            };
            if tighter {
                tightest = Some(quota);
            }
        }
        let mut quota = tightest.unwrap_or(Quota {
            limit: 0,
            window: 0,
            remaining: 0,
            reset: 0,
            policy: HeaderValue::from_static(""),
        });
        quota.policy = match own {
            TokenRateLimit::Default => self.default_policy.clone(),
            _ => self.limits.policy(own),
        };
        if let Some(retry_after) = refused {
            quota.remaining = 0;
            return Err(Limited { quota, retry_after });
        }
        for (window, buckets) in windows.iter().zip(counts.iter_mut()) {
            if window.is_some() {
                buckets.current += 1;
            }
        }
        Ok(Some(quota))
    }

    /// Forgets tokens with nothing counted in either window any more, to bound memory.
    pub fn prune(&self, now: UnixTime) {
        let live = |b: &Buckets, seconds: u32| now.div_euclid(i64::from(seconds)) <= b.index + 1;
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, [short, long]| {
                    live(short, self.limits.short_seconds) || live(long, self.limits.long_seconds)
                });
        }
    }

    /// Tokens with counts, for tests and metrics.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket boundary of both windows, so tests start at `elapsed = 0`.
    const T0: UnixTime = 1_800_000_000 - 1_800_000_000 % 86_400;

    fn small(short: u32, long: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            short_seconds: 60,
            long_seconds: 3600,
            short_limit: Some(short),
            long_limit: Some(long),
        })
    }

    #[test]
    fn a_token_gets_exactly_its_limit_then_429_until_the_window_slides() {
        let limiter = small(10, 1000);
        for n in 0..10 {
            let quota = limiter.check(1, TokenRateLimit::Default, T0).unwrap().unwrap();
            assert_eq!(quota.limit, 10);
            assert_eq!(quota.remaining, 9 - n, "request {n}");
        }
        let limited = limiter.check(1, TokenRateLimit::Default, T0).unwrap_err();
        assert_eq!(limited.quota.remaining, 0);
        // Ten requests in bucket 0; in bucket 1 they count 10 × (60 − e)/60, which is ≤ 9
        // from e = 6 on: 66 seconds after they were made.
        assert_eq!(limited.retry_after, 66);
        assert!(
            limiter.check(1, TokenRateLimit::Default, T0 + 65).is_err(),
            "one second early"
        );
        assert!(limiter.check(1, TokenRateLimit::Default, T0 + 66).is_ok(), "on time");
        assert!(
            limiter.check(1, TokenRateLimit::Default, T0 + 66).is_err(),
            "and only one"
        );
    }

    #[test]
    fn refused_requests_are_not_counted() {
        let limiter = small(2, 1000);
        limiter.check(1, TokenRateLimit::Default, T0).unwrap();
        limiter.check(1, TokenRateLimit::Default, T0).unwrap();
        for _ in 0..100 {
            assert!(limiter.check(1, TokenRateLimit::Default, T0 + 1).is_err());
        }
        // Two old requests fade to ≤ 1 at 30 s into the next bucket.
        assert!(limiter.check(1, TokenRateLimit::Default, T0 + 90).is_ok());
    }

    #[test]
    fn the_retry_time_is_when_the_next_request_is_admitted() {
        // Property-style: for many shapes of traffic, Retry-After is exact.
        for (limit, spread) in [(1u32, 1i64), (3, 7), (10, 3), (50, 1), (7, 5)] {
            let limiter = small(limit, 1_000_000);
            let mut now = T0 + 17;
            let mut refusal = None;
            for _ in 0..1000 {
                match limiter.check(9, TokenRateLimit::Default, now) {
                    Ok(_) => now += spread,
                    Err(limited) => {
                        refusal = Some(limited);
                        break;
                    }
                }
            }
            let refusal = refusal.expect("traffic faster than the limit is refused");
            let wait = refusal.retry_after as i64;
            assert!(wait >= 1);
            if wait > 1 {
                assert!(
                    limiter.check(9, TokenRateLimit::Default, now + wait - 1).is_err(),
                    "limit {limit}: early by one second"
                );
            }
            assert!(
                limiter.check(9, TokenRateLimit::Default, now + wait).is_ok(),
                "limit {limit}, spread {spread}: admitted after {wait} s"
            );
        }
    }

    #[test]
    fn the_tighter_window_is_shown_and_either_can_refuse() {
        let limiter = small(100, 5);
        for _ in 0..5 {
            let quota = limiter.check(1, TokenRateLimit::Default, T0).unwrap().unwrap();
            assert_eq!(quota.limit, 5, "the long window has less room");
            assert_eq!(quota.policy, "100;w=60, 5;w=3600");
        }
        let limited = limiter.check(1, TokenRateLimit::Default, T0 + 120).unwrap_err();
        assert_eq!(limited.quota.limit, 5);
        assert!(limited.retry_after > 3000, "the long window has to slide");
    }

    #[test]
    fn a_token_can_have_its_own_limits_or_none() {
        let limiter = small(1, 1);
        assert_eq!(limiter.check(1, TokenRateLimit::Off, T0), Ok(None));
        assert_eq!(limiter.check(1, TokenRateLimit::Off, T0), Ok(None));
        let own = TokenRateLimit::Custom { short: 3, long: 10 };
        for _ in 0..3 {
            assert!(limiter.check(2, own, T0).is_ok());
        }
        assert!(limiter.check(2, own, T0).is_err());
        assert!(limiter.check(3, TokenRateLimit::Default, T0).is_ok());
        assert!(
            limiter.check(3, TokenRateLimit::Default, T0).is_err(),
            "tokens count apart"
        );
        let none = RateLimiter::new(RateLimits {
            short_limit: None,
            long_limit: None,
            ..RateLimits::default()
        });
        assert_eq!(none.check(1, TokenRateLimit::Default, T0), Ok(None));
        assert!(
            none.check(1, own, T0).unwrap().is_some(),
            "a token's own limit still applies"
        );
    }

    #[test]
    fn idle_tokens_are_forgotten() {
        let limiter = small(10, 10);
        limiter.check(1, TokenRateLimit::Default, T0).unwrap();
        limiter.prune(T0 + 3600);
        assert_eq!(limiter.tracked(), 1);
        limiter.prune(T0 + 2 * 3600);
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn the_wire_and_command_line_forms_round_trip() {
        for (json, value) in [
            (r#""default""#, TokenRateLimit::Default),
            (r#""off""#, TokenRateLimit::Off),
            (r#"{"short":5,"long":9}"#, TokenRateLimit::Custom { short: 5, long: 9 }),
        ] {
            assert_eq!(serde_json::from_str::<TokenRateLimit>(json).unwrap(), value);
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            let (mode, short, long) = value.to_columns();
            assert_eq!(TokenRateLimit::from_columns(mode, short, long), value);
        }
        for bad in [r#""none""#, r#"{"short":0,"long":9}"#, r#"{"short":5}"#, "7"] {
            assert!(serde_json::from_str::<TokenRateLimit>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TokenRateLimit::parse("100,5000"),
            Ok(TokenRateLimit::Custom { short: 100, long: 5000 })
        );
        assert!(TokenRateLimit::parse("100").is_err());
        assert!(TokenRateLimit::parse("0,5").is_err());
    }

    proptest::proptest! {
        /// Whatever the traffic, no span one window long admits more than twice the limit,
        /// and a refusal's Retry-After is at least one second.
        #[test]
        fn no_window_admits_more_than_twice_its_limit(
            limit in 1u32..20,
            gaps in proptest::collection::vec(0i64..30, 1..400),
        ) {
            let limiter = small(limit, 1_000_000);
            let mut now = T0;
            let mut admitted: Vec<i64> = Vec::new();
            for gap in gaps {
                now += gap;
                match limiter.check(1, TokenRateLimit::Default, now) {
                    Ok(_) => admitted.push(now),
                    Err(limited) => proptest::prop_assert!(limited.retry_after >= 1),
                }
                let in_window = admitted.iter().filter(|t| **t > now - 60).count();
                proptest::prop_assert!(in_window <= 2 * limit as usize, "{} in 60 s, limit {}", in_window, limit);
            }
        }

        #[test]
        fn the_command_line_form_never_panics(text in "\\PC{0,30}") {
            let _ = TokenRateLimit::parse(&text);
        }
    }
}
