//! Exact conversions between counts and `f64` on the hot paths.
//!
//! Baseline x86-64 has no instruction for unsigned 64-bit integer to or from `f64`,
//! so `u64 as f64` and `f64 as u64` compile to sequences of five to fifteen
//! instructions, where the signed conversions take one or a few. For values below
//! 2^63 the signed conversion gives the same result, bit for bit; these helpers use
//! it for counts (records, bytes) and nanosecond spans, which never come near 2^63
//! (debug builds check it).

/// `value as f64`, for a value below 2^63.
#[inline(always)]
pub fn count_to_f64(value: u64) -> f64 {
    debug_assert!(value <= i64::MAX as u64, "{value} is not below 2^63");
    value as i64 as f64
}

/// `value as u64` (truncation; negative and NaN values give 0), for a value below 2^63.
#[inline(always)]
pub fn f64_to_count(value: f64) -> u64 {
    debug_assert!(value.is_nan() || value < 9_223_372_036_854_775_808.0, "{value} is not below 2^63");
    (value as i64).max(0) as u64
}

/// `value.ceil() as u64` for a value below 2^63 (negative and NaN values give 0),
/// without `ceil`, which baseline x86-64 has no instruction for (it is a library call).
#[inline(always)]
pub fn ceil_to_count(value: f64) -> u64 {
    let truncated = f64_to_count(value);
    // Truncation rounds down for non-negative values: one up unless already whole.
    truncated + u64::from(count_to_f64(truncated) < value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_the_unsigned_casts_below_2_pow_63() {
        let mut values: Vec<u64> =
            vec![0, 1, 2, 3, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, (1 << 62) + 12_345, i64::MAX as u64];
        let mut state = 0x1234_5678_9ABC_DEF0_u64;
        for _ in 0..100_000 {
            // Shifts of 1 to 63 bits spread the values over every magnitude below 2^63.
            let shift = (state >> 58) as u32 % 63 + 1;
            values.push(crate::rng::splitmix64(&mut state) >> shift);
        }
        for value in values {
            assert_eq!(count_to_f64(value).to_bits(), (value as f64).to_bits(), "{value}");
            let float = value as f64 * 0.999_999_9;
            assert_eq!(f64_to_count(float), float as u64, "{float}");
            assert_eq!(ceil_to_count(float), float.ceil() as u64, "{float}");
            let fraction = (value % 1_000_000) as f64 / 1_000.0;
            assert_eq!(ceil_to_count(fraction), fraction.ceil() as u64, "{fraction}");
        }
        for float in [-0.0, -0.5, -1.0, -1e300, f64::NEG_INFINITY, f64::NAN, 0.999, 1.5, 4.5e18] {
            assert_eq!(f64_to_count(float), float as u64, "{float}");
            assert_eq!(ceil_to_count(float), float.ceil() as u64, "{float}");
        }
    }
}
