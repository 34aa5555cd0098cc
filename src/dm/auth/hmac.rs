//! The `x-syncml-hmac` transport header (digest 7.1, 7.8): produced over the exact bytes
//! sent, parsed and verified over the exact bytes received.
use super::hash::{B64Text, constant_time_eq, decode_digest, md5_digest};
use super::{Account, AuthError};

/// The name of the HTTP header that carries the HMAC of a DM message.
pub const HMAC_HEADER_NAME: &str = "x-syncml-hmac";

/// A parsed `x-syncml-hmac` header value, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HmacHeader<'a> {
    /// The `username` parameter (the sender's name, quotes removed).
    pub username: &'a str,
    /// The `mac` parameter: base64 text of the MD5 HMAC.
    pub mac: &'a str,
}

impl<'a> HmacHeader<'a> {
    /// Parses `algorithm=MD5, username="…", mac=…`. Parameter names ignore ASCII case and
    /// may come in any order; values may be quoted; `algorithm` may be left out (MD5 is the
    /// default and the only one defined). Unknown parameters are ignored.
    ///
    /// # Errors
    /// [`AuthError::MalformedHmacHeader`] when `username` or `mac` is missing, repeated or
    /// unterminated; [`AuthError::UnsupportedAlgorithm`] for any algorithm but MD5.
    pub fn parse(value: &'a str) -> Result<Self, AuthError> {
        let mut username = None;
        let mut mac = None;
        let mut algorithm = None;
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                break;
            }
            let (key, after) = rest.split_once('=').ok_or(AuthError::MalformedHmacHeader)?;
            let key = key.trim();
            let after = after.trim_start();
            let (val, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let (val, next) = quoted
                        .split_once('"')
                        .ok_or(AuthError::MalformedHmacHeader)?;
                    if !next.trim_start().is_empty() && !next.trim_start().starts_with(',') {
                        return Err(AuthError::MalformedHmacHeader);
                    }
                    (val, next)
                }
                None => match after.split_once(',') {
                    Some((val, next)) => (val.trim_end(), next),
                    None => (after.trim_end(), ""),
                },
            };
            let slot = if key.eq_ignore_ascii_case("username") {
                &mut username
            } else if key.eq_ignore_ascii_case("mac") {
                &mut mac
            } else if key.eq_ignore_ascii_case("algorithm") {
                &mut algorithm
            } else {
                rest = next;
                continue;
            };
            if slot.replace(val).is_some() {
                return Err(AuthError::MalformedHmacHeader);
            }
            rest = next;
        }
        if algorithm.is_some_and(|a| !a.eq_ignore_ascii_case("MD5")) {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        match (username, mac) {
            (Some(username), Some(mac)) if !mac.is_empty() => Ok(Self { username, mac }),
            _ => Err(AuthError::MalformedHmacHeader),
        }
    }
}

/// Writes the `x-syncml-hmac` header value for a message body into `out`:
/// `algorithm=MD5, username="<name>", mac=<B64(md5_digest(name, password, nonce, body))>`.
///
/// `body` must be the exact bytes that will be sent (WBXML or XML); `nonce` is the decoded
/// nonce the server gave us.
///
/// # Errors
/// [`AuthError::InvalidName`] when the name holds `"`, `,` or a control character (it
/// could not be parsed back, or would break the header); [`AuthError::BufferTooSmall`]
/// when `out` is shorter than `56 + name.len()` bytes.
pub fn write_hmac_header<'o>(
    account: &Account<'_>,
    nonce: &[u8],
    body: &[u8],
    out: &'o mut [u8],
) -> Result<&'o str, AuthError> {
    if account
        .name
        .chars()
        .any(|c| c == '"' || c == ',' || c.is_control())
    {
        return Err(AuthError::InvalidName);
    }
    let mac = B64Text::encode(&md5_digest(
        account.name.as_bytes(),
        account.password,
        nonce,
        Some(body),
    ));
    let parts: [&[u8]; 4] = [
        b"algorithm=MD5, username=\"",
        account.name.as_bytes(),
        b"\", mac=",
        mac.as_str().as_bytes(),
    ];
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        out.get_mut(len..end)
            .ok_or(AuthError::BufferTooSmall)?
            .copy_from_slice(part);
        len = end;
    }
    out.get(..len)
        .and_then(|t| core::str::from_utf8(t).ok())
        .ok_or(AuthError::BufferTooSmall)
}

/// Verifies the server's `x-syncml-hmac` header over the exact bytes received: the
/// `username` must be the account's name and the MAC must match (constant-time).
///
/// `nonce` is the decoded nonce we gave the server (the `SRVCRED` nonce).
///
/// # Errors
/// [`AuthError::BadCredentials`] for a wrong user name or MAC, [`AuthError::BadEncoding`]
/// when the MAC is not base64 of 16 bytes.
pub fn verify_hmac(
    header: &HmacHeader<'_>,
    account: &Account<'_>,
    nonce: &[u8],
    body: &[u8],
) -> Result<(), AuthError> {
    let got = decode_digest(header.mac)?;
    let want = md5_digest(account.name.as_bytes(), account.password, nonce, Some(body));
    let name_ok = constant_time_eq(header.username.as_bytes(), account.name.as_bytes());
    if constant_time_eq(&got, &want) && name_ok {
        Ok(())
    } else {
        Err(AuthError::BadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_any_order_case_and_quoting() {
        let h = HmacHeader::parse("MAC=abc==,USERNAME=bob").unwrap();
        assert_eq!(
            h,
            HmacHeader {
                username: "bob",
                mac: "abc=="
            }
        );
        let h =
            HmacHeader::parse(" username = \"a b\" , algorithm=md5, x=1, mac = \"m\" ").unwrap();
        assert_eq!(
            h,
            HmacHeader {
                username: "a b",
                mac: "m"
            }
        );
    }

    #[test]
    fn parse_rejects_missing_repeated_and_unterminated_parameters() {
        for bad in [
            "",
            "username=\"a\"",
            "mac=x",
            "username=a, mac=x, mac=y",
            "username=\"a, mac=x",
            "username=\"a\"junk, mac=x",
            "garbage",
            "username=a, mac=",
        ] {
            assert_eq!(
                HmacHeader::parse(bad),
                Err(AuthError::MalformedHmacHeader),
                "{bad}"
            );
        }
        assert_eq!(
            HmacHeader::parse("algorithm=SHA1, username=a, mac=x"),
            Err(AuthError::UnsupportedAlgorithm)
        );
    }
}
