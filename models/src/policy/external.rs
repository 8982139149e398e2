//! A policy decided outside the simulation: the engine hands each newly published
//! minute to an [`ExternalDecider`] and resizes the stream to the count it answers.
//! The decider (a user program behind a process boundary, in the `kinesim` crate) is
//! the only part of a run that may fail at run time; its failure ends the run.

use super::MinuteDatapoint;
use std::path::PathBuf;

/// `[policy] kind = "external"`: how to start the program and what it is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSpec {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Where a relative program path is looked up and the program runs (the
    /// experiment file's folder).
    pub working_dir: PathBuf,
    /// How long (wall clock) kinesim waits for each answer before giving up.
    pub answer_timeout_ms: u64,
    /// How long after its minute ends a datapoint is published to the program.
    pub publish_delay_s: u64,
}

/// What the policy is told at one evaluation: the state of the stream it could read
/// from the control plane and the CloudWatch minutes published since the last one.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation<'a> {
    /// Seconds since the run started.
    pub now_s: u64,
    /// `DescribeStreamSummary.OpenShardCount`.
    pub open_shards: u32,
    /// Whether the stream is `UPDATING` (a reshard in progress; a request now is refused).
    pub updating: bool,
    /// Newly published minutes, oldest first, as `(minute_end_s, datapoint)`.
    pub minutes: &'a [(u64, MinuteDatapoint)],
}

/// The policy's answer: a desired open shard count, or none to leave the stream alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub desired_shards: Option<u32>,
    /// Free text the program wants in `events.csv` next to the decision.
    pub note: String,
}

/// Why an external policy could not answer (crashed, timed out, answered garbage).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExternalFailure(pub String);

/// The engine's view of an external policy.
pub trait ExternalDecider {
    /// Asks for a decision; called once per published minute, in time order.
    fn decide(&mut self, observation: &Observation<'_>) -> Result<Answer, ExternalFailure>;
    /// Tells the policy the run is over (it should exit).
    fn finish(&mut self) -> Result<(), ExternalFailure>;
}
