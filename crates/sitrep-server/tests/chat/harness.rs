//! One Synapse per test binary, Matrix users, the nio client, and a sitrep server with its bot.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};
use sitrep_server::config::MatrixConfig;

use crate::helpers::{TestApp, spawn_app_with};

/// A running homeserver: its client API and its registration secret.
#[derive(Debug)]
pub(crate) struct Synapse {
    pub url: String,
    secret: String,
    _dir: tempfile::TempDir,
    _child: Mutex<Child>,
    /// Held open: when the test binary exits the pipe closes and the launcher stops Synapse.
    _stdin: Mutex<ChildStdin>,
}

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/matrix")
}

/// The shared homeserver, or `None` (the test skips) when Synapse is not installed.
pub(crate) fn synapse() -> Option<&'static Synapse> {
    static SYNAPSE: OnceLock<Option<Synapse>> = OnceLock::new();
    SYNAPSE
        .get_or_init(|| {
            let installed = Command::new("python3")
                .args(["-c", "import synapse, nio"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                let message = "SKIPPED Matrix tests: python3 -m pip install matrix-synapse matrix-nio";
                if std::env::var("SITREP_MATRIX_TESTS").as_deref() == Ok("required") {
                    panic!("{message} (SITREP_MATRIX_TESTS=required: the Matrix tests may not skip)");
                }
                println!("{message}");
                return None;
            }
            let dir = tempfile::tempdir().expect("a temporary directory");
            let mut child = Command::new("python3")
                .arg(tools().join("synapse.py"))
                .arg(dir.path().join("synapse"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 runs");
            let stdin = child.stdin.take().expect("a stdin pipe");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("a stdout pipe"))
                .read_line(&mut line)
                .expect("synapse.py prints");
            let started: Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("Synapse did not start: {line}"));
            Some(Synapse {
                url: started["url"].as_str().expect("url").to_owned(),
                secret: started["shared_secret"].as_str().expect("secret").to_owned(),
                _dir: dir,
                _child: Mutex::new(child),
                _stdin: Mutex::new(stdin),
            })
        })
        .as_ref()
}

/// A Matrix account: its id and access token.
#[derive(Debug, Clone)]
pub(crate) struct MxUser {
    pub id: String,
    pub token: String,
}

impl Synapse {
    /// Registers a new account (named `name` plus a number: the homeserver is shared).
    pub(crate) fn register(&self, name: &str) -> MxUser {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let local = format!("{name}{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let out = Command::new("python3")
            .arg(tools().join("synapse.py"))
            .args(["register", &self.url, &self.secret, &local, "a matrix password"])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "registration failed: {}", String::from_utf8_lossy(&out.stderr));
        let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        MxUser {
            id: answer["user_id"].as_str().expect("user_id").to_owned(),
            token: answer["access_token"].as_str().expect("token").to_owned(),
        }
    }

    /// Runs the nio client as `user`; its JSON answer.
    pub(crate) async fn client(&self, user: &MxUser, args: &[&str]) -> Value {
        let out = tokio::process::Command::new("python3")
            .arg(tools().join("client.py"))
            .args([&self.url, &user.token])
            .args(args)
            .output()
            .await
            .expect("python3 runs");
        assert!(out.status.success(), "client.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// Sends a message; its event id.
    pub(crate) async fn send(&self, user: &MxUser, room: &str, text: &str) -> String {
        self.client(user, &["send", room, text]).await["event_id"].as_str().expect("event id").to_owned()
    }

    /// The room's joined and invited members.
    pub(crate) async fn members(&self, user: &MxUser, room: &str) -> (Vec<String>, Vec<String>) {
        let answer = self.client(user, &["members", room]).await;
        let list = |key: &str| -> Vec<String> {
            answer[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        };
        (list("joined"), list("invited"))
    }

    /// The room's messages' texts, oldest first (edits show their new text).
    pub(crate) async fn texts(&self, user: &MxUser, room: &str) -> Vec<String> {
        let answer = self.client(user, &["messages", room]).await;
        answer["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["body"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Waits (up to 30 seconds) until `probe` holds.
pub(crate) async fn until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    sitrep_testing::eventually(what, std::time::Duration::from_secs(30), || {
        let holds = probe();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// A sitrep server with its Matrix bot (a fresh bot account per test).
pub(crate) struct ChatApp {
    pub app: TestApp,
    pub hs: &'static Synapse,
    pub bot: MxUser,
}

pub(crate) async fn spawn_chat_app() -> Option<ChatApp> {
    let hs = synapse()?;
    let bot = hs.register("sitrepbot");
    let config = MatrixConfig {
        homeserver: hs.url.clone(),
        user_id: bot.id.clone(),
        access_token: Some(bot.token.clone()),
        access_token_env: None,
        sync_timeout_secs: 1,
    };
    let app = spawn_app_with(move |c| c.matrix = Some(config)).await;
    Some(ChatApp { app, hs, bot })
}

impl ChatApp {
    /// A direct room between `user` and the bot, once the bot has joined it.
    pub(crate) async fn dm(&self, user: &MxUser) -> String {
        let room = self.hs.client(user, &["dm", &self.bot.id]).await["room_id"].as_str().expect("room").to_owned();
        let bot = self.bot.id.clone();
        until("the bot joins the direct room", || async { self.hs.members(user, &room).await.0.contains(&bot) }).await;
        room
    }

    /// Links `mx` to the sitrep user `name` through the verified flow: a code asked for with
    /// `name`'s credentials, sent from `mx`'s account.
    pub(crate) async fn link(&self, name: &str, mx: &MxUser) -> String {
        let answer = self.app.post(name, "/api/v1/chat/link-codes", json!({})).await;
        assert_eq!(answer.status(), 201);
        let code = answer.json::<Value>().await.expect("JSON")["code"].as_str().expect("code").to_owned();
        let room = self.dm(mx).await;
        self.hs.send(mx, &room, &format!("!sitrep link {code}")).await;
        let user = sitrep_testing::people::user(name);
        until("the link is recorded", || async {
            self.app.ledger.org().user(&user).and_then(|u| u.chat.get("matrix").cloned()).as_deref()
                == Some(mx.id.as_str())
        })
        .await;
        room
    }

    /// The incident's Matrix room, once the bot has opened it.
    pub(crate) async fn room_of(&self, incident: &str) -> String {
        let number: sitrep_core::IncidentNumber = incident.parse().expect("an incident id");
        let ledger = self.app.ledger.clone();
        until("the bot opens the incident's room", || async {
            ledger.with_incident(number, |s| s.chat_rooms.contains_key("matrix")).unwrap_or(false)
        })
        .await;
        ledger.with_incident(number, |s| s.chat_rooms["matrix"].clone()).expect("the incident")
    }

    /// The incident's last seq.
    pub(crate) fn seq(&self, incident: &str) -> u64 {
        let number: sitrep_core::IncidentNumber = incident.parse().expect("an incident id");
        self.app.ledger.with_incident(number, |s| s.seq).expect("the incident")
    }

    /// Waits until a message in `room` contains `needle`; all texts then.
    pub(crate) async fn says(&self, user: &MxUser, room: &str, needle: &str) -> Vec<String> {
        sitrep_testing::eventually(
            &format!("the room to say '{needle}'"),
            std::time::Duration::from_secs(30),
            || async {
                let texts = self.hs.texts(user, room).await;
                if texts.iter().any(|t| t.contains(needle)) { Ok(texts) } else { Err(format!("{texts:?}")) }
            },
        )
        .await
    }
}
