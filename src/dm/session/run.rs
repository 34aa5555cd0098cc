//! One step of a session: the checks, the server's authentication, its Statuses, the
//! commands, and the reply (see the module documentation of `session` for the rules).

use core::fmt::Write as _;

use super::deferred::{Entry, Extra, Span};
use super::generic;
use super::large_object::{B64Stream, Chunk, Incoming};
use super::ui::{UI_ANSWER_CAP, UiAnswer, UiKind, UiPrompt};
use super::{AbortReason, Config, End, Lent, MAX_ALERTS_PER_MESSAGE, Received, Sent, Start, State};
use crate::codes::{AlertCode, StatusCode};
use crate::dm::auth::{AuthScheme, B64Text, Challenge, Credential, HeaderOutcome};
use crate::dm::codec::{
    Alert, Chal, Command, Container, Element, EncodeError, Encoding, HeaderOut, Item, Items, Mark,
    Message, Meta, MetaOut, Piece, Request, SyncHdr, Value, Writer,
};
use crate::mo::{DEVINFO_SCHEMA, DevInfoLeaf, EntryKind, EntryUri, NodeName};
use crate::tree::{ExecRequest, Format, ROOT_CAP, UndoLog, Uri, Written};

use super::Error;

/// Longest URI the engine reads from a message (DevDetail's default `MaxTotLen` is 160).
const URI_BUF: usize = 256;

/// Longest Exec Correlator the engine hands on (a longer one is 413).
const CORRELATOR_BUF: usize = 80;

/// Room for the device's credential text (basic: name and password up to 95 bytes).
const CRED_BUF: usize = 128;

/// Bytes of an `x-syncml-hmac` value besides the user name.
const HMAC_BASE: usize = 56;

/// The name of the `Data` leaf of `Inventory/Delivered/<X>` (a unit test checks the
/// SCOMO table agrees).
const DATA_LEAF: &str = "Data";

/// The smallest piece of a Results value sent as a Large Object chunk.
const MIN_CHUNK: usize = 16;

/// Free bytes a message needs before a Results value is split into chunks in it
/// (otherwise the value waits for the next message).
const CHUNK_ROOM: usize = 128;

/// Bytes kept free for Alert 1222 while the commands are answered.
const fn next_alert_room(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Xml => 64,
        Encoding::Wbxml => 16,
    }
}

/// Most Generic Alerts asked of the handler per message.
const MAX_PENDING_SCAN: usize = 32;

/// What a step ends with.
pub(super) enum Reply<'o> {
    /// Send these bytes; with `end`, the session is over once they are sent.
    Send {
        body: &'o [u8],
        hmac: Option<&'o str>,
        end: Option<End>,
    },
    /// Nothing to send: the session ended normally.
    Finished(End),
    /// Nothing to send: the session ended early.
    Aborted(End),
}

/// Whether the rest of a Sequence runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// What a Status carries besides its code.
#[derive(Debug, Clone, Copy)]
enum Answer<'x> {
    None,
    Text(&'x str),
    Choices(u32),
}

/// Where a Status's references come from.
enum Refs<'x, 'a> {
    None,
    Items(Items<'a>),
    Header(&'x Value<'a>, &'x Value<'a>),
}

/// The server's authentication, as decided for one message.
struct Verdict {
    code: StatusCode,
    chal: Option<(AuthScheme, Option<B64Text>)>,
    ok: bool,
}

/// What the first pass over a message found (nothing is applied in it).
struct Scan<'a> {
    /// The server's Status for our SyncHdr: its code and challenge.
    header: Option<(u32, Option<Chal<'a>>)>,
    /// A command other than Status.
    commands: bool,
    /// Alert 1223.
    abort: bool,
    /// A command other than Status and Alert 1222: the server's package goes on.
    opens: bool,
}

/// The outcome of an Atomic.
enum Verdict2 {
    Done(Option<(u16, StatusCode)>),
    Failed {
        at: u16,
        code: StatusCode,
        rolled: bool,
    },
}

/// The first pass of an Atomic.
struct Pass {
    index: u16,
    fail: Option<(u16, StatusCode)>,
    /// The position of the Exec checked in the first pass, handed over at commit.
    exec: Option<u16>,
}

/// Package 1: the alert that opens the session, DevInfo, the component request, the
/// pending Generic Alerts.
pub(super) fn package1<'o>(
    cfg: &Config<'_>,
    start: &Start<'_>,
    st: &mut State,
    lent: &mut Lent<'_>,
    out: &'o mut [u8],
) -> Result<(&'o [u8], Option<&'o str>), Error> {
    let mut run = Run::open(cfg, st, lent, out, 0, true)?;
    run.package1(start)?;
    run.close(true)
}

/// Takes in one message of the server; see the module documentation of `session`.
pub(super) fn step<'o>(
    cfg: &Config<'_>,
    start: &Start<'_>,
    st: &mut State,
    lent: &mut Lent<'_>,
    rx: Received<'_>,
    out: &'o mut [u8],
) -> Result<Reply<'o>, Error> {
    if Encoding::from_content_type(rx.content_type) != Some(cfg.encoding) {
        return abort(cfg, st, lent, AbortReason::Malformed, out);
    }
    if rx.body.len() > cfg.max_msg_size as usize {
        return abort(cfg, st, lent, AbortReason::Oversized, out);
    }
    let Ok(msg) = Message::decode(rx.body, cfg.encoding) else {
        return abort(cfg, st, lent, AbortReason::Malformed, out);
    };
    if !header_fits(&msg.hdr, st) {
        return abort(cfg, st, lent, AbortReason::Malformed, out);
    }
    let scan = match scan(&msg, &st.sent) {
        Ok(scan) => scan,
        Err(reason) => return abort(cfg, st, lent, reason, out),
    };
    // The server nonce before this step: a nonce issued for a reply that is then not sent
    // never reaches the server, so it must not replace the one the server has.
    let nonce_before: crate::dm::auth::Nonce =
        heapless::Vec::from_slice(lent.auth.server_nonce()).unwrap_or_default();
    let verdict = verify_server(cfg, st, lent, &msg.hdr, &rx)?;
    if !verdict.ok {
        if !scan.commands {
            return Ok(Reply::Aborted(End::Aborted(
                AbortReason::ServerNotAuthenticated,
            )));
        }
        // Only Statuses: the server's code for our header, the same code for each command.
        let mut run = Run::open(cfg, st, lent, out, msg.hdr.msg_id, false)?;
        run.header_status(&msg.hdr, &verdict)?;
        for cmd in msg.body.commands().flatten() {
            run.not_executed(&cmd, verdict.code);
        }
        let (body, hmac) = run.close(msg.body.is_final)?;
        return Ok(Reply::Send {
            body,
            hmac,
            end: None,
        });
    }
    if scan.abort {
        return Ok(Reply::Aborted(End::AbortedByServer));
    }
    take_statuses(&msg, st, lent);
    let outcome = match scan.header {
        Some((code, chal)) => {
            let peer = cfg.server.is_none() || lent.auth.server_authenticated();
            let mut type_buf = [0u8; 32];
            let mut nonce_buf = [0u8; 96];
            let challenge = match &chal {
                Some(chal) => match challenge(&chal.meta, &mut type_buf, &mut nonce_buf) {
                    Some(c) => Some(c),
                    None => return abort(cfg, st, lent, AbortReason::AuthRejected, out),
                },
                None => None,
            };
            let code = u16::try_from(code).unwrap_or(u16::MAX);
            lent.auth.on_header_status(code, challenge.as_ref(), peer)
        }
        None => Ok(HeaderOutcome::Proceed),
    };
    let resend = match outcome {
        Ok(HeaderOutcome::Proceed) => false,
        Ok(HeaderOutcome::Resend) if st.sent.pkg1 => true,
        Ok(HeaderOutcome::Resend) | Err(_) => {
            return abort(cfg, st, lent, AbortReason::AuthRejected, out);
        }
    };
    if let Some(meta) = &msg.hdr.meta {
        if let Some(n) = meta.max_msg_size {
            st.peer_max_msg = n;
        }
        if let Some(n) = meta.max_obj_size {
            st.peer_max_obj = n;
        }
    }
    if let Some(uri) = &msg.hdr.resp_uri {
        st.resp_uri.clear();
        let fits = uri
            .try_for_each_chunk(|c| {
                let s = core::str::from_utf8(c).map_err(|_| ())?;
                st.resp_uri.push_str(s).map_err(|_| ())
            })
            .is_ok();
        if !fits {
            st.resp_uri.clear();
            return abort(cfg, st, lent, AbortReason::RespUriTooLong, out);
        }
        if is_https(cfg.server_uri) && !is_https(&st.resp_uri) {
            // A session that began over TLS never continues in the clear: the RespURI is
            // ignored and the next message goes where the last one went.
            st.resp_uri.clear();
        }
    }
    if msg.body.is_final {
        st.server_closed = true;
    } else if scan.opens {
        st.server_closed = false;
    }
    let mut run = Run::open(cfg, st, lent, out, msg.hdr.msg_id, resend)?;
    run.header_status(&msg.hdr, &verdict)?;
    if resend {
        // Package 1 again, with the credentials asked for; the server's commands (it
        // should have sent none) are not executed.
        for cmd in msg.body.commands().flatten() {
            run.not_executed(&cmd, StatusCode::NotExecuted);
        }
        run.st.alerts_sent.clear();
        run.package1(start)?;
        let (body, hmac) = run.close(true)?;
        return Ok(Reply::Send {
            body,
            hmac,
            end: None,
        });
    }
    run.fresh = true;
    run.drain();
    let open = !run.st.server_closed;
    if open {
        run.w.set_reserve(next_alert_room(cfg.encoding));
    }
    for cmd in msg.body.commands() {
        let Ok(cmd) = cmd else { break };
        if run.overflow {
            break;
        }
        run.one(&cmd);
    }
    run.w.set_reserve(0);
    if run.overflow {
        return run.abort_in_place(AbortReason::ReplyOverflow);
    }
    if open {
        let id = run.next_id();
        if generic::short(&mut run.w, id, AlertCode::NextMessage, None).is_ok() {
            run.cmd_id += 1;
            run.answered = true;
        }
    }
    if !run.deferring {
        run.alerts();
    }
    let done = run.st.deferred.is_empty();
    if run.st.server_closed && done && !run.answered && run.st.incoming.is_none() {
        if verdict.chal.is_some_and(|(_, nonce)| nonce.is_some()) {
            let _ = run.lent.auth.restore_server_nonce(&nonce_before);
        }
        return Ok(Reply::Finished(End::Completed));
    }
    let is_final = run.st.server_closed && done;
    let (body, hmac) = run.close(is_final)?;
    Ok(Reply::Send {
        body,
        hmac,
        end: None,
    })
}

/// Sends Alert 1223 and ends the session.
fn abort<'o>(
    cfg: &Config<'_>,
    st: &mut State,
    lent: &mut Lent<'_>,
    reason: AbortReason,
    out: &'o mut [u8],
) -> Result<Reply<'o>, Error> {
    Run::open(cfg, st, lent, out, 0, false)?.abort_in_place(reason)
}

/// Whether the header is DM 1.2 and names this session.
fn header_fits(hdr: &SyncHdr<'_>, st: &State) -> bool {
    hdr.ver_dtd.eq_str("1.2")
        && hdr.ver_proto.eq_str("DM/1.2")
        && hdr.session_id.eq_ignore_ascii_case(st.session_id.as_str())
}

/// Checks what must hold before anything is applied, and collects what the step needs.
fn scan<'a>(msg: &Message<'a>, sent: &Sent) -> Result<Scan<'a>, AbortReason> {
    let mut found = Scan {
        header: None,
        commands: false,
        abort: false,
        opens: false,
    };
    let mut seen = [0u32; 16];
    let body = msg.body.commands();
    walk(body.clone(), &mut |cmd| {
        let id = cmd.cmd_id();
        if id == 0 {
            return Err(AbortReason::Malformed);
        }
        let dup = match seen.get_mut((id / 32) as usize) {
            Some(word) => {
                let bit = 1 << (id % 32);
                let dup = *word & bit != 0;
                *word |= bit;
                dup
            }
            None => count_ids(body.clone(), id) > 1,
        };
        if dup {
            return Err(AbortReason::DuplicateCmdId);
        }
        match cmd {
            Command::Status(s) => {
                let code = s.data.to_u32().ok_or(AbortReason::Malformed)?;
                let ours = sent.msg_id != 0 && s.msg_ref == sent.msg_id;
                if !ours || s.cmd_ref > sent.last_cmd {
                    return Err(AbortReason::UnknownReference);
                }
                if s.cmd_ref == 0 {
                    found.header = Some((code, s.chal));
                }
            }
            Command::Results(_) => return Err(AbortReason::UnknownReference),
            Command::Alert(a) => {
                found.commands = true;
                let code = a.data.as_ref().and_then(Value::to_u32);
                if code == Some(u32::from(AlertCode::SessionAbort.code())) {
                    found.abort = true;
                } else if code != Some(u32::from(AlertCode::NextMessage.code())) {
                    found.opens = true;
                }
            }
            _ => {
                found.commands = true;
                found.opens = true;
            }
        }
        Ok(())
    })?;
    Ok(found)
}

/// Calls `f` with every command, nested ones included, in message order.
fn walk<'a>(
    cmds: crate::dm::codec::Commands<'a>,
    f: &mut dyn FnMut(&Command<'a>) -> Result<(), AbortReason>,
) -> Result<(), AbortReason> {
    for cmd in cmds {
        let cmd = cmd.map_err(|_| AbortReason::Malformed)?;
        f(&cmd)?;
        if let Command::Atomic(c) | Command::Sequence(c) = &cmd {
            walk(c.commands(), f)?;
        }
    }
    Ok(())
}

/// How many commands carry `id`.
fn count_ids(cmds: crate::dm::codec::Commands<'_>, id: u32) -> usize {
    let mut n = 0;
    let _ = walk(cmds, &mut |cmd| {
        n += usize::from(cmd.cmd_id() == id);
        Ok(())
    });
    n
}

/// Hands the server's Statuses for the device's alerts on (only once the server is
/// authenticated).
fn take_statuses(msg: &Message<'_>, st: &mut State, lent: &mut Lent<'_>) {
    for cmd in msg.body.commands().flatten() {
        let Command::Status(s) = cmd else { continue };
        let Some(code) = s.data.to_u32() else {
            continue;
        };
        let status = status_of(code);
        if let Some(&(_, id)) = st.sent.alerts.iter().find(|(c, _)| *c == s.cmd_ref) {
            lent.handler.alert_status(id, status);
            if status.is_success() && !st.summary.acknowledged.contains(&id) {
                let _ = st.summary.acknowledged.push(id);
            }
        }
        if st.sent.request == Some(s.cmd_ref) {
            st.summary.request_status = Some(status);
        }
    }
}

/// The table entry for a received status number; numbers outside the table count as
/// 200 when 2xx and 500 otherwise.
fn status_of(code: u32) -> StatusCode {
    u16::try_from(code)
        .ok()
        .and_then(StatusCode::from_code)
        .unwrap_or(if (200..300).contains(&code) {
            StatusCode::Ok
        } else {
            StatusCode::CommandFailed
        })
}

/// The server's challenge from the Meta of a `Chal`; `None` for an unknown scheme.
fn challenge<'x>(
    meta: &Meta<'x>,
    type_buf: &'x mut [u8],
    nonce_buf: &'x mut [u8],
) -> Option<Challenge<'x>> {
    let scheme = match &meta.mime_type {
        Some(t) => AuthScheme::from_meta_type(text(t, type_buf)?)?,
        None => AuthScheme::Basic,
    };
    let next_nonce = match &meta.next_nonce {
        Some(n) => Some(text(n, nonce_buf)?),
        None => None,
    };
    Some(Challenge { scheme, next_nonce })
}

/// Verifies the server (when an account is configured) and decides the Status for its
/// SyncHdr, with the challenge or fresh nonce it carries.
fn verify_server(
    cfg: &Config<'_>,
    st: &mut State,
    lent: &mut Lent<'_>,
    hdr: &SyncHdr<'_>,
    rx: &Received<'_>,
) -> Result<Verdict, Error> {
    let Some(server) = &cfg.server else {
        let chal = if st.resync {
            st.resync = false;
            let nonce = lent.rng.issue(lent.auth).ok_or(Error::Rng)?;
            Some((AuthScheme::Md5, Some(nonce)))
        } else {
            None
        };
        return Ok(Verdict {
            code: StatusCode::Ok,
            chal,
            ok: true,
        });
    };
    let result = if server.scheme == AuthScheme::Hmac {
        lent.auth
            .verify_server_hmac(rx.hmac, &server.account, rx.body)
    } else if lent.auth.server_authenticated() {
        // Authenticated for the whole session (212): credentials repeated later are not
        // checked again (their nonce may be the one the device has since replaced).
        Ok(StatusCode::Ok)
    } else {
        let mut type_buf = [0u8; 32];
        let mut data_buf = [0u8; 96];
        match &hdr.cred {
            Some(cred) => {
                let scheme = match cred.meta.as_ref().and_then(|m| m.mime_type.as_ref()) {
                    Some(t) => text(t, &mut type_buf).and_then(AuthScheme::from_meta_type),
                    None => Some(AuthScheme::Basic),
                };
                match (scheme, text(&cred.data, &mut data_buf)) {
                    (Some(scheme), Some(data)) => lent.auth.verify_server_credential(
                        Some(&Credential { scheme, data }),
                        &server.account,
                    ),
                    _ => Err(crate::dm::auth::AuthError::WrongScheme),
                }
            }
            None => lent.auth.verify_server_credential(None, &server.account),
        }
    };
    let (code, ok) = match result {
        Ok(code) => (code, true),
        Err(e) => (e.status().unwrap_or(StatusCode::Unauthorized), false),
    };
    // A fresh nonce: on every challenge, every HMAC message, once per session for MD5,
    // and after a Package #0 that needed the resynchronisation nonce.
    let fresh = !ok
        || st.resync
        || match server.scheme {
            AuthScheme::Hmac => true,
            AuthScheme::Md5 => !st.nonce_issued,
            AuthScheme::Basic => false,
        };
    let chal = if fresh {
        let nonce = match server.scheme {
            AuthScheme::Basic => None,
            _ => Some(lent.rng.issue(lent.auth).ok_or(Error::Rng)?),
        };
        st.resync = false;
        st.nonce_issued |= nonce.is_some();
        Some((server.scheme, nonce))
    } else {
        None
    };
    Ok(Verdict { code, chal, ok })
}

/// A value's text: borrowed when it is one run, else unescaped into `buf`.
fn text<'u>(v: &Value<'u>, buf: &'u mut [u8]) -> Option<&'u str> {
    match v.as_str() {
        Some(s) => Some(s),
        None => core::str::from_utf8(v.copy_to(buf)?).ok(),
    }
}

/// `<el>value</el>`, the value written piece by piece.
fn value_leaf(w: &mut Writer<'_>, el: Element, v: &Value<'_>) -> Result<(), EncodeError> {
    w.start(el)?;
    for piece in v.pieces() {
        let mut tmp = [0u8; 4];
        let s = match piece {
            Piece::Str(s) => s,
            Piece::Bytes(b) => core::str::from_utf8(b).map_err(|_| EncodeError::Unrepresentable)?,
            Piece::Char(c) => c.encode_utf8(&mut tmp),
        };
        w.text(s)?;
    }
    w.end()
}

/// Writes one Status, whole or not at all.
#[allow(clippy::too_many_arguments)]
fn write_status(
    w: &mut Writer<'_>,
    cmd_id: u32,
    msg_ref: u32,
    cmd_ref: u32,
    cmd: Element,
    code: StatusCode,
    refs: &Refs<'_, '_>,
    chal: Option<&MetaOut<'_>>,
    answer: Answer<'_>,
) -> Result<(), EncodeError> {
    w.atomic(|w| {
        w.start(Element::Status)?;
        w.leaf_u32(Element::CmdID, cmd_id)?;
        w.leaf_u32(Element::MsgRef, msg_ref)?;
        w.leaf_u32(Element::CmdRef, cmd_ref)?;
        w.leaf(Element::Cmd, cmd.name())?;
        match refs {
            Refs::None => {}
            Refs::Header(target, source) => {
                value_leaf(w, Element::TargetRef, target)?;
                value_leaf(w, Element::SourceRef, source)?;
            }
            Refs::Items(items) => {
                for item in items.clone().flatten() {
                    if let Some(t) = &item.target {
                        value_leaf(w, Element::TargetRef, &t.loc_uri)?;
                    }
                }
                for item in items.clone().flatten() {
                    if let Some(s) = &item.source {
                        value_leaf(w, Element::SourceRef, &s.loc_uri)?;
                    }
                }
            }
        }
        if let Some(meta) = chal {
            w.start(Element::Chal)?;
            w.meta(meta)?;
            w.end()?;
        }
        w.leaf_u32(Element::Data, u32::from(code.code()))?;
        match answer {
            Answer::None => {}
            Answer::Text(t) => {
                w.start(Element::Item)?;
                w.leaf(Element::Data, t)?;
                w.end()?;
            }
            Answer::Choices(bits) => {
                for n in (0..32u32).filter(|n| bits & (1 << n) != 0) {
                    w.start(Element::Item)?;
                    w.leaf_u32(Element::Data, n + 1)?;
                    w.end()?;
                }
            }
        }
        w.end()
    })
}

/// The items of a command, for its references.
fn items_of<'a>(cmd: &Command<'a>) -> Option<Items<'a>> {
    match cmd {
        Command::Add(r)
        | Command::Replace(r)
        | Command::Delete(r)
        | Command::Get(r)
        | Command::Exec(r)
        | Command::Copy(r) => Some(r.items()),
        _ => None,
    }
}

/// How much of a Results value went out.
enum ResultsSent {
    Done,
    Partial(u32),
}

/// The reply being built for one message, and what the step works on.
struct Run<'r, 'c, 'l, 'b> {
    cfg: &'r Config<'c>,
    st: &'r mut State,
    lent: &'r mut Lent<'l>,
    w: Writer<'b>,
    hmac_buf: &'b mut [u8],
    /// The writer right after the header, to cut back to for an abort.
    mark: Mark,
    /// The MsgID of the server's message answered.
    msg_ref: u32,
    cmd_id: u32,
    /// Something did not fit: everything after it waits for the next message.
    deferring: bool,
    /// Nothing but the SyncHdr Status written yet.
    fresh: bool,
    /// The message carries more than the SyncHdr Status.
    answered: bool,
    /// The deferred queue is full: the session is aborted.
    overflow: bool,
    sent: Sent,
    /// An item of this message left a Large Object open: anything after it interleaves.
    lo_open: bool,
    /// No item or command of this message was taken yet.
    first_item: bool,
    ui_buf: [u8; UI_ANSWER_CAP],
}

impl<'r, 'c, 'l, 'b> Run<'r, 'c, 'l, 'b> {
    /// Opens the next message: the header with the credentials the session needs, and
    /// with `sizes` the device's `MaxMsgSize`/`MaxObjSize`.
    fn open(
        cfg: &'r Config<'c>,
        st: &'r mut State,
        lent: &'r mut Lent<'l>,
        out: &'b mut [u8],
        msg_ref: u32,
        sizes: bool,
    ) -> Result<Self, Error> {
        let hmac_len = if lent.auth.scheme() == AuthScheme::Hmac {
            HMAC_BASE + cfg.client.name.len()
        } else {
            0
        };
        let at = out
            .len()
            .checked_sub(hmac_len)
            .ok_or(Error::BufferTooSmall)?;
        let (body, hmac_buf) = out.split_at_mut(at);
        let mut w = Writer::new(body, cfg.encoding)?;
        if st.peer_max_msg > 0 {
            w.set_limit(st.peer_max_msg as usize);
        }
        let mut cred_buf = [0u8; CRED_BUF];
        let cred = lent
            .auth
            .credential(&cfg.client, &mut cred_buf)
            .map_err(Error::Credentials)?;
        w.begin_message(&HeaderOut {
            session_id: st.session_id.as_str(),
            msg_id: st.msg_id.wrapping_add(1),
            target: cfg.server_uri,
            source: cfg.device_id,
            source_name: Some(cfg.client.name),
            cred: cred.map(|c| crate::dm::codec::CredOut {
                meta: MetaOut {
                    format: Some("b64"),
                    mime_type: Some(c.scheme.meta_type()),
                    ..MetaOut::default()
                },
                data: c.data,
            }),
            // The sizes stay in force for the session (digest 7.7): Package 1 says them.
            meta: sizes.then_some(MetaOut {
                max_msg_size: Some(cfg.max_msg_size),
                max_obj_size: Some(cfg.max_obj_size),
                ..MetaOut::default()
            }),
        })?;
        let mark = w.mark();
        Ok(Run {
            cfg,
            st,
            lent,
            w,
            hmac_buf,
            mark,
            msg_ref,
            cmd_id: 1,
            deferring: false,
            fresh: false,
            answered: false,
            overflow: false,
            sent: Sent::default(),
            lo_open: false,
            first_item: true,
            ui_buf: [0; UI_ANSWER_CAP],
        })
    }

    /// Closes the message and computes its HMAC; the device's MsgID moves on.
    fn close(self, is_final: bool) -> Result<(&'b [u8], Option<&'b str>), Error> {
        let Run {
            cfg,
            st,
            lent,
            mut w,
            hmac_buf,
            cmd_id,
            sent,
            ..
        } = self;
        w.set_reserve(0);
        w.end_message(is_final)?;
        let body = w.finish()?;
        let hmac = lent
            .auth
            .hmac_header(&cfg.client, body, hmac_buf)
            .map_err(Error::Credentials)?;
        st.msg_id = st.msg_id.wrapping_add(1);
        st.sent = Sent {
            msg_id: st.msg_id,
            last_cmd: cmd_id.saturating_sub(1),
            ..sent
        };
        Ok((body, hmac))
    }

    /// Replaces what was written with Alert 1223 and ends the session.
    fn abort_in_place(mut self, reason: AbortReason) -> Result<Reply<'b>, Error> {
        let _ = self.w.truncate(self.mark);
        self.w.set_reserve(0);
        self.cmd_id = 1;
        generic::short(&mut self.w, 1, AlertCode::SessionAbort, None)?;
        self.cmd_id = 2;
        let (body, hmac) = self.close(true)?;
        Ok(Reply::Send {
            body,
            hmac,
            end: Some(End::Aborted(reason)),
        })
    }

    fn next_id(&self) -> u32 {
        self.cmd_id
    }

    /// Package 1's content.
    fn package1(&mut self, start: &Start<'_>) -> Result<(), Error> {
        let code = match start {
            Start::Client { .. } => AlertCode::ClientInitiated,
            Start::Server { .. } => AlertCode::ServerInitiated,
        };
        generic::short(&mut self.w, self.cmd_id, code, None)?;
        self.cmd_id += 1;
        if self.devinfo()? {
            self.cmd_id += 1;
        }
        if let Start::Client {
            request: Some(request),
            ..
        } = start
        {
            let root = self.lent.tree.scomo_root();
            generic::request(&mut self.w, self.cmd_id, root, request)?;
            self.sent.request = Some(self.cmd_id);
            self.cmd_id += 1;
        }
        self.sent.pkg1 = true;
        self.alerts();
        Ok(())
    }

    /// The Replace of every DevInfo leaf that has a value; `false` when none has.
    fn devinfo(&mut self) -> Result<bool, EncodeError> {
        let info = self.lent.tree.devinfo();
        if DevInfoLeaf::ALL.iter().all(|&l| info.get(l).is_none()) {
            return Ok(false);
        }
        let id = self.cmd_id;
        self.w.atomic(|w| {
            w.start(Element::Replace)?;
            w.leaf_u32(Element::CmdID, id)?;
            for &leaf in DevInfoLeaf::ALL {
                let (Some(value), Some(spec)) =
                    (info.get(leaf), DEVINFO_SCHEMA.get(usize::from(leaf.row())))
                else {
                    continue;
                };
                w.start(Element::Item)?;
                w.start(Element::Source)?;
                w.start(Element::LocURI)?;
                w.text("./DevInfo/")?;
                w.text(spec.name)?;
                w.end()?;
                w.end()?;
                w.meta(&MetaOut {
                    format: Some(Format::Chr.name()),
                    ..MetaOut::default()
                })?;
                w.leaf(Element::Data, value)?;
                w.end()?;
            }
            w.end()
        })?;
        Ok(true)
    }

    /// The pending Generic Alerts not sent yet in this session, as many as fit.
    fn alerts(&mut self) {
        let handler = &*self.lent.handler;
        for index in 0..MAX_PENDING_SCAN {
            let Some(alert) = handler.pending_alert(index) else {
                break;
            };
            if self.st.alerts_sent.contains(&alert.id) {
                continue;
            }
            if self.sent.alerts.len() == MAX_ALERTS_PER_MESSAGE || self.st.alerts_sent.is_full() {
                break;
            }
            if generic::generic(&mut self.w, self.cmd_id, &alert).is_err() {
                break;
            }
            let _ = self.sent.alerts.push((self.cmd_id, alert.id));
            let _ = self.st.alerts_sent.push(alert.id);
            self.cmd_id += 1;
            self.answered = true;
        }
    }

    /// The Status for the server's SyncHdr (it must fit).
    fn header_status(&mut self, hdr: &SyncHdr<'_>, verdict: &Verdict) -> Result<(), Error> {
        let chal = verdict.chal.as_ref().map(|(scheme, nonce)| MetaOut {
            format: Some("b64"),
            mime_type: Some(scheme.meta_type()),
            next_nonce: nonce.as_ref().map(B64Text::as_str),
            ..MetaOut::default()
        });
        write_status(
            &mut self.w,
            self.cmd_id,
            self.msg_ref,
            0,
            Element::SyncHdr,
            verdict.code,
            &Refs::Header(&hdr.target.loc_uri, &hdr.source.loc_uri),
            chal.as_ref(),
            Answer::None,
        )?;
        self.cmd_id += 1;
        Ok(())
    }

    // ----- sending, or deferring -----

    /// The Status of a received command (none for `NoResp`).
    fn status(&mut self, cmd: &Command<'_>, code: StatusCode) {
        if !cmd.no_resp() {
            self.emit(
                cmd.cmd_id(),
                cmd.element(),
                code,
                items_of(cmd),
                Answer::None,
            );
        }
    }

    /// Writes a Status now, or queues it once something did not fit.
    fn emit(
        &mut self,
        cmd_ref: u32,
        el: Element,
        code: StatusCode,
        refs: Option<Items<'_>>,
        answer: Answer<'_>,
    ) {
        self.answered = true;
        if !self.deferring {
            let refs = refs.map_or(Refs::None, Refs::Items);
            let mut written = self.write(cmd_ref, el, code, &refs, answer);
            if matches!(written, Err(e) if e != EncodeError::TooSmall) {
                // A reference the encoding cannot carry: the Status goes without them.
                written = self.write(cmd_ref, el, code, &Refs::None, answer);
            }
            if written.is_ok() {
                return;
            }
            self.deferring = true;
        }
        let (msg_ref, q) = (self.msg_ref, &mut self.st.deferred);
        let queued = match answer {
            Answer::None => q.push_status(msg_ref, cmd_ref, el, code),
            Answer::Text(t) => q.push_with(
                Entry {
                    msg_ref,
                    cmd_ref,
                    count: 1,
                    cmd: el,
                    code,
                    extra: Extra::Text(Span::default()),
                },
                t.as_bytes(),
            ),
            Answer::Choices(bits) => q.push_with(
                Entry {
                    msg_ref,
                    cmd_ref,
                    count: 1,
                    cmd: el,
                    code,
                    extra: Extra::Choices(bits),
                },
                &[],
            ),
        };
        self.overflow |= !queued;
    }

    fn write(
        &mut self,
        cmd_ref: u32,
        el: Element,
        code: StatusCode,
        refs: &Refs<'_, '_>,
        answer: Answer<'_>,
    ) -> Result<(), EncodeError> {
        let id = self.cmd_id;
        write_status(
            &mut self.w,
            id,
            self.msg_ref,
            cmd_ref,
            el,
            code,
            refs,
            None,
            answer,
        )?;
        self.cmd_id += 1;
        self.fresh = false;
        Ok(())
    }

    /// The Results of a Get of `uri`: now, as a Large Object starting now, or later.
    fn results(&mut self, cmd_ref: u32, uri: &str) {
        self.answered = true;
        let mut offset = 0;
        if !self.deferring {
            match self.write_results(self.msg_ref, cmd_ref, uri, 0) {
                Ok(ResultsSent::Done) => return,
                Ok(ResultsSent::Partial(sent)) => offset = sent,
                Err(_) => {}
            }
            self.deferring = true;
        }
        let entry = Entry {
            msg_ref: self.msg_ref,
            cmd_ref,
            count: 1,
            cmd: Element::Get,
            code: StatusCode::Ok,
            extra: Extra::Results {
                uri: Span::default(),
                status: false,
                offset,
            },
        };
        self.overflow |= !self.st.deferred.push_with(entry, uri.as_bytes());
    }

    /// Writes a Results for `uri` from byte `offset` of its value: whole, or as the next
    /// Large Object chunk when it does not fit.
    fn write_results(
        &mut self,
        msg_ref: u32,
        cmd_ref: u32,
        uri: &str,
        offset: u32,
    ) -> Result<ResultsSent, EncodeError> {
        let xml = self.cfg.encoding == Encoding::Xml;
        let lent = &mut *self.lent;
        let got = lent.tree.get(self.cfg.server_id, uri, lent.scratch);
        let (value, format, mime) = match &got {
            Ok(got) => (
                lent.scratch.get(..got.len).unwrap_or_default(),
                got.format,
                got.mime,
            ),
            Err(_) => (&[][..], Format::Chr, ""),
        };
        let text = match format {
            Format::Bin => None,
            _ => core::str::from_utf8(value).ok(),
        };
        let format_name = match (text, xml) {
            (None, true) => Format::B64.name(),
            _ => format.name(),
        };
        let total = match (text, xml) {
            (None, true) => base64::encoded_len(value.len(), true).unwrap_or(usize::MAX),
            _ => value.len(),
        };
        let start = offset as usize;
        let rest = value.get(start..).unwrap_or_default();
        let head = ResultsHead {
            cmd_id: self.cmd_id,
            msg_ref,
            cmd_ref,
            uri,
            format: format_name,
            mime,
        };
        if start == 0 {
            match head.write(&mut self.w, rest, text.is_some(), None, false) {
                Ok(()) => {
                    self.cmd_id += 1;
                    self.fresh = false;
                    return Ok(ResultsSent::Done);
                }
                Err(EncodeError::TooSmall) => {}
                Err(e) => return Err(e),
            }
            if !self.fresh && self.w.remaining() < CHUNK_ROOM {
                return Err(EncodeError::TooSmall);
            }
        }
        // A Large Object chunk: as much as fits.
        let overhead = 96 + 2 * uri.len();
        let room = self.w.remaining().saturating_sub(overhead);
        let mut n = match (text.is_some(), xml) {
            (false, true) => room / 4 * 3,
            _ => room,
        }
        .clamp(MIN_CHUNK, rest.len().max(MIN_CHUNK));
        loop {
            let mut take = n.min(rest.len());
            if take < rest.len() {
                if text.is_none() && xml {
                    take -= take % 3;
                }
                if let Some(t) = text.and_then(|t| t.get(start..)) {
                    while take > 0 && !t.is_char_boundary(take) {
                        take -= 1;
                    }
                }
            }
            if take == 0 && !rest.is_empty() {
                return Err(EncodeError::TooSmall);
            }
            let chunk = rest.get(..take).unwrap_or_default();
            let more = take < rest.len();
            let size = (start == 0).then_some(u32::try_from(total).unwrap_or(u32::MAX));
            match head.write(&mut self.w, chunk, text.is_some(), size, more) {
                Ok(()) => {
                    self.cmd_id += 1;
                    self.fresh = false;
                    let sent = u32::try_from(start + take).unwrap_or(u32::MAX);
                    return Ok(if more {
                        ResultsSent::Partial(sent)
                    } else {
                        ResultsSent::Done
                    });
                }
                Err(EncodeError::TooSmall) if n > MIN_CHUNK => n = (n * 3 / 4).max(MIN_CHUNK),
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends what the previous messages could not hold, oldest first.
    fn drain(&mut self) {
        while let Some(mut entry) = self.st.deferred.front() {
            self.answered = true;
            let fresh = self.fresh;
            let done = match entry.extra {
                Extra::None => {
                    while entry.count > 0 {
                        let id = self.cmd_id;
                        if write_status(
                            &mut self.w,
                            id,
                            entry.msg_ref,
                            entry.cmd_ref,
                            entry.cmd,
                            entry.code,
                            &Refs::None,
                            None,
                            Answer::None,
                        )
                        .is_err()
                        {
                            break;
                        }
                        self.cmd_id += 1;
                        self.fresh = false;
                        entry.cmd_ref = entry.cmd_ref.wrapping_add(1);
                        entry.count -= 1;
                    }
                    entry.count == 0
                }
                Extra::Text(span) => {
                    let mut buf = [0u8; UI_ANSWER_CAP];
                    let bytes = self.st.deferred.bytes(span);
                    let n = bytes.len().min(buf.len());
                    buf.get_mut(..n)
                        .unwrap_or_default()
                        .copy_from_slice(bytes.get(..n).unwrap_or_default());
                    let t = core::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or("");
                    self.deferred_status(&entry, Answer::Text(t))
                }
                Extra::Choices(bits) => self.deferred_status(&entry, Answer::Choices(bits)),
                Extra::Results {
                    uri,
                    status,
                    offset,
                } => {
                    let mut buf = [0u8; URI_BUF];
                    let bytes = self.st.deferred.bytes(uri);
                    let n = bytes.len().min(buf.len());
                    buf.get_mut(..n)
                        .unwrap_or_default()
                        .copy_from_slice(bytes.get(..n).unwrap_or_default());
                    let uri_text =
                        core::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or("");
                    let mut ok = true;
                    if status {
                        ok = self.deferred_status(&entry, Answer::None);
                        entry.extra = Extra::Results {
                            uri,
                            status: !ok,
                            offset,
                        };
                    }
                    if ok {
                        match self.write_results(entry.msg_ref, entry.cmd_ref, uri_text, offset) {
                            Ok(ResultsSent::Done) => true,
                            Ok(ResultsSent::Partial(sent)) => {
                                entry.extra = Extra::Results {
                                    uri,
                                    status: false,
                                    offset: sent,
                                };
                                self.st.deferred.set_front(entry);
                                // The next chunk goes first in the next message.
                                self.deferring = true;
                                return;
                            }
                            Err(_) => false,
                        }
                    } else {
                        false
                    }
                }
            };
            if !done {
                self.st.deferred.set_front(entry);
                self.deferring = true;
                // Nothing fits even an empty message: the session cannot go on.
                self.overflow |= fresh && self.fresh;
                return;
            }
            self.st.deferred.pop();
        }
    }

    fn deferred_status(&mut self, entry: &Entry, answer: Answer<'_>) -> bool {
        let id = self.cmd_id;
        let ok = write_status(
            &mut self.w,
            id,
            entry.msg_ref,
            entry.cmd_ref,
            entry.cmd,
            entry.code,
            &Refs::None,
            None,
            answer,
        )
        .is_ok();
        if ok {
            self.cmd_id += 1;
            self.fresh = false;
        }
        ok
    }

    // ----- the commands -----

    /// Runs one command of the body or of a Sequence and answers it.
    fn one(&mut self, cmd: &Command<'_>) -> Flow {
        match cmd {
            Command::Add(r) | Command::Replace(r) => {
                let code = self.item_command(r, matches!(cmd, Command::Add(_)), None);
                self.status(cmd, code);
            }
            Command::Delete(r) => {
                self.guard(false);
                let code = self.delete(r, None);
                self.status(cmd, code);
            }
            Command::Get(r) => {
                self.guard(false);
                self.get(cmd, r);
            }
            Command::Exec(r) => {
                self.guard(false);
                let code = self.exec(r, false);
                self.status(cmd, code);
            }
            Command::Copy(_) => {
                self.guard(false);
                self.status(cmd, StatusCode::OptionalFeatureNotSupported);
            }
            Command::Alert(a) => {
                let (code, flow, answer) = self.alert(a, false);
                if !cmd.no_resp() {
                    // The typed answer is in `ui_buf`: copy it out of `self` first.
                    let typed = self.ui_buf;
                    let answer = match answer {
                        Some(Ok(n)) => Answer::Text(
                            core::str::from_utf8(typed.get(..n).unwrap_or_default()).unwrap_or(""),
                        ),
                        Some(Err(bits)) => Answer::Choices(bits),
                        None => Answer::None,
                    };
                    self.emit(cmd.cmd_id(), Element::Alert, code, None, answer);
                }
                return flow;
            }
            Command::Sequence(c) => self.sequence(cmd, c),
            Command::Atomic(c) => self.atomic(cmd, c),
            Command::Status(_) | Command::Results(_) => {}
        }
        Flow::Go
    }

    /// A command that was not executed, and every command inside it.
    fn not_executed(&mut self, cmd: &Command<'_>, code: StatusCode) {
        if matches!(cmd, Command::Status(_) | Command::Results(_)) {
            return;
        }
        self.status(cmd, code);
        if let Command::Atomic(c) | Command::Sequence(c) = cmd {
            for inner in c.commands().flatten() {
                self.not_executed(&inner, code);
            }
        }
    }

    /// A Sequence: in order; after a declined or cancelled prompt, the rest is 215.
    fn sequence(&mut self, cmd: &Command<'_>, c: &Container<'_>) {
        self.guard(false);
        self.status(cmd, StatusCode::Ok);
        let mut stopped = false;
        for inner in c.commands().flatten() {
            if stopped {
                self.not_executed(&inner, StatusCode::NotExecuted);
            } else if self.one(&inner) == Flow::Stop {
                stopped = true;
            }
        }
    }

    /// An Atomic: all or nothing (see the module documentation).
    fn atomic<'a>(&mut self, cmd: &Command<'a>, c: &Container<'a>) {
        self.guard(false);
        let buf = core::mem::take(&mut self.lent.undo);
        let verdict = {
            let mut undo = UndoLog::new(&mut *buf);
            let mut pass = Pass {
                index: 0,
                fail: None,
                exec: None,
            };
            self.apply_atomic(c, &mut undo, &mut pass);
            let mut exec_code = None;
            if pass.fail.is_none()
                && let Some(at) = pass.exec
            {
                let code = match nth_exec(c, at, &mut 0) {
                    Some(request) => self.exec(&request, false),
                    None => StatusCode::CommandFailed,
                };
                if code.is_success() {
                    exec_code = Some((at, code));
                } else {
                    pass.fail = Some((at, code));
                }
            }
            match pass.fail {
                None => {
                    undo.clear();
                    Verdict2::Done(exec_code)
                }
                Some((at, code)) => Verdict2::Failed {
                    at,
                    code,
                    rolled: self.lent.tree.rollback(&mut undo).is_ok(),
                },
            }
        };
        self.lent.undo = buf;
        let code = match verdict {
            Verdict2::Done(_) => StatusCode::Ok,
            Verdict2::Failed { .. } => StatusCode::AtomicFailed,
        };
        self.status(cmd, code);
        let mut index = 0;
        self.emit_atomic(c, &verdict, &mut index);
    }

    /// The first pass of an Atomic: applies in order with the undo log, stops at the
    /// first failure.
    fn apply_atomic(&mut self, c: &Container<'_>, undo: &mut UndoLog<'_>, pass: &mut Pass) {
        for inner in c.commands().flatten() {
            if pass.fail.is_some() {
                return;
            }
            let at = pass.index;
            pass.index = pass.index.saturating_add(1);
            let code = match &inner {
                Command::Add(r) => self.item_command(r, true, Some(undo)),
                Command::Replace(r) => self.item_command(r, false, Some(undo)),
                Command::Delete(r) => {
                    self.guard(false);
                    self.delete(r, Some(undo))
                }
                Command::Exec(r) => {
                    self.guard(false);
                    if pass.exec.is_some() {
                        StatusCode::OptionalFeatureNotSupported
                    } else {
                        let code = self.exec(r, true);
                        if code.is_success() {
                            pass.exec = Some(at);
                        }
                        code
                    }
                }
                Command::Alert(a) => self.alert(a, true).0,
                Command::Sequence(s) => {
                    self.guard(false);
                    self.apply_atomic(s, undo, pass);
                    StatusCode::Ok
                }
                Command::Get(_) | Command::Atomic(_) => {
                    self.guard(false);
                    StatusCode::CommandFailed
                }
                Command::Copy(_) => {
                    self.guard(false);
                    StatusCode::OptionalFeatureNotSupported
                }
                Command::Status(_) | Command::Results(_) => StatusCode::Ok,
            };
            if !code.is_success() {
                pass.fail = Some((at, code));
            }
        }
    }

    /// The second pass of an Atomic: one Status per command, from the verdict.
    fn emit_atomic(&mut self, c: &Container<'_>, verdict: &Verdict2, index: &mut u16) {
        for inner in c.commands().flatten() {
            let at = *index;
            *index = index.saturating_add(1);
            let code = match *verdict {
                Verdict2::Done(Some((exec_at, code))) if exec_at == at => code,
                Verdict2::Done(_) => StatusCode::Ok,
                Verdict2::Failed {
                    at: failed,
                    code,
                    rolled,
                } => {
                    if at < failed {
                        if rolled {
                            StatusCode::AtomicRollbackOk
                        } else {
                            StatusCode::AtomicRollbackFailed
                        }
                    } else if at == failed {
                        code
                    } else {
                        StatusCode::NotExecuted
                    }
                }
            };
            self.status(&inner, code);
            if let Command::Sequence(s) = &inner {
                self.emit_atomic(s, verdict, index);
            }
        }
    }

    /// Add or Replace: each item, the first failure is the command's status (213 while a
    /// Large Object is open). Inside an Atomic, stops at the first failure.
    fn item_command(
        &mut self,
        r: &Request<'_>,
        add: bool,
        mut undo: Option<&mut UndoLog<'_>>,
    ) -> StatusCode {
        let mut failed = None;
        let mut open = false;
        for item in r.items().flatten() {
            let mut uri_buf = [0u8; URI_BUF];
            let result = match item.target.as_ref().map(|t| text(&t.loc_uri, &mut uri_buf)) {
                Some(Some(uri)) => {
                    self.write_item(add, uri, &item, r.meta.as_ref(), undo.as_deref_mut())
                }
                other => {
                    self.guard(false);
                    Err(if other.is_none() {
                        StatusCode::BadRequest
                    } else {
                        StatusCode::UriTooLong
                    })
                }
            };
            match result {
                Ok(Chunk::More) => open = true,
                Ok(Chunk::Done(_)) => {}
                Err(code) => {
                    failed.get_or_insert(code);
                    if undo.is_some() {
                        break;
                    }
                }
            }
        }
        failed.unwrap_or(if open {
            StatusCode::ChunkAccepted
        } else {
            StatusCode::Ok
        })
    }

    /// One item of an Add or Replace.
    fn write_item(
        &mut self,
        add: bool,
        uri: &str,
        item: &Item<'_>,
        cmd_meta: Option<&Meta<'_>>,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Chunk, StatusCode> {
        let package = self.delivered_package(uri);
        let continues = match (&self.st.incoming, package) {
            (Some(incoming), Some(p)) => incoming.package.as_str() == p && incoming.add == add,
            _ => false,
        };
        self.guard(continues);
        if continues {
            return self.next_chunk(item);
        }
        let format = item
            .meta
            .and_then(|m| m.format)
            .or(cmd_meta.and_then(|m| m.format));
        let b64 = format.is_some_and(|f| f.eq_str(Format::B64.name()));
        if let Some(package) = package {
            let size = item
                .meta
                .and_then(|m| m.size)
                .or(cmd_meta.and_then(|m| m.size));
            // The node's format is `bin`: its bytes come raw, or as `b64` text.
            if !b64 && format.is_some_and(|f| !f.eq_str(Format::Bin.name())) {
                return Err(StatusCode::UnsupportedMediaType);
            }
            return self.first_chunk(add, uri, package, item, size, b64, undo);
        }
        if item.more_data {
            return Err(StatusCode::OptionalFeatureNotSupported);
        }
        let format = match format {
            _ if b64 => Some(Format::Bin),
            None => None,
            Some(f) => Some(
                f.as_str()
                    .and_then(Format::from_name)
                    .ok_or(StatusCode::UnsupportedMediaType)?,
            ),
        };
        let lent = &mut *self.lent;
        let data = item.data.unwrap_or(Value::EMPTY);
        let bytes: &[u8] = if b64 {
            let n = decode_b64(&data, lent.scratch)?;
            lent.scratch.get(..n).unwrap_or_default()
        } else {
            match data.as_bytes() {
                Some(b) => b,
                None => data
                    .copy_to(lent.scratch)
                    .ok_or(StatusCode::RequestEntityTooLarge)?,
            }
        };
        let value = crate::tree::Item {
            data: bytes,
            format,
        };
        let server = self.cfg.server_id;
        let written = if add {
            lent.tree.add(server, uri, value, undo)?
        } else {
            lent.tree.replace(server, uri, value, undo)?
        };
        match written {
            Written::Stored => Ok(Chunk::Done(0)),
            // The tree routes only `Delivered/<X>/Data` outside, and that was caught above.
            Written::External { .. } => Err(StatusCode::CommandFailed),
        }
    }

    /// The first chunk (or the whole value) of `Inventory/Delivered/<X>/Data`.
    #[allow(clippy::too_many_arguments)]
    fn first_chunk(
        &mut self,
        add: bool,
        uri: &str,
        package: &str,
        item: &Item<'_>,
        size: Option<u32>,
        b64: bool,
        undo: Option<&mut UndoLog<'_>>,
    ) -> Result<Chunk, StatusCode> {
        if undo.is_some() {
            // Its bytes go to the store, which an Atomic cannot roll back.
            return Err(StatusCode::OptionalFeatureNotSupported);
        }
        if size.is_some_and(|s| s > self.cfg.max_obj_size) {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        let name = NodeName::try_from(package).map_err(|_| StatusCode::UriTooLong)?;
        let created = !self.lent.tree.has_delivered(package);
        let server = self.cfg.server_id;
        let empty = crate::tree::Item {
            data: &[],
            format: Some(Format::Bin),
        };
        let written = if add {
            self.lent.tree.add(server, uri, empty, None)?
        } else {
            self.lent.tree.replace(server, uri, empty, None)?
        };
        if written == Written::Stored {
            return Err(StatusCode::CommandFailed);
        }
        let decoded = size.map(|s| {
            let s = u64::from(s);
            if b64 { s.div_ceil(4) * 3 } else { s }
        });
        if let Err(code) = self.lent.handler.object_begin(package, decoded) {
            self.remove_package(&name, created);
            return Err(code);
        }
        self.st.incoming = Some(Incoming {
            package: name,
            add,
            created,
            size: size.map(u64::from),
            received: 0,
            b64: b64.then(B64Stream::new),
        });
        self.next_chunk(item)
    }

    /// A chunk of the Large Object being received.
    fn next_chunk(&mut self, item: &Item<'_>) -> Result<Chunk, StatusCode> {
        let last = !item.more_data;
        let handler = &mut *self.lent.handler;
        let Some(incoming) = self.st.incoming.as_mut() else {
            return Err(StatusCode::CommandFailed);
        };
        if let Err(code) = incoming.feed(item.data.as_ref(), last, &mut |b| handler.object_write(b))
        {
            self.drop_incoming();
            return Err(code);
        }
        if !last {
            self.lo_open = true;
            return Ok(Chunk::More);
        }
        let Some(incoming) = self.st.incoming.take() else {
            return Err(StatusCode::CommandFailed);
        };
        match self.lent.handler.object_end(true) {
            Ok(n) => {
                let size = u32::try_from(n).unwrap_or(u32::MAX);
                self.lent
                    .tree
                    .set_delivered_data(&incoming.package, Some(size));
                self.st.summary.objects_committed =
                    self.st.summary.objects_committed.saturating_add(1);
                Ok(Chunk::Done(n))
            }
            Err(code) => {
                self.remove_package(&incoming.package, incoming.created);
                Err(code)
            }
        }
    }

    /// Abandons the Large Object being received.
    fn drop_incoming(&mut self) {
        if let Some(incoming) = self.st.incoming.take() {
            let _ = self.lent.handler.object_end(false);
            self.remove_package(&incoming.package, incoming.created);
        }
    }

    /// Removes a package entry that a failed Large Object created.
    fn remove_package(&mut self, package: &str, created: bool) {
        if created {
            let mut uri: heapless::String<{ ROOT_CAP + 64 }> = heapless::String::new();
            let root = self.lent.tree.scomo_root();
            if write!(
                uri,
                "{}",
                EntryUri::entry(root, EntryKind::Delivered, package)
            )
            .is_ok()
            {
                let _ = self.lent.tree.device_delete(&uri);
            }
        }
    }

    /// Before an item or command: a Large Object being received must continue here
    /// (`continues`), first thing in the message; anything else interleaves, which is
    /// answered with Alert 1225 and discards the object.
    fn guard(&mut self, continues: bool) {
        let interleaved = self.lo_open || !self.first_item || !continues;
        self.first_item = false;
        if !interleaved {
            return;
        }
        self.lo_open = false;
        let Some(incoming) = self.st.incoming.as_ref() else {
            return;
        };
        let package = incoming.package.clone();
        self.drop_incoming();
        let mut uri: heapless::String<{ ROOT_CAP + 64 }> = heapless::String::new();
        let root = self.lent.tree.scomo_root();
        let named = write!(
            uri,
            "{}/{DATA_LEAF}",
            EntryUri::entry(root, EntryKind::Delivered, &package)
        )
        .is_ok();
        let id = self.cmd_id;
        let target = named.then_some(uri.as_str());
        if generic::short(&mut self.w, id, AlertCode::NoEndOfData, target).is_ok() {
            self.cmd_id += 1;
            self.answered = true;
            self.fresh = false;
        }
    }

    /// The `<X>` when `uri` is `Inventory/Delivered/<X>/Data`.
    fn delivered_package<'u>(&self, uri: &'u str) -> Option<&'u str> {
        let parsed = Uri::parse(uri).ok()?;
        if parsed.query().is_some() {
            return None;
        }
        let mut prefix: heapless::String<{ ROOT_CAP + 32 }> = heapless::String::new();
        let root = self.lent.tree.scomo_root();
        write!(
            prefix,
            "{}",
            EntryUri::entry(root, EntryKind::Delivered, "")
        )
        .ok()?;
        let rest = parsed.path().strip_prefix(prefix.strip_prefix("./")?)?;
        let (name, leaf) = rest.split_once('/')?;
        (leaf == DATA_LEAF && !name.is_empty()).then_some(name)
    }

    /// Delete: each item; the first failure is the status.
    fn delete(&mut self, r: &Request<'_>, mut undo: Option<&mut UndoLog<'_>>) -> StatusCode {
        let mut failed = None;
        for item in r.items().flatten() {
            let mut uri_buf = [0u8; URI_BUF];
            let result = match item.target.as_ref().map(|t| text(&t.loc_uri, &mut uri_buf)) {
                Some(Some(uri)) => {
                    self.lent
                        .tree
                        .delete(self.cfg.server_id, uri, undo.as_deref_mut())
                }
                Some(None) => Err(StatusCode::UriTooLong),
                None => Err(StatusCode::BadRequest),
            };
            if let Err(code) = result {
                failed.get_or_insert(code);
                if undo.is_some() {
                    break;
                }
            }
        }
        failed.unwrap_or(StatusCode::Ok)
    }

    /// Get: the Status (the first failure, or 200), then one Results per item read.
    fn get(&mut self, cmd: &Command<'_>, r: &Request<'_>) {
        let mut failed = None;
        let mut read = 0u32;
        let xml = self.cfg.encoding == Encoding::Xml;
        for (i, item) in r.items().flatten().enumerate() {
            let mut uri_buf = [0u8; URI_BUF];
            let result = match item.target.as_ref().map(|t| text(&t.loc_uri, &mut uri_buf)) {
                Some(Some(uri)) => {
                    let lent = &mut *self.lent;
                    lent.tree
                        .get(self.cfg.server_id, uri, lent.scratch)
                        .and_then(|got| {
                            let size = match (got.format, xml) {
                                (Format::Bin, true) => {
                                    base64::encoded_len(got.len, true).unwrap_or(usize::MAX)
                                }
                                _ => got.len,
                            };
                            let max = self.st.peer_max_obj as usize;
                            if max > 0 && size > max {
                                Err(StatusCode::RequestEntityTooLarge)
                            } else {
                                Ok(())
                            }
                        })
                }
                Some(None) => Err(StatusCode::UriTooLong),
                None => Err(StatusCode::BadRequest),
            };
            match result {
                Ok(()) if i < 32 => read |= 1 << i,
                Ok(()) => {}
                Err(code) => {
                    failed.get_or_insert(code);
                }
            }
        }
        self.status(cmd, failed.unwrap_or(StatusCode::Ok));
        for (i, item) in r.items().flatten().enumerate() {
            if i >= 32 || read & (1 << i) == 0 {
                continue;
            }
            let mut uri_buf = [0u8; URI_BUF];
            if let Some(uri) = item
                .target
                .as_ref()
                .and_then(|t| text(&t.loc_uri, &mut uri_buf))
            {
                self.results(cmd.cmd_id(), uri);
            }
        }
    }

    /// Exec: the tree checks it and the handler takes it (with `check_only`, the tree
    /// checks it and nothing is handed over).
    fn exec(&mut self, r: &Request<'_>, check_only: bool) -> StatusCode {
        let Some(item) = r.items().flatten().next() else {
            return StatusCode::BadRequest;
        };
        let mut uri_buf = [0u8; URI_BUF];
        let Some(target) = item.target.as_ref() else {
            return StatusCode::BadRequest;
        };
        let Some(uri) = text(&target.loc_uri, &mut uri_buf) else {
            return StatusCode::UriTooLong;
        };
        let mut corr_buf = [0u8; CORRELATOR_BUF];
        let correlator = match &r.correlator {
            Some(c) => match text(c, &mut corr_buf) {
                Some(c) => Some(c),
                None => return StatusCode::RequestEntityTooLarge,
            },
            None => None,
        };
        let lent = &mut *self.lent;
        let data = match &item.data {
            Some(d) => match d.as_bytes() {
                Some(b) => Some(b),
                None => match d.copy_to(lent.scratch) {
                    Some(b) => Some(b),
                    None => return StatusCode::RequestEntityTooLarge,
                },
            },
            None => None,
        };
        let server = self.cfg.server_id;
        if check_only {
            let mut accept = |_: &ExecRequest<'_>| StatusCode::Accepted;
            lent.tree.exec(server, uri, correlator, data, &mut accept)
        } else {
            lent.tree
                .exec(server, uri, correlator, data, &mut *lent.handler)
        }
    }

    /// An Alert from the server: its status, whether a Sequence goes on, and the UI
    /// answer (`Ok(len)` of text in `ui_buf`, `Err(bits)` of choices).
    fn alert(
        &mut self,
        a: &Alert<'_>,
        in_atomic: bool,
    ) -> (StatusCode, Flow, Option<Result<usize, u32>>) {
        let code = a.data.as_ref().and_then(Value::to_u32);
        let Some(code) = code else {
            self.guard(false);
            return (StatusCode::IncompleteCommand, Flow::Go, None);
        };
        if code == u32::from(AlertCode::NextMessage.code()) {
            return (StatusCode::Ok, Flow::Go, None);
        }
        self.guard(false);
        let kind = u16::try_from(code)
            .ok()
            .and_then(AlertCode::from_code)
            .and_then(UiKind::from_alert);
        let (Some(kind), Some(ui)) = (kind, self.lent.ui.as_deref_mut()) else {
            return (StatusCode::OptionalFeatureNotSupported, Flow::Go, None);
        };
        if in_atomic && !matches!(kind, UiKind::Display | UiKind::Confirm) {
            return (StatusCode::OptionalFeatureNotSupported, Flow::Go, None);
        }
        let mut items = a.items();
        let mut data = || {
            items
                .next()
                .and_then(Result::ok)
                .and_then(|i| i.data)
                .unwrap_or(Value::EMPTY)
        };
        let options = data();
        let text = data();
        let prompt = UiPrompt {
            kind,
            options,
            text,
            choices: items,
        };
        self.ui_buf = [0; UI_ANSWER_CAP];
        match ui.prompt(&prompt, &mut self.ui_buf) {
            UiAnswer::Yes => (StatusCode::Ok, Flow::Go, None),
            UiAnswer::No => (StatusCode::NotModified, Flow::Stop, None),
            UiAnswer::Cancelled => (StatusCode::Cancelled, Flow::Stop, None),
            UiAnswer::TimedOut => (StatusCode::RequestTimeout, Flow::Go, None),
            UiAnswer::Text(n) if kind == UiKind::TextInput => {
                let n = n.min(UI_ANSWER_CAP);
                let valid = core::str::from_utf8(self.ui_buf.get(..n).unwrap_or_default()).is_ok();
                (StatusCode::Ok, Flow::Go, valid.then_some(Ok(n)))
            }
            UiAnswer::Selected(bits)
                if matches!(kind, UiKind::SingleChoice | UiKind::MultipleChoice) =>
            {
                (StatusCode::Ok, Flow::Go, Some(Err(bits)))
            }
            UiAnswer::Text(_) | UiAnswer::Selected(_) => (StatusCode::Ok, Flow::Go, None),
        }
    }
}

/// The fixed part of a Results being written.
struct ResultsHead<'x> {
    cmd_id: u32,
    msg_ref: u32,
    cmd_ref: u32,
    uri: &'x str,
    format: &'x str,
    mime: &'x str,
}

impl ResultsHead<'_> {
    /// `<Results>` with one Item holding `chunk` (text or bytes), whole or not at all.
    fn write(
        &self,
        w: &mut Writer<'_>,
        chunk: &[u8],
        is_text: bool,
        size: Option<u32>,
        more: bool,
    ) -> Result<(), EncodeError> {
        w.atomic(|w| {
            w.start(Element::Results)?;
            w.leaf_u32(Element::CmdID, self.cmd_id)?;
            w.leaf_u32(Element::MsgRef, self.msg_ref)?;
            w.leaf_u32(Element::CmdRef, self.cmd_ref)?;
            w.start(Element::Item)?;
            generic::location(w, Element::Source, self.uri)?;
            w.meta(&MetaOut {
                format: Some(self.format),
                mime_type: (!self.mime.is_empty()).then_some(self.mime),
                size,
                ..MetaOut::default()
            })?;
            w.start(Element::Data)?;
            if is_text {
                w.text(core::str::from_utf8(chunk).map_err(|_| EncodeError::Unrepresentable)?)?;
            } else {
                w.opaque(chunk)?;
            }
            w.end()?;
            if more {
                w.empty(Element::MoreData)?;
            }
            w.end()?;
            w.end()
        })
    }
}

/// The Exec at position `at` of a container, counting as the passes of an Atomic do
/// (every command, nested Sequences included, in order).
fn nth_exec<'a>(c: &Container<'a>, at: u16, index: &mut u16) -> Option<Request<'a>> {
    for inner in c.commands().flatten() {
        let here = *index;
        *index = index.saturating_add(1);
        match inner {
            Command::Exec(r) if here == at => return Some(r),
            Command::Sequence(s) => {
                if let Some(r) = nth_exec(&s, at, index) {
                    return Some(r);
                }
            }
            _ => {}
        }
    }
    None
}

/// Decodes base64 `data` into `out`: its length, 400 for bad base64, 413 when too long.
fn decode_b64(data: &Value<'_>, out: &mut [u8]) -> Result<usize, StatusCode> {
    let mut len = 0;
    let mut sink = |b: &[u8]| {
        let end = len + b.len();
        out.get_mut(len..end)
            .ok_or(StatusCode::RequestEntityTooLarge)?
            .copy_from_slice(b);
        len = end;
        Ok(())
    };
    let mut stream = B64Stream::new();
    for piece in data.pieces() {
        let mut tmp = [0u8; 4];
        stream.feed(piece.bytes(&mut tmp), &mut sink)?;
    }
    stream.finish()?;
    Ok(len)
}

/// Whether `uri` is an `https:` URI (the scheme is case-insensitive).
fn is_https(uri: &str) -> bool {
    uri.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mo::SCOMO_SCHEMA;

    #[test]
    fn the_data_leaf_is_the_bin_leaf_of_the_scomo_table() {
        let data = SCOMO_SCHEMA
            .iter()
            .find(|s| s.format == Format::Bin && s.max_len == 0)
            .map(|s| s.name);
        assert_eq!(data, Some(DATA_LEAF));
    }
}
