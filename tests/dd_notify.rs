#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The install-notify status report (digest 9.3).
use scomo::codes::ResultCode;
use scomo::ops::dd::{DdError, InstallStatus};

#[test]
fn the_table_has_the_ten_codes_of_the_digest_with_their_texts() {
    let rows: Vec<_> = InstallStatus::ALL
        .iter()
        .map(|s| (s.code(), s.text()))
        .collect();
    assert_eq!(
        rows,
        [
            (900, "Success"),
            (901, "Insufficient memory"),
            (902, "User Cancelled"),
            (903, "Loss of Service"),
            (905, "Attribute mismatch"),
            (906, "Invalid descriptor"),
            (951, "Invalid DDVersion"),
            (952, "Device Aborted"),
            (953, "Non-Acceptable Content"),
            (954, "Loader Error"),
        ]
    );
    for &s in InstallStatus::ALL {
        assert_eq!(InstallStatus::from_code(s.code()), Some(s));
    }
    assert_eq!(InstallStatus::from_code(904), None);
}

#[test]
fn the_report_body_is_code_space_text() {
    let mut out = [0u8; 32];
    assert_eq!(
        InstallStatus::Success.write_report(&mut out),
        Ok("900 Success")
    );
    assert_eq!(
        InstallStatus::AttributeMismatch.write_report(&mut out),
        Ok("905 Attribute mismatch")
    );
    assert_eq!(
        InstallStatus::MAX_REPORT_LEN,
        "953 Non-Acceptable Content".len()
    );
    for &s in InstallStatus::ALL {
        let body = s.write_report(&mut out).unwrap().to_owned();
        assert_eq!(body, format!("{} {}", s.code(), s.text()));
        assert!(body.len() <= InstallStatus::MAX_REPORT_LEN);
        assert_eq!(InstallStatus::from_report(&body), Some(s));
        let mut short = vec![0u8; body.len() - 1];
        assert_eq!(s.write_report(&mut short), Err(DdError::BufferTooSmall));
    }
}

#[test]
fn reports_from_other_clients_parse_by_their_code() {
    assert_eq!(
        InstallStatus::from_report("900 Success \n\r"),
        Some(InstallStatus::Success)
    );
    assert_eq!(
        InstallStatus::from_report("906"),
        Some(InstallStatus::InvalidDescriptor)
    );
    for bad in [
        "",
        "90",
        "9000 Success",
        "abc",
        "904 Unknown",
        "900Success",
        "é00 x",
    ] {
        assert_eq!(InstallStatus::from_report(bad), None, "{bad}");
    }
}

#[test]
fn statuses_map_to_scomo_results() {
    assert_eq!(InstallStatus::Success.result(), ResultCode::Successful);
    assert_eq!(
        InstallStatus::InsufficientMemory.result(),
        ResultCode::DownloadOutOfMemory
    );
    assert_eq!(
        InstallStatus::UserCancelled.result(),
        ResultCode::UserCancelled
    );
    assert_eq!(
        InstallStatus::InvalidDescriptor.result(),
        ResultCode::DownloadFailed
    );
    assert_eq!(
        InstallStatus::LoaderError.result(),
        ResultCode::DownloadServerError
    );
    for &s in InstallStatus::ALL {
        assert_eq!(s.result().code() == 1200, s == InstallStatus::Success);
    }
}
