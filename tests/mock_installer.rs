//! The mock installer keeps the Installer contract (idempotent calls, updates that are old
//! or new) on mock flash; the mock RNG is deterministic.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;

use embedded_io::Write;
use scomo::mock::{CutKind, MockFlash, MockInstaller, MockRng, PowerCut, Script, write_package};
use scomo::persist::{NorComponentStore, NorStateStore, Partition};
use scomo::platform::{
    ComponentInfo, ComponentSink, ComponentStore, Consent, ConsentRequest, InstallRequest,
    Installer, InstallerErrorKind, InstallerOp, Outcome, PackageKey, PackageWriter, Rng, Verdict,
};

type Chip = RefCell<MockFlash<8192, 4, 1024>>;
type State<'a> = NorStateStore<Partition<'a, MockFlash<8192, 4, 1024>>>;
type Packages<'a> = NorComponentStore<Partition<'a, MockFlash<8192, 4, 1024>>>;
type Mock<'a> = MockInstaller<State<'a>, 4>;

const INVENTORY: scomo::platform::RecordId = scomo::platform::RecordId(5);

#[derive(Default)]
struct Collect(Vec<(String, String, String)>);

impl ComponentSink for Collect {
    fn component(&mut self, c: &ComponentInfo<'_>) {
        self.0.push((
            c.id.to_string(),
            c.version.unwrap_or_default().to_string(),
            c.name.unwrap_or_default().to_string(),
        ));
    }
}

fn chip() -> Chip {
    RefCell::new(MockFlash::new(0xFF))
}

fn boot<'a>(chip: &'a Chip, script: Script) -> (Mock<'a>, Packages<'a>) {
    let state = NorStateStore::mount(Partition::new(chip, 0, 2048).unwrap(), 0xFF).unwrap();
    let packages =
        NorComponentStore::new(Partition::new(chip, 4096, 4096).unwrap(), 1, 0xFF).unwrap();
    (MockInstaller::new(state, INVENTORY, script), packages)
}

fn store_package(packages: &mut Packages<'_>, components: &[(&str, &str, &str)], payload: &[u8]) {
    let mut buf = [0u8; 2048];
    let len = write_package(components, payload, &mut buf).unwrap();
    let mut writer = packages.begin(PackageKey(0), len as u64).unwrap();
    writer.write_all(&buf[..len]).unwrap();
    writer.commit().unwrap();
}

fn install(
    installer: &mut Mock<'_>,
    packages: &mut Packages<'_>,
    inactive: bool,
) -> (Result<Outcome, InstallerErrorKind>, Collect) {
    let mut sink = Collect::default();
    let Ok(mut reader) = packages.open(PackageKey(0)) else {
        // Only after a power cut.
        return (Err(InstallerErrorKind::Failed), sink);
    };
    let result = installer.install(
        &mut reader,
        inactive,
        &InstallRequest::new("pkg-1"),
        &mut sink,
    );
    (result, sink)
}

fn versions(installer: &mut Mock<'_>) -> Vec<(String, String, bool)> {
    installer
        .inventory()
        .unwrap()
        .iter()
        .map(|c| (c.id.to_string(), c.version.to_string(), c.active))
        .collect()
}

#[test]
fn install_reports_every_component_and_a_repeat_reports_them_again_without_writing() {
    let chip = chip();
    let (mut installer, mut packages) = boot(&chip, Script::default());
    store_package(
        &mut packages,
        &[("app", "1.0", "App"), ("lib", "2.1", "Lib")],
        &[7; 300],
    );
    let (result, sink) = install(&mut installer, &mut packages, false);
    assert_eq!(result, Ok(Outcome::Done));
    let expected = vec![
        ("app".to_string(), "1.0".to_string(), "App".to_string()),
        ("lib".to_string(), "2.1".to_string(), "Lib".to_string()),
    ];
    assert_eq!(sink.0, expected);
    let writes = chip.borrow().counters().writes;
    let (result, sink) = install(&mut installer, &mut packages, false);
    assert_eq!(result, Ok(Outcome::Done));
    assert_eq!(sink.0, expected);
    assert_eq!(
        chip.borrow().counters().writes,
        writes,
        "a repeat writes nothing"
    );
    assert_eq!(installer.calls().install, 2);
    // A new boot finds the same inventory.
    let (mut installer, _) = boot(&chip, Script::default());
    assert_eq!(
        versions(&mut installer),
        [
            ("app".into(), "1.0".into(), true),
            ("lib".into(), "2.1".into(), true)
        ]
    );
}

#[test]
fn an_update_replaces_the_component_of_the_same_id_and_keeps_the_others() {
    let chip = chip();
    let (mut installer, mut packages) = boot(&chip, Script::default());
    store_package(
        &mut packages,
        &[("app", "1.0", "App"), ("lib", "1.0", "Lib")],
        b"v1",
    );
    install(&mut installer, &mut packages, false).0.unwrap();
    store_package(&mut packages, &[("app", "2.0", "App")], b"v2");
    let (result, sink) = install(&mut installer, &mut packages, true);
    assert_eq!(result, Ok(Outcome::Done));
    assert_eq!(sink.0.len(), 1);
    assert_eq!(
        versions(&mut installer),
        [
            ("lib".into(), "1.0".into(), true),
            ("app".into(), "2.0".into(), false)
        ]
    );
}

#[test]
fn activate_deactivate_and_remove_are_idempotent_and_unknown_ids_fail_1409() {
    let chip = chip();
    let (mut installer, mut packages) = boot(&chip, Script::default());
    store_package(&mut packages, &[("app", "1.0", "App")], b"x");
    install(&mut installer, &mut packages, true).0.unwrap();
    assert!(!versions(&mut installer)[0].2);
    for _ in 0..2 {
        assert_eq!(installer.activate("app"), Ok(Outcome::Done));
        assert!(versions(&mut installer)[0].2);
    }
    for _ in 0..2 {
        assert_eq!(installer.deactivate("app"), Ok(Outcome::Done));
        assert!(!versions(&mut installer)[0].2);
    }
    let err = installer.activate("ghost").unwrap_err();
    assert_eq!(err, InstallerErrorKind::NotFound);
    assert_eq!(err.result_code(InstallerOp::Activate).code(), 1409);
    assert_eq!(installer.remove("app"), Ok(Outcome::Done));
    assert_eq!(installer.remove("app"), Ok(Outcome::Done));
    assert!(versions(&mut installer).is_empty());
    let calls = installer.calls();
    assert_eq!((calls.activate, calls.deactivate, calls.remove), (3, 2, 2));
}

#[test]
fn scripted_pending_polls_end_in_done() {
    let chip = chip();
    let script = Script {
        pending_polls: 2,
        ..Script::default()
    };
    let (mut installer, mut packages) = boot(&chip, script);
    store_package(&mut packages, &[("app", "1.0", "App")], b"x");
    assert_eq!(
        install(&mut installer, &mut packages, false).0,
        Ok(Outcome::Pending)
    );
    assert_eq!(
        install(&mut installer, &mut packages, false).0,
        Ok(Outcome::Pending)
    );
    assert!(
        versions(&mut installer).is_empty(),
        "nothing installed while pending"
    );
    let (result, sink) = install(&mut installer, &mut packages, false);
    assert_eq!(result, Ok(Outcome::Done));
    assert_eq!(sink.0.len(), 1);
    assert_eq!(installer.deactivate("app"), Ok(Outcome::Pending));
}

#[test]
fn reboot_required_is_answered_until_a_new_boot_confirms_the_install() {
    let chip = chip();
    let script = Script {
        reboot_required: true,
        ..Script::default()
    };
    let (mut installer, mut packages) = boot(&chip, script);
    store_package(&mut packages, &[("fw", "9", "Firmware")], b"image");
    let (result, sink) = install(&mut installer, &mut packages, false);
    assert_eq!(result, Ok(Outcome::RebootRequired));
    assert!(sink.0.is_empty());
    assert_eq!(
        install(&mut installer, &mut packages, false).0,
        Ok(Outcome::RebootRequired)
    );
    assert!(installer.inventory().unwrap()[0].awaiting_reboot);
    let (mut installer, mut packages) = boot(&chip, script);
    let (result, sink) = install(&mut installer, &mut packages, false);
    assert_eq!(result, Ok(Outcome::Done));
    assert_eq!(sink.0[0].0, "fw");
    assert!(!installer.inventory().unwrap()[0].awaiting_reboot);
}

#[test]
fn failures_map_to_1405_1407_and_1413_and_hooks_answer_as_scripted() {
    let chip = chip();
    let (mut installer, mut packages) = boot(&chip, Script::default());
    installer.script_mut().fail = Some(InstallerErrorKind::Failed);
    store_package(&mut packages, &[("app", "1.0", "App")], b"x");
    let err = install(&mut installer, &mut packages, false).0.unwrap_err();
    assert_eq!(err.result_code(InstallerOp::Install).code(), 1405);
    installer.script_mut().fail = None;

    installer.script_mut().env_type = Some("native");
    let mut sink = Collect::default();
    let mut request = InstallRequest::new("pkg-1");
    request.env_type = Some("jvm");
    let mut reader = packages.open(PackageKey(0)).unwrap();
    let err = installer
        .install(&mut reader, false, &request, &mut sink)
        .unwrap_err();
    assert_eq!(err.result_code(InstallerOp::Install).code(), 1413);
    request.env_type = Some("native");
    let mut reader = packages.open(PackageKey(0)).unwrap();
    assert_eq!(
        installer.install(&mut reader, false, &request, &mut sink),
        Ok(Outcome::Done)
    );

    let mut writer = packages.begin(PackageKey(0), 5).unwrap();
    writer.write_all(b"junk\n").unwrap();
    writer.commit().unwrap();
    let err = install(&mut installer, &mut packages, false).0.unwrap_err();
    assert_eq!(err, InstallerErrorKind::InvalidPackage);
    assert_eq!(err.result_code(InstallerOp::Install).code(), 1407);

    let ask = ConsentRequest {
        op: InstallerOp::Remove,
        target: "app",
    };
    assert_eq!(installer.consent(&ask), Consent::Accept);
    installer.script_mut().consent = Consent::Postpone;
    assert_eq!(installer.consent(&ask), Consent::Postpone);
    let mut reader = packages.open(PackageKey(0)).unwrap();
    assert_eq!(installer.verify(&mut reader, &request), Verdict::Valid);
    installer.script_mut().verdict = Verdict::Invalid;
    let mut reader = packages.open(PackageKey(0)).unwrap();
    assert_eq!(installer.verify(&mut reader, &request), Verdict::Invalid);
    assert_eq!(
        (installer.calls().consent, installer.calls().verify),
        (2, 2)
    );
}

/// Installs versions `from..=LAST` of component `app`, one package each; returns the last
/// version installed when a call fails (a power cut).
fn updates(chip: &Chip, from: u32) -> Result<(), u32> {
    let (mut installer, mut packages) = boot(chip, Script::default());
    for v in from..=LAST {
        let version = v.to_string();
        let mut buf = [0u8; 256];
        let len = write_package(&[("app", &version, "App")], version.as_bytes(), &mut buf).unwrap();
        let stored = packages.begin(PackageKey(0), len as u64).and_then(|mut w| {
            w.write_all(&buf[..len])?;
            w.commit()
        });
        if stored.is_err() || install(&mut installer, &mut packages, false).0.is_err() {
            return Err(v - 1);
        }
    }
    Ok(())
}

const LAST: u32 = 30;

#[test]
fn an_update_cut_at_any_flash_operation_leaves_the_old_or_the_new_component_never_both() {
    let clean = chip();
    updates(&clean, 1).unwrap();
    let total = clean.borrow().ops();
    let mut cases = 0;
    for op in 1..=total {
        for kind in CutKind::ALL {
            let mut flash = MockFlash::new(0xFF);
            flash.schedule_cut(PowerCut { op, kind });
            let chip = RefCell::new(flash);
            let Err(done) = updates(&chip, 1) else {
                assert!(op == total && kind == CutKind::After);
                continue;
            };
            cases += 1;
            let chip = RefCell::new(chip.into_inner().reboot());
            let (mut installer, _) = boot(&chip, Script::default());
            let found = versions(&mut installer);
            let old = (done > 0).then(|| ("app".to_string(), done.to_string(), true));
            let new = ("app".to_string(), (done + 1).to_string(), true);
            assert!(
                found == old.iter().cloned().collect::<Vec<_>>() || found == [new],
                "cut {kind:?} at op {op} after version {done}: {found:?}"
            );
            // The updates go on from where they stopped.
            updates(&chip, done + 1).unwrap();
            let (mut installer, _) = boot(&chip, Script::default());
            assert_eq!(
                versions(&mut installer),
                [("app".into(), LAST.to_string(), true)]
            );
        }
    }
    println!("mock installer: {cases} cut points exercised");
    assert!(cases > 500);
}

#[test]
fn the_mock_rng_is_deterministic_per_seed_and_fills_every_byte() {
    let mut a = [0u8; 37];
    let mut b = [0u8; 37];
    MockRng::new(7).fill(&mut a).unwrap();
    MockRng::new(7).fill(&mut b).unwrap();
    assert_eq!(a, b);
    MockRng::new(8).fill(&mut b).unwrap();
    assert_ne!(a, b);
    let mut rng = MockRng::new(0);
    let mut c = [0u8; 37];
    rng.fill(&mut c).unwrap();
    let mut d = [0u8; 37];
    rng.fill(&mut d).unwrap();
    assert_ne!(c, d, "successive fills differ");
    assert!(c.iter().filter(|&&x| x == 0).count() < 5);
}
