//! The operation executor and what it needs: download descriptors, install-notify reports,
//! resumed downloads.
pub mod dd;
pub mod range;
