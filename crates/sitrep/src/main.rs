//! The `sitrep` binary: parses the command line, runs one command, maps the outcome to an exit
//! code. Everything of substance lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

mod admin;
mod bench;
mod bundle;
mod cli;
mod client;
mod crash;
mod load;

/// Exit codes scripts can rely on (also listed in `docs/cli.md`).
pub mod exit {
    /// The command did what was asked; for `verify` and `verify-bundle`, everything verifies.
    pub const OK: u8 = 0;
    /// `verify` found a record that does not verify, or `verify-bundle` a bundle.
    pub const BROKEN: u8 = 1;
    /// The command could not run: bad arguments, a missing or locked data directory, I/O.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.command.is_client() {
        return match client::run(cli.command, &cli.client) {
            Ok(code) => ExitCode::from(code),
            Err(failure) => {
                eprintln!("sitrep: {}", client::one_line(&failure.message));
                ExitCode::from(failure.code)
            }
        };
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("sitrep: {}", client::one_line(&one_line(&error)));
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<u8> {
    match cli.command {
        cli::Command::Serve(args) => admin::serve(args),
        cli::Command::Init(args) => admin::init(&args),
        cli::Command::Verify(args) => admin::verify(&args, cli.client.json),
        cli::Command::VerifyBundle(args) => bundle::verify(&args, cli.client.json),
        cli::Command::Policy { command } => admin::policy(&command),
        cli::Command::Bench { command } => bench::run(&command, &cli.client),
        client => anyhow::bail!("{client:?} is a client command"),
    }
}

/// The error and its causes on one line, as a person at a terminal wants it.
fn one_line(error: &anyhow::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
