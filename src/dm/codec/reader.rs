//! A pull reader over either encoding: the events the typed decoder and the structural
//! check consume, so the message model is written once for XML and WBXML.

use super::error::{DecodeError, DecodeErrorKind};
use super::tokens::Element;
use super::value::Value;
use super::wbxml::reader::WbxmlReader;
use super::xml;
use super::xml::reader::XmlReader;

/// A structural event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// An element starts; `empty` when it has no content at all (`<X/>`, WBXML tag
    /// without the content bit).
    Start {
        /// The element.
        el: Element,
        /// Whether it is empty.
        empty: bool,
    },
    /// The open element ends; XML names the element closed, WBXML does not.
    End(Option<EndTag<'a>>),
}

/// An XML end tag: the name it gives, not looked up (only a structural check needs it,
/// and comparing it with the element it must close is cheaper than a lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndTag<'a> {
    /// The name in the tag.
    pub name: &'a [u8],
    /// Where the tag starts.
    pub at: usize,
}

impl EndTag<'_> {
    /// Checks that the tag closes `el`: a name that is no element is refused as in a
    /// start tag (at the tag), a known other one is a mismatch at `mismatch_at`.
    pub(crate) fn closes(&self, el: Element, mismatch_at: usize) -> Result<(), DecodeError> {
        if el.is_named(self.name) {
            return Ok(());
        }
        xml::reader::element(self.name, self.at)?;
        Err(DecodeError::at(DecodeErrorKind::Mismatch, mismatch_at))
    }
}

/// A position in a received message, in either encoding. A few words, copied freely:
/// lazy lists keep one to come back to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// XML.
    Xml(XmlReader<'a>),
    /// WBXML.
    Wbxml(WbxmlReader<'a>),
}

impl<'a> Reader<'a> {
    /// The next start or end at the current level; whitespace, comments and processing
    /// instructions are skipped, other character data is an error.
    // Not inlined: the typed decoder calls the reader from many places, and one copy of
    // each encoding's tokenizer is worth more flash than the call costs.
    #[inline(never)]
    pub(crate) fn next(&mut self) -> Result<Event<'a>, DecodeError> {
        match self {
            Reader::Xml(r) => r.next(),
            Reader::Wbxml(r) => r.next(),
        }
    }

    /// The content of the leaf `el` just started, through its end.
    #[inline(never)]
    pub(crate) fn value(&mut self, el: Element, empty: bool) -> Result<Value<'a>, DecodeError> {
        match self {
            Reader::Xml(r) => r.value(el, empty),
            Reader::Wbxml(r) => r.value(empty),
        }
    }

    /// Skips the rest of the open element, through its end.
    #[inline(never)]
    pub(crate) fn skip_rest(&mut self) -> Result<(), DecodeError> {
        match self {
            Reader::Xml(r) => r.skip_rest(),
            Reader::Wbxml(r) => r.skip_rest(),
        }
    }

    /// Checks that nothing but what the encoding allows follows the root element.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        match self {
            Reader::Xml(r) => r.finish(),
            Reader::Wbxml(r) => r.finish(),
        }
    }

    /// Byte offset of the reader in the message.
    pub(crate) fn offset(&self) -> usize {
        match self {
            Reader::Xml(r) => r.pos(),
            Reader::Wbxml(r) => r.pos(),
        }
    }

    /// Skips the element just started (leaf or not), through its end.
    pub(crate) fn skip(&mut self, empty: bool) -> Result<(), DecodeError> {
        if empty { Ok(()) } else { self.skip_rest() }
    }
}
