//! Authentication: basic, MD5 digest and HMAC credentials (digest 7.8).
//!
//! Everything here is a pure function or a plain value: no I/O, no clock, no heap. The
//! session engine asks this module for the credential to put in a `SyncHdr/Cred` or the
//! value of the `x-syncml-hmac` transport header, hands it the server's answers (the
//! SyncHdr `Status` with its `Chal`), and asks it to verify what the server sent.
//!
//! One formula serves MD5 credentials, HMAC and the Package #0 digest (H = MD5, B64 =
//! base64 text): `H( B64(H(name ":" password)) ":" nonce [":" B64(H(body))] )`, see
//! [`md5_digest`]. Nonces are always hashed as their **decoded bytes** (digest 7.8); the
//! client's nonce (`CLCRED`, chosen by the server) and the server's nonce (`SRVCRED`,
//! chosen by us, also used for Package #0) are kept apart in [`AuthState`].
//!
//! Every comparison of a secret-derived value uses [`constant_time_eq`]. None of these MD5
//! constructions is a modern MAC: they are implemented for interoperability, and TLS plus
//! package signatures are the real defence.
mod hash;
mod hmac;
mod state;

pub use hash::{
    B64_MD5_LEN, B64Text, Credential, MD5_LEN, basic_credential, constant_time_eq, md5_credential,
    md5_digest, verify_credential,
};
pub use hmac::{HMAC_HEADER_NAME, HmacHeader, verify_hmac, write_hmac_header};
pub use state::{
    AuthState, Challenge, HeaderOutcome, MAX_CHALLENGE_RETRIES, MAX_NONCE_LEN, NONCE_LEN, Nonce,
};

use crate::codes::StatusCode;

/// A name and password: a DMAcc `AppAuth` entry's `AAuthName` and `AAuthSecret` (for the
/// client's credentials), or the server id and server password (`SRVCRED`) that the server
/// proves it knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    /// The user name (`Source/LocName` of the SyncHdr for MD5, `username` of the HMAC
    /// header) or the server id.
    pub name: &'a str,
    /// The shared secret.
    pub password: &'a [u8],
}

impl core::fmt::Debug for Account<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("password", &"<secret>")
            .finish()
    }
}

/// The authentication schemes of OMA DM 1.2 (digest 7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthScheme {
    /// `syncml:auth-basic`: `B64(name ":" password)` in `SyncHdr/Cred`.
    Basic,
    /// `syncml:auth-md5`: the MD5 digest credential in `SyncHdr/Cred`.
    Md5,
    /// `syncml:auth-MAC`: an HMAC of every message in the `x-syncml-hmac` transport header
    /// (never in a `Cred`; it only appears in a `Chal`).
    Hmac,
}

impl AuthScheme {
    /// The value of `Meta/Type` naming the scheme in a `Cred` or `Chal`.
    pub const fn meta_type(self) -> &'static str {
        match self {
            AuthScheme::Basic => "syncml:auth-basic",
            AuthScheme::Md5 => "syncml:auth-md5",
            AuthScheme::Hmac => "syncml:auth-MAC",
        }
    }

    /// The scheme a `Meta/Type` names. Servers differ in the case they write
    /// (`syncml:auth-MAC`, `syncml:auth-mac`), so the comparison ignores ASCII case.
    pub fn from_meta_type(meta_type: &str) -> Option<Self> {
        [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Hmac]
            .into_iter()
            .find(|s| s.meta_type().eq_ignore_ascii_case(meta_type.trim()))
    }

    /// The scheme's number in a persisted [`AuthState`] record.
    const fn tag(self) -> u8 {
        match self {
            AuthScheme::Basic => 0,
            AuthScheme::Md5 => 1,
            AuthScheme::Hmac => 2,
        }
    }

    /// The scheme a persisted tag names.
    const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(AuthScheme::Basic),
            1 => Some(AuthScheme::Md5),
            2 => Some(AuthScheme::Hmac),
            _ => None,
        }
    }
}

/// Why an authentication step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthError {
    /// The credential, HMAC or digest does not verify (DM 401).
    BadCredentials,
    /// Credentials were required but none were given (DM 407).
    MissingCredentials,
    /// A credential was offered in a scheme that is not acceptable here (for example
    /// `syncml:auth-MAC` in a `Cred`) (DM 401).
    WrongScheme,
    /// Base64 text (a credential, MAC or nonce) does not decode, or decodes to the wrong
    /// length (DM 401).
    BadEncoding,
    /// A nonce is longer than [`MAX_NONCE_LEN`] bytes.
    NonceTooLong,
    /// The `x-syncml-hmac` header value is not of the form
    /// `algorithm=MD5, username="…", mac=…` (DM 401).
    MalformedHmacHeader,
    /// The HMAC header names an algorithm other than MD5 (DM 401).
    UnsupportedAlgorithm,
    /// A user name contains a character that cannot be written into a header (`"`, `,`
    /// or a control character).
    InvalidName,
    /// The caller's output buffer is too small.
    BufferTooSmall,
    /// The server keeps refusing our credentials: the session must end (digest 7.8).
    Rejected,
    /// A persisted authentication record does not decode.
    CorruptRecord,
}

impl AuthError {
    /// The DM status code to answer the peer with, for errors about what the peer sent
    /// (`None` for errors that are the device's own: buffer sizes, corrupt records, a
    /// session the server refuses).
    pub const fn status(self) -> Option<StatusCode> {
        match self {
            AuthError::BadCredentials
            | AuthError::WrongScheme
            | AuthError::BadEncoding
            | AuthError::MalformedHmacHeader
            | AuthError::UnsupportedAlgorithm => Some(StatusCode::Unauthorized),
            AuthError::MissingCredentials => Some(StatusCode::AuthenticationRequired),
            AuthError::NonceTooLong
            | AuthError::InvalidName
            | AuthError::BufferTooSmall
            | AuthError::Rejected
            | AuthError::CorruptRecord => None,
        }
    }
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            AuthError::BadCredentials => "credentials do not verify",
            AuthError::MissingCredentials => "credentials missing",
            AuthError::WrongScheme => "authentication scheme not acceptable",
            AuthError::BadEncoding => "bad base64 in credential, MAC or nonce",
            AuthError::NonceTooLong => "nonce too long",
            AuthError::MalformedHmacHeader => "malformed x-syncml-hmac header",
            AuthError::UnsupportedAlgorithm => "unsupported HMAC algorithm",
            AuthError::InvalidName => "user name not writable in a header",
            AuthError::BufferTooSmall => "output buffer too small",
            AuthError::Rejected => "server rejected the credentials",
            AuthError::CorruptRecord => "corrupt authentication record",
        };
        f.write_str(text)
    }
}

impl core::error::Error for AuthError {}
