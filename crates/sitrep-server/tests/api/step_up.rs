//! Step-up over HTTP: a class that asks for a recent sign-in refuses tokens and stale sessions,
//! a page sends the person to sign in again and back to the decision, and the register shows
//! how each approver signed in.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::{Value, json};
use sitrep_core::policy::Policy;

use crate::helpers::*;

/// Recovery needs a sign-in within 15 minutes; external statements one with MFA as well.
async fn stepped_up(app: &TestApp) {
    let source = Policy::default_policy()
        .source
        .replacen("[classes.recovery]\n", "[classes.recovery]\nstep_up = { within_minutes = 15 }\n", 1)
        .replacen(
            "[classes.external_statement]\n",
            "[classes.external_statement]\nstep_up = { within_minutes = 15, mfa = true }\n",
            1,
        );
    let response = app
        .request(reqwest::Method::PUT, Some(ADMIN), "/api/v1/policy")
        .json(&json!({ "source": source }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);
}

fn session_post(app: &TestApp, session: &Session, path: &str, body: Value) -> reqwest::RequestBuilder {
    app.client.post(app.url(path)).header(COOKIE, &session.cookie).header("x-csrf-token", &session.csrf).json(&body)
}

#[tokio::test]
async fn a_step_up_class_refuses_tokens_and_stale_sessions_and_records_the_sign_in() {
    let app = spawn_app().await;
    let id = app.standard_incident("Ransomware on a file server", false).await;
    stepped_up(&app).await;
    let propose = json!({"class": "recovery", "title": "Restore from last night's backup"});

    // A token is no sign-in: refused, naming the rule, and nothing is written.
    let before = app.record(COMMANDER, &id).await.len();
    let refused = problem(
        app.post(TECH_LEAD, &format!("/api/v1/incidents/{id}/decisions"), propose.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["rule"], "classes.recovery.step_up", "{refused}");
    assert_eq!(app.record(COMMANDER, &id).await.len(), before);

    // From a fresh browser session it is proposed, and the entry says how.
    for name in [TECH_LEAD, COMMANDER] {
        app.give_password(name).await;
    }
    let tech = app.sign_in(TECH_LEAD, PASSWORD).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    let response = session_post(&app, &tech, &format!("/api/v1/incidents/{id}/decisions"), propose).send().await;
    let decision = json_of(response.expect("answers"), StatusCode::CREATED).await;
    let did = decision["id"].as_str().expect("an id").to_owned();

    // Sixteen minutes on, the commander's sign-in is too old to approve.
    app.clock.advance(16 * 60);
    let approve = format!("/api/v1/incidents/{id}/decisions/{did}/approve");
    let response = session_post(&app, &commander, &approve, json!({})).send().await.expect("answers");
    let refused = problem(response, StatusCode::FORBIDDEN).await;
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("16 minutes ago")), "{refused}");
    let fresh = app.sign_in(COMMANDER, PASSWORD).await;
    let response = session_post(&app, &fresh, &approve, json!({})).send().await.expect("answers");
    json_of(response, StatusCode::OK).await;

    let record = app.record(COMMANDER, &id).await;
    let approved = record.iter().rev().find(|e| e["kind"] == "decision.approved").expect("the approval");
    assert_eq!(approved["body"]["authentication"]["method"], "password", "{approved}");
    let csv = app.get(COMMANDER, &format!("/api/v1/incidents/{id}/decisions.csv")).await.text().await.expect("CSV");
    let approved_row = csv.lines().find(|l| l.contains("\"approved\",\"cmd\"")).expect("the approval's row");
    assert!(approved_row.contains("password, amr pwd, at "), "{approved_row}");
}

#[tokio::test]
async fn a_password_alone_is_not_the_second_factor_a_class_asks_for() {
    let app = spawn_app().await;
    let id = app.standard_incident("Data exposure", false).await;
    stepped_up(&app).await;
    let statement = app
        .post_ok(
            COMMS,
            &format!("/api/v1/incidents/{id}/statements"),
            json!({"audience": "press", "title": "Holding", "text": "We are investigating."}),
            StatusCode::CREATED,
        )
        .await;
    app.give_password(COMMS).await;
    let comms = app.sign_in(COMMS, PASSWORD).await;
    let body = json!({"class": "external_statement", "title": "publish", "statement": statement["id"]});
    let response = session_post(&app, &comms, &format!("/api/v1/incidents/{id}/decisions"), body).send().await;
    let refused = problem(response.expect("answers"), StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "classes.external_statement.step_up");
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("second")), "{refused}");
}

#[tokio::test]
async fn a_page_sends_a_stale_approver_to_sign_in_again_and_back_to_the_decision() {
    let app = spawn_app().await;
    let id = app.standard_incident("Ransomware on a file server", false).await;
    stepped_up(&app).await;
    app.give_password(TECH_LEAD).await;
    app.give_password(COMMANDER).await;
    let tech = app.sign_in(TECH_LEAD, PASSWORD).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    let propose = json!({"class": "recovery", "title": "Restore"});
    let response = session_post(&app, &tech, &format!("/api/v1/incidents/{id}/decisions"), propose).send().await;
    let did = json_of(response.expect("answers"), StatusCode::CREATED).await["id"].as_str().expect("id").to_owned();
    app.clock.advance(20 * 60);

    // The page still offers Approve (signing in again is all it takes) …
    let page = app.client.get(app.url(&format!("/incidents/{id}"))).header(COOKIE, &commander.cookie).send().await;
    let page = page.expect("answers").text().await.expect("html");
    assert!(page.contains(&format!("/incidents/{id}/decisions/{did}/approve")), "the approve form is offered");
    // … and using it leads to the sign-in page, which returns to the decision.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let form =
        form_urlencoded::Serializer::new(String::new()).extend_pairs([("csrf", commander.csrf.as_str())]).finish();
    let response = client
        .post(app.url(&format!("/incidents/{id}/decisions/{did}/approve")))
        .header(COOKIE, &commander.cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("a redirect").to_owned();
    assert_eq!(location, format!("/login?again=1&next=%2Fincidents%2F{id}%23decision-{did}"));
    let login = app.client.get(app.url(&location)).send().await.expect("answers").text().await.expect("html");
    assert!(login.contains("asks for a recent sign-in"), "{login}");
    assert!(login.contains(&format!("value=\"/incidents/{id}#decision-{did}\"")), "it returns to the decision");
    let state = app.state(COMMANDER, &id).await;
    let decision = state["decisions"].as_array().and_then(|d| d.iter().find(|d| d["id"] == did.as_str())).cloned();
    assert_eq!(decision.expect("the decision")["state"], "proposed", "nothing was approved on the way");
}
