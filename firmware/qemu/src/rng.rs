//! A deterministic random source for the images: session ids and nonces that differ per
//! seed. A real device seeds a DRBG from a hardware TRNG instead.

use scomo::platform::{Rng, RngErrorKind};

/// A xorshift64* generator (never fails).
pub struct XorShift(pub u64);

impl Rng for XorShift {
    type Error = RngErrorKind;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RngErrorKind> {
        for b in buf {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            *b = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
        Ok(())
    }
}
