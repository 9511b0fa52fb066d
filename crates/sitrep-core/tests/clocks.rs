//! Regulatory clocks: started by a determination, warned before, missed after, stopped by the
//! execution of a decision of their class.

mod support;

use sitrep_core::decide::{IncidentCommand as C, SystemCommand};
use sitrep_core::policy::{DEFAULT_POLICY, Deadline, Policy};
use sitrep_core::{DecisionClass, Timestamp};
use support::*;

const HOUR: i64 = 3600;

fn clock<'a>(w: &'a World, name: &str) -> &'a sitrep_core::incident::Clock {
    w.incident.clocks.iter().find(|c| c.clock == name).unwrap_or_else(|| panic!("no clock {name}"))
}

fn notify_regulator(clocks: &[&str]) -> C {
    C::Propose {
        class: class("regulatory_notification"),
        title: "Notify the regulator".into(),
        rationale: None,
        actions: Vec::new(),
        statement: None,
        clocks: clocks.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn ts(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().expect("an RFC 3339 time"))
}

#[test]
fn a_determination_starts_the_clocks_of_the_policy_from_the_moment_of_awareness() {
    let mut w = world();
    let aware = w.org.now().plus_seconds(-2 * HOUR);
    let entries = act(&mut w, "lee", determine("personal_data_breach", Some(aware))).expect("legal determines");
    assert_eq!(entries[0].kind, "determination.recorded");
    let gdpr = clock(&w, "gdpr_art33");
    assert_eq!((gdpr.started_at, gdpr.deadline), (aware, aware.plus_seconds(72 * HOUR)), "72 hours from awareness");
    assert_eq!(gdpr.warn_at, gdpr.deadline.plus_seconds(-12 * HOUR));
    assert_eq!(gdpr.stopped_by, class("regulatory_notification"));
    assert_eq!(gdpr.path, ["incident-channel", "legal", "executives"], "the stopping class's path is told");
    assert_eq!(w.incident.clocks.len(), 1, "only the clocks that start on this determination");

    act(&mut w, "cmd", determine("significant_incident", None)).expect("the commander determines");
    let names: Vec<&str> = w.incident.clocks.iter().map(|c| c.clock.as_str()).collect();
    assert_eq!(names, ["gdpr_art33", "nis2_early_warning", "nis2_notification", "nis2_final_report"]);
    let started = w.incident.determinations[1].at;
    assert_eq!(clock(&w, "nis2_early_warning").deadline, started.plus_seconds(24 * HOUR));

    // Refusals: twice, unknown, by someone the policy does not name, awareness in the future.
    says(&conflict(act(&mut w, "lee", determine("personal_data_breach", None))), &["already determined by lee"]);
    says(&invalid(act(&mut w, "lee", determine("alien_invasion", None)), "determination"), &["personal_data_breach"]);
    says(
        &forbidden(act(&mut w, "tech", determine("material", None)), "actions.determinations"),
        &["recording determinations needs the commander or legal role"],
    );
    let future = w.org.now().plus_seconds(HOUR);
    says(&invalid(act(&mut w, "lee", determine("material", Some(future))), "aware_at"), &["is in the future"]);
}

#[test]
fn business_days_skip_the_weekend() {
    // Thursday 10:00 UTC + 4 business days: Friday, Monday, Tuesday, Wednesday.
    assert_eq!(Deadline::BusinessDays(4).after(ts("2026-11-26T10:00:00Z")), ts("2026-12-02T10:00:00Z"));
    // Saturday + 1 business day is Monday, at the same time of day.
    assert_eq!(Deadline::BusinessDays(1).after(ts("2026-11-28T09:30:00Z")), ts("2026-11-30T09:30:00Z"));
    // Friday + 1 is Monday.
    assert_eq!(Deadline::BusinessDays(1).after(ts("2026-11-27T16:00:00Z")), ts("2026-11-30T16:00:00Z"));
    // A calendar month from 31 January is the last day of February.
    assert_eq!(Deadline::Months(1).after(ts("2027-01-31T12:00:00Z")), ts("2027-02-28T12:00:00Z"));
    assert_eq!(Deadline::Hours(72).after(ts("2026-11-27T16:00:00Z")), ts("2026-11-30T16:00:00Z"));

    // The SEC clock in an incident: determined on a Friday, due the next Thursday.
    let mut w = world();
    act(&mut w, "lee", determine("material", Some(ts("2026-11-27T16:26:00Z")))).expect("material");
    assert_eq!(clock(&w, "sec_8k_item_105").deadline, ts("2026-12-03T16:26:00Z"), "Fri + 4 business days = Thu");
}

#[test]
fn a_clock_stops_when_a_decision_of_its_class_is_executed() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    // A proposal does not stop it; the approval by legal and the executive does.
    act(&mut w, "lee", notify_regulator(&[])).expect("legal proposes");
    assert!(clock(&w, "gdpr_art33").is_running(), "proposing is not notifying");
    act(&mut w, "exec", approve(1)).expect("the executive approves");
    let stop = clock(&w, "gdpr_art33").stopped.clone().expect("stopped");
    assert_eq!((stop.decision, stop.met), (sitrep_core::DecisionId(1), true));

    // With actions, it stops when the last one has succeeded.
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let with_action = C::Propose {
        class: class("regulatory_notification"),
        title: "File with the DPA".into(),
        rationale: None,
        actions: vec![webhook("dpa-portal")],
        statement: None,
        clocks: Vec::new(),
    };
    act(&mut w, "lee", with_action).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("approved");
    assert!(clock(&w, "gdpr_art33").is_running(), "approved but not yet executed");
    system(&mut w, start(1, 0)).expect("started");
    system(&mut w, succeed(1, 0, Some("filed"))).expect("succeeded");
    assert_eq!(clock(&w, "gdpr_art33").stopped.as_ref().map(|s| s.decision), Some(sitrep_core::DecisionId(1)));
}

#[test]
fn without_names_the_clock_due_first_stops_and_named_clocks_stop_exactly_those() {
    let mut w = world();
    act(&mut w, "lee", determine("significant_incident", None)).expect("determined");
    act(&mut w, "lee", notify_regulator(&[])).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("approved");
    let stopped: Vec<&str> = w.incident.clocks.iter().filter(|c| !c.is_running()).map(|c| c.clock.as_str()).collect();
    assert_eq!(stopped, ["nis2_early_warning"], "the early warning is due first");

    act(&mut w, "lee", notify_regulator(&["nis2_final_report"])).expect("proposed naming the final report");
    act(&mut w, "exec", approve(2)).expect("approved");
    assert!(!clock(&w, "nis2_final_report").is_running());
    assert!(clock(&w, "nis2_notification").is_running(), "a named clock stops only itself");

    // Naming a clock that is not running, unknown, or of another class is refused.
    says(&invalid(act(&mut w, "lee", notify_regulator(&["nis2_final_report"])), "clocks[0]"), &["already stopped"]);
    says(&invalid(act(&mut w, "lee", notify_regulator(&["sec_8k_item_105"])), "clocks[0]"), &["has no clock"]);
    let containment = C::Propose {
        class: class("containment"),
        title: "Isolate".into(),
        rationale: None,
        actions: Vec::new(),
        statement: None,
        clocks: vec!["nis2_notification".into()],
    };
    says(&invalid(act(&mut w, "cmd", containment), "clocks[0]"), &["stopped by regulatory_notification"]);
}

#[test]
fn the_path_is_warned_before_the_deadline_and_a_missed_deadline_is_an_entry() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let start_n = w.org.clock;
    let warned = || SystemCommand::ClockWarned {
        clock: "gdpr_art33".into(),
        told: vec!["legal".into()],
        failed: vec!["executives: HTTP 503".into()],
    };
    let missed = || SystemCommand::ClockMissed { clock: "gdpr_art33".into() };
    says(&conflict(system(&mut w, warned())), &["not due a warning"]);
    says(&conflict(system(&mut w, missed())), &["has not run out"]);

    jump_to(&mut w, start_n + 60 * HOUR);
    let entries = system(&mut w, warned()).expect("warned at 60 hours");
    assert_eq!(entries[0].kind, "clock.warned");
    let warning = clock(&w, "gdpr_art33").warned.clone().expect("warned");
    assert_eq!((warning.told, warning.failed), (vec!["legal".to_owned()], vec!["executives: HTTP 503".to_owned()]));
    says(&conflict(system(&mut w, warned())), &["not due a warning"]);

    jump_to(&mut w, start_n + 72 * HOUR);
    let entries = system(&mut w, missed()).expect("missed at 72 hours");
    assert_eq!(entries[0].kind, "clock.missed");
    assert!(clock(&w, "gdpr_art33").missed_at.is_some() && clock(&w, "gdpr_art33").is_running());
    says(&conflict(system(&mut w, missed())), &["has not run out"]);

    // Notifying late still stops it, and the record says it was late.
    act(&mut w, "lee", notify_regulator(&[])).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("approved");
    assert_eq!(clock(&w, "gdpr_art33").stopped.as_ref().map(|s| s.met), Some(false));
}

#[test]
fn the_fold_refuses_clock_entries_that_could_not_have_been_decided() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let early =
        sitrep_core::events::IncidentEvent::ClockMissed(sitrep_core::events::ClockRef { clock: "gdpr_art33".into() });
    assert_eq!(fold_refuses(&w, w.head(), &worker(), early.clone()).reason, "the clock has not run out");
    assert_eq!(fold_refuses(&w, w.head(), &by("lee"), early).reason, "only the system writes this kind of entry");
}

#[test]
fn a_policy_clock_must_start_on_a_known_determination_and_stop_on_a_known_class() {
    let bad_start = DEFAULT_POLICY.replace("starts_on = \"material\"", "starts_on = \"bored\"");
    assert!(
        Policy::parse(&bad_start)
            .expect_err("refused")
            .to_string()
            .contains("starts_on: 'bored' is not one of [determinations]")
    );
    let bad_class =
        DEFAULT_POLICY.replacen("stopped_by = \"regulatory_notification\"", "stopped_by = \"astrology\"", 1);
    assert!(
        Policy::parse(&bad_class).expect_err("refused").to_string().contains("stopped_by: not a class of this policy")
    );
    let zero = DEFAULT_POLICY.replace("deadline = { hours = 72 }", "deadline = { hours = 0 }");
    assert!(Policy::parse(&zero).expect_err("refused").to_string().contains("must be more than zero"));
    let policy = Policy::default_policy();
    assert_eq!(policy.clocks.len(), 5);
    assert_eq!(policy.clocks[4].stopped_by, DecisionClass::parse("regulatory_notification").expect("a class"));
}

#[test]
fn an_incident_with_a_running_clock_does_not_close() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    review(&mut w);
    says(
        &conflict(act(&mut w, "cmd", propose("close", "Close"))),
        &["cannot close while the clock 'gdpr_art33'", "a regulatory_notification decision stops it"],
    );
    act(&mut w, "lee", notify_regulator(&[])).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("approved");
    act(&mut w, "cmd", propose("close", "Close")).expect("proposed once the clock stopped");
    act(&mut w, "exec", approve(2)).expect("closed");
    assert_eq!(w.incident.phase, sitrep_core::Phase::Closed);
}

#[test]
fn the_post_incident_report_judges_each_deadline() {
    use sitrep_core::post_report::PostIncidentReport;
    let mut w = world();
    act(&mut w, "lee", determine("significant_incident", None)).expect("determined");
    let start_n = w.org.clock;
    // The early warning goes out in time; the notification after its 72 hours.
    act(&mut w, "lee", notify_regulator(&["nis2_early_warning"])).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("in time");
    jump_to(&mut w, start_n + 80 * HOUR);
    act(&mut w, "lee", notify_regulator(&["nis2_notification"])).expect("proposed");
    act(&mut w, "exec", approve(2)).expect("late");
    let report = PostIncidentReport::of(&w.record, &w.incident, &w.org.state, w.org.now(), true);
    let outcomes: Vec<(&str, &str)> = report.deadlines.clocks.iter().map(|c| (c.clock.as_str(), c.outcome)).collect();
    assert_eq!(
        outcomes,
        [("nis2_early_warning", "met"), ("nis2_notification", "late"), ("nis2_final_report", "running")]
    );
    assert_eq!((report.deadlines.met, report.deadlines.total), (1, 3));
    let markdown = report.to_markdown();
    assert!(markdown.contains("1 of 3 regulatory deadline(s) met."), "{markdown}");
    assert!(markdown.contains("**late**, stopped by D-2"), "{markdown}");
}
