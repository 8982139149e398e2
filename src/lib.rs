//! kinesim: a deterministic discrete-event simulator and capacity planner for Amazon
//! Kinesis Data Streams.
//!
//! This crate is the thin layer users touch: it loads experiment files into validated
//! specs (`experiment`, over the raw serde shapes in `raw`), runs them on the models
//! (`run`), and hands the results to the writers of `kinesim-reports`. The binary
//! (`main.rs`) is only argument parsing and exit codes over these functions. The
//! simulation itself lives in `kinesim-models` (the Kinesis domain) on the
//! `kinesim-sim` kernel; see ARCHITECTURE.md for the map.

pub mod baseline;
pub mod error;
pub mod experiment;
pub mod external_policy;
pub mod guard;
pub mod plan;
pub mod pricing;
pub mod progress;
pub mod raw;
pub mod run;
pub mod scaling_utils_config;
pub mod schema;
pub mod sweep;
pub mod time;
pub mod trace;

pub use error::LoadError;
pub use experiment::{load, parse};
pub use run::{run_experiment, run_experiment_text, RunError, RunOutcome};
