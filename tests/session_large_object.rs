//! Large Object receive (digest 7.7): `Inventory/Delivered/<X>/Data` pushed in chunks is
//! streamed to the executor as it arrives (213 per chunk, the size checked at the end,
//! 424 on a mismatch), interleaving is answered with Alert 1225, and a 4 MiB package goes
//! through the device's 2 KiB message buffers. Over XML the chunks are base64 text cut
//! inside quanta; over WBXML they are binary OPAQUE.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod session_support;

use sha2::{Digest, Sha256};

use scomo::codes::StatusCode;
use scomo::dm::codec::{DataOut, Element, Encoding};
use scomo::dm::session::End;
use session_support::*;

const DATA_URI: &str = "./SCOMO/Inventory/Delivered/Pkg1/Data";

/// A package of `len` bytes that is not periodic in 3 or 4.
fn package(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Pushes `data` as a Large Object: `chunk` bytes of transmitted Data per message (base64
/// text over XML, raw bytes over WBXML). Returns the device and the last message it sent.
fn push(enc: Encoding, data: &[u8], chunk: usize, announced: Option<u32>) -> (Dev, Out, u32) {
    let mut dev = Dev::client(enc);
    let mut last = dev.start().out;
    let mut srv = Srv::new(enc, "1A2B");
    let text = b64(data);
    let (wire, format): (&[u8], &str) = match enc {
        Encoding::Xml => (text.as_bytes(), "b64"),
        Encoding::Wbxml => (data, "bin"),
    };
    let size = announced.unwrap_or(wire.len() as u32);
    let mut at = 0;
    let mut first = true;
    let mut add = 0;
    loop {
        let end = (at + chunk).min(wire.len());
        let part = &wire[at..end];
        let more = end < wire.len();
        let body = srv.msg(!more, |s, w| {
            if first {
                s.acks(w, &last, StatusCode::AuthAccepted, StatusCode::Ok);
            } else {
                s.hdr_status(w, &last, StatusCode::Ok);
            }
            let data = match enc {
                Encoding::Xml => DataOut::Text(std::str::from_utf8(part).unwrap()),
                Encoding::Wbxml => DataOut::Binary(part),
            };
            add = s.chunk(
                w,
                Element::Add,
                DATA_URI,
                format,
                first.then_some(size),
                data,
                more,
            );
        });
        assert!(
            body.len() <= BUF,
            "the server must respect the device's MaxMsgSize"
        );
        last = dev.step(&body).sent().out;
        first = false;
        at = end;
        if !more {
            return (dev, last, add);
        }
        // Each chunk: 213, and the device asks for the next message (no Final).
        assert_eq!(last.code(add), 213);
        assert_eq!(last.alert_codes(), [1222]);
        assert!(!last.is_final);
    }
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[test]
fn four_mib_over_xml_b64_cut_inside_quanta_through_2_kib_buffers() {
    let data = package(4 << 20);
    // 1101 characters: every chunk boundary falls inside a base64 quantum.
    let (dev, last, add) = push(Encoding::Xml, &data, 1101, None);
    assert_eq!(last.code(add), 200);
    assert!(last.is_final);
    assert_eq!(
        dev.handler.committed,
        [("Pkg1".to_owned(), 4 << 20, sha(&data))]
    );
    // The announced size was the encoded length; the executor was told the decoded bound.
    let announced = b64(&data).len() as u64;
    assert_eq!(
        dev.handler.begun,
        [("Pkg1".to_owned(), Some(announced.div_ceil(4) * 3))]
    );
    // Streamed in small pieces, never held whole.
    assert!(dev.handler.largest_write <= 48);
    let entry = dev.tree.scomo().delivered("Pkg1").unwrap();
    assert_eq!(entry.data_size(), Some(4 << 20));
    assert_eq!(dev.session.summary().objects_committed, 1);
}

#[test]
fn four_mib_over_wbxml_opaque_through_2_kib_buffers() {
    let data = package(4 << 20);
    let (dev, last, add) = push(Encoding::Wbxml, &data, 1700, None);
    assert_eq!(last.code(add), 200);
    assert_eq!(
        dev.handler.committed,
        [("Pkg1".to_owned(), 4 << 20, sha(&data))]
    );
    assert_eq!(dev.handler.begun[0].1, Some(4 << 20));
    assert!(dev.handler.largest_write <= 1700);
}

#[test]
fn a_size_that_does_not_match_is_424_and_nothing_is_committed() {
    for enc in ENCODINGS {
        let data = package(5000);
        let wire_len = match enc {
            Encoding::Xml => b64(&data).len(),
            Encoding::Wbxml => data.len(),
        };
        let (dev, last, add) = push(enc, &data, 999, Some(wire_len as u32 + 4));
        assert_eq!(last.code(add), 424);
        assert!(dev.handler.committed.is_empty());
        assert_eq!(dev.handler.abandoned, 1);
        // The package entry its first chunk created is gone again.
        assert!(dev.tree.scomo().delivered("Pkg1").is_none());
    }
}

#[test]
fn more_data_than_announced_is_refused_at_once() {
    let data = package(3000);
    let mut dev = Dev::client(Encoding::Wbxml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let mut add = 0;
    let body = srv.msg(false, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        add = s.chunk(
            w,
            Element::Add,
            DATA_URI,
            "bin",
            Some(100),
            DataOut::Binary(&data[..1000]),
            true,
        );
    });
    let out = dev.step(&body).sent().out;
    assert_eq!(out.code(add), 413);
    assert_eq!(dev.handler.abandoned, 1);
}

#[test]
fn a_command_before_the_last_chunk_is_answered_with_1225_and_the_object_discarded() {
    for enc in ENCODINGS {
        let data = package(2000);
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let text = b64(&data);
        let mut add = 0;
        let body = srv.msg(false, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            add = s.chunk(
                w,
                Element::Add,
                DATA_URI,
                "b64",
                Some(text.len() as u32),
                DataOut::Text(&text[..700]),
                true,
            );
        });
        let out = dev.step(&body).sent().out;
        assert_eq!(out.code(add), 213);
        // Instead of the next chunk: a Get.
        let mut get = 0;
        let body = srv.msg(true, |s, w| {
            s.hdr_status(w, &out, StatusCode::Ok);
            get = s.get(w, &["./DevInfo/Man"]);
        });
        let out = dev.step(&body).sent().out;
        let alerts = out.alerts();
        assert_eq!(out.alert_codes(), [1225]);
        assert_eq!(alerts[0].3[0].target.as_deref(), Some(DATA_URI));
        assert_eq!(out.code(get), 200);
        assert!(dev.handler.committed.is_empty());
        assert_eq!(dev.handler.abandoned, 1);
        assert!(dev.tree.scomo().delivered("Pkg1").is_none());
    }
}

#[test]
fn an_item_after_an_open_chunk_in_the_same_message_interleaves() {
    let data = package(900);
    let mut dev = Dev::client(Encoding::Wbxml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let (mut add, mut other) = (0, 0);
    let body = srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        add = s.chunk(
            w,
            Element::Add,
            DATA_URI,
            "bin",
            Some(900),
            DataOut::Binary(&data[..400]),
            true,
        );
        other = s.add_node(w, "./SCOMO/Download/D1");
    });
    let out = dev.step(&body).sent().out;
    assert_eq!(out.code(add), 213);
    assert_eq!(out.alert_codes(), [1225]);
    assert_eq!(out.code(other), 200);
    assert_eq!(dev.handler.abandoned, 1);
}

#[test]
fn a_whole_value_in_one_message_is_committed_with_200() {
    for enc in ENCODINGS {
        let data = package(700);
        let (dev, last, add) = push(enc, &data, 4000, None);
        assert_eq!(last.code(add), 200);
        assert_eq!(
            dev.handler.committed,
            [("Pkg1".to_owned(), 700, sha(&data))]
        );
    }
}

#[test]
fn large_objects_are_refused_inside_an_atomic_and_for_other_nodes() {
    for enc in ENCODINGS {
        let mut dev = Dev::client(enc);
        let pkg1 = dev.start().out;
        let mut srv = Srv::new(enc, "1A2B");
        let (mut atomic, mut inner, mut leaf) = (0, 0, 0);
        let body = srv.msg(true, |s, w| {
            s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
            atomic = s.container(w, Element::Atomic, |s, w| {
                inner = s.chunk(
                    w,
                    Element::Add,
                    DATA_URI,
                    "b64",
                    None,
                    DataOut::Text("QUJD"),
                    false,
                );
            });
            leaf = s.chunk(
                w,
                Element::Add,
                "./SCOMO/Download/D1",
                "node",
                None,
                DataOut::Text(""),
                true,
            );
        });
        let out = dev.step(&body).sent().out;
        assert_eq!((out.code(atomic), out.code(inner)), (507, 406));
        assert_eq!(out.code(leaf), 406);
        assert!(dev.handler.begun.is_empty());
        assert!(dev.tree.scomo().delivered("Pkg1").is_none());
    }
}

#[test]
fn an_object_larger_than_max_obj_size_is_413() {
    let mut dev = Dev::client(Encoding::Xml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Xml, "1A2B");
    let mut add = 0;
    let body = srv.msg(false, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        add = s.chunk(
            w,
            Element::Add,
            DATA_URI,
            "b64",
            Some((16 << 20) + 1),
            DataOut::Text("QUJD"),
            true,
        );
    });
    assert_eq!(dev.step(&body).sent().out.code(add), 413);
    assert!(dev.handler.begun.is_empty());
}

#[test]
fn a_store_that_refuses_the_object_answers_with_its_code() {
    let mut dev = Dev::client(Encoding::Wbxml);
    dev.handler.refuse_begin = Some(StatusCode::DeviceFull);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let mut add = 0;
    let body = srv.msg(false, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        add = s.chunk(
            w,
            Element::Add,
            DATA_URI,
            "bin",
            Some(10),
            DataOut::Binary(b"0123"),
            true,
        );
    });
    assert_eq!(dev.step(&body).sent().out.code(add), 420);
    assert!(dev.tree.scomo().delivered("Pkg1").is_none());
}

#[test]
fn a_session_that_ends_mid_object_abandons_it() {
    let mut dev = Dev::client(Encoding::Wbxml);
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(Encoding::Wbxml, "1A2B");
    let body = srv.msg(false, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.chunk(
            w,
            Element::Add,
            DATA_URI,
            "bin",
            Some(10),
            DataOut::Binary(b"0123"),
            true,
        );
    });
    let out = dev.step(&body).sent().out;
    let abort = srv.msg(true, |s, w| {
        s.hdr_status(w, &out, StatusCode::Ok);
        s.alert(w, 1223, &[]);
    });
    let summary = dev.step(&abort).aborted();
    assert_eq!(summary.end, Some(End::AbortedByServer));
    assert_eq!(dev.handler.abandoned, 1);
}
