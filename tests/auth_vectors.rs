#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The authentication test vectors of digest 7.8 (user `Bruce2`, password `OhBehave`).
use base64::Engine as _;
use scomo::dm::auth::{
    Account, AuthError, AuthScheme, B64Text, Credential, HmacHeader, basic_credential,
    md5_credential, md5_digest, verify_credential, verify_hmac, write_hmac_header,
};

const BRUCE: Account<'static> = Account {
    name: "Bruce2",
    password: b"OhBehave",
};

/// The 42-byte body of the HMAC vector.
const BODY: &[u8] = b"<SyncML xmlns=\"SYNCML:SYNCML1.2\"></SyncML>";

fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = [0u8; 64];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, &mut out)
        .unwrap();
    out[..n].to_vec()
}

#[test]
fn basic_credential_of_bruce2_ohbehave_matches_the_spec_vector() {
    let mut out = [0u8; 64];
    assert_eq!(
        basic_credential(&BRUCE, &mut out).unwrap(),
        "QnJ1Y2UyOk9oQmVoYXZl"
    );
}

#[test]
fn basic_credential_refuses_a_buffer_one_byte_short() {
    let mut out = [0u8; 19];
    assert_eq!(
        basic_credential(&BRUCE, &mut out),
        Err(AuthError::BufferTooSmall)
    );
}

#[test]
fn md5_credential_with_nonce_text_nonce_matches_the_spec_vector() {
    assert_eq!(
        md5_credential(&BRUCE, b"Nonce").as_str(),
        "Zz6EivR3yeaaENcRN6lpAQ=="
    );
}

#[test]
fn md5_credential_hashes_the_decoded_next_nonce_not_its_base64_text() {
    let text = "LG3iZQhhdmKNHg==";
    let decoded = b64_decode(text);
    assert_eq!(
        md5_credential(&BRUCE, &decoded).as_str(),
        "LAK2i25Fh0nxxGGaAzRRpg=="
    );
    // The wrong reading (hashing the text) gives the digest's other value.
    assert_eq!(
        md5_credential(&BRUCE, text.as_bytes()).as_str(),
        "kpKgquN4uuyvg2Io01gZ5A=="
    );
}

#[test]
fn hmac_header_over_the_42_byte_body_matches_the_spec_vector() {
    assert_eq!(BODY.len(), 42);
    let mut out = [0u8; 128];
    let header = write_hmac_header(&BRUCE, b"Nonce", BODY, &mut out).unwrap();
    assert_eq!(
        header,
        "algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g=="
    );
    let parsed = HmacHeader::parse(header).unwrap();
    assert_eq!(parsed.username, "Bruce2");
    assert_eq!(parsed.mac, "aSBvnDHzBa7JhdjeEEUR2g==");
    assert_eq!(verify_hmac(&parsed, &BRUCE, b"Nonce", BODY), Ok(()));
}

#[test]
fn hmac_of_a_changed_body_wrong_nonce_or_user_is_refused_401() {
    let header =
        HmacHeader::parse("algorithm=MD5, username=\"Bruce2\", mac=aSBvnDHzBa7JhdjeEEUR2g==")
            .unwrap();
    let mut body = BODY.to_vec();
    body[10] ^= 1;
    let refused = Err(AuthError::BadCredentials);
    assert_eq!(verify_hmac(&header, &BRUCE, b"Nonce", &body), refused);
    assert_eq!(verify_hmac(&header, &BRUCE, b"nonce", BODY), refused);
    let other = Account {
        name: "Bruce3",
        password: b"OhBehave",
    };
    assert_eq!(verify_hmac(&header, &other, b"Nonce", BODY), refused);
    let wrong_name = HmacHeader {
        username: "Bruce3",
        ..header
    };
    assert_eq!(verify_hmac(&wrong_name, &BRUCE, b"Nonce", BODY), refused);
    assert_eq!(
        AuthError::BadCredentials.status().map(|s| s.code()),
        Some(401)
    );
}

#[test]
fn hmac_with_a_mac_that_is_not_base64_of_16_bytes_is_refused_401() {
    for mac in ["!!!!", "QnJ1Y2Uy", "aSBvnDHzBa7JhdjeEEUR2g==AAAA"] {
        let header = HmacHeader {
            username: "Bruce2",
            mac,
        };
        let err = verify_hmac(&header, &BRUCE, b"Nonce", BODY).unwrap_err();
        assert_eq!(err.status().map(|s| s.code()), Some(401), "{mac}");
    }
}

#[test]
fn hmac_header_refuses_names_that_would_break_the_header() {
    let mut out = [0u8; 128];
    for name in ["a\"b", "a,b", "a\r\nX: y"] {
        let account = Account {
            name,
            password: b"p",
        };
        assert_eq!(
            write_hmac_header(&account, b"n", BODY, &mut out),
            Err(AuthError::InvalidName)
        );
    }
    let mut short = [0u8; 61];
    assert_eq!(
        write_hmac_header(&BRUCE, b"Nonce", BODY, &mut short),
        Err(AuthError::BufferTooSmall)
    );
    let mut exact = [0u8; 62];
    assert!(write_hmac_header(&BRUCE, b"Nonce", BODY, &mut exact).is_ok());
}

#[test]
fn server_md5_credential_verifies_only_with_the_right_nonce_and_password() {
    let cred = Credential {
        scheme: AuthScheme::Md5,
        data: "Zz6EivR3yeaaENcRN6lpAQ==",
    };
    assert_eq!(verify_credential(&cred, &BRUCE, b"Nonce"), Ok(()));
    assert_eq!(
        verify_credential(&cred, &BRUCE, b"Nonc"),
        Err(AuthError::BadCredentials)
    );
    let wrong = Account {
        name: "Bruce2",
        password: b"OhBehavf",
    };
    assert_eq!(
        verify_credential(&cred, &wrong, b"Nonce"),
        Err(AuthError::BadCredentials)
    );
    let garbage = Credential {
        scheme: AuthScheme::Md5,
        data: "not base64 at all",
    };
    assert_eq!(
        verify_credential(&garbage, &BRUCE, b"Nonce"),
        Err(AuthError::BadEncoding)
    );
}

#[test]
fn server_basic_credential_verifies_exactly_name_colon_password() {
    let ok = Credential {
        scheme: AuthScheme::Basic,
        data: "QnJ1Y2UyOk9oQmVoYXZl",
    };
    assert_eq!(verify_credential(&ok, &BRUCE, b""), Ok(()));
    let mut out = [0u8; 64];
    for (name, password) in [
        ("Bruce2", &b"OhBehav"[..]),
        ("Bruce2", b"OhBehavee"),
        ("Bruce", b"2:OhBehave"),
        ("", b""),
    ] {
        let other = Account { name, password };
        let data = basic_credential(&other, &mut out).unwrap();
        let cred = Credential {
            scheme: AuthScheme::Basic,
            data,
        };
        assert_eq!(
            verify_credential(&cred, &BRUCE, b""),
            Err(AuthError::BadCredentials),
            "{name}"
        );
    }
    for bad in ["QnJ1Y2UyOk9oQmVoYXZ", "QQ==QnJ1", "****"] {
        let cred = Credential {
            scheme: AuthScheme::Basic,
            data: bad,
        };
        assert_eq!(
            verify_credential(&cred, &BRUCE, b""),
            Err(AuthError::BadEncoding),
            "{bad}"
        );
    }
}

#[test]
fn a_mac_scheme_in_a_cred_is_refused_401() {
    let cred = Credential {
        scheme: AuthScheme::Hmac,
        data: "aSBvnDHzBa7JhdjeEEUR2g==",
    };
    let err = verify_credential(&cred, &BRUCE, b"Nonce").unwrap_err();
    assert_eq!(err, AuthError::WrongScheme);
    assert_eq!(err.status().map(|s| s.code()), Some(401));
}

#[test]
fn md5_digest_is_the_documented_formula() {
    // H(B64(H("Bruce2:OhBehave")) ":" nonce) recomputed step by step with the md-5 crate.
    use md5::{Digest as _, Md5};
    let inner = B64Text::encode(&Md5::digest(b"Bruce2:OhBehave").into());
    let mut h = Md5::new();
    h.update(inner.as_str());
    h.update(b":Nonce");
    let want: [u8; 16] = h.finalize().into();
    assert_eq!(md5_digest(b"Bruce2", b"OhBehave", b"Nonce", None), want);
}

#[test]
fn scheme_names_round_trip_and_ignore_case() {
    for s in [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Hmac] {
        assert_eq!(AuthScheme::from_meta_type(s.meta_type()), Some(s));
    }
    assert_eq!(
        AuthScheme::from_meta_type("syncml:auth-mac"),
        Some(AuthScheme::Hmac)
    );
    assert_eq!(
        AuthScheme::from_meta_type("syncml:auth-md5 "),
        Some(AuthScheme::Md5)
    );
    assert_eq!(AuthScheme::from_meta_type("syncml:auth-x509"), None);
}
