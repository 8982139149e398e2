//! The CSV tables of one run, written row by row as periods close.

use crate::atomic::{create, io_error, publish, temporary_path};
use crate::ReportError;
use kinesim_models::metrics::{ConsumerRow, CostRow, EventRow, HotKeyRow, Recorder, ShardRow, StreamRow};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// One CSV table under construction, under its temporary name until committed.
struct Table {
    target: PathBuf,
    csv: csv::Writer<BufWriter<File>>,
}

impl Table {
    fn create(folder: &Path, name: &str, header: &[&str]) -> Result<Table, ReportError> {
        let target = folder.join(name);
        let csv = csv::WriterBuilder::new().from_writer(create(&target)?);
        let mut table = Table { target, csv };
        table.write(header)?;
        Ok(table)
    }

    fn write<I, T>(&mut self, record: I) -> Result<(), ReportError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.csv
            .write_record(record)
            .map_err(|source| ReportError::Csv { path: self.target.display().to_string(), source })
    }

    /// Drops the table and its temporary file: nothing is published.
    fn discard(self) {
        drop(self.csv);
        let _ = std::fs::remove_file(temporary_path(&self.target));
    }

    fn commit(self) -> Result<(), ReportError> {
        let writer = self.csv.into_inner().map_err(|e| io_error(&self.target, std::io::Error::other(e.to_string())))?;
        publish(writer, &self.target)
    }
}

pub const STREAM_COLUMNS: &[&str] = &[
    "time_s",
    "shards_open",
    "offered_records",
    "attempted_records",
    "incoming_records",
    "incoming_bytes",
    "write_throttled_records",
    "dropped_records",
    "put_requests",
    "in_flight_records",
    "utilisation_mean",
    "utilisation_peak",
    "demand_peak",
    "read_records",
    "read_bytes",
    "read_throttled_calls",
    "iterator_age_ms_max",
    "expired_unread_records",
];

pub const SHARD_COLUMNS: &[&str] = &[
    "time_s",
    "shard_id",
    "incoming_records",
    "incoming_bytes",
    "write_throttled_records",
    "utilisation_mean",
    "utilisation_peak",
    "demand_peak",
    "read_records",
    "read_bytes",
    "read_throttled_calls",
    "iterator_age_ms_max",
];

pub const CONSUMER_COLUMNS: &[&str] = &[
    "time_s",
    "consumer",
    "shard_id",
    "read_records",
    "read_bytes",
    "get_records_calls",
    "read_throttled_calls",
    "iterator_age_ms_max",
    "expired_unread_records",
    "backlog_records",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_ms_max",
];

pub const EVENT_COLUMNS: &[&str] = &["time_s", "kind", "subject", "detail"];

pub const COST_COLUMNS: &[&str] = &["time_s", "component", "usd"];

pub const HOT_KEY_COLUMNS: &[&str] = &[
    "shard_id",
    "rank",
    "partition_key",
    "producer",
    "hash_key",
    "offered_records",
    "share_of_shard",
    "share_of_stream",
    "shard_share_of_stream",
    "split_hash_key",
];

/// Writes `stream.csv`, `shards.csv`, `consumers.csv` and `events.csv` as rows arrive.
/// The first I/O error is kept and returned by [`RunWriter::finish`]; rows after it
/// are dropped, and no table is moved into place.
pub struct RunWriter {
    folder: PathBuf,
    stream: Table,
    shards: Option<Table>,
    consumers: Option<Table>,
    events: Table,
    cost: Table,
    error: Option<ReportError>,
}

impl RunWriter {
    /// Creates the folder and the tables. `shards` and `consumers` say whether those
    /// tables are wanted (`[output]` periods that are not "off").
    pub fn create(folder: &Path, shards: bool, consumers: bool) -> Result<RunWriter, ReportError> {
        std::fs::create_dir_all(folder).map_err(|source| io_error(folder, source))?;
        // A stale summary would mark an incomplete rerun as complete.
        match std::fs::remove_file(folder.join("summary.json")) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io_error(folder, error)),
            _ => {}
        }
        Ok(RunWriter {
            folder: folder.to_path_buf(),
            stream: Table::create(folder, "stream.csv", STREAM_COLUMNS)?,
            shards: shards.then(|| Table::create(folder, "shards.csv", SHARD_COLUMNS)).transpose()?,
            consumers: consumers.then(|| Table::create(folder, "consumers.csv", CONSUMER_COLUMNS)).transpose()?,
            events: Table::create(folder, "events.csv", EVENT_COLUMNS)?,
            cost: Table::create(folder, "cost.csv", COST_COLUMNS)?,
            error: None,
        })
    }

    fn keep(&mut self, result: Result<(), ReportError>) {
        if let (Err(error), None) = (result, &self.error) {
            self.error = Some(error);
        }
    }

    /// Gives up on a run that did not complete: every temporary file is removed and no
    /// table is published, so the folder never holds a partial run's tables.
    pub fn abandon(self) {
        self.stream.discard();
        self.events.discard();
        self.cost.discard();
        if let Some(table) = self.shards {
            table.discard();
        }
        if let Some(table) = self.consumers {
            table.discard();
        }
    }

    /// Writes `hot_keys.csv` and moves every table into place.
    pub fn finish(self, hot_keys: &[HotKeyRow]) -> Result<(), ReportError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut table = Table::create(&self.folder, "hot_keys.csv", HOT_KEY_COLUMNS)?;
        for row in hot_keys {
            table.write([
                row.shard_id.to_string(),
                row.rank.to_string(),
                row.partition_key.clone(),
                row.producer.clone(),
                row.hash_key.to_string(),
                number(row.offered_records),
                number(row.share_of_shard),
                number(row.share_of_stream),
                number(row.shard_share_of_stream),
                row.split_hash_key.map(|key| key.to_string()).unwrap_or_default(),
            ])?;
        }
        table.commit()?;
        self.stream.commit()?;
        if let Some(table) = self.shards {
            table.commit()?;
        }
        if let Some(table) = self.consumers {
            table.commit()?;
        }
        self.cost.commit()?;
        self.events.commit()
    }
}

/// Formats a float for CSV: shortest round-trip decimal, rounded to 6 decimals so
/// outputs stay readable; deterministic on every platform.
pub fn number(value: f64) -> String {
    let millionths = (value * 1e6).round();
    let rounded = millionths / 1e6;
    if rounded == 0.0 {
        "0".into()
    } else if rounded.abs() < FIXED_MAX {
        fixed_millionths(millionths as i64)
    } else {
        rounded.to_string()
    }
}

/// Below this magnitude `number` writes the decimal `millionths / 10^6` with integer
/// arithmetic (the shortest round-trip formatting of a float costs several times more,
/// and a run writes a million numbers). It is the same text: `rounded` is the float
/// nearest to that decimal (a correctly rounded division), and below 2^31 floats are
/// spaced less than 10^-6 apart, so no other decimal of at most six places rounds to
/// `rounded`, and any decimal with more places has more significant digits. The shortest
/// round-trip decimal is therefore this one, which `Display` writes without an exponent.
const FIXED_MAX: f64 = 2_147_483_648.0;

/// `millionths / 10^6` in decimal: sign, integer part, and the fraction without trailing
/// zeros (no point when it is zero).
fn fixed_millionths(millionths: i64) -> String {
    let magnitude = millionths.unsigned_abs();
    let (whole, mut fraction) = (magnitude / 1_000_000, magnitude % 1_000_000);
    let mut text = String::with_capacity(24);
    if millionths < 0 {
        text.push('-');
    }
    push_digits(&mut text, whole, 1);
    if fraction > 0 {
        let mut places = 6;
        while fraction % 10 == 0 {
            fraction /= 10;
            places -= 1;
        }
        text.push('.');
        push_digits(&mut text, fraction, places);
    }
    text
}

/// Appends the decimal digits of `value`, zero-padded on the left to `width` digits.
fn push_digits(text: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    text.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

impl Recorder for RunWriter {
    fn stream_row(&mut self, row: &StreamRow) {
        let result = self.stream.write([
            number(row.time_s),
            row.shards_open.to_string(),
            row.offered_records.to_string(),
            row.attempted_records.to_string(),
            row.incoming_records.to_string(),
            row.incoming_bytes.to_string(),
            row.write_throttled_records.to_string(),
            row.dropped_records.to_string(),
            row.put_requests.to_string(),
            row.in_flight_records.to_string(),
            number(row.utilisation_mean),
            number(row.utilisation_peak),
            number(row.demand_peak),
            row.read_records.to_string(),
            row.read_bytes.to_string(),
            row.read_throttled_calls.to_string(),
            number(row.iterator_age_ms_max),
            row.expired_unread_records.to_string(),
        ]);
        self.keep(result);
    }

    fn shard_row(&mut self, row: &ShardRow) {
        let Some(table) = &mut self.shards else { return };
        let result = table.write([
            number(row.time_s),
            row.shard_id.to_string(),
            row.incoming_records.to_string(),
            row.incoming_bytes.to_string(),
            row.write_throttled_records.to_string(),
            number(row.utilisation_mean),
            number(row.utilisation_peak),
            number(row.demand_peak),
            row.read_records.to_string(),
            row.read_bytes.to_string(),
            row.read_throttled_calls.to_string(),
            number(row.iterator_age_ms_max),
        ]);
        self.keep(result);
    }

    fn consumer_row(&mut self, row: &ConsumerRow) {
        let Some(table) = &mut self.consumers else { return };
        let result = table.write([
            number(row.time_s),
            row.consumer.clone(),
            row.shard_id.to_string(),
            row.read_records.to_string(),
            row.read_bytes.to_string(),
            row.get_records_calls.to_string(),
            row.read_throttled_calls.to_string(),
            number(row.iterator_age_ms_max),
            row.expired_unread_records.to_string(),
            row.backlog_records.to_string(),
            number(row.latency_ms_p50),
            number(row.latency_ms_p99),
            number(row.latency_ms_max),
        ]);
        self.keep(result);
    }

    fn cost_row(&mut self, row: &CostRow) {
        let result = self.cost.write([number(row.time_s), row.component.to_string(), usd(row.usd)]);
        self.keep(result);
    }

    fn event(&mut self, row: &EventRow) {
        let result = self.events.write([number(row.time_s), row.kind.clone(), row.subject.clone(), row.detail.clone()]);
        self.keep(result);
    }
}

/// Dollars to a millionth of a cent: enough that a month of rows adds up to the total.
fn usd(value: f64) -> String {
    let rounded = (value * 1e8).round() / 1e8;
    if rounded == 0.0 {
        "0".into()
    } else {
        rounded.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text `number` wrote before its integer path: the float's shortest round trip.
    fn number_by_display(value: f64) -> String {
        let rounded = (value * 1e6).round() / 1e6;
        if rounded == 0.0 {
            "0".into()
        } else {
            rounded.to_string()
        }
    }

    #[test]
    fn numbers_are_the_shortest_round_trip_text() {
        let mut values = vec![
            1.0,
            -1.0,
            0.5,
            1e-6,
            -1e-6,
            4e-7,
            5e-7,
            6e-7,
            0.1,
            0.2,
            0.3,
            1.1,
            2.675,
            0.000_001_5,
            123.456_789_49,
            999_999.999_999_5,
            2_147_483_647.999_999,
            2_147_483_648.0,
            -2_147_483_647.999_999_7,
            1e12,
            1e20,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            60.0,
            86_400.0,
            0.999_999_5,
            9.999_999_5,
            1e-300,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state
        };
        for _ in 0..1_000_000 {
            let bits = next();
            // Magnitudes from 1e-9 to 1e12, random mantissas, both signs.
            let exponent = (bits % 22) as i32 - 9;
            let mantissa = (next() >> 11) as f64 / (1u64 << 53) as f64;
            let value = mantissa * 10f64.powi(exponent);
            values.push(if bits & (1 << 40) == 0 { value } else { -value });
            // Decimals of six places and their neighbours: the cases rounding decides.
            let decimal = (next() % 10_000_000_000_000) as f64 / 1e6;
            values.extend([decimal, f64::from_bits(decimal.to_bits() + 1), f64::from_bits(decimal.to_bits() - 1)]);
            // Times, ages and ratios as the tables hold them.
            values.push((next() % 100_000_000) as f64 / 1000.0);
        }
        for value in values {
            assert_eq!(number(value), number_by_display(value), "{value:e}");
        }
    }
}
