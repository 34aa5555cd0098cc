#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Package #0 from a hostile or broken server: named regression tests for the faults seen
//! in other clients, and random bytes.
use proptest::prelude::*;
use scomo::dm::auth::Account;
use scomo::dm::pkg0::{
    self, FIXED_LEN, Initiator, Notification, Pkg0Error, ServedSessions, SessionId, Trigger, UiMode,
};

const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};

fn build(t: &Trigger<'_>) -> Vec<u8> {
    let mut out = [0u8; 512];
    let n = t.write(SERVER.password, b"nonce", &mut out).unwrap();
    out[..n].to_vec()
}

fn trigger() -> Trigger<'static> {
    Trigger {
        version: 11,
        ui_mode: UiMode::Informative,
        initiator: Initiator::Server,
        session_id: SessionId::new(0x1A2B).unwrap(),
        server_id: b"com.example.dm",
        vendor: b"",
    }
}

/// One open-source client checked only the fixed minimum length and then copied `length`
/// bytes of server id, reading up to 255 bytes past the end of the message.
#[test]
fn regression_server_id_length_byte_past_the_end_is_an_error_not_an_out_of_bounds_read() {
    let msg = build(&trigger());
    let id_len_at = FIXED_LEN - 1;
    assert_eq!(msg[id_len_at], 14);
    for claimed in 15..=255u8 {
        let mut m = msg.clone();
        m[id_len_at] = claimed;
        assert_eq!(
            Notification::parse(&m),
            Err(Pkg0Error::ServerIdPastEnd),
            "{claimed}"
        );
    }
    // The id cut short by the end of the message.
    for cut in FIXED_LEN..msg.len() {
        assert_eq!(
            Notification::parse(&msg[..cut]),
            Err(Pkg0Error::ServerIdPastEnd)
        );
    }
    // A length byte of 255 with nothing after it.
    let mut m = msg[..FIXED_LEN].to_vec();
    m[id_len_at] = 255;
    assert_eq!(Notification::parse(&m), Err(Pkg0Error::ServerIdPastEnd));
}

#[test]
fn regression_message_shorter_than_the_fixed_header_is_too_short() {
    let msg = build(&trigger());
    for len in 0..FIXED_LEN {
        assert_eq!(
            Notification::parse(&msg[..len]),
            Err(Pkg0Error::TooShort),
            "{len}"
        );
    }
}

#[test]
fn an_empty_server_id_with_exactly_the_fixed_header_parses() {
    let t = Trigger {
        server_id: b"",
        ..trigger()
    };
    let msg = build(&t);
    assert_eq!(msg.len(), FIXED_LEN);
    let n = Notification::parse(&msg).unwrap();
    assert_eq!(n.trigger.server_id, b"");
    assert_eq!(n.verify(&SERVER, b"nonce"), Err(Pkg0Error::UnknownServer));
}

/// One client converted the header with a 64-bit big-endian read and then byte-swapped the
/// session id again, so on little-endian machines 0x1A2B became 0x2B1A.
#[test]
fn regression_double_byte_swapped_session_id_is_read_big_endian_once() {
    let msg = build(&trigger());
    assert_eq!(&msg[21..23], &[0x1A, 0x2B]);
    let n = Notification::parse(&msg).unwrap();
    assert_eq!(n.trigger.session_id.get(), 0x1A2B);
    assert_eq!(n.trigger.session_id.to_text().as_str(), "1A2B");
    assert_ne!(n.trigger.session_id.to_text().as_str(), "2B1A");
    let t = Trigger {
        session_id: SessionId::new(0x00FF).unwrap(),
        ..trigger()
    };
    let n = build(&t);
    assert_eq!(
        Notification::parse(&n)
            .unwrap()
            .trigger
            .session_id
            .to_text()
            .as_str(),
        "FF"
    );
}

#[test]
fn versions_10_to_12_are_accepted_and_others_refused() {
    for version in 0..1024u16 {
        let msg = build(&Trigger {
            version,
            ..trigger()
        });
        let parsed = Notification::parse(&msg);
        if (10..=12).contains(&version) {
            assert_eq!(parsed.unwrap().trigger.version, version);
        } else {
            assert_eq!(parsed, Err(Pkg0Error::UnsupportedVersion(version)));
        }
    }
}

#[test]
fn each_of_the_27_reserved_bits_set_is_refused() {
    let msg = build(&trigger());
    for bit in 0..27 {
        let mut m = msg.clone();
        // The 40-bit header occupies bytes 16..21; bit 0 is the last bit of byte 20.
        m[20 - bit / 8] |= 1 << (bit % 8);
        assert_eq!(
            Notification::parse(&m),
            Err(Pkg0Error::ReservedBitsSet),
            "bit {bit}"
        );
    }
}

#[test]
fn session_id_zero_is_refused() {
    let mut msg = build(&trigger());
    msg[21] = 0;
    msg[22] = 0;
    assert_eq!(Notification::parse(&msg), Err(Pkg0Error::ZeroSessionId));
}

#[test]
fn a_replayed_notification_starts_no_second_session_even_after_a_reboot() {
    let msg = build(&trigger());
    let mut served = ServedSessions::<8>::new();
    pkg0::accept(&msg, &SERVER, b"nonce", &mut served).unwrap();
    let mut record = [0u8; ServedSessions::<8>::MAX_ENCODED_LEN];
    let n = served.encode(&mut record).unwrap();
    let mut after_reboot = ServedSessions::<8>::decode(&record[..n]).unwrap();
    assert!(matches!(
        pkg0::accept(&msg, &SERVER, b"nonce", &mut after_reboot),
        Err(Pkg0Error::AlreadyServed(_))
    ));
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut served = ServedSessions::<2>::new();
        if let Ok(n) = Notification::parse(&bytes) {
            prop_assert!(n.trigger_bytes.len() + 16 == bytes.len());
            prop_assert!(n.trigger.server_id.len() + n.trigger.vendor.len() + 8 == n.trigger_bytes.len());
        }
        let _ = pkg0::accept(&bytes, &SERVER, b"nonce", &mut served);
    }

    #[test]
    fn a_valid_header_with_random_tail_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..300), id_len in any::<u8>()) {
        let mut msg = build(&trigger())[..FIXED_LEN].to_vec();
        msg[FIXED_LEN - 1] = id_len;
        msg.extend_from_slice(&tail);
        match Notification::parse(&msg) {
            Ok(n) => prop_assert_eq!(n.trigger.server_id.len(), usize::from(id_len)),
            Err(e) => {
                prop_assert_eq!(e, Pkg0Error::ServerIdPastEnd);
                prop_assert!(tail.len() < usize::from(id_len));
            }
        }
    }

    #[test]
    fn built_notifications_parse_back_and_verify(
        version in 10u16..=12, ui in 0u8..4, server_initiated in any::<bool>(), session in 1u16..,
        id in proptest::collection::vec(any::<u8>(), 0..=255),
        vendor in proptest::collection::vec(any::<u8>(), 0..64),
        nonce in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let t = Trigger {
            version,
            ui_mode: UiMode::from_bits(ui),
            initiator: if server_initiated { Initiator::Server } else { Initiator::Client },
            session_id: SessionId::new(session).unwrap(),
            server_id: &id,
            vendor: &vendor,
        };
        let mut out = [0u8; 600];
        let n = t.write(b"pw", &nonce, &mut out).unwrap();
        let parsed = Notification::parse(&out[..n]).unwrap();
        prop_assert_eq!(parsed.trigger, t);
        if let Ok(name) = std::str::from_utf8(&id) {
            let server = Account { name, password: b"pw" };
            prop_assert!(parsed.verify(&server, &nonce).is_ok());
        }
    }
}
