//! One alternate download (digest 9): the responses the caller feeds back, streamed into the
//! component store and hashed on the way, with resume, restart and size limits.

use embedded_io::{Read as _, Write as _};
use minicbor::{Decoder, Encoder, decode, encode};
use sha2::{Digest as _, Sha256};

use crate::codes::ResultCode;
use crate::ops::dd::{self, DdError, Descriptor, InstallStatus};
use crate::ops::job::{JobId, null, opt_str, opt_string};
use crate::ops::range::{self, Resume};
use crate::persist::frame;
use crate::platform::{
    ComponentStore, PackageKey, PackageReader, PackageState, PackageWriter, RecordId, StateStore,
    StorageError, StorageErrorKind,
};

/// Longest URL kept for a download (`PkgURL`, a descriptor's `objectURI` or
/// `installNotifyURI`), in bytes. A descriptor naming a longer one is invalid (906).
pub const URL_CAP: usize = 320;

/// Longest validator (`ETag` or `Last-Modified` value) kept, in bytes; a longer one is not
/// kept, and then a download is not resumed but started over.
pub const VALIDATOR_CAP: usize = 96;

/// Largest download descriptor, in bytes (a larger one is refused: 906 is not posted since
/// the descriptor was not read; the job ends with 1402).
pub const DD_CAP: usize = 1024;

/// How many times a download (or an install-notify post) is tried before it fails.
pub const MAX_ATTEMPTS: u8 = 5;

/// The wait before the second attempt; it doubles for each further attempt.
pub const RETRY_BASE_MS: u64 = 2_000;

/// The schema version of the transfer record.
const TRANSFER_VERSION: u8 = 1;

/// The head of the response to a [`Fetch`](super::Action::Fetch): what the caller learnt
/// before the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchHead<'a> {
    /// The HTTP status (after redirects).
    pub status: u16,
    /// `Content-Type`, if any (parameters after `;` are ignored).
    pub content_type: Option<&'a str>,
    /// `Content-Length`: the length of this response's body, if known.
    pub content_length: Option<u64>,
    /// `Content-Range` of a 206 or 416 answer.
    pub content_range: Option<&'a str>,
    /// The object's validator: its `ETag`, or else its `Last-Modified` value.
    pub validator: Option<&'a str>,
}

/// How a fetch or a post failed below HTTP, or an HTTP error the caller classified itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FetchFailure {
    /// 404 or 410: the object is not there (result 1402).
    NotFound,
    /// 401 or 403: the download server refused us (result 1403).
    Unauthorized,
    /// 5xx: retried with backoff, then result 1500.
    ServerError,
    /// No connection, no answer, timeout: retried with backoff, then result 1501.
    Unreachable,
    /// The connection broke during the body: resumed with a Range request, then result 1501.
    Interrupted,
}

impl FetchFailure {
    /// The SCOMO result the download ends with when this failure is final.
    pub const fn result(self) -> ResultCode {
        match self {
            Self::NotFound => ResultCode::DownloadFailed,
            Self::Unauthorized => ResultCode::DownloadAuthFailure,
            Self::ServerError => ResultCode::DownloadServerError,
            Self::Unreachable | Self::Interrupted => ResultCode::DownloadServerUnavailable,
        }
    }

    /// Whether another attempt may succeed.
    pub const fn transient(self) -> bool {
        matches!(
            self,
            Self::ServerError | Self::Unreachable | Self::Interrupted
        )
    }

    /// The failure an HTTP error status stands for (`None` for 2xx, 416 and 3xx).
    pub const fn from_status(status: u16) -> Option<Self> {
        match status {
            401 | 403 => Some(Self::Unauthorized),
            500..=599 => Some(Self::ServerError),
            400..=499 if status != 416 => Some(Self::NotFound),
            _ => None,
        }
    }
}

/// What the caller should do with the rest of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Flow {
    /// Feed the body.
    Continue,
    /// Stop reading (close the connection) and call `fetch_end`.
    Stop,
}

/// Which object the transfer is after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `PkgURL`: a descriptor or the package itself, decided by the content type.
    Probe,
    /// The package itself (`PkgURL`, or the descriptor's `objectURI`).
    Object,
}

/// Where the size limit of the object comes from (it decides the result of an overrun).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// The descriptor's `size`: more is 905 (1402).
    Descriptor,
    /// The HTTP length: more is 1402.
    Length,
    /// Nothing declared: the store's slot capacity, more is 1404 (901).
    Capacity,
}

/// How the body of the response in flight is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No head yet.
    Head,
    /// Collected into the descriptor buffer.
    Descriptor,
    /// Streamed into the store up to `declared` bytes.
    Object { declared: u64, limit: Limit },
    /// Ignored (the outcome is decided).
    Ignore,
}

/// What the executor must act on after a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A descriptor arrived whole.
    Descriptor,
    /// The package is committed in the store with `len` bytes and this SHA-256.
    Complete { len: u64, digest: [u8; 32] },
    /// A transient failure: try again after a backoff.
    Retry(FetchFailure),
    /// The download failed for good: report `result`, post `status` if there is a
    /// notify URI.
    Failed {
        result: ResultCode,
        status: InstallStatus,
    },
}

/// SHA-256 over the first `len` bytes of the package.
#[derive(Clone)]
struct Hasher {
    sha: Sha256,
    len: u64,
}

/// The download of the job at the head of the queue.
pub(crate) struct Transfer {
    pub job: JobId,
    pub key: PackageKey,
    pub stage: Stage,
    pub url: heapless::String<URL_CAP, u16>,
    pub notify_url: Option<heapless::String<URL_CAP, u16>>,
    pub dd_size: Option<u64>,
    validator: Option<heapless::String<VALIDATOR_CAP, u8>>,
    /// Attempts of the current object (or post) that failed.
    pub attempts: u8,
    /// Not before this time (backoff).
    pub retry_at: u64,
    flight: Option<(u64, Mode)>,
    pub event: Option<Event>,
    hasher: Option<Hasher>,
    dd: heapless::Vec<u8, DD_CAP>,
    /// A post is in flight.
    pub posting: bool,
    /// The post is done (delivered, or given up).
    pub posted: bool,
    pub notify_body: heapless::String<{ InstallStatus::MAX_REPORT_LEN }, u8>,
}

/// A storage error's kind.
fn kind<E: StorageError>(e: E) -> StorageErrorKind {
    e.kind()
}

impl Transfer {
    /// A download that starts by fetching `PkgURL`.
    pub fn probe(job: JobId, key: PackageKey, url: &str) -> Option<Self> {
        Some(Self {
            job,
            key,
            stage: Stage::Probe,
            url: heapless::String::try_from(url).ok()?,
            notify_url: None,
            dd_size: None,
            validator: None,
            attempts: 0,
            retry_at: 0,
            flight: None,
            event: None,
            hasher: None,
            dd: heapless::Vec::new(),
            posting: false,
            posted: false,
            notify_body: heapless::String::new(),
        })
    }

    /// Whether a fetch is in flight.
    pub fn in_flight(&self) -> bool {
        self.flight.is_some()
    }

    /// The offset the fetch in flight asked for.
    pub fn offset(&self) -> u64 {
        self.flight.map_or(0, |(offset, _)| offset)
    }

    /// The validator to send as `If-Range` with a Range request.
    pub fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    /// Prepares the next fetch: where to start, from what is in the store. Sets `event`
    /// instead when the package is already complete (a cut fell between its commit and the
    /// journal). Returns the offset to ask for.
    pub fn start<C: ComponentStore>(&mut self, store: &mut C) -> Result<u64, StorageErrorKind> {
        let mut offset = 0;
        if self.stage == Stage::Object && self.validator.is_some() {
            match store.inspect(self.key).map_err(kind)? {
                Some(info) if info.state == PackageState::Complete => {
                    let hasher = hash_prefix(store, self.key, info.len)?;
                    self.event = Some(Event::Complete {
                        len: info.len,
                        digest: hasher.sha.finalize().into(),
                    });
                    return Ok(0);
                }
                Some(_) => {
                    let writer = store.resume(self.key).map_err(kind)?;
                    offset = writer.offset();
                    writer.suspend().map_err(kind)?;
                }
                None => {}
            }
        }
        if offset > 0 && self.hasher.as_ref().is_none_or(|h| h.len != offset) {
            let hasher = hash_prefix(store, self.key, offset)?;
            if hasher.len != offset {
                // The store kept less than it said: start over.
                offset = 0;
            }
            self.hasher = Some(hasher);
        }
        if offset == 0 {
            self.hasher = None;
        }
        self.flight = Some((offset, Mode::Head));
        Ok(offset)
    }

    fn decide(&mut self, event: Event) -> Flow {
        self.event = Some(event);
        if let Some((_, mode)) = self.flight.as_mut() {
            *mode = Mode::Ignore;
        }
        Flow::Stop
    }

    /// The head of the response arrived.
    pub fn head<C: ComponentStore, S: StateStore>(
        &mut self,
        head: &FetchHead<'_>,
        store: &mut C,
        state: &mut S,
        record: RecordId,
    ) -> Flow {
        let Some((requested, Mode::Head)) = self.flight else {
            return Flow::Stop;
        };
        if let Some(failure) = FetchFailure::from_status(head.status) {
            return self.decide(failure_event(failure));
        }
        let is_dd = head.content_type.is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(dd::CONTENT_TYPE))
        });
        if self.stage == Stage::Probe && is_dd {
            if head.status != 200 {
                return self.decide(Event::Retry(FetchFailure::Interrupted));
            }
            self.dd.clear();
            self.flight = Some((requested, Mode::Descriptor));
            return Flow::Continue;
        }
        self.stage = Stage::Object;
        if requested == 0 {
            let total = match head.status {
                200 => head.content_length,
                206 => match head.content_range.map(range::ContentRange::parse) {
                    Some(Ok(range::ContentRange::Bytes {
                        first: 0,
                        complete_length,
                        ..
                    })) => complete_length,
                    _ => return self.decide(Event::Retry(FetchFailure::Interrupted)),
                },
                _ => return self.decide(failure_event(FetchFailure::NotFound)),
            };
            return self.restart(head, total, store, state, record);
        }
        let same_object = match (&self.validator, head.validator) {
            (Some(ours), Some(theirs)) => ours.as_str() == theirs,
            _ => false,
        };
        match range::resume(requested, head.status, head.content_range) {
            Ok(Resume::Restart) if head.status == 200 => {
                self.restart(head, head.content_length, store, state, record)
            }
            Ok(Resume::Complete) if same_object => self.commit(store),
            Ok(Resume::Continue { complete_length }) if same_object => {
                let declared = match store.resume(self.key).and_then(|w| {
                    let declared = w.declared_size();
                    w.suspend().map(|_| declared)
                }) {
                    Ok(declared) => declared,
                    Err(_) => return self.decide(Event::Retry(FetchFailure::Interrupted)),
                };
                let limit = match (self.dd_size, complete_length) {
                    (Some(_), _) => Limit::Descriptor,
                    (None, Some(total)) if total == declared => Limit::Length,
                    (None, None) if declared == store.slot_capacity() => Limit::Capacity,
                    _ => {
                        // The object's length is not the one we began with.
                        self.validator = None;
                        return self.decide(Event::Retry(FetchFailure::Interrupted));
                    }
                };
                self.flight = Some((requested, Mode::Object { declared, limit }));
                Flow::Continue
            }
            _ => {
                // A range of an object we cannot tell is ours, or one that does not start
                // where we asked: start over from byte 0.
                self.validator = None;
                self.decide(Event::Retry(FetchFailure::Interrupted))
            }
        }
    }

    /// Starts the object over from byte 0.
    fn restart<C: ComponentStore, S: StateStore>(
        &mut self,
        head: &FetchHead<'_>,
        total: Option<u64>,
        store: &mut C,
        state: &mut S,
        record: RecordId,
    ) -> Flow {
        let capacity = store.slot_capacity();
        let (declared, limit) = match (self.dd_size, total) {
            (Some(size), Some(total)) if total != size => {
                return self.decide(Event::Failed {
                    result: ResultCode::DownloadFailed,
                    status: InstallStatus::AttributeMismatch,
                });
            }
            (Some(size), _) => (size, Limit::Descriptor),
            (None, Some(total)) => (total, Limit::Length),
            (None, None) => (capacity, Limit::Capacity),
        };
        if declared > capacity {
            return self.decide(Event::Failed {
                result: ResultCode::DownloadOutOfMemory,
                status: InstallStatus::InsufficientMemory,
            });
        }
        // The old bytes go first, then the new validator is journaled: a cut between the
        // two leaves an empty package, never old bytes under a new validator.
        let begun = store
            .begin(self.key, declared)
            .and_then(|w| w.suspend().map(|_| ()));
        if begun.is_err() {
            return self.decide(store_failure());
        }
        self.validator = head
            .validator
            .and_then(|v| heapless::String::try_from(v).ok());
        if self.save(state, record).is_err() {
            return self.decide(Event::Retry(FetchFailure::Interrupted));
        }
        self.hasher = Some(Hasher {
            sha: Sha256::new(),
            len: 0,
        });
        self.flight = Some((0, Mode::Object { declared, limit }));
        Flow::Continue
    }

    /// Body bytes arrived.
    pub fn body<C: ComponentStore>(&mut self, bytes: &[u8], store: &mut C) -> Flow {
        let Some((_, mode)) = self.flight else {
            return Flow::Stop;
        };
        match mode {
            Mode::Descriptor => {
                if self.dd.extend_from_slice(bytes).is_err() {
                    return self.decide(Event::Failed {
                        result: ResultCode::DownloadFailed,
                        status: InstallStatus::InvalidDescriptor,
                    });
                }
                Flow::Continue
            }
            Mode::Object { declared, limit } => {
                let Some(hasher) = self.hasher.as_mut() else {
                    return self.decide(Event::Retry(FetchFailure::Interrupted));
                };
                let mut writer = match store.resume(self.key) {
                    Ok(w) => w,
                    Err(_) => return self.decide(store_failure()),
                };
                if writer.offset() != hasher.len {
                    // The store lost its place (another package was written meanwhile):
                    // ask again from where it is.
                    drop(writer);
                    return self.decide(Event::Retry(FetchFailure::Interrupted));
                }
                let room = declared.saturating_sub(hasher.len);
                let take = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
                let (now, extra) = bytes.split_at(take);
                let written = writer.write_all(now).map_err(kind);
                let suspended = writer.suspend().map_err(kind);
                if written.and(suspended).is_err() {
                    return self.decide(store_failure());
                }
                hasher.sha.update(now);
                hasher.len += now.len() as u64;
                if !extra.is_empty() {
                    // Endless data: stopped at the first byte past the limit.
                    return self.decide(match limit {
                        Limit::Descriptor | Limit::Length => Event::Failed {
                            result: ResultCode::DownloadFailed,
                            status: InstallStatus::AttributeMismatch,
                        },
                        Limit::Capacity => Event::Failed {
                            result: ResultCode::DownloadOutOfMemory,
                            status: InstallStatus::InsufficientMemory,
                        },
                    });
                }
                Flow::Continue
            }
            Mode::Head | Mode::Ignore => Flow::Stop,
        }
    }

    /// The response ended (`Ok`) or broke.
    pub fn end<C: ComponentStore>(&mut self, outcome: Result<(), FetchFailure>, store: &mut C) {
        let Some((_, mode)) = self.flight else {
            return;
        };
        if self.event.is_none() {
            match (outcome, mode) {
                (Err(failure), _) => {
                    self.event = Some(failure_event(failure));
                }
                (Ok(()), Mode::Descriptor) => self.event = Some(Event::Descriptor),
                (Ok(()), Mode::Object { declared, limit }) => {
                    let have = self.hasher.as_ref().map_or(0, |h| h.len);
                    if limit != Limit::Capacity && have < declared {
                        self.event = Some(Event::Retry(FetchFailure::Interrupted));
                    } else {
                        let _ = self.commit(store);
                    }
                }
                (Ok(()), Mode::Head | Mode::Ignore) => {
                    self.event = Some(Event::Retry(FetchFailure::Interrupted));
                }
            }
        }
        self.flight = None;
    }

    /// Commits the package; sets the event.
    fn commit<C: ComponentStore>(&mut self, store: &mut C) -> Flow {
        let committed = store
            .resume(self.key)
            .and_then(|w| w.commit())
            .map_err(kind);
        let event = match committed {
            Ok(info) => match self.hasher.as_ref().filter(|h| h.len == info.len) {
                Some(h) => Event::Complete {
                    len: info.len,
                    digest: h.sha.clone().finalize().into(),
                },
                None => match hash_prefix(store, self.key, info.len) {
                    Ok(h) => Event::Complete {
                        len: info.len,
                        digest: h.sha.finalize().into(),
                    },
                    Err(_) => store_failure(),
                },
            },
            Err(_) => store_failure(),
        };
        self.decide(event)
    }

    /// Reads the descriptor that arrived: on success the transfer goes after its object.
    pub fn take_descriptor<S: StateStore>(
        &mut self,
        state: &mut S,
        record: RecordId,
    ) -> Result<(), Event> {
        let invalid = |e: DdError| Event::Failed {
            result: e.install_status().result(),
            status: e.install_status(),
        };
        let doc = core::mem::take(&mut self.dd);
        let desc = Descriptor::parse(&doc).map_err(invalid)?;
        let mut buf = [0u8; URL_CAP];
        if let Some(notify) = desc.install_notify_uri {
            let text = notify.unescape(&mut buf).map_err(invalid)?;
            self.notify_url = Some(
                heapless::String::try_from(text).map_err(|_| invalid(DdError::BufferTooSmall))?,
            );
        }
        let object = desc.object_uri.unescape(&mut buf).map_err(invalid)?;
        self.url =
            heapless::String::try_from(object).map_err(|_| invalid(DdError::BufferTooSmall))?;
        self.dd_size = Some(desc.size);
        self.stage = Stage::Object;
        self.validator = None;
        self.attempts = 0;
        // Journal the descriptor's facts so that a restart need not fetch it again; a
        // failed write only costs that.
        let _ = self.save(state, record);
        Ok(())
    }

    /// Writes the transfer record.
    pub fn save<S: StateStore>(
        &self,
        state: &mut S,
        record: RecordId,
    ) -> Result<(), StorageErrorKind> {
        let mut buf = [0u8; 2 * URL_CAP + VALIDATOR_CAP + 48];
        let len = frame::encode(TRANSFER_VERSION, &Saved(self), &mut buf)
            .map_err(|_| StorageErrorKind::TooLarge)?;
        state
            .write(record, buf.get(..len).unwrap_or(&[]))
            .map_err(kind)
    }

    /// The transfer of job `job` as journaled, if the record is about that job.
    pub fn load<S: StateStore>(
        state: &mut S,
        record: RecordId,
        job: JobId,
        key: PackageKey,
    ) -> Result<Option<Self>, StorageErrorKind> {
        let mut buf = [0u8; 2 * URL_CAP + VALIDATOR_CAP + 48];
        let Some(len) = state.read(record, &mut buf).map_err(kind)? else {
            return Ok(None);
        };
        let Ok(loaded) = frame::decode::<Loaded>(TRANSFER_VERSION, buf.get(..len).unwrap_or(&[]))
        else {
            return Ok(None);
        };
        if loaded.job != job {
            return Ok(None);
        }
        let Some(mut t) = Self::probe(job, key, &loaded.url) else {
            return Ok(None);
        };
        t.stage = Stage::Object;
        t.notify_url = loaded.notify_url;
        t.dd_size = loaded.dd_size;
        t.validator = loaded.validator;
        Ok(Some(t))
    }
}

/// The event for a failed fetch.
fn failure_event(failure: FetchFailure) -> Event {
    if failure.transient() {
        Event::Retry(failure)
    } else {
        Event::Failed {
            result: failure.result(),
            status: InstallStatus::LoaderError,
        }
    }
}

/// The event for a store that refused the package.
fn store_failure() -> Event {
    Event::Failed {
        result: ResultCode::DownloadOutOfMemory,
        status: InstallStatus::InsufficientMemory,
    }
}

/// SHA-256 of the first `len` bytes of package `key` (fewer if the store holds fewer).
fn hash_prefix<C: ComponentStore>(
    store: &mut C,
    key: PackageKey,
    len: u64,
) -> Result<Hasher, StorageErrorKind> {
    let mut reader = store.open(key).map_err(kind)?;
    let mut hasher = Hasher {
        sha: Sha256::new(),
        len: 0,
    };
    let mut buf = [0u8; 256];
    while hasher.len < len {
        let want = usize::try_from(len - hasher.len)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let chunk = buf.get_mut(..want).unwrap_or(&mut []);
        let n = reader.read(chunk).map_err(kind)?;
        if n == 0 {
            break;
        }
        hasher.sha.update(chunk.get(..n).unwrap_or(&[]));
        hasher.len += n as u64;
    }
    Ok(hasher)
}

/// SHA-256 of a whole stored package.
pub(crate) fn hash_package<C: ComponentStore>(
    store: &mut C,
    key: PackageKey,
) -> Result<([u8; 32], u64), StorageErrorKind> {
    let size = store.open(key).map_err(kind)?.size();
    let h = hash_prefix(store, key, size)?;
    Ok((h.sha.finalize().into(), h.len))
}

/// A running SHA-256 over streamed bytes (a pushed Large Object).
#[derive(Clone)]
pub(crate) struct Running(Sha256);

impl Running {
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// The journaled part of a transfer, for encoding.
struct Saved<'a>(&'a Transfer);

impl minicbor::Encode<()> for Saved<'_> {
    fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut (),
    ) -> Result<(), encode::Error<W::Error>> {
        let t = self.0;
        e.array(5)?.u32(t.job.0)?.str(&t.url)?;
        opt_str(e, t.notify_url.as_deref())?;
        match t.dd_size {
            Some(n) => e.u64(n)?,
            None => e.null()?,
        };
        opt_str(e, t.validator.as_deref())
    }
}

/// The journaled part of a transfer, decoded.
struct Loaded {
    job: JobId,
    url: heapless::String<URL_CAP, u16>,
    notify_url: Option<heapless::String<URL_CAP, u16>>,
    dd_size: Option<u64>,
    validator: Option<heapless::String<VALIDATOR_CAP, u8>>,
}

fn url(d: &mut Decoder<'_>) -> Result<heapless::String<URL_CAP, u16>, decode::Error> {
    heapless::String::try_from(d.str()?).map_err(|_| decode::Error::message("URL too long"))
}

impl<'b> minicbor::Decode<'b, ()> for Loaded {
    fn decode(d: &mut Decoder<'b>, _: &mut ()) -> Result<Self, decode::Error> {
        if d.array()? != Some(5) {
            return Err(decode::Error::message("transfer is not a 5-array"));
        }
        let job = JobId(d.u32()?);
        let url = url(d)?;
        let notify_url = if null(d)? { None } else { Some(self::url(d)?) };
        let dd_size = if null(d)? { None } else { Some(d.u64()?) };
        let validator = opt_string(d)?;
        Ok(Self {
            job,
            url,
            notify_url,
            dd_size,
            validator,
        })
    }
}
