#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Package #0 against the synthetic vectors of digest 7.2 and the rules around them.
use scomo::dm::auth::Account;
use scomo::dm::pkg0::{
    self, Accepted, FIXED_LEN, Initiator, NonceMatch, Notification, Pkg0Error, RESYNC_NONCE,
    ServedSessions, SessionId, Trigger, UiMode,
};

const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The digest's vector for version 11.
fn v11() -> Vec<u8> {
    hex("9d0bb1dec800154f6cc089f354c689a1 02d8 0000 00 1a2b 0e 636f6d2e6578616d706c652e646d")
}

/// The digest's vector for version 12.
fn v12() -> Vec<u8> {
    hex("449b814b8f4e7cb049b9b3b1dea7b5d6 0318 0000 00 1a2b 0e 636f6d2e6578616d706c652e646d")
}

fn trigger(version: u16) -> Trigger<'static> {
    Trigger {
        version,
        ui_mode: UiMode::Background,
        initiator: Initiator::Server,
        session_id: SessionId::new(0x1A2B).unwrap(),
        server_id: b"com.example.dm",
        vendor: b"",
    }
}

#[test]
fn version_11_vector_parses_to_its_fields() {
    let msg = v11();
    let n = Notification::parse(&msg).unwrap();
    assert_eq!(n.trigger, trigger(11));
    assert_eq!(n.trigger.session_id.to_text().as_str(), "1A2B");
    assert_eq!(n.trigger_bytes, &msg[16..]);
    assert_eq!(&n.digest[..], &msg[..16]);
}

#[test]
fn version_11_and_12_vectors_verify_with_the_resync_nonce() {
    for msg in [v11(), v12()] {
        let n = Notification::parse(&msg).unwrap();
        // The vectors were made with the four-zero-byte nonce.
        assert_eq!(n.verify(&SERVER, &RESYNC_NONCE), Ok(NonceMatch::Stored));
        // With another stored nonce the digest still verifies through resynchronisation.
        assert_eq!(n.verify(&SERVER, b"stored nonce"), Ok(NonceMatch::Resync));
    }
}

#[test]
fn the_builder_reproduces_both_vectors_byte_for_byte() {
    for (version, want) in [(11, v11()), (12, v12())] {
        let mut out = [0u8; 64];
        let n = trigger(version)
            .write(SERVER.password, &RESYNC_NONCE, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &want[..], "version {version}");
    }
}

#[test]
fn the_resync_nonce_is_four_zero_bytes_not_the_ascii_text() {
    // One client used the text "0x00000000" as the fallback nonce: a digest made that way
    // must not verify through resynchronisation.
    let mut out = [0u8; 64];
    let n = trigger(11)
        .write(SERVER.password, b"0x00000000", &mut out)
        .unwrap();
    let note = Notification::parse(&out[..n]).unwrap();
    assert_eq!(note.verify(&SERVER, b"stored"), Err(Pkg0Error::BadDigest));
    assert_eq!(note.verify(&SERVER, b"0x00000000"), Ok(NonceMatch::Stored));
}

#[test]
fn a_digest_made_with_the_stored_nonce_verifies_without_resync() {
    let mut out = [0u8; 64];
    let n = trigger(11)
        .write(SERVER.password, b"srv", &mut out)
        .unwrap();
    let note = Notification::parse(&out[..n]).unwrap();
    assert_eq!(note.verify(&SERVER, b"srv"), Ok(NonceMatch::Stored));
}

#[test]
fn a_wrong_password_or_a_changed_byte_fails_the_digest() {
    let msg = v11();
    let wrong = Account {
        name: "com.example.dm",
        password: b"serverpasS",
    };
    let n = Notification::parse(&msg).unwrap();
    assert_eq!(n.verify(&wrong, &RESYNC_NONCE), Err(Pkg0Error::BadDigest));
    // Flip each bit after the digest that still parses: the digest must catch it.
    for i in 16..msg.len() {
        for bit in 0..8 {
            let mut m = msg.clone();
            m[i] ^= 1 << bit;
            if let Ok(n) = Notification::parse(&m) {
                assert!(
                    n.verify(&SERVER, &RESYNC_NONCE).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn vendor_specific_body_is_kept_and_covered_by_the_digest() {
    let t = Trigger {
        vendor: b"\x01\x02vendor",
        ..trigger(11)
    };
    let mut out = [0u8; 64];
    let n = t.write(SERVER.password, b"nonce", &mut out).unwrap();
    let note = Notification::parse(&out[..n]).unwrap();
    assert_eq!(note.trigger.vendor, b"\x01\x02vendor");
    assert_eq!(note.verify(&SERVER, b"nonce"), Ok(NonceMatch::Stored));
    out[n - 1] ^= 0x80;
    let note = Notification::parse(&out[..n]).unwrap();
    assert_eq!(note.verify(&SERVER, b"nonce"), Err(Pkg0Error::BadDigest));
}

#[test]
fn every_ui_mode_and_initiator_round_trips() {
    for ui in [
        UiMode::NotSpecified,
        UiMode::Background,
        UiMode::Informative,
        UiMode::UserInteraction,
    ] {
        for initiator in [Initiator::Client, Initiator::Server] {
            let t = Trigger {
                ui_mode: ui,
                initiator,
                ..trigger(10)
            };
            let mut out = [0u8; 64];
            let n = t.write(b"p", b"n", &mut out).unwrap();
            assert_eq!(Notification::parse(&out[..n]).unwrap().trigger, t);
        }
    }
}

#[test]
fn accept_starts_a_session_once_per_session_id() {
    let msg = v11();
    let mut served = ServedSessions::<4>::new();
    let Accepted {
        notification,
        nonce,
    } = pkg0::accept(&msg, &SERVER, b"stored", &mut served).unwrap();
    assert_eq!(nonce, NonceMatch::Resync);
    assert_eq!(notification.trigger.session_id.get(), 0x1A2B);
    assert!(served.contains(notification.trigger.session_id));
    // The same notification again (an SMS retry): no second session, nothing changes.
    let before = served.clone();
    assert_eq!(
        pkg0::accept(&msg, &SERVER, b"stored", &mut served),
        Err(Pkg0Error::AlreadyServed(SessionId::new(0x1A2B).unwrap()))
    );
    assert_eq!(served, before);
}

#[test]
fn accept_records_nothing_for_a_notification_that_fails_a_check() {
    let mut served = ServedSessions::<4>::new();
    let mut msg = v11();
    msg[0] ^= 1;
    assert_eq!(
        pkg0::accept(&msg, &SERVER, b"stored", &mut served),
        Err(Pkg0Error::BadDigest)
    );
    assert!(served.is_empty());
}

#[test]
fn a_server_id_that_is_not_the_configured_one_is_refused() {
    let msg = v11();
    let other = Account {
        name: "com.example.dn",
        password: b"serverpass",
    };
    let mut served = ServedSessions::<4>::new();
    assert_eq!(
        pkg0::accept(&msg, &other, &RESYNC_NONCE, &mut served),
        Err(Pkg0Error::UnknownServer)
    );
    let prefix = Account {
        name: "com.example",
        password: b"serverpass",
    };
    assert_eq!(
        Notification::parse(&msg)
            .unwrap()
            .verify(&prefix, &RESYNC_NONCE),
        Err(Pkg0Error::UnknownServer)
    );
    assert!(served.is_empty());
}

#[test]
fn the_builder_refuses_what_the_format_cannot_carry() {
    let mut out = [0u8; 600];
    let long = [b'a'; 256];
    let t = Trigger {
        server_id: &long,
        ..trigger(11)
    };
    assert_eq!(
        t.write(b"p", b"n", &mut out),
        Err(Pkg0Error::ServerIdTooLong)
    );
    let t = Trigger {
        version: 1024,
        ..trigger(11)
    };
    assert_eq!(
        t.write(b"p", b"n", &mut out),
        Err(Pkg0Error::UnsupportedVersion(1024))
    );
    let mut short = [0u8; FIXED_LEN + 13];
    assert_eq!(
        trigger(11).write(b"p", b"n", &mut short),
        Err(Pkg0Error::BufferTooSmall)
    );
}

#[test]
fn the_content_type_is_the_notification_mime_type() {
    assert_eq!(pkg0::CONTENT_TYPE, "application/vnd.syncml.notification");
}
