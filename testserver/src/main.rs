//! `scomo-testserver`: the scriptable OMA DM test server as a program, to test a device
//! against it by hand.
//!
//! ```text
//! scomo-testserver --scenario FILE --device DEV_ID [--package NAME=PATH]... [--server-password PW]
//! ```
//!
//! It prints its DM URL (and each package's URL) on stdout, queues the scenario's steps for
//! the device, serves until killed, and logs every Status, Results and Generic Alert it
//! receives on stderr. The scenario format is documented in the `scenario` module (and in
//! `testserver/scenarios/`).

use std::process::ExitCode;

use scomo_testserver::{DmConfig, Event, Package, Scenario, Server};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = None;
    let mut device = None;
    let mut packages = Vec::new();
    let mut config = DmConfig::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--scenario", Some(v)) => scenario = Some(v.clone()),
            ("--device", Some(v)) => device = Some(v.clone()),
            ("--package", Some(v)) => packages.push(v.clone()),
            ("--server-password", Some(v)) => config.server_password = Some(v.clone()),
            _ => {
                eprintln!(
                    "usage: scomo-testserver --scenario FILE --device DEV_ID [--package NAME=PATH]... [--server-password PW]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let (Some(scenario), Some(device)) = (scenario, device) else {
        eprintln!("scomo-testserver: --scenario and --device are required");
        return ExitCode::from(2);
    };
    let scenario: Scenario = match std::fs::read_to_string(&scenario)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scomo-testserver: bad scenario {scenario}: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::start_with(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scomo-testserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    for p in &packages {
        let Some((name, path)) = p.split_once('=') else {
            continue;
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                server.add_package(Package::new(name, bytes));
                println!("package {name}: {}", server.package_url(name));
            }
            Err(e) => eprintln!("scomo-testserver: {path}: {e}"),
        }
    }
    for step in scenario.steps {
        server.queue(&device, step);
    }
    println!("dm: {}", server.dm_url());
    let mut seen = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let record = server.record();
        for e in record.events.iter().skip(seen) {
            match e {
                Event::Status {
                    cmd, target, code, ..
                } => eprintln!("status {code} for {cmd} {target}"),
                Event::Results { target, data, .. } => eprintln!("results {target} = {data}"),
                Event::GenericAlert {
                    correlator,
                    source,
                    result,
                    identifier,
                    ..
                } => {
                    eprintln!("generic alert {correlator:?} {source}: {result:?} {identifier:?}");
                }
                _ => {}
            }
        }
        seen = record.events.len();
    }
}
