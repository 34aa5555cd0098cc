//! ARM CMSDK APB UART, polled (UART0 of the MPS2 boards `mps2-an385` and `mps2-an386`).
//! One-byte transmit and receive buffers, no FIFO.

use embedded_io::{ErrorType, Read, Write};

use crate::UartError;
use crate::mmio::Regs;

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const STATE_TX_OVERRUN: u32 = 1 << 2;
const STATE_RX_OVERRUN: u32 = 1 << 3;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// The smallest divisor the UART accepts (QEMU logs a guest error below it).
const MIN_BAUDDIV: u32 = 16;

/// A CMSDK APB UART driven by polling, interrupts off.
pub struct CmsdkUart {
    regs: Regs,
}

impl CmsdkUart {
    /// Takes the UART at `base` and enables it at `baud` from a `pclk_hz` bus clock (the line
    /// is always 8N1).
    ///
    /// # Safety
    /// `base` must be the address of a CMSDK APB UART that nothing else in the program drives.
    pub unsafe fn new(base: usize, pclk_hz: u32, baud: u32) -> Self {
        // SAFETY: forwarded from this function's contract.
        let regs = unsafe { Regs::new(base) };
        regs.write(CTRL, 0);
        regs.write(BAUDDIV, (pclk_hz / baud.max(1)).max(MIN_BAUDDIV));
        regs.write(STATE, STATE_TX_OVERRUN | STATE_RX_OVERRUN); // write 1 to clear
        regs.write(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        // QEMU 7.2 polls its character backend for input again only after a read of DATA;
        // enabling the receiver does not. Without this read the first received byte can wait
        // for QEMU's one-second main-loop timeout.
        let _ = regs.read(DATA);
        Self { regs }
    }
}

impl ErrorType for CmsdkUart {
    type Error = UartError;
}

impl Read for CmsdkUart {
    /// Blocks until a byte arrives, then returns the bytes that keep arriving without waiting
    /// (up to `buf.len()`). An overrun ends the read with an error.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut state = self.regs.read(STATE);
        while state & STATE_RX_FULL == 0 {
            state = self.regs.read(STATE);
        }
        let mut n = 0;
        for slot in buf.iter_mut() {
            if state & STATE_RX_OVERRUN != 0 {
                self.regs.write(STATE, STATE_RX_OVERRUN);
                return Err(UartError::Overrun);
            }
            if state & STATE_RX_FULL == 0 {
                break;
            }
            *slot = self.regs.read(DATA) as u8;
            n += 1;
            state = self.regs.read(STATE);
        }
        Ok(n)
    }
}

impl Write for CmsdkUart {
    /// Blocks until the transmit buffer is free, then sends bytes while it stays free.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.regs.read(STATE) & STATE_TX_FULL != 0 {}
        let mut n = 0;
        for &byte in buf {
            if n > 0 && self.regs.read(STATE) & STATE_TX_FULL != 0 {
                break;
            }
            self.regs.write(DATA, u32::from(byte));
            n += 1;
        }
        Ok(n)
    }

    /// Blocks until the transmit buffer is empty.
    fn flush(&mut self) -> Result<(), UartError> {
        while self.regs.read(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}
