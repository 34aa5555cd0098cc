//! The main job. Until the management tree lands, this prints the code tables the
//! protocol layers share.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::codes::{ResultCode, StatusCode};

fn main() {
    println!("DM status codes:");
    for c in StatusCode::ALL {
        println!("  {:3} {:?}", c.code(), c);
    }
    println!("SCOMO result codes:");
    for c in ResultCode::ALL {
        println!("  {:4} {:?}", c.code(), c);
    }
}
