//! NOR flash emulated in RAM, for the boards whose real flash QEMU does not let the program
//! write.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The value an erased byte reads.
pub const ERASED: u8 = 0xFF;

/// Why a [`RamFlash`] refused an operation; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// Offset or length not a multiple of the write (or erase) size.
    NotAligned,
    /// The range leaves the flash.
    OutOfBounds,
    /// The write would turn a 0 bit back into a 1: only an erase does that.
    NotErased,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotErased => NorFlashErrorKind::Other,
        }
    }
}

/// NOR flash in a RAM buffer, programmed in words of `WRITE` bytes and erased in pages of
/// `ERASE` bytes, with the rules of real NOR flash:
///
/// - an erase sets every byte of its pages to [`ERASED`] (`0xFF`);
/// - programming only clears bits: a write that would set a bit that is 0 is refused with
///   [`RamFlashError::NotErased`] and changes nothing (programming the same value again, or
///   `0xFF` over anything, is allowed, as NOR flash allows it);
/// - misaligned or out-of-range calls are refused.
///
/// The buffer is the caller's (in firmware a `static`, so that it counts as static RAM; one
/// in a section the startup code does not zero survives a reset). It holds whatever it held:
/// call [`erase_all`] for a blank chip.
///
/// [`erase_all`]: RamFlash::erase_all
#[derive(Debug)]
pub struct RamFlash<'a, const WRITE: usize, const ERASE: usize> {
    bytes: &'a mut [u8],
}

impl<'a, const WRITE: usize, const ERASE: usize> RamFlash<'a, WRITE, ERASE> {
    /// Checked at compile time: the geometry is consistent.
    const GEOMETRY: () = assert!(
        WRITE > 0 && ERASE > 0 && ERASE.is_multiple_of(WRITE),
        "RamFlash: ERASE must be a multiple of WRITE"
    );

    /// A flash over `bytes`; its capacity is `bytes` rounded down to whole pages.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        let () = Self::GEOMETRY;
        let pages = bytes.len() / ERASE * ERASE;
        let (bytes, _) = bytes.split_at_mut(pages);
        Self { bytes }
    }

    /// Erases the whole chip.
    pub fn erase_all(&mut self) {
        self.bytes.fill(ERASED);
    }

    fn range(&self, offset: u32, len: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let from = usize::try_from(offset).map_err(|_| RamFlashError::OutOfBounds)?;
        let to = from.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if to > self.bytes.len() {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok(from..to)
    }
}

impl<const WRITE: usize, const ERASE: usize> ErrorType for RamFlash<'_, WRITE, ERASE> {
    type Error = RamFlashError;
}

impl<const WRITE: usize, const ERASE: usize> ReadNorFlash for RamFlash<'_, WRITE, ERASE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let range = self.range(offset, bytes.len())?;
        let from = self.bytes.get(range).ok_or(RamFlashError::OutOfBounds)?;
        bytes.copy_from_slice(from);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl<const WRITE: usize, const ERASE: usize> NorFlash for RamFlash<'_, WRITE, ERASE> {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        if !(from as usize).is_multiple_of(ERASE) || !(to as usize).is_multiple_of(ERASE) {
            return Err(RamFlashError::NotAligned);
        }
        let len = to.checked_sub(from).ok_or(RamFlashError::OutOfBounds)? as usize;
        let range = self.range(from, len)?;
        self.bytes
            .get_mut(range)
            .ok_or(RamFlashError::OutOfBounds)?
            .fill(ERASED);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        if !(offset as usize).is_multiple_of(WRITE) || !bytes.len().is_multiple_of(WRITE) {
            return Err(RamFlashError::NotAligned);
        }
        let range = self.range(offset, bytes.len())?;
        let cells = self
            .bytes
            .get_mut(range)
            .ok_or(RamFlashError::OutOfBounds)?;
        if cells.iter().zip(bytes).any(|(old, new)| new & !old != 0) {
            return Err(RamFlashError::NotErased);
        }
        for (old, new) in cells.iter_mut().zip(bytes) {
            *old &= new;
        }
        Ok(())
    }
}
