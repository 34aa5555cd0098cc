//! Alternate download (digest 9): `Download`, `DownloadInstall`, `DownloadInstallInactive`
//! from their Exec to their result, and every failure path, named for the result code.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use ops_common::{Fault, Object, Rig, dd, package};
use scomo::codes::StatusCode;
use scomo::mo::{DeliveredState, DeployedState, DownloadStatus};
use scomo::mock::Script;
use scomo::ops::{MAX_ATTEMPTS, RETRY_BASE_MS};
use scomo::platform::InstallerErrorKind;

type Dev = Rig<4, 1024>;

const PKG: &str = "http://dl.example/app.pkg";
const DESC: &str = "http://dl.example/app.dd";
const NOTIFY: &str = "http://dl.example/notify";

fn device() -> Dev {
    Dev::new(0xFF, Script::default())
}

fn serve_pkg(dev: &mut Dev, bytes: Vec<u8>) {
    dev.web
        .objects
        .insert(PKG.into(), Object::new("application/octet-stream", bytes));
}

fn status(dev: &Dev, name: &str) -> DownloadStatus {
    dev.tree.scomo().download(name).unwrap().status()
}

#[test]
fn download_plain_object_reports_1200_and_delivers_the_package() {
    let mut dev = device();
    let bytes = package(&[("com.a", "1.0", "A")], 3000);
    serve_pkg(&mut dev, bytes.clone());
    assert_eq!(
        dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1")),
        StatusCode::Accepted
    );
    // Accepted but not started: the Status is untouched until the job runs.
    assert_eq!(status(&dev, "p1"), DownloadStatus::Idle);
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    let r = &dev.reports("c1")[0];
    assert_eq!(r.source, "./SCOMO/Download/p1/Operations/Download");
    assert_eq!(
        r.items,
        vec![(
            "./SCOMO/Inventory/Delivered/p1".to_string(),
            1200,
            "pkg-1".to_string()
        )]
    );
    // Download/<X> stays, Complete; Delivered/<X> holds the package.
    assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadComplete);
    let d = dev.tree.scomo().delivered("p1").unwrap();
    assert_eq!(d.state(), DeliveredState::Delivered);
    assert_eq!(d.pkg_id(), Some("pkg-1"));
    assert_eq!(d.data_size(), Some(bytes.len() as u32));
    assert!(dev.installed().is_empty());
    // Acknowledged: nothing waits, and a new session sends nothing again.
    assert_eq!(dev.ex.pending_reports(), 0);
    dev.session();
    assert_eq!(dev.reports("c1").len(), 1);
}

#[test]
fn download_status_walks_10_30_40() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "Download", None);
    let mut walk = vec![status(&dev, "p1")];
    while dev.step().unwrap() {
        let s = status(&dev, "p1");
        if walk.last() != Some(&s) {
            walk.push(s);
        }
    }
    assert_eq!(
        walk,
        [
            DownloadStatus::Idle,
            DownloadStatus::DownloadProgressing,
            DownloadStatus::DownloadComplete
        ]
    );
}

#[test]
fn download_install_reports_each_component_1200_and_ends_active() {
    let mut dev = device();
    serve_pkg(
        &mut dev,
        package(&[("com.a", "1.0", "A"), ("com.b", "2.0", "B")], 2000),
    );
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    let mut dev = dev.run();
    let r = &dev.reports("c1")[0];
    assert_eq!(r.source, "./SCOMO/Download/p1/Operations/DownloadInstall");
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
    // After a DownloadInstall the Download Status is back to Idle and no Delivered entry
    // is left; the components are Active with their versions and PkgIDRef.
    assert_eq!(status(&dev, "p1"), DownloadStatus::Idle);
    assert_eq!(dev.tree.scomo().delivered_packages().count(), 0);
    let a = dev.tree.scomo().deployed("com.a").unwrap();
    assert_eq!(a.state(), DeployedState::Active);
    assert_eq!(a.get(scomo::mo::DeployedLeaf::Version), Some("1.0"));
    assert_eq!(a.get(scomo::mo::DeployedLeaf::PkgIdRef), Some("pkg-1"));
    let installed = dev.installed();
    assert_eq!(installed.len(), 2);
    assert!(installed.iter().all(|c| c.active));
    // The package bytes are gone from the store.
    use scomo::platform::ComponentStore;
    for k in 0..ops_common::SLOTS {
        assert_eq!(
            dev.p
                .components
                .inspect(scomo::platform::PackageKey(k))
                .unwrap(),
            None
        );
    }
}

#[test]
fn download_install_status_walks_10_30_40_50_10() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", None);
    let mut walk = vec![status(&dev, "p1")];
    while dev.step().unwrap() {
        let s = status(&dev, "p1");
        if walk.last() != Some(&s) {
            walk.push(s);
        }
    }
    use DownloadStatus::*;
    assert_eq!(
        walk,
        [
            Idle,
            DownloadProgressing,
            DownloadComplete,
            InstallProgressing,
            Idle
        ]
    );
}

#[test]
fn download_install_inactive_reports_1200_and_ends_inactive() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstallInactive", Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(
        dev.tree.scomo().deployed("com.a").unwrap().state(),
        DeployedState::Inactive
    );
    assert!(!dev.installed()[0].active);
}

#[test]
fn download_descriptor_posts_900_then_reports_1200() {
    let mut dev = device();
    let bytes = package(&[("com.a", "1.0", "A")], 1500);
    dev.web.objects.insert(
        DESC.into(),
        Object::new(
            "application/vnd.oma.dd+xml; charset=utf-8",
            dd(PKG, bytes.len(), Some(NOTIFY)),
        ),
    );
    serve_pkg(&mut dev, bytes);
    dev.order_download("p1", "pkg-1", DESC, "DownloadInstall", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.web.requests[0].0, DESC);
    assert_eq!(dev.web.requests[1].0, PKG);
    assert_eq!(
        dev.web.notifies,
        vec![(NOTIFY.into(), "900 Success".into())]
    );
    // The report is posted before the install.
    let notify = dev
        .log
        .iter()
        .position(|l| l.starts_with("notify"))
        .unwrap();
    let session = dev.log.iter().position(|l| l == "session").unwrap();
    assert!(notify < session);
}

#[test]
fn download_descriptor_size_mismatch_posts_905_and_reports_1402() {
    let mut dev = device();
    let bytes = package(&[("com.a", "1.0", "A")], 1500);
    dev.web.objects.insert(
        DESC.into(),
        Object::new(
            "application/vnd.oma.dd+xml",
            dd(PKG, bytes.len() - 10, Some(NOTIFY)),
        ),
    );
    serve_pkg(&mut dev, bytes);
    dev.order_download("p1", "pkg-1", DESC, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1402);
    assert_eq!(
        dev.web.notifies,
        vec![(NOTIFY.into(), "905 Attribute mismatch".into())]
    );
    assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
    assert!(dev.tree.scomo().delivered("p1").is_none());
}

#[test]
fn download_invalid_descriptor_reports_1402() {
    let mut dev = device();
    dev.web.objects.insert(
        DESC.into(),
        Object::new(
            "application/vnd.oma.dd+xml",
            b"<media><size>x</size></media>".to_vec(),
        ),
    );
    dev.order_download("p1", "pkg-1", DESC, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1402);
    assert!(dev.web.notifies.is_empty());
    assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
}

#[test]
fn download_not_found_reports_1402() {
    let mut dev = device();
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1402);
    assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
    let r = &dev.reports("c1")[0];
    assert_eq!(
        r.items[0],
        ("./SCOMO/Download/p1".to_string(), 1402, "pkg-1".to_string())
    );
    // A client error is not retried.
    assert_eq!(dev.web.requests.len(), 1);
}

#[test]
fn download_unauthorized_reports_1403() {
    for code in [401, 403] {
        let mut dev = device();
        serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
        dev.web
            .objects
            .get_mut(PKG)
            .unwrap()
            .faults
            .push_back(Fault::Status(code));
        dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
        let dev = dev.run();
        assert_eq!(dev.result("c1"), 1403, "HTTP {code}");
        assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
    }
}

#[test]
fn download_server_error_retries_with_backoff_then_reports_1500() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.web
        .objects
        .get_mut(PKG)
        .unwrap()
        .faults
        .extend(std::iter::repeat_n(Fault::Status(503), 10));
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1500);
    assert_eq!(dev.web.requests.len(), usize::from(MAX_ATTEMPTS));
    // Backoff: the waits double from RETRY_BASE_MS.
    let waited: u64 = (0..u32::from(MAX_ATTEMPTS) - 1)
        .map(|i| RETRY_BASE_MS << i)
        .sum();
    assert!(dev.now >= waited, "{} < {waited}", dev.now);
}

#[test]
fn download_server_error_then_success_reports_1200() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.web
        .objects
        .get_mut(PKG)
        .unwrap()
        .faults
        .extend([Fault::Status(500), Fault::Unreachable]);
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.web.requests.len(), 3);
}

#[test]
fn download_unreachable_reports_1501() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.web
        .objects
        .get_mut(PKG)
        .unwrap()
        .faults
        .extend(std::iter::repeat_n(Fault::Unreachable, 10));
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1501);
    assert_eq!(dev.web.requests.len(), usize::from(MAX_ATTEMPTS));
}

#[test]
fn download_interrupted_resumes_with_range_and_reports_1200() {
    let mut dev = device();
    let bytes = package(&[("com.a", "1.0", "A")], 5000);
    serve_pkg(&mut dev, bytes.clone());
    dev.web
        .objects
        .get_mut(PKG)
        .unwrap()
        .faults
        .push_back(Fault::InterruptAfter(2600));
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    // The second request asks for the rest, with the validator.
    assert_eq!(dev.web.requests.len(), 2, "{:?}", dev.log);
    assert_eq!(
        dev.web.requests[1],
        (PKG.to_string(), 2600, Some("\"v1\"".to_string()))
    );
    assert_eq!(
        dev.tree.scomo().delivered("p1").unwrap().data_size(),
        Some(bytes.len() as u32)
    );
}

#[test]
fn download_range_ignored_starts_over_and_reports_1200() {
    let mut dev = device();
    let bytes = package(&[("com.a", "1.0", "A")], 5000);
    serve_pkg(&mut dev, bytes.clone());
    let obj = dev.web.objects.get_mut(PKG).unwrap();
    obj.ignore_range = true;
    obj.faults.push_back(Fault::InterruptAfter(2600));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.web.requests[1].1, 2600);
    assert_eq!(dev.installed().len(), 1);
}

#[test]
fn download_validator_changed_starts_over_and_reports_1200() {
    let mut dev = device();
    let old = package(&[("com.a", "1.0", "A")], 5000);
    let new = package(&[("com.a", "1.1", "A")], 5000);
    serve_pkg(&mut dev, old);
    dev.web
        .objects
        .get_mut(PKG)
        .unwrap()
        .faults
        .push_back(Fault::InterruptAfter(3000));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    // Run until the first fetch broke, then the object changes on the server.
    while dev.web.requests.is_empty() {
        dev.step().unwrap();
    }
    let obj = dev.web.objects.get_mut(PKG).unwrap();
    obj.body = new;
    obj.etag = Some("\"v2\"".into());
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    // The server sent the whole new object (If-Range did not match): the component is the
    // new one, not a mix.
    assert_eq!(dev.installed()[0].version.as_str(), "1.1");
    assert_eq!(
        dev.tree
            .scomo()
            .deployed("com.a")
            .unwrap()
            .get(scomo::mo::DeployedLeaf::Version),
        Some("1.1")
    );
}

#[test]
fn download_endless_data_stops_at_the_store_capacity_1404() {
    let mut dev = device();
    let mut obj = Object::new("application/octet-stream", Vec::new());
    obj.endless = Some(64 * 1024);
    dev.web.objects.insert(PKG.into(), obj);
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1404);
    assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
}

#[test]
fn download_longer_than_its_length_stops_at_the_first_extra_byte_1402() {
    let mut dev = device();
    let mut bytes = package(&[("com.a", "1.0", "A")], 500);
    bytes.extend([0u8; 100]);
    let desc = dd(PKG, bytes.len() - 100, Some(NOTIFY));
    dev.web
        .objects
        .insert(DESC.into(), Object::new("application/vnd.oma.dd+xml", desc));
    serve_pkg(&mut dev, bytes);
    dev.order_download("p1", "pkg-1", DESC, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1402);
    assert_eq!(dev.web.notifies[0].1, "905 Attribute mismatch");
}

#[test]
fn download_larger_than_the_store_reports_1404() {
    let mut dev = device();
    serve_pkg(&mut dev, vec![7u8; 20 * 1024]);
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1404);
}

#[test]
fn download_sha256_from_ext_leaf_matches_1200_or_fails_1407() {
    use sha2::{Digest, Sha256};
    for good in [true, false] {
        let mut dev = device();
        let bytes = package(&[("com.a", "1.0", "A")], 800);
        let mut digest: [u8; 32] = Sha256::digest(&bytes).into();
        if !good {
            digest[0] ^= 1;
        }
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        serve_pkg(&mut dev, bytes);
        dev.tree
            .add(
                ops_common::SRV,
                "./SCOMO/Download/p1",
                scomo::tree::Item::node(),
                None,
            )
            .unwrap();
        dev.add("./SCOMO/Download/p1/Ext/SHA256", &hex).unwrap();
        dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
        let mut dev = dev.run();
        if good {
            assert_eq!(dev.result("c1"), 1200);
            assert_eq!(dev.installed().len(), 1);
        } else {
            assert_eq!(dev.result("c1"), 1407);
            assert!(dev.installed().is_empty());
            assert_eq!(status(&dev, "p1"), DownloadStatus::DownloadFailed);
        }
    }
}

#[test]
fn download_install_failure_reports_1405_and_status_70() {
    let mut dev = Dev::new(
        0xFF,
        Script {
            fail: Some(InstallerErrorKind::Failed),
            ..Script::default()
        },
    );
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1405);
    assert_eq!(status(&dev, "p1"), DownloadStatus::InstallFailedWithoutData);
    let r = &dev.reports("c1")[0];
    assert_eq!(r.items[0].0, "./SCOMO/Download/p1");
    assert_eq!(r.items[0].2, "pkg-1");
}

#[test]
fn download_install_rejected_by_the_user_reports_1401() {
    let mut dev = Dev::new(
        0xFF,
        Script {
            consent: scomo::platform::Consent::Reject,
            ..Script::default()
        },
    );
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1401);
    assert!(dev.installed().is_empty());
}

#[test]
fn exec_download_without_pkgurl_is_412_and_queues_nothing() {
    let mut dev = device();
    dev.tree
        .add(
            ops_common::SRV,
            "./SCOMO/Download/p1",
            scomo::tree::Item::node(),
            None,
        )
        .unwrap();
    dev.add("./SCOMO/Download/p1/PkgID", "pkg-1").unwrap();
    assert_eq!(
        dev.exec("./SCOMO/Download/p1/Operations/Download", Some("c1")),
        StatusCode::IncompleteCommand
    );
    dev.add("./SCOMO/Download/p1/PkgURL", PKG).unwrap();
    dev.tree
        .add(
            ops_common::SRV,
            "./SCOMO/Download/p2",
            scomo::tree::Item::node(),
            None,
        )
        .unwrap();
    dev.add("./SCOMO/Download/p2/PkgURL", PKG).unwrap();
    assert_eq!(
        dev.exec("./SCOMO/Download/p2/Operations/Download", None),
        StatusCode::IncompleteCommand
    );
    assert_eq!(dev.ex.jobs().count(), 0);
    let dev = dev.run();
    assert!(dev.seen.is_empty());
}

#[test]
fn exec_with_an_overlong_correlator_is_413_and_a_full_queue_is_420() {
    let mut dev = device();
    let long = "c".repeat(scomo::ops::CORRELATOR_CAP + 1);
    assert_eq!(
        dev.order_download("p1", "pkg-1", PKG, "Download", Some(&long)),
        StatusCode::RequestEntityTooLarge
    );
    for i in 0..4 {
        assert_eq!(
            dev.exec(
                "./SCOMO/Download/p1/Operations/Download",
                Some(&format!("c{i}"))
            ),
            StatusCode::Accepted
        );
    }
    assert_eq!(
        dev.exec("./SCOMO/Download/p1/Operations/Download", Some("c9")),
        StatusCode::DeviceFull
    );
}

#[test]
fn download_target_deleted_before_the_job_runs_reports_1402() {
    let mut dev = device();
    serve_pkg(&mut dev, package(&[("com.a", "1.0", "A")], 100));
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    dev.tree
        .delete(ops_common::SRV, "./SCOMO/Download/p1", None)
        .unwrap();
    dev.save();
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1402);
    assert!(dev.web.requests.is_empty());
}
