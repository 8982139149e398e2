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

/// Splits `records` Kinesis records carrying `user_records` user records into the part
/// that carries `part_user_records` of them and the rest, in proportion, such that each
/// side carrying user records keeps at least one Kinesis record (a KPL aggregate split
/// in two becomes two aggregated records, so the total may grow by one). Returns
/// (part, rest).
pub fn split_aggregate(records: u64, user_records: u64, part_user_records: u64) -> (u64, u64) {
    debug_assert!(part_user_records <= user_records);
    if part_user_records == user_records {
        return (records, 0);
    }
    let part = scale(records, part_user_records, user_records).max(u64::from(part_user_records > 0));
    let rest = records.saturating_sub(part).max(1);
    (part, rest)
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
    fn a_split_aggregate_keeps_a_record_on_each_side() {
        assert_eq!(split_aggregate(10, 20, 5), (2, 8));
        assert_eq!(split_aggregate(1, 10, 4), (1, 1), "one aggregate becomes two");
        assert_eq!(split_aggregate(3, 10, 10), (3, 0));
        assert_eq!(split_aggregate(3, 10, 0), (0, 3));
        assert_eq!(split_aggregate(5, 5, 2), (2, 3), "unaggregated records split exactly");
    }

    #[test]
    fn small_and_huge_values_agree_with_u128() {
        assert_eq!(scale(10, 1, 3), 3);
        assert_eq!(scale(u64::MAX, 2, 3), (u128::from(u64::MAX) * 2 / 3) as u64);
        assert_eq!(scale_rounded(7, 10, 30), 2);
        assert_eq!(scale_rounded(5, 3, 6), 3);
        assert_eq!(scale_rounded(u64::MAX, 1, 2), (u64::MAX / 2) + 1);
    }
}
