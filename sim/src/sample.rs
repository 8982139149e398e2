//! Samplers for the distributions a model needs, written to be reproducible.
//!
//! Three rules keep a run bit-for-bit identical across machines:
//!
//! - Transcendental functions (`log`, `exp`, `sqrt`, `pow`, `cos`, `lgamma`)
//!   come from `libm`, a pure-Rust port of musl's math library, never from
//!   `f64::ln` and friends, whose results depend on the host's C library and
//!   may differ in the last bit between platforms. Basic arithmetic, `floor`
//!   and `abs` are exactly specified by IEEE 754 and are used freely.
//! - Every sampler consumes random words in a fixed pattern that depends only
//!   on the values drawn, never on anything outside the generator.
//! - The discrete samplers are exact (up to floating-point rounding of the
//!   probabilities): Poisson and binomial counts are drawn from the true
//!   distribution, not from a normal approximation, so tails and small counts
//!   are right at every scale.
//!
//! The algorithms follow NumPy's `random_poisson_ptrs` and
//! `random_binomial_btpe`, which are well tested references; the comments
//! name the paper each one comes from.

use rand_core::RngCore;

/// 2^-53: the spacing of `f64` values in [0.5, 1).
const EPSILON_53: f64 = 1.0 / (1u64 << 53) as f64;
/// 2^-52: the spacing of `f64` values in [1, 2).
const EPSILON_52: f64 = 1.0 / (1u64 << 52) as f64;

/// A uniform value in [0, 1) with 53 random bits (the top 53 bits of one
/// `next_u64`).
pub fn uniform01<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * EPSILON_53
}

/// A uniform value in (0, 1), never 0 or 1, from one `next_u64`.
///
/// It takes the top 52 bits and adds one half, so the result is an odd
/// multiple of 2^-53 and both ends are excluded without a retry loop. Use it
/// where a logarithm or a division must not see 0.
pub fn uniform_open01<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 12) as f64 + 0.5) * EPSILON_52
}

/// A standard normal value (mean 0, variance 1), by the Box–Muller transform.
///
/// Consumes exactly two `next_u64` values and discards the second normal of
/// the pair, so the sampler keeps no state between calls.
pub fn standard_normal<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let radius_uniform = uniform_open01(rng);
    let angle_uniform = uniform01(rng);
    let radius = libm::sqrt(-2.0 * libm::log(radius_uniform));
    radius * libm::cos(2.0 * core::f64::consts::PI * angle_uniform)
}

/// An exponential value with the given mean, by inversion.
pub fn exponential<R: RngCore + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    assert!(mean.is_finite() && mean >= 0.0, "exponential mean must be finite and non-negative, got {mean}");
    -mean * libm::log(uniform_open01(rng))
}

/// A gamma value with the given shape and scale (mean `shape * scale`).
///
/// Marsaglia and Tsang, "A simple method for generating gamma variables"
/// (2000). Shapes below one use their boost: if `X ~ Gamma(shape + 1)` and `U`
/// is uniform, `X * U^(1/shape) ~ Gamma(shape)`.
pub fn gamma<R: RngCore + ?Sized>(rng: &mut R, shape: f64, scale: f64) -> f64 {
    assert!(shape.is_finite() && shape > 0.0, "gamma shape must be finite and positive, got {shape}");
    assert!(scale.is_finite() && scale >= 0.0, "gamma scale must be finite and non-negative, got {scale}");
    if shape < 1.0 {
        let boosted = gamma_shape_at_least_one(rng, shape + 1.0);
        let boost = libm::pow(uniform_open01(rng), 1.0 / shape);
        return boosted * boost * scale;
    }
    gamma_shape_at_least_one(rng, shape) * scale
}

/// Marsaglia–Tsang for `shape >= 1`, unit scale.
fn gamma_shape_at_least_one<R: RngCore + ?Sized>(rng: &mut R, shape: f64) -> f64 {
    debug_assert!(shape >= 1.0);
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let x = standard_normal(rng);
        let v_root = 1.0 + c * x;
        if v_root <= 0.0 {
            continue;
        }
        let v = v_root * v_root * v_root;
        let u = uniform_open01(rng);
        let x_squared = x * x;
        // The squeeze accepts about 98% of candidates without a logarithm.
        if u < 1.0 - 0.0331 * x_squared * x_squared {
            return d * v;
        }
        if libm::log(u) < 0.5 * x_squared + d * (1.0 - v + libm::log(v)) {
            return d * v;
        }
    }
}

/// An exact Poisson sampler with its constants precomputed.
///
/// Means below [`Poisson::INVERSION_MEAN_MAX`] use inversion by sequential
/// search, which takes about `mean + 1` multiplications. Larger means use
/// Hörmann's transformed rejection with squeeze (PTRS), "The transformed
/// rejection method for generating Poisson random variables" (1993), which
/// takes a bounded expected number of iterations at any mean. Sampling never
/// allocates.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Poisson {
    mean: f64,
    method: PoissonMethod,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum PoissonMethod {
    /// The mean is zero: always 0.
    Zero,
    /// Sequential search; `probability_zero` is `exp(-mean)`.
    Inversion { probability_zero: f64 },
    /// PTRS with its constants.
    Ptrs(PtrsConstants),
}

#[derive(Copy, Clone, Debug, PartialEq)]
struct PtrsConstants {
    log_mean: f64,
    a: f64,
    b: f64,
    log_inverse_alpha: f64,
    v_r: f64,
}

impl Poisson {
    /// Means below this use inversion; at and above it, PTRS.
    pub const INVERSION_MEAN_MAX: f64 = 10.0;
    /// Inversion restarts with a fresh uniform past this count. At means
    /// below 10 the probability of reaching it is far below 2^-53, so the
    /// restart only guards against the running sum of probabilities rounding
    /// to just under a uniform drawn very close to 1.
    const INVERSION_COUNT_MAX: u64 = 200;
    /// PTRS does not rely on the mean being small, but `k` is computed in
    /// `f64` and must stay exact, so means are kept well inside 2^53.
    pub const MEAN_MAX: f64 = (1u64 << 52) as f64;

    /// A sampler for the Poisson distribution with the given mean.
    pub fn new(mean: f64) -> Poisson {
        assert!(mean.is_finite() && mean >= 0.0, "Poisson mean must be finite and non-negative, got {mean}");
        assert!(mean <= Self::MEAN_MAX, "Poisson mean {mean} is too large");
        let method = if mean == 0.0 {
            PoissonMethod::Zero
        } else if mean < Self::INVERSION_MEAN_MAX {
            PoissonMethod::Inversion { probability_zero: libm::exp(-mean) }
        } else {
            PoissonMethod::Ptrs(PtrsConstants::new(mean))
        };
        Poisson { mean, method }
    }

    /// The mean given to [`Poisson::new`].
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Draws one count.
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        match self.method {
            PoissonMethod::Zero => 0,
            PoissonMethod::Inversion { probability_zero } => self.sample_inversion(rng, probability_zero),
            PoissonMethod::Ptrs(constants) => constants.sample(rng, self.mean),
        }
    }

    fn sample_inversion<R: RngCore + ?Sized>(&self, rng: &mut R, probability_zero: f64) -> u64 {
        'draw: loop {
            let u = uniform01(rng);
            let mut count = 0u64;
            let mut probability = probability_zero;
            let mut cumulative = probability;
            while u >= cumulative {
                count += 1;
                if count > Self::INVERSION_COUNT_MAX {
                    continue 'draw;
                }
                probability *= self.mean / count as f64;
                cumulative += probability;
            }
            return count;
        }
    }
}

impl PtrsConstants {
    fn new(mean: f64) -> PtrsConstants {
        assert!(mean >= Poisson::INVERSION_MEAN_MAX);
        let b = 0.931 + 2.53 * libm::sqrt(mean);
        let a = -0.059 + 0.02483 * b;
        let inverse_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        PtrsConstants { log_mean: libm::log(mean), a, b, log_inverse_alpha: libm::log(inverse_alpha), v_r }
    }

    /// One PTRS draw, step for step as in NumPy's `random_poisson_ptrs`.
    fn sample<R: RngCore + ?Sized>(&self, rng: &mut R, mean: f64) -> u64 {
        loop {
            let u = uniform01(rng) - 0.5;
            let v = uniform01(rng);
            let us = 0.5 - u.abs();
            // When `us` is 0 the quotient is infinite and the saturating cast
            // gives a huge negative `k`, which is rejected below.
            let k = floor_to_i64((2.0 * self.a / us + self.b) * u + mean + 0.43);
            // The fast path accepts about 90% of draws without a logarithm.
            if us >= 0.07 && v <= self.v_r {
                assert!(k >= 0);
                return k as u64;
            }
            if k < 0 || (us < 0.013 && v > us) {
                continue;
            }
            let log_hat = libm::log(v) + self.log_inverse_alpha - libm::log(self.a / (us * us) + self.b);
            let k_f64 = k as f64;
            let log_pmf = -mean + k_f64 * self.log_mean - log_factorial(k as u64);
            if log_hat <= log_pmf {
                return k as u64;
            }
        }
    }
}

/// `x.floor() as i64` (saturating, NaN to 0) without a call to `floor`, which the
/// baseline x86-64 target has no instruction for. Truncation rounds toward zero, so a
/// negative non-integer is one above its floor; every other value is its own floor or
/// saturates the same way.
#[inline]
fn floor_to_i64(x: f64) -> i64 {
    let truncated = x as i64;
    if (truncated as f64) > x {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

/// `lgamma(k + 1)` = log(k!) for the counts PTRS tests (its slow path, about one draw
/// in ten), from a table filled on first use in chunks, so repeated counts cost a load
/// instead of a call. The table holds `libm::lgamma`'s own results, so every bit is the
/// same as calling it.
fn log_factorial(k: u64) -> f64 {
    use std::sync::OnceLock;
    const CHUNK_LOG2: u32 = 10;
    const CHUNK: usize = 1 << CHUNK_LOG2;
    const CHUNKS: usize = 64;
    static TABLE: [OnceLock<Box<[f64]>>; CHUNKS] = [const { OnceLock::new() }; CHUNKS];
    let chunk = (k >> CHUNK_LOG2) as usize;
    if chunk >= CHUNKS {
        return libm::lgamma(k as f64 + 1.0);
    }
    let values = TABLE[chunk].get_or_init(|| {
        let first = (chunk * CHUNK) as f64;
        (0..CHUNK).map(|i| libm::lgamma(first + i as f64 + 1.0)).collect()
    });
    values[k as usize & (CHUNK - 1)]
}

/// A Poisson sampler by table inversion, for a mean that stays the same over many
/// draws (a steady rate split over shards: the same mean every step).
///
/// It holds the distribution function over every count whose probability is not
/// negligible, plus a guide table (Chen and Asau, "On generating random variates from
/// an empirical distribution", 1974) that points each `1/G`-th of the unit interval at
/// the first count that can answer it. A draw is one uniform, one guide lookup and on
/// average under two comparisons: several times cheaper than a PTRS draw, whose two
/// uniforms, division and occasional logarithms dominate a stepped run's write path.
///
/// Exactness: the table spans the counts whose probability is at least
/// [`PoissonTable::PROBABILITY_MIN`] (1e-30, far below the 2^-53 resolution of a
/// uniform, so no draw could ever reach a count outside it) and is normalised over that
/// span, so each count's probability is right to within double rounding. Building costs
/// one `lgamma` per count, so it pays only for a mean that repeats; the table is
/// bounded by [`PoissonTable::COUNTS_MAX`] counts, past which [`PoissonTable::new`]
/// declines and the caller keeps PTRS.
#[derive(Clone, Debug, PartialEq)]
pub struct PoissonTable {
    /// The smallest count in the table.
    count_first: u64,
    /// `cdf[i]` = P(X <= count_first + i), the last one exactly 1.
    cdf: Box<[f64]>,
    /// `guide[j]` = the first index `i` with `cdf[i] > j / guide.len()`.
    guide: Box<[u32]>,
}

impl PoissonTable {
    /// Counts less likely than this are left out of the table.
    pub const PROBABILITY_MIN: f64 = 1e-30;
    /// The most counts a table holds: the table spans about 23 standard deviations, so
    /// this many serve means up to about 120,000.
    pub const COUNTS_MAX: usize = 8192;

    /// The table for `mean`, or `None` when the mean is zero or the table would hold
    /// more than [`PoissonTable::COUNTS_MAX`] counts.
    pub fn new(mean: f64) -> Option<PoissonTable> {
        assert!(mean.is_finite() && mean >= 0.0, "Poisson mean must be finite and non-negative, got {mean}");
        if mean == 0.0 || mean > Poisson::MEAN_MAX {
            return None;
        }
        let log_mean = libm::log(mean);
        let log_pmf = |count: u64| -mean + count as f64 * log_mean - libm::lgamma(count as f64 + 1.0);
        let log_min = libm::log(Self::PROBABILITY_MIN);
        // The pmf rises to its mode (floor(mean)) and falls after it: walk out from
        // the mode until both sides drop below the threshold.
        let mode = mean as u64;
        let mut count_first = mode;
        while count_first > 0 && log_pmf(count_first - 1) >= log_min {
            count_first -= 1;
            if mode - count_first > Self::COUNTS_MAX as u64 {
                return None;
            }
        }
        let mut count_last = mode;
        while log_pmf(count_last + 1) >= log_min {
            count_last += 1;
            if count_last - count_first >= Self::COUNTS_MAX as u64 {
                return None;
            }
        }
        let pmf: Vec<f64> = (count_first..=count_last).map(|count| libm::exp(log_pmf(count))).collect();
        let total: f64 = pmf.iter().sum();
        let mut running = 0.0;
        let mut cdf: Vec<f64> = pmf
            .iter()
            .map(|probability| {
                running += probability;
                running / total
            })
            .collect();
        *cdf.last_mut().expect("the mode is in the table") = 1.0;
        let guide = guide_table(&cdf);
        Some(PoissonTable { count_first, cdf: cdf.into_boxed_slice(), guide })
    }

    /// Draws one count, from one `next_u64`.
    #[inline]
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        // The uniform `u = bits / 2^53` and its guide slot `floor(u * slots)`, the latter
        // in integers so that it is exact (a float product can round up to `slots`).
        let bits = rng.next_u64() >> 11;
        let u = crate::num::count_to_f64(bits) * EPSILON_53;
        let slot = ((u128::from(bits) * self.guide.len() as u128) >> 53) as usize;
        let mut index = self.guide[slot] as usize;
        // `cdf` ends at 1.0 and `u < 1`, so the walk stops inside the table.
        while self.cdf[index] <= u {
            index += 1;
        }
        self.count_first + index as u64
    }
}

/// The guide of a distribution function that ends at 1, with as many slots as values:
/// each slot's entry is the first index whose cumulative probability exceeds the
/// smallest uniform that falls in the slot. That uniform is `bits / 2^53` for the
/// smallest `bits` with `floor(bits * slots / 2^53) = slot`, computed in integers, so
/// the walk from the entry can never start past the answer.
fn guide_table(cdf: &[f64]) -> Box<[u32]> {
    debug_assert_eq!(cdf.last(), Some(&1.0));
    let slots = cdf.len() as u128;
    let mut index = 0;
    (0..slots)
        .map(|slot| {
            let bits_min = (slot << 53).div_ceil(slots);
            let u_min = bits_min as f64 * EPSILON_53;
            while cdf[index] <= u_min {
                index += 1;
            }
            index as u32
        })
        .collect()
}

/// Poisson draws for a mean that may change from one draw to the next but usually
/// repeats (a producer's share of a shard at a steady rate).
///
/// Lifecycle: a new mean starts on PTRS ([`Poisson`]), which costs nothing to set up.
/// Once the same mean has been drawn [`SteadyPoisson::TABLE_AFTER_DRAWS`] times in a
/// row, a [`PoissonTable`] is built and serves it until the mean changes. Building costs
/// about as much as that many PTRS draws save (an `lgamma` and an `exp` per count
/// against roughly 30 ns saved per draw), so a mean that changes often (a diurnal rate)
/// never pays for a table, and one that holds for a day pays for it in seconds. Both
/// methods are exact, so the switch changes which values are drawn, never their law;
/// it depends only on the means drawn, so runs stay reproducible.
#[derive(Clone, Debug)]
pub struct SteadyPoisson {
    poisson: Poisson,
    table: Option<PoissonTable>,
    /// Draws of the current mean so far, counted up to the table's threshold.
    repeats: u32,
}

impl SteadyPoisson {
    /// Draws of one mean before it gets a table.
    pub const TABLE_AFTER_DRAWS: u32 = 1024;

    pub fn new() -> SteadyPoisson {
        SteadyPoisson { poisson: Poisson::new(0.0), table: None, repeats: 0 }
    }

    /// Draws one count with the given mean.
    #[inline]
    pub fn sample<R: RngCore + ?Sized>(&mut self, mean: f64, rng: &mut R) -> u64 {
        if mean != self.poisson.mean() {
            self.poisson = Poisson::new(mean);
            self.table = None;
            self.repeats = 1;
        } else if self.repeats < Self::TABLE_AFTER_DRAWS {
            self.repeats += 1;
            if self.repeats == Self::TABLE_AFTER_DRAWS {
                self.table = PoissonTable::new(mean);
            }
        }
        match &self.table {
            Some(table) => table.sample(rng),
            None => self.poisson.sample(rng),
        }
    }
}

impl Default for SteadyPoisson {
    fn default() -> SteadyPoisson {
        SteadyPoisson::new()
    }
}

/// An exact binomial sampler with its constants precomputed.
///
/// Let `r = min(p, 1 - p)`. When `trials * r < 30` it uses inversion, which
/// takes about `trials * r + 1` steps; otherwise BTPE, Kachitvichyanukul and
/// Schmeiser, "Binomial random variate generation" (1988), which takes a
/// bounded expected number of iterations. For `p > 0.5` it samples failures
/// with probability `1 - p` and returns `trials` minus them.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Binomial {
    trials: u64,
    probability: f64,
    flipped: bool,
    method: BinomialMethod,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum BinomialMethod {
    /// The result is certain: `trials * p` is 0 or `trials`.
    Constant(u64),
    Inversion(InversionConstants),
    Btpe(BtpeConstants),
}

#[derive(Copy, Clone, Debug, PartialEq)]
struct InversionConstants {
    /// The probability of success after the symmetry flip, at most 0.5.
    r: f64,
    /// `1 - r`.
    q: f64,
    /// `q^trials`, the probability of zero successes.
    probability_zero: f64,
    /// Counts past this restart the search (see NumPy's `bound`).
    count_max: u64,
}

#[derive(Copy, Clone, Debug, PartialEq)]
struct BtpeConstants {
    n: f64,
    r: f64,
    q: f64,
    nrq: f64,
    m: i64,
    m_f64: f64,
    p1: f64,
    xm: f64,
    xl: f64,
    xr: f64,
    c: f64,
    lambda_l: f64,
    lambda_r: f64,
    p2: f64,
    p3: f64,
    p4: f64,
}

impl Binomial {
    /// Below this mean (`trials * min(p, 1 - p)`) inversion is used.
    pub const INVERSION_MEAN_MAX: f64 = 30.0;
    /// Trials are counted in `f64` inside the algorithms and must be exact.
    pub const TRIALS_MAX: u64 = 1 << 53;

    /// A sampler for the number of successes in `trials` independent trials
    /// that each succeed with `probability`.
    pub fn new(trials: u64, probability: f64) -> Binomial {
        assert!((0.0..=1.0).contains(&probability), "binomial probability must be in [0, 1], got {probability}");
        assert!(trials <= Self::TRIALS_MAX, "binomial trials {trials} too many");
        let flipped = probability > 0.5;
        let r = if flipped { 1.0 - probability } else { probability };
        let mean = trials as f64 * r;
        let method = if trials == 0 || r == 0.0 {
            BinomialMethod::Constant(0)
        } else if mean < Self::INVERSION_MEAN_MAX {
            BinomialMethod::Inversion(InversionConstants::new(trials, r))
        } else {
            BinomialMethod::Btpe(BtpeConstants::new(trials, r))
        };
        Binomial { trials, probability, flipped, method }
    }

    /// The number of trials.
    pub fn trials(&self) -> u64 {
        self.trials
    }

    /// The probability of success of each trial.
    pub fn probability(&self) -> f64 {
        self.probability
    }

    /// Draws one count of successes, in `0..=trials`.
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        let count = match &self.method {
            BinomialMethod::Constant(count) => *count,
            BinomialMethod::Inversion(constants) => constants.sample(rng, self.trials),
            BinomialMethod::Btpe(constants) => constants.sample(rng),
        };
        assert!(count <= self.trials);
        if self.flipped {
            self.trials - count
        } else {
            count
        }
    }
}

impl InversionConstants {
    fn new(trials: u64, r: f64) -> InversionConstants {
        assert!(r > 0.0 && r <= 0.5);
        let q = 1.0 - r;
        let n = trials as f64;
        let mean = n * r;
        // `log1p` keeps `q^n` accurate when `r` is tiny and `n` huge.
        let probability_zero = libm::exp(n * libm::log1p(-r));
        let bound = mean + 10.0 * libm::sqrt(mean * q + 1.0);
        let count_max = if bound >= n { trials } else { bound as u64 };
        InversionConstants { r, q, probability_zero, count_max }
    }

    /// Sequential search as in NumPy's `random_binomial_inversion`: subtract
    /// each probability from the uniform until it is covered.
    fn sample<R: RngCore + ?Sized>(&self, rng: &mut R, trials: u64) -> u64 {
        let n = trials as f64;
        'draw: loop {
            let mut u = uniform01(rng);
            let mut count = 0u64;
            let mut probability = self.probability_zero;
            while u > probability {
                count += 1;
                if count > self.count_max {
                    continue 'draw;
                }
                u -= probability;
                let count_f64 = count as f64;
                probability *= (n - count_f64 + 1.0) * self.r / (count_f64 * self.q);
            }
            return count;
        }
    }
}

impl BtpeConstants {
    fn new(trials: u64, r: f64) -> BtpeConstants {
        assert!(r > 0.0 && r <= 0.5);
        let n = trials as f64;
        let q = 1.0 - r;
        let nrq = n * r * q;
        let fm = n * r + r;
        let m_f64 = fm.floor();
        let p1 = (2.195 * libm::sqrt(nrq) - 4.6 * q).floor() + 0.5;
        let xm = m_f64 + 0.5;
        let xl = xm - p1;
        let xr = xm + p1;
        let c = 0.134 + 20.5 / (15.3 + m_f64);
        let a_left = (fm - xl) / (fm - xl * r);
        let lambda_l = a_left * (1.0 + a_left / 2.0);
        let a_right = (xr - fm) / (xr * q);
        let lambda_r = a_right * (1.0 + a_right / 2.0);
        let p2 = p1 * (1.0 + 2.0 * c);
        let p3 = p2 + c / lambda_l;
        let p4 = p3 + c / lambda_r;
        assert!(p1 > 0.0 && p4 > p3 && p3 > p2 && p2 > p1);
        BtpeConstants { n, r, q, nrq, m: m_f64 as i64, m_f64, p1, xm, xl, xr, c, lambda_l, lambda_r, p2, p3, p4 }
    }

    /// One BTPE draw, step for step as in NumPy's `random_binomial_btpe`.
    ///
    /// The region is chosen by `u`: a triangle (accepted at once), a
    /// parallelogram, and two exponential tails; candidates outside the
    /// triangle are accepted by an explicit ratio for small distances from
    /// the mode or a squeeze plus Stirling's series for large ones.
    fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let u = uniform01(rng) * self.p4;
            let v = uniform01(rng);
            // Saturating casts map the infinities from `log(0)` to extreme
            // values that the range checks reject.
            let (y, v) = if u <= self.p1 {
                let y = (self.xm - self.p1 * v + u).floor() as i64;
                return self.checked_count(y);
            } else if u <= self.p2 {
                let x = self.xl + (u - self.p1) / self.c;
                let v = v * self.c + 1.0 - (self.m_f64 - x + 0.5).abs() / self.p1;
                if v > 1.0 {
                    continue;
                }
                (x.floor() as i64, v)
            } else if u <= self.p3 {
                let y = (self.xl + libm::log(v) / self.lambda_l).floor() as i64;
                if y < 0 || v == 0.0 {
                    continue;
                }
                (y, v * (u - self.p2) * self.lambda_l)
            } else {
                let y = (self.xr - libm::log(v) / self.lambda_r).floor() as i64;
                if y as f64 > self.n || v == 0.0 {
                    continue;
                }
                (y, v * (u - self.p3) * self.lambda_r)
            };
            if self.accepts(y, v) {
                return self.checked_count(y);
            }
        }
    }

    fn checked_count(&self, y: i64) -> u64 {
        assert!(y >= 0 && y as f64 <= self.n, "BTPE count {y} out of range");
        y as u64
    }

    /// The acceptance test of steps 5.0 to 5.3.
    fn accepts(&self, y: i64, v: f64) -> bool {
        let k = (y - self.m).unsigned_abs();
        if k <= 20 || (k as f64) >= self.nrq / 2.0 - 1.0 {
            return v <= self.ratio_to_mode(y);
        }
        self.accepts_squeeze(y, k as f64, v)
    }

    /// f(y) / f(m), by the recurrence of successive probability ratios.
    fn ratio_to_mode(&self, y: i64) -> f64 {
        let s = self.r / self.q;
        let a = s * (self.n + 1.0);
        let mut ratio = 1.0;
        if self.m < y {
            for i in (self.m + 1)..=y {
                ratio *= a / i as f64 - s;
            }
        } else {
            for i in (y + 1)..=self.m {
                ratio /= a / i as f64 - s;
            }
        }
        ratio
    }

    /// Squeeze on `log(v)`, then the exact comparison via Stirling's series.
    ///
    /// The series terms of `m!` and `(n - m)!` are added and those of `y!` and
    /// `(n - y)!` subtracted, with the constant 13860 = 166320 / 12. NumPy's
    /// legacy generator adds all four and writes 13680, a transcription slip
    /// from the paper that its newer code corrects; this follows the
    /// corrected form.
    fn accepts_squeeze(&self, y: i64, k: f64, v: f64) -> bool {
        let nrq = self.nrq;
        let rho = (k / nrq) * ((k * (k / 3.0 + 0.625) + 0.166_666_666_666_666_66) / nrq + 0.5);
        let t = -k * k / (2.0 * nrq);
        let log_v = libm::log(v);
        if log_v < t - rho {
            return true;
        }
        if log_v > t + rho {
            return false;
        }
        let y_f64 = y as f64;
        let x1 = y_f64 + 1.0;
        let f1 = self.m_f64 + 1.0;
        let z = self.n + 1.0 - self.m_f64;
        let w = self.n - y_f64 + 1.0;
        let bound = self.xm * libm::log(f1 / x1)
            + (self.n - self.m_f64 + 0.5) * libm::log(z / w)
            + (y_f64 - self.m_f64) * libm::log(w * self.r / (x1 * self.q))
            + stirling_correction(f1)
            + stirling_correction(z)
            - stirling_correction(x1)
            - stirling_correction(w);
        log_v <= bound
    }
}

/// The correction terms of Stirling's series for `log((x - 1)!)`:
/// `1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7) + 1/(1188x^9)`.
fn stirling_correction(x: f64) -> f64 {
    let x2 = x * x;
    (13860.0 - (462.0 - (132.0 - (99.0 - 140.0 / x2) / x2) / x2) / x2) / x / 166_320.0
}

/// One binomial draw: successes in `trials` trials of probability
/// `probability`. See [`Binomial`]; build one to reuse the constants.
pub fn binomial<R: RngCore + ?Sized>(rng: &mut R, trials: u64, probability: f64) -> u64 {
    Binomial::new(trials, probability).sample(rng)
}

/// Splits `total` items among bins with the given weights, multinomially,
/// writing the count of each bin to `out`.
///
/// Weights need not sum to one; a bin of weight zero always gets 0. The split
/// draws one conditional binomial per bin: bin `i` gets
/// `Binomial(remaining, w_i / (w_i + ... + w_last))`, and the last bin of
/// positive weight gets whatever remains, so the counts always sum to
/// `total`.
///
/// The suffix sums of the weights are needed in forward order but computed
/// backwards; to avoid allocating they are parked in `out` as `f64` bit
/// patterns and overwritten by the counts as the forward pass reaches them.
pub fn multinomial_split<R: RngCore + ?Sized>(rng: &mut R, total: u64, weights: &[f64], out: &mut [u64]) {
    assert_eq!(out.len(), weights.len(), "one output per weight");
    let mut suffix_weight = 0.0;
    let mut last_positive = None;
    for (index, &weight) in weights.iter().enumerate().rev() {
        assert!(
            weight.is_finite() && weight >= 0.0,
            "multinomial weight {index} must be finite and non-negative, got {weight}"
        );
        if weight > 0.0 && last_positive.is_none() {
            last_positive = Some(index);
        }
        suffix_weight += weight;
        out[index] = f64::to_bits(suffix_weight);
    }
    assert!(total == 0 || last_positive.is_some(), "cannot split {total} items among bins that all have weight zero");
    let mut remaining = total;
    for (index, &weight) in weights.iter().enumerate() {
        let weight_here_and_after = f64::from_bits(out[index]);
        out[index] = if remaining == 0 || weight == 0.0 {
            0
        } else if Some(index) == last_positive {
            remaining
        } else {
            let probability = (weight / weight_here_and_after).min(1.0);
            binomial(rng, remaining, probability)
        };
        remaining -= out[index];
    }
    assert_eq!(remaining, 0);
    debug_assert_eq!(out.iter().sum::<u64>(), total);
}

/// Whether a Poisson count of mean `mean` exceeds `limit` with probability at most
/// `exp(log_probability_max)`, by the Chernoff bound
/// `P(X > limit) <= exp(-mean) (e mean / (limit + 1))^(limit + 1)` (exact enough to
/// decide quietness: the bound is within a factor of about `sqrt(limit)` of the tail).
pub fn poisson_tail_below(mean: f64, limit: u64, log_probability_max: f64) -> bool {
    debug_assert!(mean >= 0.0 && log_probability_max < 0.0);
    let above = limit as f64 + 1.0;
    if mean <= 0.0 {
        return true;
    }
    if mean >= above {
        return false;
    }
    let log_bound = -mean + above * (1.0 + libm::log(mean) - libm::log(above));
    log_bound <= log_probability_max
}

/// The upper tail of one Poisson law, tabulated for drawing the largest of many counts
/// (a window's busiest second) by inverting `F(x)^draws`: one uniform and a binary
/// search.
///
/// The table holds `P(X >= count)` from where it is negligible (mean + 10 sd + 20,
/// below 1e-22 at any mean) down to where it passes 1 - 1e-12; a draw needing more (a
/// uniform within 1e-12 of 0 at one draw) takes the lowest count held. It has about
/// `13 sqrt(mean)` entries: it suits the means of one second of one shard.
#[derive(Clone, Debug, PartialEq)]
pub struct PoissonTail {
    mean: f64,
    top: u64,
    /// `tails[i]` = P(X >= top - i), growing with `i`.
    tails: Vec<f64>,
}

impl PoissonTail {
    pub fn new(mean: f64) -> PoissonTail {
        assert!(mean.is_finite() && (0.0..=Poisson::MEAN_MAX).contains(&mean), "Poisson mean {mean} out of range");
        if mean == 0.0 {
            return PoissonTail { mean, top: 0, tails: vec![1.0] };
        }
        let top = libm::floor(mean + 10.0 * libm::sqrt(mean) + 20.0) as u64;
        let mut probability = libm::exp(-mean + top as f64 * libm::log(mean) - log_factorial(top));
        let mut tails = Vec::new();
        let mut tail = 0.0;
        let mut count = top;
        loop {
            tail += probability;
            tails.push(tail);
            if count == 0 || tail > 1.0 - 1e-12 {
                break;
            }
            probability *= count as f64 / mean;
            count -= 1;
        }
        PoissonTail { mean, top, tails }
    }

    /// The mean given to [`PoissonTail::new`].
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The largest of `draws` independent counts (0 for no draws).
    pub fn max_of<R: RngCore + ?Sized>(&self, rng: &mut R, draws: u64) -> u64 {
        if draws == 0 || self.mean == 0.0 {
            return 0;
        }
        // The maximum is at least x when some draw is: 1 - F(x - 1)^draws, so it is the
        // largest x with P(X >= x) > 1 - u^(1/draws), computed without cancellation.
        let tail_max = -libm::expm1(libm::log(uniform_open01(rng)) / draws as f64);
        let index = self.tails.partition_point(|&tail| tail <= tail_max).min(self.tails.len() - 1);
        self.top - index as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;
    use statrs::distribution::{ChiSquared, ContinuousCDF, Discrete, DiscreteCDF};

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// A generator that always returns the same word, to probe the edges.
    struct ConstantRng(u64);

    impl RngCore for ConstantRng {
        fn next_u32(&mut self) -> u32 {
            self.0 as u32
        }

        fn next_u64(&mut self) -> u64 {
            self.0
        }

        fn fill_bytes(&mut self, destination: &mut [u8]) {
            destination.fill(self.0 as u8);
        }
    }

    /// Sample mean and unbiased sample variance.
    fn moments(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
        let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
        for value in values {
            count += 1.0;
            let delta = value - mean;
            mean += delta / count;
            m2 += delta * (value - mean);
        }
        (count, mean, m2 / (count - 1.0))
    }

    /// Checks sample moments against exact ones with a tolerance of six
    /// standard errors, so a correct sampler fails with probability about
    /// 1e-9 per check, while a biased one is caught at these sample sizes.
    /// `fourth_central` is the distribution's fourth central moment, which
    /// sets the standard error of the sample variance.
    fn assert_moments(
        label: &str,
        (count, mean, variance): (f64, f64, f64),
        mean_exact: f64,
        variance_exact: f64,
        fourth_central: f64,
    ) {
        let mean_error_max = 6.0 * (variance_exact / count).sqrt();
        let variance_se = ((fourth_central - variance_exact * variance_exact) / count).sqrt();
        let variance_error_max = 6.0 * variance_se;
        assert!(
            (mean - mean_exact).abs() <= mean_error_max,
            "{label}: mean {mean} vs {mean_exact} (tolerance {mean_error_max})"
        );
        assert!(
            (variance - variance_exact).abs() <= variance_error_max,
            "{label}: variance {variance} vs {variance_exact} (tolerance {variance_error_max})"
        );
    }

    #[test]
    fn floor_to_i64_matches_floor_then_cast() {
        let mut rng = rng(31);
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            -1.5,
            2.0_f64.powi(52) + 0.5,
            -(2.0_f64.powi(52) + 0.5),
            2.0_f64.powi(63),
            -(2.0_f64.powi(63)),
            -(2.0_f64.powi(63)) * 1.5,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ];
        values.extend((0..100_000).map(|_| (uniform01(&mut rng) - 0.5) * 1e6));
        for x in values {
            assert_eq!(floor_to_i64(x), x.floor() as i64, "{x}");
        }
    }

    #[test]
    fn log_factorial_is_lgamma() {
        for k in (0..5_000).chain([65_535, 65_536, 65_537, 1 << 40]) {
            assert_eq!(log_factorial(k).to_bits(), libm::lgamma(k as f64 + 1.0).to_bits(), "{k}");
        }
    }

    #[test]
    fn uniforms_stay_in_range() {
        let mut rng = rng(1);
        for _ in 0..100_000 {
            let closed = uniform01(&mut rng);
            assert!((0.0..1.0).contains(&closed));
            let open = uniform_open01(&mut rng);
            assert!(open > 0.0 && open < 1.0);
        }
        // The extreme words map strictly inside the intervals.
        assert_eq!(uniform01(&mut ConstantRng(0)), 0.0);
        assert!(uniform01(&mut ConstantRng(u64::MAX)) < 1.0);
        assert!(uniform_open01(&mut ConstantRng(0)) > 0.0);
        assert!(uniform_open01(&mut ConstantRng(u64::MAX)) < 1.0);
    }

    #[test]
    fn continuous_moments() {
        let mut rng = rng(2);
        let draws = 200_000;
        let normal = moments((0..draws).map(|_| standard_normal(&mut rng)));
        assert_moments("normal", normal, 0.0, 1.0, 3.0);
        let exponential_moments = moments((0..draws).map(|_| exponential(&mut rng, 2.5)));
        let variance = 2.5f64.powi(2);
        assert_moments("exponential", exponential_moments, 2.5, variance, 9.0 * variance * variance);
        for (shape, scale) in [(0.3, 2.0), (1.0, 1.0), (2.5, 0.5), (40.0, 3.0)] {
            let gamma_moments = moments((0..draws).map(|_| gamma(&mut rng, shape, scale)));
            let variance = shape * scale * scale;
            let fourth = 3.0 * shape * (shape + 2.0) * scale.powi(4);
            let label = format!("gamma({shape}, {scale})");
            assert_moments(&label, gamma_moments, shape * scale, variance, fourth);
        }
    }

    #[test]
    fn poisson_moments() {
        let mut rng = rng(3);
        for mean in [0.5, 5.0, 9.9, 10.0, 50.0, 1_000.0, 1e6] {
            let poisson = Poisson::new(mean);
            assert_eq!(poisson.mean(), mean);
            let observed = moments((0..200_000).map(|_| poisson.sample(&mut rng) as f64));
            let fourth = mean * (1.0 + 3.0 * mean);
            assert_moments(&format!("Poisson({mean})"), observed, mean, mean, fourth);
        }
    }

    #[test]
    fn poisson_zero_mean_is_always_zero() {
        let mut rng = rng(4);
        let poisson = Poisson::new(0.0);
        assert!((0..1_000).all(|_| poisson.sample(&mut rng) == 0));
    }

    /// Pearson's chi-square statistic of observed counts against `pmf`, with
    /// cells merged from the tails until each expects at least 20 draws.
    /// Returns the statistic and its degrees of freedom.
    fn chi_square(observed: &[u64], draws: u64, pmf: impl Fn(u64) -> f64) -> (f64, f64) {
        let expected_min = 20.0;
        let mut cells: Vec<(f64, f64)> = Vec::new();
        let (mut cell_observed, mut cell_expected) = (0.0, 0.0);
        let mut expected_total = 0.0;
        for (value, &count) in observed.iter().enumerate() {
            let expected = pmf(value as u64) * draws as f64;
            expected_total += expected;
            cell_observed += count as f64;
            cell_expected += expected;
            if cell_expected >= expected_min {
                cells.push((cell_observed, cell_expected));
                (cell_observed, cell_expected) = (0.0, 0.0);
            }
        }
        // The upper tail beyond the table, plus any unfinished cell, joins
        // the last cell.
        let last = cells.last_mut().expect("at least one cell");
        last.0 += cell_observed;
        last.1 += cell_expected + (draws as f64 - expected_total);
        let statistic = cells.iter().map(|(observed, expected)| (observed - expected).powi(2) / expected).sum();
        (statistic, (cells.len() - 1) as f64)
    }

    /// Checks a Poisson sampler's histogram against statrs's pmf. The
    /// tolerance is the chi-square quantile at 1 - 1e-6: a correct sampler
    /// fails with probability 1e-6 (and, with a fixed seed, either always or
    /// never), while a mistake in the pmf shape of a few percent in any
    /// region fails at once.
    fn assert_poisson_fits(mean: f64, draws: u64, seed: u64) {
        let poisson = Poisson::new(mean);
        let reference = statrs::distribution::Poisson::new(mean).unwrap();
        let table_len = (mean + 20.0 * mean.sqrt() + 20.0) as usize;
        let mut observed = vec![0u64; table_len];
        let mut rng = rng(seed);
        for _ in 0..draws {
            let value = poisson.sample(&mut rng) as usize;
            assert!(value < table_len, "Poisson({mean}) drew {value}");
            observed[value] += 1;
        }
        let (statistic, degrees) = chi_square(&observed, draws, |value| reference.pmf(value));
        let critical = ChiSquared::new(degrees).unwrap().inverse_cdf(1.0 - 1e-6);
        assert!(
            statistic < critical,
            "Poisson({mean}): chi-square {statistic} with {degrees} degrees of freedom, \
             critical {critical}"
        );
    }

    #[test]
    fn poisson_matches_reference_pmf() {
        assert_poisson_fits(3.0, 200_000, 5);
        assert_poisson_fits(1_000.0, 400_000, 6);
        assert_poisson_fits(12.0, 200_000, 7);
    }

    /// [`assert_poisson_fits`] for the table sampler.
    fn assert_poisson_table_fits(mean: f64, draws: u64, seed: u64) {
        let table = PoissonTable::new(mean).expect("a table for a moderate mean");
        let reference = statrs::distribution::Poisson::new(mean).unwrap();
        let table_len = (mean + 20.0 * mean.sqrt() + 20.0) as usize;
        let mut observed = vec![0u64; table_len];
        let mut rng = rng(seed);
        for _ in 0..draws {
            observed[table.sample(&mut rng) as usize] += 1;
        }
        let (statistic, degrees) = chi_square(&observed, draws, |value| reference.pmf(value));
        let critical = ChiSquared::new(degrees).unwrap().inverse_cdf(1.0 - 1e-6);
        assert!(statistic < critical, "table Poisson({mean}): chi-square {statistic}, critical {critical}");
    }

    #[test]
    fn poisson_table_matches_reference_pmf() {
        assert_poisson_table_fits(0.3, 200_000, 15);
        assert_poisson_table_fits(3.0, 200_000, 16);
        assert_poisson_table_fits(781.25, 400_000, 17);
        assert_poisson_table_fits(1_000.0, 400_000, 18);
    }

    #[test]
    fn poisson_table_holds_every_count_a_uniform_can_reach() {
        for mean in [0.01, 1.0, 9.5, 750.0, 1_100.0, 30_000.0] {
            let table = PoissonTable::new(mean).expect("a table");
            let reference = statrs::distribution::Poisson::new(mean).unwrap();
            let last = table.count_first + table.cdf.len() as u64 - 1;
            // What lies outside is far below a uniform's 2^-53 resolution.
            let outside = reference.cdf(table.count_first.saturating_sub(1))
                * f64::from(u8::from(table.count_first > 0))
                + reference.sf(last);
            assert!(outside < 1e-20, "mean {mean}: {outside} outside [{}, {last}]", table.count_first);
            assert!(table.cdf.windows(2).all(|pair| pair[0] <= pair[1]));
            // The guide never points past the first count that answers its slot.
            let slots = table.guide.len() as f64;
            for (slot, &index) in table.guide.iter().enumerate() {
                let left = slot as f64 / slots;
                assert!(index == 0 || table.cdf[index as usize - 1] <= left + f64::EPSILON);
                assert!(table.cdf[index as usize] > left - f64::EPSILON);
            }
            // The last uniform of all lands on the table's last slot and stops in it.
            let mut top = ConstantRng(u64::MAX);
            assert!(table.sample(&mut top) <= last);
        }
        assert_eq!(PoissonTable::new(0.0), None);
        assert!(PoissonTable::new(100_000.0).is_some(), "a table up to about 120,000");
        assert_eq!(PoissonTable::new(1e9), None, "too many counts for a table");
    }

    #[test]
    fn poisson_table_tail_matches_the_oracle() {
        // E[(N - 1000)+] for N ~ Poisson(1000): the throttling oracle's quantity, where
        // the upper tail decides the answer.
        let table = PoissonTable::new(1_000.0).unwrap();
        let reference = statrs::distribution::Poisson::new(1_000.0).unwrap();
        let exact: f64 = (1_001..2_000).map(|n| (n - 1_000) as f64 * reference.pmf(n)).sum();
        let mut rng = rng(19);
        let draws = 400_000;
        let excess: u64 = (0..draws).map(|_| table.sample(&mut rng).saturating_sub(1_000)).sum();
        let mean_excess = excess as f64 / draws as f64;
        assert!((mean_excess - exact).abs() < 0.03 * exact, "{mean_excess} against {exact}");
    }

    #[test]
    fn steady_poisson_switches_to_a_table_only_for_a_repeating_mean() {
        let mut rng = rng(20);
        let mut steady = SteadyPoisson::new();
        let mut reference = rng.clone();
        let ptrs = Poisson::new(500.0);
        // Until the threshold, the draws are PTRS's own, value for value.
        for _ in 1..SteadyPoisson::TABLE_AFTER_DRAWS {
            assert_eq!(steady.sample(500.0, &mut rng), ptrs.sample(&mut reference));
        }
        assert!(steady.table.is_none());
        steady.sample(500.0, &mut rng);
        assert!(steady.table.is_some(), "the threshold's own draw comes from the table");
        // A new mean drops the table and starts over.
        steady.sample(400.0, &mut rng);
        assert!(steady.table.is_none());
        assert_eq!(steady.repeats, 1);
    }

    #[test]
    fn binomial_moments() {
        let mut rng = rng(8);
        let cases = [
            (10, 0.5),
            (100, 0.05),
            (100, 0.97),
            (1_000, 0.02),
            (1_000, 0.5),
            (50, 0.9),
            (100_000, 0.3),
            (1_000_000_000, 1e-3),
            (1 << 40, 0.25),
        ];
        for (trials, probability) in cases {
            let sampler = Binomial::new(trials, probability);
            let observed = moments((0..200_000).map(|_| sampler.sample(&mut rng) as f64));
            let n = trials as f64;
            let (p, q) = (probability, 1.0 - probability);
            let variance = n * p * q;
            let fourth = n * p * q * (1.0 + 3.0 * (n - 2.0) * p * q);
            let label = format!("binomial({trials}, {probability})");
            assert_moments(&label, observed, n * p, variance, fourth);
        }
    }

    #[test]
    fn binomial_matches_reference_pmf() {
        // The cases cover inversion, BTPE with only the explicit ratio (distance
        // to the mode at most 20), BTPE with the squeeze, and the symmetry flip.
        let cases = [(40, 0.4, 10), (200, 0.3, 9), (10_000, 0.5, 14), (60, 0.8, 11)];
        for (trials, probability, seed) in cases {
            let reference = statrs::distribution::Binomial::new(probability, trials).unwrap();
            let draws = 200_000;
            let mut observed = vec![0u64; trials as usize + 1];
            let mut rng = rng(seed);
            for _ in 0..draws {
                observed[binomial(&mut rng, trials, probability) as usize] += 1;
            }
            let (statistic, degrees) = chi_square(&observed, draws, |value| reference.pmf(value));
            let critical = ChiSquared::new(degrees).unwrap().inverse_cdf(1.0 - 1e-6);
            assert!(
                statistic < critical,
                "binomial({trials}, {probability}): chi-square {statistic}, critical {critical}"
            );
        }
    }

    #[test]
    fn binomial_edge_cases() {
        let mut rng = rng(12);
        assert_eq!(binomial(&mut rng, 0, 0.5), 0);
        assert_eq!(binomial(&mut rng, 100, 0.0), 0);
        assert_eq!(binomial(&mut rng, 100, 1.0), 100);
        assert_eq!(binomial(&mut rng, 1, 1.0), 1);
        for _ in 0..1_000 {
            assert!(binomial(&mut rng, 3, 0.999) <= 3);
            assert!(binomial(&mut rng, 100, 0.5) <= 100);
        }
    }

    #[test]
    fn multinomial_split_is_exact_and_proportional() {
        let mut rng = rng(13);
        let weights = [0.0, 1.0, 3.0, 0.0, 6.0, 0.0];
        let mut out = [0u64; 6];
        let mut sums = [0u64; 6];
        let rounds = 2_000;
        for _ in 0..rounds {
            multinomial_split(&mut rng, 1_000, &weights, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 1_000);
            assert_eq!((out[0], out[3], out[5]), (0, 0, 0));
            for (sum, count) in sums.iter_mut().zip(out) {
                *sum += count;
            }
        }
        let total = (rounds * 1_000) as f64;
        for (index, weight) in [(1, 0.1), (2, 0.3), (4, 0.6)] {
            let share = sums[index] as f64 / total;
            let standard_error = (weight * (1.0 - weight) / total).sqrt();
            assert!((share - weight).abs() < 6.0 * standard_error, "bin {index}: {share}");
        }
        multinomial_split(&mut rng, 0, &[0.0, 0.0], &mut out[..2]);
        assert_eq!(out[..2], [0, 0]);
        multinomial_split(&mut rng, 5, &[2.0], &mut out[..1]);
        assert_eq!(out[0], 5);
    }

    #[test]
    fn samplers_are_deterministic() {
        let draw_all = |seed| {
            let mut rng = rng(seed);
            let poisson_small = Poisson::new(3.0);
            let poisson_large = Poisson::new(500.0);
            let mut out = [0u64; 3];
            let mut values = Vec::new();
            for _ in 0..100 {
                values.push(poisson_small.sample(&mut rng) as f64);
                values.push(poisson_large.sample(&mut rng) as f64);
                values.push(binomial(&mut rng, 1_000, 0.4) as f64);
                values.push(standard_normal(&mut rng));
                values.push(gamma(&mut rng, 0.7, 2.0));
                values.push(exponential(&mut rng, 1.0));
                multinomial_split(&mut rng, 50, &[1.0, 2.0, 3.0], &mut out);
                values.extend(out.iter().map(|&count| count as f64));
            }
            values
        };
        let first = draw_all(99);
        let again = draw_all(99);
        assert_eq!(
            first.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            again.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_ne!(first, draw_all(100));
    }

    #[test]
    fn the_largest_of_many_poisson_counts_follows_the_power_of_the_distribution_function() {
        for (mean, draws) in [(750.0, 60_u64), (3.5, 10), (40.0, 1), (0.2, 3600)] {
            let reference = statrs::distribution::Poisson::new(mean).unwrap();
            let samples = 40_000;
            let mut rng = rng(7);
            let tail = PoissonTail::new(mean);
            let values: Vec<u64> = (0..samples).map(|_| tail.max_of(&mut rng, draws)).collect();
            // The empirical distribution function at its quantiles matches F(x)^draws
            // within five binomial standard deviations.
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for quantile in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
                let x = sorted[(quantile * samples as f64) as usize];
                let expected = reference.cdf(x).powf(draws as f64);
                let observed = values.iter().filter(|&&v| v <= x).count() as f64 / samples as f64;
                let sd = (expected * (1.0 - expected) / samples as f64).sqrt();
                assert!(
                    (observed - expected).abs() <= 5.0 * sd + 1e-4,
                    "mean {mean}, {draws} draws: P(max <= {x}) = {observed}, expected {expected}"
                );
            }
        }
        assert_eq!(PoissonTail::new(500.0).max_of(&mut rng(1), 0), 0);
        assert_eq!(PoissonTail::new(0.0).max_of(&mut rng(1), 60), 0);
    }

    #[test]
    fn the_tail_bound_holds_and_is_tight_enough_to_use() {
        for (mean, limit) in [(800.0, 1000_u64), (700.0, 1000), (20.0, 60), (900.0, 1000), (0.5, 5)] {
            let tail = 1.0 - statrs::distribution::Poisson::new(mean).unwrap().cdf(limit);
            for log_max in [-20.7, -10.0, -4.0] {
                if poisson_tail_below(mean, limit, log_max) {
                    assert!(tail <= log_max.exp(), "mean {mean}, limit {limit}: tail {tail} over e^{log_max}");
                }
            }
        }
        // Tight enough: 800/s against a limit of 1,000 is quiet at 1e-9, 900/s is not.
        assert!(poisson_tail_below(800.0, 1000, -20.7));
        assert!(!poisson_tail_below(900.0, 1000, -20.7));
        assert!(!poisson_tail_below(1000.0, 1000, -20.7));
        assert!(poisson_tail_below(0.0, 0, -20.7));
    }
}
