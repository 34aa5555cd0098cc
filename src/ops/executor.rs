//! The executor: jobs from their Exec to their result, driven by `poll`.

use minicbor::Decoder;

use crate::codes::{ResultCode, ScomoResult};
use crate::log::{error, info};
use crate::mo::{
    DeliveredLeaf, DeliveredState, DeliveredStatus, DeployedState, DeployedStatus, DownloadLeaf,
    DownloadStatus, EntryKind, NodeName, Primitive,
};
use crate::ops::dd::InstallStatus;
use crate::ops::inventory::{self, Installed, ScratchSink, UriBuf, entry_uri, write_entry};
use crate::ops::job::{Correlator, Job, JobId, JobInfo, Phase};
use crate::ops::outbox::Report;
use crate::ops::record::{ACK_VERSION, Acks, Package, STATE_VERSION, StateOut, decode_state};
use crate::ops::transfer::{
    self, Event, FetchFailure, FetchHead, Flow, MAX_ATTEMPTS, RETRY_BASE_MS, Transfer,
};
use crate::persist::frame;
use crate::platform::{
    ComponentStore, Consent, ConsentRequest, InstallRequest, Installer, InstallerError,
    InstallerErrorKind, InstallerOp, Outcome, PackageKey, PackageState, RecordId, StateStore,
    StorageError, StorageErrorKind, Verdict,
};
use crate::tree::Tree;

/// How long a postponed consent waits before it is asked again.
pub const CONSENT_RETRY_MS: u64 = 60_000;
/// How long an installer that answered `Pending` waits before it is called again.
pub const INSTALLER_POLL_MS: u64 = 1_000;
/// The wait before a report session is asked for again when the last one left reports
/// unacknowledged; it doubles each time up to [`REPORT_RETRY_MAX_MS`].
pub const REPORT_RETRY_MS: u64 = 30_000;
/// The longest wait between two report sessions.
pub const REPORT_RETRY_MAX_MS: u64 = 3_600_000;
/// How many `RebootRequired` answers one job accepts before it fails.
pub const MAX_RESTARTS: u8 = 2;
/// The executor uses component-store keys below this number only.
pub const MAX_KEYS: u16 = 64;

/// Where the executor keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The first of the three record ids the executor owns: `records` (state),
    /// `records + 1` (acknowledgements), `records + 2` (transfer).
    pub records: RecordId,
    /// The wait after the first failed download attempt, doubled after each further one
    /// (default [`RETRY_BASE_MS`]).
    pub retry_ms: u64,
    /// The wait before a report session is asked for again when the last one left reports
    /// unacknowledged, doubled each time up to [`REPORT_RETRY_MAX_MS`] (default
    /// [`REPORT_RETRY_MS`]).
    pub report_retry_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            records: RecordId(0x0100),
            retry_ms: RETRY_BASE_MS,
            report_retry_ms: REPORT_RETRY_MS,
        }
    }
}

impl Config {
    fn state(&self) -> RecordId {
        self.records
    }

    fn acks(&self) -> RecordId {
        RecordId(self.records.0.wrapping_add(1))
    }

    fn transfer(&self) -> RecordId {
        RecordId(self.records.0.wrapping_add(2))
    }
}

/// The platform the executor works with, lent for one call: the component store, the state
/// store, the installer, and a scratch buffer.
///
/// The scratch buffer holds the state record while it is encoded or decoded (so it must be
/// as large as that record: the tree's state, the jobs and the outbox) and, during an
/// install, the components the installer reports. Nothing is kept in it between calls: it
/// may be shared with other work (e.g. a message buffer that is free while `poll` runs).
#[derive(Debug)]
pub struct Platform<'b, C, S, I> {
    /// Where delivery packages are stored.
    pub components: C,
    /// Where the executor's records are stored.
    pub state: S,
    /// Installs, activates, deactivates and removes components.
    pub installer: I,
    /// Working memory, see above.
    pub scratch: &'b mut [u8],
}

/// Why a DM session is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SessionReason {
    /// Results wait in the outbox: open a client-initiated session (Alert 1201) that
    /// carries them as Generic Alerts ([`SessionHandler::pending_alert`](crate::dm::alert::SessionHandler::pending_alert)).
    Report,
}

/// What the caller should do next, as [`Executor::poll`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Nothing to do until something happens (a server session, a new Exec).
    Idle,
    /// Call `poll` again at or after this time (milliseconds, the caller's clock). A time
    /// not after `now` means "call again at once".
    WaitUntil(u64),
    /// GET `url`; when `offset` is not 0, ask for `Range: bytes=<offset>-` (see
    /// [`range::write_range`](crate::ops::range::write_range)) with `If-Range: <if_range>`
    /// when given. Feed the answer back with [`Executor::fetch_head`],
    /// [`Executor::fetch_body`] and, always, one [`Executor::fetch_end`].
    Fetch {
        /// The job the fetch is for (pass it back).
        job: JobId,
        /// The URL.
        url: &'a str,
        /// The first byte wanted.
        offset: u64,
        /// The validator the range must match.
        if_range: Option<&'a str>,
    },
    /// POST `body` (`text/plain`) to `url`, an install-notify report (digest 9.3); then
    /// call [`Executor::notify_done`].
    PostNotify {
        /// The job the report is for (pass it back).
        job: JobId,
        /// The descriptor's `installNotifyURI`.
        url: &'a str,
        /// The report, e.g. `900 Success`.
        body: &'a str,
    },
    /// Run a DM session, with this executor's [`Handler`](super::Handler) as the session's
    /// handler.
    Session {
        /// Why.
        reason: SessionReason,
    },
    /// The installer's work takes effect after a restart: restart the device when
    /// convenient. After the restart [`Executor::recover`] and `poll` confirm it.
    Restart,
}

/// Why an executor call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ExecError {
    /// The state or component store failed; the call may be made again later.
    Storage(StorageErrorKind),
    /// The state record is not readable (bad version or content).
    Corrupted,
    /// The scratch buffer is too small for the state record.
    ScratchTooSmall,
}

fn storage<E: StorageError>(e: E) -> ExecError {
    ExecError::Storage(e.kind())
}

/// What one step of the head job came to.
enum Step {
    /// Progress: call again at once.
    Again,
    /// Nothing before this time.
    Wait(u64),
    /// Waiting for the caller (a fetch or a post in flight).
    Blocked,
    /// Issue the fetch the transfer prepared.
    Fetch,
    /// Post the install-notify report.
    Post,
    /// The device must restart.
    Restart,
}

/// A package the server is pushing as a Large Object.
pub(crate) struct LargeObject {
    name: NodeName,
    key: PackageKey,
    sha: transfer::Running,
    len: u64,
}

/// The operation executor: accepted Execs become jobs, each runs to a SCOMO result that is
/// reported by Generic Alert until the server acknowledges it.
///
/// `JOBS` jobs can wait at once (one runs at a time, in order), `OUTBOX` results can wait
/// for their acknowledgement, and `PKGS` packages can be held for
/// `Inventory/Delivered/<X>`.
///
/// Durability: see [the module documentation](super) for the journal, what each
/// transition writes, and what survives a power cut.
pub struct Executor<const JOBS: usize = 4, const OUTBOX: usize = 4, const PKGS: usize = 4> {
    config: Config,
    next_id: u32,
    jobs: heapless::Vec<Job, JOBS>,
    outbox: heapless::Vec<Report, OUTBOX>,
    packages: heapless::Vec<Package, PKGS>,
    /// Report ids the durable state record holds.
    durable_outbox: heapless::Vec<u32, OUTBOX>,
    /// Keys the durable state record refers to (bit `k` for key `k`).
    durable_keys: u64,
    /// CRC and length of the durable state record.
    saved: Option<(u32, usize)>,
    /// RAM is ahead of the state record (a write failed): write before any effect.
    dirty: bool,
    /// Unreferenced packages may exist: collect after the next write.
    gc: bool,
    transfer: Option<Transfer>,
    object: Option<LargeObject>,
    wait_until: u64,
    next_report_at: u64,
    report_backoff: u64,
}

impl<const JOBS: usize, const OUTBOX: usize, const PKGS: usize> core::fmt::Debug
    for Executor<JOBS, OUTBOX, PKGS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Executor")
            .field("jobs", &self.jobs.len())
            .field("outbox", &self.outbox.len())
            .field("packages", &self.packages.len())
            .finish()
    }
}

impl<const JOBS: usize, const OUTBOX: usize, const PKGS: usize> Executor<JOBS, OUTBOX, PKGS> {
    /// An executor with no jobs, results or packages, that has read no store yet: give it
    /// to [`Executor::restore`] (or use [`Executor::recover`], which does both).
    pub fn new(config: Config) -> Self {
        Self {
            config,
            next_id: 1,
            jobs: heapless::Vec::new(),
            outbox: heapless::Vec::new(),
            packages: heapless::Vec::new(),
            durable_outbox: heapless::Vec::new(),
            durable_keys: 0,
            saved: None,
            dirty: false,
            gc: false,
            transfer: None,
            object: None,
            wait_until: 0,
            next_report_at: 0,
            report_backoff: config.report_retry_ms,
        }
    }

    /// Starts the executor after a (re)boot: [`Executor::new`] then [`Executor::restore`].
    ///
    /// # Power loss
    ///
    /// As [`Executor::restore`].
    ///
    /// # Errors
    ///
    /// As [`Executor::restore`].
    pub fn recover<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        config: Config,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Self, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let mut ex = Self::new(config);
        ex.restore(tree, p)?;
        Ok(ex)
    }

    /// Restores the executor in place after a (re)boot: reads its records, puts the tree's
    /// durable state (SCOMO inventory, DM account, ACLs) into `tree`, keeps every job where
    /// its journal left it (the next `poll` finishes it: an installer call whose end was not
    /// journaled is made again), drops reports the server acknowledged, and deletes
    /// packages nothing refers to. With no record (first boot) the tree is left as given.
    ///
    /// Whatever the executor held before is dropped. The records are decoded straight into
    /// the executor's own memory, so this needs little stack beyond the platform's scratch
    /// buffer (the point of restoring in place on a microcontroller).
    ///
    /// # Power loss
    ///
    /// Recovery only deletes unreferenced packages: a cut during it is recovered the same
    /// way on the next boot.
    ///
    /// # Errors
    ///
    /// [`ExecError::Storage`] when a store fails, [`ExecError::Corrupted`] when the state
    /// record does not decode (the tree's DM account and ACLs are then unchanged and its
    /// SCOMO object holds no entries: see [`Tree::decode_state`]),
    /// [`ExecError::ScratchTooSmall`]. After an error the executor holds nothing and must be
    /// restored again before use.
    #[inline(never)]
    pub fn restore<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<(), ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        self.clear();
        let result = self.restore_records(tree, p);
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Forgets everything but the configuration (field by field: no executor-sized value
    /// is built on the stack).
    fn clear(&mut self) {
        self.next_id = 1;
        self.jobs.clear();
        self.outbox.clear();
        self.packages.clear();
        self.durable_outbox.clear();
        self.durable_keys = 0;
        self.saved = None;
        self.dirty = false;
        self.gc = false;
        self.transfer = None;
        self.object = None;
        self.wait_until = 0;
        self.next_report_at = 0;
        self.report_backoff = self.config.report_retry_ms;
    }

    fn restore_records<
        C,
        S,
        I,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &mut self,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<(), ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let config = self.config;
        let len = p
            .state
            .read(config.state(), p.scratch)
            .map_err(|e| match e.kind() {
                StorageErrorKind::BufferTooSmall => ExecError::ScratchTooSmall,
                k => ExecError::Storage(k),
            })?;
        if let Some(len) = len {
            let bytes = p.scratch.get(..len).ok_or(ExecError::ScratchTooSmall)?;
            let body = frame::body(STATE_VERSION, bytes).map_err(|_| ExecError::Corrupted)?;
            let head = decode_state(body, &mut self.jobs, &mut self.outbox, &mut self.packages)
                .map_err(|_| ExecError::Corrupted)?;
            tree.decode_state(&mut Decoder::new(head.tree))
                .map_err(|_| ExecError::Corrupted)?;
            self.next_id = head.next_id;
            self.saved = Some((frame_crc(bytes), len));
        }
        self.durable_outbox = self.outbox.iter().map(|r| r.id).collect();
        self.durable_keys = self.referenced_keys();
        // Acknowledged reports.
        if let Some(len) = p.state.read(config.acks(), p.scratch).map_err(storage)? {
            let bytes = p.scratch.get(..len).unwrap_or(&[]);
            if let Ok(Acks(ids)) = frame::decode::<Acks<OUTBOX>>(ACK_VERSION, bytes) {
                self.outbox.retain(|r| !ids.contains(&r.id));
            }
        }
        for job in self.jobs.iter_mut() {
            job.restarted = job.phase == Phase::Restart;
        }
        // The download at the head of the queue.
        if let Some(job) = self.jobs.first()
            && matches!(job.phase, Phase::Fetching | Phase::Notify { .. })
            && let Some(key) = job.key
        {
            self.transfer = Transfer::load(&mut p.state, config.transfer(), job.id, key)
                .map_err(ExecError::Storage)?;
        }
        // Packages the map refers to must be whole.
        let mut i = 0;
        while let Some(m) = self.packages.get(i) {
            let info = p.components.inspect(m.key).map_err(storage)?;
            if info.is_some_and(|info| info.state == PackageState::Complete && info.len == m.len) {
                i += 1;
            } else {
                self.packages.remove(i);
            }
        }
        self.reconcile(tree);
        self.gc = true;
        self.collect(p)?;
        if self.saved.is_some() {
            info!(
                "state record read: {} jobs to finish, {} results to report, {} packages held",
                self.jobs.len(),
                self.outbox.len(),
                self.packages.len()
            );
        }
        Ok(())
    }

    /// Makes the tree and the staged changes durable (the jobs of Execs answered 202 in this
    /// session, packages pushed as Large Objects, acknowledgements): the client calls it
    /// after applying each server message and **before sending the reply**, so that no
    /// 202 and no 200 for a `Data` reaches the server before what it promises is durable.
    /// If it fails, send no reply (end the session). Writes nothing when nothing changed.
    ///
    /// # Power loss
    ///
    /// One atomic record write: after a cut the tree and jobs are as before the call or as
    /// after it.
    pub fn save<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<(), ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        self.reconcile(tree);
        self.persist(tree, p)
    }

    /// Does one bounded step of work and says what the caller should do next (the
    /// executor never blocks and never reads a clock: `now_ms` is the caller's monotonic
    /// time in milliseconds).
    ///
    /// Priorities: a report session when results wait (with a backoff between sessions
    /// that leave them unacknowledged), then the job at the head of the queue.
    ///
    /// # Power loss
    ///
    /// Each transition is journaled (one state-record write) before its effect; see the
    /// module documentation.
    ///
    /// # Errors
    ///
    /// [`ExecError::Storage`] when a record cannot be written: nothing further happens
    /// until a later `poll` writes it.
    pub fn poll<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now_ms: u64,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Action<'_>, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        if self.dirty {
            self.persist(tree, p)?;
        }
        if !self.outbox.is_empty() && now_ms >= self.next_report_at {
            self.next_report_at = now_ms.saturating_add(self.report_backoff);
            self.report_backoff = (self.report_backoff * 2).min(REPORT_RETRY_MAX_MS);
            return Ok(Action::Session {
                reason: SessionReason::Report,
            });
        }
        let report_at = (!self.outbox.is_empty()).then_some(self.next_report_at);
        let idle = |t: Option<u64>| t.map_or(Action::Idle, Action::WaitUntil);
        if self.jobs.is_empty() {
            return Ok(idle(report_at));
        }
        if now_ms < self.wait_until {
            let t = report_at.map_or(self.wait_until, |r| r.min(self.wait_until));
            return Ok(Action::WaitUntil(t));
        }
        let step = if self.outbox.is_full() {
            // The job's result would have nowhere to go: wait for acknowledgements.
            Step::Blocked
        } else {
            self.step(now_ms, tree, p)?
        };
        Ok(match step {
            Step::Again => Action::WaitUntil(now_ms),
            Step::Wait(t) => {
                self.wait_until = t;
                Action::WaitUntil(report_at.map_or(t, |r| r.min(t)))
            }
            Step::Blocked => idle(report_at),
            Step::Restart => Action::Restart,
            Step::Fetch | Step::Post => match self.transfer.as_ref() {
                Some(t) if matches!(step, Step::Fetch) => Action::Fetch {
                    job: t.job,
                    url: &t.url,
                    offset: t.offset(),
                    if_range: t.validator(),
                },
                Some(t) => Action::PostNotify {
                    job: t.job,
                    url: t.notify_url.as_deref().unwrap_or(""),
                    body: &t.notify_body,
                },
                None => Action::WaitUntil(now_ms),
            },
        })
    }

    /// The head of the response to the [`Action::Fetch`] of `job` arrived. A descriptor
    /// (`application/vnd.oma.dd+xml`) is collected; the package is streamed into the
    /// component store. An error status ends the fetch (401/403: 1403; 404 and other 4xx:
    /// 1402; 5xx: retried, then 1500); a 200 to a Range request or a changed validator
    /// starts the package over from byte 0.
    ///
    /// # Power loss
    ///
    /// When the package starts from byte 0, the old bytes are dropped and then the new
    /// validator journaled (one transfer-record write).
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
        let record = self.config.transfer();
        match self.transfer.as_mut().filter(|t| t.job == job) {
            Some(t) => t.head(head, &mut p.components, &mut p.state, record),
            None => Flow::Stop,
        }
    }

    /// Body bytes of the fetch of `job`: each byte is written once to the component store
    /// and hashed (SHA-256); nothing is kept in RAM. More bytes than the object may have
    /// (the descriptor's size, the HTTP length, or the store's capacity) stop the fetch at
    /// the first extra byte (1402, or 1404 for the capacity).
    ///
    /// # Power loss
    ///
    /// The store keeps whole pages: after a cut the download resumes at the last page
    /// boundary (no state record is written per chunk).
    pub fn fetch_body<C, S, I>(
        &mut self,
        job: JobId,
        bytes: &[u8],
        p: &mut Platform<'_, C, S, I>,
    ) -> Flow
    where
        C: ComponentStore,
    {
        match self.transfer.as_mut().filter(|t| t.job == job) {
            Some(t) => t.body(bytes, &mut p.components),
            None => Flow::Stop,
        }
    }

    /// The fetch of `job` ended: `Ok` when the body was read to its end, else how it failed.
    /// Call it once for every [`Action::Fetch`], also after a [`Flow::Stop`]. A complete
    /// package is committed in the store here.
    ///
    /// # Power loss
    ///
    /// The commit is the store's: after a cut the package is complete or resumable.
    pub fn fetch_end<C, S, I>(
        &mut self,
        job: JobId,
        outcome: Result<(), FetchFailure>,
        p: &mut Platform<'_, C, S, I>,
    ) where
        C: ComponentStore,
    {
        if let Some(t) = self.transfer.as_mut().filter(|t| t.job == job) {
            t.end(outcome, &mut p.components);
        }
    }

    /// The post of [`Action::PostNotify`] for `job` is done: `delivered` when the server
    /// answered 2xx. An undelivered report is posted again with backoff, at most
    /// [`MAX_ATTEMPTS`] times; the job goes on either way.
    pub fn notify_done(&mut self, job: JobId, delivered: bool) {
        if let Some(t) = self.transfer.as_mut().filter(|t| t.job == job && t.posting) {
            t.posting = false;
            t.attempts = t.attempts.saturating_add(1);
            t.posted = delivered || t.attempts >= MAX_ATTEMPTS;
        }
    }

    /// The jobs waiting or running, head first.
    pub fn jobs(&self) -> impl Iterator<Item = JobInfo<'_>> {
        self.jobs.iter().map(|j| JobInfo {
            id: j.id,
            primitive: j.primitive,
            target: &j.name,
            state: j.phase.state(),
        })
    }

    /// How many results wait for the server's acknowledgement.
    pub fn pending_reports(&self) -> usize {
        self.outbox.len()
    }

    /// The session handler for this executor (Exec acceptance, Large Object data, Generic
    /// Alerts and their acknowledgements), lent for one session step.
    pub fn handler<'e, 'p, 'b, C, S, I>(
        &'e mut self,
        platform: &'p mut Platform<'b, C, S, I>,
    ) -> super::Handler<'e, 'p, 'b, C, S, I, JOBS, OUTBOX, PKGS> {
        super::Handler::new(self, platform)
    }

    // ----- shared with the handler -----

    pub(crate) fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Whether an Exec of `primitive` on entry `name` with `correlator` (executed node
    /// `source`) is one this executor holds already: a job queued for it, or its result
    /// waiting for the server's acknowledgement.
    pub(crate) fn holds_request(
        &self,
        primitive: Primitive,
        name: &str,
        correlator: &Correlator,
        source: &dyn core::fmt::Display,
    ) -> bool {
        self.jobs.iter().any(|j| {
            j.primitive == primitive && j.name == name && j.correlator.as_ref() == Some(correlator)
        }) || self
            .outbox
            .iter()
            .any(|r| r.correlator.as_ref() == Some(correlator) && displays_as(source, r.source()))
    }

    pub(crate) fn jobs_full(&self) -> bool {
        self.jobs.is_full()
    }

    pub(crate) fn push_job(&mut self, job: Job) -> bool {
        self.jobs.push(job).is_ok()
    }

    pub(crate) fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|m| m.name == name)
    }

    pub(crate) fn outbox(&self) -> &[Report] {
        &self.outbox
    }

    /// Drops report `id` (acknowledged) and journals the acknowledgement.
    pub(crate) fn acknowledge<S: StateStore>(
        &mut self,
        id: u32,
        state: &mut S,
        scratch: &mut [u8],
    ) {
        let before = self.outbox.len();
        self.outbox.retain(|r| r.id != id);
        if self.outbox.len() == before {
            return;
        }
        if self.outbox.is_empty() {
            self.next_report_at = 0;
            self.report_backoff = self.config.report_retry_ms;
        }
        let acked: heapless::Vec<u32, OUTBOX> = self
            .durable_outbox
            .iter()
            .copied()
            .filter(|d| !self.outbox.iter().any(|r| r.id == *d))
            .collect();
        // A failed write only means the report may be sent once more after a power cut.
        if let Ok(len) = frame::encode(ACK_VERSION, &Acks(acked), scratch)
            && let Err(e) = state.write(self.config.acks(), scratch.get(..len).unwrap_or(&[]))
        {
            error!(
                "acknowledgement of report {} not written: {:?}",
                id,
                e.kind()
            );
        }
    }

    pub(crate) fn object(&mut self) -> &mut Option<LargeObject> {
        &mut self.object
    }

    /// A key no package, job, transfer or object uses, in RAM or in the durable record.
    pub(crate) fn free_key(&self, slots: u16) -> Option<PackageKey> {
        let used = self.referenced_keys() | self.durable_keys;
        (0..slots.min(MAX_KEYS))
            .find(|k| used & (1u64 << k) == 0)
            .map(PackageKey)
    }

    /// Puts a pushed package into the map for `name` (the old one of that name becomes
    /// garbage).
    pub(crate) fn map_package(&mut self, package: Package) -> bool {
        self.packages.retain(|m| m.name != package.name);
        self.gc = true;
        self.packages.push(package).is_ok()
    }

    // ----- internals -----

    fn referenced_keys(&self) -> u64 {
        let bit = |k: PackageKey| {
            if k.0 < MAX_KEYS { 1u64 << k.0 } else { 0 }
        };
        let mut used = 0;
        for m in &self.packages {
            used |= bit(m.key);
        }
        for k in self.jobs.iter().filter_map(|j| j.key) {
            used |= bit(k);
        }
        if let Some(o) = &self.object {
            used |= bit(o.key);
        }
        used
    }

    /// Drops map entries whose `Delivered/<X>` is gone and sets every `Data` size from the
    /// map.
    fn reconcile<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        tree: &mut Tree<DL, DV, DP, ACL>,
    ) {
        let before = self.packages.len();
        self.packages
            .retain(|m| tree.scomo().delivered(&m.name).is_some());
        if self.packages.len() != before {
            self.gc = true;
        }
        let names: heapless::Vec<NodeName, DV> = tree
            .scomo()
            .delivered_packages()
            .filter_map(|e| NodeName::try_from(e.name()).ok())
            .collect();
        for name in names {
            let size = self
                .package(&name)
                .map(|m| u32::try_from(m.len).unwrap_or(u32::MAX));
            if let Some(e) = tree.scomo_mut().delivered_mut(&name) {
                e.set_data(size);
            }
        }
    }

    /// Writes the state record (if it changed), then collects garbage.
    fn persist<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        tree: &Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<(), ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        self.dirty = true;
        let out = StateOut {
            tree,
            next_id: self.next_id,
            jobs: &self.jobs,
            outbox: &self.outbox,
            packages: &self.packages,
        };
        let len = frame::encode(STATE_VERSION, &out, p.scratch)
            .map_err(|_| ExecError::ScratchTooSmall)?;
        let bytes = p.scratch.get(..len).ok_or(ExecError::ScratchTooSmall)?;
        let stamp = (frame_crc(bytes), len);
        if self.saved != Some(stamp) {
            p.state.write(self.config.state(), bytes).map_err(|e| {
                error!("state record ({} bytes) not written: {:?}", len, e.kind());
                match e.kind() {
                    StorageErrorKind::TooLarge => ExecError::ScratchTooSmall,
                    k => ExecError::Storage(k),
                }
            })?;
            self.saved = Some(stamp);
        }
        self.dirty = false;
        self.durable_outbox = self.outbox.iter().map(|r| r.id).collect();
        self.durable_keys = self.referenced_keys();
        if self.gc {
            self.collect(p)?;
        }
        Ok(())
    }

    /// Deletes the packages nothing refers to.
    fn collect<C, S, I>(&mut self, p: &mut Platform<'_, C, S, I>) -> Result<(), ExecError>
    where
        C: ComponentStore,
    {
        let used = self.referenced_keys() | self.durable_keys;
        for k in 0..p.components.slots().min(MAX_KEYS) {
            if used & (1u64 << k) == 0
                && p.components
                    .inspect(PackageKey(k))
                    .map_err(storage)?
                    .is_some()
            {
                p.components.delete(PackageKey(k)).map_err(storage)?;
            }
        }
        self.gc = false;
        Ok(())
    }

    /// A report for the head job, Source filled in.
    fn report(&mut self, job: &Job, root: &str, result: ResultCode) -> Report {
        let id = self.take_id();
        Report::new(
            id,
            job.id,
            ScomoResult::standard(result),
            job.correlator.clone(),
            |w| inventory::write_source(w, root, job.primitive, &job.name),
        )
    }

    /// Ends the head job with `report`.
    fn finish<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        report: Report,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        if self.outbox.is_empty() {
            self.next_report_at = 0;
            self.report_backoff = self.config.report_retry_ms;
        }
        if let Some(job) = self.jobs.first() {
            info!(
                "job {} ({:?} on {}) finished: result {}",
                job.id.0,
                job.primitive,
                job.name.as_str(),
                report.result.code()
            );
        }
        // `poll` checked there is room.
        let _ = self.outbox.push(report);
        if !self.jobs.is_empty() {
            self.jobs.remove(0);
        }
        self.transfer = None;
        self.wait_until = 0;
        self.gc = true;
        self.persist(tree, p)?;
        Ok(Step::Again)
    }

    /// Ends the head job with `result` for its own entry (`identifier`: the `PkgID` or
    /// `ID`, else the entry's name), after `status` changed the tree.
    #[allow(clippy::too_many_arguments)]
    fn conclude<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        job: &Job,
        result: ResultCode,
        list: EntryKind,
        identifier: Option<&str>,
        status: impl FnOnce(&mut Tree<DL, DV, DP, ACL>),
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let root = UriBuf::try_from(tree.scomo_root()).unwrap_or_default();
        let mut report = self.report(job, &root, result);
        report.item(
            |w| write_entry(w, &root, list, &job.name),
            identifier.unwrap_or(&job.name),
        );
        status(tree);
        self.finish(report, tree, p)
    }

    /// Journals the head job's new phase (and what `change` did to the tree).
    fn advance<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        phase: Phase,
        change: impl FnOnce(&mut Tree<DL, DV, DP, ACL>),
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        if let Some(job) = self.jobs.first_mut() {
            job.phase = phase;
        }
        change(tree);
        self.persist(tree, p)?;
        Ok(Step::Again)
    }

    fn step<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let Some(job) = self.jobs.first().cloned() else {
            return Ok(Step::Blocked);
        };
        match job.phase {
            Phase::Queued => self.start(now, &job, tree, p),
            Phase::Fetching => self.fetching(now, &job, tree, p),
            Phase::Notify { result, .. } => self.notifying(now, &job, result, tree, p),
            Phase::Downloaded => self.ask_install(now, &job, tree, p),
            Phase::Running => self.run(now, &job, tree, p),
            Phase::Restart if job.restarted => self.run(now, &job, tree, p),
            Phase::Restart => Ok(Step::Restart),
        }
    }

    /// Starts a queued job: checks its target, asks consent, sets `Status` to progressing
    /// and journals it.
    fn start<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let name = job.name.clone();
        match job.primitive.entry_kind() {
            EntryKind::Download => {
                let Some(entry) = tree.scomo().download(&name) else {
                    return self.gone(job, tree, p);
                };
                let pkg_id = Ident::from(entry.pkg_id());
                let url = entry.pkg_url().unwrap_or("");
                let key = self.free_key(p.components.slots());
                let transfer = key.and_then(|k| Transfer::probe(job.id, k, url));
                let (Some(key), Some(transfer)) = (key, transfer) else {
                    let result = match key {
                        None => ResultCode::DownloadOutOfMemory,
                        Some(_) => ResultCode::DownloadFailed,
                    };
                    return self.conclude(
                        job,
                        result,
                        EntryKind::Download,
                        pkg_id.get(),
                        |t| set_download(t, &name, DownloadStatus::DownloadFailed),
                        tree,
                        p,
                    );
                };
                self.transfer = Some(transfer);
                if let Some(j) = self.jobs.first_mut() {
                    j.key = Some(key);
                }
                self.advance(
                    Phase::Fetching,
                    |t| set_download(t, &name, DownloadStatus::DownloadProgressing),
                    tree,
                    p,
                )
            }
            EntryKind::Delivered => {
                let Some(entry) = tree.scomo().delivered(&name) else {
                    return self.gone(job, tree, p);
                };
                let pkg_id = Ident::from(entry.pkg_id());
                if job.primitive == Primitive::RemoveDelivered {
                    return self.advance(
                        Phase::Running,
                        |t| set_delivered(t, &name, DeliveredStatus::RemoveProgressing),
                        tree,
                        p,
                    );
                }
                if self.package(&name).is_none() {
                    return self.conclude(
                        job,
                        ResultCode::InstallFailed,
                        EntryKind::Delivered,
                        pkg_id.get(),
                        |t| set_delivered(t, &name, DeliveredStatus::InstallFailedWithoutData),
                        tree,
                        p,
                    );
                }
                match consent(p, InstallerOp::Install, pkg_id.get().unwrap_or(&name)) {
                    Consent::Postpone => Ok(Step::Wait(now.saturating_add(CONSENT_RETRY_MS))),
                    Consent::Reject => self.conclude(
                        job,
                        ResultCode::UserCancelled,
                        EntryKind::Delivered,
                        pkg_id.get(),
                        |t| set_delivered(t, &name, DeliveredStatus::InstallFailedWithData),
                        tree,
                        p,
                    ),
                    Consent::Accept => self.advance(
                        Phase::Running,
                        |t| set_delivered(t, &name, DeliveredStatus::InstallProgressing),
                        tree,
                        p,
                    ),
                }
            }
            EntryKind::Deployed => {
                let Some(entry) = tree.scomo().deployed(&name) else {
                    return self.gone(job, tree, p);
                };
                let id = Ident::from(entry.id());
                let (op, busy, failed) = component_op(job.primitive);
                match consent(p, op, id.get().unwrap_or(&name)) {
                    Consent::Postpone => Ok(Step::Wait(now.saturating_add(CONSENT_RETRY_MS))),
                    Consent::Reject => self.conclude(
                        job,
                        ResultCode::UserCancelled,
                        EntryKind::Deployed,
                        id.get(),
                        |t| set_deployed(t, &name, failed),
                        tree,
                        p,
                    ),
                    Consent::Accept => {
                        self.advance(Phase::Running, |t| set_deployed(t, &name, busy), tree, p)
                    }
                }
            }
        }
    }

    /// The job's target entry is gone (the server deleted it): the job fails with its
    /// operation's failure code.
    fn gone<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let result = match job.primitive {
            Primitive::Download
            | Primitive::DownloadInstall
            | Primitive::DownloadInstallInactive => ResultCode::DownloadFailed,
            Primitive::Install | Primitive::InstallInactive => ResultCode::InstallFailed,
            Primitive::RemoveDelivered | Primitive::RemoveDeployed => ResultCode::RemoveFailed,
            Primitive::Activate => ResultCode::ActivateFailed,
            Primitive::Deactivate => ResultCode::DeactivateFailed,
        };
        self.conclude(
            job,
            result,
            job.primitive.entry_kind(),
            None,
            |_| {},
            tree,
            p,
        )
    }

    /// A download in progress: acts on what the last fetch brought, or issues the next.
    fn fetching<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        if self.transfer.as_ref().is_none_or(|t| t.job != job.id) {
            // After a restart with no transfer record: fetch `PkgURL` again from byte 0.
            let url = tree.scomo().download(&job.name).and_then(|e| e.pkg_url());
            self.transfer = match (url, job.key) {
                (Some(url), Some(key)) => Transfer::probe(job.id, key, url),
                _ => None,
            };
            if self.transfer.is_none() {
                return self.download_failed(job, ResultCode::DownloadFailed, tree, p);
            }
        }
        let record = self.config.transfer();
        let Some(t) = self.transfer.as_mut() else {
            return Ok(Step::Again);
        };
        if t.in_flight() {
            return Ok(Step::Blocked);
        }
        let event = match t.event.take() {
            Some(Event::Descriptor) => match t.take_descriptor(&mut p.state, record) {
                Ok(()) if t.dd_size.is_some_and(|s| s > p.components.slot_capacity()) => {
                    Some(Event::Failed {
                        result: ResultCode::DownloadOutOfMemory,
                        status: InstallStatus::InsufficientMemory,
                    })
                }
                Ok(()) => return Ok(Step::Again),
                Err(e) => Some(e),
            },
            other => other,
        };
        match event {
            None => {
                if now < t.retry_at {
                    return Ok(Step::Wait(t.retry_at));
                }
                match t.start(&mut p.components) {
                    Ok(_) if t.event.is_some() => Ok(Step::Again),
                    Ok(_) => Ok(Step::Fetch),
                    Err(_) => self.download_failed(job, ResultCode::DownloadOutOfMemory, tree, p),
                }
            }
            Some(Event::Descriptor) => Ok(Step::Again),
            Some(Event::Retry(failure)) => {
                t.attempts = t.attempts.saturating_add(1);
                if t.attempts >= MAX_ATTEMPTS {
                    t.event = Some(Event::Failed {
                        result: failure.result(),
                        status: match failure {
                            FetchFailure::Interrupted => InstallStatus::LossOfService,
                            _ => InstallStatus::LoaderError,
                        },
                    });
                    return Ok(Step::Again);
                }
                t.retry_at = now.saturating_add(backoff(self.config.retry_ms, t.attempts));
                Ok(Step::Wait(t.retry_at))
            }
            Some(Event::Complete { len, digest }) => {
                let mismatch = t.dd_size.is_some_and(|s| s != len);
                let expected = tree
                    .scomo()
                    .download(&job.name)
                    .and_then(|e| e.get(DownloadLeaf::Sha256))
                    .map(parse_hex);
                let (result, status) = if mismatch {
                    (ResultCode::DownloadFailed, InstallStatus::AttributeMismatch)
                } else if expected.is_some_and(|x| x != Some(digest)) {
                    (
                        ResultCode::ValidationFailed,
                        InstallStatus::AttributeMismatch,
                    )
                } else {
                    (ResultCode::Successful, InstallStatus::Success)
                };
                if let Some(j) = self.jobs.first_mut() {
                    j.digest = Some(digest);
                }
                self.downloaded(job, result, status, tree, p)
            }
            Some(Event::Failed { result, status }) => self.downloaded(job, result, status, tree, p),
        }
    }

    /// The download ended with `result`: post the notify report if the descriptor asked
    /// for one, else go on.
    fn downloaded<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        job: &Job,
        result: ResultCode,
        status: InstallStatus,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let notify = self.transfer.as_mut().filter(|t| t.notify_url.is_some());
        match notify {
            Some(t) => {
                t.attempts = 0;
                t.retry_at = 0;
                t.posted = false;
                t.posting = false;
                let result = result.code();
                self.advance(Phase::Notify { status, result }, |_| {}, tree, p)
            }
            None => self.after_download(job, result, tree, p),
        }
    }

    /// Posting the install-notify report.
    fn notifying<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        result: u16,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let result = ResultCode::from_code(result).unwrap_or(ResultCode::UndefinedError);
        let status = match job.phase {
            Phase::Notify { status, .. } => status,
            _ => InstallStatus::Success,
        };
        let Some(t) = self
            .transfer
            .as_mut()
            .filter(|t| t.job == job.id && t.notify_url.is_some())
        else {
            // Nowhere to post (the transfer record is gone): go on.
            return self.after_download(job, result, tree, p);
        };
        if t.posted {
            return self.after_download(job, result, tree, p);
        }
        if t.posting {
            return Ok(Step::Blocked);
        }
        if t.attempts > 0 && t.retry_at == 0 {
            t.retry_at = now.saturating_add(backoff(self.config.retry_ms, t.attempts));
        }
        if now < t.retry_at {
            return Ok(Step::Wait(t.retry_at));
        }
        t.retry_at = 0;
        let mut body = [0u8; InstallStatus::MAX_REPORT_LEN];
        t.notify_body = status
            .write_report(&mut body)
            .ok()
            .and_then(|s| heapless::String::try_from(s).ok())
            .unwrap_or_default();
        t.posting = true;
        Ok(Step::Post)
    }

    /// The download part is over with `result`.
    fn after_download<
        C,
        S,
        I,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &mut self,
        job: &Job,
        result: ResultCode,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        if result != ResultCode::Successful {
            return self.download_failed(job, result, tree, p);
        }
        let name = job.name.clone();
        if job.primitive != Primitive::Download {
            self.transfer = None;
            return self.advance(
                Phase::Downloaded,
                |t| set_download(t, &name, DownloadStatus::DownloadComplete),
                tree,
                p,
            );
        }
        // A plain Download: the package becomes `Inventory/Delivered/<X>`.
        let (Some(key), Some(digest)) = (job.key, self.jobs.first().and_then(|j| j.digest)) else {
            return self.download_failed(job, ResultCode::UndefinedError, tree, p);
        };
        let len = match p.components.inspect(key).map_err(storage)? {
            Some(info) if info.state == PackageState::Complete => info.len,
            _ => return self.download_failed(job, ResultCode::DownloadFailed, tree, p),
        };
        let pkg_id = Ident::from(tree.scomo().download(&name).and_then(|e| e.pkg_id()));
        if inventory::deliver(tree, &name, len).is_err()
            || !self.map_package(Package {
                name: name.clone(),
                key,
                len,
                digest,
            })
        {
            return self.download_failed(job, ResultCode::DownloadOutOfMemory, tree, p);
        }
        if let Some(j) = self.jobs.first_mut() {
            // The package now belongs to the map.
            j.key = None;
        }
        let root = UriBuf::try_from(tree.scomo_root()).unwrap_or_default();
        let mut report = self.report(job, &root, ResultCode::Successful);
        report.item(
            |w| write_entry(w, &root, EntryKind::Delivered, &name),
            pkg_id.get().unwrap_or(&name),
        );
        set_download(tree, &name, DownloadStatus::DownloadComplete);
        self.finish(report, tree, p)
    }

    /// The download failed: `Status` 20, the bytes are dropped, `result` is reported.
    fn download_failed<
        C,
        S,
        I,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &mut self,
        job: &Job,
        result: ResultCode,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let name = job.name.clone();
        let pkg_id = Ident::from(tree.scomo().download(&name).and_then(|e| e.pkg_id()));
        self.conclude(
            job,
            result,
            EntryKind::Download,
            pkg_id.get(),
            |t| set_download(t, &name, DownloadStatus::DownloadFailed),
            tree,
            p,
        )
    }

    /// `DownloadInstall*` after the download: consent, then `Status` 50.
    fn ask_install<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let name = job.name.clone();
        let Some(entry) = tree.scomo().download(&name) else {
            return self.gone(job, tree, p);
        };
        let pkg_id = Ident::from(entry.pkg_id());
        match consent(p, InstallerOp::Install, pkg_id.get().unwrap_or(&name)) {
            Consent::Postpone => Ok(Step::Wait(now.saturating_add(CONSENT_RETRY_MS))),
            Consent::Reject => self.conclude(
                job,
                ResultCode::UserCancelled,
                EntryKind::Download,
                pkg_id.get(),
                |t| set_download(t, &name, DownloadStatus::InstallFailedWithoutData),
                tree,
                p,
            ),
            Consent::Accept => self.advance(
                Phase::Running,
                |t| set_download(t, &name, DownloadStatus::InstallProgressing),
                tree,
                p,
            ),
        }
    }

    /// The work of a running job.
    fn run<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        match job.primitive {
            Primitive::RemoveDelivered => {
                let name = job.name.clone();
                let Some(entry) = tree.scomo().delivered(&name) else {
                    return self.gone(job, tree, p);
                };
                let pkg_id = Ident::from(entry.pkg_id());
                self.packages.retain(|m| m.name != name);
                self.gc = true;
                let uri = entry_uri(tree.scomo_root(), EntryKind::Delivered, &name);
                self.conclude(
                    job,
                    ResultCode::Successful,
                    EntryKind::Delivered,
                    pkg_id.get(),
                    |t| {
                        let _ = t.device_delete(&uri);
                    },
                    tree,
                    p,
                )
            }
            Primitive::Activate | Primitive::Deactivate | Primitive::RemoveDeployed => {
                self.run_component(now, job, tree, p)
            }
            _ => self.run_install(now, job, tree, p),
        }
    }

    fn run_component<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let name = job.name.clone();
        let Some(id) = tree.scomo().deployed(&name).map(|e| Ident::from(e.id())) else {
            return self.gone(job, tree, p);
        };
        let (op, _, failed) = component_op(job.primitive);
        let target = id.get().unwrap_or(&name);
        let answer = match job.primitive {
            Primitive::Activate => p.installer.activate(target),
            Primitive::Deactivate => p.installer.deactivate(target),
            _ => p.installer.remove(target),
        };
        match answer {
            Ok(Outcome::Done) => {
                let primitive = job.primitive;
                let uri = entry_uri(tree.scomo_root(), EntryKind::Deployed, &name);
                self.conclude(
                    job,
                    ResultCode::Successful,
                    EntryKind::Deployed,
                    id.get(),
                    |t| match primitive {
                        Primitive::RemoveDeployed => {
                            let _ = t.device_delete(&uri);
                        }
                        _ => {
                            if let Some(e) = t.scomo_mut().deployed_mut(&name) {
                                e.set_status(DeployedStatus::Idle);
                                e.set_state(if primitive == Primitive::Activate {
                                    DeployedState::Active
                                } else {
                                    DeployedState::Inactive
                                });
                            }
                        }
                    },
                    tree,
                    p,
                )
            }
            Ok(Outcome::Pending) => Ok(Step::Wait(now.saturating_add(INSTALLER_POLL_MS))),
            Ok(Outcome::RebootRequired) => self.restart_required(job, op, tree, p),
            Err(e) => self.conclude(
                job,
                e.kind().result_code(op),
                EntryKind::Deployed,
                id.get(),
                |t| set_deployed(t, &name, failed),
                tree,
                p,
            ),
        }
    }

    /// The installer answered `RebootRequired`: journal it and ask for a restart (a job
    /// that keeps asking fails after [`MAX_RESTARTS`]).
    fn restart_required<
        C,
        S,
        I,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &mut self,
        job: &Job,
        op: InstallerOp,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        if job.restarts >= MAX_RESTARTS {
            return self.install_like_failure(job, op.failed(), tree, p);
        }
        if let Some(j) = self.jobs.first_mut() {
            j.restarts += 1;
            j.restarted = false;
        }
        self.advance(Phase::Restart, |_| {}, tree, p)?;
        Ok(Step::Restart)
    }

    /// Fails the head job with `result`, setting its entry's failed `Status`.
    fn install_like_failure<
        C,
        S,
        I,
        const DL: usize,
        const DV: usize,
        const DP: usize,
        const ACL: usize,
    >(
        &mut self,
        job: &Job,
        result: ResultCode,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
    {
        let name = job.name.clone();
        let list = job.primitive.entry_kind();
        let ident = Ident::from(match list {
            EntryKind::Download => tree.scomo().download(&name).and_then(|e| e.pkg_id()),
            EntryKind::Delivered => tree.scomo().delivered(&name).and_then(|e| e.pkg_id()),
            EntryKind::Deployed => tree.scomo().deployed(&name).and_then(|e| e.id()),
        });
        let primitive = job.primitive;
        let has_data = self.package(&name).is_some();
        self.conclude(
            job,
            result,
            list,
            ident.get(),
            |t| match list {
                EntryKind::Download => {
                    set_download(t, &name, DownloadStatus::InstallFailedWithoutData)
                }
                EntryKind::Delivered => set_delivered(
                    t,
                    &name,
                    if has_data {
                        DeliveredStatus::InstallFailedWithData
                    } else {
                        DeliveredStatus::InstallFailedWithoutData
                    },
                ),
                EntryKind::Deployed => set_deployed(t, &name, component_op(primitive).2),
            },
            tree,
            p,
        )
    }

    /// Install / InstallInactive / the install of `DownloadInstall*`.
    fn run_install<C, S, I, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
        &mut self,
        now: u64,
        job: &Job,
        tree: &mut Tree<DL, DV, DP, ACL>,
        p: &mut Platform<'_, C, S, I>,
    ) -> Result<Step, ExecError>
    where
        C: ComponentStore,
        S: StateStore,
        I: Installer,
    {
        let name = job.name.clone();
        let list = job.primitive.entry_kind();
        let inactive = matches!(
            job.primitive,
            Primitive::InstallInactive | Primitive::DownloadInstallInactive
        );
        let (key, digest) = match list {
            EntryKind::Download => (job.key, job.digest),
            _ => match self.package(&name) {
                Some(m) => (Some(m.key), Some(m.digest)),
                None => (None, None),
            },
        };
        let Some(key) = key else {
            return self.install_like_failure(job, ResultCode::InstallFailed, tree, p);
        };
        // What the tree says about the package (copied: the tree changes afterwards).
        let facts = match list {
            EntryKind::Download => tree.scomo().download(&name).map(|e| Facts {
                pkg_id: Ident::from(e.pkg_id()),
                name: Ident::from(e.get(DownloadLeaf::Name)),
                pkg_type: Ident::from(e.get(DownloadLeaf::PkgType)),
                env_type: Ident::from(e.get(DownloadLeaf::EnvType)),
                params: param(e.get(DownloadLeaf::InstallParams)),
            }),
            _ => tree.scomo().delivered(&name).map(|e| Facts {
                pkg_id: Ident::from(e.pkg_id()),
                name: Ident::from(e.get(DeliveredLeaf::Name)),
                pkg_type: Ident::from(e.get(DeliveredLeaf::PkgType)),
                env_type: Ident::from(e.get(DeliveredLeaf::EnvType)),
                params: param(e.get(DeliveredLeaf::InstallParams)),
            }),
        };
        let Some(facts) = facts else {
            return self.gone(job, tree, p);
        };
        let request = InstallRequest {
            pkg_id: facts.pkg_id.get().unwrap_or(&name),
            name: facts.name.get(),
            pkg_type: facts.pkg_type.get(),
            env_type: facts.env_type.get(),
            params: facts.params.as_deref(),
        };
        if !job.verified {
            // The installer's check (a signature), then the bytes hashed again just before
            // the install, against what was hashed as they arrived.
            let verdict = match p.components.open(key) {
                Ok(mut reader) => p.installer.verify(&mut reader, &request),
                Err(_) => Verdict::Invalid,
            };
            let intact = match transfer::hash_package(&mut p.components, key) {
                Ok((sha, _)) => digest.is_none_or(|d| d == sha),
                Err(_) => false,
            };
            if verdict == Verdict::Invalid || !intact {
                return self.install_like_failure(job, ResultCode::ValidationFailed, tree, p);
            }
            if let Some(j) = self.jobs.first_mut() {
                j.verified = true;
            }
        }
        let (answer, len, overflow) = match p.components.open(key) {
            Ok(mut reader) => {
                let mut sink = ScratchSink::new(p.scratch);
                let answer = p
                    .installer
                    .install(&mut reader, inactive, &request, &mut sink)
                    .map_err(|e| e.kind());
                (answer, sink.len(), sink.overflow)
            }
            Err(_) => (Err(InstallerErrorKind::Failed), 0, false),
        };
        match answer {
            Ok(Outcome::Done) => {
                let root = UriBuf::try_from(tree.scomo_root()).unwrap_or_default();
                let mut report = self.report(job, &root, ResultCode::Successful);
                let what = Installed {
                    pkg_id: facts.pkg_id.get(),
                    env_type: facts.env_type.get(),
                    inactive,
                };
                let components = p.scratch.get(..len).unwrap_or(&[]);
                let deployed = if overflow {
                    Err(ResultCode::InstallOutOfMemory)
                } else {
                    inventory::deploy(tree, components, &what, &mut report)
                };
                if let Err(code) = deployed {
                    return self.install_like_failure(job, code, tree, p);
                }
                match list {
                    EntryKind::Download => set_download(tree, &name, DownloadStatus::Idle),
                    _ => {
                        if let Some(e) = tree.scomo_mut().delivered_mut(&name) {
                            e.set_status(DeliveredStatus::Idle);
                            e.set_state(DeliveredState::Installed);
                        }
                    }
                }
                self.finish(report, tree, p)
            }
            Ok(Outcome::Pending) => Ok(Step::Wait(now.saturating_add(INSTALLER_POLL_MS))),
            Ok(Outcome::RebootRequired) => {
                self.restart_required(job, InstallerOp::Install, tree, p)
            }
            Err(kind) => {
                self.install_like_failure(job, kind.result_code(InstallerOp::Install), tree, p)
            }
        }
    }
}

/// The CRC at the end of a frame.
fn frame_crc(frame: &[u8]) -> u32 {
    frame
        .last_chunk::<4>()
        .map(|c| u32::from_le_bytes(*c))
        .unwrap_or(0)
}

/// The wait after `attempts` failed attempts.
fn backoff(base_ms: u64, attempts: u8) -> u64 {
    base_ms << u32::from(attempts.saturating_sub(1)).min(10)
}

/// An identifier or other short leaf value, copied out of the tree.
#[derive(Debug, Clone, Default)]
struct Ident(Option<heapless::String<64, u8>>);

impl Ident {
    fn from(v: Option<&str>) -> Self {
        Self(v.and_then(|v| heapless::String::try_from(v).ok()))
    }

    fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// `InstallParams`, copied out of the tree.
type Param = Option<heapless::String<128, u8>>;

fn param(v: Option<&str>) -> Param {
    v.and_then(|v| heapless::String::try_from(v).ok())
}

/// What the installer is told about a package.
struct Facts {
    pkg_id: Ident,
    name: Ident,
    pkg_type: Ident,
    env_type: Ident,
    params: Param,
}

/// The installer operation, progressing `Status` and failed `Status` of a component
/// primitive.
fn component_op(p: Primitive) -> (InstallerOp, DeployedStatus, DeployedStatus) {
    match p {
        Primitive::Activate => (
            InstallerOp::Activate,
            DeployedStatus::ActivateProgressing,
            DeployedStatus::ActivateFailed,
        ),
        Primitive::Deactivate => (
            InstallerOp::Deactivate,
            DeployedStatus::DeactivateProgressing,
            DeployedStatus::DeactivateFailed,
        ),
        _ => (
            InstallerOp::Remove,
            DeployedStatus::RemoveProgressing,
            DeployedStatus::RemoveFailed,
        ),
    }
}

fn consent<C, S, I: Installer>(
    p: &mut Platform<'_, C, S, I>,
    op: InstallerOp,
    target: &str,
) -> Consent {
    p.installer.consent(&ConsentRequest { op, target })
}

fn set_download<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &mut Tree<DL, DV, DP, ACL>,
    name: &str,
    status: DownloadStatus,
) {
    if let Some(e) = tree.scomo_mut().download_mut(name) {
        e.set_status(status);
    }
}

fn set_delivered<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &mut Tree<DL, DV, DP, ACL>,
    name: &str,
    status: DeliveredStatus,
) {
    if let Some(e) = tree.scomo_mut().delivered_mut(name) {
        e.set_status(status);
    }
}

fn set_deployed<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &mut Tree<DL, DV, DP, ACL>,
    name: &str,
    status: DeployedStatus,
) {
    if let Some(e) = tree.scomo_mut().deployed_mut(name) {
        e.set_status(status);
    }
}

/// A SHA-256 written as 64 hex digits (either case); `None` if it is not one.
fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim().as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |b: u8| (b as char).to_digit(16);
        let (hi, lo) = (digit(*pair.first()?)?, digit(*pair.get(1)?)?);
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

impl LargeObject {
    pub(crate) fn new(name: NodeName, key: PackageKey) -> Self {
        Self {
            name,
            key,
            sha: transfer::Running::new(),
            len: 0,
        }
    }

    pub(crate) fn key(&self) -> PackageKey {
        self.key
    }

    pub(crate) fn add(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub(crate) fn into_package(self, len: u64) -> Option<Package> {
        (len == self.len).then(|| Package {
            name: self.name,
            key: self.key,
            len,
            digest: self.sha.finish(),
        })
    }
}

/// Whether `value` prints exactly as `text` (compared piece by piece, nothing buffered).
fn displays_as(value: &dyn core::fmt::Display, text: &str) -> bool {
    struct Rest<'t>(&'t str);
    impl core::fmt::Write for Rest<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(core::fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    core::fmt::write(&mut rest, format_args!("{value}")).is_ok() && rest.0.is_empty()
}
