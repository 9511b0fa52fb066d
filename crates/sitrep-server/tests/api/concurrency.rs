//! Many people acting at once on one incident leave one consistent state and one chain.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sitrep_store::SqliteStore;
use sitrep_store::verify::verify_store;

use crate::helpers::*;

const CLIENTS: usize = 50;

/// One client: proposes a decision, then its approver approves it twice at once (a double
/// click, a retry without a key); exactly one of the two may count.
async fn client(
    address: String,
    tokens: Arc<BTreeMap<String, String>>,
    incident: String,
    n: usize,
) -> (String, Vec<u16>) {
    let client = reqwest::Client::new();
    let base = format!("{address}/api/v1/incidents/{incident}");
    let (proposer, approver, body) = if n.is_multiple_of(2) {
        (TECH_LEAD, COMMANDER, json!({"class": "containment", "title": format!("Isolate host {n}")}))
    } else {
        // A statement decision approves a text: comms drafts it first.
        let drafted: Value = client
            .post(format!("{base}/statements"))
            .bearer_auth(&tokens[COMMS])
            .json(&json!({"audience": "press", "title": format!("Statement {n}"), "text": format!("Text {n}.")}))
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let statement = drafted["id"].as_str().expect("a statement id").to_owned();
        (
            COMMS,
            LEGAL,
            json!({"class": "external_statement", "title": format!("Statement {n}"), "statement": statement}),
        )
    };
    let response = client
        .post(format!("{base}/decisions"))
        .bearer_auth(&tokens[proposer])
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::CREATED, "client {n} proposes");
    let decision: Value = response.json().await.expect("JSON");
    assert_eq!(decision["state"], "proposed", "client {n}: the proposer alone does not decide it");
    let id = decision["id"].as_str().expect("an id").to_owned();
    let approve =
        || client.post(format!("{base}/decisions/{id}/approve")).bearer_auth(&tokens[approver]).json(&json!({})).send();
    let (first, second) = tokio::join!(approve(), approve());
    let statuses = vec![first.expect("answers").status().as_u16(), second.expect("answers").status().as_u16()];
    (id, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_clients_leave_a_consistent_state_and_a_verifying_chain() {
    let mut app = spawn_app().await;
    let incident = app.standard_incident("Many hands", false).await;
    let declared = app.record(COMMANDER, &incident).await.len();
    let tokens: Arc<BTreeMap<String, String>> =
        Arc::new(app.tokens.iter().map(|(name, token)| (name.clone(), token.clone())).collect());

    let tasks: Vec<_> =
        (0..CLIENTS).map(|n| tokio::spawn(client(app.address.clone(), tokens.clone(), incident.clone(), n))).collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        let (id, mut statuses) = task.await.expect("the client finishes");
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{id}: one approval counts, the second finds it decided");
        assert!(ids.insert(id.clone()), "{id} was handed to two clients");
    }
    let expected: BTreeSet<String> = (1..=CLIENTS).map(|n| format!("D-{n}")).collect();
    assert_eq!(ids, expected, "decisions are numbered D-1..D-{CLIENTS} without a gap");

    // The state: every decision approved, explicitly, exactly once, by its approver.
    let state = app.state(COMMANDER, &incident).await;
    let decisions = state["decisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), CLIENTS);
    for decision in decisions {
        assert_eq!(decision["state"], "approved", "{decision}");
        let explicit: Vec<&str> = decision["approvals"]
            .as_array()
            .expect("approvals")
            .iter()
            .filter(|a| a["implied"] == false)
            .map(|a| a["user"].as_str().expect("user"))
            .collect();
        let approver = if decision["class"] == "containment" { COMMANDER } else { LEGAL };
        assert_eq!(explicit, [approver], "{}: approved once, by {approver}", decision["id"]);
    }

    // The record: two entries per client (and the drafts statement decisions approve), each
    // counted once, in one verifying chain.
    let entries = app.record(COMMANDER, &incident).await;
    let drafts = CLIENTS / 2;
    assert_eq!(entries.len(), declared + 2 * CLIENTS + drafts, "one proposal and one approval per client");
    assert_eq!(entries.iter().filter(|e| e["kind"] == "statement.drafted").count(), drafts);
    let count = |kind: &str| entries.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(count("decision.proposed"), CLIENTS);
    assert_eq!(count("decision.approved"), CLIENTS);
    assert_eq!(state["seq"], json!(entries.len()), "the state is the fold of the whole record");
    assert_chain(&entries);

    // After the server stops, the store on disk verifies from its raw rows.
    app.stop().await;
    let store = SqliteStore::open_read_only(&app.data.join("sitrep.db")).expect("the store opens read-only");
    let verified = verify_store(&store, &mut |_| {}).expect("every chain in the store verifies");
    assert_eq!(verified.records, 2, "the organisation record and the incident");
    let org_entries = verified.entries - entries.len() as u64;
    assert!(org_entries > 0, "{verified:?}");
}
