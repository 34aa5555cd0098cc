//! Flash work, counted (DESIGN budgets): state-record writes per operation, none per chunk
//! of a download, each payload byte programmed once, at most one page again after a cut.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ops_common;

use ops_common::{Object, Rig, package};
use scomo::mock::Script;
use scomo::platform::{ComponentStore, PackageKey};

type Dev = Rig<4, 1024>;

const PKG: &str = "http://dl.example/app.pkg";
const PAGE: usize = 1024;
const SLOT: usize = (ops_common::PACKAGES.1 as usize / ops_common::SLOTS as usize) / PAGE * PAGE;

/// State-record writes from the Exec (saved) to the acknowledgement of its report.
fn writes_for(dev: Dev, exec: &str) -> (u32, Dev) {
    let mut dev = dev;
    dev.seen.clear();
    let before = dev.state_writes();
    dev.exec(exec, Some("budget"));
    let dev = dev.run();
    assert_eq!(dev.result("budget"), 1200);
    (dev.state_writes() - before, dev)
}

#[test]
fn install_activate_and_remove_write_at_most_8_state_records_each() {
    let mut dev = Dev::new(0xFF, Script::default());
    dev.push("p1", "pkg-1", &package(&[("com.a", "1.0", "A")], 2000), 500);
    let (install, dev) = writes_for(
        dev,
        "./SCOMO/Inventory/Delivered/p1/Operations/InstallInactive",
    );
    let (activate, dev) = writes_for(dev, "./SCOMO/Inventory/Deployed/com.a/Operations/Activate");
    let (deactivate, dev) = writes_for(
        dev,
        "./SCOMO/Inventory/Deployed/com.a/Operations/Deactivate",
    );
    let (remove, dev) = writes_for(dev, "./SCOMO/Inventory/Deployed/com.a/Operations/Remove");
    let (remove_dp, _) = writes_for(dev, "./SCOMO/Inventory/Delivered/p1/Operations/Remove");
    for (name, n) in [
        ("install", install),
        ("activate", activate),
        ("deactivate", deactivate),
        ("remove", remove),
        ("remove package", remove_dp),
    ] {
        println!("{name}: {n} state-record writes");
        assert!(n <= 8, "{name}: {n} state-record writes");
        assert!(
            n >= 3,
            "{name}: {n} writes cannot journal start, end and ack"
        );
    }
}

#[test]
fn a_download_writes_no_state_record_per_chunk_and_each_byte_once() {
    let mut dev = Dev::new(0xFF, Script::default());
    dev.chip.borrow_mut().reset_wear();
    let bytes = package(&[("com.a", "1.0", "A")], 12 * 1024 - 200);
    dev.web.chunk = 256;
    dev.web.objects.insert(
        PKG.into(),
        Object::new("application/octet-stream", bytes.clone()),
    );
    let before = dev.state_writes();
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    let dev = dev.run();
    assert_eq!(dev.result("c1"), 1200);
    let writes = dev.state_writes() - before;
    // Exec, start, object start (transfer record), done, acknowledgement: fixed costs; a
    // 12 KiB download would allow 3 more, and none is spent per chunk.
    assert!(
        writes <= 5 + (bytes.len() as u32).div_ceil(4096),
        "{writes} state writes"
    );
    // Each payload byte programmed exactly once.
    let mut p = dev.p;
    let key = (0..ops_common::SLOTS)
        .find(|&k| p.components.inspect(PackageKey(k)).unwrap().is_some())
        .unwrap();
    let data = ops_common::PACKAGES.0 as usize + usize::from(key) * SLOT + PAGE;
    let chip = dev.chip.borrow();
    for i in 0..bytes.len() {
        assert_eq!(chip.program_count(data + i), 1, "byte {i}");
    }
}

#[test]
fn after_a_cut_mid_download_at_most_one_page_is_written_and_fetched_again() {
    let mut dev = Dev::new(0xFF, Script::default());
    dev.chip.borrow_mut().reset_wear();
    let bytes = package(&[("com.a", "1.0", "A")], 10 * 1024);
    let mut obj = Object::new("application/octet-stream", bytes.clone());
    obj.faults
        .push_back(ops_common::Fault::InterruptAfter(6 * 1024 + 300));
    dev.web.objects.insert(PKG.into(), obj);
    dev.order_download("p1", "pkg-1", PKG, "Download", Some("c1"));
    while dev.web.requests.is_empty() {
        dev.step().unwrap();
    }
    let dev = dev.reboot().run();
    assert_eq!(dev.result("c1"), 1200);
    let resumed_at = dev.web.requests[1].1 as usize;
    assert!(
        6 * 1024 + 300 - resumed_at <= PAGE,
        "refetched from {resumed_at}"
    );
    let mut p = dev.p;
    let key = (0..ops_common::SLOTS)
        .find(|&k| p.components.inspect(PackageKey(k)).unwrap().is_some())
        .unwrap();
    let data = ops_common::PACKAGES.0 as usize + usize::from(key) * SLOT + PAGE;
    let chip = dev.chip.borrow();
    let twice: Vec<usize> = (0..bytes.len())
        .filter(|&i| chip.program_count(data + i) > 1)
        .collect();
    assert!(
        twice.len() <= PAGE,
        "{} bytes programmed twice",
        twice.len()
    );
    assert!(twice.iter().all(|&i| i / PAGE == resumed_at / PAGE));
}
