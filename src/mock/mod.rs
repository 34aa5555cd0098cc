//! In-memory test doubles of the platform traits (feature `mock`).
//!
//! - [`MockFlash`]: a NOR flash with real programming rules, counters, and power cuts that
//!   can fall before, inside or after any operation; the persistence backends in
//!   [`crate::persist`] run on it unchanged, and a [`Partition`](crate::persist::Partition)
//!   shares one between several stores.
//! - [`MockInstaller`]: an [`Installer`](crate::platform::Installer) that keeps its
//!   inventory in a [`StateStore`](crate::platform::StateStore) (so on mock flash too), with
//!   scripted answers; [`write_package`] builds the packages it understands.
//! - [`MockRng`]: a deterministic [`Rng`](crate::platform::Rng).

mod flash;
mod installer;
mod rng;

pub use flash::{Counters, CutKind, MockFlash, MockFlashError, PowerCut};
pub use installer::{Calls, Installed, MockInstaller, PACKAGE_MAGIC, Script, write_package};
pub use rng::MockRng;
