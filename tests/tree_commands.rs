//! DM command semantics of the management tree, one test per rule, each naming the status
//! code the specification demands (digest 7.5, 7.10; DM 1.2 TND 8.3).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tree_common;

use scomo::codes::StatusCode;
use scomo::mo::{
    AppAuthLeaf, AuthLevel, DeliveredState, DeployedLeaf, DownloadLeaf, DownloadStatus, EntryUri,
    MoVersion, Primitive, Target,
};
use scomo::tree::{ExecRequest, Format, Item, UndoLog, UriLimits, Written};
use tree_common::*;

/// Runs `f` and checks that it failed with `code` and left the tree exactly as it was.
fn fails_unchanged<R: std::fmt::Debug>(
    t: &mut T,
    code: StatusCode,
    f: impl FnOnce(&mut T) -> Result<R, StatusCode>,
) {
    let before = state(t);
    let r = f(t);
    assert_eq!(r.as_ref().err(), Some(&code), "result {r:?}");
    assert_eq!(state(t), before, "tree changed by a failed command");
}

fn add_download(t: &mut T, name: &str) {
    let uri = format!("./SCOMO/Download/{name}");
    t.add(SRV, &uri, Item::node(), None).unwrap();
    t.add(SRV, &format!("{uri}/PkgID"), Item::chr("pkg-1"), None)
        .unwrap();
    t.add(SRV, &format!("{uri}/PkgURL"), Item::chr("http://x/p"), None)
        .unwrap();
}

// ----- Get -----

#[test]
fn get_root_lists_the_mounted_objects_200() {
    let t = tree();
    let (data, got) = get(&t, SRV, ".").unwrap();
    assert_eq!(data, "DevInfo/DevDetail/DMAcc/SCOMO");
    assert_eq!(got.format, Format::Node);
}

#[test]
fn get_interior_node_gives_child_names_and_format_node_200() {
    let t = tree();
    let (data, got) = get(&t, SRV, "./SCOMO").unwrap();
    assert_eq!(data, "Download/Inventory/Ext");
    assert_eq!(got.format, Format::Node);
    assert_eq!(got.mime, "urn:oma:mo:oma-scomo:1.0");
    assert_eq!(text(&t, "SCOMO/Inventory"), "Delivered/Deployed");
    assert_eq!(text(&t, "./SCOMO/Download"), "");
    // Optional leaves that hold no value are not listed.
    assert_eq!(text(&t, "./DevDetail"), "URI/LrgObj");
}

#[test]
fn get_leaf_gives_value_format_and_type_200() {
    let t = tree();
    let (data, got) = get(&t, OTHER, "./DevInfo/DevId").unwrap();
    assert_eq!(data, "IMEI:490154203237518");
    assert_eq!(got.format, Format::Chr);
    assert_eq!(got.mime, "text/plain");
    let (data, got) = get(&t, SRV, "./DevDetail/LrgObj").unwrap();
    assert_eq!((data.as_str(), got.format), ("true", Format::Bool));
    assert_eq!(text(&t, "./DevDetail/URI/MaxSegLen"), "32");
    assert_eq!(text(&t, "./DMAcc/acc/AppAddr/addr/Port/p/PortNbr"), "443");
    assert_eq!(text(&t, "./DMAcc/acc/AppAuth/cl/AAuthLevel"), "CLCRED");
}

#[test]
fn get_missing_node_or_absent_leaf_is_404() {
    let mut t = tree();
    assert_eq!(
        get(&t, SRV, "./SCOMO/Nope").err(),
        Some(StatusCode::NotFound)
    );
    assert_eq!(get(&t, SRV, "./Nope").err(), Some(StatusCode::NotFound));
    t.add(SRV, "./SCOMO/Download/d", Item::node(), None)
        .unwrap();
    assert_eq!(
        get(&t, SRV, "./SCOMO/Download/d/Name").err(),
        Some(StatusCode::NotFound)
    );
    assert_eq!(
        get(&t, SRV, "./DevInfo/DevId/More").err(),
        Some(StatusCode::NotFound)
    );
}

#[test]
fn get_of_secrets_and_package_data_is_405() {
    let mut t = tree();
    for uri in [
        "./DMAcc/acc/AppAuth/cl/AAuthSecret",
        "./DMAcc/acc/AppAuth/cl/AAuthData",
    ] {
        assert_eq!(
            get(&t, SRV, uri).err(),
            Some(StatusCode::NotAllowed),
            "{uri}"
        );
        assert_eq!(
            get(&t, SRV, &format!("{uri}?prop=Size")).err(),
            Some(StatusCode::NotAllowed)
        );
    }
    t.add(SRV, "./SCOMO/Inventory/Delivered/p", Item::node(), None)
        .unwrap();
    t.scomo_mut().delivered_mut("p").unwrap().set_data(Some(10));
    assert_eq!(
        get(&t, SRV, "./SCOMO/Inventory/Delivered/p/Data").err(),
        Some(StatusCode::NotAllowed)
    );
    assert_eq!(
        text(&t, "./SCOMO/Inventory/Delivered/p/Data?prop=Size"),
        "10"
    );
}

#[test]
fn get_unsupported_query_or_property_is_406() {
    let t = tree();
    for uri in [
        "./SCOMO?list=Struct",
        "./SCOMO?list=StructData",
        "./SCOMO?prop=Title",
        "./SCOMO?prop=TStamp",
        "./SCOMO?prop=VerNo",
        "./SCOMO?prop=Colour",
        "./SCOMO?prop=Size",
    ] {
        assert_eq!(
            get(&t, SRV, uri).err(),
            Some(StatusCode::OptionalFeatureNotSupported),
            "{uri}"
        );
    }
}

#[test]
fn get_properties_200() {
    let t = tree();
    assert_eq!(text(&t, "./SCOMO?prop=Format"), "node");
    assert_eq!(text(&t, "./SCOMO?prop=Type"), "urn:oma:mo:oma-scomo:1.0");
    assert_eq!(
        text(&t, "./DevInfo?prop=Type"),
        "urn:oma:mo:oma-dm-devinfo:1.0"
    );
    assert_eq!(text(&t, "./SCOMO/Inventory?prop=Name"), "Inventory");
    assert_eq!(text(&t, "./DevInfo/Man?prop=Size"), "4");
    assert_eq!(text(&t, "./DevInfo/Man?prop=Type"), "text/plain");
    assert_eq!(text(&t, "./DevDetail/LrgObj?prop=Format"), "bool");
    // ACL: the node's own value, empty when it inherits; the root always has one.
    assert_eq!(text(&t, "./SCOMO/Download?prop=ACL"), "");
    assert_eq!(
        text(&t, "./SCOMO?prop=ACL"),
        "Get=*&Add=*&Replace=*&Delete=*&Exec=srv1"
    );
    assert_eq!(text(&t, ".?prop=ACL"), "Add=*&Get=*");
}

#[test]
fn get_without_get_right_is_425() {
    let mut t = tree();
    // DMAcc: Get=srv1 only.
    assert_eq!(
        get(&t, OTHER, "./DMAcc/acc/ServerID").err(),
        Some(StatusCode::PermissionDenied)
    );
    t.set_acl("./SCOMO/Inventory", "Get=srv2").unwrap();
    assert_eq!(
        get(&t, SRV, "./SCOMO/Inventory/Deployed").err(),
        Some(StatusCode::PermissionDenied)
    );
    assert!(get(&t, OTHER, "./SCOMO/Inventory/Deployed").is_ok());
}

#[test]
fn get_into_a_too_small_buffer_is_413() {
    let t = tree();
    let mut buf = [0u8; 4];
    assert_eq!(
        t.get(SRV, "./DevInfo/DevId", &mut buf),
        Err(StatusCode::RequestEntityTooLarge)
    );
}

#[test]
fn uri_over_devdetail_limits_is_414() {
    let mut t = tree();
    t.devdetail_mut().set_limits(UriLimits {
        max_depth: 3,
        max_tot_len: 40,
        max_seg_len: 10,
    });
    assert!(get(&t, SRV, "./SCOMO/Inventory/Delivered").is_ok());
    assert_eq!(
        get(&t, SRV, "./SCOMO/Inventory/Delivered/pkg/State?prop=ACL").err(),
        Some(StatusCode::UriTooLong)
    );
    assert_eq!(
        get(&t, SRV, "./SCOMO/Download/x/PkgID").err(),
        Some(StatusCode::UriTooLong)
    );
    fails_unchanged(&mut t, StatusCode::UriTooLong, |t| {
        t.add(SRV, "./SCOMO/Download/abcdefghijk", Item::node(), None)
    });
    assert_eq!(text(&t, "./DevDetail/URI/MaxDepth"), "3");
}

#[test]
fn malformed_uri_is_400() {
    let mut t = tree();
    for uri in [
        "",
        "/SCOMO",
        "SCOMO/",
        "./SCOMO//Download",
        "./SCOMO/../DevInfo",
    ] {
        assert_eq!(
            get(&t, SRV, uri).err(),
            Some(StatusCode::BadRequest),
            "{uri:?}"
        );
        fails_unchanged(&mut t, StatusCode::BadRequest, |t| {
            t.add(SRV, uri, Item::node(), None)
        });
    }
}

// ----- Add -----

#[test]
fn add_dynamic_node_then_again_is_418() {
    let mut t = tree();
    assert_eq!(
        t.add(SRV, "./SCOMO/Download/d1", Item::node(), None),
        Ok(Written::Stored)
    );
    assert_eq!(text(&t, "./SCOMO/Download"), "d1");
    assert_eq!(text(&t, "./SCOMO/Download/d1/Status"), "10");
    fails_unchanged(&mut t, StatusCode::AlreadyExists, |t| {
        t.add(SRV, "./SCOMO/Download/d1", Item::node(), None)
    });
    t.add(SRV, "./SCOMO/Download/d1/PkgID", Item::chr("a"), None)
        .unwrap();
    fails_unchanged(&mut t, StatusCode::AlreadyExists, |t| {
        t.add(SRV, "./SCOMO/Download/d1/PkgID", Item::chr("b"), None)
    });
    fails_unchanged(&mut t, StatusCode::AlreadyExists, |t| {
        t.add(SRV, "./SCOMO/Download", Item::node(), None)
    });
}

#[test]
fn add_creates_missing_parent_implicitly_200() {
    let mut t = tree();
    t.add(
        SRV,
        "./SCOMO/Download/d1/PkgURL",
        Item::chr("http://x"),
        None,
    )
    .unwrap();
    assert_eq!(
        text(&t, "./SCOMO/Download/d1"),
        "PkgURL/Status/Operations/Ext"
    );
    assert_eq!(
        t.scomo().download("d1").unwrap().pkg_url(),
        Some("http://x")
    );
}

#[test]
fn add_below_a_leaf_or_where_no_node_is_defined_is_405() {
    let mut t = tree();
    add_download(&mut t, "d1");
    for uri in [
        "./SCOMO/Download/d1/PkgID/X",
        "./SCOMO/Foo",
        "./SCOMO/Download/d1/Ext/Vendor",
        "./SCOMO/Download/d2/Operations/X",
        "./Vendor",
        "./DevInfo/Foo",
        "./SCOMO/Inventory/Deployed/c1",
        "./SCOMO?prop=ACL",
    ] {
        fails_unchanged(&mut t, StatusCode::NotAllowed, |t| {
            t.add(SRV, uri, Item::new(b""), None)
        });
    }
    // Device-maintained nodes exist already: 418.
    for uri in [
        "./SCOMO/Download/d1/Operations/Download",
        "./SCOMO/Download/d1/Status",
        "./SCOMO/Download/d1/Ext",
    ] {
        fails_unchanged(&mut t, StatusCode::AlreadyExists, |t| {
            t.add(SRV, uri, Item::new(b""), None)
        });
    }
}

#[test]
fn add_without_add_right_is_425() {
    let mut t = tree();
    t.set_acl("./SCOMO/Download", "Get=*").unwrap();
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.add(SRV, "./SCOMO/Download/d1", Item::node(), None)
    });
    t.set_acl("./SCOMO/Inventory/Delivered", "Get=*&Add=srv1")
        .unwrap();
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.add(
            OTHER,
            "./SCOMO/Inventory/Delivered/p/PkgID",
            Item::chr("x"),
            None,
        )
    });
    t.add(
        SRV,
        "./SCOMO/Inventory/Delivered/p/PkgID",
        Item::chr("x"),
        None,
    )
    .unwrap();
}

#[test]
fn added_interior_node_inherits_unless_creator_lacks_replace_on_parent() {
    let mut t = tree();
    t.add(SRV, "./SCOMO/Download/d1", Item::node(), None)
        .unwrap();
    assert_eq!(text(&t, "./SCOMO/Download/d1?prop=ACL"), "");
    // srv2 may Add but not Replace on Download: it gets Add, Delete, Replace on its node.
    t.set_acl("./SCOMO/Download", "Get=*&Add=*").unwrap();
    t.add(OTHER, "./SCOMO/Download/d2", Item::node(), None)
        .unwrap();
    assert_eq!(
        t.acls().get("SCOMO/Download/d2"),
        Some("Add=srv2&Delete=srv2&Replace=srv2")
    );
    t.add(OTHER, "./SCOMO/Download/d2/PkgID", Item::chr("p"), None)
        .unwrap();
    t.delete(OTHER, "./SCOMO/Download/d2", None).unwrap();
}

#[test]
fn add_when_full_is_420_and_unchanged() {
    let mut t = tree();
    add_download(&mut t, "d1");
    add_download(&mut t, "d2");
    fails_unchanged(&mut t, StatusCode::DeviceFull, |t| {
        t.add(SRV, "./SCOMO/Download/d3", Item::node(), None)
    });
    fails_unchanged(&mut t, StatusCode::DeviceFull, |t| {
        t.add(SRV, "./SCOMO/Download/d3/PkgID", Item::chr("x"), None)
    });
    // The shared budget of one entry: long values fill it.
    let long = "x".repeat(128);
    t.add(
        SRV,
        "./SCOMO/Download/d1/InstallParams",
        Item::chr(&long),
        None,
    )
    .unwrap();
    t.add(
        SRV,
        "./SCOMO/Download/d1/Description",
        Item::chr(&long),
        None,
    )
    .unwrap();
    t.replace(
        SRV,
        "./SCOMO/Download/d1/PkgURL",
        Item::chr(&"u".repeat(80)),
        None,
    )
    .unwrap();
    fails_unchanged(&mut t, StatusCode::DeviceFull, |t| {
        t.add(
            SRV,
            "./SCOMO/Download/d1/Name",
            Item::chr(&"n".repeat(40)),
            None,
        )
    });
}

#[test]
fn value_longer_than_the_leaf_takes_is_413() {
    let mut t = tree();
    add_download(&mut t, "d1");
    fails_unchanged(&mut t, StatusCode::RequestEntityTooLarge, |t| {
        t.add(
            SRV,
            "./SCOMO/Download/d1/EnvType",
            Item::chr(&"e".repeat(33)),
            None,
        )
    });
    fails_unchanged(&mut t, StatusCode::RequestEntityTooLarge, |t| {
        t.replace(
            SRV,
            "./SCOMO/Download/d1/PkgURL",
            Item::chr(&"u".repeat(301)),
            None,
        )
    });
    // A new entry whose leaf is refused is not created either.
    fails_unchanged(&mut t, StatusCode::RequestEntityTooLarge, |t| {
        t.add(
            SRV,
            "./SCOMO/Download/d2/PkgID",
            Item::chr(&"p".repeat(65)),
            None,
        )
    });
}

#[test]
fn meta_format_other_than_the_nodes_is_415() {
    let mut t = tree();
    add_download(&mut t, "d1");
    fails_unchanged(&mut t, StatusCode::UnsupportedMediaType, |t| {
        t.add(
            SRV,
            "./SCOMO/Download/d1/Name",
            Item {
                data: b"12",
                format: Some(Format::Int),
            },
            None,
        )
    });
    fails_unchanged(&mut t, StatusCode::UnsupportedMediaType, |t| {
        t.add(SRV, "./SCOMO/Download/d2", Item::chr("x"), None)
    });
    fails_unchanged(&mut t, StatusCode::UnsupportedMediaType, |t| {
        t.replace(
            SRV,
            "./DMAcc/acc/AppAddr/addr/Port/p/PortNbr",
            Item::chr("80"),
            None,
        )
    });
}

#[test]
fn value_that_does_not_parse_in_the_nodes_format_is_400() {
    let mut t = tree();
    for bad in ["abc", "", "1.5", "99999999999999999999"] {
        fails_unchanged(&mut t, StatusCode::BadRequest, |t| {
            t.replace(
                SRV,
                "./DMAcc/acc/AppAddr/addr/Port/p/PortNbr",
                Item::new(bad.as_bytes()),
                None,
            )
        });
    }
    // Out of the leaf's range (a port is 16 bits).
    fails_unchanged(&mut t, StatusCode::BadRequest, |t| {
        t.replace(
            SRV,
            "./DMAcc/acc/AppAddr/addr/Port/p/PortNbr",
            Item::new(b"70000"),
            None,
        )
    });
    fails_unchanged(&mut t, StatusCode::BadRequest, |t| {
        t.replace(SRV, "./DMAcc/acc/ServerID", Item::new(&[0xff, 0xfe]), None)
    });
    t.replace(
        SRV,
        "./DMAcc/acc/AppAddr/addr/Port/p/PortNbr",
        Item::new(b"8080"),
        None,
    )
    .unwrap();
    assert_eq!(t.dmacc().port(), Some(8080));
}

#[test]
fn reboot_leaf_exists_only_in_scomo_1_1() {
    let mut t = tree();
    add_download(&mut t, "d1");
    fails_unchanged(&mut t, StatusCode::NotAllowed, |t| {
        t.add(SRV, "./SCOMO/Download/d1/Reboot", Item::chr("after"), None)
    });
    let mut t = tree_with(MoVersion::V1_1, "./SCOMO");
    add_download(&mut t, "d1");
    t.add(SRV, "./SCOMO/Download/d1/Reboot", Item::chr("after"), None)
        .unwrap();
    assert_eq!(text(&t, "./SCOMO?prop=Type"), "urn:oma:mo:oma-scomo:1.1");
    assert_eq!(
        t.scomo().download("d1").unwrap().get(DownloadLeaf::Reboot),
        Some("after")
    );
}

#[test]
fn delivered_data_is_routed_outside_the_tree() {
    let mut t = tree();
    let w = t
        .add(
            SRV,
            "./SCOMO/Inventory/Delivered/pkg/Data",
            Item::new(b"first chunk"),
            None,
        )
        .unwrap();
    assert_eq!(w, Written::External { package: "pkg" });
    // Nothing kept: Data stays absent until the engine records the stored size.
    assert_eq!(t.scomo().delivered("pkg").unwrap().data_size(), None);
    t.scomo_mut()
        .delivered_mut("pkg")
        .unwrap()
        .set_data(Some(11));
    assert_eq!(
        t.replace(
            SRV,
            "./SCOMO/Inventory/Delivered/pkg/Data",
            Item::new(b""),
            None
        ),
        Ok(Written::External { package: "pkg" })
    );
    fails_unchanged(&mut t, StatusCode::AlreadyExists, |t| {
        t.add(
            SRV,
            "./SCOMO/Inventory/Delivered/pkg/Data",
            Item::new(b""),
            None,
        )
    });
    assert_eq!(
        text(&t, "./SCOMO/Inventory/Delivered/pkg"),
        "Data/Status/State/Operations/Ext"
    );
}

// ----- Replace -----

#[test]
fn replace_never_creates_404() {
    let mut t = tree();
    fails_unchanged(&mut t, StatusCode::NotFound, |t| {
        t.replace(SRV, "./SCOMO/Download/d1/PkgID", Item::chr("x"), None)
    });
    add_download(&mut t, "d1");
    fails_unchanged(&mut t, StatusCode::NotFound, |t| {
        t.replace(SRV, "./SCOMO/Download/d1/Name", Item::chr("x"), None)
    });
    t.replace(SRV, "./SCOMO/Download/d1/PkgID", Item::chr("new"), None)
        .unwrap();
    assert_eq!(t.scomo().download("d1").unwrap().pkg_id(), Some("new"));
}

#[test]
fn replace_of_read_only_or_interior_node_is_405() {
    let mut t = tree();
    add_download(&mut t, "d1");
    for uri in [
        "./SCOMO/Download/d1/Status",
        "./SCOMO/Download/d1",
        "./SCOMO",
        ".",
        "./DevInfo/DevId",
        "./DevDetail/URI/MaxDepth",
        "./DMAcc/acc/AppID",
        "./DMAcc/acc/AppAuth/cl/AAuthLevel",
        "./SCOMO/Download/d1/Operations/Download",
        "./SCOMO/Download/d1?prop=Format",
        "./SCOMO/Download/d1?prop=Type",
        "./SCOMO/Download/d1/PkgID?prop=Size",
        "./SCOMO/Inventory?prop=Name",
    ] {
        fails_unchanged(&mut t, StatusCode::NotAllowed, |t| {
            t.replace(SRV, uri, Item::new(b"20"), None)
        });
    }
    // Renaming a dynamic node is an optional feature this tree does not offer.
    fails_unchanged(&mut t, StatusCode::OptionalFeatureNotSupported, |t| {
        t.replace(SRV, "./SCOMO/Download/d1?prop=Name", Item::chr("d9"), None)
    });
}

#[test]
fn replace_without_replace_right_is_425() {
    let mut t = tree();
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.replace(OTHER, "./DMAcc/acc/ServerID", Item::chr("evil"), None)
    });
}

#[test]
fn dmacc_secrets_can_be_replaced_but_never_read() {
    let mut t = tree();
    t.replace(
        SRV,
        "./DMAcc/acc/AppAuth/cl/AAuthSecret",
        Item::chr("n3w"),
        None,
    )
    .unwrap();
    t.replace(
        SRV,
        "./DMAcc/acc/AppAuth/cl/AAuthData",
        Item {
            data: &[9, 9],
            format: Some(Format::Bin),
        },
        None,
    )
    .unwrap();
    let cl = t.dmacc().app_auth(AuthLevel::Client).unwrap();
    assert_eq!(cl.text(AppAuthLeaf::Secret), Some("n3w"));
    assert_eq!(cl.get(AppAuthLeaf::Data), Some(&[9u8, 9][..]));
    assert_eq!(
        get(&t, SRV, "./DMAcc/acc/AppAuth/cl/AAuthSecret").err(),
        Some(StatusCode::NotAllowed)
    );
    // The list of children does name them (they exist), without values.
    assert_eq!(
        text(&t, "./DMAcc/acc/AppAuth/cl"),
        "AAuthLevel/AAuthType/AAuthName/AAuthSecret/AAuthData"
    );
}

#[test]
fn acl_replace_rules() {
    let mut t = tree();
    add_download(&mut t, "d1");
    // Malformed: 400.
    fails_unchanged(&mut t, StatusCode::BadRequest, |t| {
        t.replace(SRV, "./SCOMO/Download/d1?prop=ACL", Item::chr("Get="), None)
    });
    // Interior node: its own Replace right suffices.
    t.replace(
        SRV,
        "./SCOMO/Download/d1?prop=ACL",
        Item::chr("Get=srv1&Replace=srv1"),
        None,
    )
    .unwrap();
    assert_eq!(
        text(&t, "./SCOMO/Download/d1?prop=ACL"),
        "Get=srv1&Replace=srv1"
    );
    // Leaf: only the parent's Replace counts, not the leaf's own.
    t.set_acl("./SCOMO/Download/d1", "Get=*").unwrap();
    t.set_acl("./SCOMO/Download/d1/PkgID", "Replace=srv1&Get=*")
        .unwrap();
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.replace(
            SRV,
            "./SCOMO/Download/d1/PkgID?prop=ACL",
            Item::chr("Get=*"),
            None,
        )
    });
    t.set_acl("./SCOMO/Download/d1", "Get=*&Replace=srv1")
        .unwrap();
    t.replace(
        SRV,
        "./SCOMO/Download/d1/PkgID?prop=ACL",
        Item::chr("Get=srv1"),
        None,
    )
    .unwrap();
    assert_eq!(
        get(&t, OTHER, "./SCOMO/Download/d1/PkgID").err(),
        Some(StatusCode::PermissionDenied)
    );
    // The root's ACL must keep Add=*: 405; and needs Replace on the root: 425.
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.replace(SRV, ".?prop=ACL", Item::chr("Add=*&Get=srv1"), None)
    });
    t.set_acl(".", "Add=*&Get=*&Replace=srv1").unwrap();
    fails_unchanged(&mut t, StatusCode::NotAllowed, |t| {
        t.replace(
            SRV,
            ".?prop=ACL",
            Item::chr("Add=srv1&Get=*&Replace=srv1"),
            None,
        )
    });
    t.replace(
        SRV,
        ".?prop=ACL",
        Item::chr("Add=*&Get=*&Replace=srv1+srv2"),
        None,
    )
    .unwrap();
    // Setting the empty ACL makes a node inherit again.
    t.replace(SRV, "./SCOMO/Download/d1?prop=ACL", Item::chr(""), None)
        .unwrap();
    assert_eq!(text(&t, "./SCOMO/Download/d1?prop=ACL"), "");
}

#[test]
fn acl_store_full_is_420() {
    let mut t: scomo::tree::Tree<1, 1, 1, 48> = scomo::tree::Tree::new(
        Default::default(),
        Default::default(),
        scomo::mo::DmAcc::new("a").unwrap(),
        scomo::mo::Scomo::new(MoVersion::V1_0),
        "./SCOMO",
    )
    .unwrap();
    t.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*")
        .unwrap();
    let before = (t.acls().iter().count(), t.scomo().clone());
    assert_eq!(
        t.replace(
            SRV,
            "./SCOMO/Inventory?prop=ACL",
            Item::chr("Get=*&Add=*&Replace=a+b+c"),
            None
        ),
        Err(StatusCode::DeviceFull)
    );
    assert_eq!((t.acls().iter().count(), t.scomo().clone()), before);
}

// ----- Delete -----

#[test]
fn delete_removes_the_whole_subtree_and_its_acls_200() {
    let mut t = tree();
    add_download(&mut t, "d1");
    t.set_acl("./SCOMO/Download/d1/PkgID", "Get=srv2").unwrap();
    t.delete(SRV, "./SCOMO/Download/d1", None).unwrap();
    assert_eq!(text(&t, "./SCOMO/Download"), "");
    assert!(
        t.acls()
            .iter()
            .all(|(p, _)| !p.starts_with("SCOMO/Download/d1"))
    );
    // A new node of the same name starts clean.
    add_download(&mut t, "d1");
    assert_eq!(text(&t, "./SCOMO/Download/d1/PkgID"), "pkg-1");
}

#[test]
fn delete_of_permanent_node_root_or_property_is_405() {
    let mut t = tree();
    t.scomo_mut().add_deployed("c1").unwrap();
    for uri in [
        ".",
        "./SCOMO",
        "./SCOMO/Inventory",
        "./SCOMO/Download",
        "./DevInfo/DevId",
        "./DMAcc/acc",
        "./SCOMO/Inventory/Deployed/c1",
        "./SCOMO/Inventory/Deployed/c1/Status",
        "./SCOMO?prop=ACL",
    ] {
        fails_unchanged(&mut t, StatusCode::NotAllowed, |t| t.delete(SRV, uri, None));
    }
}

#[test]
fn delete_missing_is_404_and_without_right_425() {
    let mut t = tree();
    fails_unchanged(&mut t, StatusCode::NotFound, |t| {
        t.delete(SRV, "./SCOMO/Download/d1", None)
    });
    add_download(&mut t, "d1");
    t.set_acl("./SCOMO/Download", "Get=*&Delete=srv2").unwrap();
    fails_unchanged(&mut t, StatusCode::PermissionDenied, |t| {
        t.delete(SRV, "./SCOMO/Download/d1", None)
    });
}

#[test]
fn device_delete_removes_deployed_components() {
    let mut t = tree();
    t.scomo_mut().add_deployed("c1").unwrap();
    t.set_acl("./SCOMO/Inventory/Deployed/c1", "Get=srv2")
        .unwrap();
    t.device_delete("./SCOMO/Inventory/Deployed/c1").unwrap();
    assert!(t.scomo().deployed("c1").is_none());
    assert_eq!(t.acls().get("SCOMO/Inventory/Deployed/c1"), None);
    assert_eq!(
        t.device_delete("./SCOMO/Inventory"),
        Err(StatusCode::NotAllowed)
    );
}

// ----- Exec -----

#[test]
fn exec_is_routed_to_the_handler_with_correlator_and_data() {
    let mut t = tree();
    add_download(&mut t, "d1");
    let mut seen = None;
    let code = t.exec(
        SRV,
        "./SCOMO/Download/d1/Operations/DownloadInstall",
        Some("corr-7"),
        Some(b"arg"),
        &mut |r: &ExecRequest<'_>| {
            let Target::Download(e) = r.op.target else {
                panic!("wrong target")
            };
            seen = Some((
                r.op.primitive,
                e.name().to_string(),
                e.pkg_url().map(str::to_string),
                r.correlator.map(str::to_string),
                r.data.map(<[u8]>::to_vec),
                r.uri.to_string(),
            ));
            StatusCode::Accepted
        },
    );
    assert_eq!(code, StatusCode::Accepted);
    let (p, name, url, corr, data, uri) = seen.unwrap();
    assert_eq!(p, Primitive::DownloadInstall);
    assert_eq!(name, "d1");
    assert_eq!(url.as_deref(), Some("http://x/p"));
    assert_eq!(corr.as_deref(), Some("corr-7"));
    assert_eq!(data.as_deref(), Some(&b"arg"[..]));
    assert_eq!(uri, "./SCOMO/Download/d1/Operations/DownloadInstall");
}

#[test]
fn exec_decodes_every_primitive() {
    let mut t = tree();
    add_download(&mut t, "d");
    t.scomo_mut().add_delivered("p").unwrap();
    t.scomo_mut().add_deployed("c").unwrap();
    let cases = [
        ("Download/d/Operations/Download", Primitive::Download),
        (
            "Download/d/Operations/DownloadInstallInactive",
            Primitive::DownloadInstallInactive,
        ),
        (
            "Inventory/Delivered/p/Operations/Install",
            Primitive::Install,
        ),
        (
            "Inventory/Delivered/p/Operations/InstallInactive",
            Primitive::InstallInactive,
        ),
        (
            "Inventory/Delivered/p/Operations/Remove",
            Primitive::RemoveDelivered,
        ),
        (
            "Inventory/Deployed/c/Operations/Activate",
            Primitive::Activate,
        ),
        (
            "Inventory/Deployed/c/Operations/Deactivate",
            Primitive::Deactivate,
        ),
        (
            "Inventory/Deployed/c/Operations/Remove",
            Primitive::RemoveDeployed,
        ),
    ];
    for (uri, want) in cases {
        let name = uri.split('/').rev().nth(2).unwrap();
        assert_eq!(
            EntryUri::operation("SCOMO", want, name).to_string(),
            format!("./SCOMO/{uri}")
        );
        let mut got = None;
        let code = t.exec(
            SRV,
            &format!("./SCOMO/{uri}"),
            None,
            None,
            &mut |r: &ExecRequest<'_>| {
                got = Some((r.op.primitive, r.op.name().to_string()));
                StatusCode::Accepted
            },
        );
        assert_eq!(code, StatusCode::Accepted);
        let (p, _) = got.unwrap();
        assert_eq!(p, want, "{uri}");
    }
}

#[test]
fn exec_missing_404_not_executable_405_no_right_425() {
    let mut t = tree();
    add_download(&mut t, "d1");
    let mut never = |_: &ExecRequest<'_>| -> StatusCode { panic!("handler must not run") };
    assert_eq!(
        t.exec(
            SRV,
            "./SCOMO/Download/d2/Operations/Download",
            None,
            None,
            &mut never
        ),
        StatusCode::NotFound
    );
    assert_eq!(
        t.exec(SRV, "./SCOMO/Download/d1/PkgID", None, None, &mut never),
        StatusCode::NotAllowed
    );
    assert_eq!(
        t.exec(
            SRV,
            "./SCOMO/Download/d1/Operations",
            None,
            None,
            &mut never
        ),
        StatusCode::NotAllowed
    );
    assert_eq!(
        t.exec(
            OTHER,
            "./SCOMO/Download/d1/Operations/Download",
            None,
            None,
            &mut never
        ),
        StatusCode::PermissionDenied
    );
}

// ----- Atomic undo -----

#[test]
fn rollback_restores_the_tree_exactly() {
    let mut t = tree();
    add_download(&mut t, "d1");
    t.scomo_mut()
        .add_deployed("c1")
        .unwrap()
        .set(DeployedLeaf::Id, "id")
        .unwrap();
    let before = state(&t);
    let mut buf = [0u8; 2048];
    let mut undo = UndoLog::new(&mut buf);
    t.add(
        SRV,
        "./SCOMO/Download/d2/PkgID",
        Item::chr("x"),
        Some(&mut undo),
    )
    .unwrap();
    t.replace(
        SRV,
        "./SCOMO/Download/d1/PkgID",
        Item::chr("changed"),
        Some(&mut undo),
    )
    .unwrap();
    t.add(
        SRV,
        "./SCOMO/Download/d1/Name",
        Item::chr("n"),
        Some(&mut undo),
    )
    .unwrap();
    t.replace(
        SRV,
        "./SCOMO/Download/d1?prop=ACL",
        Item::chr("Get=*&Delete=srv1"),
        Some(&mut undo),
    )
    .unwrap();
    t.delete(SRV, "./SCOMO/Download/d1", Some(&mut undo))
        .unwrap();
    t.add(SRV, "./SCOMO/Download/d1", Item::node(), Some(&mut undo))
        .unwrap();
    t.replace(SRV, "./DMAcc/acc/Name", Item::chr("acct"), Some(&mut undo))
        .unwrap_err();
    t.add(SRV, "./DMAcc/acc/Name", Item::chr("acct"), Some(&mut undo))
        .unwrap_err();
    t.replace(
        SRV,
        "./DMAcc/acc/ServerID",
        Item::chr("other"),
        Some(&mut undo),
    )
    .unwrap();
    assert_ne!(state(&t), before);
    t.rollback(&mut undo).unwrap();
    assert!(undo.is_empty());
    assert_eq!(state(&t), before);
    assert_eq!(text(&t, "./SCOMO/Download"), "d1");
}

#[test]
fn undo_log_full_is_507_and_unchanged() {
    let mut t = tree();
    add_download(&mut t, "d1");
    let mut buf = [0u8; 24];
    let mut undo = UndoLog::new(&mut buf);
    fails_unchanged(&mut t, StatusCode::AtomicFailed, |t| {
        t.replace(
            SRV,
            "./SCOMO/Download/d1/PkgID",
            Item::chr("x"),
            Some(&mut undo),
        )
    });
    t.rollback(&mut undo).unwrap();
}

// ----- Objects and configuration -----

#[test]
fn scomo_root_is_configurable_with_virtual_parents() {
    let t = tree_with(MoVersion::V1_0, "./Vendor/Acme/SCOMO");
    assert_eq!(text(&t, "."), "DevInfo/DevDetail/DMAcc/Vendor");
    assert_eq!(text(&t, "./Vendor"), "Acme");
    assert_eq!(text(&t, "./Vendor/Acme/SCOMO"), "Download/Inventory/Ext");
    assert_eq!(get(&t, SRV, "./SCOMO").err(), Some(StatusCode::NotFound));
}

#[test]
fn scomo_root_inside_another_object_is_refused() {
    for root in ["./DevInfo/SCOMO", "./DMAcc", ".", "./A?prop=ACL"] {
        let r = T::new(
            Default::default(),
            Default::default(),
            scomo::mo::DmAcc::new("a").unwrap(),
            scomo::mo::Scomo::new(MoVersion::V1_0),
            root,
        );
        assert!(r.is_err(), "{root}");
    }
}

#[test]
fn executor_typed_api_shows_in_the_tree() {
    let mut t = tree();
    add_download(&mut t, "d1");
    t.scomo_mut()
        .download_mut("d1")
        .unwrap()
        .set_status(DownloadStatus::DownloadProgressing);
    let p = t.scomo_mut().add_delivered("d1").unwrap();
    p.set_state(DeliveredState::Installed);
    assert_eq!(text(&t, "./SCOMO/Download/d1/Status"), "30");
    assert_eq!(text(&t, "./SCOMO/Inventory/Delivered/d1/State"), "20");
    assert_eq!(text(&t, "./SCOMO/Inventory/Delivered/d1/Status"), "10");
}

#[test]
fn state_round_trips_and_corrupt_state_is_refused_unchanged() {
    let mut t = tree();
    add_download(&mut t, "d1");
    t.set_acl("./SCOMO/Download/d1", "Get=*").unwrap();
    let bytes = state(&t);
    let mut fresh = tree();
    fresh
        .decode_state(&mut minicbor::Decoder::new(&bytes))
        .unwrap();
    assert_eq!(state(&fresh), bytes);
    let clean = state(&fresh);
    for cut in 0..bytes.len() {
        assert!(
            fresh
                .decode_state(&mut minicbor::Decoder::new(&bytes[..cut]))
                .is_err()
        );
        assert_eq!(state(&fresh), clean);
    }
}

#[test]
fn an_inventory_that_does_not_decode_leaves_no_entries_and_keeps_account_and_acls() {
    // Well-formed CBOR whose SCOMO part breaks a rule only decoding finds (two downloads of
    // one name): the SCOMO object is decoded in place, so it is emptied rather than left
    // with the first entry; the DM account and the ACLs are untouched.
    let mut t = tree();
    add_download(&mut t, "dA");
    add_download(&mut t, "dB");
    let mut bytes = state(&t);
    let at = bytes.windows(2).position(|w| w == b"dB").unwrap();
    bytes[at + 1] = b'A';
    let mut fresh = tree();
    add_download(&mut fresh, "dZ");
    fresh.set_acl("./SCOMO/Download/dZ", "Get=*").unwrap();
    let account = text(&fresh, "./DMAcc/acc/ServerID");
    assert!(
        fresh
            .decode_state(&mut minicbor::Decoder::new(&bytes))
            .is_err()
    );
    assert_eq!(text(&fresh, "./SCOMO/Download"), "");
    assert_eq!(text(&fresh, "./DMAcc/acc/ServerID"), account);
    assert_eq!(fresh.acls().get("SCOMO/Download/dZ"), Some("Get=*"));
}
