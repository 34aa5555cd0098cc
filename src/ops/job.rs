//! Jobs: one accepted Exec each, from its 202 to its result.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::mo::{NodeName, Primitive};
use crate::ops::dd::InstallStatus;
use crate::platform::PackageKey;

/// Longest Exec `Correlator` the executor keeps and echoes, in bytes (a longer one makes the
/// Exec fail with 413).
pub const CORRELATOR_CAP: usize = 64;

/// A Correlator as kept in a job and its report.
pub(crate) type Correlator = heapless::String<CORRELATOR_CAP, u8>;

/// Identifies a job and the result it produces; unique for the life of the device (the
/// counter is durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct JobId(pub u32);

/// Where a job stands (its journaled phase), for display and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// `Download*`: fetching the package (or its descriptor).
    Downloading,
    /// `Download*`: posting the install-notify report.
    Notifying,
    /// `DownloadInstall*`: downloaded, the install not started.
    Downloaded,
    /// The operation is under way (an installer call may be made again after a cut).
    Running,
    /// Waiting for the device to restart, then confirming.
    AwaitingRestart,
}

/// A job as [`Executor::jobs`](super::Executor::jobs) shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobInfo<'a> {
    /// The job (and its report's) identifier.
    pub id: JobId,
    /// The primitive executed.
    pub primitive: Primitive,
    /// The `<X>` of the target entry.
    pub target: &'a str,
    /// Where it stands.
    pub state: JobState,
}

impl Phase {
    /// The public view of the phase.
    pub fn state(self) -> JobState {
        match self {
            Phase::Queued => JobState::Queued,
            Phase::Fetching => JobState::Downloading,
            Phase::Notify { .. } => JobState::Notifying,
            Phase::Downloaded => JobState::Downloaded,
            Phase::Running => JobState::Running,
            Phase::Restart => JobState::AwaitingRestart,
        }
    }
}

/// Where a job stands, as journaled. Each phase is written before the work it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepted (Exec answered 202); nothing done yet.
    Queued,
    /// `Download*`: the package is being fetched (details in the transfer record).
    Fetching,
    /// `Download*`: the install-notify report is being posted; then the job goes on with
    /// `result` (1200: the download succeeded).
    Notify {
        /// The status posted.
        status: InstallStatus,
        /// The SCOMO result of the download.
        result: u16,
    },
    /// `DownloadInstall*`: the package is downloaded (`Status` 40); the install has not
    /// started.
    Downloaded,
    /// The `Status` leaf says "progressing" and the installer (or the store) is being
    /// asked to do the work; after a power cut the call is made again.
    Running,
    /// The installer answered `RebootRequired`: after the device restarts the same call is
    /// made again to confirm.
    Restart,
}

/// One accepted Exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    pub id: JobId,
    pub primitive: Primitive,
    /// The `<X>` of the target entry.
    pub name: NodeName,
    pub correlator: Option<Correlator>,
    pub phase: Phase,
    /// How many `RebootRequired` answers this job has had.
    pub restarts: u8,
    /// `Download*`: the component-store key of the package being fetched / installed.
    pub key: Option<PackageKey>,
    /// `Download*`: SHA-256 of the fetched package, checked again before it is installed.
    pub digest: Option<[u8; 32]>,
    /// Not journaled: the device restarted while this job waited for it (set by recovery).
    pub restarted: bool,
    /// Not journaled: the package passed the verification hook and the hash check in this
    /// boot (so an installer answering `Pending` is not made to verify again).
    pub verified: bool,
}

impl Job {
    pub fn new(
        id: JobId,
        primitive: Primitive,
        name: NodeName,
        correlator: Option<Correlator>,
    ) -> Self {
        Self {
            id,
            primitive,
            name,
            correlator,
            phase: Phase::Queued,
            restarts: 0,
            key: None,
            digest: None,
            restarted: false,
            verified: false,
        }
    }
}

/// The primitives by their journal number (their index here).
const PRIMITIVES: [Primitive; 9] = [
    Primitive::Download,
    Primitive::DownloadInstall,
    Primitive::DownloadInstallInactive,
    Primitive::Install,
    Primitive::InstallInactive,
    Primitive::RemoveDelivered,
    Primitive::Activate,
    Primitive::Deactivate,
    Primitive::RemoveDeployed,
];

fn primitive_number(p: Primitive) -> u8 {
    PRIMITIVES.iter().position(|x| *x == p).unwrap_or(0) as u8
}

fn phase_parts(phase: Phase) -> (u8, u16, u16) {
    match phase {
        Phase::Queued => (0, 0, 0),
        Phase::Fetching => (1, 0, 0),
        Phase::Notify { status, result } => (2, status.code(), result),
        Phase::Running => (3, 0, 0),
        Phase::Restart => (4, 0, 0),
        Phase::Downloaded => (5, 0, 0),
    }
}

fn phase_from(tag: u8, status: u16, result: u16) -> Option<Phase> {
    Some(match tag {
        0 => Phase::Queued,
        1 => Phase::Fetching,
        2 => Phase::Notify {
            status: InstallStatus::from_code(status)?,
            result,
        },
        3 => Phase::Running,
        4 => Phase::Restart,
        5 => Phase::Downloaded,
        _ => return None,
    })
}

pub(crate) fn opt_str<W: encode::Write>(
    e: &mut Encoder<W>,
    s: Option<&str>,
) -> Result<(), encode::Error<W::Error>> {
    match s {
        Some(s) => e.str(s)?,
        None => e.null()?,
    };
    Ok(())
}

/// Reads a CBOR null (returning `true`) or leaves the decoder where it is.
pub(crate) fn null(d: &mut Decoder<'_>) -> Result<bool, decode::Error> {
    if d.datatype()? == minicbor::data::Type::Null {
        d.null()?;
        return Ok(true);
    }
    Ok(false)
}

pub(crate) fn string<const N: usize>(
    d: &mut Decoder<'_>,
) -> Result<heapless::String<N, u8>, decode::Error> {
    heapless::String::try_from(d.str()?).map_err(|_| decode::Error::message("text too long"))
}

pub(crate) fn opt_string<const N: usize>(
    d: &mut Decoder<'_>,
) -> Result<Option<heapless::String<N, u8>>, decode::Error> {
    if null(d)? {
        return Ok(None);
    }
    string(d).map(Some)
}

pub(crate) fn opt_digest<W: encode::Write>(
    e: &mut Encoder<W>,
    digest: Option<&[u8; 32]>,
) -> Result<(), encode::Error<W::Error>> {
    match digest {
        Some(d) => e.bytes(d)?,
        None => e.null()?,
    };
    Ok(())
}

pub(crate) fn decode_digest(d: &mut Decoder<'_>) -> Result<Option<[u8; 32]>, decode::Error> {
    if null(d)? {
        return Ok(None);
    }
    <[u8; 32]>::try_from(d.bytes()?)
        .map(Some)
        .map_err(|_| decode::Error::message("digest is not 32 bytes"))
}

impl Job {
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        let (tag, status, result) = phase_parts(self.phase);
        e.array(10)?
            .u32(self.id.0)?
            .u8(primitive_number(self.primitive))?
            .str(&self.name)?;
        opt_str(e, self.correlator.as_deref())?;
        e.u8(tag)?.u16(status)?.u16(result)?.u8(self.restarts)?;
        match self.key {
            Some(k) => e.u16(k.0)?,
            None => e.null()?,
        };
        opt_digest(e, self.digest.as_ref())
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        if d.array()? != Some(10) {
            return Err(decode::Error::message("job is not a 10-array"));
        }
        let id = JobId(d.u32()?);
        let primitive = PRIMITIVES
            .get(usize::from(d.u8()?))
            .copied()
            .ok_or(decode::Error::message("unknown primitive"))?;
        let name =
            crate::mo::node_name(d.str()?).map_err(|_| decode::Error::message("bad node name"))?;
        let correlator = opt_string(d)?;
        let (tag, status, result) = (d.u8()?, d.u16()?, d.u16()?);
        let phase = phase_from(tag, status, result).ok_or(decode::Error::message("bad phase"))?;
        let restarts = d.u8()?;
        let key = if null(d)? {
            None
        } else {
            Some(PackageKey(d.u16()?))
        };
        let digest = decode_digest(d)?;
        Ok(Self {
            id,
            primitive,
            name,
            correlator,
            phase,
            restarts,
            key,
            digest,
            restarted: false,
            verified: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_cbor_and_reject_garbage() {
        let mut job = Job::new(
            JobId(7),
            Primitive::DownloadInstallInactive,
            crate::mo::node_name("p1").unwrap(),
            Some(Correlator::try_from("c-1").unwrap()),
        );
        job.phase = Phase::Notify {
            status: InstallStatus::AttributeMismatch,
            result: 1402,
        };
        job.key = Some(PackageKey(2));
        job.digest = Some([9; 32]);
        let mut buf = [0u8; 256];
        let n = crate::mo::encode_into(&mut buf, |e| job.encode(e)).unwrap();
        let back = Job::decode(&mut Decoder::new(&buf[..n])).unwrap();
        assert_eq!(back, job);
        for cut in 0..n {
            assert!(Job::decode(&mut Decoder::new(&buf[..cut])).is_err());
        }
    }
}
