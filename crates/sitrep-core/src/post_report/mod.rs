//! The post-incident report: everything the record says about an incident, for the people who
//! review it, auditors and regulators, generated from the record alone.
//!
//! [`PostIncidentReport::of`] reads two things: the entries (the history, walked once: the
//! timeline, when the incident was staffed, contained and closed, which NIST CSF 2.0
//! subcategories the entries evidence) and the folded state (the present: decisions with their
//! approvals, statements, evidence, parties, the review). Nothing else: no clock (`now` is passed
//! in), no I/O. The report names the seq and hash of the record it describes.
//!
//! The model is here; `metrics.rs` walks the record, `csf_mapping.rs` is the CSF table,
//! `build.rs` assembles the report, `describe.rs` puts entries in words and `markdown.rs` prints it.
//!
//! # Metric definitions
//!
//! Every duration runs from the declaration (the time of entry 1) and is measured on entry
//! times, so it is reproducible from the record by anyone.
//!
//! - **Staffed**: the first entry after which no required role is unfilled: the policy's
//!   `roles.required` plus the roles of the playbooks started so far, exactly as
//!   [`IncidentState::unfilled`] judges it, folded entry by entry. Roles staffed in the
//!   declaration itself give zero. A later playbook that needs a new role does not move it.
//! - **First containment decision**: the first entry that approves a decision of a
//!   containment class: `containment`, or any class whose policy CSF references include
//!   `RS.MI-01` ("incidents are contained"; by default also `credential_revocation`).
//! - **Contained**: the first `incident.phase_changed` to a phase past containment
//!   (`eradication`, `recovery`, `post_incident` or `closed`). The record holds no separate
//!   "contained" fact; leaving the containment phase is the commander saying so.
//! - **Closed**: the `incident.phase_changed` to `closed`.
//! - **Approval latency**, per decision class: for each approved decision, `decided_at −
//!   proposed_at`, with count, median (the mean of the two middle values for an even count) and
//!   maximum. Decisions approved in the entry that proposed them (the proposer alone met the
//!   rule, or a playbook pre-approved it) count with zero and are also counted as `immediate`.
//!
//! # NIST CSF 2.0 mapping
//!
//! [`CSF_MAPPING`] says, for each entry kind (and, for some, a condition on the entry), which
//! CSF 2.0 subcategories such an entry evidences, with a one-line justification per row. An
//! entry that approves a decision, and a decision's action that succeeds, also evidence the CSF
//! references the policy gives the decision's class (`csf = [...]` in the policy; the policy in
//! force when the report is made, since a proposal records its rule but not its class's
//! references). In an exercise, improvements are identified from an exercise, so `ID.IM-03`
//! becomes `ID.IM-02`. A test checks every entry kind has at least one row.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::entry::EntryHash;
use crate::events::{Audience, DecisionState};
use crate::ids::{
    Actor, ControlChangeId, DecisionClass, DecisionId, IncidentNumber, LessonId, Phase, Role, Severity, ShareId,
    StatementId, UserName,
};
use crate::incident::{ActionStatus, ControlChangeState, IncidentState, NoticeStatus};
use crate::time::Timestamp;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostIncidentReport {
    pub summary: Summary,
    pub metrics: Metrics,
    pub deadlines: DeadlineCompliance,
    pub decisions: Vec<DecisionRecord>,
    pub statements: Vec<StatementRecord>,
    pub evidence: EvidenceManifest,
    pub third_parties: Vec<PartyRecord>,
    pub shares: Vec<ShareRecord>,
    pub review: ReviewRecord,
    pub csf: CsfView,
    pub timeline: Vec<TimelineLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub incident: IncidentNumber,
    pub title: String,
    pub severity: Severity,
    pub phase: Phase,
    pub restricted: bool,
    pub exercise: bool,
    pub scope: Vec<String>,
    pub declared_at: Timestamp,
    pub declared_by: Actor,
    /// When the incident started, was first seen and was detected, as recorded.
    pub occurrence: crate::incident::Occurrence,
    pub closed: Option<Closure>,
    /// Who holds the commander role now (at close, for a closed incident).
    pub commander: Vec<UserName>,
    pub roles: BTreeMap<Role, Vec<UserName>>,
    /// SHA-256 of the policy in force at declaration.
    pub policy: String,
    /// Playbooks started, as `id vVERSION`.
    pub playbooks: Vec<String>,
    pub generated_at: Timestamp,
    /// The record this report describes: its last seq and hash.
    pub as_of_seq: u64,
    pub as_of_hash: EntryHash,
    /// Whether every entry walked chains to the one before it and its hash recomputes.
    pub chain_verified: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Closure {
    pub at: Timestamp,
    pub by: Actor,
    pub seq: u64,
    /// The approved `close` decision.
    pub decision: Option<DecisionId>,
}

/// One moment the metrics measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Milestone {
    pub seq: u64,
    pub at: Timestamp,
    /// Seconds after the declaration.
    pub after_seconds: f64,
    /// What reached it ("D-3 containment"), where that says more than the seq.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    pub declared_at: Timestamp,
    pub staffed: Option<Milestone>,
    pub first_containment_decision: Option<Milestone>,
    pub contained: Option<Milestone>,
    pub closed: Option<Milestone>,
    pub approval_latency: Vec<ClassLatency>,
    /// The classes counted as containment, from the policy.
    pub containment_classes: Vec<DecisionClass>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassLatency {
    pub class: DecisionClass,
    pub count: usize,
    /// Approved in the entry that proposed them.
    pub immediate: usize,
    pub median_seconds: f64,
    pub max_seconds: f64,
    /// Every latency, in seconds, in the order the decisions were proposed.
    pub seconds: Vec<f64>,
}

/// Whether regulatory deadlines were met: each clock with its start, deadline, what stopped
/// it and whether in time.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadlineCompliance {
    pub note: String,
    pub clocks: Vec<ClockOutcome>,
    /// Clocks met by a notification submitted by the deadline, out of those owed (every clock
    /// but those whose determination was withdrawn or whose notification is not required).
    pub met: usize,
    /// Submitted after the deadline.
    pub late: usize,
    /// Past the deadline with nothing submitted.
    pub missed: usize,
    /// Stopped unmet with a basis: determination withdrawn, or not required.
    pub released: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockOutcome {
    pub clock: String,
    pub title: String,
    pub determination: String,
    pub started_at: Timestamp,
    pub deadline: Timestamp,
    /// `met`, `late` (submitted after the deadline), `missed` (past it, nothing submitted),
    /// `running`, `waiting` (runs from another clock's submission), `determination withdrawn`
    /// or `not required`.
    pub outcome: &'static str,
    /// The clock whose submission starts this one, while it waits (its start and deadline are
    /// not yet known).
    pub waiting_for: Option<String>,
    /// The notification sent: when, to whom, through what, their reference, which text.
    pub submission: Option<crate::incident::Submission>,
    /// Why it stopped without a notification, by whom.
    pub released: Option<crate::incident::ClockRelease>,
}

/// The text the deadline section carries when no determination started a clock.
pub const NO_REGULATORY_CLOCKS: &str = "No regulatory clocks: no determination started one.";

fn deadline_compliance(state: &IncidentState, now: Timestamp) -> DeadlineCompliance {
    let clocks: Vec<ClockOutcome> = state
        .clocks
        .iter()
        .map(|c| ClockOutcome {
            clock: c.clock.clone(),
            title: c.title.clone(),
            determination: c.determination.clone(),
            started_at: c.started_at,
            deadline: c.deadline,
            outcome: c.outcome(now).as_str(),
            waiting_for: c.waiting_for.clone(),
            submission: c.submission.clone(),
            released: c.released.clone(),
        })
        .collect();
    let count = |outcome: &str| clocks.iter().filter(|c| c.outcome == outcome).count();
    let (met, late, missed) = (count("met"), count("late"), count("missed"));
    let released = clocks.iter().filter(|c| c.released.is_some()).count();
    let total = clocks.len();
    let note = if total == 0 {
        NO_REGULATORY_CLOCKS.to_owned()
    } else {
        let mut note = format!(
            "{met} of {} regulatory deadline(s) met by a submitted notification; {late} late, {missed} missed.",
            total - released
        );
        if released > 0 {
            note.push_str(&format!(
                " {released} stopped without a notification (determination withdrawn or not required)."
            ));
        }
        note
    };
    DeadlineCompliance { note, clocks, met, late, missed, released, total }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionRecord {
    pub id: DecisionId,
    pub class: DecisionClass,
    /// The class's title in the policy.
    pub class_title: Option<String>,
    pub title: String,
    pub rationale: Option<String>,
    pub state: DecisionState,
    pub proposer: UserName,
    pub proposed_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    /// For an approved decision: seconds from proposal to approval.
    pub latency_seconds: Option<f64>,
    /// The rule it was judged by, in words.
    pub rule: String,
    /// "pre-approved by playbook leaked-secret v1.0.0".
    pub playbook: Option<String>,
    /// The statement version it approves, as `ST-1 v2 (sha256 …)`.
    pub statement: Option<String>,
    /// Every endorsement, rejection and withdrawal, in order.
    pub endorsements: Vec<EndorsementLine>,
    pub actions: Vec<ActionOutcome>,
    pub notices: Vec<NoticeLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndorsementLine {
    /// `approved`, `approved by proposing`, `rejected` or `withdrew`.
    pub what: &'static str,
    pub user: UserName,
    pub role: Option<Role>,
    pub at: Timestamp,
    pub note: Option<String>,
    /// How the person had signed in, when known: "oidc (issuer), acr …, amr …, at …".
    pub authenticated: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionOutcome {
    /// 1 for the first action.
    pub number: u32,
    pub connector: &'static str,
    pub target: String,
    pub status: ActionStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeLine {
    pub moment: &'static str,
    pub channel: String,
    pub status: NoticeStatus,
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementRecord {
    pub id: StatementId,
    pub audience: Audience,
    pub title: String,
    /// The decision class whose approval lets it out.
    pub class: &'static str,
    pub versions: Vec<VersionRecord>,
    pub publications: Vec<PublicationRecord>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionRecord {
    pub version: u32,
    pub sha256: String,
    pub by: Actor,
    pub at: Timestamp,
    pub text: String,
    /// Every decision bound to this exact version, with its state and approvers.
    pub approvals: Vec<VersionApproval>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionApproval {
    pub decision: DecisionId,
    pub state: DecisionState,
    pub approved_by: Vec<UserName>,
    pub decided_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicationRecord {
    pub version: u32,
    pub sha256: String,
    pub channel: String,
    pub decision: DecisionId,
    pub by: Actor,
    pub at: Timestamp,
    /// When `channel` is a configured outlet: what sitrep delivered there, attempt by attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::incident::Delivery>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceManifest {
    /// Whether names, types, sources, collectors and download purposes are shown: only to
    /// those the policy lets read evidence.
    pub names_shown: bool,
    pub items: Vec<EvidenceLine>,
    pub total_bytes: u64,
    /// Signed-in downloads (and exports), across items.
    pub downloads: usize,
    /// Fetches through share links, across items.
    pub share_fetches: usize,
    pub integrity_failures: usize,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceLine {
    pub sha256: String,
    pub size: u64,
    pub name: Option<String>,
    pub media_type: Option<String>,
    pub source: Option<String>,
    pub collected_by: Option<String>,
    pub collected_at: Option<Timestamp>,
    pub registered_by: Actor,
    pub received_at: Timestamp,
    pub downloads: usize,
    pub share_fetches: usize,
    pub integrity_failures: usize,
    /// Every custody entry (who, when, why); empty when names are not shown.
    pub custody: Vec<CustodyLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustodyLine {
    pub by: Actor,
    pub at: Timestamp,
    pub purpose: String,
    pub share: Option<ShareId>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ReportPartyRecord))]
pub struct PartyRecord {
    pub party: String,
    pub name: String,
    pub kind: &'static str,
    pub operates: Option<String>,
    pub authority: Vec<String>,
    pub reason: Option<String>,
    pub engaged_by: Actor,
    pub engaged_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareRecord {
    pub id: ShareId,
    pub decision: DecisionId,
    pub party: String,
    pub items: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Who revoked it, when and why.
    pub revoked: Option<String>,
    pub uses: u32,
    /// Whether the link still works at the report's time.
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewRecord {
    pub lessons: Vec<crate::incident::Lesson>,
    pub control_changes: Vec<ControlChangeRecord>,
    pub completed: Option<crate::incident::ReviewCompletion>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlChangeRecord {
    pub id: ControlChangeId,
    pub lesson: LessonId,
    pub title: String,
    pub owner: UserName,
    pub due: Timestamp,
    pub csf: String,
    pub state: ControlChangeState,
    /// Open past its due date at the report's time.
    pub overdue: bool,
    pub planned_by: Actor,
    pub planned_at: Timestamp,
    /// Who closed it, when, and their note.
    pub closed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineLine {
    pub seq: u64,
    /// When it was recorded: the entry's time.
    pub at: Timestamp,
    /// When it happened: the time a fact or note gives, else the entry's. The timeline is in
    /// this order (then by seq).
    pub occurred_at: Timestamp,
    pub backfill_reason: Option<String>,
    pub actor: Actor,
    pub kind: String,
    pub hash: EntryHash,
    /// What happened, in words.
    pub what: String,
}

/// Which CSF 2.0 subcategories the incident's entries evidence, by category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsfView {
    pub categories: Vec<CsfCategory>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsfCategory {
    pub id: String,
    pub title: String,
    pub subcategories: Vec<CsfEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsfEvidence {
    pub id: String,
    /// The subcategory's outcome, as CSF 2.0 words it (empty for one this table does not know).
    pub title: String,
    /// The entries that evidence it; empty when none does.
    pub seqs: Vec<u64>,
    /// The entry kinds among them.
    pub kinds: Vec<String>,
}

impl CsfView {
    /// The subcategory, if the view lists it.
    pub fn get(&self, id: &str) -> Option<&CsfEvidence> {
        self.categories.iter().flat_map(|c| &c.subcategories).find(|s| s.id == id)
    }
}

mod build;
mod csf_mapping;
mod describe;
mod markdown;
mod metrics;

pub use csf_mapping::*;
pub use describe::*;
pub use markdown::*;
pub use metrics::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::IncidentEvent;

    #[test]
    fn every_entry_kind_has_a_csf_row_and_every_row_names_a_kind() {
        for kind in IncidentEvent::KINDS {
            assert!(CSF_MAPPING.iter().any(|row| row.kind == *kind), "{kind} has no row in CSF_MAPPING");
        }
        for row in CSF_MAPPING {
            assert!(IncidentEvent::KINDS.contains(&row.kind), "{} is not an entry kind", row.kind);
            for reference in row.csf {
                assert!(!csf_title(reference).is_empty(), "{reference} is not a subcategory this module knows");
            }
            assert!(!row.why.is_empty());
        }
    }

    #[test]
    fn medians_durations_and_ranges() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(725.0), "12m 5s");
        assert_eq!(duration(3.0 * 3600.0 + 12.0 * 60.0), "3h 12m");
        assert_eq!(duration(2.0 * 86400.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(seq_ranges(&[1, 3, 4, 5, 9]), "1, 3–5, 9");
        assert_eq!(seq_ranges(&[]), "");
    }
}
