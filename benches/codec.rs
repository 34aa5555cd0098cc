//! XML and WBXML decode and encode of a ~5,000-byte server package (issue 3 benches).
//!
//! The package: SyncHdr with RespURI and Cred; Status 212 with a Chal for the header,
//! Statuses for the client's commands, then Adds, Replaces, Gets and an Exec of the
//! SCOMO alternate-download flow; Final. Decoding includes walking every command, item
//! and value (the lazy model decodes on iteration).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scomo::codes::StatusCode;
use scomo::dm::codec::{
    Command, CredOut, DataOut, Element, Encoding, HeaderOut, ItemOut, Message, MetaOut, RequestOut,
    StatusOut, Writer,
};

/// Commands of each kind per package; sized so the XML comes to about 5,000 bytes.
const ROUNDS: u32 = 6;

fn encode_package(enc: Encoding, buf: &mut [u8]) -> usize {
    let mut w = Writer::new(buf, enc).unwrap();
    w.begin_message(&HeaderOut {
        session_id: "1A2B",
        msg_id: 1,
        target: "IMEI:493005100592800",
        source: "https://dm.example.com/dm",
        source_name: None,
        cred: Some(CredOut {
            meta: MetaOut {
                format: Some("b64"),
                mime_type: Some("syncml:auth-md5"),
                ..MetaOut::default()
            },
            data: "Zz6EivR3yeaaENcRN6lpAQ==",
        }),
        meta: Some(MetaOut {
            max_msg_size: Some(16384),
            ..MetaOut::default()
        }),
    })
    .unwrap();
    w.status(&StatusOut {
        cmd_id: 1,
        msg_ref: 1,
        cmd_ref: 0,
        cmd: Element::SyncHdr,
        target_refs: &["https://dm.example.com/dm"],
        source_refs: &["IMEI:493005100592800"],
        chal: Some(MetaOut {
            mime_type: Some("syncml:auth-md5"),
            format: Some("b64"),
            next_nonce: Some("LG3iZQhhdmKNHg=="),
            ..MetaOut::default()
        }),
        code: StatusCode::AuthAccepted,
        items: &[],
    })
    .unwrap();
    let mut id = 2;
    let mut next = || {
        id += 1;
        id
    };
    for round in 0..ROUNDS {
        w.status(&StatusOut {
            cmd_id: next(),
            msg_ref: 1,
            cmd_ref: round + 1,
            cmd: Element::Replace,
            target_refs: &[],
            source_refs: &[],
            chal: None,
            code: StatusCode::Ok,
            items: &[],
        })
        .unwrap();
        let chr = MetaOut {
            format: Some("chr"),
            ..MetaOut::default()
        };
        w.request(&RequestOut {
            kind: Element::Add,
            cmd_id: next(),
            meta: None,
            correlator: None,
            items: &[
                ItemOut {
                    target: Some("./SCOMO/Download/Pkg1/PkgID"),
                    meta: Some(chr),
                    data: Some(DataOut::Text("com.example.app-2.1")),
                    ..ItemOut::default()
                },
                ItemOut {
                    target: Some("./SCOMO/Download/Pkg1/PkgURL"),
                    meta: Some(chr),
                    data: Some(DataOut::Text("https://dl.example.com/app.dd?a=1&b=2")),
                    ..ItemOut::default()
                },
            ],
        })
        .unwrap();
        w.request(&RequestOut {
            kind: Element::Get,
            cmd_id: next(),
            meta: None,
            correlator: None,
            items: &[ItemOut {
                target: Some("./SCOMO/Inventory/Deployed?list=Struct"),
                ..ItemOut::default()
            }],
        })
        .unwrap();
        w.request(&RequestOut {
            kind: Element::Exec,
            cmd_id: next(),
            meta: None,
            correlator: Some("job-77"),
            items: &[ItemOut {
                target: Some("./SCOMO/Download/Pkg1/Operations/DownloadInstall"),
                ..ItemOut::default()
            }],
        })
        .unwrap();
    }
    w.end_message(true).unwrap();
    w.finish().unwrap().len()
}

/// Decodes and walks everything; returns a checksum so nothing is optimised away.
fn decode_walk(bytes: &[u8], enc: Encoding) -> usize {
    let msg = Message::decode(bytes, enc).unwrap();
    let mut sum = msg.hdr.session_id.len();
    for cmd in msg.body.commands() {
        let items = match cmd.unwrap() {
            Command::Add(r) | Command::Get(r) | Command::Exec(r) | Command::Replace(r) => r.items(),
            Command::Status(s) => {
                sum += s.data.to_u32().unwrap() as usize;
                s.items()
            }
            _ => continue,
        };
        for item in items {
            let item = item.unwrap();
            sum += item.target.map_or(0, |t| t.loc_uri.len());
            sum += item.data.map_or(0, |d| d.len());
        }
    }
    sum
}

fn bench(c: &mut Criterion) {
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let mut buf = vec![0u8; 16384];
        let len = encode_package(enc, &mut buf);
        buf.truncate(len);
        let name = format!("{enc:?}").to_lowercase();
        let mut group = c.benchmark_group(format!("codec_{name}_{len}B"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function("decode", |b| {
            b.iter(|| decode_walk(black_box(&buf), enc));
        });
        let mut out = vec![0u8; 16384];
        group.bench_function("encode", |b| {
            b.iter(|| encode_package(enc, black_box(&mut out)));
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
