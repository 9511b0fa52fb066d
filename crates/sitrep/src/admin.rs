//! Commands that work on a data directory directly: init, verify (records and evidence blobs), policy.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sitrep_core::decide::genesis;
use sitrep_core::{OrgState, Policy, RecordId, UserName};
use sitrep_store::blobs::{BlobError, BlobStore};
use sitrep_store::datadir::{DataDir, new_token};
use sitrep_store::verify::{VerifyError, verify_and_fold};
use sitrep_store::{Ledger, PostgresStore, SqliteStore, Store};

use sitrep_server::config::{Config, LogFormat};

use crate::cli::{InitArgs, PolicyCommand, ServeArgs, VerifyArgs};
use crate::exit::Exit;

pub(crate) fn serve(args: ServeArgs) -> anyhow::Result<Exit> {
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
    Ok(Exit::Ok)
}

/// Structured logs on stderr; `RUST_LOG` filters them (default: info). A log line that cannot
/// be written (stderr is a file on a full disk) is dropped: by default the subscriber reports
/// that with `eprintln!`, which panics on the same full disk, and the thread that logged (the
/// record's writer, reporting the full disk) would die with it.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).log_internal_errors(false);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub(crate) fn init(args: &InitArgs) -> anyhow::Result<Exit> {
    let admin = UserName::parse(&args.admin).context("--admin")?;
    let dir = DataDir::create(&args.data)?;
    let store = sitrep_store::open_store(&dir, args.database.as_deref())?;
    let (token, token_sha256) = new_token()?;
    let events = genesis(uuid::Uuid::new_v4(), &args.name, &dir.public_key()?, &admin, &token_sha256);
    Ledger::create_deployment(store.as_ref(), &events, sitrep_store::time::now())?;
    println!("Created the deployment '{}' in {}.", args.name, dir.root().display());
    match &args.database {
        Some(_) => println!("  store:        the PostgreSQL database given with --database"),
        None => println!("  store:        {}", dir.database_path().display()),
    }
    println!("  signing key:  {} (private, mode 0600)", dir.key_path().display());
    println!("  public key:   {}", dir.public_key()?);
    println!("  admin:        {admin}");
    println!("The admin's API token follows; it is shown once and only its SHA-256 is stored.");
    println!("{token}");
    Ok(Exit::Ok)
}

pub(crate) fn verify(args: &VerifyArgs, json: bool) -> anyhow::Result<Exit> {
    let dir = DataDir::inspect(&args.data)?;
    let store: Box<dyn Store> = match &args.database {
        Some(url) => Box::new(PostgresStore::open(url)?),
        None => Box::new(SqliteStore::open_read_only(&dir.database_path())?),
    };
    let store = store.as_ref();
    let total: u64 = store.heads()?.iter().map(|h| h.seq).sum();
    let bar = if std::io::stderr().is_terminal() && !json {
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template("verifying {bar:40} {pos}/{len} entries ({per_sec}, {eta} left)")?);
        bar
    } else {
        ProgressBar::hidden()
    };
    let outcome = verify_and_fold(store, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    let verified = match outcome {
        Ok(verified) => verified,
        Err(VerifyError::Break(broken)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "record": record_name(broken.record), "seq": broken.seq, "reason": broken.reason.to_string()})
                );
            } else {
                println!("BROKEN: {broken}");
            }
            return Ok(Exit::Broken);
        }
        Err(VerifyError::Store(error)) => return Err(error.into()),
    };
    let blobs = verify_blobs(store, &BlobStore::inspect(&dir.blobs_path()), json)?;
    if let Some(first) = blobs.failures.first() {
        if json {
            let mut answer = first.json();
            answer["failures"] = blobs.failures.iter().map(BlobFailure::json).collect();
            println!("{answer}");
        } else {
            for failure in &blobs.failures {
                println!("BROKEN: {}", failure.line());
            }
        }
        return Ok(Exit::Broken);
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "records": verified.records, "entries": verified.entries, "blobs": blobs.checked})
        );
    } else {
        let blobs = match blobs.checked {
            0 => "no evidence blobs to check".to_owned(),
            1 => "1 evidence blob matches its hash".to_owned(),
            n => format!("{n} evidence blobs match their hashes"),
        };
        println!("ok: {} entries in {} records verify; {blobs}", verified.entries, verified.records);
    }
    Ok(Exit::Ok)
}

/// An `evidence.registered` entry: which blob a record names, and under what name.
#[derive(Debug)]
struct Registration {
    record: RecordId,
    seq: u64,
    sha256: String,
    name: String,
}

/// A blob that is missing or no longer hashes to its name.
#[derive(Debug)]
struct BlobFailure {
    /// The registration naming it; `None` for a blob in the store that no record names.
    registration: Option<Registration>,
    sha256: String,
    reason: String,
}

impl BlobFailure {
    /// `INC-1 seq 7 evidence 3f2a… (cloudtrail.json): the stored blob does not match its hash`
    fn line(&self) -> String {
        match &self.registration {
            Some(r) => format!(
                "{} seq {} evidence {} ({}): {}",
                r.record,
                r.seq,
                self.sha256,
                crate::client::one_line(&r.name),
                self.reason
            ),
            None => format!(
                "blob store: blob {} (named by no record): {}",
                crate::client::one_line(&self.sha256),
                self.reason
            ),
        }
    }

    fn json(&self) -> serde_json::Value {
        let registration = self.registration.as_ref();
        serde_json::json!({
            "ok": false,
            "record": registration.map(|r| record_name(r.record)),
            "seq": registration.map(|r| r.seq),
            "sha256": self.sha256,
            "name": registration.map(|r| r.name.clone()),
            "reason": self.reason,
        })
    }
}

#[derive(Debug)]
struct BlobsVerified {
    /// Distinct blobs re-hashed.
    checked: u64,
    failures: Vec<BlobFailure>,
}

/// Every evidence registration, in record order.
fn registrations(store: &dyn Store) -> anyhow::Result<Vec<Registration>> {
    #[derive(serde::Deserialize)]
    struct Registered {
        sha256: String,
        name: String,
    }
    let mut found = Vec::new();
    let mut unreadable = None;
    store.scan(&mut |record, raw| {
        if raw.kind != b"evidence.registered" {
            return ControlFlow::Continue(());
        }
        let seq = raw.seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        match serde_json::from_slice::<Registered>(raw.body) {
            Ok(body) => {
                found.push(Registration { record, seq, sha256: body.sha256, name: body.name });
                ControlFlow::Continue(())
            }
            Err(error) => {
                unreadable =
                    Some(anyhow::anyhow!("{record} seq {seq}: the evidence registration does not parse: {error}"));
                ControlFlow::Break(())
            }
        }
    })?;
    match unreadable {
        Some(error) => Err(error),
        None => Ok(found),
    }
}

/// Re-hashes every blob a record names, and every blob in the store, each once.
fn verify_blobs(store: &dyn Store, blobs: &BlobStore, json: bool) -> anyhow::Result<BlobsVerified> {
    let registered = registrations(store)?;
    let stored = blobs.list()?;
    let mut distinct: Vec<String> = registered.iter().map(|r| r.sha256.clone()).chain(stored.iter().cloned()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let bar = if std::io::stderr().is_terminal() && !json {
        let bar = ProgressBar::new(distinct.len() as u64);
        bar.set_style(ProgressStyle::with_template("hashing evidence {bar:40} {pos}/{len} blobs ({eta} left)")?);
        bar
    } else {
        ProgressBar::hidden()
    };
    // The outcome per blob: `None` when it holds, else why not.
    let mut outcomes: BTreeMap<String, Option<String>> = BTreeMap::new();
    for sha256 in distinct {
        let outcome = match blobs.check(&sha256) {
            Ok(_) => None,
            Err(BlobError::Missing(_)) => Some("the blob is missing from the store".to_owned()),
            Err(BlobError::Corrupt { actual, .. }) => {
                Some(format!("the stored blob does not match its hash (it now hashes to {actual})"))
            }
            Err(BlobError::BadName(_)) => Some("the name is not a SHA-256".to_owned()),
            Err(other) => return Err(other.into()),
        };
        outcomes.insert(sha256, outcome);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut failures = Vec::new();
    let mut named = BTreeSet::new();
    for registration in registered {
        named.insert(registration.sha256.clone());
        if let Some(Some(reason)) = outcomes.get(registration.sha256.as_str()) {
            failures.push(BlobFailure {
                sha256: registration.sha256.clone(),
                reason: reason.clone(),
                registration: Some(registration),
            });
        }
    }
    for sha256 in &stored {
        if !named.contains(sha256)
            && let Some(Some(reason)) = outcomes.get(sha256.as_str())
        {
            failures.push(BlobFailure { registration: None, sha256: sha256.clone(), reason: reason.clone() });
        }
    }
    Ok(BlobsVerified { checked: outcomes.len() as u64, failures })
}

fn record_name(record: RecordId) -> String {
    match record {
        RecordId::Org => "org".into(),
        RecordId::Incident(number) => number.to_string(),
    }
}

pub(crate) fn policy(command: &PolicyCommand) -> anyhow::Result<Exit> {
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
                return Ok(Exit::Broken);
            }
        },
        PolicyCommand::Default => print!("{}", sitrep_core::policy::DEFAULT_POLICY),
    }
    Ok(Exit::Ok)
}

fn load_policy(file: &Path) -> anyhow::Result<Policy> {
    let source = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Policy::parse(&source)
        .map_err(|error| anyhow::anyhow!("{}:{}:{}: {}", file.display(), error.line, error.column, error.message))
}
