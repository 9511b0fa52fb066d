//! Every kind of entry, with its body.
//!
//! An entry's `kind` names one variant here and its `body` is that variant's canonical JSON. Two
//! enums, because an incident record and the organisation record never share kinds. Optional
//! fields are left out when empty, so bodies stay small and a field added later does not change
//! the hash of entries written before it existed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entry::{Entry, EntryHash, canonical_json};
use crate::ids::{
    Actor, ControlChangeId, DecisionClass, DecisionId, FactId, IncidentNumber, LessonId, OrgRole, Phase, Role,
    Severity, ShareId, StatementId, TaskId, UserName,
};
use crate::playbook::Citation;
use crate::policy::Rule;
use crate::time::Timestamp;

/// An entry's kind or body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("unknown entry kind '{0}'")]
    UnknownKind(String),
    #[error("body of '{kind}' is not valid: {detail}")]
    Body { kind: String, detail: String },
}

/// What the sealing code needs of an event, for either record.
pub trait RecordEvent {
    fn kind(&self) -> &'static str;
    fn canonical_body(&self) -> String;
}

/// Seals events into the entries that follow `after` (the record's last seq and hash).
pub fn seal<E: RecordEvent>(after: (u64, EntryHash), at: Timestamp, actor: &Actor, events: &[E]) -> Vec<Entry> {
    let (mut seq, mut prev) = after;
    events
        .iter()
        .map(|event| {
            seq += 1;
            let entry = Entry::seal(seq, at, actor.clone(), event.kind(), event.canonical_body(), prev);
            prev = entry.hash;
            entry
        })
        .collect()
}

macro_rules! events {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident($body:ty) = $kind:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        // An event lives only between parsing or deciding and folding, a few at a time; boxing
        // the large proposal would cost every match and construction for no memory saved.
        #[allow(clippy::large_enum_variant)]
        pub enum $name { $($(#[$vdoc])* $variant($body),)+ }

        impl $name {
            /// Every kind this enum can hold, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            pub fn parse(kind: &str, body: &str) -> Result<Self, EventError> {
                match kind {
                    $($kind => serde_json::from_str(body).map($name::$variant).map_err(|error| EventError::Body {
                        kind: kind.to_owned(),
                        detail: error.to_string(),
                    }),)+
                    _ => Err(EventError::UnknownKind(kind.to_owned())),
                }
            }
        }

        impl RecordEvent for $name {
            fn kind(&self) -> &'static str {
                match self { $($name::$variant(_) => $kind,)+ }
            }

            /// The body as canonical JSON, ready to be sealed into an entry.
            fn canonical_body(&self) -> String {
                let result = match self { $($name::$variant(body) => canonical_json(body),)+ };
                // Bodies hold only strings, integers, booleans and JSON values parsed by
                // serde_json, none of which can fail to serialise.
                result.unwrap_or_else(|error| panic!("{} body does not serialise: {error}", self.kind()))
            }
        }
    };
}

events!(
    /// What can happen to an incident.
    IncidentEvent {
        Declared(Declared) = "incident.declared",
        PhaseChanged(PhaseChanged) = "incident.phase_changed",
        SeverityChanged(SeverityChanged) = "incident.severity_changed",
        RoleAssigned(RoleChange) = "role.assigned",
        RoleReleased(RoleChange) = "role.released",
        FactLogged(FactLogged) = "fact.logged",
        FactVerified(FactJudged) = "fact.verified",
        FactDisproved(FactJudged) = "fact.disproved",
        TaskCreated(TaskCreated) = "task.created",
        TaskAssigned(TaskAssigned) = "task.assigned",
        TaskDone(TaskClosed) = "task.done",
        TaskBlocked(TaskBlocked) = "task.blocked",
        TaskCancelled(TaskClosed) = "task.cancelled",
        DecisionProposed(DecisionProposed) = "decision.proposed",
        /// One approval; `state` says whether it completed the rule.
        DecisionApproved(DecisionApproved) = "decision.approved",
        DecisionRejected(DecisionRejected) = "decision.rejected",
        DecisionWithdrawn(DecisionWithdrawn) = "decision.withdrawn",
        ActionStarted(ActionStarted) = "action.started",
        ActionSucceeded(ActionSucceeded) = "action.succeeded",
        ActionFailed(ActionFailed) = "action.failed",
        /// A person asked for a failed action to run again.
        ActionRetryRequested(ActionRef) = "action.retry_requested",
        PlaybookStarted(PlaybookStarted) = "playbook.started",
        /// A decision's proposal or outcome was told to one channel of its communications path.
        NotificationDelivered(NotificationDelivered) = "notification.delivered",
                NotificationFailed(NotificationFailed) = "notification.failed",
        NoteAdded(NoteAdded) = "note.added",
        EvidenceRegistered(EvidenceRegistered) = "evidence.registered",
        /// A download, export or share-link use: the chain of custody.
        EvidenceAccessed(EvidenceAccessed) = "evidence.accessed",
        /// A stored blob no longer matches its hash; it was not served.
        EvidenceIntegrityFailed(EvidenceIntegrityFailed) = "evidence.integrity_failed",
        PartyEngaged(PartyEngaged) = "party.engaged",
        ShareCreated(ShareCreated) = "share.created",
        ShareRevoked(ShareRevoked) = "share.revoked",
        StatementDrafted(StatementDrafted) = "statement.drafted",
        StatementRevised(StatementRevised) = "statement.revised",
        StatementPublished(StatementPublished) = "statement.published",
        /// Post-incident review: what happened, why, and what we change.
        LessonRecorded(LessonRecorded) = "lesson.recorded",
        /// A control change a lesson turned into; tracked after the incident closes.
        ControlChangePlanned(ControlChangePlanned) = "control_change.planned",
        ControlChangeDone(ControlChangeClosed) = "control_change.done",
        ControlChangeCancelled(ControlChangeClosed) = "control_change.cancelled",
        /// The review is complete; only now may the incident close.
        ReviewCompleted(ReviewCompleted) = "review.completed",
        /// A determination (personal data affected, material, …) that starts regulatory clocks.
        DeterminationRecorded(DeterminationRecorded) = "determination.recorded",
        /// A clock's stopping class's path was told its deadline is near.
        ClockWarned(ClockWarned) = "clock.warned",
        /// A clock's deadline passed before a decision stopped it.
        ClockMissed(ClockRef) = "clock.missed",
        /// A notification was sent to an authority: the one fact that meets a regulatory clock.
        ClockSubmitted(ClockSubmitted) = "clock.submitted",
        /// A determination was withdrawn, with the basis: its open clocks stop, not met.
        DeterminationWithdrawn(DeterminationWithdrawn) = "determination.withdrawn",
        /// A clock's notification is not required, with the basis: it stops, not met.
        ClockNotRequired(ClockNotRequired) = "clock.not_required",
        /// The commander role moved from one person to another in one step: one commander at
        /// a time. The entry's time is the hand-over's.
        CommanderHandedOver(CommanderHandedOver) = "commander.handed_over",
        /// When the incident started, was first seen and was detected.
        OccurrenceRecorded(OccurrenceRecorded) = "incident.occurrence_recorded",
    }
);

events!(
    /// What can happen to the organisation: people, credentials, policy, playbooks.
    OrgEvent {
        DeploymentCreated(DeploymentCreated) = "deployment.created",
        UserAdded(UserAdded) = "user.added",
        UserDisabled(UserDisabled) = "user.disabled",
        UserPasswordSet(UserPasswordSet) = "user.password_set",
        OrgRoleGranted(OrgRoleChange) = "org_role.granted",
        OrgRoleRevoked(OrgRoleChange) = "org_role.revoked",
        TokenIssued(TokenIssued) = "token.issued",
        TokenRevoked(TokenRevoked) = "token.revoked",
        PolicyReplaced(PolicyReplaced) = "policy.replaced",
                PlaybookAdded(PlaybookAdded) = "playbook.added",
        PartyRegistered(Party) = "party.registered",
        PartyUpdated(Party) = "party.updated",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    pub incident: Uuid,
    pub number: IncidentNumber,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    pub restricted: bool,
    pub exercise: bool,
    /// SHA-256 of the policy in force at declaration.
    pub policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseChanged {
    pub from: Phase,
    pub to: Phase,
    /// The approved `close` decision that closed the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityChanged {
    pub from: Severity,
    pub to: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    pub role: Role,
    pub user: UserName,
    /// The org unit the role is held in (a local role), or none for the incident's central role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactStatus {
    Unverified,
    Verified,
    Disproved,
}

impl FactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FactStatus::Unverified => "unverified",
            FactStatus::Verified => "verified",
            FactStatus::Disproved => "disproved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactLogged {
    pub fact: FactId,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub status: FactStatus,
    /// Why it is verified or disproved, when logged as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// When it happened, if before this entry (which says when it was recorded). Without it
    /// the fact happened when it was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    /// Why a time well before the entry's is given (a backfill): who saw it when, from where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactJudged {
    pub fact: FactId,
    pub basis: String,
}

/// Where a task came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskOrigin {
    Manual,
    Playbook { playbook: String, version: String, step: u32 },
    Decision { decision: DecisionId, action: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreated {
    pub task: TaskId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// Due this many minutes after the entry's time (playbook steps and task actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_in_minutes: Option<u32>,
    pub origin: TaskOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAssigned {
    pub task: TaskId,
    pub owner: UserName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskClosed {
    pub task: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskBlocked {
    pub task: TaskId,
    pub reason: String,
}

/// What an approved decision executes. Destinations and commands are names an admin
/// configured; a user never supplies a URL or a command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "connector", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// Creates a task, for the holder of `owner_role` (or the commander).
    Task {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner_role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_in_minutes: Option<u32>,
    },
    /// Posts a signed JSON body to a configured destination.
    Webhook {
        destination: String,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        payload: serde_json::Value,
    },
    /// Runs a registered executable with the action as JSON on stdin.
    Command {
        command: String,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        input: serde_json::Value,
    },
    /// Tells the class's communications path.
    Notify {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Shares these evidence items (SHA-256) with an engaged third party through an expiring,
    /// revocable link. Only an `evidence_sharing` decision may carry it.
    Share { party: String, items: Vec<String>, expires_in_hours: u32 },
}

impl ActionSpec {
    /// The action's free-form JSON and the name of its field: a webhook's `payload`, a
    /// command's `input`.
    pub fn free_form(&self) -> Option<(&'static str, &serde_json::Value)> {
        match self {
            ActionSpec::Webhook { payload, .. } => Some(("payload", payload)),
            ActionSpec::Command { input, .. } => Some(("input", input)),
            _ => None,
        }
    }

    pub fn connector(&self) -> &'static str {
        match self {
            ActionSpec::Task { .. } => "task",
            ActionSpec::Webhook { .. } => "webhook",
            ActionSpec::Command { .. } => "command",
            ActionSpec::Notify { .. } => "notify",
            ActionSpec::Share { .. } => "share",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionState {
    Proposed,
    Approved,
    Rejected,
    Withdrawn,
}

impl DecisionState {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionState::Proposed => "proposed",
            DecisionState::Approved => "approved",
            DecisionState::Rejected => "rejected",
            DecisionState::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionProposed {
    pub decision: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
    /// The rule in force when proposed; the decision is judged by this copy.
    pub rule: Rule,
    /// The required role the proposer's own endorsement counts for, if they hold one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The rule's other roles the proposer held: their one endorsement may stand for any one of
    /// them instead, when another person endorses `role` (SPEC §3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
    /// `approved` when the proposer alone satisfies the rule, or a playbook pre-approved it.
    pub state: DecisionState,
    /// The playbook that proposed it; with `state: approved`, the playbook approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<Citation>,
    /// The class's communications path when proposed: the channels told of its proposal and
    /// its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The exact statement version (and its text's hash) this decision approves for publishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementRef>,
    /// The running clocks its execution stops; none named stops the one of its class due first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionApproved {
    pub decision: DecisionId,
    pub role: Role,
    /// The rule's other roles the approver held; as for [`DecisionProposed::also`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The decision's state after this approval: `approved` when it completed the rule.
    pub state: DecisionState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRejected {
    pub decision: DecisionId,
    pub role: Role,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionWithdrawn {
    pub decision: DecisionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStarted {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSucceeded {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailed {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
    pub reason: String,
    pub retryable: bool,
    /// A `notify` action's channels that were told in this attempt before it failed: a retry
    /// tells only the others, so nobody hears of one decision twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

/// One action of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRef {
    pub decision: DecisionId,
    pub action: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookStarted {
    pub playbook: String,
    pub version: String,
    pub sha256: String,
    pub approved_by: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// Roles the playbook needs; blockers while unfilled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_roles: Vec<Role>,
}

/// Which moment of a decision a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    Proposed,
    Approved,
    Rejected,
}

impl Moment {
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::Proposed => "proposed",
            Moment::Approved => "approved",
            Moment::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDelivered {
    pub decision: DecisionId,
    pub moment: Moment,
    pub channel: String,
    /// What the receiver answered, or what a dry run would have sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationFailed {
    pub decision: DecisionId,
    pub moment: Moment,
    pub channel: String,
    pub reason: String,
    /// Whether it will be tried again.
    pub retryable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRegistered {
    pub sha256: String,
    pub size: u64,
    /// The name it was uploaded with: metadata only, never a storage path.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_type: Option<String>,
    /// The media type its first bytes say it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sniffed_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who collected it, when that is not the person registering it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceAccessed {
    pub sha256: String,
    pub purpose: String,
    /// The share link it went out through, when it was not a signed-in download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<ShareId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceIntegrityFailed {
    pub sha256: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyEngaged {
    pub party: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCreated {
    pub share: ShareId,
    pub decision: DecisionId,
    pub action: u32,
    pub party: String,
    pub items: Vec<String>,
    /// The link works until the entry's time plus this many hours.
    pub expires_in_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRevoked {
    pub share: ShareId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who a statement speaks to; the audience decides which class must approve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Internal,
    Customers,
    Regulator,
    Press,
    Partners,
}

impl Audience {
    pub const ALL: [Audience; 5] =
        [Audience::Internal, Audience::Customers, Audience::Regulator, Audience::Press, Audience::Partners];

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Internal => "internal",
            Audience::Customers => "customers",
            Audience::Regulator => "regulator",
            Audience::Press => "press",
            Audience::Partners => "partners",
        }
    }

    /// The decision class whose approval lets a statement to this audience go out (SPEC §3).
    pub fn class(self) -> &'static str {
        match self {
            Audience::Customers => "customer_notification",
            Audience::Regulator => "regulatory_notification",
            Audience::Internal | Audience::Press | Audience::Partners => "external_statement",
        }
    }
}

/// One exact version of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRef {
    pub statement: StatementId,
    pub version: u32,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementDrafted {
    pub statement: StatementId,
    pub audience: Audience,
    pub title: String,
    pub text: String,
    /// SHA-256 of `text`.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRevised {
    pub statement: StatementId,
    pub version: u32,
    pub text: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementPublished {
    pub statement: StatementId,
    pub version: u32,
    pub sha256: String,
    /// Where it went out: a status page, a mail to customers, a regulator's portal.
    pub channel: String,
    /// The approved decision that let it out.
    pub decision: DecisionId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonRecorded {
    pub lesson: LessonId,
    pub what_happened: String,
    pub why: String,
    /// What we change because of it.
    pub change: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlChangePlanned {
    pub change: ControlChangeId,
    pub lesson: LessonId,
    pub title: String,
    pub owner: UserName,
    pub due: Timestamp,
    /// The NIST CSF 2.0 subcategory it strengthens, e.g. `PR.AA-05`.
    pub csf: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlChangeClosed {
    pub change: ControlChangeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCompleted {
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminationRecorded {
    pub determination: String,
    pub basis: String,
    /// When we became aware, if before this entry; the clocks run from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aware_at: Option<Timestamp>,
    /// The clocks it starts, copied from the policy in force, so a later policy change does
    /// not move a running deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<ClockStart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStart {
    pub clock: String,
    pub title: String,
    pub deadline: crate::policy::Deadline,
    pub stopped_by: DecisionClass,
    pub warn_hours: u32,
    /// The stopping class's communications path, told before the deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The clock whose submission starts this one (the NIS2 final report runs from the
    /// incident notification's submission); none: it runs from awareness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_submission_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockWarned {
    pub clock: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
    /// Channels that could not be told, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRef {
    pub clock: String,
}

/// What was sent to an authority, when, how, and which approved text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSubmitted {
    pub clock: String,
    /// When it was sent (it may be before this entry, never after it).
    pub sent_at: Timestamp,
    /// To whom: the supervisory authority, CSIRT or regulator.
    pub authority: String,
    /// Through what: a portal, an email address, a form.
    pub channel: String,
    /// The authority's reference for the submission (case or ticket number).
    pub reference: String,
    /// The exact approved statement version that was sent.
    pub statement: StatementRef,
    /// The approved decision bound to that version.
    pub decision: DecisionId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminationWithdrawn {
    pub determination: String,
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockNotRequired {
    pub clock: String,
    pub basis: String,
}

/// A third party in the organisation's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub party: String,
    pub name: String,
    pub kind: PartyKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// What they operate for us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operates: Option<String>,
    /// The contractual authority we hold over them ("may suspend their integration").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority: Vec<String>,
    /// Their evidence-sharing rule, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_rule: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Msp,
    CloudOperator,
    Vendor,
    Regulator,
    LawEnforcement,
    Counsel,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Msp => "MSP",
            PartyKind::CloudOperator => "cloud operator",
            PartyKind::Vendor => "vendor",
            PartyKind::Regulator => "regulator",
            PartyKind::LawEnforcement => "law enforcement",
            PartyKind::Counsel => "counsel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Command of an incident passing from one person to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommanderHandedOver {
    pub from: UserName,
    pub to: UserName,
    /// Why command changes hands (end of shift, escalation, …).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAdded {
    pub text: String,
    /// When what it says happened, if before this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_reason: Option<String>,
}

/// When the incident itself happened, apart from when it was declared: each time given
/// replaces the one recorded before; those not given stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceRecorded {
    /// When it began (the first malicious action, the leak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When a first sign of it was seen (an alert, a report), whether or not recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen_at: Option<Timestamp>,
    /// When we knew it was an incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentCreated {
    pub deployment: Uuid,
    pub name: String,
    /// The deployment's Ed25519 public key (base64), which signs checkpoints and exports.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAdded {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub org_role: OrgRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDisabled {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A password was set or changed. The record holds no hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPasswordSet {
    pub user: UserName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRoleChange {
    pub user: UserName,
    pub role: OrgRole,
}

/// A token is recorded by the SHA-256 of its secret; the secret itself is shown once and never
/// stored, so the record can be read without exposing any credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub user: UserName,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The SHA-256 of the token this one was created with; revoking that one revokes this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minted_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub user: UserName,
    /// The token's id: the first 12 hex digits of its SHA-256.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReplaced {
    pub sha256: String,
    /// The whole policy file, so the policy in force is part of the record.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookAdded {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_their_kind() {
        let event = IncidentEvent::FactLogged(FactLogged {
            fact: FactId(3),
            text: "<script>alert(1)</script>".into(),
            source: None,
            status: FactStatus::Unverified,
            basis: None,
            occurred_at: None,
            backfill_reason: None,
        });
        let body = event.canonical_body();
        assert_eq!(body, r#"{"fact":"F-3","status":"unverified","text":"<script>alert(1)</script>"}"#);
        assert_eq!(IncidentEvent::parse(event.kind(), &body), Ok(event));
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_named() {
        assert_eq!(IncidentEvent::parse("fact.invented", "{}"), Err(EventError::UnknownKind("fact.invented".into())));
        let error = IncidentEvent::parse("fact.verified", r#"{"fact":"D-1","basis":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("fact.verified"), "{error}");
    }

    #[test]
    fn kinds_are_unique_across_both_records() {
        let mut all: Vec<&str> = IncidentEvent::KINDS.iter().chain(OrgEvent::KINDS).copied().collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn actions_name_connectors_and_refuse_unknown_fields() {
        let action: ActionSpec =
            serde_json::from_str(r#"{"connector":"webhook","destination":"cloud-iam","payload":{"key_id":"AKIA1"}}"#)
                .expect("valid");
        assert_eq!(action.connector(), "webhook");
        assert!(serde_json::from_str::<ActionSpec>(r#"{"connector":"webhook","url":"http://evil"}"#).is_err());
    }
}
