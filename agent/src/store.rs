//! File-backed [`StateStore`] and [`ComponentStore`] in a state directory.
//!
//! Layout under the directory:
//!
//! | Path | Holds |
//! |---|---|
//! | `records/<id>.rec` | one state record, replaced by write-to-temp, fsync, rename, fsync of the directory |
//! | `packages/<key>.part` | a package being written; its durable length is in `<key>.meta` |
//! | `packages/<key>.meta` | `<declared size> <durable offset>`, replaced atomically like a record |
//! | `packages/<key>.pkg` | a complete package (renamed from `.part` after an fsync) |
//!
//! **Power loss / kill**: every replacement is a rename of a file that was synced first,
//! followed by a sync of the directory, so after any interruption a record is its old or its
//! new value, a package is complete or partial from its recorded durable offset, never torn.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use scomo::platform::{
    ComponentStore, PackageInfo, PackageKey, PackageReader, PackageState, PackageWriter, RecordId,
    StateStore, StorageError, StorageErrorKind,
};

/// How often a package being written is synced (and its durable offset recorded).
pub const SYNC_EVERY: u64 = 64 * 1024;

/// An error of the file stores: the kind the core branches on and the OS error, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileError {
    /// What went wrong, for the core.
    pub kind: StorageErrorKind,
    /// The operating system's error kind, when one caused it.
    pub io: Option<std::io::ErrorKind>,
}

impl FileError {
    fn new(kind: StorageErrorKind) -> Self {
        Self { kind, io: None }
    }
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => StorageErrorKind::NotFound,
            std::io::ErrorKind::StorageFull => StorageErrorKind::NoSpace,
            _ => StorageErrorKind::Io,
        };
        Self {
            kind,
            io: Some(e.kind()),
        }
    }
}

impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.io {
            Some(io) => write!(f, "{:?} ({io})", self.kind),
            None => write!(f, "{:?}", self.kind),
        }
    }
}

impl std::error::Error for FileError {}

impl StorageError for FileError {
    fn kind(&self) -> StorageErrorKind {
        self.kind
    }
}

impl embedded_io::Error for FileError {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.kind.io_kind()
    }
}

/// Writes `bytes` to `path` so that after any interruption the file holds its old or its
/// new content: temp file, fsync, rename, fsync of the directory.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// **Test aid**: with `SCOMO_AGENT_CRASH_AFTER_WRITES=N` in the environment the process
/// aborts right after its N-th state-record write, as a kill or a power cut would stop it
/// there. The integration tests stop the agent at every journal step this way.
pub const CRASH_AFTER_WRITES: &str = "SCOMO_AGENT_CRASH_AFTER_WRITES";

fn crash_point() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    let limit = std::env::var(CRASH_AFTER_WRITES)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    if limit == Some(n) {
        std::process::abort();
    }
}

/// Small durable records as files.
#[derive(Debug)]
pub struct FileStateStore {
    dir: PathBuf,
}

/// The largest record the file state store takes.
pub const MAX_RECORD_LEN: usize = 64 * 1024;

impl FileStateStore {
    /// Opens (creating) the record directory under `state_dir`.
    pub fn open(state_dir: &Path) -> std::io::Result<Self> {
        let dir = state_dir.join("records");
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, id: RecordId) -> PathBuf {
        self.dir.join(format!("{}.rec", id.0))
    }
}

impl StateStore for FileStateStore {
    type Error = FileError;

    fn max_record_len(&self) -> usize {
        MAX_RECORD_LEN
    }

    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, FileError> {
        match fs::read(self.path(id)) {
            Ok(bytes) => {
                let out = buf
                    .get_mut(..bytes.len())
                    .ok_or(FileError::new(StorageErrorKind::BufferTooSmall))?;
                out.copy_from_slice(&bytes);
                Ok(Some(bytes.len()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), FileError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(FileError::new(StorageErrorKind::TooLarge));
        }
        replace_file(&self.path(id), bytes)?;
        crash_point();
        Ok(())
    }

    fn delete(&mut self, id: RecordId) -> Result<(), FileError> {
        match fs::remove_file(self.path(id)) {
            Ok(()) => Ok(sync_dir(&self.path(id))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, FileError> {
        let mut best: Option<u16> = None;
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".rec"))
                .and_then(|n| n.parse::<u16>().ok())
            else {
                continue;
            };
            if after.is_none_or(|a| id > a.0) && best.is_none_or(|b| id < b) {
                best = Some(id);
            }
        }
        Ok(best.map(RecordId))
    }
}

/// Delivery packages as files, resumable after a kill.
#[derive(Debug)]
pub struct FileComponentStore {
    dir: PathBuf,
    slots: u16,
    capacity: u64,
    /// A writer suspended in this process: its key, exact offset and durable offset, so
    /// that `resume` continues byte-exact without a sync per chunk.
    suspended: std::cell::Cell<Option<(PackageKey, u64, u64)>>,
}

impl FileComponentStore {
    /// Opens (creating) the package directory under `state_dir`, with `slots` keys of at
    /// most `capacity` bytes each.
    pub fn open(state_dir: &Path, slots: u16, capacity: u64) -> std::io::Result<Self> {
        let dir = state_dir.join("packages");
        fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            slots,
            capacity,
            suspended: std::cell::Cell::new(None),
        })
    }

    /// The file of complete package `key` (what an installer command is given).
    pub fn package_path(&self, key: PackageKey) -> PathBuf {
        self.dir.join(format!("{}.pkg", key.0))
    }

    fn part(&self, key: PackageKey) -> PathBuf {
        self.dir.join(format!("{}.part", key.0))
    }

    fn meta(&self, key: PackageKey) -> PathBuf {
        self.dir.join(format!("{}.meta", key.0))
    }

    fn check(&self, key: PackageKey) -> Result<(), FileError> {
        if key.0 < self.slots {
            Ok(())
        } else {
            Err(FileError::new(StorageErrorKind::InvalidKey))
        }
    }

    /// (declared size, durable offset) of a partial package.
    fn read_meta(&self, key: PackageKey) -> Result<Option<(u64, u64)>, FileError> {
        let text = match fs::read_to_string(self.meta(key)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut parts = text.split_whitespace().map(str::parse::<u64>);
        match (parts.next(), parts.next()) {
            (Some(Ok(size)), Some(Ok(durable))) if durable <= size => Ok(Some((size, durable))),
            _ => Err(FileError::new(StorageErrorKind::Corrupted)),
        }
    }

    fn remove_all(&self, key: PackageKey) -> Result<(), FileError> {
        if self.suspended.get().is_some_and(|(k, _, _)| k == key) {
            self.suspended.set(None);
        }
        for path in [self.meta(key), self.part(key), self.package_path(key)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sync_dir(&self.meta(key))?)
    }
}

/// A package being written to a `.part` file.
#[derive(Debug)]
pub struct FileWriter<'a> {
    store: &'a FileComponentStore,
    key: PackageKey,
    file: File,
    declared: u64,
    offset: u64,
    durable: u64,
    poisoned: bool,
}

impl FileWriter<'_> {
    fn sync(&mut self) -> Result<(), FileError> {
        self.file.sync_data()?;
        replace_file(
            &self.store.meta(self.key),
            format!("{} {}", self.declared, self.offset).as_bytes(),
        )?;
        self.durable = self.offset;
        Ok(())
    }
}

impl embedded_io::ErrorType for FileWriter<'_> {
    type Error = FileError;
}

impl embedded_io::Write for FileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, FileError> {
        if self.poisoned {
            return Err(FileError::new(StorageErrorKind::Poisoned));
        }
        if self.offset + buf.len() as u64 > self.declared {
            self.poisoned = true;
            return Err(FileError::new(StorageErrorKind::TooLarge));
        }
        let before = self.offset / SYNC_EVERY;
        if let Err(e) = self.file.write_all(buf) {
            self.poisoned = true;
            return Err(e.into());
        }
        self.offset += buf.len() as u64;
        if self.offset / SYNC_EVERY != before
            && let Err(e) = self.sync()
        {
            self.poisoned = true;
            return Err(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), FileError> {
        if self.poisoned {
            Err(FileError::new(StorageErrorKind::Poisoned))
        } else {
            Ok(())
        }
    }
}

impl PackageWriter for FileWriter<'_> {
    fn key(&self) -> PackageKey {
        self.key
    }

    fn declared_size(&self) -> u64 {
        self.declared
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn durable_offset(&self) -> u64 {
        self.durable
    }

    fn suspend(self) -> Result<u64, FileError> {
        if self.poisoned {
            return Err(FileError::new(StorageErrorKind::Poisoned));
        }
        self.store
            .suspended
            .set(Some((self.key, self.offset, self.durable)));
        Ok(self.durable)
    }

    fn commit(self) -> Result<PackageInfo, FileError> {
        if self.poisoned {
            return Err(FileError::new(StorageErrorKind::Poisoned));
        }
        self.file.sync_all()?;
        let (part, pkg, meta) = (
            self.store.part(self.key),
            self.store.package_path(self.key),
            self.store.meta(self.key),
        );
        fs::rename(&part, &pkg)?;
        sync_dir(&pkg)?;
        let _ = fs::remove_file(&meta);
        sync_dir(&meta)?;
        Ok(PackageInfo {
            state: PackageState::Complete,
            declared_size: self.declared,
            len: self.offset,
        })
    }

    fn abort(self) -> Result<(), FileError> {
        self.store.remove_all(self.key)
    }
}

/// A stored package being read.
#[derive(Debug)]
pub struct FileReader {
    file: File,
    size: u64,
    pos: u64,
}

impl embedded_io::ErrorType for FileReader {
    type Error = FileError;
}

impl embedded_io::Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, FileError> {
        let left = usize::try_from(self.size.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let n = self.file.read(buf.get_mut(..want).unwrap_or_default())?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl embedded_io::Seek for FileReader {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, FileError> {
        let target = match pos {
            embedded_io::SeekFrom::Start(n) => Some(n),
            embedded_io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            embedded_io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or(FileError::new(StorageErrorKind::WrongState))?;
        self.pos = self.file.seek(SeekFrom::Start(target))?;
        Ok(self.pos)
    }
}

impl PackageReader for FileReader {
    fn size(&self) -> u64 {
        self.size
    }
}

impl ComponentStore for FileComponentStore {
    type Error = FileError;
    type Writer<'a> = FileWriter<'a>;
    type Reader<'a> = FileReader;

    fn slots(&self) -> u16 {
        self.slots
    }

    fn slot_capacity(&self) -> u64 {
        self.capacity
    }

    fn begin(&mut self, key: PackageKey, declared_size: u64) -> Result<FileWriter<'_>, FileError> {
        self.check(key)?;
        if declared_size > self.capacity {
            return Err(FileError::new(StorageErrorKind::TooLarge));
        }
        self.remove_all(key)?;
        replace_file(&self.meta(key), format!("{declared_size} 0").as_bytes())?;
        let file = File::create(self.part(key))?;
        Ok(FileWriter {
            store: self,
            key,
            file,
            declared: declared_size,
            offset: 0,
            durable: 0,
            poisoned: false,
        })
    }

    fn resume(&mut self, key: PackageKey) -> Result<FileWriter<'_>, FileError> {
        self.check(key)?;
        let (declared, on_disk) = self
            .read_meta(key)?
            .ok_or(FileError::new(StorageErrorKind::NotFound))?;
        // Suspended in this process: continue at the exact offset. Otherwise (after a
        // kill or a power cut) at the durable one: bytes past it may be torn.
        let (offset, durable) = match self.suspended.take() {
            Some((k, offset, durable)) if k == key => (offset, durable),
            _ => (on_disk, on_disk),
        };
        let mut file = OpenOptions::new().write(true).open(self.part(key))?;
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(FileWriter {
            store: self,
            key,
            file,
            declared,
            offset,
            durable,
            poisoned: false,
        })
    }

    fn open(&mut self, key: PackageKey) -> Result<FileReader, FileError> {
        self.check(key)?;
        let (path, size) = match self.inspect(key)? {
            Some(PackageInfo {
                state: PackageState::Complete,
                len,
                ..
            }) => (self.package_path(key), len),
            Some(PackageInfo {
                state: PackageState::Partial,
                len,
                ..
            }) => (self.part(key), len),
            None => return Err(FileError::new(StorageErrorKind::NotFound)),
        };
        Ok(FileReader {
            file: File::open(path)?,
            size,
            pos: 0,
        })
    }

    fn inspect(&mut self, key: PackageKey) -> Result<Option<PackageInfo>, FileError> {
        self.check(key)?;
        if let Ok(m) = fs::metadata(self.package_path(key)) {
            return Ok(Some(PackageInfo {
                state: PackageState::Complete,
                declared_size: m.len(),
                len: m.len(),
            }));
        }
        Ok(self.read_meta(key)?.map(|(declared, durable)| PackageInfo {
            state: PackageState::Partial,
            declared_size: declared,
            len: durable,
        }))
    }

    fn delete(&mut self, key: PackageKey) -> Result<(), FileError> {
        self.check(key)?;
        self.remove_all(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_io::{Read as _, Write as _};

    #[test]
    fn records_round_trip_and_enumerate_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStateStore::open(dir.path()).unwrap();
        s.write(RecordId(7), b"seven").unwrap();
        s.write(RecordId(2), b"two").unwrap();
        s.write(RecordId(7), b"SEVEN").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(s.read(RecordId(7), &mut buf).unwrap(), Some(5));
        assert_eq!(&buf[..5], b"SEVEN");
        assert_eq!(s.next_id(None).unwrap(), Some(RecordId(2)));
        assert_eq!(s.next_id(Some(RecordId(2))).unwrap(), Some(RecordId(7)));
        assert_eq!(s.next_id(Some(RecordId(7))).unwrap(), None);
        s.delete(RecordId(2)).unwrap();
        assert_eq!(s.read(RecordId(2), &mut buf).unwrap(), None);
        assert_eq!(
            s.read(RecordId(7), &mut [0u8; 2]).unwrap_err().kind,
            StorageErrorKind::BufferTooSmall
        );
    }

    #[test]
    fn a_package_resumes_from_its_durable_offset_after_the_writer_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        {
            let mut s = FileComponentStore::open(dir.path(), 2, 1 << 20).unwrap();
            let mut w = s.begin(PackageKey(1), data.len() as u64).unwrap();
            for chunk in data[..150_000].chunks(4096) {
                w.write_all(chunk).unwrap();
            }
            // Synced when a write reached 128 KiB.
            assert_eq!(w.durable_offset(), 131_072);
            // The process dies here: the writer is dropped without suspend or commit.
        }
        let mut s = FileComponentStore::open(dir.path(), 2, 1 << 20).unwrap();
        let info = s.inspect(PackageKey(1)).unwrap().unwrap();
        assert_eq!((info.state, info.len), (PackageState::Partial, 131_072));
        let mut w = s.resume(PackageKey(1)).unwrap();
        assert_eq!(w.offset(), 131_072);
        w.write_all(&data[131_072..]).unwrap();
        let info = w.commit().unwrap();
        assert_eq!((info.state, info.len), (PackageState::Complete, 200_000));
        let mut r = s.open(PackageKey(1)).unwrap();
        let mut back = vec![0u8; 200_000];
        r.read_exact(&mut back).unwrap();
        assert_eq!(back, data);
        s.delete(PackageKey(1)).unwrap();
        assert_eq!(s.inspect(PackageKey(1)).unwrap(), None);
    }

    #[test]
    fn a_suspended_writer_resumes_at_its_exact_offset_in_the_same_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileComponentStore::open(dir.path(), 1, 1 << 20).unwrap();
        let mut w = s.begin(PackageKey(0), 10).unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.suspend().unwrap(), 0, "nothing synced yet");
        let mut w = s.resume(PackageKey(0)).unwrap();
        assert_eq!(w.offset(), 5);
        w.write_all(b"world").unwrap();
        w.commit().unwrap();
        let mut back = [0u8; 10];
        s.open(PackageKey(0))
            .unwrap()
            .read_exact(&mut back)
            .unwrap();
        assert_eq!(&back, b"helloworld");
    }

    #[test]
    fn writing_past_the_declared_size_poisons_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileComponentStore::open(dir.path(), 1, 100).unwrap();
        assert_eq!(
            s.begin(PackageKey(0), 101).unwrap_err().kind,
            StorageErrorKind::TooLarge
        );
        assert_eq!(
            s.begin(PackageKey(1), 1).unwrap_err().kind,
            StorageErrorKind::InvalidKey
        );
        let mut w = s.begin(PackageKey(0), 4).unwrap();
        assert_eq!(
            w.write(b"12345").unwrap_err().kind,
            StorageErrorKind::TooLarge
        );
        assert_eq!(w.write(b"1").unwrap_err().kind, StorageErrorKind::Poisoned);
        w.abort().unwrap();
        assert_eq!(s.inspect(PackageKey(0)).unwrap(), None);
    }
}
