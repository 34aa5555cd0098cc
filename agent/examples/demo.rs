//! The main job: every seed flow of scomo-ad-flows-cr §5.4, end to end over real HTTP on
//! loopback, between the test server and the device agent (state in a temporary
//! directory). Prints a transcript and the final inventory; exits 0 only when every flow
//! produced the expected results.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/flows.rs"]
mod flows;

use std::process::ExitCode;

use flows::{Setup, World, story};
use scomo_agent::cli::{AuthArg, EncodingArg};

fn main() -> ExitCode {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("demo: no temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let setup = Setup {
        encoding: EncodingArg::Xml,
        auth: AuthArg::Md5,
        server_auth: true,
    };
    let mut world = World::new(setup, dir.path());
    world.echo = true;
    println!(
        "scomo demo: a device agent and an OMA DM test server on {}",
        world.server.url()
    );
    println!(
        "(SyncML XML, MD5 client credentials, MD5 server credentials; device {})\n",
        flows::DEV
    );
    let result = story(&mut world);
    println!(
        "\nInventory (scomo-agent inventory):\n{}",
        world.inventory()
    );
    match result {
        Ok(()) => {
            println!("\nevery seed flow produced the expected results");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
