//! Resharding topology: shard ids, ranges, parents and AWS's rules.

mod common;

use kinesim_models::routing::initial_ranges;
use std::path::Path;

fn stream_with_actions(shards: u32, actions: &str) -> String {
    format!(
        r#"
        seed = 13
        duration = "30m"
        [output]
        shards = "1m"
        [stream]
        shards = {shards}
        [[producers]]
        name = "p"
        rate = 400
        keys = {{ kind = "uniform", count = 2000 }}
        [[consumers]]
        name = "c"
        kind = "polling"
        start = "trim_horizon"
        {actions}
        "#
    )
}

#[test]
fn merging_two_adjacent_shards_opens_one_child_with_their_union() {
    let (result, rows) = common::run_toml(&stream_with_actions(
        2,
        "[[actions]]\nat = \"5m\"\nkind = \"merge_shards\"\nshard = \"shardId-000000000000\"\nadjacent_shard = \"shardId-000000000001\"",
    ));
    let merge = rows.events.iter().find(|e| e.kind == "merge_shards").expect("logged");
    assert!(merge.detail.contains("into shardId-000000000002"), "{}", merge.detail);
    assert_eq!(result.summary.reshard_operations, 1);
    assert_eq!(merge.time_s, 305.0, "called at 5 min, done after the default 5 s reshard duration");
    let after: Vec<_> = rows.shards.iter().filter(|r| r.time_s > merge.time_s).collect();
    assert!(after.iter().filter(|r| r.shard_id.0 < 2).all(|r| r.incoming_records == 0), "parents take no writes");
    assert!(after.iter().filter(|r| r.shard_id.0 == 2).all(|r| r.incoming_records > 0), "the child takes them all");
    let c = &result.summary.consumers[0];
    assert_eq!(c.expired_unread_records, 0);
    assert!(c.unread_records_end < 1_000);
}

#[test]
fn update_shard_count_scales_uniformly_within_aws_rules() {
    let mut actions = String::from("[[actions]]\nat = \"1m\"\nkind = \"update_shard_count\"\ntarget_shards = 8\n");
    // More than double: refused.
    actions.push_str("[[actions]]\nat = \"2m\"\nkind = \"update_shard_count\"\ntarget_shards = 17\n");
    // Then ten calls alternating 4 and 8: nine more succeed (ten in all), the last hits the daily cap.
    for minute in 3..13 {
        let target = if minute % 2 == 1 { 4 } else { 8 };
        actions.push_str(&format!(
            "[[actions]]\nat = \"{minute}m\"\nkind = \"update_shard_count\"\ntarget_shards = {target}\n"
        ));
    }
    let (result, rows) = common::run_toml(&stream_with_actions(4, &actions));
    let done: Vec<_> = rows.events.iter().filter(|e| e.kind == "update_shard_count").collect();
    let refused: Vec<_> = rows.events.iter().filter(|e| e.kind == "update_shard_count_rejected").collect();
    assert_eq!(done.len(), 10, "ten calls in 24 h");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].detail.contains("more than double"));
    assert!(refused[1].detail.contains("10 calls in the last 24 h"));
    // The first call opens 8 children with the uniform ranges of an 8-shard stream.
    assert!(done[0].detail.contains("shardId-000000000004 to shardId-000000000011"), "{}", done[0].detail);
    assert_eq!(result.summary.shards_open_max, 8);
    // Minute 1 still has the 4 parents writing until the call completes (5 s); minute 2
    // only the 8 children.
    let writing =
        |minute: f64| rows.shards.iter().filter(|r| r.time_s == minute * 60.0 && r.incoming_records > 0).count();
    assert_eq!((writing(1.0), writing(2.0)), (12, 8));
    assert_eq!(initial_ranges(8).len(), 8);
}

#[test]
fn merges_of_shards_that_are_not_adjacent_are_refused_at_load() {
    let text = stream_with_actions(
        3,
        "[[actions]]\nat = \"5m\"\nkind = \"merge_shards\"\nshard = \"shardId-000000000000\"\nadjacent_shard = \"shardId-000000000002\"",
    );
    let error = kinesim::parse(Path::new("merge.toml"), &text).unwrap_err().to_string();
    assert!(error.contains("actions[0].adjacent_shard") && error.contains("not adjacent"), "{error}");
}

/// Decreasing the retention period trims older records at once: a consumer 24 h behind
/// loses them the moment retention drops from 48 h to 24 h, not before.
#[test]
fn decreasing_retention_trims_at_once() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 2
        duration = "32h"
        metrics_period = "1h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 1
        retention = "48h"
        [[producers]]
        name = "p"
        rate = 50
        keys = { kind = "random" }
        [[consumers]]
        name = "slow"
        kind = "polling"
        start = "trim_horizon"
        processing = { records_per_second = 10 }
        [[actions]]
        at = "31h"
        kind = "set_retention"
        retention = "24h"
        "#,
    );
    let expired_before: u64 =
        rows.stream.iter().filter(|r| r.time_s < 31.0 * 3600.0).map(|r| r.expired_unread_records).sum();
    let expired_after: u64 =
        rows.stream.iter().filter(|r| r.time_s >= 31.0 * 3600.0).map(|r| r.expired_unread_records).sum();
    assert_eq!(expired_before, 0, "48 h of retention holds a 25 h lag");
    assert!(expired_after > 100_000, "records older than 24 h are trimmed at once: {expired_after}");
    assert!(rows.events.iter().any(|e| e.kind == "set_retention" && e.detail == "2d to 1d"));
}

/// A producer outage: records pile up while it is down; catching up all at once
/// throttles, catching up at a pace the stream can take does not.
#[test]
fn producer_outage_and_catch_up() {
    let run = |catch_up: &str| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 1
            duration = "40m"
            [stream]
            shards = 2
            [[producers]]
            name = "web"
            rate = 1000
            keys = {{ kind = "random" }}
            [[actions]]
            at = "10m"
            kind = "producer_outage"
            producer = "web"
            length = "5m"
            {catch_up}
            "#
        ));
        result.summary
    };
    let burst = run("");
    let paced = run("catch_up_rate = 500");
    assert!(burst.write_throttled_records > 250_000, "{}", burst.write_throttled_records);
    assert_eq!(paced.write_throttled_records, 0);
    assert_eq!(paced.accepted_records, paced.offered_records, "all caught up within the run");
    for s in [&burst, &paced] {
        assert_eq!(s.offered_records, s.accepted_records + s.dropped_records + s.in_flight_records_end);
    }
}

/// A reshard keeps the stream UPDATING for `stream.reshard_duration`: the parents take
/// writes until it completes, and another reshard call meanwhile is refused
/// (ResourceInUseException) and logged, while a call after it completes succeeds.
#[test]
fn reshards_take_their_duration_and_refuse_calls_meanwhile() {
    let actions = "[[actions]]\nat = \"1m\"\nkind = \"update_shard_count\"\ntarget_shards = 8\n\
        [[actions]]\nat = \"2m\"\nkind = \"update_shard_count\"\ntarget_shards = 4\n\
        [[actions]]\nat = \"4m\"\nkind = \"update_shard_count\"\ntarget_shards = 4\n";
    let text = stream_with_actions(4, actions).replace("[stream]", "[stream]\nreshard_duration = \"2m\"");
    let (result, rows) = common::run_toml(&text);
    let reshard_events: Vec<_> = rows.events.iter().filter(|e| !e.kind.starts_with("run_")).collect();
    let kinds: Vec<(f64, &str)> = reshard_events.iter().map(|e| (e.time_s, e.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (60.0, "reshard_started"),
            (120.0, "update_shard_count_rejected"),
            (180.0, "update_shard_count"),
            (240.0, "reshard_started"),
            (360.0, "update_shard_count"),
        ]
    );
    assert!(reshard_events[1].detail.contains("UPDATING until 180 s"), "{}", reshard_events[1].detail);
    assert_eq!(result.summary.reshard_operations, 2);
    // Minutes 1 and 2: the 4 parents take every write; minute 3: the 8 children.
    let writing =
        |minute: f64| rows.shards.iter().filter(|r| r.time_s == minute * 60.0 && r.incoming_records > 0).count();
    assert_eq!((writing(1.0), writing(2.0), writing(3.0)), (4, 4, 8));
    let c = &result.summary.consumers[0];
    assert_eq!(c.expired_unread_records, 0);
}

/// A shard's mean utilisation in a period is over the time it was open in it: a child
/// open for the last 10 s of a 40 s period that took 300 records/s is at 0.3, and its
/// parent, open for the first 30 s, is over those 30 s. (Both were averaged over the
/// whole period: the child showed 0.08.)
#[test]
fn shard_utilisation_is_over_the_time_the_shard_was_open() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "150s"
        [output]
        shards = "40s"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 1500
        arrivals = "uniform"
        record_size = 800
        keys = { kind = "uniform", count = 1000 }
        [[actions]]
        at = "65s"
        kind = "split_shard"
        shard = "shardId-000000000000"
        "#,
    );
    let split_s = rows.events.iter().find(|e| e.kind == "split_shard").map(|e| e.time_s).unwrap();
    assert!(split_s > 40.0 && split_s < 80.0, "the split completes inside the 40 s to 80 s period: {split_s}");
    for row in rows.shards.iter().filter(|r| r.time_s == 40.0) {
        let open_s = match row.shard_id.0 {
            0 => split_s - 40.0,
            1 => 40.0,
            _ => 80.0 - split_s,
        };
        let by_records = row.incoming_records as f64 / (open_s * 1000.0);
        assert!(
            (row.utilisation_mean - by_records).abs() < 0.01 || row.utilisation_mean > by_records,
            "{}: {} against {by_records} over {open_s} s",
            row.shard_id.0,
            row.utilisation_mean
        );
        assert!(row.utilisation_mean > 0.2, "{}: {}", row.shard_id.0, row.utilisation_mean);
    }
}
