//! The ledger: the one writer in front of the store.
//!
//! One thread owns a working copy of every record's state. It takes commands in arrival order,
//! decides each against the working state (so a command sees the effects of those before it, even
//! in the same batch), seals the resulting entries, and commits everything it has gathered in one
//! store transaction. Only when that transaction is durable does it fold the entries into the
//! published state that readers see, tell live subscribers, and answer each command. Concurrent
//! commands therefore share one fsync (group commit), readers never see an entry that could still
//! be lost, and a failed commit changes nothing: the working copy is restored from the published
//! one and every command in the batch is told the record could not be written.
//!
//! A store error (a full disk, a lost database) fails only the batch it happened in: the
//! writer goes on, and writes succeed again once the store does. A defect that panics the
//! writer cannot be survived that way (the working state may be half-changed), so the ledger
//! stops taking commands, says why ([`Ledger::stopped`]) and leaves it to the server to exit
//! so that a supervisor restarts it from the durable record.
//!
//! **Invariant:** nothing writes entries except this thread, and it writes only what
//! `sitrep_core::decide` yielded.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use sitrep_core::decide::{self, Declare, IncidentCommand, OrgCommand, Refusal, SystemCommand};
use sitrep_core::events::{IncidentEvent, OrgEvent, seal};
use sitrep_core::incident::FoldError;
use sitrep_core::{Actor, Entry, EntryHash, IncidentNumber, IncidentState, OrgState, RecordId, Timestamp, UserName};
use tokio::sync::{broadcast, oneshot};
use uuid::Uuid;

use crate::verify::{VerifyError, verify_store};
use crate::{Append, Extras, IdempotencyRow, Store, StoreError};

/// The most commands gathered into one transaction.
const MAX_BATCH: usize = 1024;
/// Commands waiting beyond this many make callers wait before queueing (back-pressure).
const QUEUE_DEPTH: usize = 65_536;
/// Live subscribers that fall this far behind are told they lagged and re-read from the store.
const LIVE_BUFFER: usize = 4_096;
/// Entries read per query when loading a record.
const LOAD_CHUNK: usize = 10_000;
/// How long a retried request is answered from its first execution.
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 24 * 60 * 60;

/// What a person asks the ledger to do.
#[derive(Debug, Clone)]
pub enum Request {
    Declare(Declare),
    Incident {
        incident: IncidentNumber,
        command: IncidentCommand,
    },
    Org(OrgCommand),
    /// Sets a password: the entry records that it was set; `phc` (an argon2id hash the caller
    /// computed, off the writer thread) is stored beside it in the same transaction.
    SetPassword {
        user: UserName,
        phc: String,
    },
    /// What a connector reports about an incident (the action worker, the notifier), written
    /// as `system:<connector>`.
    System {
        incident: IncidentNumber,
        connector: String,
        command: SystemCommand,
    },
    /// Adds a user, with a password when `phc` is given, in one step: both or neither.
    AddUser {
        user: UserName,
        display_name: Option<String>,
        org_role: sitrep_core::OrgRole,
        phc: Option<String>,
    },
}

/// A client's `Idempotency-Key`, and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// The entries a command appended, once durable.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub record: RecordId,
    pub entries: Vec<Entry>,
    /// True when this answers a retry from the first execution; nothing new was written.
    pub replayed: bool,
}

/// Entries newly committed to one record, as told to live subscribers.
#[derive(Debug)]
pub struct Committed {
    pub record: RecordId,
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the record could not be written, so nothing changed: {0}")]
    Unavailable(StoreError),
    #[error("sitrep is shutting down; nothing was written")]
    ShuttingDown,
    /// The writer stopped on a defect; the server must restart. A command in flight when it
    /// stopped may or may not have been written: retry it with its idempotency key.
    #[error(
        "the record's writer stopped ({0}); sitrep must restart, and a request in flight may or may not have been written"
    )]
    Stopped(String),
    #[error("this data directory has no organisation record; run `sitrep init` first")]
    NotInitialised,
    #[error("{record} cannot be loaded: {reason}; run `sitrep verify` for details")]
    Corrupt { record: RecordId, reason: String },
    /// A defect: decided entries did not fold. Nothing was written.
    #[error("internal error, nothing was written: {0}")]
    Internal(String),
}

impl LedgerError {
    /// The same error again, for a second caller (errors hold no resources).
    fn duplicate(&self) -> LedgerError {
        match self {
            LedgerError::Refused(refusal) => LedgerError::Refused(refusal.clone()),
            LedgerError::Unavailable(error) => LedgerError::Unavailable(error.clone()),
            LedgerError::ShuttingDown => LedgerError::ShuttingDown,
            LedgerError::Stopped(reason) => LedgerError::Stopped(reason.clone()),
            LedgerError::NotInitialised => LedgerError::NotInitialised,
            LedgerError::Corrupt { record, reason } => LedgerError::Corrupt { record: *record, reason: reason.clone() },
            LedgerError::Internal(reason) => LedgerError::Internal(reason.clone()),
        }
    }
}

/// The source of server time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from_jiff(jiff::Timestamp::now()))
}

struct Job {
    by: UserName,
    request: Request,
    idempotency: Option<IdempotencyKey>,
    reply: oneshot::Sender<Result<Receipt, LedgerError>>,
}

/// What readers see: only durable state.
struct Published {
    store: Arc<dyn Store>,
    org: RwLock<Arc<OrgState>>,
    incidents: RwLock<BTreeMap<IncidentNumber, Arc<RwLock<IncidentState>>>>,
    /// One channel per watched record, so a watcher of one incident is never woken for another.
    live: Mutex<HashMap<RecordId, broadcast::Sender<Arc<Committed>>>>,
    entries_appended: AtomicU64,
    commits: AtomicU64,
    /// Ticks after every commit, for workers that wait for something to do.
    committed: tokio::sync::watch::Sender<u64>,
    /// Why the writer stopped, once it has.
    stopped: tokio::sync::watch::Sender<Option<String>>,
}

/// The handle through which everything reads and writes records.
pub struct Ledger {
    published: Arc<Published>,
    queue: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("incidents", &self.published.incidents.read().len()).finish()
    }
}

impl Ledger {
    /// Writes a new deployment's organisation record. Refuses a store that already has one.
    pub fn create_deployment(store: &dyn Store, events: &[OrgEvent], at: Timestamp) -> Result<Vec<Entry>, LedgerError> {
        if store.heads().map_err(LedgerError::Unavailable)?.iter().any(|h| h.record == RecordId::Org) {
            return Err(LedgerError::Refused(Refusal::Conflict(
                "this data directory already holds a deployment".into(),
            )));
        }
        let actor = Actor::system("init").map_err(|e| LedgerError::Internal(e.to_string()))?;
        let entries = seal((0, EntryHash::ZERO), at, &actor, events);
        OrgState::fold(&entries).map_err(|error| LedgerError::Internal(error.to_string()))?;
        store
            .append(&[Append { record: RecordId::Org, after: 0, entries: &entries }])
            .map_err(LedgerError::Unavailable)?;
        Ok(entries)
    }

    /// Verifies every record, loads them, and starts the writer. A store that does not verify
    /// is refused, naming the first break: serving a record that has been tampered with would
    /// be worse than not starting.
    pub fn open(store: Arc<dyn Store>, clock: Clock) -> Result<Ledger, LedgerError> {
        match verify_store(store.as_ref(), &mut |_| {}) {
            Ok(_) => {}
            Err(VerifyError::Break(broken)) => {
                return Err(LedgerError::Corrupt {
                    record: broken.record,
                    reason: format!("seq {}: {}", broken.seq, broken.reason),
                });
            }
            Err(VerifyError::Store(error)) => return Err(stored(error)),
        }
        let heads = store.heads().map_err(LedgerError::Unavailable)?;
        if !heads.iter().any(|h| h.record == RecordId::Org) {
            return Err(LedgerError::NotInitialised);
        }
        let mut org = None;
        let mut incidents = BTreeMap::new();
        for head in &heads {
            let entries = load(store.as_ref(), head.record)?;
            let corrupt = |error: FoldError| LedgerError::Corrupt { record: head.record, reason: error.to_string() };
            match fold_entries(head.record, &entries).map_err(corrupt)? {
                Folded::Org(state) => org = Some(*state),
                Folded::Incident(number, state) => {
                    incidents.insert(number, *state);
                }
            }
        }
        let org = org.ok_or(LedgerError::NotInitialised)?;
        let since = clock().plus_seconds(-IDEMPOTENCY_WINDOW_SECS);
        let remembered = store.idempotency_since(since).map_err(stored)?;
        let published = Arc::new(Published {
            store,
            org: RwLock::new(Arc::new(org.clone())),
            incidents: RwLock::new(incidents.iter().map(|(n, s)| (*n, Arc::new(RwLock::new(s.clone())))).collect()),
            live: Mutex::new(HashMap::new()),
            entries_appended: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            committed: tokio::sync::watch::channel(0).0,
            stopped: tokio::sync::watch::channel(None).0,
        });
        let (queue, jobs) = std::sync::mpsc::sync_channel(QUEUE_DEPTH);
        let next_incident = incidents.keys().last().map_or(1, |n| n.0 + 1);
        let mut writer = Writer {
            published: published.clone(),
            clock,
            org,
            incidents: incidents.into_iter().collect(),
            next_incident,
            remembered: remembered.into_iter().map(|row| ((row.user.clone(), row.key.clone()), row)).collect(),
            jobs_since_prune: 0,
        };
        let handle = std::thread::Builder::new()
            .name("sitrep-writer".into())
            .spawn(move || writer.run(jobs))
            .map_err(|error| LedgerError::Internal(format!("cannot start the writer thread: {error}")))?;
        Ok(Ledger { published, queue: Some(queue), writer: Some(handle) })
    }

    fn submit(
        &self,
        by: &UserName,
        request: Request,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<oneshot::Receiver<Result<Receipt, LedgerError>>, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or(LedgerError::ShuttingDown)?;
        queue.send(Job { by: by.clone(), request, idempotency, reply }).map_err(|_| self.gone())?;
        Ok(answer)
    }

    /// Why a command got no answer: the writer stopped on a defect, or the ledger is closing.
    fn gone(&self) -> LedgerError {
        match self.stopped() {
            Some(reason) => LedgerError::Stopped(reason),
            None => LedgerError::ShuttingDown,
        }
    }

    /// Why the writer stopped, if it has: the ledger then takes no more commands.
    pub fn stopped(&self) -> Option<String> {
        self.published.stopped.borrow().clone()
    }

    /// Changes to `Some(reason)` when the writer stops.
    pub fn watch_stopped(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.published.stopped.subscribe()
    }

    /// Decides and appends a command, answering once its entries are durable.
    pub async fn execute(&self, by: &UserName, request: Request) -> Result<Receipt, LedgerError> {
        self.execute_once(by, request, None).await
    }

    /// As [`Ledger::execute`]. With a key, a retry of the same request within 24 hours is
    /// answered from the first execution instead of writing again, even after a restart, and
    /// the same key with a different request is refused.
    pub async fn execute_once(
        &self,
        by: &UserName,
        request: Request,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Receipt, LedgerError> {
        self.submit(by, request, idempotency)?.await.map_err(|_| self.gone())?
    }

    /// Records what a connector did (`system:<connector>` is the actor).
    pub async fn execute_system(
        &self,
        incident: IncidentNumber,
        connector: &str,
        command: SystemCommand,
    ) -> Result<Receipt, LedgerError> {
        let system = UserName::parse("system").map_err(|e| LedgerError::Internal(e.to_string()))?;
        self.execute(&system, Request::System { incident, connector: connector.to_owned(), command }).await
    }

    /// As [`Ledger::execute`], for threads outside an async runtime.
    pub fn execute_blocking(&self, by: &UserName, request: Request) -> Result<Receipt, LedgerError> {
        self.submit(by, request, None)?.blocking_recv().map_err(|_| self.gone())?
    }

    /// The organisation's current (durable) state.
    pub fn org(&self) -> Arc<OrgState> {
        self.published.org.read().clone()
    }

    /// Reads one incident's current state.
    pub fn with_incident<T>(&self, number: IncidentNumber, read: impl FnOnce(&IncidentState) -> T) -> Option<T> {
        let cell = self.published.incidents.read().get(&number).cloned()?;
        let state = cell.read();
        Some(read(&state))
    }

    /// Visits every incident's current state, in number order.
    pub fn each_incident(&self, mut visit: impl FnMut(&IncidentState)) {
        let cells: Vec<_> = self.published.incidents.read().values().cloned().collect();
        for cell in cells {
            visit(&cell.read());
        }
    }

    /// One record's entries as they commit. Subscribe before reading the store to leave no gap;
    /// a subscriber that falls behind is told it lagged and should re-read from the store.
    pub fn subscribe(&self, record: RecordId) -> broadcast::Receiver<Arc<Committed>> {
        let mut live = self.published.live.lock();
        live.retain(|_, sender| sender.receiver_count() > 0);
        live.entry(record).or_insert_with(|| broadcast::channel(LIVE_BUFFER).0).subscribe()
    }

    /// Changes after every commit: a worker waits on it instead of polling.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.committed.subscribe()
    }

    /// How many live subscriptions to incidents are open (one per live stream; a stream's
    /// subscription to the organisation record, which only wakes it, is not counted).
    pub fn live_subscribers(&self) -> usize {
        let live = self.published.live.lock();
        live.iter().filter(|(record, _)| **record != RecordId::Org).map(|(_, sender)| sender.receiver_count()).sum()
    }

    /// Entries appended and transactions committed since the ledger opened.
    pub fn counters(&self) -> (u64, u64) {
        (self.published.entries_appended.load(Ordering::Relaxed), self.published.commits.load(Ordering::Relaxed))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.published.store
    }

    /// Stops taking commands, lets queued ones finish, and waits for the writer to stop.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.queue.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A store error as the ledger reports it: unreadable rows are corruption, not an outage, so
/// that nobody retries forever against a tampered database.
fn stored(error: StoreError) -> LedgerError {
    match error {
        StoreError::Corrupt { record, seq, reason } => {
            LedgerError::Corrupt { record, reason: format!("seq {seq}: {reason}") }
        }
        other => LedgerError::Unavailable(other),
    }
}

/// A record's state, folded from its entries.
#[derive(Debug)]
pub enum Folded {
    Org(Box<OrgState>),
    Incident(IncidentNumber, Box<IncidentState>),
}

/// Folds a record's entries exactly as the ledger does when it opens: `sitrep verify` uses the
/// same function, so the two never disagree about a record.
pub fn fold_entries(record: RecordId, entries: &[Entry]) -> Result<Folded, FoldError> {
    Ok(match record {
        RecordId::Org => Folded::Org(Box::new(OrgState::fold(entries)?)),
        RecordId::Incident(number) => Folded::Incident(number, Box::new(IncidentState::fold(entries)?)),
    })
}

pub(crate) fn load(store: &dyn Store, record: RecordId) -> Result<Vec<Entry>, LedgerError> {
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let chunk = store.read(record, entries.len() as u64 + 1, LOAD_CHUNK).map_err(stored)?;
        let done = chunk.len() < LOAD_CHUNK;
        for entry in chunk {
            if entry.computed_hash() != entry.hash {
                return Err(LedgerError::Corrupt {
                    record,
                    reason: format!("seq {}: the hash does not match the entry's contents", entry.seq),
                });
            }
            entries.push(entry);
        }
        if done {
            return Ok(entries);
        }
    }
}

/// Entries gathered for one record in the current batch.
struct Staged {
    after: u64,
    created: bool,
    entries: Vec<Entry>,
    events: StagedEvents,
}

enum StagedEvents {
    Incident(Vec<IncidentEvent>),
    Org(Vec<OrgEvent>),
}

/// What one command of a batch came to.
enum Outcome {
    /// Entries staged in a record (this range of its staged entries).
    Staged(RecordId, Range<usize>),
    /// A retry answered from the first execution's entries.
    Replayed(Receipt),
    /// A retry of an earlier command in the same batch: answered as that one is.
    SameAs(usize),
    Failed(LedgerError),
}

/// Secrets and keys gathered for the current batch, written in its transaction.
#[derive(Default)]
struct Side {
    passwords: Vec<(String, String)>,
    idempotency: Vec<IdempotencyRow>,
    /// The batch index of the command that wrote each row of `idempotency`.
    idempotent_jobs: Vec<usize>,
}

struct Writer {
    published: Arc<Published>,
    clock: Clock,
    org: OrgState,
    incidents: HashMap<IncidentNumber, IncidentState>,
    next_incident: u64,
    /// Idempotency keys of the last 24 hours, by (user, key).
    remembered: HashMap<(String, String), IdempotencyRow>,
    jobs_since_prune: usize,
}

impl Writer {
    fn run(&mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.prune(batch.len());
                self.commit(&mut batch);
            }));
            if let Err(panic) = step {
                // The working state may be half-changed and a commit may have landed unpublished:
                // stop here rather than answer from a state that is not the record's. The batch's
                // commands (still in `batch` unless answered) and those queued are answered
                // `Stopped` when they drop below, after the reason is set.
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                tracing::error!(%reason, "the record's writer stopped; sitrep must restart");
                self.published.stopped.send_replace(Some(reason));
                drop(batch);
                return;
            }
        }
    }

    /// Decides, writes and answers one batch of commands.
    fn commit(&mut self, batch: &mut Vec<Job>) {
        // With the pauses below, about two seconds of losing before a command is given up: two
        // nodes appending to one record flat out (the conformance test) both get through.
        const ATTEMPTS: usize = 20;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = (self.clock)();
            let mut staged: BTreeMap<RecordId, Staged> = BTreeMap::new();
            let mut side = Side::default();
            let outcomes: Vec<Outcome> = batch
                .iter()
                .enumerate()
                .map(|(index, job)| self.admit(job, index, now, &mut staged, &mut side))
                .collect();
            if let Some(defect) = outcomes.iter().find_map(|o| match o {
                Outcome::Failed(LedgerError::Internal(reason)) => Some(reason.clone()),
                _ => None,
            }) {
                tracing::error!(%defect, "decided entries did not fold; the batch is refused");
                self.rollback(&staged);
                return answer_all(std::mem::take(batch), || LedgerError::Internal(defect.clone()));
            }
            if staged.is_empty() {
                return answer(std::mem::take(batch), outcomes, &staged);
            }
            let appends: Vec<Append<'_>> = staged
                .iter()
                .map(|(record, s)| Append { record: *record, after: s.after, entries: &s.entries })
                .collect();
            let extras = Extras { passwords: &side.passwords, idempotency: &side.idempotency };
            match self.published.store.commit(&appends, &extras) {
                Ok(()) => {
                    self.publish(&staged);
                    for row in side.idempotency {
                        self.remembered.insert((row.user.clone(), row.key.clone()), row);
                    }
                    return answer(std::mem::take(batch), outcomes, &staged);
                }
                Err(StoreError::Conflict { record, expected, found }) if attempt < ATTEMPTS => {
                    // Another node appended first: catch up from the store and decide again.
                    tracing::info!(%record, expected, found, "append conflict; refreshing and retrying");
                    self.rollback(&staged);
                    // A random pause that doubles with each loss (0.2 ms up to 100 ms): a node
                    // that keeps losing to a busier one steps back until it gets a turn.
                    let backoff = (100u64 << attempt.min(16)).min(100_000);
                    let jitter = u64::from(getrandom::u32().unwrap_or(0) % 1000);
                    std::thread::sleep(Duration::from_micros(backoff + jitter));
                    if let Err(error) = self.refresh(record) {
                        return answer_all(std::mem::take(batch), || error.duplicate());
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "append failed; nothing in the batch was written");
                    self.rollback(&staged);
                    let failed = outcomes
                        .into_iter()
                        .map(|outcome| match outcome {
                            Outcome::Staged(..) | Outcome::SameAs(_) => {
                                Outcome::Failed(LedgerError::Unavailable(error.clone()))
                            }
                            other => other,
                        })
                        .collect();
                    return answer(std::mem::take(batch), failed, &staged);
                }
            }
        }
    }

    /// Answers a retry from its first execution, or decides and stages the command.
    fn admit(
        &mut self,
        job: &Job,
        index: usize,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
        side: &mut Side,
    ) -> Outcome {
        let Some(idempotency) = &job.idempotency else {
            return self.stage(job, now, staged, side).unwrap_or_else(Outcome::Failed);
        };
        let slot = (job.by.to_string(), idempotency.key.clone());
        let reused = || {
            Outcome::Failed(LedgerError::Refused(Refusal::Invalid {
                field: "Idempotency-Key".into(),
                message: "this key was already used for a different request; use a new key for a new request".into(),
            }))
        };
        if let Some(first) = self.remembered.get(&slot) {
            if first.fingerprint != idempotency.fingerprint {
                return reused();
            }
            let count = (first.last_seq - first.first_seq + 1) as usize;
            return match self.published.store.read(first.record, first.first_seq, count) {
                Ok(entries) => Outcome::Replayed(Receipt { record: first.record, entries, replayed: true }),
                Err(error) => Outcome::Failed(stored(error)),
            };
        }
        if let Some(earlier) = side.idempotency.iter().position(|row| row.user == slot.0 && row.key == slot.1) {
            let row = &side.idempotency[earlier];
            if row.fingerprint != idempotency.fingerprint {
                return reused();
            }
            return Outcome::SameAs(side.idempotent_jobs[earlier]);
        }
        let outcome = self.stage(job, now, staged, side).unwrap_or_else(Outcome::Failed);
        if let Outcome::Staged(record, range) = &outcome {
            let entries = &staged[record].entries[range.clone()];
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                side.idempotency.push(IdempotencyRow {
                    user: slot.0,
                    key: slot.1,
                    fingerprint: idempotency.fingerprint.clone(),
                    record: *record,
                    first_seq: first.seq,
                    last_seq: last.seq,
                    at: now,
                });
                side.idempotent_jobs.push(index);
            }
        }
        outcome
    }

    /// Forgets idempotency keys older than the window, now and then.
    fn prune(&mut self, jobs: usize) {
        self.jobs_since_prune += jobs;
        if self.jobs_since_prune < 10_000 {
            return;
        }
        self.jobs_since_prune = 0;
        let cutoff = (self.clock)().plus_seconds(-IDEMPOTENCY_WINDOW_SECS);
        self.remembered.retain(|_, row| row.at >= cutoff);
    }

    /// Decides one command against the working state and stages its entries.
    fn stage(
        &mut self,
        job: &Job,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
        side: &mut Side,
    ) -> Result<Outcome, LedgerError> {
        let actor = Actor::User(job.by.clone());
        let internal = |error: FoldError| LedgerError::Internal(error.to_string());
        match &job.request {
            Request::Declare(command) => {
                let number = IncidentNumber(self.next_incident);
                let events = decide::decide_declare(&self.org, &job.by, command, number, Uuid::new_v4())?;
                let entries = seal((0, EntryHash::ZERO), now, &actor, &events);
                let mut state = IncidentState::declare(&entries[0], &events[0]).map_err(internal)?;
                for (entry, event) in entries.iter().zip(&events).skip(1) {
                    state.apply(entry, event).map_err(internal)?;
                }
                self.incidents.insert(number, state);
                self.next_incident += 1;
                let record = RecordId::Incident(number);
                let range = 0..entries.len();
                staged.insert(
                    record,
                    Staged { after: 0, created: true, entries, events: StagedEvents::Incident(events) },
                );
                Ok(Outcome::Staged(record, range))
            }
            Request::Incident { incident, command } => {
                let (org, by) = (&self.org, &job.by);
                let decide =
                    |state: &IncidentState| decide::decide_incident(state, org, by, command, now.max(state.updated_at));
                stage_incident(&mut self.incidents, *incident, &actor, now, staged, decide)
            }
            Request::Org(command) => self.stage_org(&actor, &job.by, command, now, staged),
            Request::System { incident, connector, command } => {
                let actor = Actor::system(connector).map_err(|e| LedgerError::Internal(e.to_string()))?;
                let decide = |state: &IncidentState| decide::decide_system(state, command, now.max(state.updated_at));
                stage_incident(&mut self.incidents, *incident, &actor, now, staged, decide)
            }
            Request::SetPassword { user, phc } => {
                let command = OrgCommand::SetPassword { user: user.clone() };
                let outcome = self.stage_org(&actor, &job.by, &command, now, staged)?;
                side.passwords.push((user.to_string(), phc.clone()));
                Ok(outcome)
            }
            Request::AddUser { user, display_name, org_role, phc } => {
                let add =
                    OrgCommand::AddUser { user: user.clone(), display_name: display_name.clone(), org_role: *org_role };
                let added = self.stage_org(&actor, &job.by, &add, now, staged)?;
                let Some(phc) = phc else { return Ok(added) };
                let set = OrgCommand::SetPassword { user: user.clone() };
                match (added, self.stage_org(&actor, &job.by, &set, now, staged)) {
                    (Outcome::Staged(record, first), Ok(Outcome::Staged(_, then))) => {
                        side.passwords.push((user.to_string(), phc.clone()));
                        Ok(Outcome::Staged(record, first.start..then.end))
                    }
                    // The user was staged but cannot be given the password: a defect, so the
                    // batch is rolled back rather than half of this request written.
                    (_, result) => Err(LedgerError::Internal(format!(
                        "adding {user} with a password: {}",
                        result.err().map_or_else(|| "unexpected outcome".to_owned(), |e| e.to_string())
                    ))),
                }
            }
        }
    }

    fn stage_org(
        &mut self,
        actor: &Actor,
        by: &UserName,
        command: &OrgCommand,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
    ) -> Result<Outcome, LedgerError> {
        let events = decide::decide_org(&self.org, by, command, now)?;
        let entries = seal((self.org.seq, self.org.head), now.max(self.org.updated_at), actor, &events);
        for (entry, event) in entries.iter().zip(&events) {
            self.org.apply(entry, event).map_err(|error| LedgerError::Internal(error.to_string()))?;
        }
        let slot = staged.entry(RecordId::Org).or_insert_with(|| Staged {
            after: entries[0].seq - 1,
            created: false,
            entries: Vec::new(),
            events: StagedEvents::Org(Vec::new()),
        });
        Ok(Outcome::Staged(RecordId::Org, extend(slot, entries, StagedEvents::Org(events))))
    }

    /// Makes durable entries visible to readers and live subscribers.
    fn publish(&mut self, staged: &BTreeMap<RecordId, Staged>) {
        for (record, batch) in staged {
            match (record, &batch.events) {
                (RecordId::Org, _) => *self.published.org.write() = Arc::new(self.org.clone()),
                (RecordId::Incident(number), StagedEvents::Incident(events)) => {
                    if batch.created {
                        if let Some(state) = self.incidents.get(number) {
                            self.published.incidents.write().insert(*number, Arc::new(RwLock::new(state.clone())));
                        }
                    } else if let Some(cell) = self.published.incidents.read().get(number).cloned() {
                        let mut state = cell.write();
                        for (entry, event) in batch.entries.iter().zip(events) {
                            if let Err(error) = state.apply(entry, event) {
                                // Already folded once into the working copy, so this cannot
                                // happen; if it did, readers would lag until a restart.
                                tracing::error!(%record, %error, "published state refused a committed entry");
                            }
                        }
                    }
                }
                (RecordId::Incident(_), StagedEvents::Org(_)) => {}
            }
            self.published.entries_appended.fetch_add(batch.entries.len() as u64, Ordering::Relaxed);
            if let Some(sender) = self.published.live.lock().get(record) {
                let _ = sender.send(Arc::new(Committed { record: *record, entries: batch.entries.clone() }));
            }
        }
        let commits = self.published.commits.fetch_add(1, Ordering::Relaxed) + 1;
        self.published.committed.send_replace(commits);
    }

    /// Restores the working copy of every record the batch touched from the published state.
    fn rollback(&mut self, staged: &BTreeMap<RecordId, Staged>) {
        for (record, batch) in staged {
            match record {
                RecordId::Org => self.org = (**self.published.org.read()).clone(),
                RecordId::Incident(number) if batch.created => {
                    self.incidents.remove(number);
                }
                RecordId::Incident(number) => {
                    if let Some(cell) = self.published.incidents.read().get(number) {
                        self.incidents.insert(*number, cell.read().clone());
                    }
                }
            }
        }
        self.next_incident = self.published.incidents.read().keys().last().map_or(1, |n| n.0 + 1);
    }

    /// Catches one record up with what other writers appended to the store.
    fn refresh(&mut self, record: RecordId) -> Result<(), LedgerError> {
        let corrupt = |error: FoldError| LedgerError::Corrupt { record, reason: error.to_string() };
        let entries = load(self.published.store.as_ref(), record)?;
        match record {
            RecordId::Org => {
                let org = OrgState::fold(&entries).map_err(corrupt)?;
                *self.published.org.write() = Arc::new(org.clone());
                self.org = org;
            }
            RecordId::Incident(number) => {
                let state = IncidentState::fold(&entries).map_err(corrupt)?;
                self.published.incidents.write().insert(number, Arc::new(RwLock::new(state.clone())));
                self.incidents.insert(number, state);
                self.next_incident = self.next_incident.max(number.0 + 1);
            }
        }
        Ok(())
    }
}

/// Decides against one incident's working state, seals the events as `actor`, folds them into
/// the working state and stages them.
fn stage_incident(
    incidents: &mut HashMap<IncidentNumber, IncidentState>,
    incident: IncidentNumber,
    actor: &Actor,
    now: Timestamp,
    staged: &mut BTreeMap<RecordId, Staged>,
    decide: impl FnOnce(&IncidentState) -> Result<Vec<IncidentEvent>, Refusal>,
) -> Result<Outcome, LedgerError> {
    let state =
        incidents.get_mut(&incident).ok_or_else(|| Refusal::NotFound(format!("there is no incident {incident}")))?;
    let events = decide(state)?;
    // The record's time never goes backwards, even if the clock does.
    let at = now.max(state.updated_at);
    let entries = seal((state.seq, state.head), at, actor, &events);
    for (entry, event) in entries.iter().zip(&events) {
        state.apply(entry, event).map_err(|error| LedgerError::Internal(error.to_string()))?;
    }
    let record = RecordId::Incident(incident);
    let slot = staged.entry(record).or_insert_with(|| Staged {
        after: entries[0].seq - 1,
        created: false,
        entries: Vec::new(),
        events: StagedEvents::Incident(Vec::new()),
    });
    Ok(Outcome::Staged(record, extend(slot, entries, StagedEvents::Incident(events))))
}

fn extend(slot: &mut Staged, entries: Vec<Entry>, events: StagedEvents) -> Range<usize> {
    let start = slot.entries.len();
    slot.entries.extend(entries);
    match (&mut slot.events, events) {
        (StagedEvents::Incident(all), StagedEvents::Incident(new)) => all.extend(new),
        (StagedEvents::Org(all), StagedEvents::Org(new)) => all.extend(new),
        _ => {}
    }
    start..slot.entries.len()
}

fn answer(batch: Vec<Job>, outcomes: Vec<Outcome>, staged: &BTreeMap<RecordId, Staged>) {
    let receipt = |record: &RecordId, range: &Range<usize>, replayed: bool| Receipt {
        record: *record,
        entries: staged.get(record).map(|s| s.entries[range.clone()].to_vec()).unwrap_or_default(),
        replayed,
    };
    let results: Vec<Result<Receipt, LedgerError>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Staged(record, range) => Ok(receipt(record, range, false)),
            Outcome::Replayed(first) => Ok(first.clone()),
            Outcome::SameAs(earlier) => match &outcomes[*earlier] {
                Outcome::Staged(record, range) => Ok(receipt(record, range, true)),
                Outcome::Failed(error) => Err(error.duplicate()),
                _ => Err(LedgerError::Internal("a repeated key's first request was not staged".into())),
            },
            Outcome::Failed(error) => Err(error.duplicate()),
        })
        .collect();
    for (job, result) in batch.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
}

fn answer_all(batch: Vec<Job>, error: impl Fn() -> LedgerError) {
    for job in batch {
        let _ = job.reply.send(Err(error()));
    }
}
