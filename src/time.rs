//! RFC 3339 timestamps to Unix seconds, for `start` and trace files. Only input parsing
//! needs calendar dates; inside a run time is `SimTime` nanoseconds.

/// Parses an RFC 3339 time on a whole second to Unix seconds: `None` for anything else,
/// a time with a non-zero fraction of a second included.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_rfc3339_nanos(text).and_then(|(seconds, nanos)| (nanos == 0).then_some(seconds))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to Unix seconds and the
/// nanoseconds past them. The fraction may have any number of digits, but none past the
/// ninth may be non-zero: time inside a run is whole nanoseconds, and a finer time is
/// refused rather than cut. Returns `None` for anything else.
pub fn parse_rfc3339_nanos(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    if !text.is_ascii()
        || bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let (kept, finer) = fraction[..digits].split_at(digits.min(9));
        if digits == 0 || finer.bytes().any(|b| b != b'0') {
            return None;
        }
        nanos = format!("{kept:0<9}").parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let (h, m): (i64, i64) = (rest[1..3].parse().ok()?, rest[4..6].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    Some((days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s, nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-03-02T00:00:00Z"), Some(1_772_409_600));
        assert_eq!(parse_rfc3339("2026-03-02T01:00:00+01:00"), Some(1_772_409_600));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.000Z"), Some(1_709_208_000));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.250Z"), None, "not on a whole second");
        assert_eq!(parse_rfc3339_nanos("2024-02-29T12:00:00.250Z"), Some((1_709_208_000, 250_000_000)));
        assert_eq!(parse_rfc3339_nanos("2024-02-29T12:00:00.123456789000Z"), Some((1_709_208_000, 123_456_789)));
        assert_eq!(parse_rfc3339_nanos("2024-02-29T12:00:00.1234567891Z"), None, "finer than a nanosecond");
        assert_eq!(parse_rfc3339_nanos("2024-02-29T12:00:00.Z"), None);
        assert_eq!(parse_rfc3339("2025-02-29T12:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
