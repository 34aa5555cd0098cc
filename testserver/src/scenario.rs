//! Scenario steps: what the server sends a device, one server package per step.
//!
//! A scenario file is JSON: `{"steps": [[cmd, ...], ...]}` where each command is one of
//!
//! | JSON | SyncML |
//! |---|---|
//! | `{"Add": {"uri": "./SCOMO/Download/P1", "format": "node"}}` | Add of an interior node |
//! | `{"Add": {"uri": "./SCOMO/Download/P1/PkgURL", "data": "http://..."}}` | Add of a `chr` leaf |
//! | `{"Replace": {"uri": "...", "data": "..."}}` | Replace (format `chr` unless given) |
//! | `{"Get": {"uri": "./SCOMO/Inventory/Deployed"}}` | Get |
//! | `{"Delete": {"uri": "..."}}` | Delete |
//! | `{"Exec": {"uri": ".../Operations/Install", "correlator": "job-1"}}` | Exec |
//! | `{"Sequence": [cmd, ...]}` / `{"Atomic": [cmd, ...]}` | containers |
//! | `{"Push": {"uri": ".../Delivered/P1/Data", "file": "pkg.bin", "chunk": 1024}}` | a Large Object push (`bytes` may replace `file` when built in code) |
//! | `{"Alert": {"code": 1100, "items": ["MINDT=5", "Hello"]}}` | a server alert |
//!
//! Steps are queued per device; each server package takes the next step once the previous
//! one is answered. The external management system endpoint (`POST /ems/<device>/steps`)
//! appends steps in the same JSON form.

use serde::Deserialize;

/// One command the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Cmd {
    /// `Add`.
    Add(Leaf),
    /// `Replace`.
    Replace(Leaf),
    /// `Get`.
    Get(Target),
    /// `Delete`.
    Delete(Target),
    /// `Exec`, with an optional Correlator.
    Exec(ExecCmd),
    /// `Sequence`.
    Sequence(Vec<Cmd>),
    /// `Atomic`.
    Atomic(Vec<Cmd>),
    /// A Large Object pushed with `Add` in chunks across messages.
    Push(Push),
    /// A server alert (for example a UI alert 1100-1104).
    Alert(AlertCmd),
}

/// An Add or Replace target and value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Leaf {
    /// The target URI.
    pub uri: String,
    /// `Meta/Format` (`chr` when data is given, `node` otherwise, unless set).
    #[serde(default)]
    pub format: Option<String>,
    /// The value.
    #[serde(default)]
    pub data: Option<String>,
}

/// A command that only names a target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    /// The target URI.
    pub uri: String,
}

/// An Exec.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecCmd {
    /// The executed node.
    pub uri: String,
    /// The Correlator to put on the Exec.
    #[serde(default)]
    pub correlator: Option<String>,
}

/// A Large Object push.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Push {
    /// The target URI (normally `./SCOMO/Inventory/Delivered/<X>/Data`).
    pub uri: String,
    /// A file to read the bytes from (scenario files).
    #[serde(default)]
    pub file: Option<String>,
    /// The bytes (built in code).
    #[serde(default)]
    pub bytes: Vec<u8>,
    /// Bytes of the encoded value per message (b64 text in XML, raw in WBXML).
    pub chunk: usize,
}

/// A server alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlertCmd {
    /// The alert code.
    pub code: u16,
    /// One Item per string (its Data).
    #[serde(default)]
    pub items: Vec<String>,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Scenario {
    /// The steps, in order.
    pub steps: Vec<Vec<Cmd>>,
}

impl Cmd {
    /// `Add` of an interior node.
    pub fn add_node(uri: &str) -> Self {
        Cmd::Add(Leaf {
            uri: uri.into(),
            format: Some("node".into()),
            data: None,
        })
    }
    /// `Add` of a `chr` leaf.
    pub fn add(uri: &str, data: &str) -> Self {
        Cmd::Add(Leaf {
            uri: uri.into(),
            format: None,
            data: Some(data.into()),
        })
    }
    /// `Replace` of a `chr` leaf.
    pub fn replace(uri: &str, data: &str) -> Self {
        Cmd::Replace(Leaf {
            uri: uri.into(),
            format: None,
            data: Some(data.into()),
        })
    }
    /// `Get`.
    pub fn get(uri: &str) -> Self {
        Cmd::Get(Target { uri: uri.into() })
    }
    /// `Delete`.
    pub fn delete(uri: &str) -> Self {
        Cmd::Delete(Target { uri: uri.into() })
    }
    /// `Exec` with a Correlator.
    pub fn exec(uri: &str, correlator: Option<&str>) -> Self {
        Cmd::Exec(ExecCmd {
            uri: uri.into(),
            correlator: correlator.map(Into::into),
        })
    }
    /// A Large Object push of `bytes`.
    pub fn push(uri: &str, bytes: Vec<u8>, chunk: usize) -> Self {
        Cmd::Push(Push {
            uri: uri.into(),
            file: None,
            bytes,
            chunk,
        })
    }
}
