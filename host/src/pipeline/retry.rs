//! Retry policy of a flow's writes: bounded attempts per run, exponential
//! backoff with full jitter (capped), and the remote side's Retry-After
//! honoured as a floor.

use rand::Rng;
use std::time::Duration;

/// How a flow retries failed writes within one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per record per run (the first included); then the record
    /// waits in the retry queue for the next run.
    pub attempts: u32,
    /// Backoff base: the n-th retry waits a random time in `[0, min(cap, base * 2^n))`.
    pub base: Duration,
    /// Longest wait between two attempts (Retry-After may ask for more, up to `max_retry_after`).
    pub cap: Duration,
    /// Longest Retry-After honoured; a longer one ends the run's attempts for the record.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 = the first retry), given the
    /// remote side's Retry-After, if any. `None`: do not retry in this run.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.attempts {
            return None;
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(20)));
        let ceiling = exp.min(self.cap);
        let jitter = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=ceiling)
        };
        match retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait.max(jitter)),
            None => Some(jitter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
            max_retry_after: Duration::from_secs(60),
        };
        for _ in 0..200 {
            assert!(p.delay(1, None).unwrap() <= Duration::from_millis(100));
            assert!(p.delay(2, None).unwrap() <= Duration::from_millis(200));
            assert!(p.delay(9, None).unwrap() <= Duration::from_millis(400));
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_stops_the_run() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            assert!(p.delay(1, Some(Duration::from_secs(2))).unwrap() >= Duration::from_secs(2));
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600))), None);
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.delay(2, None).is_some());
        assert_eq!(p.delay(3, None), None);
    }
}
