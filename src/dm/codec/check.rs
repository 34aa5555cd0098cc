//! The structural check of a whole received message, before anything is applied.
//!
//! One pass over every event, driven by the element table: each child must be allowed
//! by its parent's model, in DTD order (except inside `Meta` and Alert's
//! Data/Correlator), at most as often as allowed, with every required child present;
//! leaves must hold what their kind says (UTF-8 text, a decimal `u32`, nothing). It
//! keeps a small fixed stack, never recurses, and bounds Atomic/Sequence nesting by
//! [`MAX_NESTING`]. The typed model then decodes lazily from positions it records, and
//! cannot meet an error this pass would not have reported first.

use heapless::Vec;

use super::MAX_NESTING;
use super::error::{DecodeError, DecodeErrorKind as K};
use super::reader::{Event, Reader};
use super::tokens::{Content, Element, Model, Progress, Refusal};
use super::value::Piece;

/// Open elements the check tracks: SyncML, SyncBody, the nested containers, a command,
/// Item, Meta, Mem, and a leaf's parent fit with room to spare.
const MAX_DEPTH: usize = MAX_NESTING + 8;

/// Where the typed decoder starts, found by the check.
pub(crate) struct Outline<'a> {
    /// Inside `SyncHdr`.
    pub hdr: Reader<'a>,
    /// Inside `SyncBody`.
    pub body: Reader<'a>,
    /// Whether `SyncBody` ends with `Final`.
    pub is_final: bool,
}

struct Frame {
    el: Element,
    /// The element's content model (looked up once, when it opens).
    model: &'static Model,
    progress: Progress,
}

/// Checks the message whose root start tag `r` has just read.
pub(crate) fn check(mut r: Reader<'_>) -> Result<Outline<'_>, DecodeError> {
    let mut stack: Vec<Frame, MAX_DEPTH> = Vec::new();
    let Content::Container(root_model) = Element::SyncML.content() else {
        return Err(DecodeError::at(K::Syntax, 0));
    };
    let root = Frame {
        el: Element::SyncML,
        model: root_model,
        progress: Progress::default(),
    };
    stack
        .push(root)
        .map_err(|_| DecodeError::at(K::TooDeep, 0))?;
    let mut hdr = None;
    let mut body = None;
    let mut is_final = false;
    let mut nesting = 0usize;
    loop {
        let at = r.offset();
        match r.next()? {
            Event::Start { el, empty } => {
                let top = stack
                    .last_mut()
                    .ok_or_else(|| DecodeError::at(K::Syntax, at))?;
                top.progress
                    .admit_in(top.model, el, false)
                    .map_err(|refusal| {
                        DecodeError::at(
                            match refusal {
                                Refusal::NotAllowed => K::Unexpected(el),
                                Refusal::OutOfOrder => K::OutOfOrder(el),
                                Refusal::Duplicate => K::Duplicate(el),
                            },
                            at,
                        )
                    })?;
                match el.content() {
                    Content::Container(model) => {
                        if matches!(el, Element::Atomic | Element::Sequence) {
                            nesting += 1;
                            if nesting > MAX_NESTING {
                                return Err(DecodeError::at(K::TooDeep, at));
                            }
                        }
                        match el {
                            Element::SyncHdr => hdr = Some(r),
                            Element::SyncBody => body = Some(r),
                            _ => {}
                        }
                        let frame = Frame {
                            el,
                            model,
                            progress: Progress::default(),
                        };
                        if empty {
                            close(frame, &mut nesting, at)?;
                        } else {
                            stack
                                .push(frame)
                                .map_err(|_| DecodeError::at(K::TooDeep, at))?;
                        }
                    }
                    Content::Empty => {
                        let v = r.value(el, empty)?;
                        let blank = v.pieces().all(|p| match p {
                            Piece::Str(s) => s.bytes().all(|b| b.is_ascii_whitespace()),
                            Piece::Bytes(b) => b.is_empty(),
                            Piece::Char(_) => false,
                        });
                        if !blank {
                            return Err(DecodeError::at(K::Unexpected(el), at));
                        }
                        is_final |= el == Element::Final;
                    }
                    Content::Text => {
                        if !r.value(el, empty)?.is_utf8() {
                            return Err(DecodeError::at(K::Utf8, at));
                        }
                    }
                    Content::Number => {
                        r.value(el, empty)?
                            .to_u32()
                            .ok_or_else(|| DecodeError::at(K::Number(el), at))?;
                    }
                    Content::Data => {
                        r.value(el, empty)?;
                    }
                    Content::Unused => return Err(DecodeError::at(K::Unexpected(el), at)),
                }
            }
            Event::End(name) => {
                let frame = stack.pop().ok_or_else(|| DecodeError::at(K::Syntax, at))?;
                if let Some(tag) = name {
                    tag.closes(frame.el, at)?;
                }
                close(frame, &mut nesting, at)?;
                if stack.is_empty() {
                    r.finish()?;
                    let missing = |el| DecodeError::at(K::Missing(el), at);
                    return Ok(Outline {
                        hdr: hdr.ok_or(missing(Element::SyncHdr))?,
                        body: body.ok_or(missing(Element::SyncBody))?,
                        is_final,
                    });
                }
            }
        }
    }
}

/// Closes `frame`: its required children must all have come.
fn close(frame: Frame, nesting: &mut usize, at: usize) -> Result<(), DecodeError> {
    if let Some(missing) = frame.progress.missing_in(frame.model) {
        return Err(DecodeError::at(K::Missing(missing), at));
    }
    if matches!(frame.el, Element::Atomic | Element::Sequence) {
        *nesting = nesting.saturating_sub(1);
    }
    Ok(())
}
