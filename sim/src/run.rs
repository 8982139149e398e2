//! The event loop.
//!
//! A model is a [`Process`]: one value that owns all model state and handles
//! one event at a time. The loop pops events in the queue's total order and
//! hands each to the process, which may schedule more. There is exactly one
//! thread of control and no callback registry, so the order in which state
//! changes is the order of the queue and nothing else.
//!
//! [`run_until`] stops at an instant given by the caller and leaves later
//! events pending, so a run can be advanced in slices (for example to take
//! periodic snapshots) with the same result as one long call.

use crate::queue::{EventQueue, Phase};
use crate::time::SimTime;

/// A model driven by the event loop.
pub trait Process {
    /// The payload of the model's events.
    type Event;

    /// Handles one event that happens at `now` in `phase`.
    ///
    /// The handler may schedule further events at `now` or later; scheduling
    /// earlier panics in [`EventQueue::schedule`].
    fn handle(&mut self, now: SimTime, phase: Phase, event: Self::Event, queue: &mut EventQueue<Self::Event>);
}

/// What a call to [`run_until`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct RunStats {
    /// The number of events handled by this call.
    pub events_handled: u64,
    /// The time of the last event handled, or the queue's `now` on entry if
    /// none was handled.
    pub time_last: SimTime,
}

/// Handles, in order, every pending event whose time is at or before `stop`,
/// including events scheduled by the handlers themselves, and leaves later
/// events in the queue.
///
/// Panics if `stop` is before the queue's current time, which would mean the
/// caller lost track of the clock.
pub fn run_until<P: Process>(process: &mut P, queue: &mut EventQueue<P::Event>, stop: SimTime) -> RunStats {
    assert!(stop >= queue.now(), "run_until stops at {} ns, before the current time {} ns", stop.0, queue.now().0);
    let mut stats = RunStats { events_handled: 0, time_last: queue.now() };
    while queue.peek_time().is_some_and(|time| time <= stop) {
        let scheduled = queue.pop().expect("peeked event is pending");
        assert!(scheduled.time >= stats.time_last, "time went backwards");
        assert!(scheduled.time <= stop);
        stats.time_last = scheduled.time;
        stats.events_handled += 1;
        process.handle(scheduled.time, scheduled.phase, scheduled.event, queue);
    }
    if let Some(time) = queue.peek_time() {
        debug_assert!(time > stop);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    /// A ticker that reschedules itself every `period` and logs what it sees.
    struct Ticker {
        period: SimDuration,
        log: Vec<(u64, u8, u32)>,
    }

    impl Process for Ticker {
        type Event = u32;

        fn handle(&mut self, now: SimTime, phase: Phase, event: u32, queue: &mut EventQueue<u32>) {
            self.log.push((now.0, phase.0, event));
            if phase == Phase(1) {
                // A same-instant follow-up in a later phase runs before the
                // next tick.
                queue.schedule(now, Phase(2), event + 1_000);
                queue.schedule(now + self.period, Phase(1), event + 1);
            }
        }
    }

    fn ticker() -> (Ticker, EventQueue<u32>) {
        let mut queue = EventQueue::new(64);
        queue.schedule(SimTime(0), Phase(1), 0);
        let ticker = Ticker { period: SimDuration(10), log: Vec::new() };
        (ticker, queue)
    }

    #[test]
    fn runs_events_up_to_and_including_stop() {
        let (mut ticker, mut queue) = ticker();
        let stats = run_until(&mut ticker, &mut queue, SimTime(20));
        assert_eq!(stats.events_handled, 6);
        assert_eq!(stats.time_last, SimTime(20));
        assert_eq!(ticker.log, [(0, 1, 0), (0, 2, 1_000), (10, 1, 1), (10, 2, 1_001), (20, 1, 2), (20, 2, 1_002)]);
        assert_eq!(queue.peek_time(), Some(SimTime(30)));
    }

    #[test]
    fn slices_give_the_same_result_as_one_call() {
        let (mut whole, mut whole_queue) = ticker();
        run_until(&mut whole, &mut whole_queue, SimTime(1_000));
        let (mut sliced, mut sliced_queue) = ticker();
        let mut handled = 0;
        for stop in [0, 5, 5, 333, 999, 1_000] {
            handled += run_until(&mut sliced, &mut sliced_queue, SimTime(stop)).events_handled;
        }
        assert_eq!(handled, whole.log.len() as u64);
        assert_eq!(whole.log, sliced.log);
    }

    #[test]
    fn empty_slice_reports_current_time() {
        let (mut ticker, mut queue) = ticker();
        run_until(&mut ticker, &mut queue, SimTime(15));
        let stats = run_until(&mut ticker, &mut queue, SimTime(19));
        assert_eq!(stats, RunStats { events_handled: 0, time_last: SimTime(10) });
    }
}
