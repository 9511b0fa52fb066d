//! The record at the bottom of the command view: newest first, delivery notices folded away
//! until asked for, and filters by what an entry is about. CSS only, so no script is needed.

use serde_json::Value;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, Server, tools};

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
