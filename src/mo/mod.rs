//! Management objects: SCOMO, DevInfo, DevDetail and DMAcc.
//!
//! Each object is a typed Rust struct with fixed capacities, described to the tree by one
//! static node table ([`crate::tree::NodeSpec`]). The tree routes a DM command to the
//! object mounted at the URI's root; the device (the operation executor, the session
//! engine) reads and changes the objects through their typed API.
//!
//! Every object encodes to and decodes from CBOR ([`minicbor`]) over a caller's buffer for
//! the persistence layer; decoding corrupt bytes is an error, never a panic.

mod devdetail;
mod devinfo;
mod dmacc;
mod fields;
#[cfg(feature = "serde")]
pub mod inventory;
mod scomo;
mod values;

pub use devdetail::{DEVDETAIL_SCHEMA, DevDetail, DevDetailLeaf};
pub use devinfo::{DEVINFO_SCHEMA, DevInfo, DevInfoLeaf};
pub use dmacc::{APP_AUTHS, AppAuth, AppAuthLeaf, AuthLevel, DMACC_SCHEMA, DmAcc, DmAccLeaf};
pub use fields::Fields;
pub use scomo::{
    DELIVERED_BYTES, DEPLOYED_BYTES, DOWNLOAD_BYTES, DeliveredEntry, DeliveredLeaf, DeployedEntry,
    DeployedLeaf, DownloadEntry, DownloadLeaf, EntryKind, EntryUri, MoVersion, NAME_CAP, NodeName,
    Primitive, SCOMO_SCHEMA, Scomo, ScomoOp, Target,
};
pub use values::{DeliveredState, DeliveredStatus, DeployedState, DeployedStatus, DownloadStatus};

use minicbor::encode::write::EndOfSlice;
use minicbor::{Encoder, encode};

use crate::codes::StatusCode;

/// An enum of an object's leaves whose discriminants are their rows in the object's table
/// (the table holds the names; a unit test checks the two agree).
macro_rules! leaf_enum {
    ($($table:tt)*) => {
        crate::codes::number_table! { u8, row, from_row, "The leaf's row in its object's table."; $($table)* }
    };
}
pub(crate) use leaf_enum;

/// Checks a dynamic node's name: not empty, no `/` or `?`, not `.` or `..`, at most
/// [`NAME_CAP`] bytes (else 414).
pub(crate) fn node_name(name: &str) -> Result<NodeName, StatusCode> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '?']) {
        return Err(StatusCode::BadRequest);
    }
    NodeName::try_from(name).map_err(|_| StatusCode::UriTooLong)
}

/// Runs `f` with an encoder over `buf`; the number of bytes written, or `None` when they
/// do not fit.
pub(crate) fn encode_into(
    buf: &mut [u8],
    f: impl FnOnce(&mut Encoder<&mut [u8]>) -> Result<(), encode::Error<EndOfSlice>>,
) -> Option<usize> {
    let total = buf.len();
    let mut e = Encoder::new(buf);
    f(&mut e).ok()?;
    Some(total - e.into_writer().len())
}
