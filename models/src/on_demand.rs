//! The on-demand capacity controller: AWS's service-side splitting of a stream's real
//! shards (reference/kinesis-facts.md §7.1, reference/scaling-policies.md §1.5).
//!
//! What AWS publishes: a new on-demand stream has 4 shards (4 MB/s write); a shard whose
//! incoming traffic exceeds 500 KB/s is split "within 15 minutes", its hash range halved;
//! hot keys are not isolated (a key still gets at most one shard's 1 MiB/s); traffic that
//! more than doubles the previous peak within 15 minutes may throttle for about that
//! long. The "twice the 30-day peak" headroom is not a separate rule here: it emerges
//! from splitting every shard that runs above half its limit.
//!
//! What AWS does not publish, and is therefore a parameter ([`OnDemandSpec`]): how the
//! traffic is measured (here the mean over one `evaluation_period`), how long the split
//! takes (here exactly `split_delay` after the measurement that triggered it), and
//! scale-down (here adjacent shards that both stayed below a quarter of the split
//! threshold for `scale_down_after` are merged, never below `shards_min`).
//!
//! Lifecycle of a shard under the controller: open and measured each evaluation; once
//! above the threshold it is *due* for a split at `detected + split_delay` (and is not
//! measured again until then); at that time it splits at its midpoint into two children,
//! which start fresh. A shard below the cold threshold since some time is a merge
//! candidate; a merge happens only between neighbours in hash order that are both cold
//! for long enough.
//!
//! Warm throughput (On-demand Advantage, §7.2) pre-scales the stream: after
//! `warm_duration` the widest open shards are split until the stream has one open shard
//! per MiB/s of the target, and scale-down keeps at least that many.

use crate::routing::HashRange;
use kinesim_sim::SimDuration;

/// Parameters of the service-side controller; defaults in [`Default`].
#[derive(Clone, Debug, PartialEq)]
pub struct OnDemandSpec {
    /// Incoming bytes/s above which a shard is split (500 KB/s, §7.1; read as KiB).
    pub split_bytes_per_s: u64,
    /// Incoming records/s above which a shard is split. Assumption: half the shard's
    /// 1,000 records/s, by analogy with the byte threshold (AWS publishes only bytes).
    pub split_records_per_s: u64,
    /// How often shard traffic is measured (its mean over the period). Assumption: 1 min,
    /// CloudWatch's finest standard resolution.
    pub evaluation_period: SimDuration,
    /// From the measurement that crosses the threshold to the split. "Within 15
    /// minutes" (§7.1): the default takes the documented worst case.
    pub split_delay: SimDuration,
    /// How long two neighbouring shards must both stay below a quarter of the split
    /// thresholds before they are merged; `None` never merges. Assumption: 24 h
    /// (third-party reports of "gradual over 24 h", §1.5; AWS does not document it).
    pub scale_down_after: Option<SimDuration>,
    /// The controller never merges below this many open shards (a new stream's 4).
    pub shards_min: u32,
    /// How long a warm-throughput change takes ("a few minutes", §7.2). Assumption: 5 min.
    pub warm_duration: SimDuration,
    /// Warm throughput at the start, MiB/s (On-demand Advantage only; 0 for none).
    pub warm_mibps: u32,
    /// The stream's write ceiling in MiB/s: no split beyond two shards per MiB/s of it
    /// (10 GiB/s in us-east-1, us-west-2 and eu-west-1; 200 MB/s elsewhere, §7.1).
    pub write_max_mibps: u32,
}

impl Default for OnDemandSpec {
    fn default() -> Self {
        OnDemandSpec {
            split_bytes_per_s: 500 * 1024,
            split_records_per_s: 500,
            evaluation_period: SimDuration::from_secs(60),
            split_delay: SimDuration::from_secs(15 * 60),
            scale_down_after: Some(SimDuration::from_secs(24 * 3600)),
            shards_min: 4,
            warm_duration: SimDuration::from_secs(5 * 60),
            warm_mibps: 0,
            write_max_mibps: 10 * 1024,
        }
    }
}

/// The open shards a new on-demand stream has (§1.5: 4 MB/s; LocalStack's AWS snapshot
/// and kinesis-mock both show 4 shards).
pub const NEW_STREAM_SHARDS: u32 = 4;

/// The largest warm throughput UpdateStreamWarmThroughput accepts, MiB/s (§7.1).
pub const WARM_MIBPS_MAX: u32 = 10 * 1024;

/// What one open shard did over the last evaluation period.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ShardTraffic {
    pub slot: usize,
    pub range: HashRange,
    pub incoming_bytes: u64,
    pub incoming_records: u64,
}

/// A change the controller makes to the shard map.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Split { slot: usize, key: u128 },
    Merge { low: usize, high: usize },
}

/// The controller's memory, per shard slot (slots are never reused).
#[derive(Clone, Debug, Default)]
pub struct OnDemandController {
    /// When a shard that crossed the threshold splits, in ns.
    split_due_ns: Vec<Option<u64>>,
    /// Since when a shard has stayed below the cold threshold, in ns.
    cold_since_ns: Vec<Option<u64>>,
    /// The warm throughput in force, MiB/s.
    warm_mibps: u32,
}

impl OnDemandController {
    pub fn new(spec: &OnDemandSpec) -> OnDemandController {
        OnDemandController { split_due_ns: Vec::new(), cold_since_ns: Vec::new(), warm_mibps: spec.warm_mibps }
    }

    pub fn warm_mibps(&self) -> u32 {
        self.warm_mibps
    }

    pub fn set_warm_mibps(&mut self, mibps: u32) {
        assert!(mibps <= WARM_MIBPS_MAX);
        self.warm_mibps = mibps;
    }

    /// Forgets pending splits and cold clocks (the stream left on-demand mode).
    pub fn reset(&mut self) {
        self.split_due_ns.iter_mut().for_each(|due| *due = None);
        self.cold_since_ns.iter_mut().for_each(|since| *since = None);
    }

    fn grow(&mut self, slots: usize) {
        if self.split_due_ns.len() < slots {
            self.split_due_ns.resize(slots, None);
            self.cold_since_ns.resize(slots, None);
        }
    }

    /// One evaluation at `now_ns` over the open shards' traffic in the period just
    /// ended (`period_ns` long), sorted by hash range. Returns the changes to make now,
    /// in order; every slot they name is open and no slot appears twice.
    pub fn evaluate(
        &mut self,
        spec: &OnDemandSpec,
        open: &[ShardTraffic],
        now_ns: u64,
        period_ns: u64,
        slots: usize,
    ) -> Vec<Change> {
        assert!(period_ns > 0);
        debug_assert!(open.windows(2).all(|w| w[0].range.end < w[1].range.start), "sorted, disjoint");
        self.grow(slots);
        let seconds = period_ns as f64 / 1e9;
        let over = |t: &ShardTraffic, fraction: f64| {
            t.incoming_bytes as f64 / seconds > fraction * spec.split_bytes_per_s as f64
                || t.incoming_records as f64 / seconds > fraction * spec.split_records_per_s as f64
        };
        let shards_max = (2 * u64::from(spec.write_max_mibps)).max(u64::from(spec.shards_min)) as usize;
        let mut open_count = open.len();
        let mut changes = Vec::new();
        for traffic in open {
            let slot = traffic.slot;
            match self.split_due_ns[slot] {
                Some(due_ns) if due_ns <= now_ns && open_count < shards_max => {
                    if let Some(key) = midpoint(traffic.range) {
                        changes.push(Change::Split { slot, key });
                        open_count += 1;
                    }
                    self.split_due_ns[slot] = None;
                }
                Some(_) => {}
                None if over(traffic, 1.0) => {
                    self.split_due_ns[slot] = Some(now_ns + spec.split_delay.as_nanos());
                }
                None => {}
            }
            let cold = !over(traffic, 0.25);
            match (cold, self.cold_since_ns[slot]) {
                (true, None) => self.cold_since_ns[slot] = Some(now_ns),
                (false, _) => self.cold_since_ns[slot] = None,
                (true, Some(_)) => {}
            }
        }
        // A split due exactly now may have been scheduled with no delay.
        self.split_due_now(spec, open, now_ns, &mut changes, &mut open_count, shards_max);
        self.warm_splits(open, &mut changes, &mut open_count, shards_max);
        if changes.is_empty() {
            self.merges(spec, open, now_ns, &mut changes, open_count);
        }
        changes
    }

    fn split_due_now(
        &mut self,
        spec: &OnDemandSpec,
        open: &[ShardTraffic],
        now_ns: u64,
        changes: &mut Vec<Change>,
        open_count: &mut usize,
        shards_max: usize,
    ) {
        if !spec.split_delay.is_zero() {
            return;
        }
        for traffic in open {
            if self.split_due_ns[traffic.slot] == Some(now_ns) && *open_count < shards_max {
                self.split_due_ns[traffic.slot] = None;
                if let Some(key) = midpoint(traffic.range) {
                    changes.push(Change::Split { slot: traffic.slot, key });
                    *open_count += 1;
                }
            }
        }
    }

    /// Splits the widest shards not already splitting until the stream has one open
    /// shard per MiB/s of warm throughput.
    fn warm_splits(
        &mut self,
        open: &[ShardTraffic],
        changes: &mut Vec<Change>,
        open_count: &mut usize,
        shards_max: usize,
    ) {
        let wanted = (self.warm_mibps as usize).min(shards_max);
        if *open_count >= wanted {
            return;
        }
        let splitting = |slot: usize, changes: &[Change]| {
            changes.iter().any(|c| matches!(c, Change::Split { slot: s, .. } if *s == slot))
        };
        let mut candidates: Vec<&ShardTraffic> = open.iter().filter(|t| !splitting(t.slot, changes)).collect();
        // Widest first; ties by hash order, for determinism.
        candidates.sort_by_key(|t| (std::cmp::Reverse(t.range.end - t.range.start), t.range.start));
        for traffic in candidates {
            if *open_count >= wanted {
                break;
            }
            if let Some(key) = midpoint(traffic.range) {
                changes.push(Change::Split { slot: traffic.slot, key });
                self.split_due_ns[traffic.slot] = None;
                *open_count += 1;
            }
        }
    }

    /// Merges neighbours that have both been cold for `scale_down_after`.
    fn merges(
        &mut self,
        spec: &OnDemandSpec,
        open: &[ShardTraffic],
        now_ns: u64,
        changes: &mut Vec<Change>,
        mut open_count: usize,
    ) {
        let Some(after) = spec.scale_down_after else { return };
        let floor = (spec.shards_min as usize).max(self.warm_mibps as usize);
        let cold_long = |since: Option<u64>| since.is_some_and(|since| since + after.as_nanos() <= now_ns);
        let mut index = 0;
        while index + 1 < open.len() && open_count > floor {
            let (low, high) = (&open[index], &open[index + 1]);
            let adjacent = low.range.end.checked_add(1) == Some(high.range.start);
            if adjacent && cold_long(self.cold_since_ns[low.slot]) && cold_long(self.cold_since_ns[high.slot]) {
                changes.push(Change::Merge { low: low.slot, high: high.slot });
                open_count -= 1;
                index += 2;
            } else {
                index += 1;
            }
        }
    }
}

/// The midpoint split key of a range, if it has room for two children (§6.1).
pub fn midpoint(range: HashRange) -> Option<u128> {
    let key = range.start / 2 + range.end / 2 + (range.start % 2 + range.end % 2) / 2;
    (range.start.saturating_add(1) < key && key < range.end).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::initial_ranges;

    const MINUTE_NS: u64 = 60_000_000_000;

    fn traffic(ranges: &[HashRange], bytes_per_s: &[u64]) -> Vec<ShardTraffic> {
        ranges
            .iter()
            .zip(bytes_per_s)
            .enumerate()
            .map(|(slot, (range, rate))| ShardTraffic {
                slot,
                range: *range,
                incoming_bytes: rate * 60,
                incoming_records: rate * 60 / 1024,
            })
            .collect()
    }

    #[test]
    fn a_shard_above_500_kib_per_s_splits_after_the_delay() {
        let spec = OnDemandSpec::default();
        let mut controller = OnDemandController::new(&spec);
        let ranges = initial_ranges(4);
        let open = traffic(&ranges, &[600 * 1024, 100 * 1024, 100 * 1024, 100 * 1024]);
        assert!(controller.evaluate(&spec, &open, MINUTE_NS, MINUTE_NS, 4).is_empty());
        for minute in 2..16 {
            assert!(controller.evaluate(&spec, &open, minute * MINUTE_NS, MINUTE_NS, 4).is_empty(), "{minute}");
        }
        let changes = controller.evaluate(&spec, &open, 16 * MINUTE_NS, MINUTE_NS, 4);
        assert_eq!(changes, vec![Change::Split { slot: 0, key: midpoint(ranges[0]).unwrap() }]);
    }

    #[test]
    fn traffic_at_the_threshold_does_not_split() {
        let spec = OnDemandSpec::default();
        let mut controller = OnDemandController::new(&spec);
        let open = traffic(&initial_ranges(4), &[500 * 1024; 4]);
        for minute in 1..40 {
            assert!(controller.evaluate(&spec, &open, minute * MINUTE_NS, MINUTE_NS, 4).is_empty());
        }
    }

    #[test]
    fn cold_neighbours_merge_after_a_day_but_not_below_the_minimum() {
        let spec = OnDemandSpec { scale_down_after: Some(SimDuration::from_secs(3600)), ..OnDemandSpec::default() };
        let mut controller = OnDemandController::new(&spec);
        let open = traffic(&initial_ranges(8), &[1024; 8]);
        for minute in 1..=60 {
            assert!(controller.evaluate(&spec, &open, minute * MINUTE_NS, MINUTE_NS, 8).is_empty(), "{minute}");
        }
        let changes = controller.evaluate(&spec, &open, 61 * MINUTE_NS, MINUTE_NS, 8);
        let expected: Vec<Change> = (0..4).map(|i| Change::Merge { low: 2 * i, high: 2 * i + 1 }).collect();
        assert_eq!(changes, expected);
        let four = traffic(&initial_ranges(4), &[1024; 4]);
        let mut controller = OnDemandController::new(&spec);
        for minute in 1..200 {
            assert!(controller.evaluate(&spec, &four, minute * MINUTE_NS, MINUTE_NS, 4).is_empty());
        }
    }

    #[test]
    fn warm_throughput_splits_the_widest_shards_first() {
        let spec = OnDemandSpec { warm_mibps: 6, ..OnDemandSpec::default() };
        let mut controller = OnDemandController::new(&spec);
        let ranges = initial_ranges(4);
        let changes = controller.evaluate(&spec, &traffic(&ranges, &[0; 4]), MINUTE_NS, MINUTE_NS, 4);
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| matches!(c, Change::Split { .. })));
    }
}
