//! The on-target test harness: runs each test, prints one line per test and the closing
//! `N passed, N failed` line, and exits through semihosting with 0 (all passed) or 1.

use semihosting::{println, process};

/// Why a test failed: where, and the expression that did not hold.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    /// `file:line` of the failed check.
    pub at: &'static str,
    /// The check, as written.
    pub what: &'static str,
}

/// What a test returns.
pub type Outcome = Result<(), Failure>;

/// One on-target test.
#[derive(Clone, Copy)]
pub struct Test {
    /// The test's name, as printed.
    pub name: &'static str,
    /// The test itself.
    pub run: fn() -> Outcome,
}

/// Runs every test, prints the results and exits: 0 when all passed, 1 otherwise.
pub fn run(tests: &[Test]) -> ! {
    println!("running {} tests", tests.len());
    let mut failed = 0usize;
    for test in tests {
        match (test.run)() {
            Ok(()) => println!("test {} ... ok", test.name),
            Err(f) => {
                failed += 1;
                println!("test {} ... FAILED at {}: {}", test.name, f.at, f.what);
            }
        }
    }
    println!("{} passed, {} failed", tests.len() - failed, failed);
    exit(if failed == 0 { 0 } else { 1 })
}

/// Ends the program; QEMU exits with `code` (semihosting `SYS_EXIT_EXTENDED`).
pub fn exit(code: i32) -> ! {
    process::exit(code)
}
