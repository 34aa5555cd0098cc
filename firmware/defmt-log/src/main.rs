//! The core's log points through defmt, on a Cortex-M3 under QEMU (lm3s6965evb).
//!
//! A whole device — [`Client`] over NOR flash emulated in RAM and the firmware's installer,
//! the core built with its `defmt` feature — talks to a DM server scripted in this image
//! (its messages written and read with the core's SyncML codec, XML). `defmt-semihosting`
//! carries every log frame to QEMU's standard output, and `defmt-print -e <this ELF>`
//! decodes them on the host. The device goes through:
//!
//! 1. Package #0: the digest's version 1.1 vector with one digest byte flipped (refused:
//!    bad digest), the vector itself (accepted: session `1A2B`, resynchronisation nonce),
//!    the vector again (refused: already served).
//! 2. The server-initiated session `1A2B`: the server adds `Inventory/Delivered/P1` with a
//!    `PkgID`, Execs `Install` on it (refused 412: no data) and `Remove` (accepted: a job).
//! 3. A restart: the client boots again from the flash and finds the job in its state
//!    record.
//! 4. The job runs (result 1200) and its report goes out in a client-initiated session;
//!    the server acknowledges it and the device goes idle.
//!
//! Exit code 0 when all of that happened as described (1 otherwise, 4 on a hard fault, 5
//! when the stack overflowed); `cargo xtask test` also checks the decoded log lines.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::mem::MaybeUninit;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use defmt_semihosting as _; // the global logger: defmt frames on semihosting stdout
use scomo::client::{Client, ClientConfig, Next};
use scomo::codes::StatusCode;
use scomo::dm::auth::{Account, AuthScheme, basic_credential};
use scomo::dm::codec::{
    Command, CredOut, DataOut, Element, Encoding, HeaderOut, ItemOut, Message, MetaOut, RequestOut,
    StatusOut, Writer,
};
use scomo::dm::pkg0::{Pkg0Error, SessionId};
use scomo::dm::session::{self, Received, ServerAuth};
use scomo::mo::{DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion, Scomo};
use scomo::ops::Platform;
use scomo::persist::{NorComponentStore, NorStateStore, Partition};
use scomo::platform::{ComponentStore, RecordId};
use scomo::tree::Tree;
use scomo_qemu::installer::FirmwareInstaller;
use scomo_qemu::ram_flash::{ERASED, RamFlash};
use scomo_qemu::rng::XorShift;
use scomo_qemu::{exit, stack};

/// The emulated flash: 4-byte words, 1 KiB pages.
type Chip = RamFlash<'static, 4, 1024>;
type Flash = Partition<'static, Chip>;
type Installer = FirmwareInstaller<NorStateStore<Flash>, 2>;
/// The seed-flow image's capacities for this board (see `flows/`).
type Device = Client<'static, 1, 2, 4, 256, 2, 2, 2>;
type DeviceTree = Tree<1, 2, 4, 256>;
type Board = Platform<'static, NorComponentStore<Flash>, NorStateStore<Flash>, Installer>;

/// Emulated flash for the client's state store (two banks), the installer's inventory, and
/// one package slot (a meta page and one page of package).
const STATE_FLASH: u32 = 4 * 1024;
const INSTALLER_FLASH: u32 = 2 * 1024;
const SLOTS: u16 = 1;
const SLOT_FLASH: u32 = 2 * 1024;
const CHIP: usize = (STATE_FLASH + INSTALLER_FLASH + SLOTS as u32 * SLOT_FLASH) as usize;

/// Each DM message buffer; the session engine's scratch; the executor's scratch.
const MSG: usize = 2048;
const WORK: usize = 512;
const SCRATCH: usize = 1024;

/// Sessions the device may run after the restart before the image gives up.
const MAX_SESSIONS: u32 = 3;

const SERVER_URI: &str = "http://dm.example/dm";
const DEVICE_ID: &str = "IMEI:004999010640000";
/// The server's account: the one the digest's Package #0 vectors are made with.
const SERVER: Account<'static> = Account {
    name: "com.example.dm",
    password: b"serverpass",
};
const DEVICE: Account<'static> = Account {
    name: "device",
    password: b"devicepass",
};

/// The digest's Package #0 vector for version 11: session `0x1A2B`, server
/// `com.example.dm`, made with the resynchronisation nonce (the device has no server nonce
/// yet).
const PKG0: [u8; 38] = [
    0x9d, 0x0b, 0xb1, 0xde, 0xc8, 0x00, 0x15, 0x4f, 0x6c, 0xc0, 0x89, 0xf3, 0x54, 0xc6, 0x89, 0xa1,
    0x02, 0xd8, 0x00, 0x00, 0x00, 0x1a, 0x2b, 0x0e, 0x63, 0x6f, 0x6d, 0x2e, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x64, 0x6d,
];
const PKG0_SESSION: u16 = 0x1A2B;

/// The delivered package the server adds and removes.
const PACKAGE: &str = "P1";
const PACKAGE_URI: &str = "./SCOMO/Inventory/Delivered/P1";

/// The DM server, scripted: it answers every device message with basic credentials, the
/// Status of the device's header (212, then 200) and of each of its Alerts and Replaces
/// (200: Generic Alerts are acknowledged), and, in the first answer after [`Server::work`]
/// was set, the commands of step 2.
struct Server {
    /// `SyncHdr/Cred` data: basic credentials of [`SERVER`].
    cred: heapless::String<64>,
    session: heapless::String<8>,
    msg_id: u32,
    cmd_id: u32,
    work: bool,
}

impl Server {
    fn new() -> Result<Self, &'static str> {
        let mut buf = [0u8; 64];
        let cred = basic_credential(&SERVER, &mut buf).map_err(|_| "no basic credential")?;
        Ok(Self {
            cred: heapless::String::try_from(cred).map_err(|_| "credential too long")?,
            session: heapless::String::new(),
            msg_id: 0,
            cmd_id: 0,
            work: false,
        })
    }

    fn next_id(&mut self) -> u32 {
        self.cmd_id += 1;
        self.cmd_id
    }

    /// Writes the answer to the device's message `device` into `out`; its length.
    fn answer(&mut self, device: &[u8], out: &mut [u8]) -> Result<usize, &'static str> {
        let msg = Message::decode(device, Encoding::Xml)
            .map_err(|_| "a device message does not decode")?;
        let session = msg.hdr.session_id.as_str().ok_or("no SessionID")?;
        if session != self.session.as_str() {
            self.session = heapless::String::try_from(session).map_err(|_| "long SessionID")?;
            self.msg_id = 0;
        }
        self.msg_id += 1;
        self.cmd_id = 0;
        let mut w = Writer::new(out, Encoding::Xml).map_err(|_| "no room for a message")?;
        self.write(&mut w, &msg)
            .map_err(|_| "the server's answer does not fit")?;
        Ok(w.finish().map_err(|_| "unfinished message")?.len())
    }

    fn write(
        &mut self,
        w: &mut Writer<'_>,
        msg: &Message<'_>,
    ) -> Result<(), scomo::dm::codec::EncodeError> {
        w.begin_message(&HeaderOut {
            session_id: &self.session,
            msg_id: self.msg_id,
            target: DEVICE_ID,
            source: SERVER_URI,
            source_name: None,
            cred: Some(CredOut {
                meta: MetaOut {
                    mime_type: Some(AuthScheme::Basic.meta_type()),
                    format: Some("b64"),
                    ..MetaOut::default()
                },
                data: &self.cred,
            }),
            meta: None,
        })?;
        let header = if self.msg_id == 1 {
            StatusCode::AuthAccepted
        } else {
            StatusCode::Ok
        };
        let mut answered = [(0u32, Element::SyncHdr, header); 8];
        let mut n = 1;
        for cmd in msg.body.commands().flatten() {
            if let (Command::Alert(_) | Command::Replace(_), Some(slot)) =
                (&cmd, answered.get_mut(n))
            {
                *slot = (cmd.cmd_id(), cmd.element(), StatusCode::Ok);
                n += 1;
            }
        }
        for &(cmd_ref, cmd, code) in answered.iter().take(n) {
            let cmd_id = self.next_id();
            w.status(&StatusOut {
                cmd_id,
                msg_ref: msg.hdr.msg_id,
                cmd_ref,
                cmd,
                target_refs: &[],
                source_refs: &[],
                chal: None,
                code,
                items: &[],
            })?;
        }
        if core::mem::take(&mut self.work) {
            self.request(w, Element::Add, PACKAGE_URI, Some("node"), None, None)?;
            let pkg_id = DataOut::Text("com.example.p1");
            self.request(
                w,
                Element::Add,
                "./SCOMO/Inventory/Delivered/P1/PkgID",
                Some("chr"),
                Some(pkg_id),
                None,
            )?;
            self.request(
                w,
                Element::Exec,
                "./SCOMO/Inventory/Delivered/P1/Operations/Install",
                None,
                None,
                Some("c-install"),
            )?;
            self.request(
                w,
                Element::Exec,
                "./SCOMO/Inventory/Delivered/P1/Operations/Remove",
                None,
                None,
                Some("c-remove"),
            )?;
        }
        w.end_message(true)
    }

    fn request(
        &mut self,
        w: &mut Writer<'_>,
        kind: Element,
        target: &str,
        format: Option<&str>,
        data: Option<DataOut<'_>>,
        correlator: Option<&str>,
    ) -> Result<(), scomo::dm::codec::EncodeError> {
        let cmd_id = self.next_id();
        w.request(&RequestOut {
            kind,
            cmd_id,
            meta: None,
            correlator,
            items: &[ItemOut {
                target: Some(target),
                meta: format.map(|f| MetaOut {
                    format: Some(f),
                    ..MetaOut::default()
                }),
                data,
                ..ItemOut::default()
            }],
        })
    }
}

/// The buffers the device lends the client.
struct Buffers<'a> {
    tx: &'a mut [u8],
    rx: &'a mut [u8],
    work: &'a mut [u8],
}

/// Polls the client and runs each session it opens against `server`, until the client is
/// idle or `max_sessions` sessions ended; the number of sessions run.
fn drive(
    client: &mut Device,
    p: &mut Board,
    rng: &mut XorShift,
    bufs: &mut Buffers<'_>,
    server: &mut Server,
    max_sessions: u32,
) -> Result<u32, &'static str> {
    let Buffers { tx, rx, work } = bufs;
    let mut now = 0u64;
    let mut sessions = 0;
    while sessions < max_sessions {
        let mut len = match client.poll(now, p, rng, work, tx) {
            Ok(Next::Send(msg)) => server.answer(msg.body, rx)?,
            // No timer: the device "sleeps" until then.
            Ok(Next::WaitUntil(t)) => {
                now = now.max(t);
                continue;
            }
            Ok(Next::SessionEnded(_)) => continue,
            Ok(Next::Idle) => return Ok(sessions),
            Ok(_) => return Err("the client asked for a fetch, a post or a restart"),
            Err(_) => return Err("poll failed"),
        };
        sessions += 1;
        loop {
            let received = Received {
                body: rx.get(..len).ok_or("answer longer than the buffer")?,
                content_type: Encoding::Xml.content_type(),
                hmac: None,
            };
            match client.dm_reply(received, p, rng, work, tx) {
                Ok(Next::Send(msg)) => len = server.answer(msg.body, rx)?,
                Ok(Next::SessionEnded(_)) => break,
                Ok(_) => return Err("the session went on without a message"),
                Err(_) => return Err("the session failed"),
            }
        }
    }
    Ok(sessions)
}

/// The provisioned tree: DevInfo, DevDetail (Large Objects on), the DM account of
/// [`SERVER`], and the SCOMO object at `./SCOMO`, open to the server.
fn provisioned_tree() -> Result<DeviceTree, StatusCode> {
    let mut info = DevInfo::new();
    for (leaf, value) in [
        (DevInfoLeaf::DevId, DEVICE_ID),
        (DevInfoLeaf::Man, "scomo"),
        (DevInfoLeaf::Mod, scomo_qemu::board::MACHINE),
        (DevInfoLeaf::DmV, "scomo-qemu defmt-log"),
        (DevInfoLeaf::Lang, "en"),
    ] {
        info.set(leaf, value)?;
    }
    let mut detail = DevDetail::new();
    detail.set_large_objects(true);
    let mut acc = DmAcc::new("dm")?;
    acc.set(DmAccLeaf::ServerId, SERVER.name)?;
    let mut tree = Tree::new(info, detail, acc, Scomo::new(MoVersion::V1_0), "./SCOMO")?;
    tree.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=*")?;
    Ok(tree)
}

fn client_config(max_obj_size: u32) -> ClientConfig<'static> {
    let session = session::Config {
        server_uri: SERVER_URI,
        device_id: DEVICE_ID,
        encoding: Encoding::Xml,
        client: DEVICE,
        server: Some(ServerAuth {
            account: SERVER,
            scheme: AuthScheme::Basic,
        }),
        server_id: SERVER.name,
        max_msg_size: MSG as u32,
        max_obj_size,
    };
    ClientConfig::new(session, AuthScheme::Basic)
}

/// Boots the client into `slot`: the provisioned client is written there, then restored
/// in place from what the flash holds.
fn boot<'s>(
    slot: &'s mut MaybeUninit<Device>,
    p: &mut Board,
) -> Result<&'s mut Device, &'static str> {
    let client = place(slot, p)?;
    client
        .restore(p)
        .map_err(|_| "the state does not recover")?;
    Ok(client)
}

/// Writes the provisioned client into `slot` (its own stack frame holds the tree while it
/// is built, and is gone before the state is restored).
#[inline(never)]
fn place<'s>(
    slot: &'s mut MaybeUninit<Device>,
    p: &mut Board,
) -> Result<&'s mut Device, &'static str> {
    let max_obj_size = u32::try_from(p.components.slot_capacity()).unwrap_or(u32::MAX);
    let tree = provisioned_tree().map_err(|_| "the tree cannot be provisioned")?;
    Ok(slot.write(Device::new(client_config(max_obj_size), tree)))
}

/// The platform over the emulated chip.
fn platform(chip: &'static RefCell<Chip>, scratch: &'static mut [u8]) -> Option<Board> {
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

/// Steps 1 to 4 of the module documentation.
fn script(
    slot: &mut MaybeUninit<Device>,
    p: &mut Board,
    bufs: &mut Buffers<'_>,
) -> Result<(), &'static str> {
    let mut rng = XorShift(0x005C_03E0_DEF7_0001);
    let mut server = Server::new()?;
    let client = boot(slot, p)?;

    defmt::info!("defmt-log: step 1, Package #0");
    let mut forged = PKG0;
    if let Some(b) = forged.first_mut() {
        *b ^= 1;
    }
    if client.notification(&forged, p) != Err(Pkg0Error::BadDigest) {
        return Err("a forged Package #0 was not refused for its digest");
    }
    client
        .notification(&PKG0, p)
        .map_err(|_| "the digest's Package #0 vector was refused")?;
    let served = SessionId::new(PKG0_SESSION).ok_or("session id 0")?;
    if client.notification(&PKG0, p) != Err(Pkg0Error::AlreadyServed(served)) {
        return Err("a Package #0 was served twice");
    }

    defmt::info!("defmt-log: step 2, the server-initiated session");
    server.work = true;
    if drive(client, p, &mut rng, bufs, &mut server, 1)? != 1 {
        return Err("the Package #0 opened no session");
    }
    if client.executor().jobs().count() != 1 {
        return Err("the Exec of Remove did not become a job");
    }

    defmt::info!("defmt-log: step 3, a restart");
    let client = boot(slot, p)?;
    if client.executor().jobs().count() != 1 {
        return Err("the job did not survive the restart");
    }

    defmt::info!("defmt-log: step 4, the job and its report");
    let sessions = drive(client, p, &mut rng, bufs, &mut server, MAX_SESSIONS)?;
    if sessions != 1 || client.pending_reports() != 0 {
        return Err("the report was not acknowledged in one session");
    }
    if client.tree().scomo().delivered(PACKAGE).is_some() {
        return Err("the delivered package is still in the tree");
    }
    Ok(())
}

/// A fault (a stack overflow into static RAM, a bad access) ends the run with exit code 4.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("defmt-log: hard fault at pc {=u32:#010x}", frame.pc());
    exit(4)
}

#[entry]
fn main() -> ! {
    static mut FLASH: [u8; CHIP] = [0; CHIP];
    static mut CHIP_CELL: MaybeUninit<RefCell<Chip>> = MaybeUninit::uninit();
    static mut TX: [u8; MSG] = [0; MSG];
    static mut RX: [u8; MSG] = [0; MSG];
    static mut WORK_BUF: [u8; WORK] = [0; WORK];
    static mut SCRATCH_BUF: [u8; SCRATCH] = [0; SCRATCH];
    static mut CLIENT: MaybeUninit<Device> = MaybeUninit::uninit();

    stack::paint();
    defmt::info!(
        "defmt-log on {=str}: the core's log points through defmt",
        scomo_qemu::board::DESCRIPTION
    );
    let mut flash = RamFlash::new(FLASH);
    flash.erase_all();
    let chip: &'static RefCell<Chip> = CHIP_CELL.write(RefCell::new(flash));
    let Some(mut p) = platform(chip, SCRATCH_BUF) else {
        defmt::error!("defmt-log: the emulated flash does not fit the stores");
        exit(1)
    };
    let mut bufs = Buffers {
        tx: TX,
        rx: RX,
        work: WORK_BUF,
    };
    let outcome = script(CLIENT, &mut p, &mut bufs);
    let used = stack::high_water();
    if stack::overflowed() {
        defmt::error!("defmt-log: the stack overflowed ({=usize} B)", used);
        exit(5)
    }
    match outcome {
        Ok(()) => {
            defmt::info!("defmt-log: done, stack high-water {=usize} B", used);
            exit(0)
        }
        Err(e) => {
            defmt::error!("defmt-log: {=str}", e);
            exit(1)
        }
    }
}
