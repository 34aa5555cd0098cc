//! scomo on QEMU's Cortex-M machines: polled UART drivers implementing
//! `embedded_io::{Read, Write}`, the board chosen by a cargo feature, a small on-target
//! test harness that reports through semihosting, and the platform pieces of the seed-flow
//! image: NOR flash emulated in RAM ([`ram_flash`]), the firmware's installer
//! ([`installer`]), a deterministic random source ([`rng`]) and stack high-water
//! measurement ([`stack`]).
//!
//! | feature | QEMU machine | target | UART |
//! |---|---|---|---|
//! | `lm3s6965` (default) | `lm3s6965evb` | `thumbv7m-none-eabi` | [`pl011`] at `0x4000_C000` |
//! | `mps2` | `mps2-an386` | `thumbv7em-none-eabihf` | [`cmsdk`] at `0x4000_4000` |
//! | `microbit` | `microbit` | `thumbv6m-none-eabi` | none (semihosting only) |
//!
//! The firmware's console is semihosting (QEMU's stdout); the UART carries only the serial
//! bridge's frames. The exit code reaches the host through semihosting: the runner exits with
//! it, and a panic exits with 101.
#![no_std]

use cortex_m as _; // links the critical-section implementation that semihosting uses

pub mod board;
pub mod cmsdk;
mod harness;
pub mod installer;
mod mmio;
pub mod pl011;
pub mod ram_flash;
pub mod rng;
pub mod stack;
mod uart_error;

pub use harness::{Failure, Outcome, Test, exit, run};
pub use semihosting::{print, println};
pub use uart_error::UartError;

/// Builds the `&[Test]` list for [`run`] from test function names.
#[macro_export]
macro_rules! tests {
    ($($name:path),+ $(,)?) => {
        &[$($crate::Test { name: stringify!($name), run: $name }),+]
    };
}

/// Fails the current test (returns a [`Failure`]) unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::Failure {
                at: concat!(file!(), ":", line!()),
                what: stringify!($cond),
            });
        }
    };
}

/// Fails the current test unless both values are equal; prints both when they differ.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    $crate::println!("    left: {:?}\n   right: {:?}", left, right);
                    return Err($crate::Failure {
                        at: concat!(file!(), ":", line!()),
                        what: concat!(stringify!($left), " == ", stringify!($right)),
                    });
                }
            }
        }
    };
}
