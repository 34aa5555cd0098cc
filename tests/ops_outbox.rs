//! Results reach the server at least once and never after its acknowledgement; jobs
//! survive reboots in every phase.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use ops_common::{Object, Rig, package};
use scomo::codes::StatusCode;
use scomo::mock::Script;
use scomo::ops::{Action, REPORT_RETRY_MS};

type Dev = Rig<4, 1024>;

const PKG: &str = "http://dl.example/app.pkg";
const INSTALL: &str = "./SCOMO/Inventory/Delivered/p1/Operations/Install";

fn pushed() -> Dev {
    let mut dev = Dev::new(0xFF, Script::default());
    dev.push("p1", "pkg-1", &package(&[("com.a", "1.0", "A")], 600), 200);
    dev
}

/// Polls until the executor asks for a session (or gives up).
fn until_session(dev: &mut Dev) -> bool {
    for _ in 0..200 {
        match dev.ex.poll(dev.now, &mut dev.tree, &mut dev.p).unwrap() {
            Action::Session { .. } => return true,
            Action::WaitUntil(t) => dev.now = dev.now.max(t),
            Action::Idle => return false,
            _ => {
                dev.step().unwrap();
            }
        }
    }
    false
}

#[test]
fn a_report_is_resent_with_growing_backoff_until_acknowledged_then_never_again() {
    let mut dev = pushed();
    dev.ack = false;
    dev.exec(INSTALL, Some("c1"));
    let mut times = Vec::new();
    for _ in 0..4 {
        assert!(until_session(&mut dev));
        times.push(dev.now);
        dev.session();
    }
    assert_eq!(dev.reports("c1").len(), 4);
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps[0], REPORT_RETRY_MS);
    assert!(gaps.windows(2).all(|g| g[1] == 2 * g[0]), "{gaps:?}");
    // The same report each time (same id, same correlator).
    let ids: Vec<u32> = dev.reports("c1").iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    dev.ack = true;
    assert!(until_session(&mut dev));
    dev.session();
    assert_eq!(dev.ex.pending_reports(), 0);
    assert!(!until_session(&mut dev));
    let dev = dev.reboot();
    let mut dev = dev.run();
    dev.session();
    assert_eq!(dev.reports("c1").len(), 5);
}

#[test]
fn an_unacknowledged_report_survives_a_reboot_and_is_sent_again() {
    let mut dev = pushed();
    dev.ack = false;
    dev.exec(INSTALL, Some("c1"));
    let mut dev = dev.run_until_reported();
    assert_eq!(dev.reports("c1").len(), 1);
    dev.ack = true;
    let dev = dev.reboot().run();
    assert_eq!(dev.reports("c1").len(), 2);
    assert_eq!(dev.reports("c1")[1].items[0].1, 1200);
}

#[test]
fn an_acknowledged_report_is_never_sent_after_a_reboot() {
    let mut dev = pushed();
    dev.exec(INSTALL, Some("c1"));
    // Acknowledged in a session whose save never happens (the device loses power right
    // after the server's Status): the acknowledgement record alone keeps it acknowledged.
    assert!(until_session(&mut dev));
    {
        let mut h = dev.ex.handler(&mut dev.p);
        use scomo::dm::alert::SessionHandler;
        let id = h.pending_alert(0).unwrap().id;
        h.alert_status(id, StatusCode::Ok);
    }
    let mut dev = dev.reboot();
    assert_eq!(dev.ex.pending_reports(), 0);
    dev.session();
    let dev = dev.run();
    assert!(dev.seen.is_empty());
}

#[test]
fn a_report_echoes_the_correlator_or_omits_it() {
    let mut dev = pushed();
    dev.exec(INSTALL, None);
    let dev = dev.run();
    assert_eq!(dev.seen.len(), 1);
    assert_eq!(dev.seen[0].correlator, None);
    assert_eq!(dev.seen[0].items[0].1, 1200);
}

#[test]
fn a_queued_job_survives_a_reboot_and_reports_1200() {
    let mut dev = pushed();
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    let mut dev = dev.reboot().run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.installed().len(), 1);
}

#[test]
fn an_exec_whose_202_was_never_saved_is_not_run() {
    let mut dev = pushed();
    {
        let mut h = dev.ex.handler(&mut dev.p);
        assert_eq!(
            dev.tree
                .exec(ops_common::SRV, INSTALL, Some("c1"), None, &mut h),
            StatusCode::Accepted
        );
    }
    // Power fails before the reply (and before `save`): the server never saw the 202.
    let mut dev = dev.reboot().run();
    assert!(dev.seen.is_empty());
    assert!(dev.installed().is_empty());
}

#[test]
fn a_running_install_interrupted_by_a_reboot_is_called_again_and_reported_once() {
    let mut dev = Dev::new(
        0xFF,
        Script {
            pending_polls: 1,
            ..Script::default()
        },
    );
    dev.push("p1", "pkg-1", &package(&[("com.a", "1.0", "A")], 600), 200);
    dev.exec(INSTALL, Some("c1"));
    // The job is journaled as running and the installer answered Pending: power fails.
    while dev.p.installer.calls().install == 0 {
        dev.step().unwrap();
    }
    assert_eq!(
        dev.tree.scomo().delivered("p1").unwrap().status(),
        scomo::mo::DeliveredStatus::InstallProgressing
    );
    let dev = dev.reboot();
    assert_eq!(
        dev.tree.scomo().delivered("p1").unwrap().status(),
        scomo::mo::DeliveredStatus::InstallProgressing
    );
    let mut dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    assert_eq!(dev.p.installer.calls().install, 2);
    assert_eq!(dev.installed().len(), 1);
}

#[test]
fn a_download_interrupted_by_a_reboot_resumes_from_the_durable_page() {
    let mut dev = Dev::new(0xFF, Script::default());
    let bytes = package(&[("com.a", "1.0", "A")], 9000);
    let mut obj = Object::new("application/octet-stream", bytes.clone());
    obj.faults
        .push_back(ops_common::Fault::InterruptAfter(5000));
    dev.web.objects.insert(PKG.into(), obj);
    dev.order_download("p1", "pkg-1", PKG, "DownloadInstall", Some("c1"));
    while dev.web.requests.is_empty() {
        dev.step().unwrap();
    }
    let mut dev = dev.reboot().run();
    assert_eq!(dev.result("c1"), 1200);
    // After the reboot the download resumed at the last whole page (4 KiB of 1 KiB pages).
    assert_eq!(dev.web.requests[1].1, 4096);
    assert_eq!(dev.web.requests[1].2.as_deref(), Some("\"v1\""));
    assert_eq!(dev.installed().len(), 1);
}

impl RunUntil for Dev {
    fn run_until_reported(mut self) -> Self {
        while self.seen.is_empty() {
            if !self.step().unwrap() {
                break;
            }
        }
        self
    }
}

trait RunUntil {
    fn run_until_reported(self) -> Self;
}

#[test]
fn an_exec_sent_again_after_its_202_was_lost_is_accepted_and_runs_once() {
    let mut dev = pushed();
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    // Power fails after the job was journaled and before the 202 left the device: the
    // server, which never saw it, sends the same Exec in its next session.
    let mut dev = dev.reboot();
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    assert_eq!(dev.ex.jobs().count(), 1);
    let mut dev = dev.run();
    assert_eq!(dev.p.installer.calls().install, 1);
    dev.session();
    assert_eq!(dev.reports("c1").len(), 1);
    assert_eq!(dev.result("c1"), 1200);
}

#[test]
fn an_exec_sent_again_while_its_result_waits_for_acknowledgement_is_not_run_again() {
    let mut dev = pushed();
    dev.ack = false;
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    let mut dev = dev.run_until_reported();
    assert_eq!(dev.p.installer.calls().install, 1);
    assert_eq!(dev.exec(INSTALL, Some("c1")), StatusCode::Accepted);
    assert_eq!(dev.ex.jobs().count(), 0, "not queued again");
    // Another correlator is another request: it runs.
    assert_eq!(dev.exec(INSTALL, Some("c2")), StatusCode::Accepted);
    assert_eq!(dev.ex.jobs().count(), 1);
    dev.ack = true;
    let dev = dev.run();
    assert_eq!(dev.p.installer.calls().install, 2);
}
