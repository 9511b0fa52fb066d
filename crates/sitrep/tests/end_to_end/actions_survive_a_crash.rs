//! Actions survive `kill -KILL`: a real `sitrep serve` whose `cloud-iam` destination is a
//! receiver in this test. Killed while a retry is pending, or while the receiver is still
//! working on a request, the server resumes after a restart on the same data directory: the
//! action completes, every attempt the receiver saw carried the same idempotency key (so it did
//! the work once), and the store verifies.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::Value;
use support::{Cli, Server, eventually};

const SECRET: &str = "crash-test-secret-91f2";
const KEY_ID: &str = "AKIACRASHTEST0001";

/// One request the receiver answered.
#[derive(Debug, Clone)]
struct Seen {
    idempotency_key: Option<String>,
    signed: bool,
    status: u16,
}

/// How the receiver answers signed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 503: the IAM API is down.
    Fail,
    /// Does the work, then takes its time answering (until the mode changes).
    Slow,
    /// Does the work (once per idempotency key) and answers 200.
    Succeed,
}

#[derive(Debug)]
struct Log {
    mode: Mode,
    seen: Vec<Seen>,
    /// The keys whose work was done: one effect per key.
    effects: Vec<String>,
}

/// A signed-webhook receiver on 127.0.0.1, a thread per request; stopped when dropped.
struct Receiver {
    url: String,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.set(Mode::Succeed);
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Receiver {
    fn start(mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
        let url = format!("http://{}", listener.local_addr().expect("the bound address"));
        let log = Arc::new(Mutex::new(Log { mode, seen: Vec::new(), effects: Vec::new() }));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_log, thread_stop) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let log = thread_log.clone();
                    std::thread::spawn(move || answer(stream, &log));
                }
            }
        });
        Receiver { url, log, stop, thread: Some(thread) }
    }

    fn set(&self, mode: Mode) {
        self.log.lock().expect("the receiver's log").mode = mode;
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("the receiver's log").seen.clone()
    }

    fn effects(&self) -> Vec<String> {
        self.log.lock().expect("the receiver's log").effects.clone()
    }
}

/// Reads one HTTP/1.1 request and answers it: 401 for a bad signature, else as the mode says.
fn answer(stream: TcpStream, log: &Mutex<Log>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let length: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let signed = header("x-sitrep-signature").is_some_and(|s| signature_holds(&s, &body));
    let key = header("idempotency-key");
    let status = {
        let mut log = log.lock().expect("the receiver's log");
        let status = match (signed, log.mode, &key) {
            (false, _, _) | (_, _, None) => 401,
            (true, Mode::Fail, _) => 503,
            (true, Mode::Slow | Mode::Succeed, Some(key)) => {
                if !log.effects.contains(key) {
                    log.effects.push(key.clone());
                }
                200
            }
        };
        log.seen.push(Seen { idempotency_key: key, signed, status });
        status
    };
    // A slow receiver answers only when the test lets it (or after half a minute).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while log.lock().expect("the receiver's log").mode == Mode::Slow && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Service Unavailable",
    };
    let answer = format!("{{\"status\":{status}}}");
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, compared in constant time.
fn signature_holds(header: &str, body: &[u8]) -> bool {
    let field = |name: &str| header.split(',').find_map(|part| part.strip_prefix(name)?.strip_prefix('='));
    let (Some(t), Some(Ok(v1))) = (field("t"), field("v1").map(hex::decode)) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()) else { return false };
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

/// The `action.*` entries of the revocation's webhook (decision D-1, its first action).
fn webhook_runs(cli: &Cli) -> Vec<Value> {
    // One entry per line.
    let printed = cli.run(&["--json", "record", "INC-1"]);
    printed
        .ok()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("each line of `record --json` is an entry"))
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("action.")))
        .filter(|e| e["body"]["decision"] == "D-1" && e["body"]["action"] == 0)
        .collect()
}

/// A server whose `cloud-iam` destination is `receiver`, with a leaked-secret incident declared
/// with its playbook (so its pre-approved revocation, D-1, runs at once): the server, the
/// admin's token and the idempotency key every attempt of the webhook must carry.
fn leaked_key_incident(receiver: &Receiver) -> (Server, String, String) {
    let config =
        format!("[destinations.cloud-iam]\nurl = \"{}/iam\"\nsecret = \"{SECRET}\"\ntimeout_secs = 5\n", receiver.url);
    let (server, token) = Server::init_with_config("alice", &config);
    let declared = server
        .cli(&token)
        .run(&[
            "--json",
            "declare",
            "AWS access key published on GitHub",
            "--severity",
            "sev2",
            "--playbook",
            "leaked-secret",
            "--input",
            &format!("key_id={KEY_ID}"),
            "--input",
            "provider=AWS",
        ])
        .json();
    let uuid = declared["uuid"].as_str().expect("the incident's UUID");
    (server, token, format!("sitrep:{uuid}:D-1:1"))
}

/// Kills the server hard, checks its store, and starts it again on the same data directory.
fn crash_and_restart(mut server: Server) -> Server {
    let killed = server.kill_hard();
    assert!(!killed.success(), "the server died of SIGKILL: {killed}");
    let (code, output) = server.verify_data();
    assert_eq!(code, Some(0), "the store verifies after SIGKILL: {output}");
    server.restart()
}

/// Waits for the webhook to succeed; its `action.*` entries.
fn until_succeeded(cli: &Cli) -> Vec<Value> {
    eventually("the action to complete after the restart", || {
        let runs = webhook_runs(cli);
        runs.iter().any(|e| e["kind"] == "action.succeeded").then_some(runs)
    })
}

/// Stops the server with SIGTERM and checks the whole store offline.
fn stop_and_verify(mut server: Server) {
    let stopped = server.terminate();
    assert!(stopped.success(), "the restarted server stops cleanly: {stopped}");
    let (code, output) = server.verify_data();
    assert_eq!(code, Some(0), "sitrep verify --data: {output}");
}

#[test]
fn a_retry_pending_at_sigkill_runs_after_the_restart_with_the_same_key() {
    let receiver = Receiver::start(Mode::Fail);
    let (server, token, key) = leaked_key_incident(&receiver);

    // The first attempt fails; the retry is pending (2 s of backoff) when the server dies.
    let before = eventually("the first attempt to fail", || {
        let runs = webhook_runs(&server.cli(&token));
        runs.iter().any(|e| e["kind"] == "action.failed").then_some(runs)
    });
    assert_eq!(before.last().map(|e| e["body"]["retryable"].clone()), Some(Value::Bool(true)), "{before:#?}");
    let server = crash_and_restart(server);
    let seen_before = receiver.seen().len();
    assert!(seen_before >= 1, "the receiver saw an attempt before the crash");
    receiver.set(Mode::Succeed);

    let runs = until_succeeded(&server.cli(&token));
    let kinds: Vec<&str> = runs.iter().map(|e| e["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds[..2], ["action.started", "action.failed"], "{runs:#?}");
    assert_eq!(kinds[kinds.len() - 2..], ["action.started", "action.succeeded"], "{runs:#?}");

    let seen = receiver.seen();
    assert!(seen.len() > seen_before, "the receiver saw attempts after the restart: {seen:#?}");
    assert!(seen.iter().all(|s| s.signed), "every attempt was signed with the configured secret: {seen:#?}");
    assert_eq!(seen.iter().filter(|s| s.status == 200).count(), 1, "one attempt succeeded: {seen:#?}");
    assert!(
        seen.iter().all(|s| s.idempotency_key.as_deref() == Some(key.as_str())),
        "every attempt, before and after the crash, carried {key}: {seen:#?}"
    );
    assert_eq!(receiver.effects(), [key]);
    stop_and_verify(server);
}

#[test]
fn an_attempt_cut_off_by_sigkill_is_repeated_with_the_same_key_and_the_work_is_done_once() {
    let receiver = Receiver::start(Mode::Slow);
    let (server, token, key) = leaked_key_incident(&receiver);

    // The receiver has done the work but not yet answered: the record says the attempt started
    // and nothing more when the server dies.
    eventually("the receiver to be working on the first attempt", || (receiver.seen().len() == 1).then_some(()));
    let runs = webhook_runs(&server.cli(&token));
    let kinds: Vec<&str> = runs.iter().map(|e| e["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["action.started"], "{runs:#?}");
    let server = crash_and_restart(server);
    receiver.set(Mode::Succeed);

    let runs = until_succeeded(&server.cli(&token));
    let attempts: Vec<(&str, u64)> = runs
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or_default(), e["body"]["attempt"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(attempts, [("action.started", 1), ("action.started", 2), ("action.succeeded", 2)], "{runs:#?}");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "the cut-off attempt and its repeat: {seen:#?}");
    assert!(seen.iter().all(|s| s.signed && s.idempotency_key.as_deref() == Some(key.as_str())), "{seen:#?}");
    assert_eq!(receiver.effects(), [key], "the repeat did no second piece of work");
    stop_and_verify(server);
}
