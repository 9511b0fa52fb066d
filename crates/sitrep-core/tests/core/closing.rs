//! Closing: the pre-close checklist, and `close` refused while anything on it is open.

use sitrep_core::Phase;
use sitrep_core::events::DecisionState;
use sitrep_core::ids::{DecisionId, TaskId};
use sitrep_core::incident::OpenTask;

use crate::support::*;

#[test]
fn the_checklist_names_every_open_task_decision_clock_and_the_review() {
    let mut w = world();
    act(&mut w, "cmd", task("Rotate the deploy key")).expect("T-1");
    act(&mut w, "cmd", task("Scan the other repositories")).expect("T-2");
    act(&mut w, "cmd", task("Tell the vendor")).expect("T-3");
    act(&mut w, "cmd", block(2, "waiting for access")).expect("T-2 blocked");
    act(&mut w, "cmd", complete(3)).expect("T-3 done");
    act(&mut w, "resp", propose("credential_revocation", "Revoke the key")).expect("D-1 proposed, waiting");
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("a clock starts");

    let list = w.incident.close_checklist(None);
    assert!(!list.is_clear());
    assert_eq!(
        list.tasks,
        [
            OpenTask { id: TaskId(1), title: "Rotate the deploy key".into(), blocked: false },
            OpenTask { id: TaskId(2), title: "Scan the other repositories".into(), blocked: true },
        ],
        "a blocked task is still open; a done one is not listed"
    );
    assert_eq!(list.decisions.iter().map(|d| d.id).collect::<Vec<_>>(), [DecisionId(1)]);
    assert_eq!(list.clocks.iter().map(|c| c.clock.as_str()).collect::<Vec<_>>(), ["gdpr_art33"]);
    assert_eq!(list.review.as_deref(), Some("record its lessons, turn each into control changes, then complete it"));
    let items = list.items();
    assert_eq!(items.len(), 4, "{items:#?}");
    assert_eq!(
        items[0],
        "2 tasks open: T-1 'Rotate the deploy key', T-2 'Scan the other repositories' (blocked); mark each done, \
         or cancel it saying which control change carries it on"
    );
    assert_eq!(
        items[1],
        "1 decision still proposed: D-1 'Revoke the key' (credential_revocation); approve, reject or withdraw each"
    );
    assert!(items[2].starts_with("the clock 'gdpr_art33'"));
    assert!(items[3].starts_with("the post-incident review is not complete"));
}

#[test]
fn close_is_refused_while_anything_is_open_and_the_refusal_lists_it_all() {
    let mut w = world();
    review(&mut w);
    act(&mut w, "cmd", task("Rotate the deploy key")).expect("T-1");
    act(&mut w, "resp", propose("credential_revocation", "Revoke the key")).expect("D-1 proposed, waiting");
    let seq = w.incident.seq;
    assert_eq!(
        conflict(act(&mut w, "cmd", propose("close", "Close INC-1"))),
        "INC-1 cannot close yet: 1 task open: T-1 'Rotate the deploy key'; mark each done, or cancel it saying which \
         control change carries it on; 1 decision still proposed: D-1 'Revoke the key' (credential_revocation); \
         approve, reject or withdraw each"
    );
    assert_eq!(w.incident.seq, seq, "a refusal writes nothing");

    // A cancelled task and a withdrawn decision are settled.
    act(&mut w, "cmd", cancel(1)).expect("T-1 cancelled, carried into CC-1");
    says(
        &conflict(act(&mut w, "cmd", propose("close", "Close INC-1"))),
        &["cannot close yet: 1 decision still proposed: D-1 'Revoke the key'"],
    );
    act(&mut w, "resp", withdraw(1)).expect("D-1 withdrawn");
    assert!(w.incident.close_checklist(None).is_clear());
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("close proposed once the checklist is clear");
    let close = DecisionId(2);
    assert_eq!(
        w.incident.close_checklist(Some(close)),
        Default::default(),
        "the close decision is not its own obstacle"
    );
    act(&mut w, "exec", approve(2)).expect("approved: closed");
    assert_eq!(w.incident.phase, Phase::Closed);
}

#[test]
fn approving_close_is_refused_when_something_opened_after_it_was_proposed() {
    let mut w = world();
    review(&mut w);
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("D-1: close proposed");
    act(&mut w, "cmd", task("One more thing")).expect("T-1 after the proposal");
    says(&conflict(act(&mut w, "exec", approve(1))), &["INC-1 cannot close yet: 1 task open: T-1 'One more thing';"]);
    assert_eq!(w.decision(1).state, DecisionState::Proposed, "the refused approval changed nothing");
    act(&mut w, "cmd", complete(1)).expect("T-1 done");
    act(&mut w, "exec", approve(1)).expect("approved: closed");
    assert_eq!(w.incident.phase, Phase::Closed);
}
