//! A small seeded generator (xorshift64*) for property tests and randomized
//! test schedules: a run is reproducible from one number, `MLC_SEED` replays
//! it, and `MLC_FUZZ_CASES` sets how many cases a property tries. Standing in
//! for a fuzzer keeps these tests in CI.

/// The seed of this run: `MLC_SEED` when set, else `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("MLC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Cases per property: `MLC_FUZZ_CASES`, 400 by default.
pub fn fuzz_cases() -> usize {
    std::env::var("MLC_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400)
}

/// xorshift64*: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, xorshift would stay at 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The generator of one property: the run's seed mixed with `salt`, so
    /// the properties of one run draw different sequences.
    pub fn for_property(salt: u64) -> Rng {
        Rng::new(seed_from_env(0x9e37_79b9_7f4a_7c15) ^ salt)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_sequence_and_below_stays_below() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs[0], xs[1]);
        assert!((0..1000).all(|_| a.below(7) < 7));
        assert_eq!(Rng::new(0).below(0), 0);
    }
}
