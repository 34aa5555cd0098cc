//! The handles an installer callback gets: the package to read and the sink to report
//! components to. Both are valid during the callback only.

use core::ffi::{c_char, c_void};

use scomo::platform::{ComponentInfo, ComponentSink, PackageReader};

use crate::boundary::guarded;
use crate::result::{
    SCOMO_RESULT_INVALID_ARGUMENT, SCOMO_RESULT_IO, SCOMO_RESULT_NULL_POINTER, SCOMO_RESULT_OK,
    scomo_result,
};
use crate::text::borrow;

/// A stored package an installer callback reads (opaque; valid during the callback only).
pub struct scomo_package {
    _private: [u8; 0],
}

/// Where an installer callback reports components (opaque; valid during the callback only).
pub struct scomo_component_sink {
    _private: [u8; 0],
}

/// One component a package yields, reported with `scomo_sink_add`. NUL-terminated UTF-8;
/// only `id` is required. The agent copies the strings during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_component {
    /// `ID`: the component's identifier; a component whose id is deployed replaces it.
    pub id: *const c_char,
    /// `Version`, or NULL.
    pub version: *const c_char,
    /// `Name`, or NULL.
    pub name: *const c_char,
    /// `Description`, or NULL.
    pub description: *const c_char,
}

/// Marks a live handle; cleared when the callback returns.
const LIVE: u32 = 0x5343_504b;

/// Reads and seeks a package, whatever reader type the core uses.
trait DynPackage {
    fn read(&mut self, buf: &mut [u8]) -> Option<usize>;
    fn seek(&mut self, to: u64) -> Option<()>;
    fn size(&self) -> u64;
}

impl<R: PackageReader> DynPackage for R {
    fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        embedded_io::Read::read(self, buf).ok()
    }

    fn seek(&mut self, to: u64) -> Option<()> {
        embedded_io::Seek::seek(self, embedded_io::SeekFrom::Start(to))
            .ok()
            .map(|_| ())
    }

    fn size(&self) -> u64 {
        PackageReader::size(self)
    }
}

/// What `scomo_package *` points to.
pub(crate) struct PackageHandle<'x> {
    live: u32,
    reader: &'x mut dyn DynPackage,
}

impl<'x> PackageHandle<'x> {
    pub(crate) fn new<R: PackageReader>(reader: &'x mut R) -> Self {
        Self { live: LIVE, reader }
    }

    pub(crate) fn as_c(&mut self) -> *mut scomo_package {
        (self as *mut Self).cast()
    }
}

impl Drop for PackageHandle<'_> {
    fn drop(&mut self) {
        self.live = 0;
    }
}

/// What `scomo_component_sink *` points to.
pub(crate) struct SinkHandle<'x> {
    live: u32,
    sink: &'x mut dyn ComponentSink,
}

impl<'x> SinkHandle<'x> {
    pub(crate) fn new(sink: &'x mut dyn ComponentSink) -> Self {
        Self { live: LIVE, sink }
    }

    pub(crate) fn as_c(&mut self) -> *mut scomo_component_sink {
        (self as *mut Self).cast()
    }
}

impl Drop for SinkHandle<'_> {
    fn drop(&mut self) {
        self.live = 0;
    }
}

/// The live handle behind a C pointer.
///
/// # Safety
/// `p` is NULL or a handle the agent passed to the running callback.
unsafe fn handle<'a, T>(
    p: *mut c_void,
    live: impl Fn(&T) -> u32,
) -> Result<&'a mut T, scomo_result> {
    let p = p.cast::<T>();
    if p.is_null() {
        return Err(SCOMO_RESULT_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(SCOMO_RESULT_INVALID_ARGUMENT);
    }
    // SAFETY: non-null and aligned; the caller promises it is the live handle.
    let h = unsafe { &mut *p };
    if live(h) == LIVE {
        Ok(h)
    } else {
        Err(SCOMO_RESULT_INVALID_ARGUMENT)
    }
}

/// The size of `package` in bytes: all of it (it is complete when an installer sees it).
///
/// Returns `SCOMO_RESULT_NULL_POINTER` for a NULL argument, `SCOMO_RESULT_INVALID_ARGUMENT`
/// for a handle that is not live.
///
/// # Safety
/// `package` is the handle given to the running installer callback (or NULL); `size` is
/// writable (or NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_package_size(
    package: *mut scomo_package,
    size: *mut u64,
) -> scomo_result {
    guarded(|| {
        // SAFETY: as the caller promises.
        let h = match unsafe { handle::<PackageHandle<'_>>(package.cast(), |h| h.live) } {
            Ok(h) => h,
            Err(e) => return e,
        };
        if size.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        // SAFETY: non-null and writable, as the caller promises.
        unsafe { size.write(h.reader.size()) };
        SCOMO_RESULT_OK
    })
}

/// Reads up to `cap` bytes of `package` at the current position (0 at the start of the
/// callback) into `buf`, and sets `*read` (0 at the end).
///
/// Returns `SCOMO_RESULT_IO` when the store fails, `SCOMO_RESULT_NULL_POINTER` for a NULL
/// argument (`buf` may be NULL when `cap` is 0).
///
/// # Safety
/// `package` as for [`scomo_package_size`]; `buf` has `cap` writable bytes; `read` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_package_read(
    package: *mut scomo_package,
    buf: *mut u8,
    cap: usize,
    read: *mut usize,
) -> scomo_result {
    guarded(|| {
        // SAFETY: as the caller promises.
        let h = match unsafe { handle::<PackageHandle<'_>>(package.cast(), |h| h.live) } {
            Ok(h) => h,
            Err(e) => return e,
        };
        if read.is_null() || (buf.is_null() && cap > 0) {
            return SCOMO_RESULT_NULL_POINTER;
        }
        let n = if cap == 0 {
            Some(0)
        } else {
            // SAFETY: `cap` writable bytes at a non-null `buf`, as the caller promises.
            let buf = unsafe { core::slice::from_raw_parts_mut(buf, cap) };
            h.reader.read(buf)
        };
        match n {
            Some(n) => {
                // SAFETY: non-null and writable, as the caller promises.
                unsafe { read.write(n) };
                SCOMO_RESULT_OK
            }
            None => SCOMO_RESULT_IO,
        }
    })
}

/// Moves the read position of `package` to `offset` bytes from its start.
///
/// # Safety
/// `package` as for [`scomo_package_size`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_package_seek(
    package: *mut scomo_package,
    offset: u64,
) -> scomo_result {
    guarded(|| {
        // SAFETY: as the caller promises.
        match unsafe { handle::<PackageHandle<'_>>(package.cast(), |h| h.live) } {
            Ok(h) => match h.reader.seek(offset) {
                Some(()) => SCOMO_RESULT_OK,
                None => SCOMO_RESULT_IO,
            },
            Err(e) => e,
        }
    })
}

/// Reports one component the package being installed yields (in the install callback that
/// answers `SCOMO_OUTCOME_DONE`). The agent copies what it needs; when its capacity is full
/// the component is still installed but not listed (the agent reports the overflow).
///
/// Returns `SCOMO_RESULT_INVALID_ARGUMENT` when a string is not UTF-8 or the sink is not
/// live, `SCOMO_RESULT_NULL_POINTER` for a NULL sink, component or id.
///
/// # Safety
/// `sink` is the handle given to the running install callback (or NULL); `component` is
/// readable and its strings NUL-terminated (or NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_sink_add(
    sink: *mut scomo_component_sink,
    component: *const scomo_component,
) -> scomo_result {
    guarded(|| {
        // SAFETY: as the caller promises.
        let h = match unsafe { handle::<SinkHandle<'_>>(sink.cast(), |h| h.live) } {
            Ok(h) => h,
            Err(e) => return e,
        };
        if component.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        // SAFETY: non-null and readable, as the caller promises.
        let c = unsafe { component.read() };
        // SAFETY: NULL or NUL-terminated strings that live during this call.
        let strings = unsafe {
            (|| {
                Ok::<_, scomo_result>((
                    borrow(c.id)?,
                    borrow(c.version)?,
                    borrow(c.name)?,
                    borrow(c.description)?,
                ))
            })()
        };
        match strings {
            Ok((Some(id), version, name, description)) => {
                h.sink.component(&ComponentInfo {
                    id,
                    version,
                    name,
                    description,
                });
                SCOMO_RESULT_OK
            }
            Ok((None, ..)) => SCOMO_RESULT_NULL_POINTER,
            Err(e) => e,
        }
    })
}
