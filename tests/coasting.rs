//! Coasting (`coast`, engine/coast.rs) against stepping every shard: the same
//! experiments, replicated over seeds, must agree on what was written, throttled and
//! read, on the worst iterator age and on the readers' latency quantiles; and coasting
//! must actually happen where it should and nowhere else.
//!
//! Agreement is tested as in `tests/agreement.rs`: the difference of the two means must
//! lie within the 99% confidence half-width of that difference (Welch); latency
//! quantiles, which are histogram buckets, may also differ by one bucket. Run with
//! `--nocapture` to see the table.

mod common;

use common::{half_width_99, mean_and_variance};

/// Seeds per mode and scenario.
const REPLICATIONS: u64 = 8;

const METRICS: [&str; 9] = [
    "accepted_records",
    "throttle_rate",
    "put_requests",
    "read_records",
    "get_records_calls",
    "iterator_age_ms_max",
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_ms_max",
];

/// One run's measures, in [`METRICS`] order, and the share of shard-steps that coasted.
fn run(text: &str, coast: &str, seed: u64) -> ([f64; 9], f64) {
    let (result, _) = common::run_toml(&format!("seed = {seed}\ncoast = \"{coast}\"\n{text}"));
    let summary = &result.summary;
    let consumers = &summary.consumers;
    let worst = |f: fn(&kinesim_models::ConsumerSummary) -> f64| consumers.iter().map(f).fold(0.0, f64::max);
    let measures = [
        summary.accepted_records as f64,
        summary.write_throttle_rate,
        summary.put_requests as f64,
        consumers.iter().map(|c| c.read_records as f64).sum(),
        consumers.iter().map(|c| c.get_records_calls as f64).sum(),
        worst(|c| c.iterator_age_ms_max),
        worst(|c| c.latency_ms_p50),
        worst(|c| c.latency_ms_p99),
        worst(|c| c.latency_ms_max),
    ];
    (measures, summary.coasted_shard_steps as f64 / summary.shard_steps as f64)
}

/// The latency histogram's bucket width relative to its values (16 log buckets per
/// octave): quantiles are bucket midpoints, so a quantile near a bucket's edge may land
/// on either side of it.
const LATENCY_BUCKET: f64 = 0.045;

/// Runs a scenario both ways; checks every metric, and that the share of shard-steps
/// coasting lies in `coasted`. `age_bias_ms`: the worst iterator age's stated bias.
fn check_scenario(name: &str, text: &str, coasted: std::ops::RangeInclusive<f64>, age_bias_ms: f64) {
    let seeds = 1..=REPLICATIONS;
    let stepped: Vec<_> = seeds.clone().map(|seed| run(text, "off", seed)).collect();
    let coasting: Vec<_> = seeds.map(|seed| run(text, "4m", seed)).collect();
    assert!(stepped.iter().all(|(_, share)| *share == 0.0), "{name}: coast = \"off\" never coasts");
    let share = coasting.iter().map(|(_, share)| share).sum::<f64>() / coasting.len() as f64;
    eprintln!("{name}: {:.1}% of shard-steps coasted", share * 100.0);
    assert!(coasted.contains(&share), "{name}: {share:.3} of shard-steps coasted, expected {coasted:?}");
    let mut failures = Vec::new();
    for (metric, metric_name) in METRICS.iter().enumerate() {
        let s: Vec<f64> = stepped.iter().map(|(m, _)| m[metric]).collect();
        let c: Vec<f64> = coasting.iter().map(|(m, _)| m[metric]).collect();
        let ((ms, _), (mc, _)) = (mean_and_variance(&s), mean_and_variance(&c));
        let half = half_width_99(&s, &c);
        let bias = match *metric_name {
            "latency_ms_p50" | "latency_ms_p99" | "latency_ms_max" => LATENCY_BUCKET * ms,
            "iterator_age_ms_max" => age_bias_ms,
            _ => 0.0,
        };
        let line = format!(
            "{name} {metric_name}: stepped {ms:.4} coasting {mc:.4} diff {:.4} 99% half-width {half:.4} bias {bias}",
            mc - ms
        );
        eprintln!("{line}");
        if (mc - ms).abs() > half + bias {
            failures.push(line);
        }
    }
    assert!(failures.is_empty(), "coasting and stepping disagree:\n{}", failures.join("\n"));
}

/// Eight shards at half their record limit, read by two pollers: nearly every
/// shard-step coasts.
#[test]
fn a_quiet_stream_coasts_and_reads_as_stepping_does() {
    let text = r#"
        duration = "4m"
        [stream]
        shards = 8
        [[producers]]
        name = "p"
        rate = 4000
        record_size = { kind = "lognormal", median = 700, sigma = 0.5 }
        keys = { kind = "random" }
        [[consumers]]
        name = "a"
        kind = "polling"
        [[consumers]]
        name = "b"
        kind = "polling"
        poll_interval = "1500ms"
    "#;
    // A window's block spreads its records evenly over the window where stepping spreads
    // each step's over the step: the worst age is shorter by a fraction of the records'
    // spacing (2 ms here; measured 0.20 ms).
    check_scenario("quiet", text, 0.9..=1.0, 0.5);
}

/// A Zipf hot key overloads one of four shards, whose rejected records retry: that
/// shard steps, the others coast, and throttling is the same.
#[test]
fn a_hot_shard_steps_while_the_others_coast() {
    let text = common::HOT_KEY;
    check_scenario("hot-key", text, 0.3..=0.8, 0.0);
}

/// The rate doubles past what two shards take and an alarm policy doubles the shards:
/// windows end at the step change (a draw over the allowance), at every policy minute
/// and at the reshard.
#[test]
fn a_step_change_ends_windows_and_throttles_as_stepping_does() {
    let text = common::STEP_CHANGE;
    check_scenario("step-change", text, 0.2..=0.95, 0.0);
}

/// What coasting needs is checked: a consumer that processes its records (here a
/// Lambda mapping), a KPL producer or a sub-second step keeps every shard stepping.
#[test]
fn set_ups_that_cannot_coast_step_every_shard() {
    let base = r#"
        duration = "2m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 500
        record_size = 512
        keys = { kind = "random" }
    "#;
    let cases = [
        ("a plain poller", format!("{base}[[consumers]]\nname = \"r\"\nkind = \"polling\"\n"), true),
        (
            "a Lambda mapping",
            format!("{base}[[consumers]]\nname = \"r\"\nkind = \"lambda\"\nfunction_duration = \"10ms\"\n"),
            false,
        ),
        ("a fan-out consumer", format!("{base}[[consumers]]\nname = \"r\"\nkind = \"efo\"\n"), false),
        ("a 100 ms step", format!("step = \"100ms\"\n{base}"), false),
        ("record mode", format!("fidelity = \"record\"\n{base}"), false),
    ];
    for (what, text, coasts) in cases {
        let (result, _) = common::run_toml(&text);
        assert_eq!(result.summary.coasted_shard_steps > 0, coasts, "{what}");
    }
}
