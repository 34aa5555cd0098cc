//! The 16-bit session id of a notification and its `SyncHdr/SessionID` text.
use core::num::NonZeroU16;

/// A notification's session id, 1 to 0xFFFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionId(NonZeroU16);

impl SessionId {
    /// The id `value`; `None` for 0.
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The `SyncHdr/SessionID` text: upper-case hexadecimal without leading zeros, one to
    /// four characters (`0x1A2B` → `1A2B`, `0x00FF` → `FF`).
    pub fn to_text(self) -> SessionIdText {
        let value = self.get();
        let digits = 4 - (value.leading_zeros() / 4) as usize;
        let mut bytes = [b'0'; 4];
        for (i, slot) in bytes.iter_mut().take(digits).enumerate() {
            let shift = 4 * (digits - 1 - i);
            *slot = hex_digit((value >> shift) as u8 & 0xF);
        }
        SessionIdText {
            bytes,
            len: digits as u8,
        }
    }

    /// The id a `SyncHdr/SessionID` text names, if it is the text [`to_text`](Self::to_text)
    /// writes (hexadecimal, 1 to 4 digits, no leading zero, not 0; lower case accepted).
    pub fn from_text(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 4 || text.starts_with('0') {
            return None;
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(text, 16).ok().and_then(Self::new)
    }
}

const fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0' + nibble
    } else {
        b'A' + nibble - 10
    }
}

/// The text of a [`SessionId`], held inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionIdText {
    bytes: [u8; 4],
    len: u8,
}

impl SessionIdText {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn every_session_id_round_trips_through_its_text() {
        for v in 1..=u16::MAX {
            let id = SessionId::new(v).unwrap();
            let text = id.to_text();
            assert_eq!(text.as_str(), std::format!("{v:X}"));
            assert_eq!(SessionId::from_text(text.as_str()), Some(id));
        }
    }

    #[test]
    fn from_text_refuses_what_to_text_never_writes() {
        for bad in ["", "0", "01", "12345", "G", "+1", " 1", "1 "] {
            assert_eq!(SessionId::from_text(bad), None, "{bad}");
        }
        assert_eq!(SessionId::from_text("ff").map(SessionId::get), Some(0xFF));
    }
}
