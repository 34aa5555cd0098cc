//! The seed flows on a Cortex-M: a whole SCOMO device — [`Client`] over
//! [`SerialTransport`] on UART0, NOR flash emulated in RAM behind `NorStateStore` and
//! `NorComponentStore`, the firmware's installer — driven round by round by the host.
//!
//! The host side is the bridge's `seed-flows` backend (`qemu-bridge --backend seed-flows`):
//! it starts the DM test server, forwards the device's HTTP requests to it, and answers three
//! control requests of its own on the same line (see the firmware README):
//!
//! | request | answer |
//! |---|---|
//! | GET `scomo-bridge:config` | `key=value` lines: `server`, `device`, `user`, `password`, `server-id`, `server-password` (optional), `encoding` (`xml`/`wbxml`), `auth` (`basic`/`md5`/`hmac`) |
//! | GET `scomo-bridge:next` | `session` (open a client-initiated session and run until idle), `reboot` (a system reset: the emulated flash survives it, everything else starts over) or `done` |
//! | POST `scomo-bridge:report` | the device's account of the round, one line; the host checks it |
//!
//! The image has no timer: when the client asks to be called again later, its clock jumps
//! to that time, as a device that slept would see it. Exit code 0 when every round ran
//! without a local error (1: a round failed on the device, 3: no configuration or flash, 4: a
//! hard fault, 5: the stack overflowed while booting); the host decides whether the flows
//! passed.
#![no_std]
#![no_main]

use core::cell::{Cell, RefCell};
use core::fmt::Write as _;
use core::mem::MaybeUninit;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use embedded_io::{ErrorType, Write};
use scomo::client::{Client, ClientConfig};
use scomo::codes::StatusCode;
use scomo::dm::auth::{Account, AuthScheme};
use scomo::dm::codec::Encoding;
use scomo::dm::session::{self, ServerAuth};
use scomo::drivers::serial::{self, Fault, Request, SerialTransport};
use scomo::drivers::{Buffers, RunStats, Stop, run};
use scomo::mo::{DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion, Scomo};
use scomo::ops::Platform;
use scomo::persist::{NorComponentStore, NorStateStore, Partition};
use scomo::platform::{ComponentStore, RecordId};
use scomo::tree::Tree;
use scomo_qemu::installer::FirmwareInstaller;
use scomo_qemu::ram_flash::{ERASED, RamFlash};
use scomo_qemu::rng::XorShift;
use scomo_qemu::{board, exit, println, stack};

/// The emulated flash: programmed in 4-byte words, erased in 1 KiB pages (the LM3S6965's
/// own flash geometry).
type Chip = RamFlash<'static, 4, 1024>;
type Flash = Partition<'static, Chip>;
type Installer = FirmwareInstaller<NorStateStore<Flash>, 4>;
/// The client's capacities (see [`Client`]): downloads, delivered packages, deployed
/// components, ACL bytes, jobs, unacknowledged results, held packages. The seed flows need
/// one download, two delivered packages, two components and two jobs at a time; the Cortex-M3
/// board's 64 KiB of RAM gets no more than that.
#[cfg(feature = "lm3s6965")]
type Device = Client<'static, 1, 2, 4, 256, 2, 2, 2>;
#[cfg(feature = "lm3s6965")]
type DeviceTree = Tree<1, 2, 4, 256>;
#[cfg(feature = "mps2")]
type Device = Client<'static>;
#[cfg(feature = "mps2")]
type DeviceTree = Tree<2, 2, 8, 384>;
type Line = SerialTransport<board::Uart>;

/// Bytes of emulated flash for the client's state store (two banks).
#[cfg(feature = "lm3s6965")]
const STATE_FLASH: u32 = 4 * 1024;
#[cfg(feature = "mps2")]
const STATE_FLASH: u32 = 8 * 1024;
/// Bytes of emulated flash for the installer's inventory (two banks).
const INSTALLER_FLASH: u32 = 2 * 1024;
/// Component store slots: one delivered package each.
const SLOTS: u16 = 2;
/// Bytes of emulated flash per slot: a meta page and the package's pages.
#[cfg(feature = "lm3s6965")]
const SLOT_FLASH: u32 = 5 * 1024;
#[cfg(feature = "mps2")]
const SLOT_FLASH: u32 = 200 * 1024;
/// The whole emulated chip.
const CHIP: usize = (STATE_FLASH + INSTALLER_FLASH + SLOTS as u32 * SLOT_FLASH) as usize;

/// Each DM message buffer (one in, one out): the `MaxMsgSize` the device advertises. 2 KiB
/// on the Cortex-M3 board (WBXML); 4 KiB on mps2-an386, which speaks XML (whose first server
/// message of a push carries about 1.8 KiB besides the chunk) and has the RAM.
#[cfg(feature = "lm3s6965")]
const MSG: usize = 2048;
#[cfg(feature = "mps2")]
const MSG: usize = 4096;
/// The session engine's scratch.
const WORK: usize = 512;
/// The executor's scratch: its state record is encoded here.
const SCRATCH: usize = 1024;
/// Sessions one round may run before it gives up on unacknowledged results.
const MAX_SESSIONS: u32 = 6;

/// The control requests (the bridge's `seed-flows` backend answers them).
const CONFIG_URL: &str = "scomo-bridge:config";
const NEXT_URL: &str = "scomo-bridge:next";
const REPORT_URL: &str = "scomo-bridge:report";

/// Writes into a byte slice, failing when it is full.
struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl ErrorType for SliceSink<'_> {
    type Error = embedded_io::ErrorKind;
}

impl Write for SliceSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, Self::Error> {
        let to = self
            .buf
            .get_mut(self.len..self.len + bytes.len())
            .ok_or(embedded_io::ErrorKind::OutOfMemory)?;
        to.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Why a control request failed.
enum ControlError {
    Link(serial::Error),
    Fault(Fault),
    Status(u16),
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ControlError::Link(e) => write!(f, "{e}"),
            ControlError::Fault(fault) => write!(f, "bridge fault {fault:?}"),
            ControlError::Status(s) => write!(f, "HTTP {s}"),
        }
    }
}

/// One control request to the host; the answer's body goes into `out`.
fn control(
    line: &mut Line,
    request: &Request<'_>,
    body: &[u8],
    out: &mut [u8],
) -> Result<usize, ControlError> {
    let (mut head, mut chunk) = ([0u8; 128], [0u8; 128]);
    let mut sink = SliceSink { buf: out, len: 0 };
    match serial::exchange(
        line.io_mut(),
        request,
        body,
        &mut head,
        &mut chunk,
        &mut sink,
    ) {
        Ok(Ok((response, _))) if response.status == 200 => Ok(sink.len),
        Ok(Ok((response, _))) => Err(ControlError::Status(response.status)),
        Ok(Err(fault)) => Err(ControlError::Fault(fault)),
        Err(e) => Err(ControlError::Link(e)),
    }
}

fn get(url: &str) -> Request<'_> {
    Request::GetRange {
        url,
        offset: 0,
        length: None,
        if_range: None,
    }
}

/// What the host configures: the strings live in a static buffer for the client's life.
#[derive(Debug, Default, Clone, Copy)]
struct Config {
    server: &'static str,
    device: &'static str,
    user: &'static str,
    password: &'static str,
    server_id: &'static str,
    server_password: Option<&'static str>,
    encoding: Option<Encoding>,
    auth: Option<AuthScheme>,
}

fn parse_config(text: &'static str) -> Option<Config> {
    let mut c = Config::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "server" => c.server = value,
            "device" => c.device = value,
            "user" => c.user = value,
            "password" => c.password = value,
            "server-id" => c.server_id = value,
            "server-password" => c.server_password = Some(value),
            "encoding" => {
                c.encoding = match value {
                    "xml" => Some(Encoding::Xml),
                    "wbxml" => Some(Encoding::Wbxml),
                    _ => None,
                }
            }
            "auth" => {
                c.auth = match value {
                    "basic" => Some(AuthScheme::Basic),
                    "md5" => Some(AuthScheme::Md5),
                    "hmac" => Some(AuthScheme::Hmac),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    let complete = !c.server.is_empty() && !c.device.is_empty() && !c.server_id.is_empty();
    (complete && c.encoding.is_some() && c.auth.is_some()).then_some(c)
}

/// The provisioned tree: DevInfo, DevDetail (Large Objects on), one DM account and the
/// SCOMO object at `./SCOMO`, open to the server.
fn provisioned_tree(c: &Config) -> Result<DeviceTree, StatusCode> {
    let mut info = DevInfo::new();
    for (leaf, value) in [
        (DevInfoLeaf::DevId, c.device),
        (DevInfoLeaf::Man, "scomo"),
        (DevInfoLeaf::Mod, board::MACHINE),
        (DevInfoLeaf::DmV, "scomo-qemu seed-flows"),
        (DevInfoLeaf::Lang, "en"),
    ] {
        info.set(leaf, value)?;
    }
    let mut detail = DevDetail::new();
    detail.set_large_objects(true);
    let mut acc = DmAcc::new("dm")?;
    acc.set(DmAccLeaf::ServerId, c.server_id)?;
    let mut tree = Tree::new(info, detail, acc, Scomo::new(MoVersion::V1_0), "./SCOMO")?;
    tree.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=*")?;
    Ok(tree)
}

/// The platform over the emulated chip; the stores mount what the chip holds.
fn platform(
    chip: &'static RefCell<Chip>,
    scratch: &'static mut [u8],
) -> Option<Platform<'static, NorComponentStore<Flash>, NorStateStore<Flash>, Installer>> {
    let state = Partition::new(chip, 0, STATE_FLASH)?;
    let inventory = Partition::new(chip, STATE_FLASH, INSTALLER_FLASH)?;
    let packages = Partition::new(
        chip,
        STATE_FLASH + INSTALLER_FLASH,
        u32::from(SLOTS) * SLOT_FLASH,
    )?;
    Some(Platform {
        components: NorComponentStore::new(packages, SLOTS, ERASED).ok()?,
        state: NorStateStore::mount(state, ERASED).ok()?,
        installer: FirmwareInstaller::new(
            NorStateStore::mount(inventory, ERASED).ok()?,
            RecordId(1),
        ),
        scratch,
    })
}

/// The client's configuration from the host's.
fn client_config(config: &Config, max_obj_size: u32) -> ClientConfig<'static> {
    let scheme = config.auth.unwrap_or(AuthScheme::Md5);
    let session = session::Config {
        server_uri: config.server,
        device_id: config.device,
        encoding: config.encoding.unwrap_or(Encoding::Wbxml),
        client: Account {
            name: config.user,
            password: config.password.as_bytes(),
        },
        server: config.server_password.map(|pw| ServerAuth {
            account: Account {
                name: config.server_id,
                password: pw.as_bytes(),
            },
            scheme: if scheme == AuthScheme::Hmac {
                AuthScheme::Hmac
            } else {
                AuthScheme::Md5
            },
        }),
        server_id: config.server_id,
        max_msg_size: MSG as u32,
        max_obj_size,
    };
    let mut c = ClientConfig::new(session, scheme);
    c.executor.retry_ms = 1_000;
    c.executor.report_retry_ms = 1_000;
    c
}

/// Builds the client in `slot` and restores its state there: `Client::restore` works in
/// place, so the stack never holds a second client.
fn start(
    slot: &'static mut MaybeUninit<Device>,
    config: &Config,
    p: &mut Platform<'static, NorComponentStore<Flash>, NorStateStore<Flash>, Installer>,
) -> Result<&'static mut Device, &'static str> {
    let client = place(slot, config, p)?;
    client
        .restore(p)
        .map_err(|_| "the state does not recover")?;
    Ok(client)
}

/// Writes the provisioned client into `slot` (its own stack frame holds the tree while it
/// is built, and is gone before the state is restored).
#[inline(never)]
fn place(
    slot: &'static mut MaybeUninit<Device>,
    config: &Config,
    p: &mut Platform<'static, NorComponentStore<Flash>, NorStateStore<Flash>, Installer>,
) -> Result<&'static mut Device, &'static str> {
    let max_obj_size = u32::try_from(p.components.slot_capacity()).unwrap_or(u32::MAX);
    let tree = provisioned_tree(config).map_err(|_| "the tree cannot be provisioned")?;
    Ok(slot.write(Device::new(client_config(config, max_obj_size), tree)))
}

/// The installed components as `id@version+` (active) or `id@version-` (inactive).
fn inventory_text(installer: &mut Installer, out: &mut heapless::String<160>) -> bool {
    let Ok(all) = installer.inventory() else {
        return false;
    };
    for (i, c) in all.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let state = if c.active { '+' } else { '-' };
        if write!(out, "{sep}{}@{}{state}", c.id, c.version).is_err() {
            return false;
        }
    }
    true
}

/// Sends the host the device's account of a round.
#[inline(never)]
fn report(
    line: &mut Line,
    installer: &mut Installer,
    boot: u32,
    stats: &RunStats,
    failure: Option<&str>,
) {
    let mut text: heapless::String<256> = heapless::String::new();
    let mut installed: heapless::String<160> = heapless::String::new();
    let listed = inventory_text(installer, &mut installed);
    let _ = write!(
        text,
        "boot={boot} sessions={} fetches={} stack={} installed={} error={}",
        stats.sessions,
        stats.fetches,
        stack::high_water(),
        if listed { installed.as_str() } else { "?" },
        if stack::overflowed() {
            "stack-overflow"
        } else {
            failure.unwrap_or("none")
        }
    );
    println!("{}", text.as_str());
    let notify = Request::PostNotify {
        url: REPORT_URL,
        content_type: "text/plain",
    };
    if let Err(e) = control(line, &notify, text.as_bytes(), &mut [0u8; 16]) {
        println!("the host did not take the report: {}", e);
        exit(3)
    }
}

/// Runs one client-initiated session and everything that follows it (downloads, report
/// sessions) until the client has nothing to do.
#[inline(never)]
fn session_round(
    client: &mut Device,
    line: &mut Line,
    p: &mut Platform<'static, NorComponentStore<Flash>, NorStateStore<Flash>, Installer>,
    rng: &mut XorShift,
    bufs: (&mut [u8], &mut [u8], &mut [u8]),
    clock: &Cell<u64>,
    stats: &mut RunStats,
) -> Option<&'static str> {
    let (tx, rx, work) = bufs;
    if client.request_session(rng, None).is_err() {
        return Some("no-session-id");
    }
    let mut now = || clock.get();
    loop {
        let bufs = Buffers {
            tx: &mut *tx,
            rx: &mut *rx,
            work: &mut *work,
        };
        match run(client, line, p, rng, bufs, &mut now, MAX_SESSIONS, stats) {
            Ok(Stop::Idle) => return None,
            // No timer: the device "sleeps" until then.
            Ok(Stop::WaitUntil(t)) => clock.set(clock.get().max(t)),
            Ok(Stop::SessionLimit) => return Some("results-still-unacknowledged"),
            Ok(Stop::Restart) => return Some("the-installer-asked-for-a-restart"),
            Err(e) => {
                println!("run failed: {:?}", e);
                return Some("run-failed");
            }
        }
    }
}

/// Whether the emulated flash survived a reset: the first word of [`Persistent::boots`]
/// holds this once the flash was erased at the first (cold) start.
const WARM: u32 = 0x05C0_B007;

/// What survives a system reset: [`WARM`] and the number of boots since the cold start, and
/// the emulated flash.
struct Persistent {
    boots: [u32; 2],
    flash: [u8; CHIP],
}

/// In `.uninit`, which the startup code does not zero: it keeps its content across a system
/// reset (QEMU keeps RAM across one; a cold start finds zeros).
#[unsafe(link_section = ".uninit.scomo")]
static mut PERSISTENT: Persistent = Persistent {
    boots: [0; 2],
    flash: [0; CHIP],
};

/// The buffers the device lends the client: in one static, so that they count as static RAM.
struct Memory {
    tx: [u8; MSG],
    rx: [u8; MSG],
    work: [u8; WORK],
    scratch: [u8; SCRATCH],
    config: [u8; 256],
}

/// A fault (a stack overflow into static RAM, a bad access) ends the run with exit code 4
/// instead of spinning until the host's deadline.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("hard fault at pc {:#010x}", frame.pc());
    exit(4)
}

#[entry]
fn main() -> ! {
    static mut CHIP_CELL: MaybeUninit<RefCell<Chip>> = MaybeUninit::uninit();
    static mut MEMORY: Memory = Memory {
        tx: [0; MSG],
        rx: [0; MSG],
        work: [0; WORK],
        scratch: [0; SCRATCH],
        config: [0; 256],
    };
    // Written once below; `MaybeUninit` keeps them in `.bss` (an `Option` would put their
    // initial image in flash).
    static mut CLIENT: MaybeUninit<Device> = MaybeUninit::uninit();
    static mut LINE: MaybeUninit<Line> = MaybeUninit::uninit();

    stack::paint();
    let Memory {
        tx,
        rx,
        work,
        scratch,
        config: config_text,
    } = MEMORY;
    let persistent = &raw mut PERSISTENT;
    // SAFETY: `main` runs once per boot and is the only code that names PERSISTENT: this is
    // the only reference ever made to it.
    let Persistent { boots, flash } = unsafe { &mut *persistent };
    let mut flash = RamFlash::new(flash);
    let warm = boots[0] == WARM;
    if !warm {
        flash.erase_all();
        *boots = [WARM, 0];
    }
    boots[1] += 1;
    let boot = boots[1];
    let chip: &'static RefCell<Chip> = CHIP_CELL.write(RefCell::new(flash));
    let line = LINE.write(SerialTransport::new(board::uart()));
    println!(
        "seed-flows on {}, boot {}: emulated NOR flash {} KiB (state {} KiB, inventory {} KiB, {} package slots of {} KiB){}",
        board::DESCRIPTION,
        boot,
        CHIP / 1024,
        STATE_FLASH / 1024,
        INSTALLER_FLASH / 1024,
        SLOTS,
        SLOT_FLASH / 1024,
        if warm {
            ", kept across the reset"
        } else {
            ", erased"
        }
    );

    let config = match control(line, &get(CONFIG_URL), b"", config_text) {
        Ok(n) => {
            let text: &'static [u8] = config_text;
            text.get(..n)
                .and_then(|t| core::str::from_utf8(t).ok())
                .and_then(parse_config)
        }
        Err(e) => {
            println!("no configuration from the host: {}", e);
            None
        }
    };
    let Some(config) = config else {
        println!("the host's configuration is incomplete");
        exit(3)
    };
    let Some(mut p) = platform(chip, scratch) else {
        println!("the emulated flash does not fit the stores");
        exit(3)
    };
    let client = match start(CLIENT, &config, &mut p) {
        Ok(c) => c,
        Err(e) => {
            println!("{}", e);
            exit(3)
        }
    };
    let boot_stack = stack::high_water();
    if stack::overflowed() {
        println!("the stack overflowed while booting: the emulated flash may be damaged");
        exit(5)
    }
    println!(
        "static RAM: client {} B (tree {} B), message buffers 2 x {} B, work {} B, scratch {} B, flash {} B; stack room {} B, {} B used to boot",
        core::mem::size_of::<Device>(),
        core::mem::size_of::<DeviceTree>(),
        MSG,
        WORK,
        SCRATCH,
        CHIP,
        stack::room(),
        boot_stack
    );
    // From here on the high-water mark is the flows'.
    stack::paint();

    let clock = Cell::new(0u64);
    let mut rng = XorShift(0x005C_03E0_C0FF_EE11 ^ u64::from(boot));
    let mut errors = 0u32;
    if warm {
        // The report of the round that asked for the reset: what the device found in flash.
        report(line, &mut p.installer, boot, &RunStats::default(), None);
    }
    loop {
        let mut answer = [0u8; 16];
        let next = match control(line, &get(NEXT_URL), b"", &mut answer) {
            Ok(n) => answer.get(..n).unwrap_or_default(),
            Err(e) => {
                println!("no next step from the host: {}", e);
                exit(3)
            }
        };
        let mut stats = RunStats::default();
        let failure = match next {
            b"done" => break,
            b"reboot" => {
                println!("reset requested: the emulated flash stays, everything else starts over");
                cortex_m::peripheral::SCB::sys_reset()
            }
            b"session" => session_round(
                client,
                line,
                &mut p,
                &mut rng,
                (&mut *tx, &mut *rx, &mut *work),
                &clock,
                &mut stats,
            ),
            _ => Some("unknown-step"),
        };
        errors += u32::from(failure.is_some());
        report(line, &mut p.installer, boot, &stats, failure);
    }
    println!(
        "seed-flows: done, {} round(s) with errors; stack high-water {} B during the flows, {} B to boot",
        errors,
        stack::high_water(),
        boot_stack
    );
    exit(if errors == 0 { 0 } else { 1 })
}
