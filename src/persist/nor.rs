//! What the two flash stores share: their error, the geometry rules and careful reads.

use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};

use crate::platform::{StorageError, StorageErrorKind};

/// The error of [`NorStateStore`](super::NorStateStore) and
/// [`NorComponentStore`](super::NorComponentStore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NorStoreError {
    /// The flash failed (this includes losing power); [`StorageErrorKind::Io`].
    Flash(NorFlashErrorKind),
    /// The flash or region does not fit the store's layout (sizes and alignments are listed
    /// on each store); [`StorageErrorKind::Other`].
    Geometry,
    /// The store refused the call.
    Store(StorageErrorKind),
}

impl StorageError for NorStoreError {
    fn kind(&self) -> StorageErrorKind {
        match self {
            Self::Flash(_) => StorageErrorKind::Io,
            Self::Geometry => StorageErrorKind::Other,
            Self::Store(kind) => *kind,
        }
    }
}

impl core::fmt::Display for NorStoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Flash(kind) => write!(f, "flash: {kind}"),
            Self::Geometry => f.write_str("flash geometry does not fit the store"),
            Self::Store(kind) => write!(f, "store: {kind:?}"),
        }
    }
}

impl core::error::Error for NorStoreError {}

impl embedded_io::Error for NorStoreError {
    fn kind(&self) -> embedded_io::ErrorKind {
        StorageError::kind(self).io_kind()
    }
}

impl From<StorageErrorKind> for NorStoreError {
    fn from(kind: StorageErrorKind) -> Self {
        Self::Store(kind)
    }
}

/// Keeps only the kind of a flash error (the concrete type stays out of the store's API).
pub(crate) fn flash_error<E: NorFlashError>(error: E) -> NorStoreError {
    NorStoreError::Flash(error.kind())
}

/// The stores move data through stack buffers of this many bytes; write and read sizes
/// must divide it.
pub(crate) const CHUNK: usize = 64;

/// Checks the rules both stores rely on: `WRITE_SIZE` and `READ_SIZE` divide 64 and
/// `WRITE_SIZE` divides `ERASE_SIZE`.
pub(crate) fn check_geometry<F: NorFlash>() -> Result<(), NorStoreError> {
    let (write, read, erase) = (F::WRITE_SIZE, F::READ_SIZE, F::ERASE_SIZE);
    let fits = |size: usize| size > 0 && size <= CHUNK && CHUNK.is_multiple_of(size);
    if fits(write) && fits(read) && erase >= write && erase % write == 0 {
        Ok(())
    } else {
        Err(NorStoreError::Geometry)
    }
}

/// `n` rounded up to a multiple of `unit` (`unit > 0`).
pub(crate) const fn round_up(n: usize, unit: usize) -> usize {
    n.div_ceil(unit) * unit
}

/// A flash address from a region offset, refusing overflow.
pub(crate) fn addr(base: u32, offset: usize) -> Result<u32, NorStoreError> {
    u32::try_from(offset)
        .ok()
        .and_then(|o| base.checked_add(o))
        .ok_or(NorStoreError::Store(StorageErrorKind::Corrupted))
}

/// Reads `buf.len()` bytes at `address`, whatever the flash's `READ_SIZE` alignment.
pub(crate) fn read<F: NorFlash>(
    flash: &mut F,
    address: u32,
    buf: &mut [u8],
) -> Result<(), NorStoreError> {
    let unit = F::READ_SIZE;
    if unit <= 1 {
        return flash.read(address, buf).map_err(flash_error);
    }
    let mut bounce = [0u8; CHUNK];
    let mut done = 0;
    while done < buf.len() {
        let at = addr(address, done)?;
        let aligned = at - at % unit as u32;
        let skip = (at - aligned) as usize;
        let want = (buf.len() - done).min(CHUNK - skip);
        let span = round_up(skip + want, unit);
        let window = bounce.get_mut(..span).ok_or(NorStoreError::Geometry)?;
        flash.read(aligned, window).map_err(flash_error)?;
        let (to, from) = (
            buf.get_mut(done..done + want),
            window.get(skip..skip + want),
        );
        to.zip(from)
            .ok_or(NorStoreError::Geometry)
            .map(|(to, from)| to.copy_from_slice(from))?;
        done += want;
    }
    Ok(())
}

/// Whether the `len` bytes at `address` all hold the erased value.
pub(crate) fn is_erased<F: NorFlash>(
    flash: &mut F,
    address: u32,
    len: usize,
    erased: u8,
) -> Result<bool, NorStoreError> {
    let mut buf = [0u8; CHUNK];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK);
        let window = buf.get_mut(..n).ok_or(NorStoreError::Geometry)?;
        read(flash, addr(address, done)?, window)?;
        if window.iter().any(|&b| b != erased) {
            return Ok(false);
        }
        done += n;
    }
    Ok(true)
}
