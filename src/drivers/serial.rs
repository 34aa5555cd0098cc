//! Serial framing: how a device whose only link is a byte stream (a UART) asks a host
//! bridge to do its HTTP for it — "POST this DM message", "GET this byte range of a URL",
//! "POST this install notification" — and receives the answers.
//!
//! Everything here works over any [`embedded_io::Read`] + [`embedded_io::Write`], with no
//! heap: heads are decoded in place from a buffer the caller lends, and bodies stream through
//! a scratch buffer in chunks, so a 64 KiB download passes through a few hundred bytes of RAM.
//! Nothing panics on any input; every malformed or hostile byte sequence is an [`Error`].
//!
//! # Wire format
//!
//! Every frame is
//!
//! | bytes | field |
//! |---|---|
//! | 1 | [`SYNC`] (`0xA5`) |
//! | 1 | kind ([`Kind`]) |
//! | 2 | payload length *n*, big-endian, at most [`MAX_PAYLOAD`] |
//! | *n* | payload |
//! | 2 | CRC-16/IBM-3740 (CCITT-FALSE) over kind, length and payload, big-endian |
//!
//! A receiver looks for `SYNC` first, skipping at most [`MAX_FRAME`] other bytes, so after
//! garbage or a lost byte the next good frame is found again; the CRC rejects false starts.
//!
//! A **message** is a head frame followed, for requests and responses, by its body: zero or
//! more [`Kind::Data`] frames and one [`Kind::End`] frame whose payload is the body's total
//! length (`u32`, big-endian), checked by the receiver.
//!
//! | head frame | sent by | fields (payload) | body |
//! |---|---|---|---|
//! | [`Kind::PostDm`] | device | URL, content type, `x-syncml-hmac` value (optional), max chunk | the DM message |
//! | [`Kind::GetRange`] | device | URL, offset, length (optional: to the end), `If-Range` validator (optional), max chunk | empty |
//! | [`Kind::PostNotify`] | device | URL, content type, max chunk | the install-notify report |
//! | [`Kind::Response`] | bridge | HTTP status; `Content-Type`, `x-syncml-hmac`, `ETag`, `Content-Range`, `Content-Length` (each optional) | the HTTP response body |
//! | [`Kind::Fault`] | bridge | one [`Fault`] byte: no HTTP answer exists | none |
//!
//! A head's payload is a list of fields, each `tag (u8) · length (u16 BE) · value`, tags from
//! [`Tag`]; texts are UTF-8, numbers big-endian `u16`/`u32`. Unknown tags are skipped, so a
//! newer peer can add fields. Header values travel as the server sent them: a
//! `Content-Range` is interpreted by [`crate::ops::range`], not here. *Max chunk* is the largest `Data` payload the device can take
//! (its scratch buffer); the bridge never sends bigger ones.
//!
//! One exchange is in flight at a time: the device sends a request message, the bridge
//! answers with a response message or a fault. Lengths and offsets are `u32`: a serial-line
//! device does not move 4 GiB.
//!
//! # Use
//!
//! On the device, [`SerialTransport`] is the [`Transport`](crate::drivers::Transport) that
//! runs a [`Client`](crate::client::Client) over the line; [`exchange`] does one whole round
//! trip of the caller's own; the pieces are [`send_request`], [`recv_answer`] and
//! [`recv_body`]. On the bridge, [`recv_request`] and [`recv_body`] read a
//! request, and [`send_response`] or [`send_fault`] answer it.

use crc::{CRC_16_IBM_3740, Crc, Digest, NoTable};
use embedded_io::{ErrorKind as IoErrorKind, Read, ReadExactError, Write};

mod transport;

pub use transport::{SerialError, SerialTransport};

/// The first byte of every frame.
pub const SYNC: u8 = 0xA5;

/// The largest payload of one frame, in bytes (heads and body chunks alike).
pub const MAX_PAYLOAD: usize = 1024;

/// Bytes a frame adds around its payload: sync, kind, length (2), CRC (2).
pub const FRAME_OVERHEAD: usize = 6;

/// The largest frame on the wire.
pub const MAX_FRAME: usize = MAX_PAYLOAD + FRAME_OVERHEAD;

/// The CRC of every frame: CRC-16/IBM-3740, bit by bit (no table: 512 bytes of flash saved).
static CRC: Crc<u16, NoTable> = Crc::<u16, NoTable>::new(&CRC_16_IBM_3740);

use crate::codes::number_table;

number_table! {
    u8, code, from_code, "The byte carried on the wire.";
    /// What a frame is.
    pub enum Kind {
        /// Request head: POST a DM message (its body follows).
        PostDm = 0x01,
        /// Request head: GET a byte range of a URL (an empty body follows).
        GetRange = 0x02,
        /// Request head: POST an install-notify report (its body follows).
        PostNotify = 0x03,
        /// A chunk of the current message's body.
        Data = 0x10,
        /// The end of the current message's body; payload: its total length (`u32`).
        End = 0x11,
        /// Answer head: the HTTP response (its body follows).
        Response = 0x81,
        /// Answer: there is no HTTP response; payload: one [`Fault`] byte.
        Fault = 0x82,
    }
}

number_table! {
    u8, code, from_code, "The byte carried on the wire.";
    /// The field tags of a head's payload.
    pub enum Tag {
        /// The URL (text).
        Url = 1,
        /// The `Content-Type` (text).
        ContentType = 2,
        /// The `x-syncml-hmac` header value (text).
        Hmac = 3,
        /// The first byte wanted (`u32`).
        Offset = 4,
        /// How many bytes are wanted at most (`u32`); absent: up to the end.
        Length = 5,
        /// The validator (ETag) of the bytes the device already holds, sent as `If-Range`
        /// (text).
        IfRange = 6,
        /// The largest `Data` payload the device accepts (`u16`).
        MaxChunk = 7,
        /// The HTTP status (`u16`).
        Status = 8,
        /// The `ETag` (text).
        Etag = 9,
        /// The `Content-Range` header value (text, e.g. `bytes 0-1023/65536`).
        ContentRange = 10,
        /// The `Content-Length`: the length of this response's body (`u32`).
        ContentLength = 11,
    }
}

number_table! {
    u8, code, from_code, "The byte carried on the wire.";
    /// Why the bridge has no HTTP response to give.
    pub enum Fault {
        /// The bridge could not read the request (a corrupt frame or a malformed head); the
        /// device may send it again.
        BadRequest = 1,
        /// The bridge does not know the request kind.
        Unsupported = 2,
        /// The server could not be reached (connection refused, no route, name unknown).
        Unreachable = 3,
        /// The server did not answer in time.
        Timeout = 4,
        /// Any other failure of the bridge.
        Internal = 5,
    }
}

/// A framing failure. After [`Error::TooLong`], [`Error::UnknownKind`] and a body whose sink
/// failed the stream is still in step (the frame or body was consumed); after the others the
/// next [`read_frame`] looks for the next [`SYNC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The stream failed.
    Io(IoErrorKind),
    /// The stream ended between frames (the peer closed it).
    Eof,
    /// The stream ended inside a frame.
    Truncated,
    /// [`MAX_FRAME`] bytes passed without a [`SYNC`] byte.
    NoSync,
    /// A frame announced a payload longer than [`MAX_PAYLOAD`]: not a frame.
    BadLength(u16),
    /// A frame's CRC did not match.
    BadCrc,
    /// A well-formed frame longer than the buffer it was to be read into; it was skipped.
    TooLong(u16),
    /// A well-formed frame of a kind this side does not know; it was skipped.
    UnknownKind(u8),
    /// A frame of a kind that does not belong here (e.g. `Data` where a head was due).
    Unexpected(Kind),
    /// A head whose fields do not decode: truncated field, wrong size of a number, text that
    /// is not UTF-8, a required field missing, or a zero max chunk.
    Malformed,
    /// A body's `End` announced another length than the `Data` frames carried.
    LengthMismatch,
    /// A body longer than `u32::MAX` bytes.
    BodyTooLong,
    /// A head to send does not fit in [`MAX_PAYLOAD`] bytes (e.g. a very long URL).
    HeadTooLarge,
    /// The sink of a body refused bytes (e.g. it is full); the rest of the body was read and
    /// dropped.
    Sink(IoErrorKind),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Io(kind) => write!(f, "serial stream failed: {kind:?}"),
            Error::Eof => f.write_str("serial stream closed"),
            Error::Truncated => f.write_str("serial stream closed inside a frame"),
            Error::NoSync => f.write_str("no frame start in the serial stream"),
            Error::BadLength(n) => write!(f, "frame length {n} exceeds the maximum"),
            Error::BadCrc => f.write_str("frame CRC mismatch"),
            Error::TooLong(n) => write!(f, "frame of {n} bytes exceeds the buffer"),
            Error::UnknownKind(k) => write!(f, "unknown frame kind {k:#04x}"),
            Error::Unexpected(k) => write!(f, "unexpected frame {k:?}"),
            Error::Malformed => f.write_str("malformed frame head"),
            Error::LengthMismatch => f.write_str("body length differs from its announced length"),
            Error::BodyTooLong => f.write_str("body longer than 4 GiB"),
            Error::HeadTooLarge => f.write_str("head does not fit in one frame"),
            Error::Sink(kind) => write!(f, "body sink failed: {kind:?}"),
        }
    }
}

impl core::error::Error for Error {}

fn io<E: embedded_io::Error>(e: E) -> Error {
    Error::Io(e.kind())
}

/// What the device asks the bridge to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request<'a> {
    /// POST a DM message to the DM server; the message is the request body.
    PostDm {
        /// The server URL (the account's address, or the last RespURI).
        url: &'a str,
        /// `application/vnd.syncml.dm+xml` or `application/vnd.syncml.dm+wbxml`.
        content_type: &'a str,
        /// The `x-syncml-hmac` header value, when the message is signed that way.
        hmac: Option<&'a str>,
    },
    /// GET bytes of a URL (an alternate download, or a download descriptor).
    GetRange {
        /// The URL.
        url: &'a str,
        /// The first byte wanted (0: from the start).
        offset: u32,
        /// How many bytes at most; `None`: up to the end.
        length: Option<u32>,
        /// The validator (ETag) of the bytes already held, sent as `If-Range`: a server
        /// whose resource changed answers 200 with the whole resource instead of 206.
        if_range: Option<&'a str>,
    },
    /// POST an install-notify report (OMA download status, e.g. `900 Success`).
    PostNotify {
        /// The `installNotifyURI`.
        url: &'a str,
        /// The report's content type.
        content_type: &'a str,
    },
}

impl<'a> Request<'a> {
    /// The head frame's kind.
    pub const fn kind(&self) -> Kind {
        match self {
            Request::PostDm { .. } => Kind::PostDm,
            Request::GetRange { .. } => Kind::GetRange,
            Request::PostNotify { .. } => Kind::PostNotify,
        }
    }

    /// The URL the request is for.
    pub const fn url(&self) -> &'a str {
        match self {
            Request::PostDm { url, .. }
            | Request::GetRange { url, .. }
            | Request::PostNotify { url, .. } => url,
        }
    }
}

/// A request as the bridge reads it: the request and the largest body chunk the device takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestHead<'a> {
    /// The request.
    pub request: Request<'a>,
    /// The largest `Data` payload the device accepts: 1 to [`MAX_PAYLOAD`].
    pub max_chunk: usize,
}

/// The head of the HTTP response the bridge got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response<'a> {
    /// The HTTP status (200, 206, 404, 416, ...).
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Option<&'a str>,
    /// The `x-syncml-hmac` header value.
    pub hmac: Option<&'a str>,
    /// The `ETag`.
    pub etag: Option<&'a str>,
    /// The `Content-Range` header value (of a 206 or 416 answer), as the server sent it;
    /// [`crate::ops::range::ContentRange::parse`] reads it.
    pub content_range: Option<&'a str>,
    /// The `Content-Length`: how long this answer's body is, when the server said so
    /// beforehand (the `End` frame carries the length actually sent).
    pub content_length: Option<u32>,
}

/// What the bridge answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Answer<'a> {
    /// The HTTP response's head; its body follows on the stream (read it with [`recv_body`]).
    Response(Response<'a>),
    /// There is no HTTP response; nothing follows.
    Fault(Fault),
}

/// A field value as carried in a head.
#[derive(Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    U16(u16),
    U32(u32),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Text(s) => s.len(),
            Value::U16(_) => 2,
            Value::U32(_) => 4,
        }
    }
}

/// The fields of a head, in wire order; `None` entries are absent fields.
type Fields<'a> = [Option<(Tag, Value<'a>)>; 6];

fn text(tag: Tag, value: Option<&str>) -> Option<(Tag, Value<'_>)> {
    value.map(|v| (tag, Value::Text(v)))
}

fn request_fields<'a>(request: &Request<'a>, max_chunk: u16) -> Fields<'a> {
    let chunk = Some((Tag::MaxChunk, Value::U16(max_chunk)));
    match *request {
        Request::PostDm {
            url,
            content_type,
            hmac,
        } => [
            text(Tag::Url, Some(url)),
            text(Tag::ContentType, Some(content_type)),
            text(Tag::Hmac, hmac),
            chunk,
            None,
            None,
        ],
        Request::GetRange {
            url,
            offset,
            length,
            if_range,
        } => [
            text(Tag::Url, Some(url)),
            Some((Tag::Offset, Value::U32(offset))),
            length.map(|n| (Tag::Length, Value::U32(n))),
            text(Tag::IfRange, if_range),
            chunk,
            None,
        ],
        Request::PostNotify { url, content_type } => [
            text(Tag::Url, Some(url)),
            text(Tag::ContentType, Some(content_type)),
            chunk,
            None,
            None,
            None,
        ],
    }
}

fn response_fields<'a>(response: &Response<'a>) -> Fields<'a> {
    [
        Some((Tag::Status, Value::U16(response.status))),
        text(Tag::ContentType, response.content_type),
        text(Tag::Hmac, response.hmac),
        text(Tag::Etag, response.etag),
        text(Tag::ContentRange, response.content_range),
        response
            .content_length
            .map(|n| (Tag::ContentLength, Value::U32(n))),
    ]
}

/// A frame being written: the header is out, the CRC runs over what follows.
struct FrameOut<'w, W: Write> {
    w: &'w mut W,
    crc: Digest<'static, u16, NoTable>,
}

impl<'w, W: Write> FrameOut<'w, W> {
    fn begin(w: &'w mut W, kind: Kind, len: usize) -> Result<Self, Error> {
        let len = u16::try_from(len)
            .ok()
            .filter(|n| usize::from(*n) <= MAX_PAYLOAD)
            .ok_or(Error::HeadTooLarge)?;
        let [hi, lo] = len.to_be_bytes();
        let header = [kind.code(), hi, lo];
        w.write_all(&[SYNC]).map_err(io)?;
        w.write_all(&header).map_err(io)?;
        let mut crc = CRC.digest();
        crc.update(&header);
        Ok(Self { w, crc })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.crc.update(bytes);
        self.w.write_all(bytes).map_err(io)
    }

    fn put_value(&mut self, value: &Value<'_>) -> Result<(), Error> {
        match value {
            Value::Text(s) => self.put(s.as_bytes()),
            Value::U16(n) => self.put(&n.to_be_bytes()),
            Value::U32(n) => self.put(&n.to_be_bytes()),
        }
    }

    fn finish(self) -> Result<(), Error> {
        self.w
            .write_all(&self.crc.finalize().to_be_bytes())
            .map_err(io)
    }
}

/// Writes one frame. Does not flush.
///
/// # Errors
/// [`Error::HeadTooLarge`] when `payload` exceeds [`MAX_PAYLOAD`] (nothing is written);
/// [`Error::Io`] when the stream fails.
pub fn write_frame<W: Write>(w: &mut W, kind: Kind, payload: &[u8]) -> Result<(), Error> {
    let mut out = FrameOut::begin(w, kind, payload.len())?;
    out.put(payload)?;
    out.finish()
}

fn write_head<W: Write>(w: &mut W, kind: Kind, fields: &Fields<'_>) -> Result<(), Error> {
    let mut len = 0usize;
    for (_, value) in fields.iter().flatten() {
        if value.len() > MAX_PAYLOAD {
            return Err(Error::HeadTooLarge);
        }
        len += 3 + value.len();
    }
    let mut out = FrameOut::begin(w, kind, len)?;
    for (tag, value) in fields.iter().flatten() {
        let [hi, lo] = (value.len() as u16).to_be_bytes();
        out.put(&[tag.code(), hi, lo])?;
        out.put_value(value)?;
    }
    out.finish()
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| match e {
        ReadExactError::UnexpectedEof => Error::Truncated,
        ReadExactError::Other(e) => io(e),
    })
}

/// Reads and drops `n` bytes.
fn skip<R: Read>(r: &mut R, mut n: usize) -> Result<(), Error> {
    let mut sink = [0u8; 32];
    while n > 0 {
        let step = n.min(sink.len());
        let part = sink.get_mut(..step).ok_or(Error::Truncated)?;
        read_exact(r, part)?;
        n -= step;
    }
    Ok(())
}

/// Reads one frame into `buf` and returns its kind and payload.
///
/// Bytes before the next [`SYNC`] are skipped (at most [`MAX_FRAME`] of them). A frame longer
/// than `buf` is read and dropped ([`Error::TooLong`]), so the stream stays in step.
///
/// # Errors
/// Every [`Error`] of the reading side; [`Error::Eof`] when the stream ends before a frame
/// starts.
pub fn read_frame<'b, R: Read>(r: &mut R, buf: &'b mut [u8]) -> Result<(Kind, &'b [u8]), Error> {
    let mut byte = [0u8; 1];
    let mut skipped = 0usize;
    loop {
        match r.read(&mut byte) {
            Ok(0) => return Err(Error::Eof),
            Ok(_) if byte == [SYNC] => break,
            Ok(_) => {
                skipped += 1;
                if skipped >= MAX_FRAME {
                    return Err(Error::NoSync);
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    let mut header = [0u8; 3];
    read_exact(r, &mut header)?;
    let [kind, hi, lo] = header;
    let len = u16::from_be_bytes([hi, lo]);
    if usize::from(len) > MAX_PAYLOAD {
        return Err(Error::BadLength(len));
    }
    let Some(payload) = buf.get_mut(..usize::from(len)) else {
        skip(r, usize::from(len) + 2)?;
        return Err(Error::TooLong(len));
    };
    read_exact(r, payload)?;
    let mut crc = [0u8; 2];
    read_exact(r, &mut crc)?;
    let mut digest = CRC.digest();
    digest.update(&header);
    digest.update(payload);
    if digest.finalize() != u16::from_be_bytes(crc) {
        return Err(Error::BadCrc);
    }
    let kind = Kind::from_code(kind).ok_or(Error::UnknownKind(kind))?;
    Ok((kind, payload))
}

/// The `(tag, value)` fields of a head's payload.
struct FieldIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = Result<(u8, &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&[tag, hi, lo], rest) = self.rest.split_first_chunk::<3>()?;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some((value, rest)) = rest.split_at_checked(len) else {
            self.rest = &[];
            return Some(Err(Error::Malformed));
        };
        self.rest = rest;
        Some(Ok((tag, value)))
    }
}

fn fields(payload: &[u8]) -> Result<FieldIter<'_>, Error> {
    // A payload that ends inside a field header is malformed too.
    let mut rest = payload;
    while !rest.is_empty() {
        let Some((&[_, hi, lo], after)) = rest.split_first_chunk::<3>() else {
            return Err(Error::Malformed);
        };
        rest = after
            .get(usize::from(u16::from_be_bytes([hi, lo]))..)
            .ok_or(Error::Malformed)?;
    }
    Ok(FieldIter { rest: payload })
}

fn as_text(value: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(value).map_err(|_| Error::Malformed)
}

fn as_u16(value: &[u8]) -> Result<u16, Error> {
    <[u8; 2]>::try_from(value)
        .map(u16::from_be_bytes)
        .map_err(|_| Error::Malformed)
}

fn as_u32(value: &[u8]) -> Result<u32, Error> {
    <[u8; 4]>::try_from(value)
        .map(u32::from_be_bytes)
        .map_err(|_| Error::Malformed)
}

/// Decodes a request head frame's payload.
///
/// # Errors
/// [`Error::Malformed`] when a field does not decode or a required one (URL, content type
/// of the POSTs) is missing; [`Error::Unexpected`] when `kind` is not a request.
pub fn decode_request(kind: Kind, payload: &[u8]) -> Result<RequestHead<'_>, Error> {
    if !matches!(kind, Kind::PostDm | Kind::GetRange | Kind::PostNotify) {
        return Err(Error::Unexpected(kind));
    }
    let (mut url, mut content_type, mut hmac) = (None, None, None);
    let (mut offset, mut length, mut if_range) = (None, None, None);
    let mut max_chunk = MAX_PAYLOAD;
    for field in fields(payload)? {
        let (tag, value) = field?;
        match Tag::from_code(tag) {
            Some(Tag::Url) => url = Some(as_text(value)?),
            Some(Tag::ContentType) => content_type = Some(as_text(value)?),
            Some(Tag::Hmac) => hmac = Some(as_text(value)?),
            Some(Tag::Offset) => offset = Some(as_u32(value)?),
            Some(Tag::Length) => length = Some(as_u32(value)?),
            Some(Tag::IfRange) => if_range = Some(as_text(value)?),
            Some(Tag::MaxChunk) => match as_u16(value)? {
                0 => return Err(Error::Malformed),
                n => max_chunk = usize::from(n).min(MAX_PAYLOAD),
            },
            _ => {}
        }
    }
    let url = url.ok_or(Error::Malformed)?;
    let request = match kind {
        Kind::PostDm => Request::PostDm {
            url,
            content_type: content_type.ok_or(Error::Malformed)?,
            hmac,
        },
        Kind::GetRange => Request::GetRange {
            url,
            offset: offset.unwrap_or(0),
            length,
            if_range,
        },
        Kind::PostNotify => Request::PostNotify {
            url,
            content_type: content_type.ok_or(Error::Malformed)?,
        },
        other => return Err(Error::Unexpected(other)),
    };
    Ok(RequestHead { request, max_chunk })
}

/// Decodes a [`Kind::Response`] frame's payload.
///
/// # Errors
/// [`Error::Malformed`] when a field does not decode or the status is missing.
pub fn decode_response(payload: &[u8]) -> Result<Response<'_>, Error> {
    let mut status = None;
    let mut response = Response::default();
    for field in fields(payload)? {
        let (tag, value) = field?;
        match Tag::from_code(tag) {
            Some(Tag::Status) => status = Some(as_u16(value)?),
            Some(Tag::ContentType) => response.content_type = Some(as_text(value)?),
            Some(Tag::Hmac) => response.hmac = Some(as_text(value)?),
            Some(Tag::Etag) => response.etag = Some(as_text(value)?),
            Some(Tag::ContentRange) => response.content_range = Some(as_text(value)?),
            Some(Tag::ContentLength) => response.content_length = Some(as_u32(value)?),
            _ => {}
        }
    }
    response.status = status.ok_or(Error::Malformed)?;
    Ok(response)
}

/// `scratch`, or `small` when `scratch` cannot hold the 4-byte payload of `End`.
fn end_sized<'a>(scratch: &'a mut [u8], small: &'a mut [u8; 4]) -> &'a mut [u8] {
    if scratch.len() < small.len() {
        small
    } else {
        scratch
    }
}

/// Sends a body: `Data` frames of at most `chunk` bytes (clamped to 1..=[`MAX_PAYLOAD`]),
/// then `End`. Does not flush.
///
/// # Errors
/// [`Error::BodyTooLong`] for a body over `u32::MAX` bytes (nothing is sent);
/// [`Error::Io`] when the stream fails.
pub fn send_body<W: Write>(w: &mut W, body: &[u8], chunk: usize) -> Result<(), Error> {
    let total = u32::try_from(body.len()).map_err(|_| Error::BodyTooLong)?;
    for part in body.chunks(chunk.clamp(1, MAX_PAYLOAD)) {
        write_frame(w, Kind::Data, part)?;
    }
    write_frame(w, Kind::End, &total.to_be_bytes())
}

/// Reads a body's `Data` frames through `scratch` into `sink` until its `End`, and returns
/// its length. `scratch` must hold the largest chunk the peer sends (the max chunk the
/// device announced; [`MAX_PAYLOAD`] on the bridge).
///
/// When the sink refuses bytes, or a chunk is damaged or larger than `scratch`, the rest of
/// the body is still read (and dropped) up to its `End`, so the stream stays in step, and
/// then that first error is returned ([`Error::Sink`], [`Error::BadCrc`], [`Error::TooLong`],
/// ...). Blocking reads have no timeout: a peer that never sends `End` blocks this call.
///
/// # Errors
/// Every [`Error`] of [`read_frame`]; [`Error::Unexpected`] for a frame other than `Data` or
/// `End`; [`Error::Malformed`] for an `End` without a 4-byte length;
/// [`Error::LengthMismatch`] when `End` announces another length than was received.
pub fn recv_body<R: Read, W: Write>(
    r: &mut R,
    scratch: &mut [u8],
    sink: &mut W,
) -> Result<u32, Error> {
    let mut small = [0u8; 4];
    let scratch = end_sized(scratch, &mut small);
    let mut received: Option<u32> = Some(0);
    let mut first_error = None;
    loop {
        match read_frame(r, scratch) {
            Ok((Kind::Data, data)) => {
                received = received.and_then(|n| {
                    u32::try_from(data.len())
                        .ok()
                        .and_then(|d| n.checked_add(d))
                });
                if first_error.is_none()
                    && let Err(e) = sink.write_all(data)
                {
                    first_error = Some(Error::Sink(embedded_io::Error::kind(&e)));
                }
            }
            Ok((Kind::End, payload)) => {
                let announced = as_u32(payload)?;
                if let Some(e) = first_error {
                    return Err(e);
                }
                let received = received.ok_or(Error::BodyTooLong)?;
                if announced != received {
                    return Err(Error::LengthMismatch);
                }
                return Ok(received);
            }
            Ok((other, _)) => return Err(Error::Unexpected(other)),
            Err(e @ (Error::Io(_) | Error::Eof | Error::Truncated)) => return Err(e),
            // A damaged or oversized chunk: the body is lost, but read on to its end.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
}

/// Device side: sends `request` with its `body` and flushes. `max_chunk` (clamped to
/// 1..=[`MAX_PAYLOAD`]) is the largest answer chunk the device can take: the size of the
/// scratch buffer it will give [`recv_body`]. The body goes out in chunks of the same size.
///
/// # Errors
/// [`Error::HeadTooLarge`] when the head's texts do not fit one frame (nothing is sent);
/// [`Error::Io`] when the stream fails.
pub fn send_request<W: Write>(
    w: &mut W,
    request: &Request<'_>,
    body: &[u8],
    max_chunk: usize,
) -> Result<(), Error> {
    let chunk = max_chunk.clamp(1, MAX_PAYLOAD);
    let fields = request_fields(request, chunk as u16);
    write_head(w, request.kind(), &fields)?;
    send_body(w, body, chunk)?;
    w.flush().map_err(io)
}

/// Device side: reads the answer's head into `head` (the response's texts borrow from it).
/// After [`Answer::Response`], read the body with [`recv_body`].
///
/// # Errors
/// Every [`Error`] of [`read_frame`]; [`Error::Unexpected`] for a frame that is not an
/// answer; [`Error::Malformed`] for a head or fault that does not decode.
pub fn recv_answer<'b, R: Read>(r: &mut R, head: &'b mut [u8]) -> Result<Answer<'b>, Error> {
    match read_frame(r, head)? {
        (Kind::Response, payload) => decode_response(payload).map(Answer::Response),
        (Kind::Fault, &[code]) => Ok(Answer::Fault(
            Fault::from_code(code).ok_or(Error::Malformed)?,
        )),
        (Kind::Fault, _) => Err(Error::Malformed),
        (other, _) => Err(Error::Unexpected(other)),
    }
}

/// Reads and drops frames up to and including the next `End` (after an answer head that
/// could not be used), so the stream is in step for the next exchange.
///
/// # Errors
/// [`Error::Io`], [`Error::Eof`] or [`Error::Truncated`] when the stream fails or ends.
pub fn skip_body<R: Read>(r: &mut R, scratch: &mut [u8]) -> Result<(), Error> {
    let mut small = [0u8; 4];
    let scratch = end_sized(scratch, &mut small);
    loop {
        match read_frame(r, scratch) {
            Ok((Kind::End, _)) => return Ok(()),
            Ok(_) => {}
            Err(e @ (Error::Io(_) | Error::Eof | Error::Truncated)) => return Err(e),
            Err(_) => {}
        }
    }
}

/// Device side, one whole exchange: sends `request` and `body`, reads the answer's head into
/// `head`, and streams the answer's body into `sink` through `scratch` (whose length, up to
/// [`MAX_PAYLOAD`], is announced as the max chunk). Returns the response and its body's
/// length, or the bridge's [`Fault`].
///
/// # Errors
/// Every [`Error`] of the pieces. When the answer's head does not fit `head`
/// ([`Error::TooLong`]) or does not decode, its body is skipped first, so the next exchange
/// starts in step.
pub fn exchange<'h, S: Read + Write, W: Write>(
    io: &mut S,
    request: &Request<'_>,
    body: &[u8],
    head: &'h mut [u8],
    scratch: &mut [u8],
    sink: &mut W,
) -> Result<Result<(Response<'h>, u32), Fault>, Error> {
    send_request(io, request, body, scratch.len())?;
    match recv_answer(io, head) {
        Ok(Answer::Response(response)) => {
            let len = recv_body(io, scratch, sink)?;
            Ok(Ok((response, len)))
        }
        Ok(Answer::Fault(fault)) => Ok(Err(fault)),
        Err(e @ (Error::TooLong(_) | Error::Malformed)) => {
            skip_body(io, scratch)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Bridge side: reads a request's head into `head` (its texts borrow from it). Read its body
/// next with [`recv_body`].
///
/// # Errors
/// Every [`Error`] of [`read_frame`] and [`decode_request`]; [`Error::Eof`] when the device
/// closed the stream between exchanges.
pub fn recv_request<'b, R: Read>(r: &mut R, head: &'b mut [u8]) -> Result<RequestHead<'b>, Error> {
    let (kind, payload) = read_frame(r, head)?;
    decode_request(kind, payload)
}

/// Bridge side: sends a response head and its body in chunks of at most `chunk` bytes (the
/// device's max chunk), and flushes.
///
/// # Errors
/// [`Error::HeadTooLarge`] when the head's texts do not fit one frame (nothing is sent);
/// [`Error::BodyTooLong`]; [`Error::Io`] when the stream fails.
pub fn send_response<W: Write>(
    w: &mut W,
    response: &Response<'_>,
    body: &[u8],
    chunk: usize,
) -> Result<(), Error> {
    u32::try_from(body.len()).map_err(|_| Error::BodyTooLong)?;
    write_head(w, Kind::Response, &response_fields(response))?;
    send_body(w, body, chunk)?;
    w.flush().map_err(io)
}

/// Bridge side: answers with a fault (no HTTP response exists) and flushes.
///
/// # Errors
/// [`Error::Io`] when the stream fails.
pub fn send_fault<W: Write>(w: &mut W, fault: Fault) -> Result<(), Error> {
    write_frame(w, Kind::Fault, &[fault.code()])?;
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests;
