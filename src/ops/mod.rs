//! The operation executor: SCOMO operations from the server's Exec to the result it is
//! told, journaled so that a power cut at any moment loses nothing and repeats nothing
//! that was committed.
//!
//! # Driving it (sans-IO)
//!
//! ```text
//! boot:     let mut ex = Executor::recover(config, &mut tree, &mut platform)?;
//! session:  handler = ex.handler(&mut platform)   → the session engine's SessionHandler
//!           after each server message: ex.save(&mut tree, &mut platform)? before replying
//! loop:     match ex.poll(now, &mut tree, &mut platform)? {
//!             Fetch { job, url, offset, if_range } → GET; fetch_head / fetch_body / fetch_end
//!             PostNotify { job, url, body }         → POST; notify_done
//!             Session { .. }                        → run a DM session (reports go out)
//!             Restart                               → restart the device when convenient
//!             WaitUntil(t) / Idle                   → sleep
//!           }
//! ```
//!
//! # Operations (digest 5.1, 5.2)
//!
//! Every Exec on a SCOMO primitive whose preconditions hold is answered **202** and becomes
//! a job; jobs run one at a time, in order. Each job ends in one result (SCOMO result
//! code, digest 4) carried by a Generic Alert 1226 (digest 6). The `Status` leaves walk the
//! values of digest section 3; a failed value stays until the next operation on the node.
//!
//! | Primitive | `Status` walk (success / failure) | Effect on success | `<Identifier>` / Target |
//! |---|---|---|---|
//! | `Download` | 10 → 30 → 40 / 30 → 20 | `Inventory/Delivered/<X>` (same name; replaces one of that name) with the leaves of `Download/<X>`, `State` 10 | `PkgID` / `Delivered/<X>` (failure: `Download/<X>`) |
//! | `DownloadInstall(Inactive)` | 10 → 30 → 40 → 50 → 10 / 20 (download) or 70 (install; the bytes are deleted) | components under `Deployed` (Active / Inactive); no `Delivered` entry is left | each component's `ID` / `Deployed/<Y>` (failure: `PkgID` / `Download/<X>`) |
//! | `Install(Inactive)` | 10 → 40 → 10, `State` 20 / 40 → 50 (60 if the bytes are gone) | components under `Deployed`; the package stays | each `ID` / `Deployed/<Y>` (failure: `PkgID` / `Delivered/<X>`) |
//! | `Remove` (Delivered) | 10 → 30 → node deleted / 20 | package deleted | `PkgID` / `Delivered/<X>` |
//! | `Activate` | 10 → 50 → 10, `State` 20 / 40 | | `ID` / `Deployed/<X>` |
//! | `Deactivate` | 10 → 70 → 10, `State` 10 / 60 | | `ID` / `Deployed/<X>` |
//! | `Remove` (Deployed) | 10 → 30 → node deleted / 20 | | `ID` / `Deployed/<X>` |
//!
//! `Download/<X>` stays after success (the digest's default): the server deletes it.
//!
//! **Components and `Deployed/<Y>` names.** The installer reports the components a package
//! yields through a [`ComponentSink`](crate::platform::ComponentSink) in the call that
//! answers `Done` (`ID`, `Version`, `Name`, `Description`). A component whose `ID` is
//! already deployed **updates** that entry in place (an update: one entry per `ID`, never
//! both, never neither — the tree changes in one journal write, and the installer's own
//! update is atomic by its contract). A new component's node is named by its `ID` when the
//! `ID` is a valid node name not in use, else `C1`, `C2`, .... `PkgIDRef` is the package's
//! `PkgID`. One report item per component (at most
//! [`MAX_ALERT_ITEMS`](crate::dm::alert::MAX_ALERT_ITEMS); more components are installed and
//! listed in the inventory but not in the report).
//!
//! **Preconditions** are checked at the Exec (412 Incomplete command: `Download/<X>` without
//! `PkgID` or `PkgURL`, `Delivered/<X>` without `PkgID`, or without `Data` for Install,
//! `Deployed/<X>` without `ID`; 413 for a Correlator longer than [`CORRELATOR_CAP`]; 420
//! when `JOBS` jobs wait already). A target deleted by the server before its job runs ends
//! the job with the operation's failure code (1402, 1405, 1408, 1409, 1410).
//!
//! **Consent**: the installer's consent hook is asked before Install (also after the
//! download of `DownloadInstall*`), Activate, Deactivate and Remove (Deployed); `Postpone`
//! asks again after [`CONSENT_RETRY_MS`], `Reject` ends the job with 1401.
//!
//! **Verification**: before an install the installer's verification hook reads the package
//! (a signature check: `Invalid` → 1407), then the stored bytes are hashed again and
//! compared with the SHA-256 computed when they arrived (against a swap after the check:
//! a difference → 1407).
//!
//! **Reboot-required installs.** An installer call that answers `RebootRequired` is
//! journaled and `poll` returns [`Action::Restart`]. After the restart, [`Executor::recover`]
//! and the next `poll` make **the same call again**; the installer answers `Done` (with the
//! components, for an install) and that confirms the operation: the result is reported in
//! the next session. A job that is asked to restart more than [`MAX_RESTARTS`] times fails.
//!
//! **Installer calls may be repeated** after a power cut: a call whose end was not journaled
//! is made again with the same arguments after the reboot. The [`Installer`](crate::platform::Installer)
//! contract asks every method to be idempotent for that reason.
//!
//! # Downloads (digest 9)
//!
//! `PkgURL` is fetched; a `Content-Type` of `application/vnd.oma.dd+xml` makes it a
//! download descriptor ([`dd`]), whose `objectURI` is fetched next and whose
//! `installNotifyURI` receives the install-notify report (900 when the download is
//! accepted, or the failure's status) before the job goes on. Bytes are streamed into the
//! component store (each written once) and hashed with SHA-256; when `Download/<X>` has the
//! vendor leaf `Ext/SHA256` (64 hex digits) the hash must match it (else 1407). The size is
//! capped by the descriptor's `size` or the HTTP length (more: 1402 with 905) and by the
//! store's capacity (1404 with 901), stopped at the first extra byte. A broken transfer is
//! resumed from the store's durable offset with `Range` and `If-Range`; a 200, a changed
//! validator or a range that does not fit starts it over from byte 0. Transient failures
//! (5xx, unreachable, interrupted) are retried [`MAX_ATTEMPTS`] times with a doubling
//! backoff from [`RETRY_BASE_MS`], then fail with 1500 or 1501; 401/403 fail with 1403,
//! 404 and other client errors with 1402.
//!
//! # Journal and recovery
//!
//! The executor's durable state is three records of the [`StateStore`](crate::platform::StateStore)
//! (see [`Config`]), each a [`frame`](crate::persist::frame) (version + CRC):
//!
//! - the **state record** holds the tree's server-visible state (the SCOMO inventory with
//!   every server-written leaf, the DM account, the ACLs), the jobs, the outbox and the map
//!   from `Delivered/<X>` to component-store keys. A job transition and its effect on the
//!   tree are **one** atomic write, made **before** the effect on the outside (an installer
//!   call, a fetch), so after any cut the tree and the jobs agree;
//! - the **acknowledgement record** holds the reports acknowledged since the state record
//!   last held them (written at once on each acknowledgement, so an acknowledged report is
//!   never sent again);
//! - the **transfer record** holds the running download's object URL, notify URL,
//!   descriptor size and validator (written when a descriptor is read and when the object
//!   starts from byte 0; never per chunk).
//!
//! [`Executor::recover`] rebuilds the tree and the jobs from them: a job whose last journaled
//! phase is "running" has its installer call made again (idempotent, see above); a download
//! resumes from the store's durable offset, or uses the package if its commit landed; a job
//! waiting for a restart is confirmed; packages nothing refers to are deleted. No job is
//! lost: each one ends in a report, which stays in the outbox until a 2xx status for its
//! Generic Alert. Sessions to report are asked for with a backoff (from
//! [`REPORT_RETRY_MS`] doubling to [`REPORT_RETRY_MAX_MS`]); the Correlator lets the server
//! recognise a report sent again because its acknowledgement was lost.
//!
//! Flash work per operation (an uninterrupted run): one state-record write when the Exec is
//! saved, one when the job starts, one when it ends, one acknowledgement (plus one for a
//! restart, and for downloads one per descriptor and one when the object starts, one when
//! it is downloaded and one after the notify report): at most 8 for Install, Activate or
//! Remove, and none per chunk of a download.
pub mod dd;
mod executor;
mod handler;
mod inventory;
mod job;
mod outbox;
pub mod range;
mod record;
mod transfer;

pub use executor::{
    Action, CONSENT_RETRY_MS, Config, ExecError, Executor, INSTALLER_POLL_MS, MAX_KEYS,
    MAX_RESTARTS, Platform, REPORT_RETRY_MAX_MS, REPORT_RETRY_MS, SessionReason,
};
pub use handler::Handler;
pub use job::{CORRELATOR_CAP, JobId, JobInfo, JobState};
pub use outbox::REPORT_TEXT;
pub use transfer::{
    DD_CAP, FetchFailure, FetchHead, Flow, MAX_ATTEMPTS, RETRY_BASE_MS, URL_CAP, VALIDATOR_CAP,
};
