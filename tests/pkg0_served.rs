#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The ring of served session ids and its persisted record.
use proptest::prelude::*;
use scomo::dm::pkg0::{Pkg0Error, ServedSessions, SessionId};

fn id(v: u16) -> SessionId {
    SessionId::new(v).unwrap()
}

#[test]
fn the_ring_forgets_the_oldest_id_when_full() {
    let mut s = ServedSessions::<3>::new();
    for v in 1..=4 {
        s.record(id(v));
    }
    assert_eq!(s.iter().map(SessionId::get).collect::<Vec<_>>(), [2, 3, 4]);
    assert!(!s.contains(id(1)));
    // Recording a remembered id changes nothing.
    s.record(id(3));
    assert_eq!(s.iter().map(SessionId::get).collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn the_record_round_trips_and_refuses_corruption() {
    let mut s = ServedSessions::<4>::new();
    for v in [0x1A2B, 7, 0xFFFF] {
        s.record(id(v));
    }
    let mut out = [0u8; ServedSessions::<4>::MAX_ENCODED_LEN];
    let n = s.encode(&mut out).unwrap();
    assert_eq!(&out[..n], &[1, 0, 3, 0x1A, 0x2B, 0, 7, 0xFF, 0xFF]);
    assert_eq!(ServedSessions::<4>::decode(&out[..n]), Ok(s.clone()));
    for len in 0..n {
        assert_eq!(
            ServedSessions::<4>::decode(&out[..len]),
            Err(Pkg0Error::CorruptRecord)
        );
    }
    assert_eq!(
        ServedSessions::<4>::decode(&[1, 0, 1, 0, 0]),
        Err(Pkg0Error::CorruptRecord),
        "id 0"
    );
    assert_eq!(
        ServedSessions::<4>::decode(&[2, 0, 0]),
        Err(Pkg0Error::CorruptRecord)
    );
    let mut short = [0u8; 8];
    assert_eq!(s.encode(&mut short), Err(Pkg0Error::BufferTooSmall));
}

#[test]
fn a_record_from_a_larger_ring_keeps_the_newest_ids() {
    let mut big = ServedSessions::<5>::new();
    for v in 1..=5 {
        big.record(id(v));
    }
    let mut out = [0u8; 64];
    let n = big.encode(&mut out).unwrap();
    let small = ServedSessions::<2>::decode(&out[..n]).unwrap();
    assert_eq!(small.iter().map(SessionId::get).collect::<Vec<_>>(), [4, 5]);
}

proptest! {
    #[test]
    fn decoding_random_records_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = ServedSessions::<4>::decode(&bytes);
    }
}
