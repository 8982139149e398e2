//! KCL applications: workers holding leases on shards (reference `kinesis-facts.md` §8.1).
//!
//! Lifecycle of a lease: each shard has one lease, owned by one live worker; leases are
//! spread so every worker holds about the same count (KCL 1.x/2.x balance by count).
//! The owner reads the shard and checkpoints its position every `checkpoint_interval`
//! (with processing, the position processed: a record processor checkpoints what it
//! has processed; what a worker fetched and had not processed is dropped when it dies
//! or lets the lease go, see [`Leases::forget_unprocessed`]).
//! When a worker dies it stops renewing: its leases expire `failover_time` after their
//! last renewal (renewals come every `failover_time / 3 - 25 ms`, so on average half of
//! that before the failure), and each survivor's lease taker, running every
//! `2 * (failover_time + 25 ms)` from its own phase, takes expired leases in one pass up
//! to its share. The new owner resumes from the last checkpoint, so the records the dead
//! worker had read since then are read again: `reprocessed_records`.
//!
//! After a split, a child shard is read only once its parent is closed, read to its end
//! and processed (the engine holds the child's polls), so per-key order is kept.
//!
//! A worker that joins takes no expired leases (there are none) but, at each of its taker
//! runs, steals one lease (`maxLeasesToStealAtOneTime` = 1) from the most loaded worker
//! while it holds fewer than its share; the stolen shard resumes at its checkpoint.
//!
//! KCL 1.x and 2.x balance lease counts; KCL 3.x balances load (each lease weighs its
//! shard's offered records per second: with identical workers, CPU utilisation is in
//! proportion to the records they process, so balancing CPU is balancing throughput),
//! so a hot shard's owner holds fewer others. KCL 3.x's lease assignment moves as many
//! leases as balance needs in one run (1.x/2.x steal one at a time), and hands them off
//! gracefully: the old owner checkpoints where it is before letting go, so nothing is
//! reprocessed (reference §8.1: graceful handoff enabled by default). Workers of
//! different sizes (where CPU and throughput balancing differ) are not modelled.
//!
//! With processing capacity, a worker's capacity is shared by the shards it holds with
//! records still to process ([`crate::consumer::ShardReader::share_worker_capacity`]).

use crate::spec::KclSpec;
use kinesim_sim::NANOS_PER_MS;

/// The lease table of one KCL application.
#[derive(Clone, Debug)]
pub struct Leases {
    spec: KclSpec,
    alive: Vec<bool>,
    /// Per shard slot: the owning worker (`None` while a lease waits to be taken).
    owner: Vec<Option<u32>>,
    /// Per shard slot: the last checkpointed position and when it was written.
    checkpoint: Vec<u64>,
    checkpoint_ns: Vec<u64>,
    /// Per shard slot: the furthest position ever read; reads below it are reprocessing.
    high_water: Vec<u64>,
    /// Per shard slot: its offered records per second, which KCL 3.x balances.
    shard_load: Vec<f64>,
}

/// A lease that changes hands after a failure.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Takeover {
    pub shard_slot: usize,
    pub worker: u32,
    /// When the new owner takes the lease and starts reading.
    pub taken_ns: u64,
    /// Where it resumes: the last checkpoint.
    pub checkpoint: u64,
}

impl Leases {
    pub fn new(spec: &KclSpec) -> Leases {
        Leases {
            spec: spec.clone(),
            alive: vec![true; spec.workers as usize],
            owner: Vec::new(),
            checkpoint: Vec::new(),
            checkpoint_ns: Vec::new(),
            high_water: Vec::new(),
            shard_load: Vec::new(),
        }
    }

    /// Renewals come every `failover / 3 - 25 ms` (KCL's `getRenewerTakerIntervalMillis`).
    fn renew_interval_ns(&self) -> u64 {
        (self.spec.failover_time.as_nanos() / 3).saturating_sub(25 * NANOS_PER_MS)
    }

    /// The lease taker runs every `2 * (failover + 25 ms)`; KCL 3.x's lease assignment
    /// every `2 * failover` (`leaseAssignmentIntervalMillis`, §8.1).
    pub fn taker_interval_ns(&self) -> u64 {
        if self.spec.version >= 3 {
            2 * self.spec.failover_time.as_nanos()
        } else {
            2 * (self.spec.failover_time.as_nanos() + 25 * NANOS_PER_MS)
        }
    }

    /// What a lease weighs when leases are balanced: 1 (KCL 1.x and 2.x balance lease
    /// counts), or the shard's throughput (KCL 3.x).
    fn weight(&self, shard_slot: usize) -> f64 {
        if self.spec.version >= 3 {
            self.shard_load[shard_slot]
        } else {
            1.0
        }
    }

    /// Per worker, the weight of the leases it holds.
    fn worker_loads(&self) -> Vec<f64> {
        let mut loads = vec![0.0; self.alive.len()];
        for (slot, owner) in self.owner.iter().enumerate() {
            if let Some(owner) = owner {
                loads[*owner as usize] += self.weight(slot);
            }
        }
        loads
    }

    /// The live worker with the least weight of leases (the lowest index on ties).
    fn least_loaded(&self, loads: &[f64]) -> Option<u32> {
        (0..self.alive.len())
            .filter(|&w| self.alive[w])
            .min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b)))
            .map(|w| w as u32)
    }

    /// Sets a shard's offered records per second (used by KCL 3.x balancing).
    pub fn set_shard_load(&mut self, shard_slot: usize, records_per_s: f64) {
        self.shard_load[shard_slot] = records_per_s.max(0.0);
    }

    /// A new shard's lease, given to the least-loaded live worker.
    pub fn attach(&mut self, position: u64, now_ns: u64) {
        let owner = self.least_loaded(&self.worker_loads());
        self.owner.push(owner);
        self.shard_load.push(1.0);
        self.checkpoint.push(position);
        self.checkpoint_ns.push(now_ns);
        self.high_water.push(position);
    }

    /// The shard at `shard_slot` is closed, read and processed to its end: KCL deletes
    /// its lease (`cleanupLeasesUponShardCompletion`), so no worker holds it, takes it or
    /// counts it when balancing the leases of shards still open.
    pub fn end(&mut self, shard_slot: usize) {
        self.owner[shard_slot] = None;
    }

    /// The application's iterator on a shard starts at `position` (its initial position:
    /// `latest`, `trim_horizon` or `at_timestamp`). A lease with no checkpoint yet points
    /// at that initial position, so a worker taking it over later starts there too, not
    /// before it (records passed over are skipped, never read).
    pub fn start_at(&mut self, shard_slot: usize, position: u64) {
        self.checkpoint[shard_slot] = self.checkpoint[shard_slot].max(position);
    }

    /// The furthest position ever read on a shard.
    pub fn high_water(&self, shard_slot: usize) -> u64 {
        self.high_water[shard_slot]
    }

    /// The worker holding a shard's lease, if any.
    pub fn owner(&self, shard_slot: usize) -> Option<u32> {
        self.owner[shard_slot]
    }

    /// How many workers the application has had (live or dead).
    pub fn workers(&self) -> usize {
        self.alive.len()
    }

    /// Whether some worker reads this shard now.
    pub fn owned(&self, shard_slot: usize) -> bool {
        self.owner[shard_slot].is_some()
    }

    /// The lowest position the application may go back to: the last checkpoint. The
    /// stream must keep records from there on.
    pub fn checkpoint(&self, shard_slot: usize) -> u64 {
        self.checkpoint[shard_slot]
    }

    /// After a read of `[start, position)`: returns how many of those records were read
    /// before.
    pub fn after_read(&mut self, shard_slot: usize, start: u64, position: u64) -> u64 {
        let reprocessed = self.high_water[shard_slot].min(position).saturating_sub(start);
        self.high_water[shard_slot] = self.high_water[shard_slot].max(position);
        reprocessed
    }

    /// Checkpoints at `done` (what the application has processed, or read when it does
    /// not process) if the interval has passed since the last checkpoint.
    pub fn checkpoint_if_due(&mut self, shard_slot: usize, done: u64, now_ns: u64) {
        if now_ns.saturating_sub(self.checkpoint_ns[shard_slot]) >= self.spec.checkpoint_interval.as_nanos() {
            self.checkpoint[shard_slot] = done.max(self.checkpoint[shard_slot]);
            self.checkpoint_ns[shard_slot] = now_ns;
        }
    }

    /// The last `records` read from a shard were never processed (its owner died or let
    /// go of it with them in its queue): they count as unread, and a graceful handoff's
    /// checkpoint does not pass them.
    pub fn forget_unprocessed(&mut self, shard_slot: usize, records: u64) {
        let high_water = self.high_water[shard_slot].saturating_sub(records);
        self.high_water[shard_slot] = high_water;
        self.checkpoint[shard_slot] = self.checkpoint[shard_slot].min(high_water);
    }

    /// Worker `worker` dies at `now_ns`: its leases expire after the failover time and
    /// the survivors take them at their next taker runs, each up to an even share.
    pub fn fail(&mut self, worker: u32, now_ns: u64) -> Vec<Takeover> {
        let index = worker as usize;
        if index >= self.alive.len() || !self.alive[index] {
            return Vec::new();
        }
        self.alive[index] = false;
        let orphans: Vec<usize> = (0..self.owner.len()).filter(|&s| self.owner[s] == Some(worker)).collect();
        for &slot in &orphans {
            self.owner[slot] = None;
        }
        // The last renewal came on average half a renewal interval before the failure.
        let expiry_ns = now_ns + self.spec.failover_time.as_nanos() - self.renew_interval_ns() / 2;
        let mut loads = self.worker_loads();
        let mut orphans = orphans;
        // Heaviest first, each to the least-loaded survivor: a greedy balance.
        orphans.sort_by(|&a, &b| self.weight(b).total_cmp(&self.weight(a)).then(a.cmp(&b)));
        let mut takeovers = Vec::with_capacity(orphans.len());
        for slot in orphans {
            let Some(survivor) = self.least_loaded(&loads) else {
                break; // No worker left: the shard is not read until the run ends.
            };
            loads[survivor as usize] += self.weight(slot);
            self.owner[slot] = Some(survivor);
            let taken_ns = self.next_taker_run(survivor, expiry_ns);
            takeovers.push(Takeover {
                shard_slot: slot,
                worker: survivor,
                taken_ns,
                checkpoint: self.checkpoint[slot],
            });
        }
        takeovers
    }

    /// A new worker starts; returns its index. Its lease taker then steals (see
    /// [`Leases::steal`]).
    pub fn join(&mut self) -> u32 {
        self.alive.push(true);
        (self.alive.len() - 1) as u32
    }

    /// The first run of `worker`'s lease taker at or after `after_ns`.
    pub fn taker_run_after(&self, worker: u32, after_ns: u64) -> u64 {
        self.next_taker_run(worker, after_ns)
    }

    /// One run of `worker`'s lease taker at `now_ns`: it steals one lease from the most
    /// loaded live worker when that makes the two more even (KCL 1.x and 2.x,
    /// `maxLeasesToStealAtOneTime` = 1), or, in KCL 3.x, as many as balance needs, each
    /// handed off gracefully at the old owner's position. Returns the takeovers and
    /// whether another run would still move a lease.
    pub fn steal(&mut self, worker: u32, now_ns: u64) -> (Vec<Takeover>, bool) {
        if !self.alive[worker as usize] {
            return (Vec::new(), false);
        }
        let graceful = self.spec.version >= 3;
        let moves_max = if graceful { self.owner.len() } else { 1 };
        let mut takeovers = Vec::new();
        while takeovers.len() < moves_max {
            let Some((slot, _)) = self.best_steal(worker) else { break };
            if graceful {
                // The old owner checkpoints what it has read before releasing the lease.
                self.checkpoint[slot] = self.high_water[slot];
                self.checkpoint_ns[slot] = now_ns;
            }
            self.owner[slot] = Some(worker);
            takeovers.push(Takeover { shard_slot: slot, worker, taken_ns: now_ns, checkpoint: self.checkpoint[slot] });
        }
        let more = !takeovers.is_empty() && self.best_steal(worker).is_some();
        (takeovers, more)
    }

    /// The lease of the most loaded other worker whose move to `worker` leaves the pair
    /// most even, if it makes them more even than now.
    fn best_steal(&self, worker: u32) -> Option<(usize, f64)> {
        let loads = self.worker_loads();
        let mine = loads[worker as usize];
        let victim = (0..self.alive.len())
            .filter(|&w| self.alive[w] && w != worker as usize)
            .max_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(b.cmp(&a)))?;
        let gap = loads[victim] - mine;
        (0..self.owner.len())
            .filter(|&s| self.owner[s] == Some(victim as u32))
            .map(|s| (s, (gap - 2.0 * self.weight(s)).abs()))
            .filter(|&(_, after)| after < gap - 1e-9)
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
    }

    /// The first run of `worker`'s lease taker at or after `after_ns`; workers' takers are
    /// spread evenly over one interval.
    fn next_taker_run(&self, worker: u32, after_ns: u64) -> u64 {
        let interval = self.taker_interval_ns();
        let phase = interval / self.alive.len() as u64 * u64::from(worker);
        if after_ns <= phase {
            return phase;
        }
        phase + (after_ns - phase).div_ceil(interval) * interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinesim_sim::SimDuration;

    fn spec(workers: u32) -> KclSpec {
        KclSpec {
            version: 2,
            workers,
            failover_time: SimDuration::from_secs(10),
            checkpoint_interval: SimDuration::from_secs(30),
            failures: Vec::new(),
            joins: Vec::new(),
        }
    }

    #[test]
    fn leases_spread_and_move_after_a_failure() {
        let mut leases = Leases::new(&spec(2));
        for _ in 0..4 {
            leases.attach(0, 0);
        }
        assert_eq!(leases.worker_loads(), vec![2.0, 2.0]);
        let s = 1_000_000_000;
        let takeovers = leases.fail(1, 100 * s);
        assert_eq!(takeovers.len(), 2);
        for takeover in &takeovers {
            assert_eq!(takeover.worker, 0);
            // Expired after failover (minus half a renewal), taken within one taker interval.
            assert!(takeover.taken_ns >= 100 * s + 10 * s - 2 * s && takeover.taken_ns <= 100 * s + 10 * s + 21 * s);
        }
        assert_eq!(leases.worker_loads(), vec![4.0, 0.0]);
    }

    #[test]
    fn kcl_3_balances_throughput_not_counts() {
        let s = 1_000_000_000;
        for (version, expected) in [(2, [1, 1]), (3, [0, 2])] {
            let mut leases = Leases::new(&KclSpec { version, ..spec(3) });
            for slot in 0..6 {
                leases.attach(0, 0);
                leases.set_shard_load(slot, if slot == 0 { 10.0 } else { 1.0 });
            }
            // Workers 0, 1, 2 hold shards {0, 3}, {1, 4}, {2, 5}; worker 0 carries the hot shard.
            let takeovers = leases.fail(2, 100 * s);
            let to = |worker: u32| takeovers.iter().filter(|t| t.worker == worker).count();
            assert_eq!([to(0), to(1)], expected, "KCL {version}");
        }
    }

    #[test]
    fn reads_below_the_high_water_mark_are_reprocessing() {
        let mut leases = Leases::new(&spec(1));
        leases.attach(0, 0);
        assert_eq!(leases.after_read(0, 0, 100), 0);
        leases.checkpoint_if_due(0, 100, 1);
        assert_eq!(leases.after_read(0, 40, 150), 60);
        leases.checkpoint_if_due(0, 150, 2);
        assert_eq!(leases.checkpoint(0), 0, "no checkpoint before 30 s");
        leases.after_read(0, 150, 160);
        leases.checkpoint_if_due(0, 155, 31_000_000_000);
        assert_eq!(leases.checkpoint(0), 155, "what was processed");
        leases.forget_unprocessed(0, 5);
        assert_eq!(leases.after_read(0, 155, 170), 0, "the 5 dropped unprocessed count as new");
    }
}
