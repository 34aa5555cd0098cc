//! The outbox: results waiting for the server's acknowledgement of their Generic Alert.

use core::fmt::Write as _;

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::ScomoResult;
use crate::dm::alert::{AlertItem, GenericAlert, MAX_ALERT_ITEMS, SCOMO_ALERT_TYPE};
use crate::ops::job::{Correlator, JobId, opt_str, opt_string};

/// Bytes of text one report holds: the Source URI, then each item's Target URI and
/// `<Identifier>`. Items that do not fit are left out (the first always fits: a SCOMO root
/// of 48 bytes, a 32-byte node name and a 64-byte identifier take about 300).
pub const REPORT_TEXT: usize = 400;

/// One result in the outbox, reported by a Generic Alert 1226 until the server
/// acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// The outbox identifier (the Generic Alert's `id`).
    pub id: u32,
    /// The job that produced it.
    pub job: JobId,
    pub result: ScomoResult,
    pub correlator: Option<Correlator>,
    /// `text[..source_end]` is the Source URI.
    source_end: u16,
    /// For each item, where its target and its identifier end in `text`.
    items: heapless::Vec<(u16, u16), MAX_ALERT_ITEMS>,
    text: heapless::String<REPORT_TEXT, u16>,
}

impl Report {
    /// A report with Source `source` (written by `source`; left empty if it does not fit)
    /// and no items yet.
    pub fn new(
        id: u32,
        job: JobId,
        result: ScomoResult,
        correlator: Option<Correlator>,
        source: impl FnOnce(&mut dyn core::fmt::Write) -> core::fmt::Result,
    ) -> Self {
        let mut text = heapless::String::new();
        if source(&mut text).is_err() {
            text.clear();
        }
        Self {
            id,
            job,
            result,
            correlator,
            source_end: text.len() as u16,
            items: heapless::Vec::new(),
            text,
        }
    }

    /// Adds an item (target written by `target`); returns `false` and changes nothing when
    /// it does not fit.
    pub fn item(
        &mut self,
        target: impl FnOnce(&mut dyn core::fmt::Write) -> core::fmt::Result,
        identifier: &str,
    ) -> bool {
        let before = self.text.len();
        let ok = self.items.len() < MAX_ALERT_ITEMS && target(&mut self.text).is_ok() && {
            let target_end = self.text.len();
            self.text.write_str(identifier).is_ok()
                && self
                    .items
                    .push((target_end as u16, self.text.len() as u16))
                    .is_ok()
        };
        if !ok {
            self.text.truncate(before);
        }
        ok
    }

    fn slice(&self, from: u16, to: u16) -> &str {
        self.text
            .get(usize::from(from)..usize::from(to))
            .unwrap_or("")
    }

    /// The Source URI.
    pub fn source(&self) -> &str {
        self.slice(0, self.source_end)
    }

    /// The items: (target, identifier).
    pub fn items(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = self.source_end;
        self.items.iter().map(move |&(target_end, ident_end)| {
            let item = (
                self.slice(start, target_end),
                self.slice(target_end, ident_end),
            );
            start = ident_end;
            item
        })
    }

    /// The Generic Alert view the session engine encodes.
    pub fn alert(&self) -> GenericAlert<'_> {
        GenericAlert {
            id: self.id,
            correlator: self.correlator.as_deref(),
            source: self.source(),
            alert_type: SCOMO_ALERT_TYPE,
            items: self
                .items()
                .map(|(target, identifier)| AlertItem {
                    target,
                    result: self.result,
                    identifier,
                })
                .collect(),
        }
    }

    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(7)?
            .u32(self.id)?
            .u32(self.job.0)?
            .u16(self.result.code())?;
        opt_str(e, self.correlator.as_deref())?;
        e.str(&self.text)?.u16(self.source_end)?;
        e.array(self.items.len() as u64)?;
        for &(t, i) in &self.items {
            e.array(2)?.u16(t)?.u16(i)?;
        }
        Ok(())
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        let bad = |m| decode::Error::message(m);
        if d.array()? != Some(7) {
            return Err(bad("report is not a 7-array"));
        }
        let id = d.u32()?;
        let job = JobId(d.u32()?);
        let result = ScomoResult::from_code(d.u16()?).ok_or(bad("bad result code"))?;
        let correlator = opt_string(d)?;
        let text: heapless::String<REPORT_TEXT, u16> = string_u16(d)?;
        let source_end = d.u16()?;
        let count = d.array()?.ok_or(bad("indefinite items"))?;
        let mut items = heapless::Vec::new();
        let mut at = source_end;
        for _ in 0..count {
            if d.array()? != Some(2) {
                return Err(bad("item is not a pair"));
            }
            let (t, i) = (d.u16()?, d.u16()?);
            // Spans must follow each other inside the text, on character boundaries.
            let ordered = at <= t && t <= i && usize::from(i) <= text.len();
            let bounded = [at, t, i]
                .iter()
                .all(|&p| text.is_char_boundary(usize::from(p)));
            if !ordered || !bounded {
                return Err(bad("bad item span"));
            }
            items.push((t, i)).map_err(|_| bad("too many items"))?;
            at = i;
        }
        if usize::from(source_end) > text.len() || !text.is_char_boundary(source_end.into()) {
            return Err(bad("bad source span"));
        }
        Ok(Self {
            id,
            job,
            result,
            correlator,
            source_end,
            items,
            text,
        })
    }
}

fn string_u16<const N: usize>(
    d: &mut Decoder<'_>,
) -> Result<heapless::String<N, u16>, decode::Error> {
    heapless::String::try_from(d.str()?).map_err(|_| decode::Error::message("text too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ResultCode;

    #[test]
    fn reports_keep_their_items_and_round_trip() {
        let mut r = Report::new(
            3,
            JobId(9),
            ResultCode::Successful.into(),
            Some(Correlator::try_from("abc").unwrap()),
            |w| w.write_str("./SCOMO/Download/p/Operations/Download"),
        );
        assert!(r.item(|w| w.write_str("./SCOMO/Inventory/Deployed/a"), "com.a"));
        assert!(r.item(|w| w.write_str("./SCOMO/Inventory/Deployed/b"), "com.b"));
        let alert = r.alert();
        assert_eq!(alert.source, "./SCOMO/Download/p/Operations/Download");
        assert_eq!(alert.items.len(), 2);
        assert_eq!(alert.items[1].identifier, "com.b");
        assert_eq!(alert.items[1].target, "./SCOMO/Inventory/Deployed/b");
        assert_eq!(alert.correlator, Some("abc"));
        drop(alert);
        let mut buf = [0u8; 512];
        let n = crate::mo::encode_into(&mut buf, |e| r.encode(e)).unwrap();
        assert_eq!(Report::decode(&mut Decoder::new(&buf[..n])).unwrap(), r);
        let long = [b'x'; REPORT_TEXT];
        assert!(!r.item(|w| w.write_str(core::str::from_utf8(&long).unwrap()), "id"));
        assert_eq!(r.alert().items.len(), 2);
    }
}
