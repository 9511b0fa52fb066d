//! Commands that work on a data directory directly: init, verify, policy.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sitrep_core::decide::genesis;
use sitrep_core::{OrgState, Policy, RecordId, Timestamp, UserName};
use sitrep_store::datadir::{DataDir, new_token};
use sitrep_store::verify::{VerifyError, verify_store};
use sitrep_store::{Ledger, SqliteStore, Store};

use sitrep_server::config::{Config, LogFormat};

use crate::cli::{InitArgs, PolicyCommand, ServeArgs, VerifyArgs};
use crate::exit;

pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let mut config = Config::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(data) = args.data {
        config.data = data;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(format) = args.log_format {
        config.log_format = match format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => anyhow::bail!("--log-format {other}: use human or json"),
        };
    }
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(sitrep_server::serve::run(config, args.demo))?;
    Ok(exit::OK)
}

/// Structured logs on stderr; `RUST_LOG` filters them (default: info).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn init(args: &InitArgs) -> anyhow::Result<u8> {
    let admin = UserName::parse(&args.admin).context("--admin")?;
    let dir = DataDir::create(&args.data)?;
    let store = SqliteStore::open(&dir.database_path())?;
    let (token, token_sha256) = new_token()?;
    let events = genesis(uuid::Uuid::new_v4(), &args.name, &dir.public_key()?, &admin, &token_sha256);
    Ledger::create_deployment(&store, &events, Timestamp::from_jiff(jiff::Timestamp::now()))?;
    println!("Created the deployment '{}' in {}.", args.name, dir.root().display());
    println!("  store:        {}", dir.database_path().display());
    println!("  signing key:  {} (private, mode 0600)", dir.key_path().display());
    println!("  public key:   {}", dir.public_key()?);
    println!("  admin:        {admin}");
    println!("The admin's API token follows; it is shown once and only its SHA-256 is stored.");
    println!("{token}");
    Ok(exit::OK)
}

pub fn verify(args: &VerifyArgs, json: bool) -> anyhow::Result<u8> {
    let dir = DataDir::inspect(&args.data)?;
    let store = SqliteStore::open_read_only(&dir.database_path())?;
    let total: u64 = store.heads()?.iter().map(|h| h.seq).sum();
    let bar = if std::io::stderr().is_terminal() && !json {
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template("verifying {bar:40} {pos}/{len} entries ({per_sec}, {eta} left)")?);
        bar
    } else {
        ProgressBar::hidden()
    };
    let outcome = verify_store(&store, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    match outcome {
        Ok(verified) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "records": verified.records, "entries": verified.entries})
                );
            } else {
                println!("ok: {} entries in {} records verify", verified.entries, verified.records);
            }
            Ok(exit::OK)
        }
        Err(VerifyError::Break(broken)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "record": record_name(broken.record), "seq": broken.seq, "reason": broken.reason.to_string()})
                );
            } else {
                println!("BROKEN: {broken}");
            }
            Ok(exit::BROKEN)
        }
        Err(VerifyError::Store(error)) => Err(error.into()),
    }
}

fn record_name(record: RecordId) -> String {
    match record {
        RecordId::Org => "org".into(),
        RecordId::Incident(number) => number.to_string(),
    }
}

pub fn policy(command: &PolicyCommand) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Matrix { file: Some(file), .. } => {
            print!("{}", load_policy(file)?.matrix());
        }
        PolicyCommand::Matrix { data: Some(data), .. } => {
            let dir = DataDir::inspect(data)?;
            let store = SqliteStore::open_read_only(&dir.database_path())?;
            let entries = store.read(RecordId::Org, 1, usize::MAX)?;
            let org = OrgState::fold(&entries).context("the organisation record does not fold")?;
            print!("{}", org.policy.matrix());
        }
        PolicyCommand::Matrix { .. } => print!("{}", Policy::default_policy().matrix()),
        PolicyCommand::Check { file } => match load_policy(file) {
            Ok(policy) => println!(
                "ok: policy '{}' defines {} decision classes (sha256 {})",
                policy.name,
                policy.classes.len(),
                policy.sha256
            ),
            Err(error) => {
                println!("{error:#}");
                return Ok(exit::BROKEN);
            }
        },
        PolicyCommand::Default => print!("{}", sitrep_core::policy::DEFAULT_POLICY),
    }
    Ok(exit::OK)
}

fn load_policy(file: &Path) -> anyhow::Result<Policy> {
    let source = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Policy::parse(&source)
        .map_err(|error| anyhow::anyhow!("{}:{}:{}: {}", file.display(), error.line, error.column, error.message))
}
