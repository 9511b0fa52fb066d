//! Many people acting at once, and a store that cannot write (SPEC §5 "Nothing lost").
//!
//! The ledger is the single writer in front of the store and commits concurrent commands
//! together. These tests hold it to what users rely on: concurrent commands leave one linear,
//! gap-free record in which every acknowledged entry has its own seq; and when the store cannot
//! write, the command is refused with a clear error and nothing changes, not even the numbers the
//! next command will get.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sitrep_core::chain::RawEntry;
use sitrep_core::decide::{Declare, IncidentCommand, OrgCommand};
use sitrep_core::events::{DecisionState, IncidentEvent};
use sitrep_core::{DecisionClass, Entry, FactId, IncidentNumber, OrgRole, RecordId, Severity, Timestamp};
use sitrep_store::verify::verify_store;
use sitrep_store::{
    Append, Extras, Head, IdempotencyRow, Ledger, LedgerError, Request, SessionRow, SqliteStore, Store, StoreError,
};
use support::*;
use tokio::sync::broadcast::error::TryRecvError;

const THREADS: usize = 32;
const FACTS_PER_THREAD: usize = 100;
/// Each thread also proposes a credential revocation every this many facts, which the
/// commander or tech lead then approves.
const PROPOSE_EVERY: usize = 25;

fn responder(thread: usize) -> String {
    format!("responder-{thread}")
}

#[test]
fn concurrent_commands_on_one_incident_leave_one_gap_free_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_sqlite(dir.path());
    let ledger = deploy(&store);
    let responders: Vec<String> = (0..THREADS).map(responder).collect();
    add_users(&ledger, &responders.iter().map(String::as_str).collect::<Vec<_>>());
    let incident = incident_of(&declare(&ledger, "Credential stuffing against the VPN"));
    for name in &responders {
        let assign = IncidentCommand::AssignRole { role: role("responder"), user: user(name), unit: None };
        act(&ledger, "cmd", incident, assign).expect("the commander staffs responders");
    }
    let setup = ledger.with_incident(incident, |s| s.seq).expect("the incident exists");

    // Every thread logs its facts and, now and then, proposes a revocation (a responder may
    // propose; it needs the commander or tech lead) that a lead approves at once.
    let acknowledged: Vec<Vec<Entry>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let ledger = &ledger;
                scope.spawn(move || {
                    let me = responder(thread);
                    let lead = ["cmd", "tech"][thread % 2];
                    let mut entries = Vec::new();
                    for i in 0..FACTS_PER_THREAD {
                        let fact = act(ledger, &me, incident, log_fact(&format!("{me} saw login burst {i}")))
                            .expect("a responder logs a fact");
                        entries.extend(fact.entries);
                        if i % PROPOSE_EVERY == 0 {
                            let propose = IncidentCommand::Propose {
                                class: DecisionClass::parse("credential_revocation").expect("class"),
                                title: format!("Reset passwords seen by {me} ({i})"),
                                rationale: None,
                                actions: Vec::new(),
                                statement: None,
                                clocks: Vec::new(),
                            };
                            let proposed =
                                act(ledger, &me, incident, propose).expect("a responder proposes a revocation");
                            let decision =
                                match IncidentEvent::parse(&proposed.entries[0].kind, &proposed.entries[0].body) {
                                    Ok(IncidentEvent::DecisionProposed(body)) => {
                                        assert_eq!(
                                            body.state,
                                            DecisionState::Proposed,
                                            "a responder alone cannot decide a revocation"
                                        );
                                        body.decision
                                    }
                                    other => panic!("proposing wrote {other:?}"),
                                };
                            entries.extend(proposed.entries);
                            let approved =
                                act(ledger, lead, incident, IncidentCommand::Approve { decision, note: None })
                                    .expect("a lead approves");
                            entries.extend(approved.entries);
                        }
                    }
                    entries
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a writer thread panicked")).collect()
    });

    let verified = verify_store(store.as_ref(), &mut |_| {}).expect("the store verifies after concurrent writes");
    assert_eq!(verified.records, 2);
    let record = store.read(RecordId::Incident(incident), 1, usize::MAX).expect("reads the incident");
    let decisions = THREADS * FACTS_PER_THREAD.div_ceil(PROPOSE_EVERY);
    let expected = setup as usize + THREADS * FACTS_PER_THREAD + 2 * decisions;
    assert_eq!(record.len(), expected, "every acknowledged command wrote its entries, and nothing else was written");
    assert_eq!(
        record.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=expected as u64).collect::<Vec<_>>(),
        "seqs run 1..=n without gaps"
    );
    let count = |kind: &str| record.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("fact.logged"), THREADS * FACTS_PER_THREAD);
    assert_eq!(count("decision.proposed"), decisions);
    assert_eq!(count("decision.approved"), decisions);

    // No seq was acknowledged twice (a fork), and every acknowledged entry is the stored one.
    let mut owner: BTreeMap<u64, usize> = BTreeMap::new();
    for (thread, entries) in acknowledged.iter().enumerate() {
        for entry in entries {
            if let Some(other) = owner.insert(entry.seq, thread) {
                panic!("seq {} was acknowledged to thread {other} and to thread {thread}", entry.seq);
            }
            assert_eq!(
                &record[entry.seq as usize - 1],
                entry,
                "the acknowledged entry at seq {} is the stored one",
                entry.seq
            );
        }
    }
    assert_eq!(
        owner.keys().copied().collect::<Vec<_>>(),
        (setup + 1..=expected as u64).collect::<Vec<_>>(),
        "every entry after setup was acknowledged to someone"
    );

    // The state agrees: facts numbered F-1..F-n once each, every decision approved.
    ledger
        .with_incident(incident, |state| {
            assert_eq!(state.seq, expected as u64);
            assert_eq!(state.head, record.last().expect("entries").hash);
            let ids: BTreeSet<FactId> = state.facts.iter().map(|f| f.id).collect();
            assert_eq!(ids, (1..=(THREADS * FACTS_PER_THREAD) as u64).map(FactId).collect());
            assert_eq!(state.decisions.len(), decisions);
            assert!(state.decisions.iter().all(|d| d.state == DecisionState::Approved));
        })
        .expect("the incident exists");
}

/// A store that refuses every commit while `down` is set, as a full disk or a lost database
/// connection would, and otherwise passes everything to SQLite.
struct FailingStore {
    inner: SqliteStore,
    down: Arc<AtomicBool>,
    refused: AtomicUsize,
}

impl Store for FailingStore {
    fn commit(&self, batch: &[Append<'_>], extras: &Extras<'_>) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Backend("disk full".into()));
        }
        self.inner.commit(batch, extras)
    }

    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.inner.password_hash(user)
    }

    fn idempotency_since(&self, since: Timestamp) -> Result<Vec<IdempotencyRow>, StoreError> {
        self.inner.idempotency_since(since)
    }

    fn read(&self, record: RecordId, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.inner.read(record, from, limit)
    }

    fn heads(&self) -> Result<Vec<Head>, StoreError> {
        self.inner.heads()
    }

    fn scan(&self, visit: &mut dyn FnMut(RecordId, RawEntry<'_>) -> ControlFlow<()>) -> Result<(), StoreError> {
        self.inner.scan(visit)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }

    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.inner.session(id)
    }

    fn sessions_of(&self, user: &str) -> Result<Vec<SessionRow>, StoreError> {
        self.inner.sessions_of(user)
    }

    fn touch_session(&self, id: &str, at: sitrep_core::Timestamp) -> Result<(), StoreError> {
        self.inner.touch_session(id, at)
    }

    fn purge_sessions(
        &self,
        now: sitrep_core::Timestamp,
        idle_since: sitrep_core::Timestamp,
    ) -> Result<usize, StoreError> {
        self.inner.purge_sessions(now, idle_since)
    }
}

#[track_caller]
fn assert_unavailable(result: Result<sitrep_store::Receipt, LedgerError>, what: &str) {
    match result {
        Err(LedgerError::Unavailable(error)) => {
            let message = LedgerError::Unavailable(error).to_string();
            assert!(
                message.contains("could not be written") && message.contains("disk full"),
                "{what}: the error says why: {message}"
            );
        }
        other => panic!("{what} while the store is down must be refused as unavailable, got {other:?}"),
    }
}

#[test]
fn a_failed_append_refuses_the_command_changes_nothing_and_leaves_no_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let down = Arc::new(AtomicBool::new(false));
    let failing = Arc::new(FailingStore {
        inner: SqliteStore::open(&dir.path().join(DB_FILE)).expect("opens"),
        down: down.clone(),
        refused: AtomicUsize::new(0),
    });
    let store: Arc<dyn Store> = failing.clone();
    let ledger = deploy(&store);
    let incident = incident_of(&declare(&ledger, "Ransomware note on a file server"));
    let logged =
        act(&ledger, "tech", incident, log_fact("Encrypted shares on fs-02")).expect("logs while the store is up");
    let last_seq = logged.entries[0].seq;

    let state = |ledger: &Ledger| {
        ledger.with_incident(incident, |s| serde_json::to_value(s).expect("serialises")).expect("the incident exists")
    };
    let before = state(&ledger);
    let org_before = (ledger.org().seq, ledger.org().head, ledger.org().users.len());
    let heads_before = store.heads().expect("heads");
    let entries_before = verify_store(store.as_ref(), &mut |_| {}).expect("verifies").entries;
    let mut live = ledger.subscribe(sitrep_core::RecordId::Incident(incident));

    down.store(true, Ordering::SeqCst);
    assert_unavailable(act(&ledger, "tech", incident, log_fact("Backups are intact")), "logging a fact");
    let revoke = IncidentCommand::Propose {
        class: DecisionClass::parse("containment").expect("class"),
        title: "Isolate fs-02".into(),
        rationale: None,
        actions: Vec::new(),
        statement: None,
        clocks: Vec::new(),
    };
    assert_unavailable(act(&ledger, "cmd", incident, revoke.clone()), "deciding containment");
    let second = Declare { title: "Second incident".into(), severity: Some(Severity::Sev3), ..Declare::default() };
    assert_unavailable(
        ledger.execute_blocking(&user("cmd"), Request::Declare(second.clone())),
        "declaring an incident",
    );
    let add = OrgCommand::AddUser { user: user("newcomer"), display_name: None, org_role: OrgRole::Member };
    assert_unavailable(ledger.execute_blocking(&user(ADMIN), Request::Org(add.clone())), "adding a user");
    // Concurrent commands refused in one batch all get the error too.
    std::thread::scope(|scope| {
        for i in 0..8 {
            let ledger = &ledger;
            scope.spawn(move || {
                assert_unavailable(act(ledger, "tech", incident, log_fact(&format!("burst {i}"))), "logging in a burst")
            });
        }
    });
    assert!(failing.refused.load(Ordering::SeqCst) >= 5, "the store was asked and refused");

    // Nothing changed: not the state readers see, not the store, and no live update went out.
    assert_eq!(state(&ledger), before, "the published incident state is unchanged");
    assert_eq!(
        (ledger.org().seq, ledger.org().head, ledger.org().users.len()),
        org_before,
        "the organisation is unchanged"
    );
    assert!(
        ledger.with_incident(IncidentNumber(incident.0 + 1), |_| ()).is_none(),
        "the refused declaration is not visible"
    );
    assert_eq!(store.heads().expect("heads"), heads_before, "nothing was written");
    assert_eq!(verify_store(store.as_ref(), &mut |_| {}).expect("verifies").entries, entries_before);
    assert!(matches!(live.try_recv(), Err(TryRecvError::Empty)), "no live update for an entry that was not written");

    // Once the store is back, the next commands get the next numbers: no seq, fact, decision or
    // incident number was used up by the refused ones.
    down.store(false, Ordering::SeqCst);
    let fact = act(&ledger, "tech", incident, log_fact("Backups are intact")).expect("logs once the store is back");
    assert_eq!(fact.entries[0].seq, last_seq + 1, "no gap in the record");
    assert!(fact.entries[0].body.contains("\"fact\":\"F-2\""), "the fact is F-2: {}", fact.entries[0].body);
    let decided = act(&ledger, "cmd", incident, revoke).expect("decides once the store is back");
    assert!(
        decided.entries[0].body.contains("\"decision\":\"D-1\""),
        "the decision is D-1: {}",
        decided.entries[0].body
    );
    let declared =
        ledger.execute_blocking(&user("cmd"), Request::Declare(second)).expect("declares once the store is back");
    assert_eq!(
        declared.record,
        RecordId::Incident(IncidentNumber(incident.0 + 1)),
        "the next incident number was not used up"
    );
    ledger.execute_blocking(&user(ADMIN), Request::Org(add)).expect("adds the user once the store is back");
    let live_update = live.try_recv().expect("the committed fact is told to live subscribers");
    assert_eq!(live_update.entries, fact.entries);
    verify_store(store.as_ref(), &mut |_| {}).expect("the store verifies");
}
