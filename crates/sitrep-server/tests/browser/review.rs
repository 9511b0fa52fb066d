//! Reviewing and closing the demo incident through the command view.

use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::DecisionState;
use sitrep_core::incident::TaskState;
use sitrep_core::{IncidentNumber, Phase};
use sitrep_store::Request;

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools, user};

/// Runs `command` on the demo incident as `by`, through the ledger as the API would.
pub(crate) async fn act(server: &Server, by: &str, command: IncidentCommand) {
    let incident: IncidentNumber = DEMO_INCIDENT.parse().expect("an incident id");
    let what = format!("{command:?}");
    server
        .ledger
        .execute(&user(by), Request::Incident { incident, command })
        .await
        .unwrap_or_else(|refusal| panic!("{by}: {what}: {refusal}"));
}

/// Settles, as the commander, what closing needs besides the review and the clocks: every open
/// or blocked task done, every proposed decision withdrawn.
pub(crate) async fn settle_tasks_and_decisions(server: &Server) {
    let (tasks, decisions) = server.incident(DEMO_INCIDENT, |s| {
        let tasks: Vec<_> =
            s.tasks.iter().filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked)).map(|t| t.id).collect();
        let decisions: Vec<_> =
            s.decisions.iter().filter(|d| d.state == DecisionState::Proposed).map(|d| d.id).collect();
        (tasks, decisions)
    });
    for task in tasks {
        act(server, "maria", IncidentCommand::CompleteTask { task, note: None }).await;
    }
    for decision in decisions {
        act(server, "maria", IncidentCommand::Withdraw { decision, note: Some("settled before closing".into()) }).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commander_reviews_the_demo_incident_and_it_closes_once_the_executive_approves() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    maria.wait_for_text("#clocks", "GDPR Art. 33", PATIENCE).await;
    let clock = maria.text("#clocks .clock").await;
    assert!(clock.contains("left") && clock.contains("regulatory notification"), "the GDPR clock runs: {clock}");

    // Before the review, closing is not offered (the server would refuse it).
    let offers_close = "return !!document.querySelector(\"#decisions select[name=class] option[value='close']\");";
    assert_eq!(maria.js(offers_close, vec![]).await, serde_json::json!(false), "no close before the review");

    let lesson = "#review form[action$='/review/lessons']";
    maria
        .type_into(&format!("{lesson} textarea[name=what_happened]"), "A deploy key was pushed to a public repository")
        .await;
    maria.type_into(&format!("{lesson} textarea[name=why]"), "Long-lived keys; no pre-commit scanning").await;
    maria
        .type_into(&format!("{lesson} textarea[name=change]"), "Short-lived credentials; scanning on every push")
        .await;
    maria.click(&format!("{lesson} button[type=submit]")).await;
    maria.wait_for_text("#review", "L-1", PATIENCE).await;
    assert!(
        maria.find_all("#review form[action$='/review/complete']").await.is_empty(),
        "no completing before a control change"
    );

    let change = "#review form[action$='/review/changes']";
    maria.type_into(&format!("{change} input[name=title]"), "Enforce push protection on every repository").await;
    maria.select(&format!("{change} select[name=owner]"), "tom").await;
    // Two months from now, as the browser's datetime-local field spells it.
    let due = sitrep_testing::system_now().as_jiff() + jiff::SignedDuration::from_hours(60 * 24);
    maria
        .js(
            "document.querySelector(arguments[0] + ' input[name=due]').value = arguments[1];",
            vec![serde_json::json!(change), serde_json::json!(due.strftime("%Y-%m-%dT17:00").to_string())],
        )
        .await;
    maria.type_into(&format!("{change} input[name=csf]"), "PR.PS-06").await;
    maria.click(&format!("{change} button[type=submit]")).await;
    maria.wait_for_text("#review", "CC-1", PATIENCE).await;

    let complete = "#review form[action$='/review/complete']";
    maria.type_into(&format!("{complete} textarea[name=summary]"), "Key revoked within the hour; no data read.").await;
    maria.click(&format!("{complete} button[type=submit]")).await;
    maria.wait_for_text("#review", "Completed by maria", PATIENCE).await;

    // Reviewed, but the GDPR clock still runs: closing is not offered yet.
    assert_eq!(maria.js(offers_close, vec![]).await, serde_json::json!(false), "no close while a clock runs");

    // The executive approves the notification to the authority, which stops the clock.
    let notify = server.incident(DEMO_INCIDENT, |s| {
        s.decisions.iter().find(|d| d.class.as_str() == "regulatory_notification").map(|d| d.id.to_string())
    });
    let notify = notify.expect("the demo's notification to the authority");
    let eve = driver.browser(&server).await;
    eve.sign_in(&server, "eve").await;
    eve.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    eve.click(&format!("#needs-you form[action$='/decisions/{notify}/approve'] button[type=submit]")).await;

    // Approving is not sending: the clock runs until the commander records the notification sent.
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    assert_eq!(maria.js(offers_close, vec![]).await, serde_json::json!(false), "approved, not yet sent");
    let sent = "#clocks form[action$='/clocks/gdpr_art33/submission']";
    maria.type_into(&format!("{sent} input[name=authority]"), "CNIL").await;
    maria.type_into(&format!("{sent} input[name=channel]"), "notifications.cnil.fr").await;
    maria.type_into(&format!("{sent} input[name=reference]"), "CNIL-2026-0415").await;
    maria.click(&format!("{sent} button[type=submit]")).await;
    maria.wait_for_text("#clocks", "reference CNIL-2026-0415", PATIENCE).await;

    // Closing also needs the demo's open tasks done and its waiting statement withdrawn.
    settle_tasks_and_decisions(&server).await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    assert_eq!(maria.js(offers_close, vec![]).await, serde_json::json!(true), "close is offered now");
    maria.select("#decisions form[action$='/decisions'] select[name=class]", "close").await;
    maria.type_into("#decisions form[action$='/decisions'] input[name=title]", "Close: contained and reviewed").await;
    maria.click("#decisions form[action$='/decisions'] button[type=submit]").await;
    let decision = maria.decision_id("Close: contained and reviewed").await;
    eve.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    eve.click(&format!("#needs-you form[action$='/decisions/{decision}/approve'] button[type=submit]")).await;
    eventually("the incident to close", PATIENCE, || async {
        let phase = server.incident(DEMO_INCIDENT, |s| s.phase);
        if phase == Phase::Closed { Ok(()) } else { Err(format!("{phase:?}")) }
    })
    .await;

    // The control change is tracked organisation-wide after close; tom marks it done there.
    let tom = driver.browser(&server).await;
    tom.sign_in(&server, "tom").await;
    tom.open("/control-changes").await;
    tom.wait_for_text("main table", "Enforce push protection on every repository", PATIENCE).await;
    tom.click(&format!("form[action='/incidents/{DEMO_INCIDENT}/review/changes/CC-1/done'] button[type=submit]")).await;
    eventually("CC-1 to be done", PATIENCE, || async {
        let done = server.incident(DEMO_INCIDENT, |s| {
            s.review.control_changes[0].state == sitrep_core::incident::ControlChangeState::Done
        });
        if done { Ok(()) } else { Err("still open".to_owned()) }
    })
    .await;
}
