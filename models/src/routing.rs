//! Partition keys to shards: MD5 hashing, hash ranges and shard ids.
//!
//! KDS hashes the UTF-8 bytes of a partition key with MD5 and reads the digest as a
//! big-endian 128-bit integer (reference `kinesis-facts.md` §1.2). Each shard owns an
//! inclusive `[start, end]` range of that space; CreateStream divides the space as
//! `w = floor(2^128 / N)`, shard `i` taking `[i*w, (i+1)*w - 1]` and the last shard
//! running to `2^128 - 1` (§1.3, which matches AWS's published 3-shard example).

use md5::{Digest, Md5};
use std::fmt;

/// The largest hash key, `2^128 - 1`.
pub const HASH_KEY_MAX: u128 = u128::MAX;

/// A shard's id as KDS prints it: `shardId-` and a 12-digit zero-padded index (§1.1).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shardId-{:012}", self.0)
    }
}

impl ShardId {
    /// Parses `shardId-000000000001` back into its index.
    pub fn parse(text: &str) -> Option<ShardId> {
        let digits = text.strip_prefix("shardId-")?;
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(ShardId)
    }
}

/// An inclusive range of hash keys owned by one shard.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HashRange {
    pub start: u128,
    pub end: u128,
}

impl HashRange {
    pub fn contains(&self, hash: u128) -> bool {
        self.start <= hash && hash <= self.end
    }

    /// The fraction of the whole hash space this range covers, for keys drawn uniformly
    /// from it (random partition keys).
    pub fn fraction_of_space(&self) -> f64 {
        let width = (self.end - self.start) as f64 + 1.0;
        width / 2f64.powi(128)
    }
}

/// The hash key of a partition key: MD5 of its UTF-8 bytes, read big-endian.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Whether `ranges` (in any order) cover every hash key from 0 to 2^128-1 exactly once:
/// what the open shards of a stream always do (§1.3).
pub fn tiles_hash_space(ranges: impl Iterator<Item = HashRange>) -> bool {
    let mut ranges: Vec<HashRange> = ranges.collect();
    ranges.sort_by_key(|range| range.start);
    let Some(last) = ranges.last() else { return false };
    let adjacent = ranges.windows(2).all(|pair| pair[0].end.checked_add(1) == Some(pair[1].start));
    ranges[0].start == 0 && last.end == u128::MAX && adjacent && ranges.iter().all(|r| r.start <= r.end)
}

/// The ranges CreateStream gives a new stream of `shard_count` shards (§1.3).
pub fn initial_ranges(shard_count: u32) -> Vec<HashRange> {
    assert!(shard_count >= 1, "a stream has at least one shard");
    if shard_count == 1 {
        return vec![HashRange { start: 0, end: HASH_KEY_MAX }];
    }
    let n = shard_count as u128;
    // floor(2^128 / n) computed without overflowing u128: 2^128 = u128::MAX + 1.
    let width = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
    (0..n)
        .map(|i| {
            let start = i * width;
            let end = if i == n - 1 { HASH_KEY_MAX } else { (i + 1) * width - 1 };
            HashRange { start, end }
        })
        .collect()
}

/// Which of `ranges` (sorted, contiguous, covering the whole space) holds `hash`.
pub fn shard_index_for(ranges: &[HashRange], hash: u128) -> usize {
    debug_assert!(!ranges.is_empty());
    let index = ranges.partition_point(|range| range.end < hash);
    debug_assert!(ranges[index].contains(hash));
    index
}

/// Parses an explicit hash key as the API accepts it: a decimal string of up to 39
/// digits in `0..2^128-1` (§1.1).
pub fn parse_hash_key(text: &str) -> Option<u128> {
    let valid_form = text == "0"
        || (!text.is_empty() && text.len() <= 39 && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()));
    if !valid_form {
        return None;
    }
    text.parse::<u128>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_ranges_tile_the_hash_space_and_broken_ones_do_not() {
        for shards in [1, 2, 3, 7, 64, 1000] {
            assert!(tiles_hash_space(initial_ranges(shards).into_iter().rev()), "{shards}");
        }
        let mut ranges = initial_ranges(3);
        assert!(!tiles_hash_space(ranges[..2].iter().copied()), "a gap at the top");
        ranges[1].start -= 1;
        assert!(!tiles_hash_space(ranges.iter().copied()), "an overlap");
        ranges[1].start += 2;
        assert!(!tiles_hash_space(ranges.iter().copied()), "a gap");
        assert!(!tiles_hash_space(std::iter::empty()));
    }

    #[test]
    fn three_shard_ranges_match_the_aws_cli_example() {
        // reference/kinesis-facts.md §1.3, from aws-cli's describe-stream example.
        let ranges = initial_ranges(3);
        let expected = [
            ("0", "113427455640312821154458202477256070484"),
            ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
            ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455"),
        ];
        for (range, (start, end)) in ranges.iter().zip(expected) {
            assert_eq!(range.start, start.parse::<u128>().unwrap());
            assert_eq!(range.end, end.parse::<u128>().unwrap());
        }
    }

    #[test]
    fn one_and_two_shard_ranges() {
        assert_eq!(initial_ranges(1), vec![HashRange { start: 0, end: u128::MAX }]);
        let two = initial_ranges(2);
        assert_eq!(two[0].end, (1u128 << 127) - 1);
        assert_eq!(two[1].start, 1u128 << 127);
        // A power of two divides the space exactly.
        let four = initial_ranges(4);
        assert_eq!(four[3].start, 3u128 << 126);
    }

    #[test]
    fn ranges_are_contiguous_for_many_counts() {
        for n in [1u32, 2, 3, 5, 7, 64, 1000, 4095] {
            let ranges = initial_ranges(n);
            assert_eq!(ranges.len(), n as usize);
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges.last().unwrap().end, u128::MAX);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end + 1, pair[1].start);
            }
        }
    }

    #[test]
    fn shard_ids_print_and_parse() {
        assert_eq!(ShardId(0).to_string(), "shardId-000000000000");
        assert_eq!(ShardId(42).to_string(), "shardId-000000000042");
        assert_eq!(ShardId::parse("shardId-000000000042"), Some(ShardId(42)));
        assert_eq!(ShardId::parse("shardId-42"), None);
    }

    #[test]
    fn explicit_hash_keys_follow_the_api_pattern() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(parse_hash_key("340282366920938463463374607431768211455"), Some(u128::MAX));
        assert_eq!(parse_hash_key("340282366920938463463374607431768211456"), None);
        assert_eq!(parse_hash_key("01"), None);
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
    }
}
