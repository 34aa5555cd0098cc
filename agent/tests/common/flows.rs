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
        }
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
    // 5.4.1 normal flow: the server pushes a package inside the session, then installs it.
    world.flow(
        "5.4.1 DM download: the server pushes the package as a Large Object, then Installs it",
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
                    chunk,
                ),
            ],
            vec![Cmd::exec(
                &format!("{S}/Inventory/Delivered/Push1/Operations/Install"),
                Some("c-push"),
            )],
        ],
        world.args(),
        &[("c-push", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.push","name":"com.example.push","version":"1.0","state":20"#,
    )?;

    // 5.4.1 alternative 1: the device asks for a component; the server pushes it.
    let mut args = world.args();
    args.request = Some("pkg-req-1".into());
    world.flow(
        "5.4.1 alt 1: the device opens the session and asks for a component",
        vec![vec![
            Cmd::add_node(&format!("{S}/Inventory/Delivered/Req1")),
            Cmd::add(&format!("{S}/Inventory/Delivered/Req1/PkgID"), "pkg-req-1"),
            Cmd::push(
                &format!("{S}/Inventory/Delivered/Req1/Data"),
                package("com.example.req", "1.0", 1500),
                chunk,
            ),
            Cmd::exec(
                &format!("{S}/Inventory/Delivered/Req1/Operations/InstallInactive"),
                Some("c-req"),
            ),
        ]],
        args,
        &[("c-req", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.req","name":"com.example.req","version":"1.0","state":10"#,
    )?;

    // 5.4.1 alternative 2: the server queries the inventory first.
    world.flow(
        "5.4.1 alt 2: the server queries the inventory before choosing",
        vec![vec![
            Cmd::get(&format!("{S}/Inventory/Deployed")),
            Cmd::get(&format!("{S}/Inventory/Deployed/com.example.push/Version")),
            Cmd::get(&format!("{S}/Inventory/Deployed/com.example.push/State")),
        ]],
        world.args(),
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

    // 5.4.1 alternative 3: an external management system asks the server, which alerts
    // the device with a Package #0.
    if world.setup.server_auth {
        let steps = serde_json_steps(&[
            format!(r#"{{"Add": {{"uri": "{S}/Download/Ems1", "format": "node"}}}}"#),
            format!(r#"{{"Add": {{"uri": "{S}/Download/Ems1/PkgID", "data": "pkg-ems-1"}}}}"#),
            format!(
                r#"{{"Add": {{"uri": "{S}/Download/Ems1/PkgURL", "data": "{}"}}}}"#,
                world.server.package_url("ems")
            ),
            format!(
                r#"{{"Exec": {{"uri": "{S}/Download/Ems1/Operations/DownloadInstall", "correlator": "c-ems"}}}}"#
            ),
        ]);
        world
            .server
            .add_package(Package::new("ems", package("com.example.ems", "1.0", 2000)));
        let agent = ureq_post(
            &format!("{}/ems/{DEV}/steps", world.server.url()),
            steps.as_bytes(),
        )?;
        let pkg0 = ureq_post(
            &format!("{}/ems/{DEV}/pkg0?session=4660", world.server.url()),
            b"",
        )?;
        let file = world.state.with_extension("pkg0");
        std::fs::write(&file, &pkg0).map_err(|e| e.to_string())?;
        let mut args = world.args();
        args.notification = Some(file);
        world.say(format!(
            "    (external system: {}; Package #0 of {} bytes)",
            String::from_utf8_lossy(&agent),
            pkg0.len()
        ));
        world.flow(
            "5.4.1 alt 3: an external management system asks the server; Package #0",
            vec![],
            args,
            &[("c-ems", 1200)],
        )?;
        inventory_has(world, r#""id":"com.example.ems""#)?;
    }

    // 5.4.2 normal flow: alternate download from PkgURL, then install.
    world
        .server
        .add_package(Package::new("alt", package("com.example.alt", "1.0", 5000)));
    world.flow(
        "5.4.2 alternate download: Download from PkgURL (202 now, result later), then Install",
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
        world.args(),
        &[("c-dl", 1200)],
    )?;
    inventory_has(world, r#""node":"Alt1","pkg_id":"pkg-alt-1""#)?;
    world.flow(
        "5.4.3 Install of the delivered package",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Delivered/Alt1/Operations/Install"),
            Some("c-inst"),
        )]],
        world.args(),
        &[("c-inst", 1200)],
    )?;
    inventory_has(world, r#""id":"com.example.alt""#)?;

    // 5.4.2 alternative: the PkgURL is a download descriptor with an install-notify URI.
    world
        .server
        .add_package(Package::new("dd", package("com.example.dd", "1.0", 4000)));
    world.flow(
        "5.4.2 alt: PkgURL names a download descriptor; install-notify is posted",
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
        world.args(),
        &[("c-dd", 1200)],
    )?;
    if world.server.record().notifications("dd") != vec!["900 Success".to_owned()] {
        return Err("no install-notify 900 Success for the descriptor download".into());
    }
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":10"#,
    )?;

    // 5.4.3: Activate, Deactivate, Remove.
    world.flow(
        "5.4.3 Activate an inactive component",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Activate"),
            Some("c-act"),
        )]],
        world.args(),
        &[("c-act", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":20"#,
    )?;
    world.flow(
        "5.4.3 Deactivate it",
        vec![vec![Cmd::exec(
            &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Deactivate"),
            Some("c-deact"),
        )]],
        world.args(),
        &[("c-deact", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.dd","name":"com.example.dd","version":"1.0","state":10"#,
    )?;
    world.flow(
        "5.4.3 Remove the component, and the delivered package",
        vec![vec![
            Cmd::exec(
                &format!("{S}/Inventory/Deployed/com.example.dd/Operations/Remove"),
                Some("c-rm"),
            ),
            Cmd::exec(
                &format!("{S}/Inventory/Delivered/Alt1/Operations/Remove"),
                Some("c-rmpkg"),
            ),
        ]],
        world.args(),
        &[("c-rm", 1200), ("c-rmpkg", 1200)],
    )?;
    inventory_lacks(world, "com.example.dd")?;
    inventory_lacks(world, "pkg-alt-1")?;

    // 5.4.3 alternative 3: the combined operations and an update.
    world.server.add_package(Package::new(
        "combo",
        package("com.example.combo", "1.0", 3000),
    ));
    world.flow(
        "5.4.3 alt 3: DownloadAndInstallAndActivate = DownloadInstall (ends Active)",
        vec![vec![
            Cmd::add_node(&format!("{S}/Download/Combo")),
            Cmd::add(&format!("{S}/Download/Combo/PkgID"), "pkg-combo-1"),
            Cmd::add(
                &format!("{S}/Download/Combo/PkgURL"),
                &world.server.package_url("combo"),
            ),
            Cmd::exec(
                &format!("{S}/Download/Combo/Operations/DownloadInstall"),
                Some("c-combo"),
            ),
        ]],
        world.args(),
        &[("c-combo", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.combo","name":"com.example.combo","version":"1.0","state":20"#,
    )?;
    world.server.add_package(Package::new(
        "combo2",
        package("com.example.combo", "2.0", 3500),
    ));
    world.flow(
        "5.4.3 alt 3: UpdateAndActivate = Install of a newer version of a deployed component",
        vec![vec![
            Cmd::replace(
                &format!("{S}/Download/Combo/PkgURL"),
                &world.server.package_url("combo2"),
            ),
            Cmd::replace(&format!("{S}/Download/Combo/PkgID"), "pkg-combo-2"),
            Cmd::exec(
                &format!("{S}/Download/Combo/Operations/DownloadInstall"),
                Some("c-update"),
            ),
        ]],
        world.args(),
        &[("c-update", 1200)],
    )?;
    inventory_has(
        world,
        r#""id":"com.example.combo","name":"com.example.combo","version":"2.0","state":20"#,
    )?;
    inventory_lacks(
        world,
        r#""version":"1.0","state":20},{"node":"com.example.combo"#,
    )?;
    Ok(())
}

fn serde_json_steps(cmds: &[String]) -> String {
    format!("[[{}]]", cmds.join(","))
}

fn ureq_post(url: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut resp = ureq::post(url)
        .send(body)
        .map_err(|e| format!("{url}: {e}"))?;
    resp.body_mut().read_to_vec().map_err(|e| e.to_string())
}
