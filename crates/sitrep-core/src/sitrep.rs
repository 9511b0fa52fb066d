//! The SITREP: the situation report, generated from the record alone.
//!
//! "Only the record defines current status": every status line here is read off the folded
//! state, and the report names the seq and hash it was generated at, so anyone can tell which
//! version of the record it describes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::entry::EntryHash;
use crate::events::{ActionSpec, Audience, Contact, DecisionState, FactStatus, StatementRef};
use crate::ids::{
    Actor, DecisionClass, DecisionId, FactId, IncidentNumber, Phase, Role, Severity, ShareId, StatementId, TaskId,
    UserName,
};
use crate::incident::{ActionStatus, Decision, Handover, IncidentState, Occurrence, TaskState};
use crate::org::OrgState;
use crate::playbook::Citation;
use crate::statement_text::{BoundText, bound_text};
use crate::time::Timestamp;
use crate::view::PartyView;

mod markdown;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sitrep {
    pub incident: IncidentNumber,
    pub title: String,
    pub severity: Severity,
    pub phase: Phase,
    pub restricted: bool,
    pub exercise: bool,
    pub declared_at: Timestamp,
    pub declared_by: Actor,
    /// When the incident started, was first seen and was detected, as recorded.
    pub occurrence: Occurrence,
    pub generated_at: Timestamp,
    /// The record this report describes: its last seq and hash.
    pub as_of_seq: u64,
    pub as_of_hash: EntryHash,
    pub roles: BTreeMap<Role, Vec<UserName>>,
    /// Who commands the incident now.
    pub commander: Option<UserName>,
    /// Every hand-over of command, oldest first: from, to, why, when, recorded by whom.
    pub handovers: Vec<Handover>,
    /// Required roles nobody holds.
    pub blockers: Vec<Role>,
    pub verified_facts: Vec<FactLine>,
    pub unverified_facts: Vec<FactLine>,
    pub disproved_facts: Vec<FactLine>,
    pub pending_decisions: Vec<PendingDecision>,
    pub approved_decisions: Vec<ApprovedDecision>,
    pub open_tasks: Vec<TaskLine>,
    /// Third parties engaged, with how to reach them and the authority we hold over them.
    pub third_parties: Vec<PartyLine>,
    /// For each audience, the latest statement version that an approved decision lets out.
    pub statements: Vec<StatementLine>,
    /// How many evidence items the record holds (their names are for evidence readers only).
    pub evidence_items: usize,
    /// Regulatory clocks: running ones first (soonest due first), then stopped ones.
    pub clocks: Vec<ClockLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockLine {
    pub clock: String,
    pub title: String,
    /// None while it waits for the submission it runs from.
    pub deadline: Option<Timestamp>,
    pub running: bool,
    /// For a running clock: seconds left (negative once missed).
    pub seconds_left: Option<i64>,
    pub missed: bool,
    /// `running`, `waiting`, `missed`, `met`, `late`, `determination withdrawn`, `not required`.
    pub outcome: &'static str,
    /// The clock whose submission starts this one, while it waits for it.
    pub waiting_for: Option<String>,
    /// The notification sent to the authority, which met it (or came late).
    pub submission: Option<crate::incident::Submission>,
    /// Why it stopped without a notification, by whom.
    pub released: Option<crate::incident::ClockRelease>,
    /// The class through which the statement sent must be approved.
    pub stopping_class: DecisionClass,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyLine {
    pub party: String,
    pub name: String,
    pub kind: &'static str,
    pub contacts: Vec<Contact>,
    pub operates: Option<String>,
    pub authority: Vec<String>,
    pub engaged_by: Actor,
    pub engaged_at: Timestamp,
    /// Share links to them that still work.
    pub live_shares: Vec<ShareId>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementLine {
    pub audience: Audience,
    pub statement: StatementId,
    pub title: String,
    pub version: u32,
    pub sha256: String,
    pub text: String,
    pub approved_by: DecisionId,
    pub approved_at: Option<Timestamp>,
    /// Where this version went out.
    pub published: Vec<String>,
    /// A later version exists that is not approved yet.
    pub newer_draft: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactLine {
    pub id: FactId,
    pub text: String,
    pub source: Option<String>,
    pub logged_by: Actor,
    pub logged_at: Timestamp,
    /// When it happened (when it was logged, unless a time was given).
    pub occurred_at: Timestamp,
    pub backfill_reason: Option<String>,
    /// Who verified or disproved it, and on what basis.
    pub judged_by: Option<Actor>,
    pub basis: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingDecision {
    pub id: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    pub proposer: UserName,
    pub proposed_at: Timestamp,
    pub endorsed_by: Vec<UserName>,
    /// What is missing, in words.
    pub waiting_on: String,
    /// The exact statement text it approves, and its changes from the audience's last approved text.
    pub statement: Option<BoundText>,
    /// Who must act: each role that can move it forward, with its holders.
    pub must_act: Vec<RoleHolders>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleHolders {
    pub role: Role,
    pub holders: Vec<UserName>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovedDecision {
    pub id: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    pub decided_at: Option<Timestamp>,
    pub approved_by: Vec<UserName>,
    /// For a decision a playbook pre-approved: who approved the playbook, its id, version and hash.
    pub preapproved: Option<Citation>,
    /// The exact statement text it approved.
    pub statement: Option<BoundText>,
    pub actions: Vec<ActionLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionLine {
    pub connector: &'static str,
    pub target: String,
    pub status: ActionStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskLine {
    pub id: TaskId,
    pub title: String,
    pub owner: Option<UserName>,
    pub due: Option<Timestamp>,
    pub overdue: bool,
    pub blocked: bool,
    pub note: Option<String>,
}

impl Sitrep {
    pub fn of(state: &IncidentState, org: &OrgState, now: Timestamp) -> Sitrep {
        let policy = &org.policy;
        // Facts read in the order things happened, which a backfill makes differ from the
        // order they were logged in.
        let facts = |status: FactStatus| -> Vec<FactLine> {
            let mut lines: Vec<FactLine> = state
                .facts
                .iter()
                .filter(|f| f.status == status)
                .map(|f| FactLine {
                    id: f.id,
                    text: f.text.clone(),
                    source: f.source.clone(),
                    logged_by: f.logged_by.clone(),
                    logged_at: f.logged_at,
                    occurred_at: f.occurred_at,
                    backfill_reason: f.backfill_reason.clone(),
                    judged_by: f.judged.as_ref().map(|j| j.by.clone()),
                    basis: f.judged.as_ref().map(|j| j.basis.clone()),
                })
                .collect();
            lines.sort_by_key(|f| (f.occurred_at, f.id));
            lines
        };
        Sitrep {
            incident: state.id,
            title: state.title.clone(),
            severity: state.severity,
            phase: state.phase,
            restricted: state.restricted,
            exercise: state.exercise,
            declared_at: state.declared_at,
            declared_by: state.declared_by.clone(),
            occurrence: state.occurrence.clone(),
            generated_at: now,
            as_of_seq: state.seq,
            as_of_hash: state.head,
            roles: state.roles.clone(),
            commander: state.commander().cloned(),
            handovers: state.handovers.clone(),
            blockers: state.vacant(&policy.roles.required, |user| org.is_active(user)).into_iter().cloned().collect(),
            verified_facts: facts(FactStatus::Verified),
            unverified_facts: facts(FactStatus::Unverified),
            disproved_facts: facts(FactStatus::Disproved),
            pending_decisions: state
                .decisions
                .iter()
                .filter(|d| d.state == DecisionState::Proposed)
                .map(|d| pending(state, d))
                .collect(),
            approved_decisions: state
                .decisions
                .iter()
                .filter(|d| d.state == DecisionState::Approved)
                .map(|d| ApprovedDecision {
                    id: d.id,
                    class: d.class.clone(),
                    title: d.title.clone(),
                    decided_at: d.decided_at,
                    approved_by: d.approvals.iter().map(|a| a.user.clone()).collect(),
                    preapproved: d.playbook.clone().filter(|_| d.approvals.is_empty()),
                    statement: bound_text(state, d),
                    actions: d
                        .actions
                        .iter()
                        .map(|a| ActionLine {
                            connector: a.spec.connector(),
                            target: target(&a.spec),
                            status: a.status,
                            attempts: a.attempts,
                            last_error: a.last_error.clone(),
                        })
                        .collect(),
                })
                .collect(),
            open_tasks: state
                .tasks
                .iter()
                .filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked))
                .map(|t| TaskLine {
                    id: t.id,
                    title: t.title.clone(),
                    owner: t.owner.clone(),
                    due: t.due,
                    overdue: t.due.is_some_and(|due| due < now),
                    blocked: t.state == TaskState::Blocked,
                    note: t.note.clone(),
                })
                .collect(),
            third_parties: state
                .parties
                .iter()
                .map(|engaged| {
                    let party = PartyView::of(engaged, org);
                    PartyLine {
                        party: engaged.party.clone(),
                        name: party.name().to_owned(),
                        kind: party.kind(),
                        contacts: party.contacts().to_vec(),
                        operates: party.operates().map(str::to_owned),
                        authority: party.authority().to_vec(),
                        engaged_by: engaged.engaged_by.clone(),
                        engaged_at: engaged.engaged_at,
                        live_shares: state
                            .shares
                            .iter()
                            .filter(|s| s.party == engaged.party && state.share_is_live(s, now))
                            .map(|s| s.id)
                            .collect(),
                    }
                })
                .collect(),
            statements: Audience::ALL.iter().filter_map(|audience| approved_statement(state, *audience)).collect(),
            evidence_items: state.evidence.len(),
            clocks: {
                let mut clocks: Vec<ClockLine> = state
                    .clocks
                    .iter()
                    .map(|c| ClockLine {
                        clock: c.clock.clone(),
                        title: c.title.clone(),
                        deadline: c.waiting_for.is_none().then_some(c.deadline),
                        running: c.is_running(),
                        seconds_left: c.is_running().then(|| c.seconds_left(now)),
                        missed: matches!(
                            c.outcome(now),
                            crate::incident::ClockOutcome::Missed | crate::incident::ClockOutcome::Late
                        ),
                        outcome: c.outcome(now).as_str(),
                        waiting_for: c.waiting_for.clone(),
                        submission: c.submission.clone(),
                        released: c.released.clone(),
                        stopping_class: c.stopped_by.clone(),
                    })
                    .collect();
                clocks.sort_by_key(|c| (!c.running, c.waiting_for.is_some(), c.deadline));
                clocks
            },
        }
    }
}

/// A clock's status in words: "3 h 10 min left", "MISSED 2 h ago", "met: sent … to …
/// (reference …)", "not required: … (legal)".
pub fn clock_status(clock: &ClockLine) -> String {
    if let Some(sent) = &clock.submission {
        return format!(
            "{}: sent {} to {} via {}, reference {} ({} v{}, approved by {})",
            if sent.met { "met" } else { "**late**" },
            sent.sent_at,
            md(&sent.authority),
            md(&sent.channel),
            md(&sent.reference),
            sent.statement.statement,
            sent.statement.version,
            sent.decision
        );
    }
    if let Some(released) = &clock.released {
        return format!("{} by {} at {}: {}", clock.outcome, released.by, released.at, md(&released.basis));
    }
    match clock.seconds_left {
        _ if clock.waiting_for.is_some() => "waiting".to_owned(),
        Some(left) if left < 0 => format!("**MISSED** {} ago, nothing submitted", duration_words(-left)),
        Some(left) => format!("**{} left**", duration_words(left)),
        None => clock.outcome.to_owned(),
    }
}

/// A bound statement's exact text and its changes, quoted under a decision.
fn statement_markdown(out: &mut String, bound: &BoundText) {
    let _ = writeln!(
        out,
        "  - approves {} v{} \"{}\" to {} (text SHA-256 {}):",
        bound.statement,
        bound.version,
        md(&bound.title),
        bound.audience.as_str(),
        &bound.sha256[..12.min(bound.sha256.len())]
    );
    for line in bound.text.lines() {
        let _ = writeln!(out, "    > {}", md(line));
    }
    match &bound.previous {
        Some(previous) => {
            let _ = writeln!(
                out,
                "  - changes from {} v{} (approved by {}):",
                previous.statement, previous.version, previous.decision
            );
            for change in &bound.changes {
                let word = match change {
                    crate::statement_text::Change::Same(_) => "unchanged",
                    crate::statement_text::Change::Added(_) => "**added**",
                    crate::statement_text::Change::Removed(_) => "**removed**",
                };
                let _ = writeln!(out, "    - {word}: {}", md(change.line()));
            }
        }
        None => {
            let _ = writeln!(out, "  - no earlier text to {} was approved", bound.audience.as_str());
        }
    }
}

/// The most recently approved statement version for an audience.
fn approved_statement(state: &IncidentState, audience: Audience) -> Option<StatementLine> {
    state
        .statements
        .iter()
        .filter(|s| s.audience == audience)
        .flat_map(|statement| {
            statement.versions.iter().filter_map(move |version| {
                let bound =
                    StatementRef { statement: statement.id, version: version.version, sha256: version.sha256.clone() };
                state.approval_of(&bound).map(|decision| (statement, version, decision))
            })
        })
        .max_by_key(|(_, _, decision)| decision.decided_at)
        .map(|(statement, version, decision)| StatementLine {
            audience,
            statement: statement.id,
            title: statement.title.clone(),
            version: version.version,
            sha256: version.sha256.clone(),
            text: version.text.clone(),
            approved_by: decision.id,
            approved_at: decision.decided_at,
            published: statement
                .publications
                .iter()
                .filter(|p| p.version == version.version)
                .map(|p| format!("{} at {}", p.channel, p.at))
                .collect(),
            newer_draft: statement.latest().version > version.version,
        })
}

fn pending(state: &IncidentState, decision: &Decision) -> PendingDecision {
    let progress = decision.progress();
    PendingDecision {
        id: decision.id,
        class: decision.class.clone(),
        title: decision.title.clone(),
        proposer: decision.proposer.clone(),
        proposed_at: decision.proposed_at,
        endorsed_by: decision.approvals.iter().map(|a| a.user.clone()).collect(),
        waiting_on: progress.waiting_on,
        statement: bound_text(state, decision),
        must_act: progress
            .awaiting
            .into_iter()
            .map(|role| {
                let holders = state
                    .roles
                    .get(&role)
                    .map(|users| users.iter().filter(|u| !decision.endorsed_by(u)).cloned().collect())
                    .unwrap_or_default();
                RoleHolders { role, holders }
            })
            .collect(),
    }
}

/// What an action acts on, in words: a task's title, a destination, a command, a party.
pub fn target(spec: &ActionSpec) -> String {
    match spec {
        ActionSpec::Task { title, .. } => title.clone(),
        ActionSpec::Webhook { destination, .. } => destination.clone(),
        ActionSpec::Command { command, .. } => command.clone(),
        ActionSpec::Notify { .. } => "communications path".to_owned(),
        ActionSpec::Share { party, items, .. } => format!("{} item(s) with {party}", items.len()),
    }
}

pub(crate) fn status_word(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Pending => "pending",
        ActionStatus::Running => "running",
        ActionStatus::Succeeded => "succeeded",
        ActionStatus::Failed => "FAILED",
    }
}

pub(crate) fn names(users: &[UserName]) -> String {
    if users.is_empty() {
        "nobody".to_owned()
    } else {
        users.iter().map(UserName::as_str).collect::<Vec<_>>().join(", ")
    }
}

/// "3h 12m", "2d 4h", "45m".
pub fn age(from: Timestamp, to: Timestamp) -> String {
    let minutes = (to.unix_micros() - from.unix_micros()).max(0) / 60_000_000;
    match minutes {
        m if m < 60 => format!("{m}m"),
        m if m < 24 * 60 => format!("{}h {}m", m / 60, m % 60),
        m => format!("{}d {}h", m / (24 * 60), (m / 60) % 24),
    }
}

/// Escapes Markdown so user text is shown as written, on one line.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// "2 d 4 h", "3 h 10 min", "12 min": a duration as people read a deadline.
pub fn duration_words(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins} min"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_keeps_text_as_written() {
        assert_eq!(md("<img src=x onerror=alert(1)>"), "\\<img src=x onerror=alert(1)\\>");
        assert_eq!(md("[click](http://evil)\n# heading"), "\\[click\\](http://evil) \\# heading");
    }

    #[test]
    fn ages_read_naturally() {
        let t = |minutes: i64| Timestamp::from_unix_micros(minutes * 60_000_000).expect("in range");
        assert_eq!(age(t(0), t(45)), "45m");
        assert_eq!(age(t(0), t(192)), "3h 12m");
        assert_eq!(age(t(0), t(3 * 24 * 60 + 61)), "3d 1h");
    }
}
