//! The post-incident report: everything the record says about an incident, for the people who
//! review it, auditors and regulators, generated from the record alone.
//!
//! [`PostIncidentReport::of`] reads two things: the entries (the history, walked once: the
//! timeline, when the incident was staffed, contained and closed, which NIST CSF 2.0
//! subcategories the entries evidence) and the folded state (the present: decisions with their
//! approvals, statements, evidence, parties, the review). Nothing else: no clock (`now` is passed
//! in), no I/O. The report names the seq and hash of the record it describes.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::entry::{Entry, EntryHash};
use crate::events::{Audience, DecisionState, IncidentEvent};
use crate::ids::{
    Actor, ControlChangeId, DecisionClass, DecisionId, IncidentNumber, LessonId, Phase, Role, Severity, ShareId,
    StatementId, UserName,
};
use crate::incident::{ActionStatus, ControlChangeState, IncidentState, NoticeStatus};
use crate::org::OrgState;
use crate::policy::Policy;
use crate::sitrep::{md, names, status_word};
use crate::time::Timestamp;

#[derive(Debug, Clone, Serialize)]
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
pub struct Closure {
    pub at: Timestamp,
    pub by: Actor,
    pub seq: u64,
    /// The approved `close` decision.
    pub decision: Option<DecisionId>,
}

/// One moment the metrics measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
pub struct EndorsementLine {
    /// `approved`, `approved by proposing`, `rejected` or `withdrew`.
    pub what: &'static str,
    pub user: UserName,
    pub role: Option<Role>,
    pub at: Timestamp,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct NoticeLine {
    pub moment: &'static str,
    pub channel: String,
    pub status: NoticeStatus,
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct VersionApproval {
    pub decision: DecisionId,
    pub state: DecisionState,
    pub approved_by: Vec<UserName>,
    pub decided_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicationRecord {
    pub version: u32,
    pub sha256: String,
    pub channel: String,
    pub decision: DecisionId,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct CustodyLine {
    pub by: Actor,
    pub at: Timestamp,
    pub purpose: String,
    pub share: Option<ShareId>,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct ReviewRecord {
    pub lessons: Vec<crate::incident::Lesson>,
    pub control_changes: Vec<ControlChangeRecord>,
    pub completed: Option<crate::incident::ReviewCompletion>,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct CsfView {
    pub categories: Vec<CsfCategory>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsfCategory {
    pub id: String,
    pub title: String,
    pub subcategories: Vec<CsfEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

// ---------------------------------------------------------------------------------------------
// The NIST CSF 2.0 mapping.

/// The categories the view reports on, with their CSF 2.0 names.
pub const CSF_CATEGORIES: &[(&str, &str)] = &[
    ("RS.MA", "Incident Management"),
    ("RS.AN", "Incident Analysis"),
    ("RS.CO", "Incident Response Reporting and Communication"),
    ("RS.MI", "Incident Mitigation"),
    ("RC.RP", "Incident Recovery Plan Execution"),
    ("RC.CO", "Incident Recovery Communication"),
    ("ID.IM", "Improvement"),
];

/// The subcategories of those categories, as CSF 2.0 words their outcomes.
pub const CSF_SUBCATEGORIES: &[(&str, &str)] = &[
    (
        "RS.MA-01",
        "The incident response plan is executed in coordination with relevant third parties once an incident is declared",
    ),
    ("RS.MA-02", "Incident reports are triaged and validated"),
    ("RS.MA-03", "Incidents are categorized and prioritized"),
    ("RS.MA-04", "Incidents are escalated or elevated as needed"),
    ("RS.MA-05", "The criteria for initiating incident recovery are applied"),
    (
        "RS.AN-03",
        "Analysis is performed to establish what has taken place during an incident and the root cause of the incident",
    ),
    (
        "RS.AN-06",
        "Actions performed during an investigation are recorded, and the records' integrity and provenance are preserved",
    ),
    ("RS.AN-07", "Incident data and metadata are collected, and their integrity and provenance are preserved"),
    ("RS.AN-08", "An incident's magnitude is estimated and validated"),
    ("RS.CO-02", "Internal and external stakeholders are notified of incidents"),
    ("RS.CO-03", "Information is shared with designated internal and external stakeholders"),
    ("RS.MI-01", "Incidents are contained"),
    ("RS.MI-02", "Incidents are eradicated"),
    (
        "RC.RP-01",
        "The recovery portion of the incident response plan is executed once initiated from the incident response process",
    ),
    ("RC.RP-02", "Recovery actions are selected, scoped, prioritized, and performed"),
    ("RC.RP-03", "The integrity of backups and other restoration assets is verified before using them for restoration"),
    (
        "RC.RP-04",
        "Critical mission functions and cybersecurity risk management are considered to establish post-incident operational norms",
    ),
    (
        "RC.RP-05",
        "The integrity of restored assets is verified, systems and services are restored, and normal operating status is confirmed",
    ),
    (
        "RC.RP-06",
        "The end of incident recovery is declared based on criteria, and incident-related documentation is completed",
    ),
    (
        "RC.CO-03",
        "Recovery activities and progress in restoring operational capabilities are communicated to designated internal and external stakeholders",
    ),
    ("RC.CO-04", "Public updates on incident recovery are shared using approved methods and messaging"),
    ("ID.IM-01", "Improvements are identified from evaluations"),
    (
        "ID.IM-02",
        "Improvements are identified from security tests and exercises, including those done in coordination with suppliers and relevant third parties",
    ),
    ("ID.IM-03", "Improvements are identified from execution of operational processes, procedures, and activities"),
    (
        "ID.IM-04",
        "Incident response plans and other cybersecurity plans that affect operations are established, communicated, maintained, and improved",
    ),
];

/// When a mapping row applies to an entry of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Always,
    /// A phase change to one of these phases.
    PhaseTo(&'static [Phase]),
    /// The entry approves its decision (the approval that completes the rule, or a proposal
    /// approved at once).
    Approves,
    /// An evidence access through a share link.
    ThroughShare,
    /// A statement published to the public (customers or the press).
    PublicAudience,
    /// Written once the incident was in recovery or later.
    InRecovery,
}

impl When {
    pub fn describe(self) -> String {
        match self {
            When::Always => "always".to_owned(),
            When::PhaseTo(phases) => {
                format!("to {}", phases.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" or "))
            }
            When::Approves => "when it approves the decision".to_owned(),
            When::ThroughShare => "through a share link".to_owned(),
            When::PublicAudience => "to customers or the press".to_owned(),
            When::InRecovery => "in recovery or later".to_owned(),
        }
    }
}

/// One row of the mapping: entries of `kind` for which `when` holds evidence `csf` (and, with
/// `class_refs`, the CSF references the policy gives the decision's class).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CsfRow {
    pub kind: &'static str,
    pub when: When,
    pub csf: &'static [&'static str],
    pub class_refs: bool,
    pub why: &'static str,
}

const fn row(kind: &'static str, when: When, csf: &'static [&'static str], why: &'static str) -> CsfRow {
    CsfRow { kind, when, csf, class_refs: false, why }
}

const fn class_row(kind: &'static str, when: When, why: &'static str) -> CsfRow {
    CsfRow { kind, when, csf: &[], class_refs: true, why }
}

const RECOVERY_ON: &[Phase] = &[Phase::Recovery];

/// Entry kinds to CSF 2.0 subcategories, with why. Every kind has at least one row; a row with
/// no subcategory says why such an entry evidences none.
pub const CSF_MAPPING: &[CsfRow] = &[
    row(
        "incident.declared",
        When::Always,
        &["RS.MA-01", "RS.MA-03"],
        "Declaring starts the response; the incident is declared with a severity, so it is categorised and prioritised.",
    ),
    row(
        "incident.phase_changed",
        When::Always,
        &["RS.MA-01"],
        "Moving through the response phases is the plan being executed.",
    ),
    row(
        "incident.phase_changed",
        When::PhaseTo(&[Phase::Triage]),
        &["RS.MA-02"],
        "Triage is where reports are triaged and validated.",
    ),
    row(
        "incident.phase_changed",
        When::PhaseTo(RECOVERY_ON),
        &["RS.MA-05", "RC.RP-01"],
        "Entering recovery applies the criteria for starting it and starts the recovery part of the plan.",
    ),
    row(
        "incident.phase_changed",
        When::PhaseTo(&[Phase::Closed]),
        &["RC.RP-06"],
        "Closing takes an approved close decision and a complete review: the end is declared on criteria and the documentation is complete.",
    ),
    row(
        "incident.severity_changed",
        When::Always,
        &["RS.MA-03", "RS.AN-08"],
        "Re-prioritising the incident is re-estimating its magnitude.",
    ),
    row("role.assigned", When::Always, &["RS.MA-01"], "Staffing the response roles is executing the plan."),
    row("role.released", When::Always, &["RS.MA-01"], "Changing who holds a response role is executing the plan."),
    row(
        "incident.occurrence_recorded",
        When::Always,
        &["RS.AN-03", "RS.MA-02"],
        "When the incident started, was first seen and was detected establishes what took place and validates when it was reported.",
    ),
    row(
        "commander.handed_over",
        When::Always,
        &["RS.MA-01"],
        "Command passes to one named person at a time, with the reason: the plan's leadership kept in force.",
    ),
    row("fact.logged", When::Always, &["RS.AN-03"], "A fact logged establishes what has taken place."),
    row(
        "fact.verified",
        When::Always,
        &["RS.AN-03", "RS.MA-02"],
        "Verifying a fact on a stated basis validates what was reported.",
    ),
    row(
        "fact.disproved",
        When::Always,
        &["RS.AN-03", "RS.MA-02"],
        "Disproving a fact on a stated basis validates what was reported.",
    ),
    row("task.created", When::Always, &["RS.MA-01"], "Response work is assigned and tracked."),
    row("task.assigned", When::Always, &["RS.MA-01"], "Response work is assigned and tracked."),
    row("task.done", When::Always, &["RS.MA-01"], "Response work is done and recorded."),
    row("task.blocked", When::Always, &["RS.MA-01"], "Blocked work is recorded with its reason."),
    row("task.cancelled", When::Always, &["RS.MA-01"], "Response work is tracked to its end."),
    row(
        "decision.proposed",
        When::Always,
        &["RS.MA-01"],
        "Decisions are taken under the policy's authority: the plan executed as written.",
    ),
    class_row(
        "decision.proposed",
        When::Approves,
        "Approved at once (the proposer alone met the rule, or a playbook pre-approved it): evidence of its class's CSF references.",
    ),
    row("decision.approved", When::Always, &["RS.MA-01"], "An approval under the policy's rule."),
    class_row(
        "decision.approved",
        When::Approves,
        "The approval that completes the rule: evidence of its class's CSF references.",
    ),
    row("decision.rejected", When::Always, &["RS.MA-01"], "A rejection under the policy's rule, with its reason."),
    row("decision.withdrawn", When::Always, &["RS.MA-01"], "The proposer withdrew it; the record keeps why."),
    row("action.started", When::Always, &["RS.AN-06"], "Actions performed are recorded as they start."),
    row("action.succeeded", When::Always, &["RS.AN-06"], "Actions performed are recorded with their outcome."),
    class_row(
        "action.succeeded",
        When::Always,
        "An approved decision's action ran: evidence of what its class does (a containment action succeeded, RS.MI-01).",
    ),
    row("action.failed", When::Always, &["RS.AN-06"], "A failed action is recorded with its reason."),
    row("action.retry_requested", When::Always, &["RS.AN-06"], "A person asking for a retry is recorded."),
    row(
        "playbook.started",
        When::Always,
        &["RS.MA-01"],
        "A playbook is a pre-approved part of the response plan, started on the incident.",
    ),
    row(
        "notification.delivered",
        When::Always,
        &["RS.CO-02"],
        "The decision's communications path was told of its proposal or outcome.",
    ),
    row(
        "notification.failed",
        When::Always,
        &[],
        "An attempt that reached nobody evidences no notification; the record shows the gap.",
    ),
    row("note.added", When::Always, &["RS.AN-06"], "What was done and seen is written down as it happens."),
    row(
        "evidence.registered",
        When::Always,
        &["RS.AN-07"],
        "Incident data is collected with its hash (integrity) and source, collector and time of receipt (provenance).",
    ),
    row(
        "evidence.accessed",
        When::Always,
        &["RS.AN-07"],
        "Every download is recorded: the chain of custody preserves provenance.",
    ),
    row(
        "evidence.accessed",
        When::ThroughShare,
        &["RS.CO-03"],
        "Evidence went to a designated external party through an approved share link.",
    ),
    row(
        "evidence.integrity_failed",
        When::Always,
        &["RS.AN-07"],
        "Integrity is checked on every read; a mismatch is recorded and the data is not served.",
    ),
    row(
        "party.engaged",
        When::Always,
        &["RS.MA-01", "RS.CO-03"],
        "The response is coordinated with a relevant third party.",
    ),
    row(
        "share.created",
        When::Always,
        &["RS.CO-03"],
        "Information is shared with a designated external party under an approved decision.",
    ),
    row("share.revoked", When::Always, &["RS.CO-03"], "Sharing is controlled: the link is withdrawn."),
    row(
        "statement.drafted",
        When::Always,
        &[],
        "A draft informs nobody; its approval and publication are the evidence.",
    ),
    row(
        "statement.revised",
        When::Always,
        &[],
        "A revision informs nobody; its approval and publication are the evidence.",
    ),
    row(
        "statement.published",
        When::Always,
        &["RS.CO-02"],
        "Stakeholders are notified with the exact text an approved decision is bound to.",
    ),
    row(
        "statement.published",
        When::PublicAudience,
        &["RC.CO-04"],
        "A public update shared through an approved method with approved messaging.",
    ),
    row(
        "statement.published",
        When::InRecovery,
        &["RC.CO-03"],
        "Published during recovery: recovery progress communicated to stakeholders.",
    ),
    row(
        "lesson.recorded",
        When::Always,
        &["ID.IM-03"],
        "An improvement identified from running the response (ID.IM-02 for an exercise).",
    ),
    row(
        "control_change.planned",
        When::Always,
        &["ID.IM-03"],
        "The improvement becomes a control change with an owner and a due date (ID.IM-02 for an exercise).",
    ),
    row(
        "control_change.done",
        When::Always,
        &["ID.IM-03"],
        "The improvement is carried out (ID.IM-02 for an exercise).",
    ),
    row(
        "control_change.cancelled",
        When::Always,
        &[],
        "A cancelled improvement evidences none; the record keeps the reason.",
    ),
    row(
        "review.completed",
        When::Always,
        &["ID.IM-01", "RC.RP-06"],
        "The post-incident review is the evaluation improvements come from; it completes the incident's documentation.",
    ),
    row(
        "determination.recorded",
        When::Always,
        &["RS.AN-08", "RS.MA-04"],
        "A determination (personal data affected, material) validates the incident's magnitude and elevates it to regulatory clocks.",
    ),
    row("clock.warned", When::Always, &["RS.CO-02"], "The path that must act was told a regulatory deadline is near."),
    row("clock.missed", When::Always, &[], "A missed deadline evidences no outcome; deadline compliance reports it."),
    row(
        "clock.submitted",
        When::Always,
        &["RS.CO-02"],
        "Internal and external stakeholders are notified: the notification sent to the authority, with its reference.",
    ),
    row(
        "determination.withdrawn",
        When::Always,
        &["RS.AN-08"],
        "The incident's magnitude is re-estimated: a determination withdrawn, with the basis.",
    ),
    row(
        "clock.not_required",
        When::Always,
        &["RS.AN-08"],
        "The incident's magnitude is re-estimated: a notification judged not required, with the basis.",
    ),
];

/// [`CSF_MAPPING`] as a Markdown table (kind, condition, subcategories, why): what
/// `docs/reports.md` shows, checked against this table by a test.
pub fn mapping_table() -> String {
    let mut out = String::from("| entry kind | when | CSF 2.0 | why |\n|---|---|---|---|\n");
    for row in CSF_MAPPING {
        let mut csf: Vec<String> = row.csf.iter().map(|r| (*r).to_owned()).collect();
        if row.class_refs {
            csf.push("the class's `csf` in the policy".to_owned());
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            row.kind,
            row.when.describe(),
            if csf.is_empty() { "—".to_owned() } else { csf.join(", ") },
            row.why
        );
    }
    out
}

/// The category of a CSF reference: `RS.MA` for `RS.MA-01` (and for `RS.MA` itself).
fn category_of(reference: &str) -> &str {
    reference.split_once('-').map_or(reference, |(category, _)| category)
}

fn csf_title(reference: &str) -> &'static str {
    CSF_SUBCATEGORIES.iter().find(|(id, _)| *id == reference).map_or("", |(_, title)| title)
}

/// The CSF references the policy gives a class.
fn class_refs<'a>(policy: &'a Policy, class: &DecisionClass) -> &'a [String] {
    policy.classes.iter().find(|c| &c.class == class).map_or(&[], |c| c.csf.as_slice())
}

/// The classes that count as containment: `containment` and those the policy maps to RS.MI-01.
pub fn containment_classes(policy: &Policy) -> Vec<DecisionClass> {
    policy
        .classes
        .iter()
        .filter(|c| c.class.as_str() == "containment" || c.csf.iter().any(|r| r == "RS.MI-01"))
        .map(|c| c.class.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Walking the record.

/// What one walk over the record finds: the history-dependent parts of the report.
#[derive(Debug, Clone)]
struct Walked {
    metrics: Metrics,
    csf: BTreeMap<String, (BTreeSet<u64>, BTreeSet<String>)>,
    closure: Option<Closure>,
    chain_verified: bool,
}

impl Metrics {
    /// Walks the record (entries from seq 1, in order) and measures it. Entries that do not
    /// fold end the walk; what was measured before them stands.
    pub fn walk(entries: &[Entry], policy: &Policy) -> Metrics {
        walk(entries, policy, u64::MAX).metrics
    }
}

fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.unix_micros() - from.unix_micros()) as f64 / 1_000_000.0
}

fn walk(entries: &[Entry], policy: &Policy, up_to: u64) -> Walked {
    let declared_at = entries.first().map_or_else(epoch, |e| e.at);
    let containment = containment_classes(policy);
    let mut walked = Walked {
        metrics: Metrics {
            declared_at,
            staffed: None,
            first_containment_decision: None,
            contained: None,
            closed: None,
            approval_latency: Vec::new(),
            containment_classes: containment.clone(),
        },
        csf: BTreeMap::new(),
        closure: None,
        chain_verified: !entries.is_empty(),
    };
    let mut state: Option<IncidentState> = None;
    let mut prev = (0u64, EntryHash::ZERO);
    for entry in entries.iter().take_while(|e| e.seq <= up_to) {
        if entry.seq != prev.0 + 1 || entry.prev != prev.1 || entry.computed_hash() != entry.hash {
            walked.chain_verified = false;
        }
        prev = (entry.seq, entry.hash);
        let Ok(event) = IncidentEvent::parse(&entry.kind, &entry.body) else {
            walked.chain_verified = false;
            break;
        };
        // The state just before this entry: the phase it was written in, decisions' classes.
        let before_phase = state.as_ref().map_or(Phase::Declared, |s| s.phase);
        let exercise = match (&state, &event) {
            (Some(s), _) => s.exercise,
            (None, IncidentEvent::Declared(d)) => d.exercise,
            (None, _) => false,
        };
        let class_of = |decision: DecisionId, after: &IncidentState| after.decision(decision).map(|d| d.class.clone());
        let folded = match state.as_mut() {
            Some(folding) => folding.apply(entry, &event),
            None => match IncidentState::declare(entry, &event) {
                Ok(declared) => {
                    state = Some(declared);
                    Ok(())
                }
                Err(error) => Err(error),
            },
        };
        let (Ok(()), Some(after)) = (folded, state.as_ref()) else {
            walked.chain_verified = false;
            break;
        };
        let milestone = |detail: Option<String>| Milestone {
            seq: entry.seq,
            at: entry.at,
            after_seconds: seconds_between(declared_at, entry.at),
            detail,
        };
        let metrics = &mut walked.metrics;
        if metrics.staffed.is_none() && after.unfilled(&policy.roles.required).is_empty() {
            metrics.staffed = Some(milestone(None));
        }
        // The decision this entry approves, if it does.
        let approved = match &event {
            IncidentEvent::DecisionProposed(p) if p.state == DecisionState::Approved => Some(p.decision),
            IncidentEvent::DecisionApproved(a) if a.state == DecisionState::Approved => Some(a.decision),
            _ => None,
        };
        if let Some(decision) = approved
            && metrics.first_containment_decision.is_none()
            && let Some(class) = class_of(decision, after)
            && containment.contains(&class)
        {
            metrics.first_containment_decision = Some(milestone(Some(format!("{decision} {}", words(class.as_str())))));
        }
        if let IncidentEvent::PhaseChanged(change) = &event {
            let past_containment =
                matches!(change.to, Phase::Eradication | Phase::Recovery | Phase::PostIncident | Phase::Closed);
            if past_containment && metrics.contained.is_none() {
                metrics.contained = Some(milestone(Some(format!("to {}", change.to))));
            }
            if change.to == Phase::Closed {
                metrics.closed = Some(milestone(change.decision.map(|d| d.to_string())));
                walked.closure =
                    Some(Closure { at: entry.at, by: entry.actor.clone(), seq: entry.seq, decision: change.decision });
            }
        }

        // The CSF 2.0 view.
        let mut refs: Vec<String> = Vec::new();
        for row in CSF_MAPPING.iter().filter(|r| r.kind == entry.kind) {
            let holds = match row.when {
                When::Always => true,
                When::PhaseTo(phases) => {
                    matches!(&event, IncidentEvent::PhaseChanged(c) if phases.contains(&c.to))
                }
                When::Approves => approved.is_some(),
                When::ThroughShare => matches!(&event, IncidentEvent::EvidenceAccessed(a) if a.share.is_some()),
                When::PublicAudience => matches!(&event, IncidentEvent::StatementPublished(p)
                    if after.statement(p.statement).is_some_and(|s| matches!(s.audience, Audience::Customers | Audience::Press))),
                When::InRecovery => matches!(before_phase, Phase::Recovery | Phase::PostIncident | Phase::Closed),
            };
            if !holds {
                continue;
            }
            refs.extend(row.csf.iter().map(|r| (*r).to_owned()));
            if row.class_refs {
                let decision = match &event {
                    IncidentEvent::ActionSucceeded(a) => Some(a.decision),
                    _ => approved,
                };
                if let Some(class) = decision.and_then(|d| class_of(d, after)) {
                    refs.extend(class_refs(policy, &class).iter().cloned());
                }
            }
        }
        for reference in refs {
            let reference = if exercise && reference == "ID.IM-03" { "ID.IM-02".to_owned() } else { reference };
            let (seqs, kinds) = walked.csf.entry(reference).or_default();
            seqs.insert(entry.seq);
            kinds.insert(entry.kind.clone());
        }
    }

    // Approval latency, per class, from the decisions the walk folded.
    if let Some(state) = &state {
        let mut by_class: BTreeMap<DecisionClass, (Vec<f64>, usize)> = BTreeMap::new();
        for decision in state.decisions.iter().filter(|d| d.state == DecisionState::Approved) {
            let Some(decided) = decision.decided_at else { continue };
            let (seconds, immediate) = by_class.entry(decision.class.clone()).or_default();
            seconds.push(seconds_between(decision.proposed_at, decided));
            if decided == decision.proposed_at
                && decision.rejections.is_empty()
                && decision.approvals.iter().all(|a| a.implied)
            {
                *immediate += 1;
            }
        }
        walked.metrics.approval_latency = by_class
            .into_iter()
            .map(|(class, (seconds, immediate))| ClassLatency {
                class,
                count: seconds.len(),
                immediate,
                median_seconds: median(&seconds),
                max_seconds: seconds.iter().copied().fold(0.0, f64::max),
                seconds,
            })
            .collect();
    }
    walked
}

/// Where an empty record's durations would start: never used for a record with entries.
fn epoch() -> Timestamp {
    Timestamp::from_jiff(jiff::Timestamp::UNIX_EPOCH)
}

/// The median; the mean of the two middle values for an even count; 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn csf_view(found: &BTreeMap<String, (BTreeSet<u64>, BTreeSet<String>)>) -> CsfView {
    let evidence = |id: &str| {
        let (seqs, kinds) = found.get(id).cloned().unwrap_or_default();
        CsfEvidence {
            id: id.to_owned(),
            title: csf_title(id).to_owned(),
            seqs: seqs.into_iter().collect(),
            kinds: kinds.into_iter().collect(),
        }
    };
    let mut categories: Vec<CsfCategory> = CSF_CATEGORIES
        .iter()
        .map(|(category, title)| {
            // The known subcategories, then anything else the policy names in this category
            // (a category-level reference such as `RS.MA` included).
            let mut ids: Vec<&str> =
                CSF_SUBCATEGORIES.iter().map(|(id, _)| *id).filter(|id| category_of(id) == *category).collect();
            for id in found.keys().map(String::as_str) {
                if category_of(id) == *category && !ids.contains(&id) {
                    ids.push(id);
                }
            }
            CsfCategory {
                id: (*category).to_owned(),
                title: (*title).to_owned(),
                subcategories: ids.into_iter().map(evidence).collect(),
            }
        })
        .collect();
    let others: Vec<CsfEvidence> = found
        .keys()
        .filter(|id| !CSF_CATEGORIES.iter().any(|(category, _)| category_of(id) == *category))
        .map(|id| evidence(id))
        .collect();
    if !others.is_empty() {
        categories.push(CsfCategory {
            id: "other".to_owned(),
            title: "Other references from the policy".to_owned(),
            subcategories: others,
        });
    }
    CsfView { categories }
}

// ---------------------------------------------------------------------------------------------
// The report.

impl PostIncidentReport {
    /// The report of `state`, as of its seq, from `entries` (the record from seq 1; entries
    /// after the state's seq are ignored). Evidence names, types, sources, collectors and
    /// download purposes appear only with `evidence_names` (pass whether the reader may read
    /// evidence: [`crate::decide::may_read_evidence`]).
    pub fn of(
        entries: &[Entry],
        state: &IncidentState,
        org: &OrgState,
        now: Timestamp,
        evidence_names: bool,
    ) -> PostIncidentReport {
        let policy = &org.policy;
        let walked = walk(entries, policy, state.seq);
        let summary = Summary {
            incident: state.id,
            title: state.title.clone(),
            severity: state.severity,
            phase: state.phase,
            restricted: state.restricted,
            exercise: state.exercise,
            scope: state.scope.clone(),
            declared_at: state.declared_at,
            declared_by: state.declared_by.clone(),
            occurrence: state.occurrence.clone(),
            closed: walked.closure.clone(),
            commander: state
                .roles
                .iter()
                .find(|(role, _)| role.as_str() == "commander")
                .map(|(_, holders)| holders.clone())
                .unwrap_or_default(),
            roles: state.roles.clone(),
            policy: state.policy.clone(),
            playbooks: state.playbooks.iter().map(|p| format!("{} v{}", p.id, p.version)).collect(),
            generated_at: now,
            as_of_seq: state.seq,
            as_of_hash: state.head,
            chain_verified: walked.chain_verified
                && entries.iter().take_while(|e| e.seq <= state.seq).last().is_some_and(|e| e.hash == state.head),
        };
        PostIncidentReport {
            summary,
            metrics: walked.metrics.clone(),
            deadlines: deadline_compliance(state, now),
            decisions: decisions(state, policy),
            statements: statements(state),
            evidence: evidence(state, evidence_names),
            third_parties: state
                .parties
                .iter()
                .map(|engaged| {
                    let registry = org.parties.get(&engaged.party).map(|r| &r.party);
                    PartyRecord {
                        party: engaged.party.clone(),
                        name: registry.map_or_else(|| engaged.party.clone(), |p| p.name.clone()),
                        kind: registry.map_or("unregistered", |p| p.kind.as_str()),
                        operates: registry.and_then(|p| p.operates.clone()),
                        authority: registry.map(|p| p.authority.clone()).unwrap_or_default(),
                        reason: engaged.reason.clone(),
                        engaged_by: engaged.engaged_by.clone(),
                        engaged_at: engaged.engaged_at,
                    }
                })
                .collect(),
            shares: state
                .shares
                .iter()
                .map(|share| ShareRecord {
                    id: share.id,
                    decision: share.decision,
                    party: share.party.clone(),
                    items: share.items.clone(),
                    created_at: share.created_at,
                    expires_at: share.expires_at,
                    revoked: share.revoked.as_ref().map(|r| {
                        let why = if r.text.is_empty() { String::new() } else { format!(": {}", r.text) };
                        format!("by {} at {}{why}", r.by, r.at)
                    }),
                    uses: share.uses,
                    live: state.share_is_live(share, now),
                })
                .collect(),
            review: ReviewRecord {
                lessons: state.review.lessons.clone(),
                control_changes: state
                    .review
                    .control_changes
                    .iter()
                    .map(|c| ControlChangeRecord {
                        id: c.id,
                        lesson: c.lesson,
                        title: c.title.clone(),
                        owner: c.owner.clone(),
                        due: c.due,
                        csf: c.csf.clone(),
                        state: c.state,
                        overdue: c.state == ControlChangeState::Open && c.due < now,
                        planned_by: c.planned_by.clone(),
                        planned_at: c.planned_at,
                        closed: c.closed.as_ref().map(|n| {
                            let note = if n.text.is_empty() { String::new() } else { format!(": {}", n.text) };
                            format!("by {} at {}{note}", n.by, n.at)
                        }),
                    })
                    .collect(),
                completed: state.review.completed.clone(),
            },
            csf: csf_view(&walked.csf),
            timeline: timeline(entries, state.seq, evidence_names),
        }
    }
}

/// Every entry up to `seq` in words, in the order things happened: a fact or note with an
/// occurrence time sits where it happened, everything else where it was recorded.
fn timeline(entries: &[Entry], seq: u64, evidence_names: bool) -> Vec<TimelineLine> {
    let mut lines: Vec<TimelineLine> = entries
        .iter()
        .take_while(|e| e.seq <= seq)
        .map(|entry| {
            let (occurred_at, backfill_reason) = match IncidentEvent::parse(&entry.kind, &entry.body) {
                Ok(IncidentEvent::FactLogged(f)) => (f.occurred_at, f.backfill_reason),
                Ok(IncidentEvent::NoteAdded(n)) => (n.occurred_at, n.backfill_reason),
                _ => (None, None),
            };
            TimelineLine {
                seq: entry.seq,
                at: entry.at,
                occurred_at: occurred_at.unwrap_or(entry.at),
                backfill_reason,
                actor: entry.actor.clone(),
                kind: entry.kind.clone(),
                hash: entry.hash,
                what: describe(entry, evidence_names),
            }
        })
        .collect();
    lines.sort_by_key(|line| (line.occurred_at, line.seq));
    lines
}

fn decisions(state: &IncidentState, policy: &Policy) -> Vec<DecisionRecord> {
    state
        .decisions
        .iter()
        .map(|d| {
            let mut endorsements: Vec<EndorsementLine> = d
                .approvals
                .iter()
                .map(|a| EndorsementLine {
                    what: if a.implied { "approved by proposing" } else { "approved" },
                    user: a.user.clone(),
                    role: a.role.clone(),
                    at: a.at,
                    note: a.note.clone(),
                })
                .collect();
            endorsements.extend(d.rejections.iter().map(|r| EndorsementLine {
                what: "rejected",
                user: r.user.clone(),
                role: r.role.clone(),
                at: r.at,
                note: r.note.clone(),
            }));
            endorsements.extend(d.withdrawn.iter().map(|w| EndorsementLine {
                what: "withdrew",
                user: w.user.clone(),
                role: None,
                at: w.at,
                note: w.note.clone(),
            }));
            DecisionRecord {
                id: d.id,
                class: d.class.clone(),
                class_title: policy.classes.iter().find(|c| c.class == d.class).map(|c| c.title.clone()),
                title: d.title.clone(),
                rationale: d.rationale.clone(),
                state: d.state,
                proposer: d.proposer.clone(),
                proposed_at: d.proposed_at,
                decided_at: d.decided_at,
                latency_seconds: (d.state == DecisionState::Approved)
                    .then_some(d.decided_at)
                    .flatten()
                    .map(|at| seconds_between(d.proposed_at, at)),
                rule: format!(
                    "needs {}; at least {} {}",
                    d.rule.approve.describe(),
                    d.rule.people,
                    if d.rule.people == 1 { "person" } else { "people" }
                ),
                playbook: d.playbook.as_ref().map(|c| {
                    format!("pre-approved by playbook {} v{} (approved by {})", c.playbook, c.version, c.approved_by)
                }),
                statement: d
                    .statement
                    .as_ref()
                    .map(|s| format!("{} v{} (text SHA-256 {})", s.statement, s.version, short(&s.sha256))),
                endorsements,
                actions: d
                    .actions
                    .iter()
                    .enumerate()
                    .map(|(index, a)| ActionOutcome {
                        number: index as u32 + 1,
                        connector: a.spec.connector(),
                        target: crate::sitrep::target(&a.spec),
                        status: a.status,
                        attempts: a.attempts,
                        last_error: a.last_error.clone(),
                        detail: a.detail.clone(),
                    })
                    .collect(),
                notices: d
                    .notices
                    .iter()
                    .map(|n| NoticeLine {
                        moment: n.moment.as_str(),
                        channel: n.channel.clone(),
                        status: n.status,
                        attempts: n.attempts,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn statements(state: &IncidentState) -> Vec<StatementRecord> {
    state
        .statements
        .iter()
        .map(|s| StatementRecord {
            id: s.id,
            audience: s.audience,
            title: s.title.clone(),
            class: s.audience.class(),
            versions: s
                .versions
                .iter()
                .map(|v| VersionRecord {
                    version: v.version,
                    sha256: v.sha256.clone(),
                    by: v.by.clone(),
                    at: v.at,
                    text: v.text.clone(),
                    approvals: state
                        .decisions
                        .iter()
                        .filter(|d| {
                            d.statement
                                .as_ref()
                                .is_some_and(|b| b.statement == s.id && b.version == v.version && b.sha256 == v.sha256)
                        })
                        .map(|d| VersionApproval {
                            decision: d.id,
                            state: d.state,
                            approved_by: d.approvals.iter().map(|a| a.user.clone()).collect(),
                            decided_at: d.decided_at,
                        })
                        .collect(),
                })
                .collect(),
            publications: s
                .publications
                .iter()
                .map(|p| PublicationRecord {
                    version: p.version,
                    sha256: p.sha256.clone(),
                    channel: p.channel.clone(),
                    decision: p.decision,
                    by: p.by.clone(),
                    at: p.at,
                })
                .collect(),
        })
        .collect()
}

fn evidence(state: &IncidentState, names: bool) -> EvidenceManifest {
    let items: Vec<EvidenceLine> = state
        .evidence
        .iter()
        .map(|item| {
            let shared = item.custody.iter().filter(|c| c.share.is_some()).count();
            EvidenceLine {
                sha256: item.sha256.clone(),
                size: item.size,
                name: names.then(|| item.name.clone()),
                media_type: names.then(|| item.declared_type.clone().or_else(|| item.sniffed_type.clone())).flatten(),
                source: names.then(|| item.source.clone()).flatten(),
                collected_by: names.then(|| item.collected_by.clone()).flatten(),
                collected_at: names.then_some(item.collected_at).flatten(),
                registered_by: item.registered_by.clone(),
                received_at: item.received_at,
                downloads: item.custody.len() - shared,
                share_fetches: shared,
                integrity_failures: item.integrity_failures.len(),
                custody: if names {
                    item.custody
                        .iter()
                        .map(|c| CustodyLine { by: c.by.clone(), at: c.at, purpose: c.purpose.clone(), share: c.share })
                        .collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    EvidenceManifest {
        names_shown: names,
        total_bytes: items.iter().map(|i| i.size).sum(),
        downloads: items.iter().map(|i| i.downloads).sum(),
        share_fetches: items.iter().map(|i| i.share_fetches).sum(),
        integrity_failures: items.iter().map(|i| i.integrity_failures).sum(),
        items,
    }
}

// ---------------------------------------------------------------------------------------------
// Entries in words.

fn words(snake: &str) -> String {
    snake.replace('_', " ")
}

/// The first twelve hex digits of a hash: enough to tell items apart on screen.
fn short(sha256: &str) -> String {
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
        return if evidence_names || !entry.kind.starts_with("evidence.") {
            entry.body.clone()
        } else {
            "an evidence entry".to_owned()
        };
    };
    match event {
        IncidentEvent::Declared(d) => format!("declared {} \"{}\" ({})", d.number, d.title, d.severity),
        IncidentEvent::PhaseChanged(c) => match c.decision {
            Some(decision) => format!("closed the incident by {decision}"),
            None => format!("moved the phase from {} to {}", words(c.from.as_str()), words(c.to.as_str())),
        },
        IncidentEvent::SeverityChanged(c) => format!("changed severity from {} to {}", c.from, c.to),
        IncidentEvent::RoleAssigned(r) => format!("made {} {}", r.user, words(r.role.as_str())),
        IncidentEvent::RoleReleased(r) => format!("released {} from {}", r.user, words(r.role.as_str())),
        IncidentEvent::FactLogged(f) => format!("logged {} ({}): {}", f.fact, f.status.as_str(), f.text),
        IncidentEvent::FactVerified(f) => format!("verified {}: {}", f.fact, f.basis),
        IncidentEvent::FactDisproved(f) => format!("disproved {}: {}", f.fact, f.basis),
        IncidentEvent::TaskCreated(t) => format!("created {} \"{}\"", t.task, t.title),
        IncidentEvent::TaskAssigned(t) => format!("gave {} to {}", t.task, t.owner),
        IncidentEvent::TaskDone(t) => format!("finished {}", t.task),
        IncidentEvent::TaskBlocked(t) => format!("marked {} blocked: {}", t.task, t.reason),
        IncidentEvent::TaskCancelled(t) => format!("cancelled {}", t.task),
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
        IncidentEvent::NoteAdded(n) => format!("noted: {}", n.text),
        IncidentEvent::ActionRetryRequested(a) => format!("asked to retry action {} of {}", a.action + 1, a.decision),
        IncidentEvent::PlaybookStarted(p) => {
            format!("started playbook {} v{} (approved by {})", p.playbook, p.version, p.approved_by)
        }
        IncidentEvent::NotificationDelivered(n) => {
            format!("told {} that {} was {}", n.channel, n.decision, n.moment.as_str())
        }
        IncidentEvent::NotificationFailed(n) => {
            format!("could not tell {} that {} was {}: {}", n.channel, n.decision, n.moment.as_str(), n.reason)
        }
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
        IncidentEvent::StatementDrafted(s) => {
            format!("drafted {} for {}: \"{}\" (v1 {})", s.statement, s.audience.as_str(), s.title, short(&s.sha256))
        }
        IncidentEvent::StatementRevised(s) => {
            format!("revised {} to v{} ({})", s.statement, s.version, short(&s.sha256))
        }
        IncidentEvent::StatementPublished(s) => format!(
            "published {} v{} on {} under {} ({})",
            s.statement,
            s.version,
            s.channel,
            s.decision,
            short(&s.sha256)
        ),
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
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown.

fn or_none(out: &mut String, empty: bool) {
    if empty {
        out.push_str("- none\n");
    }
}

/// `1, 3–5, 9`: seqs with runs folded.
pub fn seq_ranges(seqs: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = seqs.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if end == start { start.to_string() } else { format!("{start}–{end}") });
    }
    parts.join(", ")
}

fn milestone_line(out: &mut String, label: &str, milestone: Option<&Milestone>, missing: &str) {
    match milestone {
        Some(m) => {
            let _ = writeln!(
                out,
                "| {label} | {} | seq {} at {}{} |",
                duration(m.after_seconds),
                m.seq,
                when(m.at),
                m.detail.as_ref().map(|d| format!(" ({})", md(d))).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "| {label} | — | {missing} |");
        }
    }
}

impl PostIncidentReport {
    /// The report as Markdown, for print, mail and archives. User text is escaped so that it
    /// reads as written and cannot add links, headings or formatting.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(out, "# Post-incident report {}: {}\n", s.incident, md(&s.title));
        if s.exercise {
            out.push_str("**EXERCISE — this incident was a drill.**\n\n");
        }
        let _ = writeln!(
            out,
            "Generated {} from the record as of seq {} (hash {}){}.\n",
            when(s.generated_at),
            s.as_of_seq,
            s.as_of_hash.to_hex(),
            if s.chain_verified {
                "; every entry's hash recomputed and chained"
            } else {
                "; **the chain did not verify**"
            }
        );

        out.push_str("## Summary\n\n");
        let _ = writeln!(out, "- Severity: {}", s.severity);
        let _ = writeln!(out, "- Phase: {}", words(s.phase.as_str()));
        for (what, at) in [
            ("Started", s.occurrence.started_at),
            ("First seen", s.occurrence.first_seen_at),
            ("Detected", s.occurrence.detected_at),
        ] {
            if let Some(at) = at {
                let _ = writeln!(out, "- {what}: {}", when(at));
            }
        }
        let _ = writeln!(out, "- Declared: {} by {}", when(s.declared_at), s.declared_by);
        match &s.closed {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "- Closed: {} by {}{} (seq {})",
                    when(c.at),
                    c.by,
                    c.decision.map(|d| format!(" under {d}")).unwrap_or_default(),
                    c.seq
                );
            }
            None => out.push_str("- Closed: not yet\n"),
        }
        let _ = writeln!(out, "- Commander: {}", names(&s.commander));
        let _ = writeln!(
            out,
            "- Scope: {}",
            if s.scope.is_empty() { "not stated".to_owned() } else { md(&s.scope.join(", ")) }
        );
        let _ = writeln!(out, "- Exercise: {}", if s.exercise { "yes" } else { "no" });
        if s.restricted {
            out.push_str("- Restricted (need-to-know)\n");
        }
        let _ = writeln!(out, "- Policy at declaration: SHA-256 {}", s.policy);
        if !s.playbooks.is_empty() {
            let _ = writeln!(out, "- Playbooks: {}", md(&s.playbooks.join(", ")));
        }
        let roles: Vec<String> =
            s.roles.iter().map(|(role, holders)| format!("{} {}", words(role.as_str()), names(holders))).collect();
        let _ = writeln!(out, "- Roles: {}", if roles.is_empty() { "none held".to_owned() } else { roles.join("; ") });

        let m = &self.metrics;
        out.push_str("\n## Metrics\n\nMeasured on entry times from the declaration; see docs/reports.md for the definitions.\n\n");
        out.push_str("| measure | after declaration | reached |\n|---|---|---|\n");
        milestone_line(&mut out, "All required roles staffed", m.staffed.as_ref(), "never fully staffed");
        milestone_line(
            &mut out,
            "First approved containment decision",
            m.first_containment_decision.as_ref(),
            "no containment decision approved",
        );
        milestone_line(&mut out, "Contained (phase past containment)", m.contained.as_ref(), "not yet");
        milestone_line(&mut out, "Closed", m.closed.as_ref(), "not yet");
        let classes: Vec<String> = m.containment_classes.iter().map(|c| words(c.as_str())).collect();
        let _ = writeln!(out, "\nContainment classes: {}.", classes.join(", "));
        out.push_str("\nApproval latency (proposal to approval), per decision class:\n\n");
        if m.approval_latency.is_empty() {
            out.push_str("- no approved decisions\n");
        } else {
            out.push_str("| class | approved | at once | median | max |\n|---|---|---|---|---|\n");
            for l in &m.approval_latency {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    words(l.class.as_str()),
                    l.count,
                    l.immediate,
                    duration(l.median_seconds),
                    duration(l.max_seconds)
                );
            }
        }

        out.push_str("\n## Deadline compliance\n\n");
        let _ = writeln!(out, "{}", self.deadlines.note);
        for c in &self.deadlines.clocks {
            let _ = writeln!(
                out,
                "- {} ({}): {}: **{}**{}",
                md(&c.title),
                words(&c.determination),
                match &c.waiting_for {
                    Some(first) => format!("starts when {first} is submitted"),
                    None => format!("started {}, due {}", when(c.started_at), when(c.deadline)),
                },
                c.outcome,
                match (&c.submission, &c.released) {
                    (Some(sent), _) => format!(
                        ", sent {} to {} via {} (reference {}; {} v{}, approved by {}), recorded by {}",
                        when(sent.sent_at),
                        md(&sent.authority),
                        md(&sent.channel),
                        md(&sent.reference),
                        sent.statement.statement,
                        sent.statement.version,
                        sent.decision,
                        sent.recorded_by
                    ),
                    (None, Some(released)) =>
                        format!(", stopped by {} at {}: {}", released.by, when(released.at), md(&released.basis)),
                    _ => String::new(),
                }
            );
        }

        out.push_str("\n## Decision register\n\n");
        or_none(&mut out, self.decisions.is_empty());
        for d in &self.decisions {
            let _ =
                writeln!(out, "### {} {} \"{}\" — {}\n", d.id, words(d.class.as_str()), md(&d.title), d.state.as_str());
            let _ = writeln!(out, "- Proposed by {} at {}; rule: {}", d.proposer, when(d.proposed_at), md(&d.rule));
            if let Some(rationale) = &d.rationale {
                let _ = writeln!(out, "- Rationale: {}", md(rationale));
            }
            if let Some(playbook) = &d.playbook {
                let _ = writeln!(out, "- {}", md(playbook));
            }
            if let Some(statement) = &d.statement {
                let _ = writeln!(out, "- Approves statement {statement}");
            }
            for e in &d.endorsements {
                let _ = writeln!(
                    out,
                    "- {}: {}{} at {}{}",
                    e.what,
                    e.user,
                    e.role.as_ref().map(|r| format!(" as {}", words(r.as_str()))).unwrap_or_default(),
                    when(e.at),
                    e.note.as_ref().map(|n| format!(": {}", md(n))).unwrap_or_default()
                );
            }
            if let Some(at) = d.decided_at {
                let _ = writeln!(
                    out,
                    "- Decided at {}{}",
                    when(at),
                    d.latency_seconds.map(|l| format!(", {} after its proposal", duration(l))).unwrap_or_default()
                );
            }
            for a in &d.actions {
                let _ = writeln!(
                    out,
                    "- Action {}: {} {} — {} after {} attempt(s){}",
                    a.number,
                    a.connector,
                    md(&a.target),
                    status_word(a.status),
                    a.attempts,
                    a.last_error.as_ref().map(|e| format!(" ({})", md(e))).unwrap_or_default()
                );
            }
            for n in &d.notices {
                let _ = writeln!(
                    out,
                    "- Told {} of its {}: {}",
                    md(&n.channel),
                    n.moment,
                    match n.status {
                        NoticeStatus::Pending => "pending",
                        NoticeStatus::Delivered => "delivered",
                        NoticeStatus::Failed => "FAILED",
                    }
                );
            }
            out.push('\n');
        }

        out.push_str("## Statements\n\n");
        or_none(&mut out, self.statements.is_empty());
        for st in &self.statements {
            let _ = writeln!(
                out,
                "### {} to {}: \"{}\" (approved through {})\n",
                st.id,
                st.audience.as_str(),
                md(&st.title),
                words(st.class)
            );
            for v in &st.versions {
                let approvals: Vec<String> = v
                    .approvals
                    .iter()
                    .map(|a| format!("{} {} by {}", a.decision, a.state.as_str(), names(&a.approved_by)))
                    .collect();
                let _ = writeln!(
                    out,
                    "- v{} by {} at {}, text SHA-256 {}; {}",
                    v.version,
                    v.by,
                    when(v.at),
                    v.sha256,
                    if approvals.is_empty() { "no decision bound to it".to_owned() } else { approvals.join("; ") }
                );
                for line in v.text.lines() {
                    let _ = writeln!(out, "  > {}", md(line));
                }
            }
            for p in &st.publications {
                let _ = writeln!(
                    out,
                    "- Published v{} on {} by {} at {} under {}",
                    p.version,
                    md(&p.channel),
                    p.by,
                    when(p.at),
                    p.decision
                );
            }
            out.push('\n');
        }

        let ev = &self.evidence;
        out.push_str("## Evidence manifest\n\n");
        let _ = writeln!(
            out,
            "{} item(s), {} bytes; {} download(s), {} share-link fetch(es), {} integrity failure(s).{}\n",
            ev.items.len(),
            ev.total_bytes,
            ev.downloads,
            ev.share_fetches,
            ev.integrity_failures,
            if ev.names_shown {
                ""
            } else {
                " Names, sources and download purposes are shown to evidence readers only."
            }
        );
        if !ev.items.is_empty() {
            out.push_str("| SHA-256 | bytes | name | registered | downloads | share fetches | integrity failures |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
        }
        for item in &ev.items {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} by {} | {} | {} | {} |",
                item.sha256,
                item.size,
                item.name.as_deref().map_or_else(|| "(withheld)".to_owned(), md),
                when(item.received_at),
                item.registered_by,
                item.downloads,
                item.share_fetches,
                item.integrity_failures
            );
        }

        out.push_str("\n## Third parties and share links\n\n");
        or_none(&mut out, self.third_parties.is_empty());
        for p in &self.third_parties {
            let _ = writeln!(
                out,
                "- {} ({}){}, engaged by {} at {}{}",
                md(&p.name),
                p.kind,
                p.operates.as_ref().map(|o| format!(", operates {}", md(o))).unwrap_or_default(),
                p.engaged_by,
                when(p.engaged_at),
                p.reason.as_ref().map(|r| format!(": {}", md(r))).unwrap_or_default()
            );
        }
        for sh in &self.shares {
            let _ = writeln!(
                out,
                "- Share link {} to {} under {}: {} item(s), created {}, expires {}, used {} time(s){}",
                sh.id,
                md(&sh.party),
                sh.decision,
                sh.items.len(),
                when(sh.created_at),
                when(sh.expires_at),
                sh.uses,
                match (&sh.revoked, sh.live) {
                    (Some(r), _) => format!("; revoked {}", md(r)),
                    (None, true) => "; live".to_owned(),
                    (None, false) => "; no longer works".to_owned(),
                }
            );
        }

        let r = &self.review;
        out.push_str("\n## Lessons and control changes\n\n");
        match &r.completed {
            Some(done) => {
                let _ = writeln!(out, "Review completed by {} at {}: {}\n", done.by, when(done.at), md(&done.summary));
            }
            None => out.push_str("The review is not complete.\n\n"),
        }
        or_none(&mut out, r.lessons.is_empty());
        for l in &r.lessons {
            let _ = writeln!(out, "- {} (by {} at {}): {}", l.id, l.by, when(l.at), md(&l.what_happened));
            let _ = writeln!(out, "  - why: {}", md(&l.why));
            let _ = writeln!(out, "  - what we change: {}", md(&l.change));
            for c in r.control_changes.iter().filter(|c| c.lesson == l.id) {
                let _ = writeln!(
                    out,
                    "  - {} {} — owner {}, due {}, CSF {}, {}{}{}",
                    c.id,
                    md(&c.title),
                    c.owner,
                    when(c.due),
                    md(&c.csf),
                    match c.state {
                        ControlChangeState::Open => "open",
                        ControlChangeState::Done => "done",
                        ControlChangeState::Cancelled => "cancelled",
                    },
                    if c.overdue { " **OVERDUE**" } else { "" },
                    c.closed.as_ref().map(|n| format!(" ({})", md(n))).unwrap_or_default()
                );
            }
        }

        out.push_str(
            "\n## NIST CSF 2.0\n\nSubcategories the record's entries evidence, with the seqs of those entries.\n",
        );
        for category in &self.csf.categories {
            let _ = writeln!(out, "\n### {} {}\n", category.id, category.title);
            out.push_str("| subcategory | evidenced by seqs |\n|---|---|\n");
            for sub in &category.subcategories {
                let _ = writeln!(
                    out,
                    "| {} {} | {} |",
                    sub.id,
                    md(&sub.title),
                    if sub.seqs.is_empty() { "—".to_owned() } else { seq_ranges(&sub.seqs) }
                );
            }
        }

        out.push_str(
            "\n## Timeline\n\nIn the order things happened; a time given apart from its recording shows both.\n\n",
        );
        for line in &self.timeline {
            let time = if line.occurred_at == line.at {
                when(line.at)
            } else {
                format!("happened {}, recorded {}", when(line.occurred_at), when(line.at))
            };
            let _ = writeln!(
                out,
                "- {} · {} · {} · `{}` — {}{}",
                line.seq,
                time,
                line.actor,
                line.kind,
                md(&line.what),
                line.backfill_reason.as_ref().map(|r| format!(" (backfilled: {})", md(r))).unwrap_or_default()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
