//! The complete minimal example of the C integration guide (`tests/c/minimal.c`, shown
//! verbatim in `README.md`) compiles with warnings as errors and the sanitizers, and takes a
//! package pushed by the test server and installs it (result 1200).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod c_build;

use scomo_testserver::{Cmd, Event, Server};

const DEV: &str = "IMEI:356938035643809";

#[test]
fn the_guide_shows_the_minimal_example_verbatim() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{dir}/tests/c/minimal.c")).unwrap();
    let guide = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
    assert!(
        guide.contains(&format!("```c\n{example}```\n")),
        "README.md must show tests/c/minimal.c verbatim in a ```c block"
    );
}

#[test]
fn c_minimal_example_installs_a_pushed_package_and_reports_1200() {
    let server = Server::start().unwrap();
    let d = "./SCOMO/Inventory/Delivered/Min1";
    server.queue(
        DEV,
        vec![
            Cmd::add_node(d),
            Cmd::add(&format!("{d}/PkgID"), "pkg-min-1"),
            Cmd::push(&format!("{d}/Data"), vec![7u8; 5000], 1000),
        ],
    );
    server.queue(
        DEV,
        vec![Cmd::exec(&format!("{d}/Operations/Install"), Some("c-min"))],
    );
    let exe = c_build::compile("minimal", &["tests/c/minimal.c"], &["-lcurl"]);
    let out = c_build::run(&exe, &[server.dm_url()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "minimal exited {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(
        stdout.contains("install pkg-min-1 (5000 bytes, active)"),
        "{stdout}"
    );
    let reported = server.record().events.iter().any(|e| {
        matches!(e, Event::GenericAlert { correlator: Some(c), result: Some(1200), identifier: Some(id), .. }
            if c == "c-min" && id == "pkg-min-1")
    });
    assert!(reported, "no result 1200 for c-min\n{stdout}\n{stderr}");
    assert_eq!(server.queued(DEV), 0);
}
