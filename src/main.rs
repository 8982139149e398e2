//! The `kinesim` command: argument parsing and exit codes over the library.
//!
//! Exit codes: 0 success; 1 an SLO failed; 2 invalid input or usage; 3 a runtime
//! failure (outputs could not be written).

use anyhow::Result;
use clap::{Parser, Subcommand};
use kinesim::{run_experiment, run_experiment_text, RunError, RunOutcome};
use kinesim_models::routing::{hash_key, initial_ranges, shard_index_for, ShardId};
use kinesim_models::slo::SloResult;
use kinesim_models::spec::SHARDS_MAX;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kinesim",
    version,
    about = "Deterministic simulator and capacity planner for Amazon Kinesis Data Streams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one experiment and write its outputs.
    #[command(after_help = RUN_HELP)]
    Run {
        /// The experiment file, or `-` to read it from standard input.
        file: PathBuf,
        /// Output folder (default: out/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the experiment's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print nothing on success.
        #[arg(long)]
        quiet: bool,
        /// Run even when the size guard's estimate of the work is above its limit.
        #[arg(long)]
        force: bool,
        /// Skip the plots and report.html.
        #[arg(long)]
        no_plots: bool,
    },
    /// Run experiments and check their SLOs (`[[expect]]`); exit 1 if any fails.
    #[command(after_help = CHECK_HELP)]
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write a JUnit XML report for CI systems.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Folder under which each experiment's outputs go, as <out>/<name> (default: out).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Folder of a saved `check --out` run: flag (exit 1) every summary metric that
        /// moved beyond `--tolerance` from <baseline>/<name>/summary.json.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Largest change from the baseline that is not flagged, as a fraction of the
        /// baseline value (0.1 = 10%); any change from zero is flagged.
        #[arg(long, default_value_t = 0.1, requires = "baseline", value_parser = parse_tolerance)]
        tolerance: f64,
        /// Run even when the size guard's estimate of the work is above its limit.
        #[arg(long)]
        force: bool,
    },
    /// Parse and check experiment files without running them.
    #[command(after_help = VALIDATE_HELP)]
    Validate {
        /// Experiment files; `-` reads one from standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print which shard each partition key lands on in a new stream of N shards.
    #[command(after_help = SHARD_FOR_HELP)]
    ShardFor {
        #[arg(long)]
        shards: u32,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Run the experiment's [sweep] grid x replications in parallel; write sweep.csv
    /// (a row per job) and sweep_summary.csv (mean, sd, 95% CI, paired differences).
    #[command(after_help = SWEEP_HELP)]
    Sweep {
        file: PathBuf,
        /// Output folder (default: out/sweep-<file name without .toml>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads, at least 1 (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<std::num::NonZeroUsize>,
        /// Run only slice I of N (jobs with index % N == I), e.g. 0/3; join with `merge`.
        #[arg(long, value_parser = parse_partition)]
        partition: Option<(usize, usize)>,
        /// Keep the jobs already done in the output folder and run only the rest.
        #[arg(long)]
        resume: bool,
        /// Also write every job's run outputs (CSV tables, summary.json) under runs/.
        #[arg(long)]
        runs: bool,
        /// No progress and no summary.
        #[arg(long)]
        quiet: bool,
        /// Skip the plots and report.html.
        #[arg(long)]
        no_plots: bool,
        /// Run even when the size guard's estimate of the work is above its limit.
        #[arg(long)]
        force: bool,
    },
    /// Print the JSON Schema of the experiment file (for editors: see README).
    #[command(after_help = SCHEMA_HELP)]
    Schema,
    /// Rebuild the plots and report.html of a run or sweep folder from its CSV files.
    #[command(after_help = REPORT_HELP)]
    Report {
        /// The output folder of a run or a sweep.
        dir: PathBuf,
    },
    /// Join the folders of a partitioned sweep into the outputs one machine would give.
    #[command(after_help = MERGE_HELP)]
    Merge {
        /// The output folders of the sweep's parts (`kinesim sweep --partition I/N`).
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Folder for the joined outputs.
        #[arg(long)]
        out: PathBuf,
    },
    /// Simulate candidate set-ups (provisioned shard counts, the policy, on-demand) and
    /// recommend the cheapest that meets the SLOs. Give an experiment file, or describe
    /// a steady workload with --rate (and --record-size, --consumers, --fan-out).
    #[command(after_help = PLAN_HELP)]
    Plan {
        /// The experiment to plan for (its traffic, consumers and [[expect]] SLOs).
        #[arg(required_unless_present = "rate", conflicts_with = "rate")]
        file: Option<PathBuf>,
        /// Records per second offered (a steady Poisson workload), instead of a file.
        #[arg(long)]
        rate: Option<f64>,
        /// Bytes per record, e.g. 1024 or "25KiB" (with --rate; default 1KiB).
        #[arg(long)]
        record_size: Option<String>,
        /// Polling consumer applications (with --rate; default 1).
        #[arg(long)]
        consumers: Option<u32>,
        /// Enhanced fan-out consumers (with --rate; default 0).
        #[arg(long)]
        fan_out: Option<u32>,
        /// Simulated time per candidate (with --rate; default 1h).
        #[arg(long)]
        duration: Option<String>,
        /// Folder for plan.csv and recommended.toml (default: out/plan-<file name without .toml>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run even when the size guard's estimate of the work is above its limit.
        #[arg(long)]
        force: bool,
    },
}

// What `kinesim <command> --help` shows after the options.
const RUN_HELP: &str = "Examples:
  kinesim run experiments/quickstart.toml
  kinesim run experiments/hot-key.toml --out out/hot-key --seed 7 --no-plots
  kinesim run - < experiments/quickstart.toml    # the experiment on standard input

FILE may be `-` to read the experiment from standard input; relative paths inside it
(traces, price files, policy configurations) then resolve against the current folder.";

const CHECK_HELP: &str = "Examples:
  kinesim check experiments/policies/*.toml --junit check.xml
  kinesim check --out baseline/ experiments/hot-key.toml
  kinesim check --baseline baseline/ --tolerance 0.05 experiments/hot-key.toml";

const VALIDATE_HELP: &str = "Examples:
  kinesim validate experiments/*.toml
  kinesim validate - < experiments/quickstart.toml    # the experiment on standard input";

const SHARD_FOR_HELP: &str = "Example:
  kinesim shard-for --shards 4 user-1 user-2 user-3

Prints one line per key: the key, its shard and its 128-bit hash key.";

const SWEEP_HELP: &str = "Examples:
  kinesim sweep experiments/sweeps/shard-count.toml --threads 2
  kinesim sweep experiments/sweeps/shard-count.toml --partition 0/3 --out out/part-0";

const SCHEMA_HELP: &str = "Example:
  kinesim schema > kinesim.schema.json

Then start an experiment file with `#:schema ./kinesim.schema.json` (Even Better TOML,
taplo). Every key is described in docs/reference.md.";

const REPORT_HELP: &str = "Example:
  kinesim report out/quickstart";

const MERGE_HELP: &str = "Example:
  kinesim merge out/part-0 out/part-1 out/part-2 --out out/sweep-shard-count";

const PLAN_HELP: &str = "Examples:
  kinesim plan experiments/plan-diurnal.toml
  kinesim plan --rate 5000 --record-size 2KiB --consumers 2 --fan-out 1";

/// `println!` for what a command reports on standard output, except that a reader who
/// closed the pipe (`kinesim run ... | head`) ends the program quietly instead of making
/// it panic: the reader has what it wanted, and the outputs on disk are complete or absent.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if !STDOUT_GONE.load(std::sync::atomic::Ordering::Relaxed) {
            if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
                stdout_failed(&error);
            }
        }
    }};
}

/// Set once standard output's reader went away: the rest of the output is dropped.
static STDOUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Handles a failed write to standard output. When its reader went away (`| head`), the
/// command goes on without printing, so that its files and its exit code (a `check`'s
/// verdict) are still what they would be; otherwise (a full disk behind a redirection)
/// it ends with a message and exit code 3.
fn stdout_failed(error: &std::io::Error) {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_GONE.store(true, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    eprintln!("error: cannot write to standard output: {error}");
    std::process::exit(i32::from(EXIT_RUNTIME));
}

const EXIT_SLO_FAILED: u8 = 1;
const EXIT_INVALID: u8 = 2;
const EXIT_RUNTIME: u8 = 3;
const EXIT_INTERRUPTED: u8 = 130;

/// Ctrl-C or SIGTERM asks runs and sweeps to stop (they publish nothing partial); a
/// second one exits at once.
fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if kinesim_sim::interrupt::requested() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("interrupted: stopping (press Ctrl-C again to quit at once)");
        kinesim_sim::interrupt::request();
    });
}

/// The exit code for a run that did not complete.
fn run_failure_code(failure: &kinesim_models::RunFailure) -> u8 {
    match failure {
        kinesim_models::RunFailure::Interrupted => EXIT_INTERRUPTED,
        kinesim_models::RunFailure::Policy(_) => EXIT_RUNTIME,
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // With no command, the help (the list of commands) is the useful answer.
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            return ExitCode::from(EXIT_INVALID);
        }
        Err(error) if error.use_stderr() => {
            eprintln!("{}", one_line(&error.render().to_string()));
            return ExitCode::from(EXIT_INVALID);
        }
        Err(help_or_version) => {
            let _ = help_or_version.print();
            return ExitCode::SUCCESS;
        }
    };
    install_interrupt_handler();
    match cli.command {
        Command::Run { file, out, seed, quiet, force, no_plots } => {
            // Read once: `-` is standard input, which cannot be read twice.
            let (path, bytes, text) = match kinesim::experiment::read_arg(&file) {
                Ok(input) => input,
                Err(error) => return fail(&RunError::Load(error)),
            };
            if let Err(refusal) = kinesim::guard::check_text(&path, &text, 1, force) {
                eprintln!("error: {refusal}");
                return ExitCode::from(EXIT_INVALID);
            }
            match run_experiment_text(&path, &bytes, &text, out.as_deref(), seed) {
                Ok(outcome) => {
                    if !quiet {
                        print_summary(&file, &outcome);
                    }
                    if no_plots {
                        return ExitCode::SUCCESS;
                    }
                    report_or_fail(kinesim_reports::report::render_run_report(&outcome.folder, Some(&text)), quiet)
                }
                Err(error) => fail(&error),
            }
        }
        Command::Validate { files } => validate(&files),
        Command::Check { files, junit, out, baseline, tolerance, force } => {
            if let Some(code) = size_guard(&files, 1, force) {
                return code;
            }
            let baseline = baseline.map(|folder| (folder, tolerance));
            check(&files, junit.as_deref(), out.as_deref(), baseline.as_ref())
        }
        Command::Plan { file, rate, record_size, consumers, fan_out, duration, out, force } => {
            let workload_flags = [
                ("--record-size", record_size.is_some()),
                ("--consumers", consumers.is_some()),
                ("--fan-out", fan_out.is_some()),
                ("--duration", duration.is_some()),
            ];
            let file = match (file, rate) {
                (Some(file), _) => {
                    // The workload flags describe a workload of their own; silently
                    // ignoring them next to a file would plan something else than asked.
                    if let Some((flag, _)) = workload_flags.iter().find(|(_, given)| *given) {
                        eprintln!(
                            "error: {flag} describes a workload with --rate; with an experiment file ({}) set it in the file",
                            file.display()
                        );
                        return ExitCode::from(EXIT_INVALID);
                    }
                    file
                }
                (None, Some(rate)) => {
                    let record_size = record_size.as_deref().unwrap_or("1KiB");
                    let duration = duration.as_deref().unwrap_or("1h");
                    let (consumers, fan_out) = (consumers.unwrap_or(1), fan_out.unwrap_or(0));
                    match workload_file(rate, record_size, consumers, fan_out, duration, out.as_deref()) {
                        Ok(file) => file,
                        Err(error) => {
                            eprintln!("error: {error}");
                            return ExitCode::from(EXIT_INVALID);
                        }
                    }
                }
                (None, None) => unreachable!("clap requires a file or --rate"),
            };
            if let Some(code) = size_guard(std::slice::from_ref(&file), kinesim::guard::PLAN_RUNS, force) {
                return code;
            }
            plan_command(&file, out.as_deref())
        }
        Command::Sweep { file, out, threads, partition, resume, runs, quiet, force, no_plots } => {
            let name = file.file_stem().map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned());
            let folder = out.clone().unwrap_or_else(|| PathBuf::from("out").join(format!("sweep-{name}")));
            let threads = threads.map(std::num::NonZeroUsize::get);
            let code = sweep_command(&file, out, threads, partition, (resume, runs, force), quiet);
            if code != ExitCode::SUCCESS || no_plots || !folder.join("sweep.csv").exists() {
                return code;
            }
            report_or_fail(kinesim_reports::report::render_sweep_report(&folder), quiet)
        }
        Command::Report { dir } => match kinesim_reports::report::render_report(&dir) {
            Err(error) if is_bad_report_input(&error) => {
                eprintln!("error: {error}");
                ExitCode::from(EXIT_INVALID)
            }
            rendered => report_or_fail(rendered, false),
        },
        Command::Schema => {
            say!("{}", serde_json::to_string_pretty(&kinesim::schema::experiment_schema()).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::Merge { parts, out } => match kinesim::sweep::merge(&parts, &out) {
            Ok(jobs) => {
                say!("merged {jobs} jobs from {} parts into {}", parts.len(), out.display());
                report_or_fail(kinesim_reports::report::render_sweep_report(&out), false)
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(sweep_exit(&error))
            }
        },
        Command::ShardFor { shards, keys } => match shard_for(shards, &keys) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(EXIT_INVALID)
            }
        },
    }
}

/// The size guard (src/guard.rs): each file whose `runs` runs are estimated above the
/// limit is named with its estimate, and the command exits 2 before running anything.
fn size_guard(files: &[PathBuf], runs: u64, force: bool) -> Option<ExitCode> {
    let refusals: Vec<String> =
        files.iter().filter_map(|file| kinesim::guard::check_file(file, runs, force).err()).collect();
    for refusal in &refusals {
        eprintln!("error: {refusal}");
    }
    (!refusals.is_empty()).then(|| ExitCode::from(EXIT_INVALID))
}

/// Whether `kinesim report` failed on its input (a folder that is missing, not an output
/// folder, or holds files that do not parse) rather than on writing the report.
fn is_bad_report_input(error: &kinesim_reports::ReportError) -> bool {
    match error {
        kinesim_reports::ReportError::Csv { .. } | kinesim_reports::ReportError::Json { .. } => true,
        kinesim_reports::ReportError::Io { source, .. } => {
            matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData)
        }
    }
}

/// A command-line error on one line, as every other error: what clap says before its
/// usage (with its tip, such as the subcommand meant), then where the usage is.
fn one_line(rendered: &str) -> String {
    let said: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect();
    format!("{} (see --help)", said.join(" ").replace(" tip:", "; tip:"))
}

/// Reports a rendered report's page, or fails with exit 3.
fn report_or_fail(
    rendered: Result<kinesim_reports::report::ReportFiles, kinesim_reports::ReportError>,
    quiet: bool,
) -> ExitCode {
    match rendered {
        Ok(files) => {
            if !quiet {
                say!("  report: {} ({} plots)", files.report.display(), files.plots.len());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot write the report: {error}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn parse_partition(text: &str) -> Result<(usize, usize), String> {
    let parsed = text.split_once('/').and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((index, count)) if count >= 1 && index < count && count <= 100_000 => Ok((index, count)),
        _ => Err(format!("expected I/N with 0 <= I < N <= 100000, e.g. 0/3, got \"{text}\"")),
    }
}

fn sweep_exit(error: &kinesim::sweep::SweepError) -> u8 {
    match error {
        kinesim::sweep::SweepError::Load(_) | kinesim::sweep::SweepError::Merge(_) => EXIT_INVALID,
        kinesim::sweep::SweepError::Policy { failure, .. } => run_failure_code(failure),
        _ => EXIT_RUNTIME,
    }
}

fn sweep_command(
    file: &std::path::Path,
    out: Option<PathBuf>,
    threads: Option<usize>,
    partition: Option<(usize, usize)>,
    (resume, runs, force): (bool, bool, bool),
    quiet: bool,
) -> ExitCode {
    let sweep = match kinesim::sweep::load(file) {
        Ok(sweep) => sweep,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(sweep_exit(&error));
        }
    };
    // The base experiment once per job this invocation may run.
    let jobs = sweep.spec.jobs() as u64;
    let jobs = partition.map_or(jobs, |(_, parts)| jobs.div_ceil(parts as u64));
    if let Some(code) = size_guard(&[file.to_path_buf()], jobs, force) {
        return code;
    }
    let name = file.file_stem().map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned());
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(format!("sweep-{name}")));
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let progress = if quiet { kinesim::progress::Progress::Quiet } else { kinesim::progress::Progress::Auto };
    let options = kinesim::sweep::Options { out: out.clone(), threads, partition, resume, runs, progress };
    match kinesim::sweep::run(&sweep, &options) {
        Ok(outcome) => {
            if !quiet {
                say!(
                    "kinesim sweep {}: {} points x {} replications = {} jobs; {} run now",
                    file.display(),
                    sweep.spec.points(),
                    sweep.spec.replications,
                    outcome.jobs_total,
                    outcome.jobs_run
                );
                if outcome.complete {
                    say!("  outputs: {} (sweep.csv, sweep_summary.csv)", out.display());
                } else {
                    say!("  partition done: {}; join the parts with `kinesim merge`", out.display());
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(sweep_exit(&error))
        }
    }
}

/// An experiment file for a steady workload described by flags, written into the plan's
/// output folder.
fn workload_file(
    rate: f64,
    record_size: &str,
    consumers: u32,
    fan_out: u32,
    duration: &str,
    out: Option<&std::path::Path>,
) -> Result<PathBuf> {
    anyhow::ensure!(
        rate.is_finite() && rate > 0.0 && rate <= 1e9,
        "--rate must be a number of records/s above 0 and at most 1e9, got {rate}"
    );
    // In 64 bits: two u32 flags must not wrap past the bound.
    anyhow::ensure!(
        u64::from(consumers) + u64::from(fan_out) <= 30,
        "--consumers plus --fan-out must be at most 30, got {consumers} and {fan_out}"
    );
    let size = kinesim_sim::parse_size(record_size).map_err(|e| anyhow::anyhow!("--record-size: {e}"))?;
    kinesim_sim::parse_duration(duration).map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
    let mut text = format!(
        "# A steady workload for `kinesim plan`: {rate} records/s of {size} bytes.\nname = \"workload\"\nseed = 1\nduration = \"{duration}\"\n[output]\nshards = \"off\"\nconsumers = \"off\"\n[stream]\nshards = 1\n[[producers]]\nname = \"producer\"\nrate = {rate}\ninstances = 10\nrecord_size = {size}\nkeys = {{ kind = \"random\" }}\napi = {{ kind = \"put_records\", max_records = 500, linger = \"100ms\" }}\nretry = {{ kind = \"exponential\", base = \"100ms\", cap = \"5s\", max_attempts = 6, jitter = \"full\" }}\n"
    );
    for index in 0..consumers {
        text.push_str(&format!("[[consumers]]\nname = \"poller-{index}\"\nkind = \"polling\"\n"));
    }
    for index in 0..fan_out {
        text.push_str(&format!("[[consumers]]\nname = \"fan-out-{index}\"\nkind = \"efo\"\n"));
    }
    let folder = out.map_or_else(|| PathBuf::from("out/plan-workload"), std::path::Path::to_path_buf);
    let path = folder.join("workload.toml");
    // Checked before anything is written; what the flags cannot express is refused with
    // the key of the workload it would have set.
    if let Err(error) = kinesim::experiment::parse(&path, &text) {
        anyhow::bail!(
            "the workload the flags describe (--rate, --record-size, --duration, --consumers, --fan-out) is invalid: {error}"
        );
    }
    std::fs::create_dir_all(&folder)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

fn plan_command(file: &std::path::Path, out: Option<&std::path::Path>) -> ExitCode {
    let plan = match kinesim::plan::plan(file) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(match &error {
                kinesim::plan::PlanError::Load(_) => EXIT_INVALID,
                kinesim::plan::PlanError::Policy { failure, .. } => run_failure_code(failure),
                _ => EXIT_RUNTIME,
            });
        }
    };
    print_plan(file, &plan);
    let name = file.file_stem().map_or_else(|| "plan".into(), |s| s.to_string_lossy().into_owned());
    let folder = out.map_or_else(|| PathBuf::from("out").join(format!("plan-{name}")), std::path::Path::to_path_buf);
    if let Err(error) = kinesim::plan::write_outputs(&plan, file, &folder) {
        eprintln!("error: {error}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    say!("  outputs: {}", folder.display());
    if plan.recommended.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SLO_FAILED)
    }
}

fn print_plan(file: &std::path::Path, plan: &kinesim::plan::Plan) {
    let w = &plan.workload;
    say!("kinesim plan {}", file.display());
    say!(
        "  workload: {:.0} records/s on average, {:.0} at peak, {:.0} bytes per record, {} consumers",
        w.mean_records_per_s,
        w.peak_records_per_s,
        w.mean_record_bytes,
        w.consumers
    );
    say!(
        "  AWS's sizing formula: {} shards (average rate, bytes only); the Pricing Calculator's: {} (peak, records, +20%)",
        w.formula_shards, w.calculator_shards
    );
    say!("  {:>4}  {:<36} {:>12} {:>10} {:>14}  verdict", "rank", "set-up", "USD/month", "throttled", "iter age max");
    for (rank, c) in plan.candidates.iter().enumerate() {
        let failed: Vec<&str> = c.slo_results.iter().filter(|r| !r.passed).map(|r| r.metric.as_str()).collect();
        let verdict = if c.passed { "meets SLOs".to_string() } else { format!("fails {}", failed.join(", ")) };
        let shortfall = if c.shortfall_per_month_usd > 0.0 {
            format!(" (+{:.0} commitment)", c.shortfall_per_month_usd)
        } else {
            String::new()
        };
        say!(
            "  {:>4}  {:<36} {:>12.2} {:>9.3}% {:>12.0} ms  {verdict}{shortfall}",
            rank + 1,
            c.label,
            c.cost_per_month_usd,
            c.write_throttle_rate * 100.0,
            c.iterator_age_ms_max
        );
    }
    let Some(index) = plan.recommended else {
        say!("  no set-up tried meets every SLO");
        return;
    };
    let chosen = &plan.candidates[index];
    say!("  recommended: {} at ${:.2} per month", chosen.label, chosen.ranking_usd());
    for reason in &plan.reasons {
        say!("    why it differs from the formula: {reason}");
    }
    if let Some(sensitivity) = &plan.sensitivity {
        let failing: Vec<&str> = sensitivity.variants.iter().filter(|(_, ok)| !ok).map(|(l, _)| l.as_str()).collect();
        if failing.is_empty() {
            say!(
                "  the verdict holds across the unpublished parameters it depends on ({} variants)",
                sensitivity.variants.len()
            );
        } else {
            say!("  the verdict does NOT hold with: {}", failing.join("; "));
        }
    }
}

fn fail(error: &RunError) -> ExitCode {
    eprintln!("error: {error}");
    match error {
        RunError::Load(_) => ExitCode::from(EXIT_INVALID),
        RunError::Report(_) => ExitCode::from(EXIT_RUNTIME),
        RunError::Policy { failure, .. } => ExitCode::from(run_failure_code(failure)),
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        // `-` is standard input, named `<stdin>`.
        let loaded = kinesim::experiment::read_arg(file).and_then(|(path, bytes, text)| {
            let spec = kinesim::experiment::parse(&path, &text)?;
            // A [sweep] section is checked as `kinesim sweep` would: its keys and the
            // experiment of every point.
            let points = if kinesim::sweep::has_sweep(&text) {
                Some(kinesim::sweep::from_text(&path, &bytes, text)?.spec.points())
            } else {
                None
            };
            Ok((spec, path, points))
        });
        match loaded {
            Ok((spec, path, points)) => say!(
                "{}: ok ({}: {} shards, {} producers, {} consumers{})",
                path.display(),
                spec.name,
                spec.stream.shards,
                spec.producers.len(),
                spec.consumers.len(),
                points.map_or(String::new(), |points| format!("; a sweep of {points} points"))
            ),
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs each file, prints every SLO with its value and margin, and exits 1 when one
/// fails (2 for invalid input, which takes precedence; 3 when outputs cannot be written).
fn check(
    files: &[PathBuf],
    junit: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
    baseline: Option<&(PathBuf, f64)>,
) -> ExitCode {
    if let (Some(out), Some((folder, _))) = (out, baseline) {
        let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
        };
        if same(out, folder) {
            eprintln!(
                "error: --out and --baseline are the same folder ({}): the runs would overwrite the baseline they are compared with",
                out.display()
            );
            return ExitCode::from(EXIT_INVALID);
        }
    }
    let mut suites = Vec::new();
    let mut worst = 0u8;
    say!(
        "{:<28} {:<26} {:<24} {:>14} {:>16} {:>14}  result",
        "experiment",
        "metric",
        "scope",
        "value",
        "bound",
        "margin"
    );
    for file in files {
        let folder = match (out, kinesim::load(file)) {
            (Some(out), Ok(spec)) => Some(out.join(&spec.name)),
            _ => None,
        };
        match run_experiment(file, folder.as_deref(), None) {
            Ok(outcome) => {
                for result in &outcome.slo_results {
                    print_slo_row(&outcome.spec.name, result);
                    if !result.passed {
                        worst = worst.max(EXIT_SLO_FAILED);
                    }
                }
                let mut moved = Vec::new();
                if let Some((folder, tolerance)) = baseline {
                    let (code, drifts) = compare_with_baseline(&outcome, folder, *tolerance);
                    worst = worst.max(code);
                    moved = drifts;
                }
                let name = outcome.spec.name.clone();
                suites.push(Suite { name, results: outcome.slo_results, moved, error: None });
            }
            Err(error) => {
                eprintln!("error: {error}");
                let name = file.file_stem().map_or_else(|| file.display().to_string(), |s| s.to_string_lossy().into());
                suites.push(Suite { name, results: Vec::new(), moved: Vec::new(), error: Some(error.to_string()) });
                worst = worst.max(match error {
                    RunError::Load(_) => EXIT_INVALID,
                    RunError::Report(_) => EXIT_RUNTIME,
                    RunError::Policy { failure, .. } => run_failure_code(&failure),
                });
            }
        }
    }
    if let Some(path) = junit {
        if let Err(error) = std::fs::write(path, junit_xml(&suites)) {
            eprintln!("error: {}: cannot write the JUnit report: {error}", path.display());
            worst = worst.max(EXIT_RUNTIME);
        }
    }
    // Invalid input (2) outranks a failed SLO (1); a runtime failure (3) outranks both.
    ExitCode::from(worst)
}

fn parse_tolerance(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(tolerance) if tolerance.is_finite() && tolerance >= 0.0 => Ok(tolerance),
        _ => Err(format!("must be a non-negative fraction such as 0.1, got \"{text}\"")),
    }
}

/// Prints the metrics of this run that moved from the baseline; returns the exit code
/// they call for (1 when any moved, 2 when the baseline is missing or unreadable).
/// Prints the metrics that moved from the baseline; returns the exit code it calls for
/// and one line per moved metric (for the JUnit report).
fn compare_with_baseline(outcome: &RunOutcome, folder: &std::path::Path, tolerance: f64) -> (u8, Vec<String>) {
    let summaries = kinesim::baseline::load_summary(&folder.join(&outcome.spec.name).join("summary.json"))
        .and_then(|baseline| Ok((kinesim::baseline::load_summary(&outcome.folder.join("summary.json"))?, baseline)));
    match summaries {
        Ok((current, baseline)) => {
            let drifts = kinesim::baseline::compare(&current, &baseline, tolerance);
            for drift in &drifts {
                say!(
                    "{:<28} {:<51} {:>14.6} {:>16} {:>+14.2}%  MOVED",
                    outcome.spec.name,
                    drift.metric,
                    drift.current,
                    format!("was {}", drift.baseline),
                    drift.relative_change() * 100.0
                );
            }
            let moved: Vec<String> = drifts
                .iter()
                .map(|drift| {
                    format!(
                        "{} moved {:+.2}%: {} against {} in the baseline",
                        drift.metric,
                        drift.relative_change() * 100.0,
                        drift.current,
                        drift.baseline
                    )
                })
                .collect();
            (if moved.is_empty() { 0 } else { EXIT_SLO_FAILED }, moved)
        }
        Err(error) => {
            eprintln!("error: {error}");
            (EXIT_INVALID, vec![error.to_string()])
        }
    }
}

fn bound_text(result: &SloResult) -> String {
    match (result.min, result.max) {
        (Some(min), Some(max)) => format!("{min}..{max}"),
        (Some(min), None) => format!(">= {min}"),
        (None, Some(max)) => format!("<= {max}"),
        (None, None) => String::new(),
    }
}

fn print_slo_row(experiment: &str, result: &SloResult) {
    say!(
        "{:<28} {:<26} {:<24} {:>14.6} {:>16} {:>14.6}  {}",
        experiment,
        result.metric,
        result.scope,
        result.value,
        bound_text(result),
        result.margin,
        if result.passed { "pass" } else { "FAIL" }
    );
}

/// A JUnit report: one test suite per experiment, one test case per SLO.
/// One experiment of a check: its objectives, or why it could not run.
struct Suite {
    name: String,
    results: Vec<SloResult>,
    /// Summary metrics that moved from the baseline (`--baseline`), each a failure.
    moved: Vec<String>,
    error: Option<String>,
}

fn junit_xml(suites: &[Suite]) -> String {
    let escape =
        |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for Suite { name, results, moved, error } in suites {
        if let Some(error) = error {
            xml.push_str(&format!(
                "  <testsuite name=\"{0}\" tests=\"1\" failures=\"0\" errors=\"1\">\n    <testcase name=\"run\" classname=\"{0}\"><error message=\"{1}\"/></testcase>\n  </testsuite>\n",
                escape(name),
                escape(error)
            ));
            continue;
        }
        let failures = results.iter().filter(|r| !r.passed).count() + moved.len();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            escape(name),
            results.len() + moved.len()
        ));
        for drift in moved {
            xml.push_str(&format!(
                "    <testcase name=\"baseline\" classname=\"{}\"><failure message=\"{}\"/></testcase>\n",
                escape(name),
                escape(drift)
            ));
        }
        for result in results {
            let case = escape(&format!("{} ({}) {}", result.metric, result.scope, bound_text(result)));
            if result.passed {
                xml.push_str(&format!("    <testcase name=\"{case}\" classname=\"{}\"/>\n", escape(name)));
            } else {
                xml.push_str(&format!(
                    "    <testcase name=\"{case}\" classname=\"{}\"><failure message=\"value {} outside {}\"/></testcase>\n",
                    escape(name),
                    result.value,
                    escape(&bound_text(result))
                ));
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn shard_for(shards: u32, keys: &[String]) -> Result<()> {
    anyhow::ensure!((1..=SHARDS_MAX).contains(&shards), "--shards must be between 1 and {SHARDS_MAX}, got {shards}");
    let ranges = initial_ranges(shards);
    for key in keys {
        let length = key.chars().count();
        anyhow::ensure!(
            (1..=256).contains(&length),
            "partition key \"{key}\" must be 1 to 256 characters, got {length}"
        );
        let hash = hash_key(key);
        let shard = ShardId(shard_index_for(&ranges, hash) as u32);
        say!("{key}\t{shard}\t{hash}");
    }
    Ok(())
}

fn print_summary(file: &std::path::Path, outcome: &RunOutcome) {
    let summary = &outcome.summary;
    // Record mode says so; the stepped default's line stays as the guide quotes it.
    let fidelity = match outcome.spec.fidelity {
        kinesim_models::spec::Fidelity::Stepped => "",
        kinesim_models::spec::Fidelity::Record => ", record mode",
    };
    say!(
        "kinesim run {} (seed {}{fidelity}): {} s simulated",
        outcome.spec.name,
        outcome.spec.seed,
        summary.duration_s
    );
    say!(
        "  writes: {} offered, {} accepted, throttle rate {:.4}% ({} rejected attempts), {} dropped, {} still retrying",
        summary.offered_records,
        summary.accepted_records,
        summary.write_throttle_rate * 100.0,
        summary.write_throttled_records,
        summary.dropped_records,
        summary.in_flight_records_end
    );
    for consumer in &summary.consumers {
        say!(
            "  consumer {}: {} records read, worst iterator age {:.0} ms, {} expired unread, {} throttled calls",
            consumer.name,
            consumer.read_records,
            consumer.iterator_age_ms_max,
            consumer.expired_unread_records,
            consumer.read_throttled_calls
        );
    }
    let cost = &summary.cost;
    let biggest: Vec<String> = {
        let mut parts = cost.components.clone();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.iter().take(3).map(|(name, usd)| format!("{name} ${usd:.2}")).collect()
    };
    say!(
        "  cost ({}): ${:.2} over the run, ${:.2} per month (730 h){}{}",
        outcome.spec.cost.prices.region,
        cost.total_usd,
        cost.per_month_usd,
        if biggest.is_empty() { String::new() } else { format!("; {}", biggest.join(", ")) },
        if cost.advantage_shortfall_usd > 0.0 {
            format!("; account commitment shortfall ${:.2} (billed apart)", cost.advantage_shortfall_usd)
        } else {
            String::new()
        }
    );
    for result in &outcome.slo_results {
        say!(
            "  slo {} ({}): {} {} -> {}",
            result.metric,
            result.scope,
            result.value,
            bound_text(result),
            if result.passed { "pass" } else { "FAIL" }
        );
    }
    say!("  outputs: {}", outcome.folder.display());
    let again = if file == std::path::Path::new("-") { " (the same experiment on standard input)" } else { "" };
    say!("  replay: kinesim run {} --seed {}{again}", file.display(), outcome.spec.seed);
}
