//! On-target tests of the DM protocol pieces of the core: Package #0 (digest 7.2) and
//! authentication (digest 7.8), against the digest's vectors, on the board's CPU.
#![no_std]
#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::dm::auth::{
    Account, AuthError, AuthScheme, Credential, HmacHeader, basic_credential, md5_credential,
    verify_credential, verify_hmac, write_hmac_header,
};
use scomo::dm::pkg0::{
    self, Initiator, NonceMatch, Notification, Pkg0Error, RESYNC_NONCE, ServedSessions, SessionId,
    Trigger, UiMode,
};
use scomo_qemu::{Outcome, ensure, ensure_eq, println, tests};

const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};

/// The digest's Package #0 vector for version 11 (nonce: four zero bytes).
const V11: [u8; 38] = [
    0x9d, 0x0b, 0xb1, 0xde, 0xc8, 0x00, 0x15, 0x4f, 0x6c, 0xc0, 0x89, 0xf3, 0x54, 0xc6, 0x89, 0xa1,
    0x02, 0xd8, 0x00, 0x00, 0x00, 0x1a, 0x2b, 0x0e, 0x63, 0x6f, 0x6d, 0x2e, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x64, 0x6d,
];

/// The digest's Package #0 vector for version 12.
const V12: [u8; 38] = [
    0x44, 0x9b, 0x81, 0x4b, 0x8f, 0x4e, 0x7c, 0xb0, 0x49, 0xb9, 0xb3, 0xb1, 0xde, 0xa7, 0xb5, 0xd6,
    0x03, 0x18, 0x00, 0x00, 0x00, 0x1a, 0x2b, 0x0e, 0x63, 0x6f, 0x6d, 0x2e, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x64, 0x6d,
];

/// The digest's authentication vectors: user `Bruce2`, password `OhBehave`.
const BRUCE: Account<'static> = Account {
    name: "Bruce2",
    password: b"OhBehave",
};

/// The 42-byte body of the HMAC vector.
const BODY: &[u8] = b"<SyncML xmlns=\"SYNCML:SYNCML1.2\"></SyncML>";

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

fn pkg0_vectors_parse_and_verify_with_the_resync_nonce() -> Outcome {
    for (version, msg) in [(11, &V11), (12, &V12)] {
        let n = Notification::parse(msg).unwrap();
        ensure_eq!(n.trigger, trigger(version));
        ensure_eq!(n.trigger.session_id.to_text().as_str(), "1A2B");
        ensure_eq!(n.verify(&SERVER, &RESYNC_NONCE), Ok(NonceMatch::Stored));
        ensure_eq!(n.verify(&SERVER, b"stored nonce"), Ok(NonceMatch::Resync));
    }
    Ok(())
}

fn pkg0_builder_reproduces_both_vectors_byte_for_byte() -> Outcome {
    for (version, want) in [(11, &V11), (12, &V12)] {
        let mut out = [0u8; 64];
        let n = trigger(version)
            .write(SERVER.password, &RESYNC_NONCE, &mut out)
            .unwrap();
        ensure_eq!(&out[..n], &want[..]);
    }
    Ok(())
}

fn pkg0_every_flipped_bit_after_the_digest_fails_verification() -> Outcome {
    let mut checked = 0;
    for i in 16..V11.len() {
        for bit in 0..8 {
            let mut m = V11;
            m[i] ^= 1 << bit;
            if let Ok(n) = Notification::parse(&m) {
                ensure!(n.verify(&SERVER, &RESYNC_NONCE).is_err());
                checked += 1;
            }
        }
    }
    ensure!(checked > 0);
    Ok(())
}

fn pkg0_accept_starts_a_session_once_per_session_id() -> Outcome {
    let mut served = ServedSessions::<4>::new();
    let accepted = pkg0::accept(&V11, &SERVER, b"stored", &mut served).unwrap();
    ensure_eq!(accepted.nonce, NonceMatch::Resync);
    ensure!(served.contains(accepted.notification.trigger.session_id));
    ensure_eq!(
        pkg0::accept(&V11, &SERVER, b"stored", &mut served),
        Err(Pkg0Error::AlreadyServed(SessionId::new(0x1A2B).unwrap()))
    );
    ensure_eq!(served.len(), 1);
    let mut tampered = V11;
    tampered[0] ^= 1;
    let mut fresh = ServedSessions::<4>::new();
    ensure_eq!(
        pkg0::accept(&tampered, &SERVER, b"stored", &mut fresh),
        Err(Pkg0Error::BadDigest)
    );
    ensure!(fresh.is_empty());
    Ok(())
}

fn auth_basic_and_md5_credentials_match_the_spec_vectors() -> Outcome {
    let mut out = [0u8; 64];
    ensure_eq!(
        basic_credential(&BRUCE, &mut out).unwrap(),
        "QnJ1Y2UyOk9oQmVoYXZl"
    );
    ensure_eq!(
        md5_credential(&BRUCE, b"Nonce").as_str(),
        "Zz6EivR3yeaaENcRN6lpAQ=="
    );
    // The next nonce "LG3iZQhhdmKNHg==" is hashed as its decoded bytes.
    let decoded = [0x2c, 0x6d, 0xe2, 0x65, 0x08, 0x61, 0x76, 0x62, 0x8d, 0x1e];
    ensure_eq!(
        md5_credential(&BRUCE, &decoded).as_str(),
        "LAK2i25Fh0nxxGGaAzRRpg=="
    );
    Ok(())
}

fn auth_hmac_header_matches_the_spec_vector_and_verifies() -> Outcome {
    let mut out = [0u8; 128];
    let header = write_hmac_header(&BRUCE, b"Nonce", BODY, &mut out).unwrap();
    ensure_eq!(
        header,
        "algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g=="
    );
    let parsed = HmacHeader::parse(header).unwrap();
    ensure_eq!(verify_hmac(&parsed, &BRUCE, b"Nonce", BODY), Ok(()));
    Ok(())
}

fn auth_changed_body_or_wrong_nonce_is_refused_401() -> Outcome {
    let header =
        HmacHeader::parse("algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g==")
            .unwrap();
    let mut body = [0u8; 42];
    body.copy_from_slice(BODY);
    body[10] ^= 1;
    let refused = Err(AuthError::BadCredentials);
    ensure_eq!(verify_hmac(&header, &BRUCE, b"Nonce", &body), refused);
    ensure_eq!(verify_hmac(&header, &BRUCE, b"nonce", BODY), refused);
    ensure_eq!(
        AuthError::BadCredentials.status().map(|s| s.code()),
        Some(401)
    );
    let cred = Credential {
        scheme: AuthScheme::Md5,
        data: "Zz6EivR3yeaaENcRN6lpAQ==",
    };
    ensure_eq!(verify_credential(&cred, &BRUCE, b"Nonce"), Ok(()));
    ensure_eq!(verify_credential(&cred, &BRUCE, b"Nonc"), refused);
    Ok(())
}

#[cortex_m_rt::entry]
fn main() -> ! {
    println!("scomo dm on {}", scomo_qemu::board::DESCRIPTION);
    scomo_qemu::run(tests![
        pkg0_vectors_parse_and_verify_with_the_resync_nonce,
        pkg0_builder_reproduces_both_vectors_byte_for_byte,
        pkg0_every_flipped_bit_after_the_digest_fails_verification,
        pkg0_accept_starts_a_session_once_per_session_id,
        auth_basic_and_md5_credentials_match_the_spec_vectors,
        auth_hmac_header_matches_the_spec_vector_and_verifies,
        auth_changed_body_or_wrong_nonce_is_refused_401,
    ])
}
