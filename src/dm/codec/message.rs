//! The typed SyncML DM message, borrowed from the received buffer (digest 7.4).
//!
//! [`Message::decode`] checks the whole message first (structure, element order, leaf
//! kinds, nesting) and decodes the header; commands, items and references are then
//! decoded lazily, one at a time, by iterators that re-read the buffer. Nothing is
//! copied and nothing is stored per command, so a message of any number of commands
//! decodes in constant memory. Iterators yield `Result`s for honesty's sake, but after a
//! successful `decode` they do not fail.

use super::Encoding;
use super::check::{Outline, check};
use super::error::{DecodeError, DecodeErrorKind as K};
use super::reader::{Event, Reader};
use super::tokens::Element;
use super::value::Value;
use super::wbxml::reader::WbxmlReader;
use super::xml::reader::XmlReader;

/// A received SyncML DM message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// The header.
    pub hdr: SyncHdr<'a>,
    /// The body.
    pub body: SyncBody<'a>,
}

/// `SyncHdr`.
#[derive(Debug, Clone)]
pub struct SyncHdr<'a> {
    /// `VerDTD` (the session layer checks it says `1.2`).
    pub ver_dtd: Value<'a>,
    /// `VerProto` (`DM/1.2`).
    pub ver_proto: Value<'a>,
    /// `SessionID`.
    pub session_id: Value<'a>,
    /// `MsgID`.
    pub msg_id: u32,
    /// `Target`: who the message is for.
    pub target: Location<'a>,
    /// `Source`: who sent it.
    pub source: Location<'a>,
    /// `RespURI`: where to send the next message of the session.
    pub resp_uri: Option<Value<'a>>,
    /// `NoResp`: the sender wants no Status for the header.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Cred<'a>>,
    /// `Meta` (MaxMsgSize, MaxObjSize).
    pub meta: Option<Meta<'a>>,
}

/// `Target` or `Source`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Location<'a> {
    /// `LocURI`.
    pub loc_uri: Value<'a>,
    /// `LocName`.
    pub loc_name: Option<Value<'a>>,
}

/// `Cred`.
#[derive(Debug, Clone, Copy)]
pub struct Cred<'a> {
    /// `Meta` (Type `syncml:auth-basic`/`syncml:auth-md5`, Format `b64`).
    pub meta: Option<Meta<'a>>,
    /// `Data`: the credential.
    pub data: Value<'a>,
}

/// `Chal`.
#[derive(Debug, Clone, Copy)]
pub struct Chal<'a> {
    /// `Meta` (Type, Format, NextNonce).
    pub meta: Meta<'a>,
}

/// `Meta` with its `syncml:metinf` children (EMI, Mem, Anchor and FieldLevel are read
/// and ignored: DM does not use them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta<'a> {
    /// `Format` (`chr`, `b64`, `bin`, `node`, ...).
    pub format: Option<Value<'a>>,
    /// `Type` (MIME type, auth type, alert type).
    pub mime_type: Option<Value<'a>>,
    /// `Mark`.
    pub mark: Option<Value<'a>>,
    /// `Size` (of a Large Object: the total, of the encoded text over XML).
    pub size: Option<u32>,
    /// `NextNonce` (b64 text).
    pub next_nonce: Option<Value<'a>>,
    /// `Version`.
    pub version: Option<Value<'a>>,
    /// `MaxMsgSize`.
    pub max_msg_size: Option<u32>,
    /// `MaxObjSize`.
    pub max_obj_size: Option<u32>,
}

/// `SyncBody`.
#[derive(Debug, Clone)]
pub struct SyncBody<'a> {
    commands: Commands<'a>,
    /// Whether the body ends with `Final` (last message of the package).
    pub is_final: bool,
}

impl<'a> SyncBody<'a> {
    /// The commands, in message order (may be called again to restart).
    pub fn commands(&self) -> Commands<'a> {
        self.commands.clone()
    }
}

/// A command of the body or of an Atomic/Sequence.
#[derive(Debug, Clone)]
pub enum Command<'a> {
    /// `Add`.
    Add(Request<'a>),
    /// `Alert`.
    Alert(Alert<'a>),
    /// `Atomic`.
    Atomic(Container<'a>),
    /// `Copy` (DM devices may answer 406).
    Copy(Request<'a>),
    /// `Delete`.
    Delete(Request<'a>),
    /// `Exec`.
    Exec(Request<'a>),
    /// `Get`.
    Get(Request<'a>),
    /// `Replace`.
    Replace(Request<'a>),
    /// `Results`.
    Results(Results<'a>),
    /// `Sequence`.
    Sequence(Container<'a>),
    /// `Status`.
    Status(Status<'a>),
}

impl Command<'_> {
    /// The command's element (its name is what a Status puts in `Cmd`).
    pub fn element(&self) -> Element {
        match self {
            Command::Add(_) => Element::Add,
            Command::Alert(_) => Element::Alert,
            Command::Atomic(_) => Element::Atomic,
            Command::Copy(_) => Element::Copy,
            Command::Delete(_) => Element::Delete,
            Command::Exec(_) => Element::Exec,
            Command::Get(_) => Element::Get,
            Command::Replace(_) => Element::Replace,
            Command::Results(_) => Element::Results,
            Command::Sequence(_) => Element::Sequence,
            Command::Status(_) => Element::Status,
        }
    }

    /// `CmdID`.
    pub fn cmd_id(&self) -> u32 {
        match self {
            Command::Add(r)
            | Command::Copy(r)
            | Command::Delete(r)
            | Command::Exec(r)
            | Command::Get(r)
            | Command::Replace(r) => r.cmd_id,
            Command::Alert(a) => a.cmd_id,
            Command::Atomic(c) | Command::Sequence(c) => c.cmd_id,
            Command::Results(r) => r.cmd_id,
            Command::Status(s) => s.cmd_id,
        }
    }

    /// Whether the sender asked for no Status (`NoResp`).
    pub fn no_resp(&self) -> bool {
        match self {
            Command::Add(r)
            | Command::Copy(r)
            | Command::Delete(r)
            | Command::Exec(r)
            | Command::Get(r)
            | Command::Replace(r) => r.no_resp,
            Command::Alert(a) => a.no_resp,
            Command::Atomic(c) | Command::Sequence(c) => c.no_resp,
            Command::Results(_) | Command::Status(_) => false,
        }
    }
}

/// Add, Copy, Delete, Exec, Get, Replace: a command on tree items.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Lang` (Get only).
    pub lang: Option<Value<'a>>,
    /// `Archive` (Delete only).
    pub archive: bool,
    /// `SftDel` (Delete only).
    pub sft_del: bool,
    /// `Cred`.
    pub cred: Option<Cred<'a>>,
    /// `Meta` that applies to every item.
    pub meta: Option<Meta<'a>>,
    /// `Correlator` (Exec only): echoed in the Generic Alert that reports the result.
    pub correlator: Option<Value<'a>>,
    items: Items<'a>,
}

impl<'a> Request<'a> {
    /// The items (at least one; exactly one for Exec).
    pub fn items(&self) -> Items<'a> {
        self.items.clone()
    }
}

/// `Alert`.
#[derive(Debug, Clone)]
pub struct Alert<'a> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Cred<'a>>,
    /// `Data`: the alert code (1100–1104, 1222, 1223, ...); see [`Value::to_u32`].
    pub data: Option<Value<'a>>,
    /// `Correlator`.
    pub correlator: Option<Value<'a>>,
    items: Items<'a>,
}

impl<'a> Alert<'a> {
    /// The items (UI alert options and texts, Generic Alert payloads).
    pub fn items(&self) -> Items<'a> {
        self.items.clone()
    }
}

/// `Status`.
#[derive(Debug, Clone)]
pub struct Status<'a> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `MsgRef`.
    pub msg_ref: u32,
    /// `CmdRef` (0 for the header).
    pub cmd_ref: u32,
    /// `Cmd`: the name of the command answered (`SyncHdr`, `Alert`, ...).
    pub cmd: Value<'a>,
    /// `Cred`.
    pub cred: Option<Cred<'a>>,
    /// `Chal`: a challenge (401/407) or the next nonce.
    pub chal: Option<Chal<'a>>,
    /// `Data`: the status code; see [`Value::to_u32`].
    pub data: Value<'a>,
    target_refs: Refs<'a>,
    source_refs: Refs<'a>,
    items: Items<'a>,
}

impl<'a> Status<'a> {
    /// The `TargetRef`s.
    pub fn target_refs(&self) -> Refs<'a> {
        self.target_refs.clone()
    }

    /// The `SourceRef`s.
    pub fn source_refs(&self) -> Refs<'a> {
        self.source_refs.clone()
    }

    /// The items.
    pub fn items(&self) -> Items<'a> {
        self.items.clone()
    }

    /// The element `Cmd` names, if it names one.
    pub fn cmd_element(&self) -> Option<Element> {
        Element::from_name(self.cmd.as_str()?)
    }
}

/// `Results`.
#[derive(Debug, Clone)]
pub struct Results<'a> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `MsgRef`.
    pub msg_ref: Option<u32>,
    /// `CmdRef`.
    pub cmd_ref: u32,
    /// `Meta`.
    pub meta: Option<Meta<'a>>,
    target_refs: Refs<'a>,
    source_refs: Refs<'a>,
    items: Items<'a>,
}

impl<'a> Results<'a> {
    /// The `TargetRef`s.
    pub fn target_refs(&self) -> Refs<'a> {
        self.target_refs.clone()
    }

    /// The `SourceRef`s.
    pub fn source_refs(&self) -> Refs<'a> {
        self.source_refs.clone()
    }

    /// The items.
    pub fn items(&self) -> Items<'a> {
        self.items.clone()
    }
}

/// `Atomic` or `Sequence`.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// `CmdID`.
    pub cmd_id: u32,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Meta`.
    pub meta: Option<Meta<'a>>,
    commands: Commands<'a>,
}

impl<'a> Container<'a> {
    /// The nested commands, in order.
    pub fn commands(&self) -> Commands<'a> {
        self.commands.clone()
    }
}

/// `Item`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Item<'a> {
    /// `Target`.
    pub target: Option<Location<'a>>,
    /// `Source`.
    pub source: Option<Location<'a>>,
    /// `TargetParent/LocURI`.
    pub target_parent: Option<Value<'a>>,
    /// `SourceParent/LocURI`.
    pub source_parent: Option<Value<'a>>,
    /// `Meta`.
    pub meta: Option<Meta<'a>>,
    /// `Data`: text, or binary when it came as WBXML OPAQUE.
    pub data: Option<Value<'a>>,
    /// `MoreData`: a Large Object chunk that is not the last.
    pub more_data: bool,
}

/// The commands of a body or container, decoded one at a time.
#[derive(Debug, Clone)]
pub struct Commands<'a>(Option<Reader<'a>>);

/// The items of a command, decoded one at a time.
#[derive(Debug, Clone)]
pub struct Items<'a>(Option<Reader<'a>>);

/// The `TargetRef`s or `SourceRef`s of a Status or Results.
#[derive(Debug, Clone)]
pub struct Refs<'a> {
    reader: Option<Reader<'a>>,
    which: Element,
}

impl<'a> Iterator for Commands<'a> {
    type Item = Result<Command<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.0.as_mut()?;
        let result = loop {
            let at = r.offset();
            match r.next() {
                Ok(Event::Start { el, empty }) if el.is_command() => {
                    break command(r, el, empty, at);
                }
                Ok(Event::Start {
                    el: Element::Final,
                    empty,
                }) => {
                    if let Err(e) = r.skip(empty) {
                        break Err(e);
                    }
                }
                Ok(Event::Start { el, .. }) => break Err(DecodeError::at(K::Unexpected(el), at)),
                Ok(Event::End(_)) => {
                    self.0 = None;
                    return None;
                }
                Err(e) => break Err(e),
            }
        };
        if result.is_err() {
            self.0 = None;
        }
        Some(result)
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.0.as_mut()?;
        let at = r.offset();
        let result = match r.next() {
            Ok(Event::Start {
                el: Element::Item,
                empty,
            }) => item(r, empty),
            Ok(Event::Start { el, .. }) => Err(DecodeError::at(K::Unexpected(el), at)),
            Ok(Event::End(_)) => {
                self.0 = None;
                return None;
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.0 = None;
        }
        Some(result)
    }
}

impl<'a> Iterator for Refs<'a> {
    type Item = Result<Value<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.reader.as_mut()?;
        let result = match r.next() {
            Ok(Event::Start { el, empty }) if el == self.which => r.value(el, empty),
            Ok(_) => {
                self.reader = None;
                return None;
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.reader = None;
        }
        Some(result)
    }
}

impl<'a> Message<'a> {
    /// Checks and decodes a received message. The content type says the encoding
    /// ([`Encoding::from_content_type`]).
    ///
    /// # Errors
    /// Any [`DecodeError`]: the message is refused as a whole, before any command of it
    /// could be applied.
    pub fn decode(bytes: &'a [u8], encoding: Encoding) -> Result<Self, DecodeError> {
        let root = match encoding {
            Encoding::Xml => Reader::Xml(XmlReader::document(bytes)?),
            Encoding::Wbxml => Reader::Wbxml(WbxmlReader::document(bytes)?),
        };
        let Outline {
            mut hdr,
            body,
            is_final,
        } = check(root)?;
        Ok(Message {
            hdr: sync_hdr(&mut hdr)?,
            body: SyncBody {
                commands: Commands(Some(body)),
                is_final,
            },
        })
    }
}

/// Reads the children of the open element, calling `f` with each start, until its end.
fn children<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(&mut Reader<'a>, Element, bool, usize) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    loop {
        let at = r.offset();
        match r.next()? {
            Event::Start { el, empty } => f(r, el, empty, at)?,
            Event::End(_) => return Ok(()),
        }
    }
}

fn number(r: &mut Reader<'_>, el: Element, empty: bool, at: usize) -> Result<u32, DecodeError> {
    r.value(el, empty)?
        .to_u32()
        .ok_or_else(|| DecodeError::at(K::Number(el), at))
}

fn unexpected(el: Element, at: usize) -> DecodeError {
    DecodeError::at(K::Unexpected(el), at)
}

fn sync_hdr<'a>(r: &mut Reader<'a>) -> Result<SyncHdr<'a>, DecodeError> {
    let mut h = SyncHdr {
        ver_dtd: Value::EMPTY,
        ver_proto: Value::EMPTY,
        session_id: Value::EMPTY,
        msg_id: 0,
        target: Location::default(),
        source: Location::default(),
        resp_uri: None,
        no_resp: false,
        cred: None,
        meta: None,
    };
    children(r, |r, el, empty, at| {
        match el {
            Element::VerDTD => h.ver_dtd = r.value(el, empty)?,
            Element::VerProto => h.ver_proto = r.value(el, empty)?,
            Element::SessionID => h.session_id = r.value(el, empty)?,
            Element::MsgID => h.msg_id = number(r, el, empty, at)?,
            Element::Target => h.target = location(r, empty)?,
            Element::Source => h.source = location(r, empty)?,
            Element::RespURI => h.resp_uri = Some(r.value(el, empty)?),
            Element::NoResp => {
                r.skip(empty)?;
                h.no_resp = true;
            }
            Element::Cred => h.cred = Some(cred(r, empty)?),
            Element::Meta => h.meta = Some(meta(r, empty)?),
            _ => return Err(unexpected(el, at)),
        }
        Ok(())
    })?;
    Ok(h)
}

fn location<'a>(r: &mut Reader<'a>, empty: bool) -> Result<Location<'a>, DecodeError> {
    let mut loc = Location::default();
    if !empty {
        children(r, |r, el, empty, at| {
            match el {
                Element::LocURI => loc.loc_uri = r.value(el, empty)?,
                Element::LocName => loc.loc_name = Some(r.value(el, empty)?),
                _ => return Err(unexpected(el, at)),
            }
            Ok(())
        })?;
    }
    Ok(loc)
}

fn meta<'a>(r: &mut Reader<'a>, empty: bool) -> Result<Meta<'a>, DecodeError> {
    let mut m = Meta::default();
    if !empty {
        children(r, |r, el, empty, at| {
            match el {
                Element::Format => m.format = Some(r.value(el, empty)?),
                Element::Type => m.mime_type = Some(r.value(el, empty)?),
                Element::Mark => m.mark = Some(r.value(el, empty)?),
                Element::Size => m.size = Some(number(r, el, empty, at)?),
                Element::NextNonce => m.next_nonce = Some(r.value(el, empty)?),
                Element::Version => m.version = Some(r.value(el, empty)?),
                Element::MaxMsgSize => m.max_msg_size = Some(number(r, el, empty, at)?),
                Element::MaxObjSize => m.max_obj_size = Some(number(r, el, empty, at)?),
                Element::FieldLevel | Element::Anchor | Element::Emi | Element::Mem => {
                    r.skip(empty)?;
                }
                _ => return Err(unexpected(el, at)),
            }
            Ok(())
        })?;
    }
    Ok(m)
}

fn cred<'a>(r: &mut Reader<'a>, empty: bool) -> Result<Cred<'a>, DecodeError> {
    let mut c = Cred {
        meta: None,
        data: Value::EMPTY,
    };
    if !empty {
        children(r, |r, el, empty, at| {
            match el {
                Element::Meta => c.meta = Some(meta(r, empty)?),
                Element::Data => c.data = r.value(el, empty)?,
                _ => return Err(unexpected(el, at)),
            }
            Ok(())
        })?;
    }
    Ok(c)
}

fn chal<'a>(r: &mut Reader<'a>, empty: bool) -> Result<Chal<'a>, DecodeError> {
    let mut c = Chal {
        meta: Meta::default(),
    };
    if !empty {
        children(r, |r, el, empty, at| {
            match el {
                Element::Meta => c.meta = meta(r, empty)?,
                _ => return Err(unexpected(el, at)),
            }
            Ok(())
        })?;
    }
    Ok(c)
}

fn item<'a>(r: &mut Reader<'a>, empty: bool) -> Result<Item<'a>, DecodeError> {
    let mut it = Item::default();
    if !empty {
        children(r, |r, el, empty, at| {
            match el {
                Element::Target => it.target = Some(location(r, empty)?),
                Element::Source => it.source = Some(location(r, empty)?),
                Element::TargetParent => it.target_parent = Some(location(r, empty)?.loc_uri),
                Element::SourceParent => it.source_parent = Some(location(r, empty)?.loc_uri),
                Element::Meta => it.meta = Some(meta(r, empty)?),
                Element::Data => it.data = Some(r.value(el, empty)?),
                Element::MoreData => {
                    r.skip(empty)?;
                    it.more_data = true;
                }
                _ => return Err(unexpected(el, at)),
            }
            Ok(())
        })?;
    }
    Ok(it)
}

/// Decodes the command `el` just started; leaves `r` after its end.
fn command<'a>(
    r: &mut Reader<'a>,
    el: Element,
    empty: bool,
    at: usize,
) -> Result<Command<'a>, DecodeError> {
    if empty {
        // The structural check refuses a command without its CmdID.
        return Err(DecodeError::at(K::Missing(Element::CmdID), at));
    }
    // Where the first repeated child starts, the reader is saved; as the DTD puts the
    // items (or nested commands) last, the rest of the command is then skipped.
    let mut rest: Option<Reader<'a>> = None;
    let cmd = match el {
        Element::Alert => {
            let mut a = Alert {
                cmd_id: 0,
                no_resp: false,
                cred: None,
                data: None,
                correlator: None,
                items: Items(None),
            };
            lazy_children(r, &mut rest, None, |r, el, empty, at| {
                match el {
                    Element::CmdID => a.cmd_id = number(r, el, empty, at)?,
                    Element::NoResp => {
                        r.skip(empty)?;
                        a.no_resp = true;
                    }
                    Element::Cred => a.cred = Some(cred(r, empty)?),
                    Element::Data => a.data = Some(r.value(el, empty)?),
                    Element::Correlator => a.correlator = Some(r.value(el, empty)?),
                    _ => return Err(unexpected(el, at)),
                }
                Ok(())
            })?;
            a.items = Items(rest);
            Command::Alert(a)
        }
        Element::Status => {
            let mut s = Status {
                cmd_id: 0,
                msg_ref: 0,
                cmd_ref: 0,
                cmd: Value::EMPTY,
                cred: None,
                chal: None,
                data: Value::EMPTY,
                target_refs: Refs {
                    reader: None,
                    which: Element::TargetRef,
                },
                source_refs: Refs {
                    reader: None,
                    which: Element::SourceRef,
                },
                items: Items(None),
            };
            lazy_children(
                r,
                &mut rest,
                Some((&mut s.target_refs, &mut s.source_refs)),
                |r, el, empty, at| {
                    match el {
                        Element::CmdID => s.cmd_id = number(r, el, empty, at)?,
                        Element::MsgRef => s.msg_ref = number(r, el, empty, at)?,
                        Element::CmdRef => s.cmd_ref = number(r, el, empty, at)?,
                        Element::Cmd => s.cmd = r.value(el, empty)?,
                        Element::Cred => s.cred = Some(cred(r, empty)?),
                        Element::Chal => s.chal = Some(chal(r, empty)?),
                        Element::Data => s.data = r.value(el, empty)?,
                        _ => return Err(unexpected(el, at)),
                    }
                    Ok(())
                },
            )?;
            s.items = Items(rest);
            Command::Status(s)
        }
        Element::Results => {
            let mut res = Results {
                cmd_id: 0,
                msg_ref: None,
                cmd_ref: 0,
                meta: None,
                target_refs: Refs {
                    reader: None,
                    which: Element::TargetRef,
                },
                source_refs: Refs {
                    reader: None,
                    which: Element::SourceRef,
                },
                items: Items(None),
            };
            lazy_children(
                r,
                &mut rest,
                Some((&mut res.target_refs, &mut res.source_refs)),
                |r, el, empty, at| {
                    match el {
                        Element::CmdID => res.cmd_id = number(r, el, empty, at)?,
                        Element::MsgRef => res.msg_ref = Some(number(r, el, empty, at)?),
                        Element::CmdRef => res.cmd_ref = number(r, el, empty, at)?,
                        Element::Meta => res.meta = Some(meta(r, empty)?),
                        _ => return Err(unexpected(el, at)),
                    }
                    Ok(())
                },
            )?;
            res.items = Items(rest);
            Command::Results(res)
        }
        Element::Atomic | Element::Sequence => {
            let mut c = Container {
                cmd_id: 0,
                no_resp: false,
                meta: None,
                commands: Commands(None),
            };
            lazy_children(r, &mut rest, None, |r, el, empty, at| {
                match el {
                    Element::CmdID => c.cmd_id = number(r, el, empty, at)?,
                    Element::NoResp => {
                        r.skip(empty)?;
                        c.no_resp = true;
                    }
                    Element::Meta => c.meta = Some(meta(r, empty)?),
                    _ => return Err(unexpected(el, at)),
                }
                Ok(())
            })?;
            c.commands = Commands(rest);
            if el == Element::Atomic {
                Command::Atomic(c)
            } else {
                Command::Sequence(c)
            }
        }
        _ => {
            let mut q = Request {
                cmd_id: 0,
                no_resp: false,
                lang: None,
                archive: false,
                sft_del: false,
                cred: None,
                meta: None,
                correlator: None,
                items: Items(None),
            };
            lazy_children(r, &mut rest, None, |r, el, empty, at| {
                match el {
                    Element::CmdID => q.cmd_id = number(r, el, empty, at)?,
                    Element::NoResp => {
                        r.skip(empty)?;
                        q.no_resp = true;
                    }
                    Element::Archive => {
                        r.skip(empty)?;
                        q.archive = true;
                    }
                    Element::SftDel => {
                        r.skip(empty)?;
                        q.sft_del = true;
                    }
                    Element::Lang => q.lang = Some(r.value(el, empty)?),
                    Element::Cred => q.cred = Some(cred(r, empty)?),
                    Element::Meta => q.meta = Some(meta(r, empty)?),
                    Element::Correlator => q.correlator = Some(r.value(el, empty)?),
                    _ => return Err(unexpected(el, at)),
                }
                Ok(())
            })?;
            q.items = Items(rest);
            match el {
                Element::Add => Command::Add(q),
                Element::Copy => Command::Copy(q),
                Element::Delete => Command::Delete(q),
                Element::Exec => Command::Exec(q),
                Element::Get => Command::Get(q),
                Element::Replace => Command::Replace(q),
                _ => return Err(unexpected(el, at)),
            }
        }
    };
    Ok(cmd)
}

/// Whether `el` starts the repeated tail of a command (its items or nested commands).
fn is_tail(el: Element) -> bool {
    el == Element::Item || (el.is_command() && !matches!(el, Element::Status | Element::Results))
}

/// Reads a command's leading children with `f` until its repeated tail, which is saved
/// in `rest` and skipped; leaves `r` after the command's end. With `refs`, also saves
/// where the TargetRefs and SourceRefs start.
fn lazy_children<'a>(
    r: &mut Reader<'a>,
    rest: &mut Option<Reader<'a>>,
    mut refs: Option<(&mut Refs<'a>, &mut Refs<'a>)>,
    mut f: impl FnMut(&mut Reader<'a>, Element, bool, usize) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    loop {
        let saved = *r;
        let at = r.offset();
        match r.next()? {
            Event::Start { el, .. } if is_tail(el) => {
                *r = saved;
                *rest = Some(saved);
                return r.skip_rest();
            }
            Event::Start { el, empty } => {
                let list = match (&mut refs, el) {
                    (Some((targets, _)), Element::TargetRef) => Some(&mut **targets),
                    (Some((_, sources)), Element::SourceRef) => Some(&mut **sources),
                    _ => None,
                };
                match list {
                    Some(list) => {
                        if list.reader.is_none() {
                            list.reader = Some(saved);
                        }
                        r.value(el, empty)?;
                    }
                    None => f(r, el, empty, at)?,
                }
            }
            Event::End(_) => return Ok(()),
        }
    }
}
