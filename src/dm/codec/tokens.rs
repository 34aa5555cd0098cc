//! The one table of SyncML DM elements: XML name, WBXML code page and token, content
//! model (which children, how often, in which DTD order).
//!
//! Both decoders look names and tokens up here; the structural check of received
//! messages and both encoders use the same child lists, so the order an encoder writes
//! and the order a decoder accepts cannot drift apart (digest 7.4, 8.2, 8.3).

/// Declares [`Element`] and its lookups from one table.
macro_rules! elements {
    ($( $variant:ident = ($page:literal, $token:literal, $name:literal, $content:expr), )+) => {
        /// A SyncML element of code page 0 (`SYNCML:SYNCML1.2`) or 1 (`syncml:metinf`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum Element {
            $(
                #[doc = concat!("`<", $name, ">`")]
                $variant,
            )+
        }

        impl Element {
            /// Every element of the table.
            pub const ALL: &'static [Element] = &[$(Element::$variant,)+];

            /// The XML element name.
            pub const fn name(self) -> &'static str {
                match self { $(Element::$variant => $name,)+ }
            }

            /// The WBXML code page: 0 SyncML, 1 MetInf.
            pub const fn page(self) -> u8 {
                match self { $(Element::$variant => $page,)+ }
            }

            /// The WBXML tag token (without the content and attribute bits).
            pub const fn token(self) -> u8 {
                match self { $(Element::$variant => $token,)+ }
            }

            /// What the element may contain.
            pub(crate) const fn content(self) -> Content {
                match self { $(Element::$variant => $content,)+ }
            }

        }
    };
}

use Content::{Container, Data, Empty, Number, Text, Unused};

elements! {
    // Code page 0: SyncML.
    Add = (0, 0x05, "Add", Container(&ITEM_COMMAND)),
    Alert = (0, 0x06, "Alert", Container(&ALERT)),
    Archive = (0, 0x07, "Archive", Empty),
    Atomic = (0, 0x08, "Atomic", Container(&CONTAINER)),
    Chal = (0, 0x09, "Chal", Container(&CHAL)),
    Cmd = (0, 0x0A, "Cmd", Text),
    CmdID = (0, 0x0B, "CmdID", Number),
    CmdRef = (0, 0x0C, "CmdRef", Number),
    Copy = (0, 0x0D, "Copy", Container(&ITEM_COMMAND)),
    Cred = (0, 0x0E, "Cred", Container(&CRED)),
    Data = (0, 0x0F, "Data", Data),
    Delete = (0, 0x10, "Delete", Container(&DELETE)),
    Exec = (0, 0x11, "Exec", Container(&EXEC)),
    Final = (0, 0x12, "Final", Empty),
    Get = (0, 0x13, "Get", Container(&GET)),
    Item = (0, 0x14, "Item", Container(&ITEM)),
    Lang = (0, 0x15, "Lang", Text),
    LocName = (0, 0x16, "LocName", Text),
    LocURI = (0, 0x17, "LocURI", Text),
    Map = (0, 0x18, "Map", Unused),
    MapItem = (0, 0x19, "MapItem", Unused),
    Meta = (0, 0x1A, "Meta", Container(&META)),
    MsgID = (0, 0x1B, "MsgID", Number),
    MsgRef = (0, 0x1C, "MsgRef", Number),
    NoResp = (0, 0x1D, "NoResp", Empty),
    NoResults = (0, 0x1E, "NoResults", Unused),
    Put = (0, 0x1F, "Put", Unused),
    Replace = (0, 0x20, "Replace", Container(&ITEM_COMMAND)),
    RespURI = (0, 0x21, "RespURI", Text),
    Results = (0, 0x22, "Results", Container(&RESULTS)),
    Search = (0, 0x23, "Search", Unused),
    Sequence = (0, 0x24, "Sequence", Container(&CONTAINER)),
    SessionID = (0, 0x25, "SessionID", Text),
    SftDel = (0, 0x26, "SftDel", Empty),
    Source = (0, 0x27, "Source", Container(&LOCATION)),
    SourceRef = (0, 0x28, "SourceRef", Text),
    Status = (0, 0x29, "Status", Container(&STATUS)),
    Sync = (0, 0x2A, "Sync", Unused),
    SyncBody = (0, 0x2B, "SyncBody", Container(&SYNC_BODY)),
    SyncHdr = (0, 0x2C, "SyncHdr", Container(&SYNC_HDR)),
    SyncML = (0, 0x2D, "SyncML", Container(&SYNC_ML)),
    Target = (0, 0x2E, "Target", Container(&LOCATION)),
    TargetRef = (0, 0x2F, "TargetRef", Text),
    VerDTD = (0, 0x31, "VerDTD", Text),
    VerProto = (0, 0x32, "VerProto", Text),
    NumberOfChanges = (0, 0x33, "NumberOfChanges", Unused),
    MoreData = (0, 0x34, "MoreData", Empty),
    Field = (0, 0x35, "Field", Unused),
    Filter = (0, 0x36, "Filter", Unused),
    Record = (0, 0x37, "Record", Unused),
    FilterType = (0, 0x38, "FilterType", Unused),
    SourceParent = (0, 0x39, "SourceParent", Container(&PARENT)),
    TargetParent = (0, 0x3A, "TargetParent", Container(&PARENT)),
    Move = (0, 0x3B, "Move", Unused),
    Correlator = (0, 0x3C, "Correlator", Text),
    // Code page 1: MetInf.
    Anchor = (1, 0x05, "Anchor", Container(&ANCHOR)),
    Emi = (1, 0x06, "EMI", Text),
    Format = (1, 0x07, "Format", Text),
    FreeID = (1, 0x08, "FreeID", Text),
    FreeMem = (1, 0x09, "FreeMem", Text),
    Last = (1, 0x0A, "Last", Text),
    Mark = (1, 0x0B, "Mark", Text),
    MaxMsgSize = (1, 0x0C, "MaxMsgSize", Number),
    Mem = (1, 0x0D, "Mem", Container(&MEM)),
    MetInf = (1, 0x0E, "MetInf", Unused),
    Next = (1, 0x0F, "Next", Text),
    NextNonce = (1, 0x10, "NextNonce", Text),
    SharedMem = (1, 0x11, "SharedMem", Empty),
    Size = (1, 0x12, "Size", Number),
    Type = (1, 0x13, "Type", Text),
    Version = (1, 0x14, "Version", Text),
    MaxObjSize = (1, 0x15, "MaxObjSize", Number),
    FieldLevel = (1, 0x16, "FieldLevel", Empty),
}

/// Slots of the name lookup table (a power of two, over twice the element count).
const NAME_SLOTS: usize = 256;

/// One step of the name hash, byte by byte from 0: a reader hashes a name as it scans it.
pub(crate) const fn hash_step(h: usize, b: u8) -> usize {
    h.wrapping_mul(31).wrapping_add(b as usize)
}

/// The hash of a name; its low bits are where the name starts probing the lookup table.
const fn name_hash(name: &[u8]) -> usize {
    let mut h = 0;
    let mut rest = name;
    while let [b, tail @ ..] = rest {
        h = hash_step(h, *b);
        rest = tail;
    }
    h
}

/// Open-addressing table from name hash to element, built at compile time: a lookup
/// costs one hash and usually one comparison.
// Indexing here runs in the compiler only (slots are masked, fewer elements than slots):
// a mistake would fail the build, never a device.
#[allow(clippy::indexing_slicing)]
static NAME_TABLE: [Option<Element>; NAME_SLOTS] = {
    let mut table = [None; NAME_SLOTS];
    let mut rest = Element::ALL;
    while let [el, tail @ ..] = rest {
        let mut slot = name_hash(el.name().as_bytes()) & (NAME_SLOTS - 1);
        while table[slot].is_some() {
            slot = (slot + 1) & (NAME_SLOTS - 1);
        }
        table[slot] = Some(*el);
        rest = tail;
    }
    table
};

/// Tokens of a code page (tag tokens are six bits).
const PAGE_TOKENS: usize = 64;

/// The element of each (code page, token), at `page * 64 + token`, built at compile time:
/// a lookup costs one load.
// Indexing here runs in the compiler only (pages are 0 and 1, tokens below 64): a mistake
// would fail the build, never a device.
#[allow(clippy::indexing_slicing)]
const BY_TOKEN: [Option<Element>; 2 * PAGE_TOKENS] = {
    let mut table = [None; 2 * PAGE_TOKENS];
    let mut rest = Element::ALL;
    while let [el, tail @ ..] = rest {
        table[el.page() as usize * PAGE_TOKENS + el.token() as usize] = Some(*el);
        rest = tail;
    }
    table
};

impl Element {
    /// The element with WBXML `token` on code `page`.
    pub const fn from_token(page: u8, token: u8) -> Option<Element> {
        let index = page as usize * PAGE_TOKENS + token as usize;
        if token as usize >= PAGE_TOKENS || index >= BY_TOKEN.len() {
            return None;
        }
        // In bounds: checked just above.
        #[allow(clippy::indexing_slicing)]
        BY_TOKEN[index]
    }

    /// The element with XML name `name` (names are unique across both pages).
    pub fn from_name(name: &str) -> Option<Element> {
        Element::from_name_bytes(name.as_bytes())
    }

    /// [`Element::from_name`] of the name's bytes.
    pub(crate) fn from_name_bytes(name: &[u8]) -> Option<Element> {
        Element::from_hashed_name(name, name_hash(name))
    }

    /// [`Element::from_name`] of the name's bytes and their hash (from [`hash_step`]).
    pub(crate) fn from_hashed_name(name: &[u8], hash: usize) -> Option<Element> {
        let mut slot = hash & (NAME_SLOTS - 1);
        loop {
            let el = (*NAME_TABLE.get(slot)?)?;
            if el.is_named(name) {
                return Some(el);
            }
            slot = (slot + 1) & (NAME_SLOTS - 1);
        }
    }

    /// Whether `name` is the element's XML name. A loop rather than a call of `memcmp`:
    /// names are short, and most comparisons are decided by the length.
    pub(crate) fn is_named(self, name: &[u8]) -> bool {
        let own = self.name().as_bytes();
        own.len() == name.len() && own.iter().zip(name).all(|(a, b)| a == b)
    }

    /// Whether the element is a command that may stand in `SyncBody`.
    pub const fn is_command(self) -> bool {
        matches!(
            self,
            Element::Add
                | Element::Alert
                | Element::Atomic
                | Element::Copy
                | Element::Delete
                | Element::Exec
                | Element::Get
                | Element::Replace
                | Element::Results
                | Element::Sequence
                | Element::Status
        )
    }
}

/// What an element may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    /// No content (`<Final/>`); whitespace is tolerated.
    Empty,
    /// Character data that must be UTF-8.
    Text,
    /// A decimal `u32`, surrounding whitespace tolerated.
    Number,
    /// Character data or binary (`Data`: text, CDATA, WBXML OPAQUE).
    Data,
    /// Child elements, per the model.
    Container(&'static Model),
    /// Known to the token table but never valid in a DM message (DS-only elements).
    Unused,
}

/// The children an element may have.
#[derive(Debug)]
pub(crate) struct Model {
    /// The allowed children in DTD order.
    pub children: &'static [Child],
    /// Whether received messages must keep the DTD order (encoders always keep it).
    /// Only commands must: their items and nested commands come last, which lets the
    /// typed decoder skip them; inside an Item, a header or a Meta, real peers vary the
    /// order (the digest's Generic Alert puts Source before Target).
    pub ordered: bool,
    /// Bit `i` set when child `i` is required (occurs `One` or `OneOrMore`).
    pub required: u32,
}

/// One allowed child.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Child {
    /// The child element.
    pub el: Element,
    /// How often it may occur.
    pub occurs: Occurs,
    /// Its position in the DTD order; children of equal rank may interleave.
    pub rank: u8,
}

/// How often a child may occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Occurs {
    /// Exactly once.
    One,
    /// At most once.
    Opt,
    /// Any number of times.
    Many,
    /// At least once.
    OneOrMore,
}

/// Shorthand for a table row.
const fn c(el: Element, occurs: Occurs, rank: u8) -> Child {
    Child { el, occurs, rank }
}

use Element as E;
use Occurs::{Many, One, OneOrMore, Opt};

const fn unordered(children: &'static [Child]) -> Model {
    Model {
        children,
        ordered: false,
        required: required(children),
    }
}

const fn ordered(children: &'static [Child]) -> Model {
    Model {
        children,
        ordered: true,
        required: required(children),
    }
}

/// The mask of the required children (a model has at most 32 children: a test checks).
const fn required(children: &'static [Child]) -> u32 {
    let mut mask = 0;
    let mut i = 0;
    let mut rest = children;
    while let [child, tail @ ..] = rest {
        if matches!(child.occurs, One | OneOrMore) {
            mask |= 1u32 << (i & 31);
        }
        i += 1;
        rest = tail;
    }
    mask
}

static SYNC_ML: Model = ordered(&[c(E::SyncHdr, One, 0), c(E::SyncBody, One, 1)]);
static SYNC_HDR: Model = unordered(&[
    c(E::VerDTD, One, 0),
    c(E::VerProto, One, 1),
    c(E::SessionID, One, 2),
    c(E::MsgID, One, 3),
    c(E::Target, One, 4),
    c(E::Source, One, 5),
    c(E::RespURI, Opt, 6),
    c(E::NoResp, Opt, 7),
    c(E::Cred, Opt, 8),
    c(E::Meta, Opt, 9),
]);
static SYNC_BODY: Model = ordered(&[
    c(E::Add, Many, 0),
    c(E::Alert, Many, 0),
    c(E::Atomic, Many, 0),
    c(E::Copy, Many, 0),
    c(E::Delete, Many, 0),
    c(E::Exec, Many, 0),
    c(E::Get, Many, 0),
    c(E::Replace, Many, 0),
    c(E::Results, Many, 0),
    c(E::Sequence, Many, 0),
    c(E::Status, Many, 0),
    c(E::Final, Opt, 1),
]);
/// Atomic and Sequence (SyncML RepPro 1.2 DTD, without the DS-only Map and Sync).
static CONTAINER: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Meta, Opt, 2),
    c(E::Add, Many, 3),
    c(E::Alert, Many, 3),
    c(E::Atomic, Many, 3),
    c(E::Copy, Many, 3),
    c(E::Delete, Many, 3),
    c(E::Exec, Many, 3),
    c(E::Get, Many, 3),
    c(E::Replace, Many, 3),
    c(E::Sequence, Many, 3),
]);
/// Add, Replace, Copy.
static ITEM_COMMAND: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Cred, Opt, 2),
    c(E::Meta, Opt, 3),
    c(E::Item, OneOrMore, 4),
]);
static DELETE: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Archive, Opt, 2),
    c(E::SftDel, Opt, 3),
    c(E::Cred, Opt, 4),
    c(E::Meta, Opt, 5),
    c(E::Item, OneOrMore, 6),
]);
static GET: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Lang, Opt, 2),
    c(E::Cred, Opt, 3),
    c(E::Meta, Opt, 4),
    c(E::Item, OneOrMore, 5),
]);
static EXEC: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Cred, Opt, 2),
    c(E::Meta, Opt, 3),
    c(E::Correlator, Opt, 4),
    c(E::Item, One, 5),
]);
/// Data and Correlator share a rank: both orders are seen in the wild (digest 6.3).
static ALERT: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::NoResp, Opt, 1),
    c(E::Cred, Opt, 2),
    c(E::Data, Opt, 3),
    c(E::Correlator, Opt, 3),
    c(E::Item, Many, 4),
]);
static STATUS: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::MsgRef, One, 1),
    c(E::CmdRef, One, 2),
    c(E::Cmd, One, 3),
    c(E::TargetRef, Many, 4),
    c(E::SourceRef, Many, 5),
    c(E::Cred, Opt, 6),
    c(E::Chal, Opt, 7),
    c(E::Data, One, 8),
    c(E::Item, Many, 9),
]);
static RESULTS: Model = ordered(&[
    c(E::CmdID, One, 0),
    c(E::MsgRef, Opt, 1),
    c(E::CmdRef, One, 2),
    c(E::Meta, Opt, 3),
    c(E::TargetRef, Many, 4),
    c(E::SourceRef, Many, 5),
    c(E::Item, OneOrMore, 6),
]);
static ITEM: Model = unordered(&[
    c(E::Target, Opt, 0),
    c(E::Source, Opt, 1),
    c(E::TargetParent, Opt, 2),
    c(E::SourceParent, Opt, 3),
    c(E::Meta, Opt, 4),
    c(E::Data, Opt, 5),
    c(E::MoreData, Opt, 6),
]);
/// Target and Source (the DS-only Filter is not accepted).
static LOCATION: Model = unordered(&[c(E::LocURI, One, 0), c(E::LocName, Opt, 1)]);
static PARENT: Model = unordered(&[c(E::LocURI, One, 0)]);
static CRED: Model = unordered(&[c(E::Meta, Opt, 0), c(E::Data, One, 1)]);
static CHAL: Model = unordered(&[c(E::Meta, One, 0)]);
/// MetInf DTD order (digest 7.4).
static META: Model = unordered(&[
    c(E::FieldLevel, Opt, 0),
    c(E::Format, Opt, 1),
    c(E::Type, Opt, 2),
    c(E::Mark, Opt, 3),
    c(E::Size, Opt, 4),
    c(E::Anchor, Opt, 5),
    c(E::Version, Opt, 6),
    c(E::NextNonce, Opt, 7),
    c(E::MaxMsgSize, Opt, 8),
    c(E::MaxObjSize, Opt, 9),
    c(E::Emi, Many, 10),
    c(E::Mem, Opt, 11),
]);
static ANCHOR: Model = unordered(&[c(E::Last, Opt, 0), c(E::Next, One, 1)]);
static MEM: Model = unordered(&[
    c(E::SharedMem, Opt, 0),
    c(E::FreeMem, One, 1),
    c(E::FreeID, One, 2),
]);

/// Where a parent stands in its content model while its children arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Rank of the last child admitted.
    rank: u8,
    /// Index in the model of the last child admitted: the next child is looked for from
    /// there (children mostly come in model order).
    at: u8,
    /// Bit `i` set when child `i` of the model was seen.
    seen: u32,
}

/// Why a child was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a child of this parent (or the parent holds no elements).
    NotAllowed,
    /// Allowed, but after a sibling that the DTD puts later.
    OutOfOrder,
    /// A second occurrence of a child that may occur once.
    Duplicate,
}

impl Progress {
    /// Admits `child` under `parent` at this point, or says why not.
    /// `encoding` says the caller writes (DTD order always) rather than reads.
    pub(crate) fn admit(
        &mut self,
        parent: Element,
        child: Element,
        encoding: bool,
    ) -> Result<(), Refusal> {
        let Content::Container(model) = parent.content() else {
            return Err(Refusal::NotAllowed);
        };
        self.admit_in(model, child, encoding)
    }

    /// [`Progress::admit`] under a parent whose content model is `model`.
    pub(crate) fn admit_in(
        &mut self,
        model: &Model,
        child: Element,
        encoding: bool,
    ) -> Result<(), Refusal> {
        let (head, tail) = model
            .children
            .split_at_checked(usize::from(self.at))
            .unwrap_or((&[], model.children));
        let index = match tail.iter().position(|r| r.el == child) {
            Some(i) => head.len() + i,
            None => head
                .iter()
                .position(|r| r.el == child)
                .ok_or(Refusal::NotAllowed)?,
        };
        let rule = model.children.get(index).ok_or(Refusal::NotAllowed)?;
        if (encoding || model.ordered) && rule.rank < self.rank {
            return Err(Refusal::OutOfOrder);
        }
        let bit = 1u32 << (index & 31);
        if matches!(rule.occurs, One | Opt) && self.seen & bit != 0 {
            return Err(Refusal::Duplicate);
        }
        self.seen |= bit;
        self.rank = rule.rank;
        self.at = u8::try_from(index).unwrap_or(0);
        Ok(())
    }

    /// The first required child of `parent` that has not been seen, if any.
    pub(crate) fn missing(&self, parent: Element) -> Option<Element> {
        let Content::Container(model) = parent.content() else {
            return None;
        };
        self.missing_in(model)
    }

    /// [`Progress::missing`] under a parent whose content model is `model`.
    pub(crate) fn missing_in(&self, model: &Model) -> Option<Element> {
        let lacking = model.required & !self.seen;
        if lacking == 0 {
            return None;
        }
        model
            .children
            .get(lacking.trailing_zeros() as usize)
            .map(|r| r.el)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_per_page_and_names_unique() {
        for (i, a) in Element::ALL.iter().enumerate() {
            for b in &Element::ALL[i + 1..] {
                assert!(
                    (a.page(), a.token()) != (b.page(), b.token()),
                    "{a:?} {b:?}"
                );
                assert_ne!(a.name(), b.name());
            }
            assert_eq!(Element::from_name(a.name()), Some(*a));
            assert_eq!(Element::from_token(a.page(), a.token()), Some(*a));
            assert!((0x05..=0x3F).contains(&a.token()));
        }
    }

    #[test]
    fn models_fit_the_seen_mask_and_ranks_never_decrease() {
        for el in Element::ALL {
            if let Content::Container(m) = el.content() {
                assert!(m.children.len() <= 32);
                assert!(m.children.windows(2).all(|w| w[0].rank <= w[1].rank));
            }
        }
    }

    #[test]
    fn alert_accepts_correlator_before_data() {
        let mut p = Progress::default();
        p.admit(E::Alert, E::CmdID, true).unwrap();
        p.admit(E::Alert, E::Correlator, true).unwrap();
        p.admit(E::Alert, E::Data, true).unwrap();
        assert_eq!(p.admit(E::Alert, E::Data, true), Err(Refusal::Duplicate));
    }

    #[test]
    fn status_requires_its_data() {
        let mut p = Progress::default();
        for el in [E::CmdID, E::MsgRef, E::CmdRef, E::Cmd] {
            p.admit(E::Status, el, false).unwrap();
        }
        assert_eq!(p.missing(E::Status), Some(E::Data));
        assert_eq!(
            p.admit(E::Status, E::MsgRef, false),
            Err(Refusal::OutOfOrder)
        );
    }
}
