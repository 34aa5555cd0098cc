//! Delivery packages: written as they stream in, resumable after a cut, read back to install.

use super::StorageError;

/// The slot a delivery package is stored under, chosen by the core: `0..store.slots()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackageKey(pub u16);

/// Whether a stored package is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PackageState {
    /// Begun and not committed: a download or Large Object in progress, resumable.
    Partial,
    /// Committed: every byte is stored and the package can be installed.
    Complete,
}

/// What a store knows about one package, after a reboot as well as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackageInfo {
    /// Partial or complete.
    pub state: PackageState,
    /// The size given to [`ComponentStore::begin`]: the most the package may hold.
    pub declared_size: u64,
    /// For a complete package its length; for a partial one the durable offset, the number
    /// of leading bytes that survive a power cut (where [`ComponentStore::resume`] restarts).
    pub len: u64,
}

/// Stores delivery packages by [`PackageKey`].
///
/// A package is written through a typestate writer: [`begin`](Self::begin) (or
/// [`resume`](Self::resume)) gives a [`PackageWriter`]; bytes go in through
/// [`embedded_io::Write`]; the writer ends in [`commit`](PackageWriter::commit),
/// [`abort`](PackageWriter::abort) or [`suspend`](PackageWriter::suspend). A failed write
/// poisons the writer. Between two calls of the executor's `poll` no writer is alive: the
/// executor suspends it and resumes it on the next chunk, so it holds no borrow of the store.
///
/// Progress is durable in whole units of [`PackageWriter::durable_offset`] granularity (one
/// erase page on flash): after a power cut [`resume`](Self::resume) restarts at the last
/// durable offset, so at most one page is written again and fetched again.
///
/// The error type also implements [`embedded_io::Error`] because the writer and the reader
/// report it through `embedded_io`.
pub trait ComponentStore {
    /// The backend's error.
    type Error: StorageError + embedded_io::Error;
    /// A package being written.
    type Writer<'a>: PackageWriter<Error = Self::Error>
    where
        Self: 'a;
    /// A package being read.
    type Reader<'a>: PackageReader<Error = Self::Error>
    where
        Self: 'a;

    /// How many keys the store has: valid keys are `PackageKey(0)..PackageKey(slots())`.
    fn slots(&self) -> u16;

    /// The largest package, in bytes, one key can hold.
    fn slot_capacity(&self) -> u64;

    /// Starts package `key` of at most `declared_size` bytes, discarding whatever `key` held
    /// (complete or partial). The writer starts at offset 0.
    ///
    /// Fails with [`TooLarge`](super::StorageErrorKind::TooLarge) when `declared_size`
    /// exceeds [`slot_capacity`](Self::slot_capacity) (nothing changes) and with
    /// [`InvalidKey`](super::StorageErrorKind::InvalidKey) for a key out of range.
    ///
    /// # Power loss
    ///
    /// After a cut, `key` holds nothing, or an empty partial package of `declared_size`.
    /// The package `key` held before may already be gone.
    fn begin(
        &mut self,
        key: PackageKey,
        declared_size: u64,
    ) -> Result<Self::Writer<'_>, Self::Error>;

    /// Continues partial package `key`.
    ///
    /// If the writer of `key` was [suspended](PackageWriter::suspend) since the store was
    /// created (same boot), it continues exactly where it stopped. Otherwise (after a reboot,
    /// or when the writer was dropped) it continues at the durable offset recorded in the
    /// store, and the bytes after it are written again. Read
    /// [`PackageWriter::offset`] to know where to fetch from.
    ///
    /// Fails with [`NotFound`](super::StorageErrorKind::NotFound) when `key` holds nothing and
    /// with [`WrongState`](super::StorageErrorKind::WrongState) when it holds a complete
    /// package.
    ///
    /// # Power loss
    ///
    /// Durable content is unchanged by `resume` itself.
    fn resume(&mut self, key: PackageKey) -> Result<Self::Writer<'_>, Self::Error>;

    /// Opens package `key` for reading from offset 0: all of a complete package, or the
    /// durable prefix of a partial one (so a download's hash can be recomputed after a
    /// reboot). [`PackageReader::size`] says how many bytes there are.
    ///
    /// Fails with [`NotFound`](super::StorageErrorKind::NotFound) when `key` holds nothing.
    ///
    /// # Power loss
    ///
    /// Reads change nothing durable.
    fn open(&mut self, key: PackageKey) -> Result<Self::Reader<'_>, Self::Error>;

    /// What `key` holds, read from durable storage: `None` when nothing.
    ///
    /// After a reboot the core walks `0..slots()` with `inspect` to find what exists.
    ///
    /// # Power loss
    ///
    /// Reads change nothing durable.
    fn inspect(&mut self, key: PackageKey) -> Result<Option<PackageInfo>, Self::Error>;

    /// Removes package `key` (complete or partial); removing an empty key succeeds.
    ///
    /// # Power loss
    ///
    /// After a cut, `key` holds its package unchanged or nothing. Once `delete` has returned
    /// `Ok`, the package stays gone.
    fn delete(&mut self, key: PackageKey) -> Result<(), Self::Error>;
}

/// A package being written: bytes go in with [`embedded_io::Write`], in order.
///
/// `write` accepts every byte it is given or fails; a failure (including a write past the
/// declared size, [`TooLarge`](super::StorageErrorKind::TooLarge)) poisons the writer: every
/// later call fails with [`Poisoned`](super::StorageErrorKind::Poisoned) except
/// [`abort`](Self::abort). `flush` makes nothing more durable than `write` did: durability
/// comes in whole units, see [`durable_offset`](Self::durable_offset).
///
/// Dropping a writer does no I/O: the package stays partial and
/// [`ComponentStore::resume`] continues it from its durable offset.
///
/// # Power loss
///
/// A cut during `write` loses at most the bytes after [`durable_offset`](Self::durable_offset);
/// the package stays partial.
pub trait PackageWriter: embedded_io::Write {
    /// The key being written.
    fn key(&self) -> PackageKey;

    /// The declared size given to [`ComponentStore::begin`].
    fn declared_size(&self) -> u64;

    /// Bytes accepted so far: where the next byte goes.
    fn offset(&self) -> u64;

    /// Bytes that survive a power cut: a multiple of the store's durability unit (an erase
    /// page on flash), never more than [`offset`](Self::offset).
    fn durable_offset(&self) -> u64;

    /// Ends this writer without finishing the package, so the caller can let go of the store
    /// until the next chunk arrives; returns the durable offset.
    /// [`ComponentStore::resume`] continues at [`offset`](Self::offset) in the same boot.
    ///
    /// # Power loss
    ///
    /// Makes nothing more durable: after a cut, resume starts at the returned durable offset.
    fn suspend(self) -> Result<u64, Self::Error>;

    /// Finishes the package with the bytes written so far (at most the declared size; the
    /// caller checks a size mismatch) and makes it complete.
    ///
    /// # Power loss
    ///
    /// After a cut the package is complete with every byte, or still partial (resumable from
    /// its durable offset). Once `commit` has returned `Ok`, the package is complete for good.
    fn commit(self) -> Result<PackageInfo, Self::Error>;

    /// Discards the package: the key holds nothing afterwards.
    ///
    /// # Power loss
    ///
    /// After a cut the key holds the partial package or nothing.
    fn abort(self) -> Result<(), Self::Error>;
}

/// A stored package being read with [`embedded_io::Read`] (from offset 0) and
/// [`embedded_io::Seek`].
pub trait PackageReader: embedded_io::Read + embedded_io::Seek {
    /// The number of bytes there are to read (see [`ComponentStore::open`]).
    fn size(&self) -> u64;
}

impl<T: PackageReader + ?Sized> PackageReader for &mut T {
    fn size(&self) -> u64 {
        T::size(self)
    }
}

impl<T: ComponentStore + ?Sized> ComponentStore for &mut T {
    type Error = T::Error;
    type Writer<'a>
        = T::Writer<'a>
    where
        Self: 'a;
    type Reader<'a>
        = T::Reader<'a>
    where
        Self: 'a;

    fn slots(&self) -> u16 {
        T::slots(self)
    }

    fn slot_capacity(&self) -> u64 {
        T::slot_capacity(self)
    }

    fn begin(
        &mut self,
        key: PackageKey,
        declared_size: u64,
    ) -> Result<Self::Writer<'_>, Self::Error> {
        T::begin(self, key, declared_size)
    }

    fn resume(&mut self, key: PackageKey) -> Result<Self::Writer<'_>, Self::Error> {
        T::resume(self, key)
    }

    fn open(&mut self, key: PackageKey) -> Result<Self::Reader<'_>, Self::Error> {
        T::open(self, key)
    }

    fn inspect(&mut self, key: PackageKey) -> Result<Option<PackageInfo>, Self::Error> {
        T::inspect(self, key)
    }

    fn delete(&mut self, key: PackageKey) -> Result<(), Self::Error> {
        T::delete(self, key)
    }
}
