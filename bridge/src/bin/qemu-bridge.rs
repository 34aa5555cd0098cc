//! `qemu-bridge [--machine NAME] [--timeout SECONDS] [--backend test|seed-flows] ELF`: runs
//! a firmware image under QEMU, serves the framed requests on its UART0
//! (`scomo::drivers::serial`), and exits with the firmware's exit code (124 when the deadline
//! passed, 2 when the firmware passed but the host side failed).
//!
//! The backend answers the requests: `test` (the default) is the scripted
//! [`scomo_bridge::TestBackend`]; `seed-flows` starts the DM test server and takes the
//! `seed-flows` image through the seed flows ([`scomo_bridge::seed_flows`]), failing the run
//! when a check of what the server received fails. An image that never uses the UART just
//! runs.
//!
//! This is the cargo runner of the `firmware/` workspace. The default deadline is 60 s, or
//! the value of `SCOMO_QEMU_TIMEOUT` (seconds). A relative ELF path is resolved against
//! `QEMU_BRIDGE_CWD` when set (the runner script passes the directory cargo ran it in).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use scomo_bridge::seed_flows::{self, SeedFlows};
use scomo_bridge::serve::{self, Stats};
use scomo_bridge::{Backend, TestBackend, qemu};

const USAGE: &str =
    "usage: qemu-bridge [--machine NAME] [--timeout SECONDS] [--backend test|seed-flows] ELF";

/// Which backend answers the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendArg {
    Test,
    SeedFlows,
}

struct Args {
    machine: String,
    timeout: Duration,
    backend: BackendArg,
    elf: PathBuf,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut machine = "lm3s6965evb".to_string();
    let mut timeout = match std::env::var("SCOMO_QEMU_TIMEOUT") {
        Ok(s) => seconds(&s)?,
        Err(_) => Duration::from_secs(60),
    };
    let mut elf = None;
    let mut backend = BackendArg::Test;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--machine" => machine = args.next().ok_or(USAGE)?,
            "--timeout" => timeout = seconds(&args.next().ok_or(USAGE)?)?,
            "--backend" => {
                backend = match args.next().as_deref() {
                    Some("test") => BackendArg::Test,
                    Some("seed-flows") => BackendArg::SeedFlows,
                    _ => return Err(format!("unknown backend\n{USAGE}")),
                }
            }
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
        backend,
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

/// Runs the image with `backend` answering; `verdict` judges the host side once the
/// firmware has closed the line.
fn run_with<B: Backend + Send>(
    args: &Args,
    backend: &mut B,
    verdict: impl FnOnce(&B) -> Result<(), String> + Send,
) -> Result<(qemu::Report, Stats), String> {
    let run = qemu::Run {
        machine: &args.machine,
        elf: &args.elf,
        deadline: args.timeout,
    };
    let mut stats = Stats::default();
    let served = |stream| {
        let mut io = FromStd::new(stream);
        let served = serve::serve(&mut io, backend);
        match served {
            Ok(s) => stats = s,
            Err(e) => return Err(format!("serial line: {e}")),
        }
        verdict(backend)
    };
    let report = qemu::run(&run, served).map_err(|e| e.to_string())?;
    Ok((report, stats))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("qemu-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let ran = match args.backend {
        BackendArg::Test => run_with(&args, &mut TestBackend::default(), |_| Ok(())),
        BackendArg::SeedFlows => {
            let Some(profile) = seed_flows::profile(&args.machine) else {
                eprintln!("qemu-bridge: no seed-flow profile for {}", args.machine);
                return ExitCode::from(2);
            };
            let mut flows = match SeedFlows::start(profile) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("qemu-bridge: cannot start the test server: {e}");
                    return ExitCode::from(2);
                }
            };
            flows.verbose = std::env::var_os("SCOMO_FLOWS_VERBOSE").is_some();
            let ran = run_with(&args, &mut flows, SeedFlows::finish);
            eprintln!(
                "qemu-bridge: seed flows on {} (pushed package {} B, downloaded package {} B, {} {:?}):\n{}",
                profile.machine,
                profile.pushed,
                profile.downloaded,
                profile.encoding,
                profile.auth,
                flows.summary()
            );
            ran
        }
    };
    let (report, stats) = match ran {
        Ok(r) => r,
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
