//! Publishing a statement on its audience's configured outlets: the approved bytes reach a
//! signed webhook and a mail list over real SMTP (each receiver hashes what it got and compares
//! it with the approved hash), a refusing outlet is retried with one idempotency key and a final
//! failure is retried by a permitted person, a silent outlet is a retryable timeout, an
//! exercise sends nothing, and a channel that is no outlet only records the publication.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{COMMS, LEGAL, OUTSIDER, RESPONDER, TestServer, assert_chain, eventually, spawn};
use crate::receiver::{Receiver, SECRET};
use sitrep_testing::smtp::{SmtpServer, parse_mail};

const STATUS_PAGE: &str = "/hook/status-page";
/// Non-ASCII, bare line feeds, a trailing newline: bytes a careless path would change.
const TEXT: &str = "We are investigating unauthorised access to sign-in.\nNo payment data was exposed — café owners: no action needed.\n\nNext update at 14:00 UTC.\n";
const TITLE: &str = "Sign-in incident: what we know";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A server whose press outlets are the receiver's status page (signed webhook) and, when
/// `smtp_port` is given, a mail list; `extra` is appended (more channels).
fn config(receiver: &Receiver, smtp_port: Option<u16>, extra: &str) -> String {
    let mail = match smtp_port {
        Some(port) => format!(
            r#"
[smtp]
host = "127.0.0.1"
port = {port}
starttls = false
from = "sitrep@example.test"

[channels.press-list]
kind = "email"
to = ["press-desk@example.test", "newsroom@example.test"]
"#
        ),
        None => String::new(),
    };
    let outlets = if smtp_port.is_some() { r#"["status-page", "press-list"]"# } else { r#"["status-page"]"# };
    format!(
        r#"
[channels.status-page]
kind = "webhook"
url = "{url}"
secret = "{SECRET}"
timeout_secs = 5
{mail}
{extra}
[outlets]
press = {outlets}
"#,
        url = receiver.url(STATUS_PAGE),
    )
}

/// Declares an incident, drafts ST-1 to the press and has it approved; the incident's id and
/// UUID and the approved hash.
async fn approved_statement(server: &TestServer, exercise: bool) -> (String, String, String) {
    let state = server.declare("Unauthorised sign-ins", json!({"exercise": exercise})).await;
    let incident = state["id"].as_str().expect("an incident id").to_owned();
    let uuid = state["uuid"].as_str().expect("a UUID").to_owned();
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let drafted = server
        .post_ok(
            COMMS,
            &at("/statements"),
            json!({"audience": "press", "title": TITLE, "text": TEXT}),
            StatusCode::CREATED,
        )
        .await;
    let approved = drafted["versions"][0]["sha256"].as_str().expect("the version's hash").to_owned();
    assert_eq!(approved, sha256(TEXT.as_bytes()));
    let body = json!({"class": "external_statement", "title": "Holding line", "statement": "ST-1"});
    let decision = server.post_ok(COMMS, &at("/decisions"), body, StatusCode::CREATED).await;
    let did = decision["id"].as_str().expect("a decision id");
    server.post_ok(LEGAL, &at(&format!("/decisions/{did}/approve")), json!({}), StatusCode::OK).await;
    (incident, uuid, approved)
}

async fn publish(server: &TestServer, incident: &str, channel: &str) -> Value {
    let path = format!("/api/v1/incidents/{incident}/statements/ST-1/publish");
    server.post_ok(COMMS, &path, json!({"channel": channel}), StatusCode::OK).await
}

/// Waits for the entry of `kind` about `channel` with this attempt.
async fn delivery_entry(server: &TestServer, incident: &str, kind: &str, channel: &str, attempt: u64) -> Value {
    server
        .entry(incident, &format!("{kind} of attempt {attempt} to {channel}"), |e| {
            e["kind"] == kind && e["body"]["channel"] == channel && e["body"]["attempt"] == attempt
        })
        .await
}

fn publication<'a>(statement: &'a Value, channel: &str) -> &'a Value {
    statement["publications"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["channel"] == channel))
        .unwrap_or_else(|| panic!("no publication on {channel}: {statement:#}"))
}

async fn statement(server: &TestServer, incident: &str) -> Value {
    let list = server.get_json(COMMS, &format!("/api/v1/incidents/{incident}/statements")).await;
    list["statements"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_statement_reaches_a_webhook_outlet_and_a_mail_list_with_the_approved_bytes() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let receiver = Receiver::start().await;
    let server = spawn(&config(&receiver, Some(smtp.port), "")).await;
    let (incident, uuid, approved) = approved_statement(&server, false).await;

    let answer = publish(&server, &incident, "status-page").await;
    assert_eq!(publication(&answer, "status-page")["delivery"]["status"], "pending", "a delivery is owed: {answer:#}");
    publish(&server, &incident, "press-list").await;

    // The status page: one signed POST whose text hashes to the approved hash.
    let webhook = delivery_entry(&server, &incident, "statement.delivered", "status-page", 1).await;
    let got = receiver.deliveries(STATUS_PAGE);
    assert_eq!(got.len(), 1, "{got:#?}");
    let post = &got[0];
    assert!(post.signed, "signed with the channel's secret");
    let received = post.body["text"].as_str().expect("the text");
    assert_eq!(sha256(received.as_bytes()), approved, "the receiver's hash of what it got is the approved hash");
    assert_eq!(received, TEXT);
    let key = format!("sitrep:{uuid}:ST-1:v1:status-page");
    assert_eq!(post.idempotency_key.as_deref(), Some(key.as_str()));
    for (field, value) in [
        ("statement", json!("ST-1")),
        ("version", json!(1)),
        ("audience", json!("press")),
        ("title", json!(TITLE)),
        ("sha256", json!(approved)),
        ("idempotency_key", json!(key)),
        ("exercise", json!(false)),
    ] {
        assert_eq!(post.body[field], value, "{field} in {:#}", post.body);
    }
    assert_eq!(webhook["actor"], "system:publisher");
    assert_eq!(webhook["body"]["sha256"], approved.as_str(), "the record holds the hash sent");
    assert!(webhook["body"]["receipt"].as_str().is_some_and(|r| r.starts_with("HTTP 200")), "{webhook:#}");

    // The mail list: one mail, the subject the title, the text part exactly the approved bytes.
    let mailed = delivery_entry(&server, &incident, "statement.delivered", "press-list", 1).await;
    assert!(mailed["body"]["receipt"].as_str().is_some_and(|r| r.starts_with("SMTP 250")), "{mailed:#}");
    assert_eq!(mailed["body"]["sha256"], approved.as_str());
    let messages = eventually("the mail in the maildir", || async {
        let messages = smtp.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let (headers, body) = parse_mail(&messages[0]);
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(header("subject"), TITLE);
    assert!(header("content-type").starts_with("text/plain; charset=utf-8"), "{headers:?}");
    // Base64: no line ending of the text is rewritten on the way (the parser's CRLF folding
    // cannot hide a change inside a base64 body).
    assert_eq!(header("content-transfer-encoding"), "base64", "{headers:?}");
    assert!(header("to").contains("press-desk@example.test") && header("to").contains("newsroom@example.test"));
    assert!(header("message-id").ends_with("@sitrep.publisher>"), "{headers:?}");
    assert_eq!(sha256(body.as_bytes()), approved, "the receiver's hash of the text part is the approved hash");

    // The read model shows each publication's delivery; the record chains.
    let st = statement(&server, &incident).await;
    for channel in ["status-page", "press-list"] {
        let delivery = &publication(&st, channel)["delivery"];
        assert_eq!(delivery["status"], "delivered", "{st:#}");
        assert_eq!(delivery["attempts"][0]["sha256"], approved.as_str());
        assert_eq!(delivery["attempts"][0]["delivered"], true);
    }
    assert_chain(&server.record(&incident).await);

    // A channel that is no outlet of the press: recorded as published elsewhere, nothing sent.
    let answer = publish(&server, &incident, "regulator portal").await;
    assert!(publication(&answer, "regulator portal").get("delivery").is_none(), "{answer:#}");
    assert!(server.publications_due().is_empty(), "nothing is owed to a channel that is no outlet");
    assert_eq!(receiver.all_deliveries().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_outlet_is_retried_with_one_key_and_a_final_failure_is_retried_by_a_person() {
    let receiver = Receiver::start().await;
    let server = spawn(&config(&receiver, None, "")).await;
    let (incident, uuid, approved) = approved_statement(&server, false).await;
    // A 500, which a retry may fix; then a 410, which it will not.
    receiver.answer(&[500, 410]);
    publish(&server, &incident, "status-page").await;

    let first = delivery_entry(&server, &incident, "statement.delivery_failed", "status-page", 1).await;
    assert_eq!(first["body"]["retryable"], true);
    assert!(first["body"]["reason"].as_str().is_some_and(|r| r.starts_with("HTTP 500")), "{first:#}");
    assert_eq!(first["body"]["sha256"], approved.as_str());
    assert!(server.publications_due().is_empty(), "not tried again before its backoff");
    server.advance(2).await;
    let second = delivery_entry(&server, &incident, "statement.delivery_failed", "status-page", 2).await;
    assert_eq!(second["body"]["retryable"], false, "a 410 is final: {second:#}");
    let st = statement(&server, &incident).await;
    assert_eq!(publication(&st, "status-page")["delivery"]["status"], "failed");
    server.advance(3600).await;
    assert!(server.publications_due().is_empty(), "a final failure is not tried again by itself");

    // Only a holder of publish_statements may ask again, and only for a final failure.
    let retry = format!("/api/v1/incidents/{incident}/statements/ST-1/deliveries/retry");
    let body = json!({"version": 1, "channel": "status-page"});
    let refused = server.post(RESPONDER, &retry, body.clone()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.post(OUTSIDER, &retry, body.clone()).await.status(), StatusCode::FORBIDDEN);
    let unknown = server.post(COMMS, &retry, json!({"version": 1, "channel": "press-list"})).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    server.post_ok(COMMS, &retry, body.clone(), StatusCode::OK).await;
    let third = delivery_entry(&server, &incident, "statement.delivered", "status-page", 3).await;
    assert_eq!(third["body"]["sha256"], approved.as_str());
    let again = server.post(COMMS, &retry, body).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a delivered publication is not retried");

    // Three attempts, one key; the work was done once.
    let got = receiver.deliveries(STATUS_PAGE);
    let key = format!("sitrep:{uuid}:ST-1:v1:status-page");
    assert_eq!(got.iter().map(|d| d.status).collect::<Vec<_>>(), [500, 410, 200]);
    assert!(got.iter().all(|d| d.idempotency_key.as_deref() == Some(key.as_str())), "{got:#?}");
    assert!(got.iter().all(|d| sha256(d.body["text"].as_str().unwrap_or_default().as_bytes()) == approved));
    assert_eq!(receiver.effects(), [key]);
    let kinds: Vec<String> = server
        .record(&incident)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().filter(|k| k.starts_with("statement.deliver")).map(str::to_owned))
        .collect();
    assert_eq!(
        kinds,
        [
            "statement.delivery_failed",
            "statement.delivery_failed",
            "statement.delivery_retry_requested",
            "statement.delivered"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outlet_that_times_out_is_recorded_as_a_failure_to_retry() {
    // A status page that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = silent.local_addr().expect("its address");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let receiver = Receiver::start().await;
    let text = config(&receiver, None, "")
        .replace(&receiver.url(STATUS_PAGE), &format!("http://{address}/status"))
        .replace("timeout_secs = 5", "timeout_secs = 1");
    let server = spawn(&text).await;
    let (incident, _, approved) = approved_statement(&server, false).await;
    publish(&server, &incident, "status-page").await;

    let failed = delivery_entry(&server, &incident, "statement.delivery_failed", "status-page", 1).await;
    assert_eq!(failed["body"]["retryable"], true, "a timeout may pass: {failed:#}");
    assert!(failed["body"]["reason"].as_str().is_some_and(|r| r.contains("timed out")), "{failed:#}");
    assert_eq!(failed["body"]["sha256"], approved.as_str());
    let st = statement(&server, &incident).await;
    let delivery = &publication(&st, "status-page")["delivery"];
    assert_eq!((delivery["status"].as_str(), delivery["retryable"].as_bool()), (Some("pending"), Some(true)));
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exercise_sends_nothing_and_records_what_would_have_gone() {
    let receiver = Receiver::start().await;
    let server = spawn(&config(&receiver, None, "")).await;
    let (incident, _, approved) = approved_statement(&server, true).await;
    publish(&server, &incident, "status-page").await;

    let recorded = delivery_entry(&server, &incident, "statement.delivered", "status-page", 1).await;
    let receipt = recorded["body"]["receipt"].as_str().expect("what would have gone");
    assert!(receipt.starts_with("exercise: nothing was sent"), "{receipt}");
    assert!(receipt.contains("status-page"), "{receipt}");
    assert_eq!(recorded["body"]["sha256"], approved.as_str());
    assert!(receiver.all_deliveries().is_empty(), "nothing left the server");
}
