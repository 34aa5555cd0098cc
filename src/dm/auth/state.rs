//! The authentication state of one DM account: nonces, the chosen scheme and what the
//! current session has established (digest 7.8).
use base64::Engine as _;

use super::hash::{B64, B64Text, Credential, basic_credential, md5_credential, verify_credential};
use super::hmac::{HmacHeader, verify_hmac, write_hmac_header};
use super::{Account, AuthError, AuthScheme};
use crate::codes::StatusCode;
use crate::platform::Rng;

/// Length in bytes of the nonces we generate (OMA DM asks for at least 128 bits).
pub const NONCE_LEN: usize = 16;

/// The longest nonce (decoded bytes) we keep from a server; a longer `NextNonce` is an
/// error ([`AuthError::NonceTooLong`]), never a truncation.
pub const MAX_NONCE_LEN: usize = 64;

/// How many challenges (401/407) we answer in one session before giving up with
/// [`AuthError::Rejected`]: the first answer and one more after a failure (digest 7.8).
pub const MAX_CHALLENGE_RETRIES: u8 = 2;

/// A nonce's decoded bytes.
pub type Nonce = heapless::Vec<u8, MAX_NONCE_LEN>;

/// Version byte of the persisted record written by [`AuthState::encode`].
const RECORD_VERSION: u8 = 1;

/// The server's challenge from a `Status/Chal` (on the Status for our SyncHdr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The scheme named by `Chal/Meta/Type`.
    pub scheme: AuthScheme,
    /// The base64 text of `Chal/Meta/NextNonce`, if any (its format must be `b64`).
    pub next_nonce: Option<&'a str>,
}

/// What the session does after the server's Status for our SyncHdr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderOutcome {
    /// Go on. Whether the next message carries credentials is answered by
    /// [`AuthState::needs_credentials`].
    Proceed,
    /// The server challenged (401/407): send the previous package's content again with the
    /// credentials now asked for (same SessionID, to RespURI if one was given).
    Resend,
}

/// Whether the server has accepted our credentials in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    /// Not yet: send credentials.
    Pending,
    /// 200 to credentials: send them in every message.
    PerMessage,
    /// 212: no more credentials needed in this session.
    Session,
}

/// Nonces and scheme of one DM account, plus what the current session has established.
///
/// Two nonces are kept apart (digest 7.8): the **client nonce** (`CLCRED` `AAuthData`),
/// chosen by the server, with which we build our credentials; and the **server nonce**
/// (`SRVCRED` `AAuthData`), chosen by us, with which the server builds its credentials,
/// its HMACs and the Package #0 digest.
///
/// The persisted part (scheme, both nonces) is written by [`encode`](Self::encode) and
/// read by [`decode`](Self::decode); the session part starts afresh with
/// [`begin_session`](Self::begin_session). The type itself never touches storage: when
/// [`needs_persisting`](Self::needs_persisting) says so, the caller stores the record —
/// and must do so **before** sending a message that carries a new server nonce, or a
/// power cut would leave the server using a nonce the device forgot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthState {
    /// Persisted: the scheme to start the next session with.
    preferred: AuthScheme,
    /// Persisted: the client nonce.
    client_nonce: Nonce,
    /// Persisted: the server nonce.
    server_nonce: Nonce,
    /// The scheme used in this session.
    active: AuthScheme,
    /// A nonce from a peer not (yet) authenticated: used for our next credential in this
    /// session, never stored.
    session_client_nonce: Option<Nonce>,
    client_auth: ClientAuth,
    sent_credentials: bool,
    server_authenticated: bool,
    challenges: u8,
    dirty: bool,
}

impl AuthState {
    /// The longest record [`encode`](Self::encode) writes.
    pub const MAX_ENCODED_LEN: usize = 4 + 2 * MAX_NONCE_LEN;

    /// A state for an account provisioned with `scheme` (DMAcc `AAuthPref`) and the initial
    /// client and server nonces (decoded bytes; empty when none was provisioned).
    ///
    /// # Errors
    /// [`AuthError::NonceTooLong`] when a nonce exceeds [`MAX_NONCE_LEN`].
    pub fn new(
        scheme: AuthScheme,
        client_nonce: &[u8],
        server_nonce: &[u8],
    ) -> Result<Self, AuthError> {
        let mut state = Self::initial(scheme);
        state.client_nonce = nonce_from(client_nonce)?;
        state.server_nonce = nonce_from(server_nonce)?;
        Ok(state)
    }

    /// A state for an account provisioned with `scheme` and no nonces yet (the first
    /// challenge brings them).
    pub fn initial(scheme: AuthScheme) -> Self {
        Self {
            preferred: scheme,
            client_nonce: Nonce::new(),
            server_nonce: Nonce::new(),
            active: scheme,
            session_client_nonce: None,
            client_auth: ClientAuth::Pending,
            sent_credentials: false,
            server_authenticated: false,
            challenges: 0,
            dirty: false,
        }
    }

    /// Forgets what the previous session established; the scheme goes back to the
    /// preferred one. Call it when a session starts.
    pub fn begin_session(&mut self) {
        self.active = self.preferred;
        self.session_client_nonce = None;
        self.client_auth = ClientAuth::Pending;
        self.sent_credentials = false;
        self.server_authenticated = false;
        self.challenges = 0;
    }

    /// The scheme this session uses for our credentials.
    pub fn scheme(&self) -> AuthScheme {
        self.active
    }

    /// The scheme the next session starts with (persisted).
    pub fn preferred_scheme(&self) -> AuthScheme {
        self.preferred
    }

    /// The client nonce our next credential is built with: a nonce an unauthenticated
    /// server gave in this session, else the stored one.
    pub fn client_nonce(&self) -> &[u8] {
        self.session_client_nonce
            .as_ref()
            .unwrap_or(&self.client_nonce)
    }

    /// The stored (persisted) client nonce.
    pub fn stored_client_nonce(&self) -> &[u8] {
        &self.client_nonce
    }

    /// The server nonce: what the server's credentials, HMACs and Package #0 digests are
    /// checked with.
    pub fn server_nonce(&self) -> &[u8] {
        &self.server_nonce
    }

    /// Whether the server's credentials (or HMAC) have verified in this session.
    pub fn server_authenticated(&self) -> bool {
        self.server_authenticated
    }

    /// Whether our next message must carry credentials: always with HMAC (every message),
    /// otherwise until the server answered 212.
    pub fn needs_credentials(&self) -> bool {
        self.active == AuthScheme::Hmac || self.client_auth != ClientAuth::Session
    }

    /// Whether the persisted part changed since [`mark_persisted`](Self::mark_persisted).
    pub fn needs_persisting(&self) -> bool {
        self.dirty
    }

    /// Puts back the server nonce that was current before a nonce was issued for a message
    /// that is then not sent: the server never saw the new one and still uses this one.
    ///
    /// # Errors
    /// [`AuthError::NonceTooLong`].
    pub fn restore_server_nonce(&mut self, nonce: &[u8]) -> Result<(), AuthError> {
        self.server_nonce = nonce_from(nonce)?;
        self.dirty = true;
        Ok(())
    }

    /// Records that the caller stored the current record.
    pub fn mark_persisted(&mut self) {
        self.dirty = false;
    }

    /// The credential for our next message's `SyncHdr/Cred`, written into `out` (basic
    /// needs `4 * ceil((name + 1 + password) / 3)` bytes, MD5 24). `None` when no `Cred`
    /// goes in: the server answered 212, or the scheme is HMAC (see
    /// [`hmac_header`](Self::hmac_header)).
    ///
    /// # Errors
    /// [`AuthError::BufferTooSmall`] when `out` is too short.
    pub fn credential<'o>(
        &mut self,
        account: &Account<'_>,
        out: &'o mut [u8],
    ) -> Result<Option<Credential<'o>>, AuthError> {
        if !self.needs_credentials() || self.active == AuthScheme::Hmac {
            return Ok(None);
        }
        let data = match self.active {
            AuthScheme::Basic => basic_credential(account, out)?,
            _ => {
                let text = md5_credential(account, self.client_nonce());
                let bytes = text.as_str().as_bytes();
                let dst = out
                    .get_mut(..bytes.len())
                    .ok_or(AuthError::BufferTooSmall)?;
                dst.copy_from_slice(bytes);
                core::str::from_utf8(dst).map_err(|_| AuthError::BufferTooSmall)?
            }
        };
        self.sent_credentials = true;
        Ok(Some(Credential {
            scheme: self.active,
            data,
        }))
    }

    /// The `x-syncml-hmac` header value for the exact `body` about to be sent, written into
    /// `out` (56 + name length bytes); `None` unless the scheme is HMAC.
    ///
    /// # Errors
    /// As [`write_hmac_header`].
    pub fn hmac_header<'o>(
        &mut self,
        account: &Account<'_>,
        body: &[u8],
        out: &'o mut [u8],
    ) -> Result<Option<&'o str>, AuthError> {
        if self.active != AuthScheme::Hmac {
            return Ok(None);
        }
        let nonce = self.client_nonce();
        let header = write_hmac_header(account, nonce, body, out)?;
        self.sent_credentials = true;
        Ok(Some(header))
    }

    /// Takes in the server's Status for our SyncHdr (`status`, and its `Chal` if any).
    ///
    /// - 212: no more credentials in this session; 200 after credentials: send them in
    ///   every message.
    /// - 401/407 with a `Chal`: switch to exactly the challenged scheme and nonce and
    ///   [`Resend`](HeaderOutcome::Resend); 407 without one, when we sent no credentials
    ///   yet: resend with the current scheme. At most [`MAX_CHALLENGE_RETRIES`] times.
    /// - A `NextNonce` is stored (persisted) only when `peer_authenticated` (the server's
    ///   own credentials verified, or the transport authenticated it); otherwise it is used
    ///   for the next credential of this session only (digest 7.8). A `Chal` on 200/212
    ///   sets the scheme of the next session, not of this one.
    ///
    /// # Errors
    /// [`AuthError::Rejected`] when the server refuses again (or refuses without a new
    /// challenge): the session must end. [`AuthError::BadEncoding`] /
    /// [`AuthError::NonceTooLong`] for a `NextNonce` that is not base64 or too long; the
    /// state is then unchanged.
    pub fn on_header_status(
        &mut self,
        status: u16,
        challenge: Option<&Challenge<'_>>,
        peer_authenticated: bool,
    ) -> Result<HeaderOutcome, AuthError> {
        let nonce = match challenge.and_then(|c| c.next_nonce) {
            Some(text) => Some(decode_nonce(text)?),
            None => None,
        };
        let accepted = StatusCode::AuthAccepted.code();
        let ok = StatusCode::Ok.code();
        let unauthorized = StatusCode::Unauthorized.code();
        let required = StatusCode::AuthenticationRequired.code();
        if status == accepted || status == ok {
            if status == accepted {
                self.client_auth = ClientAuth::Session;
            } else if self.sent_credentials && self.client_auth == ClientAuth::Pending {
                self.client_auth = ClientAuth::PerMessage;
            }
            if let Some(c) = challenge {
                self.set_preferred(c.scheme);
            }
            self.take_nonce(nonce, peer_authenticated);
            return Ok(HeaderOutcome::Proceed);
        }
        if status != unauthorized && status != required {
            return Ok(HeaderOutcome::Proceed);
        }
        if self.challenges >= MAX_CHALLENGE_RETRIES {
            return Err(AuthError::Rejected);
        }
        match challenge {
            Some(c) => {
                self.active = c.scheme;
                self.set_preferred(c.scheme);
                self.take_nonce(nonce, peer_authenticated);
            }
            None if status == required && !self.sent_credentials => {}
            None => return Err(AuthError::Rejected),
        }
        self.challenges += 1;
        self.client_auth = ClientAuth::Pending;
        Ok(HeaderOutcome::Resend)
    }

    /// Generates a fresh server nonce of [`NONCE_LEN`] bytes from the platform's random
    /// source, stores it, and returns its base64 text for the `NextNonce` of the `Chal` we
    /// send. Use one per session, and one per message with HMAC. Persist the record before
    /// sending it.
    ///
    /// # Errors
    /// The source's error; the state is then unchanged.
    pub fn issue_server_nonce<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<B64Text, R::Error> {
        let mut bytes = [0u8; NONCE_LEN];
        rng.fill(&mut bytes)?;
        self.server_nonce.clear();
        // NONCE_LEN <= MAX_NONCE_LEN, so this cannot fail.
        let _ = self.server_nonce.extend_from_slice(&bytes);
        self.dirty = true;
        Ok(B64Text::encode(&bytes))
    }

    /// Verifies the server's `SyncHdr/Cred` (basic or MD5, with the server nonce) and
    /// returns the status for the server's SyncHdr: 212 when it verifies, 200 when the
    /// message carries none but the server already authenticated in this session.
    ///
    /// # Errors
    /// [`AuthError::MissingCredentials`] (answer 407 with a challenge) when there is no
    /// credential and the server has not authenticated yet; otherwise as
    /// [`verify_credential`]. Answer 401 and apply nothing from that message.
    pub fn verify_server_credential(
        &mut self,
        cred: Option<&Credential<'_>>,
        server: &Account<'_>,
    ) -> Result<StatusCode, AuthError> {
        match cred {
            Some(cred) => {
                verify_credential(cred, server, &self.server_nonce)?;
                self.server_authenticated = true;
                Ok(StatusCode::AuthAccepted)
            }
            None if self.server_authenticated => Ok(StatusCode::Ok),
            None => Err(AuthError::MissingCredentials),
        }
    }

    /// Verifies the server's `x-syncml-hmac` header over the exact bytes received (with the
    /// server nonce) and returns the status for the server's SyncHdr, 200 (HMAC demands
    /// 200, never 212, digest 7.8).
    ///
    /// # Errors
    /// [`AuthError::MissingCredentials`] without a header; otherwise as
    /// [`HmacHeader::parse`] and [`verify_hmac`].
    pub fn verify_server_hmac(
        &mut self,
        header: Option<&str>,
        server: &Account<'_>,
        body: &[u8],
    ) -> Result<StatusCode, AuthError> {
        let header = HmacHeader::parse(header.ok_or(AuthError::MissingCredentials)?)?;
        verify_hmac(&header, server, &self.server_nonce, body)?;
        self.server_authenticated = true;
        Ok(StatusCode::Ok)
    }

    /// Writes the persisted part (preferred scheme, client nonce, server nonce) into `out`
    /// and returns its length (at most [`MAX_ENCODED_LEN`](Self::MAX_ENCODED_LEN)).
    /// Layout: version 1, scheme tag, then each nonce as a length byte and its bytes.
    ///
    /// # Errors
    /// [`AuthError::BufferTooSmall`] when `out` is too short.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AuthError> {
        let mut w = Writer { out, len: 0 };
        w.put(&[RECORD_VERSION, self.preferred.tag()])?;
        for nonce in [&self.client_nonce, &self.server_nonce] {
            // MAX_NONCE_LEN < 256, so the length fits a byte.
            w.put(&[nonce.len() as u8])?;
            w.put(nonce)?;
        }
        Ok(w.len)
    }

    /// Reads a record written by [`encode`](Self::encode); the session part starts fresh.
    ///
    /// # Errors
    /// [`AuthError::CorruptRecord`] for anything but a complete, valid record.
    pub fn decode(record: &[u8]) -> Result<Self, AuthError> {
        let corrupt = AuthError::CorruptRecord;
        let (&version, rest) = record.split_first().ok_or(corrupt)?;
        let (&tag, rest) = rest.split_first().ok_or(corrupt)?;
        if version != RECORD_VERSION {
            return Err(corrupt);
        }
        let scheme = AuthScheme::from_tag(tag).ok_or(corrupt)?;
        let (client, rest) = take_nonce_field(rest)?;
        let (server, rest) = take_nonce_field(rest)?;
        if !rest.is_empty() {
            return Err(corrupt);
        }
        Self::new(scheme, client, server).map_err(|_| corrupt)
    }

    fn set_preferred(&mut self, scheme: AuthScheme) {
        if self.preferred != scheme {
            self.preferred = scheme;
            self.dirty = true;
        }
    }

    fn take_nonce(&mut self, nonce: Option<Nonce>, peer_authenticated: bool) {
        let Some(nonce) = nonce else { return };
        if peer_authenticated {
            self.session_client_nonce = None;
            if self.client_nonce != nonce {
                self.client_nonce = nonce;
                self.dirty = true;
            }
        } else {
            self.session_client_nonce = Some(nonce);
        }
    }
}

fn nonce_from(bytes: &[u8]) -> Result<Nonce, AuthError> {
    Nonce::from_slice(bytes).map_err(|_| AuthError::NonceTooLong)
}

/// Decodes the base64 text of a `NextNonce` into its bytes.
fn decode_nonce(text: &str) -> Result<Nonce, AuthError> {
    let text = text.trim();
    let max_text = base64::encoded_len(MAX_NONCE_LEN, true).unwrap_or(0);
    if text.len() > max_text {
        return Err(AuthError::NonceTooLong);
    }
    // The engine wants room for its estimate (up to 2 bytes more than the result).
    let mut buf = [0u8; MAX_NONCE_LEN + 3];
    let n = B64
        .decode_slice(text, &mut buf)
        .map_err(|_| AuthError::BadEncoding)?;
    nonce_from(buf.get(..n).unwrap_or_default())
}

fn take_nonce_field(bytes: &[u8]) -> Result<(&[u8], &[u8]), AuthError> {
    let (&len, rest) = bytes.split_first().ok_or(AuthError::CorruptRecord)?;
    let len = usize::from(len);
    if len > MAX_NONCE_LEN || rest.len() < len {
        return Err(AuthError::CorruptRecord);
    }
    Ok(rest.split_at(len))
}

/// Appends to a caller's buffer, failing instead of overrunning it.
struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), AuthError> {
        let end = self.len + bytes.len();
        self.out
            .get_mut(self.len..end)
            .ok_or(AuthError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}
