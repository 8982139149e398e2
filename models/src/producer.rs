//! Producers: offered load per shard per step, and the retries of what was rejected.
//!
//! Lifecycle of a record group in stepped mode: a producer offers, per step and shard,
//! a count drawn from its arrival process and key distribution (Poisson splitting makes
//! per-shard Poisson counts exact for Poisson arrivals) and a byte total from its size
//! distribution plus the partition key bytes. The shard admits part of it; the rest is
//! rejected when the shard's allowance filled. Rejected records either give up (no
//! retries left, or the SDK retry quota is empty) or are spread over the steps of their
//! backoff window in the retry wheel, from which they arrive again as a new attempt.
//! Nothing leaves a group without a counter: offered = accepted + dropped + in flight.

use crate::keys::KeySpace;
use crate::ratio::scale;
use crate::retry::{RetryModel, RetryQuota};
use crate::routing::HashRange;
use crate::sizes::SizeModel;
use crate::spec::{ApiSpec, Arrivals, ProducerSpec};
use kinesim_sim::sample::{gamma, multinomial_split};
use kinesim_sim::{Poisson, RandomStream, SeedKey, SimDuration, SimTime};

/// Records offered or retried to one shard in one step by one producer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub shard_slot: u32,
    pub producer_slot: u32,
    /// 1 for a first attempt.
    pub attempt: u32,
    pub records: u64,
    pub bytes: u64,
    /// Mean creation time of the records at the producer.
    pub created_ns: u64,
    /// Mean sleep before this attempt (0 for a first attempt).
    pub sleep_prev_ns: u64,
}

/// Records waiting in the retry wheel.
#[derive(Copy, Clone, Debug)]
struct RetryBatch {
    shard_slot: u32,
    attempt: u32,
    records: u64,
    bytes: u64,
    created_ns: u64,
    sleep_prev_ns: u64,
}

/// The most retry batches held at once by one producer (a bound, asserted).
pub const RETRY_BATCHES_MAX: usize = 50_000_000;

/// Counters of one producer over the whole run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerTotals {
    pub offered_records: u64,
    pub attempted_records: u64,
    pub accepted_records: u64,
    pub throttled_records: u64,
    pub dropped_records: u64,
}

pub struct Producer {
    pub name: String,
    spec: ProducerSpec,
    keys: KeySpace,
    sizes: SizeModel,
    retry: RetryModel,
    quota: Option<RetryQuota>,
    arrivals_stream: RandomStream,
    retry_stream: RandomStream,
    /// Per open shard: share of this producer's records and their mean key bytes.
    shares: Vec<f64>,
    key_bytes_mean: Vec<f64>,
    /// Per open shard: a Poisson sampler kept while its mean does not change.
    samplers: Vec<Poisson>,
    /// Uniform arrivals: the fraction of a record carried to the next step.
    uniform_carry: f64,
    /// Scratch for multinomial splits, sized once.
    split_counts: Vec<u64>,
    split_weights: Vec<f64>,
    wheel: Vec<Vec<RetryBatch>>,
    in_flight_records: u64,
    /// Mean time a record waits in the client before it is sent (PutRecords batching).
    buffering_delay_ns: u64,
    /// Expected records offered over the run, for the hot-key view.
    pub offered_expected: f64,
    pub totals: ProducerTotals,
}

impl Producer {
    pub fn new(spec: &ProducerSpec, seed: &SeedKey, step: SimDuration) -> Producer {
        let retry = RetryModel::new(&spec.retry);
        // Enough slots to hold the longest wait, plus the step that schedules it.
        let wheel_slots = (retry.wait_max().as_nanos() / step.as_nanos()) as usize + 2;
        Producer {
            name: spec.name.clone(),
            keys: KeySpace::build(&spec.keys),
            sizes: SizeModel::new(&spec.record_size),
            quota: retry.uses_quota().then(|| RetryQuota::new(spec.instances)),
            retry,
            arrivals_stream: RandomStream::new(seed, &format!("producer/{}/arrivals", spec.name)),
            retry_stream: RandomStream::new(seed, &format!("producer/{}/retry", spec.name)),
            shares: Vec::new(),
            key_bytes_mean: Vec::new(),
            samplers: Vec::new(),
            uniform_carry: 0.0,
            split_counts: vec![0; wheel_slots],
            split_weights: vec![0.0; wheel_slots],
            wheel: vec![Vec::new(); wheel_slots],
            in_flight_records: 0,
            buffering_delay_ns: buffering_delay_ns(spec),
            offered_expected: 0.0,
            totals: ProducerTotals::default(),
            spec: spec.clone(),
        }
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    pub fn in_flight_records(&self) -> u64 {
        self.in_flight_records
    }

    /// Recomputes the per-shard shares; called at start and after the shard map changes.
    pub fn project(&mut self, ranges: &[HashRange]) {
        self.keys.project(ranges, &mut self.shares, &mut self.key_bytes_mean);
        self.samplers = vec![Poisson::new(0.0); ranges.len()];
        self.split_counts.resize(self.split_counts.len().max(ranges.len()), 0);
        self.split_weights.resize(self.split_weights.len().max(ranges.len()), 0.0);
    }

    /// Appends this producer's first attempts for step `step` (covering `[t0, t1)`) and
    /// the retries due in it.
    pub fn emit(&mut self, slot: u32, step: u64, t0: SimTime, t1: SimTime, start_unix_s: i64, out: &mut Vec<Arrival>) {
        let expected = crate::rates::expected_records(&self.spec.rate, t0, t1, start_unix_s);
        self.offered_expected += expected;
        let created_ns = (t0.as_nanos() + t1.as_nanos()) / 2 - self.buffering_delay_ns.min(t0.as_nanos());
        let rng = self.arrivals_stream.at_step(step);
        let shard_count = self.shares.len();
        let mut emit_one =
            |shard: usize, records: u64, sizes: &SizeModel, key_bytes: f64, rng: &mut kinesim_sim::ChaCha8Rng| {
                if records == 0 {
                    return;
                }
                // Adding one half then truncating rounds a non-negative value, without a libm call.
                let bytes = sizes.batch_bytes(rng, records) + (records as f64 * key_bytes + 0.5) as u64;
                out.push(Arrival {
                    shard_slot: shard as u32,
                    producer_slot: slot,
                    attempt: 1,
                    records,
                    bytes,
                    created_ns,
                    sleep_prev_ns: 0,
                });
            };
        let mut offered = 0;
        match self.spec.arrivals {
            Arrivals::Poisson | Arrivals::Bursty { .. } => {
                let scale = match self.spec.arrivals {
                    Arrivals::Bursty { cv } if cv > 0.0 => gamma(rng, 1.0 / (cv * cv), cv * cv),
                    _ => 1.0,
                };
                for shard in 0..shard_count {
                    let mean = expected * scale * self.shares[shard];
                    if self.samplers[shard].mean() != mean {
                        self.samplers[shard] = Poisson::new(mean);
                    }
                    let records = self.samplers[shard].sample(rng);
                    offered += records;
                    emit_one(shard, records, &self.sizes, self.key_bytes_mean[shard], rng);
                }
            }
            Arrivals::Uniform => {
                let total_f = expected + self.uniform_carry;
                let total = libm::floor(total_f) as u64;
                self.uniform_carry = total_f - total as f64;
                let counts = &mut self.split_counts[..shard_count];
                multinomial_split(rng, total, &self.shares, counts);
                for (shard, &records) in counts.iter().enumerate() {
                    offered += records;
                    emit_one(shard, records, &self.sizes, self.key_bytes_mean[shard], rng);
                }
            }
        }
        self.totals.offered_records += offered;
        self.totals.attempted_records += offered;
        self.emit_retries(slot, step, out);
    }

    fn emit_retries(&mut self, slot: u32, step: u64, out: &mut Vec<Arrival>) {
        let wheel_slot = (step % self.wheel.len() as u64) as usize;
        for batch in self.wheel[wheel_slot].drain(..) {
            out.push(Arrival {
                shard_slot: batch.shard_slot,
                producer_slot: slot,
                attempt: batch.attempt,
                records: batch.records,
                bytes: batch.bytes,
                created_ns: batch.created_ns,
                sleep_prev_ns: batch.sleep_prev_ns,
            });
            self.in_flight_records -= batch.records;
            self.totals.attempted_records += batch.records;
        }
    }

    /// Settles what the shard decided for one arrival: `accepted` records were stored,
    /// the rest were rejected at `rejected_at_ns`.
    pub fn settle(&mut self, arrival: &Arrival, accepted: u64, rejected_at_ns: u64, step: u64, step_ns: u64) {
        let rejected = arrival.records - accepted;
        self.totals.accepted_records += accepted;
        self.totals.throttled_records += rejected;
        if let Some(quota) = &mut self.quota {
            let (first, retried) = if arrival.attempt == 1 { (accepted, 0) } else { (0, accepted) };
            quota.release(first, retried);
        }
        if rejected == 0 {
            return;
        }
        let rejected_bytes = arrival.bytes - scale(arrival.bytes, accepted, arrival.records);
        let Some(window) = self.retry.next_window(arrival.attempt, arrival.sleep_prev_ns) else {
            self.totals.dropped_records += rejected;
            return;
        };
        let retrying = match &mut self.quota {
            Some(quota) => quota.acquire(rejected),
            None => rejected,
        };
        self.totals.dropped_records += rejected - retrying;
        let retrying_bytes = scale(rejected_bytes, retrying, rejected);
        let due_first_ns = rejected_at_ns + window.min_ns;
        let due_last_ns = rejected_at_ns + window.max_ns;
        let batch = RetryBatch {
            shard_slot: arrival.shard_slot,
            attempt: arrival.attempt + 1,
            records: retrying,
            bytes: retrying_bytes,
            created_ns: arrival.created_ns,
            sleep_prev_ns: window.mean_ns(),
        };
        self.schedule_retry(batch, due_first_ns, due_last_ns, step, step_ns);
    }

    /// Spreads a retry group uniformly over `[due_first_ns, due_last_ns]`, by steps.
    /// A retry due inside the current step waits for the next one (at most one step
    /// late: the stepped-mode approximation of a retry inside the same step).
    fn schedule_retry(&mut self, batch: RetryBatch, due_first_ns: u64, due_last_ns: u64, step: u64, step_ns: u64) {
        if batch.records == 0 {
            return;
        }
        let step_first = (due_first_ns / step_ns).max(step + 1);
        let step_last = (due_last_ns / step_ns).max(step + 1);
        let slots = (step_last - step_first + 1) as usize;
        assert!(slots < self.wheel.len(), "the retry wheel holds the longest wait");
        let span_ns = (due_last_ns - due_first_ns) as f64;
        for (i, weight) in self.split_weights[..slots].iter_mut().enumerate() {
            let start = ((step_first + i as u64) * step_ns).max(due_first_ns);
            let end = ((step_first + i as u64 + 1) * step_ns).min(due_last_ns);
            *weight = if span_ns == 0.0 { 1.0 } else { end.saturating_sub(start) as f64 };
        }
        if span_ns > 0.0 && self.split_weights[..slots].iter().all(|&w| w == 0.0) {
            self.split_weights[0] = 1.0;
        }
        let rng = self.retry_stream.rng();
        multinomial_split(rng, batch.records, &self.split_weights[..slots], &mut self.split_counts[..slots]);
        let (mut records_left, mut bytes_left) = (batch.records, batch.bytes);
        for i in 0..slots {
            let records = self.split_counts[i];
            if records == 0 {
                continue;
            }
            let bytes = if records == records_left { bytes_left } else { scale(batch.bytes, records, batch.records) };
            records_left -= records;
            bytes_left -= bytes;
            let wheel_slot = ((step_first + i as u64) % self.wheel.len() as u64) as usize;
            self.wheel[wheel_slot].push(RetryBatch { records, bytes, ..batch });
            assert!(self.wheel[wheel_slot].len() <= RETRY_BATCHES_MAX, "retry batches are bounded");
        }
        debug_assert_eq!(records_left, 0);
        self.in_flight_records += batch.records;
    }

    /// Positions the retry stream for a step (call once per step before `settle`).
    pub fn begin_step(&mut self, step: u64) {
        self.retry_stream.at_step(step);
    }
}

/// Mean time a record spends in the client before its request is sent: half the time a
/// PutRecords batch takes to fill (by count or bytes) or to reach its linger time.
fn buffering_delay_ns(spec: &ProducerSpec) -> u64 {
    let ApiSpec::PutRecords { max_records, max_bytes, linger } = &spec.api else {
        return 0;
    };
    let rate_per_instance = crate::rates::rate_at(&spec.rate, SimTime::ZERO, 0) / f64::from(spec.instances);
    if rate_per_instance <= 0.0 {
        return linger.as_nanos() / 2;
    }
    let size = SizeModel::new(&spec.record_size).mean_bytes().max(1.0);
    let records_per_batch = f64::from(*max_records).min(*max_bytes as f64 / size);
    let fill_ns = records_per_batch / rate_per_instance * 1e9;
    (fill_ns.min(linger.as_nanos() as f64) / 2.0) as u64
}
