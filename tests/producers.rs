//! Producer behaviour: KPL aggregation and TTL, the SDK retry quota.

mod common;

/// Aggregating small records lets a shard take far more than 1,000 user records a
/// second, while the Kinesis records it counts stay within its 1,000 records/s.
#[test]
fn kpl_aggregation_lifts_user_records_above_the_shard_limit() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "5m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 5000
        instances = 4
        record_size = 100
        keys = { kind = "uniform", count = 1000 }
        api = { kind = "kpl" }
        "#,
    );
    let s = &result.summary;
    assert_eq!(s.write_throttled_records, 0);
    assert!(s.accepted_records as f64 / 300.0 > 4500.0, "user records/s {}", s.accepted_records as f64 / 300.0);
    assert!(
        s.incoming_records < s.accepted_records / 50,
        "Kinesis records {} vs user {}",
        s.incoming_records,
        s.accepted_records
    );
    for row in &rows.stream {
        assert!(row.incoming_records as f64 / 60.0 <= 1000.0, "Kinesis records/s within the limit");
        assert!(row.utilisation_peak <= 1.0);
    }
}

/// Without aggregation a lone KPL instance sends up to 150% of a shard (its limiter) and
/// retries without backoff; records that cannot get in before RecordTtl expire and are
/// counted, and nothing is lost without a counter.
#[test]
fn kpl_records_past_their_ttl_expire_and_are_counted() {
    let (result, _) = common::run_toml(
        r#"
        seed = 4
        duration = "3m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 3000
        record_size = 200
        keys = { kind = "random" }
        api = { kind = "kpl", aggregation = false, record_ttl = "10s" }
        "#,
    );
    let p = &result.summary.producers[0].totals;
    assert!(p.expired_records > 100_000, "expired {}", p.expired_records);
    assert_eq!(p.expired_records, p.dropped_records, "the KPL gives up only through RecordTtl");
    assert_eq!(p.offered_records, p.accepted_records + p.dropped_records + result.summary.in_flight_records_end);
    // The limiter holds attempts to about 1,500/s; the shard accepts about 1,000/s.
    let attempted_per_s = p.attempted_records as f64 / 180.0;
    assert!((1300.0..=1700.0).contains(&attempted_per_s), "attempted/s {attempted_per_s}");
}

/// The SDK standard mode's retry quota (500 tokens, 5 per retry, 1 back per success)
/// runs dry under sustained overload, so most rejected records are not retried at all,
/// while plain exponential backoff with the same attempts retries every one of them.
#[test]
fn sdk_retry_quota_stops_retries_once_exhausted() {
    let experiment = |retry: &str| {
        format!(
            r#"
            seed = 8
            duration = "2m"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = 3000
            record_size = 100
            keys = {{ kind = "random" }}
            retry = {retry}
            "#
        )
    };
    let (sdk, _) = common::run_toml(&experiment("\"sdk_standard\""));
    let (plain, _) = common::run_toml(&experiment(
        "{ kind = \"exponential\", base = \"1s\", cap = \"20s\", max_attempts = 3, jitter = \"full\" }",
    ));
    let retries = |s: &kinesim_models::RunSummary| s.attempted_records - s.offered_records;
    let (sdk, plain) = (&sdk.summary, &plain.summary);
    // Tokens come back at 1 per accepted first attempt (at most ~1,000/s), so at most
    // ~200 retries a second can be paid for, of ~2,000 rejected first attempts a second.
    assert!(retries(sdk) as f64 <= 0.15 * sdk.write_throttled_records as f64, "{} retries", retries(sdk));
    assert!(retries(sdk) as f64 <= 250.0 * 120.0);
    assert!(retries(plain) > 3 * retries(sdk), "without a quota: {} retries", retries(plain));
}

fn back_pressure_run(when_full: &str) -> kinesim_models::RunSummary {
    // One instance, one request in flight of 100 ms: at most 10 PutRecord calls a second,
    // against 100 records/s offered; the buffer holds 1,000 records.
    let (result, _) = common::run_toml(&format!(
        r#"
        seed = 12
        duration = "2m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 100
        keys = {{ kind = "random" }}
        api = "put_record"
        back_pressure = {{ buffer = 1000, when_full = "{when_full}", max_in_flight = 1, request_latency = "100ms" }}
        "#
    ));
    result.summary
}

/// A full buffer drops what does not fit (counted), or blocks the application so that
/// nothing is lost but records wait; both keep conservation.
#[test]
fn back_pressure_drops_or_blocks_when_the_buffer_is_full() {
    for when_full in ["drop", "block"] {
        let s = back_pressure_run(when_full);
        let p = &s.producers[0];
        assert_eq!(s.offered_records, s.accepted_records + s.dropped_records + s.in_flight_records_end);
        let accepted_per_s = s.accepted_records as f64 / 120.0;
        assert!((9.0..=10.5).contains(&accepted_per_s), "{when_full}: {accepted_per_s} records/s get through");
        if when_full == "drop" {
            assert_eq!(p.totals.buffer_dropped_records, p.totals.dropped_records);
            // 90 records/s overflow once the 1,000-record buffer is full (after ~11 s).
            assert!(p.totals.buffer_dropped_records > 8_000, "{}", p.totals.buffer_dropped_records);
            assert!(s.in_flight_records_end <= 1000);
        } else {
            assert_eq!(s.dropped_records, 0);
            assert!(s.in_flight_records_end > 9_000, "blocked records wait: {}", s.in_flight_records_end);
        }
        // Records wait in the buffer for up to 1,000 / 10 = 100 s.
        assert!(p.latency_ms_p99 > 50_000.0, "{when_full}: p99 {} ms", p.latency_ms_p99);
    }
}

/// A request holds as many records as fit its byte limit: 20 records of 500 KiB in a
/// 10 MiB PutRecords, so one request in flight of 1 s sends 20 records a second of the
/// 30 offered, and the rest wait in the buffer.
#[test]
fn back_pressure_requests_stop_at_their_byte_limit() {
    let (result, _) = common::run_toml(
        r#"
        seed = 1
        duration = "10m"
        [stream]
        shards = 100
        [[producers]]
        name = "p"
        rate = 30
        arrivals = "uniform"
        record_size = "500KiB"
        keys = { kind = "random" }
        api = { kind = "put_records", max_records = 500, max_bytes = "10MiB" }
        back_pressure = { buffer = 100000, max_in_flight = 1, request_latency = "1s" }
        "#,
    );
    let s = result.summary;
    assert!(s.accepted_records <= 20 * 600, "{} records sent in 600 one-second requests", s.accepted_records);
    assert!(s.accepted_records >= 19 * 600, "{}", s.accepted_records);
    assert!(s.in_flight_records_end >= 5_400, "{} records wait", s.in_flight_records_end);
}

/// Records larger than the stream's max record size are rejected by the producer and
/// counted, never truncated: for a log-normal with median 512 KiB and sigma 1 the
/// fraction above 1 MiB (less the key) is 1 - Phi(ln 2) = 0.244.
#[test]
fn oversize_records_are_rejected_and_counted() {
    let (result, _) = common::run_toml(
        r#"
        seed = 6
        duration = "10m"
        [stream]
        shards = 4
        [[producers]]
        name = "p"
        rate = 2
        record_size = { kind = "lognormal", median = "512KiB", sigma = 1.0 }
        keys = { kind = "random", key_bytes = 16 }
        "#,
    );
    let p = &result.summary.producers[0].totals;
    let fraction = p.oversize_records as f64 / p.offered_records as f64;
    assert!((fraction - 0.244).abs() < 0.05, "oversize fraction {fraction}");
    // Without retries, the other drops are records a busy shard throttled.
    assert_eq!(p.dropped_records, p.oversize_records + p.throttled_records);
    assert_eq!(p.offered_records, p.accepted_records + p.dropped_records);
}

/// With `max_record_size = "10MiB"` and a token bucket ten seconds deep, 4 MiB records
/// at 0.8 MiB/s on average are all admitted, each one a burst above the 1 MiB/s rate.
#[test]
fn large_records_pass_a_deep_token_bucket() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 9
        duration = "10m"
        [stream]
        shards = 1
        max_record_size = "10MiB"
        write_limit = { enforcement = "token_bucket", bucket_depth = "10s" }
        [[producers]]
        name = "p"
        rate = 0.2
        arrivals = "uniform"
        record_size = "4MiB"
        keys = { kind = "random", key_bytes = 8 }
        "#,
    );
    let s = &result.summary;
    assert_eq!(s.offered_records, 120);
    assert_eq!(s.write_throttled_records, 0);
    assert_eq!(s.accepted_records, 120);
    assert!(rows.stream.iter().any(|row| row.utilisation_peak > 3.9), "a second with a 4 MiB record");
}

/// GetRecords' 10,000-records limit counts Kinesis records: a poller keeps up with 15,000
/// small aggregated user records a second, which arrive as a few dozen Kinesis records.
#[test]
fn pollers_keep_up_with_aggregated_records() {
    let (result, _) = common::run_toml(
        r#"
        seed = 10
        duration = "5m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 15000
        instances = 2
        record_size = 40
        keys = { kind = "random", key_bytes = 8 }
        api = { kind = "kpl" }
        [[consumers]]
        name = "c"
        kind = "polling"
        "#,
    );
    let s = &result.summary;
    let c = &s.consumers[0];
    assert_eq!(s.write_throttled_records, 0);
    assert!(c.iterator_age_ms_max < 2_000.0, "iterator age {}", c.iterator_age_ms_max);
    assert!(c.unread_records_end < 30_000, "unread {}", c.unread_records_end);
}
