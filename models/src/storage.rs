//! A shard's stored records, kept as compact blocks.
//!
//! Lifecycle of a block: the write step appends one block per shard holding everything
//! the shard accepted in that step (record count, byte total, the span of arrival
//! times, when it becomes readable). Recent blocks stay fine-grained; once more than
//! [`FINE_BLOCKS_MAX`] are held, the oldest are coalesced into blocks spanning up to
//! [`COARSE_SPAN_NS`] of arrivals, so memory follows backlog and retention, not run
//! length. A block leaves when every reader has passed it or when its newest record is
//! older than the retention period. Within a block, arrival times are interpolated
//! linearly and bytes are spread evenly over its records (`bytes_before`), so partial
//! reads always add up to the block's exact byte total.

use crate::ratio::scale;
use kinesim_sim::num::{count_to_f64, f64_to_count};
use std::collections::VecDeque;

/// Fine blocks kept before the oldest are coalesced.
pub const FINE_BLOCKS_MAX: usize = 256;
/// The longest arrival span of a coalesced block: one minute.
pub const COARSE_SPAN_NS: u64 = 60 * 1_000_000_000;
/// Coalesced blocks kept at a log's own (shorter) span before the default one applies:
/// 64 MiB of blocks per shard.
pub const SHORT_SPAN_BLOCKS_MAX: usize = 1 << 20;

/// Records stored together; offsets count records appended to the shard since it opened.
///
/// A block is 64 bytes and aligned to 64, so reading one touches one cache line, not
/// two: every step touches a few blocks of every shard, more data than the first-level
/// cache holds between steps.
#[derive(Copy, Clone, Debug, PartialEq)]
#[repr(align(64))]
pub struct Block {
    pub offset_first: u64,
    /// User records (what readers get after de-aggregation).
    pub records: u64,
    /// Kinesis records carrying them (fewer with KPL aggregation): what GetRecords'
    /// 10,000-records limit counts.
    pub kinesis_records: u64,
    pub bytes: u64,
    pub arrival_first_ns: u64,
    pub arrival_last_ns: u64,
    /// Mean time from a record's creation at its producer to its arrival at the shard.
    pub age_at_arrival_ns: u64,
    /// Time between successive arrivals ([`arrival_spacing_ns`]), kept because every
    /// read of the block needs it and a division is the slowest step of a read.
    spacing_ns: f64,
}

const _: () = assert!(std::mem::size_of::<Block>() == 64, "a block fills one cache line");

/// The interpolated time between successive arrivals of a block (0 for one record).
fn arrival_spacing_ns(arrival_first_ns: u64, arrival_last_ns: u64, records: u64) -> f64 {
    if records > 1 {
        count_to_f64(arrival_last_ns - arrival_first_ns) / count_to_f64(records - 1)
    } else {
        0.0
    }
}

impl Block {
    pub fn offset_end(&self) -> u64 {
        self.offset_first + self.records
    }

    /// The interpolated arrival time of the record at `offset`.
    pub fn arrival_of(&self, offset: u64) -> u64 {
        debug_assert!(offset >= self.offset_first && offset < self.offset_end());
        // Whole-block reads ask for the ends: answer them without a division.
        if self.records <= 1 || offset + 1 == self.offset_end() {
            return self.arrival_last_ns;
        }
        if offset == self.offset_first {
            return self.arrival_first_ns;
        }
        let span = self.arrival_last_ns - self.arrival_first_ns;
        self.arrival_first_ns + scale(span, offset - self.offset_first, self.records - 1)
    }

    /// The interpolated time between successive arrivals.
    pub fn spacing_ns(&self) -> f64 {
        self.spacing_ns
    }

    /// Bytes held by the records before `offset` in this block.
    pub fn bytes_before(&self, offset: u64) -> u64 {
        debug_assert!(offset >= self.offset_first && offset <= self.offset_end());
        // Whole-block reads ask for the ends: answer them without a division.
        if offset == self.offset_first {
            return 0;
        }
        if offset == self.offset_end() {
            return self.bytes;
        }
        scale(self.bytes, offset - self.offset_first, self.records)
    }

    /// The largest `end` in `[start, end_max]` whose records `[start, end)` hold at most
    /// `bytes_left` bytes (binary search; `bytes_before` is monotone), and those bytes.
    #[inline(always)]
    fn last_fitting(&self, start: u64, end_max: u64, bytes_left: u64) -> (u64, u64) {
        let base = self.bytes_before(start);
        let whole = self.bytes_before(end_max) - base;
        if whole <= bytes_left {
            return (end_max, whole);
        }
        let (mut lo, mut hi) = (start, end_max);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.bytes_before(mid) - base <= bytes_left {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        (lo, self.bytes_before(lo) - base)
    }

    /// One past the last record that arrived at or before `cutoff_ns` (arrivals grow
    /// through a block, so the readable records are a prefix).
    pub fn readable_end(&self, cutoff_ns: u64) -> u64 {
        if self.arrival_last_ns <= cutoff_ns {
            return self.offset_end();
        }
        if cutoff_ns < self.arrival_first_ns || self.records <= 1 {
            return self.offset_first;
        }
        let span = count_to_f64(self.arrival_last_ns - self.arrival_first_ns);
        let into = count_to_f64(cutoff_ns - self.arrival_first_ns);
        let readable = f64_to_count(into / span * count_to_f64(self.records - 1)) + 1;
        self.offset_first + readable.min(self.records)
    }

    fn absorb(&mut self, next: &Block) {
        debug_assert_eq!(self.offset_end(), next.offset_first);
        let total = u128::from(self.records + next.records);
        let age_sum = u128::from(self.age_at_arrival_ns) * u128::from(self.records)
            + u128::from(next.age_at_arrival_ns) * u128::from(next.records);
        self.age_at_arrival_ns = (age_sum / total.max(1)) as u64;
        self.records += next.records;
        self.kinesis_records += next.kinesis_records;
        self.bytes += next.bytes;
        self.arrival_last_ns = next.arrival_last_ns;
        self.spacing_ns = arrival_spacing_ns(self.arrival_first_ns, self.arrival_last_ns, self.records);
    }
}

/// `value * numerator / denominator` for `numerator >= denominator` (a count of Kinesis
/// records as user records), saturating.
fn scale_up(value: u64, numerator: u64, denominator: u64) -> u64 {
    let product = u128::from(value) * u128::from(numerator) / u128::from(denominator.max(1));
    u64::try_from(product).unwrap_or(u64::MAX)
}

/// What one read took from a shard.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadResult {
    pub records: u64,
    pub bytes: u64,
    /// Arrival time of the last record returned (meaningful when `records > 0`).
    pub arrival_last_ns: u64,
}

/// The stored records of one shard.
#[derive(Clone, Debug)]
pub struct ShardLog {
    /// A record becomes readable this long after it arrived (the stream's propagation
    /// delay): readers see every record that arrived by `now - readable_delay_ns`.
    readable_delay_ns: u64,
    coarse: VecDeque<Block>,
    fine: VecDeque<Block>,
    /// Offset one past the newest record ever appended.
    offset_end: u64,
    /// Offset of the oldest record still held.
    offset_first: u64,
    /// Fine blocks kept before the oldest are coalesced ([`FINE_BLOCKS_MAX`] by default).
    fine_blocks_max: usize,
    /// The longest arrival span of a coalesced block ([`COARSE_SPAN_NS`] by default).
    coarse_span_ns: u64,
}

impl ShardLog {
    pub fn new(readable_delay_ns: u64) -> ShardLog {
        ShardLog::with_blocks(readable_delay_ns, FINE_BLOCKS_MAX, COARSE_SPAN_NS)
    }

    /// A log keeping `fine_blocks_max` blocks as appended and coalescing older ones into
    /// blocks spanning at most `coarse_span_ns` of arrivals. Record mode appends one
    /// block per record and keeps coalesced spans short, so arrival times stay exact to
    /// within that span.
    pub fn with_blocks(readable_delay_ns: u64, fine_blocks_max: usize, coarse_span_ns: u64) -> ShardLog {
        assert!(fine_blocks_max >= 2, "the read path looks at the two newest fine blocks");
        ShardLog {
            readable_delay_ns,
            coarse: VecDeque::new(),
            fine: VecDeque::new(),
            offset_end: 0,
            offset_first: 0,
            fine_blocks_max,
            coarse_span_ns,
        }
    }

    /// Offset one past the newest record (a `latest` iterator starts here).
    pub fn offset_end(&self) -> u64 {
        self.offset_end
    }

    /// Offset of the oldest record held (a `trim_horizon` iterator starts here).
    pub fn offset_first(&self) -> u64 {
        self.offset_first
    }

    pub fn blocks_held(&self) -> usize {
        self.coarse.len() + self.fine.len()
    }

    /// Appends what the shard accepted in one step.
    pub fn append(
        &mut self,
        records: u64,
        kinesis_records: u64,
        bytes: u64,
        arrival_first_ns: u64,
        arrival_last_ns: u64,
        age_at_arrival_ns: u64,
    ) {
        if records == 0 {
            return;
        }
        debug_assert!(arrival_first_ns <= arrival_last_ns);
        if let Some(newest) = self.newest() {
            debug_assert!(newest.arrival_last_ns <= arrival_first_ns, "appends follow time");
        }
        let block = Block {
            offset_first: self.offset_end,
            records,
            kinesis_records: kinesis_records.clamp(1, records),
            bytes,
            arrival_first_ns,
            arrival_last_ns,
            age_at_arrival_ns,
            spacing_ns: arrival_spacing_ns(arrival_first_ns, arrival_last_ns, records),
        };
        self.offset_end += records;
        self.fine.push_back(block);
        while self.fine.len() > self.fine_blocks_max {
            let oldest = self.fine.pop_front().expect("fine blocks exceed the bound");
            self.push_coarse(oldest);
        }
    }

    /// The block before the newest, if any is held.
    pub fn second_newest(&self) -> Option<&Block> {
        let fine_len = self.fine.len();
        match fine_len {
            0 => self.coarse.len().checked_sub(2).map(|index| &self.coarse[index]),
            1 => self.coarse.back(),
            _ => Some(&self.fine[fine_len - 2]),
        }
    }

    /// The newest block (the last appended), if any is held.
    pub fn newest(&self) -> Option<&Block> {
        self.fine.back().or(self.coarse.back())
    }

    fn push_coarse(&mut self, block: Block) {
        // A short span keeps arrival times exact while the coarse blocks are few; past
        // [`SHORT_SPAN_BLOCKS_MAX`] of them the default span bounds memory again, so a
        // long backlog costs at most one block per minute beyond that.
        let span_ns = if self.coarse.len() < SHORT_SPAN_BLOCKS_MAX {
            self.coarse_span_ns
        } else {
            COARSE_SPAN_NS.max(self.coarse_span_ns)
        };
        if let Some(last) = self.coarse.back_mut() {
            if block.arrival_last_ns - last.arrival_first_ns <= span_ns {
                last.absorb(&block);
                return;
            }
        }
        self.coarse.push_back(block);
    }

    /// Drops blocks whose newest record arrived at or before `expire_through_ns` (when
    /// anything can have expired yet) and blocks every reader has passed
    /// (`offset_needed` is the lowest reader position). Returns the offset below which
    /// records have expired, for readers still behind it.
    #[inline]
    pub fn trim(&mut self, expire_through_ns: Option<u64>, offset_needed: u64) -> u64 {
        // Runs every step for every shard, and usually finds the oldest block still
        // needed and not expired: answer that without the loop.
        if let Some(oldest) = self.coarse.front().or(self.fine.front()) {
            if !is_expired(oldest, expire_through_ns) && oldest.offset_end() > offset_needed {
                return self.offset_first;
            }
        }
        self.trim_blocks(expire_through_ns, offset_needed)
    }

    fn trim_blocks(&mut self, expire_through_ns: Option<u64>, offset_needed: u64) -> u64 {
        let mut offset_expired = self.offset_first;
        // Coarse blocks are older than fine ones: trim them first, then the fine ones if
        // every coarse block went.
        for blocks in [&mut self.coarse, &mut self.fine] {
            while let Some(block) = blocks.front() {
                let expired = is_expired(block, expire_through_ns);
                if !expired && block.offset_end() > offset_needed {
                    return offset_expired;
                }
                if expired {
                    offset_expired = block.offset_end();
                }
                self.offset_first = block.offset_end();
                blocks.pop_front();
            }
        }
        // Nothing held: the trim horizon is the end, for every reader that needs it.
        self.offset_first = self.offset_end;
        offset_expired
    }

    /// Reads from `offset` at time `now_ns` at most `records_max` Kinesis records (as
    /// GetRecords counts them; each may carry several aggregated user records) and
    /// `bytes_max` bytes that are readable by then; returns user records.
    /// `on_chunk(records, bytes, latency_ns, spread_ns)` is called for pieces of the
    /// read, for latency histograms: the records' latencies are spread evenly over
    /// `spread_ns` (oldest to newest) about `latency_ns`.
    ///
    /// `SINGLES`: the log mostly holds blocks of one record (record mode), which are then
    /// read without the interpolation a longer block needs. The caller picks it at
    /// compile time, so the stepped read carries no test for it.
    pub fn read_blocks<const SINGLES: bool>(
        &self,
        offset: u64,
        now_ns: u64,
        records_max: u64,
        bytes_max: u64,
        mut on_chunk: impl FnMut(u64, u64, u64, u64),
    ) -> ReadResult {
        debug_assert!(offset >= self.offset_first, "readers never point below the trim horizon");
        let mut result = ReadResult::default();
        let Some(cutoff_ns) = now_ns.checked_sub(self.readable_delay_ns) else {
            return result;
        };
        let mut cursor = offset;
        let mut kinesis_read = 0;
        // Blocks by index over coarse then fine (one or two blocks for a reader that keeps
        // up): cheaper to set up than iterators over the deques' ranges.
        let coarse_len = self.coarse.len();
        let blocks_held = coarse_len + self.fine.len();
        for index in self.first_block_after(offset)..blocks_held {
            let block = if index < coarse_len { &self.coarse[index] } else { &self.fine[index - coarse_len] };
            if block.arrival_first_ns > cutoff_ns || kinesis_read >= records_max || result.bytes >= bytes_max {
                break;
            }
            if SINGLES && block.records == 1 {
                // The record is readable once it arrived by the cutoff; a Kinesis record
                // of its own (not aggregated), whose latency is its own.
                if block.arrival_last_ns > cutoff_ns || block.bytes > bytes_max - result.bytes {
                    break;
                }
                debug_assert_eq!(cursor, block.offset_first);
                result.records += 1;
                kinesis_read += 1;
                result.bytes += block.bytes;
                on_chunk(1, block.bytes, now_ns.saturating_sub(block.arrival_first_ns) + block.age_at_arrival_ns, 0);
                result.arrival_last_ns = block.arrival_first_ns;
                cursor = block.offset_end();
                continue;
            }
            let start = cursor.max(block.offset_first);
            let readable_end = block.readable_end(cutoff_ns);
            if readable_end <= start {
                break;
            }
            // The Kinesis records left in this call, as user records of this block
            // (the same number unless the block holds aggregated records).
            let aggregated = block.kinesis_records != block.records;
            let kinesis_left = records_max - kinesis_read;
            let records_left =
                if aggregated { scale_up(kinesis_left, block.records, block.kinesis_records) } else { kinesis_left };
            let mut end = readable_end.min(start.saturating_add(records_left));
            let bytes_left = bytes_max - result.bytes;
            let bytes;
            (end, bytes) = block.last_fitting(start, end, bytes_left);
            if end == start {
                break;
            }
            result.records += end - start;
            kinesis_read += if aggregated {
                (end - start).div_ceil(block.records.div_ceil(block.kinesis_records)).max(1)
            } else {
                end - start
            };
            result.bytes += bytes;
            result.arrival_last_ns = report_latency(block, start, end, bytes, now_ns, &mut on_chunk);
            cursor = end;
            if end < block.offset_end() {
                // The rest of the block is not readable yet, or a limit cut the read.
                break;
            }
        }
        debug_assert!(result.bytes <= bytes_max);
        result
    }

    /// The offset of the first held record that arrived at or after `time_ns` (the end
    /// when none has yet); never below the trim horizon.
    pub fn offset_at(&self, time_ns: u64) -> u64 {
        for block in self.coarse.iter().chain(self.fine.iter()) {
            if block.arrival_last_ns < time_ns {
                continue;
            }
            if block.arrival_first_ns >= time_ns || block.records <= 1 {
                return block.offset_first;
            }
            // Arrival times are spread evenly inside a block: find the first at or after.
            let span = (block.arrival_last_ns - block.arrival_first_ns) as f64;
            let fraction = (time_ns - block.arrival_first_ns) as f64 / span;
            let index = (fraction * (block.records - 1) as f64).ceil() as u64;
            return block.offset_first + index.min(block.records - 1);
        }
        self.offset_end
    }

    /// Records held from `offset` on that are readable at `now_ns`.
    pub fn readable_after(&self, offset: u64, now_ns: u64) -> u64 {
        let Some(cutoff_ns) = now_ns.checked_sub(self.readable_delay_ns) else {
            return 0;
        };
        self.coarse
            .iter()
            .chain(self.fine.iter())
            .skip(self.first_block_after(offset))
            .take_while(|block| block.arrival_first_ns <= cutoff_ns)
            .map(|block| block.readable_end(cutoff_ns).saturating_sub(offset.max(block.offset_first)))
            .sum()
    }

    /// The index (over coarse, then fine blocks) of the first held block that ends after
    /// `offset`, or the number of blocks held when none does. Readers that keep up read
    /// from the newest one or two blocks: those are looked at first, without a search.
    /// Blocks are contiguous (each starts where the one before ends).
    #[inline(always)]
    fn first_block_after(&self, offset: u64) -> usize {
        let (coarse_len, fine_len) = (self.coarse.len(), self.fine.len());
        if fine_len > 0 {
            let newest = &self.fine[fine_len - 1];
            if newest.offset_first <= offset {
                return coarse_len + fine_len - usize::from(offset < newest.offset_end());
            }
            if fine_len > 1 && self.fine[fine_len - 2].offset_first <= offset {
                return coarse_len + fine_len - 2;
            }
            if self.fine[0].offset_first <= offset {
                // Every coarse block ends at or before `offset`.
                return coarse_len + self.fine.partition_point(|block| block.offset_end() <= offset);
            }
        }
        self.coarse.partition_point(|block| block.offset_end() <= offset)
    }
}

/// Whether every record of `block` arrived at or before `expire_through_ns`.
#[inline]
fn is_expired(block: &Block, expire_through_ns: Option<u64>) -> bool {
    expire_through_ns.is_some_and(|through| block.arrival_last_ns <= through)
}

/// Reports the records `[start, end)` of a block at their middle record's latency, with
/// the spread from the first to the last of them (records arrived evenly over the
/// block, so their latencies spread evenly too: a whole step's block read at once is
/// not one latency), and returns the arrival time of the last of them. Interpolating in
/// f64 keeps this free of integer divisions, the costliest part of a read. Record
/// indices and times inside a block are far below 2^63, so the signed conversions of
/// `kinesim_sim::num` give the same values as `as`.
fn report_latency(
    block: &Block,
    start: u64,
    end: u64,
    bytes: u64,
    now_ns: u64,
    on_chunk: &mut impl FnMut(u64, u64, u64, u64),
) -> u64 {
    let spacing_ns = block.spacing_ns;
    let arrival_at = |index: f64| block.arrival_first_ns + f64_to_count(index * spacing_ns);
    let first_index = count_to_f64(start - block.offset_first);
    let middle_ns = arrival_at(first_index + count_to_f64(end - start - 1) / 2.0);
    let spread_ns = f64_to_count(count_to_f64(end - start - 1) * spacing_ns);
    on_chunk(end - start, bytes, now_ns.saturating_sub(middle_ns) + block.age_at_arrival_ns, spread_ns);
    arrival_at(count_to_f64(end - 1 - block.offset_first)).min(block.arrival_last_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1_000_000_000;

    /// What a read returned and the chunks it reported.
    fn read_with_chunks<const SINGLES: bool>(
        log: &ShardLog,
        offset: u64,
        now_ns: u64,
        records_max: u64,
        bytes_max: u64,
    ) -> (ReadResult, Vec<(u64, u64, u64)>) {
        let mut chunks = Vec::new();
        let result =
            log.read_blocks::<SINGLES>(offset, now_ns, records_max, bytes_max, |records, bytes, latency, _| {
                chunks.push((records, bytes, latency))
            });
        (result, chunks)
    }

    proptest! {
        /// Reading blocks of one record on their own path gives what the general path
        /// gives, chunk for chunk, whatever the limits, the cutoff and the mix of blocks
        /// (coalesced ones, and single records whose arrival spans an interval).
        #[test]
        fn single_record_blocks_read_as_the_general_path_does(
            appends in prop::collection::vec((1..3u64, 0..2_000_000u64, 0..3_000_000u64, 1..2_000u64), 1..120),
            offset_fraction in 0.0..1.0f64,
            now_extra_ns in 0..400_000_000u64,
            records_max in 1..80u64,
            bytes_max in 1..60_000u64,
        ) {
            let mut log = ShardLog::with_blocks(5_000_000, 16, 3_000_000);
            let mut time_ns = 0;
            for (records, gap_ns, spread_ns, bytes) in appends {
                time_ns += gap_ns;
                let spread_ns = if records == 1 && spread_ns % 2 == 0 { 0 } else { spread_ns };
                log.append(records, records, bytes * records, time_ns, time_ns + spread_ns, spread_ns / 3);
                time_ns += spread_ns;
            }
            let first = log.offset_first();
            let offset = first + ((log.offset_end() - first) as f64 * offset_fraction) as u64;
            let now_ns = time_ns / 2 + now_extra_ns;
            let general = read_with_chunks::<false>(&log, offset, now_ns, records_max, bytes_max);
            let singles = read_with_chunks::<true>(&log, offset, now_ns, records_max, bytes_max);
            prop_assert_eq!(general, singles);
        }
    }

    #[test]
    fn short_spans_give_way_to_the_default_past_their_bound() {
        // One record every 2 ms, never coalesced at a 1 ms span while blocks are few.
        let mut log = ShardLog::with_blocks(0, 2, 1_000_000);
        let count = SHORT_SPAN_BLOCKS_MAX as u64 + 100_000;
        for i in 0..count {
            log.append(1, 1, 100, i * 2_000_000, i * 2_000_000, 0);
        }
        let held = log.blocks_held();
        assert!(held > SHORT_SPAN_BLOCKS_MAX, "exact blocks are kept up to the bound");
        assert!(held < SHORT_SPAN_BLOCKS_MAX + 100, "then minutes: {held} blocks");
        assert_eq!(log.offset_end(), count);
    }

    #[test]
    fn reads_respect_limits_and_add_up() {
        let mut log = ShardLog::new(S);
        for step in 0..10 {
            log.append(100, 100, 100_000, step * S, step * S + S / 2, 0);
        }
        let result = log.read_blocks::<false>(0, 5 * S, 150, u64::MAX, |_, _, _, _| {});
        assert_eq!(result.records, 150);
        assert_eq!(result.bytes, 150_000);
        let limited = log.read_blocks::<false>(150, 100 * S, 10_000, 25_000, |_, _, _, _| {});
        assert_eq!((limited.records, limited.bytes), (25, 25_000));
        // Records readable by 5 s arrived by 4 s: steps 0..3 and the first record of 4.
        assert_eq!(log.readable_after(0, 5 * S), 401);
        // Half way through step 4's arrivals (4.25 s), half of its records are readable.
        assert_eq!(log.readable_after(400, 5 * S + S / 4), 50);
    }

    #[test]
    fn old_blocks_coalesce_and_expire() {
        let mut log = ShardLog::new(S);
        for step in 0..10_000 {
            log.append(10, 10, 10_000, step * S, step * S, 1);
        }
        assert!(log.blocks_held() < FINE_BLOCKS_MAX + 10_000 / 60 + 2);
        let total: u64 = log.read_blocks::<false>(0, 20_000 * S, u64::MAX, u64::MAX, |_, _, _, _| {}).records;
        assert_eq!(total, 100_000);
        let expired_to = log.trim(Some(5_000 * S), 0);
        assert!(expired_to > 0 && expired_to <= 50_010, "{expired_to}");
        assert_eq!(log.offset_first(), expired_to);
    }

    #[test]
    fn passed_blocks_are_released() {
        let mut log = ShardLog::new(S);
        log.append(10, 10, 100, 0, 0, 0);
        log.append(10, 10, 100, S, S, 0);
        assert_eq!(log.trim(None, 10), 0, "nothing expired");
        assert_eq!(log.offset_first(), 10);
        assert_eq!(log.blocks_held(), 1);
    }
}
