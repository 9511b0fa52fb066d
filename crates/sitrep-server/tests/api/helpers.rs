//! A real sitrep server for each test: a fresh data directory with a real SQLite store, a
//! deployment with one user for every kind of caller, and the server listening on an ephemeral
//! port of 127.0.0.1. Tests talk to it over HTTP only, like any client would.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sitrep_core::OrgRole;
use sitrep_core::decide::{OrgCommand, genesis};
use sitrep_server::Config;
use sitrep_server::serve::{self, ServeError};
use sitrep_store::datadir::{DataDir, new_token};
use sitrep_store::{Ledger, Request, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) use sitrep_testing::people::*;
pub(crate) use sitrep_testing::{ManualClock, assert_chain};

/// Org role viewer: reads, never acts.
pub(crate) const VIEWER: &str = "vic";
/// Org role auditor: reads, and reads the organisation record.
pub(crate) const AUDITOR: &str = "audra";

/// Every user of a test deployment but the admin, with their organisation role.
pub(crate) const PEOPLE: [(&str, OrgRole); 9] = [
    ("cmd", OrgRole::Member),
    ("tech", OrgRole::Member),
    ("lee", OrgRole::Member),
    ("cora", OrgRole::Member),
    ("exec", OrgRole::Member),
    ("resp", OrgRole::Member),
    ("otto", OrgRole::Member),
    ("vic", OrgRole::Viewer),
    ("audra", OrgRole::Auditor),
];

/// A password that meets the rules, for tests that sign in.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// How long a test waits for something that should happen at once.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// A time `days` from now (negative: before) in the record's spelling: dates a test sends stay
/// inside the window the server takes around its clock (a year back, ten years ahead).
pub(crate) fn in_days(days: i64) -> String {
    sitrep_testing::system_now().plus_seconds(days * 86_400).to_string()
}

/// A running server and everything a test needs to talk to it.
#[derive(Debug)]
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: reqwest::Client,
    /// An API token for every user, by name.
    pub tokens: HashMap<String, String>,
    pub clock: ManualClock,
    pub ledger: Arc<Ledger>,
    /// The data directory (the SQLite file is `sitrep.db` inside it).
    pub data: PathBuf,
    _dir: tempfile::TempDir,
    _data_dir: DataDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), ServeError>>>,
}

/// A server with the test defaults: a 16 KiB body limit, plain HTTP.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration the test adjusts first.
pub(crate) async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_over(|store| store, configure).await
}

/// A server whose SQLite store the test wraps first (to make it fail on purpose, say).
pub(crate) async fn spawn_app_over(
    wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    let data_dir = DataDir::create(&data).expect("a new data directory");
    let store = wrap(Arc::new(SqliteStore::open(&data_dir.database_path()).expect("the SQLite store opens")));
    let clock = ManualClock::following_system();

    let (admin_token, admin_sha256) = new_token().expect("a token");
    let public_key = data_dir.public_key().expect("the deployment's public key");
    let events = genesis(uuid::Uuid::new_v4(), "API tests", &public_key, &user(ADMIN), &admin_sha256);
    Ledger::create_deployment(store.as_ref(), &events, clock.now()).expect("the deployment is created");
    let ledger = Arc::new(Ledger::open(store, clock.clock()).expect("the ledger opens"));

    let admin = user(ADMIN);
    let adds = PEOPLE.iter().map(|(name, org_role)| {
        let add = OrgCommand::AddUser { user: user(name), display_name: None, org_role: *org_role };
        ledger.execute(&admin, Request::Org(add))
    });
    for added in futures_util::future::join_all(adds).await {
        added.expect("the admin adds a user");
    }
    let mut tokens = HashMap::from([(ADMIN.to_owned(), admin_token)]);
    let mut issues = Vec::new();
    for (name, _) in PEOPLE {
        let (token, sha256) = new_token().expect("a token");
        tokens.insert(name.to_owned(), token);
        let issue = OrgCommand::IssueToken {
            minted_by: None,
            user: user(name),
            sha256,
            expires_at: None,
            label: Some("test".into()),
        };
        issues.push(ledger.execute(&admin, Request::Org(issue)));
    }
    for issued in futures_util::future::join_all(issues).await {
        issued.expect("the admin issues a token");
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let listen = listener.local_addr().expect("the bound address");
    let mut config = Config { data: data.clone(), listen, max_body_bytes: 16 * 1024, ..Config::default() };
    configure(&mut config);
    let (shutdown_sender, shutdown) = watch::channel(false);
    let (state_ledger, state_clock) = (ledger.clone(), clock.clock());
    // Building the state hashes a decoy password (argon2): keep it off the async workers.
    let state = tokio::task::spawn_blocking(move || serve::state(config, state_ledger, state_clock, shutdown))
        .await
        .expect("the state task finishes")
        .expect("the server state builds");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve_until(
        listener,
        state,
        async move {
            let _ = stopped.await;
        },
        shutdown_sender,
    ));

    TestApp {
        address: format!("http://{listen}"),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client"),
        tokens,
        clock,
        ledger,
        data,
        _dir: dir,
        _data_dir: data_dir,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// The actions the connector worker would start now. A test shows that something will not
    /// happen (no retry before its backoff) by this being empty, not by sleeping and seeing nothing.
    pub(crate) fn actions_due(&self) -> Vec<sitrep_server::connectors::Due> {
        let (due, _) = sitrep_server::connectors::due(&self.ledger, self.clock.now());
        due.into_iter().filter(|item| matches!(item, sitrep_server::connectors::Due::Action { .. })).collect()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn token(&self, name: &str) -> &str {
        self.tokens.get(name).map(String::as_str).expect("every test user has a token")
    }

    /// A request as `who` (by API token), or anonymous with `None`.
    pub(crate) fn request(&self, method: Method, who: Option<&str>, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match who {
            Some(name) => builder.bearer_auth(self.token(name)),
            None => builder,
        }
    }

    pub(crate) async fn get(&self, who: &str, path: &str) -> Response {
        self.request(Method::GET, Some(who), path).send().await.expect("the server answers")
    }

    pub(crate) async fn post(&self, who: &str, path: &str, body: Value) -> Response {
        self.request(Method::POST, Some(who), path).json(&body).send().await.expect("the server answers")
    }

    pub(crate) async fn delete(&self, who: &str, path: &str) -> Response {
        self.request(Method::DELETE, Some(who), path).send().await.expect("the server answers")
    }

    /// GETs JSON, asserting 200.
    pub(crate) async fn get_json(&self, who: &str, path: &str) -> Value {
        json_of(self.get(who, path).await, StatusCode::OK).await
    }

    /// POSTs JSON, asserting the status, and returns the answer.
    pub(crate) async fn post_ok(&self, who: &str, path: &str, body: Value, status: StatusCode) -> Value {
        let response = self.post(who, path, body.clone()).await;
        let got = response.status();
        let text = response.text().await.expect("a body");
        assert_eq!(got, status, "POST {path} as {who} with {body}: {text}");
        serde_json::from_str(&text).expect("a JSON answer")
    }

    /// Declares an incident as the commander with every core role staffed, plus the responder
    /// (who is also scribe). Returns its id (`INC-n`).
    pub(crate) async fn standard_incident(&self, title: &str, restricted: bool) -> String {
        let body = json!({
            "title": title,
            "severity": "sev2",
            "restricted": restricted,
            "roles": {
                "tech_lead": TECH_LEAD, "legal": LEGAL, "comms": COMMS, "executive": EXECUTIVE,
                "responder": RESPONDER, "scribe": RESPONDER,
            },
        });
        let state = self.post_ok(COMMANDER, "/api/v1/incidents", body, StatusCode::CREATED).await;
        state["id"].as_str().expect("the state names the incident").to_owned()
    }

    /// The incident's record entries, as served.
    pub(crate) async fn record(&self, who: &str, incident: &str) -> Vec<Value> {
        let record = self.get_json(who, &format!("/api/v1/incidents/{incident}/record")).await;
        record["entries"].as_array().expect("entries").clone()
    }

    pub(crate) async fn state(&self, who: &str, incident: &str) -> Value {
        self.get_json(who, &format!("/api/v1/incidents/{incident}")).await
    }

    /// Gives `name` a password through the API, as the admin.
    pub(crate) async fn set_password(&self, name: &str, password: &str) {
        let response = self
            .request(Method::PUT, Some(ADMIN), &format!("/api/v1/users/{name}/password"))
            .json(&json!({ "password": password }))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "setting a password: {:?}", response.text().await);
    }

    /// Gives `name` the password [`PASSWORD`] straight through the ledger, reusing one argon2
    /// hash for the whole test run (hashing takes half a second in a debug build).
    pub(crate) async fn give_password(&self, name: &str) {
        let phc = tokio::task::spawn_blocking(|| {
            static PHC: OnceLock<String> = OnceLock::new();
            PHC.get_or_init(|| sitrep_server::auth::hash_password(PASSWORD).expect("the password hashes")).clone()
        })
        .await
        .expect("hashing finishes");
        self.ledger
            .execute(&user(ADMIN), Request::SetPassword { user: user(name), phc })
            .await
            .expect("the admin sets a password");
    }

    /// Signs in with a password; the session's cookie (`name=value`) and CSRF token.
    pub(crate) async fn sign_in(&self, name: &str, password: &str) -> Session {
        let response = self
            .client
            .post(self.url("/api/v1/session"))
            .json(&json!({ "name": name, "password": password }))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "signing in as {name}");
        let set_cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie is set")
            .to_owned();
        let body: Value = response.json().await.expect("a JSON answer");
        let cookie = set_cookie.split(';').next().expect("name=value first").trim().to_owned();
        let csrf = body["csrf_token"].as_str().expect("a CSRF token").to_owned();
        Session { cookie, csrf, set_cookie }
    }

    /// Uploads a multipart form as evidence.
    pub(crate) async fn upload(&self, who: &str, incident: &str, form: reqwest::multipart::Form) -> Response {
        self.request(Method::POST, Some(who), &format!("/api/v1/incidents/{incident}/evidence"))
            .multipart(form)
            .send()
            .await
            .expect("the server answers")
    }

    /// Uploads `bytes` as the file `name` (with no other parts).
    pub(crate) async fn upload_file(&self, who: &str, incident: &str, name: &str, bytes: &[u8]) -> Response {
        self.upload(who, incident, file_form(name, bytes)).await
    }

    /// Uploads `bytes` as the file `name`, asserting 201, and returns the item.
    pub(crate) async fn evidence(&self, who: &str, incident: &str, name: &str, bytes: &[u8]) -> Value {
        json_of(self.upload_file(who, incident, name, bytes).await, StatusCode::CREATED).await
    }

    /// Downloads an item with a purpose (the response is returned unread).
    pub(crate) async fn download(&self, who: &str, incident: &str, sha256: &str, purpose: &str) -> Response {
        let purpose: String = form_urlencoded::byte_serialize(purpose.as_bytes()).collect();
        self.request(
            Method::GET,
            Some(who),
            &format!("/api/v1/incidents/{incident}/evidence/{sha256}?purpose={purpose}"),
        )
        .send()
        .await
        .expect("the server answers")
    }

    /// The blob store's directory.
    pub(crate) fn blobs(&self) -> PathBuf {
        self.data.join("blobs")
    }

    /// Where the blob store keeps content with this hash.
    pub(crate) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs().join("sha256").join(&sha256[..2]).join(sha256)
    }

    /// Every file under the blob store's content directory.
    pub(crate) fn stored_blobs(&self) -> Vec<PathBuf> {
        files_under(&self.blobs().join("sha256"))
    }

    /// Every file in the blob store's directory of uploads in progress.
    pub(crate) fn incoming(&self) -> Vec<PathBuf> {
        files_under(&self.blobs().join("incoming"))
    }

    /// Stops the server (in-flight requests finish, live streams end) and waits for it.
    /// Waits for the server to stop by itself; its outcome.
    pub(crate) async fn stopped_by_itself(&mut self) -> Result<(), ServeError> {
        let server = self.server.take().expect("the server is running");
        tokio::time::timeout(PATIENCE, server).await.expect("the server stops in time").expect("no panic")
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(PATIENCE, server)
                .await
                .expect("the server stops in time")
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// `sitrep_session=<id>`, for the Cookie header.
    pub cookie: String,
    pub csrf: String,
    /// The whole Set-Cookie header it came with.
    pub set_cookie: String,
}

/// A form with one part, `file`, holding `bytes` under the file name `name`.
pub(crate) fn file_form(name: &str, bytes: &[u8]) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()))
}

/// The SHA-256 of `bytes`, as lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every file below `dir`, however deep (none when it does not exist).
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else { continue };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Reads a JSON answer, asserting its status.
pub(crate) async fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let url = response.url().clone();
    let text = response.text().await.expect("a body");
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url} answered with something other than JSON ({e}): {text}"))
}

/// Asserts an RFC 9457 problem with this status and returns it.
pub(crate) async fn problem(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let url = response.url().clone();
    let content_type = content_type(response.headers());
    let text = response.text().await.expect("a body");
    assert_eq!(got, status, "{url}: {text}");
    assert_problem_body(&content_type, &text, status.as_u16())
}

/// Checks the content type and members of a problem document.
pub(crate) fn assert_problem_body(content_type: &str, text: &str, status: u16) -> Value {
    assert_eq!(content_type, "application/problem+json", "an error is a problem document: {text}");
    let problem: Value = serde_json::from_str(text).expect("the problem is JSON");
    assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()), "a problem has a type: {problem}");
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()), "a problem has a title: {problem}");
    assert_eq!(problem["status"], json!(status), "the problem repeats the status: {problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "a problem says what happened: {problem}");
    problem
}

pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SseEvent {
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub(crate) fn seq(&self) -> u64 {
        self.id.as_deref().and_then(|id| id.parse().ok()).expect("every event's id is a seq")
    }

    pub(crate) fn entry(&self) -> Value {
        serde_json::from_str(&self.data).expect("an event's data is an entry as JSON")
    }
}

/// Reads Server-Sent Events from a streaming response, as the bytes arrive.
pub(crate) struct SseReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl std::fmt::Debug for SseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseReader").field("buffered", &self.buffer.len()).finish()
    }
}

impl SseReader {
    pub(crate) fn new(response: Response) -> SseReader {
        assert_eq!(response.status(), StatusCode::OK, "the event stream opens");
        assert!(content_type(response.headers()).starts_with("text/event-stream"), "an event stream");
        SseReader {
            stream: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(),
            buffer: String::new(),
        }
    }

    /// The next event (comments such as heartbeats are skipped), or `None` when the stream ends.
    /// Fails the test when nothing arrives within `PATIENCE`.
    pub(crate) async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(PATIENCE, self.next_event()).await.expect("the next event arrives in time")
    }

    /// The next event if one arrives within `wait`.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next_event()).await.ok().flatten()
    }

    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent { id: None, data: String::new() };
                let mut has_data = false;
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id:") {
                        event.id = Some(id.trim_start().to_owned());
                    } else if let Some(data) = line.strip_prefix("data:") {
                        if has_data {
                            event.data.push('\n');
                        }
                        event.data.push_str(data.strip_prefix(' ').unwrap_or(data));
                        has_data = true;
                    }
                }
                if has_data {
                    return Some(event);
                }
            }
            let chunk = self.stream.next().await?.ok()?;
            self.buffer.push_str(&String::from_utf8(chunk).expect("an event stream is UTF-8"));
            // Normalise line endings so blocks always end in a blank line of "\n\n".
            if self.buffer.contains('\r') {
                self.buffer = self.buffer.replace("\r\n", "\n").replace('\r', "\n");
            }
        }
    }

    /// Reads events until one with this seq, returning every event's seq on the way.
    pub(crate) async fn seqs_until(&mut self, last: u64) -> Vec<u64> {
        let mut seqs = Vec::new();
        while seqs.last().is_none_or(|seq| *seq < last) {
            let event = self.next().await.expect("the stream stays open");
            seqs.push(event.seq());
        }
        seqs
    }
}
