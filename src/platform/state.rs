//! Durable small records.

use super::StorageError;

/// The name of a durable record, chosen by the core (e.g. one id for the tree snapshot,
/// one per job slot, one per outbox entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordId(pub u16);

/// Durable small records, each replaced atomically: the tree snapshot, authentication
/// nonces, served Package #0 session ids, jobs and their journal, the outbox.
///
/// # Power loss
///
/// Every mutating call is atomic per record: after a cut in the middle of
/// [`write`](Self::write) or [`delete`](Self::delete), the record reads back as it was before
/// the call or as the call left it — never a mix, never missing when it was there before
/// (unless the call was a delete). Other records are untouched by a cut.
///
/// # Size
///
/// A record holds at most [`max_record_len`](Self::max_record_len) bytes. How many records fit
/// together depends on the implementation; when the store is full, `write` fails with
/// [`StorageErrorKind::NoSpace`](super::StorageErrorKind::NoSpace) and nothing changes.
pub trait StateStore {
    /// The backend's error.
    type Error: StorageError;

    /// The largest record, in bytes, that [`write`](Self::write) accepts.
    fn max_record_len(&self) -> usize;

    /// Copies record `id` into `buf` and returns its length, or `None` if there is no such
    /// record.
    ///
    /// Fails with [`BufferTooSmall`](super::StorageErrorKind::BufferTooSmall) when the record
    /// is longer than `buf`.
    ///
    /// # Power loss
    ///
    /// Reads change nothing durable.
    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Replaces record `id` with `bytes` (creating it if needed).
    ///
    /// Fails with [`TooLarge`](super::StorageErrorKind::TooLarge) when `bytes` is longer than
    /// [`max_record_len`](Self::max_record_len) and with
    /// [`NoSpace`](super::StorageErrorKind::NoSpace) when the store is full; in both cases
    /// nothing changes.
    ///
    /// # Power loss
    ///
    /// After a cut, record `id` holds its old value (or is absent if it was) or `bytes`;
    /// never a mix. Once `write` has returned `Ok`, the new value survives any later cut.
    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Removes record `id`; removing an absent record succeeds and changes nothing.
    ///
    /// # Power loss
    ///
    /// After a cut, record `id` is either still there unchanged or gone. Once `delete` has
    /// returned `Ok`, the record stays gone.
    fn delete(&mut self, id: RecordId) -> Result<(), Self::Error>;

    /// The smallest id of an existing record that is greater than `after` (or the smallest
    /// id overall when `after` is `None`): iterate the records present after a reboot with
    /// `let mut id = None; while let Some(next) = store.next_id(id)? { ...; id = Some(next) }`.
    ///
    /// # Power loss
    ///
    /// Reads change nothing durable.
    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, Self::Error>;
}

impl<T: StateStore + ?Sized> StateStore for &mut T {
    type Error = T::Error;

    fn max_record_len(&self) -> usize {
        T::max_record_len(self)
    }

    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, Self::Error> {
        T::read(self, id, buf)
    }

    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), Self::Error> {
        T::write(self, id, bytes)
    }

    fn delete(&mut self, id: RecordId) -> Result<(), Self::Error> {
        T::delete(self, id)
    }

    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, Self::Error> {
        T::next_id(self, after)
    }
}
