//! Randomness, injected: code that makes secrets (TOTP seeds, salts) takes a
//! [`Random`], so tests can make them reproducible and a failing system
//! generator is an error, never a weak secret.

use std::sync::atomic::{AtomicU64, Ordering};

/// The system generator could not give bytes.
#[derive(Debug, thiserror::Error)]
#[error("no randomness from the operating system: {0}")]
pub struct RandomError(String);

/// A source of cryptographically strong random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf` entirely, or fails.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::getrandom(buf).map_err(|e| RandomError(e.to_string()))
    }
}

/// A predictable generator for tests: SplitMix64 from a seed. Never for
/// secrets that protect anything.
#[derive(Debug)]
pub struct SeededRandom(AtomicU64);

impl SeededRandom {
    /// A generator starting at `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_differ_by_seed() {
        let (mut a, mut b, mut c) = ([0u8; 20], [0u8; 20], [0u8; 20]);
        SeededRandom::new(7).fill(&mut a).unwrap();
        SeededRandom::new(7).fill(&mut b).unwrap();
        SeededRandom::new(8).fill(&mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_system_generator_fills_the_buffer() {
        let mut a = [0u8; 32];
        SystemRandom.fill(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
