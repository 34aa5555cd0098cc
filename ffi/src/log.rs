//! Optional logging through a C callback.

use core::ffi::{c_char, c_void};
use core::fmt::Write as _;

/// How much a log line matters (`SCOMO_LOG_*`).
pub type scomo_log_level = i32;
/// A failure the agent handled (a refused notification, a store error).
pub const SCOMO_LOG_WARN: scomo_log_level = 1;
/// A milestone: a session started or ended, a fetch, a restart asked for.
pub const SCOMO_LOG_INFO: scomo_log_level = 2;
/// Every action the agent asks for.
pub const SCOMO_LOG_DEBUG: scomo_log_level = 3;

/// Longest log line, in bytes; longer lines are cut.
pub const SCOMO_LOG_LINE_CAP: usize = 159;

/// Where log lines go. Optional: a NULL `emit` logs nothing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_log {
    /// Passed to `emit` as is.
    pub user: *mut c_void,
    /// Receives one NUL-terminated line (valid during the call only) of `level` at most
    /// `max_level`. Must not call the agent.
    pub emit: Option<
        unsafe extern "C" fn(user: *mut c_void, level: scomo_log_level, line: *const c_char),
    >,
    /// The most detailed level passed to `emit` (`SCOMO_LOG_WARN` ... `SCOMO_LOG_DEBUG`).
    pub max_level: scomo_log_level,
}

/// The logger an agent holds (a copy of the caller's table).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logger(pub(crate) scomo_log);

impl Logger {
    /// Formats a line and passes it to the callback when `level` is wanted.
    pub(crate) fn log(&self, level: scomo_log_level, args: core::fmt::Arguments<'_>) {
        let Some(emit) = self.0.emit else { return };
        if level > self.0.max_level {
            return;
        }
        let mut line = Line(heapless::String::new());
        let _ = line.write_fmt(args); // a cut line is still worth logging
        if line.0.push('\0').is_err() {
            return;
        }
        // SAFETY: `emit` is the caller's callback, given a NUL-terminated line that lives
        // until it returns, as its contract in `scomo_log` says.
        unsafe { emit(self.0.user, level, line.0.as_ptr().cast()) }
    }
}

/// A line cut at [`SCOMO_LOG_LINE_CAP`] bytes, with no NUL inside.
struct Line(heapless::String<{ SCOMO_LOG_LINE_CAP + 1 }>);

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars().map(|c| if c == '\0' { '?' } else { c }) {
            if self.0.len() + c.len_utf8() > SCOMO_LOG_LINE_CAP || self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Logs through a [`Logger`] with `format_args!`.
macro_rules! log {
    ($logger:expr, $level:expr, $($arg:tt)*) => {
        $logger.log($level, format_args!($($arg)*))
    };
}
pub(crate) use log;
