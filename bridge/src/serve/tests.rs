use super::*;
use crate::TestBackend;
use crate::test_backend::blob_byte;
use scomo::drivers::serial::{Answer, Response};

/// The device's side of an in-memory line: what it sent, and what the bridge wrote back.
struct Line<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Line<'_> {
    type Error = std::convert::Infallible;
}

impl Read for Line<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.input.read(buf)
    }
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.output.write(buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Serves `device_bytes` with a fresh test backend; returns the stats, the backend and the
/// bytes sent back.
fn run(device_bytes: &[u8]) -> (Result<Stats, Error>, TestBackend, Vec<u8>) {
    let mut line = Line {
        input: device_bytes,
        output: Vec::new(),
    };
    let mut backend = TestBackend::default();
    let stats = serve(&mut line, &mut backend);
    (stats, backend, line.output)
}

fn request(out: &mut Vec<u8>, request: &Request<'_>, body: &[u8], max_chunk: usize) {
    serial::send_request(out, request, body, max_chunk).unwrap();
}

/// One answer read back: head, and body with the sizes of its chunks.
#[derive(Debug)]
struct Got {
    answer: Answer<'static>,
    body: Vec<u8>,
    chunks: Vec<usize>,
}

fn answers(mut bytes: &[u8]) -> Vec<Got> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let head: &'static mut [u8] = Box::leak(vec![0u8; MAX_PAYLOAD].into_boxed_slice());
        let answer = serial::recv_answer(&mut bytes, head).unwrap();
        let (mut body, mut chunks) = (Vec::new(), Vec::new());
        if let Answer::Response(_) = answer {
            let mut buf = [0u8; MAX_PAYLOAD];
            loop {
                match serial::read_frame(&mut bytes, &mut buf).unwrap() {
                    (Kind::Data, data) => {
                        chunks.push(data.len());
                        body.extend_from_slice(data);
                    }
                    (Kind::End, len) => {
                        assert_eq!(len, (body.len() as u32).to_be_bytes());
                        break;
                    }
                    (other, _) => panic!("unexpected {other:?}"),
                }
            }
        }
        all.push(Got {
            answer,
            body,
            chunks,
        });
    }
    all
}

fn response(got: &Got) -> Response<'static> {
    match got.answer {
        Answer::Response(r) => r,
        Answer::Fault(f) => panic!("fault {f:?}"),
    }
}

fn blob(first: u32, last: u32) -> Vec<u8> {
    (first..=last).map(blob_byte).collect()
}

#[test]
fn each_request_kind_is_answered_through_the_backend_in_max_chunk_pieces() {
    let dm_body: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let mut device = Vec::new();
    let dm = Request::PostDm {
        url: "http://bridge.test/dm",
        content_type: "application/vnd.syncml.dm+xml",
        hmac: Some("algorithm=MD5, username=\"u\", mac=m"),
    };
    request(&mut device, &dm, &dm_body, 256);
    let range = Request::GetRange {
        url: "http://bridge.test/blob/5000",
        offset: 100,
        length: Some(50),
        if_range: None,
    };
    request(&mut device, &range, b"", 16);
    let notify = Request::PostNotify {
        url: "http://bridge.test/notify",
        content_type: "text/plain",
    };
    request(&mut device, &notify, b"900 Success", 64);
    let (stats, backend, out) = run(&device);
    assert_eq!(
        stats,
        Ok(Stats {
            exchanges: 3,
            bad_requests: 0,
            bytes_in: 3000 + 11,
            bytes_out: 3000 + 50 + 21,
        })
    );
    assert_eq!(backend.seen.len(), 3);
    let got = answers(&out);
    assert_eq!(got.len(), 3);

    let r = response(&got[0]);
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, Some("application/vnd.syncml.dm+xml"));
    assert_eq!(r.hmac, Some("algorithm=MD5, username=\"u\", mac=m"));
    assert_eq!(
        got[0].body,
        dm_body.iter().rev().copied().collect::<Vec<_>>()
    );
    assert!(got[0].chunks.iter().all(|&n| n <= 256));

    let r = response(&got[1]);
    assert_eq!(r.status, 206);
    assert_eq!(r.content_range, Some("bytes 100-149/5000"));
    assert_eq!(r.content_length, Some(50));
    assert_eq!(r.etag, Some("\"blob-5000\""));
    assert_eq!(got[1].body, blob(100, 149));
    assert_eq!(got[1].chunks, vec![16, 16, 16, 2]);

    assert_eq!(response(&got[2]).status, 200);
    assert_eq!(got[2].body, b"notified: 900 Success");
}

#[test]
fn the_test_backend_answers_416_200_on_a_changed_validator_404_and_faults() {
    let mut device = Vec::new();
    let get = |url, offset, length, if_range| Request::GetRange {
        url,
        offset,
        length,
        if_range,
    };
    let blob300 = "http://bridge.test/blob/300";
    request(&mut device, &get(blob300, 300, None, None), b"", 64);
    request(
        &mut device,
        &get(blob300, 10, None, Some("\"old\"")),
        b"",
        64,
    );
    request(
        &mut device,
        &get(blob300, 10, None, Some("\"blob-300\"")),
        b"",
        64,
    );
    request(&mut device, &get(blob300, 0, None, None), b"", 64);
    request(
        &mut device,
        &get("http://bridge.test/nothing", 0, None, None),
        b"",
        64,
    );
    request(
        &mut device,
        &get("http://unreachable.test/x", 0, None, None),
        b"",
        64,
    );
    request(
        &mut device,
        &get("http://timeout.test/x", 0, None, None),
        b"",
        64,
    );
    let (stats, _, out) = run(&device);
    assert_eq!(stats.map(|s| s.exchanges), Ok(7));
    let got = answers(&out);
    let statuses: Vec<u16> = got[..5].iter().map(|g| response(g).status).collect();
    assert_eq!(statuses, vec![416, 200, 206, 200, 404]);
    assert_eq!(response(&got[0]).content_range, Some("bytes */300"));
    assert_eq!(got[1].body, blob(0, 299));
    assert_eq!(got[2].body, blob(10, 299));
    assert_eq!(got[3].body, blob(0, 299));
    assert_eq!(got[5].answer, Answer::Fault(Fault::Unreachable));
    assert_eq!(got[6].answer, Answer::Fault(Fault::Timeout));
}

#[test]
fn garbage_is_skipped_and_a_damaged_request_is_answered_bad_request() {
    let notify = Request::PostNotify {
        url: "http://bridge.test/notify",
        content_type: "text/plain",
    };
    let mut device = Vec::new();
    // Noise without a sync byte, then a good request.
    device.extend_from_slice(b"line noise \x00\x01\x02 before the first frame");
    request(&mut device, &notify, b"one", 64);
    // A request whose head is damaged: its body (an End) follows.
    let mut damaged = Vec::new();
    request(&mut damaged, &notify, b"", 64);
    damaged[6] ^= 0x40;
    device.extend_from_slice(&damaged);
    // A stray End with no head.
    serial::write_frame(&mut device, Kind::End, &0u32.to_be_bytes()).unwrap();
    // Then a good request again.
    request(&mut device, &notify, b"two", 64);
    let (stats, backend, out) = run(&device);
    let stats = stats.unwrap();
    assert_eq!((stats.exchanges, stats.bad_requests), (2, 2));
    assert_eq!(backend.seen.len(), 2);
    let got = answers(&out);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].body, b"notified: one");
    assert_eq!(got[1].answer, Answer::Fault(Fault::BadRequest));
    assert_eq!(got[2].answer, Answer::Fault(Fault::BadRequest));
    assert_eq!(got[3].body, b"notified: two");
}

#[test]
fn a_device_that_closes_the_line_inside_a_request_is_an_error() {
    let mut device = Vec::new();
    let notify = Request::PostNotify {
        url: "http://bridge.test/notify",
        content_type: "text/plain",
    };
    request(&mut device, &notify, &[9; 100], 64);
    for cut in [3, device.len() / 2, device.len() - 1] {
        let (stats, _, _) = run(&device[..cut]);
        assert!(
            matches!(stats, Err(Error::Truncated | Error::Eof)),
            "cut {cut}: {stats:?}"
        );
    }
    let (stats, _, _) = run(&[]);
    assert_eq!(stats, Ok(Stats::default()));
}
