//! What the bridge does with the device's requests: the HTTP side, behind one trait.

use scomo::drivers::serial::{Fault, Response};

/// An HTTP response to pass back to the device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Option<String>,
    /// The `x-syncml-hmac` header value.
    pub hmac: Option<String>,
    /// The `ETag`.
    pub etag: Option<String>,
    /// The `Content-Range` header value, as the server sent it.
    pub content_range: Option<String>,
    /// The `Content-Length`, when the server sent one.
    pub content_length: Option<u32>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with this status and body and no headers.
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            ..Self::default()
        }
    }

    /// The head as the framing carries it.
    pub fn head(&self) -> Response<'_> {
        Response {
            status: self.status,
            content_type: self.content_type.as_deref(),
            hmac: self.hmac.as_deref(),
            etag: self.etag.as_deref(),
            content_range: self.content_range.as_deref(),
            content_length: self.content_length,
        }
    }
}

/// The HTTP side of the bridge: one method per request kind of the framing. Return a
/// [`Reply`] for every HTTP answer (404 and 500 included) and a [`Fault`] only when there is
/// no HTTP answer at all (the server is unreachable or silent).
pub trait Backend {
    /// POST a DM message (`content_type`, optional `x-syncml-hmac`) to `url`.
    ///
    /// # Errors
    /// A [`Fault`] when no HTTP answer was obtained.
    fn post_dm(
        &mut self,
        url: &str,
        content_type: &str,
        hmac: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Fault>;

    /// GET bytes `offset..` of `url` (at most `length` of them), with `If-Range: if_range`
    /// when given.
    ///
    /// # Errors
    /// A [`Fault`] when no HTTP answer was obtained.
    fn get_range(
        &mut self,
        url: &str,
        offset: u32,
        length: Option<u32>,
        if_range: Option<&str>,
    ) -> Result<Reply, Fault>;

    /// POST an install-notify report to `url`.
    ///
    /// # Errors
    /// A [`Fault`] when no HTTP answer was obtained.
    fn post_notify(&mut self, url: &str, content_type: &str, body: &[u8]) -> Result<Reply, Fault>;
}
