//! The streaming encoder: one API, XML or WBXML bytes, into a caller's buffer.
//!
//! [`Writer`] writes element by element. Every call either writes completely or fails
//! and leaves the writer unchanged, and no call writes past the point where the open
//! elements could still be closed: the bytes that close them (plus a reserve) are kept
//! free. So a reply can be built command by command against the peer's `MaxMsgSize`:
//! take a [`Mark`], write a command, and on [`EncodeError::TooSmall`] truncate back to
//! the mark and send what is there. The element table checks each child against its
//! parent's model and DTD order, so what is written is what the DTD allows.
//!
//! WBXML output: version 1.2, public id `0x1201`, UTF-8, no string table; tag tokens
//! from the table with `SWITCH_PAGE` when the page changes; text as `STR_I`, and `Data`
//! content (text or binary) as `OPAQUE`, as libwbxml writes it. XML output: no prolog,
//! `xmlns="SYNCML:SYNCML1.2"` on the root and `xmlns="syncml:metinf"` on each MetInf
//! element, text escaped, binary `Data` as base64 text.

use heapless::Vec;

use super::Encoding;
use super::error::EncodeError;
use super::tokens::{Content, Element, Progress};
use super::wbxml::{
    CHARSET_UTF8, END, OPAQUE, STR_I, SWITCH_PAGE, TAG_CONTENT, VERSION_1_2, put_mb_u32,
};
use super::xml::{NS_METINF, NS_SYNCML, escape};

/// How deep elements may nest in what the device writes (SyncML, SyncBody, a command,
/// Item, Meta, a MetInf leaf need 6).
pub const MAX_WRITE_DEPTH: usize = 8;

/// WBXML header: version 1.2, public id 0x1201 (`mb_u_int32` A4 01), UTF-8, no string
/// table.
const WBXML_HEADER: [u8; 5] = [VERSION_1_2, 0xA4, 0x01, CHARSET_UTF8, 0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    el: Element,
    /// Offset of the start tag (WBXML: of the tag byte, after any SWITCH_PAGE).
    start: usize,
    has_content: bool,
    progress: Progress,
}

/// A point in the output to come back to with [`Writer::truncate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    len: usize,
    closing: usize,
    page: u8,
    rooted: bool,
    depth: usize,
    top: Option<Frame>,
    epoch: u32,
}

impl Mark {
    /// The output length when the mark was taken.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mark was taken on an empty output.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Streaming SyncML writer into a caller's buffer, in XML or WBXML.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    limit: usize,
    reserve: usize,
    final_reserve: usize,
    closing: usize,
    encoding: Encoding,
    page: u8,
    rooted: bool,
    stack: Vec<Frame, MAX_WRITE_DEPTH>,
    epoch: u32,
    floor: usize,
}

impl<'b> Writer<'b> {
    /// A writer into `buf` (WBXML: the document header is written at once).
    ///
    /// # Errors
    /// [`EncodeError::TooSmall`] when `buf` cannot hold the WBXML header.
    pub fn new(buf: &'b mut [u8], encoding: Encoding) -> Result<Self, EncodeError> {
        let limit = buf.len();
        let mut w = Writer {
            buf,
            len: 0,
            limit,
            reserve: 0,
            final_reserve: 0,
            closing: 0,
            encoding,
            page: 0,
            rooted: false,
            stack: Vec::new(),
            epoch: 0,
            floor: usize::MAX,
        };
        if encoding == Encoding::Wbxml {
            w.room(WBXML_HEADER.len(), 0)?;
            w.put(&WBXML_HEADER);
        }
        Ok(w)
    }

    /// The encoding written.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Caps the whole message at `limit` bytes (e.g. the peer's `MaxMsgSize`); the
    /// buffer's length still applies. A limit below what is written makes every further
    /// write fail with `TooSmall` (ending elements still works).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Keeps `bytes` free at the end, on top of what closes the open elements (room
    /// for something the caller will add last).
    pub fn set_reserve(&mut self, bytes: usize) {
        self.reserve = bytes;
    }

    /// Bytes that would close every open element now.
    pub fn closing_len(&self) -> usize {
        self.closing
    }

    /// Bytes still free for content: the capacity minus what is written, what closes
    /// the open elements, and the reserves.
    pub fn remaining(&self) -> usize {
        self.capacity()
            .saturating_sub(self.len)
            .saturating_sub(self.closing)
            .saturating_sub(self.reserve)
            .saturating_sub(self.final_reserve)
    }

    fn capacity(&self) -> usize {
        self.buf.len().min(self.limit)
    }

    /// Checks that `n` more bytes fit with `closing_after` bytes to close what is open.
    fn room(&self, n: usize, closing_after: usize) -> Result<(), EncodeError> {
        let need = self
            .len
            .checked_add(n)
            .and_then(|v| v.checked_add(closing_after))
            .and_then(|v| v.checked_add(self.reserve))
            .and_then(|v| v.checked_add(self.final_reserve))
            .ok_or(EncodeError::TooSmall)?;
        if need <= self.capacity() {
            Ok(())
        } else {
            Err(EncodeError::TooSmall)
        }
    }

    /// Appends bytes whose room was checked.
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
        }
    }

    fn close_cost(&self, el: Element) -> usize {
        match self.encoding {
            Encoding::Xml => el.name().len() + 3,
            Encoding::Wbxml => 1,
        }
    }

    /// Opens `el` as the next child of the open element (or as the root `SyncML`).
    ///
    /// # Errors
    /// `Misplaced` when the element table does not allow it here, `Depth` when too
    /// deep, `TooSmall` when it does not fit.
    pub fn start(&mut self, el: Element) -> Result<(), EncodeError> {
        let mut progress = Progress::default();
        match self.stack.last() {
            None if !self.rooted && el == Element::SyncML => {}
            None => return Err(EncodeError::Misplaced(el)),
            Some(top) => {
                progress = top.progress;
                progress
                    .admit(top.el, el, true)
                    .map_err(|_| EncodeError::Misplaced(el))?;
            }
        }
        if self.stack.is_full() {
            return Err(EncodeError::Depth);
        }
        let cost = self.close_cost(el);
        let start;
        match self.encoding {
            Encoding::Xml => {
                let ns = match (el, el.page()) {
                    (Element::SyncML, _) => Some(NS_SYNCML),
                    (_, 1) => Some(NS_METINF),
                    _ => None,
                };
                let ns_len = ns.map_or(0, |ns| ns.len() + 10);
                self.room(el.name().len() + 2 + ns_len, self.closing + cost)?;
                start = self.len;
                self.put(b"<");
                self.put(el.name().as_bytes());
                if let Some(ns) = ns {
                    self.put(b" xmlns=\"");
                    self.put(ns.as_bytes());
                    self.put(b"\"");
                }
                self.put(b">");
            }
            Encoding::Wbxml => {
                let switch = el.page() != self.page;
                self.room(1 + 2 * usize::from(switch), self.closing + cost)?;
                if switch {
                    self.put(&[SWITCH_PAGE, el.page()]);
                    self.page = el.page();
                }
                start = self.len;
                self.put(&[el.token() | TAG_CONTENT]);
            }
        }
        if let Some(top) = self.stack.last_mut() {
            top.progress = progress;
            top.has_content = true;
        }
        let frame = Frame {
            el,
            start,
            has_content: false,
            progress: Progress::default(),
        };
        // Cannot fail: fullness was checked above.
        let _ = self.stack.push(frame);
        self.closing += cost;
        self.rooted = true;
        Ok(())
    }

    /// The open leaf element, which must take character data or (for `Data`) bytes.
    fn open_leaf(&self, binary: bool) -> Result<Element, EncodeError> {
        let top = self.stack.last().ok_or(EncodeError::Depth)?;
        match top.el.content() {
            Content::Data => Ok(top.el),
            Content::Text | Content::Number if !binary => Ok(top.el),
            _ => Err(EncodeError::Unrepresentable),
        }
    }

    fn mark_content(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.has_content = true;
        }
    }

    /// Writes character data into the open leaf (escaped in XML; `STR_I`, or `OPAQUE`
    /// inside `Data`, in WBXML).
    ///
    /// # Errors
    /// `Unrepresentable` outside a leaf or for characters the encoding cannot carry,
    /// `TooSmall` when it does not fit.
    pub fn text(&mut self, s: &str) -> Result<(), EncodeError> {
        let el = self.open_leaf(false)?;
        if s.is_empty() {
            return Ok(());
        }
        match self.encoding {
            Encoding::Xml => {
                let mut n = 0usize;
                for &b in s.as_bytes() {
                    n += escape(b)
                        .map_err(|()| EncodeError::Unrepresentable)?
                        .map_or(1, <[u8]>::len);
                }
                self.room(n, self.closing)?;
                let mut run = 0;
                for (i, &b) in s.as_bytes().iter().enumerate() {
                    if let Ok(Some(esc)) = escape(b) {
                        self.put(s.as_bytes().get(run..i).unwrap_or_default());
                        self.put(esc);
                        run = i + 1;
                    }
                }
                self.put(s.as_bytes().get(run..).unwrap_or_default());
            }
            Encoding::Wbxml if el == Element::Data => return self.opaque(s.as_bytes()),
            Encoding::Wbxml => {
                if s.as_bytes().contains(&0) {
                    return Err(EncodeError::Unrepresentable);
                }
                self.room(s.len() + 2, self.closing)?;
                self.put(&[STR_I]);
                self.put(s.as_bytes());
                self.put(&[0]);
            }
        }
        self.mark_content();
        Ok(())
    }

    /// Writes bytes into the open `Data` (WBXML `OPAQUE`; base64 text in XML, each call
    /// a separate base64 run: pass multiples of 3 bytes but for the last call).
    ///
    /// # Errors
    /// `Unrepresentable` outside `Data`, `TooSmall` when it does not fit.
    pub fn opaque(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.open_leaf(true)?;
        if bytes.is_empty() {
            return Ok(());
        }
        match self.encoding {
            Encoding::Xml => {
                use base64::Engine as _;
                let n = base64::encoded_len(bytes.len(), true).ok_or(EncodeError::TooSmall)?;
                self.room(n, self.closing)?;
                let dst = self
                    .buf
                    .get_mut(self.len..self.len + n)
                    .ok_or(EncodeError::TooSmall)?;
                let written = base64::engine::general_purpose::STANDARD
                    .encode_slice(bytes, dst)
                    .map_err(|_| EncodeError::TooSmall)?;
                self.len += written;
            }
            Encoding::Wbxml => {
                let len = u32::try_from(bytes.len()).map_err(|_| EncodeError::TooSmall)?;
                let mut mb = [0u8; 5];
                let mb_len = put_mb_u32(len, &mut mb);
                self.room(1 + mb_len + bytes.len(), self.closing)?;
                self.put(&[OPAQUE]);
                self.put(mb.get(..mb_len).unwrap_or_default());
                self.put(bytes);
            }
        }
        self.mark_content();
        Ok(())
    }

    /// Closes the open element (as `<X/>` or a tag without content when nothing was
    /// written in it). Never fails for lack of room: that was kept free.
    ///
    /// # Errors
    /// `Missing` when a required child was not written, `Depth` when nothing is open.
    pub fn end(&mut self) -> Result<(), EncodeError> {
        let top = *self.stack.last().ok_or(EncodeError::Depth)?;
        if let Some(missing) = top.progress.missing(top.el) {
            return Err(EncodeError::Missing(missing));
        }
        let closing_after = self.closing - self.close_cost(top.el);
        match (self.encoding, top.has_content) {
            (Encoding::Xml, false) => {
                self.room(1, closing_after)?;
                self.len = self.len.saturating_sub(1);
                self.put(b"/>");
            }
            (Encoding::Xml, true) => {
                self.room(top.el.name().len() + 3, closing_after)?;
                self.put(b"</");
                self.put(top.el.name().as_bytes());
                self.put(b">");
            }
            (Encoding::Wbxml, false) => {
                if let Some(tag) = self.buf.get_mut(top.start) {
                    *tag &= !TAG_CONTENT;
                }
            }
            (Encoding::Wbxml, true) => {
                self.room(1, closing_after)?;
                self.put(&[END]);
            }
        }
        self.stack.pop();
        self.closing = closing_after;
        Ok(())
    }

    /// A point to come back to.
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            closing: self.closing,
            page: self.page,
            rooted: self.rooted,
            depth: self.stack.len(),
            top: self.stack.last().copied(),
            epoch: self.epoch,
        }
    }

    /// Cuts the output back to `mark`, restoring the open elements as they were.
    ///
    /// # Errors
    /// `StaleMark` when the elements open at the mark have been closed since, or an
    /// earlier truncation cut below the mark.
    pub fn truncate(&mut self, mark: Mark) -> Result<(), EncodeError> {
        let fresh = mark.epoch == self.epoch || mark.len <= self.floor;
        let same_top = match (mark.depth.checked_sub(1), mark.top) {
            (None, None) => true,
            (Some(i), Some(top)) => self.stack.get(i).is_some_and(|f| f.start == top.start),
            _ => false,
        };
        if !fresh || !same_top || mark.len > self.len {
            return Err(EncodeError::StaleMark);
        }
        self.stack.truncate(mark.depth);
        if let (Some(slot), Some(top)) = (self.stack.last_mut(), mark.top) {
            *slot = top;
        }
        self.len = mark.len;
        self.closing = mark.closing;
        self.page = mark.page;
        self.rooted = mark.rooted;
        self.epoch = self.epoch.wrapping_add(1);
        self.floor = self.floor.min(mark.len);
        Ok(())
    }

    /// Runs `f`; if it fails, truncates back so the writer is as before.
    pub(crate) fn atomic<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EncodeError>,
    ) -> Result<T, EncodeError> {
        let mark = self.mark();
        let result = f(self);
        if result.is_err() {
            // Cannot be stale: taken just now, nothing truncated below it since.
            let _ = self.truncate(mark);
        }
        result
    }

    /// Writes `<el>text</el>` whole or not at all.
    ///
    /// # Errors
    /// As [`start`](Self::start), [`text`](Self::text) and [`end`](Self::end).
    pub fn leaf(&mut self, el: Element, text: &str) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(el)?;
            w.text(text)?;
            w.end()
        })
    }

    /// Writes `<el>n</el>` (decimal) whole or not at all.
    ///
    /// # Errors
    /// As [`leaf`](Self::leaf).
    pub fn leaf_u32(&mut self, el: Element, n: u32) -> Result<(), EncodeError> {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                // `v % 10` is a single digit.
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        let text = core::str::from_utf8(digits.get(i..).unwrap_or_default()).unwrap_or("0");
        self.leaf(el, text)
    }

    /// Writes the empty element `<el/>` whole or not at all.
    ///
    /// # Errors
    /// As [`leaf`](Self::leaf).
    pub fn empty(&mut self, el: Element) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(el)?;
            w.end()
        })
    }

    pub(crate) fn final_reserve(&self) -> usize {
        self.final_reserve
    }

    pub(crate) fn set_final_reserve(&mut self, bytes: usize) {
        self.final_reserve = bytes;
    }

    /// The finished message.
    ///
    /// # Errors
    /// `Depth` while elements are still open or nothing was written.
    pub fn finish(self) -> Result<&'b [u8], EncodeError> {
        if !self.stack.is_empty() || !self.rooted {
            return Err(EncodeError::Depth);
        }
        let len = self.len;
        let buf: &'b [u8] = self.buf;
        buf.get(..len).ok_or(EncodeError::Depth)
    }
}
