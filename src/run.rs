//! One run from an experiment file to its output folder.

use crate::error::LoadError;
use crate::external_policy::{Hello, ProcessPolicy};
use kinesim_models::metrics::Recorder;
use kinesim_models::policy::external::ExternalDecider;
use kinesim_models::policy::PolicySpec;
use kinesim_models::slo::{evaluate, PeriodRecorder, SloResult};
use kinesim_models::spec::ExperimentSpec;
use kinesim_models::{simulate_with, RunFailure, RunResult, RunSummary};
use kinesim_reports::{write_summary, ReportError, RunWriter, SummaryContext};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot write outputs: {0}")]
    Report(#[from] ReportError),
    /// The program of an `external` policy failed, or the run was interrupted; the run
    /// stopped and nothing was published.
    #[error("{}: {failure}", path.display())]
    Policy { path: PathBuf, failure: RunFailure },
}

/// What a finished run produced.
pub struct RunOutcome {
    pub spec: ExperimentSpec,
    pub summary: RunSummary,
    pub slo_results: Vec<SloResult>,
    pub folder: PathBuf,
}

/// Loads `path`, runs it (with `seed` replacing the file's seed when given) and writes
/// every output into `folder` (default `out/<name>`), `summary.json` last.
pub fn run_experiment(path: &Path, folder: Option<&Path>, seed: Option<u64>) -> Result<RunOutcome, RunError> {
    let (bytes, text) = crate::experiment::read(path)?;
    run_experiment_text(path, &bytes, &text, folder, seed)
}

/// [`run_experiment`] on experiment text already read (`bytes` and the `text` they
/// hold), named `path` in messages: how `kinesim run -` runs standard input.
pub fn run_experiment_text(
    path: &Path,
    bytes: &[u8],
    text: &str,
    folder: Option<&Path>,
    seed: Option<u64>,
) -> Result<RunOutcome, RunError> {
    let mut spec = crate::experiment::parse(path, text)?;
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    let folder = folder.map_or_else(|| PathBuf::from("out").join(&spec.name), Path::to_path_buf);
    let sha = hex(&Sha256::digest(bytes));
    run_spec(path, spec, &sha, &folder)
}

/// Runs a loaded experiment (from `path`, whose bytes hash to `experiment_sha256`) and
/// writes its outputs into `folder`, `summary.json` last.
pub fn run_spec(
    path: &Path,
    spec: ExperimentSpec,
    experiment_sha256: &str,
    folder: &Path,
) -> Result<RunOutcome, RunError> {
    let mut writer =
        RunWriter::create(folder, spec.output.shards_period.is_some(), spec.output.consumers_period.is_some())?;
    let mut recorder = PeriodRecorder::new(&mut writer, &spec.expectations);
    let result = match run_with_policy_program(&spec, &mut recorder) {
        Ok(result) => result,
        Err(failure) => {
            drop(recorder);
            writer.abandon();
            return Err(RunError::Policy { path: path.to_path_buf(), failure });
        }
    };
    let periods = recorder.finish();
    writer.finish(&result.hot_keys)?;
    let slo_results = evaluate(&spec.expectations, &result.summary, &periods);
    let context = SummaryContext { name: &spec.name, experiment_sha256, seed: spec.seed, slo_results: &slo_results };
    write_summary(folder, &context, &result.summary)?;
    Ok(RunOutcome { spec, summary: result.summary, slo_results, folder: folder.to_path_buf() })
}

/// Simulates `spec`, starting the program of its external policy first, if any.
pub fn run_with_policy_program(spec: &ExperimentSpec, recorder: &mut dyn Recorder) -> Result<RunResult, RunFailure> {
    let Some(PolicySpec::External(external)) = &spec.policy else {
        return simulate_with(spec, recorder, None);
    };
    let hello = Hello {
        seed: spec.seed,
        experiment: spec.name.clone(),
        duration_s: spec.duration.as_nanos() / kinesim_sim::NANOS_PER_SEC,
        stream_mode: spec.stream.mode.name().to_string(),
        open_shards: spec.stream.shards,
        publish_delay_s: external.publish_delay_s,
        shard_write_records_per_s: spec.stream.write_limit.records_per_s,
        shard_write_bytes_per_s: spec.stream.write_limit.bytes_per_s,
    };
    let timeout = std::time::Duration::from_millis(external.answer_timeout_ms);
    let mut program = ProcessPolicy::start(&external.command, &external.working_dir, &hello, timeout)?;
    simulate_with(spec, recorder, Some(&mut program as &mut dyn ExternalDecider))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
