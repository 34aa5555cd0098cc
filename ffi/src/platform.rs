//! The platform table: C callbacks for the component store, the state store, the installer
//! and randomness, and the adapters that make them the core's platform traits.
//!
//! Every callback takes the table's `void *user` first and returns a [`scomo_result`]
//! (`SCOMO_RESULT_OK` or an error code); what it produces goes through out-parameters. The
//! agent calls them inline, from inside the API call that needs them, on the caller's thread;
//! a callback must not call the same agent (that call fails with `SCOMO_RESULT_BUSY`).
//!
//! A callback that fails, or breaks its contract (reads more than asked, reports a durable
//! offset past what was written, lists record ids out of order), is handled like a flash
//! failure: the operation fails with a storage error, the agent stays consistent.

use core::ffi::{c_char, c_void};

use scomo::ops::MAX_KEYS;
use scomo::platform::{
    ComponentSink, ComponentStore, Consent, ConsentRequest, InstallRequest, Installer,
    InstallerErrorKind, InstallerOp, Outcome, PackageInfo, PackageKey, PackageReader, PackageState,
    PackageWriter, RecordId, Rng, RngErrorKind, StateStore, StorageError, StorageErrorKind,
    Verdict,
};

use crate::capacity::SCOMO_TEXT_CAP;
use crate::log::scomo_log;
use crate::package::{PackageHandle, SinkHandle, scomo_component_sink, scomo_package};
use crate::result::{
    SCOMO_RESULT_NOT_FOUND, SCOMO_RESULT_OK, scomo_result, to_installer, to_storage,
};
use crate::text::CText;

/// What a component-store key holds (`SCOMO_PACKAGE_*`).
pub type scomo_package_state = i32;
/// The key holds nothing.
pub const SCOMO_PACKAGE_NONE: scomo_package_state = 0;
/// A package is being written (a download or a Large Object in progress).
pub const SCOMO_PACKAGE_PARTIAL: scomo_package_state = 1;
/// A package is complete: every byte is stored.
pub const SCOMO_PACKAGE_COMPLETE: scomo_package_state = 2;

/// What a component-store key holds, as `inspect` and `resume` report it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct scomo_package_info {
    /// `SCOMO_PACKAGE_NONE`, `_PARTIAL` or `_COMPLETE`.
    pub state: scomo_package_state,
    /// The size given to `begin`: the most the package may hold.
    pub declared_size: u64,
    /// Bytes written: for a complete package its length; for `resume`, where the next
    /// write goes.
    pub len: u64,
    /// Bytes that survive a power cut (a whole number of the store's durability unit, at
    /// most `len`); for a complete package equal to `len`.
    pub durable_len: u64,
}

/// The component store: where delivery packages (pushed Large Objects, downloads) are
/// written as they arrive and read back to be installed. Keys are `0 .. slots - 1`.
///
/// # Power loss
///
/// A package is written in order from offset 0. The store makes its bytes durable in whole
/// units (an erase page on flash, an `fsync` on a file) and reports the durable length after
/// each `write`; after a cut, `resume` continues at a durable length no smaller than the last
/// one reported. `commit` is atomic: after a cut the package is complete or still partial.
/// `begin`, `abort` and `remove` leave the key holding its old package or nothing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_component_store {
    /// Passed to every callback of this table as is.
    pub user: *mut c_void,
    /// How many keys there are (at least 1; at most 64 are used).
    pub slots: u16,
    /// The largest package one key holds, in bytes.
    pub slot_capacity: u64,
    /// Starts package `key` of at most `declared_size` bytes at offset 0, discarding what
    /// the key held. Power loss: the key holds nothing or an empty partial package (its old
    /// package may be gone).
    pub begin: Option<
        unsafe extern "C" fn(user: *mut c_void, key: u16, declared_size: u64) -> scomo_result,
    >,
    /// Appends `len` bytes at `offset` (always the number of bytes written so far) to
    /// partial package `key`, all of them or fail, and sets `*durable_len` to the bytes that
    /// now survive a cut (never less than before, never more than `offset + len`). Power
    /// loss: the bytes after the last durable length may be lost; the package stays partial.
    pub write: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            key: u16,
            offset: u64,
            data: *const u8,
            len: usize,
            durable_len: *mut u64,
        ) -> scomo_result,
    >,
    /// Makes partial package `key` complete with its first `len` bytes. Power loss: atomic;
    /// once it returned `SCOMO_RESULT_OK` the package is complete for good.
    pub commit: Option<unsafe extern "C" fn(user: *mut c_void, key: u16, len: u64) -> scomo_result>,
    /// Discards partial package `key`. Power loss: the key holds the partial package or
    /// nothing.
    pub abort: Option<unsafe extern "C" fn(user: *mut c_void, key: u16) -> scomo_result>,
    /// Continues partial package `key`: fills `*info` with `len` = where the next write goes
    /// (the exact end when the package was written since the store started, else its
    /// durable length) and `durable_len`. `SCOMO_RESULT_NOT_FOUND` when the key holds
    /// nothing, `SCOMO_RESULT_WRONG_STATE` when it is complete. Changes nothing durable.
    pub resume: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            key: u16,
            info: *mut scomo_package_info,
        ) -> scomo_result,
    >,
    /// Reads up to `cap` bytes of package `key` from `offset` into `buf` and sets `*read`
    /// (at least 1 when `offset` is below the package's readable length: all of a complete
    /// package, the durable part of a partial one). Changes nothing durable.
    pub read: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            key: u16,
            offset: u64,
            buf: *mut u8,
            cap: usize,
            read: *mut usize,
        ) -> scomo_result,
    >,
    /// Fills `*info` with what key `key` holds, read from durable storage (after a reboot
    /// the agent walks every key with it); `state` `SCOMO_PACKAGE_NONE` (or the result
    /// `SCOMO_RESULT_NOT_FOUND`) when nothing. Changes nothing durable.
    pub inspect: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            key: u16,
            info: *mut scomo_package_info,
        ) -> scomo_result,
    >,
    /// Removes package `key`, complete or partial; removing an empty key succeeds. Power
    /// loss: the key holds its package unchanged or nothing; once it returned
    /// `SCOMO_RESULT_OK` the package stays gone.
    pub remove: Option<unsafe extern "C" fn(user: *mut c_void, key: u16) -> scomo_result>,
}

/// The state store: small records the agent replaces whole (its tree, jobs, results,
/// nonces), each named by a 16-bit id.
///
/// # Power loss
///
/// Each `write` and `remove` is atomic per record: after a cut the record reads back as
/// before the call or as the call left it, never a mix; other records are untouched. Once a
/// call returned `SCOMO_RESULT_OK` its effect survives any later cut. (A file per record
/// written to a temporary name, synced and renamed has this property; so has a log of
/// records with a CRC on flash.)
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_state_store {
    /// Passed to every callback of this table as is.
    pub user: *mut c_void,
    /// The largest record `write` takes, in bytes (at least the agent's state record; see
    /// `SCOMO_SCRATCH_CAP`).
    pub max_record_len: usize,
    /// Copies record `id` into `buf` (`cap` bytes) and sets `*len`;
    /// `SCOMO_RESULT_NOT_FOUND` when there is no such record,
    /// `SCOMO_RESULT_BUFFER_TOO_SMALL` when it is longer than `cap`.
    pub read: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            id: u16,
            buf: *mut u8,
            cap: usize,
            len: *mut usize,
        ) -> scomo_result,
    >,
    /// Replaces record `id` with `len` bytes (creating it). `SCOMO_RESULT_NO_SPACE` when
    /// full; nothing changes then.
    pub write: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            id: u16,
            bytes: *const u8,
            len: usize,
        ) -> scomo_result,
    >,
    /// Removes record `id`; removing an absent record succeeds.
    pub remove: Option<unsafe extern "C" fn(user: *mut c_void, id: u16) -> scomo_result>,
    /// Sets `*next` to the smallest id of an existing record greater than `*after` (or the
    /// smallest id of all when `after` is NULL); `SCOMO_RESULT_NOT_FOUND` when there is none.
    pub next: Option<
        unsafe extern "C" fn(user: *mut c_void, after: *const u16, next: *mut u16) -> scomo_result,
    >,
}

/// The four things an installer does (`SCOMO_OP_*`); also what consent is asked for.
pub type scomo_installer_op = i32;
/// Install the components of a package.
pub const SCOMO_OP_INSTALL: scomo_installer_op = 0;
/// Make a component active.
pub const SCOMO_OP_ACTIVATE: scomo_installer_op = 1;
/// Make a component inactive.
pub const SCOMO_OP_DEACTIVATE: scomo_installer_op = 2;
/// Uninstall a component.
pub const SCOMO_OP_REMOVE: scomo_installer_op = 3;

/// How far an installer call got (`SCOMO_OUTCOME_*`).
pub type scomo_outcome = i32;
/// Finished (for `install`: the components were reported to the sink in this call).
pub const SCOMO_OUTCOME_DONE: scomo_outcome = 0;
/// Still working: the agent calls again later with the same arguments.
pub const SCOMO_OUTCOME_PENDING: scomo_outcome = 1;
/// Takes effect after a restart: the next action is `SCOMO_ACTION_RESTART`; after it the
/// agent makes the same call again and a finished installer answers `SCOMO_OUTCOME_DONE`.
pub const SCOMO_OUTCOME_REBOOT_REQUIRED: scomo_outcome = 2;

/// The answer of the consent callback (`SCOMO_CONSENT_*`).
pub type scomo_consent = i32;
/// Go ahead now.
pub const SCOMO_CONSENT_ACCEPT: scomo_consent = 0;
/// Not now: the agent asks again later.
pub const SCOMO_CONSENT_POSTPONE: scomo_consent = 1;
/// Never: the operation ends with result 1401 (user cancelled). Unknown values count as
/// this.
pub const SCOMO_CONSENT_REJECT: scomo_consent = 2;

/// The answer of the verification callback (`SCOMO_VERDICT_*`).
pub type scomo_verdict = i32;
/// The package may be installed.
pub const SCOMO_VERDICT_VALID: scomo_verdict = 0;
/// The package must not be installed: result 1407. Unknown values count as this.
pub const SCOMO_VERDICT_INVALID: scomo_verdict = 1;

/// What describes a package to install (the tree's `PkgID`, `Name`, `PkgType`,
/// `EnvType`, `InstallParams`). NUL-terminated UTF-8; NULL when the server set none
/// (`pkg_id` is never NULL). Valid during the callback only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_install_request {
    /// `PkgID`.
    pub pkg_id: *const c_char,
    /// `Name`, or NULL.
    pub name: *const c_char,
    /// `PkgType` (a MIME type), or NULL.
    pub pkg_type: *const c_char,
    /// `EnvType`, or NULL; an installer that lacks it fails with
    /// `SCOMO_RESULT_UNSUPPORTED_ENV_TYPE`.
    pub env_type: *const c_char,
    /// `InstallParams`, or NULL.
    pub params: *const c_char,
}

/// The installer: installs, activates, deactivates and removes software components.
///
/// # Power loss and repetition
///
/// The agent journals each call before making it, so after a power cut **any installer
/// call may be made again with the same arguments**, whether or not the first one finished,
/// and a call that answered `SCOMO_OUTCOME_PENDING` is made again until it answers
/// something else. Each callback must be idempotent: installing what is installed answers
/// `SCOMO_OUTCOME_DONE` and reports the components again; activating an active component,
/// deactivating an inactive one, removing an absent one answer `SCOMO_OUTCOME_DONE`. An
/// update (a component whose id is installed) leaves the old or the new component after any
/// cut, never both, never neither. `consent` and `verify` store nothing.
///
/// Errors: `SCOMO_RESULT_FAILED`, `_OUT_OF_MEMORY`, `_INVALID_PACKAGE`,
/// `_UNSUPPORTED_ENV_TYPE`, `_NOT_FOUND`, `_NOT_IMPLEMENTED` choose the SCOMO result the
/// server is told (1405–1413); other codes count as `SCOMO_RESULT_FAILED`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_installer {
    /// Passed to every callback of this table as is.
    pub user: *mut c_void,
    /// Installs the components of `package` (read it with `scomo_package_read`), active or,
    /// when `inactive`, inactive; reports each component with `scomo_sink_add(sink, ...)` in
    /// the call that answers `SCOMO_OUTCOME_DONE`; sets `*outcome`.
    pub install: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            package: *mut scomo_package,
            inactive: bool,
            request: *const scomo_install_request,
            sink: *mut scomo_component_sink,
            outcome: *mut scomo_outcome,
        ) -> scomo_result,
    >,
    /// Makes component `id` active; sets `*outcome`.
    pub activate: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            id: *const c_char,
            outcome: *mut scomo_outcome,
        ) -> scomo_result,
    >,
    /// Makes component `id` inactive; sets `*outcome`.
    pub deactivate: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            id: *const c_char,
            outcome: *mut scomo_outcome,
        ) -> scomo_result,
    >,
    /// Uninstalls component `id`; sets `*outcome`.
    pub remove: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            id: *const c_char,
            outcome: *mut scomo_outcome,
        ) -> scomo_result,
    >,
    /// Optional (NULL accepts everything): may operation `op` run now on `target` (the
    /// package's `PkgID` for an install, else the component's id)?
    pub consent: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            op: scomo_installer_op,
            target: *const c_char,
        ) -> scomo_consent,
    >,
    /// Optional (NULL accepts every package): checks a package before it is installed (a
    /// signature), reading it with `scomo_package_read`. A read error should answer
    /// `SCOMO_VERDICT_INVALID`.
    pub verify: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            package: *mut scomo_package,
            request: *const scomo_install_request,
        ) -> scomo_verdict,
    >,
}

/// Randomness for nonces and session ids (a hardware TRNG, or a CSPRNG seeded from one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_random {
    /// Passed to `fill` as is.
    pub user: *mut c_void,
    /// Fills `len` bytes at `buf`; any result but `SCOMO_RESULT_OK` means no entropy now.
    pub fill:
        Option<unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, len: usize) -> scomo_result>,
}

/// Everything the agent needs from the device. `scomo_agent_init` copies the table; the
/// `user` pointers must stay valid until `scomo_agent_release`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_platform {
    /// Delivery packages.
    pub components: scomo_component_store,
    /// Durable records.
    pub state: scomo_state_store,
    /// Installs and manages components.
    pub installer: scomo_installer,
    /// Random bytes.
    pub random: scomo_random,
    /// Log lines (optional: `emit` may be NULL).
    pub log: scomo_log,
}

impl scomo_platform {
    /// Whether every required callback is there and the sizes make sense.
    pub(crate) fn is_complete(&self) -> bool {
        let c = &self.components;
        let s = &self.state;
        let i = &self.installer;
        c.slots > 0
            && c.slot_capacity > 0
            && c.begin.is_some()
            && c.write.is_some()
            && c.commit.is_some()
            && c.abort.is_some()
            && c.resume.is_some()
            && c.read.is_some()
            && c.inspect.is_some()
            && c.remove.is_some()
            && s.max_record_len > 0
            && s.read.is_some()
            && s.write.is_some()
            && s.remove.is_some()
            && s.next.is_some()
            && i.install.is_some()
            && i.activate.is_some()
            && i.deactivate.is_some()
            && i.remove.is_some()
            && self.random.fill.is_some()
    }
}

/// A store error: the kind the core branches on, also an `embedded_io` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CError(pub(crate) StorageErrorKind);

impl StorageError for CError {
    fn kind(&self) -> StorageErrorKind {
        self.0
    }
}

impl core::fmt::Display for CError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "store: {:?}", self.0)
    }
}

impl core::error::Error for CError {}

impl embedded_io::Error for CError {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.0.io_kind()
    }
}

/// A callback's result as a store result.
fn checked(result: scomo_result) -> Result<(), CError> {
    to_storage(result).map_or(Ok(()), |kind| Err(CError(kind)))
}

/// A missing callback (only possible if the table changed after the check) is an I/O error.
const MISSING: CError = CError(StorageErrorKind::Io);

/// The C component store as a [`ComponentStore`].
#[derive(Debug)]
pub(crate) struct CComponents(pub(crate) scomo_component_store);

impl CComponents {
    fn check_key(&self, key: PackageKey) -> Result<(), CError> {
        if key.0 < self.slots() {
            Ok(())
        } else {
            Err(CError(StorageErrorKind::InvalidKey))
        }
    }

    fn info(&mut self, key: PackageKey) -> Result<Option<scomo_package_info>, CError> {
        self.check_key(key)?;
        let f = self.0.inspect.ok_or(MISSING)?;
        let mut info = scomo_package_info::default();
        // SAFETY: the caller's callback with its own `user` and a valid out-pointer, as the
        // table's contract says.
        let result = unsafe { f(self.0.user, key.0, &mut info) };
        if result == SCOMO_RESULT_NOT_FOUND {
            return Ok(None);
        }
        checked(result)?;
        let sane = info.durable_len <= info.len && info.len <= info.declared_size;
        match info.state {
            SCOMO_PACKAGE_NONE => Ok(None),
            SCOMO_PACKAGE_PARTIAL | SCOMO_PACKAGE_COMPLETE if sane => Ok(Some(info)),
            _ => Err(CError(StorageErrorKind::Corrupted)),
        }
    }
}

impl ComponentStore for CComponents {
    type Error = CError;
    type Writer<'a> = CWriter<'a>;
    type Reader<'a> = CReader<'a>;

    fn slots(&self) -> u16 {
        self.0.slots.min(MAX_KEYS)
    }

    fn slot_capacity(&self) -> u64 {
        self.0.slot_capacity
    }

    fn begin(&mut self, key: PackageKey, declared_size: u64) -> Result<CWriter<'_>, CError> {
        self.check_key(key)?;
        if declared_size > self.slot_capacity() {
            return Err(CError(StorageErrorKind::TooLarge));
        }
        let f = self.0.begin.ok_or(MISSING)?;
        // SAFETY: the caller's callback with its own `user`.
        checked(unsafe { f(self.0.user, key.0, declared_size) })?;
        Ok(CWriter {
            store: self,
            key,
            declared: declared_size,
            offset: 0,
            durable: 0,
            poisoned: false,
        })
    }

    fn resume(&mut self, key: PackageKey) -> Result<CWriter<'_>, CError> {
        self.check_key(key)?;
        let f = self.0.resume.ok_or(MISSING)?;
        let mut info = scomo_package_info::default();
        // SAFETY: the caller's callback with its own `user` and a valid out-pointer.
        checked(unsafe { f(self.0.user, key.0, &mut info) })?;
        match info.state {
            SCOMO_PACKAGE_PARTIAL => {}
            SCOMO_PACKAGE_COMPLETE => return Err(CError(StorageErrorKind::WrongState)),
            _ => return Err(CError(StorageErrorKind::NotFound)),
        }
        if info.durable_len > info.len || info.len > info.declared_size {
            return Err(CError(StorageErrorKind::Corrupted));
        }
        Ok(CWriter {
            store: self,
            key,
            declared: info.declared_size,
            offset: info.len,
            durable: info.durable_len,
            poisoned: false,
        })
    }

    fn open(&mut self, key: PackageKey) -> Result<CReader<'_>, CError> {
        let info = self.info(key)?.ok_or(CError(StorageErrorKind::NotFound))?;
        let size = if info.state == SCOMO_PACKAGE_COMPLETE {
            info.len
        } else {
            info.durable_len
        };
        Ok(CReader {
            store: self,
            key,
            size,
            pos: 0,
        })
    }

    fn inspect(&mut self, key: PackageKey) -> Result<Option<PackageInfo>, CError> {
        Ok(self.info(key)?.map(|info| {
            if info.state == SCOMO_PACKAGE_COMPLETE {
                PackageInfo {
                    state: PackageState::Complete,
                    declared_size: info.declared_size,
                    len: info.len,
                }
            } else {
                PackageInfo {
                    state: PackageState::Partial,
                    declared_size: info.declared_size,
                    len: info.durable_len,
                }
            }
        }))
    }

    fn delete(&mut self, key: PackageKey) -> Result<(), CError> {
        self.check_key(key)?;
        let f = self.0.remove.ok_or(MISSING)?;
        // SAFETY: the caller's callback with its own `user`.
        checked(unsafe { f(self.0.user, key.0) })
    }
}

/// A package being written through the C store.
#[derive(Debug)]
pub(crate) struct CWriter<'a> {
    store: &'a mut CComponents,
    key: PackageKey,
    declared: u64,
    offset: u64,
    durable: u64,
    poisoned: bool,
}

impl CWriter<'_> {
    fn usable(&self) -> Result<(), CError> {
        if self.poisoned {
            Err(CError(StorageErrorKind::Poisoned))
        } else {
            Ok(())
        }
    }

    fn fail(&mut self, kind: StorageErrorKind) -> CError {
        self.poisoned = true;
        CError(kind)
    }
}

impl embedded_io::ErrorType for CWriter<'_> {
    type Error = CError;
}

impl embedded_io::Write for CWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, CError> {
        self.usable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let end = match u64::try_from(buf.len())
            .ok()
            .and_then(|n| self.offset.checked_add(n))
        {
            Some(end) if end <= self.declared => end,
            _ => return Err(self.fail(StorageErrorKind::TooLarge)),
        };
        let f = self.store.0.write.ok_or(MISSING)?;
        let mut durable = self.durable;
        // SAFETY: the caller's callback with its own `user`, `buf.len()` readable bytes and
        // a valid out-pointer.
        let result = unsafe {
            f(
                self.store.0.user,
                self.key.0,
                self.offset,
                buf.as_ptr(),
                buf.len(),
                &mut durable,
            )
        };
        if let Some(kind) = to_storage(result) {
            return Err(self.fail(kind));
        }
        if durable < self.durable || durable > end {
            return Err(self.fail(StorageErrorKind::Io));
        }
        self.offset = end;
        self.durable = durable;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), CError> {
        self.usable()
    }
}

impl PackageWriter for CWriter<'_> {
    fn key(&self) -> PackageKey {
        self.key
    }

    fn declared_size(&self) -> u64 {
        self.declared
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn durable_offset(&self) -> u64 {
        self.durable
    }

    fn suspend(self) -> Result<u64, CError> {
        self.usable()?;
        Ok(self.durable)
    }

    fn commit(self) -> Result<PackageInfo, CError> {
        self.usable()?;
        let f = self.store.0.commit.ok_or(MISSING)?;
        // SAFETY: the caller's callback with its own `user`.
        checked(unsafe { f(self.store.0.user, self.key.0, self.offset) })?;
        Ok(PackageInfo {
            state: PackageState::Complete,
            declared_size: self.declared,
            len: self.offset,
        })
    }

    fn abort(self) -> Result<(), CError> {
        let f = self.store.0.abort.ok_or(MISSING)?;
        // SAFETY: the caller's callback with its own `user`.
        checked(unsafe { f(self.store.0.user, self.key.0) })
    }
}

/// A stored package being read through the C store (positional reads).
#[derive(Debug)]
pub(crate) struct CReader<'a> {
    store: &'a mut CComponents,
    key: PackageKey,
    size: u64,
    pos: u64,
}

impl embedded_io::ErrorType for CReader<'_> {
    type Error = CError;
}

impl embedded_io::Read for CReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CError> {
        let left = self.size.saturating_sub(self.pos);
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let f = self.store.0.read.ok_or(MISSING)?;
        let mut got = 0usize;
        // SAFETY: the caller's callback with its own `user`, `want <= buf.len()` writable
        // bytes and a valid out-pointer.
        checked(unsafe {
            f(
                self.store.0.user,
                self.key.0,
                self.pos,
                buf.as_mut_ptr(),
                want,
                &mut got,
            )
        })?;
        // Nothing (before the end) or more than asked: the callback broke its contract.
        if got == 0 || got > want {
            return Err(CError(StorageErrorKind::Io));
        }
        self.pos = self.pos.saturating_add(got as u64);
        Ok(got)
    }
}

impl embedded_io::Seek for CReader<'_> {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, CError> {
        let target = match pos {
            embedded_io::SeekFrom::Start(n) => Some(n),
            embedded_io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            embedded_io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or(CError(StorageErrorKind::WrongState))?;
        Ok(self.pos)
    }
}

impl PackageReader for CReader<'_> {
    fn size(&self) -> u64 {
        self.size
    }
}

/// The C state store as a [`StateStore`].
#[derive(Debug)]
pub(crate) struct CState(pub(crate) scomo_state_store);

impl StateStore for CState {
    type Error = StorageErrorKind;

    fn max_record_len(&self) -> usize {
        self.0.max_record_len
    }

    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, StorageErrorKind> {
        let f = self.0.read.ok_or(StorageErrorKind::Io)?;
        let mut len = 0usize;
        // SAFETY: the caller's callback with its own `user`, `buf.len()` writable bytes and
        // a valid out-pointer.
        let result = unsafe { f(self.0.user, id.0, buf.as_mut_ptr(), buf.len(), &mut len) };
        if result == SCOMO_RESULT_NOT_FOUND {
            return Ok(None);
        }
        checked(result).map_err(|e| e.0)?;
        if len > buf.len() {
            return Err(StorageErrorKind::Io);
        }
        Ok(Some(len))
    }

    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), StorageErrorKind> {
        if bytes.len() > self.0.max_record_len {
            return Err(StorageErrorKind::TooLarge);
        }
        let f = self.0.write.ok_or(StorageErrorKind::Io)?;
        // SAFETY: the caller's callback with its own `user` and `bytes.len()` readable bytes.
        checked(unsafe { f(self.0.user, id.0, bytes.as_ptr(), bytes.len()) }).map_err(|e| e.0)
    }

    fn delete(&mut self, id: RecordId) -> Result<(), StorageErrorKind> {
        let f = self.0.remove.ok_or(StorageErrorKind::Io)?;
        // SAFETY: the caller's callback with its own `user`.
        checked(unsafe { f(self.0.user, id.0) }).map_err(|e| e.0)
    }

    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, StorageErrorKind> {
        let f = self.0.next.ok_or(StorageErrorKind::Io)?;
        let after_id = after.map(|r| r.0);
        let after_ptr = after_id
            .as_ref()
            .map_or(core::ptr::null(), |a| a as *const u16);
        let mut next = 0u16;
        // SAFETY: the caller's callback with its own `user`, a readable `after` or NULL, and
        // a valid out-pointer.
        let result = unsafe { f(self.0.user, after_ptr, &mut next) };
        if result == SCOMO_RESULT_NOT_FOUND {
            return Ok(None);
        }
        checked(result).map_err(|e| e.0)?;
        // Not after `after`: the callback broke its contract (and a walk would never end).
        if after_id.is_some_and(|a| next <= a) {
            return Err(StorageErrorKind::Io);
        }
        Ok(Some(RecordId(next)))
    }
}

/// The C randomness as an [`Rng`].
#[derive(Debug)]
pub(crate) struct CRandom(pub(crate) scomo_random);

impl Rng for CRandom {
    type Error = RngErrorKind;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RngErrorKind> {
        if buf.is_empty() {
            return Ok(());
        }
        let f = self.0.fill.ok_or(RngErrorKind::Other)?;
        // SAFETY: the caller's callback with its own `user` and `buf.len()` writable bytes.
        match unsafe { f(self.0.user, buf.as_mut_ptr(), buf.len()) } {
            SCOMO_RESULT_OK => Ok(()),
            _ => Err(RngErrorKind::Unavailable),
        }
    }
}

/// The C installer as an [`Installer`].
#[derive(Debug)]
pub(crate) struct CInstaller(pub(crate) scomo_installer);

/// An outcome from C as the core's.
fn outcome(result: scomo_result, outcome: scomo_outcome) -> Result<Outcome, InstallerErrorKind> {
    if let Some(kind) = to_installer(result) {
        return Err(kind);
    }
    match outcome {
        SCOMO_OUTCOME_DONE => Ok(Outcome::Done),
        SCOMO_OUTCOME_PENDING => Ok(Outcome::Pending),
        SCOMO_OUTCOME_REBOOT_REQUIRED => Ok(Outcome::RebootRequired),
        _ => Err(InstallerErrorKind::Other),
    }
}

/// The request's strings, NUL-terminated, in one buffer on the stack.
struct RequestText {
    text: CText<512>,
    offsets: [Option<usize>; 5],
}

impl RequestText {
    fn new(request: &InstallRequest<'_>) -> Option<Self> {
        let mut text = CText::new();
        let pkg_id = Some(text.push(request.pkg_id)?);
        let mut optional = |s: Option<&str>| match s {
            None => Some(None),
            Some(s) => text.push(s).map(Some),
        };
        let name = optional(request.name)?;
        let pkg_type = optional(request.pkg_type)?;
        let env_type = optional(request.env_type)?;
        let params = optional(request.params)?;
        Some(Self {
            text,
            offsets: [pkg_id, name, pkg_type, env_type, params],
        })
    }

    fn c(&self) -> scomo_install_request {
        let [pkg_id, name, pkg_type, env_type, params] = self.offsets.map(|o| self.text.ptr(o));
        scomo_install_request {
            pkg_id,
            name,
            pkg_type,
            env_type,
            params,
        }
    }
}

impl CInstaller {
    fn on_id(
        &mut self,
        f: Option<
            unsafe extern "C" fn(*mut c_void, *const c_char, *mut scomo_outcome) -> scomo_result,
        >,
        id: &str,
    ) -> Result<Outcome, InstallerErrorKind> {
        let f = f.ok_or(InstallerErrorKind::NotImplemented)?;
        let mut text = CText::<{ SCOMO_TEXT_CAP + 1 }>::new();
        let at = text.push(id).ok_or(InstallerErrorKind::Other)?;
        let mut out = -1;
        // SAFETY: the caller's callback with its own `user`, a NUL-terminated id that lives
        // during the call, and a valid out-pointer.
        let result = unsafe { f(self.0.user, text.ptr(Some(at)), &mut out) };
        outcome(result, out)
    }
}

impl Installer for CInstaller {
    type Error = InstallerErrorKind;

    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, InstallerErrorKind> {
        let f = self.0.install.ok_or(InstallerErrorKind::NotImplemented)?;
        let text = RequestText::new(request).ok_or(InstallerErrorKind::Other)?;
        let c_request = text.c();
        let mut package = PackageHandle::new(package);
        let mut sink = SinkHandle::new(sink);
        let mut out = -1;
        // SAFETY: the caller's callback with its own `user`, handles and a request that live
        // during the call, and a valid out-pointer.
        let result = unsafe {
            f(
                self.0.user,
                package.as_c(),
                inactive,
                &c_request,
                sink.as_c(),
                &mut out,
            )
        };
        outcome(result, out)
    }

    fn activate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        self.on_id(self.0.activate, id)
    }

    fn deactivate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        self.on_id(self.0.deactivate, id)
    }

    fn remove(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        self.on_id(self.0.remove, id)
    }

    fn consent(&mut self, request: &ConsentRequest<'_>) -> Consent {
        let Some(f) = self.0.consent else {
            return Consent::Accept;
        };
        let mut text = CText::<{ SCOMO_TEXT_CAP + 1 }>::new();
        let Some(at) = text.push(request.target) else {
            return Consent::Reject;
        };
        let op = match request.op {
            InstallerOp::Install => SCOMO_OP_INSTALL,
            InstallerOp::Activate => SCOMO_OP_ACTIVATE,
            InstallerOp::Deactivate => SCOMO_OP_DEACTIVATE,
            InstallerOp::Remove => SCOMO_OP_REMOVE,
        };
        // SAFETY: the caller's callback with its own `user` and a NUL-terminated target that
        // lives during the call.
        match unsafe { f(self.0.user, op, text.ptr(Some(at))) } {
            SCOMO_CONSENT_ACCEPT => Consent::Accept,
            SCOMO_CONSENT_POSTPONE => Consent::Postpone,
            _ => Consent::Reject,
        }
    }

    fn verify<R: PackageReader>(
        &mut self,
        package: &mut R,
        request: &InstallRequest<'_>,
    ) -> Verdict {
        let Some(f) = self.0.verify else {
            return Verdict::Valid;
        };
        let Some(text) = RequestText::new(request) else {
            return Verdict::Invalid;
        };
        let c_request = text.c();
        let mut package = PackageHandle::new(package);
        // SAFETY: the caller's callback with its own `user`, and a handle and a request that
        // live during the call.
        match unsafe { f(self.0.user, package.as_c(), &c_request) } {
            SCOMO_VERDICT_VALID => Verdict::Valid,
            _ => Verdict::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The adapters against callbacks that fail or break their contracts: each is a store
    //! or installer error, never a panic or a loop.
    use super::*;
    use crate::result::{SCOMO_RESULT_INVALID_PACKAGE, SCOMO_RESULT_IO};
    use embedded_io::{Read, Write};

    /// How the fake store misbehaves.
    #[derive(Default)]
    struct Fake {
        /// What `read` reports having read (`None`: what was asked).
        read_len: Option<usize>,
        /// What `write` reports as durable (`None`: all of it).
        durable: Option<u64>,
        /// What `inspect` and `resume` report.
        info: scomo_package_info,
        /// What `next` reports.
        next: u16,
        /// What the state store's `read` reports as the length.
        record_len: usize,
        /// What the installer's callbacks answer.
        result: scomo_result,
        outcome: scomo_outcome,
        consent: scomo_consent,
    }

    fn fake(user: *mut c_void) -> &'static mut Fake {
        // SAFETY: every test passes a `&mut Fake` that outlives the adapter.
        unsafe { &mut *user.cast::<Fake>() }
    }

    unsafe extern "C" fn begin(_: *mut c_void, _: u16, _: u64) -> scomo_result {
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn write(
        user: *mut c_void,
        _: u16,
        offset: u64,
        _: *const u8,
        len: usize,
        durable: *mut u64,
    ) -> scomo_result {
        let f = fake(user);
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *durable = f.durable.unwrap_or(offset + len as u64) };
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn key_only(_: *mut c_void, _: u16) -> scomo_result {
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn commit(_: *mut c_void, _: u16, _: u64) -> scomo_result {
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn info(
        user: *mut c_void,
        _: u16,
        out: *mut scomo_package_info,
    ) -> scomo_result {
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *out = fake(user).info };
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn read(
        user: *mut c_void,
        _: u16,
        _: u64,
        _: *mut u8,
        cap: usize,
        got: *mut usize,
    ) -> scomo_result {
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *got = fake(user).read_len.unwrap_or(cap) };
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn state_read(
        user: *mut c_void,
        _: u16,
        _: *mut u8,
        _: usize,
        len: *mut usize,
    ) -> scomo_result {
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *len = fake(user).record_len };
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn state_write(
        _: *mut c_void,
        _: u16,
        _: *const u8,
        _: usize,
    ) -> scomo_result {
        SCOMO_RESULT_IO
    }
    unsafe extern "C" fn next(user: *mut c_void, _: *const u16, next: *mut u16) -> scomo_result {
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *next = fake(user).next };
        SCOMO_RESULT_OK
    }
    unsafe extern "C" fn by_id(
        user: *mut c_void,
        _: *const c_char,
        out: *mut scomo_outcome,
    ) -> scomo_result {
        let f = fake(user);
        // SAFETY: the adapter passes a valid out-pointer.
        unsafe { *out = f.outcome };
        f.result
    }
    unsafe extern "C" fn consent(
        user: *mut c_void,
        _: scomo_installer_op,
        _: *const c_char,
    ) -> scomo_consent {
        fake(user).consent
    }

    fn components(f: &mut Fake) -> CComponents {
        CComponents(scomo_component_store {
            user: (f as *mut Fake).cast(),
            slots: 2,
            slot_capacity: 100,
            begin: Some(begin),
            write: Some(write),
            commit: Some(commit),
            abort: Some(key_only),
            resume: Some(info),
            read: Some(read),
            inspect: Some(info),
            remove: Some(key_only),
        })
    }

    fn state(f: &mut Fake) -> CState {
        CState(scomo_state_store {
            user: (f as *mut Fake).cast(),
            max_record_len: 64,
            read: Some(state_read),
            write: Some(state_write),
            remove: Some(key_only),
            next: Some(next),
        })
    }

    fn complete(len: u64) -> scomo_package_info {
        scomo_package_info {
            state: SCOMO_PACKAGE_COMPLETE,
            declared_size: len,
            len,
            durable_len: len,
        }
    }

    #[test]
    fn a_read_of_nothing_or_of_more_than_asked_is_an_io_error() {
        let mut f = Fake {
            info: complete(10),
            read_len: Some(0),
            ..Fake::default()
        };
        let mut store = components(&mut f);
        let mut buf = [0u8; 4];
        let err = store
            .open(PackageKey(0))
            .unwrap()
            .read(&mut buf)
            .unwrap_err();
        assert_eq!(err.0, StorageErrorKind::Io);
        f.read_len = Some(5);
        let mut store = components(&mut f);
        let err = store
            .open(PackageKey(0))
            .unwrap()
            .read(&mut buf)
            .unwrap_err();
        assert_eq!(err.0, StorageErrorKind::Io);
        f.read_len = Some(3);
        let mut store = components(&mut f);
        assert_eq!(
            store.open(PackageKey(0)).unwrap().read(&mut buf).unwrap(),
            3
        );
    }

    #[test]
    fn a_durable_length_past_the_bytes_written_is_an_io_error_and_poisons_the_writer() {
        let mut f = Fake {
            durable: Some(99),
            ..Fake::default()
        };
        let mut store = components(&mut f);
        let mut w = store.begin(PackageKey(1), 50).unwrap();
        assert_eq!(w.write(b"abc").unwrap_err().0, StorageErrorKind::Io);
        assert_eq!(w.write(b"abc").unwrap_err().0, StorageErrorKind::Poisoned);
        assert_eq!(w.commit().unwrap_err().0, StorageErrorKind::Poisoned);
    }

    #[test]
    fn writes_past_the_declared_size_are_too_large_and_keys_out_of_range_are_invalid() {
        let mut f = Fake::default();
        let mut store = components(&mut f);
        assert_eq!(
            store.begin(PackageKey(0), 101).unwrap_err().0,
            StorageErrorKind::TooLarge
        );
        assert_eq!(
            store.begin(PackageKey(2), 1).unwrap_err().0,
            StorageErrorKind::InvalidKey
        );
        let mut w = store.begin(PackageKey(0), 2).unwrap();
        assert_eq!(w.write(b"abc").unwrap_err().0, StorageErrorKind::TooLarge);
    }

    #[test]
    fn impossible_package_info_is_corrupted_and_resuming_a_complete_package_is_wrong_state() {
        let mut f = Fake {
            info: scomo_package_info {
                state: 7,
                ..complete(1)
            },
            ..Fake::default()
        };
        let mut store = components(&mut f);
        assert_eq!(
            store.inspect(PackageKey(0)).unwrap_err().0,
            StorageErrorKind::Corrupted
        );
        f.info = scomo_package_info {
            state: SCOMO_PACKAGE_PARTIAL,
            declared_size: 10,
            len: 5,
            durable_len: 6,
        };
        let mut store = components(&mut f);
        assert_eq!(
            store.inspect(PackageKey(0)).unwrap_err().0,
            StorageErrorKind::Corrupted
        );
        assert_eq!(
            store.resume(PackageKey(0)).unwrap_err().0,
            StorageErrorKind::Corrupted
        );
        f.info = complete(4);
        let mut store = components(&mut f);
        assert_eq!(
            store.resume(PackageKey(0)).unwrap_err().0,
            StorageErrorKind::WrongState
        );
        f.info = scomo_package_info::default();
        let mut store = components(&mut f);
        assert_eq!(store.inspect(PackageKey(0)).unwrap(), None);
        assert_eq!(
            store.open(PackageKey(0)).unwrap_err().0,
            StorageErrorKind::NotFound
        );
    }

    #[test]
    fn state_records_longer_than_the_buffer_or_ids_out_of_order_are_io_errors() {
        let mut f = Fake {
            record_len: 9,
            next: 3,
            ..Fake::default()
        };
        let mut store = state(&mut f);
        let mut buf = [0u8; 8];
        assert_eq!(store.read(RecordId(1), &mut buf), Err(StorageErrorKind::Io));
        assert_eq!(store.next_id(Some(RecordId(3))), Err(StorageErrorKind::Io));
        assert_eq!(store.next_id(Some(RecordId(2))), Ok(Some(RecordId(3))));
        assert_eq!(store.next_id(None), Ok(Some(RecordId(3))));
        assert_eq!(
            store.write(RecordId(1), &[0; 65]),
            Err(StorageErrorKind::TooLarge)
        );
        assert_eq!(store.write(RecordId(1), &[0; 8]), Err(StorageErrorKind::Io));
    }

    #[test]
    fn installer_errors_choose_the_scomo_result_and_unknown_answers_fail_or_reject() {
        let mut f = Fake {
            result: SCOMO_RESULT_INVALID_PACKAGE,
            consent: 42,
            ..Fake::default()
        };
        let user: *mut c_void = (&mut f as *mut Fake).cast();
        let mut installer = CInstaller(scomo_installer {
            user,
            install: None,
            activate: Some(by_id),
            deactivate: Some(by_id),
            remove: Some(by_id),
            consent: Some(consent),
            verify: None,
        });
        assert_eq!(
            installer.activate("c"),
            Err(InstallerErrorKind::InvalidPackage)
        );
        fake(user).result = SCOMO_RESULT_OK;
        fake(user).outcome = 9;
        assert_eq!(installer.remove("c"), Err(InstallerErrorKind::Other));
        fake(user).outcome = SCOMO_OUTCOME_REBOOT_REQUIRED;
        assert_eq!(installer.deactivate("c"), Ok(Outcome::RebootRequired));
        let ask = ConsentRequest {
            op: InstallerOp::Remove,
            target: "c",
        };
        assert_eq!(installer.consent(&ask), Consent::Reject);
        fake(user).consent = SCOMO_CONSENT_POSTPONE;
        assert_eq!(installer.consent(&ask), Consent::Postpone);
        assert_eq!(installer.activate("c\0d"), Err(InstallerErrorKind::Other));
    }
}
