//! XML and WBXML decode and encode (issue 3 benches), on two messages:
//!
//! - a ~5,000-byte server package (SyncHdr with Cred; Status 212 with a Chal for the
//!   header, Statuses for the client's commands, then Adds, Gets and Execs of the SCOMO
//!   alternate-download flow; Final), built by [`codec_support::encode_package`];
//! - the largest message of the test corpus, `tests/corpus/every_element.xml`, and its WBXML
//!   form `every_element.wbxml` (libwbxml's encoding, with a string table).
//!
//! Decoding includes walking every command, item and value as the session engine does
//! (the lazy model decodes on iteration): [`codec_support::decode_walk`], the same code the
//! Cortex-M decode-cost image (`firmware/decode-cost`) counts instructions of under QEMU.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec_support;

use std::hint::black_box;

use codec_support::{decode_walk, encode_package};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scomo::dm::codec::Encoding;

/// Rounds of commands in the package; sized so the XML comes to about 5,000 bytes.
const ROUNDS: u32 = 6;

/// The corpus message in both encodings.
const CORPUS: [(&str, Encoding, &[u8]); 2] = [
    (
        "every_element_xml",
        Encoding::Xml,
        include_bytes!("../tests/corpus/every_element.xml"),
    ),
    (
        "every_element_wbxml",
        Encoding::Wbxml,
        include_bytes!("../tests/corpus/every_element.wbxml"),
    ),
];

fn bench(c: &mut Criterion) {
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let mut buf = vec![0u8; 16384];
        let len = encode_package(enc, &mut buf, ROUNDS).unwrap();
        buf.truncate(len);
        let name = format!("{enc:?}").to_lowercase();
        let mut group = c.benchmark_group(format!("codec_{name}_{len}B"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function("decode", |b| {
            b.iter(|| decode_walk(black_box(&buf), enc).unwrap());
        });
        let mut out = vec![0u8; 16384];
        group.bench_function("encode", |b| {
            b.iter(|| encode_package(enc, black_box(&mut out), ROUNDS).unwrap());
        });
        group.finish();
    }
    for (name, enc, bytes) in CORPUS {
        let mut group = c.benchmark_group(format!("corpus_{name}_{}B", bytes.len()));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("decode", |b| {
            b.iter(|| decode_walk(black_box(bytes), enc).unwrap());
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
