//! `sitrep bench store`: what the record costs on this machine, with a real SQLite file.
//!
//! Every figure comes from the same code paths the server uses: appends go through the ledger
//! (decide, seal, group commit, fsync), verification through `verify_store` over raw rows, and
//! the fold through `IncidentState::fold`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sitrep_core::bundle::{self, Options, Scope};
use sitrep_core::checkpoint::SigningKey;
use sitrep_core::decide::{Declare, IncidentCommand, OrgCommand, decide_declare, decide_incident, decide_org, genesis};
use sitrep_core::entry::Entry;
use sitrep_core::events::{FactStatus, IncidentEvent, seal};
use sitrep_core::{
    Actor, DecisionClass, EntryHash, IncidentNumber, IncidentState, OrgRole, OrgState, RecordId, Role, Severity,
    Timestamp, UserName,
};
use sitrep_server::api::export::write_tar;
use sitrep_store::ledger::system_clock;
use sitrep_store::postgres::ScratchDatabase;
use sitrep_store::verify::verify_store;
use sitrep_store::{Append, Ledger, PostgresStore, Request, SqliteStore, Store};

use crate::cli::{BenchCommand, BenchStoreArgs, ClientArgs};
use crate::exit::Exit;

pub(crate) fn run(command: &BenchCommand, client: &ClientArgs) -> anyhow::Result<Exit> {
    match command {
        BenchCommand::Store(args) => store(args),
        BenchCommand::Server(args) => crate::load::run(args, client),
        BenchCommand::Crash(args) => crate::crash::run(args, client.json),
        BenchCommand::Chat(args) => crate::chat_bench::run(args, client),
    }
}

fn user(name: &str) -> UserName {
    UserName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn now() -> Timestamp {
    sitrep_store::time::now()
}

fn store(args: &BenchStoreArgs) -> anyhow::Result<Exit> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("sitrep-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot make a directory in {}", parent.display()))?;
    println!("sitrep bench store: {} ({})", machine(), scratch.path().display());
    println!();
    println!("| measurement | result |");
    println!("|---|---|");
    let seconds = Duration::from_secs(args.seconds);
    for &appenders in &args.appenders {
        let figures = appends(sqlite_at(&scratch.path().join(format!("append-{appenders}")))?, appenders, seconds)?;
        print_appends("", appenders, &figures);
    }
    if let Some(server) = &args.postgres {
        for &appenders in &args.appenders {
            let database =
                ScratchDatabase::create(server, "sitrep_bench").with_context(|| format!("--postgres {server}"))?;
            let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&database.url())?);
            print_appends(" on PostgreSQL", appenders, &appends(store, appenders, seconds)?);
        }
    }
    let (entries, elapsed) = verification(&scratch.path().join("verify"), args.verify_entries)?;
    println!(
        "| verify {entries} stored entries | {:.0} entries/s ({:.2} s) |",
        entries as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let fold = folding(&scratch.path().join("fold"), args.fold_entries)?;
    println!(
        "| fold a {}-entry incident in memory | {:.1} ms (median of 5) |",
        fold.entries,
        fold.fold.as_secs_f64() * 1e3
    );
    println!(
        "| load the same incident from SQLite (read, hash check, fold) | {:.1} ms |",
        fold.load.as_secs_f64() * 1e3
    );
    let export = &fold.export;
    println!(
        "| export the same incident as a bundle (Merkle tree, signed checkpoint, tar in memory) | {:.1} ms ({:.1} MB) |",
        export.export.as_secs_f64() * 1e3,
        export.bytes as f64 / 1e6
    );
    println!(
        "| verify that bundle (every line canonical and hashed, chain, root, signature) | {:.1} ms ({:.0} entries/s) |",
        export.verify.as_secs_f64() * 1e3,
        fold.entries as f64 / export.verify.as_secs_f64()
    );
    println!(
        "| verify a one-entry excerpt of it (inclusion proof) | {:.2} ms ({:.1} KB) |",
        export.excerpt_verify.as_secs_f64() * 1e3,
        export.excerpt_bytes as f64 / 1e3
    );
    Ok(Exit::Ok)
}

fn print_appends(on: &str, appenders: usize, figures: &AppendFigures) {
    println!(
        "| durable appends{on}, {appenders} concurrent appender{} | {:.0}/s (p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {} entries) |",
        if appenders == 1 { "" } else { "s" },
        figures.rate,
        figures.p50_ms,
        figures.p99_ms,
        figures.max_ms,
        figures.count
    );
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {kernel}")
}

/// A SQLite store in a new directory at `path`.
fn sqlite_at(path: &Path) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(path)?;
    Ok(Arc::new(SqliteStore::open(&path.join("sitrep.db"))?))
}

/// A deployment with an admin, the people for the core roles, and one declared incident.
fn deployment(store: Arc<dyn Store>) -> anyhow::Result<(Ledger, IncidentNumber)> {
    let events = genesis(uuid::Uuid::new_v4(), "bench", "", &user("admin"), &"0".repeat(64));
    Ledger::create_deployment(store.as_ref(), &events, now())?;
    let ledger = Ledger::open(store, system_clock())?;
    ledger.execute_blocking(
        &user("admin"),
        Request::Org(OrgCommand::AddUser { user: user("responder"), display_name: None, org_role: OrgRole::Member }),
    )?;
    let declare = Declare { title: "Benchmark incident".into(), severity: Some(Severity::Sev3), ..Declare::default() };
    let receipt = ledger.execute_blocking(&user("responder"), Request::Declare(declare))?;
    let RecordId::Incident(number) = receipt.record else { anyhow::bail!("declaring did not create an incident") };
    Ok((ledger, number))
}

struct AppendFigures {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    count: usize,
}

/// Appenders are tasks on a two-worker tokio runtime, as requests are in the server.
fn appends(store: Arc<dyn Store>, appenders: usize, duration: Duration) -> anyhow::Result<AppendFigures> {
    let (ledger, incident) = deployment(store)?;
    let ledger = Arc::new(ledger);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut latencies: Vec<Duration> = runtime.block_on(async {
        let workers: Vec<_> = (0..appenders)
            .map(|worker| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let by = user("responder");
                    while Instant::now() < deadline {
                        let command = IncidentCommand::LogFact {
                            text: format!("appender {worker} finding {}", latencies.len()),
                            source: Some("bench".into()),
                            status: FactStatus::Unverified,
                            basis: None,
                            occurred: None,
                        };
                        let begun = Instant::now();
                        if ledger.execute(&by, Request::Incident { incident, command }).await.is_err() {
                            break;
                        }
                        latencies.push(begun.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.unwrap_or_default());
        }
        all
    });
    let elapsed = started.elapsed();
    verify_store(ledger.store().as_ref(), &mut |_| {}).context("the benchmark's own record does not verify")?;
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Ok(AppendFigures {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        count: latencies.len(),
    })
}

/// Writes `total` entries straight into a store (ten incidents of facts) and times `verify`.
fn verification(path: &Path, total: u64) -> anyhow::Result<(u64, Duration)> {
    std::fs::create_dir_all(path)?;
    let store = SqliteStore::open(&path.join("sitrep.db"))?;
    let events = genesis(uuid::Uuid::new_v4(), "bench", "", &user("admin"), &"0".repeat(64));
    let org_entries = Ledger::create_deployment(&store, &events, now())?;
    let actor = Actor::User(user("admin"));
    let per_incident = total.saturating_sub(org_entries.len() as u64).div_ceil(10).max(1);
    let mut written = org_entries.len() as u64;
    for number in 1..=10u64 {
        let declared = IncidentEvent::Declared(sitrep_core::events::Declared {
            incident: uuid::Uuid::new_v4(),
            number: IncidentNumber(number),
            title: format!("Verify benchmark {number}"),
            severity: Severity::Sev4,
            scope: Vec::new(),
            restricted: false,
            exercise: true,
            policy: "0".repeat(64),
        });
        let mut head = (0, EntryHash::ZERO);
        let mut fact = 0;
        while head.0 < per_incident && written < total {
            let mut events = Vec::with_capacity(10_000);
            if head.0 == 0 {
                events.push(declared.clone());
            }
            while events.len() < 10_000 && head.0 + (events.len() as u64) < per_incident {
                fact += 1;
                events.push(IncidentEvent::FactLogged(sitrep_core::events::FactLogged {
                    fact: sitrep_core::FactId(fact),
                    text: format!("Observed outbound connection {fact} from build-runner-7 to 198.51.100.23:443"),
                    source: Some("edr".into()),
                    status: FactStatus::Unverified,
                    basis: None,
                    occurred_at: None,
                    backfill_reason: None,
                }));
            }
            let entries = seal(head, now(), &actor, &events);
            store.append(&[Append {
                record: RecordId::Incident(IncidentNumber(number)),
                after: head.0,
                entries: &entries,
            }])?;
            let last = entries.last().context("no entries")?;
            head = (last.seq, last.hash);
            written += entries.len() as u64;
        }
    }
    let started = Instant::now();
    let verified = verify_store(&store, &mut |_| {})?;
    Ok((verified.entries, started.elapsed()))
}

struct FoldFigures {
    entries: usize,
    fold: Duration,
    load: Duration,
    export: ExportFigures,
}

struct ExportFigures {
    bytes: usize,
    export: Duration,
    verify: Duration,
    excerpt_bytes: usize,
    excerpt_verify: Duration,
}

/// A whole-record bundle and a one-entry excerpt of `record`, made and verified as
/// `sitrep export` and `sitrep verify-bundle` do (no evidence files: those cost their own size).
fn exporting(record: &[Entry], policy_source: &str) -> anyhow::Result<ExportFigures> {
    let key = SigningKey::from_bytes(&[7; 32]);
    let incident = IncidentNumber(1);
    let make = |scope: &Scope| -> anyhow::Result<Vec<u8>> {
        let contents = bundle::assemble(uuid::Uuid::new_v4(), incident, record, policy_source, &key, scope)?;
        let mut archive = Vec::with_capacity(usize::try_from(contents.archive_size())?);
        write_tar(
            &contents,
            |sha| Err(std::io::Error::other(format!("no evidence file {sha} in a benchmark"))),
            &mut archive,
        )?;
        Ok(archive)
    };
    let options = Options { key: Some(key.verifying_key()), earlier: None };
    let started = Instant::now();
    let whole = make(&Scope::default())?;
    let export = started.elapsed();
    let started = Instant::now();
    let verified = bundle::verify_bytes(&whole, &options).map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
    let verify = started.elapsed();
    anyhow::ensure!(verified.entries == record.len() as u64, "the bundle does not hold the whole record");

    let middle = record.len() as u64 / 2;
    let excerpt = make(&Scope { entries: Some(vec![middle]), ..Scope::default() })?;
    let started = Instant::now();
    let verified = bundle::verify_bytes(&excerpt, &options).map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
    let excerpt_verify = started.elapsed();
    anyhow::ensure!(verified.seqs == [middle], "the excerpt does not hold the chosen entry");
    Ok(ExportFigures { bytes: whole.len(), export, verify, excerpt_bytes: excerpt.len(), excerpt_verify })
}

/// Builds a realistic incident of `total` entries through `decide` (facts, verifications,
/// tasks, decisions and approvals), then times folding it and loading it from SQLite.
fn folding(path: &Path, total: u64) -> anyhow::Result<FoldFigures> {
    let admin = user("admin");
    let system = Actor::system("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut org_entries = seal(
        (0, EntryHash::ZERO),
        now(),
        &system,
        &genesis(uuid::Uuid::new_v4(), "bench", "", &admin, &"0".repeat(64)),
    );
    let mut org = OrgState::fold(&org_entries)?;
    for name in ["cmd", "tech", "lee"] {
        let events = decide_org(
            &org,
            &admin,
            &OrgCommand::AddUser { user: user(name), display_name: None, org_role: OrgRole::Member },
            now(),
        )?;
        let entries = seal((org.seq, org.head), now(), &Actor::User(admin.clone()), &events);
        for (entry, event) in entries.iter().zip(&events) {
            org.apply(entry, event)?;
        }
        org_entries.extend(entries);
    }
    let roles: BTreeMap<Role, UserName> = [("tech_lead", "tech"), ("legal", "lee")]
        .into_iter()
        .map(|(r, u)| (Role::parse(r).unwrap_or_else(|e| panic!("{e}")), user(u)))
        .collect();
    let declare =
        Declare { title: "Fold benchmark".into(), severity: Some(Severity::Sev2), roles, ..Declare::default() };
    let events = decide_declare(&org, &user("cmd"), &declare, IncidentNumber(1), uuid::Uuid::new_v4())?;
    let mut entries = seal((0, EntryHash::ZERO), now(), &Actor::User(user("cmd")), &events);
    let mut state = IncidentState::fold(&entries)?;
    let containment = DecisionClass::parse("containment").unwrap_or_else(|e| panic!("{e}"));
    let recovery = DecisionClass::parse("recovery").unwrap_or_else(|e| panic!("{e}"));
    let mut step = 0u64;
    while (entries.len() as u64) < total {
        step += 1;
        let facts = state.facts.len() as u64;
        let tasks = state.tasks.len() as u64;
        let decisions = state.decisions.len() as u64;
        let (by, command) = match step % 8 {
            0 => (
                "cmd",
                IncidentCommand::VerifyFact {
                    fact: sitrep_core::FactId(facts),
                    basis: "confirmed in CloudTrail".into(),
                },
            ),
            1 => (
                "tech",
                IncidentCommand::CreateTask {
                    title: format!("Rotate key {step}"),
                    owner: Some(user("tech")),
                    due: None,
                },
            ),
            2 => ("tech", IncidentCommand::CompleteTask { task: sitrep_core::TaskId(tasks), note: None }),
            3 => (
                "cmd",
                IncidentCommand::Propose {
                    class: containment.clone(),
                    title: format!("Block egress {step}"),
                    rationale: None,
                    actions: Vec::new(),
                    statement: None,
                    clocks: Vec::new(),
                },
            ),
            4 => (
                "tech",
                IncidentCommand::Propose {
                    class: recovery.clone(),
                    title: format!("Restore service {step}"),
                    rationale: None,
                    actions: Vec::new(),
                    statement: None,
                    clocks: Vec::new(),
                },
            ),
            5 => (
                "cmd",
                IncidentCommand::Approve { decision: sitrep_core::DecisionId(decisions), note: Some("go".into()) },
            ),
            _ => (
                "tech",
                IncidentCommand::LogFact {
                    text: format!("Finding {step}: token used from 203.0.113.9"),
                    source: Some("siem".into()),
                    status: FactStatus::Unverified,
                    basis: None,
                    occurred: None,
                },
            ),
        };
        let by = user(by);
        let events = decide_incident(&state, &org, &by, &command, state.updated_at)
            .map_err(|refusal| anyhow::anyhow!("step {step}: {refusal}"))?;
        let new = seal((state.seq, state.head), now(), &Actor::User(by), &events);
        for (entry, event) in new.iter().zip(&events) {
            state.apply(entry, event)?;
        }
        entries.extend(new);
    }
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let folded = IncidentState::fold(&entries).map(|s| s.seq);
            let elapsed = started.elapsed();
            assert_eq!(folded.ok(), Some(state.seq), "the fold must reproduce the state");
            elapsed
        })
        .collect();
    runs.sort_unstable();

    std::fs::create_dir_all(path)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path.join("sitrep.db"))?);
    store.append(&[Append { record: RecordId::Org, after: 0, entries: &org_entries }])?;
    for chunk in entries.chunks(10_000) {
        store.append(&[Append {
            record: RecordId::Incident(IncidentNumber(1)),
            after: chunk[0].seq - 1,
            entries: chunk,
        }])?;
    }
    let started = Instant::now();
    let ledger = Ledger::open(store, system_clock())?;
    let load = started.elapsed();
    let loaded: Option<u64> = ledger.with_incident(IncidentNumber(1), |s| s.seq);
    anyhow::ensure!(loaded == Some(state.seq), "the loaded incident differs from the one written");
    let export = exporting(&entries, &org.policy.source)?;
    Ok(FoldFigures { entries: entries.len(), fold: runs[2], load, export })
}
