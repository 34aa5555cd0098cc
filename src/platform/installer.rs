//! The installer: turns a delivery package into components and manages their life.

use super::PackageReader;
use crate::codes::ResultCode;

/// The four things an [`Installer`] does; also what a [`Consent`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InstallerOp {
    /// Install the components of a package (active or inactive).
    Install,
    /// Make an installed component active.
    Activate,
    /// Make an installed component inactive.
    Deactivate,
    /// Uninstall a component.
    Remove,
}

impl InstallerOp {
    /// The SCOMO result code of a failure of this operation with no more specific cause
    /// (1405 install, 1409 activate, 1410 deactivate, 1408 remove).
    pub const fn failed(self) -> ResultCode {
        match self {
            Self::Install => ResultCode::InstallFailed,
            Self::Activate => ResultCode::ActivateFailed,
            Self::Deactivate => ResultCode::DeactivateFailed,
            Self::Remove => ResultCode::RemoveFailed,
        }
    }
}

/// How far an installer call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// Finished. For `install`, the components the package yields were reported to the sink
    /// during this call.
    Done,
    /// Still working: call again later with the same arguments (split-phase without a
    /// callback).
    Pending,
    /// The work takes effect after the device restarts. After the reboot the core calls the
    /// same method again with the same arguments; a finished installer then answers
    /// [`Done`](Self::Done) (reporting the components again, for `install`).
    RebootRequired,
}

/// The answer of the consent hook (the user or the device policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Consent {
    /// Go ahead now.
    Accept,
    /// Not now: the core asks again later.
    Postpone,
    /// Never: the operation ends with result 1401 (user cancelled).
    Reject,
}

/// The answer of the verification hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// The package may be installed.
    Valid,
    /// The package must not be installed: the operation ends with result 1407 (package
    /// validation failed).
    Invalid,
}

/// What the consent hook is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConsentRequest<'a> {
    /// The operation about to run.
    pub op: InstallerOp,
    /// For [`InstallerOp::Install`] the package's `PkgID`; otherwise the component's `ID`.
    pub target: &'a str,
}

/// The management-tree values that describe a package to install (`Inventory/Delivered/<X>`
/// or `Download/<X>` leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InstallRequest<'a> {
    /// `PkgID`: the package's identifier.
    pub pkg_id: &'a str,
    /// `Name`, if the server set one.
    pub name: Option<&'a str>,
    /// `PkgType`: the package's MIME type, if known.
    pub pkg_type: Option<&'a str>,
    /// `EnvType`: the execution environment the package targets; an installer that does not
    /// support it fails with [`InstallerErrorKind::UnsupportedEnvType`] (result 1413).
    pub env_type: Option<&'a str>,
    /// `InstallParams`: opaque installation parameters.
    pub params: Option<&'a str>,
}

impl<'a> InstallRequest<'a> {
    /// A request for package `pkg_id` with no optional values.
    pub const fn new(pkg_id: &'a str) -> Self {
        Self {
            pkg_id,
            name: None,
            pkg_type: None,
            env_type: None,
            params: None,
        }
    }
}

/// One component a package yields, as the installer reports it (it becomes
/// `Inventory/Deployed/<Y>` with these leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ComponentInfo<'a> {
    /// `ID`: the component's identifier. A component whose `ID` is already deployed replaces
    /// the deployed one (an update).
    pub id: &'a str,
    /// `Version`.
    pub version: Option<&'a str>,
    /// `Name`.
    pub name: Option<&'a str>,
    /// `Description`.
    pub description: Option<&'a str>,
}

/// Where an installer reports the components a package yields, without a heap: the core
/// copies what it needs during the call.
pub trait ComponentSink {
    /// Records one component. When the core has no room left it remembers the overflow and
    /// reports it; the installer need not care.
    fn component(&mut self, component: &ComponentInfo<'_>);
}

/// What went wrong in an installer call: the part of an installer error the core branches
/// on. [`result_code`](Self::result_code) maps it to the SCOMO result reported to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InstallerErrorKind {
    /// The operation failed.
    Failed,
    /// Not enough memory or storage to install.
    OutOfMemory,
    /// The package is malformed or its signature does not hold.
    InvalidPackage,
    /// The package targets an execution environment the device does not have.
    UnsupportedEnvType,
    /// No component of that `ID` is installed.
    NotFound,
    /// The device does not support this operation.
    NotImplemented,
    /// Anything else.
    Other,
}

impl InstallerErrorKind {
    /// The SCOMO result code for operation `op` failing with this kind: 1406 and 1407 and
    /// 1413 for install, 1411 when not implemented, otherwise [`InstallerOp::failed`]
    /// (1405 / 1409 / 1410 / 1408).
    pub const fn result_code(self, op: InstallerOp) -> ResultCode {
        match (self, op) {
            (Self::OutOfMemory, InstallerOp::Install) => ResultCode::InstallOutOfMemory,
            (Self::InvalidPackage, InstallerOp::Install) => ResultCode::ValidationFailed,
            (Self::UnsupportedEnvType, InstallerOp::Install) => ResultCode::UnsupportedEnvType,
            (Self::NotImplemented, _) => ResultCode::NotImplemented,
            _ => op.failed(),
        }
    }
}

/// An installer's error: any type that can say which [`InstallerErrorKind`] it is.
pub trait InstallerError: core::fmt::Debug {
    /// The kind of this error.
    fn kind(&self) -> InstallerErrorKind;
}

impl InstallerError for InstallerErrorKind {
    fn kind(&self) -> InstallerErrorKind {
        *self
    }
}

impl InstallerError for core::convert::Infallible {
    fn kind(&self) -> InstallerErrorKind {
        match *self {}
    }
}

/// Installs, activates, deactivates and removes software components.
///
/// # Power loss and repetition
///
/// The core journals each call before making it, so after a power cut **any call may be
/// made again with the same arguments**, whether or not the first one finished — and a call
/// that answered [`Outcome::Pending`] is made again until it answers something else. Every
/// method must therefore be idempotent: installing a package whose components are already
/// installed answers `Done` (and reports them again); activating an active component,
/// deactivating an inactive one and removing an absent one answer `Done`. An update (a
/// component whose `ID` is already deployed) must leave the old component or the new one
/// after any cut, never both and never neither.
pub trait Installer {
    /// The installer's error.
    type Error: InstallerError;

    /// Installs the components of `package` (read from offset 0), active or, when `inactive`,
    /// inactive, and reports each component to `sink` in the call that answers
    /// [`Outcome::Done`].
    ///
    /// # Power loss
    ///
    /// May be repeated after a cut (see the trait documentation).
    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, Self::Error>;

    /// Makes component `id` active.
    ///
    /// # Power loss
    ///
    /// May be repeated after a cut (see the trait documentation).
    fn activate(&mut self, id: &str) -> Result<Outcome, Self::Error>;

    /// Makes component `id` inactive.
    ///
    /// # Power loss
    ///
    /// May be repeated after a cut (see the trait documentation).
    fn deactivate(&mut self, id: &str) -> Result<Outcome, Self::Error>;

    /// Uninstalls component `id`.
    ///
    /// # Power loss
    ///
    /// May be repeated after a cut (see the trait documentation).
    fn remove(&mut self, id: &str) -> Result<Outcome, Self::Error>;

    /// Asks the user or the device policy whether an operation may run now. The default
    /// accepts everything.
    ///
    /// # Power loss
    ///
    /// Stores nothing; may be asked again after a cut.
    fn consent(&mut self, request: &ConsentRequest<'_>) -> Consent {
        let _ = request;
        Consent::Accept
    }

    /// Checks a package before it is installed (e.g. its signature), reading it from offset
    /// 0. The default accepts every package. A read error should answer
    /// [`Verdict::Invalid`].
    ///
    /// # Power loss
    ///
    /// Stores nothing; may be asked again after a cut.
    fn verify<R: PackageReader>(
        &mut self,
        package: &mut R,
        request: &InstallRequest<'_>,
    ) -> Verdict {
        let _ = (package, request);
        Verdict::Valid
    }
}

impl<T: Installer + ?Sized> Installer for &mut T {
    type Error = T::Error;

    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, Self::Error> {
        T::install(self, package, inactive, request, sink)
    }

    fn activate(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        T::activate(self, id)
    }

    fn deactivate(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        T::deactivate(self, id)
    }

    fn remove(&mut self, id: &str) -> Result<Outcome, Self::Error> {
        T::remove(self, id)
    }

    fn consent(&mut self, request: &ConsentRequest<'_>) -> Consent {
        T::consent(self, request)
    }

    fn verify<R: PackageReader>(
        &mut self,
        package: &mut R,
        request: &InstallRequest<'_>,
    ) -> Verdict {
        T::verify(self, package, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installer_error_kinds_map_to_scomo_result_codes() {
        use InstallerErrorKind as K;
        use InstallerOp as Op;
        let table = [
            (K::Failed, Op::Install, 1405),
            (K::OutOfMemory, Op::Install, 1406),
            (K::InvalidPackage, Op::Install, 1407),
            (K::UnsupportedEnvType, Op::Install, 1413),
            (K::NotImplemented, Op::Install, 1411),
            (K::Other, Op::Install, 1405),
            (K::Failed, Op::Remove, 1408),
            (K::NotFound, Op::Remove, 1408),
            (K::Failed, Op::Activate, 1409),
            (K::OutOfMemory, Op::Activate, 1409),
            (K::Failed, Op::Deactivate, 1410),
            (K::NotImplemented, Op::Deactivate, 1411),
        ];
        for (kind, op, code) in table {
            assert_eq!(kind.result_code(op).code(), code, "{kind:?} during {op:?}");
        }
    }

    struct Defaults;

    impl Installer for Defaults {
        type Error = InstallerErrorKind;

        fn install<R: PackageReader>(
            &mut self,
            _: &mut R,
            _: bool,
            _: &InstallRequest<'_>,
            _: &mut dyn ComponentSink,
        ) -> Result<Outcome, Self::Error> {
            Err(InstallerErrorKind::NotImplemented)
        }

        fn activate(&mut self, _: &str) -> Result<Outcome, Self::Error> {
            Ok(Outcome::Done)
        }

        fn deactivate(&mut self, _: &str) -> Result<Outcome, Self::Error> {
            Ok(Outcome::Pending)
        }

        fn remove(&mut self, _: &str) -> Result<Outcome, Self::Error> {
            Ok(Outcome::RebootRequired)
        }
    }

    fn drive<I: Installer>(mut installer: I) -> [Result<Outcome, I::Error>; 3] {
        let ask = ConsentRequest {
            op: InstallerOp::Remove,
            target: "c1",
        };
        assert_eq!(installer.consent(&ask), Consent::Accept);
        [
            installer.activate("c1"),
            installer.deactivate("c1"),
            installer.remove("c1"),
        ]
    }

    #[test]
    fn default_consent_accepts_and_forwarding_through_mut_ref_keeps_answers() {
        let mut installer = Defaults;
        assert_eq!(
            drive(&mut installer),
            [
                Ok(Outcome::Done),
                Ok(Outcome::Pending),
                Ok(Outcome::RebootRequired)
            ]
        );
    }
}
