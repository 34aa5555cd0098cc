//! Typed builders on [`Writer`]: the header, Status, Results, Alert, Add/Replace/...,
//! Item and Meta, each written whole or not at all, in the DTD order of the element
//! table.

use super::Encoding;
use super::error::EncodeError;
use super::tokens::Element;
use super::writer::Writer;
use crate::codes::StatusCode;

/// The `SyncHdr` of a message the device sends (VerDTD 1.2, VerProto DM/1.2).
#[derive(Debug, Clone, Copy)]
pub struct HeaderOut<'x> {
    /// `SessionID`.
    pub session_id: &'x str,
    /// `MsgID`.
    pub msg_id: u32,
    /// `Target/LocURI`: the server.
    pub target: &'x str,
    /// `Source/LocURI`: the device id.
    pub source: &'x str,
    /// `Source/LocName`: the user name (MD5 and HMAC authentication).
    pub source_name: Option<&'x str>,
    /// `Cred`.
    pub cred: Option<CredOut<'x>>,
    /// `Meta` (MaxMsgSize, MaxObjSize the device accepts).
    pub meta: Option<MetaOut<'x>>,
}

/// `Cred`.
#[derive(Debug, Clone, Copy)]
pub struct CredOut<'x> {
    /// `Meta` (Type `syncml:auth-basic`/`syncml:auth-md5`, Format `b64`).
    pub meta: MetaOut<'x>,
    /// `Data`: the credential.
    pub data: &'x str,
}

/// `Meta`: the MetInf children, written in DTD order.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaOut<'x> {
    /// `Format`.
    pub format: Option<&'x str>,
    /// `Type`.
    pub mime_type: Option<&'x str>,
    /// `Mark`.
    pub mark: Option<&'x str>,
    /// `Size`.
    pub size: Option<u32>,
    /// `NextNonce`.
    pub next_nonce: Option<&'x str>,
    /// `MaxMsgSize`.
    pub max_msg_size: Option<u32>,
    /// `MaxObjSize`.
    pub max_obj_size: Option<u32>,
}

/// The content of an item's `Data`.
#[derive(Debug, Clone, Copy)]
pub enum DataOut<'x> {
    /// Text (escaped in XML).
    Text(&'x str),
    /// Bytes (WBXML `OPAQUE`; base64 in XML, where Meta Format must say `b64`).
    Binary(&'x [u8]),
}

/// `Item`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemOut<'x> {
    /// `Target/LocURI`.
    pub target: Option<&'x str>,
    /// `Source/LocURI`.
    pub source: Option<&'x str>,
    /// `Meta`.
    pub meta: Option<MetaOut<'x>>,
    /// `Data`.
    pub data: Option<DataOut<'x>>,
    /// `MoreData` (a Large Object chunk that is not the last).
    pub more_data: bool,
}

/// `Status`.
#[derive(Debug, Clone, Copy)]
pub struct StatusOut<'x> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `MsgRef`: MsgID of the message that held the command.
    pub msg_ref: u32,
    /// `CmdRef`: its CmdID (0 for the header).
    pub cmd_ref: u32,
    /// `Cmd`: the command answered (`Element::SyncHdr` for the header).
    pub cmd: Element,
    /// `TargetRef`s.
    pub target_refs: &'x [&'x str],
    /// `SourceRef`s.
    pub source_refs: &'x [&'x str],
    /// `Chal` (its Meta).
    pub chal: Option<MetaOut<'x>>,
    /// `Data`: the status code.
    pub code: StatusCode,
    /// `Item`s.
    pub items: &'x [ItemOut<'x>],
}

/// `Results`.
#[derive(Debug, Clone, Copy)]
pub struct ResultsOut<'x> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `MsgRef`.
    pub msg_ref: u32,
    /// `CmdRef`: the Get answered.
    pub cmd_ref: u32,
    /// `Meta`.
    pub meta: Option<MetaOut<'x>>,
    /// `TargetRef`s.
    pub target_refs: &'x [&'x str],
    /// `SourceRef`s.
    pub source_refs: &'x [&'x str],
    /// `Item`s (at least one).
    pub items: &'x [ItemOut<'x>],
}

/// `Alert`.
#[derive(Debug, Clone, Copy)]
pub struct AlertOut<'x> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `Data`: the alert code (1200, 1201, 1222, 1223, 1226, ...).
    pub code: u16,
    /// `Correlator` (Generic Alert: the Exec's, when it had one).
    pub correlator: Option<&'x str>,
    /// `Item`s.
    pub items: &'x [ItemOut<'x>],
}

/// Add, Replace, Copy, Delete, Get or Exec.
#[derive(Debug, Clone, Copy)]
pub struct RequestOut<'x> {
    /// Which command.
    pub kind: Element,
    /// `CmdID`.
    pub cmd_id: u32,
    /// `Meta`.
    pub meta: Option<MetaOut<'x>>,
    /// `Correlator` (Exec only).
    pub correlator: Option<&'x str>,
    /// `Item`s (at least one).
    pub items: &'x [ItemOut<'x>],
}

impl Writer<'_> {
    /// Writes `SyncML`, the whole `SyncHdr`, and opens `SyncBody`; keeps room for
    /// `Final` from then on.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn begin_message(&mut self, hdr: &HeaderOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::SyncML)?;
            w.start(Element::SyncHdr)?;
            w.leaf(Element::VerDTD, "1.2")?;
            w.leaf(Element::VerProto, "DM/1.2")?;
            w.leaf(Element::SessionID, hdr.session_id)?;
            w.leaf_u32(Element::MsgID, hdr.msg_id)?;
            w.start(Element::Target)?;
            w.leaf(Element::LocURI, hdr.target)?;
            w.end()?;
            w.start(Element::Source)?;
            w.leaf(Element::LocURI, hdr.source)?;
            if let Some(name) = hdr.source_name {
                w.leaf(Element::LocName, name)?;
            }
            w.end()?;
            if let Some(cred) = &hdr.cred {
                w.cred(cred)?;
            }
            if let Some(meta) = &hdr.meta {
                w.meta(meta)?;
            }
            w.end()?;
            w.start(Element::SyncBody)?;
            let final_len = match w.encoding() {
                Encoding::Xml => "<Final/>".len(),
                Encoding::Wbxml => 1,
            };
            w.set_final_reserve(final_len);
            Ok(())
        })
    }

    /// Writes `Final` if asked, and closes `SyncBody` and `SyncML`; then
    /// [`Writer::finish`] hands out the message.
    ///
    /// # Errors
    /// `Missing`/`Depth` when a command is still open.
    pub fn end_message(&mut self, is_final: bool) -> Result<(), EncodeError> {
        let reserved = self.final_reserve();
        self.set_final_reserve(0);
        let result = self.atomic(|w| {
            if is_final {
                w.empty(Element::Final)?;
            }
            w.end()?;
            w.end()
        });
        if result.is_err() {
            self.set_final_reserve(reserved);
        }
        result
    }

    /// `Cred`.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn cred(&mut self, cred: &CredOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Cred)?;
            w.meta(&cred.meta)?;
            w.leaf(Element::Data, cred.data)?;
            w.end()
        })
    }

    /// `Meta` with the MetInf children that are set.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn meta(&mut self, meta: &MetaOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Meta)?;
            let texts = [
                (Element::Format, meta.format),
                (Element::Type, meta.mime_type),
                (Element::Mark, meta.mark),
            ];
            for (el, text) in texts {
                if let Some(text) = text {
                    w.leaf(el, text)?;
                }
            }
            if let Some(size) = meta.size {
                w.leaf_u32(Element::Size, size)?;
            }
            if let Some(nonce) = meta.next_nonce {
                w.leaf(Element::NextNonce, nonce)?;
            }
            let numbers = [
                (Element::MaxMsgSize, meta.max_msg_size),
                (Element::MaxObjSize, meta.max_obj_size),
            ];
            for (el, n) in numbers {
                if let Some(n) = n {
                    w.leaf_u32(el, n)?;
                }
            }
            w.end()
        })
    }

    /// `Item`.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn item(&mut self, item: &ItemOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Item)?;
            for (el, uri) in [
                (Element::Target, item.target),
                (Element::Source, item.source),
            ] {
                if let Some(uri) = uri {
                    w.start(el)?;
                    w.leaf(Element::LocURI, uri)?;
                    w.end()?;
                }
            }
            if let Some(meta) = &item.meta {
                w.meta(meta)?;
            }
            match item.data {
                Some(DataOut::Text(text)) => w.leaf(Element::Data, text)?,
                Some(DataOut::Binary(bytes)) => {
                    w.start(Element::Data)?;
                    w.opaque(bytes)?;
                    w.end()?;
                }
                None => {}
            }
            if item.more_data {
                w.empty(Element::MoreData)?;
            }
            w.end()
        })
    }

    fn refs(&mut self, targets: &[&str], sources: &[&str]) -> Result<(), EncodeError> {
        for t in targets {
            self.leaf(Element::TargetRef, t)?;
        }
        for s in sources {
            self.leaf(Element::SourceRef, s)?;
        }
        Ok(())
    }

    fn items(&mut self, items: &[ItemOut<'_>]) -> Result<(), EncodeError> {
        items.iter().try_for_each(|it| self.item(it))
    }

    /// `Status`.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn status(&mut self, s: &StatusOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Status)?;
            w.leaf_u32(Element::CmdID, s.cmd_id)?;
            w.leaf_u32(Element::MsgRef, s.msg_ref)?;
            w.leaf_u32(Element::CmdRef, s.cmd_ref)?;
            w.leaf(Element::Cmd, s.cmd.name())?;
            w.refs(s.target_refs, s.source_refs)?;
            if let Some(meta) = &s.chal {
                w.start(Element::Chal)?;
                w.meta(meta)?;
                w.end()?;
            }
            w.leaf_u32(Element::Data, u32::from(s.code.code()))?;
            w.items(s.items)?;
            w.end()
        })
    }

    /// `Results`.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn results(&mut self, r: &ResultsOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Results)?;
            w.leaf_u32(Element::CmdID, r.cmd_id)?;
            w.leaf_u32(Element::MsgRef, r.msg_ref)?;
            w.leaf_u32(Element::CmdRef, r.cmd_ref)?;
            if let Some(meta) = &r.meta {
                w.meta(meta)?;
            }
            w.refs(r.target_refs, r.source_refs)?;
            w.items(r.items)?;
            w.end()
        })
    }

    /// `Alert`.
    ///
    /// # Errors
    /// As [`Writer::start`]; nothing is written on error.
    pub fn alert(&mut self, a: &AlertOut<'_>) -> Result<(), EncodeError> {
        self.atomic(|w| {
            w.start(Element::Alert)?;
            w.leaf_u32(Element::CmdID, a.cmd_id)?;
            w.leaf_u32(Element::Data, u32::from(a.code))?;
            if let Some(c) = a.correlator {
                w.leaf(Element::Correlator, c)?;
            }
            w.items(a.items)?;
            w.end()
        })
    }

    /// Add, Replace, Copy, Delete, Get or Exec.
    ///
    /// # Errors
    /// `Misplaced` for another `kind`; else as [`Writer::start`]; nothing is written on
    /// error.
    pub fn request(&mut self, q: &RequestOut<'_>) -> Result<(), EncodeError> {
        if !matches!(
            q.kind,
            Element::Add
                | Element::Replace
                | Element::Copy
                | Element::Delete
                | Element::Get
                | Element::Exec
        ) {
            return Err(EncodeError::Misplaced(q.kind));
        }
        self.atomic(|w| {
            w.start(q.kind)?;
            w.leaf_u32(Element::CmdID, q.cmd_id)?;
            if let Some(meta) = &q.meta {
                w.meta(meta)?;
            }
            if let Some(c) = q.correlator {
                w.leaf(Element::Correlator, c)?;
            }
            w.items(q.items)?;
            w.end()
        })
    }
}
