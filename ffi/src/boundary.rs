//! No panic crosses into C.
//!
//! The core is written not to panic (its lints deny `unwrap`, `expect`, `panic` and
//! indexing), and so is this crate. As a second line:
//!
//! - **hosted targets** (Linux and the like, `std` present): every exported function runs
//!   its body inside [`std::panic::catch_unwind`] and returns `SCOMO_RESULT_PANICKED`
//!   instead; the agent is then marked unusable until released. (Since Rust 1.81 an unwind
//!   that reaches an `extern "C"` frame aborts the process, so even a missed guard cannot
//!   unwind into C.) A build with `panic = "abort"` aborts instead.
//! - **bare-metal targets** (`target_os = "none"`): there is no unwinding (`panic =
//!   "abort"` is the targets' only strategy). The crate's panic handler calls
//!   `scomo_panic()`, which the firmware defines and which must not return (reset the
//!   device, or halt).

use crate::result::scomo_result;

/// Runs `f`, turning a panic into `Err(SCOMO_RESULT_PANICKED)` where unwinding exists.
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, scomo_result> {
    #[cfg(not(target_os = "none"))]
    {
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
            .map_err(|_| crate::result::SCOMO_RESULT_PANICKED)
    }
    #[cfg(target_os = "none")]
    {
        Ok(f())
    }
}

/// Runs a body that returns a result code, with [`guard`].
pub(crate) fn guarded(f: impl FnOnce() -> scomo_result) -> scomo_result {
    guard(f).unwrap_or_else(|e| e)
}

/// The panic handler of bare-metal builds. (`scomo_panic` is declared in the header's
/// trailer for every build, so firmware gets its prototype without a define.)
///
/// cbindgen:ignore
#[cfg(target_os = "none")]
mod bare_metal {
    unsafe extern "C" {
        /// Defined by the firmware: called when Rust code panics (a bug); never returns.
        fn scomo_panic() -> !;
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        // SAFETY: the firmware's function, which takes nothing and never returns.
        unsafe { scomo_panic() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{SCOMO_RESULT_OK, SCOMO_RESULT_PANICKED};

    #[test]
    fn a_panic_becomes_scomo_result_panicked_on_hosts() {
        #[allow(clippy::panic)]
        let r = guarded(|| panic!("deliberate"));
        assert_eq!(r, SCOMO_RESULT_PANICKED);
        assert_eq!(guarded(|| SCOMO_RESULT_OK), SCOMO_RESULT_OK);
    }
}
