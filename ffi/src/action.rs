//! What the agent asks the caller to do next, and what the caller feeds back from a fetch.

use core::ffi::c_char;

use scomo::client::Next;
use scomo::dm::session::{AbortReason, End, Summary};
use scomo::ops::{FetchFailure, Flow};

use crate::log::{SCOMO_LOG_DEBUG, SCOMO_LOG_INFO, log};
use crate::result::{SCOMO_RESULT_OK, SCOMO_RESULT_TOO_LONG, scomo_result};
use crate::storage::{Out, Pending};

/// The kind of an action (`SCOMO_ACTION_*`).
pub type scomo_action_kind = i32;
/// No action (the call failed).
pub const SCOMO_ACTION_NONE: scomo_action_kind = 0;
/// POST `body` (`body_len` bytes) to `url` with `Content-Type: content_type` (and
/// `Accept` the same), plus the header `x-syncml-hmac: hmac` when `hmac` is not NULL; give
/// the answer to `scomo_agent_dm_answer`. When `last` is set, the session is over once it
/// is sent: give no answer, call `scomo_agent_poll` next (or `scomo_agent_end_session`).
/// If the POST fails, call `scomo_agent_end_session`.
pub const SCOMO_ACTION_SEND: scomo_action_kind = 1;
/// GET `url`; when `offset` is not 0 ask for `Range: bytes=<offset>-`, with
/// `If-Range: if_range` when `if_range` is not NULL. Feed the answer with
/// `scomo_agent_fetch_head`, `scomo_agent_fetch_body` and, always, one
/// `scomo_agent_fetch_end`.
pub const SCOMO_ACTION_FETCH: scomo_action_kind = 2;
/// POST `body` (`body_len` bytes, `Content-Type: text/plain`) to `url` (an install-notify
/// report), then call `scomo_agent_notify_done`.
pub const SCOMO_ACTION_POST_NOTIFY: scomo_action_kind = 3;
/// A session ended (see `session`); call `scomo_agent_poll` again.
pub const SCOMO_ACTION_SESSION_ENDED: scomo_action_kind = 4;
/// Nothing to do before `wait_until_ms` (the caller's clock); a time not after now means
/// "poll again at once".
pub const SCOMO_ACTION_WAIT: scomo_action_kind = 5;
/// Nothing to do until a notification, a session request or new work.
pub const SCOMO_ACTION_IDLE: scomo_action_kind = 6;
/// The installer's work takes effect after a restart: restart the device when convenient,
/// then init and configure the agent again (it recovers from the stores).
pub const SCOMO_ACTION_RESTART: scomo_action_kind = 7;

/// How a session ended (`SCOMO_SESSION_*`).
pub type scomo_session_end = i32;
/// The server's package held nothing that needed an answer.
pub const SCOMO_SESSION_COMPLETED: scomo_session_end = 0;
/// The server sent Alert 1223 (session abort).
pub const SCOMO_SESSION_ABORTED_BY_SERVER: scomo_session_end = 1;
/// The device ended it: the server's message was not a DM 1.2 message of this session
/// (malformed, oversized, duplicate or unknown references, a RespURI too long, more
/// replies than fit).
pub const SCOMO_SESSION_REFUSED_MESSAGE: scomo_session_end = 2;
/// The device ended it: the server refused the device's credentials, or did not
/// authenticate itself.
pub const SCOMO_SESSION_AUTH_FAILED: scomo_session_end = 3;

/// What a session did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct scomo_session_summary {
    /// How it ended (`SCOMO_SESSION_*`).
    pub end: scomo_session_end,
    /// Messages the device sent (Package 1 included).
    pub messages_sent: u16,
    /// Messages the device received.
    pub messages_received: u16,
    /// Large Objects (pushed packages) stored.
    pub objects_committed: u16,
    /// Results (Generic Alerts) the server acknowledged.
    pub reports_acknowledged: u16,
    /// The server's status for the component request, 0 when none was sent or answered.
    pub request_status: u16,
}

/// The next thing to do. Which fields mean something depends on `kind` (see
/// `SCOMO_ACTION_*`); the others are 0 or NULL. Strings are NUL-terminated; pointers stay
/// valid until the next call on the same agent.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_action {
    /// `SCOMO_ACTION_*`.
    pub kind: scomo_action_kind,
    /// SEND, FETCH, POST_NOTIFY: where to.
    pub url: *const c_char,
    /// SEND, POST_NOTIFY: the bytes to post.
    pub body: *const u8,
    /// SEND, POST_NOTIFY: how many.
    pub body_len: usize,
    /// SEND, POST_NOTIFY: the `Content-Type`.
    pub content_type: *const c_char,
    /// SEND: the `x-syncml-hmac` header value, or NULL.
    pub hmac: *const c_char,
    /// SEND: the session is over once this is sent (no answer is expected).
    pub last: bool,
    /// FETCH: the first byte wanted.
    pub offset: u64,
    /// FETCH: the `If-Range` value, or NULL.
    pub if_range: *const c_char,
    /// WAIT: poll again at this time (milliseconds, the caller's clock).
    pub wait_until_ms: u64,
    /// SESSION_ENDED: what the session did.
    pub session: scomo_session_summary,
}

impl scomo_action {
    /// An action of `kind` with every other field empty.
    pub(crate) const fn empty(kind: scomo_action_kind) -> Self {
        Self {
            kind,
            url: core::ptr::null(),
            body: core::ptr::null(),
            body_len: 0,
            content_type: core::ptr::null(),
            hmac: core::ptr::null(),
            last: false,
            offset: 0,
            if_range: core::ptr::null(),
            wait_until_ms: 0,
            session: scomo_session_summary {
                end: 0,
                messages_sent: 0,
                messages_received: 0,
                objects_committed: 0,
                reports_acknowledged: 0,
                request_status: 0,
            },
        }
    }
}

/// The head of the answer to a FETCH. Strings are NUL-terminated or NULL; a string that is
/// not UTF-8 counts as absent.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_fetch_head {
    /// The HTTP status (after redirects).
    pub status: u16,
    /// `Content-Type`, or NULL.
    pub content_type: *const c_char,
    /// `Content-Length`, or -1 when unknown.
    pub content_length: i64,
    /// `Content-Range` (of a 206 or 416), or NULL.
    pub content_range: *const c_char,
    /// The object's validator: `ETag`, else `Last-Modified`, else NULL.
    pub validator: *const c_char,
}

/// Whether to go on reading a fetch's body (`SCOMO_FLOW_*`).
pub type scomo_flow = i32;
/// Feed the body.
pub const SCOMO_FLOW_CONTINUE: scomo_flow = 0;
/// Stop reading (close the connection) and call `scomo_agent_fetch_end`.
pub const SCOMO_FLOW_STOP: scomo_flow = 1;

/// How a fetch ended (`SCOMO_FETCH_*`), for `scomo_agent_fetch_end`.
pub type scomo_fetch_end = i32;
/// The answer was read (or reading stopped because the agent said `SCOMO_FLOW_STOP`).
pub const SCOMO_FETCH_DONE: scomo_fetch_end = 0;
/// 404 or 410 classified by the caller (result 1402).
pub const SCOMO_FETCH_NOT_FOUND: scomo_fetch_end = 1;
/// 401 or 403 classified by the caller (result 1403).
pub const SCOMO_FETCH_UNAUTHORIZED: scomo_fetch_end = 2;
/// 5xx classified by the caller: retried with backoff, then result 1500.
pub const SCOMO_FETCH_SERVER_ERROR: scomo_fetch_end = 3;
/// No connection, no answer, a timeout: retried with backoff, then result 1501.
pub const SCOMO_FETCH_UNREACHABLE: scomo_fetch_end = 4;
/// The connection broke during the body: resumed with a range request, then result 1501.
pub const SCOMO_FETCH_INTERRUPTED: scomo_fetch_end = 5;

/// A fetch end from C as the core's outcome (`None` for an unknown value).
pub(crate) const fn fetch_outcome(end: scomo_fetch_end) -> Option<Result<(), FetchFailure>> {
    Some(match end {
        SCOMO_FETCH_DONE => Ok(()),
        SCOMO_FETCH_NOT_FOUND => Err(FetchFailure::NotFound),
        SCOMO_FETCH_UNAUTHORIZED => Err(FetchFailure::Unauthorized),
        SCOMO_FETCH_SERVER_ERROR => Err(FetchFailure::ServerError),
        SCOMO_FETCH_UNREACHABLE => Err(FetchFailure::Unreachable),
        SCOMO_FETCH_INTERRUPTED => Err(FetchFailure::Interrupted),
        _ => return None,
    })
}

/// The core's flow as C's.
pub(crate) const fn flow(f: Flow) -> scomo_flow {
    match f {
        Flow::Continue => SCOMO_FLOW_CONTINUE,
        Flow::Stop => SCOMO_FLOW_STOP,
    }
}

/// A session summary as C's.
pub(crate) fn summary(s: &Summary) -> scomo_session_summary {
    let end = match s.end {
        Some(End::Completed) | None => SCOMO_SESSION_COMPLETED,
        Some(End::AbortedByServer) => SCOMO_SESSION_ABORTED_BY_SERVER,
        Some(End::Aborted(AbortReason::AuthRejected | AbortReason::ServerNotAuthenticated)) => {
            SCOMO_SESSION_AUTH_FAILED
        }
        Some(End::Aborted(_)) => SCOMO_SESSION_REFUSED_MESSAGE,
    };
    scomo_session_summary {
        end,
        messages_sent: s.messages_sent,
        messages_received: s.messages_received,
        objects_committed: s.objects_committed,
        reports_acknowledged: u16::try_from(s.acknowledged.len()).unwrap_or(u16::MAX),
        request_status: s.request_status.map_or(0, |c| c.code()),
    }
}

/// Copies one string into an out buffer and returns its C pointer.
fn text<const N: usize>(
    buf: &mut crate::text::CText<N>,
    s: &str,
) -> Result<*const c_char, scomo_result> {
    buf.clear();
    let at = buf.push(s).ok_or(SCOMO_RESULT_TOO_LONG)?;
    Ok(buf.ptr(Some(at)))
}

/// Turns the client's `next` into a C action, copying its strings into `out`, and records
/// what the caller owes.
pub(crate) fn fill(
    next: Next<'_>,
    out: &mut Out,
    pending: &mut Pending,
    log: &crate::log::Logger,
) -> Result<scomo_action, scomo_result> {
    let mut a = scomo_action::empty(SCOMO_ACTION_NONE);
    match next {
        Next::Send(msg) => {
            a.kind = SCOMO_ACTION_SEND;
            a.url = text(&mut out.url, msg.url)?;
            a.body = msg.body.as_ptr();
            a.body_len = msg.body.len();
            a.content_type = text(&mut out.content_type, msg.content_type)?;
            a.hmac = match msg.hmac {
                Some(h) => text(&mut out.header, h)?,
                None => core::ptr::null(),
            };
            a.last = msg.last;
            *pending = if msg.last {
                Pending::LastSent
            } else {
                Pending::Answer
            };
            log!(
                log,
                SCOMO_LOG_DEBUG,
                "send {} bytes to {}{}",
                msg.body.len(),
                msg.url,
                if msg.last { " (last)" } else { "" }
            );
        }
        Next::Fetch {
            job,
            url,
            offset,
            if_range,
        } => {
            a.kind = SCOMO_ACTION_FETCH;
            a.url = text(&mut out.url, url)?;
            a.offset = offset;
            a.if_range = match if_range {
                Some(v) => text(&mut out.header, v)?,
                None => core::ptr::null(),
            };
            *pending = Pending::Fetch { job, head: false };
            log!(log, SCOMO_LOG_INFO, "fetch {url} from byte {offset}");
        }
        Next::PostNotify { job, url, body } => {
            a.kind = SCOMO_ACTION_POST_NOTIFY;
            a.url = text(&mut out.url, url)?;
            a.body = text(&mut out.notify, body)?.cast();
            a.body_len = body.len();
            a.content_type = c"text/plain".as_ptr();
            *pending = Pending::Notify { job };
            log!(log, SCOMO_LOG_INFO, "install-notify to {url}: {body}");
        }
        Next::SessionEnded(s) => {
            a.kind = SCOMO_ACTION_SESSION_ENDED;
            a.session = summary(&s);
            *pending = Pending::Nothing;
            log!(
                log,
                SCOMO_LOG_INFO,
                "session ended ({:?}): {} sent, {} received, {} results acknowledged",
                s.end,
                s.messages_sent,
                s.messages_received,
                s.acknowledged.len()
            );
        }
        Next::WaitUntil(t) => {
            a.kind = SCOMO_ACTION_WAIT;
            a.wait_until_ms = t;
            *pending = Pending::Nothing;
        }
        Next::Idle => {
            a.kind = SCOMO_ACTION_IDLE;
            *pending = Pending::Nothing;
        }
        Next::Restart => {
            a.kind = SCOMO_ACTION_RESTART;
            *pending = Pending::Nothing;
            log!(log, SCOMO_LOG_INFO, "the installer asks for a restart");
        }
    }
    Ok(a)
}

/// Writes the action a call produced (an empty one when the call failed with `result`)
/// when `dst` is not NULL, and returns `result`.
///
/// # Safety
/// `dst` is NULL or writable.
pub(crate) unsafe fn deliver(
    dst: *mut scomo_action,
    result: scomo_result,
    produced: Result<scomo_action, scomo_result>,
) -> scomo_result {
    let value = match produced {
        Ok(a) if result == SCOMO_RESULT_OK => a,
        _ => scomo_action::empty(SCOMO_ACTION_NONE),
    };
    if !dst.is_null() {
        // SAFETY: non-null and writable, as the caller promises.
        unsafe { dst.write(value) };
    }
    result
}
