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
mod exit;
mod load;

use exit::Exit;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.command.is_client() {
        return match client::run(cli.command, &cli.client) {
            Ok(exit) => exit.into(),
            Err(failure) => {
                eprintln!("sitrep: {}", client::one_line(&failure.message));
                failure.code.into()
            }
        };
    }
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("sitrep: {}", client::one_line(&one_line(&error)));
            Exit::Usage.into()
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
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
