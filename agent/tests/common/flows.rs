//! The seed flows (scomo-ad-flows-cr §5.4) as a story one device lives through, against
//! the test server over real HTTP. Shared by the demo (`cargo run --example demo`) and the
//! integration tests, which run it in XML and WBXML and with each authentication scheme.

use std::path::{Path, PathBuf};

use scomo_agent::cli::{AuthArg, EncodingArg, InventoryArgs, SessionArgs};
use scomo_agent::session::{Outcome, inventory_json, session};
use scomo_testserver::{ClientAuth, Cmd, DmConfig, Event, Package, Server};

/// The device's id.
pub const DEV: &str = "IMEI:356938035643809";
const USER: &str = "dev-user";
const PASS: &str = "dev-pass";
const SERVER_PASS: &str = "srv-pass";

/// A package whose manifest names component `id` at `version`.
pub fn package(id: &str, version: &str, size: usize) -> Vec<u8> {
    let mut bytes = format!("scomo-component id={id} version={version} name={id}\n").into_bytes();
    bytes.extend((0..size).map(|i| (i * 31 % 251) as u8));
    bytes
}

/// How the device and server talk in one run of the story.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// DM encoding.
    pub encoding: EncodingArg,
    /// Client authentication.
    pub auth: AuthArg,
    /// Whether the device requires server credentials.
    pub server_auth: bool,
}

/// The server, the device's state directory, and what was printed.
pub struct World {
    /// The test server.
    pub server: Server,
    /// The device's state directory.
    pub state: PathBuf,
    setup: Setup,
    /// How many events of the record earlier flows consumed.
    seen: usize,
    /// The transcript.
    pub transcript: Vec<String>,
    /// Print transcript lines as they come.
    pub echo: bool,
    /// Package #0 session ids handed out so far.
    pkg0_seq: u16,
}

impl World {
    /// A server configured for `setup`, and a device state directory under `dir`.
    pub fn new(setup: Setup, dir: &Path) -> Self {
        let scheme = match setup.auth {
            AuthArg::Basic => scomo::dm::auth::AuthScheme::Basic,
            AuthArg::Md5 => scomo::dm::auth::AuthScheme::Md5,
            AuthArg::Hmac => scomo::dm::auth::AuthScheme::Hmac,
        };
        let config = DmConfig {
            client_auth: ClientAuth::Required {
                scheme,
                user: USER.into(),
                password: PASS.into(),
            },
            server_password: setup.server_auth.then(|| SERVER_PASS.into()),
            ..DmConfig::default()
        };
        let server = Server::start_with(config).expect("test server");
        Self {
            server,
            state: dir.join("device"),
            setup,
            seen: 0,
            transcript: Vec::new(),
            echo: false,
            pkg0_seq: 0,
        }
    }

    /// The agent's arguments for this world.
    pub fn args(&self) -> SessionArgs {
        SessionArgs {
            server: self.server.dm_url(),
            state: self.state.clone(),
            dev_id: Some(DEV.into()),
            encoding: self.setup.encoding,
            notification: None,
            request: None,
            client_user: Some(USER.into()),
            client_password: Some(PASS.into()),
            client_password_file: None,
            auth: self.setup.auth,
            server_id: Some("scomo-test-server".into()),
            server_password: self.setup.server_auth.then(|| SERVER_PASS.into()),
            server_password_file: None,
            installer: None,
            max_sessions: 8,
            retry_delay_ms: 20,
            ca_file: None,
        }
    }

    /// The agent's arguments for a server-initiated session: a fresh Package #0 from the
    /// server (when the device checks server credentials; otherwise the device opens the
    /// session itself, which is all a device without server credentials may do).
    pub fn server_initiated(&mut self) -> SessionArgs {
        let mut args = self.args();
        if self.setup.server_auth {
            self.pkg0_seq += 1;
            let session = 0x2000 + self.pkg0_seq;
            let bytes = self.server.package0(DEV, session).expect("package #0");
            let file = self.state.with_extension(format!("pkg0-{session}"));
            std::fs::write(&file, bytes).expect("package #0 file");
            args.notification = Some(file);
        }
        args
    }

    /// An external management system asks the server for `steps` (JSON commands, one
    /// step) and for a Package #0; the returned arguments answer that notification.
    pub fn ems(&mut self, commands: &[String]) -> Result<SessionArgs, String> {
        let steps = format!("[[{}]]", commands.join(","));
        let queued = ureq_post(
            &format!("{}/ems/{DEV}/steps", self.server.url()),
            steps.as_bytes(),
        )?;
        self.pkg0_seq += 1;
        let session = 0x3000 + self.pkg0_seq;
        let pkg0 = ureq_post(
            &format!("{}/ems/{DEV}/pkg0?session={session}", self.server.url()),
            b"",
        )?;
        let file = self.state.with_extension(format!("ems-{session}"));
        std::fs::write(&file, &pkg0).map_err(|e| e.to_string())?;
        self.say(format!(
            "    (external system → server: {}; server → device: Package #0 of {} bytes)",
            String::from_utf8_lossy(&queued),
            pkg0.len()
        ));
        let mut args = self.args();
        args.notification = Some(file);
        Ok(args)
    }

    /// Runs the agent once (a session and its follow-ups).
    pub fn device(&mut self, args: SessionArgs) -> Outcome {
        session(&args)
    }

    /// The inventory JSON.
    pub fn inventory(&self) -> String {
        inventory_json(&InventoryArgs {
            state: self.state.clone(),
        })
        .unwrap_or_else(|o| format!("{o:?}"))
    }

    fn say(&mut self, line: String) {
        if self.echo {
            println!("{line}");
        }
        self.transcript.push(line);
    }

    /// Transcribes the record since the last call and returns the Generic Alerts seen.
    fn transcribe(&mut self) -> Vec<scomo_testserver::record::AlertSeen> {
        let record = self.server.record();
        let new: Vec<Event> = record.events.iter().skip(self.seen).cloned().collect();
        self.seen = record.events.len();
        let mut alerts = Vec::new();
        let mut chunks = 0;
        for e in new {
            match e {
                Event::Status {
                    cmd, target, code, ..
                } if cmd != "SyncHdr" => {
                    if code == 213 {
                        chunks += 1;
                        continue;
                    }
                    let extra = if chunks > 0 {
                        format!(" (after {chunks} chunks answered 213)")
                    } else {
                        String::new()
                    };
                    chunks = 0;
                    self.say(format!(
                        "    server → {cmd:<8} {target:<58} device ← {code}{extra}"
                    ));
                }
                Event::Results { target, data, .. } => {
                    let data = if data.is_empty() {
                        "(empty)".into()
                    } else {
                        data
                    };
                    self.say(format!("    device → Results  {target:<58} = {data}"));
                }
                Event::GenericAlert {
                    correlator,
                    source,
                    target,
                    result,
                    identifier,
                    alert_type,
                    data,
                    ..
                } => {
                    if alert_type.ends_with("ComponentRequest") {
                        self.say(format!(
                            "    device → Generic Alert 1226 {alert_type}: asks for {data}"
                        ));
                        continue;
                    }
                    self.say(format!(
                        "    device → Generic Alert 1226 [{}] {source} → {target}: result {} ({})",
                        correlator.clone().unwrap_or_else(|| "no correlator".into()),
                        result.map_or("?".into(), |r| r.to_string()),
                        identifier.clone().unwrap_or_default()
                    ));
                    alerts.push((correlator, source, target, result, identifier));
                }
                Event::PackageGet {
                    name,
                    from,
                    status,
                    bytes,
                } => {
                    self.say(format!("    device → GET package {name} from byte {from}: HTTP {status}, {bytes} bytes"));
                }
                Event::DescriptorGet { name } => {
                    self.say(format!("    device → GET download descriptor of {name}"))
                }
                Event::Notify { body, .. } => {
                    self.say(format!("    device → install-notify: {body}"))
                }
                Event::AuthRejected { code, .. } => self.say(format!(
                    "    server ✗ device credentials: {code} with a challenge"
                )),
                _ => {}
            }
        }
        alerts
    }

    /// Runs one flow: queues `steps`, runs the device with `args`, and checks that it
    /// exited 0 and reported `expect` results (correlator, result code).
    pub fn flow(
        &mut self,
        title: &str,
        steps: Vec<Vec<Cmd>>,
        args: SessionArgs,
        expect: &[(&str, u16)],
    ) -> Result<(), String> {
        self.say(format!("== {title}"));
        for step in steps {
            self.server.queue(DEV, step);
        }
        let out = self.device(args);
        let alerts = self.transcribe();
        if out.code != 0 {
            return Err(format!(
                "{title}: agent exited {} ({:?})",
                out.code, out.error
            ));
        }
        for (corr, code) in expect {
            let found = alerts
                .iter()
                .any(|(c, _, _, r, _)| c.as_deref() == Some(*corr) && *r == Some(*code));
            if !found {
                return Err(format!(
                    "{title}: no result {code} reported for {corr}: {alerts:?}"
                ));
            }
        }
        if self.server.queued(DEV) != 0 {
            return Err(format!("{title}: the server still has steps queued"));
        }
        self.say("    ✓".into());
        Ok(())
    }
}

/// Checks a condition of the inventory.
fn inventory_has(world: &World, needle: &str) -> Result<(), String> {
    let inv = world.inventory();
    if inv.contains(needle) {
        Ok(())
    } else {
        Err(format!("inventory lacks {needle}: {inv}"))
    }
}

fn inventory_lacks(world: &World, needle: &str) -> Result<(), String> {
    let inv = world.inventory();
    if inv.contains(needle) {
        Err(format!("inventory still has {needle}: {inv}"))
    } else {
        Ok(())
    }
}

const S: &str = "./SCOMO";

/// Every seed flow, in order, on one device.
pub fn story(world: &mut World) -> Result<(), String> {
    let chunk = 700;
    let d = |name: &str, leaf: &str| format!("{S}/Download/{name}/{leaf}");
    let download = |name: &str, url: &str, op: &str, corr: &str| {
        vec![
            Cmd::add_node(&format!("{S}/Download/{name}")),
            Cmd::add(&d(name, "PkgID"), &format!("pkg-{name}")),
            Cmd::add(&d(name, "PkgURL"), url),
            Cmd::exec(&d(name, &format!("Operations/{op}")), Some(corr)),
        ]
    };
    let json =
        |cmd: &str, uri: String, tail: &str| format!(r#"{{"{cmd}": {{"uri": "{uri}"{tail}}}}}"#);

    // ---- 5.4.1: delivery inside the DM session (Large Object) ----
    let args = world.server_initiated();
    world.flow(
        "5.4.1 DM download: the server alerts the device (Package #0), pushes the package as a Large Object, then Installs it",
        vec![
            vec![
                Cmd::add_node(&format!("{S}/Inventory/Delivered/Push1")),
                Cmd::add(&format!("{S}/Inventory/Delivered/Push1/PkgID"), "pkg-push-1"),
                Cmd::push(&format!("{S}/Inventory/Delivered/Push1/Data"), package("com.example.push", "1.0", 3000), chunk),
            ],
            vec![Cmd::exec(&format!("{S}/Inventory/Delivered/Push1/Operations/Install"), Some("c-push"))],
        ],
        args,
        &[("c-push", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.push","name":"com.example.push","version":"1.0","state":20"#,
    )?;

    let mut args = world.args();
    args.request = Some("pkg-req-1".into());
    world.flow(
        "5.4.1 alt 1: the device opens the session and asks for a component; the server pushes it",
        vec![
            vec![
                Cmd::add_node(&format!("{S}/Inventory/Delivered/Req1")),
                Cmd::add(&format!("{S}/Inventory/Delivered/Req1/PkgID"), "pkg-req-1"),
                Cmd::push(
                    &format!("{S}/Inventory/Delivered/Req1/Data"),
                    package("com.example.req", "1.0", 1500),
                    chunk,
                ),
            ],
            vec![Cmd::exec(
                &format!("{S}/Inventory/Delivered/Req1/Operations/InstallInactive"),
                Some("c-req"),
            )],
        ],
        args,
        &[("c-req", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.req","name":"com.example.req","version":"1.0","state":10"#,
    )?;

    let args = world.server_initiated();
    world.flow(
        "5.4.1 alt 2: the server queries the inventory before choosing",
        vec![vec![
            Cmd::get(&format!("{S}/Inventory/Deployed")),
            Cmd::get(&format!("{S}/Inventory/Deployed/com.example.push/Version")),
            Cmd::get(&format!("{S}/Inventory/Deployed/com.example.push/State")),
        ]],
        args,
        &[],
    )?;
    let results = world.server.record().results();
    if !results.iter().any(|(t, d)| {
        t.ends_with("/Deployed") && d.contains("com.example.push") && d.contains("com.example.req")
    }) {
        return Err(format!(
            "inventory query did not list both components: {results:?}"
        ));
    }

    if world.setup.server_auth {
        let bytes: Vec<String> = package("com.example.ems", "1.0", 600)
            .iter()
            .map(u8::to_string)
            .collect();
        let args = world.ems(&[
            json(
                "Add",
                format!("{S}/Inventory/Delivered/Ems1"),
                r#", "format": "node""#,
            ),
            json(
                "Add",
                format!("{S}/Inventory/Delivered/Ems1/PkgID"),
                r#", "data": "pkg-ems-1""#,
            ),
            json(
                "Push",
                format!("{S}/Inventory/Delivered/Ems1/Data"),
                &format!(r#", "bytes": [{}], "chunk": 400"#, bytes.join(",")),
            ),
        ])?;
        world.server.queue(
            DEV,
            vec![Cmd::exec(
                &format!("{S}/Inventory/Delivered/Ems1/Operations/Install"),
                Some("c-ems"),
            )],
        );
        world.flow(
            "5.4.1 alt 3: an external management system asks the server to push a component",
            vec![],
            args,
            &[("c-ems", 1200)],
        )?;
        inventory_has(world, r#""id":"com.example.ems""#)?;
    }

    // ---- 5.4.2: alternate download (PkgURL) ----
    world
        .server
        .add_package(Package::new("alt", package("com.example.alt", "1.0", 5000)));
    let url = world.server.package_url("alt");
    let args = world.server_initiated();
    world.flow(
        "5.4.2 alternate download: Download from PkgURL (202 now, result later)",
        vec![download("Alt1", &url, "Download", "c-dl")],
        args,
        &[("c-dl", 1200)],
    )?;
    inventory_has(world, r#""node":"Alt1","pkg_id":"pkg-Alt1""#)?;

    world
        .server
        .add_package(Package::new("dd", package("com.example.dd", "1.0", 4000)));
    let url = world.server.descriptor_url("dd");
    let mut args = world.args();
    args.request = Some("pkg-Dd1".into());
    world.flow(
        "5.4.2 alt 1: the device asks for a component; PkgURL names a download descriptor; install-notify is posted",
        vec![download("Dd1", &url, "DownloadInstallInactive", "c-dd")],
        args,
        &[("c-dd", 1200)],
    )?;
    if world.server.record().notifications("dd") != vec!["900 Success".to_owned()] {
        return Err("no install-notify 900 Success for the descriptor download".into());
    }
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":10"#,
    )?;

    world
        .server
        .add_package(Package::new("inv", package("com.example.inv", "1.0", 2500)));
    let url = world.server.package_url("inv");
    let args = world.server_initiated();
    world.flow(
        "5.4.2 alt 2: the server retrieves the inventory, then asks for an alternate download",
        vec![
            vec![Cmd::get(&format!("{S}/Inventory/Deployed"))],
            download("Inv1", &url, "DownloadInstall", "c-inv"),
        ],
        args,
        &[("c-inv", 1200)],
    )?;
    inventory_has(world, r#""id":"com.example.inv""#)?;

    if world.setup.server_auth {
        world.server.add_package(Package::new(
            "emsdl",
            package("com.example.emsdl", "1.0", 2000),
        ));
        let url = world.server.package_url("emsdl");
        let args = world.ems(&[
            json("Add", format!("{S}/Download/Ems2"), r#", "format": "node""#),
            json(
                "Add",
                format!("{S}/Download/Ems2/PkgID"),
                r#", "data": "pkg-ems-2""#,
            ),
            json(
                "Add",
                format!("{S}/Download/Ems2/PkgURL"),
                &format!(r#", "data": "{url}""#),
            ),
            json(
                "Exec",
                format!("{S}/Download/Ems2/Operations/DownloadInstall"),
                r#", "correlator": "c-emsdl""#,
            ),
        ])?;
        world.flow(
            "5.4.2 alt 3: an external management system asks the server for an alternate download",
            vec![],
            args,
            &[("c-emsdl", 1200)],
        )?;
        inventory_has(world, r#""id":"com.example.emsdl""#)?;
    }

    // ---- 5.4.3: operations on the device ----
    let args = world.server_initiated();
    world.flow(
        "5.4.3 the server invokes Install of the delivered package",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Delivered/Alt1/Operations/Install"),
            Some("c-inst"),
        )]],
        args,
        &[("c-inst", 1200)],
    )?;
    inventory_has(world, r#""id":"com.example.alt""#)?;
    let args = world.server_initiated();
    world.flow(
        "5.4.3 Activate an inactive component",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Activate"),
            Some("c-act"),
        )]],
        args,
        &[("c-act", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":20"#,
    )?;
    let mut args = world.args();
    args.request = Some("deactivate:com.example.dd".into());
    world.flow(
        "5.4.3 alt 1: the device asks the server to invoke an operation (Deactivate)",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Deactivate"),
            Some("c-deact"),
        )]],
        args,
        &[("c-deact", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":10"#,
    )?;
    let rm = vec![
        Cmd::exec(
            &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Remove"),
            Some("c-rm"),
        ),
        Cmd::exec(
            &format!("{S}/Inventory/Delivered/Alt1/Operations/Remove"),
            Some("c-rmpkg"),
        ),
    ];
    if world.setup.server_auth {
        let args = world.ems(&[
            json(
                "Exec",
                format!("{S}/Inventory/Deployed/com.example.dd/Operations/Remove"),
                r#", "correlator": "c-rm""#,
            ),
            json(
                "Exec",
                format!("{S}/Inventory/Delivered/Alt1/Operations/Remove"),
                r#", "correlator": "c-rmpkg""#,
            ),
        ])?;
        world.flow(
            "5.4.3 alt 2: an external management system asks the server to Remove a component and a package",
            vec![],
            args,
            &[("c-rm", 1200), ("c-rmpkg", 1200)],
        )?;
    } else {
        let args = world.server_initiated();
        world.flow(
            "5.4.3 Remove a component and a delivered package",
            vec![rm],
            args,
            &[("c-rm", 1200), ("c-rmpkg", 1200)],
        )?;
    }
    inventory_lacks(world, "com.example.dd")?;
    inventory_lacks(world, "pkg-Alt1")?;

    // ---- 5.4.3 alternative 3: combined operations ----
    world.server.add_package(Package::new(
        "combo",
        package("com.example.combo", "1.0", 3000),
    ));
    let url = world.server.package_url("combo");
    let args = world.server_initiated();
    world.flow(
        "5.4.3 alt 3: DownloadAndInstallAndActivate = DownloadInstall (ends Active)",
        vec![download("Combo", &url, "DownloadInstall", "c-combo")],
        args,
        &[("c-combo", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.combo","name":"com.example.combo","version":"1.0","state":20"#,
    )?;
    world.server.add_package(Package::new(
        "combo-i",
        package("com.example.combo-i", "1.0", 3000),
    ));
    let url = world.server.package_url("combo-i");
    let args = world.server_initiated();
    world.flow(
        "5.4.3 alt 3: DownloadAndInstall = DownloadInstallInactive (ends Inactive)",
        vec![download(
            "ComboI",
            &url,
            "DownloadInstallInactive",
            "c-combo-i",
        )],
        args,
        &[("c-combo-i", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.combo-i","name":"com.example.combo-i","version":"1.0","state":10"#,
    )?;
    world.server.add_package(Package::new(
        "combo2",
        package("com.example.combo", "2.0", 3500),
    ));
    let args = world.server_initiated();
    world.flow(
        "5.4.3 alt 3: UpdateAndActivate = Install of a newer version of a deployed component",
        vec![vec![
            Cmd::replace(&d("Combo", "PkgURL"), &world.server.package_url("combo2")),
            Cmd::replace(&d("Combo", "PkgID"), "pkg-combo-2"),
            Cmd::exec(&d("Combo", "Operations/DownloadInstall"), Some("c-update")),
        ]],
        args,
        &[("c-update", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.combo","name":"com.example.combo","version":"2.0","state":20"#,
    )?;
    let inv = world.inventory();
    if inv.matches("\"id\":\"com.example.combo\"").count() != 1 {
        return Err(format!("the update left two entries: {inv}"));
    }
    Ok(())
}

fn ureq_post(url: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut resp = ureq::post(url)
        .send(body)
        .map_err(|e| format!("{url}: {e}"))?;
    resp.body_mut().read_to_vec().map_err(|e| e.to_string())
}
