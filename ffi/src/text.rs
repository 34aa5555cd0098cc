//! Strings between Rust and C: NUL-terminated copies for C, checked borrows from C.

use core::ffi::{CStr, c_char};

use crate::result::{SCOMO_RESULT_INVALID_ARGUMENT, SCOMO_RESULT_TOO_LONG, scomo_result};

/// NUL-terminated strings packed in a fixed buffer, for handing to C.
#[derive(Debug)]
pub(crate) struct CText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> CText<N> {
    /// An empty buffer.
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Forgets every string.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `s` and its NUL; returns where it starts, or `None` when it does not fit or
    /// holds a NUL itself (C would see it cut).
    pub(crate) fn push(&mut self, s: &str) -> Option<usize> {
        if s.as_bytes().contains(&0) {
            return None;
        }
        let start = self.len;
        let end = start.checked_add(s.len())?;
        self.buf.get_mut(start..end)?.copy_from_slice(s.as_bytes());
        *self.buf.get_mut(end)? = 0;
        self.len = end + 1;
        Some(start)
    }

    /// The C string that starts at `at` (from [`push`](Self::push)), or NULL for `None`.
    pub(crate) fn ptr(&self, at: Option<usize>) -> *const c_char {
        match at.and_then(|at| self.buf.get(at..self.len)) {
            Some(s) => s.as_ptr().cast(),
            None => core::ptr::null(),
        }
    }
}

/// Borrows a C string as UTF-8: `Ok(None)` for NULL.
///
/// # Errors
/// `SCOMO_RESULT_INVALID_ARGUMENT` when it is not UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn borrow<'a>(p: *const c_char) -> Result<Option<&'a str>, scomo_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated, as the caller promises.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(Some)
        .map_err(|_| SCOMO_RESULT_INVALID_ARGUMENT)
}

/// Copies an optional C string into a fixed-capacity string (`default` for NULL).
///
/// # Errors
/// `SCOMO_RESULT_INVALID_ARGUMENT` (not UTF-8), `SCOMO_RESULT_TOO_LONG` (over `N` bytes).
///
/// # Safety
/// As [`borrow`].
pub(crate) unsafe fn copy<const N: usize>(
    p: *const c_char,
    default: &str,
) -> Result<heapless::String<N>, scomo_result> {
    // SAFETY: as the caller promises.
    let s = unsafe { borrow(p) }?.unwrap_or(default);
    heapless::String::try_from(s).map_err(|_| SCOMO_RESULT_TOO_LONG)
}
