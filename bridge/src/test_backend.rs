//! A scripted backend for tests of the serial line: no server, fixed answers.
//!
//! | request | answer |
//! |---|---|
//! | POST DM to `http://bridge.test/dm` | 200; the same content type and `x-syncml-hmac`; the body reversed |
//! | GET `http://bridge.test/blob/<size>` | the file of `size` bytes whose byte *i* is [`blob_byte`]`(i)`, ETag `"blob-<size>"`, with `Content-Length`: 206 with `Content-Range: bytes first-last/size` for a range, 200 for the whole file (offset 0, no length) or when `If-Range` names another ETag, 416 with `Content-Range: bytes */size` for an offset past the end |
//! | POST notify to `http://bridge.test/notify` | 200, `text/plain`, `notified: ` followed by the body |
//! | anything to host `unreachable.test` | [`Fault::Unreachable`] |
//! | anything to host `timeout.test` | [`Fault::Timeout`] |
//! | anything else | 404, empty body |
//!
//! It also records every request, for the host side of a test to check.

use scomo::drivers::serial::Fault;

use crate::{Backend, Reply};

/// The test files' content: byte `i` of every `blob/<size>` file. The firmware's framing
/// test computes the same function; the two must agree.
pub fn blob_byte(i: u32) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ (i >> 16)) as u8
}

const BASE: &str = "http://bridge.test/";

/// One request as the test backend saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `post_dm`, `get_range` or `post_notify`.
    pub method: &'static str,
    /// The URL.
    pub url: String,
    /// The body's length.
    pub body_len: usize,
}

/// The scripted backend (see the module's table).
#[derive(Debug, Default)]
pub struct TestBackend {
    /// Every request, in order.
    pub seen: Vec<Seen>,
}

impl TestBackend {
    fn see(&mut self, method: &'static str, url: &str, body_len: usize) {
        self.seen.push(Seen {
            method,
            url: url.to_string(),
            body_len,
        });
    }
}

/// The fault scripted for `url`'s host, if any.
fn scripted_fault(url: &str) -> Option<Fault> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    match host {
        "unreachable.test" => Some(Fault::Unreachable),
        "timeout.test" => Some(Fault::Timeout),
        _ => None,
    }
}

fn not_found() -> Reply {
    Reply::new(404, Vec::new())
}

impl Backend for TestBackend {
    fn post_dm(
        &mut self,
        url: &str,
        content_type: &str,
        hmac: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Fault> {
        self.see("post_dm", url, body.len());
        if let Some(fault) = scripted_fault(url) {
            return Err(fault);
        }
        if url != format!("{BASE}dm") {
            return Ok(not_found());
        }
        Ok(Reply {
            content_type: Some(content_type.to_string()),
            hmac: hmac.map(str::to_string),
            ..Reply::new(200, body.iter().rev().copied().collect())
        })
    }

    fn get_range(
        &mut self,
        url: &str,
        offset: u32,
        length: Option<u32>,
        if_range: Option<&str>,
    ) -> Result<Reply, Fault> {
        self.see("get_range", url, 0);
        if let Some(fault) = scripted_fault(url) {
            return Err(fault);
        }
        let Some(size) = url
            .strip_prefix(BASE)
            .and_then(|p| p.strip_prefix("blob/"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return Ok(not_found());
        };
        let etag = format!("\"blob-{size}\"");
        let file = |first: u32, last: u32| (first..=last).map(blob_byte).collect::<Vec<u8>>();
        let whole = offset == 0 && length.is_none() || if_range.is_some_and(|v| v != etag);
        let reply = |status: u16, content_range: Option<String>, body: Vec<u8>| Reply {
            status,
            content_type: Some("application/octet-stream".into()),
            etag: Some(etag.clone()),
            content_range,
            content_length: u32::try_from(body.len()).ok(),
            body,
            ..Reply::default()
        };
        if whole {
            let body = if size == 0 {
                Vec::new()
            } else {
                file(0, size - 1)
            };
            return Ok(reply(200, None, body));
        }
        if offset >= size || length == Some(0) {
            return Ok(reply(416, Some(format!("bytes */{size}")), Vec::new()));
        }
        let last = match length {
            Some(n) => offset.saturating_add(n - 1).min(size - 1),
            None => size - 1,
        };
        let range = format!("bytes {offset}-{last}/{size}");
        Ok(reply(206, Some(range), file(offset, last)))
    }

    fn post_notify(&mut self, url: &str, _content_type: &str, body: &[u8]) -> Result<Reply, Fault> {
        self.see("post_notify", url, body.len());
        if let Some(fault) = scripted_fault(url) {
            return Err(fault);
        }
        if url != format!("{BASE}notify") {
            return Ok(not_found());
        }
        let mut answer = b"notified: ".to_vec();
        answer.extend_from_slice(body);
        Ok(Reply {
            content_type: Some("text/plain".into()),
            ..Reply::new(200, answer)
        })
    }
}
