//! The capacities of this build: fixed here, in this crate only, and visible to C as
//! `SCOMO_*` macros. Changing one changes `SCOMO_AGENT_STORAGE_SIZE` and the header.

use scomo::client::Client;

// Each capacity has two values: the default, and the `small` feature's (for a
// microcontroller with 64 KiB of RAM). The header carries both, chosen by `SCOMO_SMALL`:
// define it when the library was built with `--features small`.

/// Bytes of the buffer the agent writes its DM messages into (the largest message it
/// sends; longer replies are split over several messages).
#[cfg(not(feature = "small"))]
pub const SCOMO_SEND_CAP: usize = 4096;
/// Bytes of the buffer the agent writes its DM messages into (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_SEND_CAP: usize = 2048;
/// Bytes of the session engine's working memory (undo log of an Atomic, Get values).
#[cfg(not(feature = "small"))]
pub const SCOMO_WORK_CAP: usize = 2048;
/// Bytes of the session engine's working memory (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_WORK_CAP: usize = 1024;
/// Bytes of the executor's scratch buffer: it holds the state record (tree, jobs, results)
/// while it is encoded or decoded, so the state store's `max_record_len` need not exceed it.
#[cfg(not(feature = "small"))]
pub const SCOMO_SCRATCH_CAP: usize = 8192;
/// Bytes of the executor's scratch buffer (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_SCRATCH_CAP: usize = 1536;
/// Longest server URI, in bytes.
#[cfg(not(feature = "small"))]
pub const SCOMO_URI_CAP: usize = 256;
/// Longest server URI, in bytes (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_URI_CAP: usize = 128;
/// Longest device id, server id, user name, manufacturer or model, in bytes.
#[cfg(not(feature = "small"))]
pub const SCOMO_NAME_CAP: usize = 128;
/// Longest device id, server id, user name, manufacturer or model (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_NAME_CAP: usize = 64;
/// Longest password, in bytes.
pub const SCOMO_SECRET_CAP: usize = 64;
/// Longest `PkgID` in a component request (`scomo_agent_request_session`), in bytes.
#[cfg(not(feature = "small"))]
pub const SCOMO_REQUEST_CAP: usize = 128;
/// Longest `PkgID` in a component request (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_REQUEST_CAP: usize = 64;
/// Longest string the agent hands to a callback (a component id, a package id), in bytes
/// without the terminating NUL; a longer one fails the operation.
pub const SCOMO_TEXT_CAP: usize = 255;

/// Software download entries (`./SCOMO/Download/<X>`) the tree holds.
#[cfg(not(feature = "small"))]
pub const SCOMO_DOWNLOADS: usize = 2;
/// Software download entries the tree holds (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_DOWNLOADS: usize = 1;
/// Delivered packages (`./SCOMO/Inventory/Delivered/<X>`) the tree holds.
#[cfg(not(feature = "small"))]
pub const SCOMO_DELIVERED: usize = 4;
/// Delivered packages the tree holds (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_DELIVERED: usize = 2;
/// Deployed components (`./SCOMO/Inventory/Deployed/<X>`) the tree holds.
#[cfg(not(feature = "small"))]
pub const SCOMO_DEPLOYED: usize = 8;
/// Deployed components the tree holds (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_DEPLOYED: usize = 4;
/// Bytes of ACL text the tree holds.
#[cfg(not(feature = "small"))]
pub const SCOMO_ACL_BYTES: usize = 384;
/// Bytes of ACL text the tree holds (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_ACL_BYTES: usize = 256;
/// Operations queued at once (a further Exec is answered 420).
#[cfg(not(feature = "small"))]
pub const SCOMO_JOBS: usize = 4;
/// Operations queued at once (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_JOBS: usize = 2;
/// Results waiting for the server's acknowledgement.
#[cfg(not(feature = "small"))]
pub const SCOMO_OUTBOX: usize = 4;
/// Results waiting for the server's acknowledgement (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_OUTBOX: usize = 2;
/// Packages held in the component store at once.
#[cfg(not(feature = "small"))]
pub const SCOMO_PACKAGES: usize = 4;
/// Packages held in the component store at once (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_PACKAGES: usize = 2;

/// The client with this build's capacities; strings live in the agent's storage.
///
/// cbindgen:ignore
pub(crate) type FfiClient = Client<
    'static,
    SCOMO_DOWNLOADS,
    SCOMO_DELIVERED,
    SCOMO_DEPLOYED,
    SCOMO_ACL_BYTES,
    SCOMO_JOBS,
    SCOMO_OUTBOX,
    SCOMO_PACKAGES,
>;
