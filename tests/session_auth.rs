//! Authentication in sessions (digest 7.8): an MD5 challenge answered by resending
//! Package 1, an HMAC session both ways, and server credentials verified before anything
//! is applied (401/407 and nothing changed otherwise).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use scomo::codes::StatusCode;
use scomo::dm::auth::{
    AuthScheme, AuthState, HmacHeader, md5_credential, verify_hmac, write_hmac_header,
};
use scomo::dm::codec::{Encoding, MetaOut};
use scomo::dm::pkg0::SessionId;
use scomo::dm::session::{AbortReason, End, Start};
use session_support::*;

fn chal(scheme: AuthScheme, nonce: Option<&str>) -> Option<MetaOut<'_>> {
    Some(MetaOut {
        mime_type: Some(scheme.meta_type()),
        format: Some("b64"),
        next_nonce: nonce,
        ..MetaOut::default()
    })
}

fn client_start() -> Start<'static> {
    Start::Client {
        session_id: SessionId::new(0x1A2B).unwrap(),
        request: None,
    }
}

#[test]
fn an_md5_challenge_to_package1_is_answered_by_package1_again_with_the_new_nonce() {
    for enc in ENCODINGS {
        let auth = AuthState::new(AuthScheme::Basic, b"", b"").unwrap();
        let mut dev = Dev::with(config(enc), auth, client_start());
        let pkg1 = dev.start().out;
        assert_eq!(pkg1.cred.as_ref().unwrap().0, "syncml:auth-basic");
        let mut srv = Srv::new(enc, "1A2B");
        let nonce = b64(b"fresh-client-nonce");
        let pkg2 = srv.msg(true, |s, w| {
            s.hdr_status_chal(
                w,
                &pkg1,
                StatusCode::Unauthorized,
                chal(AuthScheme::Md5, Some(&nonce)),
            );
        });
        let again = dev.step(&pkg2).sent();
        let pkg1b = again.out;
        // Same session, next MsgID, the Package 1 content, MD5 with the challenged nonce.
        assert_eq!((pkg1b.session_id.as_str(), pkg1b.msg_id), ("1A2B", 2));
        assert_eq!(pkg1b.alert_codes(), [1201]);
        assert!(matches!(pkg1b.cmds[2], Cmd::Replace { .. }));
        let expected = md5_credential(&CLIENT, b"fresh-client-nonce");
        assert_eq!(
            pkg1b.cred,
            Some(("syncml:auth-md5".into(), expected.as_str().into()))
        );
        assert_eq!(pkg1b.loc_name.as_deref(), Some("device"));
        assert_eq!(pkg1b.code(0), 200);
        assert!(pkg1b.is_final);
        // The preferred scheme changed (a Chal from a server not authenticated by us: the
        // nonce itself is kept for this session only).
        assert!(again.persist_auth);
        assert_eq!(dev.auth.preferred_scheme(), AuthScheme::Md5);
        // Accepted for the session: no more credentials.
        let mut get = 0;
        let pkg2b = srv.msg(true, |s, w| {
            s.acks(w, &pkg1b, StatusCode::AuthAccepted, StatusCode::Ok);
            get = s.get(w, &["./DevInfo/Mod"]);
        });
        let pkg3 = dev.step(&pkg2b).sent().out;
        assert_eq!(pkg3.cred, None);
        assert_eq!(pkg3.code(get), 200);
    }
}

#[test]
fn a_407_without_a_new_challenge_after_credentials_ends_the_session() {
    let mut auth = AuthState::new(AuthScheme::Md5, b"n0", b"").unwrap();
    auth.begin_session();
    let mut dev = Dev::with(config(Encoding::Xml), auth, client_start());
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let pkg2 = srv.msg(true, |s, w| {
        s.hdr_status(w, &pkg1, StatusCode::AuthenticationRequired)
    });
    // Credentials were already sent: a 407 without a new challenge is a refusal.
    let summary = dev.step(&pkg2).sent();
    assert!(summary.last);
    assert_eq!(summary.out.alert_codes(), [1223]);
    assert_eq!(
        dev.session.summary().end,
        Some(End::Aborted(AbortReason::AuthRejected))
    );
}

#[test]
fn the_server_refusing_again_ends_the_session() {
    let auth = AuthState::new(AuthScheme::Basic, b"", b"").unwrap();
    let mut dev = Dev::with(config(Encoding::Wbxml), auth, client_start());
    let mut msg = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let nonce = b64(b"n");
    for round in 0.. {
        let reply = srv.msg(true, |s, w| {
            s.hdr_status_chal(
                w,
                &msg,
                StatusCode::Unauthorized,
                chal(AuthScheme::Md5, Some(&nonce)),
            );
        });
        let sent = dev.step(&reply).sent();
        if sent.last {
            // 1223 after the second refusal (digest 7.8: answer once, and once more).
            assert_eq!(round, 2);
            assert_eq!(sent.out.alert_codes(), [1223]);
            break;
        }
        msg = sent.out;
    }
    assert!(dev.session.is_over());
}

/// The server's `x-syncml-hmac` over `body`.
fn server_hmac(nonce: &[u8], body: &[u8]) -> String {
    let mut out = [0u8; 128];
    write_hmac_header(&SERVER, nonce, body, &mut out)
        .unwrap()
        .to_owned()
}

#[test]
fn an_hmac_session_signs_every_message_and_verifies_the_servers() {
    for enc in ENCODINGS {
        let mut cfg = config(enc);
        cfg.server = server_auth(AuthScheme::Hmac);
        let auth = AuthState::new(AuthScheme::Hmac, b"client-nonce-1", b"server-nonce-1").unwrap();
        let mut dev = Dev::with(cfg, auth, client_start());
        let pkg1 = dev.start();
        // HMAC: no Cred, a MAC over the exact bytes sent, with the client nonce.
        assert_eq!(pkg1.out.cred, None);
        let header = pkg1.hmac.clone().unwrap();
        let parsed = HmacHeader::parse(&header).unwrap();
        assert_eq!(parsed.username, "device");
        verify_hmac(&parsed, &CLIENT, b"client-nonce-1", &pkg1.body).unwrap();
        // The server answers with its own MAC and a new nonce for the device's next message.
        let mut srv = Srv::new(enc, "1A2B");
        let next_client = b64(b"client-nonce-2");
        let mut get = 0;
        let pkg2 = srv.msg(true, |s, w| {
            s.hdr_status_chal(
                w,
                &pkg1.out,
                StatusCode::Ok,
                chal(AuthScheme::Hmac, Some(&next_client)),
            );
            get = s.get(w, &["./DevInfo/DmV"]);
        });
        let mac = server_hmac(b"server-nonce-1", &pkg2);
        let pkg3 = dev.step_with(&pkg2, enc.content_type(), Some(&mac)).sent();
        // Status 200 (never 212 with HMAC) and a fresh server nonce for the next message.
        let hdr = pkg3.out.status(0);
        assert_eq!(hdr.code, 200);
        let (ty, nonce) = hdr.chal.clone().unwrap();
        assert!(ty.eq_ignore_ascii_case("syncml:auth-MAC"));
        let server_nonce = b64_decode(nonce.unwrap().as_bytes());
        assert_eq!(dev.auth.server_nonce(), server_nonce.as_slice());
        assert!(pkg3.persist_auth);
        assert_eq!(pkg3.out.code(get), 200);
        let parsed = HmacHeader::parse(pkg3.hmac.as_deref().unwrap()).unwrap();
        verify_hmac(&parsed, &CLIENT, b"client-nonce-2", &pkg3.body).unwrap();
        // The server's next message is signed with the nonce the device just gave.
        let pkg4 = srv.msg(true, |s, w| s.hdr_status(w, &pkg3.out, StatusCode::Ok));
        let mac = server_hmac(&server_nonce, &pkg4);
        let end = dev
            .step_with(&pkg4, enc.content_type(), Some(&mac))
            .finished();
        assert_eq!(end.end, Some(End::Completed));
    }
}

#[test]
fn a_bad_server_hmac_is_401_for_the_header_and_every_command_and_changes_nothing() {
    for enc in ENCODINGS {
        let mut cfg = config(enc);
        cfg.server = server_auth(AuthScheme::Hmac);
        let auth = AuthState::new(AuthScheme::Hmac, b"c", b"server-nonce-1").unwrap();
        let mut dev = Dev::with(cfg, auth, client_start());
        let pkg1 = dev.start().out;
        let before = state(&dev.tree);
        let mut srv = Srv::new(enc, "1A2B");
        let mut ids = Vec::new();
        let pkg2 = srv.msg(true, |s, w| {
            s.hdr_status(w, &pkg1, StatusCode::Ok);
            ids.push(s.add_node(w, "./SCOMO/Download/Evil"));
            ids.push(s.exec(
                w,
                "./SCOMO/Inventory/Deployed/Comp1/Operations/Remove",
                None,
            ));
        });
        let mac = server_hmac(b"wrong-nonce", &pkg2);
        let reply = dev
            .step_with(&pkg2, enc.content_type(), Some(&mac))
            .sent()
            .out;
        let hdr = reply.status(0);
        assert_eq!(hdr.code, 401);
        let (ty, nonce) = hdr.chal.clone().unwrap();
        assert!(ty.eq_ignore_ascii_case("syncml:auth-MAC"));
        assert!(nonce.is_some());
        assert_eq!(reply.code(ids[0]), 401);
        assert_eq!(reply.code(ids[1]), 401);
        assert!(reply.results().is_empty() && reply.alerts().is_empty());
        assert_eq!(state(&dev.tree), before);
        assert!(dev.handler.execs.is_empty());
        // No header at all: 407.
        let pkg2b = srv.msg(true, |s, w| {
            s.hdr_status(w, &reply, StatusCode::Ok);
            ids.push(s.add_node(w, "./SCOMO/Download/Evil"));
        });
        let reply = dev.step(&pkg2b).sent().out;
        assert_eq!(reply.code(0), 407);
        assert_eq!(reply.code(ids[2]), 407);
        assert_eq!(state(&dev.tree), before);
    }
}

#[test]
fn server_md5_credentials_are_required_and_checked_before_any_command() {
    for enc in ENCODINGS {
        let mut cfg = config(enc);
        cfg.server = server_auth(AuthScheme::Md5);
        let auth = AuthState::new(AuthScheme::Basic, b"", b"srv-nonce-0").unwrap();
        let mut dev = Dev::with(cfg, auth, client_start());
        let pkg1 = dev.start().out;
        let before = state(&dev.tree);
        let mut srv = Srv::new(enc, "1A2B");
        let mut add = 0;
        // No credentials: 407 with a challenge, nothing applied, alerts' Statuses ignored.
        dev.handler.outbox.clear();
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            add = s.add_node(w, "./SCOMO/Download/P");
        });
        let reply = dev.step(&pkg2).sent();
        assert!(reply.persist_auth);
        let r = reply.out;
        assert_eq!(r.code(0), 407);
        assert_eq!(r.code(add), 407);
        let (ty, nonce) = r.status(0).chal.clone().unwrap();
        assert_eq!(ty, "syncml:auth-md5");
        let nonce = b64_decode(nonce.unwrap().as_bytes());
        assert_eq!(dev.auth.server_nonce(), nonce.as_slice());
        assert_eq!(state(&dev.tree), before);
        // Wrong credentials: 401.
        srv.cred = Some((
            AuthScheme::Md5,
            md5_credential(&SERVER, b"stale").as_str().into(),
        ));
        let pkg2b = srv.msg(true, |s, w| {
            s.hdr_status(w, &r, StatusCode::Ok);
            add = s.add_node(w, "./SCOMO/Download/P");
        });
        let r = dev.step(&pkg2b).sent().out;
        assert_eq!((r.code(0), r.code(add)), (401, 401));
        assert_eq!(state(&dev.tree), before);
        let nonce = b64_decode(r.status(0).chal.clone().unwrap().1.unwrap().as_bytes());
        // Right credentials with the nonce just given: 212, and the command applies.
        srv.cred = Some((
            AuthScheme::Md5,
            md5_credential(&SERVER, &nonce).as_str().into(),
        ));
        let pkg2c = srv.msg(true, |s, w| {
            s.hdr_status(w, &r, StatusCode::Ok);
            add = s.add_node(w, "./SCOMO/Download/P");
        });
        let r = dev.step(&pkg2c).sent().out;
        assert_eq!((r.code(0), r.code(add)), (212, 200));
        assert!(dev.tree.scomo().download("P").is_some());
        // Authenticated for the session: later messages need no credentials.
        srv.cred = None;
        let pkg4 = srv.msg(true, |s, w| {
            s.hdr_status(w, &r, StatusCode::Ok);
            add = s.delete(w, "./SCOMO/Download/P");
        });
        let r = dev.step(&pkg4).sent().out;
        assert_eq!((r.code(0), r.code(add)), (200, 200));
    }
}

#[test]
fn an_unauthenticated_server_with_nothing_to_do_ends_the_session_without_a_challenge() {
    let mut cfg = config(Encoding::Xml);
    cfg.server = server_auth(AuthScheme::Md5);
    let auth = AuthState::new(AuthScheme::Basic, b"", b"n").unwrap();
    let mut dev = Dev::with(cfg, auth, client_start());
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok)
    });
    let summary = dev.step(&pkg2).aborted();
    assert_eq!(
        summary.end,
        Some(End::Aborted(AbortReason::ServerNotAuthenticated))
    );
}
