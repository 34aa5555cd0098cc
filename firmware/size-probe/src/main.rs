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
//! - static RAM: 2 x 2 KiB message buffers (one DM message in, one out), as the budget assumes
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use scomo::codes::{ResultCode, ScomoResult, StatusCode};
use scomo::dm::auth::{Account, HmacHeader, verify_hmac, write_hmac_header};
use scomo::dm::pkg0::{self, ServedSessions};

#[cortex_m_rt::entry]
fn main() -> ! {
    static mut RX: [u8; 2048] = [0; 2048];
    static mut TX: [u8; 2048] = [0; 2048];
    let rx: &'static mut [u8; 2048] = RX;
    let tx: &'static mut [u8; 2048] = TX;
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

        let (header, body) = tx.split_at_mut(256);
        if let Ok(value) = write_hmac_header(&account, nonce, body, header) {
            black_box(value.len());
        }
        let (header, body) = rx.split_at(128);
        if let Ok(Ok(parsed)) = core::str::from_utf8(header).map(HmacHeader::parse) {
            black_box(verify_hmac(&parsed, &account, nonce, body).is_ok());
        }
    }
}

/// A panic stops the CPU with an undefined instruction (no message: no formatting code).
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    cortex_m::asm::udf()
}
