//! Platform traits implemented by firmware: component store, state store, installer, randomness.
//!
//! The core calls these traits inline, in short synchronous calls, from inside `poll`; it never
//! holds a borrow of a backend between two calls of `poll`. Each trait follows the grammar of
//! `embedded-io` and `embedded-storage`:
//!
//! - an associated `Error` whose `kind()` returns a small `#[non_exhaustive]` `Copy` kind that
//!   the core branches on, so the concrete backend error never leaks into the core's types;
//! - byte streams are [`embedded_io::Read`] / [`embedded_io::Write`];
//! - forwarding implementations for `&mut T`;
//! - every method that touches durable storage states, under **Power loss**, what survives a
//!   power cut in the middle of it.
//!
//! | Trait | Holds | Ready implementation |
//! |---|---|---|
//! | [`ComponentStore`] | delivery packages (the bytes a server pushes or the device fetches) | `NorComponentStore` in [`crate::persist`] |
//! | [`StateStore`] | small durable records: tree snapshot, nonces, jobs, journal, outbox | `NorStateStore` in [`crate::persist`] |
//! | [`Installer`] | installs, activates, deactivates and removes components | firmware-specific (a test double lives in `mock`) |
//! | [`Rng`] | random bytes for nonces and session identifiers | firmware-specific (a test double lives in `mock`) |
//!
//! Power-cut discipline (DESIGN principle 4): the core journals its intent in the
//! [`StateStore`] before it acts, so after a reboot any call below may be made **again** with
//! the same arguments. Stores make that safe by being atomic per record / per page; the
//! [`Installer`] makes it safe by being idempotent.

mod component;
mod installer;
mod rng;
mod state;
mod storage;

pub use component::{
    ComponentStore, PackageInfo, PackageKey, PackageReader, PackageState, PackageWriter,
};
pub use installer::{
    ComponentInfo, ComponentSink, Consent, ConsentRequest, InstallRequest, Installer,
    InstallerError, InstallerErrorKind, InstallerOp, Outcome, Verdict,
};
pub use rng::{Rng, RngError, RngErrorKind};
pub use state::{RecordId, StateStore};
pub use storage::{StorageError, StorageErrorKind};
