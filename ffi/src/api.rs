//! The entry points: init, configure, notification, session request, poll, the answers the
//! caller feeds back, release.
//!
//! Every function checks its handle and pointers first and returns a `scomo_result`; on any
//! error nothing changes (except where a function says otherwise). Out-parameters are
//! written on success; an action out-parameter is also written (as `SCOMO_ACTION_NONE`) on
//! failure.

use core::ffi::c_char;
use core::ptr::NonNull;

use crate::capacity::FfiClient;
use scomo::client::Client;
use scomo::dm::session::Received;
use scomo::ops::{FetchHead, Platform};

use crate::action::{
    deliver, fetch_outcome, fill, flow, scomo_action, scomo_fetch_end, scomo_fetch_head, scomo_flow,
};
use crate::boundary::guarded;
use crate::config::{self, scomo_config};
use crate::log::{Logger, SCOMO_LOG_INFO, SCOMO_LOG_WARN, log};
use crate::platform::{CComponents, CInstaller, CRandom, CState, scomo_platform};
use crate::result::{
    SCOMO_RESULT_INVALID_ARGUMENT, SCOMO_RESULT_MISALIGNED, SCOMO_RESULT_NULL_POINTER,
    SCOMO_RESULT_OK, SCOMO_RESULT_TOO_LONG, SCOMO_RESULT_TOO_SMALL, SCOMO_RESULT_WRONG_ORDER,
    from_client, from_notification, scomo_result,
};
use crate::storage::{
    AGENT_ALIGN, AGENT_SIZE, Agent, Core, Entered, Pending, Stage, create, destroy, enter,
    enter_for_release, is_live, peek, scomo_agent, scomo_agent_storage,
};
use crate::text::borrow;

/// The bytes one agent needs in this build on this target (at most
/// `SCOMO_AGENT_STORAGE_SIZE`).
#[unsafe(no_mangle)]
pub extern "C" fn scomo_agent_storage_size() -> usize {
    AGENT_SIZE
}

/// The alignment one agent needs on this target (at most `SCOMO_AGENT_STORAGE_ALIGN`).
#[unsafe(no_mangle)]
pub extern "C" fn scomo_agent_storage_align() -> usize {
    AGENT_ALIGN
}

/// Creates an agent in `storage` (`storage_size` bytes, aligned to
/// `SCOMO_AGENT_STORAGE_ALIGN`) with the callbacks of `platform` (copied), and sets
/// `*agent` to its handle. Next: `scomo_agent_configure`.
///
/// Returns `SCOMO_RESULT_NULL_POINTER`, `SCOMO_RESULT_TOO_SMALL` (less than
/// `scomo_agent_storage_size()`), `SCOMO_RESULT_MISALIGNED`,
/// `SCOMO_RESULT_INVALID_ARGUMENT` (a required callback missing, zero slots or sizes),
/// `SCOMO_RESULT_WRONG_ORDER` (the storage holds a live agent: release it first).
///
/// # Safety
/// `storage` points to `storage_size` writable bytes that stay in place and are not touched
/// by anything else until `scomo_agent_release`; `platform` is readable; `agent` is
/// writable. The `user` pointers of the platform stay valid until release.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_init(
    storage: *mut scomo_agent_storage,
    storage_size: usize,
    platform: *const scomo_platform,
    agent: *mut *mut scomo_agent,
) -> scomo_result {
    guarded(|| {
        let Some(p) = NonNull::new(storage.cast::<Agent>()) else {
            return SCOMO_RESULT_NULL_POINTER;
        };
        if platform.is_null() || agent.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        if storage_size < AGENT_SIZE {
            return SCOMO_RESULT_TOO_SMALL;
        }
        if !p.as_ptr().is_aligned() {
            return SCOMO_RESULT_MISALIGNED;
        }
        // SAFETY: non-null and readable, as the caller promises.
        let table = unsafe { platform.read() };
        if !table.is_complete() {
            return SCOMO_RESULT_INVALID_ARGUMENT;
        }
        // SAFETY: large enough and aligned (checked), readable as the caller promises.
        if unsafe { is_live(p) } {
            return SCOMO_RESULT_WRONG_ORDER;
        }
        // SAFETY: large enough, aligned, writable and not in use (checked above).
        unsafe {
            create(
                p,
                CComponents(table.components),
                CState(table.state),
                CInstaller(table.installer),
                CRandom(table.random),
                Logger(table.log),
            );
            agent.write(p.as_ptr().cast());
        }
        SCOMO_RESULT_OK
    })
}

/// Configures the agent and starts it: copies `config`, provisions the management tree and
/// recovers what the state store holds (the inventory, unfinished jobs, unacknowledged
/// results, nonces); unfinished jobs are finished or failed by the next polls. Call once
/// after `scomo_agent_init`. Next: `scomo_agent_poll`.
///
/// Returns `SCOMO_RESULT_NULL_POINTER` (a required string missing),
/// `SCOMO_RESULT_INVALID_ARGUMENT` (an unknown enum value, a string that is not UTF-8 or
/// not a valid value, `max_msg_size` below `SCOMO_MIN_MSG_SIZE`), `SCOMO_RESULT_TOO_LONG`,
/// `SCOMO_RESULT_WRONG_ORDER` (configured already), or a store error. After an error the
/// agent stays unconfigured and `scomo_agent_configure` may be called again.
///
/// # Power loss
/// Reads the stores and writes nothing.
///
/// # Safety
/// `agent` is a handle from `scomo_agent_init` (or NULL); `config` is readable and its
/// strings NUL-terminated (or NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_configure(
    agent: *mut scomo_agent,
    config: *const scomo_config,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        if config.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        // SAFETY: non-null and readable, as the caller promises.
        let c = unsafe { config.read() };
        // SAFETY: no client exists yet (stage Created), so nothing borrows the strings.
        let (strings, core) = unsafe { a.strings_and_core() };
        // SAFETY: the config's strings are NULL or NUL-terminated, as the caller promises.
        let checked = match unsafe { config::check(&c, strings) } {
            Ok(checked) => checked,
            Err(e) => return e,
        };
        let strings: &'static crate::storage::Strings = strings;
        let client_config = config::client_config(
            &checked,
            strings,
            !c.server_password.is_null(),
            core.components.0.slot_capacity,
        );
        let Core {
            components,
            state,
            installer,
            scratch,
            client,
            log,
            ..
        } = core;
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        // Built in the agent's storage, then provisioned and restored there.
        let started = place(client, client_config).and_then(|booted| {
            config::provision(booted.tree_mut(), &checked, strings)?;
            booted.restore(&mut p).map_err(from_client)
        });
        match started {
            Ok(()) => {
                log!(
                    log,
                    SCOMO_LOG_INFO,
                    "agent configured for {}",
                    strings.server_uri
                );
                a.set_stage(Stage::Running);
                SCOMO_RESULT_OK
            }
            Err(e) => {
                *client = None;
                log!(
                    log,
                    SCOMO_LOG_WARN,
                    "cannot start: {}",
                    crate::result::name(e)
                );
                e
            }
        }
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Created, body) }
}

/// Writes a client with an empty tree into `slot`. Its own frame holds the client while it
/// is built and is gone before the tree is provisioned and the state restored (the
/// deepest point of starting the agent on a microcontroller).
#[inline(never)]
fn place<'a>(
    slot: &'a mut Option<FfiClient>,
    config: scomo::client::ClientConfig<'static>,
) -> Result<&'a mut FfiClient, scomo_result> {
    let tree = config::empty_tree()?;
    Ok(slot.insert(Client::new(config, tree)))
}

/// Takes a Package #0 (a server's notification, `len` bytes): when it verifies (server id,
/// digest with the server's password and nonce, a session id not served before) a
/// server-initiated session is due at the next `scomo_agent_poll`.
///
/// Returns `SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED`, `_REPLAYED`, `_MALFORMED` when refused
/// (nothing changes then), `SCOMO_RESULT_NULL_POINTER`, `SCOMO_RESULT_WRONG_ORDER` (not
/// configured), or a store error.
///
/// # Power loss
/// The served session id is stored before the session is made due: after a cut, the same
/// notification starts no second session.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `bytes` has `len` readable bytes (or is NULL
/// when `len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_notification(
    agent: *mut scomo_agent,
    bytes: *const u8,
    len: usize,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        // SAFETY: `len` readable bytes or NULL, as the caller promises.
        let Some(bytes) = (unsafe { slice(bytes, len) }) else {
            return SCOMO_RESULT_NULL_POINTER;
        };
        let Core {
            components,
            state,
            installer,
            scratch,
            client,
            log,
            ..
        } = a.core();
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        match client.notification(bytes, &mut p) {
            Ok(()) => {
                log!(
                    log,
                    SCOMO_LOG_INFO,
                    "notification accepted: a session is due"
                );
                SCOMO_RESULT_OK
            }
            Err(e) => {
                log!(log, SCOMO_LOG_WARN, "notification refused: {e}");
                from_notification(e)
            }
        }
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Makes a device-initiated session due at the next `scomo_agent_poll`, asking the server
/// for the component `pkg_id` (its `PkgID`) when it is not NULL.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` (not configured, or a session is running),
/// `SCOMO_RESULT_TOO_LONG` (over `SCOMO_REQUEST_CAP`), `SCOMO_RESULT_INVALID_ARGUMENT` (not
/// UTF-8), `SCOMO_RESULT_RANDOM_FAILED`.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `pkg_id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_request_session(
    agent: *mut scomo_agent,
    pkg_id: *const c_char,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        // SAFETY: NULL or NUL-terminated, as the caller promises.
        let request = match unsafe { borrow(pkg_id) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let core = a.core();
        let running = core.client.as_ref().is_none_or(Client::in_session)
            || matches!(core.pending, Pending::Answer | Pending::LastSent);
        if running {
            return SCOMO_RESULT_WRONG_ORDER;
        }
        let request = match request {
            Some(id) => {
                // SAFETY: no session runs, so nothing live borrows the old request.
                let slot = unsafe { a.request() };
                *slot = match heapless::String::try_from(id) {
                    Ok(s) => s,
                    Err(_) => return SCOMO_RESULT_TOO_LONG,
                };
                let slot: &'static heapless::String<{ crate::capacity::SCOMO_REQUEST_CAP }> = slot;
                Some(slot.as_str())
            }
            None => None,
        };
        let Core { client, random, .. } = a.core();
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        match client.request_session(random, request) {
            Ok(()) => SCOMO_RESULT_OK,
            Err(e) => from_client(e),
        }
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Does the next bounded piece of work and says what the caller should do next
/// (`*action`, see `SCOMO_ACTION_*`). `now_ms` is the caller's clock in milliseconds
/// (monotonic; any origin). Installer and store callbacks run inside this call.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` while the caller owes an answer (a SEND not yet
/// answered, a FETCH not ended, a POST_NOTIFY not done), or a store or capacity error.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `action` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_poll(
    agent: *mut scomo_agent,
    now_ms: u64,
    action: *mut scomo_action,
) -> scomo_result {
    let mut produced = Err(SCOMO_RESULT_WRONG_ORDER);
    let body = |a: &mut Entered| -> scomo_result {
        if action.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        let core = a.core();
        match core.pending {
            Pending::Nothing => {}
            Pending::LastSent => {
                if let Some(c) = core.client.as_mut() {
                    c.end_session();
                }
                core.pending = Pending::Nothing;
            }
            Pending::Answer | Pending::Fetch { .. } | Pending::Notify { .. } => {
                return SCOMO_RESULT_WRONG_ORDER;
            }
        }
        let Core {
            components,
            state,
            installer,
            random,
            log,
            client,
            pending,
            out,
            send,
            work,
            scratch,
        } = core;
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        produced = client
            .poll(now_ms, &mut p, random, &mut work[..], &mut send[..])
            .map_err(|e| {
                log!(log, SCOMO_LOG_WARN, "poll: {e}");
                from_client(e)
            })
            .and_then(|next| fill(next, out, pending, log));
        produced.err().unwrap_or(SCOMO_RESULT_OK)
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    let r = unsafe { enter(agent, Stage::Running, body) };
    // SAFETY: `action` is NULL or writable, as the caller promises.
    unsafe { deliver(action, r, produced) }
}

/// Gives the server's answer to the SEND just done (`len` bytes of `body`, its
/// `Content-Type` and its `x-syncml-hmac` header, each NULL when absent) and says what to
/// do next (`*action`: another SEND, or SESSION_ENDED).
///
/// Bytes that are not a valid message of the session are not an API error: the session
/// then ends (a SEND with `last`, carrying the device's abort, or SESSION_ENDED).
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` when no SEND waits for an answer,
/// `SCOMO_RESULT_NULL_POINTER`, or a store or capacity error (the session is then over).
///
/// # Power loss
/// What the message applied (the tree, new jobs) is stored before the reply that
/// acknowledges it is returned.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `body` has `len` readable bytes (or is NULL when
/// `len` is 0); `content_type` and `hmac` are NULL or NUL-terminated; `action` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_dm_answer(
    agent: *mut scomo_agent,
    body: *const u8,
    len: usize,
    content_type: *const c_char,
    hmac: *const c_char,
    action: *mut scomo_action,
) -> scomo_result {
    let mut produced = Err(SCOMO_RESULT_WRONG_ORDER);
    let run = |a: &mut Entered| -> scomo_result {
        if action.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        // SAFETY: `len` readable bytes or NULL, as the caller promises.
        let Some(body) = (unsafe { slice(body, len) }) else {
            return SCOMO_RESULT_NULL_POINTER;
        };
        // Outside input: a header that is not UTF-8 fails the session's checks.
        // SAFETY: NULL or NUL-terminated, as the caller promises.
        let content_type = unsafe { borrow(content_type) }.ok().flatten().unwrap_or("");
        // SAFETY: as above.
        let hmac = unsafe { borrow(hmac) }.unwrap_or(Some(""));
        let Core {
            components,
            state,
            installer,
            random,
            log,
            client,
            pending,
            out,
            send,
            work,
            scratch,
        } = a.core();
        if *pending != Pending::Answer {
            return SCOMO_RESULT_WRONG_ORDER;
        }
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        let received = Received {
            body,
            content_type,
            hmac,
        };
        *pending = Pending::Nothing;
        produced = client
            .dm_reply(received, &mut p, random, &mut work[..], &mut send[..])
            .map_err(|e| {
                log!(log, SCOMO_LOG_WARN, "session step: {e}");
                from_client(e)
            })
            .and_then(|next| fill(next, out, pending, log));
        produced.err().unwrap_or(SCOMO_RESULT_OK)
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    let r = unsafe { enter(agent, Stage::Running, run) };
    // SAFETY: `action` is NULL or writable, as the caller promises.
    unsafe { deliver(action, r, produced) }
}

/// Ends the running session: after its `last` message was sent, or when sending a message
/// or receiving its answer failed. Results the server did not acknowledge stay queued for
/// a later session.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` when no session runs.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_end_session(agent: *mut scomo_agent) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        let core = a.core();
        if !matches!(core.pending, Pending::Answer | Pending::LastSent) {
            return SCOMO_RESULT_WRONG_ORDER;
        }
        if let Some(c) = core.client.as_mut() {
            c.end_session();
        }
        core.pending = Pending::Nothing;
        SCOMO_RESULT_OK
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Gives the head of the answer to the FETCH just started and sets `*flow`: go on with
/// the body (`SCOMO_FLOW_CONTINUE`) or stop reading (`SCOMO_FLOW_STOP`; then call
/// `scomo_agent_fetch_end`). Call it once per fetch, before any body.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` (no FETCH, or its head was given), or
/// `SCOMO_RESULT_NULL_POINTER`.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `head` is readable and its strings NULL or
/// NUL-terminated; `flow` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_fetch_head(
    agent: *mut scomo_agent,
    head: *const scomo_fetch_head,
    flow_out: *mut scomo_flow,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        if head.is_null() || flow_out.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        let Core {
            components,
            state,
            installer,
            client,
            pending,
            scratch,
            ..
        } = a.core();
        let Pending::Fetch { job, head: false } = *pending else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        // SAFETY: non-null and readable, as the caller promises.
        let h = unsafe { head.read() };
        // Outside input: a header that is not UTF-8 counts as absent.
        // SAFETY: the head's strings are NULL or NUL-terminated, as the caller promises.
        let text = |p: *const c_char| unsafe { borrow(p) }.ok().flatten();
        let head = FetchHead {
            status: h.status,
            content_type: text(h.content_type),
            content_length: u64::try_from(h.content_length).ok(),
            content_range: text(h.content_range),
            validator: text(h.validator),
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        let f = client.fetch_head(job, &head, &mut p);
        *pending = Pending::Fetch { job, head: true };
        // SAFETY: non-null and writable, as the caller promises.
        unsafe { flow_out.write(flow(f)) };
        SCOMO_RESULT_OK
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Gives `len` bytes of the body of the FETCH's answer (any number of calls, in order) and
/// sets `*flow`.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` (no FETCH, or no head yet),
/// `SCOMO_RESULT_NULL_POINTER`.
///
/// # Power loss
/// The bytes are written to the component store, durable in its units: after a cut the
/// download resumes from the store's durable length.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `bytes` has `len` readable bytes (or is NULL when
/// `len` is 0); `flow` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_fetch_body(
    agent: *mut scomo_agent,
    bytes: *const u8,
    len: usize,
    flow_out: *mut scomo_flow,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        if flow_out.is_null() {
            return SCOMO_RESULT_NULL_POINTER;
        }
        // SAFETY: `len` readable bytes or NULL, as the caller promises.
        let Some(bytes) = (unsafe { slice(bytes, len) }) else {
            return SCOMO_RESULT_NULL_POINTER;
        };
        let Core {
            components,
            state,
            installer,
            client,
            pending,
            scratch,
            ..
        } = a.core();
        let Pending::Fetch { job, head: true } = *pending else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        let f = client.fetch_body(job, bytes, &mut p);
        // SAFETY: non-null and writable, as the caller promises.
        unsafe { flow_out.write(flow(f)) };
        SCOMO_RESULT_OK
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Ends the FETCH: `SCOMO_FETCH_DONE` when the answer was read (or reading stopped because
/// the agent said stop), else how it failed (`SCOMO_FETCH_*`). Always call it once per
/// FETCH, even when no head arrived. Next: `scomo_agent_poll`.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` (no FETCH), `SCOMO_RESULT_INVALID_ARGUMENT` (an
/// unknown `end`; the fetch stays open).
///
/// # Safety
/// `agent` as for `scomo_agent_configure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_fetch_end(
    agent: *mut scomo_agent,
    end: scomo_fetch_end,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        let Core {
            components,
            state,
            installer,
            client,
            pending,
            scratch,
            ..
        } = a.core();
        let Pending::Fetch { job, .. } = *pending else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let Some(outcome) = fetch_outcome(end) else {
            return SCOMO_RESULT_INVALID_ARGUMENT;
        };
        let Some(client) = client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let mut p = Platform {
            components,
            state,
            installer,
            scratch: &mut scratch[..],
        };
        client.fetch_end(job, outcome, &mut p);
        *pending = Pending::Nothing;
        SCOMO_RESULT_OK
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Says the POST_NOTIFY is done: `delivered` when the server answered 2xx.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` when no POST_NOTIFY waits.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_notify_done(
    agent: *mut scomo_agent,
    delivered: bool,
) -> scomo_result {
    let body = |a: &mut Entered| -> scomo_result {
        let core = a.core();
        let Pending::Notify { job } = core.pending else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        let Some(client) = core.client.as_mut() else {
            return SCOMO_RESULT_WRONG_ORDER;
        };
        client.notify_done(job, delivered);
        core.pending = Pending::Nothing;
        SCOMO_RESULT_OK
    };
    // SAFETY: `agent` is NULL or a handle from `scomo_agent_init`, as the caller promises.
    unsafe { enter(agent, Stage::Running, body) }
}

/// Sets `*count` to the number of results (Generic Alerts) waiting for the server's
/// acknowledgement.
///
/// Returns `SCOMO_RESULT_WRONG_ORDER` (not configured), `SCOMO_RESULT_NULL_POINTER`.
///
/// # Safety
/// `agent` as for `scomo_agent_configure`; `count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_pending_reports(
    agent: *const scomo_agent,
    count: *mut usize,
) -> scomo_result {
    // SAFETY: as the caller promises.
    let n = unsafe {
        peek(agent, |core| {
            core.client
                .as_ref()
                .map(Client::pending_reports)
                .ok_or(SCOMO_RESULT_WRONG_ORDER)
        })
    };
    match n {
        Ok(_) if count.is_null() => SCOMO_RESULT_NULL_POINTER,
        Ok(n) => {
            // SAFETY: non-null and writable, as the caller promises.
            unsafe { count.write(n) };
            SCOMO_RESULT_OK
        }
        Err(e) => e,
    }
}

/// Releases the agent: its storage is wiped (passwords included) and marked released, so
/// every later call with this handle returns `SCOMO_RESULT_RELEASED`. The storage may then
/// be reused (`scomo_agent_init`) or freed. Nothing durable changes: a new agent configured
/// over the same stores carries on where this one stopped (this is also what a restart
/// does).
///
/// Returns `SCOMO_RESULT_RELEASED` when released already, `SCOMO_RESULT_BUSY` from inside a
/// callback.
///
/// # Safety
/// `agent` is a handle from `scomo_agent_init` (or NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scomo_agent_release(agent: *mut scomo_agent) -> scomo_result {
    guarded(|| {
        // SAFETY: as the caller promises.
        match unsafe { enter_for_release(agent) } {
            Ok(entered) => {
                destroy(entered);
                SCOMO_RESULT_OK
            }
            Err(e) => e,
        }
    })
}

/// A byte slice from C: `None` for NULL with a length.
///
/// # Safety
/// `p` has `len` readable bytes, or is NULL.
unsafe fn slice<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null with `len` readable bytes, as the caller promises.
    Some(unsafe { core::slice::from_raw_parts(p, len) })
}
