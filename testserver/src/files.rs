//! Package files with `Range` support, OMA download descriptors, install-notify reports,
//! and the faults the server injects into downloads.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Shared;
use crate::record::Event;

/// A fault injected into the download of one package. Each fault fires deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve the package faithfully.
    None,
    /// Cut the connection after this many body bytes of the first GET (later GETs are served
    /// whole), so that the client has to resume with `Range`.
    CutOnceAfter(u64),
    /// Answer every GET with this HTTP status and no body.
    Status(u16),
    /// The descriptor announces a size one byte larger than the file.
    WrongSize,
    /// Send the body in pieces of this many bytes with a pause between them.
    Trickle {
        /// Bytes per piece.
        chunk: usize,
        /// Pause between pieces, in milliseconds.
        pause_ms: u64,
    },
}

/// A package file the server serves at `/pkg/<name>`, described at `/dd/<name>`.
#[derive(Debug, Clone)]
pub struct Package {
    /// The name in the URL.
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The media type of the bytes.
    pub content_type: String,
    /// The fault to inject.
    pub fault: Fault,
    /// How many GETs of the file were answered so far.
    pub gets: u32,
}

impl Package {
    /// A package served without faults.
    pub fn new(name: &str, bytes: Vec<u8>) -> Self {
        Self {
            name: name.to_owned(),
            bytes,
            content_type: "application/octet-stream".to_owned(),
            fault: Fault::None,
            gets: 0,
        }
    }

    /// The same package with a fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// A strong validator for the bytes (FNV-1a of the content), quoted as HTTP wants it.
    pub fn etag(&self) -> String {
        let hash = self.bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("\"{hash:016x}\"")
    }
}

/// Parses `bytes=FROM-` or `bytes=FROM-TO` (a single range; anything else is ignored).
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (from, to) = spec.split_once('-')?;
    let from = from.trim().parse().ok()?;
    let to = match to.trim() {
        "" => None,
        t => Some(t.parse().ok()?),
    };
    Some((from, to))
}

/// Serves package files on its own loopback listener, one request per connection
/// (`Connection: close`), so that a cut fault really closes the socket mid-body.
pub(crate) fn spawn_file_server(shared: Arc<Mutex<Shared>>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let _ = serve_connection(stream, &shared);
            });
        }
    });
    Ok(addr)
}

fn serve_connection(mut stream: TcpStream, shared: &Mutex<Shared>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let (path, range, if_range) = loop {
        let n = stream.read(buf.get_mut(filled..).unwrap_or_default())?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf.get(..filled).unwrap_or_default()) {
            Ok(httparse::Status::Complete(_)) => {
                let find = |name: &str| {
                    request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .map(str::to_owned)
                };
                if request.method != Some("GET") {
                    return stream.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
                break (
                    request.path.unwrap_or("").to_owned(),
                    find("Range"),
                    find("If-Range"),
                );
            }
            Ok(httparse::Status::Partial) if filled < buf.len() => continue,
            _ => {
                return stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        }
    };
    let name = path.strip_prefix("/pkg/").unwrap_or("");
    let answer = answer_package(name, range.as_deref(), if_range.as_deref(), shared);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let send = answer
        .cut_after
        .map_or(answer.body.len(), |n| n.min(answer.body.len()));
    let chunk = answer.trickle.map_or(send.max(1), |(c, _)| c.max(1));
    for piece in answer.body.get(..send).unwrap_or_default().chunks(chunk) {
        if let Some((_, pause)) = answer.trickle {
            std::thread::sleep(pause);
        }
        stream.write_all(piece)?;
    }
    stream.flush()?;
    // Dropping the stream closes the socket: after a cut the client sees a short body.
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// What to answer for one GET of a package.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    cut_after: Option<usize>,
    trickle: Option<(usize, Duration)>,
}

fn answer_package(
    name: &str,
    range: Option<&str>,
    if_range: Option<&str>,
    shared: &Mutex<Shared>,
) -> Answer {
    let mut guard = shared.lock().unwrap();
    let Shared {
        packages, record, ..
    } = &mut *guard;
    let empty = |status| Answer {
        status,
        headers: Vec::new(),
        body: Vec::new(),
        cut_after: None,
        trickle: None,
    };
    let Some(package) = packages.iter_mut().find(|p| p.name == name) else {
        return empty(404);
    };
    package.gets += 1;
    let total = package.bytes.len() as u64;
    let etag = package.etag();
    if let Fault::Status(code) = package.fault {
        record.events.push(Event::PackageGet {
            name: name.into(),
            from: 0,
            status: code,
            bytes: 0,
        });
        return empty(code);
    }
    let if_range_ok = if_range.is_none_or(|v| v == etag);
    let range = range.and_then(parse_range).filter(|_| if_range_ok);
    let (status, from, to) = match range {
        Some((from, _)) if from >= total => {
            record.events.push(Event::PackageGet {
                name: name.into(),
                from,
                status: 416,
                bytes: 0,
            });
            let mut answer = empty(416);
            answer
                .headers
                .push(("Content-Range", format!("bytes */{total}")));
            return answer;
        }
        Some((from, to)) => (206, from, to.unwrap_or(total - 1).min(total - 1)),
        None => (200, 0, total.saturating_sub(1)),
    };
    let body: Vec<u8> = package
        .bytes
        .get(from as usize..=to as usize)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let cut_after = match package.fault {
        Fault::CutOnceAfter(n) if package.gets == 1 => {
            Some(usize::try_from(n).unwrap_or(usize::MAX).min(body.len()))
        }
        _ => None,
    };
    let trickle = match package.fault {
        Fault::Trickle { chunk, pause_ms } => Some((chunk, Duration::from_millis(pause_ms))),
        _ => None,
    };
    record.events.push(Event::PackageGet {
        name: name.into(),
        from,
        status,
        bytes: cut_after.unwrap_or(body.len()) as u64,
    });
    let mut headers = vec![
        ("Content-Type", package.content_type.clone()),
        ("ETag", etag),
        ("Accept-Ranges", "bytes".to_owned()),
    ];
    if status == 206 {
        headers.push(("Content-Range", format!("bytes {from}-{to}/{total}")));
    }
    Answer {
        status,
        headers,
        body,
        cut_after,
        trickle,
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .unwrap_or_else(|()| tiny_http::Header::from_bytes(&b"X-Bad"[..], &b"1"[..]).unwrap())
}

pub(crate) fn serve_descriptor(request: tiny_http::Request, name: &str, shared: &Mutex<Shared>) {
    let mut guard = shared.lock().unwrap();
    let Some(package) = guard.packages.iter().find(|p| p.name == name) else {
        drop(guard);
        let _ = request.respond(tiny_http::Response::empty(404));
        return;
    };
    let size = package.bytes.len() + usize::from(package.fault == Fault::WrongSize);
    let host = request.headers().iter().find(|h| h.field.equiv("Host"));
    let base = format!("http://{}", host.map_or("127.0.0.1", |h| h.value.as_str()));
    let files = guard
        .files_addr
        .map_or_else(String::new, |a| format!("http://{a}"));
    let dd = format!(
        "<?xml version=\"1.0\"?>\n\
         <media xmlns=\"http://www.openmobilealliance.org/xmlns/dd\">\n\
         <type>{ty}</type>\n<size>{size}</size>\n<name>{name}</name>\n\
         <objectURI>{files}/pkg/{name}</objectURI>\n\
         <installNotifyURI>{base}/notify/{name}</installNotifyURI>\n</media>\n",
        ty = package.content_type,
    );
    guard
        .record
        .events
        .push(Event::DescriptorGet { name: name.into() });
    drop(guard);
    let response = tiny_http::Response::from_string(dd)
        .with_header(header("Content-Type", "application/vnd.oma.dd+xml"));
    let _ = request.respond(response);
}

pub(crate) fn receive_notify(mut request: tiny_http::Request, name: &str, shared: &Mutex<Shared>) {
    let mut body = String::new();
    let ok = request
        .as_reader()
        .take(4096)
        .read_to_string(&mut body)
        .is_ok();
    shared.lock().unwrap().record.events.push(Event::Notify {
        name: name.into(),
        body: body.trim().to_owned(),
    });
    let _ = request.respond(tiny_http::Response::empty(if ok { 200 } else { 400 }));
}
