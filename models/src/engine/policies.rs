//! The engine side of scaling policies: CloudWatch minutes, when each policy looks at
//! them, and how its resize requests go through the control plane.
//!
//! Lifecycles. Every policy gets a `PolicyMinute` event each minute (phase POLICY),
//! which closes the minute's datapoint; a datapoint is visible `publish_delay` after its
//! minute ends.
//! - Stateless kinds (`alarm_double_halve`, `step`, `target_tracking`, `scheduled`)
//!   decide at that event from the visible minutes.
//! - `external` is handed each newly visible minute at that event and answers a desired
//!   shard count; a failure of the program ends the run.
//! - `scaling_utils` runs its own cycles (`PolicyCheck`, every `checkInterval` seconds).
//!   A cycle that asks for a resize blocks the monitor until the stream is ACTIVE again
//!   (as the tool's resharder does); when UpdateShardCount is refused it falls back to
//!   split/merge one shard at a time, each waited for; the next cycle starts
//!   `checkInterval` after the last completes.

use super::{phase, Event, Reshard, Simulation};
use crate::metrics::EventRow;
use crate::policy::external::{ExternalFailure, Observation};
use crate::policy::scaling_utils::{next_manual_operation, Direction, ManualOperation, ScalingUtilsState};
use crate::policy::{LastResizes, MinuteDatapoint, PolicySpec};
use crate::routing::ShardId;
use crate::spec::SplitAt;
use kinesim_sim::{EventQueue, SimDuration, SimTime, NANOS_PER_SEC};

/// A scaling_utils monitor between cycles.
pub(super) struct ScalingUtilsRun {
    pub(super) state: ScalingUtilsState,
    /// The resize the monitor is blocked on, if any.
    waiting: Option<PolicyResize>,
}

impl ScalingUtilsRun {
    pub(super) fn new(open_shards: u32) -> ScalingUtilsRun {
        ScalingUtilsRun { state: ScalingUtilsState::new(open_shards), waiting: None }
    }
}

#[derive(Copy, Clone, Debug)]
struct PolicyResize {
    direction: Direction,
    target: u32,
    /// Split/merge one shard at a time after UpdateShardCount was refused.
    manual: bool,
}

impl Simulation<'_> {
    /// Closes the minute that just ended and lets a per-minute policy look at what is
    /// published; its decision and the values behind it go to `events.csv`.
    pub(super) fn policy_minute(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(policy) = &self.spec.policy else { return };
        let now_s = now.as_nanos() / NANOS_PER_SEC;
        let minute = self.close_policy_minute();
        self.policy_minutes.push_back((now_s, minute));
        let publish_delay_s = policy.publish_delay_s();
        let kept_max = policy.minutes_needed() + (publish_delay_s / 60) as usize + 2;
        while self.policy_minutes.len() > kept_max {
            self.policy_minutes.pop_front();
        }
        match policy {
            PolicySpec::ScalingUtils(_) => {}
            PolicySpec::External(_) => self.external_minute(now, queue),
            _ => self.stateless_minute(now, queue),
        }
    }

    /// The datapoint of the minute that just ended, from the running totals.
    fn close_policy_minute(&mut self) -> MinuteDatapoint {
        let (put_record_requests, put_records_requests) =
            self.producers.iter().fold((0, 0), |(single, batch), producer| {
                let requests = producer.totals.put_requests;
                if producer.sends_put_record() {
                    (single + requests, batch)
                } else {
                    (single, batch + requests)
                }
            });
        let totals = MinuteDatapoint {
            incoming_bytes: self.incoming_bytes_total,
            incoming_records: self.incoming_records_total,
            put_record_requests,
            put_records_requests,
            ..self.api_totals
        };
        let minute = totals.since(&self.policy_totals_at_minute);
        self.api_totals.get_records_iterator_age_ms_max = 0;
        self.policy_totals_at_minute = totals;
        minute
    }

    /// The visible minutes, oldest first, as `(end_s, datapoint)`.
    fn visible_minutes(&self, now_s: u64, publish_delay_s: u64) -> impl Iterator<Item = &(u64, MinuteDatapoint)> {
        self.policy_minutes.iter().filter(move |(end_s, _)| end_s + publish_delay_s <= now_s)
    }

    fn stateless_minute(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let policy = self.spec.policy.as_ref().expect("called for a policy");
        let now_s = now.as_nanos() / NANOS_PER_SEC;
        let publish_delay_s = policy.publish_delay_s();
        let visible: Vec<MinuteDatapoint> = self.visible_minutes(now_s, publish_delay_s).map(|(_, m)| *m).collect();
        let visible_total = now_s.saturating_sub(publish_delay_s) / 60;
        // One more minute becomes visible per call once the publish delay has passed.
        if visible_total == 0 || !visible_total.is_multiple_of(policy.evaluation_minutes()) {
            return;
        }
        // The Lambda rewrites the alarms with the new count as soon as it has asked for it.
        let shards = match &self.reshard_pending {
            Some((Reshard::UpdateShardCount { target }, _)) => *target,
            _ => self.shards_open() as u32,
        };
        let last = LastResizes {
            out: self.policy_last_out.map(|(at_s, set)| (now_s - at_s, set)),
            in_: self.policy_last_in_s.map(|at_s| now_s - at_s),
        };
        let decision = policy.decide(&visible, shards, last, now_s);
        if decision.logged {
            self.log_policy_decision(now, decision.detail);
        }
        if let Some(target) = decision.target_shards {
            match self.request_reshard(now, queue, |sim| sim.plan_update_shard_count(target, now)) {
                Ok(()) if target > shards => {
                    // A scale-out ends a scale-in's cooldown (Application Auto Scaling).
                    self.policy_last_out = Some((now_s, target));
                    self.policy_last_in_s = None;
                }
                Ok(()) => self.policy_last_in_s = Some(now_s),
                Err(reason) => self.log_rejected(now, "update_shard_count", "stream".into(), reason),
            }
        }
    }

    fn log_policy_decision(&mut self, now: SimTime, detail: String) {
        let policy = self.spec.policy.as_ref().expect("called for a policy");
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: "policy_decision".into(),
            subject: policy.name().into(),
            detail,
        });
    }

    /// Hands the minutes published since the last call to the external program and
    /// applies its answer; a failure stops the run.
    fn external_minute(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(PolicySpec::External(spec)) = &self.spec.policy else { unreachable!("called for external") };
        let now_s = now.as_nanos() / NANOS_PER_SEC;
        let publish_delay_s = spec.publish_delay_s;
        // Minutes whose publication time fell in the last minute.
        let newly: Vec<(u64, MinuteDatapoint)> = self
            .visible_minutes(now_s, publish_delay_s)
            .filter(|(end_s, _)| end_s + publish_delay_s + 60 > now_s)
            .copied()
            .collect();
        if newly.is_empty() {
            return;
        }
        let open_shards = self.shards_open() as u32;
        let observation = Observation { now_s, open_shards, updating: self.reshard_pending.is_some(), minutes: &newly };
        let decider = self.external.as_deref_mut().expect("an external policy runs with its program");
        let answer = match decider.decide(&observation) {
            Ok(answer) => answer,
            Err(failure) => return self.fail_run(failure, queue),
        };
        let (_, newest) = newly.last().expect("not empty");
        let values = format!(
            "IncomingBytes {} IncomingRecords {} in the minute ending {} s",
            newest.incoming_bytes,
            newest.incoming_records,
            newly.last().expect("not empty").0
        );
        let note = if answer.note.is_empty() { String::new() } else { format!(" ({})", answer.note) };
        let detail = match answer.desired_shards {
            Some(desired) if desired != open_shards => format!("resize {open_shards} -> {desired}{note}: {values}"),
            _ => format!("hold at {open_shards}{note}: {values}"),
        };
        self.log_policy_decision(now, detail);
        if let Some(desired) = answer.desired_shards.filter(|&d| d != open_shards) {
            if let Err(reason) = self.request_reshard(now, queue, |sim| sim.plan_update_shard_count(desired, now)) {
                self.log_rejected(now, "update_shard_count", "stream".into(), reason);
            }
        }
    }

    /// Ends the run at this instant: nothing more happens, and the caller gets the failure.
    pub(super) fn fail_run(&mut self, failure: ExternalFailure, queue: &mut EventQueue<Event>) {
        self.recorder.event(&EventRow {
            time_s: queue.now().as_secs_f64(),
            kind: "policy_failed".into(),
            subject: "external".into(),
            detail: failure.0.clone(),
        });
        self.fatal = Some(failure.into());
        queue.cancel_all();
    }

    /// One scaling_utils check cycle.
    pub(super) fn scaling_utils_check(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(PolicySpec::ScalingUtils(spec)) = &self.spec.policy else { unreachable!("called for scaling_utils") };
        let open_shards = self.shards_open() as u32;
        let run = self.scaling_utils.as_mut().expect("state for scaling_utils");
        debug_assert!(run.waiting.is_none(), "the monitor is blocked while a resize runs");
        let now_s = now.as_nanos() / NANOS_PER_SEC;
        let range = spec.visible_minutes(now_s);
        let window: Vec<MinuteDatapoint> = self
            .policy_minutes
            .iter()
            .filter(|(end_s, _)| range.contains(&(end_s / 60 - 1)))
            .map(|(_, minute)| *minute)
            .collect();
        let check = spec.check(&mut run.state, &window, open_shards, now_s);
        let (direction, target) = (check.direction, check.target_shards);
        self.log_policy_decision(now, check.detail);
        if let (Some(direction), Some(target)) = (direction, target) {
            let resize = PolicyResize { direction, target, manual: false };
            match self.request_reshard(now, queue, |sim| sim.plan_update_shard_count(target, now)) {
                Ok(()) => return self.block_on(resize, now, queue),
                Err(reason) => {
                    self.log_rejected(now, "update_shard_count", "stream".into(), reason);
                    return self.continue_manually(PolicyResize { manual: true, ..resize }, now, queue);
                }
            }
        }
        self.schedule_check(now, queue);
    }

    /// The monitor waits for the reshard it asked for (at once when reshards take no time).
    fn block_on(&mut self, resize: PolicyResize, now: SimTime, queue: &mut EventQueue<Event>) {
        self.scaling_utils.as_mut().expect("scaling_utils").waiting = Some(resize);
        if self.reshard_pending.is_none() {
            self.policy_reshard_done(now, queue);
        }
    }

    /// A reshard completed: a monitor blocked on it goes on (the next manual step, or
    /// its next cycle).
    pub(super) fn policy_reshard_done(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(run) = self.scaling_utils.as_mut() else { return };
        let Some(resize) = run.waiting.take() else { return };
        if resize.manual {
            self.continue_manually(resize, now, queue);
        } else {
            self.finish_resize(resize, now, queue);
        }
    }

    /// The tool's manual fallback: the next split or merge towards `target` equal
    /// shards, or the end of the resize when the layout is there (§1.1 "Resharding").
    fn continue_manually(&mut self, resize: PolicyResize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(PolicySpec::ScalingUtils(spec)) = &self.spec.policy else { unreachable!("called for scaling_utils") };
        let mut open: Vec<usize> = (0..self.shards.ids.len()).filter(|&slot| self.shards.open[slot]).collect();
        open.sort_by_key(|&slot| self.shards.ranges[slot].start);
        let ranges: Vec<(u128, u128)> =
            open.iter().map(|&slot| (self.shards.ranges[slot].start, self.shards.ranges[slot].end)).collect();
        let Some(operation) = next_manual_operation(&ranges, resize.target, spec.min_shards, spec.max_shards) else {
            return self.finish_resize(resize, now, queue);
        };
        let outcome = match operation {
            ManualOperation::Split { shard_index, at_hash_key } => {
                let shard = ShardId(open[shard_index] as u32);
                let result = self.request_reshard(now, queue, |sim| sim.plan_split(shard, &SplitAt::Key(at_hash_key)));
                result.map_err(|reason| ("split_shard", shard, reason))
            }
            ManualOperation::Merge { lower_index, upper_index } => {
                let (low, high) = (ShardId(open[lower_index] as u32), ShardId(open[upper_index] as u32));
                let result = self.request_reshard(now, queue, |sim| sim.plan_merge(low, high));
                result.map_err(|reason| ("merge_shards", low, reason))
            }
        };
        match outcome {
            Ok(()) => self.block_on(resize, now, queue),
            Err((call, shard, reason)) => {
                // The tool's resharder gives up on an exception and reports nothing.
                self.log_rejected(now, call, shard.to_string(), reason);
                self.schedule_check(now, queue);
            }
        }
    }

    fn finish_resize(&mut self, resize: PolicyResize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(PolicySpec::ScalingUtils(spec)) = &self.spec.policy else { unreachable!("called for scaling_utils") };
        let open_after = spec.refreshes_denominator_after_resize(resize.manual).then(|| self.shards_open() as u32);
        let now_s = now.as_nanos() / NANOS_PER_SEC;
        let run = self.scaling_utils.as_mut().expect("scaling_utils");
        run.state.record_resize(resize.direction, now_s, open_after);
        self.schedule_check(now, queue);
    }

    fn schedule_check(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(PolicySpec::ScalingUtils(spec)) = &self.spec.policy else { unreachable!("called for scaling_utils") };
        let next = now + SimDuration::from_secs(spec.check_interval_s);
        if next < SimTime::ZERO + self.spec.duration {
            queue.schedule(next, phase::POLICY, Event::PolicyCheck);
        }
    }
}
