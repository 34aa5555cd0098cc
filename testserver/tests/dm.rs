//! The DM endpoint over real HTTP, driven by hand-built device messages (the device's own
//! session engine is tested against this server elsewhere).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::codes::StatusCode;
use scomo::dm::auth::{Account, AuthScheme, md5_credential};
use scomo::dm::codec::{
    AlertOut, Command, CredOut, DataOut, Element, Encoding, HeaderOut, ItemOut, Message, MetaOut,
    RequestOut, StatusOut, Writer,
};
use scomo_testserver::dm::text;
use scomo_testserver::{ClientAuth, Cmd, DmConfig, DmFault, Event, Server};

const DEV: &str = "IMEI:001";

fn post(url: &str, body: &[u8], enc: Encoding) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(url)
        .header("Content-Type", enc.content_type())
        .send(body)
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_vec().unwrap(),
    )
}

/// Writes a device message: header (optional MD5 cred), then `body` commands, then Final.
fn device_msg(
    enc: Encoding,
    msg_id: u32,
    cred: Option<&str>,
    body: impl FnOnce(&mut Writer<'_>),
) -> Vec<u8> {
    let mut buf = vec![0u8; 16384];
    let mut w = Writer::new(&mut buf, enc).unwrap();
    w.begin_message(&HeaderOut {
        session_id: "7",
        msg_id,
        target: "http://server/dm",
        source: DEV,
        source_name: Some("dev-user"),
        cred: cred.map(|data| CredOut {
            meta: MetaOut {
                format: Some("b64"),
                mime_type: Some("syncml:auth-md5"),
                ..MetaOut::default()
            },
            data,
        }),
        meta: Some(MetaOut {
            max_msg_size: Some(16384),
            ..MetaOut::default()
        }),
    })
    .unwrap();
    body(&mut w);
    w.end_message(true).unwrap();
    w.finish().unwrap().to_vec()
}

fn pkg1(w: &mut Writer<'_>) {
    w.alert(&AlertOut {
        cmd_id: 1,
        code: 1201,
        correlator: None,
        items: &[],
    })
    .unwrap();
    let items = [ItemOut {
        source: Some("./DevInfo/Mod"),
        data: Some(DataOut::Text("m1")),
        ..ItemOut::default()
    }];
    w.request(&RequestOut {
        kind: Element::Replace,
        cmd_id: 2,
        meta: None,
        correlator: None,
        items: &items,
    })
    .unwrap();
}

/// A command the server sent: (element, target, correlator).
type Sent = (Element, String, Option<String>);

/// The header status, every command the server sent, and whether the message is Final.
fn server_commands(bytes: &[u8], enc: Encoding) -> (u16, Vec<Sent>, bool) {
    let msg = Message::decode(bytes, enc).unwrap();
    let mut hdr = 0;
    let mut cmds = Vec::new();
    for c in msg.body.commands() {
        let c = c.unwrap();
        let el = c.element();
        match c {
            Command::Status(s) if s.cmd_ref == 0 => hdr = text(&s.data).parse().unwrap(),
            Command::Status(_) => {}
            Command::Exec(r) | Command::Add(r) | Command::Get(r) | Command::Replace(r) => {
                let item = r.items().next().unwrap().unwrap();
                let target = item.target.map(|t| text(&t.loc_uri)).unwrap_or_default();
                cmds.push((el, target, r.correlator.as_ref().map(text)));
            }
            _ => cmds.push((el, String::new(), None)),
        }
    }
    (hdr, cmds, msg.body.is_final)
}

#[test]
fn a_session_takes_the_queued_step_and_records_statuses_and_results_in_both_encodings() {
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let server = Server::start().unwrap();
        server.queue(
            DEV,
            vec![
                Cmd::get("./DevInfo/Mod"),
                Cmd::exec("./SCOMO/Download/P/Operations/Download", Some("job-1")),
            ],
        );
        let (status, reply) = post(&server.dm_url(), &device_msg(enc, 1, None, pkg1), enc);
        assert_eq!(status, 200);
        let (hdr, cmds, fin) = server_commands(&reply, enc);
        assert_eq!(hdr, 200);
        assert!(fin);
        assert_eq!(cmds.len(), 2, "{cmds:?}");
        assert_eq!(cmds[0].0, Element::Get);
        assert_eq!(
            cmds[1],
            (
                Element::Exec,
                "./SCOMO/Download/P/Operations/Download".into(),
                Some("job-1".into())
            )
        );
        // Package 3: the device answers both commands and sends the Get's Results.
        let pkg3 = device_msg(enc, 2, None, |w| {
            w.status(&StatusOut {
                cmd_id: 1,
                msg_ref: 1,
                cmd_ref: 0,
                cmd: Element::SyncHdr,
                target_refs: &[DEV],
                source_refs: &[],
                chal: None,
                code: StatusCode::Ok,
                items: &[],
            })
            .unwrap();
            w.status(&StatusOut {
                cmd_id: 2,
                msg_ref: 1,
                cmd_ref: 4,
                cmd: Element::Get,
                target_refs: &["./DevInfo/Mod"],
                source_refs: &[],
                chal: None,
                code: StatusCode::Ok,
                items: &[],
            })
            .unwrap();
            let items = [ItemOut {
                source: Some("./DevInfo/Mod"),
                data: Some(DataOut::Text("m1")),
                ..ItemOut::default()
            }];
            w.results(&scomo::dm::codec::ResultsOut {
                cmd_id: 3,
                msg_ref: 1,
                cmd_ref: 4,
                meta: None,
                target_refs: &[],
                source_refs: &[],
                items: &items,
            })
            .unwrap();
            w.status(&StatusOut {
                cmd_id: 4,
                msg_ref: 1,
                cmd_ref: 5,
                cmd: Element::Exec,
                target_refs: &[],
                source_refs: &[],
                chal: None,
                code: StatusCode::Accepted,
                items: &[],
            })
            .unwrap();
        });
        let (_, reply) = post(&server.dm_url(), &pkg3, enc);
        let (_, cmds, fin) = server_commands(&reply, enc);
        assert!(
            cmds.is_empty() && fin,
            "nothing left to do ends the session: {cmds:?}"
        );
        let record = server.record();
        assert_eq!(
            record.results(),
            vec![("./DevInfo/Mod".to_owned(), "m1".to_owned())]
        );
        let statuses = record.statuses();
        assert!(
            statuses.contains(&("Get".into(), "./DevInfo/Mod".into(), 200)),
            "{statuses:?}"
        );
        assert!(
            statuses.contains(&(
                "Exec".into(),
                "./SCOMO/Download/P/Operations/Download".into(),
                202
            )),
            "{statuses:?}"
        );
        assert!(record.events.iter().any(|e| matches!(e, Event::DevInfo { uri, value, .. } if uri == "./DevInfo/Mod" && value == "m1")));
    }
}

#[test]
fn md5_client_auth_is_challenged_then_accepted_with_212() {
    let config = DmConfig {
        client_auth: ClientAuth::Required {
            scheme: AuthScheme::Md5,
            user: "dev-user".into(),
            password: "pw".into(),
        },
        ..DmConfig::default()
    };
    let server = Server::start_with(config).unwrap();
    let enc = Encoding::Xml;
    let (_, reply) = post(&server.dm_url(), &device_msg(enc, 1, None, pkg1), enc);
    let msg = Message::decode(&reply, enc).unwrap();
    let hdr_status = msg.body.commands().next().unwrap().unwrap();
    let Command::Status(s) = hdr_status else {
        panic!()
    };
    assert_eq!(text(&s.data), "407");
    let nonce_b64 = text(s.chal.as_ref().unwrap().meta.next_nonce.as_ref().unwrap());
    use base64::Engine as _;
    let nonce = base64::engine::general_purpose::STANDARD
        .decode(nonce_b64)
        .unwrap();
    let cred = md5_credential(
        &Account {
            name: "dev-user",
            password: b"pw",
        },
        &nonce,
    );
    let (_, reply) = post(
        &server.dm_url(),
        &device_msg(enc, 2, Some(cred.as_str()), pkg1),
        enc,
    );
    assert_eq!(server_commands(&reply, enc).0, 212);
    let wrong = md5_credential(
        &Account {
            name: "dev-user",
            password: b"nope",
        },
        &nonce,
    );
    let fresh_session = device_msg(enc, 1, Some(wrong.as_str()), pkg1);
    let fresh_session = String::from_utf8(fresh_session)
        .unwrap()
        .replace("<SessionID>7<", "<SessionID>8<");
    let (_, reply) = post(&server.dm_url(), fresh_session.as_bytes(), enc);
    assert_eq!(server_commands(&reply, enc).0, 401);
}

#[test]
fn a_large_object_is_pushed_in_chunks_with_more_data_and_size_on_the_first() {
    let server = Server::start().unwrap();
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 253) as u8).collect();
    server.queue(
        DEV,
        vec![Cmd::push(
            "./SCOMO/Inventory/Delivered/P/Data",
            payload.clone(),
            400,
        )],
    );
    let enc = Encoding::Xml;
    let (_, reply) = post(&server.dm_url(), &device_msg(enc, 1, None, pkg1), enc);
    let mut collected = String::new();
    let mut reply = reply;
    let mut msg_id = 1;
    loop {
        let msg = Message::decode(&reply, enc).unwrap();
        let mut last = true;
        let mut cmd = 0;
        for c in msg.body.commands() {
            if let Command::Add(r) = c.unwrap() {
                cmd = r.cmd_id;
                let item = r.items().next().unwrap().unwrap();
                if collected.is_empty() {
                    assert_eq!(
                        item.meta.as_ref().unwrap().size,
                        Some(1336),
                        "Size is the b64 length"
                    );
                }
                assert_eq!(
                    text(item.meta.as_ref().unwrap().format.as_ref().unwrap()),
                    "b64"
                );
                collected.push_str(&text(item.data.as_ref().unwrap()));
                last = !item.more_data;
            }
        }
        assert_eq!(
            msg.body.is_final, last,
            "only the message with the last chunk is Final"
        );
        if last {
            break;
        }
        msg_id += 1;
        let ack = device_msg(enc, msg_id, None, |w| {
            w.status(&StatusOut {
                cmd_id: 1,
                msg_ref: msg.hdr.msg_id,
                cmd_ref: cmd,
                cmd: Element::Replace,
                target_refs: &[],
                source_refs: &[],
                chal: None,
                code: StatusCode::ChunkAccepted,
                items: &[],
            })
            .unwrap();
            w.alert(&AlertOut {
                cmd_id: 2,
                code: 1222,
                correlator: None,
                items: &[],
            })
            .unwrap();
        });
        reply = post(&server.dm_url(), &ack, enc).1;
    }
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(collected)
            .unwrap(),
        payload
    );
    assert_eq!(
        msg_id, 4,
        "1336 b64 bytes in 400-byte chunks take 4 messages"
    );
}

#[test]
fn generic_alerts_are_recorded_and_never_acknowledged_under_that_fault() {
    let server = Server::start().unwrap();
    server.set_dm_fault(DmFault::NeverAckAlerts);
    let enc = Encoding::Wbxml;
    let msg = device_msg(enc, 1, None, |w| {
        pkg1(w);
        let items = [ItemOut {
            source: Some("./SCOMO/Download/P/Operations/Download"),
            target: Some("./SCOMO/Inventory/Delivered/P"),
            meta: Some(MetaOut {
                format: Some("xml"),
                mime_type: Some("urn:oma:at:scomo:1.0:OperationComplete"),
                mark: Some("informational"),
                ..MetaOut::default()
            }),
            data: Some(DataOut::Text(
                "<ResultCode>1200</ResultCode><Identifier>pkg-1</Identifier>",
            )),
            ..ItemOut::default()
        }];
        w.alert(&AlertOut {
            cmd_id: 3,
            code: 1226,
            correlator: Some("job-1"),
            items: &items,
        })
        .unwrap();
    });
    let (_, reply) = post(&server.dm_url(), &msg, enc);
    let alerts = server.record().generic_alerts();
    assert_eq!(
        alerts,
        vec![(
            Some("job-1".into()),
            "./SCOMO/Download/P/Operations/Download".into(),
            "./SCOMO/Inventory/Delivered/P".into(),
            Some(1200),
            Some("pkg-1".into())
        )]
    );
    let msg = Message::decode(&reply, enc).unwrap();
    let code = msg
        .body
        .commands()
        .filter_map(|c| match c.unwrap() {
            Command::Status(s) if s.cmd_ref == 3 => Some(text(&s.data)),
            _ => None,
        })
        .next();
    assert_eq!(code.as_deref(), Some("500"));
}

#[test]
fn the_ems_endpoint_queues_steps_and_emits_a_package0_that_verifies() {
    let config = DmConfig {
        server_password: Some("srvpw".into()),
        ..DmConfig::default()
    };
    let server = Server::start_with(config).unwrap();
    let steps = r#"[[{"Get": {"uri": "./SCOMO/Inventory/Deployed"}}], [{"Exec": {"uri": "./SCOMO/Inventory/Deployed/C/Operations/Activate", "correlator": "x"}}]]"#;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("{}/ems/{DEV}/steps", server.url()))
        .send(steps)
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    assert_eq!(server.queued(DEV), 2);
    let mut r = agent
        .post(&format!("{}/ems/{DEV}/pkg0?session=6699", server.url()))
        .send("")
        .unwrap();
    let pkg0 = r.body_mut().read_to_vec().unwrap();
    let n = scomo::dm::pkg0::Notification::parse(&pkg0).unwrap();
    assert_eq!(n.trigger.session_id.get(), 6699);
    let account = Account {
        name: "scomo-test-server",
        password: b"srvpw",
    };
    assert_eq!(
        n.verify(&account, &[]).unwrap(),
        scomo::dm::pkg0::NonceMatch::Resync
    );
    let bad: Result<_, _> = agent
        .post(&format!("{}/ems/{DEV}/steps", server.url()))
        .send("[[{\"Nope\":1}]]");
    assert_eq!(bad.unwrap().status().as_u16(), 400);
}

#[test]
fn garbage_and_wrong_content_type_faults() {
    let server = Server::start().unwrap();
    server.set_dm_fault(DmFault::Garbage);
    let (status, body) = post(
        &server.dm_url(),
        &device_msg(Encoding::Xml, 1, None, pkg1),
        Encoding::Xml,
    );
    assert_eq!(status, 200);
    assert!(Message::decode(&body, Encoding::Xml).is_err());
    let (status, _) = post(&server.dm_url(), b"not syncml", Encoding::Xml);
    assert_eq!(status, 400);
}
