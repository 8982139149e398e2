//! Scaling policies in runs: what they see, when they decide, what they do.

mod common;

use kinesim_models::metrics::MemoryRecorder;
use std::path::Path;

fn run_example(name: &str) -> MemoryRecorder {
    common::run_example(name).1
}

/// autoscaler-diurnal.toml: the double/halve alarms evaluate every 5 minutes once a
/// whole period is published, and each resize follows from the published datapoints
/// alone: recomputed here from stream.csv's 5-minute IncomingRecords, the scale-up
/// comes at the first evaluation whose last five periods are all at or above 75% of the
/// record capacity, and not before.
#[test]
fn alarm_double_halve_decides_from_published_periods() {
    let rows = run_example("autoscaler-diurnal");
    let decisions: Vec<_> = rows.events.iter().filter(|e| e.kind == "policy_decision").collect();
    // Minute m (ending at 60 m s) is visible a minute later; a whole period every 5.
    assert_eq!(decisions[0].time_s, 360.0);
    assert!(decisions.windows(2).all(|w| w[1].time_s - w[0].time_s == 300.0));
    assert_eq!(decisions.len(), (36 * 60 - 1) / 5);

    let ups: Vec<_> = decisions.iter().filter(|d| d.detail.starts_with("scale up")).collect();
    assert!(ups[0].detail.starts_with("scale up 2 -> 4"), "{}", ups[0].detail);
    // Utilisation of each 5-minute period on 2 shards, from the output rows.
    let utilisation: Vec<f64> =
        rows.stream.iter().map(|r| r.incoming_records as f64 / (1000.0 * 300.0 * 2.0)).collect();
    let fires_at = |decision_s: f64| {
        let published = ((decision_s - 60.0) / 300.0) as usize; // whole periods visible
        published >= 5 && utilisation[published - 5..published].iter().all(|&u| u >= 0.75)
    };
    let first_up_s = ups[0].time_s;
    assert!(fires_at(first_up_s), "the rule holds at the scale-up");
    assert!(
        decisions.iter().filter(|d| d.time_s < first_up_s).all(|d| !fires_at(d.time_s)),
        "and at no earlier evaluation"
    );
    // The resize takes the stream's reshard duration (5 s) and is then in force.
    let resized = rows.events.iter().find(|e| e.kind == "update_shard_count").unwrap();
    assert_eq!(resized.time_s, first_up_s + 5.0);
    assert!(rows.stream.iter().any(|r| r.shards_open == 8));
    // The slow scale-down: back to 4 shards only after ~5 h of periods below 25% of 8.
    let down = decisions.iter().find(|d| d.detail.starts_with("scale down 8 -> 4")).expect("halves at night");
    assert!(down.detail.contains("of last 60 < 0.25"), "{}", down.detail);
    assert!(down.time_s > 24.0 * 3600.0, "not before the next night: {}", down.time_s);
}

/// A resize the stream refuses (UPDATING with a split in progress) is logged as
/// rejected with the reason, next to the decision and the values behind it.
#[test]
fn policy_resizes_respect_the_reshard_in_progress() {
    let text = r#"
        duration = "30m"
        [stream]
        shards = 1
        reshard_duration = "20m"
        [[producers]]
        name = "p"
        rate = 1000
        record_size = 100
        keys = { kind = "random" }
        [[actions]]
        at = "2m"
        kind = "split_shard"
        shard = "shardId-000000000000"
        [policy]
        kind = "alarm_double_halve"
        period = "1m"
        publish_delay = "0s"
        "#;
    let (_, rows) = common::run_toml(text);
    let kinds: Vec<(f64, &str)> = rows
        .events
        .iter()
        .filter(|e| e.kind != "policy_decision" && !e.kind.starts_with("run_"))
        .map(|e| (e.time_s, e.kind.as_str()))
        .collect();
    // Five 1-minute periods at the record limit: the alarm fires at 5 min, while the
    // split called at 2 min keeps the stream UPDATING until 22 min.
    assert_eq!(
        kinds[..3],
        [(120.0, "reshard_started"), (300.0, "update_shard_count_rejected"), (360.0, "update_shard_count_rejected")]
    );
    let decision = rows.events.iter().find(|e| e.kind == "policy_decision" && e.time_s == 300.0).unwrap();
    assert!(
        decision.detail.starts_with("scale up 1 -> 2") && decision.detail.contains("5 of last 5"),
        "{}",
        decision.detail
    );
    let refused = rows.events.iter().find(|e| e.kind == "update_shard_count_rejected").unwrap();
    assert!(refused.detail.contains("UPDATING until 1320 s"), "{}", refused.detail);
    // The split completes at 22 min; the alarm, which divides by the open shards, then
    // sees 2 shards at half load and stops asking.
    assert!(kinds.contains(&(1320.0, "split_shard")), "{kinds:?}");
    let after: Vec<_> = rows.events.iter().filter(|e| e.kind == "policy_decision" && e.time_s > 1320.0).collect();
    assert!(after.iter().all(|e| e.detail.starts_with("hold at 2")), "{after:?}");
}

/// autoscaler-flash-crowd.toml: step scaling adds one shard per cooldown, starting at
/// the first published minute above 80% of capacity, and never scales in at a load
/// above a fifth of capacity.
#[test]
fn step_scaling_adds_one_shard_per_cooldown() {
    let rows = run_example("autoscaler-flash-crowd");
    let resizes: Vec<_> = rows.events.iter().filter(|e| e.kind == "reshard_started").map(|e| e.time_s).collect();
    // The crowd starts at 30 min; its first full minute (30-31) is published at 32 min.
    assert_eq!(resizes[0], 1920.0);
    assert!(resizes.windows(2).all(|w| w[1] - w[0] == 600.0), "one per 10-minute cooldown: {resizes:?}");
    assert_eq!(resizes.len(), 6, "4 -> 10 shards: {resizes:?}");
    let last = rows.stream.last().unwrap();
    assert_eq!(last.shards_open, 10, "no scale-in at 2,000 records/s on 10 shards");
    let decisions = rows.events.iter().filter(|e| e.kind == "policy_decision");
    assert!(decisions.filter(|e| e.detail.contains("cooling down")).count() >= 40);
    let throttled_late: u64 =
        rows.stream.iter().filter(|r| r.time_s >= 5400.0).map(|r| r.write_throttled_records).sum();
    assert_eq!(throttled_late, 0, "after the crowd, 10 shards have room");
}

/// A scheduled policy asks for each listed count at its time (checked every minute),
/// and AWS's rules still apply: a step to less than half is refused and logged.
#[test]
fn scheduled_counts_are_asked_for_within_aws_rules() {
    let text = r#"
        duration = "40m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 100
        [policy]
        kind = "scheduled"
        schedule = [["0s", 2], ["10m", 4], ["20m", 8], ["30m", 2]]
        "#;
    let (result, rows) = common::run_toml(text);
    let started: Vec<f64> = rows.events.iter().filter(|e| e.kind == "reshard_started").map(|e| e.time_s).collect();
    assert_eq!(started, [600.0, 1200.0]);
    let refused: Vec<_> = rows.events.iter().filter(|e| e.kind == "update_shard_count_rejected").collect();
    assert_eq!(refused.len(), 10, "asked again every minute from 30 min: {refused:?}");
    assert!(refused[0].detail.contains("less than half"), "{}", refused[0].detail);
    assert_eq!(rows.stream.last().unwrap().shards_open, 8);
    assert_eq!(result.summary.shards_open_max, 8);
}

/// The policy regression suite: six traffic scenarios crossed with four policies, each
/// with SLOs, checked as CI would (`kinesim check experiments/policies/*.toml`).
#[test]
fn policy_regression_suite_passes_its_slos() {
    let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/policies"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 24, "6 scenarios x 4 policies");
    let out = common::scratch("policy-suite");
    let output = common::kinesim().arg("check").arg("--out").arg(&out).args(&files).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches(" pass").count(), 24 * 4, "{stdout}");
    for policy in ["alarm_double_halve", "step", "scheduled", "target_tracking"] {
        assert_eq!(
            files
                .iter()
                .filter(|f| std::fs::read_to_string(f).unwrap().contains(&format!("kind = \"{policy}\"")))
                .count(),
            6
        );
    }
}

/// Target tracking on the flash crowd: three published minutes above 75% trigger a
/// proportional scale-out (ceil(N × utilisation / target)), so it catches up far sooner
/// than step scaling's one shard per cooldown.
#[test]
fn target_tracking_scales_out_in_proportion() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/autoscaler-flash-crowd.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let policy_at = text.find("\n[policy]").unwrap() + 1;
    let expect_at = text.find("\n[[expect]]").unwrap() + 1;
    let text = format!(
        "{}[policy]\nkind = \"target_tracking\"\ntarget_pct = 75\nmax_shards = 32\ncooldown = \"5m\"\n\n{}",
        &text[..policy_at],
        &text[expect_at..]
    );
    let (_, rows) = common::run_toml(&text);
    let resizes: Vec<_> =
        rows.events.iter().filter(|e| e.kind == "policy_decision" && !e.detail.starts_with("hold")).collect();
    // Before the crowd, 2,000 records/s is 50% of 4 shards: below 0.9 × 75% for 15
    // minutes, so it scales in to ceil(4 × 50 / 75) = 3 (at 16 min, once 15 are published).
    assert_eq!(resizes[0].time_s, 960.0);
    assert!(resizes[0].detail.starts_with("scale in 4 -> 3"), "{}", resizes[0].detail);
    // The crowd's minutes 30, 31 and 32 are published by 34 min; accepted traffic is capped
    // at the 3 shards' limit, so utilisation reads 100%: ceil(3 × 100 / 75) = 4.
    let out = resizes.iter().find(|e| e.detail.starts_with("scale out")).unwrap();
    assert_eq!(out.time_s, 2040.0, "{}", out.detail);
    assert!(out.detail.starts_with("scale out 3 -> 4"), "{}", out.detail);
    let accepted: Vec<f64> = rows.events.iter().filter(|e| e.kind == "reshard_started").map(|e| e.time_s).collect();
    assert!(accepted.windows(2).all(|w| w[1] - w[0] >= 300.0), "cooldowns hold: {accepted:?}");
    // After the crowd it asks for ceil(14 × 14% / 75%) = 3 shards, less than half of 14:
    // UpdateShardCount refuses, and the refusal is logged each time it asks.
    assert!(rows.events.iter().any(|e| e.kind == "update_shard_count_rejected" && e.detail.contains("less than half")));
    let ten_shards_s = rows.stream.iter().find(|r| r.shards_open >= 10).expect("reaches 10 shards").time_s;
    assert!(ten_shards_s < 3600.0, "well before step scaling's 82 min: {ten_shards_s}");
}

/// The double/halve scale-down alarm's iterator-age term (Terraform's 30 minutes): a
/// consumer lagging half an hour keeps a quiet stream from halving; without the veto,
/// or without the lag, it halves after 57 of 60 quiet periods.
#[test]
fn alarm_double_halve_iterator_age_veto_blocks_scale_down_while_a_consumer_lags() {
    let text = |veto: &str, processing: u64| {
        format!(
            r#"
            duration = "6h"
            [output]
            shards = "off"
            consumers = "off"
            [stream]
            shards = 4
            [[producers]]
            name = "p"
            rate = 200
            keys = {{ kind = "uniform", count = 1000 }}
            [[consumers]]
            name = "slow"
            kind = "polling"
            start = "trim_horizon"
            processing = {{ records_per_second = {processing} }}
            [policy]
            kind = "alarm_double_halve"
            {veto}
            "#
        )
    };
    let halved = |text: &str| {
        let (_, rows) = common::run_toml(text);
        rows.events.iter().any(|e| e.kind == "policy_decision" && e.detail.starts_with("scale down 4 -> 2"))
    };
    let veto = "scale_down_min_iter_age = \"30m\"";
    // 200 records/s into 4 shards read at 40 records/s per shard (160 in all): the lag
    // grows by 12 s every minute, past 30 minutes after 2.5 h.
    assert!(!halved(&text(veto, 40)), "the lagging consumer vetoes");
    assert!(halved(&text("", 40)), "without the veto the stream halves anyway");
    assert!(halved(&text(veto, 1000)), "a consumer that keeps up does not veto");
}
