//! XML for SyncML DM: namespaces and escaping.

pub(crate) mod reader;

use reader::Ns;

/// The namespace the encoder declares on `SyncML`.
pub(crate) const NS_SYNCML: &str = "SYNCML:SYNCML1.2";
/// The namespace the encoder declares on each MetInf element.
pub(crate) const NS_METINF: &str = "syncml:metinf";

/// Which namespace `uri` names: SyncML 1.2 (1.1 too, as WBXML's literal public ids say
/// 1.1 in the wild) or MetInf, compared ignoring ASCII case as real servers vary it.
pub(crate) fn namespace_of(uri: &str) -> Option<Ns> {
    if uri.eq_ignore_ascii_case(NS_SYNCML) || uri.eq_ignore_ascii_case("SYNCML:SYNCML1.1") {
        Some(Ns::SyncMl)
    } else if uri.eq_ignore_ascii_case(NS_METINF) {
        Some(Ns::MetInf)
    } else {
        None
    }
}

/// The escaped form of `c` in character data, if it needs one; `Err` when XML 1.0
/// cannot carry it at all (control characters).
pub(crate) fn escape(c: u8) -> Result<Option<&'static [u8]>, ()> {
    Ok(match c {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        // A literal CR would be normalised to LF by the reader.
        b'\r' => Some(b"&#13;"),
        b'\t' | b'\n' => None,
        0x00..=0x1F => return Err(()),
        _ => None,
    })
}
