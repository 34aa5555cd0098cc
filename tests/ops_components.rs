//! Operations on deployed components: `Activate`, `Deactivate`, `Remove`, success and
//! every failure path, named for the result code.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use ops_common::{Rig, package};
use scomo::mo::{DeployedState, DeployedStatus};
use scomo::mock::Script;
use scomo::platform::{Consent, InstallerErrorKind};

type Dev = Rig<4, 1024>;

/// A device with component `com.a` installed inactive (by InstallInactive).
fn with_component() -> Dev {
    let mut dev = Dev::new(0xFF, Script::default());
    dev.push("p1", "pkg-1", &package(&[("com.a", "1.0", "A")], 600), 200);
    dev.exec(
        "./SCOMO/Inventory/Delivered/p1/Operations/InstallInactive",
        Some("setup"),
    );
    let mut dev = dev.run();
    assert_eq!(dev.result("setup"), 1200);
    dev.p.installer.script_mut().fail = None;
    dev
}

fn op(name: &str) -> String {
    format!("./SCOMO/Inventory/Deployed/com.a/Operations/{name}")
}

fn component(dev: &Dev) -> (DeployedStatus, DeployedState) {
    let c = dev.tree.scomo().deployed("com.a").unwrap();
    (c.status(), c.state())
}

/// Runs `exec` and records the Status values the component goes through.
fn walk(dev: &mut Dev, exec: &str, correlator: &str) -> Vec<DeployedStatus> {
    dev.exec(exec, Some(correlator));
    let mut seen = vec![component(dev).0];
    while dev.step().unwrap() {
        if let Some(c) = dev.tree.scomo().deployed("com.a")
            && seen.last() != Some(&c.status())
        {
            seen.push(c.status());
        }
    }
    seen
}

#[test]
fn activate_reports_1200_walks_10_50_10_and_makes_it_active() {
    let mut dev = with_component();
    let w = walk(&mut dev, &op("Activate"), "c1");
    use DeployedStatus::*;
    assert_eq!(w, [Idle, ActivateProgressing, Idle]);
    assert_eq!(component(&dev), (Idle, DeployedState::Active));
    assert!(dev.installed()[0].active);
    let r = &dev.reports("c1")[0];
    assert_eq!(r.source, op("Activate"));
    assert_eq!(
        r.items,
        vec![(
            "./SCOMO/Inventory/Deployed/com.a".into(),
            1200,
            "com.a".into()
        )]
    );
}

#[test]
fn activate_failure_reports_1409_and_status_40() {
    let mut dev = with_component();
    dev.p.installer.script_mut().fail = Some(InstallerErrorKind::Failed);
    walk(&mut dev, &op("Activate"), "c1");
    assert_eq!(dev.result("c1"), 1409);
    assert_eq!(
        component(&dev),
        (DeployedStatus::ActivateFailed, DeployedState::Inactive)
    );
}

#[test]
fn deactivate_reports_1200_walks_10_70_10_and_makes_it_inactive() {
    let mut dev = with_component();
    walk(&mut dev, &op("Activate"), "c0");
    let w = walk(&mut dev, &op("Deactivate"), "c1");
    use DeployedStatus::*;
    assert_eq!(w, [Idle, DeactivateProgressing, Idle]);
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(component(&dev), (Idle, DeployedState::Inactive));
    assert!(!dev.installed()[0].active);
}

#[test]
fn deactivate_failure_reports_1410_and_status_60() {
    let mut dev = with_component();
    walk(&mut dev, &op("Activate"), "c0");
    dev.p.installer.script_mut().fail = Some(InstallerErrorKind::Failed);
    walk(&mut dev, &op("Deactivate"), "c1");
    assert_eq!(dev.result("c1"), 1410);
    assert_eq!(
        component(&dev),
        (DeployedStatus::DeactivateFailed, DeployedState::Active)
    );
}

#[test]
fn a_failed_status_stays_until_the_next_operation() {
    let mut dev = with_component();
    dev.p.installer.script_mut().fail = Some(InstallerErrorKind::Failed);
    walk(&mut dev, &op("Activate"), "c1");
    let dev = dev.reboot();
    assert_eq!(component(&dev).0, DeployedStatus::ActivateFailed);
    let mut dev = dev;
    let w = walk(&mut dev, &op("Activate"), "c2");
    use DeployedStatus::*;
    assert_eq!(w, [ActivateFailed, ActivateProgressing, Idle]);
}

#[test]
fn remove_reports_1200_walks_10_30_and_deletes_the_node() {
    let mut dev = with_component();
    let w = walk(&mut dev, &op("Remove"), "c1");
    assert_eq!(w, [DeployedStatus::Idle, DeployedStatus::RemoveProgressing]);
    assert_eq!(dev.result("c1"), 1200);
    assert!(dev.tree.scomo().deployed("com.a").is_none());
    assert!(dev.installed().is_empty());
    assert_eq!(
        dev.reports("c1")[0].items,
        vec![(
            "./SCOMO/Inventory/Deployed/com.a".into(),
            1200,
            "com.a".into()
        )]
    );
}

#[test]
fn remove_failure_reports_1408_and_status_20() {
    let mut dev = with_component();
    dev.p.installer.script_mut().fail = Some(InstallerErrorKind::Failed);
    walk(&mut dev, &op("Remove"), "c1");
    assert_eq!(dev.result("c1"), 1408);
    assert_eq!(component(&dev).0, DeployedStatus::RemoveFailed);
    assert_eq!(dev.installed().len(), 1);
}

#[test]
fn an_operation_the_device_does_not_implement_reports_1411() {
    let mut dev = with_component();
    dev.p.installer.script_mut().fail = Some(InstallerErrorKind::NotImplemented);
    walk(&mut dev, &op("Deactivate"), "c1");
    assert_eq!(dev.result("c1"), 1411);
}

#[test]
fn operations_rejected_by_the_user_report_1401() {
    for (name, failed) in [
        ("Activate", DeployedStatus::ActivateFailed),
        ("Deactivate", DeployedStatus::DeactivateFailed),
        ("Remove", DeployedStatus::RemoveFailed),
    ] {
        let mut dev = with_component();
        dev.p.installer.script_mut().consent = Consent::Reject;
        walk(&mut dev, &op(name), "c1");
        assert_eq!(dev.result("c1"), 1401, "{name}");
        assert_eq!(component(&dev).0, failed);
        assert_eq!(dev.p.installer.calls().remove, 0);
    }
}

#[test]
fn activate_by_a_pending_installer_is_polled_until_1200() {
    let mut dev = with_component();
    dev.script.pending_polls = 2;
    let mut dev = dev.reboot();
    walk(&mut dev, &op("Activate"), "c1");
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.p.installer.calls().activate, 3);
}

#[test]
fn exec_on_a_component_without_id_is_412() {
    // A Deployed entry is created by the device only; one without ID can only come from a
    // device bug, but the Exec must still be refused cleanly.
    let mut dev = with_component();
    dev.tree
        .scomo_mut()
        .deployed_mut("com.a")
        .unwrap()
        .clear(scomo::mo::DeployedLeaf::Id);
    assert_eq!(
        dev.exec(&op("Activate"), Some("c1")),
        scomo::codes::StatusCode::IncompleteCommand
    );
}
