//! `kinesim check`: SLO table, exit codes and the JUnit report.

mod common;

fn check(args: &[&str]) -> (i32, String, String) {
    let out = common::scratch(&format!("check-{}", args.len()));
    let output = common::kinesim().arg("check").arg("--out").arg(&out).args(args).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn passing_objectives_exit_zero() {
    let (code, stdout, _) = check(&["experiments/quickstart.toml"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.matches(" pass").count(), 3, "{stdout}");
}

#[test]
fn a_failed_objective_exits_one_and_shows_in_junit() {
    let junit = common::scratch("check-junit").join("report.xml");
    let (code, stdout, _) =
        check(&["experiments/quickstart.toml", "experiments/hot-key.toml", "--junit", junit.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"quickstart\" tests=\"3\" failures=\"0\">"), "{xml}");
    assert!(xml.contains("<testsuite name=\"hot-key\" tests=\"1\" failures=\"1\">"), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}

#[test]
fn invalid_input_exits_two_even_next_to_a_failure() {
    let (code, _, stderr) = check(&["experiments/hot-key.toml", "tests/data/malformed/stream-shards-zero.toml"]);
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
