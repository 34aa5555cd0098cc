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
    /// A DM message arrived from a device.
    DmIn {
        /// The device id (`Source/LocURI`).
        device: String,
        /// Its MsgID.
        msg_id: u32,
        /// The exact bytes.
        bytes: Vec<u8>,
        /// Its content type.
        encoding: String,
    },
    /// The server answered a DM message.
    DmOut {
        /// The device id.
        device: String,
        /// The exact bytes.
        bytes: Vec<u8>,
    },
    /// The device's credentials were refused (401) or missing (407).
    AuthRejected {
        /// The device id.
        device: String,
        /// The status sent.
        code: u16,
    },
    /// A Status the device sent for one of the server's commands (or the SyncHdr).
    Status {
        /// The device id.
        device: String,
        /// The command it answers (`Add`, `Exec`, `SyncHdr`, ...).
        cmd: String,
        /// The command's target URI (empty for containers and the header).
        target: String,
        /// The status code.
        code: u16,
    },
    /// A Results item the device sent for a Get.
    Results {
        /// The device id.
        device: String,
        /// `Item/Source/LocURI`.
        target: String,
        /// `Meta/Format`.
        format: String,
        /// The value.
        data: String,
    },
    /// A Generic Alert 1226 item.
    GenericAlert {
        /// The device id.
        device: String,
        /// The Correlator, if any.
        correlator: Option<String>,
        /// `Item/Source/LocURI`: the executed operation.
        source: String,
        /// `Item/Target/LocURI`: the affected node.
        target: String,
        /// `Meta/Type`.
        alert_type: String,
        /// `Meta/Mark`.
        mark: String,
        /// The `<ResultCode>` in Data.
        result: Option<u16>,
        /// The `<Identifier>` in Data.
        identifier: Option<String>,
        /// The whole Data.
        data: String,
    },
    /// Another alert from the device (a client event or a component request).
    ClientAlert {
        /// The device id.
        device: String,
        /// The alert code.
        code: u32,
        /// The Data of each item.
        items: Vec<String>,
    },
    /// A DevInfo value the device sent in its Replace.
    DevInfo {
        /// The device id.
        device: String,
        /// The node URI.
        uri: String,
        /// The value.
        value: String,
    },
    /// An install-notify report was posted.
    Notify {
        /// The package name.
        name: String,
        /// The body as received (e.g. `900 Success`).
        body: String,
    },
}

/// A Generic Alert item as seen: (correlator, source, target, result code, identifier).
pub type AlertSeen = (Option<String>, String, String, Option<u16>, Option<String>);

/// Everything the server saw, in order.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The events, oldest first.
    pub events: Vec<Event>,
}

impl Record {
    /// Every Generic Alert item received, in order: (correlator, source, target, result,
    /// identifier).
    pub fn generic_alerts(&self) -> Vec<AlertSeen> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::GenericAlert {
                    correlator,
                    source,
                    target,
                    result,
                    identifier,
                    ..
                } => Some((
                    correlator.clone(),
                    source.clone(),
                    target.clone(),
                    *result,
                    identifier.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Every Status the device sent for a command (not the header): (command, target, code).
    pub fn statuses(&self) -> Vec<(String, String, u16)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Status {
                    cmd, target, code, ..
                } if cmd != "SyncHdr" => Some((cmd.clone(), target.clone(), *code)),
                _ => None,
            })
            .collect()
    }

    /// Every Results item: (target, data).
    pub fn results(&self) -> Vec<(String, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Results { target, data, .. } => Some((target.clone(), data.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many DM messages the devices sent.
    pub fn dm_messages_in(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::DmIn { .. }))
            .count()
    }

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
