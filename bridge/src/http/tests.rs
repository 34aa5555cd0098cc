use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use scomo_testserver::{Package, Server};

use super::*;

/// One HTTP request as a one-shot server saw it: the request line, the headers (names in
/// lower case) and the body.
#[derive(Debug)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A server on a loopback port that answers one request with `answer` (raw HTTP) and
/// sends what it saw. Returns its base URL.
fn one_shot(answer: &'static str) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0u8; len];
        std::io::Read::read_exact(&mut reader, &mut body).unwrap();
        let mut stream = stream;
        stream.write_all(answer.as_bytes()).unwrap();
        tx.send(Seen {
            line: line.trim_end().to_owned(),
            headers,
            body,
        })
        .unwrap();
    });
    (url, rx)
}

#[test]
fn post_dm_sends_content_type_and_hmac_and_passes_back_the_answers_headers_and_body() {
    let (url, seen) = one_shot(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\n\
         x-syncml-hmac: algorithm=MD5, username=\"srv\", mac=AAAA\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    let mut backend = HttpBackend::default();
    let hmac = "algorithm=MD5, username=\"dev\", mac=BBBB";
    let reply = backend
        .post_dm(
            &format!("{url}/dm"),
            "application/vnd.syncml.dm+wbxml",
            Some(hmac),
            b"\x02\xa4\x01\x6a",
        )
        .unwrap();
    let seen = seen.recv().unwrap();
    assert_eq!(seen.line, "POST /dm HTTP/1.1");
    assert_eq!(
        seen.header("content-type"),
        Some("application/vnd.syncml.dm+wbxml")
    );
    assert_eq!(seen.header("x-syncml-hmac"), Some(hmac));
    assert_eq!(seen.body, b"\x02\xa4\x01\x6a");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/vnd.syncml.dm+wbxml")
    );
    assert_eq!(
        reply.hmac.as_deref(),
        Some("algorithm=MD5, username=\"srv\", mac=AAAA")
    );
    assert_eq!(reply.content_length, Some(5));
    assert_eq!(reply.body, b"hello");
}

#[test]
fn get_range_sends_range_and_if_range_only_for_a_range() {
    let (url, seen) = one_shot(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-14/20\r\nETag: \"v1\"\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\nabcde",
    );
    let reply = HttpBackend::default()
        .get_range(&format!("{url}/pkg/a"), 10, Some(5), Some("\"v1\""))
        .unwrap();
    let seen = seen.recv().unwrap();
    assert_eq!(seen.line, "GET /pkg/a HTTP/1.1");
    assert_eq!(seen.header("range"), Some("bytes=10-14"));
    assert_eq!(seen.header("if-range"), Some("\"v1\""));
    assert_eq!(seen.header("accept-encoding"), Some("identity"));
    assert_eq!(reply.status, 206);
    assert_eq!(reply.content_range.as_deref(), Some("bytes 10-14/20"));
    assert_eq!(reply.etag.as_deref(), Some("\"v1\""));
    assert_eq!(reply.body, b"abcde");

    let (url, seen) =
        one_shot("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    HttpBackend::default()
        .get_range(&format!("{url}/pkg/a"), 0, None, Some("\"v1\""))
        .unwrap();
    let seen = seen.recv().unwrap();
    assert_eq!(seen.header("range"), None, "offset 0 to the end: no range");
    assert_eq!(seen.header("if-range"), None, "If-Range only with a Range");
}

#[test]
fn the_range_header_names_the_first_and_last_byte() {
    assert_eq!(range(0, None), None);
    assert_eq!(range(7, None).as_deref(), Some("bytes=7-"));
    assert_eq!(range(0, Some(1)).as_deref(), Some("bytes=0-0"));
    assert_eq!(range(100, Some(50)).as_deref(), Some("bytes=100-149"));
    assert_eq!(
        range(u32::MAX, Some(u32::MAX)).as_deref(),
        Some("bytes=4294967295-8589934589")
    );
}

#[test]
fn post_notify_sends_the_report_and_passes_back_the_status() {
    let (url, seen) = one_shot("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    let reply = HttpBackend::default()
        .post_notify(&format!("{url}/notify/a"), "text/plain", b"900 Success")
        .unwrap();
    let seen = seen.recv().unwrap();
    assert_eq!(seen.line, "POST /notify/a HTTP/1.1");
    assert_eq!(seen.header("content-type"), Some("text/plain"));
    assert_eq!(seen.body, b"900 Success");
    assert_eq!(reply.status, 204);
}

#[test]
fn an_http_error_status_is_an_answer_not_a_fault() {
    let (url, _seen) =
        one_shot("HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nConnection: close\r\n\r\nmissing");
    let reply = HttpBackend::default()
        .get_range(&format!("{url}/pkg/none"), 0, None, None)
        .unwrap();
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (404, &b"missing"[..])
    );
}

#[test]
fn a_server_that_refuses_the_connection_is_unreachable() {
    // Bind, learn the port, close: nothing listens there any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/dm");
    let mut backend = HttpBackend::new(Duration::from_secs(5));
    assert_eq!(
        backend.post_dm(&url, "application/vnd.syncml.dm+xml", None, b"<SyncML/>"),
        Err(Fault::Unreachable)
    );
    assert_eq!(
        backend.get_range(&url, 0, None, None),
        Err(Fault::Unreachable)
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dm", listener.local_addr().unwrap());
    // Accepts (the kernel does, through the backlog) but never answers.
    let mut backend = HttpBackend::new(Duration::from_millis(300));
    assert_eq!(
        backend.post_dm(&url, "application/vnd.syncml.dm+xml", None, b"<SyncML/>"),
        Err(Fault::Timeout)
    );
    drop(listener);
}

#[test]
fn the_test_servers_package_resumes_with_206_and_its_etag_and_a_stale_validator_gets_200() {
    let server = Server::start().unwrap();
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let package = Package::new("p", bytes.clone());
    let etag = package.etag();
    server.add_package(package);
    let url = server.package_url("p");
    let mut backend = HttpBackend::default();

    let whole = backend.get_range(&url, 0, None, None).unwrap();
    assert_eq!(whole.status, 200);
    assert_eq!(whole.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(whole.content_length, Some(1000));
    assert_eq!(whole.body, bytes);

    let rest = backend.get_range(&url, 600, None, Some(&etag)).unwrap();
    assert_eq!(rest.status, 206);
    assert_eq!(rest.content_range.as_deref(), Some("bytes 600-999/1000"));
    assert_eq!(rest.content_length, Some(400));
    assert_eq!(rest.body, &bytes[600..]);

    let stale = backend
        .get_range(&url, 600, None, Some("\"another\""))
        .unwrap();
    assert_eq!(
        stale.status, 200,
        "If-Range that does not match: the whole file"
    );
    assert_eq!(stale.body, bytes);
}
