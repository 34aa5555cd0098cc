//! The device's alerts in SyncML: the Generic Alert 1226 of a SCOMO result (digest 6.3),
//! the component request (seed 5.4.1 alternative 1), and the short alerts 1200/1201,
//! 1222, 1223 and 1225.

use super::{ALERT_FORMAT, ComponentRequest};
use crate::codes::AlertCode;
use crate::dm::alert::{GenericAlert, Mark};
use crate::dm::codec::{Element, EncodeError, MetaOut, Writer};

/// Writes `<Alert><CmdID/><Data>code</Data></Alert>`, optionally with one Item naming
/// `target` (Alert 1225 names the object it gives up on).
pub(super) fn short(
    w: &mut Writer<'_>,
    cmd_id: u32,
    code: AlertCode,
    target: Option<&str>,
) -> Result<(), EncodeError> {
    w.atomic(|w| {
        w.start(Element::Alert)?;
        w.leaf_u32(Element::CmdID, cmd_id)?;
        w.leaf_u32(Element::Data, u32::from(code.code()))?;
        if let Some(target) = target {
            w.start(Element::Item)?;
            location(w, Element::Target, target)?;
            w.end()?;
        }
        w.end()
    })
}

/// Writes a Generic Alert 1226 from an outbox record: Correlator only when the Exec had
/// one; one Item per component with Source (the executed operation), Target (the
/// inventory node, left out when empty), Meta Type/Format/Mark (non-informational for
/// failures) and `Data` = `<ResultCode>…</ResultCode><Identifier>…</Identifier>`, escaped
/// in XML.
pub(super) fn generic(
    w: &mut Writer<'_>,
    cmd_id: u32,
    alert: &GenericAlert<'_>,
) -> Result<(), EncodeError> {
    w.atomic(|w| {
        w.start(Element::Alert)?;
        w.leaf_u32(Element::CmdID, cmd_id)?;
        w.leaf_u32(Element::Data, u32::from(AlertCode::Generic.code()))?;
        if let Some(correlator) = alert.correlator {
            w.leaf(Element::Correlator, correlator)?;
        }
        for item in &alert.items {
            w.start(Element::Item)?;
            // DTD order: Target, then Source.
            if !item.target.is_empty() {
                location(w, Element::Target, item.target)?;
            }
            location(w, Element::Source, alert.source)?;
            w.meta(&MetaOut {
                format: Some(ALERT_FORMAT),
                mime_type: Some(alert.alert_type),
                mark: Some(Mark::for_result(item.result).name()),
                ..MetaOut::default()
            })?;
            w.start(Element::Data)?;
            let mut digits = [0u8; 5];
            w.text("<ResultCode>")?;
            w.text(decimal(item.result.code(), &mut digits))?;
            w.text("</ResultCode><Identifier>")?;
            w.text(item.identifier)?;
            w.text("</Identifier>")?;
            w.end()?;
            w.end()?;
        }
        w.end()
    })
}

/// Writes the component request: a Generic Alert of type `request.alert_type` whose
/// Source is the SCOMO root and whose Data is the identifier asked for.
pub(super) fn request(
    w: &mut Writer<'_>,
    cmd_id: u32,
    scomo_root: &str,
    request: &ComponentRequest<'_>,
) -> Result<(), EncodeError> {
    w.atomic(|w| {
        w.start(Element::Alert)?;
        w.leaf_u32(Element::CmdID, cmd_id)?;
        w.leaf_u32(Element::Data, u32::from(AlertCode::Generic.code()))?;
        w.start(Element::Item)?;
        w.start(Element::Source)?;
        w.start(Element::LocURI)?;
        w.text("./")?;
        w.text(scomo_root)?;
        w.end()?;
        w.end()?;
        w.meta(&MetaOut {
            format: Some("chr"),
            mime_type: Some(request.alert_type),
            ..MetaOut::default()
        })?;
        w.leaf(Element::Data, request.id)?;
        w.end()?;
        w.end()
    })
}

/// `<el><LocURI>uri</LocURI></el>`.
pub(super) fn location(w: &mut Writer<'_>, el: Element, uri: &str) -> Result<(), EncodeError> {
    w.start(el)?;
    w.leaf(Element::LocURI, uri)?;
    w.end()
}

/// The decimal text of `n`.
fn decimal(n: u16, digits: &mut [u8; 5]) -> &str {
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            // `v % 10` is a single digit.
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    core::str::from_utf8(digits.get(i..).unwrap_or_default()).unwrap_or("0")
}
