//! Client-initiated sessions (Alert 1201): Package 1, an inventory query (Get on
//! `Inventory/Deployed` and its leaves), Exec handed to the executor, Generic Alerts and
//! the component request, in XML and WBXML.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use scomo::codes::StatusCode;
use scomo::dm::codec::{Element, Encoding};
use scomo::dm::pkg0::SessionId;
use scomo::dm::session::{COMPONENT_REQUEST_TYPE, ComponentRequest, End, Start};
use session_support::*;

#[test]
fn package1_carries_alert_1201_devinfo_credentials_and_sizes() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start();
        assert_eq!(pkg1.url, SERVER_URI);
        assert_eq!(pkg1.content_type, enc.content_type());
        assert!(pkg1.hmac.is_none());
        let o = &pkg1.out;
        assert_eq!((o.session_id.as_str(), o.msg_id), ("1A2B", 1));
        assert_eq!(
            (o.target.as_str(), o.source.as_str()),
            (SERVER_URI, DEVICE_ID)
        );
        assert_eq!(o.loc_name.as_deref(), Some("device"));
        // Basic: B64("device:s3cret").
        assert_eq!(
            o.cred,
            Some(("syncml:auth-basic".into(), b64(b"device:s3cret")))
        );
        assert_eq!((o.max_msg, o.max_obj), (Some(BUF as u32), Some(16 << 20)));
        assert_eq!(o.alert_codes(), [1201]);
        let Cmd::Replace { items, .. } = &o.cmds[1] else {
            panic!("DevInfo Replace expected: {o:#?}")
        };
        let leaves: Vec<(String, String, String)> = items
            .iter()
            .map(|i| {
                (
                    i.source.clone().unwrap(),
                    i.format.clone().unwrap(),
                    i.text(),
                )
            })
            .collect();
        assert_eq!(
            leaves[0],
            ("./DevInfo/DevId".into(), "chr".into(), DEVICE_ID.into())
        );
        assert_eq!(leaves.len(), 5);
        assert_eq!(leaves[4].0, "./DevInfo/Lang");
        assert!(o.is_final);
    }
}

#[test]
fn inventory_query_gets_child_lists_and_leaves_with_results_after_their_status() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let (mut list, mut leaves) = (0, 0);
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            list = s.get(w, &["./SCOMO/Inventory/Deployed"]);
            leaves = s.get(
                w,
                &[
                    "./SCOMO/Inventory/Deployed/Comp1/ID",
                    "./SCOMO/Inventory/Deployed/Comp1/Version",
                    "./SCOMO/Inventory/Deployed/Comp2/State",
                ],
            );
        });
        let first = dev.step(&pkg2).sent().out;
        let pkg3 = whole_package(&mut dev, &mut srv, first.clone());
        // 212: no credentials any more.
        assert_eq!(first.cred, None);
        assert_eq!(first.msg_id, 2);
        let hdr = first.status(0);
        assert_eq!(
            (hdr.msg_ref, hdr.cmd.as_str(), hdr.code),
            (1, "SyncHdr", 200)
        );
        assert_eq!(hdr.targets, [DEVICE_ID]);
        assert_eq!(hdr.sources, [SERVER_URI]);
        let st = first.status(list);
        assert_eq!((st.cmd.as_str(), st.code, st.msg_ref), ("Get", 200, 1));
        assert_eq!(st.targets, ["./SCOMO/Inventory/Deployed"]);
        let statuses: Vec<St> = pkg3.iter().flat_map(|o| o.statuses()).cloned().collect();
        let leaf_status: Vec<&St> = statuses.iter().filter(|s| s.cmd_ref == leaves).collect();
        assert_eq!((leaf_status.len(), leaf_status[0].code), (1, 200));
        let results: Vec<(u32, Vec<ItemD>)> = pkg3.iter().flat_map(|o| o.results()).collect();
        assert_eq!(results.len(), 4);
        let (cmd_ref, items) = &results[0];
        assert_eq!(*cmd_ref, list);
        assert_eq!(
            items[0].source.as_deref(),
            Some("./SCOMO/Inventory/Deployed")
        );
        assert_eq!(items[0].format.as_deref(), Some("node"));
        assert_eq!(items[0].text(), "Comp1/Comp2");
        let texts: Vec<String> = results[1..].iter().map(|(_, i)| i[0].text()).collect();
        assert_eq!(texts, ["com.example.app", "2.1", "10"]);
        assert_eq!(results[3].1[0].format.as_deref(), Some("int"));
        // Results come after the Status they belong to.
        let pos = |f: &dyn Fn(&Cmd) -> bool| first.cmds.iter().position(f).unwrap();
        let status_at = pos(&|c| matches!(c, Cmd::Status(s) if s.cmd_ref == list));
        let results_at = pos(&|c| matches!(c, Cmd::Results { cmd_ref, .. } if *cmd_ref == list));
        assert!(status_at < results_at);
        let pkg3 = pkg3.last().unwrap().clone();
        // The server's last package holds only Statuses: the session ends, nothing sent.
        let pkg4 = srv.msg(true, |s, w| s.hdr_status(w, &pkg3, StatusCode::Ok));
        let summary = dev.step(&pkg4).finished();
        assert_eq!(summary.end, Some(End::Completed));
        assert!(summary.messages_sent >= 2);
        assert!(dev.session.is_over());
    }
}

#[test]
fn a_get_of_a_missing_node_is_404_without_results() {
    let mut dev = Dev::client(Encoding::Xml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let mut get = 0;
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        get = s.get(w, &["./SCOMO/Inventory/Deployed/Nope"]);
    });
    let pkg3 = dev.step(&pkg2).sent().out;
    assert_eq!(pkg3.code(get), 404);
    assert!(pkg3.results().is_empty());
}

#[test]
fn alternate_download_add_and_exec_202_reach_the_tree_and_the_executor() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let mut ids = Vec::new();
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            ids.push(s.add_node(w, "./SCOMO/Download/Pkg1"));
            ids.push(s.add_chr(w, "./SCOMO/Download/Pkg1/PkgID", "com.example.app-2.1"));
            ids.push(s.add_chr(
                w,
                "./SCOMO/Download/Pkg1/PkgURL",
                "https://dl.example.com/a.dd",
            ));
            ids.push(s.exec(
                w,
                "./SCOMO/Download/Pkg1/Operations/DownloadInstall",
                Some("job-77"),
            ));
        });
        let pkg3 = dev.step(&pkg2).sent().out;
        let codes: Vec<u32> = ids.iter().map(|&i| pkg3.code(i)).collect();
        assert_eq!(codes, [200, 200, 200, 202]);
        assert_eq!(pkg3.status(ids[3]).cmd, "Exec");
        assert_eq!(
            pkg3.status(ids[3]).targets,
            ["./SCOMO/Download/Pkg1/Operations/DownloadInstall"]
        );
        assert_eq!(
            dev.handler.execs,
            [(
                "./SCOMO/Download/Pkg1/Operations/DownloadInstall".to_owned(),
                Some("job-77".to_owned()),
                None
            )]
        );
        let pkg_url = dev.tree.scomo().download("Pkg1").unwrap().pkg_url();
        assert_eq!(pkg_url, Some("https://dl.example.com/a.dd"));
    }
}

#[test]
fn an_exec_the_executor_refuses_carries_its_code() {
    let mut dev = Dev::client(Encoding::Xml);
    dev.handler.exec_code = StatusCode::IncompleteCommand;
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let mut exec = 0;
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        exec = s.exec(
            w,
            "./SCOMO/Inventory/Deployed/Comp1/Operations/Deactivate",
            None,
        );
    });
    assert_eq!(dev.step(&pkg2).sent().out.code(exec), 412);
}

#[test]
fn copy_is_406_and_unknown_alerts_are_406() {
    let mut dev = Dev::client(Encoding::Wbxml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let (mut copy, mut alert, mut ui) = (0, 0, 0);
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        copy = s.put(w, Element::Copy, "./SCOMO/Download/X", None, None);
        alert = s.alert(w, 1224, &[]);
        ui = s.alert(w, 1101, &["MAXDT=10", "Install now?"]);
    });
    let pkg3 = dev.step(&pkg2).sent().out;
    assert_eq!(pkg3.code(copy), 406);
    assert_eq!(pkg3.code(alert), 406);
    // No UI hook: UI alerts are an optional feature not supported.
    assert_eq!(pkg3.code(ui), 406);
}

fn alert_record(id: u32, correlator: Option<&str>, code: u16) -> Pending {
    Pending {
        id,
        correlator: correlator.map(str::to_owned),
        source: "./SCOMO/Download/Pkg1/Operations/DownloadInstall".into(),
        alert_type: scomo::dm::alert::SCOMO_ALERT_TYPE.into(),
        items: vec![(
            "./SCOMO/Inventory/Deployed/Comp1".into(),
            code,
            "com.example.app".into(),
        )],
    }
}

#[test]
fn generic_alerts_travel_in_package1_and_acknowledgements_reach_the_outbox() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        dev.handler
            .outbox
            .push(alert_record(7, Some("job-77"), 1200));
        dev.handler.outbox.push(alert_record(8, None, 1405));
        dev.handler.outbox.push(alert_record(9, None, 1200));
        let sent = dev.start();
        let mut msg = sent.out;
        assert_eq!(msg.alert_codes()[..2], [1201, 1226]);
        let (_, _, correlator, items) = &msg.alerts()[1];
        assert_eq!(correlator.as_deref(), Some("job-77"));
        let item = &items[0];
        assert_eq!(
            item.source.as_deref(),
            Some("./SCOMO/Download/Pkg1/Operations/DownloadInstall")
        );
        assert_eq!(
            item.target.as_deref(),
            Some("./SCOMO/Inventory/Deployed/Comp1")
        );
        assert_eq!(
            item.mime.as_deref(),
            Some("urn:oma:at:scomo:1.0:OperationComplete")
        );
        assert_eq!(item.format.as_deref(), Some("xml"));
        assert_eq!(item.mark.as_deref(), Some("informational"));
        assert_eq!(
            item.text(),
            "<ResultCode>1200</ResultCode><Identifier>com.example.app</Identifier>"
        );
        if enc == Encoding::Xml {
            let text = String::from_utf8(sent.body).unwrap();
            assert!(text.contains("&lt;ResultCode&gt;1200&lt;/ResultCode&gt;"));
        }
        // The server accepts 7 and 9 and refuses 8; alerts that did not fit Package 1 follow
        // in the next messages.
        let mut srv = Srv::new(enc, "1A2B");
        let mut seen = Vec::new();
        let summary = loop {
            let alerts = msg.alerts();
            let mut answers = Vec::new();
            for (cmd_id, code, correlator, items) in &alerts {
                if *code != 1226 {
                    continue;
                }
                let ident = items[0].text();
                let outbox_id = if correlator.is_some() {
                    7
                } else if ident.contains("1405") {
                    8
                } else {
                    9
                };
                assert!(ident.contains(if outbox_id == 8 { "1405" } else { "1200" }));
                if outbox_id == 8 {
                    assert_eq!(items[0].mark.as_deref(), Some("warning"));
                    assert_eq!(*correlator, None);
                }
                seen.push(outbox_id);
                let code = if outbox_id == 8 {
                    StatusCode::CommandFailed
                } else {
                    StatusCode::Ok
                };
                answers.push((*cmd_id, code));
            }
            let reply = srv.msg(true, |s, w| {
                s.hdr_status(w, &msg, StatusCode::AuthAccepted);
                for (cmd_ref, code) in &answers {
                    let id = s.id();
                    w.status(&scomo::dm::codec::StatusOut {
                        cmd_id: id,
                        msg_ref: msg.msg_id,
                        cmd_ref: *cmd_ref,
                        cmd: Element::Alert,
                        target_refs: &[],
                        source_refs: &[],
                        chal: None,
                        code: *code,
                        items: &[],
                    })
                    .unwrap();
                }
            });
            match dev.step(&reply) {
                Step::Sent(next) => msg = next.out,
                Step::Finished(summary) => break summary,
                other => panic!("{other:?}"),
            }
        };
        // Each alert went exactly once; the refused one waits for the next session.
        seen.sort_unstable();
        assert_eq!(seen, [7, 8, 9]);
        let mut acked = summary.acknowledged.to_vec();
        acked.sort_unstable();
        assert_eq!(acked, [7, 9]);
        assert!(
            dev.handler
                .alert_statuses
                .contains(&(8, StatusCode::CommandFailed))
        );
        assert_eq!(dev.handler.outbox.len(), 1);
        assert_eq!(dev.handler.outbox[0].id, 8);
    }
}

#[test]
fn a_component_request_is_a_generic_alert_of_our_type_and_its_status_is_reported() {
    for enc in ENCODINGS {
        let mut dev = Dev::new(
            enc,
            Start::Client {
                session_id: SessionId::new(0x42).unwrap(),
                request: Some(ComponentRequest::new("com.example.game")),
            },
        );
        let pkg1 = dev.start().out;
        assert_eq!(pkg1.session_id, "42");
        let alerts = pkg1.alerts();
        assert_eq!(pkg1.alert_codes(), [1201, 1226]);
        let item = &alerts[1].3[0];
        assert_eq!(item.source.as_deref(), Some("./SCOMO"));
        assert_eq!(item.mime.as_deref(), Some(COMPONENT_REQUEST_TYPE));
        assert_eq!(item.text(), "com.example.game");
        let mut srv = Srv::new(enc, "42");
        let pkg2 = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Accepted)
        });
        let summary = dev.step(&pkg2).finished();
        assert_eq!(summary.request_status, Some(StatusCode::Accepted));
    }
}

#[test]
fn resp_uri_is_where_the_next_messages_go() {
    let mut dev = Dev::client(Encoding::Xml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    srv.resp_uri = Some("https://dm.example.com/dm?s=77".into());
    let mut get = 0;
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        get = s.get(w, &["./DevInfo/Mod"]);
    });
    let sent = dev.step(&pkg2).sent();
    assert_eq!(sent.url, "https://dm.example.com/dm?s=77");
    assert_eq!(sent.out.results()[0].1[0].text(), "Widget");
    // The SyncHdr Target stays the server's URI.
    assert_eq!(sent.out.target, SERVER_URI);
}

#[test]
fn a_resp_uri_that_leaves_https_for_http_is_ignored() {
    // SERVER_URI is https: a RespURI in the clear would expose the rest of the session.
    let mut dev = Dev::client(Encoding::Xml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    srv.resp_uri = Some("http://dm.example.com/dm?s=77".into());
    let pkg2 = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.get(w, &["./DevInfo/Mod"]);
    });
    let sent = dev.step(&pkg2).sent();
    assert_eq!(sent.url, SERVER_URI);
    assert_eq!(sent.out.results()[0].1[0].text(), "Widget");
}
