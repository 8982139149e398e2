//! Seeded, named random streams.
//!
//! Every random number in a run comes from a [`RandomStream`] derived from
//! three things only: the master seed, the replication number, and the
//! stream's name. Nothing is drawn from the operating system or a thread-local
//! generator, so a run is a pure function of its inputs.
//!
//! Separate names give independent streams, so adding a random draw to one
//! part of a model does not shift the numbers seen by another part. Within a
//! stream, [`RandomStream::at_step`] goes further: it positions the generator
//! at a block reserved for one step of the run (a tick, an interval), so the
//! number of values drawn in one step never shifts the values of the next.
//!
//! The generator is ChaCha8: a counter-based cipher whose output is fixed by
//! its specification, with a 64-bit stream selector and a 68-bit word
//! position, which is exactly what naming and stepping need.

pub use rand_chacha::ChaCha8Rng;
pub use rand_core::{RngCore, SeedableRng};

/// One step of SplitMix64 (Steele, Lea and Flood 2014): advances `state` and
/// returns the next output.
///
/// Used to expand small seeds into keys; every 64-bit state gives a
/// well-mixed, distinct output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut mixed = *state;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    mixed ^ (mixed >> 31)
}

/// A 256-bit generator key for one replication of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedKey(pub [u8; 32]);

impl SeedKey {
    /// Offsets the replication number before mixing. Its high half differs
    /// from that of the two's complement of the SplitMix64 increment, so no
    /// 32-bit replication number mixes to zero and every replication other
    /// than 0 changes every word of the key.
    const REPLICATION_DOMAIN: u64 = 0x7265_706C_6963_6174;

    /// Expands a 64-bit master seed into a key: four SplitMix64 outputs,
    /// little-endian.
    pub fn from_master(seed: u64) -> SeedKey {
        let mut state = seed;
        let mut key = [0u8; 32];
        for word in key.chunks_exact_mut(8) {
            word.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        SeedKey(key)
    }

    /// The key for replication number `replication` of the same experiment.
    ///
    /// Replication 0 returns `self`, so a single-replication run uses the
    /// master key directly. Every other replication XORs each 64-bit word of
    /// the key with a SplitMix64 output seeded from the replication number;
    /// distinct replication numbers give distinct keys, none equal to `self`.
    pub fn for_replication(&self, replication: u32) -> SeedKey {
        if replication == 0 {
            return *self;
        }
        let mut state = u64::from(replication) ^ Self::REPLICATION_DOMAIN;
        let mut key = self.0;
        for word in key.chunks_exact_mut(8) {
            let value = u64::from_le_bytes(word.try_into().expect("8-byte chunk"));
            let mask = splitmix64(&mut state);
            assert!(mask != 0);
            word.copy_from_slice(&(value ^ mask).to_le_bytes());
        }
        assert!(key != self.0);
        SeedKey(key)
    }
}

/// The stream number of a named stream: FNV-1a, 64-bit, over the UTF-8 bytes
/// of `name`.
///
/// FNV-1a is fixed by its published constants and uses no randomized state,
/// so a name maps to the same stream on every platform, compiler, and
/// version of this crate. (The standard library's hashers make no such
/// promise.) Distinct names collide with probability about 2^-64 per pair.
pub fn stream_id(name: &str) -> u64 {
    const OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    name.bytes().fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME))
}

/// A named, independently seeded random stream.
#[derive(Clone, Debug)]
pub struct RandomStream {
    rng: ChaCha8Rng,
    stream: u64,
    /// A step chosen with [`RandomStream::set_step`] but not positioned yet: seeking
    /// regenerates a ChaCha block, so streams that a step may not use seek lazily.
    pending_step: Option<u64>,
}

impl RandomStream {
    /// Bits of word position reserved for each step: 2^32 words of 32 bits,
    /// that is 2^31 values from `next_u64`.
    pub const STEP_WORDS_LOG2: u32 = 32;
    /// Steps available before the 68-bit word position runs out.
    pub const STEP_COUNT_MAX: u64 = 1 << (68 - Self::STEP_WORDS_LOG2);

    /// The stream called `name` under `key`, positioned at its start.
    pub fn new(key: &SeedKey, name: &str) -> RandomStream {
        let stream = stream_id(name);
        let mut rng = ChaCha8Rng::from_seed(key.0);
        rng.set_stream(stream);
        assert_eq!(rng.get_word_pos(), 0);
        RandomStream { rng, stream, pending_step: None }
    }

    /// The generator, positioned at the start of the block reserved for
    /// `step`.
    ///
    /// Each step owns 2^32 words (2^31 `next_u64` values), disjoint from every
    /// other step's. Whatever one step draws, the next step starts from the
    /// same values. Drawing more than a block's worth in one step would run
    /// into the next step's block; no model comes near that.
    pub fn at_step(&mut self, step: u64) -> &mut ChaCha8Rng {
        assert!(step < Self::STEP_COUNT_MAX, "random stream step {step} exceeds the word position range");
        self.pending_step = None;
        self.rng.set_word_pos(u128::from(step) << Self::STEP_WORDS_LOG2);
        &mut self.rng
    }

    /// Chooses the step's block like [`RandomStream::at_step`], but seeks only when
    /// [`RandomStream::rng`] is next called: the draws are the same, and a step that
    /// draws nothing costs nothing.
    pub fn set_step(&mut self, step: u64) {
        assert!(step < Self::STEP_COUNT_MAX, "random stream step {step} exceeds the word position range");
        self.pending_step = Some(step);
    }

    /// The generator at its current position (after a pending [`RandomStream::set_step`]),
    /// for continuing use.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        if let Some(step) = self.pending_step.take() {
            self.rng.set_word_pos(u128::from(step) << Self::STEP_WORDS_LOG2);
        }
        &mut self.rng
    }

    /// The stream number derived from the name (see [`stream_id`]).
    pub fn stream_id(&self) -> u64 {
        self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_values() {
        // Reference outputs of SplitMix64 seeded with 0 (as published with
        // the xoshiro generators).
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut state), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64(&mut state), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(stream_id(""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(stream_id("a"), 0xAF63_DC4C_8601_EC8C);
        assert_eq!(stream_id("foobar"), 0x8594_4171_F739_67E8);
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let key = SeedKey::from_master(42);
        assert_eq!(key, SeedKey::from_master(42));
        assert_ne!(key, SeedKey::from_master(43));
        assert_eq!(key.for_replication(0), key);
        let mut keys: Vec<[u8; 32]> = (0..1_000).map(|r| key.for_replication(r).0).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 1_000);
        assert_eq!(key.for_replication(7), key.for_replication(7));
    }

    #[test]
    fn named_streams_are_reproducible_and_independent() {
        let key = SeedKey::from_master(1);
        let mut first = RandomStream::new(&key, "arrivals");
        let mut again = RandomStream::new(&key, "arrivals");
        let mut other = RandomStream::new(&key, "service");
        let a: Vec<u64> = (0..8).map(|_| first.rng().next_u64()).collect();
        let b: Vec<u64> = (0..8).map(|_| again.rng().next_u64()).collect();
        let c: Vec<u64> = (0..8).map(|_| other.rng().next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(first.stream_id(), stream_id("arrivals"));
        let mut replicated = RandomStream::new(&key.for_replication(1), "arrivals");
        assert_ne!(replicated.rng().next_u64(), a[0]);
    }

    #[test]
    fn steps_do_not_shift_each_other() {
        let key = SeedKey::from_master(9);
        let mut light = RandomStream::new(&key, "x");
        let mut heavy = RandomStream::new(&key, "x");
        light.at_step(0).next_u64();
        for _ in 0..10_000 {
            heavy.at_step(0).next_u64();
        }
        let light_next = light.at_step(1).next_u64();
        let heavy_next = heavy.at_step(1).next_u64();
        assert_eq!(light_next, heavy_next);
        // Returning to a step replays it.
        let replay = light.at_step(1).next_u64();
        assert_eq!(replay, light_next);
        assert_ne!(light.at_step(2).next_u64(), light_next);
        light.at_step(RandomStream::STEP_COUNT_MAX - 1).next_u64();
    }

    #[test]
    #[should_panic(expected = "exceeds the word position range")]
    fn step_beyond_range_panics() {
        RandomStream::new(&SeedKey::from_master(0), "x").at_step(RandomStream::STEP_COUNT_MAX);
    }
}
