//! What the server saw, in order, for tests to assert on.

/// One thing the server saw or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A GET of a package file.
    PackageGet {
        /// The package name.
        name: String,
        /// The first byte asked for (0 without a `Range` header).
        from: u64,
        /// The HTTP status answered.
        status: u16,
        /// Body bytes the server meant to send (fewer arrive when a cut fault fires).
        bytes: u64,
    },
    /// A GET of a download descriptor.
    DescriptorGet {
        /// The package name.
        name: String,
    },
    /// An install-notify report was posted.
    Notify {
        /// The package name.
        name: String,
        /// The body as received (e.g. `900 Success`).
        body: String,
    },
}

/// Everything the server saw, in order.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The events, oldest first.
    pub events: Vec<Event>,
}

impl Record {
    /// Body bytes of package `name` sent in all GETs together.
    pub fn package_bytes_sent(&self, name: &str) -> u64 {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PackageGet { name: n, bytes, .. } if n == name => Some(*bytes),
                _ => None,
            })
            .sum()
    }

    /// The install-notify bodies posted for package `name`.
    pub fn notifications(&self, name: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Notify { name: n, body } if n == name => Some(body.clone()),
                _ => None,
            })
            .collect()
    }
}
