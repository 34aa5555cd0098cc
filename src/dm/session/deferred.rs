//! What did not fit in the message being sent: Statuses and Results that go out in the
//! next messages of the device's package (digest 7.7, the peer's `MaxMsgSize`).
//!
//! Statuses are kept as their numbers only (a run of consecutive `CmdRef`s with the same
//! code is one entry); the `TargetRef`/`SourceRef` of a deferred Status are left out (the
//! DTD makes them optional). A deferred `Results` keeps the URI of its Get in a small byte
//! pool and is read from the tree again when it is written (commands outside Sequence and
//! Atomic may run in any order, digest 7.3). A Results whose value does not fit even an
//! empty message is sent as a Large Object, chunk by chunk, from the head of the queue.

use heapless::{Deque, Vec};

use crate::codes::StatusCode;
use crate::dm::codec::Element;

/// Most entries waiting to be sent.
pub const DEFERRED_CAP: usize = 10;

/// Bytes for the URIs and UI answers of deferred entries.
pub const POOL_CAP: usize = 128;

/// A span of the pool (which holds at most 255 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Span {
    at: u8,
    len: u8,
}

const _: () = assert!(POOL_CAP <= u8::MAX as usize);

/// What an entry sends besides (or instead of) its Status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extra {
    /// Only the Status.
    None,
    /// The Results of a Get (`uri` in the pool); `status` says whether the Status is still
    /// to be sent too; `offset` is how much of the value went out already as a Large
    /// Object.
    Results {
        uri: Span,
        status: bool,
        offset: u32,
    },
    /// A UI alert's typed answer (1102), carried as a Status Item.
    Text(Span),
    /// A UI alert's selected choices (1103/1104), one Status Item each (bit `i` = choice
    /// `i + 1`).
    Choices(u32),
}

/// One deferred Status (or a run of them), or one deferred Results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub msg_ref: u32,
    pub cmd_ref: u32,
    /// How many consecutive `CmdRef`s from `cmd_ref` share this Status (1 for Results).
    pub count: u16,
    pub cmd: Element,
    pub code: StatusCode,
    pub extra: Extra,
}

/// The queue and its pool.
#[derive(Debug, Clone, Default)]
pub(super) struct Deferred {
    queue: Deque<Entry, DEFERRED_CAP>,
    pool: Vec<u8, POOL_CAP>,
}

impl Deferred {
    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether `entries` more entries and `bytes` more pool bytes fit.
    pub fn has_room(&self, entries: usize, bytes: usize) -> bool {
        self.queue.len() + entries <= DEFERRED_CAP && self.pool.len() + bytes <= POOL_CAP
    }

    /// Queues a Status, merged into the last entry when it continues its run. `false`
    /// when full.
    pub fn push_status(
        &mut self,
        msg_ref: u32,
        cmd_ref: u32,
        cmd: Element,
        code: StatusCode,
    ) -> bool {
        if let Some(last) = self.queue.back_mut() {
            let next = last.cmd_ref.checked_add(u32::from(last.count));
            if last.extra == Extra::None
                && last.msg_ref == msg_ref
                && last.cmd == cmd
                && last.code == code
                && next == Some(cmd_ref)
                && last.count < u16::MAX
            {
                last.count += 1;
                return true;
            }
        }
        self.push(Entry {
            msg_ref,
            cmd_ref,
            count: 1,
            cmd,
            code,
            extra: Extra::None,
        })
    }

    /// Queues an entry with its pool bytes (`payload` goes in the span of `extra`, which
    /// this call fills in). `false` when full.
    pub fn push_with(&mut self, mut entry: Entry, payload: &[u8]) -> bool {
        if !self.has_room(1, payload.len()) {
            return false;
        }
        // `has_room` keeps both within the pool, whose length fits a byte.
        let span = Span {
            at: self.pool.len() as u8,
            len: payload.len() as u8,
        };
        match &mut entry.extra {
            Extra::Results { uri, .. } => *uri = span,
            Extra::Text(text) => *text = span,
            Extra::None | Extra::Choices(_) => {}
        }
        // Room was checked above.
        let _ = self.pool.extend_from_slice(payload);
        self.push(entry)
    }

    fn push(&mut self, entry: Entry) -> bool {
        self.queue.push_back(entry).is_ok()
    }

    /// The oldest entry.
    pub fn front(&self) -> Option<Entry> {
        self.queue.front().copied()
    }

    /// Replaces the oldest entry (after part of it was sent).
    pub fn set_front(&mut self, entry: Entry) {
        if let Some(front) = self.queue.front_mut() {
            *front = entry;
        }
    }

    /// Drops the oldest entry; the pool is emptied with the queue.
    pub fn pop(&mut self) {
        self.queue.pop_front();
        if self.queue.is_empty() {
            self.pool.clear();
        }
    }

    /// The bytes of a span.
    pub fn bytes(&self, span: Span) -> &[u8] {
        let at = usize::from(span.at);
        self.pool
            .get(at..at + usize::from(span.len))
            .unwrap_or_default()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.pool.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_statuses_with_one_code_share_an_entry() {
        let mut d = Deferred::default();
        for cmd_ref in 3..40 {
            assert!(d.push_status(2, cmd_ref, Element::Replace, StatusCode::Ok));
        }
        assert!(d.push_status(2, 40, Element::Replace, StatusCode::NotFound));
        assert!(d.push_status(2, 41, Element::Replace, StatusCode::Ok));
        let first = d.front().unwrap();
        assert_eq!((first.cmd_ref, first.count), (3, 37));
        d.pop();
        assert_eq!(d.front().unwrap().code, StatusCode::NotFound);
    }

    #[test]
    fn the_pool_holds_uris_until_the_queue_drains() {
        let mut d = Deferred::default();
        let entry = Entry {
            msg_ref: 1,
            cmd_ref: 2,
            count: 1,
            cmd: Element::Get,
            code: StatusCode::Ok,
            extra: Extra::Results {
                uri: Span::default(),
                status: true,
                offset: 0,
            },
        };
        assert!(d.push_with(entry, b"./DevInfo/Mod"));
        let Extra::Results { uri, .. } = d.front().unwrap().extra else {
            panic!("results expected")
        };
        assert_eq!(d.bytes(uri), b"./DevInfo/Mod");
        assert!(!d.push_with(entry, &[b'x'; POOL_CAP]));
        d.pop();
        assert!(d.is_empty() && d.has_room(DEFERRED_CAP, POOL_CAP));
    }
}
