//! The crate's log points: `trace!`, `debug!`, `info!`, `warn!` and `error!`, for the
//! crate's own use (the smoltcp `net_log!` model).
//!
//! - With feature `defmt` on a bare-metal target (`target_os = "none"`) they are
//!   `defmt`'s macros: the firmware links a global logger (`defmt-rtt`,
//!   `defmt-semihosting`, ...) and filters with `DEFMT_LOG` at build time.
//! - Otherwise, with feature `log`, they are the `log` facade's macros (so with both
//!   features, defmt wins on the microcontroller; host builds, which cannot link defmt's
//!   logger, use `log`).
//! - With neither, they expand to nothing but a borrow of their arguments (type-checked,
//!   no unused warnings, no code).
//!
//! One format string serves both back ends, so each call keeps to what both read: `{}`
//! for integers, `bool` and `&str` (both `defmt::Format` and `Display`), and `{:?}` for
//! the crate's enums and `Option`s (both `defmt::Format` and `Debug`). No heap, no panics:
//! the arguments are borrowed, never formatted into a buffer here.

/// One log point at `$level`, sent to the back end chosen above.
macro_rules! log_point {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(all(feature = "defmt", target_os = "none"))]
        ::defmt::$level!($fmt $(, $arg)*);
        #[cfg(all(feature = "log", not(all(feature = "defmt", target_os = "none"))))]
        ::log::$level!($fmt $(, $arg)*);
        #[cfg(not(any(
            all(feature = "defmt", target_os = "none"),
            feature = "log"
        )))]
        let _ = ($(&$arg,)*);
    }};
}

/// Something only a developer tracing the code wants.
macro_rules! trace {
    ($($t:tt)*) => { $crate::log::log_point!(trace, $($t)*) };
}

/// A step worth following when something goes wrong later.
macro_rules! debug {
    ($($t:tt)*) => { $crate::log::log_point!(debug, $($t)*) };
}

/// A milestone: a session starts or ends, a job is accepted or finishes.
macro_rules! info {
    ($($t:tt)*) => { $crate::log::log_point!(info, $($t)*) };
}

/// Outside input refused, or a session that ended early. (Defined as `warn_` and exported
/// as `warn`: a `macro_rules!` named `warn` clashes with the built-in attribute.)
macro_rules! warn_ {
    ($($t:tt)*) => { $crate::log::log_point!(warn, $($t)*) };
}

/// The device's own failure (a store that cannot be written).
macro_rules! error {
    ($($t:tt)*) => { $crate::log::log_point!(error, $($t)*) };
}

pub(crate) use {debug, error, info, log_point, trace, warn_ as warn};
