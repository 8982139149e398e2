//! Consumers: what reads the stream and how far behind it falls.

pub mod kcl;
pub mod processing;
pub mod reader;

pub use reader::{CoastBlocks, CoastReads, ReadBudget, ShardReader};

use kinesim_sim::LogHistogram;

/// Counters of one consumer on one shard over one output period, or over the run.
#[derive(Clone, Debug)]
pub struct ReadCounters {
    pub read_records: u64,
    pub read_bytes: u64,
    pub get_records_calls: u64,
    pub read_throttled_calls: u64,
    pub iterator_age_ms_max: f64,
    pub expired_unread_records: u64,
    /// Records the consumer never meant to read: written before its `latest` or
    /// `at_timestamp` start position.
    pub skipped_records: u64,
    /// Records read again after a KCL failover (from the last checkpoint).
    pub reprocessed_records: u64,
    /// Records processing gave up: failed past their retries or past their maximum age.
    pub discarded_records: u64,
    /// Batches that failed and were retried.
    pub failed_batches: u64,
    /// End-to-end latency of records read: from creation at the producer to delivery.
    pub latency_ms: LogHistogram,
}

impl Default for ReadCounters {
    fn default() -> Self {
        ReadCounters {
            read_records: 0,
            read_bytes: 0,
            get_records_calls: 0,
            read_throttled_calls: 0,
            iterator_age_ms_max: 0.0,
            expired_unread_records: 0,
            skipped_records: 0,
            discarded_records: 0,
            reprocessed_records: 0,
            failed_batches: 0,
            latency_ms: LogHistogram::new(),
        }
    }
}

impl ReadCounters {
    pub fn clear(&mut self) {
        self.read_records = 0;
        self.read_bytes = 0;
        self.get_records_calls = 0;
        self.read_throttled_calls = 0;
        self.iterator_age_ms_max = 0.0;
        self.expired_unread_records = 0;
        self.skipped_records = 0;
        self.discarded_records = 0;
        self.reprocessed_records = 0;
        self.failed_batches = 0;
        self.latency_ms.clear();
    }
}
