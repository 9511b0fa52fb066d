//! What is known about the incident: facts and their verification, notes, when it happened
//! and how severe it is.

use super::*;

/// Decides what is known: severity, facts, notes and when the incident happened.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::SetSeverity { severity, reason } => {
            judge.permit("set_severity", &rules.set_severity, "setting the severity")?;
            if *severity == state.severity {
                return Err(conflict(format!("{} is already {severity}", state.id)));
            }
            vec![IncidentEvent::SeverityChanged(SeverityChanged {
                from: state.severity,
                to: *severity,
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::LogFact { text: fact_text, source, status, basis, occurred } => {
            judge.permit("log_facts", &rules.log_facts, "logging facts")?;
            let fact_text = text("text", fact_text, TEXT_MAX)?;
            let source = optional_text("source", source, TITLE_MAX)?;
            let basis = match status {
                FactStatus::Unverified => {
                    if basis.is_some() {
                        return Err(invalid("basis", "is only given for a fact logged as verified or disproved"));
                    }
                    None
                }
                FactStatus::Verified | FactStatus::Disproved => {
                    judge.permit("verify_facts", &rules.verify_facts, "logging a fact as verified or disproved")?;
                    Some(text("basis", basis.as_deref().unwrap_or_default(), SHORT_MAX)?)
                }
            };
            let (occurred_at, backfill_reason) = occurrence("occurred_at", occurred, now)?;
            let fact = FactId(state.facts.len() as u64 + 1);
            vec![IncidentEvent::FactLogged(FactLogged {
                fact,
                text: fact_text,
                source,
                status: *status,
                basis,
                occurred_at,
                backfill_reason,
            })]
        }
        C::VerifyFact { fact, basis } | C::DisproveFact { fact, basis } => {
            let verifying = matches!(command, C::VerifyFact { .. });
            judge.permit(
                "verify_facts",
                &rules.verify_facts,
                if verifying { "verifying facts" } else { "disproving facts" },
            )?;
            let status = judge.fact(*fact)?;
            let target = if verifying { FactStatus::Verified } else { FactStatus::Disproved };
            if status == target {
                return Err(conflict(format!("{fact} is already {}", target.as_str())));
            }
            let judged = FactJudged { fact: *fact, basis: text("basis", basis, SHORT_MAX)? };
            vec![if verifying { IncidentEvent::FactVerified(judged) } else { IncidentEvent::FactDisproved(judged) }]
        }
        C::AddNote { text: note, occurred } => {
            judge.permit("notes", &rules.notes, "adding notes")?;
            let text = text("text", note, TEXT_MAX)?;
            let (occurred_at, backfill_reason) = occurrence("occurred_at", occurred, now)?;
            vec![IncidentEvent::NoteAdded(NoteAdded { text, occurred_at, backfill_reason })]
        }
        C::RecordOccurrence { started_at, first_seen_at, detected_at, backfill_reason } => {
            judge.permit("set_phase", &rules.set_phase, "recording when the incident happened")?;
            record_occurrence(state, [*started_at, *first_seen_at, *detected_at], backfill_reason, now)?
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

/// The incident's occurrence times, `[started_at, first_seen_at, detected_at]` as given: each
/// within the window of times that happened, in that order together with those already
/// recorded, with a reason when any is a backfill.
fn record_occurrence(
    state: &IncidentState,
    given: [Option<Timestamp>; 3],
    backfill_reason: &Option<String>,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    const FIELDS: [&str; 3] = ["started_at", "first_seen_at", "detected_at"];
    if given.iter().all(Option::is_none) {
        return Err(invalid("started_at", "give at least one of started_at, first_seen_at, detected_at"));
    }
    for (field, at) in FIELDS.iter().zip(given) {
        if let Some(at) = at {
            date(field, at, now, When::Happened)?;
        }
    }
    let current = &state.occurrence;
    let merged =
        [given[0].or(current.started_at), given[1].or(current.first_seen_at), given[2].or(current.detected_at)];
    for later in 1..3 {
        for earlier in 0..later {
            if let (Some(a), Some(b)) = (merged[earlier], merged[later])
                && a > b
            {
                let field = if given[later].is_some() { FIELDS[later] } else { FIELDS[earlier] };
                return Err(invalid(
                    field,
                    format!(
                        "{} ({a}) is after {} ({b}); an incident starts, is seen, then detected",
                        FIELDS[earlier], FIELDS[later]
                    ),
                ));
            }
        }
    }
    if merged == [current.started_at, current.first_seen_at, current.detected_at] {
        return Err(conflict(format!("{} already records exactly these times", state.id)));
    }
    let reason = optional_text("backfill_reason", backfill_reason, SHORT_MAX)?;
    if reason.is_none()
        && let Some((field, at)) =
            FIELDS.iter().zip(given).find_map(|(f, at)| at.filter(|at| is_backfill(*at, now)).map(|at| (*f, at)))
    {
        return Err(backfill_needs_reason(field, at, now));
    }
    Ok(vec![IncidentEvent::OccurrenceRecorded(OccurrenceRecorded {
        started_at: given[0],
        first_seen_at: given[1],
        detected_at: given[2],
        backfill_reason: reason,
    })])
}
