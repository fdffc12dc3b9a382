//! Retry timing: exponential backoff with "equal jitter" (half fixed, half random), so
//! retries of many messages after a peer outage spread out instead of arriving at once.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When attempt `attempts + 1` may run, after `attempts` failures. `jitter` is in [0, 1).
pub fn next_attempt(
    attempts: u32,
    now: DateTime<Utc>,
    base: Duration,
    max: Duration,
    jitter: f64,
) -> DateTime<Utc> {
    let exp = attempts.saturating_sub(1).min(31);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let jitter = jitter.clamp(0.0, 1.0);
    let delay = full / 2 + full.mul_f64(jitter / 2.0);
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(attempts: u32, jitter: f64) -> Duration {
        let now = Utc::now();
        (next_attempt(
            attempts,
            now,
            Duration::from_secs(1),
            Duration::from_secs(600),
            jitter,
        ) - now)
            .to_std()
            .unwrap()
    }

    #[test]
    fn doubles_per_attempt_within_jitter_bounds() {
        assert_eq!(delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(delay(2, 0.0), Duration::from_secs(1));
        assert_eq!(delay(4, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn is_capped_at_max() {
        assert_eq!(delay(30, 1.0), Duration::from_secs(600));
        assert_eq!(delay(u32::MAX, 0.0), Duration::from_secs(300));
    }
}
