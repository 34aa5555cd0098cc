//! Bad input (issue 3, "Bad input"): whatever the server sends, the session answers with
//! a protocol error — here Alert 1223, the session being unable to go on — and never
//! panics, never changes the tree. Each case is a named test; arbitrary and mutated
//! messages are thrown at it by proptest.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use proptest::prelude::*;

use scomo::codes::StatusCode;
use scomo::dm::auth::{AuthScheme, AuthState};
use scomo::dm::codec::{Element, Encoding, StatusOut};
use scomo::dm::session::{
    AbortReason, Context, End, Error, RESP_URI_CAP, Received, Session, Start,
};
use session_support::*;

/// The device after Package 1, with the tree's state to compare against.
fn opened(enc: Encoding) -> (Dev, Out, Vec<u8>) {
    let mut dev = Dev::client(enc);
    let pkg1 = dev.start().out;
    let before = state(&dev.tree);
    (dev, pkg1, before)
}

/// A server message in XML around `body` (statuses for Package 1 included).
fn xml(body: &str) -> Vec<u8> {
    xml_with(
        "<VerProto>DM/1.2</VerProto><SessionID>1A2B</SessionID>",
        body,
    )
}

fn xml_with(ids: &str, body: &str) -> Vec<u8> {
    format!(
        concat!(
            r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD>{}"#,
            r#"<MsgID>1</MsgID><Target><LocURI>{}</LocURI></Target>"#,
            r#"<Source><LocURI>{}</LocURI></Source></SyncHdr><SyncBody>"#,
            r#"<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd>"#,
            r#"<Data>212</Data></Status>{}<Final/></SyncBody></SyncML>"#
        ),
        ids, DEVICE_ID, SERVER_URI, body
    )
    .into_bytes()
}

fn get(id: u32, uri: &str) -> String {
    format!("<Get><CmdID>{id}</CmdID><Item><Target><LocURI>{uri}</LocURI></Target></Item></Get>")
}

fn add_node(id: u32, uri: &str) -> String {
    format!(
        concat!(
            r#"<Add><CmdID>{}</CmdID><Item><Target><LocURI>{}</LocURI></Target>"#,
            r#"<Meta><Format xmlns="syncml:metinf">node</Format></Meta></Item></Add>"#
        ),
        id, uri
    )
}

/// The device answers `body` with Alert 1223 for `reason`, and changed nothing.
fn aborts(dev: &mut Dev, before: &[u8], body: &[u8], content_type: &str, reason: AbortReason) {
    let sent = dev.step_with(body, content_type, None).sent();
    assert!(sent.last, "{reason:?}: the session ends");
    assert_eq!(sent.out.alert_codes(), [1223], "{reason:?}");
    assert!(sent.out.is_final);
    assert_eq!(sent.out.statuses().len(), 0);
    assert_eq!(dev.session.summary().end, Some(End::Aborted(reason)));
    assert_eq!(
        state(&dev.tree),
        before,
        "{reason:?}: the tree is unchanged"
    );
    assert!(dev.handler.execs.is_empty());
    assert!(dev.session.is_over());
}

const XML: &str = "application/vnd.syncml.dm+xml";
const WBXML: &str = "application/vnd.syncml.dm+wbxml";

#[test]
fn the_well_formed_template_is_accepted() {
    let (mut dev, _, _) = opened(Encoding::Xml);
    let out = dev
        .step(&xml(&add_node(2, "./SCOMO/Download/A")))
        .sent()
        .out;
    assert_eq!(out.code(2), 200);
}

#[test]
fn a_truncated_message_aborts_with_1223() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let full = xml(&add_node(2, "./SCOMO/Download/A"));
    aborts(
        &mut dev,
        &before,
        &full[..full.len() - 20],
        XML,
        AbortReason::Malformed,
    );
}

#[test]
fn a_truncated_wbxml_message_aborts_with_1223() {
    let (mut dev, pkg1, before) = opened(Encoding::Wbxml);
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let full = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.add_node(w, "./SCOMO/Download/A");
    });
    aborts(
        &mut dev,
        &before,
        &full[..full.len() / 2],
        WBXML,
        AbortReason::Malformed,
    );
}

#[test]
fn a_message_longer_than_the_advertised_max_msg_size_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body: String = (2..40).map(|i| get(i, "./DevInfo/Mod")).collect();
    let msg = xml(&body);
    assert!(msg.len() > BUF);
    aborts(&mut dev, &before, &msg, XML, AbortReason::Oversized);
}

#[test]
fn an_unknown_element_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let msg = xml("<Frobnicate><CmdID>2</CmdID></Frobnicate>");
    aborts(&mut dev, &before, &msg, XML, AbortReason::Malformed);
}

#[test]
fn a_wrong_namespace_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let msg = String::from_utf8(xml(&add_node(2, "./SCOMO/Download/A")))
        .unwrap()
        .replace("SYNCML:SYNCML1.2", "SYNCML:SYNCML2.0");
    aborts(
        &mut dev,
        &before,
        msg.as_bytes(),
        XML,
        AbortReason::Malformed,
    );
}

#[test]
fn invalid_utf8_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let mut msg = xml(&add_node(2, "./SCOMO/Download/AB"));
    let at = msg.windows(2).position(|w| w == b"AB").unwrap();
    msg[at] = 0xFF;
    aborts(&mut dev, &before, &msg, XML, AbortReason::Malformed);
}

#[test]
fn nesting_deeper_than_the_engine_supports_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let mut body = add_node(20, "./SCOMO/Download/A");
    for id in 2..8 {
        body = format!("<Sequence><CmdID>{id}</CmdID>{body}</Sequence>");
    }
    aborts(&mut dev, &before, &xml(&body), XML, AbortReason::Malformed);
}

#[test]
fn an_overflowing_wbxml_length_aborts() {
    let (mut dev, pkg1, before) = opened(Encoding::Wbxml);
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let mut msg = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.put(
            w,
            Element::Replace,
            "./SCOMO/Download/A/PkgID",
            None,
            Some(scomo::dm::codec::DataOut::Binary(b"abc")),
        );
    });
    // OPAQUE (0xC3) with the length 3 replaced by an mb_u_int32 over 32 bits.
    let at = msg
        .windows(5)
        .position(|w| w == [0xC3, 0x03, b'a', b'b', b'c'])
        .unwrap();
    msg.splice(at + 1..at + 2, [0x8F, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    aborts(&mut dev, &before, &msg, WBXML, AbortReason::Malformed);
}

#[test]
fn a_wbxml_length_past_the_end_aborts() {
    let (mut dev, pkg1, before) = opened(Encoding::Wbxml);
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let mut msg = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.put(
            w,
            Element::Replace,
            "./SCOMO/Download/A/PkgID",
            None,
            Some(scomo::dm::codec::DataOut::Binary(b"abc")),
        );
    });
    let at = msg.windows(2).position(|w| w == [0xC3, 0x03]).unwrap();
    msg[at + 1] = 0x7F;
    aborts(&mut dev, &before, &msg, WBXML, AbortReason::Malformed);
}

#[test]
fn a_duplicate_cmd_id_within_a_message_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = add_node(5, "./SCOMO/Download/A") + &get(5, "./DevInfo/Mod");
    aborts(
        &mut dev,
        &before,
        &xml(&body),
        XML,
        AbortReason::DuplicateCmdId,
    );
}

#[test]
fn a_duplicate_cmd_id_inside_a_container_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = format!(
        "<Atomic><CmdID>9</CmdID>{}</Atomic>",
        add_node(9, "./SCOMO/Download/A")
    );
    aborts(
        &mut dev,
        &before,
        &xml(&body),
        XML,
        AbortReason::DuplicateCmdId,
    );
}

#[test]
fn a_duplicate_large_cmd_id_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = get(70000, "./DevInfo/Mod") + &add_node(70000, "./SCOMO/Download/A");
    aborts(
        &mut dev,
        &before,
        &xml(&body),
        XML,
        AbortReason::DuplicateCmdId,
    );
}

#[test]
fn distinct_cmd_ids_in_any_order_are_fine() {
    let (mut dev, _, _) = opened(Encoding::Xml);
    let body = get(900, "./DevInfo/Mod")
        + &add_node(3, "./SCOMO/Download/A")
        + &get(70000, "./DevInfo/Man");
    let out = dev.step(&xml(&body)).sent().out;
    assert_eq!(
        (out.code(900), out.code(3), out.code(70000)),
        (200, 200, 200)
    );
}

#[test]
fn cmd_id_zero_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    aborts(
        &mut dev,
        &before,
        &xml(&get(0, "./DevInfo/Mod")),
        XML,
        AbortReason::Malformed,
    );
}

#[test]
fn a_status_for_a_command_never_sent_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    // Package 1 had CmdIDs 1 and 2.
    let body = "<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>9</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status>";
    aborts(
        &mut dev,
        &before,
        &xml(body),
        XML,
        AbortReason::UnknownReference,
    );
}

#[test]
fn a_status_for_a_message_never_sent_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = "<Status><CmdID>2</CmdID><MsgRef>7</MsgRef><CmdRef>1</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status>";
    aborts(
        &mut dev,
        &before,
        &xml(body),
        XML,
        AbortReason::UnknownReference,
    );
}

#[test]
fn results_from_the_server_abort() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = "<Results><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>1</CmdRef><Item><Data>x</Data></Item></Results>";
    aborts(
        &mut dev,
        &before,
        &xml(body),
        XML,
        AbortReason::UnknownReference,
    );
}

#[test]
fn a_status_whose_code_is_not_a_number_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let body = "<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>1</CmdRef><Cmd>Alert</Cmd><Data>OK</Data></Status>";
    aborts(&mut dev, &before, &xml(body), XML, AbortReason::Malformed);
}

#[test]
fn another_session_id_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let msg = xml_with(
        "<VerProto>DM/1.2</VerProto><SessionID>1A2C</SessionID>",
        &add_node(2, "./SCOMO/Download/A"),
    );
    aborts(&mut dev, &before, &msg, XML, AbortReason::Malformed);
}

#[test]
fn another_protocol_version_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let msg = xml_with(
        "<VerProto>DM/1.1</VerProto><SessionID>1A2B</SessionID>",
        &add_node(2, "./SCOMO/Download/A"),
    );
    aborts(&mut dev, &before, &msg, XML, AbortReason::Malformed);
}

#[test]
fn another_content_type_aborts() {
    let (mut dev, _, before) = opened(Encoding::Xml);
    let msg = xml(&add_node(2, "./SCOMO/Download/A"));
    aborts(
        &mut dev,
        &before,
        &msg,
        "text/html; charset=utf-8",
        AbortReason::Malformed,
    );
}

#[test]
fn xml_sent_as_wbxml_aborts() {
    let (mut dev, _, before) = opened(Encoding::Wbxml);
    let msg = xml(&add_node(2, "./SCOMO/Download/A"));
    aborts(&mut dev, &before, &msg, WBXML, AbortReason::Malformed);
}

#[test]
fn a_resp_uri_too_long_to_keep_aborts() {
    let (mut dev, pkg1, before) = opened(Encoding::Xml);
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    srv.resp_uri = Some(format!(
        "https://dm.example.com/{}",
        "x".repeat(RESP_URI_CAP)
    ));
    let msg = srv.msg(true, |s, w| {
        s.hdr_status(w, &pkg1, StatusCode::AuthAccepted);
        s.add_node(w, "./SCOMO/Download/A");
    });
    aborts(&mut dev, &before, &msg, XML, AbortReason::RespUriTooLong);
}

#[test]
fn server_credentials_that_do_not_verify_are_401_and_change_nothing() {
    let mut cfg = config(Encoding::Xml);
    cfg.server = server_auth(AuthScheme::Basic);
    let auth = AuthState::new(AuthScheme::Basic, b"", b"").unwrap();
    let mut dev = Dev::with(
        cfg,
        auth,
        Start::Client {
            session_id: scomo::dm::pkg0::SessionId::new(0x1A2B).unwrap(),
            request: None,
        },
    );
    let pkg1 = dev.start().out;
    let before = state(&dev.tree);
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    srv.cred = Some((AuthScheme::Basic, b64(b"srv1:wrong")));
    let mut add = 0;
    let msg = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        add = s.add_node(w, "./SCOMO/Download/A");
    });
    let out = dev.step(&msg).sent().out;
    assert_eq!((out.code(0), out.code(add)), (401, 401));
    assert_eq!(out.status(0).chal.as_ref().unwrap().0, "syncml:auth-basic");
    assert_eq!(state(&dev.tree), before);
    // And the right ones are taken.
    srv.cred = Some((AuthScheme::Basic, b64(b"srv1:srvpass")));
    let msg = srv.msg(true, |s, w| {
        s.hdr_status(w, &out, StatusCode::Ok);
        add = s.add_node(w, "./SCOMO/Download/A");
    });
    let out = dev.step(&msg).sent().out;
    assert_eq!((out.code(0), out.code(add)), (212, 200));
}

#[test]
fn misuse_of_the_session_is_an_error_not_a_panic() {
    let mut dev = Dev::client(Encoding::Xml);
    let msg = xml(&get(2, "./DevInfo/Mod"));
    let mut ctx = Context {
        tree: &mut dev.tree,
        auth: &mut dev.auth,
        handler: &mut dev.handler,
        rng: &mut dev.rng,
        ui: None,
        work: &mut dev.work,
    };
    let rx = Received {
        body: &msg,
        content_type: XML,
        hmac: None,
    };
    assert_eq!(
        dev.session.step(&mut ctx, rx, &mut dev.tx).unwrap_err(),
        Error::NotStarted
    );
    let mut tiny = [0u8; 64];
    assert_eq!(
        dev.session.start(&mut ctx, &mut tiny).unwrap_err(),
        Error::BufferTooSmall
    );
    let mut fresh = Session::new(
        config(Encoding::Xml),
        Start::Client {
            session_id: scomo::dm::pkg0::SessionId::new(1).unwrap(),
            request: None,
        },
    );
    fresh.start(&mut ctx, &mut dev.tx).unwrap();
    assert_eq!(
        fresh.start(&mut ctx, &mut dev.tx).unwrap_err(),
        Error::AlreadyStarted
    );
    // After the end, steps are refused.
    let abort = xml_with(
        "<VerProto>DM/1.2</VerProto><SessionID>1</SessionID>",
        r#"<Alert><CmdID>2</CmdID><Data>1223</Data></Alert>"#,
    );
    let _ = fresh
        .step(
            &mut ctx,
            Received {
                body: &abort,
                content_type: XML,
                hmac: None,
            },
            &mut dev.tx,
        )
        .unwrap();
    assert!(fresh.is_over());
    assert_eq!(
        fresh
            .step(
                &mut ctx,
                Received {
                    body: &abort,
                    content_type: XML,
                    hmac: None
                },
                &mut dev.tx
            )
            .unwrap_err(),
        Error::Over
    );
}

/// A valid Package 2 with some of everything, to mutate.
fn rich_message(enc: Encoding, pkg1: &Out) -> Vec<u8> {
    let mut srv = Srv::new(enc, "1A2B");
    srv.msg(true, |s, w| {
        s.acks(w, pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.get(w, &["./SCOMO/Inventory/Deployed", "./DevInfo/Mod"]);
        s.container(w, Element::Atomic, |s, w| {
            s.add_node(w, "./SCOMO/Download/A");
            s.add_chr(w, "./SCOMO/Download/A/PkgURL", "http://x");
        });
        s.container(w, Element::Sequence, |s, w| {
            s.alert(w, 1101, &["", "ok?"]);
            s.exec(
                w,
                "./SCOMO/Inventory/Deployed/Comp1/Operations/Deactivate",
                Some("c"),
            );
        });
        let id = s.id();
        w.status(&StatusOut {
            cmd_id: id,
            msg_ref: 1,
            cmd_ref: 1,
            cmd: Element::Alert,
            target_refs: &[],
            source_refs: &[],
            chal: None,
            code: StatusCode::Ok,
            items: &[],
        })
        .unwrap();
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_abort(bytes in proptest::collection::vec(any::<u8>(), 0..2048), wbxml in any::<bool>()) {
        let enc = if wbxml { Encoding::Wbxml } else { Encoding::Xml };
        let (mut dev, _, before) = opened(enc);
        let sent = dev.step(&bytes).sent();
        prop_assert!(sent.last);
        prop_assert_eq!(sent.out.alert_codes(), vec![1223]);
        prop_assert_eq!(state(&dev.tree), before);
    }

    #[test]
    fn mutated_messages_never_panic(
        wbxml in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let enc = if wbxml { Encoding::Wbxml } else { Encoding::Xml };
        let (mut dev, pkg1, _) = opened(enc);
        let mut msg = rich_message(enc, &pkg1);
        for (at, byte, op) in edits {
            let i = at.index(msg.len());
            match op {
                0 => msg[i] = byte,
                1 => msg.insert(i, byte),
                _ => { msg.remove(i); }
            }
        }
        // Whatever it became, the step answers (a reply, an abort or the end).
        let _ = dev.step(&msg);
    }
}
