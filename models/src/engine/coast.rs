//! Coasting: quiet shards advanced a window at a time (`coast`, docs/model.md §1.2).
//!
//! A month of a large stream is mostly shards below their limits, read by pollers that
//! keep up. Stepping each of them every second repeats the same work: every record
//! admitted, a block stored, every poll reading what arrived since the one before. A
//! coasting shard skips it. Its steps are only counted; when its window ends, the
//! window's records are stored as one block (spread evenly over the window, as a step's
//! block spreads a step's records) and the window's polls are served against it.
//!
//! Writes, two ways:
//! - *far* from the write limit (the chance that a second's records or bytes reach it
//!   below e^-25), at steady rates, with records of one size: each step adds the
//!   producers' expected records for the shard, and the window's records are one Poisson
//!   draw per producer at its end (a sum of independent Poisson counts is one), its
//!   busiest second the largest of its seconds' equal counts; exact in law;
//! - otherwise (*near*): each step's records are drawn as stepping draws them, and a step
//!   whose draw does not fit the shard's allowance ends the window before it and goes
//!   through admission as the step's arrivals, so throttling stays exact.
//!
//! Reads: the polls of each consumer are timed one by one (interval plus jitter, as
//! stepping draws them), each reading what had arrived by its cutoff; the records they
//! read are counted once, their latencies added later as the law of a window's reads
//! ([`ShardReader::coast_settle_latencies`]). A poll that reaches back before the window's
//! block is served the usual way first.
//!
//! Lifecycle of a shard slot:
//! - stepping -> coasting at the start of a step when [`Simulation::may_coast`] holds:
//!   the stream provisioned, the shard open, its mean rate from [`COAST_RATE_MIN`] up to
//!   its quiet bound ([`Simulation::quiet_bounds`]: its polls cannot reach a limit), no
//!   producer holding retries or an outage for it, every consumer a plain poller that
//!   keeps up, and its read budget holding what the first polls may take;
//! - coasting -> stepping at the end of its window (windows end on multiples of
//!   `coast`, and at the run's end); at any event other than a step (a period or billing
//!   hour closing, an action, a policy minute, a reshard completing: whatever reads or
//!   changes shard state sees every window flushed first); at the start of a step whose
//!   mean leaves the window's range (that step is stepped); and at a near window's step
//!   whose draw does not fit the allowance.

use super::{Simulation, StepStore};
use crate::consumer::reader::PollOutcome;
use crate::consumer::{CoastBlocks, ShardReader};
use crate::producer::{Arrival, CoastSample, CoastSent};
use crate::spec::{CapacityMode, Enforcement, ExperimentSpec, Fidelity};
use kinesim_sim::num::count_to_f64;
use kinesim_sim::sample::poisson_tail_below;
use kinesim_sim::{PoissonTail, RandomStream, SeedKey, SimTime, NANOS_PER_MS, NANOS_PER_SEC};

/// The chance, per shard and second or poll, that a coasting shard would have reached a
/// limit: e^-25, about 1.4e-11. A month of 200 shards read by two pollers is about 10^9
/// seconds and polls, so a run that coasts all of them misses an expected 0.01.
pub const QUIET_LOG_PROBABILITY: f64 = -25.0;

/// Standard deviations of margin on byte totals (normal approximation of a compound
/// Poisson sum; 7 sd is a one-sided chance of about 1.3e-12).
const BYTES_MARGIN_SD: f64 = 7.0;

/// The least mean rate (records per second) at which a shard coasts. A window's block
/// spreads its records evenly over the window where stepping spreads each step's over
/// the step; at this rate or more, the worst iterator age, which depends on the spacing
/// of the records before a poll's cutoff, differs by a few milliseconds at most
/// (docs/model.md §11). Slower shards cost little to step.
pub const COAST_RATE_MIN: f64 = 100.0;

/// The most consumers a coasting shard has: the shard's 5 calls a second (facts §3)
/// allow at most 5 pollers calling once a second.
const COAST_READERS_MAX: usize = 5;

/// How a window's records are drawn.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Draws {
    /// Once, at the window's end, from the summed means.
    Far,
    /// Every step, checked against the allowance.
    Near,
}

/// Coasting state of every shard slot.
pub(super) struct Coasting {
    /// Whether the run's set-up lets any shard coast ([`Coasting::allowed_for`]), and
    /// whether every producer's records are of one size (far windows need it).
    allowed: bool,
    sizes_fixed: bool,
    window_steps: u64,
    /// The run's steps: the last one ends every window.
    steps_total: u64,
    /// Per shard slot: whether it coasts now (no admission, storing or polls per step).
    pub(super) flags: Vec<bool>,
    draws: Vec<Draws>,
    start_step: Vec<u64>,
    /// Per shard slot: the mean records a step when its window started (what a far
    /// window draws its busiest second from: its rates hold), and a near window's
    /// highest per-second utilisation.
    step_mean: Vec<f64>,
    utilisation_peak: Vec<f64>,
    /// Per shard slot: the tail table of its last far window's highest mean, kept while
    /// the mean holds (a steady rate draws every window's peak from one table).
    peak_tails: Vec<Option<PoissonTail>>,
    /// Per shard slot: the highest mean records per second under which its writes are
    /// far from the limit, and its polls quiet (0: never); the read budget (bytes) a
    /// window must start with.
    write_bounds: Vec<f64>,
    read_bounds: Vec<f64>,
    budget_needed: Vec<f64>,
    bounds_stale: bool,
    /// Per (shard slot, producer), flat: the producer's summed step means when a far
    /// window started ([`Coasting::mean_sums`]), or the records and bytes drawn over a
    /// near one.
    baselines: Vec<f64>,
    written: Vec<(u64, u64)>,
    /// Per producer: its step means summed over the run so far (a far window's expected
    /// records are its share of the difference), the last step's mean, and the sum of
    /// its shares of the shards in far windows.
    mean_sums: Vec<f64>,
    last_means: Vec<f64>,
    far_shares: Vec<f64>,
    /// Per producer: its shares of the far windows' shards weighed by their mean key
    /// bytes (over `far_shares`, a far record's mean key bytes).
    far_key_bytes: Vec<f64>,
    /// Slots not coasting (each step's per-shard work runs over them), in slot order,
    /// kept as windows start and end; and those the producers draw for (not coasting,
    /// nor spilled this step), rebuilt when stale, as are the far shares.
    pub(super) stepping: Vec<usize>,
    pub(super) to_emit: Vec<usize>,
    to_emit_stale: bool,
    /// Slots not in far windows (stepping or near), in slot order, kept as windows
    /// start and end: what a step's pre-pass visits while rates hold; and its scratch
    /// copy (the pass starts and ends windows as it goes).
    not_far: Vec<usize>,
    not_far_pass: Vec<usize>,
    far_shares_stale: bool,
    spilled_slots: Vec<usize>,
    /// Per producer: this step's mean records, its draws for the shard at hand, and what
    /// it sent coasting shards this step (near: drawn records and bytes; far: expected
    /// records).
    step_means: Vec<f64>,
    samples: Vec<CoastSample>,
    pub(super) sent: Vec<CoastSent>,
    /// Drawn records of shards that stopped coasting this step, as arrivals.
    pub(super) spilled: Vec<Arrival>,
    /// Near windows' draws, one block per step.
    step_stream: RandomStream,
    /// Per shard slot: far windows' draws, in the order its windows end.
    window_streams: Vec<RandomStream>,
    seed: SeedKey,
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
            sizes_fixed: false,
            window_steps: window_steps.max(1),
            steps_total: spec.duration.as_nanos().div_ceil(spec.step.as_nanos()),
            flags: Vec::new(),
            draws: Vec::new(),
            start_step: Vec::new(),
            step_mean: Vec::new(),
            utilisation_peak: Vec::new(),
            peak_tails: Vec::new(),
            write_bounds: Vec::new(),
            read_bounds: Vec::new(),
            budget_needed: Vec::new(),
            bounds_stale: true,
            baselines: Vec::new(),
            written: Vec::new(),
            mean_sums: vec![0.0; producers],
            last_means: vec![f64::NAN; producers],
            far_shares: vec![0.0; producers],
            far_key_bytes: vec![0.0; producers],
            stepping: Vec::new(),
            to_emit: Vec::new(),
            to_emit_stale: true,
            not_far: Vec::new(),
            not_far_pass: Vec::new(),
            far_shares_stale: true,
            spilled_slots: Vec::new(),
            step_means: vec![0.0; producers],
            samples: vec![CoastSample::default(); producers],
            sent: vec![CoastSent::default(); producers],
            spilled: Vec::new(),
            step_stream: RandomStream::new(seed, "coast/steps"),
            window_streams: Vec::new(),
            seed: *seed,
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
    }

    pub(super) fn allow(&mut self, allowed: bool, sizes_fixed: bool) {
        self.allowed = allowed;
        self.sizes_fixed = sizes_fixed;
    }

    /// Makes room for a newly opened shard slot.
    pub(super) fn shard_opened(&mut self, slot: usize) {
        debug_assert_eq!(slot, self.flags.len());
        self.flags.push(false);
        self.draws.push(Draws::Far);
        self.start_step.push(0);
        self.step_mean.push(0.0);
        self.utilisation_peak.push(0.0);
        self.peak_tails.push(None);
        self.write_bounds.push(0.0);
        self.read_bounds.push(0.0);
        self.budget_needed.push(f64::MAX);
        self.bounds_stale = true;
        self.baselines.extend(std::iter::repeat_n(0.0, self.producers));
        self.stepping.push(slot);
        self.not_far.push(slot);
        self.to_emit_stale = true;
        self.written.extend(std::iter::repeat_n((0, 0), self.producers));
        self.window_streams.push(RandomStream::new(&self.seed, &format!("coast/windows/{slot}")));
    }

    /// Shares or shards changed: quiet bounds are recomputed before the next step.
    pub(super) fn shards_changed(&mut self) {
        self.bounds_stale = true;
        self.far_shares_stale = true;
    }

    /// Marks `slot` as coasting or stepping (its window's draws set before it starts),
    /// keeping the stepping and not-far lists in slot order.
    fn set_coasting(&mut self, slot: usize, coasting: bool) {
        debug_assert_ne!(self.flags[slot], coasting);
        self.flags[slot] = coasting;
        set_member(&mut self.stepping, slot, !coasting);
        if self.draws[slot] == Draws::Far {
            set_member(&mut self.not_far, slot, !coasting);
            self.far_shares_stale = true;
        }
        self.to_emit_stale = true;
    }

    /// Whether any shard coasts: the stepping list holds every slot that does not.
    pub(super) fn any(&self) -> bool {
        self.stepping.len() < self.flags.len()
    }

    /// How a window at `mean` records per second would draw, if it may coast at all:
    /// once at its end only where that is exact in law (far from the write limit, the
    /// rates steady since the last step, and every record of one size, so that a
    /// second's bytes follow its records and the busiest second is the largest of equal
    /// Poisson counts); otherwise step by step.
    fn draws_for(&self, slot: usize, mean: f64, rates_changed: bool) -> Option<Draws> {
        if !(COAST_RATE_MIN..=self.read_bounds[slot]).contains(&mean) {
            return None;
        }
        let far = self.sizes_fixed && !rates_changed && mean <= self.write_bounds[slot];
        Some(if far { Draws::Far } else { Draws::Near })
    }
}

/// Adds `slot` to or removes it from a list in slot order; it must not be in the list
/// already or must be, respectively.
fn set_member(list: &mut Vec<usize>, slot: usize, member: bool) {
    match (member, list.binary_search(&slot)) {
        (true, Err(index)) => list.insert(index, slot),
        (false, Ok(index)) => {
            list.remove(index);
        }
        _ => unreachable!("slot {slot} is already {}", if member { "in the list" } else { "out of it" }),
    }
}

impl Simulation<'_> {
    /// Before a step's writes: ends the windows the step would break, starts windows
    /// for shards that turned quiet, and counts the step into every window in progress.
    /// A far window needs no work per step unless a producer's rate changed; a near one
    /// draws its step.
    pub(super) fn coast_step_begin(&mut self, index: u64, t0: SimTime, t1: SimTime) {
        if !self.coasting.allowed {
            self.refresh_coast_lists();
            return;
        }
        if self.coasting.bounds_stale {
            self.refresh_quiet_bounds();
        }
        for (mean, producer) in self.coasting.step_means.iter_mut().zip(&mut self.producers) {
            *mean = producer.step_mean(t0, t1, self.spec.start_unix_s);
        }
        let rates_changed = self.coasting.step_means != self.coasting.last_means;
        self.coasting.last_means.clone_from(&self.coasting.step_means);
        self.coasting.sent.fill(CoastSent::default());
        self.coasting.step_stream.set_step(index);
        if !self.coasting.spilled_slots.is_empty() {
            // Last step's spilled shards are drawn by their producers again.
            self.coasting.spilled_slots.clear();
            self.coasting.to_emit_stale = true;
        }
        let provisioned = self.mode == CapacityMode::Provisioned;
        // While rates hold, far windows need nothing: the pass visits the others only.
        let mut pass = std::mem::take(&mut self.coasting.not_far_pass);
        pass.clear();
        if rates_changed {
            pass.extend(0..self.shards.ids.len());
        } else {
            pass.extend_from_slice(&self.coasting.not_far);
        }
        for &slot in &pass {
            let coasting = &self.coasting;
            // Only this slot's own window starts or ends in its turn, so a slot taken
            // from `not_far` is still not far.
            debug_assert!(rates_changed || !(coasting.flags[slot] && coasting.draws[slot] == Draws::Far));
            if !self.shards.open[slot] {
                debug_assert!(!coasting.flags[slot], "closed shards do not coast");
                continue;
            }
            let mean: f64 =
                (0..coasting.producers).map(|p| coasting.step_means[p] * self.producers[p].shares()[slot]).sum();
            let draws = if provisioned { coasting.draws_for(slot, mean, rates_changed) } else { None };
            if coasting.flags[slot] {
                if draws != Some(coasting.draws[slot]) {
                    self.coast_flush(slot, index);
                    continue;
                }
            } else if let Some(draws) = draws.filter(|_| self.may_coast(slot, t0)) {
                self.coast_start(slot, index, draws, mean);
            } else {
                continue;
            }
            if self.coasting.draws[slot] == Draws::Near {
                self.coast_draw(slot, index, t0, t1);
            }
        }
        self.coasting.not_far_pass = pass;
        // The far shares after this step's starts and ends, then this step's means.
        self.refresh_coast_lists();
        let coasting = &mut self.coasting;
        for p in 0..coasting.producers {
            coasting.mean_sums[p] += coasting.step_means[p];
            let sent = &mut coasting.sent[p];
            sent.far_mean = coasting.step_means[p] * coasting.far_shares[p];
            if coasting.far_shares[p] > 0.0 {
                sent.far_key_bytes = coasting.far_key_bytes[p] / coasting.far_shares[p];
            }
        }
    }

    /// Starts a window for `slot` at step `index`, at `mean` records a step.
    fn coast_start(&mut self, slot: usize, index: u64, draws: Draws, mean: f64) {
        let coasting = &mut self.coasting;
        coasting.draws[slot] = draws;
        coasting.set_coasting(slot, true);
        coasting.start_step[slot] = index;
        coasting.step_mean[slot] = mean;
        coasting.utilisation_peak[slot] = 0.0;
        if draws == Draws::Far {
            for p in 0..coasting.producers {
                coasting.baselines[slot * coasting.producers + p] = coasting.mean_sums[p];
            }
        }
    }

    /// Rebuilds the list of slots producers draw for and the far windows' shares (from
    /// scratch, so that no rounding accumulates), each when stale.
    fn refresh_coast_lists(&mut self) {
        let coasting = &mut self.coasting;
        if coasting.to_emit_stale {
            coasting.to_emit_stale = false;
            coasting.to_emit.clear();
            let spilled = &coasting.spilled_slots;
            coasting.to_emit.extend(coasting.stepping.iter().copied().filter(|slot| !spilled.contains(slot)));
        }
        if !coasting.far_shares_stale {
            return;
        }
        coasting.far_shares_stale = false;
        coasting.far_shares.fill(0.0);
        coasting.far_key_bytes.fill(0.0);
        for slot in (0..coasting.flags.len()).filter(|&slot| coasting.flags[slot] && coasting.draws[slot] == Draws::Far)
        {
            for (p, producer) in self.producers.iter().enumerate() {
                coasting.far_shares[p] += producer.shares()[slot];
                coasting.far_key_bytes[p] += producer.shares()[slot] * producer.key_bytes_mean()[slot];
            }
        }
    }

    /// A near window's step `index`: its records are drawn as stepping draws them and
    /// counted when they fit the shard's allowance (a fixed window per second: all of
    /// them are admitted); otherwise the window ends before the step and they become the
    /// step's arrivals.
    fn coast_draw(&mut self, slot: usize, index: u64, t0: SimTime, t1: SimTime) {
        let coasting = &mut self.coasting;
        let rng = coasting.step_stream.rng();
        let (mut records, mut bytes) = (0, 0);
        for (p, producer) in self.producers.iter_mut().enumerate() {
            let mean = coasting.step_means[p] * producer.shares()[slot];
            let sample = if mean > 0.0 { producer.coast_sample(slot, mean, rng) } else { CoastSample::default() };
            producer.coast_offered(&sample);
            records += sample.records;
            bytes += sample.bytes;
            coasting.samples[p] = sample;
        }
        let limit = &self.spec.stream.write_limit;
        if records <= limit.records_per_s && bytes <= limit.bytes_per_s {
            for p in 0..coasting.producers {
                let sample = coasting.samples[p];
                let written = &mut coasting.written[slot * coasting.producers + p];
                written.0 += sample.records;
                written.1 += sample.bytes;
                coasting.sent[p].records += sample.records;
                coasting.sent[p].bytes += sample.bytes;
            }
            let utilisation = super::utilisation_of(
                count_to_f64(records),
                count_to_f64(bytes),
                count_to_f64(limit.records_per_s),
                count_to_f64(limit.bytes_per_s),
            );
            coasting.utilisation_peak[slot] = coasting.utilisation_peak[slot].max(utilisation);
            return;
        }
        self.coast_flush(slot, index);
        self.coasting.spilled_slots.push(slot);
        for p in 0..self.coasting.producers {
            let sample = self.coasting.samples[p];
            if sample.records > 0 {
                let arrival = self.producers[p].coast_arrival(p as u32, slot, &sample, t0, t1);
                self.coasting.spilled.push(arrival);
                self.coasting.sent[p].spilled_records += sample.records;
                self.coasting.sent[p].spilled_bytes += sample.bytes;
            }
        }
    }

    /// After a step: flushes every window that ends with it.
    pub(super) fn coast_step_end(&mut self, index: u64) {
        let next = index + 1;
        let coasting = &self.coasting;
        if coasting.any() && (next.is_multiple_of(coasting.window_steps) || next == coasting.steps_total) {
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
        debug_assert!(!self.coasting.any());
    }

    /// Adds the latencies that coasting polls read to the histograms (before a period
    /// closes, and at the run's end).
    pub(super) fn coast_settle_latencies(&mut self) {
        if self.coasting.allowed {
            for consumer in &mut self.consumers {
                consumer.coast_settle_latencies();
            }
        }
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

    /// Each open shard's quiet bounds ([`Simulation::quiet_bounds`]).
    fn refresh_quiet_bounds(&mut self) {
        for slot in 0..self.shards.ids.len() {
            let (write, read, budget) =
                if self.shards.open[slot] { self.quiet_bounds(slot) } else { (0.0, 0.0, f64::MAX) };
            self.coasting.write_bounds[slot] = write;
            self.coasting.read_bounds[slot] = read;
            self.coasting.budget_needed[slot] = budget;
        }
        self.coasting.bounds_stale = false;
    }

    /// The largest mean records per second of `slot` under which no second's records or
    /// bytes reach the write limit, and under which no call's records or bytes and no
    /// call's budget reach theirs, but with a chance below the margins; and the read
    /// budget a window must start with.
    ///
    /// A poller that keeps up reads at most one gap's arrivals per call, so the pollers
    /// take at most their rates plus one gap each from the shard's byte bucket: with the
    /// rates under the refill and the bucket holding the gaps at the start, it never
    /// runs dry. Every condition grows with the mean, so the bounds are found by
    /// bisection.
    fn quiet_bounds(&self, slot: usize) -> (f64, f64, f64) {
        // The widest byte law of the shard's producers stands for all of them.
        let (mut bytes_mean, mut bytes_square) = (0.0_f64, 0.0_f64);
        for producer in &self.producers {
            let (mean, square) = producer.record_bytes_moments(slot);
            bytes_mean = bytes_mean.max(mean);
            bytes_square = bytes_square.max(square);
        }
        let bytes_high =
            |records_mean: f64| records_mean * bytes_mean + BYTES_MARGIN_SD * (records_mean * bytes_square).sqrt();
        let write = &self.spec.stream.write_limit;
        let read = &self.spec.stream.read_limit;
        let delay_s = self.spec.stream.propagation_delay.as_secs_f64();
        let gap_s = |consumer: &ShardReader| consumer.poll_shape().1 as f64 / NANOS_PER_SEC as f64;
        let readers = self.consumers.len() as f64;
        let gaps_s: f64 = self.consumers.iter().map(|consumer| gap_s(consumer) + delay_s).sum();
        let budget_needed = |mean: f64| bytes_high(mean * gaps_s);
        let writes_quiet = |mean: f64| {
            poisson_tail_below(mean, write.records_per_s, QUIET_LOG_PROBABILITY)
                && bytes_high(mean) <= count_to_f64(write.bytes_per_s)
        };
        let calls_per_s: u64 =
            self.consumers.iter().map(|consumer| NANOS_PER_SEC.div_ceil(consumer.poll_shape().0.max(1))).sum();
        let reads_quiet = |mean: f64| {
            calls_per_s <= u64::from(read.calls_per_s)
                && self.consumers.iter().all(|consumer| {
                    let (_, _, records_max, bytes_max) = consumer.poll_shape();
                    let call_mean = mean * gap_s(consumer);
                    poisson_tail_below(call_mean, records_max, QUIET_LOG_PROBABILITY)
                        && bytes_high(call_mean) <= count_to_f64(bytes_max)
                })
                && bytes_high(mean * readers) <= count_to_f64(read.bytes_per_s)
                && budget_needed(mean) <= count_to_f64(read.depth_bytes)
        };
        // No shard takes more than its write limit a second.
        let records_limit = count_to_f64(write.records_per_s);
        let read_bound = largest_below(records_limit, reads_quiet);
        (largest_below(records_limit, writes_quiet).min(read_bound), read_bound, budget_needed(read_bound))
    }

    /// Ends `slot`'s window before step `end_step`: draws or settles its records, stores
    /// them as one block, counts them, and serves its polls.
    pub(super) fn coast_flush(&mut self, slot: usize, end_step: u64) {
        let coasting = &mut self.coasting;
        debug_assert!(coasting.flags[slot]);
        coasting.set_coasting(slot, false);
        let start_step = coasting.start_step[slot];
        let steps = end_step - start_step;
        coasting.coasted_steps += steps;
        if steps == 0 {
            // The window's first step did not fit: nothing was counted into it.
            return;
        }
        let (t0_ns, t1_ns) = (start_step * self.step_ns, end_step * self.step_ns);
        let (records, bytes, age_ns) = self.coast_store(slot, t0_ns);
        let coasting = &mut self.coasting;
        let utilisation = match coasting.draws[slot] {
            Draws::Near => coasting.utilisation_peak[slot],
            Draws::Far => {
                let mean = coasting.step_mean[slot];
                let tail = match &mut coasting.peak_tails[slot] {
                    Some(tail) if tail.mean() == mean => tail,
                    cached => cached.insert(PoissonTail::new(mean)),
                };
                let rng = coasting.window_streams[slot].rng();
                let peak = if steps == 1 { records } else { tail.max_of(rng, steps) };
                let write = &self.spec.stream.write_limit;
                let bytes_per_record = if records > 0 { count_to_f64(bytes) / count_to_f64(records) } else { 0.0 };
                super::utilisation_of(
                    count_to_f64(peak),
                    count_to_f64(peak) * bytes_per_record,
                    count_to_f64(write.records_per_s),
                    count_to_f64(write.bytes_per_s),
                )
            }
        };
        // Nothing was refused: the demand peaked with the utilisation.
        self.note_second_peaks(slot, utilisation, utilisation);
        self.shards.logs[slot].append(records, records, bytes, t0_ns, t1_ns - 1, age_ns);
        self.coast_read(slot, t1_ns);
        self.expire_shard(slot, SimTime::from_nanos(t1_ns));
    }

    /// Settles a window's records into `slot` with their producers (drawing them, for a
    /// far window) and counts them as stored; returns (records, bytes, mean age at
    /// arrival).
    fn coast_store(&mut self, slot: usize, t0_ns: u64) -> (u64, u64, u64) {
        let producers = self.coasting.producers;
        let (mut records, mut bytes, mut age_sum_ns) = (0_u64, 0_u64, 0_u128);
        for p in 0..producers {
            let flat = slot * producers + p;
            let (mut written, mut written_bytes) = std::mem::take(&mut self.coasting.written[flat]);
            let producer = &mut self.producers[p];
            let mean = (self.coasting.mean_sums[p] - self.coasting.baselines[flat]) * producer.shares()[slot];
            if self.coasting.draws[slot] == Draws::Far && mean > 0.0 {
                // The shard's own stream, drawn on from window to window: the draws do
                // not depend on what other shards drew.
                let rng = self.coasting.window_streams[slot].rng();
                let sample = producer.coast_window_sample(slot, mean, rng);
                producer.coast_offered(&sample);
                (written, written_bytes) = (sample.records, sample.bytes);
            }
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
        // Coasting producers neither aggregate nor get throttled.
        let stored = StepStore { kinesis_records: records, records, bytes, age_sum_ns };
        self.count_stored(slot, &stored, 0);
        (records, bytes, stored.age_mean_ns())
    }

    /// Serves the window's polls of `slot` (due before `t1_ns`): first, in time order,
    /// any that reach back before the window's block, the usual way; then each
    /// consumer's others by [`ShardReader::coast_polls`]. Their counts are added once.
    fn coast_read(&mut self, slot: usize, t1_ns: u64) {
        let log = &self.shards.logs[slot];
        let window = *log.newest().expect("a coasting shard holds its window's block");
        let previous = log.second_newest().copied().filter(|previous| previous.offset_end() == window.offset_first);
        let blocks = CoastBlocks { previous, window, readable_delay_ns: self.spec.stream.propagation_delay.as_nanos() };
        let limit = &self.spec.stream.read_limit;
        let mut sum = PollOutcome::default();
        let (mut calls, mut throttled_calls) = (0, 0);
        let polls_max = self.consumers.len() as u64 * (self.coasting.window_steps * self.step_ns / NANOS_PER_MS + 1);
        // Polls that reach back before the window's block, in time order.
        while let Some(consumer_slot) = self.next_poller(slot, t1_ns, |c| !c.reaches_only(slot, &blocks)) {
            let consumer = &mut self.consumers[consumer_slot];
            let outcome = consumer.poll::<false>(slot, &self.shards.logs[slot], &mut self.shards.budgets[slot], limit);
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
            let reads = consumer.coast_polls(slot, &blocks, t1_ns);
            debug_assert!(consumer.next_poll_ns(slot) >= t1_ns, "every poll of the window is served");
            sum.records += reads.records;
            sum.bytes += reads.bytes;
            sum.iterator_age_ms = sum.iterator_age_ms.max(reads.iterator_age_ms_max);
            calls += reads.calls;
            if reads.calls > 0 {
                last_calls[consumer_slot] = (reads.last_poll_ns, reads.last_bytes);
            }
        }
        self.shards.budgets[slot].settle_coasted(limit, t1_ns, last_calls.into_iter());
        self.count_reads(slot, &sum, calls, throttled_calls, false);
    }
}

/// The largest mean in `[0, high]` at which `quiet` holds (0 when it does not hold at
/// 0), for a `quiet` that holds up to some mean and not beyond.
fn largest_below(high: f64, quiet: impl Fn(f64) -> bool) -> f64 {
    if !quiet(0.0) {
        return 0.0;
    }
    if quiet(high) {
        return high;
    }
    let (mut low, mut high) = (0.0, high);
    for _ in 0..48 {
        let middle = 0.5 * (low + high);
        if quiet(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    low
}
