//! Package #0: the server-alerted notification (digest 7.2) that asks the device to open a
//! DM session (answered with Alert 1200 in Package 1).
//!
//! Layout (big-endian): a 16-byte MD5 digest, then the *trigger*: 10 bits version, 2 bits
//! UI mode, 1 bit initiator, 27 reserved bits (zero), 16 bits session id, one length byte N,
//! N bytes of server id, and an optional vendor-specific body up to the end.
//!
//! [`accept`] does everything a device must do with a received notification, in this
//! order: parse with bounds checks ([`Notification::parse`]), check that the server id is
//! the configured one, verify the digest with the server's credentials (`SRVCRED`) and, if
//! that fails, with the resynchronisation nonce (four zero bytes), and start no second
//! session for a session id already served ([`ServedSessions`]). [`Trigger::write`] builds a
//! notification with a correct digest (for the test server and the tests).
//!
//! Faults of other clients that this parser is tested against (each a named test in
//! `tests/pkg0_*.rs`): a server-id length byte that runs past the end of the message (an
//! out-of-bounds read in one open-source client), a message shorter than the fixed header,
//! the session id byte-swapped twice, the four-zero-byte nonce written as ASCII text.
mod served;
mod session_id;

pub use served::ServedSessions;
pub use session_id::{SessionId, SessionIdText};

use crate::dm::auth::{Account, constant_time_eq, md5_digest};
use crate::log::{debug, warn};

/// The MIME type of a Package #0 (WSP content-type code 0x44).
pub const CONTENT_TYPE: &str = "application/vnd.syncml.notification";

/// Length of the digest at the start of the notification.
pub const DIGEST_LEN: usize = 16;

/// Length of everything before the server id: digest, 40-bit header, session id, length byte.
pub const FIXED_LEN: usize = DIGEST_LEN + 8;

/// The notification version we write: 11, i.e. 1.1 (the version DM 1.2 mandates).
pub const VERSION: u16 = 11;

/// The versions we accept: 1.0 to 1.2. DM 1.2 mandates 11; clients in the field disagree
/// (one accepts only 11, another ignores the field), so we take the neighbours too.
pub const ACCEPTED_VERSIONS: core::ops::RangeInclusive<u16> = 10..=12;

/// The resynchronisation nonce: four zero bytes (not the ASCII text `0x00000000`).
pub const RESYNC_NONCE: [u8; 4] = [0; 4];

/// The largest version the 10-bit field can hold.
const MAX_VERSION: u16 = (1 << 10) - 1;

/// The server's advice on how to involve the user (2 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UiMode {
    /// 0: no recommendation.
    NotSpecified,
    /// 1: run the session in the background.
    Background,
    /// 2: tell the user the session is starting.
    Informative,
    /// 3: ask the user to accept the session first.
    UserInteraction,
}

impl UiMode {
    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            UiMode::NotSpecified => 0,
            UiMode::Background => 1,
            UiMode::Informative => 2,
            UiMode::UserInteraction => 3,
        }
    }

    /// The mode of the low 2 bits of `bits`.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => UiMode::NotSpecified,
            1 => UiMode::Background,
            2 => UiMode::Informative,
            _ => UiMode::UserInteraction,
        }
    }
}

/// Who caused the session, as the server sees it (1 bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Initiator {
    /// 0: the end user asked for it.
    Client,
    /// 1: the server (operator, enterprise) has work to do.
    Server,
}

/// Why a notification was refused. Every refusal means: drop it silently, start no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pkg0Error {
    /// Shorter than the fixed header ([`FIXED_LEN`] bytes).
    TooShort,
    /// The server-id length byte points past the end of the message.
    ServerIdPastEnd,
    /// A version outside [`ACCEPTED_VERSIONS`] (the value read, or asked to write).
    UnsupportedVersion(u16),
    /// One of the 27 reserved bits is set.
    ReservedBitsSet,
    /// Session id 0 (the protocol's range is 1 to 0xFFFF).
    ZeroSessionId,
    /// The server id is not the one configured for this account.
    UnknownServer,
    /// The digest verifies neither with the stored server nonce nor with the
    /// resynchronisation nonce.
    BadDigest,
    /// A session with this id was already started: start no second one.
    AlreadyServed(SessionId),
    /// Building: a server id longer than 255 bytes.
    ServerIdTooLong,
    /// The caller's output buffer is too small.
    BufferTooSmall,
    /// A persisted [`ServedSessions`] record does not decode.
    CorruptRecord,
}

impl core::fmt::Display for Pkg0Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Pkg0Error::TooShort => "notification shorter than its fixed header",
            Pkg0Error::ServerIdPastEnd => "server id runs past the end of the notification",
            Pkg0Error::UnsupportedVersion(_) => "unsupported notification version",
            Pkg0Error::ReservedBitsSet => "reserved bits set",
            Pkg0Error::ZeroSessionId => "session id 0",
            Pkg0Error::UnknownServer => "server id not configured",
            Pkg0Error::BadDigest => "digest does not verify",
            Pkg0Error::AlreadyServed(_) => "session id already served",
            Pkg0Error::ServerIdTooLong => "server id longer than 255 bytes",
            Pkg0Error::BufferTooSmall => "output buffer too small",
            Pkg0Error::CorruptRecord => "corrupt served-sessions record",
        };
        f.write_str(text)
    }
}

impl core::error::Error for Pkg0Error {}

/// The fields of a trigger (everything after the digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger<'a> {
    /// Notification version × 10 (11 for 1.1).
    pub version: u16,
    /// The server's advice on user involvement.
    pub ui_mode: UiMode,
    /// Who caused the session.
    pub initiator: Initiator,
    /// The session id to put in `SyncHdr/SessionID` (see [`SessionId::to_text`]).
    pub session_id: SessionId,
    /// The server id (DMAcc `ServerID`).
    pub server_id: &'a [u8],
    /// The optional vendor-specific body (empty when absent).
    pub vendor: &'a [u8],
}

impl Trigger<'_> {
    /// Writes a complete notification (digest and trigger) into `out` and returns its
    /// length. The digest is computed with `server_id` as the name, `password` as the
    /// server password and `nonce` as the server nonce (decoded bytes).
    ///
    /// # Errors
    /// [`Pkg0Error::UnsupportedVersion`] above 1023 (the field has 10 bits),
    /// [`Pkg0Error::ServerIdTooLong`], [`Pkg0Error::BufferTooSmall`].
    pub fn write(&self, password: &[u8], nonce: &[u8], out: &mut [u8]) -> Result<usize, Pkg0Error> {
        if self.version > MAX_VERSION {
            return Err(Pkg0Error::UnsupportedVersion(self.version));
        }
        let id_len = u8::try_from(self.server_id.len()).map_err(|_| Pkg0Error::ServerIdTooLong)?;
        let total = FIXED_LEN + self.server_id.len() + self.vendor.len();
        let out = out.get_mut(..total).ok_or(Pkg0Error::BufferTooSmall)?;
        let (digest, trigger) = out.split_at_mut(DIGEST_LEN);
        let header: u64 = (u64::from(self.version) << 30)
            | (u64::from(self.ui_mode.bits()) << 28)
            | (u64::from(self.initiator == Initiator::Server) << 27);
        let header = header.to_be_bytes();
        let session = self.session_id.get().to_be_bytes();
        let mut at = 0;
        for part in [
            header.get(3..).unwrap_or_default(),
            &session,
            &[id_len],
            self.server_id,
            self.vendor,
        ] {
            let end = at + part.len();
            trigger
                .get_mut(at..end)
                .ok_or(Pkg0Error::BufferTooSmall)?
                .copy_from_slice(part);
            at = end;
        }
        digest.copy_from_slice(&md5_digest(self.server_id, password, nonce, Some(trigger)));
        Ok(total)
    }
}

/// A parsed notification, borrowing from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification<'a> {
    /// The digest the server sent.
    pub digest: [u8; DIGEST_LEN],
    /// The trigger's fields.
    pub trigger: Trigger<'a>,
    /// The trigger's bytes, over which the digest is computed.
    pub trigger_bytes: &'a [u8],
}

impl<'a> Notification<'a> {
    /// Parses a notification. Every length is checked against the message before it is
    /// used: nothing is read outside `message`.
    ///
    /// # Errors
    /// [`Pkg0Error::TooShort`], [`Pkg0Error::ServerIdPastEnd`],
    /// [`Pkg0Error::UnsupportedVersion`], [`Pkg0Error::ReservedBitsSet`],
    /// [`Pkg0Error::ZeroSessionId`].
    pub fn parse(message: &'a [u8]) -> Result<Self, Pkg0Error> {
        let (digest, trigger_bytes) = message
            .split_first_chunk::<DIGEST_LEN>()
            .ok_or(Pkg0Error::TooShort)?;
        let (fixed, rest) = trigger_bytes
            .split_first_chunk::<{ FIXED_LEN - DIGEST_LEN }>()
            .ok_or(Pkg0Error::TooShort)?;
        let [h0, h1, h2, h3, h4, s0, s1, id_len] = *fixed;
        // One 40-bit header read once, big-endian; the session id is read big-endian once
        // (never swapped a second time).
        let header = u64::from_be_bytes([0, 0, 0, h0, h1, h2, h3, h4]);
        let version = (header >> 30) as u16;
        if !ACCEPTED_VERSIONS.contains(&version) {
            return Err(Pkg0Error::UnsupportedVersion(version));
        }
        if header & ((1 << 27) - 1) != 0 {
            return Err(Pkg0Error::ReservedBitsSet);
        }
        let session_id =
            SessionId::new(u16::from_be_bytes([s0, s1])).ok_or(Pkg0Error::ZeroSessionId)?;
        let (server_id, vendor) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or(Pkg0Error::ServerIdPastEnd)?;
        Ok(Self {
            digest: *digest,
            trigger: Trigger {
                version,
                ui_mode: UiMode::from_bits((header >> 28) as u8),
                initiator: if header & (1 << 27) != 0 {
                    Initiator::Server
                } else {
                    Initiator::Client
                },
                session_id,
                server_id,
                vendor,
            },
            trigger_bytes,
        })
    }

    /// Checks that the notification comes from `server` (its id is `server.name`) and that
    /// its digest verifies with `server.password` and the stored server nonce — or, failing
    /// that, with [`RESYNC_NONCE`]. Comparisons are constant-time.
    ///
    /// # Errors
    /// [`Pkg0Error::UnknownServer`], [`Pkg0Error::BadDigest`].
    pub fn verify(
        &self,
        server: &Account<'_>,
        server_nonce: &[u8],
    ) -> Result<NonceMatch, Pkg0Error> {
        if !constant_time_eq(self.trigger.server_id, server.name.as_bytes()) {
            return Err(Pkg0Error::UnknownServer);
        }
        let digest_with = |nonce: &[u8]| {
            md5_digest(
                server.name.as_bytes(),
                server.password,
                nonce,
                Some(self.trigger_bytes),
            )
        };
        if constant_time_eq(&digest_with(server_nonce), &self.digest) {
            Ok(NonceMatch::Stored)
        } else if constant_time_eq(&digest_with(&RESYNC_NONCE), &self.digest) {
            Ok(NonceMatch::Resync)
        } else {
            Err(Pkg0Error::BadDigest)
        }
    }
}

/// Which nonce the digest verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NonceMatch {
    /// The stored server nonce.
    Stored,
    /// The resynchronisation nonce: the server lost our nonce. Start the session and give
    /// the server a fresh nonce (a `Chal` with `NextNonce`) in it. Note that an old
    /// notification made with this nonce can be replayed as long as the server id and
    /// password stay the same; [`ServedSessions`] stops replays of recent session ids.
    Resync,
}

/// A notification that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// The notification.
    pub notification: Notification<'a>,
    /// Which nonce verified it.
    pub nonce: NonceMatch,
}

/// Takes in a received notification: parses it, checks the server id and digest
/// ([`Notification::verify`]), refuses a session id already in `served`, and records the
/// new session id in `served` (only when every check passed, so forged notifications cannot
/// push real ones out). The caller then persists `served` before starting the session, so
/// that a power cut cannot make it serve the same notification twice.
///
/// # Errors
/// As [`Notification::parse`] and [`Notification::verify`], and
/// [`Pkg0Error::AlreadyServed`]; `served` is unchanged on every error.
pub fn accept<'a, const N: usize>(
    message: &'a [u8],
    server: &Account<'_>,
    server_nonce: &[u8],
    served: &mut ServedSessions<N>,
) -> Result<Accepted<'a>, Pkg0Error> {
    let accepted = check(message, server, server_nonce, served);
    match &accepted {
        Ok(a) => debug!(
            "Package #0 accepted: session {}, digest with the {:?} nonce",
            a.notification.trigger.session_id.to_text().as_str(),
            a.nonce
        ),
        Err(e) => warn!("Package #0 refused: {:?}", e),
    }
    accepted
}

/// [`accept`] without its log point.
fn check<'a, const N: usize>(
    message: &'a [u8],
    server: &Account<'_>,
    server_nonce: &[u8],
    served: &mut ServedSessions<N>,
) -> Result<Accepted<'a>, Pkg0Error> {
    let notification = Notification::parse(message)?;
    let nonce = notification.verify(server, server_nonce)?;
    let id = notification.trigger.session_id;
    if served.contains(id) {
        return Err(Pkg0Error::AlreadyServed(id));
    }
    served.record(id);
    Ok(Accepted {
        notification,
        nonce,
    })
}
