//! A real sitrep server with its connector worker running, for each test: a fresh data
//! directory with a real SQLite store, one user for every kind of caller, the server on an
//! ephemeral port of 127.0.0.1, and a clock the test can move forward so that retries with
//! backoff need no real waiting.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sitrep_core::OrgRole;
use sitrep_core::decide::{OrgCommand, genesis};
use sitrep_server::Config;
use sitrep_server::connectors::Worker;
use sitrep_server::serve::{self, ServeError};
use sitrep_store::datadir::{DataDir, new_token};
use sitrep_store::{Ledger, Request, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) use sitrep_testing::people::*;
pub(crate) use sitrep_testing::{ManualClock, assert_chain};

const PEOPLE: [&str; 7] = [COMMANDER, TECH_LEAD, LEGAL, COMMS, EXECUTIVE, RESPONDER, OUTSIDER];

/// How long a test waits for something the worker should do at once.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

/// A running server with its worker.
#[derive(Debug)]
pub(crate) struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    client: reqwest::Client,
    tokens: HashMap<String, String>,
    clock: ManualClock,
    ledger: Arc<Ledger>,
    /// A scratch directory of the test's own (scripts, mail), beside the data directory.
    pub scratch: PathBuf,
    _dir: tempfile::TempDir,
    _data_dir: DataDir,
    stop: Option<oneshot::Sender<()>>,
    _server: JoinHandle<Result<(), ServeError>>,
    /// The connector worker, with a shutdown channel of its own so a test can restart it.
    worker: Option<JoinHandle<()>>,
    worker_stop: watch::Sender<bool>,
    /// What the worker was started with, to start another on the same ledger.
    worker_config: Config,
    /// The key the server signs review links with (from the deployment's signing key).
    review_key: [u8; 32],
}

/// Starts a server whose configuration is this TOML (the `destinations`, `commands`,
/// `channels` and `smtp` sections an admin writes), with the worker running.
pub(crate) async fn spawn(config_toml: &str) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).expect("a scratch directory");
    spawn_in(dir, scratch, config_toml).await
}

/// As [`spawn`], with a scratch directory made first so the configuration can name files in it.
pub(crate) async fn spawn_with_scratch(config: impl FnOnce(&std::path::Path) -> String) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).expect("a scratch directory");
    let text = config(&scratch);
    spawn_in(dir, scratch, &text).await
}

async fn spawn_in(dir: tempfile::TempDir, scratch: PathBuf, config_toml: &str) -> TestServer {
    let mut config: Config = toml::from_str(config_toml)
        .unwrap_or_else(|e| panic!("the test's configuration parses as the server's would: {e}\n{config_toml}"));
    let data = dir.path().join("data");
    let data_dir = DataDir::create(&data).expect("a new data directory");
    let store = Arc::new(SqliteStore::open(&data_dir.database_path()).expect("the SQLite store opens"));
    let clock = ManualClock::following_system();

    let (admin_token, admin_sha256) = new_token().expect("a token");
    let public_key = data_dir.public_key().expect("the deployment's public key");
    let events = genesis(uuid::Uuid::new_v4(), "Connector tests", &public_key, &user(ADMIN), &admin_sha256);
    Ledger::create_deployment(store.as_ref(), &events, clock.now()).expect("the deployment is created");
    let ledger = Arc::new(Ledger::open(store, clock.clock()).expect("the ledger opens"));

    let admin = user(ADMIN);
    let mut tokens = HashMap::from([(ADMIN.to_owned(), admin_token)]);
    for name in PEOPLE {
        let add = OrgCommand::AddUser { user: user(name), display_name: None, org_role: OrgRole::Member };
        ledger.execute(&admin, Request::Org(add)).await.expect("the admin adds a user");
        let (token, sha256) = new_token().expect("a token");
        let issue = OrgCommand::IssueToken {
            minted_by: None,
            user: user(name),
            sha256,
            expires_at: None,
            label: Some("test".into()),
        };
        ledger.execute(&admin, Request::Org(issue)).await.expect("the admin issues a token");
        tokens.insert(name.to_owned(), token);
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let listen = listener.local_addr().expect("the bound address");
    config.data = data;
    config.listen = listen;
    let worker_config = config.clone();
    let (shutdown_sender, shutdown) = watch::channel(false);
    let (state_ledger, state_clock) = (ledger.clone(), clock.clock());
    // Building the state hashes a decoy password (argon2): keep it off the async workers.
    let state = tokio::task::spawn_blocking(move || serve::state(config, state_ledger, state_clock, shutdown))
        .await
        .expect("the state task finishes")
        .expect("the server state builds");
    let review_key =
        sitrep_server::connectors::alerts::derive_key(&data_dir.signing_key().expect("the signing key").to_bytes());
    let (worker_stop, worker) = start_worker(ledger.clone(), worker_config.clone(), &clock, review_key);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve_until(
        listener,
        state,
        async move {
            let _ = stopped.await;
        },
        shutdown_sender,
    ));
    TestServer {
        address: format!("http://{listen}"),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client"),
        tokens,
        clock,
        ledger,
        scratch,
        _dir: dir,
        _data_dir: data_dir,
        stop: Some(stop),
        _server: server,
        worker: Some(worker),
        worker_stop,
        worker_config,
        review_key,
    }
}

/// Starts a connector worker over `ledger`, as `sitrep serve` does; the sender stops it.
fn start_worker(
    ledger: Arc<Ledger>,
    config: Config,
    clock: &ManualClock,
    review_key: [u8; 32],
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, stopping) = watch::channel(false);
    let worker = Worker::new(ledger, config, clock.clock()).with_review_key(review_key);
    (stop, tokio::spawn(worker.run(stopping)))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Stopping the server tells the worker to stop too.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.worker_stop.send(true);
    }
}

impl TestServer {
    pub(crate) fn request(&self, method: Method, who: &str, path: &str) -> reqwest::RequestBuilder {
        let token = self.tokens.get(who).expect("every test user has a token");
        self.client.request(method, format!("{}{path}", self.address)).bearer_auth(token)
    }

    pub(crate) async fn post(&self, who: &str, path: &str, body: Value) -> Response {
        self.request(Method::POST, who, path).json(&body).send().await.expect("the server answers")
    }

    pub(crate) async fn put(&self, who: &str, path: &str, body: Value) -> Response {
        self.request(Method::PUT, who, path).json(&body).send().await.expect("the server answers")
    }

    pub(crate) async fn get_json(&self, who: &str, path: &str) -> Value {
        json_of(self.request(Method::GET, who, path).send().await.expect("the server answers"), StatusCode::OK).await
    }

    /// POSTs JSON, asserting the status; the answer.
    pub(crate) async fn post_ok(&self, who: &str, path: &str, body: Value, status: StatusCode) -> Value {
        json_of(self.post(who, path, body).await, status).await
    }

    /// Declares an incident as the commander with every core role staffed (and a responder);
    /// `extra` is merged into the body (`playbook`, `inputs`, `exercise`). Returns the state.
    pub(crate) async fn declare(&self, title: &str, extra: Value) -> Value {
        let mut body = json!({
            "title": title,
            "severity": "sev2",
            "roles": {
                "tech_lead": TECH_LEAD, "legal": LEGAL, "comms": COMMS, "executive": EXECUTIVE,
                "responder": RESPONDER,
            },
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post_ok(COMMANDER, "/api/v1/incidents", body, StatusCode::CREATED).await
    }

    /// Declares a leaked-secret incident with its playbook, live or as an exercise.
    pub(crate) async fn declare_leaked_key(&self, exercise: bool) -> Value {
        self.declare(
            "AWS access key published on GitHub",
            json!({
                "exercise": exercise,
                "playbook": "leaked-secret",
                "inputs": {"key_id": KEY_ID, "provider": "AWS", "repository": "github.com/acme/infra-scripts"},
            }),
        )
        .await
    }

    pub(crate) async fn state(&self, incident: &str) -> Value {
        self.get_json(COMMANDER, &format!("/api/v1/incidents/{incident}")).await
    }

    pub(crate) async fn record(&self, incident: &str) -> Vec<Value> {
        let record = self.get_json(COMMANDER, &format!("/api/v1/incidents/{incident}/record")).await;
        record["entries"].as_array().expect("a record has entries").clone()
    }

    /// Waits until the record has an entry that `matches`; returns it.
    pub(crate) async fn entry(&self, incident: &str, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || async { self.record(incident).await.into_iter().find(|e| matches(e)) }).await
    }

    /// Stops the connector worker as the server's shutdown does, waits for it, and starts a new
    /// one over the same ledger, as a restart of the server would. How long the old one took to
    /// stop; fails the test if it did not stop within [`PATIENCE`].
    pub(crate) async fn restart_worker(&mut self) -> Duration {
        let started = Instant::now();
        let _ = self.worker_stop.send(true);
        if let Some(worker) = self.worker.take() {
            tokio::time::timeout(PATIENCE, worker)
                .await
                .unwrap_or_else(|_| panic!("the worker did not stop within {PATIENCE:?} of being told to"))
                .expect("the worker stops without panicking");
        }
        let took = started.elapsed();
        let (stop, worker) =
            start_worker(self.ledger.clone(), self.worker_config.clone(), &self.clock, self.review_key);
        self.worker_stop = stop;
        self.worker = Some(worker);
        took
    }

    /// The actions the connector worker would start now. A test shows that something will not
    /// happen (no retry before its backoff) by this being empty, not by sleeping and seeing nothing.
    pub(crate) fn actions_due(&self) -> Vec<sitrep_server::connectors::Due> {
        let (due, _) = sitrep_server::connectors::due(&self.ledger, self.clock.now());
        due.into_iter().filter(|item| matches!(item, sitrep_server::connectors::Due::Action { .. })).collect()
    }

    /// The people the worker would tell something now. A test shows that someone will not be
    /// told again by this not naming them, not by sleeping and seeing no mail.
    pub(crate) fn alerts_due(&self) -> Vec<String> {
        let (due, _) = sitrep_server::connectors::alerts::due(&self.ledger, &self.worker_config, self.clock.now());
        due.into_iter()
            .filter_map(|item| match item {
                sitrep_server::connectors::Due::Alert { person, .. } => Some(person.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The statement deliveries the worker would start now (see [`Self::actions_due`]).
    pub(crate) fn publications_due(&self) -> Vec<sitrep_server::connectors::Due> {
        let (due, _) = sitrep_server::connectors::due(&self.ledger, self.clock.now());
        due.into_iter().filter(|item| matches!(item, sitrep_server::connectors::Due::Publication { .. })).collect()
    }

    /// Moves the server's clock forward past a backoff, then wakes the worker. The worker
    /// sleeps until the next retry by the real clock; any commit makes it look again, so the
    /// test commits an unrelated change to the organisation record.
    pub(crate) async fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        let (_, sha256) = new_token().expect("a token");
        let nudge = OrgCommand::IssueToken {
            minted_by: None,
            user: user(ADMIN),
            sha256,
            expires_at: None,
            label: Some("wakes the connector worker".into()),
        };
        self.ledger.execute(&user(ADMIN), Request::Org(nudge)).await.expect("the admin issues a token");
    }
}

/// The key id the leaked-secret incidents name.
pub(crate) const KEY_ID: &str = "AKIAEXAMPLE7QXZ";

/// Reads a JSON answer, asserting its status.
pub(crate) async fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let url = response.url().clone();
    let text = response.text().await.expect("a body");
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url} answered with something other than JSON ({e}): {text}"))
}

/// Polls `attempt` until it gives a value, or fails the test naming `what`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    sitrep_testing::eventually(what, PATIENCE, attempt).await
}

/// The decision of this class in a state (the first one).
pub(crate) fn decision_of_class<'a>(state: &'a Value, class: &str) -> &'a Value {
    state["decisions"]
        .as_array()
        .expect("a state lists decisions")
        .iter()
        .find(|d| d["class"] == class)
        .unwrap_or_else(|| panic!("a {class} decision in {:#}", state["decisions"]))
}

/// Action `number` (from 1) of decision `did` in a state.
pub(crate) fn action<'a>(state: &'a Value, did: &str, number: usize) -> &'a Value {
    let decision = state["decisions"]
        .as_array()
        .expect("a state lists decisions")
        .iter()
        .find(|d| d["id"] == did)
        .unwrap_or_else(|| panic!("decision {did} in {:#}", state["decisions"]));
    &decision["actions"][number - 1]
}

/// Waits until action `number` of `did` has this status (`succeeded`, `failed`); its state.
pub(crate) async fn action_reaches(
    server: &TestServer,
    incident: &str,
    did: &str,
    number: usize,
    status: &str,
) -> Value {
    let what = format!("action {number} of {did} to be {status}");
    eventually(&what, || async {
        let state = server.state(incident).await;
        let found = action(&state, did, number).clone();
        let settled = found["status"] == "succeeded" || (found["status"] == "failed" && found["retryable"] == false);
        assert!(found["status"] == status || !settled, "action {number} of {did} settled otherwise: {found:#}");
        (found["status"] == status).then_some(found)
    })
    .await
}

/// The `action.*` entries of one action (index from 1), in order.
pub(crate) fn action_entries(entries: &[Value], did: &str, number: u64) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("action.")))
        .filter(|e| e["body"]["decision"] == did && e["body"]["action"] == json!(number - 1))
        .cloned()
        .collect()
}

/// `(kind, attempt)` of each entry, for comparing sequences in one assertion.
pub(crate) fn kinds_and_attempts(entries: &[Value]) -> Vec<(String, u64)> {
    entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or_default().to_owned(), e["body"]["attempt"].as_u64().unwrap_or(0)))
        .collect()
}

/// Asserts an idempotency key reads `sitrep:<incident uuid>:<decision>:<action number>`.
pub(crate) fn assert_idempotency_key(key: &str, incident_uuid: &str, did: &str, number: u32) {
    let parts: Vec<&str> = key.split(':').collect();
    assert_eq!(parts.len(), 4, "an idempotency key has four parts: {key}");
    assert_eq!(parts[0], "sitrep", "{key}");
    let uuid: uuid::Uuid = parts[1].parse().unwrap_or_else(|e| panic!("{key}: the incident's UUID ({e})"));
    assert_eq!(uuid.to_string(), incident_uuid, "the key names the incident's UUID: {key}");
    assert_eq!(parts[2], did, "the key names the decision: {key}");
    assert_eq!(parts[3], number.to_string(), "the key names the action, counting from 1: {key}");
}
