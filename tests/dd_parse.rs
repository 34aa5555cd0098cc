#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! OMA download descriptors (digest 9.2): the fields, namespaces and leniencies.
use scomo::ops::dd::{DdError, Descriptor, Field, InstallStatus, MAX_TYPES, NAMESPACE};

/// A descriptor with every field of digest 9.2, as a server writes it.
const FULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<media xmlns="http://www.openmobilealliance.org/xmlns/dd">
  <DDVersion>1.0</DDVersion>
  <name>Example &amp; Co. navigation</name>
  <size>
    1048576
  </size>
  <type>application/vnd.example.pkg</type>
  <type>application/octet-stream</type>
  <objectURI>http://dl.example.com/get?id=7&amp;v=2</objectURI>
  <installNotifyURI>http://dl.example.com/notify?id=7</installNotifyURI>
  <nextURL>http://www.example.com/done</nextURL>
  <description>Maps for the &lt;north&gt;</description>
  <vendor>Example Inc.</vendor>
  <infoURL>http://www.example.com/info</infoURL>
  <iconURI>http://www.example.com/icon.png</iconURI>
  <installParam>mode=silent;reboot=no</installParam>
</media>
"#;

fn plain(text: Option<scomo::ops::dd::XmlText<'_>>) -> &str {
    text.unwrap().as_plain().unwrap()
}

fn unescaped(text: scomo::ops::dd::XmlText<'_>) -> String {
    let mut out = [0u8; 256];
    text.unescape(&mut out).unwrap().to_owned()
}

#[test]
fn every_field_of_a_full_descriptor_is_read() {
    let dd = Descriptor::parse(FULL.as_bytes()).unwrap();
    assert_eq!(dd.size, 1_048_576);
    assert_eq!(
        unescaped(dd.object_uri),
        "http://dl.example.com/get?id=7&v=2"
    );
    assert_eq!(
        dd.object_uri.raw(),
        "http://dl.example.com/get?id=7&amp;v=2"
    );
    let types: Vec<_> = dd.types.iter().map(|t| t.as_plain().unwrap()).collect();
    assert_eq!(
        types,
        ["application/vnd.example.pkg", "application/octet-stream"]
    );
    assert_eq!(
        dd.primary_type().unwrap().raw(),
        "application/vnd.example.pkg"
    );
    assert_eq!(
        plain(dd.install_notify_uri),
        "http://dl.example.com/notify?id=7"
    );
    assert_eq!(plain(dd.next_url), "http://www.example.com/done");
    assert_eq!(plain(dd.dd_version), "1.0");
    assert_eq!(unescaped(dd.name.unwrap()), "Example & Co. navigation");
    assert_eq!(unescaped(dd.description.unwrap()), "Maps for the <north>");
    assert_eq!(plain(dd.vendor), "Example Inc.");
    assert_eq!(plain(dd.info_url), "http://www.example.com/info");
    assert_eq!(plain(dd.icon_uri), "http://www.example.com/icon.png");
    assert_eq!(plain(dd.install_param), "mode=silent;reboot=no");
}

#[test]
fn values_borrow_from_the_document() {
    let doc = FULL.as_bytes();
    let dd = Descriptor::parse(doc).unwrap();
    let range = doc.as_ptr_range();
    let uri = dd.object_uri.raw().as_ptr();
    assert!(range.contains(&uri), "objectURI is not a copy");
}

#[test]
fn a_minimal_descriptor_needs_only_type_size_and_object_uri() {
    let doc = format!(
        r#"<media xmlns="{NAMESPACE}"><type>a/b</type><size>0</size><objectURI>u</objectURI></media>"#
    );
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert_eq!(dd.size, 0);
    assert_eq!(dd.object_uri.raw(), "u");
    assert_eq!(dd.install_notify_uri, None);
    assert_eq!(dd.dd_version, None);
}

#[test]
fn missing_type_size_or_object_uri_is_906() {
    for (field, doc) in [
        (
            Field::Type,
            "<media><size>1</size><objectURI>u</objectURI></media>",
        ),
        (
            Field::Size,
            "<media><type>a/b</type><objectURI>u</objectURI></media>",
        ),
        (
            Field::ObjectUri,
            "<media><type>a/b</type><size>1</size></media>",
        ),
        (
            Field::ObjectUri,
            "<media><type>a/b</type><size>1</size><objectURI/></media>",
        ),
        (
            Field::Type,
            "<media><type> </type><size>1</size><objectURI>u</objectURI></media>",
        ),
    ] {
        let err = Descriptor::parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err, DdError::Missing(field), "{doc}");
        assert_eq!(err.install_status().code(), 906);
    }
}

#[test]
fn a_dd_version_not_starting_with_1_dot_is_951() {
    for version in ["2.0", "1", "10.0", ""] {
        let doc = format!(
            "<media><DDVersion>{version}</DDVersion><type>a</type><size>1</size><objectURI>u</objectURI></media>"
        );
        let err = Descriptor::parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err, DdError::UnsupportedVersion, "{version}");
        assert_eq!(err.install_status(), InstallStatus::InvalidDdVersion);
        assert_eq!(err.install_status().code(), 951);
    }
    let doc = "<media><DDVersion>1.1</DDVersion><type>a</type><size>1</size><objectURI>u</objectURI></media>";
    assert!(Descriptor::parse(doc.as_bytes()).is_ok());
}

#[test]
fn a_size_that_is_not_a_64_bit_decimal_is_906() {
    for size in [
        "-1",
        "+1",
        "1.5",
        "0x10",
        "1 2",
        "18446744073709551616",
        "",
        "&#49;",
    ] {
        let doc =
            format!("<media><type>a</type><size>{size}</size><objectURI>u</objectURI></media>");
        let err = Descriptor::parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err, DdError::BadSize, "{size}");
        assert_eq!(err.install_status().code(), 906);
    }
    let doc =
        "<media><type>a</type><size>18446744073709551615</size><objectURI>u</objectURI></media>";
    assert_eq!(Descriptor::parse(doc.as_bytes()).unwrap().size, u64::MAX);
}

#[test]
fn a_prefixed_root_bound_to_the_dd_namespace_is_read() {
    let doc = format!(
        r#"<dd:media xmlns:dd="{NAMESPACE}" xmlns:x="urn:other">
             <dd:type>a/b</dd:type><dd:size>5</dd:size><dd:objectURI>u</dd:objectURI>
             <objectURI>not ours</objectURI><x:size>9</x:size>
           </dd:media>"#
    );
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert_eq!(dd.size, 5);
    assert_eq!(dd.object_uri.raw(), "u");
}

#[test]
fn a_root_in_another_namespace_or_not_media_is_not_a_descriptor() {
    for doc in [
        r#"<media xmlns="urn:other"><type>a</type><size>1</size><objectURI>u</objectURI></media>"#,
        r#"<dd:media xmlns:dd="urn:other"><dd:type>a</dd:type></dd:media>"#,
        r#"<dd:media><dd:type>a</dd:type></dd:media>"#,
        r#"<html><body/></html>"#,
        "",
        "   ",
        "<!-- only a comment -->",
    ] {
        let err = Descriptor::parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err, DdError::NotADescriptor, "{doc}");
        assert_eq!(err.install_status().code(), 906);
    }
}

#[test]
fn a_root_without_namespace_declaration_is_accepted() {
    let doc = "<media><type>a</type><size>1</size><objectURI>u</objectURI></media>";
    assert!(Descriptor::parse(doc.as_bytes()).is_ok());
}

#[test]
fn unknown_elements_and_extension_subtrees_are_skipped() {
    let doc = r#"<media xmlns="http://www.openmobilealliance.org/xmlns/dd">
        <license><terms><p>text <b>bold</b></p></terms></license>
        <type>a</type><size>1</size>
        <progressiveDownloadFlag>false</progressiveDownloadFlag>
        <objectURI>u</objectURI>
        <?pi data?><!-- comment -->
    </media>"#;
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert_eq!(dd.object_uri.raw(), "u");
}

#[test]
fn cdata_and_comments_around_a_value_are_handled() {
    let doc = "<media><type>a</type><size>1</size><objectURI>\n <![CDATA[http://h/?a=1&b=2]]> \n<!-- c --></objectURI></media>";
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert!(dd.object_uri.is_cdata());
    assert_eq!(dd.object_uri.as_plain(), Some("http://h/?a=1&b=2"));
}

#[test]
fn an_unescaped_ampersand_in_a_url_is_kept() {
    let doc = "<media><type>a</type><size>1</size><objectURI>http://h/?a=1&b=2</objectURI></media>";
    let dd = Descriptor::parse(doc.as_bytes()).unwrap();
    assert_eq!(unescaped(dd.object_uri), "http://h/?a=1&b=2");
}

#[test]
fn a_byte_order_mark_and_prolog_are_accepted() {
    let doc = format!("\u{FEFF}{FULL}");
    assert!(Descriptor::parse(doc.as_bytes()).is_ok());
}

#[test]
fn up_to_max_types_are_kept_and_one_more_is_refused() {
    let types = "<type>a</type>".repeat(MAX_TYPES);
    let doc = format!("<media>{types}<size>1</size><objectURI>u</objectURI></media>");
    assert_eq!(
        Descriptor::parse(doc.as_bytes()).unwrap().types.len(),
        MAX_TYPES
    );
    let types = "<type>a</type>".repeat(MAX_TYPES + 1);
    let doc = format!("<media>{types}<size>1</size><objectURI>u</objectURI></media>");
    assert_eq!(
        Descriptor::parse(doc.as_bytes()),
        Err(DdError::TooManyTypes)
    );
}

#[test]
fn a_repeated_single_valued_field_is_refused() {
    let doc = "<media><type>a</type><size>1</size><objectURI>u</objectURI><objectURI>v</objectURI></media>";
    assert_eq!(
        Descriptor::parse(doc.as_bytes()),
        Err(DdError::Duplicate(Field::ObjectUri))
    );
}
