use super::*;

/// A byte stream for tests: reads from `input`, writes into `output`.
struct Duplex<'a> {
    input: &'a [u8],
    output: &'a mut [u8],
    written: usize,
}

impl<'a> Duplex<'a> {
    fn new(input: &'a [u8], output: &'a mut [u8]) -> Self {
        Self {
            input,
            output,
            written: 0,
        }
    }

    fn written(&self) -> &[u8] {
        &self.output[..self.written]
    }
}

impl embedded_io::ErrorType for Duplex<'_> {
    type Error = IoErrorKind;
}

impl Read for Duplex<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoErrorKind> {
        self.input.read(buf).map_err(|e| match e {})
    }
}

impl Write for Duplex<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoErrorKind> {
        let mut rest = &mut self.output[self.written..];
        let n = rest.write(buf).map_err(|_| IoErrorKind::OutOfMemory)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), IoErrorKind> {
        Ok(())
    }
}

/// Writes with `f` into `buf` and returns the bytes written.
fn encode(buf: &mut [u8], f: impl FnOnce(&mut &mut [u8]) -> Result<(), Error>) -> &[u8] {
    let total = buf.len();
    let mut w: &mut [u8] = buf;
    f(&mut w).unwrap();
    let left = w.len();
    &buf[..total - left]
}

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 8)) as u8
}

const POST_DM: Request<'static> = Request::PostDm {
    url: "http://dm.example/dm",
    content_type: "application/vnd.syncml.dm+wbxml",
    hmac: Some("algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g=="),
};

#[test]
fn the_crc_is_crc16_ibm_3740_by_its_catalog_check_value() {
    assert_eq!(CRC.checksum(b"123456789"), 0x29B1);
}

#[test]
fn a_frame_is_sync_kind_length_payload_crc() {
    let mut buf = [0u8; 32];
    let bytes = encode(&mut buf, |w| write_frame(w, Kind::End, &[0, 0, 1, 2]));
    let crc = CRC.checksum(&[0x11, 0, 4, 0, 0, 1, 2]).to_be_bytes();
    assert_eq!(bytes, &[0xA5, 0x11, 0, 4, 0, 0, 1, 2, crc[0], crc[1]][..]);
    assert_eq!(bytes.len(), 4 + FRAME_OVERHEAD);
}

#[test]
fn kinds_tags_and_faults_round_trip_through_their_bytes() {
    for &k in Kind::ALL {
        assert_eq!(Kind::from_code(k.code()), Some(k));
    }
    for &t in Tag::ALL {
        assert_eq!(Tag::from_code(t.code()), Some(t));
    }
    for &f in Fault::ALL {
        assert_eq!(Fault::from_code(f.code()), Some(f));
    }
    assert_eq!(Kind::from_code(0), None);
    assert_eq!(Fault::from_code(0), None);
}

#[test]
fn every_request_kind_round_trips_with_its_body() {
    let requests = [
        POST_DM,
        Request::PostDm {
            url: "http://dm.example/dm",
            content_type: "application/vnd.syncml.dm+xml",
            hmac: None,
        },
        Request::GetRange {
            url: "http://files.example/pkg.bin",
            offset: 4096,
            length: Some(1024),
            if_range: Some("\"v1\""),
        },
        Request::GetRange {
            url: "http://files.example/pkg.bin",
            offset: 0,
            length: None,
            if_range: None,
        },
        Request::PostNotify {
            url: "http://dm.example/notify",
            content_type: "text/plain",
        },
    ];
    for request in requests {
        let body: &[u8] = match request {
            Request::GetRange { .. } => b"",
            _ => b"<SyncML>...</SyncML>",
        };
        let mut wire = [0u8; 2048];
        let bytes = encode(&mut wire, |w| send_request(w, &request, body, 300));
        let mut r = bytes;
        let mut head = [0u8; 256];
        let got = recv_request(&mut r, &mut head).unwrap();
        assert_eq!(got.request, request);
        assert_eq!(got.max_chunk, 300);
        let mut scratch = [0u8; MAX_PAYLOAD];
        let mut out = [0u8; 64];
        let mut sink: &mut [u8] = &mut out;
        assert_eq!(
            recv_body(&mut r, &mut scratch, &mut sink).unwrap() as usize,
            body.len()
        );
        assert_eq!(&out[..body.len()], body);
        assert!(r.is_empty());
    }
}

#[test]
fn a_response_round_trips_with_every_field_and_with_none() {
    let full = Response {
        status: 206,
        content_type: Some("application/octet-stream"),
        hmac: Some("algorithm=MD5, username=\"srv\", mac=x"),
        etag: Some("\"abc\""),
        content_range: Some("bytes 100-199/65536"),
        content_length: Some(100),
    };
    let bare = Response {
        status: 404,
        ..Response::default()
    };
    for response in [full, bare] {
        let mut wire = [0u8; 512];
        let bytes = encode(&mut wire, |w| send_response(w, &response, b"", 64));
        let mut r = bytes;
        let mut head = [0u8; 256];
        assert_eq!(
            recv_answer(&mut r, &mut head).unwrap(),
            Answer::Response(response)
        );
    }
}

#[test]
fn a_fault_round_trips_and_carries_no_body() {
    for &fault in Fault::ALL {
        let mut wire = [0u8; 16];
        let bytes = encode(&mut wire, |w| send_fault(w, fault));
        let mut r = bytes;
        let mut head = [0u8; 16];
        assert_eq!(recv_answer(&mut r, &mut head), Ok(Answer::Fault(fault)));
        assert!(r.is_empty());
    }
}

#[test]
fn a_large_body_streams_through_a_small_scratch_buffer_in_max_chunk_pieces() {
    let body: [u8; 3000] = core::array::from_fn(pattern);
    let mut wire = [0u8; 4096];
    let bytes = encode(&mut wire, |w| send_body(w, &body, 256));
    // 11 full chunks and one of 184 bytes, each framed, then End.
    assert_eq!(bytes.len(), 3000 + 12 * FRAME_OVERHEAD + 4 + FRAME_OVERHEAD);
    let mut r = bytes;
    let mut scratch = [0u8; 256];
    let mut out = [0u8; 3000];
    let mut sink: &mut [u8] = &mut out;
    assert_eq!(recv_body(&mut r, &mut scratch, &mut sink), Ok(3000));
    assert_eq!(out, body);
}

#[test]
fn exchange_sends_the_request_and_returns_the_response_and_body() {
    let body: [u8; 1500] = core::array::from_fn(pattern);
    let response = Response {
        status: 200,
        content_type: Some("application/vnd.syncml.dm+wbxml"),
        hmac: Some("algorithm=MD5, username=\"srv\", mac=y"),
        ..Response::default()
    };
    let mut answer = [0u8; 2048];
    let answer = encode(&mut answer, |w| send_response(w, &response, &body, 512));
    let mut sent = [0u8; 512];
    let mut link = Duplex::new(answer, &mut sent);
    let (mut head, mut scratch, mut out) = ([0u8; 128], [0u8; 512], [0u8; 1500]);
    let mut sink: &mut [u8] = &mut out;
    let got = exchange(
        &mut link,
        &POST_DM,
        b"<SyncML/>",
        &mut head,
        &mut scratch,
        &mut sink,
    )
    .unwrap();
    assert_eq!(got, Ok((response, 1500)));
    assert_eq!(out, body);
    // What went out is the request, announcing the scratch size as max chunk.
    let mut r = link.written();
    let mut h = [0u8; 256];
    let got = recv_request(&mut r, &mut h).unwrap();
    assert_eq!((got.request, got.max_chunk), (POST_DM, 512));
}

#[test]
fn exchange_skips_an_answer_whose_head_does_not_fit_and_stays_in_step() {
    let long = Response {
        status: 200,
        etag: Some(core::str::from_utf8(&[b'e'; 200]).unwrap()),
        ..Response::default()
    };
    let mut answer = [0u8; 2048];
    let n = {
        let mut w: &mut [u8] = &mut answer;
        send_response(&mut w, &long, &[1; 700], 256).unwrap();
        send_fault(&mut w, Fault::Timeout).unwrap();
        2048 - w.len()
    };
    let mut sent = [0u8; 512];
    let mut link = Duplex::new(&answer[..n], &mut sent);
    let (mut head, mut scratch) = ([0u8; 64], [0u8; 256]);
    let mut sink: &mut [u8] = &mut [0u8; 1024];
    let request = Request::GetRange {
        url: "u",
        offset: 0,
        length: None,
        if_range: None,
    };
    assert_eq!(
        exchange(&mut link, &request, b"", &mut head, &mut scratch, &mut sink),
        Err(Error::TooLong(5 + 3 + 200)) // status and ETag fields
    );
    // The next answer is read cleanly.
    assert_eq!(
        exchange(&mut link, &request, b"", &mut head, &mut scratch, &mut sink),
        Ok(Err(Fault::Timeout))
    );
}

#[test]
fn a_full_sink_fails_the_body_but_the_stream_stays_in_step() {
    let body = [7u8; 900];
    let mut wire = [0u8; 2048];
    let n = {
        let mut w: &mut [u8] = &mut wire;
        send_body(&mut w, &body, 256).unwrap();
        send_fault(&mut w, Fault::Internal).unwrap();
        2048 - w.len()
    };
    let mut r = &wire[..n];
    let mut scratch = [0u8; 256];
    let mut small = [0u8; 300];
    let mut sink: &mut [u8] = &mut small;
    assert!(matches!(
        recv_body(&mut r, &mut scratch, &mut sink),
        Err(Error::Sink(_))
    ));
    let mut head = [0u8; 8];
    assert_eq!(
        recv_answer(&mut r, &mut head),
        Ok(Answer::Fault(Fault::Internal))
    );
}

#[test]
fn a_chunk_larger_than_the_scratch_buffer_is_skipped_and_reported_at_the_end() {
    let body = [3u8; 600];
    let mut wire = [0u8; 2048];
    let n = {
        let mut w: &mut [u8] = &mut wire;
        send_body(&mut w, &body, 600).unwrap();
        send_fault(&mut w, Fault::Internal).unwrap();
        2048 - w.len()
    };
    let mut r = &wire[..n];
    let mut scratch = [0u8; 100];
    let mut out = [0u8; 600];
    let mut sink: &mut [u8] = &mut out;
    assert_eq!(
        recv_body(&mut r, &mut scratch, &mut sink),
        Err(Error::TooLong(600))
    );
    let mut head = [0u8; 8];
    assert_eq!(
        recv_answer(&mut r, &mut head),
        Ok(Answer::Fault(Fault::Internal))
    );
}

#[test]
fn every_single_bit_flip_of_a_frame_is_detected() {
    let mut wire = [0u8; 64];
    let frame = encode(&mut wire, |w| {
        write_frame(w, Kind::Data, b"0123456789abcdef")
    });
    let frame: heapless::Vec<u8, 64> = heapless::Vec::from_slice(frame).unwrap();
    for i in 0..frame.len() {
        for bit in 0..8 {
            let mut bad = frame.clone();
            bad[i] ^= 1 << bit;
            let mut r = &bad[..];
            let mut buf = [0u8; 64];
            assert!(
                read_frame(&mut r, &mut buf).is_err(),
                "byte {i} bit {bit} went unnoticed"
            );
        }
    }
}

#[test]
fn a_stream_cut_anywhere_inside_a_frame_is_truncated_not_a_frame() {
    let mut wire = [0u8; 64];
    let frame = encode(&mut wire, |w| write_frame(w, Kind::Data, b"abcdef"));
    for cut in 0..frame.len() {
        let mut r = &frame[..cut];
        let mut buf = [0u8; 64];
        let want = if cut == 0 {
            Error::Eof
        } else {
            Error::Truncated
        };
        assert_eq!(read_frame(&mut r, &mut buf), Err(want), "cut at {cut}");
    }
}

#[test]
fn garbage_before_a_frame_is_skipped_up_to_one_frame_length() {
    let mut wire = [0u8; 2 * MAX_FRAME + 64];
    let mut frame_bytes = [0u8; 32];
    let frame = encode(&mut frame_bytes, |w| write_frame(w, Kind::End, &[0; 4]));
    // Just under the limit: found.
    let garbage = MAX_FRAME - 1;
    wire[..garbage].fill(0x55);
    wire[garbage..garbage + frame.len()].copy_from_slice(frame);
    let mut r = &wire[..garbage + frame.len()];
    let mut buf = [0u8; 8];
    assert_eq!(read_frame(&mut r, &mut buf), Ok((Kind::End, &[0u8; 4][..])));
    // At the limit: refused, however long the garbage.
    let garbage = MAX_FRAME;
    wire[..garbage].fill(0x55);
    wire[garbage..garbage + frame.len()].copy_from_slice(frame);
    let mut r = &wire[..garbage + frame.len()];
    assert_eq!(read_frame(&mut r, &mut buf), Err(Error::NoSync));
}

#[test]
fn a_length_above_the_maximum_is_not_a_frame() {
    let mut r: &[u8] = &[SYNC, 0x10, 0x04, 0x01, 0, 0];
    let mut buf = [0u8; 2048];
    assert_eq!(read_frame(&mut r, &mut buf), Err(Error::BadLength(1025)));
}

#[test]
fn an_unknown_kind_with_a_good_crc_is_skipped_in_step() {
    let crc = CRC.checksum(&[0x42, 0, 1, 9]).to_be_bytes();
    let mut wire = [0u8; 64];
    wire[..7].copy_from_slice(&[SYNC, 0x42, 0, 1, 9, crc[0], crc[1]]);
    let n = 7 + encode(&mut wire[7..], |w| send_fault(w, Fault::Unreachable)).len();
    let mut r = &wire[..n];
    let mut buf = [0u8; 16];
    assert_eq!(read_frame(&mut r, &mut buf), Err(Error::UnknownKind(0x42)));
    assert_eq!(
        recv_answer(&mut r, &mut buf),
        Ok(Answer::Fault(Fault::Unreachable))
    );
}

/// A head field as raw bytes: (tag, value).
type RawField<'a> = (u8, &'a [u8]);

/// A head frame with the given fields, checksummed.
fn head_frame<'b>(buf: &'b mut [u8], kind: Kind, fields: &[RawField<'_>]) -> &'b [u8] {
    let mut payload = heapless::Vec::<u8, 512>::new();
    for (tag, value) in fields {
        payload.push(*tag).unwrap();
        payload
            .extend_from_slice(&(value.len() as u16).to_be_bytes())
            .unwrap();
        payload.extend_from_slice(value).unwrap();
    }
    encode(buf, |w| write_frame(w, kind, &payload))
}

#[test]
fn heads_with_missing_or_malformed_fields_are_refused_as_malformed() {
    let url = (Tag::Url.code(), &b"http://x"[..]);
    let ct = (Tag::ContentType.code(), &b"text/plain"[..]);
    let malformed = Error::Malformed;
    let cases: [(Kind, &[RawField<'_>], Error); 8] = [
        (Kind::PostDm, &[ct], malformed),      // no URL
        (Kind::PostDm, &[url], malformed),     // no content type
        (Kind::PostNotify, &[url], malformed), // no content type
        (
            Kind::GetRange,
            &[url, (Tag::Offset.code(), &[0, 1])],
            malformed,
        ), // offset not 4 bytes
        (
            Kind::GetRange,
            &[url, (Tag::MaxChunk.code(), &[0, 0])],
            malformed,
        ), // max chunk 0
        (
            Kind::GetRange,
            &[(Tag::Url.code(), &[0xff, 0xfe])],
            malformed,
        ), // URL not UTF-8
        (Kind::Response, &[url], Error::Unexpected(Kind::Response)), // not a request
        (Kind::End, &[], Error::Unexpected(Kind::End)), // not a request
    ];
    for (i, (kind, fields, want)) in cases.iter().enumerate() {
        let mut wire = [0u8; 256];
        let mut r = head_frame(&mut wire, *kind, fields);
        let mut head = [0u8; 256];
        assert_eq!(recv_request(&mut r, &mut head), Err(*want), "case {i}");
    }
    // An End's length is not a head: a request read finds it unexpected, not malformed.
    let mut wire = [0u8; 64];
    let mut r = encode(&mut wire, |w| write_frame(w, Kind::End, &[0; 4]));
    let mut head = [0u8; 64];
    assert_eq!(
        recv_request(&mut r, &mut head),
        Err(Error::Unexpected(Kind::End))
    );
    // A field whose length runs past the payload.
    let mut r = encode(&mut wire, |w| {
        write_frame(w, Kind::GetRange, &[1, 0, 9, b'x'])
    });
    assert_eq!(recv_request(&mut r, &mut head), Err(Error::Malformed));
    // A payload ending inside a field header.
    let mut r = encode(&mut wire, |w| write_frame(w, Kind::GetRange, &[1, 0]));
    assert_eq!(recv_request(&mut r, &mut head), Err(Error::Malformed));
    // A response without a status.
    let mut r = head_frame(&mut wire, Kind::Response, &[ct]);
    assert_eq!(recv_answer(&mut r, &mut head), Err(Error::Malformed));
}

#[test]
fn unknown_tags_are_skipped_so_newer_peers_can_add_fields() {
    let mut wire = [0u8; 128];
    let mut r = head_frame(
        &mut wire,
        Kind::GetRange,
        &[
            (200, b"future"),
            (Tag::Url.code(), b"http://x"),
            (Tag::Length.code(), &[0, 0, 0, 5]),
        ],
    );
    let mut head = [0u8; 128];
    let got = recv_request(&mut r, &mut head).unwrap();
    assert_eq!(
        got.request,
        Request::GetRange {
            url: "http://x",
            offset: 0,
            length: Some(5),
            if_range: None,
        }
    );
    assert_eq!(got.max_chunk, MAX_PAYLOAD);
}

#[test]
fn an_end_announcing_another_length_is_a_length_mismatch() {
    let mut wire = [0u8; 64];
    let n = {
        let mut w: &mut [u8] = &mut wire;
        write_frame(&mut w, Kind::Data, b"abc").unwrap();
        write_frame(&mut w, Kind::End, &4u32.to_be_bytes()).unwrap();
        64 - w.len()
    };
    let mut r = &wire[..n];
    let (mut scratch, mut out) = ([0u8; 16], [0u8; 16]);
    let mut sink: &mut [u8] = &mut out;
    assert_eq!(
        recv_body(&mut r, &mut scratch, &mut sink),
        Err(Error::LengthMismatch)
    );
}

#[test]
fn a_head_that_does_not_fit_one_frame_is_refused_before_anything_is_sent() {
    let url = core::str::from_utf8(&[b'u'; 1100]).unwrap();
    let request = Request::PostNotify {
        url,
        content_type: "text/plain",
    };
    let mut wire = [0u8; 2048];
    let mut w: &mut [u8] = &mut wire;
    assert_eq!(
        send_request(&mut w, &request, b"x", 64),
        Err(Error::HeadTooLarge)
    );
    assert_eq!(w.len(), 2048);
    let mut w: &mut [u8] = &mut wire;
    assert_eq!(
        write_frame(&mut w, Kind::Data, &[0; MAX_PAYLOAD + 1]),
        Err(Error::HeadTooLarge)
    );
    assert_eq!(w.len(), 2048);
}

#[test]
fn stream_failures_are_reported_as_io_errors() {
    let mut wire = [0u8; 8];
    let mut link = Duplex::new(&[], &mut wire);
    assert_eq!(
        send_request(&mut link, &POST_DM, b"", 64),
        Err(Error::Io(IoErrorKind::OutOfMemory))
    );
}
