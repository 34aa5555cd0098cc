//! Receive errors reported by the UARTs.

use embedded_io::ErrorKind;

/// A receive error flagged by the UART hardware. QEMU only ever reports overruns and breaks;
/// parity and framing errors come from real lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// A byte arrived while the receive buffer was full; at least one byte was lost.
    Overrun,
    /// The line was held low for longer than a character (a break condition).
    Break,
    /// A character's parity bit was wrong.
    Parity,
    /// A character had no valid stop bit.
    Framing,
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self {
            UartError::Overrun => "UART receive overrun",
            UartError::Break => "UART break condition",
            UartError::Parity => "UART parity error",
            UartError::Framing => "UART framing error",
        };
        f.write_str(what)
    }
}

impl core::error::Error for UartError {}

impl embedded_io::Error for UartError {
    fn kind(&self) -> ErrorKind {
        match self {
            UartError::Parity | UartError::Framing => ErrorKind::InvalidData,
            UartError::Overrun | UartError::Break => ErrorKind::Other,
        }
    }
}
