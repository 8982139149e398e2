//! Loading an experiment file: TOML text to a validated [`ExperimentSpec`].
//!
//! Two stages, as in ripgrep's argument handling: serde reads the text into the raw
//! shapes of `raw.rs` (rejecting unknown keys and wrong types, with the key path from
//! `serde_path_to_error` and the line from the TOML parser), then `Validator` checks
//! meanings and bounds and builds the spec. Every rejection is one `LoadError` naming
//! the file, the key and what is allowed; nothing is clamped silently.

use crate::error::LoadError;
use crate::raw::INNER_PATH_MARK;
use crate::raw::*;
use kinesim_models::cost::{Billing, PriceTable, Proration};
use kinesim_models::engine::{RECORDS_WAITING_MAX, RECORD_BURSTY_CV_MAX, RECORD_RATE_MAX};
use kinesim_models::on_demand::{OnDemandSpec, NEW_STREAM_SHARDS, WARM_MIBPS_MAX};
use kinesim_models::policy::external::ExternalSpec;
use kinesim_models::policy::scaling_utils::Fidelity;
use kinesim_models::policy::{
    AlarmDoubleHalveSpec, PolicySpec, ScheduledSpec, StepSpec, TargetTrackingSpec, ALARM_DATAPOINTS_MAX,
};
use kinesim_models::retry::RetryModel;
use kinesim_models::routing::{parse_hash_key, HashRange, ShardId};
use kinesim_models::slo::{
    Expectation, Scope, CONSUMER_METRICS, CONSUMER_PERIOD_METRICS, PRODUCER_METRICS, STREAM_METRICS,
    STREAM_PERIOD_METRICS,
};
use kinesim_models::spec::*;
use kinesim_sim::{format_duration, SimDuration, NANOS_PER_SEC};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The longest window quiet shards coast: how long a window's records may wait to be
/// stored and read, bounded to what the agreement measurements cover (docs/model.md §11).
const COAST_WINDOW_MAX: SimDuration = SimDuration::from_secs(240);
/// How long they coast at a time unless `coast` says otherwise: the longest allowed.
/// Windows end at every period boundary anyway, so with minute periods this is a
/// minute; with hourly ones (a month's run) four minutes settle a quarter as often.
const COAST_WINDOW_DEFAULT: SimDuration = COAST_WINDOW_MAX;

const HOUR_NS: u64 = 3600 * NANOS_PER_SEC;
/// The largest record size a distribution may produce (records above the stream's
/// `max_record_size` are rejected by the producer, counted).
const RECORD_SIZE_MAX: u64 = 1 << 30;

/// The kinds of `[[actions]]`.
pub const ACTION_KINDS: [&str; 7] = [
    "split_shard",
    "merge_shards",
    "update_shard_count",
    "set_retention",
    "producer_outage",
    "set_mode",
    "warm_throughput",
];

/// The longest a record may wait for its retries: the sum of the upper ends of its
/// backoff windows, each reckoned from the longest sleep before it, as the retry model
/// draws them.
fn retry_wait_max_ns(model: &RetryModel) -> u64 {
    let (mut total_ns, mut sleep_ns) = (0u64, 0u64);
    for attempt in 1..model.max_attempts() {
        let Some(window) = model.next_window(attempt, sleep_ns) else { break };
        total_ns = total_ns.saturating_add(window.max_ns);
        sleep_ns = window.max_ns;
    }
    total_ns
}

/// The longest run accepted: 400 days.
pub const DURATION_MAX: SimDuration = SimDuration(400 * 24 * HOUR_NS);

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<ExperimentSpec, LoadError> {
    let (_, text) = read(path)?;
    parse(path, &text)
}

/// The bytes of an experiment file and its text, which must be UTF-8.
pub fn read(path: &Path) -> Result<(Vec<u8>, String), LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    let text =
        String::from_utf8(bytes.clone()).map_err(|_| LoadError::invalid(path, "", "the file is not UTF-8 text"))?;
    Ok((bytes, text))
}

/// The name standard input goes by in messages when the experiment file is `-`
/// (`kinesim run -`, `kinesim validate -`).
pub const STDIN_NAME: &str = "<stdin>";

/// The experiment a command line names: the file at `arg`, or standard input when `arg`
/// is `-`. Returns the path messages name (`<stdin>` for standard input, whose relative
/// paths then resolve against the current folder), the bytes and the text.
pub fn read_arg(arg: &Path) -> Result<(PathBuf, Vec<u8>, String), LoadError> {
    if arg != Path::new("-") {
        let (bytes, text) = read(arg)?;
        return Ok((arg.to_path_buf(), bytes, text));
    }
    let path = PathBuf::from(STDIN_NAME);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .map_err(|source| LoadError::Read { path: path.clone(), source })?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| LoadError::invalid(&path, "", "standard input is not UTF-8 text"))?;
    Ok((path, bytes, text))
}

/// Validates experiment text as if read from `path` (relative paths inside resolve
/// against its folder).
pub fn parse(path: &Path, text: &str) -> Result<ExperimentSpec, LoadError> {
    let raw = deserialize(path, text)?;
    Validator { path, folder: path.parent().map(Path::to_path_buf).unwrap_or_default() }.experiment(raw)
}

fn deserialize(path: &Path, text: &str) -> Result<RawExperiment, LoadError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let outer = error.path().to_string();
        let inner = error.inner();
        let line = inner.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let mut message = inner.message().trim().replace('\n', " ");
        let mut key = if outer == "." { String::new() } else { outer };
        // A bad field inside a `kind` table carries its own path (see raw::tagged).
        if let Some((inner_path, rest)) = split_inner_path(&message) {
            key = join_key(&key, &inner_path);
            message = rest;
        }
        message = readable_types(&message.replace("unknown variant", "unknown kind"));
        if let Some(field) = missing_field(&message) {
            key = join_key(&key, &field);
        } else if key.is_empty() {
            // Errors of the TOML syntax itself carry no serde path: name the key written
            // on the offending line, inside its table.
            key = line.map(|l| key_on_line(text, l)).unwrap_or_default();
            message = format!("not valid TOML: {message}");
        }
        LoadError::Invalid { path: path.to_path_buf(), key, line, message }
    })
}

/// serde names the loader's own types ("expected struct RawStream"): a user wrote TOML,
/// so say "a table" (and "a list of tables" for sequences of them).
fn readable_types(message: &str) -> String {
    let mut readable = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct Raw") {
        readable.push_str(&rest[..at]);
        let name_end = rest[at + "struct ".len()..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(rest.len(), |end| at + "struct ".len() + end);
        readable.push_str("a table");
        rest = &rest[name_end..];
    }
    readable.push_str(rest);
    readable.replace("sequence of a table", "list of tables")
}

fn split_inner_path(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix(INNER_PATH_MARK)?;
    let (inner_path, rest) = rest.split_once(INNER_PATH_MARK)?;
    Some((inner_path.to_string(), rest.to_string()))
}

fn join_key(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty() || inner.starts_with('[')) {
        (true, _) => inner.to_string(),
        (false, true) => format!("{outer}{inner}"),
        (false, false) => format!("{outer}.{inner}"),
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// The key assigned on a 1-based line (`name = ...`), prefixed by the table it sits in
/// (`[stream]` gives `stream.`, the second `[[producers]]` gives `producers[1].`).
fn key_on_line(text: &str, line: usize) -> String {
    let mut table = String::new();
    let mut array_counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for content in text.lines().take(line.saturating_sub(1)) {
        let content = content.trim();
        if let Some(name) = content.strip_prefix("[[").and_then(|c| c.split("]]").next()) {
            let count = array_counts.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *count);
            *count += 1;
        } else if let Some(name) = content.strip_prefix('[').and_then(|c| c.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let content = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    match content.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !key.contains('[') && !key.contains('#') => {
            join_key(&table, key.trim())
        }
        _ => String::new(),
    }
}

struct Validator<'a> {
    path: &'a Path,
    folder: PathBuf,
}

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::invalid(self.path, key, message)
    }

    fn experiment(&self, raw: RawExperiment) -> Result<ExperimentSpec, LoadError> {
        let name = match raw.name {
            Some(name) => {
                // The name becomes the default output folder: keep it a plain file name.
                self.check_name("name", &name)?;
                name
            }
            // Standard input has no file name: its outputs go to out/stdin.
            None if self.path == Path::new(STDIN_NAME) => "stdin".into(),
            None => {
                let stem =
                    self.path.file_stem().map_or_else(|| "experiment".into(), |s| s.to_string_lossy().into_owned());
                // The file name stands in for the name and becomes the default output
                // folder: `out/..` would be the current folder itself.
                if stem.is_empty() || stem == "." || stem == ".." {
                    return Err(self.err(
                        "name",
                        format!(
                            "is needed: the file name \"{stem}\" cannot stand in for it as the output folder's name"
                        ),
                    ));
                }
                stem
            }
        };
        let fidelity = match raw.fidelity.as_deref() {
            None | Some("stepped") => kinesim_models::spec::Fidelity::Stepped,
            Some("record") => kinesim_models::spec::Fidelity::Record,
            Some(other) => {
                return Err(self.err("fidelity", format!("allowed: \"stepped\", \"record\"; got \"{other}\"")));
            }
        };
        if fidelity == kinesim_models::spec::Fidelity::Record {
            self.record_mode_actions(&raw.actions)?;
        }
        let step = raw.step.map_or(SimDuration::from_secs(1), |d| d.0);
        if step.as_nanos() < 1_000_000 || NANOS_PER_SEC % step.as_nanos() != 0 {
            return Err(self.err("step", format!("must divide one second exactly and be at least 1ms (e.g. \"1s\", \"500ms\", \"100ms\"), got \"{}\"", format_duration(step))));
        }
        let duration = raw.duration.0;
        if duration.is_zero() || duration > DURATION_MAX {
            return Err(self
                .err("duration", format!("must be above 0 and at most 400d, got \"{}\"", format_duration(duration))));
        }
        self.multiple_of_step("duration", duration, step)?;
        let metrics_period = raw.metrics_period.map_or(SimDuration::from_secs(60), |d| d.0);
        self.multiple_of_step("metrics_period", metrics_period, step)?;
        let coast_window = self.coast_window(raw.coast.as_deref(), fidelity, step)?;
        let output = self.output(raw.output, step, metrics_period)?;
        let start_unix_s = match raw.start.as_deref() {
            None => 0,
            Some(text) => match crate::time::parse_rfc3339_nanos(text) {
                Some((seconds, 0)) => seconds,
                Some(_) => return Err(self.err("start", format!("must be on a whole second, got \"{text}\""))),
                None => {
                    return Err(self.err(
                        "start",
                        format!("expected an RFC 3339 time such as \"2026-03-02T00:00:00Z\", got \"{text}\""),
                    ))
                }
            },
        };
        let encryption = raw.stream.encryption.clone();
        let write_ceiling_set = raw.stream.on_demand.as_ref().is_some_and(|o| o.write_max_mibps.is_some());
        if fidelity == kinesim_models::spec::Fidelity::Record && write_ceiling_set {
            // Record mode admits each record against its shard alone.
            return Err(self.err(
                "stream.on_demand.write_max_mibps",
                "the stream-wide write ceiling is modelled with fidelity = \"stepped\" only (remove it, or use stepped mode)",
            ));
        }
        let stream = self.stream(raw.stream)?;
        let consumer_rows = output.consumers_period.is_some();
        let producer_names: Vec<String> = raw.producers.iter().map(|p| p.name.clone()).collect();
        let actions = self.actions(raw.actions, &stream, duration, &producer_names)?;
        let producers = self.producers(raw.producers, step, raw.start.is_some().then_some(start_unix_s))?;
        if fidelity == kinesim_models::spec::Fidelity::Record {
            self.record_mode_producers(&producers)?;
            self.record_mode_waiting(&producers, duration, step)?;
        }
        let record_bytes_min = producers
            .iter()
            .map(|p| kinesim_models::sizes::SizeModel::new(&p.record_size).min_bytes().max(1))
            .min()
            .unwrap_or(1);
        let consumers = self.consumers(
            raw.consumers,
            stream.mode,
            duration,
            raw.start.is_some().then_some(start_unix_s),
            record_bytes_min,
        )?;
        let expectations = self.expectations(raw.expect, &producers, &consumers, consumer_rows)?;
        let policy = raw.policy.map(|policy| self.policy(policy)).transpose()?;
        if policy.is_some() && stream.mode.is_on_demand() {
            return Err(self.err(
                "policy",
                format!("scaling policies are for provisioned streams; stream.mode is \"{}\"", stream.mode.name()),
            ));
        }
        if let Some(PolicySpec::Step(StepSpec { min_shards, max_shards, .. }))
        | Some(PolicySpec::TargetTracking(TargetTrackingSpec { min_shards, max_shards, .. })) = &policy
        {
            // A scalable target's range holds the stream it starts from: outside it, the
            // first alarm moves the stream to the range, whatever its load.
            if !(*min_shards..=*max_shards).contains(&stream.shards) {
                let key = if stream.shards > *max_shards { "policy.max_shards" } else { "policy.min_shards" };
                return Err(self.err(
                    key,
                    format!(
                        "the policy's range {min_shards} to {max_shards} shards (min_shards, max_shards) must hold stream.shards ({})",
                        stream.shards
                    ),
                ));
            }
        }
        let applications = (producers.len() + consumers.len()) as u32;
        let cost = self.cost(raw.pricing, encryption.as_deref(), applications)?;
        Ok(ExperimentSpec {
            cost,
            name,
            seed: raw.seed.unwrap_or(0),
            duration,
            start_unix_s,
            fidelity,
            step,
            coast_window,
            metrics_period,
            output,
            stream,
            expectations,
            producers,
            consumers,
            actions,
            policy,
        })
    }

    /// Record mode models PutRecord and PutRecords one record at a time; what has no
    /// per-record model yet is refused, never approximated (model.md §1).
    fn record_mode_producers(&self, producers: &[ProducerSpec]) -> Result<(), LoadError> {
        for (index, producer) in producers.iter().enumerate() {
            if matches!(producer.api, ApiSpec::Kpl(_)) {
                return Err(self.err(
                    format!("producers[{index}].api"),
                    "fidelity = \"record\" supports api = \"put_record\" and \"put_records\"; the KPL has no per-record model yet (use fidelity = \"stepped\")",
                ));
            }
            let peak = kinesim_models::rates::rate_max(&producer.rate);
            if peak > RECORD_RATE_MAX {
                return Err(self.err(
                    format!("producers[{index}].rate"),
                    format!("fidelity = \"record\" takes at most {RECORD_RATE_MAX} records/s per producer, and this rate reaches {peak} (use fidelity = \"stepped\")"),
                ));
            }
            if let Arrivals::Bursty { cv, .. } = producer.arrivals {
                if cv > RECORD_BURSTY_CV_MAX {
                    return Err(self.err(
                        format!("producers[{index}].arrivals.cv"),
                        format!("fidelity = \"record\" takes bursty arrivals with cv at most {RECORD_BURSTY_CV_MAX}, got {cv} (use fidelity = \"stepped\")"),
                    ));
                }
            }
            if producer.back_pressure.is_some() {
                return Err(self.err(
                    format!("producers[{index}].back_pressure"),
                    "fidelity = \"record\" has no per-record back-pressure model yet: remove back_pressure or use fidelity = \"stepped\"",
                ));
            }
        }
        Ok(())
    }

    /// Record mode holds every record waiting for its (re)try as its own queue entry, at
    /// most [`RECORDS_WAITING_MAX`] at once (64 bytes each, about 3.2 GB). Refuses a load
    /// that could pass that bound: at its peak rate, each producer's records may wait
    /// through every backoff of their attempts, plus the linger of a PutRecords buffer
    /// and one step; and each batch a buffer opens queues its linger's flush, so a
    /// linger holds up to one flush per instance plus one per `max_records` attempts.
    fn record_mode_waiting(
        &self,
        producers: &[ProducerSpec],
        duration: SimDuration,
        step: SimDuration,
    ) -> Result<(), LoadError> {
        let mut waiting_max = 0.0;
        for producer in producers {
            let (linger, max_records) = match producer.api {
                ApiSpec::PutRecords { linger, max_records, .. } => (linger, max_records),
                _ => (SimDuration::ZERO, 1),
            };
            let rate = kinesim_models::rates::rate_max(&producer.rate);
            let retry = RetryModel::new(&producer.retry);
            let seconds = |ns: u64| ns.min(duration.as_nanos()) as f64 / NANOS_PER_SEC as f64;
            let wait_ns = retry_wait_max_ns(&retry) + linger.as_nanos() + step.as_nanos();
            waiting_max += rate * seconds(wait_ns);
            if !linger.is_zero() {
                let attempts = f64::from(retry.max_attempts());
                let flushes = rate * attempts * seconds(linger.as_nanos()) / f64::from(max_records);
                waiting_max += f64::from(producer.instances) + flushes;
            }
        }
        if waiting_max > RECORDS_WAITING_MAX as f64 {
            return Err(self.err(
                "fidelity",
                format!("\"record\" could hold up to {waiting_max:.0} records and flushes waiting at once (the producers' peak rates times the longest a record can wait for its retries and buffers), and record mode holds at most {RECORDS_WAITING_MAX}: lower the rates, max_attempts or the backoff cap, shorten the run, or use fidelity = \"stepped\""),
            ));
        }
        Ok(())
    }

    /// Record mode has no per-record model of producer outages yet.
    fn record_mode_actions(&self, actions: &[RawAction]) -> Result<(), LoadError> {
        match actions.iter().position(|action| action.kind == "producer_outage") {
            Some(index) => Err(self.err(
                format!("actions[{index}].kind"),
                "fidelity = \"record\" supports every action but \"producer_outage\", which has no per-record model yet (use fidelity = \"stepped\")",
            )),
            None => Ok(()),
        }
    }

    /// `[pricing]`: the price table (built-in us-east-1, or a file), proration and the
    /// account's other on-demand traffic; and KMS when the stream is encrypted.
    fn cost(
        &self,
        raw: Option<RawPricing>,
        encryption: Option<&str>,
        applications: u32,
    ) -> Result<CostSpec, LoadError> {
        let kms_credential_sets = match encryption {
            None | Some("none") => 0,
            // Each producer and consumer application reads or writes with its own credentials.
            Some("kms") => applications.max(1),
            Some(other) => {
                return Err(self.err("stream.encryption", format!("allowed: \"none\", \"kms\"; got \"{other}\"")))
            }
        };
        let raw = raw.unwrap_or(RawPricing {
            file: None,
            proration: None,
            advantage_other_in_bytes_per_s: None,
            advantage_other_out_bytes_per_s: None,
        });
        let prices = match &raw.file {
            None => PriceTable::us_east_1(),
            Some(file) => {
                let path = self.path.parent().unwrap_or(Path::new("")).join(file);
                let text = std::fs::read_to_string(&path).map_err(|error| {
                    self.err("pricing.file", format!("cannot read the price file \"{}\": {error}", path.display()))
                })?;
                crate::pricing::parse_price_table(&path, &text)?
            }
        };
        let proration = match raw.proration.as_deref() {
            None | Some("per_second") => Proration::PerSecond,
            Some("per_started_hour") => Proration::PerStartedHour,
            Some(other) => {
                return Err(self.err(
                    "pricing.proration",
                    format!("allowed: \"per_second\", \"per_started_hour\"; got \"{other}\""),
                ))
            }
        };
        let billing = Billing {
            proration,
            advantage_other_in_bytes_per_s: raw.advantage_other_in_bytes_per_s.map_or(0, |s| s.0),
            advantage_other_out_bytes_per_s: raw.advantage_other_out_bytes_per_s.map_or(0, |s| s.0),
        };
        Ok(CostSpec { prices, billing, kms_credential_sets })
    }

    /// `[policy]`: the kinds available and their parameters (scaling-policies.md §1).
    fn policy(&self, raw: RawPolicy) -> Result<PolicySpec, LoadError> {
        let publish_delay = raw.publish_delay.map_or(SimDuration::from_secs(60), |d| d.0);
        if publish_delay.as_nanos() % NANOS_PER_SEC != 0 || publish_delay > SimDuration::from_secs(3600) {
            return Err(self.err(
                "policy.publish_delay",
                format!("must be whole seconds up to \"1h\", got \"{}\"", format_duration(publish_delay)),
            ));
        }
        let publish_delay_s = publish_delay.as_nanos() / NANOS_PER_SEC;
        // Each setting with the kinds it belongs to.
        let settings: [(&str, bool, &[&str]); 20] = [
            (
                "publish_delay",
                raw.publish_delay.is_some(),
                &["alarm_double_halve", "step", "target_tracking", "scaling_utils", "external"],
            ),
            ("command", raw.command.is_some(), &["external"]),
            ("timeout", raw.timeout.is_some(), &["external"]),
            ("config", raw.config.is_some(), &["scaling_utils"]),
            ("stream_name", raw.stream_name.is_some(), &["scaling_utils"]),
            ("fidelity", raw.fidelity.is_some(), &["scaling_utils"]),
            ("target_pct", raw.target_pct.is_some(), &["target_tracking"]),
            ("out_datapoints", raw.out_datapoints.is_some(), &["target_tracking"]),
            ("in_datapoints", raw.in_datapoints.is_some(), &["target_tracking"]),
            ("in_ratio", raw.in_ratio.is_some(), &["target_tracking"]),
            ("up_threshold", raw.up_threshold.is_some(), &["alarm_double_halve"]),
            ("down_threshold", raw.down_threshold.is_some(), &["alarm_double_halve"]),
            ("period", raw.period.is_some(), &["alarm_double_halve"]),
            ("threshold_pct", raw.threshold_pct.is_some(), &["step"]),
            ("min_shards", raw.min_shards.is_some(), &["step", "target_tracking"]),
            ("max_shards", raw.max_shards.is_some(), &["step", "target_tracking"]),
            ("cooldown", raw.cooldown.is_some(), &["step", "target_tracking"]),
            ("schedule", raw.schedule.is_some(), &["scheduled"]),
            ("repeat", raw.repeat.is_some(), &["scheduled"]),
            ("scale_down_min_iter_age", raw.scale_down_min_iter_age.is_some(), &["alarm_double_halve"]),
        ];
        const KINDS: [&str; 6] =
            ["scaling_utils", "alarm_double_halve", "step", "target_tracking", "scheduled", "external"];
        if !KINDS.contains(&raw.kind.as_str()) {
            let allowed: Vec<String> = KINDS.iter().map(|kind| format!("\"{kind}\"")).collect();
            return Err(self.err("policy.kind", format!("allowed: {}; got \"{}\"", allowed.join(", "), raw.kind)));
        }
        self.refuse_keys_of_other_kinds("policy", &settings, &raw.kind, None)?;
        if raw.kind == "scheduled" {
            return self.scheduled_policy(raw);
        }
        if raw.kind == "external" {
            return self.external_policy(raw, publish_delay_s);
        }
        if raw.kind == "scaling_utils" {
            return self.scaling_utils_policy(raw, publish_delay_s);
        }
        if raw.kind == "step" {
            return self.step_policy(raw, publish_delay_s);
        }
        if raw.kind == "target_tracking" {
            return self.target_tracking_policy(raw, publish_delay_s);
        }
        let defaults = AlarmDoubleHalveSpec::default();
        let up_threshold = raw.up_threshold.unwrap_or(defaults.up_threshold);
        let down_threshold = raw.down_threshold.unwrap_or(defaults.down_threshold);
        if !(up_threshold.is_finite() && up_threshold > 0.0) {
            return Err(self.err("policy.up_threshold", format!("must be above 0, got {}", shown(up_threshold))));
        }
        if !(down_threshold.is_finite() && down_threshold >= 0.0 && down_threshold < up_threshold) {
            return Err(self.err(
                "policy.down_threshold",
                format!("must be at least 0 and below up_threshold ({up_threshold}), got {}", shown(down_threshold)),
            ));
        }
        let period = raw.period.map_or(SimDuration::from_secs(300), |d| d.0);
        if period.as_nanos() % (60 * NANOS_PER_SEC) != 0 || period.is_zero() || period > SimDuration::from_secs(3600) {
            return Err(self.err(
                "policy.period",
                format!("must be whole minutes from \"1m\" to \"60m\", got \"{}\"", format_duration(period)),
            ));
        }
        let scale_down_min_iter_age_mins = match raw.scale_down_min_iter_age {
            None => None,
            Some(age) if age.0.as_nanos() % (60 * NANOS_PER_SEC) == 0 && !age.0.is_zero() => {
                Some((age.0.as_nanos() / (60 * NANOS_PER_SEC)) as f64)
            }
            Some(age) => {
                return Err(self.err(
                    "policy.scale_down_min_iter_age",
                    format!(
                        "must be whole minutes above zero (Terraform's \"30m\"), got \"{}\"",
                        format_duration(age.0)
                    ),
                ))
            }
        };
        Ok(PolicySpec::AlarmDoubleHalve(AlarmDoubleHalveSpec {
            period_minutes: (period.as_nanos() / (60 * NANOS_PER_SEC)) as u32,
            up_threshold,
            down_threshold,
            publish_delay_s,
            scale_down_min_iter_age_mins,
            ..defaults
        }))
    }

    /// `kind = "external"`: a user program (docs/external-policy.md).
    fn external_policy(&self, raw: RawPolicy, publish_delay_s: u64) -> Result<PolicySpec, LoadError> {
        let command = raw.command.unwrap_or_default();
        if command.first().map_or(true, |program| program.trim().is_empty()) {
            return Err(self.err(
                "policy.command",
                "is required for kind = \"external\": the program and its arguments, e.g. [\"kinesim-autoscaler-example\"]",
            ));
        }
        let timeout = raw.timeout.map_or(SimDuration::from_secs(5), |d| d.0);
        if timeout < SimDuration::from_millis(10) || timeout > SimDuration::from_secs(600) {
            return Err(self.err(
                "policy.timeout",
                format!("must be from \"10ms\" to \"10m\", got \"{}\"", format_duration(timeout)),
            ));
        }
        Ok(PolicySpec::External(ExternalSpec {
            command,
            working_dir: self.path.parent().map(Path::to_path_buf).unwrap_or_default(),
            answer_timeout_ms: timeout.as_nanos() / 1_000_000,
            publish_delay_s,
        }))
    }

    /// `kind = "scaling_utils"`: the tool's own JSON configuration file, unchanged
    /// (reference/scaling-policies.md §1.1); errors in it name that file and its key.
    fn scaling_utils_policy(&self, raw: RawPolicy, publish_delay_s: u64) -> Result<PolicySpec, LoadError> {
        let config = raw.config.ok_or_else(|| {
            self.err("policy.config", "is required for kind = \"scaling_utils\": the tool's JSON configuration file")
        })?;
        let config_path = self.path.parent().unwrap_or(Path::new("")).join(&config);
        let text = std::fs::read_to_string(&config_path).map_err(|error| {
            self.err("policy.config", format!("cannot read \"{}\": {error}", config_path.display()))
        })?;
        let mut spec =
            crate::scaling_utils_config::parse_scaling_utils_config(&config_path, &text, raw.stream_name.as_deref())?;
        spec.publish_delay_s = publish_delay_s;
        spec.fidelity = match raw.fidelity.as_deref() {
            None | Some("as_implemented") => Fidelity::AsImplemented,
            Some("as_documented") => Fidelity::AsDocumented,
            Some(other) => {
                return Err(self.err(
                    "policy.fidelity",
                    format!("allowed: \"as_implemented\", \"as_documented\"; got \"{other}\""),
                ))
            }
        };
        Ok(PolicySpec::ScalingUtils(spec))
    }

    /// `kind = "scheduled"`: desired shard counts from given times, optionally repeating.
    fn scheduled_policy(&self, raw: RawPolicy) -> Result<PolicySpec, LoadError> {
        let entries =
            raw.schedule.ok_or_else(|| self.err("policy.schedule", "is required for kind = \"scheduled\""))?;
        let mut schedule = Vec::with_capacity(entries.len());
        for (index, (from, shards)) in entries.into_iter().enumerate() {
            let key = format!("policy.schedule[{index}]");
            if from.0.as_nanos() % NANOS_PER_SEC != 0 {
                return Err(self.err(key, "times must be whole seconds"));
            }
            let from_s = from.0.as_nanos() / NANOS_PER_SEC;
            match schedule.last() {
                None if from_s != 0 => return Err(self.err(key, "the first entry must be at \"0s\"")),
                Some(&(previous_s, _)) if from_s <= previous_s => {
                    return Err(self.err(key, "times must increase from one entry to the next"))
                }
                _ => {}
            }
            if shards == 0 || shards > u64::from(SHARDS_MAX) {
                return Err(self.err(key, format!("shards must be between 1 and {SHARDS_MAX}, got {shards}")));
            }
            schedule.push((from_s, shards as u32));
        }
        let repeat_s = match raw.repeat {
            None => None,
            Some(repeat) => {
                let repeat_s = repeat.0.as_nanos() / NANOS_PER_SEC;
                let last_s = schedule.last().map_or(0, |&(from_s, _)| from_s);
                if repeat.0.as_nanos() % NANOS_PER_SEC != 0 || repeat_s <= last_s {
                    return Err(self.err(
                        "policy.repeat",
                        format!("must be whole seconds after the last schedule entry ({last_s} s)"),
                    ));
                }
                Some(repeat_s)
            }
        };
        if schedule.is_empty() {
            return Err(self.err("policy.schedule", "needs at least one [time, shards] entry"));
        }
        Ok(PolicySpec::Scheduled(ScheduledSpec { schedule, repeat_s }))
    }

    /// `kind = "step"`: Application Auto Scaling step scaling as in §1.3.
    fn step_policy(&self, raw: RawPolicy, publish_delay_s: u64) -> Result<PolicySpec, LoadError> {
        let defaults = StepSpec::default();
        let threshold_pct = raw.threshold_pct.unwrap_or(defaults.threshold_pct);
        if !(threshold_pct.is_finite() && threshold_pct > 0.0 && threshold_pct <= 100.0) {
            return Err(self.err(
                "policy.threshold_pct",
                format!("must be above 0 and at most 100, got {}", shown(threshold_pct)),
            ));
        }
        let (min_shards, max_shards) = self.shard_bounds(&raw, defaults.min_shards, defaults.max_shards)?;
        let cooldown_s = self.cooldown_s(&raw, defaults.cooldown_s)?;
        Ok(PolicySpec::Step(StepSpec { threshold_pct, min_shards, max_shards, cooldown_s, publish_delay_s }))
    }

    /// `kind = "target_tracking"`: Application Auto Scaling target tracking (§1.3).
    fn target_tracking_policy(&self, raw: RawPolicy, publish_delay_s: u64) -> Result<PolicySpec, LoadError> {
        let defaults = TargetTrackingSpec::default();
        let target_pct = raw.target_pct.unwrap_or(defaults.target_pct);
        if !(target_pct.is_finite() && target_pct > 0.0 && target_pct <= 100.0) {
            return Err(
                self.err("policy.target_pct", format!("must be above 0 and at most 100, got {}", shown(target_pct)))
            );
        }
        let out_datapoints =
            self.alarm_datapoints("policy.out_datapoints", raw.out_datapoints, defaults.out_datapoints)?;
        let in_datapoints = self.alarm_datapoints("policy.in_datapoints", raw.in_datapoints, defaults.in_datapoints)?;
        let in_ratio = raw.in_ratio.unwrap_or(defaults.in_ratio);
        if !(in_ratio.is_finite() && in_ratio > 0.0 && in_ratio <= 1.0) {
            return Err(self.err("policy.in_ratio", format!("must be above 0 and at most 1, got {}", shown(in_ratio))));
        }
        let (min_shards, max_shards) = self.shard_bounds(&raw, defaults.min_shards, defaults.max_shards)?;
        let cooldown_s = self.cooldown_s(&raw, defaults.out_cooldown_s)?;
        Ok(PolicySpec::TargetTracking(TargetTrackingSpec {
            target_pct,
            out_datapoints,
            in_datapoints,
            in_ratio,
            min_shards,
            max_shards,
            out_cooldown_s: cooldown_s,
            in_cooldown_s: cooldown_s,
            publish_delay_s,
        }))
    }

    /// An alarm's consecutive one-minute datapoints, 1 to a day's worth.
    fn alarm_datapoints(&self, key: &str, value: Option<u64>, default: usize) -> Result<usize, LoadError> {
        let Some(value) = value else { return Ok(default) };
        match usize::try_from(value) {
            Ok(count) if (1..=ALARM_DATAPOINTS_MAX).contains(&count) => Ok(count),
            _ => Err(self.err(key, format!("must be between 1 and {ALARM_DATAPOINTS_MAX} (minutes), got {value}"))),
        }
    }

    /// `min_shards` and `max_shards` of a scalable target.
    fn shard_bounds(&self, raw: &RawPolicy, min_default: u32, max_default: u32) -> Result<(u32, u32), LoadError> {
        let min_shards = raw.min_shards.unwrap_or(u64::from(min_default));
        let max_shards = raw.max_shards.unwrap_or(u64::from(max_default));
        if min_shards == 0 || min_shards > u64::from(SHARDS_MAX) {
            return Err(self.err("policy.min_shards", format!("must be between 1 and {SHARDS_MAX}, got {min_shards}")));
        }
        if max_shards < min_shards || max_shards > u64::from(SHARDS_MAX) {
            return Err(self.err(
                "policy.max_shards",
                format!("must be between min_shards ({min_shards}) and {SHARDS_MAX}, got {max_shards}"),
            ));
        }
        Ok((min_shards as u32, max_shards as u32))
    }

    fn cooldown_s(&self, raw: &RawPolicy, default_s: u64) -> Result<u64, LoadError> {
        let cooldown = raw.cooldown.as_ref().map_or(SimDuration::from_secs(default_s), |d| d.0);
        if cooldown.as_nanos() % NANOS_PER_SEC != 0 {
            return Err(self.err("policy.cooldown", "must be whole seconds"));
        }
        Ok(cooldown.as_nanos() / NANOS_PER_SEC)
    }

    /// An action's keys that belong to other kinds of action are refused by name, with
    /// the kinds they belong to (a stray key is a mistake, never silently unused).
    fn action_keys_for_kind(&self, key: &str, action: &RawAction) -> Result<(), LoadError> {
        // An unknown kind is reported as such by the caller.
        if !ACTION_KINDS.contains(&action.kind.as_str()) {
            return Ok(());
        }
        let fields: [(&str, bool, &[&str]); 10] = [
            ("shard", action.shard.is_some(), &["split_shard", "merge_shards"]),
            ("hash_key", action.hash_key.is_some(), &["split_shard"]),
            ("adjacent_shard", action.adjacent_shard.is_some(), &["merge_shards"]),
            ("target_shards", action.target_shards.is_some(), &["update_shard_count"]),
            ("retention", action.retention.is_some(), &["set_retention"]),
            ("producer", action.producer.is_some(), &["producer_outage"]),
            ("length", action.length.is_some(), &["producer_outage"]),
            ("catch_up_rate", action.catch_up_rate.is_some(), &["producer_outage"]),
            ("mode", action.mode.is_some(), &["set_mode"]),
            ("mibps", action.mibps.is_some(), &["warm_throughput"]),
        ];
        self.refuse_keys_of_other_kinds(key, &fields, &action.kind, None)
    }

    /// Scheduled actions, checked against the shard map they will meet: each split must
    /// name a shard that is open at that time and a hash key inside it.
    fn actions(
        &self,
        raw: Vec<RawAction>,
        stream: &StreamSpec,
        duration: SimDuration,
        producer_names: &[String],
    ) -> Result<Vec<ActionSpec>, LoadError> {
        let mut actions = Vec::with_capacity(raw.len());
        for (index, action) in raw.into_iter().enumerate() {
            let key = format!("actions[{index}]");
            if action.at.0 >= duration {
                return Err(self
                    .err(format!("{key}.at"), format!("must be before the run ends ({})", format_duration(duration))));
            }
            self.action_keys_for_kind(&key, &action)?;
            let shard_id = |field: &str, text: Option<String>| -> Result<ShardId, LoadError> {
                let text =
                    text.ok_or_else(|| self.err(format!("{key}.{field}"), format!("is required for {}", action.kind)))?;
                ShardId::parse(&text).ok_or_else(|| {
                    self.err(
                        format!("{key}.{field}"),
                        format!("expected a shard id such as \"shardId-000000000001\", got \"{text}\""),
                    )
                })
            };
            let kind = match action.kind.as_str() {
                "split_shard" => {
                    let shard = shard_id("shard", action.shard.clone())?;
                    let at_key = match action.hash_key.as_deref() {
                        None | Some("midpoint") => SplitAt::Midpoint,
                        Some("balanced") => SplitAt::Balanced,
                        Some(text) => SplitAt::Key(parse_hash_key(text).ok_or_else(|| {
                            self.err(
                                format!("{key}.hash_key"),
                                format!("expected \"midpoint\", \"balanced\" or a decimal hash key, got \"{text}\""),
                            )
                        })?),
                    };
                    ActionKind::SplitShard { shard, at_key }
                }
                "merge_shards" => ActionKind::MergeShards {
                    shard: shard_id("shard", action.shard.clone())?,
                    adjacent: shard_id("adjacent_shard", action.adjacent_shard.clone())?,
                },
                "producer_outage" => {
                    let producer = action
                        .producer
                        .clone()
                        .ok_or_else(|| self.err(format!("{key}.producer"), "is required for producer_outage"))?;
                    if !producer_names.contains(&producer) {
                        return Err(self.err(format!("{key}.producer"), format!("no producer is named \"{producer}\"")));
                    }
                    let length = action
                        .length
                        .ok_or_else(|| self.err(format!("{key}.length"), "is required for producer_outage"))?
                        .0;
                    let catch_up_rate = action.catch_up_rate.unwrap_or(f64::INFINITY);
                    if length.is_zero() {
                        return Err(self.err(format!("{key}.length"), "must be above 0"));
                    }
                    if catch_up_rate.is_nan() || catch_up_rate <= 0.0 {
                        return Err(self.err(
                            format!("{key}.catch_up_rate"),
                            "must be above 0 (records/s; leave it out to send everything at once)",
                        ));
                    }
                    ActionKind::ProducerOutage { producer, length, catch_up_rate: catch_up_rate.min(1e12) }
                }
                "set_retention" => {
                    let retention = action
                        .retention
                        .ok_or_else(|| self.err(format!("{key}.retention"), "is required for set_retention"))?
                        .0;
                    if retention.as_nanos() < 24 * HOUR_NS
                        || retention.as_nanos() > 8760 * HOUR_NS
                        || retention.as_nanos() % HOUR_NS != 0
                    {
                        return Err(self.err(
                            format!("{key}.retention"),
                            format!(
                                "must be whole hours from \"24h\" to \"8760h\", got \"{}\"",
                                format_duration(retention)
                            ),
                        ));
                    }
                    ActionKind::SetRetention { retention }
                }
                "set_mode" => {
                    let text = action
                        .mode
                        .as_deref()
                        .ok_or_else(|| self.err(format!("{key}.mode"), "is required for set_mode"))?;
                    ActionKind::SetMode { mode: self.capacity_mode(&format!("{key}.mode"), text)? }
                }
                "warm_throughput" => {
                    let mibps = action
                        .mibps
                        .ok_or_else(|| self.err(format!("{key}.mibps"), "is required for warm_throughput"))?;
                    if mibps > u64::from(WARM_MIBPS_MAX) {
                        return Err(self.err(
                            format!("{key}.mibps"),
                            format!("must be from 0 to {WARM_MIBPS_MAX} MiB/s, got {mibps}"),
                        ));
                    }
                    ActionKind::WarmThroughput { mibps: mibps as u32 }
                }
                "update_shard_count" => {
                    let target = action.target_shards.ok_or_else(|| {
                        self.err(format!("{key}.target_shards"), "is required for update_shard_count")
                    })?;
                    if !(1..=10_000).contains(&target) {
                        return Err(self.err(
                            format!("{key}.target_shards"),
                            format!("must be between 1 and 10000, got {target}"),
                        ));
                    }
                    ActionKind::UpdateShardCount { target: target as u32 }
                }
                other => {
                    return Err(self.err(
                        format!("{key}.kind"),
                        format!(
                            "allowed: {}; got \"{other}\"",
                            ACTION_KINDS.map(|kind| format!("\"{kind}\"")).join(", ")
                        ),
                    ))
                }
            };
            actions.push((action.at.0, index, kind));
        }
        // Stable order by time, then by position in the file.
        actions.sort_by_key(|(at, index, _)| (*at, *index));
        let mut ranges: Vec<Option<kinesim_models::routing::HashRange>> =
            kinesim_models::routing::initial_ranges(stream.shards).into_iter().map(Some).collect();
        // AWS decides an on-demand stream's shard map: shard actions are checked (and
        // refused) when they run.
        let checkable = if stream.mode.is_on_demand() { &actions[..0] } else { &actions[..] };
        for (_, index, kind) in checkable {
            let key = format!("actions[{index}]");
            let (shard, at_key) = match kind {
                ActionKind::SplitShard { shard, at_key } => (shard, at_key),
                ActionKind::MergeShards { shard, adjacent } => {
                    let range = |id: &ShardId| ranges.get(id.0 as usize).copied().flatten();
                    let (Some(a), Some(b)) = (range(shard), range(adjacent)) else {
                        return Err(self.err(
                            format!("{key}.shard"),
                            format!("{shard} and {adjacent} must both be open at that time"),
                        ));
                    };
                    let (low, high) = if a.start < b.start { (a, b) } else { (b, a) };
                    if shard == adjacent || low.end.checked_add(1) != Some(high.start) {
                        return Err(self.err(
                            format!("{key}.adjacent_shard"),
                            format!(
                                "{shard} and {adjacent} are not adjacent (MergeShards needs contiguous hash ranges)"
                            ),
                        ));
                    }
                    ranges[shard.0 as usize] = None;
                    ranges[adjacent.0 as usize] = None;
                    ranges.push(Some(HashRange { start: low.start, end: high.end }));
                    continue;
                }
                // The shard map after UpdateShardCount depends on what AWS accepts when it
                // runs: later actions are checked then (a refused one is logged).
                ActionKind::UpdateShardCount { .. } | ActionKind::SetMode { .. } => break,
                ActionKind::SetRetention { .. }
                | ActionKind::ProducerOutage { .. }
                | ActionKind::WarmThroughput { .. } => continue,
            };
            let Some(Some(range)) = ranges.get(shard.0 as usize).copied() else {
                return Err(self.err(format!("{key}.shard"), format!("{shard} is not an open shard at that time")));
            };
            if let SplitAt::Key(hash) = at_key {
                // kinesalite mirrors AWS: StartingHashKey + 1 < NewStartingHashKey < EndingHashKey.
                if !(range.start.saturating_add(1) < *hash && *hash < range.end) {
                    return Err(self.err(
                        format!("{key}.hash_key"),
                        format!("must lie strictly inside {shard}'s range {}..{}", range.start, range.end),
                    ));
                }
            }
            ranges[shard.0 as usize] = None;
            // Children's ranges, where the load file can tell; a balanced split is only
            // known when it runs, and is checked then (an invalid one is rejected, logged).
            let split = match at_key {
                SplitAt::Midpoint => Some(range.start / 2 + range.end / 2 + (range.start % 2 + range.end % 2) / 2),
                SplitAt::Key(hash) => Some(*hash),
                SplitAt::Balanced => None,
            };
            let (low, high) = match split {
                Some(hash) => {
                    (HashRange { start: range.start, end: hash - 1 }, HashRange { start: hash, end: range.end })
                }
                None => (range, range),
            };
            ranges.push(Some(low));
            ranges.push(Some(high));
        }
        Ok(actions.into_iter().map(|(at, _, kind)| ActionSpec { at, kind }).collect())
    }

    /// `[[expect]]` entries: a known metric for its scope, an existing consumer or
    /// producer, and at least one bound.
    fn expectations(
        &self,
        raw: Vec<RawExpect>,
        producers: &[ProducerSpec],
        consumers: &[ConsumerSpec],
        consumer_rows: bool,
    ) -> Result<Vec<Expectation>, LoadError> {
        let mut expectations = Vec::with_capacity(raw.len());
        for (index, entry) in raw.into_iter().enumerate() {
            let key = format!("expect[{index}]");
            let (scope, allowed): (Scope, &[&str]) = match (entry.consumer, entry.producer) {
                (Some(_), Some(_)) => {
                    return Err(self.err(format!("{key}.producer"), "give `consumer` or `producer`, not both"))
                }
                (Some(name), None) => {
                    if !consumers.iter().any(|c| c.name == name) {
                        return Err(self.err(format!("{key}.consumer"), format!("no consumer is named \"{name}\"")));
                    }
                    (Scope::Consumer(name), CONSUMER_METRICS)
                }
                (None, Some(name)) => {
                    if !producers.iter().any(|p| p.name == name) {
                        return Err(self.err(format!("{key}.producer"), format!("no producer is named \"{name}\"")));
                    }
                    (Scope::Producer(name), PRODUCER_METRICS)
                }
                (None, None) => (Scope::Stream, STREAM_METRICS),
            };
            let allowed = match (&scope, entry.fraction) {
                (_, None) => allowed,
                (Scope::Stream, Some(_)) => STREAM_PERIOD_METRICS,
                (Scope::Consumer(_), Some(_)) if !consumer_rows => {
                    return Err(self.err(
                        format!("{key}.fraction"),
                        "needs consumers.csv periods: [output] consumers must not be \"off\"",
                    ))
                }
                (Scope::Consumer(_), Some(_)) => CONSUMER_PERIOD_METRICS,
                (Scope::Producer(_), Some(_)) => {
                    return Err(self.err(
                        format!("{key}.fraction"),
                        "applies to the stream or a consumer, whose rows are periodic",
                    ))
                }
            };
            if entry.fraction.is_some_and(|f| !(f > 0.0 && f <= 1.0)) {
                return Err(self.err(format!("{key}.fraction"), "must be a fraction of periods above 0 and at most 1"));
            }
            if !allowed.contains(&entry.metric.as_str()) {
                return Err(self.err(
                    format!("{key}.metric"),
                    format!("allowed here: {}; got \"{}\"", allowed.join(", "), entry.metric),
                ));
            }
            if entry.max.is_none() && entry.min.is_none() {
                return Err(self.err(format!("{key}.max"), "an expectation needs `max`, `min` or both"));
            }
            for (field, bound) in [("max", entry.max), ("min", entry.min)] {
                if bound.is_some_and(|b| !b.is_finite()) {
                    return Err(self.err(format!("{key}.{field}"), "must be a finite number"));
                }
            }
            if let (Some(min), Some(max)) = (entry.min, entry.max) {
                if min > max {
                    return Err(self.err(
                        format!("{key}.min"),
                        format!("must be at most max ({max}), got {min}: no value could meet both"),
                    ));
                }
            }
            expectations.push(Expectation {
                metric: entry.metric,
                scope,
                max: entry.max,
                min: entry.min,
                fraction: entry.fraction,
            });
        }
        Ok(expectations)
    }

    fn multiple_of_step(&self, key: &str, value: SimDuration, step: SimDuration) -> Result<(), LoadError> {
        if value.is_zero() || value.as_nanos() % step.as_nanos() != 0 {
            return Err(self.err(
                key,
                format!(
                    "must be a positive whole number of steps (step = \"{}\"), got \"{}\"",
                    format_duration(step),
                    format_duration(value)
                ),
            ));
        }
        Ok(())
    }

    /// `coast`: how long quiet shards coast at a time ("off": never). Coasting needs
    /// one-second steps in stepped mode; the default turns it on wherever it applies.
    fn coast_window(
        &self,
        text: Option<&str>,
        fidelity: kinesim_models::spec::Fidelity,
        step: SimDuration,
    ) -> Result<Option<SimDuration>, LoadError> {
        let applies = fidelity == kinesim_models::spec::Fidelity::Stepped && step == SimDuration::from_secs(1);
        let window = match text {
            None => return Ok(applies.then_some(COAST_WINDOW_DEFAULT)),
            Some("off") => return Ok(None),
            Some(text) => kinesim_sim::parse_duration(text)
                .map_err(|e| self.err("coast", format!("expected a window or \"off\": {e}")))?,
        };
        if window < SimDuration::from_secs(1) || window > COAST_WINDOW_MAX || window.as_nanos() % NANOS_PER_SEC != 0 {
            return Err(self.err(
                "coast",
                format!("must be whole seconds from \"1s\" to \"4m\", or \"off\"; got \"{}\"", format_duration(window)),
            ));
        }
        if !applies {
            return Err(self.err("coast", "needs fidelity = \"stepped\" and step = \"1s\" (or set coast = \"off\")"));
        }
        Ok(Some(window))
    }

    fn output(
        &self,
        raw: Option<RawOutput>,
        step: SimDuration,
        metrics_period: SimDuration,
    ) -> Result<OutputSpec, LoadError> {
        let raw = raw.unwrap_or(RawOutput { shards: None, consumers: None, hot_keys: None });
        let period = |key: &str, text: Option<String>| -> Result<Option<SimDuration>, LoadError> {
            match text.as_deref() {
                None => Ok(Some(metrics_period)),
                Some("off") => Ok(None),
                Some(text) => {
                    let value = kinesim_sim::parse_duration(text)
                        .map_err(|e| self.err(key, format!("expected a period or \"off\": {e}")))?;
                    self.multiple_of_step(key, value, step)?;
                    Ok(Some(value))
                }
            }
        };
        let hot_keys = raw.hot_keys.unwrap_or(10);
        if hot_keys > 1000 {
            return Err(self.err("output.hot_keys", format!("must be at most 1000 keys per shard, got {hot_keys}")));
        }
        Ok(OutputSpec {
            shards_period: period("output.shards", raw.shards)?,
            consumers_period: period("output.consumers", raw.consumers)?,
            hot_keys_per_shard: hot_keys as usize,
        })
    }

    fn stream(&self, raw: RawStream) -> Result<StreamSpec, LoadError> {
        let mode = match raw.mode.as_deref() {
            None => CapacityMode::Provisioned,
            Some(text) => self.capacity_mode("stream.mode", text)?,
        };
        let shards = match (raw.shards, mode) {
            (Some(shards), _) => shards,
            (None, CapacityMode::Provisioned) => {
                return Err(self.err("stream.shards", "is required for a provisioned stream"))
            }
            (None, _) => u64::from(NEW_STREAM_SHARDS),
        };
        if shards == 0 || shards > u64::from(SHARDS_MAX) {
            return Err(self.err("stream.shards", format!("must be between 1 and {SHARDS_MAX}, got {shards}")));
        }
        let on_demand = self.on_demand(raw.on_demand, mode)?;
        // A stream created with warm throughput is ready for it from the start.
        let shards = if mode.is_on_demand() { shards.max(u64::from(on_demand.warm_mibps)) } else { shards };
        let retention = raw.retention.map_or(SimDuration::from_secs(24 * 3600), |d| d.0);
        if retention.as_nanos() < 24 * HOUR_NS
            || retention.as_nanos() > 8760 * HOUR_NS
            || retention.as_nanos() % HOUR_NS != 0
        {
            return Err(self.err(
                "stream.retention",
                format!("must be whole hours from \"24h\" to \"8760h\", got \"{}\"", format_duration(retention)),
            ));
        }
        let max_record_size_bytes = raw.max_record_size.map_or(MIB, |s| s.0);
        if !(MIB..=10 * MIB).contains(&max_record_size_bytes) || max_record_size_bytes % 1024 != 0 {
            return Err(self.err(
                "stream.max_record_size",
                format!("must be whole KiB from \"1MiB\" to \"10MiB\", got {max_record_size_bytes} bytes"),
            ));
        }
        let write_limit = self.write_limit(raw.write_limit, max_record_size_bytes)?;
        let read_limit = self.read_limit(raw.read_limit)?;
        let propagation_delay = raw.propagation_delay.map_or(SimDuration::from_millis(50), |d| d.0);
        if propagation_delay > SimDuration::from_secs(60) {
            return Err(self.err("stream.propagation_delay", "must be at most \"60s\""));
        }
        let reshard_duration = raw.reshard_duration.map_or(SimDuration::from_secs(5), |d| d.0);
        if reshard_duration > SimDuration::from_secs(24 * 3600) {
            return Err(self.err("stream.reshard_duration", "must be at most \"24h\""));
        }
        Ok(StreamSpec {
            mode,
            shards: shards as u32,
            retention,
            max_record_size_bytes,
            write_limit,
            read_limit,
            propagation_delay,
            reshard_duration,
            on_demand,
        })
    }

    fn capacity_mode(&self, key: &str, text: &str) -> Result<CapacityMode, LoadError> {
        match text {
            "provisioned" => Ok(CapacityMode::Provisioned),
            "on_demand" => Ok(CapacityMode::OnDemand),
            "on_demand_advantage" => Ok(CapacityMode::OnDemandAdvantage),
            other => Err(self.err(
                key,
                format!("allowed: \"provisioned\", \"on_demand\", \"on_demand_advantage\"; got \"{other}\""),
            )),
        }
    }

    /// `[stream.on_demand]`: the controller's parameters (models/src/on_demand.rs).
    fn on_demand(&self, raw: Option<RawOnDemand>, mode: CapacityMode) -> Result<OnDemandSpec, LoadError> {
        let defaults = OnDemandSpec::default();
        let Some(raw) = raw else { return Ok(defaults) };
        let positive = |key: &str, value: Option<u64>, default: u64, max: u64| -> Result<u64, LoadError> {
            match value {
                None => Ok(default),
                Some(v) if (1..=max).contains(&v) => Ok(v),
                Some(v) => {
                    Err(self.err(format!("stream.on_demand.{key}"), format!("must be from 1 to {max}, got {v}")))
                }
            }
        };
        let split_bytes_per_s =
            positive("split_bytes_per_s", raw.split_bytes_per_s.map(|s| s.0), defaults.split_bytes_per_s, MIB)?;
        let split_records_per_s =
            positive("split_records_per_s", raw.split_records_per_s, defaults.split_records_per_s, 1000)?;
        let evaluation_period = raw.evaluation_period.map_or(defaults.evaluation_period, |d| d.0);
        if evaluation_period.as_nanos() % NANOS_PER_SEC != 0
            || evaluation_period.is_zero()
            || evaluation_period > SimDuration::from_secs(3600)
        {
            return Err(self.err("stream.on_demand.evaluation_period", "must be whole seconds from \"1s\" to \"1h\""));
        }
        let day = SimDuration::from_secs(24 * 3600);
        let split_delay = raw.split_delay.map_or(defaults.split_delay, |d| d.0);
        if split_delay > day {
            return Err(self.err("stream.on_demand.split_delay", "must be at most \"24h\""));
        }
        let scale_down_after = match raw.scale_down_after.as_deref() {
            None => defaults.scale_down_after,
            Some("off") => None,
            Some(text) => match kinesim_sim::parse_duration(text) {
                Ok(after) if !after.is_zero() => Some(after),
                _ => {
                    return Err(self.err(
                        "stream.on_demand.scale_down_after",
                        format!("expected a duration such as \"24h\" or \"off\", got \"{text}\""),
                    ))
                }
            },
        };
        let shards_min = positive("shards_min", raw.shards_min, u64::from(defaults.shards_min), 10_000)? as u32;
        let warm_duration = raw.warm_duration.map_or(defaults.warm_duration, |d| d.0);
        if warm_duration > day {
            return Err(self.err("stream.on_demand.warm_duration", "must be at most \"24h\""));
        }
        let warm_mibps = match raw.warm_throughput_mibps {
            None | Some(0) => 0,
            Some(_) if mode != CapacityMode::OnDemandAdvantage => {
                return Err(self.err(
                    "stream.on_demand.warm_throughput_mibps",
                    "needs stream.mode = \"on_demand_advantage\" (warm throughput needs the account's minimum throughput commitment)",
                ))
            }
            Some(mibps) => positive("warm_throughput_mibps", Some(mibps), 0, u64::from(WARM_MIBPS_MAX))? as u32,
        };
        let write_max_mibps =
            positive("write_max_mibps", raw.write_max_mibps, u64::from(defaults.write_max_mibps), 10 * 1024)? as u32;
        Ok(OnDemandSpec {
            split_bytes_per_s,
            split_records_per_s,
            evaluation_period,
            split_delay,
            scale_down_after,
            shards_min,
            warm_duration,
            warm_mibps,
            write_max_mibps,
        })
    }

    fn write_limit(&self, raw: Option<RawWriteLimit>, max_record_size_bytes: u64) -> Result<WriteLimitSpec, LoadError> {
        let raw = raw.unwrap_or(RawWriteLimit { enforcement: None, bucket_depth: None });
        let enforcement = match raw.enforcement.as_deref() {
            None | Some("fixed_window") => {
                if raw.bucket_depth.is_some() {
                    return Err(
                        self.err("stream.write_limit.bucket_depth", "applies only with enforcement = \"token_bucket\"")
                    );
                }
                if max_record_size_bytes > MIB {
                    return Err(self.err("stream.write_limit.enforcement", "records above 1 MiB need enforcement = \"token_bucket\" with a bucket at least one record deep"));
                }
                Enforcement::FixedWindow
            }
            Some("token_bucket") => {
                let depth = raw.bucket_depth.map_or(SimDuration::from_secs(1), |d| d.0);
                let depth_s = depth.as_secs_f64();
                let depth_bytes = depth_s * MIB as f64;
                if !(0.001..=3600.0).contains(&depth_s) || depth_bytes < max_record_size_bytes as f64 {
                    return Err(self.err(
                        "stream.write_limit.bucket_depth",
                        format!("must be from \"1ms\" to \"1h\" and hold one largest record ({max_record_size_bytes} bytes at 1 MiB/s), got \"{}\"", format_duration(depth)),
                    ));
                }
                Enforcement::TokenBucket { depth_s }
            }
            Some(other) => {
                return Err(self.err(
                    "stream.write_limit.enforcement",
                    format!("allowed: \"fixed_window\", \"token_bucket\"; got \"{other}\""),
                ))
            }
        };
        Ok(WriteLimitSpec { records_per_s: 1000, bytes_per_s: MIB, enforcement })
    }

    fn read_limit(&self, raw: Option<RawReadLimit>) -> Result<ReadLimitSpec, LoadError> {
        let raw = raw.unwrap_or(RawReadLimit { bucket_depth: None, overdraft: None, throttled_calls_count: None });
        let depth_bytes = raw.bucket_depth.map_or(2 * MIB, |s| s.0);
        if depth_bytes > 1024 * MIB {
            return Err(
                self.err("stream.read_limit.bucket_depth", format!("must be at most \"1GiB\", got {depth_bytes}"))
            );
        }
        let overdraft_bytes = raw.overdraft.map_or(10 * MIB, |s| s.0);
        if overdraft_bytes == 0 || overdraft_bytes > 1024 * MIB {
            return Err(self.err(
                "stream.read_limit.overdraft",
                format!("must be above 0 and at most \"1GiB\", got {overdraft_bytes}"),
            ));
        }
        Ok(ReadLimitSpec {
            bytes_per_s: 2 * MIB,
            calls_per_s: 5,
            overdraft_bytes,
            depth_bytes,
            throttled_calls_count: raw.throttled_calls_count.unwrap_or(false),
        })
    }

    fn producers(
        &self,
        raw: Vec<RawProducer>,
        step: SimDuration,
        start_unix_s: Option<i64>,
    ) -> Result<Vec<ProducerSpec>, LoadError> {
        let mut names = BTreeSet::new();
        let mut producers = Vec::with_capacity(raw.len());
        for (index, producer) in raw.into_iter().enumerate() {
            let key = format!("producers[{index}]");
            self.unique_name(&mut names, &format!("{key}.name"), &producer.name)?;
            producers.push(self.producer(&key, producer, step, start_unix_s)?);
        }
        Ok(producers)
    }

    fn check_name(&self, key: &str, name: &str) -> Result<(), LoadError> {
        if !is_valid_name(name) {
            return Err(self
                .err(key, format!("must be 1 to 64 characters of letters, digits, '-', '_' or '.', got \"{name}\"")));
        }
        Ok(())
    }

    fn unique_name(&self, names: &mut BTreeSet<String>, key: &str, name: &str) -> Result<(), LoadError> {
        self.check_name(key, name)?;
        if !names.insert(name.to_string()) {
            return Err(self.err(key, format!("the name \"{name}\" is used twice; names must be unique")));
        }
        Ok(())
    }

    fn producer(
        &self,
        key: &str,
        raw: RawProducer,
        step: SimDuration,
        start_unix_s: Option<i64>,
    ) -> Result<ProducerSpec, LoadError> {
        let instances = raw.instances.unwrap_or(1);
        if instances == 0 || instances > 100_000 {
            return Err(self.err(format!("{key}.instances"), format!("must be between 1 and 100000, got {instances}")));
        }
        let keys = self.keys(&format!("{key}.keys"), raw.keys.map(|k| k.0))?;
        let record_size = self.record_size(&format!("{key}.record_size"), raw.record_size)?;
        let api = self.api(&format!("{key}.api"), raw.api)?;
        Ok(ProducerSpec {
            name: raw.name,
            rate: self.rate(&format!("{key}.rate"), raw.rate, start_unix_s)?,
            instances: instances as u32,
            arrivals: self.arrivals(&format!("{key}.arrivals"), raw.arrivals, step)?,
            record_size,
            keys,
            retry: self.retry(&format!("{key}.retry"), raw.retry, &api)?,
            api,
            back_pressure: raw
                .back_pressure
                .map(|bp| self.back_pressure(&format!("{key}.back_pressure"), bp))
                .transpose()?,
        })
    }

    fn back_pressure(&self, key: &str, raw: RawBackPressure) -> Result<BackPressureSpec, LoadError> {
        let buffer_records = raw.buffer.unwrap_or(100_000);
        if !(1..=1_000_000_000).contains(&buffer_records) {
            return Err(self.err(
                format!("{key}.buffer"),
                format!("records per instance: between 1 and 1000000000, got {buffer_records}"),
            ));
        }
        let when_full = match raw.when_full.as_deref() {
            None | Some("block") => WhenFull::Block,
            Some("drop") => WhenFull::Drop,
            Some(other) => {
                return Err(
                    self.err(format!("{key}.when_full"), format!("allowed: \"block\", \"drop\"; got \"{other}\""))
                )
            }
        };
        let max_in_flight = raw.max_in_flight.unwrap_or(24);
        if !(1..=10_000).contains(&max_in_flight) {
            return Err(self.err(
                format!("{key}.max_in_flight"),
                format!("requests per instance: between 1 and 10000, got {max_in_flight}"),
            ));
        }
        let request_latency = raw.request_latency.map_or(SimDuration::from_millis(20), |d| d.0);
        if request_latency < SimDuration::from_millis(1) || request_latency > SimDuration::from_secs(60) {
            return Err(self.err(format!("{key}.request_latency"), "must be from \"1ms\" to \"60s\""));
        }
        Ok(BackPressureSpec { buffer_records, when_full, max_in_flight: max_in_flight as u32, request_latency })
    }

    fn rate_value(&self, key: &str, value: f64) -> Result<f64, LoadError> {
        if !(0.0..=1e9).contains(&value) {
            return Err(self.err(key, format!("must be records per second from 0 to 1e9, got {}", shown(value))));
        }
        Ok(value)
    }

    fn rate(&self, key: &str, raw: Rate, start_unix_s: Option<i64>) -> Result<RateShape, LoadError> {
        let shape = match raw {
            Rate::Constant(rate) => RateShape::Constant(self.rate_value(key, rate)?),
            Rate::Shape(RawRateShape::Constant { rate }) => {
                RateShape::Constant(self.rate_value(&format!("{key}.rate"), rate)?)
            }
            Rate::Shape(RawRateShape::Steps { steps }) => {
                if steps.is_empty() || !steps[0].0 .0.is_zero() {
                    return Err(self.err(format!("{key}.steps"), "must start with [\"0s\", rate]"));
                }
                let mut parsed = Vec::with_capacity(steps.len());
                for (i, (at, rate)) in steps.into_iter().enumerate() {
                    if parsed.last().is_some_and(|(prev, _): &(SimDuration, f64)| *prev >= at.0) {
                        return Err(self.err(format!("{key}.steps[{i}]"), "times must increase strictly"));
                    }
                    parsed.push((at.0, self.rate_value(&format!("{key}.steps[{i}]"), rate)?));
                }
                RateShape::Steps(parsed)
            }
            Rate::Shape(RawRateShape::Ramp { from, to, start, end }) => {
                if end.0 <= start.0 {
                    return Err(self.err(format!("{key}.end"), "must be after `start`"));
                }
                RateShape::Ramp {
                    from: self.rate_value(&format!("{key}.from"), from)?,
                    to: self.rate_value(&format!("{key}.to"), to)?,
                    start: start.0,
                    end: end.0,
                }
            }
            Rate::Shape(RawRateShape::Diurnal { mean, amplitude, period, peak_at }) => {
                if !(0.0..=1.0).contains(&amplitude) {
                    return Err(self.err(
                        format!("{key}.amplitude"),
                        format!("must be a fraction of the mean from 0 to 1, got {}", shown(amplitude)),
                    ));
                }
                let period = period.map_or(SimDuration::from_secs(86_400), |d| d.0);
                if period.is_zero() {
                    return Err(self.err(format!("{key}.period"), "must be above 0"));
                }
                RateShape::Diurnal {
                    mean: self.rate_value(&format!("{key}.mean"), mean)?,
                    amplitude,
                    period,
                    peak_at: peak_at.map_or(SimDuration::from_secs(14 * 3600), |d| d.0),
                }
            }
            Rate::Shape(RawRateShape::Bursts { base, peak, every, length, first }) => {
                if every.0.is_zero() || length.0 > every.0 {
                    return Err(self.err(format!("{key}.length"), "bursts need every > 0 and length <= every"));
                }
                RateShape::Bursts {
                    base: self.rate_value(&format!("{key}.base"), base)?,
                    peak: self.rate_value(&format!("{key}.peak"), peak)?,
                    every: every.0,
                    length: length.0,
                    first: first.map_or(SimDuration::ZERO, |d| d.0),
                }
            }
            Rate::Shape(RawRateShape::Trace { file, period }) => {
                let trace_path = self.folder.join(&file);
                crate::trace::load_trace(&trace_path, period.map(|d| d.0), start_unix_s).map_err(|message| {
                    self.err(format!("{key}.file"), format!("{}: {message}", trace_path.display()))
                })?
            }
        };
        Ok(shape)
    }

    fn arrivals(
        &self,
        key: &str,
        raw: Option<KindOrTable<RawArrivals>>,
        step: SimDuration,
    ) -> Result<Arrivals, LoadError> {
        Ok(match raw.map(|k| k.0) {
            None | Some(RawArrivals::Poisson) => Arrivals::Poisson,
            Some(RawArrivals::Uniform) => Arrivals::Uniform,
            Some(RawArrivals::Bursty { cv, period }) => {
                let cv = cv.unwrap_or(1.0);
                if !(cv > 0.0 && cv <= 10.0) {
                    return Err(
                        self.err(format!("{key}.cv"), format!("must be above 0 and at most 10, got {}", shown(cv)))
                    );
                }
                let period = period.map_or(SimDuration::from_secs(1), |d| d.0);
                // A period is drawn per step, by the step's start: it is a whole number of
                // steps, or its bounds would silently move to the steps'.
                if period < step || period > SimDuration::from_secs(3600) || period.as_nanos() % step.as_nanos() != 0 {
                    return Err(self.err(
                        format!("{key}.period"),
                        format!(
                            "must be a whole number of steps (\"{}\") up to \"1h\", got \"{}\"",
                            format_duration(step),
                            format_duration(period)
                        ),
                    ));
                }
                Arrivals::Bursty { cv, period }
            }
        })
    }

    fn record_size(&self, key: &str, raw: Option<RecordSize>) -> Result<SizeDistribution, LoadError> {
        // Records larger than the stream's limit are allowed here: the producer rejects
        // them, counted, as the SDK does. Only absurd sizes are refused.
        let fits = |field: String, size: u64| -> Result<u64, LoadError> {
            if size > RECORD_SIZE_MAX {
                return Err(self.err(field, format!("must be at most {RECORD_SIZE_MAX} bytes (1 GiB), got {size}")));
            }
            Ok(size)
        };
        Ok(match raw {
            None => SizeDistribution::Fixed(1024),
            Some(RecordSize::Fixed(size)) | Some(RecordSize::Shape(RawSizeShape::Fixed { size: Size(size) })) => {
                SizeDistribution::Fixed(fits(key.into(), size)?)
            }
            Some(RecordSize::Shape(RawSizeShape::Uniform { min, max })) => {
                if min.0 > max.0 {
                    return Err(self.err(format!("{key}.min"), "must not exceed `max`"));
                }
                SizeDistribution::Uniform { min: min.0, max: fits(format!("{key}.max"), max.0)? }
            }
            Some(RecordSize::Shape(RawSizeShape::Lognormal { median, sigma, min, max })) => {
                let (min, max) = (min.map_or(0, |s| s.0), max.map_or(64 * MIB, |s| s.0));
                if !(sigma > 0.0 && sigma <= 5.0) {
                    return Err(self
                        .err(format!("{key}.sigma"), format!("must be above 0 and at most 5, got {}", shown(sigma))));
                }
                if median.0 == 0 || min > median.0 || median.0 > max {
                    return Err(self.err(format!("{key}.median"), "must be above 0 and between `min` and `max`"));
                }
                SizeDistribution::LogNormal {
                    median: median.0 as f64,
                    sigma,
                    min,
                    max: fits(format!("{key}.max"), max)?,
                }
            }
            Some(RecordSize::Shape(RawSizeShape::Empirical { table })) => {
                if table.is_empty() || table.len() > 10_000 {
                    return Err(self.err(format!("{key}.table"), "must hold 1 to 10000 [size, weight] rows"));
                }
                let mut rows = Vec::with_capacity(table.len());
                for (i, (size, weight)) in table.into_iter().enumerate() {
                    if !(weight.is_finite() && weight > 0.0) {
                        return Err(
                            self.err(format!("{key}.table[{i}]"), format!("weights must be above 0, got {weight}"))
                        );
                    }
                    rows.push((fits(format!("{key}.table[{i}]"), size.0)?, weight));
                }
                // Weights are relative: their sum must be a number for them to be.
                let total: f64 = rows.iter().map(|&(_, weight)| weight).sum();
                if !total.is_finite() {
                    return Err(self.err(
                        format!("{key}.table"),
                        "the weights add up past the largest number: they are relative, so scale them down",
                    ));
                }
                SizeDistribution::Empirical(rows)
            }
        })
    }

    fn keys(&self, key: &str, raw: Option<RawKeys>) -> Result<KeySpec, LoadError> {
        let names = |count: u64, prefix: Option<String>, first: Option<u64>, salt: Option<u64>, salted: Option<u64>| {
            if count == 0 || count > NAMED_KEYS_MAX {
                return Err(self.err(
                    format!("{key}.count"),
                    format!("must be between 1 and {NAMED_KEYS_MAX} (use kind = \"random\" beyond), got {count}"),
                ));
            }
            let salt_value = salt.unwrap_or(1);
            if !(1..=1000).contains(&salt_value) {
                return Err(self.err(
                    format!("{key}.salt"),
                    format!("must be between 1 and 1000 keys per salted key, got {salt_value}"),
                ));
            }
            let salted = match (salt, salted) {
                (None, Some(_)) => return Err(self.err(format!("{key}.salted"), "applies only with `salt`")),
                (_, Some(salted)) if salted == 0 || salted > count => {
                    return Err(self
                        .err(format!("{key}.salted"), format!("must be between 1 and count ({count}), got {salted}")))
                }
                (_, salted) => salted.unwrap_or(1),
            };
            // Each salted key is replaced by `salt` keys.
            let keys_total = if salt.is_some() { count - salted + salted * salt_value } else { count };
            if keys_total > NAMED_KEYS_MAX {
                return Err(self
                    .err(format!("{key}.salt"), format!("salting makes {keys_total} keys; at most {NAMED_KEYS_MAX}")));
            }
            let names = KeyNames {
                count,
                prefix: prefix.unwrap_or_else(|| "key-".into()),
                first: first.unwrap_or(0),
                salt: salt_value as u32,
                salted,
            };
            let longest =
                names.salted_name(count - 1, (salt_value > 1).then_some(salt_value as u32 - 1)).chars().count();
            if longest.max(names.name(0).chars().count()) > 256 {
                return Err(self.err(
                    format!("{key}.prefix"),
                    "partition keys are 1 to 256 characters; this prefix makes them longer",
                ));
            }
            Ok(names)
        };
        Ok(match raw {
            None => KeySpec::Random { key_bytes: 36 },
            Some(RawKeys::Uniform { count, prefix, first, salt, salted }) => {
                KeySpec::Uniform { names: names(count, prefix, first, salt, salted)? }
            }
            Some(RawKeys::Zipf { count, exponent, prefix, first, salt, salted }) => {
                if !(exponent > 0.0 && exponent <= 10.0) {
                    return Err(self.err(
                        format!("{key}.exponent"),
                        format!("must be above 0 and at most 10, got {}", shown(exponent)),
                    ));
                }
                KeySpec::Zipf { names: names(count, prefix, first, salt, salted)?, exponent }
            }
            Some(RawKeys::Hot { count, hot, share, prefix, first, salt, salted }) => {
                let names = names(count, prefix, first, salt, salted)?;
                let hot_count = hot.unwrap_or(1);
                if hot_count == 0 || hot_count > count {
                    return Err(self
                        .err(format!("{key}.hot"), format!("must be between 1 and count ({count}), got {hot_count}")));
                }
                let share_max_ok = if hot_count == count { share == 1.0 } else { share > 0.0 && share < 1.0 };
                if !share_max_ok {
                    return Err(self.err(
                        format!("{key}.share"),
                        format!("must be above 0 and below 1 (exactly 1 when every key is hot), got {}", shown(share)),
                    ));
                }
                KeySpec::Hot { names, hot_count, hot_share: share }
            }
            Some(RawKeys::Random { key_bytes }) => {
                let key_bytes = key_bytes.unwrap_or(36);
                if !(1..=256).contains(&key_bytes) {
                    return Err(
                        self.err(format!("{key}.key_bytes"), format!("must be between 1 and 256, got {key_bytes}"))
                    );
                }
                KeySpec::Random { key_bytes }
            }
            Some(RawKeys::Explicit { hash_key, partition_key }) => {
                let hash = parse_hash_key(&hash_key).ok_or_else(|| {
                    self.err(
                        format!("{key}.hash_key"),
                        format!(
                            "must be a decimal integer from 0 to 2^128-1 without leading zeros, got \"{hash_key}\""
                        ),
                    )
                })?;
                let partition_key = partition_key.unwrap_or_else(|| "explicit".into());
                if partition_key.is_empty() || partition_key.chars().count() > 256 {
                    return Err(self.err(format!("{key}.partition_key"), "must be 1 to 256 characters"));
                }
                KeySpec::Explicit { hash_key: hash, partition_key }
            }
        })
    }

    fn api(&self, key: &str, raw: Option<KindOrTable<RawApi>>) -> Result<ApiSpec, LoadError> {
        Ok(match raw.map(|k| k.0) {
            None | Some(RawApi::PutRecord) => ApiSpec::PutRecord,
            Some(RawApi::PutRecords { max_records, max_bytes, linger }) => {
                let max_records = max_records.unwrap_or(500);
                if !(1..=500).contains(&max_records) {
                    return Err(
                        self.err(format!("{key}.max_records"), format!("must be between 1 and 500, got {max_records}"))
                    );
                }
                let max_bytes = max_bytes.map_or(10 * MIB, |s| s.0);
                if max_bytes == 0 || max_bytes > 10 * MIB {
                    return Err(self
                        .err(format!("{key}.max_bytes"), format!("must be between 1 and \"10MiB\", got {max_bytes}")));
                }
                let linger = linger.map_or(SimDuration::ZERO, |d| d.0);
                if linger > SimDuration::from_secs(3600) {
                    return Err(self.err(format!("{key}.linger"), "must be at most \"1h\""));
                }
                ApiSpec::PutRecords { max_records: max_records as u32, max_bytes, linger }
            }
            Some(RawApi::Kpl {
                aggregation,
                aggregation_max_bytes,
                aggregation_max_count,
                collection_max_records,
                collection_max_bytes,
                max_buffered_time,
                record_ttl,
                rate_limit_pct,
            }) => ApiSpec::Kpl(self.kpl(
                key,
                aggregation,
                (aggregation_max_bytes, aggregation_max_count),
                (collection_max_records, collection_max_bytes),
                (max_buffered_time, record_ttl),
                rate_limit_pct,
            )?),
        })
    }

    /// KPL settings with the defaults and ranges of `default_config.properties`
    /// (reference §8.4).
    fn kpl(
        &self,
        key: &str,
        aggregation: Option<bool>,
        (aggregation_max_bytes, aggregation_max_count): (Option<Size>, Option<u64>),
        (collection_max_records, collection_max_bytes): (Option<u64>, Option<Size>),
        (max_buffered_time, record_ttl): (Option<Duration>, Option<Duration>),
        rate_limit_pct: Option<u64>,
    ) -> Result<KplSpec, LoadError> {
        let in_range = |field: &str, value: u64, low: u64, high: u64| -> Result<u64, LoadError> {
            if value < low || value > high {
                return Err(
                    self.err(format!("{key}.{field}"), format!("must be between {low} and {high}, got {value}"))
                );
            }
            Ok(value)
        };
        let aggregation_max_bytes =
            in_range("aggregation_max_bytes", aggregation_max_bytes.map_or(51_200, |s| s.0), 64, 10 * MIB)?;
        let aggregation_max_count =
            in_range("aggregation_max_count", aggregation_max_count.unwrap_or(4_294_967_295), 1, u64::MAX >> 1)?;
        let collection_max_records = in_range("collection_max_records", collection_max_records.unwrap_or(500), 1, 500)?;
        let collection_max_bytes =
            in_range("collection_max_bytes", collection_max_bytes.map_or(5_242_880, |s| s.0), 52_224, 10 * MIB)?;
        let max_buffered_time = max_buffered_time.map_or(SimDuration::from_millis(100), |d| d.0);
        if max_buffered_time < SimDuration::from_millis(1) || max_buffered_time > SimDuration::from_secs(60) {
            return Err(self.err(format!("{key}.max_buffered_time"), "must be from \"1ms\" to \"60s\""));
        }
        let record_ttl = record_ttl.map_or(SimDuration::from_secs(30), |d| d.0);
        if record_ttl < SimDuration::from_millis(100) || record_ttl > SimDuration::from_secs(3600) {
            return Err(self.err(format!("{key}.record_ttl"), "must be from \"100ms\" to \"1h\""));
        }
        let rate_limit_pct = in_range("rate_limit_pct", rate_limit_pct.unwrap_or(150), 1, 10_000)?;
        Ok(KplSpec {
            aggregation: aggregation.unwrap_or(true),
            aggregation_max_bytes,
            aggregation_max_count,
            collection_max_records: collection_max_records as u32,
            collection_max_bytes,
            max_buffered_time,
            record_ttl,
            rate_limit_pct: rate_limit_pct as u32,
        })
    }

    fn retry(&self, key: &str, raw: Option<KindOrTable<RawRetry>>, api: &ApiSpec) -> Result<RetrySpec, LoadError> {
        let raw = raw.map(|k| k.0);
        if let ApiSpec::Kpl(kpl) = api {
            // The KPL retries on its own, without backoff, until RecordTtl (§8.4).
            if !matches!(raw, None | Some(RawRetry::Kpl)) {
                return Err(self.err(key, "the KPL retries on its own: leave `retry` out or write retry = \"kpl\""));
            }
            return Ok(RetrySpec::Kpl {
                delay: SimDuration::from_nanos(kpl.max_buffered_time.as_nanos() / 2),
                ttl: kpl.record_ttl,
            });
        }
        let attempts = |field: &str, value: u64| -> Result<u32, LoadError> {
            if value == 0 || value > u64::from(RETRY_ATTEMPTS_MAX) {
                return Err(self.err(
                    format!("{key}.{field}"),
                    format!("counts the first attempt: between 1 and {RETRY_ATTEMPTS_MAX}, got {value}"),
                ));
            }
            Ok(value as u32)
        };
        if matches!(raw, Some(RawRetry::SdkStandard { .. })) && matches!(api, ApiSpec::PutRecords { .. }) {
            // A PutRecords call with failed entries still returns 200: the SDK retries
            // whole failed requests only, so throttled entries are the application's to
            // retry (reference §2.2, §2.4).
            return Err(self.err(key, "the SDK does not retry the failed entries of a PutRecords response; retry them as an application does (kind = \"exponential\") or use api = \"put_record\""));
        }
        Ok(match raw {
            Some(RawRetry::Kpl) => return Err(self.err(key, "retry = \"kpl\" needs api = { kind = \"kpl\" }")),
            None | Some(RawRetry::None) => RetrySpec::None,
            Some(RawRetry::SdkStandard { max_attempts }) => {
                RetrySpec::SdkStandard { max_attempts: attempts("max_attempts", max_attempts.unwrap_or(3))? }
            }
            Some(RawRetry::Exponential { base, cap, max_attempts, jitter }) => {
                if base.0.is_zero() {
                    return Err(self.err(format!("{key}.base"), "must be above 0 (base <= cap <= \"1h\")"));
                }
                if cap.0 < base.0 || cap.0 > RETRY_CAP_MAX {
                    return Err(self.err(format!("{key}.cap"), "needs base <= cap <= \"1h\""));
                }
                let jitter = match jitter.as_deref() {
                    None | Some("full") => Jitter::Full,
                    Some("equal") => Jitter::Equal,
                    Some("decorrelated") => Jitter::Decorrelated,
                    Some(other) => {
                        return Err(self.err(
                            format!("{key}.jitter"),
                            format!("allowed: \"full\", \"equal\", \"decorrelated\"; got \"{other}\""),
                        ))
                    }
                };
                RetrySpec::Exponential {
                    base: base.0,
                    cap: cap.0,
                    max_attempts: attempts("max_attempts", max_attempts)?,
                    jitter,
                }
            }
        })
    }

    /// `record_bytes_min`: the smallest record any producer writes (data bytes, at least
    /// 1), which sizes a Firehose consumer's read-ahead in records.
    fn consumers(
        &self,
        raw: Vec<RawConsumer>,
        mode: CapacityMode,
        duration: SimDuration,
        start_unix_s: Option<i64>,
        record_bytes_min: u64,
    ) -> Result<Vec<ConsumerSpec>, LoadError> {
        let mut names = BTreeSet::new();
        let mut consumers = Vec::with_capacity(raw.len());
        let mut fan_out = 0;
        let fan_out_max =
            if mode == CapacityMode::OnDemandAdvantage { EFO_CONSUMERS_MAX_ADVANTAGE } else { EFO_CONSUMERS_MAX };
        for (index, consumer) in raw.into_iter().enumerate() {
            let key = format!("consumers[{index}]");
            self.unique_name(&mut names, &format!("{key}.name"), &consumer.name)?;
            let consumer = self.consumer(&key, consumer, duration, start_unix_s, record_bytes_min)?;
            if matches!(consumer.kind, ConsumerKind::Efo(_)) {
                fan_out += 1;
                if fan_out > fan_out_max {
                    return Err(self.err(
                        format!("{key}.kind"),
                        format!(
                            "a stream in {} mode registers at most {fan_out_max} enhanced fan-out consumers ({EFO_CONSUMERS_MAX}, or {EFO_CONSUMERS_MAX_ADVANTAGE} on On-demand Advantage); this is number {fan_out}",
                            mode.name()
                        ),
                    ));
                }
            }
            consumers.push(consumer);
        }
        Ok(consumers)
    }

    /// A KCL application: its lease settings, and the consumer settings of its retrieval
    /// (polling with the version's idle time, or fan-out).
    fn kcl(&self, key: &str, mut raw: RawConsumer) -> Result<(RawConsumer, Option<KclSpec>), LoadError> {
        let kcl_only = [
            ("workers", raw.workers.is_some()),
            ("kcl_version", raw.kcl_version.is_some()),
            ("failover_time", raw.failover_time.is_some()),
            ("checkpoint_interval", raw.checkpoint_interval.is_some()),
            ("failures", raw.failures.is_some()),
            ("joins", raw.joins.is_some()),
        ];
        if raw.kind != "kcl" {
            self.refuse_fields(key, &kcl_only, format!("applies only to kind = \"kcl\", not \"{}\"", raw.kind))?;
            return Ok((raw, None));
        }
        let version = raw.kcl_version.unwrap_or(2);
        if !(1..=3).contains(&version) {
            return Err(self.err(format!("{key}.kcl_version"), format!("allowed: 1, 2, 3; got {version}")));
        }
        let workers = raw.workers.unwrap_or(1);
        if !(1..=10_000).contains(&workers) {
            return Err(self.err(format!("{key}.workers"), format!("must be between 1 and 10000, got {workers}")));
        }
        let failover_time = raw.failover_time.take().map_or(SimDuration::from_secs(10), |d| d.0);
        if failover_time < SimDuration::from_millis(100) || failover_time > SimDuration::from_secs(3600) {
            return Err(self.err(format!("{key}.failover_time"), "must be from \"100ms\" to \"1h\""));
        }
        let checkpoint_interval = raw.checkpoint_interval.take().map_or(SimDuration::from_secs(60), |d| d.0);
        if checkpoint_interval > SimDuration::from_secs(86_400) {
            return Err(self.err(format!("{key}.checkpoint_interval"), "must be at most \"24h\""));
        }
        let mut failures = Vec::new();
        for (index, (at, worker)) in raw.failures.take().unwrap_or_default().into_iter().enumerate() {
            if worker >= workers {
                return Err(self.err(
                    format!("{key}.failures[{index}]"),
                    format!("worker {worker} does not exist: workers are numbered 0 to {}", workers - 1),
                ));
            }
            failures.push((at.0, worker as u32));
        }
        failures.sort_by_key(|(at, worker)| (*at, *worker));
        let mut joins: Vec<SimDuration> = raw.joins.take().unwrap_or_default().into_iter().map(|d| d.0).collect();
        if joins.len() > 10_000 {
            return Err(self.err(format!("{key}.joins"), "at most 10000 workers may join"));
        }
        joins.sort();
        let fan_out = match raw.retrieval.take().as_deref() {
            None => version >= 2,
            Some("polling") => false,
            Some("efo") => true,
            Some(other) => {
                return Err(
                    self.err(format!("{key}.retrieval"), format!("allowed: \"polling\", \"efo\"; got \"{other}\""))
                )
            }
        };
        // KCL 1.x idles 1 s between reads; 2.x from 2.5.4 on, 1.5 s (reference §8.1).
        if !fan_out && raw.poll_interval.is_none() {
            let idle_ms = if version == 1 { 1000 } else { 1500 };
            raw.poll_interval = Some(crate::raw::Duration(SimDuration::from_millis(idle_ms)));
        }
        raw.kind = if fan_out { "efo".into() } else { "polling".into() };
        raw.workers = None;
        raw.kcl_version = None;
        let spec = KclSpec {
            version: version as u32,
            workers: workers as u32,
            failover_time,
            checkpoint_interval,
            failures,
            joins,
        };
        Ok((raw, Some(spec)))
    }

    /// Refuses the first key of `fields` (key, set, kinds it belongs to) that is set but
    /// does not belong to `kind`, naming the kinds it belongs to. `table` is the key path
    /// the keys sit in; `reads_as` adds how a consumer of `kind` reads, when that decides.
    fn refuse_keys_of_other_kinds(
        &self,
        table: &str,
        fields: &[(&str, bool, &[&str])],
        kind: &str,
        reads_as: Option<&str>,
    ) -> Result<(), LoadError> {
        let effective = reads_as.unwrap_or(kind);
        let Some((field, _, kinds)) = fields.iter().find(|(_, set, kinds)| *set && !kinds.contains(&effective)) else {
            return Ok(());
        };
        let allowed: Vec<String> = kinds.iter().map(|k| format!("\"{k}\"")).collect();
        let reading = reads_as.filter(|&reads| reads != kind).map_or(String::new(), |r| format!(" (reading with {r})"));
        Err(self.err(
            format!("{table}.{field}"),
            format!("applies only to kind = {}, not \"{kind}\"{reading}", allowed.join(" or ")),
        ))
    }

    /// Refuses the first of `fields` that is set, saying `why`.
    fn refuse_fields(&self, key: &str, fields: &[(&str, bool)], why: impl Into<String>) -> Result<(), LoadError> {
        match fields.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(self.err(format!("{key}.{field}"), why)),
            None => Ok(()),
        }
    }

    /// Keys that belong to other consumer kinds are refused by name, with the kinds they
    /// belong to. `kind` is the consumer's own kind; `raw.kind` is how it reads (a KCL
    /// application reads as "polling" or "efo").
    fn keys_for_kind(&self, key: &str, raw: &RawConsumer, kind: &str) -> Result<(), LoadError> {
        const LAMBDA: &[&str] = &["lambda"];
        const FIREHOSE: &[&str] = &["firehose"];
        // What a GetRecords reader sets for itself; Lambda's mapping polls once a second
        // with `batch_size`, and fan-out is pushed.
        const POLLING: &[&str] = &["polling", "kcl", "firehose"];
        let fields: [(&str, bool, &[&str]); 20] = [
            ("batch_size", raw.batch_size.is_some(), LAMBDA),
            ("parallelization_factor", raw.parallelization_factor.is_some(), LAMBDA),
            ("function_duration", raw.function_duration.is_some(), LAMBDA),
            ("error_rate", raw.error_rate.is_some(), LAMBDA),
            ("max_retry_attempts", raw.max_retry_attempts.is_some(), LAMBDA),
            ("max_record_age", raw.max_record_age.is_some(), LAMBDA),
            ("retrieval", raw.retrieval.is_some(), &["lambda", "kcl"]),
            ("batching_window", raw.batching_window.is_some(), LAMBDA),
            ("poison_rate", raw.poison_rate.is_some(), LAMBDA),
            ("bisect_on_error", raw.bisect_on_error.is_some(), LAMBDA),
            ("max_concurrency", raw.max_concurrency.is_some(), LAMBDA),
            ("buffer_size", raw.buffer_size.is_some(), FIREHOSE),
            ("buffer_interval", raw.buffer_interval.is_some(), FIREHOSE),
            ("delivery_latency", raw.delivery_latency.is_some(), FIREHOSE),
            ("push_latency", raw.push_latency.is_some(), &["efo", "kcl"]),
            ("processing", raw.processing.is_some(), &["polling", "efo", "kcl"]),
            ("poll_interval", raw.poll_interval.is_some(), POLLING),
            ("poll_jitter", raw.poll_jitter.is_some(), POLLING),
            ("max_records", raw.max_records.is_some(), POLLING),
            ("max_bytes", raw.max_bytes.is_some(), POLLING),
        ];
        self.refuse_keys_of_other_kinds(key, &fields, kind, Some(&raw.kind))
    }

    /// `processing` of a polling or fan-out consumer: one lane per shard, batches of what
    /// a call returns, three batches of prefetch (the KCL's default pending inputs). For a
    /// KCL application the capacity is a worker's, shared by the shards it holds.
    fn processing(
        &self,
        key: &str,
        raw: RawProcessing,
        batch_size: u64,
        per_worker: bool,
    ) -> Result<ProcessingSpec, LoadError> {
        let per_record = match (raw.records_per_second, raw.per_record) {
            (Some(_), Some(_)) => {
                return Err(self.err(format!("{key}.per_record"), "give `records_per_second` or `per_record`, not both"))
            }
            (Some(rate), None) => {
                if !(rate > 0.0 && rate <= 1e9) {
                    return Err(self.err(
                        format!("{key}.records_per_second"),
                        format!("must be above 0 and at most 1e9, got {}", shown(rate)),
                    ));
                }
                SimDuration::from_nanos((1e9 / rate).round() as u64)
            }
            (None, per_record) => per_record.map_or(SimDuration::ZERO, |d| d.0),
        };
        let fixed = raw.fixed.map_or(SimDuration::ZERO, |d| d.0);
        if fixed.is_zero() && per_record.is_zero() {
            return Err(self.err(key, "needs `records_per_second`, `per_record` or `fixed`"));
        }
        Ok(ProcessingSpec {
            lanes: 1,
            batch_size,
            batch_bytes: None,
            batching_window: SimDuration::ZERO,
            fixed,
            per_record,
            delivery: SimDuration::ZERO,
            prefetch_records: 3 * batch_size,
            error_rate: 0.0,
            poison_rate: 0.0,
            bisect_on_error: false,
            max_retry_attempts: None,
            max_record_age: None,
            expires_with_retention: false,
            concurrency_max: None,
            shared_by_worker: per_worker,
        })
    }

    /// A Lambda event source mapping (reference §8.2): polls each shard once a second
    /// (or uses fan-out), batches of `batch_size`, `parallelization_factor` batches per
    /// shard at once, keeping per-key order.
    fn lambda(
        &self,
        key: &str,
        raw: RawConsumer,
        start: StartPosition,
        join: SimDuration,
    ) -> Result<ConsumerSpec, LoadError> {
        let batch_size = raw.batch_size.unwrap_or(100);
        if !(1..=10_000).contains(&batch_size) {
            return Err(self.err(format!("{key}.batch_size"), format!("must be between 1 and 10000, got {batch_size}")));
        }
        let lanes = raw.parallelization_factor.unwrap_or(1);
        if !(1..=10).contains(&lanes) {
            return Err(
                self.err(format!("{key}.parallelization_factor"), format!("must be between 1 and 10, got {lanes}"))
            );
        }
        let duration = raw.function_duration.ok_or_else(|| {
            self.err(
                format!("{key}.function_duration"),
                "is required for a lambda consumer, e.g. \"200ms\" or { fixed = \"50ms\", per_record = \"1ms\" }",
            )
        })?;
        let (fixed, per_record) =
            (duration.fixed.map_or(SimDuration::ZERO, |d| d.0), duration.per_record.map_or(SimDuration::ZERO, |d| d.0));
        if fixed.is_zero() && per_record.is_zero() || fixed > SimDuration::from_secs(900) {
            return Err(
                self.err(format!("{key}.function_duration"), "must be above 0 and at most \"15m\" (Lambda's timeout)")
            );
        }
        let error_rate = raw.error_rate.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(
                self.err(format!("{key}.error_rate"), format!("must be a probability from 0 to 1, got {error_rate}"))
            );
        }
        let poison_rate = raw.poison_rate.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&poison_rate) {
            return Err(self.err(
                format!("{key}.poison_rate"),
                format!("must be a fraction of records from 0 to 1, got {poison_rate}"),
            ));
        }
        let max_retry_attempts = match raw.max_retry_attempts.unwrap_or(-1) {
            -1 => None,
            attempts @ 0..=10_000 => Some(attempts as u32),
            other => {
                return Err(self.err(
                    format!("{key}.max_retry_attempts"),
                    format!("must be -1 (until the record expires) or 0 to 10000, got {other}"),
                ))
            }
        };
        let max_record_age = raw.max_record_age.map(|d| d.0);
        if let Some(age) = max_record_age {
            if age < SimDuration::from_secs(60) || age > SimDuration::from_secs(604_800) {
                return Err(self.err(
                    format!("{key}.max_record_age"),
                    "must be from \"60s\" to \"7d\" (leave it out for no limit)",
                ));
            }
        }
        let kind = match raw.retrieval.as_deref() {
            None | Some("polling") => ConsumerKind::Polling(PollingSpec {
                poll_interval: SimDuration::from_secs(1),
                poll_jitter: SimDuration::from_millis(200),
                max_records: 10_000,
                max_bytes: 10 * MIB,
            }),
            Some("efo") => ConsumerKind::Efo(EfoSpec { push_latency: SimDuration::from_millis(20) }),
            Some(other) => {
                return Err(
                    self.err(format!("{key}.retrieval"), format!("allowed: \"polling\", \"efo\"; got \"{other}\""))
                )
            }
        };
        let concurrency_max = match raw.max_concurrency {
            None => None,
            Some(cap @ 1..=10_000) => Some(cap as u32),
            Some(other) => {
                return Err(self.err(
                    format!("{key}.max_concurrency"),
                    format!(
                    "must be from 1 to 10000 concurrent invocations (the function's reserved concurrency), got {other}"
                ),
                ))
            }
        };
        let batching_window = raw.batching_window.map_or(SimDuration::ZERO, |d| d.0);
        if batching_window > SimDuration::from_secs(300) {
            return Err(
                self.err(format!("{key}.batching_window"), "must be at most \"300s\" (MaximumBatchingWindowInSeconds)")
            );
        }
        let processing = ProcessingSpec {
            lanes: lanes as u32,
            batch_size,
            // A batch is also capped by the 6 MB synchronous-invoke payload (reference §8.2).
            batch_bytes: Some(6 * MIB),
            batching_window,
            fixed,
            per_record,
            delivery: SimDuration::ZERO,
            // Enough fetched ahead to keep every lane busy for two batches.
            prefetch_records: (2 * lanes * batch_size).max(10_000),
            error_rate,
            poison_rate,
            bisect_on_error: raw.bisect_on_error.unwrap_or(false),
            max_retry_attempts,
            max_record_age,
            expires_with_retention: true,
            concurrency_max,
            shared_by_worker: false,
        };
        Ok(ConsumerSpec { name: raw.name, start, join, kind, processing: Some(processing), kcl: None })
    }

    /// Amazon Data Firehose reading the stream (reference §8.3): it polls each shard (its
    /// rate is not published: once a second assumed), buffers, and delivers when the
    /// buffer reaches `buffer_size` or has waited `buffer_interval`, taking
    /// `delivery_latency` to land the data.
    fn firehose(
        &self,
        key: &str,
        raw: RawConsumer,
        duration: SimDuration,
        start_unix_s: Option<i64>,
        record_bytes_min: u64,
    ) -> Result<ConsumerSpec, LoadError> {
        let (raw, _) = self.kcl(key, raw)?;
        self.keys_for_kind(key, &raw, "firehose")?;
        let buffer_size = raw.buffer_size.map_or(5 * MIB, |s| s.0);
        if !(MIB..=128 * MIB).contains(&buffer_size) {
            return Err(self.err(
                format!("{key}.buffer_size"),
                format!("must be from \"1MiB\" to \"128MiB\", got {buffer_size} bytes"),
            ));
        }
        let buffer_interval = raw.buffer_interval.map_or(SimDuration::from_secs(300), |d| d.0);
        if buffer_interval > SimDuration::from_secs(900) {
            return Err(self.err(format!("{key}.buffer_interval"), "must be at most \"900s\""));
        }
        let delivery_latency = raw.delivery_latency.map_or(SimDuration::from_secs(2), |d| d.0);
        if delivery_latency.is_zero() || delivery_latency > SimDuration::from_secs(3600) {
            return Err(self.err(format!("{key}.delivery_latency"), "must be above 0 and at most \"1h\""));
        }
        let polling = RawConsumer {
            kind: "polling".into(),
            buffer_size: None,
            buffer_interval: None,
            delivery_latency: None,
            ..raw
        };
        let mut spec = self.consumer(key, polling, duration, start_unix_s, record_bytes_min)?;
        spec.processing = Some(ProcessingSpec {
            lanes: 1,
            batch_size: u64::MAX,
            batch_bytes: Some(buffer_size),
            batching_window: buffer_interval,
            // Reading a buffer out takes no time of its own; landing it takes
            // `delivery_latency`, and the next buffer does not wait for that.
            fixed: SimDuration::ZERO,
            per_record: SimDuration::ZERO,
            delivery: delivery_latency,
            // Up to twice the buffer waits per shard, counted in the smallest records
            // written: in records of 1 KiB it cut reads of smaller ones short of a full
            // buffer, which was then only ever delivered by `buffer_interval`.
            prefetch_records: 2 * buffer_size / record_bytes_min.max(1),
            error_rate: 0.0,
            poison_rate: 0.0,
            bisect_on_error: false,
            max_retry_attempts: None,
            max_record_age: None,
            expires_with_retention: false,
            concurrency_max: None,
            shared_by_worker: false,
        });
        Ok(spec)
    }

    /// A point in the run: a duration from its start ("5m") or an RFC 3339 time (which
    /// needs the run's `start`).
    fn timestamp(&self, key: &str, text: &str, start_unix_s: Option<i64>) -> Result<SimDuration, LoadError> {
        if let Ok(offset) = kinesim_sim::parse_duration(text) {
            return Ok(offset);
        }
        let (Some((at, nanos)), Some(start)) = (crate::time::parse_rfc3339_nanos(text), start_unix_s) else {
            return Err(self.err(key, format!("expected a time from the run's start such as \"5m\", or an RFC 3339 time with the run's `start` set; got \"{text}\"")));
        };
        if at < start {
            return Err(self.err(key, "is before the run's `start`"));
        }
        let offset_ns = u64::try_from(at - start)
            .ok()
            .and_then(|seconds| seconds.checked_mul(NANOS_PER_SEC))
            .and_then(|ns| ns.checked_add(u64::from(nanos)));
        offset_ns.map(SimDuration::from_nanos).ok_or_else(|| {
            self.err(key, format!("is more than {} s after the run's `start`", u64::MAX / NANOS_PER_SEC))
        })
    }

    fn consumer(
        &self,
        key: &str,
        raw: RawConsumer,
        duration: SimDuration,
        start_unix_s: Option<i64>,
        record_bytes_min: u64,
    ) -> Result<ConsumerSpec, LoadError> {
        if !["polling", "efo", "lambda", "kcl", "firehose"].contains(&raw.kind.as_str()) {
            return Err(self.err(
                format!("{key}.kind"),
                format!("allowed: \"polling\", \"efo\", \"lambda\", \"kcl\", \"firehose\"; got \"{}\"", raw.kind),
            ));
        }
        if raw.kind == "firehose" {
            return self.firehose(key, raw, duration, start_unix_s, record_bytes_min);
        }
        // A KCL application reads with polling (KCL 1.x by default) or fan-out (2.x and
        // 3.x by default, reference §8.1); the rest of this function builds that reader.
        let kind = raw.kind.clone();
        let (raw, kcl) = self.kcl(key, raw)?;
        self.keys_for_kind(key, &raw, &kind)?;
        let start = match (raw.start.as_deref(), raw.timestamp.as_deref()) {
            (Some("at_timestamp"), Some(text)) => {
                StartPosition::AtTimestamp(self.timestamp(&format!("{key}.timestamp"), text, start_unix_s)?)
            }
            (Some("at_timestamp"), None) => {
                return Err(self.err(format!("{key}.timestamp"), "is required with start = \"at_timestamp\""))
            }
            (_, Some(_)) => {
                return Err(self.err(format!("{key}.timestamp"), "applies only with start = \"at_timestamp\""))
            }
            (None | Some("latest"), None) => StartPosition::Latest,
            (Some("trim_horizon"), None) => StartPosition::TrimHorizon,
            (Some(other), None) => {
                return Err(self.err(
                    format!("{key}.start"),
                    format!("allowed: \"latest\", \"trim_horizon\", \"at_timestamp\"; got \"{other}\""),
                ))
            }
        };
        let join = raw.join.map_or(SimDuration::ZERO, |d| d.0);
        if join >= duration {
            return Err(
                self.err(format!("{key}.join"), format!("must be before the run ends ({})", format_duration(duration)))
            );
        }
        let poll_interval = raw.poll_interval.map_or(SimDuration::from_secs(1), |d| d.0);
        if poll_interval < SimDuration::from_millis(1) || poll_interval > SimDuration::from_secs(3600) {
            return Err(self.err(format!("{key}.poll_interval"), "must be from \"1ms\" to \"1h\""));
        }
        let poll_jitter = raw.poll_jitter.map_or(SimDuration::from_millis(200), |d| d.0);
        if poll_jitter > SimDuration::from_secs(10) {
            return Err(self.err(format!("{key}.poll_jitter"), "must be at most \"10s\""));
        }
        let max_records = raw.max_records.unwrap_or(10_000);
        if !(1..=10_000).contains(&max_records) {
            return Err(self.err(
                format!("{key}.max_records"),
                format!("GetRecords returns 1 to 10000 records per call, got {max_records}"),
            ));
        }
        let max_bytes = raw.max_bytes.map_or(10 * MIB, |s| s.0);
        if max_bytes == 0 || max_bytes > 10 * MIB {
            return Err(self.err(
                format!("{key}.max_bytes"),
                format!("GetRecords returns at most \"10MiB\" per call, got {max_bytes}"),
            ));
        }
        if raw.kind == "efo" {
            let push_latency = raw.push_latency.map_or(SimDuration::from_millis(20), |d| d.0);
            if push_latency > SimDuration::from_secs(10) {
                return Err(self.err(format!("{key}.push_latency"), "must be at most \"10s\""));
            }
            let processing = raw
                .processing
                .map(|p| self.processing(&format!("{key}.processing"), p, 10_000, kcl.is_some()))
                .transpose()?;
            return Ok(ConsumerSpec {
                kcl,
                name: raw.name,
                start,
                join,
                kind: ConsumerKind::Efo(EfoSpec { push_latency }),
                processing,
            });
        }
        if raw.kind == "lambda" {
            return self.lambda(key, raw, start, join);
        }
        let processing = raw
            .processing
            .map(|p| self.processing(&format!("{key}.processing"), p, max_records, kcl.is_some()))
            .transpose()?;
        Ok(ConsumerSpec {
            name: raw.name,
            start,
            join,
            processing,
            kcl,
            kind: ConsumerKind::Polling(PollingSpec {
                poll_interval,
                poll_jitter,
                max_records: max_records as u32,
                max_bytes,
            }),
        })
    }
}

/// A number for a message: as written for ordinary magnitudes, in exponent form when it
/// is huge or tiny (so `1e300` is not printed as three hundred digits).
fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-4..1e15).contains(&magnitude) || !value.is_finite() {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// Whether `name` may be a `name` (of the experiment, a producer or a consumer): it
/// becomes a folder or file name, so 1 to 64 letters, digits, '-', '_' or '.', and
/// neither "." nor "..".
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name != "."
        && name != ".."
}
