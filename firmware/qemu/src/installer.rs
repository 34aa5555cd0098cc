//! The firmware's [`Installer`]: checks a package and keeps the inventory of installed
//! components in one record of a [`StateStore`] (on the emulated NOR flash).
//!
//! **Package convention** (the same as the std agent's): a package starts with a manifest
//! line
//!
//! ```text
//! scomo-component id=<ID> version=<V> name=<NAME> sha256=<hex of the bytes after this line>
//! ```
//!
//! `id` is required, `version`, `name` and `sha256` are optional. The installer hashes the
//! payload (everything after the line) with SHA-256 as it reads it from the component store;
//! when the manifest names a digest and the payload does not match it, the install fails
//! with [`InstallerErrorKind::InvalidPackage`] (SCOMO result 1407) and nothing changes.
//!
//! There is nothing on these boards to run a component on, so installing one records it:
//! its ID, version, name, whether it is active, and the payload's digest. The payload stays
//! in the component store (the delivered package). Every change of the inventory is one
//! record write, so after a power cut a component is wholly the old one or wholly the new
//! one; every operation is idempotent, as the [`Installer`] contract requires.

use heapless::{String, Vec};
use scomo::platform::{
    ComponentInfo, ComponentSink, InstallRequest, Installer, InstallerErrorKind, Outcome,
    PackageReader, RecordId, StateStore,
};
use sha2::{Digest, Sha256};

/// The first word of a manifest line.
const MANIFEST: &[u8] = b"scomo-component ";
/// The longest manifest line read.
const MANIFEST_MAX: usize = 200;
/// The inventory record's first byte (its layout version).
const LAYOUT: u8 = 1;
/// The inventory record is built in a stack buffer of this size.
const RECORD_MAX: usize = 512;

/// One installed component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `ID`.
    pub id: String<32>,
    /// `Version` (empty when the manifest has none).
    pub version: String<16>,
    /// `Name` (empty when the manifest has none).
    pub name: String<32>,
    /// Whether the component is active.
    pub active: bool,
    /// SHA-256 of the payload it came from: tells a new package of the same component from
    /// the installed one.
    pub digest: [u8; 32],
}

/// What a manifest line says.
#[derive(Debug, Default)]
struct Manifest {
    id: String<32>,
    version: String<16>,
    name: String<32>,
    digest: Option<[u8; 32]>,
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (&[hi, lo], []) = pair.split_first_chunk::<2>()? else {
            return None;
        };
        *byte = hex_digit(hi)? << 4 | hex_digit(lo)?;
    }
    Some(out)
}

fn parse_manifest(line: &[u8]) -> Result<Manifest, InstallerErrorKind> {
    let bad = |_| InstallerErrorKind::InvalidPackage;
    let text = core::str::from_utf8(line).map_err(|_| InstallerErrorKind::InvalidPackage)?;
    let mut m = Manifest::default();
    for field in text.split(' ').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("id", v)) => m.id = String::try_from(v).map_err(bad)?,
            Some(("version", v)) => m.version = String::try_from(v).map_err(bad)?,
            Some(("name", v)) => m.name = String::try_from(v).map_err(bad)?,
            Some(("sha256", v)) => {
                m.digest = Some(parse_digest(v).ok_or(InstallerErrorKind::InvalidPackage)?);
            }
            _ => {}
        }
    }
    if m.id.is_empty() {
        return Err(InstallerErrorKind::InvalidPackage);
    }
    Ok(m)
}

/// Reads the manifest line and hashes the payload after it.
fn read_package<R: PackageReader>(
    package: &mut R,
) -> Result<(Manifest, [u8; 32]), InstallerErrorKind> {
    let io = |_| InstallerErrorKind::Failed;
    package.seek(embedded_io::SeekFrom::Start(0)).map_err(io)?;
    let mut head = [0u8; MANIFEST_MAX];
    let mut filled = 0;
    let mut chunk = [0u8; 128];
    let mut hash = Sha256::new();
    let mut manifest = None;
    loop {
        let n = package.read(&mut chunk).map_err(io)?;
        let Some(bytes) = chunk.get(..n).filter(|b| !b.is_empty()) else {
            break;
        };
        if manifest.is_some() {
            hash.update(bytes);
            continue;
        }
        // Still looking for the end of the manifest line.
        let room = head.len() - filled;
        let take = n.min(room);
        let (Some(to), Some(from)) = (head.get_mut(filled..filled + take), bytes.get(..take))
        else {
            return Err(InstallerErrorKind::InvalidPackage);
        };
        to.copy_from_slice(from);
        let start = filled;
        filled += take;
        let Some(nl) = head
            .get(start..filled)
            .and_then(|b| b.iter().position(|&c| c == b'\n'))
        else {
            if filled == head.len() {
                return Err(InstallerErrorKind::InvalidPackage);
            }
            continue;
        };
        let end = start + nl;
        let line = head
            .get(..end)
            .and_then(|l| l.strip_prefix(MANIFEST))
            .ok_or(InstallerErrorKind::InvalidPackage)?;
        manifest = Some(parse_manifest(line)?);
        // The bytes of this chunk after the newline are payload.
        hash.update(bytes.get(end + 1 - start..).unwrap_or_default());
    }
    let manifest = manifest.ok_or(InstallerErrorKind::InvalidPackage)?;
    Ok((manifest, hash.finalize().into()))
}

/// The inventory: up to `N` components.
type Inventory<const N: usize> = Vec<Installed, N>;

fn put(buf: &mut [u8], at: &mut usize, bytes: &[u8]) -> Result<(), InstallerErrorKind> {
    let to = buf
        .get_mut(*at..*at + bytes.len())
        .ok_or(InstallerErrorKind::OutOfMemory)?;
    to.copy_from_slice(bytes);
    *at += bytes.len();
    Ok(())
}

fn put_str(buf: &mut [u8], at: &mut usize, s: &str) -> Result<(), InstallerErrorKind> {
    let len = u8::try_from(s.len()).map_err(|_| InstallerErrorKind::OutOfMemory)?;
    put(buf, at, &[len])?;
    put(buf, at, s.as_bytes())
}

fn encode<const N: usize>(
    inventory: &Inventory<N>,
    buf: &mut [u8],
) -> Result<usize, InstallerErrorKind> {
    let mut at = 0;
    let count = u8::try_from(inventory.len()).map_err(|_| InstallerErrorKind::OutOfMemory)?;
    put(buf, &mut at, &[LAYOUT, count])?;
    for c in inventory {
        put_str(buf, &mut at, &c.id)?;
        put_str(buf, &mut at, &c.version)?;
        put_str(buf, &mut at, &c.name)?;
        put(buf, &mut at, &[u8::from(c.active)])?;
        put(buf, &mut at, &c.digest)?;
    }
    Ok(at)
}

/// Reads a record made by [`encode`]; `None` for anything else.
fn decode<const N: usize>(mut bytes: &[u8]) -> Option<Inventory<N>> {
    fn take<'b>(bytes: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    fn text<const M: usize>(bytes: &mut &[u8]) -> Option<String<M>> {
        let len = usize::from(*take(bytes, 1)?.first()?);
        let s = core::str::from_utf8(take(bytes, len)?).ok()?;
        String::try_from(s).ok()
    }
    let &[layout, count] = take(&mut bytes, 2)? else {
        return None;
    };
    if layout != LAYOUT {
        return None;
    }
    let mut inventory = Vec::new();
    for _ in 0..count {
        let id = text(&mut bytes)?;
        let version = text(&mut bytes)?;
        let name = text(&mut bytes)?;
        let active = match take(&mut bytes, 1)? {
            [0] => false,
            [1] => true,
            _ => return None,
        };
        let digest = take(&mut bytes, 32)?.try_into().ok()?;
        inventory
            .push(Installed {
                id,
                version,
                name,
                active,
                digest,
            })
            .ok()?;
    }
    bytes.is_empty().then_some(inventory)
}

/// The firmware's installer: up to `N` components, their inventory in record `record` of
/// `store` (see the module documentation).
#[derive(Debug)]
pub struct FirmwareInstaller<S, const N: usize> {
    store: S,
    record: RecordId,
}

impl<S: StateStore, const N: usize> FirmwareInstaller<S, N> {
    /// An installer keeping its inventory in record `record` of `store`.
    pub fn new(store: S, record: RecordId) -> Self {
        Self { store, record }
    }

    /// The installed components, as the store holds them.
    ///
    /// # Errors
    /// [`InstallerErrorKind::Failed`] when the store fails, [`InstallerErrorKind::Other`]
    /// when the record does not decode.
    pub fn inventory(&mut self) -> Result<Inventory<N>, InstallerErrorKind> {
        let mut buf = [0u8; RECORD_MAX];
        match self.store.read(self.record, &mut buf) {
            Ok(None) => Ok(Vec::new()),
            Ok(Some(len)) => buf
                .get(..len)
                .and_then(decode)
                .ok_or(InstallerErrorKind::Other),
            Err(_) => Err(InstallerErrorKind::Failed),
        }
    }

    fn save(&mut self, inventory: &Inventory<N>) -> Result<(), InstallerErrorKind> {
        let mut buf = [0u8; RECORD_MAX];
        let len = encode(inventory, &mut buf)?;
        let bytes = buf.get(..len).ok_or(InstallerErrorKind::Other)?;
        self.store
            .write(self.record, bytes)
            .map_err(|_| InstallerErrorKind::Failed)
    }

    fn set_active(&mut self, id: &str, active: bool) -> Result<Outcome, InstallerErrorKind> {
        let mut inventory = self.inventory()?;
        let component = inventory
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

fn report(sink: &mut dyn ComponentSink, c: &Installed) {
    sink.component(&ComponentInfo {
        id: &c.id,
        version: Some(&c.version)
            .filter(|v| !v.is_empty())
            .map(|v| v.as_str()),
        name: Some(&c.name).filter(|n| !n.is_empty()).map(|n| n.as_str()),
        description: None,
    });
}

impl<S: StateStore, const N: usize> Installer for FirmwareInstaller<S, N> {
    type Error = InstallerErrorKind;

    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        _request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, InstallerErrorKind> {
        let (manifest, digest) = read_package(package)?;
        if manifest.digest.is_some_and(|d| d != digest) {
            return Err(InstallerErrorKind::InvalidPackage);
        }
        let mut inventory = self.inventory()?;
        let installed = inventory
            .iter()
            .any(|c| c.id == manifest.id && c.digest == digest);
        if !installed {
            // An update replaces the component of the same ID in the same record write.
            inventory.retain(|c| c.id != manifest.id);
            inventory
                .push(Installed {
                    id: manifest.id.clone(),
                    version: manifest.version,
                    name: manifest.name,
                    active: !inactive,
                    digest,
                })
                .map_err(|_| InstallerErrorKind::OutOfMemory)?;
            self.save(&inventory)?;
        }
        if let Some(c) = inventory.iter().find(|c| c.id == manifest.id) {
            report(sink, c);
        }
        Ok(Outcome::Done)
    }

    fn activate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        self.set_active(id, true)
    }

    fn deactivate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        self.set_active(id, false)
    }

    fn remove(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        let mut inventory = self.inventory()?;
        let before = inventory.len();
        inventory.retain(|c| c.id != id);
        if inventory.len() != before {
            self.save(&inventory)?;
        }
        Ok(Outcome::Done)
    }
}
