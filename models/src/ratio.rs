//! Exact integer proportions, used wherever a count or byte total is split.

/// `value * numerator / denominator` rounded down, exact: in u64 when the product fits
/// (the common case, and far cheaper than a 128-bit division), in u128 otherwise.
pub fn scale(value: u64, numerator: u64, denominator: u64) -> u64 {
    debug_assert!(denominator > 0 && numerator <= denominator);
    match value.checked_mul(numerator) {
        Some(product) => product / denominator,
        None => (u128::from(value) * u128::from(numerator) / u128::from(denominator)) as u64,
    }
}

/// `value * numerator / denominator` rounded half up, exact.
pub fn scale_rounded(value: u64, numerator: u64, denominator: u64) -> u64 {
    debug_assert!(denominator > 0);
    let doubled = value.checked_mul(numerator).and_then(|p| p.checked_mul(2)).and_then(|p| p.checked_add(denominator));
    match (doubled, denominator.checked_mul(2)) {
        (Some(numerator2), Some(denominator2)) => numerator2 / denominator2,
        _ => {
            ((2 * u128::from(value) * u128::from(numerator) + u128::from(denominator)) / (2 * u128::from(denominator)))
                as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_values_agree_with_u128() {
        assert_eq!(scale(10, 1, 3), 3);
        assert_eq!(scale(u64::MAX, 2, 3), (u128::from(u64::MAX) * 2 / 3) as u64);
        assert_eq!(scale_rounded(7, 10, 30), 2);
        assert_eq!(scale_rounded(5, 3, 6), 3);
        assert_eq!(scale_rounded(u64::MAX, 1, 2), (u64::MAX / 2) + 1);
    }
}
