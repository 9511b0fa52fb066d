//! A receiver on 127.0.0.1, as an organisation would run one: it checks each signed webhook's
//! HMAC over `"<t>.<body>"` with the shared secret (in constant time) and the timestamp's age,
//! does the work once per idempotency key, and answers with scripted statuses so tests can make
//! it fail. Slack-style channels post unsigned `{"text"}` bodies to `/slack`; `/moved`
//! redirects to `/hook/cloud-iam`; `/huge` answers any POST with a body far larger than anyone
//! should read, made as it is sent, and notes how much of it was taken.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The secret the configured destinations share with this receiver.
pub(crate) const SECRET: &str = "whsec-test-7f3a91c2";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// `/hook/<name>`, `/slack` or `/moved`.
    pub path: String,
    pub idempotency_key: Option<String>,
    /// Whether the signature header verified (always false for `/slack`, which is unsigned).
    pub signed: bool,
    pub body: Value,
    /// The status it answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    /// Statuses to answer signed webhooks with, in order; then 200.
    script: VecDeque<u16>,
    deliveries: Vec<Delivery>,
    /// The idempotency keys whose work was done: one effect per key.
    effects: Vec<String>,
    /// Each `/huge` answer so far.
    huge: Vec<Arc<HugeAnswer>>,
    /// The secret a person's alert webhook (`/pager`) is signed with.
    pager_secret: String,
}

/// How long a `/huge` answer is: 256 MiB of "ü" (two bytes each in UTF-8).
pub(crate) const HUGE_BYTES: u64 = 256 * 1024 * 1024;

/// How much of one `/huge` answer was handed to the connection, and how it ended.
#[derive(Debug, Default)]
pub(crate) struct HugeAnswer {
    /// Bytes handed to the connection so far.
    pub sent: AtomicU64,
    /// All of it was sent.
    pub finished: AtomicBool,
    /// The server stopped sending: it finished, or the reader went away.
    pub ended: AtomicBool,
}

/// Feeds a `/huge` answer; noting when the server drops it, as it does when the reader leaves.
struct Feed(Arc<HugeAnswer>);

impl Drop for Feed {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug)]
pub(crate) struct Receiver {
    base: String,
    inner: Arc<Mutex<Inner>>,
    server: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        Receiver::start_at("127.0.0.1:0").await
    }

    /// A receiver on a given address, such as one a channel was configured with while nothing
    /// listened there.
    pub(crate) async fn start_at(address: &str) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hook/{name}", post(signed))
            .route("/slack", post(slack))
            .route("/moved", post(moved))
            .route("/huge", post(huge))
            .route("/pager", post(pager))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(address).await.expect("the receiver's address is free");
        let base = format!("http://{}", listener.local_addr().expect("the bound address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the receiver serves");
        });
        Receiver { base, inner, server }
    }

    /// The secret `/pager` checks signatures with: a person's own, from their contact routes.
    pub(crate) fn pager_secret(&self, secret: &str) {
        self.inner.lock().pager_secret = secret.to_owned();
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next signed webhooks with these statuses, then 200 again.
    pub(crate) fn answer(&self, statuses: &[u16]) {
        self.inner.lock().script = statuses.iter().copied().collect();
    }

    /// Everything received on this path so far.
    pub(crate) fn deliveries(&self, path: &str) -> Vec<Delivery> {
        self.inner.lock().deliveries.iter().filter(|d| d.path == path).cloned().collect()
    }

    /// Every request so far, on any path.
    pub(crate) fn all_deliveries(&self) -> Vec<Delivery> {
        self.inner.lock().deliveries.clone()
    }

    /// The idempotency keys whose work was done.
    pub(crate) fn effects(&self) -> Vec<String> {
        self.inner.lock().effects.clone()
    }

    /// Each `/huge` answer begun so far.
    pub(crate) fn huge_answers(&self) -> Vec<Arc<HugeAnswer>> {
        self.inner.lock().huge.clone()
    }
}

/// Checks `t=<unix>,v1=<hex>` against the body: fresh (five minutes) and the right HMAC.
pub(crate) fn verify_signature(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else { return false };
    if (sitrep_testing::system_now().as_jiff().as_second() - timestamp).abs() > 300 {
        return false;
    }
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature).is_ok()
}

/// A person's own alert webhook: signed with their secret, answering as scripted.
async fn pager(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut inner = inner.lock();
    let signed = header("x-sitrep-signature").is_some_and(|h| verify_signature(&inner.pager_secret, &h, &body));
    let status = if signed { inner.script.pop_front().unwrap_or(200) } else { 401 };
    inner.deliveries.push(Delivery {
        path: "/pager".into(),
        idempotency_key: header("idempotency-key"),
        signed,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
    });
    StatusCode::from_u16(status).expect("a valid status").into_response()
}

async fn signed(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let signed = header("x-sitrep-signature").is_some_and(|h| verify_signature(SECRET, &h, &body));
    let key = header("idempotency-key");
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = inner.lock();
    let (status, answer) = if !signed {
        (401, json!({"error": "bad signature"}))
    } else {
        match inner.script.pop_front().unwrap_or(200) {
            200 => match &key {
                Some(key) if inner.effects.contains(key) => (200, json!({"duplicate": key})),
                Some(key) => {
                    inner.effects.push(key.clone());
                    (200, json!({"done": parsed["payload"]["operation"], "key_id": parsed["payload"]["key_id"]}))
                }
                None => (400, json!({"error": "no idempotency key"})),
            },
            503 => (503, json!({"error": "the IAM API is briefly unavailable"})),
            other => (other, json!({"error": format!("refused ({other}): unknown key id")})),
        }
    };
    inner.deliveries.push(Delivery {
        path: format!("/hook/{name}"),
        idempotency_key: key,
        signed,
        body: parsed,
        status,
    });
    (StatusCode::from_u16(status).expect("a valid status"), axum::Json(answer)).into_response()
}

async fn slack(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.lock().deliveries.push(Delivery {
        path: "/slack".into(),
        idempotency_key: key,
        signed: false,
        body: parsed,
        status: 200,
    });
    "ok".into_response()
}

/// Answers every POST with a redirect to the signed hook, as a hijacked or moved endpoint might.
async fn moved(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.lock().deliveries.push(Delivery {
        path: "/moved".into(),
        idempotency_key: key,
        signed: false,
        body: parsed,
        status: 307,
    });
    (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, "/hook/cloud-iam")], "moved").into_response()
}

/// Answers 200 with [`HUGE_BYTES`] of "ü", made 64 KiB at a time as the connection takes it.
async fn huge(State(inner): State<Arc<Mutex<Inner>>>) -> Response {
    let answer = Arc::new(HugeAnswer::default());
    inner.lock().huge.push(answer.clone());
    let chunk = Bytes::from("ü".repeat(32 * 1024));
    let chunks = futures_util::stream::unfold(Feed(answer), move |feed| {
        let chunk = chunk.clone();
        async move {
            if feed.0.sent.load(Ordering::SeqCst) >= HUGE_BYTES {
                feed.0.finished.store(true, Ordering::SeqCst);
                return None;
            }
            feed.0.sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            Some((Ok::<_, Infallible>(chunk), feed))
        }
    });
    (StatusCode::OK, Body::from_stream(chunks)).into_response()
}
