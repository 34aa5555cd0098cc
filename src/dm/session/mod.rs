//! The sans-IO OMA DM 1.2 session engine (digest 6, 7).
//!
//! A [`Session`] runs one DM session of the device with one server. It never touches the
//! network: [`Session::start`] writes Package 1 into a buffer the caller lends, and each
//! [`Session::step`] takes the server's answer (its bytes, content type and
//! `x-syncml-hmac` header) and writes the device's next message, until the session ends.
//! The management tree, the authentication state, the layer above (Execs, Large Object
//! bytes, Generic Alerts) and the randomness are lent to each call in a [`Context`].
//!
//! ```text
//!   caller                         Session                    Context
//!   start(ctx, tx)  ───────────▶  Pkg1: Alert 1201/1200, DevInfo, Generic Alerts
//!   POST tx to Outgoing::url, read the answer into rx
//!   step(ctx, rx, tx) ─────────▶  verify, apply ──────────▶ tree, handler, auth
//!   ◀──── Output::Send(Outgoing) | Output::Finished(Summary) | Output::Aborted(Summary)
//! ```
//!
//! # What a step does
//!
//! 1. Refuses what cannot be a message of this session: a content type other than the
//!    configured encoding's, more bytes than the advertised `MaxMsgSize`, bytes that do not
//!    decode (the codec checks the whole message first), a header that is not DM 1.2 or
//!    names another session, a `CmdID` used twice in the message, a `Status` or `Results`
//!    for a command the device never sent. The device then sends Alert 1223 (session
//!    abort) and the session is over ([`AbortReason`]); nothing of the message is applied.
//! 2. With a server account configured ([`Config::server`]), verifies the server's
//!    credentials (`Cred`, or the `x-syncml-hmac` header over the exact bytes received)
//!    before anything is applied. When they do not verify, the reply is the SyncHdr Status
//!    401/407 with a challenge (a fresh nonce) and the same code for every command; the
//!    tree is untouched.
//! 3. Hands the server's Status for each Generic Alert to
//!    [`SessionHandler::alert_status`], and its Status for our SyncHdr to
//!    [`AuthState::on_header_status`]: a challenge to Package 1 makes the device send
//!    Package 1 again with the credentials asked for.
//! 4. Applies the commands in order, one Status each (`CmdRef`, `MsgRef`, `Cmd`, and the
//!    items' `TargetRef`/`SourceRef`), Results after their Status:
//!    - **Get**: a leaf's value, an interior node's child list, or a property, read with
//!      [`Tree::get`]; inside an Atomic it is refused (500, digest 7.3).
//!    - **Add, Replace, Delete**: [`Tree`]; values in `b64` are decoded first.
//!    - **Exec**: checked by the tree and handed to the handler, whose code (202 for queued
//!      work) is the Exec's status.
//!    - **Copy**: 406 (not supported).
//!    - **Alert**: 1222 is answered 200; UI alerts 1100–1104 go to the optional
//!      [`UiHook`] (406 without one); other codes 406; 1223 ends the session.
//!    - **Sequence**: in order; after a 1101 answered No (304) or a cancelled prompt (214),
//!      the rest of the Sequence is not executed (215).
//!    - **Atomic**: all or nothing. Its commands run with the tree's undo log (the first
//!      half of [`Context::work`]); at the first failure the tree is rolled back, the
//!      commands before get 216 (516 if the rollback failed), the failed one its code, the
//!      rest 215, the Atomic 507. **No side effect survives a rolled-back Atomic**: an Exec
//!      inside one is only checked at its place and handed to the handler when everything
//!      else succeeded (if the handler then refuses, the Atomic is rolled back); an Atomic
//!      takes **at most one Exec** (a second is 406), because the handler cannot undo an
//!      accepted one. A Large Object, or any value of `Inventory/Delivered/<X>/Data`
//!      (which goes to the component store, not the tree), is refused inside an Atomic
//!      (406); so are Get (500), nested Atomic (500), Copy (406) and the UI alerts that
//!      return input (1102–1104, 406).
//! 5. Receives Large Objects (digest 7.7) for `Inventory/Delivered/<X>/Data`: each chunk's
//!    bytes go to [`SessionHandler::object_write`] at once (base64 decoded on the fly over
//!    XML, with partial quanta carried to the next chunk), 213 per chunk, the `Meta/Size`
//!    of the first chunk checked at the end (424), the object committed with
//!    [`SessionHandler::object_end`] only when complete, and its size recorded in the tree.
//!    A command or item that comes before the last chunk is answered with Alert 1225 and
//!    the object is discarded (a package entry its first chunk created is removed again).
//! 6. Keeps to the server's `MaxMsgSize`: what does not fit goes in the next messages of
//!    the device's package (see [`DEFERRED_CAP`]); a Results value that does not fit an
//!    empty message goes out as a Large Object. A message of the server without `Final`
//!    is answered with Alert 1222 (send the rest); the device's message carries `Final`
//!    only once the server has closed its package and nothing of the device's is left.
//! 7. Ends the session ([`Output::Finished`]) when the server's package holds nothing
//!    that needs an answer, without sending anything.
//!
//! # The client request (seed 5.4.1 alternative 1)
//!
//! OMA defines no alert for "the device asks for a component" (digest 12.7). A
//! client-initiated session may carry one as a Generic Alert of our own type
//! [`COMPONENT_REQUEST_TYPE`] in Package 1:
//!
//! ```xml
//! <Alert><CmdID>3</CmdID><Data>1226</Data>
//!   <Item><Source><LocURI>./SCOMO</LocURI></Source>
//!     <Meta><Type xmlns="syncml:metinf">urn:oma:at:scomo:1.0:ComponentRequest</Type>
//!           <Format xmlns="syncml:metinf">chr</Format></Meta>
//!     <Data>com.example.app</Data></Item></Alert>
//! ```
//!
//! `Source` is the SCOMO root, `Data` the identifier (`PkgID`) of the component asked
//! for; a server that knows the type answers by pushing or offering it, any other server
//! answers the alert with a Status and nothing else happens. The server's Status is in
//! [`Summary::request_status`].
//!
//! # Persistence
//!
//! The engine stores nothing. When [`Outgoing::persist_auth`] is set, the caller stores
//! the [`AuthState`] record **before** sending the message (it carries a new server
//! nonce); [`Summary::auth_changed`] says the same at the end. A server-initiated session
//! starts after [`pkg0::accept`](crate::dm::pkg0::accept), whose served-session record the
//! caller persists before calling [`Session::start`]. Generic Alerts are acknowledged
//! through [`SessionHandler::alert_status`], which the executor makes durable.
//!
//! # Memory
//!
//! No heap. The session itself holds about a kilobyte (the deferred replies, the RespURI,
//! the Large Object state; see the `session_size` test); the received message stays in
//! the caller's buffer while a step reads it, the reply is written into the caller's
//! buffer, and [`Context::work`] lends the scratch space (undo log, Get values).

mod deferred;
mod generic;
mod large_object;
mod run;
mod ui;

pub use deferred::{DEFERRED_CAP, POOL_CAP};
pub use ui::{UI_ANSWER_CAP, UiAnswer, UiHook, UiKind, UiPrompt};

use heapless::{String, Vec};

use crate::codes::{AlertCode, StatusCode};
use crate::dm::alert::SessionHandler;
use crate::dm::auth::{Account, AuthError, AuthScheme, AuthState, B64Text};
use crate::dm::codec::{EncodeError, Encoding};
use crate::dm::pkg0::{Accepted, NonceMatch, SessionId, SessionIdText};
use crate::log::{info, trace};
use crate::mo::DevInfo;
use crate::platform::Rng;
use crate::tree::{ExecHandler, Got, Item, Tree, UndoLog, Written};

use deferred::Deferred;
use large_object::Incoming;

/// The Generic Alert type of a device's request for a component (seed 5.4.1 alternative
/// 1): ours, not OMA's (none exists); see the module documentation.
pub const COMPONENT_REQUEST_TYPE: &str = "urn:oma:at:scomo:1.0:ComponentRequest";

/// The `Meta/Format` of a Generic Alert's `Data` (`<ResultCode>…<Identifier>…`, digest
/// 6.1: `xml` is the recommended value).
pub const ALERT_FORMAT: &str = "xml";

/// Longest `RespURI` the engine keeps; a longer one aborts the session.
pub const RESP_URI_CAP: usize = 160;

/// Most Generic Alerts one message carries (their Statuses are tracked per message).
pub const MAX_ALERTS_PER_MESSAGE: usize = 4;

/// Most Generic Alerts one session carries.
pub const MAX_ALERTS_PER_SESSION: usize = 8;

/// The server's account, when the device requires the server to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct ServerAuth<'c> {
    /// The server id and password (DMAcc `SRVCRED`): what the server's credentials and
    /// HMACs are checked with.
    pub account: Account<'c>,
    /// The scheme the server must use, and that a challenge names: basic or MD5
    /// credentials in `SyncHdr/Cred`, or HMAC in the transport header.
    pub scheme: AuthScheme,
}

/// What a session is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Config<'c> {
    /// The server's URI: `SyncHdr/Target` of every message, and where to send until the
    /// server gives a `RespURI`.
    pub server_uri: &'c str,
    /// The device id (`SyncHdr/Source`, `./DevInfo/DevId`).
    pub device_id: &'c str,
    /// XML or WBXML.
    pub encoding: Encoding,
    /// The device's credentials (DMAcc `CLCRED`; the name is `Source/LocName`). The
    /// scheme and nonce come from the [`AuthState`].
    pub client: Account<'c>,
    /// The server's credentials, when the server must authenticate (then on every message
    /// until it has, before anything is applied). `None` trusts the transport.
    pub server: Option<ServerAuth<'c>>,
    /// The server id the tree's ACLs name.
    pub server_id: &'c str,
    /// The `MaxMsgSize` the device advertises: the size of its receive buffer. A longer
    /// message aborts the session.
    pub max_msg_size: u32,
    /// The `MaxObjSize` the device advertises: the largest Large Object it takes (a larger
    /// announced `Size` is 413).
    pub max_obj_size: u32,
}

/// A component the device asks for in a client-initiated session.
#[derive(Debug, Clone, Copy)]
pub struct ComponentRequest<'c> {
    /// The identifier (`PkgID`) of the component.
    pub id: &'c str,
    /// The alert type, normally [`COMPONENT_REQUEST_TYPE`].
    pub alert_type: &'c str,
}

impl<'c> ComponentRequest<'c> {
    /// A request for `id` with the default type.
    pub const fn new(id: &'c str) -> Self {
        Self {
            id,
            alert_type: COMPONENT_REQUEST_TYPE,
        }
    }
}

/// Who opens the session.
#[derive(Debug, Clone, Copy)]
pub enum Start<'c> {
    /// The device (Alert 1201), optionally asking for a component.
    Client {
        /// The session id the device chooses (fresh for each session).
        session_id: SessionId,
        /// The component asked for, if any.
        request: Option<ComponentRequest<'c>>,
    },
    /// The server, by a Package #0 (Alert 1200).
    Server {
        /// The notification's session id.
        session_id: SessionId,
        /// Whether the notification verified only with the resynchronisation nonce: the
        /// first reply then gives the server a fresh nonce.
        resync: bool,
    },
}

impl Start<'static> {
    /// The start that answers an accepted Package #0.
    pub fn notification(accepted: &Accepted<'_>) -> Self {
        Start::Server {
            session_id: accepted.notification.trigger.session_id,
            resync: accepted.nonce == NonceMatch::Resync,
        }
    }
}

/// What a step works on, lent by the caller for the call.
pub struct Context<
    'e,
    R: Rng,
    const DL: usize = 2,
    const DV: usize = 2,
    const DP: usize = 8,
    const ACL: usize = 384,
> {
    /// The management tree.
    pub tree: &'e mut Tree<DL, DV, DP, ACL>,
    /// The account's authentication state (see the module's Persistence section).
    pub auth: &'e mut AuthState,
    /// The layer above: Execs, Large Object bytes, Generic Alerts.
    pub handler: &'e mut dyn SessionHandler,
    /// Randomness for the nonces the device gives the server.
    pub rng: &'e mut R,
    /// The user-interaction hook (UI alerts are answered 406 without one).
    pub ui: Option<&'e mut dyn UiHook>,
    /// Scratch space: the first half is the undo log of an Atomic, the second holds Get
    /// values and decoded `b64` values (a longer value is 413). 512 bytes or more.
    pub work: &'e mut [u8],
}

/// A message from the server, as the transport received it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'r> {
    /// The body.
    pub body: &'r [u8],
    /// The HTTP `Content-Type`.
    pub content_type: &'r str,
    /// The `x-syncml-hmac` header, if present.
    pub hmac: Option<&'r str>,
}

/// A message to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'o> {
    /// The body (in the caller's buffer).
    pub body: &'o [u8],
    /// The HTTP `Content-Type`.
    pub content_type: &'static str,
    /// The `x-syncml-hmac` header value, when the session uses HMAC.
    pub hmac: Option<&'o str>,
    /// Where to POST it: the server's `RespURI`, else [`Config::server_uri`]. A `RespURI`
    /// that would take a session begun on `https:` to another scheme is ignored.
    pub url: &'o str,
    /// Store the [`AuthState`] record before sending (it holds a nonce this message gives
    /// the server).
    pub persist_auth: bool,
    /// The session is over once this is sent (it carries Alert 1223): do not call
    /// [`Session::step`] with the answer.
    pub last: bool,
}

/// What the caller does next.
#[derive(Debug, Clone)]
pub enum Output<'o> {
    /// Send this message and pass the answer to [`Session::step`].
    Send(Outgoing<'o>),
    /// The session ended normally: nothing to send.
    Finished(Summary),
    /// The session ended early (the server aborted, or refused the device's credentials
    /// for good): nothing to send.
    Aborted(Summary),
}

/// Why the device ended a session early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AbortReason {
    /// Not a DM 1.2 message of this session: wrong content type, undecodable bytes
    /// (truncated, unknown elements, wrong namespace, bad UTF-8, nesting too deep, bad
    /// numbers), a header that is not `1.2`/`DM/1.2`, another SessionID.
    Malformed,
    /// Longer than the advertised `MaxMsgSize`.
    Oversized,
    /// Two commands of one message with the same `CmdID`.
    DuplicateCmdId,
    /// A `Status` for a command the device never sent, or a `Results` (the device sends
    /// no Get).
    UnknownReference,
    /// More replies waiting than [`DEFERRED_CAP`] / [`POOL_CAP`] hold (the server's
    /// `MaxMsgSize` is very small for the commands it sends).
    ReplyOverflow,
    /// A `RespURI` longer than [`RESP_URI_CAP`].
    RespUriTooLong,
    /// The server refused the device's credentials again (or challenged after Package 1).
    AuthRejected,
    /// The server did not authenticate and sent nothing to challenge (digest 7.8: the
    /// device must not answer with a bare challenge).
    ServerNotAuthenticated,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End {
    /// The server's package held nothing that needed an answer.
    Completed,
    /// The server sent Alert 1223.
    AbortedByServer,
    /// The device ended it.
    Aborted(AbortReason),
}

/// What a session did, for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// How it ended (`None` while it runs).
    pub end: Option<End>,
    /// The outbox ids of the Generic Alerts the server acknowledged (2xx).
    pub acknowledged: Vec<u32, MAX_ALERTS_PER_SESSION>,
    /// The server's Status for the component request, if one was sent and answered.
    pub request_status: Option<StatusCode>,
    /// The [`AuthState`] record changed and is not stored yet.
    pub auth_changed: bool,
    /// Large Objects committed.
    pub objects_committed: u16,
    /// Messages sent (Package 1 included).
    pub messages_sent: u16,
    /// Messages received.
    pub messages_received: u16,
}

/// A step that could not run at all (the session's state is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// [`Session::step`] before [`Session::start`].
    NotStarted,
    /// [`Session::start`] twice.
    AlreadyStarted,
    /// The session is over.
    Over,
    /// The output buffer cannot hold the message's fixed part.
    BufferTooSmall,
    /// The device's credentials could not be built (a user name that cannot go in a
    /// header).
    Credentials(AuthError),
    /// The random source failed when a nonce was needed.
    Rng,
}

impl From<EncodeError> for Error {
    fn from(_: EncodeError) -> Self {
        Error::BufferTooSmall
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NotStarted => f.write_str("session not started"),
            Error::AlreadyStarted => f.write_str("session already started"),
            Error::Over => f.write_str("session over"),
            Error::BufferTooSmall => f.write_str("output buffer too small"),
            Error::Credentials(e) => write!(f, "credentials: {e}"),
            Error::Rng => f.write_str("random source failed"),
        }
    }
}

impl core::error::Error for Error {}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Running,
    Over,
}

/// What the device's last message carried, to check the server's Statuses against.
#[derive(Debug, Clone, Default)]
struct Sent {
    /// Its MsgID (0: nothing sent yet).
    msg_id: u32,
    /// Its last CmdID (its commands are 1..=last).
    last_cmd: u32,
    /// Generic Alerts: (CmdID, outbox id).
    alerts: Vec<(u32, u32), MAX_ALERTS_PER_MESSAGE>,
    /// The CmdID of the component request.
    request: Option<u32>,
    /// Whether it carried Package 1's content (a challenge then asks for it again).
    pkg1: bool,
}

/// Everything a session keeps between steps.
#[derive(Debug, Clone)]
struct State {
    phase: Phase,
    session_id: SessionIdText,
    /// The last MsgID sent.
    msg_id: u32,
    sent: Sent,
    /// Outbox ids of the Generic Alerts sent in this session.
    alerts_sent: Vec<u32, MAX_ALERTS_PER_SESSION>,
    resp_uri: String<RESP_URI_CAP>,
    /// The server's `MaxMsgSize` (0: not given).
    peer_max_msg: u32,
    /// The server's `MaxObjSize` (0: not given).
    peer_max_obj: u32,
    /// Whether the server's last package is complete (its last message had `Final`).
    server_closed: bool,
    /// The first reply still owes the server a fresh nonce (Package #0 resync).
    resync: bool,
    /// A fresh server nonce was given in this session (MD5: once per session).
    nonce_issued: bool,
    deferred: Deferred,
    incoming: Option<Incoming>,
    summary: Summary,
}

/// One OMA DM session of the device with a server. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session<'c> {
    config: Config<'c>,
    start: Start<'c>,
    st: State,
}

impl<'c> Session<'c> {
    /// A session, not started yet.
    pub fn new(config: Config<'c>, start: Start<'c>) -> Self {
        let (session_id, resync) = match start {
            Start::Client { session_id, .. } => (session_id, false),
            Start::Server { session_id, resync } => (session_id, resync),
        };
        Self {
            config,
            start,
            st: State {
                phase: Phase::New,
                session_id: session_id.to_text(),
                msg_id: 0,
                sent: Sent::default(),
                alerts_sent: Vec::new(),
                resp_uri: String::new(),
                peer_max_msg: 0,
                peer_max_obj: 0,
                server_closed: true,
                resync,
                nonce_issued: false,
                deferred: Deferred::default(),
                incoming: None,
                summary: Summary::default(),
            },
        }
    }

    /// The `SessionID` text.
    pub fn session_id(&self) -> &str {
        self.st.session_id.as_str()
    }

    /// What the session did so far.
    pub fn summary(&self) -> &Summary {
        &self.st.summary
    }

    /// Whether the session is over.
    pub fn is_over(&self) -> bool {
        self.st.phase == Phase::Over
    }

    /// Writes Package 1 into `out`: Alert 1201 (with the component request) or 1200, the
    /// DevInfo Replace, and the pending Generic Alerts that fit.
    ///
    /// # Errors
    /// [`Error::AlreadyStarted`], [`Error::BufferTooSmall`], [`Error::Credentials`].
    pub fn start<
        'o,
        R: Rng,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &'o mut self,
        ctx: &mut Context<'_, R, DL, DV, DP, ACL>,
        out: &'o mut [u8],
    ) -> Result<Output<'o>, Error> {
        if self.st.phase != Phase::New {
            return Err(Error::AlreadyStarted);
        }
        ctx.auth.begin_session();
        let mut lent = lend(ctx);
        let (body, hmac) = run::package1(&self.config, &self.start, &mut self.st, &mut lent, out)?;
        self.st.phase = Phase::Running;
        let (by, alert) = match self.start {
            Start::Client { .. } => ("device", AlertCode::ClientInitiated),
            Start::Server { .. } => ("server", AlertCode::ServerInitiated),
        };
        info!(
            "DM session {} started by the {} (Alert {})",
            self.st.session_id.as_str(),
            by,
            alert.code()
        );
        Ok(self.send(body, hmac, lent.auth, false))
    }

    /// Takes in the server's message and says what to do next.
    ///
    /// # Errors
    /// [`Error::NotStarted`], [`Error::Over`], [`Error::BufferTooSmall`] (the reply's
    /// fixed part does not fit `out`), [`Error::Credentials`], [`Error::Rng`]. On an
    /// error nothing of the message was applied.
    pub fn step<'o, R: Rng, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &'o mut self,
        ctx: &mut Context<'_, R, DL, DV, DP, ACL>,
        received: Received<'_>,
        out: &'o mut [u8],
    ) -> Result<Output<'o>, Error> {
        match self.st.phase {
            Phase::New => return Err(Error::NotStarted),
            Phase::Over => return Err(Error::Over),
            Phase::Running => {}
        }
        trace!(
            "DM session {}: server message of {} bytes",
            self.st.session_id.as_str(),
            received.body.len()
        );
        let mut lent = lend(ctx);
        let reply = run::step(
            &self.config,
            &self.start,
            &mut self.st,
            &mut lent,
            received,
            out,
        )?;
        self.st.summary.messages_received = self.st.summary.messages_received.saturating_add(1);
        self.st.summary.auth_changed = lent.auth.needs_persisting();
        Ok(match reply {
            run::Reply::Send { body, hmac, end } => {
                if end.is_some() {
                    self.finish(&mut lent, end);
                }
                self.send(body, hmac, lent.auth, end.is_some())
            }
            run::Reply::Finished(end) => {
                self.finish(&mut lent, Some(end));
                Output::Finished(self.st.summary.clone())
            }
            run::Reply::Aborted(end) => {
                self.finish(&mut lent, Some(end));
                Output::Aborted(self.st.summary.clone())
            }
        })
    }

    /// Ends the session: a Large Object still arriving is abandoned.
    fn finish(&mut self, lent: &mut Lent<'_>, end: Option<End>) {
        if let Some(end) = end {
            self.st.summary.end = Some(end);
        }
        self.log_end();
        if self.st.incoming.take().is_some() {
            let _ = lent.handler.object_end(false);
        }
        self.st.deferred.clear();
        self.st.phase = Phase::Over;
    }

    /// The log point of a session's end (info also when it was aborted: the caller gets
    /// [`Output::Aborted`] and reports it as it sees fit).
    fn log_end(&self) {
        let summary = &self.st.summary;
        if let Some(end) = summary.end {
            info!(
                "DM session {} ended: {:?}; {} messages sent, {} received, {} alerts acknowledged, {} objects committed",
                self.st.session_id.as_str(),
                end,
                summary.messages_sent,
                summary.messages_received,
                summary.acknowledged.len(),
                summary.objects_committed
            );
        }
    }

    fn send<'o>(
        &'o mut self,
        body: &'o [u8],
        hmac: Option<&'o str>,
        auth: &AuthState,
        last: bool,
    ) -> Output<'o> {
        self.st.summary.messages_sent = self.st.summary.messages_sent.saturating_add(1);
        self.st.summary.auth_changed = auth.needs_persisting();
        let url = if self.st.resp_uri.is_empty() {
            self.config.server_uri
        } else {
            self.st.resp_uri.as_str()
        };
        Output::Send(Outgoing {
            body,
            content_type: self.config.encoding.content_type(),
            hmac,
            url,
            persist_auth: auth.needs_persisting(),
            last,
        })
    }
}

/// The context with the tree and the random source behind object-safe traits (one copy
/// of the engine's code for every tree size).
struct Lent<'l> {
    tree: &'l mut dyn TreeOps,
    auth: &'l mut AuthState,
    handler: &'l mut dyn SessionHandler,
    rng: &'l mut dyn NonceSource,
    ui: Option<&'l mut dyn UiHook>,
    undo: &'l mut [u8],
    scratch: &'l mut [u8],
}

fn lend<'l, R: Rng, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    ctx: &'l mut Context<'_, R, DL, DV, DP, ACL>,
) -> Lent<'l> {
    let half = ctx.work.len() / 2;
    let (undo, scratch) = ctx.work.split_at_mut(half);
    Lent {
        tree: &mut *ctx.tree,
        auth: &mut *ctx.auth,
        handler: &mut *ctx.handler,
        rng: &mut *ctx.rng,
        ui: match &mut ctx.ui {
            Some(ui) => Some(&mut **ui),
            None => None,
        },
        undo,
        scratch,
    }
}

/// A fresh server nonce from the platform's random source.
trait NonceSource {
    fn issue(&mut self, auth: &mut AuthState) -> Option<B64Text>;
}

impl<R: Rng> NonceSource for R {
    fn issue(&mut self, auth: &mut AuthState) -> Option<B64Text> {
        auth.issue_server_nonce(self).ok()
    }
}

/// What the engine asks of the tree (implemented for every [`Tree`]).
trait TreeOps {
    fn get(&self, server: &str, uri: &str, out: &mut [u8]) -> Result<Got, StatusCode>;
    fn add<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode>;
    fn replace<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode>;
    fn delete(
        &mut self,
        server: &str,
        uri: &str,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<(), StatusCode>;
    fn exec(
        &self,
        server: &str,
        uri: &str,
        correlator: Option<&str>,
        data: Option<&[u8]>,
        handler: &mut dyn ExecHandler,
    ) -> StatusCode;
    fn rollback(&mut self, undo: &mut UndoLog<'_>) -> Result<(), StatusCode>;
    fn scomo_root(&self) -> &str;
    fn has_delivered(&self, name: &str) -> bool;
    fn set_delivered_data(&mut self, name: &str, size: Option<u32>);
    fn device_delete(&mut self, uri: &str) -> Result<(), StatusCode>;
    fn devinfo(&self) -> &DevInfo;
}

impl<const DL: usize, const DV: usize, const DP: usize, const ACL: usize> TreeOps
    for Tree<DL, DV, DP, ACL>
{
    fn get(&self, server: &str, uri: &str, out: &mut [u8]) -> Result<Got, StatusCode> {
        Tree::get(self, server, uri, out)
    }
    fn add<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode> {
        Tree::add(self, server, uri, item, undo)
    }
    fn replace<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode> {
        Tree::replace(self, server, uri, item, undo)
    }
    fn delete(
        &mut self,
        server: &str,
        uri: &str,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<(), StatusCode> {
        Tree::delete(self, server, uri, undo)
    }
    fn exec(
        &self,
        server: &str,
        uri: &str,
        correlator: Option<&str>,
        data: Option<&[u8]>,
        handler: &mut dyn ExecHandler,
    ) -> StatusCode {
        Tree::exec(self, server, uri, correlator, data, handler)
    }
    fn rollback(&mut self, undo: &mut UndoLog<'_>) -> Result<(), StatusCode> {
        Tree::rollback(self, undo)
    }
    fn scomo_root(&self) -> &str {
        Tree::scomo_root(self)
    }
    fn has_delivered(&self, name: &str) -> bool {
        self.scomo().delivered(name).is_some()
    }
    fn set_delivered_data(&mut self, name: &str, size: Option<u32>) {
        if let Some(entry) = self.scomo_mut().delivered_mut(name) {
            entry.set_data(size);
        }
    }
    fn device_delete(&mut self, uri: &str) -> Result<(), StatusCode> {
        Tree::device_delete(self, uri)
    }
    fn devinfo(&self) -> &DevInfo {
        Tree::devinfo(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_size() {
        // The engine's own state between steps, whatever the tree's size (the RAM budget
        // of the whole core is 12 KiB with two 2 KiB message buffers). Measured on the
        // 64-bit host; a 32-bit target's pointers make it smaller.
        let size = core::mem::size_of::<Session<'static>>();
        assert!(size <= 1024, "Session is {size} bytes");
    }
}
