//! The stepped data plane allocates nothing per step (DESIGN "Performance notes": the
//! hot path is allocation-free). A counting allocator watches one run of a stream with
//! a hot shard whose throttled records are retried (the retry wheel once allocated map
//! nodes every step), read by a plain poller, an enhanced fan-out consumer and
//! Lambda-style batch processing (which once took a fresh vector for every batch): a
//! run three times as long may allocate only a little more (a few per metrics period),
//! not once per step.
//!
//! This file holds one test: the counter is global to the test binary, and tests run
//! in parallel threads.

use kinesim_models::metrics::NullRecorder;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the system allocator through `alloc` or `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc` holds.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const STREAM: &str = r#"
seed = 3
metrics_period = "10m"
[output]
shards = "10m"
consumers = "10m"
[stream]
shards = 4
[[producers]]
name = "orders"
rate = 2400
record_size = 400
keys = { kind = "uniform", count = 2000 }
[[producers]]
name = "hot"
rate = 3000
record_size = 400
keys = { kind = "zipf", count = 100, exponent = 1.5 }
retry = { kind = "exponential", base = "100ms", cap = "5s", max_attempts = 6, jitter = "full" }
[[consumers]]
name = "poller"
kind = "polling"
[[consumers]]
name = "fan-out"
kind = "efo"
[[consumers]]
name = "lambda"
kind = "lambda"
batch_size = 100
function_duration = { fixed = "20ms", per_record = "2ms" }
"#;

/// Allocations made by one in-memory run of [`STREAM`] for `duration`.
fn allocations_of_run(duration: &str) -> u64 {
    let text = format!("duration = \"{duration}\"\n{STREAM}");
    let spec = kinesim::parse(Path::new("tests/allocations.toml"), &text).expect("a valid experiment");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = kinesim_models::simulate(&spec, &mut NullRecorder);
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(result.summary.accepted_records > 0, "the stream carried records");
    assert!(result.summary.write_throttled_records > 0, "the hot shard throttled, so records were retried");
    after - before
}

#[test]
fn steps_allocate_nothing() {
    let short = allocations_of_run("10m");
    let long = allocations_of_run("30m");
    // 1,200 more one-second steps, each with writes, retries, polls, pushes and Lambda
    // batches.
    let extra_steps = 1_200;
    let extra = long.saturating_sub(short);
    assert!(
        extra < extra_steps / 10,
        "20 more minutes took {extra} more allocations ({short} for 10 minutes, {long} for 30): the per-step path allocates"
    );
}
