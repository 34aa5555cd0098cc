//! The C API of scomo: an OMA DM SCOMO device agent for firmware written in C.
//!
//! The agent lives in memory the caller reserves ([`scomo_agent_storage`], checked for size,
//! alignment and a type tag on every call); the device's storage, installer and randomness
//! are a table of C callbacks ([`scomo_platform`]); network I/O stays with the caller, who
//! polls the agent with the time and carries out the action it returns ([`scomo_action`]:
//! send a DM message, fetch a package, post an install-notify report, wait, restart),
//! feeding back what arrived. Every function returns a [`scomo_result`] with stable numbers.
//!
//! ```text
//! scomo_agent_init(&storage, sizeof storage, &platform, &agent)
//! scomo_agent_configure(agent, &config)               boots: recovers from the stores
//! scomo_agent_notification(agent, pkg0, len)          or scomo_agent_request_session(agent, NULL)
//! loop: scomo_agent_poll(agent, now_ms, &action)
//!   SEND        POST; scomo_agent_dm_answer(agent, body, len, type, hmac, &action) → SEND ...
//!   FETCH       GET;  scomo_agent_fetch_head / _fetch_body ... / _fetch_end
//!   POST_NOTIFY POST; scomo_agent_notify_done
//!   SESSION_ENDED, WAIT, IDLE, RESTART
//! scomo_agent_release(agent)
//! ```
//!
//! The header `include/scomo.h` is generated from this crate by cbindgen and checked in;
//! the guide for C integrators is the crate's `README.md`. Panics never cross into C (see
//! [`boundary`]). Capacities are fixed at build time in [`capacity`].
#![no_std]

#[cfg(not(target_os = "none"))]
extern crate std;

pub mod action;
pub mod api;
pub mod boundary;
pub mod capacity;
pub mod config;
pub mod log;
pub mod package;
pub mod platform;
pub mod result;
pub mod storage;
mod text;

pub use action::*;
pub use api::*;
pub use capacity::*;
pub use config::{
    SCOMO_AUTH_BASIC, SCOMO_AUTH_HMAC, SCOMO_AUTH_MD5, SCOMO_ENCODING_WBXML, SCOMO_ENCODING_XML,
    SCOMO_MIN_MSG_SIZE, scomo_auth, scomo_config, scomo_encoding,
};
pub use log::{
    SCOMO_LOG_DEBUG, SCOMO_LOG_INFO, SCOMO_LOG_LINE_CAP, SCOMO_LOG_WARN, scomo_log, scomo_log_level,
};
pub use package::*;
pub use platform::*;
pub use result::*;
pub use storage::{
    SCOMO_AGENT_STORAGE_ALIGN, SCOMO_AGENT_STORAGE_SIZE, SCOMO_AGENT_STORAGE_WORDS, scomo_agent,
    scomo_agent_storage,
};
