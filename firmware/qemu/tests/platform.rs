//! On-target tests of the firmware's own platform pieces: the NOR flash emulated in RAM and
//! the installer that keeps its inventory on it (behind the core's `NorStateStore`).
#![no_std]
#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::cell::RefCell;
use core::fmt::Write as _;

use embedded_io::{ErrorType, Read, Seek, SeekFrom};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use scomo::codes::ResultCode;
use scomo::persist::{NorStateStore, Partition};
use scomo::platform::{
    ComponentInfo, ComponentSink, InstallRequest, Installer, InstallerErrorKind, InstallerOp,
    Outcome as Done, PackageReader, RecordId,
};
use scomo_qemu::installer::FirmwareInstaller;
use scomo_qemu::ram_flash::{ERASED, RamFlash, RamFlashError};
use scomo_qemu::{Outcome, ensure, ensure_eq, tests};
use sha2::{Digest, Sha256};

type Flash<'a> = RamFlash<'a, 4, 256>;

fn ram_flash_programming_only_clears_bits() -> Outcome {
    let mut bytes = [0u8; 1024];
    let mut flash = Flash::new(&mut bytes);
    flash.erase_all();
    flash.write(0, &[0xF0, 0xFF, 0x0F, 0xAA]).unwrap();
    // The same value again, and more cleared bits, are fine.
    flash.write(0, &[0xF0, 0xFF, 0x0F, 0xAA]).unwrap();
    flash.write(0, &[0x00, 0x7F, 0x0F, 0x0A]).unwrap();
    // Setting a 0 bit back to 1 takes an erase: refused, nothing changes.
    ensure_eq!(
        flash.write(0, &[0x01, 0x7F, 0x0F, 0x0A]),
        Err(RamFlashError::NotErased)
    );
    let mut read = [0u8; 4];
    flash.read(0, &mut read).unwrap();
    ensure_eq!(read, [0x00, 0x7F, 0x0F, 0x0A]);
    Ok(())
}

fn ram_flash_erases_whole_pages_to_ff() -> Outcome {
    let mut bytes = [0u8; 1024];
    let mut flash = Flash::new(&mut bytes);
    flash.erase(256, 512).unwrap();
    let mut read = [0u8; 256];
    flash.read(256, &mut read).unwrap();
    ensure!(read.iter().all(|&b| b == ERASED));
    flash.read(0, &mut read).unwrap();
    ensure!(read.iter().all(|&b| b == 0));
    ensure_eq!(flash.erase(100, 356), Err(RamFlashError::NotAligned));
    ensure_eq!(flash.erase(768, 1280), Err(RamFlashError::OutOfBounds));
    Ok(())
}

fn ram_flash_refuses_misaligned_and_out_of_range_writes() -> Outcome {
    let mut bytes = [0xFFu8; 1000];
    let mut flash = Flash::new(&mut bytes);
    ensure_eq!(flash.capacity(), 768);
    ensure_eq!(flash.write(2, &[0; 4]), Err(RamFlashError::NotAligned));
    ensure_eq!(flash.write(0, &[0; 3]), Err(RamFlashError::NotAligned));
    ensure_eq!(flash.write(768, &[0; 4]), Err(RamFlashError::OutOfBounds));
    ensure_eq!(
        flash.read(766, &mut [0u8; 4]),
        Err(RamFlashError::OutOfBounds)
    );
    Ok(())
}

/// A stored package, read back as the core's component store would give it.
struct Package<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl ErrorType for Package<'_> {
    type Error = core::convert::Infallible;
}

impl Read for Package<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Seek for Package<'_> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Self::Error> {
        if let SeekFrom::Start(n) = pos {
            self.at = n as usize;
        }
        Ok(self.at as u64)
    }
}

impl PackageReader for Package<'_> {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// Builds `scomo-component id=.. version=.. name=.. [sha256=..]\n` + payload into `out`.
fn package<'o>(
    out: &'o mut [u8],
    id: &str,
    version: &str,
    payload: &[u8],
    digest_of: Option<&[u8]>,
) -> &'o [u8] {
    let mut head: heapless::String<200> = heapless::String::new();
    write!(head, "scomo-component id={id} version={version} name={id}").unwrap();
    if let Some(bytes) = digest_of {
        head.push_str(" sha256=").unwrap();
        for b in Sha256::digest(bytes) {
            write!(head, "{b:02x}").unwrap();
        }
    }
    head.push('\n').unwrap();
    let n = head.len();
    out[..n].copy_from_slice(head.as_bytes());
    out[n..n + payload.len()].copy_from_slice(payload);
    &out[..n + payload.len()]
}

/// Collects what the installer reports.
#[derive(Default)]
struct Reported {
    ids: heapless::Vec<heapless::String<32>, 4>,
    versions: heapless::Vec<heapless::String<16>, 4>,
}

impl ComponentSink for Reported {
    fn component(&mut self, c: &ComponentInfo<'_>) {
        self.ids
            .push(heapless::String::try_from(c.id).unwrap())
            .ok();
        self.versions
            .push(heapless::String::try_from(c.version.unwrap_or("")).unwrap())
            .ok();
    }
}

type Store<'a> = NorStateStore<Partition<'a, Flash<'a>>>;

fn install(
    installer: &mut FirmwareInstaller<Store<'_>, 4>,
    bytes: &[u8],
    inactive: bool,
) -> (Result<Done, InstallerErrorKind>, Reported) {
    let mut reported = Reported::default();
    let result = installer.install(
        &mut Package { bytes, at: 0 },
        inactive,
        &InstallRequest::new("pkg"),
        &mut reported,
    );
    (result, reported)
}

/// Runs `f` with an installer over a fresh emulated flash, then with a second installer
/// over the same flash (what a reboot finds).
fn with_installer(
    f: impl FnOnce(&mut FirmwareInstaller<Store<'_>, 4>) -> Outcome,
    after_reboot: impl FnOnce(&mut FirmwareInstaller<Store<'_>, 4>) -> Outcome,
) -> Outcome {
    let mut bytes = [0u8; 2048];
    let mut flash = Flash::new(&mut bytes);
    flash.erase_all();
    let chip = RefCell::new(flash);
    let part = Partition::new(&chip, 0, 2048).unwrap();
    let mut installer =
        FirmwareInstaller::new(NorStateStore::mount(part, ERASED).unwrap(), RecordId(1));
    f(&mut installer)?;
    let mut again =
        FirmwareInstaller::new(NorStateStore::mount(part, ERASED).unwrap(), RecordId(1));
    after_reboot(&mut again)
}

fn install_checks_the_sha256_and_records_the_component() -> Outcome {
    let payload = [7u8; 300];
    let mut buf = [0u8; 600];
    let pkg = package(&mut buf, "com.example.a", "1.2", &payload, Some(&payload));
    with_installer(
        |inst| {
            let (result, reported) = install(inst, pkg, false);
            ensure_eq!(result, Ok(Done::Done));
            ensure_eq!(reported.ids.as_slice(), &["com.example.a"]);
            ensure_eq!(reported.versions.as_slice(), &["1.2"]);
            let inv = inst.inventory().unwrap();
            ensure_eq!(inv.len(), 1);
            ensure!(inv[0].active);
            ensure_eq!(inv[0].digest, <[u8; 32]>::from(Sha256::digest(payload)));
            Ok(())
        },
        |inst| {
            let inv = inst.inventory().unwrap();
            ensure_eq!(inv.len(), 1);
            ensure_eq!(inv[0].id.as_str(), "com.example.a");
            Ok(())
        },
    )
}

fn a_payload_that_does_not_match_its_digest_is_refused_with_1407() -> Outcome {
    let payload = [7u8; 300];
    let mut other = payload;
    other[299] ^= 1;
    let mut buf = [0u8; 600];
    let pkg = package(&mut buf, "com.example.a", "1.0", &other, Some(&payload));
    with_installer(
        |inst| {
            let (result, reported) = install(inst, pkg, false);
            ensure_eq!(result, Err(InstallerErrorKind::InvalidPackage));
            ensure_eq!(
                InstallerErrorKind::InvalidPackage.result_code(InstallerOp::Install),
                ResultCode::ValidationFailed
            );
            ensure!(reported.ids.is_empty());
            ensure!(inst.inventory().unwrap().is_empty());
            Ok(())
        },
        |_| Ok(()),
    )
}

fn a_package_without_a_manifest_line_is_invalid() -> Outcome {
    with_installer(
        |inst| {
            let (result, _) = install(inst, b"just some bytes\nmore", false);
            ensure_eq!(result, Err(InstallerErrorKind::InvalidPackage));
            let (result, _) = install(inst, b"scomo-component version=1\npayload", false);
            ensure_eq!(result, Err(InstallerErrorKind::InvalidPackage));
            let (result, _) = install(inst, b"scomo-component id=x sha256=zz\n", false);
            ensure_eq!(result, Err(InstallerErrorKind::InvalidPackage));
            Ok(())
        },
        |_| Ok(()),
    )
}

fn installing_again_changes_nothing_and_reports_again() -> Outcome {
    let mut buf = [0u8; 300];
    let pkg = package(&mut buf, "com.example.a", "1.0", b"payload", None);
    with_installer(
        |inst| {
            ensure_eq!(install(inst, pkg, true).0, Ok(Done::Done));
            let (result, reported) = install(inst, pkg, true);
            ensure_eq!(result, Ok(Done::Done));
            ensure_eq!(reported.ids.as_slice(), &["com.example.a"]);
            let inv = inst.inventory().unwrap();
            ensure_eq!(inv.len(), 1);
            ensure!(!inv[0].active);
            Ok(())
        },
        |_| Ok(()),
    )
}

fn an_update_replaces_the_component_of_the_same_id() -> Outcome {
    let (mut b1, mut b2, mut b3) = ([0u8; 300], [0u8; 300], [0u8; 300]);
    let old = package(&mut b1, "com.example.a", "1.0", b"old", None);
    let other = package(&mut b2, "com.example.b", "1.0", b"b", None);
    let new = package(&mut b3, "com.example.a", "2.0", b"new", None);
    with_installer(
        |inst| {
            install(inst, old, false).0.unwrap();
            install(inst, other, false).0.unwrap();
            let (result, reported) = install(inst, new, false);
            ensure_eq!(result, Ok(Done::Done));
            ensure_eq!(reported.versions.as_slice(), &["2.0"]);
            Ok(())
        },
        |inst| {
            let inv = inst.inventory().unwrap();
            ensure_eq!(inv.len(), 2);
            let a = inv.iter().find(|c| c.id == "com.example.a").unwrap();
            ensure_eq!(a.version.as_str(), "2.0");
            ensure!(inv.iter().any(|c| c.id == "com.example.b"));
            Ok(())
        },
    )
}

fn activate_deactivate_and_remove_are_idempotent() -> Outcome {
    let mut buf = [0u8; 300];
    let pkg = package(&mut buf, "com.example.a", "1.0", b"x", None);
    with_installer(
        |inst| {
            install(inst, pkg, true).0.unwrap();
            ensure_eq!(inst.activate("com.example.a"), Ok(Done::Done));
            ensure_eq!(inst.activate("com.example.a"), Ok(Done::Done));
            ensure!(inst.inventory().unwrap()[0].active);
            ensure_eq!(inst.deactivate("com.example.a"), Ok(Done::Done));
            ensure_eq!(inst.deactivate("com.example.a"), Ok(Done::Done));
            ensure!(!inst.inventory().unwrap()[0].active);
            ensure_eq!(
                inst.activate("com.example.none"),
                Err(InstallerErrorKind::NotFound)
            );
            ensure_eq!(inst.remove("com.example.a"), Ok(Done::Done));
            ensure_eq!(inst.remove("com.example.a"), Ok(Done::Done));
            ensure!(inst.inventory().unwrap().is_empty());
            Ok(())
        },
        |inst| {
            ensure!(inst.inventory().unwrap().is_empty());
            Ok(())
        },
    )
}

fn a_fifth_component_is_out_of_memory_and_nothing_changes() -> Outcome {
    with_installer(
        |inst| {
            for i in 0..4u8 {
                let mut buf = [0u8; 300];
                let id = [b'c', b'0' + i];
                let pkg = package(
                    &mut buf,
                    core::str::from_utf8(&id).unwrap(),
                    "1",
                    b"x",
                    None,
                );
                install(inst, pkg, false).0.unwrap();
            }
            let mut buf = [0u8; 300];
            let pkg = package(&mut buf, "c9", "1", b"x", None);
            let (result, _) = install(inst, pkg, false);
            ensure_eq!(result, Err(InstallerErrorKind::OutOfMemory));
            ensure_eq!(inst.inventory().unwrap().len(), 4);
            Ok(())
        },
        |_| Ok(()),
    )
}

#[cortex_m_rt::entry]
fn main() -> ! {
    scomo_qemu::run(tests![
        ram_flash_programming_only_clears_bits,
        ram_flash_erases_whole_pages_to_ff,
        ram_flash_refuses_misaligned_and_out_of_range_writes,
        install_checks_the_sha256_and_records_the_component,
        a_payload_that_does_not_match_its_digest_is_refused_with_1407,
        a_package_without_a_manifest_line_is_invalid,
        installing_again_changes_nothing_and_reports_again,
        an_update_replaces_the_component_of_the_same_id,
        activate_deactivate_and_remove_are_idempotent,
        a_fifth_component_is_out_of_memory_and_nothing_changes,
    ])
}
