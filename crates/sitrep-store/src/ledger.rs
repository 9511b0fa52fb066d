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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};
use sitrep_core::decide::{OrgCommand, Refusal, SystemCommand};
use sitrep_core::events::{OrgEvent, seal};
use sitrep_core::incident::FoldError;
use sitrep_core::{Actor, Entry, EntryHash, IncidentNumber, IncidentState, OrgState, RecordId, Timestamp, UserName};
use tokio::sync::{broadcast, oneshot};

use crate::verify::{VerifyError, verify_store};
use crate::{Append, Store, StoreError};

mod idempotency;
mod load;
mod request;
mod writer;

pub use idempotency::IDEMPOTENCY_WINDOW_SECS;
pub(crate) use load::load;
pub use load::{Folded, fold_entries};
pub use request::{Committed, IdempotencyKey, LedgerError, Receipt, Request};
use writer::Writer;

/// The most commands gathered into one transaction.
const MAX_BATCH: usize = 1024;
/// Commands waiting beyond this many make callers wait before queueing (back-pressure).
const QUEUE_DEPTH: usize = 65_536;
/// Live subscribers that fall this far behind are told they lagged and re-read from the store.
const LIVE_BUFFER: usize = 4_096;

/// The source of server time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub use crate::time::system_clock;

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

    /// Records a change an identity connector makes to the organisation's users
    /// (`system:<connector>` is the actor), under [`sitrep_core::decide::decide_org_system`].
    pub async fn execute_org_system(&self, connector: &str, command: OrgCommand) -> Result<Receipt, LedgerError> {
        let system = UserName::parse("system").map_err(|e| LedgerError::Internal(e.to_string()))?;
        self.execute(&system, Request::OrgSystem { connector: connector.to_owned(), command }).await
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
