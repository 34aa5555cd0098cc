//! The microcontroller side: the `firmware/` workspace's checks, its on-target tests under
//! QEMU (through the host serial bridge, `bridge/`), and the size report.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Result, root};

/// A board the firmware runs on: its QEMU machine, its target, the cargo feature of the
/// `scomo-qemu` package that selects it, and, for a board with a UART, the feature of the
/// seed-flow image and the longest its run may take.
struct Board {
    machine: &'static str,
    target: &'static str,
    feature: &'static str,
    flows: Option<(&'static str, &'static str)>,
}

/// Every board, each with its own CPU: Cortex-M3, Cortex-M4F and Cortex-M0.
const BOARDS: &[Board] = &[
    Board {
        machine: "lm3s6965evb",
        target: "thumbv7m-none-eabi",
        feature: "scomo-qemu/lm3s6965",
        flows: Some(("lm3s6965", "60")),
    },
    Board {
        machine: "mps2-an386",
        target: "thumbv7em-none-eabihf",
        feature: "scomo-qemu/mps2",
        // About 8 s of 30 KiB/s UART traffic; the rest is headroom for a loaded machine.
        flows: Some(("mps2", "120")),
    },
    Board {
        machine: "microbit",
        target: "thumbv6m-none-eabi",
        feature: "scomo-qemu/microbit",
        flows: None,
    },
];

/// The longest one firmware image may run under QEMU before the bridge kills it.
const QEMU_DEADLINE_S: &str = "60";

/// The longest one `cargo` step of the firmware may take, builds included; a backstop for a
/// hang outside QEMU (the bridge's own deadline catches hangs of the firmware).
const STEP_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// The package and image of the seed flows (run through the bridge's `seed-flows` backend).
const FLOWS_PACKAGE: &str = "scomo-seed-flows";
const FLOWS_IMAGE: &str = "seed-flows";

/// A board the C seed-flow image runs on: C firmware (`firmware/c/`, built by its Makefile
/// with `BOARD=machine`) linking the `scomo-ffi` static library, built for `target` with
/// cargo profile `profile` and `features`, through `ffi/include/scomo.h`.
struct CBoard {
    machine: &'static str,
    target: &'static str,
    profile: &'static str,
    features: &'static str,
    deadline_s: &'static str,
}

/// lm3s6965evb (64 KiB of RAM, 256 KiB of flash): the library's `small` capacities, built
/// for size. mps2-an386: the default capacities at opt-level 3.
const C_BOARDS: &[CBoard] = &[
    CBoard {
        machine: "lm3s6965evb",
        target: "thumbv7m-none-eabi",
        profile: "min-size",
        features: "small",
        deadline_s: "60",
    },
    CBoard {
        machine: "mps2-an386",
        target: "thumbv7em-none-eabihf",
        profile: "release",
        features: "",
        deadline_s: "120",
    },
];

/// The image that logs through defmt: the core with its `defmt` feature, `defmt-semihosting`
/// as the global logger, on lm3s6965evb; its standard output is decoded by `defmt-print`.
const DEFMT_PACKAGE: &str = "scomo-defmt-log";
const DEFMT_IMAGE: &str = "defmt-log";
const DEFMT_MACHINE: &str = "lm3s6965evb";
const DEFMT_TARGET: &str = "thumbv7m-none-eabi";

/// The log lines the defmt image must print, decoded: (level, text the line contains). One
/// for each kind of log point of the core the image reaches, in the order it reaches them.
const DEFMT_LINES: &[(&str, &str)] = &[
    ("WARN", "Package #0 refused: BadDigest"),
    (
        "DEBUG",
        "Package #0 accepted: session 1A2B, digest with the Resync nonce",
    ),
    ("WARN", "Package #0 refused: AlreadyServed"),
    ("INFO", "DM session 1A2B started by the server (Alert 1200)"),
    ("TRACE", "DM session 1A2B: server message of "),
    ("WARN", "Exec Install on P1 refused: 412 IncompleteCommand"),
    ("INFO", "Exec RemoveDelivered on P1 accepted as job 1"),
    (
        "INFO",
        "DM session 1A2B ended: Completed; 2 messages sent, 2 received",
    ),
    (
        "INFO",
        "state record read: 1 jobs to finish, 0 results to report",
    ),
    (
        "INFO",
        "job 1 (RemoveDelivered on P1) finished: result 1200",
    ),
    ("INFO", "started by the device (Alert 1201)"),
    (
        "INFO",
        "ended: Completed; 1 messages sent, 1 received, 1 alerts acknowledged",
    ),
    ("INFO", "defmt-log: done"),
];

/// The image the size report measures, and the file that says what it links.
const SIZE_IMAGE: &str = "size-probe";
const SIZE_IMAGE_SOURCE: &str = "size-probe/src/main.rs";

pub(crate) fn dir() -> PathBuf {
    root().join("firmware")
}

/// Runs `cargo` in `firmware/` (so its `.cargo/config.toml` applies), echoing the command,
/// and kills it when it outlives [`STEP_DEADLINE`].
pub(crate) fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("\n==> (firmware) cargo {}", args.join(" "));
    let start = Instant::now();
    let mut child = Command::new("cargo")
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir())
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > STEP_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`cargo {}` in firmware/ did not end within {} s: killed",
                args.join(" "),
                STEP_DEADLINE.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    };
    eprintln!("    ({:.1} s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`cargo {}` in firmware/ failed ({status})",
            args.join(" ")
        ))
    }
}

/// Formatting and clippy (`-D warnings`) for every board, then the on-target tests of every
/// board under QEMU, then the seed flows on every board with a UART (each run killed at its
/// deadline: a hang fails the step instead of blocking it).
pub fn test() -> Result {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    for board in BOARDS {
        cargo(
            &[
                "clippy",
                "--all-targets",
                "--target",
                board.target,
                "--no-default-features",
                "--features",
                board.feature,
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )?;
    }
    for board in BOARDS {
        let Some((feature, _)) = board.flows else {
            continue;
        };
        cargo(
            &[
                "clippy",
                "-p",
                FLOWS_PACKAGE,
                "--all-targets",
                "--target",
                board.target,
                "--no-default-features",
                "--features",
                feature,
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )?;
    }
    cargo(
        &[
            "clippy",
            "-p",
            DEFMT_PACKAGE,
            "--all-targets",
            "--target",
            DEFMT_TARGET,
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The core's defmt log points as the firmware compiles them (host builds use `log`).
    crate::run(
        "cargo",
        &[
            "clippy",
            "-p",
            "scomo",
            "--no-default-features",
            "--features",
            "defmt,log",
            "--target",
            DEFMT_TARGET,
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(
        &[
            "clippy",
            "-p",
            crate::decode_cost::PACKAGE,
            "--all-targets",
            "--target",
            crate::decode_cost::TARGET,
            "--no-default-features",
            "--features",
            crate::decode_cost::FEATURE,
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The runner builds the bridge itself when needed; building it first keeps its compile
    // time out of the first QEMU run.
    crate::run("cargo", &["build", "--quiet", "-p", "scomo-bridge"], &[])?;
    for board in BOARDS {
        eprintln!(
            "\n--- on-target tests on {} ({})",
            board.machine, board.target
        );
        cargo(
            &[
                "test",
                "--target",
                board.target,
                "--no-default-features",
                "--features",
                board.feature,
            ],
            &[("SCOMO_QEMU_TIMEOUT", QEMU_DEADLINE_S)],
        )?;
    }
    defmt_log()?;
    let mut sizes = Vec::new();
    for board in BOARDS {
        let Some((feature, deadline)) = board.flows else {
            continue;
        };
        eprintln!(
            "\n--- seed flows on {} ({}) against the test server",
            board.machine, board.target
        );
        cargo(
            &[
                "run",
                "--release",
                "-p",
                FLOWS_PACKAGE,
                "--target",
                board.target,
                "--no-default-features",
                "--features",
                feature,
                "--",
                "--backend",
                "seed-flows",
            ],
            &[("SCOMO_QEMU_TIMEOUT", deadline)],
        )?;
        let elf = dir()
            .join("target")
            .join(board.target)
            .join("release")
            .join(FLOWS_IMAGE);
        sizes.push((board.machine, sections(&elf)?));
    }
    let mut c_images = Vec::new();
    for board in C_BOARDS {
        c_images.push((board, c_flows(board)?));
    }
    println!("\nseed-flows image (profile release: opt-level \"s\", LTO, semihosting console):");
    for (machine, s) in &sizes {
        println!(
            "  {machine:<12} flash {:>7} B, static RAM {:>7} B (emulated NOR flash included, stack not)",
            s.flash(),
            s.ram()
        );
    }
    println!(
        "C seed-flow image (gcc -Os, newlib-nano, agent storage and emulated NOR flash included):"
    );
    for (board, s) in &c_images {
        println!(
            "  {:<12} flash {:>7} B, static RAM {:>7} B (scomo-ffi profile {}{})",
            board.machine,
            s.flash(),
            s.ram(),
            board.profile,
            if board.features.is_empty() {
                String::new()
            } else {
                format!(", features {}", board.features)
            }
        );
    }
    crate::decode_cost::report()
}

/// `defmt-print` (installed with cargo when missing): the one on `PATH`, else cargo's.
fn defmt_print() -> Result<String> {
    if crate::have("defmt-print") {
        return Ok("defmt-print".into());
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let local = cargo_home.join("bin").join("defmt-print");
    if !local.exists() {
        crate::run("cargo", &["install", "--locked", "defmt-print"], &[])?;
    }
    Ok(local.to_string_lossy().into_owned())
}

/// Runs the defmt image under QEMU (through the bridge, killed at its deadline), decodes its
/// standard output with `defmt-print`, and fails unless it exits 0 and every line of
/// [`DEFMT_LINES`] is there.
fn defmt_log() -> Result {
    eprintln!("\n--- the core's log points through defmt on {DEFMT_MACHINE} ({DEFMT_TARGET})");
    let print = defmt_print()?;
    cargo(
        &[
            "build",
            "--release",
            "-p",
            DEFMT_PACKAGE,
            "--target",
            DEFMT_TARGET,
        ],
        &[],
    )?;
    let elf = dir()
        .join("target")
        .join(DEFMT_TARGET)
        .join("release")
        .join(DEFMT_IMAGE);
    let elf = elf.to_string_lossy().into_owned();
    eprintln!("\n==> qemu-bridge --machine {DEFMT_MACHINE} {elf} | {print} -e {elf}");
    let ran = Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "scomo-bridge",
            "--bin",
            "qemu-bridge",
            "--",
        ])
        .args([
            "--machine",
            DEFMT_MACHINE,
            "--timeout",
            QEMU_DEADLINE_S,
            &elf,
        ])
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the bridge: {e}"))?;
    let mut decoder = Command::new(&print)
        .args(["-e", &elf])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {print}: {e}"))?;
    if let Some(mut stdin) = decoder.stdin.take() {
        stdin
            .write_all(&ran.stdout)
            .map_err(|e| format!("{print}: {e}"))?;
    }
    let decoded = decoder
        .wait_with_output()
        .map_err(|e| format!("{print}: {e}"))?;
    let text = String::from_utf8_lossy(&decoded.stdout);
    eprint!("{text}");
    if !ran.status.success() {
        return Err(format!("the {DEFMT_IMAGE} image failed ({})", ran.status));
    }
    if !decoded.status.success() {
        return Err(format!("{print} failed ({})", decoded.status));
    }
    let missing: Vec<String> = DEFMT_LINES
        .iter()
        .filter(|(level, want)| {
            !text
                .lines()
                .any(|line| line.starts_with(level) && line.contains(want))
        })
        .map(|(level, want)| format!("  {level} ... {want}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the decoded defmt log lacks these lines:\n{}",
            missing.join("\n")
        ));
    }
    eprintln!(
        "    the decoded log holds all {} expected lines",
        DEFMT_LINES.len()
    );
    Ok(())
}

/// Builds the C seed-flow image for `board` and runs the seed flows with it (killed at its
/// deadline).
fn c_flows(board: &CBoard) -> Result<Sections> {
    eprintln!(
        "\n--- seed flows on {} ({}) in C, through the C API",
        board.machine, board.target
    );
    let mut args = vec![
        "rustc",
        "--quiet",
        "--profile",
        board.profile,
        "-p",
        "scomo-ffi",
        "--target",
        board.target,
        "--crate-type",
        "staticlib",
    ];
    if !board.features.is_empty() {
        args.extend(["--features", board.features]);
    }
    crate::run("cargo", &args, &[])?;
    let lib = root()
        .join("target")
        .join(board.target)
        .join(board.profile)
        .join("libscomo_ffi.a");
    let elf = dir()
        .join("target")
        .join("c")
        .join(format!("seed-flows-c-{}.elf", board.machine));
    let (lib, elf) = (lib.to_string_lossy(), elf.to_string_lossy());
    let c_dir = dir().join("c");
    crate::run(
        "make",
        &[
            "-C",
            &c_dir.to_string_lossy(),
            &format!("BOARD={}", board.machine),
            &format!("SCOMO_LIB={lib}"),
            &format!("OUT={elf}"),
        ],
        &[],
    )?;
    crate::run(
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "scomo-bridge",
            "--bin",
            "qemu-bridge",
            "--",
            "--machine",
            board.machine,
            "--timeout",
            board.deadline_s,
            "--backend",
            "seed-flows",
            &elf,
        ],
        &[],
    )?;
    sections(Path::new(&*elf))
}

/// Sizes of an ELF image's sections, in bytes.
#[derive(Default)]
struct Sections {
    vector_table: u64,
    text: u64,
    rodata: u64,
    data: u64,
    bss: u64,
    uninit: u64,
}

impl Sections {
    /// Everything stored in flash: the vector table, code, constants and the initial values
    /// of `.data`.
    fn flash(&self) -> u64 {
        self.vector_table + self.text + self.rodata + self.data
    }

    /// Static RAM: `.data`, `.bss` and `.uninit` (the stack is not counted).
    fn ram(&self) -> u64 {
        self.data + self.bss + self.uninit
    }
}

pub(crate) fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Section sizes from `arm-none-eabi-size -A`.
fn sections(elf: &Path) -> Result<Sections> {
    let text = output("arm-none-eabi-size", &["-A", "-d", &elf.to_string_lossy()])?;
    let mut s = Sections::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(size)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        match name {
            ".vector_table" | ".isr_vector" => s.vector_table += size,
            ".text" | ".gnu.sgstubs" => s.text += size,
            ".rodata" => s.rodata += size,
            ".data" => s.data += size,
            ".bss" => s.bss += size,
            ".uninit" | ".noinit" => s.uninit += size,
            _ => {}
        }
    }
    Ok(s)
}

/// Code and constant bytes per crate, from the symbol table (`arm-none-eabi-nm`), one symbol
/// per address (aliases such as `memcpy` count once). The crate is the first path segment of
/// the demangled name (for `<T as Trait>::f`, of `T`, or of `Trait` when `T` has no path);
/// symbols without a path are cortex-m-rt's startup code and the vector table. After LTO, a
/// function inlined into another counts in the crate of the function it was inlined into.
fn by_crate(elf: &Path) -> Result<Vec<(String, u64)>> {
    let text = output(
        "arm-none-eabi-nm",
        &["--print-size", "--size-sort", "-C", &elf.to_string_lossy()],
    )?;
    let mut symbols: Vec<(u64, u64, String)> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(addr), Some(size), Some(kind)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !matches!(kind, "t" | "T" | "r" | "R") {
            continue;
        }
        let (Ok(addr), Ok(size)) = (u64::from_str_radix(addr, 16), u64::from_str_radix(size, 16))
        else {
            continue;
        };
        let krate = crate_of(&fields.collect::<Vec<_>>().join(" "));
        match symbols.iter_mut().find(|(a, _, _)| *a == addr) {
            Some(known) if known.2 == STARTUP => known.2 = krate,
            Some(_) => {}
            None => symbols.push((addr, size, krate)),
        }
    }
    let mut totals: Vec<(String, u64)> = Vec::new();
    for (_, size, krate) in symbols {
        match totals.iter_mut().find(|(k, _)| *k == krate) {
            Some((_, total)) => *total += size,
            None => totals.push((krate, size)),
        }
    }
    totals.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    Ok(totals)
}

/// What symbols without a crate path are counted as.
const STARTUP: &str = "(startup+vectors)";

/// The crate a demangled symbol name belongs to (see [`by_crate`]).
fn crate_of(name: &str) -> String {
    if name.starts_with("__aeabi_") || ["memcpy", "memmove", "memset", "memcmp"].contains(&name) {
        return "compiler_builtins".into();
    }
    if name.starts_with(".L") {
        return "(unnamed constants)".into();
    }
    let name = name.trim_start_matches(['<', '&', '[', '*']);
    let name = name.strip_prefix("mut ").unwrap_or(name);
    let (self_ty, tr) = name.split_once(" as ").unwrap_or((name, ""));
    [self_ty, tr]
        .iter()
        .filter_map(|part| part.split_once("::").map(|(k, _)| k))
        .find(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .unwrap_or(STARTUP)
        .to_string()
}

/// What the size image links, as its source says (its `//! - ` lines, continued on
/// `//!   ` lines).
fn links() -> Result<Vec<String>> {
    let path = dir().join(SIZE_IMAGE_SOURCE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(item) = line.strip_prefix("//! - ") {
            items.push(item.to_string());
        } else if let (Some(more), Some(last)) = (line.strip_prefix("//!   "), items.last_mut()) {
            last.push(' ');
            last.push_str(more.trim());
        }
    }
    Ok(items)
}

/// `cargo xtask size`: builds the size image with the `min-size` profile for each CPU and
/// prints its flash and static RAM, with a breakdown.
pub fn size() -> Result {
    let mut rows = Vec::new();
    for board in BOARDS {
        cargo(
            &[
                "build",
                "--quiet",
                "-p",
                SIZE_IMAGE,
                "--profile",
                "min-size",
                "--target",
                board.target,
            ],
            &[],
        )?;
        let elf = dir()
            .join("target")
            .join(board.target)
            .join("min-size")
            .join(SIZE_IMAGE);
        rows.push((board.target, sections(&elf)?, by_crate(&elf)?));
    }
    println!(
        "\nsize report: image `{SIZE_IMAGE}` (firmware/{SIZE_IMAGE_SOURCE}), profile min-size \
         (opt-level \"z\", LTO, codegen-units 1, panic abort), no console, no logs"
    );
    println!("it links, and so measures, only:");
    for line in links()? {
        println!("  - {line}");
    }
    println!(
        "\n  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8}",
        "target", "flash", "vectors", "text", "rodata", "data", "RAM", "data", "bss"
    );
    for (target, s, _) in &rows {
        println!(
            "  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8}",
            target,
            s.flash(),
            s.vector_table,
            s.text,
            s.rodata,
            s.data,
            s.ram(),
            s.data,
            s.bss + s.uninit
        );
    }
    println!(
        "  (bytes; flash = vectors + text + rodata + data's initial values; RAM = data + bss, \
         stack not counted)"
    );
    println!(
        "  design budget for the finished core: flash <= 48 KiB on \
         thumbv7em-none-eabihf with MD5 and SHA-256 counted apart, static RAM <= 12 KiB"
    );
    for (target, _, crates) in &rows {
        let parts: Vec<String> = crates.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  code+rodata by symbol's crate, {target} (inlined code counts where it was inlined): {}",
            parts.join(", ")
        );
    }
    Ok(())
}
