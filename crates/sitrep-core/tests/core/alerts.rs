//! Alerts: who is owed a telling, read off the record; told once, failures counted, links
//! opened once, the promised update reminded and digested.

use crate::support::*;

use sitrep_core::decide::{ActionFailure, IncidentCommand as C, OrgCommand as O, SystemCommand};
use sitrep_core::incident::AlertKind;
use sitrep_core::{DecisionId, Refusal};

/// The keys owed to `name` now, due or not.
fn owed(w: &World, name: &str) -> Vec<String> {
    let mut keys: Vec<String> = w
        .incident
        .alerts_owed(&w.org.state, w.org.now())
        .into_iter()
        .filter(|o| o.person.as_str() == name)
        .map(|o| o.key)
        .collect();
    keys.sort();
    keys
}

fn told(name: &str, about: &[&str], outcome: Result<Option<String>, ActionFailure>) -> SystemCommand {
    SystemCommand::Alerted {
        person: user(name),
        about: about.iter().map(|k| (*k).to_owned()).collect(),
        route: "email".into(),
        outcome,
    }
}

#[test]
fn each_role_holder_is_owed_their_role_but_the_commander_who_took_it_is_not() {
    let w = world();
    assert_eq!(owed(&w, "lee"), ["role:legal"]);
    assert_eq!(owed(&w, "exec"), ["role:executive"]);
    assert!(owed(&w, "cmd").is_empty(), "declaring made cmd commander: their own doing");
}

#[test]
fn a_decision_owes_its_approvers_an_alert_a_reminder_and_then_the_commander_an_escalation() {
    let mut w = world();
    act(&mut w, "resp", propose("evidence_sharing", "Share the log with the MSP")).expect("proposed");
    let due = |w: &World, key: &str| {
        w.incident.alerts_owed(&w.org.state, w.org.now()).into_iter().find(|o| o.key == key).map(|o| (o.kind, o.due_at))
    };
    let proposed_at = w.decision(1).proposed_at;
    assert_eq!(owed(&w, "lee"), ["decision:D-1", "reminder:D-1", "role:legal"]);
    assert_eq!(due(&w, "decision:D-1"), Some((AlertKind::Decision, proposed_at)));
    assert_eq!(due(&w, "reminder:D-1"), Some((AlertKind::Reminder, proposed_at.plus_seconds(30 * 60))));
    assert_eq!(due(&w, "escalation:D-1"), Some((AlertKind::Escalation, proposed_at.plus_seconds(60 * 60))));
    assert!(owed(&w, "resp").is_empty() || !owed(&w, "resp").contains(&"decision:D-1".to_owned()), "the proposer");
    // Once approved by both, nobody is owed anything about it.
    act(&mut w, "lee", approve(1)).expect("legal approves");
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    assert_eq!(owed(&w, "lee"), ["role:legal"]);
    assert!(owed(&w, "cmd").is_empty());
}

#[test]
fn a_telling_is_recorded_once_failures_are_counted_and_a_second_telling_is_refused() {
    let mut w = world();
    let failure = ActionFailure { reason: "SMTP 451 try later".into(), retryable: true };
    system(&mut w, told("lee", &["role:legal"], Err(failure))).expect("alert.failed");
    assert_eq!(w.incident.alerts.people[&user("lee")].failures["role:legal"], (1, false));
    assert_eq!(owed(&w, "lee"), ["role:legal"], "a retryable failure is still owed");
    system(&mut w, told("lee", &["role:legal"], Ok(Some("SMTP 250".into())))).expect("alert.sent");
    assert!(owed(&w, "lee").is_empty());
    let again = system(&mut w, told("lee", &["role:legal"], Ok(None)));
    assert!(matches!(again, Err(Refusal::Conflict(_))), "{again:?}");
    // A final failure is not owed again either.
    let failure = ActionFailure { reason: "550 no such mailbox".into(), retryable: false };
    system(&mut w, told("exec", &["role:executive"], Err(failure))).expect("alert.failed");
    assert!(owed(&w, "exec").is_empty());
    w.check_refold();
}

#[test]
fn a_task_owner_is_owed_the_task_then_due_soon_then_overdue() {
    let mut w = world();
    let due_at = w.org.now().plus_seconds(3 * 3600);
    let create = C::CreateTask { title: "Rotate the key".into(), owner: Some(user("tech")), due: Some(due_at) };
    act(&mut w, "cmd", create).expect("task created");
    let owed_tasks: Vec<String> = owed(&w, "tech").into_iter().filter(|k| k.starts_with("task")).collect();
    assert_eq!(owed_tasks, ["task:T-1", "task:T-1:due_soon", "task:T-1:overdue"]);
    let soon = w.incident.alerts_owed(&w.org.state, w.org.now()).into_iter().find(|o| o.key == "task:T-1:due_soon");
    assert_eq!(soon.map(|o| o.due_at), Some(due_at.plus_seconds(-3600)));
    act(&mut w, "tech", complete(1)).expect("done");
    assert!(owed(&w, "tech").iter().all(|k| !k.starts_with("task")), "a done task is owed nothing");
}

#[test]
fn a_review_link_opens_once_and_only_for_a_decision_of_the_incident() {
    let mut w = world();
    act(&mut w, "resp", propose("evidence_sharing", "Share the log")).expect("proposed");
    let open = |link: &str, decision: u64| C::OpenReviewLink { decision: DecisionId(decision), link: link.into() };
    act(&mut w, "lee", open("a1b2c3", 1)).expect("review_link.opened");
    assert!(conflict(act(&mut w, "lee", open("a1b2c3", 1))).contains("already used"));
    assert!(not_found(act(&mut w, "lee", open("d4e5f6", 9))).contains("D-9"));
    invalid(act(&mut w, "lee", open("not/a nonce", 1)), "link");
}

#[test]
fn only_the_commander_promises_the_next_update_within_a_week_and_subscribers_get_the_digest() {
    let mut w = world();
    let now = w.org.now();
    let promise = |minutes: i64, every: Option<u32>, subscribers: &[&str]| C::ScheduleUpdate {
        next_at: now.plus_seconds(minutes * 60),
        every_minutes: every,
        subscribers: subscribers.iter().map(|s| user(s)).collect(),
    };
    forbidden(act(&mut w, "lee", promise(60, None, &[])), "commander");
    invalid(act(&mut w, "cmd", promise(-5, None, &[])), "next_at");
    invalid(act(&mut w, "cmd", promise(8 * 24 * 60, None, &[])), "next_at");
    invalid(act(&mut w, "cmd", promise(60, Some(1), &[])), "every_minutes");
    invalid(act(&mut w, "cmd", promise(60, None, &["nobody"])), "subscribers");
    act(&mut w, "cmd", promise(60, Some(30), &["tech"])).expect("update.scheduled");
    let next = now.plus_seconds(3600);
    let due = |w: &World, key: &str| {
        w.incident
            .alerts_owed(&w.org.state, w.org.now())
            .into_iter()
            .filter(|o| o.key == key)
            .map(|o| o.person.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(due(&w, &format!("update:{next}")), ["cmd"], "the commander is reminded");
    let mut readers = due(&w, &format!("digest:{next}"));
    readers.sort();
    assert_eq!(readers, ["exec", "tech"], "the subscribers and the executive get the digest");
}

#[test]
fn contact_routes_are_set_by_the_user_or_an_admin_and_checked() {
    let mut org = org();
    let set = |user_name: &str, email: Option<&str>| O::SetContact {
        user: user(user_name),
        email: email.map(str::to_owned),
        webhook: None,
        mute: vec![AlertKind::Digest],
    };
    org.act("lee", set("lee", Some("lee@example.test"))).expect("user.contact_set");
    assert_eq!(org.state.users[&user("lee")].contact.email.as_deref(), Some("lee@example.test"));
    assert!(matches!(org.act("tech", set("lee", None)), Err(Refusal::Forbidden { .. })));
    org.act(ADMIN, set("lee", None)).expect("an admin may");
    for bad in ["no-at-sign", "a@b@c.test", "x@nodot", "x y@example.test", "x@example.test>,y@evil.test"] {
        let refused = org.act("lee", set("lee", Some(bad)));
        assert!(matches!(refused, Err(Refusal::Invalid { ref field, .. }) if field == "email"), "{bad}: {refused:?}");
    }
}
