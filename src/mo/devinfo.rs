//! The DevInfo management object (`./DevInfo`, digest 7.9): the device's identity, sent in
//! every session's first package. Every leaf is `chr` and read-only for servers.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::mo::fields::Fields;
use crate::mo::leaf_enum;
use crate::tree::format::Format;
use crate::tree::schema::{AccessTypes, Node, NodeSpec, Object, Occurrence, Value};
use crate::tree::undo::UndoLog;

const fn chr(name: &'static str) -> NodeSpec {
    NodeSpec::leaf(name, 0, Format::Chr, Occurrence::One, AccessTypes::GET, 64)
}

/// The DevInfo node table. Row 0 is `./DevInfo`.
pub static DEVINFO_SCHEMA: [NodeSpec; 6] = [
    NodeSpec::interior(".", 0, Occurrence::One, AccessTypes::GET),
    chr("DevId"),
    chr("Man"),
    chr("Mod"),
    chr("DmV"),
    chr("Lang"),
];

leaf_enum! {
    /// The leaves of DevInfo.
    pub enum DevInfoLeaf {
        /// `DevId`: unique device id, a URN such as `IMEI:...`.
        DevId = 1,
        /// `Man`: manufacturer.
        Man = 2,
        /// `Mod`: model.
        Mod = 3,
        /// `DmV`: DM client version.
        DmV = 4,
        /// `Lang`: current language tag.
        Lang = 5,
    }
}

/// DevInfo: `DevId Man Mod DmV Lang`, set by the device.
///
/// ```
/// use scomo::mo::{DevInfo, DevInfoLeaf};
///
/// let mut info = DevInfo::new();
/// info.set(DevInfoLeaf::DevId, "IMEI:490154203237518")?;
/// assert_eq!(info.get(DevInfoLeaf::DevId), Some("IMEI:490154203237518"));
/// assert_eq!(info.get(DevInfoLeaf::Lang), None);
/// # Ok::<(), scomo::codes::StatusCode>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevInfo {
    fields: Fields<192>,
}

impl DevInfo {
    /// The MO identifier.
    pub const URN: &'static str = "urn:oma:mo:oma-dm-devinfo:1.0";

    /// DevInfo with no value set.
    pub const fn new() -> Self {
        Self {
            fields: Fields::new(),
        }
    }

    /// A leaf's value (`None` until set).
    pub fn get(&self, leaf: DevInfoLeaf) -> Option<&str> {
        self.fields.text(leaf.row())
    }

    /// Sets a leaf: 413 over 64 bytes, 420 when the object's budget is full.
    pub fn set(&mut self, leaf: DevInfoLeaf, value: &str) -> Result<(), StatusCode> {
        if value.len() > 64 {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        self.fields.set(leaf.row(), value.as_bytes())
    }

    /// Writes the object as CBOR (its leaves).
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        self.fields.encode(e)
    }

    /// Reads what [`DevInfo::encode`] wrote; an error on corrupt input.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        Ok(Self {
            fields: Fields::decode(d, |t, v| {
                DevInfoLeaf::from_row(t).is_some()
                    && v.len() <= 64
                    && core::str::from_utf8(v).is_ok()
            })?,
        })
    }
}

impl Object for DevInfo {
    fn schema(&self) -> &'static [NodeSpec] {
        &DEVINFO_SCHEMA
    }

    fn mo_type(&self) -> &'static str {
        Self::URN
    }

    fn instance(&self, _spec: usize, _parent: &Node, _i: usize) -> Option<&str> {
        None
    }

    fn read(&self, node: &Node) -> Option<Value<'_>> {
        self.fields.text(node.spec).map(Value::Text)
    }

    fn snapshot(&self, _: usize, _: &str, _: &mut UndoLog<'_>, _: u8) -> Result<(), StatusCode> {
        // Nothing here can be changed by a server.
        Ok(())
    }
}
