//! The session's own messages checked by an independent implementation: libwbxml's
//! `wbxml2xml` reads the device's WBXML messages (Package 1 with Generic Alerts and the
//! component request, a reply with Statuses, Results and a challenge) to the same meaning
//! as our decoder, and its `xml2wbxml` turns the device's XML messages into WBXML that
//! means the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;
mod session_support;

use codec_support::{decode_dump, wbxml2xml, xml2wbxml};
use scomo::codes::StatusCode;
use scomo::dm::auth::{AuthScheme, AuthState};
use scomo::dm::codec::Encoding;
use scomo::dm::pkg0::SessionId;
use scomo::dm::session::{ComponentRequest, Start};
use session_support::*;

/// Package 1 with a component request and two Generic Alerts, then the reply to a
/// Package 2 with Gets (one of a property), an Add and an Exec, with a fresh nonce.
fn messages(enc: Encoding) -> Vec<Vec<u8>> {
    let mut cfg = config(enc);
    cfg.server = server_auth(AuthScheme::Md5);
    let auth = AuthState::new(AuthScheme::Md5, b"cn", b"sn").unwrap();
    let start = Start::Client {
        session_id: SessionId::new(0xBEEF).unwrap(),
        request: Some(ComponentRequest::new("com.example.game & co")),
    };
    let mut dev = Dev::with(cfg, auth, start);
    for (id, code) in [(1, 1200), (2, 1405)] {
        dev.handler.outbox.push(Pending {
            id,
            correlator: (id == 1).then(|| "job<1>".to_owned()),
            source: "./SCOMO/Download/P/Operations/DownloadInstall".into(),
            alert_type: scomo::dm::alert::SCOMO_ALERT_TYPE.into(),
            items: vec![(
                "./SCOMO/Inventory/Deployed/Comp1".into(),
                code,
                "a&b".into(),
            )],
        });
    }
    let pkg1 = dev.start();
    let mut srv = Srv::new(enc, "BEEF");
    let cred = scomo::dm::auth::md5_credential(&SERVER, b"sn");
    srv.cred = Some((AuthScheme::Md5, cred.as_str().to_owned()));
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1.out, StatusCode::AuthAccepted, StatusCode::Ok);
        s.get(w, &["./SCOMO/Inventory/Deployed", "./SCOMO?prop=ACL"]);
        s.add_chr(w, "./SCOMO/Download/P", "x");
        s.exec(
            w,
            "./SCOMO/Inventory/Deployed/Comp2/Operations/Activate",
            Some("c2"),
        );
    });
    let pkg3 = dev.step(&pkg2).sent();
    // 212 with a Chal carrying the server's next nonce.
    assert_eq!(pkg3.out.code(0), 212);
    assert!(pkg3.out.status(0).chal.as_ref().unwrap().1.is_some());
    vec![pkg1.body, pkg3.body]
}

#[test]
fn libwbxml_reads_the_devices_wbxml_messages_as_we_do() {
    for body in messages(Encoding::Wbxml) {
        let xml = wbxml2xml(&body);
        assert_eq!(
            decode_dump(&xml, Encoding::Xml),
            decode_dump(&body, Encoding::Wbxml)
        );
    }
}

#[test]
fn libwbxml_encodes_the_devices_xml_messages_to_the_same_meaning() {
    for body in messages(Encoding::Xml) {
        for string_table in [false, true] {
            let wbxml = xml2wbxml(&body, string_table);
            assert_eq!(
                decode_dump(&wbxml, Encoding::Wbxml),
                decode_dump(&body, Encoding::Xml)
            );
        }
    }
}

#[test]
fn a_property_get_is_answered_from_the_tree() {
    let mut dev = Dev::client(Encoding::Xml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let mut get = 0;
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        get = s.get(w, &["./SCOMO?prop=ACL", "./DevInfo/Mod?prop=Format"]);
    });
    let out = dev.step(&pkg2).sent().out;
    assert_eq!(out.code(get), 200);
    let values: Vec<String> = out.results().iter().map(|(_, i)| i[0].text()).collect();
    assert_eq!(values, ["Get=*&Add=*&Replace=*&Delete=*&Exec=srv1", "chr"]);
}
