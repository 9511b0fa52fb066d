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
//! **Invariant:** nothing writes entries except this thread, and it writes only what
//! `sitrep_core::decide` yielded.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::RwLock;
use sitrep_core::decide::{self, Declare, IncidentCommand, OrgCommand, Refusal};
use sitrep_core::events::{IncidentEvent, OrgEvent, seal};
use sitrep_core::incident::FoldError;
use sitrep_core::{Actor, Entry, EntryHash, IncidentNumber, IncidentState, OrgState, RecordId, Timestamp, UserName};
use tokio::sync::{broadcast, oneshot};
use uuid::Uuid;

use crate::verify::{VerifyError, verify_store};
use crate::{Append, Store, StoreError};

/// The most commands gathered into one transaction.
const MAX_BATCH: usize = 1024;
/// Commands waiting beyond this many make callers wait before queueing (back-pressure).
const QUEUE_DEPTH: usize = 65_536;
/// Live subscribers that fall this far behind are told they lagged and re-read from the store.
const LIVE_BUFFER: usize = 16_384;
/// Entries read per query when loading a record.
const LOAD_CHUNK: usize = 10_000;

/// What a person asks the ledger to do.
#[derive(Debug, Clone)]
pub enum Request {
    Declare(Declare),
    Incident { incident: IncidentNumber, command: IncidentCommand },
    Org(OrgCommand),
}

/// The entries a command appended, once durable.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub record: RecordId,
    pub entries: Vec<Entry>,
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
    #[error("this data directory has no organisation record; run `sitrep init` first")]
    NotInitialised,
    #[error("{record} cannot be loaded: {reason}; run `sitrep verify` for details")]
    Corrupt { record: RecordId, reason: String },
    /// A defect: decided entries did not fold. Nothing was written.
    #[error("internal error, nothing was written: {0}")]
    Internal(String),
}

/// The source of server time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from_jiff(jiff::Timestamp::now()))
}

struct Job {
    by: UserName,
    request: Request,
    reply: oneshot::Sender<Result<Receipt, LedgerError>>,
}

/// What readers see: only durable state.
struct Published {
    store: Arc<dyn Store>,
    org: RwLock<Arc<OrgState>>,
    incidents: RwLock<BTreeMap<IncidentNumber, Arc<RwLock<IncidentState>>>>,
    live: broadcast::Sender<Arc<Committed>>,
}

/// The handle through which everything reads and writes records.
pub struct Ledger {
    published: Arc<Published>,
    queue: Option<Sender<Job>>,
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
            match head.record {
                RecordId::Org => org = Some(OrgState::fold(&entries).map_err(corrupt)?),
                RecordId::Incident(number) => {
                    incidents.insert(number, IncidentState::fold(&entries).map_err(corrupt)?);
                }
            }
        }
        let org = org.ok_or(LedgerError::NotInitialised)?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let published = Arc::new(Published {
            store,
            org: RwLock::new(Arc::new(org.clone())),
            incidents: RwLock::new(incidents.iter().map(|(n, s)| (*n, Arc::new(RwLock::new(s.clone())))).collect()),
            live,
        });
        let (queue, jobs) = crossbeam_channel::bounded(QUEUE_DEPTH);
        let next_incident = incidents.keys().last().map_or(1, |n| n.0 + 1);
        let mut writer = Writer {
            published: published.clone(),
            clock,
            org,
            incidents: incidents.into_iter().collect(),
            next_incident,
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
    ) -> Result<oneshot::Receiver<Result<Receipt, LedgerError>>, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or(LedgerError::ShuttingDown)?;
        queue.send(Job { by: by.clone(), request, reply }).map_err(|_| LedgerError::ShuttingDown)?;
        Ok(answer)
    }

    /// Decides and appends a command, answering once its entries are durable.
    pub async fn execute(&self, by: &UserName, request: Request) -> Result<Receipt, LedgerError> {
        self.submit(by, request)?.await.map_err(|_| LedgerError::ShuttingDown)?
    }

    /// As [`Ledger::execute`], for threads outside an async runtime.
    pub fn execute_blocking(&self, by: &UserName, request: Request) -> Result<Receipt, LedgerError> {
        self.submit(by, request)?.blocking_recv().map_err(|_| LedgerError::ShuttingDown)?
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

    /// Live entries as they commit. Subscribe before reading the store to leave no gap.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.published.live.subscribe()
    }

    pub fn live_subscribers(&self) -> usize {
        self.published.live.receiver_count()
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

fn load(store: &dyn Store, record: RecordId) -> Result<Vec<Entry>, LedgerError> {
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

type Outcome = Result<(RecordId, Range<usize>), LedgerError>;

struct Writer {
    published: Arc<Published>,
    clock: Clock,
    org: OrgState,
    incidents: HashMap<IncidentNumber, IncidentState>,
    next_incident: u64,
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
            self.commit(batch);
        }
    }

    /// Decides, writes and answers one batch of commands.
    fn commit(&mut self, batch: Vec<Job>) {
        const ATTEMPTS: usize = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = (self.clock)();
            let mut staged: BTreeMap<RecordId, Staged> = BTreeMap::new();
            let outcomes: Vec<Outcome> = batch.iter().map(|job| self.stage(job, now, &mut staged)).collect();
            if let Some(defect) = outcomes.iter().find_map(|o| match o {
                Err(LedgerError::Internal(reason)) => Some(reason.clone()),
                _ => None,
            }) {
                tracing::error!(%defect, "decided entries did not fold; the batch is refused");
                self.rollback(&staged);
                return answer_all(batch, |_| Err(LedgerError::Internal(defect.clone())));
            }
            if staged.is_empty() {
                return answer(batch, outcomes, &staged);
            }
            let appends: Vec<Append<'_>> = staged
                .iter()
                .map(|(record, s)| Append { record: *record, after: s.after, entries: &s.entries })
                .collect();
            match self.published.store.append(&appends) {
                Ok(()) => {
                    self.publish(&staged);
                    return answer(batch, outcomes, &staged);
                }
                Err(StoreError::Conflict { record, expected, found }) if attempt < ATTEMPTS => {
                    // Another node appended first: catch up from the store and decide again.
                    tracing::info!(%record, expected, found, "append conflict; refreshing and retrying");
                    self.rollback(&staged);
                    if let Err(error) = self.refresh(record) {
                        return answer_all(batch, |_| {
                            Err(LedgerError::Unavailable(StoreError::Backend(error.to_string())))
                        });
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "append failed; nothing in the batch was written");
                    self.rollback(&staged);
                    let message = error.to_string();
                    return answer(
                        batch,
                        outcomes
                            .into_iter()
                            .map(|o| o.and(Err(LedgerError::Unavailable(StoreError::Backend(message.clone())))))
                            .collect(),
                        &staged,
                    );
                }
            }
        }
    }

    /// Decides one command against the working state and stages its entries.
    fn stage(&mut self, job: &Job, now: Timestamp, staged: &mut BTreeMap<RecordId, Staged>) -> Outcome {
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
                Ok((record, range))
            }
            Request::Incident { incident, command } => {
                let state = self
                    .incidents
                    .get_mut(incident)
                    .ok_or_else(|| Refusal::NotFound(format!("there is no incident {incident}")))?;
                let events = decide::decide_incident(state, &self.org, &job.by, command)?;
                // The record's time never goes backwards, even if the clock does.
                let at = now.max(state.updated_at);
                let entries = seal((state.seq, state.head), at, &actor, &events);
                for (entry, event) in entries.iter().zip(&events) {
                    state.apply(entry, event).map_err(internal)?;
                }
                let record = RecordId::Incident(*incident);
                let slot = staged.entry(record).or_insert_with(|| Staged {
                    after: entries[0].seq - 1,
                    created: false,
                    entries: Vec::new(),
                    events: StagedEvents::Incident(Vec::new()),
                });
                Ok((record, extend(slot, entries, StagedEvents::Incident(events))))
            }
            Request::Org(command) => {
                let events = decide::decide_org(&self.org, &job.by, command, now)?;
                let entries = seal((self.org.seq, self.org.head), now.max(self.org.updated_at), &actor, &events);
                for (entry, event) in entries.iter().zip(&events) {
                    self.org.apply(entry, event).map_err(internal)?;
                }
                let slot = staged.entry(RecordId::Org).or_insert_with(|| Staged {
                    after: entries[0].seq - 1,
                    created: false,
                    entries: Vec::new(),
                    events: StagedEvents::Org(Vec::new()),
                });
                Ok((RecordId::Org, extend(slot, entries, StagedEvents::Org(events))))
            }
        }
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
            let _ = self.published.live.send(Arc::new(Committed { record: *record, entries: batch.entries.clone() }));
        }
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
        match record {
            RecordId::Org => {
                let entries = load(self.published.store.as_ref(), record)?;
                let org = OrgState::fold(&entries).map_err(corrupt)?;
                *self.published.org.write() = Arc::new(org.clone());
                self.org = org;
            }
            RecordId::Incident(number) => {
                let entries = load(self.published.store.as_ref(), record)?;
                let state = IncidentState::fold(&entries).map_err(corrupt)?;
                self.published.incidents.write().insert(number, Arc::new(RwLock::new(state.clone())));
                self.incidents.insert(number, state);
                self.next_incident = self.next_incident.max(number.0 + 1);
            }
        }
        Ok(())
    }
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
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        let result = outcome.map(|(record, range)| Receipt {
            record,
            entries: staged.get(&record).map(|s| s.entries[range].to_vec()).unwrap_or_default(),
        });
        let _ = job.reply.send(result);
    }
}

fn answer_all(batch: Vec<Job>, result: impl Fn(&Job) -> Result<Receipt, LedgerError>) {
    for job in batch {
        let outcome = result(&job);
        let _ = job.reply.send(outcome);
    }
}
