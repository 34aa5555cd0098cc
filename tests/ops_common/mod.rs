//! A device for the executor tests: tree, executor and platform on one mock NOR flash, a
//! scripted download server, and a DM server that Adds, Execs and acknowledges.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};

use scomo::codes::StatusCode;
use scomo::dm::alert::SessionHandler;
use scomo::mo::{DevDetail, DevInfo, DmAcc, MoVersion, Scomo};
use scomo::mock::{Installed, MockFlash, MockInstaller, Script, write_package};
use scomo::ops::{
    Action, Config, ExecError, Executor, FetchFailure, FetchHead, Flow, JobId, Platform,
};
use scomo::persist::{NorComponentStore, NorStateStore, Partition};
use scomo::platform::{RecordId, StateStore};
use scomo::tree::{Item, Tree, Written};

pub const SRV: &str = "srv";
pub const SIZE: usize = 65536;
/// Byte ranges of the partitions: state records, packages, the installer's inventory.
pub const STATE: (u32, u32) = (0, 16384);
pub const PACKAGES: (u32, u32) = (16384, 39936);
pub const INSTALLER: (u32, u32) = (56320, 8192);
pub const SLOTS: u16 = 3;
const INVENTORY: RecordId = RecordId(7);

pub type T = Tree<2, 2, 4, 384>;
pub type Flash<const W: usize, const E: usize> = MockFlash<SIZE, W, E>;
type Part<const W: usize, const E: usize> = Partition<'static, Flash<W, E>>;
pub type Plat<const W: usize, const E: usize> = Platform<
    'static,
    NorComponentStore<Part<W, E>>,
    Counting<NorStateStore<Part<W, E>>>,
    MockInstaller<NorStateStore<Part<W, E>>, 8>,
>;

/// A state store that counts writes per record.
#[derive(Debug)]
pub struct Counting<S> {
    pub inner: S,
    pub writes: BTreeMap<u16, u32>,
}

impl<S: StateStore> StateStore for Counting<S> {
    type Error = S::Error;
    fn max_record_len(&self) -> usize {
        self.inner.max_record_len()
    }
    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, S::Error> {
        self.inner.read(id, buf)
    }
    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), S::Error> {
        *self.writes.entry(id.0).or_default() += 1;
        self.inner.write(id, bytes)
    }
    fn delete(&mut self, id: RecordId) -> Result<(), S::Error> {
        self.inner.delete(id)
    }
    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, S::Error> {
        self.inner.next_id(after)
    }
}

/// A fault the download server applies to one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// No answer at all.
    Unreachable,
    /// Break the connection after this many body bytes.
    InterruptAfter(usize),
}

/// One object the download server holds.
#[derive(Debug, Clone)]
pub struct Object {
    pub content_type: String,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    /// Answer 200 with the whole object to Range requests.
    pub ignore_range: bool,
    /// Send no Content-Length (and keep sending `extra` bytes after the body).
    pub endless: Option<usize>,
    /// Applied to the next responses, one each.
    pub faults: VecDeque<Fault>,
}

impl Object {
    pub fn new(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            content_type: content_type.into(),
            body,
            etag: Some("\"v1\"".into()),
            ignore_range: false,
            endless: None,
            faults: VecDeque::new(),
        }
    }
}

/// The download server (HTTP, by URL).
#[derive(Debug, Default, Clone)]
pub struct Web {
    pub objects: HashMap<String, Object>,
    /// Every request: (url, offset, if-range).
    pub requests: Vec<(String, u64, Option<String>)>,
    /// The job of every request.
    pub jobs: Vec<JobId>,
    /// Every install-notify post: (url, body).
    pub notifies: Vec<(String, String)>,
    /// The next this many posts fail.
    pub notify_failures: u32,
    /// Body bytes per chunk.
    pub chunk: usize,
}

/// A Generic Alert as the DM server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: u32,
    pub correlator: Option<String>,
    pub source: String,
    pub items: Vec<(String, u16, String)>,
}

/// What the servers know: it survives the device's power cuts.
#[derive(Debug, Clone, Default)]
pub struct Carry {
    pub web: Web,
    /// Every Generic Alert delivered, in order (one entry per sending).
    pub seen: Vec<Seen>,
    /// Report ids acknowledged.
    pub acked: Vec<u32>,
    /// Report ids whose acknowledgement the device finished storing, with the length of
    /// `seen` at that moment.
    pub durable_acks: Vec<(u32, usize)>,
    /// Restarts the device went through because the executor asked.
    pub restarts: u32,
    /// Actions `run` saw, in order (for assertions on the flow).
    pub log: Vec<String>,
}

/// The memory a device lineage reuses across boots: two flash chips (the one in use and
/// the one the next boot gets) and the scratch buffer.
pub struct Hold<const W: usize, const E: usize> {
    pub chip: &'static RefCell<Flash<W, E>>,
    pub spare: &'static RefCell<Flash<W, E>>,
    pub scratch: &'static mut [u8],
}

impl<const W: usize, const E: usize> Hold<W, E> {
    /// Two erased chips and a scratch buffer (allocated once; reuse the hold).
    pub fn new(erased: u8) -> Self {
        Self {
            chip: Box::leak(Box::new(RefCell::new(Flash::<W, E>::new(erased)))),
            spare: Box::leak(Box::new(RefCell::new(Flash::<W, E>::new(erased)))),
            scratch: Box::leak(vec![0u8; 8192].into_boxed_slice()),
        }
    }

    /// Puts `flash` in the spare chip and makes it the one in use.
    pub fn swap_in(self, flash: Flash<W, E>) -> Self {
        *self.spare.borrow_mut() = flash;
        Self {
            chip: self.spare,
            spare: self.chip,
            scratch: self.scratch,
        }
    }
}

/// A boot that failed: why, and the memory and server knowledge to try again with.
pub type Failed<const W: usize, const E: usize> = Box<(ExecError, Hold<W, E>, Carry)>;

/// The device and its servers.
pub struct Rig<const W: usize, const E: usize> {
    pub erased: u8,
    pub chip: &'static RefCell<Flash<W, E>>,
    spare: &'static RefCell<Flash<W, E>>,
    pub tree: T,
    pub ex: Executor<4, 4, 4>,
    pub p: Plat<W, E>,
    pub script: Script,
    pub now: u64,
    pub web: Web,
    pub seen: Vec<Seen>,
    pub acked: Vec<u32>,
    pub durable_acks: Vec<(u32, usize)>,
    /// Whether the DM server acknowledges the alerts it receives.
    pub ack: bool,
    pub restarts: u32,
    pub log: Vec<String>,
}

pub fn tree() -> T {
    let mut t = T::new(
        DevInfo::new(),
        DevDetail::new(),
        DmAcc::new("acc").unwrap(),
        Scomo::new(MoVersion::V1_0),
        "./SCOMO",
    )
    .unwrap();
    t.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=*")
        .unwrap();
    t
}

/// The stores and installer of one boot on `chip`.
pub fn platform<const W: usize, const E: usize>(
    chip: &'static RefCell<Flash<W, E>>,
    erased: u8,
    script: Script,
    scratch: &'static mut [u8],
) -> Result<Plat<W, E>, (scomo::persist::NorStoreError, &'static mut [u8])> {
    let mounted = (|| {
        let state = NorStateStore::mount(Partition::new(chip, STATE.0, STATE.1).unwrap(), erased)?;
        let packages = NorComponentStore::new(
            Partition::new(chip, PACKAGES.0, PACKAGES.1).unwrap(),
            SLOTS,
            erased,
        )?;
        let inventory = NorStateStore::mount(
            Partition::new(chip, INSTALLER.0, INSTALLER.1).unwrap(),
            erased,
        )?;
        Ok((state, packages, inventory))
    })();
    match mounted {
        Ok((state, packages, inventory)) => Ok(Platform {
            components: packages,
            state: Counting {
                inner: state,
                writes: BTreeMap::new(),
            },
            installer: MockInstaller::new(inventory, INVENTORY, script),
            scratch,
        }),
        Err(e) => Err((e, scratch)),
    }
}

/// A package the mock installer understands.
pub fn package(components: &[(&str, &str, &str)], payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 + 3) as u8).collect();
    let mut buf = vec![0u8; payload_len + 512];
    let n = write_package(components, &payload, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

pub fn dd(object: &str, size: usize, notify: Option<&str>) -> Vec<u8> {
    let notify = notify
        .map(|n| format!("<installNotifyURI>{n}</installNotifyURI>"))
        .unwrap_or_default();
    format!(
        "<media xmlns=\"http://www.openmobilealliance.org/xmlns/dd\">\
         <type>application/x-scomo</type><size>{size}</size>\
         <objectURI>{object}</objectURI>{notify}</media>"
    )
    .into_bytes()
}

impl<const W: usize, const E: usize> Rig<W, E> {
    /// A new device with an erased flash.
    pub fn new(erased: u8, script: Script) -> Self {
        Self::boot(Hold::new(erased), erased, script, Carry::default())
            .map_err(|f| f.0)
            .unwrap()
    }

    /// A device booting from `hold.chip` (whatever it holds).
    pub fn boot(
        hold: Hold<W, E>,
        erased: u8,
        script: Script,
        carry: Carry,
    ) -> Result<Self, Failed<W, E>> {
        let Hold {
            chip,
            spare,
            scratch,
        } = hold;
        let mut p = match platform(chip, erased, script, scratch) {
            Ok(p) => p,
            Err((_, scratch)) => {
                let hold = Hold {
                    chip,
                    spare,
                    scratch,
                };
                return Err(Box::new((ExecError::Corrupted, hold, carry)));
            }
        };
        let mut tree = tree();
        let ex = match Executor::recover(Config::default(), &mut tree, &mut p) {
            Ok(ex) => ex,
            Err(e) => {
                let hold = Hold {
                    chip,
                    spare,
                    scratch: p.scratch,
                };
                return Err(Box::new((e, hold, carry)));
            }
        };
        Ok(Self {
            erased,
            chip,
            spare,
            tree,
            ex,
            p,
            script,
            now: 0,
            web: Web {
                chunk: if carry.web.chunk == 0 {
                    512
                } else {
                    carry.web.chunk
                },
                ..carry.web
            },
            seen: carry.seen,
            acked: carry.acked,
            durable_acks: carry.durable_acks,
            ack: true,
            restarts: carry.restarts,
            log: carry.log,
        })
    }

    /// Takes the device apart: the memory to reuse and what the servers know.
    pub fn into_parts(self) -> (Hold<W, E>, Carry) {
        (
            Hold {
                chip: self.chip,
                spare: self.spare,
                scratch: self.p.scratch,
            },
            Carry {
                web: self.web,
                seen: self.seen,
                acked: self.acked,
                durable_acks: self.durable_acks,
                restarts: self.restarts,
                log: self.log,
            },
        )
    }

    /// The device after a power cycle (no cut): the same flash, a new boot.
    pub fn reboot(self) -> Self {
        let (erased, script, ack) = (self.erased, self.script, self.ack);
        let image = self.chip.borrow().reboot();
        let (hold, carry) = self.into_parts();
        let mut next = Self::boot(hold.swap_in(image), erased, script, carry)
            .map_err(|f| f.0)
            .unwrap();
        next.ack = ack;
        next
    }

    pub fn add(&mut self, uri: &str, value: &str) -> Result<(), StatusCode> {
        self.tree.add(SRV, uri, Item::chr(value), None).map(|_| ())
    }

    pub fn save(&mut self) {
        self.try_save().unwrap();
    }

    pub fn try_save(&mut self) -> Result<(), ExecError> {
        self.ex.save(&mut self.tree, &mut self.p)
    }

    /// The server Execs `uri` (then the device saves before replying).
    pub fn exec(&mut self, uri: &str, correlator: Option<&str>) -> StatusCode {
        self.try_exec(uri, correlator).unwrap()
    }

    /// [`exec`](Self::exec), `Err` when the reply could not be made durable.
    pub fn try_exec(
        &mut self,
        uri: &str,
        correlator: Option<&str>,
    ) -> Result<StatusCode, ExecError> {
        let mut handler = self.ex.handler(&mut self.p);
        let status = self.tree.exec(SRV, uri, correlator, None, &mut handler);
        self.try_save()?;
        Ok(status)
    }

    /// The server creates `Download/<name>` and Execs `primitive` on it.
    pub fn order_download(
        &mut self,
        name: &str,
        pkg_id: &str,
        url: &str,
        primitive: &str,
        correlator: Option<&str>,
    ) -> StatusCode {
        self.try_order_download(name, pkg_id, url, primitive, correlator)
            .unwrap()
    }

    /// [`order_download`](Self::order_download), sent again as often as needed.
    pub fn try_order_download(
        &mut self,
        name: &str,
        pkg_id: &str,
        url: &str,
        primitive: &str,
        correlator: Option<&str>,
    ) -> Result<StatusCode, ExecError> {
        let base = format!("./SCOMO/Download/{name}");
        if self.tree.scomo().download(name).is_none() {
            self.tree.add(SRV, &base, Item::node(), None).unwrap();
        }
        for (leaf, value) in [("PkgID", pkg_id), ("PkgURL", url)] {
            let uri = format!("{base}/{leaf}");
            if self.add(&uri, value) == Err(StatusCode::AlreadyExists) {
                self.tree
                    .replace(SRV, &uri, Item::chr(value), None)
                    .unwrap();
            }
        }
        self.try_exec(&format!("{base}/Operations/{primitive}"), correlator)
    }

    /// The server pushes `bytes` as `Inventory/Delivered/<name>/Data` (Large Object in
    /// chunks of `chunk`), with `PkgID`.
    pub fn push(&mut self, name: &str, pkg_id: &str, bytes: &[u8], chunk: usize) -> StatusCode {
        self.try_push(name, pkg_id, bytes, chunk).unwrap()
    }

    /// [`push`](Self::push); `Err` when the reply could not be made durable.
    pub fn try_push(
        &mut self,
        name: &str,
        pkg_id: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<StatusCode, ExecError> {
        let base = format!("./SCOMO/Inventory/Delivered/{name}");
        if self.tree.scomo().delivered(name).is_none() {
            self.tree.add(SRV, &base, Item::node(), None).unwrap();
            self.add(&format!("{base}/PkgID"), pkg_id).unwrap();
        }
        let data = format!("{base}/Data");
        let written = match self
            .tree
            .scomo()
            .delivered(name)
            .and_then(|e| e.data_size())
        {
            Some(_) => self.tree.replace(SRV, &data, Item::new(&[]), None),
            None => self.tree.add(SRV, &data, Item::new(&[]), None),
        };
        let Ok(Written::External { package }) = written else {
            panic!("Data is not external: {written:?}");
        };
        let package = package.to_string();
        let mut h = self.ex.handler(&mut self.p);
        if let Err(code) = h.object_begin(&package, Some(bytes.len() as u64)) {
            return Ok(code);
        }
        for c in bytes.chunks(chunk) {
            if let Err(code) = h.object_write(c) {
                let _ = h.object_end(false);
                return Ok(code);
            }
        }
        let len = match h.object_end(true) {
            Ok(len) => len,
            Err(code) => return Ok(code),
        };
        self.tree
            .scomo_mut()
            .delivered_mut(&package)
            .unwrap()
            .set_data(Some(len as u32));
        self.try_save()?;
        Ok(StatusCode::Ok)
    }

    /// A report session: the server reads every pending alert, then answers each (200
    /// when `self.ack`, else 500).
    pub fn session(&mut self) {
        self.try_session().unwrap();
    }

    /// [`session`](Self::session); `Err` when the device failed to save.
    pub fn try_session(&mut self) -> Result<(), ExecError> {
        let mut h = self.ex.handler(&mut self.p);
        let mut ids = Vec::new();
        let mut i = 0;
        while let Some(a) = h.pending_alert(i) {
            self.seen.push(Seen {
                id: a.id,
                correlator: a.correlator.map(str::to_string),
                source: a.source.to_string(),
                items: a
                    .items
                    .iter()
                    .map(|it| {
                        (
                            it.target.to_string(),
                            it.result.code(),
                            it.identifier.to_string(),
                        )
                    })
                    .collect(),
            });
            ids.push(a.id);
            i += 1;
        }
        for id in ids {
            if self.ack {
                h.alert_status(id, StatusCode::Ok);
                self.acked.push(id);
                if !self.chip.borrow().is_cut() {
                    self.durable_acks.push((id, self.seen.len()));
                }
            } else {
                h.alert_status(id, StatusCode::CommandFailed);
            }
        }
        self.try_save()
    }

    /// Serves one fetch from `self.web`.
    pub fn serve(&mut self, job: JobId, url: &str, offset: u64, if_range: Option<&str>) {
        self.web
            .requests
            .push((url.to_string(), offset, if_range.map(str::to_string)));
        self.web.jobs.push(job);
        let Some(obj) = self.web.objects.get_mut(url) else {
            let head = FetchHead {
                status: 404,
                ..FetchHead::default()
            };
            self.ex.fetch_head(job, &head, &mut self.p);
            self.ex.fetch_end(job, Ok(()), &mut self.p);
            return;
        };
        let fault = obj.faults.pop_front();
        let obj = obj.clone();
        let mut interrupt = None;
        match fault {
            Some(Fault::Status(status)) => {
                let head = FetchHead {
                    status,
                    ..FetchHead::default()
                };
                self.ex.fetch_head(job, &head, &mut self.p);
                self.ex.fetch_end(job, Ok(()), &mut self.p);
                return;
            }
            Some(Fault::Unreachable) => {
                self.ex
                    .fetch_end(job, Err(FetchFailure::Unreachable), &mut self.p);
                return;
            }
            Some(Fault::InterruptAfter(n)) => interrupt = Some(n),
            None => {}
        }
        let total = obj.body.len() as u64;
        let ranged = offset > 0
            && !obj.ignore_range
            && if_range.is_some()
            && if_range == obj.etag.as_deref();
        let (status, from, content_range) = if ranged && offset >= total {
            (416, total as usize, Some(format!("bytes */{total}")))
        } else if ranged {
            (
                206,
                offset as usize,
                Some(format!("bytes {offset}-{}/{total}", total - 1)),
            )
        } else {
            (200, 0, None)
        };
        let mut body = if status == 416 {
            Vec::new()
        } else {
            obj.body[from..].to_vec()
        };
        if let Some(extra) = obj.endless {
            body.extend(std::iter::repeat_n(0x5A, extra));
        }
        let head = FetchHead {
            status,
            content_type: Some(&obj.content_type),
            content_length: if obj.endless.is_some() {
                None
            } else {
                Some(body.len() as u64)
            },
            content_range: content_range.as_deref(),
            validator: obj.etag.as_deref(),
        };
        if self.ex.fetch_head(job, &head, &mut self.p) == Flow::Stop {
            self.ex.fetch_end(job, Ok(()), &mut self.p);
            return;
        }
        let limit = interrupt.unwrap_or(usize::MAX).min(body.len());
        for c in body[..limit].chunks(self.web.chunk.max(1)) {
            if self.ex.fetch_body(job, c, &mut self.p) == Flow::Stop {
                self.ex.fetch_end(job, Ok(()), &mut self.p);
                return;
            }
        }
        let end = if interrupt.is_some() && limit < body.len() {
            Err(FetchFailure::Interrupted)
        } else {
            Ok(())
        };
        self.ex.fetch_end(job, end, &mut self.p);
    }

    /// One poll and what the caller does about it; `false` when the device is idle.
    pub fn step(&mut self) -> Result<bool, ExecError> {
        let action = self.ex.poll(self.now, &mut self.tree, &mut self.p)?;
        let (job, url, offset, if_range, body) = match action {
            Action::Idle => {
                self.log.push("idle".into());
                return Ok(false);
            }
            Action::WaitUntil(t) => {
                self.now = self.now.max(t);
                return Ok(true);
            }
            Action::Session { .. } => {
                self.log.push("session".into());
                self.try_session()?;
                return Ok(true);
            }
            Action::Restart => {
                self.log.push("restart".into());
                self.restarts += 1;
                return Ok(true);
            }
            Action::Fetch {
                job,
                url,
                offset,
                if_range,
            } => (
                job,
                url.to_string(),
                offset,
                if_range.map(str::to_string),
                None,
            ),
            Action::PostNotify { job, url, body } => {
                (job, url.to_string(), 0, None, Some(body.to_string()))
            }
        };
        match body {
            Some(body) => {
                self.log.push(format!("notify {body}"));
                self.web.notifies.push((url, body));
                let ok = self.web.notify_failures == 0;
                self.web.notify_failures = self.web.notify_failures.saturating_sub(1);
                self.ex.notify_done(job, ok);
            }
            None => {
                self.log.push(format!("fetch {url} {offset}"));
                self.serve(job, &url, offset, if_range.as_deref());
            }
        }
        Ok(true)
    }

    /// Runs until idle; restarts the device when asked to. Panics after too many steps.
    pub fn run(mut self) -> Self {
        for _ in 0..10_000 {
            let before = self.restarts;
            if !self.step().unwrap() {
                return self;
            }
            if self.restarts != before {
                self = self.reboot();
            }
        }
        panic!(
            "the executor never went idle: {:?}",
            &self.log[self.log.len() - 20..]
        );
    }

    /// The installer's inventory.
    pub fn installed(&mut self) -> Vec<Installed> {
        self.p.installer.inventory().unwrap().to_vec()
    }

    /// The state-record writes so far (this boot), all records together.
    pub fn state_writes(&self) -> u32 {
        self.p.state.writes.values().sum()
    }

    /// Reports the server saw with this correlator.
    pub fn reports(&self, correlator: &str) -> Vec<&Seen> {
        self.seen
            .iter()
            .filter(|s| s.correlator.as_deref() == Some(correlator))
            .collect()
    }

    /// The one result the server saw for `correlator` (panics on none or several).
    pub fn result(&self, correlator: &str) -> u16 {
        let r = self.reports(correlator);
        assert_eq!(r.len(), 1, "reports for {correlator}: {:?}", self.seen);
        r[0].items[0].1
    }
}
