//! Tree URIs: `./A/B`, `A/B`, `.`, with an optional `?prop=NAME` or `?list=KIND` query.
//!
//! A [`Uri`] borrows the text it was parsed from; nothing is copied. Parsing checks the
//! syntax (400), the query (406 for a property or list kind the tree does not know) and,
//! through [`UriLimits`], the device limits of `DevDetail/URI` (414).

use core::fmt;

use crate::codes::StatusCode;

/// A node property addressed by `?prop=NAME` (DM 1.2 TND 8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Property {
    /// `ACL`: the access control list (Get, Replace).
    Acl,
    /// `Format`: how the value is to be read (Get).
    Format,
    /// `Name`: the node's name (Get; Replace renames).
    Name,
    /// `Size`: the size of a leaf's value in bytes (Get).
    Size,
    /// `Title`: a human-readable name (optional; not supported here: 406).
    Title,
    /// `TStamp`: time of the last change (optional; not supported here: 406).
    TStamp,
    /// `Type`: the MIME type of a leaf, or the MO identifier of an MO root (Get).
    Type,
    /// `VerNo`: version number (optional; not supported here: 406).
    VerNo,
}

impl Property {
    /// Every property with its name, the one table of names.
    const NAMES: [(Property, &'static str); 8] = [
        (Property::Acl, "ACL"),
        (Property::Format, "Format"),
        (Property::Name, "Name"),
        (Property::Size, "Size"),
        (Property::Title, "Title"),
        (Property::TStamp, "TStamp"),
        (Property::Type, "Type"),
        (Property::VerNo, "VerNo"),
    ];

    /// The property's name as written after `?prop=`.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("", |(_, n)| n)
    }

    /// The property named `name`, if DM defines one by that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(p, _)| *p)
    }
}

/// A structure query addressed by `?list=KIND` (TNDS). The tree parses it so that the
/// URI round-trips, and answers 406 to it: TNDS is an optional feature it does not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ListKind {
    /// `?list=Struct`: the structure without values.
    Struct,
    /// `?list=StructData`: the structure with values.
    StructData,
}

impl ListKind {
    /// The kind's name as written after `?list=`.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Struct => "Struct",
            ListKind::StructData => "StructData",
        }
    }
}

/// What a URI addresses besides the node itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Query {
    /// `?prop=NAME`.
    Prop(Property),
    /// `?list=KIND`.
    List(ListKind),
}

/// The device's URI limits (`DevDetail/URI/MaxDepth`, `MaxTotLen`, `MaxSegLen`); 0 means
/// unlimited, as in DevDetail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UriLimits {
    /// Most segments below the root (`./A/B` has depth 2).
    pub max_depth: u16,
    /// Longest URI text, query included, in bytes.
    pub max_tot_len: u16,
    /// Longest segment, in bytes.
    pub max_seg_len: u16,
}

impl UriLimits {
    /// No limit at all.
    pub const UNLIMITED: UriLimits = UriLimits {
        max_depth: 0,
        max_tot_len: 0,
        max_seg_len: 0,
    };
}

/// A parsed tree URI. The path is kept without the leading `./`; the root is the empty
/// path and prints as `.`.
///
/// ```
/// use scomo::tree::{Property, Query, Uri};
///
/// let uri = Uri::parse("./SCOMO/Download?prop=ACL")?;
/// assert_eq!(uri.path(), "SCOMO/Download");
/// assert_eq!(uri.query(), Some(Query::Prop(Property::Acl)));
/// assert_eq!(uri.segments().count(), 2);
/// # Ok::<(), scomo::codes::StatusCode>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Uri<'a> {
    path: &'a str,
    query: Option<Query>,
}

/// Splits `path` at its last `/`: (parent path, last segment). The root has no parent.
pub(crate) fn split_last(path: &str) -> Option<(&str, &str)> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').unwrap_or(("", path)))
}

impl<'a> Uri<'a> {
    /// The root node `.`.
    pub const ROOT: Uri<'static> = Uri {
        path: "",
        query: None,
    };

    /// Parses `text` with no device limits: 400 for bad syntax (empty text or segment, a
    /// leading or trailing `/`, `.`/`..` inside the path, an unknown query key), 406 for an
    /// unknown `?prop=` property or `?list=` kind.
    pub fn parse(text: &'a str) -> Result<Self, StatusCode> {
        Self::parse_limited(text, &UriLimits::UNLIMITED)
    }

    /// Parses `text` as [`Uri::parse`] does, then checks `limits`: 414 when the text, a
    /// segment or the depth is over its limit.
    pub fn parse_limited(text: &'a str, limits: &UriLimits) -> Result<Self, StatusCode> {
        if over(text.len(), limits.max_tot_len) {
            return Err(StatusCode::UriTooLong);
        }
        let (path, query) = match text.split_once('?') {
            Some((p, q)) => (p, Some(parse_query(q)?)),
            None => (text, None),
        };
        let path = if path == "." {
            ""
        } else if let Some(rest) = path.strip_prefix("./") {
            rest
        } else {
            path
        };
        if path.is_empty() && text.split('?').next() != Some(".") {
            // "", "./" and "?prop=..." name no node.
            return Err(StatusCode::BadRequest);
        }
        let mut depth = 0usize;
        if !path.is_empty() {
            for seg in path.split('/') {
                if seg.is_empty() || seg == "." || seg == ".." {
                    return Err(StatusCode::BadRequest);
                }
                if over(seg.len(), limits.max_seg_len) {
                    return Err(StatusCode::UriTooLong);
                }
                depth += 1;
            }
        }
        if over(depth, limits.max_depth) {
            return Err(StatusCode::UriTooLong);
        }
        Ok(Uri { path, query })
    }

    /// The path without the leading `./`; empty for the root.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query, if the URI has one.
    pub fn query(&self) -> Option<Query> {
        self.query
    }

    /// The same node without its query.
    pub fn node(&self) -> Uri<'a> {
        Uri {
            path: self.path,
            query: None,
        }
    }

    /// Whether the URI names the root `.`.
    pub fn is_root(&self) -> bool {
        self.path.is_empty()
    }

    /// The path segments from the root down; none for the root.
    pub fn segments(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.path.split('/').filter(|s| !s.is_empty())
    }

    /// The node's name: its last segment, `.` for the root.
    pub fn name(&self) -> &'a str {
        split_last(self.path).map_or(".", |(_, n)| n)
    }

    /// The parent node; `None` for the root.
    pub fn parent(&self) -> Option<Uri<'a>> {
        split_last(self.path).map(|(p, _)| Uri {
            path: p,
            query: None,
        })
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &Uri<'_>) -> bool {
        within(self.path, other.path)
    }
}

/// Whether `path` is `base` or lies below it (paths without `./`).
pub(crate) fn within(path: &str, base: &str) -> bool {
    base.is_empty()
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn over(value: usize, limit: u16) -> bool {
    limit != 0 && value > usize::from(limit)
}

fn parse_query(q: &str) -> Result<Query, StatusCode> {
    let (key, value) = q.split_once('=').ok_or(StatusCode::BadRequest)?;
    match key {
        "prop" => Property::from_name(value)
            .map(Query::Prop)
            .ok_or(StatusCode::OptionalFeatureNotSupported),
        "list" => match value {
            "Struct" => Ok(Query::List(ListKind::Struct)),
            "StructData" => Ok(Query::List(ListKind::StructData)),
            _ => Err(StatusCode::OptionalFeatureNotSupported),
        },
        _ => Err(StatusCode::BadRequest),
    }
}

impl fmt::Display for Uri<'_> {
    /// Prints the canonical form: `.` or `./A/B`, then the query if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(".")?;
        } else {
            f.write_str("./")?;
            f.write_str(self.path)?;
        }
        match self.query {
            Some(Query::Prop(p)) => write!(f, "?prop={}", p.name()),
            Some(Query::List(k)) => write!(f, "?list={}", k.name()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_dot_forms_name_the_same_node() {
        assert_eq!(Uri::parse("./A/B"), Uri::parse("A/B"));
        assert_eq!(Uri::parse(".").unwrap(), Uri::ROOT);
        assert_eq!(Uri::parse("./A").unwrap().name(), "A");
        assert_eq!(Uri::ROOT.name(), ".");
    }

    #[test]
    fn malformed_uris_are_400() {
        for bad in [
            "",
            "./",
            "/A",
            "A/",
            "A//B",
            "./A/./B",
            "A/../B",
            "..",
            "?prop=ACL",
            "A?x=y",
            "A?prop",
        ] {
            assert_eq!(Uri::parse(bad), Err(StatusCode::BadRequest), "{bad:?}");
        }
    }

    #[test]
    fn unknown_property_or_list_kind_is_406() {
        assert_eq!(
            Uri::parse("./A?prop=Colour"),
            Err(StatusCode::OptionalFeatureNotSupported)
        );
        assert_eq!(
            Uri::parse("./A?list=Tnds"),
            Err(StatusCode::OptionalFeatureNotSupported)
        );
        assert_eq!(
            Uri::parse("./A?list=StructData").unwrap().query(),
            Some(Query::List(ListKind::StructData))
        );
    }

    #[test]
    fn limits_give_414() {
        let l = UriLimits {
            max_depth: 2,
            max_tot_len: 12,
            max_seg_len: 3,
        };
        assert!(Uri::parse_limited("./A/B", &l).is_ok());
        assert_eq!(
            Uri::parse_limited("./A/B/C", &l),
            Err(StatusCode::UriTooLong)
        );
        assert_eq!(
            Uri::parse_limited("./ABCD", &l),
            Err(StatusCode::UriTooLong)
        );
        assert_eq!(
            Uri::parse_limited("./A?prop=ACL", &l).map(|u| u.path()),
            Ok("A")
        );
        assert_eq!(
            Uri::parse_limited("./A?prop=Size", &l),
            Err(StatusCode::UriTooLong)
        );
    }

    #[test]
    fn prints_canonical_form() {
        let mut s: heapless::String<64> = heapless::String::new();
        core::fmt::write(
            &mut s,
            format_args!("{}", Uri::parse("A/B?prop=ACL").unwrap()),
        )
        .unwrap();
        assert_eq!(s.as_str(), "./A/B?prop=ACL");
    }

    #[test]
    fn parent_and_within() {
        let u = Uri::parse("./A/B/C").unwrap();
        assert_eq!(u.parent().unwrap().path(), "A/B");
        assert!(u.is_within(&Uri::parse("A/B").unwrap()));
        assert!(
            !Uri::parse("A/BC")
                .unwrap()
                .is_within(&Uri::parse("A/B").unwrap())
        );
        assert!(u.is_within(&Uri::ROOT));
        assert_eq!(Uri::ROOT.parent(), None);
    }
}
