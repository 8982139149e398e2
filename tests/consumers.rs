//! Consumers: the shared read budget, start positions, conservation per consumer.

mod common;

use kinesim_models::metrics::ConsumerRow;

/// A backlogged shard read by `n` identical pollers.
fn backlogged(n: usize) -> (kinesim_models::RunResult, Vec<ConsumerRow>) {
    let mut text = String::from(
        r#"
        seed = 31
        duration = "2h"
        [output]
        consumers = "1m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 1000
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "random", key_bytes = 16 }
        "#,
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[consumers]]\nname = \"c{i}\"\nkind = \"polling\"\nstart = \"trim_horizon\"\njoin = \"60m\"\n"
        ));
    }
    let (result, rows) = common::run_toml(&text);
    (result, rows.consumers)
}

/// Bytes per second each consumer read while the backlog is still there (60m to 110m:
/// they join at 60m with an hour of data to catch up on, gaining 1 MiB/s on it). Each
/// 10 MiB read wins a race against the others' polls, so shares are noisy over a few
/// reads; over ~50 minutes every consumer wins often enough for a 15% tolerance.
fn rates_while_backlogged(rows: &[ConsumerRow], n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let name = format!("c{i}");
            let bytes: u64 = rows
                .iter()
                .filter(|r| r.consumer == name && (3600.0..6600.0).contains(&r.time_s))
                .map(|r| r.read_bytes)
                .sum();
            bytes as f64 / 3000.0
        })
        .collect()
}

/// The classic result: N pollers on a backlogged shard share its 2 MiB/s, about
/// 2 MiB/s / N each, as an outcome of the one budget (a 2 MiB/s bucket that one call
/// may overdraw by 10 MiB, 5 calls/s) and random poll phases, not of a coded share.
#[test]
fn pollers_share_the_shards_two_mib_per_second() {
    const MIB: f64 = 1_048_576.0;
    for n in [1usize, 2, 3, 5] {
        let (result, rows) = backlogged(n);
        let rates = rates_while_backlogged(&rows, n);
        let total: f64 = rates.iter().sum();
        assert!((total / (2.0 * MIB) - 1.0).abs() < 0.06, "{n} consumers read {total} B/s together");
        for rate in &rates {
            let share = rate / (2.0 * MIB / n as f64);
            assert!((0.85..=1.15).contains(&share), "{n} consumers: one reads {rate} B/s, {share} of a fair share");
        }
        for consumer in &result.summary.consumers {
            assert_eq!(consumer.expired_unread_records, 0);
            if n >= 2 {
                assert!(consumer.read_throttled_calls > 0, "contention shows as ReadProvisionedThroughputExceeded");
            }
        }
    }
}

/// Per consumer: accepted = skipped + read + expired unread + unread at the end, for
/// every start position and join time (the engine asserts it too; this checks the
/// numbers a user sees).
#[test]
fn every_record_is_read_expired_skipped_or_unread() {
    let (result, _) = common::run_toml(
        r#"
        seed = 2
        duration = "30m"
        [stream]
        shards = 3
        [[producers]]
        name = "p"
        rate = 800
        keys = { kind = "uniform", count = 300 }
        [[consumers]]
        name = "live"
        kind = "polling"
        [[consumers]]
        name = "late-latest"
        kind = "polling"
        join = "10m"
        [[consumers]]
        name = "late-backfill"
        kind = "polling"
        start = "trim_horizon"
        join = "20m"
        [[consumers]]
        name = "from-5m"
        kind = "polling"
        start = "at_timestamp"
        timestamp = "5m"
        join = "15m"
        "#,
    );
    let s = &result.summary;
    for c in &s.consumers {
        assert_eq!(
            s.accepted_records,
            c.skipped_records + c.read_records + c.expired_unread_records + c.unread_records_end,
            "{}",
            c.name
        );
    }
    let by_name = |name: &str| s.consumers.iter().find(|c| c.name == name).unwrap();
    assert_eq!(by_name("live").skipped_records, 0);
    // A `latest` consumer joining at 10m skips about ten minutes of records.
    let skipped = by_name("late-latest").skipped_records as f64 / 800.0;
    assert!((skipped - 600.0).abs() < 10.0, "{skipped} s skipped");
    // At a timestamp of 5m: about five minutes skipped, the rest read.
    let skipped = by_name("from-5m").skipped_records as f64 / 800.0;
    assert!((skipped - 300.0).abs() < 10.0, "{skipped} s skipped");
    assert_eq!(by_name("late-backfill").skipped_records, 0, "trim horizon skips nothing within retention");
}

/// A `latest` consumer that reads alone keeps what arrives once it has its iterator,
/// though its first poll or push comes later, and reads a split's children from their
/// start: the shard must not drop records no reader has passed yet. (It once did, for
/// one step after attaching and at every split, as skipped records.)
#[test]
fn a_lone_latest_consumer_loses_nothing_before_its_first_read_or_at_a_split() {
    for kind in ["efo", "polling"] {
        for join in ["0s", "2m"] {
            let (result, _) = common::run_toml(&format!(
                r#"
                seed = 4
                duration = "10m"
                [stream]
                shards = 2
                [[producers]]
                name = "p"
                rate = 500
                arrivals = "uniform"
                keys = {{ kind = "uniform", count = 200 }}
                [[actions]]
                at = "5m"
                kind = "split_shard"
                shard = "shardId-000000000000"
                hash_key = "balanced"
                [[consumers]]
                name = "alone"
                kind = "{kind}"
                start = "latest"
                join = "{join}"
                "#
            ));
            let s = &result.summary;
            let c = &s.consumers[0];
            assert_eq!(s.accepted_records, c.skipped_records + c.read_records + c.unread_records_end, "{kind} {join}");
            assert_eq!(c.expired_unread_records, 0);
            // Only what was written before the consumer joined is skipped.
            let joined_s = if join == "2m" { 120.0 } else { 0.0 };
            let skipped_s = c.skipped_records as f64 / 500.0;
            assert!((skipped_s - joined_s).abs() <= 0.01, "{kind} joining at {join} skipped {skipped_s} s");
        }
    }
}

/// Fan-out consumers each read up to 2 MiB/s per shard however many there are, next to
/// a poller that keeps the shared 2 MiB/s for itself.
#[test]
fn fan_out_consumers_each_get_two_mib_per_second() {
    const MIB: f64 = 1_048_576.0;
    let mut text = String::from(
        r#"
        seed = 17
        duration = "40m"
        [output]
        consumers = "1m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 1000
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "random", key_bytes = 16 }
        [[consumers]]
        name = "poller"
        kind = "polling"
        start = "trim_horizon"
        join = "20m"
        "#,
    );
    for i in 0..4 {
        text.push_str(&format!(
            "[[consumers]]\nname = \"fan-{i}\"\nkind = \"efo\"\nstart = \"trim_horizon\"\njoin = \"20m\"\n"
        ));
    }
    let (result, rows) = common::run_toml(&text);
    for name in ["poller", "fan-0", "fan-1", "fan-2", "fan-3"] {
        let bytes: u64 = rows
            .consumers
            .iter()
            .filter(|r| r.consumer == name && (1200.0..1800.0).contains(&r.time_s))
            .map(|r| r.read_bytes)
            .sum();
        let rate = bytes as f64 / 600.0 / MIB;
        assert!((rate - 2.0).abs() < 0.1, "{name} reads {rate} MiB/s while catching up");
    }
    let fan = result.summary.consumers.iter().find(|c| c.name == "fan-0").unwrap();
    assert_eq!(fan.read_throttled_calls, 0, "fan-out is never throttled by others");
}

fn lambda_run(keys: &str, parallelization: u32) -> kinesim_models::RunSummary {
    lambda_run_with(keys, parallelization, "")
}

fn lambda_run_with(keys: &str, parallelization: u32, extra: &str) -> kinesim_models::RunSummary {
    let (result, _) = common::run_toml(&format!(
        r#"
        seed = 23
        duration = "10m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 1500
        keys = {keys}
        [[consumers]]
        name = "fn"
        kind = "lambda"
        start = "trim_horizon"
        batch_size = 100
        parallelization_factor = {parallelization}
        function_duration = "500ms"
        {extra}
        "#
    ));
    result.summary
}

/// A function's reserved concurrency caps the mapping below shards x parallelization:
/// with 3 concurrent invocations for 2 shards x 4 lanes, throughput is 3 x 100 / 0.5 s =
/// 600 records/s instead of 1,600 (more than the 1,500 offered).
#[test]
fn lambda_reserved_concurrency_caps_throughput() {
    let uniform = "{ kind = \"uniform\", count = 10000 }";
    let capped = lambda_run_with(uniform, 4, "max_concurrency = 3");
    let per_s = capped.consumers[0].read_records as f64 / 600.0;
    assert!((per_s - 600.0).abs() < 600.0 * 0.03, "processed {per_s} records/s");
    let free = lambda_run_with(uniform, 4, "");
    let free_per_s = free.consumers[0].read_records as f64 / 600.0;
    assert!(free_per_s > 1_400.0, "uncapped it keeps up: {free_per_s}");
    // A cap at or above shards x lanes changes nothing.
    let loose = lambda_run_with(uniform, 4, "max_concurrency = 8");
    assert_eq!(loose.consumers[0].read_records, free.consumers[0].read_records);
}

/// Reserved concurrency is shared over the shards in the order batches became ready: 2
/// slots of 100-record, 1 s invocations over 4 shards give each shard 50 records/s. (The
/// first shards took every slot as it freed, and shards 2 and 3 were never processed.)
#[test]
fn lambda_reserved_concurrency_is_shared_by_every_shard() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "10m"
        [output]
        shards = "off"
        consumers = "10m"
        [stream]
        shards = 4
        [[producers]]
        name = "p"
        rate = 400
        arrivals = "uniform"
        record_size = 100
        keys = { kind = "random", key_bytes = 16 }
        [[consumers]]
        name = "fn"
        kind = "lambda"
        max_concurrency = 2
        batch_size = 100
        function_duration = "1s"
        "#,
    );
    assert_eq!(rows.consumers.len(), 4);
    for row in &rows.consumers {
        let per_s = row.read_records as f64 / 600.0;
        assert!((per_s - 50.0).abs() < 2.0, "shard {}: {per_s} records/s", row.shard_id.0);
    }
}

/// With a fixed function duration and many keys, a Lambda mapping that cannot keep up
/// processes shards x parallelization x batch size / duration records a second:
/// 2 x 2 x 100 / 0.5 s = 800 records/s, while 1,500 are offered.
#[test]
fn lambda_throughput_is_shards_times_parallelization_times_batch_over_duration() {
    let s = lambda_run("{ kind = \"uniform\", count = 10000 }", 2);
    let consumer = &s.consumers[0];
    let per_s = consumer.read_records as f64 / 600.0;
    assert!((per_s - 800.0).abs() < 800.0 * 0.03, "processed {per_s} records/s");
    assert!(consumer.iterator_age_ms_max > 60_000.0, "it falls behind: {}", consumer.iterator_age_ms_max);
    assert_eq!(
        s.accepted_records,
        consumer.read_records
            + consumer.discarded_records
            + consumer.expired_unread_records
            + consumer.unread_records_end
    );
}

/// Parallelization keeps per-key order, so when one key carries most of a shard's
/// records, more lanes barely help: the hot key's lane is the bottleneck.
#[test]
fn lambda_parallelization_does_not_help_a_hot_key() {
    let hot = "{ kind = \"hot\", count = 1000, hot = 1, share = 0.9 }";
    let one = lambda_run(hot, 1).consumers[0].read_records as f64;
    let ten = lambda_run(hot, 10).consumers[0].read_records as f64;
    let spread_ten = lambda_run("{ kind = \"uniform\", count = 10000 }", 10).consumers[0].read_records as f64;
    assert!(ten < 1.6 * one, "10 lanes: {ten} vs 1 lane: {one}");
    assert!(spread_ten > 2.0 * ten, "without a hot key 10 lanes process {spread_ten}");
}

/// A KCL worker failure moves its leases to the survivor within the failover time and
/// one lease-taker interval, and the survivor re-reads from the last checkpoint: the
/// reprocessed records are those read since then, at most one checkpoint interval's worth.
#[test]
fn kcl_failover_moves_leases_and_reprocesses_since_the_checkpoint() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 41
        duration = "10m"
        [stream]
        shards = 4
        [[producers]]
        name = "p"
        rate = 400
        arrivals = "uniform"
        keys = { kind = "uniform", count = 4000 }
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 1
        workers = 2
        start = "trim_horizon"
        failover_time = "10s"
        checkpoint_interval = "30s"
        failures = [["5m", 1]]
        "#,
    );
    let event = rows.events.iter().find(|e| e.kind == "kcl_worker_failed").expect("the failure is logged");
    assert_eq!(event.time_s, 300.0);
    // Two leases move (4 shards over 2 workers), each at a time within the window.
    let times: Vec<f64> = event
        .detail
        .split("; ")
        .filter_map(|part| part.split(" at ").nth(1))
        .map(|rest| rest.split('s').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 2, "{}", event.detail);
    for taken in times {
        // Expiry: failover minus half a renewal interval (3.308 s); then one taker run
        // within 2 * (10 s + 25 ms).
        assert!((300.0 + 10.0 - 1.7..=300.0 + 10.0 + 20.05).contains(&taken), "taken at {taken}");
    }
    let consumer = &result.summary.consumers[0];
    // 100 records/s per shard: at most 30 s since the checkpoint on each of 2 shards.
    assert!(consumer.reprocessed_records > 0);
    assert!(consumer.reprocessed_records <= 2 * 100 * 31, "{}", consumer.reprocessed_records);
    // One call catches a moved shard up (its iterator age, of the last record returned,
    // stays small), but the records written while no one read it waited for seconds.
    assert!(consumer.latency_ms_max > 8_000.0, "the moved shards wait: {}", consumer.latency_ms_max);
    assert_eq!(
        result.summary.accepted_records,
        consumer.read_records + consumer.expired_unread_records + consumer.unread_records_end
    );
}

/// Firehose delivers when its buffer fills or its interval passes: with 5 MiB at about
/// 1 MiB/s it delivers every ~5 s; with a 60 s interval and a huge buffer, once a minute,
/// and records wait about half of that plus the delivery latency.
#[test]
fn firehose_latency_follows_its_buffering() {
    let run = |buffering: &str| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 5
            duration = "20m"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = 1000
            arrivals = "uniform"
            record_size = 1000
            keys = {{ kind = "random", key_bytes = 16 }}
            [[consumers]]
            name = "s3"
            kind = "firehose"
            {buffering}
            delivery_latency = "2s"
            "#
        ));
        result.summary.consumers[0].clone()
    };
    let by_size = run("buffer_size = \"5MiB\"\nbuffer_interval = \"300s\"");
    let by_time = run("buffer_size = \"128MiB\"\nbuffer_interval = \"60s\"");
    assert!((3_000.0..8_000.0).contains(&by_size.latency_ms_p50), "p50 {}", by_size.latency_ms_p50);
    assert!((25_000.0..40_000.0).contains(&by_time.latency_ms_p50), "p50 {}", by_time.latency_ms_p50);
    assert!(by_time.latency_ms_max < 66_000.0, "max {}", by_time.latency_ms_max);
    assert!(by_size.read_records > 1_150_000 && by_time.read_records > 1_100_000);
}

/// Firehose reads ahead up to two buffers whatever the records' size: with 200-byte
/// records a 5 MiB buffer fills by size (about every 52 s at 100 KB/s) and Firehose keeps
/// up. (Its read-ahead was counted in 1 KiB records, so it fetched a fifth of a buffer
/// and delivered only at each `buffer_interval`, falling further behind all run.)
#[test]
fn firehose_keeps_up_with_small_records() {
    let (result, _) = common::run_toml(
        r#"
        seed = 6
        duration = "30m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 500
        arrivals = "uniform"
        record_size = 200
        [[consumers]]
        name = "s3"
        kind = "firehose"
        "#,
    );
    let s3 = &result.summary.consumers[0];
    // At most a buffer (5 MiB of 200-byte records, plus keys) waits at the end.
    assert!(s3.unread_records_end < 5 * 1_048_576 / 200, "{} unread", s3.unread_records_end);
    assert!(s3.latency_ms_p99 < 60_000.0, "p99 {} ms", s3.latency_ms_p99);
    assert!(s3.iterator_age_ms_max < 2_000.0, "iterator age {} ms", s3.iterator_age_ms_max);
}

/// Firehose's delivery latency delays each buffer without holding back the next one:
/// 950 records/s of about 1 KB fill a 1 MiB buffer every 1.1 s, each lands 2 s later,
/// and the stream is read as fast as it is written. (Counted as busy time, it capped
/// the read rate at a buffer per 2 s, 0.5 MiB/s, and the iterator age grew to 9 min.)
#[test]
fn firehose_deliveries_overlap() {
    let (result, _) = common::run_toml(
        r#"
        seed = 1
        duration = "20m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 950
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "random", key_bytes = 16 }
        [[consumers]]
        name = "s3"
        kind = "firehose"
        buffer_size = "1MiB"
        buffer_interval = "60s"
        delivery_latency = "2s"
        "#,
    );
    let s3 = &result.summary.consumers[0];
    assert!(s3.unread_records_end < 2_000, "{} unread", s3.unread_records_end);
    assert!(s3.iterator_age_ms_max < 2_000.0, "iterator age {} ms", s3.iterator_age_ms_max);
    assert!((2_500.0..5_000.0).contains(&s3.latency_ms_p50), "p50 {} ms: filling plus landing", s3.latency_ms_p50);
}

/// A fan-out consumer receives each step's records at once: their latencies spread
/// over the step (the oldest waited a step longer than the newest), so at a 1 s step the
/// 99th percentile is near the step plus the delivery delay, not the median. (Each
/// chunk counted at its middle record's latency: p99 was the median, 560 ms.)
#[test]
fn records_delivered_together_keep_their_spread_of_latencies() {
    let (result, _) = common::run_toml(
        r#"
        seed = 1
        duration = "3m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 1500
        record_size = 800
        keys = { kind = "zipf", count = 1000, exponent = 1.1 }
        [[consumers]]
        name = "f"
        kind = "efo"
        "#,
    );
    let f = &result.summary.consumers[0];
    assert!(
        (500.0..620.0).contains(&f.latency_ms_p50),
        "p50 {}: half a step plus the delivery delay",
        f.latency_ms_p50
    );
    assert!(f.latency_ms_p99 > 900.0, "p99 {}: about a step plus the delivery delay", f.latency_ms_p99);
    assert!(f.latency_ms_max > 1_000.0, "max {}", f.latency_ms_max);
}

/// After a split, a KCL application reads the children only once the parent is read to
/// its end, so per-key order holds; a plain poller (kept behind in the parent by a small
/// `max_records`) reads the children while parent records are still unread.
#[test]
fn kcl_reads_parent_shards_before_their_children() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 6
        duration = "7m"
        [output]
        consumers = "1s"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 500
        keys = { kind = "uniform", count = 1000 }
        [[actions]]
        at = "5m"
        kind = "split_shard"
        shard = "shardId-000000000000"
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 1
        poll_interval = "10s"
        [[consumers]]
        name = "poller"
        kind = "polling"
        poll_interval = "10s"
        max_records = 1000
        "#,
    );
    let reads = |consumer: &str, shard: u32| -> Vec<f64> {
        rows.consumers
            .iter()
            .filter(|r| r.consumer == consumer && r.shard_id.0 == shard && r.read_records > 0)
            .map(|r| r.time_s)
            .collect()
    };
    let parent_last = *reads("app", 0).last().unwrap();
    assert!(parent_last >= 300.0, "the parent is read after the split: {parent_last}");
    for child in [1, 2] {
        let child_first = reads("app", child)[0];
        assert!(
            child_first >= parent_last,
            "child {child} read at {child_first} before the parent's end at {parent_last}"
        );
    }
    let poller_child_first = reads("poller", 1)[0].min(reads("poller", 2)[0]);
    let poller_parent_last = *reads("poller", 0).last().unwrap();
    assert!(poller_child_first <= poller_parent_last, "a plain poller does not wait");
}

/// A KCL application that processes slower than it fetches holds the parent's records
/// in its queue after the split: the children wait until those are processed too, not
/// only fetched (reference §6.1).
#[test]
fn kcl_processes_the_parent_before_fetching_the_children() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "3m"
        [output]
        consumers = "5s"
        shards = "off"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 900
        arrivals = "uniform"
        record_size = 500
        keys = { kind = "uniform", count = 1000 }
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 1
        workers = 2
        start = "trim_horizon"
        processing = { records_per_second = 700 }
        [[actions]]
        at = "60s"
        kind = "split_shard"
        shard = "shardId-000000000000"
        "#,
    );
    let delivered = |shard: u32| -> Vec<f64> {
        rows.consumers.iter().filter(|r| r.shard_id.0 == shard && r.read_records > 0).map(|r| r.time_s).collect()
    };
    let parent_last = *delivered(0).last().unwrap();
    assert!(parent_last >= 60.0, "the parent's queue is processed after the split: {parent_last}");
    for child in [1, 2] {
        let child_first = delivered(child)[0];
        assert!(child_first >= parent_last, "child {child} delivered at {child_first}, the parent until {parent_last}");
    }
}

/// A dead KCL worker delivers nothing: what it had fetched and not processed is gone
/// with it, its checkpoints never passed what it processed, and the new owner reads
/// those records again from the checkpoint. (Its queue ran on after it died, 3,791
/// records "delivered" from a shard no live worker held.)
#[test]
fn a_dead_kcl_worker_delivers_nothing() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "4m"
        [output]
        consumers = "5s"
        shards = "off"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 1000
        arrivals = "uniform"
        record_size = 500
        keys = { kind = "uniform", count = 1000 }
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 1
        workers = 2
        start = "trim_horizon"
        checkpoint_interval = "30s"
        processing = { records_per_second = 400 }
        failures = [["120s", 1]]
        "#,
    );
    let taken_s: f64 = rows
        .events
        .iter()
        .find(|e| e.kind == "kcl_worker_failed")
        .and_then(|e| e.detail.split(" at ").nth(1))
        .and_then(|rest| rest.split('s').next())
        .and_then(|t| t.parse().ok())
        .expect("the failure names when the lease is taken");
    assert!(taken_s > 130.0, "the lease moves after the failover time: {taken_s}");
    let delivered_while_dead: u64 = rows
        .consumers
        .iter()
        .filter(|r| r.shard_id.0 == 1 && (120.0..taken_s - 5.0).contains(&r.time_s))
        .map(|r| r.read_records)
        .sum();
    assert_eq!(delivered_while_dead, 0, "nothing is delivered from shard 1 between 120 s and {taken_s} s");
    let app = &result.summary.consumers[0];
    let written = result.summary.incoming_records;
    assert_eq!(app.read_records + app.unread_records_end, written, "each record delivered once or still unread");
}

/// The last KCL worker dies with records queued: nobody reads the shard again, and what
/// it had not processed counts as unread (the run's conservation check holds).
#[test]
fn the_last_kcl_worker_dies_with_records_queued() {
    let (result, _) = common::run_toml(
        r#"
        seed = 1269757172
        duration = "1m"
        step = "100ms"
        [stream]
        mode = "on_demand"
        write_limit = { enforcement = "token_bucket", bucket_depth = "2s" }
        [[producers]]
        name = "p0"
        rate = 438
        arrivals = { kind = "bursty", cv = 2.0 }
        record_size = 1
        keys = { kind = "uniform", count = 3 }
        api = "put_record"
        [[consumers]]
        name = "c0"
        kind = "kcl"
        kcl_version = 2
        workers = 1
        failures = [["2s", 0]]
        checkpoint_interval = "1s"
        failover_time = "5s"
        processing = { per_record = "316us" }
        "#,
    );
    let c0 = &result.summary.consumers[0];
    assert!(c0.read_records < result.summary.accepted_records / 10, "{} read before the failure", c0.read_records);
    assert_eq!(c0.read_records + c0.unread_records_end, result.summary.accepted_records);
}

/// A KCL application a day behind loses a worker whose queue holds records the stream
/// has since expired: dropped, they count as expired, not as nothing (the run's
/// conservation check panicked).
#[test]
fn a_dropped_queue_of_expired_records_counts_them_as_expired() {
    let (result, _) = common::run_toml(
        r#"
        seed = 2
        duration = "26h"
        metrics_period = "1h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 100
        record_size = 100
        keys = { kind = "uniform", count = 1000 }
        [[consumers]]
        name = "k"
        kind = "kcl"
        kcl_version = 1
        workers = 2
        start = "trim_horizon"
        failover_time = "10s"
        checkpoint_interval = "60s"
        failures = [["92160s", 0]]
        processing = { records_per_second = 5 }
        "#,
    );
    let k = &result.summary.consumers[0];
    assert!(k.expired_unread_records > 0);
    assert_eq!(k.read_records + k.expired_unread_records + k.unread_records_end, result.summary.accepted_records);
}

/// Workers that join steal one lease per lease-taker run from the most loaded worker
/// until the leases are balanced; each stolen shard resumes at its checkpoint.
#[test]
fn kcl_joining_workers_steal_one_lease_at_a_time() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "10m"
        [stream]
        shards = 6
        [[producers]]
        name = "p"
        rate = 600
        keys = { kind = "uniform", count = 1000 }
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 1
        workers = 1
        start = "trim_horizon"
        checkpoint_interval = "20s"
        joins = ["2m", "2m"]
        "#,
    );
    let steals: Vec<_> = rows.events.iter().filter(|e| e.kind == "kcl_lease_stolen").collect();
    assert_eq!(steals.len(), 4, "6 leases over 3 workers: 2 each, stolen one at a time");
    for worker in ["worker 1", "worker 2"] {
        let times: Vec<f64> = steals.iter().filter(|e| e.detail.contains(worker)).map(|e| e.time_s).collect();
        assert_eq!(times.len(), 2);
        // One steal per taker run: 2 * (10 s + 25 ms) apart.
        assert!((times[1] - times[0] - 20.05).abs() < 1e-6, "{times:?}");
    }
    let consumer = &result.summary.consumers[0];
    assert!(consumer.reprocessed_records > 0 && consumer.reprocessed_records <= 4 * 100 * 21);
}

/// KCL 3.x's lease assignment moves every lease balance needs in one run (every
/// 2 x failover) and hands each off gracefully at the old owner's position, so a worker
/// joining causes no reprocessing, unlike 1.x's one steal per taker run from the last
/// checkpoint.
#[test]
fn kcl_3_hands_leases_off_gracefully_in_one_assignment_run() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "10m"
        [stream]
        shards = 6
        [[producers]]
        name = "p"
        rate = 600
        keys = { kind = "uniform", count = 1000 }
        [[consumers]]
        name = "app"
        kind = "kcl"
        kcl_version = 3
        retrieval = "polling"
        workers = 1
        start = "trim_horizon"
        checkpoint_interval = "20s"
        joins = ["2m", "2m"]
        "#,
    );
    let steals: Vec<_> = rows.events.iter().filter(|e| e.kind == "kcl_lease_stolen").collect();
    // 6 leases over 3 workers: each newcomer takes two in its first run (the shards'
    // loads differ a little, so a later run may still trade one for balance).
    for worker in ["worker 1", "worker 2"] {
        let times: Vec<f64> = steals.iter().filter(|e| e.detail.contains(worker)).map(|e| e.time_s).collect();
        assert!(times.len() >= 2 && times[0] == times[1], "two in one assignment run: {times:?}");
    }
    assert_eq!(result.summary.consumers[0].reprocessed_records, 0, "graceful handoff re-reads nothing");
}

/// Poison records fail every batch they are in. Without bisect-on-error the whole batch
/// is retried and then discarded; with it, Lambda halves the batch until the poison is
/// alone, and only the poison records are lost.
#[test]
fn lambda_bisect_on_error_loses_only_the_poison_records() {
    let run = |bisect: bool| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 29
            duration = "10m"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = 200
            keys = {{ kind = "uniform", count = 1000 }}
            [[consumers]]
            name = "fn"
            kind = "lambda"
            start = "trim_horizon"
            batch_size = 100
            parallelization_factor = 4
            function_duration = "20ms"
            poison_rate = 0.001
            max_retry_attempts = 2
            bisect_on_error = {bisect}
            "#
        ));
        result.summary
    };
    let (plain, bisected) = (run(false), run(true));
    let poison_expected = 0.001 * plain.accepted_records as f64;
    let lost_bisected = bisected.consumers[0].discarded_records as f64;
    let lost_plain = plain.consumers[0].discarded_records as f64;
    assert!((lost_bisected - poison_expected).abs() < 0.5 * poison_expected + 5.0, "bisect loses {lost_bisected}");
    assert!(lost_plain > 20.0 * lost_bisected, "without bisect whole batches are lost: {lost_plain}");
    for s in [&plain, &bisected] {
        let c = &s.consumers[0];
        assert_eq!(
            s.accepted_records,
            c.read_records + c.discarded_records + c.expired_unread_records + c.unread_records_end
        );
    }
}

/// Bisecting isolates a poison record, but with Lambda's default of unlimited retries
/// the isolated record is retried alone until it expires or passes `max_record_age`, and
/// the shard waits behind it (facts §8.2): bisecting bounds what is lost, not the wait.
#[test]
fn lambda_bisect_with_unlimited_retries_still_blocks_behind_the_poison() {
    let run = |extra: &str| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 8
            duration = "300s"
            [stream]
            shards = 1
            [[producers]]
            name = "p"
            rate = 100
            arrivals = "uniform"
            record_size = 100
            [[consumers]]
            name = "fn"
            kind = "lambda"
            start = "trim_horizon"
            batch_size = 100
            function_duration = "100ms"
            poison_rate = 0.001
            bisect_on_error = true
            {extra}
            "#
        ));
        let s = result.summary;
        let c = s.consumers[0].clone();
        assert_eq!(s.accepted_records, c.read_records + c.discarded_records + c.unread_records_end);
        c
    };
    let forever = run("");
    assert_eq!(forever.discarded_records, 0);
    assert!(forever.read_records < 1_000, "the first poison record blocks the shard: {}", forever.read_records);
    let aged = run("max_record_age = \"120s\"");
    assert!(aged.discarded_records > 0 && aged.discarded_records < 100, "{} discarded", aged.discarded_records);
    assert!(aged.latency_ms_p99 > 100_000.0, "records wait behind each poison record: p99 {}", aged.latency_ms_p99);
    let two = run("max_retry_attempts = 2");
    assert!(two.read_records > 29_000, "two retries alone, then discarded: {} read", two.read_records);
}

/// With unlimited retries, a poison record blocks its shard until it expires with the
/// stream's retention (facts §8.2: "until the records expire"), and then the records
/// behind it, which have waited too, expire as the mapping reaches them. A mapping whose
/// records outlived retention blocked the shard to the run's end.
#[test]
fn lambda_retries_end_when_records_expire_with_retention() {
    let (result, _) = common::run_toml(
        r#"
        seed = 8
        duration = "26h"
        metrics_period = "1h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 1
        arrivals = "uniform"
        record_size = 100
        [[consumers]]
        name = "fn"
        kind = "lambda"
        start = "trim_horizon"
        batch_size = 100
        function_duration = "100ms"
        poison_rate = 0.0001
        bisect_on_error = true
        "#,
    );
    let s = result.summary;
    let c = &s.consumers[0];
    assert_eq!(
        s.accepted_records,
        c.read_records + c.discarded_records + c.expired_unread_records + c.unread_records_end
    );
    assert!(c.discarded_records > 0, "the poison record is discarded once it passes 24 h");
    assert!(c.read_records > 3_600, "the shard moves again after a day: {} read", c.read_records);
}

/// A shard that is closed and read to its end is done: GetRecords gives no next
/// iterator, so it is not polled again, and KCL deletes its lease
/// (`cleanupLeasesUponShardCompletion`), so a joining worker balances the open shards'
/// leases only. (The drained parents were polled every second and their leases stolen.)
#[test]
fn ended_shards_are_not_polled_and_their_kcl_leases_are_gone() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 2
        duration = "300s"
        [output]
        consumers = "1m"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 400
        [[consumers]]
        name = "k"
        kind = "kcl"
        workers = 1
        joins = ["120s"]
        [[actions]]
        at = "30s"
        kind = "update_shard_count"
        target_shards = 4
        "#,
    );
    let stolen: Vec<&str> =
        rows.events.iter().filter(|e| e.kind == "kcl_lease_stolen").map(|e| e.detail.as_str()).collect();
    assert_eq!(stolen.len(), 2, "two of the four open shards move to the new worker: {stolen:?}");
    for detail in &stolen {
        assert!(!detail.starts_with("shardId-000000000000") && !detail.starts_with("shardId-000000000001"), "{detail}");
    }
    // The parents closed at 35 s; once drained, no more calls.
    let parents = ["shardId-000000000000", "shardId-000000000001"];
    let parent_rows: Vec<_> =
        rows.consumers.iter().filter(|r| parents.contains(&r.shard_id.to_string().as_str())).collect();
    assert_eq!(parent_rows.len(), 10, "five minutes of rows for each parent");
    for row in parent_rows {
        let calls_max = if row.time_s == 0.0 { 60 } else { 0 };
        assert!(row.get_records_calls <= calls_max, "{} s: {} calls", row.time_s, row.get_records_calls);
    }
}

/// A KCL worker's processing capacity is shared by the shards it holds: two workers of
/// 1,000 records/s each keep up with 1,200 records/s over 4 shards (2 shards, 500/s
/// each per worker), but once one dies the survivor's 1,000/s is spread over all 4
/// shards (250/s each, below their 300/s): processing drops to 1,000 records/s and the
/// iterator age grows.
#[test]
fn kcl_processing_capacity_is_per_worker_and_shared_by_its_leases() {
    let run = |failures: &str| {
        common::run_toml(&format!(
            r#"
            seed = 43
            duration = "20m"
            [output]
            consumers = "1m"
            [stream]
            shards = 4
            [[producers]]
            name = "p"
            rate = 1200
            arrivals = "uniform"
            keys = {{ kind = "uniform", count = 4000 }}
            [[consumers]]
            name = "app"
            kind = "kcl"
            kcl_version = 1
            workers = 2
            failover_time = "10s"
            processing = {{ records_per_second = 1000 }}
            {failures}
            "#
        ))
    };
    let (healthy, rows) = run("");
    let consumer = &healthy.summary.consumers[0];
    assert!(consumer.iterator_age_ms_max < 5_000.0, "two workers keep up: {}", consumer.iterator_age_ms_max);
    // Batches are a GetRecords call's worth (up to 10,000 records), so count over the
    // last 10 minutes, when the failover's catch-up is long over.
    let last_10_min = |rows: &kinesim_models::metrics::MemoryRecorder| -> f64 {
        rows.consumers.iter().filter(|r| r.time_s >= 600.0).map(|r| r.read_records).sum::<u64>() as f64 / 600.0
    };
    let per_s = last_10_min(&rows);
    assert!((per_s - 1_200.0).abs() < 70.0, "it processes what comes: {per_s}");
    let (failed, rows) = run("failures = [[\"5m\", 1]]");
    let per_s = last_10_min(&rows);
    assert!((per_s - 1_000.0).abs() < 70.0, "one worker processes 1,000/s: {per_s}");
    assert!(failed.summary.consumers[0].iterator_age_ms_max > 60_000.0, "it falls behind");
}

/// A closed parent's lease stays with its worker until what was fetched from it is
/// processed: the worker's capacity is shared with the children meanwhile, so it never
/// processes more than its 100 records/s, give or take the batches in flight. (The lease
/// was dropped once the parent was fetched to its end, and its queue then ran at full
/// speed beside the children: 34,054 records in 5 minutes.)
#[test]
fn a_kcl_worker_keeps_its_capacity_across_a_split() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "5m"
        [output]
        consumers = "1m"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 150
        arrivals = "uniform"
        [[consumers]]
        name = "k"
        kind = "kcl"
        workers = 1
        kcl_version = 1
        max_records = 1000
        processing = { records_per_second = 100 }
        [[actions]]
        at = "60s"
        kind = "split_shard"
        shard = "shardId-000000000000"
        "#,
    );
    // Records count when their batch completes: up to three lanes (the parent's and the
    // children's) may each complete a batch of 1,000 beyond the five minutes' 30,000.
    let processed: u64 = rows.consumers.iter().map(|row| row.read_records).sum();
    assert!(processed <= 5 * 6_000 + 3 * 1_000, "{processed} records processed in 5 minutes");
    assert!(processed >= 5 * 6_000 - 3 * 1_000, "the worker stays busy: {processed}");
}

/// A Lambda function that fails a poison record in next to no time retries it without
/// end within a step; the lane's batches per step are bounded and the run goes on (it
/// panicked once bisecting kept the isolated record).
#[test]
fn a_lambda_retrying_a_poison_record_in_no_time_is_bounded() {
    let (result, _) = common::run_toml(
        r#"
        duration = "20s"
        [stream]
        shards = 1
        [[producers]]
        name = "p"
        rate = 100
        [[consumers]]
        name = "fn"
        kind = "lambda"
        start = "trim_horizon"
        batch_size = 100
        function_duration = { per_record = "100ns" }
        poison_rate = 0.01
        bisect_on_error = true
        "#,
    );
    let s = &result.summary;
    let c = &s.consumers[0];
    assert_eq!(s.accepted_records, c.read_records + c.discarded_records + c.unread_records_end);
    assert!(c.failed_batches > 1_000_000, "the poison record keeps failing: {}", c.failed_batches);
}
