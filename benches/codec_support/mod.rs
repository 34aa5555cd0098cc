//! What the codec bench (`benches/codec.rs`) and the Cortex-M decode-cost image
//! (`firmware/decode-cost`) both measure, written once: the server package they decode, and
//! the walk of a decoded message.
//!
//! `no_std` and unwrap-free, so that the firmware image can include this file as it is.

use scomo::codes::StatusCode;
use scomo::dm::codec::{
    Command, Commands, CredOut, DataOut, DecodeError, Element, EncodeError, Encoding, HeaderOut,
    ItemOut, Items, Location, Message, Meta, MetaOut, Refs, RequestOut, StatusOut, Value, Writer,
};

/// Writes a server package: SyncHdr with Cred and MaxMsgSize; Status 212 with a Chal for
/// the header; then `rounds` times a Status for a client command, an Add of two items
/// (`PkgID`, `PkgURL`), a Get and an Exec of the SCOMO alternate-download flow; Final.
/// Six rounds come to 5,355 bytes of XML. Returns the length written.
///
/// # Errors
/// `buf` is too small.
pub fn encode_package(enc: Encoding, buf: &mut [u8], rounds: u32) -> Result<usize, EncodeError> {
    let mut w = Writer::new(buf, enc)?;
    w.begin_message(&HeaderOut {
        session_id: "1A2B",
        msg_id: 1,
        target: "IMEI:493005100592800",
        source: "https://dm.example.com/dm",
        source_name: None,
        cred: Some(CredOut {
            meta: MetaOut {
                format: Some("b64"),
                mime_type: Some("syncml:auth-md5"),
                ..MetaOut::default()
            },
            data: "Zz6EivR3yeaaENcRN6lpAQ==",
        }),
        meta: Some(MetaOut {
            max_msg_size: Some(16384),
            ..MetaOut::default()
        }),
    })?;
    w.status(&StatusOut {
        cmd_id: 1,
        msg_ref: 1,
        cmd_ref: 0,
        cmd: Element::SyncHdr,
        target_refs: &["https://dm.example.com/dm"],
        source_refs: &["IMEI:493005100592800"],
        chal: Some(MetaOut {
            mime_type: Some("syncml:auth-md5"),
            format: Some("b64"),
            next_nonce: Some("LG3iZQhhdmKNHg=="),
            ..MetaOut::default()
        }),
        code: StatusCode::AuthAccepted,
        items: &[],
    })?;
    let mut id = 2;
    let mut next = || {
        id += 1;
        id
    };
    let chr = MetaOut {
        format: Some("chr"),
        ..MetaOut::default()
    };
    for round in 0..rounds {
        w.status(&StatusOut {
            cmd_id: next(),
            msg_ref: 1,
            cmd_ref: round + 1,
            cmd: Element::Replace,
            target_refs: &[],
            source_refs: &[],
            chal: None,
            code: StatusCode::Ok,
            items: &[],
        })?;
        w.request(&RequestOut {
            kind: Element::Add,
            cmd_id: next(),
            meta: None,
            correlator: None,
            items: &[
                ItemOut {
                    target: Some("./SCOMO/Download/Pkg1/PkgID"),
                    meta: Some(chr),
                    data: Some(DataOut::Text("com.example.app-2.1")),
                    ..ItemOut::default()
                },
                ItemOut {
                    target: Some("./SCOMO/Download/Pkg1/PkgURL"),
                    meta: Some(chr),
                    data: Some(DataOut::Text("https://dl.example.com/app.dd?a=1&b=2")),
                    ..ItemOut::default()
                },
            ],
        })?;
        w.request(&RequestOut {
            kind: Element::Get,
            cmd_id: next(),
            meta: None,
            correlator: None,
            items: &[ItemOut {
                target: Some("./SCOMO/Inventory/Deployed?list=Struct"),
                ..ItemOut::default()
            }],
        })?;
        w.request(&RequestOut {
            kind: Element::Exec,
            cmd_id: next(),
            meta: None,
            correlator: Some("job-77"),
            items: &[ItemOut {
                target: Some("./SCOMO/Download/Pkg1/Operations/DownloadInstall"),
                ..ItemOut::default()
            }],
        })?;
    }
    w.end_message(true)?;
    Ok(w.finish()?.len())
}

/// What a walk saw; equal for the XML and the WBXML form of one message.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Commands, nested ones included.
    pub commands: u32,
    /// Items of every command.
    pub items: u32,
    /// Values read (URIs, data, meta, references, ...).
    pub values: u32,
    /// Their decoded bytes.
    pub bytes: u32,
    /// The sum of every number read (CmdIDs, status and alert codes), wrapping.
    pub numbers: u32,
}

impl Tally {
    fn value(&mut self, v: Option<&Value<'_>>) {
        if let Some(v) = v {
            self.values += 1;
            let mut len = 0;
            let _ = v.try_for_each_chunk(|chunk| {
                len += chunk.len();
                Ok::<(), ()>(())
            });
            self.bytes = self
                .bytes
                .wrapping_add(u32::try_from(len).unwrap_or(u32::MAX));
        }
    }

    fn number(&mut self, n: u32) {
        self.numbers = self.numbers.wrapping_add(n);
    }

    fn location(&mut self, l: Option<&Location<'_>>) {
        if let Some(l) = l {
            self.value(Some(&l.loc_uri));
            self.value(l.loc_name.as_ref());
        }
    }

    fn meta(&mut self, m: Option<&Meta<'_>>) {
        if let Some(m) = m {
            self.value(m.format.as_ref());
            self.value(m.mime_type.as_ref());
            self.value(m.mark.as_ref());
            self.value(m.next_nonce.as_ref());
            self.number(m.size.unwrap_or(0));
        }
    }

    fn refs(&mut self, refs: Refs<'_>) -> Result<(), DecodeError> {
        for r in refs {
            self.value(Some(&r?));
        }
        Ok(())
    }

    fn items(&mut self, items: Items<'_>) -> Result<(), DecodeError> {
        for item in items {
            let item = item?;
            self.items += 1;
            self.location(item.target.as_ref());
            self.location(item.source.as_ref());
            self.value(item.target_parent.as_ref());
            self.value(item.source_parent.as_ref());
            self.meta(item.meta.as_ref());
            self.value(item.data.as_ref());
        }
        Ok(())
    }

    fn commands(&mut self, cmds: Commands<'_>) -> Result<(), DecodeError> {
        for cmd in cmds {
            let cmd = cmd?;
            self.commands += 1;
            self.number(cmd.cmd_id());
            match &cmd {
                Command::Add(r)
                | Command::Copy(r)
                | Command::Delete(r)
                | Command::Exec(r)
                | Command::Get(r)
                | Command::Replace(r) => {
                    self.meta(r.meta.as_ref());
                    self.value(r.correlator.as_ref());
                    self.items(r.items())?;
                }
                Command::Alert(a) => {
                    self.number(a.data.as_ref().and_then(Value::to_u32).unwrap_or(0));
                    self.value(a.correlator.as_ref());
                    self.items(a.items())?;
                }
                Command::Status(s) => {
                    self.number(s.data.to_u32().unwrap_or(0));
                    self.number(s.cmd_ref);
                    self.value(Some(&s.cmd));
                    self.refs(s.target_refs())?;
                    self.refs(s.source_refs())?;
                    self.meta(s.chal.as_ref().map(|c| &c.meta));
                    self.items(s.items())?;
                }
                Command::Results(r) => {
                    self.number(r.cmd_ref);
                    self.meta(r.meta.as_ref());
                    self.refs(r.target_refs())?;
                    self.refs(r.source_refs())?;
                    self.items(r.items())?;
                }
                Command::Atomic(c) | Command::Sequence(c) => self.commands(c.commands())?,
            }
        }
        Ok(())
    }
}

/// Decodes a message and walks it as the session engine does: the header's values, then
/// every command in order (into Atomic and Sequence), with its numbers, its Meta, its
/// references and every item's target, source, parents, Meta and data, each value read
/// through once.
///
/// # Errors
/// The message does not decode.
#[inline(never)]
pub fn decode_walk(bytes: &[u8], enc: Encoding) -> Result<Tally, DecodeError> {
    let msg = Message::decode(bytes, enc)?;
    let mut t = Tally::default();
    let h = &msg.hdr;
    t.value(Some(&h.ver_dtd));
    t.value(Some(&h.ver_proto));
    t.value(Some(&h.session_id));
    t.number(h.msg_id);
    t.location(Some(&h.target));
    t.location(Some(&h.source));
    t.value(h.resp_uri.as_ref());
    t.commands(msg.body.commands())?;
    Ok(t)
}
