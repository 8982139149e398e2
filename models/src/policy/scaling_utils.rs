//! awslabs/amazon-kinesis-scaling-utils decision rules (reference/scaling-policies.md §1.1).
//!
//! The tool (the "KinesisAutoscaling" WAR) runs one monitor per stream. Every
//! `checkInterval` seconds a monitor reads `max(scaleUp.scaleAfterMins,
//! scaleDown.scaleAfterMins)` minutes of CloudWatch Sums (period 60 s), turns each
//! datapoint into a utilisation of the cached open-shard count, and votes per operation
//! (PUT, GET) on the metric kind (Bytes, Records) with the higher "latest average":
//! UP after `scaleUp.scaleAfterMins` datapoints strictly above the up threshold, else
//! DOWN after `scaleDown.scaleAfterMins` strictly below the down threshold (missing
//! datapoints count as low). Votes combine as "UP if either is UP, DOWN only if both
//! are DOWN". An action waits out its own direction's cool-off only, then asks for the
//! target of `StreamScalingUtils.getNewShardCount` ([`new_shard_count`]); when
//! UpdateShardCount refuses it, the tool splits and merges one shard at a time
//! ([`next_manual_operation`]).
//!
//! Everything here is pure: [`ScalingUtilsSpec::check`] is one check cycle over the
//! minutes the caller says CloudWatch would return ([`ScalingUtilsSpec::visible_minutes`]),
//! and the caller applies the resize and reports it back with
//! [`ScalingUtilsState::record_resize`]. The two behaviours §1.1 found in the code but
//! not in the README are switchable with [`Fidelity`].
//!
//! Sources: the reference, checked against the tool's Java (`StreamMonitor`,
//! `StreamMetricManager`, `KinesisOperationType`, `StreamScaler` .9.8.1,
//! `StreamScalingUtils`, `ShardHashInfo`, `TestScalingUtils`). Where they differ, the
//! item's documentation says which one is followed.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::ops::Range;

use super::{Decision, MinuteDatapoint};

/// PUT capacity of one shard in bytes per second (`KinesisOperationType.PUT`, §1.1).
pub const PUT_MAX_BYTES_PER_S: u32 = 1_048_576;
/// PUT capacity of one shard in records per second.
pub const PUT_MAX_RECORDS_PER_S: u32 = 1_000;
/// GET capacity of one shard in bytes per second (`KinesisOperationType.GET`).
pub const GET_MAX_BYTES_PER_S: u32 = 2_097_152;
/// GET capacity of one shard in records per second: the tool's own figure (§1.1).
pub const GET_MAX_RECORDS_PER_S: u32 = 2_000;
/// The highest hash key, `2^128 − 1` (`ShardHashInfo.maxHash`).
pub const MAX_HASH_KEY: u128 = u128::MAX;

/// Which of the two readings of §1.1 ("Two behaviours a faithful simulation should
/// reproduce") a run follows.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Fidelity {
    /// What the code does: after a successful UpdateShardCount the resharder returns no
    /// report, so the utilisation denominator keeps the old shard count until the next
    /// periodic refresh; PutRecord and PutRecords datapoints of one minute are separate
    /// samples (the map is keyed by the CloudWatch `Datapoint` object, which includes
    /// its Sum).
    #[default]
    AsImplemented,
    /// What the README and the code comments say: the denominator is refreshed after
    /// every resize; PutRecord and PutRecords of one minute are added into one sample.
    AsDocumented,
}

/// A scaling direction, and a vote when it is `Some` (`None` is the tool's `NONE`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The traffic the tool measures (`scaleOnOperation`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `PutRecord.Bytes` + `PutRecords.Bytes`, `PutRecord.Success` + `PutRecords.Records`.
    Put,
    /// `GetRecords.Bytes`, `GetRecords.Records`.
    Get,
}

impl Operation {
    /// The per-shard maximum of one metric kind, per second.
    pub fn max_per_shard_per_s(self, kind: MetricKind) -> u32 {
        match (self, kind) {
            (Operation::Put, MetricKind::Bytes) => PUT_MAX_BYTES_PER_S,
            (Operation::Put, MetricKind::Records) => PUT_MAX_RECORDS_PER_S,
            (Operation::Get, MetricKind::Bytes) => GET_MAX_BYTES_PER_S,
            (Operation::Get, MetricKind::Records) => GET_MAX_RECORDS_PER_S,
        }
    }
}

/// The two metric kinds of an operation (`StreamMetric`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Bytes,
    Records,
}

/// One `scaleUp` or `scaleDown` block of the tool's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleRule {
    /// `scaleThresholdPct`: strictly above it is a high sample (up), strictly below a
    /// low sample (down).
    pub threshold_pct: u32,
    /// `scaleAfterMins`: samples on the rule's side of the threshold needed to vote.
    pub after_mins: u32,
    /// `scaleCount`: absolute shard delta; takes precedence over `pct`.
    pub count: Option<u32>,
    /// `scalePct`: see [`new_shard_count`].
    pub pct: Option<u32>,
    /// `coolOffMins`: minimum time after the last action in the same direction (0 if unset).
    pub cool_off_mins: u64,
}

/// One stream monitor of the tool: what `src/scaling_utils_config.rs` reads from the
/// tool's JSON file, plus kinesim's publish delay and [`Fidelity`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingUtilsSpec {
    /// `scaleOnOperation` contains `PUT` (both when the list is empty or absent).
    pub scale_on_put: bool,
    /// `scaleOnOperation` contains `GET`.
    pub scale_on_get: bool,
    /// `minShards`: applied only when an action runs (issue #48).
    pub min_shards: Option<u32>,
    /// `maxShards`: applied only when an action runs.
    pub max_shards: Option<u32>,
    /// `refreshShardsNumberAfterMin` (10): minutes between re-reads of the open shard
    /// count used as the utilisation denominator.
    pub refresh_shards_after_min: u64,
    /// `checkInterval` (45 s): sleep between the end of a cycle and the next one.
    pub check_interval_s: u64,
    pub scale_up: Option<ScaleRule>,
    pub scale_down: Option<ScaleRule>,
    /// How long after its minute ends a CloudWatch datapoint is visible (kinesim
    /// parameter, 60 s). Issue #101's log shows a minute returned 56 s after it ended.
    pub publish_delay_s: u64,
    pub fidelity: Fidelity,
}

impl Default for ScalingUtilsSpec {
    /// Both operations, the code defaults, no rules (a usable spec needs at least one).
    fn default() -> Self {
        ScalingUtilsSpec {
            scale_on_put: true,
            scale_on_get: true,
            min_shards: None,
            max_shards: None,
            refresh_shards_after_min: 10,
            check_interval_s: 45,
            scale_up: None,
            scale_down: None,
            publish_delay_s: 60,
            fidelity: Fidelity::AsImplemented,
        }
    }
}

/// What a monitor remembers between cycles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingUtilsState {
    /// The cached open shard count utilisation is divided by.
    pub denominator_shards: u32,
    /// When it was read (the start of the cycle that read it; 0 for the start-up read).
    pub denominator_read_s: u64,
    /// Completion of the last scale-up (`lastScaleUp`), if any.
    pub last_scale_up_s: Option<u64>,
    /// Completion of the last scale-down (`lastScaleDown`), if any.
    pub last_scale_down_s: Option<u64>,
    /// Start of the last check cycle: the tool re-reads the shard count at the end of a
    /// cycle, stamped with that cycle's start time.
    pub last_check_s: Option<u64>,
}

impl ScalingUtilsState {
    /// The state at start-up: the monitor reads the open shard count once before its first cycle.
    pub fn new(open_shards: u32) -> ScalingUtilsState {
        assert!(open_shards > 0, "a stream has at least one open shard");
        ScalingUtilsState {
            denominator_shards: open_shards,
            denominator_read_s: 0,
            last_scale_up_s: None,
            last_scale_down_s: None,
            last_check_s: None,
        }
    }

    /// The resize a check asked for has completed at `completed_at_s` (the tool stamps
    /// `lastScaleUp`/`lastScaleDown` after the resharder returns, which waits for the
    /// stream to be ACTIVE again). Pass `open_shards_after` when the resharder returned
    /// a report, which makes the tool re-read the shard count at the end of that cycle:
    /// in [`Fidelity::AsDocumented`], or after the manual split/merge fallback (see
    /// [`ScalingUtilsSpec::refreshes_denominator_after_resize`]).
    pub fn record_resize(&mut self, direction: Direction, completed_at_s: u64, open_shards_after: Option<u32>) {
        match direction {
            Direction::Up => self.last_scale_up_s = Some(completed_at_s),
            Direction::Down => self.last_scale_down_s = Some(completed_at_s),
        }
        if let Some(open_shards) = open_shards_after {
            assert!(open_shards > 0, "a stream has at least one open shard");
            self.denominator_shards = open_shards;
            self.denominator_read_s = self.last_check_s.unwrap_or(completed_at_s);
        }
    }
}

/// Samples of one metric kind of one operation in a cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSamples {
    /// Datapoints CloudWatch returned (in as-implemented fidelity a minute with both
    /// PutRecord and PutRecords calls gives two).
    pub datapoints: usize,
    /// Datapoints strictly above the up threshold.
    pub high: u64,
    /// Datapoints strictly below the down threshold, plus the missing ones (§1.1 step 2).
    pub low: u64,
    /// The running `(avg + pct) / 2` over the datapoints in time order, as a fraction of
    /// capacity (1.0 = 100 %).
    pub latest_average_ratio: f64,
}

/// One operation's part of a check cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationAnalysis {
    pub operation: Operation,
    pub bytes: MetricSamples,
    pub records: MetricSamples,
    /// The kind with the higher latest average (Bytes on a tie, as in `StreamMonitor`).
    pub deciding: MetricKind,
    /// `Some(Up)`, `Some(Down)` or `None` (the tool's NONE).
    pub vote: Option<Direction>,
}

impl OperationAnalysis {
    /// The samples of the deciding kind.
    pub fn deciding_samples(&self) -> &MetricSamples {
        match self.deciding {
            MetricKind::Bytes => &self.bytes,
            MetricKind::Records => &self.records,
        }
    }
}

/// The outcome of one check cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The combined vote (`None` when no operation asks to scale).
    pub direction: Option<Direction>,
    /// The shard count to request, when an action should run now (differs from the
    /// current count, positive, out of cool-off).
    pub target_shards: Option<u32>,
    /// The per-operation samples behind the vote.
    pub operations: Vec<OperationAnalysis>,
    /// One line for `events.csv`: per operation the deciding metric, its high/low
    /// counts, latest average and vote; the denominator used; the action or why none.
    pub detail: String,
}

impl Check {
    /// The policy-level decision for the engine (always logged).
    pub fn into_decision(self) -> Decision {
        Decision { target_shards: self.target_shards, detail: self.detail, logged: true }
    }
}

impl ScalingUtilsSpec {
    /// `cwSampleDuration`: the minutes each cycle asks CloudWatch for,
    /// `max(scaleUp.scaleAfterMins, scaleDown.scaleAfterMins)` (a missing rule counts 0).
    pub fn sample_window_minutes(&self) -> u64 {
        let after = |rule: &Option<ScaleRule>| rule.as_ref().map_or(0, |r| u64::from(r.after_mins));
        after(&self.scale_up).max(after(&self.scale_down))
    }

    /// The minutes (index `m` covers `[60 m, 60 m + 60)` s) a cycle at `now_s` gets back:
    /// GetMetricStatistics over `[now − window, now)` with the start rounded down to the
    /// whole minute (CloudWatch API reference, `StartTime`), of which only the minutes
    /// ended at least `publish_delay_s` ago have been published.
    pub fn visible_minutes(&self, now_s: u64) -> Range<u64> {
        let first = now_s.saturating_sub(self.sample_window_minutes() * 60) / 60;
        let published_end = now_s.saturating_sub(self.publish_delay_s) / 60;
        first..published_end.max(first)
    }

    /// Whether the tool re-reads the shard count right after a resize: always after the
    /// manual split/merge fallback (it returns a report); after UpdateShardCount only in
    /// [`Fidelity::AsDocumented`].
    pub fn refreshes_denominator_after_resize(&self, manual_fallback: bool) -> bool {
        manual_fallback || self.fidelity == Fidelity::AsDocumented
    }

    /// The monitored operations, PUT first.
    pub fn operations(&self) -> Vec<Operation> {
        let mut operations = Vec::with_capacity(2);
        if self.scale_on_put {
            operations.push(Operation::Put);
        }
        if self.scale_on_get {
            operations.push(Operation::Get);
        }
        operations
    }

    /// One check cycle at `now_s` (seconds since the run start), as
    /// `StreamMonitor.run`/`processCloudwatchMetrics` do it:
    ///
    /// 1. the re-read the previous cycle did at its end: when more than
    ///    `refreshShardsNumberAfterMin` had passed since the last read (the tool compares
    ///    the previous cycle's start time), the denominator becomes `open_shards_now`
    ///    (the tool blocks while resharding, so the count at the end of the previous
    ///    cycle is the count now);
    /// 2. per operation and kind, utilisation `Sum / 60 / (denominator × per-shard max)`
    ///    of each datapoint in `window` (published minutes of the window, oldest first;
    ///    an API's series has a datapoint only in minutes with calls of it), high/low
    ///    counts, latest average, deciding kind and vote; votes combined;
    /// 3. the action: the direction's cool-off against this cycle's start, then the
    ///    target from `open_shards_now` (the tool reads the count afresh for it).
    ///
    /// A cycle that ends without a request but with a report from the tool (a NONE vote,
    /// or a target equal to the current count) re-reads the shard count, as the tool
    /// does for any non-null report; such a no-op action also stamps its direction's
    /// last-action time. When `target_shards` is returned, the caller performs the
    /// resize and calls [`ScalingUtilsState::record_resize`]; the next cycle starts
    /// `check_interval_s` after the resize completes.
    pub fn check(
        &self,
        state: &mut ScalingUtilsState,
        window: &[MinuteDatapoint],
        open_shards_now: u32,
        now_s: u64,
    ) -> Check {
        assert!(open_shards_now > 0, "a stream has at least one open shard");
        if let Some(previous_s) = state.last_check_s {
            let refresh_s = self.refresh_shards_after_min.saturating_mul(60);
            if previous_s > state.denominator_read_s.saturating_add(refresh_s) {
                state.denominator_shards = open_shards_now;
                state.denominator_read_s = previous_s;
            }
        }
        state.last_check_s = Some(now_s);
        let denominator = state.denominator_shards;
        let operations: Vec<OperationAnalysis> =
            self.operations().into_iter().map(|op| self.analyse(op, window, denominator)).collect();
        let votes: Vec<Option<Direction>> = operations.iter().map(|a| a.vote).collect();
        let direction = combine_votes(&votes);

        let mut detail = String::new();
        for analysis in &operations {
            let samples = analysis.deciding_samples();
            let _ = write!(
                detail,
                "{} {} decides: {} high, {} low of {} datapoints, latest average {:.2}%, votes {}; ",
                operation_name(analysis.operation),
                kind_name(analysis.deciding),
                samples.high,
                samples.low,
                samples.datapoints,
                samples.latest_average_ratio * 100.0,
                vote_name(analysis.vote),
            );
        }
        let _ = write!(
            detail,
            "combined {} against {denominator} shards (read at {} s): ",
            vote_name(direction),
            state.denominator_read_s
        );

        let mut target_shards = None;
        let mut report = false;
        match direction.and_then(|d| self.rule(d).map(|rule| (d, rule))) {
            None => {
                let _ = write!(detail, "hold at {open_shards_now}");
                report = true;
            }
            Some((direction, rule)) => {
                let last_s = match direction {
                    Direction::Up => state.last_scale_up_s,
                    Direction::Down => state.last_scale_down_s,
                };
                let until_s = last_s.map(|last| last.saturating_add(rule.cool_off_mins.saturating_mul(60)));
                if let Some(until_s) = until_s.filter(|&until| now_s < until) {
                    let _ = write!(
                        detail,
                        "hold at {open_shards_now} ({} cool-off until {until_s} s)",
                        direction_name(direction)
                    );
                } else {
                    match new_shard_count(open_shards_now, direction, rule, self.min_shards, self.max_shards) {
                        None => {
                            let _ = write!(
                                detail,
                                "hold at {open_shards_now} (target {} <= 0: already at one shard)",
                                i64::from(open_shards_now) - i64::from(rule.count.unwrap_or(0))
                            );
                        }
                        Some(target) if target == open_shards_now => {
                            let _ =
                                write!(detail, "hold at {open_shards_now} (target {target} = current, {})", step(rule));
                            match direction {
                                Direction::Up => state.last_scale_up_s = Some(now_s),
                                Direction::Down => state.last_scale_down_s = Some(now_s),
                            }
                            report = true;
                        }
                        Some(target) => {
                            // The clamp to `[minShards, maxShards]` can turn a vote around:
                            // a DOWN below minShards raises the count (reference §1.1).
                            let clamped = match direction {
                                Direction::Down if target > open_shards_now => ", raised to minShards",
                                Direction::Up if target < open_shards_now => ", lowered to maxShards",
                                _ => "",
                            };
                            let _ = write!(
                                detail,
                                "{} {open_shards_now} -> {target} ({}{clamped})",
                                direction_name(direction),
                                step(rule)
                            );
                            target_shards = Some(target);
                        }
                    }
                }
            }
        }
        if report {
            state.denominator_shards = open_shards_now;
            state.denominator_read_s = now_s;
        }
        Check { direction, target_shards, operations, detail }
    }

    fn rule(&self, direction: Direction) -> Option<&ScaleRule> {
        match direction {
            Direction::Up => self.scale_up.as_ref(),
            Direction::Down => self.scale_down.as_ref(),
        }
    }

    /// Samples, deciding kind and vote of one operation.
    fn analyse(&self, operation: Operation, window: &[MinuteDatapoint], denominator: u32) -> OperationAnalysis {
        let samples = |kind: MetricKind| {
            let capacity_per_s = f64::from(denominator) * f64::from(operation.max_per_shard_per_s(kind));
            self.samples(&self.datapoints(operation, kind, window), capacity_per_s)
        };
        let (bytes, records) = (samples(MetricKind::Bytes), samples(MetricKind::Records));
        let deciding = if bytes.latest_average_ratio >= records.latest_average_ratio {
            MetricKind::Bytes
        } else {
            MetricKind::Records
        };
        let decider = if deciding == MetricKind::Bytes { &bytes } else { &records };
        let vote = if self.scale_up.as_ref().is_some_and(|r| decider.high >= u64::from(r.after_mins)) {
            Some(Direction::Up)
        } else if self.scale_down.as_ref().is_some_and(|r| decider.low >= u64::from(r.after_mins)) {
            Some(Direction::Down)
        } else {
            None
        };
        OperationAnalysis { operation, bytes, records, deciding, vote }
    }

    /// The datapoints CloudWatch returns for one operation and kind, as `(minute index
    /// in the window, rate per second)` in time order. PUT has two series, PutRecord
    /// and PutRecords: in as-implemented fidelity they stay separate entries unless
    /// their Sums are equal (then the `Datapoint` keys are equal and the values add);
    /// in as-documented fidelity a minute's two values add into one.
    fn datapoints(&self, operation: Operation, kind: MetricKind, window: &[MinuteDatapoint]) -> Vec<(usize, f64)> {
        let rate = |sum: u64| sum as f64 / 60.0;
        let mut points = Vec::with_capacity(window.len() * 2);
        for (minute, m) in window.iter().enumerate() {
            match operation {
                Operation::Get => {
                    if m.get_records_requests > 0 {
                        let sum = if kind == MetricKind::Bytes { m.get_records_bytes } else { m.get_records_records };
                        points.push((minute, rate(sum)));
                    }
                }
                Operation::Put => {
                    let single = (m.put_record_requests > 0).then_some(if kind == MetricKind::Bytes {
                        m.put_record_bytes
                    } else {
                        m.put_record_success
                    });
                    let batch = (m.put_records_requests > 0).then_some(if kind == MetricKind::Bytes {
                        m.put_records_bytes
                    } else {
                        m.put_records_records
                    });
                    match (single, batch) {
                        (Some(a), Some(b)) if self.fidelity == Fidelity::AsDocumented || a == b => {
                            points.push((minute, rate(a) + rate(b)));
                        }
                        (Some(a), Some(b)) => {
                            points.push((minute, rate(a)));
                            points.push((minute, rate(b)));
                        }
                        (Some(sum), None) | (None, Some(sum)) => points.push((minute, rate(sum))),
                        (None, None) => {}
                    }
                }
            }
        }
        points
    }

    /// High/low counts and latest average of one series (§1.1 steps 1–3). The tool
    /// iterates a `HashMap`, whose order is unspecified; time order is taken here, which
    /// is what "latest" means. As in the code, the average restarts from the sample when
    /// it is exactly 0, and a second sample of the same minute does not move it.
    fn samples(&self, points: &[(usize, f64)], capacity_per_s: f64) -> MetricSamples {
        let up = self.scale_up.as_ref().map(|r| f64::from(r.threshold_pct) / 100.0);
        let down = self.scale_down.as_ref().map(|r| f64::from(r.threshold_pct) / 100.0);
        let mut high = 0;
        let mut low =
            if points.is_empty() { self.scale_down.as_ref().map_or(0, |r| u64::from(r.after_mins)) } else { 0 };
        let mut average = 0.0;
        let mut last_minute = None;
        for &(minute, rate) in points {
            let pct = rate / capacity_per_s;
            if last_minute < Some(minute) {
                average = if average == 0.0 { pct } else { (average + pct) / 2.0 };
            }
            last_minute = Some(minute);
            if up.is_some_and(|t| pct > t) {
                high += 1;
            } else if down.is_some_and(|t| pct < t) {
                low += 1;
            }
        }
        low += self.sample_window_minutes().saturating_sub(points.len() as u64);
        MetricSamples { datapoints: points.len(), high, low, latest_average_ratio: average }
    }
}

/// Combines the per-operation votes (PUT first): one operation's vote is final; with
/// both, UP if either votes UP, DOWN only if both vote DOWN, else NONE (§1.1 and the
/// README table of the reference's version; the older `StreamMonitor` and README
/// table .9.5 scaled down when one voted DOWN and the other NONE).
pub fn combine_votes(votes: &[Option<Direction>]) -> Option<Direction> {
    match votes {
        [] => None,
        [vote] => *vote,
        _ if votes.contains(&Some(Direction::Up)) => Some(Direction::Up),
        _ if votes.iter().all(|&v| v == Some(Direction::Down)) => Some(Direction::Down),
        _ => None,
    }
}

/// The shard count an action asks for from `current` open shards, or `None` when the
/// tool takes no action because the count would be zero or less
/// (`AlreadyOneShardException`). `StreamScalingUtils.getNewShardCount` (§1.1 "Target
/// shard count"), then the resharder's clamp to `[min, max]`:
///
/// * UP by `scaleCount` c: `N + c`;
/// * UP by `scalePct` p: `ceil(N × f)` with `f = (100 + p) / 100` when `p < 100`, else
///   `p / 100` (so 150 gives ×1.5, 200 doubles and 100 leaves the count unchanged);
/// * DOWN by `scaleCount` c: `N − c`, no action when that is ≤ 0;
/// * DOWN by `scalePct` p: `floor(N / (p / 100))` when `p > 100`, else
///   `N − floor(N × p / 100)`; then at least `min` if set, else at least 1.
///
/// The percentages are computed in `f64` exactly as the Java does (the factor first,
/// then the product), which differs from exact arithmetic in rare cases: 100 shards
/// down 29 % gives 72, not 71. The clamp to `[min, max]` is the reference's; the
/// `StreamScaler` of .9.8.1 refuses a target outside the bounds instead (no action).
pub fn new_shard_count(
    current: u32,
    direction: Direction,
    rule: &ScaleRule,
    min: Option<u32>,
    max: Option<u32>,
) -> Option<u32> {
    let n = i64::from(current);
    let target = match (direction, rule.count, rule.pct) {
        (Direction::Up, Some(count), _) => n + i64::from(count),
        (Direction::Up, None, Some(pct)) => {
            let factor = if pct < 100 { f64::from(100 + pct) / 100.0 } else { f64::from(pct) / 100.0 };
            (f64::from(current) * factor).ceil() as i64
        }
        (Direction::Down, Some(count), _) => n - i64::from(count),
        (Direction::Down, None, Some(pct)) => {
            let factor = f64::from(pct) / 100.0;
            let reduced = if pct > 100 {
                (f64::from(current) / factor).floor()
            } else {
                f64::from(current) - (f64::from(current) * factor).floor()
            };
            (reduced as i64).max(min.map_or(1, i64::from))
        }
        (_, None, None) => n,
    };
    if target <= 0 {
        return None;
    }
    let mut target = target;
    if let Some(max) = max {
        target = target.min(i64::from(max));
    }
    if let Some(min) = min {
        target = target.max(i64::from(min));
    }
    Some(u32::try_from(target).unwrap_or(u32::MAX))
}

/// One step of the manual split/merge fallback.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ManualOperation {
    /// SplitShard of the open shard at `shard_index` with `NewStartingHashKey`
    /// `at_hash_key`: the children are `[start, at_hash_key − 1]` and `[at_hash_key, end]`.
    Split { shard_index: usize, at_hash_key: u128 },
    /// MergeShards of two adjacent open shards.
    Merge { lower_index: usize, upper_index: usize },
}

/// The next split or merge of `StreamScaler.scaleStream` (§1.1 "Resharding" step 2),
/// which the tool runs when UpdateShardCount refuses the target, one operation at a
/// time, each waited to ACTIVE. `open_ranges` are the open shards' inclusive hash-key
/// ranges sorted by start; `target` the shard count asked for.
///
/// Walking from the lowest shard with target width `w = 1 / target` of the keyspace
/// (widths as `ShardHashInfo` computes them: `(end − start) / (2^128 − 1)` rounded to
/// ten decimals, compared with `softCompare`'s 1e-9 tolerance): a shard of width ≈ w is
/// kept; a wider one is split at `start + w × maxHash`; a narrower one is merged with
/// the next when together they are not wider than `w`, else the next is split so that
/// its lower piece fills the narrow shard up to `w` (the tool merges that piece at once;
/// here the merge is the next call's answer). Returns `None` when the walk is done, and
/// also (the tool's early stop) when the open count equals `min` and the target is at or
/// below it, or equals `max` and the target is at or above it.
pub fn next_manual_operation(
    open_ranges: &[(u128, u128)],
    target: u32,
    min: Option<u32>,
    max: Option<u32>,
) -> Option<ManualOperation> {
    assert!(target > 0, "a stream has at least one shard");
    let count = open_ranges.len() as u64;
    let at_min = min.is_some_and(|min| count == u64::from(min) && target <= min);
    let at_max = max.is_some_and(|max| count == u64::from(max) && target >= max);
    if at_min || at_max {
        return None;
    }
    let target_pct = 1.0 / f64::from(target);
    for (index, &(start, end)) in open_ranges.iter().enumerate() {
        assert!(start <= end, "hash key range {start}..={end} is reversed");
        let width_pct = keyspace_fraction(end - start);
        match soft_compare(width_pct, target_pct) {
            Ordering::Equal => {}
            Ordering::Greater => {
                return Some(ManualOperation::Split {
                    shard_index: index,
                    at_hash_key: start + hash_offset(target_pct),
                })
            }
            Ordering::Less => {
                let &(next_start, next_end) = open_ranges.get(index + 1)?;
                let next_pct = keyspace_fraction(next_end - next_start);
                if soft_compare(width_pct + next_pct, target_pct) == Ordering::Greater {
                    let at_hash_key = next_start + hash_offset(target_pct - width_pct);
                    return Some(ManualOperation::Split { shard_index: index + 1, at_hash_key });
                }
                return Some(ManualOperation::Merge { lower_index: index, upper_index: index + 1 });
            }
        }
    }
    None
}

/// `ShardHashInfo.getPctOfKeyspace`: `width / (2^128 − 1)` rounded half-down to ten
/// decimals (exactly; `2^128 − 1` is odd, so there is no tie).
pub fn keyspace_fraction(width: u128) -> f64 {
    let (hi, lo) = mul_u128_u64(width, 10_000_000_000);
    let (mut quotient, remainder) = divmod_max_hash(hi, lo);
    if remainder >= 1 << 127 {
        quotient += 1;
    }
    quotient as f64 / 1e10
}

/// `StreamScalingUtils.softCompare`: both values rounded half-down to ten decimals
/// (from their exact binary values), equal when they differ by less than 1e-9.
pub fn soft_compare(a: f64, b: f64) -> Ordering {
    let (a, b) = (ten_decimals_half_down(a), ten_decimals_half_down(b));
    if (a - b).abs() < 10 {
        Ordering::Equal
    } else {
        a.cmp(&b)
    }
}

/// `ShardHashInfo.getHashAtPctOffset` less the start: `floor(maxHash × pct)` with `pct`
/// taken as its shortest decimal form (`BigDecimal.valueOf(double)`).
pub fn hash_offset(pct: f64) -> u128 {
    assert!((0.0..=1.0).contains(&pct), "a keyspace fraction is within [0, 1], got {pct}");
    let text = format!("{pct:e}");
    let (mantissa, exponent) = text.split_once('e').expect("exponent notation");
    let exponent: i64 = exponent.parse().expect("integer exponent");
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: u64 = format!("{whole}{fraction}").parse().expect("at most 17 significant digits");
    if digits == 0 {
        return 0;
    }
    let scale = fraction.len() as i64 - exponent;
    if scale <= 0 {
        // Only pct = 1 (digits 1, scale 0) is within [0, 1].
        return MAX_HASH_KEY;
    }
    // maxHash × digits = (digits − 1) · 2^128 + (2^128 − digits), then / 10^scale.
    let high = u128::from(digits - 1);
    let low = 0u128.wrapping_sub(u128::from(digits));
    let mut limbs = [(high >> 64) as u64, high as u64, (low >> 64) as u64, low as u64];
    for _ in 0..scale {
        let mut remainder: u128 = 0;
        for limb in &mut limbs {
            let current = (remainder << 64) | u128::from(*limb);
            *limb = (current / 10) as u64;
            remainder = current % 10;
        }
    }
    assert!(limbs[0] == 0 && limbs[1] == 0, "an offset within the keyspace fits 128 bits");
    (u128::from(limbs[2]) << 64) | u128::from(limbs[3])
}

/// `x × k` as a 256-bit `(high, low)` pair.
fn mul_u128_u64(x: u128, k: u64) -> (u128, u128) {
    let low_part = (x & u128::from(u64::MAX)) * u128::from(k);
    let high_part = (x >> 64) * u128::from(k);
    let (low, carry) = low_part.overflowing_add(high_part << 64);
    ((high_part >> 64) + u128::from(carry), low)
}

/// `(high · 2^128 + low) / (2^128 − 1)` and the remainder, for `high < 2^64`.
fn divmod_max_hash(high: u128, low: u128) -> (u128, u128) {
    // 2^128 ≡ 1 (mod 2^128 − 1): the value is high · (2^128 − 1) + high + low.
    let (sum, carry) = low.overflowing_add(high);
    let (mut quotient, mut remainder) = if carry { (high + 1, sum + 1) } else { (high, sum) };
    if remainder == MAX_HASH_KEY {
        quotient += 1;
        remainder = 0;
    }
    (quotient, remainder)
}

/// `new BigDecimal(x).setScale(10, HALF_DOWN)` as an integer count of 1e-10.
fn ten_decimals_half_down(x: f64) -> i128 {
    assert!(x.is_finite(), "a keyspace fraction is finite");
    if x == 0.0 {
        return 0;
    }
    let bits = x.abs().to_bits();
    let exponent_bits = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) =
        if exponent_bits == 0 { (fraction, -1074) } else { (fraction | (1 << 52), exponent_bits - 1075) };
    let product = u128::from(mantissa) * 10_000_000_000;
    let scaled = if exponent >= 0 {
        product << (exponent.min(40) as u32)
    } else if -exponent >= 128 {
        0
    } else {
        let shift = (-exponent) as u32;
        let quotient = product >> shift;
        let remainder = product & ((1u128 << shift) - 1);
        if remainder > 1u128 << (shift - 1) {
            quotient + 1
        } else {
            quotient
        }
    };
    let scaled = scaled as i128;
    if x < 0.0 {
        -scaled
    } else {
        scaled
    }
}

fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Put => "PUT",
        Operation::Get => "GET",
    }
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Bytes => "Bytes",
        MetricKind::Records => "Records",
    }
}

fn vote_name(vote: Option<Direction>) -> &'static str {
    match vote {
        Some(Direction::Up) => "UP",
        Some(Direction::Down) => "DOWN",
        None => "NONE",
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "scale up",
        Direction::Down => "scale down",
    }
}

/// The rule's step, as the tool logs it.
fn step(rule: &ScaleRule) -> String {
    match (rule.count, rule.pct) {
        (Some(count), _) => format!("scaleCount {count}"),
        (None, Some(pct)) => format!("scalePct {pct}"),
        (None, None) => "no step".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        threshold_pct: u32,
        after_mins: u32,
        count: Option<u32>,
        pct: Option<u32>,
        cool_off_mins: u64,
    ) -> ScaleRule {
        ScaleRule { threshold_pct, after_mins, count, pct, cool_off_mins }
    }

    fn pct(p: u32) -> ScaleRule {
        rule(0, 1, None, Some(p), 0)
    }

    fn count(c: u32) -> ScaleRule {
        rule(0, 1, Some(c), None, 0)
    }

    /// PUT only, up above 75 % for 2 minutes (×2, 5 min cool-off), down below 25 % for
    /// 2 minutes (halve, 2 min cool-off): the shape of the shipped configuration.
    fn put_spec() -> ScalingUtilsSpec {
        ScalingUtilsSpec {
            scale_on_put: true,
            scale_on_get: false,
            scale_up: Some(rule(75, 2, None, Some(200), 5)),
            scale_down: Some(rule(25, 2, None, Some(50), 2)),
            ..ScalingUtilsSpec::default()
        }
    }

    /// A minute of PutRecords traffic at the given per-second rates.
    fn batch(bytes_per_s: u64, records_per_s: u64) -> MinuteDatapoint {
        MinuteDatapoint {
            incoming_bytes: bytes_per_s * 60,
            incoming_records: records_per_s * 60,
            put_records_bytes: bytes_per_s * 60,
            put_records_records: records_per_s * 60,
            put_records_requests: 60,
            ..MinuteDatapoint::default()
        }
    }

    /// `minute` with GetRecords traffic at the given per-second rates.
    fn with_reads(minute: MinuteDatapoint, bytes_per_s: u64, records_per_s: u64) -> MinuteDatapoint {
        MinuteDatapoint {
            get_records_bytes: bytes_per_s * 60,
            get_records_records: records_per_s * 60,
            get_records_requests: 300,
            ..minute
        }
    }

    #[test]
    fn target_by_count_and_percent_follows_get_new_shard_count() {
        let up = Direction::Up;
        let down = Direction::Down;
        // The reference's worked values (§1.1): 75 shards up 150 % → 113, down 25 % → 57.
        assert_eq!(new_shard_count(75, up, &pct(150), None, None), Some(113));
        assert_eq!(new_shard_count(75, down, &pct(25), None, None), Some(57));
        // TestScalingUtils.testUnboundedScaleUpScenarios.
        assert_eq!(new_shard_count(1, up, &pct(15), None, None), Some(2));
        assert_eq!(new_shard_count(1, up, &pct(70), None, None), Some(2));
        assert_eq!(new_shard_count(10, up, &pct(70), None, None), Some(17));
        assert_eq!(new_shard_count(5, up, &pct(110), None, None), Some(6));
        assert_eq!(new_shard_count(7, up, &pct(200), None, None), Some(14), "200 doubles");
        assert_eq!(new_shard_count(2, up, &pct(300), None, None), Some(6));
        assert_eq!(new_shard_count(8, up, &pct(1100), None, None), Some(88));
        assert_eq!(new_shard_count(3, down, &pct(15), None, None), Some(3), "too small to change");
        // 100 is "to 100 %": unchanged (the shipped configuration's scale-up never acts).
        assert_eq!(new_shard_count(8, up, &pct(100), None, None), Some(8));
        // Up 50 % is ceil(1.5 N).
        assert_eq!(new_shard_count(5, up, &pct(50), None, None), Some(8));
        assert_eq!(new_shard_count(4, up, &pct(50), None, None), Some(6));
        // testBoundedScalingScenarios.
        assert_eq!(new_shard_count(10, up, &pct(70), None, Some(15)), Some(15));
        assert_eq!(new_shard_count(10, down, &pct(1200), Some(3), None), Some(3));
        // testUnboundedScaleDownScenarios.
        assert_eq!(new_shard_count(1, down, &pct(500), None, None), Some(1));
        assert_eq!(new_shard_count(10, down, &pct(1200), None, None), Some(1));
        assert_eq!(new_shard_count(1, down, &pct(20), None, None), Some(1));
        assert_eq!(new_shard_count(10, down, &pct(20), None, None), Some(8));
        assert_eq!(new_shard_count(6, down, &pct(50), None, None), Some(3), "down 50 % halves");
        assert_eq!(new_shard_count(6, down, &pct(200), None, None), Some(3), "down 200 % halves");
        assert_eq!(new_shard_count(7, down, &pct(200), None, None), Some(3), "floor(7 / 2)");
        assert_eq!(new_shard_count(7, down, &pct(50), None, None), Some(4), "7 − floor(3.5)");
        assert_eq!(new_shard_count(5, down, &pct(110), None, None), Some(4));
        assert_eq!(new_shard_count(10, down, &pct(300), None, None), Some(3));
        // Counts, and the bounds the resharder applies.
        assert_eq!(new_shard_count(4, up, &count(3), None, None), Some(7));
        assert_eq!(new_shard_count(4, up, &count(3), None, Some(6)), Some(6));
        assert_eq!(new_shard_count(4, down, &count(1), None, None), Some(3));
        assert_eq!(new_shard_count(4, down, &count(3), Some(2), None), Some(2), "below min clamps");
        assert_eq!(new_shard_count(8, down, &pct(75), Some(4), None), Some(4), "8 − 6 = 2, min 4");
        assert_eq!(new_shard_count(2, down, &count(3), None, None), None, "past zero: no action");
        assert_eq!(new_shard_count(1, down, &count(1), Some(1), None), None, "already at one shard");
        assert_eq!(new_shard_count(1, up, &count(1), Some(4), None), Some(4), "min also lifts a scale-up");
    }

    #[test]
    fn percent_targets_use_java_double_arithmetic() {
        // 0.29 × 100 is 28.999999999999996 in doubles: 100 − 28 = 72 (exact math: 71).
        assert_eq!(new_shard_count(100, Direction::Down, &pct(29), None, None), Some(72));
        // 1.07 × 1900 is 2033.0000000000002: ceil gives 2034 (exact math: 2033).
        assert_eq!(new_shard_count(1900, Direction::Up, &pct(7), None, None), Some(2034));
    }

    #[test]
    fn thresholds_are_strict() {
        let spec = put_spec();
        let mut state = ScalingUtilsState::new(1);
        // Exactly 75 % of 1000 records/s is not high, exactly 25 % is not low.
        let at_up = [batch(1000, 750), batch(1000, 750)];
        let check = spec.check(&mut state, &at_up, 1, 600);
        assert_eq!((check.operations[0].records.high, check.operations[0].records.low), (0, 0), "{}", check.detail);
        assert_eq!(check.direction, None);
        let above = [batch(1000, 751), batch(1000, 751)];
        let check = spec.check(&mut state, &above, 1, 700);
        assert_eq!(check.operations[0].records.high, 2);
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Up), Some(2)), "{}", check.detail);
        let at_down = [batch(1000, 250), batch(1000, 250)];
        let mut state = ScalingUtilsState::new(4);
        let check = spec.check(&mut state, &at_down, 4, 600);
        // 250 / 4000 = 6.25 %: low; at 4 shards 1000 records/s is exactly 25 %.
        assert_eq!(check.operations[0].records.low, 2);
        let at_down_exactly = [batch(1000, 1000), batch(1000, 1000)];
        let check = spec.check(&mut state, &at_down_exactly, 4, 700);
        assert_eq!(check.operations[0].records.low, 0, "{}", check.detail);
        assert_eq!(check.direction, None);
    }

    #[test]
    fn missing_datapoints_count_low() {
        let spec = put_spec();
        assert_eq!(spec.sample_window_minutes(), 2);
        let mut state = ScalingUtilsState::new(4);
        // No traffic at all: no datapoints, low = scaleAfterMins (2) + the 2 missing.
        let check = spec.check(&mut state, &[MinuteDatapoint::default(), MinuteDatapoint::default()], 4, 600);
        let put = &check.operations[0];
        assert_eq!((put.bytes.datapoints, put.bytes.low, put.records.low), (0, 4, 4));
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Down), Some(2)), "{}", check.detail);
        // One busy minute and one unpublished: 1 high, 1 low (the missing one): no vote.
        let mut state = ScalingUtilsState::new(4);
        let check = spec.check(&mut state, &[batch(0, 3900)], 4, 600);
        assert_eq!((check.operations[0].records.high, check.operations[0].records.low), (1, 1));
        assert_eq!(check.direction, None, "{}", check.detail);
        // A longer down window: 2 quiet minutes of 3 seen, 1 missing, makes 3 low.
        let spec = ScalingUtilsSpec { scale_down: Some(rule(25, 3, None, Some(50), 0)), ..put_spec() };
        let mut state = ScalingUtilsState::new(4);
        let check = spec.check(&mut state, &[batch(100, 10), batch(100, 10)], 4, 600);
        assert_eq!(check.operations[0].records.low, 3);
        assert_eq!(check.target_shards, Some(2));
    }

    #[test]
    fn the_kind_with_the_higher_latest_average_decides() {
        let spec = put_spec();
        let mut state = ScalingUtilsState::new(1);
        // Bytes at 90 % of 1 MiB/s, records at 10 %: Bytes decides and votes UP.
        let bytes_heavy = [batch(943_718, 100), batch(943_718, 100)];
        let check = spec.check(&mut state, &bytes_heavy, 1, 600);
        assert_eq!(check.operations[0].deciding, MetricKind::Bytes);
        assert_eq!(check.direction, Some(Direction::Up), "{}", check.detail);
        // Records high then idle, bytes idle then full: bytes have the higher latest
        // average (the running average restarts from a sample when it is 0), so bytes
        // decide, with 1 high and 1 low sample: no vote.
        let mut state = ScalingUtilsState::new(1);
        let crossing = [batch(0, 900), batch(1_048_576, 0)];
        let check = spec.check(&mut state, &crossing, 1, 600);
        let put = &check.operations[0];
        // Records: avg 0.9, then (0.9 + 0) / 2 = 0.45; bytes: 0 then restart at 1.0.
        assert_eq!(put.records.latest_average_ratio, 0.45);
        assert_eq!(put.bytes.latest_average_ratio, 1.0);
        assert_eq!(put.deciding, MetricKind::Bytes);
        assert_eq!((put.bytes.high, put.bytes.low), (1, 1));
        assert_eq!(check.direction, None, "{}", check.detail);
        // A tie (both zero) goes to Bytes.
        let mut state = ScalingUtilsState::new(1);
        let check = spec.check(&mut state, &[batch(0, 0), batch(0, 0)], 1, 600);
        assert_eq!(check.operations[0].deciding, MetricKind::Bytes);
    }

    #[test]
    fn put_and_get_votes_combine_up_if_either_down_if_both() {
        use Direction::{Down, Up};
        assert_eq!(combine_votes(&[Some(Up), Some(Down)]), Some(Up));
        assert_eq!(combine_votes(&[None, Some(Up)]), Some(Up));
        assert_eq!(combine_votes(&[Some(Down), Some(Down)]), Some(Down));
        assert_eq!(combine_votes(&[Some(Down), None]), None);
        assert_eq!(combine_votes(&[None, Some(Down)]), None);
        assert_eq!(combine_votes(&[None, None]), None);
        assert_eq!(combine_votes(&[Some(Down)]), Some(Down), "one operation's vote is final");
        // Through a check: PUT quiet (DOWN) and GET busy (UP) scale up; GET idle too scales down.
        let spec = ScalingUtilsSpec { scale_on_get: true, ..put_spec() };
        let mut state = ScalingUtilsState::new(2);
        let mixed = [with_reads(batch(10, 10), 100, 3_800), with_reads(batch(10, 10), 100, 3_800)];
        let check = spec.check(&mut state, &mixed, 2, 600);
        let votes: Vec<_> = check.operations.iter().map(|a| (a.operation, a.vote)).collect();
        assert_eq!(votes, vec![(Operation::Put, Some(Down)), (Operation::Get, Some(Up))]);
        assert_eq!(check.target_shards, Some(4), "{}", check.detail);
        // GET at 1,000 records/s of 2 × 2,000 = 25 % (the minute without calls counts
        // low): between the thresholds, NONE; PUT's DOWN alone does not scale down.
        let mut state = ScalingUtilsState::new(2);
        let check = spec.check(&mut state, &[batch(10, 10), with_reads(batch(10, 10), 10, 1000)], 2, 600);
        assert_eq!(check.operations[1].vote, None, "{}", check.detail);
        assert_eq!(check.direction, None);
        let mut state = ScalingUtilsState::new(2);
        let check = spec.check(&mut state, &[batch(10, 10), batch(10, 10)], 2, 600);
        assert_eq!(check.operations[1].vote, Some(Down), "no GetRecords calls: all missing, low");
        assert_eq!(check.target_shards, Some(1));
    }

    #[test]
    fn cool_offs_are_per_direction() {
        let spec = put_spec(); // up cool-off 5 min, down 2 min
        let busy = [batch(0, 3_600), batch(0, 3_600)];
        let idle = [batch(0, 0), batch(0, 0)];
        let mut state = ScalingUtilsState::new(4);
        let check = spec.check(&mut state, &busy, 4, 600);
        assert_eq!(check.target_shards, Some(8));
        state.record_resize(Direction::Up, 660, Some(8));
        // A scale-down may follow at once: no cross-direction cool-off.
        let check = spec.check(&mut state, &idle, 8, 705);
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Down), Some(4)), "{}", check.detail);
        state.record_resize(Direction::Down, 760, Some(4));
        // Another scale-down within 2 minutes of the last one's completion waits.
        let check = spec.check(&mut state, &idle, 4, 805);
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Down), None));
        assert!(check.detail.contains("scale down cool-off until 880 s"), "{}", check.detail);
        let check = spec.check(&mut state, &idle, 4, 880);
        assert_eq!(check.target_shards, Some(2), "{}", check.detail);
        state.record_resize(Direction::Down, 940, Some(2));
        // The scale-up cool-off counts from the last scale-up (660 + 300 = 960).
        let busy_for_2 = [batch(0, 1_800), batch(0, 1_800)];
        let check = spec.check(&mut state, &busy_for_2, 2, 959);
        assert!(check.detail.contains("scale up cool-off until 960 s"), "{}", check.detail);
        assert_eq!(check.target_shards, None);
        assert_eq!(spec.check(&mut state, &busy_for_2, 2, 960).target_shards, Some(4));
    }

    #[test]
    fn stale_denominator_re_votes_up_until_the_refresh_as_implemented() {
        let implemented = put_spec();
        let documented = ScalingUtilsSpec { fidelity: Fidelity::AsDocumented, ..put_spec() };
        // 3,600 records/s: 90 % of 4 shards, 45 % of 8.
        let busy = [batch(0, 3_600), batch(0, 3_600)];
        for spec in [&implemented, &documented] {
            let mut state = ScalingUtilsState::new(4);
            let check = spec.check(&mut state, &busy, 4, 120);
            assert_eq!(check.target_shards, Some(8));
            let after = spec.refreshes_denominator_after_resize(false).then_some(8);
            state.record_resize(Direction::Up, 180, after);
            // Past the 5-minute cool-off, before the 10-minute refresh.
            let check = spec.check(&mut state, &busy, 8, 480);
            if spec.fidelity == Fidelity::AsImplemented {
                assert_eq!(state.denominator_shards, 4);
                assert_eq!(check.operations[0].records.latest_average_ratio, 0.9);
                assert_eq!(check.target_shards, Some(16), "{}", check.detail);
                assert!(check.detail.contains("against 4 shards (read at 0 s)"), "{}", check.detail);
            } else {
                assert_eq!(check.operations[0].records.latest_average_ratio, 0.45);
                assert_eq!(check.target_shards, None, "{}", check.detail);
                assert!(check.detail.contains("against 8 shards (read at 120 s)"), "{}", check.detail);
            }
        }
        // As implemented, the periodic re-read happens at the end of the first cycle
        // starting more than 10 minutes after the last read (0): with a 15-minute
        // cool-off holding the re-votes (no report, no re-read), the one at 660 s.
        let slow = ScalingUtilsSpec { scale_up: Some(rule(75, 2, None, Some(200), 15)), ..put_spec() };
        let mut state = ScalingUtilsState::new(4);
        slow.check(&mut state, &busy, 4, 120);
        state.record_resize(Direction::Up, 180, None);
        for now_s in [300, 480, 660] {
            let check = slow.check(&mut state, &busy, 8, now_s);
            assert!(check.detail.contains("scale up cool-off until 1080 s"), "{}", check.detail);
            assert_eq!(check.operations[0].records.latest_average_ratio, 0.9, "still against 4 shards");
        }
        let check = slow.check(&mut state, &busy, 8, 700);
        assert!(check.detail.contains("against 8 shards (read at 660 s)"), "{}", check.detail);
        assert_eq!(check.direction, None, "{}", check.detail);
    }

    #[test]
    fn a_none_vote_or_a_no_op_target_re_reads_the_shard_count() {
        let spec = put_spec();
        let mut state = ScalingUtilsState::new(4);
        // Someone else resized to 6; a NONE cycle at 300 s re-reads it (the tool's
        // NoActionRequired report).
        let moderate = [batch(0, 2_000), batch(0, 2_000)];
        spec.check(&mut state, &moderate, 6, 300);
        assert_eq!((state.denominator_shards, state.denominator_read_s), (6, 300));
        // At maxShards the target equals the count: a no-op that stamps and re-reads.
        let capped = ScalingUtilsSpec { max_shards: Some(6), ..put_spec() };
        let check = capped.check(&mut state, &[batch(0, 5_900), batch(0, 5_900)], 6, 400);
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Up), None));
        assert!(check.detail.contains("target 6 = current"), "{}", check.detail);
        assert_eq!((state.last_scale_up_s, state.denominator_read_s), (Some(400), 400));
    }

    #[test]
    fn put_record_and_put_records_of_a_minute_are_separate_as_implemented() {
        // 2 shards; per minute 600 records/s by PutRecord and 700 by PutRecords.
        let minute = MinuteDatapoint {
            put_record_bytes: 600 * 60,
            put_record_success: 600 * 60,
            put_record_requests: 600 * 60,
            put_records_bytes: 700 * 60,
            put_records_records: 700 * 60,
            put_records_requests: 100,
            ..MinuteDatapoint::default()
        };
        let up_only = ScalingUtilsSpec { scale_down: None, ..put_spec() };
        let mut state = ScalingUtilsState::new(2);
        // As implemented: samples of 30 % and 35 % of 2,000 records/s, both below 75 %.
        let check = up_only.check(&mut state, &[minute, minute], 2, 600);
        let records = &check.operations[0].records;
        assert_eq!((records.datapoints, records.high), (4, 0));
        // The same-minute second sample does not move the average: 0.3, then (0.3 + 0.3) / 2.
        assert_eq!(records.latest_average_ratio, 0.3);
        assert_eq!(check.direction, None, "{}", check.detail);
        // As documented: one sample of 65 % per minute... still below; at 1,600 records/s it is 80 %.
        let documented = ScalingUtilsSpec { fidelity: Fidelity::AsDocumented, ..up_only.clone() };
        let mut state = ScalingUtilsState::new(2);
        let check = documented.check(&mut state, &[minute, minute], 2, 600);
        assert_eq!(check.operations[0].records.datapoints, 2);
        assert_eq!(check.operations[0].records.latest_average_ratio, 0.65);
        let busy = MinuteDatapoint { put_records_records: 1_000 * 60, put_records_bytes: 1_000 * 60, ..minute };
        let check = documented.check(&mut state, &[busy, busy], 2, 700);
        assert_eq!(check.target_shards, Some(4), "{}", check.detail);
        let mut state = ScalingUtilsState::new(2);
        let check = up_only.check(&mut state, &[busy, busy], 2, 600);
        assert_eq!(check.operations[0].records.high, 0, "30 % and 50 % separately: {}", check.detail);
        // Equal Sums make equal Datapoint keys: the tool adds them even as implemented.
        let equal = MinuteDatapoint { put_records_records: 600 * 60, put_records_bytes: 600 * 60, ..minute };
        let mut state = ScalingUtilsState::new(2);
        let check = up_only.check(&mut state, &[equal, equal], 2, 600);
        assert_eq!(check.operations[0].records.datapoints, 2);
        assert_eq!(check.operations[0].records.latest_average_ratio, 0.6);
    }

    #[test]
    fn no_scale_down_below_one_shard() {
        let spec = ScalingUtilsSpec { scale_down: Some(rule(25, 2, Some(1), None, 0)), ..put_spec() };
        let mut state = ScalingUtilsState::new(1);
        let check = spec.check(&mut state, &[], 1, 600);
        assert_eq!((check.direction, check.target_shards), (Some(Direction::Down), None));
        assert!(check.detail.contains("already at one shard"), "{}", check.detail);
        assert_eq!(state.last_scale_down_s, None, "the exception skips the stamp");
        // By percent the target is clamped to 1: a no-op.
        let mut state = ScalingUtilsState::new(1);
        let check = put_spec().check(&mut state, &[], 1, 600);
        assert_eq!(check.target_shards, None, "{}", check.detail);
    }

    #[test]
    fn detail_states_the_values_behind_the_decision() {
        let spec = ScalingUtilsSpec { scale_on_get: true, ..put_spec() };
        let mut state = ScalingUtilsState::new(4);
        let busy = [batch(0, 3_600), batch(0, 3_600)];
        let check = spec.check(&mut state, &busy, 4, 600);
        assert_eq!(
            check.detail,
            "PUT Records decides: 2 high, 0 low of 2 datapoints, latest average 90.00%, votes UP; \
             GET Bytes decides: 0 high, 4 low of 0 datapoints, latest average 0.00%, votes DOWN; \
             combined UP against 4 shards (read at 0 s): scale up 4 -> 8 (scalePct 200)"
        );
        let decision = check.into_decision();
        assert_eq!((decision.target_shards, decision.logged), (Some(8), true));
    }

    #[test]
    fn visible_minutes_round_the_start_down_and_wait_for_publication() {
        let spec = ScalingUtilsSpec { scale_up: Some(rule(75, 5, Some(1), None, 0)), ..ScalingUtilsSpec::default() };
        assert_eq!(spec.sample_window_minutes(), 5);
        // At 600 s: from minute 5 (300 s); minute 9 ended at 600 s, published at 660 s.
        assert_eq!(spec.visible_minutes(600), 5..9);
        // At 630 s: the start 330 s rounds down to minute 5; minute 9 still unpublished.
        assert_eq!(spec.visible_minutes(630), 5..9);
        assert_eq!(spec.visible_minutes(660), 6..10);
        assert_eq!(spec.visible_minutes(30), 0..0);
        // A one-minute window with a 60 s delay never sees a published minute.
        let one = ScalingUtilsSpec { scale_up: Some(rule(75, 1, Some(1), None, 0)), ..ScalingUtilsSpec::default() };
        assert!((60..600).all(|now| one.visible_minutes(now).is_empty()));
        let quick = ScalingUtilsSpec { publish_delay_s: 30, ..one };
        assert_eq!(quick.visible_minutes(630), 9..10);
    }

    #[test]
    fn keyspace_widths_and_soft_compare_follow_shard_hash_info() {
        assert_eq!(keyspace_fraction(MAX_HASH_KEY), 1.0);
        assert_eq!(keyspace_fraction(0), 0.0);
        assert_eq!(keyspace_fraction(MAX_HASH_KEY / 4), 0.25);
        assert_eq!(keyspace_fraction(MAX_HASH_KEY / 3), 0.3333333333);
        assert_eq!(keyspace_fraction(MAX_HASH_KEY / 3 * 2), 0.6666666667, "rounded half-down, not a tie");
        assert_eq!(soft_compare(0.3333333333, 1.0 / 3.0), Ordering::Equal);
        assert_eq!(soft_compare(0.25, 0.2500000011), Ordering::Less);
        assert_eq!(soft_compare(0.25, 0.2500000009), Ordering::Equal);
        assert_eq!(soft_compare(0.5, 0.25), Ordering::Greater);
        assert_eq!(hash_offset(1.0), MAX_HASH_KEY);
        assert_eq!(hash_offset(0.5), MAX_HASH_KEY / 2, "floor(maxHash × 0.5)");
        assert_eq!(hash_offset(0.1), MAX_HASH_KEY / 10);
        // 1/7 as a double prints 0.14285714285714285: floor(maxHash × 14285714285714285 / 10^17).
        let seventh = hash_offset(1.0 / 7.0);
        assert!(seventh < MAX_HASH_KEY / 7 && MAX_HASH_KEY / 7 - seventh < MAX_HASH_KEY / 10u128.pow(16));
    }

    /// Applies one operation to a layout, checking it is one Kinesis would accept.
    fn apply(ranges: &mut Vec<(u128, u128)>, op: ManualOperation) {
        match op {
            ManualOperation::Split { shard_index, at_hash_key } => {
                let (start, end) = ranges[shard_index];
                assert!(start < at_hash_key && at_hash_key <= end, "split key {at_hash_key} outside {start}..={end}");
                ranges[shard_index] = (start, at_hash_key - 1);
                ranges.insert(shard_index + 1, (at_hash_key, end));
            }
            ManualOperation::Merge { lower_index, upper_index } => {
                assert_eq!(upper_index, lower_index + 1);
                assert_eq!(ranges[lower_index].1 + 1, ranges[upper_index].0, "merged shards are adjacent");
                ranges[lower_index].1 = ranges[upper_index].1;
                ranges.remove(upper_index);
            }
        }
    }

    /// `count` equal shards as AWS creates them.
    fn uniform(count: u32) -> Vec<(u128, u128)> {
        let width = MAX_HASH_KEY / u128::from(count);
        (0..count)
            .map(|i| {
                let start = width * u128::from(i);
                let end = if i + 1 == count { MAX_HASH_KEY } else { start + width - 1 };
                (start, end)
            })
            .collect()
    }

    #[test]
    fn manual_operations_converge_to_equal_shards() {
        for (from, to) in [(4, 7), (7, 4), (3, 10), (10, 3), (5, 5), (1, 2), (2, 1), (1, 5), (6, 1), (8, 16), (16, 8)] {
            let mut ranges = uniform(from);
            let mut steps = 0;
            while let Some(op) = next_manual_operation(&ranges, to, None, None) {
                apply(&mut ranges, op);
                steps += 1;
                assert!(steps <= 3 * (from + to), "{from} -> {to}: no convergence after {steps} operations");
            }
            assert_eq!(ranges.len(), to as usize, "{from} -> {to}: {ranges:?}");
            assert_eq!((ranges[0].0, ranges[ranges.len() - 1].1), (0, MAX_HASH_KEY));
            for window in ranges.windows(2) {
                assert_eq!(window[0].1 + 1, window[1].0, "contiguous");
            }
            for &(start, end) in &ranges {
                let width = keyspace_fraction(end - start);
                assert_eq!(soft_compare(width, 1.0 / f64::from(to)), Ordering::Equal, "{from} -> {to}: {width}");
            }
            if from == to {
                assert_eq!(steps, 0);
            }
        }
    }

    #[test]
    fn manual_walk_splits_and_fills_from_the_lowest_shard() {
        // 4 → 7: the first shard (1/4) is split at 1/7.
        let ranges = uniform(4);
        let first = next_manual_operation(&ranges, 7, None, None);
        assert_eq!(first, Some(ManualOperation::Split { shard_index: 0, at_hash_key: hash_offset(1.0 / 7.0) }));
        // The remainder (1/4 − 1/7) is filled from the next shard: split it at 1/7 − width.
        let mut ranges = ranges;
        apply(&mut ranges, first.unwrap());
        let remainder = keyspace_fraction(ranges[1].1 - ranges[1].0);
        let second = next_manual_operation(&ranges, 7, None, None);
        let fill = ranges[2].0 + hash_offset(1.0 / 7.0 - remainder);
        assert_eq!(second, Some(ManualOperation::Split { shard_index: 2, at_hash_key: fill }));
        apply(&mut ranges, second.unwrap());
        assert_eq!(
            next_manual_operation(&ranges, 7, None, None),
            Some(ManualOperation::Merge { lower_index: 1, upper_index: 2 })
        );
        // 4 → 2: two quarters merge.
        assert_eq!(
            next_manual_operation(&uniform(4), 2, None, None),
            Some(ManualOperation::Merge { lower_index: 0, upper_index: 1 })
        );
    }

    #[test]
    fn manual_walk_stops_at_the_bounds() {
        // 4 → 6 with maxShards 5: the walk stops once 5 shards are open, unbalanced.
        let mut ranges = uniform(4);
        while let Some(op) = next_manual_operation(&ranges, 6, None, Some(5)) {
            apply(&mut ranges, op);
        }
        assert_eq!(ranges.len(), 5);
        let widths: Vec<f64> = ranges.iter().map(|&(s, e)| keyspace_fraction(e - s)).collect();
        assert_eq!(widths[0], 0.1666666667);
        assert_eq!(widths[4], 0.25, "the last quarter was never reached");
        // 4 → 2 with minShards 3: one merge, then stop.
        let mut ranges = uniform(4);
        while let Some(op) = next_manual_operation(&ranges, 2, Some(3), None) {
            apply(&mut ranges, op);
        }
        assert_eq!(ranges.len(), 3);
        // Already at a bound with the target beyond it: nothing to do.
        assert_eq!(next_manual_operation(&uniform(5), 8, None, Some(5)), None);
    }
}
