//! A scriptable OMA DM 1.2 test server over real HTTP on loopback.
//!
//! The server binds `127.0.0.1:0` (an ephemeral port), serves package files with `Range`
//! support and download descriptors, records install-notify reports, and injects faults
//! deterministically. Everything it sees is kept in a [`Record`] that tests read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test tooling: a poisoned lock is a test bug

pub mod files;
pub mod record;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use files::{Fault, Package};
pub use record::{Event, Record};

/// State shared by the HTTP worker and the test that owns the server.
#[derive(Default)]
pub struct Shared {
    /// Packages served under `/pkg/<name>` and `/dd/<name>`.
    pub packages: Vec<Package>,
    /// Everything the server saw, in order.
    pub record: Record,
    /// Where the package file server listens.
    pub files_addr: Option<SocketAddr>,
}

/// A running server. Dropping it stops the server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    worker: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on an ephemeral loopback port.
    pub fn start() -> std::io::Result<Self> {
        let http = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not an IP listener"))?;
        let http = Arc::new(http);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let files_addr = files::spawn_file_server(Arc::clone(&shared))?;
        shared.lock().unwrap().files_addr = Some(files_addr);
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
        _ => {
            let _ = request.respond(tiny_http::Response::empty(404));
        }
    }
}
