//! Errors of the codecs: small, `Copy`, and never a panic.
//!
//! The protocol layer answers any [`DecodeError`] with 400 (Bad request) or, when the
//! session cannot go on, Alert 1223; the codec itself does not pick status codes.

use super::tokens::Element;

/// Why a received message was refused, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the message where it was found (approximate for XML syntax errors).
    pub offset: u32,
}

/// What is wrong with a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeErrorKind {
    /// The message ends before the document does.
    Truncated,
    /// Not well-formed XML, or a WBXML token where it cannot stand.
    Syntax,
    /// Text that is not UTF-8, or a character reference to no character.
    Utf8,
    /// A namespace other than `SYNCML:SYNCML1.x` / `syncml:metinf`, a prefixed element,
    /// or a WBXML public id that is not SyncML.
    Namespace,
    /// An element name or WBXML tag token that is not in the table.
    UnknownElement,
    /// A WBXML global token the codec does not accept (EXT, PI, LITERAL, attributes).
    UnknownToken,
    /// A known element where the DM content model does not allow it.
    Unexpected(Element),
    /// A known element after a sibling that the DTD puts later.
    OutOfOrder(Element),
    /// A second occurrence of an element that may occur once.
    Duplicate(Element),
    /// A required child of the element is missing.
    Missing(Element),
    /// An end tag that does not close the open element.
    Mismatch,
    /// A number that is not a decimal `u32`.
    Number(Element),
    /// Atomic/Sequence nested deeper than [`MAX_NESTING`](super::MAX_NESTING).
    TooDeep,
    /// A length or value that overflows (WBXML `mb_u_int32` over 32 bits, a length
    /// that runs past the end of the message).
    Overflow,
    /// A WBXML string-table reference outside the table or not NUL-terminated.
    StringTable,
    /// A WBXML version or charset, or an XML encoding, that the codec does not handle.
    Unsupported,
}

impl DecodeError {
    /// An error of `kind` at byte `offset`.
    pub(crate) fn at(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError {
            kind,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
        }
    }
}

/// Why the encoder refused a write. The writer is unchanged after any error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The buffer (or the limit set with `set_limit`) has no room for this write plus the
    /// bytes that close every open element and the reserve.
    TooSmall,
    /// The element is not allowed here, or comes after a sibling the DTD puts later,
    /// or repeats a child that may occur once.
    Misplaced(Element),
    /// Closing the open element now would leave out its required child.
    Missing(Element),
    /// Text or bytes where the open element holds elements, or text the encoding cannot
    /// carry (XML control characters, a NUL in WBXML inline text).
    Unrepresentable,
    /// Nothing is open (or too much is: deeper than the writer's stack).
    Depth,
    /// The mark was taken before a truncation that cut below it.
    StaleMark,
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?} at byte {}", self.kind, self.offset)
    }
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}
