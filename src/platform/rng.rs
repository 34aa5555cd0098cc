//! Randomness for nonces and session identifiers.

/// What went wrong in an [`Rng`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RngErrorKind {
    /// The source has no entropy to give now (not seeded yet, hardware busy).
    Unavailable,
    /// Anything else.
    Other,
}

/// An RNG's error: any type that can say which [`RngErrorKind`] it is.
pub trait RngError: core::fmt::Debug {
    /// The kind of this error.
    fn kind(&self) -> RngErrorKind;
}

impl RngError for RngErrorKind {
    fn kind(&self) -> RngErrorKind {
        *self
    }
}

impl RngError for core::convert::Infallible {
    fn kind(&self) -> RngErrorKind {
        match *self {}
    }
}

/// A source of random bytes, good enough for authentication nonces (a hardware TRNG or a
/// CSPRNG seeded from one).
pub trait Rng {
    /// The source's error.
    type Error: RngError;

    /// Fills `buf` with random bytes.
    ///
    /// # Power loss
    ///
    /// Stores nothing.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Self::Error>;
}

impl<T: Rng + ?Sized> Rng for &mut T {
    type Error = T::Error;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Self::Error> {
        T::fill(self, buf)
    }
}
