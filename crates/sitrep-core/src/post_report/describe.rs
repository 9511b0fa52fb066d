//! Entries in words: the one describer the timeline, the SITREP and the web share.

use crate::entry::Entry;
use crate::events::{DecisionState, IncidentEvent};
use crate::time::Timestamp;

pub(super) fn words(snake: &str) -> String {
    snake.replace('_', " ")
}

/// The first twelve hex digits of a hash: enough to tell items apart on screen.
pub(super) fn short(sha256: &str) -> String {
    sha256.chars().take(12).collect()
}

/// "2026-11-27 17:27:49 UTC": the record's time without the microseconds people do not read.
pub fn when(at: Timestamp) -> String {
    let text = at.to_string();
    match (text.get(..10), text.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

/// "45s", "12m 5s", "3h 12m", "2d 4h".
pub fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    match whole {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 24 * 3600 => format!("{}h {}m", s / 3600, (s / 60) % 60),
        s => format!("{}d {}h", s / (24 * 3600), (s / 3600) % 24),
    }
}

/// What an entry did, in words, for the timeline of the command view and the report. Evidence
/// names, sources, download purposes and integrity details appear only with `evidence_names`;
/// without it an evidence entry says what happened to which hash.
pub fn describe(entry: &Entry, evidence_names: bool) -> String {
    let Ok(event) = IncidentEvent::parse(&entry.kind, &entry.body) else {
        return undescribed(entry, evidence_names);
    };
    let described = match event {
        IncidentEvent::ChatRoomOpened(opened) => Some(format!("opened the incident's {} room", opened.system)),
        event @ (IncidentEvent::Declared(_)
        | IncidentEvent::PhaseChanged(_)
        | IncidentEvent::SeverityChanged(_)
        | IncidentEvent::RoleAssigned(_)
        | IncidentEvent::RoleReleased(_)
        | IncidentEvent::CommanderHandedOver(_)
        | IncidentEvent::NoteAdded(_)
        | IncidentEvent::PlaybookStarted(_)
        | IncidentEvent::OccurrenceRecorded(_)) => incident_words(event),
        event @ (IncidentEvent::FactLogged(_)
        | IncidentEvent::FactVerified(_)
        | IncidentEvent::FactDisproved(_)
        | IncidentEvent::TaskCreated(_)
        | IncidentEvent::TaskAssigned(_)
        | IncidentEvent::TaskDone(_)
        | IncidentEvent::TaskBlocked(_)
        | IncidentEvent::TaskCancelled(_)) => fact_and_task_words(event),
        event @ (IncidentEvent::DecisionProposed(_)
        | IncidentEvent::DecisionApproved(_)
        | IncidentEvent::DecisionRejected(_)
        | IncidentEvent::DecisionWithdrawn(_)
        | IncidentEvent::ActionStarted(_)
        | IncidentEvent::ActionSucceeded(_)
        | IncidentEvent::ActionFailed(_)
        | IncidentEvent::ActionRetryRequested(_)
        | IncidentEvent::NotificationDelivered(_)
        | IncidentEvent::NotificationFailed(_)) => decision_words(event),
        event @ (IncidentEvent::EvidenceRegistered(_)
        | IncidentEvent::EvidenceAccessed(_)
        | IncidentEvent::EvidenceIntegrityFailed(_)
        | IncidentEvent::PartyEngaged(_)
        | IncidentEvent::ShareCreated(_)
        | IncidentEvent::ShareRevoked(_)) => evidence_words(event, evidence_names),
        event @ (IncidentEvent::StatementDrafted(_)
        | IncidentEvent::StatementRevised(_)
        | IncidentEvent::StatementPublished(_)
        | IncidentEvent::StatementDelivered(_)
        | IncidentEvent::StatementDeliveryFailed(_)
        | IncidentEvent::StatementDeliveryRetryRequested(_)
        | IncidentEvent::DeterminationRecorded(_)
        | IncidentEvent::DeterminationWithdrawn(_)
        | IncidentEvent::ClockWarned(_)
        | IncidentEvent::ClockMissed(_)
        | IncidentEvent::ClockSubmitted(_)
        | IncidentEvent::ClockNotRequired(_)) => statement_and_clock_words(event),
        event @ (IncidentEvent::LessonRecorded(_)
        | IncidentEvent::ControlChangePlanned(_)
        | IncidentEvent::ControlChangeDone(_)
        | IncidentEvent::ControlChangeCancelled(_)
        | IncidentEvent::ReviewCompleted(_)) => review_words(event),
        event @ (IncidentEvent::AlertSent(_)
        | IncidentEvent::AlertFailed(_)
        | IncidentEvent::ReviewLinkOpened(_)
        | IncidentEvent::UpdateScheduled(_)) => alert_words(event),
    };
    // Every kind is routed to its family; a family never declines one of its own.
    described.unwrap_or_else(|| undescribed(entry, evidence_names))
}

fn alert_words(event: IncidentEvent) -> Option<String> {
    let about = |keys: &[String]| keys.join(", ");
    Some(match event {
        IncidentEvent::AlertSent(a) => format!("told {} by {}: {}", a.person, a.route, about(&a.about)),
        IncidentEvent::AlertFailed(a) => {
            let again = if a.retryable { "will try again" } else { "gave up" };
            format!("could not tell {} by {} ({again}): {}", a.person, a.route, a.reason)
        }
        IncidentEvent::ReviewLinkOpened(o) => format!("opened the review link for {}", o.decision),
        IncidentEvent::UpdateScheduled(u) => match u.every_minutes {
            Some(every) => format!("promised the next update at {}, then every {every} minutes", u.next_at),
            None => format!("promised the next update at {}", u.next_at),
        },
        _ => return None,
    })
}

/// An entry this build cannot read: its body as written, but never an evidence entry's details
/// to someone who may not see them.
fn undescribed(entry: &Entry, evidence_names: bool) -> String {
    if evidence_names || !crate::view::is_evidence_entry(entry) {
        entry.body.clone()
    } else {
        "an evidence entry".to_owned()
    }
}

/// The incident itself: declaration, phase, severity, roles, command, notes, playbooks, times.
fn incident_words(event: IncidentEvent) -> Option<String> {
    Some(match event {
        IncidentEvent::Declared(d) => format!("declared {} \"{}\" ({})", d.number, d.title, d.severity),
        IncidentEvent::PhaseChanged(c) => match c.decision {
            Some(decision) => format!("closed the incident by {decision}"),
            None => format!("moved the phase from {} to {}", words(c.from.as_str()), words(c.to.as_str())),
        },
        IncidentEvent::SeverityChanged(c) => format!("changed severity from {} to {}", c.from, c.to),
        IncidentEvent::RoleAssigned(r) => format!("made {} {}", r.user, words(r.role.as_str())),
        IncidentEvent::RoleReleased(r) => format!(
            "released {} from {}{}",
            r.change.user,
            words(r.change.role.as_str()),
            r.reason.as_ref().map(|why| format!(": {why}")).unwrap_or_default()
        ),
        IncidentEvent::NoteAdded(n) => format!("noted: {}", n.text),
        IncidentEvent::PlaybookStarted(p) => {
            format!("started playbook {} v{} (approved by {})", p.playbook, p.version, p.approved_by)
        }
        IncidentEvent::OccurrenceRecorded(o) => {
            let times: Vec<String> =
                [("started", o.started_at), ("first seen", o.first_seen_at), ("detected", o.detected_at)]
                    .into_iter()
                    .filter_map(|(what, at)| at.map(|at| format!("{what} {}", when(at))))
                    .collect();
            let why = o.backfill_reason.as_ref().map(|r| format!(" (backfilled: {r})")).unwrap_or_default();
            format!("recorded when the incident happened: {}{why}", times.join(", "))
        }
        IncidentEvent::CommanderHandedOver(h) => {
            format!("handed command from {} to {}: {}", h.from, h.to, h.reason)
        }
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}

/// Facts and tasks.
fn fact_and_task_words(event: IncidentEvent) -> Option<String> {
    Some(match event {
        IncidentEvent::FactLogged(f) => format!("logged {} ({}): {}", f.fact, f.status.as_str(), f.text),
        IncidentEvent::FactVerified(f) => format!("verified {}: {}", f.fact, f.basis),
        IncidentEvent::FactDisproved(f) => format!("disproved {}: {}", f.fact, f.basis),
        IncidentEvent::TaskCreated(t) => format!("created {} \"{}\"", t.task, t.title),
        IncidentEvent::TaskAssigned(t) => format!("gave {} to {}", t.task, t.owner),
        IncidentEvent::TaskDone(t) => format!("finished {}", t.task),
        IncidentEvent::TaskBlocked(t) => format!("marked {} blocked: {}", t.task, t.reason),
        IncidentEvent::TaskCancelled(t) => format!("cancelled {}", t.task),
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}

/// Decisions, their actions and the notifications they owe.
fn decision_words(event: IncidentEvent) -> Option<String> {
    Some(match event {
        IncidentEvent::DecisionProposed(d) => format!(
            "proposed {} ({}) \"{}\"{}",
            d.decision,
            words(d.class.as_str()),
            d.title,
            match (&d.playbook, d.state) {
                (Some(citation), DecisionState::Approved) =>
                    format!(", pre-approved by playbook {} v{}", citation.playbook, citation.version),
                (None, DecisionState::Approved) => ", approved at once".to_owned(),
                _ => String::new(),
            }
        ),
        IncidentEvent::DecisionApproved(d) => format!(
            "approved {} as {}{}",
            d.decision,
            words(d.role.as_str()),
            if d.state == DecisionState::Approved { ": the decision is approved" } else { "" }
        ),
        IncidentEvent::DecisionRejected(d) => {
            format!("rejected {} as {}: {}", d.decision, words(d.role.as_str()), d.note)
        }
        IncidentEvent::DecisionWithdrawn(d) => format!("withdrew {}", d.decision),
        IncidentEvent::ActionStarted(a) => {
            format!("started action {} of {} (attempt {})", a.action + 1, a.decision, a.attempt)
        }
        IncidentEvent::ActionSucceeded(a) => format!("action {} of {} succeeded", a.action + 1, a.decision),
        IncidentEvent::ActionFailed(a) => format!("action {} of {} failed: {}", a.action + 1, a.decision, a.reason),
        IncidentEvent::ActionRetryRequested(a) => format!("asked to retry action {} of {}", a.action + 1, a.decision),
        IncidentEvent::NotificationDelivered(n) => {
            format!("told {} that {} was {}", n.channel, n.decision, n.moment.as_str())
        }
        IncidentEvent::NotificationFailed(n) => {
            format!("could not tell {} that {} was {}: {}", n.channel, n.decision, n.moment.as_str(), n.reason)
        }
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}

/// Evidence, third parties and share links; evidence details only with `evidence_names`.
fn evidence_words(event: IncidentEvent, evidence_names: bool) -> Option<String> {
    Some(match event {
        IncidentEvent::EvidenceRegistered(e) if evidence_names => {
            format!("added evidence \"{}\" ({} bytes, {})", e.name, e.size, short(&e.sha256))
        }
        IncidentEvent::EvidenceRegistered(e) => {
            format!("added an evidence item ({} bytes, {}; its name is for evidence readers)", e.size, short(&e.sha256))
        }
        IncidentEvent::EvidenceAccessed(e) => match e.share {
            Some(share) => format!("{share} was used to fetch {}", short(&e.sha256)),
            None if evidence_names => format!("downloaded {} for: {}", short(&e.sha256), e.purpose),
            None => format!("downloaded {}", short(&e.sha256)),
        },
        IncidentEvent::EvidenceIntegrityFailed(e) if evidence_names => {
            format!("REFUSED to serve {}: the stored blob does not match its hash ({})", short(&e.sha256), e.detail)
        }
        IncidentEvent::EvidenceIntegrityFailed(e) => {
            format!("REFUSED to serve {}: the stored blob does not match its hash", short(&e.sha256))
        }
        IncidentEvent::PartyEngaged(p) => format!("engaged third party {}", p.party),
        IncidentEvent::ShareCreated(s) => format!(
            "created share link {} for {} ({} item(s), {} h) by {}",
            s.share,
            s.party,
            s.items.len(),
            s.expires_in_hours,
            s.decision
        ),
        IncidentEvent::ShareRevoked(s) => format!("revoked share link {}", s.share),
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}

/// Statements, determinations and regulatory clocks.
fn statement_and_clock_words(event: IncidentEvent) -> Option<String> {
    Some(match event {
        IncidentEvent::StatementDrafted(s) => {
            format!("drafted {} for {}: \"{}\" (v1 {})", s.statement, s.audience.as_str(), s.title, short(&s.sha256))
        }
        IncidentEvent::StatementRevised(s) => {
            format!("revised {} to v{} ({})", s.statement, s.version, short(&s.sha256))
        }
        IncidentEvent::StatementPublished(s) => format!(
            "published {} v{} on {} under {}{} ({})",
            s.statement,
            s.version,
            s.channel,
            s.decision,
            if s.outlet { ", a configured outlet: sitrep delivers it" } else { "" },
            short(&s.sha256)
        ),
        IncidentEvent::StatementDelivered(s) => format!(
            "delivered {} v{} to {} (attempt {}, sent {}){}",
            s.statement,
            s.version,
            s.channel,
            s.attempt,
            short(&s.sha256),
            s.receipt.map(|r| format!(": {r}")).unwrap_or_default()
        ),
        IncidentEvent::StatementDeliveryFailed(s) => format!(
            "could not deliver {} v{} to {} (attempt {}, {}): {}{}",
            s.statement,
            s.version,
            s.channel,
            s.attempt,
            short(&s.sha256),
            s.reason,
            if s.retryable { "; it will be tried again" } else { "; not tried again unless someone asks" }
        ),
        IncidentEvent::StatementDeliveryRetryRequested(s) => {
            format!("asked to retry delivering {} v{} to {}", s.statement, s.version, s.channel)
        }
        IncidentEvent::DeterminationRecorded(d) => format!(
            "recorded the determination {}: {}{}",
            words(&d.determination),
            d.basis,
            if d.clocks.is_empty() {
                String::new()
            } else {
                let clocks: Vec<&str> = d.clocks.iter().map(|c| c.title.as_str()).collect();
                format!("; starts {}", clocks.join(", "))
            }
        ),
        IncidentEvent::ClockWarned(c) => format!(
            "warned that clock {} nears its deadline{}",
            c.clock,
            if c.told.is_empty() { String::new() } else { format!(" (told {})", c.told.join(", ")) }
        ),
        IncidentEvent::ClockMissed(c) => format!("clock {} MISSED its deadline", c.clock),
        IncidentEvent::ClockSubmitted(c) => format!(
            "recorded the notification for clock {}: sent {} to {} via {}, reference {} ({} v{}, approved by {})",
            c.clock,
            when(c.sent_at),
            c.authority,
            c.channel,
            c.reference,
            c.statement.statement,
            c.statement.version,
            c.decision
        ),
        IncidentEvent::DeterminationWithdrawn(d) => {
            format!("withdrew the determination {}: {}; its open clocks stop", words(&d.determination), d.basis)
        }
        IncidentEvent::ClockNotRequired(c) => format!("recorded that clock {} is not required: {}", c.clock, c.basis),
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}

/// The post-incident review: lessons and control changes.
fn review_words(event: IncidentEvent) -> Option<String> {
    Some(match event {
        IncidentEvent::LessonRecorded(l) => format!("recorded lesson {}: {}", l.lesson, l.what_happened),
        IncidentEvent::ControlChangePlanned(c) => format!(
            "planned {} ({}) for {}, owner {}, due {}: {}",
            c.change,
            c.csf,
            c.lesson,
            c.owner,
            when(c.due),
            c.title
        ),
        IncidentEvent::ControlChangeDone(c) => format!("completed control change {}", c.change),
        IncidentEvent::ControlChangeCancelled(c) => {
            format!("cancelled control change {}: {}", c.change, c.note.as_deref().unwrap_or_default())
        }
        IncidentEvent::ReviewCompleted(r) => format!("completed the post-incident review: {}", r.summary),
        // Routed here by `describe` only for the kinds above.
        _ => return None,
    })
}
