//! The post-incident review: lessons turned into control changes, completing it, closing only
//! after it, and control changes tracked across incidents after they close.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Records a lesson with one control change (owned by the tech lead) and completes the review,
/// as the commander, so that `incident` may close.
pub(crate) async fn complete_review(app: &TestApp, incident: &str) {
    let at = |path: &str| format!("/api/v1/incidents/{incident}/review{path}");
    let lesson = json!({"what_happened": "A key leaked", "why": "long-lived keys", "change": "short-lived keys"});
    let lesson = app.post_ok(COMMANDER, &at("/lessons"), lesson, StatusCode::CREATED).await;
    let change = json!({"lesson": lesson["id"], "title": "Rotate keys daily", "owner": TECH_LEAD,
        "due": in_days(60), "csf": "PR.AA-05"});
    app.post_ok(COMMANDER, &at("/control-changes"), change, StatusCode::CREATED).await;
    app.post_ok(COMMANDER, &at("/complete"), json!({"summary": "Contained in an hour."}), StatusCode::OK).await;
}

/// Settles what closing needs besides the review: every open or blocked task done, every
/// proposed decision withdrawn by the commander; then completes the review.
pub(crate) async fn ready_to_close(app: &TestApp, incident: &str) {
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let state = app.state(COMMANDER, incident).await;
    let items = |name: &str| state[name].as_array().cloned().unwrap_or_default();
    for task in items("tasks").iter().filter(|t| t["state"] == "open" || t["state"] == "blocked") {
        let id = task["id"].as_str().expect("a task id");
        app.post_ok(COMMANDER, &at(&format!("/tasks/{id}/done")), json!({}), StatusCode::OK).await;
    }
    for decision in items("decisions").iter().filter(|d| d["state"] == "proposed") {
        let id = decision["id"].as_str().expect("a decision id");
        app.post_ok(COMMANDER, &at(&format!("/decisions/{id}/withdraw")), json!({}), StatusCode::OK).await;
    }
    complete_review(app, incident).await;
}

async fn close(app: &TestApp, incident: &str) -> Value {
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let decision = app
        .post_ok(COMMANDER, &at("/decisions"), json!({"class": "close", "title": "Done"}), StatusCode::CREATED)
        .await;
    let id = decision["id"].as_str().expect("a decision id").to_owned();
    app.post_ok(EXECUTIVE, &at(&format!("/decisions/{id}/approve")), json!({}), StatusCode::OK).await
}

#[tokio::test]
async fn an_incident_closes_only_after_its_review_and_control_changes_are_tracked_after_it_closes() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Reviewed", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");

    // Without a review, closing is refused and says what is missing.
    let refused = problem(
        app.post(COMMANDER, &at("/decisions"), json!({"class": "close", "title": "Done"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["detail"].as_str().expect("detail").contains("the post-incident review is not complete"),
        "{refused}"
    );

    // A lesson without a control change does not complete the review.
    let lesson = json!({"what_happened": "Phish got through", "why": "no DMARC", "change": "enforce DMARC"});
    let lesson = app.post_ok(COMMANDER, &at("/review/lessons"), lesson, StatusCode::CREATED).await;
    assert_eq!(lesson["id"], "L-1");
    let early =
        problem(app.post(COMMANDER, &at("/review/complete"), json!({"summary": "x"})).await, StatusCode::CONFLICT)
            .await;
    assert!(early["detail"].as_str().expect("detail").contains("L-1 has none yet"), "{early}");

    // Control changes need a real CSF 2.0 subcategory and an active owner.
    let change = |csf: &str, owner: &str| json!({"lesson": "L-1", "title": "Enforce DMARC p=reject", "owner": owner, "due": in_days(60), "csf": csf});
    let bad = problem(
        app.post(COMMANDER, &at("/review/control-changes"), change("PR.AA-5", TECH_LEAD)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["field"], "csf");
    // Well formed but not in the framework: PR.AA ends at PR.AA-06.
    for unknown in ["XX.AA-05", "PR.AA-07"] {
        let bad = problem(
            app.post(COMMANDER, &at("/review/control-changes"), change(unknown, TECH_LEAD)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(bad["field"], "csf", "{unknown}");
    }
    let bad = problem(
        app.post(COMMANDER, &at("/review/control-changes"), change("PR.AA-05", "nobody")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["field"], "owner");
    // Only the review's roles record it.
    problem(
        app.post(LEGAL, &at("/review/control-changes"), change("PR.AA-05", TECH_LEAD)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let planned = app
        .post_ok(COMMANDER, &at("/review/control-changes"), change("PR.DS-01", TECH_LEAD), StatusCode::CREATED)
        .await;
    assert_eq!(
        (planned["id"].as_str(), planned["csf"].as_str(), planned["state"].as_str()),
        (Some("CC-1"), Some("PR.DS-01"), Some("open"))
    );

    app.post_ok(COMMANDER, &at("/review/complete"), json!({"summary": "Phishing contained."}), StatusCode::OK).await;
    let again = problem(
        app.post(COMMANDER, &at("/review/lessons"), json!({"what_happened": "a", "why": "b", "change": "c"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(again["detail"].as_str().expect("detail").contains("it is final"), "{again}");

    close(&app, &incident).await;
    assert_eq!(app.state(COMMANDER, &incident).await["phase"], "closed");

    // The change is tracked organisation-wide after close; its owner marks it done.
    let open = app.get_json(TECH_LEAD, "/api/v1/control-changes").await;
    let rows = open["control_changes"].as_array().expect("a list");
    assert!(rows.iter().any(|c| c["incident"] == incident.as_str() && c["id"] == "CC-1"), "{open}");
    problem(app.post(LEGAL, &at("/review/control-changes/CC-1/done"), json!({})).await, StatusCode::FORBIDDEN).await;
    let done = app
        .post_ok(
            TECH_LEAD,
            &at("/review/control-changes/CC-1/done"),
            json!({"note": "p=reject everywhere"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(done["state"], "done");
    let open = app.get_json(TECH_LEAD, "/api/v1/control-changes").await;
    assert!(!open["control_changes"].as_array().expect("a list").iter().any(|c| c["incident"] == incident.as_str()));
    let all = app.get_json(TECH_LEAD, "/api/v1/control-changes?state=done").await;
    assert!(all["control_changes"].as_array().expect("a list").iter().any(|c| c["incident"] == incident.as_str()));
    problem(app.get(TECH_LEAD, "/api/v1/control-changes?state=maybe").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Anything else on the closed incident stays refused.
    problem(app.post(COMMANDER, &at("/facts"), json!({"text": "late"})).await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn control_changes_of_a_restricted_incident_are_listed_only_to_its_participants() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Insider", true).await;
    complete_review(&app, &incident).await;
    let mine = app.get_json(COMMANDER, "/api/v1/control-changes").await;
    assert!(mine["control_changes"].as_array().expect("a list").iter().any(|c| c["incident"] == incident.as_str()));
    let theirs = app.get_json(OUTSIDER, "/api/v1/control-changes").await;
    assert!(
        !theirs["control_changes"].as_array().expect("a list").iter().any(|c| c["incident"] == incident.as_str()),
        "{theirs}"
    );
}
