//! [`StateStore`] over any NOR flash: two banks, an append log in the active one.

use embedded_storage::nor_flash::NorFlash;

use super::crc::{Crc32, crc32};
use super::nor::{self, CHUNK, NorStoreError, flash_error, round_up};
use crate::platform::{RecordId, StateStore, StorageErrorKind};

/// Bank header magic, `"SCST"`.
const BANK_MAGIC: [u8; 4] = *b"SCST";
/// Version of this layout.
const LAYOUT: u8 = 1;
/// Bank header bytes before padding: magic, layout, 3 zero bytes, generation, CRC.
const BANK_HEADER: usize = 16;
/// Record header magic.
const RECORD_MAGIC: u8 = 0xA7;
/// Record header bytes before padding: magic, kind, id, length, 2 zero bytes, CRC.
const RECORD_HEADER: usize = 12;
/// The record header bytes its CRC covers (the CRC also covers the payload).
const RECORD_COVERED: usize = 8;
/// Record kind: a value.
const VALUE: u8 = 1;
/// Record kind: a deletion.
const TOMBSTONE: u8 = 2;

/// One of the two banks and its generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bank {
    index: u8,
    generation: u32,
}

/// What the store knows in RAM, rebuilt from flash by `mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    /// The bank holding the records; `None` on a blank (never written) store.
    active: Option<Bank>,
    /// Bank offset just after the last trusted record.
    end: usize,
    /// Whether `[end, bank end)` is erased, so records may be appended at `end`.
    open: bool,
}

/// A record header found in the active bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    offset: usize,
    id: u16,
    kind: u8,
    len: usize,
}

/// What lies at a bank offset.
enum Slot {
    /// Erased: the log ends here.
    End,
    /// A record whose header (and, when checked, CRC) holds.
    Record(Record),
    /// Anything else: a torn or foreign write. The log ends here and is closed.
    Bad,
}

/// A change [`NorStateStore`] carries into a compaction.
#[derive(Clone, Copy)]
enum Change<'a> {
    Write(RecordId, &'a [u8]),
    Delete(RecordId),
}

impl Change<'_> {
    fn id(&self) -> RecordId {
        match self {
            Self::Write(id, _) | Self::Delete(id) => *id,
        }
    }
}

/// A [`StateStore`] over a NOR flash (or a [`Partition`](super::Partition) of one).
///
/// # Layout
///
/// The flash is split into two banks of `capacity / 2` bytes, rounded down to whole erase
/// pages. One bank is active, the other stale. A bank is a header followed by records
/// appended one after the other (every offset a multiple of `WRITE_SIZE`; headers padded
/// with the erased value):
///
/// | Bank offset | Bytes | Field |
/// |---|---|---|
/// | 0 | 16 | bank header: `"SCST"`, layout 1, 3 zero bytes, generation (u32 LE), CRC-32 of the 12 bytes before |
/// | 16 (padded) | 12 | record header: `0xA7`, kind (1 value, 2 deletion), id (u16 LE), length (u16 LE), 2 zero bytes, CRC-32 of the first 8 header bytes and the payload |
/// | +12 (padded) | length (padded) | payload |
///
/// A bank is valid when its header is; the valid bank with the newer generation is active.
/// The value of a record is the last intact record with its id in the active bank.
///
/// # Algorithm and power loss
///
/// - **Append** (the usual write): when the active bank has room after its last record,
///   program the record header, then the payload. A cut leaves a record whose CRC fails:
///   it is ignored, the log is closed there, and the old value stands.
/// - **Compact** (when the bank is full or closed): erase the stale bank, copy into it the
///   latest record of every live id except the one changing, append the new value (or
///   nothing, for a delete), and program the bank header with the next generation last.
///   Programming the header is the commit point: before it the old bank is active and whole;
///   after it the new one is.
/// - **Mount** only reads: it picks the active bank, walks its records checking every CRC,
///   and appends later only if everything after the last good record is still erased.
///
/// So after a cut in any operation, every record reads back as its old or its new value.
/// The payload of an appended record is programmed once, in one run; a compaction programs
/// the live records again.
///
/// # Size
///
/// A record holds at most [`max_record_len`](StateStore::max_record_len) bytes
/// (`bank − 16 − 12` rounded to the write size, at most 65535). All live records, each
/// taking `12 + length` bytes rounded up to `WRITE_SIZE`, must fit in one bank together;
/// otherwise `write` fails with `NoSpace` and nothing changes.
///
/// # Geometry
///
/// `WRITE_SIZE` and `READ_SIZE` must divide 64, and each bank must hold at least one erase
/// page; otherwise [`mount`](Self::mount) fails with [`NorStoreError::Geometry`].
#[derive(Debug)]
pub struct NorStateStore<F> {
    flash: F,
    erased: u8,
    bank_size: usize,
    /// `None` after a failed mutation: the next call mounts again from flash.
    view: Option<View>,
}

impl<F: NorFlash> NorStateStore<F> {
    const WRITE: usize = F::WRITE_SIZE;
    const BANK_HEADER_SIZE: usize = round_up(BANK_HEADER, F::WRITE_SIZE);
    const RECORD_HEADER_SIZE: usize = round_up(RECORD_HEADER, F::WRITE_SIZE);

    /// Opens the store on `flash`, whose erased bytes read `erased` (`0xFF` for most NOR
    /// flash, `0x00` for some). A blank flash is an empty store.
    ///
    /// # Power loss
    ///
    /// Mounting only reads, so a cut during it changes nothing.
    pub fn mount(flash: F, erased: u8) -> Result<Self, NorStoreError> {
        nor::check_geometry::<F>()?;
        let erase = F::ERASE_SIZE;
        let bank_size = (flash.capacity() / 2) / erase * erase;
        if bank_size < erase
            || bank_size < Self::BANK_HEADER_SIZE + Self::RECORD_HEADER_SIZE + Self::WRITE
            || u32::try_from(bank_size * 2).is_err()
        {
            return Err(NorStoreError::Geometry);
        }
        let mut store = Self {
            flash,
            erased,
            bank_size,
            view: None,
        };
        store.view()?;
        Ok(store)
    }

    /// Gives the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    fn bank_base(&self, index: u8) -> u32 {
        // Both banks fit in u32: checked in `mount`.
        (usize::from(index) * self.bank_size) as u32
    }

    /// Footprint of a record with a payload of `len` bytes.
    fn footprint(len: usize) -> usize {
        Self::RECORD_HEADER_SIZE + round_up(len, Self::WRITE)
    }

    /// The RAM view, mounting from flash when there is none.
    fn view(&mut self) -> Result<View, NorStoreError> {
        if let Some(view) = self.view {
            return Ok(view);
        }
        let view = self.load()?;
        self.view = Some(view);
        Ok(view)
    }

    /// Reads both bank headers and walks the active bank, checking every record.
    fn load(&mut self) -> Result<View, NorStoreError> {
        let mut active: Option<Bank> = None;
        for index in 0..2 {
            if let Some(generation) = self.bank_generation(index)? {
                let newer = match active {
                    None => true,
                    // Serial-number order: survives the (theoretical) wrap of the counter.
                    Some(bank) => generation.wrapping_sub(bank.generation) as i32 > 0,
                };
                if newer {
                    active = Some(Bank { index, generation });
                }
            }
        }
        let Some(bank) = active else {
            return Ok(View {
                active: None,
                end: 0,
                open: false,
            });
        };
        let mut offset = Self::BANK_HEADER_SIZE;
        loop {
            match self.slot(bank.index, offset, true)? {
                Slot::Record(record) => offset += Self::footprint(record.len),
                Slot::End => {
                    let base = nor::addr(self.bank_base(bank.index), offset)?;
                    let rest = self.bank_size - offset;
                    let open = nor::is_erased(&mut self.flash, base, rest, self.erased)?;
                    return Ok(View {
                        active,
                        end: offset,
                        open,
                    });
                }
                Slot::Bad => {
                    return Ok(View {
                        active,
                        end: offset,
                        open: false,
                    });
                }
            }
        }
    }

    /// The generation of bank `index` if its header is intact.
    fn bank_generation(&mut self, index: u8) -> Result<Option<u32>, NorStoreError> {
        let mut raw = [0u8; BANK_HEADER];
        let at = self.bank_base(index);
        nor::read(&mut self.flash, at, &mut raw)?;
        let (body, crc) = raw.split_at(BANK_HEADER - 4);
        let mut sum = Crc32::new();
        sum.update(body);
        let intact = body.get(..4) == Some(&BANK_MAGIC[..])
            && body.get(4..8) == Some(&[LAYOUT, 0, 0, 0][..])
            && crc == sum.finish().to_le_bytes();
        Ok(body
            .get(8..12)
            .and_then(|g| <[u8; 4]>::try_from(g).ok())
            .filter(|_| intact)
            .map(u32::from_le_bytes))
    }

    /// Parses what lies at `offset` of bank `index`; with `check`, reads the payload and
    /// checks the CRC too.
    fn slot(&mut self, index: u8, offset: usize, check: bool) -> Result<Slot, NorStoreError> {
        if offset + Self::RECORD_HEADER_SIZE > self.bank_size {
            return Ok(Slot::End);
        }
        let base = self.bank_base(index);
        let mut raw = [0u8; RECORD_HEADER];
        nor::read(&mut self.flash, nor::addr(base, offset)?, &mut raw)?;
        if raw.iter().all(|&b| b == self.erased)
            && nor::is_erased(
                &mut self.flash,
                nor::addr(base, offset)?,
                Self::RECORD_HEADER_SIZE,
                self.erased,
            )?
        {
            return Ok(Slot::End);
        }
        let [magic, kind, i0, i1, l0, l1, z0, z1, c0, c1, c2, c3] = raw;
        let record = Record {
            offset,
            id: u16::from_le_bytes([i0, i1]),
            kind,
            len: usize::from(u16::from_le_bytes([l0, l1])),
        };
        let fits = offset + Self::footprint(record.len) <= self.bank_size;
        let shaped = magic == RECORD_MAGIC
            && (kind == VALUE || (kind == TOMBSTONE && record.len == 0))
            && [z0, z1] == [0, 0];
        if !fits || !shaped {
            return Ok(Slot::Bad);
        }
        if check {
            let mut sum = Crc32::new();
            sum.update(raw.get(..RECORD_COVERED).unwrap_or(&[]));
            let mut buf = [0u8; CHUNK];
            let payload = nor::addr(base, offset + Self::RECORD_HEADER_SIZE)?;
            let mut done = 0;
            while done < record.len {
                let n = (record.len - done).min(CHUNK);
                let window = buf.get_mut(..n).ok_or(NorStoreError::Geometry)?;
                nor::read(&mut self.flash, nor::addr(payload, done)?, window)?;
                sum.update(window);
                done += n;
            }
            if sum.finish() != u32::from_le_bytes([c0, c1, c2, c3]) {
                return Ok(Slot::Bad);
            }
        }
        Ok(Slot::Record(record))
    }

    /// The trusted record at `offset` (before `view.end`) of the active bank.
    fn record_at(&mut self, bank: u8, offset: usize) -> Result<Record, NorStoreError> {
        match self.slot(bank, offset, false)? {
            Slot::Record(record) => Ok(record),
            // Flash changed under a mounted store.
            Slot::End | Slot::Bad => Err(StorageErrorKind::Corrupted.into()),
        }
    }

    /// Calls `visit` for every trusted record of the active bank, in order; stops early
    /// when `visit` returns `false`.
    fn walk(
        &mut self,
        view: View,
        mut visit: impl FnMut(&mut Self, Record) -> Result<bool, NorStoreError>,
    ) -> Result<(), NorStoreError> {
        let Some(bank) = view.active else {
            return Ok(());
        };
        let mut offset = Self::BANK_HEADER_SIZE;
        while offset < view.end {
            let record = self.record_at(bank.index, offset)?;
            if !visit(self, record)? {
                break;
            }
            offset += Self::footprint(record.len);
        }
        Ok(())
    }

    /// The last record with `id` in the active bank.
    fn latest(&mut self, view: View, id: u16) -> Result<Option<Record>, NorStoreError> {
        let mut found = None;
        self.walk(view, |_, record| {
            if record.id == id {
                found = Some(record);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Whether `record` is the last value of its id (not superseded, not deleted).
    fn is_live(&mut self, view: View, record: Record) -> Result<bool, NorStoreError> {
        Ok(record.kind == VALUE && self.latest(view, record.id)? == Some(record))
    }

    /// Programs one record at `offset` of bank `index`: header, then payload.
    fn append(
        &mut self,
        index: u8,
        offset: usize,
        id: RecordId,
        kind: u8,
        payload: &[u8],
    ) -> Result<(), NorStoreError> {
        let len = u16::try_from(payload.len()).map_err(|_| StorageErrorKind::TooLarge)?;
        let [i0, i1] = id.0.to_le_bytes();
        let [l0, l1] = len.to_le_bytes();
        let covered = [RECORD_MAGIC, kind, i0, i1, l0, l1, 0, 0];
        let mut sum = Crc32::new();
        sum.update(&covered);
        sum.update(payload);
        let [c0, c1, c2, c3] = sum.finish().to_le_bytes();
        let raw = [RECORD_MAGIC, kind, i0, i1, l0, l1, 0, 0, c0, c1, c2, c3];
        let mut header = [self.erased; CHUNK];
        let head = header
            .get_mut(..Self::RECORD_HEADER_SIZE)
            .ok_or(NorStoreError::Geometry)?;
        if let Some(h) = head.get_mut(..RECORD_HEADER) {
            h.copy_from_slice(&raw);
        }
        let at = nor::addr(self.bank_base(index), offset)?;
        self.flash.write(at, head).map_err(flash_error)?;
        let at = nor::addr(at, Self::RECORD_HEADER_SIZE)?;
        let aligned = payload.len() - payload.len() % Self::WRITE;
        let (body, tail) = payload.split_at(aligned);
        if !body.is_empty() {
            self.flash.write(at, body).map_err(flash_error)?;
        }
        if !tail.is_empty() {
            let mut unit = [self.erased; CHUNK];
            let unit = unit.get_mut(..Self::WRITE).ok_or(NorStoreError::Geometry)?;
            if let Some(start) = unit.get_mut(..tail.len()) {
                start.copy_from_slice(tail);
            }
            self.flash
                .write(nor::addr(at, aligned)?, unit)
                .map_err(flash_error)?;
        }
        Ok(())
    }

    /// Appends to the open active bank when there is room; `Ok(false)` when there is not.
    fn try_append(
        &mut self,
        view: View,
        id: RecordId,
        kind: u8,
        payload: &[u8],
    ) -> Result<bool, NorStoreError> {
        let Some(bank) = view.active else {
            return Ok(false);
        };
        let end = view.end + Self::footprint(payload.len());
        if !view.open || end > self.bank_size {
            return Ok(false);
        }
        self.view = None;
        self.append(bank.index, view.end, id, kind, payload)?;
        self.view = Some(View { end, ..view });
        Ok(true)
    }

    /// Moves every live record but `change`'s into the stale bank, applies `change`, and
    /// commits the bank by programming its header.
    fn compact(&mut self, view: View, change: Change<'_>) -> Result<(), NorStoreError> {
        let skip = change.id().0;
        let mut needed = Self::BANK_HEADER_SIZE;
        if let Change::Write(_, bytes) = change {
            needed += Self::footprint(bytes.len());
        }
        self.walk(view, |store, record| {
            if record.id != skip && store.is_live(view, record)? {
                needed += Self::footprint(record.len);
            }
            Ok(true)
        })?;
        if needed > self.bank_size {
            return Err(StorageErrorKind::NoSpace.into());
        }
        let (target, generation) = match view.active {
            Some(bank) => (1 - bank.index, bank.generation.wrapping_add(1)),
            None => (0, 1),
        };
        self.view = None;
        let base = self.bank_base(target);
        let end = nor::addr(base, self.bank_size)?;
        self.flash.erase(base, end).map_err(flash_error)?;
        let mut offset = Self::BANK_HEADER_SIZE;
        self.walk(view, |store, record| {
            if record.id != skip && store.is_live(view, record)? {
                let size = Self::footprint(record.len);
                store.copy(view, record.offset, target, offset, size)?;
                offset += size;
            }
            Ok(true)
        })?;
        if let Change::Write(id, bytes) = change {
            self.append(target, offset, id, VALUE, bytes)?;
            offset += Self::footprint(bytes.len());
        }
        let [g0, g1, g2, g3] = generation.to_le_bytes();
        let [m0, m1, m2, m3] = BANK_MAGIC;
        let body = [m0, m1, m2, m3, LAYOUT, 0, 0, 0, g0, g1, g2, g3];
        let [c0, c1, c2, c3] = crc32(&body).to_le_bytes();
        let raw = [
            m0, m1, m2, m3, LAYOUT, 0, 0, 0, g0, g1, g2, g3, c0, c1, c2, c3,
        ];
        let mut header = [self.erased; CHUNK];
        let head = header
            .get_mut(..Self::BANK_HEADER_SIZE)
            .ok_or(NorStoreError::Geometry)?;
        if let Some(h) = head.get_mut(..BANK_HEADER) {
            h.copy_from_slice(&raw);
        }
        self.flash.write(base, head).map_err(flash_error)?;
        self.view = Some(View {
            active: Some(Bank {
                index: target,
                generation,
            }),
            end: offset,
            open: true,
        });
        Ok(())
    }

    /// Copies `size` bytes from the active bank to bank `target`.
    fn copy(
        &mut self,
        view: View,
        from: usize,
        target: u8,
        to: usize,
        size: usize,
    ) -> Result<(), NorStoreError> {
        let Some(bank) = view.active else {
            return Ok(());
        };
        let (source, sink) = (self.bank_base(bank.index), self.bank_base(target));
        let mut buf = [0u8; CHUNK];
        let mut done = 0;
        while done < size {
            // `size` and CHUNK are multiples of WRITE_SIZE, so every piece is aligned.
            let n = (size - done).min(CHUNK);
            let window = buf.get_mut(..n).ok_or(NorStoreError::Geometry)?;
            nor::read(&mut self.flash, nor::addr(source, from + done)?, window)?;
            self.flash
                .write(nor::addr(sink, to + done)?, window)
                .map_err(flash_error)?;
            done += n;
        }
        Ok(())
    }
}

impl<F: NorFlash> StateStore for NorStateStore<F> {
    type Error = NorStoreError;

    fn max_record_len(&self) -> usize {
        (self.bank_size - Self::BANK_HEADER_SIZE - Self::RECORD_HEADER_SIZE)
            .min(usize::from(u16::MAX))
    }

    fn read(&mut self, id: RecordId, buf: &mut [u8]) -> Result<Option<usize>, Self::Error> {
        let view = self.view()?;
        let (Some(bank), Some(record)) = (view.active, self.latest(view, id.0)?) else {
            return Ok(None);
        };
        if record.kind != VALUE {
            return Ok(None);
        }
        let target = buf
            .get_mut(..record.len)
            .ok_or(StorageErrorKind::BufferTooSmall)?;
        let at = nor::addr(
            self.bank_base(bank.index),
            record.offset + Self::RECORD_HEADER_SIZE,
        )?;
        nor::read(&mut self.flash, at, target)?;
        Ok(Some(record.len))
    }

    fn write(&mut self, id: RecordId, bytes: &[u8]) -> Result<(), Self::Error> {
        if bytes.len() > self.max_record_len() {
            return Err(StorageErrorKind::TooLarge.into());
        }
        let view = self.view()?;
        if !self.try_append(view, id, VALUE, bytes)? {
            self.compact(view, Change::Write(id, bytes))?;
        }
        Ok(())
    }

    fn delete(&mut self, id: RecordId) -> Result<(), Self::Error> {
        let view = self.view()?;
        match self.latest(view, id.0)? {
            Some(record) if record.kind == VALUE => {
                if !self.try_append(view, id, TOMBSTONE, &[])? {
                    self.compact(view, Change::Delete(id))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn next_id(&mut self, after: Option<RecordId>) -> Result<Option<RecordId>, Self::Error> {
        let view = self.view()?;
        let mut best: Option<u16> = None;
        self.walk(view, |store, record| {
            let above = after.is_none_or(|a| record.id > a.0);
            let below = best.is_none_or(|b| record.id < b);
            if above && below && store.is_live(view, record)? {
                best = Some(record.id);
            }
            Ok(true)
        })?;
        Ok(best.map(RecordId))
    }
}
