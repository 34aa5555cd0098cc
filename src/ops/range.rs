//! Resuming an interrupted HTTP download (digest 9.4): the `Range` header asking for the
//! rest of an object, and the server's `Content-Range` answer.
//!
//! The device keeps the bytes already received, asks for `Range: bytes=<received>-`, and
//! goes on only when the server answers 206 with a range that starts exactly there; a 200
//! means the server sends the whole object again, so the download restarts from zero.

/// Why a range answer cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RangeError {
    /// The `Content-Range` value is not `bytes a-b/n`, `bytes a-b/*` or `bytes */n` with
    /// `a <= b < n` and numbers that fit 64 bits.
    Malformed,
    /// A 206 without a `Content-Range`.
    Missing,
    /// The 206 range does not start where we asked (or is the unsatisfied form).
    Mismatch,
    /// A status that answers neither way (the caller maps HTTP errors to results).
    UnexpectedStatus(u16),
    /// The caller's output buffer is too small.
    BufferTooSmall,
}

impl core::fmt::Display for RangeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            RangeError::Malformed => "malformed Content-Range",
            RangeError::Missing => "206 without Content-Range",
            RangeError::Mismatch => "Content-Range does not start at the requested offset",
            RangeError::UnexpectedStatus(_) => "unexpected HTTP status for a range request",
            RangeError::BufferTooSmall => "output buffer too small",
        };
        f.write_str(text)
    }
}

impl core::error::Error for RangeError {}

/// The longest `Range` value [`write_range`] writes: `bytes=` and 20 digits and `-`.
pub const MAX_RANGE_LEN: usize = 27;

/// Writes the value of the `Range` header asking for everything from byte `offset` on,
/// `bytes=<offset>-`, into `out`.
///
/// # Errors
/// [`RangeError::BufferTooSmall`] when `out` is too short ([`MAX_RANGE_LEN`] always
/// suffices).
pub fn write_range(offset: u64, out: &mut [u8]) -> Result<&str, RangeError> {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = offset;
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut len = 0;
    for part in [&b"bytes="[..], digits.get(at..).unwrap_or_default(), b"-"] {
        let end = len + part.len();
        out.get_mut(len..end)
            .ok_or(RangeError::BufferTooSmall)?
            .copy_from_slice(part);
        len = end;
    }
    out.get(..len)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(RangeError::BufferTooSmall)
}

/// A parsed `Content-Range` value (byte ranges only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ContentRange {
    /// `bytes first-last/complete_length`: the body holds bytes `first..=last`.
    Bytes {
        /// First byte's offset.
        first: u64,
        /// Last byte's offset (inclusive).
        last: u64,
        /// The whole object's length; `None` for `*` (unknown).
        complete_length: Option<u64>,
    },
    /// `bytes */complete_length`: the range asked for lies outside the object (with 416).
    Unsatisfied {
        /// The whole object's length.
        complete_length: u64,
    },
}

impl ContentRange {
    /// Parses a `Content-Range` value. The unit is `bytes` in any case; anything else,
    /// a reversed range, a range past the complete length, or a number that does not fit
    /// 64 bits is [`RangeError::Malformed`].
    pub fn parse(value: &str) -> Result<Self, RangeError> {
        let value = value.trim();
        let (unit, spec) = value.split_once([' ', '\t']).ok_or(RangeError::Malformed)?;
        if !unit.eq_ignore_ascii_case("bytes") {
            return Err(RangeError::Malformed);
        }
        let (range, length) = spec
            .trim_start()
            .split_once('/')
            .ok_or(RangeError::Malformed)?;
        if range == "*" {
            return Ok(ContentRange::Unsatisfied {
                complete_length: number(length)?,
            });
        }
        let (first, last) = range.split_once('-').ok_or(RangeError::Malformed)?;
        let (first, last) = (number(first)?, number(last)?);
        let complete_length = match length {
            "*" => None,
            n => Some(number(n)?),
        };
        if first > last || complete_length.is_some_and(|n| last >= n) {
            return Err(RangeError::Malformed);
        }
        Ok(ContentRange::Bytes {
            first,
            last,
            complete_length,
        })
    }
}

/// A decimal number: digits only, fits 64 bits.
fn number(text: &str) -> Result<u64, RangeError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Malformed);
    }
    text.parse().map_err(|_| RangeError::Malformed)
}

/// What to do with the answer to a request for the rest of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resume {
    /// 206 from the offset asked for: append the body to what is kept.
    Continue {
        /// The whole object's length, when the server said it.
        complete_length: Option<u64>,
    },
    /// The server sends the whole object (200), or the kept bytes no longer match the
    /// object (416 with another length): drop what is kept and store from zero.
    Restart,
    /// 416 and the object is exactly as long as what is kept: nothing is missing.
    Complete,
}

/// Decides how to go on after asking for the object from byte `requested_from` on, given
/// the response's HTTP `status` and its `Content-Range` header value, if any.
///
/// # Errors
/// [`RangeError::Missing`], [`RangeError::Malformed`] or [`RangeError::Mismatch`] for a
/// 206 that cannot be appended (restart or fail the download);
/// [`RangeError::UnexpectedStatus`] for any status but 200, 206 and 416.
pub fn resume(
    requested_from: u64,
    status: u16,
    content_range: Option<&str>,
) -> Result<Resume, RangeError> {
    match status {
        200 => Ok(Resume::Restart),
        206 => match ContentRange::parse(content_range.ok_or(RangeError::Missing)?)? {
            ContentRange::Bytes {
                first,
                complete_length,
                ..
            } if first == requested_from => Ok(Resume::Continue { complete_length }),
            _ => Err(RangeError::Mismatch),
        },
        416 => match content_range.map(ContentRange::parse) {
            Some(Ok(ContentRange::Unsatisfied { complete_length }))
                if complete_length == requested_from =>
            {
                Ok(Resume::Complete)
            }
            _ => Ok(Resume::Restart),
        },
        other => Err(RangeError::UnexpectedStatus(other)),
    }
}
