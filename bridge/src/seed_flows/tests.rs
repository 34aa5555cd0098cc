use super::*;

fn lm3s() -> Profile {
    profile("lm3s6965evb").unwrap()
}

fn text(reply: Result<Reply, Fault>) -> String {
    let reply = reply.unwrap();
    assert_eq!(reply.status, 200);
    String::from_utf8(reply.body).unwrap()
}

#[test]
fn every_uart_board_has_a_profile_and_lm3s_packages_fit_its_4_kib_slots() {
    for machine in ["lm3s6965evb", "mps2-an386"] {
        let p = profile(machine).unwrap();
        assert!(p.chunk > 0 && p.pushed > 0 && p.downloaded > 0);
    }
    assert!(profile("microbit").is_none(), "no UART, no flows");
    // lm3s6965evb's package slots hold 4 KiB (a meta page and four 1 KiB pages).
    let p = lm3s();
    for size in [p.pushed, p.downloaded] {
        assert!(package("com.example.push", "1.0", size).len() <= 4096);
    }
}

#[test]
fn a_package_names_its_component_and_the_sha256_of_its_payload() {
    let bytes = package("com.example.a", "2.1", 100);
    let line_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let line = std::str::from_utf8(&bytes[..line_end]).unwrap();
    let payload = &bytes[line_end + 1..];
    assert_eq!(payload.len(), 100);
    let digest: String = Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        line,
        format!("scomo-component id=com.example.a version=2.1 name=com.example.a sha256={digest}")
    );
}

#[test]
fn the_configuration_names_the_server_the_device_its_credentials_encoding_and_scheme() {
    let mut flows = SeedFlows::start(lm3s()).unwrap();
    let config = text(flows.get_range(CONFIG_URL, 0, None, None));
    let dm_url = flows.server.dm_url();
    let lines: Vec<&str> = config.lines().collect();
    assert!(lines.contains(&format!("server={dm_url}").as_str()));
    assert!(lines.contains(&format!("device={DEVICE}").as_str()));
    assert!(lines.contains(&"encoding=wbxml"));
    assert!(lines.contains(&"auth=md5"));
    assert!(lines.contains(&"server-id=scomo-test-server"));
    assert!(lines.iter().any(|l| l.starts_with("server-password=")));
}

#[test]
fn next_queues_the_rounds_steps_and_a_round_without_its_results_fails_the_flows() {
    let mut flows = SeedFlows::start(lm3s()).unwrap();
    assert_eq!(text(flows.get_range(NEXT_URL, 0, None, None)), "session");
    assert_eq!(
        flows.server.queued(DEVICE),
        2,
        "5.4.1: the push package, then the Install"
    );
    // The device reports, but nothing reached the server: the round fails, the flows end.
    let report = "boot=1 sessions=1 fetches=0 stack=100 installed= error=none";
    let answer = flows
        .post_notify(REPORT_URL, "text/plain", report.as_bytes())
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(text(flows.get_range(NEXT_URL, 0, None, None)), "done");
    let verdict = flows.finish().unwrap_err();
    assert!(verdict.starts_with("5.4.1"), "{verdict}");
    assert!(verdict.contains("no Generic Alert [c-push]"), "{verdict}");
    assert!(verdict.contains("2 step(s) still queued"), "{verdict}");
    assert!(
        verdict.contains("expected \"com.example.push@1.0+\""),
        "{verdict}"
    );
    assert_eq!(flows.results().len(), 1);
}

#[test]
fn flows_the_device_left_unfinished_fail() {
    let flows = SeedFlows::start(lm3s()).unwrap();
    assert_eq!(
        flows.finish(),
        Err("the device stopped after 0 of 8 rounds".into())
    );
}

#[test]
fn a_report_outside_a_round_is_refused() {
    let mut flows = SeedFlows::start(lm3s()).unwrap();
    let answer = flows
        .post_notify(REPORT_URL, "text/plain", b"boot=1")
        .unwrap();
    assert_eq!(answer.status, 409);
}

fn alert(correlator: &str, source: &str, target: &str, result: u16) -> Event {
    Event::GenericAlert {
        device: DEVICE.into(),
        correlator: Some(correlator.into()),
        source: source.into(),
        target: target.into(),
        alert_type: "urn:oma:at:scomo:1.0:OperationComplete".into(),
        mark: "informational".into(),
        result: Some(result),
        identifier: None,
        data: String::new(),
    }
}

fn install_round() -> Round {
    Round::new("install", Step::Session(Vec::new()))
        .alert(
            "c-1",
            "Inventory/Delivered/P/Operations/Install",
            "Inventory/Deployed/x",
        )
        .installed("x@1+")
}

const SOURCE: &str = "./SCOMO/Inventory/Delivered/P/Operations/Install";
const TARGET: &str = "./SCOMO/Inventory/Deployed/x";
const OK_REPORT: &str = "boot=1 sessions=2 fetches=0 stack=1 installed=x@1+ error=none";

#[test]
fn a_round_passes_with_its_alert_of_result_1200_and_the_devices_components() {
    let events = [alert("c-1", SOURCE, TARGET, 1200)];
    assert_eq!(check(&install_round(), &events, OK_REPORT, 0), None);
}

#[test]
fn a_result_other_than_1200_a_wrong_source_or_an_extra_alert_fails_the_round() {
    let round = install_round();
    let failed = [alert("c-1", SOURCE, TARGET, 1405)];
    assert!(check(&round, &failed, OK_REPORT, 0).is_some());
    let elsewhere = [alert(
        "c-1",
        "./SCOMO/Download/P/Operations/Install",
        TARGET,
        1200,
    )];
    assert!(check(&round, &elsewhere, OK_REPORT, 0).is_some());
    let twice = [
        alert("c-1", SOURCE, TARGET, 1200),
        alert("c-2", SOURCE, TARGET, 1200),
    ];
    let why = check(&round, &twice, OK_REPORT, 0).unwrap();
    assert!(why.contains("2 Generic Alert(s), expected 1"), "{why}");
}

#[test]
fn a_device_error_or_other_components_fail_the_round() {
    let events = [alert("c-1", SOURCE, TARGET, 1200)];
    let round = install_round();
    let error = "boot=1 sessions=2 fetches=0 stack=1 installed=x@1+ error=run-failed";
    assert!(
        check(&round, &events, error, 0)
            .unwrap()
            .contains("run-failed")
    );
    let inactive = "boot=1 sessions=2 fetches=0 stack=1 installed=x@1- error=none";
    assert!(check(&round, &events, inactive, 0).is_some());
    assert!(check(&round, &events, "", 0).unwrap().contains("no report"));
    assert!(
        check(&round, &events, OK_REPORT, 1)
            .unwrap()
            .contains("still queued")
    );
}

#[test]
fn a_node_listing_check_wants_some_children_and_not_others() {
    let check = Check::Children(vec!["Push1"], vec!["Alt1"]);
    assert!(check.holds("Push1"));
    assert!(check.holds("Other/Push1"));
    assert!(!check.holds("Push1/Alt1"));
    assert!(!check.holds("Push10"));
    assert!(Check::Equals("20").holds("20"));
    assert!(!Check::Equals("20").holds("10"));
}
