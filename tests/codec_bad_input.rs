//! Hostile and broken input: each case is refused with a named error, never a panic
//! (the protocol layer answers 400, or Alert 1223 when the session cannot go on).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;

use codec_support::*;
use proptest::prelude::*;
use scomo::dm::codec::{Command, DecodeErrorKind as K, Element, Encoding, MAX_NESTING, Message};

fn xml_kind(xml: &str) -> K {
    Message::decode(xml.as_bytes(), Encoding::Xml)
        .unwrap_err()
        .kind
}

fn wbxml_kind(b: &[u8]) -> K {
    Message::decode(b, Encoding::Wbxml).unwrap_err().kind
}

const HDR: &str = "<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source></SyncHdr>";

fn xml_body(body: &str) -> String {
    format!(r#"<SyncML xmlns="SYNCML:SYNCML1.2">{HDR}<SyncBody>{body}</SyncBody></SyncML>"#)
}

/// A valid WBXML message with a Get, built by our writer from the corpus.
fn wbxml_message() -> Vec<u8> {
    let xml = corpus("skeleton_b_pkg2_alternate_download.xml");
    reencode(
        &Message::decode(&xml, Encoding::Xml).unwrap(),
        Encoding::Wbxml,
    )
}

/// The WBXML header and root with libwbxml's string table, then `body` tokens inside
/// SyncML (no SyncHdr: errors must come first).
fn wbxml_with(strtbl: &[u8], body: &[u8]) -> Vec<u8> {
    let mut b = vec![0x02, 0xA4, 0x01, 0x6A, strtbl.len() as u8];
    b.extend(strtbl);
    b.push(0x6D);
    b.extend(body);
    b
}

#[test]
fn truncated_messages_are_refused_at_every_length() {
    let xml = corpus("every_element.xml");
    for n in 0..xml.len() {
        // Cut inside the root element: only trailing whitespace after it may go.
        if xml[n..].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let e = Message::decode(&xml[..n], Encoding::Xml);
        assert!(e.is_err(), "XML prefix of {n} bytes accepted");
    }
    let wbxml = wbxml_message();
    for n in 0..wbxml.len() {
        let e = Message::decode(&wbxml[..n], Encoding::Wbxml).unwrap_err();
        assert!(
            matches!(e.kind, K::Truncated | K::Overflow | K::Utf8),
            "WBXML prefix of {n}: {e:?}"
        );
    }
    assert_eq!(xml_kind(&xml_body("<Final/>")[..60]), K::Truncated);
}

#[test]
fn oversized_lengths_overflow() {
    // OPAQUE says 100 bytes, 3 follow.
    assert_eq!(
        wbxml_kind(&wbxml_with(b"", &[0x6C, 0x71, 0xC3, 100, b'1', b'.', b'2'])),
        K::Overflow
    );
    // String table longer than the message.
    assert_eq!(
        wbxml_kind(&[0x02, 0xA4, 0x01, 0x6A, 0x7F, 0x00]),
        K::Overflow
    );
    // An OPAQUE length of 2^32 - 1.
    assert_eq!(
        wbxml_kind(&wbxml_with(
            b"",
            &[0x6C, 0x71, 0xC3, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 0]
        )),
        K::Overflow
    );
}

#[test]
fn overflowing_mb_u_int32_is_refused() {
    // In the public id, the string table length, an OPAQUE length, a STR_T index.
    assert_eq!(
        wbxml_kind(&[0x02, 0x90, 0x80, 0x80, 0x80, 0x00, 0x6A, 0x00]),
        K::Overflow
    );
    assert_eq!(
        wbxml_kind(&[0x02, 0xA4, 0x01, 0x6A, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]),
        K::Overflow
    );
    assert_eq!(
        wbxml_kind(&wbxml_with(
            b"",
            &[0x6C, 0x71, 0xC3, 0x90, 0x80, 0x80, 0x80, 0x00]
        )),
        K::Overflow
    );
    assert_eq!(
        wbxml_kind(&wbxml_with(
            b"ab\0",
            &[0x6C, 0x71, 0x83, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        )),
        K::Overflow
    );
}

#[test]
fn string_table_offsets_out_of_range_are_refused() {
    let table = b"1.2\0";
    assert_eq!(
        wbxml_kind(&wbxml_with(table, &[0x6C, 0x71, 0x83, 4, 0x01])),
        K::StringTable
    );
    assert_eq!(
        wbxml_kind(&wbxml_with(table, &[0x6C, 0x71, 0x83, 0x81, 0x00, 0x01])),
        K::StringTable
    );
    // A string that runs to the end of the table without its NUL.
    assert_eq!(
        wbxml_kind(&wbxml_with(b"1.2", &[0x6C, 0x71, 0x83, 0, 0x01])),
        K::StringTable
    );
    // A literal public id whose index is outside the table.
    assert_eq!(
        wbxml_kind(&[0x02, 0x00, 0x05, 0x6A, 0x02, b'a', 0, 0x6D]),
        K::StringTable
    );
    // In range, the same table decodes.
    let ok = wbxml_with(table, &[0x6C, 0x71, 0x83, 0, 0x01]);
    assert_eq!(wbxml_kind(&ok), K::Truncated);
}

#[test]
fn unknown_elements_are_refused() {
    assert_eq!(xml_kind(&xml_body("<Foo/>")), K::UnknownElement);
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID><Bogus/></Get>")),
        K::UnknownElement
    );
    // Known to the token table but not DM: Sync, Map, Put, Search.
    for el in ["Sync", "Map", "Put", "Search"] {
        assert_eq!(
            xml_kind(&xml_body(&format!("<{el}><CmdID>1</CmdID></{el}>"))),
            K::Unexpected(Element::from_name(el).unwrap())
        );
    }
    // A known element out of place: LocURI directly in SyncBody, Final twice.
    assert_eq!(
        xml_kind(&xml_body("<LocURI>x</LocURI>")),
        K::Unexpected(Element::LocURI)
    );
    assert_eq!(
        xml_kind(&xml_body("<Final/><Final/>")),
        K::Duplicate(Element::Final)
    );
    // A status where an element is nested in a leaf.
    assert_eq!(
        xml_kind(&xml_body("<Alert><CmdID>1<Data/></CmdID></Alert>")),
        K::Unexpected(Element::Data)
    );
}

#[test]
fn unknown_wbxml_tokens_are_refused() {
    // Token 0x30 is unused on page 0; page 2 (DevInf) is not DM.
    assert_eq!(wbxml_kind(&wbxml_with(b"", &[0x70])), K::UnknownElement);
    assert_eq!(
        wbxml_kind(&wbxml_with(b"", &[0x00, 0x02, 0x45])),
        K::UnknownElement
    );
    // EXT_I_0, PI, LITERAL, EXT_T_0, EXT_0, and a tag with attributes.
    for token in [0x40u8, 0x43, 0x04, 0x80, 0xC0, 0xEC] {
        assert_eq!(
            wbxml_kind(&wbxml_with(b"", &[token, 0x00])),
            K::UnknownToken,
            "{token:#x}"
        );
    }
    // Trailing bytes after the root.
    let mut b = wbxml_message();
    b.push(0x01);
    assert_eq!(wbxml_kind(&b), K::Syntax);
    // Character data where elements are expected.
    assert_eq!(wbxml_kind(&wbxml_with(b"", &[0x03, b'x', 0x00])), K::Syntax);
}

#[test]
fn wrong_namespaces_and_public_ids_are_refused() {
    let body = format!("{HDR}<SyncBody/>");
    for root in [
        r#"<SyncML xmlns="SYNCML:SYNCML1.0">"#.to_owned(),
        r#"<SyncML xmlns="urn:example">"#.to_owned(),
        "<SyncML>".to_owned(),
    ] {
        assert_eq!(
            xml_kind(&format!("{root}{body}</SyncML>")),
            K::Namespace,
            "{root}"
        );
    }
    assert_eq!(
        xml_kind(&xml_body(r#"<Get xmlns="DAV:"><CmdID>1</CmdID></Get>"#)),
        K::Namespace
    );
    assert_eq!(
        xml_kind(&format!(
            r#"<s:SyncML xmlns:s="SYNCML:SYNCML1.2">{body}</s:SyncML>"#
        )),
        K::Namespace
    );
    // The root must be SyncML.
    assert_eq!(
        xml_kind(r#"<SyncHdr xmlns="SYNCML:SYNCML1.2"></SyncHdr>"#),
        K::Unexpected(Element::SyncHdr)
    );
    // DevInf 1.2 public id, and a literal id that is not SyncML.
    assert_eq!(
        wbxml_kind(&[0x02, 0xA4, 0x03, 0x6A, 0x00, 0x6D, 0x01]),
        K::Namespace
    );
    let mut b = vec![0x02, 0x00, 0x00, 0x6A, 0x1E];
    b.extend(b"-//OMA//DTD-DM-DDF 1.2//EN....\0");
    b.truncate(5 + 30);
    b.push(0x6D);
    assert_eq!(wbxml_kind(&b), K::Namespace);
    // Unsupported WBXML version and charset, and XML encoding.
    assert_eq!(
        wbxml_kind(&[0x00, 0xA4, 0x01, 0x6A, 0x00, 0x6D]),
        K::Unsupported
    );
    assert_eq!(
        wbxml_kind(&[0x02, 0xA4, 0x01, 0x04, 0x00, 0x6D]),
        K::Unsupported
    );
    assert_eq!(
        xml_kind(&format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>{}"#,
            xml_body("")
        )),
        K::Unsupported
    );
}

#[test]
fn invalid_utf8_is_refused() {
    let mut xml = xml_body("<Alert><CmdID>1</CmdID><Data>1226</Data></Alert>").into_bytes();
    let at = xml.windows(4).position(|w| w == b"1226").unwrap();
    xml[at] = 0xFF;
    assert_eq!(
        Message::decode(&xml, Encoding::Xml).unwrap_err().kind,
        K::Utf8
    );
    // STR_I with a broken sequence; an OPAQUE that is not UTF-8 where text is required.
    assert_eq!(
        wbxml_kind(&wbxml_with(b"", &[0x6C, 0x71, 0x03, 0xC3, 0x28, 0x00])),
        K::Utf8
    );
    assert_eq!(
        wbxml_kind(&wbxml_with(b"", &[0x6C, 0x71, 0xC3, 0x01, 0xFF, 0x01])),
        K::Utf8
    );
    // ... but binary OPAQUE in Data is fine: see codec_libwbxml's hand-built vector.
    // A character reference to no character is kept literally (raw `&` policy), but a
    // WBXML ENTITY to no character is refused.
    assert_eq!(
        wbxml_kind(&wbxml_with(
            b"",
            &[0x6C, 0x71, 0x02, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F]
        )),
        K::Utf8
    );
}

fn nested(depth: usize, kind: &str) -> String {
    let mut s = String::new();
    for i in 0..depth {
        s += &format!("<{kind}><CmdID>{}</CmdID>", i + 1);
    }
    s += "<Get><CmdID>99</CmdID><Item><Target><LocURI>.</LocURI></Target></Item></Get>";
    for _ in 0..depth {
        s += &format!("</{kind}>");
    }
    s
}

#[test]
fn nesting_deeper_than_max_nesting_is_refused() {
    for kind in ["Atomic", "Sequence"] {
        let ok = xml_body(&nested(MAX_NESTING, kind));
        let msg = Message::decode(ok.as_bytes(), Encoding::Xml).unwrap();
        let mut cmd = msg.body.commands().next().unwrap().unwrap();
        for _ in 0..MAX_NESTING {
            let (Command::Atomic(c) | Command::Sequence(c)) = cmd else {
                panic!()
            };
            cmd = c.commands().next().unwrap().unwrap();
        }
        assert_eq!(cmd.cmd_id(), 99);
        assert_eq!(
            xml_kind(&xml_body(&nested(MAX_NESTING + 1, kind))),
            K::TooDeep
        );
    }
    // Deep nesting in WBXML too: a thousand Atomics, each opened with its CmdID.
    let mut deep = vec![0x6B];
    deep.extend(std::iter::repeat_n([0x48u8, 0x4B, 0x03, b'1', 0x00, 0x01], 1000).flatten());
    let mut msg = wbxml_message();
    let body = msg.iter().position(|&t| t == 0x6B).unwrap();
    msg.truncate(body);
    msg.extend(deep);
    assert_eq!(wbxml_kind(&msg), K::TooDeep);
}

#[test]
fn missing_duplicate_and_misordered_children_are_refused() {
    assert_eq!(
        xml_kind(&xml_body(
            "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd></Status>"
        )),
        K::Missing(Element::Data)
    );
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID><CmdID>2</CmdID></Get>")),
        K::Duplicate(Element::CmdID)
    );
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID></Get>")),
        K::Missing(Element::Item)
    );
    assert_eq!(xml_kind(&xml_body("<Get/>")), K::Missing(Element::CmdID));
    assert_eq!(
        xml_kind(&xml_body("<Exec><CmdID>1</CmdID><Item/><Item/></Exec>")),
        K::Duplicate(Element::Item)
    );
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID><Item/><Meta/></Get>")),
        K::OutOfOrder(Element::Meta)
    );
    assert_eq!(
        xml_kind(&format!(
            r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody/>{HDR}</SyncML>"#
        )),
        K::OutOfOrder(Element::SyncHdr)
    );
    assert_eq!(
        xml_kind(r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody/></SyncML>"#),
        K::Missing(Element::SyncHdr)
    );
}

#[test]
fn malformed_numbers_and_xml_are_refused() {
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>one</CmdID><Item/></Get>")),
        K::Number(Element::CmdID)
    );
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>4294967296</CmdID><Item/></Get>")),
        K::Number(Element::CmdID)
    );
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID><Item/></Exec>")),
        K::Mismatch
    );
    assert_eq!(
        xml_kind(&xml_body("<Final>x</Final>")),
        K::Unexpected(Element::Final)
    );
    assert_eq!(xml_kind(&xml_body("text")), K::Syntax);
    assert_eq!(xml_kind(&format!("{}<SyncML/>", xml_body(""))), K::Syntax);
    let whole = xml_body("");
    assert_eq!(xml_kind(&whole[..whole.len() - 1]), K::Truncated);
    assert_eq!(
        xml_kind(&xml_body("<Get><CmdID>1</CmdID><Item></Item </Get>")),
        K::Syntax
    );
    assert_eq!(
        xml_kind("<SyncML xmlns=\"SYNCML:SYNCML1.2\"><!-- x -- --></SyncML>"),
        K::Syntax
    );
}

#[test]
fn xml_well_formedness_rules_are_kept() {
    let doc = |prolog: &str, body: &str| format!("{prolog}{}", xml_body(body));
    // Comments may not hold `--`; text may not hold `]]>` or control characters.
    assert_eq!(xml_kind(&xml_body("<!-- a -- b -->")), K::Syntax);
    assert_eq!(
        xml_kind(&xml_body(
            "<Alert><CmdID>1</CmdID><Data>a]]>b</Data></Alert>"
        )),
        K::Syntax
    );
    assert_eq!(
        xml_kind(&xml_body(
            "<Alert><CmdID>1</CmdID><Data>a\u{1}b</Data></Alert>"
        )),
        K::Syntax
    );
    // Attributes: quoted, separated by space, no `<` in values.
    assert_eq!(xml_kind(&xml_body("<Final a=b/>")), K::Syntax);
    assert_eq!(xml_kind(&xml_body(r#"<Final a="1"b="2"/>"#)), K::Syntax);
    assert_eq!(xml_kind(&xml_body(r#"<Final a="<"/>"#)), K::Syntax);
    assert_eq!(xml_kind(&xml_body("<Final a/>")), K::Syntax);
    // Names: not empty, not starting with a digit; unknown markup declarations.
    assert_eq!(xml_kind(&xml_body("< Final/>")), K::Syntax);
    assert_eq!(xml_kind(&xml_body("<1Final/>")), K::Syntax);
    assert_eq!(xml_kind(&xml_body("<!BOGUS>")), K::Syntax);
    // The declaration only first; one DOCTYPE, before the root.
    assert_eq!(xml_kind(&doc(" <?xml version=\"1.0\"?>", "")), K::Syntax);
    assert_eq!(xml_kind(&xml_body(r#"<?xml version="1.0"?>"#)), K::Syntax);
    let dt = "<!DOCTYPE SyncML>";
    assert_eq!(xml_kind(&doc(&format!("{dt}{dt}"), "")), K::Syntax);
    assert_eq!(xml_kind(&xml_body(dt)), K::Syntax);
    // Whatever the DOCTYPE's internal subset holds is skipped, `>` in quotes included.
    let subset = r#"<!DOCTYPE SyncML [ <!ENTITY x "a>b"> <!-- ] --> ]>"#;
    let ok = doc(subset, "<Final/>");
    assert!(
        Message::decode(ok.as_bytes(), Encoding::Xml)
            .unwrap()
            .body
            .is_final
    );
    // A byte-order mark, comments and PIs around the root are fine.
    let ok = format!(
        "\u{FEFF}<!-- c --><?pi x?>{}<!-- d -->\n<?pi?>\n",
        xml_body("")
    );
    Message::decode(ok.as_bytes(), Encoding::Xml).unwrap();
}

/// Fully walks a decoded message: every command, item, reference and value.
fn walk(msg: &Message) {
    fn walk_cmd(cmd: Command) {
        let touch = |v: scomo::dm::codec::Value| {
            let mut scratch = [0u8; 4];
            let total: usize = v.pieces().map(|p| p.bytes(&mut scratch).len()).sum();
            assert_eq!(total, v.len());
        };
        match cmd {
            Command::Atomic(c) | Command::Sequence(c) => {
                for inner in c.commands() {
                    walk_cmd(inner.expect("decode validated the nested commands"));
                }
            }
            Command::Status(s) => {
                for r in s.target_refs().chain(s.source_refs()) {
                    touch(r.expect("decode validated the refs"));
                }
                for it in s.items() {
                    touch(
                        it.expect("decode validated the items")
                            .data
                            .unwrap_or_default(),
                    );
                }
            }
            Command::Results(r) => {
                for v in r.target_refs().chain(r.source_refs()) {
                    touch(v.expect("decode validated the refs"));
                }
                for it in r.items() {
                    it.expect("decode validated the items");
                }
            }
            Command::Alert(a) => {
                for it in a.items() {
                    it.expect("decode validated the items");
                }
            }
            Command::Add(r)
            | Command::Copy(r)
            | Command::Delete(r)
            | Command::Exec(r)
            | Command::Get(r)
            | Command::Replace(r) => {
                for it in r.items() {
                    touch(
                        it.expect("decode validated the items")
                            .data
                            .unwrap_or_default(),
                    );
                }
            }
        }
    }
    for cmd in msg.body.commands() {
        walk_cmd(cmd.expect("decode validated the commands"));
    }
}

static SEEDS: std::sync::LazyLock<Vec<(Vec<u8>, Encoding)>> = std::sync::LazyLock::new(seeds);

fn seeds() -> Vec<(Vec<u8>, Encoding)> {
    let mut v = Vec::new();
    for name in corpus_names() {
        let xml = corpus(&name);
        let wbxml = reencode(
            &Message::decode(&xml, Encoding::Xml).unwrap(),
            Encoding::Wbxml,
        );
        v.push((xml, Encoding::Xml));
        v.push((wbxml, Encoding::Wbxml));
    }
    for name in ["testget.wbxml", "testadd.wbxml", "testreplace.wbxml"] {
        v.push((vector(name), Encoding::Wbxml));
    }
    v.push((vector("testalertconfirm.xml"), Encoding::Xml));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for enc in [Encoding::Xml, Encoding::Wbxml] {
            if let Ok(msg) = Message::decode(&bytes, enc) {
                walk(&msg);
            }
        }
    }

    /// Mutations of valid messages: whatever decodes also iterates without an error
    /// (the structural check and the lazy decoder agree).
    #[test]
    fn mutated_valid_messages_never_panic(
        seed in 0usize..64,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let (mut bytes, enc) = SEEDS[seed % SEEDS.len()].clone();
        for (at, byte, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => {}
            }
        }
        if let Ok(msg) = Message::decode(&bytes, enc) {
            walk(&msg);
        }
    }
}
