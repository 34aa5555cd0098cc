//! The streaming writer: exact XML output, DTD order from the element table, escaping,
//! size control against a MaxMsgSize (TooSmall leaves the writer unchanged, the message
//! can always be closed), marks and truncation, and typed builders that decode back to
//! what was built.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;

use codec_support::*;
use scomo::codes::StatusCode;
use scomo::dm::codec::{
    AlertOut, Command, CredOut, DataOut, Element, EncodeError, Encoding, HeaderOut, ItemOut,
    Message, MetaOut, RequestOut, ResultsOut, StatusOut, Writer,
};

const HDR: HeaderOut<'static> = HeaderOut {
    session_id: "1A2B",
    msg_id: 1,
    target: "https://dm.example.com/dm",
    source: "IMEI:493005100592800",
    source_name: Some("dev-user"),
    cred: Some(CredOut {
        meta: MetaOut {
            format: Some("b64"),
            mime_type: Some("syncml:auth-md5"),
            mark: None,
            size: None,
            next_nonce: None,
            max_msg_size: None,
            max_obj_size: None,
        },
        data: "Zz6EivR3yeaaENcRN6lpAQ==",
    }),
    meta: Some(MetaOut {
        format: None,
        mime_type: None,
        mark: None,
        size: None,
        next_nonce: None,
        max_msg_size: Some(16384),
        max_obj_size: Some(1048576),
    }),
};

#[test]
fn xml_output_is_exact_escaped_and_declares_metinf_per_element() {
    let mut buf = [0u8; 1024];
    let mut w = Writer::new(&mut buf, Encoding::Xml).unwrap();
    w.begin_message(&HDR).unwrap();
    w.alert(&AlertOut {
        cmd_id: 1,
        code: 1226,
        correlator: Some("a<b"),
        items: &[ItemOut {
            source: Some("./op"),
            meta: Some(MetaOut {
                mark: Some("warning"),
                ..MetaOut::default()
            }),
            data: Some(DataOut::Text("<ResultCode>1200</ResultCode> & \r\n")),
            ..ItemOut::default()
        }],
    })
    .unwrap();
    w.end_message(true).unwrap();
    let out = std::str::from_utf8(w.finish().unwrap()).unwrap().to_owned();
    let expected = concat!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>"#,
        r#"<SessionID>1A2B</SessionID><MsgID>1</MsgID><Target><LocURI>https://dm.example.com/dm</LocURI></Target>"#,
        r#"<Source><LocURI>IMEI:493005100592800</LocURI><LocName>dev-user</LocName></Source>"#,
        r#"<Cred><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-md5</Type></Meta>"#,
        r#"<Data>Zz6EivR3yeaaENcRN6lpAQ==</Data></Cred>"#,
        r#"<Meta><MaxMsgSize xmlns="syncml:metinf">16384</MaxMsgSize><MaxObjSize xmlns="syncml:metinf">1048576</MaxObjSize></Meta>"#,
        r#"</SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1226</Data><Correlator>a&lt;b</Correlator>"#,
        r#"<Item><Source><LocURI>./op</LocURI></Source><Meta><Mark xmlns="syncml:metinf">warning</Mark></Meta>"#,
        r#"<Data>&lt;ResultCode&gt;1200&lt;/ResultCode&gt; &amp; &#13;"#,
        "\n",
        r#"</Data></Item></Alert><Final/></SyncBody></SyncML>"#
    );
    assert_eq!(out, expected);
    // And it reads back as built, CR included.
    let msg = Message::decode(out.as_bytes(), Encoding::Xml).unwrap();
    let Command::Alert(a) = msg.body.commands().next().unwrap().unwrap() else {
        panic!()
    };
    let data = a.items().next().unwrap().unwrap().data.unwrap();
    assert!(data.eq_str("<ResultCode>1200</ResultCode> & \r\n"));
    assert!(a.correlator.unwrap().eq_str("a<b"));
}

#[test]
fn typed_builders_decode_back_to_what_was_built_in_both_encodings() {
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let mut buf = [0u8; 4096];
        let mut w = Writer::new(&mut buf, enc).unwrap();
        w.begin_message(&HDR).unwrap();
        w.status(&StatusOut {
            cmd_id: 1,
            msg_ref: 1,
            cmd_ref: 0,
            cmd: Element::SyncHdr,
            target_refs: &["IMEI:493005100592800"],
            source_refs: &["https://dm.example.com/dm"],
            chal: Some(MetaOut {
                mime_type: Some("syncml:auth-md5"),
                format: Some("b64"),
                next_nonce: Some("Tm9uY2U="),
                ..MetaOut::default()
            }),
            code: StatusCode::Unauthorized,
            items: &[],
        })
        .unwrap();
        w.results(&ResultsOut {
            cmd_id: 2,
            msg_ref: 1,
            cmd_ref: 4,
            meta: None,
            target_refs: &["./DevDetail/URI/MaxDepth"],
            source_refs: &[],
            items: &[ItemOut {
                source: Some("./DevDetail/URI/MaxDepth"),
                meta: Some(MetaOut {
                    format: Some("int"),
                    ..MetaOut::default()
                }),
                data: Some(DataOut::Text("0")),
                ..ItemOut::default()
            }],
        })
        .unwrap();
        w.request(&RequestOut {
            kind: Element::Replace,
            cmd_id: 3,
            meta: None,
            correlator: None,
            items: &[ItemOut {
                target: Some("./SCOMO/Inventory/Delivered/P/Data"),
                meta: Some(MetaOut {
                    format: Some("b64"),
                    size: Some(8),
                    ..MetaOut::default()
                }),
                data: Some(DataOut::Binary(b"\x00\x01\xFF\xFE\x80\x7F")),
                more_data: true,
                ..ItemOut::default()
            }],
        })
        .unwrap();
        w.end_message(false).unwrap();
        let bytes = w.finish().unwrap().to_vec();

        let msg = Message::decode(&bytes, enc).unwrap();
        assert_eq!(msg.hdr.source.loc_name.unwrap().as_str(), Some("dev-user"));
        assert!(!msg.body.is_final);
        let cmds: Vec<_> = msg.body.commands().map(Result::unwrap).collect();
        let Command::Status(st) = &cmds[0] else {
            panic!()
        };
        assert_eq!(st.data.to_u32(), Some(401));
        assert!(st.chal.unwrap().meta.next_nonce.unwrap().eq_str("Tm9uY2U="));
        let Command::Results(r) = &cmds[1] else {
            panic!()
        };
        assert_eq!((r.cmd_ref, r.msg_ref), (4, Some(1)));
        let Command::Replace(rep) = &cmds[2] else {
            panic!()
        };
        let item = rep.items().next().unwrap().unwrap();
        assert!(item.more_data);
        let data = bytes_of(&item.data.unwrap());
        match enc {
            // XML carries binary as base64 text (Meta Format b64).
            Encoding::Xml => assert_eq!(data, b"AAH//oB/"),
            Encoding::Wbxml => assert_eq!(data, b"\x00\x01\xFF\xFE\x80\x7F"),
        }
    }
}

fn bytes_of(v: &scomo::dm::codec::Value) -> Vec<u8> {
    bytes(v)
}

#[test]
fn wbxml_switches_page_only_when_needed_and_writes_empty_tags() {
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    w.start(Element::SyncML).unwrap();
    w.start(Element::SyncHdr).unwrap();
    for el in [
        Element::VerDTD,
        Element::VerProto,
        Element::SessionID,
        Element::MsgID,
    ] {
        w.leaf(el, "1").unwrap();
    }
    for el in [Element::Target, Element::Source] {
        w.start(el).unwrap();
        w.leaf(Element::LocURI, "u").unwrap();
        w.end().unwrap();
    }
    let before_meta = w.len();
    w.meta(&MetaOut {
        max_msg_size: Some(3500),
        max_obj_size: Some(1),
        ..MetaOut::default()
    })
    .unwrap();
    let meta = w.as_bytes()[before_meta..].to_vec();
    w.end().unwrap();
    w.start(Element::SyncBody).unwrap();
    w.empty(Element::Final).unwrap();
    w.end().unwrap();
    w.end().unwrap();
    // <Meta> SWITCH 1 <MaxMsgSize>3500</> <MaxObjSize>1</> </Meta>, no switch back yet.
    assert_eq!(
        hex(&meta),
        hex(&[
            0x5A, 0x00, 0x01, 0x4C, 0x03, b'3', b'5', b'0', b'0', 0x00, 0x01, 0x55, 0x03, b'1',
            0x00, 0x01, 0x01
        ])
    );
    let out = w.finish().unwrap();
    // ... and the switch back comes before the next page-0 tag (</SyncHdr> is an END,
    // which has no page): </SyncHdr> SWITCH 0 <SyncBody> <Final/> </SyncBody> </SyncML>.
    assert_eq!(
        hex(&out[out.len() - 7..]),
        hex(&[0x01, 0x00, 0x00, 0x6B, 0x12, 0x01, 0x01])
    );
}

#[test]
fn dtd_order_and_required_children_come_from_the_element_table() {
    let mut buf = [0u8; 1024];
    let mut w = Writer::new(&mut buf, Encoding::Xml).unwrap();
    w.begin_message(&HDR).unwrap();
    w.start(Element::Status).unwrap();
    w.leaf_u32(Element::CmdID, 1).unwrap();
    w.leaf_u32(Element::MsgRef, 1).unwrap();
    // Cmd may follow MsgRef in rank order, but closing without CmdRef is refused ...
    w.leaf(Element::Cmd, "Get").unwrap();
    w.leaf_u32(Element::Data, 200).unwrap();
    assert_eq!(w.end(), Err(EncodeError::Missing(Element::CmdRef)));
    // ... and CmdRef can no longer come: the DTD puts it before Cmd.
    let len = w.len();
    assert_eq!(
        w.leaf_u32(Element::CmdRef, 2),
        Err(EncodeError::Misplaced(Element::CmdRef))
    );
    assert_eq!(w.len(), len, "a refused write leaves nothing");
    assert_eq!(
        w.leaf_u32(Element::MsgRef, 2),
        Err(EncodeError::Misplaced(Element::MsgRef))
    );
    assert_eq!(
        w.start(Element::Final),
        Err(EncodeError::Misplaced(Element::Final))
    );
    assert_eq!(
        w.start(Element::Sync),
        Err(EncodeError::Misplaced(Element::Sync))
    );
    assert_eq!(w.text("x"), Err(EncodeError::Unrepresentable));
    w.start(Element::Item).unwrap();
    w.start(Element::Data).unwrap();
    assert_eq!(w.text("ok\u{1}"), Err(EncodeError::Unrepresentable));
    w.opaque(b"\x01").unwrap();
    w.end().unwrap();
    w.end().unwrap();
    assert_eq!(
        w.start(Element::Meta),
        Err(EncodeError::Misplaced(Element::Meta))
    );
}

#[test]
fn wbxml_refuses_nul_in_inline_text_but_carries_it_in_data() {
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    w.begin_message(&HDR).unwrap();
    w.start(Element::Alert).unwrap();
    w.leaf_u32(Element::CmdID, 1).unwrap();
    w.start(Element::Correlator).unwrap();
    assert_eq!(w.text("a\0b"), Err(EncodeError::Unrepresentable));
    w.end().unwrap();
    w.start(Element::Item).unwrap();
    w.leaf(Element::Data, "a\0b").unwrap();
    w.end().unwrap();
    w.end().unwrap();
}

/// Fills a message with Statuses until the limit refuses one; the refused write leaves
/// the bytes unchanged, and the message still closes with Final within the limit.
#[test]
fn max_msg_size_is_respected_and_the_message_always_closes() {
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        for limit in [600usize, 777, 1500] {
            let mut buf = [0u8; 4096];
            let mut w = Writer::new(&mut buf, enc).unwrap();
            w.set_limit(limit);
            w.begin_message(&HeaderOut { cred: None, ..HDR }).unwrap();
            let mut n = 0u32;
            loop {
                let before = w.as_bytes().to_vec();
                let room = w.remaining();
                let status = StatusOut {
                    cmd_id: n + 1,
                    msg_ref: 1,
                    cmd_ref: n + 2,
                    cmd: Element::Add,
                    target_refs: &["./SCOMO/Download/Pkg1/PkgURL"],
                    source_refs: &[],
                    chal: None,
                    code: StatusCode::Ok,
                    items: &[],
                };
                match w.status(&status) {
                    Ok(()) => {
                        n += 1;
                        assert!(room >= before.len().abs_diff(w.len()));
                    }
                    Err(EncodeError::TooSmall) => {
                        assert_eq!(w.as_bytes(), &before[..], "{enc:?} {limit}");
                        break;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert!(n > 0, "{enc:?} {limit}: nothing fitted");
            w.end_message(true).unwrap();
            let out = w.finish().unwrap();
            assert!(out.len() <= limit, "{enc:?} {limit}: {}", out.len());
            let msg = Message::decode(out, enc).unwrap();
            assert!(msg.body.is_final);
            assert_eq!(msg.body.commands().count(), n as usize);
        }
    }
}

#[test]
fn a_message_header_that_does_not_fit_is_too_small_and_leaves_nothing() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    assert_eq!(w.begin_message(&HDR), Err(EncodeError::TooSmall));
    assert_eq!(w.len(), 5);
    let mut tiny = [0u8; 4];
    assert_eq!(
        Writer::new(&mut tiny, Encoding::Wbxml).err(),
        Some(EncodeError::TooSmall)
    );
}

#[test]
fn truncate_to_a_mark_rolls_back_a_command_and_stale_marks_are_refused() {
    let mut buf = [0u8; 1024];
    let mut w = Writer::new(&mut buf, Encoding::Xml).unwrap();
    w.begin_message(&HDR).unwrap();
    let body = w.mark();
    let before = w.as_bytes().to_vec();
    w.start(Element::Get).unwrap();
    w.leaf_u32(Element::CmdID, 9).unwrap();
    let inside = w.mark();
    w.start(Element::Item).unwrap();
    w.truncate(inside).unwrap();
    assert_eq!(w.end(), Err(EncodeError::Missing(Element::Item)));
    w.truncate(body).unwrap();
    assert_eq!(w.as_bytes(), &before[..]);
    // `inside` was cut away.
    assert_eq!(w.truncate(inside), Err(EncodeError::StaleMark));
    // The body mark still works, and writing goes on from it.
    w.truncate(body).unwrap();
    w.alert(&AlertOut {
        cmd_id: 1,
        code: 1222,
        correlator: None,
        items: &[],
    })
    .unwrap();
    w.end_message(false).unwrap();
    assert_eq!(
        w.truncate(body),
        Err(EncodeError::StaleMark),
        "SyncBody was closed"
    );
    let out = w.finish().unwrap();
    let msg = Message::decode(out, Encoding::Xml).unwrap();
    assert_eq!(msg.body.commands().count(), 1);
}

#[test]
fn reserve_keeps_room_for_what_the_caller_adds_last() {
    let mut buf = [0u8; 2048];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    w.set_limit(400);
    w.begin_message(&HeaderOut { cred: None, ..HDR }).unwrap();
    let free = w.remaining();
    w.set_reserve(100);
    assert_eq!(w.remaining(), free - 100);
    while w
        .alert(&AlertOut {
            cmd_id: 1,
            code: 1226,
            correlator: None,
            items: &[],
        })
        .is_ok()
    {}
    assert!(w.remaining() < 20);
    w.set_reserve(0);
    assert!(w.remaining() >= 100);
    assert!(w.closing_len() >= 2);
}

#[test]
fn an_incomplete_header_cannot_be_closed() {
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf, Encoding::Xml).unwrap();
    w.start(Element::SyncML).unwrap();
    w.start(Element::SyncHdr).unwrap();
    assert_eq!(w.end(), Err(EncodeError::Missing(Element::VerDTD)));
    let m = w.mark();
    w.truncate(m).unwrap();
    assert_eq!(
        w.as_bytes(),
        br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>"#
    );
}
