//! Independent check of both codecs against libwbxml (`xml2wbxml`, `wbxml2xml`), on the
//! corpus in `tests/corpus/` (every element of the model, the digest's message
//! skeletons 7.11, a Generic Alert, a Large Object chunk, a challenge) and on the real
//! messages in the shared vectors.
//!
//! Both directions: our decoding of libwbxml's WBXML (with and without its string
//! table) equals our decoding of the XML; libwbxml's decoding of our WBXML (and its
//! encoding of our XML) decodes to the meaning we encoded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;

use codec_support::*;
use scomo::dm::codec::{Encoding, Message};

/// Checks one XML message both ways against libwbxml; returns its dump.
fn check_both_ways(name: &str, xml: &[u8]) -> String {
    let meaning = decode_dump(xml, Encoding::Xml);

    for string_table in [true, false] {
        let theirs = xml2wbxml(xml, string_table);
        assert_eq!(
            decode_dump(&theirs, Encoding::Wbxml),
            meaning,
            "{name}: our decoding of libwbxml's WBXML (string table {string_table})"
        );
    }

    let msg = Message::decode(xml, Encoding::Xml).unwrap();
    let ours = reencode(&msg, Encoding::Wbxml);
    assert_eq!(
        &ours[..5],
        &[0x02, 0xA4, 0x01, 0x6A, 0x00],
        "{name}: our header"
    );
    let their_xml = wbxml2xml(&ours);
    assert_eq!(
        decode_dump(&their_xml, Encoding::Xml),
        meaning,
        "{name}: libwbxml's decoding of our WBXML"
    );
    assert_eq!(
        decode_dump(&ours, Encoding::Wbxml),
        meaning,
        "{name}: our WBXML, ours"
    );

    let ours_xml = reencode(&msg, Encoding::Xml);
    let their_wbxml = xml2wbxml(&ours_xml, false);
    assert_eq!(
        decode_dump(&their_wbxml, Encoding::Wbxml),
        meaning,
        "{name}: libwbxml's encoding of our XML"
    );
    meaning
}

#[test]
fn corpus_agrees_with_libwbxml_both_ways() {
    let names = corpus_names();
    assert!(names.len() >= 8, "corpus is missing: {names:?}");
    for name in names {
        check_both_ways(&name, &corpus(&name));
    }
}

#[test]
fn every_element_corpus_covers_the_whole_model() {
    let dump = check_both_ways("every_element.xml", &corpus("every_element.xml"));
    for needle in [
        "Status ",
        "Results ",
        "Alert ",
        "Get ",
        "Add ",
        "Replace ",
        "Delete ",
        "Copy ",
        "Exec ",
        "Atomic ",
        "Sequence ",
        "archive=true",
        "sftdel=true",
        "lang=\"en\"",
        "tparent=\"./X\"",
        "sparent=\"./Z\"",
        "noresp=true",
        "trefs=\"./a\",\"./b\"",
        "nonce=\"AAAAAA==\"",
        "maxobj=Some(4194304)",
        "version=\"1.2\"",
        "size=Some(2)",
        "mark=\"critical\"",
        "corr=\"corr-before-data\"",
        "final=true",
        "resp=\"http://srv/dm?x=1&y=<2>\"",
        "source=\"srv\"|\"server\"",
    ] {
        assert!(dump.contains(needle), "{needle} missing in\n{dump}");
    }
}

/// `every_element.wbxml` is the WBXML form of `every_element.xml` that the decode-cost
/// measurements use (the bench and the Cortex-M image): libwbxml's encoding, with its
/// string table. It must still mean what the XML means, and be what libwbxml makes of the
/// XML today (a changed XML needs the WBXML made again).
#[test]
fn every_element_wbxml_is_libwbxml_encoding_of_the_xml() {
    let xml = corpus("every_element.xml");
    let wbxml = corpus("every_element.wbxml");
    assert_eq!(
        decode_dump(&wbxml, Encoding::Wbxml),
        decode_dump(&xml, Encoding::Xml)
    );
    assert_eq!(wbxml, xml2wbxml(&xml, true));
}

#[test]
fn generic_alert_1226_keeps_its_xml_payload_through_libwbxml() {
    let dump = check_both_ways(
        "skeleton_d_report_generic_alert.xml",
        &corpus("skeleton_d_report_generic_alert.xml"),
    );
    assert!(dump.contains(
        "data=\"<ResultCode>1200</ResultCode><Identifier>Comp1ID</Identifier>\" more=false"
    ));
    assert!(dump.contains("type=\"urn:oma:at:scomo:1.0:OperationComplete\""));
}

#[test]
fn large_object_chunk_b64_text_and_more_data_survive_libwbxml() {
    let dump = check_both_ways("large_object_chunk.xml", &corpus("large_object_chunk.xml"));
    assert!(dump.contains("size=Some(3000)"));
    assert!(dump.contains("more=true"));
    assert!(dump.contains("data=\"AAECAwQF"));
}

/// Real server messages in WBXML (literal public id; testget says SyncML 1.1).
#[test]
fn shared_wbxml_vectors_decode_as_libwbxml_reads_them() {
    for name in ["testget.wbxml", "testadd.wbxml", "testreplace.wbxml"] {
        let wbxml = vector(name);
        let ours = decode_dump(&wbxml, Encoding::Wbxml);
        let their_xml = wbxml2xml(&wbxml);
        assert_eq!(decode_dump(&their_xml, Encoding::Xml), ours, "{name}");
        // And back through libwbxml once more.
        check_both_ways(name, &their_xml);
    }
}

/// Real server messages in XML. `testalertconfirm.xml` carries a raw `&` in Data, which
/// libwbxml's XML parser refuses; it goes through libwbxml as we re-encode it (escaped).
#[test]
fn shared_xml_vectors_agree_with_libwbxml() {
    for name in [
        "testalertconfirm.xml",
        "testalertdisplay.xml",
        "testgetscript.xml",
        "testnewdatatype.xml",
    ] {
        let xml = vector(name);
        let msg = Message::decode(&xml, Encoding::Xml).unwrap();
        let escaped = reencode(&msg, Encoding::Xml);
        assert_eq!(decode_dump(&escaped, Encoding::Xml), dump(&msg), "{name}");
        check_both_ways(name, &escaped);
    }
}

/// Binary OPAQUE cannot round-trip through wbxml2xml, so it is checked against bytes
/// built by hand from the WBXML specification.
#[test]
fn binary_opaque_data_matches_hand_built_wbxml() {
    use scomo::dm::codec::{DataOut, Element, HeaderOut, ItemOut, RequestOut, Writer};
    let payload = [0x00, 0xFF, 0x01, 0x03, 0xC3, 0x80];
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf, Encoding::Wbxml).unwrap();
    w.begin_message(&HeaderOut {
        session_id: "1",
        msg_id: 1,
        target: "s",
        source: "d",
        source_name: None,
        cred: None,
        meta: None,
    })
    .unwrap();
    w.request(&RequestOut {
        kind: Element::Replace,
        cmd_id: 2,
        meta: None,
        correlator: None,
        items: &[ItemOut {
            target: Some("./D"),
            data: Some(DataOut::Binary(&payload)),
            ..ItemOut::default()
        }],
    })
    .unwrap();
    w.end_message(true).unwrap();
    let ours = w.finish().unwrap();

    let mut expected = vec![0x02, 0xA4, 0x01, 0x6A, 0x00]; // WBXML 1.2, 0x1201, UTF-8, no strtbl
    expected.extend([0x6D, 0x6C]); // <SyncML><SyncHdr>
    for (tag, text) in [(0x71u8, "1.2"), (0x72, "DM/1.2"), (0x65, "1"), (0x5B, "1")] {
        expected.push(tag);
        expected.push(0x03);
        expected.extend(text.as_bytes());
        expected.extend([0x00, 0x01]);
    }
    expected.extend([0x6E, 0x57, 0x03, b's', 0x00, 0x01, 0x01]); // Target/LocURI
    expected.extend([0x67, 0x57, 0x03, b'd', 0x00, 0x01, 0x01]); // Source/LocURI
    expected.push(0x01); // </SyncHdr>
    expected.push(0x6B); // <SyncBody>
    expected.extend([0x60, 0x4B, 0x03, b'2', 0x00, 0x01]); // <Replace><CmdID>2
    expected.extend([0x54, 0x6E, 0x57, 0x03, b'.', b'/', b'D', 0x00, 0x01, 0x01]);
    expected.extend([0x4F, 0xC3, 0x06]); // <Data> OPAQUE len 6
    expected.extend(payload);
    expected.extend([0x01, 0x01, 0x01]); // </Data></Item></Replace>
    expected.extend([0x12, 0x01, 0x01]); // <Final/></SyncBody></SyncML>
    assert_eq!(hex(ours), hex(&expected));

    let msg = Message::decode(&expected, Encoding::Wbxml).unwrap();
    let cmd = msg.body.commands().next().unwrap().unwrap();
    let scomo::dm::codec::Command::Replace(r) = cmd else {
        panic!("{cmd:?}")
    };
    let data = r.items().next().unwrap().unwrap().data.unwrap();
    assert!(data.is_opaque());
    assert_eq!(data.as_bytes(), Some(&payload[..]));
}
