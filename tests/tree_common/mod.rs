//! Shared set-up for the tree tests: a device tree as a firmware would provision it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use scomo::codes::StatusCode;
use scomo::mo::{
    AppAuthLeaf, AuthLevel, DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion, Scomo,
};
use scomo::tree::{Got, Tree};

/// The tree the tests use: 2 downloads, 2 delivered, 3 deployed, 384 bytes of ACLs.
pub type T = Tree<2, 2, 3, 384>;

/// The server that owns SCOMO in these tests.
pub const SRV: &str = "srv1";
/// Another server, with fewer rights.
pub const OTHER: &str = "srv2";

pub fn tree_with(version: MoVersion, root: &str) -> T {
    let mut info = DevInfo::new();
    info.set(DevInfoLeaf::DevId, "IMEI:490154203237518")
        .unwrap();
    info.set(DevInfoLeaf::Man, "Acme").unwrap();
    info.set(DevInfoLeaf::Mod, "Widget").unwrap();
    info.set(DevInfoLeaf::DmV, "scomo-0.1").unwrap();
    info.set(DevInfoLeaf::Lang, "en-US").unwrap();
    let mut acc = DmAcc::new("acc").unwrap();
    acc.set(DmAccLeaf::ServerId, SRV).unwrap();
    acc.set_app_addr("addr", "https://dm.example.com/dm", "URI")
        .unwrap();
    acc.set_port("p", 443).unwrap();
    let cl = acc.add_app_auth("cl", AuthLevel::Client).unwrap();
    cl.set(AppAuthLeaf::Type, b"DIGEST").unwrap();
    cl.set(AppAuthLeaf::Name, b"device").unwrap();
    cl.set(AppAuthLeaf::Secret, b"s3cret").unwrap();
    cl.set(AppAuthLeaf::Data, &[1, 2, 3, 255]).unwrap();
    let mut t = T::new(info, DevDetail::new(), acc, Scomo::new(version), root).unwrap();
    t.set_acl(root, "Get=*&Add=*&Replace=*&Delete=*&Exec=srv1")
        .unwrap();
    t.set_acl("./DMAcc", "Get=srv1&Replace=srv1").unwrap();
    t
}

pub fn tree() -> T {
    tree_with(MoVersion::V1_0, "./SCOMO")
}

/// Get as text.
pub fn get(t: &T, server: &str, uri: &str) -> Result<(String, Got), StatusCode> {
    let mut buf = [0u8; 512];
    let got = t.get(server, uri, &mut buf)?;
    Ok((String::from_utf8(buf[..got.len].to_vec()).unwrap(), got))
}

pub fn text(t: &T, uri: &str) -> String {
    get(t, SRV, uri).unwrap().0
}

/// The tree's whole state as bytes (inventory, account, ACLs), to prove "unchanged".
pub fn state(t: &T) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let mut e = minicbor::Encoder::new(&mut buf[..]);
    t.encode_state(&mut e).unwrap();
    let left = e.into_writer().len();
    buf.truncate(8192 - left);
    buf
}
