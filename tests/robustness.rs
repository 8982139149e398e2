//! Hostile inputs and interrupted runs: processes killed mid-run leave nothing that looks
//! complete, SIGTERM stops runs and sweeps with exit code 130 (a sweep then resumes to
//! the bytes of an uninterrupted one), a missing policy program is a runtime failure
//! (exit 3), the size guard refuses runs above its limit unless given `--force`, and
//! CloudWatch exports with gaps, disorder, byte order marks and CRLF are read as
//! documented in src/trace.rs (the rejected ones are in tests/data/malformed/trace-*).
//! Signals are sent with kill(1), hence Unix only.
#![cfg(unix)]

mod common;

use kinesim::guard::{Estimate, PLAN_RUNS, SHARD_STEPS_LIMIT};
use kinesim_models::spec::RateShape;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exit codes of `kinesim`.
const EXIT_INVALID: i32 = 2;
const EXIT_RUNTIME: i32 = 3;
const EXIT_INTERRUPTED: i32 = 130;

/// A run that takes tens of seconds (30 days of 16 shards and a poller, below the size
/// guard's limit): it is always killed long before it ends.
const LONG_RUN: &str = r#"
name = "long"
seed = 3
duration = "30d"
[output]
consumers = "off"
[stream]
shards = 16
[[producers]]
name = "web"
rate = 4000
keys = { kind = "zipf", count = 10000, exponent = 1.0 }
[[consumers]]
name = "reader"
kind = "polling"
"#;

/// Far above the size guard's limit: a year of millisecond steps on 1000 shards.
const HUGE_RUN: &str = r#"
name = "huge"
duration = "365d"
step = "1ms"
[stream]
shards = 1000
[[producers]]
name = "web"
rate = 100
"#;

fn write(folder: &Path, name: &str, text: &str) -> PathBuf {
    let path = folder.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Sends SIGTERM, as `kill -TERM` or a container runtime stopping a job does.
fn terminate(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -TERM failed");
}

/// Waits until `ready` holds (polling every 5 ms), at most 30 s.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The names in a folder (none when it does not exist).
fn names(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Starts `kinesim run` on [`LONG_RUN`] and waits until it is simulating (its tables
/// exist under temporary names) and a little more.
fn start_long_run(name: &str) -> (Child, common::Scratch) {
    let out = common::scratch(name).into_path_of("out");
    let file = write(out.parent().expect("a folder holds the output"), "long.toml", LONG_RUN);
    let child = common::kinesim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the run's temporary files", || names(&out).iter().any(|n| n.ends_with(".tmp")));
    std::thread::sleep(Duration::from_millis(200));
    (child, out)
}

#[test]
fn a_run_killed_with_sigkill_leaves_nothing_that_looks_complete() {
    let (mut child, out) = start_long_run("sigkill-run");
    let pid = child.id();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal, not exited");
    let left = names(&out);
    assert!(!left.is_empty(), "the run had started writing");
    let suffix = format!(".{pid}.tmp");
    for name in &left {
        assert!(name.starts_with('.') && name.ends_with(&suffix), "{name} looks like a published output: {left:?}");
    }
    assert!(!out.join("summary.json").exists());
}

#[test]
fn a_run_stopped_with_sigterm_exits_130_and_leaves_no_outputs() {
    let (child, out) = start_long_run("sigterm-run");
    let started = Instant::now();
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTERRUPTED), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10), "the run stops within a step, not at its end");
    assert!(stderr(&output).contains("interrupted"), "{}", stderr(&output));
    assert_eq!(names(&out), Vec::<String>::new(), "no outputs, not even temporary ones");
}

const SWEEP: &str = r#"
name = "interrupted-sweep"
seed = 5
duration = "2h"
[output]
shards = "off"
consumers = "off"
[stream]
shards = 2
[[producers]]
name = "web"
rate = 1500
keys = { kind = "zipf", count = 1000, exponent = 1.0 }
retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 4, jitter = "full" }
[[consumers]]
name = "reader"
kind = "polling"
[sweep]
replications = 3
[sweep.grid]
"stream.shards" = [1, 2, 3]
"producers.web.rate" = [1000, 2000]
"#;

fn sweep_outputs(folder: &Path) -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(folder.join("sweep.csv")).unwrap(), std::fs::read(folder.join("sweep_summary.csv")).unwrap())
}

fn job_files(out: &Path) -> usize {
    names(&out.join("jobs")).iter().filter(|n| n.starts_with("job-") && n.ends_with(".csv")).count()
}

#[test]
fn a_sweep_stopped_with_sigterm_exits_130_and_resumes_to_the_same_bytes() {
    stop_a_sweep_then_resume("sigterm-sweep", Stop::Terminate);
}

/// SIGKILL gives the sweep no chance to clean up: what it leaves must still resume to
/// the bytes of an uninterrupted sweep.
#[test]
fn a_sweep_killed_with_sigkill_resumes_to_the_same_bytes() {
    stop_a_sweep_then_resume("sigkill-sweep", Stop::Kill);
}

enum Stop {
    /// SIGTERM: the sweep stops on its own, exit code 130.
    Terminate,
    /// SIGKILL: the process dies at once.
    Kill,
}

/// Stops a sweep after its first finished job, checks that nothing looks complete,
/// resumes it and compares with an uninterrupted sweep.
fn stop_a_sweep_then_resume(name: &str, stop: Stop) {
    let folder = common::scratch(name);
    let file = write(&folder, "sweep.toml", SWEEP);
    let whole = folder.join("whole");
    let output = common::kinesim().arg("sweep").arg(&file).arg("--out").arg(&whole).arg("--quiet").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let out = folder.join("stopped");
    let mut child = common::kinesim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a first finished job", || job_files(&out) >= 1);
    match stop {
        Stop::Terminate => terminate(&child),
        Stop::Kill => child.kill().unwrap(),
    }
    let output = child.wait_with_output().unwrap();
    let code_expected = match stop {
        Stop::Terminate => Some(EXIT_INTERRUPTED),
        Stop::Kill => None,
    };
    assert_eq!(output.status.code(), code_expected, "{}", stderr(&output));
    let finished = job_files(&out);
    assert!((1..18).contains(&finished), "stopped part-way ({finished} of 18 jobs)");
    assert!(!out.join("sweep.csv").exists() && !out.join("sweep_summary.csv").exists());

    let output = common::kinesim().arg("sweep").arg(&file).arg("--out").arg(&out).arg("--resume").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(&format!("{} run now", 18 - finished)), "only the missing jobs run: {stdout}");
    assert!(sweep_outputs(&out) == sweep_outputs(&whole), "the resumed sweep differs from the uninterrupted one");
}

#[test]
fn a_policy_program_that_does_not_exist_is_a_runtime_failure() {
    let folder = common::scratch("missing-program");
    let file = write(
        &folder,
        "missing-program.toml",
        r#"
        duration = "10m"
        [stream]
        shards = 2
        [[producers]]
        name = "web"
        rate = 500
        [policy]
        kind = "external"
        command = ["./no-such-autoscaler", "--flag"]
        "#,
    );
    // The file itself is valid: the program is looked for when the run starts.
    let output = common::kinesim().arg("validate").arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = folder.join("out");
    let output = common::kinesim().arg("run").arg(&file).arg("--out").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_RUNTIME), "{}", stderr(&output));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("error: ") && message.contains("missing-program.toml"), "{message}");
    assert!(message.contains("no-such-autoscaler"), "the program is named: {message}");
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(names(&out), Vec::<String>::new(), "nothing published");
    // `check` reports it the same way.
    let output = common::kinesim().arg("check").arg(&file).arg("--out").arg(folder.join("check")).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_RUNTIME), "{}", stderr(&output));
}

/// Checks a size-guard refusal: exit 2, one line naming the file, the estimate and
/// `--force`, and nothing written.
fn assert_refused(output: &Output, file: &Path, out: &Path) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(EXIT_INVALID), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with(&format!("error: {}: estimated ", file.display())), "{message}");
    assert!(message.contains("shard-steps") && message.contains("pass --force to run it anyway"), "{message}");
    assert!(!out.exists(), "nothing written to {}", out.display());
}

#[test]
fn the_size_guard_refuses_huge_runs_in_every_command() {
    let folder = common::scratch("size-guard");
    let file = write(&folder, "huge.toml", HUGE_RUN);
    let out = folder.join("out");
    for command in ["run", "check", "plan"] {
        let output = common::kinesim().arg(command).arg(&file).arg("--out").arg(&out).output().unwrap();
        assert_refused(&output, &file, &out);
    }
    let message = stderr(&common::kinesim().arg("run").arg(&file).output().unwrap());
    assert!(message.contains("estimated 3.2e13 shard-steps (31536000000 steps of 1ms x (1000 shards"), "{message}");
    assert!(message.contains("about 37 days on one core"), "{message}");

    // A sweep counts every job: 100 runs, each below the limit, are 3 times above it.
    let steps = (SHARD_STEPS_LIMIT / 100.0 / 101.0 * 3.0) as u64;
    let sweep = format!(
        "name = \"many\"\nduration = \"{steps}s\"\n[stream]\nshards = 100\n[[producers]]\nname = \"web\"\nrate = 1\n\
         [sweep]\nreplications = 100\n[sweep.grid]\n\"producers.web.rate\" = [1]\n"
    );
    let sweep_file = write(&folder, "many.toml", &sweep);
    let one_run = Estimate::of(&kinesim::load(&sweep_file).unwrap());
    assert!(!one_run.exceeds_limit() && one_run.times(100).exceeds_limit());
    let output = common::kinesim().arg("sweep").arg(&sweep_file).arg("--out").arg(&out).output().unwrap();
    assert_refused(&output, &sweep_file, &out);
    assert!(stderr(&output).contains(" x 100 runs)"), "{}", stderr(&output));
    // A partition counts its share of the jobs.
    let output = common::kinesim()
        .arg("sweep")
        .arg(&sweep_file)
        .args(["--partition", "0/2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_refused(&output, &sweep_file, &out);
    assert!(stderr(&output).contains(" x 50 runs)"), "{}", stderr(&output));
}

#[test]
fn force_runs_a_refused_experiment() {
    let folder = common::scratch("size-guard-force");
    let file = write(&folder, "huge.toml", HUGE_RUN);
    let out = folder.join("out");
    let child = common::kinesim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It starts (its tables appear under temporary names); then it is stopped.
    wait_for("the forced run to start", || names(&out).iter().any(|n| n.ends_with(".tmp")));
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTERRUPTED), "{}", stderr(&output));
}

/// Every experiment shipped with the repository (examples, the policy suite, the
/// sweeps, the benchmarks) is well below the limit, however it is run.
#[test]
fn every_shipped_experiment_passes_the_size_guard() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for folder in ["experiments", "experiments/policies", "experiments/sweeps", "benches"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 40, "found {} experiment files", files.len());
    let mut largest = (0.0, PathBuf::new());
    let mut month = None;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if text.contains("[sweep]") {
            let sweep = kinesim::sweep::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let spec = kinesim::load(path).unwrap();
            let estimate = Estimate::of(&spec).times(sweep.spec.jobs() as u64);
            assert!(!estimate.exceeds_limit(), "{}: {}", path.display(), estimate.refusal());
            continue;
        }
        let Ok(spec) = kinesim::load(path) else { continue };
        // As `plan` counts it, the most runs any command makes of one file.
        let estimate = Estimate::of(&spec);
        let planned = estimate.clone().times(PLAN_RUNS);
        let is_benchmark = path.starts_with(root.join("benches"));
        if !is_benchmark {
            assert!(!planned.exceeds_limit(), "{}: {}", path.display(), planned.refusal());
        }
        assert!(!estimate.exceeds_limit(), "{}: {}", path.display(), estimate.refusal());
        if path.ends_with("benches/month.toml") {
            month = Some(estimate.shard_steps());
        }
        if estimate.shard_steps() > largest.0 {
            largest = (estimate.shard_steps(), path.clone());
        }
    }
    // The largest leaves the limit an order of magnitude of room. The month benchmark,
    // the size the limit was chosen for: 30 days of 1 s steps x (200 shards x 3 + 1).
    assert!(largest.0 * 10.0 < SHARD_STEPS_LIMIT, "{}: {:e}", largest.1.display(), largest.0);
    if let Some(month) = month {
        assert_eq!(month, 2_592_000.0 * 601.0);
        assert_eq!(largest.0, month);
    }
}

/// The rates of a trace fixture under tests/data/traces/, loaded as the experiment
/// loader does, with the run starting at the fixtures' first minute.
fn trace(name: &str, period: Option<u64>) -> (u64, u64, Vec<f64>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces").join(name);
    let start = kinesim::time::parse_rfc3339("2026-03-02T00:00:00Z");
    let period = period.map(kinesim_sim::SimDuration::from_secs);
    match kinesim::trace::load_trace(&path, period, start).unwrap_or_else(|e| panic!("{name}: {e}")) {
        RateShape::Trace { period, offset, rates } => {
            (period.as_nanos() / 1_000_000_000, offset.as_nanos() / 1_000_000_000, rates)
        }
        other => panic!("{name}: not a trace: {other:?}"),
    }
}

#[test]
fn cloudwatch_exports_are_read_as_documented() {
    // A byte order mark and CRLF line endings; offered = IncomingRecords + throttled.
    assert_eq!(trace("bom-crlf.csv", None), (60, 0, vec![1000.0, 2100.0, 1000.0]));
    // Missing minutes are minutes without datapoints: zero records.
    assert_eq!(trace("gaps.csv", None), (60, 0, vec![1000.0, 1000.0, 0.0, 0.0, 2000.0, 1000.0, 1000.0]));
    // Rows out of order are sorted; a minute repeated with the same count is read once.
    assert_eq!(trace("unordered.csv", None), (60, 0, vec![1000.0, 2000.0, 3000.0]));
    // Other columns are ignored; empty cells are periods without a datapoint.
    assert_eq!(trace("extra-columns.csv", None), (60, 0, vec![1000.0, 1050.0, 0.0, 1000.0]));
    // A given period longer than the rows' spacing is refused at the first row off it.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces/gaps.csv");
    let error = kinesim::trace::load_trace(&path, Some(kinesim_sim::SimDuration::from_secs(120)), Some(0)).unwrap_err();
    assert!(error.starts_with("line 3: time 2026-03-02T00:01:00Z is 60 s after line 2's"), "{error}");
}

#[test]
fn a_trace_with_gaps_offers_what_it_says() {
    let folder = common::scratch("trace-run");
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces");
    let text = format!(
        r#"
        duration = "8m"
        start = "2026-03-02T00:00:00Z"
        [stream]
        shards = 4
        [[producers]]
        name = "replay"
        rate = {{ kind = "trace", file = "{}" }}
        arrivals = "uniform"
        "#,
        traces.join("gaps.csv").display()
    );
    let file = write(&folder, "replay.toml", &text);
    let spec = kinesim::load(&file).unwrap();
    let mut recorder = kinesim_models::metrics::MemoryRecorder::default();
    let result = kinesim_models::simulate(&spec, &mut recorder);
    // Four minutes of 1000/s and one of 2000/s: 360,000 records; none in minutes 2, 3
    // and 7 (counted from 0), which have no datapoint.
    let offered = result.summary.offered_records as f64;
    assert!((offered - 360_000.0).abs() < 360.0, "offered {offered}");
    let per_minute: Vec<u64> = recorder.stream.iter().map(|row| row.offered_records).collect();
    assert_eq!(per_minute.len(), 8);
    for minute in [2, 3, 7] {
        assert_eq!(per_minute[minute], 0, "minute {minute} has no datapoint: {per_minute:?}");
    }
}
