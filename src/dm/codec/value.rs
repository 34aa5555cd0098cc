//! Leaf values borrowed from the received message, unescaped without a heap.
//!
//! Most values arrive as one contiguous run (XML text without references, one CDATA
//! section, one WBXML `STR_I`/`STR_T`/`OPAQUE`) and are then a plain borrow:
//! [`Value::as_str`] / [`Value::as_bytes`]. The rest (XML text with entity references or
//! mixed CDATA, WBXML content split into several strings) keep the raw content and are
//! decoded on the fly by [`Value::pieces`], [`Value::write_to`] or [`Value::copy_to`].
//!
//! **Raw `&` policy (XML).** Real servers send `<Data>MAXDT=15&DR=1</Data>` (AOSP test
//! vectors), which is not well-formed XML. The decoder accepts it: a `&` that starts one
//! of the five predefined references (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;`) or a
//! numeric reference to a valid character (`&#65;`, `&#x41;`) is decoded; any other `&`
//! is taken literally, up to and including what follows it. A device loses nothing by
//! this (the alternative, refusing the whole message, stops the session), and a
//! well-formed message decodes exactly as the XML specification says.

use super::wbxml::{mb_u32, table_str};

/// A leaf value: character data (XML text, CDATA, WBXML inline or table string) or
/// binary (WBXML `OPAQUE`), borrowed from the received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr<'a> {
    /// Exact text, nothing to unescape.
    Text(&'a str),
    /// Exact bytes from a WBXML `OPAQUE`.
    Opaque(&'a [u8]),
    /// Raw XML content: text with references, CDATA sections, comments.
    Xml(&'a str),
    /// Raw WBXML content: several `STR_I`/`STR_T`/`OPAQUE`/`ENTITY` tokens.
    Wbxml {
        /// The content tokens, up to (not including) the `END`.
        content: &'a [u8],
        /// The document's string table.
        strtbl: &'a [u8],
    },
}

/// One run of a value's decoded content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text borrowed from the message.
    Str(&'a str),
    /// Bytes borrowed from the message (WBXML `OPAQUE`).
    Bytes(&'a [u8]),
    /// One character from a reference (`&amp;`, `&#x41;`, WBXML `ENTITY`).
    Char(char),
}

impl<'a> Piece<'a> {
    /// The piece's bytes (a `Char` is encoded as UTF-8 into `scratch`).
    pub fn bytes<'s>(&'s self, scratch: &'s mut [u8; 4]) -> &'s [u8] {
        match self {
            Piece::Str(s) => s.as_bytes(),
            Piece::Bytes(b) => b,
            Piece::Char(c) => c.encode_utf8(scratch).as_bytes(),
        }
    }
}

impl Default for Value<'_> {
    fn default() -> Self {
        Value::EMPTY
    }
}

impl<'a> Value<'a> {
    /// The empty value (`<Data/>`).
    pub const EMPTY: Value<'static> = Value(Repr::Text(""));

    pub(crate) const fn text(s: &'a str) -> Self {
        Value(Repr::Text(s))
    }

    pub(crate) const fn opaque(b: &'a [u8]) -> Self {
        Value(Repr::Opaque(b))
    }

    pub(crate) const fn raw_xml(s: &'a str) -> Self {
        Value(Repr::Xml(s))
    }

    pub(crate) const fn raw_wbxml(content: &'a [u8], strtbl: &'a [u8]) -> Self {
        Value(Repr::Wbxml { content, strtbl })
    }

    /// The text, when it is one contiguous UTF-8 run needing no unescaping.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.0 {
            Repr::Text(s) => Some(s),
            Repr::Opaque(b) => core::str::from_utf8(b).ok(),
            Repr::Xml(_) | Repr::Wbxml { .. } => None,
        }
    }

    /// The bytes, when they are one contiguous run needing no unescaping.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.0 {
            Repr::Text(s) => Some(s.as_bytes()),
            Repr::Opaque(b) => Some(b),
            Repr::Xml(_) | Repr::Wbxml { .. } => None,
        }
    }

    /// Whether the value arrived as WBXML `OPAQUE` (binary) in one piece.
    pub fn is_opaque(&self) -> bool {
        matches!(self.0, Repr::Opaque(_))
    }

    /// The decoded content, piece by piece.
    pub fn pieces(&self) -> Pieces<'a> {
        Pieces(match self.0 {
            Repr::Text(s) => State::One(Some(Piece::Str(s))),
            Repr::Opaque(b) => State::One(Some(Piece::Bytes(b))),
            Repr::Xml(raw) => State::Xml(raw),
            Repr::Wbxml { content, strtbl } => State::Wbxml(content, strtbl),
        })
    }

    /// Length of the decoded content in bytes.
    pub fn len(&self) -> usize {
        if let Some(b) = self.as_bytes() {
            return b.len();
        }
        let mut scratch = [0; 4];
        self.pieces().map(|p| p.bytes(&mut scratch).len()).sum()
    }

    /// Whether the decoded content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with each run of decoded bytes, in order; stops at the first error.
    pub fn try_for_each_chunk<E>(
        &self,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        // Most values are one run: no piece machinery for them.
        if let Some(b) = self.as_bytes() {
            return f(b);
        }
        let mut scratch = [0; 4];
        for piece in self.pieces() {
            f(piece.bytes(&mut scratch))?;
        }
        Ok(())
    }

    /// Writes the decoded content to `w`.
    pub fn write_to<W: embedded_io::Write>(&self, w: &mut W) -> Result<(), W::Error> {
        self.try_for_each_chunk(|chunk| w.write_all(chunk))
    }

    /// Copies the decoded content into `buf`; `None` when it does not fit.
    pub fn copy_to<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let mut len = 0;
        self.try_for_each_chunk(|chunk| {
            let end = len + chunk.len();
            buf.get_mut(len..end).ok_or(())?.copy_from_slice(chunk);
            len = end;
            Ok::<(), ()>(())
        })
        .ok()?;
        buf.get(..len)
    }

    /// The text: borrowed when possible, else unescaped into `buf`. `None` when it does
    /// not fit in `buf` or is not UTF-8.
    pub fn to_str<'b>(&'b self, buf: &'b mut [u8]) -> Option<&'b str> {
        match self.as_str() {
            Some(s) => Some(s),
            None => core::str::from_utf8(self.copy_to(buf)?).ok(),
        }
    }

    /// Whether the decoded content is valid UTF-8.
    pub fn is_utf8(&self) -> bool {
        match self.0 {
            Repr::Text(_) | Repr::Xml(_) => true,
            Repr::Opaque(b) => core::str::from_utf8(b).is_ok(),
            Repr::Wbxml { .. } => self
                .pieces()
                .all(|p| !matches!(p, Piece::Bytes(b) if core::str::from_utf8(b).is_err())),
        }
    }

    /// Whether the decoded content equals `other` byte for byte.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        let mut rest = other;
        self.try_for_each_chunk(|chunk| match rest.strip_prefix(chunk) {
            Some(tail) => {
                rest = tail;
                Ok(())
            }
            None => Err(()),
        })
        .is_ok()
            && rest.is_empty()
    }

    /// Whether the decoded content equals `other`.
    pub fn eq_str(&self, other: &str) -> bool {
        self.eq_bytes(other.as_bytes())
    }

    /// Whether the decoded content equals `other`, ignoring ASCII case.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        let mut rest = other.as_bytes();
        self.try_for_each_chunk(|chunk| {
            let (head, tail) = rest.split_at_checked(chunk.len()).ok_or(())?;
            rest = tail;
            if head.eq_ignore_ascii_case(chunk) {
                Ok(())
            } else {
                Err(())
            }
        })
        .is_ok()
            && rest.is_empty()
    }

    /// The decimal number the value holds (ASCII whitespace around it is ignored).
    pub fn to_u32(&self) -> Option<u32> {
        let mut acc: Option<u32> = None;
        // 0 = before the digits, 1 = in the digits, 2 = after them.
        let mut phase = 0u8;
        self.try_for_each_chunk(|chunk| {
            for &b in chunk {
                match (phase, b) {
                    (0 | 1, b'0'..=b'9') => {
                        phase = 1;
                        let digit = u32::from(b - b'0');
                        acc = Some(
                            acc.unwrap_or(0)
                                .checked_mul(10)
                                .and_then(|v| v.checked_add(digit))
                                .ok_or(())?,
                        );
                    }
                    (0, _) | (1 | 2, _) if b.is_ascii_whitespace() => {
                        if phase == 1 {
                            phase = 2;
                        }
                    }
                    _ => return Err(()),
                }
            }
            Ok(())
        })
        .ok()?;
        acc
    }
}

/// Iterator over the decoded pieces of a [`Value`].
#[derive(Debug, Clone)]
pub struct Pieces<'a>(State<'a>);

#[derive(Debug, Clone)]
enum State<'a> {
    One(Option<Piece<'a>>),
    Xml(&'a str),
    Wbxml(&'a [u8], &'a [u8]),
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        match &mut self.0 {
            State::One(piece) => piece.take(),
            State::Xml(rest) => next_xml_piece(rest),
            State::Wbxml(rest, strtbl) => next_wbxml_piece(rest, strtbl),
        }
    }
}

/// The next piece of raw XML content (text, references, CDATA, comments, PIs).
fn next_xml_piece<'a>(rest: &mut &'a str) -> Option<Piece<'a>> {
    loop {
        let s = *rest;
        if s.is_empty() {
            return None;
        }
        if let Some(body) = s.strip_prefix("<![CDATA[") {
            let (text, tail) = body.split_once("]]>").unwrap_or((body, ""));
            *rest = tail;
            if !text.is_empty() {
                return Some(Piece::Str(text));
            }
        } else if let Some(body) = s.strip_prefix("<!--") {
            *rest = body.split_once("-->").map_or("", |(_, tail)| tail);
        } else if let Some(body) = s.strip_prefix("<?") {
            *rest = body.split_once("?>").map_or("", |(_, tail)| tail);
        } else if let Some(body) = s.strip_prefix('&') {
            return Some(match reference(body) {
                Some((c, tail)) => {
                    *rest = tail;
                    Piece::Char(c)
                }
                None => {
                    *rest = body;
                    Piece::Str("&")
                }
            });
        } else {
            // A text run up to the next markup; a stray '<' (impossible after the
            // structural check) is kept as text rather than looping.
            let end = s
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '<' || c == '&')
                .map_or(s.len(), |(i, _)| i);
            let (text, tail) = s.split_at_checked(end)?;
            *rest = tail;
            return Some(Piece::Str(text));
        }
    }
}

/// Decodes the reference that follows a `&`: the character and the text after the `;`.
fn reference(body: &str) -> Option<(char, &str)> {
    // The longest reference we decode is `#x10FFFF` (8 characters) plus `;`.
    let semi = body.bytes().take(9).position(|b| b == b';')?;
    let (name, tail) = body.split_at_checked(semi)?;
    let tail = tail.get(1..)?;
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let (digits, radix) = match name.strip_prefix("#x") {
                Some(hex) => (hex, 16),
                None => (name.strip_prefix('#')?, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            char::from_u32(u32::from_str_radix(digits, radix).ok()?)?
        }
    };
    Some((c, tail))
}

/// The next piece of raw WBXML content (validated by the reader before).
fn next_wbxml_piece<'a>(rest: &mut &'a [u8], strtbl: &'a [u8]) -> Option<Piece<'a>> {
    loop {
        let (&token, tail) = rest.split_first()?;
        match token {
            super::wbxml::SWITCH_PAGE => {
                *rest = tail.get(1..)?;
            }
            super::wbxml::STR_I => {
                let nul = tail.iter().position(|&b| b == 0)?;
                let (s, after) = tail.split_at_checked(nul)?;
                *rest = after.get(1..)?;
                if !s.is_empty() {
                    return Some(Piece::Str(core::str::from_utf8(s).ok()?));
                }
            }
            super::wbxml::STR_T => {
                let (index, n) = mb_u32(tail).ok()?;
                *rest = tail.get(n..)?;
                let s = table_str(strtbl, index)?;
                if !s.is_empty() {
                    return Some(Piece::Str(s));
                }
            }
            super::wbxml::OPAQUE => {
                let (len, n) = mb_u32(tail).ok()?;
                let end = n.checked_add(usize::try_from(len).ok()?)?;
                let bytes = tail.get(n..end)?;
                *rest = tail.get(end..)?;
                if !bytes.is_empty() {
                    return Some(Piece::Bytes(bytes));
                }
            }
            super::wbxml::ENTITY => {
                let (code, n) = mb_u32(tail).ok()?;
                *rest = tail.get(n..)?;
                return Some(Piece::Char(char::from_u32(code)?));
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(v: Value) -> std::string::String {
        let mut buf = [0u8; 256];
        std::string::String::from(v.to_str(&mut buf).unwrap())
    }

    extern crate std;

    #[test]
    fn xml_references_are_decoded_and_stray_ampersands_kept() {
        let v = Value::raw_xml("MAXDT=15&DR=1 &amp; &lt;a&gt; &#65;&#x42; &bogus; &#xD800;");
        assert_eq!(collect(v), "MAXDT=15&DR=1 & <a> AB &bogus; &#xD800;");
    }

    #[test]
    fn cdata_and_comments_in_raw_xml() {
        let v = Value::raw_xml("a<![CDATA[<b>&amp;]]><!-- c -->d<?pi x?>");
        assert_eq!(collect(v), "a<b>&amp;d");
        assert!(v.eq_str("a<b>&amp;d"));
        assert!(!v.eq_str("a<b>&amp;"));
        assert_eq!(v.len(), 10);
    }

    #[test]
    fn numbers_tolerate_surrounding_whitespace_only() {
        assert_eq!(Value::text(" 42\n").to_u32(), Some(42));
        assert_eq!(Value::text("4 2").to_u32(), None);
        assert_eq!(Value::text("").to_u32(), None);
        assert_eq!(Value::text("4294967296").to_u32(), None);
        assert_eq!(Value::text("+1").to_u32(), None);
        assert_eq!(Value::raw_xml("1<!-- -->2").to_u32(), Some(12));
    }

    #[test]
    fn copy_to_reports_a_small_buffer() {
        let mut small = [0u8; 3];
        assert_eq!(Value::text("abcd").copy_to(&mut small), None);
        assert!(Value::text("AbC").eq_ignore_ascii_case("aBc"));
    }
}
