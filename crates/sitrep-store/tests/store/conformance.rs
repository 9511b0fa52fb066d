//! The story every store backend must pass.
//!
//! It runs against a real SQLite file always, and against a real PostgreSQL server when
//! `SITREP_TEST_POSTGRES` gives a connection string without a database (`host=127.0.0.1
//! user=postgres`): each test gets a database of its own, dropped afterwards. CI sets it.
//! Each step says what a user relies on.

use std::collections::BTreeMap;
use std::sync::Arc;

use sitrep_core::authn::{AuthMethod, Authentication};
use sitrep_core::decide::{Declare, IncidentCommand, OrgCommand, genesis};
use sitrep_core::events::{FactStatus, OrgEvent};
use sitrep_core::{IncidentNumber, OrgRole, RecordId, Refusal, Role, Severity, Timestamp, UserName};
use sitrep_store::ledger::IdempotencyKey;
use sitrep_store::ledger::system_clock;
use sitrep_store::postgres::ScratchDatabase;
use sitrep_store::verify::verify_store;
use sitrep_store::{Append, Ledger, LedgerError, PostgresStore, Request, SessionRow, SqliteStore, Store, StoreError};

fn user(name: &str) -> UserName {
    UserName::parse(name).expect("valid user name")
}

fn role(name: &str) -> Role {
    Role::parse(name).expect("valid role")
}

fn now() -> Timestamp {
    sitrep_store::time::now()
}

/// A fresh deployment with an admin and five people for the core roles.
fn deploy(store: &Arc<dyn Store>) -> Ledger {
    let events: Vec<OrgEvent> = genesis(uuid::Uuid::new_v4(), "test", "cHVibGlj", &user("admin"), &"a".repeat(64));
    Ledger::create_deployment(store.as_ref(), &events, now()).expect("a new store takes a deployment");
    let ledger = Ledger::open(store.clone(), system_clock()).expect("opens");
    for name in ["cmd", "tech", "lee", "cora", "exec"] {
        let add = OrgCommand::AddUser { user: user(name), display_name: None, org_role: OrgRole::Member };
        ledger.execute_blocking(&user("admin"), Request::Org(add)).expect("admin adds users");
    }
    ledger
}

fn declare(ledger: &Ledger) -> IncidentNumber {
    let roles: BTreeMap<Role, UserName> =
        [("tech_lead", "tech"), ("legal", "lee"), ("comms", "cora"), ("executive", "exec")]
            .into_iter()
            .map(|(r, u)| (role(r), user(u)))
            .collect();
    let declare =
        Declare { title: "Leaked AWS key".into(), severity: Some(Severity::Sev2), roles, ..Declare::default() };
    let receipt = ledger.execute_blocking(&user("cmd"), Request::Declare(declare)).expect("a member declares");
    match receipt.record {
        RecordId::Incident(number) => number,
        RecordId::Org => panic!("declaring wrote to the organisation record"),
    }
}

fn act(
    ledger: &Ledger,
    by: &str,
    incident: IncidentNumber,
    command: IncidentCommand,
) -> Result<sitrep_store::Receipt, LedgerError> {
    ledger.execute_blocking(&user(by), Request::Incident { incident, command })
}

fn log_fact(text: &str) -> IncidentCommand {
    IncidentCommand::LogFact {
        text: text.into(),
        source: None,
        status: FactStatus::Unverified,
        basis: None,
        occurred: None,
    }
}

fn story(open: &dyn Fn() -> Arc<dyn Store>) {
    let store = open();
    let ledger = deploy(&store);

    // Declaring numbers incidents from 1 and staffs the commander and the named roles.
    let incident = declare(&ledger);
    assert_eq!(incident, IncidentNumber(1));
    let staffed = ledger.with_incident(incident, |s| s.roles.len()).expect("visible at once");
    assert_eq!(staffed, 5);

    // An acknowledged action is in the store and in the state when execute returns.
    let receipt =
        act(&ledger, "tech", incident, log_fact("CloudTrail shows ListBuckets from 203.0.113.7")).expect("logs");
    let seq = receipt.entries[0].seq;
    let stored = store.read(RecordId::Incident(incident), seq, 1).expect("reads");
    assert_eq!(stored, receipt.entries);
    assert_eq!(ledger.with_incident(incident, |s| s.facts.len()), Some(1));

    // A refusal writes nothing.
    let before = store.heads().expect("heads");
    let refused = act(&ledger, "cora", incident, IncidentCommand::SetPhase { phase: sitrep_core::Phase::Triage });
    assert!(matches!(refused, Err(LedgerError::Refused(Refusal::Forbidden { .. }))), "{refused:?}");
    assert_eq!(store.heads().expect("heads"), before);

    // Reads page by seq.
    let all = store.read(RecordId::Incident(incident), 1, 1000).expect("reads");
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=all.len() as u64).collect::<Vec<_>>());
    assert_eq!(store.read(RecordId::Incident(incident), 2, 2).expect("reads"), all[1..3].to_vec());
    assert!(store.read(RecordId::Incident(incident), all.len() as u64 + 1, 10).expect("reads").is_empty());

    // An append that expects a stale head is refused and writes nothing, even alongside a
    // valid append in the same batch.
    let org_tail = store.read(RecordId::Org, 1, 1000).expect("reads");
    let stale = Append { record: RecordId::Incident(incident), after: 1, entries: &all[1..2] };
    let fine = Append { record: RecordId::Org, after: org_tail.len() as u64, entries: &[] };
    match store.append(&[fine, stale]) {
        Err(StoreError::Conflict { record, expected: 1, found }) => {
            assert_eq!(record, RecordId::Incident(incident));
            assert_eq!(found, all.len() as u64);
        }
        other => panic!("a stale append must conflict, got {other:?}"),
    }
    assert_eq!(store.read(RecordId::Incident(incident), 1, 1000).expect("reads"), all);

    // Heads list every record, organisation first, and the store verifies.
    let heads = store.heads().expect("heads");
    assert_eq!(heads.iter().map(|h| h.record).collect::<Vec<_>>(), vec![RecordId::Org, RecordId::Incident(incident)]);
    assert_eq!(heads[1].seq, all.len() as u64);
    assert_eq!(heads[1].hash, all.last().expect("entries").hash.to_hex());
    let verified = verify_store(store.as_ref(), &mut |_| {}).expect("verifies");
    assert_eq!(verified.records, 2);

    // A second incident gets the next number; state survives a restart unchanged.
    let second = declare(&ledger);
    assert_eq!(second, IncidentNumber(2));
    let state = |ledger: &Ledger| {
        ledger.with_incident(incident, |s| serde_json::to_value(s).expect("serialises")).expect("exists")
    };
    let before = state(&ledger);
    ledger.close();
    let reopened = Ledger::open(open(), system_clock()).expect("reopens");
    assert_eq!(state(&reopened), before);
    assert_eq!(declare(&reopened), IncidentNumber(3));
}

/// Two writers on one store (as two server nodes would be) never fork a chain: the loser of a
/// race catches up from the store and decides again.
fn two_writers(open: &dyn Fn() -> Arc<dyn Store>) {
    let store = open();
    let first = deploy(&store);
    let incident = declare(&first);
    let second = Ledger::open(open(), system_clock()).expect("a second writer opens");
    std::thread::scope(|scope| {
        for (ledger, who) in [(&first, "tech"), (&second, "cmd")] {
            scope.spawn(move || {
                for i in 0..50 {
                    act(ledger, who, incident, log_fact(&format!("{who} finding {i}")))
                        .expect("logs despite the other writer");
                }
            });
        }
    });
    let verified = verify_store(store.as_ref(), &mut |_| {}).expect("one linear chain");
    assert!(verified.entries > 100);
    let facts = store
        .read(RecordId::Incident(incident), 1, 10_000)
        .expect("reads")
        .iter()
        .filter(|e| e.kind == "fact.logged")
        .count();
    assert_eq!(facts, 100);
}

/// A retried request with the same `Idempotency-Key` is answered from the first execution, even
/// after a restart; the same key for a different request is refused; nothing is written twice.
fn idempotency(open: &dyn Fn() -> Arc<dyn Store>) {
    let store = open();
    let ledger = deploy(&store);
    let incident = declare(&ledger);
    let key = |k: &str, fingerprint: &str| Some(IdempotencyKey { key: k.into(), fingerprint: fingerprint.into() });
    let run = |ledger: &Ledger, k: Option<IdempotencyKey>| {
        let request = Request::Incident { incident, command: log_fact("Key revoked at 03:12") };
        block_on(ledger.execute_once(&user("tech"), request, k))
    };
    let first = run(&ledger, key("retry-1", "f1")).expect("first");
    assert!(!first.replayed);
    let again = run(&ledger, key("retry-1", "f1")).expect("retry");
    assert!(again.replayed);
    assert_eq!(again.entries, first.entries, "the retry is answered with the first entries");
    let facts = || ledger.with_incident(incident, |s| s.facts.len()).expect("exists");
    assert_eq!(facts(), 1, "nothing was written twice");
    let reused = run(&ledger, key("retry-1", "another body"));
    assert!(
        matches!(&reused, Err(LedgerError::Refused(Refusal::Invalid { field, .. })) if field == "Idempotency-Key"),
        "{reused:?}"
    );
    // Another user's key of the same name is theirs alone.
    let other = block_on(ledger.execute_once(
        &user("cmd"),
        Request::Incident { incident, command: log_fact("Second finding") },
        key("retry-1", "f1"),
    ))
    .expect("another user's key");
    assert!(!other.replayed);
    ledger.close();

    let reopened = Ledger::open(open(), system_clock()).expect("reopens");
    let after_restart = run(&reopened, key("retry-1", "f1")).expect("retry after restart");
    assert!(after_restart.replayed);
    assert_eq!(after_restart.entries, first.entries);
    assert_eq!(reopened.with_incident(incident, |s| s.facts.len()), Some(2));

    // A password is recorded as set, and its hash is kept beside the record, not in it.
    reopened
        .execute_blocking(&user("admin"), Request::SetPassword { user: user("lee"), phc: "$argon2id$v=19$test".into() })
        .expect("sets");
    assert_eq!(store.password_hash("lee").expect("reads").as_deref(), Some("$argon2id$v=19$test"));
    let org = store.read(RecordId::Org, 1, 1000).expect("reads");
    let last = org.last().expect("entries");
    assert_eq!((last.kind.as_str(), last.body.as_str()), ("user.password_set", r#"{"user":"lee"}"#));
    assert!(org.iter().all(|e| !e.body.contains("argon2")), "no hash in the record");
}

/// A browser session is stored with the entry that records it, outlives a restart, is shared by
/// every node on the store, and ends with its sign-out entry or with its user's disabling, in
/// the same transaction.
fn sessions(open: &dyn Fn() -> Arc<dyn Store>) {
    let store = open();
    let ledger = deploy(&store);
    let at = now();
    let session = |id: char, who: &str| SessionRow {
        id: id.to_string().repeat(64),
        user: who.into(),
        csrf: format!("csrf-{id}"),
        started_at: at,
        seen_at: at,
        expires_at: at.plus_seconds(3600),
        authentication: Authentication {
            method: AuthMethod::Oidc,
            at,
            issuer: Some("https://idp.example".into()),
            acr: Some("urn:example:mfa".into()),
            amr: vec!["pwd".into(), "otp".into()],
        },
    };
    for (id, who) in [('e', "lee"), ('b', "lee"), ('c', "cora")] {
        ledger.execute_blocking(&user(who), Request::SignIn { session: session(id, who) }).expect("signs in");
    }
    let recorded = store.read(RecordId::Org, 1, 1000).expect("reads");
    let started = recorded.iter().rfind(|e| e.kind == "session.started").expect("recorded");
    assert_eq!(started.actor.to_string(), "cora");
    assert!(started.body.contains(r#""session":"cccccccccccc""#), "{}", started.body);
    assert!(started.body.contains(r#""acr":"urn:example:mfa""#), "how they authenticated: {}", started.body);
    assert!(recorded.iter().all(|e| !e.body.contains("csrf-") && !e.body.contains(&"e".repeat(13))), "no secrets");
    // Someone else's session id is refused and nothing is stored.
    let forged = ledger.execute_blocking(&user("cora"), Request::SignIn { session: session('d', "lee") });
    assert!(forged.is_err(), "{forged:?}");
    assert_eq!(store.session(&"d".repeat(64)).expect("reads"), None);
    ledger.close();

    let other_node = open();
    let reopened = Ledger::open(other_node.clone(), system_clock()).expect("reopens");
    assert_eq!(other_node.session(&"e".repeat(64)).expect("reads"), Some(session('e', "lee")), "kept as begun");
    let ids = |who: &str| other_node.sessions_of(who).expect("lists").into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids("lee").len(), 2);
    let later = at.plus_seconds(60);
    other_node.touch_session(&"e".repeat(64), later).expect("touches");
    assert_eq!(other_node.session(&"e".repeat(64)).expect("reads").map(|s| s.seen_at), Some(later));
    // An admin ends one of lee's sessions; only that one goes.
    reopened
        .execute_blocking(
            &user("admin"),
            Request::SignOut { user: user("lee"), session: "e".repeat(64), reason: Some("lost laptop".into()) },
        )
        .expect("an admin ends it");
    assert_eq!(ids("lee"), vec!["b".repeat(64)]);
    // Someone else may not end lee's session.
    let refused = reopened
        .execute_blocking(&user("cora"), Request::SignOut { user: user("lee"), session: "b".repeat(64), reason: None });
    assert!(matches!(refused, Err(LedgerError::Refused(Refusal::Forbidden { .. }))), "{refused:?}");
    assert_eq!(ids("lee").len(), 1, "nothing changed");
    // Disabling lee ends every session of theirs in the same commit, and no one else's.
    let disable = OrgCommand::DisableUser { user: user("lee"), reason: None };
    reopened.execute_blocking(&user("admin"), Request::Org(disable)).expect("disables");
    assert!(ids("lee").is_empty());
    assert_eq!(ids("cora").len(), 1);
    // Expired or idle sessions are purged.
    assert_eq!(other_node.purge_sessions(at.plus_seconds(3600), at).expect("purges"), 1);
    assert!(ids("cora").is_empty());
    reopened.close();
    verify_store(open().as_ref(), &mut |_| ()).expect("every chain verifies");
}

/// Runs a future to completion on the current thread (the ledger's futures need no runtime).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(future)
}

fn sqlite(dir: &tempfile::TempDir) -> impl Fn() -> Arc<dyn Store> + '_ {
    move || Arc::new(SqliteStore::open(&dir.path().join("sitrep.db")).expect("opens")) as Arc<dyn Store>
}

#[test]
fn sqlite_passes_the_story() {
    let dir = tempfile::tempdir().expect("temp dir");
    story(&sqlite(&dir));
}

#[test]
fn sqlite_answers_retries_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    idempotency(&sqlite(&dir));
}

#[test]
fn sqlite_keeps_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    sessions(&sqlite(&dir));
}

#[test]
fn sqlite_two_writers_keep_one_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    two_writers(&sqlite(&dir));
}

#[test]
fn a_second_deployment_in_the_same_store_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite(&dir)();
    let events = genesis(uuid::Uuid::new_v4(), "test", "cHVibGlj", &user("admin"), &"b".repeat(64));
    Ledger::create_deployment(store.as_ref(), &events, now()).expect("first");
    let again = Ledger::create_deployment(store.as_ref(), &events, now());
    assert!(matches!(again, Err(LedgerError::Refused(Refusal::Conflict(_)))), "{again:?}");
}

#[test]
fn an_uninitialised_store_does_not_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = Ledger::open(sqlite(&dir)(), system_clock());
    assert!(matches!(opened, Err(LedgerError::NotInitialised)), "{opened:?}");
}

/// A database of its own on the PostgreSQL server `SITREP_TEST_POSTGRES` names, dropped when the
/// test ends; `None` (the test is skipped, and says so) when the variable is not set.
fn postgres_database() -> Option<ScratchDatabase> {
    let Some(server) = std::env::var("SITREP_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) else {
        eprintln!("SKIPPED: SITREP_TEST_POSTGRES is not set, so the PostgreSQL backend is not tested");
        return None;
    };
    Some(ScratchDatabase::create(&server, "sitrep_test").expect("SITREP_TEST_POSTGRES names a server that answers"))
}

fn postgres(database: &ScratchDatabase) -> impl Fn() -> Arc<dyn Store> + '_ {
    move || Arc::new(PostgresStore::open(&database.url()).expect("connects and migrates")) as Arc<dyn Store>
}

#[test]
fn postgres_passes_the_story() {
    if let Some(database) = postgres_database() {
        story(&postgres(&database));
    }
}

#[test]
fn postgres_answers_retries_once() {
    if let Some(database) = postgres_database() {
        idempotency(&postgres(&database));
    }
}

#[test]
fn postgres_keeps_sessions() {
    if let Some(database) = postgres_database() {
        sessions(&postgres(&database));
    }
}

#[test]
fn postgres_two_writers_keep_one_chain() {
    if let Some(database) = postgres_database() {
        two_writers(&postgres(&database));
    }
}

/// Two nodes starting on an empty database at once apply the schema once, and the second
/// deployment is refused there as it is in SQLite.
#[test]
fn postgres_nodes_migrate_once_and_take_one_deployment() {
    let Some(database) = postgres_database() else { return };
    let url = database.url();
    let stores: Vec<Arc<dyn Store>> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| Arc::new(PostgresStore::open(&url).expect("opens")) as Arc<dyn Store>))
            .collect();
        opening.into_iter().map(|handle| handle.join().expect("no panic")).collect()
    });
    let events = genesis(uuid::Uuid::new_v4(), "test", "cHVibGlj", &user("admin"), &"b".repeat(64));
    Ledger::create_deployment(stores[0].as_ref(), &events, now()).expect("first");
    let again = Ledger::create_deployment(stores[1].as_ref(), &events, now());
    assert!(matches!(again, Err(LedgerError::Refused(Refusal::Conflict(_)))), "{again:?}");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    let versions = admin.query("SELECT version FROM sitrep_schema", &[]).expect("the schema table");
    assert_eq!(versions.len(), 1, "one schema version row");
}

/// An append acknowledged by the PostgreSQL store is durable: the server's own setting says so.
#[test]
fn postgres_commits_wait_for_the_wal_flush() {
    let Some(database) = postgres_database() else { return };
    let store = PostgresStore::open(&database.url()).expect("opens");
    drop(store);
    let mut client = postgres::Client::connect(&database.url(), postgres::NoTls).expect("connects");
    let fsync: String = client.query_one("SHOW fsync", &[]).expect("shows").get(0);
    assert_eq!(fsync, "on", "this server acknowledges commits only after they are on disk");
}

/// Someone who changes a column's type behind sitrep's back gets an error from every read and
/// from verification, never a crashed server.
#[test]
fn postgres_reads_fail_cleanly_when_a_column_type_was_changed() {
    let Some(database) = postgres_database() else { return };
    let store = postgres(&database)();
    let ledger = deploy(&store);
    ledger.close();
    let mut client = postgres::Client::connect(&database.url(), postgres::NoTls).expect("connects");
    client.batch_execute("ALTER TABLE entries ALTER COLUMN body TYPE jsonb USING body::jsonb").expect("altered");
    let read = store.read(RecordId::Org, 1, 10);
    assert!(
        matches!(&read, Err(StoreError::Backend(message)) if message.contains("body") || message.contains("jsonb") || message.contains("type")),
        "{read:?}"
    );
    assert!(verify_store(store.as_ref(), &mut |_| {}).is_err(), "verification reports it");
}
