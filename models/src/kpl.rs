//! The Kinesis Producer Library as the shards see it: aggregation, collection and the
//! client-side rate limiter (reference `kinesis-facts.md` §8.4).
//!
//! Aggregation packs the user records one instance buffers for one shard during
//! `RecordMaxBufferedTime` into Kinesis records of at most `AggregationMaxSize` bytes
//! and `AggregationMaxCount` user records. The shard's limits, CloudWatch's
//! `IncomingRecords` and billing count those Kinesis records; consumers see the user
//! records again after de-aggregation. In stepped mode a step's user records per shard
//! become, per instance and buffering window, ceil(bytes / AggregationMaxSize) Kinesis
//! records for every window that received anything: the expected number of non-empty
//! windows is `windows * (1 - e^-m)` for `m` user records per window (Poisson).
//!
//! Bytes of an aggregated record (`aggregation-format.md`): 4 magic bytes, the protobuf
//! message and a 16-byte MD5 trailer; inside, each user record costs its data, its
//! partition key in the key table, and about [`FRAMING_BYTES_PER_RECORD`] of protobuf
//! framing. The aggregated record's own partition key (the first user record's) counts
//! toward the shard's byte limit as any key does.

use crate::spec::{KplSpec, MIB};

/// The aggregated-record envelope: magic number and MD5 trailer.
pub const ENVELOPE_BYTES: u64 = 4 + 16;
/// Protobuf framing per user record: the record's tag and length, its key index and
/// the data field's tag and length, plus the key table entry's tag and length. An
/// assumption from the format (varints of 1 to 3 bytes each).
pub const FRAMING_BYTES_PER_RECORD: f64 = 9.0;

/// Kinesis records and their bytes for `user_records` user records of `user_bytes`
/// (data plus keys) bound for one shard, buffered by `instances` for `windows` windows.
pub fn aggregate(
    spec: &KplSpec,
    user_records: u64,
    user_bytes: u64,
    key_bytes_mean: f64,
    instances: u32,
    windows: f64,
) -> (u64, u64) {
    if user_records == 0 {
        return (0, 0);
    }
    if !spec.aggregation {
        return (user_records, user_bytes);
    }
    let instance_windows = f64::from(instances) * windows;
    let per_window = user_records as f64 / instance_windows;
    let windows_used = instance_windows * -libm::expm1(-per_window);
    let payload = user_bytes as f64 + user_records as f64 * FRAMING_BYTES_PER_RECORD;
    // Every window that received records flushes ceil(its bytes / AggregationMaxSize)
    // Kinesis records (and ceil(its records / AggregationMaxCount)).
    let windows_used = windows_used.max(1.0);
    let per_window_by_size = (payload / windows_used / spec.aggregation_max_bytes as f64).ceil();
    let per_window_by_count = (user_records as f64 / windows_used / spec.aggregation_max_count as f64).ceil();
    let kinesis_records =
        ((windows_used * per_window_by_size.max(per_window_by_count)).round() as u64).clamp(1, user_records);
    let envelope = kinesis_records as f64 * (ENVELOPE_BYTES as f64 + key_bytes_mean);
    (kinesis_records, (payload + envelope).round() as u64)
}

/// The KPL's per-instance, per-shard limiter (`limiter.h`), summed over instances: token
/// buckets refilling at `rate_limit_pct`% of the shard's limits, holding one second of
/// records and (since KPL 1.0.6) 10 MiB of bytes per instance; they start full.
#[derive(Clone, Debug)]
pub struct Limiter {
    records_per_s: f64,
    bytes_per_s: f64,
    records_max: f64,
    bytes_max: f64,
    records: Vec<f64>,
    bytes: Vec<f64>,
}

impl Limiter {
    pub fn new(spec: &KplSpec, instances: u32, shard_records_per_s: u64, shard_bytes_per_s: u64) -> Limiter {
        let scale = f64::from(spec.rate_limit_pct) / 100.0 * f64::from(instances);
        Limiter {
            records_per_s: shard_records_per_s as f64 * scale,
            bytes_per_s: shard_bytes_per_s as f64 * scale,
            records_max: 1000.0 * f64::from(instances),
            bytes_max: (10 * MIB) as f64 * f64::from(instances),
            records: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Sizes the buckets for a shard map (new shards start full).
    pub fn resize(&mut self, shards: usize) {
        self.records.resize(shards, self.records_max);
        self.bytes.resize(shards, self.bytes_max);
    }

    /// Prepares a step of `seconds`: each bucket carries at most its capacity into the
    /// step and refills during it, so the step may use both (as `stream::refill`).
    pub fn refill(&mut self, seconds: f64) {
        for tokens in &mut self.records {
            *tokens = tokens.min(self.records_max) + self.records_per_s * seconds;
        }
        for tokens in &mut self.bytes {
            *tokens = tokens.min(self.bytes_max) + self.bytes_per_s * seconds;
        }
    }

    /// How many of `records` Kinesis records of `bytes` the buckets of `shard` let
    /// through now; charges them.
    pub fn take(&mut self, shard: usize, records: u64, bytes: u64) -> u64 {
        if records == 0 {
            return 0;
        }
        let by_records = self.records[shard].max(0.0) as u64;
        let by_bytes = (self.bytes[shard].max(0.0) * records as f64 / bytes.max(1) as f64) as u64;
        let sent = records.min(by_records).min(by_bytes);
        self.records[shard] -= sent as f64;
        self.bytes[shard] -= bytes as f64 * sent as f64 / records as f64;
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinesim_sim::SimDuration;

    fn spec() -> KplSpec {
        KplSpec {
            aggregation: true,
            aggregation_max_bytes: 51_200,
            aggregation_max_count: u64::from(u32::MAX),
            collection_max_records: 500,
            collection_max_bytes: 5 * MIB,
            max_buffered_time: SimDuration::from_millis(100),
            record_ttl: SimDuration::from_secs(30),
            rate_limit_pct: 150,
        }
    }

    #[test]
    fn small_records_pack_into_few_kinesis_records() {
        // 5,000 records of 100 bytes a second from 4 instances, 10 windows a second.
        let (records, bytes) = aggregate(&spec(), 5000, 5000 * 100, 8.0, 4, 10.0);
        assert_eq!(records, 40, "one Kinesis record per instance per window");
        assert!(bytes > 5000 * 100 && bytes < 5000 * 112, "{bytes}");
    }

    #[test]
    fn large_payloads_need_more_records_and_sparse_traffic_one_each() {
        let (records, _) = aggregate(&spec(), 1000, 1000 * 10_000, 8.0, 1, 10.0);
        assert_eq!(records, 200, "10 windows of 1,000,900 bytes, 20 Kinesis records each");
        let (sparse, _) = aggregate(&spec(), 3, 300, 8.0, 100, 10.0);
        assert_eq!(sparse, 3, "never more Kinesis records than user records");
        let mut unaggregated = spec();
        unaggregated.aggregation = false;
        assert_eq!(aggregate(&unaggregated, 77, 7700, 8.0, 1, 10.0), (77, 7700));
    }

    #[test]
    fn limiter_passes_one_and_a_half_shards() {
        let mut limiter = Limiter::new(&spec(), 1, 1000, MIB);
        limiter.resize(1);
        limiter.refill(1.0);
        assert_eq!(limiter.take(0, 5000, 5000), 2500, "a full bucket of 1,000 plus 1,500 refilled");
        limiter.refill(1.0);
        assert_eq!(limiter.take(0, 5000, 5000), 1500, "then 1,500 a second");
        limiter.refill(0.5);
        assert_eq!(limiter.take(0, 5000, 5000), 750);
    }
}
