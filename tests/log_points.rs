#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The core's log points through the `log` facade (feature `log`; host builds use it even
//! when `defmt` is on too). The defmt back end is proved on a Cortex-M under QEMU by the
//! firmware's `defmt-log` image.
#![cfg(feature = "log")]

mod ops_common;

use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use ops_common::{Rig, package};
use scomo::codes::StatusCode;
use scomo::dm::auth::Account;
use scomo::dm::pkg0::{self, Pkg0Error, ServedSessions};
use scomo::mock::{CutKind, PowerCut, Script};

const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};

/// The digest's Package #0 vector for version 11 (session 0x1A2B, resynchronisation nonce).
const V11: [u8; 38] = [
    0x9d, 0x0b, 0xb1, 0xde, 0xc8, 0x00, 0x15, 0x4f, 0x6c, 0xc0, 0x89, 0xf3, 0x54, 0xc6, 0x89, 0xa1,
    0x02, 0xd8, 0x00, 0x00, 0x00, 0x1a, 0x2b, 0x0e, 0x63, 0x6f, 0x6d, 0x2e, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x64, 0x6d,
];

/// Keeps every record the core logs.
struct Capture(Mutex<Vec<(Level, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if record.target().starts_with("scomo") {
            let line = record.args().to_string();
            self.0.lock().unwrap().push((record.level(), line));
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

fn take() -> Vec<(Level, String)> {
    std::mem::take(&mut *CAPTURE.0.lock().unwrap())
}

// One test in this file: the logger is global to the process.
#[test]
fn package0_refusals_warn_and_acceptance_logs_the_session_id_and_a_failed_journal_write_is_an_error()
 {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(LevelFilter::Trace);
    let mut served = ServedSessions::<4>::new();

    let mut forged = V11;
    forged[0] ^= 1;
    assert_eq!(
        pkg0::accept(&forged, &SERVER, b"", &mut served),
        Err(Pkg0Error::BadDigest)
    );
    assert_eq!(
        take(),
        [(Level::Warn, "Package #0 refused: BadDigest".to_string())]
    );

    pkg0::accept(&V11, &SERVER, b"", &mut served).unwrap();
    assert_eq!(
        take(),
        [(
            Level::Debug,
            "Package #0 accepted: session 1A2B, digest with the Resync nonce".to_string()
        )]
    );

    assert!(pkg0::accept(&V11, &SERVER, b"", &mut served).is_err());
    assert_eq!(
        take(),
        [(
            Level::Warn,
            "Package #0 refused: AlreadyServed(SessionId(6699))".to_string()
        )]
    );

    // The device's own failure: the state record cannot be written (the flash fails at its
    // next operation), so the Exec's 202 must not be sent; the log says why, at error.
    let mut dev = Rig::<4, 1024>::new(0xFF, Script::default());
    let bytes = package(&[("com.a", "1.0", "A")], 600);
    assert_eq!(dev.push("p1", "pkg-1", &bytes, 300), StatusCode::Ok);
    take();
    let next = dev.chip.borrow().ops() + 1;
    dev.chip.borrow_mut().schedule_cut(PowerCut {
        op: next,
        kind: CutKind::Before,
    });
    assert!(
        dev.try_exec(
            "./SCOMO/Inventory/Delivered/p1/Operations/Install",
            Some("c1")
        )
        .is_err()
    );
    let logged = take();
    assert!(
        logged.iter().any(|(level, line)| *level == Level::Error
            && line.starts_with("state record (")
            && line.contains("not written")),
        "{logged:?}"
    );
}
