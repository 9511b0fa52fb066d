//! Communications paths: proposing a decision tells the channels its class's path names, by a
//! Slack-compatible webhook and by mail through a real SMTP server (Python's aiosmtpd).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{COMMANDER, COMMS, LEGAL, RESPONDER, eventually, spawn};
use crate::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_channel_gets_a_text_naming_the_decision_and_the_record() {
    let receiver = Receiver::start().await;
    let server =
        spawn(&format!("[channels.incident-channel]\nkind = \"slack\"\nurl = \"{}\"\n", receiver.url("/slack"))).await;
    let state = server.declare("Ransomware note on a file server", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    // The commander decides containment alone: it is proposed and approved at once.
    let decision = server
        .post_ok(
            COMMANDER,
            &format!("/api/v1/incidents/{incident}/decisions"),
            json!({"class": "containment", "title": "Isolate fs-02 from the network"}),
            StatusCode::CREATED,
        )
        .await;
    let did = decision["id"].as_str().expect("a decision id");

    let texts = eventually("the channel to hear of the proposal and the approval", || async {
        let got = receiver.deliveries("/slack");
        (got.len() >= 2).then_some(got)
    })
    .await;
    assert_eq!(texts.len(), 2, "one message per moment: {texts:#?}");
    for delivery in &texts {
        let object = delivery.body.as_object().expect("a JSON object");
        assert_eq!(object.keys().collect::<Vec<_>>(), ["text"], "a Slack incoming-webhook payload: {object:?}");
        let text = object["text"].as_str().expect("text");
        assert!(text.contains(&format!("{incident} {did}")), "names the incident and decision: {text}");
        assert!(text.contains("Isolate fs-02 from the network"), "names the decision's title: {text}");
        assert!(text.contains(&format!("{}/incidents/{incident}#decision-{did}", server.address)), "links: {text}");
    }
    assert!(texts.iter().any(|d| d.body["text"].as_str().is_some_and(|t| t.contains("was proposed"))));
    assert!(texts.iter().any(|d| d.body["text"].as_str().is_some_and(|t| t.contains("was approved by cmd"))));

    // The receiver answers before the notifier records the delivery: wait for the record.
    let delivered = eventually("both deliveries in the record", || async {
        let entries = server.record(incident).await;
        let delivered: Vec<_> = entries.into_iter().filter(|e| e["kind"] == "notification.delivered").collect();
        (delivered.len() >= 2).then_some(delivered)
    })
    .await;
    assert_eq!(delivered.len(), 2, "{delivered:#?}");
    assert!(delivered.iter().all(|e| e["actor"] == "system:notifier" && e["body"]["channel"] == "incident-channel"));
}

/// Whoever is told of a statement decision reads the exact text it approves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_decision_s_notification_quotes_the_text_it_approves() {
    let receiver = Receiver::start().await;
    let server =
        spawn(&format!("[channels.incident-channel]\nkind = \"slack\"\nurl = \"{}\"\n", receiver.url("/slack"))).await;
    let state = server.declare("Press enquiries about an outage", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let text = "We are investigating an outage of sign-in.\nNo data was lost.";
    server
        .post_ok(
            COMMS,
            &at("/statements"),
            json!({"audience": "press", "title": "Holding", "text": text}),
            StatusCode::CREATED,
        )
        .await;
    let body = json!({"class": "external_statement", "title": "Holding line", "statement": "ST-1"});
    server.post_ok(COMMS, &at("/decisions"), body, StatusCode::CREATED).await;
    let told = eventually("the channel to hear of the proposal", || async {
        receiver.deliveries("/slack").into_iter().next()
    })
    .await;
    let said = told.body["text"].as_str().expect("a text");
    assert!(said.contains("It approves ST-1 v1 \"Holding\" to press"), "{said}");
    assert!(said.contains("> We are investigating an outage of sign-in.\n> No data was lost."), "{said}");
}

/// A notify action whose second channel is down has told the first: neither the automatic
/// retry nor the one after the second channel is back tells the first again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_action_retried_after_a_channel_failed_tells_only_the_channels_not_yet_told() {
    const MESSAGE: &str = "The backup manifest goes to Northwind today";
    let receiver = Receiver::start().await;
    // Legal's receiver is down: nothing listens on its address until later.
    let legal_address = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let server = spawn(&format!(
        "[channels.incident-channel]\nkind = \"slack\"\nurl = \"{}\"\n\n[channels.legal]\nkind = \"slack\"\nurl = \"http://{legal_address}/slack\"\n",
        receiver.url("/slack")
    ))
    .await;
    let state = server.declare("Customer data in a leaked backup", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let decisions = format!("/api/v1/incidents/{incident}/decisions");
    let body = json!({"class": "evidence_sharing", "title": "Share the manifest with the MSP",
        "actions": [{"connector": "notify", "message": MESSAGE}]});
    let decision = server.post_ok(COMMANDER, &decisions, body, StatusCode::CREATED).await;
    let did = decision["id"].as_str().expect("a decision id");
    server.post_ok(LEGAL, &format!("{decisions}/{did}/approve"), json!({}), StatusCode::OK).await;

    let told_first = || {
        receiver
            .deliveries("/slack")
            .into_iter()
            .filter(|d| d.body["text"].as_str().is_some_and(|t| t.contains(MESSAGE)))
            .count()
    };
    for attempt in [1, 2] {
        let failed = server
            .entry(incident, &format!("attempt {attempt} to fail at legal"), |e| {
                e["kind"] == "action.failed" && e["body"]["decision"] == did && e["body"]["attempt"] == attempt
            })
            .await;
        assert_eq!(failed["body"]["retryable"], true, "a channel that cannot be reached is retried: {failed:#}");
        let told = if attempt == 1 { json!(["incident-channel"]) } else { serde_json::Value::Null };
        assert_eq!(failed["body"]["told"], told, "only the first attempt told anyone: {failed:#}");
        server.advance(if attempt == 1 { 2 } else { 4 }).await;
    }
    server.entry(incident, "attempt 3 to start", |e| e["kind"] == "action.started" && e["body"]["attempt"] == 3).await;
    assert_eq!(told_first(), 1, "the incident channel heard of the decision once");

    // Legal's receiver comes back: the next attempt tells legal, and only legal.
    let legal = Receiver::start_at(&legal_address.to_string()).await;
    server.advance(8).await;
    let done = crate::harness::action_reaches(&server, incident, did, 1, "succeeded").await;
    assert_eq!(done["detail"], "told legal; incident-channel told earlier", "{done:#}");
    let heard: Vec<_> = legal
        .deliveries("/slack")
        .into_iter()
        .filter(|d| d.body["text"].as_str().is_some_and(|t| t.contains(MESSAGE)))
        .collect();
    assert_eq!(heard.len(), 1, "{heard:#?}");
    assert_eq!(told_first(), 1, "and the incident channel still once");
}

/// aiosmtpd on 127.0.0.1, writing each message to a Maildir; killed when dropped.
pub(crate) struct SmtpServer {
    child: Child,
    pub(crate) port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Starts aiosmtpd, or says why not: `None` means the test skips.
    pub(crate) fn start(dir: &Path) -> Option<SmtpServer> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            let message = "SKIPPED mail tests: pip install aiosmtpd";
            if std::env::var("SITREP_SMTP_TESTS").as_deref() == Ok("required") {
                panic!("{message} (SITREP_SMTP_TESTS=required: the mail tests may not skip)");
            }
            println!("{message}");
            return None;
        }
        let maildir = dir.join("maildir");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("an ephemeral port").port();
            let child = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 runs");
            let mut server = SmtpServer { child, port, maildir: maildir.clone() };
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if server.child.try_wait().expect("aiosmtpd's status").is_some() {
                    break; // most likely the port was taken in between: try another
                }
                if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = server.child.kill();
        }
        panic!("aiosmtpd did not start in five attempts");
    }

    /// The messages delivered so far, as raw text.
    pub(crate) fn messages(&self) -> Vec<String> {
        let Ok(files) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        files.filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok()).collect()
    }
}

/// A message's headers (unfolded, by lower-case name) and its decoded body.
pub(crate) fn parse_mail(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let encoding = headers
        .iter()
        .find(|(name, _)| name == "content-transfer-encoding")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body"))
                .expect("a UTF-8 body")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    };
    (headers, body)
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'='
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[index + 1..index + 3], 16)
        {
            out.push(byte);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_channel_sends_a_mail_naming_the_decision_with_a_link_to_the_record() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let server = spawn(&format!(
        r#"
[smtp]
host = "127.0.0.1"
port = {port}
starttls = false
from = "sitrep@example.test"

[channels.legal]
kind = "email"
to = ["legal-team@example.test"]
"#,
        port = smtp.port
    ))
    .await;
    let state = server.declare("Customer data on a paste site", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    // Evidence sharing's path names `incident-channel` and `legal`; it waits for legal and the
    // commander, so only its proposal is told.
    let decision = server
        .post_ok(
            RESPONDER,
            &format!("/api/v1/incidents/{incident}/decisions"),
            json!({"class": "evidence_sharing", "title": "Share the paste with the hosting provider"}),
            StatusCode::CREATED,
        )
        .await;
    let did = decision["id"].as_str().expect("a decision id");

    let delivered = server
        .entry(incident, "the mail to the legal channel to be delivered", |e| {
            e["kind"] == "notification.delivered" && e["body"]["channel"] == "legal"
        })
        .await;
    assert_eq!(delivered["actor"], "system:notifier");
    assert_eq!(delivered["body"]["decision"], did);
    assert_eq!(delivered["body"]["moment"], "proposed");
    assert!(delivered["body"]["detail"].as_str().is_some_and(|d| d.starts_with("SMTP 250")), "{delivered:#}");

    let messages = eventually("the mail in the maildir", || async {
        let messages = smtp.messages();
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), 1, "one mail: {messages:#?}");
    let (headers, body) = parse_mail(&messages[0]);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}: {headers:?}"))
    };
    let subject = header("subject");
    assert!(subject.contains(incident) && subject.contains(did), "the subject names both: {subject}");
    assert!(subject.contains("Share the paste with the hosting provider"), "{subject}");
    assert!(header("to").contains("legal-team@example.test"));
    assert!(header("from").contains("sitrep@example.test"));
    let link = format!("{}/incidents/{incident}#decision-{did}", server.address);
    assert!(body.contains(&link), "the body links to the record ({link}): {body}");
    assert!(body.contains("proposed by resp"), "{body}");
}
