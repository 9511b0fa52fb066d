//! The NIST CSF 2.0 mapping: which subcategories each kind of entry evidences, and why.

use serde::Serialize;

use super::*;
use crate::ids::{DecisionClass, Phase};
use crate::policy::Policy;

/// The categories the view reports on (their names are `csf::category_name`'s).
pub const CSF_CATEGORIES: &[&str] = &["RS.MA", "RS.AN", "RS.CO", "RS.MI", "RC.RP", "RC.CO", "ID.IM"];

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsfRow {
    pub kind: &'static str,
    pub when: When,
    pub csf: &'static [&'static str],
    pub class_refs: bool,
    pub why: &'static str,
}

pub(super) const fn row(kind: &'static str, when: When, csf: &'static [&'static str], why: &'static str) -> CsfRow {
    CsfRow { kind, when, csf, class_refs: false, why }
}

pub(super) const fn class_row(kind: &'static str, when: When, why: &'static str) -> CsfRow {
    CsfRow { kind, when, csf: &[], class_refs: true, why }
}

pub(super) const RECOVERY_ON: &[Phase] = &[Phase::Recovery];

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
        "statement.delivered",
        When::Always,
        &["RS.CO-02"],
        "The approved text reached its audience's outlet; the record holds the hash sent and the receipt.",
    ),
    row(
        "statement.delivery_failed",
        When::Always,
        &[],
        "A delivery that reached nobody informs nobody; the record shows the gap and whether it is retried.",
    ),
    row(
        "statement.delivery_retry_requested",
        When::Always,
        &["RS.AN-06"],
        "A person asking for a delivery to be tried again is recorded.",
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
    row(
        "chat.room_opened",
        When::Always,
        &["RS.CO-02"],
        "The incident's chat room, holding its role holders, was opened for coordinating the response.",
    ),
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
    row(
        "alert.sent",
        When::Always,
        &["RS.CO-02"],
        "A person was told it is their turn: a role, an approval owed, a task, a deadline.",
    ),
    row(
        "alert.failed",
        When::Always,
        &[],
        "An alert that reached nobody evidences no communication; the record shows the gap.",
    ),
    row(
        "review_link.opened",
        When::Always,
        &[],
        "Opening a review link decides nothing; the approval that may follow is the evidence.",
    ),
    row(
        "update.scheduled",
        When::Always,
        &["RS.CO-02"],
        "The commander promised stakeholders the next update and its cadence.",
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
pub(super) fn category_of(reference: &str) -> &str {
    reference.split_once('-').map_or(reference, |(category, _)| category)
}

pub(super) fn csf_title(reference: &str) -> &'static str {
    CSF_SUBCATEGORIES.iter().find(|(id, _)| *id == reference).map_or("", |(_, title)| title)
}

/// The CSF references the policy gives a class.
pub(super) fn class_refs<'a>(policy: &'a Policy, class: &DecisionClass) -> &'a [String] {
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
