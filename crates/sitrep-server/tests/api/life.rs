//! One incident from declaration to close, through the HTTP API only.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::{Value, json};

use crate::helpers::*;

fn users(list: &Value) -> Vec<&str> {
    list.as_array().expect("a list of users").iter().map(|u| u.as_str().expect("a user name")).collect()
}

fn find<'a>(state: &'a Value, list: &str, id: &str) -> &'a Value {
    state[list]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["id"] == json!(id)))
        .unwrap_or_else(|| panic!("{list} holds {id}: {state}"))
}

#[tokio::test]
async fn one_incident_lives_its_whole_life_through_the_http_api() {
    let app = spawn_app().await;

    // Declare with the core roles staffed: the declarer is the commander.
    let body = json!({
        "title": "Leaked AWS access key in a public repository",
        "severity": "sev2",
        "scope": ["emea"],
        "roles": {"tech_lead": TECH_LEAD, "legal": LEGAL, "comms": COMMS, "executive": EXECUTIVE},
    });
    let response = app.post(COMMANDER, "/api/v1/incidents", body).await;
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let state = json_of(response, StatusCode::CREATED).await;
    assert_eq!(state["id"], "INC-1", "incidents are numbered from 1");
    assert_eq!(location.as_deref(), Some("/api/v1/incidents/INC-1"), "201 names where the incident lives");
    assert_eq!(state["phase"], "declared");
    assert_eq!(state["severity"], "sev2");
    assert_eq!(state["restricted"], false);
    assert_eq!(users(&state["roles"]["commander"]), [COMMANDER]);
    assert_eq!(users(&state["roles"]["legal"]), [LEGAL]);
    assert_eq!(state["blockers"], json!([]), "every required role is staffed");
    let inc = |path: &str| format!("/api/v1/incidents/INC-1{path}");

    // Roles: the commander staffs a responder and a scribe, then releases the scribe.
    let state =
        app.post_ok(COMMANDER, &inc("/roles"), json!({"role": "responder", "user": RESPONDER}), StatusCode::OK).await;
    assert_eq!(users(&state["roles"]["responder"]), [RESPONDER]);
    app.post_ok(COMMANDER, &inc("/roles"), json!({"role": "scribe", "user": OUTSIDER}), StatusCode::OK).await;
    let state = json_of(app.delete(COMMANDER, &inc("/roles/scribe/otto")).await, StatusCode::OK).await;
    assert!(state["roles"].get("scribe").is_none_or(|holders| holders == &json!([])), "released: {state}");

    // Phase and severity.
    let state = app.post_ok(COMMANDER, &inc("/phase"), json!({"phase": "triage"}), StatusCode::OK).await;
    assert_eq!(state["phase"], "triage");
    let body = json!({"severity": "sev1", "reason": "customer data may be involved"});
    let state = app.post_ok(COMMANDER, &inc("/severity"), body, StatusCode::OK).await;
    assert_eq!(state["severity"], "sev1");
    let state = app.post_ok(COMMANDER, &inc("/phase"), json!({"phase": "containment"}), StatusCode::OK).await;
    assert_eq!(state["phase"], "containment");

    // Facts: logged unverified, then verified or disproved with a basis.
    let body = json!({"text": "The key was used from 203.0.113.50", "source": "CloudTrail"});
    let fact = app.post_ok(TECH_LEAD, &inc("/facts"), body, StatusCode::CREATED).await;
    assert_eq!(fact["id"], "F-1");
    assert_eq!(fact["status"], "unverified");
    assert_eq!(fact["source"], "CloudTrail");
    let fact =
        app.post_ok(RESPONDER, &inc("/facts"), json!({"text": "The attacker changed IAM"}), StatusCode::CREATED).await;
    assert_eq!(fact["id"], "F-2");
    let body = json!({"basis": "CloudTrail event reviewed"});
    let fact = app.post_ok(TECH_LEAD, &inc("/facts/F-1/verify"), body, StatusCode::OK).await;
    assert_eq!(fact["status"], "verified");
    assert_eq!(fact["judged"]["by"], TECH_LEAD);
    assert_eq!(fact["judged"]["basis"], "CloudTrail event reviewed");
    let body = json!({"basis": "No IAM events in the window"});
    let fact = app.post_ok(COMMANDER, &inc("/facts/F-2/disprove"), body, StatusCode::OK).await;
    assert_eq!(fact["status"], "disproved");
    assert_eq!(fact["judged"]["by"], COMMANDER);

    // Tasks: created, assigned, done, blocked, cancelled.
    let due = in_days(30);
    let body = json!({"title": "Review CloudTrail", "owner": TECH_LEAD, "due": due});
    let task = app.post_ok(COMMANDER, &inc("/tasks"), body, StatusCode::CREATED).await;
    assert_eq!(task["id"], "T-1");
    assert_eq!(task["owner"], TECH_LEAD);
    assert_eq!(task["state"], "open");
    assert_eq!(task["due"], due);
    let task = app.post_ok(COMMANDER, &inc("/tasks/T-1/assign"), json!({"owner": RESPONDER}), StatusCode::OK).await;
    assert_eq!(task["owner"], RESPONDER);
    let task =
        app.post_ok(RESPONDER, &inc("/tasks/T-1/done"), json!({"note": "nothing else found"}), StatusCode::OK).await;
    assert_eq!(task["state"], "done");
    app.post_ok(COMMANDER, &inc("/tasks"), json!({"title": "Assess GDPR duties", "owner": LEGAL}), StatusCode::CREATED)
        .await;
    let body = json!({"reason": "waiting for the data inventory"});
    let task = app.post_ok(LEGAL, &inc("/tasks/T-2/block"), body, StatusCode::OK).await;
    assert_eq!(task["state"], "blocked");
    assert_eq!(task["note"], "waiting for the data inventory");
    app.post_ok(COMMANDER, &inc("/tasks"), json!({"title": "Call the vendor"}), StatusCode::CREATED).await;
    let task = app.post_ok(COMMANDER, &inc("/tasks/T-3/cancel"), json!({}), StatusCode::OK).await;
    assert_eq!(task["state"], "cancelled");

    // Decisions. Containment proposed by the tech lead waits on the commander.
    let body = json!({"class": "containment", "title": "Deactivate the key", "rationale": "It is public"});
    let decision = app.post_ok(TECH_LEAD, &inc("/decisions"), body, StatusCode::CREATED).await;
    assert_eq!(decision["id"], "D-1");
    assert_eq!(decision["state"], "proposed");
    assert_eq!(decision["proposer"], TECH_LEAD);
    assert_eq!(decision["must_act"], json!([{"role": "commander", "holders": [COMMANDER]}]), "{decision}");
    let decision = app.post_ok(COMMANDER, &inc("/decisions/D-1/approve"), json!({"note": "go"}), StatusCode::OK).await;
    assert_eq!(decision["state"], "approved");
    let approvers: Vec<&Value> = decision["approvals"].as_array().expect("approvals").iter().collect();
    assert!(approvers.iter().any(|a| a["user"] == COMMANDER && a["role"] == "commander" && a["note"] == "go"));
    assert!(approvers.iter().all(|a| a["at"].as_str().is_some()), "every approval has a time");

    // The commander proposing containment decides it alone (people = 1).
    let body = json!({"class": "containment", "title": "Block 203.0.113.50"});
    let decision = app.post_ok(COMMANDER, &inc("/decisions"), body, StatusCode::CREATED).await;
    assert_eq!(decision["id"], "D-2");
    assert_eq!(decision["state"], "approved", "{decision}");

    // Rejected with a reason.
    let body = json!({"class": "eradication", "title": "Rebuild every runner"});
    app.post_ok(TECH_LEAD, &inc("/decisions"), body, StatusCode::CREATED).await;
    let body = json!({"note": "too broad; rebuild the affected runner only"});
    let decision = app.post_ok(COMMANDER, &inc("/decisions/D-3/reject"), body, StatusCode::OK).await;
    assert_eq!(decision["state"], "rejected");
    assert_eq!(decision["rejections"][0]["user"], COMMANDER);
    assert_eq!(decision["rejections"][0]["note"], "too broad; rebuild the affected runner only");

    // Withdrawn by its proposer.
    let body = json!({"class": "recovery", "title": "Restore the pipeline"});
    app.post_ok(TECH_LEAD, &inc("/decisions"), body, StatusCode::CREATED).await;
    let decision = app.post_ok(TECH_LEAD, &inc("/decisions/D-4/withdraw"), json!({}), StatusCode::OK).await;
    assert_eq!(decision["state"], "withdrawn");

    // The two-person rule: a statement proposed by comms waits on legal, then legal approves.
    let draft = json!({"audience": "press", "title": "Holding statement", "text": "We are investigating."});
    app.post_ok(COMMS, &inc("/statements"), draft, StatusCode::CREATED).await;
    let body = json!({"class": "external_statement", "title": "Holding statement for customers", "statement": "ST-1"});
    let decision = app.post_ok(COMMS, &inc("/decisions"), body, StatusCode::CREATED).await;
    assert_eq!(decision["id"], "D-5");
    assert_eq!(decision["state"], "proposed", "comms alone cannot approve a statement");
    assert_eq!(decision["must_act"], json!([{"role": "legal", "holders": [LEGAL]}]), "{decision}");
    let state = app.state(LEGAL, "INC-1").await;
    assert_eq!(state["needs_your_decision"], json!(["D-5"]), "legal sees what waits on them");
    let decision = app.post_ok(LEGAL, &inc("/decisions/D-5/approve"), json!({}), StatusCode::OK).await;
    assert_eq!(decision["state"], "approved");
    let endorsers: Vec<&Value> =
        decision["approvals"].as_array().expect("approvals").iter().map(|a| &a["user"]).collect();
    assert_eq!(endorsers, [COMMS, LEGAL], "approved by two people: the proposer and legal");

    // A note.
    let note =
        app.post_ok(COMMANDER, &inc("/notes"), json!({"text": "Bridge call at 04:00"}), StatusCode::CREATED).await;
    assert_eq!(note["by"], COMMANDER);
    assert_eq!(note["text"], "Bridge call at 04:00");

    // The state is the fold of all of it.
    let state = app.state(EXECUTIVE, "INC-1").await;
    let fact_states: Vec<&Value> = state["facts"].as_array().expect("facts").iter().map(|f| &f["status"]).collect();
    assert_eq!(fact_states, ["verified", "disproved"]);
    let task_states: Vec<&Value> = state["tasks"].as_array().expect("tasks").iter().map(|t| &t["state"]).collect();
    assert_eq!(task_states, ["done", "blocked", "cancelled"]);
    let decision_states: Vec<&Value> =
        state["decisions"].as_array().expect("decisions").iter().map(|d| &d["state"]).collect();
    assert_eq!(decision_states, ["approved", "approved", "rejected", "withdrawn", "approved"]);
    assert_eq!(find(&state, "decisions", "D-5")["class"], "external_statement");
    assert_eq!(state["notes"][0]["text"], "Bridge call at 04:00");

    // The record: every change is an entry, chained by hash.
    let entries = app.record(EXECUTIVE, "INC-1").await;
    assert_chain(&entries);
    assert_eq!(entries.last().expect("entries")["seq"], state["seq"], "the state is as of the record's head");
    assert_eq!(entries.last().expect("entries")["hash"], state["head"]);
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().expect("a kind")).collect();
    for kind in [
        "incident.declared",
        "role.assigned",
        "role.released",
        "incident.phase_changed",
        "incident.severity_changed",
        "fact.logged",
        "fact.verified",
        "fact.disproved",
        "task.created",
        "task.assigned",
        "task.done",
        "task.blocked",
        "task.cancelled",
        "decision.proposed",
        "decision.approved",
        "decision.rejected",
        "decision.withdrawn",
        "note.added",
    ] {
        assert!(kinds.contains(&kind), "the record holds a {kind} entry: {kinds:?}");
    }
    assert!(entries.iter().all(|e| e["at"].as_str().is_some_and(|at| at.ends_with('Z'))), "server UTC times");
    assert_eq!(entries[0]["actor"], COMMANDER);

    // The SITREP, as JSON and as Markdown.
    let sitrep = app.get_json(EXECUTIVE, &inc("/sitrep")).await;
    assert_eq!(sitrep["incident"], "INC-1");
    assert_eq!(sitrep["phase"], "containment");
    assert_eq!(sitrep["as_of_seq"], state["seq"]);
    assert_eq!(sitrep["verified_facts"][0]["id"], "F-1");
    assert_eq!(sitrep["disproved_facts"][0]["id"], "F-2");
    let approved: Vec<&Value> =
        sitrep["approved_decisions"].as_array().expect("approved decisions").iter().map(|d| &d["id"]).collect();
    assert_eq!(approved, ["D-1", "D-2", "D-5"]);
    assert_eq!(sitrep["open_tasks"][0]["id"], "T-2", "the blocked task is still open work");
    let markdown = app
        .request(reqwest::Method::GET, Some(EXECUTIVE), &inc("/sitrep"))
        .header(ACCEPT, "text/markdown")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(markdown.status(), StatusCode::OK);
    assert!(content_type(markdown.headers()).starts_with("text/markdown"), "Markdown when asked for");
    let text = markdown.text().await.expect("a body");
    assert!(text.contains("INC-1"), "{text}");
    assert!(text.contains("Leaked AWS access key in a public repository"), "{text}");

    // Closing: after the review, the commander proposes, the executive approves.
    crate::review::ready_to_close(&app, "INC-1").await;
    let body = json!({"class": "close", "title": "Contained and eradicated; close"});
    let decision = app.post_ok(COMMANDER, &inc("/decisions"), body, StatusCode::CREATED).await;
    assert_eq!(decision["state"], "proposed");
    assert_eq!(decision["must_act"], json!([{"role": "executive", "holders": [EXECUTIVE]}]), "{decision}");
    let decision = app.post_ok(EXECUTIVE, &inc("/decisions/D-6/approve"), json!({}), StatusCode::OK).await;
    assert_eq!(decision["state"], "approved");
    let state = app.state(COMMANDER, "INC-1").await;
    assert_eq!(state["phase"], "closed", "an approved close decision closes the incident");
    let closed_seq = state["seq"].clone();

    // After closing, the record is final: every write is 409 and changes nothing.
    let writes = [
        ("/facts", json!({"text": "late"})),
        ("/notes", json!({"text": "late"})),
        ("/phase", json!({"phase": "recovery"})),
        ("/severity", json!({"severity": "sev3"})),
        ("/roles", json!({"role": "observer", "user": OUTSIDER})),
        ("/tasks", json!({"title": "late"})),
        ("/tasks/T-2/done", json!({})),
        ("/facts/F-1/disprove", json!({"basis": "late"})),
        ("/decisions", json!({"class": "containment", "title": "late"})),
    ];
    for (path, body) in writes {
        let problem = problem(app.post(COMMANDER, &inc(path), body).await, StatusCode::CONFLICT).await;
        assert!(problem["detail"].as_str().expect("detail").contains("closed"), "{path}: {problem}");
    }
    problem(app.delete(COMMANDER, &inc("/roles/responder/resp")).await, StatusCode::CONFLICT).await;
    assert_eq!(app.state(COMMANDER, "INC-1").await["seq"], closed_seq, "nothing was written after closing");
    assert_eq!(app.get_json(COMMANDER, "/api/v1/incidents?state=closed").await["incidents"][0]["id"], "INC-1");
}
