//! A NOR flash simulator with real programming rules and schedulable power cuts.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Where a scheduled power cut falls relative to its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CutKind {
    /// The operation has no effect and fails.
    Before,
    /// The operation is torn and fails. A write lands its first half (rounded down) and half
    /// of the bits of the next byte (the bits of the high nibble); an erase erases the first
    /// half of its range.
    Inside,
    /// The operation completes and succeeds; the cut follows it.
    After,
}

impl CutKind {
    /// The three kinds, for sweeps.
    pub const ALL: [CutKind; 3] = [CutKind::Before, CutKind::Inside, CutKind::After];
}

/// A power cut scheduled at one mutating operation (write or erase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PowerCut {
    /// The 1-based index of the mutating operation, counted from the flash's creation (see
    /// [`MockFlash::ops`]).
    pub op: u32,
    /// Where the cut falls.
    pub kind: CutKind,
}

/// How many operations a [`MockFlash`] has performed since its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Read calls that succeeded.
    pub reads: u32,
    /// Write calls that changed the flash (completed or torn).
    pub writes: u32,
    /// Erase calls that changed the flash (completed or torn).
    pub erases: u32,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes programmed (a torn write counts what landed).
    pub bytes_written: u64,
}

/// Why a [`MockFlash`] refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MockFlashError {
    /// Offset or length not a multiple of the write or erase size.
    NotAligned,
    /// The range leaves the flash.
    OutOfBounds,
    /// The write would program a word already programmed since its last erase.
    AlreadyProgrammed,
    /// Power is off: a scheduled cut happened at or before this operation.
    PowerCut,
}

impl NorFlashError for MockFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::AlreadyProgrammed | Self::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

/// A NOR flash of `SIZE` bytes, programmed in words of `WRITE` bytes and erased in pages of
/// `ERASE` bytes, that erases to a configurable value (`0xFF` or `0x00`).
///
/// Rules, as real NOR flash and `embedded-storage` state them:
/// - an erase sets every byte of its pages to the erased value;
/// - programming only moves bits away from the erased value (`old & new` when erased is
///   `0xFF`, `old | new` when it is `0x00`);
/// - a word programmed since its last erase is never programmed again: the write is
///   refused with [`MockFlashError::AlreadyProgrammed`] and changes nothing;
/// - misaligned or out-of-range calls are refused.
///
/// A [`PowerCut`] can be scheduled at any mutating operation; from then on every call fails
/// with [`MockFlashError::PowerCut`]. [`reboot`](Self::reboot) builds the flash the device
/// finds after power returns: the same bytes, power on, no cut scheduled, counters at zero.
///
/// Besides the [`Counters`], the flash remembers how often each byte was programmed and
/// erased (saturating at 255), across reboots, so tests can prove that data is written once.
///
/// To share one flash between several stores, put it in a `RefCell` and hand out
/// [`Partition`](crate::persist::Partition)s.
#[derive(Debug, Clone)]
pub struct MockFlash<const SIZE: usize, const WRITE: usize, const ERASE: usize> {
    data: [u8; SIZE],
    programmed: [bool; SIZE],
    programs: [u8; SIZE],
    erases: [u8; SIZE],
    erased: u8,
    counters: Counters,
    ops: u32,
    cut: Option<PowerCut>,
    powered: bool,
}

impl<const SIZE: usize, const WRITE: usize, const ERASE: usize> MockFlash<SIZE, WRITE, ERASE> {
    /// Checked at compile time: the geometry is consistent.
    const GEOMETRY: () = assert!(
        WRITE > 0 && ERASE > 0 && ERASE.is_multiple_of(WRITE) && SIZE.is_multiple_of(ERASE),
        "MockFlash: ERASE must be a multiple of WRITE and SIZE a multiple of ERASE"
    );

    /// A fully erased flash whose erased value is `erased` (`0xFF` or `0x00`).
    pub const fn new(erased: u8) -> Self {
        let () = Self::GEOMETRY;
        Self {
            data: [erased; SIZE],
            programmed: [false; SIZE],
            programs: [0; SIZE],
            erases: [0; SIZE],
            erased,
            counters: Counters {
                reads: 0,
                writes: 0,
                erases: 0,
                bytes_read: 0,
                bytes_written: 0,
            },
            ops: 0,
            cut: None,
            powered: true,
        }
    }

    /// A flash holding `image` (as taken from [`image`](Self::image)); `None` unless `image`
    /// is `SIZE` bytes long. A word counts as programmed when any of its bytes differs from
    /// the erased value.
    pub fn from_image(image: &[u8], erased: u8) -> Option<Self> {
        let mut flash = Self::new(erased);
        flash
            .data
            .copy_from_slice(image.get(..SIZE).filter(|_| image.len() == SIZE)?);
        for (word, flags) in flash
            .data
            .chunks_exact(WRITE)
            .zip(flash.programmed.chunks_exact_mut(WRITE))
        {
            let written = word.iter().any(|&b| b != erased);
            flags.fill(written);
        }
        Some(flash)
    }

    /// The flash after a power cycle: same bytes and programmed words (and wear counts),
    /// power on, no cut scheduled, [`Counters`] and [`ops`](Self::ops) at zero.
    pub fn reboot(&self) -> Self {
        let mut flash = self.clone();
        flash.counters = Counters::default();
        flash.ops = 0;
        flash.cut = None;
        flash.powered = true;
        flash
    }

    /// The flash content.
    pub fn image(&self) -> &[u8] {
        &self.data
    }

    /// The erased value.
    pub fn erased_value(&self) -> u8 {
        self.erased
    }

    /// Schedules a power cut, replacing any earlier one.
    pub fn schedule_cut(&mut self, cut: PowerCut) {
        self.cut = Some(cut);
    }

    /// Whether a power cut has happened: every call fails now.
    pub fn is_cut(&self) -> bool {
        !self.powered
    }

    /// Mutating operations (write and erase calls made with power on, whatever their result)
    /// since creation or the last reboot: the index a [`PowerCut`] refers to.
    pub fn ops(&self) -> u32 {
        self.ops
    }

    /// What the flash has done since creation or the last reboot.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// How many times the byte at `addr` was programmed (saturating at 255; 0 out of range).
    pub fn program_count(&self, addr: usize) -> u8 {
        self.programs.get(addr).copied().unwrap_or(0)
    }

    /// How many times the byte at `addr` was erased (saturating at 255; 0 out of range).
    pub fn erase_count(&self, addr: usize) -> u8 {
        self.erases.get(addr).copied().unwrap_or(0)
    }

    /// Forgets the program and erase counts of every byte.
    pub fn reset_wear(&mut self) {
        self.programs = [0; SIZE];
        self.erases = [0; SIZE];
    }

    /// Counts one mutating operation and says where a scheduled cut falls on it.
    fn begin_op(&mut self) -> Result<Option<CutKind>, MockFlashError> {
        if !self.powered {
            return Err(MockFlashError::PowerCut);
        }
        self.ops = self.ops.saturating_add(1);
        Ok(self
            .cut
            .filter(|cut| cut.op == self.ops)
            .map(|cut| cut.kind))
    }

    fn range(offset: u32, len: usize) -> Result<core::ops::Range<usize>, MockFlashError> {
        let start = usize::try_from(offset).map_err(|_| MockFlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(MockFlashError::OutOfBounds)?;
        if end > SIZE {
            return Err(MockFlashError::OutOfBounds);
        }
        Ok(start..end)
    }

    /// Programs `new` over `old`: bits only move away from the erased value.
    fn program(&self, old: u8, new: u8) -> u8 {
        if self.erased == 0x00 {
            old | new
        } else {
            old & new
        }
    }

    fn land(&mut self, addr: usize, value: u8) {
        if let (Some(byte), Some(flag), Some(count)) = (
            self.data.get(addr).copied(),
            self.programmed.get_mut(addr),
            self.programs.get_mut(addr),
        ) {
            *flag = true;
            *count = count.saturating_add(1);
            let landed = self.program(byte, value);
            if let Some(byte) = self.data.get_mut(addr) {
                *byte = landed;
            }
        }
    }

    fn erase_bytes(&mut self, range: core::ops::Range<usize>) {
        let erased = self.erased;
        for ((byte, flag), count) in self
            .data
            .get_mut(range.clone())
            .into_iter()
            .flatten()
            .zip(self.programmed.get_mut(range.clone()).into_iter().flatten())
            .zip(self.erases.get_mut(range).into_iter().flatten())
        {
            *byte = erased;
            *flag = false;
            *count = count.saturating_add(1);
        }
    }
}

impl<const SIZE: usize, const WRITE: usize, const ERASE: usize> ErrorType
    for MockFlash<SIZE, WRITE, ERASE>
{
    type Error = MockFlashError;
}

impl<const SIZE: usize, const WRITE: usize, const ERASE: usize> ReadNorFlash
    for MockFlash<SIZE, WRITE, ERASE>
{
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if !self.powered {
            return Err(MockFlashError::PowerCut);
        }
        let range = Self::range(offset, bytes.len())?;
        let source = self.data.get(range).ok_or(MockFlashError::OutOfBounds)?;
        bytes.copy_from_slice(source);
        self.counters.reads = self.counters.reads.saturating_add(1);
        self.counters.bytes_read = self.counters.bytes_read.saturating_add(bytes.len() as u64);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const WRITE: usize, const ERASE: usize> NorFlash
    for MockFlash<SIZE, WRITE, ERASE>
{
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let cut = self.begin_op()?;
        let len = to.checked_sub(from).ok_or(MockFlashError::OutOfBounds)?;
        let range = Self::range(from, len as usize)?;
        if range.start % ERASE != 0 || range.end % ERASE != 0 {
            return Err(MockFlashError::NotAligned);
        }
        let end = match cut {
            Some(CutKind::Before) => range.start,
            Some(CutKind::Inside) => range.start + range.len() / 2,
            Some(CutKind::After) | None => range.end,
        };
        self.erase_bytes(range.start..end);
        if cut != Some(CutKind::Before) {
            self.counters.erases = self.counters.erases.saturating_add(1);
        }
        match cut {
            Some(CutKind::Before | CutKind::Inside) => {
                self.powered = false;
                Err(MockFlashError::PowerCut)
            }
            Some(CutKind::After) => {
                self.powered = false;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let cut = self.begin_op()?;
        let range = Self::range(offset, bytes.len())?;
        if range.start % WRITE != 0 || !bytes.len().is_multiple_of(WRITE) {
            return Err(MockFlashError::NotAligned);
        }
        if self
            .programmed
            .get(range.clone())
            .into_iter()
            .flatten()
            .any(|&p| p)
        {
            return Err(MockFlashError::AlreadyProgrammed);
        }
        let (full, partial) = match cut {
            Some(CutKind::Before) => (0, None),
            Some(CutKind::Inside) => (bytes.len() / 2, bytes.get(bytes.len() / 2).copied()),
            Some(CutKind::After) | None => (bytes.len(), None),
        };
        for (addr, &value) in range.clone().zip(bytes.iter().take(full)) {
            self.land(addr, value);
        }
        let mut landed = full;
        if let Some(value) = partial {
            // Only the bits of the high nibble make it.
            let half = if self.erased == 0x00 {
                value & 0xF0
            } else {
                value | 0x0F
            };
            self.land(range.start + full, half);
            landed += 1;
        }
        if landed > 0 {
            self.counters.writes = self.counters.writes.saturating_add(1);
            self.counters.bytes_written = self.counters.bytes_written.saturating_add(landed as u64);
        }
        match cut {
            Some(CutKind::Before | CutKind::Inside) => {
                self.powered = false;
                Err(MockFlashError::PowerCut)
            }
            Some(CutKind::After) => {
                self.powered = false;
                Ok(())
            }
            None => Ok(()),
        }
    }
}
