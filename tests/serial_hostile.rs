#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The serial framing against hostile and random input: nothing panics, every call ends,
//! and every valid message survives the trip.
use proptest::prelude::*;
use scomo::drivers::serial::{self, Answer, Error, Kind, MAX_PAYLOAD, Request, Response};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random bytes read as frames: every call returns, each consumes input, none panics.
    #[test]
    fn random_bytes_never_panic_and_reading_them_ends(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut r = &bytes[..];
        let mut buf = [0u8; 256];
        let mut calls = 0;
        loop {
            let before = r.len();
            match serial::read_frame(&mut r, &mut buf) {
                Err(Error::Eof | Error::Truncated) => break,
                _ => prop_assert!(r.len() < before, "a call consumed nothing"),
            }
            calls += 1;
            prop_assert!(calls <= bytes.len());
        }
    }

    /// Random bytes fed to every reading entry point: errors, never panics.
    #[test]
    fn random_bytes_through_every_reader_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (mut head, mut scratch, mut out) = ([0u8; 256], [0u8; 128], [0u8; 512]);
        let mut r = &bytes[..];
        let _ = serial::recv_request(&mut r, &mut head);
        let mut r = &bytes[..];
        let _ = serial::recv_answer(&mut r, &mut head);
        let mut r = &bytes[..];
        let mut sink: &mut [u8] = &mut out;
        let _ = serial::recv_body(&mut r, &mut scratch, &mut sink);
        let mut r = &bytes[..];
        let _ = serial::skip_body(&mut r, &mut scratch);
    }

    /// Random payloads behind a valid CRC reach the head decoders: errors, never panics.
    #[test]
    fn random_head_payloads_never_panic(payload in prop::collection::vec(any::<u8>(), 0..MAX_PAYLOAD)) {
        for &kind in Kind::ALL {
            let _ = serial::decode_request(kind, &payload);
        }
        let _ = serial::decode_response(&payload);
        let mut wire = vec![0u8; payload.len() + 16];
        let mut w = &mut wire[..];
        serial::write_frame(&mut w, Kind::Response, &payload).unwrap();
        let mut r = &wire[..];
        let mut head = [0u8; MAX_PAYLOAD];
        let _ = serial::recv_answer(&mut r, &mut head);
    }

    /// Any request that fits a frame comes out as it went in, with its body.
    #[test]
    fn any_get_range_round_trips(
        url in "[ -~]{1,300}",
        offset in any::<u32>(),
        length in proptest::option::of(any::<u32>()),
        if_range in proptest::option::of("[ -~]{0,64}"),
        max_chunk in 1usize..=MAX_PAYLOAD,
    ) {
        let request = Request::GetRange { url: &url, offset, length, if_range: if_range.as_deref() };
        let mut wire = vec![0u8; 2048];
        let mut w = &mut wire[..];
        serial::send_request(&mut w, &request, b"", max_chunk).unwrap();
        let mut r = &wire[..];
        let mut head = [0u8; MAX_PAYLOAD];
        let got = serial::recv_request(&mut r, &mut head).unwrap();
        prop_assert_eq!(got.request, request);
        prop_assert_eq!(got.max_chunk, max_chunk);
    }

    /// Any response head and body come out as they went in, whatever the chunk size.
    #[test]
    fn any_response_round_trips(
        status in any::<u16>(),
        etag in proptest::option::of("[ -~]{0,100}"),
        content_range in proptest::option::of("[ -~]{0,60}"),
        content_length in proptest::option::of(any::<u32>()),
        body in prop::collection::vec(any::<u8>(), 0..5000),
        chunk in 1usize..=MAX_PAYLOAD,
    ) {
        let response = Response {
            status,
            etag: etag.as_deref(),
            content_range: content_range.as_deref(),
            content_length,
            ..Response::default()
        };
        let mut wire = vec![0u8; body.len() + (body.len() / chunk + 3) * 6 + 256];
        let mut w = &mut wire[..];
        serial::send_response(&mut w, &response, &body, chunk).unwrap();
        let mut r = &wire[..];
        let (mut head, mut scratch) = ([0u8; 512], vec![0u8; chunk]);
        prop_assert_eq!(serial::recv_answer(&mut r, &mut head).unwrap(), Answer::Response(response));
        let mut out = vec![0u8; body.len()];
        let mut sink = &mut out[..];
        prop_assert_eq!(serial::recv_body(&mut r, &mut scratch, &mut sink).unwrap() as usize, body.len());
        prop_assert_eq!(out, body);
    }
}
