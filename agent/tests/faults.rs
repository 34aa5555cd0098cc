//! The agent binary under faults and bad input: its command-line contract and exit codes,
//! resumed downloads, server errors, a wrong digest, a server that never acknowledges, a
//! rejected Package #0, garbage, an unreachable server, a locked state directory, and a
//! crash at every journal step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(dead_code)] // the shared module also serves the flow tests and the demo
mod common {
    pub mod flows;
}

use std::path::Path;
use std::process::{Command, Output};

use common::flows::{DEV, package};
use scomo_testserver::{ClientAuth, Cmd, DmConfig, DmFault, Event, Fault, Package, Server};

const S: &str = "./SCOMO";

fn agent(server: &Server, state: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scomo-agent"));
    cmd.args(["session", "--server", &server.dm_url(), "--state"])
        .arg(state)
        .args(["--dev-id", DEV, "--retry-delay-ms", "10"])
        .args(extra);
    cmd.output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn inventory(state: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args(["inventory", "--state"])
        .arg(state)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn download_install(server: &Server, name: &str, url: &str, corr: &str) {
    server.queue(
        DEV,
        vec![
            Cmd::add_node(&format!("{S}/Download/{name}")),
            Cmd::add(
                &format!("{S}/Download/{name}/PkgID"),
                &format!("pkg-{name}"),
            ),
            Cmd::add(&format!("{S}/Download/{name}/PkgURL"), url),
            Cmd::exec(
                &format!("{S}/Download/{name}/Operations/DownloadInstall"),
                Some(corr),
            ),
        ],
    );
}

/// How many package GETs the server answered.
fn package_gets(server: &Server) -> usize {
    server
        .record()
        .events
        .iter()
        .filter(|e| matches!(e, Event::PackageGet { .. }))
        .count()
}

fn results_for(server: &Server, corr: &str) -> Vec<u16> {
    server
        .record()
        .generic_alerts()
        .into_iter()
        .filter(|a| a.0.as_deref() == Some(corr))
        .filter_map(|a| a.3)
        .collect()
}

#[test]
fn a_download_cut_midway_resumes_with_range_and_fetches_no_byte_twice() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = package("com.example.big", "1.0", 300_000);
    let size = pkg.len() as u64;
    server.add_package(Package::new("big", pkg).with_fault(Fault::CutOnceAfter(100_000)));
    download_install(&server, "Big", &server.package_url("big"), "c-big");
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results_for(&server, "c-big"), vec![1200]);
    let gets: Vec<(u64, u16)> = server
        .record()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PackageGet { from, status, .. } => Some((*from, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        gets,
        vec![(0, 200), (100_000, 206)],
        "resumed at the cut with Range"
    );
    assert_eq!(
        server.record().package_bytes_sent("big"),
        size,
        "no byte fetched twice"
    );
    assert!(inventory(dir.path()).contains(r#""id":"com.example.big""#));
}

#[test]
fn a_package_that_trickles_in_small_pieces_is_fetched_once_and_installed() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = package("com.example.slow", "1.0", 24_000);
    let size = pkg.len() as u64;
    server.add_package(Package::new("slow", pkg).with_fault(Fault::Trickle {
        chunk: 700,
        pause_ms: 3,
    }));
    download_install(&server, "Slow", &server.package_url("slow"), "c-slow");
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results_for(&server, "c-slow"), vec![1200]);
    let gets = package_gets(&server);
    assert_eq!(gets, 1, "one GET: a slow body is not a broken one");
    assert_eq!(server.record().package_bytes_sent("slow"), size);
    assert!(inventory(dir.path()).contains(r#""id":"com.example.slow""#));
}

#[test]
fn a_download_shows_a_progress_bar_on_a_terminal_and_none_otherwise() {
    let server = Server::start().unwrap();
    let pkg = package("com.example.bar", "1.0", 200_000);
    let len = pkg.len();
    let trickle = Fault::Trickle {
        chunk: 20_000,
        pause_ms: 40,
    };
    server.add_package(Package::new("bar", pkg).with_fault(trickle));
    // On a terminal (a pseudo-terminal made by `script`): the bar counts to the length.
    let dir = tempfile::tempdir().unwrap();
    download_install(&server, "Bar", &server.package_url("bar"), "c-bar");
    let command = format!(
        "{} session --server {} --state {} --dev-id {DEV} --retry-delay-ms 10",
        env!("CARGO_BIN_EXE_scomo-agent"),
        server.dm_url(),
        dir.path().join("tty").display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{terminal}");
    assert!(terminal.contains(&format!("/{len}")), "{terminal}");
    // Not on a terminal: no bar.
    download_install(&server, "Bar", &server.package_url("bar"), "c-bar2");
    let out = agent(&server, &dir.path().join("pipe"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains(&format!("/{len}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(results_for(&server, "c-bar"), vec![1200]);
    assert_eq!(results_for(&server, "c-bar2"), vec![1200]);
}

#[test]
fn a_server_error_is_retried_then_reported_as_1500() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.add_package(Package::new("err", package("x", "1", 10)).with_fault(Fault::Status(500)));
    download_install(&server, "Err", &server.package_url("err"), "c-err");
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(
        code(&out),
        0,
        "a reported failure is success for the agent: {}",
        stderr(&out)
    );
    assert_eq!(results_for(&server, "c-err"), vec![1500]);
    let gets = package_gets(&server);
    assert!(gets > 1, "retried before giving up: {gets}");
}

#[test]
fn a_missing_package_is_1402_and_a_wrong_digest_is_1407_with_nothing_installed() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bad = b"scomo-component id=com.example.bad version=1 sha256=0000000000000000000000000000000000000000000000000000000000000000\n".to_vec();
    bad.extend_from_slice(b"payload");
    server.add_package(Package::new("bad", bad));
    download_install(&server, "Bad", &server.package_url("bad"), "c-bad");
    download_install(
        &server,
        "Gone",
        &server.package_url("nothing-here"),
        "c-gone",
    );
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(results_for(&server, "c-bad"), vec![1407]);
    assert_eq!(results_for(&server, "c-gone"), vec![1402]);
    let inv = inventory(dir.path());
    assert!(!inv.contains("com.example.bad"), "{inv}");
    assert!(!dir.path().join("installed/com.example.bad").exists());
}

#[test]
fn a_server_that_never_acknowledges_leaves_the_result_queued_exit_5_then_it_is_reported_again() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.set_dm_fault(DmFault::NeverAckAlerts);
    server.add_package(Package::new("p", package("com.example.p", "1", 100)));
    download_install(&server, "P", &server.package_url("p"), "c-p");
    let out = agent(&server, dir.path(), &["--max-sessions", "3"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("still queued"), "{}", stderr(&out));
    let sent = results_for(&server, "c-p").len();
    assert!(sent >= 2, "reported in each report session: {sent}");
    server.set_dm_fault(DmFault::None);
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        results_for(&server, "c-p").len(),
        sent + 1,
        "reported again until acknowledged"
    );
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        results_for(&server, "c-p").len(),
        sent + 1,
        "never after the acknowledgement"
    );
}

#[test]
fn package0_wrong_digest_or_repeated_exits_3_without_contacting_the_server() {
    let config = DmConfig {
        server_password: Some("srv-pass".into()),
        ..DmConfig::default()
    };
    let server = Server::start_with(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pkg0");
    std::fs::write(&file, server.package0(DEV, 0x1234).unwrap()).unwrap();
    let state = dir.path().join("state");
    let creds = [
        "--server-id",
        "scomo-test-server",
        "--notification",
        file.to_str().unwrap(),
    ];
    let out = agent(
        &server,
        &state,
        &[&creds[..], &["--server-password", "wrong"]].concat(),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("notification rejected"),
        "{}",
        stderr(&out)
    );
    let out = agent(&server, &state, &creds);
    assert_eq!(code(&out), 3, "no server password: {}", stderr(&out));
    assert_eq!(
        server.record().dm_messages_in(),
        0,
        "the server is never contacted"
    );
    let good = [&creds[..], &["--server-password", "srv-pass"]].concat();
    let out = agent(&server, &state, &good);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.record().dm_messages_in(), 1);
    let out = agent(&server, &state, &good);
    assert_eq!(
        code(&out),
        3,
        "a repeated session id starts no second session: {}",
        stderr(&out)
    );
    assert_eq!(server.record().dm_messages_in(), 1);
}

#[test]
fn garbage_or_no_server_exits_4_and_a_locked_state_exits_7() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.set_dm_fault(DmFault::Garbage);
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    server.set_dm_fault(DmFault::WrongContentType);
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "one error line: {}",
        stderr(&out)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args([
            "session",
            "--server",
            &format!("http://{closed}/dm"),
            "--state",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        inventory(dir.path()).starts_with(r#"{"delivered":[]"#),
        "state still readable"
    );
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join("lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args(["session", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}

#[test]
fn help_documents_every_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args(["session", "--help"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--server",
        "--state",
        "--dev-id",
        "--encoding",
        "--notification",
        "--request",
        "--client-user",
        "--client-password",
        "--client-password-file",
        "--auth",
        "--server-id",
        "--server-password",
        "--server-password-file",
        "--installer",
        "--max-sessions",
        "--retry-delay-ms",
        "--ca-file",
    ] {
        assert!(help.contains(opt), "session --help lacks {opt}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("session") && help.contains("inventory"));
}

#[test]
fn md5_credentials_refused_exit_6() {
    let config = DmConfig {
        client_auth: ClientAuth::Required {
            scheme: scomo::dm::auth::AuthScheme::Md5,
            user: "u".into(),
            password: "right".into(),
        },
        ..DmConfig::default()
    };
    let server = Server::start_with(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = agent(
        &server,
        dir.path(),
        &["--client-user", "u", "--client-password", "wrong"],
    );
    assert_eq!(code(&out), 6, "{}", stderr(&out));
}

#[test]
fn a_crash_at_every_journal_step_finishes_the_job_and_reports_it_until_acknowledged() {
    // A clean run counts the state-record writes of the flow.
    let mut step = 1;
    loop {
        let server = Server::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        server.add_package(Package::new("p", package("com.example.crash", "1", 5000)));
        download_install(&server, "P", &server.package_url("p"), "c-crash");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scomo-agent"));
        cmd.args(["session", "--server", &server.dm_url(), "--state"])
            .arg(dir.path())
            .args(["--dev-id", DEV, "--retry-delay-ms", "10"])
            .env(scomo_agent::store::CRASH_AFTER_WRITES, step.to_string());
        let crashed = cmd.output().unwrap();
        let finished = crashed.status.success();
        // Restart without the crash point until nothing is pending.
        let out = agent(&server, dir.path(), &[]);
        assert_eq!(
            code(&out),
            0,
            "after a crash at write {step}: {}",
            stderr(&out)
        );
        let reports = results_for(&server, "c-crash");
        let inv = inventory(dir.path());
        if reports.is_empty() {
            // The crash came before the server's Exec was acknowledged: the server still
            // holds the job (it re-sends on its side) and nothing was installed.
            assert!(
                !inv.contains("com.example.crash") || inv.contains(r#""state":20"#),
                "{inv}"
            );
        } else {
            assert!(
                reports.iter().all(|&r| r == 1200),
                "crash at {step}: {reports:?}"
            );
            assert!(
                inv.contains(r#""id":"com.example.crash""#),
                "crash at {step}: {inv}"
            );
        }
        // Never after the acknowledgement.
        let before = reports.len();
        let out = agent(&server, dir.path(), &[]);
        assert_eq!(code(&out), 0);
        assert_eq!(
            results_for(&server, "c-crash").len(),
            before,
            "crash at {step}: reported after its acknowledgement"
        );
        if finished {
            assert!(step > 3, "the flow writes several journal records");
            break;
        }
        step += 1;
        assert!(step < 100, "the flow never completed");
    }
}

#[test]
fn bad_urls_a_short_download_and_an_unusable_state_directory_are_reported() {
    let server = Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.add_package(
        Package::new("short", package("com.example.short", "1", 500)).with_fault(Fault::WrongSize),
    );
    download_install(&server, "Url", "not a url", "c-url");
    download_install(&server, "Short", &server.descriptor_url("short"), "c-short");
    let out = agent(&server, dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let url = results_for(&server, "c-url");
    assert!(
        url == vec![1402] || url == vec![1501],
        "a PkgURL that is not a URL fails the download: {url:?}"
    );
    assert_eq!(
        results_for(&server, "c-short"),
        vec![1402],
        "a download whose size differs from its descriptor"
    );
    assert!(!inventory(dir.path()).contains("com.example.short"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = agent(&server, &file, &[]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
}

#[test]
fn the_device_id_is_generated_once_and_kept_and_secrets_come_from_files_or_the_environment() {
    let config = DmConfig {
        client_auth: ClientAuth::Required {
            scheme: scomo::dm::auth::AuthScheme::Md5,
            user: "u".into(),
            password: "from-file".into(),
        },
        ..DmConfig::default()
    };
    let server = Server::start_with(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "from-file\n").unwrap();
    let run = |env: Option<&str>, file: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scomo-agent"));
        cmd.args(["session", "--server", &server.dm_url(), "--state"])
            .arg(dir.path().join("s"))
            .args(["--client-user", "u"]);
        if file {
            cmd.arg("--client-password-file").arg(&pw);
        }
        if let Some(v) = env {
            cmd.env("SCOMO_CLIENT_PASSWORD", v);
        }
        cmd.output().unwrap()
    };
    assert_eq!(code(&run(None, true)), 0);
    assert_eq!(code(&run(Some("from-file"), false)), 0);
    assert_eq!(code(&run(Some("wrong"), false)), 6);
    let ids: Vec<String> = server
        .record()
        .events
        .iter()
        .filter_map(|e| match e {
            Event::DevInfo { uri, value, .. } if uri == "./DevInfo/DevId" => Some(value.clone()),
            _ => None,
        })
        .collect();
    assert!(
        ids.len() >= 2 && ids.iter().all(|i| i == &ids[0]),
        "one id kept across runs: {ids:?}"
    );
    assert!(ids[0].starts_with("urn:uuid:"), "{ids:?}");
}
