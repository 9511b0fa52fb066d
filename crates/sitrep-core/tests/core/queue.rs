//! What waits on a person (`IncidentView::queue`): the first thing the command view and the
//! incident list show them.

use crate::support;

use sitrep_core::IncidentView;
use sitrep_core::decide::IncidentCommand as C;
use support::*;

fn queue_of(w: &World, name: &str) -> (Vec<u64>, Vec<u64>, Vec<(u64, String)>) {
    let viewer = user(name);
    let view = IncidentView::of(&w.incident, &w.org.state, &viewer, w.org.now()).expect("a participant sees it");
    let queue = view.queue();
    (
        queue.decisions.iter().map(|d| d.id.0).collect(),
        queue.tasks.iter().map(|t| t.id.0).collect(),
        queue.stuck.iter().map(|d| (d.decision.id.0, d.waiting_on.clone().unwrap_or_default())).collect(),
    )
}

fn task_for(title: &str, owner: &str, due: Option<i64>) -> C {
    C::CreateTask { title: title.to_owned(), owner: Some(user(owner)), due: due.map(at) }
}

#[test]
fn a_person_s_tasks_wait_on_them_soonest_due_first_and_undated_last() {
    let mut w = world();
    act(&mut w, "cmd", task_for("Rotate the CI secrets", "tech", None)).expect("task 1");
    act(&mut w, "cmd", task_for("Check CloudTrail for use of the key", "tech", Some(7_200))).expect("task 2");
    act(&mut w, "cmd", task_for("Pull the deploy logs", "tech", Some(3_600))).expect("task 3");
    act(&mut w, "cmd", task_for("Brief the board", "exec", Some(60))).expect("task 4");
    act(&mut w, "tech", complete(3)).expect("tech finishes task 3");
    act(&mut w, "tech", block(1, "waiting on the vault admin")).expect("tech is blocked on task 1");

    let (decisions, tasks, stuck) = queue_of(&w, "tech");
    assert!(decisions.is_empty() && stuck.is_empty());
    assert_eq!(tasks, [2, 1], "open and blocked tasks wait on their owner; a done one does not");
    assert_eq!(queue_of(&w, "exec").1, [4], "each person sees their own tasks only");
}

#[test]
fn a_proposal_waits_on_its_approvers_and_is_stuck_for_its_proposer_until_decided() {
    let mut w = world();
    act(&mut w, "tech", propose("eradication", "Rebuild the runner")).expect("tech proposes");

    let (cmd_decisions, _, cmd_stuck) = queue_of(&w, "cmd");
    assert_eq!(cmd_decisions, [1], "the commander's approval is what it needs");
    assert!(cmd_stuck.is_empty());
    let (tech_decisions, _, tech_stuck) = queue_of(&w, "tech");
    assert!(tech_decisions.is_empty(), "a proposer does not approve their own proposal");
    assert_eq!(tech_stuck.len(), 1);
    assert_eq!(tech_stuck[0].0, 1);
    assert!(tech_stuck[0].1.contains("commander"), "it says on whom it waits: {}", tech_stuck[0].1);

    act(&mut w, "cmd", approve(1)).expect("cmd approves");
    for name in ["cmd", "tech"] {
        let (decisions, tasks, stuck) = queue_of(&w, name);
        assert!(decisions.is_empty() && tasks.is_empty() && stuck.is_empty(), "nothing waits on {name} once decided");
    }
}

#[test]
fn a_closed_incident_waits_on_nobody() {
    let mut w = world();
    act(&mut w, "cmd", task_for("Write the timeline", "tech", Some(60))).expect("task");
    assert_eq!(queue_of(&w, "tech").1, [1]);
    // Closing needs a review first; what matters here is only that the phase is final.
    w.incident.phase = sitrep_core::Phase::Closed;
    let viewer = user("tech");
    let view = IncidentView::of(&w.incident, &w.org.state, &viewer, w.org.now()).expect("sees it");
    assert!(view.queue().is_empty(), "what was left open at close is the record, not a to-do");
}
