//! OMA download descriptors (digest 9.2) and install-notify reports (digest 9.3).
//!
//! A `PkgURL` may point at an OMA Download 1.0 descriptor (`application/vnd.oma.dd+xml`)
//! instead of the package itself: a small XML document, root `<media>` in the namespace
//! [`NAMESPACE`], that names the object to fetch ([`Descriptor::object_uri`]), its size and
//! types, and where to post the install-notify report ([`InstallStatus`]).
//!
//! [`Descriptor::parse`] reads one with the `xmlparser` tokenizer, without copying: every
//! value borrows from the input as an [`XmlText`] (raw, entity references not yet
//! resolved; [`XmlText::unescape`] resolves them into a caller's buffer). Elements of other
//! namespaces and unknown elements are skipped (the format is extensible); DTDs are skipped
//! and their entities never expanded.
mod notify;
mod text;

pub use notify::InstallStatus;
pub use text::XmlText;

use xmlparser::{ElementEnd, Token, Tokenizer};

/// The MIME type that marks a download descriptor (decide by the HTTP `Content-Type` of
/// the `PkgURL` response, digest 9.1).
pub const CONTENT_TYPE: &str = "application/vnd.oma.dd+xml";

/// The namespace of OMA Download 1.0 descriptors.
pub const NAMESPACE: &str = "http://www.openmobilealliance.org/xmlns/dd";

/// How many `<type>` elements a descriptor may carry.
pub const MAX_TYPES: usize = 4;

/// How deeply elements may nest (the root is depth 1); deeper is
/// [`DdError::TooDeep`]. Descriptor fields sit at depth 2; the rest is room for
/// extensions that are skipped.
pub const MAX_DEPTH: usize = 8;

/// The descriptor elements we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// `type` (required, repeatable): MIME type of the object.
    Type,
    /// `size` (required): the object's size in bytes.
    Size,
    /// `objectURI` (required): where to GET the object.
    ObjectUri,
    /// `installNotifyURI`: where to POST the install-notify report.
    InstallNotifyUri,
    /// `nextURL`: a page to show afterwards.
    NextUrl,
    /// `DDVersion`: the descriptor version (`1.0`).
    DdVersion,
    /// `name`: the object's name for the user.
    Name,
    /// `description`: a short description.
    Description,
    /// `vendor`: who provides the object.
    Vendor,
    /// `infoURL`: more information about the object.
    InfoUrl,
    /// `iconURI`: an icon for the object.
    IconUri,
    /// `installParam`: parameters for the installer.
    InstallParam,
}

impl Field {
    /// The element's local name.
    pub const fn element(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Size => "size",
            Field::ObjectUri => "objectURI",
            Field::InstallNotifyUri => "installNotifyURI",
            Field::NextUrl => "nextURL",
            Field::DdVersion => "DDVersion",
            Field::Name => "name",
            Field::Description => "description",
            Field::Vendor => "vendor",
            Field::InfoUrl => "infoURL",
            Field::IconUri => "iconURI",
            Field::InstallParam => "installParam",
        }
    }

    /// The field an element's local name names (exact case, as XML is).
    pub fn from_element(local: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.element() == local)
    }

    const ALL: [Field; 12] = [
        Field::Type,
        Field::Size,
        Field::ObjectUri,
        Field::InstallNotifyUri,
        Field::NextUrl,
        Field::DdVersion,
        Field::Name,
        Field::Description,
        Field::Vendor,
        Field::InfoUrl,
        Field::IconUri,
        Field::InstallParam,
    ];
}

/// Why a descriptor was refused; [`install_status`](Self::install_status) says what to
/// report to `installNotifyURI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DdError {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// Not well-formed XML (the tokenizer's complaint, or mismatched or unclosed tags).
    Malformed,
    /// Well-formed, but the root is not `<media>` in the descriptor namespace.
    NotADescriptor,
    /// A required element is missing.
    Missing(Field),
    /// A single-valued element appears twice.
    Duplicate(Field),
    /// An element that holds text holds an element, or text split by markup.
    NotText(Field),
    /// `size` is not a decimal number of bytes that fits 64 bits.
    BadSize,
    /// More than [`MAX_TYPES`] `type` elements.
    TooManyTypes,
    /// Elements nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// `DDVersion` does not start with `1.`.
    UnsupportedVersion,
    /// A text holds an entity or character reference that is unknown or invalid.
    BadReference,
    /// The caller's output buffer is too small.
    BufferTooSmall,
}

impl DdError {
    /// The status to report to `installNotifyURI` for this refusal (digest 9.2): 951 for
    /// the version, 901 when our buffer was too small, 906 for everything else.
    pub const fn install_status(self) -> InstallStatus {
        match self {
            DdError::UnsupportedVersion => InstallStatus::InvalidDdVersion,
            DdError::BufferTooSmall => InstallStatus::InsufficientMemory,
            _ => InstallStatus::InvalidDescriptor,
        }
    }
}

impl core::fmt::Display for DdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            DdError::NotUtf8 => "descriptor is not UTF-8",
            DdError::Malformed => "descriptor is not well-formed XML",
            DdError::NotADescriptor => "root is not an OMA DD <media>",
            DdError::Missing(_) => "required descriptor element missing",
            DdError::Duplicate(_) => "descriptor element repeated",
            DdError::NotText(_) => "descriptor element does not hold plain text",
            DdError::BadSize => "descriptor size is not a number",
            DdError::TooManyTypes => "too many descriptor types",
            DdError::TooDeep => "descriptor nested too deeply",
            DdError::UnsupportedVersion => "unsupported DDVersion",
            DdError::BadReference => "bad entity or character reference",
            DdError::BufferTooSmall => "output buffer too small",
        };
        f.write_str(text)
    }
}

impl core::error::Error for DdError {}

/// An OMA Download 1.0 descriptor, borrowing from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor<'a> {
    /// Where to GET the object.
    pub object_uri: XmlText<'a>,
    /// The object's size in bytes (check it against what arrives: 905 otherwise).
    pub size: u64,
    /// The object's MIME types, in document order (at least one).
    pub types: heapless::Vec<XmlText<'a>, MAX_TYPES>,
    /// Where to POST the install-notify report.
    pub install_notify_uri: Option<XmlText<'a>>,
    /// A page to show afterwards (headless devices ignore it).
    pub next_url: Option<XmlText<'a>>,
    /// The descriptor version, when given (it starts with `1.`).
    pub dd_version: Option<XmlText<'a>>,
    /// The object's name.
    pub name: Option<XmlText<'a>>,
    /// A short description.
    pub description: Option<XmlText<'a>>,
    /// Who provides the object.
    pub vendor: Option<XmlText<'a>>,
    /// More information about the object.
    pub info_url: Option<XmlText<'a>>,
    /// An icon for the object.
    pub icon_uri: Option<XmlText<'a>>,
    /// Parameters for the installer (FOTA servers put `key=value;…` here).
    pub install_param: Option<XmlText<'a>>,
}

/// The fields collected while reading, before the required ones are checked.
#[derive(Default)]
struct Fields<'a> {
    object_uri: Option<XmlText<'a>>,
    size: Option<XmlText<'a>>,
    types: heapless::Vec<XmlText<'a>, MAX_TYPES>,
    install_notify_uri: Option<XmlText<'a>>,
    next_url: Option<XmlText<'a>>,
    dd_version: Option<XmlText<'a>>,
    name: Option<XmlText<'a>>,
    description: Option<XmlText<'a>>,
    vendor: Option<XmlText<'a>>,
    info_url: Option<XmlText<'a>>,
    icon_uri: Option<XmlText<'a>>,
    install_param: Option<XmlText<'a>>,
}

impl<'a> Fields<'a> {
    fn set(&mut self, field: Field, value: XmlText<'a>) -> Result<(), DdError> {
        let slot = match field {
            Field::Type => {
                return self.types.push(value).map_err(|_| DdError::TooManyTypes);
            }
            Field::Size => &mut self.size,
            Field::ObjectUri => &mut self.object_uri,
            Field::InstallNotifyUri => &mut self.install_notify_uri,
            Field::NextUrl => &mut self.next_url,
            Field::DdVersion => &mut self.dd_version,
            Field::Name => &mut self.name,
            Field::Description => &mut self.description,
            Field::Vendor => &mut self.vendor,
            Field::InfoUrl => &mut self.info_url,
            Field::IconUri => &mut self.icon_uri,
            Field::InstallParam => &mut self.install_param,
        };
        match slot.replace(value) {
            Some(_) => Err(DdError::Duplicate(field)),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<Descriptor<'a>, DdError> {
        if self.dd_version.is_some_and(|v| !v.raw().starts_with("1.")) {
            return Err(DdError::UnsupportedVersion);
        }
        let object_uri = self
            .object_uri
            .filter(|t| !t.raw().is_empty())
            .ok_or(DdError::Missing(Field::ObjectUri))?;
        let size = parse_size(self.size.ok_or(DdError::Missing(Field::Size))?.raw())?;
        if self.types.iter().all(|t| t.raw().is_empty()) {
            return Err(DdError::Missing(Field::Type));
        }
        Ok(Descriptor {
            object_uri,
            size,
            types: self.types,
            install_notify_uri: self.install_notify_uri,
            next_url: self.next_url,
            dd_version: self.dd_version,
            name: self.name,
            description: self.description,
            vendor: self.vendor,
            info_url: self.info_url,
            icon_uri: self.icon_uri,
            install_param: self.install_param,
        })
    }
}

/// A decimal size: digits only, no sign, fits 64 bits.
fn parse_size(text: &str) -> Result<u64, DdError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DdError::BadSize);
    }
    text.parse().map_err(|_| DdError::BadSize)
}

/// Where the reader is inside the document.
enum Place<'a> {
    /// Outside the root element.
    Outside,
    /// Inside `<media>`, between fields.
    Media,
    /// Inside a field we read; its text so far.
    InField(Field, Option<XmlText<'a>>),
    /// Inside an element we skip (an extension), with the depth it started at.
    Skipping(usize),
}

/// An open element's name, to match its end tag.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Name<'a> {
    prefix: &'a str,
    local: &'a str,
}

impl<'a> Descriptor<'a> {
    /// Reads a descriptor. The document is read once, front to back, with no recursion and
    /// no heap; it is never copied.
    ///
    /// # Errors
    /// Any [`DdError`] but [`DdError::BufferTooSmall`]; each maps to the install-notify
    /// status to report ([`DdError::install_status`]).
    pub fn parse(document: &'a [u8]) -> Result<Self, DdError> {
        let text = core::str::from_utf8(document).map_err(|_| DdError::NotUtf8)?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut fields = Fields::default();
        let mut open: heapless::Vec<Name<'a>, MAX_DEPTH> = heapless::Vec::new();
        let mut place = Place::Outside;
        let mut root_prefix: Option<&'a str> = None;
        let mut root_done = false;
        // Whether the attributes being read belong to the root's start tag.
        let mut in_root_tag = false;
        // Whether the root's start tag declared the descriptor namespace for its prefix.
        let mut root_declared = false;
        for token in Tokenizer::from(text) {
            let token = token.map_err(|_| DdError::Malformed)?;
            match token {
                Token::ElementStart { prefix, local, .. } => {
                    let name = Name {
                        prefix: prefix.as_str(),
                        local: local.as_str(),
                    };
                    open.push(name).map_err(|_| DdError::TooDeep)?;
                    in_root_tag = false;
                    place = match place {
                        Place::Outside if root_done => return Err(DdError::Malformed),
                        Place::Outside => {
                            if name.local != "media" {
                                return Err(DdError::NotADescriptor);
                            }
                            root_prefix = Some(name.prefix);
                            in_root_tag = true;
                            Place::Media
                        }
                        Place::Media => {
                            let ours = Some(name.prefix) == root_prefix;
                            match Field::from_element(name.local).filter(|_| ours) {
                                Some(field) => Place::InField(field, None),
                                None => Place::Skipping(open.len()),
                            }
                        }
                        Place::InField(field, _) => return Err(DdError::NotText(field)),
                        skipping @ Place::Skipping(_) => skipping,
                    };
                }
                Token::Attribute {
                    prefix,
                    local,
                    value,
                    ..
                } if in_root_tag => {
                    let declares_root_ns = match (prefix.as_str(), root_prefix) {
                        ("", Some("")) => local.as_str() == "xmlns",
                        ("xmlns", Some(p)) => local.as_str() == p,
                        _ => false,
                    };
                    if declares_root_ns {
                        if value.as_str() != NAMESPACE {
                            return Err(DdError::NotADescriptor);
                        }
                        root_declared = true;
                    }
                }
                Token::ElementEnd { end, .. } => {
                    // A prefixed root must declare its prefix. An unprefixed root without
                    // a namespace is accepted: a `<media>` root holding `objectURI`, `size`
                    // and `type` says what it is, and refusing it would only fail downloads.
                    if in_root_tag && !root_declared && root_prefix != Some("") {
                        return Err(DdError::NotADescriptor);
                    }
                    in_root_tag = false;
                    let closes = match end {
                        ElementEnd::Open => false,
                        ElementEnd::Empty => true,
                        ElementEnd::Close(prefix, local) => {
                            let name = Name {
                                prefix: prefix.as_str(),
                                local: local.as_str(),
                            };
                            if open.last() != Some(&name) {
                                return Err(DdError::Malformed);
                            }
                            true
                        }
                    };
                    if closes {
                        let depth = open.len();
                        open.pop();
                        place = match place {
                            Place::Media => {
                                root_done = true;
                                Place::Outside
                            }
                            Place::InField(field, value) => {
                                fields.set(field, value.unwrap_or_else(XmlText::empty))?;
                                Place::Media
                            }
                            Place::Skipping(start) if start == depth => Place::Media,
                            other => other,
                        };
                    }
                }
                Token::Text { text } => {
                    place = take_text(place, XmlText::escaped(text.as_str()))?;
                }
                Token::Cdata { text, .. } => {
                    place = take_text(place, XmlText::cdata(text.as_str()))?;
                }
                _ => {}
            }
        }
        if !root_done || !open.is_empty() {
            return Err(if root_prefix.is_none() {
                DdError::NotADescriptor
            } else {
                DdError::Malformed
            });
        }
        fields.finish()
    }

    /// The first `type`, the object's main MIME type.
    pub fn primary_type(&self) -> Option<XmlText<'a>> {
        self.types.first().copied()
    }
}

/// Adds a text piece to the field being read. Whitespace-only pieces around the value
/// (and between fields) are ignored; two non-blank pieces make the value ambiguous.
fn take_text<'a>(place: Place<'a>, piece: XmlText<'a>) -> Result<Place<'a>, DdError> {
    match place {
        Place::InField(field, value) => {
            let value = match value {
                None => Some(piece),
                Some(v) if piece.raw().is_empty() && !piece.is_cdata() => Some(v),
                Some(v) if v.raw().is_empty() && !v.is_cdata() => Some(piece),
                Some(_) => return Err(DdError::NotText(field)),
            };
            Ok(Place::InField(field, value))
        }
        other => Ok(other),
    }
}
