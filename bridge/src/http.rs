//! A [`Backend`] that forwards the device's requests to a real HTTP server.
//!
//! | framing request | HTTP request | passed back |
//! |---|---|---|
//! | `PostDm` | `POST url`, `Content-Type` and `Accept` = the message's content type, `x-syncml-hmac` when given | status, `Content-Type`, `x-syncml-hmac`, body |
//! | `GetRange` | `GET url`; `Range: bytes=<offset>-[<last>]` when the offset is not 0 or a length is given, then `If-Range` when given | status, `Content-Type`, `ETag` (else `Last-Modified`), `Content-Range`, `Content-Length`, body |
//! | `PostNotify` | `POST url` with the content type | status, body |
//!
//! HTTP error statuses are answers like any other (the device classifies them); only a
//! request that gets no HTTP answer at all becomes a [`Fault`]: [`Fault::Unreachable`] when
//! the server cannot be reached, [`Fault::Timeout`] when it does not answer in time,
//! [`Fault::Internal`] for anything else. Bodies are read whole before they are sent on, and
//! are never decompressed (`Accept-Encoding: identity`), so `Content-Length` and
//! `Content-Range` describe the bytes the device receives.

use std::io::Read;
use std::time::Duration;

use scomo::dm::auth::HMAC_HEADER_NAME;
use scomo::drivers::serial::Fault;

use crate::{Backend, Reply};

/// The largest body passed back: the framing's `u32` lengths allow more, but a serial-line
/// device never takes more than this.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Forwards to HTTP servers with `ureq` (see the module's table).
#[derive(Debug, Clone)]
pub struct HttpBackend {
    agent: ureq::Agent,
}

impl Default for HttpBackend {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl HttpBackend {
    /// A backend whose connect and answer timeouts are each `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .build()
            .into();
        Self { agent }
    }
}

/// The fault for a request that got no HTTP answer.
fn fault(e: &ureq::Error) -> Fault {
    match e {
        ureq::Error::Timeout(_) => Fault::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Fault::Unreachable,
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Fault::Timeout,
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::AddrNotAvailable => Fault::Unreachable,
            _ => Fault::Internal,
        },
        _ => Fault::Internal,
    }
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The reply for an HTTP answer: its status, the headers the framing carries, its body.
fn reply(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, Fault> {
    let mut resp = result.map_err(|e| fault(&e))?;
    let mut body = Vec::new();
    resp.body_mut()
        .with_config()
        .limit(MAX_BODY)
        .reader()
        .read_to_end(&mut body)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => Fault::Timeout,
            _ => Fault::Unreachable,
        })?;
    Ok(Reply {
        status: resp.status().as_u16(),
        content_type: header(&resp, "Content-Type"),
        hmac: header(&resp, HMAC_HEADER_NAME),
        etag: header(&resp, "ETag").or_else(|| header(&resp, "Last-Modified")),
        content_range: header(&resp, "Content-Range"),
        content_length: header(&resp, "Content-Length").and_then(|v| v.trim().parse().ok()),
        body,
    })
}

/// The `Range` header value for `offset` and `length`, if a range is asked for.
pub fn range(offset: u32, length: Option<u32>) -> Option<String> {
    match length {
        Some(0) => None,
        Some(n) => Some(format!(
            "bytes={offset}-{}",
            u64::from(offset) + u64::from(n) - 1
        )),
        None if offset > 0 => Some(format!("bytes={offset}-")),
        None => None,
    }
}

impl Backend for HttpBackend {
    fn post_dm(
        &mut self,
        url: &str,
        content_type: &str,
        hmac: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Fault> {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", content_type)
            .header("Accept", content_type)
            .header("Accept-Encoding", "identity")
            .header("Cache-Control", "private");
        if let Some(mac) = hmac {
            req = req.header(HMAC_HEADER_NAME, mac);
        }
        reply(req.send(body))
    }

    fn get_range(
        &mut self,
        url: &str,
        offset: u32,
        length: Option<u32>,
        if_range: Option<&str>,
    ) -> Result<Reply, Fault> {
        let mut req = self.agent.get(url).header("Accept-Encoding", "identity");
        if let Some(range) = range(offset, length) {
            req = req.header("Range", range);
            if let Some(validator) = if_range {
                req = req.header("If-Range", validator);
            }
        }
        reply(req.call())
    }

    fn post_notify(&mut self, url: &str, content_type: &str, body: &[u8]) -> Result<Reply, Fault> {
        let req = self
            .agent
            .post(url)
            .header("Content-Type", content_type)
            .header("Accept-Encoding", "identity");
        reply(req.send(body))
    }
}

#[cfg(test)]
mod tests;
