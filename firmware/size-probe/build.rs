//! Writes the memory layout the size image links against: 256 KiB of flash and the RAM of the
//! smallest QEMU board of the target's CPU (16 KiB on Cortex-M0, 64 KiB otherwise), so an
//! image whose static RAM does not fit fails to link.
use std::{env, fs, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let (Some(out), Ok(target)) = (
        env::var_os("OUT_DIR").map(PathBuf::from),
        env::var("TARGET"),
    ) else {
        eprintln!("OUT_DIR and TARGET must be set");
        return ExitCode::FAILURE;
    };
    let ram = if target.starts_with("thumbv6m") {
        "16K"
    } else {
        "64K"
    };
    let memory = format!(
        "MEMORY\n{{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n  \
         RAM   : ORIGIN = 0x20000000, LENGTH = {ram}\n}}\n"
    );
    if let Err(e) = fs::write(out.join("memory.x"), memory) {
        eprintln!("cannot write memory.x: {e}");
        return ExitCode::FAILURE;
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=build.rs");
    ExitCode::SUCCESS
}
