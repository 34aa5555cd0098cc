//! One flash shared by several stores: each gets an erase-aligned window of it.

use core::cell::RefCell;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// An erase-aligned window `[offset, offset + size)` of a flash shared through a `RefCell`,
/// itself a [`NorFlash`] whose addresses start at 0.
///
/// Give each store its own partition of one chip (state records, packages, the installer's
/// own data). Calls borrow the flash only for their duration; a call made while the flash
/// is borrowed elsewhere fails with [`PartitionError::Busy`] instead of panicking.
///
/// # Power loss
///
/// A partition adds nothing to the flash's own power-loss behaviour.
#[derive(Debug)]
pub struct Partition<'a, F> {
    flash: &'a RefCell<F>,
    offset: u32,
    size: u32,
}

// Manual impls: a partition is a shared reference and two numbers, whatever `F` is.
impl<F> Clone for Partition<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Partition<'_, F> {}

/// A [`Partition`] call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PartitionError<E> {
    /// The underlying flash failed.
    Flash(E),
    /// The range leaves the partition.
    OutOfBounds,
    /// The flash is borrowed elsewhere at this moment.
    Busy,
}

impl<E: NorFlashError> NorFlashError for PartitionError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::Flash(e) => e.kind(),
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::Busy => NorFlashErrorKind::Other,
        }
    }
}

impl<'a, F: NorFlash> Partition<'a, F> {
    /// The window of `size` bytes at `offset`; `None` unless both are multiples of the
    /// flash's erase size, the window lies inside the flash, and the flash is not borrowed.
    pub fn new(flash: &'a RefCell<F>, offset: u32, size: u32) -> Option<Self> {
        let erase = u32::try_from(F::ERASE_SIZE).ok()?;
        let capacity = flash.try_borrow().ok()?.capacity();
        let end = usize::try_from(offset.checked_add(size)?).ok()?;
        (offset.is_multiple_of(erase) && size.is_multiple_of(erase) && size > 0 && end <= capacity)
            .then_some(Self {
                flash,
                offset,
                size,
            })
    }

    fn place(&self, offset: u32, len: usize) -> Result<u32, PartitionError<F::Error>> {
        let len = u32::try_from(len).map_err(|_| PartitionError::OutOfBounds)?;
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.offset + offset),
            _ => Err(PartitionError::OutOfBounds),
        }
    }
}

impl<F: NorFlash> ErrorType for Partition<'_, F> {
    type Error = PartitionError<F::Error>;
}

impl<F: NorFlash> ReadNorFlash for Partition<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let at = self.place(offset, bytes.len())?;
        let mut flash = self
            .flash
            .try_borrow_mut()
            .map_err(|_| PartitionError::Busy)?;
        flash.read(at, bytes).map_err(PartitionError::Flash)
    }

    fn capacity(&self) -> usize {
        self.size as usize
    }
}

impl<F: NorFlash> NorFlash for Partition<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.checked_sub(from).ok_or(PartitionError::OutOfBounds)?;
        let at = self.place(from, len as usize)?;
        let mut flash = self
            .flash
            .try_borrow_mut()
            .map_err(|_| PartitionError::Busy)?;
        flash.erase(at, at + len).map_err(PartitionError::Flash)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let at = self.place(offset, bytes.len())?;
        let mut flash = self
            .flash
            .try_borrow_mut()
            .map_err(|_| PartitionError::Busy)?;
        flash.write(at, bytes).map_err(PartitionError::Flash)
    }
}
