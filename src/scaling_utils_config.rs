//! awslabs/amazon-kinesis-scaling-utils configuration files, read unchanged
//! (reference/scaling-policies.md §1.1 "Configuration schema").
//!
//! The file is a JSON array of stream monitors; one is selected by `streamName` and
//! becomes a [`ScalingUtilsSpec`]. The tool reads it with Jackson's default
//! `ObjectMapper` into `AutoscalingConfiguration[]`, so this reader accepts what that
//! accepts and rejects what it rejects:
//!
//! * unknown fields are errors (`FAIL_ON_UNKNOWN_PROPERTIES` is on by default and the
//!   classes do not opt out);
//! * a repeated key keeps its last value (Jackson's default, and serde_json's into a
//!   `Value`), as in the README's percent example that repeats `scaleAfterMins`;
//! * integers may be written as JSON numbers or as strings of digits (Jackson coerces
//!   `"300"`); a number with a fraction is refused (Jackson would truncate it);
//! * `null` is refused with a hint to leave the key out (Jackson would read `0` into
//!   the primitive setters of `ScalingConfig`);
//! * `region` and `notificationARN` are accepted and ignored (no AWS here).
//!
//! Validation adds what the tool checks (`AutoscalingConfiguration.validate`: a stream
//! name, at least one of `scaleUp`/`scaleDown`, `minShards` ≤ `maxShards`) and what it
//! would otherwise fail on at run time or never act on: thresholds 0–100 with the up
//! threshold above the down one, `scaleAfterMins` ≥ 1, a step (`scaleCount` or
//! `scalePct`, each ≥ 1), `minShards` ≥ 1, `maxShards` ≤ 10 000, `checkInterval` ≥ 1.
//! The tool's `validate` also rejects a rule without `scalePct` even when it has a
//! `scaleCount` (§1.1 "Quirk"); the README's count-only examples are accepted here.

use std::path::Path;

use kinesim_models::policy::scaling_utils::{ScaleRule, ScalingUtilsSpec};
use serde_json::{Map, Value};

use crate::error::LoadError;

/// The longest run in seconds ([`crate::experiment::DURATION_MAX`]): the bound of the
/// tool's intervals.
const RUN_SECONDS_MAX: u64 = crate::experiment::DURATION_MAX.as_nanos() / kinesim_sim::NANOS_PER_SEC;

/// The keys of a stream monitor object.
const MONITOR_KEYS: [&str; 9] = [
    "streamName",
    "region",
    "scaleOnOperation",
    "minShards",
    "maxShards",
    "refreshShardsNumberAfterMin",
    "checkInterval",
    "scaleUp",
    "scaleDown",
];

/// The keys of a `scaleUp`/`scaleDown` object.
const RULE_KEYS: [&str; 6] =
    ["scaleThresholdPct", "scaleAfterMins", "scaleCount", "scalePct", "coolOffMins", "notificationARN"];

/// The most shards a stream may have (UpdateShardCount, §1.0).
const SHARDS_MAX: u64 = 10_000;

/// Reads the tool's configuration `text` (from `path`, named in errors) and returns the
/// monitor of `stream_name`, or the only monitor when no name is given. Every monitor
/// in the file is validated, as the tool refuses to start on any invalid one.
pub fn parse_scaling_utils_config(
    path: &Path,
    text: &str,
    stream_name: Option<&str>,
) -> Result<ScalingUtilsSpec, LoadError> {
    let value: Value = serde_json::from_str(text).map_err(|error| syntax_error(path, &error))?;
    let Value::Array(monitors) = value else {
        return Err(LoadError::invalid(
            path,
            "",
            "the file must be a JSON array of stream monitors (`[{\"streamName\": ...}]`), as the tool reads it",
        ));
    };
    if monitors.is_empty() {
        return Err(LoadError::invalid(path, "", "the array has no stream monitor; add one with a `streamName`"));
    }
    let parsed = monitors
        .iter()
        .enumerate()
        .map(|(index, monitor)| Reader { path, key: format!("[{index}]") }.monitor(monitor))
        .collect::<Result<Vec<(String, ScalingUtilsSpec)>, LoadError>>()?;
    let names = || parsed.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ");
    match stream_name {
        None if parsed.len() == 1 => Ok(parsed.into_iter().next().expect("one monitor").1),
        None => Err(LoadError::invalid(
            path,
            "",
            format!("the file has {} stream monitors ({}); name the stream to simulate", parsed.len(), names()),
        )),
        Some(wanted) => {
            let matching: Vec<usize> =
                parsed.iter().enumerate().filter(|(_, (name, _))| name == wanted).map(|(index, _)| index).collect();
            match matching[..] {
                [index] => Ok(parsed.into_iter().nth(index).expect("matched index").1),
                [] => Err(LoadError::invalid(
                    path,
                    "streamName",
                    format!("no stream monitor watches `{wanted}`; the file has {}", names()),
                )),
                _ => Err(LoadError::invalid(
                    path,
                    "streamName",
                    format!(
                        "{} stream monitors watch `{wanted}` ({}); keep one",
                        matching.len(),
                        matching.iter().map(|index| format!("[{index}]")).collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
    }
}

/// A JSON syntax error: `file:line: invalid JSON: <serde_json's message> (column c)`.
fn syntax_error(path: &Path, error: &serde_json::Error) -> LoadError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    LoadError::Invalid {
        path: path.to_path_buf(),
        key: String::new(),
        line: Some(error.line()),
        message: format!("invalid JSON: {message} (column {})", error.column()),
    }
}

/// Reads one object of the file; `key` is its path (`[0]`, `[0].scaleUp`).
struct Reader<'a> {
    path: &'a Path,
    key: String,
}

impl Reader<'_> {
    fn child(&self, name: &str) -> String {
        format!("{}.{name}", self.key)
    }

    fn error(&self, name: &str, message: impl Into<String>) -> LoadError {
        LoadError::invalid(self.path, self.child(name), message)
    }

    /// The object at `self.key`, its keys all among `allowed`.
    fn object<'v>(&self, value: &'v Value, what: &str, allowed: &[&str]) -> Result<&'v Map<String, Value>, LoadError> {
        let Value::Object(map) = value else {
            return Err(LoadError::invalid(self.path, &self.key, format!("{what} must be a JSON object")));
        };
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(self.error(
                unknown,
                format!(
                    "unknown field (the tool rejects unknown fields); the fields of {what} are {}",
                    allowed.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(map)
    }

    /// `(streamName, spec)` of a stream monitor.
    fn monitor(&self, value: &Value) -> Result<(String, ScalingUtilsSpec), LoadError> {
        let map = self.object(value, "a stream monitor", &MONITOR_KEYS)?;
        let stream_name = match map.get("streamName") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            Some(Value::String(_)) | None => {
                return Err(self.error("streamName", "required: the name of the stream the monitor watches"))
            }
            Some(other) => return Err(self.error("streamName", format!("must be a string, found {other}"))),
        };
        if let Some(region) = map.get("region") {
            if !region.is_string() {
                return Err(self.error("region", format!("must be a string such as \"us-east-1\", found {region}")));
            }
        }
        let (scale_on_put, scale_on_get) = self.operations(map.get("scaleOnOperation"))?;
        let min_shards = self.optional_integer(map, "minShards", 1, SHARDS_MAX)?;
        let max_shards = self.optional_integer(map, "maxShards", 1, SHARDS_MAX)?;
        if let (Some(min), Some(max)) = (min_shards, max_shards) {
            if max < min {
                return Err(self.error("maxShards", format!("must be at least minShards ({min}), found {max}")));
            }
        }
        // Bounded by the longest run: larger values would mean "never" and overflow time.
        let refresh_shards_after_min =
            self.optional_integer(map, "refreshShardsNumberAfterMin", 0, RUN_SECONDS_MAX / 60)?;
        let check_interval_s = self.optional_integer(map, "checkInterval", 1, RUN_SECONDS_MAX)?;
        let scale_up = self.optional_rule(map, "scaleUp")?;
        let scale_down = self.optional_rule(map, "scaleDown")?;
        if scale_up.is_none() && scale_down.is_none() {
            return Err(LoadError::invalid(
                self.path,
                &self.key,
                "the monitor needs at least one of `scaleUp` and `scaleDown`",
            ));
        }
        if let (Some(up), Some(down)) = (&scale_up, &scale_down) {
            if up.threshold_pct <= down.threshold_pct {
                return Err(LoadError::invalid(
                    self.path,
                    format!("{}.scaleUp.scaleThresholdPct", self.key),
                    format!(
                        "must be above scaleDown.scaleThresholdPct ({}), found {}",
                        down.threshold_pct, up.threshold_pct
                    ),
                ));
            }
        }
        let defaults = ScalingUtilsSpec::default();
        let spec = ScalingUtilsSpec {
            scale_on_put,
            scale_on_get,
            min_shards: min_shards.map(|n| n as u32),
            max_shards: max_shards.map(|n| n as u32),
            refresh_shards_after_min: refresh_shards_after_min.unwrap_or(defaults.refresh_shards_after_min),
            check_interval_s: check_interval_s.unwrap_or(defaults.check_interval_s),
            scale_up,
            scale_down,
            ..defaults
        };
        Ok((stream_name, spec))
    }

    /// `scaleOnOperation`: a list of `PUT`/`GET` (both when empty or absent). A single
    /// string, the form of the tool's releases before .9.5, is accepted too.
    fn operations(&self, value: Option<&Value>) -> Result<(bool, bool), LoadError> {
        let names: Vec<&Value> = match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::String(_)) => vec![single],
            Some(other) => {
                return Err(self.error(
                    "scaleOnOperation",
                    format!("must be a list of \"PUT\" and \"GET\", such as [\"PUT\", \"GET\"], found {other}"),
                ))
            }
        };
        let (mut put, mut get) = (false, false);
        for name in names {
            match name.as_str() {
                Some("PUT") => put = true,
                Some("GET") => get = true,
                _ => {
                    return Err(self.error(
                        "scaleOnOperation",
                        format!("the operations are \"PUT\" and \"GET\" (upper case), found {name}"),
                    ))
                }
            }
        }
        Ok(if put || get { (put, get) } else { (true, true) })
    }

    /// A `scaleUp`/`scaleDown` block, if present.
    fn optional_rule(&self, map: &Map<String, Value>, name: &str) -> Result<Option<ScaleRule>, LoadError> {
        let Some(value) = map.get(name) else { return Ok(None) };
        if value.is_null() {
            return Err(self.error(name, "null is not a rule; leave the key out instead"));
        }
        let reader = Reader { path: self.path, key: self.child(name) };
        let rule = reader.object(value, &format!("`{name}`"), &RULE_KEYS)?;
        let required = |key: &str, min: u64, max: u64, meaning: &str| {
            reader
                .optional_integer(rule, key, min, max)?
                .ok_or_else(|| reader.error(key, format!("required: {meaning}")))
        };
        let threshold_pct = required("scaleThresholdPct", 0, 100, "the utilisation threshold in percent, 0 to 100")?;
        let after_mins =
            required("scaleAfterMins", 1, u64::from(u32::MAX), "the minutes beyond the threshold needed to vote")?;
        let count = reader.optional_integer(rule, "scaleCount", 1, u64::from(u32::MAX))?;
        let pct = reader.optional_integer(rule, "scalePct", 1, u64::from(u32::MAX))?;
        if count.is_none() && pct.is_none() {
            return Err(LoadError::invalid(
                self.path,
                &reader.key,
                "the rule needs `scaleCount` (shards to add or remove) or `scalePct` (percent of the current count)",
            ));
        }
        let cool_off_mins = reader.optional_integer(rule, "coolOffMins", 0, u64::MAX)?.unwrap_or(0);
        if let Some(arn) = rule.get("notificationARN") {
            if !arn.is_string() {
                return Err(
                    reader.error("notificationARN", format!("must be a string (an SNS topic ARN), found {arn}"))
                );
            }
        }
        Ok(Some(ScaleRule {
            threshold_pct: threshold_pct as u32,
            after_mins: after_mins as u32,
            count: count.map(|n| n as u32),
            pct: pct.map(|n| n as u32),
            cool_off_mins,
        }))
    }

    /// An integer field within `[min, max]`, if present.
    fn optional_integer(
        &self,
        map: &Map<String, Value>,
        name: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, LoadError> {
        let Some(value) = map.get(name) else { return Ok(None) };
        let range = if max >= u64::from(u32::MAX) {
            format!("an integer of at least {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        let number = match value {
            Value::Null => {
                return Err(self.error(
                    name,
                    format!("null is not allowed (the tool would read it as 0); leave the key out or give {range}"),
                ))
            }
            Value::Number(number) => {
                if let Some(n) = number.as_u64() {
                    Some(n)
                } else if number.as_i64().is_some() {
                    None
                } else {
                    let float = number.as_f64().unwrap_or(f64::NAN);
                    if float.fract() != 0.0 {
                        return Err(self.error(name, format!("must be {range}, found {number} (a fraction)")));
                    }
                    (float >= 0.0 && float <= u64::MAX as f64).then_some(float as u64)
                }
            }
            Value::String(text) => match text.trim().parse::<i128>() {
                Ok(n) => u64::try_from(n).ok(),
                Err(_) => return Err(self.error(name, format!("must be {range}, found the string {value}"))),
            },
            other => return Err(self.error(name, format!("must be {range}, found {other}"))),
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(n) if n > max && max >= u64::from(u32::MAX) => {
                Err(self.error(name, format!("must be {range} and at most {max}, found {value}")))
            }
            _ => Err(self.error(name, format!("must be {range}, found {value}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinesim_models::policy::scaling_utils::Fidelity;

    const COUNT_BASED: &str = include_str!("../experiments/policies/scaling-utils/count-based.json");
    const PERCENT_BASED: &str = include_str!("../experiments/policies/scaling-utils/percent-based.json");
    const SHIPPED: &str = include_str!("../experiments/policies/scaling-utils/shipped.json");

    fn parse(text: &str) -> Result<ScalingUtilsSpec, LoadError> {
        parse_scaling_utils_config(Path::new("conf/autoscaling.json"), text, None)
    }

    /// The error text of `text`, which must fail.
    fn error(text: &str) -> String {
        parse(text).expect_err("the configuration must be rejected").to_string()
    }

    /// A one-monitor file whose monitor has `fields` (JSON object members) after a stream
    /// name and, unless `fields` mentions them, the rules of the count-based example.
    fn monitor(fields: &str) -> String {
        let mut members = vec![r#""streamName": "s""#.to_string()];
        if !fields.is_empty() {
            members.push(fields.to_string());
        }
        if !fields.contains("\"scaleUp\"") {
            members.push(r#""scaleUp": {"scaleThresholdPct": 75, "scaleAfterMins": 5, "scaleCount": 1}"#.into());
        }
        if !fields.contains("\"scaleDown\"") {
            members.push(r#""scaleDown": {"scaleThresholdPct": 25, "scaleAfterMins": 15, "scaleCount": 1}"#.into());
        }
        format!("[{{{}}}]", members.join(", "))
    }

    #[test]
    fn parses_the_count_based_example() {
        let spec = parse(COUNT_BASED).unwrap();
        assert_eq!(
            spec,
            ScalingUtilsSpec {
                scale_on_put: true,
                scale_on_get: true,
                min_shards: Some(1),
                max_shards: Some(16),
                refresh_shards_after_min: 5,
                check_interval_s: 300,
                scale_up: Some(ScaleRule {
                    threshold_pct: 75,
                    after_mins: 5,
                    count: Some(1),
                    pct: None,
                    cool_off_mins: 15
                }),
                scale_down: Some(ScaleRule {
                    threshold_pct: 25,
                    after_mins: 15,
                    count: Some(1),
                    pct: None,
                    cool_off_mins: 60
                }),
                publish_delay_s: 60,
                fidelity: Fidelity::AsImplemented,
            }
        );
        assert_eq!(spec.sample_window_minutes(), 15);
    }

    #[test]
    fn parses_the_percent_based_example_keeping_the_last_repeated_key() {
        assert_eq!(PERCENT_BASED.matches("\"scaleAfterMins\"").count(), 3, "the README's repeated key");
        let spec = parse(PERCENT_BASED).unwrap();
        let up = spec.scale_up.as_ref().unwrap();
        assert_eq!((up.threshold_pct, up.after_mins, up.count, up.pct, up.cool_off_mins), (75, 5, None, Some(150), 15));
        let down = spec.scale_down.as_ref().unwrap();
        assert_eq!(
            (down.threshold_pct, down.after_mins, down.count, down.pct, down.cool_off_mins),
            (25, 15, None, Some(25), 60),
            "the second scaleAfterMins (15) wins over the first (5)"
        );
        assert_eq!((spec.min_shards, spec.max_shards, spec.refresh_shards_after_min), (Some(1), Some(16), 5));
    }

    #[test]
    fn parses_the_shipped_configuration() {
        let spec = parse(SHIPPED).unwrap();
        assert_eq!((spec.scale_on_put, spec.scale_on_get), (true, true));
        assert_eq!((spec.min_shards, spec.max_shards), (Some(2), Some(16)));
        assert_eq!((spec.refresh_shards_after_min, spec.check_interval_s), (3, 300));
        assert_eq!(
            spec.scale_up,
            Some(ScaleRule { threshold_pct: 75, after_mins: 2, count: None, pct: Some(100), cool_off_mins: 5 })
        );
        assert_eq!(
            spec.scale_down,
            Some(ScaleRule { threshold_pct: 25, after_mins: 2, count: None, pct: Some(50), cool_off_mins: 2 })
        );
        let named = parse_scaling_utils_config(Path::new("shipped.json"), SHIPPED, Some("mil-dev-beaconEvents"));
        assert_eq!(named.unwrap(), spec);
    }

    #[test]
    fn defaults_apply_to_absent_fields() {
        let spec = parse(&monitor("")).unwrap();
        assert_eq!((spec.scale_on_put, spec.scale_on_get), (true, true), "no scaleOnOperation: both");
        assert_eq!((spec.min_shards, spec.max_shards), (None, None));
        assert_eq!((spec.refresh_shards_after_min, spec.check_interval_s), (10, 45));
        assert_eq!(spec.scale_down.as_ref().unwrap().cool_off_mins, 0);
        let spec = parse(&monitor(r#""scaleOnOperation": []"#)).unwrap();
        assert_eq!((spec.scale_on_put, spec.scale_on_get), (true, true), "empty: both");
        let spec = parse(&monitor(r#""scaleOnOperation": ["GET"]"#)).unwrap();
        assert_eq!((spec.scale_on_put, spec.scale_on_get), (false, true));
        let spec = parse(&monitor(r#""scaleOnOperation": "PUT""#)).unwrap();
        assert_eq!((spec.scale_on_put, spec.scale_on_get), (true, false), "the pre-.9.5 single string");
        // Jackson coerces strings of digits; whole-number floats are integers.
        let spec = parse(&monitor(r#""checkInterval": "300", "maxShards": 8.0"#)).unwrap();
        assert_eq!((spec.check_interval_s, spec.max_shards), (300, Some(8)));
        // Only one rule is fine.
        let spec = parse(
            r#"[{"streamName": "s", "scaleUp": {"scaleThresholdPct": 80, "scaleAfterMins": 1, "scalePct": 200}}]"#,
        )
        .unwrap();
        assert_eq!((spec.sample_window_minutes(), spec.scale_down), (1, None));
    }

    #[test]
    fn selects_the_monitor_by_stream_name() {
        let two = r#"[
            {"streamName": "a", "scaleUp": {"scaleThresholdPct": 75, "scaleAfterMins": 1, "scaleCount": 1}},
            {"streamName": "b", "scaleUp": {"scaleThresholdPct": 75, "scaleAfterMins": 2, "scaleCount": 3}}
        ]"#;
        let path = Path::new("two.json");
        let b = parse_scaling_utils_config(path, two, Some("b")).unwrap();
        assert_eq!(b.scale_up.unwrap().count, Some(3));
        let unnamed = parse_scaling_utils_config(path, two, None).unwrap_err().to_string();
        assert_eq!(unnamed, "two.json: the file has 2 stream monitors (`a`, `b`); name the stream to simulate");
        let unknown = parse_scaling_utils_config(path, two, Some("c")).unwrap_err().to_string();
        assert_eq!(unknown, "two.json: key `streamName`: no stream monitor watches `c`; the file has `a`, `b`");
        let twice = two.replace("\"b\"", "\"a\"");
        let duplicate = parse_scaling_utils_config(path, &twice, Some("a")).unwrap_err().to_string();
        assert!(duplicate.contains("2 stream monitors watch `a` ([0], [1])"), "{duplicate}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let text = "[\n  {\"streamName\": \"s\",\n   \"minShards\": 1\n   \"maxShards\": 4}\n]";
        assert_eq!(error(text), "conf/autoscaling.json:4: invalid JSON: expected `,` or `}` (column 4)",);
        assert!(error("[{\"streamName\": \"s\"").starts_with("conf/autoscaling.json:1: invalid JSON: EOF"));
    }

    #[test]
    fn rejects_each_invalid_field_with_its_key_path() {
        let cases: Vec<(String, &str)> = vec![
            (r#"{"streamName": "s"}"#.into(), "conf/autoscaling.json: the file must be a JSON array of stream monitors"),
            ("[]".into(), "conf/autoscaling.json: the array has no stream monitor"),
            ("[3]".into(), "key `[0]`: a stream monitor must be a JSON object"),
            (monitor(r#""snsArn": "arn:aws:sns:x""#), "key `[0].snsArn`: unknown field (the tool rejects unknown fields); the fields of a stream monitor are `streamName`"),
            (
                monitor(r#""scaleUp": {"scaleThresholdPct": 75, "scaleAfterMins": 1, "scaleCount": 1, "scaleBy": 2}"#),
                "key `[0].scaleUp.scaleBy`: unknown field (the tool rejects unknown fields); the fields of `scaleUp` are `scaleThresholdPct`",
            ),
            (r#"[{"scaleUp": {"scaleThresholdPct": 75, "scaleAfterMins": 1, "scaleCount": 1}}]"#.into(), "key `[0].streamName`: required"),
            (monitor(r#""scaleOnOperation": ["put"]"#), "key `[0].scaleOnOperation`: the operations are \"PUT\" and \"GET\" (upper case), found \"put\""),
            (monitor(r#""scaleOnOperation": 1"#), "key `[0].scaleOnOperation`: must be a list of \"PUT\" and \"GET\""),
            (r#"[{"streamName": "s", "region": "eu-west-1"}]"#.into(), "key `[0]`: the monitor needs at least one of `scaleUp` and `scaleDown`"),
            (
                monitor(r#""scaleUp": {"scaleThresholdPct": 120, "scaleAfterMins": 1, "scaleCount": 1}"#),
                "key `[0].scaleUp.scaleThresholdPct`: must be an integer from 0 to 100, found 120",
            ),
            (
                monitor(r#""scaleUp": {"scaleThresholdPct": 20, "scaleAfterMins": 1, "scaleCount": 1}"#),
                "key `[0].scaleUp.scaleThresholdPct`: must be above scaleDown.scaleThresholdPct (25), found 20",
            ),
            (
                monitor(r#""scaleUp": {"scaleAfterMins": 1, "scaleCount": 1}"#),
                "key `[0].scaleUp.scaleThresholdPct`: required: the utilisation threshold in percent, 0 to 100",
            ),
            (
                monitor(r#""scaleDown": {"scaleThresholdPct": 25, "scaleAfterMins": 0, "scalePct": 50}"#),
                "key `[0].scaleDown.scaleAfterMins`: must be an integer of at least 1, found 0",
            ),
            (
                monitor(r#""scaleDown": {"scaleThresholdPct": 25, "scaleAfterMins": 5, "coolOffMins": 5}"#),
                "key `[0].scaleDown`: the rule needs `scaleCount` (shards to add or remove) or `scalePct`",
            ),
            (
                monitor(r#""scaleDown": {"scaleThresholdPct": 25, "scaleAfterMins": 5, "scaleCount": 0}"#),
                "key `[0].scaleDown.scaleCount`: must be an integer of at least 1, found 0",
            ),
            (
                monitor(r#""scaleDown": {"scaleThresholdPct": 25, "scaleAfterMins": 5, "scalePct": -50}"#),
                "key `[0].scaleDown.scalePct`: must be an integer of at least 1, found -50",
            ),
            (monitor(r#""scaleDown": null"#), "key `[0].scaleDown`: null is not a rule; leave the key out instead"),
            (monitor(r#""minShards": 0"#), "key `[0].minShards`: must be an integer from 1 to 10000, found 0"),
            (monitor(r#""maxShards": 10001"#), "key `[0].maxShards`: must be an integer from 1 to 10000, found 10001"),
            (monitor(r#""minShards": 8, "maxShards": 4"#), "key `[0].maxShards`: must be at least minShards (8), found 4"),
            (monitor(r#""checkInterval": 0"#), "key `[0].checkInterval`: must be an integer from 1 to 34560000, found 0"),
            (monitor(r#""checkInterval": 2.5"#), "key `[0].checkInterval`: must be an integer from 1 to 34560000, found 2.5 (a fraction)"),
            (monitor(r#""checkInterval": "soon""#), "key `[0].checkInterval`: must be an integer from 1 to 34560000, found the string \"soon\""),
            (monitor(r#""checkInterval": 18446744074"#), "key `[0].checkInterval`: must be an integer from 1 to 34560000, found 18446744074"),
            (monitor(r#""minShards": null"#), "key `[0].minShards`: null is not allowed (the tool would read it as 0)"),
            (monitor(r#""refreshShardsNumberAfterMin": true"#), "key `[0].refreshShardsNumberAfterMin`: must be an integer from 0 to 576000, found true"),
            (monitor(r#""region": 1"#), "key `[0].region`: must be a string such as \"us-east-1\", found 1"),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(message.contains(expected), "{text}\n  gave {message}\n  expected {expected}");
            assert!(message.starts_with("conf/autoscaling.json"), "{message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
        // An invalid monitor fails the file even when another one is selected.
        let text =
            format!("[{}, {}]", &monitor("")[1..monitor("").len() - 1], r#"{"streamName": "t", "minShards": 0}"#);
        let message = parse_scaling_utils_config(Path::new("f.json"), &text, Some("s")).unwrap_err().to_string();
        assert!(message.starts_with("f.json: key `[1].minShards`"), "{message}");
    }

    #[test]
    fn count_only_rules_are_accepted_unlike_the_tool_s_validate() {
        let spec = parse(&monitor("")).unwrap();
        assert_eq!(spec.scale_up.unwrap().pct, None);
        assert_eq!(spec.scale_down.unwrap().count, Some(1));
    }
}
