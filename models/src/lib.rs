//! The Kinesis Data Streams domain, built on the `kinesim-sim` kernel.
//!
//! This crate knows what a shard, a partition key, a producer and a GetRecords call
//! are, and how real KDS treats them; every number it uses comes from
//! `reference/kinesis-facts.md` (cited by section where it is defined) or is a
//! parameter documented as an assumption. It does not parse files or write outputs:
//! it runs a validated [`spec::ExperimentSpec`] and hands rows to a
//! [`metrics::Recorder`]. Model code does not fail: every invalid configuration is
//! rejected before it gets here, so what remains are assertions on invariants
//! (conservation of records, bounded queues), which are bugs if they fire. The one
//! fallible part is an external policy ([`policy::external`]): a user program behind a
//! trait, whose failure ends the run with an error ([`simulate_with`]).
//!
//! Map: [`routing`] (MD5, hash ranges, shard ids), [`keys`] (key distributions
//! projected on shards), [`rates`] (offered load over time), [`sizes`] (record sizes),
//! [`retry`] (backoff and the SDK quota), [`producer`] (offer and retry), [`stream`]
//! (write admission), [`storage`] (a shard's stored records), [`consumer`] (readers),
//! [`metrics`] (rows and the recorder), [`on_demand`] (AWS's splitting of on-demand
//! streams), [`policy`] (scaling policies), [`engine`] (one run, its events and phases).

pub mod backpressure;
pub mod consumer;
pub mod cost;
pub mod engine;
pub mod keys;
pub mod kpl;
pub mod metrics;
pub mod on_demand;
pub mod policy;
pub mod producer;
pub mod rates;
pub mod ratio;
pub mod retry;
pub mod routing;
pub mod sizes;
pub mod slo;
pub mod spec;
pub mod storage;
pub mod stream;

pub use engine::{simulate, simulate_with, ConsumerSummary, ProducerSummary, RunFailure, RunResult, RunSummary};
