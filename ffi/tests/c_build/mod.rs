//! Compiles a C program of `tests/c/` against the checked-in header and this crate's static
//! library, with warnings as errors and AddressSanitizer + UndefinedBehaviorSanitizer, and
//! runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The system libraries a Rust static library needs on Linux (`--print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The static library cargo built for this test run (next to the test executable).
pub fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let lib = exe.parent().expect("deps directory").join("libscomo_ffi.a");
    assert!(
        lib.exists(),
        "the static library is missing: {}",
        lib.display()
    );
    lib
}

/// Compiles `sources` (paths relative to the crate) into an executable named `name` with
/// the extra linker arguments `libs`, and returns its path.
pub fn compile(name: &str, sources: &[&str], libs: &[&str]) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut cmd = Command::new("gcc");
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O1",
        "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
    ])
    .arg("-I")
    .arg(crate_dir.join("include"));
    if cfg!(feature = "small") {
        // The header's capacities must be the ones the library was built with.
        cmd.arg("-DSCOMO_SMALL");
    }
    cmd.arg("-o").arg(&out);
    for s in sources {
        cmd.arg(crate_dir.join(s));
    }
    cmd.arg(staticlib()).args(libs).args(NATIVE_LIBS);
    let result = cmd.output().expect("gcc runs");
    assert!(
        result.status.success(),
        "gcc failed for {name}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// Runs a compiled program with the sanitizers set to stop at the first finding.
pub fn run(exe: &Path, args: &[String]) -> Output {
    Command::new(exe)
        .args(args)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=97",
        )
        .env(
            "UBSAN_OPTIONS",
            "halt_on_error=1:print_stacktrace=1:exitcode=98",
        )
        .output()
        .expect("the C program runs")
}
