//! Write admission: the per-shard 1,000 records/s and 1 MiB/s limits.
//!
//! AWS does not publish how the limits are enforced (reference `kinesis-facts.md` §2.3),
//! so two readings exist. Fixed windows give each aligned second the full allowance.
//! Token buckets refill continuously and hold at most `depth_s` seconds of allowance;
//! large records (above 1 MiB, §7.3) need a byte bucket at least one record deep, which
//! the loader checks. Within a step, arrivals from every producer and retry are
//! interleaved at random, so whatever the limit cuts is cut from all of them in
//! proportion; the window filled at the moment the last admitted record arrived.

use crate::ratio::{scale, scale_rounded};
use crate::spec::{Enforcement, WriteLimitSpec};
use kinesim_sim::num::{count_to_f64, f64_to_count};
use kinesim_sim::NANOS_PER_SEC;

/// A shard's remaining write allowance.
#[derive(Copy, Clone, Debug, Default)]
pub struct WriteAllowance {
    records: f64,
    bytes: f64,
    /// Fixed windows: the second the allowance belongs to.
    window_index: u64,
    /// Token buckets: when the allowance was last refilled.
    refilled_at_ns: u64,
}

/// What one step's admission decided for one shard.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    pub records_accepted: u64,
    pub bytes_accepted: u64,
    /// When the allowance ran out (the step end if it did not).
    pub filled_at_ns: u64,
}

#[derive(Clone, Debug)]
pub struct WriteAdmission {
    records_per_s: f64,
    bytes_per_s: f64,
    enforcement: Enforcement,
}

impl WriteAdmission {
    pub fn new(spec: &WriteLimitSpec) -> WriteAdmission {
        WriteAdmission {
            records_per_s: spec.records_per_s as f64,
            bytes_per_s: spec.bytes_per_s as f64,
            enforcement: spec.enforcement.clone(),
        }
    }

    /// The allowance of a shard that opens at `now_ns`: a full window or bucket.
    pub fn fresh(&self, now_ns: u64) -> WriteAllowance {
        let depth_s = match self.enforcement {
            Enforcement::FixedWindow => 1.0,
            Enforcement::TokenBucket { depth_s } => depth_s,
        };
        WriteAllowance {
            records: self.records_per_s * depth_s,
            bytes: self.bytes_per_s * depth_s,
            window_index: now_ns / NANOS_PER_SEC,
            refilled_at_ns: now_ns,
        }
    }

    /// Prepares the allowance of the step `[t0, t1)`. A token bucket carries at most its
    /// depth into the step and refills during it, so the step may use the carried tokens
    /// plus what arrives while it runs: over any interval `t` a bucket admits at most
    /// `depth + rate * t`, as a real one does.
    pub fn refill(&self, allowance: &mut WriteAllowance, t0_ns: u64, t1_ns: u64) {
        match self.enforcement {
            Enforcement::FixedWindow => {
                let window_index = t0_ns / NANOS_PER_SEC;
                if window_index != allowance.window_index {
                    *allowance = self.fresh(t0_ns);
                }
            }
            Enforcement::TokenBucket { depth_s } => {
                debug_assert_eq!(allowance.refilled_at_ns, t0_ns, "steps follow each other");
                let step_s = (t1_ns - t0_ns) as f64 / NANOS_PER_SEC as f64;
                allowance.records = allowance.records.min(self.records_per_s * depth_s) + self.records_per_s * step_s;
                allowance.bytes = allowance.bytes.min(self.bytes_per_s * depth_s) + self.bytes_per_s * step_s;
                allowance.refilled_at_ns = t1_ns;
            }
        }
    }

    /// Admits as much of `records` / `bytes` (arriving evenly over `[t0, t1)`) as the
    /// allowance holds, and charges it.
    pub fn admit(&self, allowance: &mut WriteAllowance, records: u64, bytes: u64, t0_ns: u64, t1_ns: u64) -> Admission {
        if records == 0 {
            return Admission { records_accepted: 0, bytes_accepted: 0, filled_at_ns: t1_ns };
        }
        // `f64_to_count` is `max(0.0) as u64` and `count_to_f64` is `as f64`, in fewer
        // instructions (allowances, records and bytes of a step are far below 2^63).
        let by_records = f64_to_count(allowance.records).min(records);
        let by_bytes = if count_to_f64(bytes) <= allowance.bytes {
            records
        } else {
            // Records fit at the step's mean record size.
            ((allowance.bytes.max(0.0) * records as f64 / bytes as f64) as u64).min(records)
        };
        let accepted = by_records.min(by_bytes);
        // Most steps accept everything: skip the division, whose result would be `bytes`.
        let bytes_accepted = if accepted == records { bytes } else { scale(bytes, accepted, records) };
        allowance.records -= count_to_f64(accepted);
        allowance.bytes -= count_to_f64(bytes_accepted);
        let filled_at_ns = if accepted == records { t1_ns } else { t0_ns + scale(t1_ns - t0_ns, accepted, records) };
        debug_assert!(accepted <= records && bytes_accepted <= bytes);
        Admission { records_accepted: accepted, bytes_accepted, filled_at_ns }
    }
}

impl WriteAdmission {
    /// Record mode: whether one record of `bytes` (partition key included, facts §1.1)
    /// arriving at `at_ns` fits the shard's allowance at that instant, and if so charges
    /// it. A fixed window starts afresh at each whole second; a token bucket is refilled
    /// up to `at_ns` (at most its depth). Calls come in time order per shard.
    pub fn admit_one(&self, allowance: &mut WriteAllowance, bytes: u64, at_ns: u64) -> bool {
        match self.enforcement {
            Enforcement::FixedWindow => {
                if at_ns / NANOS_PER_SEC != allowance.window_index {
                    *allowance = self.fresh(at_ns);
                }
            }
            Enforcement::TokenBucket { depth_s } => {
                debug_assert!(allowance.refilled_at_ns <= at_ns, "records arrive in time order");
                let elapsed_s = at_ns.saturating_sub(allowance.refilled_at_ns) as f64 / NANOS_PER_SEC as f64;
                allowance.records =
                    (allowance.records + self.records_per_s * elapsed_s).min(self.records_per_s * depth_s);
                allowance.bytes = (allowance.bytes + self.bytes_per_s * elapsed_s).min(self.bytes_per_s * depth_s);
                allowance.refilled_at_ns = allowance.refilled_at_ns.max(at_ns);
            }
        }
        let fits = allowance.records >= 1.0 && allowance.bytes >= count_to_f64(bytes);
        if fits {
            allowance.records -= 1.0;
            allowance.bytes -= count_to_f64(bytes);
        }
        fits
    }
}

/// Splits `accepted_total` of `demand_total` over arrivals one at a time, in proportion
/// to each arrival's records, rounding so the parts add up exactly: the last arrival of
/// a shard always receives what remains. Returns the part of an arrival of `records`.
pub fn apportion(accept_left: &mut u64, demand_left: &mut u64, records: u64) -> u64 {
    debug_assert!(records <= *demand_left && *accept_left <= *demand_left);
    if records == 0 {
        return 0;
    }
    // The last arrival takes what remains (usually the only one: one producer), so the
    // division is made only for the others.
    let part = if records == *demand_left {
        *accept_left
    } else {
        scale_rounded(*accept_left, records, *demand_left).min(records).min(*accept_left)
    };
    *accept_left -= part;
    *demand_left -= records;
    part
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::MIB;

    fn admission(enforcement: Enforcement) -> WriteAdmission {
        WriteAdmission::new(&WriteLimitSpec { records_per_s: 1000, bytes_per_s: MIB, enforcement })
    }

    const S: u64 = NANOS_PER_SEC;

    #[test]
    fn fixed_windows_reset_each_second() {
        let limits = admission(Enforcement::FixedWindow);
        let mut allowance = limits.fresh(0);
        let first = limits.admit(&mut allowance, 1500, 1500, 0, S);
        assert_eq!(first.records_accepted, 1000);
        assert_eq!(first.filled_at_ns, S * 2 / 3);
        limits.refill(&mut allowance, S / 2, S);
        assert_eq!(limits.admit(&mut allowance, 10, 10, S / 2, S).records_accepted, 0);
        limits.refill(&mut allowance, S, 2 * S);
        assert_eq!(limits.admit(&mut allowance, 10, 10, S, 2 * S).records_accepted, 10);
    }

    #[test]
    fn bytes_limit_counts() {
        let limits = admission(Enforcement::FixedWindow);
        let mut allowance = limits.fresh(0);
        // 800 records of 2 KiB = 1.6 MiB: only 512 fit.
        let result = limits.admit(&mut allowance, 800, 800 * 2048, 0, S);
        assert_eq!(result.records_accepted, 512);
        assert_eq!(result.bytes_accepted, MIB);
    }

    #[test]
    fn token_buckets_refill_continuously() {
        let limits = admission(Enforcement::TokenBucket { depth_s: 2.0 });
        let mut allowance = limits.fresh(0);
        // A full bucket of two seconds plus the second's own refill.
        limits.refill(&mut allowance, 0, S);
        assert_eq!(limits.admit(&mut allowance, 5000, 5000, 0, S).records_accepted, 3000);
        limits.refill(&mut allowance, S, S + S / 2);
        assert_eq!(limits.admit(&mut allowance, 5000, 5000, S, S + S / 2).records_accepted, 500);
    }

    #[test]
    fn one_record_at_a_time() {
        let limits = admission(Enforcement::FixedWindow);
        let mut allowance = limits.fresh(0);
        let accepted = (0..1500).filter(|i| limits.admit_one(&mut allowance, 100, i * S / 1500)).count();
        assert_eq!(accepted, 1000, "a window admits its limit");
        assert!(limits.admit_one(&mut allowance, 100, S), "the next second starts afresh");
        let bucket = admission(Enforcement::TokenBucket { depth_s: 1.0 });
        let mut allowance = bucket.fresh(0);
        assert_eq!((0..1000).filter(|_| bucket.admit_one(&mut allowance, 100, 0)).count(), 1000);
        assert!(!bucket.admit_one(&mut allowance, 100, 0), "the bucket is empty");
        assert!(!bucket.admit_one(&mut allowance, 100, S / 2000), "half a token");
        assert!(bucket.admit_one(&mut allowance, 100, S / 1000), "one token refilled");
    }

    #[test]
    fn apportioning_adds_up() {
        let (mut accept_left, mut demand_left) = (7, 30);
        let parts: Vec<u64> = [10, 10, 10].iter().map(|&r| apportion(&mut accept_left, &mut demand_left, r)).collect();
        assert_eq!(parts.iter().sum::<u64>(), 7);
        assert!(parts.iter().all(|&p| p == 2 || p == 3));
    }
}
