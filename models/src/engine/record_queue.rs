//! The record-mode queue: every record, retry and PutRecords flush waiting for its
//! instant, served in (due time, insertion) order one data step at a time.
//!
//! Order. Each entry gets a sequence number when it is queued, and the queue hands out
//! entries by (due time, sequence): the earliest first, and of two due at the same
//! nanosecond, the one queued first. That is the order of one global priority queue;
//! the layout below only makes it cheaper to produce.
//!
//! Layout. The step being served is cut into bins of `2^bin_shift` ns (a calendar).
//! When a step starts, what earlier steps queued for it is dropped into its bins, and so
//! are its new records as they are drawn; a bin is sorted when serving reaches
//! it, and the bins hold a handful of entries each, so that sort is a few comparisons
//! per entry instead of a sort of the whole step. An entry queued while the step is
//! served and due within it goes to its bin too: appended to a bin not reached yet, or
//! inserted in order into the bin being served (it can not be due before the entry being
//! served: it is queued at that entry's instant or later). An entry due in a later step
//! waits in that step's bucket: a ring of buckets for the next [`LATER_RING_STEPS`]
//! steps, a map for the rare entries due beyond it (a backoff cap or linger of up to an
//! hour against a step of a millisecond), so memory follows what waits, not how far.
//!
//! Payloads travel with their keys, so serving reads each bin front to back.

use super::record::RECORDS_WAITING_MAX;
use std::collections::{BTreeMap, VecDeque};

/// Later steps with a bucket in the ring; entries due further ahead wait in a map.
pub const LATER_RING_STEPS: usize = 1 << 12;

/// The most bins a step is cut into (a bound on the calendar's memory and on the empty
/// bins a sparse step walks).
pub const BINS_PER_STEP_MAX: u64 = 1 << 16;

/// How many entries a bin is sized to hold on average, from the entries known when a
/// step starts: small enough that sorting a bin is a few comparisons per entry, large
/// enough that a sparse step does not walk many empty bins.
const ENTRIES_PER_BIN_TARGET: u64 = 8;

/// A queued entry: (due time, sequence) packed into one integer whose order is theirs
/// (the time in the high 64 bits), and its payload. The payload travels with its key:
/// a bin is read front to back, so the payload is in cache when it is served, where a
/// payload kept apart (in slots reused in any order) was a cache miss per entry.
#[derive(Copy, Clone, Debug)]
struct Entry<T> {
    key: u128,
    payload: T,
}

impl<T> Entry<T> {
    fn due_ns(&self) -> u64 {
        (self.key >> 64) as u64
    }
}

/// Bins up to this long are sorted by counting ranks; longer ones by comparisons.
const RANK_SORT_MAX: usize = 32;

/// Bins spanning up to `2^RANK_SORT_SPAN_BITS` ns are sorted by counting ranks (an
/// entry's offset in its bin and its place then fit 31 bits); wider ones, which only
/// sparse steps have, by comparisons.
const RANK_SORT_SPAN_BITS: u32 = 26;

const _: () = assert!((RANK_SORT_MAX as u64) << RANK_SORT_SPAN_BITS <= 1 << 31);

/// Sorts a bin of `2^span_bits` ns from `base_ns` into key order.
///
/// A bin holds its entries in the order they were queued, which is their sequence
/// order: what earlier steps queued for the step comes first (the map's entries before
/// the ring's, as an entry enters the ring only once its step is near), then the step's
/// new records, then what serving appends. So due time then place in the bin is key
/// order. Small bins are sorted by counting each entry's rank over a fixed width, with
/// no branch that depends on the times: a comparison sort of random times mispredicts
/// about one branch per entry, over half of record mode's mispredictions.
fn sort_bin<T: Copy>(bin: &mut Vec<Entry<T>>, base_ns: u64, span_bits: u32, scratch: &mut Vec<Entry<T>>) {
    debug_assert!(bin.windows(2).all(|pair| (pair[0].key as u64) < (pair[1].key as u64)), "queued in sequence");
    let len = bin.len();
    if len > RANK_SORT_MAX || span_bits > RANK_SORT_SPAN_BITS {
        bin.sort_unstable_by_key(|entry| entry.key);
    } else if len > 16 {
        sort_by_rank::<RANK_SORT_MAX, T>(bin, base_ns, scratch);
    } else if len > 8 {
        sort_by_rank::<16, T>(bin, base_ns, scratch);
    } else if len > 1 {
        sort_by_rank::<8, T>(bin, base_ns, scratch);
    }
    debug_assert!(bin.windows(2).all(|pair| pair[0].key < pair[1].key), "sorted by key");
}

/// [`sort_bin`] for bins of at most `WIDTH` entries: an entry's rank is the number of
/// entries whose (due time, place) is smaller, counted over all `WIDTH` places (the
/// unused ones hold the largest value), so every loop runs a fixed number of times, and
/// over 32-bit values, so the counting runs four at a time in vector registers.
///
/// The entries are copied once, in order, into `scratch`, which then becomes the bin
/// (the two vectors trade places, each keeping its allocation).
fn sort_by_rank<const WIDTH: usize, T: Copy>(bin: &mut Vec<Entry<T>>, base_ns: u64, scratch: &mut Vec<Entry<T>>) {
    debug_assert!(bin.len() <= WIDTH && WIDTH <= RANK_SORT_MAX);
    let mut order = [i32::MAX; WIDTH];
    for (index, (order, entry)) in order.iter_mut().zip(bin.iter()).enumerate() {
        let offset_ns = entry.due_ns() - base_ns;
        debug_assert!(offset_ns < 1 << RANK_SORT_SPAN_BITS, "within its bin");
        *order = (offset_ns as i32) << 5 | index as i32;
    }
    // `place_of_rank[r]`: the place in the bin of the entry of rank `r`.
    let mut place_of_rank = [0u8; WIDTH];
    for (index, &own) in order.iter().enumerate().take(bin.len()) {
        let rank = order.iter().map(|&other| i32::from(other < own)).sum::<i32>();
        place_of_rank[rank as usize] = index as u8;
    }
    scratch.clear();
    scratch.extend(place_of_rank[..bin.len()].iter().map(|&place| bin[usize::from(place)]));
    std::mem::swap(bin, scratch);
}

/// The time-ordered queue of record mode (see the module documentation).
pub(super) struct RecordQueue<T> {
    sequence: u64,
    /// Entries waiting anywhere (bounded by [`RECORDS_WAITING_MAX`]).
    waiting: usize,
    step_ns: u64,
    /// The step being served: `[step_start_ns, step_end_ns)`.
    step_start_ns: u64,
    step_end_ns: u64,
    /// New records queued in the step being served (sizes the next step's bins).
    new_last_step: usize,
    /// The bins of the step being served; `bins[..bin_count]` are in use.
    bins: Vec<Vec<Entry<T>>>,
    bin_count: usize,
    bin_shift: u32,
    /// The bin being served, whether it is sorted yet, and its first entry not served.
    bin_next: usize,
    bin_sorted: bool,
    bin_read: usize,
    /// Buckets of the steps from `later_first_step` on: `later[i]` holds what is due in
    /// step `later_first_step + i` (at most [`LATER_RING_STEPS`] of them).
    later: VecDeque<Vec<Entry<T>>>,
    later_first_step: u64,
    /// What is due beyond the ring, by step index.
    beyond: BTreeMap<u64, Vec<Entry<T>>>,
    /// Emptied buckets kept for their allocations.
    spare: Vec<Vec<Entry<T>>>,
    /// The vector a sorted bin is gathered into, which then trades places with the bin
    /// ([`sort_bin`]); kept for its allocation.
    sort_scratch: Vec<Entry<T>>,
}

impl<T: Copy> RecordQueue<T> {
    pub(super) fn new(step_ns: u64) -> RecordQueue<T> {
        assert!(step_ns > 0, "a step has a length");
        RecordQueue {
            sequence: 0,
            waiting: 0,
            step_ns,
            step_start_ns: 0,
            step_end_ns: 0,
            new_last_step: 0,
            bins: Vec::new(),
            bin_count: 0,
            bin_shift: 0,
            bin_next: 0,
            bin_sorted: false,
            bin_read: 0,
            later: VecDeque::new(),
            later_first_step: 0,
            beyond: BTreeMap::new(),
            spare: Vec::new(),
            sort_scratch: Vec::new(),
        }
    }

    fn entry(&mut self, due_ns: u64, payload: T) -> Entry<T> {
        self.sequence += 1;
        self.waiting += 1;
        assert!(self.waiting <= RECORDS_WAITING_MAX, "the record queue is bounded");
        Entry { key: (u128::from(due_ns) << 64) | u128::from(self.sequence), payload }
    }

    /// Starts step `index`, `[index * step, (index + 1) * step)`: the entries earlier
    /// steps queued for it go to their bins. Steps start in order, each after the
    /// previous one was served to its end; the step's new records are queued next
    /// ([`Self::push_new`]), then it is served ([`Self::pop`]).
    pub(super) fn begin_step(&mut self, index: u64) {
        assert_eq!(self.bin_next, self.bin_count, "a step serves everything due within it");
        assert_eq!(self.later_first_step, index, "steps are served in order");
        self.step_start_ns = index * self.step_ns;
        self.step_end_ns = self.step_start_ns + self.step_ns;
        let carried = self.later.pop_front().unwrap_or_default();
        let far = self.beyond.remove(&index).unwrap_or_default();
        debug_assert!(self.beyond.keys().all(|&step| step > index), "nothing is left behind");
        self.later_first_step = index + 1;
        // The step's new records are not drawn yet: the previous step's count stands in
        // for theirs. The estimate only sizes the bins; the order does not depend on it.
        let known = carried.len() + far.len() + self.new_last_step;
        self.new_last_step = 0;
        self.cut_bins(known as u64);
        // Sequence order (far, then carried, then new) keeps the bins nearly sorted.
        for entries in [far, carried] {
            self.fill_bins(&entries);
            self.recycle(entries);
        }
    }

    /// Queues a new record of the step just started, before it is served: straight into
    /// its bin.
    pub(super) fn push_new(&mut self, due_ns: u64, payload: T) {
        debug_assert!(self.bin_next == 0 && !self.bin_sorted, "new records come before serving");
        let entry = self.entry(due_ns, payload);
        self.new_last_step += 1;
        let bin = self.bin_of(due_ns);
        self.bins[bin].push(entry);
    }

    /// Cuts the step's bins again, before serving, when far more entries came than they
    /// were sized for: the first step's new records, which had no step before them to go
    /// by, or a surge. Without it one bin could hold a whole step of a heavy load, and
    /// every entry queued into the bin being served would move all those after it (a
    /// quadratic cost). The order served does not depend on the bins.
    pub(super) fn recut_if_crowded(&mut self) {
        debug_assert!(self.bin_next == 0 && !self.bin_sorted, "before serving");
        let queued: usize = self.bins[..self.bin_count].iter().map(Vec::len).sum();
        if queued <= 4 * ENTRIES_PER_BIN_TARGET as usize * self.bin_count {
            return;
        }
        // Nothing to gain when the bins are already as fine as a step allows.
        if self.bin_shift_for(queued as u64) >= self.bin_shift {
            return;
        }
        let mut entries = self.spare.pop().unwrap_or_default();
        for bin in &mut self.bins[..self.bin_count] {
            entries.append(bin);
        }
        self.cut_bins(queued as u64);
        self.fill_bins(&entries);
        self.recycle(entries);
    }

    /// The bin width (as a power of two of nanoseconds) for `known` entries in a step:
    /// about [`ENTRIES_PER_BIN_TARGET`] each, at most [`BINS_PER_STEP_MAX`] bins.
    fn bin_shift_for(&self, known: u64) -> u32 {
        let width_ns = (self.step_ns * ENTRIES_PER_BIN_TARGET / known.max(1)).max(1);
        let shift_for_load = width_ns.ilog2();
        let shift_for_bound = (self.step_ns.div_ceil(BINS_PER_STEP_MAX)).next_power_of_two().ilog2();
        shift_for_load.max(shift_for_bound)
    }

    /// Sizes the bins of the step being started for `known` entries.
    fn cut_bins(&mut self, known: u64) {
        self.bin_shift = self.bin_shift_for(known);
        let bin_count = ((self.step_ns - 1) >> self.bin_shift) + 1;
        assert!(bin_count <= BINS_PER_STEP_MAX, "the bins of a step are bounded");
        self.bin_count = bin_count as usize;
        if self.bins.len() < self.bin_count {
            self.bins.resize_with(self.bin_count, Vec::new);
        }
        self.bin_next = 0;
        self.bin_sorted = false;
        self.bin_read = 0;
    }

    fn fill_bins(&mut self, entries: &[Entry<T>]) {
        for &entry in entries {
            let bin = self.bin_of(entry.due_ns());
            self.bins[bin].push(entry);
        }
    }

    /// The bin of the step being served that holds `due_ns`.
    fn bin_of(&self, due_ns: u64) -> usize {
        debug_assert!((self.step_start_ns..self.step_end_ns).contains(&due_ns), "due within the step");
        ((due_ns - self.step_start_ns) >> self.bin_shift) as usize
    }

    fn recycle(&mut self, mut bucket: Vec<Entry<T>>) {
        if bucket.capacity() > 0 && self.spare.len() < LATER_RING_STEPS {
            bucket.clear();
            self.spare.push(bucket);
        }
    }

    /// Takes the next entry of the step being served, in (due time, sequence) order, or
    /// `None` once the step has been served to its end.
    ///
    /// The payload is lent, not copied: the caller copies out the fields it needs by
    /// their own types. (Copied whole, an enum payload went through a stack copy made in
    /// parts that a later wider read of one field could not be forwarded from.)
    pub(super) fn pop(&mut self) -> Option<(u64, &T)> {
        while self.bin_next < self.bin_count {
            if !self.bin_sorted {
                let base_ns = self.step_start_ns + ((self.bin_next as u64) << self.bin_shift);
                sort_bin(&mut self.bins[self.bin_next], base_ns, self.bin_shift, &mut self.sort_scratch);
                self.bin_sorted = true;
            }
            if self.bin_read < self.bins[self.bin_next].len() {
                self.bin_read += 1;
                self.waiting -= 1;
                let entry = &self.bins[self.bin_next][self.bin_read - 1];
                return Some((entry.due_ns(), &entry.payload));
            }
            let bin = &mut self.bins[self.bin_next];
            bin.clear();
            self.bin_next += 1;
            self.bin_sorted = false;
            self.bin_read = 0;
        }
        None
    }

    /// Queues an entry while a step is served, due no earlier than the entry being
    /// served: in its bin when due within the step, else in the bucket of its step.
    #[inline]
    pub(super) fn push(&mut self, due_ns: u64, payload: T) {
        let entry = self.entry(due_ns, payload);
        if due_ns < self.step_end_ns {
            self.push_within(entry);
        } else {
            self.push_later(entry);
        }
    }

    fn push_within(&mut self, entry: Entry<T>) {
        let bin_index = self.bin_of(entry.due_ns());
        assert!(bin_index >= self.bin_next, "nothing is queued before the entry being served");
        let bin = &mut self.bins[bin_index];
        if bin_index == self.bin_next && self.bin_sorted {
            // Its sequence is the highest yet, so it goes after every entry due at or
            // before its instant; the ones served already are all due before it or at it.
            let unread = &bin[self.bin_read..];
            let at = self.bin_read + unread.partition_point(|queued| queued.key < entry.key);
            bin.insert(at, entry);
        } else {
            bin.push(entry);
        }
    }

    fn push_later(&mut self, entry: Entry<T>) {
        // Most backoffs end in the next step: no division for those.
        let step = if entry.due_ns() < self.step_end_ns + self.step_ns {
            self.later_first_step
        } else {
            entry.due_ns() / self.step_ns
        };
        debug_assert!(step >= self.later_first_step, "later entries are due after the step being served");
        let offset = (step - self.later_first_step) as usize;
        if offset >= LATER_RING_STEPS {
            self.beyond.entry(step).or_default().push(entry);
            return;
        }
        while self.later.len() <= offset {
            let bucket = self.spare.pop().unwrap_or_default();
            self.later.push_back(bucket);
        }
        self.later[offset].push(entry);
    }

    /// Entries waiting anywhere in the queue.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// A step's plan: new records (due offsets within the step), and for each served
    /// entry how many follow-ups it queues and how far after it.
    #[derive(Clone, Debug)]
    struct StepPlan {
        new_offsets_ns: Vec<u64>,
        follow_up_delays_ns: Vec<u64>,
    }

    /// Serves `steps` through a `RecordQueue` and through one binary heap keyed by
    /// (due, sequence); both must hand out the same entries in the same order.
    fn serve_both(step_ns: u64, steps: &[StepPlan]) {
        let mut queue: RecordQueue<u64> = RecordQueue::new(step_ns);
        let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
        let mut id = 0u64;
        for (index, plan) in steps.iter().enumerate() {
            let start_ns = index as u64 * step_ns;
            queue.begin_step(index as u64);
            for &offset_ns in &plan.new_offsets_ns {
                id += 1;
                queue.push_new(start_ns + offset_ns % step_ns, id);
                heap.push(Reverse((start_ns + offset_ns % step_ns, id)));
            }
            queue.recut_if_crowded();
            let mut delays = plan.follow_up_delays_ns.iter().cycle().take(plan.follow_up_delays_ns.len() * 3);
            loop {
                let expected = match heap.peek() {
                    Some(&Reverse((due_ns, _))) if due_ns < start_ns + step_ns => heap.pop().map(|e| e.0),
                    _ => None,
                };
                let served = queue.pop().map(|(due_ns, &id)| (due_ns, id));
                assert_eq!(served, expected);
                let Some((due_ns, _)) = served else { break };
                if let Some(&delay_ns) = delays.next() {
                    id += 1;
                    queue.push(due_ns + delay_ns, id);
                    heap.push(Reverse((due_ns + delay_ns, id)));
                }
            }
            assert_eq!(queue.waiting(), heap.len());
        }
    }

    fn plan(step_ns: u64) -> impl Strategy<Value = StepPlan> {
        (
            prop::collection::vec(0..step_ns, 0..60),
            prop::collection::vec(prop_oneof![Just(0u64), 0..step_ns / 8, 0..step_ns * 3, 0..step_ns * 5000], 0..20),
        )
            .prop_map(|(new_offsets_ns, follow_up_delays_ns)| StepPlan { new_offsets_ns, follow_up_delays_ns })
    }

    proptest! {
        #[test]
        fn serves_in_due_then_sequence_order(steps in prop::collection::vec(plan(1_000_000), 1..12)) {
            serve_both(1_000_000, &steps);
        }

        #[test]
        fn sorting_a_bin_gives_key_order(
            offsets_ns in prop::collection::vec(prop_oneof![0..4u64, 0..(1u64 << 26)], 0..50),
            span_bits in prop_oneof![Just(RANK_SORT_SPAN_BITS), Just(RANK_SORT_SPAN_BITS + 1)],
        ) {
            // Entries in queueing (sequence) order, many due at the same instant.
            let base_ns = 7_000_000_000;
            let mut bin: Vec<Entry<u32>> = offsets_ns
                .iter()
                .enumerate()
                .map(|(place, &offset_ns)| Entry {
                    key: (u128::from(base_ns + offset_ns) << 64) | (place as u128 + 1),
                    payload: place as u32,
                })
                .collect();
            let mut expected = bin.clone();
            expected.sort_unstable_by_key(|entry| entry.key);
            sort_bin(&mut bin, base_ns, span_bits, &mut Vec::new());
            let keys = |entries: &[Entry<u32>]| entries.iter().map(|e| (e.key, e.payload)).collect::<Vec<_>>();
            prop_assert_eq!(keys(&bin), keys(&expected));
        }

        #[test]
        fn serves_in_order_with_coarse_steps(steps in prop::collection::vec(plan(1_000_000_000), 1..6)) {
            serve_both(1_000_000_000, &steps);
        }
    }

    #[test]
    fn ties_are_served_in_the_order_they_were_queued() {
        let mut queue: RecordQueue<u32> = RecordQueue::new(1_000);
        queue.begin_step(0);
        for id in 0..5 {
            queue.push_new(500, id);
        }
        assert_eq!(queue.pop().map(|(due_ns, &id)| (due_ns, id)), Some((500, 0)));
        queue.push(500, 5);
        let rest: Vec<_> = std::iter::from_fn(|| queue.pop().map(|(due_ns, &id)| (due_ns, id))).collect();
        assert_eq!(rest, vec![(500, 1), (500, 2), (500, 3), (500, 4), (500, 5)]);
    }

    /// The first step has no step before it to size its bins by: a heavy one is cut
    /// again before serving, so no bin holds the whole step.
    #[test]
    fn a_crowded_step_is_cut_into_more_bins() {
        let step_ns = 1_000_000_000;
        let mut queue: RecordQueue<u32> = RecordQueue::new(step_ns);
        queue.begin_step(0);
        assert_eq!(queue.bin_count, 1, "sized for no entries");
        for id in 0..10_000 {
            queue.push_new(u64::from(id) * 99_991 % step_ns, id);
        }
        queue.recut_if_crowded();
        assert!(queue.bin_count >= 10_000 / ENTRIES_PER_BIN_TARGET as usize / 2, "{}", queue.bin_count);
        let largest = queue.bins[..queue.bin_count].iter().map(Vec::len).max().unwrap();
        assert!(largest <= 4 * ENTRIES_PER_BIN_TARGET as usize, "{largest}");
        let mut served = 0;
        let mut due_last_ns = 0;
        while let Some((due_ns, _)) = queue.pop() {
            assert!(due_ns >= due_last_ns);
            due_last_ns = due_ns;
            served += 1;
        }
        assert_eq!(served, 10_000);
    }

    #[test]
    fn far_entries_wait_beyond_the_ring() {
        let mut queue: RecordQueue<u32> = RecordQueue::new(1_000);
        queue.begin_step(0);
        queue.push_new(10, 1);
        assert_eq!(queue.pop().map(|(due_ns, &id)| (due_ns, id)), Some((10, 1)));
        let far_step = LATER_RING_STEPS as u64 + 7;
        queue.push(far_step * 1_000 + 3, 2);
        assert_eq!(queue.pop().map(|(due_ns, &id)| (due_ns, id)), None);
        for index in 1..far_step {
            queue.begin_step(index);
            assert_eq!(queue.pop().map(|(due_ns, &id)| (due_ns, id)), None);
        }
        queue.begin_step(far_step);
        assert_eq!(queue.pop().map(|(due_ns, &id)| (due_ns, id)), Some((far_step * 1_000 + 3, 2)));
        assert_eq!(queue.waiting(), 0);
    }
}
