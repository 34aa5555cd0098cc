//! The SCOMO management object (digest section 2): `Download/<X>`,
//! `Inventory/Delivered/<X>`, `Inventory/Deployed/<X>`, their leaves and `Operations`.
//!
//! Who may do what (the table's access types): the server may Add, Replace and Delete
//! `Download/<X>` and `Inventory/Delivered/<X>` and Add/Replace their descriptive leaves;
//! `Inventory/Deployed/<X>` is created and removed by the device only; every `Status` and
//! `State` is maintained by the device (server Replace: 405). `Delivered/<X>/Data` holds
//! the package bytes *outside* the tree: an Add or Replace of it answers
//! [`Written::External`](crate::tree::Written::External) and the protocol engine streams
//! the bytes to the component store, then records the size with
//! [`DeliveredEntry::set_data`].

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::mo::fields::Fields;
use crate::mo::values::{
    DeliveredState, DeliveredStatus, DeployedState, DeployedStatus, DownloadStatus,
};
use crate::mo::{encode_into, leaf_enum, node_name};
use crate::tree::format::Format;
use crate::tree::schema::{AccessTypes as A, DYNAMIC, Node, NodeSpec, Object, Occurrence, Value};
use crate::tree::undo::UndoLog;

use crate::tree::Occurrence::{One, ZeroOrMore, ZeroOrOne};

/// Longest name of a dynamic node (`Download/<X>`, ...), in bytes.
pub const NAME_CAP: usize = 32;
/// The name of a dynamic node.
pub type NodeName = heapless::String<NAME_CAP, u8>;

/// Bytes shared by the optional leaves of one `Download/<X>` entry.
pub const DOWNLOAD_BYTES: usize = 384;
/// Bytes shared by the optional leaves of one `Inventory/Delivered/<X>` entry.
pub const DELIVERED_BYTES: usize = 224;
/// Bytes shared by the optional leaves of one `Inventory/Deployed/<X>` entry.
pub const DEPLOYED_BYTES: usize = 160;

/// The SCOMO MO version, which sets the root's `Type` (its MO identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MoVersion {
    /// `urn:oma:mo:oma-scomo:1.0`.
    #[default]
    V1_0,
    /// `urn:oma:mo:oma-scomo:1.1` (adds `Download/<X>/Reboot`).
    V1_1,
}

impl MoVersion {
    /// The MO identifier.
    pub const fn urn(self) -> &'static str {
        match self {
            MoVersion::V1_0 => "urn:oma:mo:oma-scomo:1.0",
            MoVersion::V1_1 => "urn:oma:mo:oma-scomo:1.1",
        }
    }

    /// The version whose MO identifier is `urn`.
    pub fn from_urn(urn: &str) -> Option<Self> {
        [MoVersion::V1_0, MoVersion::V1_1]
            .into_iter()
            .find(|v| v.urn() == urn)
    }
}

const fn chr(name: &'static str, parent: u8, occ: Occurrence, access: A, max: u16) -> NodeSpec {
    NodeSpec::leaf(name, parent, Format::Chr, occ, access, max)
}
const fn int(name: &'static str, parent: u8) -> NodeSpec {
    NodeSpec::leaf(name, parent, Format::Int, One, A::GET, 0)
}
const fn exec(name: &'static str, parent: u8) -> NodeSpec {
    NodeSpec::leaf(name, parent, Format::Null, One, A::GE, 0)
}
const fn node(name: &'static str, parent: u8, occ: Occurrence, access: A) -> NodeSpec {
    NodeSpec::interior(name, parent, occ, access)
}

// Rows the code refers to by number; the table below is the one place for names.
const DOWNLOAD: u8 = 1;
const DL_ENTRY: u8 = 2;
const DL_STATUS: u8 = 9;
const DL_OPS: u8 = 12;
const DL_EXT: u8 = 16;
const DV_ENTRY: u8 = 19;
const DV_DATA: u8 = 21;
const DV_STATUS: u8 = 27;
const DV_STATE: u8 = 28;
const DV_OPS: u8 = 29;
const DV_EXT: u8 = 33;
const DP_ENTRY: u8 = 35;
const DP_STATE: u8 = 42;
const DP_STATUS: u8 = 43;
const DP_OPS: u8 = 44;
const DP_EXT: u8 = 48;
const REBOOT: u8 = 7;
const DL_SHA256: u8 = 50;

/// The SCOMO node table (digest 2.2, 2.3). Row 0 is the SCOMO root.
pub static SCOMO_SCHEMA: [NodeSpec; 51] = [
    node(".", 0, One, A::GET),
    node("Download", 0, One, A::GET),
    node(DYNAMIC, DOWNLOAD, ZeroOrMore, A::GARD),
    chr("PkgID", DL_ENTRY, One, A::GAR, 64),
    chr("Name", DL_ENTRY, ZeroOrOne, A::GAR, 64),
    chr("PkgURL", DL_ENTRY, One, A::GAR, 300),
    chr("InstallParams", DL_ENTRY, ZeroOrOne, A::GAR, 128),
    chr("Reboot", DL_ENTRY, ZeroOrOne, A::GAR, 16),
    chr("Description", DL_ENTRY, ZeroOrOne, A::GAR, 128),
    int("Status", DL_ENTRY),
    chr("EnvType", DL_ENTRY, ZeroOrOne, A::GAR, 32),
    chr("PkgType", DL_ENTRY, ZeroOrOne, A::GAR, 64),
    node("Operations", DL_ENTRY, One, A::GET),
    exec("Download", DL_OPS),
    exec("DownloadInstall", DL_OPS),
    exec("DownloadInstallInactive", DL_OPS),
    node("Ext", DL_ENTRY, ZeroOrOne, A::GET),
    node("Inventory", 0, One, A::GET),
    node("Delivered", 17, One, A::GET),
    node(DYNAMIC, 18, ZeroOrMore, A::GARD),
    chr("PkgID", DV_ENTRY, One, A::GAR, 64),
    NodeSpec {
        mime: "application/octet-stream",
        ..NodeSpec::leaf("Data", DV_ENTRY, Format::Bin, ZeroOrOne, A::AR, 0)
    },
    chr("Name", DV_ENTRY, ZeroOrOne, A::GAR, 64),
    chr("Description", DV_ENTRY, ZeroOrOne, A::GAR, 128),
    chr("InstallParams", DV_ENTRY, ZeroOrOne, A::GAR, 128),
    chr("EnvType", DV_ENTRY, ZeroOrOne, A::GAR, 32),
    chr("PkgType", DV_ENTRY, ZeroOrOne, A::GAR, 64),
    int("Status", DV_ENTRY),
    int("State", DV_ENTRY),
    node("Operations", DV_ENTRY, One, A::GET),
    exec("Install", DV_OPS),
    exec("InstallInactive", DV_OPS),
    exec("Remove", DV_OPS),
    node("Ext", DV_ENTRY, ZeroOrOne, A::GET),
    node("Deployed", 17, One, A::GET),
    node(DYNAMIC, 34, ZeroOrMore, A::GET),
    chr("ID", DP_ENTRY, One, A::GET, 64),
    chr("PkgIDRef", DP_ENTRY, ZeroOrOne, A::GET, 64),
    chr("Name", DP_ENTRY, ZeroOrOne, A::GET, 64),
    chr("Description", DP_ENTRY, ZeroOrOne, A::GET, 128),
    chr("Version", DP_ENTRY, ZeroOrOne, A::GET, 32),
    chr("EnvType", DP_ENTRY, ZeroOrOne, A::GET, 32),
    int("State", DP_ENTRY),
    int("Status", DP_ENTRY),
    node("Operations", DP_ENTRY, One, A::GET),
    exec("Activate", DP_OPS),
    exec("Deactivate", DP_OPS),
    exec("Remove", DP_OPS),
    node("Ext", DP_ENTRY, ZeroOrOne, A::GET),
    node("Ext", 0, ZeroOrOne, A::GET),
    // Vendor leaf: the SHA-256 the package fetched from `PkgURL` must have (64 hex digits).
    chr("SHA256", DL_EXT, ZeroOrOne, A::GAR, 64),
];

leaf_enum! {
    /// The text leaves of a `Download/<X>` entry.
    pub enum DownloadLeaf {
        /// `PkgID`: the package identifier.
        PkgId = 3,
        /// `Name`: display name.
        Name = 4,
        /// `PkgURL`: where to fetch the package or its download descriptor.
        PkgUrl = 5,
        /// `InstallParams`: opaque install parameters.
        InstallParams = 6,
        /// `Reboot` (SCOMO 1.1 only).
        Reboot = 7,
        /// `Description`.
        Description = 8,
        /// `EnvType`: target execution environment.
        EnvType = 10,
        /// `PkgType`: MIME type of the package.
        PkgType = 11,
        /// `Ext/SHA256` (vendor): the SHA-256 of the package as 64 hex digits; a download
        /// whose bytes hash otherwise fails with 1407.
        Sha256 = 50,
    }
}

leaf_enum! {
    /// The text leaves of an `Inventory/Delivered/<X>` entry.
    pub enum DeliveredLeaf {
        /// `PkgID`.
        PkgId = 20,
        /// `Name`.
        Name = 22,
        /// `Description`.
        Description = 23,
        /// `InstallParams`.
        InstallParams = 24,
        /// `EnvType`.
        EnvType = 25,
        /// `PkgType`.
        PkgType = 26,
    }
}

leaf_enum! {
    /// The text leaves of an `Inventory/Deployed/<X>` entry.
    pub enum DeployedLeaf {
        /// `ID`: the component identifier (reported as `<Identifier>`).
        Id = 36,
        /// `PkgIDRef`: `PkgID` of the package the component came from.
        PkgIdRef = 37,
        /// `Name`.
        Name = 38,
        /// `Description`.
        Description = 39,
        /// `Version`.
        Version = 40,
        /// `EnvType`.
        EnvType = 41,
    }
}

/// The longest value a text leaf at `row` takes (its table row's limit).
fn max_len(row: u8) -> usize {
    SCOMO_SCHEMA
        .get(usize::from(row))
        .map_or(0, |s| usize::from(s.max_len))
}

/// Sets text leaf `row` of `fields`: 413 over the leaf's limit, 420 when the entry is full.
fn set_text<const N: usize>(
    fields: &mut Fields<N>,
    row: u8,
    value: &str,
) -> Result<(), StatusCode> {
    if value.len() > max_len(row) {
        return Err(StatusCode::RequestEntityTooLarge);
    }
    fields.set(row, value.as_bytes())
}

macro_rules! entry_text_api {
    ($leaf:ident) => {
        /// The node name of the entry.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// The value of a text leaf, `None` when absent.
        pub fn get(&self, leaf: $leaf) -> Option<&str> {
            self.fields.text(leaf.row())
        }

        /// Sets a text leaf: 413 over the leaf's limit, 420 when the entry's
        /// shared budget is full; unchanged on error.
        pub fn set(&mut self, leaf: $leaf, value: &str) -> Result<(), StatusCode> {
            set_text(&mut self.fields, leaf.row(), value)
        }

        /// Makes a text leaf absent.
        pub fn clear(&mut self, leaf: $leaf) {
            self.fields.remove(leaf.row())
        }
    };
}

/// One `Download/<X>`: a package to fetch from `PkgURL` (alternate download).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadEntry {
    name: NodeName,
    status: DownloadStatus,
    fields: Fields<DOWNLOAD_BYTES>,
}

impl DownloadEntry {
    entry_text_api!(DownloadLeaf);

    /// `Status`.
    pub fn status(&self) -> DownloadStatus {
        self.status
    }

    /// Sets `Status` (device-maintained).
    pub fn set_status(&mut self, status: DownloadStatus) {
        self.status = status;
    }

    /// `PkgID`, required before an Exec.
    pub fn pkg_id(&self) -> Option<&str> {
        self.get(DownloadLeaf::PkgId)
    }

    /// `PkgURL`, required before an Exec.
    pub fn pkg_url(&self) -> Option<&str> {
        self.get(DownloadLeaf::PkgUrl)
    }
}

/// One `Inventory/Delivered/<X>`: a package on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredEntry {
    name: NodeName,
    status: DeliveredStatus,
    state: DeliveredState,
    data_size: Option<u32>,
    fields: Fields<DELIVERED_BYTES>,
}

impl DeliveredEntry {
    entry_text_api!(DeliveredLeaf);

    /// `Status`.
    pub fn status(&self) -> DeliveredStatus {
        self.status
    }

    /// Sets `Status` (device-maintained).
    pub fn set_status(&mut self, status: DeliveredStatus) {
        self.status = status;
    }

    /// `State`.
    pub fn state(&self) -> DeliveredState {
        self.state
    }

    /// Sets `State` (device-maintained).
    pub fn set_state(&mut self, state: DeliveredState) {
        self.state = state;
    }

    /// `PkgID`, required before Install.
    pub fn pkg_id(&self) -> Option<&str> {
        self.get(DeliveredLeaf::PkgId)
    }

    /// The size of the package bytes held by the component store for this entry's `Data`
    /// leaf; `None` when `Data` is absent.
    pub fn data_size(&self) -> Option<u32> {
        self.data_size
    }

    /// Records that the component store now holds `size` bytes for `Data` (`None`: no
    /// data). The bytes themselves never live in the tree.
    pub fn set_data(&mut self, size: Option<u32>) {
        self.data_size = size;
    }
}

/// One `Inventory/Deployed/<X>`: an installed component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedEntry {
    name: NodeName,
    status: DeployedStatus,
    state: DeployedState,
    fields: Fields<DEPLOYED_BYTES>,
}

impl DeployedEntry {
    entry_text_api!(DeployedLeaf);

    /// `Status`.
    pub fn status(&self) -> DeployedStatus {
        self.status
    }

    /// Sets `Status` (device-maintained).
    pub fn set_status(&mut self, status: DeployedStatus) {
        self.status = status;
    }

    /// `State`.
    pub fn state(&self) -> DeployedState {
        self.state
    }

    /// Sets `State` (device-maintained).
    pub fn set_state(&mut self, state: DeployedState) {
        self.state = state;
    }

    /// `ID`, the component identifier.
    pub fn id(&self) -> Option<&str> {
        self.get(DeployedLeaf::Id)
    }
}

/// A SCOMO primitive: an `Operations/<name>` node the server Execs (digest 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Primitive {
    /// `Download/<X>/Operations/Download`.
    Download,
    /// `Download/<X>/Operations/DownloadInstall`: components end Active.
    DownloadInstall,
    /// `Download/<X>/Operations/DownloadInstallInactive`: components end Inactive.
    DownloadInstallInactive,
    /// `Inventory/Delivered/<X>/Operations/Install`.
    Install,
    /// `Inventory/Delivered/<X>/Operations/InstallInactive`.
    InstallInactive,
    /// `Inventory/Delivered/<X>/Operations/Remove`.
    RemoveDelivered,
    /// `Inventory/Deployed/<X>/Operations/Activate`.
    Activate,
    /// `Inventory/Deployed/<X>/Operations/Deactivate`.
    Deactivate,
    /// `Inventory/Deployed/<X>/Operations/Remove`.
    RemoveDeployed,
}

impl Primitive {
    /// Each primitive and its executable row, the one map between them.
    const ROWS: [(Primitive, u8); 9] = [
        (Primitive::Download, 13),
        (Primitive::DownloadInstall, 14),
        (Primitive::DownloadInstallInactive, 15),
        (Primitive::Install, 30),
        (Primitive::InstallInactive, 31),
        (Primitive::RemoveDelivered, 32),
        (Primitive::Activate, 45),
        (Primitive::Deactivate, 46),
        (Primitive::RemoveDeployed, 47),
    ];

    /// The name of the node under `Operations`.
    pub fn node_name(self) -> &'static str {
        Self::ROWS
            .iter()
            .find(|(p, _)| *p == self)
            .and_then(|(_, r)| SCOMO_SCHEMA.get(usize::from(*r)))
            .map_or("", |s| s.name)
    }

    fn from_row(row: u8) -> Option<Self> {
        Self::ROWS.iter().find(|(_, r)| *r == row).map(|(p, _)| *p)
    }

    /// Every primitive, in table order.
    pub fn all() -> impl Iterator<Item = Primitive> {
        Self::ROWS.iter().map(|(p, _)| *p)
    }

    /// The kind of entry the primitive runs on.
    pub fn entry_kind(self) -> EntryKind {
        match self {
            Primitive::Download
            | Primitive::DownloadInstall
            | Primitive::DownloadInstallInactive => EntryKind::Download,
            Primitive::Install | Primitive::InstallInactive | Primitive::RemoveDelivered => {
                EntryKind::Delivered
            }
            Primitive::Activate | Primitive::Deactivate | Primitive::RemoveDeployed => {
                EntryKind::Deployed
            }
        }
    }
}

/// The three lists of SCOMO entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EntryKind {
    /// `Download/<X>`.
    Download,
    /// `Inventory/Delivered/<X>`.
    Delivered,
    /// `Inventory/Deployed/<X>`.
    Deployed,
}

impl EntryKind {
    fn row(self) -> u8 {
        match self {
            EntryKind::Download => DL_ENTRY,
            EntryKind::Delivered => DV_ENTRY,
            EntryKind::Deployed => DP_ENTRY,
        }
    }
}

/// The URI of a SCOMO entry, or of one of its operations, for a Generic Alert's Source
/// and Target: prints `./<root>/Inventory/Deployed/<name>` or
/// `./<root>/Download/<name>/Operations/DownloadInstall`.
///
/// ```
/// use scomo::mo::{EntryKind, EntryUri, Primitive};
///
/// let source = EntryUri::operation("SCOMO", Primitive::DownloadInstall, "Pkg1");
/// assert_eq!(source.to_string(), "./SCOMO/Download/Pkg1/Operations/DownloadInstall");
/// let target = EntryUri::entry("SCOMO", EntryKind::Deployed, "Comp1");
/// assert_eq!(target.to_string(), "./SCOMO/Inventory/Deployed/Comp1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryUri<'a> {
    root: &'a str,
    kind: EntryKind,
    name: &'a str,
    op: Option<Primitive>,
}

impl<'a> EntryUri<'a> {
    /// The entry `name` of `kind` under the SCOMO root `root` (a path without `./`).
    pub fn entry(root: &'a str, kind: EntryKind, name: &'a str) -> Self {
        EntryUri {
            root,
            kind,
            name,
            op: None,
        }
    }

    /// The executable node of `op` on entry `name`.
    pub fn operation(root: &'a str, op: Primitive, name: &'a str) -> Self {
        EntryUri {
            root,
            kind: op.entry_kind(),
            name,
            op: Some(op),
        }
    }
}

impl core::fmt::Display for EntryUri<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "./{}", self.root)?;
        // The containers above the entry, from the table: at most two (Inventory/Delivered).
        let mut above: [&str; 2] = [""; 2];
        let mut row = SCOMO_SCHEMA
            .get(usize::from(self.kind.row()))
            .map_or(0, |s| s.parent);
        for slot in above.iter_mut().rev() {
            if row == 0 {
                break;
            }
            let spec = SCOMO_SCHEMA.get(usize::from(row));
            *slot = spec.map_or("", |s| s.name);
            row = spec.map_or(0, |s| s.parent);
        }
        for name in above.iter().filter(|n| !n.is_empty()) {
            write!(f, "/{name}")?;
        }
        write!(f, "/{}", self.name)?;
        if let Some(op) = self.op {
            write!(f, "/Operations/{}", op.node_name())?;
        }
        Ok(())
    }
}

/// The entry a SCOMO Exec targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A `Download/<X>`.
    Download(&'a DownloadEntry),
    /// An `Inventory/Delivered/<X>`.
    Delivered(&'a DeliveredEntry),
    /// An `Inventory/Deployed/<X>`.
    Deployed(&'a DeployedEntry),
}

/// A decoded SCOMO Exec: which primitive on which entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScomoOp<'a> {
    /// The primitive.
    pub primitive: Primitive,
    /// Its entry, for the precondition checks (`PkgID`, `PkgURL`, `Data` present ...).
    pub target: Target<'a>,
}

impl ScomoOp<'_> {
    /// The node name of the target entry.
    pub fn name(&self) -> &str {
        match self.target {
            Target::Download(e) => e.name(),
            Target::Delivered(e) => e.name(),
            Target::Deployed(e) => e.name(),
        }
    }
}

/// The SCOMO object with room for `DL` downloads, `DV` delivered packages and `DP`
/// deployed components.
///
/// ```
/// use scomo::mo::{DeployedLeaf, DeployedState, MoVersion, Scomo};
///
/// let mut scomo: Scomo<2, 2, 4> = Scomo::new(MoVersion::V1_0);
/// let c = scomo.add_deployed("Comp1")?;
/// c.set(DeployedLeaf::Id, "com.example.app")?;
/// c.set_state(DeployedState::Active);
/// assert_eq!(scomo.deployed("Comp1").and_then(|c| c.id()), Some("com.example.app"));
/// # Ok::<(), scomo::codes::StatusCode>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scomo<const DL: usize, const DV: usize, const DP: usize> {
    version: MoVersion,
    downloads: heapless::Vec<DownloadEntry, DL>,
    delivered: heapless::Vec<DeliveredEntry, DV>,
    deployed: heapless::Vec<DeployedEntry, DP>,
}

macro_rules! entry_list_api {
    ($field:ident, $entry:ident, $get:ident, $get_mut:ident, $iter:ident, $remove:ident, $what:literal) => {
        #[doc = concat!("Every ", $what, ", in creation order.")]
        pub fn $iter(&self) -> impl Iterator<Item = &$entry> {
            self.$field.iter()
        }

        #[doc = concat!("The ", $what, " named `name`.")]
        pub fn $get(&self, name: &str) -> Option<&$entry> {
            self.$field.iter().find(|e| e.name == name)
        }

        #[doc = concat!("The ", $what, " named `name`, to change it.")]
        pub fn $get_mut(&mut self, name: &str) -> Option<&mut $entry> {
            self.$field.iter_mut().find(|e| e.name == name)
        }

        #[doc = concat!("Removes the ", $what, " named `name` and returns it. Through the tree, ")]
        #[doc = "prefer [`Tree::device_delete`](crate::tree::Tree::device_delete), which also drops the ACLs set below it."]
        pub fn $remove(&mut self, name: &str) -> Option<$entry> {
            let i = self.$field.iter().position(|e| e.name == name)?;
            Some(self.$field.remove(i))
        }
    };
}

impl<const DL: usize, const DV: usize, const DP: usize> Scomo<DL, DV, DP> {
    /// An empty SCOMO object.
    pub const fn new(version: MoVersion) -> Self {
        Self {
            version,
            downloads: heapless::Vec::new(),
            delivered: heapless::Vec::new(),
            deployed: heapless::Vec::new(),
        }
    }

    /// The MO version.
    pub fn version(&self) -> MoVersion {
        self.version
    }

    entry_list_api!(
        downloads,
        DownloadEntry,
        download,
        download_mut,
        downloads,
        remove_download,
        "`Download/<X>` entry"
    );
    entry_list_api!(
        delivered,
        DeliveredEntry,
        delivered,
        delivered_mut,
        delivered_packages,
        remove_delivered,
        "`Inventory/Delivered/<X>` entry"
    );
    entry_list_api!(
        deployed,
        DeployedEntry,
        deployed,
        deployed_mut,
        deployed_components,
        remove_deployed,
        "`Inventory/Deployed/<X>` entry"
    );

    /// Creates `Download/<name>` with `Status` Idle. 418 if it exists, 420 when full,
    /// 400/414 for a bad name.
    pub fn add_download(&mut self, name: &str) -> Result<&mut DownloadEntry, StatusCode> {
        let name = self.fresh(self.download(name).is_some(), name)?;
        push(
            &mut self.downloads,
            DownloadEntry {
                name,
                status: DownloadStatus::Idle,
                fields: Fields::new(),
            },
        )
    }

    /// Creates `Inventory/Delivered/<name>` with `Status` Idle and `State` Delivered. 418
    /// if it exists, 420 when full, 400/414 for a bad name.
    pub fn add_delivered(&mut self, name: &str) -> Result<&mut DeliveredEntry, StatusCode> {
        let name = self.fresh(self.delivered(name).is_some(), name)?;
        push(
            &mut self.delivered,
            DeliveredEntry {
                name,
                status: DeliveredStatus::Idle,
                state: DeliveredState::Delivered,
                data_size: None,
                fields: Fields::new(),
            },
        )
    }

    /// Creates `Inventory/Deployed/<name>` (device only) with `Status` Idle and `State`
    /// Inactive. 418 if it exists, 420 when full, 400/414 for a bad name.
    pub fn add_deployed(&mut self, name: &str) -> Result<&mut DeployedEntry, StatusCode> {
        let name = self.fresh(self.deployed(name).is_some(), name)?;
        push(
            &mut self.deployed,
            DeployedEntry {
                name,
                status: DeployedStatus::Idle,
                state: DeployedState::Inactive,
                fields: Fields::new(),
            },
        )
    }

    fn fresh(&self, exists: bool, name: &str) -> Result<NodeName, StatusCode> {
        let name = node_name(name)?;
        if exists {
            return Err(StatusCode::AlreadyExists);
        }
        Ok(name)
    }

    /// Decodes the Exec target at row `row` of entry `index`.
    pub(crate) fn op(&self, row: u8, index: usize) -> Option<ScomoOp<'_>> {
        let primitive = Primitive::from_row(row)?;
        let target = match primitive {
            Primitive::Download
            | Primitive::DownloadInstall
            | Primitive::DownloadInstallInactive => Target::Download(self.downloads.get(index)?),
            Primitive::Install | Primitive::InstallInactive | Primitive::RemoveDelivered => {
                Target::Delivered(self.delivered.get(index)?)
            }
            Primitive::Activate | Primitive::Deactivate | Primitive::RemoveDeployed => {
                Target::Deployed(self.deployed.get(index)?)
            }
        };
        Some(ScomoOp { primitive, target })
    }

    /// Writes the object as CBOR: `[version, [download...], [delivered...], [deployed...]]`.
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(4)?.u8(self.version as u8)?;
        e.array(self.downloads.len() as u64)?;
        for x in &self.downloads {
            encode_download(x, e)?;
        }
        e.array(self.delivered.len() as u64)?;
        for x in &self.delivered {
            encode_delivered(x, e)?;
        }
        e.array(self.deployed.len() as u64)?;
        for x in &self.deployed {
            encode_deployed(x, e)?;
        }
        Ok(())
    }

    /// Reads what [`Scomo::encode`] wrote. Unknown values, duplicate names, too many
    /// entries or malformed bytes are errors; nothing panics.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        let mut s = Self::new(MoVersion::V1_0);
        s.decode_into(d)?;
        Ok(s)
    }

    /// Reads what [`Scomo::encode`] wrote into this object, in place (the object is a few
    /// KiB: decoding into a new value would cost that much stack again). On error the
    /// object holds no entries and keeps its version.
    pub fn decode_into(&mut self, d: &mut Decoder<'_>) -> Result<(), decode::Error> {
        self.downloads.clear();
        self.delivered.clear();
        self.deployed.clear();
        let result = self.decode_entries(d);
        if result.is_err() {
            self.downloads.clear();
            self.delivered.clear();
            self.deployed.clear();
        }
        result
    }

    fn decode_entries(&mut self, d: &mut Decoder<'_>) -> Result<(), decode::Error> {
        if d.array()? != Some(4) {
            return Err(decode::Error::message("SCOMO record is not a 4-array"));
        }
        let version = match d.u8()? {
            0 => MoVersion::V1_0,
            1 => MoVersion::V1_1,
            _ => return Err(decode::Error::message("unknown SCOMO version")),
        };
        decode_list(d, &mut self.downloads, decode_download)?;
        decode_list(d, &mut self.delivered, decode_delivered)?;
        decode_list(d, &mut self.deployed, decode_deployed)?;
        self.version = version;
        Ok(())
    }
}

fn push<T, const N: usize>(v: &mut heapless::Vec<T, N>, x: T) -> Result<&mut T, StatusCode> {
    v.push(x).map_err(|_| StatusCode::DeviceFull)?;
    v.last_mut().ok_or(StatusCode::DeviceFull)
}

trait Named {
    fn node_name(&self) -> &str;
}
impl Named for DownloadEntry {
    fn node_name(&self) -> &str {
        &self.name
    }
}
impl Named for DeliveredEntry {
    fn node_name(&self) -> &str {
        &self.name
    }
}
impl Named for DeployedEntry {
    fn node_name(&self) -> &str {
        &self.name
    }
}

fn decode_list<T: Named, const N: usize>(
    d: &mut Decoder<'_>,
    v: &mut heapless::Vec<T, N>,
    one: fn(&mut Decoder<'_>) -> Result<T, decode::Error>,
) -> Result<(), decode::Error> {
    let n = d
        .array()?
        .ok_or(decode::Error::message("indefinite array"))?;
    for _ in 0..n {
        let x = one(d)?;
        if v.iter().any(|e| e.node_name() == x.node_name()) {
            return Err(decode::Error::message("duplicate entry name"));
        }
        v.push(x)
            .map_err(|_| decode::Error::message("more entries than capacity"))?;
    }
    Ok(())
}

fn decode_name(d: &mut Decoder<'_>) -> Result<NodeName, decode::Error> {
    node_name(d.str()?).map_err(|_| decode::Error::message("bad node name"))
}

fn decode_value<T>(d: &mut Decoder<'_>, from: fn(u8) -> Option<T>) -> Result<T, decode::Error> {
    from(d.u8()?).ok_or(decode::Error::message("unknown Status/State value"))
}

/// Whether `value` may be stored under `tag` for an entry whose text leaves are `L`.
fn text_field(tag: u8, value: &[u8], known: fn(u8) -> bool) -> bool {
    known(tag) && value.len() <= max_len(tag) && core::str::from_utf8(value).is_ok()
}

fn encode_download<W: encode::Write>(
    x: &DownloadEntry,
    e: &mut Encoder<W>,
) -> Result<(), encode::Error<W::Error>> {
    e.array(3)?.str(&x.name)?.u8(x.status.value())?;
    x.fields.encode(e)
}

fn decode_download(d: &mut Decoder<'_>) -> Result<DownloadEntry, decode::Error> {
    if d.array()? != Some(3) {
        return Err(decode::Error::message("download entry is not a 3-array"));
    }
    Ok(DownloadEntry {
        name: decode_name(d)?,
        status: decode_value(d, DownloadStatus::from_value)?,
        fields: Fields::decode(d, |t, v| {
            text_field(t, v, |t| DownloadLeaf::from_row(t).is_some())
        })?,
    })
}

fn encode_delivered<W: encode::Write>(
    x: &DeliveredEntry,
    e: &mut Encoder<W>,
) -> Result<(), encode::Error<W::Error>> {
    e.array(5)?
        .str(&x.name)?
        .u8(x.status.value())?
        .u8(x.state.value())?;
    match x.data_size {
        Some(n) => e.u32(n)?,
        None => e.null()?,
    };
    x.fields.encode(e)
}

fn decode_delivered(d: &mut Decoder<'_>) -> Result<DeliveredEntry, decode::Error> {
    if d.array()? != Some(5) {
        return Err(decode::Error::message("delivered entry is not a 5-array"));
    }
    let name = decode_name(d)?;
    let status = decode_value(d, DeliveredStatus::from_value)?;
    let state = decode_value(d, DeliveredState::from_value)?;
    let data_size = if d.datatype()? == minicbor::data::Type::Null {
        d.null()?;
        None
    } else {
        Some(d.u32()?)
    };
    Ok(DeliveredEntry {
        name,
        status,
        state,
        data_size,
        fields: Fields::decode(d, |t, v| {
            text_field(t, v, |t| DeliveredLeaf::from_row(t).is_some())
        })?,
    })
}

fn encode_deployed<W: encode::Write>(
    x: &DeployedEntry,
    e: &mut Encoder<W>,
) -> Result<(), encode::Error<W::Error>> {
    e.array(4)?
        .str(&x.name)?
        .u8(x.status.value())?
        .u8(x.state.value())?;
    x.fields.encode(e)
}

fn decode_deployed(d: &mut Decoder<'_>) -> Result<DeployedEntry, decode::Error> {
    if d.array()? != Some(4) {
        return Err(decode::Error::message("deployed entry is not a 4-array"));
    }
    Ok(DeployedEntry {
        name: decode_name(d)?,
        status: decode_value(d, DeployedStatus::from_value)?,
        state: decode_value(d, DeployedState::from_value)?,
        fields: Fields::decode(d, |t, v| {
            text_field(t, v, |t| DeployedLeaf::from_row(t).is_some())
        })?,
    })
}

/// Which list of entries a row belongs to (the dynamic row at the top of its subtree).
fn list_of(row: u8) -> Option<u8> {
    match row {
        DL_ENTRY..=DL_EXT | DL_SHA256 => Some(DL_ENTRY),
        DV_ENTRY..=DV_EXT => Some(DV_ENTRY),
        DP_ENTRY..=DP_EXT => Some(DP_ENTRY),
        _ => None,
    }
}

impl<const DL: usize, const DV: usize, const DP: usize> Object for Scomo<DL, DV, DP> {
    fn schema(&self) -> &'static [NodeSpec] {
        &SCOMO_SCHEMA
    }

    fn mo_type(&self) -> &'static str {
        self.version.urn()
    }

    fn offers(&self, spec: usize) -> bool {
        spec != usize::from(REBOOT) || self.version == MoVersion::V1_1
    }

    fn instance(&self, spec: usize, _parent: &Node, i: usize) -> Option<&str> {
        match u8::try_from(spec).ok()? {
            DL_ENTRY => self.downloads.get(i).map(|e| e.name()),
            DV_ENTRY => self.delivered.get(i).map(|e| e.name()),
            DP_ENTRY => self.deployed.get(i).map(|e| e.name()),
            _ => None,
        }
    }

    fn read(&self, node: &Node) -> Option<Value<'_>> {
        let row = node.spec;
        let i = node.at(0);
        if SCOMO_SCHEMA.get(usize::from(row))?.format == Format::Null {
            return Some(Value::Null);
        }
        match list_of(row)? {
            DL_ENTRY => {
                let e = self.downloads.get(i)?;
                match row {
                    DL_STATUS => Some(Value::Int(e.status.value().into())),
                    _ => e.fields.text(row).map(Value::Text),
                }
            }
            DV_ENTRY => {
                let e = self.delivered.get(i)?;
                match row {
                    DV_STATUS => Some(Value::Int(e.status.value().into())),
                    DV_STATE => Some(Value::Int(e.state.value().into())),
                    DV_DATA => e.data_size.map(Value::External),
                    _ => e.fields.text(row).map(Value::Text),
                }
            }
            _ => {
                let e = self.deployed.get(i)?;
                match row {
                    DP_STATUS => Some(Value::Int(e.status.value().into())),
                    DP_STATE => Some(Value::Int(e.state.value().into())),
                    _ => e.fields.text(row).map(Value::Text),
                }
            }
        }
    }

    fn write(&mut self, node: &Node, value: Value<'_>) -> Result<(), StatusCode> {
        let row = node.spec;
        let i = node.at(0);
        match (list_of(row), value) {
            (Some(DL_ENTRY), Value::Text(t)) => {
                let e = self.downloads.get_mut(i).ok_or(StatusCode::NotFound)?;
                set_text(&mut e.fields, row, t)
            }
            (Some(DV_ENTRY), Value::Text(t)) => {
                let e = self.delivered.get_mut(i).ok_or(StatusCode::NotFound)?;
                set_text(&mut e.fields, row, t)
            }
            _ => Err(StatusCode::NotAllowed),
        }
    }

    fn create(&mut self, spec: usize, _parent: &Node, name: &str) -> Result<(), StatusCode> {
        match u8::try_from(spec).ok() {
            Some(DL_ENTRY) => self.add_download(name).map(|_| ()),
            Some(DV_ENTRY) => self.add_delivered(name).map(|_| ()),
            _ => Err(StatusCode::NotAllowed),
        }
    }

    fn remove(&mut self, node: &Node) -> Result<(), StatusCode> {
        let i = node.at(0);
        let gone = match node.spec {
            DL_ENTRY => (i < self.downloads.len()).then(|| drop(self.downloads.remove(i))),
            DV_ENTRY => (i < self.delivered.len()).then(|| drop(self.delivered.remove(i))),
            DP_ENTRY => (i < self.deployed.len()).then(|| drop(self.deployed.remove(i))),
            _ => return Err(StatusCode::NotAllowed),
        };
        gone.ok_or(StatusCode::NotFound)
    }

    /// Record: `[list row][index][name len][name][present]` then the entry's CBOR.
    fn snapshot(
        &self,
        spec: usize,
        name: &str,
        log: &mut UndoLog<'_>,
        tag: u8,
    ) -> Result<(), StatusCode> {
        let row = u8::try_from(spec).map_err(|_| StatusCode::CommandFailed)?;
        let key_len = 3 + name.len();
        let already = log.records().any(|(t, r)| {
            t == tag
                && r.first() == Some(&row)
                && r.get(3..key_len) == Some(name.as_bytes())
                && r.get(2) == Some(&(name.len() as u8))
        });
        if already {
            return Ok(());
        }
        let index = match row {
            DL_ENTRY => self.downloads.iter().position(|e| e.name == name),
            DV_ENTRY => self.delivered.iter().position(|e| e.name == name),
            DP_ENTRY => self.deployed.iter().position(|e| e.name == name),
            _ => return Err(StatusCode::CommandFailed),
        };
        let name_len = u8::try_from(name.len()).map_err(|_| StatusCode::UriTooLong)?;
        log.push(tag, |buf| {
            let (head, body) = buf.split_at_mut_checked(key_len + 1)?;
            let (fixed, rest) = head.split_at_mut(3);
            fixed.copy_from_slice(&[row, index.unwrap_or(0) as u8, name_len]);
            let (n, present) = rest.split_at_mut(name.len());
            n.copy_from_slice(name.as_bytes());
            let Some(i) = index else {
                present.copy_from_slice(&[0]);
                return Some(key_len + 1);
            };
            present.copy_from_slice(&[1]);
            let body_len = encode_into(body, |e| match row {
                DL_ENTRY => self
                    .downloads
                    .get(i)
                    .map_or(Ok(()), |x| encode_download(x, e)),
                DV_ENTRY => self
                    .delivered
                    .get(i)
                    .map_or(Ok(()), |x| encode_delivered(x, e)),
                _ => self
                    .deployed
                    .get(i)
                    .map_or(Ok(()), |x| encode_deployed(x, e)),
            })?;
            Some(key_len + 1 + body_len)
        })
    }

    fn restore(&mut self, record: &[u8]) -> Result<(), StatusCode> {
        const BAD: StatusCode = StatusCode::AtomicRollbackFailed;
        let (&[row, index, name_len], rest) = record.split_first_chunk::<3>().ok_or(BAD)?;
        let (name, rest) = rest.split_at_checked(usize::from(name_len)).ok_or(BAD)?;
        let name = core::str::from_utf8(name).map_err(|_| BAD)?;
        let (&present, body) = rest.split_first().ok_or(BAD)?;
        let mut d = Decoder::new(body);
        let index = usize::from(index);
        match row {
            DL_ENTRY => {
                self.remove_download(name);
                if present == 1 {
                    let x = decode_download(&mut d).map_err(|_| BAD)?;
                    let at = index.min(self.downloads.len());
                    self.downloads.insert(at, x).map_err(|_| BAD)?;
                }
            }
            DV_ENTRY => {
                self.remove_delivered(name);
                if present == 1 {
                    let x = decode_delivered(&mut d).map_err(|_| BAD)?;
                    let at = index.min(self.delivered.len());
                    self.delivered.insert(at, x).map_err(|_| BAD)?;
                }
            }
            DP_ENTRY => {
                self.remove_deployed(name);
                if present == 1 {
                    let x = decode_deployed(&mut d).map_err(|_| BAD)?;
                    let at = index.min(self.deployed.len());
                    self.deployed.insert(at, x).map_err(|_| BAD)?;
                }
            }
            _ => return Err(BAD),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_enums_name_their_rows() {
        let name = |r: u8| SCOMO_SCHEMA[usize::from(r)].name;
        assert_eq!(name(DownloadLeaf::PkgUrl.row()), "PkgURL");
        assert_eq!(name(DownloadLeaf::PkgType.row()), "PkgType");
        assert_eq!(name(DeliveredLeaf::PkgType.row()), "PkgType");
        assert_eq!(name(DeployedLeaf::EnvType.row()), "EnvType");
        assert_eq!(name(DeployedLeaf::Id.row()), "ID");
        assert_eq!(name(REBOOT), "Reboot");
        assert_eq!(name(DownloadLeaf::Sha256.row()), "SHA256");
        assert_eq!(SCOMO_SCHEMA[usize::from(DL_SHA256)].parent, DL_EXT);
        assert_eq!(name(DV_DATA), "Data");
        assert_eq!(name(DL_STATUS), "Status");
        assert_eq!(name(DV_STATUS), "Status");
        assert_eq!(name(DV_STATE), "State");
        assert_eq!(name(DP_STATUS), "Status");
        assert_eq!(name(DP_STATE), "State");
        for (r, parent) in [(DL_OPS, DL_ENTRY), (DV_OPS, DV_ENTRY), (DP_OPS, DP_ENTRY)] {
            assert_eq!(name(r), "Operations");
            assert_eq!(SCOMO_SCHEMA[usize::from(r)].parent, parent);
        }
        for (r, parent) in [(DL_EXT, DL_ENTRY), (DV_EXT, DV_ENTRY), (DP_EXT, DP_ENTRY)] {
            assert_eq!(name(r), "Ext");
            assert_eq!(SCOMO_SCHEMA[usize::from(r)].parent, parent);
        }
        assert_eq!(Primitive::RemoveDeployed.node_name(), "Remove");
        assert_eq!(
            Primitive::DownloadInstallInactive.node_name(),
            "DownloadInstallInactive"
        );
        assert_eq!(Primitive::Deactivate.node_name(), "Deactivate");
    }

    #[test]
    fn every_leaf_limit_fits_its_entry_budget() {
        for l in DownloadLeaf::ALL {
            assert!(max_len(l.row()) + 3 <= DOWNLOAD_BYTES);
        }
        for l in DeliveredLeaf::ALL {
            assert!(max_len(l.row()) + 3 <= DELIVERED_BYTES);
        }
        for l in DeployedLeaf::ALL {
            assert!(max_len(l.row()) + 3 <= DEPLOYED_BYTES);
        }
    }

    #[test]
    fn typed_api_full_is_420_exists_is_418() {
        let mut s: Scomo<1, 1, 1> = Scomo::new(MoVersion::V1_1);
        s.add_download("a").unwrap();
        assert_eq!(s.add_download("a").err(), Some(StatusCode::AlreadyExists));
        assert_eq!(s.add_download("b").err(), Some(StatusCode::DeviceFull));
        assert_eq!(s.add_deployed("a/b").err(), Some(StatusCode::BadRequest));
        let long = [b'x'; NAME_CAP + 1];
        assert_eq!(
            s.add_deployed(core::str::from_utf8(&long).unwrap()).err(),
            Some(StatusCode::UriTooLong)
        );
        let e = s.download_mut("a").unwrap();
        assert_eq!(
            e.set(DownloadLeaf::Reboot, "0123456789abcdefg"),
            Err(StatusCode::RequestEntityTooLarge)
        );
        assert!(s.remove_download("a").is_some());
        assert!(s.download("a").is_none());
    }

    #[test]
    fn cbor_round_trip() {
        let mut s: Scomo<2, 2, 2> = Scomo::new(MoVersion::V1_1);
        let d = s.add_download("d1").unwrap();
        d.set(DownloadLeaf::PkgUrl, "http://x/y").unwrap();
        d.set_status(DownloadStatus::DownloadProgressing);
        let v = s.add_delivered("p1").unwrap();
        v.set_data(Some(1234));
        v.set_state(DeliveredState::Installed);
        s.add_deployed("c1")
            .unwrap()
            .set(DeployedLeaf::Version, "1.0")
            .unwrap();
        let mut buf = [0u8; 256];
        let n = encode_into(&mut buf, |e| s.encode(e)).unwrap();
        let back = Scomo::<2, 2, 2>::decode(&mut Decoder::new(&buf[..n])).unwrap();
        assert_eq!(back, s);
        // Too small a capacity is an error, not a panic.
        assert!(Scomo::<1, 2, 2>::decode(&mut Decoder::new(&buf[..n])).is_ok());
        assert!(Scomo::<2, 0, 2>::decode(&mut Decoder::new(&buf[..n])).is_err());
        for cut in 0..n {
            assert!(Scomo::<2, 2, 2>::decode(&mut Decoder::new(&buf[..cut])).is_err());
        }
        let mut flipped = buf;
        for i in 0..n {
            flipped[i] ^= 0x55;
            let _ = Scomo::<2, 2, 2>::decode(&mut Decoder::new(&flipped[..n]));
            flipped[i] ^= 0x55;
        }
    }
}
