//! Reports of a run or sweep folder: `plots/*.svg` and a self-contained `report.html`.
//!
//! The report reads only the files in the folder (`stream.csv`, `summary.json`, ... or
//! `sweep.csv`, `sweep_summary.csv`, `sweep_manifest.txt`), so it can be rendered again
//! after the data was edited or sweep parts were merged. A plot whose input is absent,
//! empty or lacks a column is skipped and the page says why; an input that cannot be
//! parsed is an error naming the file. Every file is written atomically: plots first,
//! `report.html` last. The same inputs give the same bytes.

use crate::atomic::{io_error, write_all};
use crate::plots::PlotError;
use crate::{run_report, sweep_report, ReportError};
use std::path::{Path, PathBuf};

/// The files one render wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportFiles {
    /// `report.html` in the folder.
    pub report: PathBuf,
    /// The plots written under `plots/`, in the order the page shows them.
    pub plots: Vec<PathBuf>,
    /// Plots not drawn, each with the reason ("consumers.csv is absent").
    pub skipped: Vec<String>,
}

impl ReportFiles {
    /// Every file written: the plots, then `report.html`.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = self.plots.clone();
        files.push(self.report.clone());
        files
    }
}

/// What kind of output folder a report is rendered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderKind {
    Run,
    Sweep,
}

/// One rendered plot.
pub struct Plot {
    /// File name under `plots/`.
    pub file: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
}

/// A plot, or why it was skipped.
pub type Outcome = Result<Plot, String>;

/// A report before it is written.
pub struct Built {
    pub plots: Vec<Plot>,
    pub skipped: Vec<String>,
    pub html: String,
}

/// Names the plot file in a drawing error.
pub fn drawn(folder: &Path, file: &str, result: Result<String, PlotError>) -> Result<String, ReportError> {
    result.map_err(|PlotError(message)| io_error(&folder.join("plots").join(file), std::io::Error::other(message)))
}

/// Renders the report of the run in `folder`: its plots under `folder/plots/` and
/// `folder/report.html`, which shows `experiment_text` (the experiment file) when given.
pub fn render_run_report(folder: &Path, experiment_text: Option<&str>) -> Result<ReportFiles, ReportError> {
    let built = run_report::build(folder, experiment_text)?;
    write(folder, built)
}

/// Renders the report of the sweep in `folder` (`sweep.csv`, `sweep_summary.csv`); the
/// experiment file is read from the path in `sweep_manifest.txt` when it still exists.
pub fn render_sweep_report(folder: &Path) -> Result<ReportFiles, ReportError> {
    let built = sweep_report::build(folder)?;
    write(folder, built)
}

/// Tells a sweep folder (`sweep.csv` or `sweep_summary.csv`) from a run folder
/// (`stream.csv` or `summary.json`).
pub fn detect(folder: &Path) -> Result<FolderKind, ReportError> {
    let has = |name: &str| folder.join(name).is_file();
    if has("sweep_summary.csv") || has("sweep.csv") {
        Ok(FolderKind::Sweep)
    } else if has("stream.csv") || has("summary.json") {
        Ok(FolderKind::Run)
    } else {
        Err(io_error(
            folder,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a run folder (no stream.csv or summary.json) nor a sweep folder (no sweep.csv or sweep_summary.csv)",
            ),
        ))
    }
}

/// Renders the report of a run or sweep folder, whichever it is. For a run, the
/// experiment text is `experiment.toml` in the folder when there is one.
pub fn render_report(folder: &Path) -> Result<ReportFiles, ReportError> {
    match detect(folder)? {
        FolderKind::Sweep => render_sweep_report(folder),
        FolderKind::Run => {
            let text = crate::tables::read_optional_text(&folder.join("experiment.toml"))?;
            render_run_report(folder, text.as_deref())
        }
    }
}

/// Writes the plots, removes plots a previous render left that this one did not draw,
/// then writes `report.html`.
fn write(folder: &Path, built: Built) -> Result<ReportFiles, ReportError> {
    let plots_dir = folder.join("plots");
    let mut written = Vec::with_capacity(built.plots.len());
    if !built.plots.is_empty() {
        std::fs::create_dir_all(&plots_dir).map_err(|source| io_error(&plots_dir, source))?;
    }
    for plot in &built.plots {
        let path = plots_dir.join(&plot.file);
        write_all(&path, plot.svg.as_bytes())?;
        written.push(path);
    }
    match std::fs::read_dir(&plots_dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|source| io_error(&plots_dir, source))?;
                let path = entry.path();
                let stale = path.extension().is_some_and(|e| e == "svg") && !written.contains(&path);
                if stale {
                    std::fs::remove_file(&path).map_err(|source| io_error(&path, source))?;
                }
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(&plots_dir, error)),
    }
    let report = folder.join("report.html");
    write_all(&report, built.html.as_bytes())?;
    Ok(ReportFiles { report, plots: written, skipped: built.skipped })
}
