//! Analytic results the simulator must reproduce.

mod common;

use statrs::distribution::{Discrete, Poisson};

/// E[(N - c)+] and Var[(N - c)+] for N ~ Poisson(lambda), by summing the pmf (statrs).
fn excess_moments(lambda: f64, c: u64) -> (f64, f64) {
    let poisson = Poisson::new(lambda).unwrap();
    let upper = (lambda + 20.0 * lambda.sqrt() + 50.0) as u64;
    let (mut m1, mut m2) = (0.0, 0.0);
    for n in c + 1..=upper {
        let excess = (n - c) as f64;
        let p = poisson.pmf(n);
        m1 += excess * p;
        m2 += excess * excess * p;
    }
    (m1, m2 - m1 * m1)
}

/// One shard, Poisson traffic of 1 KiB records, no retries: the throttled fraction of
/// attempts is E[(N-1000)+]/lambda with N ~ Poisson(lambda) per one-second window.
/// Tolerance: 4 standard errors of the mean over the simulated seconds (the per-second
/// excesses are independent), plus 2% of the expectation for the byte-limit rounding.
#[test]
fn poisson_throttling_matches_the_excess_formula() {
    let seconds = 6 * 3600;
    for lambda in [900.0, 1000.0, 1100.0] {
        let text = format!(
            r#"
            seed = 2024
            duration = "6h"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = {lambda}
            record_size = 1024
            keys = {{ kind = "uniform", count = 1 }}
            retry = "none"
            "#
        );
        let (result, _) = common::run_toml(&text);
        let summary = &result.summary;
        let (excess_mean, excess_var) = excess_moments(lambda, 1000);
        let expected_rate = excess_mean / lambda;
        let expected_throttled = excess_mean * seconds as f64;
        let tolerance = 4.0 * (excess_var * seconds as f64).sqrt() + 0.02 * expected_throttled;
        let throttled = summary.write_throttled_records as f64;
        assert!(
            (throttled - expected_throttled).abs() <= tolerance,
            "lambda {lambda}: throttled {throttled}, expected {expected_throttled:.1} +- {tolerance:.1} (rate {:.6} vs {expected_rate:.6})",
            summary.write_throttle_rate
        );
        // Offered counts are Poisson too: the total is within 5 standard deviations.
        let offered_expected = lambda * seconds as f64;
        assert!((summary.offered_records as f64 - offered_expected).abs() < 5.0 * offered_expected.sqrt());
        assert_eq!(summary.dropped_records, summary.write_throttled_records, "no retries: every rejection is a drop");
    }
}

/// The byte limit binds before the record limit for large records: 700 records/s of
/// 2 KiB offer 1.37 MiB/s against 1 MiB/s, so about 512 records/s get in.
#[test]
fn byte_limit_binds_for_large_records() {
    let (result, _) = common::run_toml(
        r#"
        duration = "10m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 700
        arrivals = "uniform"
        record_size = 2043
        keys = { kind = "uniform", count = 1 }
        "#,
    );
    // "key-0" adds 5 bytes: 2048 bytes a record, exactly 512 per MiB.
    let accepted_per_s = result.summary.accepted_records as f64 / 600.0;
    assert!((accepted_per_s - 512.0).abs() < 1.0, "{accepted_per_s}");
}

/// A polling consumer that keeps up reads everything accepted except the last
/// moments, and its iterator age stays within one poll interval plus the step and the
/// propagation delay.
#[test]
fn caught_up_poller_reads_everything() {
    let (result, _) = common::run_toml(
        r#"
        duration = "10m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 500
        keys = { kind = "uniform", count = 100 }
        [[consumers]]
        name = "c"
        kind = "polling"
        start = "trim_horizon"
        "#,
    );
    let consumer = &result.summary.consumers[0];
    assert_eq!(consumer.expired_unread_records, 0);
    assert_eq!(consumer.read_throttled_calls, 0);
    assert!(consumer.unread_records_end < 2000, "{}", consumer.unread_records_end);
    assert!(consumer.iterator_age_ms_max <= 1000.0 + 1000.0 + 50.0 + 20.0, "{}", consumer.iterator_age_ms_max);
}

/// Bursty arrivals draw their rate multiplier per `period`, not per step, so the
/// throttling they cause does not depend on the step.
#[test]
fn bursty_throttling_does_not_depend_on_the_step() {
    let run = |step: &str| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 77
            duration = "2h"
            step = "{step}"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = 700
            arrivals = {{ kind = "bursty", cv = 0.5, period = "1s" }}
            record_size = 100
            keys = {{ kind = "uniform", count = 1 }}
            "#
        ));
        result.summary.write_throttle_rate
    };
    let (coarse, fine) = (run("1s"), run("100ms"));
    assert!(coarse > 0.02, "cv 0.5 at 70% of the limit throttles: {coarse}");
    assert!((coarse - fine).abs() < 0.15 * coarse, "step 1s: {coarse}, step 100ms: {fine}");
}
