//! Dates a person gives: each within a window around now (`decide::date`).
//!
//! Issue 11 point 16: a task due in year 0000 was accepted, and an awareness time in 1970 too,
//! whose regulatory clocks were then missed at once.

use crate::support;

use sitrep_core::decide::{self, IncidentCommand as C};
use sitrep_core::events::{ActionSpec, EvidenceRegistered};
use sitrep_core::ids::LessonId;
use sitrep_core::{Policy, Timestamp};
use support::*;

const DAY: i64 = 24 * 3600;

fn ts(text: &str) -> Timestamp {
    text.parse().expect("a record time")
}

/// A date field: who sets it, its name, what the world needs first, and the command.
struct Field {
    who: &'static str,
    name: &'static str,
    setup: fn(&mut World),
    command: fn(Timestamp) -> C,
}

/// Dates that say when something is due: from 365 days ago to ten years (3,653 days) ahead.
const DUE: [Field; 2] = [
    Field {
        who: "cmd",
        name: "due",
        setup: |_| {},
        command: |due| C::CreateTask { title: "Rotate the key".into(), owner: None, due: Some(due) },
    },
    Field {
        who: "cmd",
        name: "due",
        setup: |w| {
            act(w, "cmd", lesson("seed")).expect("L-1");
        },
        command: |due| C::PlanControlChange {
            lesson: LessonId(1),
            title: "Scan every repository".into(),
            owner: user("cmd"),
            due,
            csf: "PR.AA-05".into(),
        },
    },
];

/// Dates that say when something happened or became known: from 365 days ago to now.
const HAPPENED: [Field; 5] = [
    Field {
        who: "resp",
        name: "occurred_at",
        setup: |_| {},
        command: |occurred| C::LogFact {
            text: "Key used from 203.0.113.50".into(),
            source: None,
            status: sitrep_core::events::FactStatus::Unverified,
            basis: None,
            occurred: Some(decide::Occurred { at: occurred, backfill_reason: Some("CloudTrail event time".into()) }),
        },
    },
    Field {
        who: "resp",
        name: "occurred_at",
        setup: |_| {},
        command: |occurred| C::AddNote {
            text: "Customer called".into(),
            occurred: Some(decide::Occurred { at: occurred, backfill_reason: Some("from the call log".into()) }),
        },
    },
    Field {
        who: "cmd",
        name: "started_at",
        setup: |_| {},
        command: |started| C::RecordOccurrence {
            started_at: Some(started),
            first_seen_at: None,
            detected_at: None,
            backfill_reason: Some("commit time from git".into()),
        },
    },
    Field {
        who: "lee",
        name: "aware_at",
        setup: |_| {},
        command: |aware| determine("personal_data_breach", Some(aware)),
    },
    Field {
        who: "tech",
        name: "collected_at",
        setup: |_| {},
        command: |collected| {
            let C::RegisterEvidence(registered) = register(&blob(1), "trail.json") else { unreachable!() };
            C::RegisterEvidence(EvidenceRegistered { collected_at: Some(collected), ..registered })
        },
    },
];

/// A world ready for `field`, and the time its next command is decided at.
fn ready(field: &Field) -> (World, Timestamp) {
    let mut w = world();
    (field.setup)(&mut w);
    let now = at(w.org.clock + 1);
    (w, now)
}

/// `check(field, date, expected)`: `None` when accepted, else what the refusal must say.
fn check(field: &Field, w: &World, date: Timestamp, expected: Option<&str>) {
    let mut w = w.clone();
    let outcome = act(&mut w, field.who, (field.command)(date));
    match expected {
        None => {
            outcome.unwrap_or_else(|refusal| panic!("{} {date}: refused: {refusal}", field.name));
        }
        Some(says) => assert_eq!(invalid(outcome, field.name), says),
    }
}

#[test]
fn a_due_date_is_between_a_year_ago_and_ten_years_ahead() {
    for field in &DUE {
        let (w, now) = ready(field);
        let (earliest, latest) = (now.plus_seconds(-365 * DAY), now.plus_seconds(3653 * DAY));
        let window = format!("a due date is between {earliest} (365 days ago) and {latest} (ten years ahead)");
        for fine in [earliest, now.plus_seconds(-DAY), now, now.plus_seconds(90 * DAY), latest] {
            check(field, &w, fine, None);
        }
        for (date, why) in [
            (ts("0000-01-01T00:00:00.000000Z"), "is before 2000-01-01T00:00:00.000000Z"),
            (ts("1970-01-01T00:00:00.000000Z"), "is before 2000-01-01T00:00:00.000000Z"),
            (earliest.plus_seconds(-1), "is more than 365 days ago"),
            (latest.plus_seconds(1), "is more than ten years ahead"),
            (ts("9000-01-01T00:00:00.000000Z"), "is more than ten years ahead"),
        ] {
            check(field, &w, date, Some(&format!("{date} {why}; {window}")));
        }
    }
}

#[test]
fn a_time_something_happened_or_became_known_is_between_a_year_ago_and_now() {
    for field in &HAPPENED {
        let (w, now) = ready(field);
        let earliest = now.plus_seconds(-365 * DAY);
        let window =
            format!("a time something happened or became known is between {earliest} (365 days ago) and now, {now}");
        for fine in [earliest, now.plus_seconds(-2 * 3600), now] {
            check(field, &w, fine, None);
        }
        for (date, why) in [
            (ts("0000-01-01T00:00:00.000000Z"), "is before 2000-01-01T00:00:00.000000Z"),
            (ts("1970-01-01T00:00:00.000000Z"), "is before 2000-01-01T00:00:00.000000Z"),
            (ts("2019-06-30T12:00:00.000000Z"), "is more than 365 days ago"),
            (earliest.plus_seconds(-1), "is more than 365 days ago"),
            (now.plus_seconds(1), "is in the future"),
            (ts("2999-01-01T00:00:00.000000Z"), "is in the future"),
        ] {
            check(field, &w, date, Some(&format!("{date} {why}; {window}")));
        }
    }
}

#[test]
fn no_date_is_before_2000_whatever_the_clock_says() {
    // A server clock that says 2000-06-01: a year back would be 1999, but 2000 is the floor.
    let w = world();
    let now = ts("2000-06-01T00:00:00.000000Z");
    let task = |due: &str| C::CreateTask { title: "x".into(), owner: None, due: Some(ts(due)) };
    let refused =
        decide::decide_incident(&w.incident, &w.org.state, &user("cmd"), &task("1999-12-31T23:59:59.000000Z"), now);
    says(
        &invalid(refused, "due"),
        &[
            "is before 2000-01-01T00:00:00.000000Z; a due date is between 2000-01-01T00:00:00.000000Z (the earliest date sitrep takes)",
        ],
    );
    decide::decide_incident(&w.incident, &w.org.state, &user("cmd"), &task("2000-01-01T00:00:00.000000Z"), now)
        .expect("2000-01-01 is fine");
}

#[test]
fn a_due_offset_is_at_most_ten_years() {
    // Task actions and playbook steps give due dates as minutes after the task is created.
    let most = 3653 * 24 * 60;
    assert_eq!(decide::DUE_MINUTES_MAX, most);
    let mut w = world();
    let action = |minutes: u32| ActionSpec::Task { title: "x".into(), owner_role: None, due_in_minutes: Some(minutes) };
    says(
        &invalid(
            act(&mut w, "cmd", with_actions("containment", "x", vec![notify(), action(most + 1)])),
            "actions[1].due_in_minutes",
        ),
        &["is 5260321 minutes; a task is due at most 5260320 minutes (ten years) after it is created"],
    );
    act(&mut w, "cmd", with_actions("containment", "x", vec![action(most)])).expect("ten years ahead is fine");

    let policy = Policy::default_policy();
    let generic = sitrep_core::playbook::BUILT_IN_PLAYBOOKS[3];
    let source = generic.replacen("due_minutes = 90", &format!("due_minutes = {}", most + 1), 1);
    assert_ne!(source, generic);
    let error = sitrep_core::playbook::Playbook::parse(&source, &policy).expect_err("too far ahead");
    says(&error.message, &["due_minutes is 5260321 minutes; a task is due at most 5260320 minutes (ten years)"]);
}
