//! On-target unit tests of the core crate: the code tables and their lookups, compiled for
//! and run on the board's CPU.
#![no_std]
#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::codes::{ResultCode, ScomoResult, StatusCode, VENDOR_RESULT_RANGES};
use scomo_qemu::{Outcome, ensure, ensure_eq, println, tests};

/// Every number from 0 to 999 maps to the status code with that number, and to none when the
/// table has no such entry.
fn status_codes_round_trip_and_unknown_numbers_are_rejected() -> Outcome {
    let mut found = 0;
    for n in 0..1000u16 {
        let in_table = StatusCode::ALL.iter().find(|c| c.code() == n);
        ensure_eq!(StatusCode::from_code(n), in_table.copied());
        if let Some(c) = StatusCode::from_code(n) {
            ensure_eq!(c.code(), n);
            found += 1;
        }
    }
    ensure_eq!(found, StatusCode::ALL.len());
    Ok(())
}

/// `is_success` is exactly the 2xx class.
fn status_code_success_is_the_2xx_class() -> Outcome {
    for c in StatusCode::ALL {
        ensure_eq!(c.is_success(), (200..300).contains(&c.code()));
    }
    Ok(())
}

/// The numbers the DM protocol relies on most (digest 7.5).
fn status_codes_carry_the_spec_numbers() -> Outcome {
    ensure_eq!(StatusCode::Ok.code(), 200);
    ensure_eq!(StatusCode::Accepted.code(), 202);
    ensure_eq!(StatusCode::AuthAccepted.code(), 212);
    ensure_eq!(StatusCode::ChunkAccepted.code(), 213);
    ensure_eq!(StatusCode::Unauthorized.code(), 401);
    ensure_eq!(StatusCode::NotFound.code(), 404);
    ensure_eq!(StatusCode::AuthenticationRequired.code(), 407);
    ensure_eq!(StatusCode::RequestEntityTooLarge.code(), 413);
    ensure_eq!(StatusCode::DeviceFull.code(), 420);
    ensure_eq!(StatusCode::SizeMismatch.code(), 424);
    ensure_eq!(StatusCode::PermissionDenied.code(), 425);
    ensure_eq!(StatusCode::CommandFailed.code(), 500);
    Ok(())
}

/// Every number from 1000 to 1999 is a valid SCOMO result exactly when it is a standard code
/// or lies in a vendor range (digest 4), and keeps its number.
fn scomo_results_are_standard_or_vendor_codes() -> Outcome {
    let mut vendor = 0;
    for n in 1000..2000u16 {
        let standard = ResultCode::from_code(n).is_some();
        let in_vendor_range = VENDOR_RESULT_RANGES.iter().any(|r| r.contains(&n));
        ensure!(!(standard && in_vendor_range));
        let result = ScomoResult::from_code(n);
        ensure_eq!(result.is_some(), standard || in_vendor_range);
        ensure_eq!(ScomoResult::vendor(n).is_some(), in_vendor_range);
        if let Some(r) = result {
            ensure_eq!(r.code(), n);
            ensure_eq!(r.is_success(), (1200..1300).contains(&n));
        }
        vendor += usize::from(in_vendor_range);
    }
    ensure_eq!(vendor, 150);
    Ok(())
}

/// The standard results round trip through their numbers and carry the spec's values.
fn scomo_result_codes_round_trip_and_carry_the_spec_numbers() -> Outcome {
    for &c in ResultCode::ALL {
        ensure_eq!(ResultCode::from_code(c.code()), Some(c));
        ensure_eq!(ScomoResult::from(c), ScomoResult::standard(c));
    }
    ensure_eq!(ResultCode::Successful.code(), 1200);
    ensure_eq!(ResultCode::DownloadFailed.code(), 1402);
    ensure_eq!(ResultCode::DownloadOutOfMemory.code(), 1404);
    ensure_eq!(ResultCode::ValidationFailed.code(), 1407);
    ensure_eq!(ResultCode::DownloadServerError.code(), 1500);
    ensure_eq!(ResultCode::DownloadServerUnavailable.code(), 1501);
    Ok(())
}

#[cortex_m_rt::entry]
fn main() -> ! {
    println!("scomo core on {}", scomo_qemu::board::DESCRIPTION);
    scomo_qemu::run(tests![
        status_codes_round_trip_and_unknown_numbers_are_rejected,
        status_code_success_is_the_2xx_class,
        status_codes_carry_the_spec_numbers,
        scomo_results_are_standard_or_vendor_codes,
        scomo_result_codes_round_trip_and_carry_the_spec_numbers,
    ])
}
