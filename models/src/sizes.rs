//! Record sizes: per-record draws and byte totals of whole batches.
//!
//! A step moves thousands of records per shard, so byte totals are not summed record by
//! record. Small batches (up to [`EXACT_BATCH_MAX`] records) draw each size; larger ones
//! use the central limit theorem, `n*mean + sqrt(n)*sd*Z`, clamped to `[n*min, n*max]`.
//! For n above 16 the relative error of that approximation in any quantile that matters
//! for a 1 MiB/s limit is far below the noise of the arrival counts themselves.

use crate::spec::SizeDistribution;
use kinesim_sim::sample::{standard_normal, uniform01};
use kinesim_sim::RngCore;

/// Batches up to this many records draw every record's size.
pub const EXACT_BATCH_MAX: u64 = 16;

#[derive(Clone, Debug)]
pub struct SizeModel {
    distribution: SizeDistribution,
    mean: f64,
    sd: f64,
    min: u64,
    max: u64,
    /// For empirical tables: cumulative weights normalised to 1.
    cumulative: Vec<f64>,
}

impl SizeModel {
    pub fn new(distribution: &SizeDistribution) -> SizeModel {
        let (mean, sd, min, max) = moments(distribution);
        let cumulative = match distribution {
            SizeDistribution::Empirical(table) => {
                let total: f64 = table.iter().map(|(_, w)| w).sum();
                let mut running = 0.0;
                table
                    .iter()
                    .map(|(_, w)| {
                        running += w / total;
                        running
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        SizeModel { distribution: distribution.clone(), mean, sd, min, max, cumulative }
    }

    /// Splits the distribution at `limit` bytes: the probability that a record is larger
    /// (such records are rejected by the producer's SDK, never truncated), and the model
    /// of the records that fit. For a log-normal the fitting part is the same law
    /// clamped at the limit, which differs from the exact truncation only by the mass
    /// above the limit (reported as the rejected fraction).
    pub fn split_at(&self, limit: u64) -> (f64, SizeModel) {
        if self.max <= limit {
            return (0.0, self.clone());
        }
        match &self.distribution {
            SizeDistribution::Fixed(_) => (1.0, self.clone()),
            SizeDistribution::Uniform { min, max } => {
                if *min > limit {
                    return (1.0, self.clone());
                }
                let over = (max - limit) as f64 / (max - min + 1) as f64;
                (over, SizeModel::new(&SizeDistribution::Uniform { min: *min, max: limit }))
            }
            SizeDistribution::LogNormal { median, sigma, min, max } => {
                if *min > limit {
                    return (1.0, self.clone());
                }
                let z = libm::log(limit as f64 / median) / sigma;
                let over = 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
                let below =
                    SizeDistribution::LogNormal { median: *median, sigma: *sigma, min: *min, max: limit.min(*max) };
                (over, SizeModel::new(&below))
            }
            SizeDistribution::Empirical(table) => {
                let total: f64 = table.iter().map(|(_, w)| w).sum();
                let fitting: Vec<(u64, f64)> = table.iter().copied().filter(|(size, _)| *size <= limit).collect();
                let fitting_weight: f64 = fitting.iter().map(|(_, w)| w).sum();
                if fitting.is_empty() {
                    return (1.0, self.clone());
                }
                (1.0 - fitting_weight / total, SizeModel::new(&SizeDistribution::Empirical(fitting)))
            }
        }
    }

    pub fn mean_bytes(&self) -> f64 {
        self.mean
    }

    pub fn sd_bytes(&self) -> f64 {
        self.sd
    }

    pub fn max_bytes(&self) -> u64 {
        self.max
    }

    pub fn min_bytes(&self) -> u64 {
        self.min
    }

    /// One record's data blob size.
    #[inline]
    pub fn sample_one<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        match &self.distribution {
            SizeDistribution::Fixed(size) => *size,
            SizeDistribution::Uniform { min, max } => {
                let span = (max - min + 1) as f64;
                (min + (uniform01(rng) * span) as u64).min(*max)
            }
            SizeDistribution::LogNormal { median, sigma, min, max } => {
                let size = median * libm::exp(sigma * standard_normal(rng));
                (libm::round(size) as u64).clamp(*min, *max)
            }
            SizeDistribution::Empirical(table) => {
                let u = uniform01(rng);
                let index = self.cumulative.partition_point(|&c| c <= u).min(table.len() - 1);
                table[index].0
            }
        }
    }

    /// The expected number of `unit`-byte units a record is billed, rounded up and at
    /// least one: `E[max(1, ceil((S + key_bytes) / unit))]` over this law of data sizes
    /// `S` (pricing §2.1 and §3.1 round each record, so billing a step's records at
    /// their mean size is off whenever sizes straddle a unit). Exact for fixed, uniform
    /// and empirical sizes; for a log-normal, from its distribution function at each
    /// unit's edge (sizes are drawn rounded to whole bytes and clamped to `[min, max]`).
    pub fn expected_units(&self, key_bytes: f64, unit: u64) -> f64 {
        assert!(unit > 0);
        let units = |size: f64| ((size + key_bytes) / unit as f64).ceil().max(1.0);
        match &self.distribution {
            SizeDistribution::Fixed(size) => units(*size as f64),
            SizeDistribution::Empirical(table) => {
                let total: f64 = table.iter().map(|(_, w)| w).sum();
                table.iter().map(|(size, w)| units(*size as f64) * w).sum::<f64>() / total
            }
            SizeDistribution::Uniform { min, max } => {
                // P(S <= x) for whole sizes uniform on [min, max].
                let (lo, hi) = (*min as f64, *max as f64);
                let cdf = |x: f64| ((x.floor() - lo + 1.0) / (hi - lo + 1.0)).clamp(0.0, 1.0);
                expected_by_bands(cdf, lo, hi, key_bytes, unit)
            }
            SizeDistribution::LogNormal { median, sigma, min, max } => {
                // S = clamp(round(X), min, max): P(S <= x) = P(X < floor(x) + 0.5) inside.
                let (lo, hi) = (*min as f64, *max as f64);
                let cdf = |x: f64| {
                    if x < lo {
                        0.0
                    } else if x >= hi {
                        1.0
                    } else {
                        let z = libm::log((x.floor() + 0.5) / median) / sigma;
                        0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
                    }
                };
                // Beyond nine sigmas the mass is below 1e-18: the rest is billed at `max`.
                let upper = hi.min(median * libm::exp(9.0 * sigma));
                let body = expected_by_bands(cdf, lo, upper, key_bytes, unit);
                body + (1.0 - cdf(upper)) * units(hi)
            }
        }
    }

    /// The total data bytes of `records` records.
    pub fn batch_bytes<R: RngCore + ?Sized>(&self, rng: &mut R, records: u64) -> u64 {
        if records == 0 {
            return 0;
        }
        if self.sd == 0.0 {
            return self.min * records;
        }
        if records <= EXACT_BATCH_MAX {
            return (0..records).map(|_| self.sample_one(rng)).sum();
        }
        let n = records as f64;
        let total = n * self.mean + libm::sqrt(n) * self.sd * standard_normal(rng);
        (libm::round(total).max(0.0) as u64).clamp(self.min * records, self.max * records)
    }
}

/// `E[units]` of sizes in `[lo, hi]` with distribution function `cdf` (whole sizes),
/// summing each unit count times the probability of the sizes it covers; the mass above
/// `hi` is left to the caller. At most one band per `unit` bytes of the span.
fn expected_by_bands(cdf: impl Fn(f64) -> f64, lo: f64, hi: f64, key_bytes: f64, unit: u64) -> f64 {
    let unit = unit as f64;
    let first = ((lo + key_bytes) / unit).ceil().max(1.0);
    let last = ((hi + key_bytes) / unit).ceil().max(1.0);
    let mut expected = 0.0;
    let mut below = cdf(lo - 1.0);
    let mut band = first;
    while band <= last {
        // Sizes with `(band - 1) * unit < size + key <= band * unit`.
        let edge = (band * unit - key_bytes).min(hi);
        let at_or_below = cdf(edge);
        expected += band * (at_or_below - below);
        below = at_or_below;
        band += 1.0;
    }
    expected
}

/// Mean, standard deviation, minimum and maximum of a size distribution.
fn moments(distribution: &SizeDistribution) -> (f64, f64, u64, u64) {
    match distribution {
        SizeDistribution::Fixed(size) => (*size as f64, 0.0, *size, *size),
        SizeDistribution::Uniform { min, max } => {
            let span = (max - min + 1) as f64;
            let mean = (*min as f64 + *max as f64) / 2.0;
            (mean, libm::sqrt((span * span - 1.0) / 12.0), *min, *max)
        }
        SizeDistribution::LogNormal { median, sigma, min, max } => {
            let (mean, sd) = clamped_lognormal_moments(*median, *sigma, *min as f64, *max as f64);
            (mean, sd, *min, *max)
        }
        SizeDistribution::Empirical(table) => {
            let total: f64 = table.iter().map(|(_, w)| w).sum();
            let mean = table.iter().map(|(s, w)| *s as f64 * w).sum::<f64>() / total;
            let var = table.iter().map(|(s, w)| (*s as f64 - mean).powi(2) * w).sum::<f64>() / total;
            let min = table.iter().map(|(s, _)| *s).min().unwrap_or(0);
            let max = table.iter().map(|(s, _)| *s).max().unwrap_or(0);
            (mean, libm::sqrt(var), min, max)
        }
    }
}

/// Moments of `clamp(median * exp(sigma * Z), min, max)` by trapezoidal quadrature over
/// z in [-9, 9]; the tails beyond carry less than 1e-18 of the mass.
fn clamped_lognormal_moments(median: f64, sigma: f64, min: f64, max: f64) -> (f64, f64) {
    const POINTS: usize = 6001;
    let (z_lo, z_hi) = (-9.0, 9.0);
    let dz = (z_hi - z_lo) / (POINTS - 1) as f64;
    let (mut m1, mut m2, mut mass) = (0.0, 0.0, 0.0);
    for i in 0..POINTS {
        let z = z_lo + dz * i as f64;
        let density = libm::exp(-0.5 * z * z) / libm::sqrt(2.0 * std::f64::consts::PI);
        let edge = if i == 0 || i == POINTS - 1 { 0.5 } else { 1.0 };
        let x = (median * libm::exp(sigma * z)).clamp(min, max);
        m1 += edge * density * x;
        m2 += edge * density * x * x;
        mass += edge * density;
    }
    let mean = m1 / mass;
    (mean, libm::sqrt((m2 / mass - mean * mean).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinesim_sim::{ChaCha8Rng, SeedableRng};

    #[test]
    fn batch_bytes_match_the_mean() {
        let model = SizeModel::new(&SizeDistribution::LogNormal { median: 1000.0, sigma: 0.5, min: 1, max: 1 << 20 });
        let expected_mean = 1000.0 * libm::exp(0.125);
        assert!((model.mean_bytes() - expected_mean).abs() / expected_mean < 1e-6);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let total: u64 = (0..2000).map(|_| model.batch_bytes(&mut rng, 1000)).sum();
        let per_record = total as f64 / 2_000_000.0;
        assert!((per_record - expected_mean).abs() / expected_mean < 0.01);
        let small: u64 = (0..200_000).map(|_| model.batch_bytes(&mut rng, 3)).sum();
        assert!((small as f64 / 600_000.0 - expected_mean).abs() / expected_mean < 0.01);
    }

    #[test]
    fn splitting_at_the_record_limit() {
        let uniform = SizeModel::new(&SizeDistribution::Uniform { min: 1, max: 2000 });
        let (over, below) = uniform.split_at(1000);
        assert!((over - 0.5).abs() < 1e-9);
        assert_eq!(below.max_bytes(), 1000);
        let lognormal =
            SizeModel::new(&SizeDistribution::LogNormal { median: 1000.0, sigma: 1.0, min: 1, max: 1 << 30 });
        let (over, _) = lognormal.split_at(1000);
        assert!((over - 0.5).abs() < 1e-9, "half of a log-normal lies above its median");
        let (over, _) = SizeModel::new(&SizeDistribution::Fixed(10)).split_at(100);
        assert_eq!(over, 0.0);
    }

    /// Expected billing units against counting them record by record.
    #[test]
    fn expected_units_count_each_record_rounded_up() {
        let unit = 1024;
        let draws = |model: &SizeModel, key: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let n = 400_000;
            let total: u64 = (0..n).map(|_| (model.sample_one(&mut rng) + key).div_ceil(unit).max(1)).sum();
            total as f64 / n as f64
        };
        let fixed = SizeModel::new(&SizeDistribution::Fixed(1020));
        assert_eq!(fixed.expected_units(4.0, unit), 1.0);
        assert_eq!(fixed.expected_units(5.0, unit), 2.0);
        let table = SizeModel::new(&SizeDistribution::Empirical(vec![(100, 1.0), (2000, 1.0)]));
        assert_eq!(table.expected_units(2.0, unit), 1.5, "1 KiB and 2 KiB, half each");
        let uniform = SizeModel::new(&SizeDistribution::Uniform { min: 1, max: 3072 });
        assert!((uniform.expected_units(0.0, unit) - 2.0).abs() < 1e-9, "a third each of 1, 2 and 3");
        for (model, key) in [
            (uniform, 7),
            (SizeModel::new(&SizeDistribution::LogNormal { median: 900.0, sigma: 0.3, min: 1, max: 1 << 20 }), 6),
            (SizeModel::new(&SizeDistribution::LogNormal { median: 3000.0, sigma: 1.5, min: 200, max: 50_000 }), 0),
        ] {
            let (expected, counted) = (model.expected_units(key as f64, unit), draws(&model, key));
            assert!((expected - counted).abs() / counted < 0.005, "{expected} against {counted} counted");
        }
    }

    #[test]
    fn empirical_tables_draw_their_sizes() {
        let model = SizeModel::new(&SizeDistribution::Empirical(vec![(100, 3.0), (1000, 1.0)]));
        assert!((model.mean_bytes() - 325.0).abs() < 1e-9);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let size = model.sample_one(&mut rng);
            assert!(size == 100 || size == 1000);
        }
    }
}
