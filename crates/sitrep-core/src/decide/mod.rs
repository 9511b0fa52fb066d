//! Commands in, entries out: the one place where authority is enforced.
//!
//! Each `decide_*` function takes a person's intent and the current state and either yields the
//! events to append or a [`Refusal`] that names the rule and what would satisfy it. The API, the
//! CLI, the web UI and the tests all reach the record through these functions, and nothing
//! else writes entries, so there is exactly one authority check to read and to test.

mod authority;
mod checks;
mod declare;
mod org;
mod playbooks;
mod system;

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

use crate::entry::{is_sha256, sha256_hex};
use crate::events::*;
use crate::ids::{
    ControlChangeId, DecisionClass, DecisionId, FactId, IncidentNumber, LessonId, OrgRole, Phase, Role, Severity,
    ShareId, StatementId, TaskId, UserName,
};
use crate::incident::{Action, ActionStatus, Decision, IncidentState, NoticeStatus, TaskState};
use crate::org::{OrgState, User};
use crate::playbook::Playbook;
use crate::policy::{Endorsement, Policy, Rule, Who};
use crate::time::Timestamp;

use authority::*;
pub use authority::{can_see, may_read_evidence, may_see_share_links};
use checks::*;
pub use checks::{
    BACKFILL_MARGIN_MINUTES, DAYS_AHEAD, DAYS_BACK, DUE_MINUTES_MAX, EVIDENCE_NAME_MAX, I_JSON_INTEGER_MAX,
    JSON_DEPTH_MAX, MAX_ACTIONS, MAX_SHARE_HOURS, MAX_SHARED_ITEMS, SHORT_MAX, TEXT_MAX, TITLE_MAX,
    due_minutes_refusal, evidence_name, free_form_refusal, i_json_number, i_json_refusal, is_backfill, is_kept_name,
    is_statement_class, json_depth, text,
};
pub use declare::decide_declare;
pub use org::{decide_org, genesis};
use playbooks::*;
pub use system::decide_system;

/// Why a command was not carried out. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The thing named does not exist, or the caller may not know that it does.
    #[error("{0}")]
    NotFound(String),
    /// The policy does not allow it; `rule` names the rule, `message` says who could act.
    #[error("{message}")]
    Forbidden { rule: String, message: String },
    /// It contradicts the current state (a closed incident, a withdrawn decision).
    #[error("{0}")]
    Conflict(String),
    /// A field's value is unusable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

fn forbidden(rule: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal::Forbidden { rule: rule.into(), message: message.into() }
}

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid { field: field.to_owned(), message: message.into() }
}

fn conflict(message: impl Into<String>) -> Refusal {
    Refusal::Conflict(message.into())
}

/// What a person intends to do to an incident.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentCommand {
    /// Assigns a role on the incident, or with `unit`, a local role in an org unit in scope.
    AssignRole {
        role: Role,
        user: UserName,
        unit: Option<String>,
    },
    ReleaseRole {
        role: Role,
        user: UserName,
        unit: Option<String>,
    },
    SetPhase {
        phase: Phase,
    },
    SetSeverity {
        severity: Severity,
        reason: Option<String>,
    },
    LogFact {
        text: String,
        source: Option<String>,
        status: FactStatus,
        basis: Option<String>,
        /// When it happened, if before now.
        occurred: Option<Occurred>,
    },
    VerifyFact {
        fact: FactId,
        basis: String,
    },
    DisproveFact {
        fact: FactId,
        basis: String,
    },
    CreateTask {
        title: String,
        owner: Option<UserName>,
        due: Option<Timestamp>,
    },
    AssignTask {
        task: TaskId,
        owner: UserName,
    },
    CompleteTask {
        task: TaskId,
        note: Option<String>,
    },
    BlockTask {
        task: TaskId,
        reason: String,
    },
    CancelTask {
        task: TaskId,
        note: Option<String>,
    },
    Propose {
        class: DecisionClass,
        title: String,
        rationale: Option<String>,
        actions: Vec<ActionSpec>,
        /// A statement whose latest version this decision approves for publishing.
        statement: Option<StatementId>,
        /// Running regulatory clocks this decision's execution stops.
        clocks: Vec<String>,
    },
    Approve {
        decision: DecisionId,
        note: Option<String>,
    },
    Reject {
        decision: DecisionId,
        note: String,
    },
    Withdraw {
        decision: DecisionId,
        note: Option<String>,
    },
    AddNote {
        text: String,
        /// When what it says happened, if before now.
        occurred: Option<Occurred>,
    },
    /// Starts a playbook from the organisation's playbooks.
    RunPlaybook {
        playbook: String,
        inputs: BTreeMap<String, String>,
    },
    /// Runs a failed action again.
    RetryAction {
        decision: DecisionId,
        action: u32,
    },
    /// Registers a blob the store has already written durably under its hash.
    RegisterEvidence(EvidenceRegistered),
    /// A signed-in download or export: recorded before the first byte is served.
    AccessEvidence {
        sha256: String,
        purpose: String,
    },
    EngageParty {
        party: String,
        reason: Option<String>,
    },
    RevokeShare {
        share: ShareId,
        reason: Option<String>,
    },
    DraftStatement {
        audience: Audience,
        title: String,
        text: String,
    },
    ReviseStatement {
        statement: StatementId,
        text: String,
    },
    /// Publishes a statement's latest version; `sha256`, when given, is the text the caller
    /// read, so a revision that lands in between is refused instead of published unseen.
    PublishStatement {
        statement: StatementId,
        channel: String,
        sha256: Option<String>,
    },
    RecordLesson {
        what_happened: String,
        why: String,
        change: String,
    },
    PlanControlChange {
        lesson: LessonId,
        title: String,
        owner: UserName,
        due: Timestamp,
        csf: String,
    },
    CompleteControlChange {
        change: ControlChangeId,
        note: Option<String>,
    },
    CancelControlChange {
        change: ControlChangeId,
        note: String,
    },
    CompleteReview {
        summary: String,
    },
    /// A determination that starts the policy's clocks that start on it.
    RecordDetermination {
        determination: String,
        basis: String,
        aware_at: Option<Timestamp>,
    },
    /// Records that a notification was sent to an authority: the approved statement version
    /// sent, when, to whom, through what, and the authority's reference. This meets the clock.
    SubmitNotification {
        clock: String,
        sent_at: Timestamp,
        authority: String,
        channel: String,
        reference: String,
        statement: StatementId,
        version: u32,
    },
    /// Withdraws a determination, with the basis; its open clocks stop, not met.
    WithdrawDetermination {
        determination: String,
        basis: String,
    },
    /// Records that a clock's notification is not required, with the basis; it stops, not met.
    NotificationNotRequired {
        clock: String,
        basis: String,
    },
    /// Hands command over: the commander role moves to `to` in one entry. The one handing over
    /// is the caller if they hold commander, else the current commander.
    HandOverCommand {
        to: UserName,
        reason: String,
    },
    /// Records when the incident started, was first seen and was detected (those given).
    RecordOccurrence {
        started_at: Option<Timestamp>,
        first_seen_at: Option<Timestamp>,
        detected_at: Option<Timestamp>,
        backfill_reason: Option<String>,
    },
}

/// When something happened, given apart from when it is recorded, and why it is recorded
/// late when it is a backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurred {
    pub at: Timestamp,
    pub backfill_reason: Option<String>,
}

/// What the action worker and the notifier record: results of running connectors.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemCommand {
    StartAction {
        decision: DecisionId,
        action: u32,
    },
    FinishAction {
        decision: DecisionId,
        action: u32,
        outcome: Result<Option<String>, ActionFailure>,
        /// For a failed `notify` action: the channels told in this attempt before it failed.
        told: Vec<String>,
    },
    /// The `task` connector needs no outside system: starting it creates the task and succeeds.
    RunTaskAction {
        decision: DecisionId,
        action: u32,
    },
    Notified {
        decision: DecisionId,
        moment: Moment,
        channel: String,
        outcome: Result<Option<String>, ActionFailure>,
    },
    /// The `share` connector needs no outside system: starting it creates the share link.
    RunShareAction {
        decision: DecisionId,
        action: u32,
    },
    /// Someone without an account fetched an item through a share link.
    ShareUsed {
        share: ShareId,
        sha256: String,
    },
    /// A stored blob no longer matches its hash.
    IntegrityFailed {
        sha256: String,
        detail: String,
    },
    /// The clock's path was told (or could not be told) that its deadline is near.
    ClockWarned {
        clock: String,
        told: Vec<String>,
        failed: Vec<String>,
    },
    ClockMissed {
        clock: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFailure {
    pub reason: String,
    pub retryable: bool,
}

/// Declaring a new incident.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Declare {
    pub title: String,
    pub severity: Option<Severity>,
    pub scope: Vec<String>,
    pub restricted: bool,
    pub exercise: bool,
    /// Roles staffed at declaration; the declarer is commander unless this names one.
    pub roles: BTreeMap<Role, UserName>,
    /// A playbook to start at once, with its inputs.
    pub playbook: Option<String>,
    pub inputs: BTreeMap<String, String>,
}

/// What an admin (or, for their own tokens, a user) intends to change in the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgCommand {
    AddUser {
        user: UserName,
        display_name: Option<String>,
        org_role: OrgRole,
    },
    DisableUser {
        user: UserName,
        reason: Option<String>,
    },
    GrantOrgRole {
        user: UserName,
        role: OrgRole,
    },
    RevokeOrgRole {
        user: UserName,
        role: OrgRole,
    },
    /// Records that a password was set; the hash itself is a secret the caller stores beside
    /// the entry, never in the record.
    SetPassword {
        user: UserName,
    },
    IssueToken {
        user: UserName,
        sha256: String,
        expires_at: Option<Timestamp>,
        label: Option<String>,
        /// The SHA-256 of the API token the request came with, if it came with one: the new
        /// token may not outlive it, and is revoked with it.
        minted_by: Option<String>,
    },
    RevokeToken {
        user: UserName,
        token: String,
    },
    ReplacePolicy {
        source: String,
    },
    /// Adds or replaces a playbook; its id and version come from the file.
    AddPlaybook {
        source: String,
    },
    RegisterParty(Party),
    /// Replaces a registered party's entry.
    UpdateParty(Party),
}

impl Judge<'_> {
    /// The clocks a proposal names: each running and stopped by this class.
    fn clocks_to_stop(&self, class: &DecisionClass, named: &[String]) -> Result<Vec<String>, Refusal> {
        for (index, name) in named.iter().enumerate() {
            let Some(clock) = self.state.clocks.iter().find(|c| &c.clock == name) else {
                return Err(invalid(&format!("clocks[{index}]"), format!("{} has no clock '{name}'", self.state.id)));
            };
            if !clock.is_open() {
                return Err(invalid(&format!("clocks[{index}]"), format!("the clock '{name}' has already stopped")));
            }
            if &clock.stopped_by != class {
                return Err(invalid(
                    &format!("clocks[{index}]"),
                    format!("the clock '{name}' is stopped by {}, not {class}", clock.stopped_by),
                ));
            }
        }
        Ok(named.to_vec())
    }

    /// A clock that is still owed (running, or waiting for the submission it runs from).
    fn open_clock(&self, name: &str) -> Result<&crate::incident::Clock, Refusal> {
        let Some(clock) = self.state.clocks.iter().find(|c| c.clock == name) else {
            let known: Vec<&str> = self.state.clocks.iter().map(|c| c.clock.as_str()).collect();
            return Err(Refusal::NotFound(format!(
                "{} has no clock '{name}'; its clocks are {}",
                self.state.id,
                list_or_none(&known)
            )));
        };
        if let Some(sent) = &clock.submission {
            return Err(conflict(format!(
                "the clock '{name}' was already met by the notification to {} sent at {} (reference {}), \
                 recorded by {}",
                sent.authority, sent.sent_at, sent.reference, sent.recorded_by
            )));
        }
        if let Some(released) = &clock.released {
            return Err(conflict(format!(
                "the clock '{name}' was already stopped by {} at {} ({}): {}",
                released.by,
                released.at,
                match released.reason {
                    crate::incident::ReleaseReason::DeterminationWithdrawn => "determination withdrawn",
                    crate::incident::ReleaseReason::NotRequired => "not required",
                },
                released.basis
            )));
        }
        Ok(clock)
    }

    /// A submission of an approved statement version to an authority, checked field by field.
    #[allow(clippy::too_many_arguments)]
    fn submission(
        &self,
        clock: &str,
        sent_at: Timestamp,
        authority: &str,
        channel: &str,
        reference: &str,
        statement: StatementId,
        version: u32,
        now: Timestamp,
    ) -> Result<IncidentEvent, Refusal> {
        let found = self.open_clock(clock)?;
        if let Some(first) = &found.waiting_for {
            return Err(conflict(format!(
                "the clock '{clock}' runs from the submission of '{first}', which is not recorded yet; record that first"
            )));
        }
        let authority = text("authority", authority, TITLE_MAX)?;
        let channel = text("channel", channel, TITLE_MAX)?;
        let reference = text("reference", reference, TITLE_MAX).map_err(|refusal| {
            if reference.trim().is_empty() {
                invalid("reference", "give the authority's reference for the submission (case or ticket number)")
            } else {
                refusal
            }
        })?;
        let sent_at = date("sent_at", sent_at, now, When::Happened)?;
        let text_of = self.statement(statement)?;
        let Some(sent) = text_of.version(version) else {
            return Err(invalid(
                "version",
                format!("{statement} has no version {version}; it has v1 to v{}", text_of.latest().version),
            ));
        };
        let bound = StatementRef { statement, version, sha256: sent.sha256.clone() };
        let Some(decision) = self.state.approval_of(&bound) else {
            return Err(self.unapproved(text_of, &bound));
        };
        if decision.class != found.stopped_by {
            return Err(invalid(
                "statement",
                format!(
                    "{statement} v{version} was approved through {} ({}); the clock '{clock}' is met by a statement approved through {}",
                    decision.class, decision.id, found.stopped_by
                ),
            ));
        }
        if !decision.clocks.is_empty() && !decision.clocks.iter().any(|c| c == clock) {
            return Err(invalid(
                "clock",
                format!(
                    "{} approved {statement} v{version} for {}, not for '{clock}'",
                    decision.id,
                    decision.clocks.join(", ")
                ),
            ));
        }
        if let Some(approved) = decision.decided_at
            && sent_at < approved
        {
            return Err(invalid(
                "sent_at",
                format!(
                    "{sent_at} is before {} approved {statement} v{version} at {approved}; approve first, then send",
                    decision.id
                ),
            ));
        }
        Ok(IncidentEvent::ClockSubmitted(ClockSubmitted {
            clock: clock.to_owned(),
            sent_at,
            authority,
            channel,
            reference,
            statement: bound,
            decision: decision.id,
        }))
    }

    fn review_open(&self) -> Result<(), Refusal> {
        match &self.state.review.completed {
            Some(done) => Err(conflict(format!(
                "the review of {} was completed by {} at {}; it is final",
                self.state.id, done.by, done.at
            ))),
            None => Ok(()),
        }
    }

    fn control_change(&self, id: ControlChangeId) -> Result<&crate::incident::ControlChange, Refusal> {
        let found = self
            .state
            .review
            .control_change(id)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no control change {id}", self.state.id)))?;
        if found.state != crate::incident::ControlChangeState::Open {
            return Err(conflict(format!("{id} is already closed")));
        }
        Ok(found)
    }

    /// Closing needs every regulatory clock stopped and the post-incident review complete.
    fn ready_to_close(&self) -> Result<(), Refusal> {
        if let Some(clock) = self.state.clocks.iter().find(|c| c.is_open()) {
            let due = match &clock.waiting_for {
                Some(first) => format!("it starts when '{first}' is submitted"),
                None => format!("it is due {}", clock.deadline),
            };
            return Err(conflict(format!(
                "{} cannot close while the clock '{}' ({}) is open; {due}; record the notification sent (approved \
                 through {}), or legal records that it is not required",
                self.state.id, clock.clock, clock.title, clock.stopped_by
            )));
        }
        if self.state.review.completed.is_some() {
            return Ok(());
        }
        let review = &self.state.review;
        let missing = if review.lessons.is_empty() {
            "record its lessons, turn each into control changes, then complete it".to_owned()
        } else {
            format!("{} lesson(s) recorded; complete the review first", review.lessons.len())
        };
        Err(conflict(format!("{} closes only after its post-incident review: {missing}", self.state.id)))
    }

    fn evidence(&self, sha256: &str) -> Result<&crate::incident::EvidenceItem, Refusal> {
        self.state
            .evidence_item(sha256)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no evidence {sha256}", self.state.id)))
    }

    fn statement(&self, id: StatementId) -> Result<&crate::incident::Statement, Refusal> {
        self.state.statement(id).ok_or_else(|| Refusal::NotFound(format!("{} has no statement {id}", self.state.id)))
    }

    /// A share action names an engaged party and registered items, and only an
    /// `evidence_sharing` decision carries one.
    fn shares(&self, class: &DecisionClass, actions: &[ActionSpec], org: &OrgState) -> Result<(), Refusal> {
        for (index, action) in actions.iter().enumerate() {
            let ActionSpec::Share { party, items, .. } = action else { continue };
            let field = format!("actions[{index}]");
            if class != "evidence_sharing" {
                return Err(invalid(&field, "evidence is shared only through an evidence_sharing decision"));
            }
            if !org.parties.contains_key(party) {
                return Err(invalid(&format!("{field}.party"), format!("there is no registered party '{party}'")));
            }
            if !self.state.is_engaged(party) {
                return Err(invalid(
                    &format!("{field}.party"),
                    format!("{party} is not engaged on {}; engage them first", self.state.id),
                ));
            }
            if let Some(unknown) = items.iter().find(|item| self.state.evidence_item(item).is_none()) {
                return Err(invalid(&format!("{field}.items"), format!("{} has no evidence {unknown}", self.state.id)));
            }
        }
        Ok(())
    }

    /// Binds a decision to a statement's latest version, through the class its audience needs.
    fn statement_to_approve(&self, id: StatementId, class: &DecisionClass) -> Result<StatementRef, Refusal> {
        let statement = self.statement(id)?;
        let needed = statement.audience.class();
        if class.as_str() != needed {
            return Err(invalid(
                "class",
                format!("a statement to {} is approved through {needed}, not {class}", statement.audience.as_str()),
            ));
        }
        let latest = statement.latest();
        Ok(StatementRef { statement: id, version: latest.version, sha256: latest.sha256.clone() })
    }

    /// Why this statement version may not go out, and what would let it.
    fn unapproved(&self, statement: &crate::incident::Statement, bound: &StatementRef) -> Refusal {
        let id = statement.id;
        let version = bound.version;
        let class = statement.audience.class();
        let rule = format!("classes.{class}.approve");
        let for_statement = |d: &&Decision| d.statement.as_ref().is_some_and(|s| s.statement == id);
        let pending = self
            .state
            .decisions
            .iter()
            .filter(for_statement)
            .find(|d| d.state == DecisionState::Proposed && d.statement.as_ref() == Some(bound));
        if let Some(pending) = pending {
            return forbidden(
                rule,
                format!("{id} v{version} is not approved yet: {} {}", pending.id, pending.progress().waiting_on),
            );
        }
        let earlier = self.state.decisions.iter().filter(for_statement).rfind(|d| d.state == DecisionState::Approved);
        let message = match earlier.and_then(|d| d.statement.as_ref().map(|s| (d.id, s.version))) {
            Some((decision, approved)) => format!(
                "{id} changed after {decision} approved v{approved}; v{version} needs its own {class} approval: propose one"
            ),
            None => format!("{id} v{version} has no approved {class} decision; propose one bound to it"),
        };
        forbidden(rule, message)
    }
}

/// Decides one command against an incident.
///
/// `now` is the time the entries will carry (for checks against the clock, such as an
/// awareness time that cannot be in the future).
pub fn decide_incident(
    state: &IncidentState,
    org: &OrgState,
    by: &UserName,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let user = acting_user(org, by)?;
    if !can_see(state, by) {
        // Restricted incidents do not exist for those outside them.
        return Err(Refusal::NotFound(format!("there is no incident {}", state.id)));
    }
    may_act(user)?;
    // A closed record is final, except that its evidence stays readable: the chain of custody
    // outlives the incident (legal holds, litigation), so downloads are still recorded.
    // Control changes are tracked after close too: they are the review's follow-up.
    let outlives_close = matches!(
        command,
        IncidentCommand::AccessEvidence { .. }
            | IncidentCommand::CompleteControlChange { .. }
            | IncidentCommand::CancelControlChange { .. }
    );
    if state.phase == Phase::Closed && !outlives_close {
        return Err(conflict(format!("{} is closed; its record is final", state.id)));
    }
    let judge = Judge { state, policy: &org.policy, by };
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::AssignRole { role, user, unit: Some(unit) } => {
            judge.permit("assign_roles", &rules.assign_roles, "assigning roles")?;
            check_staffing(org, &org.policy, role, user)?;
            judge.unit_in_scope(unit)?;
            if state.holds_in(unit, user, role.as_str()) {
                return Err(conflict(format!("{user} already holds {role} in {unit} on {}", state.id)));
            }
            let change = RoleChange { role: role.clone(), user: user.clone(), unit: Some(unit.clone()) };
            vec![IncidentEvent::RoleAssigned(change)]
        }
        C::ReleaseRole { role, user, unit: Some(unit) } => {
            judge.permit("assign_roles", &rules.assign_roles, "releasing roles")?;
            if !state.holds_in(unit, user, role.as_str()) {
                return Err(conflict(format!("{user} does not hold {role} in {unit} on {}", state.id)));
            }
            let change = RoleChange { role: role.clone(), user: user.clone(), unit: Some(unit.clone()) };
            vec![IncidentEvent::RoleReleased(change)]
        }
        C::AssignRole { role, user, unit: None } => {
            judge.permit("assign_roles", &rules.assign_roles, "assigning roles")?;
            check_staffing(org, &org.policy, role, user)?;
            if state.holds(user, role.as_str()) {
                return Err(conflict(format!("{user} already holds {role} on {}", state.id)));
            }
            one_commander(state, role)?;
            vec![IncidentEvent::RoleAssigned(RoleChange { role: role.clone(), user: user.clone(), unit: None })]
        }
        C::ReleaseRole { role, user, unit: None } => {
            judge.permit("assign_roles", &rules.assign_roles, "releasing roles")?;
            if !state.holds(user, role.as_str()) {
                return Err(conflict(format!("{user} does not hold {role} on {}", state.id)));
            }
            if role == "commander" && state.roles.get(role).is_some_and(|holders| holders.len() == 1) {
                return Err(conflict(format!(
                    "{} must always have a commander; assign another commander before releasing {user}",
                    state.id
                )));
            }
            vec![IncidentEvent::RoleReleased(RoleChange { role: role.clone(), user: user.clone(), unit: None })]
        }
        C::SetPhase { phase } => {
            judge.permit("set_phase", &rules.set_phase, "setting the phase")?;
            if *phase == Phase::Closed {
                let rule = org
                    .policy
                    .class(&DecisionClass::parse("close").map_err(|e| invalid("phase", e.to_string()))?)
                    .map(|c| c.rule.approve.describe())
                    .unwrap_or_default();
                return Err(forbidden(
                    "classes.close",
                    format!(
                        "an incident is closed only by an approved close decision (approved by {rule}); propose one"
                    ),
                ));
            }
            if *phase == state.phase {
                return Err(conflict(format!("{} is already in {phase}", state.id)));
            }
            vec![IncidentEvent::PhaseChanged(PhaseChanged { from: state.phase, to: *phase, decision: None })]
        }
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
        C::CreateTask { title, owner, due } => {
            judge.permit("tasks", &rules.tasks, "creating tasks")?;
            let title = text("title", title, TITLE_MAX)?;
            if let Some(owner) = owner {
                judge.participant("owner", owner)?;
            }
            let due = due.map(|due| date("due", due, now, When::Due)).transpose()?;
            let task = TaskId(state.tasks.len() as u64 + 1);
            vec![IncidentEvent::TaskCreated(TaskCreated {
                task,
                title,
                owner: owner.clone(),
                due,
                due_in_minutes: None,
                origin: TaskOrigin::Manual,
            })]
        }
        C::AssignTask { task, owner } => {
            judge.permit("tasks", &rules.tasks, "assigning tasks")?;
            let current = judge.task(*task)?;
            if !matches!(current, TaskState::Open | TaskState::Blocked) {
                return Err(conflict(format!("{task} is {}; it can no longer be assigned", task_word(current))));
            }
            judge.participant("owner", owner)?;
            if state.task(*task).and_then(|t| t.owner.as_ref()) == Some(owner) {
                return Err(conflict(format!("{task} is already assigned to {owner}")));
            }
            vec![IncidentEvent::TaskAssigned(TaskAssigned { task: *task, owner: owner.clone() })]
        }
        C::CompleteTask { task, note } | C::CancelTask { task, note } => {
            let done = matches!(command, C::CompleteTask { .. });
            judge.permit("tasks", &rules.tasks, if done { "completing tasks" } else { "cancelling tasks" })?;
            let current = judge.task(*task)?;
            if !matches!(current, TaskState::Open | TaskState::Blocked) {
                return Err(conflict(format!("{task} is already {}", task_word(current))));
            }
            let closed = TaskClosed { task: *task, note: optional_text("note", note, SHORT_MAX)? };
            vec![if done { IncidentEvent::TaskDone(closed) } else { IncidentEvent::TaskCancelled(closed) }]
        }
        C::BlockTask { task, reason } => {
            judge.permit("tasks", &rules.tasks, "blocking tasks")?;
            let current = judge.task(*task)?;
            if current != TaskState::Open {
                return Err(conflict(format!("{task} is {}; only an open task can be blocked", task_word(current))));
            }
            vec![IncidentEvent::TaskBlocked(TaskBlocked { task: *task, reason: text("reason", reason, SHORT_MAX)? })]
        }
        C::Propose { class, title, rationale, actions, statement, clocks } => {
            let Some(class_policy) = org.policy.class(class) else {
                let known: Vec<&str> = org.policy.classes.iter().map(|c| c.class.as_str()).collect();
                return Err(invalid(
                    "class",
                    format!("unknown decision class '{class}'; classes are {}", known.join(", ")),
                ));
            };
            let may_propose = judge.allowed(&class_policy.propose)
                || (class_policy.rule.scope == crate::policy::Scope::Local
                    && match &class_policy.propose {
                        Who::Roles(roles) => {
                            roles.iter().any(|r| judge.holds_for(crate::policy::Scope::Local).contains(r))
                        }
                        Who::Participants => !judge.holds_for(crate::policy::Scope::Local).is_empty(),
                    });
            if !may_propose {
                let who = match &class_policy.propose {
                    Who::Participants => format!("any participant other than {}", join_or(&org.policy.roles.read_only)),
                    Who::Roles(roles) => join_or(roles),
                };
                return Err(forbidden(
                    format!("classes.{class}.propose"),
                    format!(
                        "{}{class} may be proposed by {who}; {}",
                        judge.local_words(&class_policy.rule, class),
                        judge.held_words()
                    ),
                ));
            }
            let title = text("title", title, TITLE_MAX)?;
            let rationale = optional_text("rationale", rationale, TEXT_MAX)?;
            check_actions(&org.policy, actions)?;
            judge.shares(class, actions, org)?;
            let statement = statement.map(|id| judge.statement_to_approve(id, class)).transpose()?;
            if class == "close" {
                judge.ready_to_close()?;
            }
            let rule = class_policy.rule.clone();
            let holds = judge.holds_for(rule.scope);
            let role = rule.endorsement_role(&holds, &[]);
            let also =
                held_rule_roles(&rule, &holds).into_iter().filter(|r| Some(r) != role.as_ref()).collect::<Vec<_>>();
            let endorsement: Vec<Endorsement<'_>> =
                role.iter().map(|role| Endorsement { user: by, role, also: &also }).collect();
            let decided = rule.is_met(by, &endorsement);
            if decided && statement.is_none() && is_statement_class(class) {
                return Err(invalid(
                    "statement",
                    format!(
                        "{class} approves a statement's text, and proposing it approves it at once; bind the statement it approves"
                    ),
                ));
            }
            let decision = DecisionId(state.decisions.len() as u64 + 1);
            let mut events = vec![IncidentEvent::DecisionProposed(DecisionProposed {
                decision,
                class: class.clone(),
                title,
                rationale,
                actions: actions.clone(),
                rule,
                role: role.clone(),
                also: also.clone(),
                state: if decided { DecisionState::Approved } else { DecisionState::Proposed },
                playbook: None,
                path: class_policy.path.clone(),
                statement,
                clocks: judge.clocks_to_stop(class, clocks)?,
            })];
            if decided {
                events.extend(judge.closing(class, decision));
            }
            events
        }
        C::Approve { decision: id, note } => {
            let decision = judge.open_decision(*id, "approved")?;
            let rule = &decision.rule;
            let progress = decision.progress();
            let class = &decision.class;
            if decision.endorsed_by(by) {
                let how = if &decision.proposer == by { "you proposed it" } else { "you have approved it" };
                return Err(forbidden(
                    "people",
                    format!(
                        "you already stand behind {id} ({how}) and a person counts once; {} ({})",
                        progress.waiting_on,
                        judge.holders(&progress.awaiting)
                    ),
                ));
            }
            // The approver stands for one of the rule's roles they hold that still counts; which
            // one each person stands for is settled by `Rule::progress`, not by who came first.
            let mine = held_rule_roles(rule, &judge.holds_for(rule.scope));
            let Some(first) = mine.first() else {
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "{}{class} needs approval by {}; {}; {} ({})",
                        judge.local_words(rule, class),
                        rule.approve.describe(),
                        progress.waiting_on,
                        judge.held_words(),
                        judge.holders(&progress.awaiting)
                    ),
                ));
            };
            let Some(role) = mine.iter().find(|r| progress.awaiting.contains(r)).cloned() else {
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "{id} already has {first}'s approval; {} ({})",
                        progress.waiting_on,
                        judge.holders(&progress.awaiting)
                    ),
                ));
            };
            if decision.statement.is_none() && is_statement_class(class) {
                return Err(conflict(format!(
                    "{id} ({class}) is bound to no statement, so there is no text to approve; draft the statement \
                     and propose {class} bound to it (then withdraw {id})"
                )));
            }
            let also: Vec<Role> = mine.iter().filter(|r| **r != role).cloned().collect();
            let mut endorsements = decision.endorsements();
            endorsements.push(Endorsement { user: by, role: &role, also: &also });
            let approved = rule.is_met(&decision.proposer, &endorsements);
            if approved && class == "close" {
                judge.ready_to_close()?;
            }
            let mut events = vec![IncidentEvent::DecisionApproved(DecisionApproved {
                decision: *id,
                role: role.clone(),
                also: also.clone(),
                note: optional_text("note", note, SHORT_MAX)?,
                state: if approved { DecisionState::Approved } else { DecisionState::Proposed },
            })];
            if approved {
                events.extend(judge.closing(class, *id));
            }
            events
        }
        C::Reject { decision: id, note } => {
            let decision = judge.open_decision(*id, "rejected")?;
            let note = text("note", note, SHORT_MAX).map_err(|refusal| {
                if note.trim().is_empty() {
                    invalid("note", "a rejection needs a reason a person can act on")
                } else {
                    refusal
                }
            })?;
            if &decision.proposer == by {
                return Err(forbidden("withdraw", format!("you proposed {id}; withdraw it instead of rejecting it")));
            }
            let rule = &decision.rule;
            let Some(role) = rule.endorsement_role(&judge.holds_for(rule.scope), &[]) else {
                let class = &decision.class;
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "only a holder of {} may reject {class}; {}",
                        join_or(rule.approve.roles()),
                        judge.held_words()
                    ),
                ));
            };
            if decision.approvals.iter().any(|a| &a.user == by) {
                return Err(conflict(format!("you have approved {id}; an approval cannot be turned into a rejection")));
            }
            vec![IncidentEvent::DecisionRejected(DecisionRejected { decision: *id, role, note })]
        }
        C::Withdraw { decision: id, note } => {
            let decision = judge.open_decision(*id, "withdrawn")?;
            if &decision.proposer != by && !state.holds(by, "commander") {
                return Err(forbidden(
                    "withdraw",
                    format!("only the proposer ({}) or the commander may withdraw {id}", decision.proposer),
                ));
            }
            vec![IncidentEvent::DecisionWithdrawn(DecisionWithdrawn {
                decision: *id,
                note: optional_text("note", note, SHORT_MAX)?,
            })]
        }
        C::RunPlaybook { playbook, inputs } => {
            judge.permit("run_playbooks", &rules.run_playbooks, "starting a playbook")?;
            let started: Vec<String> = state.playbooks.iter().map(|p| p.id.clone()).collect();
            let counts = (state.tasks.len() as u64, state.decisions.len() as u64, state.statements.len() as u64);
            playbook_events(org, by, playbook, inputs, &state.roles, &started, counts)?
        }
        C::RetryAction { decision, action } => {
            judge.permit("retry_actions", &rules.retry_actions, "retrying actions")?;
            let found = judge.decision(*decision)?;
            let Some(current) = found.actions.get(*action as usize) else {
                return Err(Refusal::NotFound(format!("{decision} has no action {}", action + 1)));
            };
            if current.status != ActionStatus::Failed {
                return Err(conflict(format!(
                    "action {} of {decision} has not failed; only a failed action is retried",
                    action + 1
                )));
            }
            vec![IncidentEvent::ActionRetryRequested(ActionRef { decision: *decision, action: *action })]
        }
        C::HandOverCommand { to, reason } => hand_over(&judge, org, to, reason)?,
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
        C::RecordDetermination { determination, basis, aware_at } => {
            judge.permit("determinations", &rules.determinations, "recording determinations")?;
            let policy = &org.policy;
            if !policy.determinations.iter().any(|(name, _)| name == determination) {
                let known: Vec<&str> = policy.determinations.iter().map(|(name, _)| name.as_str()).collect();
                return Err(invalid(
                    "determination",
                    format!("unknown determination '{determination}'; the policy knows {}", list_or_none(&known)),
                ));
            }
            let aware_at = aware_at.map(|aware| date("aware_at", aware, now, When::Happened)).transpose()?;
            if let Some(earlier) = state.determinations.iter().find(|d| &d.determination == determination) {
                return Err(conflict(format!(
                    "{determination} was already determined by {} at {}",
                    earlier.by, earlier.at
                )));
            }
            let clocks = policy
                .clocks
                .iter()
                .filter(|c| &c.starts_on == determination)
                .map(|c| ClockStart {
                    clock: c.clock.clone(),
                    title: c.title.clone(),
                    deadline: c.deadline,
                    stopped_by: c.stopped_by.clone(),
                    warn_hours: c.warn_hours,
                    path: policy.class(&c.stopped_by).map(|class| class.path.clone()).unwrap_or_default(),
                    from_submission_of: c.from_submission_of.clone(),
                })
                .collect();
            vec![IncidentEvent::DeterminationRecorded(DeterminationRecorded {
                determination: determination.clone(),
                basis: text("basis", basis, SHORT_MAX)?,
                aware_at,
                clocks,
            })]
        }
        C::SubmitNotification { clock, sent_at, authority, channel, reference, statement, version } => {
            judge.permit("submissions", &rules.submissions, "recording a notification sent to an authority")?;
            vec![judge.submission(clock, *sent_at, authority, channel, reference, *statement, *version, now)?]
        }
        C::WithdrawDetermination { determination, basis } => {
            judge.permit("release_clocks", &rules.release_clocks, "withdrawing determinations")?;
            let Some(found) = state.determinations.iter().find(|d| &d.determination == determination) else {
                let known: Vec<&str> = state.determinations.iter().map(|d| d.determination.as_str()).collect();
                return Err(Refusal::NotFound(format!(
                    "{} has no determination '{determination}'; it has {}",
                    state.id,
                    list_or_none(&known)
                )));
            };
            if let Some(withdrawn) = &found.withdrawn {
                return Err(conflict(format!(
                    "{determination} was already withdrawn by {} at {}: {}",
                    withdrawn.by, withdrawn.at, withdrawn.text
                )));
            }
            vec![IncidentEvent::DeterminationWithdrawn(DeterminationWithdrawn {
                determination: determination.clone(),
                basis: required_basis(basis)?,
            })]
        }
        C::NotificationNotRequired { clock, basis } => {
            judge.permit("release_clocks", &rules.release_clocks, "recording that a notification is not required")?;
            judge.open_clock(clock)?;
            vec![IncidentEvent::ClockNotRequired(ClockNotRequired {
                clock: clock.clone(),
                basis: required_basis(basis)?,
            })]
        }
        C::RecordLesson { what_happened, why, change } => {
            judge.permit("review", &rules.review, "recording lessons")?;
            judge.review_open()?;
            vec![IncidentEvent::LessonRecorded(LessonRecorded {
                lesson: LessonId(state.review.lessons.len() as u64 + 1),
                what_happened: text("what_happened", what_happened, TEXT_MAX)?,
                why: text("why", why, TEXT_MAX)?,
                change: text("change", change, TEXT_MAX)?,
            })]
        }
        C::PlanControlChange { lesson, title, owner, due, csf } => {
            judge.permit("review", &rules.review, "planning control changes")?;
            if state.review.lesson(*lesson).is_none() {
                return Err(Refusal::NotFound(format!("{} has no lesson {lesson}", state.id)));
            }
            if !org.user(owner).is_some_and(|u| u.active) {
                return Err(invalid("owner", format!("'{owner}' is not an active user of the organisation")));
            }
            if !crate::csf::is_subcategory(csf) {
                return Err(invalid(
                    "csf",
                    format!("'{csf}' is not a NIST CSF 2.0 subcategory (like PR.AA-05 or RS.MA-01)"),
                ));
            }
            vec![IncidentEvent::ControlChangePlanned(ControlChangePlanned {
                change: ControlChangeId(state.review.control_changes.len() as u64 + 1),
                lesson: *lesson,
                title: text("title", title, TITLE_MAX)?,
                owner: owner.clone(),
                due: date("due", *due, now, When::Due)?,
                csf: csf.clone(),
            })]
        }
        C::CompleteControlChange { change, note } => {
            let found = judge.control_change(*change)?;
            if &found.owner != by {
                judge.permit("review", &rules.review, "closing someone else's control change")?;
            }
            let closed = ControlChangeClosed { change: *change, note: optional_text("note", note, SHORT_MAX)? };
            vec![IncidentEvent::ControlChangeDone(closed)]
        }
        C::CancelControlChange { change, note } => {
            judge.permit("review", &rules.review, "cancelling control changes")?;
            judge.control_change(*change)?;
            let closed = ControlChangeClosed { change: *change, note: Some(text("note", note, SHORT_MAX)?) };
            vec![IncidentEvent::ControlChangeCancelled(closed)]
        }
        C::CompleteReview { summary } => {
            judge.permit("review", &rules.review, "completing the review")?;
            judge.review_open()?;
            if state.review.lessons.is_empty() {
                return Err(conflict("record at least one lesson before completing the review"));
            }
            let unconverted = state.review.unconverted();
            if !unconverted.is_empty() {
                let ids: Vec<String> = unconverted.iter().map(ToString::to_string).collect();
                return Err(conflict(format!(
                    "every lesson becomes at least one control change; {} has none yet",
                    ids.join(", ")
                )));
            }
            vec![IncidentEvent::ReviewCompleted(ReviewCompleted { summary: text("summary", summary, TEXT_MAX)? })]
        }
        C::RegisterEvidence(registered) => {
            judge.permit("evidence", &rules.evidence, "adding evidence")?;
            if !is_sha256(&registered.sha256) {
                return Err(invalid("sha256", "must be 64 lower-case hex digits"));
            }
            if let Some(item) = state.evidence_item(&registered.sha256) {
                return Err(conflict(format!(
                    "this file is already evidence on {} (registered by {} at {})",
                    state.id, item.registered_by, item.received_at
                )));
            }
            vec![IncidentEvent::EvidenceRegistered(EvidenceRegistered {
                sha256: registered.sha256.clone(),
                size: registered.size,
                name: evidence_name(&registered.name),
                declared_type: optional_text("declared_type", &registered.declared_type, 200)?,
                sniffed_type: registered.sniffed_type.clone(),
                source: optional_text("source", &registered.source, TITLE_MAX)?,
                collected_by: optional_text("collected_by", &registered.collected_by, TITLE_MAX)?,
                collected_at: registered
                    .collected_at
                    .map(|collected| date("collected_at", collected, now, When::Happened))
                    .transpose()?,
            })]
        }
        C::AccessEvidence { sha256, purpose } => {
            judge.permit("evidence", &rules.evidence, "reading evidence")?;
            judge.evidence(sha256)?;
            let purpose = text("purpose", purpose, SHORT_MAX).map_err(|refusal| {
                if purpose.trim().is_empty() {
                    invalid("purpose", "say why you are downloading it; the purpose goes in the chain of custody")
                } else {
                    refusal
                }
            })?;
            vec![IncidentEvent::EvidenceAccessed(EvidenceAccessed { sha256: sha256.clone(), purpose, share: None })]
        }
        C::EngageParty { party, reason } => {
            judge.permit("third_parties", &rules.third_parties, "engaging third parties")?;
            if !org.parties.contains_key(party) {
                let known: Vec<&str> = org.parties.keys().map(String::as_str).collect();
                return Err(invalid(
                    "party",
                    format!("there is no registered party '{party}'; registered parties are {}", list_or_none(&known)),
                ));
            }
            if state.is_engaged(party) {
                return Err(conflict(format!("{party} is already engaged on {}", state.id)));
            }
            vec![IncidentEvent::PartyEngaged(PartyEngaged {
                party: party.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::RevokeShare { share, reason } => {
            judge.permit("third_parties", &rules.third_parties, "revoking share links")?;
            let found =
                state.share(*share).ok_or_else(|| Refusal::NotFound(format!("{} has no share {share}", state.id)))?;
            if let Some(revoked) = &found.revoked {
                return Err(conflict(format!("{share} was already revoked by {} at {}", revoked.by, revoked.at)));
            }
            vec![IncidentEvent::ShareRevoked(ShareRevoked {
                share: *share,
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::DraftStatement { audience, title, text: body } => {
            judge.permit("statements", &rules.statements, "drafting statements")?;
            let title = text("title", title, TITLE_MAX)?;
            let body = text("text", body, TEXT_MAX)?;
            vec![IncidentEvent::StatementDrafted(StatementDrafted {
                statement: StatementId(state.statements.len() as u64 + 1),
                audience: *audience,
                title,
                sha256: sha256_hex(body.as_bytes()),
                text: body,
            })]
        }
        C::ReviseStatement { statement, text: body } => {
            judge.permit("statements", &rules.statements, "revising statements")?;
            let found = judge.statement(*statement)?;
            let body = text("text", body, TEXT_MAX)?;
            let latest = found.latest();
            if latest.text == body {
                return Err(conflict(format!("{statement} v{} already says exactly this", latest.version)));
            }
            vec![IncidentEvent::StatementRevised(StatementRevised {
                statement: *statement,
                version: latest.version + 1,
                sha256: sha256_hex(body.as_bytes()),
                text: body,
            })]
        }
        C::PublishStatement { statement, channel, sha256 } => {
            judge.permit("publish_statements", &rules.publish_statements, "publishing statements")?;
            let found = judge.statement(*statement)?;
            let channel = text("channel", channel, TITLE_MAX)?;
            let latest = found.latest();
            if sha256.as_ref().is_some_and(|read| *read != latest.sha256) {
                return Err(conflict(format!(
                    "{statement} changed since you read it: the latest is v{}; read it again before publishing",
                    latest.version
                )));
            }
            let bound = StatementRef { statement: *statement, version: latest.version, sha256: latest.sha256.clone() };
            let Some(decision) = state.approval_of(&bound) else {
                return Err(judge.unapproved(found, &bound));
            };
            if found.publications.iter().any(|p| p.version == latest.version && p.channel == channel) {
                return Err(conflict(format!("{statement} v{} is already published on {channel}", latest.version)));
            }
            vec![IncidentEvent::StatementPublished(StatementPublished {
                statement: *statement,
                version: latest.version,
                sha256: latest.sha256.clone(),
                channel,
                decision: decision.id,
            })]
        }
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

/// The rule that one person holds `commander` at a time (SPEC §2): assigning it while someone
/// holds it is refused, naming the rule and the hand-over that does it instead.
fn one_commander(state: &IncidentState, role: &Role) -> Result<(), Refusal> {
    match state.commander() {
        Some(current) if role == "commander" => Err(conflict(format!(
            "one commander at a time: {current} commands {}; hand command over instead \
             (POST /api/v1/incidents/{}/handover, or sitrep handover)",
            state.id, state.id
        ))),
        _ => Ok(()),
    }
}

/// Hands command over in one entry. The current commander hands over their own command;
/// anyone `[actions] assign_roles` lets staff roles may hand over someone else's (a commander
/// who is unreachable). The new commander must be someone who may hold the role.
fn hand_over(judge: &Judge<'_>, org: &OrgState, to: &UserName, reason: &str) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let Some(current) = state.commander() else {
        return Err(conflict(format!("{} has no commander to hand over from; assign one", state.id)));
    };
    let from = if state.holds(judge.by, "commander") {
        judge.by.clone()
    } else {
        judge.permit("assign_roles", &judge.policy.actions.assign_roles, "handing over someone else's command")?;
        current.clone()
    };
    let commander = Role::parse("commander").map_err(|e| invalid("to", e.to_string()))?;
    check_staffing(org, judge.policy, &commander, to).map_err(|refusal| match refusal {
        Refusal::Invalid { message, .. } => invalid("to", message),
        other => other,
    })?;
    if state.holds(to, "commander") {
        return Err(conflict(format!("{to} already commands {}", state.id)));
    }
    let reason = text("reason", reason, SHORT_MAX).map_err(|refusal| {
        if reason.trim().is_empty() {
            invalid("reason", "say why command changes hands; the reason goes in the record")
        } else {
            refusal
        }
    })?;
    Ok(vec![IncidentEvent::CommanderHandedOver(CommanderHandedOver { from, to: to.clone(), reason })])
}

fn task_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "open",
        TaskState::Done => "done",
        TaskState::Blocked => "blocked",
        TaskState::Cancelled => "cancelled",
    }
}

impl fmt::Display for IncidentCommand {
    /// The command's name as people say it, for logs and metrics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use IncidentCommand as C;
        f.write_str(match self {
            C::AssignRole { .. } => "assign role",
            C::ReleaseRole { .. } => "release role",
            C::SetPhase { .. } => "set phase",
            C::SetSeverity { .. } => "set severity",
            C::LogFact { .. } => "log fact",
            C::VerifyFact { .. } => "verify fact",
            C::DisproveFact { .. } => "disprove fact",
            C::CreateTask { .. } => "create task",
            C::AssignTask { .. } => "assign task",
            C::CompleteTask { .. } => "complete task",
            C::BlockTask { .. } => "block task",
            C::CancelTask { .. } => "cancel task",
            C::Propose { .. } => "propose",
            C::Approve { .. } => "approve",
            C::Reject { .. } => "reject",
            C::Withdraw { .. } => "withdraw",
            C::AddNote { .. } => "add note",
            C::RunPlaybook { .. } => "run playbook",
            C::RetryAction { .. } => "retry action",
            C::RegisterEvidence(_) => "register evidence",
            C::AccessEvidence { .. } => "access evidence",
            C::EngageParty { .. } => "engage party",
            C::RevokeShare { .. } => "revoke share",
            C::DraftStatement { .. } => "draft statement",
            C::ReviseStatement { .. } => "revise statement",
            C::PublishStatement { .. } => "publish statement",
            C::RecordLesson { .. } => "record lesson",
            C::PlanControlChange { .. } => "plan control change",
            C::CompleteControlChange { .. } => "complete control change",
            C::CancelControlChange { .. } => "cancel control change",
            C::CompleteReview { .. } => "complete review",
            C::RecordDetermination { .. } => "record determination",
            C::SubmitNotification { .. } => "submit notification",
            C::WithdrawDetermination { .. } => "withdraw determination",
            C::NotificationNotRequired { .. } => "notification not required",
            C::HandOverCommand { .. } => "hand over command",
            C::RecordOccurrence { .. } => "record occurrence",
        })
    }
}
