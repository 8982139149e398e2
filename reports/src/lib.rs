//! Output writers for kinesim runs.
//!
//! This crate turns what a run produced into files: the periodic CSV tables (written
//! as rows arrive, through a [`RunWriter`] that implements the models' `Recorder`),
//! `hot_keys.csv`, `events.csv` and, last of all, `summary.json`, whose presence marks a
//! complete run. Every file is written to a temporary name and renamed into place
//! only when complete, so an interrupted run never leaves a truncated file that looks
//! finished. It does not simulate and does not parse experiments.

pub mod atomic;
pub mod html;
pub mod plots;
pub mod report;
pub mod run_report;
pub mod run_writer;
pub mod summary;
pub mod sweep_report;
pub mod tables;

pub use run_writer::RunWriter;
pub use summary::{write_summary, SummaryContext};

/// Errors of writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Csv { path: String, source: csv::Error },
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
}
