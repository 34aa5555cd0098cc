//! `--installer CMD`: the command gets the operation and the component in its environment,
//! its exit status decides, and the components it prints are the ones reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use scomo_testserver::{Cmd, Package, Server};

const DEV: &str = "IMEI:42";

#[test]
fn the_installer_command_runs_with_the_documented_environment_and_its_exit_status_decides() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hook.log");
    let hook = format!(
        "echo \"$SCOMO_OP $SCOMO_COMPONENT_ID $SCOMO_PKG_ID $(test -f \"$SCOMO_PACKAGE\" && echo has-package)\" >> {log}; \
         if [ \"$SCOMO_OP\" = install ]; then echo 'id=com.example.hooked version=3.1 name=Hooked'; fi; \
         if [ \"$SCOMO_OP\" = deactivate ]; then exit 1; fi",
        log = log.display()
    );
    server.add_package(Package::new("p", b"no manifest, just bytes".to_vec()));
    server.queue(
        DEV,
        vec![
            Cmd::add_node("./SCOMO/Download/P"),
            Cmd::add("./SCOMO/Download/P/PkgID", "pkg-p"),
            Cmd::add("./SCOMO/Download/P/PkgURL", &server.package_url("p")),
            Cmd::exec(
                "./SCOMO/Download/P/Operations/DownloadInstall",
                Some("c-install"),
            ),
        ],
    );
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
            .args(["session", "--server", &server.dm_url(), "--state"])
            .arg(dir.path().join("state"))
            .args([
                "--dev-id",
                DEV,
                "--retry-delay-ms",
                "10",
                "--installer",
                &hook,
            ])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.queue(
        DEV,
        vec![Cmd::exec(
            "./SCOMO/Inventory/Deployed/com.example.hooked/Operations/Deactivate",
            Some("c-deact"),
        )],
    );
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = server.record().generic_alerts();
    assert!(
        alerts.contains(&(
            Some("c-install".into()),
            "./SCOMO/Download/P/Operations/DownloadInstall".into(),
            "./SCOMO/Inventory/Deployed/com.example.hooked".into(),
            Some(1200),
            Some("com.example.hooked".into())
        )),
        "{alerts:?}"
    );
    assert!(
        alerts
            .iter()
            .any(|a| a.0.as_deref() == Some("c-deact") && a.3 == Some(1410)),
        "a failing hook is 1410 Deactivate failed: {alerts:?}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("install pkg-p pkg-p has-package"), "{log}");
    assert!(log.contains("deactivate com.example.hooked"), "{log}");
}
