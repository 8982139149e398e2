//! The hot-shard view and the fixes for hot keys.

mod common;

use kinesim_models::keys::{split_hash_key, KeySpace};
use kinesim_models::metrics::NullRecorder;
use kinesim_models::routing::HashRange;
use kinesim_models::simulate;
use std::path::Path;

fn run_file(name: &str) -> (kinesim_models::spec::ExperimentSpec, kinesim_models::RunResult) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join(name);
    let spec = kinesim::load(&path).unwrap();
    let result = simulate(&spec, &mut NullRecorder);
    (spec, result)
}

/// Shares of `keys`' traffic below and at-or-above `split` inside `range`.
fn sides(keys: &KeySpace, range: HashRange, split: u128) -> (f64, f64) {
    let halves = [HashRange { start: range.start, end: split - 1 }, HashRange { start: split, end: range.end }];
    let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
    keys.project(&halves, &mut shares, &mut key_bytes);
    (shares[0], shares[1])
}

/// hot-key.toml: `hot_keys.csv` names tenant-1 as the heaviest key of the shard that
/// throttles, and the split hash key it reports is the most even split of that shard
/// that any SplitShard can make. tenant-1 alone carries two thirds of the shard, so no
/// split can halve it: the best one isolates the hot key, which is what the view says.
#[test]
fn hot_key_view_names_the_key_and_the_best_split() {
    let (spec, result) = run_file("hot-key.toml");
    let throttling: Vec<_> = result.hot_keys.iter().filter(|row| row.split_hash_key.is_some()).collect();
    assert!(!throttling.is_empty(), "a shard throttles");
    let top = throttling.iter().find(|row| row.rank == 1).unwrap();
    assert_eq!(top.partition_key, "tenant-1");
    assert!(top.share_of_shard > 0.5, "tenant-1 dominates its shard");
    let range = kinesim_models::routing::initial_ranges(spec.stream.shards)[top.shard_id.0 as usize];
    let keys = KeySpace::build(&spec.producers[0].keys);
    let split = top.split_hash_key.unwrap();
    let (low, high) = sides(&keys, range, split);
    let reported_larger = low.max(high);
    // Every other boundary between the shard's keys is at least as uneven.
    let mut points = Vec::new();
    keys.weighted_points(range, &mut points);
    for pair in points.windows(2) {
        let (a, b) = sides(&keys, range, pair[1].0);
        assert!(a.max(b) >= reported_larger - 1e-12, "boundary {} splits better", pair[1].0);
    }
    // The side with tenant-1 holds little besides it.
    let hot_side = if top.hash_key < split { low } else { high };
    let hot_key_share_of_producer = top.share_of_stream;
    assert!((hot_side - hot_key_share_of_producer).abs() < 0.01, "{hot_side} vs {hot_key_share_of_producer}");
}

/// With many keys of similar weight the split hash key halves the shard's traffic.
#[test]
fn split_key_halves_a_shard_of_many_keys() {
    let (result, _) = common::run_toml(
        r#"
        duration = "2m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 3000
        keys = { kind = "zipf", count = 20000, exponent = 0.6 }
        "#,
    );
    let spec = kinesim::parse(
        Path::new("x.toml"),
        "duration = \"1m\"\n[stream]\nshards = 2\n[[producers]]\nname = \"p\"\nrate = 1\nkeys = { kind = \"zipf\", count = 20000, exponent = 0.6 }\n",
    )
    .unwrap();
    let keys = KeySpace::build(&spec.producers[0].keys);
    let ranges = kinesim_models::routing::initial_ranges(2);
    let mut checked = 0;
    for row in result.hot_keys.iter().filter(|row| row.rank == 1) {
        let split = row.split_hash_key.expect("both shards throttle at 1,500 records/s");
        let range = ranges[row.shard_id.0 as usize];
        let (low, high) = sides(&keys, range, split);
        let total = low + high;
        assert!((low / total - 0.5).abs() < 0.01, "low half {} of {}", low, total);
        checked += 1;
    }
    assert_eq!(checked, 2);
    let range = HashRange { start: 0, end: u128::MAX };
    assert_eq!(split_hash_key(range, &[(5, 1.0)]), None, "one key cannot be split");
}

/// Salting the hot tenant removes the throttling of hot-key.toml on the same shards.
#[test]
fn salting_the_hot_key_stops_the_throttling() {
    let (_, hot) = run_file("hot-key.toml");
    let (_, salted) = run_file("salted-keys.toml");
    assert!(hot.summary.write_throttle_rate > 0.1);
    assert!(salted.summary.write_throttle_rate < 0.001, "{}", salted.summary.write_throttle_rate);
    assert_eq!(salted.summary.shards_open_max, hot.summary.shards_open_max);
    assert!(salted.hot_keys.iter().any(|row| row.partition_key.starts_with("tenant-1-")));
}

/// micro-bursts.toml: the mean stays near half while the per-second peak passes 1.
#[test]
fn micro_bursts_show_in_the_peak_not_the_mean() {
    let (result, rows) = common::run_example("micro-bursts");
    assert!(result.summary.write_throttled_records > 0);
    for row in &rows.stream {
        assert!(row.utilisation_mean < 0.6, "mean {}", row.utilisation_mean);
        assert!(row.demand_peak > 1.5, "peak demand {}", row.demand_peak);
        assert!(row.write_throttled_records > 0);
    }
}

/// targeted-split.toml: splitting only the hot shard at its balanced key stops the
/// throttling; the children get the next shard ids, the parent closes and stays
/// readable, and the split is logged.
#[test]
fn targeted_split_of_the_hot_shard_stops_the_throttling() {
    let (result, rows) = common::run_example("targeted-split");
    assert_eq!(result.summary.reshard_operations, 1);
    assert_eq!(result.summary.shards_open_max, 9);
    let split = rows.events.iter().find(|e| e.kind == "split_shard").expect("the split is logged");
    assert_eq!(split.subject, "shardId-000000000007");
    assert!(split.detail.contains("shardId-000000000008") && split.detail.contains("shardId-000000000009"));
    // Called at 10 min, the split takes effect after the default 5 s reshard duration.
    let started = rows.events.iter().find(|e| e.kind == "reshard_started").expect("the call is logged");
    assert_eq!((started.time_s, split.time_s), (600.0, 605.0));
    let throttled_after: u64 =
        rows.stream.iter().filter(|r| r.time_s >= 660.0).map(|r| r.write_throttled_records).sum();
    let throttled_before: u64 =
        rows.stream.iter().filter(|r| r.time_s < 540.0).map(|r| r.write_throttled_records).sum();
    assert!(throttled_before > 100_000);
    assert_eq!(throttled_after, 0, "no shard throttles once the hot one is split");
    // The parent takes no writes after the split, and its data is still read.
    for row in rows.shards.iter().filter(|r| r.shard_id.0 == 7 && r.time_s > split.time_s) {
        assert_eq!(row.incoming_records, 0);
    }
    let consumer = &result.summary.consumers[0];
    assert_eq!(consumer.expired_unread_records, 0);
    assert!(consumer.unread_records_end < 20_000);
}

/// A split with a hash key outside the shard is rejected when it runs and logged, not a
/// crash; the load file already refuses keys it can check.
#[test]
fn invalid_split_keys_are_refused_at_load() {
    let text = r#"
        duration = "5m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 10
        [[actions]]
        at = "1m"
        kind = "split_shard"
        shard = "shardId-000000000001"
        hash_key = "5"
        "#;
    let error = kinesim::parse(Path::new("split.toml"), text).unwrap_err().to_string();
    assert!(error.contains("actions[0].hash_key") && error.contains("strictly inside"), "{error}");
    let closed = text.replace("hash_key = \"5\"", "").replace(
        "[[actions]]",
        "[[actions]]\nat = \"30s\"\nkind = \"split_shard\"\nshard = \"shardId-000000000001\"\n[[actions]]",
    );
    let error = kinesim::parse(Path::new("split.toml"), &closed).unwrap_err().to_string();
    assert!(error.contains("actions[1].shard") && error.contains("not an open shard"), "{error}");
}
