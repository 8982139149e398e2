//! Kernel throughput: events per second through the event queue and run loop on a
//! simple model, the per-record mode's unit of work. Run with
//! `cargo bench -p kinesim-sim --bench kernel`; results are recorded in BENCHMARKS.md.
//!
//! The model: independent sources, each an event that handles itself by counting and
//! rescheduling itself after a gap, so the queue holds one pending event per source
//! throughout (as a per-record run holds one pending arrival per producer instance,
//! retries and polls). With `Gaps::Fixed` (each source its own period) the time is the
//! kernel's alone: queue push and pop, the run loop and dispatch. With `Gaps::Poisson`
//! each gap is an exponential draw from the source's own seeded ChaCha8 stream, which
//! adds the cost of a reproducible random number and a logarithm per event.

use kinesim_sim::sample::exponential;
use kinesim_sim::{run_until, EventQueue, Phase, Process, RandomStream, SeedKey, SimDuration, SimTime};
use std::time::Instant;

/// Events per run (about).
const EVENTS: f64 = 2e7;
const REPEATS: usize = 5;

#[derive(Copy, Clone, Debug, PartialEq)]
enum Gaps {
    Fixed,
    Poisson,
}

struct Sources {
    gaps: Gaps,
    streams: Vec<RandomStream>,
    mean_gap_ns: f64,
    handled: Vec<u64>,
}

impl Process for Sources {
    type Event = u32;

    fn handle(&mut self, now: SimTime, phase: Phase, source: u32, queue: &mut EventQueue<u32>) {
        let index = source as usize;
        self.handled[index] += 1;
        let gap_ns = match self.gaps {
            // Periods differ a little between sources, so their events interleave.
            Gaps::Fixed => self.mean_gap_ns as u64 + u64::from(source),
            Gaps::Poisson => exponential(self.streams[index].rng(), self.mean_gap_ns) as u64,
        };
        queue.schedule(now + SimDuration::from_nanos(gap_ns.max(1)), phase, source);
    }
}

/// Runs `sources` sources of `rate_per_source` events/s for about [`EVENTS`] events;
/// returns the events handled and the best wall time.
fn bench(gaps: Gaps, sources: u32, rate_per_source: f64) -> (u64, f64) {
    let duration_ns = (EVENTS / (f64::from(sources) * rate_per_source) * 1e9) as u64;
    let mut best_s = f64::INFINITY;
    let mut events = 0;
    for _ in 0..=REPEATS {
        let key = SeedKey::from_master(1);
        let mut model = Sources {
            gaps,
            streams: (0..sources).map(|i| RandomStream::new(&key, &format!("source/{i}"))).collect(),
            mean_gap_ns: 1e9 / rate_per_source,
            handled: vec![0; sources as usize],
        };
        let mut queue = EventQueue::new(sources as usize);
        for source in 0..sources {
            queue.schedule(SimTime::ZERO, Phase(0), source);
        }
        let start = Instant::now();
        let stats = run_until(&mut model, &mut queue, SimTime::ZERO + SimDuration::from_nanos(duration_ns));
        best_s = best_s.min(start.elapsed().as_secs_f64());
        assert!(events == 0 || events == stats.events_handled, "runs are deterministic");
        events = stats.events_handled;
        assert_eq!(events, model.handled.iter().sum::<u64>());
    }
    (events, best_s)
}

fn main() {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    for gaps in [Gaps::Fixed, Gaps::Poisson] {
        for (sources, rate) in [(16, 100_000.0), (1_000, 1_000.0), (100_000, 10.0)] {
            let name = format!("kernel-{gaps:?}-{sources}-sources").to_lowercase();
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let (events, best_s) = bench(gaps, sources, rate);
            println!(
                "{name}: {events} events in {best_s:.3} s best of {REPEATS}: {:.1} M events/s, {:.1} ns/event",
                events as f64 / best_s / 1e6,
                best_s / events as f64 * 1e9
            );
        }
    }
}
