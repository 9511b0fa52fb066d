//! An incident's state: a pure fold over its record.
//!
//! Nothing about an incident lives anywhere else; this module is the only place that turns
//! entries into state, and `apply` refuses an entry that could not have been written by
//! [`crate::decide`], so a forged but re-hashed record is still caught when it is loaded.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::entry::{Entry, EntryHash};
use crate::events::*;
use crate::ids::{
    Actor, ControlChangeId, DecisionClass, DecisionId, FactId, IncidentNumber, LessonId, Phase, Role, Severity,
    ShareId, StatementId, TaskId, UserName,
};
use crate::playbook::Citation;
use crate::policy::{Endorsement, Progress, Rule};
use crate::time::Timestamp;

/// An entry that does not fit the state it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq} ({kind}): {reason}")]
pub struct FoldError {
    pub seq: u64,
    pub kind: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentState {
    pub id: IncidentNumber,
    pub uuid: Uuid,
    pub title: String,
    pub severity: Severity,
    pub phase: Phase,
    pub scope: Vec<String>,
    pub restricted: bool,
    pub exercise: bool,
    /// SHA-256 of the policy in force at declaration.
    pub policy: String,
    pub declared_at: Timestamp,
    pub declared_by: Actor,
    pub roles: BTreeMap<Role, Vec<UserName>>,
    /// Local roles: by org unit in scope, who holds which role there.
    pub unit_roles: BTreeMap<String, BTreeMap<Role, Vec<UserName>>>,
    pub facts: Vec<Fact>,
    pub decisions: Vec<Decision>,
    pub tasks: Vec<Task>,
    pub notes: Vec<LoggedNote>,
    /// When the incident started, was first seen and was detected, as recorded.
    pub occurrence: Occurrence,
    /// Playbooks started on this incident, in order.
    pub playbooks: Vec<StartedPlaybook>,
    /// Roles the started playbooks need (in addition to the policy's required roles).
    pub playbook_roles: Vec<Role>,
    /// Evidence registered on this incident, in order, each with its chain of custody.
    pub evidence: Vec<EvidenceItem>,
    /// Third parties engaged on this incident.
    pub parties: Vec<EngagedParty>,
    /// Share links created by approved evidence-sharing decisions.
    pub shares: Vec<Share>,
    pub statements: Vec<Statement>,
    /// The post-incident review: lessons, their control changes, and whether it is complete.
    pub review: Review,
    /// Determinations recorded (personal data affected, material, …), in order.
    pub determinations: Vec<Determination>,
    /// Regulatory clocks the determinations started.
    pub clocks: Vec<Clock>,
    /// Every hand-over of command, in order.
    pub handovers: Vec<Handover>,
    /// The playbook whose pre-approved decisions may follow: only directly after its start.
    #[serde(skip)]
    preapproving: Option<String>,
    /// The last entry's seq and hash: the record's head.
    pub seq: u64,
    pub head: EntryHash,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
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
pub struct Judgement {
    pub by: Actor,
    pub at: Timestamp,
    pub basis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub id: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    pub rationale: Option<String>,
    pub actions: Vec<Action>,
    pub proposer: UserName,
    pub proposed_at: Timestamp,
    pub rule: Rule,
    pub state: DecisionState,
    /// Every endorsement, the proposer's implied one first.
    pub approvals: Vec<Approval>,
    pub rejections: Vec<Approval>,
    pub decided_at: Option<Timestamp>,
    pub withdrawn: Option<Approval>,
    /// The playbook that proposed (and, if approved at once, approved) it.
    pub playbook: Option<Citation>,
    /// The class's communications path when it was proposed.
    pub path: Vec<String>,
    /// Who must be told of its proposal and outcome, and whether they have been: the outbox of
    /// notifications, kept in the record itself.
    pub notices: Vec<Notice>,
    /// The exact statement version this decision approves for publishing.
    pub statement: Option<StatementRef>,
    /// The clocks it names as the ones its execution stops.
    pub clocks: Vec<String>,
}

/// Command passing from one person to another: who, to whom, why, when and who recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Handover {
    pub from: UserName,
    pub to: UserName,
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Determination {
    pub determination: String,
    pub basis: String,
    pub by: Actor,
    pub at: Timestamp,
    pub aware_at: Option<Timestamp>,
    /// Who withdrew it, when, and on what basis.
    pub withdrawn: Option<Note>,
}

/// A regulatory deadline and where it stands.
#[derive(Debug, Clone)]
pub struct Clock {
    pub clock: String,
    pub title: String,
    pub determination: String,
    /// When it started; while `waiting_for` is set, when it would have (not yet meaningful).
    pub started_at: Timestamp,
    pub deadline: Timestamp,
    pub warn_at: Timestamp,
    pub stopped_by: DecisionClass,
    pub path: Vec<String>,
    /// The clock whose submission starts this one, until that submission is recorded.
    pub waiting_for: Option<String>,
    /// When the path was told the deadline is near, who was told and who could not be.
    pub warned: Option<ClockWarning>,
    pub missed_at: Option<Timestamp>,
    /// The notification sent to the authority: the one thing that meets a clock.
    pub submission: Option<Submission>,
    /// Stopped without a submission: the determination was withdrawn, or notifying is not
    /// required; by whom and why.
    pub released: Option<ClockRelease>,
    rule: crate::policy::Deadline,
    warn_hours: u32,
}

/// A clock that waits for another's submission has no start, deadline or warning time yet: they
/// are shown as `null`, never as the placeholder counted from awareness the fold keeps.
impl Serialize for Clock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            clock: &'a str,
            title: &'a str,
            determination: &'a str,
            started_at: Option<Timestamp>,
            deadline: Option<Timestamp>,
            warn_at: Option<Timestamp>,
            stopped_by: &'a DecisionClass,
            path: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            waiting_for: Option<&'a str>,
            warned: Option<&'a ClockWarning>,
            missed_at: Option<Timestamp>,
            submission: Option<&'a Submission>,
            released: Option<&'a ClockRelease>,
        }
        let started = self.waiting_for.is_none();
        Shown {
            clock: &self.clock,
            title: &self.title,
            determination: &self.determination,
            started_at: started.then_some(self.started_at),
            deadline: started.then_some(self.deadline),
            warn_at: started.then_some(self.warn_at),
            stopped_by: &self.stopped_by,
            path: &self.path,
            waiting_for: self.waiting_for.as_deref(),
            warned: self.warned.as_ref(),
            missed_at: self.missed_at,
            submission: self.submission.as_ref(),
            released: self.released.as_ref(),
        }
        .serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClockWarning {
    pub at: Timestamp,
    pub told: Vec<String>,
    pub failed: Vec<String>,
}

/// A notification sent to an authority, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub sent_at: Timestamp,
    pub authority: String,
    pub channel: String,
    pub reference: String,
    /// The approved statement version sent, and the decision that approved it.
    pub statement: StatementRef,
    pub decision: DecisionId,
    pub recorded_by: Actor,
    pub recorded_at: Timestamp,
    /// Whether it was sent by the deadline.
    pub met: bool,
}

/// Why a clock stopped without a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// Its determination was withdrawn.
    DeterminationWithdrawn,
    /// Notifying this authority is not required.
    NotRequired,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClockRelease {
    pub reason: ReleaseReason,
    pub basis: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// Where a clock stands, as reports count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockOutcome {
    /// Starts when another clock's notification is submitted.
    Waiting,
    Running,
    /// Running past its deadline, nothing submitted.
    Missed,
    /// Submitted by the deadline.
    Met,
    /// Submitted after the deadline.
    Late,
    DeterminationWithdrawn,
    NotRequired,
}

impl ClockOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockOutcome::Waiting => "waiting",
            ClockOutcome::Running => "running",
            ClockOutcome::Missed => "missed",
            ClockOutcome::Met => "met",
            ClockOutcome::Late => "late",
            ClockOutcome::DeterminationWithdrawn => "determination withdrawn",
            ClockOutcome::NotRequired => "not required",
        }
    }
}

impl Clock {
    /// Counting down: started, and neither submitted nor released.
    pub fn is_running(&self) -> bool {
        self.is_open() && self.waiting_for.is_none()
    }

    /// Still owed: running, or waiting for the submission it runs from.
    pub fn is_open(&self) -> bool {
        self.submission.is_none() && self.released.is_none()
    }

    /// Seconds left at `now` (negative once past the deadline).
    pub fn seconds_left(&self, now: Timestamp) -> i64 {
        (self.deadline.unix_micros() - now.unix_micros()) / 1_000_000
    }

    pub fn outcome(&self, now: Timestamp) -> ClockOutcome {
        if let Some(submission) = &self.submission {
            return if submission.met { ClockOutcome::Met } else { ClockOutcome::Late };
        }
        if let Some(released) = &self.released {
            return match released.reason {
                ReleaseReason::DeterminationWithdrawn => ClockOutcome::DeterminationWithdrawn,
                ReleaseReason::NotRequired => ClockOutcome::NotRequired,
            };
        }
        if self.waiting_for.is_some() {
            ClockOutcome::Waiting
        } else if self.missed_at.is_some() || now >= self.deadline {
            ClockOutcome::Missed
        } else {
            ClockOutcome::Running
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Review {
    pub lessons: Vec<Lesson>,
    pub control_changes: Vec<ControlChange>,
    pub completed: Option<ReviewCompletion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Lesson {
    pub id: LessonId,
    pub what_happened: String,
    pub why: String,
    pub change: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlChange {
    pub id: ControlChangeId,
    pub lesson: LessonId,
    pub title: String,
    pub owner: UserName,
    pub due: Timestamp,
    pub csf: String,
    pub state: ControlChangeState,
    pub planned_by: Actor,
    pub planned_at: Timestamp,
    /// Who closed it (done or cancelled), when, and their note.
    pub closed: Option<Note>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlChangeState {
    Open,
    Done,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewCompletion {
    pub by: Actor,
    pub at: Timestamp,
    pub summary: String,
}

impl Review {
    pub fn lesson(&self, id: LessonId) -> Option<&Lesson> {
        id.0.checked_sub(1).and_then(|i| self.lessons.get(i as usize))
    }

    pub fn control_change(&self, id: ControlChangeId) -> Option<&ControlChange> {
        id.0.checked_sub(1).and_then(|i| self.control_changes.get(i as usize))
    }

    /// Lessons not yet turned into any control change.
    pub fn unconverted(&self) -> Vec<LessonId> {
        self.lessons.iter().filter(|l| !self.control_changes.iter().any(|c| c.lesson == l.id)).map(|l| l.id).collect()
    }
}

/// A file registered as evidence; the blob itself lives in the store, named by its hash.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceItem {
    pub sha256: String,
    pub size: u64,
    pub name: String,
    pub declared_type: Option<String>,
    pub sniffed_type: Option<String>,
    pub source: Option<String>,
    pub collected_by: Option<String>,
    pub collected_at: Option<Timestamp>,
    pub registered_by: Actor,
    /// The server's time of receipt: the registration entry's time.
    pub received_at: Timestamp,
    /// Every download, export and share-link use, in order.
    pub custody: Vec<Custody>,
    /// Times the stored blob was found not to match its hash.
    pub integrity_failures: Vec<Note>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Custody {
    pub by: Actor,
    pub at: Timestamp,
    pub purpose: String,
    pub share: Option<ShareId>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngagedParty {
    pub party: String,
    pub reason: Option<String>,
    pub engaged_by: Actor,
    pub engaged_at: Timestamp,
}

/// An expiring, revocable link through which one party fetches exactly these items.
#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub id: ShareId,
    pub decision: DecisionId,
    pub party: String,
    pub items: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: Option<Note>,
    pub uses: u32,
}

impl Share {
    /// Whether the link works at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked.is_none() && now < self.expires_at
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub id: StatementId,
    pub audience: Audience,
    pub title: String,
    /// Every version, the first draft first; a version's number is its index plus one.
    pub versions: Vec<StatementVersion>,
    pub publications: Vec<Publication>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementVersion {
    pub version: u32,
    pub text: String,
    pub sha256: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    pub version: u32,
    pub sha256: String,
    pub channel: String,
    pub decision: DecisionId,
    pub by: Actor,
    pub at: Timestamp,
}

impl Statement {
    pub fn latest(&self) -> &StatementVersion {
        // Drafting creates the first version, so there is always one.
        &self.versions[self.versions.len() - 1]
    }

    pub fn version(&self, version: u32) -> Option<&StatementVersion> {
        version.checked_sub(1).and_then(|i| self.versions.get(i as usize))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StartedPlaybook {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub approved_by: String,
    pub inputs: BTreeMap<String, String>,
    pub started_by: Actor,
    pub started_at: Timestamp,
}

/// One notification a decision owes one channel.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub moment: Moment,
    pub channel: String,
    pub status: NoticeStatus,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    Pending,
    Delivered,
    /// Failed and will not be tried again.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub user: UserName,
    pub role: Option<Role>,
    pub at: Timestamp,
    pub note: Option<String>,
    /// True for the endorsement that proposing implies.
    pub implied: bool,
    /// The rule's other roles the person held when endorsing; the endorsement may stand for
    /// any one of them instead of `role`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub spec: ActionSpec,
    pub status: ActionStatus,
    /// Attempts so far, across retries.
    pub attempts: u32,
    /// Failures since it was approved or a person last asked for a retry.
    pub failures: u32,
    /// Whether a failure will be tried again automatically.
    pub retryable: bool,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub detail: Option<String>,
    /// A `notify` action's channels already told by attempts that failed later on; later
    /// attempts skip them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Waiting for approval, or approved and not yet run.
    Pending,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: TaskId,
    pub title: String,
    pub owner: Option<UserName>,
    pub due: Option<Timestamp>,
    pub state: TaskState,
    pub origin: TaskOrigin,
    pub created_by: Actor,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The note when done or cancelled, or the reason when blocked.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Done,
    Blocked,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub by: Actor,
    pub at: Timestamp,
    pub text: String,
}

impl Notice {
    fn new(moment: Moment, channel: &str) -> Notice {
        Notice {
            moment,
            channel: channel.to_owned(),
            status: NoticeStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            detail: None,
        }
    }
}

impl Decision {
    /// Owes every channel of the path a notification of this moment.
    fn owe(&mut self, moment: Moment) {
        let owed: Vec<Notice> = self.path.iter().map(|channel| Notice::new(moment, channel)).collect();
        self.notices.extend(owed);
    }

    pub fn endorsements(&self) -> Vec<Endorsement<'_>> {
        self.approvals
            .iter()
            .filter_map(|a| a.role.as_ref().map(|role| Endorsement { user: &a.user, role, also: &a.also }))
            .collect()
    }

    pub fn progress(&self) -> Progress {
        self.rule.progress(&self.proposer, &self.endorsements())
    }

    /// Whether this person has already stood behind the decision (proposing counts).
    pub fn endorsed_by(&self, user: &UserName) -> bool {
        &self.proposer == user || self.approvals.iter().any(|a| &a.user == user)
    }
}

impl IncidentState {
    /// Folds a whole record; the first entry must be the declaration.
    pub fn fold<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<IncidentState, FoldError> {
        let mut entries = entries.into_iter();
        let first = entries.next().ok_or_else(|| FoldError {
            seq: 1,
            kind: String::new(),
            reason: "the record is empty".into(),
        })?;
        let mut state = IncidentState::declare(first, &parse(first)?)?;
        for entry in entries {
            state.apply_entry(entry)?;
        }
        Ok(state)
    }

    /// Starts a state from the record's first entry.
    pub fn declare(entry: &Entry, event: &IncidentEvent) -> Result<IncidentState, FoldError> {
        let IncidentEvent::Declared(declared) = event else {
            return Err(fold_error(entry, "the first entry must be incident.declared"));
        };
        if entry.seq != 1 || entry.prev != EntryHash::ZERO {
            return Err(fold_error(entry, "incident.declared must be seq 1 with a zero prev"));
        }
        Ok(IncidentState {
            id: declared.number,
            uuid: declared.incident,
            title: declared.title.clone(),
            severity: declared.severity,
            phase: Phase::Declared,
            scope: declared.scope.clone(),
            restricted: declared.restricted,
            exercise: declared.exercise,
            policy: declared.policy.clone(),
            declared_at: entry.at,
            declared_by: entry.actor.clone(),
            roles: BTreeMap::new(),
            unit_roles: BTreeMap::new(),
            facts: Vec::new(),
            decisions: Vec::new(),
            tasks: Vec::new(),
            notes: Vec::new(),
            occurrence: Occurrence::default(),
            playbooks: Vec::new(),
            playbook_roles: Vec::new(),
            evidence: Vec::new(),
            parties: Vec::new(),
            shares: Vec::new(),
            statements: Vec::new(),
            review: Review::default(),
            determinations: Vec::new(),
            clocks: Vec::new(),
            handovers: Vec::new(),
            preapproving: None,
            seq: 1,
            head: entry.hash,
            updated_at: entry.at,
        })
    }

    pub fn apply_entry(&mut self, entry: &Entry) -> Result<(), FoldError> {
        let event = parse(entry)?;
        self.apply(entry, &event)
    }

    /// Applies one entry whose body is already parsed as `event`.
    pub fn apply(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        if entry.seq != self.seq + 1 || entry.prev != self.head {
            return Err(fold_error(entry, &format!("does not follow seq {} of this record", self.seq)));
        }
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        // Connectors' results are written by the system; people's commands by people.
        let by_system = matches!(actor, Actor::System(_));
        let system_kind = matches!(
            event,
            IncidentEvent::ActionStarted(_)
                | IncidentEvent::ActionSucceeded(_)
                | IncidentEvent::ActionFailed(_)
                | IncidentEvent::NotificationDelivered(_)
                | IncidentEvent::NotificationFailed(_)
                | IncidentEvent::ShareCreated(_)
                | IncidentEvent::EvidenceIntegrityFailed(_)
                | IncidentEvent::ClockWarned(_)
                | IncidentEvent::ClockMissed(_)
        ) || matches!(event, IncidentEvent::EvidenceAccessed(a) if a.share.is_some());
        let task_from_action =
            matches!(event, IncidentEvent::TaskCreated(t) if matches!(t.origin, TaskOrigin::Decision { .. }));
        if by_system != (system_kind || task_from_action) {
            return fail(if by_system {
                "only people write this kind of entry"
            } else {
                "only the system writes this kind of entry"
            });
        }
        // Pre-approved decisions follow their playbook's start directly, in one command.
        let preapproving = self.preapproving.take();
        match event {
            IncidentEvent::Declared(_) => return fail("an incident is declared once"),
            IncidentEvent::PhaseChanged(change) => {
                if change.from != self.phase {
                    return fail("'from' is not the current phase");
                }
                if change.to == Phase::Closed && self.review.completed.is_none() {
                    return fail("an incident closes only after its review is complete");
                }
                self.phase = change.to;
            }
            IncidentEvent::SeverityChanged(change) => {
                if change.from != self.severity {
                    return fail("'from' is not the current severity");
                }
                self.severity = change.to;
            }
            IncidentEvent::RoleAssigned(RoleChange { role, user, unit: Some(unit) }) => {
                if !self.scope.contains(unit) {
                    return fail("a local role is held in a unit in the incident's scope");
                }
                let holders = self.unit_roles.entry(unit.clone()).or_default().entry(role.clone()).or_default();
                if holders.contains(user) {
                    return fail("the user already holds the role in the unit");
                }
                holders.push(user.clone());
            }
            IncidentEvent::RoleReleased(RoleChange { role, user, unit: Some(unit) }) => {
                let Some(holders) = self.unit_roles.get_mut(unit).and_then(|roles| roles.get_mut(role)) else {
                    return fail("nobody holds the role in the unit");
                };
                let before = holders.len();
                holders.retain(|u| u != user);
                if holders.len() == before {
                    return fail("the user does not hold the role in the unit");
                }
            }
            IncidentEvent::RoleAssigned(change) => {
                let holders = self.roles.entry(change.role.clone()).or_default();
                if holders.contains(&change.user) {
                    return fail("the user already holds the role");
                }
                holders.push(change.user.clone());
            }
            IncidentEvent::RoleReleased(change) => {
                let Some(holders) = self.roles.get_mut(&change.role) else {
                    return fail("nobody holds the role");
                };
                let before = holders.len();
                holders.retain(|u| u != &change.user);
                if holders.len() == before {
                    return fail("the user does not hold the role");
                }
                if holders.is_empty() {
                    self.roles.remove(&change.role);
                }
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
            IncidentEvent::TaskCreated(created) => {
                if created.task.0 != self.tasks.len() as u64 + 1 {
                    return fail("task ids must be sequential");
                }
                self.tasks.push(Task {
                    id: created.task,
                    title: created.title.clone(),
                    owner: created.owner.clone(),
                    due: created.due.or_else(|| created.due_in_minutes.map(|m| at.plus_seconds(i64::from(m) * 60))),
                    state: TaskState::Open,
                    origin: created.origin.clone(),
                    created_by: actor.clone(),
                    created_at: at,
                    updated_at: at,
                    note: None,
                });
            }
            IncidentEvent::TaskAssigned(assigned) => {
                let Some(task) = self.task_mut(assigned.task) else { return fail("unknown task") };
                task.owner = Some(assigned.owner.clone());
                task.updated_at = at;
            }
            IncidentEvent::TaskDone(closed) | IncidentEvent::TaskCancelled(closed) => {
                let state =
                    if matches!(event, IncidentEvent::TaskDone(_)) { TaskState::Done } else { TaskState::Cancelled };
                let Some(task) = self.task_mut(closed.task) else { return fail("unknown task") };
                task.state = state;
                task.note = closed.note.clone();
                task.updated_at = at;
            }
            IncidentEvent::TaskBlocked(blocked) => {
                let Some(task) = self.task_mut(blocked.task) else { return fail("unknown task") };
                task.state = TaskState::Blocked;
                task.note = Some(blocked.reason.clone());
                task.updated_at = at;
            }
            IncidentEvent::DecisionProposed(proposed) => {
                if proposed.decision.0 != self.decisions.len() as u64 + 1 {
                    return fail("decision ids must be sequential");
                }
                let Some(proposer) = actor.user().cloned() else {
                    return fail("decisions are proposed by people");
                };
                let approved = proposed.state == DecisionState::Approved;
                // Re-judge what the entry claims, so a forged but re-hashed record is refused.
                let claimed: Vec<&Role> = proposed.role.iter().chain(&proposed.also).collect();
                if claimed.iter().any(|role| !self.holds_for(&proposed.rule, &proposer, role.as_str())) {
                    return fail("the proposer does not hold the role the entry claims");
                }
                match &proposed.playbook {
                    Some(citation) => {
                        if !self.playbooks.iter().any(|p| p.id == citation.playbook && p.sha256 == citation.sha256) {
                            return fail("it cites a playbook that was not started on this incident");
                        }
                        if preapproving.as_deref() != Some(citation.sha256.as_str()) {
                            return fail("a pre-approved decision must directly follow the start of its playbook");
                        }
                        self.preapproving = preapproving.clone();
                    }
                    None => {
                        let endorsement: Vec<Endorsement<'_>> = proposed
                            .role
                            .iter()
                            .map(|role| Endorsement { user: &proposer, role, also: &proposed.also })
                            .collect();
                        if proposed.rule.is_met(&proposer, &endorsement) != approved {
                            return fail("the recorded state does not follow from the decision's rule");
                        }
                    }
                }
                if proposed.actions.iter().any(|a| matches!(a, ActionSpec::Share { .. })) {
                    if proposed.class != "evidence_sharing" {
                        return fail("evidence is shared only through an evidence_sharing decision");
                    }
                    if proposed.playbook.is_some() {
                        return fail("a playbook cannot share evidence");
                    }
                }
                if let Some(bound) = &proposed.statement {
                    let Some(statement) = self.statement(bound.statement) else { return fail("unknown statement") };
                    if statement.version(bound.version).is_none_or(|v| v.sha256 != bound.sha256) {
                        return fail("the decision is bound to a statement version that does not exist");
                    }
                    if statement.audience.class() != proposed.class.as_str() {
                        return fail("a statement is approved through the class its audience requires");
                    }
                }
                let mut notices: Vec<Notice> =
                    proposed.path.iter().map(|channel| Notice::new(Moment::Proposed, channel)).collect();
                if approved {
                    notices.extend(proposed.path.iter().map(|channel| Notice::new(Moment::Approved, channel)));
                }
                self.decisions.push(Decision {
                    id: proposed.decision,
                    class: proposed.class.clone(),
                    title: proposed.title.clone(),
                    rationale: proposed.rationale.clone(),
                    actions: proposed
                        .actions
                        .iter()
                        .map(|spec| Action {
                            spec: spec.clone(),
                            status: ActionStatus::Pending,
                            attempts: 0,
                            failures: 0,
                            retryable: true,
                            last_attempt_at: None,
                            last_error: None,
                            detail: None,
                            told: Vec::new(),
                        })
                        .collect(),
                    proposer: proposer.clone(),
                    proposed_at: at,
                    rule: proposed.rule.clone(),
                    state: proposed.state,
                    approvals: proposed
                        .role
                        .iter()
                        .map(|role| Approval {
                            user: proposer.clone(),
                            role: Some(role.clone()),
                            at,
                            note: None,
                            implied: true,
                            also: proposed.also.clone(),
                        })
                        .collect(),
                    rejections: Vec::new(),
                    decided_at: approved.then_some(at),
                    withdrawn: None,
                    playbook: proposed.playbook.clone(),
                    path: proposed.path.clone(),
                    notices,
                    statement: proposed.statement.clone(),
                    clocks: proposed.clocks.clone(),
                });
            }
            IncidentEvent::DecisionApproved(approved) => {
                let Some(user) = actor.user().cloned() else { return fail("approvals are given by people") };
                let rule = self.decision(approved.decision).map(|d| d.rule.clone());
                let Some(rule) = rule else { return fail("unknown decision") };
                if std::iter::once(&approved.role)
                    .chain(&approved.also)
                    .any(|role| !self.holds_for(&rule, &user, role.as_str()))
                {
                    return fail("the approver does not hold the role the entry claims");
                }
                let Some(decision) = self.decision_mut(approved.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                if decision.endorsed_by(&user) {
                    return fail("a person endorses a decision once");
                }
                let mut endorsements = decision.endorsements();
                endorsements.push(Endorsement { user: &user, role: &approved.role, also: &approved.also });
                if decision.rule.is_met(&decision.proposer, &endorsements)
                    != (approved.state == DecisionState::Approved)
                {
                    return fail("the recorded state does not follow from the decision's rule");
                }
                decision.approvals.push(Approval {
                    user,
                    role: Some(approved.role.clone()),
                    at,
                    note: approved.note.clone(),
                    implied: false,
                    also: approved.also.clone(),
                });
                decision.state = approved.state;
                if approved.state == DecisionState::Approved {
                    decision.decided_at = Some(at);
                    decision.owe(Moment::Approved);
                }
            }
            IncidentEvent::DecisionRejected(rejected) => {
                let Some(user) = actor.user().cloned() else { return fail("rejections are given by people") };
                let rule = self.decision(rejected.decision).map(|d| d.rule.clone());
                let Some(rule) = rule else { return fail("unknown decision") };
                if !self.holds_for(&rule, &user, rejected.role.as_str()) {
                    return fail("the rejecter does not hold the role the entry claims");
                }
                let Some(decision) = self.decision_mut(rejected.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                decision.rejections.push(Approval {
                    user,
                    role: Some(rejected.role.clone()),
                    at,
                    note: Some(rejected.note.clone()),
                    implied: false,
                    also: Vec::new(),
                });
                decision.state = DecisionState::Rejected;
                decision.decided_at = Some(at);
                decision.owe(Moment::Rejected);
            }
            IncidentEvent::DecisionWithdrawn(withdrawn) => {
                let Some(user) = actor.user().cloned() else { return fail("withdrawals are made by people") };
                let Some(decision) = self.decision_mut(withdrawn.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                decision.withdrawn = Some(Approval {
                    user,
                    role: None,
                    at,
                    note: withdrawn.note.clone(),
                    implied: false,
                    also: Vec::new(),
                });
                decision.state = DecisionState::Withdrawn;
                decision.decided_at = Some(at);
            }
            IncidentEvent::ActionStarted(started) => {
                let action = self
                    .action_mut(started.decision, started.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                let may_start = match action.status {
                    ActionStatus::Pending | ActionStatus::Running => true,
                    ActionStatus::Failed => action.retryable,
                    ActionStatus::Succeeded => false,
                };
                if !may_start || started.attempt != action.attempts + 1 {
                    return fail("the action cannot start this attempt");
                }
                action.status = ActionStatus::Running;
                action.attempts = started.attempt;
                action.last_attempt_at = Some(at);
            }
            IncidentEvent::ActionSucceeded(done) => {
                let action =
                    self.action_mut(done.decision, done.action).ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Running || done.attempt != action.attempts {
                    return fail("the action is not running this attempt");
                }
                action.status = ActionStatus::Succeeded;
                action.detail = done.detail.clone();
                action.last_error = None;
            }
            IncidentEvent::ActionFailed(failed) => {
                if !failed.told.is_empty() {
                    let decision = self.decision(failed.decision);
                    let notify = decision
                        .and_then(|d| d.actions.get(failed.action as usize))
                        .is_some_and(|a| matches!(a.spec, ActionSpec::Notify { .. }));
                    let in_path = decision.is_some_and(|d| failed.told.iter().all(|c| d.path.contains(c)));
                    if !(notify && in_path) {
                        return fail("only a notify action tells channels, and only those of its path");
                    }
                }
                let action = self
                    .action_mut(failed.decision, failed.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Running || failed.attempt != action.attempts {
                    return fail("the action is not running this attempt");
                }
                action.status = ActionStatus::Failed;
                action.failures += 1;
                action.retryable = failed.retryable;
                action.last_error = Some(failed.reason.clone());
                for channel in &failed.told {
                    if !action.told.contains(channel) {
                        action.told.push(channel.clone());
                    }
                }
            }
            IncidentEvent::ActionRetryRequested(retry) => {
                let action =
                    self.action_mut(retry.decision, retry.action).ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Failed {
                    return fail("only a failed action is retried");
                }
                action.status = ActionStatus::Pending;
                action.failures = 0;
                action.retryable = true;
            }
            IncidentEvent::PlaybookStarted(started) => {
                if self.playbooks.iter().any(|p| p.id == started.playbook) {
                    return fail("the playbook was already started on this incident");
                }
                self.playbooks.push(StartedPlaybook {
                    id: started.playbook.clone(),
                    version: started.version.clone(),
                    sha256: started.sha256.clone(),
                    approved_by: started.approved_by.clone(),
                    inputs: started.inputs.clone(),
                    started_by: actor.clone(),
                    started_at: at,
                });
                for role in &started.required_roles {
                    if !self.playbook_roles.contains(role) {
                        self.playbook_roles.push(role.clone());
                    }
                }
                self.preapproving = Some(started.sha256.clone());
            }
            IncidentEvent::NotificationDelivered(sent) => {
                let notice = self
                    .notice_mut(sent.decision, sent.moment, &sent.channel)
                    .ok_or_else(|| fold_error(entry, "no such notification is owed"))?;
                if notice.status != NoticeStatus::Pending {
                    return fail("the notification was already settled");
                }
                notice.status = NoticeStatus::Delivered;
                notice.attempts += 1;
                notice.last_attempt_at = Some(at);
                notice.detail = sent.detail.clone();
            }
            IncidentEvent::NotificationFailed(failed) => {
                let notice = self
                    .notice_mut(failed.decision, failed.moment, &failed.channel)
                    .ok_or_else(|| fold_error(entry, "no such notification is owed"))?;
                if notice.status != NoticeStatus::Pending {
                    return fail("the notification was already settled");
                }
                notice.attempts += 1;
                notice.last_attempt_at = Some(at);
                notice.detail = Some(failed.reason.clone());
                if !failed.retryable {
                    notice.status = NoticeStatus::Failed;
                }
            }
            IncidentEvent::CommanderHandedOver(handover) => {
                let Some(holders) = self.roles.iter_mut().find(|(role, _)| *role == "commander").map(|(_, h)| h) else {
                    return fail("nobody holds commander");
                };
                if !holders.contains(&handover.from) {
                    return fail("the one handing over does not hold commander");
                }
                if holders.contains(&handover.to) {
                    return fail("the new commander already holds commander");
                }
                holders.retain(|u| u != &handover.from);
                holders.push(handover.to.clone());
                self.handovers.push(Handover {
                    from: handover.from.clone(),
                    to: handover.to.clone(),
                    reason: handover.reason.clone(),
                    by: actor.clone(),
                    at,
                });
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
            IncidentEvent::DeterminationRecorded(recorded) => {
                if self.determinations.iter().any(|d| d.determination == recorded.determination) {
                    return fail("the determination is already recorded");
                }
                let started_at = recorded.aware_at.unwrap_or(at);
                if started_at > at {
                    return fail("awareness cannot be later than the entry");
                }
                for start in &recorded.clocks {
                    if self.clocks.iter().any(|c| c.clock == start.clock) {
                        return fail("the clock is already running");
                    }
                    if let Some(first) = &start.from_submission_of
                        && !recorded.clocks.iter().any(|c| &c.clock == first && c.from_submission_of.is_none())
                    {
                        return fail("a clock runs from the submission of a clock the same determination starts");
                    }
                    let deadline = start.deadline.after(started_at);
                    self.clocks.push(Clock {
                        clock: start.clock.clone(),
                        title: start.title.clone(),
                        determination: recorded.determination.clone(),
                        started_at,
                        deadline,
                        warn_at: deadline.plus_seconds(-i64::from(start.warn_hours) * 3600),
                        stopped_by: start.stopped_by.clone(),
                        path: start.path.clone(),
                        waiting_for: start.from_submission_of.clone(),
                        warned: None,
                        missed_at: None,
                        submission: None,
                        released: None,
                        rule: start.deadline,
                        warn_hours: start.warn_hours,
                    });
                }
                self.determinations.push(Determination {
                    determination: recorded.determination.clone(),
                    basis: recorded.basis.clone(),
                    by: actor.clone(),
                    at,
                    aware_at: recorded.aware_at,
                    withdrawn: None,
                });
            }
            IncidentEvent::ClockSubmitted(submitted) => {
                if let Err(reason) = self.check_submission(submitted, at) {
                    return fail(reason);
                }
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == submitted.clock) else {
                    return fail("unknown clock");
                };
                clock.submission = Some(Submission {
                    sent_at: submitted.sent_at,
                    authority: submitted.authority.clone(),
                    channel: submitted.channel.clone(),
                    reference: submitted.reference.clone(),
                    statement: submitted.statement.clone(),
                    decision: submitted.decision,
                    recorded_by: actor.clone(),
                    recorded_at: at,
                    met: submitted.sent_at <= clock.deadline,
                });
                // Clocks that run from this submission start now, from when it was sent.
                for waiting in self.clocks.iter_mut().filter(|c| c.waiting_for.as_ref() == Some(&submitted.clock)) {
                    waiting.waiting_for = None;
                    waiting.started_at = submitted.sent_at;
                    waiting.deadline = waiting.rule.after(submitted.sent_at);
                    waiting.warn_at = waiting.deadline.plus_seconds(-i64::from(waiting.warn_hours) * 3600);
                }
            }
            IncidentEvent::DeterminationWithdrawn(withdrawn) => {
                let Some(found) = self.determinations.iter_mut().find(|d| d.determination == withdrawn.determination)
                else {
                    return fail("unknown determination");
                };
                if found.withdrawn.is_some() {
                    return fail("the determination is already withdrawn");
                }
                found.withdrawn = Some(Note { by: actor.clone(), at, text: withdrawn.basis.clone() });
                for clock in
                    self.clocks.iter_mut().filter(|c| c.determination == withdrawn.determination && c.is_open())
                {
                    clock.released = Some(ClockRelease {
                        reason: ReleaseReason::DeterminationWithdrawn,
                        basis: withdrawn.basis.clone(),
                        by: actor.clone(),
                        at,
                    });
                }
            }
            IncidentEvent::ClockNotRequired(exempt) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == exempt.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_open() {
                    return fail("the clock has already stopped");
                }
                clock.released = Some(ClockRelease {
                    reason: ReleaseReason::NotRequired,
                    basis: exempt.basis.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::ClockWarned(warned) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == warned.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_running() || clock.warned.is_some() || at < clock.warn_at {
                    return fail("the clock is not due a warning");
                }
                clock.warned = Some(ClockWarning { at, told: warned.told.clone(), failed: warned.failed.clone() });
            }
            IncidentEvent::ClockMissed(missed) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == missed.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_running() || clock.missed_at.is_some() || at < clock.deadline {
                    return fail("the clock has not run out");
                }
                clock.missed_at = Some(at);
            }
            IncidentEvent::LessonRecorded(recorded) => {
                if self.review.completed.is_some() {
                    return fail("the review is already complete");
                }
                if recorded.lesson.0 != self.review.lessons.len() as u64 + 1 {
                    return fail("lesson ids must be sequential");
                }
                self.review.lessons.push(Lesson {
                    id: recorded.lesson,
                    what_happened: recorded.what_happened.clone(),
                    why: recorded.why.clone(),
                    change: recorded.change.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::ControlChangePlanned(planned) => {
                if planned.change.0 != self.review.control_changes.len() as u64 + 1 {
                    return fail("control change ids must be sequential");
                }
                if self.review.lesson(planned.lesson).is_none() {
                    return fail("unknown lesson");
                }
                self.review.control_changes.push(ControlChange {
                    id: planned.change,
                    lesson: planned.lesson,
                    title: planned.title.clone(),
                    owner: planned.owner.clone(),
                    due: planned.due,
                    csf: planned.csf.clone(),
                    state: ControlChangeState::Open,
                    planned_by: actor.clone(),
                    planned_at: at,
                    closed: None,
                });
            }
            IncidentEvent::ControlChangeDone(closed) | IncidentEvent::ControlChangeCancelled(closed) => {
                let state = if matches!(event, IncidentEvent::ControlChangeDone(_)) {
                    ControlChangeState::Done
                } else {
                    ControlChangeState::Cancelled
                };
                let Some(change) =
                    closed.change.0.checked_sub(1).and_then(|i| self.review.control_changes.get_mut(i as usize))
                else {
                    return fail("unknown control change");
                };
                if change.state != ControlChangeState::Open {
                    return fail("the control change is already closed");
                }
                change.state = state;
                change.closed = Some(Note { by: actor.clone(), at, text: closed.note.clone().unwrap_or_default() });
            }
            IncidentEvent::ReviewCompleted(completed) => {
                if self.review.completed.is_some() {
                    return fail("the review is already complete");
                }
                if self.review.lessons.is_empty() || !self.review.unconverted().is_empty() {
                    return fail("a review completes only when every lesson has a control change");
                }
                self.review.completed =
                    Some(ReviewCompletion { by: actor.clone(), at, summary: completed.summary.clone() });
            }
            IncidentEvent::EvidenceRegistered(registered) => {
                if !crate::entry::is_sha256(&registered.sha256) {
                    return fail("evidence is named by 64 lower-case hex digits");
                }
                if !crate::decide::is_kept_name(&registered.name) {
                    return fail("the name holds characters the record never keeps as they are");
                }
                if self.evidence_item(&registered.sha256).is_some() {
                    return fail("the item is already registered on this incident");
                }
                self.evidence.push(EvidenceItem {
                    sha256: registered.sha256.clone(),
                    size: registered.size,
                    name: registered.name.clone(),
                    declared_type: registered.declared_type.clone(),
                    sniffed_type: registered.sniffed_type.clone(),
                    source: registered.source.clone(),
                    collected_by: registered.collected_by.clone(),
                    collected_at: registered.collected_at,
                    registered_by: actor.clone(),
                    received_at: at,
                    custody: Vec::new(),
                    integrity_failures: Vec::new(),
                });
            }
            IncidentEvent::EvidenceAccessed(accessed) => {
                if let Some(id) = accessed.share {
                    if self.phase == Phase::Closed {
                        return fail("a closed incident's share links no longer work");
                    }
                    let Some(share) = self.share_mut(id) else { return fail("unknown share") };
                    if !share.is_live(at) || !share.items.contains(&accessed.sha256) {
                        return fail("the share does not reach this item at this time");
                    }
                    share.uses += 1;
                }
                let Some(item) = self.evidence_mut(&accessed.sha256) else { return fail("unknown evidence") };
                item.custody.push(Custody {
                    by: actor.clone(),
                    at,
                    purpose: accessed.purpose.clone(),
                    share: accessed.share,
                });
            }
            IncidentEvent::EvidenceIntegrityFailed(failed) => {
                let Some(item) = self.evidence_mut(&failed.sha256) else { return fail("unknown evidence") };
                item.integrity_failures.push(Note { by: actor.clone(), at, text: failed.detail.clone() });
            }
            IncidentEvent::PartyEngaged(engaged) => {
                if self.parties.iter().any(|p| p.party == engaged.party) {
                    return fail("the party is already engaged");
                }
                self.parties.push(EngagedParty {
                    party: engaged.party.clone(),
                    reason: engaged.reason.clone(),
                    engaged_by: actor.clone(),
                    engaged_at: at,
                });
            }
            IncidentEvent::ShareCreated(created) => {
                if created.share.0 != self.shares.len() as u64 + 1 {
                    return fail("share ids must be sequential");
                }
                let action = self
                    .action_mut(created.decision, created.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                let matches_action = matches!(&action.spec, ActionSpec::Share { party, items, expires_in_hours }
                    if *party == created.party && *items == created.items && *expires_in_hours == created.expires_in_hours);
                if action.status != ActionStatus::Running || !matches_action {
                    return fail("a share is created only by its running share action");
                }
                self.shares.push(Share {
                    id: created.share,
                    decision: created.decision,
                    party: created.party.clone(),
                    items: created.items.clone(),
                    created_at: at,
                    expires_at: at.plus_seconds(i64::from(created.expires_in_hours) * 3600),
                    revoked: None,
                    uses: 0,
                });
            }
            IncidentEvent::ShareRevoked(revoked) => {
                let Some(share) = self.share_mut(revoked.share) else { return fail("unknown share") };
                if share.revoked.is_some() {
                    return fail("the share is already revoked");
                }
                share.revoked = Some(Note { by: actor.clone(), at, text: revoked.reason.clone().unwrap_or_default() });
            }
            IncidentEvent::StatementDrafted(drafted) => {
                if drafted.statement.0 != self.statements.len() as u64 + 1 {
                    return fail("statement ids must be sequential");
                }
                if crate::entry::sha256_hex(drafted.text.as_bytes()) != drafted.sha256 {
                    return fail("the recorded hash is not the text's");
                }
                self.statements.push(Statement {
                    id: drafted.statement,
                    audience: drafted.audience,
                    title: drafted.title.clone(),
                    versions: vec![StatementVersion {
                        version: 1,
                        text: drafted.text.clone(),
                        sha256: drafted.sha256.clone(),
                        by: actor.clone(),
                        at,
                    }],
                    publications: Vec::new(),
                });
            }
            IncidentEvent::StatementRevised(revised) => {
                if crate::entry::sha256_hex(revised.text.as_bytes()) != revised.sha256 {
                    return fail("the recorded hash is not the text's");
                }
                let Some(statement) = self.statement_mut(revised.statement) else { return fail("unknown statement") };
                if revised.version as usize != statement.versions.len() + 1 {
                    return fail("statement versions must be sequential");
                }
                statement.versions.push(StatementVersion {
                    version: revised.version,
                    text: revised.text.clone(),
                    sha256: revised.sha256.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::StatementPublished(published) => {
                let bound = StatementRef {
                    statement: published.statement,
                    version: published.version,
                    sha256: published.sha256.clone(),
                };
                if !self.approves(published.decision, &bound) {
                    return fail("only the text an approved decision is bound to is published");
                }
                let Some(statement) = self.statement_mut(published.statement) else { return fail("unknown statement") };
                if statement.latest().version != published.version {
                    return fail("only a statement's latest version is published");
                }
                statement.publications.push(Publication {
                    version: published.version,
                    sha256: published.sha256.clone(),
                    channel: published.channel.clone(),
                    decision: published.decision,
                    by: actor.clone(),
                    at,
                });
            }
        }
        self.seq = entry.seq;
        self.head = entry.hash;
        self.updated_at = at;
        Ok(())
    }

    /// Decisions this person could approve or reject right now: "needs your decision".
    pub fn awaiting(&self, user: &UserName) -> Vec<&Decision> {
        if self.phase == Phase::Closed {
            // A closed record is final: a decision left open at close waits on nobody.
            return Vec::new();
        }
        self.decisions
            .iter()
            .filter(|d| d.state == DecisionState::Proposed && !d.endorsed_by(user))
            .filter(|d| {
                let holds = self.deciding_roles_of(user, d.rule.scope);
                d.progress().awaiting.iter().any(|role| holds.contains(role))
            })
            .collect()
    }

    /// Required roles nobody holds: blockers.
    /// Required roles nobody holds: the policy's, then those the started playbooks need.
    pub fn unfilled<'a>(&'a self, required: &'a [Role]) -> Vec<&'a Role> {
        let mut unfilled: Vec<&Role> = Vec::new();
        for role in required.iter().chain(&self.playbook_roles) {
            if self.roles.get(role).is_none_or(|h| h.is_empty()) && !unfilled.contains(&role) {
                unfilled.push(role);
            }
        }
        unfilled
    }

    /// The commander now: the one who holds `commander`. A record written before one commander
    /// at a time was enforced may name several holders; they all keep the role (their entries
    /// stay valid), and the one assigned (or handed command) last is the current commander.
    pub fn commander(&self) -> Option<&UserName> {
        self.roles.iter().find(|(role, _)| *role == "commander").and_then(|(_, holders)| holders.last())
    }

    /// The roles a person holds on this incident.
    pub fn roles_of(&self, user: &UserName) -> Vec<Role> {
        self.roles.iter().filter(|(_, holders)| holders.contains(user)).map(|(role, _)| role.clone()).collect()
    }

    pub fn holds(&self, user: &UserName, role: &str) -> bool {
        self.roles.iter().any(|(r, holders)| r == role && holders.contains(user))
    }

    pub fn is_participant(&self, user: &UserName) -> bool {
        self.roles.values().any(|holders| holders.contains(user))
            || self.unit_roles.values().flat_map(|roles| roles.values()).any(|holders| holders.contains(user))
    }

    /// Whether `user` holds `role` locally in `unit`.
    pub fn holds_in(&self, unit: &str, user: &UserName, role: &str) -> bool {
        self.unit_roles
            .get(unit)
            .is_some_and(|roles| roles.iter().any(|(r, holders)| r == role && holders.contains(user)))
    }

    /// Whether `user` holds `role` for deciding under `rule`: centrally, or for a `local` rule
    /// also in a unit in scope.
    pub fn holds_for(&self, rule: &Rule, user: &UserName, role: &str) -> bool {
        self.holds(user, role)
            || (rule.scope == crate::policy::Scope::Local
                && self.unit_roles.keys().any(|u| self.holds_in(u, user, role)))
    }

    /// The roles `user` may decide with under a rule of this scope.
    pub fn deciding_roles_of(&self, user: &UserName, scope: crate::policy::Scope) -> Vec<Role> {
        let mut roles = self.roles_of(user);
        if scope == crate::policy::Scope::Local {
            for unit_roles in self.unit_roles.values() {
                for (role, holders) in unit_roles {
                    if holders.contains(user) && !roles.contains(role) {
                        roles.push(role.clone());
                    }
                }
            }
        }
        roles
    }

    pub fn fact(&self, id: FactId) -> Option<&Fact> {
        id.0.checked_sub(1).and_then(|i| self.facts.get(i as usize))
    }

    pub fn decision(&self, id: DecisionId) -> Option<&Decision> {
        id.0.checked_sub(1).and_then(|i| self.decisions.get(i as usize))
    }

    pub fn task(&self, id: TaskId) -> Option<&Task> {
        id.0.checked_sub(1).and_then(|i| self.tasks.get(i as usize))
    }

    pub fn evidence_item(&self, sha256: &str) -> Option<&EvidenceItem> {
        self.evidence.iter().find(|item| item.sha256 == sha256)
    }

    pub fn share(&self, id: ShareId) -> Option<&Share> {
        id.0.checked_sub(1).and_then(|i| self.shares.get(i as usize))
    }

    pub fn statement(&self, id: StatementId) -> Option<&Statement> {
        id.0.checked_sub(1).and_then(|i| self.statements.get(i as usize))
    }

    /// Why a submission could not have been recorded, if it could not: the clock must be
    /// running, the statement version sent approved by a decision of the clock's class, and
    /// the sending between that approval and the entry.
    pub fn check_submission(&self, submitted: &ClockSubmitted, at: Timestamp) -> Result<(), &'static str> {
        let clock = self.clocks.iter().find(|c| c.clock == submitted.clock).ok_or("unknown clock")?;
        if !clock.is_running() {
            return Err("the clock is not running");
        }
        let decision = self.decision(submitted.decision).ok_or("unknown decision")?;
        if !self.approves(submitted.decision, &submitted.statement) || decision.class != clock.stopped_by {
            return Err("only a statement version approved by a decision of the clock's class is submitted");
        }
        if !decision.clocks.is_empty() && !decision.clocks.contains(&submitted.clock) {
            return Err("the approving decision names other clocks");
        }
        if submitted.sent_at > at || decision.decided_at.is_none_or(|approved| submitted.sent_at < approved) {
            return Err("a notification is sent after its approval and before it is recorded");
        }
        Ok(())
    }

    /// Whether a share's link works at `now`: not revoked, not expired, incident not closed.
    pub fn share_is_live(&self, share: &Share, now: Timestamp) -> bool {
        self.phase != Phase::Closed && share.is_live(now)
    }

    pub fn is_engaged(&self, party: &str) -> bool {
        self.parties.iter().any(|p| p.party == party)
    }

    /// Whether `decision` is approved and bound to exactly this statement version.
    pub fn approves(&self, decision: DecisionId, bound: &StatementRef) -> bool {
        self.decision(decision)
            .is_some_and(|d| d.state == DecisionState::Approved && d.statement.as_ref() == Some(bound))
    }

    /// The approved decision that lets this exact statement version out, if any.
    pub fn approval_of(&self, bound: &StatementRef) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.state == DecisionState::Approved && d.statement.as_ref() == Some(bound))
    }

    fn evidence_mut(&mut self, sha256: &str) -> Option<&mut EvidenceItem> {
        self.evidence.iter_mut().find(|item| item.sha256 == sha256)
    }

    fn share_mut(&mut self, id: ShareId) -> Option<&mut Share> {
        id.0.checked_sub(1).and_then(|i| self.shares.get_mut(i as usize))
    }

    fn statement_mut(&mut self, id: StatementId) -> Option<&mut Statement> {
        id.0.checked_sub(1).and_then(|i| self.statements.get_mut(i as usize))
    }

    fn fact_mut(&mut self, id: FactId) -> Option<&mut Fact> {
        id.0.checked_sub(1).and_then(|i| self.facts.get_mut(i as usize))
    }

    fn decision_mut(&mut self, id: DecisionId) -> Option<&mut Decision> {
        id.0.checked_sub(1).and_then(|i| self.decisions.get_mut(i as usize))
    }

    fn task_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        id.0.checked_sub(1).and_then(|i| self.tasks.get_mut(i as usize))
    }

    fn notice_mut(&mut self, decision: DecisionId, moment: Moment, channel: &str) -> Option<&mut Notice> {
        self.decision_mut(decision)?.notices.iter_mut().find(|n| n.moment == moment && n.channel == channel)
    }

    fn action_mut(&mut self, decision: DecisionId, index: u32) -> Option<&mut Action> {
        let decision = self.decision_mut(decision)?;
        if decision.state != DecisionState::Approved {
            return None;
        }
        decision.actions.get_mut(index as usize)
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

fn parse(entry: &Entry) -> Result<IncidentEvent, FoldError> {
    IncidentEvent::parse(&entry.kind, &entry.body).map_err(|error| fold_error(entry, &error.to_string()))
}

fn fold_error(entry: &Entry, reason: &str) -> FoldError {
    FoldError { seq: entry.seq, kind: entry.kind.clone(), reason: reason.to_owned() }
}
