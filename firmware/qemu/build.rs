//! Puts the selected board's `memory.x` where cortex-m-rt's `link.x` finds it.
use std::{env, fs, path::PathBuf, process::ExitCode};

/// (cargo feature, memory layout file)
const BOARDS: &[(&str, &str)] = &[
    ("LM3S6965", "memory/lm3s6965evb.x"),
    ("MPS2", "memory/mps2.x"),
    ("MICROBIT", "memory/microbit.x"),
];

fn main() -> ExitCode {
    let chosen: Vec<&str> = BOARDS
        .iter()
        .filter(|(feature, _)| env::var_os(format!("CARGO_FEATURE_{feature}")).is_some())
        .map(|(_, file)| *file)
        .collect();
    let [file] = chosen.as_slice() else {
        eprintln!("enable exactly one board feature: lm3s6965 (default), mps2 or microbit");
        return ExitCode::FAILURE;
    };
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("OUT_DIR is not set");
        return ExitCode::FAILURE;
    };
    if let Err(e) = fs::copy(file, out.join("memory.x")) {
        eprintln!("cannot copy {file}: {e}");
        return ExitCode::FAILURE;
    }
    println!("cargo:rustc-link-search={}", out.display());
    for (_, file) in BOARDS {
        println!("cargo:rerun-if-changed={file}");
    }
    ExitCode::SUCCESS
}
