//! The links firmware talks through. The core itself never does I/O: these are codecs over
//! the caller's byte streams.
//!
//! - [`Transport`] / [`AsyncTransport`]: the network backend firmware implements, and
//!   [`run`] / [`run_async`], the drivers that run a [`Client`](crate::client::Client) over it.
//! - [`serial`]: the framing a device without a network stack uses to reach HTTP through a
//!   host bridge over a UART.
pub mod serial;
mod transport;

pub use transport::{
    AsyncTransport, Buffers, CONTENT_TYPE_CAP, DmAnswer, FetchSink, HMAC_CAP, NOTIFY_CAP, RunError,
    RunStats, Stop, Transport, run, run_async,
};
