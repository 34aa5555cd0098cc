//! A scriptable OMA DM 1.2 test server over real HTTP on loopback.
//!
//! The server binds `127.0.0.1:0` (an ephemeral port), serves package files with `Range`
//! support and download descriptors, records install-notify reports, and injects faults
//! deterministically. Everything it sees is kept in a [`Record`] that tests read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test tooling: a poisoned lock is a test bug

pub mod dm;
pub mod files;
pub mod record;
pub mod scenario;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use dm::{ClientAuth, DmConfig, DmFault};
pub use files::{Fault, Package};
pub use record::{Event, Record};
pub use scenario::{Cmd, Scenario};

/// State shared by the HTTP worker and the test that owns the server.
#[derive(Default)]
pub struct Shared {
    /// Packages served under `/pkg/<name>` and `/dd/<name>`.
    pub packages: Vec<Package>,
    /// Everything the server saw, in order.
    pub record: Record,
    /// Where the package file server listens.
    pub files_addr: Option<SocketAddr>,
    /// The DM endpoint: configuration, devices and their queued steps.
    pub dm: dm::DmState,
}

/// A running server. Dropping it stops the server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    worker: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on an ephemeral loopback port with the default DM configuration.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with(DmConfig::default())
    }

    /// Starts a server on an ephemeral loopback port.
    pub fn start_with(config: DmConfig) -> std::io::Result<Self> {
        let http = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not an IP listener"))?;
        let http = Arc::new(http);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let files_addr = files::spawn_file_server(Arc::clone(&shared))?;
        {
            let mut guard = shared.lock().unwrap();
            guard.files_addr = Some(files_addr);
            guard.dm.config = config;
        }
        let worker = {
            let http = Arc::clone(&http);
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for request in http.incoming_requests() {
                    route(request, &shared);
                }
            })
        };
        Ok(Self {
            http,
            addr,
            shared,
            worker: Some(worker),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of package `name` on the file server.
    pub fn package_url(&self, name: &str) -> String {
        let addr = self.shared.lock().unwrap().files_addr;
        format!(
            "http://{}/pkg/{name}",
            addr.map_or_else(String::new, |a| a.to_string())
        )
    }

    /// The URL of the download descriptor of package `name`.
    pub fn descriptor_url(&self, name: &str) -> String {
        format!("{}/dd/{name}", self.url())
    }

    /// Adds (or replaces) a package served at `/pkg/<name>` with a descriptor at `/dd/<name>`.
    pub fn add_package(&self, package: Package) {
        let mut shared = self.shared.lock().unwrap();
        shared.packages.retain(|p| p.name != package.name);
        shared.packages.push(package);
    }

    /// The DM server URL a device starts its sessions at.
    pub fn dm_url(&self) -> String {
        format!("{}/dm", self.url())
    }

    /// Queues a step (one server package) for `device`.
    pub fn queue(&self, device: &str, step: Vec<Cmd>) {
        let mut shared = self.shared.lock().unwrap();
        shared
            .dm
            .devices
            .entry(device.to_owned())
            .or_default()
            .queue
            .push_back(step);
    }

    /// How many steps are still queued for `device`.
    pub fn queued(&self, device: &str) -> usize {
        let shared = self.shared.lock().unwrap();
        shared.dm.devices.get(device).map_or(0, |d| d.queue.len())
    }

    /// A Package #0 for `device` (see [`dm::DmState::package0`]).
    pub fn package0(&self, device: &str, session_id: u16) -> Result<Vec<u8>, String> {
        self.shared.lock().unwrap().dm.package0(device, session_id)
    }

    /// Changes the DM fault injected from now on.
    pub fn set_dm_fault(&self, fault: DmFault) {
        self.shared.lock().unwrap().dm.config.fault = fault;
    }

    /// A copy of everything recorded so far.
    pub fn record(&self) -> Record {
        self.shared.lock().unwrap().record.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn route(request: tiny_http::Request, shared: &Mutex<Shared>) {
    let url = request.url().to_owned();
    let path = url.split('?').next().unwrap_or("");
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match (request.method(), kind) {
        (tiny_http::Method::Get, "dd") => files::serve_descriptor(request, name, shared),
        (tiny_http::Method::Post, "notify") => files::receive_notify(request, name, shared),
        (tiny_http::Method::Post, "dm") => serve_dm(request, shared),
        (tiny_http::Method::Post, "ems") => {
            let rest = url.trim_start_matches("/ems/").to_owned();
            serve_ems(request, &rest, shared)
        }
        _ => {
            let _ = request.respond(tiny_http::Response::empty(404));
        }
    }
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn serve_dm(mut request: tiny_http::Request, shared: &Mutex<Shared>) {
    let mut body = Vec::new();
    if request.as_reader().read_to_end(&mut body).is_err() {
        let _ = request.respond(tiny_http::Response::empty(400));
        return;
    }
    let find = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_owned())
    };
    let content_type = find("Content-Type").unwrap_or_default();
    let hmac = find(scomo::dm::auth::HMAC_HEADER_NAME);
    let base = format!("http://{}", find("Host").unwrap_or_default());
    let reply = {
        let mut guard = shared.lock().unwrap();
        let Shared { dm, record, .. } = &mut *guard;
        dm.handle(
            &body,
            &content_type,
            hmac.as_deref(),
            &base,
            &mut record.events,
        )
    };
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    if let Some(h) = header("Content-Type", &reply.content_type) {
        response.add_header(h);
    }
    if let Some(h) = reply
        .hmac
        .and_then(|v| header(scomo::dm::auth::HMAC_HEADER_NAME, &v))
    {
        response.add_header(h);
    }
    let _ = request.respond(response);
}

/// The external management system's endpoint (seed 5.4.1 alternative 3):
/// `POST /ems/<device>/steps` with a JSON array of steps queues them;
/// `POST /ems/<device>/pkg0?session=<n>` answers a Package #0 for the device.
fn serve_ems(mut request: tiny_http::Request, rest: &str, shared: &Mutex<Shared>) {
    use std::io::Read;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (device, action) = path.rsplit_once('/').unwrap_or((path, ""));
    let mut body = String::new();
    let _ = request.as_reader().take(1 << 20).read_to_string(&mut body);
    let answer = match action {
        "steps" => match serde_json::from_str::<Vec<Vec<Cmd>>>(&body) {
            Ok(steps) => {
                let mut guard = shared.lock().unwrap();
                let n = steps.len();
                guard
                    .dm
                    .devices
                    .entry(device.to_owned())
                    .or_default()
                    .queue
                    .extend(steps);
                Ok(format!("queued {n} step(s)").into_bytes())
            }
            Err(e) => Err((400, format!("bad steps: {e}"))),
        },
        "pkg0" => {
            let session = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("session="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            shared
                .lock()
                .unwrap()
                .dm
                .package0(device, session)
                .map_err(|e| (409, e))
        }
        _ => Err((404, "unknown action".into())),
    };
    let _ = match answer {
        Ok(bytes) => request.respond(tiny_http::Response::from_data(bytes)),
        Err((code, text)) => {
            request.respond(tiny_http::Response::from_string(text).with_status_code(code))
        }
    };
}
