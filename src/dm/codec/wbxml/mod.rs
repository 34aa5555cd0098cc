//! WBXML 1.2 for SyncML DM (digest 8): global tokens, `mb_u_int32`, the string table.
//!
//! Tags come from the one element table ([`Element::token`](super::Element::token) and
//! [`Element::page`](super::Element::page)); this module holds only what WBXML itself
//! defines.

pub(crate) mod reader;

use super::error::DecodeErrorKind;

/// `SWITCH_PAGE`: the next byte is the new tag code page.
pub(crate) const SWITCH_PAGE: u8 = 0x00;
/// `END` of an element with content.
pub(crate) const END: u8 = 0x01;
/// `ENTITY`: an `mb_u_int32` character code.
pub(crate) const ENTITY: u8 = 0x02;
/// `STR_I`: inline NUL-terminated string.
pub(crate) const STR_I: u8 = 0x03;
/// `STR_T`: `mb_u_int32` offset into the string table.
pub(crate) const STR_T: u8 = 0x83;
/// `OPAQUE`: `mb_u_int32` length, then that many bytes.
pub(crate) const OPAQUE: u8 = 0xC3;
/// Bit of a tag token that says the element has content.
pub(crate) const TAG_CONTENT: u8 = 0x40;

/// WBXML version 1.2.
pub(crate) const VERSION_1_2: u8 = 0x02;
/// Public id of "-//SYNCML//DTD SyncML 1.2//EN".
pub(crate) const PUBLIC_ID_SYNCML_12: u32 = 0x1201;
/// Public id of "-//SYNCML//DTD SyncML 1.1//EN".
pub(crate) const PUBLIC_ID_SYNCML_11: u32 = 0x0FD3;
/// Public id "unknown" (the document type then follows from the root element).
pub(crate) const PUBLIC_ID_UNKNOWN: u32 = 0x01;
/// IANA MIBenum of UTF-8.
pub(crate) const CHARSET_UTF8: u8 = 106;

/// Decodes an `mb_u_int32` at the start of `bytes`: the value and the bytes it used.
/// More than 32 bits of value, or more than five bytes, is an overflow.
pub(crate) fn mb_u32(bytes: &[u8]) -> Result<(u32, usize), DecodeErrorKind> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i == 5 || value > u32::MAX >> 7 {
            return Err(DecodeErrorKind::Overflow);
        }
        value = (value << 7) | u32::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(DecodeErrorKind::Truncated)
}

/// Encodes `value` as an `mb_u_int32` into `out`; returns the bytes used (1 to 5).
pub(crate) fn put_mb_u32(value: u32, out: &mut [u8; 5]) -> usize {
    let mut len = 1;
    while len < 5 && value >> (7 * len) != 0 {
        len += 1;
    }
    for (i, slot) in out.iter_mut().take(len).enumerate() {
        let shift = 7 * (len - 1 - i);
        let more = if i + 1 < len { 0x80 } else { 0 };
        // Truncation to the low 7 bits is the encoding.
        *slot = ((value >> shift) & 0x7F) as u8 | more;
    }
    len
}

/// The NUL-terminated UTF-8 string at `index` in the string table.
pub(crate) fn table_str(strtbl: &[u8], index: u32) -> Option<&str> {
    let tail = strtbl.get(usize::try_from(index).ok()?..)?;
    let nul = tail.iter().position(|&b| b == 0)?;
    core::str::from_utf8(tail.get(..nul)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_u_int32_round_trips_and_rejects_overflow() {
        for v in [0, 1, 0x7F, 0x80, 0x1201, 0x3FFF, 0x4000, u32::MAX] {
            let mut buf = [0; 5];
            let n = put_mb_u32(v, &mut buf);
            assert_eq!(mb_u32(&buf[..n]), Ok((v, n)));
        }
        assert_eq!(mb_u32(&[0xA4, 0x01]), Ok((0x1201, 2)));
        // 2^32 needs a 33rd bit.
        assert_eq!(
            mb_u32(&[0x90, 0x80, 0x80, 0x80, 0x00]),
            Err(DecodeErrorKind::Overflow)
        );
        assert_eq!(
            mb_u32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(DecodeErrorKind::Overflow)
        );
        assert_eq!(mb_u32(&[0x81]), Err(DecodeErrorKind::Truncated));
    }

    #[test]
    fn string_table_lookups_stay_inside_the_table() {
        let t = b"ab\0cd\0";
        assert_eq!(table_str(t, 0), Some("ab"));
        assert_eq!(table_str(t, 4), Some("d"));
        assert_eq!(table_str(t, 6), None);
        assert_eq!(table_str(b"no-nul", 0), None);
        assert_eq!(table_str(t, u32::MAX), None);
    }
}
