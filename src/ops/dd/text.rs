//! Text of a descriptor element, borrowed raw from the document.
use super::DdError;

/// The longest reference between `&` and `;` we resolve (`#x10FFFF` is 8).
const MAX_REFERENCE_LEN: usize = 8;

/// The text of an element, trimmed of XML white space and borrowed from the document
/// without resolving entity references (`&amp;` stays `&amp;` until
/// [`unescape`](Self::unescape)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlText<'a> {
    raw: &'a str,
    cdata: bool,
}

impl<'a> XmlText<'a> {
    /// Character data that may hold references.
    pub(crate) fn escaped(raw: &'a str) -> Self {
        Self {
            raw: trim_xml_space(raw),
            cdata: false,
        }
    }

    /// The content of a CDATA section, taken literally.
    pub(crate) fn cdata(raw: &'a str) -> Self {
        Self {
            raw: trim_xml_space(raw),
            cdata: true,
        }
    }

    /// The text of an empty element.
    pub(crate) fn empty() -> Self {
        Self::escaped("")
    }

    /// The text as it stands in the document (trimmed), references unresolved.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the text came from a CDATA section.
    pub fn is_cdata(&self) -> bool {
        self.cdata
    }

    /// The text itself when there is nothing to resolve (CDATA, or no `&`), without copying.
    pub fn as_plain(&self) -> Option<&'a str> {
        (self.cdata || !self.raw.contains('&')).then_some(self.raw)
    }

    /// The text with the five predefined entities (`&lt;` `&gt;` `&amp;` `&apos;`
    /// `&quot;`) and character references (`&#65;`, `&#x41;`) resolved, written into `out`.
    /// The result is never longer than [`raw`](Self::raw).
    ///
    /// Servers that write URLs into descriptors without escaping them exist, so an `&` that
    /// does not start a reference (`&b=2`: no `;` after a name of letters, digits and `#`)
    /// is kept as it is rather than refused.
    ///
    /// # Errors
    /// [`DdError::BadReference`] for a reference that is unknown or invalid (a DTD's
    /// entities are never expanded), [`DdError::BufferTooSmall`] when `out` is too short.
    pub fn unescape<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, DdError> {
        let mut len = 0;
        let mut put = |bytes: &[u8]| -> Result<(), DdError> {
            let end = len + bytes.len();
            out.get_mut(len..end)
                .ok_or(DdError::BufferTooSmall)?
                .copy_from_slice(bytes);
            len = end;
            Ok(())
        };
        if self.cdata {
            put(self.raw.as_bytes())?;
        } else {
            let mut rest = self.raw;
            while let Some((before, after)) = rest.split_once('&') {
                put(before.as_bytes())?;
                match reference(after) {
                    Some((name, tail)) => {
                        let c = resolve(name).ok_or(DdError::BadReference)?;
                        put(c.encode_utf8(&mut [0u8; 4]).as_bytes())?;
                        rest = tail;
                    }
                    None => {
                        // Not a reference at all: a server that did not escape a URL.
                        put(b"&")?;
                        rest = after;
                    }
                }
            }
            put(rest.as_bytes())?;
        }
        out.get(..len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .ok_or(DdError::BufferTooSmall)
    }
}

/// Splits `text` (what follows a `&`) into a reference name and the rest after its `;`,
/// if it starts with one: up to [`MAX_REFERENCE_LEN`] letters, digits or `#`, then `;`.
fn reference(text: &str) -> Option<(&str, &str)> {
    let end = text
        .bytes()
        .take(MAX_REFERENCE_LEN + 1)
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'#'))?;
    let name = text.get(..end)?;
    let tail = text.get(end..)?.strip_prefix(';')?;
    Some((name, tail))
}

/// The character a reference (the part between `&` and `;`) stands for.
fn resolve(name: &str) -> Option<char> {
    let code = match name {
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "amp" => return Some('&'),
        "apos" => return Some('\''),
        "quot" => return Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            u32::from_str_radix(digits, radix).ok()?
        }
    };
    char::from_u32(code).filter(|&c| c != '\0')
}

/// Trims the four XML white-space characters.
fn trim_xml_space(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn unescape(raw: &str) -> Result<std::string::String, DdError> {
        let mut out = [0u8; 64];
        XmlText::escaped(raw)
            .unescape(&mut out)
            .map(std::string::String::from)
    }

    #[test]
    fn predefined_entities_and_character_references_resolve() {
        assert_eq!(unescape("a&amp;b&lt;&gt;&apos;&quot;").unwrap(), "a&b<>'\"");
        assert_eq!(unescape("&#65;&#x42;&#x10FFFF;").unwrap(), "AB\u{10FFFF}");
        assert_eq!(unescape("  plain \n").unwrap(), "plain");
    }

    #[test]
    fn unknown_or_invalid_references_are_refused() {
        for bad in [
            "&foo;",
            "&#;",
            "&#x;",
            "&#0;",
            "&#xD800;",
            "&#x110000;",
            "&#x;",
            "&#1#;",
            "&#xG;",
        ] {
            assert_eq!(unescape(bad), Err(DdError::BadReference), "{bad}");
        }
    }

    #[test]
    fn an_ampersand_that_starts_no_reference_is_kept() {
        assert_eq!(unescape("a?x=1&b=2&amp;c=3").unwrap(), "a?x=1&b=2&c=3");
        assert_eq!(unescape("&amp").unwrap(), "&amp");
        assert_eq!(unescape("&").unwrap(), "&");
        assert_eq!(unescape("&#12345678901;").unwrap(), "&#12345678901;");
        assert_eq!(unescape("&#-1;").unwrap(), "&#-1;");
    }

    #[test]
    fn cdata_is_taken_literally_and_short_buffers_are_refused() {
        let mut out = [0u8; 16];
        assert_eq!(XmlText::cdata("a&amp;b").unescape(&mut out), Ok("a&amp;b"));
        assert_eq!(XmlText::cdata("a&amp;b").as_plain(), Some("a&amp;b"));
        assert_eq!(XmlText::escaped("a&amp;b").as_plain(), None);
        let mut short = [0u8; 2];
        assert_eq!(
            XmlText::escaped("a&amp;b").unescape(&mut short),
            Err(DdError::BufferTooSmall)
        );
    }
}
