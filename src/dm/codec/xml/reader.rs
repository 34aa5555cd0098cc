//! XML pull reader over the `xmlparser` tokenizer.
//!
//! Why `xmlparser` and not a tokenizer of our own: it is `no_std`, allocation-free,
//! well-kept and fuzzed, borrows every token from the input, and checks well-formedness
//! at the character level (names, comments, CDATA, the prolog and DOCTYPE) that a
//! hand-written SyncML-only scanner would have to re-implement to be as strict. It costs
//! about 10 kB of flash (research/footprint-blocks.md). Ours would only win on size, so
//! we use ours only where the input has already been checked by `xmlparser`: skipping the
//! rest of an element during the second, lazy pass ([`XmlReader::skip_rest`]).

use xmlparser::{ElementEnd, StrSpan, StreamError, Token, Tokenizer};

use super::namespace_of;
use crate::dm::codec::error::{DecodeError, DecodeErrorKind as K};
use crate::dm::codec::reader::Event;
use crate::dm::codec::tokens::Element;
use crate::dm::codec::value::Value;

/// A position in an XML document.
#[derive(Clone)]
pub(crate) struct XmlReader<'a> {
    text: &'a str,
    tok: Tokenizer<'a>,
}

impl core::fmt::Debug for XmlReader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "XmlReader@{}", self.pos())
    }
}

/// Which namespace an `xmlns` attribute declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// `SYNCML:SYNCML1.2` (or 1.1).
    SyncMl,
    /// `syncml:metinf`.
    MetInf,
}

impl<'a> XmlReader<'a> {
    /// Checks the bytes are UTF-8, reads the prolog and the root `SyncML` start tag.
    pub(crate) fn document(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let text =
            core::str::from_utf8(bytes).map_err(|e| DecodeError::at(K::Utf8, e.valid_up_to()))?;
        let mut r = XmlReader {
            text,
            tok: Tokenizer::from(text),
        };
        loop {
            let at = r.pos();
            match r.token()? {
                Token::Declaration {
                    encoding: Some(enc),
                    ..
                } if !["utf-8", "us-ascii"]
                    .iter()
                    .any(|e| enc.as_str().eq_ignore_ascii_case(e)) =>
                {
                    return Err(DecodeError::at(K::Unsupported, at));
                }
                Token::ElementStart { prefix, local, .. } => {
                    let el = element(prefix, local, at)?;
                    if el != Element::SyncML {
                        return Err(DecodeError::at(K::Unexpected(el), at));
                    }
                    let (empty, ns) = r.attributes()?;
                    if ns != Some(Ns::SyncMl) {
                        return Err(DecodeError::at(K::Namespace, at));
                    }
                    if empty {
                        return Err(DecodeError::at(K::Missing(Element::SyncHdr), at));
                    }
                    return Ok(r);
                }
                _ => {}
            }
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.tok.stream().pos()
    }

    fn token(&mut self) -> Result<Token<'a>, DecodeError> {
        let at = self.pos();
        match self.tok.next() {
            None => Err(DecodeError::at(K::Truncated, at)),
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(DecodeError::at(syntax_kind(&e), at)),
        }
    }

    /// Reads the attributes of the start tag just read: whether the element is empty,
    /// and the namespace its `xmlns` declares. Other attributes are ignored.
    fn attributes(&mut self) -> Result<(bool, Option<Ns>), DecodeError> {
        let mut ns = None;
        loop {
            let at = self.pos();
            match self.token()? {
                Token::Attribute {
                    prefix,
                    local,
                    value,
                    ..
                } => {
                    if prefix.is_empty() && local.as_str() == "xmlns" {
                        ns = Some(
                            namespace_of(value.as_str())
                                .ok_or(DecodeError::at(K::Namespace, at))?,
                        );
                    }
                }
                Token::ElementEnd {
                    end: ElementEnd::Open,
                    ..
                } => return Ok((false, ns)),
                Token::ElementEnd {
                    end: ElementEnd::Empty,
                    ..
                } => return Ok((true, ns)),
                _ => return Err(DecodeError::at(K::Syntax, at)),
            }
        }
    }

    pub(crate) fn next(&mut self) -> Result<Event, DecodeError> {
        loop {
            let at = self.pos();
            match self.token()? {
                Token::ElementStart { prefix, local, .. } => {
                    let el = element(prefix, local, at)?;
                    let (empty, _) = self.attributes()?;
                    return Ok(Event::Start { el, empty });
                }
                Token::ElementEnd {
                    end: ElementEnd::Close(prefix, local),
                    ..
                } => return Ok(Event::End(Some(element(prefix, local, at)?))),
                Token::Text { text } if is_space(text.as_str()) => {}
                Token::Comment { .. } | Token::ProcessingInstruction { .. } => {}
                _ => return Err(DecodeError::at(K::Syntax, at)),
            }
        }
    }

    pub(crate) fn value(&mut self, el: Element, empty: bool) -> Result<Value<'a>, DecodeError> {
        if empty {
            return Ok(Value::EMPTY);
        }
        let start = self.pos();
        let mut runs = 0usize;
        let mut raw = false;
        let mut only = "";
        loop {
            let at = self.pos();
            match self.token()? {
                Token::Text { text } => {
                    runs += 1;
                    raw |= text.as_str().contains('&');
                    only = text.as_str();
                }
                Token::Cdata { text, .. } => {
                    runs += 1;
                    only = text.as_str();
                }
                Token::Comment { .. } | Token::ProcessingInstruction { .. } => raw = true,
                Token::ElementStart { prefix, local, .. } => {
                    let inner = element(prefix, local, at)?;
                    return Err(DecodeError::at(K::Unexpected(inner), at));
                }
                Token::ElementEnd {
                    end: ElementEnd::Close(prefix, local),
                    span,
                } => {
                    if element(prefix, local, at)? != el {
                        return Err(DecodeError::at(K::Mismatch, at));
                    }
                    return Ok(if raw || runs > 1 {
                        Value::raw_xml(self.text.get(start..span.start()).unwrap_or_default())
                    } else {
                        Value::text(only)
                    });
                }
                _ => return Err(DecodeError::at(K::Syntax, at)),
            }
        }
    }

    /// Skips to just after the end tag of the open element. Only used on content the
    /// structural check has already read with `xmlparser`, so a plain scan suffices: it
    /// steps over comments, CDATA, processing instructions and quoted attribute values.
    pub(crate) fn skip_rest(&mut self) -> Result<(), DecodeError> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos();
        let mut depth = 0usize;
        let truncated = DecodeError::at(K::Truncated, bytes.len());
        loop {
            let rest = bytes.get(i..).ok_or(truncated)?;
            i += rest.iter().position(|&b| b == b'<').ok_or(truncated)?;
            let rest = bytes.get(i..).ok_or(truncated)?;
            let skip_past = |end: &[u8]| find(rest, end).map(|n| n + end.len()).ok_or(truncated);
            if rest.starts_with(b"<!--") {
                i += skip_past(b"-->")?;
            } else if rest.starts_with(b"<![CDATA[") {
                i += skip_past(b"]]>")?;
            } else if rest.starts_with(b"<?") {
                i += skip_past(b"?>")?;
            } else if rest.starts_with(b"</") {
                i += skip_past(b">")?;
                if depth == 0 {
                    break;
                }
                depth -= 1;
            } else {
                let mut quote = None;
                let close = rest
                    .iter()
                    .position(|&b| match quote {
                        Some(q) => {
                            if b == q {
                                quote = None;
                            }
                            false
                        }
                        None if b == b'"' || b == b'\'' => {
                            quote = Some(b);
                            false
                        }
                        None => b == b'>',
                    })
                    .ok_or(truncated)?;
                if close.checked_sub(1).and_then(|j| rest.get(j)) != Some(&b'/') {
                    depth += 1;
                }
                i += close + 1;
            }
        }
        if i > self.text.len() || !self.text.is_char_boundary(i) {
            return Err(truncated);
        }
        self.tok = Tokenizer::from_fragment(self.text, i..self.text.len());
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            let at = self.pos();
            match self.tok.next() {
                None => return Ok(()),
                Some(Ok(Token::Comment { .. } | Token::ProcessingInstruction { .. })) => {}
                Some(Ok(_)) => return Err(DecodeError::at(K::Syntax, at)),
                Some(Err(e)) => return Err(DecodeError::at(syntax_kind(&e), at)),
            }
        }
    }
}

/// The table element named by a start or end tag; prefixed names are refused.
fn element(prefix: StrSpan<'_>, local: StrSpan<'_>, at: usize) -> Result<Element, DecodeError> {
    if !prefix.is_empty() {
        return Err(DecodeError::at(K::Namespace, at));
    }
    Element::from_name(local.as_str()).ok_or(DecodeError::at(K::UnknownElement, at))
}

fn is_space(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_whitespace())
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An `xmlparser` error as ours: running out of input is truncation, the rest syntax.
fn syntax_kind(e: &xmlparser::Error) -> K {
    use xmlparser::Error as X;
    match e {
        X::InvalidDeclaration(s, _)
        | X::InvalidComment(s, _)
        | X::InvalidPI(s, _)
        | X::InvalidDoctype(s, _)
        | X::InvalidEntity(s, _)
        | X::InvalidElement(s, _)
        | X::InvalidAttribute(s, _)
        | X::InvalidCdata(s, _)
        | X::InvalidCharData(s, _) => {
            if matches!(s, StreamError::UnexpectedEndOfStream) {
                K::Truncated
            } else {
                K::Syntax
            }
        }
        X::UnknownToken(_) => K::Syntax,
    }
}
