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
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod codes;
pub mod dm;
pub mod drivers;
pub mod mo;
pub mod ops;
pub mod persist;
pub mod platform;
pub mod tree;

#[cfg(feature = "mock")]
pub mod mock;
