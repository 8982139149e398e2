//! `kinesim plan`: the cheapest set-up that meets an experiment's SLOs, by simulation.
//!
//! The search, bounded and reproducible (every candidate runs with the experiment's
//! seed; candidates run in parallel but results are ordered by candidate, never by
//! completion):
//! 1. the experiment as written, for the workload's figures (mean and peak offered
//!    rate, mean record size) and AWS's sizing formula (reference/kinesis-pricing.md §5);
//! 2. in parallel: provisioned at a ladder of shard counts around the formula's answer
//!    (`LADDER_MAX` at most, up to `SHARDS_SEARCH_MAX`), the experiment's policy if it has
//!    one, on-demand (sized for a stream that has seen this peak before) and On-demand
//!    Advantage;
//! 3. a bisection between the largest failing and the smallest passing ladder rung, for
//!    the fewest shards that pass (at most `BISECT_STEPS_MAX` runs);
//! 4. the cheapest passing candidate (monthly cost, plus the account's Advantage
//!    commitment shortfall where there is one) is re-run with the unpublished
//!    parameters it depends on at the ends of their documented ranges, to say whether
//!    the verdict holds.
//!
//! Without `[[expect]]` entries the SLOs are: write throttle rate at most 0.1%, no
//! dropped records, and each consumer's iterator age at most 60 s.

use crate::error::LoadError;
use crate::run::run_with_policy_program;
use kinesim_models::metrics::NullRecorder;
use kinesim_models::on_demand::NEW_STREAM_SHARDS;
use kinesim_models::rates::rate_at;
use kinesim_models::slo::{evaluate, Expectation, PeriodRecorder, Scope, SloResult};
use kinesim_models::spec::{CapacityMode, Enforcement, ExperimentSpec, MIB, SHARDS_MAX};
use kinesim_models::{RunFailure, RunResult, RunSummary};
use kinesim_sim::{SimDuration, SimTime};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Shard counts tried in the first, parallel round.
const LADDER_MAX: usize = 10;
/// Runs of the bisection that finds the fewest passing shards.
const BISECT_STEPS_MAX: usize = 12;
/// The largest shard count the search considers.
const SHARDS_SEARCH_MAX: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{}: {failure}", path.display())]
    Policy { path: PathBuf, failure: RunFailure },
    #[error("{}: cannot write the plan: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// One set-up the planner simulated.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub label: String,
    pub mode: CapacityMode,
    /// Open shards at the start.
    pub shards: u32,
    /// Whether the experiment's scaling policy runs.
    pub with_policy: bool,
    pub cost_per_month_usd: f64,
    /// The account's Advantage commitment shortfall, per month (part of the ranking).
    pub shortfall_per_month_usd: f64,
    pub write_throttle_rate: f64,
    pub iterator_age_ms_max: f64,
    pub slo_results: Vec<SloResult>,
    pub passed: bool,
}

impl Candidate {
    /// What the set-up costs the account per month.
    pub fn ranking_usd(&self) -> f64 {
        self.cost_per_month_usd + self.shortfall_per_month_usd
    }
}

/// The workload as the first run saw it, and AWS's formula for it.
#[derive(Clone, Debug)]
pub struct Workload {
    pub mean_records_per_s: f64,
    pub peak_records_per_s: f64,
    pub mean_record_bytes: f64,
    pub consumers: usize,
    pub polling_consumers: usize,
    /// `ceil(max(in_KiB/1024, out_KiB/2048))` on the mean rate (reference §5).
    pub formula_shards: u32,
    /// The Pricing Calculator's three terms, records included, on the peak, +20%.
    pub calculator_shards: u32,
    /// The hottest shard's share of the stream at the recommended count (from
    /// hot_keys), when known.
    pub hottest_shard_share: Option<f64>,
}

/// Whether the recommendation's verdict survives the unpublished parameters.
#[derive(Clone, Debug)]
pub struct Sensitivity {
    /// Each variant, and whether every SLO still passed under it.
    pub variants: Vec<(String, bool)>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub workload: Workload,
    /// Every candidate, cheapest first.
    pub candidates: Vec<Candidate>,
    /// Index in `candidates` of the cheapest that meets every SLO.
    pub recommended: Option<usize>,
    pub sensitivity: Option<Sensitivity>,
    /// Why the formula's answer and the recommendation differ.
    pub reasons: Vec<String>,
    /// The objectives the plan judged by when the experiment gave none (written into
    /// `recommended.toml`, so that `kinesim check` on it checks what the plan did).
    pub default_objectives: Vec<Expectation>,
}

/// Plans for the experiment at `path`.
pub fn plan(path: &Path) -> Result<Plan, PlanError> {
    let mut base = crate::experiment::load(path)?;
    let mut default_objectives = Vec::new();
    if base.expectations.is_empty() {
        default_objectives = default_expectations(&base);
        base.expectations = default_objectives.clone();
    }
    let wrap = |failure| PlanError::Policy { path: path.to_path_buf(), failure };
    let first = simulate(&base).map_err(wrap)?;
    let workload = workload(&base, &first.0);

    let mut set_ups = ladder(&workload).into_iter().map(|shards| SetUp::provisioned(shards, false)).collect::<Vec<_>>();
    if base.policy.is_some() && base.stream.mode == CapacityMode::Provisioned {
        set_ups.push(SetUp::provisioned(base.stream.shards, true));
    }
    let warm_shards = on_demand_shards(&workload);
    set_ups.push(SetUp { mode: CapacityMode::OnDemand, shards: warm_shards, with_policy: false });
    set_ups.push(SetUp { mode: CapacityMode::OnDemandAdvantage, shards: warm_shards, with_policy: false });
    let mut candidates = run_all(&base, &set_ups).map_err(wrap)?;
    if let Some(fewest) = bisect(&base, &candidates).map_err(wrap)? {
        candidates.extend(fewest);
    }
    candidates.sort_by(|a, b| {
        b.passed.cmp(&a.passed).then(a.ranking_usd().total_cmp(&b.ranking_usd())).then(a.label.cmp(&b.label))
    });
    candidates.dedup_by(|a, b| a.label == b.label);
    let recommended = candidates.iter().position(|c| c.passed);
    let sensitivity = match recommended {
        Some(index) => Some(sensitivity(&base, &candidates[index]).map_err(wrap)?),
        None => None,
    };
    let mut workload = workload;
    if let Some(index) = recommended {
        workload.hottest_shard_share = hottest_share(&base, &candidates[index]).map_err(wrap)?;
    }
    let reasons = reasons(&workload, recommended.map(|i| &candidates[i]));
    Ok(Plan { workload, candidates, recommended, sensitivity, reasons, default_objectives })
}

/// What a candidate changes in the experiment.
#[derive(Copy, Clone, Debug, PartialEq)]
struct SetUp {
    mode: CapacityMode,
    shards: u32,
    with_policy: bool,
}

impl SetUp {
    fn provisioned(shards: u32, with_policy: bool) -> SetUp {
        SetUp { mode: CapacityMode::Provisioned, shards, with_policy }
    }

    fn label(&self) -> String {
        match (self.mode, self.with_policy) {
            (CapacityMode::Provisioned, false) => format!("provisioned, {} shards", self.shards),
            (CapacityMode::Provisioned, true) => format!("provisioned from {} shards + policy", self.shards),
            (CapacityMode::OnDemand, _) => "on-demand".to_string(),
            (CapacityMode::OnDemandAdvantage, _) => "on-demand advantage".to_string(),
        }
    }

    fn apply(&self, base: &ExperimentSpec) -> ExperimentSpec {
        let mut spec = base.clone();
        spec.stream.mode = self.mode;
        spec.stream.shards = self.shards;
        if !self.with_policy {
            spec.policy = None;
        }
        spec
    }
}

/// Runs a spec with no outputs but its SLOs; returns the result and the SLO verdicts.
fn simulate(spec: &ExperimentSpec) -> Result<(RunResult, Vec<SloResult>), RunFailure> {
    let mut null = NullRecorder;
    let mut recorder = PeriodRecorder::new(&mut null, &spec.expectations);
    let result = run_with_policy_program(spec, &mut recorder)?;
    let periods = recorder.finish();
    let slo_results = evaluate(&spec.expectations, &result.summary, &periods);
    Ok((result, slo_results))
}

fn run_all(base: &ExperimentSpec, set_ups: &[SetUp]) -> Result<Vec<Candidate>, RunFailure> {
    set_ups.par_iter().map(|set_up| run_one(base, set_up)).collect()
}

fn run_one(base: &ExperimentSpec, set_up: &SetUp) -> Result<Candidate, RunFailure> {
    let spec = set_up.apply(base);
    let (result, slo_results) = simulate(&spec)?;
    Ok(candidate(set_up, &result.summary, slo_results))
}

fn candidate(set_up: &SetUp, summary: &RunSummary, slo_results: Vec<SloResult>) -> Candidate {
    let month_factor = if summary.duration_s > 0.0 { 730.0 * 3600.0 / summary.duration_s } else { 0.0 };
    Candidate {
        label: set_up.label(),
        mode: set_up.mode,
        shards: set_up.shards,
        with_policy: set_up.with_policy,
        cost_per_month_usd: summary.cost.per_month_usd,
        shortfall_per_month_usd: summary.cost.advantage_shortfall_usd * month_factor,
        write_throttle_rate: summary.write_throttle_rate,
        iterator_age_ms_max: summary.consumers.iter().map(|c| c.iterator_age_ms_max).fold(0.0, f64::max),
        passed: slo_results.iter().all(|r| r.passed),
        slo_results,
    }
}

/// The SLOs when the experiment gives none.
fn default_expectations(spec: &ExperimentSpec) -> Vec<Expectation> {
    let bound = |metric: &str, scope: Scope, max: f64| Expectation {
        metric: metric.to_string(),
        scope,
        max: Some(max),
        min: None,
        fraction: None,
    };
    let mut expectations =
        vec![bound("write_throttle_rate", Scope::Stream, 0.001), bound("dropped_records", Scope::Stream, 0.0)];
    for consumer in &spec.consumers {
        expectations.push(bound("iterator_age_ms_max", Scope::Consumer(consumer.name.clone()), 60_000.0));
    }
    expectations
}

fn workload(spec: &ExperimentSpec, first: &RunResult) -> Workload {
    let summary = &first.summary;
    let seconds = summary.duration_s.max(1.0);
    let mean_records_per_s = summary.offered_records as f64 / seconds;
    let peak_records_per_s = peak_offered_rate(spec).max(mean_records_per_s);
    let mean_record_bytes = if summary.incoming_records == 0 {
        1024.0
    } else {
        summary.incoming_bytes as f64 / summary.incoming_records as f64
    };
    let consumers = spec.consumers.len();
    let polling_consumers =
        spec.consumers.iter().filter(|c| matches!(c.kind, kinesim_models::spec::ConsumerKind::Polling(_))).count();
    // §5: average size rounded up to a whole KiB, on the average rate.
    let size_kib = (mean_record_bytes / 1024.0).ceil().max(1.0);
    let in_kib = size_kib * mean_records_per_s;
    let out_kib = in_kib * consumers.max(1) as f64;
    let formula_shards = ((in_kib / 1024.0).max(out_kib / 2048.0)).ceil().max(1.0) as u32;
    // The calculator: MB/s in, MB/s out / 2, records / 1000, on the peak, with 20% buffer.
    let peak_mib = peak_records_per_s * mean_record_bytes / MIB as f64;
    let calculator = (peak_mib).max(peak_mib * consumers.max(1) as f64 / 2.0).max(peak_records_per_s / 1000.0) * 1.2;
    let calculator_shards = calculator.ceil().max(1.0) as u32;
    Workload {
        mean_records_per_s,
        peak_records_per_s,
        mean_record_bytes,
        consumers,
        polling_consumers,
        formula_shards,
        calculator_shards,
        hottest_shard_share: None,
    }
}

/// The highest offered rate of the producers together, sampled every minute.
fn peak_offered_rate(spec: &ExperimentSpec) -> f64 {
    let minutes = (spec.duration.as_nanos() / 60_000_000_000).clamp(1, 60 * 24 * 366);
    (0..minutes)
        .map(|minute| {
            let at = SimTime::ZERO + SimDuration::from_secs(minute * 60);
            spec.producers.iter().map(|p| rate_at(&p.rate, at, spec.start_unix_s)).sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Shard counts of the first round: from half the formula's answer to four times the
/// calculator's, geometric, always including both answers.
fn ladder(workload: &Workload) -> Vec<u32> {
    let low = (workload.formula_shards / 2).max(1);
    let high = (workload.calculator_shards.max(workload.formula_shards) * 4).clamp(low + 1, SHARDS_SEARCH_MAX);
    let ratio = (f64::from(high) / f64::from(low)).powf(1.0 / (LADDER_MAX - 3) as f64).max(1.0001);
    let mut counts = vec![workload.formula_shards, workload.calculator_shards];
    let mut value = f64::from(low);
    while counts.len() < LADDER_MAX && value <= f64::from(high) + 0.5 {
        counts.push(value.round() as u32);
        value *= ratio;
    }
    counts.iter_mut().for_each(|c| *c = (*c).clamp(1, SHARDS_MAX.min(SHARDS_SEARCH_MAX)));
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// An on-demand stream that has seen this peak before has about one shard per 500 KiB/s
/// of it (each split at half a shard's limit): at least the new stream's 4.
fn on_demand_shards(workload: &Workload) -> u32 {
    let peak_bytes = workload.peak_records_per_s * workload.mean_record_bytes;
    let by_bytes = peak_bytes / (500.0 * 1024.0);
    let by_records = workload.peak_records_per_s / 500.0;
    (by_bytes.max(by_records).ceil() as u32).clamp(NEW_STREAM_SHARDS, SHARDS_SEARCH_MAX)
}

/// Between the most shards that failed and the fewest that passed (provisioned, no
/// policy), the fewest that pass.
fn bisect(base: &ExperimentSpec, candidates: &[Candidate]) -> Result<Option<Vec<Candidate>>, RunFailure> {
    let plain = |c: &&Candidate| c.mode == CapacityMode::Provisioned && !c.with_policy;
    let Some(mut pass) = candidates.iter().filter(plain).filter(|c| c.passed).map(|c| c.shards).min() else {
        return Ok(None);
    };
    let mut fail = candidates.iter().filter(plain).filter(|c| !c.passed && c.shards < pass).map(|c| c.shards).max();
    let mut found = Vec::new();
    for _ in 0..BISECT_STEPS_MAX {
        let low = fail.unwrap_or(0);
        if pass - low <= 1 {
            break;
        }
        let middle = low + (pass - low) / 2;
        let candidate = run_one(base, &SetUp::provisioned(middle, false))?;
        if candidate.passed {
            pass = middle;
        } else {
            fail = Some(middle);
        }
        found.push(candidate);
    }
    Ok(Some(found))
}

/// Re-runs the recommendation with each unpublished parameter it depends on at an end
/// of its documented range.
fn sensitivity(base: &ExperimentSpec, chosen: &Candidate) -> Result<Sensitivity, RunFailure> {
    let set_up = SetUp { mode: chosen.mode, shards: chosen.shards, with_policy: chosen.with_policy };
    let spec = set_up.apply(base);
    let mut variants: Vec<(String, ExperimentSpec)> = Vec::new();
    let mut variant = |label: &str, change: &dyn Fn(&mut ExperimentSpec)| {
        let mut changed = spec.clone();
        change(&mut changed);
        variants.push((label.to_string(), changed));
    };
    variant("write limits as 1 s token buckets instead of fixed windows", &|s| {
        s.stream.write_limit.enforcement = Enforcement::TokenBucket { depth_s: 1.0 };
    });
    variant("propagation delay 1 s instead of 50 ms", &|s| s.stream.propagation_delay = SimDuration::from_secs(1));
    variant("a seed of +1", &|s| s.seed = s.seed.wrapping_add(1));
    if chosen.mode.is_on_demand() {
        variant("on-demand splits after 5 min instead of 15", &|s| {
            s.stream.on_demand.split_delay = SimDuration::from_secs(300)
        });
        variant("on-demand splits above 1 MiB/s instead of 500 KiB/s", &|s| {
            s.stream.on_demand.split_bytes_per_s = MIB;
            s.stream.on_demand.split_records_per_s = 1000;
        });
    }
    if chosen.with_policy {
        variant("reshards take 60 s instead of 5 s", &|s| s.stream.reshard_duration = SimDuration::from_secs(60));
    }
    let outcomes: Result<Vec<(String, bool)>, RunFailure> = variants
        .par_iter()
        .map(|(label, spec)| simulate(spec).map(|(_, slos)| (label.clone(), slos.iter().all(|r| r.passed))))
        .collect();
    Ok(Sensitivity { variants: outcomes? })
}

/// The hottest shard's share of the stream's offered records for the chosen set-up.
fn hottest_share(base: &ExperimentSpec, chosen: &Candidate) -> Result<Option<f64>, RunFailure> {
    let spec = SetUp { mode: chosen.mode, shards: chosen.shards, with_policy: chosen.with_policy }.apply(base);
    let (result, _) = simulate(&spec)?;
    Ok(result
        .hot_keys
        .iter()
        .map(|row| row.shard_share_of_stream)
        .fold(None, |best, share| Some(best.map_or(share, |b: f64| b.max(share)))))
}

/// Why the formula's answer and the recommendation differ, in words: what the
/// formula misses when it asks for too few shards, or counts too much when it asks for
/// too many.
fn reasons(workload: &Workload, chosen: Option<&Candidate>) -> Vec<String> {
    let Some(chosen) = chosen else { return Vec::new() };
    let provisioned = chosen.mode == CapacityMode::Provisioned && !chosen.with_policy;
    if provisioned && chosen.shards == workload.formula_shards {
        return vec!["the formula's answer meets the SLOs".to_string()];
    }
    let more = !provisioned || chosen.shards > workload.formula_shards;
    let mut reasons = Vec::new();
    let burst = workload.peak_records_per_s / workload.mean_records_per_s.max(1e-9);
    let size_kib = workload.mean_record_bytes / 1024.0;
    let bytes_term = workload.mean_records_per_s * size_kib / 1024.0;
    let records_term = workload.mean_records_per_s / 1000.0;
    if more {
        if burst > 1.2 {
            reasons.push(format!(
                "bursts: traffic peaks at {:.0} records/s, {burst:.1}x its mean; the formula sizes for the mean",
                workload.peak_records_per_s
            ));
        }
        if records_term > bytes_term {
            reasons.push(format!(
                "the records limit: {:.0}-byte records reach 1,000 records/s per shard before 1 MiB/s; the formula counts only bytes",
                workload.mean_record_bytes
            ));
        }
        if let Some(share) = workload.hottest_shard_share {
            let even = 1.0 / f64::from(chosen.shards.max(1));
            if provisioned && share > 1.5 * even {
                reasons.push(format!(
                    "hot keys: the hottest shard takes {:.0}% of the traffic, not {:.0}%",
                    share * 100.0,
                    even * 100.0
                ));
            }
        }
        if workload.polling_consumers > 1 {
            reasons.push(format!(
                "consumers: {} polling consumers share each shard's 5 GetRecords calls/s and 2 MiB/s",
                workload.polling_consumers
            ));
        }
        if reasons.is_empty() {
            reasons.push("per-second variation of the traffic that averages hide".to_string());
        }
    } else {
        if size_kib.ceil() > 1.2 * size_kib {
            reasons.push(format!(
                "the formula rounds each {:.0}-byte record up to {:.0} KiB",
                workload.mean_record_bytes,
                size_kib.ceil()
            ));
        }
        let fan_out = workload.consumers - workload.polling_consumers;
        if workload.consumers > 1 {
            reasons.push(format!(
                "the formula charges all {} consumers to the shared 2 MiB/s read limit; {fan_out} of them use enhanced fan-out with their own, and the others read within the 2 MiB/s",
                workload.consumers
            ));
        }
        if reasons.is_empty() {
            reasons.push("the formula's rounding leaves headroom the traffic does not use".to_string());
        }
    }
    reasons
}

/// Writes `plan.csv` (every candidate) and, when there is a recommendation,
/// `recommended.toml`: the experiment with the recommended set-up, runnable by `kinesim
/// check`.
pub fn write_outputs(plan: &Plan, experiment: &Path, folder: &Path) -> Result<(), PlanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlanError::Write { path: path.clone(), source }
    };
    std::fs::create_dir_all(folder).map_err(io(folder))?;
    let mut text = String::from(
        "label,mode,shards,with_policy,cost_usd_per_month,shortfall_usd_per_month,write_throttle_rate,iterator_age_ms_max,passed\n",
    );
    for c in &plan.candidates {
        text.push_str(&format!(
            "\"{}\",{},{},{},{:.2},{:.2},{},{},{}\n",
            c.label,
            c.mode.name(),
            c.shards,
            c.with_policy,
            c.cost_per_month_usd,
            c.shortfall_per_month_usd,
            c.write_throttle_rate,
            c.iterator_age_ms_max,
            c.passed
        ));
    }
    let csv_path = folder.join("plan.csv");
    kinesim_reports::atomic::write_all(&csv_path, text.as_bytes())
        .map_err(|e| PlanError::Write { path: csv_path.clone(), source: std::io::Error::other(e.to_string()) })?;
    if let Some(index) = plan.recommended {
        let toml_path = folder.join("recommended.toml");
        let text = recommended_toml(experiment, &plan.candidates[index], &plan.default_objectives)?;
        kinesim_reports::atomic::write_all(&toml_path, text.as_bytes())
            .map_err(|e| PlanError::Write { path: toml_path.clone(), source: std::io::Error::other(e.to_string()) })?;
    }
    Ok(())
}

/// The experiment's TOML with the recommended stream set-up and the objectives it was
/// judged by (`objectives`, when the experiment gave none); file paths it names are made
/// absolute so the file runs from anywhere.
fn recommended_toml(experiment: &Path, chosen: &Candidate, objectives: &[Expectation]) -> Result<String, PlanError> {
    let read_error = |source| PlanError::Write { path: experiment.to_path_buf(), source };
    let text = std::fs::read_to_string(experiment).map_err(read_error)?;
    let mut value: toml::Table = text.parse().map_err(|e: toml::de::Error| PlanError::Write {
        path: experiment.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let folder = std::path::absolute(experiment.parent().unwrap_or(Path::new("."))).unwrap_or_default();
    if let Some(stream) = value.get_mut("stream").and_then(|s| s.as_table_mut()) {
        stream.insert("mode".into(), toml::Value::String(chosen.mode.name().into()));
        stream.insert("shards".into(), toml::Value::Integer(i64::from(chosen.shards)));
    }
    if !chosen.with_policy {
        value.remove("policy");
    }
    // Its own name, so that checking it and the original keep apart in out/.
    let name = value
        .get("name")
        .and_then(toml::Value::as_str)
        .map(str::to_string)
        .or_else(|| experiment.file_stem().map(|stem| stem.to_string_lossy().into_owned()));
    // Cut to fit the 64 characters a name may have.
    let recommended = |name: String| {
        let kept: String = name.chars().take(64 - "-recommended".len()).collect();
        format!("{kept}-recommended")
    };
    if let Some(name) = name.map(recommended).filter(|name| crate::experiment::is_valid_name(name)) {
        value.insert("name".into(), toml::Value::String(name));
    }
    absolutize(&mut value, &folder);
    if !objectives.is_empty() {
        value.insert("expect".into(), toml::Value::Array(objectives.iter().map(objective_table).collect()));
    }
    Ok(format!(
        "# The set-up `kinesim plan` recommends for {}: {}.\n# Check it with `kinesim check` on this file.\n{}",
        experiment.display(),
        chosen.label,
        toml::to_string(&value).unwrap_or_default()
    ))
}

/// One `[[expect]]` entry.
fn objective_table(objective: &Expectation) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert("metric".into(), toml::Value::String(objective.metric.clone()));
    match &objective.scope {
        Scope::Stream => {}
        Scope::Consumer(name) => {
            table.insert("consumer".into(), toml::Value::String(name.clone()));
        }
        Scope::Producer(name) => {
            table.insert("producer".into(), toml::Value::String(name.clone()));
        }
    }
    for (key, bound) in [("min", objective.min), ("max", objective.max)] {
        if let Some(bound) = bound {
            table.insert(key.into(), toml::Value::Float(bound));
        }
    }
    toml::Value::Table(table)
}

/// Makes the file paths an experiment names absolute: traces, policy configuration, a
/// policy program given by path and the files its arguments name, price files.
fn absolutize(value: &mut toml::Table, folder: &Path) {
    // The experiment's folder as given may itself be relative, or empty (`plan y.toml`).
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let folder = &std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    let fix = |v: &mut toml::Value| {
        if let Some(text) = v.as_str() {
            if !Path::new(text).is_absolute() {
                *v = toml::Value::String(folder.join(text).display().to_string());
            }
        }
    };
    if let Some(pricing) = value.get_mut("pricing").and_then(|p| p.as_table_mut()) {
        if let Some(file) = pricing.get_mut("file") {
            fix(file);
        }
    }
    if let Some(policy) = value.get_mut("policy").and_then(|p| p.as_table_mut()) {
        if let Some(config) = policy.get_mut("config") {
            fix(config);
        }
        if let Some(command) = policy.get_mut("command").and_then(|c| c.as_array_mut()) {
            // The program runs in its experiment's folder: a program given by path, and
            // arguments naming files there (`["python3", "scaler.py"]`), are made
            // absolute so that they are found from the recommended file's folder.
            for (index, part) in command.iter_mut().enumerate() {
                let names_path = part.as_str().is_some_and(|text| {
                    if index == 0 {
                        text.contains('/')
                    } else {
                        !text.starts_with('-') && folder.join(text).exists()
                    }
                });
                if names_path {
                    fix(part);
                }
            }
        }
    }
    if let Some(producers) = value.get_mut("producers").and_then(|p| p.as_array_mut()) {
        for producer in producers {
            if let Some(file) = producer.get_mut("rate").and_then(|r| r.as_table_mut()).and_then(|r| r.get_mut("file"))
            {
                fix(file);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Planned from the experiment's own folder (`plan scaled.toml`: an empty folder), a
    /// policy run through an interpreter keeps finding its script: the arguments that
    /// name files there become absolute, the others stay. (The script stayed relative and
    /// was looked for next to recommended.toml: the check exited 3.)
    #[test]
    fn policy_arguments_naming_files_become_absolute() {
        // Tests run in the crate's folder, which holds Cargo.toml.
        let mut value: toml::Table = toml::from_str(
            "[policy]\nkind = \"external\"\ncommand = [\"sh\", \"Cargo.toml\", \"--fast\", \"missing.py\"]\n",
        )
        .unwrap();
        absolutize(&mut value, Path::new(""));
        let command = value["policy"]["command"].as_array().unwrap();
        let here = std::path::absolute("Cargo.toml").unwrap();
        assert_eq!(command[0].as_str(), Some("sh"), "a program found on PATH stays");
        assert_eq!(command[1].as_str(), Some(here.to_str().unwrap()));
        assert_eq!(command[2].as_str(), Some("--fast"));
        assert_eq!(command[3].as_str(), Some("missing.py"), "not a file there: left as written");
    }
}
