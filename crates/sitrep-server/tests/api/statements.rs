//! Statements: drafted for an audience, revised as versions, approved through the class the
//! audience needs (bound to one version's hash), and published only as exactly that text.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const V1: &str = "We are investigating an incident affecting sign-in. Your data is safe.";
const V2: &str = "We are investigating an incident affecting sign-in. We will update you by 18:00 UTC.";

struct Desk<'a> {
    app: &'a TestApp,
    incident: String,
}

impl Desk<'_> {
    fn at(&self, path: &str) -> String {
        format!("/api/v1/incidents/{}{path}", self.incident)
    }

    async fn draft(&self, who: &str, audience: &str, text: &str) -> Value {
        let body = json!({"audience": audience, "title": format!("Notice to {audience}"), "text": text});
        self.app.post_ok(who, &self.at("/statements"), body, StatusCode::CREATED).await
    }

    async fn propose(&self, who: &str, class: &str, statement: &str) -> Value {
        let body = json!({"class": class, "title": format!("Let {statement} out"), "statement": statement});
        self.app.post_ok(who, &self.at("/decisions"), body, StatusCode::CREATED).await
    }

    async fn approve(&self, who: &str, decision: &str) -> Value {
        self.app.post_ok(who, &self.at(&format!("/decisions/{decision}/approve")), json!({}), StatusCode::OK).await
    }

    async fn publish(&self, who: &str, statement: &str, body: Value) -> reqwest::Response {
        self.app.post(who, &self.at(&format!("/statements/{statement}/publish")), body).await
    }

    async fn statement(&self, id: &str) -> Value {
        let listing = self.app.get_json(EXECUTIVE, &self.at("/statements")).await;
        let found = listing["statements"].as_array().expect("a list").iter().find(|s| s["id"] == id).cloned();
        found.unwrap_or_else(|| panic!("{id} is listed: {listing}"))
    }

    async fn seq(&self) -> Value {
        self.app.state(COMMANDER, &self.incident).await["seq"].clone()
    }
}

async fn desk(app: &TestApp) -> Desk<'_> {
    Desk { app, incident: app.standard_incident("Sign-in outage", false).await }
}

#[tokio::test]
async fn a_statement_goes_out_only_as_the_exact_text_an_approved_decision_bound() {
    let app = spawn_app().await;
    let desk = desk(&app).await;

    let statement = desk.draft(COMMS, "customers", V1).await;
    assert_eq!(statement["id"], "ST-1");
    assert_eq!(statement["audience"], "customers");
    assert_eq!(statement["needs_class"], "customer_notification", "customers hear through a customer notification");
    assert_eq!(statement["versions"][0]["version"], 1);
    assert_eq!(statement["versions"][0]["text"], V1);
    assert_eq!(statement["versions"][0]["sha256"], sha256_hex(V1.as_bytes()), "each version's text hash is recorded");
    assert!(statement["versions"][0]["approved_by"].is_null());
    assert_eq!(statement["publications"], json!([]));

    // Not approved: refused, and it says what would let it out.
    let seq_before = desk.seq().await;
    let refused =
        problem(desk.publish(COMMS, "ST-1", json!({"channel": "status page"})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "classes.customer_notification.approve");
    assert!(refused["detail"].as_str().expect("detail").contains("no approved customer_notification"), "{refused}");
    let decision = desk.propose(COMMS, "customer_notification", "ST-1").await;
    assert_eq!(decision["id"], "D-1");
    assert_eq!(decision["state"], "proposed");
    assert_eq!(decision["statement"]["version"], 1);
    assert_eq!(decision["statement"]["sha256"], sha256_hex(V1.as_bytes()), "the decision is bound to the text's hash");
    let refused =
        problem(desk.publish(COMMS, "ST-1", json!({"channel": "status page"})).await, StatusCode::FORBIDDEN).await;
    assert!(refused["detail"].as_str().expect("detail").contains("not approved yet: D-1"), "{refused}");
    assert_eq!(desk.approve(LEGAL, "D-1").await["state"], "proposed", "legal and the executive must both approve");
    problem(desk.publish(COMMS, "ST-1", json!({"channel": "status page"})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(desk.seq().await.as_u64(), seq_before.as_u64().map(|s| s + 2), "refusals recorded nothing");
    assert_eq!(desk.approve(EXECUTIVE, "D-1").await["state"], "approved");
    assert_eq!(desk.statement("ST-1").await["versions"][0]["approved_by"], "D-1");

    // Approved: published, with the channel, version, hash and decision recorded.
    let body = json!({"channel": "status page", "sha256": sha256_hex(V1.as_bytes())});
    let published = json_of(desk.publish(COMMS, "ST-1", body).await, StatusCode::OK).await;
    let publication = &published["publications"][0];
    assert_eq!(publication["channel"], "status page");
    assert_eq!(publication["version"], 1);
    assert_eq!(publication["sha256"], sha256_hex(V1.as_bytes()));
    assert_eq!(publication["decision"], "D-1");
    assert_eq!(publication["by"], COMMS);
    let record = app.record(COMMANDER, &desk.incident).await;
    let entry = record.last().expect("entries");
    assert_eq!(entry["kind"], "statement.published");
    assert_eq!(entry["body"]["decision"], "D-1");
    assert_eq!(entry["body"]["sha256"], sha256_hex(V1.as_bytes()));
    problem(desk.publish(COMMS, "ST-1", json!({"channel": "status page"})).await, StatusCode::CONFLICT).await;
    let published =
        json_of(desk.publish(COMMANDER, "ST-1", json!({"channel": "customer email"})).await, StatusCode::OK).await;
    assert_eq!(
        published["publications"].as_array().expect("publications").len(),
        2,
        "the same text on another channel"
    );

    // Revised: the new text needs its own approval.
    let revised =
        desk.app.post_ok(COMMS, &desk.at("/statements/ST-1/revisions"), json!({"text": V2}), StatusCode::CREATED).await;
    assert_eq!(revised["latest_version"], 2);
    assert_eq!(revised["versions"][1]["sha256"], sha256_hex(V2.as_bytes()));
    assert!(revised["versions"][1]["approved_by"].is_null());
    assert_eq!(revised["versions"][0]["approved_by"], "D-1", "the old approval stays with the old text");
    let refused =
        problem(desk.publish(COMMS, "ST-1", json!({"channel": "status page v2"})).await, StatusCode::FORBIDDEN).await;
    let detail = refused["detail"].as_str().expect("detail");
    assert!(
        detail.contains("changed after D-1 approved v1") && detail.contains("v2"),
        "it says the text changed: {detail}"
    );
    // Publishing what one read, when it is no longer the latest, is a conflict.
    let stale = json!({"channel": "status page v2", "sha256": sha256_hex(V1.as_bytes())});
    let refused = problem(desk.publish(COMMS, "ST-1", stale).await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().expect("detail").contains("changed since you read it"), "{refused}");
    problem(
        desk.app.post(COMMS, &desk.at("/statements/ST-1/revisions"), json!({"text": V2})).await,
        StatusCode::CONFLICT,
    )
    .await;

    // A new approval of the new text lets it out.
    let decision = desk.propose(LEGAL, "customer_notification", "ST-1").await;
    assert_eq!(decision["statement"]["version"], 2);
    assert_eq!(desk.approve(EXECUTIVE, "D-2").await["state"], "approved", "legal proposed, the executive approved");
    let body = json!({"channel": "status page", "sha256": sha256_hex(V2.as_bytes())});
    let published = json_of(desk.publish(COMMS, "ST-1", body).await, StatusCode::OK).await;
    let latest = published["publications"].as_array().expect("publications").last().cloned().expect("one");
    assert_eq!((latest["version"].clone(), latest["decision"].clone()), (json!(2), json!("D-2")));
    let statement = desk.statement("ST-1").await;
    assert_eq!(statement["versions"][1]["approved_by"], "D-2");

    // The SITREP shows the latest approved text for the audience, and where it went out.
    let sitrep = app.get_json(EXECUTIVE, &desk.at("/sitrep")).await;
    let lines = sitrep["statements"].as_array().expect("statements");
    assert_eq!(lines.len(), 1, "one audience: {sitrep}");
    assert_eq!(lines[0]["audience"], "customers");
    assert_eq!(lines[0]["version"], 2);
    assert_eq!(lines[0]["text"], V2);
    assert_eq!(lines[0]["approved_by"], "D-2");
    assert_eq!(lines[0]["published"].as_array().map(Vec::len), Some(1), "{sitrep}");
}

#[tokio::test]
async fn a_statement_is_approved_only_through_the_class_its_audience_needs() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    for (audience, needs) in [
        ("customers", "customer_notification"),
        ("regulator", "regulatory_notification"),
        ("press", "external_statement"),
        ("partners", "external_statement"),
        ("internal", "external_statement"),
    ] {
        let statement = desk.draft(LEGAL, audience, &format!("A word to {audience}")).await;
        assert_eq!(statement["needs_class"], needs, "{audience}");
    }
    let seq_before = desk.seq().await;
    for (statement, wrong) in [
        ("ST-1", "external_statement"),
        ("ST-2", "customer_notification"),
        ("ST-3", "regulatory_notification"),
        ("ST-3", "containment"),
    ] {
        let body = json!({"class": wrong, "title": "wrong path", "statement": statement});
        let refused =
            problem(app.post(COMMANDER, &desk.at("/decisions"), body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], "class", "{statement} through {wrong}: {refused}");
    }
    let body = json!({"class": "external_statement", "title": "no such statement", "statement": "ST-9"});
    problem(app.post(COMMANDER, &desk.at("/decisions"), body).await, StatusCode::NOT_FOUND).await;
    // The class's own rule still says who may propose: comms may not propose to the regulator.
    let body = json!({"class": "regulatory_notification", "title": "to the DPA", "statement": "ST-2"});
    problem(app.post(COMMS, &desk.at("/decisions"), body).await, StatusCode::FORBIDDEN).await;
    let refused = problem(
        app.post(COMMS, &desk.at("/statements"), json!({"audience": "shareholders", "title": "t", "text": "t"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "audience", "{refused}");
    assert_eq!(desk.seq().await, seq_before, "nothing was proposed");

    let decision = desk.propose(LEGAL, "regulatory_notification", "ST-2").await;
    assert_eq!(decision["state"], "proposed");
    assert_eq!(desk.approve(EXECUTIVE, "D-1").await["state"], "approved");
    let published =
        json_of(desk.publish(COMMANDER, "ST-2", json!({"channel": "DPA portal"})).await, StatusCode::OK).await;
    assert_eq!(published["publications"][0]["channel"], "DPA portal");
}

#[tokio::test]
async fn only_comms_and_the_commander_publish_and_only_statement_roles_draft() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    desk.draft(COMMS, "press", V1).await;
    desk.propose(COMMS, "external_statement", "ST-1").await;
    assert_eq!(desk.approve(LEGAL, "D-1").await["state"], "approved", "comms proposed, legal approved: two people");

    for who in [LEGAL, EXECUTIVE, TECH_LEAD, RESPONDER, OUTSIDER, VIEWER, ADMIN] {
        let refused =
            problem(desk.publish(who, "ST-1", json!({"channel": "press release"})).await, StatusCode::FORBIDDEN).await;
        if who != VIEWER {
            // A viewer is refused sooner: their organisation role never acts.
            assert_eq!(refused["rule"], "actions.publish_statements", "{who}: {refused}");
        }
    }
    json_of(desk.publish(COMMANDER, "ST-1", json!({"channel": "press release"})).await, StatusCode::OK).await;

    let draft = json!({"audience": "press", "title": "t", "text": "t"});
    for who in [EXECUTIVE, TECH_LEAD, RESPONDER, OUTSIDER, VIEWER, ADMIN] {
        let refused = problem(app.post(who, &desk.at("/statements"), draft.clone()).await, StatusCode::FORBIDDEN).await;
        if who != VIEWER {
            assert_eq!(refused["rule"], "actions.statements", "{who}: {refused}");
        }
        let revise = app.post(who, &desk.at("/statements/ST-1/revisions"), json!({"text": "hijacked"})).await;
        problem(revise, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(desk.statement("ST-1").await["versions"].as_array().expect("versions").len(), 1, "nobody changed it");
}

#[tokio::test]
async fn approvers_must_be_distinct_people_holding_the_required_roles() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    desk.draft(COMMS, "press", V1).await;
    desk.propose(COMMS, "external_statement", "ST-1").await;

    // The proposer's approval is implied; approving again is refused.
    let approve = desk.at("/decisions/D-1/approve");
    let refused = problem(app.post(COMMS, &approve, json!({})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "people", "{refused}");
    // Holders of other roles do not count.
    for who in [EXECUTIVE, TECH_LEAD, RESPONDER] {
        problem(app.post(who, &approve, json!({})).await, StatusCode::FORBIDDEN).await;
    }
    problem(desk.publish(COMMS, "ST-1", json!({"channel": "press release"})).await, StatusCode::FORBIDDEN).await;

    // One person holding both required roles still needs another person.
    app.post_ok(COMMANDER, &desk.at("/roles"), json!({"role": "comms", "user": LEGAL}), StatusCode::OK).await;
    desk.draft(LEGAL, "partners", V2).await;
    let decision = desk.propose(LEGAL, "external_statement", "ST-2").await;
    assert_eq!(decision["state"], "proposed", "legal and comms in one person is one person: {decision}");
    let refused =
        problem(app.post(LEGAL, &desk.at("/decisions/D-2/approve"), json!({})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "people");
    problem(desk.publish(LEGAL, "ST-2", json!({"channel": "partner portal"})).await, StatusCode::FORBIDDEN).await;
    let decision = desk.approve(COMMS, "D-2").await;
    assert_eq!(decision["state"], "approved");
    let endorsers: Vec<&Value> =
        decision["approvals"].as_array().expect("approvals").iter().map(|a| &a["user"]).collect();
    assert_eq!(endorsers, [LEGAL, COMMS], "two people");
    json_of(desk.publish(COMMS, "ST-2", json!({"channel": "partner portal"})).await, StatusCode::OK).await;
}

#[tokio::test]
async fn approvers_see_the_exact_bound_text_and_its_changes_and_a_decision_with_no_text_cannot_be_approved() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    desk.draft(COMMS, "customers", V1).await;
    let first = desk.propose(LEGAL, "customer_notification", "ST-1").await;
    assert_eq!(first["statement_text"]["text"], V1, "the decision view carries the text it approves: {first}");
    assert_eq!(first["statement_text"]["previous"], Value::Null, "nothing approved for customers before");
    desk.approve(EXECUTIVE, "D-1").await;
    app.post_ok(COMMS, &desk.at("/statements/ST-1/revisions"), json!({"text": V2}), StatusCode::CREATED).await;
    let second = desk.propose(LEGAL, "customer_notification", "ST-1").await;
    let bound = &second["statement_text"];
    assert_eq!((bound["version"].clone(), bound["text"].clone()), (json!(2), json!(V2)), "{second}");
    assert_eq!((bound["previous"]["version"].clone(), bound["previous"]["decision"].clone()), (json!(1), json!("D-1")));
    assert_eq!(bound["changes"], json!([{"op": "removed", "line": V1}, {"op": "added", "line": V2}]));

    // In the SITREP the executive reads the text too, and the change.
    let markdown = app
        .request(reqwest::Method::GET, Some(EXECUTIVE), &desk.at("/sitrep"))
        .header("accept", "text/markdown")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(markdown.contains("approves ST-1 v2 \"Notice to customers\" to customers"), "{markdown}");
    assert!(markdown.contains("changes from ST-1 v1 (approved by D-1)"), "{markdown}");

    // On the approval card in the command view.
    app.give_password(EXECUTIVE).await;
    let session = app.sign_in(EXECUTIVE, PASSWORD).await;
    let page = app
        .request(reqwest::Method::GET, None, &format!("/incidents/{}", desk.incident))
        .header(reqwest::header::COOKIE, &session.cookie)
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("HTML");
    let card =
        &page[page.find("id=\"needs-you-decision-D-2\"").or_else(|| page.find("decision-D-2")).expect("D-2's card")..];
    assert!(card.contains("class=\"statement-text bound-text\">We are investigating an incident affecting sign-in. We will update you by 18:00 UTC."), "{card}");
    assert!(card.contains("diff-removed"), "the change is on the card");
    // And on the SITREP page.
    let sitrep = app
        .request(reqwest::Method::GET, None, &format!("/incidents/{}/sitrep", desk.incident))
        .header(reqwest::header::COOKIE, &session.cookie)
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("HTML");
    assert!(sitrep.contains(&format!("class=\"statement-text bound-text\">{V2}")), "{sitrep}");

    // A customer notification proposed with no statement asks legal and the executive to
    // approve nothing: refused, and nothing written.
    let unbound = json!({"class": "customer_notification", "title": "Tell customers"});
    app.post_ok(LEGAL, &desk.at("/decisions"), unbound, StatusCode::CREATED).await;
    let seq = desk.seq().await;
    let refused =
        problem(app.post(EXECUTIVE, &desk.at("/decisions/D-3/approve"), json!({})).await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().expect("detail").contains("bound to no statement"), "{refused}");
    assert_eq!(desk.seq().await, seq, "nothing was written");
}

#[tokio::test]
async fn a_regulatory_clock_is_met_only_by_a_recorded_submission_and_legal_stops_one_with_a_basis() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    let determination = json!({"determination": "personal_data_breach", "basis": "customer emails were read"});
    app.post_ok(LEGAL, &desk.at("/determinations"), determination, StatusCode::CREATED).await;
    desk.draft(LEGAL, "regulator", V1).await;
    desk.propose(LEGAL, "regulatory_notification", "ST-1").await;
    assert_eq!(desk.approve(EXECUTIVE, "D-1").await["state"], "approved");
    let clocks = app.get_json(LEGAL, &desk.at("/clocks")).await;
    assert_eq!(clocks["clocks"][0]["outcome"], "running", "approving to notify is not having notified: {clocks}");

    let sent_at = app.clock.now().to_string();
    let submission = |overrides: Value| {
        let mut body = json!({"sent_at": sent_at, "authority": "CNIL", "channel": "notifications.cnil.fr",
            "reference": "CNIL-2026-0415", "statement": "ST-1", "version": 1});
        if let (Some(body), Some(changes)) = (body.as_object_mut(), overrides.as_object()) {
            body.extend(changes.clone());
        }
        body
    };
    let submit = desk.at("/clocks/gdpr_art33/submission");
    let seq = desk.seq().await;
    // Malformed, unauthorised, unknown, unapproved: each refused, naming the field or rule.
    for (who, body, status, field) in [
        (LEGAL, submission(json!({"sent_at": "yesterday"})), StatusCode::UNPROCESSABLE_ENTITY, "sent_at"),
        (LEGAL, submission(json!({"statement": "S1"})), StatusCode::UNPROCESSABLE_ENTITY, "statement"),
        (LEGAL, submission(json!({"reference": " "})), StatusCode::UNPROCESSABLE_ENTITY, "reference"),
        (LEGAL, submission(json!({"version": 2})), StatusCode::UNPROCESSABLE_ENTITY, "version"),
        (LEGAL, submission(json!({"surprise": 1})), StatusCode::UNPROCESSABLE_ENTITY, "surprise"),
    ] {
        let refused = problem(app.post(who, &submit, body).await, status).await;
        assert_eq!(refused["field"], field, "{refused}");
    }
    let refused = problem(app.post(TECH_LEAD, &submit, submission(json!({}))).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "actions.submissions", "{refused}");
    problem(
        app.post(LEGAL, &desk.at("/clocks/no_such_clock/submission"), submission(json!({}))).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(desk.seq().await, seq, "nothing refused was written");

    // Two submissions at once for the same clock: one is recorded, the other finds it met.
    let (first, second) = tokio::join!(
        app.post(LEGAL, &submit, submission(json!({}))),
        app.post(COMMANDER, &submit, submission(json!({})))
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let clocks = app.get_json(LEGAL, &desk.at("/clocks")).await;
    let gdpr = &clocks["clocks"][0];
    assert_eq!(gdpr["outcome"], "met", "{gdpr}");
    assert_eq!(gdpr["submission"]["reference"], "CNIL-2026-0415");
    assert_eq!(gdpr["submission"]["authority"], "CNIL");
    assert_eq!(gdpr["submission"]["statement"]["version"], 1);
    let refused = problem(app.post(LEGAL, &submit, submission(json!({}))).await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().expect("detail").contains("already met"), "{refused}");

    // Legal withdraws a determination and records a notification not required, with the basis.
    let significant = json!({"determination": "significant_incident", "basis": "EU customers affected"});
    app.post_ok(LEGAL, &desk.at("/determinations"), significant, StatusCode::CREATED).await;
    let basis = json!({"basis": "The CSIRT said no early warning is needed"});
    let refused = problem(
        app.post(COMMANDER, &desk.at("/clocks/nis2_early_warning/not-required"), basis.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["rule"], "actions.release_clocks");
    let clocks = app.post_ok(LEGAL, &desk.at("/clocks/nis2_early_warning/not-required"), basis, StatusCode::OK).await;
    let early =
        clocks["clocks"].as_array().expect("clocks").iter().find(|c| c["clock"] == "nis2_early_warning").cloned();
    let early = early.expect("the early warning");
    assert_eq!(
        (early["outcome"].clone(), early["released"]["basis"].clone()),
        (json!("not required"), json!("The CSIRT said no early warning is needed"))
    );
    let withdraw = desk.at("/determinations/significant_incident/withdraw");
    problem(app.post(LEGAL, &withdraw, json!({"basis": ""})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let clocks =
        app.post_ok(LEGAL, &withdraw, json!({"basis": "Fewer than the threshold affected"}), StatusCode::OK).await;
    let outcomes: Vec<(&str, &str)> = clocks["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .map(|c| (c["clock"].as_str().unwrap_or_default(), c["outcome"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("gdpr_art33", "met"),
            ("nis2_early_warning", "not required"),
            ("nis2_notification", "determination withdrawn"),
            ("nis2_final_report", "determination withdrawn")
        ]
    );
    problem(app.post(LEGAL, &withdraw, json!({"basis": "again"})).await, StatusCode::CONFLICT).await;
}

/// Posts a command-view form with the session's cookie and CSRF token; the status, not followed.
async fn post_form(app: &TestApp, session: &Session, path: &str, pairs: &[(&str, &str)]) -> StatusCode {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied().chain([("csrf", session.csrf.as_str())]))
        .finish();
    let response = client
        .post(app.url(path))
        .header(reqwest::header::COOKIE, &session.cookie)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("answers");
    response.status()
}

#[tokio::test]
async fn the_command_view_records_a_submission_a_notification_not_required_and_a_withdrawal() {
    let app = spawn_app().await;
    let desk = desk(&app).await;
    for determination in ["personal_data_breach", "significant_incident"] {
        let body = json!({"determination": determination, "basis": "seen in the logs"});
        app.post_ok(LEGAL, &desk.at("/determinations"), body, StatusCode::CREATED).await;
    }
    desk.draft(LEGAL, "regulator", V1).await;
    let body = json!({"class": "regulatory_notification", "title": "To the DPA", "statement": "ST-1", "clocks": ["gdpr_art33"]});
    app.post_ok(LEGAL, &desk.at("/decisions"), body, StatusCode::CREATED).await;
    desk.approve(EXECUTIVE, "D-1").await;

    app.give_password(LEGAL).await;
    let session = app.sign_in(LEGAL, PASSWORD).await;
    let page = |session: &Session| {
        let request = app
            .request(reqwest::Method::GET, None, &format!("/incidents/{}", desk.incident))
            .header(reqwest::header::COOKIE, session.cookie.clone());
        async move { request.send().await.expect("answers").text().await.expect("HTML") }
    };
    let html = page(&session).await;
    let base = format!("/incidents/{}", desk.incident);
    // The GDPR clock offers the submission with the approved text; the NIS2 clocks do not (no
    // text approved for them), but legal may record them not required or withdraw the determination.
    assert!(html.contains(&format!("action=\"{base}/clocks/gdpr_art33/submission\"")), "{html}");
    assert!(html.contains("<option value=\"ST-1:1\">ST-1 v1"), "the approved text to choose");
    assert!(!html.contains(&format!("action=\"{base}/clocks/nis2_early_warning/submission\"")));
    assert!(html.contains(&format!("action=\"{base}/clocks/nis2_early_warning/not-required\"")));
    assert!(html.contains(&format!("action=\"{base}/determinations/significant_incident/withdraw\"")));

    let sent = [("text", "ST-1:1"), ("authority", "CNIL"), ("channel", "portal"), ("reference", "CNIL-77")];
    assert_eq!(
        post_form(&app, &session, &format!("{base}/clocks/gdpr_art33/submission"), &sent).await,
        StatusCode::SEE_OTHER
    );
    let basis = [("basis", "The CSIRT waived it")];
    let path = format!("{base}/clocks/nis2_early_warning/not-required");
    assert_eq!(post_form(&app, &session, &path, &basis).await, StatusCode::SEE_OTHER);
    let basis = [("basis", "Below the threshold")];
    let path = format!("{base}/determinations/significant_incident/withdraw");
    assert_eq!(post_form(&app, &session, &path, &basis).await, StatusCode::SEE_OTHER);

    let html = page(&session).await;
    assert!(html.contains("met: sent") && html.contains("reference CNIL-77"), "{html}");
    assert!(html.contains("not required by lee"), "{html}");
    assert!(html.contains("WITHDRAWN by lee"), "{html}");
    // The commander may record submissions but not stop a clock unmet: no such form for them.
    app.give_password(COMMANDER).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    assert!(!page(&commander).await.contains("/withdraw\""), "withdrawing is legal's");
}

/// A server whose customers' outlets are a status page and a mail list (nothing listens: no
/// worker runs here, so deliveries stay owed until the test reports one).
async fn app_with_outlets() -> TestApp {
    spawn_app_with(|config| {
        let channels = r#"
[channels.status-page]
kind = "webhook"
url = "http://127.0.0.1:9/status"
secret = "s3cret"

[channels.customer-list]
kind = "email"
to = ["customers@example.test"]

[smtp]
host = "127.0.0.1"
from = "sitrep@example.test"

[outlets]
customers = ["status-page", "customer-list"]
"#;
        let parsed: sitrep_server::Config = toml::from_str(channels).expect("the outlets parse");
        config.channels = parsed.channels;
        config.smtp = parsed.smtp;
        config.outlets = parsed.outlets;
    })
    .await
}

#[tokio::test]
async fn publishing_on_an_outlet_owes_a_delivery_and_a_final_failure_is_retried_by_a_publisher() {
    let app = app_with_outlets().await;
    let desk = desk(&app).await;
    desk.draft(COMMS, "customers", V1).await;

    // Unapproved, or stale: refused on an outlet as anywhere, and nothing is owed.
    let refused =
        problem(desk.publish(COMMS, "ST-1", json!({"channel": "status-page"})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["rule"], "classes.customer_notification.approve");
    desk.propose(COMMS, "customer_notification", "ST-1").await;
    desk.approve(LEGAL, "D-1").await;
    desk.approve(EXECUTIVE, "D-1").await;
    let stale = json!({"channel": "status-page", "sha256": sha256_hex(V2.as_bytes())});
    problem(desk.publish(COMMS, "ST-1", stale).await, StatusCode::CONFLICT).await;
    assert!(desk.statement("ST-1").await["publications"].as_array().is_some_and(Vec::is_empty));

    // On an outlet: a delivery is owed, in the answer and in the record.
    let published = json_of(desk.publish(COMMS, "ST-1", json!({"channel": "status-page"})).await, StatusCode::OK).await;
    let delivery = &published["publications"][0]["delivery"];
    assert_eq!(delivery["status"], "pending", "{published:#}");
    assert_eq!(delivery["attempts"], json!([]));
    let entry = app.record(COMMANDER, &desk.incident).await.last().cloned().expect("entries");
    assert_eq!((entry["kind"].as_str(), entry["body"]["outlet"].as_bool()), (Some("statement.published"), Some(true)));
    // On a name that is no outlet: recorded as published elsewhere, as before outlets existed.
    let elsewhere =
        json_of(desk.publish(COMMS, "ST-1", json!({"channel": "customer email"})).await, StatusCode::OK).await;
    assert!(elsewhere["publications"][1].get("delivery").is_none(), "{elsewhere:#}");
    let entry = app.record(COMMANDER, &desk.incident).await.last().cloned().expect("entries");
    assert!(entry["body"].get("outlet").is_none(), "{entry:#}");

    // Retrying: only a final failure, only of an outlet's delivery, only by a publisher.
    let retry = desk.at("/statements/ST-1/deliveries/retry");
    let body = json!({"version": 1, "channel": "status-page"});
    let pending = problem(app.post(COMMS, &retry, body.clone()).await, StatusCode::CONFLICT).await;
    assert!(pending["detail"].as_str().is_some_and(|d| d.contains("has not failed for good")), "{pending}");
    problem(app.post(COMMS, &retry, json!({"version": 1, "channel": "customer email"})).await, StatusCode::NOT_FOUND)
        .await;
    problem(app.post(COMMS, &desk.at("/statements/ST-9/deliveries/retry"), body.clone()).await, StatusCode::NOT_FOUND)
        .await;
    let malformed =
        problem(app.post(COMMS, &retry, json!({"channel": "status-page"})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(malformed["detail"].as_str().is_some_and(|d| d.contains("version")), "{malformed}");

    // The publisher reports a final failure (as the worker does after a 410).
    let incident = desk.incident.parse().expect("an incident number");
    let failed = sitrep_core::decide::SystemCommand::StatementDelivered {
        statement: sitrep_core::ids::StatementId(1),
        version: 1,
        channel: "status-page".into(),
        sha256: sha256_hex(V1.as_bytes()),
        outcome: Err(sitrep_core::decide::ActionFailure { reason: "HTTP 410: gone".into(), retryable: false }),
    };
    app.ledger.execute_system(incident, "publisher", failed.clone()).await.expect("the failure is recorded");
    let seq = desk.seq().await;
    problem(app.post(RESPONDER, &retry, body.clone()).await, StatusCode::FORBIDDEN).await;
    assert_eq!(desk.seq().await, seq, "a refused retry records nothing");
    let retried = app.post_ok(COMMS, &retry, body.clone(), StatusCode::OK).await;
    let delivery = &retried["publications"][0]["delivery"];
    assert_eq!(delivery["status"], "pending", "owed again: {retried:#}");
    assert_eq!(delivery["attempts"][0]["detail"], "HTTP 410: gone", "the failed attempt stays in view");
    let entry = app.record(COMMANDER, &desk.incident).await.last().cloned().expect("entries");
    assert_eq!(entry["kind"], "statement.delivery_retry_requested");
    assert_eq!(entry["actor"], COMMS);

    // The command view shows the delivery and its attempts, and offers the retry after a final
    // failure to a publisher, through the same command.
    let mut failed_again = failed.clone();
    if let sitrep_core::decide::SystemCommand::StatementDelivered { outcome, .. } = &mut failed_again {
        *outcome = Err(sitrep_core::decide::ActionFailure { reason: "HTTP 410: still gone".into(), retryable: false });
    }
    app.ledger.execute_system(incident, "publisher", failed_again).await.expect("the failure is recorded");
    app.give_password(COMMS).await;
    let session = app.sign_in(COMMS, PASSWORD).await;
    let base = format!("/incidents/{}", desk.incident);
    let page = || {
        let request =
            app.request(reqwest::Method::GET, None, &base).header(reqwest::header::COOKIE, session.cookie.clone());
        async move { request.send().await.expect("answers").text().await.expect("HTML") }
    };
    let html = page().await;
    assert!(html.contains("failed; not tried again unless someone asks"), "{html}");
    assert!(html.contains("HTTP 410: still gone"), "the attempt's reason: {html}");
    let form = format!("action=\"{base}/statements/ST-1/retry-delivery\"");
    assert!(html.contains(&form), "a publisher may retry: {html}");
    let pairs = [("version", "1"), ("channel", "status-page")];
    let path = format!("{base}/statements/ST-1/retry-delivery");
    assert_eq!(post_form(&app, &session, &path, &pairs).await, StatusCode::SEE_OTHER);
    let html = page().await;
    assert!(html.contains("failed, tried again shortly") && !html.contains(&form), "owed again: {html}");
}
