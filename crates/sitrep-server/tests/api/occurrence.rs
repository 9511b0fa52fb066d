//! When things happened, apart from when they were recorded: facts and notes take
//! `occurred_at` (a backfill needs `backfill_reason`), the incident its start, first sighting
//! and detection; the state, the SITREP and the report show both times, in occurrence order.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// RFC 3339, `minutes` before the server's clock.
fn ago(app: &TestApp, minutes: i64) -> String {
    let now: jiff::Timestamp = app.clock.now().to_string().parse().expect("a time");
    (now - jiff::SignedDuration::from_secs(minutes * 60)).to_string()
}

#[tokio::test]
async fn facts_notes_and_the_incident_carry_when_things_happened() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");

    let recent = app.post_ok(RESPONDER, &at("/facts"), json!({"text": "Key revoked"}), StatusCode::CREATED).await;
    assert_eq!(recent["occurred_at"], recent["logged_at"], "without a time it happened when logged");
    let when = ago(&app, 180);
    let body =
        json!({"text": "Key pushed to a public repository", "occurred_at": when, "backfill_reason": "git log time"});
    let fact = app.post_ok(RESPONDER, &at("/facts"), body, StatusCode::CREATED).await;
    assert_eq!(fact["id"], "F-2");
    assert_eq!(fact["backfill_reason"], "git log time");
    let occurred: jiff::Timestamp = fact["occurred_at"].as_str().expect("a time").parse().expect("rfc 3339");
    assert_eq!(occurred, when.parse::<jiff::Timestamp>().expect("rfc 3339"));
    assert_ne!(fact["occurred_at"], fact["logged_at"]);

    let body = json!({"text": "Customer reported odd logins", "occurred_at": ago(&app, 120), "backfill_reason": "ticket time"});
    let note = app.post_ok(RESPONDER, &at("/notes"), body, StatusCode::CREATED).await;
    assert_eq!(note["backfill_reason"], "ticket time");
    assert_ne!(note["occurred_at"], note["at"]);

    let body = json!({"started_at": ago(&app, 240), "first_seen_at": ago(&app, 180), "detected_at": ago(&app, 60),
                      "backfill_reason": "commit time; alert time; SOC ticket"});
    let state = app.post_ok(COMMANDER, &at("/occurrence"), body, StatusCode::OK).await;
    assert!(state["occurrence"]["started_at"].is_string() && state["occurrence"]["detected_at"].is_string(), "{state}");

    // The SITREP lists F-2 (happened first) before F-1, with both times, and the report's
    // timeline puts F-2 before the declaration it preceded.
    let sitrep = app.get_json(RESPONDER, &at("/sitrep")).await;
    let ids: Vec<&str> =
        sitrep["unverified_facts"].as_array().expect("facts").iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ["F-2", "F-1"]);
    assert!(sitrep["occurrence"]["first_seen_at"].is_string());
    let report = app.get_json(RESPONDER, &at("/report")).await;
    let timeline = report["timeline"].as_array().expect("timeline");
    let position = |pred: &dyn Fn(&Value) -> bool| timeline.iter().position(pred).expect("in the timeline");
    let f2 = position(&|l: &Value| l["what"].as_str().is_some_and(|w| w.contains("logged F-2")));
    let declared = position(&|l: &Value| l["kind"] == "incident.declared");
    assert!(f2 < declared, "{timeline:#?}");
    assert_ne!(timeline[f2]["occurred_at"], timeline[f2]["at"]);
}

#[tokio::test]
async fn bad_unauthorised_and_duplicate_occurrence_times_change_nothing() {
    let app = spawn_app().await;
    let id = app.standard_incident("Phishing", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
    let before = app.record(COMMANDER, &id).await.len();
    let refused = |body: Value, path: &'static str, who: &'static str, status: StatusCode| {
        let app = &app;
        let url = at(path);
        async move { problem(app.post(who, &url, body).await, status).await }
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    // A backfill without its reason, a reason without a time, a time in the future or not a time.
    let p = refused(json!({"text": "x", "occurred_at": ago(&app, 60)}), "/facts", RESPONDER, unprocessable).await;
    assert_eq!(p["field"], "backfill_reason", "{p}");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("needs a reason")), "{p}");
    let p = refused(json!({"text": "x", "backfill_reason": "why"}), "/facts", RESPONDER, unprocessable).await;
    assert_eq!(p["field"], "backfill_reason");
    let p = refused(
        json!({"text": "x", "occurred_at": ago(&app, -60), "backfill_reason": "w"}),
        "/notes",
        RESPONDER,
        unprocessable,
    )
    .await;
    assert_eq!(p["field"], "occurred_at");
    let p = refused(json!({"text": "x", "occurred_at": "yesterday"}), "/facts", RESPONDER, unprocessable).await;
    assert_eq!(p["field"], "occurred_at");
    let p = refused(
        json!({"started_at": ago(&app, 10), "detected_at": ago(&app, 20)}),
        "/occurrence",
        COMMANDER,
        unprocessable,
    )
    .await;
    assert_eq!(p["field"], "detected_at");
    let p = refused(json!({}), "/occurrence", COMMANDER, unprocessable).await;
    assert_eq!(p["field"], "started_at");
    // Unauthorised: the incident's times are the commander's to record.
    let p = refused(json!({"detected_at": ago(&app, 5)}), "/occurrence", RESPONDER, StatusCode::FORBIDDEN).await;
    assert_eq!(p["rule"], "actions.set_phase");
    assert_eq!(app.record(COMMANDER, &id).await.len(), before, "nothing was written");

    // Duplicate: the same times again change nothing.
    let body = json!({"detected_at": ago(&app, 5)});
    app.post_ok(COMMANDER, &at("/occurrence"), body.clone(), StatusCode::OK).await;
    refused(body, "/occurrence", COMMANDER, StatusCode::CONFLICT).await;
    assert_eq!(app.record(COMMANDER, &id).await.len(), before + 1);
}

#[tokio::test]
async fn the_command_view_lists_facts_by_when_they_happened_with_both_times() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
    app.post_ok(RESPONDER, &at("/facts"), json!({"text": "Key revoked"}), StatusCode::CREATED).await;
    let body = json!({"text": "Key pushed <early>", "occurred_at": ago(&app, 180), "backfill_reason": "git log"});
    app.post_ok(RESPONDER, &at("/facts"), body, StatusCode::CREATED).await;
    app.give_password(RESPONDER).await;
    let session = app.sign_in(RESPONDER, PASSWORD).await;
    let html = app
        .client
        .get(app.url(&format!("/incidents/{id}")))
        .header(reqwest::header::COOKIE, &session.cookie)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("html");
    let f2 = html.find("id=\"fact-F-2\"").expect("F-2 listed");
    let f1 = html.find("id=\"fact-F-1\"").expect("F-1 listed");
    assert!(f2 < f1, "F-2 happened first and is listed first");
    assert!(html.contains("(backfilled: git log)"), "{html}");
    assert!(html.contains("Key pushed &#60;early&#62;"), "escaped");
    assert!(html.contains("name=\"occurred_at\"") && html.contains("name=\"backfill_reason\""), "the form offers both");
}
