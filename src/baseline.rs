//! Comparing a run's `summary.json` with a saved one (`kinesim check --baseline DIR`).
//!
//! Every number in the summary is a metric, named by its path (`consumers.reader.
//! iterator_age_ms_max`, `slo_results[latency_ms_p99 (consumer analytics)].value`). A
//! metric has moved when it differs from the baseline by more than `tolerance` times the
//! baseline's magnitude (any change at all when the baseline is zero). Identity fields
//! (the schema version, the seed) and SLO bounds (configuration, not measurements) are
//! not compared.

use serde_json::Value;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Keys whose values describe the run or the SLO rather than measure the system.
const NOT_METRICS: [&str; 6] = ["schema_version", "seed", "duration_s", "min", "max", "margin"];

#[derive(Debug, Error)]
pub enum BaselineError {
    #[error("{path}: no baseline summary ({source}); save one with `kinesim check --out DIR`")]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a kinesim summary.json: {source}")]
    Malformed { path: PathBuf, source: serde_json::Error },
    /// JSON, but not a summary: comparing with it would find nothing and pass.
    #[error("{path}: not a kinesim summary.json: {why}")]
    NotASummary { path: PathBuf, why: &'static str },
}

/// One metric that moved beyond the tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
}

impl Drift {
    /// The change relative to the baseline; infinite when the baseline is zero.
    pub fn relative_change(&self) -> f64 {
        (self.current - self.baseline) / self.baseline.abs()
    }
}

pub fn load_summary(path: &Path) -> Result<Value, BaselineError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| BaselineError::Missing { path: path.to_path_buf(), source })?;
    parse_summary(path, &text)
}

/// A summary from its text (`path` names it in errors).
fn parse_summary(path: &Path, text: &str) -> Result<Value, BaselineError> {
    let summary: Value =
        serde_json::from_str(text).map_err(|source| BaselineError::Malformed { path: path.to_path_buf(), source })?;
    let not_a_summary = |why| BaselineError::NotASummary { path: path.to_path_buf(), why };
    let object = summary.as_object().ok_or_else(|| not_a_summary("expected a JSON object"))?;
    if !object.get("schema_version").is_some_and(Value::is_number) {
        return Err(not_a_summary("it has no numeric `schema_version`"));
    }
    let mut metrics = Vec::new();
    flatten(&summary, String::new(), &mut metrics);
    if metrics.is_empty() {
        return Err(not_a_summary("it holds no metrics to compare"));
    }
    Ok(summary)
}

/// The metrics of `current` that moved beyond `tolerance` (a fraction, e.g. 0.1) from
/// `baseline`, in the summary's order; metrics present in only one of them are skipped.
pub fn compare(current: &Value, baseline: &Value, tolerance: f64) -> Vec<Drift> {
    assert!(tolerance >= 0.0, "the tolerance is a non-negative fraction");
    let mut current_metrics = Vec::new();
    flatten(current, String::new(), &mut current_metrics);
    let mut baseline_metrics = Vec::new();
    flatten(baseline, String::new(), &mut baseline_metrics);
    let baseline_by_name: std::collections::HashMap<&str, f64> =
        baseline_metrics.iter().map(|(name, value)| (name.as_str(), *value)).collect();
    current_metrics
        .into_iter()
        .filter_map(|(metric, current)| {
            let baseline = *baseline_by_name.get(metric.as_str())?;
            let moved = (current - baseline).abs() > tolerance * baseline.abs() || (baseline == 0.0 && current != 0.0);
            moved.then_some(Drift { metric, baseline, current })
        })
        .collect()
}

/// Collects `(path, number)` for every numeric leaf. Array entries are named by their
/// `name`, or `metric (scope)` for SLO results, so reordering does not shift names.
fn flatten(value: &Value, path: String, out: &mut Vec<(String, f64)>) {
    match value {
        Value::Number(number) => {
            if let Some(number) = number.as_f64() {
                out.push((path, number));
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                if NOT_METRICS.contains(&key.as_str()) {
                    continue;
                }
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                flatten(child, child_path, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten(item, format!("{path}[{}]", entry_name(item).unwrap_or_else(|| index.to_string())), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fn entry_name(item: &Value) -> Option<String> {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    match (text("name"), text("metric"), text("scope")) {
        (Some(name), _, _) => Some(name.to_string()),
        (None, Some(metric), Some(scope)) => Some(format!("{metric} ({scope})")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(age_ms: f64, throttled: u64) -> Value {
        json!({
            "schema_version": 1,
            "seed": 7,
            "write_throttled_records": throttled,
            "consumers": [{ "name": "reader", "iterator_age_ms_max": age_ms }],
            "slo_results": [{ "metric": "iterator_age_ms_max", "scope": "consumer reader", "value": age_ms,
                              "max": 1000.0, "margin": 1000.0 - age_ms, "passed": true }],
        })
    }

    /// A baseline that is JSON but not a summary would compare nothing and pass.
    #[test]
    fn a_baseline_that_is_not_a_summary_is_refused() {
        let path = Path::new("b/t/summary.json");
        for (text, why) in [
            ("[]", "expected a JSON object"),
            (r#"{"offered_records": "many"}"#, "no numeric `schema_version`"),
            (r#"{"schema_version": "1"}"#, "no numeric `schema_version`"),
            (r#"{"schema_version": 1, "offered_records": "x"}"#, "no metrics to compare"),
        ] {
            let message = parse_summary(path, text).unwrap_err().to_string();
            assert!(
                message.starts_with("b/t/summary.json: not a kinesim summary.json") && message.contains(why),
                "{message}"
            );
        }
        assert!(parse_summary(path, &summary(10.0, 0).to_string()).is_ok());
    }

    #[test]
    fn metrics_within_the_tolerance_do_not_move() {
        assert!(compare(&summary(100.0, 0), &summary(109.0, 0), 0.1).is_empty());
        assert!(compare(&summary(100.0, 0), &summary(100.0, 0), 0.0).is_empty());
    }

    #[test]
    fn moved_metrics_are_named_by_path_and_entry() {
        let drifts = compare(&summary(150.0, 3), &summary(100.0, 0), 0.1);
        let names: Vec<&str> = drifts.iter().map(|d| d.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "write_throttled_records",
                "consumers[reader].iterator_age_ms_max",
                "slo_results[iterator_age_ms_max (consumer reader)].value",
            ]
        );
        assert!(drifts[0].relative_change().is_infinite(), "from zero, any change moves");
        assert!((drifts[1].relative_change() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn identity_fields_and_slo_bounds_are_not_metrics() {
        let mut changed = summary(100.0, 0);
        changed["seed"] = json!(8);
        changed["slo_results"][0]["max"] = json!(5000.0);
        changed["slo_results"][0]["margin"] = json!(4900.0);
        assert!(compare(&changed, &summary(100.0, 0), 0.0).is_empty());
    }
}
