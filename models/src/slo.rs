//! Service-level objectives (`[[expect]]`): bounds on a run's results, checked after it.
//!
//! An expectation names a metric of the run summary, a scope (the stream, a consumer or
//! a producer) and a bound (`max`, `min` or both). The margin is how far the value is
//! inside its bound (negative when it fails), so `kinesim check` can show how close a
//! policy came to breaking an objective.

use crate::engine::RunSummary;

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
}

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

/// Checks every expectation against a run's summary.
pub fn evaluate(expectations: &[Expectation], summary: &RunSummary) -> Vec<SloResult> {
    expectations.iter().map(|expectation| evaluate_one(expectation, summary)).collect()
}

fn evaluate_one(expectation: &Expectation, summary: &RunSummary) -> SloResult {
    let (scope, value) = match &expectation.scope {
        Scope::Stream => ("stream".to_string(), stream_metric(summary, &expectation.metric)),
        Scope::Consumer(name) => (format!("consumer {name}"), consumer_metric(summary, name, &expectation.metric)),
        Scope::Producer(name) => (format!("producer {name}"), producer_metric(summary, name, &expectation.metric)),
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
