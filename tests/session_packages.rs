//! Packages over several messages (digest 7.7): the server's package in two messages
//! pulled with Alert 1222, the device's replies split to the server's `MaxMsgSize`, a
//! Results value larger than a message sent as a Large Object, and the server's abort.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use scomo::codes::StatusCode;
use scomo::dm::codec::{Element, Encoding, StatusOut};
use scomo::dm::session::End;
use session_support::*;

#[test]
fn a_server_package_in_two_messages_is_pulled_with_alert_1222() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let (mut node, mut id) = (0, 0);
        let first = srv.msg(false, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            node = s.add_node(w, "./SCOMO/Download/P1");
            id = s.add_chr(w, "./SCOMO/Download/P1/PkgID", "p1");
        });
        let reply = dev.step(&first).sent().out;
        // Statuses for what came, Alert 1222 for the rest, no Final (the server's package
        // is not complete).
        assert_eq!((reply.code(node), reply.code(id)), (200, 200));
        assert_eq!(reply.alert_codes(), [1222]);
        assert!(!reply.is_final);
        let mut exec = 0;
        let second = srv.msg(true, |s, w| {
            s.hdr_status(w, &reply, StatusCode::Ok);
            let id = s.id();
            w.status(&StatusOut {
                cmd_id: id,
                msg_ref: reply.msg_id,
                cmd_ref: reply.alerts()[0].0,
                cmd: Element::Alert,
                target_refs: &[],
                source_refs: &[],
                chal: None,
                code: StatusCode::Ok,
                items: &[],
            })
            .unwrap();
            s.add_chr(w, "./SCOMO/Download/P1/PkgURL", "http://x/p1");
            exec = s.exec(w, "./SCOMO/Download/P1/Operations/Download", Some("c1"));
        });
        let reply = dev.step(&second).sent().out;
        assert_eq!(reply.code(exec), 202);
        assert_eq!(reply.status(exec).msg_ref, 2);
        assert!(reply.alert_codes().is_empty());
        assert!(reply.is_final);
        let end = srv.msg(true, |s, w| s.hdr_status(w, &reply, StatusCode::Ok));
        assert_eq!(dev.step(&end).finished().end, Some(End::Completed));
    }
}

#[test]
fn replies_are_split_to_the_servers_max_msg_size_with_one_status_per_command() {
    for (enc, max) in [(Encoding::Xml, 1000u32), (Encoding::Wbxml, 350)] {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        srv.max_msg = Some(max);
        let mut ids = Vec::new();
        let mut gets = Vec::new();
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            for i in 0..2 {
                ids.push(s.add_node(w, &format!("./SCOMO/Download/N{i}")));
                ids.push(s.add_chr(w, &format!("./SCOMO/Download/N{i}/PkgID"), "id"));
                let g = s.get(w, &["./DevInfo/DmV"]);
                ids.push(g);
                gets.push(g);
            }
            ids.push(s.add_chr(w, "./SCOMO/Download/N0/PkgURL", "http://a"));
            ids.push(s.replace_chr(w, "./SCOMO/Download/N0/PkgURL", "http://b"));
            // A missing node in the middle: a different code in the run of 200s.
            ids.push(s.delete(w, "./SCOMO/Download/Missing"));
        });
        let first = dev.step(&body).sent();
        assert!(first.body.len() <= max as usize);
        let msgs = whole_package(&mut dev, &mut srv, first.out);
        assert!(
            msgs.len() >= 2,
            "{enc:?}: split into {} messages",
            msgs.len()
        );
        for m in &msgs[..msgs.len() - 1] {
            assert!(!m.is_final);
        }
        let mut answered: Vec<(u32, u32)> = Vec::new();
        let mut results = Vec::new();
        for m in &msgs {
            for c in &m.cmds {
                match c {
                    Cmd::Status(st) if st.msg_ref == 1 && st.cmd_ref != 0 => {
                        answered.push((st.cmd_ref, st.code));
                    }
                    Cmd::Results { cmd_ref, items, .. } => {
                        // Results after their Status.
                        assert!(answered.iter().any(|(r, _)| r == cmd_ref));
                        results.push((*cmd_ref, items[0].text()));
                    }
                    _ => {}
                }
            }
        }
        let mut refs: Vec<u32> = answered.iter().map(|a| a.0).collect();
        refs.sort_unstable();
        let mut want = ids.clone();
        want.sort_unstable();
        assert_eq!(refs, want, "{enc:?}: exactly one Status per command");
        assert_eq!(
            answered
                .iter()
                .find(|a| a.0 == *ids.last().unwrap())
                .unwrap()
                .1,
            404
        );
        assert_eq!(
            results,
            gets.iter()
                .map(|&g| (g, "scomo-0.1".to_owned()))
                .collect::<Vec<_>>()
        );
        for i in 0..2 {
            assert_eq!(
                dev.tree
                    .scomo()
                    .download(&format!("N{i}"))
                    .unwrap()
                    .pkg_id(),
                Some("id")
            );
        }
        let n0 = dev.tree.scomo().download("N0").unwrap();
        assert_eq!(n0.pkg_url(), Some("http://b"));
        assert!(
            answered
                .iter()
                .all(|(r, code)| *r == *ids.last().unwrap() || *code == 200)
        );
    }
}

#[test]
fn a_results_value_larger_than_a_message_goes_as_a_large_object() {
    for (enc, max) in [(Encoding::Xml, 1000u32), (Encoding::Wbxml, 400)] {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let url: String = (0..290)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let url = format!("http://{url}");
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            s.add_node(w, "./SCOMO/Download/Big");
            s.add_chr(w, "./SCOMO/Download/Big/PkgURL", &url);
        });
        let reply = dev.step(&body).sent().out;
        srv.max_msg = Some(max);
        let mut get = 0;
        let body = srv.msg(true, |s, w| {
            s.hdr_status(w, &reply, StatusCode::Ok);
            get = s.get(w, &["./SCOMO/Download/Big/PkgURL"]);
        });
        let mut sent = dev.step(&body).sent();
        let mut chunks = Vec::new();
        loop {
            assert!(sent.body.len() <= max as usize);
            let out = sent.out;
            let mut chunk_cmd = None;
            for (cmd_ref, items) in out.results() {
                assert_eq!(cmd_ref, get);
                chunks.push(items[0].clone());
            }
            if let Some(Cmd::Results { cmd_id, .. }) =
                out.cmds.iter().find(|c| matches!(c, Cmd::Results { .. }))
            {
                chunk_cmd = Some(*cmd_id);
            }
            if out.is_final {
                break;
            }
            // The server takes each chunk with 213 and asks for more.
            let next = srv.msg(false, |s, w| {
                s.hdr_status(w, &out, StatusCode::Ok);
                if let Some(cmd_ref) = chunk_cmd {
                    let id = s.id();
                    w.status(&StatusOut {
                        cmd_id: id,
                        msg_ref: out.msg_id,
                        cmd_ref,
                        cmd: Element::Results,
                        target_refs: &[],
                        source_refs: &[],
                        chal: None,
                        code: StatusCode::ChunkAccepted,
                        items: &[],
                    })
                    .unwrap();
                }
                s.alert(w, 1222, &[]);
            });
            sent = dev.step(&next).sent();
        }
        assert!(chunks.len() > 1, "{enc:?}: sent in {} chunks", chunks.len());
        assert_eq!(chunks[0].size, Some(url.len() as u32));
        assert!(chunks[1..].iter().all(|c| c.size.is_none()));
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.more));
        assert!(!chunks.last().unwrap().more);
        let whole: String = chunks.iter().map(ItemD::text).collect();
        assert_eq!(whole, url);
    }
}

#[test]
fn alert_1223_from_the_server_ends_the_session_without_a_reply() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let before = state(&dev.tree);
        let mut srv = Srv::new(enc, "1A2B");
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            s.add_node(w, "./SCOMO/Download/X");
            s.alert(w, 1223, &[]);
        });
        let summary = dev.step(&body).aborted();
        assert_eq!(summary.end, Some(End::AbortedByServer));
        assert_eq!(state(&dev.tree), before);
        assert!(dev.session.is_over());
    }
}
