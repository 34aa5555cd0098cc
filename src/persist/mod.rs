//! Durable records and a ready persistence backend over any NOR flash.
//!
//! - [`frame`]: how a record is framed — a minicbor body behind a schema version, a length
//!   and a CRC-32 — so that a torn or corrupted record is always rejected, never mis-read.
//! - [`NorStateStore`]: a [`StateStore`](crate::platform::StateStore) over any
//!   [`embedded_storage::nor_flash::NorFlash`]: two banks, records appended to the active one
//!   and compacted into the other, the bank header programmed last as the commit point.
//! - [`NorComponentStore`]: a [`ComponentStore`](crate::platform::ComponentStore) over any
//!   NOR flash: one slot per key, bytes programmed once as they arrive, durable progress
//!   marked one erase page at a time.
//! - [`Partition`]: one flash chip shared by several stores.
//!
//! Both stores take the flash's erased value (`0xFF` or `0x00`) as an argument, need
//! `WRITE_SIZE` and `READ_SIZE` to divide 64, and document their flash layout and their
//! behaviour under power loss on the type.
//!
//! ```
//! use core::cell::RefCell;
//! use scomo::persist::{NorStateStore, Partition};
//! use scomo::platform::{RecordId, StateStore};
//! # use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
//! # struct Ram([u8; 16384]);
//! # impl ErrorType for Ram { type Error = core::convert::Infallible; }
//! # impl ReadNorFlash for Ram {
//! #     const READ_SIZE: usize = 1;
//! #     fn read(&mut self, o: u32, b: &mut [u8]) -> Result<(), Self::Error> {
//! #         b.copy_from_slice(&self.0[o as usize..o as usize + b.len()]); Ok(())
//! #     }
//! #     fn capacity(&self) -> usize { self.0.len() }
//! # }
//! # impl NorFlash for Ram {
//! #     const WRITE_SIZE: usize = 4;
//! #     const ERASE_SIZE: usize = 4096;
//! #     fn erase(&mut self, f: u32, t: u32) -> Result<(), Self::Error> {
//! #         self.0[f as usize..t as usize].fill(0xFF); Ok(())
//! #     }
//! #     fn write(&mut self, o: u32, b: &[u8]) -> Result<(), Self::Error> {
//! #         for (d, s) in self.0[o as usize..].iter_mut().zip(b) { *d &= *s } Ok(())
//! #     }
//! # }
//! let chip = RefCell::new(Ram([0xFF; 16384]));
//! let state = Partition::new(&chip, 0, 8192).unwrap();
//! let mut store = NorStateStore::mount(state, 0xFF).unwrap();
//! store.write(RecordId(1), b"tree snapshot").unwrap();
//! let mut buf = [0u8; 64];
//! assert_eq!(store.read(RecordId(1), &mut buf).unwrap(), Some(13));
//! ```

mod component;
pub mod crc;
pub mod frame;
mod nor;
mod partition;
mod state;

pub use component::{NorComponentStore, NorPackageReader, NorPackageWriter};
pub use nor::NorStoreError;
pub use partition::{Partition, PartitionError};
pub use state::NorStateStore;
