//! The package file server over real HTTP: ranges, validators, faults, notifications.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use scomo_testserver::{Event, Fault, Package, Server};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn get(url: &str, range: Option<&str>) -> Result<(u16, Vec<u8>, Option<String>), ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let mut resp = req.call()?;
    let status = resp.status().as_u16();
    let cr = resp
        .headers()
        .get("Content-Range")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.body_mut().read_to_vec()?;
    Ok((status, body, cr))
}

#[test]
fn whole_file_and_ranges_are_served_with_content_range() {
    let server = Server::start().unwrap();
    let data = bytes(10_000);
    server.add_package(Package::new("p", data.clone()));
    let (status, body, _) = get(&server.package_url("p"), None).unwrap();
    assert_eq!((status, body.len()), (200, 10_000));
    assert_eq!(body, data);
    let (status, body, cr) = get(&server.package_url("p"), Some("bytes=4096-")).unwrap();
    assert_eq!(status, 206);
    assert_eq!(body, data[4096..]);
    assert_eq!(cr.as_deref(), Some("bytes 4096-9999/10000"));
    let (status, _, cr) = get(&server.package_url("p"), Some("bytes=20000-")).unwrap();
    assert_eq!((status, cr.as_deref()), (416, Some("bytes */10000")));
    assert_eq!(server.record().package_bytes_sent("p"), 10_000 + 5904);
}

#[test]
fn a_cut_fault_breaks_the_first_transfer_and_a_range_resumes_it() {
    let server = Server::start().unwrap();
    let data = bytes(50_000);
    server.add_package(Package::new("p", data.clone()).with_fault(Fault::CutOnceAfter(8192)));
    let first = get(&server.package_url("p"), None);
    assert!(
        first.is_err(),
        "the first GET must be cut: {:?}",
        first.map(|(s, b, _)| (s, b.len()))
    );
    let (status, body, _) = get(&server.package_url("p"), Some("bytes=8192-")).unwrap();
    assert_eq!(status, 206);
    assert_eq!(body, data[8192..]);
}

#[test]
fn status_fault_descriptor_and_notify_are_recorded() {
    let server = Server::start().unwrap();
    server.add_package(Package::new("bad", bytes(10)).with_fault(Fault::Status(500)));
    server.add_package(Package::new("ok", bytes(10)).with_fault(Fault::WrongSize));
    let (status, _, _) = get(&server.package_url("bad"), None).unwrap();
    assert_eq!(status, 500);
    let (status, dd, _) = get(&format!("{}/dd/ok", server.url()), None).unwrap();
    assert_eq!(status, 200);
    let dd = String::from_utf8(dd).unwrap();
    assert!(dd.contains("<size>11</size>"), "{dd}");
    assert!(
        dd.contains(&format!(
            "<objectURI>{}</objectURI>",
            server.package_url("ok")
        )),
        "{dd}"
    );
    ureq::post(&format!("{}/notify/ok", server.url()))
        .send("900 Success")
        .unwrap();
    let record = server.record();
    assert_eq!(record.notifications("ok"), vec!["900 Success".to_owned()]);
    assert!(
        record
            .events
            .contains(&Event::DescriptorGet { name: "ok".into() })
    );
    let (status, _, _) = get(&format!("{}/nothing/here", server.url()), None).unwrap();
    assert_eq!(status, 404);
}
