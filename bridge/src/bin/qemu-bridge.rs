//! `qemu-bridge [--machine NAME] [--timeout SECONDS] [--backend test] ELF`: runs a firmware
//! image under QEMU, serves the framed requests on its UART0 (`scomo::drivers::serial`), and
//! exits with the firmware's exit code (124 when the deadline passed, 2 when the firmware
//! passed but the host side failed).
//!
//! The backend answers the requests; `test` (the default, and for now the only one) is the
//! scripted [`scomo_bridge::TestBackend`]. An image that never uses the UART just runs.
//!
//! This is the cargo runner of the `firmware/` workspace. The default deadline is 60 s, or
//! the value of `SCOMO_QEMU_TIMEOUT` (seconds). A relative ELF path is resolved against
//! `QEMU_BRIDGE_CWD` when set (the runner script passes the directory cargo ran it in).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use scomo_bridge::serve::{self, Stats};
use scomo_bridge::{TestBackend, qemu};

const USAGE: &str = "usage: qemu-bridge [--machine NAME] [--timeout SECONDS] [--backend test] ELF";

struct Args {
    machine: String,
    timeout: Duration,
    elf: PathBuf,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut machine = "lm3s6965evb".to_string();
    let mut timeout = match std::env::var("SCOMO_QEMU_TIMEOUT") {
        Ok(s) => seconds(&s)?,
        Err(_) => Duration::from_secs(60),
    };
    let mut elf = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--machine" => machine = args.next().ok_or(USAGE)?,
            "--timeout" => timeout = seconds(&args.next().ok_or(USAGE)?)?,
            "--backend" => match args.next().as_deref() {
                Some("test") => {}
                _ => return Err(format!("the only backend is `test`\n{USAGE}")),
            },
            _ if elf.is_none() && !arg.starts_with("--") => elf = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg}\n{USAGE}")),
        }
    }
    let mut elf = elf.ok_or(USAGE)?;
    if let Some(cwd) = std::env::var_os("QEMU_BRIDGE_CWD").filter(|_| elf.is_relative()) {
        elf = PathBuf::from(cwd).join(elf);
    }
    Ok(Args {
        machine,
        timeout,
        elf,
    })
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("not a number of seconds: {s}"))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("qemu-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let run = qemu::Run {
        machine: &args.machine,
        elf: &args.elf,
        deadline: args.timeout,
    };
    let mut backend = TestBackend::default();
    let mut stats = Stats::default();
    let served = |stream| {
        let mut io = FromStd::new(stream);
        serve::serve(&mut io, &mut backend)
            .map(|s| stats = s)
            .map_err(|e| format!("serial line: {e}"))
    };
    let report = match qemu::run(&run, served) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("qemu-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let name = args
        .elf
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match (&report.outcome, &report.served) {
        (qemu::Outcome::TimedOut, _) => eprintln!(
            "qemu-bridge: {name} on {}: no exit within {:.0} s, QEMU killed",
            args.machine,
            args.timeout.as_secs_f64()
        ),
        (_, Some(Err(e))) => eprintln!("qemu-bridge: {name} on {}: host side: {e}", args.machine),
        _ => {}
    }
    let traffic = if stats == Stats::default() {
        String::new()
    } else {
        format!(
            "; {} requests ({} bad), {} B from and {} B to the firmware",
            stats.exchanges + stats.bad_requests,
            stats.bad_requests,
            stats.bytes_in,
            stats.bytes_out
        )
    };
    eprintln!(
        "qemu-bridge: {name} on {}: exit {} after {:.2} s{traffic}",
        args.machine,
        report.exit_code(),
        report.elapsed.as_secs_f64()
    );
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(u8::MAX))
}
