//! One commander at a time: assigning `commander` while someone holds it is refused, and a
//! hand-over moves command in one entry that the state, the SITREP and the record show.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn command_changes_hands_only_by_a_hand_over() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");

    // A second commander used to be assigned silently; now it is 409 naming the rule.
    let refused = problem(
        app.post(COMMANDER, &at("/roles"), json!({"role": "commander", "user": TECH_LEAD})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let detail = refused["detail"].as_str().expect("detail");
    assert!(detail.starts_with("one commander at a time: cmd commands"), "{detail}");
    assert!(detail.contains(&format!("POST /api/v1/incidents/{id}/handover")), "{detail}");
    let seq = app.record(COMMANDER, &id).await.len();

    let state = app
        .post_ok(COMMANDER, &at("/handover"), json!({"to": TECH_LEAD, "reason": "end of shift"}), StatusCode::OK)
        .await;
    assert_eq!(state["commander"], TECH_LEAD);
    assert_eq!(state["roles"]["commander"], json!([TECH_LEAD]), "one commander: {state}");
    assert_eq!(state["handovers"][0]["from"], COMMANDER);
    assert_eq!(state["handovers"][0]["to"], TECH_LEAD);
    assert_eq!(state["handovers"][0]["reason"], "end of shift");
    let record = app.record(COMMANDER, &id).await;
    assert_eq!(record.len(), seq + 1, "one entry");
    let last = record.last().expect("an entry");
    assert_eq!(last["kind"], "commander.handed_over");
    assert_eq!(last["body"], json!({"from": COMMANDER, "to": TECH_LEAD, "reason": "end of shift"}));
    assert_eq!(state["handovers"][0]["at"], last["at"], "the hand-over's time is the entry's");

    let sitrep = app.get_json(TECH_LEAD, &at("/sitrep")).await;
    assert_eq!(sitrep["commander"], TECH_LEAD);
    assert_eq!(sitrep["handovers"][0]["reason"], "end of shift");
    let markdown = app
        .request(reqwest::Method::GET, Some(TECH_LEAD), &at("/sitrep"))
        .header("Accept", "text/markdown")
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    assert!(markdown.contains("Commander: **tech**"), "{markdown}");
    assert!(markdown.contains("cmd handed command to tech (recorded by cmd): end of shift"), "{markdown}");
}

#[tokio::test]
async fn bad_unauthorised_duplicate_and_concurrent_hand_overs_change_nothing() {
    let app = spawn_app().await;
    let id = app.standard_incident("Phishing wave", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
    let before = app.record(COMMANDER, &id).await.len();

    // Malformed: no reason, an unknown field, a blank reason, nobody by that name.
    let missing = problem(
        app.post(COMMANDER, &at("/handover"), json!({"to": TECH_LEAD})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(missing["field"], "reason", "{missing}");
    let extra = json!({"to": TECH_LEAD, "reason": "x", "from": LEGAL});
    problem(app.post(COMMANDER, &at("/handover"), extra).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let blank = problem(
        app.post(COMMANDER, &at("/handover"), json!({"to": TECH_LEAD, "reason": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(blank["field"], "reason");
    let ghost = problem(
        app.post(COMMANDER, &at("/handover"), json!({"to": "ghost", "reason": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(ghost["field"], "to");
    // Unauthorised: the tech lead cannot take command for themselves.
    let refused = problem(
        app.post(TECH_LEAD, &at("/handover"), json!({"to": TECH_LEAD, "reason": "mine now"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["rule"], "actions.assign_roles", "{refused}");
    // Duplicate: the commander already commands.
    problem(app.post(COMMANDER, &at("/handover"), json!({"to": COMMANDER, "reason": "x"})).await, StatusCode::CONFLICT)
        .await;
    assert_eq!(app.record(COMMANDER, &id).await.len(), before, "nothing was written");

    // Concurrent: the commander hands over to two people at once; exactly one wins, and the
    // other finds cmd no longer commands.
    let path = at("/handover");
    let (first, second) = tokio::join!(
        app.post(COMMANDER, &path, json!({"to": TECH_LEAD, "reason": "to tech"})),
        app.post(COMMANDER, &path, json!({"to": LEGAL, "reason": "to lee"})),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::FORBIDDEN]);
    let state = app.state(COMMANDER, &id).await;
    assert_eq!(state["roles"]["commander"].as_array().map(Vec::len), Some(1), "one commander: {state}");
    assert_eq!(state["handovers"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.record(COMMANDER, &id).await.len(), before + 1);
}

#[tokio::test]
async fn the_command_page_offers_the_hand_over_next_to_the_roles() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    app.give_password(COMMANDER).await;
    app.give_password(TECH_LEAD).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    let tech = app.sign_in(TECH_LEAD, PASSWORD).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let page = |session: &Session| {
        let request = client.get(app.url(&format!("/incidents/{id}"))).header(reqwest::header::COOKIE, &session.cookie);
        async move { request.send().await.expect("answered").text().await.expect("html") }
    };
    let form = format!("action=\"/incidents/{id}/handover\"");

    let html = page(&commander).await;
    assert!(html.contains("Commander: <strong>cmd</strong>"), "{html}");
    assert!(html.contains(&form), "the commander is offered the hand-over");
    // Command is offered only to people who may act: not to a viewer or an auditor, whom the
    // server would refuse, and not to the commander.
    let choices = html.split("Hand command to").nth(1).and_then(|rest| rest.split("</select>").next()).unwrap_or("");
    assert!(choices.contains("<option>tech</option>"), "{choices}");
    for refused in [VIEWER, AUDITOR, COMMANDER] {
        assert!(!choices.contains(&format!("<option>{refused}</option>")), "{refused} offered: {choices}");
    }
    assert!(!page(&tech).await.contains(&form), "the tech lead may not hand over cmd's command");

    let body = format!("csrf={}&to=tech&reason=end+of+shift+%3Cnow%3E", commander.csrf);
    let posted = client
        .post(app.url(&format!("/incidents/{id}/handover")))
        .header(reqwest::header::COOKIE, &commander.cookie)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let html = page(&tech).await;
    assert!(html.contains("Commander: <strong>tech</strong>"), "{html}");
    assert!(html.contains("cmd handed command to tech (recorded by cmd): end of shift &#60;now&#62;"), "{html}");
    assert!(html.contains(&form), "the new commander is offered the hand-over");
    assert!(!page(&commander).await.contains(&form));
    let sitrep = client
        .get(app.url(&format!("/incidents/{id}/sitrep")))
        .header(reqwest::header::COOKIE, &tech.cookie)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("html");
    assert!(sitrep.contains("Commander: <strong>tech</strong>"), "{sitrep}");
    assert!(sitrep.contains("cmd handed command to tech (recorded by cmd)"), "{sitrep}");
}

#[tokio::test]
async fn handing_over_a_restricted_incident_is_acknowledged_without_showing_it_to_one_who_left() {
    let app = spawn_app().await;
    let id = app.standard_incident("Insider access", true).await;
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
    // The commander holds no other role, so handing over ends their part in the incident.
    let answer =
        app.post_ok(COMMANDER, &at("/handover"), json!({"to": TECH_LEAD, "reason": "recused"}), StatusCode::OK).await;
    assert_eq!(answer, json!({"id": id, "visible": false}), "the change is acknowledged, the incident not shown");
    assert_eq!(app.get(COMMANDER, &at("")).await.status(), StatusCode::NOT_FOUND);
    let state = app.get_json(TECH_LEAD, &at("")).await;
    assert_eq!(state["commander"], TECH_LEAD, "the hand-over was recorded");
}
