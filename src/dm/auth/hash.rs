//! The MD5 digest formula shared by credentials, HMAC and Package #0, base64 helpers and
//! the constant-time comparison.
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use md5::{Digest as _, Md5};

use super::{Account, AuthError, AuthScheme};

/// Length in bytes of an MD5 digest.
pub const MD5_LEN: usize = 16;

/// Length of the base64 text of 16 bytes (an MD5 digest or a generated nonce).
pub const B64_MD5_LEN: usize = 24;

/// Standard base64 with padding on output; on input, padding may be present or missing
/// (servers differ), but bits left over in the last character must be zero.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The base64 text of a 16-byte value (an MD5 digest or a nonce), held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct B64Text([u8; B64_MD5_LEN]);

impl B64Text {
    /// The base64 text of `bytes`.
    pub fn encode(bytes: &[u8; MD5_LEN]) -> Self {
        let mut text = [b'='; B64_MD5_LEN];
        // 16 bytes always encode to exactly 24 characters, so this cannot fail.
        let _ = B64.encode_slice(bytes, &mut text);
        Self(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl core::fmt::Debug for B64Text {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A credential as carried in `SyncHdr/Cred`: the scheme named by `Meta/Type` and the
/// base64 text of `Data` (`Meta/Format` must be `b64`; the codec checks that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The scheme (`Meta/Type`).
    pub scheme: AuthScheme,
    /// The base64 text of the credential (`Data`).
    pub data: &'a str,
}

/// Compares two byte strings in time that depends only on their lengths (which are not
/// secret here: digests have a fixed length).
///
/// Hand-written rather than taken from the `subtle` crate to keep the dependency list
/// short: every byte pair is XORed into one accumulator with no early exit, and
/// [`core::hint::black_box`] stops the optimiser from turning the fold back into a
/// short-circuiting comparison.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// MD5 of the concatenation of `parts`.
fn md5_of(parts: &[&[u8]]) -> [u8; MD5_LEN] {
    let mut h = Md5::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// The OMA DM digest `H( B64(H(name ":" password)) ":" nonce [":" B64(H(body))] )` with
/// H = MD5 (binary output) and B64 = base64 text (digest 7.8, 7.2).
///
/// Without `body` it is the `syncml:auth-md5` credential (before its final base64); with
/// `body` it is the HMAC of a message or, with the server's account and the notification's
/// trigger as body, the Package #0 digest. `nonce` is the nonce's decoded bytes.
pub fn md5_digest(
    name: &[u8],
    password: &[u8],
    nonce: &[u8],
    body: Option<&[u8]>,
) -> [u8; MD5_LEN] {
    let secret = B64Text::encode(&md5_of(&[name, b":", password]));
    let mut h = Md5::new();
    h.update(secret.0);
    h.update(b":");
    h.update(nonce);
    if let Some(body) = body {
        h.update(b":");
        h.update(B64Text::encode(&md5_of(&[body])).0);
    }
    h.finalize().into()
}

/// The `syncml:auth-md5` credential text: `B64(md5_digest(name, password, nonce))`.
pub fn md5_credential(account: &Account<'_>, nonce: &[u8]) -> B64Text {
    B64Text::encode(&md5_digest(
        account.name.as_bytes(),
        account.password,
        nonce,
        None,
    ))
}

/// The `syncml:auth-basic` credential text, `B64(name ":" password)`, written into `out`.
///
/// # Errors
/// [`AuthError::BufferTooSmall`] when `out` cannot hold the text (its length is
/// `4 * ceil((name + 1 + password) / 3)`).
pub fn basic_credential<'o>(
    account: &Account<'_>,
    out: &'o mut [u8],
) -> Result<&'o str, AuthError> {
    let len = encode_parts(&[account.name.as_bytes(), b":", account.password], out)?;
    out.get(..len)
        .and_then(|t| core::str::from_utf8(t).ok())
        .ok_or(AuthError::BufferTooSmall)
}

/// Base64 of the concatenation of `parts` into `out`, three bytes at a time, so that the
/// concatenation never has to exist in memory. Returns the text length.
fn encode_parts(parts: &[&[u8]], out: &mut [u8]) -> Result<usize, AuthError> {
    let total = parts
        .iter()
        .try_fold(0usize, |n, p| n.checked_add(p.len()))
        .ok_or(AuthError::BufferTooSmall)?;
    let need = base64::encoded_len(total, true).ok_or(AuthError::BufferTooSmall)?;
    if out.len() < need {
        return Err(AuthError::BufferTooSmall);
    }
    let mut written = 0;
    let mut group = [0u8; 3];
    let mut filled = 0;
    for &byte in parts.iter().flat_map(|p| p.iter()) {
        if let Some(slot) = group.get_mut(filled) {
            *slot = byte;
        }
        filled += 1;
        if filled == group.len() {
            written += encode_group(&group, out.get_mut(written..))?;
            filled = 0;
        }
    }
    if filled > 0 {
        written += encode_group(
            group.get(..filled).unwrap_or_default(),
            out.get_mut(written..),
        )?;
    }
    Ok(written)
}

fn encode_group(group: &[u8], out: Option<&mut [u8]>) -> Result<usize, AuthError> {
    B64.encode_slice(group, out.ok_or(AuthError::BufferTooSmall)?)
        .map_err(|_| AuthError::BufferTooSmall)
}

/// Decodes the base64 text of an MD5 digest (24 characters, or 22 without padding).
pub(crate) fn decode_digest(text: &str) -> Result<[u8; MD5_LEN], AuthError> {
    let text = text.trim();
    // 24 characters decode to at most 18 bytes; the engine wants room for its estimate.
    let mut buf = [0u8; MD5_LEN + 2];
    if text.len() > B64_MD5_LEN {
        return Err(AuthError::BadEncoding);
    }
    let n = B64
        .decode_slice(text, &mut buf)
        .map_err(|_| AuthError::BadEncoding)?;
    let mut digest = [0u8; MD5_LEN];
    let decoded = buf.get(..n).ok_or(AuthError::BadEncoding)?;
    if decoded.len() != MD5_LEN {
        return Err(AuthError::BadEncoding);
    }
    digest.copy_from_slice(decoded);
    Ok(digest)
}

/// Verifies a credential the peer sent in `SyncHdr/Cred` against the account the peer must
/// know, with `nonce` (decoded bytes) for `syncml:auth-md5`. Comparisons are constant-time.
///
/// # Errors
/// [`AuthError::BadCredentials`] when it does not verify, [`AuthError::BadEncoding`] when
/// the text is not base64 of the right length, [`AuthError::WrongScheme`] for
/// `syncml:auth-MAC` (HMAC is never carried in a `Cred`).
pub fn verify_credential(
    cred: &Credential<'_>,
    account: &Account<'_>,
    nonce: &[u8],
) -> Result<(), AuthError> {
    match cred.scheme {
        AuthScheme::Md5 => {
            let got = decode_digest(cred.data)?;
            let want = md5_digest(account.name.as_bytes(), account.password, nonce, None);
            if constant_time_eq(&got, &want) {
                Ok(())
            } else {
                Err(AuthError::BadCredentials)
            }
        }
        AuthScheme::Basic => verify_basic(cred.data, account),
        AuthScheme::Hmac => Err(AuthError::WrongScheme),
    }
}

/// Decodes `text` one base64 quantum at a time and compares it with `name ":" password`
/// without building either string; every byte is compared whatever the earlier ones were.
fn verify_basic(text: &str, account: &Account<'_>) -> Result<(), AuthError> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(4) {
        return Err(AuthError::BadEncoding);
    }
    let mut want = account
        .name
        .as_bytes()
        .iter()
        .chain(b":")
        .chain(account.password);
    let mut diff = 0u8;
    let mut length_ok = true;
    let quanta = text.len() / 4;
    for (i, quantum) in text.chunks(4).enumerate() {
        if i + 1 < quanta && quantum.contains(&b'=') {
            return Err(AuthError::BadEncoding);
        }
        let mut bytes = [0u8; 3];
        let n = B64
            .decode_slice(quantum, &mut bytes)
            .map_err(|_| AuthError::BadEncoding)?;
        for &got in bytes.get(..n).unwrap_or_default() {
            match want.next() {
                Some(&w) => diff |= got ^ w,
                None => length_ok = false,
            }
        }
    }
    if want.next().is_some() {
        length_ok = false;
    }
    if core::hint::black_box(diff) == 0 && length_ok {
        Ok(())
    } else {
        Err(AuthError::BadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn encode_parts_matches_whole_encoding_for_every_split() {
        let data = b"Bruce2:OhBehave!";
        for len in 0..=data.len() {
            for cut in 0..=len {
                let (a, b) = data[..len].split_at(cut);
                let mut out = [0u8; 32];
                let n = encode_parts(&[a, b], &mut out).unwrap();
                let mut whole = [0u8; 32];
                let m = B64.encode_slice(&data[..len], &mut whole).unwrap();
                assert_eq!(&out[..n], &whole[..m]);
            }
        }
    }

    #[test]
    fn encode_parts_refuses_a_short_buffer() {
        let mut out = [0u8; 3];
        assert_eq!(
            encode_parts(&[b"abc"], &mut out),
            Err(AuthError::BufferTooSmall)
        );
    }

    #[test]
    fn decode_digest_accepts_missing_padding_and_rejects_wrong_lengths() {
        let d = [7u8; 16];
        let text = B64Text::encode(&d);
        assert_eq!(decode_digest(text.as_str()), Ok(d));
        assert_eq!(decode_digest(text.as_str().trim_end_matches('=')), Ok(d));
        assert_eq!(decode_digest("QnJ1Y2U="), Err(AuthError::BadEncoding));
        assert_eq!(decode_digest("!!!!"), Err(AuthError::BadEncoding));
        assert_eq!(
            decode_digest("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"),
            Err(AuthError::BadEncoding)
        );
    }
}
