#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Download descriptors from a hostile or broken server: always an error with a status to
//! report, never a panic.
use proptest::prelude::*;
use scomo::ops::dd::{DdError, Descriptor, Field, MAX_DEPTH};

const GOOD: &str = "<media xmlns=\"http://www.openmobilealliance.org/xmlns/dd\"><type>a/b</type><size>12</size><objectURI>http://h/x?a=1&amp;b=2</objectURI><installNotifyURI>http://h/n</installNotifyURI></media>";

#[test]
fn bytes_that_are_not_utf8_are_refused() {
    let mut doc = GOOD.as_bytes().to_vec();
    doc[30] = 0xFF;
    assert_eq!(Descriptor::parse(&doc), Err(DdError::NotUtf8));
}

#[test]
fn every_truncation_of_a_good_descriptor_is_an_error() {
    for len in 0..GOOD.len() {
        let err = Descriptor::parse(&GOOD.as_bytes()[..len]).unwrap_err();
        assert_eq!(err.install_status().code(), 906, "{len}: {err:?}");
    }
    assert!(Descriptor::parse(GOOD.as_bytes()).is_ok());
}

#[test]
fn mismatched_or_unclosed_tags_are_malformed() {
    for doc in [
        "<media><type>a</size><size>1</size><objectURI>u</objectURI></media>",
        "<media><type>a</type><size>1</size><objectURI>u</objectURI>",
        "<media><x><y></x></y><type>a</type><size>1</size><objectURI>u</objectURI></media>",
        "<media><type>a</type><size>1</size><objectURI>u</objectURI></media><media/>",
        "<media><type>a</type><size>1</size><objectURI>u</objectURI></media>trailing",
        "<media><type>a<</type></media>",
        "<media><type>]]></type></media>",
    ] {
        assert_eq!(
            Descriptor::parse(doc.as_bytes()),
            Err(DdError::Malformed),
            "{doc}"
        );
    }
}

#[test]
fn an_element_inside_a_field_is_not_text() {
    let doc = "<media><type>a</type><size>1</size><objectURI>u<b/></objectURI></media>";
    assert_eq!(
        Descriptor::parse(doc.as_bytes()),
        Err(DdError::NotText(Field::ObjectUri))
    );
    let doc = "<media><type>a</type><size>1</size><objectURI>u<!-- -->v</objectURI></media>";
    assert_eq!(
        Descriptor::parse(doc.as_bytes()),
        Err(DdError::NotText(Field::ObjectUri))
    );
}

#[test]
fn nesting_deeper_than_max_depth_is_refused_without_recursion() {
    let open = "<x>".repeat(MAX_DEPTH);
    let close = "</x>".repeat(MAX_DEPTH);
    let doc =
        format!("<media>{open}{close}<type>a</type><size>1</size><objectURI>u</objectURI></media>");
    assert_eq!(Descriptor::parse(doc.as_bytes()), Err(DdError::TooDeep));
    let open = "<x>".repeat(MAX_DEPTH - 1);
    let close = "</x>".repeat(MAX_DEPTH - 1);
    let doc =
        format!("<media>{open}{close}<type>a</type><size>1</size><objectURI>u</objectURI></media>");
    assert!(Descriptor::parse(doc.as_bytes()).is_ok());
    let deep = "<x>".repeat(100_000);
    assert_eq!(
        Descriptor::parse(format!("<media>{deep}").as_bytes()),
        Err(DdError::TooDeep)
    );
}

#[test]
fn dtd_entities_are_never_expanded() {
    let doc = r#"<!DOCTYPE media [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
        <media><type>&b;</type><size>1</size><objectURI>u</objectURI></media>"#;
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    let mut out = [0u8; 64];
    assert_eq!(dd.types[0].raw(), "&b;");
    assert_eq!(dd.types[0].unescape(&mut out), Err(DdError::BadReference));
}

#[test]
fn a_huge_size_value_or_long_uri_is_handled_without_a_copy() {
    let uri = "u".repeat(1 << 20);
    let doc = format!("<media><type>a</type><size>1</size><objectURI>{uri}</objectURI></media>");
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert_eq!(dd.object_uri.raw().len(), 1 << 20);
    let mut small = [0u8; 16];
    let err = dd.object_uri.unescape(&mut small).unwrap_err();
    assert_eq!(err, DdError::BufferTooSmall);
    assert_eq!(err.install_status().code(), 901);
    let digits = "9".repeat(10_000);
    let doc = format!("<media><type>a</type><size>{digits}</size><objectURI>u</objectURI></media>");
    assert_eq!(Descriptor::parse(doc.as_bytes()), Err(DdError::BadSize));
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Descriptor::parse(&bytes);
    }

    #[test]
    fn random_xmlish_text_never_panics_the_parser(
        doc in "(<media>|<type>|</type>|<size>|</size>|<objectURI>|</objectURI>|</media>|<x>|</x>|<dd:media xmlns:dd=\"http://www.openmobilealliance.org/xmlns/dd\">|</dd:media>|&amp;|&#x41;|&|;|<!\\[CDATA\\[|\\]\\]>|<!--|-->|[a-z0-9 ]{0,4}){0,40}"
    ) {
        if let Ok(dd) = Descriptor::parse(doc.as_bytes()) {
            let mut out = [0u8; 512];
            let _ = dd.object_uri.unescape(&mut out);
        }
    }

    #[test]
    fn flipping_any_byte_of_a_good_descriptor_never_panics(at in 0usize..GOOD.len(), byte in any::<u8>()) {
        let mut doc = GOOD.as_bytes().to_vec();
        doc[at] = byte;
        if let Ok(dd) = Descriptor::parse(&doc) {
            let mut out = [0u8; 512];
            let _ = dd.object_uri.unescape(&mut out);
        }
    }
}
