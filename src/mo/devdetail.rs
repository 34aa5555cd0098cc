//! The DevDetail management object (`./DevDetail`, digest 7.9): device limits and
//! versions. The URI limits it publishes are the ones the tree enforces (414).

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::mo::fields::Fields;
use crate::mo::leaf_enum;
use crate::tree::format::Format;
use crate::tree::schema::{AccessTypes, Node, NodeSpec, Object, Occurrence, Value};
use crate::tree::undo::UndoLog;
use crate::tree::uri::UriLimits;

const fn chr(name: &'static str, parent: u8) -> NodeSpec {
    NodeSpec::leaf(
        name,
        parent,
        Format::Chr,
        Occurrence::One,
        AccessTypes::GET,
        64,
    )
}

const MAX_DEPTH: u8 = 2;
const MAX_TOT_LEN: u8 = 3;
const MAX_SEG_LEN: u8 = 4;
const LRG_OBJ: u8 = 10;

/// The DevDetail node table. Row 0 is `./DevDetail`.
pub static DEVDETAIL_SCHEMA: [NodeSpec; 11] = [
    NodeSpec::interior(".", 0, Occurrence::One, AccessTypes::GET),
    NodeSpec::interior("URI", 0, Occurrence::One, AccessTypes::GET),
    chr("MaxDepth", 1),
    chr("MaxTotLen", 1),
    chr("MaxSegLen", 1),
    chr("DevTyp", 0),
    chr("OEM", 0),
    chr("FwV", 0),
    chr("SwV", 0),
    chr("HwV", 0),
    NodeSpec::leaf(
        "LrgObj",
        0,
        Format::Bool,
        Occurrence::One,
        AccessTypes::GET,
        0,
    ),
];

leaf_enum! {
    /// The text leaves of DevDetail.
    pub enum DevDetailLeaf {
        /// `DevTyp`: device type.
        DevTyp = 5,
        /// `OEM`.
        Oem = 6,
        /// `FwV`: firmware version.
        FwV = 7,
        /// `SwV`: software version.
        SwV = 8,
        /// `HwV`: hardware version.
        HwV = 9,
    }
}

/// DevDetail: URI limits, large-object support and versions, set by the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevDetail {
    limits: UriLimits,
    large_objects: bool,
    fields: Fields<192>,
}

impl Default for DevDetail {
    fn default() -> Self {
        Self::new()
    }
}

impl DevDetail {
    /// The MO identifier.
    pub const URN: &'static str = "urn:oma:mo:oma-dm-devdetail:1.0";

    /// The default limits: depth 10, 160-byte URIs, segments as long as a dynamic node
    /// name may be ([`NAME_CAP`](crate::mo::NAME_CAP)).
    pub const DEFAULT_LIMITS: UriLimits = UriLimits {
        max_depth: 10,
        max_tot_len: 160,
        max_seg_len: crate::mo::NAME_CAP as u16,
    };

    /// DevDetail with the default limits, large objects supported, no versions set.
    pub const fn new() -> Self {
        Self {
            limits: Self::DEFAULT_LIMITS,
            large_objects: true,
            fields: Fields::new(),
        }
    }

    /// The URI limits (`URI/MaxDepth`, `URI/MaxTotLen`, `URI/MaxSegLen`).
    pub fn limits(&self) -> UriLimits {
        self.limits
    }

    /// Sets the URI limits the tree publishes and enforces.
    pub fn set_limits(&mut self, limits: UriLimits) {
        self.limits = limits;
    }

    /// `LrgObj`: whether the device accepts Large Objects.
    pub fn large_objects(&self) -> bool {
        self.large_objects
    }

    /// Sets `LrgObj`.
    pub fn set_large_objects(&mut self, on: bool) {
        self.large_objects = on;
    }

    /// A text leaf's value (`None` until set).
    pub fn get(&self, leaf: DevDetailLeaf) -> Option<&str> {
        self.fields.text(leaf.row())
    }

    /// Sets a text leaf: 413 over 64 bytes, 420 when the object's budget is full.
    pub fn set(&mut self, leaf: DevDetailLeaf, value: &str) -> Result<(), StatusCode> {
        if value.len() > 64 {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        self.fields.set(leaf.row(), value.as_bytes())
    }

    /// Writes the object as CBOR: `[depth, totlen, seglen, lrgobj, fields]`.
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(5)?
            .u16(self.limits.max_depth)?
            .u16(self.limits.max_tot_len)?
            .u16(self.limits.max_seg_len)?
            .bool(self.large_objects)?;
        self.fields.encode(e)
    }

    /// Reads what [`DevDetail::encode`] wrote; an error on corrupt input.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        if d.array()? != Some(5) {
            return Err(decode::Error::message("DevDetail is not a 5-array"));
        }
        Ok(Self {
            limits: UriLimits {
                max_depth: d.u16()?,
                max_tot_len: d.u16()?,
                max_seg_len: d.u16()?,
            },
            large_objects: d.bool()?,
            fields: Fields::decode(d, |t, v| {
                DevDetailLeaf::from_row(t).is_some()
                    && v.len() <= 64
                    && core::str::from_utf8(v).is_ok()
            })?,
        })
    }
}

impl Object for DevDetail {
    fn schema(&self) -> &'static [NodeSpec] {
        &DEVDETAIL_SCHEMA
    }

    fn mo_type(&self) -> &'static str {
        Self::URN
    }

    fn instance(&self, _spec: usize, _parent: &Node, _i: usize) -> Option<&str> {
        None
    }

    fn read(&self, node: &Node) -> Option<Value<'_>> {
        match node.spec {
            MAX_DEPTH => Some(Value::Int(self.limits.max_depth.into())),
            MAX_TOT_LEN => Some(Value::Int(self.limits.max_tot_len.into())),
            MAX_SEG_LEN => Some(Value::Int(self.limits.max_seg_len.into())),
            LRG_OBJ => Some(Value::Bool(self.large_objects)),
            row => self.fields.text(row).map(Value::Text),
        }
    }

    fn snapshot(&self, _: usize, _: &str, _: &mut UndoLog<'_>, _: u8) -> Result<(), StatusCode> {
        // Nothing here can be changed by a server.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_rows_match_the_table() {
        assert_eq!(DEVDETAIL_SCHEMA[usize::from(MAX_DEPTH)].name, "MaxDepth");
        assert_eq!(DEVDETAIL_SCHEMA[usize::from(MAX_SEG_LEN)].name, "MaxSegLen");
        assert_eq!(DEVDETAIL_SCHEMA[usize::from(LRG_OBJ)].name, "LrgObj");
        assert_eq!(
            DEVDETAIL_SCHEMA[usize::from(DevDetailLeaf::HwV.row())].name,
            "HwV"
        );
    }

    #[test]
    fn cbor_round_trip() {
        let mut d = DevDetail::new();
        d.set(DevDetailLeaf::FwV, "1.2.3").unwrap();
        let mut buf = [0u8; 64];
        let n = crate::mo::encode_into(&mut buf, |e| d.encode(e)).unwrap();
        assert_eq!(DevDetail::decode(&mut Decoder::new(&buf[..n])).unwrap(), d);
        for cut in 0..n {
            assert!(DevDetail::decode(&mut Decoder::new(&buf[..cut])).is_err());
        }
    }
}
