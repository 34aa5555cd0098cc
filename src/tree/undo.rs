//! The undo log that lets the protocol engine roll an `Atomic` back.
//!
//! Choice: a bounded log of *before-images* in a buffer lent by the caller. Before a
//! command inside an Atomic changes the tree, the tree records the state it is about to
//! change: the whole entry of the dynamic node it touches (e.g. `Download/<X>`, as its
//! persistence encoding, or "absent" when the command creates it), or the previous ACL of
//! a node. Each unit is recorded once per Atomic (the oldest image is the one rollback must
//! restore). [`Tree::rollback`](crate::tree::Tree::rollback) restores the images newest
//! first; [`UndoLog::clear`] commits.
//!
//! When a before-image does not fit, the command fails with 507 (Atomic failed) *before*
//! it changes anything, and the engine rolls the Atomic back. Exec is not undoable (its
//! effect belongs to the handler); an engine must not accept an Exec inside an Atomic it
//! may have to roll back, or must accept that it stays done.

use crate::codes::StatusCode;

/// A bounded stack of before-images over a caller's buffer.
///
/// ```
/// use scomo::tree::UndoLog;
///
/// let mut buf = [0u8; 512];
/// let undo = UndoLog::new(&mut buf);
/// assert!(undo.is_empty());
/// ```
#[derive(Debug)]
pub struct UndoLog<'b> {
    buf: &'b mut [u8],
    len: usize,
}

/// Bytes after each record's payload: its length (2 bytes, little endian) and its tag.
const TRAILER: usize = 3;

impl<'b> UndoLog<'b> {
    /// An empty log over `buf`; its length bounds how much one Atomic may change.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Whether the log holds no before-image.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Forgets every before-image: the changes made so far stay (Atomic committed).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a record: `write` gets the free space and returns how many bytes it wrote,
    /// or `None` when they do not fit. 507 when the record does not fit; the log is then
    /// unchanged.
    pub(crate) fn push(
        &mut self,
        tag: u8,
        write: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Result<(), StatusCode> {
        let free = self
            .buf
            .get_mut(self.len..)
            .and_then(|f| {
                let room = f.len().checked_sub(TRAILER)?;
                f.get_mut(..room)
            })
            .ok_or(StatusCode::AtomicFailed)?;
        let n = write(free).ok_or(StatusCode::AtomicFailed)?;
        let size = u16::try_from(n).map_err(|_| StatusCode::AtomicFailed)?;
        let [lo, hi] = size.to_le_bytes();
        let trailer = self
            .buf
            .get_mut(self.len + n..self.len + n + TRAILER)
            .ok_or(StatusCode::AtomicFailed)?;
        trailer.copy_from_slice(&[lo, hi, tag]);
        self.len += n + TRAILER;
        Ok(())
    }

    /// The records, newest first: (tag, payload).
    pub(crate) fn records(&self) -> impl Iterator<Item = (u8, &[u8])> {
        let mut end = self.len;
        core::iter::from_fn(move || {
            let (tag, start) = record_at(self.buf, end)?;
            let payload = self.buf.get(start..end - TRAILER)?;
            end = start;
            Some((tag, payload))
        })
    }

    /// Lets `read` look at the newest record (tag, payload), then removes it.
    pub(crate) fn pop_with<R>(&mut self, read: impl FnOnce(u8, &[u8]) -> R) -> Option<R> {
        let (tag, start) = record_at(self.buf, self.len)?;
        let payload = self.buf.get(start..self.len - TRAILER)?;
        let r = read(tag, payload);
        self.len = start;
        Some(r)
    }
}

/// The tag and start of the record that ends at `end`.
fn record_at(buf: &[u8], end: usize) -> Option<(u8, usize)> {
    let trailer = buf.get(end.checked_sub(TRAILER)?..end)?;
    let (lo, hi, tag) = match trailer {
        [lo, hi, tag] => (*lo, *hi, *tag),
        _ => return None,
    };
    let size = usize::from(u16::from_le_bytes([lo, hi]));
    let start = end.checked_sub(TRAILER + size)?;
    Some((tag, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(log: &mut UndoLog<'_>, tag: u8, bytes: &[u8]) -> Result<(), StatusCode> {
        log.push(tag, |free| {
            free.get_mut(..bytes.len())?.copy_from_slice(bytes);
            Some(bytes.len())
        })
    }

    #[test]
    fn records_come_back_newest_first() {
        let mut buf = [0u8; 32];
        let mut log = UndoLog::new(&mut buf);
        put(&mut log, 1, b"one").unwrap();
        put(&mut log, 2, b"").unwrap();
        put(&mut log, 3, b"three").unwrap();
        let tags: heapless::Vec<u8, 4> = log.records().map(|(t, _)| t).collect();
        assert_eq!(tags.as_slice(), [3, 2, 1]);
        assert_eq!(log.pop_with(|t, p| (t, p.len())), Some((3, 5)));
        assert_eq!(log.pop_with(|t, p| (t, p.len())), Some((2, 0)));
        assert_eq!(log.pop_with(|_, p| p == b"one"), Some(true));
        assert_eq!(log.pop_with(|t, _| t), None);
    }

    #[test]
    fn full_log_is_507_and_unchanged() {
        let mut buf = [0u8; 8];
        let mut log = UndoLog::new(&mut buf);
        put(&mut log, 1, b"ab").unwrap();
        assert_eq!(put(&mut log, 2, b"abc"), Err(StatusCode::AtomicFailed));
        assert_eq!(log.len(), 5);
        log.clear();
        assert!(log.is_empty());
    }
}
