//! Coasting: quiet shards whose reads are served a window at a time (`coast`, DESIGN
//! "The engine").
//!
//! A month of a large stream is mostly shards below their limits, read by pollers that
//! keep up. Stepping each of them every second repeats the same work: every record
//! admitted, a block stored, every poll reading what arrived since the one before. A
//! coasting shard still has its records drawn every step, as stepping would draw them
//! (so counts, bytes and per-second peaks keep their law), but a step that fits its
//! allowance is only counted: the window's records are stored as one block when it
//! ends, and the window's polls are served then, in time order against the shard's
//! budget, each reading the part of the block that had arrived by its cutoff.
//!
//! Lifecycle of a shard slot:
//! - stepping -> coasting at the start of a step when [`Simulation::may_coast`] holds:
//!   the stream provisioned, the shard open, its mean under its quiet bound
//!   ([`Simulation::quiet_bound`]: the reads cannot reach a limit), no producer holding
//!   retries or an outage for it, every consumer a plain poller that keeps up, and its
//!   read budget holding what the first polls may take;
//! - coasting -> stepping at the end of its window (windows end on multiples of
//!   `coast`, and at the run's end); at any event other than a step (a period or billing
//!   hour closing, an action, a policy minute, a reshard completing: whatever reads or
//!   changes shard state sees every window flushed first); at the start of a step whose
//!   mean passes the bound (that step is stepped); and at a step whose drawn records do
//!   not fit the shard's allowance (the window ends before it, and the drawn records go
//!   through admission as that step's arrivals).
//!
//! Exact: everything written (counts, bytes, peaks, throttling, billing), every poll's
//! call and budget. Approximated (docs/model.md §11): a window's records arrive evenly
//! over it, the latencies of a window's polls are added by class of spread, and a
//! poll's limits are taken not to bind when the chance that they would is below
//! [`QUIET_LOG_PROBABILITY`].

use super::Simulation;
use crate::consumer::reader::PollOutcome;
use crate::consumer::ShardReader;
use crate::producer::{Arrival, CoastSample};
use crate::spec::{CapacityMode, ConsumerKind, Enforcement, ExperimentSpec, Fidelity};
use kinesim_sim::num::{ceil_to_count, count_to_f64};
use kinesim_sim::sample::poisson_tail_below;
use kinesim_sim::{RandomStream, SeedKey, SimTime, NANOS_PER_MS, NANOS_PER_SEC};

/// The chance, per shard and poll, that a coasting shard's poll would have hit a read
/// limit: e^-25, about 1.4e-11. A month of 200 shards read by two pollers is about 10^9
/// polls, so a run that coasts all of them misses an expected 0.01 limited poll.
pub const QUIET_LOG_PROBABILITY: f64 = -25.0;

/// Standard deviations of margin on byte totals (normal approximation of a compound
/// Poisson sum; 7 sd is a one-sided chance of about 1.3e-12).
const BYTES_MARGIN_SD: f64 = 7.0;

/// The most consumers a coasting shard has: the shard's 5 calls a second (facts §3)
/// allow at most 5 pollers calling once a second.
const COAST_READERS_MAX: usize = 5;

/// Coasting state of every shard slot.
pub(super) struct Coasting {
    /// Whether the run's set-up lets any shard coast ([`Coasting::allowed_for`]).
    allowed: bool,
    window_steps: u64,
    /// Per shard slot: whether it coasts now (no admission, storing or polls per step).
    pub(super) flags: Vec<bool>,
    /// Per shard slot: whether producers leave it out of this step's arrivals (it
    /// coasts, or its drawn records are already among them, [`Coasting::spilled`]).
    pub(super) drawn: Vec<bool>,
    start_step: Vec<u64>,
    coasting_count: usize,
    /// Per shard slot: the window's highest per-second utilisation.
    utilisation_peak: Vec<f64>,
    /// Per shard slot: the highest mean records per second under which its polls are
    /// quiet (0: never), and the read budget (bytes) a window must start with.
    bounds: Vec<f64>,
    budget_needed: Vec<f64>,
    bounds_stale: bool,
    /// Per (shard slot, producer), flat: records and bytes stored over the window.
    written: Vec<(u64, u64)>,
    /// Per shard slot: records and bytes of each step of the window (stored as a block
    /// each, as stepping stores them).
    steps: Vec<Vec<(u64, u64)>>,
    /// Per producer: this step's mean records, its draws for the shard at hand, and what
    /// it sent coasting shards this step.
    step_means: Vec<f64>,
    samples: Vec<CoastSample>,
    pub(super) sent: Vec<(u64, u64)>,
    /// Drawn records of shards that stopped coasting this step, as arrivals.
    pub(super) spilled: Vec<Arrival>,
    /// Draws of coasting shards, one block per step.
    stream: RandomStream,
    producers: usize,
    /// Shard-steps coasted (`RunSummary::coasted_shard_steps`).
    pub(super) coasted_steps: u64,
}

impl Coasting {
    pub(super) fn new(spec: &ExperimentSpec, seed: &SeedKey) -> Coasting {
        let window_steps = spec.coast_window.map_or(1, |window| window.as_nanos() / spec.step.as_nanos());
        let producers = spec.producers.len();
        Coasting {
            allowed: false,
            window_steps: window_steps.max(1),
            flags: Vec::new(),
            drawn: Vec::new(),
            start_step: Vec::new(),
            coasting_count: 0,
            utilisation_peak: Vec::new(),
            bounds: Vec::new(),
            budget_needed: Vec::new(),
            bounds_stale: true,
            written: Vec::new(),
            steps: Vec::new(),
            step_means: vec![0.0; producers],
            samples: vec![CoastSample::default(); producers],
            sent: vec![(0, 0); producers],
            spilled: Vec::new(),
            stream: RandomStream::new(seed, "coast"),
            producers,
            coasted_steps: 0,
        }
    }

    /// Whether a run may coast at all: stepped fidelity with one-second steps and fixed
    /// write windows (a second is a step), every producer's records a Poisson count sent
    /// as it comes, and every consumer a plain poller (at most [`COAST_READERS_MAX`]).
    pub(super) fn allowed_for(sim: &Simulation<'_>) -> bool {
        let spec = sim.spec;
        spec.coast_window.is_some()
            && spec.fidelity == Fidelity::Stepped
            && sim.step_ns == NANOS_PER_SEC
            && spec.stream.write_limit.enforcement == Enforcement::FixedWindow
            && !sim.producers.is_empty()
            && sim.producers.iter().all(|producer| producer.can_coast())
            && sim.consumers.len() <= COAST_READERS_MAX
            && sim.consumers.iter().all(|consumer| consumer.can_coast())
            && spec.consumers.iter().all(|consumer| matches!(consumer.kind, ConsumerKind::Polling(_)))
    }

    pub(super) fn allow(&mut self, allowed: bool) {
        self.allowed = allowed;
    }

    /// Makes room for a newly opened shard slot.
    pub(super) fn shard_opened(&mut self, slot: usize) {
        debug_assert_eq!(slot, self.flags.len());
        self.flags.push(false);
        self.drawn.push(false);
        self.start_step.push(0);
        self.utilisation_peak.push(0.0);
        self.bounds.push(0.0);
        self.budget_needed.push(f64::MAX);
        self.bounds_stale = true;
        self.written.extend(std::iter::repeat_n((0, 0), self.producers));
        self.steps.push(Vec::with_capacity(self.window_steps as usize));
    }

    /// Shares or shards changed: quiet bounds are recomputed before the next step.
    pub(super) fn shards_changed(&mut self) {
        self.bounds_stale = true;
    }

    pub(super) fn any(&self) -> bool {
        self.coasting_count > 0
    }
}

impl Simulation<'_> {
    /// Before a step's writes: ends the windows the step would break, starts windows
    /// for shards that turned quiet, and draws every coasting shard's records for the
    /// step, counting those that fit its allowance.
    pub(super) fn coast_step_begin(&mut self, index: u64, t0: SimTime, t1: SimTime) {
        if !self.coasting.allowed {
            return;
        }
        if self.coasting.bounds_stale {
            self.refresh_quiet_bounds();
        }
        for (mean, producer) in self.coasting.step_means.iter_mut().zip(&mut self.producers) {
            *mean = producer.step_mean(t0, t1, self.spec.start_unix_s);
        }
        self.coasting.sent.fill((0, 0));
        self.coasting.stream.set_step(index);
        let provisioned = self.mode == CapacityMode::Provisioned;
        for slot in 0..self.shards.ids.len() {
            self.coasting.drawn[slot] = false;
            if !self.shards.open[slot] {
                debug_assert!(!self.coasting.flags[slot], "closed shards do not coast");
                continue;
            }
            let mean: f64 = (0..self.coasting.producers)
                .map(|p| self.coasting.step_means[p] * self.producers[p].shares()[slot])
                .sum();
            let quiet = provisioned && mean <= self.coasting.bounds[slot];
            if self.coasting.flags[slot] {
                if !quiet {
                    self.coast_flush(slot, index);
                    continue;
                }
            } else if quiet && self.may_coast(slot, t0) {
                let coasting = &mut self.coasting;
                coasting.flags[slot] = true;
                coasting.start_step[slot] = index;
                coasting.utilisation_peak[slot] = 0.0;
                coasting.coasting_count += 1;
            } else {
                continue;
            }
            self.coast_draw(slot, index, t0, t1);
        }
    }

    /// Draws a coasting shard's records for step `index`: counted into its window when
    /// they fit its allowance (a fixed window per second: all of them are admitted);
    /// otherwise the window ends before the step and they become the step's arrivals.
    fn coast_draw(&mut self, slot: usize, index: u64, t0: SimTime, t1: SimTime) {
        let coasting = &mut self.coasting;
        let rng = coasting.stream.rng();
        let (mut records, mut bytes) = (0, 0);
        for (p, producer) in self.producers.iter_mut().enumerate() {
            let mean = coasting.step_means[p] * producer.shares()[slot];
            let sample = if mean > 0.0 { producer.coast_sample(slot, mean, rng) } else { CoastSample::default() };
            producer.coast_offered(&sample);
            records += sample.records;
            bytes += sample.bytes;
            coasting.samples[p] = sample;
        }
        coasting.drawn[slot] = true;
        let limit = &self.spec.stream.write_limit;
        if records <= limit.records_per_s && bytes <= limit.bytes_per_s {
            for p in 0..coasting.producers {
                let sample = coasting.samples[p];
                let written = &mut coasting.written[slot * coasting.producers + p];
                written.0 += sample.records;
                written.1 += sample.bytes;
                coasting.sent[p].0 += sample.records;
                coasting.sent[p].1 += sample.bytes;
            }
            debug_assert!(coasting.steps[slot].len() < coasting.steps[slot].capacity(), "a window holds its steps");
            coasting.steps[slot].push((records, bytes));
            let utilisation = (count_to_f64(records) / count_to_f64(limit.records_per_s))
                .max(count_to_f64(bytes) / count_to_f64(limit.bytes_per_s));
            coasting.utilisation_peak[slot] = coasting.utilisation_peak[slot].max(utilisation);
            return;
        }
        self.coast_flush(slot, index);
        for p in 0..self.coasting.producers {
            let sample = self.coasting.samples[p];
            if sample.records > 0 {
                let arrival = self.producers[p].coast_arrival(p as u32, slot, &sample, t0, t1);
                self.coasting.spilled.push(arrival);
            }
        }
    }

    /// After a step: flushes every window that ends with it.
    pub(super) fn coast_step_end(&mut self, index: u64) {
        let steps_total = self.spec.duration.as_nanos().div_ceil(self.step_ns);
        let next = index + 1;
        if self.coasting.any() && (next.is_multiple_of(self.coasting.window_steps) || next == steps_total) {
            self.coast_flush_all(next);
        }
    }

    /// Flushes every window in progress through step `end_step` (exclusive).
    pub(super) fn coast_flush_all(&mut self, end_step: u64) {
        for slot in 0..self.coasting.flags.len() {
            if self.coasting.flags[slot] {
                self.coast_flush(slot, end_step);
            }
        }
        debug_assert_eq!(self.coasting.coasting_count, 0);
    }

    /// Whether `slot` may start coasting at `t0` (its mean aside): what stepping would
    /// do with it depends on nothing but its own Poisson arrivals and keeping-up polls.
    fn may_coast(&self, slot: usize, t0: SimTime) -> bool {
        let t0_ns = t0.as_nanos();
        let limit = &self.spec.stream.read_limit;
        let log = &self.shards.logs[slot];
        self.producers.iter().all(|producer| producer.is_steady_for(slot, t0_ns))
            && self.shards.budgets[slot].bytes_at(limit, t0_ns) >= self.coasting.budget_needed[slot]
            && self.consumers.iter().all(|consumer| consumer.keeps_up(slot, log, t0_ns))
    }

    /// Each open shard's quiet bound ([`Simulation::quiet_bound`]) and the read budget
    /// it needs at a window's start.
    fn refresh_quiet_bounds(&mut self) {
        for slot in 0..self.shards.ids.len() {
            let (bound, budget) = if self.shards.open[slot] { self.quiet_bound(slot) } else { (0.0, f64::MAX) };
            self.coasting.bounds[slot] = bound;
            self.coasting.budget_needed[slot] = budget;
        }
        self.coasting.bounds_stale = false;
    }

    /// The largest mean records per second of `slot` under which no call's records or
    /// bytes and no call's budget can reach their limits but with a chance below the
    /// margins; and the read budget a window must start with. (Writes need no bound:
    /// each step's draws are checked against the allowance.)
    ///
    /// A poller that keeps up reads at most one gap's arrivals per call, so the pollers
    /// take at most their rates plus one gap each from the shard's byte bucket: with the
    /// rates under the refill and the bucket holding the gaps at the start, it never
    /// runs dry. Every condition grows with the mean, so the bound is found by bisection.
    fn quiet_bound(&self, slot: usize) -> (f64, f64) {
        // The widest byte law of the shard's producers stands for all of them.
        let (mut bytes_mean, mut bytes_square) = (0.0_f64, 0.0_f64);
        for producer in &self.producers {
            let (mean, square) = producer.record_bytes_moments(slot);
            bytes_mean = bytes_mean.max(mean);
            bytes_square = bytes_square.max(square);
        }
        let bytes_high =
            |records_mean: f64| records_mean * bytes_mean + BYTES_MARGIN_SD * (records_mean * bytes_square).sqrt();
        let read = &self.spec.stream.read_limit;
        let delay_s = self.spec.stream.propagation_delay.as_secs_f64();
        let calls_per_s: u64 =
            self.consumers.iter().map(|consumer| NANOS_PER_SEC.div_ceil(consumer.poll_shape().0.max(1))).sum();
        if calls_per_s > u64::from(read.calls_per_s) {
            return (0.0, f64::MAX);
        }
        let gap_s = |consumer: &ShardReader| consumer.poll_shape().1 as f64 / NANOS_PER_SEC as f64;
        let readers = self.consumers.len() as f64;
        let gaps_s: f64 = self.consumers.iter().map(|consumer| gap_s(consumer) + delay_s).sum();
        let budget_needed = |mean: f64| bytes_high(mean * gaps_s);
        let quiet = |mean: f64| {
            let calls = self.consumers.iter().all(|consumer| {
                let (_, _, records_max, bytes_max) = consumer.poll_shape();
                let call_mean = mean * gap_s(consumer);
                poisson_tail_below(call_mean, records_max, QUIET_LOG_PROBABILITY)
                    && bytes_high(call_mean) <= count_to_f64(bytes_max)
            });
            calls
                && bytes_high(mean * readers) <= count_to_f64(read.bytes_per_s)
                && budget_needed(mean) <= count_to_f64(read.depth_bytes)
        };
        // No shard takes more than its write limit a second.
        let (mut low, mut high) = (0.0, count_to_f64(self.spec.stream.write_limit.records_per_s));
        if !quiet(low) {
            return (0.0, f64::MAX);
        }
        if quiet(high) {
            return (high, budget_needed(high));
        }
        for _ in 0..48 {
            let middle = 0.5 * (low + high);
            if quiet(middle) {
                low = middle;
            } else {
                high = middle;
            }
        }
        (low, budget_needed(low))
    }

    /// Ends `slot`'s window before step `end_step`: stores its records as one block,
    /// counts them, and serves its polls.
    pub(super) fn coast_flush(&mut self, slot: usize, end_step: u64) {
        let coasting = &mut self.coasting;
        debug_assert!(coasting.flags[slot]);
        coasting.flags[slot] = false;
        coasting.coasting_count -= 1;
        let start_step = coasting.start_step[slot];
        let steps = end_step - start_step;
        coasting.coasted_steps += steps;
        if steps == 0 {
            // The window's first step did not fit: nothing was counted into it.
            return;
        }
        let (t0_ns, t1_ns) = (start_step * self.step_ns, end_step * self.step_ns);
        let age_ns = self.coast_store(slot, t0_ns);
        let utilisation = self.coasting.utilisation_peak[slot];
        let period = &mut self.shards.period[slot];
        period.utilisation_peak = period.utilisation_peak.max(utilisation);
        period.demand_peak = period.demand_peak.max(utilisation);
        let stream = &mut self.stream_period;
        stream.utilisation_peak = stream.utilisation_peak.max(utilisation);
        stream.demand_peak = stream.demand_peak.max(utilisation);
        let log = &mut self.shards.logs[slot];
        debug_assert_eq!(self.coasting.steps[slot].len() as u64, steps);
        for (step, &(records, bytes)) in self.coasting.steps[slot].iter().enumerate() {
            let step_t0_ns = t0_ns + step as u64 * self.step_ns;
            log.append(records, records, bytes, step_t0_ns, step_t0_ns + self.step_ns - 1, age_ns);
        }
        self.coasting.steps[slot].clear();
        self.coast_read(slot, t1_ns);
        self.expire_shard(slot, SimTime::from_nanos(t1_ns));
    }

    /// Settles a window's records into `slot` with their producers and counts them as
    /// stored; returns their mean age at arrival.
    fn coast_store(&mut self, slot: usize, t0_ns: u64) -> u64 {
        let (mut records, mut bytes, mut age_sum_ns) = (0_u64, 0_u64, 0_u128);
        for p in 0..self.coasting.producers {
            let (written, written_bytes) =
                std::mem::take(&mut self.coasting.written[slot * self.coasting.producers + p]);
            let producer = &mut self.producers[p];
            let age_ns = producer.coast_accepted(written, t0_ns);
            if written == 0 {
                continue;
            }
            self.cost_meter.accepted_expected(
                self.mode,
                written,
                written_bytes,
                producer.billing_per_record(slot as u32),
            );
            self.api_totals.count_accepted(producer.sends_put_record(), written, written_bytes);
            records += written;
            bytes += written_bytes;
            age_sum_ns += u128::from(written) * u128::from(age_ns);
        }
        let period = &mut self.shards.period[slot];
        period.incoming_records += records;
        period.incoming_bytes += bytes;
        let stream = &mut self.stream_period;
        stream.incoming_records += records;
        stream.incoming_user_records += records;
        stream.incoming_bytes += bytes;
        self.incoming_records_total += records;
        self.incoming_bytes_total += bytes;
        let window = &mut self.shards.since_evaluation[slot];
        window.0 += records;
        window.1 += bytes;
        if records == 0 {
            0
        } else {
            (age_sum_ns / u128::from(records)) as u64
        }
    }

    /// Serves the window's polls of `slot` (due before `t1_ns`): first, in time order,
    /// any that reach before the log's fine blocks, the usual way; then each consumer's
    /// others by [`ShardReader::coast_polls`]. Their counts are added once.
    fn coast_read(&mut self, slot: usize, t1_ns: u64) {
        let limit = &self.spec.stream.read_limit;
        let mut sum = PollOutcome::default();
        let (mut calls, mut throttled_calls) = (0, 0);
        let polls_max = self.consumers.len() as u64 * (self.coasting.window_steps * self.step_ns / NANOS_PER_MS + 1);
        loop {
            let log = &self.shards.logs[slot];
            let due =
                |consumer: &ShardReader| consumer.next_poll_ns(slot) < t1_ns && !consumer.reads_fine_blocks(slot, log);
            let Some(consumer_slot) = (0..self.consumers.len())
                .filter(|&c| due(&self.consumers[c]))
                .min_by_key(|&c| (self.consumers[c].next_poll_ns(slot), c))
            else {
                break;
            };
            let consumer = &mut self.consumers[consumer_slot];
            let outcome = consumer.poll::<false>(slot, log, &mut self.shards.budgets[slot], limit);
            sum.records += outcome.records;
            sum.bytes += outcome.bytes;
            sum.bytes_past_week += outcome.bytes_past_week;
            sum.iterator_age_ms = sum.iterator_age_ms.max(outcome.iterator_age_ms);
            throttled_calls += u64::from(outcome.throttled);
            calls += 1;
            assert!(calls <= polls_max, "polls per shard per window are bounded by the poll interval");
        }
        let mut last_calls = [(0, 0); COAST_READERS_MAX];
        for (consumer_slot, consumer) in self.consumers.iter_mut().enumerate() {
            let reads = consumer.coast_polls(slot, &self.shards.logs[slot], t1_ns);
            debug_assert!(consumer.next_poll_ns(slot) >= t1_ns, "every poll of the window is served");
            sum.records += reads.records;
            sum.bytes += reads.bytes;
            sum.iterator_age_ms = sum.iterator_age_ms.max(reads.iterator_age_ms_max);
            calls += reads.calls;
            if reads.calls > 0 {
                last_calls[consumer_slot] = (reads.last_poll_ns, reads.last_bytes);
            }
            consumer.coast_settle_latencies(slot);
        }
        self.shards.budgets[slot].settle_coasted(limit, t1_ns, last_calls.into_iter());
        self.cost_meter.read(self.mode, false, sum.bytes, sum.bytes_past_week);
        let api = &mut self.api_totals;
        api.get_records_requests += calls;
        api.get_records_records += sum.records;
        api.get_records_bytes += sum.bytes;
        api.get_records_iterator_age_ms_max =
            api.get_records_iterator_age_ms_max.max(ceil_to_count(sum.iterator_age_ms));
        let period = &mut self.shards.period[slot];
        period.read_records += sum.records;
        period.read_bytes += sum.bytes;
        period.read_throttled_calls += throttled_calls;
        period.iterator_age_ms_max = period.iterator_age_ms_max.max(sum.iterator_age_ms);
        let stream = &mut self.stream_period;
        stream.read_records += sum.records;
        stream.read_bytes += sum.bytes;
        stream.read_throttled_calls += throttled_calls;
        stream.iterator_age_ms_max = stream.iterator_age_ms_max.max(sum.iterator_age_ms);
    }
}
