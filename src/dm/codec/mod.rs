//! SyncML DM message model and its XML and WBXML codecs.
