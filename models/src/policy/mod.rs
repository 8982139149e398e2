//! Scaling policies for provisioned streams. A policy sees only what CloudWatch
//! publishes: one-minute stream datapoints (`IncomingBytes`, `IncomingRecords` sums),
//! each visible `publish_delay` after its minute ends, never the simulator's internals.
//!
//! `alarm_double_halve` reproduces aws-samples/kinesis-auto-scaling
//! (reference/scaling-policies.md §1.2): two metric-math alarms over `period`-minute
//! datapoints of utilisation `max(bytes / (1 MiB × 60 × P × N), records / (1000 × 60 × P × N))`
//! with `N` the *current* shard count (old datapoints are re-divided after a resize).
//! Scale up (to `2N`) when the last 5 datapoints are all `>= up_threshold`; scale down
//! (to `max(1, N / 2)`) when at least 57 of the last 60 are `< down_threshold`; never
//! below one shard. With `scale_down_min_iter_age_mins = s2` set (Terraform's 30; off
//! in CloudFormation), the scale-down alarm also takes `e5 = age_max / 60 s ×
//! (down_threshold / s2)` from `GetRecords.IteratorAgeMilliseconds` Maximum over the
//! period, so a consumer lagging `s2` minutes or more vetoes scale-down.
//!
//! `step` reproduces aws-samples/aws-application-auto-scaling-kinesis (§1.3): Application
//! Auto Scaling step scaling on `IncomingRecords` Sum, scale out by one shard when the
//! last 1-minute Sum is above `threshold_pct`% of a minute's record capacity
//! (`1000 × 60 × N`), scale in by one when the last three 5-minute Sums are all below the
//! *same* threshold (so in effect below a fifth of it: the sample's quirk, kept), within
//! `[min_shards, max_shards]`, and no action within `cooldown` of the last one. Bytes
//! are ignored, as in the sample.
//!
//! `target_tracking` is Application Auto Scaling target tracking on the stream's
//! utilisation `100 × max(records / (1000 × 60 × N), bytes / (1 MiB × 60 × N))` per
//! minute (the kenzanlabs variant of §1.3, with its per-minute units bug fixed): scale
//! out when `out_datapoints` consecutive minutes are above the target, scale in when
//! `in_datapoints` consecutive minutes are below `in_ratio` × target, both to
//! `ceil(N × utilisation / target)` of the newest minute, within `[min_shards, max_shards]`
//! and the cooldowns. The alarm shapes (3 above; 15 below 90%) are commonly observed,
//! not published (marked unverified in §1.3), so they are parameters.
//!
//! `scheduled` is Application Auto Scaling scheduled scaling (§1.3): at listed times of
//! day (or of any `repeat` cycle) the desired shard count changes, and the policy asks
//! for it with UpdateShardCount until the stream has it (AWS may refuse a step of more
//! than double or less than half; the refusal is logged and the policy asks again).

use crate::spec::MIB;

pub mod external;
pub mod scaling_utils;

/// One CloudWatch minute of the stream (Sums over the minute, reference/kinesis-facts.md
/// §9). A per-API series has no datapoint in a minute without a call of that API: the
/// `*_requests` fields say whether CloudWatch would return one.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct MinuteDatapoint {
    /// `IncomingBytes` and `IncomingRecords`: accepted writes of every API.
    pub incoming_bytes: u64,
    pub incoming_records: u64,
    /// `PutRecord.Bytes` and `PutRecord.Success` (successful single-record calls).
    pub put_record_bytes: u64,
    pub put_record_success: u64,
    /// PutRecord calls made (the series exists when nonzero).
    pub put_record_requests: u64,
    /// `PutRecords.Bytes` and `PutRecords.Records` (successful records in batches).
    pub put_records_bytes: u64,
    pub put_records_records: u64,
    /// PutRecords calls made (the series exists when nonzero).
    pub put_records_requests: u64,
    /// `GetRecords.Bytes` and `GetRecords.Records` (shared-throughput reads; EFO excluded).
    pub get_records_bytes: u64,
    pub get_records_records: u64,
    /// GetRecords calls made (the series exists when nonzero).
    pub get_records_requests: u64,
    /// `GetRecords.IteratorAgeMilliseconds` Maximum over the minute (0 without reads).
    /// A maximum, not a running sum: [`MinuteDatapoint::since`] keeps the later value.
    pub get_records_iterator_age_ms_max: u64,
}

impl MinuteDatapoint {
    /// Counts records a shard accepted from a PutRecord (`put_record`) or PutRecords
    /// producer.
    pub fn count_accepted(&mut self, put_record: bool, records: u64, bytes: u64) {
        if put_record {
            self.put_record_success += records;
            self.put_record_bytes += bytes;
        } else {
            self.put_records_records += records;
            self.put_records_bytes += bytes;
        }
    }

    /// The minute between two running totals (`self` the later).
    pub fn since(&self, earlier: &MinuteDatapoint) -> MinuteDatapoint {
        MinuteDatapoint {
            incoming_bytes: self.incoming_bytes - earlier.incoming_bytes,
            incoming_records: self.incoming_records - earlier.incoming_records,
            put_record_bytes: self.put_record_bytes - earlier.put_record_bytes,
            put_record_success: self.put_record_success - earlier.put_record_success,
            put_record_requests: self.put_record_requests - earlier.put_record_requests,
            put_records_bytes: self.put_records_bytes - earlier.put_records_bytes,
            put_records_records: self.put_records_records - earlier.put_records_records,
            put_records_requests: self.put_records_requests - earlier.put_records_requests,
            get_records_bytes: self.get_records_bytes - earlier.get_records_bytes,
            get_records_records: self.get_records_records - earlier.get_records_records,
            get_records_requests: self.get_records_requests - earlier.get_records_requests,
            get_records_iterator_age_ms_max: self.get_records_iterator_age_ms_max,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    AlarmDoubleHalve(AlarmDoubleHalveSpec),
    Step(StepSpec),
    Scheduled(ScheduledSpec),
    TargetTracking(TargetTrackingSpec),
    /// awslabs/amazon-kinesis-scaling-utils: checks every `checkInterval` seconds, with
    /// state between checks; the engine runs its cycles ([`scaling_utils`]).
    ScalingUtils(scaling_utils::ScalingUtilsSpec),
    /// A user program deciding from each published minute ([`external`]).
    External(external::ExternalSpec),
}

/// The most one-minute datapoints a `target_tracking` alarm may span (a day): the
/// policy keeps that many minutes of history.
pub const ALARM_DATAPOINTS_MAX: usize = 1440;

#[derive(Clone, Debug, PartialEq)]
pub struct TargetTrackingSpec {
    /// Target utilisation in percent (75, as in the kenzanlabs sample).
    pub target_pct: f64,
    /// Consecutive minutes above target before scaling out (3) ...
    pub out_datapoints: usize,
    /// ... and below `in_ratio × target` before scaling in (15, 0.9). AWS does not
    /// publish these alarm shapes; the defaults are the commonly observed ones, marked
    /// unverified in policies §1.3, so they are settings (`out_datapoints`,
    /// `in_datapoints`, `in_ratio`).
    pub in_datapoints: usize,
    pub in_ratio: f64,
    pub min_shards: u32,
    pub max_shards: u32,
    /// Cooldowns after a scale-out / scale-in (300 s each for custom resources, §1.3).
    pub out_cooldown_s: u64,
    pub in_cooldown_s: u64,
    pub publish_delay_s: u64,
}

impl Default for TargetTrackingSpec {
    fn default() -> Self {
        TargetTrackingSpec {
            target_pct: 75.0,
            out_datapoints: 3,
            in_datapoints: 15,
            in_ratio: 0.9,
            min_shards: 1,
            max_shards: 10_000,
            out_cooldown_s: 300,
            in_cooldown_s: 300,
            publish_delay_s: 60,
        }
    }
}

impl TargetTrackingSpec {
    fn decide(&self, minutes: &[MinuteDatapoint], shards: u32, last: LastResizes) -> Decision {
        let capacity_s = 60.0 * f64::from(shards);
        let utilisation_pct = |m: &MinuteDatapoint| {
            100.0
                * (m.incoming_records as f64 / (1000.0 * capacity_s))
                    .max(m.incoming_bytes as f64 / (MIB as f64 * capacity_s))
        };
        let recent = |count: usize| &minutes[minutes.len().saturating_sub(count)..];
        let newest = minutes.last().map_or(0.0, utilisation_pct);
        let above = recent(self.out_datapoints);
        let out = above.len() == self.out_datapoints && above.iter().all(|m| utilisation_pct(m) > self.target_pct);
        let below = recent(self.in_datapoints);
        let scale_in = below.len() == self.in_datapoints
            && below.iter().all(|m| utilisation_pct(m) < self.in_ratio * self.target_pct);
        let proportional = (f64::from(shards) * newest / self.target_pct).ceil() as u32;
        let target = proportional.clamp(self.min_shards, self.max_shards);
        let values = format!("newest utilisation {newest:.1}% against target {}%", self.target_pct);
        let wanted = (out && target > shards) || (scale_in && target < shards);
        let target = if wanted { target } else { shards };
        let cooling = last.cooling(shards, target, self.out_cooldown_s, self.in_cooldown_s);
        Decision::resize_unless_cooling(shards, target, cooling, &values)
    }
}

/// A policy's last resizes, as Application Auto Scaling's cooldowns see them: seconds
/// since the last scale-out and the count it set, and seconds since the last scale-in.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LastResizes {
    pub out: Option<(u64, u32)>,
    pub in_: Option<u64>,
}

impl LastResizes {
    /// Whether a resize from `shards` to `target` waits for a cooldown (policies §1.3,
    /// Application Auto Scaling): a scale-in waits for `in_cooldown_s` after the last
    /// scale-in; a scale-out waits for `out_cooldown_s` after the last scale-out only if
    /// it asks for no more than that one set (the capacity it added counts as already
    /// there), and never for a scale-in's cooldown, which it ends.
    pub fn cooling(&self, shards: u32, target: u32, out_cooldown_s: u64, in_cooldown_s: u64) -> bool {
        if target > shards {
            self.out.is_some_and(|(since_s, set)| since_s < out_cooldown_s && target <= set)
        } else if target < shards {
            self.in_.is_some_and(|since_s| since_s < in_cooldown_s)
        } else {
            false
        }
    }
}

/// Desired shard counts from given times, optionally repeating.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledSpec {
    /// `(from_s, shards)` sorted by time, the first at zero.
    pub schedule: Vec<(u64, u32)>,
    /// The cycle the schedule repeats with (e.g. a day), if any.
    pub repeat_s: Option<u64>,
}

impl ScheduledSpec {
    /// The desired count at `now_s` (seconds since the run start).
    pub fn desired(&self, now_s: u64) -> u32 {
        assert!(self.schedule.first().is_some_and(|&(from_s, _)| from_s == 0));
        let in_cycle_s = self.repeat_s.map_or(now_s, |cycle| now_s % cycle);
        self.schedule.iter().rev().find(|&&(from_s, _)| from_s <= in_cycle_s).map_or(self.schedule[0].1, |e| e.1)
    }

    fn decide(&self, shards: u32, now_s: u64) -> Decision {
        let desired = self.desired(now_s);
        if desired == shards {
            return Decision { target_shards: None, detail: format!("hold at {shards}"), logged: false };
        }
        Decision {
            target_shards: Some(desired),
            detail: format!("scheduled {desired} shards at {now_s} s, stream has {shards}"),
            logged: true,
        }
    }
}

impl PolicySpec {
    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::AlarmDoubleHalve(_) => "alarm_double_halve",
            PolicySpec::Step(_) => "step",
            PolicySpec::Scheduled(_) => "scheduled",
            PolicySpec::TargetTracking(_) => "target_tracking",
            PolicySpec::ScalingUtils(_) => "scaling_utils",
            PolicySpec::External(_) => "external",
        }
    }

    /// How long after its minute ends a datapoint is visible to the policy.
    pub fn publish_delay_s(&self) -> u64 {
        match self {
            PolicySpec::AlarmDoubleHalve(spec) => spec.publish_delay_s,
            PolicySpec::Step(spec) => spec.publish_delay_s,
            PolicySpec::Scheduled(_) => 0,
            PolicySpec::TargetTracking(spec) => spec.publish_delay_s,
            PolicySpec::ScalingUtils(spec) => spec.publish_delay_s,
            PolicySpec::External(spec) => spec.publish_delay_s,
        }
    }

    /// The policy evaluates each time this many more minutes are visible.
    pub fn evaluation_minutes(&self) -> u64 {
        match self {
            PolicySpec::AlarmDoubleHalve(spec) => u64::from(spec.period_minutes),
            PolicySpec::Step(_)
            | PolicySpec::Scheduled(_)
            | PolicySpec::TargetTracking(_)
            | PolicySpec::ScalingUtils(_)
            | PolicySpec::External(_) => 1,
        }
    }

    /// The most recent minutes any evaluation looks at (older ones may be dropped).
    pub fn minutes_needed(&self) -> usize {
        match self {
            PolicySpec::AlarmDoubleHalve(spec) => {
                spec.period_minutes as usize * spec.down_datapoints.1.max(spec.up_datapoints.1) + 1
            }
            PolicySpec::Step(_) => StepSpec::SCALE_IN_PERIOD_MINUTES * StepSpec::SCALE_IN_PERIODS,
            PolicySpec::Scheduled(_) => 0,
            PolicySpec::TargetTracking(spec) => spec.out_datapoints.max(spec.in_datapoints),
            PolicySpec::ScalingUtils(spec) => spec.sample_window_minutes() as usize + 1,
            PolicySpec::External(_) => 1,
        }
    }

    /// Decides on the visible minutes (oldest first) for `shards` open shards, after
    /// the policy's `last` resizes, at `now_s`.
    pub fn decide(&self, minutes: &[MinuteDatapoint], shards: u32, last: LastResizes, now_s: u64) -> Decision {
        match self {
            PolicySpec::AlarmDoubleHalve(spec) => spec.decide(minutes, shards),
            PolicySpec::Step(spec) => spec.decide(minutes, shards, last),
            PolicySpec::Scheduled(spec) => spec.decide(shards, now_s),
            PolicySpec::TargetTracking(spec) => spec.decide(minutes, shards, last),
            PolicySpec::ScalingUtils(_) | PolicySpec::External(_) => {
                unreachable!("the engine runs stateful policies itself")
            }
        }
    }
}

/// §1.3 aws-samples/aws-application-auto-scaling-kinesis defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// Alarm threshold in percent of a minute's record capacity (80).
    pub threshold_pct: f64,
    /// Scalable target bounds (`MinCapacity 1`, `MaxCapacity 8`).
    pub min_shards: u32,
    pub max_shards: u32,
    /// Each policy's cooldown (600 s): after a scale-out, another +1 waits for it;
    /// after a scale-in, another scale-in waits, but a scale-out does not.
    pub cooldown_s: u64,
    /// See [`AlarmDoubleHalveSpec::publish_delay_s`].
    pub publish_delay_s: u64,
}

impl Default for StepSpec {
    fn default() -> Self {
        StepSpec { threshold_pct: 80.0, min_shards: 1, max_shards: 8, cooldown_s: 600, publish_delay_s: 60 }
    }
}

impl StepSpec {
    const SCALE_IN_PERIOD_MINUTES: usize = 5;
    const SCALE_IN_PERIODS: usize = 3;

    pub fn decide(&self, minutes: &[MinuteDatapoint], shards: u32, last: LastResizes) -> Decision {
        let threshold = self.threshold_pct / 100.0 * 1000.0 * 60.0 * f64::from(shards);
        let last_minute = minutes.last().map(|m| m.incoming_records as f64);
        let in_window = Self::SCALE_IN_PERIOD_MINUTES * Self::SCALE_IN_PERIODS;
        let in_sums: Vec<f64> = if minutes.len() >= in_window {
            minutes[minutes.len() - in_window..]
                .chunks_exact(Self::SCALE_IN_PERIOD_MINUTES)
                .map(|chunk| chunk.iter().map(|m| m.incoming_records as f64).sum())
                .collect()
        } else {
            Vec::new()
        };
        let values = format!(
            "threshold {threshold:.0} records; last 1-minute sum {}; last 5-minute sums {:?}",
            last_minute.map_or("none".to_string(), |sum| format!("{sum:.0}")),
            in_sums
        );
        let out = last_minute.is_some_and(|sum| sum > threshold);
        let scale_in = in_sums.len() == Self::SCALE_IN_PERIODS && in_sums.iter().all(|&sum| sum < threshold);
        // A step never turns around: at a bound it holds (the loader keeps the stream
        // inside the range, but an action may take it out).
        let target = if out {
            (shards + 1).min(self.max_shards).max(shards)
        } else if scale_in {
            shards.saturating_sub(1).max(self.min_shards).min(shards)
        } else {
            shards
        };
        // A step of +1 during the scale-out cooldown asks for no more than the last
        // scale-out set (the shard it added counts as there), so it waits.
        let cooling = if target > shards {
            last.out.is_some_and(|(since_s, _)| since_s < self.cooldown_s)
        } else {
            last.cooling(shards, target, self.cooldown_s, self.cooldown_s)
        };
        Decision::resize_unless_cooling(shards, target, cooling, &values)
    }
}

/// §1.2 defaults: CloudFormation/Terraform thresholds, the alarms' evaluation windows.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmDoubleHalveSpec {
    /// Alarm period `P` in minutes (5).
    pub period_minutes: u32,
    /// Scale-up threshold on utilisation (0.75).
    pub up_threshold: f64,
    /// Scale-down threshold on utilisation (0.25).
    pub down_threshold: f64,
    /// Scale-up alarm: `DatapointsToAlarm` of `EvaluationPeriods` (5 of 5).
    pub up_datapoints: (usize, usize),
    /// Scale-down alarm: `DatapointsToAlarm` of `EvaluationPeriods` (57 of 60).
    pub down_datapoints: (usize, usize),
    /// How long after its minute ends a datapoint is visible. Assumption: CloudWatch
    /// publishes no latency; basic stream metrics typically appear within a minute or two.
    pub publish_delay_s: u64,
    /// `SCALE_DOWN_MIN_ITER_AGE_MINS`: the iterator age (minutes) that maps onto the
    /// down threshold, vetoing scale-down; `None` disables it (CloudFormation's −1).
    pub scale_down_min_iter_age_mins: Option<f64>,
}

impl Default for AlarmDoubleHalveSpec {
    fn default() -> Self {
        AlarmDoubleHalveSpec {
            period_minutes: 5,
            up_threshold: 0.75,
            down_threshold: 0.25,
            up_datapoints: (5, 5),
            down_datapoints: (57, 60),
            publish_delay_s: 60,
            scale_down_min_iter_age_mins: None,
        }
    }
}

/// What a policy evaluation decided, with the values behind it (for `events.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The shard count asked for, when the policy scales.
    pub target_shards: Option<u32>,
    pub detail: String,
    /// Whether `events.csv` gets the decision (a scheduled policy's per-minute "nothing
    /// to do" is left out).
    pub logged: bool,
}

impl Decision {
    /// Scale out or in from `shards` to `target`, or hold when they are equal or the
    /// policy is cooling down from its last resize.
    fn resize_unless_cooling(shards: u32, target: u32, cooling: bool, values: &str) -> Decision {
        if target == shards || cooling {
            let why = if cooling && target != shards { " (cooling down)" } else { "" };
            return Decision { target_shards: None, detail: format!("hold at {shards}{why}: {values}"), logged: true };
        }
        let direction = if target > shards { "scale out" } else { "scale in" };
        Decision {
            target_shards: Some(target),
            detail: format!("{direction} {shards} -> {target}: {values}"),
            logged: true,
        }
    }
}

impl AlarmDoubleHalveSpec {
    /// Evaluates both alarms over the published minutes (oldest first; only whole
    /// periods ending at the newest minute count) for a stream of `shards` open shards.
    pub fn decide(&self, minutes: &[MinuteDatapoint], shards: u32) -> Decision {
        assert!(shards > 0 && self.period_minutes > 0);
        let utilisations = self.utilisations(minutes, shards);
        let last = |count: usize| &utilisations[utilisations.len().saturating_sub(count)..];
        let (up_needed, up_window) = self.up_datapoints;
        let up = last(up_window);
        let breaching_up = up.iter().filter(|&&u| u >= self.up_threshold).count();
        let (down_needed, down_window) = self.down_datapoints;
        let down_values = self.down_alarm_values(minutes, &utilisations);
        let down = &down_values[down_values.len().saturating_sub(down_window)..];
        let breaching_down = down.iter().filter(|&&u| u < self.down_threshold).count();
        let newest = utilisations.last().copied().unwrap_or(0.0);
        let values = format!(
            "newest utilisation {newest:.4}; {breaching_up} of last {} datapoints >= {}, {breaching_down} of last {} < {}",
            up.len(),
            self.up_threshold,
            down.len(),
            self.down_threshold
        );
        if up.len() == up_window && breaching_up >= up_needed {
            let target = shards.saturating_mul(2);
            return Decision {
                target_shards: Some(target),
                detail: format!("scale up {shards} -> {target}: {values}"),
                logged: true,
            };
        }
        // At one shard the Lambda sets the down threshold to -1: the alarm never fires.
        if shards > 1 && down.len() == down_window && breaching_down >= down_needed {
            let target = (shards / 2).max(1);
            return Decision {
                target_shards: Some(target),
                detail: format!("scale down {shards} -> {target}: {values}"),
                logged: true,
            };
        }
        Decision { target_shards: None, detail: format!("hold at {shards}: {values}"), logged: true }
    }

    /// The scale-down alarm's `MAX(e3, e4, e5)` per period: utilisation, or the
    /// iterator-age term when the veto is on.
    fn down_alarm_values(&self, minutes: &[MinuteDatapoint], utilisations: &[f64]) -> Vec<f64> {
        let Some(age_mins) = self.scale_down_min_iter_age_mins else { return utilisations.to_vec() };
        let ages = self.periods(minutes).map(|chunk| chunk.iter().map(|m| m.get_records_iterator_age_ms_max).max());
        utilisations
            .iter()
            .zip(ages)
            .map(|(&u, age_ms)| {
                let e5 = age_ms.unwrap_or(0) as f64 / 1000.0 / 60.0 * (self.down_threshold / age_mins);
                u.max(e5)
            })
            .collect()
    }

    /// The whole `P`-minute periods, aligned to end at the newest minute.
    fn periods<'m>(&self, minutes: &'m [MinuteDatapoint]) -> std::slice::ChunksExact<'m, MinuteDatapoint> {
        let period = self.period_minutes as usize;
        minutes[minutes.len() % period..].chunks_exact(period)
    }

    /// Utilisation of each whole `P`-minute period, aligned to end at the newest minute.
    fn utilisations(&self, minutes: &[MinuteDatapoint], shards: u32) -> Vec<f64> {
        let seconds = 60.0 * self.period_minutes as f64 * f64::from(shards);
        self.periods(minutes)
            .map(|chunk| {
                let bytes: u64 = chunk.iter().map(|m| m.incoming_bytes).sum();
                let records: u64 = chunk.iter().map(|m| m.incoming_records).sum();
                (bytes as f64 / (MIB as f64 * seconds)).max(records as f64 / (1000.0 * seconds))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(per_minute: &[u64]) -> Vec<MinuteDatapoint> {
        per_minute
            .iter()
            .map(|&r| MinuteDatapoint { incoming_records: r, incoming_bytes: r * 100, ..Default::default() })
            .collect()
    }

    #[test]
    fn target_tracking_scales_in_proportion_after_consecutive_minutes() {
        let policy = TargetTrackingSpec::default();
        // 4 shards at 90% of the record limit (bytes at 100 B/record stay far below).
        let busy = records(&[216_000, 216_000, 216_000]);
        let none = LastResizes::default();
        let decision = policy.decide(&busy, 4, none);
        // ceil(4 × 90 / 75) = ceil(4.8) = 5.
        assert_eq!(decision.target_shards, Some(5), "{}", decision.detail);
        assert_eq!(policy.decide(&busy[1..], 4, none).target_shards, None, "two minutes are not enough");
        // A scale-out 299 s ago that set 5 shards: asking for 5 again waits; for more does not.
        let out = |set: u32| LastResizes { out: Some((299, set)), in_: None };
        assert_eq!(policy.decide(&busy, 4, out(5)).target_shards, None, "scale-out cooldown");
        assert_eq!(policy.decide(&busy, 4, out(4)).target_shards, Some(5), "a larger scale-out goes ahead");
        // A scale-in's cooldown does not hold a scale-out back.
        let after_in = LastResizes { out: None, in_: Some(10) };
        assert_eq!(policy.decide(&busy, 4, after_in).target_shards, Some(5));
        // 15 minutes at 30%: ceil(8 × 30 / 75) = 4.
        let quiet = records(&[144_000; 15]);
        assert_eq!(policy.decide(&quiet, 8, none).target_shards, Some(4));
        assert_eq!(policy.decide(&quiet, 8, after_in).target_shards, None, "scale-in cooldown");
        assert_eq!(policy.decide(&quiet, 8, out(9)).target_shards, Some(4), "a scale-out's cooldown is its own");
        assert_eq!(policy.decide(&quiet[1..], 8, none).target_shards, None, "fourteen are not enough");
        // At 70% (above 0.9 × 75 = 67.5%) nothing scales in.
        assert_eq!(policy.decide(&records(&[336_000; 15]), 8, none).target_shards, None);
    }

    #[test]
    fn scheduled_counts_follow_the_cycle() {
        let policy = ScheduledSpec { schedule: vec![(0, 2), (8 * 3600, 8), (20 * 3600, 4)], repeat_s: Some(86_400) };
        assert_eq!(policy.desired(0), 2);
        assert_eq!(policy.desired(8 * 3600 - 1), 2);
        assert_eq!(policy.desired(8 * 3600), 8);
        assert_eq!(policy.desired(21 * 3600), 4);
        assert_eq!(policy.desired(86_400 + 9 * 3600), 8, "the next day repeats");
        let decision = policy.decide(2, 8 * 3600);
        assert_eq!((decision.target_shards, decision.logged), (Some(8), true));
        assert!(!policy.decide(8, 9 * 3600).logged);
    }

    #[test]
    fn step_scales_out_on_one_minute_above_80_percent() {
        let policy = StepSpec::default();
        // 2 shards: threshold 0.8 × 1000 × 60 × 2 = 96,000 records a minute.
        let none = LastResizes::default();
        assert_eq!(policy.decide(&records(&[96_000]), 2, none).target_shards, None, "not strictly above");
        let decision = policy.decide(&records(&[96_001]), 2, none);
        assert_eq!(decision.target_shards, Some(3), "{}", decision.detail);
        let out = |since_s: u64| LastResizes { out: Some((since_s, 2)), in_: None };
        assert_eq!(policy.decide(&records(&[96_001]), 2, out(599)).target_shards, None, "cooldown");
        assert_eq!(policy.decide(&records(&[96_001]), 2, out(600)).target_shards, Some(3));
        let after_in = LastResizes { out: None, in_: Some(10) };
        assert_eq!(
            policy.decide(&records(&[96_001]), 2, after_in).target_shards,
            Some(3),
            "a scale-in's cooldown ends"
        );
        assert_eq!(policy.decide(&records(&[1_000_000]), 8, none).target_shards, None, "MaxCapacity 8");
        assert_eq!(
            policy.decide(&records(&[10_000_000]), 10, none).target_shards,
            None,
            "above MaxCapacity a scale-out alarm does not shrink the stream"
        );
    }

    #[test]
    fn step_scales_in_only_below_a_fifth_of_the_threshold() {
        let policy = StepSpec::default();
        // 4 shards: threshold 192,000 a minute, compared with 5-minute sums.
        let none = LastResizes::default();
        let quiet = records(&[38_000; 15]); // 190,000 per 5 minutes: below
        assert_eq!(policy.decide(&quiet, 4, none).target_shards, Some(3));
        let after_in = LastResizes { out: None, in_: Some(599) };
        assert_eq!(policy.decide(&quiet, 4, after_in).target_shards, None, "scale-in cooldown");
        let busier = records(&[38_500; 15]); // 192,500 per 5 minutes: not below
        assert_eq!(policy.decide(&busier, 4, none).target_shards, None);
        assert_eq!(policy.decide(&quiet[1..], 4, none).target_shards, None, "three whole periods needed");
        assert_eq!(policy.decide(&records(&[0; 15]), 1, none).target_shards, None, "MinCapacity 1");
        let at_least_three = StepSpec { min_shards: 3, ..StepSpec::default() };
        assert_eq!(
            at_least_three.decide(&records(&[0; 15]), 1, none).target_shards,
            None,
            "below MinCapacity a scale-in alarm does not grow the stream"
        );
    }

    /// Minutes of steady traffic at `records_per_s` per shard of `shards` (1 KiB records).
    fn steady(minutes: usize, records_per_s_per_shard: u64, shards: u64) -> Vec<MinuteDatapoint> {
        let records = records_per_s_per_shard * 60 * shards;
        vec![
            MinuteDatapoint { incoming_records: records, incoming_bytes: records * 1024, ..Default::default() };
            minutes
        ]
    }

    #[test]
    fn scales_up_after_five_periods_at_or_above_the_threshold() {
        let policy = AlarmDoubleHalveSpec::default();
        // 800 records/s per shard = 0.8 of the record limit (bytes 0.78 of 1 MiB/s).
        assert_eq!(policy.decide(&steady(24, 800, 4), 4).target_shards, None, "four periods are not enough");
        let decision = policy.decide(&steady(25, 800, 4), 4);
        assert_eq!(decision.target_shards, Some(8), "{}", decision.detail);
        assert!(decision.detail.contains("5 of last 5 datapoints >= 0.75"), "{}", decision.detail);
        // One period below the threshold among the last five: no alarm.
        let mut dipped = steady(25, 800, 4);
        for minute in &mut dipped[10..15] {
            *minute = MinuteDatapoint {
                incoming_records: 700 * 60 * 4,
                incoming_bytes: 700 * 60 * 4 * 1024,
                ..Default::default()
            };
        }
        assert_eq!(policy.decide(&dipped, 4).target_shards, None);
    }

    #[test]
    fn old_datapoints_are_re_divided_by_the_new_shard_count() {
        let policy = AlarmDoubleHalveSpec::default();
        // Traffic of 4 shards at 0.8 is 0.4 of 8 shards: no further scale-up.
        assert_eq!(policy.decide(&steady(25, 800, 4), 8).target_shards, None);
        // Traffic of 4 shards at 1.6 (offered, as accepted bytes can't exceed 1.0) doubles again.
        assert_eq!(policy.decide(&steady(25, 1600, 4), 8).target_shards, Some(16));
    }

    #[test]
    fn a_lagging_consumer_vetoes_scale_down() {
        let spec = AlarmDoubleHalveSpec { scale_down_min_iter_age_mins: Some(30.0), ..AlarmDoubleHalveSpec::default() };
        let mut minutes = steady(300, 100, 4);
        // Lag of 29 minutes: e5 = 29/30 × 0.25 < 0.25, scale-down goes ahead.
        minutes.iter_mut().for_each(|m| m.get_records_iterator_age_ms_max = 29 * 60_000);
        assert_eq!(spec.decide(&minutes, 4).target_shards, Some(2));
        // Lag of 30 minutes in 4 of the 60 periods: only 56 periods are below, no scale-down.
        for period in 0..4 {
            minutes[299 - 5 * period].get_records_iterator_age_ms_max = 30 * 60_000;
        }
        let decision = spec.decide(&minutes, 4);
        assert_eq!(decision.target_shards, None, "{}", decision.detail);
        assert!(decision.detail.contains("56 of last 60"), "{}", decision.detail);
        // Without the veto the lag does not matter.
        assert_eq!(AlarmDoubleHalveSpec::default().decide(&minutes, 4).target_shards, Some(2));
    }

    #[test]
    fn scales_down_when_57_of_60_periods_are_below_the_threshold() {
        let policy = AlarmDoubleHalveSpec::default();
        let mut minutes = steady(300, 100, 8);
        assert_eq!(policy.decide(&minutes, 8).target_shards, Some(4));
        assert_eq!(policy.decide(&minutes[..295], 8).target_shards, None, "59 periods are not enough");
        // Four busy periods among the sixty: 56 below, no alarm; three: 57, alarm.
        for minute in &mut minutes[..20] {
            minute.incoming_records = 500 * 60 * 8;
        }
        assert_eq!(policy.decide(&minutes, 8).target_shards, None);
        for minute in &mut minutes[15..20] {
            minute.incoming_records = 100 * 60 * 8;
        }
        assert_eq!(policy.decide(&minutes, 8).target_shards, Some(4));
        assert_eq!(policy.decide(&steady(300, 100, 1), 1).target_shards, None, "never below one shard");
        assert_eq!(policy.decide(&steady(300, 100, 3), 3).target_shards, Some(1), "floor(N / 2)");
    }
}
