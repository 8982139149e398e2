//! Service-level objectives (`[[expect]]`): bounds on a run's results, checked after it.
//!
//! An expectation names a metric of the run summary, a scope (the stream, a consumer or
//! a producer) and a bound (`max`, `min` or both). The margin is how far the value is
//! inside its bound (negative when it fails), so `kinesim check` can show how close a
//! policy came to breaking an objective.

use crate::engine::RunSummary;
use crate::metrics::{ConsumerRow, EventRow, Recorder, ShardRow, StreamRow};

/// What an expectation is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Stream,
    Consumer(String),
    Producer(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub metric: String,
    pub scope: Scope,
    pub max: Option<f64>,
    pub min: Option<f64>,
    /// When set, the bound applies per metrics period (per `stream.csv` period for the
    /// stream, per `consumers.csv` period for a consumer, its worst shard) and must hold
    /// in at least this fraction of periods: "iterator age under 60 s in 99.9% of minutes".
    pub fraction: Option<f64>,
}

/// Metrics an expectation with `fraction` may name, per scope: what the periodic rows hold.
pub const STREAM_PERIOD_METRICS: &[&str] = &[
    "write_throttle_rate",
    "write_throttled_records",
    "dropped_records",
    "utilisation_peak",
    "demand_peak",
    "iterator_age_ms_max",
    "expired_unread_records",
];
pub const CONSUMER_PERIOD_METRICS: &[&str] =
    &["iterator_age_ms_max", "latency_ms_p99", "latency_ms_max", "read_throttled_calls", "expired_unread_records"];

/// Metrics an expectation may name, per scope.
pub const STREAM_METRICS: &[&str] = &[
    "write_throttle_rate",
    "write_throttled_records",
    "dropped_records",
    "expired_records",
    "offered_records",
    "accepted_records",
    "incoming_records",
    "in_flight_records_end",
    "shards_open_max",
    "reshard_operations",
];
pub const CONSUMER_METRICS: &[&str] = &[
    "iterator_age_ms_max",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_ms_max",
    "expired_unread_records",
    "read_throttled_calls",
    "reprocessed_records",
    "discarded_records",
    "read_records",
    "unread_records_end",
];
pub const PRODUCER_METRICS: &[&str] = &[
    "dropped_records",
    "expired_records",
    "write_throttled_records",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_ms_max",
];

/// The outcome of one expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct SloResult {
    pub metric: String,
    /// "stream", "consumer fn" or "producer web".
    pub scope: String,
    pub value: f64,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub passed: bool,
    /// Distance to the nearest bound, positive inside it.
    pub margin: f64,
}

/// Checks every expectation against a run's summary and, for those with a `fraction`,
/// the per-period values a [`PeriodRecorder`] collected.
pub fn evaluate(expectations: &[Expectation], summary: &RunSummary, periods: &PeriodValues) -> Vec<SloResult> {
    expectations
        .iter()
        .enumerate()
        .map(|(index, expectation)| match expectation.fraction {
            None => evaluate_one(expectation, summary),
            Some(fraction) => evaluate_fraction(expectation, fraction, &periods.values[index]),
        })
        .collect()
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Stream => "stream".into(),
        Scope::Consumer(name) => format!("consumer {name}"),
        Scope::Producer(name) => format!("producer {name}"),
    }
}

/// The fraction of periods within the bounds; passes when at least `fraction`.
fn evaluate_fraction(expectation: &Expectation, fraction: f64, values: &[f64]) -> SloResult {
    let within = values
        .iter()
        .filter(|&&v| expectation.max.is_none_or(|max| v <= max) && expectation.min.is_none_or(|min| v >= min))
        .count();
    let achieved = if values.is_empty() { 1.0 } else { within as f64 / values.len() as f64 };
    SloResult {
        metric: format!("{} in {}% of periods", expectation.metric, fraction * 100.0),
        scope: scope_text(&expectation.scope),
        value: achieved,
        max: expectation.max,
        min: expectation.min,
        passed: achieved >= fraction,
        margin: achieved - fraction,
    }
}

fn evaluate_one(expectation: &Expectation, summary: &RunSummary) -> SloResult {
    let scope = scope_text(&expectation.scope);
    let value = match &expectation.scope {
        Scope::Stream => stream_metric(summary, &expectation.metric),
        Scope::Consumer(name) => consumer_metric(summary, name, &expectation.metric),
        Scope::Producer(name) => producer_metric(summary, name, &expectation.metric),
    };
    let value = value.expect("expectations are validated against the metric lists and names when loading");
    let above_min = expectation.min.map_or(f64::INFINITY, |min| value - min);
    let below_max = expectation.max.map_or(f64::INFINITY, |max| max - value);
    let margin = above_min.min(below_max);
    SloResult {
        metric: expectation.metric.clone(),
        scope,
        value,
        max: expectation.max,
        min: expectation.min,
        passed: margin >= 0.0,
        margin: if margin.is_finite() { margin } else { 0.0 },
    }
}

fn stream_metric(s: &RunSummary, metric: &str) -> Option<f64> {
    Some(match metric {
        "write_throttle_rate" => s.write_throttle_rate,
        "write_throttled_records" => s.write_throttled_records as f64,
        "dropped_records" => s.dropped_records as f64,
        "expired_records" => s.expired_records as f64,
        "offered_records" => s.offered_records as f64,
        "accepted_records" => s.accepted_records as f64,
        "incoming_records" => s.incoming_records as f64,
        "in_flight_records_end" => s.in_flight_records_end as f64,
        "shards_open_max" => f64::from(s.shards_open_max),
        "reshard_operations" => s.reshard_operations as f64,
        _ => return None,
    })
}

fn consumer_metric(s: &RunSummary, name: &str, metric: &str) -> Option<f64> {
    let c = s.consumers.iter().find(|c| c.name == name)?;
    Some(match metric {
        "iterator_age_ms_max" => c.iterator_age_ms_max,
        "latency_ms_p50" => c.latency_ms_p50,
        "latency_ms_p99" => c.latency_ms_p99,
        "latency_ms_max" => c.latency_ms_max,
        "expired_unread_records" => c.expired_unread_records as f64,
        "read_throttled_calls" => c.read_throttled_calls as f64,
        "reprocessed_records" => c.reprocessed_records as f64,
        "discarded_records" => c.discarded_records as f64,
        "read_records" => c.read_records as f64,
        "unread_records_end" => c.unread_records_end as f64,
        _ => return None,
    })
}

fn producer_metric(s: &RunSummary, name: &str, metric: &str) -> Option<f64> {
    let p = s.producers.iter().find(|p| p.name == name)?;
    Some(match metric {
        "dropped_records" => p.totals.dropped_records as f64,
        "expired_records" => p.totals.expired_records as f64,
        "write_throttled_records" => p.totals.throttled_records as f64,
        "latency_ms_p50" => p.latency_ms_p50,
        "latency_ms_p99" => p.latency_ms_p99,
        "latency_ms_max" => p.latency_ms_max,
        _ => return None,
    })
}

/// Per expectation with a `fraction`: the metric's value in every period.
#[derive(Clone, Debug, Default)]
pub struct PeriodValues {
    pub values: Vec<Vec<f64>>,
}

/// A recorder that passes every row on and keeps the per-period values the `fraction`
/// expectations need. A consumer's value in a period is its worst shard's (the largest).
pub struct PeriodRecorder<'a> {
    inner: &'a mut dyn Recorder,
    expectations: &'a [Expectation],
    pub periods: PeriodValues,
    /// The consumer period being gathered: (consumer, time) and per expectation the worst.
    open: Option<(String, f64)>,
    worst: Vec<f64>,
}

impl<'a> PeriodRecorder<'a> {
    pub fn new(inner: &'a mut dyn Recorder, expectations: &'a [Expectation]) -> PeriodRecorder<'a> {
        let count = expectations.len();
        PeriodRecorder {
            inner,
            expectations,
            periods: PeriodValues { values: vec![Vec::new(); count] },
            open: None,
            worst: vec![f64::NEG_INFINITY; count],
        }
    }

    /// Closes the consumer period being gathered; call at the end of the run.
    pub fn finish(mut self) -> PeriodValues {
        self.flush_consumer_period();
        self.periods
    }

    fn flush_consumer_period(&mut self) {
        let Some((consumer, _)) = self.open.take() else { return };
        for (index, expectation) in self.expectations.iter().enumerate() {
            if expectation.fraction.is_some() && expectation.scope == Scope::Consumer(consumer.clone()) {
                self.periods.values[index].push(self.worst[index]);
            }
            self.worst[index] = f64::NEG_INFINITY;
        }
    }
}

fn stream_period_metric(row: &StreamRow, metric: &str) -> Option<f64> {
    Some(match metric {
        "write_throttle_rate" => {
            // In Kinesis records, as the row counts throttles: with KPL aggregation its
            // `attempted_records` are user records, and the ratio would mix the two.
            let attempted = row.incoming_records + row.write_throttled_records;
            if attempted == 0 {
                0.0
            } else {
                row.write_throttled_records as f64 / attempted as f64
            }
        }
        "write_throttled_records" => row.write_throttled_records as f64,
        "dropped_records" => row.dropped_records as f64,
        "utilisation_peak" => row.utilisation_peak,
        "demand_peak" => row.demand_peak,
        "iterator_age_ms_max" => row.iterator_age_ms_max,
        "expired_unread_records" => row.expired_unread_records as f64,
        _ => return None,
    })
}

fn consumer_period_metric(row: &ConsumerRow, metric: &str) -> Option<f64> {
    Some(match metric {
        "iterator_age_ms_max" => row.iterator_age_ms_max,
        "latency_ms_p99" => row.latency_ms_p99,
        "latency_ms_max" => row.latency_ms_max,
        "read_throttled_calls" => row.read_throttled_calls as f64,
        "expired_unread_records" => row.expired_unread_records as f64,
        _ => return None,
    })
}

impl Recorder for PeriodRecorder<'_> {
    fn stream_row(&mut self, row: &StreamRow) {
        for (index, expectation) in self.expectations.iter().enumerate() {
            if expectation.fraction.is_some() && expectation.scope == Scope::Stream {
                if let Some(value) = stream_period_metric(row, &expectation.metric) {
                    self.periods.values[index].push(value);
                }
            }
        }
        self.inner.stream_row(row);
    }

    fn shard_row(&mut self, row: &ShardRow) {
        self.inner.shard_row(row);
    }

    fn cost_row(&mut self, row: &crate::metrics::CostRow) {
        self.inner.cost_row(row);
    }

    fn consumer_row(&mut self, row: &ConsumerRow) {
        let key = (row.consumer.clone(), row.time_s);
        if self.open.as_ref() != Some(&key) {
            self.flush_consumer_period();
            self.open = Some(key);
        }
        for (index, expectation) in self.expectations.iter().enumerate() {
            if expectation.fraction.is_some() && expectation.scope == Scope::Consumer(row.consumer.clone()) {
                if let Some(value) = consumer_period_metric(row, &expectation.metric) {
                    self.worst[index] = self.worst[index].max(value);
                }
            }
        }
        self.inner.consumer_row(row);
    }

    fn event(&mut self, row: &EventRow) {
        self.inner.event(row);
    }
}
