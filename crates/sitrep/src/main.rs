//! The `sitrep` binary: parses the command line, runs one command, maps the outcome to an exit
//! code. Everything of substance lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

mod admin;
mod bench;
mod bundle;
mod chat_bench;
mod cli;
mod client;
mod crash;
mod exit;
mod load;

use exit::Exit;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Client(command) => match client::run(command, &cli.client) {
            Ok(exit) => exit.into(),
            Err(failure) => {
                eprintln!("sitrep: {}", client::one_line(&failure.message));
                failure.code.into()
            }
        },
        cli::Command::Admin(command) => match run(command, &cli.client) {
            Ok(exit) => exit.into(),
            Err(error) => {
                eprintln!("sitrep: {}", client::one_line(&one_line(&error)));
                Exit::Usage.into()
            }
        },
    }
}

fn run(command: cli::AdminCommand, client: &cli::ClientArgs) -> anyhow::Result<Exit> {
    match command {
        cli::AdminCommand::Serve(args) => admin::serve(args),
        cli::AdminCommand::Init(args) => admin::init(&args),
        cli::AdminCommand::Verify(args) => admin::verify(&args, client.json),
        cli::AdminCommand::VerifyBundle(args) => bundle::verify(&args, client.json),
        cli::AdminCommand::Policy { command } => admin::policy(&command),
        cli::AdminCommand::Bench { command } => bench::run(&command, client),
    }
}

/// The error and its causes on one line, as a person at a terminal wants it.
fn one_line(error: &anyhow::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
