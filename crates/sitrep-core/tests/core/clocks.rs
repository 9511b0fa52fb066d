//! Regulatory clocks: started by a determination, warned before, missed after, met only by a
//! recorded submission of an approved text, or stopped unmet by legal with a basis.

use crate::support;

use sitrep_core::decide::{IncidentCommand as C, SystemCommand};
use sitrep_core::events::Audience;
use sitrep_core::ids::StatementId;
use sitrep_core::incident::{ClockOutcome, ReleaseReason};
use sitrep_core::policy::{DEFAULT_POLICY, Deadline, Policy};
use sitrep_core::{DecisionClass, DecisionId, Timestamp};
use support::*;

const HOUR: i64 = 3600;

fn clock<'a>(w: &'a World, name: &str) -> &'a sitrep_core::incident::Clock {
    w.incident.clocks.iter().find(|c| c.clock == name).unwrap_or_else(|| panic!("no clock {name}"))
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

/// Drafts a statement to the regulator, has legal propose it through regulatory_notification
/// (naming `clocks`) and the executive approve it; returns the statement's and decision's numbers.
fn approved_regulator_text(w: &mut World, text: &str, clocks: &[&str]) -> (u64, u64) {
    act(w, "lee", draft(Audience::Regulator, text)).expect("legal drafts");
    let statement = w.incident.statements.len() as u64;
    let propose = C::Propose {
        class: class("regulatory_notification"),
        title: "Notify the authority".into(),
        rationale: None,
        actions: Vec::new(),
        statement: Some(StatementId(statement)),
        clocks: clocks.iter().map(|c| (*c).to_owned()).collect(),
    };
    act(w, "lee", propose).expect("legal proposes");
    let decision = w.incident.decisions.len() as u64;
    act(w, "exec", approve(decision)).expect("the executive approves");
    (statement, decision)
}

fn submit(clock: &str, sent_at: Timestamp, statement: u64, version: u32) -> C {
    C::SubmitNotification {
        clock: clock.to_owned(),
        sent_at,
        authority: "CNIL".into(),
        channel: "notifications.cnil.fr".into(),
        reference: "CNIL-2026-0415".into(),
        statement: StatementId(statement),
        version,
    }
}

#[test]
fn approving_a_notification_does_not_meet_the_clock_only_a_recorded_submission_does() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let (statement, decision) = approved_regulator_text(&mut w, "We report a personal data breach.", &[]);
    assert_eq!(w.decision(decision).state, sitrep_core::events::DecisionState::Approved);
    let gdpr = clock(&w, "gdpr_art33");
    assert!(gdpr.is_running(), "approving to notify is not having notified");
    assert!(gdpr.submission.is_none());

    let sent = w.org.now();
    let entries = act(&mut w, "lee", submit("gdpr_art33", sent, statement, 1)).expect("legal records the submission");
    assert_eq!(entries[0].kind, "clock.submitted");
    let gdpr = clock(&w, "gdpr_art33");
    assert!(!gdpr.is_running());
    let submission = gdpr.submission.clone().expect("submitted");
    assert_eq!(
        (submission.authority.as_str(), submission.channel.as_str(), submission.reference.as_str()),
        ("CNIL", "notifications.cnil.fr", "CNIL-2026-0415")
    );
    assert_eq!((submission.sent_at, submission.met), (sent, true));
    assert_eq!((submission.statement.statement, submission.statement.version), (StatementId(statement), 1));
    assert_eq!(submission.decision, DecisionId(decision));
    assert_eq!(gdpr.outcome(w.org.now()), ClockOutcome::Met);
}

#[test]
fn a_submission_is_refused_when_malformed_unauthorised_unapproved_duplicate_or_from_another_class() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let now = w.org.now();
    // Nothing approved yet: the statement exists but no decision approved it.
    act(&mut w, "lee", draft(Audience::Regulator, "Draft only.")).expect("drafted");
    says(
        &forbidden(act(&mut w, "lee", submit("gdpr_art33", now, 1, 1)), "classes.regulatory_notification.approve"),
        &["has no approved regulatory_notification decision"],
    );
    let (statement, decision) = approved_regulator_text(&mut w, "We report a breach.", &[]);
    let approved_at = w.decision(decision).decided_at.expect("decided");
    let before = w.incident.seq;

    // Who: the technical lead may not record it.
    says(
        &forbidden(act(&mut w, "tech", submit("gdpr_art33", approved_at, statement, 1)), "actions.submissions"),
        &["needs the legal or commander role"],
    );
    // What: unknown clock, missing reference, unknown version, sent before approval or in the future.
    says(&not_found(act(&mut w, "lee", submit("nis2_notification", approved_at, statement, 1))), &["has no clock"]);
    let mut blank = submit("gdpr_art33", approved_at, statement, 1);
    if let C::SubmitNotification { reference, .. } = &mut blank {
        reference.clear();
    }
    says(&invalid(act(&mut w, "lee", blank), "reference"), &["the authority's reference"]);
    says(
        &invalid(act(&mut w, "lee", submit("gdpr_art33", approved_at, statement, 7)), "version"),
        &["has no version 7"],
    );
    says(
        &invalid(act(&mut w, "lee", submit("gdpr_art33", approved_at.plus_seconds(-60), statement, 1)), "sent_at"),
        &["approve first, then send"],
    );
    let now = w.org.now().plus_seconds(HOUR);
    says(&invalid(act(&mut w, "lee", submit("gdpr_art33", now, statement, 1)), "sent_at"), &["is in the future"]);
    // A press statement approved through external_statement is not a notification to the authority.
    act(&mut w, "cora", draft(Audience::Press, "Press line.")).expect("drafted");
    act(&mut w, "cora", propose_statement("external_statement", 3)).expect("proposed");
    let press = w.incident.decisions.len() as u64;
    act(&mut w, "lee", approve(press)).expect("approved");
    let now = w.org.now();
    says(
        &invalid(act(&mut w, "lee", submit("gdpr_art33", now, 3, 1)), "statement"),
        &["the clock 'gdpr_art33' is met by a statement approved through regulatory_notification"],
    );
    assert!(clock(&w, "gdpr_art33").is_running(), "nothing refused changed the clock");
    assert!(w.incident.seq > before);

    // Twice: the second submission for the same clock is a conflict naming the first.
    let now = w.org.now();
    act(&mut w, "lee", submit("gdpr_art33", now, statement, 1)).expect("first");
    let now = w.org.now();
    says(
        &conflict(act(&mut w, "cmd", submit("gdpr_art33", now, statement, 1))),
        &["already met by the notification to CNIL", "reference CNIL-2026-0415"],
    );
}

#[test]
fn two_submissions_decided_against_the_same_state_the_second_is_refused_by_the_fold() {
    // Concurrent requests reach the single writer one after the other; the second is decided
    // against the first's state and refused. A second entry forged past decide is refused by the fold.
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let (statement, decision) = approved_regulator_text(&mut w, "We report a breach.", &[]);
    let sent = w.org.now();
    let event = sitrep_core::events::IncidentEvent::ClockSubmitted(sitrep_core::events::ClockSubmitted {
        clock: "gdpr_art33".into(),
        sent_at: sent,
        authority: "CNIL".into(),
        channel: "portal".into(),
        reference: "R-1".into(),
        statement: w.decision(decision).statement.clone().expect("bound"),
        decision: DecisionId(decision),
    });
    assert_eq!(fold_refuses(&w, w.head(), &worker(), event.clone()).reason, "only people write this kind of entry");
    act(&mut w, "lee", submit("gdpr_art33", sent, statement, 1)).expect("the first");
    assert_eq!(fold_refuses(&w, w.head(), &by("cmd"), event).reason, "the clock is not running");
}

#[test]
fn the_nis2_final_report_runs_from_the_incident_notifications_submission_not_from_awareness() {
    let mut w = world();
    let aware = w.org.now().plus_seconds(-10 * HOUR);
    act(&mut w, "lee", determine("significant_incident", Some(aware))).expect("determined");
    let final_report = clock(&w, "nis2_final_report");
    assert_eq!(final_report.waiting_for.as_deref(), Some("nis2_notification"));
    assert!(!final_report.is_running() && final_report.is_open(), "waits, owed, not counting down");
    assert_eq!(final_report.outcome(w.org.now()), ClockOutcome::Waiting);
    let now = w.org.now();
    says(
        &conflict(act(&mut w, "lee", submit("nis2_final_report", now, 1, 1))),
        &["runs from the submission of 'nis2_notification'"],
    );

    let report = report_of(&w.record, &w.incident, &w, "cmd");
    says(
        &report.to_markdown(),
        &["final report (significant incident): starts when nis2_notification is submitted: **waiting**"],
    );
    let (statement, _) = approved_regulator_text(&mut w, "Incident notification.", &["nis2_notification"]);
    let later = w.org.clock + 30 * HOUR;
    jump_to(&mut w, later);
    let sent = w.org.now().plus_seconds(-HOUR);
    act(&mut w, "lee", submit("nis2_notification", sent, statement, 1)).expect("notification submitted");
    let final_report = clock(&w, "nis2_final_report");
    assert!(final_report.is_running());
    assert_eq!(final_report.started_at, sent, "from the notification's sending");
    assert_eq!(final_report.deadline, Deadline::Months(1).after(sent));
    assert_ne!(final_report.deadline, Deadline::Months(1).after(aware), "not from awareness");
}

#[test]
fn legal_withdraws_a_determination_or_records_a_notification_not_required_and_the_record_says_why() {
    let mut w = world();
    act(&mut w, "lee", determine("significant_incident", None)).expect("determined");
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");

    // Only legal (by default), with a basis, for something that exists and is still open.
    let withdraw = |d: &str, basis: &str| C::WithdrawDetermination { determination: d.into(), basis: basis.into() };
    let not_required = |c: &str, basis: &str| C::NotificationNotRequired { clock: c.into(), basis: basis.into() };
    says(
        &forbidden(act(&mut w, "cmd", withdraw("personal_data_breach", "x")), "actions.release_clocks"),
        &["withdrawing determinations needs the legal role"],
    );
    says(&invalid(act(&mut w, "lee", withdraw("personal_data_breach", "  ")), "basis"), &["say why"]);
    says(&not_found(act(&mut w, "lee", withdraw("material", "x"))), &["has no determination 'material'"]);

    let entries =
        act(&mut w, "lee", withdraw("personal_data_breach", "The exposed table held only synthetic test records"))
            .expect("legal withdraws");
    assert_eq!(entries[0].kind, "determination.withdrawn");
    let gdpr = clock(&w, "gdpr_art33");
    assert!(!gdpr.is_open());
    let released = gdpr.released.clone().expect("released");
    assert_eq!(released.reason, ReleaseReason::DeterminationWithdrawn);
    assert_eq!(
        (released.by.to_string(), released.basis.as_str()),
        ("lee".to_owned(), "The exposed table held only synthetic test records")
    );
    assert!(w.incident.determinations[1].withdrawn.is_some());
    says(&conflict(act(&mut w, "lee", withdraw("personal_data_breach", "again"))), &["already withdrawn by lee"]);

    says(
        &forbidden(act(&mut w, "cmd", not_required("nis2_early_warning", "x")), "actions.release_clocks"),
        &["needs the legal role"],
    );
    act(&mut w, "lee", not_required("nis2_early_warning", "The CSIRT confirmed no early warning is needed"))
        .expect("not required");
    let early = clock(&w, "nis2_early_warning");
    assert_eq!(early.outcome(w.org.now()), ClockOutcome::NotRequired);
    assert_eq!(
        early.released.as_ref().map(|r| r.basis.as_str()),
        Some("The CSIRT confirmed no early warning is needed")
    );
    says(&conflict(act(&mut w, "lee", not_required("nis2_early_warning", "again"))), &["already stopped by lee"]);

    // The other NIS2 clocks still run: nothing else stops a clock, and closing waits for them.
    assert!(clock(&w, "nis2_notification").is_running());
    assert!(clock(&w, "nis2_final_report").is_open());
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
    let (statement, _) = approved_regulator_text(&mut w, "Late notice.", &[]);
    let now = w.org.now();
    act(&mut w, "lee", submit("gdpr_art33", now, statement, 1)).expect("submitted late");
    assert_eq!(clock(&w, "gdpr_art33").submission.as_ref().map(|s| s.met), Some(false));
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
    let self_start =
        DEFAULT_POLICY.replace("from_submission_of = \"nis2_notification\"", "from_submission_of = \"gdpr_art33\"");
    assert!(
        Policy::parse(&self_start)
            .expect_err("refused")
            .to_string()
            .contains("from_submission_of: 'gdpr_art33' is not another clock starting on the same determination")
    );
    let policy = Policy::default_policy();
    assert_eq!(policy.clocks.len(), 5);
    assert_eq!(policy.clocks[3].from_submission_of.as_deref(), Some("nis2_notification"));
    assert_eq!(policy.clocks[4].stopped_by, DecisionClass::parse("regulatory_notification").expect("a class"));
}

#[test]
fn an_incident_with_an_open_clock_does_not_close() {
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    review(&mut w);
    says(
        &conflict(act(&mut w, "cmd", propose("close", "Close"))),
        &[
            "cannot close yet: the clock 'gdpr_art33'",
            "record the notification sent (approved through regulatory_notification)",
        ],
    );
    let (statement, _) = approved_regulator_text(&mut w, "We report a breach.", &[]);
    says(&conflict(act(&mut w, "cmd", propose("close", "Close"))), &["cannot close yet: the clock 'gdpr_art33'"]);
    let now = w.org.now();
    act(&mut w, "lee", submit("gdpr_art33", now, statement, 1)).expect("submitted");
    act(&mut w, "cmd", propose("close", "Close")).expect("proposed once the clock was met");
    let close = w.incident.decisions.len() as u64;
    act(&mut w, "exec", approve(close)).expect("closed");
    assert_eq!(w.incident.phase, sitrep_core::Phase::Closed);
}

#[test]
fn the_post_incident_report_counts_met_late_and_missed_from_submissions() {
    let mut w = world();
    act(&mut w, "lee", determine("significant_incident", None)).expect("determined");
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let start_n = w.org.clock;
    // The early warning goes out in time; the notification after its 72 hours; GDPR never.
    let (early, _) = approved_regulator_text(&mut w, "Early warning.", &["nis2_early_warning"]);
    let now = w.org.now();
    act(&mut w, "lee", submit("nis2_early_warning", now, early, 1)).expect("in time");
    let (notification, _) = approved_regulator_text(&mut w, "Incident notification.", &["nis2_notification"]);
    jump_to(&mut w, start_n + 80 * HOUR);
    let now = w.org.now();
    act(&mut w, "lee", submit("nis2_notification", now, notification, 1)).expect("late");
    let report = report_of(&w.record, &w.incident, &w, "cmd");
    let outcomes: Vec<(&str, &str)> = report.deadlines.clocks.iter().map(|c| (c.clock.as_str(), c.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("nis2_early_warning", "met"),
            ("nis2_notification", "late"),
            ("nis2_final_report", "running"),
            ("gdpr_art33", "missed")
        ]
    );
    let d = &report.deadlines;
    assert_eq!((d.met, d.late, d.missed, d.total), (1, 1, 1, 4));
    let markdown = report.to_markdown();
    says(
        &markdown,
        &[
            "1 of 4 regulatory deadline(s) met by a submitted notification; 1 late, 1 missed.",
            "**late**, sent",
            "to CNIL via notifications.cnil.fr (reference CNIL-2026-0415",
        ],
    );
}

#[test]
fn a_record_written_when_an_approval_stopped_a_clock_still_folds_and_its_clock_is_owed() {
    // Before submissions existed, legal proposed a regulatory_notification with no text and the
    // executive approved it, and that stopped the GDPR clock. Such a record still folds; what it
    // means changed: nothing was recorded as sent, so the clock is still owed.
    let mut w = world();
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determined");
    let policy = w.org.state.policy.clone();
    let rule = policy.class(&class("regulatory_notification")).expect("a class").rule.clone();
    let proposed = sitrep_core::events::IncidentEvent::DecisionProposed(sitrep_core::events::DecisionProposed {
        authentication: None,
        decision: DecisionId(1),
        class: class("regulatory_notification"),
        title: "Notify the DPA".into(),
        rationale: None,
        actions: Vec::new(),
        rule,
        role: Some(role("legal")),
        also: Vec::new(),
        state: sitrep_core::events::DecisionState::Proposed,
        playbook: None,
        path: Vec::new(),
        statement: None,
        clocks: Vec::new(),
    });
    append(&mut w, &by("lee"), &[proposed]).expect("an old proposal folds");
    let approved = sitrep_core::events::IncidentEvent::DecisionApproved(sitrep_core::events::DecisionApproved {
        authentication: None,
        decision: DecisionId(1),
        role: role("executive"),
        also: Vec::new(),
        note: None,
        state: sitrep_core::events::DecisionState::Approved,
    });
    append(&mut w, &by("exec"), &[approved]).expect("an old approval folds");
    assert_eq!(w.decision(1).state, sitrep_core::events::DecisionState::Approved);
    let gdpr = clock(&w, "gdpr_art33");
    assert!(gdpr.is_running() && gdpr.submission.is_none(), "an approval alone no longer meets it");

    // Such an incident may have closed: its record is final, and the worker's warning or miss
    // for the clock is refused.
    review(&mut w);
    let close_rule = policy.class(&class("close")).expect("a class").rule.clone();
    let close = sitrep_core::events::IncidentEvent::DecisionProposed(sitrep_core::events::DecisionProposed {
        authentication: None,
        decision: DecisionId(2),
        class: class("close"),
        title: "Close".into(),
        rationale: None,
        actions: Vec::new(),
        rule: close_rule,
        role: Some(role("commander")),
        also: Vec::new(),
        state: sitrep_core::events::DecisionState::Proposed,
        playbook: None,
        path: Vec::new(),
        statement: None,
        clocks: Vec::new(),
    });
    append(&mut w, &by("cmd"), &[close]).expect("an old close proposal folds");
    let closed = [
        sitrep_core::events::IncidentEvent::DecisionApproved(sitrep_core::events::DecisionApproved {
            authentication: None,
            decision: DecisionId(2),
            role: role("executive"),
            also: Vec::new(),
            note: None,
            state: sitrep_core::events::DecisionState::Approved,
        }),
        sitrep_core::events::IncidentEvent::PhaseChanged(sitrep_core::events::PhaseChanged {
            from: w.incident.phase,
            to: sitrep_core::Phase::Closed,
            decision: Some(DecisionId(2)),
        }),
    ];
    append(&mut w, &by("exec"), &closed).expect("the old close folds");
    let later = w.org.clock + 80 * HOUR;
    jump_to(&mut w, later);
    says(&conflict(system(&mut w, SystemCommand::ClockMissed { clock: "gdpr_art33".into() })), &["is closed"]);
}
