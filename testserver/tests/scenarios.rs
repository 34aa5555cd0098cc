//! The checked-in scenario files parse; what the server sends for a fixed step is the golden
//! message (a change to the server's encoding shows up here) and has the shape of a real
//! server's package from the shared vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::dm::codec::{
    AlertOut, DataOut, Element, Encoding, HeaderOut, ItemOut, RequestOut, Writer,
};
use scomo_testserver::{Cmd, Scenario, Server};

#[test]
fn the_scenario_files_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let s: Scenario =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(!s.steps.is_empty(), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 2);
}

fn pkg1() -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(&mut buf, Encoding::Xml).unwrap();
    w.begin_message(&HeaderOut {
        session_id: "1",
        msg_id: 1,
        target: "http://server/dm",
        source: "IMEI:1",
        source_name: None,
        cred: None,
        meta: None,
    })
    .unwrap();
    w.alert(&AlertOut {
        cmd_id: 1,
        code: 1201,
        correlator: None,
        items: &[],
    })
    .unwrap();
    let items = [ItemOut {
        source: Some("./DevInfo/DevId"),
        data: Some(DataOut::Text("IMEI:1")),
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
    w.end_message(true).unwrap();
    w.finish().unwrap().to_vec()
}

#[test]
fn the_server_package_for_an_exec_step_is_the_golden_message() {
    let server = Server::start().unwrap();
    server.queue(
        "IMEI:1",
        vec![
            Cmd::add_node("./SCOMO/Download/P"),
            Cmd::add("./SCOMO/Download/P/PkgURL", "http://x/p"),
            Cmd::exec("./SCOMO/Download/P/Operations/Download", Some("job-77")),
        ],
    );
    let mut resp = ureq::post(&server.dm_url())
        .header("Content-Type", Encoding::Xml.content_type())
        .send(&pkg1()[..])
        .unwrap();
    let got = String::from_utf8(resp.body_mut().read_to_vec().unwrap()).unwrap();
    let got = got.replace(&server.url(), "http://SERVER");
    let golden = include_str!("golden/pkg2-exec.xml").trim();
    assert_eq!(got, golden);
}

/// The shape of a message: the header's RespURI presence and each command with its
/// referenced command (for Statuses) or target.
fn shape(bytes: &[u8], enc: Encoding) -> (bool, Vec<String>) {
    use scomo::dm::codec::{Command, Message};
    use scomo_testserver::dm::text;
    let msg = Message::decode(bytes, enc).unwrap();
    let mut out = Vec::new();
    for c in msg.body.commands() {
        out.push(match c.unwrap() {
            Command::Status(s) => format!("Status({})", text(&s.cmd)),
            Command::Get(r) => format!(
                "Get({})",
                text(&r.items().next().unwrap().unwrap().target.unwrap().loc_uri)
            ),
            other => format!("{:?}", other.element()),
        });
    }
    (msg.hdr.resp_uri.is_some(), out)
}

#[test]
fn a_get_step_has_the_shape_of_the_real_server_package_in_the_shared_vectors() {
    let vector = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/aosp-oma-dm-1.2/testget.wbxml"
    ))
    .or_else(|_| {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/aosp-oma-dm-1.2/testget.wbxml"
        ))
    })
    .unwrap();
    let real = shape(&vector, Encoding::Wbxml);
    let server = Server::start().unwrap();
    server.queue("IMEI:1", vec![Cmd::get("./DevDetail/URI/MaxDepth")]);
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    w.begin_message(&HeaderOut {
        session_id: "1",
        msg_id: 1,
        target: "http://server/dm",
        source: "IMEI:1",
        source_name: None,
        cred: None,
        meta: None,
    })
    .unwrap();
    w.alert(&AlertOut {
        cmd_id: 1,
        code: 1201,
        correlator: None,
        items: &[],
    })
    .unwrap();
    let items = [ItemOut {
        source: Some("./DevInfo/DevId"),
        data: Some(DataOut::Text("IMEI:1")),
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
    w.end_message(true).unwrap();
    let pkg1 = w.finish().unwrap().to_vec();
    let mut resp = ureq::post(&server.dm_url())
        .header("Content-Type", Encoding::Wbxml.content_type())
        .send(&pkg1[..])
        .unwrap();
    let ours = shape(&resp.body_mut().read_to_vec().unwrap(), Encoding::Wbxml);
    assert_eq!(
        ours, real,
        "our server's package 2 for a Get has the real one's shape"
    );
}
