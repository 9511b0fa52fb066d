//! An incident's state: a pure fold over its record.
//!
//! Nothing about an incident lives anywhere else; this module is the only place that turns
//! entries into state, and `apply` refuses an entry that could not have been written by
//! [`crate::decide`], so a forged but re-hashed record is still caught when it is loaded.
//!
//! Each family's state types and the entries that change them live in a file of their own,
//! named as in `decide/`; `IncidentState::apply` checks what every entry must satisfy and hands
//! the entry to its family.

mod alerts;
mod clocks;
mod closing;
mod decisions;
mod evidence;
mod facts;
mod parties;
mod playbooks;
mod review;
mod roles;
mod statements;
mod tasks;

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

pub use alerts::{AlertKind, Alerts, Owed, Told, UpdatePromise};
pub use clocks::{Clock, ClockOutcome, ClockRelease, ClockWarning, Determination, ReleaseReason, Submission};
pub use closing::{CloseChecklist, OpenClock, OpenDecision, OpenTask};
pub use decisions::{Action, ActionStatus, Approval, Decision, Notice, NoticeStatus};
pub use evidence::{Custody, EvidenceItem};
pub use facts::{Fact, Judgement, LoggedNote, Occurrence};
pub use parties::{EngagedParty, Share};
pub use playbooks::StartedPlaybook;
pub use review::{ControlChange, ControlChangeState, Lesson, Review, ReviewCompletion};
pub use roles::Handover;
pub use statements::{Delivery, DeliveryAttempt, DeliveryStatus, Publication, Statement, StatementVersion};
pub use tasks::{Task, TaskState};

/// An entry that does not fit the state it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq} ({kind}): {reason}")]
pub struct FoldError {
    pub seq: u64,
    pub kind: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Who was told what, the review links opened and the promised update.
    #[serde(skip)]
    pub alerts: Alerts,
    /// The incident's chat rooms: system (`matrix`, `slack`) → room id.
    pub chat_rooms: BTreeMap<String, String>,
    /// The playbook whose pre-approved decisions may follow: only directly after its start.
    #[serde(skip)]
    preapproving: Option<String>,
    /// The last entry's seq and hash: the record's head.
    pub seq: u64,
    pub head: EntryHash,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    pub by: Actor,
    pub at: Timestamp,
    pub text: String,
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
            alerts: Alerts::default(),
            chat_rooms: BTreeMap::new(),
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
                | IncidentEvent::StatementDelivered(_)
                | IncidentEvent::StatementDeliveryFailed(_)
                | IncidentEvent::ShareCreated(_)
                | IncidentEvent::EvidenceIntegrityFailed(_)
                | IncidentEvent::ClockWarned(_)
                | IncidentEvent::ClockMissed(_)
                | IncidentEvent::AlertSent(_)
                | IncidentEvent::AlertFailed(_)
                | IncidentEvent::ChatRoomOpened(_)
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
        use IncidentEvent as E;
        match event {
            IncidentEvent::Declared(_) => return fail("an incident is declared once"),
            E::PhaseChanged(_) | E::RoleAssigned(_) | E::RoleReleased(_) | E::CommanderHandedOver(_) => {
                self.apply_roles(entry, event)?
            }
            E::SeverityChanged(_)
            | E::FactLogged(_)
            | E::FactVerified(_)
            | E::FactDisproved(_)
            | E::NoteAdded(_)
            | E::OccurrenceRecorded(_) => self.apply_facts(entry, event)?,
            E::TaskCreated(_) | E::TaskAssigned(_) | E::TaskDone(_) | E::TaskCancelled(_) | E::TaskBlocked(_) => {
                self.apply_tasks(entry, event)?
            }
            E::DecisionProposed(_) => self.apply_proposed(entry, event, preapproving)?,
            E::DecisionApproved(_) | E::DecisionRejected(_) | E::DecisionWithdrawn(_) => {
                self.apply_decisions(entry, event)?
            }
            E::ActionStarted(_)
            | E::ActionSucceeded(_)
            | E::ActionFailed(_)
            | E::ActionRetryRequested(_)
            | E::NotificationDelivered(_)
            | E::NotificationFailed(_) => self.apply_actions(entry, event)?,
            E::PlaybookStarted(_) => self.apply_playbooks(entry, event)?,
            E::DeterminationRecorded(_)
            | E::ClockSubmitted(_)
            | E::DeterminationWithdrawn(_)
            | E::ClockNotRequired(_)
            | E::ClockWarned(_)
            | E::ClockMissed(_) => self.apply_clocks(entry, event)?,
            E::LessonRecorded(_)
            | E::ControlChangePlanned(_)
            | E::ControlChangeDone(_)
            | E::ControlChangeCancelled(_)
            | E::ReviewCompleted(_) => self.apply_review(entry, event)?,
            E::EvidenceRegistered(_) | E::EvidenceAccessed(_) | E::EvidenceIntegrityFailed(_) => {
                self.apply_evidence(entry, event)?
            }
            E::PartyEngaged(_) | E::ShareCreated(_) | E::ShareRevoked(_) => self.apply_parties(entry, event)?,
            E::StatementDrafted(_)
            | E::StatementRevised(_)
            | E::StatementPublished(_)
            | E::StatementDelivered(_)
            | E::StatementDeliveryFailed(_)
            | E::StatementDeliveryRetryRequested(_) => self.apply_statements(entry, event)?,
            E::AlertSent(_) | E::AlertFailed(_) | E::ReviewLinkOpened(_) | E::UpdateScheduled(_) => {
                self.apply_alerts(entry, event)?
            }
            E::ChatRoomOpened(opened) => {
                if self.chat_rooms.contains_key(&opened.system) {
                    return fail("the incident already has a room in that chat system");
                }
                self.chat_rooms.insert(opened.system.clone(), opened.room.clone());
            }
        }
        self.seen_by_actor(entry, event);
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

    /// Required roles nobody holds: the policy's, then those the started playbooks need.
    pub fn unfilled<'a>(&'a self, required: &'a [Role]) -> Vec<&'a Role> {
        self.vacant(required, |_| true)
    }

    /// Required roles no one `active` holds: blockers. A holder whose account was disabled (a
    /// leaver, deprovisioned by the identity provider) keeps the role in the record, but it
    /// is vacant until someone else takes it.
    pub fn vacant<'a>(&'a self, required: &'a [Role], active: impl Fn(&UserName) -> bool) -> Vec<&'a Role> {
        let mut unfilled: Vec<&Role> = Vec::new();
        for role in required.iter().chain(&self.playbook_roles) {
            if self.roles.get(role).is_none_or(|h| !h.iter().any(&active)) && !unfilled.contains(&role) {
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

fn parse(entry: &Entry) -> Result<IncidentEvent, FoldError> {
    IncidentEvent::parse(&entry.kind, &entry.body).map_err(|error| fold_error(entry, &error.to_string()))
}

fn fold_error(entry: &Entry, reason: &str) -> FoldError {
    FoldError { seq: entry.seq, kind: entry.kind.clone(), reason: reason.to_owned() }
}
