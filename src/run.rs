//! One run from an experiment file to its output folder.

use crate::error::LoadError;
use kinesim_models::slo::{evaluate, PeriodRecorder, SloResult};
use kinesim_models::spec::ExperimentSpec;
use kinesim_models::{simulate, RunSummary};
use kinesim_reports::{write_summary, ReportError, RunWriter, SummaryContext};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot write outputs: {0}")]
    Report(#[from] ReportError),
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
    let mut spec = crate::experiment::parse(path, &text)?;
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    let folder = folder.map_or_else(|| PathBuf::from("out").join(&spec.name), Path::to_path_buf);
    let mut writer =
        RunWriter::create(&folder, spec.output.shards_period.is_some(), spec.output.consumers_period.is_some())?;
    let mut recorder = PeriodRecorder::new(&mut writer, &spec.expectations);
    let result = simulate(&spec, &mut recorder);
    let periods = recorder.finish();
    writer.finish(&result.hot_keys)?;
    let slo_results = evaluate(&spec.expectations, &result.summary, &periods);
    let sha = hex(&Sha256::digest(&bytes));
    let context =
        SummaryContext { name: &spec.name, experiment_sha256: &sha, seed: spec.seed, slo_results: &slo_results };
    write_summary(&folder, &context, &result.summary)?;
    Ok(RunOutcome { spec, summary: result.summary, slo_results, folder })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
