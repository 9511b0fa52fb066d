//! `sitrep bench crash`: every acknowledged write survives `kill -9`, exactly once.
//!
//! It makes a deployment of its own (`sitrep init`, run as a child of this executable), serves
//! it with `sitrep serve` as another child on a port the kernel picks, and declares one incident. Then,
//! round after round: concurrent writers log facts, each with an `Idempotency-Key` of its own,
//! and at a random moment the server gets SIGKILL. While it is down, `sitrep verify` must pass.
//! The server is started again on the same data directory; every write that was in flight or
//! unanswered at the kill is sent again, with its key and the same bytes, until it is answered
//! (with the first execution's entries, if that one was committed before the kill); then the
//! record is read. Every acknowledged write must be in it exactly once, at the seq its answer
//! named, and no write twice.
//!
//! The record is read incrementally: each round reads from the last entry the round before saw,
//! which must still be there with the same hash, and checks that every new entry links to the
//! one before it. With `sitrep verify` re-hashing the chain from its start every round, nothing
//! read earlier can have changed unseen.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use sitrep_store::postgres::ScratchDatabase;

use crate::cli::BenchCrashArgs;
use crate::exit::Exit;

/// How long a server may take to answer `/readyz`, and an unanswered write to be answered after
/// a restart, before the soak gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// Findings printed per round; the rest are counted.
const SHOWN: usize = 10;

pub(crate) fn run(args: &BenchCrashArgs, json: bool) -> anyhow::Result<Exit> {
    ensure!(args.rounds > 0, "--rounds must be at least 1");
    ensure!(args.writers > 0, "--writers must be at least 1");
    ensure!(args.min_ms <= args.max_ms, "--min-ms must not be more than --max-ms");
    let exe = std::env::current_exe().context("cannot find this executable, to run `sitrep serve` with")?;
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("sitrep-crash-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot make a directory in {}", parent.display()))?;
    let database = match &args.postgres {
        Some(server) => {
            Some(ScratchDatabase::create(server, "sitrep_crash").with_context(|| format!("--postgres {server}"))?)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let soaked = runtime.block_on(soak(args, json, &exe, scratch.path(), database.as_ref().map(ScratchDatabase::url)));
    let totals = match soaked {
        Ok(totals) if totals.first_failure.is_none() => return Ok(Exit::Ok),
        Ok(totals) => totals,
        Err(error) => {
            let kept = keep(scratch, database);
            return Err(error.context(kept));
        }
    };
    let kept = keep(scratch, database);
    if let Some((round, finding)) = &totals.first_failure {
        eprintln!("sitrep: round {round}: {finding} ({kept})");
    }
    Ok(Exit::Broken)
}

/// Keeps the deployment of a failed run for a person to look at: where it is.
fn keep(scratch: tempfile::TempDir, database: Option<ScratchDatabase>) -> String {
    let dir = scratch.keep();
    let mut kept = format!("the deployment is kept in {}, its server's log in serve.log", dir.display());
    if let Some(database) = database {
        kept.push_str(&format!(", its records in the PostgreSQL database `{}` (drop it when done)", database.url()));
        // Not dropped: the records are the evidence.
        std::mem::forget(database);
    }
    kept
}

/// One write. The key and the text identify it; `body` is the exact bytes sent, so that a retry
/// has the same fingerprint as the first attempt.
#[derive(Debug, Clone)]
struct Write {
    key: String,
    text: String,
    body: String,
}

impl Write {
    fn new(run: &str, round: u32, writer: usize, n: u64) -> Write {
        let key = format!("crash-{run}-r{round}-w{writer}-{n}");
        let text = format!("Crash soak write {key}");
        let body = json!({ "text": text }).to_string();
        Write { key, text, body }
    }

    fn acknowledged(self, seq: u64) -> Acknowledged {
        Acknowledged { key: self.key, text: self.text, seq }
    }
}

/// A write answered 201: the seq its answer named (`X-Sitrep-Seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acknowledged {
    key: String,
    text: String,
    seq: u64,
}

/// How one attempt at a write ended.
#[derive(Debug)]
enum Answer {
    /// 201 with the fact that was sent: durable at `seq`; `replayed`, the answer of an earlier
    /// attempt with the same key.
    Acknowledged { seq: u64, replayed: bool },
    /// No complete answer (the server is down, or died while answering), or a 5xx saying that
    /// nothing was written: send it again.
    Unanswered(String),
    /// A refusal, or a 201 about something else: a defect.
    Wrong(String),
}

/// Something the record or the server got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finding {
    /// An acknowledged write that is not in the record.
    Lost { key: String, seq: u64 },
    /// A write in the record more than once.
    Duplicated { text: String, seqs: Vec<u64> },
    /// An acknowledged write recorded at another seq than its answer named.
    Moved { key: String, acknowledged: u64, recorded: u64 },
    /// A write answered with a refusal, or with something other than its own fact.
    Misanswered { key: String, answer: String },
    /// An entry read in an earlier round is gone or changed, or a new one does not link on.
    Rewritten { seq: u64, reason: String },
    /// `sitrep verify` did not pass while the server was down.
    Verify { output: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Lost { key, seq } => {
                write!(f, "LOST: write {key} was acknowledged at seq {seq} and is not in the record")
            }
            Finding::Duplicated { text, seqs } => {
                write!(f, "DUPLICATED: \"{text}\" is in the record {} times, at seqs {seqs:?}", seqs.len())
            }
            Finding::Moved { key, acknowledged, recorded } => {
                write!(f, "MOVED: write {key} was acknowledged at seq {acknowledged} and is recorded at seq {recorded}")
            }
            Finding::Misanswered { key, answer } => {
                write!(f, "MISANSWERED: write {key} was answered {}", crate::client::one_line(answer))
            }
            Finding::Rewritten { seq, reason } => write!(f, "REWRITTEN: seq {seq}: {reason}"),
            Finding::Verify { output } => {
                write!(f, "VERIFY FAILED while the server was down: {}", crate::client::one_line(output))
            }
        }
    }
}

/// Compares the acknowledged writes with the facts the record holds, as (seq, text): each
/// acknowledged write must be there once, at the seq it was acknowledged with, and no text may be
/// there twice.
fn check(acknowledged: &[Acknowledged], facts: &[(u64, String)]) -> Vec<Finding> {
    let mut at: HashMap<&str, Vec<u64>> = HashMap::with_capacity(facts.len());
    for (seq, text) in facts {
        at.entry(text.as_str()).or_default().push(*seq);
    }
    let mut findings = Vec::new();
    for write in acknowledged {
        match at.get(write.text.as_str()).map(Vec::as_slice) {
            None | Some([]) => findings.push(Finding::Lost { key: write.key.clone(), seq: write.seq }),
            Some([recorded]) if *recorded != write.seq => {
                findings.push(Finding::Moved { key: write.key.clone(), acknowledged: write.seq, recorded: *recorded })
            }
            Some(_) => {}
        }
    }
    let mut duplicated: Vec<Finding> = at
        .into_iter()
        .filter(|(_, seqs)| seqs.len() > 1)
        .map(|(text, seqs)| Finding::Duplicated { text: text.to_owned(), seqs })
        .collect();
    duplicated.sort_by_key(|finding| match finding {
        Finding::Duplicated { seqs, .. } => seqs.first().copied(),
        _ => None,
    });
    findings.extend(duplicated);
    findings
}

/// The incident's record as read so far: its facts, and the last entry seen (seq, hash).
#[derive(Debug, Default)]
struct Record {
    facts: Vec<(u64, String)>,
    last: Option<(u64, String)>,
}

impl Record {
    /// Reads the entries after the last one seen, and that one again: it must still be there with
    /// the same hash, and each new entry must follow the one before it.
    async fn catch_up(&mut self, api: &Api) -> anyhow::Result<Option<Finding>> {
        let mut from = self.last.as_ref().map_or(1, |(seq, _)| *seq);
        let mut confirmed = self.last.is_none();
        loop {
            let page = api.get(&format!("/api/v1/incidents/{}/record?from={from}&limit=10000", api.incident)).await?;
            let entries = page["entries"].as_array().context("the record answer has no entries")?;
            for entry in entries {
                let seq = entry["seq"].as_u64().context("an entry without a seq")?;
                let hash = entry["hash"].as_str().context("an entry without a hash")?;
                if let Some((last_seq, last_hash)) = &self.last {
                    if seq == *last_seq {
                        if hash != last_hash {
                            let reason = format!("its hash was {last_hash} when read before, and is now {hash}");
                            return Ok(Some(Finding::Rewritten { seq, reason }));
                        }
                        confirmed = true;
                        continue;
                    }
                    if seq != last_seq + 1 || entry["prev"].as_str() != Some(last_hash.as_str()) {
                        let reason = format!("it does not follow seq {last_seq} (hash {last_hash}): {entry}");
                        return Ok(Some(Finding::Rewritten { seq, reason }));
                    }
                }
                if entry["kind"] == "fact.logged" {
                    let text = entry["body"]["text"].as_str().context("a fact.logged entry without text")?;
                    self.facts.push((seq, text.to_owned()));
                }
                self.last = Some((seq, hash.to_owned()));
            }
            match page["next"].as_u64() {
                Some(next) => from = next,
                None => break,
            }
        }
        if !confirmed && let Some((seq, _)) = &self.last {
            let reason = "the record now ends before this entry, which an earlier round read".to_owned();
            return Ok(Some(Finding::Rewritten { seq: *seq, reason }));
        }
        Ok(None)
    }
}

/// The server's API as the admin, for one life of the server (a fresh connection pool each).
#[derive(Debug)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    incident: String,
}

impl Api {
    fn new(base: String, token: &str, incident: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Api { http, base, token: token.to_owned(), incident: incident.to_owned() })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "GET {path}: {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response =
            self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "POST {path}: {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// One attempt at a write: `POST …/facts` with its key and body.
    async fn send(&self, write: &Write) -> Answer {
        let sent = self
            .http
            .post(format!("{}/api/v1/incidents/{}/facts", self.base, self.incident))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", &write.key)
            .body(write.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Answer::Unanswered(error.to_string()),
        };
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let seq = header("x-sitrep-seq").and_then(|v| v.parse::<u64>().ok());
        let replayed = header("idempotent-replayed").is_some_and(|v| v == "true");
        // A status without its whole body is no answer a client can rely on.
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) => return Answer::Unanswered(format!("{status}, then the answer broke off: {error}")),
        };
        if status.is_server_error() {
            return Answer::Unanswered(format!("{status}: {text}"));
        }
        if status != reqwest::StatusCode::CREATED {
            return Answer::Wrong(format!("{status}: {text}"));
        }
        let fact: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match seq {
            Some(seq) if fact["text"] == write.text => Answer::Acknowledged { seq, replayed },
            _ => Answer::Wrong(format!("{status} about another fact, or without X-Sitrep-Seq: {text}")),
        }
    }
}

/// `sitrep` as a child process, with no `SITREP_*` setting of the caller's leaking in.
fn sitrep(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SITREP_") {
            command.env_remove(name);
        }
    }
    command
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

/// `sitrep serve` as a child process, on one data directory across restarts.
#[derive(Debug)]
struct Server {
    exe: PathBuf,
    data: PathBuf,
    database: Option<String>,
    log: PathBuf,
    /// Where the running server listens (`host:port`), as it said itself.
    addr: String,
    child: Option<Child>,
}

/// What `sitrep serve` prints on stdout once it listens, before the address.
const SERVING: &str = "sitrep is serving on http://";

impl Server {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts `sitrep serve` on a port the kernel picks and waits for `/readyz` to answer 200:
    /// how long that took. The address is the one the server prints, so no other process that
    /// took a port in between can be mistaken for it.
    async fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut command = sitrep(&self.exe);
        command
            .args(["serve", "--data", path_str(&self.data)?, "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?);
        if let Some(database) = &self.database {
            command.env("SITREP_DATABASE", database);
        }
        let child = self.child.insert(command.spawn().context("cannot start sitrep serve")?);
        let stdout = child.stdout.take().context("no pipe from sitrep serve")?;
        // Copies what it prints to the log (so the pipe never fills), sending on the address.
        let (send, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(SERVING) {
                    let _ = send.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                let _ = writeln!(log, "{line}");
            }
        });
        let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let mut readyz = None;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("sitrep serve exited ({status}) before it was ready; see {}", self.log.display());
            }
            if readyz.is_none()
                && let Ok(addr) = address.try_recv()
            {
                readyz = Some(format!("http://{addr}/readyz"));
                self.addr = addr;
            }
            if let Some(readyz) = &readyz
                && probe.get(readyz).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > PATIENCE {
                bail!("sitrep serve was not ready after {PATIENCE:?}; see {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGKILL, and waits for the process to be gone. It must still have been running.
    fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(status) = child.try_wait()? {
            bail!("sitrep serve exited by itself ({status}) before it was killed");
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// `sitrep verify` on the deployment: `None` when it passes, else what it said.
    fn verify(&self) -> anyhow::Result<Option<String>> {
        let mut command = sitrep(&self.exe);
        command.args(["verify", "--data", path_str(&self.data)?]);
        if let Some(database) = &self.database {
            command.args(["--database", database]);
        }
        let output = command.stdin(Stdio::null()).output().context("cannot run sitrep verify")?;
        if output.status.success() {
            return Ok(None);
        }
        let said = format!(
            "{} ({}{})",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(Some(said))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `sitrep init` in `data`: the admin's token.
fn init(exe: &Path, data: &Path, database: Option<&str>) -> anyhow::Result<String> {
    let mut command = sitrep(exe);
    command.args(["init", "--data", path_str(data)?, "--admin", "crash", "--name", "crash soak"]);
    if let Some(database) = database {
        command.args(["--database", database]);
    }
    let output = command.stdin(Stdio::null()).output().context("cannot run sitrep init")?;
    ensure!(output.status.success(), "sitrep init failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout.lines().last().context("sitrep init printed no token")?.trim().to_owned())
}

/// A number between `low` and `high`, both included, from the operating system's randomness.
fn between(low: u64, high: u64) -> u64 {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    low + random % (high - low + 1)
}

/// What the writers of one round did before and at the kill.
#[derive(Debug, Default)]
struct Live {
    acknowledged: Vec<Acknowledged>,
    unanswered: Vec<Write>,
    findings: Vec<Finding>,
}

/// Runs `writers` writers until the server is killed, `kill_after` from now.
async fn live(
    api: &Arc<Api>,
    run: &str,
    round: u32,
    writers: usize,
    kill_after: Duration,
    server: &mut Server,
) -> anyhow::Result<Live> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let (api, stop, run) = (api.clone(), stop.clone(), run.to_owned());
            tokio::spawn(async move {
                let mut mine = Live::default();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let write = Write::new(&run, round, writer, n);
                    match api.send(&write).await {
                        Answer::Acknowledged { seq, .. } => mine.acknowledged.push(write.acknowledged(seq)),
                        Answer::Unanswered(_) => {
                            mine.unanswered.push(write);
                            break;
                        }
                        Answer::Wrong(answer) => {
                            mine.findings.push(Finding::Misanswered { key: write.key, answer });
                            break;
                        }
                    }
                }
                mine
            })
        })
        .collect();
    tokio::time::sleep(kill_after).await;
    // Blocks this worker for as long as the kernel takes to end the process: a moment.
    let killed = server.kill();
    stop.store(true, Ordering::SeqCst);
    let mut all = Live::default();
    for task in tasks {
        let mine = task.await?;
        all.acknowledged.extend(mine.acknowledged);
        all.unanswered.extend(mine.unanswered);
        all.findings.extend(mine.findings);
    }
    killed?;
    Ok(all)
}

/// What sending the unanswered writes again came to.
#[derive(Debug, Default)]
struct Resent {
    acknowledged: Vec<Acknowledged>,
    /// Answered as replays: the first attempt had been committed before the kill.
    replayed: usize,
    findings: Vec<Finding>,
}

/// Sends each write again, with its key and body, until it is answered.
async fn resend(api: &Arc<Api>, writes: Vec<Write>) -> anyhow::Result<Resent> {
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let api = api.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    match api.send(&write).await {
                        Answer::Acknowledged { seq, replayed } => return Ok(Ok((write.acknowledged(seq), replayed))),
                        Answer::Wrong(answer) => return Ok(Err(Finding::Misanswered { key: write.key, answer })),
                        Answer::Unanswered(why) if started.elapsed() > PATIENCE => {
                            bail!("write {} was still unanswered {PATIENCE:?} after the restart: {why}", write.key)
                        }
                        Answer::Unanswered(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();
    let mut resent = Resent::default();
    for task in tasks {
        match task.await?? {
            Ok((acknowledged, replayed)) => {
                resent.acknowledged.push(acknowledged);
                resent.replayed += usize::from(replayed);
            }
            Err(finding) => resent.findings.push(finding),
        }
    }
    Ok(resent)
}

/// The soak's figures so far.
#[derive(Debug, Default)]
struct Totals {
    rounds: u32,
    acknowledged: usize,
    retried: usize,
    replayed: usize,
    lost: usize,
    duplicated: usize,
    /// Moved, misanswered or rewritten.
    other: usize,
    verify_clean: u32,
    verify_failures: u32,
    ready: Vec<Duration>,
    facts: usize,
    first_failure: Option<(u32, Finding)>,
}

impl Totals {
    fn ready_ms(&self) -> (f64, f64) {
        let mut ready = self.ready.clone();
        ready.sort_unstable();
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        (ms(ready.get(ready.len() / 2)), ms(ready.last()))
    }
}

async fn soak(
    args: &BenchCrashArgs,
    json: bool,
    exe: &Path,
    dir: &Path,
    database: Option<String>,
) -> anyhow::Result<Totals> {
    let backend = if database.is_some() { "PostgreSQL" } else { "SQLite" };
    let data = dir.join("data");
    let token = init(exe, &data, database.as_deref())?;
    let mut server =
        Server { exe: exe.to_owned(), data, database, log: dir.join("serve.log"), addr: String::new(), child: None };
    server.start().await?;
    let declared = Api::new(server.base(), &token, "")?
        .post("/api/v1/incidents", json!({"title": "Crash soak", "severity": "sev4", "exercise": true}))
        .await?;
    let incident = declared["id"].as_str().context("declaring answered no incident id")?.to_owned();
    // Keys of different runs never meet, even against one server.
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    if !json {
        println!(
            "sitrep bench crash: {} rounds on {backend}, {} writers, SIGKILL {}–{} ms into each round ({})",
            args.rounds,
            args.writers,
            args.min_ms,
            args.max_ms,
            dir.display()
        );
    }
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut record = Record::default();
    let mut acknowledged: Vec<Acknowledged> = Vec::new();
    for round in 1..=args.rounds {
        let api = Arc::new(Api::new(server.base(), &token, &incident)?);
        let kill_after = Duration::from_millis(between(args.min_ms, args.max_ms));
        let live = live(&api, &run, round, args.writers, kill_after, &mut server).await?;
        // Nothing else runs now, so the runtime's threads may wait for the child.
        let verified = server.verify()?;
        let ready = server.start().await?;
        let api = Arc::new(Api::new(server.base(), &token, &incident)?);
        let retried = live.unanswered.len();
        let resent = resend(&api, live.unanswered).await?;

        let mut findings: Vec<Finding> = verified.map(|output| Finding::Verify { output }).into_iter().collect();
        findings.extend(live.findings);
        findings.extend(resent.findings);
        let round_acknowledged = live.acknowledged.len();
        acknowledged.extend(live.acknowledged);
        acknowledged.extend(resent.acknowledged);
        findings.extend(record.catch_up(&api).await?);
        findings.extend(check(&acknowledged, &record.facts));

        let lost = findings.iter().filter(|f| matches!(f, Finding::Lost { .. })).count();
        let duplicated = findings.iter().filter(|f| matches!(f, Finding::Duplicated { .. })).count();
        let verify_failed = findings.iter().any(|f| matches!(f, Finding::Verify { .. }));
        totals.rounds = round;
        totals.acknowledged += round_acknowledged;
        totals.retried += retried;
        totals.replayed += resent.replayed;
        totals.lost += lost;
        totals.duplicated += duplicated;
        totals.other += findings.len() - lost - duplicated - usize::from(verify_failed);
        totals.verify_clean += u32::from(!verify_failed);
        totals.verify_failures += u32::from(verify_failed);
        totals.ready.push(ready);
        totals.facts = record.facts.len();
        if !json {
            println!(
                "round {round}/{}: {round_acknowledged} acknowledged, {retried} retried ({} replayed), {lost} lost, {duplicated} duplicated, verify {}, ready in {:.0} ms (killed at {} ms)",
                args.rounds,
                resent.replayed,
                if verify_failed { "FAILED" } else { "clean" },
                ready.as_secs_f64() * 1e3,
                kill_after.as_millis()
            );
            for finding in findings.iter().take(SHOWN) {
                println!("  {finding}");
            }
            if findings.len() > SHOWN {
                println!("  … and {} more", findings.len() - SHOWN);
            }
        }
        if let Some(first) = findings.into_iter().next() {
            totals.first_failure = Some((round, first));
            break;
        }
    }
    server.kill()?;
    let elapsed = started.elapsed();
    let (median, max) = totals.ready_ms();
    if json {
        println!(
            "{}",
            json!({
                "ok": totals.first_failure.is_none(),
                "backend": backend,
                "rounds": totals.rounds,
                "writers": args.writers,
                "acknowledged": totals.acknowledged,
                "retried": totals.retried,
                "replayed": totals.replayed,
                "lost": totals.lost,
                "duplicated": totals.duplicated,
                "other_failures": totals.other,
                "verify_clean": totals.verify_clean,
                "verify_failures": totals.verify_failures,
                "ready_ms": {"median": median, "max": max},
                "facts_in_record": totals.facts,
                "seconds": elapsed.as_secs_f64(),
                "first_failure": totals.first_failure.as_ref().map(|(round, finding)| json!({"round": round, "finding": finding.to_string()})),
            })
        );
    } else {
        println!(
            "total: {} rounds, {} acknowledged, {} retried ({} replayed), {} lost, {} duplicated, {} other failures, verify clean {}/{}; ready after restart: median {median:.0} ms, max {max:.0} ms; the record holds {} facts ({:.0} s)",
            totals.rounds,
            totals.acknowledged,
            totals.retried,
            totals.replayed,
            totals.lost,
            totals.duplicated,
            totals.other,
            totals.verify_clean,
            totals.rounds,
            totals.facts,
            elapsed.as_secs_f64()
        );
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acknowledged(key: &str, seq: u64) -> Acknowledged {
        Acknowledged { key: key.to_owned(), text: format!("Crash soak write {key}"), seq }
    }

    fn fact(key: &str, seq: u64) -> (u64, String) {
        (seq, format!("Crash soak write {key}"))
    }

    #[test]
    fn a_record_holding_each_acknowledged_write_once_where_it_was_acknowledged_passes() {
        let writes = [acknowledged("a", 2), acknowledged("b", 3), acknowledged("c", 5)];
        // An unacknowledged write (seq 4) may be in the record: it was committed, the answer lost.
        let record = [fact("a", 2), fact("b", 3), fact("d", 4), fact("c", 5)];
        assert_eq!(check(&writes, &record), []);
        assert_eq!(check(&[], &[]), []);
    }

    #[test]
    fn a_missing_and_a_duplicated_write_are_each_found() {
        let writes = [acknowledged("a", 2), acknowledged("b", 3), acknowledged("c", 4)];
        let record = [fact("a", 2), fact("c", 4), fact("a", 5)];
        assert_eq!(
            check(&writes, &record),
            [
                Finding::Lost { key: "b".into(), seq: 3 },
                Finding::Duplicated { text: "Crash soak write a".into(), seqs: vec![2, 5] },
            ]
        );
        let shown: Vec<String> = check(&writes, &record).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "LOST: write b was acknowledged at seq 3 and is not in the record",
                "DUPLICATED: \"Crash soak write a\" is in the record 2 times, at seqs [2, 5]",
            ]
        );
    }

    #[test]
    fn a_write_recorded_at_another_seq_than_acknowledged_is_found() {
        let writes = [acknowledged("a", 2), acknowledged("b", 3)];
        let record = [fact("a", 2), fact("x", 3), fact("b", 4)];
        assert_eq!(check(&writes, &record), [Finding::Moved { key: "b".into(), acknowledged: 3, recorded: 4 }]);
    }

    #[test]
    fn a_retry_carries_the_same_bytes_as_the_first_attempt() {
        let write = Write::new("run", 3, 7, 11);
        let again = Write::new("run", 3, 7, 11);
        assert_eq!((write.key.as_str(), write.body.as_str()), (again.key.as_str(), again.body.as_str()));
        assert_eq!(write.key, "crash-run-r3-w7-11");
        assert_ne!(Write::new("run", 3, 7, 12).key, write.key);
    }

    #[test]
    fn between_stays_within_its_bounds() {
        for _ in 0..1000 {
            assert!((50..=500).contains(&between(50, 500)));
        }
        assert_eq!(between(7, 7), 7);
    }
}
