//! In-memory test doubles of the platform traits (feature `mock`).
