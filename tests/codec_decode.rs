//! Decoding real and hand-built messages into the typed model: the namespace forms, the
//! prolog, whitespace, entities, CDATA, both Alert orders, WBXML public ids, string
//! tables, OPAQUE, and code pages tracked across END.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;

use codec_support::*;
use scomo::dm::codec::{Command, Encoding, Message, Piece, Value};

fn commands<'a>(msg: &Message<'a>) -> Vec<Command<'a>> {
    msg.body.commands().map(Result::unwrap).collect()
}

fn s(v: &Value) -> String {
    String::from_utf8(bytes(v)).unwrap()
}

#[test]
fn aosp_testget_server_pkg2_decodes_with_literal_fpi_saying_1_1() {
    let wbxml = vector("testget.wbxml");
    let msg = Message::decode(&wbxml, Encoding::Wbxml).unwrap();
    let h = &msg.hdr;
    assert_eq!(s(&h.ver_dtd), "1.2");
    assert_eq!(s(&h.ver_proto), "DM/1.2");
    assert_eq!(s(&h.session_id), "22100");
    assert_eq!(h.msg_id, 1);
    assert_eq!(s(&h.target.loc_uri), "000000011234564");
    assert_eq!(s(&h.source.loc_uri), "http://10.72.34.217:80/Manage");
    assert_eq!(s(&h.resp_uri.unwrap()), "http://10.72.34.217/Scts?0JTIAA==");
    let cred = h.cred.unwrap();
    assert_eq!(
        s(&cred.meta.unwrap().mime_type.unwrap()),
        "syncml:auth-basic"
    );
    assert_eq!(s(&cred.data), "U2N0czpTYW1wbGVDbGllbnQ=");
    assert_eq!(h.meta.unwrap().max_msg_size, Some(3500));

    let cmds = commands(&msg);
    assert_eq!(cmds.len(), 4);
    let Command::Status(st) = &cmds[0] else {
        panic!()
    };
    assert_eq!((st.cmd_id, st.msg_ref, st.cmd_ref), (1, 1, 0));
    assert_eq!(st.cmd_element(), Some(scomo::dm::codec::Element::SyncHdr));
    assert_eq!(st.data.to_u32(), Some(212));
    let trefs: Vec<String> = st.target_refs().map(|v| s(&v.unwrap())).collect();
    assert_eq!(trefs, ["http://10.72.34.217:80/Manage"]);
    let srefs: Vec<String> = st.source_refs().map(|v| s(&v.unwrap())).collect();
    assert_eq!(srefs, ["000000011234564"]);
    let Command::Get(get) = &cmds[3] else {
        panic!()
    };
    assert_eq!(get.cmd_id, 4);
    let items: Vec<_> = get.items().map(Result::unwrap).collect();
    assert_eq!(items.len(), 1);
    assert_eq!(
        s(&items[0].target.unwrap().loc_uri),
        "./DevDetail/URI/MaxDepth"
    );
    assert!(msg.body.is_final);
}

#[test]
fn aosp_testreplace_client_pkg1_has_nine_devinfo_items() {
    let wbxml = vector("testreplace.wbxml");
    let msg = Message::decode(&wbxml, Encoding::Wbxml).unwrap();
    assert_eq!(s(&msg.hdr.session_id), "24673");
    assert_eq!(s(&msg.hdr.target.loc_name.unwrap()), "Scts");
    assert_eq!(
        s(&msg.hdr.cred.unwrap().data),
        "U2FtcGxlU2VydmVyOlNhbXBsZVNlcnZlcg=="
    );
    let cmds = commands(&msg);
    let Command::Alert(a) = &cmds[0] else {
        panic!()
    };
    assert_eq!(a.data.unwrap().to_u32(), Some(1201));
    let Command::Replace(r) = &cmds[1] else {
        panic!()
    };
    let uris: Vec<String> = r
        .items()
        .map(|i| s(&i.unwrap().source.unwrap().loc_uri))
        .collect();
    assert_eq!(uris.len(), 9, "{uris:?}");
    assert_eq!(uris[0], "./DevInfo/DevId");
}

#[test]
fn aosp_testadd_empty_data_decodes_as_empty_value() {
    let wbxml = vector("testadd.wbxml");
    let msg = Message::decode(&wbxml, Encoding::Wbxml).unwrap();
    let Command::Add(add) = &commands(&msg)[3] else {
        panic!()
    };
    let item = add.items().next().unwrap().unwrap();
    assert_eq!(s(&item.meta.unwrap().format.unwrap()), "node");
    assert!(item.data.unwrap().is_empty());
}

#[test]
fn raw_ampersand_in_data_is_kept_literally() {
    let xml = vector("testalertconfirm.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let Command::Alert(a) = &commands(&msg)[0] else {
        panic!()
    };
    assert_eq!(a.data.unwrap().to_u32(), Some(1101));
    let texts: Vec<String> = a.items().map(|i| s(&i.unwrap().data.unwrap())).collect();
    assert_eq!(texts, ["MAXDT=15&DR=1", "Testing Confirmation Alert"]);
}

#[test]
fn tab_indented_vectors_without_prolog_decode() {
    for name in [
        "testalertdisplay.xml",
        "testgetscript.xml",
        "testnewdatatype.xml",
    ] {
        let xml = vector(name);
        let msg = Message::decode(&xml, Encoding::Xml).unwrap();
        assert!(msg.body.is_final, "{name}");
        assert!(!commands(&msg).is_empty(), "{name}");
    }
    let xml = vector("testnewdatatype.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    assert_eq!(commands(&msg).len(), 14);
}

#[test]
fn namespace_is_case_insensitive_and_metinf_may_sit_on_meta() {
    let xml = br#"<SyncML xmlns="syncml:syncml1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source><Meta xmlns="SYNCML:METINF"><MaxMsgSize>900</MaxMsgSize></Meta></SyncHdr><SyncBody/></SyncML>"#;
    let msg = Message::decode(xml, Encoding::Xml).unwrap();
    assert_eq!(msg.hdr.meta.unwrap().max_msg_size, Some(900));
    assert!(!msg.body.is_final);
    assert_eq!(msg.body.commands().count(), 0);

    let xml = corpus("metinf_on_meta.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let Command::Replace(r) = &commands(&msg)[0] else {
        panic!()
    };
    let item = r.items().next().unwrap().unwrap();
    let meta = item.meta.unwrap();
    assert_eq!(s(&meta.format.unwrap()), "chr");
    assert_eq!(s(&meta.mime_type.unwrap()), "text/plain");
    assert_eq!(s(&item.data.unwrap()), "Café é \"x\" 'y'");
}

#[test]
fn prolog_doctype_comments_and_whitespace_are_skipped() {
    let xml = corpus("skeleton_a_pkg1_server_initiated.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    assert_eq!(s(&msg.hdr.source.loc_name.unwrap()), "dev-user");
    let meta = msg.hdr.meta.unwrap();
    assert_eq!(
        (meta.max_msg_size, meta.max_obj_size),
        (Some(16384), Some(1048576))
    );
    let Command::Replace(r) = &commands(&msg)[1] else {
        panic!()
    };
    let man = r.items().nth(1).unwrap().unwrap().data.unwrap();
    // An entity reference: no contiguous borrow, but unescaped on demand without heap.
    assert_eq!(man.as_str(), None);
    let mut buf = [0u8; 32];
    assert_eq!(man.to_str(&mut buf), Some("Example & Sons"));
    assert!(man.eq_str("Example & Sons"));
    let pieces: Vec<Piece> = man.pieces().collect();
    assert_eq!(
        pieces,
        [
            Piece::Str("Example "),
            Piece::Char('&'),
            Piece::Str(" Sons")
        ]
    );
}

#[test]
fn cdata_data_is_borrowed_whole() {
    let xml = corpus("skeleton_d_report_generic_alert.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let Command::Alert(a) = &commands(&msg)[2] else {
        panic!()
    };
    assert_eq!(a.data.unwrap().to_u32(), Some(1226));
    assert_eq!(s(&a.correlator.unwrap()), "job-77");
    let item = a.items().next().unwrap().unwrap();
    assert_eq!(
        item.data.unwrap().as_str(),
        Some("<ResultCode>1200</ResultCode><Identifier>Comp1ID</Identifier>")
    );
    assert_eq!(
        s(&item.source.unwrap().loc_uri),
        "./SCOMO/Download/Pkg1/Operations/DownloadInstall"
    );
    assert_eq!(
        s(&item.target.unwrap().loc_uri),
        "./SCOMO/Inventory/Deployed/Comp1"
    );
}

#[test]
fn alert_correlator_may_come_before_data() {
    let xml = corpus("every_element.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let Command::Alert(a) = &commands(&msg)[2] else {
        panic!()
    };
    assert_eq!(a.data.unwrap().to_u32(), Some(1226));
    assert_eq!(s(&a.correlator.unwrap()), "corr-before-data");
    assert!(a.no_resp);
}

#[test]
fn atomic_and_sequence_nest_and_iterate_lazily() {
    let xml = corpus("every_element.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let cmds = commands(&msg);
    let Command::Atomic(atomic) = &cmds[9] else {
        panic!("{:?}", cmds[9])
    };
    assert_eq!(atomic.cmd_id, 10);
    let inner: Vec<_> = atomic.commands().map(Result::unwrap).collect();
    assert_eq!(inner.len(), 2);
    let Command::Sequence(seq) = &inner[1] else {
        panic!()
    };
    let ids: Vec<u32> = seq.commands().map(|c| c.unwrap().cmd_id()).collect();
    assert_eq!(ids, [13, 14]);
    // Iterators restart from the same place.
    assert_eq!(atomic.commands().count(), 2);
    assert_eq!(msg.body.commands().count(), cmds.len());
    let Command::Sequence(last) = &cmds[10] else {
        panic!()
    };
    assert!(last.no_resp);
}

/// Hand-built WBXML: a string table (STR_T), text as OPAQUE, an ENTITY, an empty Data
/// both ways, and a SWITCH_PAGE that stays in force across END.
#[test]
fn hand_built_wbxml_with_string_table_opaque_text_and_pages() {
    let mut b = vec![0x02, 0x00, 0x00, 0x6A]; // literal public id at index 0, UTF-8
    let table = b"-//SYNCML//DTD SyncML 1.2//EN\0./SCOMO/Download\0";
    b.push(table.len() as u8);
    b.extend(table);
    b.extend([0x6D, 0x6C]); // <SyncML><SyncHdr>
    for (tag, text) in [(0x71u8, "1.2"), (0x72, "DM/1.2"), (0x65, "9"), (0x5B, "3")] {
        b.push(tag);
        b.push(0xC3); // text as OPAQUE, as xml2wbxml may write it
        b.push(text.len() as u8);
        b.extend(text.as_bytes());
        b.push(0x01);
    }
    b.extend([0x6E, 0x57, 0x83, 30, 0x01, 0x01]); // Target/LocURI = STR_T 30
    b.extend([0x67, 0x57, 0x83, 30, 0x03]); // Source/LocURI = STR_T 30 + STR_I "/x"
    b.extend(b"/x\0");
    b.extend([0x01, 0x01]);
    // Meta: switch to page 1; Format, then Type without switching again; then the
    // switch back to page 0 comes before Meta's END (END carries no page).
    b.extend([0x5A, 0x00, 0x01, 0x47, 0x03]);
    b.extend(b"chr\0");
    b.extend([0x01, 0x53, 0x03]);
    b.extend(b"a\0");
    b.extend([0x02, 0x81, 0x63]); // ENTITY U+00E3 ('ã'), mb_u_int32 0x81 0x63
    b.extend([0x01, 0x00, 0x00, 0x01]); // </Type> SWITCH_PAGE 0 </Meta>
    b.push(0x01); // </SyncHdr>
    b.push(0x6B); // <SyncBody>
    b.extend([0x46, 0x4B, 0x03, b'1', 0x00, 0x01]); // <Alert><CmdID>1
    b.extend([0x54, 0x0F, 0x01]); // <Item><Data/></Item>
    b.extend([0x54, 0x4F, 0x03, 0x00, 0x01, 0x01]); // <Item><Data>STR_I ""</Data></Item>
    b.extend([0x01, 0x12, 0x01, 0x01]);

    let msg = Message::decode(&b, Encoding::Wbxml).unwrap();
    assert_eq!(s(&msg.hdr.session_id), "9");
    assert_eq!(msg.hdr.msg_id, 3);
    assert_eq!(msg.hdr.target.loc_uri.as_str(), Some("./SCOMO/Download"));
    assert_eq!(s(&msg.hdr.source.loc_uri), "./SCOMO/Download/x");
    let meta = msg.hdr.meta.unwrap();
    assert_eq!(s(&meta.format.unwrap()), "chr");
    assert_eq!(s(&meta.mime_type.unwrap()), "aã");
    let Command::Alert(a) = &commands(&msg)[0] else {
        panic!()
    };
    let data: Vec<_> = a.items().map(|i| i.unwrap().data.unwrap()).collect();
    assert!(data.iter().all(Value::is_empty));
    assert!(msg.body.is_final);
}

#[test]
fn numeric_public_ids_1_2_1_1_and_unknown_are_accepted() {
    let xml = corpus("challenge_md5_401.xml");
    let ours = reencode(
        &Message::decode(&xml, Encoding::Xml).unwrap(),
        Encoding::Wbxml,
    );
    for id in [[0xA4u8, 0x01], [0x9F, 0x53], [0x80, 0x01]] {
        let mut b = ours.clone();
        b[1..3].copy_from_slice(&id);
        let msg = Message::decode(&b, Encoding::Wbxml).unwrap();
        let Command::Status(st) = &commands(&msg)[0] else {
            panic!()
        };
        assert_eq!(st.data.to_u32(), Some(401));
        let chal = st.chal.unwrap().meta;
        assert_eq!(s(&chal.next_nonce.unwrap()), "Tm9uY2U=");
        assert_eq!(s(&chal.mime_type.unwrap()), "syncml:auth-md5");
    }
}

#[test]
fn values_write_to_an_embedded_io_writer() {
    let xml = corpus("metinf_on_meta.xml");
    let msg = Message::decode(&xml, Encoding::Xml).unwrap();
    let Command::Replace(r) = &commands(&msg)[0] else {
        panic!()
    };
    let data = r.items().next().unwrap().unwrap().data.unwrap();
    let mut out = [0u8; 64];
    let mut slice: &mut [u8] = &mut out;
    embedded_io::Write::write_all(&mut slice, b"").unwrap();
    data.write_to(&mut slice).unwrap();
    let left = slice.len();
    assert_eq!(&out[..64 - left], "Café é \"x\" 'y'".as_bytes());
    assert_eq!(data.len(), "Café é \"x\" 'y'".len());
    let mut small = [0u8; 4];
    assert_eq!(data.to_str(&mut small), None);
}

#[test]
fn content_types_select_the_encoding() {
    assert_eq!(
        Encoding::from_content_type("application/vnd.syncml.dm+wbxml"),
        Some(Encoding::Wbxml)
    );
    assert_eq!(
        Encoding::from_content_type("Application/VND.SyncML.DM+XML; charset=UTF-8"),
        Some(Encoding::Xml)
    );
    assert_eq!(Encoding::from_content_type("text/xml"), None);
    assert_eq!(
        Encoding::Xml.content_type(),
        "application/vnd.syncml.dm+xml"
    );
}
