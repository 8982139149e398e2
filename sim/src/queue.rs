//! The pending-event queue.
//!
//! Events leave the queue in the order (time, phase, insertion sequence):
//!
//! - **time** first, because causes must be handled before their effects;
//! - **phase** next, because many things happen at the same instant (a
//!   periodic tick, a timer, an arrival) and the model must say which of them
//!   sees the others' effects. A phase is a small number chosen by the model;
//!   lower phases run first;
//! - **insertion sequence** last, so that two events with the same time and
//!   phase leave in the order they were scheduled (first in, first out).
//!
//! The three keys together form a total order, so the result never depends on
//! how the binary heap happens to break ties, on the payload type, or on the
//! standard library's version. The payload itself is never compared and does
//! not need `Ord`.
//!
//! The queue also keeps `now`, the time of the last event popped, and refuses
//! events scheduled before it: an event in the past would silently reorder
//! history. Its length is bounded by `capacity_max` so that a runaway model
//! fails loudly instead of consuming all memory.

use core::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// The order of events within one instant; lower phases run first.
///
/// Phases make same-instant ordering an explicit, reviewable decision of the
/// model instead of an accident of scheduling order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Phase(pub u8);

impl Phase {
    /// The phase that runs before every other phase of an instant.
    pub const FIRST: Phase = Phase(0);
    /// The phase that runs after every other phase of an instant.
    pub const LAST: Phase = Phase(u8::MAX);
}

/// An event taken out of the queue, with the time and phase it was scheduled at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled<E> {
    /// When the event happens.
    pub time: SimTime,
    /// Its order within that instant.
    pub phase: Phase,
    /// The model's payload.
    pub event: E,
}

/// The queue is full: `capacity_max` events are already pending.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event queue is full: {capacity_max} events are already pending")]
pub struct QueueFull {
    /// The bound given to [`EventQueue::new`].
    pub capacity_max: usize,
}

/// Insertion sequences fit below the phase in the low word of the packed key.
const SEQUENCE_BITS: u32 = 56;

/// One pending event with its ordering key, (time, phase, insertion sequence) packed
/// into one integer whose order is the lexicographic order of the three: time in the
/// high 64 bits, then the phase in 8 bits, then the sequence in [`SEQUENCE_BITS`]. One
/// comparison instead of three makes the heap's sifting, the kernel's inner loop,
/// about a third cheaper.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    fn new(time: SimTime, phase: Phase, sequence: u64, event: E) -> Entry<E> {
        debug_assert!(sequence < 1 << SEQUENCE_BITS);
        let order = (u64::from(phase.0) << SEQUENCE_BITS) | sequence;
        Entry { key: (u128::from(time.0) << 64) | u128::from(order), event }
    }

    fn key(&self) -> u128 {
        self.key
    }

    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }

    fn phase(&self) -> Phase {
        Phase((self.key as u64 >> SEQUENCE_BITS) as u8)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, because `BinaryHeap` pops its greatest element and the queue
    /// must pop the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A bounded priority queue of future events, popped in (time, phase,
/// insertion sequence) order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    capacity_max: usize,
    sequence_next: u64,
    now: SimTime,
}

impl<E> EventQueue<E> {
    /// At most this many slots are reserved up front; a larger bound is
    /// reached by growing, so a generous bound does not cost memory unused.
    const CAPACITY_RESERVED_MAX: usize = 1 << 16;

    /// An empty queue that holds at most `capacity_max` pending events, with
    /// `now` at the start of the run.
    pub fn new(capacity_max: usize) -> EventQueue<E> {
        assert!(capacity_max > 0, "event queue capacity must be positive");
        EventQueue {
            heap: BinaryHeap::with_capacity(capacity_max.min(Self::CAPACITY_RESERVED_MAX)),
            capacity_max,
            sequence_next: 0,
            now: SimTime::ZERO,
        }
    }

    /// Schedules `event` at `time` in `phase`.
    ///
    /// Panics if the queue is full or if `time` is before [`EventQueue::now`];
    /// both are bugs in the model. Scheduling at exactly `now` is allowed, and
    /// such an event runs in the current instant after the events already
    /// pending for it in the same or lower phases.
    pub fn schedule(&mut self, time: SimTime, phase: Phase, event: E) {
        if let Err(full) = self.try_schedule(time, phase, event) {
            panic!("{full}");
        }
    }

    /// Schedules `event` like [`EventQueue::schedule`], but reports a full
    /// queue as an error instead of panicking. Scheduling in the past still
    /// panics.
    pub fn try_schedule(&mut self, time: SimTime, phase: Phase, event: E) -> Result<(), QueueFull> {
        assert!(time >= self.now, "event scheduled in the past: at {} ns, now is {} ns", time.0, self.now.0);
        if self.heap.len() >= self.capacity_max {
            return Err(QueueFull { capacity_max: self.capacity_max });
        }
        let sequence = self.sequence_next;
        assert!(sequence < 1 << SEQUENCE_BITS, "event sequence overflow");
        self.sequence_next = sequence + 1;
        self.heap.push(Entry::new(time, phase, sequence, event));
        debug_assert!(self.heap.len() <= self.capacity_max);
        Ok(())
    }

    /// Removes and returns the earliest event, advancing `now` to its time.
    pub fn pop(&mut self) -> Option<Scheduled<E>> {
        let entry = self.heap.pop()?;
        let (time, phase) = (entry.time(), entry.phase());
        assert!(time >= self.now, "event queue went back in time");
        self.now = time;
        Some(Scheduled { time, phase, event: entry.event })
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(Entry::time)
    }

    /// The time and phase of the earliest pending event.
    pub fn peek_key(&self) -> Option<(SimTime, Phase)> {
        self.heap.peek().map(|entry| (entry.time(), entry.phase()))
    }

    /// Drops every pending event, so a run loop stops after the event being handled:
    /// how a process ends a run early (a fatal condition outside the model).
    pub fn cancel_all(&mut self) {
        self.heap.clear();
    }

    /// The number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The time of the last popped event, or the start of the run if none was
    /// popped yet.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The bound on pending events given to [`EventQueue::new`].
    pub fn capacity_max(&self) -> usize {
        self.capacity_max
    }

    /// The number of events ever scheduled on this queue.
    pub fn scheduled_total(&self) -> u64 {
        self.sequence_next
    }
}

impl<E> core::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.heap.len())
            .field("capacity_max", &self.capacity_max)
            .field("now", &self.now)
            .field("peek_key", &self.peek_key())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload without `Ord`, to show that ordering never looks at it.
    #[derive(Debug, PartialEq)]
    struct Payload(&'static str);

    fn drain(queue: &mut EventQueue<Payload>) -> Vec<&'static str> {
        core::iter::from_fn(|| queue.pop().map(|scheduled| scheduled.event.0)).collect()
    }

    #[test]
    fn cancel_all_leaves_nothing_pending_and_keeps_the_clock() {
        let mut queue = EventQueue::new(8);
        queue.schedule(SimTime(5), Phase(0), Payload("a"));
        queue.schedule(SimTime(9), Phase(0), Payload("b"));
        assert_eq!(drain_one(&mut queue), "a");
        queue.cancel_all();
        assert!(queue.is_empty());
        assert_eq!(queue.now(), SimTime(5));
        queue.schedule(SimTime(6), Phase(0), Payload("c"));
        assert_eq!(drain(&mut queue), vec!["c"]);
    }

    fn drain_one(queue: &mut EventQueue<Payload>) -> &'static str {
        queue.pop().expect("pending").event.0
    }

    #[test]
    fn pops_by_time_then_phase_then_insertion() {
        let mut queue = EventQueue::new(16);
        queue.schedule(SimTime(20), Phase(0), Payload("t20"));
        queue.schedule(SimTime(10), Phase(2), Payload("t10 p2 first"));
        queue.schedule(SimTime(10), Phase(1), Payload("t10 p1"));
        queue.schedule(SimTime(10), Phase(2), Payload("t10 p2 second"));
        queue.schedule(SimTime(5), Phase::LAST, Payload("t5"));
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.peek_time(), Some(SimTime(5)));
        assert_eq!(drain(&mut queue), ["t5", "t10 p1", "t10 p2 first", "t10 p2 second", "t20"]);
        assert!(queue.is_empty());
        assert_eq!(queue.now(), SimTime(20));
        assert_eq!(queue.scheduled_total(), 5);
    }

    #[test]
    fn fifo_among_many_equal_keys() {
        let mut queue = EventQueue::new(2_000);
        for index in 0..1_000u32 {
            queue.schedule(SimTime(7), Phase(3), index);
        }
        for expected in 0..1_000u32 {
            assert_eq!(queue.pop().unwrap().event, expected);
        }
    }

    #[test]
    fn now_follows_pops_and_allows_same_instant() {
        let mut queue = EventQueue::new(4);
        assert_eq!(queue.now(), SimTime::ZERO);
        queue.schedule(SimTime(100), Phase(1), Payload("a"));
        let popped = queue.pop().unwrap();
        assert_eq!((popped.time, popped.phase), (SimTime(100), Phase(1)));
        assert_eq!(queue.now(), SimTime(100));
        queue.schedule(SimTime(100), Phase(0), Payload("same instant"));
        assert_eq!(queue.pop().unwrap().event, Payload("same instant"));
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn scheduling_in_the_past_panics() {
        let mut queue = EventQueue::new(4);
        queue.schedule(SimTime(100), Phase(0), ());
        queue.pop();
        queue.schedule(SimTime(99), Phase(0), ());
    }

    #[test]
    fn full_queue_is_reported() {
        let mut queue = EventQueue::new(2);
        queue.schedule(SimTime(1), Phase(0), ());
        queue.schedule(SimTime(2), Phase(0), ());
        assert_eq!(queue.try_schedule(SimTime(3), Phase(0), ()), Err(QueueFull { capacity_max: 2 }));
        queue.pop();
        assert_eq!(queue.try_schedule(SimTime(3), Phase(0), ()), Ok(()));
    }

    #[test]
    #[should_panic(expected = "event queue is full")]
    fn full_queue_panics_on_schedule() {
        let mut queue = EventQueue::new(1);
        queue.schedule(SimTime(1), Phase(0), ());
        queue.schedule(SimTime(2), Phase(0), ());
    }
}
