//! Every example experiment validates and runs to completion through the binary.

mod common;

#[test]
fn every_example_runs() {
    let mut examples: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/experiments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 3);
    for example in examples {
        let name = example.file_stem().unwrap().to_string_lossy().into_owned();
        let out = common::scratch(&format!("example-{name}"));
        let output = common::kinesim().arg("run").arg(&example).arg("--out").arg(&out).output().unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains("replay: kinesim run"), "{name} prints how to replay it");
        assert!(out.join("summary.json").exists(), "{name} writes summary.json");
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert!(summary["offered_records"].as_u64().unwrap() > 0, "{name} offers traffic");
    }
}

/// The examples make the points their comments claim.
#[test]
fn examples_show_what_they_say() {
    let run = |name: &str| {
        let out = common::scratch(&format!("claim-{name}"));
        let status =
            common::kinesim().args(["run", &format!("experiments/{name}.toml"), "--quiet", "--out"]).arg(&out).status();
        assert!(status.unwrap().success());
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
    };
    let quickstart = run("quickstart");
    assert_eq!(quickstart["write_throttled_records"], 0);
    let hot = run("hot-key");
    assert!(hot["write_throttle_rate"].as_f64().unwrap() > 0.05, "the hot key throttles");
    let record = run("record-mode");
    assert!(record["write_throttled_records"].as_u64().unwrap() > 0, "near its limit the shard rejects some records");
    let orders = &record["producers"]["orders"];
    let (p50, p99) = (orders["latency_ms_p50"].as_f64().unwrap(), orders["latency_ms_p99"].as_f64().unwrap());
    assert!(p50 < 50.0 && p99 > 1.5 * p50, "per-record latency: inside the linger, with a tail (p50 {p50}, p99 {p99})");
    let backoff = run("backoff-fix");
    let dropped = |name: &str| backoff["producers"][name]["dropped_records"].as_u64().unwrap();
    assert!(dropped("full-jitter") * 20 < dropped("no-retry"), "full jitter loses far less than no retries");
    assert!(dropped("sdk-default") * 2 > dropped("no-retry"), "the SDK default still loses much in a long burst");
    let batching = run("batching-fix");
    let throttle_rate = |name: &str| {
        let producer = &batching["producers"][name];
        producer["write_throttled_records"].as_f64().unwrap() / producer["attempted_records"].as_f64().unwrap()
    };
    assert!(throttle_rate("put-record-loop") > 0.25, "PutRecord in a loop throttles");
    assert!(throttle_rate("put-records") > 0.25, "batching alone does not raise the records limit");
    assert!(throttle_rate("kpl") * 10.0 <= throttle_rate("put-record-loop"), "aggregation is ten times better");
    let storm = run("retry-storm");
    let producer = |name: &str, field: &str| storm["producers"][name][field].as_f64().unwrap();
    let amplification = |name: &str| producer(name, "attempted_records") / producer(name, "offered_records");
    assert!(producer("kpl-no-backoff", "expired_records") > 10_000.0, "the KPL loses records to RecordTtl");
    assert!(amplification("sdk-standard") < 1.2, "the SDK quota stops retries");
    assert!(amplification("full-jitter") > amplification("kpl-no-backoff"), "full jitter retries most");
    assert!(producer("full-jitter", "dropped_records") * 4.0 < producer("sdk-standard", "dropped_records"));
    let contention = run("polling-contention");
    let consumer = |name: &str, field: &str| contention["consumers"][name][field].as_f64().unwrap();
    assert!(consumer("fan-out-1", "read_bytes") > 2.0 * consumer("poller-1", "read_bytes"));
    assert_eq!(consumer("fan-out-1", "read_throttled_calls"), 0.0);
    let fan_out_usd = contention["cost_usd"]["efo_consumer_shard_hours"].as_f64().unwrap()
        + contention["cost_usd"]["efo_data"].as_f64().unwrap();
    let share = fan_out_usd / contention["cost_usd_total"].as_f64().unwrap();
    assert!((0.6..0.7).contains(&share), "fan-out is two thirds of the bill: {share}");
    assert!(consumer("poller-1", "read_throttled_calls") > 100.0);
    let replay = run("replay-hurts-live");
    assert!(
        replay["consumers"]["live"]["iterator_age_ms_max"].as_f64().unwrap() > 5_000.0,
        "the replay delays the live one"
    );
    let lambda = run("lambda-lag");
    let age = |name: &str| lambda["consumers"][name]["iterator_age_ms_max"].as_f64().unwrap();
    assert!(age("default") > 60_000.0 && age("bigger-batches") > 60_000.0, "too little capacity: it lags");
    assert!(age("parallel") < 1_000.0, "four lanes keep up");
    let retention = run("retention-loss");
    let lost = |name: &str| retention["consumers"][name]["expired_unread_records"].as_u64().unwrap();
    assert!(lost("slow-analytics") > 1_000_000, "the slow consumer loses data to retention");
    assert_eq!(lost("archiver"), 0);
    let kcl = run("kcl-failover");
    let sessionizer = &kcl["consumers"]["sessionizer"];
    assert!(sessionizer["reprocessed_records"].as_u64().unwrap() > 1_000, "the failover re-reads since the checkpoint");
    assert!(sessionizer["latency_ms_max"].as_f64().unwrap() > 10_000.0, "the moved shards wait for the failover");
    let requests = |name: &str| batching["producers"][name]["put_requests"].as_u64().unwrap();
    assert!(requests("put-records") * 20 < requests("put-record-loop"), "batching saves requests");
    let surge = run("on-demand-surge");
    assert_eq!(surge["shards_open_max"], 32, "4 -> 8 -> 16 -> 32 as traffic stays above half the limit");
    assert!(surge["dropped_records"].as_u64().unwrap() > 1_000_000, "the spike outlasts the retries");
}
