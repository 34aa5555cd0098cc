//! The NOR-backed state store: atomic records, whatever the flash geometry and wherever
//! the power is cut.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use scomo::mock::{CutKind, MockFlash, PowerCut};
use scomo::persist::{NorStateStore, NorStoreError, Partition};
use scomo::platform::{RecordId, StateStore, StorageError, StorageErrorKind};

/// 2 KiB in 512-byte pages: two banks of two pages each.
type Flash<const W: usize> = MockFlash<2048, W, 512>;
type Store<const W: usize> = NorStateStore<Flash<W>>;

fn read(store: &mut impl StateStore, id: u16) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1024];
    store
        .read(RecordId(id), &mut buf)
        .unwrap()
        .map(|n| buf[..n].to_vec())
}

fn value(step: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (step * 31 + i * 7) as u8).collect()
}

#[test]
fn records_read_back_after_a_remount_and_missing_ones_read_none() {
    let chip = RefCell::new(MockFlash::<8192, 4, 1024>::new(0xFF));
    let part = Partition::new(&chip, 2048, 4096).unwrap();
    let mut store = NorStateStore::mount(part, 0xFF).unwrap();
    assert_eq!(read(&mut store, 1), None);
    store.write(RecordId(1), b"tree").unwrap();
    store.write(RecordId(2), b"").unwrap();
    store.write(RecordId(1), b"tree v2").unwrap();
    store.delete(RecordId(3)).unwrap();
    let mut store = NorStateStore::mount(part, 0xFF).unwrap();
    assert_eq!(read(&mut store, 1).as_deref(), Some(&b"tree v2"[..]));
    assert_eq!(read(&mut store, 2).as_deref(), Some(&b""[..]));
    assert_eq!(read(&mut store, 3), None);
    store.delete(RecordId(1)).unwrap();
    let mut store = NorStateStore::mount(part, 0xFF).unwrap();
    assert_eq!(read(&mut store, 1), None);
    // Nothing outside the partition was touched.
    let image = chip.borrow().image().to_vec();
    assert!(
        image[..2048]
            .iter()
            .chain(&image[6144..])
            .all(|&b| b == 0xFF)
    );
}

#[test]
fn a_short_buffer_and_an_oversized_record_fail_and_change_nothing() {
    let mut store = Store::<4>::mount(Flash::new(0xFF), 0xFF).unwrap();
    store.write(RecordId(7), &[9; 40]).unwrap();
    let mut small = [0u8; 39];
    let err = store.read(RecordId(7), &mut small).unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::BufferTooSmall);
    let max = store.max_record_len();
    assert_eq!(max, 1024 - 16 - 12);
    let err = store.write(RecordId(8), &vec![1; max + 1]).unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::TooLarge);
    assert_eq!(err.kind().status_code().code(), 413);
    assert_eq!(read(&mut store, 7), Some(vec![9; 40]));
    assert_eq!(read(&mut store, 8), None);
    // The largest record fits when it is alone.
    store.delete(RecordId(7)).unwrap();
    store.write(RecordId(8), &vec![1; max]).unwrap();
    assert_eq!(read(&mut store, 8), Some(vec![1; max]));
}

#[test]
fn a_full_store_answers_no_space_420_and_keeps_every_record() {
    let mut store = Store::<8>::mount(Flash::new(0x00), 0x00).unwrap();
    let mut id = 0;
    let err = loop {
        match store.write(RecordId(id), &value(id as usize, 100)) {
            Ok(()) => id += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), StorageErrorKind::NoSpace);
    assert_eq!(err.kind().status_code().code(), 420);
    assert!(
        id >= 8,
        "only {id} records of 100 bytes fit in a 1 KiB bank"
    );
    let mut store = Store::<8>::mount(store.into_inner().reboot(), 0x00).unwrap();
    for i in 0..id {
        assert_eq!(read(&mut store, i), Some(value(i as usize, 100)));
    }
    assert_eq!(read(&mut store, id), None);
    // Replacing a record with one of the same size still works when full.
    store.write(RecordId(0), &value(99, 100)).unwrap();
    assert_eq!(read(&mut store, 0), Some(value(99, 100)));
}

#[test]
fn next_id_walks_the_live_records_in_order() {
    let mut store = Store::<1>::mount(Flash::new(0xFF), 0xFF).unwrap();
    for id in [40, 3, 17, 9] {
        store.write(RecordId(id), &[id as u8]).unwrap();
    }
    store.delete(RecordId(17)).unwrap();
    store.write(RecordId(3), b"again").unwrap();
    let mut seen = vec![];
    let mut after = None;
    while let Some(id) = store.next_id(after).unwrap() {
        seen.push(id.0);
        after = Some(id);
    }
    assert_eq!(seen, [3, 9, 40]);
}

#[test]
fn an_appended_record_is_programmed_once_in_one_run() {
    let mut store = Store::<4>::mount(Flash::new(0xFF), 0xFF).unwrap();
    store.write(RecordId(1), b"first").unwrap();
    let mut flash = store.into_inner();
    flash.reset_wear();
    let before = flash.counters();
    let mut store = Store::<4>::mount(flash, 0xFF).unwrap();
    let payload = value(1, 101);
    store.write(RecordId(2), &payload).unwrap();
    let flash = store.into_inner();
    let after = flash.counters();
    // Header, the aligned payload run, the last partial word.
    assert_eq!(after.writes - before.writes, 3);
    assert_eq!(after.erases, before.erases);
    let at = flash
        .image()
        .windows(payload.len())
        .position(|w| w == payload)
        .unwrap();
    assert!((at..at + payload.len()).all(|a| flash.program_count(a) == 1));
    assert_eq!(
        (0..flash.image().len())
            .filter(|&a| flash.program_count(a) > 0)
            .count(),
        12 + 104
    );
}

#[test]
fn a_flash_whose_write_size_does_not_divide_64_is_refused() {
    let err = NorStateStore::mount(MockFlash::<4096, 128, 1024>::new(0xFF), 0xFF).unwrap_err();
    assert_eq!(err, NorStoreError::Geometry);
    let err = NorStateStore::mount(MockFlash::<1024, 4, 1024>::new(0xFF), 0xFF).unwrap_err();
    assert_eq!(err, NorStoreError::Geometry);
}

/// One step of the sweep scenario: write a value or delete.
#[derive(Debug, Clone)]
enum Op {
    Write(u16, Vec<u8>),
    Delete(u16),
}

/// Five records, values of 0 to 90 bytes, deletions: enough to compact several times.
fn scenario() -> Vec<Op> {
    (0..30)
        .map(|step| {
            let id = (step * 7 % 5) as u16;
            if step % 6 == 5 {
                Op::Delete(id)
            } else {
                Op::Write(id, value(step, step * 13 % 91))
            }
        })
        .collect()
}

type Model = BTreeMap<u16, Vec<u8>>;

fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Write(id, v) => {
            model.insert(*id, v.clone());
        }
        Op::Delete(id) => {
            model.remove(id);
        }
    }
}

fn perform(store: &mut impl StateStore, op: &Op) -> bool {
    match op {
        Op::Write(id, v) => store.write(RecordId(*id), v).is_ok(),
        Op::Delete(id) => store.delete(RecordId(*id)).is_ok(),
    }
}

/// Runs `ops` until one fails; returns the index of the failed op.
fn run_until_failure<const W: usize>(
    store: &mut Store<W>,
    model: &mut Model,
    ops: &[Op],
) -> Option<usize> {
    for (i, op) in ops.iter().enumerate() {
        if !perform(store, op) {
            return Some(i);
        }
        apply(model, op);
    }
    None
}

/// After a reboot: every record equals the model, except the one in flight, which is old
/// or new. Returns the model with the in-flight op resolved as the flash says.
fn check<const W: usize>(
    flash: &Flash<W>,
    erased: u8,
    model: &Model,
    in_flight: Option<&Op>,
    context: &str,
) -> (Store<W>, Model) {
    let mut store = Store::<W>::mount(flash.reboot(), erased)
        .unwrap_or_else(|e| panic!("{context}: mount failed: {e:?}"));
    let mut resolved = model.clone();
    for id in 0..5u16 {
        let found = read(&mut store, id);
        let old = model.get(&id).cloned();
        let new = match in_flight {
            Some(Op::Write(i, v)) if *i == id => Some(Some(v.clone())),
            Some(Op::Delete(i)) if *i == id => Some(None),
            _ => None,
        };
        if found == old {
            continue;
        }
        match new {
            Some(new) if found == new => {
                apply(&mut resolved, in_flight.unwrap());
            }
            _ => panic!("{context}: record {id} is {found:?}, neither old {old:?} nor new {new:?}"),
        }
    }
    let mut listed = vec![];
    let mut after = None;
    while let Some(id) = store.next_id(after).unwrap() {
        listed.push(id.0);
        after = Some(id);
    }
    assert_eq!(
        listed,
        resolved.keys().copied().collect::<Vec<_>>(),
        "{context}: next_id"
    );
    (store, resolved)
}

/// Cuts at every operation of the scenario with each kind; after each cut, reboots, checks
/// old-or-new, then retries the interrupted step with a second cut at each of its
/// operations (a cut during recovery), checks again, and finishes the scenario.
fn sweep<const W: usize>(erased: u8) -> usize {
    let ops = scenario();
    let mut model = Model::new();
    let mut store = Store::<W>::mount(Flash::new(erased), erased).unwrap();
    assert_eq!(run_until_failure(&mut store, &mut model, &ops), None);
    let total = store.into_inner().ops();
    let mut cases = 0;
    for op in 1..=total {
        for kind in CutKind::ALL {
            let context = format!("W={W} erased={erased:#04x} cut {kind:?} op {op}");
            let mut flash = Flash::<W>::new(erased);
            flash.schedule_cut(PowerCut { op, kind });
            let mut store = Store::<W>::mount(flash, erased).unwrap();
            let mut model = Model::new();
            let failed = run_until_failure(&mut store, &mut model, &ops);
            let flash = store.into_inner();
            let Some(failed) = failed else {
                // A cut after the very last operation: nothing failed.
                assert!(op == total && kind == CutKind::After, "{context}");
                continue;
            };
            cases += 1;
            let (_, resolved) = check(&flash, erased, &model, Some(&ops[failed]), &context);
            // Recovery: retry the interrupted step, cut again at each of its operations.
            let mut probe = Store::<W>::mount(flash.reboot(), erased).unwrap();
            assert!(perform(&mut probe, &ops[failed]), "{context}: retry");
            let retry_ops = probe.into_inner().ops();
            for second in 1..=retry_ops {
                for kind2 in CutKind::ALL {
                    let context = format!("{context}, then {kind2:?} op {second} of the retry");
                    let mut again = flash.reboot();
                    again.schedule_cut(PowerCut {
                        op: second,
                        kind: kind2,
                    });
                    let mut store = Store::<W>::mount(again, erased).unwrap();
                    let ok = perform(&mut store, &ops[failed]);
                    let flash2 = store.into_inner();
                    cases += 1;
                    let in_flight = (!ok).then_some(&ops[failed]);
                    let mut expected = resolved.clone();
                    if ok {
                        apply(&mut expected, &ops[failed]);
                    }
                    check(&flash2, erased, &expected, in_flight, &context);
                }
            }
            // And the store goes on working: finish the scenario, then check everything.
            let mut store = Store::<W>::mount(flash.reboot(), erased).unwrap();
            let mut finished = resolved.clone();
            assert_eq!(
                run_until_failure(&mut store, &mut finished, &ops[failed..]),
                None,
                "{context}: finishing"
            );
            check(&store.into_inner(), erased, &finished, None, &context);
        }
    }
    cases
}

#[test]
fn every_record_is_old_or_new_after_a_cut_at_every_operation_and_during_recovery() {
    let cases = [
        sweep::<1>(0xFF),
        sweep::<4>(0xFF),
        sweep::<8>(0xFF),
        sweep::<16>(0xFF),
        sweep::<4>(0x00),
        sweep::<16>(0x00),
    ];
    let total: usize = cases.iter().sum();
    println!("state store: {total} cut points exercised ({cases:?})");
    assert!(total > 1000);
}

#[test]
fn stray_programmed_bytes_after_the_last_record_close_the_bank_instead_of_breaking_writes() {
    let mut store = Store::<4>::mount(Flash::new(0xFF), 0xFF).unwrap();
    store.write(RecordId(1), b"one").unwrap();
    store.write(RecordId(2), b"two").unwrap();
    let mut image = store.into_inner().image().to_vec();
    // What a torn write on real flash can leave: an erased-looking header, programmed bytes
    // further on. Find the end of the log (first erased 16 bytes after the header).
    let end = (16..1024)
        .step_by(4)
        .find(|&o| image[o..o + 16].iter().all(|&b| b == 0xFF))
        .unwrap();
    image[end + 12] = 0x00;
    let mut store = Store::<4>::mount(Flash::from_image(&image, 0xFF).unwrap(), 0xFF).unwrap();
    store.write(RecordId(3), b"three").unwrap();
    let mut store = Store::<4>::mount(store.into_inner().reboot(), 0xFF).unwrap();
    assert_eq!(read(&mut store, 1).as_deref(), Some(&b"one"[..]));
    assert_eq!(read(&mut store, 2).as_deref(), Some(&b"two"[..]));
    assert_eq!(read(&mut store, 3).as_deref(), Some(&b"three"[..]));
}

proptest::proptest! {
    #[test]
    fn mounting_any_image_never_panics_and_a_write_then_reads_back(
        image in proptest::collection::vec(proptest::prelude::any::<u8>(), 2048),
        header in proptest::prelude::any::<bool>(),
    ) {
        let mut image = image;
        if header {
            // Give bank 0 a valid header so the records behind it are parsed.
            let mut store = Store::<4>::mount(Flash::new(0xFF), 0xFF).unwrap();
            store.write(RecordId(0), b"").unwrap();
            image[..16].copy_from_slice(&store.into_inner().image()[..16]);
        }
        let flash = Flash::<4>::from_image(&image, 0xFF).unwrap();
        if let Ok(mut store) = Store::<4>::mount(flash, 0xFF) {
            for id in 0..4 {
                let mut buf = [0u8; 1024];
                let _ = store.read(RecordId(id), &mut buf);
            }
            // Whatever was there, the store can still take a record (the stale bank is
            // erased first).
            store.write(RecordId(9), b"fresh").unwrap();
            let fresh = read(&mut store, 9);
            proptest::prop_assert_eq!(fresh.as_deref(), Some(&b"fresh"[..]));
        }
    }
}
