//! What a session carries for the executor: Generic Alert 1226 reports (digest 6), and the
//! [`SessionHandler`] through which the session engine reaches the layer above it (the
//! operation executor) for Execs, Large Object data and alert acknowledgements.
//!
//! This module is the boundary between the protocol engine (`dm`) and the executor
//! (`ops`): the engine encodes and sends what is described here; the executor owns the
//! durable records behind it.

use crate::codes::{ScomoResult, StatusCode};
use crate::tree::ExecHandler;

/// The default Generic Alert type for SCOMO results (digest 6.2).
pub const SCOMO_ALERT_TYPE: &str = "urn:oma:at:scomo:1.0:OperationComplete";

/// Most components one Generic Alert reports (one `Item` each).
pub const MAX_ALERT_ITEMS: usize = 4;

/// The severity a Generic Alert Item carries in `Meta/Mark` (digest 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mark {
    /// `informational`: the operation succeeded.
    Informational,
    /// `warning`: the operation failed (non-informational, as the FUMO rule asks).
    Warning,
}

impl Mark {
    /// The `Meta/Mark` text.
    pub const fn name(self) -> &'static str {
        match self {
            Mark::Informational => "informational",
            Mark::Warning => "warning",
        }
    }

    /// The mark for a result: informational for success, warning for failure.
    pub const fn for_result(result: ScomoResult) -> Self {
        if result.is_success() {
            Mark::Informational
        } else {
            Mark::Warning
        }
    }
}

/// One `Item` of a Generic Alert: the result for one inventory node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertItem<'a> {
    /// `Item/Target/LocURI`: the affected inventory node, e.g.
    /// `./SCOMO/Inventory/Deployed/Comp1` (empty: no Target element).
    pub target: &'a str,
    /// `<ResultCode>` in `Item/Data`.
    pub result: ScomoResult,
    /// `<Identifier>` in `Item/Data`: the component `ID` or package `PkgID` (digest 6.1).
    pub identifier: &'a str,
}

/// A Generic Alert 1226 waiting in the executor's outbox, borrowed for encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericAlert<'a> {
    /// The outbox's identifier of this report, handed back with the server's status.
    pub id: u32,
    /// The Exec's Correlator, echoed; `None` when the Exec had none (the element is omitted).
    pub correlator: Option<&'a str>,
    /// `Item/Source/LocURI`: the executed `Operations/<primitive>` node.
    pub source: &'a str,
    /// `Item/Meta/Type`, normally [`SCOMO_ALERT_TYPE`].
    pub alert_type: &'a str,
    /// One item per affected node (at least one).
    pub items: heapless::Vec<AlertItem<'a>, MAX_ALERT_ITEMS>,
}

/// The layer above the session engine: it receives accepted Execs (through the
/// [`ExecHandler`] supertrait), the bytes of Large Objects pushed into
/// `Inventory/Delivered/<X>/Data`, and the server's answers to Generic Alerts; it lends the
/// Generic Alerts a session must carry.
///
/// Every method is called from inside a session step, inline and briefly.
pub trait SessionHandler: ExecHandler {
    /// A value for `Inventory/Delivered/<package>/Data` begins. `size` is the number of
    /// decoded bytes announced (from `Meta/Size`), when known. An error status refuses the
    /// object (e.g. 420 when there is no room) and is answered to the server.
    ///
    /// **Power loss**: nothing is durable until [`object_end`](Self::object_end) commits.
    fn object_begin(&mut self, package: &str, size: Option<u64>) -> Result<(), StatusCode>;

    /// The next decoded bytes of the object begun last.
    fn object_write(&mut self, bytes: &[u8]) -> Result<(), StatusCode>;

    /// The object is complete (`commit`) or abandoned (interleaved command, size mismatch,
    /// session end). On commit the bytes are made durable and their count is returned.
    ///
    /// **Power loss**: a cut before the commit returns leaves the package absent, never
    /// half-present.
    fn object_end(&mut self, commit: bool) -> Result<u64, StatusCode>;

    /// The `index`-th Generic Alert to carry in this session (0, 1, ...), `None` past the
    /// last one.
    fn pending_alert(&self, index: usize) -> Option<GenericAlert<'_>>;

    /// The server's Status for the Generic Alert with outbox identifier `id`: a 2xx status
    /// acknowledges it (the executor drops it and never sends it again).
    fn alert_status(&mut self, id: u32, status: StatusCode);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ResultCode;

    #[test]
    fn failures_carry_a_non_informational_mark() {
        assert_eq!(
            Mark::for_result(ResultCode::Successful.into()),
            Mark::Informational
        );
        assert_eq!(
            Mark::for_result(ResultCode::InstallFailed.into()),
            Mark::Warning
        );
        assert_eq!(Mark::Warning.name(), "warning");
    }
}
