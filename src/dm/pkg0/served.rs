//! The session ids already served, so that a repeated notification starts no second
//! session (digest 7.2).
use heapless::Deque;

use super::{Pkg0Error, SessionId};

/// Version byte of the record written by [`ServedSessions::encode`].
const RECORD_VERSION: u8 = 1;

/// The last `N` session ids for which a session was started, oldest first; recording one
/// more when full forgets the oldest.
///
/// Servers are asked to reuse a session id when they trigger the same session again, and
/// to use a new one for a new session, so a short memory suffices. `N` must be at least 1
/// (checked at compile time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedSessions<const N: usize> {
    ids: Deque<SessionId, N>,
}

impl<const N: usize> Default for ServedSessions<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ServedSessions<N> {
    /// The length of the record [`encode`](Self::encode) writes when full.
    pub const MAX_ENCODED_LEN: usize = 3 + 2 * N;

    /// Remembers nothing yet.
    pub const fn new() -> Self {
        Self { ids: Deque::new() }
    }

    /// Whether a session with `id` was started recently.
    pub fn contains(&self, id: SessionId) -> bool {
        self.ids.iter().any(|&s| s == id)
    }

    /// Remembers `id` (no change if it is already remembered).
    pub fn record(&mut self, id: SessionId) {
        if self.contains(id) {
            return;
        }
        if self.ids.is_full() {
            self.ids.pop_front();
        }
        // Room was made above, so this cannot fail.
        let _ = self.ids.push_back(id);
    }

    /// The remembered ids, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.ids.iter().copied()
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Writes the record into `out` and returns its length: version 1, the count as a
    /// big-endian `u16`, then each id as a big-endian `u16`, oldest first.
    ///
    /// # Errors
    /// [`Pkg0Error::BufferTooSmall`] when `out` is shorter than `3 + 2 * len()`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Pkg0Error> {
        let count = u16::try_from(self.len()).map_err(|_| Pkg0Error::BufferTooSmall)?;
        let total = 3 + 2 * self.len();
        let out = out.get_mut(..total).ok_or(Pkg0Error::BufferTooSmall)?;
        let (head, body) = out.split_at_mut(3);
        let [c0, c1] = count.to_be_bytes();
        head.copy_from_slice(&[RECORD_VERSION, c0, c1]);
        for (slot, id) in body.chunks_exact_mut(2).zip(self.iter()) {
            slot.copy_from_slice(&id.get().to_be_bytes());
        }
        Ok(total)
    }

    /// Reads a record written by [`encode`](Self::encode), perhaps by a build with another
    /// capacity: when it holds more than `N` ids, the newest `N` are kept.
    ///
    /// # Errors
    /// [`Pkg0Error::CorruptRecord`] for a wrong version, a length that does not match the
    /// count, or an id 0.
    pub fn decode(record: &[u8]) -> Result<Self, Pkg0Error> {
        let corrupt = Pkg0Error::CorruptRecord;
        let (&[version, c0, c1], body) = record.split_first_chunk::<3>().ok_or(corrupt)?;
        if version != RECORD_VERSION {
            return Err(corrupt);
        }
        let count = usize::from(u16::from_be_bytes([c0, c1]));
        if body.len() != 2 * count {
            return Err(corrupt);
        }
        let mut served = Self::new();
        for pair in body.chunks_exact(2) {
            let value = u16::from_be_bytes([
                pair.first().copied().unwrap_or(0),
                pair.last().copied().unwrap_or(0),
            ]);
            let id = SessionId::new(value).ok_or(corrupt)?;
            served.record(id);
        }
        Ok(served)
    }
}
