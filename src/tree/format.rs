//! Node formats (the `Format` property and the `Meta/Format` of values).

/// The format of a node's value (DM 1.2 TND: `node` for interior nodes, the others for
/// leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    /// Interior node.
    Node,
    /// Text.
    Chr,
    /// Signed decimal integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// Opaque bytes.
    Bin,
    /// Base64 text.
    B64,
    /// XML text.
    Xml,
    /// No value (executable nodes).
    Null,
    /// Floating-point number.
    Float,
    /// ISO 8601 date.
    Date,
    /// ISO 8601 time.
    Time,
}

impl Format {
    /// Every format with its name, the one table of names.
    const NAMES: [(Format, &'static str); 11] = [
        (Format::Node, "node"),
        (Format::Chr, "chr"),
        (Format::Int, "int"),
        (Format::Bool, "bool"),
        (Format::Bin, "bin"),
        (Format::B64, "b64"),
        (Format::Xml, "xml"),
        (Format::Null, "null"),
        (Format::Float, "float"),
        (Format::Date, "date"),
        (Format::Time, "time"),
    ];

    /// The format's name as carried in `Meta/Format` and the `Format` property.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(f, _)| *f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (f, n) in Format::NAMES {
            assert_eq!(Format::from_name(n), Some(f));
            assert_eq!(f.name(), n);
        }
        assert_eq!(Format::from_name("string"), None);
    }
}
