//! The async driver runs the same client over an `AsyncTransport`: a device whose network
//! backend is async completes a DM-pushed install and reports it, like the blocking one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use scomo::client::{Client, ClientConfig};
use scomo::dm::auth::{Account, AuthScheme};
use scomo::dm::codec::Encoding;
use scomo::dm::session::{self, Outgoing};
use scomo::drivers::{
    AsyncTransport, Buffers, DmAnswer, FetchSink, RunStats, Stop, Transport, run_async,
};
use scomo::ops::{FetchFailure, Platform};
use scomo_agent::http::{Http, HttpError};
use scomo_agent::installer::CommandInstaller;
use scomo_agent::session::{AgentClient, OsRng, provisioned_tree};
use scomo_agent::store::{FileComponentStore, FileStateStore};
use scomo_testserver::{Cmd, Server};

/// The HTTP backend behind async methods (each completes at its first poll).
struct AsyncHttp(Http);

impl AsyncTransport for AsyncHttp {
    type Error = HttpError;

    async fn exchange(
        &mut self,
        msg: &Outgoing<'_>,
        reply: &mut [u8],
    ) -> Result<DmAnswer, HttpError> {
        self.0.exchange(msg, reply)
    }

    async fn fetch(
        &mut self,
        url: &str,
        offset: u64,
        if_range: Option<&str>,
        sink: &mut dyn FetchSink,
    ) -> Result<(), FetchFailure> {
        self.0.fetch(url, offset, if_range, sink)
    }

    async fn post_notify(&mut self, url: &str, body: &str) -> Result<bool, HttpError> {
        self.0.post_notify(url, body)
    }
}

/// Polls a future to completion on this thread (its futures never wait).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn the_async_driver_carries_out_a_pushed_install_and_reports_it() {
    const DEV: &str = "IMEI:7";
    let server = Server::start().unwrap();
    let pkg = b"scomo-component id=com.example.async version=1.0\npayload".to_vec();
    server.queue(
        DEV,
        vec![
            Cmd::add_node("./SCOMO/Inventory/Delivered/A"),
            Cmd::add("./SCOMO/Inventory/Delivered/A/PkgID", "pkg-a"),
            Cmd::push("./SCOMO/Inventory/Delivered/A/Data", pkg, 32),
        ],
    );
    server.queue(
        DEV,
        vec![Cmd::exec(
            "./SCOMO/Inventory/Delivered/A/Operations/Install",
            Some("c-async"),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let uri = server.dm_url();
    let config = ClientConfig::new(
        session::Config {
            server_uri: &uri,
            device_id: DEV,
            encoding: Encoding::Wbxml,
            client: Account {
                name: DEV,
                password: b"",
            },
            server: None,
            server_id: "scomo-server",
            max_msg_size: 16 * 1024,
            max_obj_size: 1 << 20,
        },
        AuthScheme::Md5,
    );
    let mut scratch = vec![0u8; 64 * 1024];
    let mut p = Platform {
        components: FileComponentStore::open(dir.path(), 4, 1 << 20).unwrap(),
        state: FileStateStore::open(dir.path()).unwrap(),
        installer: CommandInstaller::new(dir.path(), None),
        scratch: &mut scratch,
    };
    let tree = provisioned_tree(DEV, "scomo-server").unwrap();
    let mut client: AgentClient<'_> = Client::boot(config, tree, &mut p).unwrap();
    let mut rng = OsRng;
    client.request_session(&mut rng, None).unwrap();
    let mut transport = AsyncHttp(Http::new());
    let (mut tx, mut rx, mut work) = (
        vec![0u8; 16 * 1024],
        vec![0u8; 16 * 1024],
        vec![0u8; 8 * 1024],
    );
    // A virtual clock: waits are skipped by moving it forward.
    let clock = std::cell::Cell::new(0u64);
    let mut now = || {
        clock.set(clock.get() + 1);
        clock.get()
    };
    let mut stats = RunStats::default();
    for _ in 0..20 {
        let bufs = Buffers {
            tx: &mut tx,
            rx: &mut rx,
            work: &mut work,
        };
        match block_on(run_async(
            &mut client,
            &mut transport,
            &mut p,
            &mut rng,
            bufs,
            &mut now,
            8,
            &mut stats,
        ))
        .unwrap()
        {
            Stop::Idle => break,
            Stop::WaitUntil(t) => clock.set(t),
            other => panic!("unexpected stop {other:?}"),
        }
    }
    assert_eq!(client.pending_reports(), 0);
    let alerts = server.record().generic_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0.as_deref(), Some("c-async"));
    assert_eq!(alerts[0].3, Some(1200));
    assert_eq!(alerts[0].4.as_deref(), Some("com.example.async"));
    assert!(
        stats.sessions >= 2,
        "the install session and the report session: {stats:?}"
    );
}
