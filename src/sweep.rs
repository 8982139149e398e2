//! `kinesim sweep` and `kinesim merge`: a grid of experiment variants x replications,
//! run in parallel, sliced across machines, resumed after a kill, and summarised with
//! confidence intervals.
//!
//! Jobs. The grid's points are the cartesian product of `[sweep.grid]` entries (the
//! first key varies slowest) times the zipped `[sweep.zip]` lists (one dimension that
//! varies together); each point runs `replications` times. Job `j` is point
//! `j / replications`, replication `j % replications`. Replication `r` runs with the
//! experiment's seed plus `r`, at every point: points share random streams (common
//! random numbers), replications differ.
//!
//! Lifecycle of a job: it runs on a rayon worker, and its row of `sweep.csv` is
//! written atomically to `jobs/job-<index>.csv` in the output folder. Once every job
//! is there, `sweep.csv` and `sweep_summary.csv` are assembled from those files in job
//! order, streaming (memory does not grow with the number of jobs), so the bytes do
//! not depend on the thread count or on which machine ran which job. `--partition I/N`
//! runs jobs with `j % N == I` and leaves only its job files and a manifest; `merge`
//! checks the manifests (same kinesim version, same experiment bytes, same job count;
//! no job twice, none missing) and assembles. `--resume` keeps the job files already
//! written; without it they are removed first.

use crate::error::LoadError;
use crate::run::run_with_policy_program;
use kinesim_models::metrics::NullRecorder;
use kinesim_models::slo::{evaluate, PeriodRecorder};
use kinesim_models::{RunFailure, RunSummary};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The most jobs a sweep may have (a bound; a larger grid is refused at load).
pub const JOBS_MAX: usize = 1_000_000;
/// The most replications per point.
pub const REPLICATIONS_MAX: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{}: {failure}", path.display())]
    Policy { path: PathBuf, failure: RunFailure },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Parts that cannot be merged, or a folder that is not a sweep.
    #[error("{0}")]
    Merge(String),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SweepError + '_ {
    move |error| SweepError::Io { path: path.to_path_buf(), message: error.to_string() }
}

/// One swept dimension: a key path and its values (with their labels for the CSV).
#[derive(Clone, Debug)]
struct Dimension {
    keys: Vec<String>,
    /// Per step of the dimension, one value per key.
    values: Vec<Vec<toml::Value>>,
}

/// The parsed `[sweep]` table.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    dimensions: Vec<Dimension>,
    pub replications: u64,
    /// The baseline point's index, for paired differences.
    pub baseline: Option<usize>,
    /// Parameter columns, in order.
    pub columns: Vec<String>,
}

impl SweepSpec {
    /// Grid points (saturating: a grid past `usize::MAX` points is refused as too big).
    pub fn points(&self) -> usize {
        self.dimensions.iter().fold(1usize, |points, d| points.saturating_mul(d.values.len())).max(1)
    }

    pub fn jobs(&self) -> usize {
        self.points().saturating_mul(self.replications as usize)
    }

    /// The (key, value) pairs of a point.
    fn assignments(&self, point: usize) -> Vec<(String, toml::Value)> {
        let mut rest = point;
        let mut steps = vec![0; self.dimensions.len()];
        for (index, dimension) in self.dimensions.iter().enumerate().rev() {
            steps[index] = rest % dimension.values.len();
            rest /= dimension.values.len();
        }
        let mut pairs = Vec::new();
        for (dimension, step) in self.dimensions.iter().zip(steps) {
            for (key, value) in dimension.keys.iter().zip(&dimension.values[step]) {
                pairs.push((key.clone(), value.clone()));
            }
        }
        pairs
    }
}

/// A value as the CSV shows it: its `label` when it is a labelled table, else its TOML.
/// A named value is a table `{ label = "...", value = ... }` (any value, e.g. a list
/// of consumers); other labelled tables are applied without their `label`.
fn label(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Table(table) => match table.get("label").and_then(|l| l.as_str()) {
            Some(label) => label.to_string(),
            None => toml::to_string(table).unwrap_or_default().trim().replace('\n', "; "),
        },
        other => other.to_string(),
    }
}

/// Reads `[sweep]` from the experiment's document.
pub fn parse_sweep(path: &Path, document: &toml::Table) -> Result<SweepSpec, LoadError> {
    let err = |key: &str, message: String| LoadError::invalid(path, key, message);
    let Some(sweep) = document.get("sweep") else {
        return Err(err("sweep", "is required by `kinesim sweep`: a [sweep.grid] of key paths and values".into()));
    };
    let sweep = sweep.as_table().ok_or_else(|| err("sweep", "must be a table".into()))?;
    for key in sweep.keys() {
        if !["replications", "baseline", "grid", "zip"].contains(&key.as_str()) {
            return Err(err(&format!("sweep.{key}"), "unknown key; allowed: replications, baseline, grid, zip".into()));
        }
    }
    let replications = match sweep.get("replications") {
        None => 1,
        Some(toml::Value::Integer(n)) if (1..=REPLICATIONS_MAX as i64).contains(n) => *n as u64,
        Some(other) => {
            return Err(err(
                "sweep.replications",
                format!("must be an integer from 1 to {REPLICATIONS_MAX}, got {other}"),
            ))
        }
    };
    let mut dimensions = Vec::new();
    let mut columns = Vec::new();
    if let Some(grid) = sweep.get("grid") {
        let grid = grid.as_table().ok_or_else(|| err("sweep.grid", "must be a table of key paths".into()))?;
        for (key, values) in grid {
            let values = values_of(path, &format!("sweep.grid.\"{key}\""), values)?;
            dimensions
                .push(Dimension { keys: vec![key.clone()], values: values.into_iter().map(|v| vec![v]).collect() });
            columns.push(key.clone());
        }
    }
    if let Some(zip) = sweep.get("zip") {
        let zip = zip.as_table().ok_or_else(|| err("sweep.zip", "must be a table of key paths".into()))?;
        let mut keys = Vec::new();
        let mut lists = Vec::new();
        for (key, values) in zip {
            if columns.contains(key) {
                return Err(err(
                    &format!("sweep.zip.\"{key}\""),
                    "is also in [sweep.grid]: a key path is swept in one of them only".into(),
                ));
            }
            let values = values_of(path, &format!("sweep.zip.\"{key}\""), values)?;
            if let Some(first) = lists.first().map(|l: &Vec<toml::Value>| l.len()) {
                if values.len() != first {
                    return Err(err(
                        &format!("sweep.zip.\"{key}\""),
                        format!("zipped lists vary together: all need {first} values, this has {}", values.len()),
                    ));
                }
            }
            keys.push(key.clone());
            lists.push(values);
        }
        if !keys.is_empty() {
            let steps = lists[0].len();
            let values = (0..steps).map(|step| lists.iter().map(|list| list[step].clone()).collect()).collect();
            columns.extend(keys.iter().cloned());
            dimensions.push(Dimension { keys, values });
        }
    }
    if dimensions.is_empty() {
        return Err(err("sweep.grid", "needs at least one key path with a list of values".into()));
    }
    let mut spec = SweepSpec { dimensions, replications, baseline: None, columns };
    if spec.jobs() > JOBS_MAX {
        return Err(err("sweep", format!("has {} jobs; at most {JOBS_MAX}", spec.jobs())));
    }
    if let Some(baseline) = sweep.get("baseline") {
        let wanted = baseline.as_table().ok_or_else(|| err("sweep.baseline", "must be a table of key paths".into()))?;
        if wanted.is_empty() {
            return Err(err("sweep.baseline", "needs at least one swept key path and its value".into()));
        }
        let point = (0..spec.points()).find(|&point| {
            let pairs = spec.assignments(point);
            wanted.iter().all(|(key, value)| pairs.iter().any(|(k, v)| k == key && v == value))
        });
        spec.baseline = Some(point.ok_or_else(|| {
            err("sweep.baseline", "matches no point of the grid (give a swept key path and one of its values)".into())
        })?);
    }
    Ok(spec)
}

fn values_of(path: &Path, key: &str, values: &toml::Value) -> Result<Vec<toml::Value>, LoadError> {
    // `key` is `sweep.grid."<path>"` or `sweep.zip."<path>"`.
    let swept = key.split_once('"').map_or("", |(_, rest)| rest.trim_end_matches('"'));
    if swept == "sweep" || swept.starts_with("sweep.") {
        return Err(LoadError::invalid(path, key, "sweeps the experiment's keys, not the [sweep] section's own"));
    }
    match values.as_array() {
        Some(list) if !list.is_empty() && list.len() <= 10_000 => Ok(list.clone()),
        _ => Err(LoadError::invalid(path, key, "must be a list of 1 to 10000 values")),
    }
}

/// Sets `key` (a dotted path; list entries addressed by their `name`) in the document.
fn assign(document: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = document;
    let mut index = 0;
    while index + 1 < parts.len() {
        let part = parts[index];
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(inner) => inner,
            toml::Value::Array(list) => {
                let name = parts[index + 1];
                index += 1;
                let found = list
                    .iter_mut()
                    .find(|item| item.get("name").and_then(|n| n.as_str()) == Some(name))
                    .ok_or_else(|| format!("no entry of `{part}` is named \"{name}\""))?;
                found.as_table_mut().ok_or_else(|| format!("`{part}.{name}` is not a table"))?
            }
            _ => return Err(format!("`{part}` is not a table")),
        };
        index += 1;
    }
    if index >= parts.len() {
        return Err("the key path ends at a list entry; name a key inside it".into());
    }
    let value = match value {
        // A named value: only its `value` is applied.
        toml::Value::Table(mut inner)
            if inner.len() == 2 && inner.contains_key("label") && inner.contains_key("value") =>
        {
            inner.remove("value").expect("checked")
        }
        // A labelled table: the label is for the CSV only.
        toml::Value::Table(mut inner) => {
            inner.remove("label");
            toml::Value::Table(inner)
        }
        other => other,
    };
    table.insert(parts[index].to_string(), value);
    Ok(())
}

/// A sweep ready to run: the experiment's text and what varies.
pub struct Sweep {
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
    pub spec: SweepSpec,
    document: toml::Table,
}

/// Loads the experiment and its sweep, and checks that every point is a valid
/// experiment (errors name the point and its values).
pub fn load(path: &Path) -> Result<Sweep, SweepError> {
    let (bytes, text) = crate::experiment::read(path)?;
    Ok(from_text(path, &bytes, text)?)
}

/// A sweep from its file's contents (`path` names it in messages): the experiment, the
/// `[sweep]` section and the experiment of every point are checked.
pub fn from_text(path: &Path, bytes: &[u8], text: String) -> Result<Sweep, LoadError> {
    crate::experiment::parse(path, &text)?;
    let document: toml::Table =
        text.parse().map_err(|e: toml::de::Error| LoadError::invalid(path, "", e.message().to_string()))?;
    let spec = parse_sweep(path, &document)?;
    let sweep = Sweep { path: path.to_path_buf(), sha256: hex(&Sha256::digest(bytes)), text, spec, document };
    for point in 0..sweep.spec.points() {
        sweep.point_spec(point, 0)?;
    }
    Ok(sweep)
}

/// Whether an experiment file's text has a `[sweep]` section (`kinesim validate`
/// checks it as `kinesim sweep` would). Text that is not TOML has none.
pub fn has_sweep(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok_and(|document| document.contains_key("sweep"))
}

impl Sweep {
    /// The experiment of one point and replication.
    fn point_spec(&self, point: usize, replication: u64) -> Result<kinesim_models::spec::ExperimentSpec, LoadError> {
        let mut document = self.document.clone();
        document.remove("sweep");
        let pairs = self.spec.assignments(point);
        let describe = || pairs.iter().map(|(k, v)| format!("{k} = {}", label(v))).collect::<Vec<_>>().join(", ");
        for (key, value) in &pairs {
            assign(&mut document, key, value.clone()).map_err(|message| {
                LoadError::invalid(
                    &self.path,
                    format!("sweep \"{key}\""),
                    format!("{message} (point {point}: {})", describe()),
                )
            })?;
        }
        let text = toml::to_string(&document).expect("a TOML table serialises");
        let mut spec = crate::experiment::parse(&self.path, &text).map_err(|error| match error {
            LoadError::Invalid { key, message, .. } => {
                LoadError::invalid(&self.path, key, format!("{message} (sweep point {point}: {})", describe()))
            }
            other => other,
        })?;
        spec.seed = spec.seed.wrapping_add(replication);
        Ok(spec)
    }

    /// The CSV header of `sweep.csv`.
    fn header(&self) -> String {
        let mut columns = vec!["point".to_string(), "replication".to_string(), "seed".to_string()];
        columns.extend(self.spec.columns.iter().cloned());
        columns.extend(METRICS.iter().map(|m| m.to_string()));
        columns.push("slo_passed".into());
        csv_line(&columns)
    }
}

// Stream-level metrics of each job, in column order (shared with the sweep report,
// which reads `sweep.csv` by these names).
use kinesim_reports::sweep_report::SWEEP_METRICS as METRICS;

fn metric_values(summary: &RunSummary) -> Vec<f64> {
    let mut values = vec![
        summary.offered_records as f64,
        summary.accepted_records as f64,
        summary.write_throttled_records as f64,
        summary.write_throttle_rate,
        summary.dropped_records as f64,
        f64::from(summary.shards_open_max),
        summary.reshard_operations as f64,
        summary.cost.total_usd,
        summary.cost.per_month_usd,
    ];
    let consumers = &summary.consumers;
    values.push(consumers.iter().map(|c| c.read_records).sum::<u64>() as f64);
    values.push(consumers.iter().map(|c| c.read_throttled_calls).sum::<u64>() as f64);
    values.push(consumers.iter().map(|c| c.expired_unread_records).sum::<u64>() as f64);
    values.push(consumers.iter().map(|c| c.iterator_age_ms_max).fold(0.0, f64::max));
    values
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    quoted.join(",") + "\n"
}

fn number(value: f64) -> String {
    let rounded = (value * 1e9).round() / 1e9;
    if rounded == 0.0 {
        "0".into()
    } else {
        rounded.to_string()
    }
}

/// How to run a sweep.
pub struct Options {
    pub out: PathBuf,
    pub threads: usize,
    /// `(I, N)`: run jobs with `index % N == I`.
    pub partition: Option<(usize, usize)>,
    pub resume: bool,
    /// Also write each job's run outputs to `runs/point-<P>-rep-<R>/`.
    pub runs: bool,
    pub progress: crate::progress::Progress,
}

/// What a sweep did.
pub struct Outcome {
    pub jobs_run: usize,
    pub jobs_total: usize,
    /// Whether `sweep.csv` was assembled (all jobs done).
    pub complete: bool,
}

const MANIFEST: &str = "sweep_manifest.txt";

/// Runs the sweep's jobs (or this partition's) and, when every job is done, assembles
/// the outputs.
pub fn run(sweep: &Sweep, options: &Options) -> Result<Outcome, SweepError> {
    let jobs_dir = options.out.join("jobs");
    if options.resume {
        check_resumable(sweep, &options.out, options.partition.unwrap_or((0, 1)))?;
    } else if jobs_dir.exists() {
        std::fs::remove_dir_all(&jobs_dir).map_err(io_error(&jobs_dir))?;
    }
    std::fs::create_dir_all(&jobs_dir).map_err(io_error(&jobs_dir))?;
    let (part, parts) = options.partition.unwrap_or((0, 1));
    write_manifest(sweep, &options.out, part, parts)?;
    let total = sweep.spec.jobs();
    let todo: Vec<usize> =
        (0..total).filter(|j| j % parts == part).filter(|&j| !job_path(&jobs_dir, j).exists()).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| SweepError::Io { path: options.out.clone(), message: e.to_string() })?;
    let progress = options.progress.start(todo.len() as u64, "jobs");
    let result: Result<(), SweepError> = pool.install(|| {
        todo.par_iter().try_for_each(|&job| {
            if kinesim_sim::interrupt::requested() {
                return Err(SweepError::Policy { path: sweep.path.clone(), failure: RunFailure::Interrupted });
            }
            let runs = options.runs.then(|| options.out.join("runs"));
            run_job(sweep, &jobs_dir, job, runs.as_deref())?;
            progress.advance();
            Ok(())
        })
    });
    progress.finish();
    result?;
    let complete = parts == 1;
    if complete {
        assemble_from(sweep, &options.out, |job| job_path(&jobs_dir, job))?;
    }
    Ok(Outcome { jobs_run: todo.len(), jobs_total: total, complete })
}

fn job_path(jobs_dir: &Path, job: usize) -> PathBuf {
    jobs_dir.join(format!("job-{job:07}.csv"))
}

fn run_job(sweep: &Sweep, jobs_dir: &Path, job: usize, runs: Option<&Path>) -> Result<(), SweepError> {
    let replications = sweep.spec.replications as usize;
    let (point, replication) = (job / replications, (job % replications) as u64);
    let spec = sweep.point_spec(point, replication)?;
    let (summary, slos, seed) = match runs {
        Some(runs) => {
            let folder = runs.join(format!("point-{point:05}-rep-{replication:04}"));
            let outcome =
                crate::run::run_spec(&sweep.path, spec, &sweep.sha256, &folder).map_err(|error| match error {
                    crate::run::RunError::Policy { path, failure } => SweepError::Policy { path, failure },
                    other => SweepError::Io { path: folder.clone(), message: other.to_string() },
                })?;
            (outcome.summary, outcome.slo_results, outcome.spec.seed)
        }
        None => {
            let mut null = NullRecorder;
            let mut recorder = PeriodRecorder::new(&mut null, &spec.expectations);
            let result = run_with_policy_program(&spec, &mut recorder)
                .map_err(|failure| SweepError::Policy { path: sweep.path.clone(), failure })?;
            let periods = recorder.finish();
            let slos = evaluate(&spec.expectations, &result.summary, &periods);
            (result.summary, slos, spec.seed)
        }
    };
    let mut fields = vec![point.to_string(), replication.to_string(), seed.to_string()];
    fields.extend(sweep.spec.assignments(point).iter().map(|(_, v)| label(v)));
    fields.extend(metric_values(&summary).into_iter().map(number));
    fields.push(slos.iter().all(|r| r.passed).to_string());
    let text = format!("{}{}", sweep.header(), csv_line(&fields));
    let path = job_path(jobs_dir, job);
    kinesim_reports::atomic::write_all(&path, text.as_bytes())
        .map_err(|e| SweepError::Io { path: path.clone(), message: e.to_string() })
}

fn write_manifest(sweep: &Sweep, out: &Path, part: usize, parts: usize) -> Result<(), SweepError> {
    let text = format!(
        "kinesim_version={}\nexperiment={}\nexperiment_sha256={}\njobs={}\npartition={part}/{parts}\n",
        env!("CARGO_PKG_VERSION"),
        std::path::absolute(&sweep.path).unwrap_or_else(|_| sweep.path.clone()).display(),
        sweep.sha256,
        sweep.spec.jobs()
    );
    let path = out.join(MANIFEST);
    kinesim_reports::atomic::write_all(&path, text.as_bytes())
        .map_err(|e| SweepError::Io { path: path.clone(), message: e.to_string() })
}

/// `--resume` keeps the jobs already in `out` only if they were made by this kinesim
/// from these experiment bytes, for the same partition: jobs from an edited experiment
/// would be published under the new file's hash.
fn check_resumable(sweep: &Sweep, out: &Path, (part, parts): (usize, usize)) -> Result<(), SweepError> {
    if !out.join(MANIFEST).exists() {
        return Ok(());
    }
    let manifest = read_manifest(out)?;
    let partition = format!("{part}/{parts}");
    let expected = [
        ("kinesim_version", env!("CARGO_PKG_VERSION").to_string()),
        ("experiment_sha256", sweep.sha256.clone()),
        ("jobs", sweep.spec.jobs().to_string()),
        ("partition", partition),
    ];
    for (key, value) in expected {
        let found = manifest_value(&manifest, key);
        if found != value {
            return Err(SweepError::Merge(format!(
                "{}: key `{key}`: the jobs there were made with {found}, this sweep has {value}; \
                 --resume continues the same sweep only (run without it to start over)",
                out.join(MANIFEST).display()
            )));
        }
    }
    Ok(())
}

fn read_manifest(folder: &Path) -> Result<Vec<(String, String)>, SweepError> {
    let path = folder.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|_| SweepError::Merge(format!("{}: not a sweep folder (no {MANIFEST})", folder.display())))?;
    Ok(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn manifest_value<'a>(manifest: &'a [(String, String)], key: &str) -> &'a str {
    manifest.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
}

/// `kinesim merge`: checks that the parts belong together and cover every job once,
/// then assembles the outputs into `out`.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<usize, SweepError> {
    let manifests: Vec<Vec<(String, String)>> = parts.iter().map(|p| read_manifest(p)).collect::<Result<_, _>>()?;
    let first = &manifests[0];
    for (part, manifest) in parts.iter().zip(&manifests) {
        for key in ["kinesim_version", "experiment_sha256", "jobs"] {
            if manifest_value(manifest, key) != manifest_value(first, key) {
                return Err(SweepError::Merge(format!(
                    "{}: made with {key} {} but {} has {}; parts of one sweep must match",
                    part.display(),
                    manifest_value(manifest, key),
                    parts[0].display(),
                    manifest_value(first, key)
                )));
            }
        }
    }
    let jobs = manifest_value(first, "jobs");
    let total = match jobs.parse::<usize>() {
        Ok(total) if (1..=JOBS_MAX).contains(&total) => total,
        _ => {
            return Err(SweepError::Merge(format!(
                "{}: key `jobs`: must be a number of jobs from 1 to {JOBS_MAX}, got \"{jobs}\"",
                parts[0].join(MANIFEST).display()
            )))
        }
    };
    let mut owner: Vec<Option<usize>> = vec![None; total];
    for (index, part) in parts.iter().enumerate() {
        let jobs_dir = part.join("jobs");
        let entries = std::fs::read_dir(&jobs_dir)
            .map_err(|_| SweepError::Merge(format!("{}: not a sweep part (no jobs/ folder)", part.display())))?;
        for entry in entries {
            let name = entry.map_err(io_error(&jobs_dir))?.file_name().to_string_lossy().into_owned();
            let Some(job) =
                name.strip_prefix("job-").and_then(|n| n.strip_suffix(".csv")).and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if job >= total {
                return Err(SweepError::Merge(format!(
                    "{}: job {job} is outside this sweep's {total}",
                    part.display()
                )));
            }
            if let Some(other) = owner[job] {
                return Err(SweepError::Merge(format!(
                    "job {job} is in both {} and {}: the parts overlap",
                    parts[other].display(),
                    part.display()
                )));
            }
            owner[job] = Some(index);
        }
    }
    let missing: Vec<usize> = (0..total).filter(|&j| owner[j].is_none()).collect();
    if !missing.is_empty() {
        return Err(SweepError::Merge(format!(
            "the parts are incomplete: {} of {total} jobs missing (first: job {})",
            missing.len(),
            missing[0]
        )));
    }
    let experiment = PathBuf::from(manifest_value(first, "experiment"));
    if experiment.as_os_str().is_empty() {
        return Err(SweepError::Merge(format!(
            "{}: key `experiment`: must name the sweep's experiment file",
            parts[0].join(MANIFEST).display()
        )));
    }
    let sweep = load(&experiment)?;
    if sweep.sha256 != manifest_value(first, "experiment_sha256") {
        return Err(SweepError::Merge(format!(
            "{} has changed since the parts were made (its SHA-256 differs)",
            experiment.display()
        )));
    }
    if sweep.spec.jobs() != total {
        return Err(SweepError::Merge(format!(
            "{}: key `jobs`: says {total} jobs, but {} has {}",
            parts[0].join(MANIFEST).display(),
            experiment.display(),
            sweep.spec.jobs()
        )));
    }
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let folders: Vec<PathBuf> = owner.iter().map(|o| parts[o.expect("checked")].clone()).collect();
    assemble_from(&sweep, out, |job| job_path(&folders[job].join("jobs"), job))?;
    Ok(total)
}

/// Writes `sweep.csv` and `sweep_summary.csv` from the job files, in job order.
fn assemble_from(sweep: &Sweep, out: &Path, job_file: impl Fn(usize) -> PathBuf) -> Result<(), SweepError> {
    let total = sweep.spec.jobs();
    let csv_path = out.join("sweep.csv");
    let mut csv = kinesim_reports::atomic::create(&csv_path)
        .map_err(|e| SweepError::Io { path: csv_path.clone(), message: e.to_string() })?;
    let mut header_written: Option<String> = None;
    for job in 0..total {
        let path = job_file(job);
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        // The header is key paths (one line); the row may span lines where a swept
        // string holds a line break (a quoted field).
        let (header, row) = text.split_once('\n').unwrap_or((&text, ""));
        let row = row.strip_suffix('\n').unwrap_or(row);
        check_job_row(&path, header, row, 3 + sweep.spec.columns.len())?;
        match &header_written {
            None => {
                writeln!(csv, "{header}").map_err(io_error(&csv_path))?;
                header_written = Some(header.to_string());
            }
            Some(first) if *first != header => {
                return Err(SweepError::Merge(format!("{}: its columns differ from job 0's", path.display())))
            }
            Some(_) => {}
        }
        writeln!(csv, "{row}").map_err(io_error(&csv_path))?;
    }
    kinesim_reports::atomic::publish(csv, &csv_path)
        .map_err(|e| SweepError::Io { path: csv_path.clone(), message: e.to_string() })?;
    summarise(sweep, out, &csv_path)
}

/// A job file holds a header and one row with as many fields, whose metrics (from
/// column `first_metric` on) are finite numbers and whose last field is `true` or
/// `false` (a damaged part would otherwise publish a `sweep.csv` with a missing or
/// ragged row, or a summary of NaN).
fn check_job_row(path: &Path, header: &str, row: &str, first_metric: usize) -> Result<(), SweepError> {
    let records = |text: &str| -> Vec<csv::StringRecord> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        reader.records().map(|record| record.unwrap_or_default()).collect()
    };
    let names = records(header).into_iter().next().unwrap_or_default();
    let rows = records(row);
    let values = rows.first().map_or(0, csv::StringRecord::len);
    if rows.len() != 1 || names.len() != values {
        return Err(SweepError::Merge(format!(
            "{}: a job file must hold a header and one row of as many fields ({} columns, {values} values)",
            path.display(),
            names.len()
        )));
    }
    let last = values.saturating_sub(1);
    for (column, (name, value)) in names.iter().zip(rows[0].iter()).enumerate().skip(first_metric) {
        let allowed = if column == last {
            matches!(value, "true" | "false")
        } else {
            value.parse::<f64>().is_ok_and(f64::is_finite)
        };
        if !allowed {
            let what = if column == last { "`true` or `false`" } else { "a finite number" };
            return Err(SweepError::Merge(format!(
                "{}: column `{name}`: must be {what}, not `{}`",
                path.display(),
                value.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// `sweep_summary.csv`: per point and metric, the mean, standard deviation and 95%
/// confidence interval over replications (Student t), and the mean paired difference
/// from the baseline point with its interval; plus the fraction of replications that
/// met every SLO. Reads `sweep.csv` point by point.
fn summarise(sweep: &Sweep, out: &Path, csv_path: &Path) -> Result<(), SweepError> {
    let mut reader = csv::Reader::from_path(csv_path)
        .map_err(|e| SweepError::Io { path: csv_path.to_path_buf(), message: e.to_string() })?;
    let headers =
        reader.headers().map_err(|e| SweepError::Io { path: csv_path.to_path_buf(), message: e.to_string() })?.clone();
    let params = sweep.spec.columns.len();
    let first_metric = 3 + params;
    let last_metric = headers.len() - 1; // slo_passed
    let replications = sweep.spec.replications as usize;
    let mut records = reader.records();
    let mut read_point = || -> Result<Vec<csv::StringRecord>, SweepError> {
        (0..replications)
            .map(|_| {
                records
                    .next()
                    .unwrap_or_else(|| Err(csv::Error::from(std::io::Error::other("a job's row is missing"))))
                    .map_err(|e| SweepError::Io { path: csv_path.to_path_buf(), message: e.to_string() })
            })
            .collect()
    };
    let values = |rows: &[csv::StringRecord], column: usize| -> Vec<f64> {
        rows.iter().map(|r| r[column].parse::<f64>().unwrap_or(f64::NAN)).collect()
    };
    // The baseline's replications, for the paired differences (read separately).
    let baseline_rows: Option<Vec<csv::StringRecord>> = match sweep.spec.baseline {
        None => None,
        Some(point) => {
            let mut reader = csv::Reader::from_path(csv_path)
                .map_err(|e| SweepError::Io { path: csv_path.to_path_buf(), message: e.to_string() })?;
            let rows: Result<Vec<_>, _> = reader.records().skip(point * replications).take(replications).collect();
            Some(rows.map_err(|e| SweepError::Io { path: csv_path.to_path_buf(), message: e.to_string() })?)
        }
    };
    let summary_path = out.join("sweep_summary.csv");
    let mut file = kinesim_reports::atomic::create(&summary_path)
        .map_err(|e| SweepError::Io { path: summary_path.clone(), message: e.to_string() })?;
    let mut columns = vec!["point".to_string()];
    columns.extend(sweep.spec.columns.iter().cloned());
    columns.extend(["metric", "replications", "mean", "sd", "ci95_low", "ci95_high"].map(String::from));
    if sweep.spec.baseline.is_some() {
        columns.extend(["diff_mean", "diff_ci95_low", "diff_ci95_high"].map(String::from));
    }
    write!(file, "{}", csv_line(&columns)).map_err(io_error(&summary_path))?;
    for point in 0..sweep.spec.points() {
        let rows = read_point()?;
        let labels: Vec<String> = (3..first_metric).map(|c| rows[0][c].to_string()).collect();
        for column in first_metric..=last_metric {
            let metric = &headers[column];
            let sample = if column == last_metric {
                rows.iter().map(|r| if &r[column] == "true" { 1.0 } else { 0.0 }).collect()
            } else {
                values(&rows, column)
            };
            let (mean, sd, low, high) = interval(&sample);
            let name = if column == last_metric { "slo_passed_fraction" } else { metric };
            let mut fields = vec![point.to_string()];
            fields.extend(labels.iter().cloned());
            fields.extend([
                name.to_string(),
                sample.len().to_string(),
                number(mean),
                number(sd),
                number(low),
                number(high),
            ]);
            if let Some(base) = &baseline_rows {
                let base_sample = if column == last_metric {
                    base.iter().map(|r| if &r[column] == "true" { 1.0 } else { 0.0 }).collect()
                } else {
                    values(base, column)
                };
                let diffs: Vec<f64> = sample.iter().zip(&base_sample).map(|(a, b)| a - b).collect();
                let (diff, _, diff_low, diff_high) = interval(&diffs);
                fields.extend([number(diff), number(diff_low), number(diff_high)]);
            }
            write!(file, "{}", csv_line(&fields)).map_err(io_error(&summary_path))?;
        }
    }
    kinesim_reports::atomic::publish(file, &summary_path)
        .map_err(|e| SweepError::Io { path: summary_path.clone(), message: e.to_string() })
}

/// Mean, standard deviation and the 95% Student t interval of the mean (the interval
/// collapses to the mean with one replication).
fn interval(sample: &[f64]) -> (f64, f64, f64, f64) {
    let n = sample.len() as f64;
    let mean = sample.iter().sum::<f64>() / n;
    if sample.len() < 2 {
        return (mean, 0.0, mean, mean);
    }
    let variance = sample.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let sd = variance.sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).map(|d| d.inverse_cdf(0.975)).unwrap_or(f64::NAN);
    let half = t * sd / n.sqrt();
    (mean, sd, mean - half, mean + half)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_t_interval_of_a_known_sample() {
        // Mean 5, sd 2 (sample 3, 5, 7), n = 3: t(0.975, 2) = 4.3027, half = 4.3027 * 2 / sqrt 3.
        let (mean, sd, low, high) = interval(&[3.0, 5.0, 7.0]);
        assert_eq!((mean, sd), (5.0, 2.0));
        assert!((high - 5.0 - 4.302_652_7 * 2.0 / 3f64.sqrt()).abs() < 1e-6);
        assert!((low + high - 10.0).abs() < 1e-12);
    }

    #[test]
    fn assign_addresses_list_entries_by_name() {
        let mut doc: toml::Table =
            "[[producers]]\nname = \"web\"\nrate = 1\n[[producers]]\nname = \"app\"\nrate = 2\n[stream]\nshards = 1\n"
                .parse()
                .unwrap();
        assign(&mut doc, "producers.app.rate", toml::Value::Integer(9)).unwrap();
        assign(&mut doc, "stream.shards", toml::Value::Integer(4)).unwrap();
        assert_eq!(doc["producers"][1]["rate"].as_integer(), Some(9));
        assert_eq!(doc["producers"][0]["rate"].as_integer(), Some(1));
        assert_eq!(doc["stream"]["shards"].as_integer(), Some(4));
        assert!(assign(&mut doc, "producers.nobody.rate", toml::Value::Integer(1)).unwrap_err().contains("nobody"));
    }
}
