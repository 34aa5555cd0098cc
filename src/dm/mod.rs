//! The OMA DM 1.2 protocol engine: SyncML message model and codecs, Package #0,
//! authentication, and the session engine that runs them.
pub mod alert;
pub mod auth;
pub mod codec;
pub mod pkg0;
pub mod session;
