//! What a run reports: the rows of the periodic outputs and the recorder that takes them.
//!
//! Models push rows into a [`Recorder`] as periods close; the reports crate implements
//! it with CSV writers. Column meanings follow CloudWatch where a CloudWatch metric
//! exists (reference `kinesis-facts.md` §9): `incoming_*` counts accepted writes,
//! `write_throttled_records` counts rejected attempts, `iterator_age_ms_max` is the age of
//! the last record a GetRecords call returned (0 for an empty response).

use crate::routing::ShardId;

/// One `stream.csv` row: the whole stream over one metrics period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamRow {
    /// Period start, seconds since the run start.
    pub time_s: f64,
    pub shards_open: u32,
    /// First attempts of new records.
    pub offered_records: u64,
    /// First attempts and retries.
    pub attempted_records: u64,
    /// Kinesis records accepted (CloudWatch `IncomingRecords`).
    pub incoming_records: u64,
    pub incoming_bytes: u64,
    /// Kinesis records rejected (CloudWatch `WriteProvisionedThroughputExceeded`).
    pub write_throttled_records: u64,
    /// Records given up after their last rejected attempt, or expired.
    pub dropped_records: u64,
    /// PutRecord or PutRecords requests sent.
    pub put_requests: u64,
    /// Records waiting for a retry at the period end.
    pub in_flight_records: u64,
    /// Mean use of the stream's write capacity over the period (accepted / (shards *
    /// limit * seconds), the larger of records and bytes). Compare with the peak: a low
    /// mean with a peak at 1 is the micro-burst one-minute CloudWatch averages hide.
    pub utilisation_mean: f64,
    /// Highest per-second use of any shard's write limit (accepted / limit, the larger
    /// of records and bytes).
    pub utilisation_peak: f64,
    /// Highest per-second demand on any shard's write limit (attempted / limit); above 1
    /// means that second throttled.
    pub demand_peak: f64,
    pub read_records: u64,
    pub read_bytes: u64,
    pub read_throttled_calls: u64,
    pub iterator_age_ms_max: f64,
    pub expired_unread_records: u64,
}

/// One `shards.csv` row: one shard over one shard-output period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardRow {
    pub time_s: f64,
    pub shard_id: ShardId,
    pub incoming_records: u64,
    pub incoming_bytes: u64,
    pub write_throttled_records: u64,
    /// Mean use of the shard's write limit over the period.
    pub utilisation_mean: f64,
    pub utilisation_peak: f64,
    pub demand_peak: f64,
    pub read_records: u64,
    pub read_bytes: u64,
    pub read_throttled_calls: u64,
    pub iterator_age_ms_max: f64,
}

/// One `consumers.csv` row: one consumer on one shard over one consumer-output period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsumerRow {
    pub time_s: f64,
    pub consumer: String,
    pub shard_id: ShardId,
    pub read_records: u64,
    pub read_bytes: u64,
    pub get_records_calls: u64,
    pub read_throttled_calls: u64,
    pub iterator_age_ms_max: f64,
    pub expired_unread_records: u64,
    /// Readable records this consumer has not read yet, at the period end.
    pub backlog_records: u64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
}

/// One `events.csv` row: something the control plane did or decided.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub time_s: f64,
    pub kind: String,
    /// What it concerns: the stream, a shard id, a producer or consumer name.
    pub subject: String,
    pub detail: String,
}

/// One `hot_keys.csv` row: a heavy key of one shard.
#[derive(Clone, Debug, PartialEq)]
pub struct HotKeyRow {
    pub shard_id: ShardId,
    /// 1 for the heaviest key of the shard.
    pub rank: u32,
    pub partition_key: String,
    pub producer: String,
    pub hash_key: u128,
    /// Expected records offered with this key over the run.
    pub offered_records: f64,
    pub share_of_shard: f64,
    pub share_of_stream: f64,
    /// The shard's share of the stream's offered records.
    pub shard_share_of_stream: f64,
    /// For a shard that throttled: the SplitShard hash key that best halves its load
    /// (when one key holds more than half, the split isolates it).
    pub split_hash_key: Option<u128>,
}

/// Receives rows as periods close. Implementations buffer or write; they do not fail
/// here (an I/O error is kept and reported when the run ends).
pub trait Recorder {
    fn stream_row(&mut self, row: &StreamRow);
    fn shard_row(&mut self, row: &ShardRow);
    fn consumer_row(&mut self, row: &ConsumerRow);
    fn event(&mut self, row: &EventRow);
    /// One billing component of one hour (`cost.csv`).
    fn cost_row(&mut self, row: &CostRow);
}

/// What one billing component cost in one hour of simulated time (the last hour may be
/// partial). The Advantage commitment shortfall is the account's, over the whole run:
/// its rows carry the run's end as `time_s`.
#[derive(Clone, Debug, PartialEq)]
pub struct CostRow {
    /// Hour start, seconds since the run start.
    pub time_s: f64,
    pub component: &'static str,
    pub usd: f64,
}

/// A recorder that keeps every row in memory, for tests and small runs.
#[derive(Clone, Debug, Default)]
pub struct MemoryRecorder {
    pub stream: Vec<StreamRow>,
    pub shards: Vec<ShardRow>,
    pub consumers: Vec<ConsumerRow>,
    pub events: Vec<EventRow>,
    pub costs: Vec<CostRow>,
}

impl Recorder for MemoryRecorder {
    fn stream_row(&mut self, row: &StreamRow) {
        self.stream.push(row.clone());
    }
    fn shard_row(&mut self, row: &ShardRow) {
        self.shards.push(row.clone());
    }
    fn consumer_row(&mut self, row: &ConsumerRow) {
        self.consumers.push(row.clone());
    }
    fn event(&mut self, row: &EventRow) {
        self.events.push(row.clone());
    }
    fn cost_row(&mut self, row: &CostRow) {
        self.costs.push(row.clone());
    }
}

/// A recorder that drops everything (benchmarks, summaries only).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn stream_row(&mut self, _: &StreamRow) {}
    fn shard_row(&mut self, _: &ShardRow) {}
    fn consumer_row(&mut self, _: &ConsumerRow) {}
    fn event(&mut self, _: &EventRow) {}
    fn cost_row(&mut self, _: &CostRow) {}
}
