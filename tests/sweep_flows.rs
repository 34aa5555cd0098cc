//! The power-cut sweep: every operation and combined operation, an update, a DM-pushed
//! package, an interrupted-then-resumed download and a reboot-confirmed install run on the
//! NOR-backed stores of one mock flash. A clean run counts the flash operations; then, for
//! every operation and each cut kind (before, inside, after), the power is cut there, the
//! device is rebuilt from the flash image alone, recovers and finishes; and for every such
//! cut, once more with a second cut at each operation of the recovery and of the work after
//! it. Cuts that leave the same image (with the servers in the same state) count once.
//!
//! After each: every component is entirely the old or the new one (the installer's state is
//! one the clean run had), the recovered inventory is one the clean run journaled, no job
//! went back behind what it had journaled and no finished job came back, the final state is
//! the clean run's, no package is left behind, every result is reported at least once and
//! none after its acknowledgement was stored, and no installer call or fetch whose end was
//! journaled is made again.
//!
//! The full sweep runs in release mode (`cargo test --release --test sweep_flows`, a step
//! of `cargo xtask test`) and prints its counts; a debug build samples every 29th cut point
//! and two second cuts each.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use ops_common::{Carry, Fault, Hold, Object, Rig, T, Web, dd, package};
use scomo::codes::StatusCode;
use scomo::mo::Primitive;
use scomo::mock::{Calls, CutKind, PowerCut, Script};
use scomo::ops::{JobId, JobState};

/// One thing the DM server does.
#[derive(Debug, Clone)]
enum Step {
    /// Push a package into `Inventory/Delivered/<name>/Data`.
    Push {
        name: &'static str,
        pkg: &'static str,
        bytes: Vec<u8>,
    },
    /// Create `Download/<name>` and Exec a download primitive on it.
    Order {
        name: &'static str,
        url: &'static str,
        primitive: Primitive,
        correlator: &'static str,
    },
    /// Exec a primitive on an inventory entry.
    Exec {
        name: &'static str,
        primitive: Primitive,
        correlator: &'static str,
    },
    /// Let the device work (fetch, install, report) until it is idle.
    Run,
}

impl Step {
    fn primitive(&self) -> Option<Primitive> {
        match self {
            Step::Order { primitive, .. } | Step::Exec { primitive, .. } => Some(*primitive),
            _ => None,
        }
    }
}

struct Flow {
    name: &'static str,
    steps: Vec<Step>,
    web: Web,
    script: Script,
}

const PKG_URL: &str = "http://dl.example/app.pkg";
const DD_URL: &str = "http://dl.example/app.dd";
const NOTIFY: &str = "http://dl.example/notify";

fn a(version: &'static str, len: usize) -> Vec<u8> {
    package(&[("com.a", version, "A")], len)
}

fn push(name: &'static str, pkg: &'static str, bytes: Vec<u8>) -> Step {
    Step::Push { name, pkg, bytes }
}

fn exec(name: &'static str, primitive: Primitive, correlator: &'static str) -> Step {
    Step::Exec {
        name,
        primitive,
        correlator,
    }
}

fn web_with(objects: Vec<(&str, Object)>) -> Web {
    Web {
        objects: objects
            .into_iter()
            .map(|(u, o)| (u.to_string(), o))
            .collect(),
        chunk: 256,
        ..Web::default()
    }
}

fn flows() -> Vec<Flow> {
    use Primitive::*;
    let plain = || {
        web_with(vec![(
            PKG_URL,
            Object::new("application/octet-stream", a("1.0", 3000)),
        )])
    };
    let bytes = a("1.0", 3000);
    let described = web_with(vec![
        (
            DD_URL,
            Object::new(
                "application/vnd.oma.dd+xml",
                dd(PKG_URL, bytes.len(), Some(NOTIFY)),
            ),
        ),
        (PKG_URL, Object::new("application/octet-stream", bytes)),
    ]);
    let mut retried = described.clone();
    if let Some(o) = retried.objects.get_mut(PKG_URL) {
        o.faults.push_back(Fault::Status(503));
    }
    let mut broken = Object::new("application/octet-stream", a("1.0", 5000));
    broken.faults.push_back(Fault::InterruptAfter(2600));
    let order = |url, primitive| Step::Order {
        name: "d1",
        url,
        primitive,
        correlator: "c1",
    };
    let installed = |primitive| {
        vec![
            push("p1", "pkg-1", a("1.0", 3000)),
            exec("p1", primitive, "c0"),
            Step::Run,
        ]
    };
    let then = |mut v: Vec<Step>, more: Vec<Step>| {
        v.extend(more);
        v
    };
    vec![
        Flow {
            name: "DM-pushed package, Install",
            steps: then(installed(Install), vec![]),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "InstallInactive",
            steps: installed(InstallInactive),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "Download",
            steps: vec![order(PKG_URL, Download), Step::Run],
            web: plain(),
            script: Script::default(),
        },
        Flow {
            name: "DownloadInstall via a descriptor",
            steps: vec![order(DD_URL, DownloadInstall), Step::Run],
            web: described,
            script: Script::default(),
        },
        Flow {
            name: "DownloadInstallInactive",
            steps: vec![order(PKG_URL, DownloadInstallInactive), Step::Run],
            web: plain(),
            script: Script::default(),
        },
        Flow {
            name: "interrupted-then-resumed DownloadInstall",
            steps: vec![order(PKG_URL, DownloadInstall), Step::Run],
            web: web_with(vec![(PKG_URL, broken)]),
            script: Script::default(),
        },
        Flow {
            name: "Activate",
            steps: then(
                installed(InstallInactive),
                vec![exec("com.a", Activate, "c1"), Step::Run],
            ),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "Deactivate",
            steps: then(
                installed(Install),
                vec![exec("com.a", Deactivate, "c1"), Step::Run],
            ),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "Remove (Deployed)",
            steps: then(
                installed(Install),
                vec![exec("com.a", RemoveDeployed, "c1"), Step::Run],
            ),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "Remove (Delivered)",
            steps: vec![
                push("p1", "pkg-1", a("1.0", 3000)),
                exec("p1", RemoveDelivered, "c1"),
                Step::Run,
            ],
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "update (Install of a new version of a deployed component)",
            steps: then(
                installed(Install),
                vec![
                    push("p2", "pkg-2", a("2.0", 3000)),
                    exec("p2", Install, "c1"),
                    Step::Run,
                ],
            ),
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "Install and Remove of the package, queued in one session",
            steps: vec![
                push("p1", "pkg-1", a("1.0", 3000)),
                exec("p1", InstallInactive, "c0"),
                exec("p1", RemoveDelivered, "c1"),
                Step::Run,
            ],
            web: Web::default(),
            script: Script::default(),
        },
        Flow {
            name: "DownloadInstall after a server error, notify post lost once",
            steps: vec![order(DD_URL, DownloadInstall), Step::Run],
            web: {
                let mut w = retried;
                w.notify_failures = 1;
                w
            },
            script: Script::default(),
        },
        Flow {
            name: "Install confirmed after a restart",
            steps: installed(Install),
            web: Web::default(),
            script: Script {
                reboot_required: true,
                ..Script::default()
            },
        },
    ]
}

/// A deployed component in the tree: (node, ID, Version, State, Status).
type Deployed = (String, Option<String>, Option<String>, u8, u8);

/// The SCOMO inventory, as compared between runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Inv {
    downloads: Vec<(String, u8)>,
    delivered: Vec<(String, u8, u8, Option<u32>)>,
    deployed: Vec<Deployed>,
}

fn inventory(t: &T) -> Inv {
    use scomo::mo::DeployedLeaf;
    let s = t.scomo();
    Inv {
        downloads: s
            .downloads()
            .map(|e| (e.name().to_string(), e.status().value()))
            .collect(),
        delivered: s
            .delivered_packages()
            .map(|e| {
                (
                    e.name().to_string(),
                    e.status().value(),
                    e.state().value(),
                    e.data_size(),
                )
            })
            .collect(),
        deployed: s
            .deployed_components()
            .map(|e| {
                (
                    e.name().to_string(),
                    e.id().map(str::to_string),
                    e.get(DeployedLeaf::Version).map(str::to_string),
                    e.state().value(),
                    e.status().value(),
                )
            })
            .collect(),
    }
}

/// The installer's components: (id, version, active, package CRC, awaiting reboot).
type Components = Vec<(String, String, bool, u32, bool)>;

fn components<const W: usize, const E: usize>(rig: &mut Rig<W, E>) -> Components {
    rig.installed()
        .into_iter()
        .map(|c| {
            (
                c.id.to_string(),
                c.version.to_string(),
                c.active,
                c.package_crc,
                c.awaiting_reboot,
            )
        })
        .collect()
}

/// What the clean run journaled and ended with.
#[derive(Default)]
struct Clean {
    ops: u32,
    trees: HashSet<Inv>,
    installers: HashSet<Components>,
    inv: Option<Inv>,
    installed: Components,
    results: BTreeMap<String, u16>,
}

#[derive(Default, Clone, Copy)]
struct CallSum {
    install: u32,
    activate: u32,
    deactivate: u32,
    remove: u32,
}

impl CallSum {
    fn add(&mut self, c: Calls) {
        self.install += c.install;
        self.activate += c.activate;
        self.deactivate += c.deactivate;
        self.remove += c.remove;
    }
}

/// What the jobs had durably reached, seen from outside: a step that ended without a cut
/// ended with its journal written.
#[derive(Debug, Clone, Default)]
struct Track {
    /// The furthest state each job was seen in at the end of a step.
    reached: BTreeMap<JobId, u8>,
    /// Jobs seen gone (finished) at the end of a step.
    done: BTreeSet<JobId>,
}

fn rank(state: JobState) -> u8 {
    match state {
        JobState::Queued => 0,
        JobState::Downloading => 1,
        JobState::Notifying => 2,
        JobState::Downloaded => 3,
        JobState::Running => 4,
        JobState::AwaitingRestart => 5,
    }
}

impl Track {
    fn observe<const W: usize, const E: usize>(&mut self, rig: &Rig<W, E>) {
        let now: BTreeMap<JobId, u8> = rig.ex.jobs().map(|j| (j.id, rank(j.state))).collect();
        for (&id, &r) in &now {
            let e = self.reached.entry(id).or_insert(r);
            *e = (*e).max(r);
        }
        for id in self.reached.keys() {
            if !now.contains_key(id) {
                self.done.insert(*id);
            }
        }
    }

    /// After a recovery: no job went back, none that finished came back.
    fn check<const W: usize, const E: usize>(&self, rig: &Rig<W, E>, ctx: &str) {
        for j in rig.ex.jobs() {
            assert!(
                !self.done.contains(&j.id),
                "{ctx}: job {:?} had finished, and came back",
                j.id
            );
            if let Some(&r) = self.reached.get(&j.id) {
                assert!(
                    rank(j.state) >= r,
                    "{ctx}: job {:?} went back to {:?} from a journaled rank {r}",
                    j.id,
                    j.state
                );
            }
        }
    }
}

/// How a segment (from a boot to the end of the flow or a cut) ended.
struct Segment<const W: usize, const E: usize> {
    rig: Rig<W, E>,
    cut: bool,
    /// Flash operations in the segment (over clean restarts).
    ops: u32,
    calls: CallSum,
}

fn is_cut<const W: usize, const E: usize>(rig: &Rig<W, E>) -> bool {
    rig.chip.borrow().is_cut()
}

/// Runs the flow from server step `*next` on, with an optional cut (in the segment's own
/// operation numbering). Records snapshots into `clean` when given.
fn segment<const W: usize, const E: usize>(
    flow: &Flow,
    mut rig: Rig<W, E>,
    next: &mut usize,
    cut: Option<PowerCut>,
    mut clean: Option<&mut Clean>,
    track: &mut Track,
) -> Segment<W, E> {
    let mut base = 0;
    let mut calls = CallSum::default();
    if let Some(c) = cut {
        rig.chip.borrow_mut().schedule_cut(c);
    }
    let mut snap = |rig: &mut Rig<W, E>, clean: &mut Option<&mut Clean>| {
        track.observe(rig);
        if let Some(c) = clean.as_deref_mut() {
            c.trees.insert(inventory(&rig.tree));
            let inst = components(rig);
            c.installers.insert(inst);
        }
    };
    snap(&mut rig, &mut clean);
    while *next < flow.steps.len() {
        let ok = match &flow.steps[*next] {
            Step::Push { name, pkg, bytes } => {
                matches!(rig.try_push(name, pkg, bytes, 256), Ok(StatusCode::Ok))
            }
            Step::Order {
                name,
                url,
                primitive,
                correlator,
            } => matches!(
                rig.try_order_download(name, "pkg-1", url, primitive.node_name(), Some(correlator)),
                Ok(StatusCode::Accepted)
            ),
            Step::Exec {
                name,
                primitive,
                correlator,
            } => {
                let list = match primitive.entry_kind() {
                    scomo::mo::EntryKind::Delivered => "Inventory/Delivered",
                    scomo::mo::EntryKind::Deployed => "Inventory/Deployed",
                    scomo::mo::EntryKind::Download => "Download",
                };
                let uri = format!("./SCOMO/{list}/{name}/Operations/{}", primitive.node_name());
                matches!(
                    rig.try_exec(&uri, Some(correlator)),
                    Ok(StatusCode::Accepted)
                )
            }
            Step::Run => loop {
                let before = rig.restarts;
                let r = rig.step();
                if is_cut(&rig) {
                    break false;
                }
                match r {
                    Ok(true) => {}
                    Ok(false) => break true,
                    Err(e) => panic!("{}: error without a cut: {e:?}", flow.name),
                }
                if rig.restarts != before {
                    calls.add(rig.p.installer.calls());
                    base += rig.chip.borrow().ops();
                    rig = rig.reboot();
                    if let Some(c) = cut.filter(|c| c.op > base) {
                        rig.chip.borrow_mut().schedule_cut(PowerCut {
                            op: c.op - base,
                            kind: c.kind,
                        });
                    }
                }
                snap(&mut rig, &mut clean);
            },
        };
        if is_cut(&rig) {
            calls.add(rig.p.installer.calls());
            let ops = base + rig.chip.borrow().ops();
            return Segment {
                rig,
                cut: true,
                ops,
                calls,
            };
        }
        assert!(ok, "{}: step {next} failed without a cut", flow.name);
        *next += 1;
        snap(&mut rig, &mut clean);
    }
    calls.add(rig.p.installer.calls());
    let ops = base + rig.chip.borrow().ops();
    Segment {
        rig,
        cut: false,
        ops,
        calls,
    }
}

fn fresh<const W: usize, const E: usize>(hold: Hold<W, E>, flow: &Flow, erased: u8) -> Rig<W, E> {
    let hold = hold.swap_in(ops_common::Flash::<W, E>::new(erased));
    let carry = Carry {
        web: flow.web.clone(),
        ..Carry::default()
    };
    Rig::boot(hold, erased, flow.script, carry)
        .map_err(|f| f.0)
        .unwrap()
}

/// Boots from the image `rig`'s chip holds (as a cut left it).
fn reboot_from_image<const W: usize, const E: usize>(rig: Rig<W, E>, flow: &Flow) -> Rig<W, E> {
    let erased = rig.erased;
    let image = rig.chip.borrow().reboot();
    let (hold, carry) = rig.into_parts();
    Rig::boot(hold.swap_in(image), erased, flow.script, carry)
        .map_err(|f| f.0)
        .unwrap_or_else(|e| panic!("{}: recovery failed without a cut: {e:?}", flow.name))
}

fn installer_op_kinds(p: Primitive) -> [bool; 4] {
    use Primitive::*;
    match p {
        Install | InstallInactive | DownloadInstall | DownloadInstallInactive => {
            [true, false, false, false]
        }
        Activate => [false, true, false, false],
        Deactivate => [false, false, true, false],
        RemoveDeployed => [false, false, false, true],
        Download | RemoveDelivered => [false; 4],
    }
}

/// What the device had journaled when it came back.
struct Recovered {
    jobs: BTreeMap<JobId, JobState>,
    prims: Vec<Primitive>,
    /// Jobs that fetched before the cut.
    fetched: BTreeSet<JobId>,
    fetches: usize,
}

fn recovered<const W: usize, const E: usize>(rig: &Rig<W, E>) -> Recovered {
    Recovered {
        jobs: rig.ex.jobs().map(|j| (j.id, j.state)).collect(),
        prims: rig.ex.jobs().map(|j| j.primitive).collect(),
        fetched: rig.web.jobs.iter().copied().collect(),
        fetches: rig.web.jobs.len(),
    }
}

/// Finishes the flow after a recovery and checks every invariant.
fn finish_and_check<const W: usize, const E: usize>(
    flow: &Flow,
    clean: &Clean,
    rig: Rig<W, E>,
    next: usize,
    ctx: &str,
) -> Rig<W, E> {
    let back = recovered(&rig);
    let before = rig.p.installer.calls();
    let mut n = next;
    let end = segment(flow, rig, &mut n, None, None, &mut Track::default());
    assert!(!end.cut);
    let mut rig = end.rig;
    // Final state: the clean run's.
    assert_eq!(
        Some(inventory(&rig.tree)),
        clean.inv,
        "{ctx}: final inventory"
    );
    assert_eq!(components(&mut rig), clean.installed, "{ctx}: installer");
    assert_eq!(rig.ex.jobs().count(), 0, "{ctx}: jobs left");
    assert_eq!(rig.ex.pending_reports(), 0, "{ctx}: reports left");
    // Every result reported at least once.
    for (corr, code) in &clean.results {
        assert!(
            rig.seen
                .iter()
                .any(|s| s.correlator.as_deref() == Some(corr) && s.items[0].1 == *code),
            "{ctx}: no {code} for {corr}: {:?}",
            rig.seen
        );
    }
    // Never after a stored acknowledgement.
    for &(id, at) in &rig.durable_acks {
        assert!(
            rig.seen[at..].iter().all(|s| s.id != id),
            "{ctx}: report {id} sent after its acknowledgement"
        );
    }
    // No package left that nothing refers to.
    use scomo::platform::{ComponentStore, PackageKey};
    let held = (0..ops_common::SLOTS)
        .filter(|&k| rig.p.components.inspect(PackageKey(k)).unwrap().is_some())
        .count();
    let with_data = rig
        .tree
        .scomo()
        .delivered_packages()
        .filter(|e| e.data_size().is_some())
        .count();
    assert_eq!(held, with_data, "{ctx}: packages in the store");
    // No step whose end was journaled ran again.
    let mut allowed = [false; 4];
    let remaining = flow.steps[next..].iter().filter_map(Step::primitive);
    for p in back.prims.iter().copied().chain(remaining) {
        for (a, k) in allowed.iter_mut().zip(installer_op_kinds(p)) {
            *a |= k;
        }
    }
    let c = end.calls;
    let made_before = [
        before.install,
        before.activate,
        before.deactivate,
        before.remove,
    ];
    for ((made, earlier), (ok, what)) in [c.install, c.activate, c.deactivate, c.remove]
        .into_iter()
        .zip(made_before)
        .zip(
            allowed
                .into_iter()
                .zip(["install", "activate", "deactivate", "remove"]),
        )
    {
        let made = made - earlier;
        assert!(
            ok || made == 0,
            "{ctx}: installer {what} called {made} times after its end was journaled \
             (recovered {:?}, next step {next}, log {:?})",
            back.jobs,
            &rig.log[rig.log.len().saturating_sub(12)..]
        );
    }
    for job in &rig.web.jobs[back.fetches..] {
        let may = match back.jobs.get(job) {
            Some(state) => matches!(state, JobState::Queued | JobState::Downloading),
            None => !back.fetched.contains(job),
        };
        assert!(
            may,
            "{ctx}: job {job:?} fetched again after its download was journaled"
        );
    }
    rig
}

fn image_hash<const W: usize, const E: usize>(rig: &Rig<W, E>) -> u64 {
    let mut h = DefaultHasher::new();
    rig.chip.borrow().image().hash(&mut h);
    h.finish()
}

/// One device lineage under test: the flow, its clean run, and the cut images seen.
struct Sweep<'a> {
    flow: &'a Flow,
    clean: Clean,
    erased: u8,
    /// Distinct (image, server progress) first cuts exercised.
    images: HashSet<(u64, usize, usize)>,
    /// Distinct second cuts: (first cut's key, second image).
    seconds: HashSet<((u64, usize, usize), u64)>,
    /// The first cut being followed by second cuts.
    first: (u64, usize, usize),
    /// Second cuts tried, and how many fell inside recovery itself.
    second: usize,
    in_recovery: usize,
}

impl Sweep<'_> {
    /// Boots from `image` as a cut left it (`second`: a cut scheduled in this boot, during
    /// recovery or just after), finishes the flow from server step `next` (booting once
    /// more if the second cut falls) and checks every invariant.
    #[allow(clippy::too_many_arguments)]
    fn resume<const W: usize, const E: usize>(
        &mut self,
        hold: Hold<W, E>,
        carry: Carry,
        mut image: ops_common::Flash<W, E>,
        second: Option<PowerCut>,
        next: usize,
        mut track: Track,
        ctx: &str,
    ) -> (Hold<W, E>, u32) {
        let flow = self.flow;
        if let Some(c) = second {
            image.schedule_cut(c);
        }
        let rig = match Rig::boot(hold.swap_in(image), self.erased, flow.script, carry) {
            Ok(rig) => rig,
            Err(failed) => {
                let (e, h, c) = *failed;
                // Only a cut may make recovery fail: boot again from what it left.
                assert!(h.chip.borrow().is_cut(), "{ctx}: recovery failed: {e:?}");
                let img = h.chip.borrow().reboot();
                let mut hash = DefaultHasher::new();
                img.image().hash(&mut hash);
                self.seconds.insert((self.first, hash.finish()));
                self.in_recovery += 1;
                let rig = Rig::boot(h.swap_in(img), self.erased, flow.script, c)
                    .map_err(|f| f.0)
                    .unwrap_or_else(|e| panic!("{ctx}: recovery failed twice: {e:?}"));
                track.check(&rig, ctx);
                let rig = finish_and_check(flow, &self.clean, rig, next, ctx);
                return (rig.into_parts().0, 0);
            }
        };
        track.check(&rig, ctx);
        if second.is_none() {
            // The recovered device is one the clean run journaled, its components old or
            // new.
            let mut rig = rig;
            assert!(
                self.clean.trees.contains(&inventory(&rig.tree)),
                "{ctx}: recovered inventory was never journaled: {:?}",
                inventory(&rig.tree)
            );
            let inst = components(&mut rig);
            assert!(
                self.clean.installers.contains(&inst),
                "{ctx}: installer state is a mix: {inst:?}"
            );
            let rig = finish_and_check(flow, &self.clean, rig, next, ctx);
            let ops = rig.chip.borrow().ops();
            return (rig.into_parts().0, ops);
        }
        let mut n = next;
        let seg = segment(flow, rig, &mut n, second, None, &mut track);
        self.second += 1;
        let rig = if seg.cut {
            self.seconds.insert((self.first, image_hash(&seg.rig)));
            let rig = reboot_from_image(seg.rig, flow);
            track.check(&rig, ctx);
            rig
        } else {
            seg.rig
        };
        let rig = finish_and_check(flow, &self.clean, rig, n, ctx);
        (rig.into_parts().0, 0)
    }
}

/// Sweeps one flow on one geometry; returns the distinct cut points exercised.
fn sweep_flow<const W: usize, const E: usize>(
    flow: &Flow,
    erased: u8,
    hold: Hold<W, E>,
) -> (usize, Hold<W, E>) {
    let stride = if cfg!(debug_assertions) { 29 } else { 1 };
    // The clean run.
    let mut clean = Clean::default();
    let mut next = 0;
    let done = segment(
        flow,
        fresh(hold, flow, erased),
        &mut next,
        None,
        Some(&mut clean),
        &mut Track::default(),
    );
    assert!(!done.cut);
    let mut rig = done.rig;
    clean.ops = done.ops;
    clean.inv = Some(inventory(&rig.tree));
    clean.installed = components(&mut rig);
    for s in &rig.seen {
        if let Some(c) = &s.correlator {
            clean.results.entry(c.clone()).or_insert(s.items[0].1);
        }
    }
    assert!(!clean.results.is_empty());
    let mut hold = rig.into_parts().0;
    let mut sweep = Sweep {
        flow,
        clean,
        erased,
        images: HashSet::new(),
        seconds: HashSet::new(),
        first: (0, 0, 0),
        second: 0,
        in_recovery: 0,
    };
    for i in (1..=sweep.clean.ops).step_by(stride) {
        for kind in CutKind::ALL {
            if kind == CutKind::Before && i > 1 {
                // The same image as a cut after operation i - 1.
                continue;
            }
            let ctx = format!("{} W{W} E{E} {erased:#04x}: cut {kind:?} op {i}", flow.name);
            let mut next = 0;
            let cut = PowerCut { op: i, kind };
            let mut track = Track::default();
            let rig = fresh(hold, flow, erased);
            let seg = segment(flow, rig, &mut next, Some(cut), None, &mut track);
            assert!(seg.cut, "{ctx}: the cut did not happen");
            let key = (image_hash(&seg.rig), next, seg.rig.seen.len());
            let image = seg.rig.chip.borrow().reboot();
            let (h, carry) = seg.rig.into_parts();
            hold = h;
            if !sweep.images.insert(key) {
                continue;
            }
            sweep.first = key;
            let (h, ops) = sweep.resume(
                hold,
                carry.clone(),
                image.clone(),
                None,
                next,
                track.clone(),
                &ctx,
            );
            hold = h;
            // Cut once more, at every operation of the recovery and of the work after it
            // (a debug build: the first and the middle one).
            let points: BTreeSet<u32> = if cfg!(debug_assertions) {
                [1, ops / 2].into_iter().filter(|&j| j >= 1).collect()
            } else {
                (1..=ops).collect()
            };
            for j in points {
                for kind2 in CutKind::ALL {
                    if kind2 == CutKind::Before && j > 1 {
                        continue;
                    }
                    let ctx2 = format!("{ctx}, then {kind2:?} op {j} after the reboot");
                    let cut2 = PowerCut { op: j, kind: kind2 };
                    let (h, _) = sweep.resume(
                        hold,
                        carry.clone(),
                        image.clone(),
                        Some(cut2),
                        next,
                        track.clone(),
                        &ctx2,
                    );
                    hold = h;
                }
            }
        }
    }
    println!(
        "    {}: {} operations in a clean run, {} first cuts, {} second cuts ({} inside \
         recovery itself)",
        flow.name,
        sweep.clean.ops,
        sweep.images.len(),
        sweep.seconds.len(),
        sweep.in_recovery
    );
    (sweep.images.len() + sweep.seconds.len(), hold)
}

/// Sweeps every flow on one geometry; returns the distinct cut points.
fn sweep_geometry<const W: usize, const E: usize>(erased: u8) -> usize {
    let mut hold = Hold::<W, E>::new(erased);
    let mut total = 0;
    for flow in flows() {
        let (n, h) = sweep_flow(&flow, erased, hold);
        hold = h;
        println!(
            "W{W} E{E} erased {erased:#04x}: {:<58} {n:>6} cut points",
            flow.name
        );
        total += n;
    }
    println!("W{W} E{E} erased {erased:#04x}: {total} distinct cut points");
    total
}

/// Runs `f` on a thread with room for the flash images built on the stack.
fn big_stack(f: impl FnOnce() -> usize + Send + 'static) -> usize {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn sweep_write_unit_1() {
    big_stack(|| sweep_geometry::<1, 1024>(0xFF));
}

#[test]
fn sweep_write_unit_4() {
    big_stack(|| sweep_geometry::<4, 1024>(0xFF));
}

#[test]
fn sweep_write_unit_8_erased_zero() {
    big_stack(|| sweep_geometry::<8, 512>(0x00));
}

#[test]
fn sweep_write_unit_2_small_pages() {
    big_stack(|| sweep_geometry::<2, 512>(0xFF));
}

#[test]
fn sweep_write_unit_4_small_pages_erased_zero() {
    big_stack(|| sweep_geometry::<4, 512>(0x00));
}

#[test]
fn sweep_write_unit_16() {
    big_stack(|| sweep_geometry::<16, 1024>(0xFF));
}
