//! `kinesim schema`: the JSON Schema editors use accepts every example experiment and
//! rejects every file of the malformed corpus whose mistake a schema can express
//! (unknown keys, wrong types, unknown kinds and names, numbers out of range, strings of
//! the wrong form). The rest are listed in [`BEYOND_THE_SCHEMA`], each with the reason a
//! JSON Schema cannot see it: those are the loader's alone.

mod common;

use serde_json::Value;

/// A small validator for the subset of JSON Schema the generator emits: `$ref` into
/// `definitions`, `type`, `properties`, `required`, `additionalProperties` (false or a
/// schema), `enum`, `const`, `anyOf`/`oneOf`/`allOf`, `items` (one schema or a tuple),
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `pattern`,
/// `minLength`, `maxLength`, `minItems`, `maxItems`.
fn valid(schema: &Value, root: &Value, value: &Value) -> bool {
    let Some(object) = schema.as_object() else { return schema.as_bool().unwrap_or(true) };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        return valid(&root["definitions"][name], root, value);
    }
    if let Some(types) = object.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let matches = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => true,
        };
        if !types.iter().any(|t| matches(t)) {
            return false;
        }
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return false;
        }
    }
    if let Some(constant) = object.get("const") {
        if constant != value {
            return false;
        }
    }
    if let Some(number) = value.as_f64() {
        let bound = |key: &str| object.get(key).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|b| number < b)
            || bound("maximum").is_some_and(|b| number > b)
            || bound("exclusiveMinimum").is_some_and(|b| number <= b)
            || bound("exclusiveMaximum").is_some_and(|b| number >= b)
        {
            return false;
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if object.get("minLength").and_then(Value::as_u64).is_some_and(|min| length < min)
            || object.get("maxLength").and_then(Value::as_u64).is_some_and(|max| length > max)
        {
            return false;
        }
        if let Some(pattern) = object.get("pattern").and_then(Value::as_str) {
            let regex = regex_lite::Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}"));
            if !regex.is_match(text) {
                return false;
            }
        }
    }
    if let Some(list) = value.as_array() {
        let length = list.len() as u64;
        if object.get("minItems").and_then(Value::as_u64).is_some_and(|min| length < min)
            || object.get("maxItems").and_then(Value::as_u64).is_some_and(|max| length > max)
        {
            return false;
        }
    }
    for (key, all) in [("anyOf", false), ("oneOf", false), ("allOf", true)] {
        if let Some(list) = object.get(key).and_then(Value::as_array) {
            let passed = list.iter().filter(|s| valid(s, root, value)).count();
            if (all && passed != list.len()) || (!all && passed == 0) {
                return false;
            }
        }
    }
    if let Some(map) = value.as_object() {
        let properties = object.get("properties").and_then(Value::as_object);
        if let Some(required) = object.get("required").and_then(Value::as_array) {
            if required.iter().filter_map(Value::as_str).any(|key| !map.contains_key(key)) {
                return false;
            }
        }
        for (key, item) in map {
            let sub = properties.and_then(|p| p.get(key)).or_else(|| object.get("additionalProperties"));
            if sub.is_some_and(|sub| !valid(sub, root, item)) {
                return false;
            }
        }
    }
    if let (Some(items), Some(list)) = (object.get("items"), value.as_array()) {
        match items {
            Value::Array(tuple) => {
                if tuple.len() != list.len() || tuple.iter().zip(list).any(|(s, v)| !valid(s, root, v)) {
                    return false;
                }
            }
            schema => {
                if list.iter().any(|v| !valid(schema, root, v)) {
                    return false;
                }
            }
        }
    }
    true
}

fn schema() -> Value {
    let output = common::kinesim().arg("schema").output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).expect("kinesim schema prints JSON")
}

fn toml_files(folder: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The file as JSON, as an editor's TOML plugin hands it to the schema; `None` when it
/// has no JSON form: not UTF-8, not TOML, or a NaN or infinite float (JSON has neither).
fn as_json(path: &std::path::Path) -> Option<Value> {
    fn finite(value: &toml::Value) -> bool {
        match value {
            toml::Value::Float(number) => number.is_finite(),
            toml::Value::Array(list) => list.iter().all(finite),
            toml::Value::Table(table) => table.values().all(finite),
            _ => true,
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table.values().all(finite).then(|| serde_json::to_value(table).ok())?
}

#[test]
fn the_schema_accepts_every_example() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let mut checked = 0;
    for folder in ["experiments", "experiments/policies", "experiments/sweeps"] {
        for path in toml_files(folder) {
            let value = as_json(&path).unwrap();
            assert!(valid(&schema, &schema, &value), "{} does not match the schema", path.display());
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

/// The malformed files the schema accepts, or cannot see, and why. Everything else in
/// `tests/data/malformed/` must fail the schema, so an editor flags it as it is typed.
const BEYOND_THE_SCHEMA: &[(&str, &str)] = &[
    ("action-key-of-other-kind.toml", KIND_KEY),
    ("action-merge-not-adjacent.toml", "depends on the shard map when the action runs"),
    ("action-outage-catch-up-nan.toml", NAN),
    ("action-set-mode-missing-mode.toml", "required only for one kind of action: a cross-field rule"),
    ("action-set-retention-12h.toml", DURATION_RANGE),
    ("action-split-unknown-shard.toml", "depends on the shard map when the action runs"),
    ("coast-sub-second-step.toml", "compared with `step` and `fidelity`: a cross-field rule"),
    ("coast-too-long.toml", DURATION_RANGE),
    ("consumer-efo-advantage-51.toml", "counts fan-out consumers across the list, by stream.mode"),
    ("consumer-efo-poll-interval.toml", KIND_KEY),
    ("consumer-efo-too-many.toml", "counts fan-out consumers across the list"),
    ("consumer-firehose-buffer-200mib.toml", SIZE_RANGE),
    ("consumer-join-after-end.toml", "compared with `duration`: a cross-field rule"),
    ("consumer-kcl-failure-worker-huge.toml", "compared with `workers`: a cross-field rule"),
    ("consumer-kcl-fan-out-21st.toml", "counts fan-out consumers across the list"),
    ("consumer-lambda-poll-interval.toml", KIND_KEY),
    ("consumer-lambda-processing.toml", KIND_KEY),
    ("consumer-names-duplicated.toml", "names must be unique across the list"),
    ("consumer-processing-rate-nan.toml", NAN),
    ("consumer-push-latency-on-polling.toml", KIND_KEY),
    ("consumer-timestamp-centuries-after-start.toml", "compared with `start`: a cross-field rule"),
    ("duration-duplicated.toml", NOT_TOML),
    ("duration-overflow.toml", DURATION_RANGE),
    ("expect-max-nan.toml", NAN),
    ("expect-min-above-max.toml", "compares `min` with `max`: a cross-field rule"),
    ("expect-unknown-consumer.toml", "names a consumer of the file: a cross-field rule"),
    ("metrics-period-not-multiple-of-step.toml", "a whole number of `step`s: a cross-field rule"),
    ("not-toml.toml", NOT_TOML),
    ("not-utf8.toml", NOT_TOML),
    ("policy-external-no-command.toml", "required only for one kind of policy: a cross-field rule"),
    ("policy-iter-age-veto-seconds.toml", "whole minutes: arithmetic on a duration's value"),
    ("policy-key-of-other-kind.toml", KIND_KEY),
    ("policy-on-demand-stream.toml", "compared with stream.mode: a cross-field rule"),
    ("policy-range-misses-stream-shards.toml", "compared with stream.shards: a cross-field rule"),
    ("policy-scaling-utils-config-missing.toml", MISSING_FILE),
    ("policy-schedule-not-from-zero.toml", DURATION_RANGE),
    ("policy-scheduled-repeat-before-last.toml", "compared with the schedule: a cross-field rule"),
    ("policy-step-max-below-min.toml", "compared with min_shards: a cross-field rule"),
    ("policy-thresholds-crossed.toml", "compared with up_threshold: a cross-field rule"),
    ("pricing-file-missing.toml", MISSING_FILE),
    ("producer-keys-hash-key-2-pow-128.toml", "2^128 has 39 digits like valid keys: a numeric bound on a string"),
    ("producer-names-duplicated.toml", "names must be unique across the list"),
    ("producer-rate-diurnal-amplitude-nan.toml", NAN),
    ("producer-rate-nan.toml", NAN),
    ("producer-rate-steps-inf.toml", NAN),
    ("producer-record-size-2gib.toml", SIZE_RANGE),
    ("producer-record-size-lognormal-median-above-max.toml", "compared with min and max: a cross-field rule"),
    ("producer-retry-cap-below-base.toml", "compared with base: a cross-field rule"),
    ("producer-sdk-retry-with-put-records.toml", "depends on the producer's api: a cross-field rule"),
    ("producer-trace-file-missing.toml", MISSING_FILE),
    ("record-mode-back-pressure.toml", RECORD_MODE),
    ("record-mode-bursty-cv.toml", RECORD_MODE),
    ("record-mode-kpl.toml", RECORD_MODE),
    ("record-mode-on-demand-ceiling.toml", RECORD_MODE),
    ("record-mode-outage.toml", RECORD_MODE),
    ("record-mode-rate-too-high.toml", RECORD_MODE),
    ("record-flushes-unbounded.toml", "rates times attempts and linger against a bound: arithmetic across keys"),
    (
        "record-waiting-unbounded.toml",
        "rates times the longest retry wait against a bound: arithmetic across producers",
    ),
    ("retry-base-zero.toml", DURATION_RANGE),
    ("start-february-30.toml", "a day that does not exist: calendar arithmetic"),
    ("step-not-divisor.toml", "divides one second: arithmetic on a duration's value"),
    ("stream-large-records-fixed-window.toml", "depends on stream.max_record_size: a cross-field rule"),
    ("stream-on-demand-split-delay-week.toml", DURATION_RANGE),
    ("stream-reshard-duration-days.toml", DURATION_RANGE),
    ("stream-retention-12h.toml", DURATION_RANGE),
    ("stream-shards-beyond-i64.toml", NOT_TOML),
    ("stream-shards-duplicated.toml", NOT_TOML),
    ("stream-warm-throughput-not-advantage.toml", "needs stream.mode = \"on_demand_advantage\": a cross-field rule"),
    ("trace-bad-timestamp.toml", TRACE),
    ("trace-conflicting-duplicate.toml", TRACE),
    ("trace-empty.toml", TRACE),
    ("trace-header-only.toml", TRACE),
    ("trace-negative-count.toml", TRACE),
    ("trace-no-time-column.toml", TRACE),
    ("trace-non-numeric.toml", TRACE),
    ("trace-off-grid.toml", TRACE),
    ("trace-period-overflow.toml", TRACE),
    ("trace-ragged.toml", TRACE),
    ("trace-time-nan.toml", TRACE),
    ("trace-uneven.toml", TRACE),
    ("trace-utf16.toml", TRACE),
];

const NAN: &str = "a NaN or infinite number, which JSON cannot hold";
const NOT_TOML: &str = "not TOML (or not UTF-8): the editor's TOML parser flags it before any schema";
const DURATION_RANGE: &str = "a duration's value: the schema checks a duration string's form, not its length";
const SIZE_RANGE: &str = "a size string's value: the schema checks its form, not the bytes it means";
const KIND_KEY: &str = "a key of another kind: which keys a kind takes is a cross-field rule";
const MISSING_FILE: &str = "a file that does not exist: the schema sees only the experiment";
const RECORD_MODE: &str = "what fidelity = \"record\" does not model: a rule across fidelity and other keys";
const TRACE: &str = "the mistake is in the trace CSV the experiment names, not in the experiment";

/// Every malformed file is either rejected by the schema or listed in
/// [`BEYOND_THE_SCHEMA`]; a listed file must pass the schema (or have no JSON form), so
/// the list shrinks when the schema learns a check. Every file whose loader message is
/// about shape (an unknown key or kind, a wrong type, a missing key) is rejected.
#[test]
fn every_malformed_file_is_rejected_by_the_schema_or_listed_with_a_reason() {
    let schema = schema();
    let mut problems = Vec::new();
    let mut rejected = 0;
    let files = toml_files("tests/data/malformed");
    for (name, reason) in BEYOND_THE_SCHEMA {
        assert!(!reason.is_empty());
        if !files.iter().any(|path| path.file_name().unwrap() == *name) {
            problems.push(format!("{name} is listed but is not in tests/data/malformed"));
        }
    }
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let listed = BEYOND_THE_SCHEMA.iter().find(|(listed, _)| *listed == name);
        let passes = as_json(path).map(|value| valid(&schema, &schema, &value));
        match (passes, listed) {
            (Some(false), None) => rejected += 1,
            (Some(false), Some(_)) => {
                problems.push(format!("{name}: the schema rejects it now: remove it from BEYOND_THE_SCHEMA"))
            }
            (Some(true), None) => problems.push(format!(
                "{name}: the schema accepts it: add the check to src/raw.rs, or list it in BEYOND_THE_SCHEMA with why a schema cannot"
            )),
            (None, None) => problems.push(format!("{name}: has no JSON form: list it in BEYOND_THE_SCHEMA")),
            (_, Some(_)) => {}
        }
        if passes == Some(true) {
            let output = common::kinesim().arg("validate").arg(path).output().unwrap();
            let message = String::from_utf8_lossy(&output.stderr).to_string();
            let structural = ["unknown field", "unknown variant", "unknown kind", "invalid type", "missing field"];
            if structural.iter().any(|s| message.contains(s)) {
                problems.push(format!("{name}: a mistake of shape that the schema accepts: {message}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(rejected >= 45, "{rejected} files rejected by the schema");
}

/// The bounds written into the schema are the loader's: a value at each end of a range
/// passes both, one beyond it fails both.
#[test]
fn the_schema_bounds_are_the_loaders() {
    let schema = schema();
    let base = "duration = \"1m\"\n[stream]\nshards = 2\n";
    let cases = [
        ("[stream]\nshards = 1", true),
        ("[stream]\nshards = 100000", true),
        ("[stream]\nshards = 100001", false),
        ("[output]\nhot_keys = 1000", true),
        ("[output]\nhot_keys = 1001", false),
        ("[output]\nshards = \"off\"", true),
        ("[output]\nshards = \"never\"", false),
        ("[[producers]]\nname = \"p\"\nrate = 1e9", true),
        ("[[producers]]\nname = \"p\"\nrate = 2e9", false),
        ("[[producers]]\nname = \"p.q_r-1\"\nrate = 1", true),
        ("[[producers]]\nname = \"..\"\nrate = 1", false),
        ("[[producers]]\nname = \"p\"\nrate = 1\nkeys = { kind = \"hot\", count = 10, hot = 10, share = 1.0 }", true),
        ("[[producers]]\nname = \"p\"\nrate = 1\nkeys = { kind = \"zipf\", count = 10, exponent = 10.5 }", false),
        ("[[producers]]\nname = \"p\"\nrate = 1\nretry = { kind = \"sdk_standard\", max_attempts = 100 }", true),
        ("[[producers]]\nname = \"p\"\nrate = 1\nretry = { kind = \"sdk_standard\", max_attempts = 101 }", false),
        ("[[producers]]\nname = \"p\"\nrate = 1\nrecord_size = 1073741824", true),
        ("[[producers]]\nname = \"p\"\nrate = 1\nrecord_size = 1073741825", false),
        ("[[consumers]]\nname = \"c\"\nkind = \"lambda\"\nfunction_duration = \"1s\"\nmax_retry_attempts = -1", true),
        ("[[consumers]]\nname = \"c\"\nkind = \"lambda\"\nfunction_duration = \"1s\"\nmax_retry_attempts = -2", false),
        ("[[consumers]]\nname = \"c\"\nkind = \"lambda\"\nfunction_duration = \"1s\"\nerror_rate = 1.0", true),
        ("[[consumers]]\nname = \"c\"\nkind = \"lambda\"\nfunction_duration = \"1s\"\nerror_rate = 1.5", false),
        ("[[consumers]]\nname = \"c\"\nkind = \"kcl\"\nkcl_version = 3", true),
        ("[[consumers]]\nname = \"c\"\nkind = \"kcl\"\nkcl_version = 4", false),
        ("[[consumers]]\nname = \"c\"\nkind = \"polling\"\nstart = \"at_timestamp\"\ntimestamp = \"5m\"", true),
        ("[[consumers]]\nname = \"c\"\nkind = \"polling\"\nstart = \"at_timestamp\"\ntimestamp = \"soon\"", false),
        ("[policy]\nkind = \"target_tracking\"\ntarget_pct = 100", true),
        ("[policy]\nkind = \"target_tracking\"\ntarget_pct = 0", false),
        ("[policy]\nkind = \"target_tracking\"\nout_datapoints = 1440\nin_datapoints = 1", true),
        ("[policy]\nkind = \"target_tracking\"\nout_datapoints = 1441", false),
        ("[policy]\nkind = \"target_tracking\"\nin_datapoints = 0", false),
        ("[policy]\nkind = \"target_tracking\"\nin_ratio = 1.0", true),
        ("[policy]\nkind = \"target_tracking\"\nin_ratio = 0", false),
        ("[sweep]\nreplications = 2\n[sweep.grid]\n\"stream.shards\" = [1, 2]", true),
        ("[sweep]\nreplications = 0\n[sweep.grid]\n\"stream.shards\" = [1, 2]", false),
        ("[sweep]\nreplicas = 2", false),
        ("[sweep.grid]\n\"stream.shards\" = []", false),
    ];
    let folder = common::scratch("schema-bounds");
    for (index, (extra, ok)) in cases.into_iter().enumerate() {
        // `[stream]` in the extra text replaces the base's.
        let text = if extra.starts_with("[stream]") {
            format!("duration = \"1m\"\n{extra}\n")
        } else {
            format!("{base}{extra}\n")
        };
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let value = serde_json::to_value(table).unwrap();
        assert_eq!(valid(&schema, &schema, &value), ok, "the schema on:\n{text}");
        // `kinesim validate` checks a `[sweep]` section as `kinesim sweep` would.
        let file = folder.join(format!("case-{index}.toml"));
        std::fs::write(&file, &text).unwrap();
        let output = common::kinesim().arg("validate").arg(&file).output().unwrap();
        assert_eq!(
            output.status.success(),
            ok,
            "kinesim validate on:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
