//! `kinesim check`: SLO table, exit codes and the JUnit report.

mod common;

/// Runs `kinesim check` with its outputs in a scratch folder of the test's own `name`
/// (tests run in parallel: a shared folder would be removed under another's feet).
fn check(name: &str, args: &[&str]) -> (i32, String, String) {
    let out = common::scratch(&format!("check-{name}"));
    let output = common::kinesim().arg("check").arg("--out").arg(&out).args(args).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn passing_objectives_exit_zero() {
    let (code, stdout, _) = check("passing", &["experiments/quickstart.toml"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.matches(" pass").count(), 3, "{stdout}");
}

#[test]
fn a_failed_objective_exits_one_and_shows_in_junit() {
    let junit_folder = common::scratch("check-junit");
    let junit = junit_folder.join("report.xml");
    let (code, stdout, _) = check(
        "failed",
        &["experiments/quickstart.toml", "experiments/hot-key.toml", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"quickstart\" tests=\"3\" failures=\"0\">"), "{xml}");
    assert!(xml.contains("<testsuite name=\"hot-key\" tests=\"1\" failures=\"1\">"), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}

#[test]
fn invalid_input_exits_two_even_next_to_a_failure() {
    let (code, _, stderr) =
        check("invalid", &["experiments/hot-key.toml", "tests/data/malformed/stream-shards-zero.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("stream.shards"));
}

/// "Iterator age under a bound in a fraction of periods": per consumers.csv period, the
/// consumer's worst shard.
#[test]
fn objectives_over_a_fraction_of_periods() {
    // Evaluated through the library, as `run` does.
    let evaluate = |bound_ms: u32| {
        let text = format!(
            "duration = \"20m\"\n[stream]\nshards = 2\n[[producers]]\nname = \"p\"\nrate = 500\n[[consumers]]\nname = \"c\"\nkind = \"polling\"\n[[expect]]\nmetric = \"iterator_age_ms_max\"\nconsumer = \"c\"\nmax = {bound_ms}\nfraction = 0.99\n"
        );
        let spec = kinesim::parse(std::path::Path::new("fraction.toml"), &text).unwrap();
        let mut rows = kinesim_models::metrics::MemoryRecorder::default();
        let mut recorder = kinesim_models::slo::PeriodRecorder::new(&mut rows, &spec.expectations);
        let result = kinesim_models::simulate(&spec, &mut recorder);
        let periods = recorder.finish();
        assert_eq!(periods.values[0].len(), 20, "one value per minute");
        kinesim_models::slo::evaluate(&spec.expectations, &result.summary, &periods).remove(0)
    };
    let pass = evaluate(1000);
    assert!(pass.passed && pass.value == 1.0, "{pass:?}");
    let fail = evaluate(10);
    assert!(!fail.passed && fail.value < 0.5, "{fail:?}");
}

/// With KPL aggregation a period's `write_throttle_rate` counts Kinesis records on both
/// sides, as the whole run's counts user records on both: a shard taking 20,000 small
/// records a second throttles about a third either way. (The period's rate divided
/// throttled aggregates by attempted user records: 0.0009, and the objective passed.)
#[test]
fn a_periods_write_throttle_rate_does_not_mix_aggregates_and_user_records() {
    let text = "duration = \"10m\"\n[stream]\nshards = 1\n[[producers]]\nname = \"p\"\nrate = 20000\narrivals = \"uniform\"\nrecord_size = 100\nkeys = { kind = \"uniform\", count = 1000 }\napi = { kind = \"kpl\" }\n[[expect]]\nmetric = \"write_throttle_rate\"\nmax = 0.01\n[[expect]]\nmetric = \"write_throttle_rate\"\nmax = 0.01\nfraction = 1.0\n";
    let spec = kinesim::parse(std::path::Path::new("kpl.toml"), text).unwrap();
    let mut rows = kinesim_models::metrics::MemoryRecorder::default();
    let mut recorder = kinesim_models::slo::PeriodRecorder::new(&mut rows, &spec.expectations);
    let result = kinesim_models::simulate(&spec, &mut recorder);
    let periods = recorder.finish();
    let slos = kinesim_models::slo::evaluate(&spec.expectations, &result.summary, &periods);
    let whole_run = result.summary.write_throttle_rate;
    assert!((0.3..0.4).contains(&whole_run), "{whole_run}");
    assert!(!slos[0].passed && !slos[1].passed, "{slos:?}");
    for (row, rate) in rows.stream.iter().zip(&periods.values[1]) {
        if row.time_s >= 60.0 {
            assert!((rate - whole_run).abs() < 0.05, "{rate} at {} s against {whole_run} over the run", row.time_s);
        }
    }
}

/// `--baseline DIR` compares every summary metric with a saved `check --out DIR` run:
/// the same experiment passes, a changed one flags what moved (exit 1), and a missing
/// baseline is invalid input (exit 2).
#[test]
fn baselines_flag_metrics_that_moved() {
    let saved = common::scratch("check-baseline-saved");
    let run = |args: &[&str]| {
        let out = common::scratch("check-baseline-run");
        let output = common::kinesim().arg("check").arg("--out").arg(&out).args(args).output().unwrap();
        let text = String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
        (output.status.code().unwrap(), text)
    };
    let saved_arg = saved.to_str().unwrap();
    let save = common::kinesim().args(["check", "--out", saved_arg, "experiments/quickstart.toml"]).output().unwrap();
    assert_eq!(save.status.code(), Some(0));

    let (code, text) = run(&["experiments/quickstart.toml", "--baseline", saved_arg]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("MOVED"), "{text}");

    // The same experiment with 10% more traffic: the volumes move, the tolerance decides.
    let busier_folder = common::scratch("check-baseline-busier");
    let busier = busier_folder.join("quickstart.toml");
    let original = std::fs::read_to_string("experiments/quickstart.toml").unwrap();
    std::fs::write(&busier, original.replacen("rate = 2000", "rate = 2200", 1)).unwrap();
    let junit = busier_folder.join("report.xml");
    let junit_arg = junit.to_str().unwrap();
    let (code, text) =
        run(&[busier.to_str().unwrap(), "--baseline", saved_arg, "--tolerance", "0.05", "--junit", junit_arg]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("offered_records") && text.contains("MOVED"), "{text}");
    // The JUnit report fails too, one case per moved metric: a dashboard is not green.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase name=\"baseline\"") && xml.contains("offered_records moved"), "{xml}");
    assert!(!xml.contains("failures=\"0\""), "{xml}");
    // A run written over the baseline it is compared with is refused.
    let over =
        common::kinesim().args(["check", "--out", saved_arg, "--baseline", saved_arg]).arg(&busier).output().unwrap();
    assert_eq!(over.status.code(), Some(2), "{}", String::from_utf8_lossy(&over.stderr));
    assert!(String::from_utf8_lossy(&over.stderr).contains("same folder"));
    let (code, text) = run(&[busier.to_str().unwrap(), "--baseline", saved_arg, "--tolerance", "0.5"]);
    assert_eq!(code, 0, "{text}");

    let (code, text) = run(&["experiments/hot-key.toml", "--baseline", saved_arg]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("hot-key") && text.contains("summary.json") && text.contains("no baseline"), "{text}");
    let (code, text) = run(&["experiments/quickstart.toml", "--baseline", saved_arg, "--tolerance=-1"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("non-negative"), "{text}");
}

/// `check | head -1`: the reader goes away after the header, and the check still runs
/// every experiment, writes its JUnit report and exits with its verdict (1: hot-key
/// fails its objective), not 0.
#[test]
fn a_closed_output_pipe_keeps_the_verdict() {
    use std::io::Read as _;
    let folder = common::scratch("check-closed-pipe");
    let junit = folder.join("report.xml");
    let mut child = common::kinesim()
        .args(["check", "experiments/hot-key.toml", "experiments/quickstart.toml", "--junit"])
        .arg(&junit)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("hot-key") && xml.contains("quickstart"), "{xml}");
}

/// A run that cannot complete (here its external policy program crashes) exits 3, which
/// outranks a failed objective (1) in the same check; the JUnit report still lists the
/// runs that completed.
#[test]
fn a_run_that_cannot_complete_exits_three() {
    let folder = common::scratch("check-exit-3");
    let experiment = folder.join("crashing-policy.toml");
    let text = "duration = \"10m\"\n[stream]\nshards = 2\n[[producers]]\nname = \"p\"\nrate = 100\n[policy]\nkind = \"external\"\ncommand = [\"sh\", \"-c\", \"read hello; exit 1\"]\n";
    std::fs::write(&experiment, text).unwrap();
    let junit = folder.join("report.xml");
    let (code, _, stderr) = check(
        "cannot-complete",
        &["experiments/hot-key.toml", experiment.to_str().unwrap(), "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("crashing-policy.toml") && stderr.contains("exited with status 1"), "{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"hot-key\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"crashing-policy\" tests=\"1\" failures=\"0\" errors=\"1\">"), "{xml}");
    assert!(xml.contains("<error message=\""), "{xml}");
}
