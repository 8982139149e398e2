//! The size guard: how much work a run is, estimated before it starts, and a limit above
//! which `kinesim run`, `check`, `plan` and `sweep` refuse (exit 2) unless given
//! `--force`. A typo such as `step = "1ms"` in a 30-day run, or `shards = 10000` where
//! 100 was meant, would otherwise keep a machine busy for days before anyone noticed.
//!
//! The unit is the shard-step of BENCHMARKS.md (one data step of one open shard), with
//! readers and writers counted as the work they add:
//!
//! ```text
//! shard-steps = steps x (shards x (1 + consumers) + producers)     steps = duration / step
//! ```
//!
//! In record mode (`fidelity = "record"`) each record is work of its own, so the
//! records the producers offer over the run are added, at [`SHARD_STEPS_PER_RECORD`]
//! shard-steps each (retries come on top and are not counted):
//!
//! ```text
//! shard-steps += offered records x SHARD_STEPS_PER_RECORD
//! ```
//!
//! so a month of traffic in record mode is refused unless `--force` is given.
//!
//! `shards` is the stream's initial shard count (for on-demand streams, the shards they
//! start with): shards that splits, policies or AWS's on-demand scaling add later are not
//! counted, and a consumer polling more often than once a step costs more than one.
//! It is an estimate for catching mistakes of orders of magnitude, not a prediction.
//! A sweep counts the base experiment once per job it will run (its points may differ);
//! a plan counts the experiment once per run a plan makes at most ([`PLAN_RUNS`]).
//!
//! The time shown is [`NANOS_PER_SHARD_STEP`] per shard-step on one core, from the
//! reference machine of BENCHMARKS.md (release build): the day-64 benchmark is
//! 86,400 x (64 x 2 + 1) = 1.1e7 shard-steps in about 1.03 s (93 ns each), and the month
//! benchmark (`benches/month.toml`: 30 days of 1 s steps, 200 shards, two pollers, one
//! producer: 2,592,000 x (200 x 3 + 1) = 1.56e9 shard-steps, the largest example or test
//! experiment there is) took 200 s with the machine shared (128 ns). The limit,
//! [`SHARD_STEPS_LIMIT`] = 2e10 (about half an hour), leaves that run a factor of 13 of
//! room; the largest experiment under `experiments/` is far smaller (see
//! `tests/robustness.rs`, which checks every one).

use kinesim_models::spec::{ExperimentSpec, Fidelity};
use kinesim_sim::{format_duration, SimTime};
use std::path::Path;

/// The most shard-steps a command runs without `--force`.
pub const SHARD_STEPS_LIMIT: f64 = 2e10;

/// Wall time per shard-step on one core (93 to 128 ns measured; see the module
/// documentation).
pub const NANOS_PER_SHARD_STEP: f64 = 100.0;

/// The cost of one record in record mode, in shard-steps of 100 ns: 1 µs. Measured on the
/// reference machine (release build, shared): the `hot-key` example for 10 minutes in
/// record mode, 2.4 million records offered and 3.7 million attempts with retries, ran in
/// 1.37 s with its one reader (0.57 µs per offered record) and in 0.77 s without it;
/// rounded up for more readers and more retries (model.md §1.1).
pub const SHARD_STEPS_PER_RECORD: f64 = 10.0;

/// The most runs `kinesim plan` makes for one experiment (src/plan.rs): the experiment
/// as written, a ladder of 10 shard counts, the policy, on-demand and On-demand
/// Advantage, 12 bisection steps, up to 6 sensitivity re-runs and the hot-shard run.
pub const PLAN_RUNS: u64 = 33;

/// The size of one or more runs of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Data steps per run (duration / step).
    pub steps: u64,
    pub step: kinesim_sim::SimDuration,
    /// Open shards at the start.
    pub shards: u32,
    pub producers: usize,
    pub consumers: usize,
    /// Record mode: the records the producers are expected to offer over a run (0 in
    /// stepped mode, where records cost nothing of their own).
    pub records: f64,
    /// How many runs of this size.
    pub runs: u64,
}

impl Estimate {
    /// One run of `spec`.
    pub fn of(spec: &ExperimentSpec) -> Estimate {
        Estimate {
            steps: spec.duration.as_nanos() / spec.step.as_nanos().max(1),
            step: spec.step,
            shards: spec.stream.shards,
            producers: spec.producers.len(),
            consumers: spec.consumers.len(),
            records: match spec.fidelity {
                Fidelity::Stepped => 0.0,
                Fidelity::Record => offered_records(spec),
            },
            runs: 1,
        }
    }

    /// The same experiment run `runs` times.
    pub fn times(self, runs: u64) -> Estimate {
        Estimate { runs: self.runs.saturating_mul(runs), ..self }
    }

    /// The estimated work, in shard-steps (a float: a sweep can pass 2^64).
    pub fn shard_steps(&self) -> f64 {
        let per_step = f64::from(self.shards) * (1.0 + self.consumers as f64) + self.producers as f64;
        (self.steps as f64 * per_step + self.records * SHARD_STEPS_PER_RECORD) * self.runs as f64
    }

    /// The estimated wall time on one core, in seconds.
    pub fn seconds(&self) -> f64 {
        self.shard_steps() * NANOS_PER_SHARD_STEP * 1e-9
    }

    pub fn exceeds_limit(&self) -> bool {
        self.shard_steps() > SHARD_STEPS_LIMIT
    }

    /// One line: the estimate, what it is made of, and the way past the guard.
    pub fn refusal(&self) -> String {
        let runs = if self.runs > 1 { format!(" x {} runs", self.runs) } else { String::new() };
        let records = if self.records > 0.0 {
            format!(" + {:.1e} records x {SHARD_STEPS_PER_RECORD} in record mode", self.records)
        } else {
            String::new()
        };
        format!(
            "estimated {:.1e} shard-steps ({} steps of {} x ({} shards x (1 + {} consumers) + {} producers){records}{runs}), {}; \
             the limit is {:.0e} ({}); pass --force to run it anyway",
            self.shard_steps(),
            self.steps,
            format_duration(self.step),
            self.shards,
            self.consumers,
            self.producers,
            about(self.seconds()),
            SHARD_STEPS_LIMIT,
            about(SHARD_STEPS_LIMIT * NANOS_PER_SHARD_STEP * 1e-9),
        )
    }
}

/// The records all producers are expected to offer over the run, integrated hour by
/// hour (close enough for a guard; the rate shapes are exact per step in the run).
fn offered_records(spec: &ExperimentSpec) -> f64 {
    let end_ns = spec.duration.as_nanos();
    let hour_ns = 3600 * kinesim_sim::NANOS_PER_SEC;
    let mut total = 0.0;
    for producer in &spec.producers {
        let mut t0_ns = 0;
        while t0_ns < end_ns {
            let t1_ns = (t0_ns + hour_ns).min(end_ns);
            total += kinesim_models::rates::expected_records(
                &producer.rate,
                SimTime::from_nanos(t0_ns),
                SimTime::from_nanos(t1_ns),
                spec.start_unix_s,
            );
            t0_ns = t1_ns;
        }
    }
    total
}

/// `Err(one line naming the file)` when `runs` runs of the experiment at `path` exceed
/// the limit and `force` is not set. A file that does not load passes: the command
/// reports its error as usual.
pub fn check_file(path: &Path, runs: u64, force: bool) -> Result<(), String> {
    if force {
        return Ok(());
    }
    match crate::experiment::load(path) {
        Ok(spec) => check(path, &Estimate::of(&spec).times(runs), false),
        Err(_) => Ok(()),
    }
}

/// [`check_file`] for experiment text already read, named `path` in messages (standard
/// input). Text that does not load passes: loading reports it.
pub fn check_text(path: &Path, text: &str, runs: u64, force: bool) -> Result<(), String> {
    if force {
        return Ok(());
    }
    match crate::experiment::parse(path, text) {
        Ok(spec) => check(path, &Estimate::of(&spec).times(runs), false),
        Err(_) => Ok(()),
    }
}

/// `Err(one line naming the file)` when `estimate` exceeds the limit and `force` is not set.
pub fn check(path: &Path, estimate: &Estimate, force: bool) -> Result<(), String> {
    if force || !estimate.exceeds_limit() {
        return Ok(());
    }
    Err(format!("{}: {}", path.display(), estimate.refusal()))
}

/// "about 3 hours" on one core: a rough figure in the largest whole unit.
pub fn about(seconds: f64) -> String {
    let (value, unit) = if seconds < 90.0 {
        (seconds, "second")
    } else if seconds < 90.0 * 60.0 {
        (seconds / 60.0, "minute")
    } else if seconds < 48.0 * 3600.0 {
        (seconds / 3600.0, "hour")
    } else if seconds < 730.0 * 86_400.0 {
        (seconds / 86_400.0, "day")
    } else {
        (seconds / (365.0 * 86_400.0), "year")
    };
    let value = value.round().max(1.0);
    let plural = if value == 1.0 { "" } else { "s" };
    if value >= 1e6 {
        format!("about {value:.0e} {unit}s on one core")
    } else {
        format!("about {value:.0} {unit}{plural} on one core")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ExperimentSpec {
        crate::parse(Path::new("guard.toml"), text).unwrap()
    }

    #[test]
    fn the_estimate_counts_steps_shards_consumers_and_producers() {
        let spec = spec(
            r#"
            duration = "1h"
            step = "100ms"
            [stream]
            shards = 10
            [[producers]]
            name = "p"
            rate = 1
            [[consumers]]
            name = "a"
            kind = "polling"
            [[consumers]]
            name = "b"
            kind = "efo"
            "#,
        );
        let estimate = Estimate::of(&spec);
        assert_eq!(estimate.steps, 36_000);
        assert_eq!(estimate.shard_steps(), 36_000.0 * (10.0 * 3.0 + 1.0));
        assert_eq!(estimate.clone().times(4).shard_steps(), 4.0 * estimate.shard_steps());
        assert!(!estimate.exceeds_limit());
    }

    #[test]
    fn a_year_of_millisecond_steps_is_refused_with_an_estimate() {
        let spec = spec(
            r#"
            duration = "365d"
            step = "1ms"
            [stream]
            shards = 1000
            "#,
        );
        let error = check(Path::new("big.toml"), &Estimate::of(&spec), false).unwrap_err();
        assert!(error.starts_with("big.toml: estimated 3.2e13 shard-steps (31536000000 steps of 1ms"), "{error}");
        assert!(error.contains("about 37 days on one core") && error.ends_with("pass --force to run it anyway"));
        assert!(!error.contains('\n'));
        assert!(check(Path::new("big.toml"), &Estimate::of(&spec), true).is_ok());
    }

    #[test]
    fn record_mode_counts_records_so_a_month_is_refused() {
        let text = |fidelity: &str| {
            format!(
                r#"
                duration = "30d"
                fidelity = "{fidelity}"
                [stream]
                shards = 2
                [[producers]]
                name = "p"
                rate = 1000
                "#
            )
        };
        let stepped = Estimate::of(&spec(&text("stepped")));
        assert!(!stepped.exceeds_limit());
        let record = Estimate::of(&spec(&text("record")));
        assert!((record.records - 1000.0 * 30.0 * 86_400.0).abs() < 1.0);
        let error = check(Path::new("month.toml"), &record, false).unwrap_err();
        assert!(error.contains("+ 2.6e9 records x 10 in record mode"), "{error}");
        assert!(check(Path::new("month.toml"), &record, true).is_ok());
        let short = Estimate::of(&spec(&text("record").replace("30d", "5m")));
        assert!(!short.exceeds_limit());
    }

    #[test]
    fn about_rounds_to_the_largest_unit() {
        assert_eq!(about(0.2), "about 1 second on one core");
        assert_eq!(about(600.0), "about 10 minutes on one core");
        assert_eq!(about(3.0 * 3600.0), "about 3 hours on one core");
        assert_eq!(about(30.0 * 3600.0), "about 30 hours on one core");
        assert_eq!(about(10.0 * 86_400.0), "about 10 days on one core");
        assert_eq!(about(1e30), "about 3e22 years on one core");
    }
}
