//! What operations change in the SCOMO inventory: URIs of the nodes reported, the
//! `Inventory/Deployed/<Y>` entries the installer's components become, and the
//! `Inventory/Delivered/<X>` entry a finished `Download` leaves.

use core::fmt::{self, Write as _};

use crate::codes::{ResultCode, StatusCode};
use crate::mo::{
    DeliveredLeaf, DeployedLeaf, DeployedState, DeployedStatus, DownloadLeaf, EntryKind, EntryUri,
    NodeName, Primitive, node_name,
};
use crate::ops::outbox::Report;
use crate::platform::{ComponentInfo, ComponentSink};
use crate::tree::Tree;

/// Writes `./<root>/<list>/<name>`.
pub(crate) fn write_entry(
    w: &mut dyn fmt::Write,
    root: &str,
    kind: EntryKind,
    name: &str,
) -> fmt::Result {
    write!(w, "{}", EntryUri::entry(root, kind, name))
}

/// Writes the executed node, `./<root>/<list>/<name>/Operations/<primitive>`.
pub(crate) fn write_source(
    w: &mut dyn fmt::Write,
    root: &str,
    primitive: Primitive,
    name: &str,
) -> fmt::Result {
    write!(w, "{}", EntryUri::operation(root, primitive, name))
}

/// A URI built on the stack.
pub(crate) type UriBuf = heapless::String<160, u8>;

/// `./<root>/<list>/<name>` as a string.
pub(crate) fn entry_uri(root: &str, kind: EntryKind, name: &str) -> UriBuf {
    let mut s = UriBuf::new();
    // Root, list and name are bounded (48 + 19 + 32 bytes): it always fits.
    let _ = write_entry(&mut s, root, kind, name);
    s
}

/// The installer's reports of components, copied into the caller's scratch buffer as
/// length-prefixed strings (ID, Version, Name, Description; 0xFF marks an absent one).
pub(crate) struct ScratchSink<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// A component did not fit.
    pub overflow: bool,
}

/// Values longer than this are cut (longer than any Deployed leaf takes anyway).
const FIELD_MAX: usize = 254;
const ABSENT: u8 = 0xFF;

impl<'b> ScratchSink<'b> {
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// The bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    fn put(&mut self, at: &mut usize, value: Option<&str>) -> Option<()> {
        match value {
            None => {
                *self.buf.get_mut(*at)? = ABSENT;
                *at += 1;
            }
            Some(v) => {
                // Cut on a character boundary.
                let mut n = v.len().min(FIELD_MAX);
                while !v.is_char_boundary(n) {
                    n -= 1;
                }
                *self.buf.get_mut(*at)? = n as u8;
                self.buf
                    .get_mut(*at + 1..*at + 1 + n)?
                    .copy_from_slice(v.as_bytes().get(..n)?);
                *at += 1 + n;
            }
        }
        Some(())
    }
}

impl ComponentSink for ScratchSink<'_> {
    fn component(&mut self, c: &ComponentInfo<'_>) {
        let mut at = self.len;
        let fits = [Some(c.id), c.version, c.name, c.description]
            .into_iter()
            .try_for_each(|v| self.put(&mut at, v));
        match fits {
            Some(()) => self.len = at,
            None => self.overflow = true,
        }
    }
}

/// The components a [`ScratchSink`] holds.
pub(crate) fn components(buf: &[u8]) -> impl Iterator<Item = ComponentInfo<'_>> {
    let mut rest = buf;
    core::iter::from_fn(move || {
        let mut field = || -> Option<Option<&str>> {
            let (&n, tail) = rest.split_first()?;
            if n == ABSENT {
                rest = tail;
                return Some(None);
            }
            let (v, tail) = tail.split_at_checked(usize::from(n))?;
            rest = tail;
            core::str::from_utf8(v).ok().map(Some)
        };
        Some(ComponentInfo {
            id: field()??,
            version: field()?,
            name: field()?,
            description: field()?,
        })
    })
}

/// The `Deployed/<Y>` name for a new component: its `ID` when that is a valid node name
/// not in use, else the first free `C1`, `C2`, ...
fn fresh_name<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &Tree<DL, DV, DP, ACL>,
    id: &str,
) -> Option<NodeName> {
    if let Ok(name) = node_name(id)
        && tree.scomo().deployed(&name).is_none()
    {
        return Some(name);
    }
    (1..=DP + 1).find_map(|n| {
        let mut name = NodeName::new();
        write!(name, "C{n}").ok()?;
        tree.scomo().deployed(&name).is_none().then_some(name)
    })
}

/// What the install of a package is about, for the components it yields.
pub(crate) struct Installed<'a> {
    pub pkg_id: Option<&'a str>,
    pub env_type: Option<&'a str>,
    pub inactive: bool,
}

/// Makes each reported component an `Inventory/Deployed/<Y>` entry: the entry whose `ID`
/// it has is updated in place (an update replaces the old component: one entry per `ID`),
/// otherwise a new one is named by [`fresh_name`]. Adds one report item per component.
///
/// Checked before anything changes: every `ID` is a non-empty text the `ID` leaf takes
/// (else 1405) and the new entries fit (else 1406).
pub(crate) fn deploy<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &mut Tree<DL, DV, DP, ACL>,
    scratch: &[u8],
    what: &Installed<'_>,
    report: &mut Report,
) -> Result<(), ResultCode> {
    let mut new = 0;
    for c in components(scratch) {
        if c.id.is_empty() || c.id.len() > 64 {
            return Err(ResultCode::InstallFailed);
        }
        if !tree
            .scomo()
            .deployed_components()
            .any(|e| e.id() == Some(c.id))
        {
            new += 1;
        }
    }
    if tree.scomo().deployed_components().count() + new > DP {
        return Err(ResultCode::InstallOutOfMemory);
    }
    let root = UriBuf::try_from(tree.scomo_root()).unwrap_or_default();
    for c in components(scratch) {
        let existing = tree
            .scomo()
            .deployed_components()
            .find(|e| e.id() == Some(c.id))
            .and_then(|e| NodeName::try_from(e.name()).ok());
        let name = match existing {
            Some(name) => name,
            None => {
                let name = fresh_name(tree, c.id).ok_or(ResultCode::InstallOutOfMemory)?;
                tree.scomo_mut()
                    .add_deployed(&name)
                    .map_err(|_| ResultCode::InstallOutOfMemory)?;
                name
            }
        };
        let entry = tree
            .scomo_mut()
            .deployed_mut(&name)
            .ok_or(ResultCode::InstallFailed)?;
        let leaves = [
            (DeployedLeaf::Id, Some(c.id)),
            (DeployedLeaf::PkgIdRef, what.pkg_id),
            (DeployedLeaf::Version, c.version),
            (DeployedLeaf::Name, c.name),
            (DeployedLeaf::Description, c.description),
            (DeployedLeaf::EnvType, what.env_type),
        ];
        // Clear first so that the entry's budget holds the new values, not old and new.
        for (leaf, _) in leaves {
            entry.clear(leaf);
        }
        for (leaf, value) in leaves {
            if let Some(v) = value
                && entry.set(leaf, v).is_err()
                && leaf == DeployedLeaf::Id
            {
                return Err(ResultCode::InstallFailed);
            }
        }
        entry.set_state(if what.inactive {
            DeployedState::Inactive
        } else {
            DeployedState::Active
        });
        entry.set_status(DeployedStatus::Idle);
        report.item(|w| write_entry(w, &root, EntryKind::Deployed, &name), c.id);
    }
    Ok(())
}

/// Makes `Inventory/Delivered/<name>` hold the package a `Download` fetched: its leaves
/// copied from `Download/<name>`, `State` Delivered, `Status` Idle, `Data` of `len` bytes.
/// An entry of that name is replaced. 420 when the inventory is full.
pub(crate) fn deliver<const DL: usize, const DV: usize, const DP: usize, const ACL: usize>(
    tree: &mut Tree<DL, DV, DP, ACL>,
    name: &str,
    len: u64,
) -> Result<(), StatusCode> {
    const COPIED: [(DownloadLeaf, DeliveredLeaf); 6] = [
        (DownloadLeaf::PkgId, DeliveredLeaf::PkgId),
        (DownloadLeaf::Name, DeliveredLeaf::Name),
        (DownloadLeaf::Description, DeliveredLeaf::Description),
        (DownloadLeaf::InstallParams, DeliveredLeaf::InstallParams),
        (DownloadLeaf::EnvType, DeliveredLeaf::EnvType),
        (DownloadLeaf::PkgType, DeliveredLeaf::PkgType),
    ];
    let source = tree
        .scomo()
        .download(name)
        .cloned()
        .ok_or(StatusCode::NotFound)?;
    if tree.scomo().delivered(name).is_some() {
        let uri = entry_uri(tree.scomo_root(), EntryKind::Delivered, name);
        tree.device_delete(&uri)?;
    }
    let entry = tree.scomo_mut().add_delivered(name)?;
    for (from, to) in COPIED {
        if let Some(v) = source.get(from) {
            // Every Delivered leaf takes what the Download leaf of the same name took.
            let _ = entry.set(to, v);
        }
    }
    entry.set_data(Some(u32::try_from(len).unwrap_or(u32::MAX)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_round_trips_components_and_flags_overflow() {
        let mut buf = [0u8; 40];
        let mut sink = ScratchSink::new(&mut buf);
        sink.component(&ComponentInfo {
            id: "com.a",
            version: Some("1.0"),
            name: None,
            description: None,
        });
        sink.component(&ComponentInfo {
            id: core::str::from_utf8(&[b'x'; 30]).unwrap(),
            version: None,
            name: None,
            description: None,
        });
        assert!(sink.overflow);
        let n = sink.len();
        let got: heapless::Vec<ComponentInfo<'_>, 4> = components(&buf[..n]).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "com.a");
        assert_eq!(got[0].version, Some("1.0"));
        assert_eq!(got[0].name, None);
    }
}
