//! Back-pressure in the producer: a bounded buffer and a limit on requests in flight.
//!
//! Records wait in the client until a request can carry them. With `max_in_flight`
//! requests per instance, each taking `request_latency`, an instance sends at most
//! `max_in_flight * step / request_latency` requests a step, each of up to the API's
//! records per request. What cannot be sent waits in the buffer; the buffer (records
//! waiting to be sent plus records waiting for a retry) holds at most `buffer` records
//! per instance. When it is full, new records are either dropped (counted) or the
//! application blocks: its records wait before the buffer, delaying the offered load.
//!
//! Waiting records are kept per shard as one aggregate (counts, bytes, the sum of their
//! creation times), so memory is bounded by the shard count whatever the backlog.

use crate::producer::Arrival;
use crate::ratio::{scale, split_aggregate};

/// Records waiting for one shard.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub records: u64,
    pub user_records: u64,
    pub bytes: u64,
    /// Sum over user records of their creation time, for the mean.
    pub created_sum_ns: u128,
}

impl Pending {
    fn add(&mut self, arrival: &Arrival) {
        self.records += arrival.records;
        self.user_records += arrival.user_records;
        self.bytes += arrival.bytes;
        self.created_sum_ns += u128::from(arrival.created_ns) * u128::from(arrival.user_records);
    }

    /// Takes `user_records` of this shard's waiting records, in proportion.
    fn take(&mut self, user_records: u64) -> Pending {
        debug_assert!(user_records <= self.user_records);
        if user_records == self.user_records {
            return std::mem::take(self);
        }
        let (records, records_left) = split_aggregate(self.records, self.user_records, user_records);
        let part = Pending {
            records,
            user_records,
            bytes: scale(self.bytes, user_records, self.user_records),
            created_sum_ns: self.created_sum_ns * u128::from(user_records) / u128::from(self.user_records),
        };
        self.user_records -= part.user_records;
        self.records = records_left;
        self.bytes -= part.bytes;
        self.created_sum_ns -= part.created_sum_ns;
        part
    }

    fn created_mean_ns(&self) -> u64 {
        (self.created_sum_ns / u128::from(self.user_records.max(1))) as u64
    }
}

/// Waiting records per shard.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    shards: Vec<Pending>,
    user_records: u64,
    records: u64,
    bytes: u64,
}

impl Queue {
    pub fn resize(&mut self, shards: usize) {
        self.shards.resize(shards, Pending::default());
    }

    pub fn user_records(&self) -> u64 {
        self.user_records
    }

    /// Kinesis records waiting (equal to user records unless the KPL aggregates).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes of the waiting Kinesis records.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Moves what waits for `parent` to the `targets`, by weight (the last takes the rest).
    pub fn reroute(&mut self, parent: u32, targets: &[(u32, f64)]) {
        let mut waiting = std::mem::take(&mut self.shards[parent as usize]);
        let whole = waiting.user_records;
        for (index, &(slot, weight)) in targets.iter().enumerate() {
            let user_records = if index + 1 == targets.len() {
                waiting.user_records
            } else {
                ((whole as f64 * weight).round() as u64).min(waiting.user_records)
            };
            let part = waiting.take(user_records);
            let target = &mut self.shards[slot as usize];
            target.records += part.records;
            target.user_records += part.user_records;
            target.bytes += part.bytes;
            target.created_sum_ns += part.created_sum_ns;
        }
        self.records = self.shards.iter().map(|pending| pending.records).sum();
    }

    pub fn push(&mut self, arrival: &Arrival) {
        self.shards[arrival.shard_slot as usize].add(arrival);
        self.user_records += arrival.user_records;
        self.records += arrival.records;
        self.bytes += arrival.bytes;
    }

    /// Moves `user_records` of the waiting records (taken from every shard in proportion
    /// to what waits there) into `out` as first attempts of producer `producer_slot`.
    pub fn release(&mut self, user_records: u64, producer_slot: u32, out: &mut Vec<Arrival>) {
        let want = user_records.min(self.user_records);
        let (mut left, mut waiting) = (want, self.user_records);
        for (shard, pending) in self.shards.iter_mut().enumerate() {
            if pending.user_records == 0 {
                continue;
            }
            // Proportional share of what is left, the last shard taking the remainder.
            let take = if pending.user_records == waiting { left } else { scale(left, pending.user_records, waiting) };
            waiting -= pending.user_records;
            let part = pending.take(take.min(pending.user_records));
            left -= part.user_records;
            if part.user_records > 0 {
                out.push(Arrival {
                    shard_slot: shard as u32,
                    producer_slot,
                    attempt: 1,
                    records: part.records,
                    user_records: part.user_records,
                    bytes: part.bytes,
                    created_ns: part.created_mean_ns(),
                    sleep_prev_ns: 0,
                });
            }
        }
        debug_assert_eq!(left, 0);
        debug_assert!(out.iter().all(|arrival| arrival.records > 0 || arrival.user_records == 0));
        self.user_records -= want;
        self.records = self.shards.iter().map(|pending| pending.records).sum();
        self.bytes = self.shards.iter().map(|pending| pending.bytes).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(shard: u32, user_records: u64, created_ns: u64) -> Arrival {
        Arrival {
            shard_slot: shard,
            producer_slot: 0,
            attempt: 1,
            records: user_records,
            user_records,
            bytes: user_records * 100,
            created_ns,
            sleep_prev_ns: 0,
        }
    }

    #[test]
    fn a_split_aggregate_keeps_a_record_on_each_side() {
        let mut pending = Pending { records: 1, user_records: 10, bytes: 1000, created_sum_ns: 0 };
        let part = pending.take(4);
        assert_eq!((part.records, part.user_records), (1, 4));
        assert_eq!((pending.records, pending.user_records), (1, 6));
        let mut queue = Queue::default();
        queue.resize(3);
        queue.push(&Arrival { records: 1, ..arrival(0, 10, 0) });
        queue.reroute(0, &[(1, 0.5), (2, 0.5)]);
        assert_eq!((queue.records(), queue.user_records()), (2, 10));
        let mut out = Vec::new();
        queue.release(10, 0, &mut out);
        assert!(out.iter().all(|a| a.records == 1 && a.user_records == 5), "{out:?}");
        assert_eq!((queue.records(), queue.user_records()), (0, 0));
    }

    #[test]
    fn release_takes_in_proportion_and_keeps_totals() {
        let mut queue = Queue::default();
        queue.resize(2);
        queue.push(&arrival(0, 300, 1_000));
        queue.push(&arrival(1, 100, 3_000));
        queue.push(&arrival(1, 100, 5_000));
        let mut out = Vec::new();
        queue.release(200, 7, &mut out);
        assert_eq!(out.iter().map(|a| a.user_records).sum::<u64>(), 200);
        assert_eq!(out[0].user_records, 120);
        assert_eq!(out[1].created_ns, 4_000, "the mean creation time of what waits");
        assert_eq!(queue.user_records(), 300);
        queue.release(1_000, 7, &mut out);
        assert_eq!(queue.user_records(), 0);
        assert_eq!(out.iter().map(|a| a.bytes).sum::<u64>(), 50_000);
    }
}
