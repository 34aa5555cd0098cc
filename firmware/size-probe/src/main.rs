//! The size image that `cargo xtask size` measures (opt-level "z", LTO, one codegen unit,
//! panic abort). It calls the core's main paths on inputs hidden from the optimiser
//! (`core::hint::black_box`), so nothing is folded away, and it has no console, no logging and
//! no formatting of its own: what it links is the core plus cortex-m-rt's startup.
//!
//! The lines below that start with `- ` are printed by the size report as what the image
//! links; keep them true when the image changes:
//!
//! - scomo::codes: StatusCode, ResultCode and ScomoResult lookups from wire numbers
//! - scomo::dm::pkg0: accept (parse, MD5 digest check, served-session ring of 4)
//! - scomo::dm::auth: write_hmac_header, HmacHeader::parse, verify_hmac (MD5, base64)
//! - scomo::tree + scomo::mo: a Tree<2, 2, 8, 384> (DevInfo, DevDetail, DMAcc, SCOMO) in static
//!   RAM, answering Get, Add, Replace, Delete and Exec (URI parsing, ACLs)
//! - scomo::ops::dd: Descriptor::parse (xmlparser); scomo::ops::range: resume
//! - scomo::drivers::serial: exchange (request out, answer head and body in, CRC-16), over a
//!   stub stream standing in for the UART driver (a few bytes), with a 128-byte head and a
//!   256-byte chunk buffer on the stack
//! - static RAM: 2 x 2 KiB message buffers (one DM message in, one out), as the budget assumes
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use scomo::codes::{ResultCode, ScomoResult, StatusCode};
use scomo::dm::auth::{Account, HmacHeader, verify_hmac, write_hmac_header};
use scomo::dm::pkg0::{self, ServedSessions};
use scomo::drivers::serial::{self, Request};
use scomo::mo::{DevDetail, DevInfo, DmAcc, MoVersion, Scomo};
use scomo::ops::{dd::Descriptor, range};
use scomo::tree::{ExecRequest, Item, Tree};

/// Stands in for the UART: reads bytes the optimiser cannot predict, swallows writes.
struct Wire;

impl embedded_io::ErrorType for Wire {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        for b in buf.iter_mut() {
            *b = black_box(0);
        }
        Ok(black_box(buf.len()).min(buf.len()))
    }
}

impl embedded_io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        black_box(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cortex_m_rt::entry]
fn main() -> ! {
    static mut RX: [u8; 2048] = [0; 2048];
    static mut TX: [u8; 2048] = [0; 2048];
    static mut TREE: Option<Tree<2, 2, 8, 384>> = None;
    let rx: &'static mut [u8; 2048] = RX;
    let tx: &'static mut [u8; 2048] = TX;
    let Ok(dmacc) = DmAcc::new(black_box("acc")) else {
        cortex_m::asm::udf()
    };
    let made = Tree::new(
        DevInfo::new(),
        DevDetail::new(),
        dmacc,
        Scomo::new(MoVersion::V1_0),
        black_box("./SCOMO"),
    );
    let Ok(tree) = made.map(|t| TREE.insert(t)) else {
        cortex_m::asm::udf()
    };
    let mut served = ServedSessions::<4>::new();
    loop {
        let rx = black_box(&mut *rx);
        let tx = black_box(&mut *tx);
        let account = black_box(Account {
            name: "device",
            password: b"secret",
        });
        let nonce: &[u8] = black_box(b"nonce");
        let number = u16::from_be_bytes([
            rx.first().copied().unwrap_or(0),
            rx.get(1).copied().unwrap_or(0),
        ]);
        let status = StatusCode::from_code(number).map(StatusCode::is_success);
        let result = ResultCode::from_code(number).map(ResultCode::code);
        let scomo = ScomoResult::from_code(number).map(ScomoResult::is_success);
        black_box((status, result, scomo));

        black_box(pkg0::accept(rx, &account, nonce, &mut served).is_ok());

        // The tree answers the server's commands.
        let server = black_box("srv");
        let uri = black_box("./SCOMO/Download/Pkg1/PkgURL");
        let (value, out) = tx.split_at_mut(512);
        black_box(tree.add(server, uri, Item::new(value), None).is_ok());
        black_box(
            tree.replace(server, uri, Item::chr(black_box("x")), None)
                .is_ok(),
        );
        black_box(tree.get(server, uri, out).map(|got| got.len).is_ok());
        let mut handler = |request: &ExecRequest<'_>| {
            black_box(request);
            black_box(StatusCode::Accepted)
        };
        black_box(tree.exec(server, uri, black_box(None), Some(value), &mut handler));
        black_box(tree.delete(server, uri, None).is_ok());

        // A download descriptor, and the resume rule for a ranged answer.
        if let Ok(dd) = Descriptor::parse(rx) {
            black_box((dd.size, dd.object_uri.raw().len()));
        }
        let resumed = range::resume(black_box(4096), black_box(206), black_box(Some("bytes")));
        black_box(resumed.is_ok());

        let (header, body) = tx.split_at_mut(256);
        if let Ok(value) = write_hmac_header(&account, nonce, body, header) {
            black_box(value.len());
        }
        let (header, body) = rx.split_at(128);
        if let Ok(Ok(parsed)) = core::str::from_utf8(header).map(HmacHeader::parse) {
            black_box(verify_hmac(&parsed, &account, nonce, body).is_ok());
        }

        // Send the outgoing DM message, receive the reply into the incoming buffer.
        let (mut head, mut scratch) = ([0u8; 128], [0u8; 256]);
        let request = Request::PostDm {
            url: black_box("http://dm.example/dm"),
            content_type: black_box("application/vnd.syncml.dm+wbxml"),
            hmac: black_box(None),
        };
        let mut sink: &mut [u8] = &mut rx[..];
        let answer = serial::exchange(
            &mut Wire,
            &request,
            &tx[..],
            &mut head,
            &mut scratch,
            &mut sink,
        );
        black_box(answer.is_ok());
    }
}

/// A panic stops the CPU with an undefined instruction (no message: no formatting code).
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    cortex_m::asm::udf()
}
