//! The record at the bottom of the command view: newest first, delivery notices folded away
//! until asked for, and filters by what an entry is about. CSS only, so no script is needed.

use serde_json::{Value, json};
use sitrep_core::decide::IncidentCommand;
use sitrep_store::Request;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, LIVE, Server, eventually, tools, user};

/// Entries that report rather than change (the demo's record has evidence reads and an action's
/// start; deliveries come as the worker runs).
const NOTICES: [&str; 3] = ["notification.delivered", "evidence.accessed", "action.started"];

/// The kinds of the record rows shown now, top to bottom.
async fn shown_kinds(browser: &Browser) -> Vec<String> {
    let kinds = browser
        .js(
            "return [...document.querySelectorAll('#timeline tbody tr')]\
             .filter(tr => getComputedStyle(tr).display !== 'none')\
             .map(tr => tr.querySelector('.kind').textContent);",
            vec![],
        )
        .await;
    kinds.as_array().expect("a list").iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_folds_delivery_notices_away_and_filters_by_what_entries_are_about() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;

    let seqs = maria
        .js(
            "return [...document.querySelectorAll('#timeline tbody tr td:first-child')].map(td => +td.textContent);",
            vec![],
        )
        .await;
    let seqs: Vec<u64> = seqs.as_array().expect("seqs").iter().filter_map(Value::as_u64).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");

    let folded = shown_kinds(&maria).await;
    assert!(!folded.is_empty(), "the record shows entries");
    assert!(
        folded.iter().all(|k| !NOTICES.contains(&k.as_str())),
        "delivery notices and reads are folded away by default: {folded:?}"
    );
    maria.click("#record-notices").await;
    let unfolded = shown_kinds(&maria).await;
    assert!(unfolded.iter().any(|k| NOTICES.contains(&k.as_str())), "and shown when asked: {unfolded:?}");
    assert!(unfolded.len() > folded.len());

    maria.click("#record-decisions").await;
    let decisions = shown_kinds(&maria).await;
    assert!(!decisions.is_empty(), "the demo's record has decisions");
    assert!(
        decisions.iter().all(|k| k.starts_with("decision.") || k.starts_with("action.")),
        "only decisions and their actions: {decisions:?}"
    );
    maria.click("#record-all").await;
    assert_eq!(shown_kinds(&maria).await, unfolded, "everything again");
    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_card_someone_unfolded_stays_unfolded_when_the_page_updates_live() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;

    let card = "#decisions article.decision.state-approved details.card";
    let folded = maria.js(&format!("return document.querySelector('{card}').open;"), vec![]).await;
    assert_eq!(folded, json!(false), "a decided card starts folded");
    maria.click(&format!("{card} > summary")).await;
    let id = maria.js(&format!("return document.querySelector('{card}').closest('article').id;"), vec![]).await;
    let id = id.as_str().expect("the card's id").to_owned();

    // Someone else's change arrives through the live stream and replaces the section.
    let before = maria.js("return document.getElementById('decisions').dataset.swap = 'old';", vec![]).await;
    assert_eq!(before, json!("old"));
    server
        .ledger
        .execute(
            &user("tom"),
            Request::Incident {
                incident: DEMO_INCIDENT.parse().expect("an id"),
                command: IncidentCommand::AddNote { text: "Bridge moved to the war room".into(), occurred: None },
            },
        )
        .await
        .expect("tom's note");
    eventually("the decisions section to be replaced", LIVE, || async {
        let swapped = maria.js("return document.getElementById('decisions').dataset.swap !== 'old';", vec![]).await;
        if swapped == json!(true) { Ok(()) } else { Err("not yet".to_owned()) }
    })
    .await;
    let open =
        maria.js("return document.querySelector('#' + arguments[0] + ' details.card').open;", vec![json!(id)]).await;
    assert_eq!(open, json!(true), "the card {id} is still unfolded after the update");
    maria.close().await;
}
