//! The command line, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "sitrep", version, about = "One authoritative, tamper-evident record for running a security incident")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP API, live events, and (later) the web UI.
    Serve(ServeArgs),
    /// Create a deployment: data directory, store, signing key, admin and an API token.
    Init(InitArgs),
    /// Re-verify every record in a data directory; exit 1 at the first break.
    Verify(VerifyArgs),
    /// Show or check an authority policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Measure this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data directory [default: ./sitrep-data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// A TOML configuration file; `SITREP_*` variables and these flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed a demo organisation and incident when the data directory is empty.
    #[arg(long)]
    pub demo: bool,
    /// Log format: human or json [default: human].
    #[arg(long)]
    pub log_format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The data directory to create; it must not exist or be empty.
    #[arg(long, env = "SITREP_DATA", default_value = "./sitrep-data")]
    pub data: PathBuf,
    /// The first admin's user name.
    #[arg(long)]
    pub admin: String,
    /// The organisation's name, shown in reports and exports.
    #[arg(long, default_value = "sitrep")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long, env = "SITREP_DATA", default_value = "./sitrep-data")]
    pub data: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print a policy as a readable matrix: the built-in default, a file, or the one in force.
    Matrix {
        /// A policy file to show instead of the built-in default.
        #[arg(long, conflicts_with = "data")]
        file: Option<PathBuf>,
        /// Show the policy in force in this data directory.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Check a policy file; errors name the line and column.
    Check { file: PathBuf },
    /// Print the built-in default policy file, as a starting point for your own.
    Default,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends, verification and fold against a real SQLite store in a temporary directory.
    Store(BenchStoreArgs),
}

#[derive(Debug, Args)]
pub struct BenchStoreArgs {
    /// Seconds to run each append measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Entries in the store that `verify` reads.
    #[arg(long, default_value_t = 1_000_000)]
    pub verify_entries: u64,
    /// Entries in the incident that is folded.
    #[arg(long, default_value_t = 100_000)]
    pub fold_entries: u64,
    /// Concurrent appenders to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub appenders: Vec<usize>,
    /// Where to make the temporary store (it must be on the disk you want to measure).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
