//! The command line, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod client;

pub(crate) use client::*;

#[derive(Debug, Parser)]
#[command(name = "sitrep", version, about = "One authoritative, tamper-evident record for running a security incident")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// How client commands reach the server.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The server, e.g. https://sitrep.example.org [env: SITREP_URL; else the file `sitrep login` wrote].
    #[arg(long, global = true, env = "SITREP_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// An API token [env: SITREP_TOKEN; else the file `sitrep login` wrote].
    #[arg(long, global = true, env = "SITREP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON answer instead of a sentence.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Every command: the admin commands work on a data directory or a file, the client commands
/// talk to a server. Flattened, so the command line is one list, admin commands first.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(flatten)]
    Admin(AdminCommand),
    #[command(flatten)]
    Client(ClientCommand),
}

/// The commands that work on a data directory or a file, never through a server.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Run the server: the HTTP API, the web UI (the command centre) and live events.
    Serve(ServeArgs),
    /// Create a deployment: data directory, store, signing key, admin and an API token.
    Init(InitArgs),
    /// Re-verify every record and every evidence blob in a data directory; exit 1 at the first break.
    Verify(VerifyArgs),
    /// Verify an export bundle offline (no server): entries, chain, Merkle root, signature,
    /// evidence files, proofs; exit 1 naming the first thing that fails.
    VerifyBundle(VerifyBundleArgs),
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
pub(crate) struct ServeArgs {
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
pub(crate) struct InitArgs {
    /// The data directory to create; it must not exist or be empty.
    #[arg(long, env = "SITREP_DATA", default_value = "./sitrep-data")]
    pub data: PathBuf,
    /// The first admin's user name.
    #[arg(long)]
    pub admin: String,
    /// The organisation's name, shown in reports and exports.
    #[arg(long, default_value = "sitrep")]
    pub name: String,
    /// Keep the records in this PostgreSQL database (a connection string) instead of the SQLite
    /// file in the data directory; `serve` then needs the same `database` setting.
    #[arg(long, env = "SITREP_DATABASE")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[arg(long, env = "SITREP_DATA", default_value = "./sitrep-data")]
    pub data: PathBuf,
    /// The PostgreSQL database the records are in, if not the SQLite file in the data directory.
    #[arg(long, env = "SITREP_DATABASE")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyBundleArgs {
    /// The bundle, as `sitrep export` wrote it.
    pub file: PathBuf,
    /// The deployment's public key, base64 or a file holding it (deployment.pub); the bundle
    /// must be signed with it [default: the key the bundle carries].
    #[arg(long, value_name = "PUBKEY")]
    pub key: Option<String>,
    /// A checkpoint of the same record kept from earlier: the record must only have grown since.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
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
pub(crate) enum BenchCommand {
    /// Durable appends, verification and fold against a real SQLite store in a temporary directory.
    Store(BenchStoreArgs),
    /// Load a running server like pgbench: concurrent clients logging facts, reading SITREPs,
    /// proposing and approving, and live-event watchers. Needs an admin token (--token).
    Server(BenchServerArgs),
    /// Kill a server with SIGKILL, round after round, under concurrent writers that each send an
    /// `Idempotency-Key`: after each kill `sitrep verify` must pass, and once restarted (and the
    /// unanswered writes sent again with their keys) the record must hold every acknowledged
    /// write exactly once. Makes its own deployment; exit 1 at the first loss.
    Crash(BenchCrashArgs),
    /// Commit-to-chat-message latency: against a running server with a `[matrix]` bot, links a
    /// Matrix account, declares incidents, and times each room's edited SITREP headline.
    Chat(BenchChatArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BenchChatArgs {
    /// The homeserver's client-server API base URL.
    #[arg(long)]
    pub homeserver: String,
    /// The access token of a Matrix account the bench acts as (it is linked to a bench user).
    #[arg(long, env = "SITREP_BENCH_MATRIX_TOKEN")]
    pub matrix_token: String,
    /// The bot's Matrix user id (`[matrix] user_id`).
    #[arg(long)]
    pub bot: String,
    /// How many incidents, each with its room.
    #[arg(long, default_value_t = 100)]
    pub incidents: usize,
}

#[derive(Debug, Args)]
pub(crate) struct BenchCrashArgs {
    /// Kill-and-restart rounds.
    #[arg(long, default_value_t = 200)]
    pub rounds: u32,
    /// Concurrent writers, each logging one fact after another.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// The earliest moment of the kill, in milliseconds after a round's writers start.
    #[arg(long, default_value_t = 50)]
    pub min_ms: u64,
    /// The latest moment of the kill; each round picks one at random between the two.
    #[arg(long, default_value_t = 500)]
    pub max_ms: u64,
    /// Where to make the temporary deployment; it is removed afterwards, unless a round fails.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the records in a scratch database on this PostgreSQL server (a connection string
    /// without `dbname`, such as `host=127.0.0.1 user=postgres`) instead of SQLite; it is dropped
    /// afterwards, unless a round fails.
    #[arg(long)]
    pub postgres: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BenchServerArgs {
    /// Concurrent clients per measurement.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Live-event watchers on one incident.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Facts per second written while the watchers listen.
    #[arg(long, default_value_t = 200)]
    pub watch_rate: u64,
}

#[derive(Debug, Args)]
pub(crate) struct BenchStoreArgs {
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
    /// Also measure durable appends against this PostgreSQL server (a connection string without
    /// `dbname`, such as `host=127.0.0.1 user=postgres`); a scratch database is made and dropped
    /// for each measurement.
    #[arg(long)]
    pub postgres: Option<String>,
}
