//! What every browser test stands on: a real sitrep server with the demo seeded, a chromedriver
//! of its own, and headless Chromium sessions driven over WebDriver.
//!
//! Nothing here sleeps for a fixed time: every wait polls a condition with a deadline.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use sitrep_core::decide::OrgCommand;
use sitrep_core::incident::IncidentState;
use sitrep_core::{IncidentNumber, OrgRole, UserName};
use sitrep_server::Config;
use sitrep_server::serve::{self, ServeError};
use sitrep_store::ledger::system_clock;
use sitrep_store::{Ledger, Request, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen at once (a page load, a redirect).
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);
/// How long an open page may take to show someone else's action through the live stream.
pub(crate) const LIVE: Duration = Duration::from_secs(5);
/// The seeded demo incident.
pub(crate) const DEMO_INCIDENT: &str = "INC-1";
/// The auditor added (with a password) by `Server::start_with_auditor`.
pub(crate) const AUDITOR: &str = "audra";

const SKIP: &str =
    "SKIPPED browser tests: install chromium and chromium-driver (apt-get install chromium chromium-driver)";

/// Where Chromium and chromedriver are.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |name| dir.join(name))).find(|p| p.is_file())
}

/// The browser tools, or `None` after saying (once, past the test harness's output capture)
/// that the browser tests are skipped. With `SITREP_BROWSER_TESTS=required` a missing tool
/// fails the test instead.
pub(crate) fn tools() -> Option<Tools> {
    let found = on_path(&["chromium", "chromium-browser"])
        .zip(on_path(&["chromedriver"]))
        .map(|(chromium, chromedriver)| Tools { chromium, chromedriver });
    if found.is_none() {
        assert!(std::env::var("SITREP_BROWSER_TESTS").as_deref() != Ok("required"), "{SKIP}");
        static SAID: Once = Once::new();
        // Straight to the process's stderr: libtest captures only the print macros.
        SAID.call_once(|| {
            let _ = writeln!(std::io::stderr(), "{SKIP}");
        });
    }
    found
}

pub(crate) use sitrep_testing::eventually;

/// A real sitrep server over a fresh data directory with the demo organisation and incident.
#[derive(Debug)]
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub ledger: Arc<Ledger>,
    passwords: HashMap<String, String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    /// The connector worker, when started (`start_with_connectors`).
    worker: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub(crate) async fn start() -> Server {
        Server::launch(false, false, |_| {}).await
    }

    /// Also adds an auditor with a password, so the organisation record can be shown.
    pub(crate) async fn start_with_auditor() -> Server {
        Server::launch(true, false, |_| {}).await
    }

    /// Also runs the connector worker, with the destinations and channels pointed at the demo's
    /// own receiver as `sitrep serve --demo` does: approved actions really run, so the record
    /// moves as it would in use (a revocation succeeds, "Mark contained" is offered).
    pub(crate) async fn start_with_connectors() -> Server {
        Server::launch(false, true, |_| {}).await
    }

    /// With the connector worker and a configuration the test adjusts first.
    pub(crate) async fn start_with_connectors_configured(configure: impl FnOnce(&mut Config)) -> Server {
        Server::launch(false, true, configure).await
    }

    /// With a configuration the test adjusts first (it sees the address the server will have).
    pub(crate) async fn start_configured(configure: impl FnOnce(&mut Config)) -> Server {
        Server::launch(false, false, configure).await
    }

    async fn launch(auditor: bool, connectors: bool, configure: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory for the server");
        let data = dir.path().join("data");
        let data_dir = sitrep_server::demo::create(&data).expect("the demo deployment is created");
        let store = Arc::new(SqliteStore::open(&data_dir.database_path()).expect("the store opens"));
        let ledger = Arc::new(Ledger::open(store, system_clock()).expect("the ledger opens"));
        let blobs = sitrep_store::blobs::BlobStore::open(&data_dir.blobs_path()).expect("the blob store opens");
        let people = sitrep_server::demo::seed(&ledger, &blobs).await.expect("the demo is seeded");
        let mut passwords: HashMap<String, String> =
            people.into_iter().map(|p| (p.name.to_owned(), p.password)).collect();
        if auditor {
            let password = "correct horse battery staple".to_owned();
            let (admin, user) = (user("admin"), user(AUDITOR));
            let add = OrgCommand::AddUser {
                user: user.clone(),
                display_name: Some("Audra Quinn".into()),
                org_role: OrgRole::Auditor,
            };
            ledger.execute(&admin, Request::Org(add)).await.expect("the admin adds an auditor");
            let to_hash = password.clone();
            let phc = tokio::task::spawn_blocking(move || sitrep_server::auth::hash_password(&to_hash))
                .await
                .expect("hashing finishes")
                .expect("the password hashes");
            ledger.execute(&admin, Request::SetPassword { user, phc }).await.expect("the admin sets a password");
            passwords.insert(AUDITOR.to_owned(), password);
        }

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
        let listen = listener.local_addr().expect("the bound address");
        let mut config = Config { data, listen, ..Config::default() };
        configure(&mut config);
        let receiver = connectors
            .then(|| sitrep_server::demo::Receiver::configure(&mut config).expect("the demo receiver is configured"));
        let (shutdown_sender, shutdown) = watch::channel(false);
        let state_ledger = ledger.clone();
        let mut state =
            tokio::task::spawn_blocking(move || serve::state(config, state_ledger, system_clock(), shutdown))
                .await
                .expect("the state task finishes")
                .expect("the server state builds");
        if let Some(receiver) = receiver {
            state = state.with_demo_receiver(receiver);
        }
        let worker = connectors.then(|| serve::start_worker(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve::serve_until(listener, state, stopped, shutdown_sender));
        Server {
            address: format!("http://{listen}"),
            ledger,
            passwords,
            stop: Some(stop),
            task: Some(task),
            worker,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn password(&self, name: &str) -> &str {
        self.passwords.get(name).map(String::as_str).expect("every demo person has a password")
    }

    /// Reads an incident's folded state straight from the ledger.
    pub(crate) fn incident<T>(&self, id: &str, read: impl FnOnce(&IncidentState) -> T) -> T {
        let number: IncidentNumber = id.parse().expect("an incident id");
        self.ledger.with_incident(number, read).expect("the incident exists")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(worker) = self.worker.take() {
            worker.abort();
        }
    }
}

pub(crate) fn user(name: &str) -> UserName {
    UserName::parse(name).expect("a valid user name")
}

/// A chromedriver process of the test's own, on a free port. Dropping it kills its whole
/// process group (chromedriver and every Chromium it started), even when the test failed.
#[derive(Debug)]
pub(crate) struct Driver {
    child: Child,
    url: String,
    tools: Tools,
}

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("the bound address").port()
}

impl Driver {
    pub(crate) async fn start(tools: &Tools) -> Driver {
        let port = free_port();
        let mut command = Command::new(&tools.chromedriver);
        command.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("chromedriver starts");
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), tools: tools.clone() };
        let status = format!("{}/status", driver.url);
        let http = reqwest::Client::new();
        eventually("chromedriver to answer /status", PATIENCE, || {
            let request = http.get(&status).send();
            async move {
                let answer = request.await.map_err(|e| e.to_string())?;
                let body: Value = answer.json().await.map_err(|e| e.to_string())?;
                if body["value"]["ready"] == json!(true) { Ok(()) } else { Err(body.to_string()) }
            }
        })
        .await;
        driver
    }

    /// A new browser session with a fresh profile, 1280×900.
    pub(crate) async fn browser(&self, server: &Server) -> Browser {
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ]
        .iter()
        .map(ToString::to_string)
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        // Leave dialogs open so a test can see one (the default dismisses it unseen).
        capabilities.insert("unhandledPromptBehavior".into(), json!("ignore"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": self.tools.chromium.display().to_string(), "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a Chromium session");
        Browser { client, base: server.address.clone(), driver: self.url.clone(), _profile: profile }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The group chromedriver leads (process_group(0) above): it and its browsers.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session (its own profile, so its own cookies) on the test's server.
#[derive(Debug)]
pub(crate) struct Browser {
    pub client: Client,
    base: String,
    /// The chromedriver's URL, for its Chrome DevTools passthrough.
    driver: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a path of the server and waits for the page to load.
    pub(crate) async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// The path of the page shown now.
    pub(crate) async fn path(&self) -> String {
        self.client.current_url().await.expect("the current URL").path().to_owned()
    }

    /// Signs in through the sign-in form (opening it first unless it is already shown) and
    /// waits to leave it.
    pub(crate) async fn sign_in(&self, server: &Server, name: &str) {
        if self.path().await != "/login" {
            self.open("/login").await;
        }
        self.find("form[action='/login'] input[name=name]").await.send_keys(name).await.expect("typing the name");
        self.find("form[action='/login'] input[name=password]")
            .await
            .send_keys(server.password(name))
            .await
            .expect("typing the password");
        self.click("form[action='/login'] button[type=submit]").await;
        eventually(&format!("{name} to be signed in"), PATIENCE, || async {
            let path = self.path().await;
            if path == "/login" { Err(format!("still on {path}: {}", self.text("main").await)) } else { Ok(()) }
        })
        .await;
    }

    pub(crate) async fn sign_out(&self) {
        self.click("form[action='/logout'] button[type=submit]").await;
        eventually("the sign-in page after signing out", PATIENCE, || async {
            let path = self.path().await;
            if path == "/login" { Ok(()) } else { Err(path) }
        })
        .await;
    }

    /// The one element `css` selects (waiting for it to appear).
    pub(crate) async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element matches {css}: {e}"))
    }

    pub(crate) async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap_or_else(|e| panic!("looking for {css}: {e}"))
    }

    /// Does `act` to the element `css` selects. A live update may swap the section in between
    /// finding and acting (an untouched form is replaced by its fresh copy): then it is found
    /// again, a few times.
    async fn on<F, Fut>(&self, css: &str, what: &str, act: F)
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        let mut tries = 0;
        loop {
            let element = self.find(css).await;
            self.unfold(&element).await;
            match act(element).await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference && tries < 3 =>
                {
                    tries += 1;
                }
                Err(e) => panic!("{what} {css}: {e}"),
            }
        }
    }

    /// Opens the folds (`<details>`, such as "+ Log a fact") around `element`, as a person
    /// clicks them open before using what is inside; whether any was closed.
    pub(crate) async fn unfold(&self, element: &Element) -> bool {
        let script = "let opened = false;\
                      for (let d = arguments[0].closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {\
                          if (!d.open && !(arguments[0].tagName === 'SUMMARY' && d === arguments[0].parentElement)) { d.open = true; opened = true; }\
                      }\
                      return opened;";
        let argument = serde_json::to_value(element).expect("an element as a script argument");
        self.client.execute(script, vec![argument]).await.map(|v| v == json!(true)).unwrap_or(false)
    }

    pub(crate) async fn click(&self, css: &str) {
        self.on(css, "clicking", |e| async move { e.click().await.map(|_| ()) }).await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.on(css, "typing into", |e| async move { e.send_keys(text).await }).await;
    }

    pub(crate) async fn select(&self, css: &str, value: &str) {
        self.on(css, &format!("choosing {value} in"), |e| async move { e.select_by_value(value).await }).await;
    }

    /// The rendered text of what `css` selects, or "" when nothing does (yet).
    pub(crate) async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the text of `css` contains `needle`, and returns that text.
    pub(crate) async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        eventually(&format!("{css} to show {needle:?}"), timeout, || async {
            let text = self.text(css).await;
            if text.contains(needle) { Ok(text) } else { Err(text) }
        })
        .await
    }

    /// Runs a script in the page and returns its result.
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("running {script}: {e}"))
    }

    /// The id (`D-n`) of the decision in the register whose title contains `title`.
    pub(crate) async fn decision_id(&self, title: &str) -> String {
        let script = "return [...document.querySelectorAll('#decisions article.decision')]\
                      .filter(a => a.querySelector('h3').textContent.includes(arguments[0]))\
                      .map(a => a.querySelector('h3 .id').textContent.trim())[0] || null;";
        eventually(&format!("a decision titled {title:?} in the register"), PATIENCE, || async {
            match self.js(script, vec![json!(title)]).await {
                Value::String(id) => Ok(id),
                other => Err(other.to_string()),
            }
        })
        .await
    }

    /// The text of `part` (a selector; "" for the whole card) of decision `id`'s card in the
    /// section `section` (`#needs-you` or `#decisions`), or "" when there is no such card.
    /// Cards are found by the id they show, not by element ids. The text is the card's whole
    /// text, folded or not (a decided card folds to its header line), spaces collapsed.
    pub(crate) async fn decision_card(&self, section: &str, id: &str, part: &str) -> String {
        let script = "const card = [...document.querySelectorAll(arguments[0] + ' article.decision')]\
                      .find(a => a.querySelector('h3 .id').textContent.trim() === arguments[1]);\
                      const el = card && (arguments[2] ? card.querySelector(arguments[2]) : card);\
                      return el ? el.textContent.replace(/\\s+/g, ' ').trim() : '';";
        let text = self.js(script, vec![json!(section), json!(id), json!(part)]).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The state of decision `id` in the register.
    pub(crate) async fn decision_state(&self, id: &str) -> String {
        self.decision_card("#decisions", id, ".badge.state").await.trim().to_owned()
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver's passthrough.
    pub(crate) async fn cdp(&self, command: &str, params: Value) -> Value {
        let session = self.client.session_id().await.expect("the session id").expect("an open session");
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver);
        let answer = reqwest::Client::new()
            .post(url)
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("sending {command}: {e}"));
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or_else(|e| panic!("the answer to {command}: {e}"));
        assert!(status.is_success(), "{command} failed: {body}");
        body
    }

    /// Makes the viewport `width` × `height` CSS pixels. Headless Chromium keeps a window at
    /// least 500 px wide, so narrower (phone) viewports are emulated as a mobile device; wider
    /// ones resize the window itself.
    pub(crate) async fn set_viewport(&self, width: u32, height: u32) {
        if width < 500 {
            let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": true });
            self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
            return;
        }
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
        self.client.set_window_size(width, height).await.expect("resizing the window");
        let chrome = self
            .js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];", vec![])
            .await;
        let extra = |i: usize| chrome[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        if extra(0) > 0 || extra(1) > 0 {
            self.client.set_window_size(width + extra(0), height + extra(1)).await.expect("resizing the window");
        }
    }

    pub(crate) async fn close(self) {
        self.client.close().await.expect("the browser session closes");
    }
}

/// `CARGO_TARGET_DIR` (relative to the workspace) if set, else the workspace's `target`.
pub(crate) fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("CARGO_TARGET_DIR").or_else(|| option_env!("CARGO_TARGET_DIR").map(Into::into)) {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}
