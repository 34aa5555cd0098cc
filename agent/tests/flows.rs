//! Every seed flow end to end over real HTTP, in XML and WBXML, with each client
//! authentication scheme, with and without server credentials.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common {
    pub mod flows;
}

use common::flows::{Setup, World, story};
use scomo_agent::cli::{AuthArg, EncodingArg};

fn run(setup: Setup) {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::new(setup, dir.path());
    let result = story(&mut world);
    if let Err(e) = result {
        panic!("{e}\n{}", world.transcript.join("\n"));
    }
}

#[test]
fn every_seed_flow_in_xml_with_md5_and_server_credentials() {
    run(Setup {
        encoding: EncodingArg::Xml,
        auth: AuthArg::Md5,
        server_auth: true,
    });
}

#[test]
fn every_seed_flow_in_wbxml_with_md5_and_server_credentials() {
    run(Setup {
        encoding: EncodingArg::Wbxml,
        auth: AuthArg::Md5,
        server_auth: true,
    });
}

#[test]
fn every_seed_flow_in_xml_with_basic() {
    run(Setup {
        encoding: EncodingArg::Xml,
        auth: AuthArg::Basic,
        server_auth: false,
    });
}

#[test]
fn every_seed_flow_in_wbxml_with_hmac() {
    run(Setup {
        encoding: EncodingArg::Wbxml,
        auth: AuthArg::Hmac,
        server_auth: true,
    });
}
