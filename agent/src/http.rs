//! The agent's network backend: a [`Transport`] over a real HTTP client (`ureq`, with
//! rustls for `https://` and certificate checks against the web PKI roots, or against the
//! authorities of `--ca-file`).

use std::io::{IsTerminal, Read};
use std::time::Duration;

use scomo::dm::auth::HMAC_HEADER_NAME;
use scomo::dm::session::Outgoing;
use scomo::drivers::{DmAnswer, FetchSink, Transport};
use scomo::ops::{FetchFailure, FetchHead, Flow};
use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};

/// Why a DM exchange or a notify post failed.
#[derive(Debug)]
pub enum HttpError {
    /// No connection, a timeout, a broken transfer.
    Unreachable(String),
    /// The server answered with an HTTP error status.
    Status(u16),
    /// The answer's body is longer than the receive buffer.
    TooLarge,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unreachable(e) => write!(f, "server unreachable: {e}"),
            HttpError::Status(s) => write!(f, "server answered HTTP {s}"),
            HttpError::TooLarge => f.write_str("server's message is larger than MaxMsgSize"),
        }
    }
}

/// HTTP for DM messages, downloads and install-notify reports.
pub struct Http {
    agent: ureq::Agent,
    progress: bool,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// A client with 30 s connect and read timeouts that trusts the web PKI roots for
    /// `https://`; a download progress bar when stderr is a terminal.
    pub fn new() -> Self {
        Self::with_tls(TlsConfig::default())
    }

    /// A client that trusts only the certificate authorities in `pem` (one or more PEM
    /// certificates) for `https://`: for a DM server or a download host under a private
    /// authority. Certificates are still checked (chain, name, validity).
    ///
    /// # Errors
    /// When `pem` holds no certificate or one that does not parse.
    pub fn with_roots_pem(pem: &[u8]) -> Result<Self, String> {
        let mut roots = Vec::new();
        for item in parse_pem(pem) {
            match item.map_err(|e| format!("not a PEM certificate: {e}"))? {
                PemItem::Certificate(c) => roots.push(c),
                _ => return Err("only certificates may be given as authorities".into()),
            }
        }
        if roots.is_empty() {
            return Err("no PEM certificate found".into());
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&roots))
            .build();
        Ok(Self::with_tls(tls))
    }

    fn with_tls(tls: TlsConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(120)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .tls_config(tls)
            .build()
            .into();
        Self {
            agent,
            progress: std::io::stderr().is_terminal(),
        }
    }
}

fn header<'r>(resp: &'r ureq::http::Response<ureq::Body>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

impl Transport for Http {
    type Error = HttpError;

    fn exchange(&mut self, msg: &Outgoing<'_>, reply: &mut [u8]) -> Result<DmAnswer, HttpError> {
        log::debug!(
            "POST {} ({} bytes, {})",
            msg.url,
            msg.body.len(),
            msg.content_type
        );
        let mut req = self
            .agent
            .post(msg.url)
            .header("Content-Type", msg.content_type)
            .header("Accept", msg.content_type)
            .header("Cache-Control", "private");
        if let Some(mac) = msg.hmac {
            req = req.header(HMAC_HEADER_NAME, mac);
        }
        let mut resp = req
            .send(msg.body)
            .map_err(|e| HttpError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(HttpError::Status(status));
        }
        let mut answer = DmAnswer::default();
        let ct = header(&resp, "Content-Type").unwrap_or_default();
        answer.content_type = heapless::String::try_from(ct).unwrap_or_default();
        answer.hmac =
            header(&resp, HMAC_HEADER_NAME).and_then(|h| heapless::String::try_from(h).ok());
        let mut reader = resp.body_mut().as_reader();
        loop {
            let Some(room) = reply.get_mut(answer.len..).filter(|r| !r.is_empty()) else {
                // Full: anything more is too much.
                let mut probe = [0u8; 1];
                return match reader.read(&mut probe) {
                    Ok(0) => Ok(answer),
                    _ => Err(HttpError::TooLarge),
                };
            };
            match reader.read(room) {
                Ok(0) => return Ok(answer),
                Ok(n) => answer.len += n,
                Err(e) => return Err(HttpError::Unreachable(e.to_string())),
            }
        }
    }

    fn fetch(
        &mut self,
        url: &str,
        offset: u64,
        if_range: Option<&str>,
        sink: &mut dyn FetchSink,
    ) -> Result<(), FetchFailure> {
        log::info!("GET {url} from byte {offset}");
        let mut req = self.agent.get(url);
        if offset > 0 {
            req = req.header("Range", format!("bytes={offset}-"));
            if let Some(v) = if_range {
                req = req.header("If-Range", v);
            }
        }
        let mut resp = req.call().map_err(|e| {
            log::warn!("GET {url}: {e}");
            FetchFailure::Unreachable
        })?;
        let status = resp.status().as_u16();
        let content_length = header(&resp, "Content-Length").and_then(|v| v.trim().parse().ok());
        let head = FetchHead {
            status,
            content_type: header(&resp, "Content-Type"),
            content_length,
            content_range: header(&resp, "Content-Range"),
            validator: header(&resp, "ETag").or(header(&resp, "Last-Modified")),
        };
        if sink.head(&head) == Flow::Stop {
            return Ok(());
        }
        let bar = (self.progress && content_length.is_some_and(|n| n > 64 * 1024))
            .then(|| indicatif::ProgressBar::new(content_length.unwrap_or(0)));
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(b) = &bar {
                        b.inc(n as u64);
                    }
                    if sink.body(buf.get(..n).unwrap_or_default()) == Flow::Stop {
                        break;
                    }
                }
                Err(e) => {
                    log::warn!("GET {url}: transfer broke: {e}");
                    return Err(FetchFailure::Interrupted);
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(())
    }

    fn post_notify(&mut self, url: &str, body: &str) -> Result<bool, HttpError> {
        log::info!("POST {url}: {body}");
        let resp = self
            .agent
            .post(url)
            .header("Content-Type", "text/plain")
            .send(body)
            .map_err(|e| HttpError::Unreachable(e.to_string()))?;
        Ok(resp.status().is_success())
    }
}
