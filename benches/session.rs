//! Processing a whole server package (issue 3 benches): decode the message, check it,
//! apply its commands to the tree (Adds, a Replace, Gets with Results, an Exec handed to
//! the executor, an Atomic), and encode the reply, in XML and WBXML. Each iteration runs
//! one `Session::step` on a device that has just sent Package 1 (that set-up is not
//! timed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/session_support/mod.rs"]
mod session_support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use scomo::codes::StatusCode;
use scomo::dm::codec::{Element, Encoding};
use scomo::dm::session::{Context, Output, Received};
use session_support::{Dev, Srv};

/// A Package 2 of the alternate-download flow plus an inventory query.
fn package2(enc: Encoding, dev: &mut Dev) -> Vec<u8> {
    let pkg1 = dev.start().out;
    let mut srv = Srv::new(enc, "1A2B");
    srv.msg(true, |s, w| {
        s.acks(w, &pkg1, StatusCode::AuthAccepted, StatusCode::Ok);
        s.get(w, &["./SCOMO/Inventory/Deployed"]);
        s.get(
            w,
            &[
                "./SCOMO/Inventory/Deployed/Comp1/ID",
                "./SCOMO/Inventory/Deployed/Comp1/Version",
            ],
        );
        s.container(w, Element::Atomic, |s, w| {
            s.add_node(w, "./SCOMO/Download/Pkg1");
            s.add_chr(w, "./SCOMO/Download/Pkg1/PkgID", "com.example.app-2.1");
        });
        s.add_chr(
            w,
            "./SCOMO/Download/Pkg1/PkgURL",
            "https://dl.example.com/app.dd",
        );
        s.replace_chr(
            w,
            "./SCOMO/Download/Pkg1/PkgURL",
            "https://dl.example.com/app2.dd",
        );
        s.exec(
            w,
            "./SCOMO/Download/Pkg1/Operations/DownloadInstall",
            Some("job-77"),
        );
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_step");
    for enc in [Encoding::Xml, Encoding::Wbxml] {
        let pkg2 = package2(enc, &mut Dev::client(enc));
        group.throughput(Throughput::Bytes(pkg2.len() as u64));
        let name = format!("{enc:?}_{}_bytes", pkg2.len());
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    let mut dev = Dev::client(enc);
                    dev.start();
                    dev
                },
                |dev| {
                    let mut ctx = Context {
                        tree: &mut dev.tree,
                        auth: &mut dev.auth,
                        handler: &mut dev.handler,
                        rng: &mut dev.rng,
                        ui: None,
                        work: &mut dev.work,
                    };
                    let rx = Received {
                        body: black_box(&pkg2),
                        content_type: enc.content_type(),
                        hmac: None,
                    };
                    let out = dev.session.step(&mut ctx, rx, &mut dev.tx).unwrap();
                    let Output::Send(o) = out else {
                        panic!("a reply expected")
                    };
                    black_box(o.body.len());
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
