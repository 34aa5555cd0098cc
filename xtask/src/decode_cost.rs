//! The decode cost on a Cortex-M4: instructions per byte of the DM codec, counted under
//! QEMU on the `decode-cost` image (`firmware/decode-cost`).
//!
//! QEMU runs the image with one instruction per translation block and logs every block it
//! executes (`-d exec,nochain`): one `Trace` line per instruction. The image calls a marker
//! function between its runs; the lines from one entry of the marker to the next are one
//! run's instructions. Run 0 does nothing, and its count (the marker's call and the loop)
//! is subtracted from every other run. The image prints what each run was after the last
//! marker. Reports; fails only when the image fails or the trace does not add up.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;
use crate::firmware::{cargo, dir, output};

/// The board the design's budget names (Cortex-M4) and how the image is built for it.
const MACHINE: &str = "mps2-an386";
pub(crate) const TARGET: &str = "thumbv7em-none-eabihf";
pub(crate) const PACKAGE: &str = "scomo-decode-cost";
const IMAGE: &str = "decode-cost";
pub(crate) const FEATURE: &str = "mps2";
/// The marker function, as `nm -C` names it.
const MARKER: &str = "decode_cost::mark";

/// The longest the traced run may take (it takes a few seconds).
const DEADLINE: Duration = Duration::from_secs(120);

/// The design's budgets, instructions per byte of the message decoded and walked.
const BUDGET_XML: f64 = 60.0;
const BUDGET_WBXML: f64 = 30.0;

/// One run of the image, as it describes itself.
struct Run {
    work: String,
    encoding: String,
    bytes: u64,
    input: String,
}

/// Builds the image, counts its runs under QEMU and prints the report.
pub fn report() -> Result {
    cargo(
        &[
            "build",
            "--quiet",
            "--release",
            "-p",
            PACKAGE,
            "--target",
            TARGET,
            "--no-default-features",
            "--features",
            FEATURE,
        ],
        &[],
    )?;
    let elf = dir()
        .join("target")
        .join(TARGET)
        .join("release")
        .join(IMAGE);
    let elf = elf.to_string_lossy();
    let marker = marker_address(&elf)?;
    let (counts, printed) = trace(&elf, marker)?;
    let runs: Vec<Run> = printed.lines().filter_map(parse_run).collect();
    if runs.is_empty() || counts.len() != runs.len() {
        return Err(format!(
            "decode-cost: {} runs counted, {} described:\n{printed}",
            counts.len(),
            runs.len()
        ));
    }
    let base = counts.first().copied().unwrap_or(0);
    let net = |i: usize| counts.get(i).map_or(0, |c| c.saturating_sub(base));
    println!(
        "\ndecode cost on {MACHINE} (Cortex-M4F, {TARGET}, firmware profile release: opt-level \
         \"s\", LTO), instructions counted under QEMU (one per `Trace` line of -d exec,nochain \
         with one instruction per block), the marker's {base} subtracted:"
    );
    println!(
        "  {:<14} {:<6} {:>6} {:<12} {:>10} {:>8}",
        "message", "enc", "bytes", "work", "instr", "instr/B"
    );
    for (i, run) in runs.iter().enumerate().skip(1) {
        let per_byte = net(i) as f64 / run.bytes.max(1) as f64;
        let verdict = if run.input == "every_element" && run.work == "decode+walk" {
            let budget = if run.encoding == "xml" {
                BUDGET_XML
            } else {
                BUDGET_WBXML
            };
            let met = if per_byte <= budget { "met" } else { "NOT MET" };
            format!("  budget <= {budget}: {met}")
        } else {
            String::new()
        };
        println!(
            "  {:<14} {:<6} {:>6} {:<12} {:>10} {:>8.1}{verdict}",
            run.input,
            run.encoding,
            run.bytes,
            run.work,
            net(i),
            per_byte
        );
    }
    // The package at two sizes: the cost of each extra byte, every fixed cost removed.
    for encoding in ["xml", "wbxml"] {
        let find = |input: &str| {
            runs.iter()
                .position(|r| r.input == input && r.encoding == encoding)
        };
        let (Some(small), Some(large)) = (find("package-3"), find("package-6")) else {
            continue;
        };
        if let (Some(r0), Some(r1)) = (runs.get(small), runs.get(large)) {
            let (b0, b1) = (r0.bytes, r1.bytes);
            let (c0, c1) = (net(small), net(large));
            println!(
                "  package {encoding}, 3 -> 6 rounds: {b0} -> {b1} B, {c0} -> {c1} instructions: \
                 {:.1} per extra byte",
                c1.saturating_sub(c0) as f64 / b1.saturating_sub(b0).max(1) as f64
            );
        }
    }
    Ok(())
}

/// The address of the marker function's first instruction.
fn marker_address(elf: &str) -> Result<u64> {
    let symbols = output("arm-none-eabi-nm", &["-C", elf])?;
    symbols
        .lines()
        .find_map(|line| {
            let (addr, rest) = line.split_once(' ')?;
            let name = rest.split_once(' ')?.1;
            (name == MARKER).then(|| u64::from_str_radix(addr, 16).ok())?
        })
        // Thumb: the symbol's value has bit 0 set, the program counter does not.
        .map(|addr| addr & !1)
        .ok_or_else(|| format!("no symbol {MARKER} in {elf}"))
}

/// The option that makes each translation block one instruction: `-singlestep` up to QEMU 7,
/// `-accel tcg,one-insn-per-tb=on` from QEMU 8 on.
fn one_instruction_per_block() -> Result<&'static [&'static str]> {
    let version = output("qemu-system-arm", &["--version"])?;
    let major = version
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("cannot read QEMU's version: {version}"))?;
    Ok(if major >= 8 {
        &["-accel", "tcg,one-insn-per-tb=on"]
    } else {
        &["-singlestep"]
    })
}

/// Runs the image under QEMU with the execution trace on standard error; returns the
/// instructions of each run (between consecutive entries of the marker) and what the image
/// printed.
fn trace(elf: &str, marker: u64) -> Result<(Vec<u64>, String)> {
    eprintln!("\n==> qemu-system-arm -machine {MACHINE} (traced) {elf}");
    let start = Instant::now();
    let mut child = Command::new("qemu-system-arm")
        .args(["-machine", MACHINE])
        .args(["-display", "none", "-monitor", "none", "-serial", "null"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(one_instruction_per_block()?)
        .args(["-d", "exec,nochain", "-kernel", elf])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("qemu-system-arm: no pipes".into());
    };
    let printed = thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stdout).read_to_string(&mut text);
        text
    });
    let counted = thread::spawn(move || count(BufReader::with_capacity(1 << 20, stderr), marker));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the decode-cost image did not end within {} s: killed",
                DEADLINE.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    };
    let printed = printed.join().unwrap_or_default();
    let (counts, other) = counted
        .join()
        .map_err(|_| "the trace reader panicked".to_string())?;
    eprintln!("    ({:.1} s)", start.elapsed().as_secs_f64());
    if !status.success() {
        return Err(format!(
            "the decode-cost image failed ({status}):\n{printed}{other}"
        ));
    }
    Ok((counts, printed))
}

/// Counts the `Trace` lines between consecutive entries of the marker; also returns the
/// other lines of the log (QEMU's own messages).
fn count(mut log: impl BufRead, marker: u64) -> (Vec<u64>, String) {
    let mut counts: Vec<u64> = Vec::new();
    let mut other = String::new();
    let mut line = Vec::new();
    let mut since: Option<u64> = None;
    loop {
        line.clear();
        match log.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !line.starts_with(b"Trace ") {
            other.push_str(&String::from_utf8_lossy(&line));
            continue;
        }
        if pc(&line) == Some(marker) {
            if let Some(n) = since {
                counts.push(n);
            }
            since = Some(0);
        }
        if let Some(n) = since.as_mut() {
            *n += 1;
        }
    }
    (counts, other)
}

/// The program counter of a `Trace` line: `Trace 0: 0x... [cs_base/pc/flags/cflags] symbol`.
fn pc(line: &[u8]) -> Option<u64> {
    let open = line.iter().position(|&b| b == b'[')?;
    let mut fields = line.get(open + 1..)?.split(|&b| b == b'/' || b == b']');
    let pc = fields.nth(1)?;
    u64::from_str_radix(std::str::from_utf8(pc).ok()?, 16).ok()
}

/// `decode-cost run=I work=W encoding=E bytes=N input=NAME`.
fn parse_run(line: &str) -> Option<Run> {
    let rest = line.strip_prefix("decode-cost run=")?;
    let field = |key: &str| {
        rest.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(Run {
        work: field("work")?,
        encoding: field("encoding")?,
        bytes: field("bytes")?.parse().ok()?,
        input: field("input")?,
    })
}
