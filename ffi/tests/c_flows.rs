//! The seed flows (scomo-ad-flows-cr §5.4.1, 5.4.2, 5.4.3) carried out by a device written
//! in C (`tests/c/flows.c`: the C API, stores and installer over files, HTTP by libcurl),
//! compiled against the checked-in header with ASan and UBSan, against the test server over
//! real HTTP. Each flow queues the server's steps, runs the C device once (one boot), and
//! checks what the server recorded: every operation reported by Generic Alert with result
//! 1200, and nothing left queued.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod c_build;

use std::path::{Path, PathBuf};

use scomo::dm::auth::AuthScheme;
use scomo_testserver::{ClientAuth, Cmd, DmConfig, Event, Fault, Package, Server};

const DEV: &str = "IMEI:356938035643809";
const SERVER_PASS: &str = "srv-pass";
const S: &str = "./SCOMO";

/// A package whose first line names component `id` at `version` (what the C installer
/// reads).
fn package(id: &str, version: &str, size: usize) -> Vec<u8> {
    let mut bytes = format!("scomo-component id={id} version={version} name={id}\n").into_bytes();
    bytes.extend((0..size).map(|i| (i * 31 % 251) as u8));
    bytes
}

struct World {
    server: Server,
    exe: PathBuf,
    state: PathBuf,
    encoding: &'static str,
    auth: &'static str,
    /// Events of the record that earlier flows consumed.
    seen: usize,
    /// What the C device printed in the last run.
    stderr: String,
}

impl World {
    fn new(dir: &Path, encoding: &'static str, auth: &'static str, scheme: AuthScheme) -> Self {
        let config = DmConfig {
            client_auth: ClientAuth::Required {
                scheme,
                user: "dev-user".into(),
                password: "dev-pass".into(),
            },
            server_password: Some(SERVER_PASS.into()),
            ..DmConfig::default()
        };
        Self {
            server: Server::start_with(config).expect("test server"),
            exe: c_build::compile(
                &format!("flows-{encoding}-{auth}"),
                &["tests/c/flows.c"],
                &["-lcurl"],
            ),
            state: dir.join("device"),
            encoding,
            auth,
            seen: 0,
            stderr: String::new(),
        }
    }

    /// Queues `steps`, runs the C device once, and returns the events it caused.
    fn run(&mut self, steps: Vec<Vec<Cmd>>, extra: &[String]) -> Vec<Event> {
        for step in steps {
            self.server.queue(DEV, step);
        }
        let mut args = vec![
            self.server.dm_url(),
            self.state.display().to_string(),
            self.encoding.into(),
            self.auth.into(),
            SERVER_PASS.into(),
        ];
        args.extend_from_slice(extra);
        let out = c_build::run(&self.exe, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the C device exited {:?}\n{stderr}",
            out.status.code()
        );
        assert!(
            !stderr.contains("Sanitizer") && !stderr.contains("runtime error"),
            "{stderr}"
        );
        assert_eq!(self.server.queued(DEV), 0, "steps left queued\n{stderr}");
        let record = self.server.record();
        let new = record.events[self.seen..].to_vec();
        self.seen = record.events.len();
        self.stderr = stderr.into_owned();
        new
    }

    /// Runs a flow and checks that each `(correlator, result)` was reported.
    fn flow(
        &mut self,
        steps: Vec<Vec<Cmd>>,
        extra: &[String],
        expect: &[(&str, u16)],
    ) -> Vec<Event> {
        let events = self.run(steps, extra);
        for (correlator, code) in expect {
            let reported = events.iter().any(|e| {
                matches!(e, Event::GenericAlert { correlator: Some(c), result: Some(r), .. }
                    if c == correlator && r == code)
            });
            let alerts: Vec<_> = events
                .iter()
                .filter(|e| matches!(e, Event::GenericAlert { .. }))
                .collect();
            assert!(
                reported,
                "no result {code} for {correlator}: {alerts:#?}\n{}",
                self.stderr
            );
        }
        events
    }

    /// What the C installer keeps for component `id`, or `None`.
    fn component(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.state.join("installed").join(id)).ok()
    }
}

fn gets(events: &[Event], package: &str) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PackageGet { name, from, .. } if name == package => Some(*from),
            _ => None,
        })
        .collect()
}

/// 5.4.1, 5.4.2 and 5.4.3 in order on one C device.
fn story(world: &mut World) {
    let none: &[String] = &[];

    // 5.4.1: the server pushes a package as a Large Object inside the session, then Installs.
    world.flow(
        vec![
            vec![
                Cmd::add_node(&format!("{S}/Inventory/Delivered/Push1")),
                Cmd::add(
                    &format!("{S}/Inventory/Delivered/Push1/PkgID"),
                    "pkg-push-1",
                ),
                Cmd::push(
                    &format!("{S}/Inventory/Delivered/Push1/Data"),
                    package("com.example.push", "1.0", 3000),
                    700,
                ),
            ],
            vec![Cmd::exec(
                &format!("{S}/Inventory/Delivered/Push1/Operations/Install"),
                Some("c-push"),
            )],
        ],
        none,
        &[("c-push", 1200)],
    );
    let push = world.component("com.example.push").expect("installed");
    assert!(
        push.contains("version=1.0") && push.contains("active=1"),
        "{push}"
    );

    // 5.4.1 alternative 1: the device asks for a component; the server pushes it and
    // installs it inactive.
    let events = world.flow(
        vec![vec![
            Cmd::add_node(&format!("{S}/Inventory/Delivered/Req1")),
            Cmd::add(&format!("{S}/Inventory/Delivered/Req1/PkgID"), "pkg-req-1"),
            Cmd::push(
                &format!("{S}/Inventory/Delivered/Req1/Data"),
                package("com.example.req", "1.0", 1500),
                700,
            ),
            Cmd::exec(
                &format!("{S}/Inventory/Delivered/Req1/Operations/InstallInactive"),
                Some("c-req"),
            ),
        ]],
        &["pkg-req-1".into()],
        &[("c-req", 1200)],
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::GenericAlert { alert_type, data, .. }
            if alert_type.ends_with("ComponentRequest") && data == "pkg-req-1")),
        "no component request: {events:#?}"
    );
    assert!(
        world
            .component("com.example.req")
            .unwrap()
            .contains("active=0")
    );

    // 5.4.1 alternative 3: a server-initiated session from a Package #0.
    let pkg0 = world.server.package0(DEV, 4660).unwrap();
    let pkg0_file = world.state.with_extension("pkg0");
    std::fs::write(&pkg0_file, pkg0).unwrap();
    let events = world.flow(
        vec![vec![Cmd::get(&format!("{S}/Inventory/Deployed"))]],
        &["-".into(), pkg0_file.display().to_string()],
        &[],
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Results { data, .. }
            if data.contains("com.example.push") && data.contains("com.example.req"))),
        "the inventory query did not list both components: {events:#?}"
    );

    // 5.4.2: alternate download from PkgURL, the connection cut once (resumed with Range),
    // then Install of the delivered package.
    world.server.add_package(Package {
        fault: Fault::CutOnceAfter(2048),
        ..Package::new("alt", package("com.example.alt", "1.0", 5000))
    });
    let events = world.flow(
        vec![vec![
            Cmd::add_node(&format!("{S}/Download/Alt1")),
            Cmd::add(&format!("{S}/Download/Alt1/PkgID"), "pkg-alt-1"),
            Cmd::add(
                &format!("{S}/Download/Alt1/PkgURL"),
                &world.server.package_url("alt"),
            ),
            Cmd::exec(
                &format!("{S}/Download/Alt1/Operations/Download"),
                Some("c-dl"),
            ),
        ]],
        none,
        &[("c-dl", 1200)],
    );
    let froms = gets(&events, "alt");
    assert!(
        froms.first() == Some(&0) && froms.iter().skip(1).any(|&f| f > 0),
        "the cut download was not resumed with a range: {froms:?}"
    );
    world.flow(
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Delivered/Alt1/Operations/Install"),
            Some("c-inst"),
        )]],
        none,
        &[("c-inst", 1200)],
    );
    assert!(
        world
            .component("com.example.alt")
            .unwrap()
            .contains("active=1")
    );

    // 5.4.2 alternative: PkgURL names a download descriptor; install-notify is posted.
    world
        .server
        .add_package(Package::new("dd", package("com.example.dd", "1.0", 4000)));
    world.flow(
        vec![vec![
            Cmd::add_node(&format!("{S}/Download/Dd1")),
            Cmd::add(&format!("{S}/Download/Dd1/PkgID"), "pkg-dd-1"),
            Cmd::add(
                &format!("{S}/Download/Dd1/PkgURL"),
                &world.server.descriptor_url("dd"),
            ),
            Cmd::exec(
                &format!("{S}/Download/Dd1/Operations/DownloadInstallInactive"),
                Some("c-dd"),
            ),
        ]],
        none,
        &[("c-dd", 1200)],
    );
    assert_eq!(
        world.server.record().notifications("dd"),
        vec!["900 Success".to_owned()]
    );
    assert!(
        world
            .component("com.example.dd")
            .unwrap()
            .contains("active=0")
    );

    // 5.4.3: Activate, Deactivate, Remove (the component, and the delivered package).
    let deployed = |id: &str, op: &str| format!("{S}/Inventory/Deployed/{id}/Operations/{op}");
    world.flow(
        vec![vec![Cmd::exec(
            &deployed("com.example.dd", "Activate"),
            Some("c-act"),
        )]],
        none,
        &[("c-act", 1200)],
    );
    assert!(
        world
            .component("com.example.dd")
            .unwrap()
            .contains("active=1")
    );
    world.flow(
        vec![vec![Cmd::exec(
            &deployed("com.example.dd", "Deactivate"),
            Some("c-deact"),
        )]],
        none,
        &[("c-deact", 1200)],
    );
    assert!(
        world
            .component("com.example.dd")
            .unwrap()
            .contains("active=0")
    );
    world.flow(
        vec![vec![
            Cmd::exec(&deployed("com.example.dd", "Remove"), Some("c-rm")),
            Cmd::exec(
                &format!("{S}/Inventory/Delivered/Alt1/Operations/Remove"),
                Some("c-rmpkg"),
            ),
        ]],
        none,
        &[("c-rm", 1200), ("c-rmpkg", 1200)],
    );
    assert_eq!(world.component("com.example.dd"), None);

    // What is left, asked after a last boot: the removed entries are gone from the tree.
    let events = world.flow(
        vec![vec![
            Cmd::get(&format!("{S}/Inventory/Deployed")),
            Cmd::get(&format!("{S}/Inventory/Delivered")),
        ]],
        none,
        &[],
    );
    let listed: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Results { data, .. } => Some(data.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(listed.len(), 2, "{events:#?}");
    assert!(
        listed
            .iter()
            .all(|d| !d.contains("com.example.dd") && !d.contains("Alt1"))
    );
    assert!(listed[0].contains("com.example.push") && listed[0].contains("com.example.alt"));
}

#[test]
fn c_device_seed_flows_in_xml_with_md5_and_server_credentials_report_1200() {
    let dir = tempfile_dir("xml-md5");
    let mut world = World::new(&dir, "xml", "md5", AuthScheme::Md5);
    story(&mut world);
}

#[test]
fn c_device_seed_flows_in_wbxml_with_hmac_report_1200() {
    let dir = tempfile_dir("wbxml-hmac");
    let mut world = World::new(&dir, "wbxml", "hmac", AuthScheme::Hmac);
    story(&mut world);
}

/// A fresh directory under cargo's per-test temporary directory.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c_flows-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
