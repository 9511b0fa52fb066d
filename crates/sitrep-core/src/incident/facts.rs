//! What is known in the fold: facts and their verification, notes, occurrence times and
//! severity.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fact {
    pub id: FactId,
    pub text: String,
    pub source: Option<String>,
    pub status: FactStatus,
    pub logged_by: Actor,
    pub logged_at: Timestamp,
    /// When it happened: as given, or else when it was logged.
    pub occurred_at: Timestamp,
    /// Why a backfilled time was given.
    pub backfill_reason: Option<String>,
    /// Who last verified or disproved it, when and on what basis.
    pub judged: Option<Judgement>,
}

/// A note in the record, with when what it says happened.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedNote {
    pub by: Actor,
    pub at: Timestamp,
    pub text: String,
    /// As given, or else when it was recorded.
    pub occurred_at: Timestamp,
    pub backfill_reason: Option<String>,
}

/// When the incident happened, apart from when it was declared (`declared_at`).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub started_at: Option<Timestamp>,
    pub first_seen_at: Option<Timestamp>,
    pub detected_at: Option<Timestamp>,
    /// The reason given with the latest backfilled times.
    pub backfill_reason: Option<String>,
    /// Who recorded them last, and when.
    pub recorded_by: Option<Actor>,
    pub recorded_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judgement {
    pub by: Actor,
    pub at: Timestamp,
    pub basis: String,
}

impl IncidentState {
    /// Applies severity, facts, notes and when the incident happened.
    pub(super) fn apply_facts(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::SeverityChanged(change) => {
                if change.from != self.severity {
                    return fail("'from' is not the current severity");
                }
                self.severity = change.to;
            }
            IncidentEvent::FactLogged(logged) => {
                if logged.fact.0 != self.facts.len() as u64 + 1 {
                    return fail("fact ids must be sequential");
                }
                if let Some(reason) = occurred_refusal(logged.occurred_at, &logged.backfill_reason, at) {
                    return fail(reason);
                }
                self.facts.push(Fact {
                    id: logged.fact,
                    text: logged.text.clone(),
                    source: logged.source.clone(),
                    status: logged.status,
                    logged_by: actor.clone(),
                    logged_at: at,
                    occurred_at: logged.occurred_at.unwrap_or(at),
                    backfill_reason: logged.backfill_reason.clone(),
                    judged: logged.basis.clone().map(|basis| Judgement { by: actor.clone(), at, basis }),
                });
            }
            IncidentEvent::FactVerified(judged) | IncidentEvent::FactDisproved(judged) => {
                let status = if matches!(event, IncidentEvent::FactVerified(_)) {
                    FactStatus::Verified
                } else {
                    FactStatus::Disproved
                };
                let Some(fact) = self.fact_mut(judged.fact) else { return fail("unknown fact") };
                fact.status = status;
                fact.judged = Some(Judgement { by: actor.clone(), at, basis: judged.basis.clone() });
            }
            IncidentEvent::NoteAdded(note) => {
                if let Some(reason) = occurred_refusal(note.occurred_at, &note.backfill_reason, at) {
                    return fail(reason);
                }
                self.notes.push(LoggedNote {
                    by: actor.clone(),
                    at,
                    text: note.text.clone(),
                    occurred_at: note.occurred_at.unwrap_or(at),
                    backfill_reason: note.backfill_reason.clone(),
                });
            }
            IncidentEvent::OccurrenceRecorded(recorded) => {
                let given = [recorded.started_at, recorded.first_seen_at, recorded.detected_at];
                if given.iter().all(Option::is_none) {
                    return fail("no time is given");
                }
                let needs_reason = given.iter().flatten().any(|t| *t > at || crate::decide::is_backfill(*t, at));
                if given.iter().flatten().any(|t| *t > at) || (needs_reason && recorded.backfill_reason.is_none()) {
                    return fail("a time lies after the entry, or a backfilled time has no reason");
                }
                let o = &mut self.occurrence;
                o.started_at = recorded.started_at.or(o.started_at);
                o.first_seen_at = recorded.first_seen_at.or(o.first_seen_at);
                o.detected_at = recorded.detected_at.or(o.detected_at);
                if recorded.backfill_reason.is_some() {
                    o.backfill_reason = recorded.backfill_reason.clone();
                }
                o.recorded_by = Some(actor.clone());
                o.recorded_at = Some(at);
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}

/// Why a fact's or note's occurrence time could not have been decided at `recorded`: after it,
/// or a backfill without a reason.
fn occurred_refusal(occurred: Option<Timestamp>, reason: &Option<String>, recorded: Timestamp) -> Option<&'static str> {
    match occurred {
        None if reason.is_some() => Some("a backfill reason is given only with an occurrence time"),
        Some(at) if at > recorded => Some("it happened after it was recorded"),
        Some(at) if reason.is_none() && crate::decide::is_backfill(at, recorded) => {
            Some("a backfilled occurrence time needs a reason")
        }
        _ => None,
    }
}
