//! The `webhook` connector, driven by the leaked-secret playbook: the pre-approved revocation
//! reaches a receiver that checks its signature, retries cause one effect, a refusal is final
//! until a permitted person retries, an exercise sends nothing, and an unconfigured destination
//! is named.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sitrep_server::connectors::KEEP;

use crate::harness::{
    COMMANDER, KEY_ID, OUTSIDER, RESPONDER, TestServer, action, action_entries, action_reaches, assert_chain,
    assert_idempotency_key, decision_of_class, eventually, kinds_and_attempts, spawn,
};
use crate::receiver::{HUGE_BYTES, Receiver, SECRET};

const IAM: &str = "/hook/cloud-iam";

/// The configuration of a server whose `cloud-iam` destination and incident channel are this
/// receiver.
fn config(receiver: &Receiver) -> String {
    format!(
        r#"
[destinations.cloud-iam]
url = "{iam}"
secret = "{SECRET}"
timeout_secs = 5

[channels.incident-channel]
kind = "slack"
url = "{slack}"
"#,
        iam = receiver.url(IAM),
        slack = receiver.url("/slack"),
    )
}

/// Declares the leaked-secret incident; its id, UUID and the pre-approved revocation's id.
async fn leaked_key(server: &TestServer, exercise: bool) -> (String, String, String) {
    let state = server.declare_leaked_key(exercise).await;
    let incident = state["id"].as_str().expect("an incident id").to_owned();
    let uuid = state["uuid"].as_str().expect("the incident's UUID").to_owned();
    let revocation = decision_of_class(&state, "credential_revocation");
    let did = revocation["id"].as_str().expect("a decision id").to_owned();
    (incident, uuid, did)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaked_secret_playbook_sends_its_preapproved_revocation_as_a_signed_webhook() {
    let receiver = Receiver::start().await;
    let server = spawn(&config(&receiver)).await;
    let (incident, uuid, did) = leaked_key(&server, false).await;

    let done = action_reaches(&server, &incident, &did, 1, "succeeded").await;

    // The receiver got one signed POST, with the key, the filled-in payload and who approved it.
    let got = receiver.deliveries(IAM);
    assert_eq!(got.len(), 1, "one request reached the receiver: {got:#?}");
    let delivery = &got[0];
    assert!(delivery.signed, "the HMAC over \"t.body\" verifies with the configured secret");
    let key = delivery.idempotency_key.as_deref().expect("an Idempotency-Key header");
    assert_idempotency_key(key, &uuid, &did, 1);
    assert_eq!(delivery.body["idempotency_key"], key, "the body repeats the key");
    assert_eq!(
        delivery.body["payload"],
        json!({"operation": "deactivate_access_key", "key_id": KEY_ID, "provider": "AWS"}),
        "the playbook's payload, with its inputs filled in"
    );
    assert_eq!(delivery.body["incident"], incident);
    assert_eq!(delivery.body["decision"], did);
    assert_eq!(delivery.body["playbook"]["playbook"], "leaked-secret", "the receiver sees which playbook approved it");
    assert_eq!(delivery.body["exercise"], false);
    assert_eq!(receiver.effects(), [key], "the work was done once");

    // The record: started, then succeeded with what the receiver answered, by the worker.
    let entries = server.record(&incident).await;
    assert_chain(&entries);
    let runs = action_entries(&entries, &did, 1);
    assert_eq!(
        kinds_and_attempts(&runs),
        [("action.started".to_owned(), 1), ("action.succeeded".to_owned(), 1)],
        "{runs:#?}"
    );
    assert!(runs.iter().all(|e| e["actor"] == "system:worker"), "the worker records its runs: {runs:#?}");
    let detail = runs[1]["body"]["detail"].as_str().expect("the receiver's answer is recorded");
    assert!(detail.starts_with("HTTP 200") && detail.contains(KEY_ID), "status and body kept: {detail}");
    assert_eq!(done["detail"], detail, "the state shows the same answer");

    // The decision cites the playbook that pre-approved it: id, version, file hash, approver.
    let playbook = server.get_json(COMMANDER, "/api/v1/playbooks/leaked-secret").await;
    let proposed = entries
        .iter()
        .find(|e| e["kind"] == "decision.proposed" && e["body"]["decision"] == did)
        .expect("the revocation's entry");
    assert_eq!(proposed["body"]["state"], "approved", "approved the moment the playbook started");
    let citation = &proposed["body"]["playbook"];
    assert_eq!(citation["playbook"], "leaked-secret");
    assert_eq!(citation["version"], playbook["version"]);
    assert_eq!(citation["sha256"], playbook["sha256"]);
    assert_eq!(citation["approved_by"], playbook["approved_by"]);
    assert!(
        entries.iter().any(|e| e["kind"] == "playbook.started" && e["body"]["sha256"] == playbook["sha256"]),
        "the start of the playbook is in the record"
    );

    // Its steps are tasks, with inputs filled in; its step decision is proposed.
    let state = server.state(&incident).await;
    let tasks = state["tasks"].as_array().expect("tasks");
    assert_eq!(Some(tasks.len() as u64), playbook["steps"].as_u64(), "one task per step: {tasks:#?}");
    assert!(tasks.iter().any(|t| t["title"].as_str().is_some_and(|t| t.contains(KEY_ID))), "{tasks:#?}");
    assert!(
        tasks.iter().all(|t| t["title"].as_str().is_some_and(|t| !t.contains('{')) && t["owner"].is_string()),
        "every task is filled in and owned: {tasks:#?}"
    );
    let statement = decision_of_class(&state, "external_statement");
    assert_eq!(statement["state"], "proposed", "the step's decision waits for legal and comms: {statement:#}");

    // The notify action told the incident channel.
    let told = action_reaches(&server, &incident, &did, 2, "succeeded").await;
    assert!(told["detail"].as_str().is_some_and(|d| d.contains("incident-channel")), "{told:#}");
    let slack = receiver.deliveries("/slack");
    assert!(
        slack.iter().any(|d| d.body["text"].as_str().is_some_and(|t| t.contains(KEY_ID) && t.contains(&did))),
        "the channel heard of the revocation: {slack:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_sees_three_attempts_with_one_key_and_does_the_work_once() {
    let receiver = Receiver::start().await;
    receiver.answer(&[503, 503]);
    let server = spawn(&config(&receiver)).await;
    let (incident, uuid, did) = leaked_key(&server, false).await;

    for (attempt, backoff) in [(1, 2), (2, 4)] {
        let failed = server
            .entry(&incident, &format!("attempt {attempt} to fail"), |e| {
                e["kind"] == "action.failed" && e["body"]["decision"] == did && e["body"]["attempt"] == attempt
            })
            .await;
        assert_eq!(failed["body"]["retryable"], true, "a 503 is retried: {failed:#}");
        assert!(failed["body"]["reason"].as_str().is_some_and(|r| r.starts_with("HTTP 503")), "{failed:#}");
        assert_eq!(failed["actor"], "system:worker");
        // The next attempt waits 2 s, then 4 s: the server's clock moves past it.
        server.advance(backoff).await;
    }
    action_reaches(&server, &incident, &did, 1, "succeeded").await;

    let runs = action_entries(&server.record(&incident).await, &did, 1);
    let expected: Vec<(String, u64)> = [
        ("action.started", 1),
        ("action.failed", 1),
        ("action.started", 2),
        ("action.failed", 2),
        ("action.started", 3),
        ("action.succeeded", 3),
    ]
    .into_iter()
    .map(|(kind, attempt)| (kind.to_owned(), attempt))
    .collect();
    assert_eq!(kinds_and_attempts(&runs), expected, "{runs:#?}");

    let got = receiver.deliveries(IAM);
    assert_eq!(got.iter().map(|d| d.status).collect::<Vec<_>>(), [503, 503, 200], "three attempts: {got:#?}");
    assert!(got.iter().all(|d| d.signed), "every attempt is signed");
    let key = got[0].idempotency_key.clone().expect("an Idempotency-Key header");
    assert_idempotency_key(&key, &uuid, &did, 1);
    assert!(got.iter().all(|d| d.idempotency_key.as_ref() == Some(&key)), "every attempt carries the same key");
    assert_eq!(receiver.effects(), [key], "one effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_out_their_backoff_and_stop_after_six_attempts() {
    let receiver = Receiver::start().await;
    receiver.answer(&[503; 10]);
    let server = spawn(&config(&receiver)).await;
    let (incident, _, did) = leaked_key(&server, false).await;

    for (attempt, backoff) in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64)] {
        server
            .entry(&incident, &format!("attempt {attempt} to fail"), |e| {
                e["kind"] == "action.failed" && e["body"]["decision"] == did && e["body"]["attempt"] == attempt
            })
            .await;
        if attempt == 1 {
            // One second short of the backoff, nothing is sent again.
            server.advance(backoff - 1).await;
            assert_eq!(server.actions_due(), vec![], "no retry is due before its backoff has passed");
            assert_eq!(receiver.deliveries(IAM).len(), 1, "no retry before its backoff has passed");
            server.advance(1).await;
        } else {
            server.advance(backoff).await;
        }
    }
    let gave_up = action_reaches(&server, &incident, &did, 1, "failed").await;
    assert_eq!(gave_up["retryable"], false, "the sixth failure is final: {gave_up:#}");
    assert_eq!(gave_up["attempts"], 6);
    assert!(gave_up["last_error"].as_str().is_some_and(|e| e.contains("gave up after 6 attempts")), "{gave_up:#}");
    assert_eq!(server.actions_due(), vec![], "nothing is due after the sixth failure");
    assert_eq!(receiver.deliveries(IAM).len(), 6, "six attempts, then it waits for a person");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_until_a_permitted_person_retries_it() {
    let receiver = Receiver::start().await;
    receiver.answer(&[400]);
    let server = spawn(&config(&receiver)).await;
    let (incident, _, did) = leaked_key(&server, false).await;

    let failed = action_reaches(&server, &incident, &did, 1, "failed").await;
    assert_eq!(failed["retryable"], false, "a 4xx answer is not retried: {failed:#}");
    assert!(failed["last_error"].as_str().is_some_and(|e| e.contains("HTTP 400")), "{failed:#}");
    // Long past any backoff, nothing more is sent.
    server.advance(3600).await;
    assert_eq!(server.actions_due(), vec![], "a final failure is not due again");
    assert_eq!(receiver.deliveries(IAM).len(), 1, "a final failure is not retried by itself");

    let retry = format!("/api/v1/incidents/{incident}/decisions/{did}/actions/1/retry");
    for who in [RESPONDER, OUTSIDER] {
        let refused = server.post(who, &retry, json!({})).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{who} may not retry: {:?}", refused.text().await);
    }
    assert_eq!(action(&server.state(&incident).await, &did, 1)["status"], "failed", "a refused retry changes nothing");

    server.post_ok(COMMANDER, &retry, json!({}), StatusCode::OK).await;
    let done = action_reaches(&server, &incident, &did, 1, "succeeded").await;
    assert_eq!(done["attempts"], 2, "{done:#}");

    let entries = server.record(&incident).await;
    let runs = action_entries(&entries, &did, 1);
    let kinds: Vec<&str> = runs.iter().map(|e| e["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        kinds,
        ["action.started", "action.failed", "action.retry_requested", "action.started", "action.succeeded"]
    );
    assert_eq!(runs[2]["actor"], COMMANDER, "the retry is the commander's entry");
    let got = receiver.deliveries(IAM);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].idempotency_key, got[1].idempotency_key, "a retry by hand carries the same key");
    assert_eq!(receiver.effects().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exercise_sends_nothing_and_records_what_it_would_have_sent() {
    let receiver = Receiver::start().await;
    let server = spawn(&config(&receiver)).await;
    let (incident, _, did) = leaked_key(&server, true).await;

    let dry = action_reaches(&server, &incident, &did, 1, "succeeded").await;
    let detail = dry["detail"].as_str().expect("a detail");
    assert!(
        detail.contains("exercise") && detail.contains("nothing was sent") && detail.contains("cloud-iam"),
        "{detail}"
    );
    action_reaches(&server, &incident, &did, 2, "succeeded").await;
    // Every notification owed is settled too (as dry runs).
    let state = eventually("every notification of the exercise to be settled", || async {
        let state = server.state(&incident).await;
        let pending = state["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["notices"].as_array().cloned().unwrap_or_default())
            .any(|n| n["status"] == "pending");
        (!pending).then_some(state)
    })
    .await;
    assert_eq!(state["exercise"], true);
    let entries = server.record(&incident).await;
    let delivered: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "notification.delivered").collect();
    assert!(!delivered.is_empty(), "the notifier recorded its dry runs");
    assert!(
        delivered.iter().all(|e| e["body"]["detail"].as_str().is_some_and(|d| d.contains("exercise"))),
        "each says it was a dry run: {delivered:#?}"
    );
    assert!(receiver.all_deliveries().is_empty(), "nothing left the server: {:#?}", receiver.all_deliveries());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_destination_or_channel_is_a_final_failure_that_names_it() {
    let server = spawn("").await;
    let (incident, _, did) = leaked_key(&server, false).await;

    let webhook = action_reaches(&server, &incident, &did, 1, "failed").await;
    assert_eq!(webhook["retryable"], false, "{webhook:#}");
    assert!(webhook["last_error"].as_str().is_some_and(|e| e.contains("'cloud-iam'")), "{webhook:#}");
    let notify = action_reaches(&server, &incident, &did, 2, "failed").await;
    assert_eq!(notify["retryable"], false, "{notify:#}");
    assert!(notify["last_error"].as_str().is_some_and(|e| e.contains("'incident-channel'")), "{notify:#}");

    let failed = server
        .entry(&incident, "the notifier to record the missing channel", |e| {
            e["kind"] == "notification.failed" && e["body"]["decision"] == did
        })
        .await;
    assert_eq!(failed["actor"], "system:notifier");
    assert_eq!(failed["body"]["channel"], "incident-channel");
    assert_eq!(failed["body"]["retryable"], false, "{failed:#}");
    assert!(failed["body"]["reason"].as_str().is_some_and(|r| r.contains("'incident-channel'")), "{failed:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_so_the_signed_body_goes_only_where_the_admin_pointed_it() {
    let receiver = Receiver::start().await;
    let config = config(&receiver).replace(&receiver.url(IAM), &receiver.url("/moved"));
    let server = spawn(&config).await;
    let (incident, _, did) = leaked_key(&server, false).await;

    let failed = action_reaches(&server, &incident, &did, 1, "failed").await;
    assert!(failed["last_error"].as_str().is_some_and(|e| e.starts_with("HTTP 307")), "{failed:#}");
    assert_eq!(failed["retryable"], false, "a redirect will not go away by itself: {failed:#}");
    assert_eq!(receiver.deliveries("/moved").len(), 1);
    assert!(receiver.deliveries(IAM).is_empty(), "the redirect's target got nothing");
}

/// The document a receiver gets says which attempt it is; it should agree with the record.
///
/// Fails today: `connectors/mod.rs` builds the document (`action_document`) before it records
/// `action.started`, so `"attempt"` is the number of attempts *before* this one: a receiver is
/// told 0 on the first attempt, which the record calls attempt 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_number_a_receiver_is_told_is_the_one_in_the_record() {
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let server = spawn(&config(&receiver)).await;
    let (incident, _, did) = leaked_key(&server, false).await;
    server.entry(&incident, "the first attempt to fail", |e| e["kind"] == "action.failed").await;
    server.advance(2).await;
    action_reaches(&server, &incident, &did, 1, "succeeded").await;

    let recorded: Vec<u64> = action_entries(&server.record(&incident).await, &did, 1)
        .iter()
        .filter(|e| e["kind"] == "action.started")
        .filter_map(|e| e["body"]["attempt"].as_u64())
        .collect();
    assert_eq!(recorded, [1, 2]);
    let told: Vec<Value> = receiver.deliveries(IAM).iter().map(|d| d.body["attempt"].clone()).collect();
    assert_eq!(told, [json!(1), json!(2)], "the receiver is told the attempt numbers the record gives");
}

/// A receiver's answer is kept only in part in the record; the rest is never read, so an answer
/// without end costs the server nothing (here 256 MiB to the webhook and to the Slack channel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_read_only_as_far_as_the_record_keeps_it() {
    let receiver = Receiver::start().await;
    let server = spawn(&format!(
        r#"
[destinations.cloud-iam]
url = "{huge}"
secret = "{SECRET}"
timeout_secs = 60

[channels.incident-channel]
kind = "slack"
url = "{huge}"
timeout_secs = 60
"#,
        huge = receiver.url("/huge"),
    ))
    .await;
    let (incident, _, did) = leaked_key(&server, false).await;

    let kept = format!("HTTP 200: {}…", "ü".repeat(KEEP));
    let revoked = action_reaches(&server, &incident, &did, 1, "succeeded").await;
    assert_eq!(revoked["detail"], kept.as_str(), "the first KEEP characters, whole, and a mark that more came");
    action_reaches(&server, &incident, &did, 2, "succeeded").await;
    let told = server
        .entry(&incident, "the incident channel to be told of the decision", |e| {
            e["kind"] == "notification.delivered" && e["body"]["channel"] == "incident-channel"
        })
        .await;
    assert_eq!(told["body"]["detail"], kept.as_str(), "{told:#}");

    // Every answer begun was stopped by the reader going away, long before its end.
    let answers = eventually("the receiver to see each reader go away", || async {
        let answers = receiver.huge_answers();
        answers.iter().all(|a| a.ended.load(Ordering::SeqCst)).then_some(answers)
    })
    .await;
    assert!(answers.len() >= 2, "the webhook and the channel were answered: {answers:?}");
    for answer in &answers {
        let sent = answer.sent.load(Ordering::SeqCst);
        assert!(!answer.finished.load(Ordering::SeqCst), "an answer was read to its end ({sent} bytes)");
        assert!(sent < 32 * 1024 * 1024, "{sent} bytes of {HUGE_BYTES} were taken from the receiver");
    }
}
