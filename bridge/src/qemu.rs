//! Runs a firmware image under `qemu-system-arm` with its UART0 on a loopback socket.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The QEMU machines the firmware supports: (name, the QEMU arguments that select it).
pub const MACHINES: &[(&str, &[&str])] = &[
    (
        "lm3s6965evb",
        &["-machine", "lm3s6965evb", "-cpu", "cortex-m3"],
    ),
    ("mps2-an385", &["-machine", "mps2-an385"]),
    ("mps2-an386", &["-machine", "mps2-an386"]),
    ("microbit", &["-machine", "microbit"]),
];

/// The exit code reported when the deadline passed and QEMU was killed (as coreutils'
/// `timeout` does).
pub const EXIT_TIMED_OUT: i32 = 124;

/// The exit code reported when the firmware exited 0 but the host side failed (the server
/// function returned an error).
pub const EXIT_HOST_FAILED: i32 = 2;

/// How often the host looks at QEMU while waiting for it.
const POLL: Duration = Duration::from_millis(5);

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// A name from [`MACHINES`].
    pub machine: &'a str,
    /// The firmware image (an ELF file).
    pub elf: &'a Path,
    /// The longest the whole run may take, QEMU's start included.
    pub deadline: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// QEMU exited with this code: the firmware's semihosting exit code (101 for a panic), or
    /// QEMU's own failure code.
    Exited(i32),
    /// QEMU was ended by this signal.
    Signalled(i32),
    /// The deadline passed; QEMU was killed.
    TimedOut,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How QEMU ended.
    pub outcome: Outcome,
    /// What the server function returned; `None` when QEMU never connected to the socket.
    pub served: Option<Result<(), String>>,
    /// Wall time from QEMU's start to its end.
    pub elapsed: Duration,
}

impl Report {
    /// The process exit code that sums the run up: the firmware's code, 124 on timeout,
    /// 128 + N for signal N, and [`EXIT_HOST_FAILED`] when the firmware passed but the host
    /// side failed.
    pub fn exit_code(&self) -> i32 {
        match (&self.outcome, &self.served) {
            (Outcome::Exited(0), Some(Err(_))) => EXIT_HOST_FAILED,
            (Outcome::Exited(code), _) => *code,
            (Outcome::Signalled(signal), _) => 128 + signal,
            (Outcome::TimedOut, _) => EXIT_TIMED_OUT,
        }
    }
}

/// The QEMU arguments selecting `machine`, if it is known.
pub fn machine_args(machine: &str) -> Option<&'static [&'static str]> {
    MACHINES
        .iter()
        .find(|(name, _)| *name == machine)
        .map(|(_, args)| *args)
}

/// Runs `run.elf` under QEMU and calls `serve` with the stream connected to the firmware's
/// UART0 (on its own thread; it should return at end of stream, which comes when QEMU exits).
///
/// The QEMU program is `qemu-system-arm`, or the value of the `QEMU` environment variable.
/// QEMU's standard output (the firmware's semihosting console) and error are inherited.
///
/// # Errors
/// The machine is unknown, or QEMU or the listener cannot be started.
pub fn run<F>(run: &Run<'_>, serve: F) -> io::Result<Report>
where
    F: FnOnce(TcpStream) -> Result<(), String> + Send,
{
    let machine = machine_args(run.machine).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown machine {}", run.machine),
        )
    })?;
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let qemu = std::env::var("QEMU").unwrap_or_else(|_| "qemu-system-arm".into());
    let start = Instant::now();
    let deadline = start + run.deadline;
    let mut child = Command::new(&qemu)
        .args(machine)
        .args(["-display", "none", "-monitor", "none"])
        .args(["-serial", "chardev:uart0", "-chardev"])
        .arg(format!(
            "socket,id=uart0,host=127.0.0.1,port={port},nodelay=on"
        ))
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(run.elf)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start {qemu}: {e}")))?;

    let stream = match accept(&listener, &mut child, deadline) {
        Ok(Accepted::Stream(stream)) => stream,
        Ok(Accepted::Exited(status)) => {
            return Ok(Report {
                outcome: outcome(status),
                served: None,
                elapsed: start.elapsed(),
            });
        }
        Ok(Accepted::TimedOut) => {
            stop(&mut child);
            return Ok(Report {
                outcome: Outcome::TimedOut,
                served: None,
                elapsed: start.elapsed(),
            });
        }
        Err(e) => {
            stop(&mut child);
            return Err(e);
        }
    };
    drop(listener);
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;

    thread::scope(|scope| {
        let server = scope.spawn(move || serve(stream));
        // Killing QEMU closes its end of the socket, which ends the server's reads and writes.
        let ended = wait(&mut child, deadline);
        if ended.is_none() {
            stop(&mut child);
        }
        let served = server
            .join()
            .unwrap_or_else(|_| Err("the server thread panicked".into()));
        Ok(Report {
            outcome: ended.map_or(Outcome::TimedOut, outcome),
            served: Some(served),
            elapsed: start.elapsed(),
        })
    })
}

enum Accepted {
    Stream(TcpStream),
    Exited(ExitStatus),
    TimedOut,
}

/// Waits for QEMU to connect, to exit first, or for the deadline.
fn accept(listener: &TcpListener, child: &mut Child, deadline: Instant) -> io::Result<Accepted> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => return Ok(Accepted::Stream(stream)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if let Some(status) = child.try_wait()? {
            return Ok(Accepted::Exited(status));
        }
        if Instant::now() >= deadline {
            return Ok(Accepted::TimedOut);
        }
        thread::sleep(POLL);
    }
}

/// Waits for QEMU to exit; `None` when the deadline passed first (or QEMU cannot be
/// waited for).
fn wait(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Kills QEMU and reaps it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn outcome(status: ExitStatus) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited(code),
        (None, Some(signal)) => Outcome::Signalled(signal),
        (None, None) => Outcome::Exited(EXIT_HOST_FAILED),
    }
}
