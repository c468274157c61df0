//! Failed-authentication limits: after a burst of failures from one client (an IP address
//! for tokens, an account and IP address for sign-in), that client is refused with 429 for a
//! while, before any token lookup or password hash. Other clients are not affected.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// How many failures within `window_seconds` block a client, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Failures allowed within the window; the next one blocks. `0`: never blocked.
    pub burst: u32,
    pub window_seconds: u32,
    pub block_seconds: u32,
}

/// The `[failed_auth]` settings: one policy for bad tokens per IP, one for sign-in per
/// account and IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    pub tokens: FailurePolicy,
    pub sign_in: FailurePolicy,
    /// Leaked-token reports per client IP: 10 per minute, then five minutes of 429.
    pub reports: FailurePolicy,
}

impl Default for FailureLimits {
    /// 20 bad tokens per minute per IP, 5 failed sign-ins per minute per account and IP; then
    /// five minutes of 429.
    fn default() -> Self {
        Self {
            tokens: FailurePolicy {
                burst: 20,
                window_seconds: 60,
                block_seconds: 300,
            },
            sign_in: FailurePolicy {
                burst: 5,
                window_seconds: 60,
                block_seconds: 300,
            },
            reports: FailurePolicy {
                burst: 10,
                window_seconds: 60,
                block_seconds: 300,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: UnixTime,
    failures: u32,
    blocked_until: UnixTime,
}

/// Failure counts per client key (fixed windows: a burst is counted from its first failure).
pub struct FailureLimiter<K> {
    policy: FailurePolicy,
    entries: Mutex<HashMap<K, Entry>>,
}

/// Most clients tracked at once; beyond it, entries that block nothing are dropped first.
const MAX_TRACKED: usize = 100_000;

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    pub fn new(policy: FailurePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::default(),
        }
    }

    /// Seconds the client must still wait, if it is blocked.
    pub fn blocked(&self, key: &K, now: UnixTime) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        (entry.blocked_until > now).then(|| (entry.blocked_until - now) as u64)
    }

    /// Counts one failure; `Some(seconds)` when it starts a block.
    pub fn record_failure(&self, key: &K, now: UnixTime) -> Option<u64> {
        if self.policy.burst == 0 {
            return None;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED && !entries.contains_key(key) {
            entries.retain(|_, e| e.blocked_until > now);
        }
        let window = i64::from(self.policy.window_seconds);
        let entry = entries.entry(key.clone()).or_insert(Entry {
            window_start: now,
            failures: 0,
            blocked_until: 0,
        });
        if now - entry.window_start >= window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures > self.policy.burst {
            entry.blocked_until = now + i64::from(self.policy.block_seconds);
            entry.failures = 0;
            entry.window_start = entry.blocked_until;
            return Some(u64::from(self.policy.block_seconds));
        }
        None
    }

    /// Forgets clients neither blocked nor within a window of failures.
    pub fn prune(&self, now: UnixTime) {
        let window = i64::from(self.policy.window_seconds);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.blocked_until > now || now - e.window_start < window);
    }
}

/// The two limiters the verifier keeps.
pub struct Failures {
    /// Bad tokens per client IP (the API and proxy routes).
    pub tokens: FailureLimiter<IpAddr>,
    /// Failed sign-ins per lower-cased username and client IP.
    pub sign_in: FailureLimiter<(String, IpAddr)>,
    /// Leaked-token reports per client IP (each report counts).
    pub reports: FailureLimiter<IpAddr>,
}

impl Failures {
    pub fn new(limits: FailureLimits) -> Self {
        Self {
            tokens: FailureLimiter::new(limits.tokens),
            sign_in: FailureLimiter::new(limits.sign_in),
            reports: FailureLimiter::new(limits.reports),
        }
    }

    pub fn prune(&self, now: UnixTime) {
        self.tokens.prune(now);
        self.sign_in.prune(now);
        self.reports.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_800_000_000;

    fn limiter() -> FailureLimiter<u8> {
        FailureLimiter::new(FailurePolicy {
            burst: 3,
            window_seconds: 60,
            block_seconds: 300,
        })
    }

    #[test]
    fn a_burst_blocks_the_client_for_the_block_time_and_no_one_else() {
        let limiter = limiter();
        for _ in 0..3 {
            assert_eq!(limiter.record_failure(&1, T0), None);
            assert_eq!(limiter.blocked(&1, T0), None);
        }
        assert_eq!(
            limiter.record_failure(&1, T0 + 5),
            Some(300),
            "the fourth failure blocks"
        );
        assert_eq!(limiter.blocked(&1, T0 + 5), Some(300));
        assert_eq!(limiter.blocked(&1, T0 + 304), Some(1));
        assert_eq!(limiter.blocked(&1, T0 + 305), None, "over after the block time");
        assert_eq!(limiter.blocked(&2, T0 + 5), None, "another client");
        assert_eq!(
            limiter.record_failure(&1, T0 + 305),
            None,
            "a fresh count after a block"
        );
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_block() {
        let limiter = limiter();
        for n in 0..20 {
            assert_eq!(limiter.record_failure(&1, T0 + n * 21), None, "failure {n}");
        }
    }

    #[test]
    fn idle_clients_are_forgotten_and_a_zero_burst_never_blocks() {
        let limiter = limiter();
        limiter.record_failure(&1, T0);
        limiter.prune(T0 + 60);
        assert!(limiter.entries.lock().unwrap().is_empty());
        let off = FailureLimiter::new(FailurePolicy {
            burst: 0,
            window_seconds: 60,
            block_seconds: 60,
        });
        for _ in 0..100 {
            assert_eq!(off.record_failure(&1, T0), None);
        }
    }
}
