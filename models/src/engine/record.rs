//! Record mode (`fidelity = "record"`): the write path one record at a time.
//!
//! DESIGN "The engine": each record is its own event with its own key, size, arrival
//! time and retry timing, through the same models as the stepped mode. Only the write
//! path differs; the control plane, the reads, the metrics and the outputs are the
//! stepped engine's, so every output file exists in both modes.
//!
//! Lifecycle of a record. A data step `[t0, t1)` first generates every producer's new
//! records: the count from the arrival process (Poisson: a Poisson count with uniform
//! times, which is a Poisson process at the step's rate; uniform: evenly spaced;
//! bursty: Poisson at the rate times the period's Gamma multiplier), and for each record
//! its key from an alias table over the hashed keys ([`crate::keys::KeySampler`]), its
//! size from the size model plus its key's bytes. Records wait in one time-ordered
//! queue with the retries and the PutRecords flushes due later
//! ([`super::record_queue`]: a calendar of small bins per step, buckets for later
//! steps). The step takes every entry due before `t1` in time order (ties by
//! insertion): a record is routed by its hash to the open shard holding it *now* (so a
//! retry after a split goes to a child) and admitted at its own instant against that
//! shard's allowance ([`crate::stream::WriteAdmission::admit_one`]). An accepted record
//! is appended to the shard's log as a block of one, with its exact arrival time. A rejected one draws its own backoff
//! (its own previous sleep for decorrelated jitter, the producer's SDK retry quota one
//! token set at a time) and goes back in the queue at its due time, possibly in a later
//! step, or is dropped when its attempts are spent. Nothing leaves without a counter:
//! offered = accepted + dropped + waiting in the queue or a PutRecords buffer.
//!
//! PutRecords: each instance (records go to instances in turn) fills a buffer that is
//! sent when it holds `max_records` records, when the next record would pass
//! `max_bytes`, or `linger` after its first record (at once with `linger = 0`); each
//! entry of a request is admitted on its own at the request's instant, and failed
//! entries are put again through the buffer after their backoff.
//!
//! What has no per-record model yet (the KPL, back-pressure, producer outages) is
//! refused by the loader, never approximated here.

use super::record_queue::RecordQueue;
use super::Simulation;
use crate::keys::KeySampler;
use crate::retry::{RetryModel, RetryQuota};
use crate::routing::HashRange;
use crate::sizes::SizeModel;
use crate::spec::{ApiSpec, Arrivals, ProducerSpec, StreamSpec};
use kinesim_sim::sample::{gamma, uniform01};
use kinesim_sim::{Poisson, RandomStream, SeedKey, SimTime, NANOS_PER_MS, NANOS_PER_SEC};
use std::num::NonZeroU32;

/// The most entries waiting in the record queue at once (a bound, asserted): records
/// of the current step, retries and flushes due later.
pub const RECORDS_WAITING_MAX: usize = 50_000_000;

/// The most new records one producer offers in one step (a bound, asserted). The loader
/// keeps record mode to [`RECORD_RATE_MAX`] records/s per producer and bursty arrivals
/// to `cv <= 2` ([`RECORD_BURSTY_CV_MAX`]), so a step would need a Gamma multiplier
/// above 100 to come near it (probability about 1e-13 per burst period). Each record
/// draws a handful of words, far below a random stream's 2^32 words per step.
pub const RECORDS_PER_STEP_MAX: u64 = 10_000_000;

// Evenly spaced arrival times are computed in 64 bits: `(2 * i + 1) * step_ns` stays
// below 2^64 for every record of a step (at most `RECORDS_PER_STEP_MAX`) and a step of
// at most one second.
const _: () = assert!((2 * RECORDS_PER_STEP_MAX + 1).checked_mul(NANOS_PER_SEC).is_some());

/// The highest offered rate of one producer record mode takes (records/s): record mode
/// is for short runs and latency detail, not for volume.
pub const RECORD_RATE_MAX: f64 = 100_000.0;

/// The largest coefficient of variation of bursty arrivals record mode takes.
pub const RECORD_BURSTY_CV_MAX: f64 = 2.0;

/// Fine blocks a shard log keeps in record mode (one record each) before coalescing.
pub const RECORD_FINE_BLOCKS: usize = 1 << 16;

/// The longest arrival span of a coalesced block in record mode: records that arrived
/// within one millisecond of each other may share a block (their times are then
/// interpolated), so arrival times stay exact to a millisecond in a backlog of up to
/// about a million records per shard beyond the fine blocks
/// ([`crate::storage::SHORT_SPAN_BLOCKS_MAX`]); older records are coalesced by the
/// minute, as in stepped mode, which bounds memory.
pub const RECORD_COARSE_SPAN_NS: u64 = NANOS_PER_MS;

/// One record on its way to a shard. Its fields are sized so that a queue entry (the
/// record and its 16-byte key) is one 64-byte cache line: the attempt count's niche
/// holds [`What`]'s tag, and the size fits 32 bits (records are at most 10 MiB).
#[derive(Copy, Clone, Debug)]
struct Record {
    hash: u128,
    producer: u32,
    /// The PutRecords instance whose buffer it goes through.
    instance: u32,
    /// 1 for a first attempt.
    attempt: NonZeroU32,
    /// Data blob plus partition key (facts §1.1: the key counts against 1 MiB/s).
    bytes: u32,
    created_ns: u64,
    /// The sleep before this attempt (0 for a first attempt).
    sleep_prev_ns: u64,
}

#[derive(Copy, Clone, Debug)]
enum What {
    /// A record is sent (PutRecord) or enters its instance's buffer (PutRecords).
    Send(Record),
    /// A PutRecords buffer's linger ends; stale when the buffer was sent since.
    Flush { producer: u32, instance: u32, batch: u64 },
}

// A queue entry of a record fills one cache line (see [`Record`]).
const _: () = assert!(std::mem::size_of::<What>() == 48);

/// One PutRecords instance's buffer.
#[derive(Clone, Debug, Default)]
struct Buffer {
    records: Vec<Record>,
    bytes: u64,
    /// Incremented each time the buffer opens, so a flush for an earlier batch is stale.
    batch: u64,
}

#[derive(Clone, Debug)]
struct Batching {
    max_records: usize,
    max_bytes: u64,
    linger_ns: u64,
    buffers: Vec<Buffer>,
}

/// One producer's record-mode state.
pub(super) struct RecordProducer {
    spec: ProducerSpec,
    keys: KeySampler,
    /// Sizes of the records that fit the stream's limit.
    sizes: SizeModel,
    oversize_probability: f64,
    retry: RetryModel,
    quota: Option<RetryQuota>,
    records_stream: RandomStream,
    bursts_stream: RandomStream,
    retry_stream: RandomStream,
    uniform_carry: f64,
    next_instance: u32,
    batching: Option<Batching>,
}

impl RecordProducer {
    fn new(spec: &ProducerSpec, seed: &SeedKey, stream: &StreamSpec) -> RecordProducer {
        assert!(
            !matches!(spec.api, ApiSpec::Kpl(_)) && spec.back_pressure.is_none(),
            "the loader refuses what record mode does not model"
        );
        let data_limit = stream.max_record_size_bytes.saturating_sub(spec.keys.longest_key_bytes());
        let (oversize_probability, sizes) = SizeModel::new(&spec.record_size).split_at(data_limit);
        let retry = RetryModel::new(&spec.retry);
        let batching = match &spec.api {
            ApiSpec::PutRecords { max_records, max_bytes, linger } => Some(Batching {
                max_records: *max_records as usize,
                max_bytes: *max_bytes,
                linger_ns: linger.as_nanos(),
                buffers: vec![Buffer::default(); spec.instances as usize],
            }),
            _ => None,
        };
        RecordProducer {
            keys: crate::keys::KeySpace::build(&spec.keys).sampler(),
            sizes,
            oversize_probability,
            quota: retry.uses_quota().then(|| RetryQuota::new(spec.instances)),
            retry,
            records_stream: RandomStream::new(seed, &format!("producer/{}/records", spec.name)),
            bursts_stream: RandomStream::new(seed, &format!("producer/{}/bursts", spec.name)),
            retry_stream: RandomStream::new(seed, &format!("producer/{}/record-retry", spec.name)),
            uniform_carry: 0.0,
            next_instance: 0,
            batching,
            spec: spec.clone(),
        }
    }
}

/// The record-mode write path's state.
pub(super) struct RecordPlane {
    producers: Vec<RecordProducer>,
    /// Records, retries and flushes waiting for their instant.
    queue: RecordQueue<What>,
    /// The open shards by hash, rebuilt after the shards change.
    routes: Routes,
}

impl RecordPlane {
    pub(super) fn new(spec: &crate::spec::ExperimentSpec, seed: &SeedKey) -> RecordPlane {
        RecordPlane {
            producers: spec.producers.iter().map(|p| RecordProducer::new(p, seed, &spec.stream)).collect(),
            queue: RecordQueue::new(spec.step.as_nanos()),
            routes: Routes::default(),
        }
    }

    /// A shard opened or closed: routes are rebuilt before the next record is routed.
    pub(super) fn shards_changed(&mut self) {
        self.routes.current = false;
    }
}

/// The open shards by hash, for routing one record at a time.
#[derive(Default)]
struct Routes {
    /// The open shards as (range, slot), sorted by range start: their ranges tile the
    /// hash space (asserted by the engine after every reshard).
    shards: Vec<(HashRange, usize)>,
    /// The hash space cut into `2^hint_bits` equal parts by its top bits; for each part,
    /// the index in `shards` of the shard holding the part's first hash. A record's
    /// shard is found from its part's hint in a step or two, where a binary search over
    /// the shards cost about a tenth of an attempt.
    hints: Vec<u32>,
    hint_bits: u32,
    /// Whether `shards` and `hints` hold the open shards (false until built, and again
    /// after every reshard: [`RecordPlane::shards_changed`]).
    current: bool,
}

impl Routes {
    /// Builds the routes over the open shards, as (range, slot).
    fn rebuild(&mut self, open: impl Iterator<Item = (HashRange, usize)>) {
        self.shards.clear();
        self.shards.extend(open);
        // Range starts are distinct: the open ranges tile the hash space.
        self.shards.sort_unstable_by_key(|(range, _)| range.start);
        self.current = true;
        assert!(!self.shards.is_empty(), "a stream has an open shard");
        // About four parts per shard, so a part rarely spans two shards.
        self.hint_bits = (self.shards.len().next_power_of_two().ilog2() + 2).clamp(8, 16);
        let shift = 128 - self.hint_bits;
        self.hints.clear();
        for part in 0..1u128 << self.hint_bits {
            let first_hash = part << shift;
            let index = self.shards.partition_point(|(range, _)| range.end < first_hash);
            self.hints.push(u32::try_from(index).expect("shards are fewer than 2^32"));
        }
    }

    /// The open shard whose range holds `hash`.
    fn route(&self, hash: u128) -> usize {
        // The hint bits are at most 16, all within the high 64 bits of the hash.
        let high = (hash >> 64) as u64;
        let mut index = self.hints[(high >> (64 - self.hint_bits)) as usize] as usize;
        // Bounded by the shard count: the last shard's range ends at the top of the space.
        while self.shards[index].0.end < hash {
            index += 1;
        }
        let (range, slot) = self.shards[index];
        debug_assert!(range.contains(hash), "open shards cover the hash space");
        slot
    }
}

impl Simulation<'_> {
    /// The write of step `index` (`[t0, t1)`) in record mode.
    pub(super) fn write_records(&mut self, index: u64, t0: SimTime, t1: SimTime) {
        let mut plane = self.records.take().expect("record mode has a record plane");
        if !plane.routes.current {
            let shards = &self.shards;
            let open = (0..shards.ids.len()).filter(|&slot| shards.open[slot]);
            plane.routes.rebuild(open.map(|slot| (shards.ranges[slot], slot)));
        }
        plane.queue.begin_step(index);
        for producer in 0..plane.producers.len() {
            plane.producers[producer].retry_stream.set_step(index);
            self.offer_records(&mut plane, producer, index, t0, t1);
        }
        // New records were generated producer by producer; the queue serves them in
        // time order with what earlier steps queued for this one.
        plane.queue.recut_if_crowded();
        loop {
            // The fields are copied out of the lent payload by their own types (see
            // `RecordQueue::pop`).
            let (due_ns, what) = match plane.queue.pop() {
                None => break,
                Some((due_ns, &What::Send(record))) => (due_ns, What::Send(record)),
                Some((due_ns, &What::Flush { producer, instance, batch })) => {
                    (due_ns, What::Flush { producer, instance, batch })
                }
            };
            debug_assert!((t0.as_nanos()..t1.as_nanos()).contains(&due_ns), "served within its step");
            match what {
                What::Send(record) => {
                    self.producers[record.producer as usize].records_waiting -= 1;
                    self.send_record(&mut plane, record, due_ns);
                }
                What::Flush { producer, instance, batch } => {
                    let buffer = &plane.producers[producer as usize].batching.as_ref().expect("batching").buffers
                        [instance as usize];
                    if buffer.batch == batch && !buffer.records.is_empty() {
                        self.flush(&mut plane, producer as usize, instance as usize, due_ns);
                    }
                }
            }
        }
        self.records = Some(plane);
    }

    /// Generates producer `producer`'s new records of the step and queues them.
    fn offer_records(&mut self, plane: &mut RecordPlane, producer: usize, index: u64, t0: SimTime, t1: SimTime) {
        let record_producer = &mut plane.producers[producer];
        let spec = &record_producer.spec;
        let expected = crate::rates::expected_records(&spec.rate, t0, t1, self.spec.start_unix_s);
        self.producers[producer].offered_expected += expected;
        let step_ns = t1.as_nanos() - t0.as_nanos();
        let count = match spec.arrivals {
            Arrivals::Poisson => Poisson::new(expected).sample(record_producer.records_stream.at_step(index)),
            Arrivals::Bursty { cv, period } => {
                let period_index = t0.as_nanos() / period.as_nanos();
                let scale = gamma(record_producer.bursts_stream.at_step(period_index), 1.0 / (cv * cv), cv * cv);
                Poisson::new(expected * scale).sample(record_producer.records_stream.at_step(index))
            }
            Arrivals::Uniform => {
                let total = expected + record_producer.uniform_carry;
                let whole = libm::floor(total);
                record_producer.uniform_carry = total - whole;
                record_producer.records_stream.at_step(index);
                whole as u64
            }
        };
        assert!(count <= RECORDS_PER_STEP_MAX, "records per producer per step are bounded");
        let evenly = matches!(spec.arrivals, Arrivals::Uniform);
        debug_assert!(step_ns <= NANOS_PER_SEC, "a step divides one second");
        let instances = spec.instances;
        for i in 0..count {
            let record_producer = &mut plane.producers[producer];
            let rng = record_producer.records_stream.rng();
            let at_ns = if evenly {
                // In 64 bits: the count and the step are bounded (asserted at compile time).
                t0.as_nanos() + (2 * i + 1) * step_ns / (2 * count)
            } else {
                t0.as_nanos() + ((uniform01(rng) * step_ns as f64) as u64).min(step_ns - 1)
            };
            let (hash, key_bytes) = record_producer.keys.sample(rng);
            let totals = &mut self.producers[producer].totals;
            totals.offered_records += 1;
            if record_producer.oversize_probability > 0.0 && uniform01(rng) < record_producer.oversize_probability {
                totals.dropped_records += 1;
                totals.oversize_records += 1;
                continue;
            }
            let bytes = record_producer.sizes.sample_one(rng) + u64::from(key_bytes);
            let instance = record_producer.next_instance;
            // In turn, without a division per record.
            record_producer.next_instance = if instance + 1 == instances { 0 } else { instance + 1 };
            let record = Record {
                hash,
                producer: producer as u32,
                instance,
                attempt: NonZeroU32::MIN,
                bytes: u32::try_from(bytes).expect("the loader keeps records to 10 MiB"),
                created_ns: at_ns,
                sleep_prev_ns: 0,
            };
            self.producers[producer].records_waiting += 1;
            plane.queue.push_new(at_ns, What::Send(record));
        }
    }

    /// A record's attempt at `at_ns`: sent alone (PutRecord), or into its instance's
    /// PutRecords buffer.
    fn send_record(&mut self, plane: &mut RecordPlane, record: Record, at_ns: u64) {
        let producer = record.producer as usize;
        let Some(batching) = plane.producers[producer].batching.as_mut() else {
            self.producers[producer].totals.put_requests += 1;
            self.attempt(plane, record, at_ns);
            return;
        };
        let (max_records, max_bytes, linger_ns) = (batching.max_records, batching.max_bytes, batching.linger_ns);
        let instance = record.instance as usize;
        let buffer = &batching.buffers[instance];
        if !buffer.records.is_empty() && buffer.bytes + u64::from(record.bytes) > max_bytes {
            self.flush(plane, producer, instance, at_ns);
        }
        let buffer = &mut plane.producers[producer].batching.as_mut().expect("batching").buffers[instance];
        let opens = buffer.records.is_empty();
        if opens {
            buffer.batch += 1;
        }
        buffer.records.push(record);
        buffer.bytes += u64::from(record.bytes);
        let (full, batch) = (buffer.records.len() >= max_records, buffer.batch);
        self.producers[producer].records_waiting += 1;
        if full || linger_ns == 0 {
            self.flush(plane, producer, instance, at_ns);
        } else if opens {
            plane
                .queue
                .push(at_ns + linger_ns, What::Flush { producer: producer as u32, instance: record.instance, batch });
        }
    }

    /// Sends one PutRecords request with an instance's buffer; each entry is admitted on
    /// its own, in the request's order.
    fn flush(&mut self, plane: &mut RecordPlane, producer: usize, instance: usize, at_ns: u64) {
        let buffer = &mut plane.producers[producer].batching.as_mut().expect("batching").buffers[instance];
        let records = std::mem::take(&mut buffer.records);
        buffer.bytes = 0;
        debug_assert!(!records.is_empty());
        self.producers[producer].totals.put_requests += 1;
        self.producers[producer].records_waiting -= records.len() as u64;
        for record in &records {
            self.attempt(plane, *record, at_ns);
        }
        // Keep the allocation for the next batch.
        let buffer = &mut plane.producers[producer].batching.as_mut().expect("batching").buffers[instance];
        if buffer.records.is_empty() {
            buffer.records = records;
            buffer.records.clear();
        }
    }

    /// One record's attempt at its shard at `at_ns`: stored, or retried, or dropped.
    // Inlined into both callers so the record stays in registers: through a stack copy
    // made in two overlapping parts, reading its hash stalled on store forwarding.
    #[inline(always)]
    fn attempt(&mut self, plane: &mut RecordPlane, record: Record, at_ns: u64) {
        let slot = plane.routes.route(record.hash);
        let producer = record.producer as usize;
        self.producers[producer].totals.attempted_records += 1;
        let second = &mut self.shards.second[slot];
        second.attempted_records += 1;
        second.attempted_bytes += u64::from(record.bytes);
        let admitted = self.admission.admit_one(&mut self.shards.allowances[slot], u64::from(record.bytes), at_ns);
        if admitted {
            self.accept_record(plane, slot, record, at_ns);
        } else {
            self.reject_record(plane, slot, record, at_ns);
        }
    }

    fn accept_record(&mut self, plane: &mut RecordPlane, slot: usize, record: Record, at_ns: u64) {
        let producer = &mut self.producers[record.producer as usize];
        producer.totals.accepted_records += 1;
        let age_ns = at_ns - record.created_ns;
        producer.latency_ms.add(age_ns as f64 / NANOS_PER_MS as f64, 1);
        if let Some(quota) = &mut plane.producers[record.producer as usize].quota {
            let first = u64::from(record.attempt == NonZeroU32::MIN);
            quota.release(first, 1 - first);
        }
        let bytes = u64::from(record.bytes);
        self.cost_meter.accepted(self.mode, 1, bytes);
        let api = &mut self.api_totals;
        if producer.sends_put_record() {
            api.put_record_success += 1;
            api.put_record_bytes += bytes;
        } else {
            api.put_records_records += 1;
            api.put_records_bytes += bytes;
        }
        let shards = &mut self.shards;
        shards.second[slot].accepted_records += 1;
        shards.second[slot].accepted_bytes += bytes;
        let period = &mut shards.period[slot];
        period.incoming_records += 1;
        period.incoming_bytes += bytes;
        let window = &mut shards.since_evaluation[slot];
        window.0 += 1;
        window.1 += bytes;
        let stream = &mut self.stream_period;
        stream.incoming_records += 1;
        stream.incoming_user_records += 1;
        stream.incoming_bytes += bytes;
        self.incoming_records_total += 1;
        self.incoming_bytes_total += bytes;
        shards.logs[slot].append(1, 1, bytes, at_ns, at_ns, age_ns);
    }

    /// A rejected attempt: counted, then retried after its own backoff or dropped.
    fn reject_record(&mut self, plane: &mut RecordPlane, slot: usize, record: Record, at_ns: u64) {
        let producer = record.producer as usize;
        self.producers[producer].totals.throttled_records += 1;
        self.shards.period[slot].write_throttled_records += 1;
        self.shards.throttled_total[slot] += 1;
        self.stream_period.write_throttled_records += 1;
        let record_producer = &mut plane.producers[producer];
        let Some(window) = record_producer.retry.next_window(record.attempt.get(), record.sleep_prev_ns) else {
            self.producers[producer].totals.dropped_records += 1;
            return;
        };
        if let Some(quota) = &mut record_producer.quota {
            if quota.acquire(1) == 0 {
                self.producers[producer].totals.dropped_records += 1;
                return;
            }
        }
        // Each record draws its own sleep in the window (exact for every jitter: the
        // decorrelated window is built from this record's own previous sleep).
        let span_ns = window.max_ns - window.min_ns;
        let rng = record_producer.retry_stream.rng();
        let sleep_ns = window.min_ns + ((uniform01(rng) * (span_ns as f64 + 1.0)) as u64).min(span_ns);
        let attempt = record.attempt.checked_add(1).expect("attempts are bounded by max_attempts");
        let retry = Record { attempt, sleep_prev_ns: sleep_ns, ..record };
        self.producers[producer].records_waiting += 1;
        plane.queue.push(at_ns + sleep_ns, What::Send(retry));
    }
}
