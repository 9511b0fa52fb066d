//! The writer thread: takes batches off the queue, decides and stages each command against the
//! working state, commits the batch in one transaction, then publishes and answers.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use parking_lot::RwLock;
use sitrep_core::decide::{self, OrgCommand, Refusal};
use sitrep_core::events::{IncidentEvent, OrgEvent, seal};
use sitrep_core::incident::FoldError;
use sitrep_core::{Actor, Entry, EntryHash, IncidentNumber, IncidentState, OrgState, RecordId, Timestamp, UserName};
use uuid::Uuid;

use super::{Clock, Committed, Job, LedgerError, MAX_BATCH, Published, Receipt, Request, load};
use crate::{Append, Extras, IdempotencyRow, SessionRow, StoreError};

/// Entries gathered for one record in the current batch.
pub(super) struct Staged {
    pub(super) after: u64,
    pub(super) created: bool,
    pub(super) entries: Vec<Entry>,
    pub(super) events: StagedEvents,
}

pub(super) enum StagedEvents {
    Incident(Vec<IncidentEvent>),
    Org(Vec<OrgEvent>),
}

/// What one command of a batch came to.
pub(super) enum Outcome {
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
pub(super) struct Side {
    pub(super) passwords: Vec<(String, String)>,
    pub(super) idempotency: Vec<IdempotencyRow>,
    /// Sessions begun and ended (by id) by `session.*` entries of this batch.
    pub(super) sessions_started: Vec<SessionRow>,
    pub(super) sessions_ended: Vec<String>,
    /// The batch index of the command that wrote each row of `idempotency`.
    pub(super) idempotent_jobs: Vec<usize>,
}

pub(super) struct Writer {
    pub(super) published: Arc<Published>,
    pub(super) clock: Clock,
    pub(super) org: OrgState,
    pub(super) incidents: HashMap<IncidentNumber, IncidentState>,
    pub(super) next_incident: u64,
    /// Idempotency keys of the last 24 hours, by (user, key).
    pub(super) remembered: HashMap<(String, String), IdempotencyRow>,
    pub(super) jobs_since_prune: usize,
}

impl Writer {
    pub(super) fn run(&mut self, jobs: Receiver<Job>) {
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
    pub(super) fn commit(&mut self, batch: &mut Vec<Job>) {
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
            // A disabled user's sessions, and those of a user whose password changed, end in
            // the transaction that records it.
            let disabled: Vec<String> = match staged.get(&RecordId::Org).map(|s| &s.events) {
                Some(StagedEvents::Org(events)) => events
                    .iter()
                    .filter_map(|event| match event {
                        OrgEvent::UserDisabled(disabled) => Some(disabled.user.to_string()),
                        OrgEvent::UserPasswordSet(set) => Some(set.user.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let extras = Extras {
                passwords: &side.passwords,
                idempotency: &side.idempotency,
                sessions_started: &side.sessions_started,
                sessions_ended: &side.sessions_ended,
                sessions_ended_of: &disabled,
            };
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

    /// Decides one command against the working state and stages its entries.
    pub(super) fn stage(
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
            Request::IncidentInSession { incident, command, authentication } => {
                let (org, by) = (&self.org, &job.by);
                let decide = |state: &IncidentState| {
                    let now = now.max(state.updated_at);
                    decide::decide_incident_as(state, org, by, Some(authentication), command, now)
                };
                stage_incident(&mut self.incidents, *incident, &actor, now, staged, decide)
            }
            Request::Org(command) => self.stage_org(&actor, &job.by, command, now, staged),
            Request::System { incident, connector, command } => {
                let actor = Actor::system(connector).map_err(|e| LedgerError::Internal(e.to_string()))?;
                let decide = |state: &IncidentState| decide::decide_system(state, command, now.max(state.updated_at));
                stage_incident(&mut self.incidents, *incident, &actor, now, staged, decide)
            }
            Request::OrgSystem { connector, command } => {
                let actor = Actor::system(connector).map_err(|e| LedgerError::Internal(e.to_string()))?;
                let events = decide::decide_org_system(&self.org, command, now)?;
                self.stage_org_events(&actor, events, now, staged)
            }
            Request::SignIn { session } => {
                let command = OrgCommand::RecordSignIn {
                    session: session.public_id().to_owned(),
                    authentication: session.authentication.clone(),
                };
                if session.user != job.by.as_str() {
                    return Err(LedgerError::Internal("a session is begun by its own user".into()));
                }
                let outcome = self.stage_org(&actor, &job.by, &command, now, staged)?;
                side.sessions_started.push(session.clone());
                Ok(outcome)
            }
            Request::SignOut { user, session, reason } => {
                let public: String = session.chars().take(12).collect();
                let command = OrgCommand::RecordSignOut { user: user.clone(), session: public, reason: reason.clone() };
                let outcome = self.stage_org(&actor, &job.by, &command, now, staged)?;
                side.sessions_ended.push(session.clone());
                Ok(outcome)
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

    pub(super) fn stage_org(
        &mut self,
        actor: &Actor,
        by: &UserName,
        command: &OrgCommand,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
    ) -> Result<Outcome, LedgerError> {
        let events = decide::decide_org(&self.org, by, command, now)?;
        self.stage_org_events(actor, events, now, staged)
    }

    /// Seals decided events onto the organisation record's working copy.
    fn stage_org_events(
        &mut self,
        actor: &Actor,
        events: Vec<OrgEvent>,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
    ) -> Result<Outcome, LedgerError> {
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
    pub(super) fn publish(&mut self, staged: &BTreeMap<RecordId, Staged>) {
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
    pub(super) fn rollback(&mut self, staged: &BTreeMap<RecordId, Staged>) {
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
    pub(super) fn refresh(&mut self, record: RecordId) -> Result<(), LedgerError> {
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
pub(super) fn stage_incident(
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

pub(super) fn extend(slot: &mut Staged, entries: Vec<Entry>, events: StagedEvents) -> Range<usize> {
    let start = slot.entries.len();
    slot.entries.extend(entries);
    match (&mut slot.events, events) {
        (StagedEvents::Incident(all), StagedEvents::Incident(new)) => all.extend(new),
        (StagedEvents::Org(all), StagedEvents::Org(new)) => all.extend(new),
        _ => {}
    }
    start..slot.entries.len()
}

pub(super) fn answer(batch: Vec<Job>, outcomes: Vec<Outcome>, staged: &BTreeMap<RecordId, Staged>) {
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

pub(super) fn answer_all(batch: Vec<Job>, error: impl Fn() -> LedgerError) {
    for job in batch {
        let _ = job.reply.send(Err(error()));
    }
}
