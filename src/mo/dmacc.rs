//! The DMAcc management object (`./DMAcc/<X>`, digest 7.9): the one DM server account of
//! the device, with its address and its credentials (`AppAuth/<X>`, one per
//! authentication level).
//!
//! The account and its `AppAuth` entries are created by the device (bootstrap); a server
//! may Replace the values. `AAuthSecret` and `AAuthData` are write-only: a Get is 405.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::mo::fields::Fields;
use crate::mo::{NodeName, encode_into, leaf_enum, node_name};
use crate::tree::format::Format;
use crate::tree::schema::{AccessTypes as A, DYNAMIC, Node, NodeSpec, Object, Occurrence, Value};
use crate::tree::undo::UndoLog;

use crate::tree::Occurrence::{One, ZeroOrMore, ZeroOrOne};

const fn chr(name: &'static str, parent: u8, occ: Occurrence, access: A, max: u16) -> NodeSpec {
    NodeSpec::leaf(name, parent, Format::Chr, occ, access, max)
}

const ACCOUNT: u8 = 1;
const APP_ID: u8 = 2;
const ADDR_ENTRY: u8 = 6;
const PORT_ENTRY: u8 = 10;
const PORT_NBR: u8 = 11;
const AUTH_ENTRY: u8 = 14;
const AUTH_LEVEL: u8 = 15;

/// The DMAcc node table. Row 0 is `./DMAcc`.
pub static DMACC_SCHEMA: [NodeSpec; 21] = [
    NodeSpec::interior(".", 0, One, A::GET),
    NodeSpec::interior(DYNAMIC, 0, ZeroOrMore, A::GET),
    chr("AppID", ACCOUNT, One, A::GET, 0),
    chr("ServerID", ACCOUNT, One, A::GR, 64),
    chr("Name", ACCOUNT, ZeroOrOne, A::GR, 64),
    NodeSpec::interior("AppAddr", ACCOUNT, One, A::GET),
    NodeSpec::interior(DYNAMIC, 5, ZeroOrMore, A::GET),
    chr("Addr", ADDR_ENTRY, One, A::GR, 128),
    chr("AddrType", ADDR_ENTRY, One, A::GR, 16),
    NodeSpec::interior("Port", ADDR_ENTRY, ZeroOrOne, A::GET),
    NodeSpec::interior(DYNAMIC, 9, ZeroOrMore, A::GET),
    NodeSpec::leaf("PortNbr", PORT_ENTRY, Format::Int, One, A::GR, 0),
    chr("AAuthPref", ACCOUNT, ZeroOrOne, A::GR, 16),
    NodeSpec::interior("AppAuth", ACCOUNT, One, A::GET),
    NodeSpec::interior(DYNAMIC, 13, ZeroOrMore, A::GET),
    chr("AAuthLevel", AUTH_ENTRY, One, A::GET, 0),
    chr("AAuthType", AUTH_ENTRY, One, A::GR, 16),
    chr("AAuthName", AUTH_ENTRY, ZeroOrOne, A::GR, 64),
    chr("AAuthSecret", AUTH_ENTRY, ZeroOrOne, A::AR, 64),
    NodeSpec::leaf("AAuthData", AUTH_ENTRY, Format::Bin, ZeroOrOne, A::AR, 64),
    NodeSpec::interior("Ext", ACCOUNT, ZeroOrOne, A::GET),
];

leaf_enum! {
    /// The text leaves of the account itself and of its address.
    pub enum DmAccLeaf {
        /// `ServerID`: the server's identifier, the one ACLs name.
        ServerId = 3,
        /// `Name`: display name of the account.
        Name = 4,
        /// `AppAddr/<X>/Addr`: the server's address (URL).
        Addr = 7,
        /// `AppAddr/<X>/AddrType`: `URI`, `IPv4`, ...
        AddrType = 8,
        /// `AAuthPref`: preferred authentication type.
        AAuthPref = 12,
    }
}

leaf_enum! {
    /// The leaves of an `AppAuth/<X>` entry besides `AAuthLevel`.
    pub enum AppAuthLeaf {
        /// `AAuthType`: `BASIC`, `DIGEST`, `HMAC`, `HTTP-BASIC`, ...
        Type = 16,
        /// `AAuthName`: user name.
        Name = 17,
        /// `AAuthSecret`: password (never returned by Get).
        Secret = 18,
        /// `AAuthData`: nonce bytes (never returned by Get).
        Data = 19,
    }
}

/// `AAuthLevel`: which direction a credential serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthLevel {
    /// `CLCRED`: the client authenticates to the server.
    Client,
    /// `SRVCRED`: the server authenticates to the client (also Package #0 digests).
    Server,
    /// `HTTP`: transport-level credentials.
    Http,
}

impl AuthLevel {
    /// Every level with its name, the one table of names.
    const NAMES: [(AuthLevel, &'static str); 3] = [
        (AuthLevel::Client, "CLCRED"),
        (AuthLevel::Server, "SRVCRED"),
        (AuthLevel::Http, "HTTP"),
    ];

    /// The value of `AAuthLevel`.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(l, _)| *l == self)
            .map_or("", |(_, n)| n)
    }

    /// The level named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(l, _)| *l)
    }
}

/// How many `AppAuth/<X>` entries the account holds.
pub const APP_AUTHS: usize = 3;

/// One `AppAuth/<X>` credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAuth {
    name: NodeName,
    level: AuthLevel,
    fields: Fields<160>,
}

impl AppAuth {
    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `AAuthLevel`.
    pub fn level(&self) -> AuthLevel {
        self.level
    }

    /// A leaf's bytes (`None` when absent).
    pub fn get(&self, leaf: AppAuthLeaf) -> Option<&[u8]> {
        self.fields.get(leaf.row())
    }

    /// A text leaf's value (`None` when absent or, for `AAuthData`, not UTF-8).
    pub fn text(&self, leaf: AppAuthLeaf) -> Option<&str> {
        self.fields.text(leaf.row())
    }

    /// Sets a leaf (text leaves must be UTF-8, else 400): 413 over its limit, 420 when
    /// the entry is full; unchanged on error.
    pub fn set(&mut self, leaf: AppAuthLeaf, value: &[u8]) -> Result<(), StatusCode> {
        if leaf != AppAuthLeaf::Data && core::str::from_utf8(value).is_err() {
            return Err(StatusCode::BadRequest);
        }
        set_limited(&mut self.fields, leaf.row(), value)
    }
}

fn set_limited<const N: usize>(f: &mut Fields<N>, row: u8, value: &[u8]) -> Result<(), StatusCode> {
    let max = DMACC_SCHEMA.get(usize::from(row)).map_or(0, |s| s.max_len);
    if value.len() > usize::from(max) {
        return Err(StatusCode::RequestEntityTooLarge);
    }
    f.set(row, value)
}

/// The DM account: `./DMAcc/<account>` with `AppID` `w7`, `ServerID`, `Name`,
/// `AppAddr/<X>/{Addr, AddrType, Port/<X>/PortNbr}`, `AAuthPref` and `AppAuth/<X>`.
///
/// ```
/// use scomo::mo::{AppAuthLeaf, AuthLevel, DmAcc, DmAccLeaf};
///
/// let mut acc = DmAcc::new("srv")?;
/// acc.set(DmAccLeaf::ServerId, "dm.example.com")?;
/// acc.set_app_addr("addr", "https://dm.example.com/dm", "URI")?;
/// let cl = acc.add_app_auth("cl", AuthLevel::Client)?;
/// cl.set(AppAuthLeaf::Type, b"DIGEST")?;
/// cl.set(AppAuthLeaf::Secret, b"s3cret")?;
/// assert_eq!(acc.server_id(), Some("dm.example.com"));
/// # Ok::<(), scomo::codes::StatusCode>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmAcc {
    account: NodeName,
    addr: Option<NodeName>,
    port: Option<(NodeName, u16)>,
    fields: Fields<256>,
    auths: heapless::Vec<AppAuth, APP_AUTHS>,
}

impl DmAcc {
    /// The MO identifier.
    pub const URN: &'static str = "urn:oma:mo:oma-dm-dmacc:1.0";

    /// An account named `account` (its node below `./DMAcc`), with no value set.
    pub fn new(account: &str) -> Result<Self, StatusCode> {
        Ok(Self {
            account: node_name(account)?,
            addr: None,
            port: None,
            fields: Fields::new(),
            auths: heapless::Vec::new(),
        })
    }

    /// The account's node name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// `ServerID`: the identity the ACLs name for this server.
    pub fn server_id(&self) -> Option<&str> {
        self.get(DmAccLeaf::ServerId)
    }

    /// A text leaf's value.
    pub fn get(&self, leaf: DmAccLeaf) -> Option<&str> {
        self.fields.text(leaf.row())
    }

    /// Sets a text leaf: 413 over its limit, 420 when the account is full. `Addr` and
    /// `AddrType` need an address entry first ([`DmAcc::set_app_addr`]), else 404.
    pub fn set(&mut self, leaf: DmAccLeaf, value: &str) -> Result<(), StatusCode> {
        if matches!(leaf, DmAccLeaf::Addr | DmAccLeaf::AddrType) && self.addr.is_none() {
            return Err(StatusCode::NotFound);
        }
        set_limited(&mut self.fields, leaf.row(), value.as_bytes())
    }

    /// Creates (or renames) the address entry `AppAddr/<name>` with its `Addr` and
    /// `AddrType`. All or nothing.
    pub fn set_app_addr(
        &mut self,
        name: &str,
        addr: &str,
        addr_type: &str,
    ) -> Result<(), StatusCode> {
        let name = node_name(name)?;
        let mut fields = self.fields.clone();
        set_limited(&mut fields, DmAccLeaf::Addr.row(), addr.as_bytes())?;
        set_limited(&mut fields, DmAccLeaf::AddrType.row(), addr_type.as_bytes())?;
        self.fields = fields;
        self.addr = Some(name);
        Ok(())
    }

    /// `AppAddr/<X>/Port/<name>/PortNbr` (needs the address entry, else 404).
    pub fn set_port(&mut self, name: &str, number: u16) -> Result<(), StatusCode> {
        if self.addr.is_none() {
            return Err(StatusCode::NotFound);
        }
        self.port = Some((node_name(name)?, number));
        Ok(())
    }

    /// The port number, if one is set.
    pub fn port(&self) -> Option<u16> {
        self.port.as_ref().map(|(_, n)| *n)
    }

    /// The credential of `level`.
    pub fn app_auth(&self, level: AuthLevel) -> Option<&AppAuth> {
        self.auths.iter().find(|a| a.level == level)
    }

    /// The credential of `level`, to change it (e.g. a new nonce in `AAuthData`).
    pub fn app_auth_mut(&mut self, level: AuthLevel) -> Option<&mut AppAuth> {
        self.auths.iter_mut().find(|a| a.level == level)
    }

    /// Creates `AppAuth/<name>` for `level`: 418 if the name or the level exists, 420
    /// when all [`APP_AUTHS`] entries are used.
    pub fn add_app_auth(
        &mut self,
        name: &str,
        level: AuthLevel,
    ) -> Result<&mut AppAuth, StatusCode> {
        let name = node_name(name)?;
        if self
            .auths
            .iter()
            .any(|a| a.name == name || a.level == level)
        {
            return Err(StatusCode::AlreadyExists);
        }
        self.auths
            .push(AppAuth {
                name,
                level,
                fields: Fields::new(),
            })
            .map_err(|_| StatusCode::DeviceFull)?;
        self.auths.last_mut().ok_or(StatusCode::DeviceFull)
    }

    /// Writes the account as CBOR:
    /// `[account, addr|null, [port, nbr]|null, fields, [[name, level, fields]...]]`.
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(5)?.str(&self.account)?;
        match &self.addr {
            Some(a) => e.str(a)?,
            None => e.null()?,
        };
        match &self.port {
            Some((p, n)) => e.array(2)?.str(p)?.u16(*n)?,
            None => e.null()?,
        };
        self.fields.encode(e)?;
        e.array(self.auths.len() as u64)?;
        for a in &self.auths {
            e.array(3)?.str(&a.name)?.str(a.level.name())?;
            a.fields.encode(e)?;
        }
        Ok(())
    }

    /// Reads what [`DmAcc::encode`] wrote; an error on corrupt input, never a panic.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        let bad = |m: &'static str| move |_| decode::Error::message(m);
        if d.array()? != Some(5) {
            return Err(decode::Error::message("DMAcc is not a 5-array"));
        }
        let mut acc = DmAcc::new(d.str()?).map_err(bad("bad account name"))?;
        if is_null(d)? {
            d.null()?;
        } else {
            acc.addr = Some(node_name(d.str()?).map_err(bad("bad address name"))?);
        }
        if is_null(d)? {
            d.null()?;
        } else {
            if d.array()? != Some(2) {
                return Err(decode::Error::message("port is not a pair"));
            }
            acc.port = Some((node_name(d.str()?).map_err(bad("bad port name"))?, d.u16()?));
        }
        acc.fields = Fields::decode(d, |t, v| {
            DmAccLeaf::from_row(t).is_some() && core::str::from_utf8(v).is_ok() && fits(t, v)
        })?;
        let n = d
            .array()?
            .ok_or(decode::Error::message("indefinite array"))?;
        for _ in 0..n {
            if d.array()? != Some(3) {
                return Err(decode::Error::message("AppAuth is not a 3-array"));
            }
            let name = d.str()?;
            let level =
                AuthLevel::from_name(d.str()?).ok_or(decode::Error::message("bad level"))?;
            let fields = Fields::decode(d, |t, v| {
                AppAuthLeaf::from_row(t)
                    .is_some_and(|l| l == AppAuthLeaf::Data || core::str::from_utf8(v).is_ok())
                    && fits(t, v)
            })?;
            acc.add_app_auth(name, level)
                .map_err(bad("bad or duplicate AppAuth"))?
                .fields = fields;
        }
        Ok(acc)
    }
}

fn fits(row: u8, v: &[u8]) -> bool {
    DMACC_SCHEMA
        .get(usize::from(row))
        .is_some_and(|s| v.len() <= usize::from(s.max_len))
}

fn is_null(d: &Decoder<'_>) -> Result<bool, decode::Error> {
    Ok(d.datatype()? == minicbor::data::Type::Null)
}

impl Object for DmAcc {
    fn schema(&self) -> &'static [NodeSpec] {
        &DMACC_SCHEMA
    }

    fn mo_type(&self) -> &'static str {
        Self::URN
    }

    fn instance(&self, spec: usize, _parent: &Node, i: usize) -> Option<&str> {
        let name = match u8::try_from(spec).ok()? {
            ACCOUNT => Some(&self.account),
            ADDR_ENTRY => self.addr.as_ref(),
            PORT_ENTRY => self.port.as_ref().map(|(n, _)| n),
            AUTH_ENTRY => return self.auths.get(i).map(|a| a.name.as_str()),
            _ => None,
        };
        name.filter(|_| i == 0).map(|n| n.as_str())
    }

    fn read(&self, node: &Node) -> Option<Value<'_>> {
        match node.spec {
            APP_ID => Some(Value::Text("w7")),
            PORT_NBR => self.port().map(|n| Value::Int(n.into())),
            AUTH_LEVEL => self
                .auths
                .get(node.at(1))
                .map(|a| Value::Text(a.level.name())),
            row if AppAuthLeaf::from_row(row) == Some(AppAuthLeaf::Data) => self
                .auths
                .get(node.at(1))?
                .fields
                .get(row)
                .map(Value::Bytes),
            row if AppAuthLeaf::from_row(row).is_some() => self
                .auths
                .get(node.at(1))?
                .fields
                .text(row)
                .map(Value::Text),
            row => self.fields.text(row).map(Value::Text),
        }
    }

    fn write(&mut self, node: &Node, value: Value<'_>) -> Result<(), StatusCode> {
        match (node.spec, value) {
            (PORT_NBR, Value::Int(n)) => {
                let n = u16::try_from(n).map_err(|_| StatusCode::BadRequest)?;
                let port = self.port.as_mut().ok_or(StatusCode::NotFound)?;
                port.1 = n;
                Ok(())
            }
            (row, v) if AppAuthLeaf::from_row(row).is_some() => {
                let bytes = match v {
                    Value::Text(t) => t.as_bytes(),
                    Value::Bytes(b) => b,
                    _ => return Err(StatusCode::NotAllowed),
                };
                let auth = self.auths.get_mut(node.at(1)).ok_or(StatusCode::NotFound)?;
                set_limited(&mut auth.fields, row, bytes)
            }
            (row, Value::Text(t)) if DmAccLeaf::from_row(row).is_some() => {
                set_limited(&mut self.fields, row, t.as_bytes())
            }
            _ => Err(StatusCode::NotAllowed),
        }
    }

    /// Record: the whole account's CBOR, once per Atomic.
    fn snapshot(
        &self,
        _: usize,
        _: &str,
        log: &mut UndoLog<'_>,
        tag: u8,
    ) -> Result<(), StatusCode> {
        if log.records().any(|(t, _)| t == tag) {
            return Ok(());
        }
        log.push(tag, |buf| encode_into(buf, |e| self.encode(e)))
    }

    fn restore(&mut self, record: &[u8]) -> Result<(), StatusCode> {
        *self = DmAcc::decode(&mut Decoder::new(record))
            .map_err(|_| StatusCode::AtomicRollbackFailed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_rows_match_the_table() {
        let name = |r: u8| DMACC_SCHEMA[usize::from(r)].name;
        assert_eq!(name(DmAccLeaf::ServerId.row()), "ServerID");
        assert_eq!(name(DmAccLeaf::AddrType.row()), "AddrType");
        assert_eq!(name(DmAccLeaf::AAuthPref.row()), "AAuthPref");
        assert_eq!(name(AppAuthLeaf::Secret.row()), "AAuthSecret");
        assert_eq!(name(AppAuthLeaf::Data.row()), "AAuthData");
        assert_eq!(name(PORT_NBR), "PortNbr");
        assert_eq!(name(AUTH_LEVEL), "AAuthLevel");
        assert_eq!(name(APP_ID), "AppID");
    }

    #[test]
    fn cbor_round_trip_and_corrupt_input() {
        let mut acc = DmAcc::new("srv").unwrap();
        acc.set(DmAccLeaf::ServerId, "s1").unwrap();
        acc.set_app_addr("a", "https://x/dm", "URI").unwrap();
        acc.set_port("p", 443).unwrap();
        let s = acc.add_app_auth("sv", AuthLevel::Server).unwrap();
        s.set(AppAuthLeaf::Data, &[0xff, 0, 1]).unwrap();
        let mut buf = [0u8; 256];
        let n = encode_into(&mut buf, |e| acc.encode(e)).unwrap();
        assert_eq!(DmAcc::decode(&mut Decoder::new(&buf[..n])).unwrap(), acc);
        for cut in 0..n {
            assert!(DmAcc::decode(&mut Decoder::new(&buf[..cut])).is_err());
        }
    }
}
