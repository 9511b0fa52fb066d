//! Commands in, entries out: the one place where authority is enforced.
//!
//! Each `decide_*` function takes a person's intent and the current state and either yields the
//! events to append or a [`Refusal`] that names the rule and what would satisfy it. The API, the
//! CLI, the web UI and the tests all reach the record through these functions, and nothing
//! else writes entries, so there is exactly one authority check to read and to test.
//!
//! Each family of commands is decided in a file of its own (`roles.rs`, `facts.rs`, `tasks.rs`,
//! `decisions.rs`, `clocks.rs`, `review.rs`, `evidence.rs`, `parties.rs`, `statements.rs`,
//! `playbooks.rs`), matching the fold's files in `incident/`; who may act is `authority.rs`.

mod alerts;
mod authority;
mod checks;
mod clocks;
mod decisions;
mod declare;
mod evidence;
mod facts;
mod org;
mod parties;
mod playbooks;
mod review;
mod roles;
mod statements;
mod system;
mod tasks;

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

use crate::authn::{Authentication, ExternalIdentity};
use crate::entry::{is_sha256, sha256_hex};
use crate::events::*;
use crate::ids::{
    ControlChangeId, DecisionClass, DecisionId, FactId, IncidentNumber, LessonId, OrgRole, Phase, Role, Severity,
    ShareId, StatementId, TaskId, UserName,
};
use crate::incident::{Action, ActionStatus, Decision, DeliveryStatus, IncidentState, NoticeStatus, TaskState};
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
pub use org::{decide_org, decide_org_system, genesis};
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

/// The refusal for a command handed to a family of commands that does not decide it. Each
/// `decide_*` names every command's family, so this is a defect; it is refused rather than
/// panicking on the writer's thread.
fn misrouted() -> Refusal {
    invalid("command", "this command reached a part of sitrep that does not decide it; this is a defect")
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
        /// Why, kept in the entry (the web asks for it before releasing).
        reason: Option<String>,
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
    /// The person opened the review link an alert sent them (its MAC already checked).
    OpenReviewLink {
        decision: DecisionId,
        link: String,
    },
    /// The commander promises the next update, and optionally a cadence after it.
    ScheduleUpdate {
        next_at: Timestamp,
        every_minutes: Option<u32>,
        subscribers: Vec<UserName>,
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
        /// The audiences whose configured outlets include `channel` (the server's
        /// configuration, which this crate cannot read): publishing to one of them owes a
        /// delivery; otherwise the publication is only recorded.
        outlet_for: Vec<Audience>,
    },
    /// Asks the publisher to try again a delivery that failed for good.
    RetryDelivery {
        statement: StatementId,
        version: u32,
        channel: String,
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
    /// A person was told (or could not be told) about `about` on `route`.
    Alerted {
        person: UserName,
        about: Vec<String>,
        route: String,
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
    /// The publisher's attempt at delivering a publication to its outlet, with the SHA-256 of
    /// the text bytes it put on the wire.
    StatementDelivered {
        statement: StatementId,
        version: u32,
        channel: String,
        sha256: String,
        outcome: Result<Option<String>, ActionFailure>,
    },
    /// The chat connector opened the incident's room in `system`.
    OpenChatRoom {
        system: String,
        room: String,
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
    /// Links a chat identity to `user`: the server checked the one-time code `user` asked for
    /// and the chat system vouches that `id` sent it.
    LinkChat {
        user: UserName,
        system: String,
        id: String,
    },
    /// Unlinks `user`'s identity in a chat system, by them or an admin.
    UnlinkChat {
        user: UserName,
        system: String,
    },
    AddUser {
        user: UserName,
        display_name: Option<String>,
        org_role: OrgRole,
    },
    DisableUser {
        user: UserName,
        reason: Option<String>,
    },
    /// Lets a disabled user sign in again.
    EnableUser {
        user: UserName,
        reason: Option<String>,
    },
    /// Sets (or, with `None`, removes) a user's display name.
    UpdateUser {
        user: UserName,
        display_name: Option<String>,
    },
    /// Adds a user an identity provider vouches for; only connectors do this
    /// ([`decide_org_system`]), so the entry is by `system:<connector>`.
    ProvisionUser {
        user: UserName,
        display_name: Option<String>,
        org_role: OrgRole,
        identity: ExternalIdentity,
    },
    /// Sets where `user` is told it is their turn (by themselves or an admin).
    SetContact {
        user: UserName,
        email: Option<String>,
        webhook: Option<String>,
        mute: Vec<crate::incident::AlertKind>,
    },
    /// Records that the acting user began a browser session (`session`: its 12-hex id).
    RecordSignIn {
        session: String,
        authentication: Authentication,
    },
    /// Records that a session of `user` was ended, by them or by an admin.
    RecordSignOut {
        user: UserName,
        session: String,
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

/// Decides one command against an incident: the checks every command passes, then its family.
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
    decide_incident_as(state, org, by, None, command, now)
}

/// As [`decide_incident`], for a person whose sign-in is known (a browser session): classes
/// with a step-up are judged against it, and proposals and approvals record it.
pub fn decide_incident_as(
    state: &IncidentState,
    org: &OrgState,
    by: &UserName,
    authentication: Option<&Authentication>,
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
    let judge = Judge { state, policy: &org.policy, by, authentication, now };
    use IncidentCommand as C;
    match command {
        C::AssignRole { .. } | C::ReleaseRole { .. } | C::SetPhase { .. } | C::HandOverCommand { .. } => {
            roles::decide(&judge, org, command)
        }
        C::SetSeverity { .. }
        | C::LogFact { .. }
        | C::VerifyFact { .. }
        | C::DisproveFact { .. }
        | C::AddNote { .. }
        | C::RecordOccurrence { .. } => facts::decide(&judge, org, command, now),
        C::CreateTask { .. }
        | C::AssignTask { .. }
        | C::CompleteTask { .. }
        | C::CancelTask { .. }
        | C::BlockTask { .. } => tasks::decide(&judge, org, command, now),
        C::Propose { .. } => decisions::propose(&judge, org, command),
        C::Approve { .. } | C::Reject { .. } | C::Withdraw { .. } | C::RetryAction { .. } => {
            decisions::decide(&judge, org, command)
        }
        C::RunPlaybook { .. } => playbooks::decide(&judge, org, command),
        C::RecordDetermination { .. }
        | C::SubmitNotification { .. }
        | C::WithdrawDetermination { .. }
        | C::NotificationNotRequired { .. } => clocks::decide(&judge, org, command, now),
        C::RecordLesson { .. }
        | C::PlanControlChange { .. }
        | C::CompleteControlChange { .. }
        | C::CancelControlChange { .. }
        | C::CompleteReview { .. } => review::decide(&judge, org, command, now),
        C::RegisterEvidence(_) | C::AccessEvidence { .. } => evidence::decide(&judge, org, command, now),
        C::EngageParty { .. } | C::RevokeShare { .. } => parties::decide(&judge, org, command),
        C::DraftStatement { .. } | C::ReviseStatement { .. } | C::PublishStatement { .. } | C::RetryDelivery { .. } => {
            statements::decide(&judge, org, command)
        }
        C::OpenReviewLink { .. } | C::ScheduleUpdate { .. } => alerts::decide(&judge, org, command, now),
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
            C::RetryDelivery { .. } => "retry delivery",
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
            C::OpenReviewLink { .. } => "open review link",
            C::ScheduleUpdate { .. } => "schedule update",
        })
    }
}
