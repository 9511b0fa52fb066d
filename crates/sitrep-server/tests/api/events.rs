//! Live events: Server-Sent Events, one per entry, `id:` = seq, resumable without gap or
//! duplicate.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn watch(app: &TestApp, who: &str, incident: &str, query: &str, last_event_id: Option<u64>) -> SseReader {
    let mut request = app.request(Method::GET, Some(who), &format!("/api/v1/incidents/{incident}/events{query}"));
    if let Some(seq) = last_event_id {
        request = request.header("Last-Event-ID", seq.to_string());
    }
    SseReader::new(request.send().await.expect("the server answers"))
}

/// Writes `n` facts, one after another.
async fn log_facts(app: &TestApp, incident: &str, n: usize, label: &str) {
    for i in 0..n {
        let body = json!({"text": format!("{label} {i}")});
        app.post_ok(TECH_LEAD, &format!("/api/v1/incidents/{incident}/facts"), body, StatusCode::CREATED).await;
    }
}

#[tokio::test]
async fn a_watcher_gets_every_entry_in_order_including_those_written_after_it_connected() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Live", false).await;
    let declared = app.record(COMMANDER, &incident).await.len() as u64;

    let mut watcher = watch(&app, EXECUTIVE, &incident, "?after=0", None).await;
    // Writers keep writing while the watcher reads.
    let writer = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/v1/incidents/{incident}/facts")),
            app.token(TECH_LEAD).to_owned(),
        );
        tokio::spawn(async move {
            for i in 0..30 {
                let response =
                    client.post(&url).bearer_auth(&token).json(&json!({"text": format!("live {i}")})).send().await;
                assert_eq!(response.expect("answers").status(), StatusCode::CREATED);
            }
        })
    };
    let last = declared + 30;
    let mut events = Vec::new();
    while events.last().is_none_or(|e: &SseEvent| e.seq() < last) {
        events.push(watcher.next().await.expect("the stream stays open"));
    }
    writer.await.expect("the writer finishes");
    let seqs: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "every entry once, in order");

    // Each event is the entry exactly as the record holds it.
    let record = app.record(COMMANDER, &incident).await;
    for (event, entry) in events.iter().zip(&record) {
        assert_eq!(&event.entry(), entry, "event {} carries the entry", event.seq());
    }
    assert_chain(&events.iter().map(SseEvent::entry).collect::<Vec<_>>());
    assert!(watcher.next_within(Duration::from_millis(200)).await.is_none(), "nothing more until something is written");
}

#[tokio::test]
async fn after_zero_replays_the_record_and_without_it_only_new_entries_come() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Replay", false).await;
    log_facts(&app, &incident, 3, "before").await;
    let head = app.record(COMMANDER, &incident).await.len() as u64;

    let mut replay = watch(&app, COMMANDER, &incident, "?after=0", None).await;
    let mut fresh = watch(&app, COMMANDER, &incident, "", None).await;
    let mut from_five = watch(&app, COMMANDER, &incident, "?after=5", None).await;
    assert_eq!(replay.seqs_until(head).await, (1..=head).collect::<Vec<_>>(), "?after=0 replays everything");
    assert_eq!(from_five.seqs_until(head).await, (6..=head).collect::<Vec<_>>(), "?after=5 starts at 6");

    log_facts(&app, &incident, 2, "after").await;
    assert_eq!(fresh.seqs_until(head + 2).await, [head + 1, head + 2], "a plain watcher sees only new entries");
    assert_eq!(replay.seqs_until(head + 2).await, [head + 1, head + 2], "and a replaying one goes on live");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_the_rest_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Resume", false).await;
    let mut watcher = watch(&app, RESPONDER, &incident, "?after=0", None).await;
    log_facts(&app, &incident, 4, "first").await;
    let head = app.record(COMMANDER, &incident).await.len() as u64;
    // The watcher reads part of it, then the connection drops.
    let seen = 10;
    assert_eq!(watcher.seqs_until(seen).await, (1..=seen).collect::<Vec<_>>());
    drop(watcher);

    // More is written while nobody watches.
    log_facts(&app, &incident, 5, "while away").await;
    let mut resumed = watch(&app, RESPONDER, &incident, "", Some(seen)).await;
    // And more after it reconnects.
    log_facts(&app, &incident, 3, "after").await;
    let last = head + 8;
    assert_eq!(resumed.seqs_until(last).await, (seen + 1..=last).collect::<Vec<_>>(), "exactly the rest");
    assert!(resumed.next_within(Duration::from_millis(200)).await.is_none(), "and no duplicate after it");

    // Last-Event-ID wins over ?after, and must be a seq.
    let mut both = watch(&app, RESPONDER, &incident, "?after=0", Some(last - 1)).await;
    assert_eq!(both.next().await.expect("an event").seq(), last);
    let response = app
        .request(Method::GET, Some(RESPONDER), &format!("/api/v1/incidents/{incident}/events"))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("the server answers");
    let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["field"], "Last-Event-ID");
}

#[tokio::test]
async fn outsiders_get_404_for_the_events_of_a_restricted_incident_and_released_participants_stop_receiving() {
    let mut app = spawn_app().await;
    let incident = app.standard_incident("Need to know", true).await;
    for who in [ADMIN, OUTSIDER, VIEWER, AUDITOR] {
        let response = app.get(who, &format!("/api/v1/incidents/{incident}/events?after=0")).await;
        problem(response, StatusCode::NOT_FOUND).await;
    }
    let mut responder = watch(&app, RESPONDER, &incident, "?after=0", None).await;
    let mut commander = watch(&app, COMMANDER, &incident, "?after=0", None).await;
    let head = app.record(COMMANDER, &incident).await.len() as u64;
    assert_eq!(responder.seqs_until(head).await.len() as u64, head, "a participant watches");
    commander.seqs_until(head).await;

    // Released from every role, the responder is no longer told anything.
    for role in ["responder", "scribe"] {
        json_of(
            app.delete(COMMANDER, &format!("/api/v1/incidents/{incident}/roles/{role}/{RESPONDER}")).await,
            StatusCode::OK,
        )
        .await;
    }
    log_facts(&app, &incident, 1, "secret").await;
    let mut leaked = Vec::new();
    while let Some(event) = responder.next_within(Duration::from_secs(2)).await {
        leaked.push(event.entry());
    }
    assert!(
        leaked.iter().all(|entry| entry["kind"] != "fact.logged"),
        "a released participant's stream ends before anything written after their release: {leaked:?}"
    );
    problem(app.get(RESPONDER, &format!("/api/v1/incidents/{incident}/events")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(commander.seqs_until(head + 3).await, [head + 1, head + 2, head + 3], "participants carry on");

    // Stopping the server ends the streams still open, so shutdown does not hang on them.
    app.stop().await;
    assert!(commander.next_within(Duration::from_secs(5)).await.is_none(), "the stream ends at shutdown");
}

/// Opens a watcher of new entries on a restricted incident with `request`, ends the watcher's
/// right to it with `end`, then has the commander log a fact: the stream must end without
/// delivering it. Entries written while the watcher was still allowed may come first.
async fn ends_without_delivering(
    app: &TestApp,
    incident: &str,
    request: reqwest::RequestBuilder,
    end: impl std::future::Future<Output = ()>,
) {
    let mut watcher = SseReader::new(request.send().await.expect("the server answers"));
    log_facts(app, incident, 1, "still allowed").await;
    let seen = watcher.next().await.expect("an allowed watcher gets new entries");
    assert_eq!(seen.entry()["kind"], "fact.logged");
    end.await;
    log_facts(app, incident, 2, "after the credential ended").await;
    // `next` fails the test if the stream neither ends nor sends within its patience.
    while let Some(event) = watcher.next().await {
        let entry = event.entry();
        assert_ne!(entry["kind"], "fact.logged", "nothing written after the credential ended arrives: {entry}");
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Restricted live", true).await;
    let minted = app.post_ok(RESPONDER, "/api/v1/users/resp/tokens", json!({}), StatusCode::CREATED).await;
    let (token, id) = (minted["token"].as_str().expect("a token"), minted["id"].as_str().expect("an id"));
    let request = app.client.get(app.url(&format!("/api/v1/incidents/{incident}/events"))).bearer_auth(token);
    let revoke = async {
        let path = format!("/api/v1/users/resp/tokens/{id}");
        let response = app.request(Method::DELETE, Some(ADMIN), &path).send().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
    };
    ends_without_delivering(&app, &incident, request, revoke).await;
}

#[tokio::test]
async fn a_stream_ends_when_its_session_signs_out() {
    let app = spawn_app().await;
    app.give_password(RESPONDER).await;
    let incident = app.standard_incident("Restricted live", true).await;
    let session = app.sign_in(RESPONDER, PASSWORD).await;
    let request = app
        .client
        .get(app.url(&format!("/api/v1/incidents/{incident}/events")))
        .header(reqwest::header::COOKIE, &session.cookie);
    let sign_out = async {
        let response = app
            .client
            .delete(app.url("/api/v1/session"))
            .header(reqwest::header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    };
    ends_without_delivering(&app, &incident, request, sign_out).await;
}

#[tokio::test]
async fn a_stream_ends_when_its_user_is_disabled() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Restricted live", true).await;
    let request = app.request(Method::GET, Some(RESPONDER), &format!("/api/v1/incidents/{incident}/events"));
    let disable = async {
        app.post_ok(ADMIN, "/api/v1/users/resp/disable", json!({"reason": "left the company"}), StatusCode::OK).await;
    };
    ends_without_delivering(&app, &incident, request, disable).await;
}
