//! Properties of the management tree: URIs round-trip; random command sequences never
//! panic, a failed command changes nothing, and the tree's invariants hold after every
//! command (every node is reachable from its parent, ACLs parse and sit on existing nodes,
//! occurrences hold); an Atomic's rollback restores the tree exactly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tree_common;

use proptest::prelude::*;
use scomo::codes::StatusCode;
use scomo::mo::{DeliveredState, DeliveredStatus, DeployedState, DeployedStatus, DownloadStatus};
use scomo::tree::{Acl, ExecRequest, Format, Item, UndoLog, Uri};
use tree_common::*;

// ----- URIs -----

fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.~-]{1,10}".prop_filter("dot segments", |s| s != "." && s != "..")
}

proptest! {
    #[test]
    fn uri_print_then_parse_round_trips(
        segs in prop::collection::vec(segment(), 0..6),
        dotted in any::<bool>(),
        query in prop::option::of(prop::sample::select(vec![
            "?prop=ACL", "?prop=Format", "?prop=Name", "?prop=Size", "?prop=Type",
            "?prop=Title", "?list=Struct", "?list=StructData",
        ])),
    ) {
        let path = segs.join("/");
        let mut text = if segs.is_empty() {
            ".".to_string()
        } else if dotted {
            format!("./{path}")
        } else {
            path.clone()
        };
        text.push_str(query.unwrap_or(""));
        let uri = Uri::parse(&text).unwrap();
        prop_assert_eq!(uri.path(), path.as_str());
        prop_assert_eq!(uri.segments().count(), segs.len());
        let printed = uri.to_string();
        let again = Uri::parse(&printed).unwrap();
        prop_assert_eq!(again, uri);
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn any_text_parses_or_is_refused_without_panic(text in "\\PC{0,40}") {
        if let Ok(uri) = Uri::parse(&text) {
            let printed = uri.to_string();
            prop_assert_eq!(Uri::parse(&printed).unwrap(), uri);
        }
    }

    #[test]
    fn acls_that_parse_grant_exactly_the_listed_servers(
        entries in prop::collection::vec(
            (prop::sample::select(vec!["Add", "Delete", "Exec", "Get", "Replace"]),
             prop::collection::vec(prop::sample::select(vec!["a", "b", "*"]), 1..3)),
            0..4),
        probe in prop::sample::select(vec!["a", "b", "c"]),
    ) {
        let text = entries
            .iter()
            .map(|(c, ids)| format!("{c}={}", ids.join("+")))
            .collect::<Vec<_>>()
            .join("&");
        let acl = Acl::parse(&text).unwrap();
        for cmd in scomo::tree::Command::NAMES.iter().map(|(c, _)| *c) {
            let want = entries.iter().any(|(c, ids)| {
                *c == cmd.name() && ids.iter().any(|i| *i == "*" || *i == probe)
            });
            prop_assert_eq!(acl.allows(cmd, probe), want);
        }
    }

    #[test]
    fn random_state_bytes_decode_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut t = tree();
        let before = state(&t);
        if t.decode_state(&mut minicbor::Decoder::new(&bytes)).is_err() {
            prop_assert_eq!(state(&t), before);
        }
    }
}

// ----- Random command sequences -----

#[derive(Debug, Clone)]
enum Cmd {
    Get(String),
    Add(String, Vec<u8>, Option<Format>),
    Replace(String, Vec<u8>, Option<Format>),
    Delete(String),
    Exec(String),
}

fn uri() -> impl Strategy<Value = String> {
    // (base, takes an entry name, leaves that make sense there, and some that do not)
    let places: Vec<(&str, bool, Vec<&str>)> = vec![
        (
            "./SCOMO/Download",
            true,
            vec![
                "PkgID",
                "PkgURL",
                "Name",
                "Status",
                "Operations",
                "Operations/Download",
                "Ext",
                "Reboot",
                "X",
            ],
        ),
        (
            "./SCOMO/Inventory/Delivered",
            true,
            vec![
                "PkgID",
                "Data",
                "Name",
                "Status",
                "State",
                "Operations/Install",
                "Operations/Remove",
                "Y/Z",
            ],
        ),
        (
            "./SCOMO/Inventory/Deployed",
            true,
            vec![
                "ID",
                "Version",
                "Status",
                "State",
                "Operations/Activate",
                "Operations/Remove",
            ],
        ),
        (
            "./DMAcc/acc/AppAuth/cl",
            false,
            vec!["AAuthSecret", "AAuthData", "AAuthName", "AAuthLevel"],
        ),
        (
            "./DMAcc/acc",
            false,
            vec![
                "ServerID",
                "Name",
                "AAuthPref",
                "AppAddr/addr/Port/p/PortNbr",
            ],
        ),
        (
            ".",
            false,
            vec![
                "SCOMO",
                "DevInfo",
                "DevInfo/DevId",
                "Vendor",
                "SCOMO/Inventory",
            ],
        ),
    ];
    prop::sample::select(places)
        .prop_flat_map(|(base, named, leaves)| {
            (
                Just(base),
                if named {
                    prop::option::weighted(0.9, prop::sample::select(vec!["a", "b", "c"])).boxed()
                } else {
                    Just(None).boxed()
                },
                prop::option::weighted(0.7, prop::sample::select(leaves)),
                prop::sample::select(vec![
                    "",
                    "",
                    "",
                    "",
                    "",
                    "?prop=ACL",
                    "?prop=Name",
                    "?prop=Size",
                    "?list=Struct",
                ]),
            )
        })
        .prop_map(|(b, n, l, q)| {
            let mut s = b.to_string();
            if let Some(n) = n {
                s = format!("{s}/{n}");
            }
            if let Some(l) = l {
                s = if s == "." {
                    format!("./{l}")
                } else {
                    format!("{s}/{l}")
                };
            }
            s + q
        })
}

fn value() -> impl Strategy<Value = (Vec<u8>, Option<Format>)> {
    let data = prop::sample::select(vec![
        b"".to_vec(),
        b"x".to_vec(),
        b"http://example.com/p".to_vec(),
        b"8080".to_vec(),
        b"123".to_vec(),
        vec![b'u'; 300],
        vec![b'v'; 70],
        b"Get=*".to_vec(),
        b"Add=*&Get=srv2&Replace=srv2".to_vec(),
        b"Get=".to_vec(),
        vec![0xff, 0xfe],
    ]);
    let format = prop::option::weighted(
        0.3,
        prop::sample::select(vec![Format::Chr, Format::Int, Format::Node, Format::Bin]),
    );
    (data, format)
}

fn cmd() -> impl Strategy<Value = (bool, Cmd)> {
    let c = prop_oneof![
        uri().prop_map(Cmd::Get),
        (uri(), value()).prop_map(|(u, (d, f))| Cmd::Add(u, d, f)),
        (uri(), value()).prop_map(|(u, (d, f))| Cmd::Replace(u, d, f)),
        uri().prop_map(Cmd::Delete),
        uri().prop_map(Cmd::Exec),
    ];
    (any::<bool>(), c)
}

/// A tree with some entries to work on: `Download/a`, `Inventory/Delivered/b`,
/// `Inventory/Deployed/c`.
fn populated() -> T {
    let mut t = tree();
    t.add(SRV, "./SCOMO/Download/a/PkgID", Item::chr("p"), None)
        .unwrap();
    t.add(
        SRV,
        "./SCOMO/Inventory/Delivered/b/PkgID",
        Item::chr("p"),
        None,
    )
    .unwrap();
    t.scomo_mut().add_deployed("c").unwrap();
    t
}

/// Runs one command.
fn run(t: &mut T, server: &str, c: &Cmd, undo: Option<&mut UndoLog<'_>>) -> Result<(), StatusCode> {
    match c {
        Cmd::Get(u) => t.get(server, u, &mut [0u8; 512]).map(|_| ()),
        Cmd::Add(u, d, f) => t
            .add(
                server,
                u,
                Item {
                    data: d,
                    format: *f,
                },
                undo,
            )
            .map(|_| ()),
        Cmd::Replace(u, d, f) => t
            .replace(
                server,
                u,
                Item {
                    data: d,
                    format: *f,
                },
                undo,
            )
            .map(|_| ()),
        Cmd::Delete(u) => t.delete(server, u, undo),
        Cmd::Exec(u) => {
            let code = t.exec(server, u, Some("c"), None, &mut |_: &ExecRequest<'_>| {
                StatusCode::Accepted
            });
            if code == StatusCode::Accepted {
                Ok(())
            } else {
                Err(code)
            }
        }
    }
}

/// Walks the whole tree by Get from `.` with every ACL made to inherit `Get=*`, and
/// checks: every listed child answers (a value, or 405 for a write-only leaf), every
/// dynamic entry has its device-maintained leaves with a value from its table, every ACL
/// in the store parses and names an existing node, capacities hold.
fn check_invariants(t: &T) {
    for (path, acl) in t.acls().iter() {
        Acl::parse(acl).unwrap();
        let mut probe = t.clone();
        let uri = if path.is_empty() {
            ".".to_string()
        } else {
            format!("./{path}")
        };
        assert_eq!(
            probe.set_acl(&uri, acl),
            Ok(()),
            "ACL on a missing node {uri}"
        );
    }
    let mut open = t.clone();
    let paths: Vec<String> = open.acls().iter().map(|(p, _)| p.to_string()).collect();
    for p in paths {
        let uri = if p.is_empty() {
            ".".to_string()
        } else {
            format!("./{p}")
        };
        open.set_acl(&uri, "").unwrap();
    }
    open.set_acl(".", "Add=*&Get=*").unwrap();
    let mut stack = vec![".".to_string()];
    let mut seen = 0;
    while let Some(uri) = stack.pop() {
        seen += 1;
        match get(&open, SRV, &uri) {
            Ok((data, got)) if got.format == Format::Node => {
                for child in data.split('/').filter(|c| !c.is_empty()) {
                    stack.push(if uri == "." {
                        format!("./{child}")
                    } else {
                        format!("{uri}/{child}")
                    });
                }
            }
            Ok(_) => {}
            Err(StatusCode::NotAllowed) => {
                assert!(
                    ["AAuthSecret", "AAuthData", "Data"]
                        .iter()
                        .any(|l| uri.ends_with(l)),
                    "{uri} refused Get"
                );
            }
            Err(e) => panic!("{uri} listed by its parent but answers {e:?}"),
        }
    }
    assert!(seen > 30);
    let s = t.scomo();
    assert!(s.downloads().count() <= 2 && s.delivered_packages().count() <= 2);
    for d in s.downloads() {
        let v: u8 = text(&open, &format!("./SCOMO/Download/{}/Status", d.name()))
            .parse()
            .unwrap();
        assert!(DownloadStatus::from_value(v).is_some());
    }
    for d in s.delivered_packages() {
        let base = format!("./SCOMO/Inventory/Delivered/{}", d.name());
        let v: u8 = text(&open, &format!("{base}/Status")).parse().unwrap();
        assert!(DeliveredStatus::from_value(v).is_some());
        let v: u8 = text(&open, &format!("{base}/State")).parse().unwrap();
        assert!(DeliveredState::from_value(v).is_some());
    }
    for d in s.deployed_components() {
        let base = format!("./SCOMO/Inventory/Deployed/{}", d.name());
        let v: u8 = text(&open, &format!("{base}/Status")).parse().unwrap();
        assert!(DeployedStatus::from_value(v).is_some());
        let v: u8 = text(&open, &format!("{base}/State")).parse().unwrap();
        assert!(DeployedState::from_value(v).is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_commands_keep_the_tree_valid(cmds in prop::collection::vec(cmd(), 1..30)) {
        let mut t = populated();
        for (other, c) in &cmds {
            let server = if *other { OTHER } else { SRV };
            let before = state(&t);
            if run(&mut t, server, c, None).is_err() {
                prop_assert_eq!(state(&t), before, "failed {:?} changed the tree", c);
            }
            check_invariants(&t);
        }
    }

    #[test]
    fn rollback_undoes_any_command_sequence(
        cmds in prop::collection::vec(cmd(), 1..20),
        log_size in prop::sample::select(vec![64usize, 512, 4096]),
    ) {
        let mut t = populated();
        let start = state(&t);
        let mut buf = vec![0u8; log_size];
        let mut undo = UndoLog::new(&mut buf);
        for (other, c) in &cmds {
            let server = if *other { OTHER } else { SRV };
            let before = state(&t);
            if run(&mut t, server, c, Some(&mut undo)).is_err() {
                prop_assert_eq!(state(&t), before, "failed {:?} changed the tree", c);
            }
        }
        t.rollback(&mut undo).unwrap();
        prop_assert_eq!(state(&t), start);
        check_invariants(&t);
    }
}
