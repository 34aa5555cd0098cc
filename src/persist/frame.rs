//! Record framing: a minicbor body behind a version number, a length and a CRC.
//!
//! Every record the core persists (tree snapshot, journal, outbox, ...) is one frame:
//!
//! | Bytes | Field |
//! |---|---|
//! | 1 | magic `0xD5` |
//! | 1 | schema version of the body, chosen by the record's owner |
//! | 2 | body length `n`, little endian |
//! | `n` | the body: one CBOR item encoded by minicbor |
//! | 4 | CRC-32 of all the bytes before it, little endian |
//!
//! Decoding checks the magic, that the length field equals the frame's real length, the CRC,
//! the version, and that the CBOR item fills the body exactly, so every truncation and every
//! single-bit flip is rejected (CRC-32 catches all single-bit errors; a truncation always
//! disagrees with the length field). Decoding never panics.

use minicbor::encode::write::Cursor;
use minicbor::{Decode, Decoder, Encode, Encoder};

use super::crc::{Crc32, crc32};

/// The first byte of every frame.
const MAGIC: u8 = 0xD5;
/// Magic, version and length.
const HEADER: usize = 4;
/// The CRC.
const TRAILER: usize = 4;
/// Bytes a frame adds around its CBOR body.
pub const FRAME_OVERHEAD: usize = HEADER + TRAILER;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Encoding: the buffer is too small (or the body exceeds 65535 bytes).
    BufferTooSmall,
    /// Encoding: the value refused to encode itself.
    Encode,
    /// Decoding: shorter than a frame, or the length field disagrees with the frame's length.
    Length,
    /// Decoding: the first byte is not the frame magic.
    Magic,
    /// Decoding: the CRC does not match.
    Crc,
    /// Decoding: the frame is intact but carries another schema version.
    Version {
        /// The version found.
        found: u8,
    },
    /// Decoding: the body is not one well-formed value of the expected type.
    Body,
}

/// Encodes `value` with schema `version` into `buf`; returns the frame's length.
///
/// On error `buf` may hold partial output.
pub fn encode<T: Encode<()>>(version: u8, value: &T, buf: &mut [u8]) -> Result<usize, FrameError> {
    let body_room = buf
        .len()
        .checked_sub(FRAME_OVERHEAD)
        .ok_or(FrameError::BufferTooSmall)?;
    let body_len = {
        let body = buf
            .get_mut(HEADER..HEADER + body_room)
            .ok_or(FrameError::BufferTooSmall)?;
        let mut encoder = Encoder::new(Cursor::new(body));
        value.encode(&mut encoder, &mut ()).map_err(|e| {
            if e.is_write() {
                FrameError::BufferTooSmall
            } else {
                FrameError::Encode
            }
        })?;
        encoder.into_writer().position()
    };
    let len16 = u16::try_from(body_len).map_err(|_| FrameError::BufferTooSmall)?;
    let header = buf.get_mut(..HEADER).ok_or(FrameError::BufferTooSmall)?;
    let [l0, l1] = len16.to_le_bytes();
    header.copy_from_slice(&[MAGIC, version, l0, l1]);
    let end = HEADER + body_len;
    let crc = crc32(buf.get(..end).ok_or(FrameError::BufferTooSmall)?);
    buf.get_mut(end..end + TRAILER)
        .ok_or(FrameError::BufferTooSmall)?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(end + TRAILER)
}

/// Checks a frame's magic, length and CRC; returns its version and body.
fn open(frame: &[u8]) -> Result<(u8, &[u8]), FrameError> {
    let (&[magic, version, l0, l1], rest) = frame.split_first_chunk().ok_or(FrameError::Length)?;
    let body_len = usize::from(u16::from_le_bytes([l0, l1]));
    if rest.len() != body_len + TRAILER {
        return Err(FrameError::Length);
    }
    if magic != MAGIC {
        return Err(FrameError::Magic);
    }
    let (covered, crc) = frame
        .split_last_chunk::<TRAILER>()
        .ok_or(FrameError::Length)?;
    let mut sum = Crc32::new();
    sum.update(covered);
    if sum.finish() != u32::from_le_bytes(*crc) {
        return Err(FrameError::Crc);
    }
    let body = rest.get(..body_len).ok_or(FrameError::Length)?;
    Ok((version, body))
}

/// The schema version of an intact frame (to pick a decoder for an older record).
pub fn version(frame: &[u8]) -> Result<u8, FrameError> {
    open(frame).map(|(version, _)| version)
}

/// The CBOR body of an intact frame that must carry schema `version`, for a caller that
/// decodes it in place (into memory it already holds) rather than into a new value.
pub fn body(version: u8, frame: &[u8]) -> Result<&[u8], FrameError> {
    let (found, body) = open(frame)?;
    if found != version {
        return Err(FrameError::Version { found });
    }
    Ok(body)
}

/// Decodes a frame that must carry schema `version`.
pub fn decode<'b, T: Decode<'b, ()>>(version: u8, frame: &'b [u8]) -> Result<T, FrameError> {
    let body = body(version, frame)?;
    let mut decoder = Decoder::new(body);
    let value = T::decode(&mut decoder, &mut ()).map_err(|_| FrameError::Body)?;
    if decoder.position() != body.len() {
        return Err(FrameError::Body);
    }
    Ok(value)
}
