//! A scripted [`Installer`] that keeps its inventory in a [`StateStore`].

use heapless::{String, Vec};
use minicbor::decode::Error as DecodeError;
use minicbor::encode::{Error as EncodeError, Write};
use minicbor::{Decode, Decoder, Encode, Encoder};

use crate::persist::crc::Crc32;
use crate::persist::frame;
use crate::platform::{
    ComponentInfo, ComponentSink, Consent, ConsentRequest, InstallRequest, Installer,
    InstallerErrorKind, Outcome, PackageReader, RecordId, StateStore, Verdict,
};

/// The first line of a mock package.
pub const PACKAGE_MAGIC: &str = "SCOMO-MOCK";
/// Schema version of the inventory record.
const INVENTORY_VERSION: u8 = 1;
/// The inventory record is encoded in a stack buffer of this size.
const RECORD_BUF: usize = 1024;
/// The package header (magic and component lines) must fit in this many bytes.
const HEADER_BUF: usize = 512;

/// One component the mock installer has installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `ID`.
    pub id: String<32>,
    /// `Version`.
    pub version: String<16>,
    /// `Name`.
    pub name: String<32>,
    /// Whether the component is active.
    pub active: bool,
    /// CRC-32 of the whole package it came from: tells an old package from a new one.
    pub package_crc: u32,
    /// Installed by a `RebootRequired` install that no reboot has confirmed yet.
    pub awaiting_reboot: bool,
}

/// The inventory record: up to `N` installed components.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Inventory<const N: usize>(Vec<Installed, N>);

impl<const N: usize> Encode<()> for Inventory<N> {
    fn encode<W: Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut (),
    ) -> Result<(), EncodeError<W::Error>> {
        e.array(self.0.len() as u64)?;
        for c in &self.0 {
            e.array(6)?
                .str(&c.id)?
                .str(&c.version)?
                .str(&c.name)?
                .bool(c.active)?
                .u32(c.package_crc)?
                .bool(c.awaiting_reboot)?;
        }
        Ok(())
    }
}

impl<'b, const N: usize> Decode<'b, ()> for Inventory<N> {
    fn decode(d: &mut Decoder<'b>, _: &mut ()) -> Result<Self, DecodeError> {
        let too_long = || DecodeError::message("inventory value too long");
        let count = d
            .array()?
            .ok_or_else(|| DecodeError::message("indefinite"))?;
        let mut all = Vec::new();
        for _ in 0..count {
            if d.array()? != Some(6) {
                return Err(DecodeError::message("component is not 6 values"));
            }
            let component = Installed {
                id: String::try_from(d.str()?).map_err(|_| too_long())?,
                version: String::try_from(d.str()?).map_err(|_| too_long())?,
                name: String::try_from(d.str()?).map_err(|_| too_long())?,
                active: d.bool()?,
                package_crc: d.u32()?,
                awaiting_reboot: d.bool()?,
            };
            all.push(component)
                .map_err(|_| DecodeError::message("too many components"))?;
        }
        Ok(Self(all))
    }
}

/// How a [`MockInstaller`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    /// Every operation answers [`Outcome::Pending`] this many times before it does its work.
    pub pending_polls: u8,
    /// `install` answers [`Outcome::RebootRequired`] until a new `MockInstaller` (a new
    /// boot) is asked again.
    pub reboot_required: bool,
    /// Every operation fails with this kind (after its pending polls).
    pub fail: Option<InstallerErrorKind>,
    /// The answer of the consent hook.
    pub consent: Consent,
    /// The answer of the verification hook.
    pub verdict: Verdict,
    /// The only `EnvType` supported (`None`: any); another one fails with
    /// [`InstallerErrorKind::UnsupportedEnvType`].
    pub env_type: Option<&'static str>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            pending_polls: 0,
            reboot_required: false,
            fail: None,
            consent: Consent::Accept,
            verdict: Verdict::Valid,
            env_type: None,
        }
    }
}

/// How often each [`MockInstaller`] method was called (in this boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Calls {
    /// `install` calls.
    pub install: u32,
    /// `activate` calls.
    pub activate: u32,
    /// `deactivate` calls.
    pub deactivate: u32,
    /// `remove` calls.
    pub remove: u32,
    /// `consent` calls.
    pub consent: u32,
    /// `verify` calls.
    pub verify: u32,
}

/// An [`Installer`] for tests that keeps up to `N` installed components in one record of a
/// [`StateStore`] — on a [`MockFlash`](super::MockFlash) through the NOR backend, so that a
/// power cut hits it like any other flash user. Every change is one atomic record write,
/// so after any cut a component is wholly the old one or wholly the new one.
///
/// A package is text lines, then the payload (build one with [`write_package`]):
///
/// ```text
/// SCOMO-MOCK
/// <id> <version> <name>      (one line per component, 1 to N lines)
///                            (an empty line)
/// <payload bytes>
/// ```
///
/// Behaviour follows the [`Installer`] contract: installing a package already installed
/// answers `Done` and reports its components again; installing a component whose `ID`
/// exists replaces it (an update); activating an active, deactivating an inactive and
/// removing an absent component answer `Done`. A [`Script`] adds pending polls, a reboot
/// requirement, failures, and the answers of the consent and verification hooks.
#[derive(Debug)]
pub struct MockInstaller<S, const N: usize> {
    store: S,
    record: RecordId,
    script: Script,
    calls: Calls,
    pending_left: u8,
    /// The package this boot installed with `RebootRequired`.
    staged_this_boot: Option<u32>,
}

impl<S: StateStore, const N: usize> MockInstaller<S, N> {
    /// An installer (one boot of it) keeping its inventory in record `record` of `store`.
    pub fn new(store: S, record: RecordId, script: Script) -> Self {
        Self {
            store,
            record,
            script,
            calls: Calls::default(),
            pending_left: script.pending_polls,
            staged_this_boot: None,
        }
    }

    /// The script, to change answers between calls.
    pub fn script_mut(&mut self) -> &mut Script {
        &mut self.script
    }

    /// The calls made so far.
    pub fn calls(&self) -> Calls {
        self.calls
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The installed components, read from the store.
    pub fn inventory(&mut self) -> Result<Vec<Installed, N>, InstallerErrorKind> {
        Ok(self.load()?.0)
    }

    fn load(&mut self) -> Result<Inventory<N>, InstallerErrorKind> {
        let mut buf = [0u8; RECORD_BUF];
        match self.store.read(self.record, &mut buf) {
            Ok(None) => Ok(Inventory::default()),
            Ok(Some(len)) => {
                let bytes = buf.get(..len).ok_or(InstallerErrorKind::Other)?;
                frame::decode(INVENTORY_VERSION, bytes).map_err(|_| InstallerErrorKind::Other)
            }
            Err(_) => Err(InstallerErrorKind::Failed),
        }
    }

    fn save(&mut self, inventory: &Inventory<N>) -> Result<(), InstallerErrorKind> {
        let mut buf = [0u8; RECORD_BUF];
        let len = frame::encode(INVENTORY_VERSION, inventory, &mut buf)
            .map_err(|_| InstallerErrorKind::OutOfMemory)?;
        let bytes = buf.get(..len).ok_or(InstallerErrorKind::Other)?;
        self.store
            .write(self.record, bytes)
            .map_err(|_| InstallerErrorKind::Failed)
    }

    /// Pending polls and scripted failure; `Some` when the call ends here.
    fn scripted(&mut self) -> Option<Result<Outcome, InstallerErrorKind>> {
        if self.pending_left > 0 {
            self.pending_left -= 1;
            return Some(Ok(Outcome::Pending));
        }
        self.pending_left = self.script.pending_polls;
        self.script.fail.map(Err)
    }

    fn set_active(&mut self, id: &str, active: bool) -> Result<Outcome, InstallerErrorKind> {
        if let Some(end) = self.scripted() {
            return end;
        }
        let mut inventory = self.load()?;
        let component = inventory
            .0
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(InstallerErrorKind::NotFound)?;
        if component.active != active {
            component.active = active;
            self.save(&inventory)?;
        }
        Ok(Outcome::Done)
    }
}

/// The components a package declares, and its CRC.
struct Parsed<const N: usize> {
    components: Vec<(String<32>, String<16>, String<32>), N>,
    crc: u32,
}

fn parse<R: PackageReader, const N: usize>(
    package: &mut R,
) -> Result<Parsed<N>, InstallerErrorKind> {
    let mut header = [0u8; HEADER_BUF];
    let mut filled = 0;
    let mut crc = Crc32::new();
    loop {
        let mut chunk = [0u8; 64];
        let n = package
            .read(&mut chunk)
            .map_err(|_| InstallerErrorKind::Failed)?;
        let Some(read) = chunk.get(..n).filter(|_| n > 0) else {
            break;
        };
        crc.update(read);
        let room = HEADER_BUF - filled;
        if let (Some(to), Some(from)) = (
            header.get_mut(filled..filled + n.min(room)),
            read.get(..n.min(room)),
        ) {
            to.copy_from_slice(from);
            filled += n.min(room);
        }
    }
    let text = header.get(..filled).unwrap_or(&[]);
    let end = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or(InstallerErrorKind::InvalidPackage)?;
    let text = core::str::from_utf8(text.get(..end).unwrap_or(&[]))
        .map_err(|_| InstallerErrorKind::InvalidPackage)?;
    let mut lines = text.split('\n');
    if lines.next() != Some(PACKAGE_MAGIC) {
        return Err(InstallerErrorKind::InvalidPackage);
    }
    let mut components = Vec::new();
    for line in lines {
        let mut words = line.split(' ');
        let (Some(id), Some(version), Some(name), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(InstallerErrorKind::InvalidPackage);
        };
        let bad = |_| InstallerErrorKind::InvalidPackage;
        components
            .push((
                String::try_from(id).map_err(bad)?,
                String::try_from(version).map_err(bad)?,
                String::try_from(name).map_err(bad)?,
            ))
            .map_err(|_| InstallerErrorKind::OutOfMemory)?;
    }
    if components.is_empty() {
        return Err(InstallerErrorKind::InvalidPackage);
    }
    Ok(Parsed {
        components,
        crc: crc.finish(),
    })
}

/// Writes a mock package declaring `components` (`(id, version, name)`, no spaces or
/// newlines inside) followed by `payload` into `out`; returns its length, or `None` when
/// `out` is too small.
pub fn write_package(
    components: &[(&str, &str, &str)],
    payload: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let mut at = 0;
    let mut put = |bytes: &[u8]| -> Option<()> {
        out.get_mut(at..at + bytes.len())?.copy_from_slice(bytes);
        at += bytes.len();
        Some(())
    };
    put(PACKAGE_MAGIC.as_bytes())?;
    for (id, version, name) in components {
        for part in [b"\n".as_slice(), id.as_bytes(), b" ", version.as_bytes()] {
            put(part)?;
        }
        put(b" ")?;
        put(name.as_bytes())?;
    }
    put(b"\n\n")?;
    put(payload)?;
    Some(at)
}

fn report(sink: &mut dyn ComponentSink, component: &Installed) {
    sink.component(&ComponentInfo {
        id: &component.id,
        version: Some(&component.version),
        name: Some(&component.name),
        description: None,
    });
}

impl<S: StateStore, const N: usize> Installer for MockInstaller<S, N> {
    type Error = InstallerErrorKind;

    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, Self::Error> {
        self.calls.install += 1;
        if let Some(end) = self.scripted() {
            return end;
        }
        if let (Some(wanted), Some(supported)) = (request.env_type, self.script.env_type)
            && wanted != supported
        {
            return Err(InstallerErrorKind::UnsupportedEnvType);
        }
        let parsed = parse::<R, N>(package)?;
        let mut inventory = self.load()?;
        let installed = |inventory: &Inventory<N>| {
            parsed.components.iter().all(|(id, ..)| {
                inventory
                    .0
                    .iter()
                    .any(|c| c.id == *id && c.package_crc == parsed.crc)
            })
        };
        if !installed(&inventory) {
            // Replace components of the same ID (an update), keep the others.
            inventory
                .0
                .retain(|c| !parsed.components.iter().any(|(id, ..)| *id == c.id));
            for (id, version, name) in &parsed.components {
                inventory
                    .0
                    .push(Installed {
                        id: id.clone(),
                        version: version.clone(),
                        name: name.clone(),
                        active: !inactive,
                        package_crc: parsed.crc,
                        awaiting_reboot: self.script.reboot_required,
                    })
                    .map_err(|_| InstallerErrorKind::OutOfMemory)?;
            }
            self.save(&inventory)?;
            if self.script.reboot_required {
                self.staged_this_boot = Some(parsed.crc);
                return Ok(Outcome::RebootRequired);
            }
        } else if inventory
            .0
            .iter()
            .any(|c| c.package_crc == parsed.crc && c.awaiting_reboot)
        {
            if self.staged_this_boot == Some(parsed.crc) {
                return Ok(Outcome::RebootRequired);
            }
            for c in inventory.0.iter_mut() {
                if c.package_crc == parsed.crc {
                    c.awaiting_reboot = false;
                }
            }
            self.save(&inventory)?;
        }
        for c in inventory.0.iter().filter(|c| c.package_crc == parsed.crc) {
            report(sink, c);
        }
        Ok(Outcome::Done)
    }

    fn activate(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        self.calls.activate += 1;
        self.set_active(id, true)
    }

    fn deactivate(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        self.calls.deactivate += 1;
        self.set_active(id, false)
    }

    fn remove(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        self.calls.remove += 1;
        if let Some(end) = self.scripted() {
            return end;
        }
        let mut inventory = self.load()?;
        let before = inventory.0.len();
        inventory.0.retain(|c| c.id != id);
        if inventory.0.len() != before {
            self.save(&inventory)?;
        }
        Ok(Outcome::Done)
    }

    fn consent(&mut self, _: &ConsentRequest<'_>) -> Consent {
        self.calls.consent += 1;
        self.script.consent
    }

    fn verify<R: PackageReader>(&mut self, _: &mut R, _: &InstallRequest<'_>) -> Verdict {
        self.calls.verify += 1;
        self.script.verdict
    }
}
