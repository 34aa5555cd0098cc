//! `scomo_result`: the one result type of the C API, with stable numbers.
//!
//! Every API function returns one, and every platform callback returns one. The numbers
//! never change once released; new codes take new numbers. Ranges:
//!
//! | Range | Meaning |
//! |---|---|
//! | 0 | success |
//! | 1–19 | the caller broke a rule of the API (null pointer, memory, order, handle) |
//! | 20–39 | the agent could not do what was asked (notification refused, capacity, corrupt state) |
//! | 40–59 | storage: returned by the store callbacks and passed through by the API |
//! | 60–79 | installer: returned by the installer callbacks |
//! | 80–89 | randomness |

use scomo::client::ClientError;
use scomo::dm::pkg0::Pkg0Error;
use scomo::dm::session;
use scomo::ops::ExecError;
use scomo::platform::{InstallerErrorKind, StorageErrorKind};

/// The result of every API function and every platform callback (`SCOMO_RESULT_*`).
pub type scomo_result = i32;

/// Success.
pub const SCOMO_RESULT_OK: scomo_result = 0;
/// A pointer argument that must not be NULL was NULL (nothing changed).
pub const SCOMO_RESULT_NULL_POINTER: scomo_result = 1;
/// The memory given to `scomo_agent_init` is smaller than `scomo_agent_storage_size()`.
pub const SCOMO_RESULT_TOO_SMALL: scomo_result = 2;
/// The memory given to `scomo_agent_init`, or a handle, is not aligned to
/// `SCOMO_AGENT_STORAGE_ALIGN`.
pub const SCOMO_RESULT_MISALIGNED: scomo_result = 3;
/// The handle does not point to an initialised agent (never initialised, or overwritten).
pub const SCOMO_RESULT_NOT_INITIALIZED: scomo_result = 4;
/// The handle points to an agent that was released.
pub const SCOMO_RESULT_RELEASED: scomo_result = 5;
/// The agent's storage was copied or moved after `scomo_agent_init`: use it where it was
/// initialised.
pub const SCOMO_RESULT_MOVED: scomo_result = 6;
/// The call does not fit the agent's state (e.g. `scomo_agent_poll` before
/// `scomo_agent_configure`, `scomo_agent_fetch_body` without a fetch); nothing changed.
pub const SCOMO_RESULT_WRONG_ORDER: scomo_result = 7;
/// A platform callback called back into the same agent (re-entrancy is not allowed).
pub const SCOMO_RESULT_BUSY: scomo_result = 8;
/// An argument is out of range: an unknown enum value, a missing required callback, a
/// string that is not UTF-8, a zero size.
pub const SCOMO_RESULT_INVALID_ARGUMENT: scomo_result = 9;
/// A string or buffer is longer than this build's capacity for it (`SCOMO_*_CAP`).
pub const SCOMO_RESULT_TOO_LONG: scomo_result = 10;
/// A Rust panic was caught at the API boundary (host builds only; it is a bug). The agent
/// refuses every call but `scomo_agent_release` from now on.
pub const SCOMO_RESULT_PANICKED: scomo_result = 11;

/// The Package #0 does not verify: unknown server id, or a digest that matches neither
/// nonce (DM 401). No session is started.
pub const SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED: scomo_result = 20;
/// The Package #0's session id was served before (a replay). No session is started.
pub const SCOMO_RESULT_NOTIFICATION_REPLAYED: scomo_result = 21;
/// The Package #0 is not one: too short, bad version, reserved bits set (DM 400).
pub const SCOMO_RESULT_NOTIFICATION_MALFORMED: scomo_result = 22;
/// A fixed capacity of this build is too small for the data (the state record for the
/// scratch buffer, a message for the send buffer).
pub const SCOMO_RESULT_CAPACITY: scomo_result = 23;
/// The device's credentials cannot be put in a message (a user name that cannot go in a
/// header).
pub const SCOMO_RESULT_CREDENTIALS: scomo_result = 24;

/// Storage: no record, package or key of that name exists. `read` and `next` of the state
/// store also use it for "no such record".
pub const SCOMO_RESULT_NOT_FOUND: scomo_result = 40;
/// Storage: the key lies outside `0..slots`.
pub const SCOMO_RESULT_INVALID_KEY: scomo_result = 41;
/// Storage: no room left for this record or package, although it would fit an empty store.
pub const SCOMO_RESULT_NO_SPACE: scomo_result = 42;
/// Storage: larger than the store can ever hold, or a write past the declared size.
pub const SCOMO_RESULT_TOO_LARGE: scomo_result = 43;
/// Storage: the caller's buffer is too small for the record.
pub const SCOMO_RESULT_BUFFER_TOO_SMALL: scomo_result = 44;
/// Storage: the stored bytes failed their check; also a stored agent record that does not
/// decode.
pub const SCOMO_RESULT_CORRUPTED: scomo_result = 45;
/// Storage: the call does not fit the object's state (e.g. resuming a complete package).
pub const SCOMO_RESULT_WRONG_STATE: scomo_result = 46;
/// Storage: the device failed (flash error), or a callback broke its contract (a read
/// longer than asked, a durable offset past the written bytes).
pub const SCOMO_RESULT_IO: scomo_result = 47;
/// Any other failure (storage or installer).
pub const SCOMO_RESULT_FAILED: scomo_result = 48;

/// Installer: not enough memory or storage to install (result 1406).
pub const SCOMO_RESULT_OUT_OF_MEMORY: scomo_result = 60;
/// Installer: the package is malformed or its signature does not hold (result 1407).
pub const SCOMO_RESULT_INVALID_PACKAGE: scomo_result = 61;
/// Installer: the package targets an execution environment the device lacks (result 1413).
pub const SCOMO_RESULT_UNSUPPORTED_ENV_TYPE: scomo_result = 62;
/// Installer: the device does not support this operation (result 1411).
pub const SCOMO_RESULT_NOT_IMPLEMENTED: scomo_result = 63;

/// Randomness: the source has no entropy to give now, or failed.
pub const SCOMO_RESULT_RANDOM_FAILED: scomo_result = 80;

/// Every result code with its name: the one table [`scomo_result_name`] reads.
pub(crate) const NAMES: &[(scomo_result, &core::ffi::CStr)] = &[
    (SCOMO_RESULT_OK, c"SCOMO_RESULT_OK"),
    (SCOMO_RESULT_NULL_POINTER, c"SCOMO_RESULT_NULL_POINTER"),
    (SCOMO_RESULT_TOO_SMALL, c"SCOMO_RESULT_TOO_SMALL"),
    (SCOMO_RESULT_MISALIGNED, c"SCOMO_RESULT_MISALIGNED"),
    (
        SCOMO_RESULT_NOT_INITIALIZED,
        c"SCOMO_RESULT_NOT_INITIALIZED",
    ),
    (SCOMO_RESULT_RELEASED, c"SCOMO_RESULT_RELEASED"),
    (SCOMO_RESULT_MOVED, c"SCOMO_RESULT_MOVED"),
    (SCOMO_RESULT_WRONG_ORDER, c"SCOMO_RESULT_WRONG_ORDER"),
    (SCOMO_RESULT_BUSY, c"SCOMO_RESULT_BUSY"),
    (
        SCOMO_RESULT_INVALID_ARGUMENT,
        c"SCOMO_RESULT_INVALID_ARGUMENT",
    ),
    (SCOMO_RESULT_TOO_LONG, c"SCOMO_RESULT_TOO_LONG"),
    (SCOMO_RESULT_PANICKED, c"SCOMO_RESULT_PANICKED"),
    (
        SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED,
        c"SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED",
    ),
    (
        SCOMO_RESULT_NOTIFICATION_REPLAYED,
        c"SCOMO_RESULT_NOTIFICATION_REPLAYED",
    ),
    (
        SCOMO_RESULT_NOTIFICATION_MALFORMED,
        c"SCOMO_RESULT_NOTIFICATION_MALFORMED",
    ),
    (SCOMO_RESULT_CAPACITY, c"SCOMO_RESULT_CAPACITY"),
    (SCOMO_RESULT_CREDENTIALS, c"SCOMO_RESULT_CREDENTIALS"),
    (SCOMO_RESULT_NOT_FOUND, c"SCOMO_RESULT_NOT_FOUND"),
    (SCOMO_RESULT_INVALID_KEY, c"SCOMO_RESULT_INVALID_KEY"),
    (SCOMO_RESULT_NO_SPACE, c"SCOMO_RESULT_NO_SPACE"),
    (SCOMO_RESULT_TOO_LARGE, c"SCOMO_RESULT_TOO_LARGE"),
    (
        SCOMO_RESULT_BUFFER_TOO_SMALL,
        c"SCOMO_RESULT_BUFFER_TOO_SMALL",
    ),
    (SCOMO_RESULT_CORRUPTED, c"SCOMO_RESULT_CORRUPTED"),
    (SCOMO_RESULT_WRONG_STATE, c"SCOMO_RESULT_WRONG_STATE"),
    (SCOMO_RESULT_IO, c"SCOMO_RESULT_IO"),
    (SCOMO_RESULT_FAILED, c"SCOMO_RESULT_FAILED"),
    (SCOMO_RESULT_OUT_OF_MEMORY, c"SCOMO_RESULT_OUT_OF_MEMORY"),
    (
        SCOMO_RESULT_INVALID_PACKAGE,
        c"SCOMO_RESULT_INVALID_PACKAGE",
    ),
    (
        SCOMO_RESULT_UNSUPPORTED_ENV_TYPE,
        c"SCOMO_RESULT_UNSUPPORTED_ENV_TYPE",
    ),
    (
        SCOMO_RESULT_NOT_IMPLEMENTED,
        c"SCOMO_RESULT_NOT_IMPLEMENTED",
    ),
    (SCOMO_RESULT_RANDOM_FAILED, c"SCOMO_RESULT_RANDOM_FAILED"),
];

/// The name of a result code (`"SCOMO_RESULT_OK"`, ...), or `"SCOMO_RESULT_UNKNOWN"`.
/// The string is static and NUL-terminated.
#[unsafe(no_mangle)]
pub extern "C" fn scomo_result_name(result: scomo_result) -> *const core::ffi::c_char {
    c_name(result).as_ptr()
}

fn c_name(result: scomo_result) -> &'static core::ffi::CStr {
    NAMES
        .iter()
        .find(|(code, _)| *code == result)
        .map_or(c"SCOMO_RESULT_UNKNOWN", |(_, name)| name)
}

/// The name of a result code, for the log.
pub(crate) fn name(result: scomo_result) -> &'static str {
    c_name(result).to_str().unwrap_or("SCOMO_RESULT_UNKNOWN")
}

/// A storage error kind as a result code.
pub(crate) const fn from_storage(kind: StorageErrorKind) -> scomo_result {
    match kind {
        StorageErrorKind::NotFound => SCOMO_RESULT_NOT_FOUND,
        StorageErrorKind::InvalidKey => SCOMO_RESULT_INVALID_KEY,
        StorageErrorKind::NoSpace => SCOMO_RESULT_NO_SPACE,
        StorageErrorKind::TooLarge => SCOMO_RESULT_TOO_LARGE,
        StorageErrorKind::BufferTooSmall => SCOMO_RESULT_BUFFER_TOO_SMALL,
        StorageErrorKind::Corrupted => SCOMO_RESULT_CORRUPTED,
        StorageErrorKind::WrongState => SCOMO_RESULT_WRONG_STATE,
        StorageErrorKind::Poisoned | StorageErrorKind::Io => SCOMO_RESULT_IO,
        _ => SCOMO_RESULT_FAILED,
    }
}

/// A store callback's result as a storage error kind (`None` for success). Codes a store
/// has no use for become [`StorageErrorKind::Other`].
pub(crate) const fn to_storage(result: scomo_result) -> Option<StorageErrorKind> {
    Some(match result {
        SCOMO_RESULT_OK => return None,
        SCOMO_RESULT_NOT_FOUND => StorageErrorKind::NotFound,
        SCOMO_RESULT_INVALID_KEY => StorageErrorKind::InvalidKey,
        SCOMO_RESULT_NO_SPACE => StorageErrorKind::NoSpace,
        SCOMO_RESULT_TOO_LARGE => StorageErrorKind::TooLarge,
        SCOMO_RESULT_BUFFER_TOO_SMALL => StorageErrorKind::BufferTooSmall,
        SCOMO_RESULT_CORRUPTED => StorageErrorKind::Corrupted,
        SCOMO_RESULT_WRONG_STATE => StorageErrorKind::WrongState,
        SCOMO_RESULT_IO => StorageErrorKind::Io,
        _ => StorageErrorKind::Other,
    })
}

/// An installer callback's result as an installer error kind (`None` for success).
pub(crate) const fn to_installer(result: scomo_result) -> Option<InstallerErrorKind> {
    Some(match result {
        SCOMO_RESULT_OK => return None,
        SCOMO_RESULT_FAILED => InstallerErrorKind::Failed,
        SCOMO_RESULT_OUT_OF_MEMORY => InstallerErrorKind::OutOfMemory,
        SCOMO_RESULT_INVALID_PACKAGE => InstallerErrorKind::InvalidPackage,
        SCOMO_RESULT_UNSUPPORTED_ENV_TYPE => InstallerErrorKind::UnsupportedEnvType,
        SCOMO_RESULT_NOT_FOUND => InstallerErrorKind::NotFound,
        SCOMO_RESULT_NOT_IMPLEMENTED => InstallerErrorKind::NotImplemented,
        _ => InstallerErrorKind::Other,
    })
}

/// A client error as a result code.
pub(crate) const fn from_client(e: ClientError) -> scomo_result {
    match e {
        ClientError::Exec(ExecError::Storage(kind)) | ClientError::Storage(kind) => {
            from_storage(kind)
        }
        ClientError::Exec(ExecError::Corrupted) | ClientError::Corrupted => SCOMO_RESULT_CORRUPTED,
        ClientError::Exec(ExecError::ScratchTooSmall) => SCOMO_RESULT_CAPACITY,
        ClientError::Session(session::Error::BufferTooSmall) => SCOMO_RESULT_CAPACITY,
        ClientError::Session(session::Error::Credentials(_)) => SCOMO_RESULT_CREDENTIALS,
        ClientError::Session(session::Error::Rng) | ClientError::Rng => SCOMO_RESULT_RANDOM_FAILED,
        ClientError::Session(
            session::Error::NotStarted | session::Error::AlreadyStarted | session::Error::Over,
        )
        | ClientError::NoSession
        | ClientError::SessionRunning => SCOMO_RESULT_WRONG_ORDER,
    }
}

/// A refused Package #0 as a result code.
pub(crate) const fn from_notification(e: Pkg0Error) -> scomo_result {
    match e {
        Pkg0Error::UnknownServer | Pkg0Error::BadDigest => SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED,
        Pkg0Error::AlreadyServed(_) => SCOMO_RESULT_NOTIFICATION_REPLAYED,
        Pkg0Error::BufferTooSmall => SCOMO_RESULT_CAPACITY,
        Pkg0Error::CorruptRecord => SCOMO_RESULT_CORRUPTED,
        _ => SCOMO_RESULT_NOTIFICATION_MALFORMED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_code_has_one_distinct_name_and_unknown_codes_say_so() {
        for (i, (code, name)) in NAMES.iter().enumerate() {
            assert!(
                NAMES
                    .iter()
                    .skip(i + 1)
                    .all(|(c, n)| c != code && n != name)
            );
            // SAFETY: the table holds static C strings.
            let got = unsafe { core::ffi::CStr::from_ptr(scomo_result_name(*code)) };
            assert_eq!(got, *name);
            assert!(name.to_str().unwrap().starts_with("SCOMO_RESULT_"));
        }
        // SAFETY: as above.
        let unknown = unsafe { core::ffi::CStr::from_ptr(scomo_result_name(12345)) };
        assert_eq!(unknown, c"SCOMO_RESULT_UNKNOWN");
    }

    #[test]
    fn storage_kinds_round_trip_through_result_codes() {
        for kind in [
            StorageErrorKind::NotFound,
            StorageErrorKind::InvalidKey,
            StorageErrorKind::NoSpace,
            StorageErrorKind::TooLarge,
            StorageErrorKind::BufferTooSmall,
            StorageErrorKind::Corrupted,
            StorageErrorKind::WrongState,
            StorageErrorKind::Io,
        ] {
            assert_eq!(to_storage(from_storage(kind)), Some(kind));
        }
        assert_eq!(to_storage(SCOMO_RESULT_OK), None);
        assert_eq!(to_storage(9999), Some(StorageErrorKind::Other));
        assert_eq!(
            to_installer(SCOMO_RESULT_INVALID_PACKAGE),
            Some(InstallerErrorKind::InvalidPackage)
        );
        assert_eq!(to_installer(-1), Some(InstallerErrorKind::Other));
    }
}
