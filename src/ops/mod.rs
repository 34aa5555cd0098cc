//! The operation executor and what it needs: download descriptors, install-notify reports.
pub mod dd;
