//! What the tree hands over when a server Execs a node: the request and the handler trait.

use crate::codes::StatusCode;
use crate::mo::ScomoOp;
use crate::tree::uri::Uri;

/// An Exec the tree has accepted (the node exists, is executable, and the server holds
/// the Exec right), ready for the operation executor.
#[derive(Debug, Clone, Copy)]
pub struct ExecRequest<'a> {
    /// The server that sent it.
    pub server: &'a str,
    /// The executed node (prints as `./SCOMO/...`: the Generic Alert's Source).
    pub uri: Uri<'a>,
    /// The Exec's Correlator, to echo in the Generic Alert.
    pub correlator: Option<&'a str>,
    /// The Exec's `Item/Data`, if any (opaque).
    pub data: Option<&'a [u8]>,
    /// The SCOMO primitive and the entry it targets.
    pub op: ScomoOp<'a>,
}

/// Receives accepted Execs; what it returns is the Exec's status (202 when the work is
/// queued and its result will come by Generic Alert, 200 when done, or an error such as
/// 412 when a precondition like `PkgURL` is missing).
pub trait ExecHandler {
    /// Handles one Exec.
    fn exec(&mut self, request: &ExecRequest<'_>) -> StatusCode;
}

impl<F: FnMut(&ExecRequest<'_>) -> StatusCode> ExecHandler for F {
    fn exec(&mut self, request: &ExecRequest<'_>) -> StatusCode {
        self(request)
    }
}
