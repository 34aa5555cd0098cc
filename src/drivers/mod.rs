//! The links firmware talks through. The core itself never does I/O: these are codecs over
//! the caller's byte streams.
//!
//! - [`serial`]: the framing a device without a network stack uses to reach HTTP through a
//!   host bridge over a UART.
pub mod serial;
