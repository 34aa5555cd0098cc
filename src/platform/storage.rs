//! The error grammar shared by the two stores.

use crate::codes::StatusCode;

/// What went wrong in a [`StateStore`](super::StateStore) or
/// [`ComponentStore`](super::ComponentStore) call: the part of a backend error the core
/// branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// No record, package or key of that name exists.
    NotFound,
    /// The key lies outside the range the store has (`key >= slots()`).
    InvalidKey,
    /// The store has no room left for this record or package, although it would fit an
    /// empty store.
    NoSpace,
    /// The record or package is larger than the store can ever hold, or a write went past
    /// the declared size of a package.
    TooLarge,
    /// The caller's buffer is too small for the record.
    BufferTooSmall,
    /// The stored bytes failed their check (bad CRC, bad magic, impossible length).
    Corrupted,
    /// The call does not fit the state of the object (e.g. resuming a committed package).
    WrongState,
    /// An earlier call on this writer failed; the writer accepts only `abort` now.
    Poisoned,
    /// The storage device failed (flash error, lost power).
    Io,
    /// Anything else.
    Other,
}

impl StorageErrorKind {
    /// The DM status code for a command that failed with this kind (420 when full, 413 when
    /// too large, 404 when missing, 510 for every storage failure).
    pub const fn status_code(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NotFound,
            Self::NoSpace => StatusCode::DeviceFull,
            Self::TooLarge => StatusCode::RequestEntityTooLarge,
            Self::InvalidKey
            | Self::BufferTooSmall
            | Self::Corrupted
            | Self::WrongState
            | Self::Poisoned
            | Self::Io
            | Self::Other => StatusCode::DataStoreFailure,
        }
    }

    /// The nearest [`embedded_io::ErrorKind`], for implementing [`embedded_io::Error`] on a
    /// store's error type.
    pub const fn io_kind(self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as Io;
        match self {
            Self::NotFound => Io::NotFound,
            Self::InvalidKey | Self::BufferTooSmall | Self::WrongState => Io::InvalidInput,
            Self::NoSpace => Io::OutOfMemory,
            Self::TooLarge => Io::WriteZero,
            Self::Corrupted => Io::InvalidData,
            Self::Poisoned | Self::Io | Self::Other => Io::Other,
        }
    }
}

/// A store's error: any type that can say which [`StorageErrorKind`] it is.
pub trait StorageError: core::fmt::Debug {
    /// The kind of this error.
    fn kind(&self) -> StorageErrorKind;
}

impl StorageError for StorageErrorKind {
    fn kind(&self) -> StorageErrorKind {
        *self
    }
}

impl StorageError for core::convert::Infallible {
    fn kind(&self) -> StorageErrorKind {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_kinds_map_to_dm_status_420_413_404_and_510() {
        assert_eq!(StorageErrorKind::NoSpace.status_code().code(), 420);
        assert_eq!(StorageErrorKind::TooLarge.status_code().code(), 413);
        assert_eq!(StorageErrorKind::NotFound.status_code().code(), 404);
        for kind in [
            StorageErrorKind::Corrupted,
            StorageErrorKind::Io,
            StorageErrorKind::Poisoned,
        ] {
            assert_eq!(kind.status_code().code(), 510);
        }
        assert_eq!(
            StorageErrorKind::Corrupted.io_kind(),
            embedded_io::ErrorKind::InvalidData
        );
    }
}
