//! Data-plane throughput benchmarks. Run with `cargo bench --bench engine`.
//!
//! Each case parses an experiment, runs it once to warm up, then `REPEATS` (5) times,
//! and prints the best wall time and the shard-steps per second (the unit of work of
//! the stepped data plane: one step of one open shard, consumers included). Results
//! are recorded in BENCHMARKS.md; targets are checked there, never in tests.

use kinesim_models::metrics::NullRecorder;
use kinesim_models::simulate;
use kinesim_models::spec::Fidelity;
use std::path::Path;
use std::time::Instant;

const REPEATS: usize = 5;

/// `KINESIM_BENCH_REPEATS=0` runs each case once (the warm-up): for profilers.
fn repeats() -> usize {
    std::env::var("KINESIM_BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(REPEATS)
}

const DAY_64_SHARDS: &str = r#"
name = "bench-day-64-shards"
seed = 1
duration = "24h"
step = "1s"
[stream]
shards = 64
[[producers]]
name = "web"
rate = 50000
instances = 50
arrivals = "poisson"
record_size = 1024
keys = { kind = "zipf", count = 100000, exponent = 0.9 }
[[consumers]]
name = "reader"
kind = "polling"
start = "trim_horizon"
"#;

/// The same run without per-shard and per-consumer rows (only `stream.csv` periods),
/// to show what the per-period consumer histograms and backlog scans cost.
fn day_64_shards_stream_rows_only() -> String {
    DAY_64_SHARDS.replace("[stream]", "[output]\nshards = \"off\"\nconsumers = \"off\"\n[stream]")
}

/// The day case scaled: `shards` shards for `hours` hours, with the offered load per
/// shard of the day case (781.25 records/s, 78% of the records limit) and random keys
/// (every shard takes the same share), so that the work per shard-step stays the same
/// and only the amount of it changes. (Zipf keys would put a growing share of a growing
/// total on the hottest shard; 10,000 named keys, as this table used, spread unevenly
/// over 256 shards, about 39 each, and the fullest throttle, which costs more per
/// shard-step since quiet shards coast.)
fn scaled(shards: u32, hours: u32) -> String {
    let rate = 50_000.0 / 64.0 * f64::from(shards);
    DAY_64_SHARDS
        .replace("duration = \"24h\"", &format!("duration = \"{hours}h\""))
        .replace("shards = 64", &format!("shards = {shards}"))
        .replace("rate = 50000", &format!("rate = {rate}"))
        .replace("keys = { kind = \"zipf\", count = 100000, exponent = 0.9 }", "keys = { kind = \"random\" }")
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let mut cases = vec![
        ("day-64-shards-50k-rps-zipf-1-poller".to_string(), DAY_64_SHARDS.to_string()),
        ("day-64-shards-50k-rps-zipf-1-poller-stream-rows-only".to_string(), day_64_shards_stream_rows_only()),
        // The day case cut to one hour, for profiling under callgrind.
        ("profile-hour-64-shards".to_string(), DAY_64_SHARDS.replace("duration = \"24h\"", "duration = \"1h\"")),
    ];
    // The scaling table: time against shards (24 h each, long enough that the smallest
    // case is timed to within a few percent), then against duration (64 shards).
    for shards in [16, 32, 64, 128, 256] {
        cases.push((format!("scaling-shards-{shards:03}-24h"), scaled(shards, 24)));
    }
    for hours in [3, 6, 12, 24, 48] {
        cases.push((format!("scaling-hours-64-shards-{hours:02}h"), scaled(64, hours)));
    }
    // Record mode (issue target: under 0.25 s), the experiment of `benches/record-4.toml`.
    cases.push(("record-4-shards-3k-rps-10m".to_string(), include_str!("record-4.toml").to_string()));
    for (name, text) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        bench(&name, &text);
    }
}

fn bench(name: &str, text: &str) {
    let spec = kinesim::parse(Path::new("benches/inline.toml"), text).expect("benchmark experiment is valid");
    let warmup = simulate(&spec, &mut NullRecorder);
    let mut best_s = f64::INFINITY;
    let mut best_cpu_s = f64::INFINITY;
    let repeats = repeats();
    for _ in 0..repeats {
        let (start, start_cpu_s) = (Instant::now(), thread_cpu_s());
        let result = simulate(&spec, &mut NullRecorder);
        best_s = best_s.min(start.elapsed().as_secs_f64());
        best_cpu_s = best_cpu_s.min(thread_cpu_s() - start_cpu_s);
        assert_eq!(result.summary, warmup.summary, "runs are deterministic");
    }
    // Record mode's unit of work is one attempt of one record; the stepped mode's, one
    // step of one open shard.
    let (unit, work) = match spec.fidelity {
        Fidelity::Record => ("attempt", warmup.summary.attempted_records as f64),
        Fidelity::Stepped => ("shard-step", warmup.summary.shard_steps as f64),
    };
    println!(
        "{name}: {best_s:.3} s wall ({best_cpu_s:.3} s CPU) best of {repeats}, {work:.0} {unit}s, {:.1} M {unit}s/s, {:.0} ns/{unit} (CPU), write throttle rate {:.4}",
        work / best_s / 1e6,
        best_cpu_s / work * 1e9,
        warmup.summary.write_throttle_rate
    );
}

/// CPU time of the calling thread, in seconds: what one core spent on the run, which
/// other processes on a shared machine change much less than the wall time.
fn thread_cpu_s() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the
    // platform defines.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}
