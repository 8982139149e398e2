//! Retry policies: when a rejected record is tried again, and when it is given up.
//!
//! In stepped mode rejected records travel as groups, so a policy answers for a group:
//! the window its next attempt falls in (uniform inside it). Full and equal jitter are
//! exact this way for the window, but the step resolves it: at a 1 s step, backoffs under
//! a second all land in the next step, so the two jitters give the same result (measured
//! in docs/model.md §11). Decorrelated jitter depends on each record's previous sleep; a group
//! carries the mean of its members' previous sleeps, which is the documented stepped-mode
//! approximation. The SDK's retry quota is kept per producer, summed over instances.

use crate::spec::{Jitter, RetrySpec};
use kinesim_sim::{SimDuration, NANOS_PER_SEC};

/// The AWS SDK standard mode's constants (reference `kinesis-facts.md` §2.4, botocore
/// `retries/standard.py`): full jitter, base 1 s, cap 20 s, 500 quota tokens per client,
/// 5 per retry, 1 back for a success without retries.
pub const SDK_BASE: SimDuration = SimDuration(NANOS_PER_SEC);
pub const SDK_CAP: SimDuration = SimDuration(20 * NANOS_PER_SEC);
pub const SDK_QUOTA_TOKENS: u64 = 500;
pub const SDK_RETRY_COST: u64 = 5;
pub const SDK_SUCCESS_REFUND: u64 = 1;

/// Where the next attempt of a rejected group falls, relative to its rejection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BackoffWindow {
    pub min_ns: u64,
    pub max_ns: u64,
}

impl BackoffWindow {
    pub fn mean_ns(&self) -> u64 {
        self.min_ns / 2 + self.max_ns / 2
    }
}

#[derive(Clone, Debug)]
pub struct RetryModel {
    spec: RetrySpec,
}

impl RetryModel {
    pub fn new(spec: &RetrySpec) -> RetryModel {
        RetryModel { spec: spec.clone() }
    }

    /// Attempts per record, the first included.
    pub fn max_attempts(&self) -> u32 {
        match &self.spec {
            RetrySpec::None => 1,
            RetrySpec::Exponential { max_attempts, .. } | RetrySpec::SdkStandard { max_attempts } => *max_attempts,
            // Bounded by the record TTL instead.
            RetrySpec::Kpl { .. } => u32::MAX,
        }
    }

    /// Whether retries draw on the SDK retry quota.
    pub fn uses_quota(&self) -> bool {
        matches!(self.spec, RetrySpec::SdkStandard { .. })
    }

    /// The longest wait any retry can have; bounds the retry wheel.
    pub fn wait_max(&self) -> SimDuration {
        match &self.spec {
            RetrySpec::None => SimDuration::ZERO,
            RetrySpec::Exponential { cap, .. } => *cap,
            RetrySpec::SdkStandard { .. } => SDK_CAP,
            RetrySpec::Kpl { delay, .. } => *delay,
        }
    }

    /// How long a record may live before it is given up (the KPL's RecordTtl).
    pub fn ttl(&self) -> Option<SimDuration> {
        match &self.spec {
            RetrySpec::Kpl { ttl, .. } => Some(*ttl),
            _ => None,
        }
    }

    /// The window of the next attempt after attempt `attempt` (1-based) was rejected,
    /// or `None` when the record is given up. `previous_sleep_ns` is the mean sleep
    /// before the rejected attempt (0 for a first attempt).
    pub fn next_window(&self, attempt: u32, previous_sleep_ns: u64) -> Option<BackoffWindow> {
        assert!(attempt >= 1);
        if attempt >= self.max_attempts() {
            return None;
        }
        let (base, cap, jitter) = match &self.spec {
            RetrySpec::None => return None,
            RetrySpec::Kpl { delay, .. } => {
                return Some(BackoffWindow { min_ns: delay.as_nanos(), max_ns: delay.as_nanos() });
            }
            RetrySpec::Exponential { base, cap, jitter, .. } => (base.as_nanos(), cap.as_nanos(), jitter),
            RetrySpec::SdkStandard { .. } => (SDK_BASE.as_nanos(), SDK_CAP.as_nanos(), &Jitter::Full),
        };
        Some(window(base, cap, jitter, attempt, previous_sleep_ns))
    }
}

/// Retry `n = attempt` waits within `min(cap, base * 2^(n-1))`.
fn window(base: u64, cap: u64, jitter: &Jitter, attempt: u32, previous_sleep_ns: u64) -> BackoffWindow {
    let exponent = (attempt - 1).min(62);
    let ceiling = base.saturating_mul(1u64 << exponent).min(cap);
    match jitter {
        Jitter::Full => BackoffWindow { min_ns: 0, max_ns: ceiling },
        Jitter::Equal => BackoffWindow { min_ns: ceiling / 2, max_ns: ceiling },
        Jitter::Decorrelated => {
            // sleep = min(cap, uniform(base, previous * 3)), the first previous = base.
            let previous = if previous_sleep_ns == 0 { base } else { previous_sleep_ns };
            let high = previous.saturating_mul(3).min(cap).max(base.min(cap));
            BackoffWindow { min_ns: base.min(cap), max_ns: high }
        }
    }
}

/// The SDK standard mode's retry quota, pooled over a producer's instances.
#[derive(Clone, Debug)]
pub struct RetryQuota {
    tokens: u64,
    tokens_max: u64,
}

impl RetryQuota {
    pub fn new(instances: u32) -> RetryQuota {
        let tokens_max = SDK_QUOTA_TOKENS * u64::from(instances);
        RetryQuota { tokens: tokens_max, tokens_max }
    }

    /// Takes the cost of up to `records` retries; returns how many may retry.
    pub fn acquire(&mut self, records: u64) -> u64 {
        let allowed = (self.tokens / SDK_RETRY_COST).min(records);
        self.tokens -= allowed * SDK_RETRY_COST;
        allowed
    }

    /// Gives back tokens for accepted records: 1 for a first attempt, the retry cost
    /// for a retried one.
    pub fn release(&mut self, first_attempts: u64, retried: u64) {
        let refund = first_attempts * SDK_SUCCESS_REFUND + retried * SDK_RETRY_COST;
        self.tokens = (self.tokens + refund).min(self.tokens_max);
    }

    pub fn tokens(&self) -> u64 {
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exponential(jitter: Jitter) -> RetryModel {
        RetryModel::new(&RetrySpec::Exponential {
            base: SimDuration::from_millis(100),
            cap: SimDuration::from_secs(5),
            max_attempts: 6,
            jitter,
        })
    }

    #[test]
    fn full_jitter_doubles_to_the_cap() {
        let model = exponential(Jitter::Full);
        let ms = |w: BackoffWindow| (w.min_ns / 1_000_000, w.max_ns / 1_000_000);
        assert_eq!(ms(model.next_window(1, 0).unwrap()), (0, 100));
        assert_eq!(ms(model.next_window(2, 0).unwrap()), (0, 200));
        assert_eq!(ms(model.next_window(5, 0).unwrap()), (0, 1600));
        assert_eq!(model.next_window(6, 0), None, "max_attempts counts the first attempt");
    }

    #[test]
    fn equal_and_decorrelated_windows() {
        let equal = exponential(Jitter::Equal).next_window(3, 0).unwrap();
        assert_eq!((equal.min_ns, equal.max_ns), (200_000_000, 400_000_000));
        let decorrelated = exponential(Jitter::Decorrelated).next_window(2, 1_000_000_000).unwrap();
        assert_eq!((decorrelated.min_ns, decorrelated.max_ns), (100_000_000, 3_000_000_000));
    }

    #[test]
    fn sdk_standard_defaults() {
        let model = RetryModel::new(&RetrySpec::SdkStandard { max_attempts: 3 });
        assert_eq!(model.next_window(1, 0).unwrap().max_ns, 1_000_000_000);
        assert_eq!(model.next_window(2, 0).unwrap().max_ns, 2_000_000_000);
        assert_eq!(model.next_window(3, 0), None);
        let mut quota = RetryQuota::new(1);
        assert_eq!(quota.acquire(1000), 100);
        assert_eq!(quota.tokens(), 0);
        quota.release(10, 0);
        assert_eq!(quota.acquire(5), 2);
    }
}
