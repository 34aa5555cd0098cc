//! Shared by the session tests: a device (tree, auth state, a recording handler, a
//! counting RNG) running a `Session`, and a small scripted DM server that writes its
//! messages with the codec's writer and reads the device's with the codec's decoder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    clippy::large_enum_variant
)]

use sha2::{Digest, Sha256};

use scomo::codes::{ScomoResult, StatusCode};
use scomo::dm::alert::{AlertItem, GenericAlert, SessionHandler};
use scomo::dm::auth::{Account, AuthScheme, AuthState};
use scomo::dm::codec::{
    Command, DataOut, Element, Encoding, HeaderOut, ItemOut, Message, Meta, MetaOut, RequestOut,
    StatusOut, Value, Writer,
};
use scomo::dm::pkg0::SessionId;
use scomo::dm::session::{
    Config, Context, Output, Received, ServerAuth, Session, Start, Summary, UiHook,
};
use scomo::mo::{
    DeployedLeaf, DeployedState, DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion,
    Scomo,
};
use scomo::platform::Rng;
use scomo::tree::{ExecHandler, ExecRequest, Tree};

/// The device's tree in these tests.
pub type T = Tree<2, 2, 8, 384>;

pub const SRV_ID: &str = "srv1";
pub const SERVER_URI: &str = "https://dm.example.com/dm";
pub const DEVICE_ID: &str = "IMEI:490154203237518";
pub const CLIENT: Account<'static> = Account {
    name: "device",
    password: b"s3cret",
};
pub const SERVER: Account<'static> = Account {
    name: "srv1",
    password: b"srvpass",
};
/// The device's receive and send buffers, as on a microcontroller.
pub const BUF: usize = 2048;

pub fn tree() -> T {
    let mut info = DevInfo::new();
    info.set(DevInfoLeaf::DevId, DEVICE_ID).unwrap();
    info.set(DevInfoLeaf::Man, "Acme").unwrap();
    info.set(DevInfoLeaf::Mod, "Widget").unwrap();
    info.set(DevInfoLeaf::DmV, "scomo-0.1").unwrap();
    info.set(DevInfoLeaf::Lang, "en-US").unwrap();
    let mut acc = DmAcc::new("acc").unwrap();
    acc.set(DmAccLeaf::ServerId, SRV_ID).unwrap();
    let mut scomo = Scomo::new(MoVersion::V1_0);
    for (name, id, version, state) in [
        ("Comp1", "com.example.app", "2.1", DeployedState::Active),
        ("Comp2", "com.example.lib", "1.0", DeployedState::Inactive),
    ] {
        let c = scomo.add_deployed(name).unwrap();
        c.set(DeployedLeaf::Id, id).unwrap();
        c.set(DeployedLeaf::Version, version).unwrap();
        c.set(DeployedLeaf::Name, name).unwrap();
        c.set_state(state);
    }
    let mut t = T::new(info, DevDetail::new(), acc, scomo, "./SCOMO").unwrap();
    t.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=srv1")
        .unwrap();
    t
}

/// The tree's server-changeable state, to prove "unchanged".
pub fn state(t: &T) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let mut e = minicbor::Encoder::new(&mut buf[..]);
    t.encode_state(&mut e).unwrap();
    let left = e.into_writer().len();
    buf.truncate(8192 - left);
    buf
}

pub fn config(enc: Encoding) -> Config<'static> {
    Config {
        server_uri: SERVER_URI,
        device_id: DEVICE_ID,
        encoding: enc,
        client: CLIENT,
        server: None,
        server_id: SRV_ID,
        max_msg_size: BUF as u32,
        max_obj_size: 16 << 20,
    }
}

pub fn server_auth(scheme: AuthScheme) -> Option<ServerAuth<'static>> {
    Some(ServerAuth {
        account: SERVER,
        scheme,
    })
}

/// A deterministic RNG (never fails).
#[derive(Default)]
pub struct Counter(u8);

impl Rng for Counter {
    type Error = core::convert::Infallible;
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Self::Error> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

/// A Generic Alert waiting in the test's outbox.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: u32,
    pub correlator: Option<String>,
    pub source: String,
    pub alert_type: String,
    pub items: Vec<(String, u16, String)>,
}

/// The test double of the executor: records what the engine hands over.
pub struct Handler {
    pub exec_code: StatusCode,
    pub execs: Vec<(String, Option<String>, Option<Vec<u8>>)>,
    pub begun: Vec<(String, Option<u64>)>,
    pub refuse_begin: Option<StatusCode>,
    pub hash: Sha256,
    pub written: u64,
    pub largest_write: usize,
    pub committed: Vec<(String, u64, [u8; 32])>,
    pub abandoned: usize,
    pub outbox: Vec<Pending>,
    pub alert_statuses: Vec<(u32, StatusCode)>,
}

impl Default for Handler {
    fn default() -> Self {
        Handler {
            exec_code: StatusCode::Accepted,
            execs: Vec::new(),
            begun: Vec::new(),
            refuse_begin: None,
            hash: Sha256::new(),
            written: 0,
            largest_write: 0,
            committed: Vec::new(),
            abandoned: 0,
            outbox: Vec::new(),
            alert_statuses: Vec::new(),
        }
    }
}

impl ExecHandler for Handler {
    fn exec(&mut self, request: &ExecRequest<'_>) -> StatusCode {
        self.execs.push((
            request.uri.to_string(),
            request.correlator.map(str::to_owned),
            request.data.map(<[u8]>::to_vec),
        ));
        self.exec_code
    }
}

impl SessionHandler for Handler {
    fn object_begin(&mut self, package: &str, size: Option<u64>) -> Result<(), StatusCode> {
        if let Some(code) = self.refuse_begin {
            return Err(code);
        }
        self.begun.push((package.to_owned(), size));
        self.hash = Sha256::new();
        self.written = 0;
        Ok(())
    }

    fn object_write(&mut self, bytes: &[u8]) -> Result<(), StatusCode> {
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        self.largest_write = self.largest_write.max(bytes.len());
        Ok(())
    }

    fn object_end(&mut self, commit: bool) -> Result<u64, StatusCode> {
        let digest: [u8; 32] = std::mem::take(&mut self.hash).finalize().into();
        if commit {
            let name = self.begun.last().unwrap().0.clone();
            self.committed.push((name, self.written, digest));
        } else {
            self.abandoned += 1;
        }
        Ok(self.written)
    }

    fn pending_alert(&self, index: usize) -> Option<GenericAlert<'_>> {
        let p = self.outbox.get(index)?;
        let mut items = heapless::Vec::new();
        for (target, code, identifier) in &p.items {
            items
                .push(AlertItem {
                    target,
                    result: ScomoResult::from_code(*code).unwrap(),
                    identifier,
                })
                .unwrap();
        }
        Some(GenericAlert {
            id: p.id,
            correlator: p.correlator.as_deref(),
            source: &p.source,
            alert_type: &p.alert_type,
            items,
        })
    }

    fn alert_status(&mut self, id: u32, status: StatusCode) {
        self.alert_statuses.push((id, status));
        if status.is_success() {
            self.outbox.retain(|p| p.id != id);
        }
    }
}

/// What a step gave, owned.
#[derive(Debug)]
pub enum Step {
    Sent(Sent),
    Finished(Summary),
    Aborted(Summary),
}

#[derive(Debug)]
pub struct Sent {
    pub body: Vec<u8>,
    pub out: Out,
    pub url: String,
    pub content_type: String,
    pub hmac: Option<String>,
    pub persist_auth: bool,
    pub last: bool,
}

impl Step {
    pub fn sent(self) -> Sent {
        match self {
            Step::Sent(s) => s,
            other => panic!("expected a message, got {other:?}"),
        }
    }
    pub fn finished(self) -> Summary {
        match self {
            Step::Finished(s) => s,
            other => panic!("expected the end, got {other:?}"),
        }
    }
    pub fn aborted(self) -> Summary {
        match self {
            Step::Aborted(s) => s,
            other => panic!("expected an abort, got {other:?}"),
        }
    }
}

/// The device.
pub struct Dev {
    pub enc: Encoding,
    pub tree: T,
    pub auth: AuthState,
    pub handler: Handler,
    pub rng: Counter,
    pub ui: Option<Box<dyn UiHook>>,
    pub session: Session<'static>,
    pub tx: Vec<u8>,
    pub work: Vec<u8>,
}

impl Dev {
    pub fn new(enc: Encoding, start: Start<'static>) -> Dev {
        Dev::with(
            config(enc),
            AuthState::new(AuthScheme::Basic, b"", b"").unwrap(),
            start,
        )
    }

    pub fn with(cfg: Config<'static>, auth: AuthState, start: Start<'static>) -> Dev {
        Dev {
            enc: cfg.encoding,
            tree: tree(),
            auth,
            handler: Handler::default(),
            rng: Counter::default(),
            ui: None,
            session: Session::new(cfg, start),
            tx: vec![0u8; BUF],
            work: vec![0u8; 1024],
        }
    }

    pub fn client(enc: Encoding) -> Dev {
        Dev::new(
            enc,
            Start::Client {
                session_id: SessionId::new(0x1A2B).unwrap(),
                request: None,
            },
        )
    }

    pub fn start(&mut self) -> Sent {
        let mut ctx = Context {
            tree: &mut self.tree,
            auth: &mut self.auth,
            handler: &mut self.handler,
            rng: &mut self.rng,
            ui: self.ui.as_mut().map(|b| &mut **b as &mut dyn UiHook),
            work: &mut self.work,
        };
        let out = self.session.start(&mut ctx, &mut self.tx).unwrap();
        owned(out, self.enc).sent()
    }

    pub fn step(&mut self, body: &[u8]) -> Step {
        let ct = self.enc.content_type();
        self.step_with(body, ct, None)
    }

    pub fn step_with(&mut self, body: &[u8], content_type: &str, hmac: Option<&str>) -> Step {
        let mut ctx = Context {
            tree: &mut self.tree,
            auth: &mut self.auth,
            handler: &mut self.handler,
            rng: &mut self.rng,
            ui: self.ui.as_mut().map(|b| &mut **b as &mut dyn UiHook),
            work: &mut self.work,
        };
        let rx = Received {
            body,
            content_type,
            hmac,
        };
        let out = self.session.step(&mut ctx, rx, &mut self.tx).unwrap();
        owned(out, self.enc)
    }
}

fn owned(out: Output<'_>, enc: Encoding) -> Step {
    match out {
        Output::Send(o) => {
            assert!(o.body.len() <= BUF, "a message longer than the buffer");
            Step::Sent(Sent {
                body: o.body.to_vec(),
                out: parse(o.body, enc),
                url: o.url.to_owned(),
                content_type: o.content_type.to_owned(),
                hmac: o.hmac.map(str::to_owned),
                persist_auth: o.persist_auth,
                last: o.last,
            })
        }
        Output::Finished(s) => Step::Finished(s),
        Output::Aborted(s) => Step::Aborted(s),
    }
}

// ----- reading the device's messages -----

#[derive(Debug, Clone, Default)]
pub struct ItemD {
    pub target: Option<String>,
    pub source: Option<String>,
    pub format: Option<String>,
    pub mime: Option<String>,
    pub mark: Option<String>,
    pub size: Option<u32>,
    pub data: Option<Vec<u8>>,
    pub more: bool,
}

impl ItemD {
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone().unwrap_or_default()).unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct St {
    pub cmd_id: u32,
    pub msg_ref: u32,
    pub cmd_ref: u32,
    pub cmd: String,
    pub code: u32,
    pub targets: Vec<String>,
    pub sources: Vec<String>,
    pub chal: Option<(String, Option<String>)>,
    pub items: Vec<ItemD>,
}

#[derive(Debug, Clone)]
pub enum Cmd {
    Status(St),
    Results {
        cmd_id: u32,
        msg_ref: Option<u32>,
        cmd_ref: u32,
        items: Vec<ItemD>,
    },
    Alert {
        cmd_id: u32,
        code: u32,
        correlator: Option<String>,
        items: Vec<ItemD>,
    },
    Replace {
        cmd_id: u32,
        items: Vec<ItemD>,
    },
    Other(String),
}

impl Cmd {
    pub fn cmd_id(&self) -> u32 {
        match self {
            Cmd::Status(s) => s.cmd_id,
            Cmd::Results { cmd_id, .. }
            | Cmd::Alert { cmd_id, .. }
            | Cmd::Replace { cmd_id, .. } => *cmd_id,
            Cmd::Other(_) => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Out {
    pub session_id: String,
    pub msg_id: u32,
    pub target: String,
    pub source: String,
    pub loc_name: Option<String>,
    pub cred: Option<(String, String)>,
    pub max_msg: Option<u32>,
    pub max_obj: Option<u32>,
    pub cmds: Vec<Cmd>,
    pub is_final: bool,
}

impl Out {
    pub fn statuses(&self) -> Vec<&St> {
        self.cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Status(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The Status answering `cmd_ref` (panics when there is none or several).
    pub fn status(&self, cmd_ref: u32) -> &St {
        let found: Vec<_> = self
            .statuses()
            .into_iter()
            .filter(|s| s.cmd_ref == cmd_ref)
            .collect();
        assert_eq!(found.len(), 1, "one Status for CmdRef {cmd_ref}: {self:#?}");
        found[0]
    }

    pub fn code(&self, cmd_ref: u32) -> u32 {
        self.status(cmd_ref).code
    }

    pub fn alerts(&self) -> Vec<(u32, u32, Option<String>, Vec<ItemD>)> {
        self.cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Alert {
                    cmd_id,
                    code,
                    correlator,
                    items,
                } => Some((*cmd_id, *code, correlator.clone(), items.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn alert_codes(&self) -> Vec<u32> {
        self.alerts().iter().map(|a| a.1).collect()
    }

    pub fn results(&self) -> Vec<(u32, Vec<ItemD>)> {
        self.cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Results { cmd_ref, items, .. } => Some((*cmd_ref, items.clone())),
                _ => None,
            })
            .collect()
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.try_for_each_chunk(|c| {
        out.extend_from_slice(c);
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

fn s(v: &Value) -> String {
    String::from_utf8(bytes(v)).unwrap()
}

fn meta_into(d: &mut ItemD, m: &Option<Meta>) {
    if let Some(m) = m {
        d.format = m.format.as_ref().map(s);
        d.mime = m.mime_type.as_ref().map(s);
        d.mark = m.mark.as_ref().map(s);
        d.size = m.size;
    }
}

fn items(it: scomo::dm::codec::Items) -> Vec<ItemD> {
    it.map(|i| {
        let i = i.unwrap();
        let mut d = ItemD {
            target: i.target.map(|t| s(&t.loc_uri)),
            source: i.source.map(|t| s(&t.loc_uri)),
            data: i.data.as_ref().map(bytes),
            more: i.more_data,
            ..ItemD::default()
        };
        meta_into(&mut d, &i.meta);
        d
    })
    .collect()
}

/// Decodes a device message (the codec checks it against the DTD on the way).
pub fn parse(body: &[u8], enc: Encoding) -> Out {
    let msg = Message::decode(body, enc).unwrap();
    let h = &msg.hdr;
    assert!(h.ver_dtd.eq_str("1.2") && h.ver_proto.eq_str("DM/1.2"));
    let mut cmds = Vec::new();
    for cmd in msg.body.commands() {
        cmds.push(match cmd.unwrap() {
            Command::Status(st) => Cmd::Status(St {
                cmd_id: st.cmd_id,
                msg_ref: st.msg_ref,
                cmd_ref: st.cmd_ref,
                cmd: s(&st.cmd),
                code: st.data.to_u32().unwrap(),
                targets: st.target_refs().map(|v| s(&v.unwrap())).collect(),
                sources: st.source_refs().map(|v| s(&v.unwrap())).collect(),
                chal: st.chal.map(|c| {
                    (
                        s(c.meta.mime_type.as_ref().unwrap()),
                        c.meta.next_nonce.as_ref().map(s),
                    )
                }),
                items: items(st.items()),
            }),
            Command::Results(r) => Cmd::Results {
                cmd_id: r.cmd_id,
                msg_ref: r.msg_ref,
                cmd_ref: r.cmd_ref,
                items: items(r.items()),
            },
            Command::Alert(a) => Cmd::Alert {
                cmd_id: a.cmd_id,
                code: a.data.unwrap().to_u32().unwrap(),
                correlator: a.correlator.as_ref().map(s),
                items: items(a.items()),
            },
            Command::Replace(r) => Cmd::Replace {
                cmd_id: r.cmd_id,
                items: items(r.items()),
            },
            other => Cmd::Other(format!("{:?}", other.element())),
        });
    }
    // CmdIDs of one message are unique.
    let mut ids: Vec<u32> = cmds.iter().map(Cmd::cmd_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), cmds.len(), "duplicate CmdID in {cmds:#?}");
    Out {
        session_id: s(&h.session_id),
        msg_id: h.msg_id,
        target: s(&h.target.loc_uri),
        source: s(&h.source.loc_uri),
        loc_name: h.source.loc_name.as_ref().map(s),
        cred: h.cred.as_ref().map(|c| {
            (
                s(c.meta.as_ref().unwrap().mime_type.as_ref().unwrap()),
                s(&c.data),
            )
        }),
        max_msg: h.meta.as_ref().and_then(|m| m.max_msg_size),
        max_obj: h.meta.as_ref().and_then(|m| m.max_obj_size),
        cmds,
        is_final: msg.body.is_final,
    }
}

// ----- the scripted server -----

/// A DM server's side of the session, writing its messages with the codec.
pub struct Srv {
    pub enc: Encoding,
    pub session: String,
    pub msg_id: u32,
    pub cmd_id: u32,
    /// The server's own `MaxMsgSize` (what the device must respect).
    pub max_msg: Option<u32>,
    pub cred: Option<(AuthScheme, String)>,
    pub resp_uri: Option<String>,
    /// Whether messages must respect the device's `MaxMsgSize` (off for hostile tests).
    pub polite: bool,
}

impl Srv {
    pub fn new(enc: Encoding, session: &str) -> Srv {
        Srv {
            enc,
            session: session.to_owned(),
            msg_id: 0,
            cmd_id: 0,
            max_msg: None,
            cred: None,
            resp_uri: None,
            polite: true,
        }
    }

    /// A message: header, then `body`, then `Final` if asked.
    pub fn msg(&mut self, is_final: bool, body: impl FnOnce(&mut Srv, &mut Writer)) -> Vec<u8> {
        self.msg_id += 1;
        self.cmd_id = 0;
        let mut buf = vec![0u8; 1 << 16];
        let mut w = Writer::new(&mut buf, self.enc).unwrap();
        let cred = self.cred.clone();
        if let Some(resp) = self.resp_uri.clone() {
            // The writer's header builder has no RespURI: write this one by hand.
            w.start(Element::SyncML).unwrap();
            w.start(Element::SyncHdr).unwrap();
            w.leaf(Element::VerDTD, "1.2").unwrap();
            w.leaf(Element::VerProto, "DM/1.2").unwrap();
            w.leaf(Element::SessionID, &self.session).unwrap();
            w.leaf_u32(Element::MsgID, self.msg_id).unwrap();
            for (el, uri) in [(Element::Target, DEVICE_ID), (Element::Source, SERVER_URI)] {
                w.start(el).unwrap();
                w.leaf(Element::LocURI, uri).unwrap();
                w.end().unwrap();
            }
            w.leaf(Element::RespURI, &resp).unwrap();
            w.end().unwrap();
            w.start(Element::SyncBody).unwrap();
        } else {
            w.begin_message(&HeaderOut {
                session_id: &self.session,
                msg_id: self.msg_id,
                target: DEVICE_ID,
                source: SERVER_URI,
                source_name: None,
                cred: cred
                    .as_ref()
                    .map(|(scheme, data)| scomo::dm::codec::CredOut {
                        meta: MetaOut {
                            mime_type: Some(scheme.meta_type()),
                            format: Some("b64"),
                            ..MetaOut::default()
                        },
                        data,
                    }),
                meta: self.max_msg.map(|n| MetaOut {
                    max_msg_size: Some(n),
                    ..MetaOut::default()
                }),
            })
            .unwrap();
        }
        body(self, &mut w);
        w.end_message(is_final).unwrap();
        let n = w.finish().unwrap().len();
        buf.truncate(n);
        assert!(
            !self.polite || n <= BUF,
            "the server must respect the device's MaxMsgSize"
        );
        buf
    }

    pub fn id(&mut self) -> u32 {
        self.cmd_id += 1;
        self.cmd_id
    }

    /// The server's Status for the device's SyncHdr.
    pub fn hdr_status(&mut self, w: &mut Writer, dev: &Out, code: StatusCode) {
        self.hdr_status_chal(w, dev, code, None);
    }

    pub fn hdr_status_chal(
        &mut self,
        w: &mut Writer,
        dev: &Out,
        code: StatusCode,
        chal: Option<MetaOut>,
    ) {
        let id = self.id();
        w.status(&StatusOut {
            cmd_id: id,
            msg_ref: dev.msg_id,
            cmd_ref: 0,
            cmd: Element::SyncHdr,
            target_refs: &[SERVER_URI],
            source_refs: &[DEVICE_ID],
            chal,
            code,
            items: &[],
        })
        .unwrap();
    }

    /// The header Status and a Status for each Alert and Replace of the device.
    pub fn acks(&mut self, w: &mut Writer, dev: &Out, hdr: StatusCode, alerts: StatusCode) {
        self.hdr_status(w, dev, hdr);
        for cmd in &dev.cmds {
            let (cmd_ref, el, code) = match cmd {
                Cmd::Alert { cmd_id, .. } => (*cmd_id, Element::Alert, alerts),
                Cmd::Replace { cmd_id, .. } => (*cmd_id, Element::Replace, StatusCode::Ok),
                _ => continue,
            };
            let id = self.id();
            w.status(&StatusOut {
                cmd_id: id,
                msg_ref: dev.msg_id,
                cmd_ref,
                cmd: el,
                target_refs: &[],
                source_refs: &[],
                chal: None,
                code,
                items: &[],
            })
            .unwrap();
        }
    }

    pub fn get(&mut self, w: &mut Writer, uris: &[&str]) -> u32 {
        let id = self.id();
        let items: Vec<ItemOut> = uris
            .iter()
            .map(|u| ItemOut {
                target: Some(u),
                ..ItemOut::default()
            })
            .collect();
        w.request(&RequestOut {
            kind: Element::Get,
            cmd_id: id,
            meta: None,
            correlator: None,
            items: &items,
        })
        .unwrap();
        id
    }

    pub fn put(
        &mut self,
        w: &mut Writer,
        kind: Element,
        uri: &str,
        format: Option<&str>,
        data: Option<DataOut>,
    ) -> u32 {
        let id = self.id();
        w.request(&RequestOut {
            kind,
            cmd_id: id,
            meta: None,
            correlator: None,
            items: &[ItemOut {
                target: Some(uri),
                meta: format.map(|f| MetaOut {
                    format: Some(f),
                    ..MetaOut::default()
                }),
                data,
                ..ItemOut::default()
            }],
        })
        .unwrap();
        id
    }

    pub fn add_node(&mut self, w: &mut Writer, uri: &str) -> u32 {
        self.put(w, Element::Add, uri, Some("node"), None)
    }

    pub fn add_chr(&mut self, w: &mut Writer, uri: &str, value: &str) -> u32 {
        self.put(
            w,
            Element::Add,
            uri,
            Some("chr"),
            Some(DataOut::Text(value)),
        )
    }

    pub fn replace_chr(&mut self, w: &mut Writer, uri: &str, value: &str) -> u32 {
        self.put(
            w,
            Element::Replace,
            uri,
            Some("chr"),
            Some(DataOut::Text(value)),
        )
    }

    pub fn delete(&mut self, w: &mut Writer, uri: &str) -> u32 {
        self.put(w, Element::Delete, uri, None, None)
    }

    pub fn exec(&mut self, w: &mut Writer, uri: &str, correlator: Option<&str>) -> u32 {
        let id = self.id();
        w.request(&RequestOut {
            kind: Element::Exec,
            cmd_id: id,
            meta: None,
            correlator,
            items: &[ItemOut {
                target: Some(uri),
                ..ItemOut::default()
            }],
        })
        .unwrap();
        id
    }

    pub fn alert(&mut self, w: &mut Writer, code: u16, texts: &[&str]) -> u32 {
        let id = self.id();
        let items: Vec<ItemOut> = texts
            .iter()
            .map(|t| ItemOut {
                data: Some(DataOut::Text(t)),
                ..ItemOut::default()
            })
            .collect();
        w.alert(&scomo::dm::codec::AlertOut {
            cmd_id: id,
            code,
            correlator: None,
            items: &items,
        })
        .unwrap();
        id
    }

    /// An Atomic or Sequence around what `inner` writes.
    pub fn container(
        &mut self,
        w: &mut Writer,
        kind: Element,
        inner: impl FnOnce(&mut Srv, &mut Writer),
    ) -> u32 {
        let id = self.id();
        w.start(kind).unwrap();
        w.leaf_u32(Element::CmdID, id).unwrap();
        inner(self, w);
        w.end().unwrap();
        id
    }

    /// One Large Object chunk of an Add.
    #[allow(clippy::too_many_arguments)]
    pub fn chunk(
        &mut self,
        w: &mut Writer,
        kind: Element,
        uri: &str,
        format: &str,
        size: Option<u32>,
        data: DataOut,
        more: bool,
    ) -> u32 {
        let id = self.id();
        w.request(&RequestOut {
            kind,
            cmd_id: id,
            meta: None,
            correlator: None,
            items: &[ItemOut {
                target: Some(uri),
                meta: Some(MetaOut {
                    format: Some(format),
                    size,
                    ..MetaOut::default()
                }),
                data: Some(data),
                more_data: more,
                ..ItemOut::default()
            }],
        })
        .unwrap();
        id
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let mut out = vec![0u8; bytes.len().div_ceil(3) * 4 + 4];
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out)
        .unwrap();
    out.truncate(n);
    String::from_utf8(out).unwrap()
}

pub fn b64_decode(text: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = vec![0u8; text.len() / 4 * 3 + 3];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, &mut out)
        .unwrap();
    out.truncate(n);
    out
}

pub const ENCODINGS: [Encoding; 2] = [Encoding::Xml, Encoding::Wbxml];

/// Follows the device's package to its last message, answering each message without
/// `Final` with the "Next Message" response (SyncHdr Status and Alert 1222, no Final).
pub fn whole_package(dev: &mut Dev, srv: &mut Srv, first: Out) -> Vec<Out> {
    let mut all = vec![first];
    while !all.last().unwrap().is_final {
        let last = all.last().unwrap().clone();
        let next = srv.msg(false, |s, w| {
            s.hdr_status(w, &last, StatusCode::Ok);
            s.alert(w, 1222, &[]);
        });
        all.push(dev.step(&next).sent().out);
        assert!(all.len() < 10_000, "the package never ends");
    }
    all
}
