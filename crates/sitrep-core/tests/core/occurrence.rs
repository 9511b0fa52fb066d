//! When things happened, apart from when they were recorded (issue 12, item 11): facts, notes
//! and the incident carry occurrence times; a backfilled time needs a reason; the SITREP and
//! the report read in the order things happened and show both times.

use crate::support;

use sitrep_core::decide::{BACKFILL_MARGIN_MINUTES, IncidentCommand as C, Occurred};
use sitrep_core::events::{FactLogged, FactStatus, IncidentEvent, NoteAdded};
use sitrep_core::sitrep::Sitrep;
use sitrep_core::{FactId, Timestamp};
use support::*;

fn fact_at(text: &str, occurred: Option<Occurred>) -> C {
    C::LogFact { text: text.into(), source: Some("SIEM".into()), status: FactStatus::Unverified, basis: None, occurred }
}

fn when(at: Timestamp, reason: Option<&str>) -> Option<Occurred> {
    Some(Occurred { at, backfill_reason: reason.map(str::to_owned) })
}

/// The time the next command is decided at.
fn now(w: &World) -> Timestamp {
    at(w.org.clock + 1)
}

#[test]
fn a_fact_says_when_it_happened_apart_from_when_it_was_logged() {
    let mut w = world();
    let happened = now(&w).plus_seconds(-2 * 3600);
    let entries =
        act(&mut w, "resp", fact_at("Key used from 203.0.113.50", when(happened, Some("CloudTrail event time"))))
            .expect("a backfilled fact with its reason");
    let body: serde_json::Value = serde_json::from_str(&entries[0].body).expect("json");
    assert_eq!(body["occurred_at"], happened.to_string());
    assert_eq!(body["backfill_reason"], "CloudTrail event time");
    let f1 = &w.incident.facts[0];
    assert_eq!((f1.occurred_at, f1.logged_at), (happened, entries[0].at), "both times are kept");
    assert_eq!(f1.backfill_reason.as_deref(), Some("CloudTrail event time"));

    // Without a time, it happened when it was logged, and the body is as before.
    let entries = act(&mut w, "resp", fact("Second finding")).expect("logged");
    assert_eq!(entries[0].body, r#"{"fact":"F-2","status":"unverified","text":"Second finding"}"#);
    assert_eq!(w.incident.facts[1].occurred_at, w.incident.facts[1].logged_at);
}

#[test]
fn a_backfilled_time_needs_a_reason_and_a_time_may_not_be_in_the_future() {
    let mut w = world();
    let seq = w.incident.seq;
    let margin = BACKFILL_MARGIN_MINUTES * 60;
    let n = now(&w);
    // More than the margin back, no reason: refused, naming backfill_reason, and nothing written.
    let refusal =
        invalid(act(&mut w, "resp", fact_at("x", when(n.plus_seconds(-margin - 1), None))), "backfill_reason");
    assert!(refusal.contains("is more than 15 minutes before now") && refusal.contains("needs a reason"), "{refusal}");
    let note = C::AddNote { text: "call".into(), occurred: when(n.plus_seconds(-3 * 3600), None) };
    invalid(act(&mut w, "resp", note), "backfill_reason");
    invalid(act(&mut w, "resp", fact_at("x", when(n.plus_seconds(1), Some("clock skew")))), "occurred_at");
    invalid(act(&mut w, "resp", fact_at("x", when(n.plus_seconds(-400 * 86_400), Some("old")))), "occurred_at");
    invalid(act(&mut w, "resp", fact_at("x", when(n.plus_seconds(-3600), Some("  ")))), "backfill_reason");
    assert_eq!(w.incident.seq, seq, "nothing was written");
    // Within the margin, no reason is needed.
    act(&mut w, "resp", fact_at("just now", when(n.plus_seconds(-margin), None))).expect("within the margin");
    let n = now(&w);
    let note = C::AddNote { text: "call".into(), occurred: when(n.plus_seconds(-3 * 3600), Some("call log")) };
    act(&mut w, "resp", note).expect("a backfilled note with its reason");
    assert_eq!(w.incident.notes[0].backfill_reason.as_deref(), Some("call log"));
}

#[test]
fn the_fold_refuses_occurrence_times_decide_would_not_write() {
    let mut w = world();
    let logged = |fact: u64, occurred_at: Option<Timestamp>, reason: Option<&str>| {
        IncidentEvent::FactLogged(FactLogged {
            fact: FactId(fact),
            text: "forged".into(),
            source: None,
            status: FactStatus::Unverified,
            basis: None,
            occurred_at,
            backfill_reason: reason.map(str::to_owned),
        })
    };
    let next = at(w.org.clock + 1);
    append(&mut w, &by("resp"), &[logged(1, Some(next.plus_seconds(60)), None)]).expect_err("after its recording");
    append(&mut w, &by("resp"), &[logged(1, Some(next.plus_seconds(-7200)), None)])
        .expect_err("a backfill without reason");
    append(&mut w, &by("resp"), &[logged(1, None, Some("why"))]).expect_err("a reason without a time");
    let note = IncidentEvent::NoteAdded(NoteAdded {
        text: "n".into(),
        occurred_at: Some(next.plus_seconds(-7200)),
        backfill_reason: None,
    });
    append(&mut w, &by("resp"), &[note]).expect_err("a backfilled note without reason");
    append(&mut w, &by("resp"), &[logged(1, Some(next.plus_seconds(-7200)), Some("EDR"))]).expect("a real one folds");
}

#[test]
fn the_incident_records_when_it_started_was_first_seen_and_was_detected() {
    let mut w = world();
    let n = now(&w);
    let (started, seen, detected) = (n.plus_seconds(-5 * 3600), n.plus_seconds(-4 * 3600), n.plus_seconds(-3600));
    let occurrence = |s: Option<Timestamp>, f: Option<Timestamp>, d: Option<Timestamp>, r: Option<&str>| {
        C::RecordOccurrence { started_at: s, first_seen_at: f, detected_at: d, backfill_reason: r.map(str::to_owned) }
    };
    let seq = w.incident.seq;
    invalid(act(&mut w, "cmd", occurrence(None, None, None, None)), "started_at");
    invalid(act(&mut w, "cmd", occurrence(Some(started), None, None, None)), "backfill_reason");
    let out_of_order =
        invalid(act(&mut w, "cmd", occurrence(Some(detected), None, Some(started), Some("x"))), "detected_at");
    assert!(out_of_order.contains("started_at") && out_of_order.contains("is after detected_at"), "{out_of_order}");
    forbidden(act(&mut w, "resp", occurrence(Some(started), None, None, Some("x"))), "actions.set_phase");
    assert_eq!(w.incident.seq, seq, "nothing was written");

    let why = "commit time from git; alert time from the SIEM";
    act(&mut w, "cmd", occurrence(Some(started), Some(seen), Some(detected), Some(why))).expect("recorded");
    let o = &w.incident.occurrence;
    assert_eq!((o.started_at, o.first_seen_at, o.detected_at), (Some(started), Some(seen), Some(detected)));
    assert_eq!(o.backfill_reason.as_deref(), Some(why));
    assert_eq!(
        conflict(act(&mut w, "cmd", occurrence(Some(started), None, None, Some(why)))),
        "INC-1 already records exactly these times"
    );
    // A later correction keeps the order with the times already recorded.
    invalid(act(&mut w, "cmd", occurrence(None, Some(n.plus_seconds(-6 * 3600)), None, Some("x"))), "first_seen_at");
    act(&mut w, "cmd", occurrence(None, None, Some(n.plus_seconds(-1800)), Some("the SOC ticket's time")))
        .expect("corrected");
    assert_eq!(w.incident.occurrence.started_at, Some(started), "times not given stay");

    let s = Sitrep::of(&w.incident, &w.org.state, w.org.now());
    says(&s.to_markdown(), &[&format!("Started {started} · first seen {seen} · detected {}", n.plus_seconds(-1800))]);
}

#[test]
fn the_sitrep_and_the_report_read_in_the_order_things_happened_and_show_both_times() {
    let mut w = world();
    // Logged first, happened last; logged last, happened first (a backfill).
    act(&mut w, "resp", fact("Key revoked")).expect("F-1");
    w.org.clock += 600;
    let early = now(&w).plus_seconds(-3 * 3600);
    act(&mut w, "resp", fact_at("Key committed to a public repository", when(early, Some("git log time"))))
        .expect("F-2");
    let note_at = now(&w).plus_seconds(-2 * 3600);
    act(
        &mut w,
        "resp",
        C::AddNote { text: "Customer reported odd logins".into(), occurred: when(note_at, Some("ticket time")) },
    )
    .expect("note");

    let s = Sitrep::of(&w.incident, &w.org.state, w.org.now());
    let ids: Vec<String> = s.unverified_facts.iter().map(|f| f.id.to_string()).collect();
    assert_eq!(ids, ["F-2", "F-1"], "by when they happened");
    let f2 = &s.unverified_facts[0];
    assert_eq!(f2.occurred_at, early);
    assert_ne!(f2.logged_at, early);
    let markdown = s.to_markdown();
    says(
        &markdown,
        &[&format!(
            "F-2 Key committed to a public repository (source: SIEM) — logged by resp · happened {early}, logged {} (backfilled: git log time)",
            f2.logged_at
        )],
    );
    let f2_line = markdown.find("F-2 Key committed").expect("F-2");
    let f1_line = markdown.find("F-1 Key revoked").expect("F-1");
    assert!(f2_line < f1_line, "the SITREP lists F-2 first:\n{markdown}");

    let r = report_of(&w.record, &w.incident, &w, "cmd");
    let order: Vec<&str> = r.timeline.iter().map(|l| l.kind.as_str()).collect();
    let fact2 = r.timeline.iter().position(|l| l.what.contains("F-2")).expect("F-2 in the timeline");
    let declared = r.timeline.iter().position(|l| l.kind == "incident.declared").expect("declared");
    assert!(fact2 < declared, "what happened before the declaration reads before it: {order:?}");
    let line = &r.timeline[fact2];
    assert_eq!((line.occurred_at, line.backfill_reason.as_deref()), (early, Some("git log time")));
    assert!(line.at > early);
    let markdown = r.to_markdown();
    assert!(markdown.contains("(backfilled: git log time)") && markdown.contains("happened "), "{markdown}");
}
