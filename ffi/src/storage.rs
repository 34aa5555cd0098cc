//! The agent's memory: lent by the caller, checked on every call.
//!
//! The caller reserves a `scomo_agent_storage` (statically, on a stack that outlives the
//! agent, or from its own allocator) and hands it to `scomo_agent_init`, which checks its
//! size and alignment and writes a type tag at its start. Every later call checks the tag
//! (never initialised, released), the address (the storage must not be copied or moved:
//! the agent keeps pointers into itself), and a busy flag (no re-entrant call from a
//! callback). `scomo_agent_release` wipes the memory (passwords included) and leaves a
//! "released" tag, so a stale handle is refused rather than obeyed.
//!
//! ```text
//! offset 0   tag (u64)  home (usize)  stage  busy      checked on every call
//!            strings                                   config copied by configure
//!            core: callback tables, client, pending action, send/work/scratch buffers
//! ```

use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use scomo::drivers::{CONTENT_TYPE_CAP, HMAC_CAP};
use scomo::ops::{JobId, URL_CAP, VALIDATOR_CAP};

use crate::boundary::guard;
use crate::capacity::{
    FfiClient, SCOMO_NAME_CAP, SCOMO_REQUEST_CAP, SCOMO_SCRATCH_CAP, SCOMO_SECRET_CAP,
    SCOMO_SEND_CAP, SCOMO_URI_CAP, SCOMO_WORK_CAP,
};
use crate::log::Logger;
use crate::platform::{CComponents, CInstaller, CRandom, CState};
use crate::result::{
    SCOMO_RESULT_BUSY, SCOMO_RESULT_MISALIGNED, SCOMO_RESULT_MOVED, SCOMO_RESULT_NOT_INITIALIZED,
    SCOMO_RESULT_NULL_POINTER, SCOMO_RESULT_PANICKED, SCOMO_RESULT_RELEASED,
    SCOMO_RESULT_WRONG_ORDER, scomo_result,
};
use crate::text::CText;

/// Size in 8-byte words of [`scomo_agent_storage`].
#[cfg(not(feature = "small"))]
pub const SCOMO_AGENT_STORAGE_WORDS: usize = 4096;
/// Size in 8-byte words of [`scomo_agent_storage`] (`small` build).
#[cfg(feature = "small")]
pub const SCOMO_AGENT_STORAGE_WORDS: usize = 2048;
/// Bytes to reserve for one agent: enough on every supported target (checked at compile
/// time on each); `scomo_agent_storage_size()` says what this build needs exactly.
pub const SCOMO_AGENT_STORAGE_SIZE: usize = SCOMO_AGENT_STORAGE_WORDS * 8;
/// Alignment, in bytes, the agent's memory needs (that of `uint64_t` on every supported
/// target).
pub const SCOMO_AGENT_STORAGE_ALIGN: usize = 8;

/// Memory for one agent, reserved by the caller: declare one (static or otherwise) and pass
/// its address and `sizeof` to `scomo_agent_init`. Its content is private. It must stay where
/// it is, untouched, from `scomo_agent_init` to `scomo_agent_release`.
#[repr(C)]
pub struct scomo_agent_storage {
    /// Private.
    pub opaque: [u64; SCOMO_AGENT_STORAGE_WORDS],
}

/// An initialised agent: the handle `scomo_agent_init` returns (it points into the
/// storage). Opaque.
pub struct scomo_agent {
    _private: [u8; 0],
}

const _: () = {
    assert!(size_of::<Agent>() <= SCOMO_AGENT_STORAGE_SIZE);
    assert!(align_of::<Agent>() <= SCOMO_AGENT_STORAGE_ALIGN);
    assert!(align_of::<scomo_agent_storage>() == SCOMO_AGENT_STORAGE_ALIGN);
    assert!(size_of::<scomo_agent_storage>() == SCOMO_AGENT_STORAGE_SIZE);
};

/// "SCOMOAG1": a live agent.
const TAG_LIVE: u64 = u64::from_be_bytes(*b"SCOMOAG1");
/// "SCOMOREL": a released agent.
const TAG_RELEASED: u64 = u64::from_be_bytes(*b"SCOMOREL");

/// Where an agent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Initialised, not configured.
    Created,
    /// Configured and booted.
    Running,
    /// A panic was caught: only release is accepted.
    Poisoned,
}

impl Stage {
    const fn byte(self) -> u8 {
        match self {
            Stage::Created => 1,
            Stage::Running => 2,
            Stage::Poisoned => 3,
        }
    }

    const fn from_byte(b: u8) -> Self {
        match b {
            1 => Stage::Created,
            2 => Stage::Running,
            _ => Stage::Poisoned,
        }
    }
}

/// Checked on every call. Plain integers only: before the tag is checked the bytes may be
/// anything.
#[repr(C)]
struct Header {
    tag: u64,
    /// The address the agent was initialised at.
    home: usize,
    /// A [`Stage`].
    stage: u8,
    /// 1 while a call runs.
    busy: u8,
}

/// The configuration strings, owned by the agent; the client borrows them until release.
#[derive(Debug)]
pub(crate) struct Strings {
    pub(crate) server_uri: heapless::String<SCOMO_URI_CAP>,
    pub(crate) server_id: heapless::String<SCOMO_NAME_CAP>,
    pub(crate) device_id: heapless::String<SCOMO_NAME_CAP>,
    pub(crate) client_user: heapless::String<SCOMO_NAME_CAP>,
    pub(crate) client_password: heapless::String<SCOMO_SECRET_CAP>,
    pub(crate) server_password: heapless::String<SCOMO_SECRET_CAP>,
    /// The `PkgID` of the last component request.
    pub(crate) request: heapless::String<SCOMO_REQUEST_CAP>,
}

/// What the caller was asked to do and has not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Nothing: `poll` is next.
    Nothing,
    /// A DM message to send and answer with `dm_answer` (or `end_session`).
    Answer,
    /// The session's last message: send it; nothing to answer.
    LastSent,
    /// A fetch: head, body, end.
    Fetch {
        /// The job to pass back.
        job: JobId,
        /// Whether the head was fed.
        head: bool,
    },
    /// An install-notify post: `notify_done`.
    Notify {
        /// The job to pass back.
        job: JobId,
    },
}

/// NUL-terminated copies of the strings of the last action.
#[derive(Debug)]
pub(crate) struct Out {
    /// The URL (the longest: a download URL or a server URI).
    pub(crate) url: CText<{ max(URL_CAP, SCOMO_URI_CAP) + 1 }>,
    /// The content type of a message.
    pub(crate) content_type: CText<{ CONTENT_TYPE_CAP + 1 }>,
    /// The `x-syncml-hmac` value, or the `If-Range` validator.
    pub(crate) header: CText<{ max(HMAC_CAP, VALIDATOR_CAP) + 1 }>,
    /// The install-notify report.
    pub(crate) notify: CText<NOTIFY_TEXT_CAP>,
}

/// Room for an install-notify report (`900 Success` and the like).
const NOTIFY_TEXT_CAP: usize = 128;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// Everything an agent holds besides its header and strings.
pub(crate) struct Core {
    pub(crate) components: CComponents,
    pub(crate) state: CState,
    pub(crate) installer: CInstaller,
    pub(crate) random: CRandom,
    pub(crate) log: Logger,
    pub(crate) client: Option<FfiClient>,
    pub(crate) pending: Pending,
    pub(crate) out: Out,
    pub(crate) send: [u8; SCOMO_SEND_CAP],
    pub(crate) work: [u8; SCOMO_WORK_CAP],
    pub(crate) scratch: [u8; SCOMO_SCRATCH_CAP],
}

/// The agent, as laid out in the caller's storage.
#[repr(C)]
pub(crate) struct Agent {
    header: Header,
    strings: Strings,
    core: Core,
}

/// The bytes one agent needs on this target.
pub(crate) const AGENT_SIZE: usize = size_of::<Agent>();
/// The alignment one agent needs on this target.
pub(crate) const AGENT_ALIGN: usize = align_of::<Agent>();

/// A checked, entered agent: the busy flag is set while it lives.
pub(crate) struct Entered(NonNull<Agent>);

impl Entered {
    /// The agent's stage.
    pub(crate) fn stage(&self) -> Stage {
        // SAFETY: a checked live agent; the header is not borrowed elsewhere.
        Stage::from_byte(unsafe { (*self.0.as_ptr()).header.stage })
    }

    /// Sets the agent's stage.
    pub(crate) fn set_stage(&mut self, stage: Stage) {
        // SAFETY: as above.
        unsafe { (*self.0.as_ptr()).header.stage = stage.byte() }
    }

    /// The core (callbacks, client, buffers).
    pub(crate) fn core(&mut self) -> &mut Core {
        // SAFETY: a checked live agent whose core was initialised by `init`; the busy flag
        // keeps every other call out, and only the core's own field is borrowed (the client
        // holds shared borrows of the strings, a disjoint field).
        unsafe { &mut (*self.0.as_ptr()).core }
    }

    /// The strings and the core at once, before a client borrows the strings.
    ///
    /// # Safety
    /// No client exists (stage `Created`): nothing borrows the strings.
    pub(crate) unsafe fn strings_and_core(&mut self) -> (&'static mut Strings, &mut Core) {
        let p = self.0.as_ptr();
        // SAFETY: disjoint fields of a live agent; the caller promises that nothing borrows
        // the strings. They are 'static in the sense the client needs: the storage outlives
        // the client, which `release` drops before it wipes the strings.
        unsafe { (&mut (*p).strings, &mut (*p).core) }
    }

    /// The request string alone, to overwrite it.
    ///
    /// # Safety
    /// Nothing that is still used borrows the request string (no session is running).
    pub(crate) unsafe fn request(&mut self) -> &'static mut heapless::String<SCOMO_REQUEST_CAP> {
        // SAFETY: a field of a live agent; the caller promises nothing live borrows it.
        unsafe { &mut (*self.0.as_ptr()).strings.request }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: a live agent's header.
        unsafe { (*self.0.as_ptr()).header.busy = 0 }
    }
}

/// Checks a handle: not NULL, aligned, a live tag, at home, not busy.
fn check(agent: *const scomo_agent) -> Result<NonNull<Agent>, scomo_result> {
    let p = NonNull::new(agent.cast::<Agent>().cast_mut()).ok_or(SCOMO_RESULT_NULL_POINTER)?;
    if !p.as_ptr().is_aligned() {
        return Err(SCOMO_RESULT_MISALIGNED);
    }
    // SAFETY: non-null and aligned; the caller promised a pointer to its storage, whose
    // first bytes are the header (garbage in them is detected by the tag).
    let header = unsafe { &(*p.as_ptr()).header };
    match header.tag {
        TAG_LIVE => {}
        TAG_RELEASED => return Err(SCOMO_RESULT_RELEASED),
        _ => return Err(SCOMO_RESULT_NOT_INITIALIZED),
    }
    if header.home != p.as_ptr() as usize {
        return Err(SCOMO_RESULT_MOVED);
    }
    if header.busy != 0 {
        return Err(SCOMO_RESULT_BUSY);
    }
    Ok(p)
}

/// Runs `f` on a checked agent with the busy flag set, catching panics (see
/// [`boundary`](crate::boundary)). A stage other than `need` is `SCOMO_RESULT_WRONG_ORDER`;
/// a poisoned agent is `SCOMO_RESULT_PANICKED`.
///
/// # Safety
/// `agent` is NULL or points to memory the caller owns of at least the header's size.
pub(crate) unsafe fn enter(
    agent: *mut scomo_agent,
    need: Stage,
    f: impl FnOnce(&mut Entered) -> scomo_result,
) -> scomo_result {
    let p = match check(agent) {
        Ok(p) => p,
        Err(e) => return e,
    };
    // SAFETY: a checked live agent.
    unsafe { (*p.as_ptr()).header.busy = 1 };
    let mut entered = Entered(p);
    match entered.stage() {
        Stage::Poisoned => return SCOMO_RESULT_PANICKED,
        stage if stage != need => return SCOMO_RESULT_WRONG_ORDER,
        _ => {}
    }
    match guard(|| f(&mut entered)) {
        Ok(r) => r,
        Err(e) => {
            entered.set_stage(Stage::Poisoned);
            e
        }
    }
}

/// Reads a checked agent without entering it (for queries through a `const` handle).
///
/// # Safety
/// As [`enter`].
pub(crate) unsafe fn peek<T>(
    agent: *const scomo_agent,
    f: impl FnOnce(&Core) -> Result<T, scomo_result>,
) -> Result<T, scomo_result> {
    let p = check(agent)?;
    // SAFETY: a checked live agent that is not busy: nothing borrows its core mutably.
    let header = unsafe { &(*p.as_ptr()).header };
    let stage = Stage::from_byte(header.stage);
    if stage != Stage::Running {
        return Err(if stage == Stage::Poisoned {
            SCOMO_RESULT_PANICKED
        } else {
            SCOMO_RESULT_WRONG_ORDER
        });
    }
    // SAFETY: as above.
    let core = unsafe { &(*p.as_ptr()).core };
    guard(|| f(core))?
}

/// Whether `storage` holds a live agent that was initialised there.
///
/// # Safety
/// `storage` points to at least a header's worth of readable, aligned memory.
pub(crate) unsafe fn is_live(storage: NonNull<Agent>) -> bool {
    // SAFETY: as the caller promises.
    let header = unsafe { &(*storage.as_ptr()).header };
    header.tag == TAG_LIVE && header.home == storage.as_ptr() as usize
}

/// Writes a fresh agent into `storage`.
///
/// # Safety
/// `storage` points to [`AGENT_SIZE`] writable bytes aligned to [`AGENT_ALIGN`], not in use.
pub(crate) unsafe fn create(
    storage: NonNull<Agent>,
    components: CComponents,
    state: CState,
    installer: CInstaller,
    random: CRandom,
    log: Logger,
) {
    let a = storage.as_ptr();
    // SAFETY: each field is written in place (no large temporary on the stack), into memory
    // the caller lends for an agent.
    unsafe {
        (&raw mut (*a).header).write(Header {
            tag: 0,
            home: a as usize,
            stage: Stage::Created.byte(),
            busy: 0,
        });
        (&raw mut (*a).strings).write(Strings {
            server_uri: heapless::String::new(),
            server_id: heapless::String::new(),
            device_id: heapless::String::new(),
            client_user: heapless::String::new(),
            client_password: heapless::String::new(),
            server_password: heapless::String::new(),
            request: heapless::String::new(),
        });
        let core = &raw mut (*a).core;
        (&raw mut (*core).components).write(components);
        (&raw mut (*core).state).write(state);
        (&raw mut (*core).installer).write(installer);
        (&raw mut (*core).random).write(random);
        (&raw mut (*core).log).write(log);
        (&raw mut (*core).client).write(None);
        (&raw mut (*core).pending).write(Pending::Nothing);
        (&raw mut (*core).out).write(Out {
            url: CText::new(),
            content_type: CText::new(),
            header: CText::new(),
            notify: CText::new(),
        });
        (&raw mut (*core).send).write_bytes(0, 1);
        (&raw mut (*core).work).write_bytes(0, 1);
        (&raw mut (*core).scratch).write_bytes(0, 1);
        (&raw mut (*a).header.tag).write(TAG_LIVE);
    }
}

/// Releases the agent `entered` stands for: drops it, wipes the storage, leaves the
/// released tag.
pub(crate) fn destroy(entered: Entered) {
    let a = entered.0.as_ptr();
    core::mem::forget(entered); // the busy flag is wiped with the rest
    // SAFETY: a live agent nothing borrows (the busy flag kept every other call out):
    // dropped in place, then its bytes overwritten, then tagged released.
    unsafe {
        core::ptr::drop_in_place(&raw mut (*a).core);
        core::ptr::drop_in_place(&raw mut (*a).strings);
        a.cast::<u8>().write_bytes(0, AGENT_SIZE);
        (&raw mut (*a).header.tag).write(TAG_RELEASED);
    }
}

/// Enters an agent in any stage but busy, for release.
///
/// # Safety
/// As [`enter`].
pub(crate) unsafe fn enter_for_release(agent: *mut scomo_agent) -> Result<Entered, scomo_result> {
    let p = check(agent)?;
    // SAFETY: a checked live agent.
    unsafe { (*p.as_ptr()).header.busy = 1 };
    Ok(Entered(p))
}
