//! When a failed delivery is tried again: exponential backoff, four times longer each time,
//! capped, up to a number of attempts.

use crate::clock::UnixTime;

/// The retry policy (`[webhooks]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Seconds before the second attempt; each later wait is four times the one before.
    pub base_seconds: i64,
    /// Longest wait between two attempts, in seconds.
    pub max_delay_seconds: i64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 2 min, 8 min, 32 min, 2 h 8 min, then every 6 h: 8 attempts over about 15 hours.
    fn default() -> Self {
        Self {
            base_seconds: 30,
            max_delay_seconds: 6 * 3600,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` attempts failed, the last at `now`; `None` when
    /// none is left.
    pub fn next_attempt(&self, attempts: u32, now: UnixTime) -> Option<UnixTime> {
        if attempts == 0 || attempts >= self.max_attempts {
            return None;
        }
        let factor = 4i64.checked_pow(attempts - 1).unwrap_or(i64::MAX);
        let delay = self
            .base_seconds
            .saturating_mul(factor)
            .min(self.max_delay_seconds)
            .max(1);
        Some(now.saturating_add(delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[test]
    fn waits_grow_four_times_up_to_the_cap_and_stop_after_the_last_attempt() {
        let clock = ManualClock::new(1_000_000);
        let policy = RetryPolicy::default();
        let mut waits = Vec::new();
        let mut attempts = 1;
        while let Some(at) = policy.next_attempt(attempts, clock.now()) {
            waits.push(at - clock.now());
            clock.advance(at - clock.now());
            attempts += 1;
        }
        assert_eq!(waits, [30, 120, 480, 1920, 7680, 21_600, 21_600]);
        assert_eq!(attempts, 8, "eight attempts in all");
    }

    #[test]
    fn a_huge_attempt_count_does_not_overflow() {
        let policy = RetryPolicy {
            base_seconds: 1,
            max_delay_seconds: 60,
            max_attempts: u32::MAX,
        };
        assert_eq!(policy.next_attempt(100, 0), Some(60));
        assert_eq!(policy.next_attempt(0, 0), None);
        let once = RetryPolicy {
            max_attempts: 1,
            ..policy
        };
        assert_eq!(once.next_attempt(1, 0), None);
    }
}
