//! [`SerialTransport`]: the [`Transport`] of a device whose only link is the serial bridge.

use core::convert::Infallible;

use embedded_io::{ErrorType, Read, Write};

use super::{Answer, Error, Fault, Request, Response};
use crate::dm::session::Outgoing;
use crate::drivers::{DmAnswer, FetchSink, Transport};
use crate::ops::{FetchFailure, FetchHead, Flow};

/// The content type of an install-notify report.
const NOTIFY_CONTENT_TYPE: &str = "text/plain";

/// Why a DM exchange or a notify post over the serial bridge failed. Small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SerialError {
    /// The framing failed: the line broke, or a frame could not be read or sent.
    Link(Error),
    /// The bridge had no HTTP answer (the server is unreachable or silent).
    Fault(Fault),
    /// The server answered a DM message with this HTTP status instead of 200.
    Status(u16),
    /// The server's DM message is longer than the receive buffer (`MaxMsgSize`).
    TooLarge,
    /// A header of the answer (content type, `x-syncml-hmac`) is longer than
    /// [`DmAnswer`] keeps.
    HeaderTooLong,
}

impl core::fmt::Display for SerialError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SerialError::Link(e) => write!(f, "serial bridge: {e}"),
            SerialError::Fault(fault) => write!(f, "serial bridge has no answer: {fault:?}"),
            SerialError::Status(s) => write!(f, "server answered HTTP {s}"),
            SerialError::TooLarge => f.write_str("server's message is larger than MaxMsgSize"),
            SerialError::HeaderTooLong => f.write_str("a header of the answer is too long"),
        }
    }
}

impl core::error::Error for SerialError {}

impl From<Error> for SerialError {
    fn from(e: Error) -> Self {
        SerialError::Link(e)
    }
}

/// Feeds a fetched body to a [`FetchSink`]; once the sink says stop, the rest of the body
/// is read from the line and dropped (the bridge has already sent it).
struct Feed<'s> {
    sink: &'s mut dyn FetchSink,
    stopped: bool,
}

impl ErrorType for Feed<'_> {
    type Error = Infallible;
}

impl Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if !self.stopped && self.sink.body(buf) == Flow::Stop {
            self.stopped = true;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Drops every byte written to it.
struct Discard;

impl ErrorType for Discard {
    type Error = Infallible;
}

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A [`Transport`] over the [serial framing](super): every DM message, byte range and
/// install-notify report goes to the host bridge over `io` (a UART driver implementing
/// [`embedded_io::Read`] + [`embedded_io::Write`]), which does the HTTP and sends the
/// answer back.
///
/// | [`Transport`] method | request | answer |
/// |---|---|---|
/// | `exchange` | [`Request::PostDm`] with the message | body into the receive buffer; 200 required |
/// | `fetch` | [`Request::GetRange`] from the offset (`If-Range` when given) | head, then body chunks to the [`FetchSink`] as they arrive |
/// | `post_notify` | [`Request::PostNotify`] (`text/plain`) | `Ok(true)` for 2xx |
///
/// The transport owns two buffers: `HEAD` bytes for an answer's head (status and headers;
/// an answer whose head is longer fails that request and its body is skipped) and `CHUNK`
/// bytes for body chunks, announced to the bridge as the largest chunk it may send (1 to
/// [`MAX_PAYLOAD`](super::MAX_PAYLOAD)). A download streams through `CHUNK` bytes of RAM.
///
/// A fetch whose sink says [`Flow::Stop`] reads the rest of the body off the line and drops
/// it: the line has no way to cancel an answer, and the next request must start in step.
/// Reads block without a timeout (the bridge has the deadline); a line that breaks inside
/// an answer leaves the stream to be resynchronised by the next frame's sync byte and CRC.
#[derive(Debug)]
pub struct SerialTransport<IO, const HEAD: usize = 384, const CHUNK: usize = 256> {
    io: IO,
    head: [u8; HEAD],
    chunk: [u8; CHUNK],
}

impl<IO: Read + Write, const HEAD: usize, const CHUNK: usize> SerialTransport<IO, HEAD, CHUNK> {
    /// A transport over `io`.
    pub const fn new(io: IO) -> Self {
        Self {
            io,
            head: [0; HEAD],
            chunk: [0; CHUNK],
        }
    }

    /// The line, for requests of the caller's own between the transport's (e.g. with
    /// [`exchange`](super::exchange)).
    pub fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Gives the line back.
    pub fn into_inner(self) -> IO {
        self.io
    }
}

/// Sends `request` with `body` and reads the answer's head into `head`; `chunk` is the
/// body buffer whose size is announced. A head that does not fit or does not decode has its
/// body skipped, so the line stays in step.
fn ask<'h, IO: Read + Write>(
    io: &mut IO,
    head: &'h mut [u8],
    chunk: &mut [u8],
    request: &Request<'_>,
    body: &[u8],
) -> Result<Answer<'h>, Error> {
    super::send_request(io, request, body, chunk.len())?;
    match super::recv_answer(io, head) {
        Err(e @ (Error::TooLong(_) | Error::Malformed)) => {
            super::skip_body(io, chunk)?;
            Err(e)
        }
        other => other,
    }
}

/// Copies a header into a fixed-capacity string.
fn header<const N: usize>(value: &str) -> Result<heapless::String<N>, SerialError> {
    heapless::String::try_from(value).map_err(|_| SerialError::HeaderTooLong)
}

impl<IO: Read + Write, const HEAD: usize, const CHUNK: usize> Transport
    for SerialTransport<IO, HEAD, CHUNK>
{
    type Error = SerialError;

    fn exchange(&mut self, msg: &Outgoing<'_>, reply: &mut [u8]) -> Result<DmAnswer, SerialError> {
        let request = Request::PostDm {
            url: msg.url,
            content_type: msg.content_type,
            hmac: msg.hmac,
        };
        let capacity = reply.len();
        let mut sink: &mut [u8] = reply;
        let answer = super::exchange(
            &mut self.io,
            &request,
            msg.body,
            &mut self.head,
            &mut self.chunk,
            &mut sink,
        );
        let (response, len) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(fault)) => return Err(SerialError::Fault(fault)),
            Err(Error::Sink(_)) => return Err(SerialError::TooLarge),
            Err(e) => return Err(SerialError::Link(e)),
        };
        if response.status != 200 {
            return Err(SerialError::Status(response.status));
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|n| *n <= capacity)
            .ok_or(SerialError::TooLarge)?;
        Ok(DmAnswer {
            len,
            content_type: header(response.content_type.unwrap_or_default())?,
            hmac: response.hmac.map(header).transpose()?,
        })
    }

    fn fetch(
        &mut self,
        url: &str,
        offset: u64,
        if_range: Option<&str>,
        sink: &mut dyn FetchSink,
    ) -> Result<(), FetchFailure> {
        // A serial-line device never holds 4 GiB: an offset beyond the framing's `u32` is
        // an object the line cannot fetch.
        let offset = u32::try_from(offset).map_err(|_| FetchFailure::NotFound)?;
        let request = Request::GetRange {
            url,
            offset,
            length: None,
            if_range,
        };
        let Self { io, head, chunk } = self;
        let response: Response<'_> = match ask(io, head, chunk, &request, &[]) {
            Ok(Answer::Response(response)) => response,
            Ok(Answer::Fault(_)) | Err(_) => return Err(FetchFailure::Unreachable),
        };
        let head = FetchHead {
            status: response.status,
            content_type: response.content_type,
            content_length: response.content_length.map(u64::from),
            content_range: response.content_range,
            validator: response.etag,
        };
        let stopped = sink.head(&head) == Flow::Stop;
        let mut feed = Feed { sink, stopped };
        super::recv_body(io, chunk, &mut feed)
            .map(|_| ())
            .map_err(|_| FetchFailure::Interrupted)
    }

    fn post_notify(&mut self, url: &str, body: &str) -> Result<bool, SerialError> {
        let request = Request::PostNotify {
            url,
            content_type: NOTIFY_CONTENT_TYPE,
        };
        let Self { io, head, chunk } = self;
        let status = match ask(io, head, chunk, &request, body.as_bytes())? {
            Answer::Response(response) => response.status,
            Answer::Fault(fault) => return Err(SerialError::Fault(fault)),
        };
        super::recv_body(io, chunk, &mut Discard)?;
        Ok((200..300).contains(&status))
    }
}

#[cfg(test)]
mod tests;
