//! Readers of shards: GetRecords pollers sharing a shard's throughput (reference
//! `kinesis-facts.md` §3), and enhanced fan-out consumers with their own (§4).
//!
//! Enhanced fan-out: each consumer has its own 2 MiB/s per shard, whatever the others
//! do, and records are pushed. In stepped mode all of a step's records become readable at
//! once (the step's end plus the propagation delay), so a fan-out consumer takes one
//! delivery per step at that moment plus its push latency, limited by its own byte
//! bucket; its latency floor is the step, so use a short step for latency detail.
//!
//! Every polling consumer of a shard draws on one read budget: a byte bucket refilling
//! at 2 MiB/s that one call may overdraw by up to 10 MiB, and 5 calls per second in fixed
//! one-second windows. A call is throttled (and returns nothing) when the second's calls
//! are used up or the bucket is below zero. This single bucket yields both documented
//! penalties: after a 10 MiB read the bucket needs 5 s to climb back to zero, and after
//! a short overdraft about 1 s (§2.3, §3). Calls are served in the order they arrive;
//! each consumer polls each shard every `poll_interval` plus a small random delay, from
//! a random phase, so identical consumers share fairly on average without any share
//! being coded, and one that reads 10 MiB at once delays the others, as on AWS.
//!
//! Lifecycle of a poll: due at `next_poll_ns`; refill the bucket to that time; throttled
//! or served; the iterator age is the age of the last record returned (0 for an empty
//! response, as CloudWatch defines `GetRecords.IteratorAgeMilliseconds`, §9); the next
//! poll is scheduled.

use super::kcl::{Leases, Takeover};
use super::processing::{Piece, Processor};
use super::ReadCounters;
use crate::spec::{ConsumerKind, ConsumerSpec, PollingSpec, ReadLimitSpec, StartPosition, EFO_BYTES_PER_S};
use crate::storage::{Block, ShardLog};
use kinesim_sim::num::{count_to_f64, f64_to_count};
use kinesim_sim::sample::{standard_normal, uniform01};
use kinesim_sim::{LogHistogram, SimDuration};
use kinesim_sim::{RandomStream, SeedKey, NANOS_PER_MS, NANOS_PER_SEC};

/// Nanoseconds to milliseconds as a multiplication: a division is many times slower on
/// the read path, and the last-bit difference does not matter for a latency histogram.
const MS_PER_NS: f64 = 1e-6;

/// The shared GetRecords budget of one shard.
#[derive(Copy, Clone, Debug)]
pub struct ReadBudget {
    bytes: f64,
    refilled_at_ns: u64,
    window_index: u64,
    calls_in_window: u32,
}

impl ReadBudget {
    pub fn new(limit: &ReadLimitSpec, now_ns: u64) -> ReadBudget {
        ReadBudget {
            bytes: limit.depth_bytes as f64,
            refilled_at_ns: now_ns,
            window_index: now_ns / NANOS_PER_SEC,
            calls_in_window: 0,
        }
    }

    /// Bytes one call may take at `now_ns`, or `None` when the call is throttled.
    fn open_call(&mut self, limit: &ReadLimitSpec, now_ns: u64) -> Option<u64> {
        debug_assert!(now_ns >= self.refilled_at_ns);
        self.bytes = self.bytes_at(limit, now_ns);
        self.refilled_at_ns = now_ns;
        let window_index = now_ns / NANOS_PER_SEC;
        if window_index != self.window_index {
            self.window_index = window_index;
            self.calls_in_window = 0;
        }
        let allowed = self.calls_in_window < limit.calls_per_s && self.bytes >= 0.0;
        if allowed || limit.throttled_calls_count {
            self.calls_in_window = (self.calls_in_window + 1).min(limit.calls_per_s);
        }
        allowed.then_some(f64_to_count(self.bytes + count_to_f64(limit.overdraft_bytes)))
    }

    fn charge(&mut self, bytes: u64) {
        self.bytes -= count_to_f64(bytes);
    }

    /// After a coasting window's calls, served without the bucket (it cannot run dry
    /// under them): its state at `t1_ns` as if it had been full before each reader's
    /// last call, `last_calls` holding their times and bytes. The next call, at or after
    /// `t1_ns` (a whole second), starts a new window of calls.
    pub fn settle_coasted(&mut self, limit: &ReadLimitSpec, t1_ns: u64, last_calls: impl Iterator<Item = (u64, u64)>) {
        let refill_per_ns = count_to_f64(limit.bytes_per_s) / NANOS_PER_SEC as f64;
        let owed: f64 = last_calls
            .map(|(at_ns, bytes)| {
                (count_to_f64(bytes) - refill_per_ns * count_to_f64(t1_ns.saturating_sub(at_ns))).max(0.0)
            })
            .sum();
        self.bytes = self.bytes_at(limit, t1_ns).max(count_to_f64(limit.depth_bytes) - owed);
        self.refilled_at_ns = t1_ns;
        self.window_index = (t1_ns / NANOS_PER_SEC).saturating_sub(1);
        self.calls_in_window = 0;
    }

    /// The bytes in the bucket at `now_ns` (refilled up to its depth), without a call.
    pub fn bytes_at(&self, limit: &ReadLimitSpec, now_ns: u64) -> f64 {
        let elapsed_s = count_to_f64(now_ns.saturating_sub(self.refilled_at_ns)) / NANOS_PER_SEC as f64;
        (self.bytes + count_to_f64(limit.bytes_per_s) * elapsed_s).min(count_to_f64(limit.depth_bytes))
    }
}

/// A fan-out consumer's own throughput: a 2 MiB/s bucket per shard, one second deep.
#[derive(Clone, Debug)]
struct Dedicated {
    limit: ReadLimitSpec,
    budgets: Vec<ReadBudget>,
    /// Offset of the first delivery from the start of a step.
    delivery_offset_ns: u64,
}

impl Dedicated {
    fn new(step: SimDuration, delay: SimDuration) -> Dedicated {
        let limit = ReadLimitSpec {
            bytes_per_s: EFO_BYTES_PER_S,
            calls_per_s: u32::MAX,
            overdraft_bytes: 0,
            depth_bytes: EFO_BYTES_PER_S,
            throttled_calls_count: false,
        };
        // Deliveries follow the moment a step's records become readable.
        let delivery_offset_ns = step.as_nanos() + delay.as_nanos();
        Dedicated { limit, budgets: Vec::new(), delivery_offset_ns }
    }
}

/// The cadence of a fan-out consumer: one delivery per step, as many records as its
/// budget allows, no jitter (pushes do not race each other).
fn efo_cadence(step: SimDuration) -> PollingSpec {
    PollingSpec {
        poll_interval: step,
        poll_jitter: SimDuration::ZERO,
        max_records: 1_000_000,
        max_bytes: EFO_BYTES_PER_S,
    }
}

/// Whether a due poll made a call, and the call's byte allowance (`None`: throttled).
enum Call {
    Skipped,
    Made(Option<u64>),
}

/// What one GetRecords call did.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PollOutcome {
    pub records: u64,
    pub bytes: u64,
    /// Of `bytes`, those of records more than 7 days old (long-term retrieval, pricing
    /// §2).
    pub bytes_past_week: u64,
    pub throttled: bool,
    pub iterator_age_ms: f64,
}

/// The age past which reading a record is long-term retrieval (pricing §2: data older
/// than 7 days).
const LONG_TERM_AGE_NS: u64 = 7 * 24 * 3600 * NANOS_PER_SEC;

/// One polling consumer's place in one shard.
#[derive(Copy, Clone, Debug)]
struct Cursor {
    /// Offset of the next record to read (before the start: the oldest it may still
    /// want, so the shard keeps it).
    position: u64,
    next_poll_ns: u64,
    /// Whether the iterator was placed at its start position (at the first poll).
    started: bool,
    /// When the consumer got its iterator: `latest` starts with records arriving then.
    iterator_ns: u64,
}

pub struct ShardReader {
    pub name: String,
    /// When and how much it asks for (for fan-out: one delivery per step).
    spec: PollingSpec,
    /// Fan-out: the consumer's own budget per shard; `None` for a shared poller.
    dedicated: Option<Dedicated>,
    /// Batch processing of fetched records; `None`: fetched means delivered.
    processor: Option<Processor>,
    /// A KCL application's lease table; `None` for a plain reader.
    leases: Option<Leases>,
    processing_errors: RandomStream,
    /// Scratch for the pieces of one fetch.
    pieces: Vec<Piece>,
    start: StartPosition,
    join_ns: u64,
    polls: RandomStream,
    cursors: Vec<Cursor>,
    /// Per shard: counters of the current consumer-output period.
    pub period: Vec<ReadCounters>,
    /// Records found expired when a lease's unprocessed queue was dropped, not yet
    /// passed on to the stream's count.
    expired_at_drop: u64,
    /// Whether delivered records' latencies go to the shard's period histogram (for
    /// per-shard consumer rows) or straight to the run's: with no such rows, one
    /// histogram per consumer stays in cache where one per shard would not, and the
    /// run's quantiles are the same.
    latency_per_shard: bool,
    /// Over the whole run, all shards.
    pub totals: ReadCounters,
    /// Per shard slot: records read by coasting windows' polls, the sum of their lowest
    /// latencies (ms) and the longest gap drawn before one of those polls (ns), not yet in
    /// a histogram ([`Self::coast_settle_latencies`]).
    coast_pending: Vec<(u64, f64, u64)>,
}

/// What a coasting window's polls can reach: the window's block and, for a first poll
/// that reaches back, the block before it.
#[derive(Copy, Clone, Debug)]
pub struct CoastBlocks {
    pub previous: Option<Block>,
    pub window: Block,
    pub readable_delay_ns: u64,
}

impl CoastBlocks {
    /// The first offset the blocks hold.
    fn offset_first(&self) -> u64 {
        self.previous.map_or(self.window.offset_first, |previous| previous.offset_first)
    }

    /// One past the last record that arrived at or before `cutoff_ns`.
    fn readable_end(&self, cutoff_ns: u64) -> u64 {
        match self.previous {
            Some(previous) if cutoff_ns < self.window.arrival_first_ns => previous.readable_end(cutoff_ns),
            _ => self.window.readable_end(cutoff_ns),
        }
    }

    /// Bytes of the records `[from, to)`.
    fn bytes_between(&self, from: u64, to: u64) -> u64 {
        let split = self.window.offset_first;
        let in_previous = match self.previous {
            Some(previous) if from < split => previous.bytes_before(to.min(split)) - previous.bytes_before(from),
            _ => 0,
        };
        in_previous + self.window.bytes_before(to.max(split)) - self.window.bytes_before(from.max(split))
    }
}

/// The fewest gaps between polls [`ShardReader::coast_polls`] draws as one sum.
const COAST_LEAP_GAPS_MIN: u64 = 8;

/// What [`ShardReader::coast_polls`] served.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct CoastReads {
    pub calls: u64,
    pub records: u64,
    pub bytes: u64,
    pub iterator_age_ms_max: f64,
    /// The last call's time and bytes, for the budget.
    pub last_poll_ns: u64,
    pub last_bytes: u64,
}

impl ShardReader {
    /// A reader for `spec`; `step` and `propagation_delay` place fan-out deliveries;
    /// `latency_per_shard`: whether per-shard periods need their own latencies.
    pub fn new(
        spec: &ConsumerSpec,
        seed: &SeedKey,
        step: SimDuration,
        propagation_delay: SimDuration,
        latency_per_shard: bool,
    ) -> ShardReader {
        let (polling, dedicated) = match &spec.kind {
            ConsumerKind::Polling(polling) => (polling.clone(), None),
            ConsumerKind::Efo(efo) => {
                (efo_cadence(step), Some(Dedicated::new(step, propagation_delay + efo.push_latency)))
            }
        };
        ShardReader {
            name: spec.name.clone(),
            spec: polling,
            dedicated,
            processor: spec.processing.as_ref().map(Processor::new),
            leases: spec.kcl.as_ref().map(Leases::new),
            processing_errors: RandomStream::new(seed, &format!("consumer/{}/processing", spec.name)),
            pieces: Vec::new(),
            start: spec.start,
            join_ns: spec.join.as_nanos(),
            polls: RandomStream::new(seed, &format!("consumer/{}/polls", spec.name)),
            cursors: Vec::new(),
            period: Vec::new(),
            expired_at_drop: 0,
            latency_per_shard,
            totals: ReadCounters::default(),
            coast_pending: Vec::new(),
        }
    }

    /// Attaches the consumer to a newly opened shard, starting at its configured position
    /// with a random phase inside one poll interval (seeded per shard slot).
    pub fn attach(&mut self, shard_slot: usize, log: &ShardLog, now_ns: u64, seed: &SeedKey) {
        assert_eq!(shard_slot, self.cursors.len(), "shards are attached in slot order");
        let mut phase = RandomStream::new(seed, &format!("consumer/{}/phase", self.name));
        let phase_ns = match &mut self.dedicated {
            Some(dedicated) => {
                dedicated.budgets.push(ReadBudget::new(&dedicated.limit, now_ns));
                dedicated.delivery_offset_ns
            }
            None => (uniform01(phase.at_step(shard_slot as u64)) * self.spec.poll_interval.as_nanos() as f64) as u64,
        };
        let first_poll_ns = now_ns.max(self.join_ns) + phase_ns;
        if let Some(processor) = &mut self.processor {
            processor.attach(now_ns.max(self.join_ns));
        }
        let iterator_ns = now_ns.max(self.join_ns);
        if let Some(leases) = &mut self.leases {
            leases.attach(log.offset_first(), now_ns);
        }
        self.cursors.push(Cursor {
            position: log.offset_first(),
            next_poll_ns: first_poll_ns,
            started: false,
            iterator_ns,
        });
        self.period.push(ReadCounters::default());
        self.coast_pending.push((0, 0.0, 0));
    }

    /// Whether this consumer can read a coasting shard a window late (the engine's
    /// `coast`): a plain GetRecords poller, whose polls of a shard depend only on that
    /// shard's log and read budget. Processing, a KCL lease table or fan-out step.
    pub fn can_coast(&self) -> bool {
        self.dedicated.is_none() && self.processor.is_none() && self.leases.is_none()
    }

    /// Its polls of one shard: (least and most time between two, in ns; records and
    /// bytes one call may take).
    pub fn poll_shape(&self) -> (u64, u64, u64, u64) {
        let interval_ns = self.spec.poll_interval.as_nanos();
        let gap_max_ns = interval_ns + self.spec.poll_jitter.as_nanos();
        (interval_ns, gap_max_ns, u64::from(self.spec.max_records), self.spec.max_bytes)
    }

    /// Whether it reads `shard_slot` already and keeps up: its iterator placed, its next
    /// poll not before `now_ns`, and nothing unread that was readable at its last poll
    /// (which was at most one gap before the next), so its next poll reads at most what
    /// arrives over one gap.
    pub fn keeps_up(&self, shard_slot: usize, log: &ShardLog, now_ns: u64) -> bool {
        let cursor = &self.cursors[shard_slot];
        let (_, gap_max_ns, _, _) = self.poll_shape();
        cursor.started
            && cursor.next_poll_ns >= now_ns
            && log.readable_after(cursor.position, cursor.next_poll_ns.saturating_sub(gap_max_ns)) == 0
    }

    /// Offset of the next record this consumer reads on a shard (before it starts: the
    /// oldest it may still read).
    pub fn position(&self, shard_slot: usize) -> u64 {
        self.cursors[shard_slot].position
    }

    /// One past the furthest record this consumer has read on a shard: its position, or
    /// further when a KCL failover sent it back to a checkpoint.
    pub fn frontier(&self, shard_slot: usize) -> u64 {
        let position = self.cursors[shard_slot].position;
        self.leases.as_ref().map_or(position, |leases| position.max(leases.high_water(shard_slot)))
    }

    /// The lowest offset this consumer may still read: what the shard must keep for it.
    /// A consumer that will start at `latest` needs nothing written before it got its
    /// iterator; from then on it needs what arrives, though its first poll or delivery
    /// comes later (`now_ns` is the start of the step about to write).
    pub fn offset_needed(&self, shard_slot: usize, now_ns: u64) -> u64 {
        let cursor = &self.cursors[shard_slot];
        if !cursor.started && self.start == StartPosition::Latest && now_ns < cursor.iterator_ns {
            return u64::MAX;
        }
        // A KCL application may go back to its last checkpoint after a failover.
        match &self.leases {
            Some(leases) if cursor.started => cursor.position.min(leases.checkpoint(shard_slot)),
            _ => cursor.position,
        }
    }

    /// A KCL worker joins; returns its index and the time of its first lease-taker run.
    pub fn join_worker(&mut self, now_ns: u64) -> Option<(u32, u64)> {
        let leases = self.leases.as_mut()?;
        let worker = leases.join();
        Some((worker, leases.taker_run_after(worker, now_ns)))
    }

    /// One lease-taker run of `worker`: it may take leases, which resume at their
    /// checkpoints. Returns the takeovers and whether the worker wants more.
    pub fn steal_leases(&mut self, worker: u32, now_ns: u64, logs: &[ShardLog]) -> (Vec<Takeover>, bool) {
        let Some(leases) = &mut self.leases else { return (Vec::new(), false) };
        let (mut takeovers, more) = leases.steal(worker, now_ns);
        for takeover in &mut takeovers {
            // The old owner's queue is not processed: the new owner fetches it again.
            let slot = takeover.shard_slot;
            self.drop_unprocessed(slot, &logs[slot]);
            takeover.checkpoint = self.leases.as_ref().expect("a KCL application").checkpoint(slot);
            let cursor = &mut self.cursors[takeover.shard_slot];
            cursor.next_poll_ns = cursor.next_poll_ns.max(now_ns);
            if cursor.started {
                cursor.position = takeover.checkpoint.max(logs[takeover.shard_slot].offset_first());
            }
        }
        (takeovers, more)
    }

    /// Drops what a KCL worker fetched from `slot` and had not processed when it lost the
    /// lease: the queue is the tail of what it read, so the position goes back over it,
    /// and the records read for the first time count as unread again, or as expired if
    /// the stream no longer holds them (counted in `expired_at_drop` for the stream too).
    fn drop_unprocessed(&mut self, slot: usize, log: &ShardLog) {
        let (Some(processor), Some(leases)) = (&mut self.processor, &mut self.leases) else { return };
        let (dropped, dropped_new) = processor.drop_queued(slot);
        let cursor = &mut self.cursors[slot];
        debug_assert!(dropped <= cursor.position);
        cursor.position -= dropped;
        leases.forget_unprocessed(slot, dropped_new);
        self.expired_at_drop += self.expire_below(slot, log.offset_first());
    }

    /// Records counted as expired when a lease's queue was dropped, since the last call
    /// (the stream's own count takes them from here).
    pub fn take_expired_at_drop(&mut self) -> u64 {
        std::mem::take(&mut self.expired_at_drop)
    }

    /// Sets a shard's offered load, which KCL 3.x balances leases by.
    pub fn set_shard_load(&mut self, shard_slot: usize, records_per_s: f64) {
        if let Some(leases) = &mut self.leases {
            leases.set_shard_load(shard_slot, records_per_s);
        }
    }

    /// The interval between a worker's lease-taker runs.
    pub fn taker_interval_ns(&self) -> Option<u64> {
        self.leases.as_ref().map(Leases::taker_interval_ns)
    }

    /// A KCL worker dies: its leases move to the survivors after the failover time, and
    /// each new owner resumes at the shard's last checkpoint. Returns the takeovers.
    pub fn fail_worker(&mut self, worker: u32, now_ns: u64, logs: &[ShardLog]) -> Vec<Takeover> {
        if self.leases.is_none() {
            return Vec::new();
        }
        // What the dead worker fetched and had not processed is gone with it.
        for (slot, log) in logs.iter().enumerate().take(self.cursors.len()) {
            if self.leases.as_ref().is_some_and(|leases| leases.owner(slot) == Some(worker)) {
                self.drop_unprocessed(slot, log);
            }
        }
        let leases = self.leases.as_mut().expect("a KCL application");
        let takeovers = leases.fail(worker, now_ns);
        for takeover in &takeovers {
            let cursor = &mut self.cursors[takeover.shard_slot];
            cursor.next_poll_ns = takeover.taken_ns;
            if cursor.started {
                // Never below what the stream still holds.
                cursor.position = takeover.checkpoint.max(logs[takeover.shard_slot].offset_first());
            }
        }
        // Shards left with no live worker are not read again.
        for (slot, cursor) in self.cursors.iter_mut().enumerate() {
            if !leases.owned(slot) {
                cursor.next_poll_ns = u64::MAX;
            }
        }
        takeovers
    }

    /// Places the iterator at the consumer's start position, at its first poll. Records
    /// it passes over (before a `latest` or `at_timestamp` start) are `skipped_records`.
    fn start_iterator(&mut self, shard_slot: usize, log: &ShardLog) {
        let cursor = &mut self.cursors[shard_slot];
        let position = match self.start {
            StartPosition::Latest => log.offset_at(cursor.iterator_ns),
            StartPosition::TrimHorizon => log.offset_first(),
            StartPosition::AtTimestamp(at) => log.offset_at(at.as_nanos()),
        }
        .max(cursor.position);
        let skipped = position - cursor.position;
        self.period[shard_slot].skipped_records += skipped;
        self.totals.skipped_records += skipped;
        cursor.position = position;
        cursor.started = true;
        if let Some(leases) = &mut self.leases {
            leases.start_at(shard_slot, position);
        }
    }

    pub fn next_poll_ns(&self, shard_slot: usize) -> u64 {
        self.cursors[shard_slot].next_poll_ns
    }

    /// Hands the period counters of `shard_slot` to `report` and starts a new period,
    /// folding the period's latencies into the run's histogram.
    pub fn take_period(&mut self, shard_slot: usize, report: impl FnOnce(&ReadCounters)) {
        let period = &mut self.period[shard_slot];
        report(period);
        self.totals.latency_ms.merge(&period.latency_ms);
        period.clear();
    }

    /// Folds latencies of periods not yet closed into the run's histogram (run end).
    pub fn settle_latencies(&mut self) {
        for period in &mut self.period {
            self.totals.latency_ms.merge(&period.latency_ms);
            period.latency_ms.clear();
        }
    }

    /// Positions the poll-jitter stream for a step (once per step, before any poll).
    pub fn begin_step(&mut self, step: u64) {
        self.polls.set_step(step);
        self.processing_errors.set_step(step);
    }

    /// Whether this consumer, keeping per-key order, must leave `slot` alone for now: a
    /// parent of it (`parents[slot]`) is still open, or holds records this consumer has
    /// not read or not yet processed (the KCL processes a parent's data before its
    /// children's, reference §6.1).
    pub fn waits_for_parent(&self, slot: usize, parents: &[Vec<usize>], open: &[bool], logs: &[ShardLog]) -> bool {
        self.reads_parents_first()
            && parents[slot].iter().any(|&parent| {
                open[parent] || self.frontier(parent) < logs[parent].offset_end() || self.unprocessed(parent) > 0
            })
    }

    /// For a KCL application whose processing capacity is per worker: each shard's
    /// batches share their worker's capacity with the other shards that worker holds and
    /// still has work on (open, unread records, or records fetched but not processed),
    /// leaving out children that wait for their parents.
    /// Called once per step before any poll; O(shards).
    pub fn share_worker_capacity(&mut self, parents: &[Vec<usize>], open: &[bool], logs: &[ShardLog]) {
        let (Some(processor), Some(leases)) = (&self.processor, &self.leases) else { return };
        if !processor.shared_by_worker() {
            return;
        }
        let has_work = |slot: usize| {
            (open[slot] || self.cursors[slot].position < logs[slot].offset_end() || processor.queued(slot) > 0)
                && !self.waits_for_parent(slot, parents, open, logs)
        };
        let mut held = vec![0u64; leases.workers()];
        for slot in 0..self.cursors.len() {
            if let Some(worker) = leases.owner(slot).filter(|_| has_work(slot)) {
                held[worker as usize] += 1;
            }
        }
        let (Some(processor), Some(leases)) = (&mut self.processor, &self.leases) else { return };
        for slot in 0..self.cursors.len() {
            let sharing = leases.owner(slot).map_or(1, |worker| held[worker as usize]);
            processor.set_sharing(slot, sharing);
        }
    }

    /// The batch processor, for consumers that process what they fetch.
    pub fn processor_mut(&mut self) -> Option<&mut Processor> {
        self.processor.as_mut()
    }

    /// Whether this consumer keeps per-key order across a reshard (a KCL application):
    /// it reads a child shard only after its parent.
    pub fn reads_parents_first(&self) -> bool {
        self.leases.is_some()
    }

    /// Records fetched from a shard and still waiting for processing, read before or not.
    pub fn unprocessed(&self, shard_slot: usize) -> u64 {
        self.processor.as_ref().map_or(0, |p| p.queued(shard_slot))
    }

    /// The shard at `shard_slot` is closed and this consumer has read and processed it to
    /// its end:
    /// GetRecords returns no next iterator there, so it is not polled again, and a KCL
    /// application's lease on it is removed.
    pub fn end_shard(&mut self, shard_slot: usize) {
        self.cursors[shard_slot].next_poll_ns = u64::MAX;
        if let Some(leases) = &mut self.leases {
            leases.end(shard_slot);
        }
    }

    /// Skips a due poll (waiting for a parent shard): the next one comes an interval later.
    pub fn defer_poll(&mut self, shard_slot: usize) {
        self.cursors[shard_slot].next_poll_ns += self.spec.poll_interval.as_nanos();
    }

    /// Records fetched from a shard but not yet processed, not counting those read
    /// before (reprocessed after a lease moved).
    pub fn queued(&self, shard_slot: usize) -> u64 {
        self.processor.as_ref().map_or(0, |p| p.queued_new(shard_slot))
    }

    /// Runs processing on a shard up to `until_ns` (once per step, after the shard's
    /// polls). A processor whose batches share concurrency slots over all shards waits
    /// for [`Self::process_all`].
    pub fn process(&mut self, shard_slot: usize, until_ns: u64) {
        let Some(processor) = &mut self.processor else { return };
        if processor.limits_concurrency() {
            return;
        }
        let rng = self.processing_errors.rng();
        processor.process(shard_slot, until_ns, rng, [&mut self.period[shard_slot], &mut self.totals]);
    }

    /// Runs processing on every shard up to `until_ns` when batches share concurrency
    /// slots (once per step, after every shard's polls).
    pub fn process_all(&mut self, until_ns: u64) {
        let Some(processor) = &mut self.processor else { return };
        if !processor.limits_concurrency() {
            return;
        }
        let rng = self.processing_errors.rng();
        processor.process_all(until_ns, rng, &mut self.period, &mut self.totals);
    }

    /// Records that expired before this consumer read them: everything below `offset`.
    /// Returns how many were lost.
    pub fn expire_below(&mut self, shard_slot: usize, offset: u64) -> u64 {
        let frontier = self.frontier(shard_slot);
        let cursor = &mut self.cursors[shard_slot];
        if cursor.position >= offset {
            return 0;
        }
        // Records already read once (before a failover) are not lost when they expire.
        let lost = offset.saturating_sub(frontier);
        cursor.position = offset;
        if lost == 0 {
            return 0;
        }
        // Before it starts, only a trim-horizon consumer meant to read these records.
        if !cursor.started && self.start != StartPosition::TrimHorizon {
            self.period[shard_slot].skipped_records += lost;
            self.totals.skipped_records += lost;
            return 0;
        }
        self.period[shard_slot].expired_unread_records += lost;
        self.totals.expired_unread_records += lost;
        lost
    }

    /// Whether this consumer reads with GetRecords (shared throughput, CloudWatch
    /// `GetRecords.*`); enhanced fan-out pushes with SubscribeToShard instead.
    pub fn uses_get_records(&self) -> bool {
        self.dedicated.is_none()
    }

    /// Coasting: serves this consumer's polls of `shard_slot` due before `t1_ns` that
    /// reach only `block`, the log's newest (a coasting window's records, evenly spread
    /// over it): each reads everything readable by its cutoff, as [`Self::poll`] does for
    /// a plain poller that keeps up, its iterator age from the newest record read. Only
    /// the poll times are drawn one by one; the records they read are counted once, and
    /// their latencies wait in `coast_pending` for the law of a window's reads
    /// ([`Self::coast_settle_latencies`]). The shard's byte budget is left to the caller
    /// ([`ReadBudget::settle_coasted`]): a coasting shard's polls cannot run it dry
    /// (`engine/coast.rs`). Serves nothing unless [`Self::reaches_only`] holds.
    pub fn coast_polls(&mut self, shard_slot: usize, blocks: &CoastBlocks, t1_ns: u64) -> CoastReads {
        debug_assert!(self.can_coast() && self.cursors[shard_slot].started);
        let mut reads = CoastReads::default();
        if !self.reaches_only(shard_slot, blocks) {
            return reads;
        }
        let (block, readable_delay_ns) = (&blocks.window, blocks.readable_delay_ns);
        let cursor = self.cursors[shard_slot];
        let (interval_ns, jitter_ns) = (self.spec.poll_interval.as_nanos(), self.spec.poll_jitter.as_nanos());
        // The polls' times: each gap is the interval plus a uniform part of the jitter.
        // While many gaps fit before `t1_ns` even at their longest, a run of them is
        // drawn at once: the sum of `k` uniforms (Irwin-Hall) by its normal law, whose
        // quantiles differ from the exact ones by under 1% of the jitter at `k` =
        // [`COAST_LEAP_GAPS_MIN`]; the last few are drawn one by one.
        let (mut now_ns, mut previous_ns) = (cursor.next_poll_ns, cursor.next_poll_ns);
        let gap_max_ns = interval_ns + jitter_ns;
        // The longest gap drawn: its polls' records set the largest latency.
        let mut jitter_longest = 0.0_f64;
        while now_ns < t1_ns {
            let fitting = (t1_ns - now_ns) / gap_max_ns.max(1);
            previous_ns = now_ns;
            if fitting >= COAST_LEAP_GAPS_MIN && jitter_ns > 0 {
                let k = count_to_f64(fitting);
                let rng = self.polls.rng();
                let uniforms = (0.5 * k + (k / 12.0).sqrt() * standard_normal(rng)).clamp(0.0, k);
                // The largest of the run's uniforms, drawn at once.
                jitter_longest = jitter_longest.max(libm::pow(uniform01(rng), 1.0 / k));
                reads.calls += fitting;
                now_ns += fitting * interval_ns + f64_to_count(uniforms * count_to_f64(jitter_ns));
            } else {
                reads.calls += 1;
                let jitter = uniform01(self.polls.rng());
                jitter_longest = jitter_longest.max(jitter);
                now_ns += interval_ns + f64_to_count(jitter * count_to_f64(jitter_ns));
            }
        }
        if reads.calls == 0 {
            return reads;
        }
        // The last poll was at `previous_ns` (a run is followed by single gaps, as it
        // ends at least one longest gap before `t1_ns`), the one before it a gap earlier.
        let last_ns = previous_ns;
        let readable_at = |poll_ns: u64| blocks.readable_end(poll_ns.saturating_sub(readable_delay_ns));
        let position = readable_at(last_ns).max(cursor.position);
        let before_last =
            if reads.calls > 1 { readable_at(last_ns - interval_ns).max(cursor.position) } else { cursor.position };
        let last_call = (before_last.min(position), position);
        reads.last_poll_ns = last_ns;
        // A poll's iterator age is the propagation delay plus the time since the newest
        // record before its cutoff, a uniform fraction of the spacing of evenly spread
        // records: the largest of `calls` of them is drawn at once.
        let spacing_ms = block.spacing_ns() * MS_PER_NS;
        let largest = libm::pow(uniform01(self.polls.rng()), 1.0 / count_to_f64(reads.calls));
        reads.iterator_age_ms_max = count_to_f64(readable_delay_ns) * MS_PER_NS + spacing_ms * largest;
        let bytes_between = |from: u64, to: u64| blocks.bytes_between(from, to);
        reads.records = position - cursor.position;
        reads.bytes = bytes_between(cursor.position, position);
        reads.last_bytes = bytes_between(last_call.0, last_call.1);
        self.cursors[shard_slot] = Cursor { position, next_poll_ns: now_ns, ..cursor };
        let low_ms = count_to_f64(readable_delay_ns + block.age_at_arrival_ns) * MS_PER_NS;
        let pending = &mut self.coast_pending[shard_slot];
        pending.0 += reads.records;
        pending.1 += count_to_f64(reads.records) * low_ms;
        pending.2 = pending.2.max(interval_ns + f64_to_count(jitter_longest * count_to_f64(jitter_ns)));
        for counters in [&mut self.period[shard_slot], &mut self.totals] {
            counters.get_records_calls += reads.calls;
            counters.read_records += reads.records;
            counters.read_bytes += reads.bytes;
            counters.iterator_age_ms_max = counters.iterator_age_ms_max.max(reads.iterator_age_ms_max);
        }
        reads
    }

    /// Whether this consumer's polls of `shard_slot` reach only `blocks`: nothing before
    /// them is unread, and its next poll has a cutoff.
    pub fn reaches_only(&self, shard_slot: usize, blocks: &CoastBlocks) -> bool {
        let cursor = &self.cursors[shard_slot];
        cursor.position >= blocks.offset_first() && cursor.next_poll_ns >= blocks.readable_delay_ns
    }

    /// Adds the latencies of records coasting polls read to the histograms. A poll
    /// reads what arrived over the gap since the one before (the records evenly spread
    /// in time), so their latencies, above the lowest (propagation plus the producer's
    /// buffering), are uniform over the gap, and the gaps are uniform over
    /// `[interval, interval + jitter]`. Records weigh by gap, so the law of one record's
    /// latency above the lowest has density `P(gap > x) / E[gap]`: flat up to the
    /// interval, then falling linearly to zero at interval + jitter, cut at the longest
    /// gap the period's polls drew (its largest latency, as stepping would report it).
    pub fn coast_settle_latencies(&mut self) {
        let interval_ms = count_to_f64(self.spec.poll_interval.as_nanos()) * MS_PER_NS;
        let jitter_full_ms = count_to_f64(self.spec.poll_jitter.as_nanos()) * MS_PER_NS;
        for slot in 0..self.coast_pending.len() {
            let (records, low_sum_ms, gap_longest_ns) = std::mem::take(&mut self.coast_pending[slot]);
            if records == 0 {
                continue;
            }
            // The falling part ends where the longest drawn gap did; its height at the
            // interval is that of the whole law, `1 - 0 / jitter`, falling at the same slope.
            let jitter_ms = (count_to_f64(gap_longest_ns) * MS_PER_NS - interval_ms).clamp(0.0, jitter_full_ms);
            let falling_area =
                if jitter_full_ms > 0.0 { jitter_ms - jitter_ms * jitter_ms / (2.0 * jitter_full_ms) } else { 0.0 };
            let flat_share = interval_ms / (interval_ms + falling_area);
            let latencies =
                if self.latency_per_shard { &mut self.period[slot].latency_ms } else { &mut self.totals.latency_ms };
            let low_ms = low_sum_ms / count_to_f64(records);
            let flat = f64_to_count(count_to_f64(records) * flat_share + 0.5).min(records);
            // Enough parts that their points (five each) follow the law closely: the
            // flat part in 16 equal ones, the falling part in 8 of falling weight.
            add_in_parts(latencies, low_ms, interval_ms, flat, &[1; 16]);
            // Eight parts, each weighed by the density at its middle.
            let mut falling_weights = [0_u64; 8];
            for (part, weight) in falling_weights.iter_mut().enumerate() {
                let middle_ms = (part as f64 + 0.5) / 8.0 * jitter_ms;
                *weight = f64_to_count(1000.0 * (1.0 - middle_ms / jitter_full_ms.max(1e-9))).max(1);
            }
            add_in_parts(latencies, low_ms + interval_ms, jitter_ms, records - flat, &falling_weights);
        }
    }

    /// Makes the poll due now on `shard_slot`, against the shard's shared budget.
    ///
    /// `SINGLES`: the shard's log holds blocks of one record ([`ShardLog::read_blocks`]).
    pub fn poll<const SINGLES: bool>(
        &mut self,
        shard_slot: usize,
        log: &ShardLog,
        budget: &mut ReadBudget,
        limit: &ReadLimitSpec,
    ) -> PollOutcome {
        if !self.cursors[shard_slot].started {
            self.start_iterator(shard_slot, log);
        }
        let cursor = self.cursors[shard_slot];
        let now_ns = cursor.next_poll_ns;
        let period = &mut self.period[shard_slot];
        let totals = &mut self.totals;
        period.get_records_calls += 1;
        totals.get_records_calls += 1;
        let mut position = cursor.position;
        let mut outcome = PollOutcome::default();
        let (budget, limit) = match &mut self.dedicated {
            Some(dedicated) => (&mut dedicated.budgets[shard_slot], &dedicated.limit),
            None => (budget, limit),
        };
        // A processing consumer fetches only what its prefetch has room for; with no room
        // it makes no call at all.
        let room = self.processor.as_ref().map_or(u64::MAX, |p| p.room(shard_slot));
        let call = if room == 0 { Call::Skipped } else { Call::Made(budget.open_call(limit, now_ns)) };
        match call {
            Call::Skipped => {
                period.get_records_calls -= 1;
                totals.get_records_calls -= 1;
            }
            Call::Made(None) => {
                period.read_throttled_calls += 1;
                totals.read_throttled_calls += 1;
                outcome.throttled = true;
            }
            Call::Made(Some(bytes_allowed)) => {
                let bytes_max = bytes_allowed.min(self.spec.max_bytes);
                let records_max = u64::from(self.spec.max_records).min(room);
                let processing = self.processor.is_some();
                let latencies = if self.latency_per_shard { &mut period.latency_ms } else { &mut totals.latency_ms };
                let pieces = &mut self.pieces;
                pieces.clear();
                let mut bytes_past_week = 0;
                let read = log.read_blocks::<SINGLES>(
                    position,
                    now_ns,
                    records_max,
                    bytes_max,
                    |records, bytes, latency_ns, spread_ns| {
                        if latency_ns > LONG_TERM_AGE_NS {
                            bytes_past_week += bytes;
                        }
                        if processing {
                            pieces.push(Piece {
                                records,
                                bytes,
                                origin_ns: now_ns.saturating_sub(latency_ns),
                                fetched_ns: now_ns,
                                reprocessed: false,
                            });
                        } else {
                            // The period histogram is merged into the run's when the
                            // period closes (`take_period`).
                            let (mid_ms, spread_ms) =
                                (count_to_f64(latency_ns) * MS_PER_NS, count_to_f64(spread_ns) * MS_PER_NS);
                            latencies.add_spread(mid_ms - spread_ms / 2.0, mid_ms + spread_ms / 2.0, records);
                        }
                    },
                );
                budget.charge(read.bytes);
                position += read.records;
                let age_ms = if read.records == 0 {
                    0.0
                } else {
                    count_to_f64(now_ns - read.arrival_last_ns) / NANOS_PER_MS as f64
                };
                let reprocessed = match &mut self.leases {
                    Some(leases) => leases.after_read(shard_slot, position - read.records, position),
                    None => 0,
                };
                for counters in [&mut *period, &mut *totals] {
                    if !processing {
                        counters.read_records += read.records - reprocessed;
                        counters.reprocessed_records += reprocessed;
                    }
                    counters.read_bytes += read.bytes;
                    counters.iterator_age_ms_max = counters.iterator_age_ms_max.max(age_ms);
                }
                if let Some(processor) = &mut self.processor {
                    // The read's first `reprocessed` records were read before the lease moved.
                    let mut again = reprocessed;
                    for piece in &self.pieces {
                        let (old, new) = split_piece(piece, again);
                        again -= old.map_or(0, |p| p.records);
                        for part in [old, new].into_iter().flatten() {
                            processor.accept(shard_slot, part);
                        }
                    }
                }
                if let Some(leases) = &mut self.leases {
                    // The KCL checkpoints what its record processor has processed: the
                    // records still queued (the read's tail, one lane) are not.
                    let queued = self.processor.as_ref().map_or(0, |p| p.queued(shard_slot));
                    leases.checkpoint_if_due(shard_slot, position - queued, now_ns);
                }
                outcome = PollOutcome {
                    records: read.records,
                    bytes: read.bytes,
                    bytes_past_week,
                    throttled: false,
                    iterator_age_ms: age_ms,
                };
            }
        }
        let jitter_ns = f64_to_count(uniform01(self.polls.rng()) * count_to_f64(self.spec.poll_jitter.as_nanos()));
        let next_poll_ns = now_ns + self.spec.poll_interval.as_nanos() + jitter_ns;
        self.cursors[shard_slot] = Cursor { position, next_poll_ns, started: true, ..cursor };
        outcome
    }
}

/// Adds `records` spread over `[from_ms, from_ms + width_ms]` in equal parts of the
/// range, each taking records in proportion to its weight (the last what remains).
fn add_in_parts(histogram: &mut LogHistogram, from_ms: f64, width_ms: f64, records: u64, weights: &[u64]) {
    let total: u64 = weights.iter().sum();
    let part_ms = width_ms / weights.len() as f64;
    let mut left = records;
    for (part, &weight) in weights.iter().enumerate() {
        let count = if part + 1 == weights.len() { left } else { records * weight / total };
        left -= count;
        let start_ms = from_ms + part_ms * part as f64;
        histogram.add_spread(start_ms, start_ms + part_ms, count);
    }
}

/// Splits the first `again` records off a fetched piece as reprocessed.
fn split_piece(piece: &Piece, again: u64) -> (Option<Piece>, Option<Piece>) {
    let old_records = again.min(piece.records);
    if old_records == 0 {
        return (None, Some(*piece));
    }
    let old_bytes = crate::ratio::scale(piece.bytes, old_records, piece.records);
    let old = Piece { records: old_records, bytes: old_bytes, reprocessed: true, ..*piece };
    let rest = piece.records - old_records;
    let new = (rest > 0).then(|| Piece { records: rest, bytes: piece.bytes - old_bytes, ..*piece });
    (Some(old), new)
}
