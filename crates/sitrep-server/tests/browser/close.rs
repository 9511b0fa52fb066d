//! Closing the demo incident from the command view: the pre-close checklist names what is
//! open, closing is offered only once it is clear, and after close the signed bundle downloads
//! from the page and verifies.

use std::path::Path;

use serde_json::json;
use sitrep_core::Phase;
use sitrep_core::bundle::{Options, verify_bytes};
use sitrep_core::checkpoint::parse_public_key;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::DecisionState;
use sitrep_core::ids::LessonId;
use sitrep_core::incident::TaskState;

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools, user};
use crate::review::{act, settle_tasks_and_decisions};

/// The review completed and every open clock stopped with legal's basis, as the demo people.
async fn review_and_stop_clocks(server: &Server) {
    let lesson = IncidentCommand::RecordLesson {
        what_happened: "A deploy key was pushed to a public repository".into(),
        why: "Long-lived keys; no scanning on push".into(),
        change: "Short-lived credentials; push protection".into(),
    };
    act(server, "maria", lesson).await;
    let due = sitrep_testing::system_now().plus_seconds(60 * 86_400);
    let change = IncidentCommand::PlanControlChange {
        lesson: LessonId(1),
        title: "Push protection on every repository".into(),
        owner: user("tom"),
        due,
        csf: "PR.PS-06".into(),
    };
    act(server, "maria", change).await;
    act(server, "maria", IncidentCommand::CompleteReview { summary: "Key revoked within the hour.".into() }).await;
    let clocks = server.incident(DEMO_INCIDENT, |s| {
        s.clocks.iter().filter(|c| c.is_open()).map(|c| c.clock.clone()).collect::<Vec<_>>()
    });
    for clock in clocks {
        let basis = "The key reached no personal data (CloudTrail reviewed)".to_owned();
        act(server, "lena", IncidentCommand::NotificationNotRequired { clock, basis }).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_names_what_is_open_and_closing_then_exporting_works_from_the_page() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    let page = format!("/incidents/{DEMO_INCIDENT}");

    // Mid-incident the checklist is one folded line; it unfolds once the review is complete.
    maria.open(&page).await;
    let folded = maria.wait_for_text("#close", "Before closing", PATIENCE).await;
    assert!(folded.contains("decisions, 1 clock and the review"), "{folded}");
    let unfolded = "return document.querySelector('#close details.close-checklist').open;";
    assert_eq!(maria.js(unfolded, vec![]).await, json!(false));
    review_and_stop_clocks(&server).await;
    maria.open(&page).await;
    assert_eq!(maria.js(unfolded, vec![]).await, json!(true));

    // The demo still has open tasks and a proposed statement: each is named, with a link to it.
    let (task, decision) = server.incident(DEMO_INCIDENT, |s| {
        let task = s.tasks.iter().find(|t| t.state == TaskState::Open).map(|t| (t.id.to_string(), t.title.clone()));
        let decision = s
            .decisions
            .iter()
            .find(|d| d.state == DecisionState::Proposed)
            .map(|d| (d.id.to_string(), d.title.clone()));
        (task, decision)
    });
    let ((task_id, task_title), (decision_id, decision_title)) =
        (task.expect("the demo has an open task"), decision.expect("the demo has a proposed decision"));
    let checklist = maria.wait_for_text("#close", &task_title, PATIENCE).await;
    assert!(checklist.contains(&format!("{task_id} {task_title}")), "{checklist}");
    assert!(checklist.contains(&format!("{decision_id} {decision_title}")), "{checklist}");
    let link = "return document.querySelector(arguments[0]).getAttribute('href');";
    let decision_link = format!("#close a[href='#decision-{decision_id}']");
    assert_eq!(maria.js(link, vec![json!(decision_link)]).await, json!(format!("#decision-{decision_id}")));
    assert!(!maria.find_all("#close a[href='#tasks']").await.is_empty(), "each task links to the tasks");
    assert!(maria.find_all("#close form[action$='/close']").await.is_empty(), "no closing while items are open");
    let offers_close = "return !!document.querySelector(\"#decisions select[name=class] option[value='close']\");";
    assert_eq!(maria.js(offers_close, vec![]).await, json!(false), "nor in the general propose form");

    // A task that moves into a control change is cancelled from the checklist, with the note.
    let form = format!("form[action$='/tasks/{task_id}/cancel']");
    let cancel = format!("#close {form}");
    maria.click(&format!("#close details.cancel-task:has({form}) summary")).await;
    maria.type_into(&format!("{cancel} input[name=note]"), "carried on in CC-1").await;
    maria.click(&format!("{cancel} button[type=submit]")).await;
    eventually("the task to be cancelled", PATIENCE, || async {
        let task = server.incident(DEMO_INCIDENT, |s| {
            s.tasks.iter().find(|t| t.id.to_string() == task_id).map(|t| (t.state, t.note.clone()))
        });
        match task {
            Some((TaskState::Cancelled, Some(note))) if note == "carried on in CC-1" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // The page shows it settled once the change is in (without a reload).
    eventually("the checklist without the cancelled task", PATIENCE, || async {
        let checklist = maria.wait_for_text("#close", "Before closing", PATIENCE).await;
        if checklist.contains(&format!("{task_id} {task_title}")) { Err(checklist) } else { Ok(()) }
    })
    .await;

    // Settled (tasks done, decisions withdrawn), the checklist is clear and closing is offered.
    settle_tasks_and_decisions(&server).await;
    maria.open(&page).await;
    maria.wait_for_text("#close", "Nothing is left open", PATIENCE).await;
    maria
        .type_into("#close form[action$='/close'] textarea[name=rationale]", "Contained, reviewed, nothing owed.")
        .await;
    maria.click("#close form[action$='/close'] button[type=submit]").await;
    let proposed = maria.wait_for_text("#close", "Closing is proposed", PATIENCE).await;
    let close = server.incident(DEMO_INCIDENT, |s| {
        s.decisions.iter().find(|d| d.class.as_str() == "close").map(|d| (d.id.to_string(), d.rationale.clone()))
    });
    let (close, rationale) = close.expect("a close decision was proposed from the page");
    assert_eq!(rationale.as_deref(), Some("Contained, reviewed, nothing owed."));
    assert!(proposed.contains(&close), "{proposed}");

    // The policy wants the executive too: eve approves from her queue, and the incident closes.
    let eve = driver.browser(&server).await;
    eve.sign_in(&server, "eve").await;
    eve.open(&page).await;
    eve.click(&format!("#needs-you form[action$='/decisions/{close}/approve'] button[type=submit]")).await;
    eventually("the incident to close", PATIENCE, || async {
        let phase = server.incident(DEMO_INCIDENT, |s| s.phase);
        if phase == Phase::Closed { Ok(()) } else { Err(format!("{phase:?}")) }
    })
    .await;

    // After close: the bundle, the report and the line that checks the bundle.
    maria.open(&page).await;
    let closed = maria.wait_for_text("#close", "is closed", PATIENCE).await;
    assert!(
        closed.contains(&format!("sitrep verify-bundle {DEMO_INCIDENT}.sitrep-bundle.tar --key deployment.pub")),
        "{closed}"
    );
    let key = server.ledger.org().public_key.clone();
    assert!(closed.contains(&key), "the page shows the deployment's key to compare: {closed}");
    assert!(!maria.find_all(&format!("#close a[href='/incidents/{DEMO_INCIDENT}/report']")).await.is_empty());

    let downloads = tempfile::tempdir().expect("a download directory");
    let params = json!({ "behavior": "allow", "downloadPath": downloads.path().display().to_string() });
    maria.cdp("Browser.setDownloadBehavior", params).await;
    maria.click("#close form[action$='/bundle'] button[type=submit]").await;
    let file = downloads.path().join(format!("{DEMO_INCIDENT}.sitrep-bundle.tar"));
    let bytes = eventually("the bundle to be downloaded", PATIENCE, || async { downloaded(&file) }).await;
    let verified = verify_bytes(&bytes, &Options { key: Some(parse_public_key(&key).expect("a key")), earlier: None })
        .unwrap_or_else(|failure| panic!("the downloaded bundle does not verify: {failure}"));
    let head = server.incident(DEMO_INCIDENT, |s| s.seq);
    assert_eq!((verified.incident.to_string(), verified.entries), (DEMO_INCIDENT.to_owned(), head), "the whole record");
    assert_eq!(maria.path().await, page, "the download leaves the page where it was");

    // A post without the session's CSRF token downloads nothing.
    let forged = "return fetch(arguments[0], {method: 'POST', body: new URLSearchParams({csrf: 'forged'})})\
                  .then(r => r.status);";
    let status = maria.js(forged, vec![json!(format!("{page}/bundle"))]).await;
    assert_eq!(status, json!(403), "a forged download is refused");

    // The bundle lists the evidence: someone the evidence rule leaves out is told, not offered it.
    let chris = driver.browser(&server).await;
    chris.sign_in(&server, "chris").await;
    chris.open(&page).await;
    chris.wait_for_text("#close", "only those the policy lets read evidence", PATIENCE).await;
    assert!(chris.find_all("#close form[action$='/bundle']").await.is_empty(), "no download for comms");
}

/// The finished file's bytes (Chromium writes to a `.crdownload` file first, then renames it).
fn downloaded(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}
