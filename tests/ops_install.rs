//! Packages pushed over DM (Large Object into `Inventory/Delivered/<X>/Data`) and the
//! operations on them: `Install`, `InstallInactive`, `Remove`, and the update; every failure
//! path named for its result code.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use ops_common::{Rig, package};
use scomo::codes::StatusCode;
use scomo::mo::{DeliveredState, DeliveredStatus, DeployedLeaf, DeployedState};
use scomo::mock::Script;
use scomo::platform::{ComponentStore, Consent, InstallerErrorKind, PackageKey, Verdict};

type Dev = Rig<4, 1024>;

const INSTALL: &str = "./SCOMO/Inventory/Delivered/p1/Operations/Install";

fn device(script: Script) -> Dev {
    Dev::new(0xFF, script)
}

fn pushed(script: Script) -> Dev {
    let mut dev = device(script);
    let bytes = package(&[("com.a", "1.0", "A"), ("com.b", "1.0", "B")], 2500);
    assert_eq!(dev.push("p1", "pkg-1", &bytes, 300), StatusCode::Ok);
    dev
}

fn delivered(dev: &Dev) -> (DeliveredStatus, DeliveredState) {
    let d = dev.tree.scomo().delivered("p1").unwrap();
    (d.status(), d.state())
}

#[test]
fn pushed_package_is_stored_and_its_size_recorded() {
    let dev = pushed(Script::default());
    let d = dev.tree.scomo().delivered("p1").unwrap();
    assert_eq!(
        d.data_size(),
        Some(package(&[("com.a", "1.0", "A"), ("com.b", "1.0", "B")], 2500).len() as u32)
    );
    assert_eq!(
        delivered(&dev),
        (DeliveredStatus::Idle, DeliveredState::Delivered)
    );
    // It survives a reboot, with its data.
    let dev = dev.reboot();
    assert!(
        dev.tree
            .scomo()
            .delivered("p1")
            .unwrap()
            .data_size()
            .is_some()
    );
}

#[test]
fn install_reports_1200_per_component_and_marks_the_package_installed() {
    let mut dev = pushed(Script::default());
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    let mut dev = dev.run();
    let r = &dev.reports("c1")[0];
    assert_eq!(r.source, INSTALL);
    assert_eq!(
        r.items,
        vec![
            (
                "./SCOMO/Inventory/Deployed/com.a".into(),
                1200,
                "com.a".into()
            ),
            (
                "./SCOMO/Inventory/Deployed/com.b".into(),
                1200,
                "com.b".into()
            )
        ]
    );
    assert_eq!(
        delivered(&dev),
        (DeliveredStatus::Idle, DeliveredState::Installed)
    );
    for id in ["com.a", "com.b"] {
        let c = dev.tree.scomo().deployed(id).unwrap();
        assert_eq!(c.state(), DeployedState::Active);
        assert_eq!(c.get(DeployedLeaf::PkgIdRef), Some("pkg-1"));
    }
    assert_eq!(dev.installed().len(), 2);
    // The package stays until the server removes it.
    assert!(
        dev.tree
            .scomo()
            .delivered("p1")
            .unwrap()
            .data_size()
            .is_some()
    );
}

#[test]
fn install_status_walks_10_40_10() {
    let mut dev = pushed(Script::default());
    dev.exec(INSTALL, None);
    let mut walk = vec![delivered(&dev).0];
    while dev.step().unwrap() {
        let s = delivered(&dev).0;
        if walk.last() != Some(&s) {
            walk.push(s);
        }
    }
    assert_eq!(
        walk,
        [
            DeliveredStatus::Idle,
            DeliveredStatus::InstallProgressing,
            DeliveredStatus::Idle
        ]
    );
}

#[test]
fn install_inactive_reports_1200_and_leaves_components_inactive() {
    let mut dev = pushed(Script::default());
    dev.exec(
        "./SCOMO/Inventory/Delivered/p1/Operations/InstallInactive",
        Some("c1"),
    );
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(
        dev.tree.scomo().deployed("com.a").unwrap().state(),
        DeployedState::Inactive
    );
    assert!(dev.installed().iter().all(|c| !c.active));
}

#[test]
fn exec_install_without_data_is_412() {
    let mut dev = device(Script::default());
    dev.tree
        .add(
            ops_common::SRV,
            "./SCOMO/Inventory/Delivered/p1",
            scomo::tree::Item::node(),
            None,
        )
        .unwrap();
    dev.add("./SCOMO/Inventory/Delivered/p1/PkgID", "pkg-1")
        .unwrap();
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::IncompleteCommand);
    assert_eq!(dev.ex.jobs().count(), 0);
}

#[test]
fn install_failure_reports_1405_1406_1413_with_status_50() {
    for (kind, code) in [
        (InstallerErrorKind::Failed, 1405),
        (InstallerErrorKind::OutOfMemory, 1406),
        (InstallerErrorKind::NotImplemented, 1411),
    ] {
        let mut dev = pushed(Script {
            fail: Some(kind),
            ..Script::default()
        });
        dev.exec(INSTALL, Some("c1"));
        let mut dev = dev.run();
        assert_eq!(dev.result("c1"), code, "{kind:?}");
        let r = &dev.reports("c1")[0];
        assert_eq!(
            r.items,
            vec![(
                "./SCOMO/Inventory/Delivered/p1".into(),
                code,
                "pkg-1".into()
            )]
        );
        assert_eq!(
            delivered(&dev),
            (
                DeliveredStatus::InstallFailedWithData,
                DeliveredState::Delivered
            )
        );
        assert!(dev.installed().is_empty());
        assert_eq!(dev.tree.scomo().deployed_components().count(), 0);
    }
}

#[test]
fn install_of_an_unsupported_env_type_reports_1413() {
    let mut dev = pushed(Script {
        env_type: Some("linux"),
        ..Script::default()
    });
    dev.add("./SCOMO/Inventory/Delivered/p1/EnvType", "java")
        .unwrap();
    dev.exec(INSTALL, Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1413);
}

#[test]
fn install_of_a_package_failing_verification_reports_1407() {
    let mut dev = pushed(Script {
        verdict: Verdict::Invalid,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1407);
    assert_eq!(dev.p.installer.calls().install, 0);
    assert_eq!(delivered(&dev).0, DeliveredStatus::InstallFailedWithData);
}

#[test]
fn install_of_a_package_changed_after_it_was_stored_reports_1407() {
    // A flash image is built on the stack: give it room.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(changed_package)
        .unwrap()
        .join()
        .unwrap();
}

fn changed_package() {
    let mut dev = pushed(Script::default());
    dev.exec(INSTALL, Some("c1"));
    // Someone changes a stored byte (the verify-then-swap attack, or a flash fault): the
    // flash image is altered and the device reboots.
    let mut image = dev.chip.borrow().image().to_vec();
    let at = ops_common::PACKAGES.0 as usize + 1024 + 2000;
    image[at] ^= 0x01;
    let flash = ops_common::Flash::<4, 1024>::from_image(&image, 0xFF).unwrap();
    let (hold, carry) = dev.into_parts();
    let mut dev = Dev::boot(hold.swap_in(flash), 0xFF, Script::default(), carry)
        .map_err(|f| f.0)
        .unwrap()
        .run();
    assert_eq!(dev.result("c1"), 1407);
    assert!(dev.installed().is_empty());
}

#[test]
fn install_rejected_by_the_user_reports_1401() {
    let mut dev = pushed(Script {
        consent: Consent::Reject,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1401);
    assert!(dev.installed().is_empty());
    assert_eq!(delivered(&dev).0, DeliveredStatus::InstallFailedWithData);
}

#[test]
fn install_postponed_by_the_user_waits_and_then_reports_1200() {
    let mut dev = pushed(Script {
        consent: Consent::Postpone,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    for _ in 0..5 {
        dev.step().unwrap();
    }
    assert!(dev.seen.is_empty());
    assert!(dev.now >= scomo::ops::CONSENT_RETRY_MS);
    assert_eq!(delivered(&dev).0, DeliveredStatus::Idle);
    dev.p.installer.script_mut().consent = Consent::Accept;
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
}

#[test]
fn install_by_a_pending_installer_is_polled_until_1200() {
    let mut dev = pushed(Script {
        pending_polls: 3,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.p.installer.calls().install, 4);
    // Verified once, not at every poll.
    assert_eq!(dev.p.installer.calls().verify, 1);
}

#[test]
fn install_needing_a_reboot_asks_for_a_restart_and_is_confirmed_after_it_1200() {
    let mut dev = pushed(Script {
        reboot_required: true,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.restarts, 1);
    assert_eq!(dev.result("c1"), 1200);
    let restart = dev.log.iter().position(|l| l == "restart").unwrap();
    let session = dev.log.iter().position(|l| l == "session").unwrap();
    assert!(restart < session, "{:?}", dev.log);
    assert_eq!(dev.installed().len(), 2);
    assert!(dev.installed().iter().all(|c| !c.awaiting_reboot));
    assert_eq!(
        delivered(&dev),
        (DeliveredStatus::Idle, DeliveredState::Installed)
    );
}

#[test]
fn install_that_never_takes_effect_after_restarts_reports_1405() {
    let mut dev = pushed(Script {
        reboot_required: true,
        ..Script::default()
    });
    dev.exec(INSTALL, Some("c1"));
    // The device "restarts" without really rebooting the installer: it keeps asking.
    for _ in 0..100 {
        if !dev.step().unwrap() {
            break;
        }
        if dev.restarts > 0 && dev.log.last().map(String::as_str) == Some("restart") {
            // Simulate a restart that did not help: recover with an installer that still
            // has the staged package of this boot.
            let mut tree = ops_common::tree();
            let ex =
                scomo::ops::Executor::recover(scomo::ops::Config::default(), &mut tree, &mut dev.p)
                    .unwrap();
            dev.tree = tree;
            dev.ex = ex;
        }
    }
    assert_eq!(dev.result("c1"), 1405);
    assert_eq!(dev.restarts, u32::from(scomo::ops::MAX_RESTARTS));
}

#[test]
fn update_replaces_the_deployed_component_1200() {
    let mut dev = device(Script::default());
    dev.push("p1", "pkg-1", &package(&[("com.a", "1.0", "A")], 900), 256);
    dev.exec(INSTALL, Some("c1"));
    let mut dev = dev.run();
    dev.push("p2", "pkg-2", &package(&[("com.a", "2.0", "A")], 900), 256);
    dev.exec(
        "./SCOMO/Inventory/Delivered/p2/Operations/Install",
        Some("c2"),
    );
    let mut dev = dev.run();
    assert_eq!(dev.result("c2"), 1200);
    // One entry for com.a, now version 2.0 from pkg-2; the installer has only the new one.
    let all: Vec<_> = dev.tree.scomo().deployed_components().collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].get(DeployedLeaf::Version), Some("2.0"));
    assert_eq!(all[0].get(DeployedLeaf::PkgIdRef), Some("pkg-2"));
    let installed = dev.installed();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].version.as_str(), "2.0");
    assert_eq!(
        dev.reports("c2")[0].items,
        vec![(
            "./SCOMO/Inventory/Deployed/com.a".into(),
            1200,
            "com.a".into()
        )]
    );
}

#[test]
fn remove_delivered_reports_1200_and_deletes_node_and_bytes() {
    let mut dev = pushed(Script::default());
    dev.exec(
        "./SCOMO/Inventory/Delivered/p1/Operations/Remove",
        Some("c1"),
    );
    let mut dev = dev.run();
    assert_eq!(
        dev.reports("c1")[0].items,
        vec![(
            "./SCOMO/Inventory/Delivered/p1".into(),
            1200,
            "pkg-1".into()
        )]
    );
    assert!(dev.tree.scomo().delivered("p1").is_none());
    for k in 0..ops_common::SLOTS {
        assert_eq!(dev.p.components.inspect(PackageKey(k)).unwrap(), None);
    }
}

#[test]
fn remove_delivered_of_a_node_deleted_meanwhile_reports_1408() {
    let mut dev = pushed(Script::default());
    dev.exec(
        "./SCOMO/Inventory/Delivered/p1/Operations/Remove",
        Some("c1"),
    );
    dev.tree
        .delete(ops_common::SRV, "./SCOMO/Inventory/Delivered/p1", None)
        .unwrap();
    dev.save();
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1408);
}

#[test]
fn a_second_push_replaces_the_package_and_the_old_bytes_are_freed() {
    let mut dev = pushed(Script::default());
    let newer = package(&[("com.a", "3.0", "A")], 700);
    assert_eq!(dev.push("p1", "pkg-1", &newer, 128), StatusCode::Ok);
    assert_eq!(
        dev.tree.scomo().delivered("p1").unwrap().data_size(),
        Some(newer.len() as u32)
    );
    let used = (0..ops_common::SLOTS)
        .filter(|&k| dev.p.components.inspect(PackageKey(k)).unwrap().is_some())
        .count();
    assert_eq!(used, 1);
    dev.exec(INSTALL, Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.installed()[0].version.as_str(), "3.0");
}

#[test]
fn push_larger_than_a_store_slot_is_413_and_with_no_free_slot_420() {
    let mut dev = device(Script::default());
    assert_eq!(
        dev.push("p1", "pkg-1", &vec![1u8; 40 * 1024], 1024),
        StatusCode::RequestEntityTooLarge
    );
    let small = package(&[("com.a", "1.0", "A")], 10);
    // Three slots: two packages held, the third held by a download waiting to retry.
    assert_eq!(dev.push("p1", "pkg-1", &small, 64), StatusCode::Ok);
    assert_eq!(dev.push("p2", "pkg-2", &small, 64), StatusCode::Ok);
    let url = "http://dl.example/x";
    let mut obj = ops_common::Object::new("application/octet-stream", small.clone());
    obj.faults.push_back(ops_common::Fault::Unreachable);
    dev.web.objects.insert(url.into(), obj);
    dev.order_download("d1", "pkg-3", url, "Download", Some("c1"));
    while dev.web.requests.is_empty() {
        dev.step().unwrap();
    }
    assert_eq!(dev.push("p1", "pkg-1", &small, 64), StatusCode::DeviceFull);
    // The old package of p1 is untouched. The download finishes, but the inventory has no
    // room for a third Delivered entry: 1404 (cannot store the package).
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1404);
    dev.exec(INSTALL, Some("c2"));
    let dev = dev.run();
    assert_eq!(dev.result("c2"), 1200);
}
