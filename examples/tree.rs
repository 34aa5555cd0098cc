//! The management tree on its own (`cargo run --example tree`): builds DevInfo, DevDetail,
//! DMAcc and SCOMO and shows the tree answering the DM commands a SCOMO server sends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::codes::StatusCode;
use scomo::mo::{
    AppAuthLeaf, AuthLevel, DeployedLeaf, DeployedState, DevDetail, DevInfo, DevInfoLeaf, DmAcc,
    DmAccLeaf, MoVersion, Scomo,
};
use scomo::tree::{ExecRequest, Item, Tree};

const SERVER: &str = "scomo.example.com";

fn main() {
    let mut tree = build();
    println!("Management tree of a device, answering a SCOMO server ({SERVER}).\n");

    get(&tree, SERVER, ".");
    get(&tree, SERVER, "./DevInfo");
    get(&tree, SERVER, "./DevInfo/DevId");
    get(&tree, SERVER, "./SCOMO");
    get(&tree, SERVER, "./SCOMO?prop=Type");
    get(&tree, SERVER, "./SCOMO/Inventory/Deployed");
    get(&tree, SERVER, "./SCOMO/Inventory/Deployed/Nav/Version");

    println!("-- alternate download: the server describes a package to fetch");
    add(&mut tree, "./SCOMO/Download/App1", Item::node());
    add(
        &mut tree,
        "./SCOMO/Download/App1/PkgID",
        Item::chr("com.example.app-2.0"),
    );
    add(
        &mut tree,
        "./SCOMO/Download/App1/PkgURL",
        Item::chr("http://dl.example.com/app.dd"),
    );
    replace(
        &mut tree,
        "./SCOMO/Download/App1/PkgURL",
        Item::chr("http://dl.example.com/app-2.0.dd"),
    );
    get(&tree, SERVER, "./SCOMO/Download/App1");
    get(&tree, SERVER, "./SCOMO/Download/App1/Status");

    println!("-- the server runs the operation; the tree hands it to the executor");
    exec(
        &tree,
        SERVER,
        "./SCOMO/Download/App1/Operations/DownloadInstall",
        Some("job-42"),
    );

    println!("-- and what the tree refuses");
    exec(
        &tree,
        "intruder.example.net",
        "./SCOMO/Download/App1/Operations/DownloadInstall",
        None,
    );
    get(&tree, SERVER, "./SCOMO/Download/App2");
    replace(&mut tree, "./SCOMO/Download/App1/Status", Item::chr("40"));
    add(&mut tree, "./SCOMO/Inventory/Deployed/Evil", Item::node());
    get(&tree, SERVER, "./DMAcc/dm/AppAuth/client/AAuthSecret");
    delete(&mut tree, "./SCOMO/Inventory");
    println!("-- cleanup");
    delete(&mut tree, "./SCOMO/Download/App1");
    get(&tree, SERVER, "./SCOMO/Download");
}

/// The tree as a device's firmware would provision it.
fn build() -> Tree {
    let mut info = DevInfo::new();
    for (leaf, value) in [
        (DevInfoLeaf::DevId, "IMEI:490154203237518"),
        (DevInfoLeaf::Man, "Acme"),
        (DevInfoLeaf::Mod, "Widget 3"),
        (DevInfoLeaf::DmV, "scomo-0.1"),
        (DevInfoLeaf::Lang, "en-US"),
    ] {
        info.set(leaf, value).unwrap();
    }
    let mut acc = DmAcc::new("dm").unwrap();
    acc.set(DmAccLeaf::ServerId, SERVER).unwrap();
    acc.set_app_addr("addr", "https://scomo.example.com/dm", "URI")
        .unwrap();
    let client = acc.add_app_auth("client", AuthLevel::Client).unwrap();
    client.set(AppAuthLeaf::Type, b"DIGEST").unwrap();
    client.set(AppAuthLeaf::Name, b"widget-3").unwrap();
    client
        .set(AppAuthLeaf::Secret, b"not for your eyes")
        .unwrap();
    let mut scomo = Scomo::new(MoVersion::V1_0);
    let nav = scomo.add_deployed("Nav").unwrap();
    nav.set(DeployedLeaf::Id, "com.example.nav").unwrap();
    nav.set(DeployedLeaf::Version, "1.4.2").unwrap();
    nav.set_state(DeployedState::Active);
    let mut tree = Tree::new(info, DevDetail::new(), acc, scomo, "./SCOMO").unwrap();
    let scomo_acl = format!("Get=*&Add={SERVER}&Replace={SERVER}&Delete={SERVER}&Exec={SERVER}");
    tree.set_acl("./SCOMO", &scomo_acl).unwrap();
    tree.set_acl("./DMAcc", &format!("Get={SERVER}&Replace={SERVER}"))
        .unwrap();
    tree
}

fn status(code: StatusCode) -> String {
    format!("{} {:?}", code.code(), code)
}

fn get(tree: &Tree, server: &str, uri: &str) {
    println!("> Get {uri}");
    let mut buf = [0u8; 256];
    match tree.get(server, uri, &mut buf) {
        Ok(got) => {
            let data = String::from_utf8_lossy(&buf[..got.len]);
            let mime = if got.mime.is_empty() { "-" } else { got.mime };
            println!(
                "< {}  Format={} Type={mime}  Data={data:?}\n",
                status(StatusCode::Ok),
                got.format.name()
            );
        }
        Err(code) => println!("< {}\n", status(code)),
    }
}

fn add(tree: &mut Tree, uri: &str, item: Item<'_>) {
    println!("> Add {uri} {:?}", String::from_utf8_lossy(item.data));
    let r = tree.add(SERVER, uri, item, None);
    println!("< {}\n", status(r.map_or_else(|c| c, |_| StatusCode::Ok)));
}

fn replace(tree: &mut Tree, uri: &str, item: Item<'_>) {
    println!("> Replace {uri} {:?}", String::from_utf8_lossy(item.data));
    let r = tree.replace(SERVER, uri, item, None);
    println!("< {}\n", status(r.map_or_else(|c| c, |_| StatusCode::Ok)));
}

fn delete(tree: &mut Tree, uri: &str) {
    println!("> Delete {uri}");
    let r = tree.delete(SERVER, uri, None);
    println!("< {}\n", status(r.map_or_else(|c| c, |_| StatusCode::Ok)));
}

fn exec(tree: &Tree, server: &str, uri: &str, correlator: Option<&str>) {
    println!("> Exec {uri} (from {server}, Correlator {correlator:?})");
    let code = tree.exec(server, uri, correlator, None, &mut |r: &ExecRequest<'_>| {
        println!(
            "  executor: {:?} of {:?} (PkgURL {:?}), report to {} with Correlator {:?}",
            r.op.primitive,
            r.op.name(),
            match r.op.target {
                scomo::mo::Target::Download(d) => d.pkg_url(),
                _ => None,
            },
            r.server,
            r.correlator
        );
        StatusCode::Accepted
    });
    println!("< {}\n", status(code));
}
