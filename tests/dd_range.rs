#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Resuming a download with Range / Content-Range (digest 9.4).
use proptest::prelude::*;
use scomo::ops::range::{ContentRange, MAX_RANGE_LEN, RangeError, Resume, resume, write_range};

#[test]
fn the_range_header_asks_for_the_rest_from_the_offset() {
    let mut out = [0u8; MAX_RANGE_LEN];
    assert_eq!(write_range(0, &mut out), Ok("bytes=0-"));
    assert_eq!(write_range(1_048_576, &mut out), Ok("bytes=1048576-"));
    assert_eq!(
        write_range(u64::MAX, &mut out),
        Ok("bytes=18446744073709551615-")
    );
    let mut short = [0u8; 8];
    assert_eq!(write_range(10, &mut short), Err(RangeError::BufferTooSmall));
}

#[test]
fn content_range_forms_parse() {
    assert_eq!(
        ContentRange::parse("bytes 100-199/1000"),
        Ok(ContentRange::Bytes {
            first: 100,
            last: 199,
            complete_length: Some(1000)
        })
    );
    assert_eq!(
        ContentRange::parse("  Bytes  0-0/*  "),
        Ok(ContentRange::Bytes {
            first: 0,
            last: 0,
            complete_length: None
        })
    );
    assert_eq!(
        ContentRange::parse("bytes */1000"),
        Ok(ContentRange::Unsatisfied {
            complete_length: 1000
        })
    );
}

#[test]
fn malformed_content_ranges_are_refused_not_panicked_on() {
    for bad in [
        "",
        "bytes",
        "bytes ",
        "items 0-1/2",
        "bytes 0-1",
        "bytes 2-1/10",
        "bytes 0-10/10",
        "bytes -1-2/3",
        "bytes 0-/10",
        "bytes -5/10",
        "bytes 0-1/",
        "bytes */*",
        "bytes 0-18446744073709551616/*",
        "bytes 0-1/2/3",
        "bytes +0-1/2",
        "bytes 0 - 1/2",
        "bytes=0-1/2",
        "bytes 0-1/2x",
    ] {
        assert_eq!(
            ContentRange::parse(bad),
            Err(RangeError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn a_206_from_the_requested_offset_continues() {
    assert_eq!(
        resume(500, 206, Some("bytes 500-999/1000")),
        Ok(Resume::Continue {
            complete_length: Some(1000)
        })
    );
    assert_eq!(
        resume(500, 206, Some("bytes 500-999/*")),
        Ok(Resume::Continue {
            complete_length: None
        })
    );
}

#[test]
fn a_206_from_elsewhere_or_without_content_range_cannot_be_appended() {
    assert_eq!(
        resume(500, 206, Some("bytes 0-999/1000")),
        Err(RangeError::Mismatch)
    );
    assert_eq!(
        resume(500, 206, Some("bytes 501-999/1000")),
        Err(RangeError::Mismatch)
    );
    assert_eq!(
        resume(500, 206, Some("bytes */1000")),
        Err(RangeError::Mismatch)
    );
    assert_eq!(resume(500, 206, None), Err(RangeError::Missing));
    assert_eq!(
        resume(500, 206, Some("garbage")),
        Err(RangeError::Malformed)
    );
}

#[test]
fn a_200_restarts_from_zero() {
    assert_eq!(resume(500, 200, None), Ok(Resume::Restart));
    assert_eq!(
        resume(500, 200, Some("bytes 500-999/1000")),
        Ok(Resume::Restart)
    );
}

#[test]
fn a_416_is_complete_only_when_the_object_is_exactly_what_we_kept() {
    assert_eq!(
        resume(1000, 416, Some("bytes */1000")),
        Ok(Resume::Complete)
    );
    assert_eq!(resume(1200, 416, Some("bytes */1000")), Ok(Resume::Restart));
    assert_eq!(resume(1000, 416, None), Ok(Resume::Restart));
    assert_eq!(resume(1000, 416, Some("junk")), Ok(Resume::Restart));
}

#[test]
fn other_statuses_are_left_to_the_caller() {
    assert_eq!(resume(0, 404, None), Err(RangeError::UnexpectedStatus(404)));
    assert_eq!(resume(0, 503, None), Err(RangeError::UnexpectedStatus(503)));
}

proptest! {
    #[test]
    fn random_content_range_values_never_panic(value in "\\PC{0,40}") {
        if let Ok(ContentRange::Bytes { first, last, complete_length }) = ContentRange::parse(&value) {
            prop_assert!(first <= last);
            prop_assert!(complete_length.is_none_or(|n| last < n));
        }
        let _ = resume(7, 206, Some(&value));
    }

    #[test]
    fn written_ranges_name_their_offset(offset in any::<u64>()) {
        let mut out = [0u8; MAX_RANGE_LEN];
        let text = write_range(offset, &mut out).unwrap();
        prop_assert_eq!(text, format!("bytes={offset}-"));
        let back = ContentRange::parse(&format!("bytes {offset}-{offset}/*")).unwrap();
        prop_assert_eq!(back, ContentRange::Bytes { first: offset, last: offset, complete_length: None });
    }
}
