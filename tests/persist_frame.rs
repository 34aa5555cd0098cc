//! Record framing: a torn or flipped record is always rejected, never mis-read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use minicbor::decode::Error as DecodeError;
use minicbor::encode::{Error as EncodeError, Write};
use minicbor::{Decode, Decoder, Encode, Encoder};
use proptest::prelude::*;
use scomo::persist::frame::{self, FRAME_OVERHEAD, FrameError};

/// A journal-like record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Job<'a> {
    correlator: &'a str,
    offset: u64,
    state: u8,
    done: bool,
}

impl Encode<()> for Job<'_> {
    fn encode<W: Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut (),
    ) -> Result<(), EncodeError<W::Error>> {
        e.array(4)?
            .str(self.correlator)?
            .u64(self.offset)?
            .u8(self.state)?
            .bool(self.done)?;
        Ok(())
    }
}

impl<'b> Decode<'b, ()> for Job<'b> {
    fn decode(d: &mut Decoder<'b>, _: &mut ()) -> Result<Self, DecodeError> {
        if d.array()? != Some(4) {
            return Err(DecodeError::message("job is 4 values"));
        }
        Ok(Self {
            correlator: d.str()?,
            offset: d.u64()?,
            state: d.u8()?,
            done: d.bool()?,
        })
    }
}

fn job() -> Job<'static> {
    Job {
        correlator: "corr-0042",
        offset: 81_920,
        state: 30,
        done: false,
    }
}

fn encoded() -> Vec<u8> {
    let mut buf = [0u8; 128];
    let len = frame::encode(3, &job(), &mut buf).unwrap();
    buf[..len].to_vec()
}

#[test]
fn a_frame_round_trips_and_carries_its_version() {
    let bytes = encoded();
    assert_eq!(frame::decode::<Job<'_>>(3, &bytes).unwrap(), job());
    assert_eq!(frame::version(&bytes), Ok(3));
    assert_eq!(
        frame::decode::<Job<'_>>(4, &bytes),
        Err(FrameError::Version { found: 3 })
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let bytes = encoded();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let result = frame::decode::<Job<'_>>(3, &flipped);
        assert!(
            result.is_err(),
            "flip of bit {bit} was accepted: {result:?}"
        );
    }
}

#[test]
fn every_truncation_and_every_extension_is_rejected() {
    let bytes = encoded();
    for len in 0..bytes.len() {
        assert_eq!(
            frame::decode::<Job<'_>>(3, &bytes[..len]),
            Err(FrameError::Length),
            "truncation to {len} bytes"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        frame::decode::<Job<'_>>(3, &longer),
        Err(FrameError::Length)
    );
}

#[test]
fn a_body_that_is_not_the_expected_value_is_rejected_even_with_a_good_crc() {
    // A well-framed record whose body is another CBOR value: a u32, then a 5-array.
    let mut buf = [0u8; 64];
    let len = frame::encode(3, &7u32, &mut buf).unwrap();
    assert_eq!(
        frame::decode::<Job<'_>>(3, &buf[..len]),
        Err(FrameError::Body)
    );
    // Trailing CBOR after the value is rejected too.
    let len = frame::encode(3, &(job(), 1u8), &mut buf).unwrap();
    assert_eq!(
        frame::decode::<Job<'_>>(3, &buf[..len]),
        Err(FrameError::Body)
    );
}

#[test]
fn encoding_into_a_small_buffer_fails_without_panicking() {
    let need = encoded().len();
    for size in 0..need {
        let mut buf = vec![0u8; size];
        assert_eq!(
            frame::encode(3, &job(), &mut buf),
            Err(FrameError::BufferTooSmall),
            "buffer of {size}"
        );
    }
    assert!(need > FRAME_OVERHEAD);
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = frame::decode::<Job<'_>>(3, &bytes);
        let _ = frame::version(&bytes);
    }

    #[test]
    fn any_job_round_trips(correlator in "[a-z0-9-]{0,40}", offset: u64, state: u8, done: bool) {
        let value = Job { correlator: &correlator, offset, state, done };
        let mut buf = [0u8; 128];
        let len = frame::encode(1, &value, &mut buf).unwrap();
        prop_assert_eq!(frame::decode::<Job<'_>>(1, &buf[..len]).unwrap(), value);
    }
}
