//! The tree itself: the objects mounted at their roots, the ACL store, and the DM commands
//! Get, Add, Replace, Delete and Exec with their status codes.
//!
//! Each command checks, in this order, and answers the first failure: the URI (400, 406,
//! 414), the node's existence (404; 418 for Add), whether the node takes the command at
//! all (405), the server's right in the ACL (425), the value (415 for a `Meta/Format` that
//! is not the node's, 400 for a value that does not parse in the node's format, 413 for a
//! value longer than the node takes), room (420), and room in the undo log (507). A
//! command that fails leaves the tree exactly as it was.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::mo::{DevDetail, DevInfo, DmAcc, Scomo};
use crate::tree::acl::{Acl, AclStore, Command, ROOT_DEFAULT_ACL};
use crate::tree::exec::{ExecHandler, ExecRequest};
use crate::tree::format::Format;
use crate::tree::schema::{Node, NodeSpec, Object, Value};
use crate::tree::undo::UndoLog;
use crate::tree::uri::{Property, Query, Uri, UriLimits, within};

/// The value an Add or Replace carries: its bytes (already decoded from b64 by the
/// protocol engine when the transport needed it) and its `Meta/Format`, if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The value's bytes.
    pub data: &'a [u8],
    /// The `Meta/Format`; `None` means "the node's format".
    pub format: Option<Format>,
}

impl<'a> Item<'a> {
    /// A value of the node's own format.
    pub const fn new(data: &'a [u8]) -> Self {
        Item { data, format: None }
    }

    /// A `chr` value.
    pub const fn chr(text: &'a str) -> Self {
        Item {
            data: text.as_bytes(),
            format: Some(Format::Chr),
        }
    }

    /// An interior node (no value, format `node`).
    pub const fn node() -> Self {
        Item {
            data: &[],
            format: Some(Format::Node),
        }
    }
}

/// What a successful Get wrote into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Got {
    /// The `Meta/Format` of the result (`node` for a child list, `chr` for a property).
    pub format: Format,
    /// The `Meta/Type` of the result (empty when there is none).
    pub mime: &'static str,
    /// How many bytes of the buffer hold the result.
    pub len: usize,
}

/// What a successful Add or Replace did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written<'u> {
    /// The value is in the tree.
    Stored,
    /// The node is `Inventory/Delivered/<package>/Data`, whose bytes live in the component
    /// store: the tree checked the command (and created the package node if it was
    /// missing) but kept nothing. The protocol engine streams the bytes to the store and,
    /// once they are committed, records their size with
    /// [`DeliveredEntry::set_data`](crate::mo::DeliveredEntry::set_data).
    External {
        /// The `<X>` of `Inventory/Delivered/<X>`.
        package: &'u str,
    },
}

/// Longest SCOMO root path, in bytes.
pub const ROOT_CAP: usize = 48;

/// The objects mounted in a tree, in routing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mount {
    DevInfo = 0,
    DevDetail = 1,
    DmAcc = 2,
    Scomo = 3,
}

const MOUNTS: [Mount; 4] = [Mount::DevInfo, Mount::DevDetail, Mount::DmAcc, Mount::Scomo];

/// The undo-log tag of ACL before-images (objects use their mount number).
const ACL_TAG: u8 = 0xFF;

/// A node the tree found: inside an object, or one of the interior nodes above the mount
/// roots (`.` and the prefixes of a configured SCOMO root), which no object owns.
#[derive(Debug, Clone, Copy)]
enum Place {
    Above,
    In(Mount, Node),
}

/// One step down from a node.
enum Step {
    Found(Node),
    /// A row of the table that could hold this name but holds nothing now.
    Absent(u8),
    Unknown,
}

/// The result of walking a path as far as it exists.
struct Walk<'p> {
    place: Place,
    /// The top-level dynamic node passed on the way: (row, name).
    unit: Option<(u8, &'p str)>,
    /// Where the walk stopped: the step, and the byte offset of the segment in the path.
    stop: Option<(Step, usize)>,
}

/// A DM management tree holding DevInfo, DevDetail, one DMAcc account and a SCOMO object
/// with room for `DL` downloads, `DV` delivered packages and `DP` deployed components, and
/// `ACL` bytes of ACL values.
///
/// The root's ACL is `Add=*&Get=*` until the device sets another; the device sets the ACLs
/// of the objects with [`Tree::set_acl`] (a server needs e.g. `Exec` on the SCOMO root to
/// run operations).
///
/// ```
/// use scomo::codes::StatusCode;
/// use scomo::mo::{DevDetail, DevInfo, DmAcc, MoVersion, Scomo};
/// use scomo::tree::{Item, Tree};
///
/// let mut tree: Tree = Tree::new(
///     DevInfo::new(),
///     DevDetail::new(),
///     DmAcc::new("srv")?,
///     Scomo::new(MoVersion::V1_0),
///     "./SCOMO",
/// )?;
/// tree.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=srv1")?;
/// tree.add("srv1", "./SCOMO/Download/p1", Item::node(), None)?;
/// tree.add("srv1", "./SCOMO/Download/p1/PkgURL", Item::chr("http://x/p1"), None)?;
/// let mut buf = [0u8; 128];
/// let got = tree.get("srv1", "./SCOMO/Download/p1", &mut buf)?;
/// assert_eq!(&buf[..got.len], b"PkgURL/Status/Operations/Ext");
/// assert_eq!(tree.delete("srv1", "./SCOMO/Inventory", None), Err(StatusCode::NotAllowed));
/// # Ok::<(), StatusCode>(())
/// ```
#[derive(Debug, Clone)]
pub struct Tree<
    const DL: usize = 2,
    const DV: usize = 2,
    const DP: usize = 8,
    const ACL: usize = 384,
> {
    devinfo: DevInfo,
    devdetail: DevDetail,
    dmacc: DmAcc,
    scomo: Scomo<DL, DV, DP>,
    scomo_root: heapless::String<ROOT_CAP, u8>,
    acls: AclStore<ACL>,
}

impl<const DL: usize, const DV: usize, const DP: usize, const ACL: usize> Tree<DL, DV, DP, ACL> {
    /// A tree with DevInfo, DevDetail and DMAcc at their standard places and SCOMO at
    /// `scomo_root` (e.g. `./SCOMO`). 400 if the root is not a plain node path or falls
    /// inside another object; 414 if it is longer than [`ROOT_CAP`].
    pub fn new(
        devinfo: DevInfo,
        devdetail: DevDetail,
        dmacc: DmAcc,
        scomo: Scomo<DL, DV, DP>,
        scomo_root: &str,
    ) -> Result<Self, StatusCode> {
        let root = Uri::parse(scomo_root)?;
        if root.is_root() || root.query().is_some() {
            return Err(StatusCode::BadRequest);
        }
        let clash = ["DevInfo", "DevDetail", "DMAcc"]
            .iter()
            .any(|r| within(root.path(), r) || within(r, root.path()));
        if clash {
            return Err(StatusCode::BadRequest);
        }
        Ok(Self {
            devinfo,
            devdetail,
            dmacc,
            scomo,
            scomo_root: heapless::String::try_from(root.path())
                .map_err(|_| StatusCode::UriTooLong)?,
            acls: AclStore::new(),
        })
    }

    /// DevInfo.
    pub fn devinfo(&self) -> &DevInfo {
        &self.devinfo
    }

    /// DevInfo, to change it.
    pub fn devinfo_mut(&mut self) -> &mut DevInfo {
        &mut self.devinfo
    }

    /// DevDetail.
    pub fn devdetail(&self) -> &DevDetail {
        &self.devdetail
    }

    /// DevDetail, to change it (its URI limits apply to the next command).
    pub fn devdetail_mut(&mut self) -> &mut DevDetail {
        &mut self.devdetail
    }

    /// The DM account.
    pub fn dmacc(&self) -> &DmAcc {
        &self.dmacc
    }

    /// The DM account, to change it (nonces, credentials).
    pub fn dmacc_mut(&mut self) -> &mut DmAcc {
        &mut self.dmacc
    }

    /// The SCOMO object.
    pub fn scomo(&self) -> &Scomo<DL, DV, DP> {
        &self.scomo
    }

    /// The SCOMO object, for the operation executor to change its inventory.
    pub fn scomo_mut(&mut self) -> &mut Scomo<DL, DV, DP> {
        &mut self.scomo
    }

    /// The SCOMO root's path, without `./`.
    pub fn scomo_root(&self) -> &str {
        &self.scomo_root
    }

    /// The ACL values set in the tree.
    pub fn acls(&self) -> &AclStore<ACL> {
        &self.acls
    }

    /// Sets the ACL of the node at `uri` as the device (no rights checked): 404 if the
    /// node does not exist, 400 for a malformed ACL, 420 when the store is full.
    pub fn set_acl(&mut self, uri: &str, acl: &str) -> Result<(), StatusCode> {
        let uri = Uri::parse(uri)?;
        self.find(uri.path())?;
        Acl::parse(acl)?;
        self.acls.set(uri.path(), acl)
    }

    /// Deletes the dynamic node at `uri` as the device (no ACL checked; permanent nodes
    /// still 405), with the ACLs set at or below it. The executor uses it when an
    /// operation removes a node, so that a later node of the same name starts clean.
    pub fn device_delete(&mut self, uri: &str) -> Result<(), StatusCode> {
        let uri = Uri::parse(uri)?;
        let Place::In(mount, node) = self.find(uri.path())?.place else {
            return Err(StatusCode::NotAllowed);
        };
        if !self.spec(mount, &node).is_some_and(|s| s.is_dynamic()) {
            return Err(StatusCode::NotAllowed);
        }
        self.obj_mut(mount).remove(&node)?;
        self.acls.remove_subtree(uri.path());
        Ok(())
    }

    /// The URI limits in force (DevDetail's).
    pub fn limits(&self) -> UriLimits {
        self.devdetail.limits()
    }

    // ----- DM commands -----

    /// Get: a leaf's value, an interior node's child names joined by `/` (format `node`),
    /// or a property (`?prop=ACL|Format|Name|Size|Type`), written into `out`.
    ///
    /// Codes: 404 no such node or absent leaf; 405 the node takes no Get (write-only
    /// secrets, `Data`); 406 `?list=`, `Title`/`TStamp`/`VerNo`, `Size` of an interior
    /// node; 425 no Get right; 413 `out` too small.
    pub fn get(&self, server: &str, uri: &str, out: &mut [u8]) -> Result<Got, StatusCode> {
        let uri = Uri::parse_limited(uri, &self.limits())?;
        let place = self.find(uri.path())?.place;
        let mut out = Out { buf: out, len: 0 };
        let prop = match uri.query() {
            Some(Query::List(_)) => return Err(StatusCode::OptionalFeatureNotSupported),
            Some(Query::Prop(p)) => Some(p),
            None => None,
        };
        let spec = self.spec_at(place);
        if let Some(p) = prop {
            self.require(uri.path(), Command::Get, server)?;
            self.get_prop(place, &uri, p, &mut out)?;
            return Ok(Got {
                format: Format::Chr,
                mime: "text/plain",
                len: out.len,
            });
        }
        if spec.is_some_and(|s| !s.access.allows(Command::Get)) {
            return Err(StatusCode::NotAllowed);
        }
        self.require(uri.path(), Command::Get, server)?;
        match (place, spec) {
            (Place::In(m, node), Some(s)) if !s.is_interior() => {
                let value = self.obj(m).read(&node).ok_or(StatusCode::NotFound)?;
                out.value(value)?;
                Ok(Got {
                    format: s.format,
                    mime: s.mime,
                    len: out.len,
                })
            }
            _ => {
                self.children(place, uri.path(), &mut out)?;
                Ok(Got {
                    format: Format::Node,
                    mime: self.type_of(place),
                    len: out.len,
                })
            }
        }
    }

    /// Add: creates a node, and the dynamic interior node above it if that is missing
    /// (implicit Add). Only dynamic nodes and absent optional leaves can be added.
    ///
    /// Codes: 418 exists; 405 below a leaf, where the object has no such node, on a
    /// device-only node (`Deployed/<X>`), or on a property; 425 no Add right on the
    /// nearest existing ancestor; 415/400/413 the value; 420 no room for the entry or its
    /// ACL; 507 the undo log is full. A new interior node inherits its ACL, except that a
    /// server without Replace on the parent gets `Add`, `Delete` and `Replace` on it.
    pub fn add<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode> {
        let uri = Uri::parse_limited(uri, &self.limits())?;
        if uri.query().is_some() {
            return Err(StatusCode::NotAllowed);
        }
        let path = uri.path();
        let walk = self.walk(path)?;
        let (mount, parent, (first, at)) = match (walk.place, walk.stop) {
            (_, None) => return Err(StatusCode::AlreadyExists),
            (Place::In(m, node), Some((Step::Absent(row), at))) => (m, node, (row, at)),
            _ => return Err(StatusCode::NotAllowed),
        };
        let schema = self.obj(mount).schema();
        let rest = path.get(at..).unwrap_or("");
        let (entry_name, leaf_name) = match rest.split_once('/') {
            Some((e, l)) => (e, Some(l)),
            None => (rest, None),
        };
        let first_spec = schema
            .get(usize::from(first))
            .ok_or(StatusCode::NotAllowed)?;
        // What will be created: the dynamic node `first` (if that is what is missing),
        // then the leaf row `leaf` (if the command names one).
        let (create, leaf) = match (first_spec.is_dynamic(), leaf_name) {
            (true, None) => (true, None),
            (true, Some(l)) => (true, Some(self.leaf_row(mount, first, l)?)),
            (false, None) => (false, Some(first)),
            (false, Some(_)) => return Err(StatusCode::NotAllowed),
        };
        if create && !first_spec.access.allows(Command::Add) {
            return Err(StatusCode::NotAllowed);
        }
        let leaf_spec = match leaf {
            Some(row) => {
                let s = schema.get(usize::from(row)).ok_or(StatusCode::NotAllowed)?;
                if !s.access.allows(Command::Add) || s.is_interior() {
                    return Err(StatusCode::NotAllowed);
                }
                Some(s)
            }
            None => None,
        };
        let parent_path = path.get(..at.saturating_sub(1)).unwrap_or("");
        self.require(parent_path, Command::Add, server)?;
        let value = match leaf_spec {
            Some(s) => Some(convert(s, item)?),
            None if matches!(item.format, None | Some(Format::Node)) => None,
            None => return Err(StatusCode::UnsupportedMediaType),
        };
        // The unit that will change, and its path.
        let (unit_row, unit_name) = if create {
            (first, entry_name)
        } else {
            walk.unit.ok_or(StatusCode::NotAllowed)?
        };
        let entry_path = path.get(..at + entry_name.len()).unwrap_or(path);
        let auto_acl = create
            && !self
                .acls
                .effective(parent_path)
                .allows(Command::Replace, server);
        let mut acl_buf: heapless::String<200> = heapless::String::new();
        if auto_acl {
            for cmd in ["Add=", "&Delete=", "&Replace="] {
                acl_buf
                    .push_str(cmd)
                    .and_then(|_| acl_buf.push_str(server))
                    .map_err(|_| StatusCode::DeviceFull)?;
            }
            Acl::parse(&acl_buf)?;
            if !self.acls.has_room(entry_path, &acl_buf) {
                return Err(StatusCode::DeviceFull);
            }
        }
        if let Some(log) = undo {
            self.obj(mount)
                .snapshot(usize::from(unit_row), unit_name, log, mount as u8)?;
            if create {
                self.snapshot_acls(entry_path, log)?;
            }
        }
        if create {
            self.obj_mut(mount)
                .create(usize::from(first), &parent, entry_name)?;
        }
        let external = match self.write_value(mount, path, value) {
            Ok(external) => external,
            Err(code) => {
                if create {
                    // Take the new entry away again: the command fails as a whole.
                    if let Ok(Place::In(m, node)) = self.find(entry_path).map(|w| w.place) {
                        let _ = self.obj_mut(m).remove(&node);
                    }
                }
                return Err(code);
            }
        };
        if create {
            // ACLs left below a node of this name by an earlier one are stale.
            self.acls.remove_subtree(entry_path);
            if auto_acl {
                self.acls.set(entry_path, &acl_buf)?;
            }
        }
        Ok(if external {
            Written::External { package: unit_name }
        } else {
            Written::Stored
        })
    }

    /// Replace: a leaf's value, or the `ACL` property. Never creates.
    ///
    /// Codes: 404 missing node or absent leaf; 405 interior node, read-only node (`Status`,
    /// `State`, DevInfo...), or a property other than `ACL` (renaming is 406: not
    /// offered); 425 no Replace right (for an ACL: on the node if interior, or on its
    /// parent); 400 malformed ACL; 405 an ACL on the root that drops `Add=*`; 415/400/413
    /// the value; 420 full; 507 the undo log is full.
    pub fn replace<'u>(
        &mut self,
        server: &str,
        uri: &'u str,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Written<'u>, StatusCode> {
        let uri = Uri::parse_limited(uri, &self.limits())?;
        let path = uri.path();
        let walk = self.walk(path)?;
        if walk.stop.is_some() {
            return Err(StatusCode::NotFound);
        }
        match uri.query() {
            None => {}
            Some(Query::List(_)) => return Err(StatusCode::OptionalFeatureNotSupported),
            Some(Query::Prop(Property::Acl)) => {
                return self
                    .replace_acl(server, &uri, walk.place, item, undo)
                    .map(|_| Written::Stored);
            }
            Some(Query::Prop(Property::Name)) => {
                let dynamic = self.spec_at(walk.place).is_some_and(|s| s.is_dynamic());
                return Err(if dynamic {
                    StatusCode::OptionalFeatureNotSupported
                } else {
                    StatusCode::NotAllowed
                });
            }
            Some(Query::Prop(Property::Title | Property::TStamp | Property::VerNo)) => {
                return Err(StatusCode::OptionalFeatureNotSupported);
            }
            Some(Query::Prop(_)) => return Err(StatusCode::NotAllowed),
        }
        let Place::In(mount, node) = walk.place else {
            return Err(StatusCode::NotAllowed);
        };
        let spec = self.spec(mount, &node).ok_or(StatusCode::NotFound)?;
        if spec.is_interior() || !spec.access.allows(Command::Replace) {
            return Err(StatusCode::NotAllowed);
        }
        self.require(path, Command::Replace, server)?;
        let value = convert(spec, item)?;
        let (unit_row, unit_name) = walk.unit.ok_or(StatusCode::NotAllowed)?;
        if let Some(log) = undo {
            self.obj(mount)
                .snapshot(usize::from(unit_row), unit_name, log, mount as u8)?;
        }
        Ok(if self.write_value(mount, path, Some(value))? {
            Written::External { package: unit_name }
        } else {
            Written::Stored
        })
    }

    /// Delete: a dynamic node and everything below it (with the ACLs set there).
    ///
    /// Codes: 404 missing; 405 a permanent node, the root, an MO root, a property; 425 no
    /// Delete right; 507 the undo log is full.
    pub fn delete(
        &mut self,
        server: &str,
        uri: &str,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<(), StatusCode> {
        let uri = Uri::parse_limited(uri, &self.limits())?;
        let walk = self.find(uri.path())?;
        if uri.query().is_some() {
            return Err(StatusCode::NotAllowed);
        }
        let Place::In(mount, node) = walk.place else {
            return Err(StatusCode::NotAllowed);
        };
        let spec = self.spec(mount, &node).ok_or(StatusCode::NotFound)?;
        if !spec.access.allows(Command::Delete) {
            return Err(StatusCode::NotAllowed);
        }
        self.require(uri.path(), Command::Delete, server)?;
        let (unit_row, unit_name) = walk.unit.ok_or(StatusCode::NotAllowed)?;
        if let Some(log) = undo {
            self.obj(mount)
                .snapshot(usize::from(unit_row), unit_name, log, mount as u8)?;
            self.snapshot_acls(uri.path(), log)?;
        }
        self.obj_mut(mount).remove(&node)?;
        self.acls.remove_subtree(uri.path());
        Ok(())
    }

    /// Exec: checks the node and hands the request to `handler`, whose code is the
    /// Exec's status.
    ///
    /// Codes before the handler: 404 missing; 405 not executable (or a property); 425 no
    /// Exec right.
    pub fn exec(
        &self,
        server: &str,
        uri: &str,
        correlator: Option<&str>,
        data: Option<&[u8]>,
        handler: &mut dyn ExecHandler,
    ) -> StatusCode {
        match self.exec_request(server, uri, correlator, data) {
            Ok(request) => handler.exec(&request),
            Err(code) => code,
        }
    }

    fn exec_request<'a>(
        &'a self,
        server: &'a str,
        uri: &'a str,
        correlator: Option<&'a str>,
        data: Option<&'a [u8]>,
    ) -> Result<ExecRequest<'a>, StatusCode> {
        let uri = Uri::parse_limited(uri, &self.limits())?;
        let place = self.find(uri.path())?.place;
        if uri.query().is_some() {
            return Err(StatusCode::NotAllowed);
        }
        let Place::In(mount, node) = place else {
            return Err(StatusCode::NotAllowed);
        };
        if !self
            .spec(mount, &node)
            .is_some_and(|s| s.access.allows(Command::Exec))
        {
            return Err(StatusCode::NotAllowed);
        }
        self.require(uri.path(), Command::Exec, server)?;
        let op = match mount {
            Mount::Scomo => self.scomo.op(node.spec, node.at(0)),
            _ => None,
        }
        .ok_or(StatusCode::NotAllowed)?;
        Ok(ExecRequest {
            server,
            uri,
            correlator,
            data,
            op,
        })
    }

    /// Rolls back every change recorded in `undo` (newest first) and empties it. 516 if a
    /// record cannot be applied (the tree may then be partly rolled back).
    pub fn rollback(&mut self, undo: &mut UndoLog<'_>) -> Result<(), StatusCode> {
        let mut result = Ok(());
        while let Some(r) = undo.pop_with(|tag, payload| self.restore(tag, payload)) {
            if r.is_err() {
                result = Err(StatusCode::AtomicRollbackFailed);
            }
        }
        result
    }

    fn restore(&mut self, tag: u8, payload: &[u8]) -> Result<(), StatusCode> {
        if tag == ACL_TAG {
            let (&[lo, hi], rest) = payload
                .split_first_chunk::<2>()
                .ok_or(StatusCode::AtomicRollbackFailed)?;
            let (path, acl) = rest
                .split_at_checked(usize::from(u16::from_le_bytes([lo, hi])))
                .ok_or(StatusCode::AtomicRollbackFailed)?;
            let path = core::str::from_utf8(path).map_err(|_| StatusCode::AtomicRollbackFailed)?;
            let acl = core::str::from_utf8(acl).map_err(|_| StatusCode::AtomicRollbackFailed)?;
            return self
                .acls
                .set(path, acl)
                .map_err(|_| StatusCode::AtomicRollbackFailed);
        }
        let mount = MOUNTS
            .get(usize::from(tag))
            .copied()
            .ok_or(StatusCode::AtomicRollbackFailed)?;
        self.obj_mut(mount).restore(payload)
    }

    /// Writes the state a server can change, for the persistence layer: the SCOMO
    /// inventory, the DM account and the ACLs, as one CBOR array.
    pub fn encode_state<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(3)?;
        self.scomo.encode(e)?;
        self.dmacc.encode(e)?;
        self.acls.encode(e)
    }

    /// Reads what [`Tree::encode_state`] wrote and puts it in place. The SCOMO object is
    /// decoded straight into the tree (it is most of the tree's size: a decoded copy would
    /// cost that much stack again, which a microcontroller booting does not have).
    ///
    /// On an error (corrupt bytes, more entries than this tree holds) the DM account and
    /// the ACLs are unchanged and the SCOMO object holds no entries (its version kept),
    /// so a corrupt record never leaves part of an inventory behind.
    pub fn decode_state(&mut self, d: &mut Decoder<'_>) -> Result<(), decode::Error> {
        if d.array()? != Some(3) {
            return Err(decode::Error::message("tree state is not a 3-array"));
        }
        let input = d.input();
        let scomo_at = d.position();
        d.skip()?;
        let dmacc = DmAcc::decode(d)?;
        let acls = AclStore::decode(d)?;
        let mut scomo = Decoder::new(input);
        scomo.set_position(scomo_at);
        self.scomo.decode_into(&mut scomo)?;
        self.dmacc = dmacc;
        self.acls = acls;
        Ok(())
    }

    // ----- internals -----

    fn root_of(&self, m: Mount) -> &str {
        match m {
            Mount::DevInfo => "DevInfo",
            Mount::DevDetail => "DevDetail",
            Mount::DmAcc => "DMAcc",
            Mount::Scomo => &self.scomo_root,
        }
    }

    fn obj(&self, m: Mount) -> &dyn Object {
        match m {
            Mount::DevInfo => &self.devinfo,
            Mount::DevDetail => &self.devdetail,
            Mount::DmAcc => &self.dmacc,
            Mount::Scomo => &self.scomo,
        }
    }

    fn obj_mut(&mut self, m: Mount) -> &mut dyn Object {
        match m {
            Mount::DevInfo => &mut self.devinfo,
            Mount::DevDetail => &mut self.devdetail,
            Mount::DmAcc => &mut self.dmacc,
            Mount::Scomo => &mut self.scomo,
        }
    }

    fn spec(&self, m: Mount, node: &Node) -> Option<&'static NodeSpec> {
        self.obj(m).schema().get(usize::from(node.spec))
    }

    fn spec_at(&self, place: Place) -> Option<&'static NodeSpec> {
        match place {
            Place::In(m, node) => self.spec(m, &node),
            Place::Above => None,
        }
    }

    fn type_of(&self, place: Place) -> &'static str {
        match place {
            Place::In(m, node) if node.spec == 0 => self.obj(m).mo_type(),
            Place::In(m, node) => self.spec(m, &node).map_or("", |s| s.mime),
            Place::Above => "",
        }
    }

    /// 425 unless `server` holds `cmd` in the ACL that governs `path`.
    fn require(&self, path: &str, cmd: Command, server: &str) -> Result<(), StatusCode> {
        if self.acls.effective(path).allows(cmd, server) {
            Ok(())
        } else {
            Err(StatusCode::PermissionDenied)
        }
    }

    /// Walks `path` as far as it exists.
    fn walk<'p>(&self, path: &'p str) -> Result<Walk<'p>, StatusCode> {
        for m in MOUNTS {
            let root = self.root_of(m);
            if !within(path, root) {
                continue;
            }
            let obj = self.obj(m);
            let mut node = Node::ROOT;
            let mut unit = None;
            let mut at = root.len() + 1;
            let rel = path.get(root.len()..).unwrap_or("");
            for seg in rel.split('/').filter(|s| !s.is_empty()) {
                match step(obj, &node, seg) {
                    Step::Found(next) => {
                        if unit.is_none()
                            && obj
                                .schema()
                                .get(usize::from(next.spec))
                                .is_some_and(|s| s.is_dynamic())
                        {
                            unit = Some((next.spec, seg));
                        }
                        node = next;
                    }
                    other => {
                        return Ok(Walk {
                            place: Place::In(m, node),
                            unit,
                            stop: Some((other, at)),
                        });
                    }
                }
                at += seg.len() + 1;
            }
            return Ok(Walk {
                place: Place::In(m, node),
                unit,
                stop: None,
            });
        }
        if MOUNTS.iter().any(|&m| within(self.root_of(m), path)) {
            return Ok(Walk {
                place: Place::Above,
                unit: None,
                stop: None,
            });
        }
        // Above the mounts, the only nodes are prefixes of the mount roots.
        let at = path.rfind('/').map_or(0, |i| i + 1);
        Ok(Walk {
            place: Place::Above,
            unit: None,
            stop: Some((Step::Unknown, at)),
        })
    }

    /// The existing node at `path`, or 404.
    fn find<'p>(&self, path: &'p str) -> Result<Walk<'p>, StatusCode> {
        let walk = self.walk(path)?;
        if walk.stop.is_some() {
            return Err(StatusCode::NotFound);
        }
        Ok(walk)
    }

    /// The row of leaf `name` below dynamic row `row`; 405 when there is none.
    fn leaf_row(&self, m: Mount, row: u8, name: &str) -> Result<u8, StatusCode> {
        let obj = self.obj(m);
        obj.schema()
            .iter()
            .enumerate()
            .position(|(i, s)| s.parent == row && i != 0 && s.name == name && obj.offers(i))
            .and_then(|i| u8::try_from(i).ok())
            .ok_or(StatusCode::NotAllowed)
    }

    /// Writes `value` to the leaf at `path` (which now exists as a row). `None`: nothing
    /// to write (an interior node was added). `true` when the value lives outside the tree
    /// and the caller must route it.
    fn write_value(
        &mut self,
        m: Mount,
        path: &str,
        value: Option<Value<'_>>,
    ) -> Result<bool, StatusCode> {
        let Some(value) = value else {
            return Ok(false);
        };
        if let Value::External(_) = value {
            return Ok(true);
        }
        let walk = self.walk(path)?;
        let node = match (walk.place, walk.stop) {
            (Place::In(_, parent), Some((Step::Absent(row), _))) => parent.child(row, None),
            (Place::In(_, node), None) => Some(node),
            _ => None,
        }
        .ok_or(StatusCode::NotFound)?;
        self.obj_mut(m).write(&node, value)?;
        Ok(false)
    }

    /// Records the ACLs set at or below `path` (and whether `path` itself has none).
    fn snapshot_acls(&self, path: &str, log: &mut UndoLog<'_>) -> Result<(), StatusCode> {
        let mut at_path = false;
        for (p, acl) in self.acls.iter().filter(|(p, _)| within(p, path)) {
            at_path |= p == path;
            push_acl(log, p, acl)?;
        }
        if !at_path {
            push_acl(log, path, "")?;
        }
        Ok(())
    }

    fn replace_acl(
        &mut self,
        server: &str,
        uri: &Uri<'_>,
        place: Place,
        item: Item<'_>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<(), StatusCode> {
        let path = uri.path();
        let interior = self.spec_at(place).is_none_or(|s| s.is_interior());
        let parent_right = uri.parent().is_some_and(|p| {
            self.acls
                .effective(p.path())
                .allows(Command::Replace, server)
        });
        let own_right = (interior || uri.is_root())
            && self.acls.effective(path).allows(Command::Replace, server);
        if !parent_right && !own_right {
            return Err(StatusCode::PermissionDenied);
        }
        if !matches!(item.format, None | Some(Format::Chr)) {
            return Err(StatusCode::UnsupportedMediaType);
        }
        let text = core::str::from_utf8(item.data).map_err(|_| StatusCode::BadRequest)?;
        let acl = Acl::parse(text)?;
        if uri.is_root() && !acl.servers(Command::Add).any(|s| s == "*") {
            return Err(StatusCode::NotAllowed);
        }
        if !self.acls.has_room(path, text) {
            return Err(StatusCode::DeviceFull);
        }
        if let Some(log) = undo
            && !log
                .records()
                .any(|(t, r)| t == ACL_TAG && acl_record_path(r) == Some(path))
        {
            push_acl(log, path, self.acls.get(path).unwrap_or(""))?;
        }
        self.acls.set(path, text)
    }

    fn get_prop(
        &self,
        place: Place,
        uri: &Uri<'_>,
        prop: Property,
        out: &mut Out<'_>,
    ) -> Result<(), StatusCode> {
        let spec = self.spec_at(place);
        match prop {
            Property::Acl => {
                let own = self.acls.get(uri.path());
                let acl = match own {
                    None if uri.is_root() => ROOT_DEFAULT_ACL,
                    other => other.unwrap_or(""),
                };
                out.put(acl.as_bytes())
            }
            Property::Format => out.put(spec.map_or(Format::Node, |s| s.format).name().as_bytes()),
            Property::Type => out.put(self.type_of(place).as_bytes()),
            Property::Name => out.put(uri.name().as_bytes()),
            Property::Size => {
                let (Place::In(m, node), Some(s)) = (place, spec) else {
                    return Err(StatusCode::OptionalFeatureNotSupported);
                };
                if s.is_interior() {
                    return Err(StatusCode::OptionalFeatureNotSupported);
                }
                if !s.access.allows(Command::Get) && s.format != Format::Bin {
                    return Err(StatusCode::NotAllowed);
                }
                let size = match self.obj(m).read(&node).ok_or(StatusCode::NotFound)? {
                    Value::Text(t) => t.len(),
                    Value::Bytes(b) if s.access.allows(Command::Get) => b.len(),
                    Value::Bytes(_) => return Err(StatusCode::NotAllowed),
                    Value::External(n) => n as usize,
                    Value::Int(n) => {
                        let mut tmp = [0u8; 20];
                        let mut o = Out {
                            buf: &mut tmp,
                            len: 0,
                        };
                        o.int(n)?;
                        o.len
                    }
                    Value::Bool(b) => {
                        if b {
                            4
                        } else {
                            5
                        }
                    }
                    Value::Null => 0,
                };
                out.int(size as i64)
            }
            Property::Title | Property::TStamp | Property::VerNo => {
                Err(StatusCode::OptionalFeatureNotSupported)
            }
        }
    }

    /// Writes the child names of an interior node, joined by `/`.
    fn children(&self, place: Place, path: &str, out: &mut Out<'_>) -> Result<(), StatusCode> {
        match place {
            Place::Above => {
                let mut seen: heapless::Vec<&str, 4> = heapless::Vec::new();
                for m in MOUNTS {
                    let root = self.root_of(m);
                    let below = if path.is_empty() {
                        root
                    } else {
                        root.get(path.len() + 1..).unwrap_or("")
                    };
                    if !within(root, path) || root == path {
                        continue;
                    }
                    let name = below.split('/').next().unwrap_or("");
                    if !seen.contains(&name) {
                        let _ = seen.push(name);
                        out.child(name)?;
                    }
                }
                Ok(())
            }
            Place::In(m, node) => {
                let obj = self.obj(m);
                for (i, s) in obj.schema().iter().enumerate().skip(1) {
                    if s.parent != node.spec || !obj.offers(i) {
                        continue;
                    }
                    if s.is_dynamic() {
                        let mut k = 0;
                        while let Some(name) = obj.instance(i, &node, k) {
                            out.child(name)?;
                            k += 1;
                        }
                    } else {
                        let present = s.is_interior()
                            || u8::try_from(i)
                                .ok()
                                .and_then(|r| node.child(r, None))
                                .is_some_and(|c| obj.read(&c).is_some());
                        if present {
                            out.child(s.name)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn push_acl(log: &mut UndoLog<'_>, path: &str, acl: &str) -> Result<(), StatusCode> {
    let len = u16::try_from(path.len()).map_err(|_| StatusCode::AtomicFailed)?;
    log.push(ACL_TAG, |buf| {
        let n = 2 + path.len() + acl.len();
        let dst = buf.get_mut(..n)?;
        let (head, rest) = dst.split_at_mut(2);
        head.copy_from_slice(&len.to_le_bytes());
        let (p, a) = rest.split_at_mut(path.len());
        p.copy_from_slice(path.as_bytes());
        a.copy_from_slice(acl.as_bytes());
        Some(n)
    })
}

fn acl_record_path(record: &[u8]) -> Option<&str> {
    let (&[lo, hi], rest) = record.split_first_chunk::<2>()?;
    core::str::from_utf8(rest.get(..usize::from(u16::from_le_bytes([lo, hi])))?).ok()
}

/// One step from `node` to its child named `seg`.
fn step(obj: &dyn Object, node: &Node, seg: &str) -> Step {
    let schema = obj.schema();
    if !schema
        .get(usize::from(node.spec))
        .is_some_and(|s| s.is_interior())
    {
        return Step::Unknown;
    }
    let mut dynamic = None;
    for (i, s) in schema.iter().enumerate().skip(1) {
        let Ok(row) = u8::try_from(i) else { break };
        if s.parent != node.spec || !obj.offers(i) {
            continue;
        }
        if s.is_dynamic() {
            dynamic = Some(row);
        } else if s.name == seg {
            let Some(child) = node.child(row, None) else {
                return Step::Unknown;
            };
            if !s.is_interior() && obj.read(&child).is_none() {
                return Step::Absent(row);
            }
            return Step::Found(child);
        }
    }
    let Some(row) = dynamic else {
        return Step::Unknown;
    };
    let mut k = 0;
    while let Some(name) = obj.instance(usize::from(row), node, k) {
        if name == seg {
            return u8::try_from(k)
                .ok()
                .and_then(|k| node.child(row, Some(k)))
                .map_or(Step::Unknown, Step::Found);
        }
        k += 1;
    }
    Step::Absent(row)
}

/// Checks `item` against the leaf `spec` and turns it into a value: 415 for a different
/// `Meta/Format`, 400 for bytes that do not parse in the format, 413 when too long.
fn convert<'a>(spec: &NodeSpec, item: Item<'a>) -> Result<Value<'a>, StatusCode> {
    if item.format.is_some_and(|f| f != spec.format) {
        return Err(StatusCode::UnsupportedMediaType);
    }
    let text = || core::str::from_utf8(item.data).map_err(|_| StatusCode::BadRequest);
    let value = match spec.format {
        Format::Int => Value::Int(text()?.parse::<i64>().map_err(|_| StatusCode::BadRequest)?),
        Format::Bool => match text()? {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(StatusCode::BadRequest),
        },
        Format::Null if item.data.is_empty() => Value::Null,
        Format::Null => return Err(StatusCode::BadRequest),
        Format::Bin if spec.max_len == 0 => Value::External(0),
        Format::Bin => Value::Bytes(item.data),
        Format::Node => return Err(StatusCode::NotAllowed),
        _ => Value::Text(text()?),
    };
    if matches!(value, Value::Text(_) | Value::Bytes(_))
        && item.data.len() > usize::from(spec.max_len)
    {
        return Err(StatusCode::RequestEntityTooLarge);
    }
    Ok(value)
}

/// A Get result being written into the caller's buffer; 413 when it does not fit.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), StatusCode> {
        let end = self.len + bytes.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(StatusCode::RequestEntityTooLarge)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn child(&mut self, name: &str) -> Result<(), StatusCode> {
        if self.len != 0 {
            self.put(b"/")?;
        }
        self.put(name.as_bytes())
    }

    fn int(&mut self, n: i64) -> Result<(), StatusCode> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n.unsigned_abs();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        if n < 0 {
            self.put(b"-")?;
        }
        self.put(digits.get(i..).unwrap_or(&[]))
    }

    fn value(&mut self, value: Value<'_>) -> Result<(), StatusCode> {
        match value {
            Value::Text(t) => self.put(t.as_bytes()),
            Value::Bytes(b) => self.put(b),
            Value::Int(n) => self.int(n),
            Value::Bool(true) => self.put(b"true"),
            Value::Bool(false) => self.put(b"false"),
            Value::Null => Ok(()),
            Value::External(_) => Err(StatusCode::NotAllowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::schema::{AccessTypes, Occurrence};

    fn leaf(format: Format, max_len: u16) -> NodeSpec {
        NodeSpec::leaf("L", 0, format, Occurrence::One, AccessTypes::GAR, max_len)
    }

    #[test]
    fn values_are_checked_against_the_node_format() {
        let b = leaf(Format::Bool, 0);
        assert_eq!(convert(&b, Item::new(b"true")), Ok(Value::Bool(true)));
        assert_eq!(convert(&b, Item::new(b"false")), Ok(Value::Bool(false)));
        // A bool is `true` or `false`, nothing else: 400.
        for bad in [&b"TRUE"[..], b"1", b"", b"yes"] {
            assert_eq!(convert(&b, Item::new(bad)), Err(StatusCode::BadRequest));
        }
        let i = leaf(Format::Int, 0);
        assert_eq!(convert(&i, Item::new(b"-42")), Ok(Value::Int(-42)));
        assert_eq!(convert(&i, Item::new(b"4x")), Err(StatusCode::BadRequest));
        assert_eq!(
            convert(&i, Item::chr("42")),
            Err(StatusCode::UnsupportedMediaType)
        );
        let n = leaf(Format::Null, 0);
        assert_eq!(convert(&n, Item::new(b"")), Ok(Value::Null));
        assert_eq!(convert(&n, Item::new(b"x")), Err(StatusCode::BadRequest));
        let c = leaf(Format::Chr, 3);
        assert_eq!(convert(&c, Item::new(b"abc")), Ok(Value::Text("abc")));
        assert_eq!(
            convert(&c, Item::new(b"abcd")),
            Err(StatusCode::RequestEntityTooLarge)
        );
        assert_eq!(convert(&c, Item::new(&[0xc3])), Err(StatusCode::BadRequest));
    }

    #[test]
    fn integers_print_in_decimal() {
        let mut buf = [0u8; 24];
        for (n, text) in [
            (0i64, "0"),
            (10, "10"),
            (-7, "-7"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            let mut out = Out {
                buf: &mut buf,
                len: 0,
            };
            out.int(n).unwrap();
            let len = out.len;
            assert_eq!(&buf[..len], text.as_bytes());
        }
    }

    #[test]
    fn default_tree_fits_its_ram_share() {
        // DESIGN.md budgets 12 KiB static RAM for the whole core, 4 KiB of it message
        // buffers; the default tree must leave room for the rest.
        assert!(core::mem::size_of::<Tree>() <= 5 * 1024);
    }
}
