//! Platform traits implemented by firmware: component store, state store, installer, randomness.
