//! A deterministic [`Rng`] for tests.

use crate::platform::Rng;

/// A seeded xorshift64* generator: the same seed gives the same bytes. Not for production:
/// its output is predictable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockRng {
    state: u64,
}

impl MockRng {
    /// A generator started from `seed` (0 is replaced by a fixed non-zero value).
    pub const fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Rng for MockRng {
    type Error = core::convert::Infallible;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            for (to, from) in chunk.iter_mut().zip(bytes) {
                *to = from;
            }
        }
        Ok(())
    }
}
