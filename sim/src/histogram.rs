//! A fixed-layout log-scale histogram for non-negative values.
//!
//! Quantiles of millions of observations are needed without keeping the
//! observations. The histogram splits each power of two into 16 equal
//! sub-buckets, so a bucket is between 1/32 and 1/16 of its values wide, and
//! reports the midpoint of the bucket holding the requested rank. That
//! midpoint is within [`LogHistogram::RELATIVE_ERROR_MAX`] (1/32, about 3.1%)
//! of the true order statistic.
//!
//! The bucket of a value is read straight from the bits of its `f64`: the
//! exponent picks the power of two and the top four mantissa bits pick the
//! sub-bucket. This is exact, needs no logarithm, and gives the same bucket on
//! every machine.
//!
//! Layout, in order of index:
//!
//! - bucket 0: values below [`LogHistogram::VALUE_MIN`] (2^-10, about
//!   0.001), including zero; reported as the smallest value seen;
//! - 16 buckets for each power of two from 2^-10 up to 2^36;
//! - a last bucket for values of [`LogHistogram::VALUE_MAX`] (2^36, about
//!   6.9e10) and above, reported as the largest value seen.
//!
//! For values in milliseconds this resolves 1 µs to over 2 years. The layout is
//! a constant, so any two histograms can be merged, and the buckets are
//! allocated once in [`LogHistogram::new`]; adding never allocates.

/// Sub-buckets per power of two, as a number of mantissa bits.
const SUB_BUCKET_BITS: u32 = 4;
const SUB_BUCKET_COUNT: usize = 1 << SUB_BUCKET_BITS;
/// The smallest power of two with its own buckets.
const EXPONENT_MIN: i32 = -10;
/// The power of two at which the overflow bucket starts.
const EXPONENT_MAX: i32 = 36;
const LOG_BUCKET_COUNT: usize = (EXPONENT_MAX - EXPONENT_MIN) as usize * SUB_BUCKET_COUNT;
/// Underflow bucket, log buckets, overflow bucket.
const BUCKET_COUNT: usize = LOG_BUCKET_COUNT + 2;
const BUCKET_OVERFLOW: usize = BUCKET_COUNT - 1;

/// Points an evenly spread group of observations is added at ([`LogHistogram::add_spread`]):
/// odd, so that the middle one is the median of a group on its own.
pub const SPREAD_POINTS: u64 = 5;

const MANTISSA_BITS: u32 = 52;
const EXPONENT_BIAS: i32 = 1023;

/// Counts of non-negative values in fixed log-scale buckets, with the exact
/// count, minimum, maximum, and sum.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHistogram {
    buckets: Box<[u64]>,
    /// The touched buckets lie in `index_lo..=index_hi` (when `count > 0`), so
    /// quantiles and clearing scan only that span, not every bucket.
    index_lo: usize,
    index_hi: usize,
    count: u64,
    value_min: f64,
    value_max: f64,
    sum: f64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram::new()
    }
}

impl LogHistogram {
    /// Values below this share bucket 0.
    pub const VALUE_MIN: f64 = 1.0 / (1u64 << -EXPONENT_MIN) as f64;
    /// Values at or above this share the overflow bucket.
    pub const VALUE_MAX: f64 = (1u64 << EXPONENT_MAX) as f64;
    /// The largest relative error of [`LogHistogram::quantile`] for
    /// quantiles that fall within [`VALUE_MIN`](Self::VALUE_MIN) to
    /// [`VALUE_MAX`](Self::VALUE_MAX): half of the widest relative bucket.
    pub const RELATIVE_ERROR_MAX: f64 = 1.0 / (2 * SUB_BUCKET_COUNT) as f64;
    /// The number of buckets, fixed for every histogram.
    pub const BUCKET_COUNT: usize = BUCKET_COUNT;

    /// An empty histogram, with all its buckets allocated.
    pub fn new() -> LogHistogram {
        LogHistogram {
            buckets: vec![0; BUCKET_COUNT].into_boxed_slice(),
            index_lo: 0,
            index_hi: 0,
            count: 0,
            value_min: 0.0,
            value_max: 0.0,
            sum: 0.0,
        }
    }

    /// Adds `count` observations of `value`, which must be finite and
    /// non-negative.
    #[inline]
    pub fn add(&mut self, value: f64, count: u64) {
        debug_assert!(
            value.is_finite() && value >= 0.0,
            "histogram values must be finite and non-negative, got {value}"
        );
        if count == 0 {
            return;
        }
        let index = bucket_index(value);
        // One test of emptiness instead of three: this runs for every chunk a reader
        // takes and every batch a producer settles.
        if self.count == 0 {
            (self.value_min, self.value_max) = (value, value);
            (self.index_lo, self.index_hi) = (index, index);
        } else {
            if value < self.value_min {
                self.value_min = value;
            }
            if value > self.value_max {
                self.value_max = value;
            }
            self.index_lo = self.index_lo.min(index);
            self.index_hi = self.index_hi.max(index);
        }
        self.count = self.count.checked_add(count).expect("histogram count overflow");
        self.buckets[index] += count;
        self.sum += value * crate::num::count_to_f64(count);
    }

    /// Adds `count` observations spread evenly over `[low, high]` (non-negative), as
    /// [`SPREAD_POINTS`] equal parts (the remainder of the division to the last) at the
    /// midpoints of equal slices: the median of a group on its own is exact, any other
    /// quantile is within half a slice, `(high - low) / 10`, of the even spread's, and
    /// the minimum, maximum and sum are the spread's own. A reader adds a group for every
    /// chunk it reads, so this touches the buckets directly and updates the totals once
    /// rather than calling [`Self::add`] for each point.
    #[inline]
    pub fn add_spread(&mut self, low: f64, high: f64, count: u64) {
        debug_assert!(0.0 <= low && low <= high, "a spread of {low} to {high}");
        if count < SPREAD_POINTS || high <= low {
            self.add(0.5 * (low + high), count);
            return;
        }
        let part = count / SPREAD_POINTS;
        let width = (high - low) * (1.0 / SPREAD_POINTS as f64);
        let first = low + 0.5 * width;
        let mut indices = [0; SPREAD_POINTS as usize];
        for (point, index) in indices.iter_mut().enumerate() {
            *index = bucket_index(first + width * point as f64);
            self.buckets[*index] += part;
        }
        // The points rise, so the first and last hold the lowest and highest buckets.
        let (index_low, index_high) = (indices[0], indices[SPREAD_POINTS as usize - 1]);
        self.buckets[index_high] += count - part * SPREAD_POINTS;
        if self.count == 0 {
            (self.value_min, self.value_max) = (low, high);
            (self.index_lo, self.index_hi) = (index_low, index_high);
        } else {
            self.value_min = self.value_min.min(low);
            self.value_max = self.value_max.max(high);
            self.index_lo = self.index_lo.min(index_low);
            self.index_hi = self.index_hi.max(index_high);
        }
        self.count = self.count.checked_add(count).expect("histogram count overflow");
        self.sum += 0.5 * (low + high) * crate::num::count_to_f64(count);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact largest value added, or 0 when empty.
    pub fn max(&self) -> f64 {
        self.value_max
    }

    /// The exact smallest value added, or 0 when empty.
    pub fn min(&self) -> f64 {
        self.value_min
    }

    /// The sum of all values added (each times its count), or 0 when empty.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The mean of all values added, or 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum / self.count as f64
    }

    /// The value at quantile `q` in [0, 1], or 0 when empty.
    ///
    /// It estimates the order statistic of rank `ceil(q * count)` (at least
    /// 1): the exact minimum for rank 1, the exact maximum for rank `count`,
    /// and otherwise the midpoint of the bucket holding that rank, clamped to
    /// the minimum and maximum. The estimate is within
    /// [`RELATIVE_ERROR_MAX`](Self::RELATIVE_ERROR_MAX) of the true order
    /// statistic when that lies between `VALUE_MIN` and `VALUE_MAX`.
    pub fn quantile(&self, q: f64) -> f64 {
        assert!((0.0..=1.0).contains(&q), "quantile must be in [0, 1], got {q}");
        if self.count == 0 {
            return 0.0;
        }
        let rank = quantile_rank(q, self.count);
        if rank == 1 {
            return self.value_min;
        }
        if rank == self.count {
            return self.value_max;
        }
        let index = self.bucket_of_rank(rank);
        bucket_midpoint(index, self.value_max).clamp(self.value_min, self.value_max)
    }

    /// The index of the bucket holding the observation of rank `rank`
    /// (1-based, in increasing order of value).
    fn bucket_of_rank(&self, rank: u64) -> usize {
        assert!(rank >= 1 && rank <= self.count);
        if rank > self.count / 2 {
            // High quantiles (p99) lie near the top: scan down from it. The bucket is
            // the lowest whose cumulative count reaches `rank`, that is the lowest with
            // at most `count - rank` observations above it.
            let above_max = self.count - rank;
            let mut above = 0u64;
            for index in (self.index_lo..=self.index_hi).rev() {
                above += self.buckets[index];
                if above > above_max {
                    return index;
                }
            }
            unreachable!("bucket counts sum to the total count");
        }
        let mut cumulative = 0u64;
        for index in self.index_lo..=self.index_hi {
            cumulative += self.buckets[index];
            if cumulative >= rank {
                return index;
            }
        }
        unreachable!("bucket counts sum to the total count");
    }

    /// Adds every observation of `other` to `self`.
    pub fn merge(&mut self, other: &LogHistogram) {
        assert_eq!(self.buckets.len(), other.buckets.len());
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            (self.index_lo, self.index_hi) = (other.index_lo, other.index_hi);
        } else {
            self.index_lo = self.index_lo.min(other.index_lo);
            self.index_hi = self.index_hi.max(other.index_hi);
        }
        if self.count == 0 || other.value_min < self.value_min {
            self.value_min = other.value_min;
        }
        if self.count == 0 || other.value_max > self.value_max {
            self.value_max = other.value_max;
        }
        self.count = self.count.checked_add(other.count).expect("histogram count overflow");
        let span = other.index_lo..=other.index_hi;
        for (mine, theirs) in self.buckets[span.clone()].iter_mut().zip(other.buckets[span].iter()) {
            *mine += theirs;
        }
        self.sum += other.sum;
    }

    /// Removes every observation, keeping the allocation.
    pub fn clear(&mut self) {
        if self.count > 0 {
            self.buckets[self.index_lo..=self.index_hi].fill(0);
        }
        debug_assert!(self.buckets.iter().all(|&b| b == 0));
        (self.index_lo, self.index_hi) = (0, 0);
        self.count = 0;
        self.value_min = 0.0;
        self.value_max = 0.0;
        self.sum = 0.0;
    }
}

/// `ceil(q * count)`, kept within `1..=count`.
fn quantile_rank(q: f64, count: u64) -> u64 {
    let rank = (q * count as f64).ceil();
    // The product can round past `count` for huge counts; clamp it back.
    (rank as u64).clamp(1, count)
}

/// Shifting a value's `f64` bit pattern right by this keeps its exponent and the top
/// [`SUB_BUCKET_BITS`] of its mantissa (under the sign bit, cleared first): the bucket
/// number, which grows with the value.
const TOP_BITS_SHIFT: u32 = MANTISSA_BITS - SUB_BUCKET_BITS;
/// The top bits of [`LogHistogram::VALUE_MIN`]: the first log bucket's.
const TOP_BITS_MIN: usize = ((EXPONENT_MIN + EXPONENT_BIAS) as usize) << SUB_BUCKET_BITS;

/// The bucket of a finite, non-negative value.
///
/// For non-negative values the bit pattern grows with the value, and its top bits (the
/// exponent, then the top [`SUB_BUCKET_BITS`] of the mantissa) count buckets: the
/// bucket is those bits less the first log bucket's, plus one, with everything below
/// [`LogHistogram::VALUE_MIN`] in bucket 0 and everything from
/// [`LogHistogram::VALUE_MAX`] on in the overflow bucket. Integer operations only, no
/// branch.
#[inline]
fn bucket_index(value: f64) -> usize {
    debug_assert!(value.is_finite() && value >= 0.0);
    // Clearing the sign bit maps -0.0 to 0.0.
    let bits = value.to_bits() & !(1 << 63);
    let top = (bits >> TOP_BITS_SHIFT) as usize;
    let index = top.saturating_sub(TOP_BITS_MIN - 1).min(BUCKET_OVERFLOW);
    debug_assert_eq!(index, bucket_index_by_parts(value));
    index
}

/// [`bucket_index`] the long way, from the exponent and sub-bucket (kept to check it).
fn bucket_index_by_parts(value: f64) -> usize {
    if value < LogHistogram::VALUE_MIN {
        return 0;
    }
    if value >= LogHistogram::VALUE_MAX {
        return BUCKET_OVERFLOW;
    }
    let bits = value.to_bits();
    let exponent = ((bits >> MANTISSA_BITS) & 0x7FF) as i32 - EXPONENT_BIAS;
    let sub_bucket = ((bits >> (MANTISSA_BITS - SUB_BUCKET_BITS)) as usize) & (SUB_BUCKET_COUNT - 1);
    debug_assert!((EXPONENT_MIN..EXPONENT_MAX).contains(&exponent));
    let index = 1 + (exponent - EXPONENT_MIN) as usize * SUB_BUCKET_COUNT + sub_bucket;
    debug_assert!(index > 0 && index < BUCKET_OVERFLOW);
    index
}

/// The value reported for a bucket: the midpoint of a log bucket, the middle
/// of the underflow range, or `value_max` for the overflow bucket.
fn bucket_midpoint(index: usize, value_max: f64) -> f64 {
    assert!(index < BUCKET_COUNT);
    if index == 0 {
        return LogHistogram::VALUE_MIN / 2.0;
    }
    if index == BUCKET_OVERFLOW {
        return value_max;
    }
    let offset = index - 1;
    let exponent = EXPONENT_MIN + (offset / SUB_BUCKET_COUNT) as i32;
    let sub_bucket = (offset % SUB_BUCKET_COUNT) as u64;
    // The midpoint's mantissa is the sub-bucket followed by a single one bit:
    // 2^exponent * (1 + sub_bucket / 64 + 1 / 128), built exactly from bits.
    let exponent_bits = ((exponent + EXPONENT_BIAS) as u64) << MANTISSA_BITS;
    let mantissa_bits =
        (sub_bucket << (MANTISSA_BITS - SUB_BUCKET_BITS)) | (1 << (MANTISSA_BITS - SUB_BUCKET_BITS - 1));
    f64::from_bits(exponent_bits | mantissa_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{exponential, uniform01};
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// Checks every listed quantile of `histogram` against the exact order
    /// statistic of `sorted` within the documented relative error.
    fn assert_quantiles_close(histogram: &LogHistogram, sorted: &[f64]) {
        assert_eq!(histogram.count(), sorted.len() as u64);
        for q in [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            let rank = quantile_rank(q, sorted.len() as u64);
            let exact = sorted[rank as usize - 1];
            let estimate = histogram.quantile(q);
            let tolerance = exact * LogHistogram::RELATIVE_ERROR_MAX * (1.0 + 1e-12);
            assert!((estimate - exact).abs() <= tolerance, "q {q}: estimate {estimate}, exact {exact}");
        }
    }

    fn histogram_of(values: &[f64]) -> LogHistogram {
        let mut histogram = LogHistogram::new();
        for &value in values {
            histogram.add(value, 1);
        }
        histogram
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let histogram = LogHistogram::new();
        assert_eq!(histogram.count(), 0);
        assert_eq!(histogram.quantile(0.5), 0.0);
        assert_eq!(histogram.max(), 0.0);
        assert_eq!(histogram.mean(), 0.0);
        assert!(histogram.is_empty());
    }

    #[test]
    fn quantiles_of_uniform_integers() {
        let values: Vec<f64> = (1..=100_000).map(f64::from).collect();
        assert_quantiles_close(&histogram_of(&values), &values);
    }

    /// A group spread evenly over 70 to 1,070 (a step's records read at once): its median
    /// is the spread's, its other quantiles within half a slice (100), its sum and
    /// extremes exact.
    /// (Added as one value, its 99th percentile was its median, 570.)
    #[test]
    fn a_spread_group_keeps_its_spread() {
        let mut histogram = LogHistogram::new();
        histogram.add_spread(70.0, 1070.0, 1000);
        for q in [0.1, 0.5, 0.9, 0.99] {
            let even = 70.0 + 1000.0 * q;
            let got = histogram.quantile(q);
            assert!(
                (got - even).abs() <= 125.0 + even * LogHistogram::RELATIVE_ERROR_MAX,
                "q {q}: {got} against {even}"
            );
        }
        assert!((histogram.quantile(0.5) - 570.0).abs() <= 570.0 * LogHistogram::RELATIVE_ERROR_MAX);
        assert!(histogram.quantile(0.99) > 900.0);
        assert_eq!((histogram.min(), histogram.max(), histogram.count()), (70.0, 1070.0, 1000));
        assert!((histogram.mean() - 570.0).abs() < 1e-9);
        // Fewer observations than points, or no spread: one value each.
        let mut small = LogHistogram::new();
        small.add_spread(10.0, 20.0, SPREAD_POINTS - 1);
        small.add_spread(5.0, 5.0, 3);
        assert_eq!(small.count(), SPREAD_POINTS - 1 + 3);
        assert_eq!(small.max(), 15.0);
    }

    #[test]
    fn quantiles_of_exponential_and_log_uniform_samples() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut exponential_values: Vec<f64> = (0..100_000).map(|_| exponential(&mut rng, 40.0)).collect();
        // Log-uniform over 2^-10 to 2^30 covers many powers of two.
        let mut log_uniform_values: Vec<f64> =
            (0..100_000).map(|_| libm::exp2(-10.0 + 40.0 * uniform01(&mut rng))).collect();
        for values in [&mut exponential_values, &mut log_uniform_values] {
            let histogram = histogram_of(values);
            values.sort_by(f64::total_cmp);
            assert_quantiles_close(&histogram, values);
            assert_eq!(histogram.max(), *values.last().unwrap());
            assert_eq!(histogram.min(), values[0]);
        }
    }

    #[test]
    fn weighted_counts_and_extremes() {
        let mut histogram = LogHistogram::new();
        histogram.add(10.0, 90);
        histogram.add(1_000.0, 10);
        histogram.add(0.0, 0);
        assert_eq!(histogram.count(), 100);
        assert_eq!(histogram.mean(), 109.0);
        let median = histogram.quantile(0.5);
        assert!((median - 10.0).abs() <= 10.0 * LogHistogram::RELATIVE_ERROR_MAX);
        let p95 = histogram.quantile(0.95);
        assert!((p95 - 1_000.0).abs() <= 1_000.0 * LogHistogram::RELATIVE_ERROR_MAX);
        assert_eq!(histogram.quantile(1.0), 1_000.0);
        assert_eq!(histogram.quantile(0.0), 10.0);
    }

    #[test]
    fn values_outside_the_log_range() {
        let mut histogram = LogHistogram::new();
        histogram.add(0.0, 3);
        histogram.add(1e-9, 1);
        histogram.add(5e12, 2);
        histogram.add(7e12, 2);
        assert_eq!(histogram.quantile(0.0), 0.0);
        // Underflow values are reported within the underflow range.
        assert!(histogram.quantile(0.4) <= LogHistogram::VALUE_MIN);
        // Overflow values are reported as the exact maximum.
        assert_eq!(histogram.quantile(0.7), 7e12);
        assert_eq!(histogram.max(), 7e12);
        let mut zeros = LogHistogram::new();
        zeros.add(0.0, 10);
        assert_eq!(zeros.quantile(0.5), 0.0);
    }

    #[test]
    fn bucket_boundaries_are_exact() {
        for exponent in [EXPONENT_MIN, -1, 0, 1, 20, EXPONENT_MAX - 1] {
            let lower = libm::exp2(f64::from(exponent));
            let index = bucket_index(lower);
            assert_eq!(index, 1 + (exponent - EXPONENT_MIN) as usize * SUB_BUCKET_COUNT);
            let width = lower / SUB_BUCKET_COUNT as f64;
            assert_eq!(bucket_midpoint(index, 0.0), lower + width / 2.0);
            assert_eq!(bucket_index(lower + width), index + 1);
            assert_eq!(bucket_index(lower + width * 0.999), index);
        }
        assert_eq!(bucket_index(LogHistogram::VALUE_MIN * 0.999), 0);
        assert_eq!(bucket_index(LogHistogram::VALUE_MAX), BUCKET_OVERFLOW);
        assert_eq!(bucket_index(LogHistogram::VALUE_MAX * 0.9999), BUCKET_OVERFLOW - 1);
    }

    #[test]
    fn bucket_index_from_top_bits_matches_the_parts() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut values = vec![0.0, -0.0, f64::MIN_POSITIVE, 1e-300, LogHistogram::VALUE_MAX, f64::MAX, 1.0];
        for exponent in EXPONENT_MIN - 2..=EXPONENT_MAX + 2 {
            let power = libm::exp2(f64::from(exponent));
            for value in [power, power * (1.0 + 1e-15), power * (1.0 - 1e-16), power * 1.5] {
                values.extend([value, f64::from_bits(value.to_bits() + 1), f64::from_bits(value.to_bits() - 1)]);
            }
        }
        values.extend((0..100_000).map(|_| libm::exp2(-20.0 + 70.0 * uniform01(&mut rng))));
        for value in values {
            assert_eq!(bucket_index(value), bucket_index_by_parts(value), "{value:e}");
        }
    }

    #[test]
    fn merge_equals_adding_everything_and_clear_resets() {
        let mut rng = ChaCha8Rng::seed_from_u64(22);
        let values: Vec<f64> = (0..10_000).map(|_| exponential(&mut rng, 5.0)).collect();
        let (left, right) = values.split_at(4_000);
        let mut merged = histogram_of(left);
        merged.merge(&histogram_of(right));
        let whole = histogram_of(&values);
        assert_eq!(merged.count(), whole.count());
        assert_eq!(merged.max(), whole.max());
        assert_eq!(merged.min(), whole.min());
        for q in [0.1, 0.5, 0.9, 0.99] {
            assert_eq!(merged.quantile(q), whole.quantile(q));
        }
        merged.merge(&LogHistogram::new());
        assert_eq!(merged.count(), whole.count());
        merged.clear();
        assert_eq!(merged, LogHistogram::new());
    }

    #[test]
    #[should_panic(expected = "finite and non-negative")]
    fn negative_values_panic() {
        LogHistogram::new().add(-1.0, 1);
    }
}
