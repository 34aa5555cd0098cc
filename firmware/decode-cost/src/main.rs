//! The decode-cost image: decodes DM messages, and walks them as the session engine does,
//! between calls of a marker function, so that the host can count the instructions each run
//! takes under QEMU (`-d exec,nochain` with one instruction per translation block: one
//! `Trace` line per instruction executed).
//!
//! `cargo xtask test` builds it for mps2-an386 (Cortex-M4F), runs it, and counts the trace
//! lines from each entry of [`mark`] to the next: run `i` is what lies between the `i`-th
//! and the `i+1`-th call. Run 0 does nothing; its count (the marker's call and the loop
//! around the runs) is subtracted from the others. Start-up, the building of the inputs and
//! the report below lie outside every run. No interrupt is enabled, so the counts are the
//! same on every run of the image.
//!
//! The inputs: the largest message of the test corpus, `tests/corpus/every_element.xml`,
//! and its WBXML form `every_element.wbxml` (libwbxml's encoding, with a string table),
//! each decoded alone and decoded and walked; and the codec bench's server package
//! (`benches/codec_support`) in both encodings, built here with 3 and with 6 rounds of
//! commands, so that the cost per extra byte comes out with every fixed cost removed.
//!
//! After the last marker the image prints one line per run,
//! `decode-cost run=I work=W encoding=E bytes=N input=NAME`, checks that each message's two
//! encodings walked to the same tally, and exits 0 (1: a decode failed or the tallies
//! differ; 2: a package did not fit its buffer).
#![no_std]
#![no_main]

#[path = "../../../benches/codec_support/mod.rs"]
mod codec_support;

use core::hint::black_box;

use codec_support::{Tally, decode_walk, encode_package};
use scomo::dm::codec::{Encoding, Message};
use scomo_qemu::{exit, println};

/// The largest message of the test corpus.
static CORPUS_XML: &[u8] = include_bytes!("../../../tests/corpus/every_element.xml");
/// Its WBXML form.
static CORPUS_WBXML: &[u8] = include_bytes!("../../../tests/corpus/every_element.wbxml");

/// Room for one bench package (6 rounds: 5,355 bytes of XML).
const PACKAGE_ROOM: usize = 6144;

/// What a run does with its message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Nothing: the marker's own cost.
    Nothing,
    /// `Message::decode`: the structural check of the whole message and the header.
    Decode,
    /// `Message::decode`, then the walk of every command, item and value.
    DecodeWalk,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Nothing => "nothing",
            Work::Decode => "decode",
            Work::DecodeWalk => "decode+walk",
        }
    }
}

/// One measured run.
#[derive(Clone, Copy)]
struct Run<'a> {
    input: &'static str,
    work: Work,
    encoding: Encoding,
    bytes: &'a [u8],
}

/// Where the host's count of one run ends and the next begins: a function of its own that
/// the optimiser keeps (its address is looked up in the image's symbols).
#[inline(never)]
fn mark() {
    black_box(());
}

/// Does one run's work.
#[inline(never)]
fn work(run: &Run<'_>) -> Result<Tally, scomo::dm::codec::DecodeError> {
    match run.work {
        Work::Nothing => Ok(Tally::default()),
        Work::Decode => Message::decode(run.bytes, run.encoding).map(|m| Tally {
            numbers: m.hdr.msg_id,
            ..Tally::default()
        }),
        Work::DecodeWalk => decode_walk(run.bytes, run.encoding),
    }
}

/// Writes the bench package of `rounds` rounds into `buf`; exits (2) when it does not fit.
fn package(buf: &'static mut [u8], encoding: Encoding, rounds: u32) -> &'static [u8] {
    match encode_package(encoding, buf, rounds) {
        Ok(len) => buf.get(..len).unwrap_or_default(),
        Err(_) => {
            println!("decode-cost: a package of {rounds} rounds does not fit");
            exit(2)
        }
    }
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Xml => "xml",
        Encoding::Wbxml => "wbxml",
    }
}

#[cortex_m_rt::entry]
fn main() -> ! {
    static mut PACKAGES: [[u8; PACKAGE_ROOM]; 4] = [[0; PACKAGE_ROOM]; 4];
    let [small_xml, small_wbxml, large_xml, large_wbxml] = PACKAGES;
    let small_xml = package(small_xml, Encoding::Xml, 3);
    let small_wbxml = package(small_wbxml, Encoding::Wbxml, 3);
    let large_xml = package(large_xml, Encoding::Xml, 6);
    let large_wbxml = package(large_wbxml, Encoding::Wbxml, 6);

    let corpus = "every_element";
    let runs = [
        Run {
            input: "-",
            work: Work::Nothing,
            encoding: Encoding::Xml,
            bytes: &[],
        },
        Run {
            input: corpus,
            work: Work::Decode,
            encoding: Encoding::Xml,
            bytes: CORPUS_XML,
        },
        Run {
            input: corpus,
            work: Work::DecodeWalk,
            encoding: Encoding::Xml,
            bytes: CORPUS_XML,
        },
        Run {
            input: corpus,
            work: Work::Decode,
            encoding: Encoding::Wbxml,
            bytes: CORPUS_WBXML,
        },
        Run {
            input: corpus,
            work: Work::DecodeWalk,
            encoding: Encoding::Wbxml,
            bytes: CORPUS_WBXML,
        },
        Run {
            input: "package-3",
            work: Work::DecodeWalk,
            encoding: Encoding::Xml,
            bytes: small_xml,
        },
        Run {
            input: "package-6",
            work: Work::DecodeWalk,
            encoding: Encoding::Xml,
            bytes: large_xml,
        },
        Run {
            input: "package-3",
            work: Work::DecodeWalk,
            encoding: Encoding::Wbxml,
            bytes: small_wbxml,
        },
        Run {
            input: "package-6",
            work: Work::DecodeWalk,
            encoding: Encoding::Wbxml,
            bytes: large_wbxml,
        },
    ];
    let mut tallies = [Ok(Tally::default()); 9];
    for (run, tally) in runs.iter().zip(tallies.iter_mut()) {
        mark();
        *tally = work(black_box(run));
    }
    mark();

    let mut failed = false;
    for (i, (run, tally)) in runs.iter().zip(&tallies).enumerate() {
        println!(
            "decode-cost run={i} work={} encoding={} bytes={} input={}",
            run.work.name(),
            encoding_name(run.encoding),
            run.bytes.len(),
            run.input
        );
        if let Err(e) = tally {
            println!("decode-cost: run {i} failed to decode: {e:?}");
            failed = true;
        }
    }
    // The two encodings of one message walk to the same tally.
    for (i, (a, ta)) in runs.iter().zip(&tallies).enumerate() {
        for (b, tb) in runs.iter().zip(&tallies).skip(i + 1) {
            let same = a.input == b.input && a.work == b.work && a.work == Work::DecodeWalk;
            if same && ta != tb {
                println!(
                    "decode-cost: {} walks differently in XML and WBXML: {ta:?} / {tb:?}",
                    a.input
                );
                failed = true;
            }
        }
    }
    exit(if failed { 1 } else { 0 })
}
