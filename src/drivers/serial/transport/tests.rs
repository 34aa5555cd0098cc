//! [`SerialTransport`] against an in-memory bridge: the bridge side of the framing
//! (`recv_request`, `recv_body`, `send_response`, `send_fault`) answering from a script, as
//! the host bridge does.

extern crate std;

use std::collections::VecDeque;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::super::{MAX_PAYLOAD, Request, recv_body, recv_request, send_fault, send_response};
use super::*;

/// The HTTP answer the scripted backend gives.
#[derive(Debug, Clone, Default)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    hmac: Option<String>,
    etag: Option<String>,
    content_range: Option<String>,
    content_length: Option<u32>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16, body: &[u8]) -> Self {
        Self {
            status,
            body: body.to_vec(),
            ..Self::default()
        }
    }
}

/// A request as the backend saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    PostDm {
        url: String,
        content_type: String,
        hmac: Option<String>,
        body: Vec<u8>,
    },
    GetRange {
        url: String,
        offset: u32,
        length: Option<u32>,
        if_range: Option<String>,
        max_chunk: usize,
    },
    PostNotify {
        url: String,
        content_type: String,
        body: Vec<u8>,
    },
}

/// A growable `embedded_io` sink.
struct VecWriter(Vec<u8>);

impl ErrorType for VecWriter {
    type Error = Infallible;
}

impl Write for VecWriter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// The device's end of an in-memory line whose other end is a bridge: what the device
/// writes is a request; when the device reads and nothing is waiting, the bridge reads the
/// request, asks the script, and queues its answer.
struct Bridge {
    from_device: Vec<u8>,
    to_device: VecDeque<u8>,
    answers: VecDeque<Result<Reply, Fault>>,
    seen: Vec<Seen>,
    /// Flip this byte of the next answer on the wire (counted from its first byte).
    corrupt_at: Option<usize>,
}

impl Bridge {
    fn new(answers: impl IntoIterator<Item = Result<Reply, Fault>>) -> Self {
        Self {
            from_device: Vec::new(),
            to_device: VecDeque::new(),
            answers: answers.into_iter().collect(),
            seen: Vec::new(),
            corrupt_at: None,
        }
    }

    fn serve(&mut self) {
        let pending = core::mem::take(&mut self.from_device);
        if pending.is_empty() {
            return;
        }
        let mut r: &[u8] = &pending;
        let mut head = vec![0u8; MAX_PAYLOAD];
        let request = recv_request(&mut r, &mut head).unwrap();
        let mut scratch = vec![0u8; MAX_PAYLOAD];
        let mut body = VecWriter(Vec::new());
        recv_body(&mut r, &mut scratch, &mut body).unwrap();
        assert!(r.is_empty(), "one request at a time");
        let body = body.0;
        self.seen.push(match request.request {
            Request::PostDm {
                url,
                content_type,
                hmac,
            } => Seen::PostDm {
                url: url.into(),
                content_type: content_type.into(),
                hmac: hmac.map(String::from),
                body,
            },
            Request::GetRange {
                url,
                offset,
                length,
                if_range,
            } => Seen::GetRange {
                url: url.into(),
                offset,
                length,
                if_range: if_range.map(String::from),
                max_chunk: request.max_chunk,
            },
            Request::PostNotify { url, content_type } => Seen::PostNotify {
                url: url.into(),
                content_type: content_type.into(),
                body,
            },
        });
        let mut out = VecWriter(Vec::new());
        match self.answers.pop_front().expect("an answer is scripted") {
            Ok(reply) => {
                let head = Response {
                    status: reply.status,
                    content_type: reply.content_type.as_deref(),
                    hmac: reply.hmac.as_deref(),
                    etag: reply.etag.as_deref(),
                    content_range: reply.content_range.as_deref(),
                    content_length: reply.content_length,
                };
                send_response(&mut out, &head, &reply.body, request.max_chunk).unwrap();
            }
            Err(fault) => send_fault(&mut out, fault).unwrap(),
        }
        if let Some(at) = self.corrupt_at.take() {
            out.0[at] ^= 0x40;
        }
        self.to_device.extend(out.0);
    }
}

impl ErrorType for Bridge {
    type Error = embedded_io::ErrorKind;
}

impl Read for Bridge {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.to_device.is_empty() {
            self.serve();
        }
        let mut n = 0;
        for slot in buf.iter_mut() {
            let Some(b) = self.to_device.pop_front() else {
                break;
            };
            *slot = b;
            n += 1;
        }
        Ok(n)
    }
}

impl Write for Bridge {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.from_device.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A sink that records the head and collects the body, stopping after `stop_after` bytes.
#[derive(Default)]
struct Collect {
    status: Option<u16>,
    content_type: Option<String>,
    content_length: Option<u64>,
    content_range: Option<String>,
    validator: Option<String>,
    body: Vec<u8>,
    calls: usize,
    stop_at_head: bool,
    stop_after: Option<usize>,
}

impl FetchSink for Collect {
    fn head(&mut self, head: &FetchHead<'_>) -> Flow {
        self.status = Some(head.status);
        self.content_type = head.content_type.map(String::from);
        self.content_length = head.content_length;
        self.content_range = head.content_range.map(String::from);
        self.validator = head.validator.map(String::from);
        if self.stop_at_head {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn body(&mut self, bytes: &[u8]) -> Flow {
        self.calls += 1;
        self.body.extend_from_slice(bytes);
        match self.stop_after {
            Some(n) if self.body.len() >= n => Flow::Stop,
            _ => Flow::Continue,
        }
    }
}

const DM_URL: &str = "http://dm.example/dm";
const WBXML: &str = "application/vnd.syncml.dm+wbxml";
const HMAC: &str = "algorithm=MD5, username=\"dev\", mac=aSBvnDHzBa7JhdjeEEUR2g==";

fn message(body: &[u8]) -> Outgoing<'_> {
    Outgoing {
        body,
        content_type: WBXML,
        hmac: Some(HMAC),
        url: DM_URL,
        persist_auth: false,
        last: false,
    }
}

fn dm_reply(body: &[u8]) -> Result<Reply, Fault> {
    Ok(Reply {
        content_type: Some(WBXML.into()),
        hmac: Some("algorithm=MD5, username=\"srv\", mac=AAAA".into()),
        ..Reply::new(200, body)
    })
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

type Small<IO> = SerialTransport<IO, 256, 64>;

#[test]
fn exchange_posts_the_message_with_its_headers_and_returns_the_200_answer() {
    let request = pattern(1000);
    let answer = pattern(700);
    let mut t: Small<_> = SerialTransport::new(Bridge::new([dm_reply(&answer)]));
    let mut rx = [0u8; 2048];
    let got = t.exchange(&message(&request), &mut rx).unwrap();
    assert_eq!(got.len, 700);
    assert_eq!(&rx[..700], &answer[..]);
    assert_eq!(got.content_type.as_str(), WBXML);
    assert_eq!(
        got.hmac.as_deref(),
        Some("algorithm=MD5, username=\"srv\", mac=AAAA")
    );
    assert_eq!(
        t.into_inner().seen,
        vec![Seen::PostDm {
            url: DM_URL.into(),
            content_type: WBXML.into(),
            hmac: Some(HMAC.into()),
            body: request,
        }]
    );
}

#[test]
fn exchange_fails_with_the_status_of_a_non_200_answer() {
    let mut t: Small<_> = SerialTransport::new(Bridge::new([Ok(Reply::new(500, b"oops"))]));
    let mut rx = [0u8; 256];
    assert_eq!(
        t.exchange(&message(b"<SyncML/>"), &mut rx),
        Err(SerialError::Status(500))
    );
}

#[test]
fn exchange_fails_too_large_beyond_max_msg_size_and_the_line_stays_in_step() {
    let big = pattern(300);
    let mut t: Small<_> =
        SerialTransport::new(Bridge::new([dm_reply(&big), dm_reply(b"small answer")]));
    let mut rx = [0u8; 200];
    assert_eq!(
        t.exchange(&message(b"first"), &mut rx),
        Err(SerialError::TooLarge)
    );
    let got = t.exchange(&message(b"second"), &mut rx).unwrap();
    assert_eq!(&rx[..got.len], b"small answer");
}

#[test]
fn exchange_passes_the_bridge_fault_on() {
    let mut t: Small<_> = SerialTransport::new(Bridge::new([Err(Fault::Unreachable)]));
    let mut rx = [0u8; 64];
    assert_eq!(
        t.exchange(&message(b"x"), &mut rx),
        Err(SerialError::Fault(Fault::Unreachable))
    );
}

#[test]
fn exchange_refuses_a_content_type_longer_than_the_answer_keeps() {
    let long = "application/".to_string() + &"x".repeat(crate::drivers::CONTENT_TYPE_CAP);
    let reply = Ok(Reply {
        content_type: Some(long),
        ..Reply::new(200, b"body")
    });
    let mut t: Small<_> = SerialTransport::new(Bridge::new([reply]));
    let mut rx = [0u8; 64];
    assert_eq!(
        t.exchange(&message(b"x"), &mut rx),
        Err(SerialError::HeaderTooLong)
    );
}

#[test]
fn an_answer_head_larger_than_the_head_buffer_fails_and_the_next_request_is_in_step() {
    let reply = Ok(Reply {
        etag: Some("e".repeat(100)),
        ..Reply::new(200, &pattern(150))
    });
    let mut t: SerialTransport<_, 96, 64> =
        SerialTransport::new(Bridge::new([reply, dm_reply(b"next")]));
    let mut rx = [0u8; 256];
    assert!(matches!(
        t.exchange(&message(b"x"), &mut rx),
        Err(SerialError::Link(Error::TooLong(_)))
    ));
    let got = t.exchange(&message(b"y"), &mut rx).unwrap();
    assert_eq!(&rx[..got.len], b"next");
}

#[test]
fn fetch_asks_the_range_and_streams_the_206_body_in_chunks_of_the_buffer() {
    let body = pattern(1000);
    let reply = Ok(Reply {
        content_type: Some("application/octet-stream".into()),
        etag: Some("\"v1\"".into()),
        content_range: Some("bytes 500-1499/1500".into()),
        content_length: Some(1000),
        ..Reply::new(206, &body)
    });
    let mut t: Small<_> = SerialTransport::new(Bridge::new([reply]));
    let mut sink = Collect::default();
    let url = "http://files.example/pkg/a";
    t.fetch(url, 500, Some("\"v1\""), &mut sink).unwrap();
    assert_eq!(sink.status, Some(206));
    assert_eq!(
        sink.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(sink.content_length, Some(1000));
    assert_eq!(sink.content_range.as_deref(), Some("bytes 500-1499/1500"));
    assert_eq!(sink.validator.as_deref(), Some("\"v1\""));
    assert_eq!(sink.body, body);
    assert_eq!(
        sink.calls,
        1000usize.div_ceil(64),
        "one call per 64-byte chunk"
    );
    assert_eq!(
        t.into_inner().seen,
        vec![Seen::GetRange {
            url: url.into(),
            offset: 500,
            length: None,
            if_range: Some("\"v1\"".into()),
            max_chunk: 64,
        }]
    );
}

#[test]
fn fetch_passes_a_404_head_to_the_sink_for_the_executor_to_classify() {
    let mut t: Small<_> = SerialTransport::new(Bridge::new([Ok(Reply::new(404, b"gone"))]));
    let mut sink = Collect::default();
    t.fetch("http://files.example/none", 0, None, &mut sink)
        .unwrap();
    assert_eq!(sink.status, Some(404));
}

#[test]
fn a_fetch_stopped_by_the_sink_drains_the_body_and_the_next_request_is_in_step() {
    let first = Ok(Reply::new(200, &pattern(600)));
    let second = Ok(Reply::new(200, b"second body"));
    let mut t: Small<_> = SerialTransport::new(Bridge::new([first, second]));
    let mut sink = Collect {
        stop_after: Some(100),
        ..Collect::default()
    };
    t.fetch("http://files.example/a", 0, None, &mut sink)
        .unwrap();
    assert_eq!(sink.body.len(), 128, "two chunks, then no more calls");
    let mut sink = Collect {
        stop_at_head: true,
        ..Collect::default()
    };
    t.fetch("http://files.example/b", 0, None, &mut sink)
        .unwrap();
    assert_eq!(sink.status, Some(200));
    assert!(
        sink.body.is_empty(),
        "a sink that stops at the head gets no body"
    );
    let mut rx = [0u8; 64];
    t.io_mut().answers.push_back(dm_reply(b"in step"));
    let got = t.exchange(&message(b"x"), &mut rx).unwrap();
    assert_eq!(&rx[..got.len], b"in step");
}

#[test]
fn fetch_without_an_http_answer_is_unreachable() {
    let mut t: Small<_> = SerialTransport::new(Bridge::new([Err(Fault::Timeout)]));
    let mut sink = Collect::default();
    assert_eq!(
        t.fetch("http://files.example/a", 0, None, &mut sink),
        Err(FetchFailure::Unreachable)
    );
    assert_eq!(sink.status, None);
}

#[test]
fn a_damaged_body_chunk_interrupts_the_fetch_for_a_ranged_resume() {
    let mut bridge = Bridge::new([Ok(Reply::new(200, &pattern(300)))]);
    // The head frame is short; byte 120 falls inside the first Data frame.
    bridge.corrupt_at = Some(120);
    let mut t: Small<_> = SerialTransport::new(bridge);
    let mut sink = Collect::default();
    assert_eq!(
        t.fetch("http://files.example/a", 0, None, &mut sink),
        Err(FetchFailure::Interrupted)
    );
    assert_eq!(sink.status, Some(200));
}

#[test]
fn a_line_that_ends_is_a_link_error_for_dm_and_an_unreachable_fetch() {
    let mut t: Small<_> = SerialTransport::new(Closed);
    let mut rx = [0u8; 64];
    assert_eq!(
        t.exchange(&message(b"x"), &mut rx),
        Err(SerialError::Link(Error::Eof))
    );
    let mut sink = Collect::default();
    assert_eq!(
        t.fetch("http://files.example/a", 0, None, &mut sink),
        Err(FetchFailure::Unreachable)
    );
}

/// A line whose other end has gone: writes vanish, reads see the end of the stream.
struct Closed;

impl ErrorType for Closed {
    type Error = Infallible;
}

impl Read for Closed {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, Infallible> {
        Ok(0)
    }
}

impl Write for Closed {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn post_notify_posts_text_plain_and_is_true_only_for_2xx() {
    let mut t: Small<_> = SerialTransport::new(Bridge::new([
        Ok(Reply::new(204, b"")),
        Ok(Reply::new(404, b"no such job")),
        Err(Fault::Unreachable),
    ]));
    let url = "http://files.example/notify/a";
    assert_eq!(t.post_notify(url, "900 Success"), Ok(true));
    assert_eq!(t.post_notify(url, "900 Success"), Ok(false));
    assert_eq!(
        t.post_notify(url, "900 Success"),
        Err(SerialError::Fault(Fault::Unreachable))
    );
    assert_eq!(
        t.into_inner().seen[0],
        Seen::PostNotify {
            url: url.into(),
            content_type: "text/plain".into(),
            body: b"900 Success".to_vec(),
        }
    );
}
