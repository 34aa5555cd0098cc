//! Volatile access to 32-bit device registers.

use core::ptr::{read_volatile, write_volatile};

/// A block of 32-bit device registers at a fixed address.
#[derive(Clone, Copy)]
pub(crate) struct Regs {
    base: usize,
}

impl Regs {
    /// # Safety
    /// `base` must be the address of a register block of the expected device, mapped for the
    /// whole program, that no other code drives.
    pub(crate) const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// Reads the register at byte offset `off`.
    #[inline(always)]
    pub(crate) fn read(self, off: usize) -> u32 {
        // SAFETY: `new`'s contract: the address is a mapped, aligned device register.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    /// Writes the register at byte offset `off`.
    #[inline(always)]
    pub(crate) fn write(self, off: usize, value: u32) {
        // SAFETY: `new`'s contract: the address is a mapped, aligned device register.
        unsafe { write_volatile((self.base + off) as *mut u32, value) }
    }
}
