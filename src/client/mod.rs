//! The whole device side in one object: the management tree, the DM session engine, the
//! authentication state and the operation executor, driven sans-IO.
//!
//! A [`Client`] owns no I/O, clock or buffer: [`Client::poll`] says what to do next
//! ([`Next`]), and the caller feeds back what arrived. A [`Transport`](crate::drivers::Transport)
//! and the drivers in [`drivers`](crate::drivers) do that loop for firmware that has one
//! blocking or async network backend.
//!
//! ```text
//! boot        Client::boot(config, tree, &mut platform)        recover tree, jobs, nonces
//!   or, in a static: Client::new(config, tree), then client.restore(&mut platform)
//! Pkg #0      client.notification(bytes, &mut platform)        verify; a session is due
//! request     client.request_session(rng, Some("pkg-id"))     device-initiated session
//! loop        match client.poll(now, &mut platform, rng, work, tx)? {
//!               Next::Send(msg)    → POST msg; client.dm_reply(answer, ...)? → Next again
//!               Next::Fetch{..}    → GET; client.fetch_head / fetch_body / fetch_end
//!               Next::PostNotify   → POST; client.notify_done
//!               Next::SessionEnded / WaitUntil / Idle / Restart
//!             }
//! ```
//!
//! # Power loss
//!
//! Every durable step goes through the [`StateStore`] before
//! its effect is visible to the server: the served Package #0 session ids before the
//! session starts, the authentication record before a message that carries a new nonce,
//! and the tree with the executor's journal (one record write) after each server message
//! is applied and **before** the reply that acknowledges it is sent. A cut at any point
//! leaves a state from which `boot` recovers; the server resends what was not acknowledged.

use crate::codes::StatusCode;
use crate::dm::auth::{AuthScheme, AuthState};
use crate::dm::pkg0::{self, Pkg0Error, ServedSessions, SessionId};
use crate::dm::session::{
    self, ComponentRequest, Context, Outgoing, Output, Received, Session, Start, Summary,
};
use crate::ops::{Action, ExecError, Executor, FetchFailure, FetchHead, Flow, JobId, Platform};
use crate::platform::{
    ComponentStore, Installer, RecordId, Rng, StateStore, StorageError, StorageErrorKind,
};
use crate::tree::Tree;

/// How many recently served Package #0 session ids are remembered.
pub const SERVED_SESSIONS: usize = 8;

/// What a [`Client`] is configured with. Strings are borrowed for the client's life.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig<'c> {
    /// The session engine's configuration (server URI, device id, encoding, accounts,
    /// message sizes).
    pub session: session::Config<'c>,
    /// Where the executor keeps its records (the tree, jobs and outbox).
    pub executor: crate::ops::Config,
    /// The record of the authentication state (nonces, preferred scheme).
    pub auth_record: RecordId,
    /// The record of the served Package #0 session ids.
    pub served_record: RecordId,
    /// The scheme the device presents credentials with until the server asks another.
    pub scheme: AuthScheme,
}

impl<'c> ClientConfig<'c> {
    /// A configuration with the default record ids (`0x0010`, `0x0011`, executor `0x0100`).
    pub fn new(session: session::Config<'c>, scheme: AuthScheme) -> Self {
        Self {
            session,
            executor: crate::ops::Config::default(),
            auth_record: RecordId(0x0010),
            served_record: RecordId(0x0011),
            scheme,
        }
    }
}

/// Why a client call failed. Small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError {
    /// The executor failed (a store, or a corrupt state record).
    Exec(ExecError),
    /// The session engine could not run a step.
    Session(session::Error),
    /// A state record could not be read or written.
    Storage(StorageErrorKind),
    /// A stored authentication or served-session record is corrupt.
    Corrupted,
    /// [`Client::dm_reply`] without a session.
    NoSession,
    /// [`Client::poll`] while a session waits for the server's answer.
    SessionRunning,
    /// The random source failed.
    Rng,
}

impl From<ExecError> for ClientError {
    fn from(e: ExecError) -> Self {
        ClientError::Exec(e)
    }
}

impl From<session::Error> for ClientError {
    fn from(e: session::Error) -> Self {
        ClientError::Session(e)
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Exec(e) => write!(f, "executor: {e:?}"),
            ClientError::Session(e) => write!(f, "session: {e}"),
            ClientError::Storage(k) => write!(f, "state store: {k:?}"),
            ClientError::Corrupted => f.write_str("a stored record is corrupt"),
            ClientError::NoSession => f.write_str("no session is running"),
            ClientError::SessionRunning => f.write_str("a session waits for the server"),
            ClientError::Rng => f.write_str("random source failed"),
        }
    }
}

impl core::error::Error for ClientError {}

/// What the caller does next.
#[derive(Debug, Clone)]
pub enum Next<'a> {
    /// POST this DM message and give the answer to [`Client::dm_reply`] (unless
    /// [`Outgoing::last`]: then the session is over once it is sent).
    Send(Outgoing<'a>),
    /// GET `url` (from `offset`, with `If-Range: if_range` when given); feed the answer to
    /// [`Client::fetch_head`], [`Client::fetch_body`] and one [`Client::fetch_end`].
    Fetch {
        /// The job, to pass back.
        job: JobId,
        /// The URL.
        url: &'a str,
        /// The first byte wanted.
        offset: u64,
        /// The validator the range must match.
        if_range: Option<&'a str>,
    },
    /// POST `body` (`text/plain`) to `url`; then [`Client::notify_done`].
    PostNotify {
        /// The job, to pass back.
        job: JobId,
        /// The install-notify URL.
        url: &'a str,
        /// The report.
        body: &'a str,
    },
    /// A session ended (its summary); call `poll` again.
    SessionEnded(Summary),
    /// Nothing to do before this time (milliseconds, the caller's clock).
    WaitUntil(u64),
    /// Nothing to do until a notification, a request or a new day.
    Idle,
    /// The installer's work takes effect after a restart: restart when convenient, then
    /// `boot` again.
    Restart,
}

/// The device side of SCOMO: tree, session engine, authentication and executor.
///
/// Capacities: `DL` downloads, `DV` delivered packages, `DP` deployed components, `ACL`
/// bytes of ACLs (see [`Tree`]); `JOBS` queued jobs, `OUTBOX` unacknowledged results,
/// `PKGS` held packages (see [`Executor`]).
pub struct Client<
    'c,
    const DL: usize = 2,
    const DV: usize = 2,
    const DP: usize = 8,
    const ACL: usize = 384,
    const JOBS: usize = 4,
    const OUTBOX: usize = 4,
    const PKGS: usize = 4,
> {
    config: ClientConfig<'c>,
    tree: Tree<DL, DV, DP, ACL>,
    exec: Executor<JOBS, OUTBOX, PKGS>,
    auth: AuthState,
    served: ServedSessions<SERVED_SESSIONS>,
    session: Option<Session<'c>>,
    /// The session in `session` ended or failed; it is dropped at the next call.
    session_over: bool,
    due: Option<Start<'c>>,
}

fn storage<E: StorageError>(e: E) -> ClientError {
    ClientError::Storage(e.kind())
}

/// Record `id` of the state store decoded with `decode`, or `None` when there is none.
fn read_record<C, S: StateStore, I, T, E>(
    p: &mut Platform<'_, C, S, I>,
    id: RecordId,
    decode: fn(&[u8]) -> Result<T, E>,
) -> Result<Option<T>, ClientError> {
    let Some(n) = p.state.read(id, p.scratch).map_err(storage)? else {
        return Ok(None);
    };
    let bytes = p.scratch.get(..n).ok_or(ClientError::Corrupted)?;
    decode(bytes).map(Some).map_err(|_| ClientError::Corrupted)
}

impl<
    'c,
    const DL: usize,
    const DV: usize,
    const DP: usize,
    const ACL: usize,
    const JOBS: usize,
    const OUTBOX: usize,
    const PKGS: usize,
> Client<'c, DL, DV, DP, ACL, JOBS, OUTBOX, PKGS>
{
    /// Starts the device after a (re)boot: [`Client::new`] then [`Client::restore`].
    ///
    /// This returns the client by value: on a microcontroller, where the client lives in a
    /// `static` and the stack is small, build it in place with `new` and call `restore` on
    /// it there instead (this function's frame holds the whole client, a few KiB).
    ///
    /// # Errors
    /// As [`Client::restore`].
    pub fn boot<C, S, I>(
        config: ClientConfig<'c>,
        tree: Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Self, ClientError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let mut client = Self::new(config, tree);
        client.restore(p)?;
        Ok(client)
    }

    /// A client around `tree`, the provisioned tree (DevInfo, DevDetail, DMAcc, SCOMO and
    /// ACLs as built by the firmware), that has read no store yet: call
    /// [`Client::restore`] before anything else.
    pub fn new(config: ClientConfig<'c>, tree: Tree<DL, DV, DP, ACL>) -> Self {
        Self {
            config,
            tree,
            exec: Executor::new(config.executor),
            auth: AuthState::initial(config.scheme),
            served: ServedSessions::new(),
            session: None,
            session_over: false,
            due: None,
        }
    }

    /// Restores the device's durable state in place after a (re)boot: what the state store
    /// holds (the server-written leaves, the inventory, jobs, results, nonces, served
    /// Package #0 ids) is put over the provisioned tree, and unfinished jobs are finished
    /// or failed by the next `poll`. A running or due session is dropped.
    ///
    /// Records are decoded straight into the client, so the stack this needs is small and
    /// does not grow with the capacities (see [`Executor::restore`]).
    ///
    /// # Errors
    /// [`ClientError::Exec`] / [`ClientError::Storage`] when a store fails,
    /// [`ClientError::Corrupted`] when a record does not decode. The client must not be
    /// used after an error (restore it again, or start over from `new`).
    ///
    /// # Power loss
    /// Reads the stores; writes only to delete packages nothing refers to, which a cut
    /// leaves for the next restore.
    pub fn restore<C, S, I>(&mut self, p: &mut Platform<'_, C, S, I>) -> Result<(), ClientError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        self.session = None;
        self.session_over = false;
        self.due = None;
        self.exec.restore(&mut self.tree, p)?;
        let config = self.config;
        self.auth = read_record(p, config.auth_record, AuthState::decode)?
            .unwrap_or_else(|| AuthState::initial(config.scheme));
        self.served =
            read_record(p, config.served_record, ServedSessions::decode)?.unwrap_or_default();
        Ok(())
    }

    /// The management tree.
    pub fn tree(&self) -> &Tree<DL, DV, DP, ACL> {
        &self.tree
    }

    /// The management tree, to change device-maintained values (DevInfo, ACLs). Changes
    /// are stored with the next journal write.
    pub fn tree_mut(&mut self) -> &mut Tree<DL, DV, DP, ACL> {
        &mut self.tree
    }

    /// The executor (jobs and unacknowledged results).
    pub fn executor(&self) -> &Executor<JOBS, OUTBOX, PKGS> {
        &self.exec
    }

    /// Whether a session is running (waiting for the server's answer).
    pub fn in_session(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.is_over()) && !self.session_over
    }

    /// Takes a Package #0: checks it (server id, digest with the server nonce or the
    /// resynchronisation nonce, a session id not served before) and, when it passes, makes
    /// a server-initiated session (Alert 1200) due at the next `poll`.
    ///
    /// # Errors
    /// The parser's [`Pkg0Error`]; [`Pkg0Error::UnknownServer`] too when no server account
    /// is configured. Nothing changes then.
    ///
    /// # Power loss
    /// The served session id is stored before the session is made due: after a cut the
    /// same notification starts no second session.
    pub fn notification<C, S, I>(
        &mut self,
        bytes: &[u8],
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<(), Pkg0Error>
    where
        S: StateStore,
    {
        let server = self.config.session.server.ok_or(Pkg0Error::UnknownServer)?;
        let mut served = self.served.clone();
        let accepted = pkg0::accept(
            bytes,
            &server.account,
            self.auth.server_nonce(),
            &mut served,
        )?;
        let start = Start::notification(&accepted);
        let n = served.encode(p.scratch)?;
        let record = p.scratch.get(..n).ok_or(Pkg0Error::BufferTooSmall)?;
        p.state
            .write(self.config.served_record, record)
            .map_err(|_| Pkg0Error::BufferTooSmall)?;
        self.served = served;
        self.due = Some(start);
        Ok(())
    }

    /// Makes a client-initiated session (Alert 1201) due at the next `poll`, optionally
    /// asking the server for the component `request` (its `PkgID`, seed 5.4.1 alternative 1;
    /// see [`session`] for the alert's form).
    ///
    /// # Errors
    /// [`ClientError::Rng`] when no session id could be drawn.
    pub fn request_session<R: Rng>(
        &mut self,
        rng: &mut R,
        request: Option<&'c str>,
    ) -> Result<(), ClientError> {
        let session_id = fresh_session_id(rng)?;
        self.due = Some(Start::Client {
            session_id,
            request: request.map(ComponentRequest::new),
        });
        Ok(())
    }

    /// Does the next bounded step and says what the caller should do (see [`Next`]).
    /// `work` is the session engine's scratch (512 bytes or more); `out` receives a DM
    /// message to send.
    ///
    /// # Errors
    /// [`ClientError::SessionRunning`] while a session waits for [`Client::dm_reply`];
    /// store and session errors.
    pub fn poll<'a, C, S, I, R>(
        &'a mut self,
        now_ms: u64,
        p: &mut Platform<'_, C, S, I>,
        rng: &mut R,
        work: &mut [u8],
        out: &'a mut [u8],
    ) -> Result<Next<'a>, ClientError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
        R: Rng,
    {
        self.tidy();
        if self.session.is_some() {
            return Err(ClientError::SessionRunning);
        }
        if let Some(start) = self.due.take() {
            return self.start(start, p, rng, work, out);
        }
        match self.exec.poll(now_ms, &mut self.tree, p)? {
            Action::Session { .. } => {
                // Started by the next call (the borrow of the action ends here).
                self.due = Some(Start::Client {
                    session_id: fresh_session_id(rng)?,
                    request: None,
                });
                Ok(Next::WaitUntil(now_ms))
            }
            Action::Fetch {
                job,
                url,
                offset,
                if_range,
            } => Ok(Next::Fetch {
                job,
                url,
                offset,
                if_range,
            }),
            Action::PostNotify { job, url, body } => Ok(Next::PostNotify { job, url, body }),
            Action::WaitUntil(t) => Ok(Next::WaitUntil(t)),
            Action::Restart => Ok(Next::Restart),
            Action::Idle => Ok(Next::Idle),
        }
    }

    /// Drops a session that ended (or failed) in the previous call.
    fn tidy(&mut self) {
        if self.session_over || self.session.as_ref().is_some_and(Session::is_over) {
            self.session = None;
            self.session_over = false;
        }
    }

    fn start<'a, C, S, I, R>(
        &'a mut self,
        start: Start<'c>,
        p: &mut Platform<'_, C, S, I>,
        rng: &mut R,
        work: &mut [u8],
        out: &'a mut [u8],
    ) -> Result<Next<'a>, ClientError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
        R: Rng,
    {
        let session = self
            .session
            .insert(Session::new(self.config.session, start));
        let output = {
            let mut handler = self.exec.handler(p);
            let mut ctx = Context {
                tree: &mut self.tree,
                auth: &mut self.auth,
                handler: &mut handler,
                rng,
                ui: None,
                work,
            };
            session.start(&mut ctx, out)
        };
        match output {
            Ok(Output::Send(msg)) => {
                if msg.persist_auth {
                    persist_auth(&mut self.auth, self.config.auth_record, p)?;
                }
                Ok(Next::Send(msg))
            }
            Ok(Output::Finished(summary) | Output::Aborted(summary)) => {
                self.session_over = true;
                Ok(Next::SessionEnded(summary))
            }
            Err(e) => {
                self.session_over = true;
                Err(e.into())
            }
        }
    }

    /// Takes the server's answer to the last message sent and says what to do next: the
    /// next message of the session, or its end.
    ///
    /// # Power loss
    /// The tree and the executor's journal are stored (one record write) before the reply
    /// that acknowledges the server's commands is returned.
    ///
    /// # Errors
    /// [`ClientError::NoSession`]; store and session errors (the session is then over).
    pub fn dm_reply<'a, C, S, I, R>(
        &'a mut self,
        received: Received<'_>,
        p: &mut Platform<'_, C, S, I>,
        rng: &mut R,
        work: &mut [u8],
        out: &'a mut [u8],
    ) -> Result<Next<'a>, ClientError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
        R: Rng,
    {
        self.tidy();
        let session = self.session.as_mut().ok_or(ClientError::NoSession)?;
        let output = {
            let mut handler = self.exec.handler(p);
            let mut ctx = Context {
                tree: &mut self.tree,
                auth: &mut self.auth,
                handler: &mut handler,
                rng,
                ui: None,
                work,
            };
            session.step(&mut ctx, received, out)
        };
        let output = match output {
            Ok(o) => o,
            Err(e) => {
                self.session_over = true;
                return Err(e.into());
            }
        };
        // What the message applied is durable before the reply acknowledges it.
        self.exec.save(&mut self.tree, p)?;
        match output {
            Output::Send(msg) => {
                if msg.persist_auth {
                    persist_auth(&mut self.auth, self.config.auth_record, p)?;
                }
                Ok(Next::Send(msg))
            }
            Output::Finished(summary) | Output::Aborted(summary) => {
                if summary.auth_changed {
                    persist_auth(&mut self.auth, self.config.auth_record, p)?;
                }
                self.session_over = true;
                Ok(Next::SessionEnded(summary))
            }
        }
    }

    /// Ends the running session after its last message was sent (a message with
    /// [`Outgoing::last`]) or when the transport failed: the session is over; results not
    /// acknowledged stay queued for a later session.
    pub fn end_session(&mut self) -> Option<Summary> {
        self.session_over = false;
        self.session.take().map(|s| s.summary().clone())
    }

    /// The head of the answer to [`Next::Fetch`].
    pub fn fetch_head<C, S, I>(
        &mut self,
        job: JobId,
        head: &FetchHead<'_>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Flow
    where
        C: ComponentStore,
        S: StateStore,
    {
        self.exec.fetch_head(job, head, p)
    }

    /// Body bytes of the answer to [`Next::Fetch`].
    pub fn fetch_body<C, S, I>(
        &mut self,
        job: JobId,
        bytes: &[u8],
        p: &mut Platform<'_, C, S, I>,
    ) -> Flow
    where
        C: ComponentStore,
    {
        self.exec.fetch_body(job, bytes, p)
    }

    /// The end of the answer to [`Next::Fetch`] (call it once per fetch).
    pub fn fetch_end<C, S, I>(
        &mut self,
        job: JobId,
        outcome: Result<(), FetchFailure>,
        p: &mut Platform<'_, C, S, I>,
    ) where
        C: ComponentStore,
    {
        self.exec.fetch_end(job, outcome, p);
    }

    /// The install-notify post of [`Next::PostNotify`] is done (`delivered`: answered 2xx).
    pub fn notify_done(&mut self, job: JobId, delivered: bool) {
        self.exec.notify_done(job, delivered);
    }

    /// How many results wait for the server's acknowledgement.
    pub fn pending_reports(&self) -> usize {
        self.exec.pending_reports()
    }
}

fn fresh_session_id<R: Rng>(rng: &mut R) -> Result<SessionId, ClientError> {
    for _ in 0..4 {
        let mut b = [0u8; 2];
        rng.fill(&mut b).map_err(|_| ClientError::Rng)?;
        if let Some(id) = SessionId::new(u16::from_be_bytes(b)) {
            return Ok(id);
        }
    }
    Err(ClientError::Rng)
}

fn persist_auth<C, S, I>(
    auth: &mut AuthState,
    record: RecordId,
    p: &mut Platform<'_, C, S, I>,
) -> Result<(), ClientError>
where
    S: StateStore,
{
    let n = auth.encode(p.scratch).map_err(|_| ClientError::Corrupted)?;
    let bytes = p.scratch.get(..n).ok_or(ClientError::Corrupted)?;
    p.state.write(record, bytes).map_err(storage)?;
    auth.mark_persisted();
    Ok(())
}

/// The status a refused Package #0 would get if it were a command (for logs and C).
pub const fn notification_status(e: Pkg0Error) -> StatusCode {
    match e {
        Pkg0Error::BadDigest | Pkg0Error::UnknownServer => StatusCode::Unauthorized,
        Pkg0Error::AlreadyServed(_) => StatusCode::AlreadyExists,
        _ => StatusCode::BadRequest,
    }
}
