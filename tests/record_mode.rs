//! Record mode's exact results: with evenly spaced arrivals nothing is random but keys,
//! so admission, batching and routing can be checked to the record.

mod common;

/// An experiment in record mode with one producer of `rate` evenly spaced records.
fn experiment(stream: &str, producer: &str, extra: &str) -> String {
    format!(
        r#"
        seed = 5
        duration = "10s"
        fidelity = "record"
        metrics_period = "1s"
        [stream]
        {stream}
        [[producers]]
        name = "p"
        arrivals = "uniform"
        record_size = 100
        keys = {{ kind = "uniform", count = 1000 }}
        {producer}
        {extra}
        "#
    )
}

/// Fixed windows: each second admits exactly 1,000 of 1,500 records, whatever the step.
#[test]
fn a_fixed_window_admits_its_limit_each_second() {
    for step in ["1s", "100ms"] {
        let text = experiment("shards = 1", "rate = 1500", "[output]\nshards = \"1s\"")
            .replace("metrics_period = \"1s\"", &format!("metrics_period = \"1s\"\nstep = \"{step}\""));
        let (result, rows) = common::run_toml(&text);
        let s = &result.summary;
        // Uniform arrivals carry fractions of a record between steps: 15,000 up to the
        // last step's rounding.
        assert!((14_999..=15_000).contains(&s.offered_records), "step {step}: {}", s.offered_records);
        assert_eq!(s.accepted_records, 10_000, "step {step}");
        assert_eq!(s.write_throttled_records, s.offered_records - 10_000);
        assert!(rows.stream.iter().all(|row| row.incoming_records == 1_000), "every second takes its limit");
    }
}

/// A token bucket one second deep: the full bucket, then its refill, to the record
/// (the last record of the run arrives just before its token).
#[test]
fn a_token_bucket_admits_its_depth_plus_its_refill() {
    let text = experiment(
        "shards = 1\nwrite_limit = { enforcement = \"token_bucket\", bucket_depth = \"1s\" }",
        "rate = 2000",
        "",
    );
    let (result, _) = common::run_toml(&text);
    let accepted = result.summary.accepted_records;
    assert!((10_999..=11_000).contains(&accepted), "1,000 deep + 1,000/s x 10 s, got {accepted}");
}

/// PutRecords: a batch goes when it holds `max_records`, before its linger; with
/// `linger = 0` every record is its own request.
#[test]
fn put_records_batches_by_count_and_linger() {
    let full =
        experiment("shards = 4", "rate = 100\napi = { kind = \"put_records\", max_records = 10, linger = \"1s\" }", "");
    let (result, _) = common::run_toml(&full);
    assert_eq!(result.summary.accepted_records, 1_000);
    assert_eq!(result.summary.put_requests, 100, "batches of 10 fill in 100 ms, before the linger");
    let latency_ms_max = result.summary.producers[0].latency_ms_max;
    assert!((89.0..=91.0).contains(&latency_ms_max), "the first of 10 waits 90 ms, got {latency_ms_max}");
    let alone = experiment("shards = 4", "rate = 100\napi = { kind = \"put_records\", linger = \"0s\" }", "");
    let (result, _) = common::run_toml(&alone);
    assert_eq!(result.summary.put_requests, 1_000);
    assert_eq!(result.summary.producers[0].latency_ms_max, 0.0);
}

/// After a split (called at 1 s, done at 6 s after the default 5 s `reshard_duration`),
/// retries of records rejected by the parent go to the child that holds their key, and
/// nothing is lost.
#[test]
fn retries_after_a_split_go_to_the_children() {
    let text = experiment(
        "shards = 1",
        "rate = 1500\nretry = { kind = \"exponential\", base = \"100ms\", cap = \"2s\", max_attempts = 10 }",
        "[output]\nshards = \"1s\"\n[[actions]]\nat = \"1s\"\nkind = \"split_shard\"\nshard = \"shardId-000000000000\"",
    );
    let (result, rows) = common::run_toml(&text);
    let s = &result.summary;
    assert_eq!(s.offered_records, s.accepted_records + s.dropped_records + s.in_flight_records_end);
    let children: u64 = rows.shards.iter().filter(|r| r.shard_id.0 > 0).map(|r| r.incoming_records).sum();
    assert!(children > 6_000, "the two children take the traffic from 6 s, got {children}");
    let parent_after: u64 =
        rows.shards.iter().filter(|r| r.shard_id.0 == 0 && r.time_s >= 6.0).map(|r| r.incoming_records).sum();
    assert_eq!(parent_after, 0, "the closed parent takes nothing");
}
