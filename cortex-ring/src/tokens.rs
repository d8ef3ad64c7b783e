//! Random ring tokens: each instance claims `num_tokens` (128 by default) random points
//! on the 32-bit hash circle, none already taken, so keys spread evenly and a joining
//! instance takes a little from everyone (Cortex's random token strategy).
//!
//! The generator is a small SplitMix64 sequence: seeded from the process' random hash
//! keys and the clock in production, from a fixed seed in tests so results repeat.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

/// Tokens per instance unless configured otherwise (Cortex's `num_tokens`).
pub use cortex_core::ring::DEFAULT_NUM_TOKENS;

/// A source of random tokens.
#[derive(Debug, Clone)]
pub struct TokenGenerator {
    state: u64,
}

impl Default for TokenGenerator {
    fn default() -> Self {
        TokenGenerator::new()
    }
}

impl TokenGenerator {
    /// A generator seeded unpredictably (different in every process and call).
    pub fn new() -> TokenGenerator {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        TokenGenerator::with_seed(RandomState::new().hash_one(nanos))
    }

    /// A generator that always yields the same sequence for `seed`.
    pub fn with_seed(seed: u64) -> TokenGenerator {
        TokenGenerator { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next random token.
    pub fn next_token(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// `n` distinct random tokens, none in `taken`, sorted ascending. When fewer than `n`
    /// tokens are free, all the free ones that could be found are returned — in practice
    /// the ring is never that full.
    pub fn generate(&mut self, n: usize, taken: &[u32]) -> Vec<u32> {
        let mut used: HashSet<u32> = taken.iter().copied().collect();
        let free = (1u64 << 32) - used.len() as u64;
        let n = n.min(usize::try_from(free).unwrap_or(usize::MAX));
        let mut tokens = Vec::with_capacity(n);
        while tokens.len() < n {
            let candidate = self.next_token();
            if used.insert(candidate) {
                tokens.push(candidate);
            }
        }
        tokens.sort_unstable();
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::{Desc, InstanceState};

    #[test]
    fn generated_tokens_are_sorted_unique_and_avoid_taken() {
        let mut g = TokenGenerator::with_seed(7);
        let taken = g.generate(1000, &[]);
        let mine = g.generate(DEFAULT_NUM_TOKENS, &taken);
        assert_eq!(mine.len(), DEFAULT_NUM_TOKENS);
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        assert!(mine.iter().all(|t| taken.binary_search(t).is_err()));
    }

    #[test]
    fn a_seed_repeats_and_different_seeds_differ() {
        let a = TokenGenerator::with_seed(42).generate(16, &[]);
        assert_eq!(a, TokenGenerator::with_seed(42).generate(16, &[]));
        assert_ne!(a, TokenGenerator::with_seed(43).generate(16, &[]));
        assert_ne!(
            TokenGenerator::new().generate(16, &[]),
            TokenGenerator::new().generate(16, &[])
        );
    }

    #[test]
    fn tokens_never_repeat_across_instances() {
        let mut g = TokenGenerator::with_seed(1);
        let mut all = Vec::new();
        for _ in 0..50 {
            let t = g.generate(128, &all);
            all.extend(t);
        }
        let unique: HashSet<u32> = all.iter().copied().collect();
        assert_eq!(unique.len(), 50 * 128);
    }

    /// Builds rings of 3..=30 instances joining one by one with `place`, printing each
    /// size's ownership spread relative to the fair share; returns the widest spread.
    fn spread_table(
        name: &str,
        mut place: impl FnMut(&mut TokenGenerator, &Desc, &str) -> Vec<u32>,
    ) -> f64 {
        let mut g = TokenGenerator::with_seed(2024);
        let mut widest: f64 = 0.0;
        for n in 3usize..=30 {
            let mut desc = Desc::new();
            for i in 0..n {
                let id = format!("ing-{i:02}");
                let tokens = place(&mut g, &desc, &id);
                desc.add_ingester(&id, "", "", tokens, InstanceState::ACTIVE, 0);
            }
            let fair = 1.0 / n as f64;
            let rel: Vec<f64> = desc.ownership().values().map(|o| o / fair - 1.0).collect();
            let min = rel.iter().copied().fold(f64::MAX, f64::min);
            let max = rel.iter().copied().fold(f64::MIN, f64::max);
            println!(
                "{name}: {n:2} instances x {DEFAULT_NUM_TOKENS} tokens: ownership vs fair share {:+6.1}% .. {:+6.1}%",
                min * 100.0,
                max * 100.0
            );
            widest = widest.max(-min).max(max);
        }
        widest
    }

    #[test]
    fn random_token_ownership_spread() {
        let widest = spread_table("random", |g, d, _| {
            g.generate(DEFAULT_NUM_TOKENS, &d.tokens())
        });
        // 128 random tokens leave a relative spread of about 1/sqrt(128) per instance:
        // the +-15% target is out of reach, the +-35% bound is not.
        println!("random: widest deviation {:.1}%", widest * 100.0);
        assert!(widest < 0.35, "{widest}");
        assert!(
            widest > 0.15,
            "random tokens are not expected to reach +-15%: {widest}"
        );
    }

    #[test]
    fn spread_minimizing_tokens_stay_within_15_percent_of_fair_share() {
        let widest = spread_table("minimize-spread", |g, d, id| {
            g.generate_spread_minimizing(d, id, "", DEFAULT_NUM_TOKENS)
        });
        println!("minimize-spread: widest deviation {:.1}%", widest * 100.0);
        assert!(widest <= 0.15, "{widest}");
    }
}
