//! The executor as the session engine sees it: a [`SessionHandler`] lent for one session
//! step.

use embedded_io::Write as _;

use crate::codes::StatusCode;
use crate::dm::alert::{GenericAlert, SessionHandler};
use crate::log::{info, warn};
use crate::mo::{Primitive, Target, node_name};
use crate::ops::executor::{Executor, LargeObject, Platform};
use crate::ops::job::{Correlator, Job, JobId};
use crate::platform::{ComponentStore, PackageWriter, StateStore, StorageError};
use crate::tree::{ExecHandler, ExecRequest};

/// The [`SessionHandler`] of an [`Executor`], made by [`Executor::handler`].
///
/// - **Exec** on a SCOMO primitive: checks the preconditions (412 when `PkgID` or `PkgURL`
///   of `Download/<X>` is missing, when `Inventory/Delivered/<X>` has no `PkgID` or, for
///   Install, no `Data`, when `Inventory/Deployed/<X>` has no `ID`; 413 for a Correlator
///   longer than [`CORRELATOR_CAP`](super::CORRELATOR_CAP); 420 when the job queue is full), queues a job and
///   answers 202. The job is journaled by the next [`Executor::save`] (or `poll`), which the
///   client makes before the 202 leaves the device. An Exec with the Correlator and target
///   of a job still queued, or of a result not yet acknowledged, is the same request sent
///   again (its 202 was lost): answered 202 and not queued twice.
/// - **Large Objects** for `Inventory/Delivered/<X>/Data`: streamed into a free key of the
///   component store and hashed; on commit the package replaces what `<X>` held (420 when
///   no key is free, 413 when larger than a key holds). Journaled by the next `save`; until
///   then a cut leaves the old package.
/// - **Generic Alerts**: the outbox, oldest first; a 2xx status acknowledges a report (the
///   acknowledgement is journaled at once: it is never sent again).
pub struct Handler<'e, 'p, 'b, C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize> {
    executor: &'e mut Executor<JOBS, OUTBOX, PKGS>,
    platform: &'p mut Platform<'b, C, S, I>,
}

impl<'e, 'p, 'b, C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize>
    Handler<'e, 'p, 'b, C, S, I, JOBS, OUTBOX, PKGS>
{
    pub(crate) fn new(
        executor: &'e mut Executor<JOBS, OUTBOX, PKGS>,
        platform: &'p mut Platform<'b, C, S, I>,
    ) -> Self {
        Self { executor, platform }
    }
}

impl<C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize> core::fmt::Debug
    for Handler<'_, '_, '_, C, S, I, JOBS, OUTBOX, PKGS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handler")
            .field("executor", &self.executor)
            .finish()
    }
}

impl<C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize> ExecHandler
    for Handler<'_, '_, '_, C, S, I, JOBS, OUTBOX, PKGS>
where
    C: ComponentStore,
    S: StateStore,
{
    fn exec(&mut self, request: &ExecRequest<'_>) -> StatusCode {
        let op = request.op;
        match self.queue(request) {
            Ok(Some(job)) => {
                info!(
                    "Exec {:?} on {} accepted as job {}",
                    op.primitive,
                    op.name(),
                    job.0
                );
                StatusCode::Accepted
            }
            Ok(None) => {
                info!(
                    "Exec {:?} on {} accepted again: its job or result is held already",
                    op.primitive,
                    op.name()
                );
                StatusCode::Accepted
            }
            Err(code) => {
                warn!(
                    "Exec {:?} on {} refused: {} {:?}",
                    op.primitive,
                    op.name(),
                    code.code(),
                    code
                );
                code
            }
        }
    }
}

impl<C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize>
    Handler<'_, '_, '_, C, S, I, JOBS, OUTBOX, PKGS>
{
    /// Checks an Exec's preconditions and queues its job (`None`: the same request is held
    /// already); the Exec's status code when it is refused.
    fn queue(&mut self, request: &ExecRequest<'_>) -> Result<Option<JobId>, StatusCode> {
        let op = request.op;
        let name = op.name();
        let ready = match op.target {
            Target::Download(e) => e.pkg_id().is_some() && e.pkg_url().is_some(),
            Target::Delivered(e) => {
                e.pkg_id().is_some()
                    && (op.primitive == Primitive::RemoveDelivered
                        || self.executor.package(name).is_some())
            }
            Target::Deployed(e) => e.id().is_some(),
        };
        if !ready {
            return Err(StatusCode::IncompleteCommand);
        }
        let correlator = match request.correlator {
            None => None,
            Some(c) => match Correlator::try_from(c) {
                Ok(c) => Some(c),
                Err(_) => return Err(StatusCode::RequestEntityTooLarge),
            },
        };
        let Ok(name) = node_name(name) else {
            return Err(StatusCode::CommandFailed);
        };
        if let Some(c) = &correlator
            && self
                .executor
                .holds_request(op.primitive, &name, c, &request.uri)
        {
            // The same request again: its 202 was lost (say, power failed after the job
            // was journaled and before the reply left). It runs once; its report follows.
            return Ok(None);
        }
        if self.executor.jobs_full() {
            return Err(StatusCode::DeviceFull);
        }
        let id = JobId(self.executor.take_id());
        if !self
            .executor
            .push_job(Job::new(id, op.primitive, name, correlator))
        {
            return Err(StatusCode::DeviceFull);
        }
        Ok(Some(id))
    }
}

impl<C, S, I, const JOBS: usize, const OUTBOX: usize, const PKGS: usize> SessionHandler
    for Handler<'_, '_, '_, C, S, I, JOBS, OUTBOX, PKGS>
where
    C: ComponentStore,
    S: StateStore,
{
    fn object_begin(&mut self, package: &str, size: Option<u64>) -> Result<(), StatusCode> {
        if let Some(old) = self.executor.object().take() {
            let _ = self.platform.components.delete(old.key());
        }
        let name = node_name(package)?;
        let components = &mut self.platform.components;
        let capacity = components.slot_capacity();
        let declared = size.unwrap_or(capacity);
        if declared > capacity {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        let key = self
            .executor
            .free_key(components.slots())
            .ok_or(StatusCode::DeviceFull)?;
        components
            .begin(key, declared)
            .and_then(|w| w.suspend())
            .map_err(|e| e.kind().status_code())?;
        *self.executor.object() = Some(LargeObject::new(name, key));
        Ok(())
    }

    fn object_write(&mut self, bytes: &[u8]) -> Result<(), StatusCode> {
        let components = &mut self.platform.components;
        let object = self.executor.object();
        let Some(o) = object.as_mut() else {
            return Err(StatusCode::CommandFailed);
        };
        let written = components.resume(o.key()).and_then(|mut w| {
            w.write_all(bytes)?;
            w.suspend()
        });
        match written {
            Ok(_) => {
                o.add(bytes);
                Ok(())
            }
            Err(e) => Err(e.kind().status_code()),
        }
    }

    fn object_end(&mut self, commit: bool) -> Result<u64, StatusCode> {
        let Some(o) = self.executor.object().take() else {
            return Err(StatusCode::CommandFailed);
        };
        let components = &mut self.platform.components;
        if !commit {
            let _ = components.delete(o.key());
            return Ok(0);
        }
        let info = components
            .resume(o.key())
            .and_then(|w| w.commit())
            .map_err(|e| e.kind().status_code());
        let package = match info {
            Ok(info) => o.into_package(info.len),
            Err(code) => {
                let _ = components.delete(o.key());
                return Err(code);
            }
        };
        let Some(package) = package else {
            return Err(StatusCode::CommandFailed);
        };
        let len = package.len;
        let key = package.key;
        if !self.executor.map_package(package) {
            let _ = components.delete(key);
            return Err(StatusCode::DeviceFull);
        }
        Ok(len)
    }

    fn pending_alert(&self, index: usize) -> Option<GenericAlert<'_>> {
        self.executor.outbox().get(index).map(|r| r.alert())
    }

    fn alert_status(&mut self, id: u32, status: StatusCode) {
        if status.is_success() {
            let p = &mut *self.platform;
            self.executor.acknowledge(id, &mut p.state, p.scratch);
        }
    }
}
