//! `summary.json`: the run's totals, written last so its presence marks a complete run.

use crate::atomic::write_all;
use crate::ReportError;
use kinesim_models::slo::SloResult;
use kinesim_models::RunSummary;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Version of the output contract; raised when a column or key changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// What the summary says about the run besides the simulated totals.
pub struct SummaryContext<'a> {
    pub name: &'a str,
    pub experiment_sha256: &'a str,
    pub seed: u64,
    pub slo_results: &'a [SloResult],
}

/// Builds the summary document (keys in a fixed order).
pub fn summary_json(context: &SummaryContext, summary: &RunSummary) -> Value {
    let mut consumers = Map::new();
    for consumer in &summary.consumers {
        consumers.insert(
            consumer.name.clone(),
            json!({
                "read_records": consumer.read_records,
                "read_bytes": consumer.read_bytes,
                "iterator_age_ms_max": consumer.iterator_age_ms_max,
                "expired_unread_records": consumer.expired_unread_records,
                "skipped_records": consumer.skipped_records,
                "discarded_records": consumer.discarded_records,
                "failed_batches": consumer.failed_batches,
                "reprocessed_records": consumer.reprocessed_records,
                "read_throttled_calls": consumer.read_throttled_calls,
                "get_records_calls": consumer.get_records_calls,
                "latency_ms_p50": consumer.latency_ms_p50,
                "latency_ms_p99": consumer.latency_ms_p99,
                "latency_ms_max": consumer.latency_ms_max,
                "unread_records_end": consumer.unread_records_end,
            }),
        );
    }
    let mut producers = Map::new();
    for producer in &summary.producers {
        let totals = &producer.totals;
        producers.insert(
            producer.name.clone(),
            json!({
                "offered_records": totals.offered_records,
                "attempted_records": totals.attempted_records,
                "accepted_records": totals.accepted_records,
                "write_throttled_records": totals.throttled_records,
                "dropped_records": totals.dropped_records,
                "expired_records": totals.expired_records,
                "buffer_dropped_records": totals.buffer_dropped_records,
                "oversize_records": totals.oversize_records,
                "in_flight_records_end": producer.in_flight_records_end,
                "put_requests": totals.put_requests,
                "latency_ms_p50": producer.latency_ms_p50,
                "latency_ms_p99": producer.latency_ms_p99,
                "latency_ms_max": producer.latency_ms_max,
            }),
        );
    }
    json!({
        "kinesim_version": env!("CARGO_PKG_VERSION"),
        "schema_version": SCHEMA_VERSION,
        "name": context.name,
        "experiment_sha256": context.experiment_sha256,
        "seed": context.seed,
        "duration_s": summary.duration_s,
        "offered_records": summary.offered_records,
        "attempted_records": summary.attempted_records,
        "accepted_records": summary.accepted_records,
        "write_throttled_records": summary.write_throttled_records,
        "write_throttle_rate": summary.write_throttle_rate,
        "dropped_records": summary.dropped_records,
        "expired_records": summary.expired_records,
        "in_flight_records_end": summary.in_flight_records_end,
        "incoming_records": summary.incoming_records,
        "incoming_bytes": summary.incoming_bytes,
        "put_requests": summary.put_requests,
        "shards_open_max": summary.shards_open_max,
        "reshard_operations": summary.reshard_operations,
        "cost_usd_total": summary.cost.total_usd,
        "cost_usd_per_month": summary.cost.per_month_usd,
        "cost_usd": summary.cost.components.iter().map(|(name, usd)| ((*name).to_string(), json!(usd))).collect::<Map<String, Value>>(),
        "advantage_shortfall_usd": summary.cost.advantage_shortfall_usd,
        "cost_region": summary.cost.region,
        "slo_results": context.slo_results.iter().map(|r| json!({
            "metric": r.metric,
            "scope": r.scope,
            "value": r.value,
            "max": r.max,
            "min": r.min,
            "passed": r.passed,
            "margin": r.margin,
        })).collect::<Vec<_>>(),
        "producers": producers,
        "consumers": consumers,
    })
}

/// Writes `summary.json` into `folder`; call after every other output is in place.
pub fn write_summary(folder: &Path, context: &SummaryContext, summary: &RunSummary) -> Result<(), ReportError> {
    let path = folder.join("summary.json");
    let mut text = serde_json::to_string_pretty(&summary_json(context, summary))
        .map_err(|source| ReportError::Json { path: path.display().to_string(), source })?;
    text.push('\n');
    write_all(&path, text.as_bytes())
}
