//! XML pull reader: a tokenizer of our own for the XML that SyncML DM uses.
//!
//! Why not `xmlparser`: the first version of this reader used it, and measured worse on
//! both counts that matter here. On the 5,355-byte server package of `benches/codec.rs`
//! (instructions counted with callgrind on x86-64), the structural check took 75
//! instructions per byte with `xmlparser` and 46 with the first version of this
//! tokenizer; decoding and walking every command took 152 and 97 (today's figures, on a
//! Cortex-M4 as well, are in the README: `cargo xtask decode-cost`). Half of
//! `xmlparser`'s cost was its Unicode name tables and per-character checks, which SyncML
//! does not need: its names are ASCII and a name outside the element table is refused
//! anyway. Plain tags (`<Name>`, `<Name/>`, `</Name>`), nearly all the markup of a DM
//! message, are read in one scan over a table of byte classes that also hashes the name
//! for the element lookup; an end tag is compared with the element it must close instead
//! of being looked up; anything else takes the general path. In flash this
//! tokenizer is about 2.3 kB (thumbv7em, opt-level "z"), against 10–11 kB for
//! `xmlparser` (research/footprint-blocks.md; the download-descriptor parser still uses
//! it). The input is checked to be UTF-8 once, up front, and then read as bytes. The
//! well-formedness rules that matter for a receiver are kept: tags nest and match (the
//! structural check), names, attributes, comments (no `--`), CDATA, processing
//! instructions, the XML declaration (first only, its encoding UTF-8 or US-ASCII) and
//! one DOCTYPE before the root are checked for their syntax; `]]>` and control
//! characters are refused in text; only comments, PIs and whitespace may follow the
//! root. Entity references are decoded by [`Value`] under the raw `&` policy described
//! there; a DOCTYPE internal subset is skipped, not interpreted.

use super::namespace_of;
use crate::dm::codec::error::{DecodeError, DecodeErrorKind as K};
use crate::dm::codec::reader::{EndTag, Event};
use crate::dm::codec::tokens::{Element, hash_step};
use crate::dm::codec::value::Value;

/// A position in an XML document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XmlReader<'a> {
    text: &'a str,
    pos: usize,
}

/// Which namespace an `xmlns` attribute declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// `SYNCML:SYNCML1.2` (or 1.1).
    SyncMl,
    /// `syncml:metinf`.
    MetInf,
}

/// One piece of markup.
enum Markup<'a> {
    /// A start tag.
    Start {
        name: &'a [u8],
        empty: bool,
        ns: Option<Ns>,
    },
    /// An end tag.
    End(&'a [u8]),
    /// A CDATA section's text.
    Cdata(&'a str),
    /// A comment or processing instruction.
    Skipped,
}

impl<'a> XmlReader<'a> {
    /// Checks the bytes are UTF-8, reads the prolog and the root `SyncML` start tag.
    pub(crate) fn document(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let text =
            core::str::from_utf8(bytes).map_err(|e| DecodeError::at(K::Utf8, e.valid_up_to()))?;
        let mut r = XmlReader { text, pos: 0 };
        if r.rest().starts_with(b"\xEF\xBB\xBF") {
            r.pos += 3;
        }
        if r.rest().starts_with(b"<?xml") && r.byte_at(5).is_some_and(is_space) {
            r.declaration()?;
        }
        let mut doctype = false;
        loop {
            r.space();
            let at = r.pos;
            if r.rest().is_empty() {
                return Err(DecodeError::at(K::Truncated, at));
            }
            if !doctype && r.rest().starts_with(b"<!DOCTYPE") {
                r.doctype()?;
                doctype = true;
                continue;
            }
            if r.rest().first() != Some(&b'<') {
                return Err(DecodeError::at(K::Syntax, at));
            }
            match r.markup()? {
                Markup::Skipped => {}
                Markup::Start { name, empty, ns } => {
                    let el = element(name, at)?;
                    if el != Element::SyncML {
                        return Err(DecodeError::at(K::Unexpected(el), at));
                    }
                    if ns != Some(Ns::SyncMl) {
                        return Err(DecodeError::at(K::Namespace, at));
                    }
                    if empty {
                        return Err(DecodeError::at(K::Missing(Element::SyncHdr), at));
                    }
                    return Ok(r);
                }
                Markup::End(_) | Markup::Cdata(_) => {
                    return Err(DecodeError::at(K::Syntax, at));
                }
            }
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn byte_at(&self, offset: usize) -> Option<u8> {
        self.rest().get(offset).copied()
    }

    fn truncated(&self) -> DecodeError {
        DecodeError::at(K::Truncated, self.text.len())
    }

    fn syntax(&self) -> DecodeError {
        DecodeError::at(K::Syntax, self.pos)
    }

    /// The text from `start` to the current position.
    fn since(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// Skips whitespace; whether there was any.
    fn space(&mut self) -> bool {
        let n = self.rest().iter().take_while(|&&b| is_space(b)).count();
        self.pos += n;
        n > 0
    }

    /// Moves past the next `end`; `Truncated` when there is none.
    fn skip_past(&mut self, end: &[u8]) -> Result<(), DecodeError> {
        let n = find(self.rest(), end).ok_or_else(|| self.truncated())?;
        self.pos += n + end.len();
        Ok(())
    }

    fn expect(&mut self, b: u8) -> Result<(), DecodeError> {
        match self.rest().first() {
            Some(&c) if c == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.syntax()),
            None => Err(self.truncated()),
        }
    }

    /// An XML name (ASCII name characters; any non-ASCII byte is taken as a name
    /// character too, and then fails the element lookup).
    fn name(&mut self) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        let n = rest.iter().take_while(|&&b| is_name_byte(b)).count();
        match rest.first() {
            None => return Err(self.truncated()),
            Some(b) if n == 0 || b.is_ascii_digit() || *b == b'-' || *b == b'.' => {
                return Err(self.syntax());
            }
            Some(_) => {}
        }
        if n == rest.len() {
            self.pos += n;
            return Err(self.truncated());
        }
        self.pos += n;
        Ok(rest.get(..n).unwrap_or_default())
    }

    /// A quoted attribute value (without `<`).
    fn quoted(&mut self) -> Result<&'a str, DecodeError> {
        let quote = *self.rest().first().ok_or_else(|| self.truncated())?;
        if quote != b'"' && quote != b'\'' {
            return Err(self.syntax());
        }
        self.pos += 1;
        let start = self.pos;
        let n = self
            .rest()
            .iter()
            .position(|&b| b == quote || b == b'<')
            .ok_or_else(|| self.truncated())?;
        self.pos += n;
        let value = self.since(start);
        self.expect(quote)?;
        Ok(value)
    }

    /// `<?xml ...?>`: only its encoding is looked at.
    fn declaration(&mut self) -> Result<(), DecodeError> {
        let at = self.pos;
        self.pos += 5;
        let start = self.pos;
        self.skip_past(b"?>")?;
        let decl = self.text.get(start..self.pos - 2).unwrap_or_default();
        if let Some((_, tail)) = decl.split_once("encoding") {
            let value = tail
                .trim_start()
                .strip_prefix('=')
                .map(str::trim_start)
                .and_then(|v| {
                    let quote = v.chars().next().filter(|&q| q == '"' || q == '\'')?;
                    v.get(1..)?.split(quote).next()
                })
                .ok_or_else(|| DecodeError::at(K::Syntax, at))?;
            if !["utf-8", "us-ascii"]
                .iter()
                .any(|e| value.eq_ignore_ascii_case(e))
            {
                return Err(DecodeError::at(K::Unsupported, at));
            }
        }
        Ok(())
    }

    /// `<!DOCTYPE ...>`, with an internal subset in brackets skipped, not interpreted
    /// (quoted strings and comments in it may hold `]` and `>`).
    fn doctype(&mut self) -> Result<(), DecodeError> {
        self.pos += b"<!DOCTYPE".len();
        if !self.space() {
            return Err(self.syntax());
        }
        let mut subset = false;
        loop {
            let rest = self.rest();
            match rest.first() {
                None => return Err(self.truncated()),
                Some(&q @ (b'"' | b'\'')) => {
                    self.pos += 1;
                    self.skip_past(&[q])?;
                }
                Some(b'<') if subset && rest.starts_with(b"<!--") => {
                    self.pos += 4;
                    self.skip_past(b"-->")?;
                }
                Some(b'[') if !subset => {
                    subset = true;
                    self.pos += 1;
                }
                Some(b']') if subset => {
                    subset = false;
                    self.pos += 1;
                }
                Some(b'>') if !subset => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// The markup at `<`.
    fn markup(&mut self) -> Result<Markup<'a>, DecodeError> {
        let rest = self.rest();
        match rest.get(1) {
            None => Err(self.truncated()),
            Some(b'/') => {
                self.pos += 2;
                let name = self.name()?;
                self.space();
                self.expect(b'>')?;
                Ok(Markup::End(name))
            }
            Some(b'!') => {
                if rest.starts_with(b"<!--") {
                    self.pos += 4;
                    // `--` may appear in a comment only as part of its end.
                    self.skip_past(b"--")?;
                    self.expect(b'>')?;
                    Ok(Markup::Skipped)
                } else if rest.starts_with(b"<![CDATA[") {
                    self.pos += 9;
                    let start = self.pos;
                    self.skip_past(b"]]>")?;
                    Ok(Markup::Cdata(
                        self.text.get(start..self.pos - 3).unwrap_or_default(),
                    ))
                } else if b"<![CDATA[".starts_with(rest) || b"<!--".starts_with(rest) {
                    Err(self.truncated())
                } else {
                    Err(self.syntax())
                }
            }
            Some(b'?') => {
                self.pos += 2;
                let target = self.name()?;
                if target.eq_ignore_ascii_case(b"xml") {
                    return Err(self.syntax());
                }
                self.skip_past(b"?>")?;
                Ok(Markup::Skipped)
            }
            Some(_) => {
                self.pos += 1;
                let name = self.name()?;
                let mut ns = None;
                loop {
                    let spaced = self.space();
                    match self.rest() {
                        [b'>', ..] => {
                            self.pos += 1;
                            return Ok(Markup::Start {
                                name,
                                empty: false,
                                ns,
                            });
                        }
                        [b'/', b'>', ..] => {
                            self.pos += 2;
                            return Ok(Markup::Start {
                                name,
                                empty: true,
                                ns,
                            });
                        }
                        [] | [b'/'] => return Err(self.truncated()),
                        _ if !spaced => return Err(self.syntax()),
                        _ => {}
                    }
                    let at = self.pos;
                    let attr = self.name()?;
                    self.space();
                    self.expect(b'=')?;
                    self.space();
                    let value = self.quoted()?;
                    if attr == b"xmlns" {
                        ns = Some(
                            namespace_of(value).ok_or_else(|| DecodeError::at(K::Namespace, at))?,
                        );
                    }
                }
            }
        }
    }

    /// Character data up to the next `<`, and whether it holds a `&`; control characters
    /// and `]]>` are refused.
    fn text_run(&mut self) -> Result<(&'a str, bool), DecodeError> {
        let start = self.pos;
        let rest = self.rest();
        let mut end = None;
        let mut amp = false;
        for (i, &b) in rest.iter().enumerate() {
            // One comparison for most bytes: everything of interest is at most '>'.
            if b > b'>' {
                continue;
            }
            match b {
                b'<' => {
                    end = Some(i);
                    break;
                }
                b'&' => amp = true,
                b'>' if rest.get(..i).is_some_and(|t| t.ends_with(b"]]")) => {
                    return Err(DecodeError::at(K::Syntax, start + i));
                }
                0x00..=0x1F if !is_space(b) => {
                    return Err(DecodeError::at(K::Syntax, start + i));
                }
                _ => {}
            }
        }
        self.pos += end.ok_or_else(|| self.truncated())?;
        Ok((self.since(start), amp))
    }

    /// A plain start tag (`<Name>`, `<Name/>`) or end tag (`</Name>`) of a known element
    /// at `<`, the usual markup, read in one scan that also hashes the name; `None`, with
    /// nothing read, for anything else (the general path then reads it, errors included).
    fn plain_tag(&mut self) -> Option<Event<'a>> {
        let at = self.pos;
        let (is_end, tail) = match self.rest() {
            [b'<', b'/', tail @ ..] => (true, tail),
            [b'<', tail @ ..] => (false, tail),
            _ => return None,
        };
        let first = *tail.first()?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let mut hash = 0;
        let n = if is_end {
            // An end tag's name is compared, not looked up: no hash.
            tail.iter().take_while(|&&b| is_name_byte(b)).count()
        } else {
            let mut n = 0;
            for &b in tail {
                if !is_name_byte(b) {
                    break;
                }
                hash = hash_step(hash, b);
                n += 1;
            }
            n
        };
        let name = tail.get(..n)?;
        let (event, close) = match (is_end, tail.get(n..)?) {
            (true, [b'>', ..]) => (Event::End(Some(EndTag { name, at })), 1),
            (false, [b'>', ..]) => (
                Event::Start {
                    el: Element::from_hashed_name(name, hash)?,
                    empty: false,
                },
                1,
            ),
            (false, [b'/', b'>', ..]) => (
                Event::Start {
                    el: Element::from_hashed_name(name, hash)?,
                    empty: true,
                },
                2,
            ),
            _ => return None,
        };
        self.pos = at + 1 + usize::from(is_end) + n + close;
        Some(event)
    }

    /// The end tag of `el` written plainly (`</Name>`) at the current position, read;
    /// whether it was there.
    fn plain_end(&mut self, el: Element) -> bool {
        let name = el.name().as_bytes();
        let Some(tail) = self.rest().strip_prefix(b"</") else {
            return false;
        };
        let plain = tail.get(..name.len()).is_some_and(|t| el.is_named(t))
            && tail.get(name.len()) == Some(&b'>');
        if plain {
            self.pos += name.len() + 3;
        }
        plain
    }

    /// The next start or end tag; an end tag's name is not looked up (see [`EndTag`]).
    pub(crate) fn next(&mut self) -> Result<Event<'a>, DecodeError> {
        loop {
            let at = self.pos;
            match self.rest().first() {
                None => return Err(self.truncated()),
                Some(b'<') => match self.plain_tag() {
                    Some(event) => return Ok(event),
                    None => match self.markup()? {
                        Markup::Start { name, empty, .. } => {
                            return Ok(Event::Start {
                                el: element(name, at)?,
                                empty,
                            });
                        }
                        Markup::End(name) => return Ok(Event::End(Some(EndTag { name, at }))),
                        Markup::Cdata(_) => return Err(DecodeError::at(K::Syntax, at)),
                        Markup::Skipped => {}
                    },
                },
                Some(_) => {
                    // Whitespace up to markup, the usual case, needs no other check.
                    if self.space() && self.rest().first() == Some(&b'<') {
                        continue;
                    }
                    self.pos = at;
                    if !self.text_run()?.0.bytes().all(is_space) {
                        return Err(DecodeError::at(K::Syntax, at));
                    }
                }
            }
        }
    }

    pub(crate) fn value(&mut self, el: Element, empty: bool) -> Result<Value<'a>, DecodeError> {
        if empty {
            return Ok(Value::EMPTY);
        }
        let start = self.pos;
        let mut runs = 0usize;
        let mut raw = false;
        let mut only = "";
        loop {
            let at = self.pos;
            match self.rest().first() {
                None => return Err(self.truncated()),
                Some(b'<') if self.plain_end(el) => {
                    return Ok(if raw || runs > 1 {
                        Value::raw_xml(self.text.get(start..at).unwrap_or_default())
                    } else {
                        Value::text(only)
                    });
                }
                Some(b'<') => match self.markup()? {
                    Markup::Cdata(text) => {
                        runs += 1;
                        only = text;
                    }
                    Markup::Skipped => raw = true,
                    Markup::Start { name, .. } => {
                        return Err(DecodeError::at(K::Unexpected(element(name, at)?), at));
                    }
                    Markup::End(name) => {
                        (EndTag { name, at }).closes(el, at)?;
                        return Ok(if raw || runs > 1 {
                            Value::raw_xml(self.text.get(start..at).unwrap_or_default())
                        } else {
                            Value::text(only)
                        });
                    }
                },
                Some(_) => {
                    let (text, amp) = self.text_run()?;
                    runs += 1;
                    raw |= amp;
                    only = text;
                }
            }
        }
    }

    /// Skips to just after the end tag of the open element. Only used on content the
    /// structural check has already read, so a plain scan suffices: it steps over
    /// comments, CDATA, processing instructions and quoted attribute values.
    pub(crate) fn skip_rest(&mut self) -> Result<(), DecodeError> {
        let mut depth = 0usize;
        loop {
            let rest = self.rest();
            let lt = rest
                .iter()
                .position(|&b| b == b'<')
                .ok_or_else(|| self.truncated())?;
            self.pos += lt;
            let rest = rest.get(lt..).unwrap_or_default();
            match rest.get(1) {
                Some(b'/') => {
                    let gt = rest
                        .iter()
                        .position(|&b| b == b'>')
                        .ok_or_else(|| self.truncated())?;
                    self.pos += gt + 1;
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                Some(b'!') if rest.starts_with(b"<!--") => self.skip_past(b"-->")?,
                Some(b'!') => self.skip_past(b"]]>")?,
                Some(b'?') => self.skip_past(b"?>")?,
                _ => {
                    // A start tag: to its `>`, stepping over quoted attribute values.
                    let mut end = 0;
                    loop {
                        let tail = rest.get(end..).unwrap_or_default();
                        let i = tail
                            .iter()
                            .position(|&b| matches!(b, b'>' | b'"' | b'\''))
                            .ok_or_else(|| self.truncated())?;
                        let Some(&b) = tail.get(i) else {
                            return Err(self.truncated());
                        };
                        end += i + 1;
                        if b == b'>' {
                            break;
                        }
                        let close = rest
                            .get(end..)
                            .unwrap_or_default()
                            .iter()
                            .position(|&q| q == b)
                            .ok_or_else(|| self.truncated())?;
                        end += close + 1;
                    }
                    if rest.get(end.wrapping_sub(2)) != Some(&b'/') {
                        depth += 1;
                    }
                    self.pos += end;
                }
            }
        }
    }

    /// After the root: only whitespace, comments and processing instructions.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            self.space();
            let at = self.pos;
            match self.rest() {
                [] => return Ok(()),
                [b'<', b'!' | b'?', ..] => match self.markup()? {
                    Markup::Skipped => {}
                    _ => return Err(DecodeError::at(K::Syntax, at)),
                },
                _ => return Err(DecodeError::at(K::Syntax, at)),
            }
        }
    }
}

/// The table element named by a start or end tag; prefixed names are refused.
pub(crate) fn element(name: &[u8], at: usize) -> Result<Element, DecodeError> {
    Element::from_name_bytes(name).ok_or_else(|| {
        let kind = if name.contains(&b':') {
            K::Namespace
        } else {
            K::UnknownElement
        };
        DecodeError::at(kind, at)
    })
}

/// Class bit of the bytes of an XML name: ASCII letters, digits, `_ : . -`, and any byte
/// of a non-ASCII character.
const NAME: u8 = 1;
/// Class bit of XML whitespace.
const SPACE: u8 = 2;

/// The class bits of each byte value, built at compile time: one load per byte.
// Indexing here runs in the compiler only (256 entries, indices below 256).
#[allow(clippy::indexing_slicing)]
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'-') || c >= 0x80 {
            table[b] = NAME;
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            table[b] = SPACE;
        }
        b += 1;
    }
    table
};

/// The class bits of `b`.
fn class(b: u8) -> u8 {
    // A `u8` indexes 256 entries: always in bounds.
    #[allow(clippy::indexing_slicing)]
    CLASS[usize::from(b)]
}

fn is_name_byte(b: u8) -> bool {
    class(b) & NAME != 0
}

fn is_space(b: u8) -> bool {
    class(b) & SPACE != 0
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..)?.starts_with(tail) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
