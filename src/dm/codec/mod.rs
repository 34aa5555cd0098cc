//! SyncML DM message model and its XML and WBXML codecs (digest 6, 7, 8).
//!
//! # Decoding
//!
//! ```
//! use scomo::dm::codec::{Command, Encoding, Message};
//!
//! let bytes = br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD>
//!   <VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID>
//!   <Target><LocURI>IMEI:1</LocURI></Target><Source><LocURI>srv</LocURI></Source>
//!   </SyncHdr><SyncBody><Get><CmdID>3</CmdID><Item><Target>
//!   <LocURI>./DevInfo/Mod</LocURI></Target></Item></Get><Final/></SyncBody></SyncML>"#;
//! let encoding = Encoding::from_content_type("application/vnd.syncml.dm+xml").unwrap();
//! let msg = Message::decode(bytes, encoding)?;
//! assert_eq!(msg.hdr.msg_id, 2);
//! for cmd in msg.body.commands() {
//!     if let Command::Get(get) = cmd? {
//!         for item in get.items() {
//!             let uri = item?.target.unwrap().loc_uri;
//!             assert!(uri.eq_str("./DevInfo/Mod"));
//!         }
//!     }
//! }
//! assert!(msg.body.is_final);
//! # Ok::<(), scomo::dm::codec::DecodeError>(())
//! ```
//!
//! # Encoding with size control
//!
//! ```
//! use scomo::codes::StatusCode;
//! use scomo::dm::codec::{Element, EncodeError, Encoding, HeaderOut, StatusOut, Writer};
//!
//! let mut buf = [0u8; 2048];
//! let mut w = Writer::new(&mut buf, Encoding::Wbxml)?;
//! w.set_limit(512); // the server's MaxMsgSize
//! w.begin_message(&HeaderOut {
//!     session_id: "1A2B", msg_id: 1, target: "https://dm.example.com", source: "IMEI:1",
//!     source_name: None, cred: None, meta: None,
//! })?;
//! let mut sent = 0;
//! for cmd_ref in 1..100 {
//!     let status = StatusOut {
//!         cmd_id: cmd_ref, msg_ref: 1, cmd_ref, cmd: Element::Replace,
//!         target_refs: &["./SCOMO/Download/Pkg1/PkgURL"], source_refs: &[], chal: None,
//!         code: StatusCode::Ok, items: &[],
//!     };
//!     match w.status(&status) {
//!         Ok(()) => sent += 1,
//!         Err(EncodeError::TooSmall) => break, // the rest goes in the next message
//!         Err(e) => return Err(e),
//!     }
//! }
//! w.end_message(false)?;
//! let message = w.finish()?;
//! assert!(message.len() <= 512 && sent > 5);
//! # Ok::<(), EncodeError>(())
//! ```
//!
//! The modules: [`tokens`](Element) holds the one element table (name, code page,
//! token, content model in DTD order); `xml` and `wbxml` hold each encoding's reader and
//! the escaping/token details; `check` is the structural check of received messages;
//! `message` the typed model; `writer` and `build` the encoder.

mod build;
mod check;
mod error;
mod message;
mod reader;
mod tokens;
mod value;
mod wbxml;
mod writer;
mod xml;

pub use build::{
    AlertOut, CredOut, DataOut, HeaderOut, ItemOut, MetaOut, RequestOut, ResultsOut, StatusOut,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use message::{
    Alert, Chal, Command, Commands, Container, Cred, Item, Items, Location, Message, Meta, Refs,
    Request, Results, Status, SyncBody, SyncHdr,
};
pub use tokens::Element;
pub use value::{Piece, Pieces, Value};
pub use writer::{MAX_WRITE_DEPTH, Mark, Writer};

/// How deep Atomic and Sequence may nest in a received message; deeper is refused
/// ([`DecodeErrorKind::TooDeep`]).
pub const MAX_NESTING: usize = 4;

/// The two encodings of SyncML DM (digest 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encoding {
    /// `application/vnd.syncml.dm+xml`.
    Xml,
    /// `application/vnd.syncml.dm+wbxml`.
    Wbxml,
}

impl Encoding {
    /// The HTTP content type.
    pub const fn content_type(self) -> &'static str {
        match self {
            Encoding::Xml => "application/vnd.syncml.dm+xml",
            Encoding::Wbxml => "application/vnd.syncml.dm+wbxml",
        }
    }

    /// The encoding a content type names (case and parameters such as `charset`
    /// ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        [Encoding::Xml, Encoding::Wbxml]
            .into_iter()
            .find(|e| e.content_type().eq_ignore_ascii_case(mime))
    }
}
