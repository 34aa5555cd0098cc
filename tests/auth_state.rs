#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The authentication state through a session: challenges, 212 versus 200, nonces, the
//! server's credentials, and the persisted record (digest 7.8).
use base64::Engine as _;
use proptest::prelude::*;
use scomo::codes::StatusCode;
use scomo::dm::auth::{
    Account, AuthError, AuthScheme, AuthState, Challenge, Credential, HeaderOutcome,
    MAX_CHALLENGE_RETRIES, MAX_NONCE_LEN, NONCE_LEN, md5_credential, write_hmac_header,
};
use scomo::platform::{Rng, RngErrorKind};

const CLIENT: Account<'static> = Account {
    name: "Bruce2",
    password: b"OhBehave",
};
const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};
const BODY: &[u8] = b"<SyncML xmlns=\"SYNCML:SYNCML1.2\"></SyncML>";

fn b64(bytes: &[u8]) -> String {
    let mut out = [0u8; 128];
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out)
        .unwrap();
    String::from_utf8(out[..n].to_vec()).unwrap()
}

fn md5_state() -> AuthState {
    let mut s = AuthState::new(AuthScheme::Md5, b"Nonce", b"server-nonce").unwrap();
    s.begin_session();
    s
}

fn cred_text(state: &mut AuthState) -> Option<(AuthScheme, String)> {
    let mut out = [0u8; 64];
    state
        .credential(&CLIENT, &mut out)
        .unwrap()
        .map(|c| (c.scheme, c.data.to_owned()))
}

#[test]
fn md5_credential_uses_the_stored_client_nonce() {
    let mut s = md5_state();
    let (scheme, text) = cred_text(&mut s).unwrap();
    assert_eq!(scheme, AuthScheme::Md5);
    assert_eq!(text, "Zz6EivR3yeaaENcRN6lpAQ==");
}

#[test]
fn after_212_no_more_credentials_are_sent_in_the_session() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let out = s.on_header_status(212, None, true).unwrap();
    assert_eq!(out, HeaderOutcome::Proceed);
    assert!(!s.needs_credentials());
    assert_eq!(cred_text(&mut s), None);
    // A new session asks for credentials again.
    s.begin_session();
    assert!(s.needs_credentials());
}

#[test]
fn after_200_credentials_are_sent_in_every_message() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    s.on_header_status(200, None, true).unwrap();
    assert!(s.needs_credentials());
    assert!(cred_text(&mut s).is_some());
    s.on_header_status(200, None, true).unwrap();
    assert!(cred_text(&mut s).is_some());
}

#[test]
fn challenge_401_from_an_unauthenticated_server_answers_with_its_nonce_but_does_not_store_it() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let nonce = b64(b"fresh nonce bytes");
    let chal = Challenge {
        scheme: AuthScheme::Md5,
        next_nonce: Some(&nonce),
    };
    assert_eq!(
        s.on_header_status(401, Some(&chal), false),
        Ok(HeaderOutcome::Resend)
    );
    assert_eq!(s.client_nonce(), b"fresh nonce bytes");
    assert_eq!(s.stored_client_nonce(), b"Nonce");
    assert!(!s.needs_persisting());
    let (_, text) = cred_text(&mut s).unwrap();
    assert_eq!(text, md5_credential(&CLIENT, b"fresh nonce bytes").as_str());
    // The session-only nonce is gone in the next session.
    s.begin_session();
    assert_eq!(s.client_nonce(), b"Nonce");
}

#[test]
fn next_nonce_from_an_authenticated_server_is_stored_and_marked_for_persisting() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let nonce = b64(b"next-session");
    let chal = Challenge {
        scheme: AuthScheme::Md5,
        next_nonce: Some(&nonce),
    };
    s.on_header_status(212, Some(&chal), true).unwrap();
    assert_eq!(s.stored_client_nonce(), b"next-session");
    assert!(s.needs_persisting());
    s.mark_persisted();
    assert!(!s.needs_persisting());
}

#[test]
fn a_challenge_is_answered_with_exactly_the_challenged_scheme() {
    let mut s = AuthState::new(AuthScheme::Basic, b"", b"").unwrap();
    s.begin_session();
    assert_eq!(cred_text(&mut s).unwrap().0, AuthScheme::Basic);
    let nonce = b64(b"Nonce");
    let chal = Challenge {
        scheme: AuthScheme::Md5,
        next_nonce: Some(&nonce),
    };
    assert_eq!(
        s.on_header_status(401, Some(&chal), false),
        Ok(HeaderOutcome::Resend)
    );
    assert_eq!(s.scheme(), AuthScheme::Md5);
    assert_eq!(
        cred_text(&mut s),
        Some((AuthScheme::Md5, "Zz6EivR3yeaaENcRN6lpAQ==".to_owned()))
    );
    // The server's choice is remembered for the next session.
    assert_eq!(s.preferred_scheme(), AuthScheme::Md5);
    assert!(s.needs_persisting());
}

#[test]
fn a_chal_on_212_changes_the_scheme_of_the_next_session_only() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let chal = Challenge {
        scheme: AuthScheme::Hmac,
        next_nonce: None,
    };
    s.on_header_status(212, Some(&chal), true).unwrap();
    assert_eq!(s.scheme(), AuthScheme::Md5);
    assert_eq!(s.preferred_scheme(), AuthScheme::Hmac);
    s.begin_session();
    assert_eq!(s.scheme(), AuthScheme::Hmac);
}

#[test]
fn hmac_challenge_moves_credentials_into_the_header_of_every_message() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let nonce = b64(b"Nonce");
    let chal = Challenge {
        scheme: AuthScheme::Hmac,
        next_nonce: Some(&nonce),
    };
    assert_eq!(
        s.on_header_status(407, Some(&chal), false),
        Ok(HeaderOutcome::Resend)
    );
    assert_eq!(cred_text(&mut s), None, "HMAC is never carried in a Cred");
    let mut out = [0u8; 128];
    let header = s.hmac_header(&CLIENT, BODY, &mut out).unwrap().unwrap();
    assert_eq!(
        header,
        "algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g=="
    );
    // HMAC asks for a header on every message, even after a 200.
    s.on_header_status(200, None, true).unwrap();
    assert!(s.needs_credentials());
    assert!(s.hmac_header(&CLIENT, BODY, &mut out).unwrap().is_some());
}

#[test]
fn no_hmac_header_for_other_schemes() {
    let mut s = md5_state();
    let mut out = [0u8; 128];
    assert_eq!(s.hmac_header(&CLIENT, BODY, &mut out), Ok(None));
}

#[test]
fn a_401_without_a_new_challenge_ends_the_session() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    assert_eq!(
        s.on_header_status(401, None, false),
        Err(AuthError::Rejected)
    );
}

#[test]
fn a_407_before_any_credential_was_sent_asks_for_them_with_the_current_scheme() {
    let mut s = md5_state();
    assert_eq!(
        s.on_header_status(407, None, false),
        Ok(HeaderOutcome::Resend)
    );
    assert_eq!(s.scheme(), AuthScheme::Md5);
    cred_text(&mut s).unwrap();
    assert_eq!(
        s.on_header_status(407, None, false),
        Err(AuthError::Rejected)
    );
}

#[test]
fn challenges_beyond_the_retry_limit_end_the_session() {
    let mut s = md5_state();
    let nonce = b64(b"n");
    let chal = Challenge {
        scheme: AuthScheme::Md5,
        next_nonce: Some(&nonce),
    };
    for _ in 0..MAX_CHALLENGE_RETRIES {
        cred_text(&mut s).unwrap();
        assert_eq!(
            s.on_header_status(401, Some(&chal), false),
            Ok(HeaderOutcome::Resend)
        );
    }
    cred_text(&mut s).unwrap();
    assert_eq!(
        s.on_header_status(401, Some(&chal), false),
        Err(AuthError::Rejected)
    );
    // A new session starts counting again.
    s.begin_session();
    assert_eq!(
        s.on_header_status(401, Some(&chal), false),
        Ok(HeaderOutcome::Resend)
    );
}

#[test]
fn a_next_nonce_that_is_not_base64_or_too_long_leaves_the_state_unchanged() {
    let mut s = md5_state();
    let before = s.clone();
    let bad = Challenge {
        scheme: AuthScheme::Hmac,
        next_nonce: Some("**not base64**"),
    };
    assert_eq!(
        s.on_header_status(401, Some(&bad), true),
        Err(AuthError::BadEncoding)
    );
    let long = b64(&[7u8; MAX_NONCE_LEN + 1]);
    let too_long = Challenge {
        scheme: AuthScheme::Hmac,
        next_nonce: Some(&long),
    };
    assert_eq!(
        s.on_header_status(212, Some(&too_long), true),
        Err(AuthError::NonceTooLong)
    );
    assert_eq!(s, before);
    let max = b64(&[7u8; MAX_NONCE_LEN]);
    let ok = Challenge {
        scheme: AuthScheme::Md5,
        next_nonce: Some(&max),
    };
    s.on_header_status(212, Some(&ok), true).unwrap();
    assert_eq!(s.stored_client_nonce(), &[7u8; MAX_NONCE_LEN][..]);
}

#[test]
fn other_statuses_leave_authentication_alone() {
    let mut s = md5_state();
    cred_text(&mut s).unwrap();
    let before = s.clone();
    assert_eq!(
        s.on_header_status(500, None, false),
        Ok(HeaderOutcome::Proceed)
    );
    assert_eq!(s, before);
}

/// A splitmix64 stream standing in for the platform's random source; it can be told to fail.
struct SplitMix {
    state: u64,
    calls: usize,
    fail: bool,
}

impl Rng for SplitMix {
    type Error = RngErrorKind;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RngErrorKind> {
        self.calls += 1;
        if self.fail {
            return Err(RngErrorKind::Unavailable);
        }
        for chunk in buf.chunks_mut(8) {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[test]
fn each_issued_server_nonce_is_16_fresh_random_bytes_stored_and_returned_as_base64() {
    let mut s = md5_state();
    let mut rng = SplitMix {
        state: 1,
        calls: 0,
        fail: false,
    };
    let mut seen = std::collections::HashSet::new();
    for i in 0..10_000 {
        let text = s.issue_server_nonce(&mut rng).unwrap();
        assert_eq!(rng.calls, i + 1, "one draw per nonce");
        assert_eq!(s.server_nonce().len(), NONCE_LEN);
        assert_eq!(b64(s.server_nonce()), text.as_str());
        assert!(seen.insert(s.server_nonce().to_vec()), "nonce repeated");
    }
    assert!(s.needs_persisting());
}

#[test]
fn a_failing_random_source_leaves_the_server_nonce_unchanged() {
    let mut s = md5_state();
    let before = s.clone();
    let mut rng = SplitMix {
        state: 1,
        calls: 0,
        fail: true,
    };
    assert_eq!(
        s.issue_server_nonce(&mut rng),
        Err(RngErrorKind::Unavailable)
    );
    assert_eq!(s, before);
}

#[test]
fn server_md5_credential_is_checked_with_the_server_nonce_212_then_200() {
    let mut s = AuthState::new(AuthScheme::Md5, b"", b"srv-nonce").unwrap();
    s.begin_session();
    assert_eq!(
        s.verify_server_credential(None, &SERVER),
        Err(AuthError::MissingCredentials)
    );
    assert_eq!(
        AuthError::MissingCredentials.status(),
        Some(StatusCode::AuthenticationRequired)
    );
    let wrong = md5_credential(&SERVER, b"other nonce");
    let cred = Credential {
        scheme: AuthScheme::Md5,
        data: wrong.as_str(),
    };
    assert_eq!(
        s.verify_server_credential(Some(&cred), &SERVER),
        Err(AuthError::BadCredentials)
    );
    assert!(!s.server_authenticated());
    let right = md5_credential(&SERVER, b"srv-nonce");
    let cred = Credential {
        scheme: AuthScheme::Md5,
        data: right.as_str(),
    };
    assert_eq!(
        s.verify_server_credential(Some(&cred), &SERVER),
        Ok(StatusCode::AuthAccepted)
    );
    assert!(s.server_authenticated());
    assert_eq!(
        s.verify_server_credential(None, &SERVER),
        Ok(StatusCode::Ok)
    );
    s.begin_session();
    assert!(!s.server_authenticated());
}

#[test]
fn server_hmac_is_checked_over_the_exact_bytes_with_the_server_nonce_and_answered_200() {
    let mut s = AuthState::new(AuthScheme::Hmac, b"", b"srv-nonce").unwrap();
    s.begin_session();
    let mut out = [0u8; 128];
    let header = write_hmac_header(&SERVER, b"srv-nonce", BODY, &mut out).unwrap();
    assert_eq!(
        s.verify_server_hmac(Some(header), &SERVER, BODY),
        Ok(StatusCode::Ok)
    );
    assert!(s.server_authenticated());
    let mut tampered = BODY.to_vec();
    tampered.push(b'\n');
    assert_eq!(
        s.verify_server_hmac(Some(header), &SERVER, &tampered),
        Err(AuthError::BadCredentials)
    );
    assert_eq!(
        s.verify_server_hmac(None, &SERVER, BODY),
        Err(AuthError::MissingCredentials)
    );
    assert_eq!(
        s.verify_server_hmac(Some("nonsense"), &SERVER, BODY),
        Err(AuthError::MalformedHmacHeader)
    );
}

#[test]
fn the_persisted_record_round_trips_and_starts_a_fresh_session() {
    let mut s = AuthState::new(AuthScheme::Hmac, b"client", b"server").unwrap();
    s.begin_session();
    s.on_header_status(212, None, true).unwrap();
    let mut out = [0u8; AuthState::MAX_ENCODED_LEN];
    let n = s.encode(&mut out).unwrap();
    let back = AuthState::decode(&out[..n]).unwrap();
    assert_eq!(back.preferred_scheme(), AuthScheme::Hmac);
    assert_eq!(back.stored_client_nonce(), b"client");
    assert_eq!(back.server_nonce(), b"server");
    assert!(back.needs_credentials());
    // Every strict prefix, and any trailing byte, is refused.
    for len in 0..n {
        assert_eq!(
            AuthState::decode(&out[..len]),
            Err(AuthError::CorruptRecord)
        );
    }
    let mut longer = out[..n].to_vec();
    longer.push(0);
    assert_eq!(AuthState::decode(&longer), Err(AuthError::CorruptRecord));
    let mut short = [0u8; 8];
    assert_eq!(s.encode(&mut short), Err(AuthError::BufferTooSmall));
}

#[test]
fn the_largest_record_fits_max_encoded_len() {
    let s = AuthState::new(AuthScheme::Md5, &[1; MAX_NONCE_LEN], &[2; MAX_NONCE_LEN]).unwrap();
    let mut out = [0u8; AuthState::MAX_ENCODED_LEN];
    assert_eq!(s.encode(&mut out), Ok(AuthState::MAX_ENCODED_LEN));
    assert_eq!(
        AuthState::new(AuthScheme::Md5, &[1; MAX_NONCE_LEN + 1], b""),
        Err(AuthError::NonceTooLong)
    );
}

proptest! {
    #[test]
    fn decoding_random_records_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = AuthState::decode(&bytes) {
            let mut out = [0u8; AuthState::MAX_ENCODED_LEN];
            let n = s.encode(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &bytes[..]);
        }
    }

    #[test]
    fn random_statuses_and_challenges_never_panic(
        steps in proptest::collection::vec((any::<u16>(), any::<Option<(u8, String)>>(), any::<bool>()), 0..20)
    ) {
        let mut s = md5_state();
        for (status, chal, authed) in steps {
            let mut out = [0u8; 128];
            let _ = s.credential(&CLIENT, &mut out);
            let chal = chal.map(|(k, text)| (
                [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Hmac][usize::from(k % 3)],
                text,
            ));
            let chal = chal.as_ref().map(|(scheme, text)| Challenge { scheme: *scheme, next_nonce: Some(text) });
            let _ = s.on_header_status(status, chal.as_ref(), authed);
        }
    }
}
