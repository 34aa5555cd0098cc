//! The serial framing end to end: the firmware sends each kind of request over UART0, the
//! host bridge (`qemu-bridge`, the cargo runner) answers from its scripted test backend, and
//! the firmware checks every answer, including a file larger than its RAM streamed through a
//! 256-byte buffer.
#![no_std]
#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::convert::Infallible;

use embedded_io::{ErrorType, Write};
use scomo::drivers::serial::{self, Answer, Error, Fault, Kind, Request, Response};
use scomo::ops::range::{ContentRange, Resume, resume};
use scomo_qemu::board::{self, with_uart};
use scomo_qemu::{Outcome, ensure, ensure_eq, println, tests};

/// The size of the file streamed towards the firmware: 64 KiB on lm3s6965evb (its PL011
/// receives at about 150 KiB/s under QEMU), 16 KiB on mps2-an386 (its CMSDK UART receives
/// about 30 KiB/s). Both are more than lm3s6965evb's RAM can hold at once.
#[cfg(feature = "lm3s6965")]
const BULK: u32 = 64 * 1024;
#[cfg(feature = "mps2")]
const BULK: u32 = 16 * 1024;

/// Byte `i` of the test backend's `blob/<size>` files; the same function as
/// `scomo_bridge::test_backend::blob_byte` on the host.
fn blob_byte(i: u32) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ (i >> 16)) as u8
}

/// A sink that checks each byte against an expected function instead of storing it.
struct Expect<F: Fn(u32) -> u8> {
    expected: F,
    at: u32,
    wrong: u32,
}

impl<F: Fn(u32) -> u8> Expect<F> {
    fn new(expected: F) -> Self {
        Self {
            expected,
            at: 0,
            wrong: 0,
        }
    }
}

impl<F: Fn(u32) -> u8> ErrorType for Expect<F> {
    type Error = Infallible;
}

impl<F: Fn(u32) -> u8> Write for Expect<F> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            if b != (self.expected)(self.at) {
                self.wrong += 1;
            }
            self.at += 1;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// One exchange over UART0 with a 128-byte head buffer and a `CHUNK`-byte scratch buffer.
fn exchange<const CHUNK: usize, W: Write>(
    request: &Request<'_>,
    body: &[u8],
    sink: &mut W,
    check: impl FnOnce(Result<(Response<'_>, u32), Fault>) -> Outcome,
) -> Outcome {
    let (mut head, mut scratch) = ([0u8; 128], [0u8; CHUNK]);
    let answer =
        with_uart(|uart| serial::exchange(uart, request, body, &mut head, &mut scratch, sink));
    match answer {
        Ok(answer) => check(answer),
        Err(e) => {
            println!("    framing error: {:?}", e);
            ensure!(false);
            Ok(())
        }
    }
}

fn get<'a>(
    url: &'a str,
    offset: u32,
    length: Option<u32>,
    if_range: Option<&'a str>,
) -> Request<'a> {
    Request::GetRange {
        url,
        offset,
        length,
        if_range,
    }
}

const HMAC: &str = "algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g==";

fn post_dm_round_trips_content_type_hmac_and_a_multi_chunk_body() -> Outcome {
    let body: [u8; 3000] = core::array::from_fn(|i| (i % 251) as u8);
    let request = Request::PostDm {
        url: "http://bridge.test/dm",
        content_type: "application/vnd.syncml.dm+wbxml",
        hmac: Some(HMAC),
    };
    // The backend answers with the body reversed.
    let mut sink = Expect::new(|i| ((2999 - i) % 251) as u8);
    exchange::<512, _>(&request, &body, &mut sink, |answer| {
        let (response, len) = answer.unwrap();
        ensure_eq!(response.status, 200);
        ensure_eq!(
            response.content_type,
            Some("application/vnd.syncml.dm+wbxml")
        );
        ensure_eq!(response.hmac, Some(HMAC));
        ensure_eq!(len, 3000);
        Ok(())
    })?;
    ensure_eq!((sink.at, sink.wrong), (3000, 0));
    Ok(())
}

fn get_range_streams_a_file_larger_than_ram_through_256_bytes() -> Outcome {
    let mut url: heapless::String<48> = heapless::String::new();
    core::fmt::write(&mut url, format_args!("http://bridge.test/blob/{BULK}")).unwrap();
    let mut sink = Expect::new(blob_byte);
    exchange::<256, _>(&get(&url, 0, Some(BULK), None), b"", &mut sink, |answer| {
        let (response, len) = answer.unwrap();
        ensure_eq!(response.status, 206);
        ensure_eq!(
            response.content_range.map(ContentRange::parse),
            Some(Ok(ContentRange::Bytes {
                first: 0,
                last: u64::from(BULK) - 1,
                complete_length: Some(u64::from(BULK)),
            }))
        );
        ensure_eq!(response.content_length, Some(BULK));
        ensure!(response.etag.is_some());
        ensure_eq!(len, BULK);
        Ok(())
    })?;
    ensure_eq!((sink.at, sink.wrong), (BULK, 0));
    Ok(())
}

fn get_range_resumes_from_an_offset_206() -> Outcome {
    let mut sink = Expect::new(|i| blob_byte(900 + i));
    exchange::<256, _>(
        &get(
            "http://bridge.test/blob/1000",
            900,
            None,
            Some("\"blob-1000\""),
        ),
        b"",
        &mut sink,
        |answer| {
            let (response, len) = answer.unwrap();
            ensure_eq!(response.status, 206);
            // The core's resume rule accepts the answer as the continuation at byte 900.
            ensure_eq!(
                resume(900, response.status, response.content_range),
                Ok(Resume::Continue {
                    complete_length: Some(1000)
                })
            );
            ensure_eq!(response.etag, Some("\"blob-1000\""));
            ensure_eq!(len, 100);
            Ok(())
        },
    )?;
    ensure_eq!(sink.wrong, 0);
    Ok(())
}

fn get_range_with_a_changed_validator_gets_the_whole_file_200() -> Outcome {
    let mut sink = Expect::new(blob_byte);
    exchange::<256, _>(
        &get("http://bridge.test/blob/300", 120, None, Some("\"stale\"")),
        b"",
        &mut sink,
        |answer| {
            let (response, len) = answer.unwrap();
            ensure_eq!(response.status, 200);
            ensure_eq!(response.content_range, None);
            ensure_eq!(resume(120, response.status, None), Ok(Resume::Restart));
            ensure_eq!(response.content_length, Some(300));
            ensure_eq!(len, 300);
            Ok(())
        },
    )?;
    ensure_eq!(sink.wrong, 0);
    Ok(())
}

fn get_range_past_the_end_is_416_and_unknown_url_404() -> Outcome {
    let mut sink = Expect::new(|_| 0);
    exchange::<64, _>(
        &get("http://bridge.test/blob/300", 300, None, None),
        b"",
        &mut sink,
        |answer| {
            let (response, len) = answer.unwrap();
            ensure_eq!((response.status, len), (416, 0));
            ensure_eq!(
                response.content_range.map(ContentRange::parse),
                Some(Ok(ContentRange::Unsatisfied {
                    complete_length: 300
                }))
            );
            Ok(())
        },
    )?;
    exchange::<64, _>(
        &get("http://bridge.test/missing", 0, None, None),
        b"",
        &mut sink,
        |answer| {
            ensure_eq!(answer.map(|(r, _)| r.status), Ok(404));
            Ok(())
        },
    )
}

fn post_notify_delivers_the_report() -> Outcome {
    let request = Request::PostNotify {
        url: "http://bridge.test/notify",
        content_type: "text/plain",
    };
    let mut out = [0u8; 64];
    let mut sink: &mut [u8] = &mut out;
    exchange::<64, _>(&request, b"900 Success", &mut sink, |answer| {
        let (response, len) = answer.unwrap();
        ensure_eq!(response.status, 200);
        ensure_eq!(len, 21);
        Ok(())
    })?;
    ensure_eq!(&out[..21], b"notified: 900 Success");
    Ok(())
}

fn an_unreachable_server_is_a_fault_not_a_response() -> Outcome {
    let mut sink = Expect::new(|_| 0);
    exchange::<64, _>(
        &get("http://unreachable.test/pkg", 0, None, None),
        b"",
        &mut sink,
        |answer| {
            ensure_eq!(answer.map(|_| ()), Err(Fault::Unreachable));
            Ok(())
        },
    )
}

fn a_damaged_request_is_answered_bad_request_and_the_line_recovers() -> Outcome {
    // A request head whose CRC is wrong, then its (empty) body's End.
    let mut frame = [0u8; 64];
    let n = {
        let mut w: &mut [u8] = &mut frame;
        serial::write_frame(&mut w, Kind::PostNotify, b"\x01\x00\x01x").unwrap();
        64 - w.len()
    };
    frame[n - 1] ^= 0xFF;
    let mut head = [0u8; 16];
    let answer = with_uart(|uart| -> Result<Fault, Error> {
        uart.write_all(b"noise before the frame").unwrap();
        uart.write_all(&frame[..n]).unwrap();
        serial::write_frame(uart, Kind::End, &0u32.to_be_bytes())?;
        uart.flush().unwrap();
        match serial::recv_answer(uart, &mut head)? {
            Answer::Fault(fault) => Ok(fault),
            Answer::Response(_) => Err(Error::Unexpected(Kind::Response)),
        }
    });
    ensure_eq!(answer, Ok(Fault::BadRequest));
    // The next request is served normally.
    post_notify_delivers_the_report()
}

#[cortex_m_rt::entry]
fn main() -> ! {
    println!("serial framing on {}", board::DESCRIPTION);
    scomo_qemu::run(tests![
        post_dm_round_trips_content_type_hmac_and_a_multi_chunk_body,
        get_range_streams_a_file_larger_than_ram_through_256_bytes,
        get_range_resumes_from_an_offset_206,
        get_range_with_a_changed_validator_gets_the_whole_file_200,
        get_range_past_the_end_is_416_and_unknown_url_404,
        post_notify_delivers_the_report,
        an_unreachable_server_is_a_fault_not_a_response,
        a_damaged_request_is_answered_bad_request_and_the_line_recovers,
    ])
}
