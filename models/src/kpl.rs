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

use crate::cost::{on_demand_billed_bytes, put_payload_units};
use crate::producer::RecordBilling;
use crate::spec::{KplSpec, MIB};
use kinesim_sim::num::{ceil_to_count, count_to_f64};

/// The aggregated-record envelope: magic number and MD5 trailer.
pub const ENVELOPE_BYTES: u64 = 4 + 16;
/// Protobuf framing per user record: the record's tag and length, its key index and
/// the data field's tag and length, plus the key table entry's tag and length. An
/// assumption from the format (varints of 1 to 3 bytes each).
pub const FRAMING_BYTES_PER_RECORD: f64 = 9.0;

/// What one step's user records for one shard become after aggregation.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Aggregated {
    /// Kinesis records (aggregates).
    pub records: u64,
    /// Their bytes, envelopes and keys included.
    pub bytes: u64,
    /// What one of these aggregates is expected to be billed; `None` without aggregation,
    /// or when records are too large to pack (they are billed by their size law, as any
    /// producer's).
    pub billing: Option<RecordBilling>,
}

/// Kinesis records and their bytes for `user_records` user records of `user_bytes`
/// (data plus keys) bound for one shard, buffered by `instances` for `windows` windows,
/// with what each aggregate is expected to be billed.
///
/// A window that flushes by size fills aggregates up to `AggregationMaxSize` and leaves
/// the rest in its last one; billing rounds each aggregate up on its own (pricing §2.1,
/// §3.1), so a window of 65 KB is billed 2 + 1 PUT payload units, not 2 × 2 as its
/// mean aggregate of 32.5 KB would be. A window that flushes by count splits evenly.
pub fn aggregate(
    spec: &KplSpec,
    user_records: u64,
    user_bytes: u64,
    key_bytes_mean: f64,
    instances: u32,
    windows: f64,
) -> Aggregated {
    if user_records == 0 {
        return Aggregated { records: 0, bytes: 0, billing: None };
    }
    if !spec.aggregation {
        return Aggregated { records: user_records, bytes: user_bytes, billing: None };
    }
    let instance_windows = f64::from(instances) * windows;
    let per_window = user_records as f64 / instance_windows;
    let windows_used = instance_windows * -libm::expm1(-per_window);
    let payload = user_bytes as f64 + user_records as f64 * FRAMING_BYTES_PER_RECORD;
    // Every window that received records flushes ceil(its bytes / AggregationMaxSize)
    // Kinesis records (and ceil(its records / AggregationMaxCount)).
    let windows_used = windows_used.max(1.0);
    let max_bytes = spec.aggregation_max_bytes as f64;
    let window_payload = payload / windows_used;
    let per_window_by_size = (window_payload / max_bytes).ceil();
    let per_window_by_count = (user_records as f64 / windows_used / spec.aggregation_max_count as f64).ceil();
    let per_window_records = per_window_by_size.max(per_window_by_count);
    let kinesis_unbounded = (windows_used * per_window_records).round() as u64;
    let kinesis_records = kinesis_unbounded.clamp(1, user_records);
    let envelope_bytes = ENVELOPE_BYTES as f64 + key_bytes_mean;
    let record_bytes_mean = payload / user_records as f64;
    if 2.0 * record_bytes_mean > max_bytes || kinesis_unbounded >= user_records {
        // Records that do not pack two to an aggregate go about one to a Kinesis record
        // (the KPL sends one larger than the limit on its own): billed by their size law.
        let envelope = kinesis_records as f64 * envelope_bytes;
        return Aggregated { records: kinesis_records, bytes: (payload + envelope).round() as u64, billing: None };
    }
    let billing = if per_window_by_size >= per_window_by_count {
        // A full aggregate stops short of the limit by half a user record on average
        // (the next one did not fit); its envelope is inside the limit, its key outside.
        let full_bytes = max_bytes - record_bytes_mean / 2.0;
        let full = per_window_records - 1.0;
        let last_bytes = (window_payload + per_window_records * ENVELOPE_BYTES as f64 - full * full_bytes)
            .max(ENVELOPE_BYTES as f64);
        billing_of_sizes(&[(full_bytes + key_bytes_mean, full), (last_bytes + key_bytes_mean, 1.0)])
    } else {
        billing_of_sizes(&[(window_payload / per_window_records + envelope_bytes, 1.0)])
    };
    let envelope = kinesis_records as f64 * envelope_bytes;
    Aggregated { records: kinesis_records, bytes: (payload + envelope).round() as u64, billing: Some(billing) }
}

/// The mean billing of records of the given (bytes, count) sizes, each rounded up as
/// `crate::cost` rounds one record.
fn billing_of_sizes(sizes: &[(f64, f64)]) -> RecordBilling {
    let mean = |billed: fn(u64) -> u64| {
        let total: f64 = sizes.iter().map(|&(bytes, count)| count_to_f64(billed(ceil_to_count(bytes))) * count).sum();
        total / sizes.iter().map(|&(_, count)| count).sum::<f64>()
    };
    RecordBilling { put_payload_units: mean(put_payload_units), on_demand_bytes: mean(on_demand_billed_bytes) }
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
        let Aggregated { records, bytes, .. } = aggregate(&spec(), 5000, 5000 * 100, 8.0, 4, 10.0);
        assert_eq!(records, 40, "one Kinesis record per instance per window");
        assert!(bytes > 5000 * 100 && bytes < 5000 * 112, "{bytes}");
    }

    #[test]
    fn large_payloads_need_more_records_and_sparse_traffic_one_each() {
        let records = aggregate(&spec(), 1000, 1000 * 10_000, 8.0, 1, 10.0).records;
        assert_eq!(records, 200, "10 windows of 1,000,900 bytes, 20 Kinesis records each");
        let sparse = aggregate(&spec(), 3, 300, 8.0, 100, 10.0).records;
        assert_eq!(sparse, 3, "never more Kinesis records than user records");
        let mut unaggregated = spec();
        unaggregated.aggregation = false;
        assert_eq!(
            aggregate(&unaggregated, 77, 7700, 8.0, 1, 10.0),
            Aggregated { records: 77, bytes: 7700, billing: None }
        );
    }

    #[test]
    fn aggregates_are_billed_each_rounded_up() {
        // One instance, one window of 600 records of 100 bytes (keys included): 65,400
        // bytes with framing, 109 per record. A full aggregate of 51,145.5 bytes (half
        // a record short of 51,200) and the rest, 14,294.5 with both envelopes; 8 bytes
        // of key each.
        let aggregated = aggregate(&spec(), 600, 600 * 100, 8.0, 1, 1.0);
        assert_eq!(aggregated.records, 2);
        let billing = aggregated.billing.expect("aggregated");
        assert_eq!(billing.put_payload_units, 1.5, "3 units (2 + 1) over two records, not 2 each at the mean");
        // 51,153.5 bytes are 50 KiB rounded up; 14,302.5 bytes, 14 KiB.
        assert_eq!(billing.on_demand_bytes, (50.0 + 14.0) / 2.0 * 1024.0);
        // By count: 5,000 records of 10 bytes, at most 1,000 per aggregate: five of 19,000
        // bytes with framing (19,028 with envelope and key), each one unit and 19 KiB.
        let mut by_count = spec();
        by_count.aggregation_max_count = 1000;
        let billing = aggregate(&by_count, 5000, 5000 * 10, 8.0, 1, 1.0).billing.expect("aggregated");
        assert_eq!(billing, RecordBilling { put_payload_units: 1.0, on_demand_bytes: 19.0 * 1024.0 });
        // Records of 600 KB do not pack: billed by their size law (24 units each), not
        // as aggregates of the limit's size.
        assert_eq!(aggregate(&spec(), 4, 4 * 600_000, 8.0, 1, 1.0).billing, None);
        assert_eq!(aggregate(&spec(), 40, 40 * 30_000, 8.0, 1, 1.0).billing, None, "30 KB: one to an aggregate");
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
