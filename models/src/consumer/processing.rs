//! What a consumer does with the records it fetched: process them in batches, on one
//! lane per shard (a KCL record processor, a polling application) or several (a Lambda
//! event source mapping with a parallelization factor).
//!
//! Lifecycle: a fetch hands records to the shard's lanes, split by partition key (records
//! of one key always go to the same lane, as Lambda keeps per-key order, so a hot key
//! gets no help from more lanes). Each lane processes a batch of up to `batch_size`
//! records at a time, for `fixed + per_record * n`; a batch may fail (`error_rate`) and be
//! retried, blocking its lane, until `max_retry_attempts`, after which it is discarded
//! (counted). Records older than `max_record_age` (for Lambda, or than the stream's
//! retention) are discarded unprocessed. Fetching
//! waits for room: at most `prefetch_records` wait per shard, so when processing cannot
//! keep up the backlog stays in the stream and the iterator age grows.
//!
//! With `concurrency_max` (a Lambda function's reserved concurrency) batches over all
//! shards and lanes share that many slots: a batch that finds none free starts when the
//! earliest running one completes (Lambda throttles and retries the invocation). Slots
//! go to batches in the order they became ready, over all shards ([`Processor::
//! process_all`], once per step after every shard's polls), so a busy shard never locks
//! the others out: ties go to the lower shard and lane.
//!
//! "Read" for such a consumer means processed: delivered to the application.

use super::ReadCounters;
use crate::spec::ProcessingSpec;
use kinesim_sim::sample::{binomial, uniform01};
use kinesim_sim::{ChaCha8Rng, SimDuration};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Records fetched together, with the time their latency counts from (creation at the
/// producer, as far as the stream knows it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub records: u64,
    pub bytes: u64,
    pub origin_ns: u64,
    /// When the records were fetched: a batch cannot start before.
    pub fetched_ns: u64,
    /// Records read before (a KCL lease resumed from its checkpoint): they take processing
    /// time again but count as `reprocessed_records`, not as read or discarded.
    pub reprocessed: bool,
}

#[derive(Clone, Debug, Default)]
struct Lane {
    queue: VecDeque<Piece>,
    queued: u64,
    /// Of `queued`, records not read before (what counts as unread at the end).
    queued_new: u64,
    queued_bytes: u64,
    busy_until_ns: u64,
    /// Failed attempts of the batch at the head of the lane.
    failures: u32,
    /// Poison records in the batch at the head of the lane, once it was first tried.
    head_poison: Option<u64>,
    /// Whether the head of the lane is poison records that bisecting isolated, which
    /// (with unlimited retries) are retried alone, blocking the lane, until they pass
    /// `max_record_age` or the stream's retention (or the run ends).
    isolated_poison: bool,
}

/// The most pieces one lane holds (a bound, asserted).
const LANE_PIECES_MAX: usize = 1 << 20;

/// Batches one lane may start in one step, whatever the durations (a bound).
const BATCHES_PER_STEP_MAX: u32 = 1_000_000;

#[derive(Clone, Debug)]
pub struct Processor {
    spec: ProcessingSpec,
    /// Per shard: lanes and the share of the shard's records each lane gets.
    lanes: Vec<Vec<Lane>>,
    weights: Vec<Vec<f64>>,
    /// Completion times of the batches holding a concurrency slot (with `concurrency_max`).
    running: BinaryHeap<Reverse<u64>>,
    /// With `concurrency_max`: the lanes with a batch ready in the step, by ready time
    /// (then shard and lane), kept between steps for its allocation.
    ready: BinaryHeap<Reverse<(u64, usize, usize)>>,
    /// Per shard: how many shards share its processing capacity (a KCL worker's leases
    /// with records to process); batches take that many times longer.
    sharing: Vec<u64>,
    /// The batch being run, kept between batches for its allocation (a batch runs
    /// every few steps on every lane: no allocation per batch).
    batch: Vec<Piece>,
    /// The oldest a waiting record may be: `max_record_age`, and the stream's retention
    /// in force when the spec says records expire with it.
    age_max_ns: Option<u64>,
}

impl Processor {
    pub fn new(spec: &ProcessingSpec) -> Processor {
        assert!(spec.lanes >= 1 && spec.batch_size >= 1);
        Processor {
            spec: spec.clone(),
            lanes: Vec::new(),
            weights: Vec::new(),
            running: BinaryHeap::new(),
            ready: BinaryHeap::new(),
            sharing: Vec::new(),
            batch: Vec::new(),
            age_max_ns: spec.max_record_age.map(SimDuration::as_nanos),
        }
    }

    /// The stream's retention is (now) `retention`: with `expires_with_retention`,
    /// records waiting longer are discarded.
    pub fn set_retention(&mut self, retention: SimDuration) {
        let by_age = self.spec.max_record_age.map(SimDuration::as_nanos);
        self.age_max_ns = match (by_age, self.spec.expires_with_retention) {
            (Some(age_ns), true) => Some(age_ns.min(retention.as_nanos())),
            (None, true) => Some(retention.as_nanos()),
            (by_age, false) => by_age,
        };
    }

    pub fn lanes(&self) -> u32 {
        self.spec.lanes
    }

    pub fn attach(&mut self, now_ns: u64) {
        let lanes = self.spec.lanes as usize;
        self.lanes.push(vec![Lane { busy_until_ns: now_ns, ..Lane::default() }; lanes]);
        self.weights.push(vec![1.0 / lanes as f64; lanes]);
        self.sharing.push(1);
    }

    /// Whether the capacity is a KCL worker's, shared by its shards.
    pub fn shared_by_worker(&self) -> bool {
        self.spec.shared_by_worker
    }

    /// Sets how many shards share this shard's processing capacity (at least 1).
    pub fn set_sharing(&mut self, shard_slot: usize, shards: u64) {
        self.sharing[shard_slot] = shards.max(1);
    }

    /// Sets how a shard's records divide over its lanes (by partition key).
    pub fn set_weights(&mut self, shard_slot: usize, weights: &[f64]) {
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            self.weights[shard_slot] = weights.iter().map(|w| w / total).collect();
        }
    }

    /// Records fetched but not processed yet on a shard.
    pub fn queued(&self, shard_slot: usize) -> u64 {
        self.lanes[shard_slot].iter().map(|lane| lane.queued).sum()
    }

    /// Of those, records not read before (reprocessed ones are duplicates).
    pub fn queued_new(&self, shard_slot: usize) -> u64 {
        self.lanes[shard_slot].iter().map(|lane| lane.queued_new).sum()
    }

    /// Drops what waits in a shard's lanes (its KCL worker died or let go of the lease):
    /// returns how many records were dropped, and how many of those were read for the
    /// first time.
    pub fn drop_queued(&mut self, shard_slot: usize) -> (u64, u64) {
        let (mut dropped, mut dropped_new) = (0, 0);
        for lane in &mut self.lanes[shard_slot] {
            dropped += lane.queued;
            dropped_new += lane.queued_new;
            let busy_until_ns = lane.busy_until_ns;
            *lane = Lane { busy_until_ns, ..Lane::default() };
        }
        (dropped, dropped_new)
    }

    /// How many records a fetch may take now.
    pub fn room(&self, shard_slot: usize) -> u64 {
        self.spec.prefetch_records.saturating_sub(self.queued(shard_slot))
    }

    /// Hands fetched records to the shard's lanes by their weights.
    pub fn accept(&mut self, shard_slot: usize, piece: Piece) {
        let weights = &self.weights[shard_slot];
        let mut left = piece.records;
        let lane_count = weights.len();
        for (index, lane) in self.lanes[shard_slot].iter_mut().enumerate() {
            let records =
                if index + 1 == lane_count { left } else { ((piece.records as f64 * weights[index]) as u64).min(left) };
            left -= records;
            if records > 0 {
                let bytes = crate::ratio::scale(piece.bytes, records, piece.records);
                lane.queue.push_back(Piece { records, bytes, ..piece });
                lane.queued += records;
                lane.queued_new += new_records(&piece, records);
                lane.queued_bytes += bytes;
                assert!(lane.queue.len() <= LANE_PIECES_MAX, "lane queues are bounded");
            }
        }
    }

    /// Whether batches share concurrency slots over all shards: processed by
    /// [`Self::process_all`] rather than shard by shard.
    pub fn limits_concurrency(&self) -> bool {
        self.spec.concurrency_max.is_some()
    }

    /// Runs the shard's lanes until `until_ns`: every batch that can start before then
    /// starts (and is counted when it completes or is discarded). Not for a processor
    /// that limits concurrency.
    pub fn process(
        &mut self,
        shard_slot: usize,
        until_ns: u64,
        rng: &mut ChaCha8Rng,
        counters: [&mut ReadCounters; 2],
    ) {
        debug_assert!(!self.limits_concurrency());
        let [period, totals] = counters;
        let sharing = self.sharing[shard_slot];
        for lane in &mut self.lanes[shard_slot] {
            let mut batches = 0;
            while let Some(start_ns) = ready_at(&self.spec, lane).filter(|&start| start < until_ns) {
                batches += 1;
                if batches > BATCHES_PER_STEP_MAX {
                    // A lane retrying a failing batch of next to no duration: the rest of
                    // its retries in this step change nothing but a count; they wait.
                    break;
                }
                let counters = [&mut *period, &mut *totals];
                run_batch(&self.spec, self.age_max_ns, sharing, lane, start_ns, rng, &mut self.batch, counters);
            }
        }
    }

    /// Runs every shard's lanes until `until_ns` when batches share `concurrency_max`
    /// slots: the batch ready first takes the next free slot, over all shards, and one
    /// that finds none before `until_ns` waits for the next step, ahead of later ones.
    /// `periods` holds each shard's period counters.
    pub fn process_all(
        &mut self,
        until_ns: u64,
        rng: &mut ChaCha8Rng,
        periods: &mut [ReadCounters],
        totals: &mut ReadCounters,
    ) {
        let slots = self.spec.concurrency_max.expect("a processor that limits concurrency");
        self.ready.clear();
        for (shard_slot, lanes) in self.lanes.iter().enumerate() {
            for (lane_index, lane) in lanes.iter().enumerate() {
                if let Some(ready_ns) = ready_at(&self.spec, lane).filter(|&ready| ready < until_ns) {
                    self.ready.push(Reverse((ready_ns, shard_slot, lane_index)));
                }
            }
        }
        let batches_max = BATCHES_PER_STEP_MAX as usize * self.ready.len().max(1);
        let mut batches = 0;
        while let Some(Reverse((ready_ns, shard_slot, lane_index))) = self.ready.pop() {
            let start_ns = slot_free_at(&mut self.running, slots, ready_ns, until_ns);
            if start_ns >= until_ns {
                // No slot frees before the step ends, for this batch or any readied later.
                break;
            }
            batches += 1;
            if batches > batches_max {
                // Retries of failing batches of next to no duration: they wait (see
                // `process`).
                break;
            }
            let lane = &mut self.lanes[shard_slot][lane_index];
            let counters = [&mut periods[shard_slot], &mut *totals];
            run_batch(
                &self.spec,
                self.age_max_ns,
                self.sharing[shard_slot],
                lane,
                start_ns,
                rng,
                &mut self.batch,
                counters,
            );
            if lane.busy_until_ns > start_ns {
                self.running.push(Reverse(lane.busy_until_ns));
            }
            if let Some(next_ns) = ready_at(&self.spec, lane).filter(|&ready| ready < until_ns) {
                self.ready.push(Reverse((next_ns, shard_slot, lane_index)));
            }
        }
    }
}

/// The first time from `ready_ns` at which fewer than `slots` batches run; batches that
/// completed by then give their slots back. A slot that frees only at or after
/// `until_ns` (the step's end) stays held: the batch tries again next step.
fn slot_free_at(running: &mut BinaryHeap<Reverse<u64>>, slots: u32, ready_ns: u64, until_ns: u64) -> u64 {
    while running.peek().is_some_and(|Reverse(done_ns)| *done_ns <= ready_ns) {
        running.pop();
    }
    if running.len() < slots as usize {
        return ready_ns;
    }
    // Full: the batch waits for the earliest completion, whose slot it takes.
    let Reverse(done_ns) = *running.peek().expect("full means not empty");
    if done_ns < until_ns {
        running.pop();
    }
    done_ns
}

/// When the next batch of a lane can start: once the lane is free and the batch's
/// records are fetched; with a batching window, once the batch is full (by records or
/// bytes: from the fetch that filled it) or its oldest record has waited the window.
fn ready_at(spec: &ProcessingSpec, lane: &Lane) -> Option<u64> {
    let head = lane.queue.front()?;
    let full = lane.queued >= spec.batch_size || spec.batch_bytes.is_some_and(|limit| lane.queued_bytes >= limit);
    if spec.batching_window.is_zero() {
        return Some(lane.busy_until_ns.max(head.fetched_ns));
    }
    if !full {
        return Some(lane.busy_until_ns.max(head.fetched_ns + spec.batching_window.as_nanos()));
    }
    // The batch filled with the piece at which the records or bytes reach the limit.
    let (mut records, mut bytes) = (0, 0);
    let mut filled_ns = head.fetched_ns;
    for piece in &lane.queue {
        records += piece.records;
        bytes += piece.bytes;
        filled_ns = piece.fetched_ns;
        if records >= spec.batch_size || spec.batch_bytes.is_some_and(|limit| bytes >= limit) {
            break;
        }
    }
    Some(lane.busy_until_ns.max(filled_ns.min(head.fetched_ns + spec.batching_window.as_nanos())))
}

/// Starts the batch at the head of a lane: discards records past their maximum age,
/// then processes (or fails, retries, and finally discards) a batch.
#[allow(clippy::too_many_arguments)]
fn run_batch(
    spec: &ProcessingSpec,
    age_max_ns: Option<u64>,
    sharing: u64,
    lane: &mut Lane,
    start_ns: u64,
    rng: &mut ChaCha8Rng,
    batch: &mut Vec<Piece>,
    counters: [&mut ReadCounters; 2],
) {
    let [period, totals] = counters;
    if let Some(age_ns) = age_max_ns {
        while let Some(head) = lane.queue.front() {
            if start_ns.saturating_sub(head.origin_ns) <= age_ns {
                break;
            }
            let head = lane.queue.pop_front().expect("checked");
            lane.queued -= head.records;
            lane.queued_new -= new_records(&head, head.records);
            lane.queued_bytes -= head.bytes;
            // The batch at the head changes: its poison is drawn again.
            lane.head_poison = None;
            lane.isolated_poison = false;
            period.discarded_records += new_records(&head, head.records);
            totals.discarded_records += new_records(&head, head.records);
        }
        if lane.queued == 0 {
            return;
        }
    }
    // Isolated poison records are retried on their own.
    let batch_size = match lane.head_poison {
        Some(poison) if lane.isolated_poison => poison,
        _ => spec.batch_size,
    };
    take_batch(lane, batch_size, spec.batch_bytes.unwrap_or(u64::MAX), batch);
    let records: u64 = batch.iter().map(|piece| piece.records).sum();
    let duration_ns = (spec.fixed.as_nanos() + spec.per_record.as_nanos() * records) * sharing;
    // Poison records fail every invocation that carries them; how many this batch holds
    // is drawn once and kept while the batch is retried.
    let poison = *lane.head_poison.get_or_insert_with(|| {
        if spec.poison_rate > 0.0 {
            binomial(rng, records, spec.poison_rate)
        } else {
            0
        }
    });
    if poison > 0 && spec.bisect_on_error && !lane.isolated_poison {
        finish_bisected(spec, sharing, lane, batch, records, poison, start_ns, [period, totals]);
        return;
    }
    let completion_ns = start_ns + duration_ns.max(1);
    lane.busy_until_ns = completion_ns;
    let failed = poison > 0 || (spec.error_rate > 0.0 && uniform01(rng) < spec.error_rate);
    if failed && spec.max_retry_attempts.is_none_or(|max| lane.failures < max) {
        // The batch is retried, blocking the lane: put it back at the head.
        lane.failures += 1;
        period.failed_batches += 1;
        totals.failed_batches += 1;
        for &piece in batch.iter().rev() {
            lane.queued += piece.records;
            lane.queued_new += new_records(&piece, piece.records);
            lane.queued_bytes += piece.bytes;
            lane.queue.push_front(piece);
        }
        return;
    }
    lane.failures = 0;
    lane.head_poison = None;
    let fresh: u64 = batch.iter().map(|piece| new_records(piece, piece.records)).sum();
    for counters in [&mut *period, &mut *totals] {
        counters.reprocessed_records += records - fresh;
        if failed {
            counters.discarded_records += fresh;
        } else {
            counters.read_records += fresh;
        }
    }
    if failed {
        return;
    }
    // Latencies go to the period only: the run's histogram is the periods' merged
    // (`ShardReader::take_period`), as for records delivered without processing.
    let delivered_ns = completion_ns + spec.delivery.as_nanos();
    for piece in batch.iter().filter(|piece| !piece.reprocessed) {
        period.latency_ms.add((delivered_ns.saturating_sub(piece.origin_ns)) as f64 * 1e-6, piece.records);
    }
}

/// Of `records` of a piece, those read for the first time.
fn new_records(piece: &Piece, records: u64) -> u64 {
    if piece.reprocessed {
        0
    } else {
        records
    }
}

/// A batch holding poison records, with bisect-on-error: Lambda halves the failing batch
/// and retries the halves, so every poison record is isolated after about log2(n)
/// halvings while the other records succeed. The lane is busy for the failed
/// invocations: per poison record, one invocation per halving (of a shrinking batch,
/// about the whole batch's duration in total). With `max_retry_attempts` the isolated
/// records then fail their retries alone and are discarded; with unlimited retries (the
/// default, facts §8.2) they stay at the head of the lane and are retried alone, blocking
/// it, until they pass `max_record_age` or the stream's retention.
#[allow(clippy::too_many_arguments)]
fn finish_bisected(
    spec: &ProcessingSpec,
    sharing: u64,
    lane: &mut Lane,
    batch: &[Piece],
    records: u64,
    poison: u64,
    start_ns: u64,
    counters: [&mut ReadCounters; 2],
) {
    let full_ns = spec.fixed.as_nanos() + spec.per_record.as_nanos() * records;
    let halvings = u64::from(64 - records.leading_zeros());
    let single_ns = spec.fixed.as_nanos() + spec.per_record.as_nanos();
    let retries = u64::from(spec.max_retry_attempts.unwrap_or(0));
    let busy_ns = (full_ns + poison * (2 * full_ns + (halvings + retries) * single_ns)) * sharing;
    let completion_ns = start_ns + busy_ns.max(1);
    lane.busy_until_ns = completion_ns;
    lane.failures = 0;
    lane.head_poison = None;
    let good = records - poison.min(records);
    let fresh: u64 = batch.iter().map(|piece| new_records(piece, piece.records)).sum();
    let fresh_good = crate::ratio::scale(fresh, good, records);
    let [period, totals] = counters;
    // With unlimited retries the isolated poison records stay; of them, `fresh_poison`
    // are read for the first time and the rest were read before a lease moved.
    let kept = spec.max_retry_attempts.is_none() && good < records;
    let fresh_poison = fresh - fresh_good;
    let old_poison = if kept { (records - good) - fresh_poison.min(records - good) } else { 0 };
    for counters in [&mut *period, &mut *totals] {
        counters.failed_batches += poison * (halvings + 1);
        if !kept {
            counters.discarded_records += fresh_poison;
        }
        counters.read_records += fresh_good;
        counters.reprocessed_records += records - fresh - old_poison;
    }
    if kept {
        keep_isolated_poison(lane, batch, records - good, fresh_poison);
    }
    // The period's histogram only, as in `run_batch`.
    for piece in batch.iter().filter(|piece| !piece.reprocessed) {
        let share = crate::ratio::scale(piece.records, good, records);
        if share > 0 {
            let delivered_ns = completion_ns + spec.delivery.as_nanos();
            period.latency_ms.add(delivered_ns.saturating_sub(piece.origin_ns) as f64 * 1e-6, share);
        }
    }
}

/// Puts `poison` records isolated by bisecting back at the head of the lane (`fresh` of
/// them read for the first time), to be retried alone.
fn keep_isolated_poison(lane: &mut Lane, batch: &[Piece], poison: u64, fresh: u64) {
    let records: u64 = batch.iter().map(|piece| piece.records).sum();
    let bytes: u64 = batch.iter().map(|piece| piece.bytes).sum();
    let head = Piece {
        records: poison,
        bytes: crate::ratio::scale(bytes, poison, records),
        origin_ns: batch[0].origin_ns,
        fetched_ns: batch[0].fetched_ns,
        reprocessed: false,
    };
    // The part read before (after a lease moved) stays apart, so that it is not counted
    // as unread or discarded.
    let (fresh_part, old_part) = (fresh.min(poison), poison - fresh.min(poison));
    for (part, reprocessed) in [(old_part, true), (fresh_part, false)] {
        if part == 0 {
            continue;
        }
        let piece = Piece { records: part, bytes: crate::ratio::scale(head.bytes, part, poison), reprocessed, ..head };
        lane.queued += piece.records;
        lane.queued_new += new_records(&piece, piece.records);
        lane.queued_bytes += piece.bytes;
        lane.queue.push_front(piece);
    }
    lane.head_poison = Some(poison);
    lane.isolated_poison = true;
}

/// Takes up to `batch_size` records and about `batch_bytes` bytes (at least one record)
/// from the head of a lane, into `batch` (emptied first).
fn take_batch(lane: &mut Lane, batch_size: u64, batch_bytes: u64, batch: &mut Vec<Piece>) {
    batch.clear();
    let (mut records_left, mut bytes_left) = (batch_size, batch_bytes);
    while records_left > 0 && bytes_left > 0 {
        let Some(head) = lane.queue.front_mut() else { break };
        let per_record = head.bytes / head.records.max(1);
        let by_bytes = bytes_left.checked_div(per_record).map_or(u64::MAX, |fit| fit.max(u64::from(batch.is_empty())));
        let records = head.records.min(records_left).min(by_bytes);
        if records == 0 {
            break;
        }
        let bytes =
            if records == head.records { head.bytes } else { crate::ratio::scale(head.bytes, records, head.records) };
        batch.push(Piece { records, bytes, ..*head });
        head.records -= records;
        head.bytes -= bytes;
        records_left -= records;
        bytes_left = bytes_left.saturating_sub(bytes);
        lane.queued -= records;
        lane.queued_new -= new_records(head, records);
        lane.queued_bytes -= bytes;
        if head.records == 0 {
            lane.queue.pop_front();
        }
    }
}
