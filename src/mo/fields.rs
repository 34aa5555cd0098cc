//! Packed storage for the optional leaves of one object entry: a fixed byte budget shared
//! by all of the entry's values, so that a long `PkgURL` and short names fit the same
//! entry without each leaf reserving its maximum.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;

/// The values of an entry's leaves, each under a tag (the leaf's row in its object's
/// table), packed in `N` bytes as records `[tag][len lo][len hi][value]`. A leaf with no
/// record is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<const N: usize> {
    bytes: heapless::Vec<u8, N, u16>,
}

impl<const N: usize> Default for Fields<N> {
    fn default() -> Self {
        Self::new()
    }
}

const HEAD: usize = 3;

impl<const N: usize> Fields<N> {
    /// No leaf present.
    pub const fn new() -> Self {
        Self {
            bytes: heapless::Vec::new(),
        }
    }

    fn records(&self) -> Records<'_> {
        Records(&self.bytes)
    }

    /// Every present leaf: (tag, value).
    pub fn iter(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.records().map(|(t, v, _)| (t, v))
    }

    /// The value of leaf `tag`.
    pub fn get(&self, tag: u8) -> Option<&[u8]> {
        self.iter().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }

    /// The value of text leaf `tag` (values of text leaves are stored as UTF-8 only).
    pub fn text(&self, tag: u8) -> Option<&str> {
        self.get(tag).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Bytes still free.
    pub fn free(&self) -> usize {
        N - self.bytes.len()
    }

    /// Sets leaf `tag`. 413 when the value alone can never fit, 420 when it does not fit
    /// beside the other values; the fields are then unchanged.
    pub fn set(&mut self, tag: u8, value: &[u8]) -> Result<(), StatusCode> {
        let need = HEAD + value.len();
        if need > N || value.len() > usize::from(u16::MAX) {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        let freed = self.get(tag).map_or(0, |v| HEAD + v.len());
        if need > self.free() + freed {
            return Err(StatusCode::DeviceFull);
        }
        self.remove(tag);
        let [lo, hi] = (value.len() as u16).to_le_bytes();
        for part in [&[tag, lo, hi][..], value] {
            self.bytes
                .extend_from_slice(part)
                .map_err(|_| StatusCode::DeviceFull)?;
        }
        Ok(())
    }

    /// Makes leaf `tag` absent.
    pub fn remove(&mut self, tag: u8) {
        let mut at = 0;
        for (t, _, len) in self.records() {
            if t == tag {
                let start = at;
                let end = at + len;
                self.bytes.copy_within(end.., start);
                self.bytes.truncate(self.bytes.len() - len);
                return;
            }
            at += len;
        }
    }

    /// Writes the fields as a CBOR array of `[tag, bytes]` pairs.
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(self.iter().count() as u64)?;
        for (tag, value) in self.iter() {
            e.array(2)?.u8(tag)?.bytes(value)?;
        }
        Ok(())
    }

    /// Reads what [`Fields::encode`] wrote; `valid(tag, value)` says whether a leaf may
    /// hold that value (known tag, UTF-8 for text). Errors on anything else, never panics.
    pub fn decode(
        d: &mut Decoder<'_>,
        valid: impl Fn(u8, &[u8]) -> bool,
    ) -> Result<Self, decode::Error> {
        let mut f = Self::new();
        let n = d
            .array()?
            .ok_or(decode::Error::message("indefinite array"))?;
        for _ in 0..n {
            if d.array()? != Some(2) {
                return Err(decode::Error::message("field is not a pair"));
            }
            let tag = d.u8()?;
            let value = d.bytes()?;
            if !valid(tag, value) || f.get(tag).is_some() {
                return Err(decode::Error::message("invalid or duplicate field"));
            }
            f.set(tag, value)
                .map_err(|_| decode::Error::message("fields too large"))?;
        }
        Ok(f)
    }
}

/// Iterates packed records: (tag, value, record length).
struct Records<'a>(&'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        let (head, rest) = self.0.split_at_checked(HEAD)?;
        let (tag, len) = match head {
            [tag, lo, hi] => (*tag, usize::from(u16::from_le_bytes([*lo, *hi]))),
            _ => return None,
        };
        let (value, rest) = rest.split_at_checked(len)?;
        self.0 = rest;
        Some((tag, value, HEAD + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_remove() {
        let mut f = Fields::<32>::new();
        f.set(1, b"abc").unwrap();
        f.set(2, b"de").unwrap();
        f.set(1, b"x").unwrap();
        assert_eq!(f.get(1), Some(&b"x"[..]));
        assert_eq!(f.text(2), Some("de"));
        f.remove(1);
        assert_eq!(f.get(1), None);
        assert_eq!(f.get(2), Some(&b"de"[..]));
        assert_eq!(f.free(), 32 - 5);
    }

    #[test]
    fn too_large_is_413_full_is_420_and_unchanged() {
        let mut f = Fields::<10>::new();
        assert_eq!(f.set(1, &[0; 8]), Err(StatusCode::RequestEntityTooLarge));
        f.set(1, b"abcd").unwrap();
        let before = f.clone();
        assert_eq!(f.set(2, b"abc"), Err(StatusCode::DeviceFull));
        assert_eq!(f, before);
        // Replacing a value may reuse its own room.
        f.set(1, b"abcdefg").unwrap();
    }

    #[test]
    fn decode_rejects_corrupt_input() {
        let mut f = Fields::<16>::new();
        f.set(3, b"hi").unwrap();
        let mut buf = [0u8; 16];
        let n = crate::mo::encode_into(&mut buf, |e| f.encode(e)).unwrap();
        let back = Fields::<16>::decode(&mut Decoder::new(&buf[..n]), |_, _| true).unwrap();
        assert_eq!(back, f);
        assert!(Fields::<16>::decode(&mut Decoder::new(&buf[..n]), |t, _| t != 3).is_err());
        for cut in 0..n {
            assert!(Fields::<16>::decode(&mut Decoder::new(&buf[..cut]), |_, _| true).is_err());
        }
    }
}
