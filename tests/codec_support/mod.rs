//! Shared by the codec tests: a canonical dump of a decoded message (its meaning, not
//! its bytes), a re-encoder through our writer, the shared vectors, and libwbxml.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command as Process, Stdio};

use scomo::dm::codec::{Command, Element, Encoding, Item, Location, Message, Meta, Value, Writer};

/// The bytes of a shared vector, read in place.
pub fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/vectors/aosp-oma-dm-1.2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The bytes of one of our corpus files.
pub fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Every corpus file name.
pub fn corpus_names() -> Vec<String> {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    names
}

/// The decoded bytes of a value.
pub fn bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.try_for_each_chunk(|c| {
        out.extend_from_slice(c);
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

/// A value as text for the dump (hex when it is not UTF-8).
pub fn text(v: &Value) -> String {
    let b = bytes(v);
    match String::from_utf8(b) {
        Ok(s) => format!("{s:?}"),
        Err(e) => format!("0x{}", hex(e.as_bytes())),
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn opt(v: &Option<Value>) -> String {
    v.as_ref().map_or("-".into(), text)
}

fn loc(l: &Location) -> String {
    format!("{}|{}", text(&l.loc_uri), opt(&l.loc_name))
}

fn meta(m: &Option<Meta>) -> String {
    match m {
        None => "-".into(),
        Some(m) => format!(
            "[format={} type={} mark={} size={:?} nonce={} version={} maxmsg={:?} maxobj={:?}]",
            opt(&m.format),
            opt(&m.mime_type),
            opt(&m.mark),
            m.size,
            opt(&m.next_nonce),
            opt(&m.version),
            m.max_msg_size,
            m.max_obj_size
        ),
    }
}

fn cred(c: &Option<scomo::dm::codec::Cred>) -> String {
    match c {
        None => "-".into(),
        Some(c) => format!("[{} {}]", meta(&c.meta), text(&c.data)),
    }
}

fn item(s: &mut String, it: &Item, depth: usize) {
    let _ = writeln!(
        s,
        "{:depth$}Item target={} source={} tparent={} sparent={} meta={} data={} more={}",
        "",
        it.target.as_ref().map_or("-".into(), loc),
        it.source.as_ref().map_or("-".into(), loc),
        opt(&it.target_parent),
        opt(&it.source_parent),
        meta(&it.meta),
        opt(&it.data),
        it.more_data,
        depth = depth
    );
}

fn command(s: &mut String, cmd: &Command, depth: usize) {
    let name = cmd.element().name();
    let pad = depth;
    match cmd {
        Command::Add(r)
        | Command::Copy(r)
        | Command::Delete(r)
        | Command::Exec(r)
        | Command::Get(r)
        | Command::Replace(r) => {
            let _ = writeln!(
                s,
                "{:pad$}{name} id={} noresp={} lang={} archive={} sftdel={} cred={} meta={} corr={}",
                "",
                r.cmd_id,
                r.no_resp,
                opt(&r.lang),
                r.archive,
                r.sft_del,
                cred(&r.cred),
                meta(&r.meta),
                opt(&r.correlator),
            );
            for it in r.items() {
                item(s, &it.unwrap(), depth + 1);
            }
        }
        Command::Alert(a) => {
            let _ = writeln!(
                s,
                "{:pad$}Alert id={} noresp={} cred={} data={} corr={}",
                "",
                a.cmd_id,
                a.no_resp,
                cred(&a.cred),
                opt(&a.data),
                opt(&a.correlator)
            );
            for it in a.items() {
                item(s, &it.unwrap(), depth + 1);
            }
        }
        Command::Status(st) => {
            let refs = |r: scomo::dm::codec::Refs| {
                r.map(|v| text(&v.unwrap())).collect::<Vec<_>>().join(",")
            };
            let _ = writeln!(
                s,
                "{:pad$}Status id={} msgref={} cmdref={} cmd={} trefs={} srefs={} cred={} chal={} data={}",
                "",
                st.cmd_id,
                st.msg_ref,
                st.cmd_ref,
                text(&st.cmd),
                refs(st.target_refs()),
                refs(st.source_refs()),
                cred(&st.cred),
                st.chal.as_ref().map_or("-".into(), |c| meta(&Some(c.meta))),
                text(&st.data)
            );
            for it in st.items() {
                item(s, &it.unwrap(), depth + 1);
            }
        }
        Command::Results(r) => {
            let refs = |r: scomo::dm::codec::Refs| {
                r.map(|v| text(&v.unwrap())).collect::<Vec<_>>().join(",")
            };
            let _ = writeln!(
                s,
                "{:pad$}Results id={} msgref={:?} cmdref={} meta={} trefs={} srefs={}",
                "",
                r.cmd_id,
                r.msg_ref,
                r.cmd_ref,
                meta(&r.meta),
                refs(r.target_refs()),
                refs(r.source_refs())
            );
            for it in r.items() {
                item(s, &it.unwrap(), depth + 1);
            }
        }
        Command::Atomic(c) | Command::Sequence(c) => {
            let _ = writeln!(
                s,
                "{:pad$}{name} id={} noresp={} meta={}",
                "",
                c.cmd_id,
                c.no_resp,
                meta(&c.meta)
            );
            for inner in c.commands() {
                command(s, &inner.unwrap(), depth + 1);
            }
        }
    }
}

/// The meaning of a message as text: every field of the model, in order.
pub fn dump(msg: &Message) -> String {
    let h = &msg.hdr;
    let mut s = format!(
        "SyncHdr dtd={} proto={} session={} msg={} target={} source={} resp={} noresp={} cred={} meta={}\n",
        text(&h.ver_dtd),
        text(&h.ver_proto),
        text(&h.session_id),
        h.msg_id,
        loc(&h.target),
        loc(&h.source),
        opt(&h.resp_uri),
        h.no_resp,
        cred(&h.cred),
        meta(&h.meta)
    );
    for cmd in msg.body.commands() {
        command(&mut s, &cmd.unwrap(), 1);
    }
    let _ = writeln!(s, "final={}", msg.body.is_final);
    s
}

/// Decodes and dumps, panicking with the error.
pub fn decode_dump(bytes: &[u8], enc: Encoding) -> String {
    match Message::decode(bytes, enc) {
        Ok(m) => dump(&m),
        Err(e) => panic!(
            "decode {enc:?} failed: {e}\n{}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn leaf_value(w: &mut Writer, el: Element, v: &Value) {
    w.start(el).unwrap();
    if v.is_opaque() {
        w.opaque(v.as_bytes().unwrap()).unwrap();
    } else {
        w.text(&String::from_utf8(bytes(v)).unwrap()).unwrap();
    }
    w.end().unwrap();
}

fn write_loc(w: &mut Writer, el: Element, l: &Location) {
    w.start(el).unwrap();
    leaf_value(w, Element::LocURI, &l.loc_uri);
    if let Some(n) = &l.loc_name {
        leaf_value(w, Element::LocName, n);
    }
    w.end().unwrap();
}

fn write_meta(w: &mut Writer, m: &Meta) {
    w.start(Element::Meta).unwrap();
    for (el, v) in [
        (Element::Format, &m.format),
        (Element::Type, &m.mime_type),
        (Element::Mark, &m.mark),
    ] {
        if let Some(v) = v {
            leaf_value(w, el, v);
        }
    }
    if let Some(n) = m.size {
        w.leaf_u32(Element::Size, n).unwrap();
    }
    if let Some(v) = &m.version {
        leaf_value(w, Element::Version, v);
    }
    if let Some(v) = &m.next_nonce {
        leaf_value(w, Element::NextNonce, v);
    }
    for (el, n) in [
        (Element::MaxMsgSize, m.max_msg_size),
        (Element::MaxObjSize, m.max_obj_size),
    ] {
        if let Some(n) = n {
            w.leaf_u32(el, n).unwrap();
        }
    }
    w.end().unwrap();
}

fn write_cred(w: &mut Writer, c: &scomo::dm::codec::Cred) {
    w.start(Element::Cred).unwrap();
    if let Some(m) = &c.meta {
        write_meta(w, m);
    }
    leaf_value(w, Element::Data, &c.data);
    w.end().unwrap();
}

fn write_item(w: &mut Writer, it: &Item) {
    w.start(Element::Item).unwrap();
    if let Some(l) = &it.target {
        write_loc(w, Element::Target, l);
    }
    if let Some(l) = &it.source {
        write_loc(w, Element::Source, l);
    }
    for (el, v) in [
        (Element::TargetParent, &it.target_parent),
        (Element::SourceParent, &it.source_parent),
    ] {
        if let Some(v) = v {
            w.start(el).unwrap();
            leaf_value(w, Element::LocURI, v);
            w.end().unwrap();
        }
    }
    if let Some(m) = &it.meta {
        write_meta(w, m);
    }
    if let Some(d) = &it.data {
        leaf_value(w, Element::Data, d);
    }
    if it.more_data {
        w.empty(Element::MoreData).unwrap();
    }
    w.end().unwrap();
}

fn write_command(w: &mut Writer, cmd: &Command) {
    w.start(cmd.element()).unwrap();
    w.leaf_u32(Element::CmdID, cmd.cmd_id()).unwrap();
    match cmd {
        Command::Add(r)
        | Command::Copy(r)
        | Command::Delete(r)
        | Command::Exec(r)
        | Command::Get(r)
        | Command::Replace(r) => {
            if r.no_resp {
                w.empty(Element::NoResp).unwrap();
            }
            if r.archive {
                w.empty(Element::Archive).unwrap();
            }
            if r.sft_del {
                w.empty(Element::SftDel).unwrap();
            }
            if let Some(l) = &r.lang {
                leaf_value(w, Element::Lang, l);
            }
            if let Some(c) = &r.cred {
                write_cred(w, c);
            }
            if let Some(m) = &r.meta {
                write_meta(w, m);
            }
            if let Some(c) = &r.correlator {
                leaf_value(w, Element::Correlator, c);
            }
            for it in r.items() {
                write_item(w, &it.unwrap());
            }
        }
        Command::Alert(a) => {
            if a.no_resp {
                w.empty(Element::NoResp).unwrap();
            }
            if let Some(c) = &a.cred {
                write_cred(w, c);
            }
            if let Some(d) = &a.data {
                leaf_value(w, Element::Data, d);
            }
            if let Some(c) = &a.correlator {
                leaf_value(w, Element::Correlator, c);
            }
            for it in a.items() {
                write_item(w, &it.unwrap());
            }
        }
        Command::Status(st) => {
            w.leaf_u32(Element::MsgRef, st.msg_ref).unwrap();
            w.leaf_u32(Element::CmdRef, st.cmd_ref).unwrap();
            leaf_value(w, Element::Cmd, &st.cmd);
            for r in st.target_refs() {
                leaf_value(w, Element::TargetRef, &r.unwrap());
            }
            for r in st.source_refs() {
                leaf_value(w, Element::SourceRef, &r.unwrap());
            }
            if let Some(c) = &st.cred {
                write_cred(w, c);
            }
            if let Some(c) = &st.chal {
                w.start(Element::Chal).unwrap();
                write_meta(w, &c.meta);
                w.end().unwrap();
            }
            leaf_value(w, Element::Data, &st.data);
            for it in st.items() {
                write_item(w, &it.unwrap());
            }
        }
        Command::Results(r) => {
            if let Some(m) = r.msg_ref {
                w.leaf_u32(Element::MsgRef, m).unwrap();
            }
            w.leaf_u32(Element::CmdRef, r.cmd_ref).unwrap();
            if let Some(m) = &r.meta {
                write_meta(w, m);
            }
            for v in r.target_refs() {
                leaf_value(w, Element::TargetRef, &v.unwrap());
            }
            for v in r.source_refs() {
                leaf_value(w, Element::SourceRef, &v.unwrap());
            }
            for it in r.items() {
                write_item(w, &it.unwrap());
            }
        }
        Command::Atomic(c) | Command::Sequence(c) => {
            if c.no_resp {
                w.empty(Element::NoResp).unwrap();
            }
            if let Some(m) = &c.meta {
                write_meta(w, m);
            }
            for inner in c.commands() {
                write_command(w, &inner.unwrap());
            }
        }
    }
    w.end().unwrap();
}

/// Writes the whole decoded message again through our writer.
pub fn reencode(msg: &Message, enc: Encoding) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let mut w = Writer::new(&mut buf, enc).unwrap();
    let h = &msg.hdr;
    w.start(Element::SyncML).unwrap();
    w.start(Element::SyncHdr).unwrap();
    leaf_value(&mut w, Element::VerDTD, &h.ver_dtd);
    leaf_value(&mut w, Element::VerProto, &h.ver_proto);
    leaf_value(&mut w, Element::SessionID, &h.session_id);
    w.leaf_u32(Element::MsgID, h.msg_id).unwrap();
    write_loc(&mut w, Element::Target, &h.target);
    write_loc(&mut w, Element::Source, &h.source);
    if let Some(r) = &h.resp_uri {
        leaf_value(&mut w, Element::RespURI, r);
    }
    if h.no_resp {
        w.empty(Element::NoResp).unwrap();
    }
    if let Some(c) = &h.cred {
        write_cred(&mut w, c);
    }
    if let Some(m) = &h.meta {
        write_meta(&mut w, m);
    }
    w.end().unwrap();
    w.start(Element::SyncBody).unwrap();
    for cmd in msg.body.commands() {
        write_command(&mut w, &cmd.unwrap());
    }
    if msg.body.is_final {
        w.empty(Element::Final).unwrap();
    }
    w.end().unwrap();
    w.end().unwrap();
    w.finish().unwrap().to_vec()
}

/// Runs a libwbxml tool with `input` on stdin; its stdout. Fails loudly when the tool
/// is missing: `cargo xtask test` installs libwbxml2-utils.
pub fn libwbxml(tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Process::new(tool)
        .args(args)
        .args(["-o", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{tool} is required (Debian libwbxml2-utils; `cargo xtask test` installs it): {e}"
            )
        });
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}\ninput: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(input)
    );
    out.stdout
}

/// libwbxml's WBXML for `xml` (WBXML 1.2; with its string table unless `-n`).
pub fn xml2wbxml(xml: &[u8], string_table: bool) -> Vec<u8> {
    let mut args = vec!["-v", "1.2"];
    if !string_table {
        args.push("-n");
    }
    libwbxml("xml2wbxml", &args, xml)
}

/// libwbxml's XML for `wbxml`.
pub fn wbxml2xml(wbxml: &[u8]) -> Vec<u8> {
    libwbxml("wbxml2xml", &["-m", "1", "-i", "1"], wbxml)
}
