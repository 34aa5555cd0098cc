//! Serves the device's framed requests through a [`Backend`] until the device closes the line.

use embedded_io::ErrorKind;
use embedded_io::{Read, Write};
use scomo::drivers::serial::{self, Error, Fault, Kind, MAX_PAYLOAD, Request};

use crate::Backend;

/// What a serving session did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered (with a response or a fault from the backend).
    pub exchanges: u32,
    /// Requests that could not be read and were answered [`Fault::BadRequest`].
    pub bad_requests: u32,
    /// Body bytes received from the device.
    pub bytes_in: u64,
    /// Body bytes sent to the device.
    pub bytes_out: u64,
}

/// Reads requests from `io` and answers each through `backend`, until the device closes the
/// stream between requests (then `Ok` with what was done).
///
/// A request that cannot be read (corrupt frame, malformed head, broken body) is answered
/// [`Fault::BadRequest`] after its remaining frames are skipped up to its `End`; the device
/// may send it again. A reply whose head does not fit one frame is answered
/// [`Fault::Internal`].
///
/// # Errors
/// The stream failed, or the device closed it in the middle of a request.
pub fn serve<S: Read + Write, B: Backend + ?Sized>(
    io: &mut S,
    backend: &mut B,
) -> Result<Stats, Error> {
    let mut stats = Stats::default();
    let mut head = vec![0u8; MAX_PAYLOAD];
    let mut scratch = vec![0u8; MAX_PAYLOAD];
    loop {
        let request = match serial::recv_request(io, &mut head) {
            Ok(request) => request,
            Err(Error::Eof | Error::Io(ErrorKind::ConnectionReset)) => return Ok(stats),
            Err(e @ (Error::Io(_) | Error::Truncated)) => return Err(e),
            Err(e) => {
                // The End of a body whose head was lost ends the bad request; anything else
                // (a damaged head, a stray chunk) is followed by the rest of its body.
                if e != Error::Unexpected(Kind::End) {
                    serial::skip_body(io, &mut scratch)?;
                }
                stats.bad_requests += 1;
                serial::send_fault(io, Fault::BadRequest)?;
                continue;
            }
        };
        let mut body = Vec::new();
        match serial::recv_body(io, &mut scratch, &mut body) {
            Ok(n) => stats.bytes_in += u64::from(n),
            Err(e @ (Error::Io(_) | Error::Eof | Error::Truncated)) => return Err(e),
            Err(_) => {
                stats.bad_requests += 1;
                serial::send_fault(io, Fault::BadRequest)?;
                continue;
            }
        }
        let reply = match request.request {
            Request::PostDm {
                url,
                content_type,
                hmac,
            } => backend.post_dm(url, content_type, hmac, &body),
            Request::GetRange {
                url,
                offset,
                length,
                if_range,
            } => backend.get_range(url, offset, length, if_range),
            Request::PostNotify { url, content_type } => {
                backend.post_notify(url, content_type, &body)
            }
        };
        stats.exchanges += 1;
        match reply {
            Ok(reply) => {
                match serial::send_response(io, &reply.head(), &reply.body, request.max_chunk) {
                    Ok(()) => stats.bytes_out += reply.body.len() as u64,
                    Err(Error::HeadTooLarge | Error::BodyTooLong) => {
                        serial::send_fault(io, Fault::Internal)?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(fault) => serial::send_fault(io, fault)?,
        }
    }
}

#[cfg(test)]
mod tests;
