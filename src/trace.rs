//! Offered load from a CloudWatch export.
//!
//! CloudWatch counts only successful writes, so offered load is `IncomingRecords` plus
//! `WriteProvisionedThroughputExceeded` (reference `kinesis-facts.md` §2.3, §9). A trace
//! is a CSV file with a header and one row per period: a time column (`timestamp` in
//! RFC 3339, or `time_s` in seconds from the run start), `IncomingRecords` (the Sum over
//! the period) and optionally `WriteProvisionedThroughputExceeded` (Sum). Rows must be
//! evenly spaced; the spacing is the period unless `period` is given.

use kinesim_models::spec::RateShape;
use kinesim_sim::{SimDuration, NANOS_PER_SEC};
use std::path::Path;

/// The most rows a trace may have (one year of one-minute datapoints and then some).
const TRACE_ROWS_MAX: usize = 1_000_000;
/// The longest period or start offset of a trace: 400 days, the longest run.
const TRACE_SPAN_MAX_S: f64 = 400.0 * 86_400.0;

pub fn load_trace(path: &Path, period: Option<SimDuration>, start_unix_s: Option<i64>) -> Result<RateShape, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read the trace: {e}"))?;
    let headers = reader.headers().map_err(|e| format!("cannot read the header: {e}"))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let incoming = column("IncomingRecords").ok_or("the header has no IncomingRecords column")?;
    let throttled = column("WriteProvisionedThroughputExceeded");
    let (time_column, absolute) = match (column("timestamp"), column("time_s")) {
        (Some(index), _) => (index, true),
        (None, Some(index)) => (index, false),
        (None, None) => return Err("the header needs a `timestamp` (RFC 3339) or `time_s` column".into()),
    };
    let mut times = Vec::new();
    let mut counts = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let field = |index: usize| record.get(index).unwrap_or("");
        let time_s = if absolute {
            crate::time::parse_rfc3339(field(time_column))
                .ok_or_else(|| format!("line {line}: `{}` is not an RFC 3339 time", field(time_column)))?
                as f64
        } else {
            field(time_column)
                .parse::<f64>()
                .map_err(|_| format!("line {line}: time_s `{}` is not a number", field(time_column)))?
        };
        let count = |index: usize| -> Result<f64, String> {
            let value: f64 =
                field(index).parse().map_err(|_| format!("line {line}: `{}` is not a number", field(index)))?;
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("line {line}: counts must be 0 or more, got {value}"));
            }
            Ok(value)
        };
        let offered = count(incoming)? + throttled.map(count).transpose()?.unwrap_or(0.0);
        times.push(time_s);
        counts.push(offered);
        if times.len() > TRACE_ROWS_MAX {
            return Err(format!("more than {TRACE_ROWS_MAX} rows"));
        }
    }
    if times.is_empty() {
        return Err("the trace has no rows".into());
    }
    let period_s = match period {
        Some(period) => period.as_secs_f64(),
        None if times.len() >= 2 => times[1] - times[0],
        None => return Err("one row cannot tell its period; give `period`".into()),
    };
    if period_s <= 0.0 || period_s.fract() != 0.0 || period_s > TRACE_SPAN_MAX_S {
        return Err(format!(
            "the period must be a whole number of seconds from 1 to {TRACE_SPAN_MAX_S}, got {period_s}"
        ));
    }
    for (i, pair) in times.windows(2).enumerate() {
        if (pair[1] - pair[0] - period_s).abs() > 1e-6 {
            return Err(format!("line {}: rows must be {period_s} s apart in time order", i + 3));
        }
    }
    // Without a run `start`, a trace of absolute times starts the run.
    let offset_s = match (absolute, start_unix_s) {
        (true, Some(start)) => times[0] - start as f64,
        (true, None) => 0.0,
        (false, _) => times[0],
    };
    if !(0.0..=TRACE_SPAN_MAX_S).contains(&offset_s) {
        return Err(format!(
            "the trace must start within {TRACE_SPAN_MAX_S} s after the run's start, not {offset_s} s"
        ));
    }
    Ok(RateShape::Trace {
        period: SimDuration::from_nanos(period_s as u64 * NANOS_PER_SEC),
        offset: SimDuration::from_nanos((offset_s * NANOS_PER_SEC as f64) as u64),
        rates: counts.into_iter().map(|count| count / period_s).collect(),
    })
}
