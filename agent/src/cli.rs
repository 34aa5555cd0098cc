//! The command-line contract of `scomo-agent` (tests outside the project rely on it).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A SCOMO device agent: runs OMA DM sessions with a server, carries out the software
/// management operations it asks for (download, install, activate, deactivate, remove) and
/// reports their results. State lives in a directory; configuration comes from flags.
#[derive(Debug, Parser)]
#[command(name = "scomo-agent", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The agent's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one DM session (server-initiated with --notification, client-initiated
    /// otherwise), carry out the accepted jobs, and report their results in follow-up
    /// client-initiated sessions until nothing is pending or --max-sessions is reached.
    ///
    /// Exit codes: 0 every session ended normally and nothing is queued; 2 usage error;
    /// 3 notification rejected; 4 server unreachable or transport error; 5 results still
    /// queued after --max-sessions; 6 authentication failed; 7 state directory unusable or
    /// locked.
    Session(Box<SessionArgs>),
    /// Print the software inventory as JSON on stdout.
    Inventory(InventoryArgs),
}

/// DM message encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// `application/vnd.syncml.dm+xml`.
    Xml,
    /// `application/vnd.syncml.dm+wbxml`.
    Wbxml,
}

/// Client authentication schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// `syncml:auth-basic`.
    Basic,
    /// `syncml:auth-md5` (digest with a server-given nonce).
    Md5,
    /// HMAC over every message (`x-syncml-hmac` header).
    Hmac,
}

/// Options of `session`.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// The DM server URL (http:// or https://).
    #[arg(long)]
    pub server: String,
    /// The state directory (created if missing; one agent at a time).
    #[arg(long)]
    pub state: PathBuf,
    /// The device id (DevInfo/DevId); default: one generated at first use and kept in the
    /// state directory. The flag wins.
    #[arg(long)]
    pub dev_id: Option<String>,
    /// The DM message encoding.
    #[arg(long, value_enum, default_value = "xml")]
    pub encoding: EncodingArg,
    /// A Package #0 file: start a server-initiated session (Alert 1200) answering it.
    #[arg(long)]
    pub notification: Option<PathBuf>,
    /// Ask the server for the component with this PkgID (device-initiated request).
    #[arg(long)]
    pub request: Option<String>,
    /// The user name the device presents (CLCRED).
    #[arg(long)]
    pub client_user: Option<String>,
    /// The device's password (or --client-password-file, or SCOMO_CLIENT_PASSWORD).
    #[arg(long, conflicts_with = "client_password_file")]
    pub client_password: Option<String>,
    /// A file holding the device's password.
    #[arg(long)]
    pub client_password_file: Option<PathBuf>,
    /// The client authentication scheme.
    #[arg(long, value_enum, default_value = "md5")]
    pub auth: AuthArg,
    /// The server id (DMAcc ServerID) the device requires and checks Package #0 against.
    #[arg(long)]
    pub server_id: Option<String>,
    /// The server's password (SRVCRED) (or --server-password-file, or
    /// SCOMO_SERVER_PASSWORD): the server must present MD5 credentials made with it.
    #[arg(long, conflicts_with = "server_password_file")]
    pub server_password: Option<String>,
    /// A file holding the server's password.
    #[arg(long)]
    pub server_password_file: Option<PathBuf>,
    /// A command that installs, activates, deactivates and removes components (see the
    /// README); default: install into a folder under the state directory.
    #[arg(long)]
    pub installer: Option<String>,
    /// The most DM sessions one run opens.
    #[arg(long, default_value_t = 8)]
    pub max_sessions: u32,
    /// Backoff base between retries, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub retry_delay_ms: u64,
    /// PEM certificates of the authorities to trust for https:// (the DM server, download
    /// and notify hosts) instead of the built-in web PKI roots: for a private authority.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// Options of `inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// The state directory.
    #[arg(long)]
    pub state: PathBuf,
}

impl SessionArgs {
    /// The client password from the flag, the file or the environment.
    pub fn client_password(&self) -> Result<Option<String>, String> {
        secret(
            &self.client_password,
            &self.client_password_file,
            "SCOMO_CLIENT_PASSWORD",
        )
    }

    /// The server password from the flag, the file or the environment.
    pub fn server_password(&self) -> Result<Option<String>, String> {
        secret(
            &self.server_password,
            &self.server_password_file,
            "SCOMO_SERVER_PASSWORD",
        )
    }
}

fn secret(
    flag: &Option<String>,
    file: &Option<PathBuf>,
    env: &str,
) -> Result<Option<String>, String> {
    if let Some(v) = flag {
        return Ok(Some(v.clone()));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(std::env::var(env).ok())
}
