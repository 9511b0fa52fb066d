//! Alerts: people are told by e-mail (a real SMTP server, aiosmtpd) and by their own webhook
//! when it is their turn, once each, batched and rate-limited, with failures recorded and
//! retried.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sitrep_testing::smtp::{SmtpServer, parse_mail};

use crate::harness::{COMMANDER, LEGAL, OUTSIDER, RESPONDER, TestServer, eventually, json_of, spawn};
use crate::receiver::Receiver;

fn smtp_config(port: u16) -> String {
    format!("[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nstarttls = false\nfrom = \"sitrep@example.test\"\n")
}

/// The mails delivered to `address`: (subject, body).
fn mails_to(smtp: &SmtpServer, address: &str) -> Vec<(String, String)> {
    let mut mails: Vec<(String, String)> = smtp
        .messages()
        .iter()
        .map(|raw| parse_mail(raw))
        .filter(|(headers, _)| headers.iter().any(|(name, value)| name == "to" && value.contains(address)))
        .map(|(headers, body)| {
            let subject = headers.iter().find(|(name, _)| name == "subject").map(|h| h.1.clone()).unwrap_or_default();
            (subject, body)
        })
        .collect();
    mails.sort();
    mails
}

async fn set_contact(server: &TestServer, who: &str, body: Value) -> Value {
    json_of(server.put(who, &format!("/api/v1/users/{who}/contact"), body).await, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_told_by_email_of_their_role_and_of_a_decision_waiting_on_them_once_each() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let server = spawn(&smtp_config(smtp.port)).await;
    let contact = set_contact(&server, LEGAL, json!({"email": "lee@example.test"})).await;
    assert_eq!(contact["routes"], json!(["email"]), "{contact:#}");

    let state = server.declare("Customer data on a paste site", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let role =
        eventually("legal to be told of the role", || async { mails_to(&smtp, "lee@example.test").into_iter().next() })
            .await;
    assert!(role.0.contains(incident) && role.1.contains("You hold the role legal"), "{role:#?}");
    let sent = server.entry(incident, "the alert to be recorded", |e| e["kind"] == "alert.sent").await;
    assert_eq!(sent["actor"], "system:alerts", "{sent:#}");
    assert_eq!(sent["body"]["person"], LEGAL);
    assert_eq!(sent["body"]["route"], "email");
    assert_eq!(sent["body"]["about"], json!(["role:legal"]));

    // A decision waits on legal; within a minute of the last mail it waits, then goes.
    let decisions = format!("/api/v1/incidents/{incident}/decisions");
    let body = json!({"class": "evidence_sharing", "title": "Share the paste with the hosting provider"});
    let decision = server.post_ok(RESPONDER, &decisions, body, StatusCode::CREATED).await;
    let did = decision["id"].as_str().expect("a decision id");
    assert!(server.alerts_due().is_empty(), "no second mail within the minute: {:?}", server.alerts_due());
    server.advance(61).await;
    let waiting = eventually("legal to be told the decision waits on them", || async {
        mails_to(&smtp, "lee@example.test").into_iter().find(|(_, body)| body.contains(did))
    })
    .await;
    assert!(waiting.1.contains("waits on your approval"), "{waiting:#?}");
    let link = waiting.1.split_whitespace().find(|w| w.contains("/r/")).expect("a review link in the mail");
    assert!(link.starts_with("http://") && link.contains(&format!("~{did}~{LEGAL}~")), "{link}");

    // Told once: nothing more is owed until the reminder time, however often the worker looks.
    server.advance(120).await;
    assert!(server.alerts_due().is_empty(), "{:?}", server.alerts_due());
    assert_eq!(mails_to(&smtp, "lee@example.test").len(), 2);
    // Past the policy's reminder time (30 minutes) the approval still owed is a reminder.
    server.advance(30 * 60).await;
    let reminder = eventually("legal to be reminded", || async {
        mails_to(&smtp, "lee@example.test").into_iter().find(|(_, body)| body.contains("Reminder:"))
    })
    .await;
    assert!(reminder.1.contains(did), "{reminder:#?}");
    // The person with no contact route is told nothing, and nothing is recorded for them.
    let record = server.record(incident).await;
    assert!(
        record.iter().filter(|e| e["kind"] == "alert.sent").all(|e| e["body"]["person"] == LEGAL),
        "only legal has a route"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn things_owed_at_once_go_in_one_message_and_a_muted_kind_is_not_sent() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let server = spawn(&smtp_config(smtp.port)).await;
    let state = server.declare("Stolen laptop with customer exports", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let tasks = format!("/api/v1/incidents/{incident}/tasks");
    for title in ["Collect the laptop's disk image", "Ask HR for the leaver's exit date"] {
        server.post_ok(COMMANDER, &tasks, json!({"title": title, "owner": LEGAL}), StatusCode::CREATED).await;
    }
    // Legal can be reached only now: all three are owed at once, the muted role is not sent.
    set_contact(&server, LEGAL, json!({"email": "lee@example.test", "mute": ["role"]})).await;
    let mail = eventually("legal to be told of the tasks", || async {
        mails_to(&smtp, "lee@example.test").into_iter().next()
    })
    .await;
    assert!(mail.0.contains("2 things for you"), "{mail:#?}");
    assert!(mail.1.contains("T-1") && mail.1.contains("T-2"), "{mail:#?}");
    assert!(!mail.1.contains("role legal"), "the role is muted: {mail:#?}");
    let sent = server.entry(incident, "the alert to be recorded", |e| e["kind"] == "alert.sent").await;
    assert_eq!(sent["body"]["about"], json!(["task:T-1", "task:T-2"]), "{sent:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_webhook_gets_a_signed_alert_and_a_failure_is_recorded_and_retried() {
    let receiver = Receiver::start().await;
    let server = spawn("").await;
    let contact = set_contact(&server, LEGAL, json!({"webhook": receiver.url("/pager")})).await;
    let secret = contact["webhook_secret"].as_str().expect("the person sees their webhook's secret").to_owned();
    // An admin sees the routes, not the secret; someone else sees nothing.
    let seen = server.get_json(crate::harness::ADMIN, &format!("/api/v1/users/{LEGAL}/contact")).await;
    assert!(seen.get("webhook_secret").is_none(), "{seen:#}");
    let other = server.request(reqwest::Method::GET, OUTSIDER, &format!("/api/v1/users/{LEGAL}/contact"));
    assert_eq!(other.send().await.expect("an answer").status(), StatusCode::FORBIDDEN);

    receiver.pager_secret(&secret);
    receiver.answer(&[503]);
    let state = server.declare("Phished payroll admin", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let failed = server.entry(incident, "the failed alert to be recorded", |e| e["kind"] == "alert.failed").await;
    assert_eq!(failed["body"]["retryable"], true, "{failed:#}");
    assert_eq!(failed["body"]["route"], "webhook");
    // After the backoff it is tried again and reaches them, signed with their secret.
    server.advance(3).await;
    let sent = server.entry(incident, "the alert to reach the webhook", |e| e["kind"] == "alert.sent").await;
    assert_eq!(sent["body"]["about"], json!(["role:legal"]), "{sent:#}");
    let delivered = receiver.deliveries("/pager");
    assert_eq!(delivered.iter().map(|d| d.status).collect::<Vec<_>>(), [503, 200], "{delivered:#?}");
    assert!(delivered.iter().all(|d| d.signed), "signed with the person's own secret");
    assert_eq!(delivered[1].body["items"][0]["key"], "role:legal", "{:#}", delivered[1].body);
    assert_eq!(delivered[0].idempotency_key, delivered[1].idempotency_key, "a retry carries the same key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_routes_refuse_bad_input_and_change_nothing() {
    let server = spawn("").await;
    let path = format!("/api/v1/users/{LEGAL}/contact");
    for (body, field) in [
        (json!({"email": "not an address"}), "email"),
        (json!({"email": "lee@example.test>, boss@example.test"}), "email"),
        (json!({"webhook": "ftp://pager.example.test/"}), "webhook"),
        (json!({"mute": ["everything"]}), "mute"),
        (json!({"phone": "+44"}), "phone"),
    ] {
        let answer = server.put(LEGAL, &path, body.clone()).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let problem: Value = answer.json().await.expect("a problem document");
        assert!(problem.to_string().contains(field), "{body}: {problem:#}");
    }
    let answer = server.put(OUTSIDER, &path, json!({"email": "otto@example.test"})).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "someone else's routes need an admin");
    let unchanged = server.get_json(LEGAL, &path).await;
    assert_eq!(unchanged["email"], Value::Null, "{unchanged:#}");
    set_contact(&server, LEGAL, json!({"email": "lee@example.test"})).await;
    let again = server.put(LEGAL, &path, json!({"email": "lee@example.test"})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "the same routes again change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commander_is_reminded_of_the_promised_update_and_subscribers_get_the_sitrep_on_its_cadence() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let server = spawn(&smtp_config(smtp.port)).await;
    let state = server.declare("Ransomware on the build farm", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    for who in [COMMANDER, OUTSIDER] {
        set_contact(&server, who, json!({"email": format!("{who}@example.test")})).await;
    }
    let path = format!("/api/v1/incidents/{incident}/next-update");
    // Bad promises change nothing.
    for (body, status) in [
        (json!({"next_at": "tomorrow"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"next_at": "2020-01-01T00:00:00Z"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"next_at": "2099-01-01T00:00:00Z", "subscribers": ["nobody"]}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        assert_eq!(server.put(COMMANDER, &path, body.clone()).await.status(), status, "{body}");
    }
    let refused = server.put(LEGAL, &path, json!({"next_at": "2099-01-01T00:00:00Z"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "only the commander promises updates");
    assert!(server.record(incident).await.iter().all(|e| e["kind"] != "update.scheduled"));

    let next_at = sitrep_testing::system_now().plus_seconds(20 * 60 + 30).to_string();
    let body = json!({"next_at": next_at, "every_minutes": 60, "subscribers": [OUTSIDER]});
    let promise = json_of(server.put(COMMANDER, &path, body).await, StatusCode::OK).await;
    assert_eq!((promise["every_minutes"].as_u64(), &promise["subscribers"]), (Some(60), &json!([OUTSIDER])));

    // Fifteen minutes before, the commander is reminded; nobody gets the digest yet.
    server.advance(5 * 60 + 31).await;
    let reminder = eventually("the commander to be reminded of the update", || async {
        mails_to(&smtp, "cmd@example.test").into_iter().find(|(_, body)| body.contains("next update"))
    })
    .await;
    assert!(reminder.1.contains(incident), "{reminder:#?}");
    assert!(mails_to(&smtp, "otto@example.test").is_empty());
    // At the promised time the subscriber gets the SITREP; an hour later, the next one.
    server.advance(15 * 60).await;
    let digest = eventually("the subscriber's digest", || async {
        mails_to(&smtp, "otto@example.test").into_iter().find(|(_, body)| body.contains("SITREP"))
    })
    .await;
    assert!(digest.1.contains("Ransomware on the build farm"), "{digest:#?}");
    server.advance(60 * 60).await;
    eventually("the second digest on the cadence", || async {
        (mails_to(&smtp, "otto@example.test").len() >= 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_waiting_on_legal_is_told_with_its_exact_text() {
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let server = spawn(&smtp_config(smtp.port)).await;
    let state = server.declare("Card data exposure", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    const TEXT: &str = "We are investigating unauthorised access to a payment system.\nNo card numbers were taken.";
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let draft = json!({"audience": "press", "title": "Holding statement", "text": TEXT});
    server.post_ok(crate::harness::COMMS, &at("/statements"), draft, StatusCode::CREATED).await;
    let body = json!({"class": "external_statement", "title": "Publish the holding statement", "statement": "ST-1"});
    server.post_ok(crate::harness::COMMS, &at("/decisions"), body, StatusCode::CREATED).await;
    set_contact(&server, LEGAL, json!({"email": "lee@example.test", "mute": ["role"]})).await;
    let mail = eventually("legal to be told of the statement", || async {
        mails_to(&smtp, "lee@example.test").into_iter().next()
    })
    .await;
    for line in TEXT.lines() {
        assert!(mail.1.contains(&format!("> {line}")), "the exact text, quoted: {mail:#?}");
    }
    assert!(mail.1.contains("/r/"), "with its review link: {mail:#?}");
}
