//! Simulated time, durations, and the text forms used in configuration.
//!
//! Time is an integer count of nanoseconds since the start of a run. Integers
//! make every comparison exact and every sum associative, so two runs with the
//! same inputs visit the same instants in the same order on every machine. A
//! floating-point clock would drift differently depending on the order in which
//! durations are added, and equal instants could compare unequal.
//!
//! A `u64` of nanoseconds covers about 584 years, far beyond any run, so
//! arithmetic that overflows is a bug in the caller and panics with a clear
//! message instead of wrapping silently.
//!
//! The parsers accept the short human forms used in configuration files
//! (`"90s"`, `"15m"`, `"250ms"`, `"25KiB"`) and convert them with decimal string
//! arithmetic, never through `f64`, so `"0.1s"` is exactly 100 000 000 ns.

use core::fmt;
use core::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MS: u64 = 1_000_000;
/// Nanoseconds in one microsecond.
pub const NANOS_PER_US: u64 = 1_000;
/// Nanoseconds in one minute.
pub const NANOS_PER_MIN: u64 = 60 * NANOS_PER_SEC;
/// Nanoseconds in one hour.
pub const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MIN;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: u64 = 24 * NANOS_PER_HOUR;

/// An instant of simulated time: nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of simulated time in nanoseconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimDuration {
    /// The empty duration.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `duration_ns` nanoseconds.
    pub const fn from_nanos(duration_ns: u64) -> SimDuration {
        SimDuration(duration_ns)
    }

    /// A duration of `duration_ms` milliseconds; panics if it does not fit.
    pub const fn from_millis(duration_ms: u64) -> SimDuration {
        match duration_ms.checked_mul(NANOS_PER_MS) {
            Some(duration_ns) => SimDuration(duration_ns),
            None => panic!("SimDuration::from_millis overflows u64 nanoseconds"),
        }
    }

    /// A duration of `duration_s` seconds; panics if it does not fit.
    pub const fn from_secs(duration_s: u64) -> SimDuration {
        match duration_s.checked_mul(NANOS_PER_SEC) {
            Some(duration_ns) => SimDuration(duration_ns),
            None => panic!("SimDuration::from_secs overflows u64 nanoseconds"),
        }
    }

    /// The duration in whole nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The duration in seconds, rounded to the nearest `f64`.
    ///
    /// Meant for reporting only: simulation logic stays in integers.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The duration in milliseconds, rounded to the nearest `f64`.
    ///
    /// Meant for reporting only: simulation logic stays in integers.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MS as f64
    }

    /// Whether the duration is empty.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The sum, or `None` on overflow.
    pub const fn checked_add(self, other: SimDuration) -> Option<SimDuration> {
        match self.0.checked_add(other.0) {
            Some(sum_ns) => Some(SimDuration(sum_ns)),
            None => None,
        }
    }

    /// The difference, clamped at zero.
    pub const fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
}

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);

    /// The instant `time_ns` nanoseconds after the start.
    pub const fn from_nanos(time_ns: u64) -> SimTime {
        SimTime(time_ns)
    }

    /// The instant `time_s` seconds after the start; panics if it does not fit.
    pub const fn from_secs(time_s: u64) -> SimTime {
        SimTime(SimDuration::from_secs(time_s).0)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, rounded to the nearest `f64` (for reporting).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub const fn saturating_sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// The instant `duration` later, or `None` on overflow.
    pub const fn checked_add(self, duration: SimDuration) -> Option<SimTime> {
        match self.0.checked_add(duration.0) {
            Some(time_ns) => Some(SimTime(time_ns)),
            None => None,
        }
    }

    /// The time elapsed since the start, as a duration.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;

    fn add(self, duration: SimDuration) -> SimTime {
        let time_ns = self.0.checked_add(duration.0);
        assert!(time_ns.is_some(), "SimTime overflow: {} ns + {} ns exceeds u64", self.0, duration.0);
        SimTime(time_ns.unwrap_or(u64::MAX))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, duration: SimDuration) {
        *self = *self + duration;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;

    fn sub(self, earlier: SimTime) -> SimDuration {
        assert!(self.0 >= earlier.0, "SimTime subtraction goes negative: {} ns - {} ns", self.0, earlier.0);
        SimDuration(self.0 - earlier.0)
    }
}

impl Sub<SimDuration> for SimTime {
    type Output = SimTime;

    fn sub(self, duration: SimDuration) -> SimTime {
        assert!(self.0 >= duration.0, "SimTime before the start of the run: {} ns - {} ns", self.0, duration.0);
        SimTime(self.0 - duration.0)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;

    fn add(self, other: SimDuration) -> SimDuration {
        let sum = self.checked_add(other);
        assert!(sum.is_some(), "SimDuration overflow: {} ns + {} ns exceeds u64", self.0, other.0);
        sum.unwrap_or(SimDuration(u64::MAX))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, other: SimDuration) {
        *self = *self + other;
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;

    fn sub(self, other: SimDuration) -> SimDuration {
        assert!(self.0 >= other.0, "SimDuration subtraction goes negative: {} ns - {} ns", self.0, other.0);
        SimDuration(self.0 - other.0)
    }
}

impl SubAssign for SimDuration {
    fn sub_assign(&mut self, other: SimDuration) {
        *self = *self - other;
    }
}

impl Mul<u64> for SimDuration {
    type Output = SimDuration;

    fn mul(self, factor: u64) -> SimDuration {
        let product_ns = self.0.checked_mul(factor);
        assert!(product_ns.is_some(), "SimDuration overflow: {} ns * {} exceeds u64", self.0, factor);
        SimDuration(product_ns.unwrap_or(u64::MAX))
    }
}

impl Div<u64> for SimDuration {
    type Output = SimDuration;

    /// Integer division, rounding toward zero.
    fn div(self, divisor: u64) -> SimDuration {
        assert!(divisor > 0, "SimDuration divided by zero");
        SimDuration(self.0 / divisor)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(*self))
    }
}

/// Why a piece of text was not accepted by [`parse_duration`] or [`parse_size`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParseFailure {
    /// The text was empty or only whitespace.
    Empty,
    /// The text started with a minus sign.
    Negative,
    /// The number part was missing or malformed.
    NotANumber,
    /// A duration had no unit.
    MissingUnit,
    /// The unit was not one of the accepted units.
    UnknownUnit,
    /// The value is a fraction of the smallest unit (ns or byte).
    Fractional,
    /// The value does not fit in a `u64`.
    Overflow,
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            ParseFailure::Empty => "empty",
            ParseFailure::Negative => "negative",
            ParseFailure::NotANumber => "not a number",
            ParseFailure::MissingUnit => "missing unit",
            ParseFailure::UnknownUnit => "unknown unit",
            ParseFailure::Fractional => "not a whole number of the smallest unit",
            ParseFailure::Overflow => "too large",
        };
        f.write_str(reason)
    }
}

/// A duration or size that could not be parsed.
///
/// The message is one sentence naming the accepted forms, the offending text,
/// and the reason, so it can be shown to a person as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Text given to [`parse_duration`].
    #[error(
        "expected a duration such as \"90s\", \"15m\", \"24h\" or \"250ms\" \
         (units ns, us, ms, s, m, h, d), got \"{text}\" ({reason})"
    )]
    Duration {
        /// The text as given.
        text: String,
        /// What was wrong with it.
        reason: ParseFailure,
    },
    /// Text given to [`parse_size`].
    #[error(
        "expected a size in bytes such as \"512\", \"512B\", \"25KiB\", \"1MiB\" or \"1MB\" \
         (units B, KiB, MiB, GiB, KB, MB, GB), got \"{text}\" ({reason})"
    )]
    Size {
        /// The text as given.
        text: String,
        /// What was wrong with it.
        reason: ParseFailure,
    },
}

impl ParseError {
    /// What was wrong with the text.
    pub fn reason(&self) -> ParseFailure {
        match self {
            ParseError::Duration { reason, .. } | ParseError::Size { reason, .. } => *reason,
        }
    }
}

/// Duration units, longest suffix first so that `"ms"` is not read as `"m"`.
const DURATION_UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", NANOS_PER_US),
    ("ms", NANOS_PER_MS),
    ("s", NANOS_PER_SEC),
    ("m", NANOS_PER_MIN),
    ("h", NANOS_PER_HOUR),
    ("d", NANOS_PER_DAY),
];

/// Size units; the empty unit means bytes.
const SIZE_UNITS: [(&str, u64); 8] = [
    ("", 1),
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// Parses a duration such as `"90s"`, `"15m"`, `"0.5s"` or `"250ms"`.
///
/// The number is a non-negative decimal (`"1"`, `"1.5"`; not `".5"` or `"1."`)
/// directly followed by one of the units `ns`, `us`, `ms`, `s`, `m`, `h`, `d`.
/// Surrounding whitespace is ignored. The result must be a whole number of
/// nanoseconds that fits in a `u64`.
pub fn parse_duration(text: &str) -> Result<SimDuration, ParseError> {
    let error = |reason| ParseError::Duration { text: text.to_string(), reason };
    let (number, unit) = split_number_unit(text.trim()).map_err(error)?;
    if unit.is_empty() {
        return Err(error(ParseFailure::MissingUnit));
    }
    let unit_ns = lookup_unit(&DURATION_UNITS, unit).ok_or_else(|| error(ParseFailure::UnknownUnit))?;
    let duration_ns = scale_decimal(number, unit_ns).map_err(error)?;
    Ok(SimDuration(duration_ns))
}

/// Parses a size in bytes such as `"512"`, `"512B"`, `"25KiB"`, `"1MB"`.
///
/// Binary units (`KiB`, `MiB`, `GiB`) are powers of 1024; decimal units (`KB`,
/// `MB`, `GB`) are powers of 1000. A bare number means bytes. Fractions are
/// accepted when the result is a whole number of bytes (`"1.5KiB"` is 1536).
pub fn parse_size(text: &str) -> Result<u64, ParseError> {
    let error = |reason| ParseError::Size { text: text.to_string(), reason };
    let (number, unit) = split_number_unit(text.trim()).map_err(error)?;
    let unit_bytes = lookup_unit(&SIZE_UNITS, unit).ok_or_else(|| error(ParseFailure::UnknownUnit))?;
    scale_decimal(number, unit_bytes).map_err(error)
}

/// A validated decimal number split into its integer and fraction digits.
#[derive(Copy, Clone, Debug)]
struct Decimal<'a> {
    integer_digits: &'a str,
    fraction_digits: &'a str,
}

/// Splits `"1.5ms"` into the decimal `1.5` and the unit `"ms"`.
fn split_number_unit(text: &str) -> Result<(Decimal<'_>, &str), ParseFailure> {
    if text.is_empty() {
        return Err(ParseFailure::Empty);
    }
    if text.starts_with('-') {
        return Err(ParseFailure::Negative);
    }
    let integer_end = digits_end(text, 0);
    if integer_end == 0 {
        return Err(ParseFailure::NotANumber);
    }
    let mut number_end = integer_end;
    let mut fraction_digits = "";
    if text[integer_end..].starts_with('.') {
        let fraction_start = integer_end + 1;
        number_end = digits_end(text, fraction_start);
        if number_end == fraction_start {
            return Err(ParseFailure::NotANumber);
        }
        fraction_digits = &text[fraction_start..number_end];
    }
    let decimal = Decimal { integer_digits: &text[..integer_end], fraction_digits };
    Ok((decimal, &text[number_end..]))
}

/// The byte index just past the run of ASCII digits starting at `start`.
fn digits_end(text: &str, start: usize) -> usize {
    let run = text.as_bytes()[start..].iter().take_while(|byte| byte.is_ascii_digit()).count();
    start + run
}

fn lookup_unit(units: &[(&str, u64)], unit: &str) -> Option<u64> {
    units.iter().find(|(name, _)| *name == unit).map(|(_, factor)| *factor)
}

/// Multiplies a decimal by an integer unit exactly, requiring a whole result.
///
/// Trailing zeros of the fraction carry no value and are dropped first. After
/// that, a fraction of more than 20 digits can never give a whole result: the
/// largest unit (a day, 2^16 * 5^11 * 27 ns) cannot cancel more than 16
/// factors of ten. Bounding the fraction this way keeps every intermediate
/// product below 10^34, inside `u128`.
fn scale_decimal(decimal: Decimal<'_>, unit: u64) -> Result<u64, ParseFailure> {
    const FRACTION_DIGITS_MAX: usize = 20;
    assert!(unit > 0);
    let integer = parse_digits_u128(decimal.integer_digits)?;
    let integer_scaled = integer.checked_mul(u128::from(unit)).ok_or(ParseFailure::Overflow)?;
    let fraction_digits = decimal.fraction_digits.trim_end_matches('0');
    if fraction_digits.len() > FRACTION_DIGITS_MAX {
        return Err(ParseFailure::Fractional);
    }
    let fraction = parse_digits_u128(fraction_digits)?;
    let denominator = 10u128.pow(fraction_digits.len() as u32);
    let fraction_scaled = fraction * u128::from(unit);
    if fraction_scaled % denominator != 0 {
        return Err(ParseFailure::Fractional);
    }
    let total = integer_scaled.checked_add(fraction_scaled / denominator).ok_or(ParseFailure::Overflow)?;
    u64::try_from(total).map_err(|_| ParseFailure::Overflow)
}

/// Parses ASCII digits into a `u128`, reporting overflow; empty is zero.
fn parse_digits_u128(digits: &str) -> Result<u128, ParseFailure> {
    digits.bytes().try_fold(0u128, |value, byte| {
        debug_assert!(byte.is_ascii_digit());
        value.checked_mul(10).and_then(|value| value.checked_add(u128::from(byte - b'0'))).ok_or(ParseFailure::Overflow)
    })
}

/// Formats a duration in its shortest exact form: `"90s"`, `"15m"`, `"1.5s"`.
///
/// Every unit accepted by [`parse_duration`] is tried; the shortest text wins,
/// and on a tie a whole number beats a fraction and a larger unit beats a
/// smaller one. The result always parses back to the same duration. Zero is
/// written `"0s"`.
pub fn format_duration(duration: SimDuration) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    let mut best: Option<(usize, bool, String)> = None;
    // Iterating from the largest unit down lets a strict `<` keep the larger
    // unit on ties.
    for (unit, unit_ns) in DURATION_UNITS.iter().rev() {
        let Some(text) = format_in_unit(duration.0, *unit_ns, unit) else {
            continue;
        };
        let is_fraction = text.contains('.');
        let better = match &best {
            None => true,
            Some((length, best_is_fraction, _)) => (text.len(), is_fraction) < (*length, *best_is_fraction),
        };
        if better {
            best = Some((text.len(), is_fraction, text));
        }
    }
    let (_, _, text) = best.expect("nanoseconds always give an exact form");
    debug_assert_eq!(parse_duration(&text), Ok(duration));
    text
}

/// Writes `value_ns` in `unit`, or `None` if the decimal would not terminate
/// within a few digits (for example a third of a minute).
fn format_in_unit(value_ns: u64, unit_ns: u64, unit: &str) -> Option<String> {
    const FRACTION_DIGITS_MAX: usize = 12;
    let whole = value_ns / unit_ns;
    let mut remainder = value_ns % unit_ns;
    let mut text = whole.to_string();
    if remainder == 0 {
        text.push_str(unit);
        return Some(text);
    }
    text.push('.');
    for _ in 0..FRACTION_DIGITS_MAX {
        // The remainder is below a day in nanoseconds (< 2^47), so times ten
        // stays far inside u64.
        remainder *= 10;
        let digit = remainder / unit_ns;
        remainder %= unit_ns;
        text.push(char::from(b'0' + digit as u8));
        if remainder == 0 {
            text.push_str(unit);
            return Some(text);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> u64 {
        parse_duration(text).unwrap().as_nanos()
    }

    fn failure(text: &str) -> ParseFailure {
        parse_duration(text).unwrap_err().reason()
    }

    #[test]
    fn durations_parse_exactly() {
        assert_eq!(ns("90s"), 90 * NANOS_PER_SEC);
        assert_eq!(ns("15m"), 15 * NANOS_PER_MIN);
        assert_eq!(ns("24h"), 24 * NANOS_PER_HOUR);
        assert_eq!(ns("30d"), 30 * NANOS_PER_DAY);
        assert_eq!(ns("50ms"), 50 * NANOS_PER_MS);
        assert_eq!(ns("0.5s"), 500 * NANOS_PER_MS);
        assert_eq!(ns("0.1s"), 100_000_000);
        assert_eq!(ns("0s"), 0);
        assert_eq!(ns("7ns"), 7);
        assert_eq!(ns("3us"), 3_000);
        assert_eq!(ns("1.5m"), 90 * NANOS_PER_SEC);
        assert_eq!(ns("1.000000000000000000000000000s"), NANOS_PER_SEC);
        assert_eq!(ns(" 2s "), 2 * NANOS_PER_SEC);
        assert_eq!(ns("18446744073709551615ns"), u64::MAX);
    }

    #[test]
    fn durations_reject_bad_text() {
        assert_eq!(failure(""), ParseFailure::Empty);
        assert_eq!(failure("  "), ParseFailure::Empty);
        assert_eq!(failure("-1s"), ParseFailure::Negative);
        assert_eq!(failure("abc"), ParseFailure::NotANumber);
        assert_eq!(failure(".5s"), ParseFailure::NotANumber);
        assert_eq!(failure("1.s"), ParseFailure::NotANumber);
        assert_eq!(failure("+1s"), ParseFailure::NotANumber);
        assert_eq!(failure("10"), ParseFailure::MissingUnit);
        assert_eq!(failure("10 s"), ParseFailure::UnknownUnit);
        assert_eq!(failure("10x"), ParseFailure::UnknownUnit);
        assert_eq!(failure("10S"), ParseFailure::UnknownUnit);
        assert_eq!(failure("1.2.3s"), ParseFailure::UnknownUnit);
        assert_eq!(failure("0.5ns"), ParseFailure::Fractional);
        assert_eq!(failure("0.0000000001s"), ParseFailure::Fractional);
        assert_eq!(failure("18446744073709551616ns"), ParseFailure::Overflow);
        assert_eq!(failure("1000000000d"), ParseFailure::Overflow);
        assert_eq!(failure("99999999999999999999999999999999999999999s"), ParseFailure::Overflow);
    }

    #[test]
    fn parse_error_message_names_the_accepted_forms() {
        let message = parse_duration("abc").unwrap_err().to_string();
        assert_eq!(
            message,
            "expected a duration such as \"90s\", \"15m\", \"24h\" or \"250ms\" \
             (units ns, us, ms, s, m, h, d), got \"abc\" (not a number)"
        );
        let message = parse_size("1XB").unwrap_err().to_string();
        assert!(message.starts_with("expected a size in bytes such as"));
        assert!(message.ends_with("got \"1XB\" (unknown unit)"));
    }

    #[test]
    fn sizes_parse_exactly() {
        let size = |text| parse_size(text).unwrap();
        assert_eq!(size("512"), 512);
        assert_eq!(size("512B"), 512);
        assert_eq!(size("25KiB"), 25 * 1024);
        assert_eq!(size("1MiB"), 1 << 20);
        assert_eq!(size("10MiB"), 10 << 20);
        assert_eq!(size("2GiB"), 2 << 30);
        assert_eq!(size("25KB"), 25_000);
        assert_eq!(size("1MB"), 1_000_000);
        assert_eq!(size("1GB"), 1_000_000_000);
        assert_eq!(size("1.5KiB"), 1536);
        assert_eq!(size("0.5MB"), 500_000);
        assert_eq!(size("0"), 0);
    }

    #[test]
    fn sizes_reject_bad_text() {
        let failure = |text| parse_size(text).unwrap_err().reason();
        assert_eq!(failure(""), ParseFailure::Empty);
        assert_eq!(failure("-1KiB"), ParseFailure::Negative);
        assert_eq!(failure("KiB"), ParseFailure::NotANumber);
        assert_eq!(failure("1kib"), ParseFailure::UnknownUnit);
        assert_eq!(failure("1TiB"), ParseFailure::UnknownUnit);
        assert_eq!(failure("1.5B"), ParseFailure::Fractional);
        assert_eq!(failure("1.0001KiB"), ParseFailure::Fractional);
        assert_eq!(failure("20000000000GiB"), ParseFailure::Overflow);
    }

    #[test]
    fn format_is_shortest_and_exact() {
        let format = |duration_ns| format_duration(SimDuration(duration_ns));
        assert_eq!(format(0), "0s");
        assert_eq!(format(90 * NANOS_PER_SEC), "90s");
        assert_eq!(format(15 * NANOS_PER_MIN), "15m");
        assert_eq!(format(1_500 * NANOS_PER_MS), "1.5s");
        assert_eq!(format(250 * NANOS_PER_MS), "250ms");
        assert_eq!(format(NANOS_PER_HOUR), "1h");
        assert_eq!(format(30 * NANOS_PER_DAY), "30d");
        assert_eq!(format(36 * NANOS_PER_HOUR), "36h");
        assert_eq!(format(7), "7ns");
        assert_eq!(format(1_234_567), "1234567ns");
        assert_eq!(format(1_234_500_000), "1.2345s");
        assert_eq!(format(u64::MAX), "18446744073709551615ns");
    }

    #[test]
    fn format_round_trips() {
        let mut state = 7u64;
        for _ in 0..10_000 {
            let value_ns = crate::rng::splitmix64(&mut state) >> (state % 60);
            let duration = SimDuration(value_ns);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }

    #[test]
    fn time_arithmetic() {
        let start = SimTime::from_secs(10);
        let later = start + SimDuration::from_millis(1_500);
        assert_eq!(later.as_nanos(), 11_500 * NANOS_PER_MS);
        assert_eq!(later - start, SimDuration::from_millis(1_500));
        assert_eq!(start.saturating_sub(later), SimDuration::ZERO);
        assert_eq!(later - SimDuration::from_secs(1), SimTime(10_500 * NANOS_PER_MS));
        let mut time = SimTime::ZERO;
        time += SimDuration::from_secs(2);
        assert_eq!(time.as_secs_f64(), 2.0);
        let duration = SimDuration::from_secs(3) * 4 / 2 - SimDuration::from_secs(1);
        assert_eq!(duration, SimDuration::from_secs(5));
        assert_eq!(duration.as_millis_f64(), 5_000.0);
        assert!(SimDuration::ZERO.is_zero());
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
    }

    #[test]
    #[should_panic(expected = "SimTime overflow")]
    fn time_overflow_panics() {
        let _ = SimTime(u64::MAX) + SimDuration(1);
    }

    #[test]
    #[should_panic(expected = "goes negative")]
    fn time_subtraction_underflow_panics() {
        let _ = SimTime(1) - SimTime(2);
    }
}
