//! One run: the event queue, its phases, and the stepped data plane.
//!
//! Events and their order. The queue orders by (time, phase, insertion sequence), and
//! the phase fixes what happens first within one instant:
//!
//! ```text
//!   CONTROL  control-plane changes (scheduled actions, reshards, and the on-demand
//!            controller measuring the period that just ended and splitting or merging)
//!   METRICS  periods ending at this instant are closed and written
//!   DATA     the data step starting at this instant: writes, then reads, of [t, t + step)
//!   POLICY   policies look at the metrics published so far
//! ```
//!
//! A step event at time `t` processes the interval `[t, t + step)`: producers offer,
//! shards admit and store, consumers poll at their own times inside the interval. Why
//! this order: a control-plane change at `t` applies to every write from `t` on (a split
//! at 10m takes effect for the step starting at 10m, never for the one before it); a
//! metrics period closing at `t` holds exactly the steps that ended by `t`, because
//! it closes before the step starting at `t` runs; and a policy at `t` sees those
//! metrics. Data stored by a step is readable from the step's end plus the propagation
//! delay, never in the same instant.

use crate::consumer::reader::PollOutcome;
use crate::consumer::{ReadBudget, ShardReader};
use crate::metrics::{ConsumerRow, EventRow, HotKeyRow, Recorder, ShardRow, StreamRow};
use crate::on_demand::{Change, OnDemandController, ShardTraffic};
use crate::policy::external::{ExternalDecider, ExternalFailure};
use crate::policy::{MinuteDatapoint, PolicySpec};
use crate::producer::{Arrival, Producer, ProducerTotals};
use crate::ratio::scale;
use crate::routing::{initial_ranges, tiles_hash_space, HashRange, ShardId};
use crate::spec::{
    ActionKind, CapacityMode, Enforcement, ExperimentSpec, Fidelity, SplitAt, MODE_SWITCHES_PER_DAY,
    UPDATE_SHARD_COUNT_PER_DAY,
};
use crate::storage::ShardLog;
use crate::stream::{apportion, WriteAdmission, WriteAllowance};
use kinesim_sim::num::{ceil_to_count, count_to_f64, f64_to_count};
use kinesim_sim::{
    format_duration, run_until, EventQueue, Phase, Process, SeedKey, SimDuration, SimTime, NANOS_PER_SEC,
};
use std::collections::VecDeque;

mod billing;
mod coast;
mod policies;
mod record;
mod record_queue;

pub use record::{RECORDS_WAITING_MAX, RECORD_BURSTY_CV_MAX, RECORD_RATE_MAX};

pub use billing::CostSummary;

/// Phases within one instant, in the order they run.
pub mod phase {
    use kinesim_sim::Phase;
    pub const CONTROL: Phase = Phase(0);
    pub const METRICS: Phase = Phase(1);
    pub const DATA: Phase = Phase(2);
    pub const POLICY: Phase = Phase(3);
}

/// A second's records and bytes as a share of a shard's limits: the larger of the two.
fn utilisation_of(records: f64, bytes: f64, records_limit: f64, bytes_limit: f64) -> f64 {
    (records / records_limit).max(bytes / bytes_limit)
}

/// The most events pending at once (a bound, asserted by the queue).
const EVENTS_PENDING_MAX: usize = 1 << 20;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Event {
    /// The data step `index`, covering `[index * step, (index + 1) * step)`.
    Step(u64),
    CloseStreamPeriod,
    CloseShardPeriod,
    CloseConsumerPeriod,
    /// The scheduled action `spec.actions[index]`.
    Action(usize),
    /// The reshard in progress takes effect.
    ReshardComplete,
    /// A CloudWatch minute ends: the policy's datapoint is recorded, and the policy
    /// evaluates when a whole alarm period has become visible.
    PolicyMinute,
    /// A scaling_utils monitor's check cycle.
    PolicyCheck,
    /// A billing hour ends (or the run does): its usage is billed into `cost.csv`.
    CloseCostHour,
    /// The on-demand controller measures the last evaluation period and acts.
    OnDemandEvaluate,
    /// A warm-throughput change takes effect (stream.on_demand.warm_duration after the call).
    WarmThroughputReady {
        mibps: u32,
    },
    /// KCL worker failure `failures[failure]` of consumer `consumer`.
    WorkerFailure {
        consumer: usize,
        failure: usize,
    },
    /// A KCL worker joins consumer `consumer`.
    WorkerJoin {
        consumer: usize,
    },
    /// A run of worker `worker`'s lease taker, stealing a lease while it has too few.
    LeaseTaker {
        consumer: usize,
        worker: u32,
    },
}

/// One consumer's results over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerSummary {
    pub name: String,
    pub read_records: u64,
    pub read_bytes: u64,
    pub iterator_age_ms_max: f64,
    pub expired_unread_records: u64,
    /// Records written before the consumer's start position (never meant to be read).
    pub skipped_records: u64,
    /// Records processing gave up on (failed past their retries, or too old).
    pub discarded_records: u64,
    pub failed_batches: u64,
    pub reprocessed_records: u64,
    pub read_throttled_calls: u64,
    pub get_records_calls: u64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// Records stored but not read by this consumer at the end.
    pub unread_records_end: u64,
}

/// One producer's results over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerSummary {
    pub name: String,
    pub totals: ProducerTotals,
    pub in_flight_records_end: u64,
    /// From a record's creation to its acceptance by a shard (buffering, batching,
    /// back-pressure and retries included).
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
}

/// The run's totals; see DESIGN's `summary.json` for meanings.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub duration_s: f64,
    pub offered_records: u64,
    pub attempted_records: u64,
    pub accepted_records: u64,
    pub write_throttled_records: u64,
    /// Of the dropped, records whose KPL RecordTtl passed.
    pub expired_records: u64,
    pub put_requests: u64,
    /// Kinesis records accepted (CloudWatch `IncomingRecords`; equals `accepted_records`
    /// unless the KPL aggregates).
    pub incoming_records: u64,
    pub write_throttle_rate: f64,
    pub dropped_records: u64,
    pub in_flight_records_end: u64,
    pub incoming_bytes: u64,
    pub shards_open_max: u32,
    pub reshard_operations: u64,
    pub producers: Vec<ProducerSummary>,
    pub consumers: Vec<ConsumerSummary>,
    /// Steps simulated times open shards: the unit of work of the data plane.
    pub shard_steps: u64,
    /// Of them, steps of coasting shards (`coast`).
    pub coasted_shard_steps: u64,
    pub cost: CostSummary,
}

#[derive(Clone, Debug)]
pub struct RunResult {
    pub summary: RunSummary,
    pub hot_keys: Vec<HotKeyRow>,
}

/// Runs one experiment, pushing rows into `recorder` as periods close. For an
/// experiment without an external policy (which needs its program: see
/// [`simulate_with`]).
pub fn simulate(spec: &ExperimentSpec, recorder: &mut dyn Recorder) -> RunResult {
    assert!(!matches!(spec.policy, Some(PolicySpec::External(_))), "an external policy runs through simulate_with");
    simulate_with(spec, recorder, None)
        .unwrap_or_else(|failure| panic!("a run without a policy program stopped: {failure}"))
}

/// Why a run did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunFailure {
    /// The external policy program failed.
    #[error(transparent)]
    Policy(#[from] ExternalFailure),
    /// A stop was requested (`kinesim_sim::interrupt`), e.g. by Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

/// Runs one experiment with the program of its external policy, if it has one. The
/// run fails (and stops at that instant) only when that program does, or when a stop
/// is requested.
pub fn simulate_with<'a>(
    spec: &'a ExperimentSpec,
    recorder: &'a mut dyn Recorder,
    external: Option<&'a mut dyn ExternalDecider>,
) -> Result<RunResult, RunFailure> {
    assert_eq!(external.is_some(), matches!(spec.policy, Some(PolicySpec::External(_))));
    let mut simulation = Simulation::new(spec, recorder, external);
    let mut queue = EventQueue::new(EVENTS_PENDING_MAX);
    simulation.schedule_initial(&mut queue);
    run_until(&mut simulation, &mut queue, SimTime::ZERO + spec.duration);
    if let Some(failure) = simulation.fatal.take() {
        return Err(failure);
    }
    if let Some(decider) = simulation.external.as_deref_mut() {
        decider.finish()?;
    }
    Ok(simulation.finish())
}

/// Per-second write counters of one shard, for peak utilisation.
#[derive(Copy, Clone, Debug, Default)]
struct SecondCounters {
    accepted_records: u64,
    accepted_bytes: u64,
    attempted_records: u64,
    attempted_bytes: u64,
}

/// What one shard stored in the current step.
#[derive(Copy, Clone, Debug, Default)]
struct StepStore {
    /// Kinesis records, as the shard's limits and CloudWatch count them.
    kinesis_records: u64,
    /// User records inside them, as consumers read them.
    records: u64,
    bytes: u64,
    /// Sum over stored records of (arrival - creation), for the block's mean age.
    age_sum_ns: u128,
}

impl StepStore {
    /// The stored user records' mean age at arrival (0 when none).
    fn age_mean_ns(&self) -> u64 {
        if self.records == 0 {
            return 0;
        }
        // A 64-bit division when the sum fits (it nearly always does): a 128-bit one is
        // a library call several times slower, on every shard every step.
        match u64::try_from(self.age_sum_ns) {
            Ok(age_sum_ns) => age_sum_ns / self.records,
            Err(_) => (self.age_sum_ns / u128::from(self.records)) as u64,
        }
    }
}

/// Scratch of the write step, one entry per open shard, sized once per shard map.
#[derive(Clone, Debug, Default)]
struct ShardDemand {
    records: u64,
    bytes: u64,
    accept_left: u64,
    demand_left: u64,
    filled_at_ns: u64,
    arrival_mean_ns: u64,
}

#[derive(Clone, Debug, Default)]
struct ShardPeriod {
    incoming_records: u64,
    incoming_bytes: u64,
    write_throttled_records: u64,
    utilisation_peak: f64,
    demand_peak: f64,
    read_records: u64,
    read_bytes: u64,
    read_throttled_calls: u64,
    iterator_age_ms_max: f64,
}

#[derive(Clone, Debug, Default)]
struct StreamPeriod {
    /// Kinesis records (CloudWatch `IncomingRecords`).
    incoming_records: u64,
    /// User records inside them.
    incoming_user_records: u64,
    /// Rejected Kinesis records (CloudWatch `WriteProvisionedThroughputExceeded`).
    write_throttled_records: u64,
    incoming_bytes: u64,
    utilisation_peak: f64,
    demand_peak: f64,
    read_records: u64,
    read_bytes: u64,
    read_throttled_calls: u64,
    iterator_age_ms_max: f64,
    expired_unread_records: u64,
    /// Producer totals at the period start, to take differences.
    producers_at_start: ProducerTotals,
}

/// The open shards, as flat arrays indexed by shard slot.
struct Shards {
    ids: Vec<ShardId>,
    ranges: Vec<HashRange>,
    allowances: Vec<WriteAllowance>,
    logs: Vec<ShardLog>,
    budgets: Vec<ReadBudget>,
    demand: Vec<ShardDemand>,
    stored: Vec<StepStore>,
    second: Vec<SecondCounters>,
    period: Vec<ShardPeriod>,
    /// Kinesis records rejected over the run, per shard.
    throttled_total: Vec<u64>,
    /// Open shards take writes; closed ones (split parents) stay readable.
    open: Vec<bool>,
    /// When each shard opened and closed (`u64::MAX` while open), for the time it could
    /// take writes in a period.
    opened_ns: Vec<u64>,
    closed_ns: Vec<u64>,
    /// The shards each one was made from (split, merge or UpdateShardCount), if any.
    parents: Vec<Vec<usize>>,
    /// Kinesis records and bytes stored since the on-demand controller last measured.
    since_evaluation: Vec<(u64, u64)>,
}

struct Simulation<'a> {
    spec: &'a ExperimentSpec,
    recorder: &'a mut dyn Recorder,
    seed: SeedKey,
    step_ns: u64,
    admission: WriteAdmission,
    shards: Shards,
    producers: Vec<Producer>,
    consumers: Vec<ShardReader>,
    arrivals: Vec<Arrival>,
    stream_period: StreamPeriod,
    stream_period_start: SimTime,
    shard_period_start: SimTime,
    consumer_period_start: SimTime,
    incoming_bytes_total: u64,
    incoming_records_total: u64,
    shard_steps: u64,
    reshard_operations: u64,
    shards_open_max: u32,
    /// When UpdateShardCount was called, for the 10-per-24h limit.
    update_calls_ns: Vec<u64>,
    /// The retention period in force (scheduled actions may change it).
    retention: SimDuration,
    /// The reshard in progress (the stream is `UPDATING`) and when it completes.
    reshard_pending: Option<(Reshard, SimTime)>,
    /// The policy's CloudWatch minutes, oldest first, as `(end_s, datapoint)`; bounded
    /// to what its alarms can look at.
    policy_minutes: VecDeque<(u64, MinuteDatapoint)>,
    /// Stream totals at the last minute boundary, to difference into datapoints.
    policy_totals_at_minute: MinuteDatapoint,
    /// Running totals of the per-API CloudWatch series (requests are taken from the
    /// producers when a minute closes).
    api_totals: MinuteDatapoint,
    /// When the policy's last accepted scale-out was asked for and the count it set,
    /// and when its last scale-in was (for cooldowns).
    policy_last_out: Option<(u64, u32)>,
    policy_last_in_s: Option<u64>,
    /// The capacity mode in force (actions may switch it).
    mode: CapacityMode,
    /// When UpdateStreamMode was called, for the twice-per-24h limit.
    mode_switch_calls_ns: Vec<u64>,
    /// When the stream last entered On-demand Advantage (the commitment's start).
    advantage_since_ns: Option<u64>,
    /// AWS's splitting of on-demand streams.
    on_demand: OnDemandController,
    /// A scaling_utils monitor's memory, when that is the policy.
    scaling_utils: Option<policies::ScalingUtilsRun>,
    /// The program of an external policy.
    external: Option<&'a mut dyn ExternalDecider>,
    /// Why the run stopped early (an external policy failed, or a stop was requested).
    fatal: Option<RunFailure>,
    /// What the stream uses, billed per hour.
    cost_meter: billing::CostMeter,
    /// Record mode's write path (`fidelity = "record"`); `None` in stepped mode.
    records: Option<record::RecordPlane>,
    /// Quiet shards advanced a window at a time (`coast.rs`).
    coasting: coast::Coasting,
    /// Data steps run so far (a window flushed at an event ends there).
    steps_done: u64,
}

/// A reshard AWS accepted; it takes effect `stream.reshard_duration` after the call.
/// The topology cannot change in between (only one reshard runs at a time), so the
/// shard slots it names stay valid.
#[derive(Clone, Debug, PartialEq)]
enum Reshard {
    Split {
        parent: usize,
        key: u128,
    },
    Merge {
        low: usize,
        high: usize,
    },
    UpdateShardCount {
        target: u32,
    },
    /// UpdateStreamMode (no shard changes; the stream is `UPDATING` meanwhile).
    SwitchMode {
        to: CapacityMode,
    },
}

impl Process for Simulation<'_> {
    type Event = Event;

    fn handle(&mut self, now: SimTime, _phase: Phase, event: Event, queue: &mut EventQueue<Event>) {
        if !matches!(event, Event::Step(_)) {
            // Whatever reads or changes shard state sees every window flushed first.
            if self.coasting.any() {
                self.coast_flush_all(self.steps_done);
            }
            self.coast_settle_latencies();
        }
        match event {
            Event::Step(index) => {
                if kinesim_sim::interrupt::requested() {
                    self.fatal = Some(RunFailure::Interrupted);
                    queue.cancel_all();
                    return;
                }
                self.step(index);
                let next = SimTime::from_nanos((index + 1) * self.step_ns);
                if next < SimTime::ZERO + self.spec.duration {
                    queue.schedule(next, phase::DATA, Event::Step(index + 1));
                }
            }
            Event::CloseStreamPeriod => {
                self.close_stream_period(now);
                self.reschedule(queue, now, self.spec.metrics_period, event);
            }
            Event::CloseShardPeriod => {
                self.close_shard_period(now);
                self.reschedule(queue, now, self.spec.output.shards_period.expect("scheduled only when on"), event);
            }
            Event::CloseConsumerPeriod => {
                self.close_consumer_period(now);
                self.reschedule(queue, now, self.spec.output.consumers_period.expect("scheduled only when on"), event);
            }
            Event::Action(index) => self.act(index, now, queue),
            Event::PolicyMinute => {
                self.policy_minute(now, queue);
                let next = now + SimDuration::from_secs(60);
                // A decision at the run's end could not act on anything.
                if next < SimTime::ZERO + self.spec.duration {
                    queue.schedule(next, phase::POLICY, Event::PolicyMinute);
                }
            }
            Event::ReshardComplete => {
                let (reshard, at) = self.reshard_pending.take().expect("a reshard completes only once");
                debug_assert_eq!(at, now);
                self.complete_reshard(reshard, now);
                self.policy_reshard_done(now, queue);
            }
            Event::PolicyCheck => self.scaling_utils_check(now, queue),
            Event::CloseCostHour => self.close_cost_hour(now, queue),
            Event::OnDemandEvaluate => {
                self.evaluate_on_demand(now);
                let next = now + self.spec.stream.on_demand.evaluation_period;
                if next < SimTime::ZERO + self.spec.duration {
                    queue.schedule(next, phase::CONTROL, Event::OnDemandEvaluate);
                }
            }
            Event::WarmThroughputReady { mibps } => {
                self.on_demand.set_warm_mibps(mibps);
                self.recorder.event(&EventRow {
                    time_s: now.as_secs_f64(),
                    kind: "warm_throughput_ready".into(),
                    subject: "stream".into(),
                    detail: format!("{mibps} MiB/s; the controller splits up to {mibps} open shards"),
                });
                self.evaluate_on_demand(now);
            }
            Event::WorkerFailure { consumer, failure } => self.fail_worker(consumer, failure, now),
            Event::WorkerJoin { consumer } => {
                if let Some((worker, taker_ns)) = self.consumers[consumer].join_worker(now.as_nanos()) {
                    self.log_kcl(consumer, now, "kcl_worker_joined", format!("worker {worker} starts"));
                    queue.schedule(
                        SimTime::from_nanos(taker_ns),
                        phase::CONTROL,
                        Event::LeaseTaker { consumer, worker },
                    );
                }
            }
            Event::LeaseTaker { consumer, worker } => {
                let reader = &mut self.consumers[consumer];
                let (takeovers, more) = reader.steal_leases(worker, now.as_nanos(), &self.shards.logs);
                self.stream_period.expired_unread_records += reader.take_expired_at_drop();
                let interval = reader.taker_interval_ns().expect("taker runs are KCL events");
                for takeover in takeovers {
                    let detail = format!(
                        "{} stolen by worker {worker}, from checkpoint {}",
                        self.shards.ids[takeover.shard_slot], takeover.checkpoint
                    );
                    self.log_kcl(consumer, now, "kcl_lease_stolen", detail);
                }
                let next = now + SimDuration::from_nanos(interval);
                if more && next < SimTime::ZERO + self.spec.duration {
                    queue.schedule(next, phase::CONTROL, Event::LeaseTaker { consumer, worker });
                }
            }
        }
    }
}

impl<'a> Simulation<'a> {
    fn new(
        spec: &'a ExperimentSpec,
        recorder: &'a mut dyn Recorder,
        external: Option<&'a mut dyn ExternalDecider>,
    ) -> Simulation<'a> {
        assert!(NANOS_PER_SEC.is_multiple_of(spec.step.as_nanos()), "the step divides one second");
        let seed = SeedKey::from_master(spec.seed);
        let admission = WriteAdmission::new(&spec.stream.write_limit);
        let mut simulation = Simulation {
            spec,
            recorder,
            seed,
            step_ns: spec.step.as_nanos(),
            admission,
            shards: Shards {
                ids: Vec::new(),
                ranges: Vec::new(),
                allowances: Vec::new(),
                logs: Vec::new(),
                budgets: Vec::new(),
                demand: Vec::new(),
                stored: Vec::new(),
                second: Vec::new(),
                period: Vec::new(),
                throttled_total: Vec::new(),
                open: Vec::new(),
                opened_ns: Vec::new(),
                closed_ns: Vec::new(),
                parents: Vec::new(),
                since_evaluation: Vec::new(),
            },
            producers: spec.producers.iter().map(|p| Producer::new(p, &seed, spec.step, &spec.stream)).collect(),
            consumers: spec
                .consumers
                .iter()
                .map(|c| {
                    let latency_per_shard = spec.output.consumers_period.is_some();
                    ShardReader::new(c, &seed, spec.step, spec.stream.propagation_delay, latency_per_shard)
                })
                .collect(),
            arrivals: Vec::new(),
            stream_period: StreamPeriod::default(),
            stream_period_start: SimTime::ZERO,
            shard_period_start: SimTime::ZERO,
            consumer_period_start: SimTime::ZERO,
            incoming_bytes_total: 0,
            incoming_records_total: 0,
            shard_steps: 0,
            reshard_operations: 0,
            shards_open_max: spec.stream.shards,
            update_calls_ns: Vec::new(),
            retention: spec.stream.retention,
            reshard_pending: None,
            policy_minutes: VecDeque::new(),
            policy_totals_at_minute: MinuteDatapoint::default(),
            api_totals: MinuteDatapoint::default(),
            policy_last_out: None,
            policy_last_in_s: None,
            mode: spec.stream.mode,
            mode_switch_calls_ns: Vec::new(),
            advantage_since_ns: (spec.stream.mode == CapacityMode::OnDemandAdvantage).then_some(0),
            on_demand: OnDemandController::new(&spec.stream.on_demand),
            scaling_utils: matches!(spec.policy, Some(PolicySpec::ScalingUtils(_)))
                .then(|| policies::ScalingUtilsRun::new(spec.stream.shards)),
            external,
            fatal: None,
            cost_meter: billing::CostMeter::new(spec),
            records: (spec.fidelity == Fidelity::Record).then(|| record::RecordPlane::new(spec, &seed)),
            coasting: coast::Coasting::new(spec, &seed),
            steps_done: 0,
        };
        let coasting_allowed = coast::Coasting::allowed_for(&simulation);
        let sizes_fixed = simulation.producers.iter().all(Producer::sizes_fixed);
        simulation.coasting.allow(coasting_allowed, sizes_fixed);
        for range in initial_ranges(spec.stream.shards) {
            simulation.open_shard(range, SimTime::ZERO);
        }
        for producer in &mut simulation.producers {
            producer.project(&simulation.shards.ranges, &simulation.shards.open);
        }
        simulation.set_lane_weights();
        simulation.tell_processors_retention();
        simulation
    }

    fn open_shard(&mut self, range: HashRange, now: SimTime) {
        let shards = &mut self.shards;
        let slot = shards.ids.len();
        shards.ids.push(ShardId(slot as u32));
        shards.ranges.push(range);
        shards.allowances.push(self.admission.fresh(now.as_nanos()));
        let delay_ns = self.spec.stream.propagation_delay.as_nanos();
        shards.logs.push(match self.spec.fidelity {
            Fidelity::Stepped => ShardLog::new(delay_ns),
            Fidelity::Record => {
                ShardLog::with_blocks(delay_ns, record::RECORD_FINE_BLOCKS, record::RECORD_COARSE_SPAN_NS)
            }
        });
        shards.budgets.push(ReadBudget::new(&self.spec.stream.read_limit, now.as_nanos()));
        shards.demand.push(ShardDemand::default());
        shards.stored.push(StepStore::default());
        shards.second.push(SecondCounters::default());
        shards.period.push(ShardPeriod::default());
        shards.throttled_total.push(0);
        shards.open.push(true);
        shards.opened_ns.push(now.as_nanos());
        shards.closed_ns.push(u64::MAX);
        shards.parents.push(Vec::new());
        shards.since_evaluation.push((0, 0));
        self.coasting.shard_opened(slot);
        // Every change to the open shards opens one (a reshard closes its parents first).
        if let Some(plane) = &mut self.records {
            plane.shards_changed();
        }
        self.cost_meter.shard_opened(self.mode);
        for consumer in &mut self.consumers {
            consumer.attach(slot, &shards.logs[slot], now.as_nanos(), &self.seed);
        }
    }

    fn schedule_initial(&mut self, queue: &mut EventQueue<Event>) {
        let spec = self.spec;
        self.recorder.event(&EventRow {
            time_s: 0.0,
            kind: "run_started".into(),
            subject: "stream".into(),
            detail: format!("seed={} shards={} mode={}", spec.seed, spec.stream.shards, spec.stream.mode.name()),
        });
        queue.schedule(SimTime::ZERO, phase::DATA, Event::Step(0));
        if spec.policy.is_some() && spec.duration > SimDuration::from_secs(60) {
            queue.schedule(SimTime::ZERO + SimDuration::from_secs(60), phase::POLICY, Event::PolicyMinute);
        }
        if let Some(PolicySpec::ScalingUtils(policy)) = &spec.policy {
            let first = SimTime::ZERO + SimDuration::from_secs(policy.check_interval_s);
            if first < SimTime::ZERO + spec.duration {
                queue.schedule(first, phase::POLICY, Event::PolicyCheck);
            }
        }
        for (index, action) in spec.actions.iter().enumerate() {
            queue.schedule(SimTime::ZERO + action.at, phase::CONTROL, Event::Action(index));
        }
        let may_be_on_demand = spec.stream.mode.is_on_demand()
            || spec.actions.iter().any(|a| matches!(a.kind, ActionKind::SetMode { .. }));
        let first_evaluation = SimTime::ZERO + spec.stream.on_demand.evaluation_period;
        if may_be_on_demand && first_evaluation < SimTime::ZERO + spec.duration {
            queue.schedule(first_evaluation, phase::CONTROL, Event::OnDemandEvaluate);
        }
        for (consumer, consumer_spec) in spec.consumers.iter().enumerate() {
            let failures = consumer_spec.kcl.as_ref().map_or(&[][..], |kcl| &kcl.failures[..]);
            for (failure, (at, _)) in failures.iter().enumerate() {
                if *at < spec.duration {
                    queue.schedule(SimTime::ZERO + *at, phase::CONTROL, Event::WorkerFailure { consumer, failure });
                }
            }
            let joins = consumer_spec.kcl.as_ref().map_or(&[][..], |kcl| &kcl.joins[..]);
            for at in joins.iter().filter(|at| **at < spec.duration) {
                queue.schedule(SimTime::ZERO + *at, phase::CONTROL, Event::WorkerJoin { consumer });
            }
        }
        // A period longer than the run closes at the run's end, like the last period.
        let first_close = |period: SimDuration| SimTime::ZERO + period.min(spec.duration);
        queue.schedule(first_close(spec.metrics_period), phase::METRICS, Event::CloseStreamPeriod);
        queue.schedule(first_close(SimDuration::from_secs(3600)), phase::METRICS, Event::CloseCostHour);
        if let Some(period) = spec.output.shards_period {
            queue.schedule(first_close(period), phase::METRICS, Event::CloseShardPeriod);
        }
        if let Some(period) = spec.output.consumers_period {
            queue.schedule(first_close(period), phase::METRICS, Event::CloseConsumerPeriod);
        }
    }

    fn shards_open(&self) -> usize {
        self.shards.open.iter().filter(|&&open| open).count()
    }

    /// Carries out a scheduled action; an action AWS would refuse is logged as rejected.
    fn act(&mut self, index: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let kind = self.spec.actions[index].kind.clone();
        let (name, subject, outcome) = match &kind {
            ActionKind::SplitShard { shard, at_key } => {
                let outcome = self.request_reshard(now, queue, |sim| sim.plan_split(*shard, at_key));
                ("split_shard", shard.to_string(), outcome)
            }
            ActionKind::MergeShards { shard, adjacent } => {
                let outcome = self.request_reshard(now, queue, |sim| sim.plan_merge(*shard, *adjacent));
                ("merge_shards", shard.to_string(), outcome)
            }
            ActionKind::UpdateShardCount { target } => {
                let outcome = self.request_reshard(now, queue, |sim| sim.plan_update_shard_count(*target, now));
                ("update_shard_count", "stream".to_string(), outcome)
            }
            ActionKind::ProducerOutage { producer, length, catch_up_rate } => {
                let until = now + *length;
                if let Some(p) = self.producers.iter_mut().find(|p| &p.name == producer) {
                    p.start_outage(until.as_nanos(), *catch_up_rate);
                }
                self.recorder.event(&EventRow {
                    time_s: now.as_secs_f64(),
                    kind: "producer_outage".into(),
                    subject: producer.clone(),
                    detail: format!(
                        "down for {}, then catching up at {catch_up_rate} records/s",
                        format_duration(*length)
                    ),
                });
                ("producer_outage", producer.clone(), Ok(()))
            }
            ActionKind::SetMode { mode } => {
                let outcome = self.request_reshard(now, queue, |sim| sim.plan_mode_switch(*mode, now));
                ("set_mode", "stream".to_string(), outcome)
            }
            ActionKind::WarmThroughput { mibps } => {
                let outcome = self.request_warm_throughput(*mibps, now, queue);
                ("warm_throughput", "stream".to_string(), outcome)
            }
            ActionKind::SetRetention { retention } => {
                let detail = format!("{} to {}", format_duration(self.retention), format_duration(*retention));
                self.retention = *retention;
                self.tell_processors_retention();
                self.recorder.event(&EventRow {
                    time_s: now.as_secs_f64(),
                    kind: "set_retention".into(),
                    subject: "stream".into(),
                    detail,
                });
                ("set_retention", "stream".to_string(), Ok(()))
            }
        };
        if let Err(reason) = outcome {
            self.log_rejected(now, name, subject, reason);
        }
    }

    /// A reshard call: refused while another is in progress, else planned by `plan`
    /// (which checks AWS's rules) and begun.
    fn request_reshard(
        &mut self,
        now: SimTime,
        queue: &mut EventQueue<Event>,
        plan: impl FnOnce(&mut Self) -> Result<Reshard, String>,
    ) -> Result<(), String> {
        self.check_not_updating()?;
        let reshard = plan(self)?;
        self.begin_reshard(reshard, now, queue);
        Ok(())
    }

    /// Processors whose waiting records expire with the stream's retention follow it.
    fn tell_processors_retention(&mut self) {
        for consumer in &mut self.consumers {
            if let Some(processor) = consumer.processor_mut() {
                processor.set_retention(self.retention);
            }
        }
    }

    fn log_rejected(&mut self, now: SimTime, call: &str, subject: String, reason: String) {
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: format!("{call}_rejected"),
            subject,
            detail: reason,
        });
    }

    fn is_open(&self, shard: ShardId) -> bool {
        self.shards.open.get(shard.0 as usize).copied().unwrap_or(false)
    }

    /// While a reshard is in progress the stream is `UPDATING` and AWS refuses another
    /// (ResourceInUseException, §6.1).
    fn check_not_updating(&self) -> Result<(), String> {
        match &self.reshard_pending {
            Some((_, at)) => Err(format!(
                "the stream is UPDATING until {} s, when the reshard in progress completes (ResourceInUseException)",
                at.as_secs_f64()
            )),
            None => Ok(()),
        }
    }

    /// Accepts a reshard: it takes effect after `stream.reshard_duration` (at once when
    /// that is zero), and the stream is `UPDATING` until then. The data plane moves in
    /// whole steps, so a reshard that would complete between two step starts (an action
    /// at `100ms` with 1 s steps) completes at the next step start: the step in progress
    /// has already written and read its shards.
    fn begin_reshard(&mut self, reshard: Reshard, now: SimTime, queue: &mut EventQueue<Event>) {
        let at = self.step_start_at_or_after(now + self.spec.stream.reshard_duration);
        if at == now {
            self.complete_reshard(reshard, now);
            return;
        }
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: "reshard_started".into(),
            subject: "stream".into(),
            detail: format!("{}; the stream is UPDATING until {} s", self.describe(&reshard), at.as_secs_f64()),
        });
        self.reshard_pending = Some((reshard, at));
        queue.schedule(at, phase::CONTROL, Event::ReshardComplete);
    }

    /// The first data step start at or after `time`.
    fn step_start_at_or_after(&self, time: SimTime) -> SimTime {
        let steps = time.as_nanos().div_ceil(self.step_ns);
        SimTime::from_nanos(steps * self.step_ns)
    }

    fn describe(&self, reshard: &Reshard) -> String {
        match reshard {
            Reshard::Split { parent, key } => format!("split {} at hash key {key}", self.shards.ids[*parent]),
            Reshard::Merge { low, high } => format!("merge {} and {}", self.shards.ids[*low], self.shards.ids[*high]),
            Reshard::UpdateShardCount { target } => format!("update shard count to {target}"),
            Reshard::SwitchMode { to } => format!("switch from {} to {} mode", self.mode.name(), to.name()),
        }
    }

    fn complete_reshard(&mut self, reshard: Reshard, now: SimTime) {
        match reshard {
            Reshard::Split { parent, key } => self.split_shard(parent, key, now),
            Reshard::Merge { low, high } => self.merge_shards(low, high, now),
            Reshard::UpdateShardCount { target } => self.update_shard_count(target, now),
            Reshard::SwitchMode { to } => self.switch_mode(to, now),
        }
    }

    /// SplitShard, MergeShards and UpdateShardCount are for provisioned streams; AWS
    /// manages an on-demand stream's shards itself (§7.1).
    fn check_provisioned(&self) -> Result<(), String> {
        match self.mode {
            CapacityMode::Provisioned => Ok(()),
            mode => Err(format!(
                "the stream is in {} mode, where AWS manages the shards (ValidationException)",
                mode.name()
            )),
        }
    }

    /// UpdateStreamMode: at most twice per rolling 24 h (§7.1).
    fn plan_mode_switch(&mut self, to: CapacityMode, now: SimTime) -> Result<Reshard, String> {
        if to == self.mode {
            return Err(format!("the stream is already in {} mode", to.name()));
        }
        const DAY_NS: u64 = 24 * 3600 * NANOS_PER_SEC;
        // The commitment behind On-demand Advantage lasts at least 24 h; disabling it
        // earlier is deferred to EarliestAllowedEndAt (§7.2), so the switch is refused
        // until then.
        if let Some(since_ns) = self.advantage_since_ns.filter(|since_ns| since_ns + DAY_NS > now.as_nanos()) {
            return Err(format!(
                "the On-demand Advantage commitment lasts at least 24 h: it can end at {} s (EarliestAllowedEndAt)",
                (since_ns + DAY_NS) / NANOS_PER_SEC
            ));
        }
        self.mode_switch_calls_ns.retain(|&at| at + DAY_NS > now.as_nanos());
        if self.mode_switch_calls_ns.len() >= MODE_SWITCHES_PER_DAY {
            return Err(format!(
                "already {MODE_SWITCHES_PER_DAY} mode switches in the last 24 h (LimitExceededException)"
            ));
        }
        self.mode_switch_calls_ns.push(now.as_nanos());
        Ok(Reshard::SwitchMode { to })
    }

    fn switch_mode(&mut self, to: CapacityMode, now: SimTime) {
        let from = self.mode;
        self.mode = to;
        self.advantage_since_ns = (to == CapacityMode::OnDemandAdvantage).then_some(now.as_nanos());
        self.on_demand.reset();
        self.reset_evaluation_window();
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: "mode_switched".into(),
            subject: "stream".into(),
            detail: format!("{} to {} with {} open shards", from.name(), to.name(), self.shards_open()),
        });
    }

    /// UpdateStreamWarmThroughput: only for On-demand Advantage; takes effect after
    /// `stream.on_demand.warm_duration` (§7.2).
    fn request_warm_throughput(
        &mut self,
        mibps: u32,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) -> Result<(), String> {
        if self.mode != CapacityMode::OnDemandAdvantage {
            return Err(format!(
                "warm throughput needs on_demand_advantage mode (MinimumThroughputBillingCommitment); the stream is {}",
                self.mode.name()
            ));
        }
        let ready = now + self.spec.stream.on_demand.warm_duration;
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: "warm_throughput_requested".into(),
            subject: "stream".into(),
            detail: format!("{} to {mibps} MiB/s, ready at {} s", self.on_demand.warm_mibps(), ready.as_secs_f64()),
        });
        if ready < SimTime::ZERO + self.spec.duration {
            queue.schedule(ready, phase::CONTROL, Event::WarmThroughputReady { mibps });
        }
        Ok(())
    }

    fn reset_evaluation_window(&mut self) {
        self.shards.since_evaluation.iter_mut().for_each(|w| *w = (0, 0));
    }

    /// The on-demand controller measures each open shard's traffic since its last
    /// evaluation and splits or merges (service-side: no UPDATING, no call limits).
    fn evaluate_on_demand(&mut self, now: SimTime) {
        if !self.mode.is_on_demand() {
            self.reset_evaluation_window();
            return;
        }
        let mut open: Vec<ShardTraffic> = (0..self.shards.ids.len())
            .filter(|&slot| self.shards.open[slot])
            .map(|slot| ShardTraffic {
                slot,
                range: self.shards.ranges[slot],
                incoming_records: self.shards.since_evaluation[slot].0,
                incoming_bytes: self.shards.since_evaluation[slot].1,
            })
            .collect();
        open.sort_by_key(|t| t.range.start);
        self.reset_evaluation_window();
        let spec = &self.spec.stream.on_demand;
        let changes = self.on_demand.evaluate(
            spec,
            &open,
            now.as_nanos(),
            spec.evaluation_period.as_nanos(),
            self.shards.ids.len(),
        );
        for change in changes {
            match change {
                Change::Split { slot, key } => self.split_shard(slot, key, now),
                Change::Merge { low, high } => self.merge_shards(low, high, now),
            }
        }
    }

    fn plan_split(&self, shard: ShardId, at_key: &SplitAt) -> Result<Reshard, String> {
        self.check_provisioned()?;
        if !self.is_open(shard) {
            return Err("the shard is not open".into());
        }
        let slot = shard.0 as usize;
        let range = self.shards.ranges[slot];
        let key = match at_key {
            SplitAt::Midpoint => Some(range.start / 2 + range.end / 2 + (range.start % 2 + range.end % 2) / 2),
            SplitAt::Key(key) => Some(*key),
            SplitAt::Balanced => self.balanced_split(range),
        };
        match key {
            Some(key) if range.start.saturating_add(1) < key && key < range.end => {
                Ok(Reshard::Split { parent: slot, key })
            }
            Some(key) => Err(format!("hash key {key} is not strictly inside {}..{}", range.start, range.end)),
            None => Err("no load to balance: the shard has fewer than two keys".into()),
        }
    }

    /// MergeShards: both open and adjacent (reference §6.1).
    fn plan_merge(&self, shard: ShardId, adjacent: ShardId) -> Result<Reshard, String> {
        self.check_provisioned()?;
        if !self.is_open(shard) || !self.is_open(adjacent) || shard == adjacent {
            return Err(format!("{shard} and {adjacent} must be two open shards"));
        }
        let (a, b) = (self.shards.ranges[shard.0 as usize], self.shards.ranges[adjacent.0 as usize]);
        let (low, high) = if a.start < b.start { (shard, adjacent) } else { (adjacent, shard) };
        let (low_range, high_range) = (self.shards.ranges[low.0 as usize], self.shards.ranges[high.0 as usize]);
        if low_range.end.checked_add(1) != Some(high_range.start) {
            return Err(format!("{shard} and {adjacent} are not adjacent"));
        }
        Ok(Reshard::Merge { low: low.0 as usize, high: high.0 as usize })
    }

    fn merge_shards(&mut self, low: usize, high: usize, now: SimTime) {
        let (low_range, high_range) = (self.shards.ranges[low], self.shards.ranges[high]);
        let (low, high) = (self.shards.ids[low], self.shards.ids[high]);
        let parents = vec![low.0 as usize, high.0 as usize];
        let child = self.reshape(&parents, &[HashRange { start: low_range.start, end: high_range.end }], now);
        self.log_reshard(now, "merge_shards", low, format!("{low} and {high} into {}", self.shards.ids[child[0]]));
    }

    /// UpdateShardCount with uniform scaling: the open shards close and `target` even
    /// ranges open, within AWS's limits (reference §6.2).
    fn plan_update_shard_count(&mut self, target: u32, now: SimTime) -> Result<Reshard, String> {
        self.check_provisioned()?;
        let open = self.shards_open() as u32;
        if target > 2 * open || 2 * target < open {
            return Err(format!("{target} shards is more than double or less than half of {open}"));
        }
        if target > 10_000 {
            return Err(format!("{target} shards is more than UpdateShardCount reaches (10000)"));
        }
        // Calls in the rolling 24 h before now.
        const DAY_NS: u64 = 24 * 3600 * NANOS_PER_SEC;
        self.update_calls_ns.retain(|&at| at + DAY_NS > now.as_nanos());
        if self.update_calls_ns.len() >= UPDATE_SHARD_COUNT_PER_DAY {
            return Err(format!("already {UPDATE_SHARD_COUNT_PER_DAY} calls in the last 24 h"));
        }
        self.update_calls_ns.push(now.as_nanos());
        Ok(Reshard::UpdateShardCount { target })
    }

    fn update_shard_count(&mut self, target: u32, now: SimTime) {
        let open = self.shards_open() as u32;
        let parents: Vec<usize> = (0..self.shards.ids.len()).filter(|&s| self.shards.open[s]).collect();
        let children = self.reshape(&parents, &initial_ranges(target), now);
        self.log_reshard(
            now,
            "update_shard_count",
            ShardId(0),
            format!(
                "{open} to {target} shards, {} to {}",
                self.shards.ids[children[0]],
                self.shards.ids[*children.last().expect("at least one child")]
            ),
        );
    }

    /// Closes `parents` and opens a child per range; each child's parents are those whose
    /// ranges overlap it, and waiting records follow the hash ranges. Returns the children.
    fn reshape(&mut self, parents: &[usize], ranges: &[HashRange], now: SimTime) -> Vec<usize> {
        for &parent in parents {
            self.shards.open[parent] = false;
            self.shards.closed_ns[parent] = now.as_nanos();
        }
        let first = self.shards.ids.len();
        for range in ranges {
            self.open_shard(*range, now);
        }
        assert!(
            tiles_hash_space(
                self.shards.ranges.iter().zip(&self.shards.open).filter(|(_, &open)| open).map(|(r, _)| *r)
            ),
            "the open shards' hash ranges cover 0..2^128-1 without gap or overlap"
        );
        let children: Vec<usize> = (first..self.shards.ids.len()).collect();
        let overlaps = |a: HashRange, b: HashRange| a.start <= b.end && b.start <= a.end;
        for &child in &children {
            let range = self.shards.ranges[child];
            self.shards.parents[child] =
                parents.iter().copied().filter(|&p| overlaps(self.shards.ranges[p], range)).collect();
        }
        for producer in &mut self.producers {
            producer.project(&self.shards.ranges, &self.shards.open);
        }
        self.coasting.shards_changed();
        for &parent in parents {
            let targets: Vec<u32> = children
                .iter()
                .copied()
                .filter(|&c| overlaps(self.shards.ranges[parent], self.shards.ranges[c]))
                .map(|c| c as u32)
                .collect();
            for producer in &mut self.producers {
                producer.reroute(parent as u32, &targets);
            }
        }
        self.set_lane_weights();
        self.reshard_operations += 1;
        self.shards_open_max = self.shards_open_max.max(self.shards_open() as u32);
        children
    }

    fn log_reshard(&mut self, now: SimTime, kind: &str, subject: ShardId, detail: String) {
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: kind.into(),
            subject: subject.to_string(),
            detail,
        });
    }

    /// Divides each shard's records over the lanes of consumers with several (Lambda's
    /// parallelization factor) by partition key, as Lambda keeps per-key order: a key's
    /// records all go to one lane, so a hot key loads one lane.
    fn set_lane_weights(&mut self) {
        // Shard loads for KCL 3.x lease balancing: offered records per second per shard.
        for slot in 0..self.shards.ids.len() {
            let load: f64 = self.producers.iter().map(|p| p.offered_expected_rate() * p.shares()[slot]).sum();
            for consumer in &mut self.consumers {
                consumer.set_shard_load(slot, load);
            }
        }
        let mut points = Vec::new();
        for consumer in &mut self.consumers {
            let Some(processor) = consumer.processor_mut() else { continue };
            let lanes = processor.lanes() as usize;
            if lanes == 1 {
                continue;
            }
            for (slot, range) in self.shards.ranges.iter().enumerate() {
                let mut weights = vec![0.0; lanes];
                for producer in &self.producers {
                    points.clear();
                    producer.keys().weighted_points(*range, &mut points);
                    let rate = producer.offered_expected_rate();
                    for (hash, weight) in &points {
                        weights[(hash % lanes as u128) as usize] += weight * rate;
                    }
                }
                processor.set_weights(slot, &weights);
            }
        }
    }

    fn log_kcl(&mut self, consumer: usize, now: SimTime, kind: &str, detail: String) {
        let subject = self.consumers[consumer].name.clone();
        self.recorder.event(&EventRow { time_s: now.as_secs_f64(), kind: kind.into(), subject, detail });
    }

    /// A KCL worker dies; its leases move to the survivors (logged per lease).
    fn fail_worker(&mut self, consumer: usize, failure: usize, now: SimTime) {
        let kcl = self.spec.consumers[consumer].kcl.as_ref().expect("failures are scheduled for KCL consumers");
        let (_, worker) = kcl.failures[failure];
        let reader = &mut self.consumers[consumer];
        let takeovers = reader.fail_worker(worker, now.as_nanos(), &self.shards.logs);
        self.stream_period.expired_unread_records += reader.take_expired_at_drop();
        let name = reader.name.clone();
        let moves: Vec<String> = takeovers
            .iter()
            .map(|t| {
                let taken_s = t.taken_ns as f64 / NANOS_PER_SEC as f64;
                format!(
                    "{} to worker {} at {taken_s}s from checkpoint {}",
                    self.shards.ids[t.shard_slot], t.worker, t.checkpoint
                )
            })
            .collect();
        self.recorder.event(&EventRow {
            time_s: now.as_secs_f64(),
            kind: "kcl_worker_failed".into(),
            subject: name,
            detail: format!("worker {worker} stops; leases: {}", moves.join("; ")),
        });
    }

    /// The hash key that best halves a range's offered load at this moment.
    fn balanced_split(&self, range: HashRange) -> Option<u128> {
        let mut points = Vec::new();
        for producer in &self.producers {
            let first = points.len();
            producer.keys().weighted_points(range, &mut points);
            let rate = producer.offered_expected.max(1.0);
            for point in &mut points[first..] {
                point.1 *= rate;
            }
        }
        points.sort_by_key(|point| point.0);
        crate::keys::split_hash_key(range, &points)
    }

    /// SplitShard: the parent closes, two children open with the next shard ids.
    fn split_shard(&mut self, parent: usize, key: u128, now: SimTime) {
        let range = self.shards.ranges[parent];
        let halves = [HashRange { start: range.start, end: key - 1 }, HashRange { start: key, end: range.end }];
        let children = self.reshape(&[parent], &halves, now);
        let detail =
            format!("at hash key {key} into {} and {}", self.shards.ids[children[0]], self.shards.ids[children[1]]);
        self.log_reshard(now, "split_shard", self.shards.ids[parent], detail);
    }

    /// Schedules a period's next close; the last period may be shorter than the others
    /// and closes at the run's end.
    fn reschedule(&self, queue: &mut EventQueue<Event>, now: SimTime, period: SimDuration, event: Event) {
        let end = SimTime::ZERO + self.spec.duration;
        if now >= end {
            return;
        }
        let next = now + period;
        queue.schedule(if next > end { end } else { next }, phase::METRICS, event);
    }

    /// One data step: `[index * step, (index + 1) * step)`.
    fn step(&mut self, index: u64) {
        let t0 = SimTime::from_nanos(index * self.step_ns);
        let t1 = SimTime::from_nanos((index + 1) * self.step_ns);
        self.coast_step_begin(index, t0, t1);
        self.expire(t0);
        self.write(index, t0, t1);
        self.read(index, t0, t1);
        if t1.as_nanos().is_multiple_of(NANOS_PER_SEC) {
            self.close_second();
        }
        let open_shards = self.shards_open() as u64;
        self.shard_steps += open_shards;
        self.meter_step(t0, open_shards);
        self.steps_done = index + 1;
        self.coast_step_end(index);
    }

    /// Drops what has passed retention (counting it against readers still behind it)
    /// and what every reader has already read.
    /// Coasting shards are trimmed when their windows are flushed.
    fn expire(&mut self, t0: SimTime) {
        for index in 0..self.coasting.stepping.len() {
            self.expire_shard(self.coasting.stepping[index], t0);
        }
    }

    fn expire_shard(&mut self, slot: usize, t0: SimTime) {
        let expire_through = t0.as_nanos().checked_sub(self.retention.as_nanos());
        let offset_needed =
            self.consumers.iter().map(|c| c.offset_needed(slot, t0.as_nanos())).min().unwrap_or(u64::MAX);
        let offset_expired = self.shards.logs[slot].trim(expire_through, offset_needed);
        for consumer in &mut self.consumers {
            self.stream_period.expired_unread_records += consumer.expire_below(slot, offset_expired);
        }
    }

    fn write(&mut self, index: u64, t0: SimTime, t1: SimTime) {
        if self.records.is_some() {
            self.write_records(index, t0, t1);
            return;
        }
        self.arrivals.clear();
        for (slot, producer) in self.producers.iter_mut().enumerate() {
            producer.begin_step(index);
            let coast_sent = self.coasting.sent[slot];
            let (start_unix_s, slots) = (self.spec.start_unix_s, &self.coasting.to_emit[..]);
            producer.emit(slot as u32, index, (t0, t1), start_unix_s, slots, coast_sent, &mut self.arrivals);
        }
        self.arrivals.append(&mut self.coasting.spilled);
        let shards = &mut self.shards;
        for demand in &mut shards.demand {
            demand.records = 0;
            demand.bytes = 0;
        }
        for arrival in &self.arrivals {
            let demand = &mut shards.demand[arrival.shard_slot as usize];
            demand.records += arrival.records;
            demand.bytes += arrival.bytes;
        }
        let stream_share = self.on_demand_write_share(t0, t1);
        for index in 0..self.coasting.stepping.len() {
            self.admit_shard(self.coasting.stepping[index], t0, t1, stream_share);
        }
        for arrival in &self.arrivals {
            let slot = arrival.shard_slot as usize;
            let demand = &mut self.shards.demand[slot];
            let accepted = apportion(&mut demand.accept_left, &mut demand.demand_left, arrival.records);
            let (filled_at_ns, arrival_mean_ns) = (demand.filled_at_ns, demand.arrival_mean_ns);
            let producer = &mut self.producers[arrival.producer_slot as usize];
            let accepted_user = producer.settle(arrival, accepted, arrival_mean_ns, filled_at_ns, index, self.step_ns);
            let accepted_bytes = scale(arrival.bytes, accepted, arrival.records);
            let billing = producer.billing_per_record(arrival.shard_slot);
            self.cost_meter.accepted_expected(self.mode, accepted, accepted_bytes, billing);
            self.api_totals.count_accepted(producer.sends_put_record(), accepted, accepted_bytes);
            let stored = &mut self.shards.stored[slot];
            stored.kinesis_records += accepted;
            stored.records += accepted_user;
            stored.bytes += accepted_bytes;
            stored.age_sum_ns +=
                u128::from(accepted_user) * u128::from(arrival_mean_ns.saturating_sub(arrival.created_ns));
        }
        for index in 0..self.coasting.stepping.len() {
            self.store_step(self.coasting.stepping[index], t0, t1);
        }
    }

    /// The share of every shard's demand an on-demand stream lets through this step: its
    /// write ceiling (`stream.on_demand.write_max_mibps`, facts §7.1) over the step,
    /// against what the shards could take (each shard's demand up to its own limits
    /// over the step: a hot shard's excess, refused by the shard anyway, does not
    /// squeeze the others), cut in proportion (how AWS throttles at the ceiling is not
    /// published). `None` for a provisioned stream or under the ceiling.
    fn on_demand_write_share(&self, t0: SimTime, t1: SimTime) -> Option<f64> {
        if !self.mode.is_on_demand() {
            return None;
        }
        let seconds = (t1 - t0).as_secs_f64();
        let ceiling_bytes = f64::from(self.spec.stream.on_demand.write_max_mibps) * crate::spec::MIB as f64 * seconds;
        let takeable_bytes: f64 = (0..self.shards.ids.len()).map(|slot| self.takeable(slot, seconds).1).sum();
        (takeable_bytes > ceiling_bytes).then(|| ceiling_bytes / takeable_bytes)
    }

    /// A shard's demand this step up to its own limits over `seconds` (records, bytes),
    /// in proportion.
    fn takeable(&self, slot: usize, seconds: f64) -> (f64, f64) {
        let demand = &self.shards.demand[slot];
        let limit = &self.spec.stream.write_limit;
        let (records, bytes) = (count_to_f64(demand.records), count_to_f64(demand.bytes));
        let by_records = if records > 0.0 { count_to_f64(limit.records_per_s) * seconds / records } else { 1.0 };
        let by_bytes = if bytes > 0.0 { count_to_f64(limit.bytes_per_s) * seconds / bytes } else { 1.0 };
        let fraction = by_records.min(by_bytes).min(1.0);
        (records * fraction, bytes * fraction)
    }

    /// Decides how much of a shard's demand this step fits its allowance (and, with
    /// `stream_share`, the on-demand stream's ceiling).
    fn admit_shard(&mut self, slot: usize, t0: SimTime, t1: SimTime, stream_share: Option<f64>) {
        let (records, bytes) = match stream_share {
            None => (self.shards.demand[slot].records, self.shards.demand[slot].bytes),
            Some(share) => {
                let (records, bytes) = self.takeable(slot, (t1 - t0).as_secs_f64());
                (f64_to_count(records * share), f64_to_count(bytes * share))
            }
        };
        let shards = &mut self.shards;
        let (allowance, demand) = (&mut shards.allowances[slot], &mut shards.demand[slot]);
        self.admission.refill(allowance, t0.as_nanos(), t1.as_nanos());
        let admitted = self.admission.admit(allowance, records, bytes, t0.as_nanos(), t1.as_nanos());
        demand.accept_left = admitted.records_accepted;
        demand.demand_left = demand.records;
        demand.filled_at_ns = admitted.filled_at_ns;
        // Admitted records arrived evenly over [t0, filled_at).
        demand.arrival_mean_ns = (t0.as_nanos() + admitted.filled_at_ns) / 2;
        let second = &mut shards.second[slot];
        second.attempted_records += demand.records;
        second.attempted_bytes += demand.bytes;
        second.accepted_records += admitted.records_accepted;
        second.accepted_bytes += admitted.bytes_accepted;
    }

    /// Counts what a shard stored (and `throttled` records it refused) into its period,
    /// the stream's period, the run's totals and the policy's evaluation window: for a
    /// step ([`Self::store_step`]) and for a coasting window alike.
    fn count_stored(&mut self, slot: usize, stored: &StepStore, throttled: u64) {
        let shards = &mut self.shards;
        let period = &mut shards.period[slot];
        period.incoming_records += stored.kinesis_records;
        period.incoming_bytes += stored.bytes;
        period.write_throttled_records += throttled;
        shards.throttled_total[slot] += throttled;
        self.stream_period.incoming_records += stored.kinesis_records;
        self.stream_period.incoming_user_records += stored.records;
        self.stream_period.write_throttled_records += throttled;
        self.stream_period.incoming_bytes += stored.bytes;
        self.incoming_records_total += stored.kinesis_records;
        self.incoming_bytes_total += stored.bytes;
        let window = &mut shards.since_evaluation[slot];
        window.0 += stored.kinesis_records;
        window.1 += stored.bytes;
    }

    /// Appends what a shard accepted this step to its log and counts it.
    fn store_step(&mut self, slot: usize, t0: SimTime, t1: SimTime) {
        let stored = std::mem::take(&mut self.shards.stored[slot]);
        let demand = &self.shards.demand[slot];
        debug_assert_eq!(demand.accept_left, 0, "apportioning hands out every admitted record");
        debug_assert_eq!(demand.demand_left, 0);
        let (throttled, filled_at_ns) = (demand.records - stored.kinesis_records, demand.filled_at_ns);
        self.count_stored(slot, &stored, throttled);
        if stored.records == 0 {
            return;
        }
        let arrival_last_ns = filled_at_ns.min(t1.as_nanos() - 1).max(t0.as_nanos());
        self.shards.logs[slot].append(
            stored.records,
            stored.kinesis_records,
            stored.bytes,
            t0.as_nanos(),
            arrival_last_ns,
            stored.age_mean_ns(),
        );
    }

    /// Serves every poll due in `[t0, t1)`, shard by shard, in the order the polls arrive.
    fn read(&mut self, index: u64, t0: SimTime, t1: SimTime) {
        for consumer in &mut self.consumers {
            consumer.begin_step(index);
            consumer.share_worker_capacity(&self.shards.parents, &self.shards.open, &self.shards.logs);
        }
        // Record mode's logs hold a block per record: its polls read them one by one.
        if self.records.is_some() {
            self.serve_record_polls(t0, t1);
        } else {
            self.serve_polls::<false>(t0, t1);
        }
    }

    /// Record mode's polls, kept out of line so that the stepped loop is compiled as if
    /// it were alone.
    #[inline(never)]
    fn serve_record_polls(&mut self, t0: SimTime, t1: SimTime) {
        self.serve_polls::<true>(t0, t1);
    }

    /// [`Self::read`]'s polls; `SINGLES`: the logs hold blocks of one record.
    fn serve_polls<const SINGLES: bool>(&mut self, t0: SimTime, t1: SimTime) {
        let polls_max = self.consumers.len() as u64 * (self.step_ns / 1_000_000 + 1);
        // Coasting shards' polls are served when their windows are flushed.
        for index in 0..self.coasting.stepping.len() {
            let slot = self.coasting.stepping[index];
            self.serve_shard_polls::<SINGLES>(slot, t0, t1, polls_max);
            for consumer in &mut self.consumers {
                consumer.process(slot, t1.as_nanos());
            }
            if !self.shards.open[slot] {
                self.end_drained_shard(slot);
            }
        }
        for consumer in &mut self.consumers {
            consumer.process_all(t1.as_nanos());
        }
    }

    /// Serves the polls of `slot` due in `[t0, t1)` (at most `polls_max`), in the order
    /// they arrive.
    fn serve_shard_polls<const SINGLES: bool>(&mut self, slot: usize, t0: SimTime, t1: SimTime, polls_max: u64) {
        let mut polls = 0;
        while let Some(consumer_slot) = self.next_poller(slot, t1.as_nanos(), |_| true) {
            if self.waits_for_parent(consumer_slot, slot) {
                // Per-key order: a KCL application reads a child only once its parent
                // is closed and read to its end (reference §6.1).
                self.consumers[consumer_slot].defer_poll(slot);
                continue;
            }
            let consumer = &mut self.consumers[consumer_slot];
            debug_assert!(consumer.next_poll_ns(slot) >= t0.as_nanos());
            let outcome = consumer.poll::<SINGLES>(
                slot,
                &self.shards.logs[slot],
                &mut self.shards.budgets[slot],
                &self.spec.stream.read_limit,
            );
            let get_records = consumer.uses_get_records();
            self.count_reads(slot, &outcome, u64::from(get_records), u64::from(outcome.throttled), !get_records);
            polls += 1;
            assert!(polls <= polls_max, "polls per shard per step are bounded by the poll interval");
        }
    }

    /// Counts reads of `slot` (for billing, the CloudWatch series and the period rows):
    /// `outcome` sums them, `get_records_calls` of them were GetRecords calls (none for
    /// fan-out), `throttled_calls` were refused.
    fn count_reads(
        &mut self,
        slot: usize,
        outcome: &PollOutcome,
        get_records_calls: u64,
        throttled_calls: u64,
        fan_out: bool,
    ) {
        self.cost_meter.read(self.mode, fan_out, outcome.bytes, outcome.bytes_past_week);
        if get_records_calls > 0 {
            let api = &mut self.api_totals;
            api.get_records_requests += get_records_calls;
            api.get_records_records += outcome.records;
            api.get_records_bytes += outcome.bytes;
            api.get_records_iterator_age_ms_max =
                api.get_records_iterator_age_ms_max.max(ceil_to_count(outcome.iterator_age_ms));
        }
        let period = &mut self.shards.period[slot];
        period.read_records += outcome.records;
        period.read_bytes += outcome.bytes;
        period.read_throttled_calls += throttled_calls;
        period.iterator_age_ms_max = period.iterator_age_ms_max.max(outcome.iterator_age_ms);
        let stream = &mut self.stream_period;
        stream.read_records += outcome.records;
        stream.read_bytes += outcome.bytes;
        stream.read_throttled_calls += throttled_calls;
        stream.iterator_age_ms_max = stream.iterator_age_ms_max.max(outcome.iterator_age_ms);
    }

    /// Raises `slot`'s and the stream's per-second peaks of the period.
    fn note_second_peaks(&mut self, slot: usize, utilisation: f64, demand: f64) {
        let period = &mut self.shards.period[slot];
        period.utilisation_peak = period.utilisation_peak.max(utilisation);
        period.demand_peak = period.demand_peak.max(demand);
        self.stream_period.utilisation_peak = self.stream_period.utilisation_peak.max(utilisation);
        self.stream_period.demand_peak = self.stream_period.demand_peak.max(demand);
    }

    /// A closed shard read and processed to its end is done for each consumer that has
    /// (once per step, after processing; kept out of the open shards' loop).
    #[cold]
    #[inline(never)]
    fn end_drained_shard(&mut self, slot: usize) {
        let end = self.shards.logs[slot].offset_end();
        for consumer in &mut self.consumers {
            if consumer.position(slot) >= end && consumer.unprocessed(slot) == 0 {
                consumer.end_shard(slot);
            }
        }
    }

    /// Whether an order-keeping consumer must wait before reading `slot`.
    fn waits_for_parent(&self, consumer_slot: usize, slot: usize) -> bool {
        let shards = &self.shards;
        self.consumers[consumer_slot].waits_for_parent(slot, &shards.parents, &shards.open, &shards.logs)
    }

    /// The consumer whose next poll of `slot` comes first before `t1_ns`, among those
    /// `eligible`; ties (rare, as phases are random) go to the lower consumer slot.
    fn next_poller(&self, slot: usize, t1_ns: u64, eligible: impl Fn(&ShardReader) -> bool) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (consumer_slot, consumer) in self.consumers.iter().enumerate() {
            let due = consumer.next_poll_ns(slot);
            if due < t1_ns && best.is_none_or(|(best_due, _)| due < best_due) && eligible(consumer) {
                best = Some((due, consumer_slot));
            }
        }
        best.map(|(_, consumer_slot)| consumer_slot)
    }

    /// Turns the second's write counters into peak utilisation and demand.
    fn close_second(&mut self) {
        let limit = &self.spec.stream.write_limit;
        let (records_limit, bytes_limit) = (count_to_f64(limit.records_per_s), count_to_f64(limit.bytes_per_s));
        // No shard takes more than its limits allow in one second: one second's worth
        // in a fixed window, plus the bucket's depth with a token bucket (§2.1).
        let seconds_max = match limit.enforcement {
            Enforcement::FixedWindow => 1.0,
            Enforcement::TokenBucket { depth_s } => 1.0 + depth_s,
        };
        // A coasting shard's seconds are counted into its window, not here.
        for index in 0..self.coasting.stepping.len() {
            let slot = self.coasting.stepping[index];
            let second = std::mem::take(&mut self.shards.second[slot]);
            debug_assert!(
                count_to_f64(second.accepted_records) <= records_limit * seconds_max + 1.0
                    && count_to_f64(second.accepted_bytes) <= bytes_limit * seconds_max + 1.0,
                "a shard took {} records and {} bytes in one second, over its limits",
                second.accepted_records,
                second.accepted_bytes
            );
            let utilisation = utilisation_of(
                count_to_f64(second.accepted_records),
                count_to_f64(second.accepted_bytes),
                records_limit,
                bytes_limit,
            );
            let demand = utilisation_of(
                count_to_f64(second.attempted_records),
                count_to_f64(second.attempted_bytes),
                records_limit,
                bytes_limit,
            );
            self.note_second_peaks(slot, utilisation, demand);
        }
    }

    fn producer_totals(&self) -> ProducerTotals {
        let mut sum = ProducerTotals::default();
        for producer in &self.producers {
            sum.offered_records += producer.totals.offered_records;
            sum.attempted_records += producer.totals.attempted_records;
            sum.accepted_records += producer.totals.accepted_records;
            sum.throttled_records += producer.totals.throttled_records;
            sum.dropped_records += producer.totals.dropped_records;
            sum.expired_records += producer.totals.expired_records;
            sum.buffer_dropped_records += producer.totals.buffer_dropped_records;
            sum.oversize_records += producer.totals.oversize_records;
            sum.put_requests += producer.totals.put_requests;
        }
        sum
    }

    fn close_stream_period(&mut self, now: SimTime) {
        let totals = self.producer_totals();
        let period = std::mem::take(&mut self.stream_period);
        let start = period.producers_at_start;
        let (start_ns, end_ns) = (self.stream_period_start.as_nanos(), now.as_nanos());
        // The shards open at the period's end, before a reshard at that instant (which
        // belongs to the next period), and their time open in it.
        let shards_open = (0..self.shards.ids.len())
            .filter(|&slot| self.shards.opened_ns[slot] < end_ns && self.shards.closed_ns[slot] >= end_ns)
            .count();
        let shards_open = if end_ns > start_ns { shards_open } else { self.shards_open() };
        let shard_seconds: f64 = (0..self.shards.ids.len()).map(|slot| self.open_seconds(slot, start_ns, end_ns)).sum();
        let row = StreamRow {
            time_s: self.stream_period_start.as_secs_f64(),
            shards_open: shards_open as u32,
            offered_records: totals.offered_records - start.offered_records,
            attempted_records: totals.attempted_records - start.attempted_records,
            incoming_records: period.incoming_records,
            incoming_bytes: period.incoming_bytes,
            write_throttled_records: period.write_throttled_records,
            dropped_records: totals.dropped_records - start.dropped_records,
            put_requests: totals.put_requests - start.put_requests,
            in_flight_records: self.producers.iter().map(Producer::in_flight_records).sum(),
            utilisation_mean: self.utilisation_mean(period.incoming_records, period.incoming_bytes, shard_seconds),
            utilisation_peak: period.utilisation_peak,
            demand_peak: period.demand_peak,
            read_records: period.read_records,
            read_bytes: period.read_bytes,
            read_throttled_calls: period.read_throttled_calls,
            iterator_age_ms_max: period.iterator_age_ms_max,
            expired_unread_records: period.expired_unread_records,
        };
        debug_assert_eq!(period.incoming_user_records, totals.accepted_records - start.accepted_records);
        self.recorder.stream_row(&row);
        self.stream_period.producers_at_start = totals;
        self.stream_period_start = now;
    }

    /// Accepted load over `shard_seconds` of write capacity, the larger of the record and
    /// byte ratios.
    fn utilisation_mean(&self, records: u64, bytes: u64, shard_seconds: f64) -> f64 {
        if shard_seconds <= 0.0 {
            return 0.0;
        }
        let limit = &self.spec.stream.write_limit;
        let by_records = records as f64 / (limit.records_per_s as f64 * shard_seconds);
        let by_bytes = bytes as f64 / (limit.bytes_per_s as f64 * shard_seconds);
        by_records.max(by_bytes)
    }

    /// Seconds shard `slot` was open (taking writes) within `[from_ns, until_ns)`.
    fn open_seconds(&self, slot: usize, from_ns: u64, until_ns: u64) -> f64 {
        let (opened_ns, closed_ns) =
            (self.shards.opened_ns[slot].max(from_ns), self.shards.closed_ns[slot].min(until_ns));
        closed_ns.saturating_sub(opened_ns) as f64 / NANOS_PER_SEC as f64
    }

    fn close_shard_period(&mut self, now: SimTime) {
        let time_s = self.shard_period_start.as_secs_f64();
        let start_ns = self.shard_period_start.as_nanos();
        for slot in 0..self.shards.ids.len() {
            let period = std::mem::take(&mut self.shards.period[slot]);
            // Over the part of the period the shard was open.
            let seconds = self.open_seconds(slot, start_ns, now.as_nanos());
            let utilisation_mean = self.utilisation_mean(period.incoming_records, period.incoming_bytes, seconds);
            self.recorder.shard_row(&ShardRow {
                time_s,
                shard_id: self.shards.ids[slot],
                incoming_records: period.incoming_records,
                incoming_bytes: period.incoming_bytes,
                write_throttled_records: period.write_throttled_records,
                utilisation_mean,
                utilisation_peak: period.utilisation_peak,
                demand_peak: period.demand_peak,
                read_records: period.read_records,
                read_bytes: period.read_bytes,
                read_throttled_calls: period.read_throttled_calls,
                iterator_age_ms_max: period.iterator_age_ms_max,
            });
        }
        self.shard_period_start = now;
    }

    fn close_consumer_period(&mut self, now: SimTime) {
        let time_s = self.consumer_period_start.as_secs_f64();
        for consumer in &mut self.consumers {
            for slot in 0..self.shards.ids.len() {
                let log = &self.shards.logs[slot];
                let backlog_records = log.readable_after(consumer.position(slot), now.as_nanos());
                let (name, shard_id, recorder) = (consumer.name.clone(), self.shards.ids[slot], &mut *self.recorder);
                consumer.take_period(slot, |counters| {
                    recorder.consumer_row(&ConsumerRow {
                        time_s,
                        consumer: name,
                        shard_id,
                        read_records: counters.read_records,
                        read_bytes: counters.read_bytes,
                        get_records_calls: counters.get_records_calls,
                        read_throttled_calls: counters.read_throttled_calls,
                        iterator_age_ms_max: counters.iterator_age_ms_max,
                        expired_unread_records: counters.expired_unread_records,
                        backlog_records,
                        latency_ms_p50: counters.latency_ms.quantile(0.5),
                        latency_ms_p99: counters.latency_ms.quantile(0.99),
                        latency_ms_max: counters.latency_ms.max(),
                    })
                });
            }
        }
        self.consumer_period_start = now;
    }

    fn finish(mut self) -> RunResult {
        debug_assert!(!self.coasting.any(), "the last step flushes every window");
        self.coast_settle_latencies();
        for consumer in &mut self.consumers {
            consumer.settle_latencies();
        }
        let totals = self.producer_totals();
        let in_flight_records_end: u64 = self.producers.iter().map(Producer::in_flight_records).sum();
        assert_eq!(
            totals.offered_records,
            totals.accepted_records + totals.dropped_records + in_flight_records_end,
            "conservation: offered = accepted + dropped + in flight"
        );
        assert_eq!(totals.attempted_records, totals.accepted_records + totals.throttled_records);
        let consumers =
            self.consumers.iter().map(|consumer| self.consumer_summary(consumer, totals.accepted_records)).collect();
        let cost = self.cost_summary();
        let summary = RunSummary {
            cost,
            duration_s: self.spec.duration.as_secs_f64(),
            offered_records: totals.offered_records,
            attempted_records: totals.attempted_records,
            accepted_records: totals.accepted_records,
            write_throttled_records: totals.throttled_records,
            expired_records: totals.expired_records,
            put_requests: totals.put_requests,
            incoming_records: self.incoming_records_total,
            write_throttle_rate: if totals.attempted_records == 0 {
                0.0
            } else {
                totals.throttled_records as f64 / totals.attempted_records as f64
            },
            dropped_records: totals.dropped_records,
            in_flight_records_end,
            incoming_bytes: self.incoming_bytes_total,
            shards_open_max: self.shards_open_max,
            reshard_operations: self.reshard_operations,
            producers: self
                .producers
                .iter()
                .map(|p| ProducerSummary {
                    name: p.name.clone(),
                    totals: p.totals,
                    in_flight_records_end: p.in_flight_records(),
                    latency_ms_p50: p.latency_ms.quantile(0.5),
                    latency_ms_p99: p.latency_ms.quantile(0.99),
                    latency_ms_max: p.latency_ms.max(),
                })
                .collect(),
            consumers,
            shard_steps: self.shard_steps,
            coasted_shard_steps: self.coasting.coasted_steps,
        };
        let hot_keys = self.hot_keys();
        self.recorder.event(&EventRow {
            time_s: self.spec.duration.as_secs_f64(),
            kind: "run_finished".into(),
            subject: "stream".into(),
            detail: format!(
                "accepted_records={} write_throttle_rate={:.6}",
                summary.accepted_records, summary.write_throttle_rate
            ),
        });
        RunResult { summary, hot_keys }
    }

    fn consumer_summary(&self, consumer: &ShardReader, accepted_records: u64) -> ConsumerSummary {
        // Unread: still in the stream past the consumer's position, or fetched and waiting
        // to be processed.
        let unread_records_end: u64 = (0..self.shards.ids.len())
            .map(|slot| self.shards.logs[slot].offset_end() - consumer.frontier(slot) + consumer.queued(slot))
            .sum();
        let totals = &consumer.totals;
        assert_eq!(
            accepted_records,
            totals.skipped_records
                + totals.read_records
                + totals.discarded_records
                + totals.expired_unread_records
                + unread_records_end,
            "conservation per consumer ({}): accepted = skipped + read + discarded + expired unread + unread",
            consumer.name
        );
        ConsumerSummary {
            name: consumer.name.clone(),
            read_records: totals.read_records,
            read_bytes: totals.read_bytes,
            iterator_age_ms_max: totals.iterator_age_ms_max,
            expired_unread_records: totals.expired_unread_records,
            skipped_records: totals.skipped_records,
            discarded_records: totals.discarded_records,
            failed_batches: totals.failed_batches,
            reprocessed_records: totals.reprocessed_records,
            read_throttled_calls: totals.read_throttled_calls,
            get_records_calls: totals.get_records_calls,
            latency_ms_p50: totals.latency_ms.quantile(0.5),
            latency_ms_p99: totals.latency_ms.quantile(0.99),
            latency_ms_max: totals.latency_ms.max(),
            unread_records_end,
        }
    }

    /// Per shard, the heaviest keys across producers by expected records offered, the
    /// shard's share of the stream and, where it throttled, the hash key that halves it.
    fn hot_keys(&self) -> Vec<HotKeyRow> {
        let limit = self.spec.output.hot_keys_per_shard;
        let stream_offered: f64 = self.producers.iter().map(|p| p.offered_expected).sum();
        let share = |value: f64, total: f64| if total > 0.0 { value / total } else { 0.0 };
        let mut rows = Vec::new();
        for (slot, range) in self.shards.ranges.iter().enumerate() {
            if !self.shards.open[slot] {
                continue;
            }
            let (shard_offered, split_hash_key) = self.shard_load(slot, *range);
            let mut candidates = Vec::new();
            for producer in &self.producers {
                for key in producer.keys().top_keys(*range, limit) {
                    candidates.push((key.weight * producer.offered_expected, producer.name.clone(), key));
                }
            }
            candidates.sort_by(|a, b| {
                b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.partition_key.cmp(&b.2.partition_key))
            });
            for (rank, (offered, producer, key)) in candidates.into_iter().take(limit).enumerate() {
                rows.push(HotKeyRow {
                    shard_id: self.shards.ids[slot],
                    rank: rank as u32 + 1,
                    partition_key: key.partition_key,
                    producer,
                    hash_key: key.hash_key,
                    offered_records: offered,
                    share_of_shard: share(offered, shard_offered),
                    share_of_stream: share(offered, stream_offered),
                    shard_share_of_stream: share(shard_offered, stream_offered),
                    split_hash_key,
                });
            }
        }
        rows
    }

    /// A shard's expected offered records over the run and, if it throttled, the hash key
    /// that best halves that load across all producers.
    fn shard_load(&self, slot: usize, range: HashRange) -> (f64, Option<u128>) {
        let mut points = Vec::new();
        let mut offered = 0.0;
        for producer in &self.producers {
            let first = points.len();
            producer.keys().weighted_points(range, &mut points);
            for point in &mut points[first..] {
                point.1 *= producer.offered_expected;
                offered += point.1;
            }
        }
        if self.shards.throttled_total[slot] == 0 {
            return (offered, None);
        }
        points.sort_by_key(|point| point.0);
        (offered, crate::keys::split_hash_key(range, &points))
    }
}
