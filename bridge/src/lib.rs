//! The host side of the firmware's serial line.
//!
//! [`qemu::run`] starts a firmware image under QEMU with its UART0 connected to a TCP socket
//! this process listens on, hands the connected stream to a server function, and waits for
//! the firmware's exit code with a deadline: a hang kills QEMU and reports exit code 124.
//! The listener is bound to `127.0.0.1:0` *before* QEMU starts and QEMU connects as the
//! client (`-chardev socket,...,nodelay=on`), so there is no fixed port, no race with
//! parallel runs, and no byte is lost before the host is ready.
//!
//! [`serve::serve`] is that server function for the serial framing of
//! [`scomo::drivers::serial`]: it reads the device's requests and answers each through a
//! [`Backend`] — the HTTP side. [`TestBackend`] answers from a fixed script (echoes and
//! generated files); [`HttpBackend`] forwards them to a real HTTP server (the DM server, the
//! download server), and [`seed_flows::SeedFlows`] is the backend of the firmware's seed
//! flows: it runs the DM test server, forwards to it, and takes the device through the
//! flows round by round, checking what the server received.

pub mod backend;
pub mod http;
pub mod qemu;
pub mod seed_flows;
pub mod serve;
pub mod test_backend;

pub use backend::{Backend, Reply};
pub use http::HttpBackend;
pub use test_backend::TestBackend;
