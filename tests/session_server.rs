//! Server-initiated sessions: a Package #0 accepted, answered with Alert 1200 under its
//! session id, and the resynchronisation case that gives the server a fresh nonce.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use scomo::codes::StatusCode;
use scomo::dm::auth::{AuthScheme, AuthState};
use scomo::dm::pkg0::{
    self, Initiator, NonceMatch, Pkg0Error, RESYNC_NONCE, ServedSessions, SessionId, Trigger,
    UiMode, VERSION,
};
use scomo::dm::session::{End, Start};
use session_support::*;

fn notification(session: u16, nonce: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 64];
    let n = Trigger {
        version: VERSION,
        ui_mode: UiMode::Background,
        initiator: Initiator::Server,
        session_id: SessionId::new(session).unwrap(),
        server_id: SRV_ID.as_bytes(),
        vendor: &[],
    }
    .write(SERVER.password, nonce, &mut out)
    .unwrap();
    out[..n].to_vec()
}

#[test]
fn package0_opens_a_session_answered_with_alert_1200_under_its_session_id() {
    for enc in ENCODINGS {
        let server_nonce = b"server-nonce-123";
        let auth = AuthState::new(AuthScheme::Md5, b"client-nonce", server_nonce).unwrap();
        let mut served: ServedSessions<4> = ServedSessions::new();
        let pkg0 = notification(0x1A2B, server_nonce);
        let accepted = pkg0::accept(&pkg0, &SERVER, auth.server_nonce(), &mut served).unwrap();
        assert_eq!(accepted.nonce, NonceMatch::Stored);
        let mut dev = Dev::with(config(enc), auth, Start::notification(&accepted));
        assert_eq!(dev.session.session_id(), "1A2B");
        let pkg1 = dev.start();
        assert!(!pkg1.persist_auth);
        let pkg1 = pkg1.out;
        assert_eq!((pkg1.session_id.as_str(), pkg1.msg_id), ("1A2B", 1));
        assert_eq!(pkg1.alert_codes(), [1200]);
        // MD5 credentials with the client nonce, the user name in LocName.
        let (ty, _) = pkg1.cred.clone().unwrap();
        assert_eq!(ty, "syncml:auth-md5");
        assert_eq!(pkg1.loc_name.as_deref(), Some("device"));
        // The server gets to work: a Get, answered; then it closes.
        let mut srv = Srv::new(enc, "1A2B");
        let mut get = 0;
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            get = s.get(w, &["./DevInfo/Man"]);
        });
        let pkg3 = dev.step(&pkg2).sent().out;
        assert_eq!(pkg3.session_id, "1A2B");
        assert_eq!(pkg3.code(get), 200);
        assert_eq!(pkg3.results()[0].1[0].text(), "Acme");
        let pkg4 = srv.msg(true, |s, w| s.hdr_status(w, &pkg3, StatusCode::Ok));
        assert_eq!(dev.step(&pkg4).finished().end, Some(End::Completed));
        // The same notification again starts no second session.
        assert_eq!(
            pkg0::accept(&pkg0, &SERVER, dev.auth.server_nonce(), &mut served).unwrap_err(),
            Pkg0Error::AlreadyServed(SessionId::new(0x1A2B).unwrap())
        );
    }
}

#[test]
fn a_resync_notification_gives_the_server_a_fresh_nonce_in_the_first_reply() {
    for enc in ENCODINGS {
        let auth = AuthState::new(AuthScheme::Md5, b"client-nonce", b"lost-by-server").unwrap();
        let mut served: ServedSessions<4> = ServedSessions::new();
        let pkg0 = notification(0x77, &RESYNC_NONCE);
        let accepted = pkg0::accept(&pkg0, &SERVER, auth.server_nonce(), &mut served).unwrap();
        assert_eq!(accepted.nonce, NonceMatch::Resync);
        let mut dev = Dev::with(config(enc), auth, Start::notification(&accepted));
        let pkg1 = dev.start().out;
        assert_eq!(pkg1.session_id, "77");
        let mut srv = Srv::new(enc, "77");
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            s.get(w, &["./DevInfo/Mod"]);
        });
        let sent = dev.step(&pkg2).sent();
        // The header Status carries a Chal with a new nonce, already in the auth state,
        // which the caller must store before sending.
        let (ty, nonce) = sent.out.status(0).chal.clone().unwrap();
        assert_eq!(ty, "syncml:auth-md5");
        let nonce = b64_decode(nonce.unwrap().as_bytes());
        assert_eq!(nonce.len(), 16);
        assert_eq!(dev.auth.server_nonce(), nonce.as_slice());
        assert!(sent.persist_auth);
        // A later notification made with it verifies with the stored nonce.
        let next = notification(0x78, &nonce);
        let accepted = pkg0::accept(&next, &SERVER, dev.auth.server_nonce(), &mut served).unwrap();
        assert_eq!(accepted.nonce, NonceMatch::Stored);
    }
}
