//! Slowing down password guessing: after a few failed sign-ins from one client address or
//! for one account, further attempts are refused for a time that doubles with each failure
//! (1 s, 2 s, 4 s, … at most 15 minutes). Kept in memory; time is a parameter.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// Failures allowed before the lock-out starts.
const FREE_FAILURES: u32 = 3;
/// Longest lock-out, in seconds.
const MAX_LOCK: i64 = 15 * 60;
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: i64 = 60 * 60;
/// Keys kept at most; beyond, the stale ones are dropped first.
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: UnixTime,
    locked_until: UnixTime,
}

/// Failed sign-ins per key (`ip:…`, `user:…`).
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The keys an attempt is counted under: its client address and the account it names.
pub fn keys(client_ip: Option<&str>, username: &str) -> Vec<String> {
    let mut keys = vec![format!("user:{}", username.trim().to_lowercase())];
    if let Some(ip) = client_ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}

impl Throttle {
    /// `Err(seconds)` to wait when any key is locked out at `now`.
    pub fn check(&self, keys: &[String], now: UnixTime) -> Result<(), i64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| entries.get(k))
            .map(|e| e.locked_until - now)
            .max()
            .unwrap_or(0);
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Counts a failed attempt under every key.
    pub fn failed(&self, keys: &[String], now: UnixTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| now - e.last_failure < FORGET_AFTER && e.locked_until > now);
        }
        for key in keys {
            let entry = entries.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last_failure: now,
                locked_until: now,
            });
            if now - entry.last_failure >= FORGET_AFTER {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if entry.failures > FREE_FAILURES {
                let exponent = (entry.failures - FREE_FAILURES - 1).min(20);
                entry.locked_until = now + (1_i64 << exponent).min(MAX_LOCK);
            }
        }
    }

    /// Clears an account's failures after a successful sign-in. The client address keeps its
    /// count, so one valid account cannot be used to reset guessing at others.
    pub fn succeeded(&self, username: &str) {
        let key = format!("user:{}", username.trim().to_lowercase());
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_800_000_000;

    #[test]
    fn a_few_failures_are_free_then_the_wait_doubles() {
        let throttle = Throttle::default();
        let k = keys(Some("10.0.0.1"), "Ada");
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.check(&k, T0), Ok(()));
            throttle.failed(&k, T0);
        }
        assert_eq!(throttle.check(&k, T0), Ok(()));
        throttle.failed(&k, T0);
        assert_eq!(throttle.check(&k, T0), Err(1));
        assert_eq!(throttle.check(&k, T0 + 1), Ok(()));
        throttle.failed(&k, T0 + 1);
        assert_eq!(throttle.check(&k, T0 + 1), Err(2));
        throttle.failed(&k, T0 + 3);
        assert_eq!(throttle.check(&k, T0 + 3), Err(4));
    }

    #[test]
    fn the_account_is_locked_from_any_address_and_the_address_for_any_account() {
        let throttle = Throttle::default();
        for i in 0..=FREE_FAILURES {
            throttle.failed(&keys(Some(&format!("10.0.0.{i}")), "ada"), T0);
        }
        assert!(throttle.check(&keys(Some("192.0.2.9"), "ADA"), T0).is_err());
        assert!(throttle.check(&keys(Some("192.0.2.9"), "bob"), T0).is_ok());
        for name in ["c", "d", "e", "f"] {
            throttle.failed(&keys(Some("192.0.2.7"), name), T0);
        }
        assert!(throttle.check(&keys(Some("192.0.2.7"), "grace"), T0).is_err());
    }

    #[test]
    fn the_lock_is_capped_and_forgotten_and_success_clears_the_account() {
        let throttle = Throttle::default();
        let k = keys(None, "ada");
        for _ in 0..40 {
            throttle.failed(&k, T0);
        }
        assert_eq!(throttle.check(&k, T0), Err(MAX_LOCK));
        throttle.succeeded("ADA");
        assert_eq!(throttle.check(&k, T0), Ok(()));
        for _ in 0..=FREE_FAILURES {
            throttle.failed(&k, T0);
        }
        throttle.failed(&k, T0 + FORGET_AFTER);
        assert_eq!(
            throttle.check(&k, T0 + FORGET_AFTER),
            Ok(()),
            "old failures are forgotten"
        );
    }
}
