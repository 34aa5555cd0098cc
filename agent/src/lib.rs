//! The pieces of `scomo-agent` that a Linux-class device reuses: file-backed stores that a
//! killed process cannot corrupt, and an installer that runs a command.

pub mod cli;
pub mod http;
pub mod installer;
pub mod session;
pub mod store;
