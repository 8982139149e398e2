//! Producers: offered load per shard per step, and the retries of what was rejected.
//!
//! Lifecycle of a record group in stepped mode: a producer offers, per step and shard,
//! a count drawn from its arrival process and key distribution (Poisson splitting makes
//! per-shard Poisson counts exact for Poisson arrivals) and a byte total from its size
//! distribution plus the partition key bytes. A KPL producer aggregates them into fewer
//! Kinesis records (`kpl`) and holds back what its rate limiter does not let through.
//! The shard admits part of what is sent; the rest is rejected when the shard's
//! allowance filled. Rejected records either give up (no retries left, the SDK retry
//! quota is empty, or the KPL's record TTL passed) or are spread over the steps of their
//! backoff window in the retry wheel, from which they arrive again as a new attempt.
//! Nothing leaves a group without a counter: offered = accepted + dropped + in flight.
//!
//! Two counts travel together: `records` are Kinesis records (what shard limits,
//! CloudWatch and billing count) and `user_records` are the application's records (what
//! conservation and consumers count). Without KPL aggregation they are equal.

use crate::backpressure::Queue;
use crate::keys::KeySpace;
use crate::kpl::{self, Limiter};
use crate::ratio::{scale, split_aggregate};
use crate::retry::{RetryModel, RetryQuota};
use crate::routing::HashRange;
use crate::sizes::SizeModel;
use crate::spec::{ApiSpec, Arrivals, BackPressureSpec, ProducerSpec, StreamSpec, WhenFull};
use kinesim_sim::num::{count_to_f64, f64_to_count};
use kinesim_sim::sample::{binomial, gamma, multinomial_split};
use kinesim_sim::{
    ChaCha8Rng, LogHistogram, Poisson, RandomStream, SeedKey, SimDuration, SimTime, SteadyPoisson, NANOS_PER_MS,
    NANOS_PER_SEC,
};

/// What one producer sent coasting shards in one step.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct CoastSent {
    /// Drawn and accepted (near windows).
    pub records: u64,
    pub bytes: u64,
    /// Expected, drawn when their windows end (far windows), and those records' mean
    /// partition key bytes (their shards' keys differ).
    pub far_mean: f64,
    pub far_key_bytes: f64,
    /// Drawn but over a shard's allowance: sent through admission this step.
    pub spilled_records: u64,
    pub spilled_bytes: u64,
}

/// One producer's records for a coasting shard in one step.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CoastSample {
    pub offered: u64,
    /// Larger than the stream's record limit: dropped by the client.
    pub oversize: u64,
    pub records: u64,
    pub bytes: u64,
}

/// Records offered or retried to one shard in one step by one producer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub shard_slot: u32,
    pub producer_slot: u32,
    /// 1 for a first attempt.
    pub attempt: u32,
    /// Kinesis records sent.
    pub records: u64,
    /// User records inside them.
    pub user_records: u64,
    pub bytes: u64,
    /// Mean creation time of the records at the producer.
    pub created_ns: u64,
    /// Mean sleep before this attempt (0 for a first attempt).
    pub sleep_prev_ns: u64,
}

/// Records waiting in the retry wheel (or held back by the KPL's limiter).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct RetryBatch {
    shard_slot: u32,
    attempt: u32,
    records: u64,
    user_records: u64,
    bytes: u64,
    created_ns: u64,
    sleep_prev_ns: u64,
}

/// The most retry batches held at once by one producer (a bound, asserted).
pub const RETRY_BATCHES_MAX: usize = 50_000_000;

/// Counters of one producer over the whole run, in user records.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerTotals {
    /// New records, first attempts.
    pub offered_records: u64,
    /// Records sent to a shard, first attempts and retries.
    pub attempted_records: u64,
    pub accepted_records: u64,
    /// Rejected attempts.
    pub throttled_records: u64,
    /// Records given up (out of attempts, out of retry quota, or expired).
    pub dropped_records: u64,
    /// Of the dropped, those whose KPL RecordTtl passed.
    pub expired_records: u64,
    /// Of the dropped, those that found the client buffer full.
    pub buffer_dropped_records: u64,
    /// Of the dropped, those larger than the stream's `max_record_size` (rejected by
    /// the client, never truncated).
    pub oversize_records: u64,
    /// PutRecord or PutRecords requests sent.
    pub put_requests: u64,
}

pub struct Producer {
    pub name: String,
    spec: ProducerSpec,
    keys: KeySpace,
    /// Sizes of the records that fit the stream's limit.
    sizes: SizeModel,
    oversize_probability: f64,
    retry: RetryModel,
    quota: Option<RetryQuota>,
    limiter: Option<Limiter>,
    arrivals_stream: RandomStream,
    bursts_stream: RandomStream,
    /// The last burst period's index and multiplier ([`Producer::burst_scale`]).
    burst: Option<(u64, f64)>,
    retry_stream: RandomStream,
    /// Per open shard: share of this producer's records and their mean key bytes.
    shares: Vec<f64>,
    key_bytes_mean: Vec<f64>,
    /// Per shard: the expected PUT payload units and on-demand billed bytes of one
    /// Kinesis record (its size law plus the shard's mean key bytes; for the KPL with
    /// aggregation, those of the shard's latest aggregates).
    billing_per_record: Vec<RecordBilling>,
    /// Per open shard: a Poisson sampler kept while its mean does not change.
    samplers: Vec<SteadyPoisson>,
    /// Uniform arrivals: the fraction of a record carried to the next step.
    uniform_carry: f64,
    /// Requests counted in fractions, carried so that totals stay exact over steps.
    requests_carry: f64,
    /// Far coasting windows' expected records in fractions, carried over steps.
    coast_carry: f64,
    /// Scratch for multinomial splits, sized once.
    split_counts: Vec<u64>,
    split_weights: Vec<f64>,
    /// Retry batches by due step (modulo the wheel's length), one per (shard, attempt):
    /// batches due in the same step for the same shard and attempt are merged, so a slot
    /// holds at most shards x attempts batches however many times records were split.
    wheel: Vec<WheelSlot>,
    /// User records waiting in the wheel.
    in_flight_records: u64,
    /// Of them, per shard slot (a shard with retries waiting cannot coast).
    in_flight_by_shard: Vec<u64>,
    /// Back-pressure: records in the buffer waiting to be sent, and records the
    /// application holds back while the buffer is full (blocking mode).
    backlog: Queue,
    blocked: Queue,
    /// Scratch for new records before they enter the buffer.
    fresh: Vec<Arrival>,
    /// An outage: records wait until `outage_until_ns`, then go out at `catch_up_rate`.
    outage_until_ns: u64,
    catch_up_rate: f64,
    outage_backlog: Queue,
    /// Time from creation to acceptance of accepted records.
    pub latency_ms: LogHistogram,
    /// Mean time a record waits in the client before it is sent (batching, buffering).
    buffering_delay_ns: u64,
    /// Expected records offered over the run, for the hot-key view.
    pub offered_expected: f64,
    /// Record mode: this producer's records waiting in the record queue or a PutRecords
    /// buffer (always 0 in stepped mode).
    pub records_waiting: u64,
    pub totals: ProducerTotals,
}

impl Producer {
    pub fn new(spec: &ProducerSpec, seed: &SeedKey, step: SimDuration, stream: &StreamSpec) -> Producer {
        let write_limit = &stream.write_limit;
        let data_limit = stream.max_record_size_bytes.saturating_sub(spec.keys.longest_key_bytes());
        let (oversize_probability, sizes) = SizeModel::new(&spec.record_size).split_at(data_limit);
        let retry = RetryModel::new(&spec.retry);
        // Enough slots to hold the longest wait, plus the step that schedules it.
        let wheel_slots = (retry.wait_max().as_nanos() / step.as_nanos()) as usize + 2;
        let limiter = match &spec.api {
            ApiSpec::Kpl(kpl) => {
                Some(Limiter::new(kpl, spec.instances, write_limit.records_per_s, write_limit.bytes_per_s))
            }
            _ => None,
        };
        Producer {
            name: spec.name.clone(),
            keys: KeySpace::build(&spec.keys),
            sizes,
            oversize_probability,
            quota: retry.uses_quota().then(|| RetryQuota::new(spec.instances)),
            retry,
            limiter,
            arrivals_stream: RandomStream::new(seed, &format!("producer/{}/arrivals", spec.name)),
            bursts_stream: RandomStream::new(seed, &format!("producer/{}/bursts", spec.name)),
            burst: None,
            retry_stream: RandomStream::new(seed, &format!("producer/{}/retry", spec.name)),
            shares: Vec::new(),
            key_bytes_mean: Vec::new(),
            billing_per_record: Vec::new(),
            samplers: Vec::new(),
            uniform_carry: 0.0,
            requests_carry: 0.0,
            coast_carry: 0.0,
            split_counts: vec![0; wheel_slots],
            split_weights: vec![0.0; wheel_slots],
            // A power of two, so that a step's slot is a mask rather than a division.
            wheel: vec![WheelSlot::default(); wheel_slots.next_power_of_two()],
            in_flight_records: 0,
            in_flight_by_shard: Vec::new(),
            backlog: Queue::default(),
            blocked: Queue::default(),
            fresh: Vec::new(),
            outage_until_ns: 0,
            catch_up_rate: 0.0,
            outage_backlog: Queue::default(),
            latency_ms: LogHistogram::new(),
            buffering_delay_ns: buffering_delay_ns(spec),
            offered_expected: 0.0,
            records_waiting: 0,
            totals: ProducerTotals::default(),
            spec: spec.clone(),
        }
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// This producer's share of its records per open shard slot.
    pub fn shares(&self) -> &[f64] {
        &self.shares
    }

    /// Per shard slot: the mean partition key bytes of a record sent to it.
    pub fn key_bytes_mean(&self) -> &[f64] {
        &self.key_bytes_mean
    }

    /// Whether this producer calls PutRecord (CloudWatch `PutRecord.*`) rather than
    /// PutRecords (`PutRecords.*`; the KPL sends PutRecords).
    pub fn sends_put_record(&self) -> bool {
        matches!(self.spec.api, ApiSpec::PutRecord)
    }

    /// The offered rate at the start of the run (records/s), to weigh producers against
    /// each other before any traffic was offered.
    pub fn offered_expected_rate(&self) -> f64 {
        crate::rates::rate_at(&self.spec.rate, SimTime::ZERO, 0).max(1e-9)
    }

    /// User records offered but neither accepted nor given up: waiting for a retry, in
    /// the buffer, or held back by a blocked application.
    pub fn in_flight_records(&self) -> u64 {
        self.in_flight_records
            + self.records_waiting
            + self.backlog.user_records()
            + self.blocked.user_records()
            + self.outage_backlog.user_records()
    }

    /// Recomputes the per-shard shares; called at start and after the shard map changes.
    /// Closed shards (`open[slot] == false`) get no new records.
    pub fn project(&mut self, ranges: &[HashRange], open: &[bool]) {
        self.keys.project(ranges, &mut self.shares, &mut self.key_bytes_mean);
        let sizes = &self.sizes;
        let by_size_law = |key_bytes: f64| RecordBilling {
            put_payload_units: sizes.expected_units(key_bytes, crate::cost::PUT_PAYLOAD_UNIT_BYTES),
            on_demand_bytes: sizes.expected_units(key_bytes, crate::cost::ON_DEMAND_ROUNDING_BYTES)
                * crate::cost::ON_DEMAND_ROUNDING_BYTES as f64,
        };
        // Aggregates are billed as the shard's latest ones (`Batcher::push`), so those are
        // kept; a new shard starts from one record's billing (a child then takes its
        // parent's, `reroute`).
        if !matches!(&self.spec.api, ApiSpec::Kpl(kpl) if kpl.aggregation) {
            self.billing_per_record.clear();
        }
        let known = self.billing_per_record.len();
        self.billing_per_record.extend(self.key_bytes_mean[known..].iter().map(|&key_bytes| by_size_law(key_bytes)));
        for (share, &is_open) in self.shares.iter_mut().zip(open) {
            if !is_open {
                *share = 0.0;
            }
        }
        self.samplers = vec![SteadyPoisson::new(); ranges.len()];
        self.split_counts.resize(self.split_counts.len().max(ranges.len()), 0);
        self.split_weights.resize(self.split_weights.len().max(ranges.len()), 0.0);
        if let Some(limiter) = &mut self.limiter {
            limiter.resize(ranges.len());
        }
        self.in_flight_by_shard.resize(ranges.len(), 0);
        self.backlog.resize(ranges.len());
        self.blocked.resize(ranges.len());
        self.outage_backlog.resize(ranges.len());
    }

    /// After `parent` split into `low` and `high` (and `project` ran): records still
    /// waiting for the parent (retries, buffer) go to the children, as KDS routes them by
    /// hash, in proportion to this producer's traffic to each child.
    pub fn reroute(&mut self, parent: u32, children: &[u32]) {
        assert!(!children.is_empty(), "a closed shard's records go somewhere");
        let shares: Vec<f64> = children.iter().map(|&c| self.shares[c as usize]).collect();
        let total: f64 = shares.iter().sum();
        let weights: Vec<f64> = if total > 0.0 {
            shares.iter().map(|s| s / total).collect()
        } else {
            vec![1.0 / children.len() as f64; children.len()]
        };
        let targets: Vec<(u32, f64)> = children.iter().copied().zip(weights).collect();
        if matches!(&self.spec.api, ApiSpec::Kpl(kpl) if kpl.aggregation) {
            let parent_billing = self.billing_per_record[parent as usize];
            for &child in children {
                self.billing_per_record[child as usize] = parent_billing;
            }
        }
        for slot in &mut self.wheel {
            slot.reroute(parent, &targets);
        }
        self.in_flight_by_shard.fill(0);
        for batch in self.wheel.iter().flat_map(|slot| slot.batches.iter()) {
            self.in_flight_by_shard[batch.shard_slot as usize] += batch.user_records;
        }
        self.backlog.reroute(parent, &targets);
        self.blocked.reroute(parent, &targets);
        self.outage_backlog.reroute(parent, &targets);
    }

    /// What one Kinesis record this producer writes to `shard_slot` is expected to be
    /// billed (for the KPL with aggregation, one of the shard's latest aggregates).
    pub fn billing_per_record(&self, shard_slot: u32) -> RecordBilling {
        self.billing_per_record[shard_slot as usize]
    }

    /// Appends this producer's first attempts for step `step` (covering `[t0, t1)`) and
    /// the retries due in it, after the KPL's limiter if there is one.
    ///
    /// Only the shard slots in `slots` (ascending) get new arrivals; coasting shards'
    /// the engine draws and stores
    /// records ([`Producer::coast_sample`], [`Producer::coast_window_sample`]);
    /// `coast_sent` is what this producer sent them in this step (records and bytes
    /// drawn, and records expected where they are drawn a window at a time), counted
    /// into its requests and, with the SDK's retry quota, refunded as accepted first
    /// attempts.
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &mut self,
        slot: u32,
        step: u64,
        (t0, t1): (SimTime, SimTime),
        start_unix_s: i64,
        slots: &[usize],
        coast_sent: CoastSent,
        out: &mut Vec<Arrival>,
    ) {
        let first = out.len();
        let step_ns = t1.as_nanos() - t0.as_nanos();
        if t0.as_nanos() < self.outage_until_ns {
            // Down: nothing is sent; the application's records pile up to catch up later.
            let mut fresh = std::mem::take(&mut self.fresh);
            fresh.clear();
            self.emit_new(slot, step, t0, t1, start_unix_s, slots, &mut fresh);
            for arrival in &fresh {
                self.outage_backlog.push(arrival);
            }
            self.fresh = fresh;
            return;
        }
        self.emit_retries(slot, step, out);
        self.catch_up(step_ns, slot, out);
        match self.spec.back_pressure.clone() {
            None => self.emit_new(slot, step, t0, t1, start_unix_s, slots, out),
            Some(back_pressure) => {
                let mut fresh = std::mem::take(&mut self.fresh);
                fresh.clear();
                self.emit_new(slot, step, t0, t1, start_unix_s, slots, &mut fresh);
                self.buffer(&back_pressure, &fresh);
                self.fresh = fresh;
                let retries: u64 = out[first..].iter().map(|a| a.records).sum();
                self.send_from_buffer(&back_pressure, step_ns, retries, slot, out);
            }
        }
        if self.limiter.is_some() {
            self.hold_back(first, step, t1, step_ns, out);
        }
        let (records, bytes) = out[first..].iter().fold((0, 0), |(r, b), a| (r + a.records, b + a.bytes));
        // Far windows' records are drawn at the window's end: here, their expectation,
        // fractions carried over steps.
        let far = coast_sent.far_mean + self.coast_carry;
        let far_records = f64_to_count(far);
        self.coast_carry = far - count_to_f64(far_records);
        let coast_records = coast_sent.records + far_records;
        // Sized as drawn records are (`size_offered`): the size law's mean plus the keys'.
        let far_bytes = far_records as f64 * (self.sizes.mean_bytes() + coast_sent.far_key_bytes) + 0.5;
        let coast_bytes = coast_sent.bytes + far_bytes as u64;
        if let Some(quota) = &mut self.quota {
            // A coasting shard takes every record: first attempts, each refunding a token.
            quota.release(coast_records, 0);
        }
        // A coasting shard's step that did not fit its allowance is sent like any.
        let (spilled_records, spilled_bytes) = (coast_sent.spilled_records, coast_sent.spilled_bytes);
        self.count_requests(records + coast_records + spilled_records, bytes + coast_bytes + spilled_bytes, step_ns);
    }

    /// Whether every record of this producer has one size (and none is too large).
    pub fn sizes_fixed(&self) -> bool {
        self.sizes.sd_bytes() == 0.0 && self.oversize_probability == 0.0
    }

    /// Whether this producer's records can coast at all: Poisson counts (plain or
    /// bursty) sent as they come, so a window's records are one Poisson draw. Uniform
    /// arrivals (a multinomial split of a fixed total), the KPL's limiter and buffer,
    /// and a back-pressure buffer couple shards or steps, and always step.
    pub fn can_coast(&self) -> bool {
        matches!(self.spec.arrivals, Arrivals::Poisson | Arrivals::Bursty { .. })
            && !matches!(self.spec.api, ApiSpec::Kpl(_))
            && self.spec.back_pressure.is_none()
    }

    /// Whether this producer writes to `shard_slot` at `t0_ns` only what it offers now:
    /// no retries waiting for the shard and no outage in progress or catching up.
    pub fn is_steady_for(&self, shard_slot: usize, t0_ns: u64) -> bool {
        self.in_flight_by_shard[shard_slot] == 0
            && self.outage_until_ns <= t0_ns
            && self.outage_backlog.user_records() == 0
    }

    /// The mean records this producer offers in `[t0, t1)` (its rate over the step
    /// times the burst multiplier of the step's period), before the split over shards.
    pub fn step_mean(&mut self, t0: SimTime, t1: SimTime, start_unix_s: i64) -> f64 {
        crate::rates::expected_records(&self.spec.rate, t0, t1, start_unix_s) * self.burst_scale(t0)
    }

    /// The arrivals' multiplier for the period holding `t0`: one gamma draw per period,
    /// from its own stream keyed by the period's index, so every step of the period
    /// (and every call) sees the same one; kept for the period, as each step asks twice
    /// (its mean for coasting, then its draws) and a seek generates a block.
    fn burst_scale(&mut self, t0: SimTime) -> f64 {
        match self.spec.arrivals {
            Arrivals::Bursty { cv, period } => {
                let index = t0.as_nanos() / period.as_nanos();
                match self.burst {
                    Some((drawn_index, scale)) if drawn_index == index => scale,
                    _ => {
                        let scale = gamma(self.bursts_stream.at_step(index), 1.0 / (cv * cv), cv * cv);
                        self.burst = Some((index, scale));
                        scale
                    }
                }
            }
            _ => 1.0,
        }
    }

    /// The mean and mean square of one record's bytes to `shard_slot` (data plus the
    /// shard's mean key), for the tail of a second's bytes.
    pub fn record_bytes_moments(&self, shard_slot: usize) -> (f64, f64) {
        let mean = self.sizes.mean_bytes() + self.key_bytes_mean[shard_slot];
        (mean, self.sizes.sd_bytes() * self.sizes.sd_bytes() + mean * mean)
    }

    /// One step's records for a coasting shard, drawn as `emit` would draw them for
    /// it (`mean` records expected): (offered, too large to send, records, bytes).
    pub fn coast_sample(&mut self, shard_slot: usize, mean: f64, rng: &mut ChaCha8Rng) -> CoastSample {
        let offered = self.samplers[shard_slot].sample(mean, rng);
        self.coast_sized(shard_slot, offered, rng)
    }

    /// A far coasting window's records for a shard, `mean` of them expected over it: one
    /// Poisson draw (the sum of the steps' independent counts), those too large dropped.
    pub fn coast_window_sample(&self, shard_slot: usize, mean: f64, rng: &mut ChaCha8Rng) -> CoastSample {
        let offered = Poisson::new(mean).sample(rng);
        self.coast_sized(shard_slot, offered, rng)
    }

    /// `offered` records to a coasting shard, sized as [`Batcher::push`] sizes them.
    fn coast_sized(&self, shard_slot: usize, offered: u64, rng: &mut ChaCha8Rng) -> CoastSample {
        let key_bytes = self.key_bytes_mean[shard_slot];
        let (oversize, records, bytes) = size_offered(&self.sizes, self.oversize_probability, rng, offered, key_bytes);
        CoastSample { offered, oversize, records, bytes }
    }

    /// Counts a coasting shard's offered records (and those too large, dropped).
    pub fn coast_offered(&mut self, sample: &CoastSample) {
        self.totals.offered_records += sample.offered;
        self.totals.dropped_records += sample.oversize;
        self.totals.oversize_records += sample.oversize;
    }

    /// A step's records for a coasting shard that must be stepped after all (they did
    /// not fit the shard's allowance), as the arrival `emit` would have made.
    pub fn coast_arrival(
        &self,
        slot: u32,
        shard_slot: usize,
        sample: &CoastSample,
        t0: SimTime,
        t1: SimTime,
    ) -> Arrival {
        Arrival {
            shard_slot: shard_slot as u32,
            producer_slot: slot,
            attempt: 1,
            records: sample.records,
            user_records: sample.records,
            bytes: sample.bytes,
            created_ns: self.created_ns(t0, t1),
            sleep_prev_ns: 0,
        }
    }

    /// The mean creation time of records offered in `[t0, t1)`: the step's middle less
    /// the client's buffering.
    fn created_ns(&self, t0: SimTime, t1: SimTime) -> u64 {
        (t0.as_nanos() + t1.as_nanos()) / 2 - self.buffering_delay_ns.min(t0.as_nanos())
    }

    /// Settles a coasting window's `records` to a shard, all accepted in the steps that
    /// offered them (as `settle` does for a step with room: at the mean arrival, the
    /// mean creation plus the client's buffering); returns that age at arrival.
    pub fn coast_accepted(&mut self, records: u64, t0_ns: u64) -> u64 {
        let age_ns = self.buffering_delay_ns.min(t0_ns);
        if records > 0 {
            self.latency_ms.add(age_ns as f64 / NANOS_PER_MS as f64, records);
        }
        self.totals.attempted_records += records;
        self.totals.accepted_records += records;
        age_ns
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_new(
        &mut self,
        slot: u32,
        step: u64,
        t0: SimTime,
        t1: SimTime,
        start_unix_s: i64,
        slots: &[usize],
        out: &mut Vec<Arrival>,
    ) {
        let expected = crate::rates::expected_records(&self.spec.rate, t0, t1, start_unix_s);
        self.offered_expected += expected;
        let created_ns = self.created_ns(t0, t1);
        let windows = self.buffering_windows(t1.as_nanos() - t0.as_nanos());
        let shard_count = self.shares.len();
        let scale = self.burst_scale(t0);
        let batch = Batcher {
            sizes: &self.sizes,
            oversize_probability: self.oversize_probability,
            api: &self.spec.api,
            instances: self.spec.instances,
            windows,
            slot,
            created_ns,
        };
        let (mut offered, mut oversize) = (0, 0);
        match self.spec.arrivals {
            Arrivals::Poisson | Arrivals::Bursty { .. } => {
                // Positioned on the first draw: a seek generates a block, and with every
                // shard coasting nothing is drawn here.
                self.arrivals_stream.set_step(step);
                for &shard in slots {
                    let rng = self.arrivals_stream.rng();
                    let mean = expected * scale * self.shares[shard];
                    let records = self.samplers[shard].sample(mean, rng);
                    offered += records;
                    oversize +=
                        batch.push(rng, shard, records, self.key_bytes_mean[shard], &mut self.billing_per_record, out);
                }
            }
            Arrivals::Uniform => {
                debug_assert_eq!(slots.len(), shard_count, "uniform arrivals never coast");
                let rng = self.arrivals_stream.at_step(step);
                let total_f = expected + self.uniform_carry;
                let total = libm::floor(total_f) as u64;
                self.uniform_carry = total_f - total as f64;
                let counts = &mut self.split_counts[..shard_count];
                multinomial_split(rng, total, &self.shares, counts);
                for (shard, &records) in counts.iter().enumerate() {
                    offered += records;
                    oversize +=
                        batch.push(rng, shard, records, self.key_bytes_mean[shard], &mut self.billing_per_record, out);
                }
            }
        }
        self.totals.offered_records += offered;
        self.totals.dropped_records += oversize;
        self.totals.oversize_records += oversize;
    }

    /// A producer outage from now until `until_ns`: its records wait, and after the outage
    /// they are sent at `catch_up_rate` records/s on top of the live traffic.
    pub fn start_outage(&mut self, until_ns: u64, catch_up_rate: f64) {
        self.outage_until_ns = until_ns;
        self.catch_up_rate = catch_up_rate;
    }

    /// Sends part of what piled up during an outage.
    fn catch_up(&mut self, step_ns: u64, slot: u32, out: &mut Vec<Arrival>) {
        if self.outage_backlog.user_records() == 0 {
            return;
        }
        let records = (self.catch_up_rate * step_ns as f64 / NANOS_PER_SEC as f64).ceil() as u64;
        self.outage_backlog.release(records, slot, out);
    }

    /// Puts new records into the buffer: first what the blocked application held back,
    /// then this step's records; what does not fit is dropped or held back.
    fn buffer(&mut self, back_pressure: &BackPressureSpec, fresh: &[Arrival]) {
        let capacity = back_pressure.buffer_records * u64::from(self.spec.instances);
        let room =
            |producer: &Producer| capacity.saturating_sub(producer.backlog.user_records() + producer.in_flight_records);
        let unblocked = room(self).min(self.blocked.user_records());
        let mut moved = Vec::new();
        self.blocked.release(unblocked, 0, &mut moved);
        for arrival in &moved {
            self.backlog.push(arrival);
        }
        for arrival in fresh {
            let fits = room(self).min(arrival.user_records);
            let (admitted, overflow) = split_arrival_by_user(arrival, fits);
            if admitted.user_records > 0 {
                self.backlog.push(&admitted);
            }
            if overflow.user_records == 0 {
                continue;
            }
            match back_pressure.when_full {
                WhenFull::Block => self.blocked.push(&overflow),
                WhenFull::Drop => {
                    self.totals.dropped_records += overflow.user_records;
                    self.totals.buffer_dropped_records += overflow.user_records;
                }
            }
        }
    }

    /// Sends what the requests in flight can carry this step, after `retries` Kinesis
    /// records of retries already sent.
    fn send_from_buffer(
        &mut self,
        back_pressure: &BackPressureSpec,
        step_ns: u64,
        retries: u64,
        slot: u32,
        out: &mut Vec<Arrival>,
    ) {
        let (records, user_records) = (self.backlog.records(), self.backlog.user_records());
        // A request carries up to its record limit, or fewer records if their bytes
        // reach its byte limit first (PutRecords: 500 records, 5 MiB; reference §2.1).
        let record_bytes_mean = self.backlog.bytes() as f64 / records.max(1) as f64;
        let fitting = |max_records: u32, max_bytes: u64| {
            f64::from(max_records).min((max_bytes as f64 / record_bytes_mean.max(1.0)).floor().max(1.0))
        };
        let per_request = match &self.spec.api {
            ApiSpec::PutRecord => 1.0,
            ApiSpec::PutRecords { max_records, max_bytes, .. } => fitting(*max_records, *max_bytes),
            ApiSpec::Kpl(kpl) => fitting(kpl.collection_max_records, kpl.collection_max_bytes),
        };
        let requests = f64::from(self.spec.instances) * f64::from(back_pressure.max_in_flight) * step_ns as f64
            / back_pressure.request_latency.as_nanos().max(1) as f64;
        let capacity = ((requests * per_request) as u64).saturating_sub(retries);
        let user_capacity = if records == 0 { 0 } else { scale(user_records, capacity.min(records), records) };
        self.backlog.release(user_capacity, slot, out);
    }

    /// KPL buffering windows per instance in a step of `step_ns`.
    fn buffering_windows(&self, step_ns: u64) -> f64 {
        match &self.spec.api {
            ApiSpec::Kpl(kpl) => step_ns as f64 / kpl.max_buffered_time.as_nanos().max(1) as f64,
            _ => 1.0,
        }
    }

    fn emit_retries(&mut self, slot: u32, step: u64, out: &mut Vec<Arrival>) {
        let wheel_slot = self.wheel_slot(step);
        for batch in self.wheel[wheel_slot].drain_merged() {
            out.push(Arrival {
                shard_slot: batch.shard_slot,
                producer_slot: slot,
                attempt: batch.attempt,
                records: batch.records,
                user_records: batch.user_records,
                bytes: batch.bytes,
                created_ns: batch.created_ns,
                sleep_prev_ns: batch.sleep_prev_ns,
            });
            self.in_flight_records -= batch.user_records;
            self.in_flight_by_shard[batch.shard_slot as usize] -= batch.user_records;
        }
    }

    /// Applies the KPL's rate limiter to the arrivals from `first` on (older ones first,
    /// as they were pushed): what it does not let through waits for the next step, or
    /// expires if its TTL passes first.
    fn hold_back(&mut self, first: usize, step: u64, t1: SimTime, step_ns: u64, out: &mut Vec<Arrival>) {
        let seconds = step_ns as f64 / NANOS_PER_SEC as f64;
        self.limiter.as_mut().expect("only KPL producers hold back").refill(seconds);
        let mut index = first;
        while index < out.len() {
            let arrival = out[index];
            let limiter = self.limiter.as_mut().expect("only KPL producers hold back");
            let sent = limiter.take(arrival.shard_slot as usize, arrival.records, arrival.bytes);
            if sent == arrival.records {
                index += 1;
                continue;
            }
            let (kept, held) = split_arrival(&arrival, sent);
            let batch = RetryBatch {
                shard_slot: held.shard_slot,
                attempt: held.attempt,
                records: held.records,
                user_records: held.user_records,
                bytes: held.bytes,
                created_ns: held.created_ns,
                sleep_prev_ns: held.sleep_prev_ns,
            };
            self.requeue_or_expire(batch, t1.as_nanos(), step);
            if kept.records == 0 {
                // `remove` keeps the order: older records keep their claim on the limiter.
                out.remove(index);
            } else {
                out[index] = kept;
                index += 1;
            }
        }
    }

    /// Puts held records back for the next step, unless their TTL passes by then.
    fn requeue_or_expire(&mut self, batch: RetryBatch, due_ns: u64, step: u64) {
        if self.expired(batch.created_ns, due_ns) {
            self.totals.dropped_records += batch.user_records;
            self.totals.expired_records += batch.user_records;
            return;
        }
        let wheel_slot = self.wheel_slot(step + 1);
        self.wheel[wheel_slot].push(batch);
        self.in_flight_records += batch.user_records;
        self.in_flight_by_shard[batch.shard_slot as usize] += batch.user_records;
    }

    fn expired(&self, created_ns: u64, at_ns: u64) -> bool {
        self.retry.ttl().is_some_and(|ttl| at_ns.saturating_sub(created_ns) > ttl.as_nanos())
    }

    /// Counts the PutRecord or PutRecords requests that carry `records` Kinesis records
    /// of `bytes` in one step.
    fn count_requests(&mut self, records: u64, bytes: u64, step_ns: u64) {
        if records == 0 {
            return;
        }
        let instances = f64::from(self.spec.instances);
        let steps_per_s = NANOS_PER_SEC as f64 / step_ns as f64;
        let requests = match &self.spec.api {
            ApiSpec::PutRecord => records as f64,
            ApiSpec::PutRecords { max_records, max_bytes, linger } => {
                let by_linger = if linger.is_zero() { 0.0 } else { instances / (linger.as_secs_f64() * steps_per_s) };
                batches(records, bytes, u64::from(*max_records), *max_bytes).max(by_linger.min(records as f64))
            }
            ApiSpec::Kpl(kpl) => {
                let flushes = instances * self.buffering_windows(step_ns);
                let by_size = batches(records, bytes, u64::from(kpl.collection_max_records), kpl.collection_max_bytes);
                by_size.max(flushes.min(records as f64))
            }
        };
        let total = requests + self.requests_carry;
        // Truncation is the floor of a non-negative value, without a call to `floor`.
        let whole = f64_to_count(total);
        self.requests_carry = total - count_to_f64(whole);
        self.totals.put_requests += whole;
    }

    /// Settles what the shard decided for one arrival: `accepted` Kinesis records were
    /// stored (on average at `accepted_at_ns`), the rest were rejected at
    /// `rejected_at_ns`. Returns the user records accepted.
    pub fn settle(
        &mut self,
        arrival: &Arrival,
        accepted: u64,
        accepted_at_ns: u64,
        rejected_at_ns: u64,
        step: u64,
        step_ns: u64,
    ) -> u64 {
        let (stored, rejected) = split_arrival(arrival, accepted);
        if stored.user_records > 0 {
            let request_ns = self.spec.back_pressure.as_ref().map_or(0, |bp| bp.request_latency.as_nanos());
            let latency_ns = accepted_at_ns.saturating_sub(arrival.created_ns) + request_ns;
            self.latency_ms.add(latency_ns as f64 / NANOS_PER_MS as f64, stored.user_records);
        }
        self.totals.attempted_records += arrival.user_records;
        self.totals.accepted_records += stored.user_records;
        self.totals.throttled_records += rejected.user_records;
        if let Some(quota) = &mut self.quota {
            let (first, retried) =
                if arrival.attempt == 1 { (stored.user_records, 0) } else { (0, stored.user_records) };
            quota.release(first, retried);
        }
        if rejected.user_records > 0 {
            self.retry_or_drop(rejected, rejected_at_ns, step, step_ns);
        }
        stored.user_records
    }

    fn retry_or_drop(&mut self, rejected: Arrival, rejected_at_ns: u64, step: u64, step_ns: u64) {
        let Some(window) = self.retry.next_window(rejected.attempt, rejected.sleep_prev_ns) else {
            self.totals.dropped_records += rejected.user_records;
            return;
        };
        if self.expired(rejected.created_ns, rejected_at_ns + window.max_ns) {
            self.totals.dropped_records += rejected.user_records;
            self.totals.expired_records += rejected.user_records;
            return;
        }
        let retrying = match &mut self.quota {
            Some(quota) => quota.acquire(rejected.user_records),
            None => rejected.user_records,
        };
        self.totals.dropped_records += rejected.user_records - retrying;
        let records = scale(rejected.records, retrying, rejected.user_records).max(u64::from(retrying > 0));
        let batch = RetryBatch {
            shard_slot: rejected.shard_slot,
            attempt: rejected.attempt + 1,
            records,
            user_records: retrying,
            bytes: scale(rejected.bytes, retrying, rejected.user_records),
            created_ns: rejected.created_ns,
            sleep_prev_ns: window.mean_ns(),
        };
        self.schedule_retry(batch, rejected_at_ns + window.min_ns, rejected_at_ns + window.max_ns, step, step_ns);
    }

    /// Spreads a retry group uniformly over `[due_first_ns, due_last_ns]`, by steps.
    /// A retry due inside the current step waits for the next one (at most one step
    /// late: the stepped-mode approximation of a retry inside the same step).
    fn schedule_retry(&mut self, batch: RetryBatch, due_first_ns: u64, due_last_ns: u64, step: u64, step_ns: u64) {
        if batch.user_records == 0 {
            return;
        }
        let step_first = (due_first_ns / step_ns).max(step + 1);
        let step_last = (due_last_ns / step_ns).max(step + 1);
        let slots = (step_last - step_first + 1) as usize;
        assert!(slots < self.split_weights.len(), "the retry wheel holds the longest wait");
        let span_ns = (due_last_ns - due_first_ns) as f64;
        for (i, weight) in self.split_weights[..slots].iter_mut().enumerate() {
            // The first slot also takes the part of the window inside the current step.
            let start = if i == 0 { due_first_ns } else { ((step_first + i as u64) * step_ns).max(due_first_ns) };
            let end = ((step_first + i as u64 + 1) * step_ns).min(due_last_ns);
            *weight = if span_ns == 0.0 { 1.0 } else { end.saturating_sub(start) as f64 };
        }
        if span_ns > 0.0 && self.split_weights[..slots].iter().all(|&w| w == 0.0) {
            self.split_weights[0] = 1.0;
        }
        let rng = self.retry_stream.rng();
        spread(rng, batch.user_records, &mut self.split_weights[..slots], &mut self.split_counts[..slots]);
        let mut left = batch;
        for i in 0..slots {
            let user_records = self.split_counts[i];
            if user_records == 0 {
                continue;
            }
            let part = take_part(&mut left, user_records, batch.user_records);
            let wheel_slot = self.wheel_slot(step_first + i as u64);
            self.wheel[wheel_slot].push(part);
        }
        debug_assert_eq!(left.user_records, 0);
        self.in_flight_records += batch.user_records;
        self.in_flight_by_shard[batch.shard_slot as usize] += batch.user_records;
    }

    /// The wheel slot of `step`'s retries (the wheel's length is a power of two).
    fn wheel_slot(&self, step: u64) -> usize {
        debug_assert!(self.wheel.len().is_power_of_two());
        (step & (self.wheel.len() as u64 - 1)) as usize
    }

    /// Positions the retry stream for a step (call once per step before `settle`).
    pub fn begin_step(&mut self, step: u64) {
        self.retry_stream.set_step(step);
    }
}

/// Spreads `total` records over slots by `weights`: a multinomial draw, or, when there
/// are fewer records than slots, one uniform draw per record (cheaper and equal in law).
/// `weights` is scratch and is overwritten.
fn spread(rng: &mut ChaCha8Rng, total: u64, weights: &mut [f64], counts: &mut [u64]) {
    if total >= weights.len() as u64 {
        multinomial_split(rng, total, weights, counts);
        return;
    }
    counts.fill(0);
    let mut running = 0.0;
    for weight in weights.iter_mut() {
        running += *weight;
        *weight = running;
    }
    for _ in 0..total {
        let u = kinesim_sim::sample::uniform01(rng) * running;
        let slot = weights.partition_point(|&cumulative| cumulative <= u).min(counts.len() - 1);
        counts[slot] += 1;
    }
}

/// One step of the retry wheel: the retry batches due in it, handed out in (shard slot,
/// attempt) order (deterministic), batches with the same shard and attempt merged in the
/// order they were queued (DESIGN: retries grouped by producer, shard, attempt and due
/// time).
///
/// A vector kept from step to step, so the wheel allocates nothing once it has grown
/// (a map allocated nodes every step that had retries). Batches are appended as they
/// come and merged (sorted by key and queue order, each key's batches folded in the
/// order they were queued, so the batches are those of a map merging at once) when the
/// slot is drained or its unsorted part has grown past [`WHEEL_SLOT_UNSORTED_MIN`] and
/// the sorted part: one sort per drain costs less than an insertion per batch, and the
/// slot stays bounded by its keys.
#[derive(Clone, Debug, Default)]
struct WheelSlot {
    /// `batches[..sorted]`: one per key, in key order; after them, batches of any key
    /// in the order they were queued.
    batches: Vec<RetryBatch>,
    sorted: usize,
    /// Scratch for merging, kept to allocate nothing once grown: sort keys (see
    /// [`sort_key`]) and the merged batches.
    order: Vec<u128>,
    merged: Vec<RetryBatch>,
}

/// A batch's wheel-slot sort key: (shard slot, attempt, position) packed in one
/// integer, each part at full width (a KPL record's attempts are bounded by its TTL,
/// not by a count, so an attempt may take all 32 bits).
fn sort_key(batch: &RetryBatch, position: usize) -> u128 {
    (u128::from(batch.shard_slot) << 96) | (u128::from(batch.attempt) << 64) | position as u128
}

/// The fewest unsorted batches a wheel slot merges early (below it, merging waits for
/// the drain).
const WHEEL_SLOT_UNSORTED_MIN: usize = 256;

impl WheelSlot {
    fn push(&mut self, batch: RetryBatch) {
        self.batches.push(batch);
        if self.batches.len() - self.sorted >= self.sorted.max(WHEEL_SLOT_UNSORTED_MIN) {
            self.merge();
        }
        assert!(self.batches.len() <= RETRY_BATCHES_MAX, "retry batches are bounded");
    }

    /// Sorts by (shard, attempt, queue order) and folds each key's batches into one.
    /// A batch's position is its queue order (the sorted part's batches, one per key,
    /// were all queued before the rest), so sorting packed (shard, attempt, position)
    /// keys gives the stable order without moving the batches.
    fn merge(&mut self) {
        if self.sorted == self.batches.len() {
            return;
        }
        self.order.clear();
        self.order.extend(self.batches.iter().enumerate().map(|(position, batch)| sort_key(batch, position)));
        self.order.sort_unstable();
        self.merged.clear();
        for &packed in &self.order {
            let batch = &self.batches[packed as u64 as usize];
            match self.merged.last_mut() {
                Some(last) if (last.shard_slot, last.attempt) == (batch.shard_slot, batch.attempt) => {
                    merge_into(last, batch);
                }
                _ => self.merged.push(*batch),
            }
        }
        std::mem::swap(&mut self.batches, &mut self.merged);
        self.sorted = self.batches.len();
    }

    /// Empties the slot, in (shard, attempt) order, one batch per key.
    fn drain_merged(&mut self) -> impl Iterator<Item = RetryBatch> + '_ {
        self.merge();
        self.sorted = 0;
        self.batches.drain(..)
    }

    /// After `parent` split or merged: its batches go to `targets` by weight, each
    /// merged into what those shards already hold (in (shard, attempt) order).
    fn reroute(&mut self, parent: u32, targets: &[(u32, f64)]) {
        self.merge();
        // A reshard is rare: a vector for the parent's batches is no per-step cost.
        let parents: Vec<RetryBatch> = self.batches.extract_if(.., |batch| batch.shard_slot == parent).collect();
        self.sorted = self.batches.len();
        for batch in parents {
            for part in split_batch(batch, targets) {
                self.push(part);
            }
        }
    }
}

/// Folds `part` into `last`, a batch for the same shard and attempt: creation times
/// and previous sleeps are averaged by user records.
fn merge_into(last: &mut RetryBatch, part: &RetryBatch) {
    let total = u128::from(last.user_records + part.user_records);
    let weighted = |a: u64, b: u64| {
        ((u128::from(a) * u128::from(last.user_records) + u128::from(b) * u128::from(part.user_records)) / total) as u64
    };
    last.created_ns = weighted(last.created_ns, part.created_ns);
    last.sleep_prev_ns = weighted(last.sleep_prev_ns, part.sleep_prev_ns);
    last.records += part.records;
    last.user_records += part.user_records;
    last.bytes += part.bytes;
}

/// Splits a batch over shards by weight (the last takes what remains); empty parts are
/// left out.
fn split_batch(batch: RetryBatch, targets: &[(u32, f64)]) -> Vec<RetryBatch> {
    let mut left = batch;
    let mut parts = Vec::with_capacity(targets.len());
    for (index, &(shard, weight)) in targets.iter().enumerate() {
        let user_records = if index + 1 == targets.len() {
            left.user_records
        } else {
            ((batch.user_records as f64 * weight).round() as u64).min(left.user_records)
        };
        if user_records == 0 {
            continue;
        }
        let mut part = take_part(&mut left, user_records, batch.user_records);
        part.shard_slot = shard;
        parts.push(part);
    }
    parts
}

/// Takes `user_records` of `whole.user_records` from `left`, with proportional Kinesis
/// records and bytes; the last part takes exactly what remains. Each side that carries
/// user records keeps at least one Kinesis record (an aggregate split between shards
/// becomes two aggregated records), so no arrival has user records and no record.
fn take_part(left: &mut RetryBatch, user_records: u64, whole_user_records: u64) -> RetryBatch {
    let last = user_records == left.user_records;
    let (records, records_left) = split_aggregate(left.records, left.user_records, user_records);
    let bytes = if last { left.bytes } else { scale(left.bytes, user_records, left.user_records) };
    debug_assert!(user_records <= whole_user_records);
    left.user_records -= user_records;
    left.records = records_left;
    left.bytes -= bytes;
    debug_assert!(records > 0 || user_records == 0);
    RetryBatch { records, user_records, bytes, ..*left }
}

/// Splits an arrival into the part of `records` Kinesis records and the rest, with user
/// records and bytes in proportion.
fn split_arrival(arrival: &Arrival, records: u64) -> (Arrival, Arrival) {
    debug_assert!(records <= arrival.records);
    let user_records = if records == arrival.records {
        arrival.user_records
    } else {
        // A Kinesis record carries at least one user record.
        scale(arrival.user_records, records, arrival.records).max(records.min(1)).min(arrival.user_records)
    };
    let bytes = if records == arrival.records { arrival.bytes } else { scale(arrival.bytes, records, arrival.records) };
    let part = Arrival { records, user_records, bytes, ..*arrival };
    let rest = Arrival {
        records: arrival.records - records,
        user_records: arrival.user_records - user_records,
        bytes: arrival.bytes - bytes,
        ..*arrival
    };
    (part, rest)
}

/// Splits an arrival into `user_records` of its user records and the rest.
fn split_arrival_by_user(arrival: &Arrival, user_records: u64) -> (Arrival, Arrival) {
    if user_records == arrival.user_records {
        return (*arrival, Arrival { records: 0, user_records: 0, bytes: 0, ..*arrival });
    }
    let (records, records_rest) = split_aggregate(arrival.records, arrival.user_records, user_records);
    let bytes = scale(arrival.bytes, user_records, arrival.user_records);
    let part = Arrival { records, user_records, bytes, ..*arrival };
    let rest = Arrival {
        records: records_rest,
        user_records: arrival.user_records - user_records,
        bytes: arrival.bytes - bytes,
        ..*arrival
    };
    (part, rest)
}

/// Requests needed to carry `records` of `bytes` in batches of at most `max_records`
/// and `max_bytes`.
fn batches(records: u64, bytes: u64, max_records: u64, max_bytes: u64) -> f64 {
    (records as f64 / max_records as f64).max(bytes as f64 / max_bytes as f64)
}

/// The expected billing of one record: PUT payload units (provisioned) and billed bytes
/// (on-demand and Advantage), each record rounded up on its own (pricing §2.1, §3.1).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RecordBilling {
    pub put_payload_units: f64,
    pub on_demand_bytes: f64,
}

/// Turns one step's user records for one shard into an arrival (aggregated for KPL).
struct Batcher<'a> {
    sizes: &'a SizeModel,
    /// Probability that a record is larger than the stream's limit.
    oversize_probability: f64,
    api: &'a ApiSpec,
    instances: u32,
    windows: f64,
    slot: u32,
    created_ns: u64,
}

impl Batcher<'_> {
    /// Pushes the arrival of `offered` records; returns how many were too large to send.
    /// An aggregating KPL producer's expected billing per aggregate for the shard goes
    /// to `billing`.
    fn push(
        &self,
        rng: &mut ChaCha8Rng,
        shard: usize,
        offered: u64,
        key_bytes: f64,
        billing: &mut [RecordBilling],
        out: &mut Vec<Arrival>,
    ) -> u64 {
        let (oversize, user_records, user_bytes) =
            size_offered(self.sizes, self.oversize_probability, rng, offered, key_bytes);
        if user_records == 0 {
            return oversize;
        }
        let (records, bytes) = match self.api {
            ApiSpec::Kpl(kpl) => {
                let aggregated = kpl::aggregate(kpl, user_records, user_bytes, key_bytes, self.instances, self.windows);
                if let Some(aggregate_billing) = aggregated.billing {
                    billing[shard] = aggregate_billing;
                }
                (aggregated.records, aggregated.bytes)
            }
            _ => (user_records, user_bytes),
        };
        out.push(Arrival {
            shard_slot: shard as u32,
            producer_slot: self.slot,
            attempt: 1,
            records,
            user_records,
            bytes,
            created_ns: self.created_ns,
            sleep_prev_ns: 0,
        });
        oversize
    }
}

/// Of `offered` records, those too large to send (dropped by the client), the others,
/// and their bytes (data by the size law, plus the shard's mean key).
fn size_offered(
    sizes: &SizeModel,
    oversize_probability: f64,
    rng: &mut ChaCha8Rng,
    offered: u64,
    key_bytes: f64,
) -> (u64, u64, u64) {
    let oversize = if oversize_probability > 0.0 { binomial(rng, offered, oversize_probability) } else { 0 };
    let records = offered - oversize;
    // Adding one half then truncating rounds a non-negative value, without a libm call.
    let bytes = sizes.batch_bytes(rng, records) + (records as f64 * key_bytes + 0.5) as u64;
    (oversize, records, bytes)
}

/// Mean time a record spends in the client before its request is sent: half the time a
/// PutRecords batch takes to fill (by count or bytes) or to reach its linger time; for
/// the KPL, half of RecordMaxBufferedTime.
fn buffering_delay_ns(spec: &ProducerSpec) -> u64 {
    let (max_records, max_bytes, linger) = match &spec.api {
        ApiSpec::PutRecord => return 0,
        ApiSpec::Kpl(kpl) => return kpl.max_buffered_time.as_nanos() / 2,
        ApiSpec::PutRecords { max_records, max_bytes, linger } => (*max_records, *max_bytes, *linger),
    };
    let rate_per_instance = crate::rates::rate_at(&spec.rate, SimTime::ZERO, 0) / f64::from(spec.instances);
    if rate_per_instance <= 0.0 {
        return linger.as_nanos() / 2;
    }
    let size = SizeModel::new(&spec.record_size).mean_bytes().max(1.0);
    let records_per_batch = f64::from(max_records).min(max_bytes as f64 / size);
    let fill_ns = records_per_batch / rate_per_instance * 1e9;
    (fill_ns.min(linger.as_nanos() as f64) / 2.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The map the wheel slot replaced: each batch merged into its key's at once.
    fn merged_at_once(batches: &[RetryBatch]) -> Vec<RetryBatch> {
        let mut map: BTreeMap<(u32, u32), RetryBatch> = BTreeMap::new();
        for batch in batches {
            match map.get_mut(&(batch.shard_slot, batch.attempt)) {
                Some(last) => merge_into(last, batch),
                None => {
                    map.insert((batch.shard_slot, batch.attempt), *batch);
                }
            }
        }
        map.into_values().collect()
    }

    /// A batch for one of `shards` shards: a few keys, or many, merged early when a
    /// slot's unsorted part outgrows its bound; attempts small and very large.
    fn batch(shards: u32) -> impl Strategy<Value = RetryBatch> {
        // Attempts past 255 too: a KPL record retries until its TTL, not a count.
        let attempt = prop_oneof![4 => 1u32..4, 1 => 250u32..262, 1 => Just(u32::MAX)];
        (0..shards, attempt, 1u64..50, 0u64..1_000_000, 0u64..1_000_000).prop_map(
            |(shard_slot, attempt, user_records, created_ns, sleep_prev_ns)| RetryBatch {
                shard_slot,
                attempt,
                records: user_records,
                user_records,
                bytes: user_records * 100,
                created_ns,
                sleep_prev_ns,
            },
        )
    }

    proptest! {
        /// Merging when drained (and early, when a slot doubles) gives the batches, in
        /// the order, of merging each batch at once: the same retries, byte for byte.
        #[test]
        fn a_wheel_slot_drains_what_merging_at_once_gives(
            shards in prop_oneof![Just(6u32), Just(400u32)],
            rounds in prop::collection::vec(prop::collection::vec(batch(400), 0..1_500), 1..4),
        ) {
            let rounds: Vec<Vec<RetryBatch>> = rounds
                .into_iter()
                .map(|round| round.into_iter().map(|b| RetryBatch { shard_slot: b.shard_slot % shards, ..b }).collect())
                .collect();
            let mut slot = WheelSlot::default();
            for batches in &rounds {
                for batch in batches {
                    slot.push(*batch);
                }
                let drained: Vec<_> = slot.drain_merged().collect();
                prop_assert_eq!(drained, merged_at_once(batches));
            }
        }

        /// A reroute moves the parent's batches to the targets, merged after what they
        /// already held, as the map did.
        #[test]
        fn a_wheel_slot_reroutes_like_the_map(batches in prop::collection::vec(batch(6), 0..100)) {
            // Shard 5 already holds batches: the moved ones merge after them.
            let targets = [(5, 0.3), (6, 0.7)];
            let mut slot = WheelSlot::default();
            for batch in &batches {
                slot.push(*batch);
            }
            slot.reroute(2, &targets);
            let drained: Vec<_> = slot.drain_merged().collect();
            let mut reference = merged_at_once(&batches);
            let parents: Vec<RetryBatch> = reference.iter().copied().filter(|b| b.shard_slot == 2).collect();
            reference.retain(|b| b.shard_slot != 2);
            for parent in parents {
                reference.extend(split_batch(parent, &targets));
            }
            prop_assert_eq!(drained, merged_at_once(&reference));
        }
    }
}
