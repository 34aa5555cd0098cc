//! The OMA DM side of the test server: sessions over `POST /dm`, in XML or WBXML, with
//! client authentication (basic, MD5, HMAC, challenges), optional server credentials, the
//! scenario steps queued per device, Large Object pushes, and a record of every Status,
//! Results, Generic Alert and DevInfo value the device sent.
//!
//! The server shares the device's SyncML codec (`scomo::dm::codec`); the codec itself is
//! checked against libwbxml and real messages in the core crate's tests.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use scomo::codes::StatusCode;
use scomo::dm::auth::{self, Account, AuthScheme, Credential, HmacHeader, md5_credential};
use scomo::dm::codec::{
    AlertOut, CredOut, DataOut, Element, Encoding, ItemOut, Message, MetaOut, RequestOut,
    StatusOut, Value, Writer,
};

use crate::record::Event;
use crate::scenario::Cmd;

/// How the server authenticates the device (what the device must present, CLCRED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// No credentials needed.
    None,
    /// `syncml:auth-basic`, `syncml:auth-md5` or HMAC with this user and password.
    Required {
        /// The scheme the server demands (it challenges with it).
        scheme: AuthScheme,
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

/// A fault the DM endpoint injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DmFault {
    /// Answer faithfully.
    #[default]
    None,
    /// Answer every message with bytes that are not SyncML.
    Garbage,
    /// Answer with a `text/html` content type.
    WrongContentType,
    /// Answer Generic Alerts with 500 (never acknowledge them).
    NeverAckAlerts,
}

/// The server's DM configuration.
#[derive(Debug, Clone)]
pub struct DmConfig {
    /// The server id (DMAcc `ServerID`): the name in the server's credentials and the
    /// Package #0 digest.
    pub server_id: String,
    /// The server password (SRVCRED): when set, every server message carries MD5 server
    /// credentials (or an HMAC header when the client uses HMAC).
    pub server_password: Option<String>,
    /// What the device must present.
    pub client_auth: ClientAuth,
    /// The fault to inject.
    pub fault: DmFault,
}

impl Default for DmConfig {
    fn default() -> Self {
        Self {
            server_id: "scomo-test-server".into(),
            server_password: None,
            client_auth: ClientAuth::None,
            fault: DmFault::None,
        }
    }
}

/// A Large Object push in progress.
#[derive(Debug, Clone)]
struct LoPush {
    uri: String,
    /// The encoded value: b64 text in XML, raw bytes in WBXML.
    encoded: Vec<u8>,
    chunk: usize,
    offset: usize,
}

/// One DM session with a device.
#[derive(Debug, Default)]
struct Session {
    id: String,
    next_msg_id: u32,
    client_authenticated: bool,
    /// Commands sent, by (MsgID, CmdID): (command name, target URI).
    sent: HashMap<(u32, u32), (String, String)>,
    lo: Option<LoPush>,
    /// The step sent last, to send again when the device refused our credentials.
    last_step: Option<Vec<Cmd>>,
    /// The MsgID of the message being written.
    cur_msg: u32,
    /// The last CmdID used in the message being written.
    cmd_counter: u32,
}

/// What the server knows of one device.
#[derive(Debug, Default)]
pub struct Device {
    /// Steps waiting to be sent, one server package each.
    pub queue: VecDeque<Vec<Cmd>>,
    /// The nonce the device must use for its credentials (we issue it).
    client_nonce: Vec<u8>,
    /// The nonce we must use for our credentials (the device issues it).
    server_nonce: Vec<u8>,
    session: Option<Session>,
}

/// The DM endpoint's state: configuration and devices.
#[derive(Debug, Default)]
pub struct DmState {
    /// The configuration.
    pub config: DmConfig,
    /// Devices by device id (`Source/LocURI`).
    pub devices: HashMap<String, Device>,
    nonce_counter: u64,
}

/// An HTTP answer of the DM endpoint.
pub struct DmReply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// `x-syncml-hmac`, when the reply is signed.
    pub hmac: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl DmReply {
    fn error(status: u16, text: &str) -> Self {
        Self {
            status,
            content_type: "text/plain".into(),
            hmac: None,
            body: text.as_bytes().into(),
        }
    }
}

/// The text of a value (entities and WBXML strings decoded).
pub fn text(value: &Value<'_>) -> String {
    let mut out = Vec::new();
    let _ = value.try_for_each_chunk(|bytes| -> Result<(), ()> {
        out.extend_from_slice(bytes);
        Ok(())
    });
    String::from_utf8_lossy(&out).into_owned()
}

/// Everything found in one received message that the reply must answer.
struct Answer {
    code: StatusCode,
    cmd_id: u32,
    cmd: Element,
    target: Option<String>,
    source: Option<String>,
}

impl DmState {
    fn fresh_nonce(&mut self) -> Vec<u8> {
        self.nonce_counter += 1;
        let mut n = *b"srv-nonce-000000";
        let digits = format!("{:06}", self.nonce_counter % 1_000_000);
        n[10..].copy_from_slice(digits.as_bytes());
        n.to_vec()
    }

    /// Handles one POSTed message and returns the reply.
    pub fn handle(
        &mut self,
        body: &[u8],
        content_type: &str,
        hmac: Option<&str>,
        base_url: &str,
        events: &mut Vec<Event>,
    ) -> DmReply {
        let Some(encoding) = Encoding::from_content_type(content_type) else {
            return DmReply::error(415, "not a SyncML DM content type");
        };
        let msg = match Message::decode(body, encoding) {
            Ok(m) => m,
            Err(e) => return DmReply::error(400, &format!("undecodable message: {e:?}")),
        };
        let device_id = text(&msg.hdr.source.loc_uri);
        let session_id = text(&msg.hdr.session_id);
        events.push(Event::DmIn {
            device: device_id.clone(),
            msg_id: msg.hdr.msg_id,
            bytes: body.to_vec(),
            encoding: encoding.content_type().into(),
        });
        match self.config.fault {
            DmFault::Garbage => {
                return DmReply {
                    status: 200,
                    content_type: encoding.content_type().into(),
                    hmac: None,
                    body: b"\x00\x01garbage".to_vec(),
                };
            }
            DmFault::WrongContentType => {
                return DmReply {
                    status: 200,
                    content_type: "text/html".into(),
                    hmac: None,
                    body: b"<html>login</html>".to_vec(),
                };
            }
            _ => {}
        }
        let config = self.config.clone();
        let opens_session = msg.body.commands().flatten().any(|c| match c {
            scomo::dm::codec::Command::Alert(a) => a
                .data
                .as_ref()
                .and_then(Value::to_u32)
                .is_some_and(|c| c == 1200 || c == 1201),
            _ => false,
        });
        let fresh = self.fresh_nonce();
        let device = self.devices.entry(device_id.clone()).or_default();
        if opens_session && device.session.as_ref().is_none_or(|s| s.id != session_id) {
            device.session = Some(Session {
                id: session_id.clone(),
                next_msg_id: 1,
                ..Session::default()
            });
        }
        let Some(mut session) = device.session.take() else {
            return DmReply::error(
                400,
                "no session: the first message must carry Alert 1200 or 1201",
            );
        };

        // Client authentication.
        let mut header_code = StatusCode::Ok;
        let mut chal: Option<(AuthScheme, Vec<u8>)> = None;
        if let ClientAuth::Required {
            scheme,
            user,
            password,
        } = &config.client_auth
        {
            let account = Account {
                name: user,
                password: password.as_bytes(),
            };
            let verdict = match scheme {
                AuthScheme::Hmac => match hmac {
                    None => Err(StatusCode::AuthenticationRequired),
                    Some(h) => HmacHeader::parse(h)
                        .and_then(|h| auth::verify_hmac(&h, &account, &device.client_nonce, body))
                        .map_err(|_| StatusCode::Unauthorized),
                },
                _ if session.client_authenticated => Ok(()),
                _ => match &msg.hdr.cred {
                    None => Err(StatusCode::AuthenticationRequired),
                    Some(cred) => {
                        let ty = cred
                            .meta
                            .as_ref()
                            .and_then(|m| m.mime_type.as_ref())
                            .map(text)
                            .unwrap_or_default();
                        let data = text(&cred.data);
                        match AuthScheme::from_meta_type(&ty) {
                            Some(s) if s == *scheme => auth::verify_credential(
                                &Credential {
                                    scheme: s,
                                    data: &data,
                                },
                                &account,
                                &device.client_nonce,
                            )
                            .map_err(|_| StatusCode::Unauthorized),
                            _ => Err(StatusCode::Unauthorized),
                        }
                    }
                },
            };
            match verdict {
                Ok(()) => {
                    session.client_authenticated = true;
                    if *scheme == AuthScheme::Hmac {
                        // HMAC: a new nonce with every message (digest 7.8).
                        device.client_nonce = fresh.clone();
                        chal = Some((*scheme, fresh));
                    } else {
                        header_code = StatusCode::AuthAccepted;
                    }
                }
                Err(code) => {
                    events.push(Event::AuthRejected {
                        device: device_id.clone(),
                        code: code.code(),
                    });
                    device.client_nonce = fresh.clone();
                    let reply = Reply {
                        encoding,
                        session_id: &session_id,
                        msg_id: session.next_msg_id,
                        device_id: &device_id,
                        base_url,
                        msg_ref: msg.hdr.msg_id,
                        hdr_target: text(&msg.hdr.target.loc_uri),
                    };
                    session.next_msg_id += 1;
                    let out = reply.write(
                        &config,
                        &device.server_nonce,
                        code,
                        Some((*scheme, &fresh)),
                        &[],
                        &mut session,
                        |_, _| Ok(false),
                    );
                    device.session = Some(session);
                    return self.finish(out, encoding, hmac.is_some(), &device_id, events);
                }
            }
        }

        // The device's commands.
        let mut answers = Vec::new();
        let mut resend = false;
        for cmd in msg.body.commands().flatten() {
            use scomo::dm::codec::Command as C;
            match cmd {
                C::Status(s) => {
                    let code = text(&s.data).parse::<u16>().unwrap_or(0);
                    if s.cmd_ref == 0 {
                        let nonce = s.chal.as_ref().and_then(|c| c.meta.next_nonce.as_ref());
                        if let Some(Ok(n)) =
                            nonce.map(|n| base64::engine::general_purpose::STANDARD.decode(text(n)))
                        {
                            device.server_nonce = n;
                        }
                        if code == 401 || code == 407 {
                            resend = true;
                        }
                        events.push(Event::Status {
                            device: device_id.clone(),
                            cmd: "SyncHdr".into(),
                            target: String::new(),
                            code,
                        });
                        continue;
                    }
                    let (cmd_name, target) = session
                        .sent
                        .get(&(s.msg_ref, s.cmd_ref))
                        .cloned()
                        .unwrap_or_else(|| (text(&s.cmd), String::new()));
                    events.push(Event::Status {
                        device: device_id.clone(),
                        cmd: cmd_name,
                        target,
                        code,
                    });
                }
                C::Results(r) => {
                    for item in r.items().flatten() {
                        let target = item
                            .source
                            .as_ref()
                            .map(|l| text(&l.loc_uri))
                            .unwrap_or_default();
                        let format = item
                            .meta
                            .as_ref()
                            .and_then(|m| m.format.as_ref())
                            .map(text)
                            .unwrap_or_default();
                        let data = item.data.as_ref().map(text).unwrap_or_default();
                        events.push(Event::Results {
                            device: device_id.clone(),
                            target,
                            format,
                            data,
                        });
                    }
                }
                C::Alert(a) => {
                    let code = a.data.as_ref().and_then(Value::to_u32).unwrap_or(0);
                    let mut status = StatusCode::Ok;
                    if code == 1226 {
                        for item in a.items().flatten() {
                            let meta = item.meta.as_ref();
                            let data = item.data.as_ref().map(text).unwrap_or_default();
                            events.push(Event::GenericAlert {
                                device: device_id.clone(),
                                correlator: a.correlator.as_ref().map(text),
                                source: item
                                    .source
                                    .as_ref()
                                    .map(|l| text(&l.loc_uri))
                                    .unwrap_or_default(),
                                target: item
                                    .target
                                    .as_ref()
                                    .map(|l| text(&l.loc_uri))
                                    .unwrap_or_default(),
                                alert_type: meta
                                    .and_then(|m| m.mime_type.as_ref())
                                    .map(text)
                                    .unwrap_or_default(),
                                mark: meta
                                    .and_then(|m| m.mark.as_ref())
                                    .map(text)
                                    .unwrap_or_default(),
                                result: between(&data, "<ResultCode>", "</ResultCode>")
                                    .and_then(|c| c.trim().parse().ok()),
                                identifier: between(&data, "<Identifier>", "</Identifier>")
                                    .map(str::to_owned),
                                data,
                            });
                        }
                        if config.fault == DmFault::NeverAckAlerts {
                            status = StatusCode::CommandFailed;
                        }
                    } else if code != 1200 && code != 1201 && code != 1222 {
                        let items = a
                            .items()
                            .flatten()
                            .map(|i| i.data.as_ref().map(text).unwrap_or_default())
                            .collect();
                        events.push(Event::ClientAlert {
                            device: device_id.clone(),
                            code,
                            items,
                        });
                    }
                    answers.push(Answer {
                        code: status,
                        cmd_id: a.cmd_id,
                        cmd: Element::Alert,
                        target: None,
                        source: None,
                    });
                }
                C::Replace(r) => {
                    for item in r.items().flatten() {
                        let uri = item
                            .source
                            .as_ref()
                            .or(item.target.as_ref())
                            .map(|l| text(&l.loc_uri))
                            .unwrap_or_default();
                        let value = item.data.as_ref().map(text).unwrap_or_default();
                        events.push(Event::DevInfo {
                            device: device_id.clone(),
                            uri,
                            value,
                        });
                    }
                    answers.push(Answer {
                        code: StatusCode::Ok,
                        cmd_id: r.cmd_id,
                        cmd: Element::Replace,
                        target: None,
                        source: None,
                    });
                }
                other => answers.push(Answer {
                    code: StatusCode::OptionalFeatureNotSupported,
                    cmd_id: other.cmd_id(),
                    cmd: other.element(),
                    target: None,
                    source: None,
                }),
            }
        }

        // What to send: the rest of a Large Object, the step again, or the next step.
        // The device refused our credentials: it applied nothing of our last package, so
        // the whole step goes again (a Large Object from its first chunk).
        if resend {
            session.lo = None;
        }
        let step: Vec<Cmd> = if resend {
            session.last_step.clone().unwrap_or_default()
        } else if !msg.body.is_final || session.lo.is_some() {
            Vec::new()
        } else {
            device.queue.pop_front().unwrap_or_default()
        };
        // Nothing may follow a Large Object's chunk until its last one (digest 7.7): what
        // comes after a push waits for the next package.
        let mut step = step;
        if let Some(i) = step.iter().position(|c| matches!(c, Cmd::Push(_))) {
            let rest = step.split_off(i + 1);
            if !rest.is_empty() {
                device.queue.push_front(rest);
            }
        }
        if !step.is_empty() {
            session.last_step = Some(step.clone());
        }
        let reply = Reply {
            encoding,
            session_id: &session_id,
            msg_id: session.next_msg_id,
            device_id: &device_id,
            base_url,
            msg_ref: msg.hdr.msg_id,
            hdr_target: text(&msg.hdr.target.loc_uri),
        };
        session.next_msg_id += 1;
        // The device's package continues in another message: ask for it (unless it is
        // asking for the rest of a Large Object we are pushing).
        let ask_more = !msg.body.is_final && session.lo.is_none() && !resend;
        let out = reply.write(
            &config,
            &device.server_nonce,
            header_code,
            chal.as_ref().map(|(s, n)| (*s, n.as_slice())),
            &answers,
            &mut session,
            |w, session| {
                if ask_more {
                    let id = session.take_cmd_id();
                    w.alert(&AlertOut {
                        cmd_id: id,
                        code: 1222,
                        correlator: None,
                        items: &[],
                    })?;
                    return Ok(true);
                }
                write_step(w, &step, session)
            },
        );
        device.session = Some(session);
        self.finish(out, encoding, hmac.is_some(), &device_id, events)
    }

    fn finish(
        &mut self,
        out: Result<Vec<u8>, String>,
        encoding: Encoding,
        sign: bool,
        device_id: &str,
        events: &mut Vec<Event>,
    ) -> DmReply {
        let body = match out {
            Ok(b) => b,
            Err(e) => return DmReply::error(500, &e),
        };
        let mut hmac = None;
        if let (true, Some(pw), Some(dev)) = (
            sign,
            &self.config.server_password,
            self.devices.get(device_id),
        ) {
            {
                let mut buf = [0u8; 256];
                let account = Account {
                    name: &self.config.server_id,
                    password: pw.as_bytes(),
                };
                hmac = auth::write_hmac_header(&account, &dev.server_nonce, &body, &mut buf)
                    .ok()
                    .map(str::to_owned);
            }
        }
        events.push(Event::DmOut {
            device: device_id.into(),
            bytes: body.clone(),
        });
        DmReply {
            status: 200,
            content_type: encoding.content_type().into(),
            hmac,
            body,
        }
    }

    /// Builds a Package #0 for `device` with `session_id`, its digest made with the server
    /// password and the device's server nonce (four zero bytes while none was agreed: the
    /// resynchronisation nonce).
    pub fn package0(&self, device: &str, session_id: u16) -> Result<Vec<u8>, String> {
        let password = self
            .config
            .server_password
            .as_deref()
            .ok_or("the server has no password")?;
        let nonce = self
            .devices
            .get(device)
            .map(|d| d.server_nonce.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or(vec![0; 4]);
        let trigger = scomo::dm::pkg0::Trigger {
            version: scomo::dm::pkg0::VERSION,
            ui_mode: scomo::dm::pkg0::UiMode::Background,
            initiator: scomo::dm::pkg0::Initiator::Server,
            session_id: scomo::dm::pkg0::SessionId::new(session_id).ok_or("session id 0")?,
            server_id: self.config.server_id.as_bytes(),
            vendor: &[],
        };
        let mut out = vec![0u8; 512];
        let n = trigger
            .write(password.as_bytes(), &nonce, &mut out)
            .map_err(|e| format!("{e:?}"))?;
        out.truncate(n);
        Ok(out)
    }
}

fn between<'s>(s: &'s str, open: &str, close: &str) -> Option<&'s str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// The parts of a reply's header.
struct Reply<'r> {
    encoding: Encoding,
    session_id: &'r str,
    msg_id: u32,
    device_id: &'r str,
    base_url: &'r str,
    msg_ref: u32,
    hdr_target: String,
}

impl Reply<'_> {
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        config: &DmConfig,
        server_nonce: &[u8],
        header_code: StatusCode,
        chal: Option<(AuthScheme, &[u8])>,
        answers: &[Answer],
        session: &mut Session,
        commands: impl FnOnce(
            &mut Writer<'_>,
            &mut Session,
        ) -> Result<bool, scomo::dm::codec::EncodeError>,
    ) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; 1 << 20];
        let mut w = Writer::new(&mut buf, self.encoding).map_err(|e| format!("{e:?}"))?;
        let cred_text;
        let cred = match &config.server_password {
            Some(pw) => {
                cred_text = md5_credential(
                    &Account {
                        name: &config.server_id,
                        password: pw.as_bytes(),
                    },
                    server_nonce,
                );
                Some(CredOut {
                    meta: MetaOut {
                        format: Some("b64"),
                        mime_type: Some(AuthScheme::Md5.meta_type()),
                        ..MetaOut::default()
                    },
                    data: cred_text.as_str(),
                })
            }
            None => None,
        };
        let resp_uri = format!("{}/dm/{}", self.base_url, self.session_id);
        // The header, written by hand: the device-side builder has no RespURI.
        let e = |e| format!("{e:?}");
        w.start(Element::SyncML).map_err(e)?;
        w.start(Element::SyncHdr).map_err(e)?;
        w.leaf(Element::VerDTD, "1.2").map_err(e)?;
        w.leaf(Element::VerProto, "DM/1.2").map_err(e)?;
        w.leaf(Element::SessionID, self.session_id).map_err(e)?;
        w.leaf_u32(Element::MsgID, self.msg_id).map_err(e)?;
        w.start(Element::Target).map_err(e)?;
        w.leaf(Element::LocURI, self.device_id).map_err(e)?;
        w.end().map_err(e)?;
        w.start(Element::Source).map_err(e)?;
        w.leaf(Element::LocURI, &self.hdr_target).map_err(e)?;
        w.leaf(Element::LocName, &config.server_id).map_err(e)?;
        w.end().map_err(e)?;
        w.leaf(Element::RespURI, &resp_uri).map_err(e)?;
        if let Some(c) = &cred {
            w.cred(c).map_err(e)?;
        }
        w.meta(&MetaOut {
            max_msg_size: Some(1 << 20),
            ..MetaOut::default()
        })
        .map_err(e)?;
        w.end().map_err(e)?;
        w.start(Element::SyncBody).map_err(e)?;
        let nonce_text = chal.map(|(_, n)| base64::engine::general_purpose::STANDARD.encode(n));
        let chal_meta = chal.map(|(scheme, _)| MetaOut {
            format: Some("b64"),
            mime_type: Some(scheme.meta_type()),
            next_nonce: nonce_text.as_deref(),
            ..MetaOut::default()
        });
        let mut cmd_id = 1;
        w.status(&StatusOut {
            cmd_id,
            msg_ref: self.msg_ref,
            cmd_ref: 0,
            cmd: Element::SyncHdr,
            target_refs: &[self.hdr_target.as_str()],
            source_refs: &[self.device_id],
            chal: chal_meta,
            code: header_code,
            items: &[],
        })
        .map_err(e)?;
        if header_code.is_success() {
            for a in answers {
                cmd_id += 1;
                let t = a.target.as_deref().map(|t| [t]);
                let s = a.source.as_deref().map(|s| [s]);
                w.status(&StatusOut {
                    cmd_id,
                    msg_ref: self.msg_ref,
                    cmd_ref: a.cmd_id,
                    cmd: a.cmd,
                    target_refs: t.as_ref().map_or(&[][..], |t| &t[..]),
                    source_refs: s.as_ref().map_or(&[][..], |s| &s[..]),
                    chal: None,
                    code: a.code,
                    items: &[],
                })
                .map_err(e)?;
            }
        }
        session.cur_msg = self.msg_id;
        session.cmd_counter = cmd_id;
        let not_final = if header_code.is_success() {
            commands(&mut w, session).map_err(e)?
        } else {
            false
        };
        w.end_message(!not_final).map_err(e)?;
        let out = w.finish().map_err(e)?.to_vec();
        Ok(out)
    }
}

impl Session {
    /// The next CmdID of the message being written.
    fn take_cmd_id(&mut self) -> u32 {
        self.cmd_counter += 1;
        self.cmd_counter
    }
}

/// Writes a step's commands (or the next chunk of a Large Object); returns whether the
/// package continues in another message (no Final).
fn write_step(
    w: &mut Writer<'_>,
    step: &[Cmd],
    session: &mut Session,
) -> Result<bool, scomo::dm::codec::EncodeError> {
    if let Some(lo) = session.lo.take() {
        return write_chunk(w, lo, session);
    }
    let mut continues = false;
    for cmd in step {
        continues |= write_cmd(w, cmd, session)?;
    }
    Ok(continues)
}

fn write_cmd(
    w: &mut Writer<'_>,
    cmd: &Cmd,
    session: &mut Session,
) -> Result<bool, scomo::dm::codec::EncodeError> {
    let msg = session.cur_msg;
    let id = session.take_cmd_id();
    let request = |kind: Element,
                   uri: &str,
                   format: Option<&str>,
                   data: Option<&str>,
                   correlator: Option<&str>| {
        (
            kind,
            uri.to_owned(),
            format.map(str::to_owned),
            data.map(str::to_owned),
            correlator.map(str::to_owned),
        )
    };
    let (kind, uri, format, data, correlator) = match cmd {
        Cmd::Add(l) => request(
            Element::Add,
            &l.uri,
            Some(
                l.format
                    .as_deref()
                    .unwrap_or(if l.data.is_some() { "chr" } else { "node" }),
            ),
            l.data.as_deref(),
            None,
        ),
        Cmd::Replace(l) => request(
            Element::Replace,
            &l.uri,
            Some(l.format.as_deref().unwrap_or("chr")),
            l.data.as_deref(),
            None,
        ),
        Cmd::Get(t) => request(Element::Get, &t.uri, None, None, None),
        Cmd::Delete(t) => request(Element::Delete, &t.uri, None, None, None),
        Cmd::Exec(x) => request(Element::Exec, &x.uri, None, None, x.correlator.as_deref()),
        Cmd::Sequence(cmds) | Cmd::Atomic(cmds) => {
            let el = if matches!(cmd, Cmd::Sequence(_)) {
                Element::Sequence
            } else {
                Element::Atomic
            };
            session
                .sent
                .insert((msg, id), (el.name().into(), String::new()));
            w.start(el)?;
            w.leaf_u32(Element::CmdID, id)?;
            let mut continues = false;
            for c in cmds {
                continues |= write_cmd(w, c, session)?;
            }
            w.end()?;
            return Ok(continues);
        }
        Cmd::Alert(a) => {
            session
                .sent
                .insert((msg, id), ("Alert".into(), String::new()));
            let items: Vec<ItemOut<'_>> = a
                .items
                .iter()
                .map(|d| ItemOut {
                    data: Some(DataOut::Text(d)),
                    ..ItemOut::default()
                })
                .collect();
            w.alert(&AlertOut {
                cmd_id: id,
                code: a.code,
                correlator: None,
                items: &items,
            })?;
            return Ok(false);
        }
        Cmd::Push(p) => {
            let bytes = match &p.file {
                Some(f) => std::fs::read(f).unwrap_or_default(),
                None => p.bytes.clone(),
            };
            let encoded = match w.encoding() {
                Encoding::Xml => base64::engine::general_purpose::STANDARD
                    .encode(&bytes)
                    .into_bytes(),
                Encoding::Wbxml => bytes,
            };
            let lo = LoPush {
                uri: p.uri.clone(),
                encoded,
                chunk: p.chunk.max(1),
                offset: 0,
            };
            // The chunk takes this command's CmdID.
            session
                .sent
                .insert((msg, id), ("Add".into(), p.uri.clone()));
            return write_chunk_with_id(w, lo, session, id);
        }
    };
    session
        .sent
        .insert((msg, id), (kind.name().into(), uri.clone()));
    let meta = format.as_deref().map(|f| MetaOut {
        format: Some(f),
        ..MetaOut::default()
    });
    let item = ItemOut {
        target: Some(&uri),
        meta,
        data: data.as_deref().map(DataOut::Text),
        ..ItemOut::default()
    };
    w.request(&RequestOut {
        kind,
        cmd_id: id,
        meta: None,
        correlator: correlator.as_deref(),
        items: &[item],
    })?;
    Ok(false)
}

fn write_chunk(
    w: &mut Writer<'_>,
    lo: LoPush,
    session: &mut Session,
) -> Result<bool, scomo::dm::codec::EncodeError> {
    let msg = session.cur_msg;
    let id = session.take_cmd_id();
    session
        .sent
        .insert((msg, id), ("Add".into(), lo.uri.clone()));
    write_chunk_with_id(w, lo, session, id)
}

fn write_chunk_with_id(
    w: &mut Writer<'_>,
    mut lo: LoPush,
    session: &mut Session,
    id: u32,
) -> Result<bool, scomo::dm::codec::EncodeError> {
    let end = (lo.offset + lo.chunk).min(lo.encoded.len());
    let first = lo.offset == 0;
    let last = end == lo.encoded.len();
    let piece = lo.encoded.get(lo.offset..end).unwrap_or_default();
    let xml = w.encoding() == Encoding::Xml;
    let text_piece;
    let data = if xml {
        text_piece = String::from_utf8_lossy(piece).into_owned();
        DataOut::Text(&text_piece)
    } else {
        DataOut::Binary(piece)
    };
    let size = u32::try_from(lo.encoded.len()).unwrap_or(u32::MAX);
    let meta = MetaOut {
        format: Some(if xml { "b64" } else { "bin" }),
        mime_type: first.then_some("application/octet-stream"),
        size: first.then_some(size),
        ..MetaOut::default()
    };
    let item = ItemOut {
        target: Some(&lo.uri),
        meta: Some(meta),
        data: Some(data),
        more_data: !last,
        ..ItemOut::default()
    };
    w.request(&RequestOut {
        kind: Element::Add,
        cmd_id: id,
        meta: None,
        correlator: None,
        items: &[item],
    })?;
    lo.offset = end;
    if !last {
        session.lo = Some(lo);
    }
    Ok(!last)
}
