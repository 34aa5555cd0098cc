//! Durable records and persistence backends.
