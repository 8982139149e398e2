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

/// The policy regression suite: six traffic scenarios crossed with five policies, each
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
    assert_eq!(files.len(), 30, "6 scenarios x 5 policies");
    let out = common::scratch("policy-suite");
    let output = common::kinesim().arg("check").arg("--out").arg(&out).args(&files).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches(" pass").count(), 30 * 4, "{stdout}");
    for policy in ["scaling_utils", "alarm_double_halve", "step", "scheduled", "target_tracking"] {
        assert_eq!(
            files
                .iter()
                .filter(|f| std::fs::read_to_string(f).unwrap().contains(&format!("kind = \"{policy}\"")))
                .count(),
            6
        );
    }
}

/// `experiments/autoscaler-flash-crowd.toml` with a target-tracking policy (75%, up to
/// 32 shards, 5-minute cooldowns) in place of its own, plus `settings` in `[policy]`.
fn flash_crowd_with_target_tracking(settings: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/autoscaler-flash-crowd.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let policy_at = text.find("\n[policy]").unwrap() + 1;
    let expect_at = text.find("\n[[expect]]").unwrap() + 1;
    format!(
        "{}[policy]\nkind = \"target_tracking\"\ntarget_pct = 75\nmax_shards = 32\ncooldown = \"5m\"\n{settings}\n{}",
        &text[..policy_at],
        &text[expect_at..]
    )
}

/// Target tracking on the flash crowd: three published minutes above 75% trigger a
/// proportional scale-out (ceil(N × utilisation / target)), so it catches up far sooner
/// than step scaling's one shard per cooldown; cooldowns are Application Auto Scaling's
/// (policies §1.3).
#[test]
fn target_tracking_scales_out_in_proportion() {
    let (_, rows) = common::run_toml(&flash_crowd_with_target_tracking(""));
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
    // During a scale-out's 5-minute cooldown the next scale-out goes ahead only because
    // it asks for more than the last one set (Application Auto Scaling counts the added
    // capacity as there): every 4 minutes, the 3 minutes above target it waits for.
    let outs: Vec<(f64, u32)> = resizes
        .iter()
        .filter(|e| e.detail.starts_with("scale out"))
        .map(|e| (e.time_s, e.detail.split(" -> ").nth(1).unwrap().split(':').next().unwrap().parse().unwrap()))
        .collect();
    assert!(outs.len() >= 3, "{outs:?}");
    assert!(outs.windows(2).all(|w| w[1].1 > w[0].1 && w[1].0 - w[0].0 >= 180.0), "{outs:?}");
    assert!(outs.windows(2).any(|w| w[1].0 - w[0].0 < 300.0), "within the cooldown: {outs:?}");
    // After the crowd it asks for ceil(14 × 14% / 75%) = 3 shards, less than half of 14:
    // UpdateShardCount refuses, and the refusal is logged each time it asks.
    assert!(rows.events.iter().any(|e| e.kind == "update_shard_count_rejected" && e.detail.contains("less than half")));
    let ten_shards_s = rows.stream.iter().find(|r| r.shards_open >= 10).expect("reaches 10 shards").time_s;
    assert!(ten_shards_s < 3600.0, "well before step scaling's 82 min: {ten_shards_s}");
}

/// Target tracking's alarm shapes are settings: with one datapoint above the target
/// instead of three, the flash crowd's scale-out comes two minutes sooner; with scale-in
/// needing 30 low minutes instead of 15, the first scale-in comes 15 minutes later; with
/// a lower `in_ratio`, half load no longer counts as low.
#[test]
fn target_tracking_alarm_shapes_are_settings() {
    let decisions = |shapes: &str| {
        let (_, rows) = common::run_toml(&flash_crowd_with_target_tracking(shapes));
        let resizes: Vec<(f64, String)> = rows
            .events
            .iter()
            .filter(|e| e.kind == "policy_decision" && !e.detail.starts_with("hold"))
            .map(|e| (e.time_s, e.detail.clone()))
            .collect();
        let first = |what: &str| resizes.iter().find(|(_, detail)| detail.starts_with(what)).unwrap().0;
        (first("scale in"), first("scale out"))
    };
    assert_eq!(decisions(""), (960.0, 2040.0), "the defaults: 15 low minutes, 3 high ones");
    assert_eq!(decisions("out_datapoints = 1\n"), (960.0, 1920.0));
    // The scale-in at 31 min does not hold the crowd's scale-out back: a scale-in's
    // cooldown only delays the next scale-in.
    assert_eq!(decisions("in_datapoints = 30\n"), (1860.0, 2040.0));
    // 50% before the crowd is not below 0.6 x 75% = 45%: the first scale-in comes after it.
    let (scale_in_s, _) = decisions("in_ratio = 0.6\n");
    assert!(scale_in_s > 2040.0, "{scale_in_s}");
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

fn external_experiment(folder: &Path, command: &str, timeout: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
        name = "external"
        duration = "40m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = {{ kind = "ramp", from = 500, to = 4000, start = "0s", end = "30m" }}
        keys = {{ kind = "uniform", count = 5000 }}
        [policy]
        kind = "external"
        command = {command}
        timeout = "{timeout}"
        "#
    );
    let path = folder.join("external.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The example program (src/bin/kinesim-autoscaler-example.rs) doubles the stream once
/// a published minute passes 80% of its capacity; each answer is a `policy_decision`
/// with the datapoint behind it, and the resize goes through UpdateShardCount.
#[test]
fn external_policy_program_resizes_the_stream_from_published_minutes() {
    let folder = common::scratch("external-example");
    let program = env!("CARGO_BIN_EXE_kinesim-autoscaler-example");
    let path = external_experiment(&folder, &format!("[\"{program}\"]"), "5s");
    let spec = kinesim::load(&path).unwrap();
    let mut rows = MemoryRecorder::default();
    let result = kinesim::run::run_with_policy_program(&spec, &mut rows).expect("the example answers");
    let decisions: Vec<_> = rows.events.iter().filter(|e| e.kind == "policy_decision").collect();
    // A minute is published 60 s after it ends: the first answer is at 120 s, then one a minute.
    assert_eq!(decisions[0].time_s, 120.0);
    assert_eq!(decisions.len(), 39 - 1);
    assert!(decisions[0].detail.contains("IncomingRecords"), "{}", decisions[0].detail);
    let resize = decisions.iter().find(|d| d.detail.starts_with("resize 2 -> 4")).expect("scales out");
    assert!(resize.detail.contains("> 80%"), "{}", resize.detail);
    assert!(rows.events.iter().any(|e| e.kind == "update_shard_count" && e.time_s == resize.time_s + 5.0));
    assert!(result.summary.shards_open_max >= 4);
}

/// A program that crashes, hangs or answers garbage stops the run with exit code 3 and
/// a one-line error naming the experiment file; no table of the partial run is published.
#[test]
fn external_policy_failures_exit_3_without_publishing_outputs() {
    let cases = [
        (r#"["sh", "-c", "read hello; exit 7"]"#, "5s", "exit"),
        (r#"["sh", "-c", "read hello; echo '{\"v\":1,\"type\":\"ready\"}'; exec sleep 30"]"#, "1s", "within 1 s"),
        (
            r#"["sh", "-c", "read hello; echo '{\"v\":1,\"type\":\"ready\"}'; read m; echo scale-up-please"]"#,
            "5s",
            "scale-up-please",
        ),
        (r#"["no-such-autoscaler-program"]"#, "5s", "could not be started"),
    ];
    for (index, (command, timeout, expected)) in cases.iter().enumerate() {
        let folder = common::scratch(&format!("external-fail-{index}"));
        let path = external_experiment(&folder, command, timeout);
        let out = folder.join("out");
        let started = std::time::Instant::now();
        let output = common::kinesim().arg("run").arg(&path).arg("--out").arg(&out).output().unwrap();
        assert!(started.elapsed().as_secs() < 20, "{command}: the hang is cut short");
        assert_eq!(output.status.code(), Some(3), "{command}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("external.toml") && stderr.contains(expected), "{command}: {stderr}");
        let left: Vec<_> =
            std::fs::read_dir(&out).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{command}: nothing published or left behind: {left:?}");
    }
}

/// Writes a scaling-utils configuration (the tool's JSON) and an experiment using it.
fn scaling_utils_experiment(name: &str, config: &str, policy_extra: &str) -> common::Scratch {
    let folder = common::scratch(name);
    std::fs::write(folder.join("autoscaling.json"), config).unwrap();
    let text = format!(
        r#"
        name = "{name}"
        duration = "2h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = {{ kind = "steps", steps = [["0s", 1000], ["20m", 3000]] }}
        keys = {{ kind = "uniform", count = 5000 }}
        [policy]
        kind = "scaling_utils"
        config = "autoscaling.json"
        {policy_extra}
        "#
    );
    let path = folder.into_path_of("experiment.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const SCALE_UP_ONLY: &str = r#"[{
    "streamName": "s", "scaleOnOperation": ["PUT"], "minShards": 1, "maxShards": 16,
    "refreshShardsNumberAfterMin": 30, "checkInterval": 300,
    "scaleUp": { "scaleThresholdPct": 75, "scaleAfterMins": 5, "scaleCount": 1, "coolOffMins": 10 },
    "scaleDown": { "scaleThresholdPct": 1, "scaleAfterMins": 15, "scaleCount": 1, "coolOffMins": 60 }
}]"#;

/// As the tool is implemented, UpdateShardCount returns no report, so utilisation is
/// still divided by the old shard count until `refreshShardsNumberAfterMin` passes; as
/// documented, the count is re-read at once (reference/scaling-policies.md §1.1).
#[test]
fn scaling_utils_divides_by_a_stale_shard_count_until_the_refresh() {
    let decisions = |extra: &str| {
        let path = scaling_utils_experiment(&format!("su-stale-{}", extra.len()), SCALE_UP_ONLY, extra);
        let (_, rows) = {
            let spec = kinesim::load(&path).unwrap();
            let mut rows = MemoryRecorder::default();
            let result = kinesim_models::simulate(&spec, &mut rows);
            (result, rows)
        };
        rows.events.into_iter().filter(|e| e.kind == "policy_decision").collect::<Vec<_>>()
    };
    let implemented = decisions("");
    // Checks every 300 s; 3,000 records/s on 2 shards from 20 min: up by one at 30 min.
    let first_up = implemented.iter().position(|d| d.detail.contains("scale up 2 -> 3")).expect("scales up");
    assert_eq!(implemented[first_up].time_s, 1800.0);
    // The next cycle starts 300 s after the resize completed, still against 2 shards:
    // 3,000 records/s over 2 shards is 150% and it votes UP again (held by the cool-off).
    let next = &implemented[first_up + 1];
    assert_eq!(next.time_s, 1805.0 + 300.0);
    assert!(next.detail.contains("against 2 shards"), "{}", next.detail);
    assert!(next.detail.contains("votes UP"), "{}", next.detail);
    let documented = decisions("fidelity = \"as_documented\"");
    let next = &documented[first_up + 1];
    assert!(next.detail.contains("against 3 shards"), "{}", next.detail);
}

/// When UpdateShardCount refuses the target (here more than double), the tool splits
/// and merges one shard at a time, waiting for each, to the target's even layout.
#[test]
fn scaling_utils_falls_back_to_split_and_merge_when_update_shard_count_refuses() {
    let config = r#"[{
        "streamName": "s", "scaleOnOperation": ["PUT"], "minShards": 1, "maxShards": 16,
        "checkInterval": 300,
        "scaleUp": { "scaleThresholdPct": 75, "scaleAfterMins": 5, "scalePct": 300, "coolOffMins": 60 },
        "scaleDown": { "scaleThresholdPct": 1, "scaleAfterMins": 15, "scaleCount": 1, "coolOffMins": 60 }
    }]"#;
    let path = scaling_utils_experiment("su-manual", config, "");
    let spec = kinesim::load(&path).unwrap();
    let mut rows = MemoryRecorder::default();
    let result = kinesim_models::simulate(&spec, &mut rows);
    let rejected = rows.events.iter().find(|e| e.kind == "update_shard_count_rejected").expect("2 -> 6 is refused");
    assert!(rejected.detail.contains("more than double"), "{}", rejected.detail);
    let manual: Vec<_> = rows
        .events
        .iter()
        .filter(|e| e.time_s > rejected.time_s && (e.kind == "split_shard" || e.kind == "merge_shards"))
        .collect();
    assert!(manual.len() >= 4, "{manual:?}");
    // One at a time: each waits for the previous one (the 5 s reshard duration).
    assert!(manual.windows(2).all(|w| w[1].time_s - w[0].time_s >= 5.0));
    assert!(rows.stream.iter().any(|r| r.shards_open == 6));
    assert_eq!(result.summary.shards_open_max, 6);
}

/// The per-API CloudWatch series a policy sees add up to the stream's: PutRecord and
/// PutRecords producers each feed their own series, and only GetRecords readers (not
/// enhanced fan-out) feed `GetRecords.*`. Read from what an external program is sent.
#[test]
fn policies_see_per_api_series_that_add_up_to_the_stream_metrics() {
    let folder = common::scratch("per-api-series");
    let script = r#"read hello; echo '{"v":1,"type":"ready"}'
while read line; do
  case "$line" in *'"type":"end"'*) exit 0;; esac
  echo "$line" >> metrics.jsonl; echo '{"v":1}'
done"#;
    std::fs::write(folder.join("record.sh"), script).unwrap();
    let text = r#"
        duration = "6m"
        [stream]
        shards = 4
        [[producers]]
        name = "single"
        rate = 300
        api = "put_record"
        [[producers]]
        name = "batched"
        rate = 900
        api = { kind = "put_records", max_records = 100, linger = "50ms" }
        [[consumers]]
        name = "poller"
        kind = "polling"
        [[consumers]]
        name = "fan-out"
        kind = "efo"
        [policy]
        kind = "external"
        command = ["sh", "record.sh"]
        "#;
    std::fs::write(folder.join("experiment.toml"), text).unwrap();
    let spec = kinesim::load(&folder.join("experiment.toml")).unwrap();
    let mut rows = MemoryRecorder::default();
    kinesim::run::run_with_policy_program(&spec, &mut rows).expect("the script answers");
    let lines = std::fs::read_to_string(folder.join("metrics.jsonl")).unwrap();
    let mut minutes = 0;
    for line in lines.lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap();
        for point in message["datapoints"].as_array().unwrap() {
            let get = |name: &str| point[name].as_u64().unwrap_or_else(|| panic!("{name} in {point}"));
            assert_eq!(get("PutRecord.Bytes") + get("PutRecords.Bytes"), get("IncomingBytes"));
            assert_eq!(get("PutRecord.Success") + get("PutRecords.Records"), get("IncomingRecords"));
            let put_record_share = get("PutRecord.Success") as f64 / get("IncomingRecords") as f64;
            assert!((put_record_share - 0.25).abs() < 0.03, "{put_record_share}");
            // The poller reads everything once; the fan-out consumer is not GetRecords.
            let read = get("GetRecords.Records") as f64 / get("IncomingRecords") as f64;
            assert!((0.9..1.1).contains(&read), "{read}");
            minutes += 1;
        }
    }
    assert_eq!(minutes, 4, "minutes ending at 1..4 min are published by 5 min");
}
