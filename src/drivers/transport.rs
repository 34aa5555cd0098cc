//! The network backend firmware plugs in, and the drivers that run a [`Client`] over it.
//!
//! A firmware engineer implements one small trait — [`Transport`] (blocking) or
//! [`AsyncTransport`] (async) — for the network stack the device has, and calls
//! [`run`] or [`run_async`]. The three requests are the whole of SCOMO's traffic:
//!
//! | Method | What it carries |
//! |---|---|
//! | `exchange` | one DM message (POST, content type and `x-syncml-hmac` header) for the server's answer |
//! | `fetch` | a byte range of a package or download descriptor (GET with `Range`), streamed into a sink |
//! | `post_notify` | an install-notify report (POST `text/plain`) |
//!
//! The drivers hold no state of their own: all logic is in the sans-IO [`Client`], and the
//! blocking and async drivers are the same loop (one macro), so there is one implementation.

use crate::client::{Client, ClientError, Next};
use crate::dm::session::{Outgoing, Received, Summary};
use crate::ops::{FetchFailure, FetchHead, Flow, JobId, Platform, URL_CAP, VALIDATOR_CAP};
use crate::platform::{ComponentStore, Installer, Rng, StateStore};

/// Longest content type a [`DmAnswer`] keeps.
pub const CONTENT_TYPE_CAP: usize = 64;
/// Longest `x-syncml-hmac` header a [`DmAnswer`] keeps.
pub const HMAC_CAP: usize = 160;
/// Longest install-notify report body.
pub const NOTIFY_CAP: usize = 64;

/// The server's answer to a DM message: its body is in the caller's receive buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmAnswer {
    /// Bytes of the body in the receive buffer.
    pub len: usize,
    /// The HTTP `Content-Type`.
    pub content_type: heapless::String<CONTENT_TYPE_CAP>,
    /// The `x-syncml-hmac` header, if any.
    pub hmac: Option<heapless::String<HMAC_CAP>>,
}

/// Where a fetch's answer goes: the head once, then the body in pieces.
pub trait FetchSink {
    /// The response head. [`Flow::Stop`] ends the fetch (close the connection).
    fn head(&mut self, head: &FetchHead<'_>) -> Flow;
    /// The next body bytes. [`Flow::Stop`] ends the fetch.
    fn body(&mut self, bytes: &[u8]) -> Flow;
}

/// A blocking network backend.
pub trait Transport {
    /// The backend's error for DM exchanges and notify posts.
    type Error: core::fmt::Debug;

    /// POSTs `msg.body` to `msg.url` with `Content-Type: msg.content_type` (and the
    /// `x-syncml-hmac` header when set) and writes the answer's body into `reply`.
    ///
    /// # Errors
    /// The backend's error when there is no usable answer (no connection, an HTTP error,
    /// a body longer than `reply`).
    fn exchange(&mut self, msg: &Outgoing<'_>, reply: &mut [u8]) -> Result<DmAnswer, Self::Error>;

    /// GETs `url` from byte `offset` (`Range: bytes=<offset>-`, with `If-Range` when
    /// `if_range` is given), feeding the head and the body to `sink` as they arrive.
    ///
    /// # Errors
    /// How the fetch failed below the body (see [`FetchFailure`]); `Ok` when the body was
    /// read to its end or the sink stopped it.
    fn fetch(
        &mut self,
        url: &str,
        offset: u64,
        if_range: Option<&str>,
        sink: &mut dyn FetchSink,
    ) -> Result<(), FetchFailure>;

    /// POSTs an install-notify report; `Ok(true)` when the server answered 2xx.
    ///
    /// # Errors
    /// The backend's error when the post could not be made.
    fn post_notify(&mut self, url: &str, body: &str) -> Result<bool, Self::Error>;
}

/// An async network backend: [`Transport`]'s twin.
#[allow(async_fn_in_trait)] // executors on microcontrollers are single-threaded
pub trait AsyncTransport {
    /// The backend's error.
    type Error: core::fmt::Debug;

    /// As [`Transport::exchange`].
    async fn exchange(
        &mut self,
        msg: &Outgoing<'_>,
        reply: &mut [u8],
    ) -> Result<DmAnswer, Self::Error>;

    /// As [`Transport::fetch`].
    async fn fetch(
        &mut self,
        url: &str,
        offset: u64,
        if_range: Option<&str>,
        sink: &mut dyn FetchSink,
    ) -> Result<(), FetchFailure>;

    /// As [`Transport::post_notify`].
    async fn post_notify(&mut self, url: &str, body: &str) -> Result<bool, Self::Error>;
}

/// The buffers a driver lends the client: `tx` for the device's messages, `rx` for the
/// server's (its size is the `MaxMsgSize` the device advertises), `work` for the session
/// engine (512 bytes or more).
#[derive(Debug)]
pub struct Buffers<'b> {
    /// The device's outgoing message.
    pub tx: &'b mut [u8],
    /// The server's answer.
    pub rx: &'b mut [u8],
    /// The session engine's scratch.
    pub work: &'b mut [u8],
}

/// Why a driver returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stop {
    /// Nothing to do: call again after a notification, a request, or when convenient.
    Idle,
    /// Nothing to do before this time (the clock's milliseconds): sleep, then call again.
    WaitUntil(u64),
    /// The installer asked for a restart.
    Restart,
    /// `max_sessions` sessions ran; results may still wait.
    SessionLimit,
}

/// Why a driver failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunError<E> {
    /// The client failed (a store, the session engine).
    Client(ClientError),
    /// The transport failed during a DM exchange (the session is abandoned; results stay
    /// queued).
    Transport(E),
}

impl<E> From<ClientError> for RunError<E> {
    fn from(e: ClientError) -> Self {
        RunError::Client(e)
    }
}

/// What the drivers did, across calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Sessions run (started), including ones that failed.
    pub sessions: u32,
    /// The summary of the last session that ended.
    pub last_session: Option<Summary>,
    /// Fetches issued.
    pub fetches: u32,
}

/// Feeds a fetch's answer to the client.
struct ClientSink<
    'x,
    'c,
    'b,
    C,
    S,
    I,
    const DL: usize,
    const DV: usize,
    const DP: usize,
    const ACL: usize,
    const JOBS: usize,
    const OUTBOX: usize,
    const PKGS: usize,
> {
    client: &'x mut Client<'c, DL, DV, DP, ACL, JOBS, OUTBOX, PKGS>,
    p: &'x mut Platform<'b, C, S, I>,
    job: JobId,
}

impl<
    C: ComponentStore,
    S: StateStore,
    I,
    const DL: usize,
    const DV: usize,
    const DP: usize,
    const ACL: usize,
    const JOBS: usize,
    const OUTBOX: usize,
    const PKGS: usize,
> FetchSink for ClientSink<'_, '_, '_, C, S, I, DL, DV, DP, ACL, JOBS, OUTBOX, PKGS>
{
    fn head(&mut self, head: &FetchHead<'_>) -> Flow {
        self.client.fetch_head(self.job, head, self.p)
    }

    fn body(&mut self, bytes: &[u8]) -> Flow {
        self.client.fetch_body(self.job, bytes, self.p)
    }
}

/// Copies a borrowed string into a fixed-capacity one; `None` when it does not fit.
fn owned<const N: usize>(s: &str) -> Option<heapless::String<N>> {
    heapless::String::try_from(s).ok()
}

/// The one driver loop, written once for the blocking and the async transport.
macro_rules! drive {
    ($client:ident, $transport:ident, $p:ident, $rng:ident, $bufs:ident, $now:ident, $max:ident, $stats:ident, $($await:tt)*) => {{
        let Buffers { tx, rx, work } = $bufs;
        loop {
            let mut next = $client.poll($now(), $p, $rng, work, tx)?;
            if matches!(next, Next::Send(_)) {
                $stats.sessions += 1;
            }
            loop {
                match next {
                    Next::Send(msg) => {
                        let last = msg.last;
                        let answer = $transport.exchange(&msg, rx)$($await)*;
                        let answer = match answer {
                            Ok(a) => a,
                            Err(e) => {
                                $stats.last_session = $client.end_session();
                                return Err(RunError::Transport(e));
                            }
                        };
                        if last {
                            $stats.last_session = $client.end_session();
                            break;
                        }
                        let received = Received {
                            body: rx.get(..answer.len).unwrap_or_default(),
                            content_type: answer.content_type.as_str(),
                            hmac: answer.hmac.as_deref(),
                        };
                        next = $client.dm_reply(received, $p, $rng, work, tx)?;
                    }
                    Next::SessionEnded(summary) => {
                        $stats.last_session = Some(summary);
                        break;
                    }
                    Next::Fetch { job, url, offset, if_range } => {
                        $stats.fetches += 1;
                        let url = owned::<URL_CAP>(url);
                        let if_range = if_range.and_then(owned::<VALIDATOR_CAP>);
                        let outcome = match url {
                            Some(url) => {
                                let mut sink = ClientSink { client: &mut *$client, p: &mut *$p, job };
                                $transport.fetch(&url, offset, if_range.as_deref(), &mut sink)$($await)*
                            }
                            None => Err(FetchFailure::NotFound),
                        };
                        $client.fetch_end(job, outcome, $p);
                        break;
                    }
                    Next::PostNotify { job, url, body } => {
                        let (url, body) = (owned::<URL_CAP>(url), owned::<NOTIFY_CAP>(body));
                        let delivered = match (url, body) {
                            (Some(url), Some(body)) => {
                                $transport.post_notify(&url, &body)$($await)*.unwrap_or(false)
                            }
                            _ => false,
                        };
                        $client.notify_done(job, delivered);
                        break;
                    }
                    Next::WaitUntil(t) if t <= $now() => break,
                    Next::WaitUntil(t) => return Ok(Stop::WaitUntil(t)),
                    Next::Idle => return Ok(Stop::Idle),
                    Next::Restart => return Ok(Stop::Restart),
                }
            }
            if $stats.sessions >= $max && $client.pending_reports() > 0 && !$client.in_session() {
                return Ok(Stop::SessionLimit);
            }
        }
    }};
}

/// Runs the client over a blocking transport until there is nothing to do now: every due
/// session, fetch and report is carried out. `now` is a monotonic clock in milliseconds.
/// Stops with [`Stop::SessionLimit`] once `stats.sessions` reaches `max_sessions` while
/// results still wait.
///
/// # Errors
/// [`RunError::Transport`] when a DM exchange fails (the session is abandoned, results
/// stay queued); [`RunError::Client`] when a store or the session engine fails.
#[allow(clippy::too_many_arguments)]
pub fn run<
    T,
    C,
    S,
    I,
    R,
    const DL: usize,
    const DV: usize,
    const DP: usize,
    const ACL: usize,
    const JOBS: usize,
    const OUTBOX: usize,
    const PKGS: usize,
>(
    client: &mut Client<'_, DL, DV, DP, ACL, JOBS, OUTBOX, PKGS>,
    transport: &mut T,
    p: &mut Platform<'_, C, S, I>,
    rng: &mut R,
    bufs: Buffers<'_>,
    now: &mut dyn FnMut() -> u64,
    max_sessions: u32,
    stats: &mut RunStats,
) -> Result<Stop, RunError<T::Error>>
where
    T: Transport,
    C: ComponentStore,
    S: StateStore,
    I: Installer,
    R: Rng,
{
    drive!(client, transport, p, rng, bufs, now, max_sessions, stats,)
}

/// [`run`] over an [`AsyncTransport`].
///
/// # Errors
/// As [`run`].
#[allow(clippy::too_many_arguments)]
pub async fn run_async<
    T,
    C,
    S,
    I,
    R,
    const DL: usize,
    const DV: usize,
    const DP: usize,
    const ACL: usize,
    const JOBS: usize,
    const OUTBOX: usize,
    const PKGS: usize,
>(
    client: &mut Client<'_, DL, DV, DP, ACL, JOBS, OUTBOX, PKGS>,
    transport: &mut T,
    p: &mut Platform<'_, C, S, I>,
    rng: &mut R,
    bufs: Buffers<'_>,
    now: &mut dyn FnMut() -> u64,
    max_sessions: u32,
    stats: &mut RunStats,
) -> Result<Stop, RunError<T::Error>>
where
    T: AsyncTransport,
    C: ComponentStore,
    S: StateStore,
    I: Installer,
    R: Rng,
{
    drive!(client, transport, p, rng, bufs, now, max_sessions, stats, .await)
}
