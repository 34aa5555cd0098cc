//! The NOR flash simulator obeys NOR rules and cuts power where it is told.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use scomo::mock::{CutKind, MockFlash, MockFlashError, PowerCut};

type Flash<const W: usize> = MockFlash<1024, W, 256>;

fn read_all<const W: usize>(flash: &mut Flash<W>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    flash.read(0, &mut buf).unwrap();
    buf
}

fn erase_sets_every_byte_to_the_erased_value<const W: usize>(erased: u8) {
    let mut flash = Flash::<W>::new(erased);
    assert!(read_all(&mut flash).iter().all(|&b| b == erased));
    flash.write(256, &[0x5A; W]).unwrap();
    flash.erase(256, 512).unwrap();
    assert!(read_all(&mut flash).iter().all(|&b| b == erased));
    // A programmed word may be programmed again after its page is erased.
    flash.write(256, &[0x5A; W]).unwrap();
    assert_eq!(read_all(&mut flash)[256..256 + W], [0x5A; W]);
}

#[test]
fn erase_sets_every_byte_to_the_erased_value_for_each_write_size() {
    for erased in [0xFF, 0x00] {
        erase_sets_every_byte_to_the_erased_value::<1>(erased);
        erase_sets_every_byte_to_the_erased_value::<4>(erased);
        erase_sets_every_byte_to_the_erased_value::<8>(erased);
        erase_sets_every_byte_to_the_erased_value::<16>(erased);
    }
}

fn second_program_is_refused<const W: usize>(erased: u8) {
    let mut flash = Flash::<W>::new(erased);
    flash.write(0, &[0x12; W]).unwrap();
    // Even a program that would not change a bit is refused, and changes nothing.
    assert_eq!(
        flash.write(0, &[0x12; W]),
        Err(MockFlashError::AlreadyProgrammed)
    );
    assert_eq!(
        flash.write(0, &[0x00; W]),
        Err(MockFlashError::AlreadyProgrammed)
    );
    assert_eq!(read_all(&mut flash)[..W], [0x12; W]);
    // A write that overlaps a programmed word is refused as a whole.
    let mut two = vec![0x34; 2 * W];
    assert_eq!(flash.write(0, &two), Err(MockFlashError::AlreadyProgrammed));
    assert!(read_all(&mut flash)[W..2 * W].iter().all(|&b| b == erased));
    two.truncate(W);
    flash.write(W as u32, &two).unwrap();
}

#[test]
fn a_second_program_of_the_same_word_is_refused_for_each_write_size() {
    for erased in [0xFF, 0x00] {
        second_program_is_refused::<1>(erased);
        second_program_is_refused::<4>(erased);
        second_program_is_refused::<8>(erased);
        second_program_is_refused::<16>(erased);
    }
}

#[test]
fn misaligned_and_out_of_range_calls_are_refused() {
    let mut flash = Flash::<8>::new(0xFF);
    assert_eq!(flash.write(4, &[0; 8]), Err(MockFlashError::NotAligned));
    assert_eq!(flash.write(0, &[0; 4]), Err(MockFlashError::NotAligned));
    assert_eq!(flash.erase(0, 128), Err(MockFlashError::NotAligned));
    assert_eq!(flash.erase(128, 256), Err(MockFlashError::NotAligned));
    assert_eq!(flash.write(1024, &[0; 8]), Err(MockFlashError::OutOfBounds));
    assert_eq!(flash.erase(768, 1280), Err(MockFlashError::OutOfBounds));
    assert_eq!(
        flash.read(1020, &mut [0; 8]),
        Err(MockFlashError::OutOfBounds)
    );
    assert!(read_all(&mut flash).iter().all(|&b| b == 0xFF));
    assert_eq!(
        (
            Flash::<8>::WRITE_SIZE,
            Flash::<8>::ERASE_SIZE,
            flash.capacity()
        ),
        (8, 256, 1024)
    );
}

#[test]
fn counters_and_wear_count_every_operation() {
    let mut flash = Flash::<4>::new(0xFF);
    flash.write(0, &[1; 8]).unwrap();
    flash.write(8, &[2; 4]).unwrap();
    flash.erase(0, 512).unwrap();
    flash.write(0, &[3; 4]).unwrap();
    let mut buf = [0; 16];
    flash.read(0, &mut buf).unwrap();
    let c = flash.counters();
    assert_eq!((c.reads, c.writes, c.erases), (1, 3, 1));
    assert_eq!((c.bytes_read, c.bytes_written), (16, 16));
    assert_eq!(flash.ops(), 4);
    assert_eq!(flash.program_count(0), 2);
    assert_eq!(flash.program_count(4), 1);
    assert_eq!(flash.program_count(12), 0);
    assert_eq!(flash.erase_count(300), 1);
    assert_eq!(flash.erase_count(600), 0);
    flash.reset_wear();
    assert_eq!(flash.program_count(0), 0);
}

/// Runs write, write, erase, write with a cut at `op`; returns the flash and the results.
fn cut_run(cut: PowerCut, erased: u8) -> (Flash<4>, Vec<Result<(), MockFlashError>>) {
    let mut flash = Flash::<4>::new(erased);
    flash.schedule_cut(cut);
    let results = vec![
        flash.write(0, &[0x11; 8]),
        flash.write(256, &[0x22; 4]),
        flash.erase(0, 256),
        flash.write(512, &[0x33; 4]),
    ];
    (flash, results)
}

#[test]
fn a_cut_before_an_operation_leaves_it_undone_and_fails_everything_after() {
    let (mut flash, results) = cut_run(
        PowerCut {
            op: 2,
            kind: CutKind::Before,
        },
        0xFF,
    );
    assert_eq!(
        results,
        [
            Ok(()),
            Err(MockFlashError::PowerCut),
            Err(MockFlashError::PowerCut),
            Err(MockFlashError::PowerCut)
        ]
    );
    assert!(flash.is_cut());
    assert_eq!(flash.read(0, &mut [0; 4]), Err(MockFlashError::PowerCut));
    let image = flash.image();
    assert_eq!(image[..8], [0x11; 8]);
    assert_eq!(image[256..260], [0xFF; 4]);
}

#[test]
fn a_cut_after_an_operation_completes_it_then_fails_everything_after() {
    let (flash, results) = cut_run(
        PowerCut {
            op: 2,
            kind: CutKind::After,
        },
        0xFF,
    );
    assert_eq!(
        results,
        [
            Ok(()),
            Ok(()),
            Err(MockFlashError::PowerCut),
            Err(MockFlashError::PowerCut)
        ]
    );
    assert_eq!(flash.image()[256..260], [0x22; 4]);
    assert_eq!(flash.image()[..8], [0x11; 8]);
}

#[test]
fn a_cut_inside_a_write_tears_it_and_bits_only_move_away_from_erased() {
    for erased in [0xFF, 0x00] {
        let mut flash = Flash::<4>::new(erased);
        flash.schedule_cut(PowerCut {
            op: 1,
            kind: CutKind::Inside,
        });
        assert_eq!(
            flash.write(0, &[0x00, 0x00, 0xA5, 0xA5, 0x5A, 0x5A, 0x0F, 0xF0]),
            Err(MockFlashError::PowerCut)
        );
        let image = flash.image();
        // The first half landed, the next byte only in its high nibble, the rest not at all.
        assert_eq!(image[..4], [0x00, 0x00, 0xA5, 0xA5]);
        let torn = if erased == 0xFF { 0x5F } else { 0x50 };
        assert_eq!(image[4], torn);
        assert_eq!(image[5..8], [erased; 3]);
        // The torn words are programmed: after a reboot they cannot be programmed again.
        let mut rebooted = flash.reboot();
        assert_eq!(
            rebooted.write(4, &[0x5A; 4]),
            Err(MockFlashError::AlreadyProgrammed)
        );
        rebooted.write(8, &[0x5A; 4]).unwrap();
    }
}

#[test]
fn a_cut_inside_an_erase_erases_half_of_it() {
    let mut flash = Flash::<4>::new(0x00);
    for page in 0..2u32 {
        flash.write(page * 256, &[0xC3; 4]).unwrap();
        flash.write(page * 256 + 200, &[0xC3; 4]).unwrap();
    }
    flash.schedule_cut(PowerCut {
        op: 5,
        kind: CutKind::Inside,
    });
    assert_eq!(flash.erase(0, 512), Err(MockFlashError::PowerCut));
    let image = flash.image();
    assert_eq!(image[..4], [0x00; 4]);
    assert_eq!(image[200..204], [0x00; 4]);
    assert_eq!(image[256..260], [0xC3; 4]);
    assert_eq!(image[456..460], [0xC3; 4]);
    // The erased half may be programmed again; the other half may not.
    let mut rebooted = flash.reboot();
    rebooted.write(0, &[1; 4]).unwrap();
    assert_eq!(
        rebooted.write(256, &[1; 4]),
        Err(MockFlashError::AlreadyProgrammed)
    );
}

#[test]
fn reboot_and_from_image_keep_the_bytes_and_restart_counting() {
    let (flash, _) = cut_run(
        PowerCut {
            op: 3,
            kind: CutKind::Before,
        },
        0xFF,
    );
    let mut rebooted = flash.reboot();
    assert!(!rebooted.is_cut());
    assert_eq!(rebooted.ops(), 0);
    assert_eq!(rebooted.counters().writes, 0);
    assert_eq!(rebooted.image(), flash.image());
    assert_eq!(rebooted.program_count(0), 1, "wear survives a reboot");
    rebooted.erase(0, 256).unwrap();
    assert_eq!(rebooted.ops(), 1);

    let mut copy = Flash::<4>::from_image(flash.image(), 0xFF).unwrap();
    assert_eq!(copy.image(), flash.image());
    assert_eq!(
        copy.write(0, &[0; 4]),
        Err(MockFlashError::AlreadyProgrammed)
    );
    copy.write(8, &[0; 4]).unwrap();
    assert!(Flash::<4>::from_image(&[0xFF; 100], 0xFF).is_none());
}
