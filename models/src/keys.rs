//! Partition key distributions and their projection onto shards.
//!
//! A month of traffic is far too many records to hash one by one, so keys are hashed
//! once: named keys are sorted by hash with prefix sums of their weights, and a shard's
//! share of a producer's traffic is one difference of two prefix sums (recomputed only
//! when the shard map changes). Random keys spread uniformly over the hash space, so a
//! shard's share is the width of its range.

use crate::routing::{hash_key, HashRange};
use crate::spec::{KeyNames, KeySpec};

/// One named key after hashing.
#[derive(Clone, Debug)]
struct NamedKey {
    hash: u128,
    /// Position in rank order (0 is the most popular).
    rank_index: u64,
    /// Which salt of a salted key this is.
    salt_index: Option<u32>,
    /// Fraction of the producer's records that carry this key.
    weight: f64,
    /// Length of the key's name in bytes (kept so that names are written only once).
    name_bytes: u32,
}

#[derive(Clone, Debug)]
enum Space {
    Named {
        names: KeyNames,
        /// Sorted by hash.
        keys: Vec<NamedKey>,
        /// `weight_prefix[i]` = sum of weights of `keys[..i]`.
        weight_prefix: Vec<f64>,
        /// `key_bytes_prefix[i]` = sum of weight * key length of `keys[..i]`.
        key_bytes_prefix: Vec<f64>,
    },
    Random {
        key_bytes: u64,
    },
    Explicit {
        hash_key: u128,
        partition_key: String,
    },
}

/// A producer's keys, hashed and ready to be projected on any shard map.
#[derive(Clone, Debug)]
pub struct KeySpace {
    space: Space,
}

/// One key's place in a shard's traffic, for the hot-key view.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyShare {
    pub partition_key: String,
    pub hash_key: u128,
    /// Fraction of the producer's records carrying this key.
    pub weight: f64,
}

impl KeySpace {
    pub fn build(spec: &KeySpec) -> KeySpace {
        let space = match spec {
            KeySpec::Uniform { names } => named(names, |_| 1.0),
            KeySpec::Zipf { names, exponent } => {
                named(names, |rank_index| 1.0 / libm::pow((rank_index + 1) as f64, *exponent))
            }
            KeySpec::Hot { names, hot_count, hot_share } => {
                let cold_count = names.count - hot_count;
                let hot_weight = hot_share / *hot_count as f64;
                let cold_weight = if cold_count == 0 { 0.0 } else { (1.0 - hot_share) / cold_count as f64 };
                named(names, |rank_index| if rank_index < *hot_count { hot_weight } else { cold_weight })
            }
            KeySpec::Random { key_bytes } => Space::Random { key_bytes: *key_bytes },
            KeySpec::Explicit { hash_key, partition_key } => {
                Space::Explicit { hash_key: *hash_key, partition_key: partition_key.clone() }
            }
        };
        KeySpace { space }
    }

    /// For each range: the share of this producer's records that land there and the
    /// mean partition key length of those records (bytes). Shares sum to 1.
    pub fn project(&self, ranges: &[HashRange], shares: &mut Vec<f64>, key_bytes_mean: &mut Vec<f64>) {
        shares.clear();
        key_bytes_mean.clear();
        for range in ranges {
            let (share, key_bytes) = self.range_share(*range);
            shares.push(share);
            key_bytes_mean.push(key_bytes);
        }
    }

    fn range_share(&self, range: HashRange) -> (f64, f64) {
        match &self.space {
            Space::Named { keys, weight_prefix, key_bytes_prefix, .. } => {
                let (lo, hi) = key_index_range(keys, range);
                let share = weight_prefix[hi] - weight_prefix[lo];
                let key_bytes = if share > 0.0 { (key_bytes_prefix[hi] - key_bytes_prefix[lo]) / share } else { 0.0 };
                (share.max(0.0), key_bytes)
            }
            Space::Random { key_bytes } => (range.fraction_of_space(), *key_bytes as f64),
            Space::Explicit { hash_key, partition_key } => {
                let share = if range.contains(*hash_key) { 1.0 } else { 0.0 };
                (share, partition_key.len() as f64)
            }
        }
    }

    /// The `limit` heaviest keys inside `range`, heaviest first (ties by rank).
    /// Random keys have no heavy keys and return nothing.
    pub fn top_keys(&self, range: HashRange, limit: usize) -> Vec<KeyShare> {
        match &self.space {
            Space::Named { names, keys, .. } => {
                let (lo, hi) = key_index_range(keys, range);
                let mut inside: Vec<&NamedKey> = keys[lo..hi].iter().collect();
                inside.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.rank_index.cmp(&b.rank_index)));
                inside
                    .into_iter()
                    .take(limit)
                    .map(|key| KeyShare {
                        partition_key: names.salted_name(key.rank_index, key.salt_index),
                        hash_key: key.hash,
                        weight: key.weight,
                    })
                    .collect()
            }
            Space::Random { .. } => Vec::new(),
            Space::Explicit { hash_key, partition_key } if range.contains(*hash_key) && limit > 0 => {
                vec![KeyShare { partition_key: partition_key.clone(), hash_key: *hash_key, weight: 1.0 }]
            }
            Space::Explicit { .. } => Vec::new(),
        }
    }

    /// This producer's traffic inside `range` as weighted points of the hash space
    /// (fractions of the producer's records), sorted by hash. Random keys, spread evenly,
    /// are stood for by [`RANDOM_KEY_POINTS`] evenly spaced points.
    pub fn weighted_points(&self, range: HashRange, out: &mut Vec<(u128, f64)>) {
        match &self.space {
            Space::Named { keys, .. } => {
                let (lo, hi) = key_index_range(keys, range);
                out.extend(keys[lo..hi].iter().map(|key| (key.hash, key.weight)));
            }
            Space::Random { .. } => {
                let share = range.fraction_of_space() / RANDOM_KEY_POINTS as f64;
                let width = (range.end - range.start) / RANDOM_KEY_POINTS as u128;
                out.extend((0..RANDOM_KEY_POINTS).map(|i| (range.start + width * i as u128 + width / 2, share)));
            }
            Space::Explicit { hash_key, .. } if range.contains(*hash_key) => out.push((*hash_key, 1.0)),
            Space::Explicit { .. } => {}
        }
    }
}

/// Draws one record's key at a time (record mode): an alias table over the hashed keys
/// (Vose's method, DESIGN "Performance notes"), so a draw is one uniform and one
/// comparison, and no key is hashed per record.
#[derive(Clone, Debug)]
pub struct KeySampler {
    kind: SamplerKind,
}

#[derive(Clone, Debug)]
enum SamplerKind {
    Alias {
        /// Per key: its hash and the length of its partition key in bytes.
        keys: Vec<(u128, u32)>,
        /// Per column: the probability of keeping the column's own key.
        keep: Vec<f64>,
        /// Per column: the key taken otherwise.
        alias: Vec<u32>,
    },
    Random {
        key_bytes: u32,
    },
    Fixed {
        hash: u128,
        key_bytes: u32,
    },
}

impl KeySampler {
    /// One record's key: its hash key and its partition key's length in bytes.
    pub fn sample<R: kinesim_sim::RngCore + ?Sized>(&self, rng: &mut R) -> (u128, u32) {
        match &self.kind {
            SamplerKind::Alias { keys, keep, alias } => {
                let u = kinesim_sim::sample::uniform01(rng) * keys.len() as f64;
                let column = (u as usize).min(keys.len() - 1);
                // Both candidates are loaded before the choice, so it compiles to a
                // select: as a branch it went the unexpected way for a good share of
                // records (about a tenth of record mode's mispredictions).
                let (kept, other) = (column, alias[column] as usize);
                let index = if u - (column as f64) < keep[column] { kept } else { other };
                keys[index]
            }
            SamplerKind::Random { key_bytes } => {
                let hash = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                (hash, *key_bytes)
            }
            SamplerKind::Fixed { hash, key_bytes } => (*hash, *key_bytes),
        }
    }
}

impl KeySpace {
    /// A sampler of this producer's keys, one record at a time.
    pub fn sampler(&self) -> KeySampler {
        let kind = match &self.space {
            Space::Named { keys, .. } => {
                let weights: Vec<f64> = keys.iter().map(|key| key.weight).collect();
                let (keep, alias) = alias_table(&weights);
                let keys = keys.iter().map(|key| (key.hash, key.name_bytes)).collect();
                SamplerKind::Alias { keys, keep, alias }
            }
            Space::Random { key_bytes } => SamplerKind::Random { key_bytes: *key_bytes as u32 },
            Space::Explicit { hash_key, partition_key } => {
                SamplerKind::Fixed { hash: *hash_key, key_bytes: partition_key.len() as u32 }
            }
        };
        KeySampler { kind }
    }
}

/// Vose's alias method over `weights` (summing to about 1): per column, the probability
/// of keeping it and the column taken otherwise. Deterministic: columns are paired in
/// index order.
fn alias_table(weights: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let n = weights.len();
    assert!(n >= 1 && n <= u32::MAX as usize, "a key table has between 1 and 2^32 keys");
    let total: f64 = weights.iter().sum();
    let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
    let mut keep = vec![1.0; n];
    let mut alias: Vec<u32> = (0..n as u32).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        keep[s] = scaled[s];
        alias[s] = l as u32;
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // What is left keeps its own column (rounding leaves some at almost exactly 1).
    (keep, alias)
}

/// Points standing for random keys when a shard's load is split.
pub const RANDOM_KEY_POINTS: usize = 64;

/// The hash key that best halves the load of `points` (sorted by hash, weighted) inside
/// `range`: a SplitShard `NewStartingHashKey`, so the upper child gets the points at or
/// above it. Among the boundaries between points it picks the one whose larger side is
/// smallest; a single heavy key cannot be divided, so then the split isolates it.
/// `None` when fewer than two points, or no boundary is a valid split
/// (`start + 1 < key <= end`, reference §6.1).
pub fn split_hash_key(range: HashRange, points: &[(u128, f64)]) -> Option<u128> {
    let total: f64 = points.iter().map(|(_, w)| w).sum();
    let mut below = 0.0;
    let mut best: Option<(f64, u128)> = None;
    for pair in points.windows(2) {
        below += pair[0].1;
        let candidate = pair[1].0;
        if pair[0].0 == candidate || candidate <= range.start + 1 || candidate > range.end {
            continue;
        }
        let larger = below.max(total - below);
        if best.is_none_or(|(best_larger, _)| larger < best_larger) {
            best = Some((larger, candidate));
        }
    }
    best.map(|(_, key)| key)
}

fn named(names: &KeyNames, weight_of_rank: impl Fn(u64) -> f64) -> Space {
    assert!(names.count >= 1);
    let mut keys: Vec<NamedKey> = Vec::with_capacity(names.count as usize);
    // One reused buffer for the names: the set-up of a large key space is mostly this.
    let mut name = String::new();
    let mut push = |keys: &mut Vec<NamedKey>, rank_index: u64, salt_index: Option<u32>, weight: f64| {
        names.write_salted_name(&mut name, rank_index, salt_index);
        let name_bytes = u32::try_from(name.len()).expect("key names are short");
        keys.push(NamedKey { hash: hash_key(&name), rank_index, salt_index, weight, name_bytes });
    };
    for rank_index in 0..names.count {
        let weight = weight_of_rank(rank_index);
        if names.is_salted(rank_index) {
            for salt_index in 0..names.salt {
                push(&mut keys, rank_index, Some(salt_index), weight / f64::from(names.salt));
            }
        } else {
            push(&mut keys, rank_index, None, weight);
        }
    }
    // Normalise in rank order so the sum does not depend on hash order.
    let total: f64 = keys.iter().map(|key| key.weight).sum();
    assert!(total > 0.0, "a key distribution has positive total weight");
    for key in &mut keys {
        key.weight /= total;
    }
    // (hash, rank, salt) is unique per key, so an unstable sort gives the stable order.
    keys.sort_unstable_by_key(|key| (key.hash, key.rank_index, key.salt_index));
    let mut weight_prefix = Vec::with_capacity(keys.len() + 1);
    let mut key_bytes_prefix = Vec::with_capacity(keys.len() + 1);
    let (mut weight_sum, mut key_bytes_sum) = (0.0, 0.0);
    weight_prefix.push(0.0);
    key_bytes_prefix.push(0.0);
    for key in &keys {
        weight_sum += key.weight;
        key_bytes_sum += key.weight * f64::from(key.name_bytes);
        weight_prefix.push(weight_sum);
        key_bytes_prefix.push(key_bytes_sum);
    }
    Space::Named { names: names.clone(), keys, weight_prefix, key_bytes_prefix }
}

fn key_index_range(keys: &[NamedKey], range: HashRange) -> (usize, usize) {
    let lo = keys.partition_point(|key| key.hash < range.start);
    let hi = keys.partition_point(|key| key.hash <= range.end);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_prefix_index_and_salt() {
        let names = KeyNames { count: 10, prefix: "user-".into(), first: 7, salt: 3, salted: 2 };
        let mut buffer = String::from("left over");
        for (rank_index, salt_index) in [(0, None), (3, None), (0, Some(2)), (u64::MAX - 7, Some(u32::MAX))] {
            let expected = match salt_index {
                None => format!("user-{}", 7 + rank_index),
                Some(salt) => format!("user-{}-{salt}", 7 + rank_index),
            };
            names.write_salted_name(&mut buffer, rank_index, salt_index);
            assert_eq!(buffer, expected);
            assert_eq!(names.salted_name(rank_index, salt_index), expected);
        }
        assert_eq!(names.name(0), "user-7");
    }

    #[test]
    fn the_alias_table_draws_keys_by_weight() {
        let space = KeySpace::build(&KeySpec::Zipf { names: names(50), exponent: 1.2 });
        let sampler = space.sampler();
        let ranges = initial_ranges(4);
        let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
        space.project(&ranges, &mut shares, &mut key_bytes);
        let mut rng = kinesim_sim::RandomStream::new(&kinesim_sim::SeedKey::from_master(1), "t").rng().clone();
        let draws = 200_000;
        let mut counts = [0u64; 4];
        for _ in 0..draws {
            let (hash, _) = sampler.sample(&mut rng);
            counts[ranges.iter().position(|r| r.contains(hash)).unwrap()] += 1;
        }
        for (count, share) in counts.iter().zip(&shares) {
            let expected = share * draws as f64;
            assert!((*count as f64 - expected).abs() < 5.0 * expected.sqrt() + 1.0, "{counts:?} vs {shares:?}");
        }
    }

    #[test]
    fn salted_keys_spread_a_hot_key() {
        let names = KeyNames { count: 100, prefix: "key-".into(), first: 0, salt: 8, salted: 1 };
        let space = KeySpace::build(&KeySpec::Hot { names, hot_count: 1, hot_share: 0.8 });
        let top = space.top_keys(initial_ranges(1)[0], 3);
        assert!((top[0].weight - 0.1).abs() < 1e-12, "one eighth of the hot key's 80%");
        assert!(top[0].partition_key.starts_with("key-0-"));
        let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
        space.project(&initial_ranges(8), &mut shares, &mut key_bytes);
        assert!(shares.iter().all(|&s| s < 0.5), "no shard keeps the whole hot key: {shares:?}");
    }

    use super::*;
    use crate::routing::{initial_ranges, shard_index_for};

    fn names(count: u64) -> KeyNames {
        KeyNames { count, prefix: "key-".into(), first: 0, salt: 1, salted: 0 }
    }

    #[test]
    fn shares_sum_to_one_and_follow_routing() {
        let space = KeySpace::build(&KeySpec::Zipf { names: names(1000), exponent: 1.1 });
        let ranges = initial_ranges(7);
        let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
        space.project(&ranges, &mut shares, &mut key_bytes);
        let total: f64 = shares.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        // The most popular key's shard holds at least its weight.
        let top = shard_index_for(&ranges, hash_key("key-0"));
        let zipf_top_weight = 1.0 / (1..=1000).map(|r| 1.0 / libm::pow(r as f64, 1.1)).sum::<f64>();
        assert!(shares[top] >= zipf_top_weight - 1e-12);
        assert_eq!(space.top_keys(ranges[top], 1)[0].partition_key, "key-0");
        // Key lengths are between "key-0" and "key-999".
        assert!(key_bytes.iter().all(|&b| (5.0..=7.0).contains(&b)));
    }

    #[test]
    fn hot_keys_take_their_share() {
        let spec = KeySpec::Hot { names: names(100), hot_count: 1, hot_share: 0.5 };
        let space = KeySpace::build(&spec);
        let ranges = initial_ranges(1);
        let top = space.top_keys(ranges[0], 2);
        assert!((top[0].weight - 0.5).abs() < 1e-12);
        assert!((top[1].weight - 0.5 / 99.0).abs() < 1e-12);
    }

    #[test]
    fn random_keys_follow_range_width() {
        let space = KeySpace::build(&KeySpec::Random { key_bytes: 36 });
        let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
        space.project(&initial_ranges(4), &mut shares, &mut key_bytes);
        for share in shares {
            assert!((share - 0.25).abs() < 1e-12);
        }
        assert_eq!(key_bytes, vec![36.0; 4]);
    }

    #[test]
    fn split_key_halves_the_load() {
        let space = KeySpace::build(&KeySpec::Uniform { names: names(10_000) });
        let range = initial_ranges(1)[0];
        let mut points = Vec::new();
        space.weighted_points(range, &mut points);
        let split = split_hash_key(range, &points).unwrap();
        let low = HashRange { start: 0, end: split - 1 };
        let (mut shares, mut key_bytes) = (Vec::new(), Vec::new());
        space.project(&[low], &mut shares, &mut key_bytes);
        assert!((shares[0] - 0.5).abs() < 0.001, "{}", shares[0]);
    }
}
