//! Large Object receive (digest 7.7): the state of a `Data` value arriving in chunks, and
//! the streaming base64 decoder that carries partial quanta from one chunk to the next.
//!
//! Only `Inventory/Delivered/<X>/Data` is received as a Large Object: its bytes go
//! straight to the [`SessionHandler`](crate::dm::alert::SessionHandler) (and from there to
//! the component store) as each chunk arrives; nothing is held whole in RAM. Every other
//! node's value fits a message, and a chunked value for one is refused (406).

use base64::Engine as _;

use crate::codes::StatusCode;
use crate::dm::codec::Value;
use crate::mo::NodeName;

/// The engine's state while a Large Object is arriving.
#[derive(Debug, Clone)]
pub(super) struct Incoming {
    /// The `<X>` of `Inventory/Delivered/<X>/Data`.
    pub package: NodeName,
    /// Whether the command that began it was an Add (else a Replace).
    pub add: bool,
    /// Whether the package entry was created by this object's first chunk (and is removed
    /// again if the object fails).
    pub created: bool,
    /// The `Meta/Size` of the first chunk: the length of the data as transmitted (over
    /// XML with format `b64`, of the encoded text).
    pub size: Option<u64>,
    /// Bytes of `Data` received so far, as transmitted.
    pub received: u64,
    /// The base64 decoder, when the data is `b64`.
    pub b64: Option<B64Stream>,
}

/// What became of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// More chunks follow (213).
    More,
    /// The object is complete and committed with this many decoded bytes.
    Done(u64),
}

impl Incoming {
    /// Feeds one chunk's `Data` to `write`; with `last`, checks the size and closes the
    /// base64 stream. Errors: 400 for bad base64, 424 when the size does not match, 413
    /// when more arrives than was announced, or what `write` says.
    pub fn feed(
        &mut self,
        data: Option<&Value<'_>>,
        last: bool,
        write: &mut dyn FnMut(&[u8]) -> Result<(), StatusCode>,
    ) -> Result<(), StatusCode> {
        if let Some(data) = data {
            let mut scratch = [0u8; 4];
            for piece in data.pieces() {
                let bytes = piece.bytes(&mut scratch);
                self.received = self.received.saturating_add(bytes.len() as u64);
                match &mut self.b64 {
                    Some(stream) => stream.feed(bytes, write)?,
                    None => write(bytes)?,
                }
            }
        }
        if self.size.is_some_and(|size| self.received > size) {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        if last {
            if let Some(stream) = &mut self.b64 {
                stream.finish()?;
            }
            if self.size.is_some_and(|size| self.received != size) {
                return Err(StatusCode::SizeMismatch);
            }
        }
        Ok(())
    }
}

/// Characters of base64 text decoded per batch (a multiple of 4), on the stack.
const BATCH: usize = 64;

/// A base64 decoder fed text in arbitrary pieces: it keeps the characters of an
/// incomplete quantum between calls (at most 3), skips whitespace (servers wrap base64
/// lines), and accepts padding at the end of any chunk (some servers encode each chunk on
/// its own). Complete quanta are decoded in batches from a stack buffer.
#[derive(Debug, Clone)]
pub(super) struct B64Stream {
    carry: [u8; 3],
    len: u8,
}

impl B64Stream {
    /// An empty stream.
    pub const fn new() -> Self {
        Self {
            carry: [0; 3],
            len: 0,
        }
    }

    /// Takes in more text, passing decoded bytes to `write`.
    pub fn feed(
        &mut self,
        text: &[u8],
        write: &mut dyn FnMut(&[u8]) -> Result<(), StatusCode>,
    ) -> Result<(), StatusCode> {
        let mut batch = [0u8; BATCH];
        let carried = usize::from(self.len);
        batch
            .get_mut(..carried)
            .ok_or(StatusCode::BadRequest)?
            .copy_from_slice(self.carry.get(..carried).unwrap_or_default());
        let mut len = carried;
        for &c in text {
            if c.is_ascii_whitespace() {
                continue;
            }
            let slot = batch.get_mut(len).ok_or(StatusCode::BadRequest)?;
            *slot = c;
            len += 1;
            // A padded quantum ends a base64 run: decode what is held.
            let padded = len.is_multiple_of(4) && c == b'=';
            if len == BATCH || padded {
                decode(batch.get(..len).unwrap_or_default(), write)?;
                len = 0;
            }
        }
        let whole = len - len % 4;
        decode(batch.get(..whole).unwrap_or_default(), write)?;
        let rest = batch.get(whole..len).unwrap_or_default();
        self.carry
            .get_mut(..rest.len())
            .ok_or(StatusCode::BadRequest)?
            .copy_from_slice(rest);
        self.len = rest.len() as u8;
        Ok(())
    }

    /// The text is complete: an incomplete quantum left over is an error (400).
    pub fn finish(&mut self) -> Result<(), StatusCode> {
        if self.len != 0 {
            return Err(StatusCode::BadRequest);
        }
        Ok(())
    }
}

/// Decodes complete quanta.
fn decode(
    text: &[u8],
    write: &mut dyn FnMut(&[u8]) -> Result<(), StatusCode>,
) -> Result<(), StatusCode> {
    if text.is_empty() {
        return Ok(());
    }
    let mut bytes = [0u8; BATCH / 4 * 3];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, &mut bytes)
        .map_err(|_| StatusCode::BadRequest)?;
    write(bytes.get(..n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn decode_in_pieces(text: &[u8], cuts: &[usize]) -> Result<Vec<u8>, StatusCode> {
        let mut out = Vec::new();
        let mut stream = B64Stream::new();
        let mut write = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        let mut at = 0;
        for &cut in cuts.iter().chain([text.len()].iter()) {
            stream.feed(&text[at..cut], &mut write)?;
            at = cut;
        }
        stream.finish()?;
        Ok(out)
    }

    #[test]
    fn quanta_split_anywhere_decode_to_the_same_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut text = std::vec![0u8; 1400];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(&data, &mut text)
            .unwrap();
        let text = std::string::String::from_utf8(text[..n].to_vec()).unwrap();
        for cuts in [
            &[1usize, 2, 3][..],
            &[5, 70, 71, 999],
            &[],
            &[63, 64, 65, 129],
        ] {
            assert_eq!(decode_in_pieces(text.as_bytes(), cuts).unwrap(), data);
        }
    }

    #[test]
    fn wrapped_lines_and_padded_chunks_are_accepted() {
        assert_eq!(
            decode_in_pieces(b"QUJD\r\nREVG\nRw==SElK", &[7]).unwrap(),
            b"ABCDEFGHIJ"
        );
    }

    #[test]
    fn a_dangling_quantum_is_400() {
        assert_eq!(
            decode_in_pieces(b"QUJDRA", &[3]),
            Err(StatusCode::BadRequest)
        );
        assert_eq!(decode_in_pieces(b"QU*D", &[]), Err(StatusCode::BadRequest));
    }
}
