//! ARM PrimeCell PL011 UART, polled (the LM3S6965's UART0 on `lm3s6965evb`).

use embedded_io::{ErrorType, Read, Write};

use crate::UartError;
use crate::mmio::Regs;

const DR: usize = 0x000;
const RSR_ECR: usize = 0x004;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCR_H: usize = 0x02C;
const CR: usize = 0x030;
const IMSC: usize = 0x038;

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
const LCR_H_FEN: u32 = 1 << 4;
const LCR_H_WLEN_8: u32 = 0b11 << 5;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;
const DR_FE: u32 = 1 << 8;
const DR_PE: u32 = 1 << 9;
const DR_BE: u32 = 1 << 10;
const DR_OE: u32 = 1 << 11;

/// A PL011 driven by polling: no interrupts, FIFOs on.
pub struct Pl011 {
    regs: Regs,
}

impl Pl011 {
    /// Takes the PL011 at `base` and sets it up for 8N1 at `baud` from a `clock_hz` UART
    /// clock, with both FIFOs on and its interrupts masked.
    ///
    /// QEMU ignores the divisor. It does not ignore the FIFO: with the FIFO off, QEMU 7.2
    /// delivers received bytes about five times slower. Real LM3S6965 silicon also needs the
    /// UART and GPIO port A clocks gated on and PA0/PA1 switched to the UART first; QEMU
    /// needs neither.
    ///
    /// # Safety
    /// `base` must be the address of a PL011 that nothing else in the program drives.
    pub unsafe fn new(base: usize, clock_hz: u32, baud: u32) -> Self {
        // SAFETY: forwarded from this function's contract.
        let regs = unsafe { Regs::new(base) };
        regs.write(CR, 0);
        regs.write(RSR_ECR, 0);
        // Divisor = clock / (16 × baud) in 16.6 fixed point, rounded to nearest.
        let baud = u64::from(baud.max(1));
        let div = (u64::from(clock_hz) * 4 + baud / 2) / baud;
        regs.write(IBRD, (div >> 6) as u32);
        regs.write(FBRD, (div & 0x3f) as u32);
        regs.write(LCR_H, LCR_H_WLEN_8 | LCR_H_FEN);
        regs.write(IMSC, 0);
        regs.write(CR, CR_UARTEN | CR_TXE | CR_RXE);
        Self { regs }
    }

    fn rx_empty(&self) -> bool {
        self.regs.read(FR) & FR_RXFE != 0
    }

    fn tx_full(&self) -> bool {
        self.regs.read(FR) & FR_TXFF != 0
    }
}

/// The error a data register value reports, if any.
fn rx_error(dr: u32) -> Option<UartError> {
    if dr & DR_OE != 0 {
        Some(UartError::Overrun)
    } else if dr & DR_BE != 0 {
        Some(UartError::Break)
    } else if dr & DR_PE != 0 {
        Some(UartError::Parity)
    } else if dr & DR_FE != 0 {
        Some(UartError::Framing)
    } else {
        None
    }
}

impl ErrorType for Pl011 {
    type Error = UartError;
}

impl Read for Pl011 {
    /// Blocks until a byte arrives, then returns what the FIFO holds (up to `buf.len()`).
    /// A byte flagged with a line error ends the read with that error; the bytes read before
    /// it in the same call are lost.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.rx_empty() {}
        let mut n = 0;
        for slot in buf.iter_mut() {
            if self.rx_empty() {
                break;
            }
            let dr = self.regs.read(DR);
            if let Some(e) = rx_error(dr) {
                self.regs.write(RSR_ECR, 0);
                return Err(e);
            }
            *slot = dr as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl Write for Pl011 {
    /// Blocks until the transmit FIFO has room, then queues as many bytes as fit.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.tx_full() {}
        let mut n = 0;
        for &byte in buf {
            if n > 0 && self.tx_full() {
                break;
            }
            self.regs.write(DR, u32::from(byte));
            n += 1;
        }
        Ok(n)
    }

    /// Blocks until the last byte has left the shift register.
    fn flush(&mut self) -> Result<(), UartError> {
        while self.regs.read(FR) & FR_BUSY != 0 {}
        Ok(())
    }
}
