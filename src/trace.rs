//! Offered load from a CloudWatch export.
//!
//! CloudWatch counts only successful writes, so offered load is `IncomingRecords` plus
//! `WriteProvisionedThroughputExceeded` (reference `kinesis-facts.md` §2.3, §9). A trace
//! is a CSV file with a header and one row per period: a time column (`timestamp` in
//! RFC 3339, or `time_s` in seconds from the run start), `IncomingRecords` (the Sum over
//! the period) and optionally `WriteProvisionedThroughputExceeded` (Sum). Column names
//! are matched without regard to case; other columns are ignored.
//!
//! How an export is read, so that what CloudWatch wrote is what is replayed:
//!
//! - Missing periods are zero. CloudWatch publishes no datapoint for a period in which
//!   nothing was written, so a gap in the rows (and an empty cell, as in an export of
//!   several metrics side by side) means no records; interpolating would invent
//!   traffic. The period is `period` when given, else the smallest spacing between
//!   rows provided it is also the most frequent one (otherwise the spacing is
//!   ambiguous and `period` is required); every row must lie a whole number of
//!   periods after the first.
//! - Rows may come in any order (GetMetricStatistics returns datapoints unordered):
//!   they are sorted by time. A time given twice with the same counts (overlapping
//!   exports pasted together) is read once; with different counts it is an error.
//! - A UTF-8 byte order mark and CRLF line endings are accepted; UTF-16 (as some
//!   spreadsheet programs save "Unicode text") is refused with a hint.
//! - Counts must be finite numbers of 0 or more (at most 1e9 records/s over their
//!   period, as for any rate); every row must have as many fields as the header.
//!
//! Every error names the line (1-based, as an editor shows it) and what is wrong; the
//! caller prefixes the file and the experiment key.

use kinesim_models::spec::RateShape;
use kinesim_sim::{SimDuration, NANOS_PER_SEC};
use std::path::Path;

/// The most periods a trace may span, gaps included (one year of one-minute
/// datapoints and then some).
const TRACE_ROWS_MAX: usize = 1_000_000;
/// The longest period or start offset of a trace: 400 days, the longest run.
const TRACE_SPAN_MAX_S: f64 = 400.0 * 86_400.0;
/// The highest rate a trace may give, as for every other rate shape (records/s).
const RATE_MAX: f64 = 1e9;
/// How far two times may differ and still be the same instant (float seconds).
const TIME_EPSILON_S: f64 = 1e-6;

/// One data row: its time in seconds (and as written), offered records, and its line
/// in the file.
struct Row {
    time_s: f64,
    time_text: String,
    offered: f64,
    line: u64,
}

pub fn load_trace(path: &Path, period: Option<SimDuration>, start_unix_s: Option<i64>) -> Result<RateShape, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the trace: {e}"))?;
    let text = decode(&bytes)?;
    let (rows, absolute) = read_rows(text)?;
    let rows = sort_and_merge(rows)?;
    let period_s = trace_period(&rows, period)?;
    let first = rows[0].time_s;
    let last = rows[rows.len() - 1].time_s;
    let periods = ((last - first) / period_s).round() + 1.0;
    if periods > TRACE_ROWS_MAX as f64 {
        return Err(format!(
            "lines {} to {} span {periods} periods of {period_s} s; a trace may span at most {TRACE_ROWS_MAX}",
            rows[0].line,
            rows[rows.len() - 1].line
        ));
    }
    let mut rates = vec![0.0; periods as usize];
    for (i, row) in rows.iter().enumerate() {
        let index = (row.time_s - first) / period_s;
        if (index - index.round()).abs() * period_s > TIME_EPSILON_S {
            let previous = &rows[i - 1];
            return Err(format!(
                "line {}: time {} is {} s after line {}'s, not a whole number of periods ({period_s} s); rows must lie on one grid",
                row.line,
                row.time_text,
                row.time_s - previous.time_s,
                previous.line
            ));
        }
        let rate = row.offered / period_s;
        if rate > RATE_MAX {
            return Err(format!(
                "line {}: {} records in a period of {period_s} s is {rate:e} records/s, above the most a run takes ({RATE_MAX:e})",
                row.line,
                number(row.offered)
            ));
        }
        rates[index.round() as usize] = rate;
    }
    // Without a run `start`, a trace of absolute times starts the run.
    let offset_s = match (absolute, start_unix_s) {
        (true, Some(start)) => first - start as f64,
        (true, None) => 0.0,
        (false, _) => first,
    };
    if offset_s < 0.0 {
        return Err(format!(
            "line {}: the trace starts {} s before the run's start; remove the earlier rows or move `start`",
            rows[0].line, -offset_s
        ));
    }
    if offset_s > TRACE_SPAN_MAX_S {
        return Err(format!(
            "line {}: the trace must start within {TRACE_SPAN_MAX_S} s after the run's start, not {offset_s} s",
            rows[0].line
        ));
    }
    Ok(RateShape::Trace {
        period: SimDuration::from_nanos(period_s as u64 * NANOS_PER_SEC),
        offset: SimDuration::from_nanos((offset_s * NANOS_PER_SEC as f64) as u64),
        rates,
    })
}

/// The text of the file: UTF-8, with a byte order mark removed.
fn decode(bytes: &[u8]) -> Result<&str, String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 text; save it as CSV in UTF-8".into());
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let line = bytes[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("line {line}: not UTF-8 text")
    })?;
    if text.trim().is_empty() {
        return Err(
            "the file is empty; expected a header such as `timestamp,IncomingRecords` and one row per period".into()
        );
    }
    Ok(text)
}

/// The data rows in file order, and whether their times are absolute (RFC 3339).
fn read_rows(text: &str) -> Result<(Vec<Row>, bool), String> {
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).has_headers(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("line 1: cannot read the header: {}", csv_message(&e)))?.clone();
    let column = |name: &str| -> Result<Option<usize>, String> {
        let found: Vec<usize> =
            headers.iter().enumerate().filter(|(_, h)| h.eq_ignore_ascii_case(name)).map(|(i, _)| i).collect();
        match found[..] {
            [] => Ok(None),
            [index] => Ok(Some(index)),
            [a, b, ..] => Err(format!("line 1: the header has {name} twice (columns {} and {})", a + 1, b + 1)),
        }
    };
    let incoming = column("IncomingRecords")?.ok_or_else(|| {
        format!(
            "line 1: the header has no IncomingRecords column (it has: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })?;
    let throttled = column("WriteProvisionedThroughputExceeded")?;
    let (time_column, absolute) = match (column("timestamp")?, column("time_s")?) {
        (Some(_), Some(_)) => return Err("line 1: give a `timestamp` or a `time_s` column, not both".into()),
        (Some(index), None) => (index, true),
        (None, Some(index)) => (index, false),
        (None, None) => return Err("line 1: the header needs a `timestamp` (RFC 3339) or `time_s` column".into()),
    };
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| csv_message(&e).to_string())?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            return Err(format!("line {line}: {} fields, but the header has {}", record.len(), headers.len()));
        }
        let field = |index: usize| record.get(index).unwrap_or("");
        let time_text = field(time_column);
        let time_s = if absolute {
            let (seconds, nanos) = crate::time::parse_rfc3339_nanos(time_text).ok_or_else(|| {
                format!("line {line}: timestamp `{time_text}` is not an RFC 3339 time such as 2026-03-02T00:00:00Z")
            })?;
            seconds as f64 + f64::from(nanos) * 1e-9
        } else {
            match time_text.parse::<f64>() {
                Ok(value) if value.is_finite() => value,
                _ => return Err(format!("line {line}: time_s `{time_text}` is not a number of seconds")),
            }
        };
        let count = |index: usize, name: &str| -> Result<f64, String> {
            let text = field(index);
            if text.is_empty() {
                // No datapoint for this metric in this period: nothing counted.
                return Ok(0.0);
            }
            let value: f64 = text.parse().map_err(|_| format!("line {line}: {name} `{text}` is not a number"))?;
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("line {line}: {name} must be a count of 0 or more, got `{text}`"));
            }
            Ok(value)
        };
        let offered = count(incoming, "IncomingRecords")?
            + throttled.map(|index| count(index, "WriteProvisionedThroughputExceeded")).transpose()?.unwrap_or(0.0);
        rows.push(Row { time_s, time_text: time_text.to_string(), offered, line });
        if rows.len() > TRACE_ROWS_MAX {
            return Err(format!("line {line}: more than {TRACE_ROWS_MAX} rows"));
        }
    }
    if rows.is_empty() {
        return Err("the trace has a header but no rows".into());
    }
    Ok((rows, absolute))
}

/// A CSV error in one line, with the line number where the reader knows it.
fn csv_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { pos: Some(pos), .. } => format!("line {}: not UTF-8 text", pos.line()),
        csv::ErrorKind::UnequalLengths { pos: Some(pos), expected_len, len } => {
            format!("line {}: {len} fields, but the header has {expected_len}", pos.line())
        }
        _ => format!("cannot read the CSV: {error}"),
    }
}

/// Rows in time order, a time repeated with the same counts read once.
fn sort_and_merge(mut rows: Vec<Row>) -> Result<Vec<Row>, String> {
    rows.sort_by(|a, b| a.time_s.total_cmp(&b.time_s).then(a.line.cmp(&b.line)));
    let mut merged: Vec<Row> = Vec::with_capacity(rows.len());
    for row in rows {
        match merged.last() {
            Some(previous) if (row.time_s - previous.time_s).abs() <= TIME_EPSILON_S => {
                if previous.offered != row.offered {
                    return Err(format!(
                        "line {}: time {} is also on line {} with other counts ({} vs {} records offered); keep one",
                        row.line,
                        row.time_text,
                        previous.line,
                        number(row.offered),
                        number(previous.offered)
                    ));
                }
            }
            _ => merged.push(row),
        }
    }
    Ok(merged)
}

/// A count as people write it: in full, or in scientific notation when huge.
fn number(value: f64) -> String {
    if value.abs() < 1e15 {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// The period: given, or the smallest spacing between rows (in time order).
fn trace_period(rows: &[Row], period: Option<SimDuration>) -> Result<f64, String> {
    let period_s = match period {
        Some(period) => period.as_secs_f64(),
        None if rows.len() >= 2 => {
            // The smallest spacing, when it is also the most frequent: gaps of whole
            // periods do not change it, and irregular rows are not guessed at.
            let mut counts = std::collections::BTreeMap::new();
            for pair in rows.windows(2) {
                let micros = ((pair[1].time_s - pair[0].time_s) * 1e6).round() as i64;
                *counts.entry(micros).or_insert(0usize) += 1;
            }
            let (&smallest, &smallest_count) = counts.iter().next().expect("two rows");
            if let Some((&other, _)) = counts.iter().skip(1).find(|&(_, &count)| count >= smallest_count) {
                return Err(format!(
                    "rows are unevenly spaced ({} s apart as often as {} s), so the period is unclear: give `period` (missing periods then read as zero)",
                    smallest as f64 / 1e6,
                    other as f64 / 1e6
                ));
            }
            smallest as f64 / 1e6
        }
        None => return Err(format!("line {}: one row cannot tell its period; give `period`", rows[0].line)),
    };
    if !(period_s >= 1.0 && period_s.fract() == 0.0 && period_s <= TRACE_SPAN_MAX_S) {
        let source = if period.is_some() { "`period`" } else { "the spacing between rows" };
        return Err(format!(
            "the period must be a whole number of seconds from 1 to {TRACE_SPAN_MAX_S}; {source} is {period_s} s"
        ));
    }
    Ok(period_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &[u8], period: Option<u64>, start: Option<i64>) -> Result<(f64, f64, Vec<f64>), String> {
        let path = std::env::temp_dir().join(format!(
            "kinesim-trace-unit-{}-{}.csv",
            std::process::id(),
            text.iter().map(|&b| u64::from(b)).sum::<u64>() ^ (text.len() as u64) << 32
        ));
        std::fs::write(&path, text).unwrap();
        let result = load_trace(&path, period.map(SimDuration::from_secs), start);
        let _ = std::fs::remove_file(&path);
        match result? {
            RateShape::Trace { period, offset, rates } => Ok((period.as_secs_f64(), offset.as_secs_f64(), rates)),
            other => panic!("not a trace: {other:?}"),
        }
    }

    #[test]
    fn a_plain_trace_is_read_per_second() {
        let (period, offset, rates) = load(b"time_s,IncomingRecords\n0,600\n60,1200\n", None, None).unwrap();
        assert_eq!((period, offset), (60.0, 0.0));
        assert_eq!(rates, vec![10.0, 20.0]);
    }

    #[test]
    fn gaps_are_zero_and_order_does_not_matter() {
        let text =
            b"time_s,IncomingRecords,WriteProvisionedThroughputExceeded\n180,60,\n0,600,60\n240,0,60\n60,120,0\n";
        let (period, _, rates) = load(text, None, None).unwrap();
        assert_eq!(period, 60.0);
        assert_eq!(rates, vec![11.0, 2.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let (_, _, rates) = load(b"\xEF\xBB\xBFtime_s,IncomingRecords\r\n0,60\r\n60,120\r\n", None, None).unwrap();
        assert_eq!(rates, vec![1.0, 2.0]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&[u8], &str); 10] = [
            (b"", "empty"),
            (b"time_s,IncomingRecords\n", "no rows"),
            (b"time_s,IncomingRecords\n0,10\n60,abc\n", "line 3: IncomingRecords `abc` is not a number"),
            (b"time_s,IncomingRecords\n0,10\n60,10,5\n", "line 3: 3 fields"),
            (b"time_s,IncomingRecords\n0,10\n0,20\n", "line 3: time 0 is also on line 2"),
            (b"time_s,IncomingRecords\n0,10\n60,10\n90,10\n", "unevenly spaced (30 s apart as often as 60 s)"),
            (b"time_s,IncomingRecords\n0,10\n60,nan\n", "line 3: IncomingRecords must be a count"),
            (b"time_s,IncomingRecords\n0,10\n60,1e300\n", "line 3: 1e300 records in a period of 60 s"),
            (b"\xFF\xFEt\0", "UTF-16"),
            (b"time_s,IncomingRecords\n0,10\n60,\xFF\n", "line 3: not UTF-8"),
        ];
        for (text, expected) in cases {
            let error = load(text, None, None).unwrap_err();
            assert!(error.contains(expected), "{:?}: {error}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn identical_duplicates_are_read_once() {
        let (_, _, rates) = load(b"time_s,IncomingRecords\n0,60\n60,60\n60,60\n", None, None).unwrap();
        assert_eq!(rates, vec![1.0, 1.0]);
    }

    #[test]
    fn a_given_period_fills_gaps_and_absolute_times_start_at_start() {
        let text = b"timestamp,IncomingRecords\n2026-03-02T00:05:00Z,300\n2026-03-02T00:20:00Z,600\n";
        let start = crate::time::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
        let (period, offset, rates) = load(text, Some(300), Some(start)).unwrap();
        assert_eq!((period, offset), (300.0, 300.0));
        assert_eq!(rates, vec![1.0, 0.0, 0.0, 2.0]);
        let early = load(text, Some(300), Some(start + 600)).unwrap_err();
        assert!(early.contains("line 2: the trace starts 300 s before the run's start"), "{early}");
    }

    #[test]
    fn fractions_of_a_second_in_timestamps_are_kept() {
        let text = b"timestamp,IncomingRecords\n2026-03-02T00:01:00.5Z,60\n2026-03-02T00:02:00.500Z,120\n";
        let start = crate::time::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
        let (period, offset, rates) = load(text, None, Some(start)).unwrap();
        assert_eq!((period, offset), (60.0, 60.5));
        assert_eq!(rates, vec![1.0, 2.0]);
        let off_grid = b"timestamp,IncomingRecords\n2026-03-02T00:01:00Z,60\n2026-03-02T00:02:00Z,60\n2026-03-02T00:03:00.25Z,60\n";
        let error = load(off_grid, Some(60), Some(start)).unwrap_err();
        assert!(error.contains("line 4: time 2026-03-02T00:03:00.25Z"), "{error}");
    }

    #[test]
    fn a_span_beyond_the_row_limit_is_refused_before_allocating() {
        let error = load(b"time_s,IncomingRecords\n0,1\n1,1\n2,1\n3000000,1\n", None, None).unwrap_err();
        assert!(error.contains("span"), "{error}");
    }
}
