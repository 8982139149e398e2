//! Same experiment and seed, same bytes; and random streams belong to components by
//! name, so adding a consumer changes nothing the producers do.

mod common;

const EXPERIMENT: &str = "experiments/hot-key.toml";

/// The files of an output folder besides its plots: the contract files, and no
/// temporary file left behind.
const OUTPUT_FILES: [&str; 8] = [
    "consumers.csv",
    "cost.csv",
    "events.csv",
    "hot_keys.csv",
    "report.html",
    "shards.csv",
    "stream.csv",
    "summary.json",
];

/// The names of `files` outside `plots/`.
fn names_besides_plots(files: &Files) -> Vec<&str> {
    files.iter().map(|(name, _)| name.as_str()).filter(|n| !n.starts_with("plots/")).collect()
}

#[test]
fn same_seed_gives_byte_identical_outputs() {
    let (a, b) = two_runs(EXPERIMENT, "hot-key");
    assert_eq!(
        names_besides_plots(&a),
        OUTPUT_FILES,
        "the run writes the contract files and no temporary file is left behind"
    );
    assert!(a.iter().filter(|(name, _)| name.starts_with("plots/") && name.ends_with(".svg")).count() >= 5);
    assert!(a == b, "two runs with the same seed differ; replay: kinesim run {EXPERIMENT}");
}

/// An output folder's files, sorted by name, with their bytes.
type Files = Vec<(String, Vec<u8>)>;

/// Runs `example` twice and returns both output folders' files.
fn two_runs(example: &str, label: &str) -> (Files, Files) {
    let first = common::scratch(&format!("determinism-{label}-a"));
    let second = common::scratch(&format!("determinism-{label}-b"));
    for folder in [&first, &second] {
        let status = common::kinesim().args(["run", example, "--quiet", "--out"]).arg(folder).status().unwrap();
        assert!(status.success());
    }
    (common::folder_bytes(&first), common::folder_bytes(&second))
}

fn events(files: &[(String, Vec<u8>)]) -> String {
    String::from_utf8_lossy(&files.iter().find(|(name, _)| name == "events.csv").expect("events.csv").1).into_owned()
}

/// With a scaling policy the control plane depends on the data (published metrics), so
/// a reshard a moment earlier or later would show: the bytes must still agree. Also for
/// a policy that is a separate program, and for AWS's on-demand splitting.
#[test]
fn runs_whose_shard_map_follows_the_traffic_are_byte_identical() {
    for (example, label, sign) in [
        ("experiments/autoscaler-flash-crowd.toml", "policy", "update_shard_count,"),
        ("experiments/autoscaler-external.toml", "external", "update_shard_count,"),
        ("experiments/on-demand-surge.toml", "on-demand", "split_shard,"),
    ] {
        let (a, b) = two_runs(example, label);
        assert!(events(&a).contains(sign), "{example}: the shard map changed");
        assert!(a == b, "two runs with the same seed differ; replay: kinesim run {example}");
    }
}

#[test]
fn another_seed_gives_other_outputs() {
    let first = common::scratch("seed-a");
    let second = common::scratch("seed-b");
    for (folder, seed) in [(&first, "1"), (&second, "2")] {
        let status = common::kinesim()
            .args(["run", EXPERIMENT, "--quiet", "--seed", seed, "--out"])
            .arg(folder)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let read = |folder: &std::path::Path| std::fs::read(folder.join("stream.csv")).unwrap();
    assert_ne!(read(&first), read(&second));
}

const BASE: &str = r#"
    seed = 99
    duration = "5m"
    [stream]
    shards = 3
    [[producers]]
    name = "a"
    rate = 2500
    keys = { kind = "zipf", count = 100, exponent = 1.0 }
    retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 5 }
    [[producers]]
    name = "b"
    rate = { kind = "bursts", base = 100, peak = 900, every = "1m", length = "5s" }
    arrivals = "bursty"
    record_size = { kind = "lognormal", median = 2000, sigma = 0.7 }
    retry = "sdk_standard"
    [[consumers]]
    name = "first"
    kind = "polling"
"#;

#[test]
fn adding_a_consumer_does_not_change_what_producers_do() {
    let (alone, alone_rows) = common::run_toml(BASE);
    let with_second =
        format!("{BASE}\n[[consumers]]\nname = \"second\"\nkind = \"polling\"\nstart = \"trim_horizon\"\n");
    let (both, both_rows) = common::run_toml(&with_second);
    assert_eq!(alone.summary.producers, both.summary.producers);
    let writes = |rows: &[kinesim_models::metrics::StreamRow]| {
        rows.iter().map(|r| (r.offered_records, r.incoming_records, r.write_throttled_records)).collect::<Vec<_>>()
    };
    assert_eq!(writes(&alone_rows.stream), writes(&both_rows.stream));
    assert_eq!(both.summary.consumers.len(), 2);
}

/// Record mode draws every record's time, key, size and backoff from named streams:
/// the same seed gives the same bytes, every output file included.
#[test]
fn record_mode_is_byte_identical_for_the_same_seed() {
    let (a, b) = two_runs("experiments/record-mode.toml", "record-mode");
    assert_eq!(names_besides_plots(&a), OUTPUT_FILES, "record mode writes every output file");
    assert!(a == b, "two record-mode runs with the same seed differ; replay: kinesim run experiments/record-mode.toml");
}
