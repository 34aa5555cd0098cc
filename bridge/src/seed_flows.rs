//! The host side of the firmware's seed flows: the DM test server, an [`HttpBackend`] to
//! reach it, and the director that takes the firmware (`seed-flows` image) through the seed
//! flows round by round and checks what the server received.
//!
//! The firmware asks for its configuration and for each round over the serial line, with
//! three control requests this backend answers itself (every other request goes to the
//! test server):
//!
//! | request | answer |
//! |---|---|
//! | GET [`CONFIG_URL`] | `key=value` lines: `server` (the DM URL), `device`, `user`, `password`, `server-id`, `server-password`, `encoding` (`xml`/`wbxml`), `auth` (`basic`/`md5`/`hmac`) |
//! | GET [`NEXT_URL`] | `session`, `reboot` or `done` (see below) |
//! | POST [`REPORT_URL`] | 200; the body is the device's account of the round: `round=N sessions=N fetches=N stack=BYTES installed=ID@VERSION±,... error=none` |
//!
//! At each `next` the director checks the round that just ended (the Generic Alerts, the
//! Statuses, the Results and the package GETs the server recorded during it, and the
//! device's report), then queues the next round's steps on the server and answers
//! `session`: the device opens a client-initiated session and runs until it has nothing
//! left to do (downloads, report sessions). A `reboot` round makes the device reset; it
//! recovers from its stores, which survive the reset. After the last round, or the first failed check,
//! it answers `done`; [`SeedFlows::finish`] gives the verdict.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use scomo::dm::auth::AuthScheme;
use scomo::drivers::serial::Fault;
use scomo_testserver::{ClientAuth, Cmd, DmConfig, Event, Package, Server};
use sha2::{Digest, Sha256};

use crate::{Backend, HttpBackend, Reply};

/// The control request for the device's configuration.
pub const CONFIG_URL: &str = "scomo-bridge:config";
/// The control request for the next round.
pub const NEXT_URL: &str = "scomo-bridge:next";
/// The control request carrying the device's report of a round.
pub const REPORT_URL: &str = "scomo-bridge:report";

/// The device's id.
pub const DEVICE: &str = "IMEI:490154203237518";
const USER: &str = "qemu-device";
const PASSWORD: &str = "qemu-secret";
const SERVER_PASSWORD: &str = "qemu-server-secret";
const S: &str = "./SCOMO";

/// How the flows are sized and spoken on one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The QEMU machine.
    pub machine: &'static str,
    /// Payload bytes of the package pushed over DM as a Large Object (5.4.1).
    pub pushed: usize,
    /// Payload bytes of the package downloaded from its `PkgURL` (5.4.2).
    pub downloaded: usize,
    /// Encoded bytes of the Large Object per server message.
    pub chunk: usize,
    /// `wbxml` or `xml`.
    pub encoding: &'static str,
    /// The client authentication scheme (the server authenticates too, with MD5 or HMAC).
    pub auth: AuthScheme,
}

/// The profile of each machine the firmware runs the flows on. lm3s6965evb has 64 KiB of
/// RAM, of which its emulated flash is 26 KiB (package slots of 7 KiB); mps2-an386 has
/// 4 MiB, but its UART carries about 30 KiB/s towards the firmware.
pub const PROFILES: &[Profile] = &[
    Profile {
        machine: "lm3s6965evb",
        pushed: 3 * 1024,
        downloaded: 3840,
        chunk: 1024,
        encoding: "wbxml",
        auth: AuthScheme::Md5,
    },
    Profile {
        machine: "mps2-an386",
        pushed: 32 * 1024,
        downloaded: 128 * 1024,
        chunk: 2000,
        encoding: "xml",
        auth: AuthScheme::Hmac,
    },
];

/// The profile for `machine`, if the flows run on it.
pub fn profile(machine: &str) -> Option<Profile> {
    PROFILES.iter().copied().find(|p| p.machine == machine)
}

/// A package whose manifest names component `id` at `version` with the SHA-256 of its
/// `size` payload bytes (the convention of the firmware's and the agent's installers).
pub fn package(id: &str, version: &str, size: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let digest: String = Sha256::digest(&payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut bytes =
        format!("scomo-component id={id} version={version} name={id} sha256={digest}\n")
            .into_bytes();
    bytes.extend(payload);
    bytes
}

/// One Generic Alert a round must bring: correlator, the executed operation's URI, and the
/// start of the affected node's URI.
#[derive(Debug, Clone)]
struct Alert {
    correlator: &'static str,
    source: String,
    target: String,
}

/// What a round does.
#[derive(Debug, Clone)]
enum Step {
    /// Queue these steps (one server package each) and let the device open a session.
    Session(Vec<Vec<Cmd>>),
    /// Let the device boot again from its flash.
    Reboot,
}

/// One round and what must hold after it.
#[derive(Debug, Clone)]
struct Round {
    title: &'static str,
    step: Step,
    /// Packages to serve from the file server.
    packages: Vec<Package>,
    /// Generic Alerts with result 1200.
    alerts: Vec<Alert>,
    /// (command, target, status) the device must have sent.
    statuses: Vec<(&'static str, String, u16)>,
    /// How many `213` (chunk accepted) Statuses the device must have sent.
    chunks_accepted: usize,
    /// (target, predicate on the value) of Results the device must have sent.
    results: Vec<(String, Check)>,
    /// Package bytes the server must have sent in answer to GETs.
    bytes_served: Option<(&'static str, u64)>,
    /// The device's `installed=` list after the round.
    installed: &'static str,
}

/// A check of a Get's value.
#[derive(Debug, Clone)]
enum Check {
    Equals(&'static str),
    /// The value (a node's children, `/`-separated) lists these and not those.
    Children(Vec<&'static str>, Vec<&'static str>),
}

impl Check {
    fn holds(&self, value: &str) -> bool {
        match self {
            Check::Equals(v) => value == *v,
            Check::Children(yes, no) => {
                let children: Vec<&str> = value.split('/').collect();
                yes.iter().all(|c| children.contains(c)) && no.iter().all(|c| !children.contains(c))
            }
        }
    }
}

impl Round {
    fn new(title: &'static str, step: Step) -> Self {
        Self {
            title,
            step,
            packages: Vec::new(),
            alerts: Vec::new(),
            statuses: Vec::new(),
            chunks_accepted: 0,
            results: Vec::new(),
            bytes_served: None,
            installed: "",
        }
    }

    fn alert(mut self, correlator: &'static str, source: &str, target: &str) -> Self {
        self.alerts.push(Alert {
            correlator,
            source: format!("{S}/{source}"),
            target: format!("{S}/{target}"),
        });
        self
    }

    fn result(mut self, target: &str, check: Check) -> Self {
        self.results.push((format!("{S}/{target}"), check));
        self
    }

    fn installed(mut self, list: &'static str) -> Self {
        self.installed = list;
        self
    }
}

/// The rounds: seed flows 5.4.1, 5.4.2 and 5.4.3 on one device, with a system reset between
/// the download and the operations.
fn rounds(profile: &Profile, package_url: impl Fn(&str) -> String) -> Vec<Round> {
    let pushed = package("com.example.push", "1.0", profile.pushed);
    let alt = package("com.example.alt", "1.0", profile.downloaded);
    let encoded_len = if profile.encoding == "xml" {
        pushed.len().div_ceil(3) * 4
    } else {
        pushed.len()
    };
    let chunks = encoded_len.div_ceil(profile.chunk);
    let alt_len = alt.len() as u64;
    let exec = |uri: &str, corr: &str| Cmd::exec(&format!("{S}/{uri}"), Some(corr));
    let get = |uri: &str| Cmd::get(&format!("{S}/{uri}"));
    let mut push = Round::new(
        "5.4.1 DM download: the server pushes the package as a Large Object, then Installs it",
        Step::Session(vec![
            vec![
                Cmd::add_node(&format!("{S}/Inventory/Delivered/Push1")),
                Cmd::add(
                    &format!("{S}/Inventory/Delivered/Push1/PkgID"),
                    "pkg-push-1",
                ),
                Cmd::push(
                    &format!("{S}/Inventory/Delivered/Push1/Data"),
                    pushed,
                    profile.chunk,
                ),
            ],
            vec![exec(
                "Inventory/Delivered/Push1/Operations/Install",
                "c-push",
            )],
        ]),
    )
    .alert(
        "c-push",
        "Inventory/Delivered/Push1/Operations/Install",
        "Inventory/Deployed/com.example.push",
    )
    .installed("com.example.push@1.0+");
    push.chunks_accepted = chunks - 1;
    push.statuses
        .push(("Add", format!("{S}/Inventory/Delivered/Push1/Data"), 200));

    let mut download = Round::new(
        "5.4.2 alternate download: Download from PkgURL (202 now, result later)",
        Step::Session(vec![vec![
            Cmd::add_node(&format!("{S}/Download/Alt1")),
            Cmd::add(&format!("{S}/Download/Alt1/PkgID"), "pkg-alt-1"),
            Cmd::add(&format!("{S}/Download/Alt1/PkgURL"), &package_url("alt")),
            exec("Download/Alt1/Operations/Download", "c-dl"),
        ]]),
    )
    .alert(
        "c-dl",
        "Download/Alt1/Operations/Download",
        "Inventory/Delivered/Alt1",
    )
    .installed("com.example.push@1.0+");
    download.packages.push(Package::new("alt", alt));
    download.statuses.push((
        "Exec",
        format!("{S}/Download/Alt1/Operations/Download"),
        202,
    ));
    download.bytes_served = Some(("alt", alt_len));

    let reboot = Round::new(
        "reboot: a system reset; the device recovers from what its stores kept",
        Step::Reboot,
    )
    .installed("com.example.push@1.0+");

    let install = Round::new(
        "5.4.3 Install of the delivered package (after the reboot)",
        Step::Session(vec![vec![
            get("Inventory/Delivered/Alt1/PkgID"),
            exec("Inventory/Delivered/Alt1/Operations/Install", "c-inst"),
        ]]),
    )
    .result("Inventory/Delivered/Alt1/PkgID", Check::Equals("pkg-alt-1"))
    .alert(
        "c-inst",
        "Inventory/Delivered/Alt1/Operations/Install",
        "Inventory/Deployed/com.example.alt",
    )
    .installed("com.example.push@1.0+,com.example.alt@1.0+");

    let deployed = "Inventory/Deployed/com.example.alt";
    let deactivate = Round::new(
        "5.4.3 Deactivate the component",
        Step::Session(vec![vec![
            get(&format!("{deployed}/State")),
            exec(&format!("{deployed}/Operations/Deactivate"), "c-deact"),
        ]]),
    )
    .result(&format!("{deployed}/State"), Check::Equals("20"))
    .alert(
        "c-deact",
        &format!("{deployed}/Operations/Deactivate"),
        deployed,
    )
    .installed("com.example.push@1.0+,com.example.alt@1.0-");

    let activate = Round::new(
        "5.4.3 Activate it again",
        Step::Session(vec![vec![
            get(&format!("{deployed}/State")),
            exec(&format!("{deployed}/Operations/Activate"), "c-act"),
        ]]),
    )
    .result(&format!("{deployed}/State"), Check::Equals("10"))
    .alert(
        "c-act",
        &format!("{deployed}/Operations/Activate"),
        deployed,
    )
    .installed("com.example.push@1.0+,com.example.alt@1.0+");

    let remove = Round::new(
        "5.4.3 Remove the component, and the delivered package",
        Step::Session(vec![vec![
            get(&format!("{deployed}/State")),
            exec(&format!("{deployed}/Operations/Remove"), "c-rm"),
            exec("Inventory/Delivered/Alt1/Operations/Remove", "c-rmpkg"),
        ]]),
    )
    .result(&format!("{deployed}/State"), Check::Equals("20"))
    .alert("c-rm", &format!("{deployed}/Operations/Remove"), deployed)
    .alert(
        "c-rmpkg",
        "Inventory/Delivered/Alt1/Operations/Remove",
        "Inventory/Delivered/Alt1",
    )
    .installed("com.example.push@1.0+");

    let inventory = Round::new(
        "the inventory after the flows",
        Step::Session(vec![vec![
            get("Inventory/Deployed"),
            get("Inventory/Delivered"),
        ]]),
    )
    .result(
        "Inventory/Deployed",
        Check::Children(vec!["com.example.push"], vec!["com.example.alt"]),
    )
    .result(
        "Inventory/Delivered",
        Check::Children(vec!["Push1"], vec!["Alt1"]),
    )
    .installed("com.example.push@1.0+");

    vec![
        push, download, reboot, install, deactivate, activate, remove, inventory,
    ]
}

/// How one round went.
#[derive(Debug, Clone)]
pub struct RoundResult {
    /// The round's title.
    pub title: &'static str,
    /// Wall time from the device's `next` to its next `next`.
    pub elapsed: Duration,
    /// The device's report line.
    pub report: String,
    /// `None` when every check held.
    pub failure: Option<String>,
}

/// The round in progress.
struct Current {
    index: usize,
    started: Instant,
    /// Events the server had recorded before the round.
    events_before: usize,
    report: Option<String>,
}

/// The seed-flow backend: a [`Backend`] for the `seed-flows` firmware image (see the module
/// documentation).
pub struct SeedFlows {
    profile: Profile,
    server: Server,
    http: HttpBackend,
    rounds: Vec<Round>,
    current: Option<Current>,
    next: usize,
    results: Vec<RoundResult>,
    failed: bool,
    /// Print each round's transcript as it ends.
    pub verbose: bool,
}

impl SeedFlows {
    /// Starts the test server and prepares the rounds for `profile`.
    ///
    /// # Errors
    /// The test server cannot start.
    pub fn start(profile: Profile) -> std::io::Result<Self> {
        let server = Server::start_with(DmConfig {
            client_auth: ClientAuth::Required {
                scheme: profile.auth,
                user: USER.into(),
                password: PASSWORD.into(),
            },
            server_password: Some(SERVER_PASSWORD.into()),
            ..DmConfig::default()
        })?;
        let rounds = rounds(&profile, |name| server.package_url(name));
        Ok(Self {
            profile,
            server,
            http: HttpBackend::new(Duration::from_secs(30)),
            rounds,
            current: None,
            next: 0,
            results: Vec::new(),
            failed: false,
            verbose: false,
        })
    }

    /// The configuration sent to the device.
    fn config(&self) -> String {
        let auth = match self.profile.auth {
            AuthScheme::Basic => "basic",
            AuthScheme::Md5 => "md5",
            AuthScheme::Hmac => "hmac",
        };
        format!(
            "server={}\ndevice={DEVICE}\nuser={USER}\npassword={PASSWORD}\n\
             server-id={}\nserver-password={SERVER_PASSWORD}\nencoding={}\nauth={auth}\n",
            self.server.dm_url(),
            DmConfig::default().server_id,
            self.profile.encoding,
        )
    }

    /// Checks the round that ended, then starts the next one; the answer to `next`.
    fn next(&mut self) -> &'static str {
        if let Some(current) = self.current.take()
            && let Some(round) = self.rounds.get(current.index)
        {
            let events = self.server.record().events;
            let new = events.get(current.events_before..).unwrap_or_default();
            let report = current.report.unwrap_or_default();
            let failure = check(round, new, &report, self.server.queued(DEVICE));
            if self.verbose || failure.is_some() {
                eprintln!("{}", transcript(round.title, new, &report));
            }
            self.failed |= failure.is_some();
            self.results.push(RoundResult {
                title: round.title,
                elapsed: current.started.elapsed(),
                report,
                failure,
            });
        }
        let index = self.next;
        let Some(round) = self.rounds.get(index).filter(|_| !self.failed) else {
            return "done";
        };
        self.next += 1;
        for package in &round.packages {
            self.server.add_package(package.clone());
        }
        let answer = match &round.step {
            Step::Session(steps) => {
                for step in steps {
                    self.server.queue(DEVICE, step.clone());
                }
                "session"
            }
            Step::Reboot => "reboot",
        };
        self.current = Some(Current {
            index,
            started: Instant::now(),
            events_before: self.server.record().events.len(),
            report: None,
        });
        answer
    }

    /// The verdict after the device has finished: every round ran and passed.
    ///
    /// # Errors
    /// A summary of what failed or did not run.
    pub fn finish(&self) -> Result<(), String> {
        if let Some(bad) = self.results.iter().find(|r| r.failure.is_some()) {
            return Err(format!(
                "{}: {}",
                bad.title,
                bad.failure.as_deref().unwrap_or_default()
            ));
        }
        if self.results.len() != self.rounds.len() {
            return Err(format!(
                "the device stopped after {} of {} rounds",
                self.results.len(),
                self.rounds.len()
            ));
        }
        Ok(())
    }

    /// How each round went, so far.
    pub fn results(&self) -> &[RoundResult] {
        &self.results
    }

    /// The flows' profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// One line per round: result, time, the device's report.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let _ = writeln!(
                out,
                "  {} {:>6.2} s  {}\n      device: {}",
                if r.failure.is_none() { "ok  " } else { "FAIL" },
                r.elapsed.as_secs_f64(),
                r.title,
                r.report
            );
        }
        out
    }
}

/// The field `key` of a report line.
fn field<'a>(report: &'a str, key: &str) -> Option<&'a str> {
    report
        .split(' ')
        .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// Checks one round against what the server recorded during it and the device's report.
fn check(round: &Round, events: &[Event], report: &str, queued: usize) -> Option<String> {
    let mut failures = Vec::new();
    if report.is_empty() {
        failures.push("the device sent no report".to_string());
    }
    match field(report, "error") {
        Some("none") | None => {}
        Some(e) => failures.push(format!("the device reports an error: {e}")),
    }
    if field(report, "installed") != Some(round.installed) {
        failures.push(format!(
            "the device's components are {:?}, expected {:?}",
            field(report, "installed").unwrap_or_default(),
            round.installed
        ));
    }
    if queued != 0 {
        failures.push(format!("{queued} step(s) still queued on the server"));
    }
    for want in &round.alerts {
        let found = events.iter().any(|e| {
            matches!(e, Event::GenericAlert { correlator, source, target, result, .. }
                if correlator.as_deref() == Some(want.correlator)
                    && *source == want.source
                    && target.starts_with(&want.target)
                    && *result == Some(1200))
        });
        if !found {
            failures.push(format!(
                "no Generic Alert [{}] {} -> {} with result 1200",
                want.correlator, want.source, want.target
            ));
        }
    }
    let alerts = events
        .iter()
        .filter(|e| matches!(e, Event::GenericAlert { .. }))
        .count();
    if alerts != round.alerts.len() {
        failures.push(format!(
            "{alerts} Generic Alert(s), expected {}",
            round.alerts.len()
        ));
    }
    for (cmd, target, code) in &round.statuses {
        let found = events.iter().any(|e| {
            matches!(e, Event::Status { cmd: c, target: t, code: s, .. }
                if c == cmd && t == target && s == code)
        });
        if !found {
            failures.push(format!("no Status {code} for {cmd} {target}"));
        }
    }
    let accepted = events
        .iter()
        .filter(|e| matches!(e, Event::Status { code: 213, .. }))
        .count();
    if accepted != round.chunks_accepted {
        failures.push(format!(
            "{accepted} chunk(s) answered 213, expected {}",
            round.chunks_accepted
        ));
    }
    for (target, want) in &round.results {
        let value = events.iter().find_map(|e| match e {
            Event::Results {
                target: t, data, ..
            } if t == target => Some(data.as_str()),
            _ => None,
        });
        match value {
            Some(v) if want.holds(v) => {}
            other => failures.push(format!("Results of {target}: {other:?}, expected {want:?}")),
        }
    }
    if let Some((name, bytes)) = round.bytes_served {
        let served: u64 = events
            .iter()
            .filter_map(|e| match e {
                Event::PackageGet {
                    name: n, bytes: b, ..
                } if n == name => Some(*b),
                _ => None,
            })
            .sum();
        if served != bytes {
            failures.push(format!("{served} bytes of {name} served, expected {bytes}"));
        }
    }
    (!failures.is_empty()).then(|| failures.join("; "))
}

/// What the server saw during a round, one line per event of interest.
fn transcript(title: &str, events: &[Event], report: &str) -> String {
    let mut out = format!("== {title}\n");
    let mut accepted = 0;
    for e in events {
        match e {
            Event::Status { code: 213, .. } => accepted += 1,
            Event::Status {
                cmd, target, code, ..
            } if cmd != "SyncHdr" => {
                let _ = writeln!(out, "   device status  {cmd} {target}: {code}");
            }
            Event::Results { target, data, .. } => {
                let _ = writeln!(out, "   device results {target} = {data}");
            }
            Event::GenericAlert {
                correlator,
                source,
                target,
                result,
                identifier,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "   generic alert  [{}] {source} -> {target}: {} ({})",
                    correlator.as_deref().unwrap_or("-"),
                    result.map_or("?".into(), |r| r.to_string()),
                    identifier.as_deref().unwrap_or_default()
                );
            }
            Event::PackageGet {
                name,
                from,
                status,
                bytes,
            } => {
                let _ = writeln!(
                    out,
                    "   package GET    {name} from {from}: HTTP {status}, {bytes} bytes"
                );
            }
            Event::DmOut { bytes, .. } => {
                let _ = writeln!(out, "   server message {} bytes", bytes.len());
            }
            Event::AuthRejected { code, .. } => {
                let _ = writeln!(out, "   credentials    refused with {code}");
            }
            _ => {}
        }
    }
    if accepted > 0 {
        let _ = writeln!(out, "   device status  {accepted} chunk(s) answered 213");
    }
    let _ = write!(out, "   device report  {report}");
    out
}

impl Backend for SeedFlows {
    fn post_dm(
        &mut self,
        url: &str,
        content_type: &str,
        hmac: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Fault> {
        self.http.post_dm(url, content_type, hmac, body)
    }

    fn get_range(
        &mut self,
        url: &str,
        offset: u32,
        length: Option<u32>,
        if_range: Option<&str>,
    ) -> Result<Reply, Fault> {
        match url {
            CONFIG_URL => Ok(Reply::new(200, self.config().into_bytes())),
            NEXT_URL => Ok(Reply::new(200, self.next().as_bytes().to_vec())),
            _ => self.http.get_range(url, offset, length, if_range),
        }
    }

    fn post_notify(&mut self, url: &str, content_type: &str, body: &[u8]) -> Result<Reply, Fault> {
        if url == REPORT_URL {
            let report = String::from_utf8_lossy(body).into_owned();
            return match self.current.as_mut() {
                Some(current) => {
                    current.report = Some(report);
                    Ok(Reply::new(200, Vec::new()))
                }
                None => Ok(Reply::new(409, Vec::new())),
            };
        }
        self.http.post_notify(url, content_type, body)
    }
}

#[cfg(test)]
mod tests;
