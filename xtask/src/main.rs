//! `cargo xtask <command>`: the project's one entry point for its checks.
//!
//! `cargo xtask test` installs what a fresh machine lacks (rustup targets and components,
//! Debian packages), then runs every check the project has: formatting, clippy with
//! `-D warnings`, the host tests, the documentation with no missing docs, and the
//! `no_std` builds of the core for the microcontroller targets.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod decode_cost;
mod ffi;
mod firmware;

/// The targets the core must build for without `std`.
const NO_STD_TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabihf",
    "riscv32imac-unknown-none-elf",
];

/// Debian packages the tests need: each entry is (a program, or an absolute path, that proves
/// it is there, package).
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("xml2wbxml", "libwbxml2-utils"),
    ("qemu-system-arm", "qemu-system-arm"),
    ("arm-none-eabi-gcc", "gcc-arm-none-eabi"),
    (
        "/usr/lib/arm-none-eabi/newlib/libc.a",
        "libnewlib-arm-none-eabi",
    ),
    ("curl-config", "libcurl4-openssl-dev"),
    ("make", "make"),
    // `script`: the agent's progress-bar test runs it on a pseudo-terminal.
    ("script", "bsdutils"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("setup") => setup(),
        Some("size") => setup().and_then(|()| firmware::size()),
        Some("firmware") => setup().and_then(|()| firmware::test()),
        Some("decode-cost") => setup().and_then(|()| decode_cost::report()),
        _ => {
            eprintln!("usage: cargo xtask <test|setup|size|firmware|decode-cost>");
            eprintln!("  test   install what is missing, then run every check and test");
            eprintln!("  setup  only install what is missing");
            eprintln!("  size   build the min-size firmware image and report flash and RAM");
            eprintln!("  firmware  only the firmware's checks: on-target tests and the seed flows");
            eprintln!(
                "            under QEMU, in Rust and in C, and the decode cost (part of `test`)"
            );
            eprintln!(
                "  decode-cost  count the codec's instructions per byte on a Cortex-M4 under QEMU"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the workspace root, echoing it, and fails when it fails.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("\n==> {program} {}", args.join(" "));
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    eprintln!("    ({:.1} s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn have(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).exists();
    }
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Installs rustup targets and components and the Debian packages the tests use.
fn setup() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&installed.stdout).to_string();
    let missing: Vec<&str> = NO_STD_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        let mut args = vec!["target", "add"];
        args.extend(missing);
        run("rustup", &args, &[])?;
    }
    for component in ["rustfmt", "clippy"] {
        let probe = if component == "rustfmt" {
            "cargo-fmt"
        } else {
            "cargo-clippy"
        };
        if !have(probe) {
            run("rustup", &["component", "add", component], &[])?;
        }
    }
    let packages: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if !packages.is_empty() {
        let sudo = !is_root() && have("sudo");
        let apt = |args: &[&str]| -> Result {
            if sudo {
                let mut all = vec!["apt-get"];
                all.extend_from_slice(args);
                run("sudo", &all, &[("DEBIAN_FRONTEND", "noninteractive")])
            } else {
                run("apt-get", args, &[("DEBIAN_FRONTEND", "noninteractive")])
            }
        };
        apt(&["update"])?;
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend(packages);
        apt(&args)?;
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Every check the project has, in the order a failure is cheapest to find.
fn test() -> Result {
    let start = Instant::now();
    setup()?;
    run("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    ffi::check_header()?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "scomo",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "test",
            "--workspace",
            "--all-features",
            "--exclude",
            "scomo-ffi",
        ],
        &[],
    )?;
    ffi::test()?;
    // The full power-cut sweep of the executor (a debug build only samples it).
    run(
        "cargo",
        &[
            "test",
            "--release",
            "-p",
            "scomo",
            "--all-features",
            "--test",
            "sweep_flows",
            "--",
            "--nocapture",
        ],
        &[],
    )?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    for target in NO_STD_TARGETS {
        run(
            "cargo",
            &[
                "build",
                "-p",
                "scomo",
                "--no-default-features",
                "--target",
                target,
            ],
            &[],
        )?;
    }
    ffi::build_targets()?;
    firmware::test()?;
    firmware::size()?;
    eprintln!(
        "\nall checks passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
