//! WBXML pull reader (digest 8).

use super::{
    END, ENTITY, OPAQUE, PUBLIC_ID_SYNCML_11, PUBLIC_ID_SYNCML_12, PUBLIC_ID_UNKNOWN, STR_I, STR_T,
    SWITCH_PAGE, TAG_CONTENT, mb_u32, table_str,
};
use crate::dm::codec::error::{DecodeError, DecodeErrorKind as K};
use crate::dm::codec::reader::Event;
use crate::dm::codec::tokens::Element;
use crate::dm::codec::value::Value;

/// The literal public id every SyncML version shares up to its number
/// (`-//SYNCML//DTD SyncML 1.2//EN`); servers send "1.1" with VerDTD 1.2 (digest 8.1).
const FPI_PREFIX: &[u8] = b"-//SYNCML//DTD SyncML 1.";

/// Charsets whose bytes are UTF-8: UTF-8 (106), US-ASCII (3), and "unknown" (0).
const CHARSETS: [u32; 3] = [106, 3, 0];

/// A position in a WBXML document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WbxmlReader<'a> {
    doc: &'a [u8],
    pos: usize,
    page: u8,
    strtbl: &'a [u8],
}

impl<'a> WbxmlReader<'a> {
    /// Reads the header and the root `SyncML` start tag.
    pub(crate) fn document(doc: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = WbxmlReader {
            doc,
            pos: 0,
            page: 0,
            strtbl: &[],
        };
        let version = r.byte()?;
        if !(0x01..=0x03).contains(&version) {
            return Err(r.error(K::Unsupported));
        }
        let public_id = r.mb()?;
        let literal = if public_id == 0 { Some(r.mb()?) } else { None };
        if !CHARSETS.contains(&r.mb()?) {
            return Err(r.error(K::Unsupported));
        }
        let len = usize::try_from(r.mb()?).map_err(|_| r.error(K::Overflow))?;
        r.strtbl = r.take(len)?;
        match literal {
            Some(index) => {
                // The AOSP vectors leave the FPI without its NUL: read to the table's end.
                let fpi = usize::try_from(index)
                    .ok()
                    .and_then(|i| r.strtbl.get(i..))
                    .ok_or_else(|| r.error(K::StringTable))?;
                let head = fpi.get(..FPI_PREFIX.len());
                if !head.is_some_and(|h| h.eq_ignore_ascii_case(FPI_PREFIX)) {
                    return Err(r.error(K::Namespace));
                }
            }
            None => {
                if ![PUBLIC_ID_SYNCML_12, PUBLIC_ID_SYNCML_11, PUBLIC_ID_UNKNOWN]
                    .contains(&public_id)
                {
                    return Err(r.error(K::Namespace));
                }
            }
        }
        match r.next()? {
            Event::Start {
                el: Element::SyncML,
                empty: false,
            } => Ok(r),
            Event::Start { el, .. } => Err(r.error(K::Unexpected(el))),
            Event::End(_) => Err(r.error(K::Syntax)),
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn error(&self, kind: K) -> DecodeError {
        DecodeError::at(kind, self.pos)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .doc
            .get(self.pos)
            .ok_or_else(|| self.error(K::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    fn mb(&mut self) -> Result<u32, DecodeError> {
        let rest = self.doc.get(self.pos..).unwrap_or_default();
        let (v, n) = mb_u32(rest).map_err(|kind| self.error(kind))?;
        self.pos += n;
        Ok(v)
    }

    /// The next `len` bytes; a length past the end is an overflow, not a short read.
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| self.error(K::Overflow))?;
        let bytes = self
            .doc
            .get(self.pos..end)
            .ok_or_else(|| self.error(K::Overflow))?;
        self.pos = end;
        Ok(bytes)
    }

    /// An inline string (UTF-8, NUL-terminated).
    fn str_i(&mut self) -> Result<&'a str, DecodeError> {
        let rest = self.doc.get(self.pos..).unwrap_or_default();
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.error(K::Truncated))?;
        let s = core::str::from_utf8(rest.get(..nul).unwrap_or_default())
            .map_err(|_| self.error(K::Utf8))?;
        self.pos += nul + 1;
        Ok(s)
    }

    /// A string-table reference.
    fn str_t(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let index = self.mb()?;
        table_str(self.strtbl, index).ok_or_else(|| DecodeError::at(K::StringTable, at))
    }

    /// Reads one content token (string, opaque, entity) after its token byte.
    fn content(&mut self, token: u8) -> Result<Content<'a>, DecodeError> {
        Ok(match token {
            STR_I => Content::Str(self.str_i()?),
            STR_T => Content::Str(self.str_t()?),
            OPAQUE => {
                let len = usize::try_from(self.mb()?).map_err(|_| self.error(K::Overflow))?;
                Content::Opaque(self.take(len)?)
            }
            ENTITY => {
                let code = self.mb()?;
                char::from_u32(code).ok_or_else(|| self.error(K::Utf8))?;
                Content::Entity
            }
            _ => return Err(DecodeError::at(K::UnknownToken, self.pos.saturating_sub(1))),
        })
    }

    pub(crate) fn next(&mut self) -> Result<Event<'a>, DecodeError> {
        loop {
            let at = self.pos;
            let token = self.byte()?;
            match token {
                SWITCH_PAGE => self.page = self.byte()?,
                END => return Ok(Event::End(None)),
                t if t & 0x3F < 0x05 => match self.content(t)? {
                    Content::Str(s) if s.bytes().all(|b| b.is_ascii_whitespace()) => {}
                    _ => return Err(DecodeError::at(K::Syntax, at)),
                },
                t => return self.tag(t, at),
            }
        }
    }

    fn tag(&self, token: u8, at: usize) -> Result<Event<'a>, DecodeError> {
        if token & 0x80 != 0 {
            return Err(DecodeError::at(K::UnknownToken, at));
        }
        let el = Element::from_token(self.page, token & 0x3F)
            .ok_or_else(|| DecodeError::at(K::UnknownElement, at))?;
        Ok(Event::Start {
            el,
            empty: token & 0x40 == 0,
        })
    }

    pub(crate) fn value(&mut self, empty: bool) -> Result<Value<'a>, DecodeError> {
        if empty {
            return Ok(Value::EMPTY);
        }
        let start = self.pos;
        let mut pieces = 0usize;
        let mut only = Value::EMPTY;
        loop {
            let at = self.pos;
            let token = self.byte()?;
            match token {
                SWITCH_PAGE => {
                    self.page = self.byte()?;
                    pieces += 1; // keep the raw form: the switch is inside the content
                }
                END => break,
                t if t & 0x3F < 0x05 => {
                    pieces += 1;
                    only = match self.content(t)? {
                        Content::Str(s) => Value::text(s),
                        Content::Opaque(b) => Value::opaque(b),
                        Content::Entity => Value::EMPTY,
                    };
                    if t == ENTITY {
                        pieces += 1; // an entity alone still needs the raw form
                    }
                }
                t => {
                    return Err(match self.tag(t, at)? {
                        Event::Start { el, .. } => DecodeError::at(K::Unexpected(el), at),
                        Event::End(_) => DecodeError::at(K::Syntax, at),
                    });
                }
            }
        }
        Ok(match pieces {
            0 => Value::EMPTY,
            1 => only,
            _ => Value::raw_wbxml(
                self.doc
                    .get(start..self.pos.saturating_sub(1))
                    .unwrap_or_default(),
                self.strtbl,
            ),
        })
    }

    /// Skips to just after the `END` of the open element. Only used on content the
    /// structural check has already read, so nothing is looked up or validated again:
    /// strings are stepped over to their NUL, tags only count by their content bit.
    pub(crate) fn skip_rest(&mut self) -> Result<(), DecodeError> {
        let mut depth = 0usize;
        loop {
            match self.byte()? {
                SWITCH_PAGE => self.page = self.byte()?,
                END => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                STR_I => {
                    let rest = self.doc.get(self.pos..).unwrap_or_default();
                    let nul = rest
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or_else(|| self.error(K::Truncated))?;
                    self.pos += nul + 1;
                }
                STR_T | ENTITY => {
                    self.mb()?;
                }
                OPAQUE => {
                    let len = usize::try_from(self.mb()?).map_err(|_| self.error(K::Overflow))?;
                    self.take(len)?;
                }
                t if t & TAG_CONTENT != 0 => depth += 1,
                _ => {}
            }
        }
    }

    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        if self.pos == self.doc.len() {
            Ok(())
        } else {
            Err(self.error(K::Syntax))
        }
    }
}

/// One content token.
enum Content<'a> {
    Str(&'a str),
    Opaque(&'a [u8]),
    Entity,
}
