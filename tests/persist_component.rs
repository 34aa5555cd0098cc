//! The NOR-backed component store: packages stream in once, resume from a page-aligned
//! offset after any cut, and read back exactly.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use embedded_io::{Read, Seek, SeekFrom, Write};
use scomo::mock::{CutKind, MockFlash, PowerCut};
use scomo::persist::{NorComponentStore, NorStoreError};
use scomo::platform::{
    ComponentStore, PackageInfo, PackageKey, PackageReader, PackageState, PackageWriter,
    StorageError, StorageErrorKind,
};

/// 256-byte pages; two slots of six pages (a meta page and 1280 bytes of data each).
type Flash<const W: usize> = MockFlash<3072, W, 256>;
type Store<const W: usize> = NorComponentStore<Flash<W>>;
const PAGE: usize = 256;
const SLOT: usize = 6 * PAGE;
const KEY: PackageKey = PackageKey(1);
/// Where package byte 0 of `KEY` lives on the flash.
const DATA: usize = SLOT + PAGE;
/// Chunk sizes of the simulated transfer: odd, tiny, page-crossing.
const CHUNKS: [usize; 6] = [37, 1, 255, 64, 3, 100];

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

fn mount<const W: usize>(flash: Flash<W>) -> Store<W> {
    let erased = flash.erased_value();
    NorComponentStore::new(flash, 2, erased).unwrap()
}

/// Feeds `data[from..]` chunk by chunk, resuming and suspending the writer around every
/// chunk as the executor does between polls, then commits.
fn feed<S: ComponentStore>(
    store: &mut S,
    data: &[u8],
    from: usize,
) -> Result<PackageInfo, S::Error> {
    let mut at = from;
    let mut turn = 0;
    while at < data.len() {
        let n = CHUNKS[turn % CHUNKS.len()].min(data.len() - at);
        let mut writer = store.resume(KEY)?;
        assert_eq!(writer.offset(), at as u64);
        writer.write_all(&data[at..at + n])?;
        writer.suspend()?;
        at += n;
        turn += 1;
    }
    store.resume(KEY)?.commit()
}

fn download<S: ComponentStore>(store: &mut S, data: &[u8]) -> Result<PackageInfo, S::Error> {
    store.begin(KEY, data.len() as u64)?.suspend()?;
    feed(store, data, 0)
}

fn read_back<S: ComponentStore>(store: &mut S) -> Vec<u8> {
    let mut reader = store.open(KEY).unwrap();
    let mut out = vec![0u8; reader.size() as usize];
    reader.read_exact(&mut out).unwrap();
    assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0, "read past the end");
    out
}

#[test]
fn a_package_fed_in_odd_chunks_reads_back_and_every_byte_is_programmed_once() {
    for len in [1000, 1024, 1280] {
        let mut store = mount(Flash::<8>::new(0xFF));
        let data = payload(len);
        let info = download(&mut store, &data).unwrap();
        assert_eq!(
            info,
            PackageInfo {
                state: PackageState::Complete,
                declared_size: len as u64,
                len: len as u64
            }
        );
        assert_eq!(read_back(&mut store), data);
        let flash = store.into_inner();
        for addr in DATA..DATA + len {
            assert_eq!(flash.program_count(addr), 1, "byte {}", addr - DATA);
            assert_eq!(flash.erase_count(addr), 1, "byte {}", addr - DATA);
        }
        // Pages past the package were never touched; the other slot neither.
        let end = DATA + len.div_ceil(PAGE) * PAGE;
        assert!((end..SLOT * 2).all(|a| flash.erase_count(a) == 0));
        assert!((0..SLOT).all(|a| flash.erase_count(a) == 0));
    }
}

#[test]
fn inspect_after_a_reboot_reports_the_page_aligned_durable_offset_then_complete() {
    let mut store = mount(Flash::<4>::new(0xFF));
    let data = payload(1000);
    let mut writer = store.begin(KEY, 1000).unwrap();
    writer.write_all(&data[..700]).unwrap();
    assert_eq!((writer.offset(), writer.durable_offset()), (700, 512));
    assert_eq!(writer.suspend().unwrap(), 512);
    let mut store = store_rebooted(store);
    let partial = store.inspect(KEY).unwrap().unwrap();
    assert_eq!(
        partial,
        PackageInfo {
            state: PackageState::Partial,
            declared_size: 1000,
            len: 512
        }
    );
    assert_eq!(store.inspect(PackageKey(0)).unwrap(), None);
    // The durable prefix can be read (to hash it again after a reboot).
    assert_eq!(read_back(&mut store), data[..512]);
    let info = feed(&mut store, &data, 512).unwrap();
    assert_eq!(info.len, 1000);
    let mut store = store_rebooted(store);
    assert_eq!(
        store.inspect(KEY).unwrap().unwrap().state,
        PackageState::Complete
    );
    assert_eq!(read_back(&mut store), data);
}

fn store_rebooted<const W: usize>(store: Store<W>) -> Store<W> {
    mount(store.into_inner().reboot())
}

#[test]
fn resume_in_the_same_boot_continues_at_the_exact_offset_after_a_reboot_at_the_page() {
    let mut store = mount(Flash::<16>::new(0x00));
    let data = payload(600);
    let mut writer = store.begin(KEY, 600).unwrap();
    writer.write_all(&data[..300]).unwrap();
    writer.suspend().unwrap();
    let writer = store.resume(KEY).unwrap();
    assert_eq!((writer.offset(), writer.durable_offset()), (300, 256));
    // Letting a writer go without suspending it does no I/O; resume then falls back to
    // the durable offset.
    let mut writer = store.resume(KEY).unwrap();
    assert_eq!(writer.offset(), 256);
    writer.write_all(&data[256..]).unwrap();
    writer.commit().unwrap();
    assert_eq!(read_back(&mut store), data);
    // Only the page at the durable offset was programmed twice.
    let flash = store.into_inner();
    let twice: Vec<usize> = (DATA..DATA + 600)
        .filter(|&a| flash.program_count(a) > 1)
        .map(|a| a - DATA)
        .collect();
    assert_eq!(twice, (256..288).collect::<Vec<_>>());
}

#[test]
fn writing_past_the_declared_size_fails_413_and_poisons_the_writer() {
    let mut store = mount(Flash::<4>::new(0xFF));
    let mut writer = store.begin(KEY, 10).unwrap();
    writer.write_all(&[1; 8]).unwrap();
    let err = writer.write(&[2; 3]).unwrap_err();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::TooLarge);
    assert_eq!(StorageError::kind(&err).status_code().code(), 413);
    let err = writer.write(&[2; 1]).unwrap_err();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::Poisoned);
    assert_eq!(
        StorageError::kind(&writer.flush().unwrap_err()),
        StorageErrorKind::Poisoned
    );
    let err = writer.commit().unwrap_err();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::Poisoned);
    // Still partial; abort empties the key.
    assert_eq!(
        store.inspect(KEY).unwrap().unwrap().state,
        PackageState::Partial
    );
    store.resume(KEY).unwrap().abort().unwrap();
    assert_eq!(store.inspect(KEY).unwrap(), None);
}

#[test]
fn a_declared_size_beyond_the_slot_is_413_and_a_key_out_of_range_is_invalid() {
    let mut store = mount(Flash::<1>::new(0xFF));
    assert_eq!(store.slots(), 2);
    assert_eq!(store.slot_capacity(), 1280);
    let err = store.begin(KEY, 1281).err().unwrap();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::TooLarge);
    let err = store.begin(PackageKey(2), 10).err().unwrap();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::InvalidKey);
    let err = store.inspect(PackageKey(9)).unwrap_err();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::InvalidKey);
    // Nothing was written.
    assert_eq!(store.into_inner().counters().writes, 0);
}

#[test]
fn resume_of_a_complete_package_is_wrong_state_and_of_an_empty_key_404() {
    let mut store = mount(Flash::<4>::new(0xFF));
    let err = store.resume(KEY).err().unwrap();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::NotFound);
    assert_eq!(StorageError::kind(&err).status_code().code(), 404);
    let err = store.open(KEY).err().unwrap();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::NotFound);
    download(&mut store, &payload(50)).unwrap();
    let err = store.resume(KEY).err().unwrap();
    assert_eq!(StorageError::kind(&err), StorageErrorKind::WrongState);
}

#[test]
fn delete_and_abort_empty_the_key_and_begin_replaces_a_package() {
    let mut store = mount(Flash::<4>::new(0xFF));
    download(&mut store, &payload(300)).unwrap();
    store.delete(KEY).unwrap();
    assert_eq!(store.inspect(KEY).unwrap(), None);
    let mut store = mount(store.into_inner().reboot());
    store.delete(KEY).unwrap();
    assert_eq!(
        store.into_inner().counters().erases,
        0,
        "no erase for an empty key"
    );
    let mut store = mount(Flash::<4>::new(0xFF));
    download(&mut store, &payload(300)).unwrap();
    let other: Vec<u8> = payload(200).iter().map(|b| !b).collect();
    download(&mut store, &other).unwrap();
    assert_eq!(read_back(&mut store), other);
}

#[test]
fn a_reader_seeks_and_reads_from_anywhere() {
    let mut store = mount(Flash::<8>::new(0xFF));
    let data = payload(700);
    download(&mut store, &data).unwrap();
    let mut reader = store.open(KEY).unwrap();
    assert_eq!(reader.seek(SeekFrom::Start(300)).unwrap(), 300);
    let mut buf = [0u8; 10];
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(buf, data[300..310]);
    assert_eq!(reader.seek(SeekFrom::End(-5)).unwrap(), 695);
    assert_eq!(reader.read(&mut buf).unwrap(), 5);
    assert_eq!(buf[..5], data[695..]);
    assert_eq!(reader.seek(SeekFrom::Current(-700)).unwrap(), 0);
    assert!(reader.seek(SeekFrom::Current(-1)).is_err());
}

#[test]
fn a_geometry_the_layout_cannot_hold_is_refused() {
    let err = NorComponentStore::new(MockFlash::<4096, 128, 1024>::new(0xFF), 1, 0xFF).unwrap_err();
    assert_eq!(err, NorStoreError::Geometry);
    // A single page per slot leaves no room for data.
    let err = NorComponentStore::new(Flash::<4>::new(0xFF), 12, 0xFF).unwrap_err();
    assert_eq!(err, NorStoreError::Geometry);
    // 16-byte markers for 255 data pages do not fit a 256-byte meta page.
    let err = NorComponentStore::new(MockFlash::<65536, 16, 256>::new(0xFF), 1, 0xFF).unwrap_err();
    assert_eq!(err, NorStoreError::Geometry);
    assert!(NorComponentStore::new(Flash::<4>::new(0xFF), 0, 0xFF).is_err());
}

/// After a cut: what the executor would do — begin again if nothing is there, resume from
/// the durable offset if partial. Checks the invariants on the way; returns the finished
/// flash.
fn recover<const W: usize>(flash: &Flash<W>, data: &[u8], context: &str) -> Flash<W> {
    let mut store = mount(flash.reboot());
    match store.inspect(KEY).unwrap() {
        None => {
            download(&mut store, data).unwrap_or_else(|e| panic!("{context}: restart {e:?}"));
        }
        Some(info) if info.state == PackageState::Complete => {
            assert_eq!(info.len, data.len() as u64, "{context}");
        }
        Some(info) => {
            let durable = info.len as usize;
            assert_eq!(durable % PAGE, 0, "{context}: durable offset {durable}");
            assert!(durable <= data.len(), "{context}");
            assert_eq!(read_back(&mut store), data[..durable], "{context}: prefix");
            feed(&mut store, data, durable).unwrap_or_else(|e| panic!("{context}: resume {e:?}"));
        }
    }
    assert_eq!(read_back(&mut store), data, "{context}: content");
    store.into_inner()
}

/// Cuts at every operation of a chunked transfer with each kind; recovers (begin again or
/// resume from the durable offset) and checks the bytes, that at most one data page was
/// written twice, and — with a second cut at every operation of the recovery — that
/// recovery itself survives a cut.
fn sweep<const W: usize>(erased: u8, len: usize) -> usize {
    let data = payload(len);
    let mut clean = mount(Flash::<W>::new(erased));
    download(&mut clean, &data).unwrap();
    let total = clean.into_inner().ops();
    let mut cases = 0;
    for op in 1..=total {
        for kind in CutKind::ALL {
            let context = format!("W={W} erased={erased:#04x} len={len} cut {kind:?} op {op}");
            let mut flash = Flash::<W>::new(erased);
            flash.schedule_cut(PowerCut { op, kind });
            let mut store = mount(flash);
            let done = download(&mut store, &data).is_ok();
            let flash = store.into_inner();
            if done {
                assert!(op == total && kind == CutKind::After, "{context}");
                continue;
            }
            cases += 1;
            let finished = recover(&flash, &data, &context);
            let rewritten: Vec<usize> = (0..len.div_ceil(PAGE))
                .filter(|p| {
                    (DATA + p * PAGE..DATA + (p + 1) * PAGE)
                        .any(|a| finished.erase_count(a) > 1 || finished.program_count(a) > 1)
                })
                .collect();
            assert!(
                rewritten.len() <= 1,
                "{context}: pages {rewritten:?} rewritten"
            );
            // A second cut at every operation of the recovery.
            let recovery_ops = {
                let mut counted = flash.reboot();
                counted.schedule_cut(PowerCut {
                    op: u32::MAX,
                    kind: CutKind::Before,
                });
                recover(&counted, &data, &context).ops()
            };
            for second in 1..=recovery_ops {
                for kind2 in CutKind::ALL {
                    let context = format!("{context}, then {kind2:?} op {second} of recovery");
                    let mut again = flash.reboot();
                    again.schedule_cut(PowerCut {
                        op: second,
                        kind: kind2,
                    });
                    let mut store = mount(again);
                    let before = store.inspect(KEY).unwrap();
                    // Run recovery until the cut stops it.
                    let outcome = match before {
                        None => download(&mut store, &data).map(|_| ()),
                        Some(i) if i.state == PackageState::Complete => Ok(()),
                        Some(i) => feed(&mut store, &data, i.len as usize).map(|_| ()),
                    };
                    cases += 1;
                    let cut = store.into_inner();
                    if outcome.is_err() {
                        // Durable progress never goes backwards across the second cut.
                        let mut check = self::mount(cut.reboot());
                        if let (Some(b), Some(a)) = (before, check.inspect(KEY).unwrap())
                            && b.state == PackageState::Partial
                            && a.state == PackageState::Partial
                        {
                            assert!(a.len >= b.len, "{context}: {} < {}", a.len, b.len);
                        }
                    }
                    recover(&cut, &data, &context);
                }
            }
        }
    }
    cases
}

#[test]
fn a_transfer_cut_at_any_operation_resumes_from_a_page_aligned_offset_with_the_right_bytes() {
    let cases = [
        sweep::<1>(0xFF, 700),
        sweep::<4>(0xFF, 1024),
        sweep::<8>(0xFF, 700),
        sweep::<16>(0xFF, 700),
        sweep::<4>(0x00, 700),
        sweep::<16>(0x00, 1024),
    ];
    let total: usize = cases.iter().sum();
    println!("component store: {total} cut points exercised ({cases:?})");
    assert!(total > 1000);
}

#[test]
fn a_torn_commit_leaves_the_package_resumable_until_the_commit_slots_run_out() {
    let data = payload(300);
    let mut flash = Flash::<4>::new(0xFF);
    {
        let mut dry = mount(Flash::<4>::new(0xFF));
        download(&mut dry, &data).unwrap();
        let last = dry.into_inner().ops();
        flash.schedule_cut(PowerCut {
            op: last,
            kind: CutKind::Inside,
        });
    }
    let mut store = mount(flash);
    assert!(download(&mut store, &data).is_err());
    let mut flash = store.into_inner();
    let mut torn = 1;
    let err = loop {
        let mut store = mount(flash.reboot());
        let info = store.inspect(KEY).unwrap().unwrap();
        assert_eq!(
            info.state,
            PackageState::Partial,
            "after {torn} torn commits"
        );
        // Recover once without a cut to find the commit write, then tear it.
        let mut dry = mount(flash.reboot());
        match feed(&mut dry, &data, info.len as usize) {
            Ok(_) => {}
            Err(e) => break e,
        }
        let mut again = flash.reboot();
        again.schedule_cut(PowerCut {
            op: dry.into_inner().ops(),
            kind: CutKind::Inside,
        });
        let mut store = mount(again);
        assert!(feed(&mut store, &data, info.len as usize).is_err());
        flash = store.into_inner();
        torn += 1;
    };
    assert_eq!(StorageError::kind(&err), StorageErrorKind::Corrupted);
    assert_eq!(
        torn, 13,
        "a 256-byte meta page with 5 markers of 4 bytes has 13 slots"
    );
    // Beginning again works.
    let mut store = mount(flash.reboot());
    download(&mut store, &data).unwrap();
    assert_eq!(read_back(&mut store), data);
}
