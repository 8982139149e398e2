//! The engine side of cost: what the stream uses, metered as the run goes, and billed
//! per hour of simulated time into `cost.csv` (arithmetic and rates in `crate::cost`).
//!
//! Lifecycle. Every data step adds its time to the dimensions of the mode the stream is
//! in (provisioned shard-time, extended retention shard-time, fan-out consumer-shard
//! time, on-demand stream time, the Advantage commitment's time); every accepted write
//! and every read adds its bytes or units as it happens. A `CloseCostHour` event (phase
//! METRICS, every hour and at the run's end) adds the stored bytes by age, counts the
//! started hours, bills the hour, writes its rows and adds it to the run's total. The
//! Advantage commitment shortfall is the account's over the whole run (reference
//! kinesis-pricing.md §9), so it is billed once, at the end, and reported apart.
//!
//! Stored bytes for retention charges are what AWS keeps (everything accepted within the
//! retention period), not what the simulator keeps (only what a reader still needs):
//! they come from the bytes accepted per hour, each hour's bytes written evenly over it.
//! Writes are billed per record at the expected units of its producer's size law
//! (stepped mode; KPL aggregates as the shard's latest aggregates, see
//! `crate::kpl::aggregate`), or per record as it comes (record mode).

use super::{phase, Event, Simulation};
use crate::cost::{charges, monthly_projection_usd, stream_total_usd, Usage};
use crate::metrics::CostRow;
use crate::producer::RecordBilling;
use crate::spec::{CapacityMode, ConsumerKind, KMS_REQUESTS_PER_5_MIN};
use kinesim_sim::num::{count_to_f64, f64_to_count};
use kinesim_sim::{EventQueue, SimDuration, SimTime, NANOS_PER_SEC};
use std::collections::VecDeque;

const HOUR_NS: u64 = 3600 * NANOS_PER_SEC;

/// The run's cost, for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostSummary {
    /// The stream's cost over the run (the shortfall left out).
    pub total_usd: f64,
    /// `total_usd` projected to a 730-hour month.
    pub per_month_usd: f64,
    /// Per billing component, in the contract's order; components that cost nothing
    /// are left out.
    pub components: Vec<(&'static str, f64)>,
    /// The account's Advantage commitment shortfall over the run, billed apart.
    pub advantage_shortfall_usd: f64,
    /// The region the prices are for (a price file's `region`; us-east-1 by default).
    pub region: String,
}

/// What the meter remembers between events.
pub(super) struct CostMeter {
    hour: Usage,
    total: Usage,
    hour_start: SimTime,
    /// Bytes accepted in each past hour, oldest first, as far back as retention reaches.
    accepted_by_hour: VecDeque<u64>,
    accepted_this_hour: u64,
    /// Shards open at some provisioned instant of the hour: those open at its first
    /// provisioned step, and those opened while provisioned after it.
    provisioned_shards_this_hour: u64,
    /// Fan-out consumer-shards started in the hour: each consumer counts the shards open
    /// at some provisioned instant of the hour from its `join` on.
    fan_out_shards_this_hour: u64,
    /// The modes the stream was in during the hour.
    modes_this_hour: [bool; 3],
    /// Whether retention was above 24 h at some step of the hour.
    extended_this_hour: bool,
    /// When each fan-out consumer registers (its `join`), earliest first: it is billed per
    /// consumer-shard-hour in provisioned mode from then on (pricing §2).
    fan_out_joins_ns: Vec<u64>,
    /// Fan-out consumers registered as of the last metered step.
    fan_out_consumers: u64,
    /// The fraction of a unit (or byte) of expected write billing not yet billed.
    billing_carry: f64,
}

impl CostMeter {
    pub(super) fn new(spec: &crate::spec::ExperimentSpec) -> CostMeter {
        let mut fan_out_joins_ns: Vec<u64> = spec
            .consumers
            .iter()
            .filter(|c| matches!(c.kind, ConsumerKind::Efo(_)))
            .map(|c| c.join.as_nanos())
            .collect();
        fan_out_joins_ns.sort_unstable();
        CostMeter {
            hour: Usage::default(),
            total: Usage::default(),
            hour_start: SimTime::ZERO,
            accepted_by_hour: VecDeque::new(),
            accepted_this_hour: 0,
            provisioned_shards_this_hour: 0,
            fan_out_shards_this_hour: 0,
            modes_this_hour: [false; 3],
            extended_this_hour: false,
            fan_out_joins_ns,
            fan_out_consumers: 0,
            billing_carry: 0.0,
        }
    }

    /// A shard opened (a split, merge or UpdateShardCount child).
    pub(super) fn shard_opened(&mut self, mode: CapacityMode) {
        // Shards opened before the hour's first provisioned step are counted by it, and
        // shards opened while on-demand are not billed per shard.
        if mode == CapacityMode::Provisioned && self.modes_this_hour[mode_index(mode)] {
            self.provisioned_shards_this_hour += 1;
            self.fan_out_shards_this_hour += self.fan_out_consumers;
        }
    }

    /// Accepted writes of `records` Kinesis records of `bytes`, billed at their mean size
    /// (record mode's, one record at a time).
    #[inline]
    pub(super) fn accepted(&mut self, mode: CapacityMode, records: u64, bytes: u64) {
        if records == 0 {
            return;
        }
        self.hour.add_writes(mode, bytes.div_ceil(records), records);
        self.accepted_this_hour += bytes;
    }

    /// Accepted writes of `records` records of `bytes` in one step, each billed as one
    /// record of its producer is expected to be (`billing`).
    #[inline]
    pub(super) fn accepted_expected(&mut self, mode: CapacityMode, records: u64, bytes: u64, billing: RecordBilling) {
        self.accepted_this_hour += bytes;
        let per_record = match mode {
            CapacityMode::Provisioned => billing.put_payload_units,
            CapacityMode::OnDemand | CapacityMode::OnDemandAdvantage => billing.on_demand_bytes,
        };
        // Whole units (or bytes) are billed, the fraction carried to the next write, so
        // the total over a run is the expectation to within one unit.
        let expected = count_to_f64(records) * per_record + self.billing_carry;
        // Truncation is the floor of a non-negative value, without a call to `floor`.
        let whole = f64_to_count(expected);
        self.billing_carry = expected - count_to_f64(whole);
        self.hour.add_billed_writes(mode, whole);
    }

    /// Bytes delivered to one consumer application in one read, `bytes_past_week` of
    /// them of records more than 7 days old.
    /// Reads of data older than 7 days are charged on provisioned streams only: the
    /// on-demand formulas have no such charge (pricing §3, §4; open item §10.3).
    pub(super) fn read(&mut self, mode: CapacityMode, fan_out: bool, bytes: u64, bytes_past_week: u64) {
        self.hour.add_reads(mode, fan_out, bytes);
        if mode == CapacityMode::Provisioned {
            self.hour.long_term_retrieval_bytes += bytes_past_week;
        }
    }
}

/// In quarters, the share of an hour's bytes that, over the hour being billed, are past
/// `limit_hours` of age and not yet expired at `retention_hours`. The newest hour ended
/// now (`age_hours` 1); bytes written evenly over an hour of age `a` are, over this
/// hour, between `a - 2` and `a` hours old (symmetric about `a - 1`), so they pass an
/// age limit, or expire, halfway through the hour of age `limit + 1`. When the limit is
/// the retention, passing it is expiring: nothing is past it.
fn kept_past_quarters(age_hours: usize, limit_hours: usize, retention_hours: usize) -> u128 {
    let age_mid = age_hours - 1;
    if age_mid < limit_hours || age_mid > retention_hours || limit_hours >= retention_hours {
        return 0;
    }
    let (at_limit, at_expiry) = (age_mid == limit_hours, age_mid == retention_hours);
    if at_limit || at_expiry {
        2
    } else {
        4
    }
}

fn mode_index(mode: CapacityMode) -> usize {
    match mode {
        CapacityMode::Provisioned => 0,
        CapacityMode::OnDemand => 1,
        CapacityMode::OnDemandAdvantage => 2,
    }
}

impl Simulation<'_> {
    /// The time-based dimensions of one data step of `step_ns` from `t0` with
    /// `open_shards` open. A fan-out consumer counts from the first step that starts at
    /// or after its `join`.
    pub(super) fn meter_step(&mut self, t0: SimTime, open_shards: u64) {
        let step_ns = u128::from(self.step_ns);
        let extended = self.retention > SimDuration::from_secs(24 * 3600);
        let meter = &mut self.cost_meter;
        let joined_before = meter.fan_out_consumers;
        meter.fan_out_consumers = meter.fan_out_joins_ns.partition_point(|&join_ns| join_ns <= t0.as_nanos()) as u64;
        if self.mode == CapacityMode::Provisioned {
            if !meter.modes_this_hour[mode_index(self.mode)] {
                meter.provisioned_shards_this_hour = open_shards;
                meter.fan_out_shards_this_hour = meter.fan_out_consumers * open_shards;
            } else {
                // Consumers that joined since the last step count the shards open now.
                meter.fan_out_shards_this_hour += (meter.fan_out_consumers - joined_before) * open_shards;
            }
        }
        meter.modes_this_hour[mode_index(self.mode)] = true;
        let usage = &mut meter.hour;
        usage.interval_ns += self.step_ns;
        match self.mode {
            CapacityMode::Provisioned => {
                let shard_ns = u128::from(open_shards) * step_ns;
                usage.shard_ns += shard_ns;
                if extended {
                    usage.extended_retention_shard_ns += shard_ns;
                    meter.extended_this_hour = true;
                }
                usage.efo_consumer_shard_ns += u128::from(meter.fan_out_consumers) * shard_ns;
            }
            CapacityMode::OnDemand => usage.on_demand_stream_ns += step_ns,
            CapacityMode::OnDemandAdvantage => usage.advantage_commitment_ns += self.step_ns,
        }
    }

    /// Bills the hour (or the run's last part of one) that ends now.
    pub(super) fn close_cost_hour(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let hour_ns = now.as_nanos() - self.cost_meter.hour_start.as_nanos();
        self.meter_storage(hour_ns);
        self.count_started_hours();
        let meter = &mut self.cost_meter;
        meter.hour.kms_requests +=
            u64::from(self.spec.cost.kms_credential_sets) * KMS_REQUESTS_PER_5_MIN * hour_ns / (300 * NANOS_PER_SEC);
        let time_s = meter.hour_start.as_secs_f64();
        for charge in charges(&self.spec.cost.prices, &self.spec.cost.billing, &meter.hour) {
            if !charge.component.is_reported_apart() {
                self.recorder.cost_row(&CostRow { time_s, component: charge.component.as_str(), usd: charge.usd });
            }
        }
        let meter = &mut self.cost_meter;
        meter.total.add(&meter.hour);
        meter.hour = Usage::default();
        meter.hour_start = now;
        meter.provisioned_shards_this_hour = 0;
        meter.fan_out_shards_this_hour = 0;
        meter.modes_this_hour = [false; 3];
        meter.extended_this_hour = false;
        let end = SimTime::ZERO + self.spec.duration;
        if now < end {
            let next = SimTime::from_nanos(now.as_nanos() + HOUR_NS);
            queue.schedule(if next > end { end } else { next }, phase::METRICS, Event::CloseCostHour);
        }
    }

    /// Stored bytes by age over the hour: each past hour's accepted bytes, written evenly
    /// over it, pass 24 h (or 7 days) on average halfway through the hour that starts 24 h
    /// (7 days) after theirs ended, and expire halfway through the hour after retention.
    fn meter_storage(&mut self, hour_ns: u64) {
        let retention_hours = (self.retention.as_nanos() / HOUR_NS) as usize;
        let meter = &mut self.cost_meter;
        meter.accepted_by_hour.push_back(std::mem::take(&mut meter.accepted_this_hour));
        // One hour past retention is kept: its bytes expire during this hour.
        while meter.accepted_by_hour.len() > retention_hours + 1 {
            meter.accepted_by_hour.pop_front();
        }
        let hours = meter.accepted_by_hour.len();
        let (mut over_day, mut over_week) = (0u128, 0u128);
        for (index, bytes) in meter.accepted_by_hour.iter().enumerate() {
            let age_hours = hours - index;
            over_day += u128::from(*bytes) * kept_past_quarters(age_hours, 24, retention_hours);
            over_week += u128::from(*bytes) * kept_past_quarters(age_hours, 7 * 24, retention_hours);
        }
        let (day_to_week, over_week) = (over_day - over_week, over_week);
        let ns = u128::from(hour_ns);
        // The weights were in quarters.
        let (day_to_week, over_week) = (day_to_week * ns / 4, over_week * ns / 4);
        let usage = &mut meter.hour;
        match self.mode {
            CapacityMode::Provisioned => usage.long_term_stored_byte_ns += over_week,
            CapacityMode::OnDemand => {
                usage.on_demand_extended_stored_byte_ns += day_to_week;
                usage.on_demand_long_term_stored_byte_ns += over_week;
            }
            CapacityMode::OnDemandAdvantage => {
                usage.advantage_extended_stored_byte_ns += day_to_week;
                usage.advantage_long_term_stored_byte_ns += over_week;
            }
        }
    }

    /// The started-hour counts, for per-started-hour proration: every shard open at some
    /// provisioned instant of the hour (shards are not billed while on-demand).
    fn count_started_hours(&mut self) {
        let meter = &mut self.cost_meter;
        let shards = meter.provisioned_shards_this_hour;
        let usage = &mut meter.hour;
        if meter.modes_this_hour[0] {
            usage.shard_hours_started += shards;
            usage.efo_consumer_shard_hours_started += meter.fan_out_shards_this_hour;
            if meter.extended_this_hour {
                usage.extended_retention_shard_hours_started += shards;
            }
        }
        if meter.modes_this_hour[1] {
            usage.on_demand_stream_hours_started += 1;
        }
    }

    /// The run's cost: the sum of its hours, and the account's commitment shortfall.
    pub(super) fn cost_summary(&mut self) -> CostSummary {
        let cost = &self.spec.cost;
        let total = &self.cost_meter.total;
        let billed = charges(&cost.prices, &cost.billing, total);
        let total_usd = stream_total_usd(&billed);
        let shortfall: Vec<_> = billed.iter().filter(|c| c.component.is_reported_apart()).collect();
        let end_s = self.spec.duration.as_secs_f64();
        for charge in &shortfall {
            self.recorder.cost_row(&CostRow { time_s: end_s, component: charge.component.as_str(), usd: charge.usd });
        }
        CostSummary {
            total_usd,
            per_month_usd: monthly_projection_usd(total_usd, end_s),
            components: billed
                .iter()
                .filter(|c| !c.component.is_reported_apart())
                .map(|c| (c.component.as_str(), c.usd))
                .collect(),
            // A fold from +0: an empty f64 sum is -0, which would print as "-0".
            advantage_shortfall_usd: shortfall.iter().map(|c| c.usd).fold(0.0, |total, usd| total + usd),
            region: cost.prices.region.clone(),
        }
    }
}
