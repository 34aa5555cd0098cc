//! On-target tests of the core's text parsers: management-tree URIs (digest: status 400,
//! 406, 414 rules), OMA download descriptors and install-notify reports (digest 9.2, 9.3),
//! and HTTP ranges for resumed downloads, on the board's CPU.
#![no_std]
#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo::codes::{ResultCode, StatusCode};
use scomo::ops::dd::{DdError, Descriptor, Field, InstallStatus};
use scomo::ops::range::{ContentRange, Resume, resume, write_range};
use scomo::tree::{Property, Query, Uri, UriLimits};
use scomo_qemu::{Outcome, ensure, ensure_eq, println, tests};

fn uri_relative_and_dot_forms_name_the_same_node() -> Outcome {
    ensure_eq!(Uri::parse("./A/B"), Uri::parse("A/B"));
    ensure_eq!(Uri::parse("."), Ok(Uri::ROOT));
    let uri = Uri::parse("./SCOMO/Download?prop=ACL").unwrap();
    ensure_eq!(uri.path(), "SCOMO/Download");
    ensure_eq!(uri.query(), Some(Query::Prop(Property::Acl)));
    ensure_eq!(uri.segments().count(), 2);
    ensure_eq!(uri.parent().map(|p| p.path()), Some("SCOMO"));
    ensure!(uri.is_within(&Uri::parse("SCOMO").unwrap()));
    ensure!(
        !Uri::parse("A/BC")
            .unwrap()
            .is_within(&Uri::parse("A/B").unwrap())
    );
    Ok(())
}

fn uri_malformed_is_400_unknown_property_406_over_limits_414() -> Outcome {
    for bad in ["", "./", "/A", "A/", "A//B", "./A/./B", "A/../B", "A?x=y"] {
        ensure_eq!(Uri::parse(bad), Err(StatusCode::BadRequest));
    }
    ensure_eq!(
        Uri::parse("./A?prop=Colour"),
        Err(StatusCode::OptionalFeatureNotSupported)
    );
    let limits = UriLimits {
        max_depth: 2,
        max_tot_len: 12,
        max_seg_len: 3,
    };
    ensure!(Uri::parse_limited("./A/B", &limits).is_ok());
    ensure_eq!(
        Uri::parse_limited("./A/B/C", &limits),
        Err(StatusCode::UriTooLong)
    );
    ensure_eq!(
        Uri::parse_limited("./ABCD", &limits),
        Err(StatusCode::UriTooLong)
    );
    Ok(())
}

const DESCRIPTOR: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<media xmlns="http://www.openmobilealliance.org/xmlns/dd">
  <DDVersion>1.0</DDVersion>
  <name>Example &amp; Co. navigation</name>
  <size> 1048576 </size>
  <type>application/vnd.example.pkg</type>
  <type>application/octet-stream</type>
  <objectURI>http://dl.example.com/get?id=7&amp;v=2</objectURI>
  <installNotifyURI>http://dl.example.com/notify?id=7</installNotifyURI>
</media>
"#;

fn download_descriptor_fields_are_read_in_place() -> Outcome {
    let dd = Descriptor::parse(DESCRIPTOR.as_bytes()).unwrap();
    ensure_eq!(dd.size, 1_048_576);
    let mut out = [0u8; 64];
    ensure_eq!(
        dd.object_uri.unescape(&mut out),
        Ok("http://dl.example.com/get?id=7&v=2")
    );
    ensure_eq!(
        dd.primary_type().map(|t| t.raw()),
        Some("application/vnd.example.pkg")
    );
    ensure_eq!(dd.types.len(), 2);
    ensure_eq!(
        dd.install_notify_uri.and_then(|t| t.as_plain()),
        Some("http://dl.example.com/notify?id=7")
    );
    Ok(())
}

fn download_descriptor_without_object_uri_is_906() -> Outcome {
    let err = Descriptor::parse(b"<media><type>a/b</type><size>1</size></media>").unwrap_err();
    ensure_eq!(err, DdError::Missing(Field::ObjectUri));
    ensure_eq!(err.install_status().code(), 906);
    Ok(())
}

fn install_notify_reports_round_trip_and_map_to_scomo_results() -> Outcome {
    let mut out = [0u8; InstallStatus::MAX_REPORT_LEN];
    ensure_eq!(
        InstallStatus::Success.write_report(&mut out),
        Ok("900 Success")
    );
    for &status in InstallStatus::ALL {
        let body = status.write_report(&mut out).unwrap();
        ensure_eq!(InstallStatus::from_report(body), Some(status));
        ensure_eq!(
            status.result() == ResultCode::Successful,
            status == InstallStatus::Success
        );
    }
    Ok(())
}

fn ranges_resume_restart_or_complete_by_status_and_content_range() -> Outcome {
    let mut out = [0u8; 32];
    ensure_eq!(write_range(4096, &mut out), Ok("bytes=4096-"));
    ensure_eq!(
        ContentRange::parse("bytes 100-199/1000"),
        Ok(ContentRange::Bytes {
            first: 100,
            last: 199,
            complete_length: Some(1000)
        })
    );
    ensure_eq!(
        resume(100, 206, Some("bytes 100-199/1000")),
        Ok(Resume::Continue {
            complete_length: Some(1000)
        })
    );
    ensure_eq!(resume(100, 200, None), Ok(Resume::Restart));
    ensure!(resume(100, 206, None).is_err());
    ensure!(resume(100, 206, Some("bytes 0-99/1000")).is_err());
    Ok(())
}

#[cortex_m_rt::entry]
fn main() -> ! {
    println!("scomo parsers on {}", scomo_qemu::board::DESCRIPTION);
    scomo_qemu::run(tests![
        uri_relative_and_dot_forms_name_the_same_node,
        uri_malformed_is_400_unknown_property_406_over_limits_414,
        download_descriptor_fields_are_read_in_place,
        download_descriptor_without_object_uri_is_906,
        install_notify_reports_round_trip_and_map_to_scomo_results,
        ranges_resume_restart_or_complete_by_status_and_content_range,
    ])
}
