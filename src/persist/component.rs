//! [`ComponentStore`] over any NOR flash: one slot per key, page-granular durable progress.

use embedded_io::{ErrorType, SeekFrom};
use embedded_storage::nor_flash::NorFlash;

use super::crc::crc32;
use super::nor::{self, CHUNK, NorStoreError, flash_error, round_up};
use crate::platform::{
    ComponentStore, PackageInfo, PackageKey, PackageReader, PackageState, PackageWriter,
    StorageErrorKind,
};

/// Begin record magic, `"SCPK"`.
const BEGIN_MAGIC: [u8; 4] = *b"SCPK";
/// Commit record magic, `"SCOK"`.
const COMMIT_MAGIC: [u8; 4] = *b"SCOK";
/// Version of this layout.
const LAYOUT: u8 = 1;
/// Begin record bytes before padding.
const BEGIN: usize = 24;
/// Commit record bytes before padding.
const COMMIT: usize = 16;

/// A suspended writer's state, kept in RAM until the same key is resumed.
#[derive(Debug, Clone, Copy)]
struct Parked {
    key: u16,
    declared: u64,
    programmed: u64,
    tail: [u8; CHUNK],
    tail_len: usize,
    page_ready: bool,
}

/// What the meta page of a slot says.
#[derive(Debug, Clone, Copy)]
struct Meta {
    declared: u64,
    committed: Option<u64>,
    durable: u64,
}

impl Meta {
    fn info(&self) -> PackageInfo {
        match self.committed {
            Some(len) => PackageInfo {
                state: PackageState::Complete,
                declared_size: self.declared,
                len,
            },
            None => PackageInfo {
                state: PackageState::Partial,
                declared_size: self.declared,
                len: self.durable,
            },
        }
    }
}

/// A [`ComponentStore`] over a NOR flash (or a [`Partition`](super::Partition) of one).
///
/// # Layout
///
/// The flash is cut into `slots` equal slots of whole erase pages; key `k` owns slot `k`.
/// The first page of a slot is its meta page, the others hold the package bytes in order
/// (package offset `x` lives at slot offset `ERASE_SIZE + x`). The meta page holds, each
/// field padded to `WRITE_SIZE`:
///
/// | Meta offset | Bytes | Field |
/// |---|---|---|
/// | 0 | 24 | begin record: `"SCPK"`, layout 1, 0, key (u16 LE), declared size (u64 LE), 4 zero bytes, CRC-32 of the 20 bytes before |
/// | 24 (padded) | `WRITE_SIZE` each | one progress marker per data page: programmed (any byte not erased) once that page is full |
/// | after the markers | 16 (padded) each | commit slots, to the end of the page: `"SCOK"`, length (u64 LE), CRC-32 of the 12 bytes before |
///
/// # Algorithm and power loss
///
/// - **begin**: erase the meta page, program the begin record. A slot whose begin record
///   fails its CRC holds nothing.
/// - **write**: bytes are programmed as they arrive, in runs of whole write units straight
///   from the caller's buffer (the last partial unit waits in RAM). A data page is erased
///   just before its first unit is programmed; when it is full, its marker is programmed.
///   Each payload byte is programmed once, and each page erased once.
/// - **durable offset**: the number of leading programmed markers, in pages. A marker is
///   programmed only after its page is complete, so a torn marker still marks a complete
///   page. [`resume`](ComponentStore::resume) after a reboot restarts at the durable
///   offset: it erases that one page and writes it again.
/// - **commit**: program the last (padded) unit, then a commit record into the first erased
///   commit slot. The package is complete once a slot holds an intact record. A torn commit
///   record fails its CRC: the package is still partial and resumable, and the next commit
///   uses the next slot (commit fails with `Corrupted` once every slot holds a torn record:
///   that takes one cut inside every commit attempt; begin the package again then).
/// - **abort / delete**: erase the meta page; the data pages are left for the next begin.
///
/// On real flash a torn marker may read as erased; the page is then written again and its
/// marker programmed a second time with the same value, which NOR flash tolerates.
///
/// # Geometry
///
/// `WRITE_SIZE` and `READ_SIZE` must divide 64; each slot needs a meta page and at least one
/// data page; the meta page must hold the begin record, one write unit per data page and
/// two commit slots. Otherwise [`new`](Self::new) fails with [`NorStoreError::Geometry`].
#[derive(Debug)]
pub struct NorComponentStore<F> {
    flash: F,
    erased: u8,
    slots: u16,
    slot_size: u32,
    parked: Option<Parked>,
}

impl<F: NorFlash> NorComponentStore<F> {
    const WRITE: usize = F::WRITE_SIZE;
    const PAGE: usize = F::ERASE_SIZE;
    const BEGIN_SIZE: usize = round_up(BEGIN, F::WRITE_SIZE);
    const COMMIT_SIZE: usize = round_up(COMMIT, F::WRITE_SIZE);

    /// A store of `slots` keys on `flash`, whose erased bytes read `erased`. Reads nothing:
    /// what exists is found with [`inspect`](ComponentStore::inspect).
    pub fn new(flash: F, slots: u16, erased: u8) -> Result<Self, NorStoreError> {
        nor::check_geometry::<F>()?;
        let page = Self::PAGE;
        let slot_size = flash
            .capacity()
            .checked_div(usize::from(slots))
            .map(|s| s / page * page)
            .ok_or(NorStoreError::Geometry)?;
        let data_pages = (slot_size / page).saturating_sub(1);
        let meta_needed = Self::BEGIN_SIZE + data_pages * Self::WRITE + 2 * Self::COMMIT_SIZE;
        if data_pages == 0 || meta_needed > page {
            return Err(NorStoreError::Geometry);
        }
        let slot_size = u32::try_from(slot_size).map_err(|_| NorStoreError::Geometry)?;
        Ok(Self {
            flash,
            erased,
            slots,
            slot_size,
            parked: None,
        })
    }

    /// Gives the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    fn check_key(&self, key: PackageKey) -> Result<u16, NorStoreError> {
        if key.0 < self.slots {
            Ok(key.0)
        } else {
            Err(StorageErrorKind::InvalidKey.into())
        }
    }

    fn meta_base(&self, key: u16) -> u32 {
        // key < slots and slots * slot_size <= capacity, checked in `new`.
        u32::from(key) * self.slot_size
    }

    fn data_base(&self, key: u16) -> u32 {
        self.meta_base(key) + Self::PAGE as u32
    }

    fn marker_base(&self, key: u16, page: u64) -> Result<u32, NorStoreError> {
        let offset = usize::try_from(page)
            .ok()
            .and_then(|p| p.checked_mul(Self::WRITE))
            .ok_or(StorageErrorKind::Corrupted)?;
        nor::addr(self.meta_base(key), Self::BEGIN_SIZE + offset)
    }

    fn data_pages(&self) -> u64 {
        u64::from(self.slot_size) / Self::PAGE as u64 - 1
    }

    /// Meta page offset of the first commit slot.
    fn commit_base(&self) -> usize {
        // data_pages * WRITE fits in a page: checked in `new`.
        Self::BEGIN_SIZE + self.data_pages() as usize * Self::WRITE
    }

    /// How many commit slots the meta page has (at least 2, checked in `new`).
    fn commit_slots(&self) -> usize {
        (Self::PAGE - self.commit_base()) / Self::COMMIT_SIZE
    }

    /// Reads commit slot `index` of `key`: the committed length if the slot holds an
    /// intact record, `Err(true)` if it is erased, `Err(false)` if it holds a torn write.
    fn commit_slot(&mut self, key: u16, index: usize) -> Result<Result<u64, bool>, NorStoreError> {
        let at = nor::addr(
            self.meta_base(key),
            self.commit_base() + index * Self::COMMIT_SIZE,
        )?;
        let mut raw = [0u8; CHUNK];
        let raw = raw
            .get_mut(..Self::COMMIT_SIZE)
            .ok_or(NorStoreError::Geometry)?;
        nor::read(&mut self.flash, at, raw)?;
        if raw.iter().all(|&b| b == self.erased) {
            return Ok(Err(true));
        }
        let intact =
            raw.get(..4) == Some(&COMMIT_MAGIC[..]) && raw.get(..12).map(crc32) == le_u32(raw, 12);
        Ok(match le_u64(raw, 4) {
            Some(len) if intact => Ok(len),
            _ => Err(false),
        })
    }

    /// Reads the meta page of `key`: `None` when its begin record is not intact.
    fn meta(&mut self, key: u16) -> Result<Option<Meta>, NorStoreError> {
        let base = self.meta_base(key);
        let mut begin = [0u8; BEGIN];
        nor::read(&mut self.flash, base, &mut begin)?;
        let intact = begin.get(..4) == Some(&BEGIN_MAGIC[..])
            && begin.get(4) == Some(&LAYOUT)
            && le_u16(&begin, 6) == Some(key)
            && begin.get(..BEGIN - 4).map(crc32) == le_u32(&begin, BEGIN - 4);
        let Some(declared) = le_u64(&begin, 8).filter(|_| intact) else {
            return Ok(None);
        };
        if declared > self.slot_capacity() {
            return Err(StorageErrorKind::Corrupted.into());
        }
        // The first intact commit record; torn ones (cut during a commit) are skipped.
        let mut committed = None;
        for index in 0..self.commit_slots() {
            match self.commit_slot(key, index)? {
                Ok(len) if len <= declared => {
                    committed = Some(len);
                    break;
                }
                Ok(_) => return Err(StorageErrorKind::Corrupted.into()),
                Err(true) => break,
                Err(false) => {}
            }
        }
        // Whole pages only, and never past the declared size.
        let limit = (declared / Self::PAGE as u64).min(self.data_pages());
        let mut pages = 0;
        while pages < limit {
            let mut marker = [0u8; CHUNK];
            let marker = marker
                .get_mut(..Self::WRITE)
                .ok_or(NorStoreError::Geometry)?;
            let at = self.marker_base(key, pages)?;
            nor::read(&mut self.flash, at, marker)?;
            if marker.iter().all(|&b| b == self.erased) {
                break;
            }
            pages += 1;
        }
        Ok(Some(Meta {
            declared,
            committed,
            durable: pages * Self::PAGE as u64,
        }))
    }

    /// Erases the meta page of `key`: the slot holds nothing afterwards.
    fn clear(&mut self, key: u16) -> Result<(), NorStoreError> {
        if self.parked.is_some_and(|p| p.key == key) {
            self.parked = None;
        }
        let base = self.meta_base(key);
        self.flash
            .erase(base, base + Self::PAGE as u32)
            .map_err(flash_error)
    }
}

impl<F: NorFlash> ComponentStore for NorComponentStore<F> {
    type Error = NorStoreError;
    type Writer<'a>
        = NorPackageWriter<'a, F>
    where
        Self: 'a;
    type Reader<'a>
        = NorPackageReader<'a, F>
    where
        Self: 'a;

    fn slots(&self) -> u16 {
        self.slots
    }

    fn slot_capacity(&self) -> u64 {
        self.data_pages() * Self::PAGE as u64
    }

    fn begin(
        &mut self,
        key: PackageKey,
        declared_size: u64,
    ) -> Result<Self::Writer<'_>, Self::Error> {
        let key = self.check_key(key)?;
        if declared_size > self.slot_capacity() {
            return Err(StorageErrorKind::TooLarge.into());
        }
        self.clear(key)?;
        let [k0, k1] = key.to_le_bytes();
        let [d0, d1, d2, d3, d4, d5, d6, d7] = declared_size.to_le_bytes();
        let [m0, m1, m2, m3] = BEGIN_MAGIC;
        let body = [
            m0, m1, m2, m3, LAYOUT, 0, k0, k1, d0, d1, d2, d3, d4, d5, d6, d7, 0, 0, 0, 0,
        ];
        let [c0, c1, c2, c3] = crc32(&body).to_le_bytes();
        let mut record = [self.erased; CHUNK];
        if let Some(r) = record.get_mut(..BEGIN) {
            r.copy_from_slice(&[
                m0, m1, m2, m3, LAYOUT, 0, k0, k1, d0, d1, d2, d3, d4, d5, d6, d7, 0, 0, 0, 0, c0,
                c1, c2, c3,
            ]);
        }
        let record = record
            .get(..Self::BEGIN_SIZE)
            .ok_or(NorStoreError::Geometry)?;
        let base = self.meta_base(key);
        self.flash.write(base, record).map_err(flash_error)?;
        Ok(NorPackageWriter {
            store: self,
            key,
            declared: declared_size,
            programmed: 0,
            tail: [0; CHUNK],
            tail_len: 0,
            page_ready: false,
            poisoned: false,
        })
    }

    fn resume(&mut self, key: PackageKey) -> Result<Self::Writer<'_>, Self::Error> {
        let key = self.check_key(key)?;
        if let Some(parked) = self.parked.filter(|p| p.key == key) {
            self.parked = None;
            return Ok(NorPackageWriter {
                store: self,
                key,
                declared: parked.declared,
                programmed: parked.programmed,
                tail: parked.tail,
                tail_len: parked.tail_len,
                page_ready: parked.page_ready,
                poisoned: false,
            });
        }
        let meta = self.meta(key)?.ok_or(StorageErrorKind::NotFound)?;
        if meta.committed.is_some() {
            return Err(StorageErrorKind::WrongState.into());
        }
        Ok(NorPackageWriter {
            store: self,
            key,
            declared: meta.declared,
            programmed: meta.durable,
            tail: [0; CHUNK],
            tail_len: 0,
            // The page at the durable offset may hold bytes of the interrupted run.
            page_ready: false,
            poisoned: false,
        })
    }

    fn open(&mut self, key: PackageKey) -> Result<Self::Reader<'_>, Self::Error> {
        let key = self.check_key(key)?;
        let meta = self.meta(key)?.ok_or(StorageErrorKind::NotFound)?;
        Ok(NorPackageReader {
            base: self.data_base(key),
            store: self,
            size: meta.info().len,
            position: 0,
        })
    }

    fn inspect(&mut self, key: PackageKey) -> Result<Option<PackageInfo>, Self::Error> {
        let key = self.check_key(key)?;
        Ok(self.meta(key)?.map(|meta| meta.info()))
    }

    fn delete(&mut self, key: PackageKey) -> Result<(), Self::Error> {
        let key = self.check_key(key)?;
        if self.parked.is_some_and(|p| p.key == key) {
            self.parked = None;
        }
        if self.meta(key)?.is_some() {
            self.clear(key)?;
        }
        Ok(())
    }
}

/// The writer of [`NorComponentStore`]; see [`PackageWriter`].
#[derive(Debug)]
pub struct NorPackageWriter<'a, F> {
    store: &'a mut NorComponentStore<F>,
    key: u16,
    declared: u64,
    /// Bytes on flash: a multiple of the write size.
    programmed: u64,
    /// The last partial write unit, waiting for more bytes.
    tail: [u8; CHUNK],
    tail_len: usize,
    /// Whether the page at `programmed` was erased by this writer (mid-page it always is).
    page_ready: bool,
    poisoned: bool,
}

impl<F: NorFlash> NorPackageWriter<'_, F> {
    const WRITE: usize = F::WRITE_SIZE;
    const PAGE: u64 = F::ERASE_SIZE as u64;

    /// Programs `run` (whole write units, not crossing a page end) at `programmed`: erases
    /// the page first when entering it, programs its marker when leaving it full.
    fn program(&mut self, run: &[u8]) -> Result<(), NorStoreError> {
        let store = &mut *self.store;
        let page = self.programmed / Self::PAGE;
        let data = store.data_base(self.key);
        if self.programmed.is_multiple_of(Self::PAGE) && !self.page_ready {
            let start = nor::addr(data, usize::try_from(self.programmed).unwrap_or(usize::MAX))?;
            let end = nor::addr(start, F::ERASE_SIZE)?;
            store.flash.erase(start, end).map_err(flash_error)?;
            self.page_ready = true;
        }
        let at = nor::addr(data, usize::try_from(self.programmed).unwrap_or(usize::MAX))?;
        store.flash.write(at, run).map_err(flash_error)?;
        self.programmed += run.len() as u64;
        if self.programmed.is_multiple_of(Self::PAGE) {
            let marker = [!store.erased; CHUNK];
            let marker = marker.get(..Self::WRITE).ok_or(NorStoreError::Geometry)?;
            let at = store.marker_base(self.key, page)?;
            store.flash.write(at, marker).map_err(flash_error)?;
            self.page_ready = false;
        }
        Ok(())
    }

    fn guarded<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, NorStoreError>,
    ) -> Result<T, NorStoreError> {
        if self.poisoned {
            return Err(StorageErrorKind::Poisoned.into());
        }
        let result = work(self);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn accept(&mut self, buf: &[u8]) -> Result<(), NorStoreError> {
        let end = self
            .offset()
            .checked_add(buf.len() as u64)
            .ok_or(StorageErrorKind::TooLarge)?;
        if end > self.declared {
            return Err(StorageErrorKind::TooLarge.into());
        }
        let mut rest = buf;
        if self.tail_len > 0 {
            let take = (Self::WRITE - self.tail_len).min(rest.len());
            let (head, after) = rest.split_at(take);
            if let Some(slot) = self.tail.get_mut(self.tail_len..self.tail_len + take) {
                slot.copy_from_slice(head);
            }
            self.tail_len += take;
            rest = after;
            if self.tail_len == Self::WRITE {
                let unit = self.tail;
                self.tail_len = 0;
                self.program(unit.get(..Self::WRITE).ok_or(NorStoreError::Geometry)?)?;
            }
        }
        while rest.len() >= Self::WRITE {
            let room =
                usize::try_from(Self::PAGE - self.programmed % Self::PAGE).unwrap_or(usize::MAX);
            let n = room.min(rest.len() - rest.len() % Self::WRITE);
            let (run, after) = rest.split_at(n);
            self.program(run)?;
            rest = after;
        }
        // Fewer bytes than a write unit are left; the tail is empty here unless `rest` is.
        if !rest.is_empty()
            && let Some(slot) = self.tail.get_mut(..rest.len())
        {
            slot.copy_from_slice(rest);
            self.tail_len = rest.len();
        }
        Ok(())
    }
}

impl<F: NorFlash> ErrorType for NorPackageWriter<'_, F> {
    type Error = NorStoreError;
}

impl<F: NorFlash> embedded_io::Write for NorPackageWriter<'_, F> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.guarded(|writer| writer.accept(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.guarded(|_| Ok(()))
    }
}

impl<F: NorFlash> PackageWriter for NorPackageWriter<'_, F> {
    fn key(&self) -> PackageKey {
        PackageKey(self.key)
    }

    fn declared_size(&self) -> u64 {
        self.declared
    }

    fn offset(&self) -> u64 {
        self.programmed + self.tail_len as u64
    }

    fn durable_offset(&self) -> u64 {
        self.programmed / Self::PAGE * Self::PAGE
    }

    fn suspend(mut self) -> Result<u64, Self::Error> {
        self.guarded(|_| Ok(()))?;
        self.store.parked = Some(Parked {
            key: self.key,
            declared: self.declared,
            programmed: self.programmed,
            tail: self.tail,
            tail_len: self.tail_len,
            page_ready: self.page_ready,
        });
        Ok(self.durable_offset())
    }

    fn commit(mut self) -> Result<PackageInfo, Self::Error> {
        self.guarded(|writer| {
            let len = writer.offset();
            if writer.tail_len > 0 {
                let mut unit = [writer.store.erased; CHUNK];
                if let (Some(to), Some(from)) = (
                    unit.get_mut(..writer.tail_len),
                    writer.tail.get(..writer.tail_len),
                ) {
                    to.copy_from_slice(from);
                }
                writer.tail_len = 0;
                writer.program(unit.get(..Self::WRITE).ok_or(NorStoreError::Geometry)?)?;
            }
            let [m0, m1, m2, m3] = COMMIT_MAGIC;
            let [l0, l1, l2, l3, l4, l5, l6, l7] = len.to_le_bytes();
            let body = [m0, m1, m2, m3, l0, l1, l2, l3, l4, l5, l6, l7];
            let [c0, c1, c2, c3] = crc32(&body).to_le_bytes();
            let mut record = [writer.store.erased; CHUNK];
            if let Some(r) = record.get_mut(..COMMIT) {
                r.copy_from_slice(&[
                    m0, m1, m2, m3, l0, l1, l2, l3, l4, l5, l6, l7, c0, c1, c2, c3,
                ]);
            }
            let size = NorComponentStore::<F>::COMMIT_SIZE;
            let record = record.get(..size).ok_or(NorStoreError::Geometry)?;
            // The first erased commit slot: earlier ones hold torn commits.
            let store = &mut *writer.store;
            let mut free = None;
            for index in 0..store.commit_slots() {
                if store.commit_slot(writer.key, index)? == Err(true) {
                    free = Some(index);
                    break;
                }
            }
            let index = free.ok_or(StorageErrorKind::Corrupted)?;
            let at = nor::addr(
                store.meta_base(writer.key),
                store.commit_base() + index * size,
            )?;
            store.flash.write(at, record).map_err(flash_error)?;
            Ok(PackageInfo {
                state: PackageState::Complete,
                declared_size: writer.declared,
                len,
            })
        })
    }

    fn abort(self) -> Result<(), Self::Error> {
        self.store.clear(self.key)
    }
}

/// The reader of [`NorComponentStore`]; see [`PackageReader`].
#[derive(Debug)]
pub struct NorPackageReader<'a, F> {
    store: &'a mut NorComponentStore<F>,
    base: u32,
    size: u64,
    position: u64,
}

impl<F: NorFlash> ErrorType for NorPackageReader<'_, F> {
    type Error = NorStoreError;
}

impl<F: NorFlash> embedded_io::Read for NorPackageReader<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let left = self.size.saturating_sub(self.position);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let Some(target) = buf.get_mut(..n) else {
            return Ok(0);
        };
        if n == 0 {
            return Ok(0);
        }
        let offset = usize::try_from(self.position).map_err(|_| StorageErrorKind::Corrupted)?;
        nor::read(&mut self.store.flash, nor::addr(self.base, offset)?, target)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl<F: NorFlash> embedded_io::Seek for NorPackageReader<'_, F> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Self::Error> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = target.ok_or(StorageErrorKind::Other)?;
        Ok(self.position)
    }
}

impl<F: NorFlash> PackageReader for NorPackageReader<'_, F> {
    fn size(&self) -> u64 {
        self.size
    }
}

/// The little-endian `u16` at `at`.
fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// The little-endian `u32` at `at`.
fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The little-endian `u64` at `at`.
fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}
