//! `scomo-agent session` and `scomo-agent inventory`: the agent's two commands, as library
//! functions (the binary, the demo and the tests call them).

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use scomo::client::{Client, ClientConfig};
use scomo::dm::auth::{Account, AuthScheme};
use scomo::dm::codec::Encoding;
use scomo::dm::session::{self, AbortReason, End, ServerAuth};
use scomo::drivers::{Buffers, RunError, RunStats, Stop, run};
use scomo::mo::inventory::Inventory;
use scomo::mo::{DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion, Scomo};
use scomo::ops::Platform;
use scomo::platform::{Rng, RngErrorKind};
use scomo::tree::Tree;

use crate::cli::{AuthArg, EncodingArg, InventoryArgs, SessionArgs};
use crate::http::Http;
use crate::installer::CommandInstaller;
use crate::store::{FileComponentStore, FileStateStore};

/// Exit: every session ended normally and nothing is queued.
pub const EXIT_OK: u8 = 0;
/// Exit: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit: the notification was rejected; the server was not contacted.
pub const EXIT_NOTIFICATION: u8 = 3;
/// Exit: the server is unreachable, or the transport failed.
pub const EXIT_UNREACHABLE: u8 = 4;
/// Exit: results still queued after `--max-sessions`.
pub const EXIT_QUEUED: u8 = 5;
/// Exit: authentication failed.
pub const EXIT_AUTH: u8 = 6;
/// Exit: the state directory is unusable or locked.
pub const EXIT_STATE: u8 = 7;

/// How a command ended: the exit code and the one error line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The process exit code.
    pub code: u8,
    /// The error line (none on success).
    pub error: Option<String>,
}

impl Outcome {
    fn ok() -> Self {
        Self {
            code: EXIT_OK,
            error: None,
        }
    }

    fn fail(code: u8, error: impl Into<String>) -> Self {
        Self {
            code,
            error: Some(error.into()),
        }
    }
}

/// The tree's capacities in the agent.
pub type AgentClient<'c> = Client<'c, 8, 8, 16, 512, 8, 8, 8>;

/// Random bytes from the operating system.
#[derive(Debug, Default)]
pub struct OsRng;

impl Rng for OsRng {
    type Error = RngErrorKind;

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RngErrorKind> {
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(buf))
            .map_err(|_| RngErrorKind::Unavailable)
    }
}

/// The locked state directory.
struct StateDir {
    _lock: File,
}

fn open_state(dir: &Path) -> Result<StateDir, Outcome> {
    let unusable = |e: std::io::Error| {
        Outcome::fail(
            EXIT_STATE,
            format!("state directory {} is unusable: {e}", dir.display()),
        )
    };
    fs::create_dir_all(dir).map_err(unusable)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(unusable)?;
    match lock.try_lock() {
        Ok(()) => Ok(StateDir { _lock: lock }),
        Err(_) => Err(Outcome::fail(
            EXIT_STATE,
            format!(
                "state directory {} is locked by another agent",
                dir.display()
            ),
        )),
    }
}

/// The device id: the flag, else the one kept in the state directory, else a new one.
fn device_id(dir: &Path, flag: Option<&str>) -> Result<String, Outcome> {
    if let Some(id) = flag {
        return Ok(id.to_owned());
    }
    let path = dir.join("dev-id");
    if let Ok(id) = fs::read_to_string(&path) {
        return Ok(id.trim().to_owned());
    }
    let mut b = [0u8; 16];
    OsRng
        .fill(&mut b)
        .map_err(|_| Outcome::fail(EXIT_STATE, "no random source"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let id = format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    crate::store::replace_file(&path, id.as_bytes())
        .map_err(|e| Outcome::fail(EXIT_STATE, format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

/// The tree the agent provisions: DevInfo, DevDetail (large objects on), one DM account
/// and the SCOMO object at `./SCOMO`, open to the server.
pub fn provisioned_tree(dev_id: &str, server_id: &str) -> Result<Tree<8, 8, 16, 512>, String> {
    let mut info = DevInfo::new();
    for (leaf, value) in [
        (DevInfoLeaf::DevId, dev_id),
        (DevInfoLeaf::Man, "scomo"),
        (DevInfoLeaf::Mod, "scomo-agent"),
        (
            DevInfoLeaf::DmV,
            concat!("scomo-agent ", env!("CARGO_PKG_VERSION")),
        ),
        (DevInfoLeaf::Lang, "en"),
    ] {
        info.set(leaf, value)
            .map_err(|c| format!("DevInfo value refused ({c:?}): {value}"))?;
    }
    let mut detail = DevDetail::new();
    detail.set_large_objects(true);
    let mut acc = DmAcc::new("dm").map_err(|c| format!("{c:?}"))?;
    acc.set(DmAccLeaf::ServerId, server_id)
        .map_err(|c| format!("server id refused ({c:?})"))?;
    let mut tree = Tree::new(info, detail, acc, Scomo::new(MoVersion::V1_0), "./SCOMO")
        .map_err(|c| format!("{c:?}"))?;
    tree.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=*")
        .map_err(|c| format!("{c:?}"))?;
    Ok(tree)
}

/// Message buffers: the device advertises the receive buffer's size as `MaxMsgSize`.
const MSG_BUF: usize = 64 * 1024;
/// The largest package the file store takes.
const MAX_PACKAGE: u64 = 1 << 30;

/// Runs `scomo-agent session`.
pub fn session(args: &SessionArgs) -> Outcome {
    let client_pw = match args.client_password() {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => return Outcome::fail(EXIT_USAGE, e),
    };
    let server_pw = match args.server_password() {
        Ok(p) => p,
        Err(e) => return Outcome::fail(EXIT_USAGE, e),
    };
    let notification = match &args.notification {
        None => None,
        Some(path) => match fs::read(path) {
            Ok(b) => Some(b),
            Err(e) => {
                return Outcome::fail(EXIT_USAGE, format!("cannot read {}: {e}", path.display()));
            }
        },
    };
    if notification.is_some() && (server_pw.is_none() || args.server_id.is_none()) {
        return Outcome::fail(
            EXIT_NOTIFICATION,
            "notification rejected: it needs --server-id and the server password to be checked",
        );
    }
    let _lock = match open_state(&args.state) {
        Ok(l) => l,
        Err(o) => return o,
    };
    let dev_id = match device_id(&args.state, args.dev_id.as_deref()) {
        Ok(id) => id,
        Err(o) => return o,
    };
    let server_id = args
        .server_id
        .clone()
        .unwrap_or_else(|| "scomo-server".to_owned());
    let client_user = args.client_user.clone().unwrap_or_else(|| dev_id.clone());
    let scheme = match args.auth {
        AuthArg::Basic => AuthScheme::Basic,
        AuthArg::Md5 => AuthScheme::Md5,
        AuthArg::Hmac => AuthScheme::Hmac,
    };
    let encoding = match args.encoding {
        EncodingArg::Xml => Encoding::Xml,
        EncodingArg::Wbxml => Encoding::Wbxml,
    };
    let server_auth = server_pw.as_deref().map(|pw| ServerAuth {
        account: Account {
            name: &server_id,
            password: pw.as_bytes(),
        },
        scheme: if scheme == AuthScheme::Hmac {
            AuthScheme::Hmac
        } else {
            AuthScheme::Md5
        },
    });
    let session_config = session::Config {
        server_uri: &args.server,
        device_id: &dev_id,
        encoding,
        client: Account {
            name: &client_user,
            password: client_pw.as_bytes(),
        },
        server: server_auth,
        server_id: &server_id,
        max_msg_size: MSG_BUF as u32,
        max_obj_size: u32::try_from(MAX_PACKAGE).unwrap_or(u32::MAX),
    };
    let mut config = ClientConfig::new(session_config, scheme);
    config.executor.retry_ms = args.retry_delay_ms.max(1);
    config.executor.report_retry_ms = args.retry_delay_ms.max(1);

    let mut http = match &args.ca_file {
        None => Http::new(),
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| Http::with_roots_pem(&pem))
        {
            Ok(h) => h,
            Err(e) => {
                return Outcome::fail(EXIT_USAGE, format!("--ca-file {}: {e}", path.display()));
            }
        },
    };
    let tree = match provisioned_tree(&dev_id, &server_id) {
        Ok(t) => t,
        Err(e) => return Outcome::fail(EXIT_USAGE, e),
    };
    let stores = FileComponentStore::open(&args.state, 8, MAX_PACKAGE)
        .and_then(|c| Ok((c, FileStateStore::open(&args.state)?)));
    let (components, state) = match stores {
        Ok(s) => s,
        Err(e) => return Outcome::fail(EXIT_STATE, format!("state directory unusable: {e}")),
    };
    let mut scratch = vec![0u8; 256 * 1024];
    let mut p = Platform {
        components,
        state,
        installer: CommandInstaller::new(&args.state, args.installer.clone()),
        scratch: &mut scratch,
    };
    let mut client: AgentClient<'_> = match Client::boot(config, tree.clone(), &mut p) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(EXIT_STATE, format!("cannot recover the state: {e}")),
    };
    let mut rng = OsRng;
    match &notification {
        Some(bytes) => {
            if let Err(e) = client.notification(bytes, &mut p) {
                return Outcome::fail(EXIT_NOTIFICATION, format!("notification rejected: {e:?}"));
            }
            log::info!("notification accepted: server-initiated session");
        }
        None => {
            if let Err(e) = client.request_session(&mut rng, args.request.as_deref()) {
                return Outcome::fail(EXIT_STATE, format!("{e}"));
            }
        }
    }

    let (mut tx, mut rx, mut work) = (vec![0u8; MSG_BUF], vec![0u8; MSG_BUF], vec![0u8; 16 * 1024]);
    let clock = Instant::now();
    let mut now = || u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut stats = RunStats::default();
    loop {
        let bufs = Buffers {
            tx: &mut tx,
            rx: &mut rx,
            work: &mut work,
        };
        let stop = run(
            &mut client,
            &mut http,
            &mut p,
            &mut rng,
            bufs,
            &mut now,
            args.max_sessions,
            &mut stats,
        );
        if let Some(End::Aborted(reason)) = stats.last_session.as_ref().and_then(|s| s.end) {
            return match reason {
                AbortReason::AuthRejected | AbortReason::ServerNotAuthenticated => {
                    Outcome::fail(EXIT_AUTH, format!("authentication failed: {reason:?}"))
                }
                _ => Outcome::fail(
                    EXIT_UNREACHABLE,
                    format!("the server's message was refused: {reason:?}"),
                ),
            };
        }
        match stop {
            Ok(Stop::Idle) => break,
            Ok(Stop::WaitUntil(t)) => {
                if stats.sessions >= args.max_sessions && client.pending_reports() > 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(t.saturating_sub(now()).min(60_000)));
            }
            Ok(Stop::SessionLimit) => break,
            Ok(Stop::Restart) => {
                log::info!("the installer asked for a restart: restarting the agent");
                drop(client);
                client = match Client::boot(config, tree.clone(), &mut p) {
                    Ok(c) => c,
                    Err(e) => {
                        return Outcome::fail(EXIT_STATE, format!("cannot recover the state: {e}"));
                    }
                };
            }
            Err(RunError::Transport(e)) => return Outcome::fail(EXIT_UNREACHABLE, e.to_string()),
            Err(RunError::Client(e)) => return Outcome::fail(EXIT_STATE, format!("{e}")),
        }
    }
    let pending = client.pending_reports();
    if pending > 0 {
        return Outcome::fail(
            EXIT_QUEUED,
            format!(
                "{pending} result(s) still queued after {} session(s): the server never acknowledged them",
                stats.sessions
            ),
        );
    }
    Outcome::ok()
}

/// Runs `scomo-agent inventory`: the inventory JSON on stdout.
pub fn inventory(args: &InventoryArgs) -> Outcome {
    match inventory_json(args) {
        Ok(json) => {
            println!("{json}");
            Outcome::ok()
        }
        Err(o) => o,
    }
}

/// The inventory JSON of a state directory.
///
/// # Errors
/// The outcome to exit with when the state directory is locked or unreadable.
pub fn inventory_json(args: &InventoryArgs) -> Result<String, Outcome> {
    let _lock = open_state(&args.state)?;
    let tree =
        provisioned_tree("inventory", "scomo-server").map_err(|e| Outcome::fail(EXIT_USAGE, e))?;
    let (components, state) = FileComponentStore::open(&args.state, 8, MAX_PACKAGE)
        .and_then(|c| Ok((c, FileStateStore::open(&args.state)?)))
        .map_err(|e| Outcome::fail(EXIT_STATE, format!("state directory unusable: {e}")))?;
    let mut scratch = vec![0u8; 256 * 1024];
    let mut p = Platform {
        components,
        state,
        installer: CommandInstaller::new(&args.state, None),
        scratch: &mut scratch,
    };
    let config = ClientConfig::new(
        session::Config {
            server_uri: "",
            device_id: "",
            encoding: Encoding::Xml,
            client: Account {
                name: "",
                password: b"",
            },
            server: None,
            server_id: "",
            max_msg_size: MSG_BUF as u32,
            max_obj_size: 0,
        },
        AuthScheme::Md5,
    );
    let client: AgentClient<'_> = Client::boot(config, tree, &mut p)
        .map_err(|e| Outcome::fail(EXIT_STATE, format!("cannot read the state: {e}")))?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = Inventory(client.tree().scomo())
        .write_json(&mut buf)
        .ok_or_else(|| Outcome::fail(EXIT_STATE, "inventory too large to print"))?;
    Ok(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned())
}
