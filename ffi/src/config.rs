//! `scomo_config`: what `scomo_agent_configure` is told, and the tree it provisions.

use core::ffi::c_char;

use scomo::client::ClientConfig;
use scomo::dm::auth::{Account, AuthScheme};
use scomo::dm::codec::Encoding;
use scomo::dm::session::{self, ServerAuth};
use scomo::mo::{DevDetail, DevInfo, DevInfoLeaf, DmAcc, DmAccLeaf, MoVersion, Scomo};
use scomo::tree::Tree;

use crate::capacity::{
    SCOMO_ACL_BYTES, SCOMO_DELIVERED, SCOMO_DEPLOYED, SCOMO_DOWNLOADS, SCOMO_NAME_CAP,
};
use crate::result::{
    SCOMO_RESULT_INVALID_ARGUMENT, SCOMO_RESULT_NULL_POINTER, SCOMO_RESULT_TOO_LONG, scomo_result,
};
use crate::storage::Strings;
use crate::text::{borrow, copy};

/// How DM messages are encoded (`SCOMO_ENCODING_*`).
pub type scomo_encoding = i32;
/// XML (`application/vnd.syncml.dm+xml`).
pub const SCOMO_ENCODING_XML: scomo_encoding = 0;
/// WBXML (`application/vnd.syncml.dm+wbxml`).
pub const SCOMO_ENCODING_WBXML: scomo_encoding = 1;

/// An authentication scheme (`SCOMO_AUTH_*`).
pub type scomo_auth = i32;
/// `syncml:auth-basic`: name and password in `SyncHdr/Cred` (only over TLS).
pub const SCOMO_AUTH_BASIC: scomo_auth = 0;
/// `syncml:auth-md5`: an MD5 digest with the peer's nonce in `SyncHdr/Cred`.
pub const SCOMO_AUTH_MD5: scomo_auth = 1;
/// `syncml:auth-MAC`: an HMAC of every message in the `x-syncml-hmac` header.
pub const SCOMO_AUTH_HMAC: scomo_auth = 2;

/// What the agent is configured with. Strings are NUL-terminated UTF-8 and are copied: the
/// caller may free them after `scomo_agent_configure` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct scomo_config {
    /// The DM server's URI (required; at most `SCOMO_URI_CAP` bytes).
    pub server_uri: *const c_char,
    /// The server's id (required): `DMAcc/ServerID`, the ACLs' principal, the id a Package #0
    /// must carry.
    pub server_id: *const c_char,
    /// The device id (required): `DevInfo/DevId`, `SyncHdr/Source`.
    pub device_id: *const c_char,
    /// `DevInfo/Man`, or NULL for "scomo".
    pub manufacturer: *const c_char,
    /// `DevInfo/Mod`, or NULL for "scomo-ffi".
    pub model: *const c_char,
    /// `SCOMO_ENCODING_XML` or `SCOMO_ENCODING_WBXML`.
    pub encoding: scomo_encoding,
    /// The scheme the device authenticates with until the server asks for another.
    pub client_auth: scomo_auth,
    /// The device's user name, or NULL for the device id.
    pub client_user: *const c_char,
    /// The device's password, or NULL for none.
    pub client_password: *const c_char,
    /// The scheme the server must authenticate with (`SCOMO_AUTH_MD5`, or
    /// `SCOMO_AUTH_HMAC`; basic only over TLS). Used when `server_password` is set.
    pub server_auth: scomo_auth,
    /// The server's password: the server must authenticate, and a Package #0 is verified
    /// with it. NULL: the server is not authenticated and every Package #0 is refused.
    pub server_password: *const c_char,
    /// The size of the caller's receive buffer: the `MaxMsgSize` the device advertises (a
    /// longer message aborts the session). At least 512.
    pub max_msg_size: u32,
    /// The largest Large Object the device takes (`MaxObjSize`); 0 for the component
    /// store's slot capacity.
    pub max_obj_size: u32,
    /// The first retry delay of a failed download and of an unacknowledged report, in
    /// milliseconds (doubled after each attempt); 0 for the defaults (seconds to minutes).
    pub retry_delay_ms: u32,
}

/// The smallest receive buffer the agent accepts.
pub const SCOMO_MIN_MSG_SIZE: u32 = 512;

/// The tree with this build's capacities.
///
/// cbindgen:ignore
pub(crate) type FfiTree = Tree<SCOMO_DOWNLOADS, SCOMO_DELIVERED, SCOMO_DEPLOYED, SCOMO_ACL_BYTES>;

fn encoding(e: scomo_encoding) -> Result<Encoding, scomo_result> {
    match e {
        SCOMO_ENCODING_XML => Ok(Encoding::Xml),
        SCOMO_ENCODING_WBXML => Ok(Encoding::Wbxml),
        _ => Err(SCOMO_RESULT_INVALID_ARGUMENT),
    }
}

fn scheme(a: scomo_auth) -> Result<AuthScheme, scomo_result> {
    match a {
        SCOMO_AUTH_BASIC => Ok(AuthScheme::Basic),
        SCOMO_AUTH_MD5 => Ok(AuthScheme::Md5),
        SCOMO_AUTH_HMAC => Ok(AuthScheme::Hmac),
        _ => Err(SCOMO_RESULT_INVALID_ARGUMENT),
    }
}

/// A checked configuration: its strings copied into the agent's, its values parsed.
pub(crate) struct Checked {
    pub(crate) encoding: Encoding,
    pub(crate) client_scheme: AuthScheme,
    pub(crate) server_scheme: AuthScheme,
    pub(crate) max_msg_size: u32,
    pub(crate) max_obj_size: u32,
    pub(crate) retry_delay_ms: u32,
    pub(crate) manufacturer: heapless::String<SCOMO_NAME_CAP>,
    pub(crate) model: heapless::String<SCOMO_NAME_CAP>,
}

/// Checks `c` and copies its strings into `strings`.
///
/// # Safety
/// The strings of `c` are NULL or NUL-terminated.
pub(crate) unsafe fn check(
    c: &scomo_config,
    strings: &mut Strings,
) -> Result<Checked, scomo_result> {
    if c.server_uri.is_null() || c.server_id.is_null() || c.device_id.is_null() {
        return Err(SCOMO_RESULT_NULL_POINTER);
    }
    let checked = Checked {
        encoding: encoding(c.encoding)?,
        client_scheme: scheme(c.client_auth)?,
        server_scheme: scheme(c.server_auth)?,
        max_msg_size: c.max_msg_size,
        max_obj_size: c.max_obj_size,
        retry_delay_ms: c.retry_delay_ms,
        // SAFETY: NULL or NUL-terminated, as the caller promises (also below).
        manufacturer: unsafe { copy(c.manufacturer, "scomo") }?,
        // SAFETY: as above.
        model: unsafe { copy(c.model, "scomo-ffi") }?,
    };
    if c.max_msg_size < SCOMO_MIN_MSG_SIZE {
        return Err(SCOMO_RESULT_INVALID_ARGUMENT);
    }
    // SAFETY: as above.
    unsafe {
        strings.server_uri = copy(c.server_uri, "")?;
        strings.server_id = copy(c.server_id, "")?;
        strings.device_id = copy(c.device_id, "")?;
        let user = borrow(c.client_user)?.unwrap_or(strings.device_id.as_str());
        strings.client_user =
            heapless::String::try_from(user).map_err(|_| SCOMO_RESULT_TOO_LONG)?;
        strings.client_password = copy(c.client_password, "")?;
        strings.server_password = copy(c.server_password, "")?;
    }
    if strings.server_uri.is_empty() || strings.device_id.is_empty() || strings.server_id.is_empty()
    {
        return Err(SCOMO_RESULT_INVALID_ARGUMENT);
    }
    Ok(checked)
}

/// The client configuration over the agent's strings.
pub(crate) fn client_config(
    c: &Checked,
    strings: &'static Strings,
    has_server_password: bool,
    slot_capacity: u64,
) -> ClientConfig<'static> {
    let server = has_server_password.then_some(ServerAuth {
        account: Account {
            name: strings.server_id.as_str(),
            password: strings.server_password.as_bytes(),
        },
        scheme: c.server_scheme,
    });
    let max_obj_size = if c.max_obj_size == 0 {
        u32::try_from(slot_capacity).unwrap_or(u32::MAX)
    } else {
        c.max_obj_size
    };
    let mut config = ClientConfig::new(
        session::Config {
            server_uri: strings.server_uri.as_str(),
            device_id: strings.device_id.as_str(),
            encoding: c.encoding,
            client: Account {
                name: strings.client_user.as_str(),
                password: strings.client_password.as_bytes(),
            },
            server,
            server_id: strings.server_id.as_str(),
            max_msg_size: c.max_msg_size,
            max_obj_size,
        },
        c.client_scheme,
    );
    if c.retry_delay_ms > 0 {
        config.executor.retry_ms = u64::from(c.retry_delay_ms);
        config.executor.report_retry_ms = u64::from(c.retry_delay_ms);
    }
    config
}

/// An empty tree of this build's shape: DevInfo, DevDetail, one DM account and the SCOMO
/// object at `./SCOMO`, with nothing set; [`provision`] fills it in place.
pub(crate) fn empty_tree() -> Result<FfiTree, scomo_result> {
    let bad = |_| SCOMO_RESULT_INVALID_ARGUMENT;
    Tree::new(
        DevInfo::new(),
        DevDetail::new(),
        DmAcc::new("dm").map_err(bad)?,
        Scomo::new(MoVersion::V1_0),
        "./SCOMO",
    )
    .map_err(bad)
}

/// Provisions the tree the agent starts from, in place: DevInfo, DevDetail (Large Objects
/// on), the DM account naming the server, the SCOMO object open to that server.
pub(crate) fn provision(
    tree: &mut FfiTree,
    c: &Checked,
    strings: &Strings,
) -> Result<(), scomo_result> {
    let bad = |_| SCOMO_RESULT_INVALID_ARGUMENT;
    let info = tree.devinfo_mut();
    for (leaf, value) in [
        (DevInfoLeaf::DevId, strings.device_id.as_str()),
        (DevInfoLeaf::Man, c.manufacturer.as_str()),
        (DevInfoLeaf::Mod, c.model.as_str()),
        (
            DevInfoLeaf::DmV,
            concat!("scomo-ffi ", env!("CARGO_PKG_VERSION")),
        ),
        (DevInfoLeaf::Lang, "en"),
    ] {
        info.set(leaf, value).map_err(bad)?;
    }
    tree.devdetail_mut().set_large_objects(true);
    tree.dmacc_mut()
        .set(DmAccLeaf::ServerId, strings.server_id.as_str())
        .map_err(bad)?;
    tree.set_acl("./SCOMO", "Get=*&Add=*&Replace=*&Delete=*&Exec=*")
        .map_err(bad)?;
    Ok(())
}
