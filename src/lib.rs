//! # scomo — the device side of OMA DM software component management
//!
//! `scomo` lets a device take part in OMA DM 1.2 SCOMO: a DM server asks the device to
//! download a software component (pushed inside the DM session as a Large Object, or
//! fetched from a URL), install, activate, deactivate or remove it, and queries the
//! device's software inventory; the device carries the work out and reports each result.
//!
//! The crate is `#![no_std]` and uses no heap. Capacities are const generics or
//! configuration; buffers are lent by the caller.
//!
//! ## Layers
//!
//! | Module | Holds |
//! |---|---|
//! | [`codes`] | the DM status codes and SCOMO result codes (one table each) |
//! | [`tree`] | the management tree: URIs, nodes, properties, ACLs, DM command semantics |
//! | [`mo`] | the management objects: SCOMO, DevInfo, DevDetail, DMAcc |
//! | [`dm`] | the OMA DM protocol: SyncML codecs (XML, WBXML), Package #0, authentication, sessions |
//! | [`platform`] | the traits firmware implements: component store, state store, installer, RNG |
//! | [`ops`] | the operation executor: jobs, journal, outbox, downloads |
//! | [`persist`] | durable records and a ready backend over any NOR flash |
//! | [`drivers`] | the links firmware talks through: the serial framing to a host bridge |
//!
//! The core never touches the network and never reads a clock: it says what to send or
//! fetch and is fed what arrives (the smoltcp model).
//!
//! ## Logging (features `defmt` and `log`)
//!
//! Without either feature the core logs nothing and links no logging code. With `defmt`
//! (on a bare-metal target) or `log` it logs a few points a firmware engineer wants:
//!
//! | Level | When | With |
//! |---|---|---|
//! | info | a DM session starts | its session id, who opened it (Alert 1200 or 1201) |
//! | info | a DM session ends | how ([`dm::session::End`]), messages sent and received, alerts acknowledged, objects committed |
//! | trace | a server message arrives | session id, its length |
//! | debug / warn | a Package #0 is accepted / refused | session id and nonce / why ([`dm::pkg0::Pkg0Error`]) |
//! | info / warn | an Exec becomes a job / is refused | primitive, node, job id / the status code |
//! | info | a job ends | job id, primitive, node, its SCOMO result code |
//! | error | the executor's state record or acknowledgement record cannot be written | the storage error |
//! | debug | the state record is read at boot | jobs, reports and packages it holds |
//!
//! With both features, defmt wins on a bare-metal target (`target_os = "none"`); host
//! builds, which cannot link defmt's global logger, use `log`. defmt's level filter is
//! chosen when the firmware is built (`DEFMT_LOG`, e.g. `DEFMT_LOG=debug`).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod codes;
pub mod dm;
pub mod drivers;
mod log;
pub mod mo;
pub mod ops;
pub mod persist;
pub mod platform;
pub mod tree;

#[cfg(feature = "mock")]
pub mod mock;
