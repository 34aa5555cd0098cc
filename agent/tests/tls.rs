//! `https://` goes through rustls with certificate checks: a server whose certificate no
//! trusted authority signed is refused (exit 4, a certificate error), and the agent never
//! sends it a DM message; a server whose authority `--ca-file` names carries a whole
//! download-and-install over TLS, DM messages and package alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use scomo_testserver::Cmd;

#[test]
fn an_untrusted_https_server_is_refused_by_the_certificate_check() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let chain = vec![cert.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut buf = [0u8; 64];
        // The client aborts the handshake: no application data ever arrives.
        tls.read(&mut buf).map(|n| n > 0).unwrap_or(false)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args([
            "session",
            "--server",
            &format!("https://localhost:{port}/dm"),
            "--state",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.to_ascii_lowercase().contains("certificate"),
        "{stderr}"
    );
    assert!(
        !server.join().unwrap(),
        "no DM message reached the untrusted server"
    );
}

/// A TLS front for the test server: serves TLS with `config` on a loopback port and hands
/// each HTTP request it receives to the plain-HTTP backend `route` picks for its path (one
/// backend connection per request, asked to close), copying the answer back. Records each
/// request line.
fn tls_front(
    config: Arc<rustls::ServerConfig>,
    route: impl Fn(&str) -> std::net::SocketAddr + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, route) = (seen.clone(), Arc::new(route));
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let (config, log, route) = (config.clone(), log.clone(), route.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                while let Some((line, head, body)) = read_request(&mut tls) {
                    log.lock().unwrap().push(line.clone());
                    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                    let mut up = TcpStream::connect(route(&path)).unwrap();
                    up.write_all(format!("{line}\r\nConnection: close\r\n{head}\r\n").as_bytes())
                        .unwrap();
                    up.write_all(&body).unwrap();
                    let mut answer = Vec::new();
                    up.read_to_end(&mut answer).unwrap();
                    if tls.write_all(&answer).and_then(|()| tls.flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// One HTTP request: its request line, its other header lines (without `Connection`), its
/// body (`Content-Length` bytes). `None` at the end of the connection.
fn read_request(r: &mut impl Read) -> Option<(String, String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte).ok()? == 0 {
            return None;
        }
        raw.push(byte[0]);
    }
    let text = String::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let line = lines.next()?.to_owned();
    let mut head = String::new();
    let mut len = 0;
    for l in lines {
        let (name, value) = l.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse().ok()?;
        }
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(l);
            head.push_str("\r\n");
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((line, head, body))
}

fn addr_of(url: &str) -> std::net::SocketAddr {
    let rest = url.trim_start_matches("http://");
    rest.split('/').next().unwrap().parse().unwrap()
}

#[test]
fn a_server_under_a_private_authority_given_by_ca_file_serves_a_download_install_over_https() {
    // A private authority and a server certificate it signed for "localhost".
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();

    let server = scomo_testserver::Server::start().unwrap();
    server.add_package(scomo_testserver::Package::new("tls", package(3000)));
    let (dm, files) = (addr_of(&server.url()), addr_of(&server.package_url("tls")));
    let (port, seen) = tls_front(Arc::new(config), move |path| {
        if path.starts_with("/pkg/") { files } else { dm }
    });
    let d = "./SCOMO/Download/T1";
    server.queue(
        DEV,
        vec![
            Cmd::add_node(d),
            Cmd::add(&format!("{d}/PkgID"), "pkg-tls"),
            Cmd::add(
                &format!("{d}/PkgURL"),
                &format!("https://localhost:{port}/pkg/tls"),
            ),
            Cmd::exec(&format!("{d}/Operations/DownloadInstall"), Some("c-tls")),
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scomo-agent"))
        .args([
            "session",
            "--server",
            &format!("https://localhost:{port}/dm"),
        ])
        .args(["--dev-id", DEV, "--retry-delay-ms", "20", "--ca-file"])
        .arg(&ca_file)
        .arg("--state")
        .arg(dir.path().join("device"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let alerts = server.record().generic_alerts();
    assert!(
        alerts
            .iter()
            .any(|(c, _, _, r, _)| c.as_deref() == Some("c-tls") && *r == Some(1200)),
        "{alerts:?}"
    );
    // Every DM message and the package went through TLS: the server's RespURI (http) was
    // not followed, and nothing reached the server except through the front.
    let seen = seen.lock().unwrap().clone();
    let posts = seen.iter().filter(|l| l.starts_with("POST /dm")).count();
    assert_eq!(posts, server.record().dm_messages_in(), "{seen:?}");
    assert!(posts >= 2, "{seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("GET /pkg/tls")),
        "{seen:?}"
    );
}

/// A package whose manifest names component `com.example.tls` 1.0.
fn package(size: usize) -> Vec<u8> {
    let mut bytes = b"scomo-component id=com.example.tls version=1.0 name=tls\n".to_vec();
    bytes.extend((0..size).map(|i| (i * 7 % 251) as u8));
    bytes
}

const DEV: &str = "IMEI:356938035643809";
