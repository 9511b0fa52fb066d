//! Commands in, entries out: the one place where authority is enforced.
//!
//! Each `decide_*` function takes a person's intent and the current state and either yields the
//! events to append or a [`Refusal`] that names the rule and what would satisfy it. The API, the
//! CLI, the web UI and the tests all reach the record through these functions, and nothing
//! else writes entries, so there is exactly one authority check to read and to test.

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

pub const TITLE_MAX: usize = 200;
pub const TEXT_MAX: usize = 10_000;
pub const SHORT_MAX: usize = 2_000;
pub const MAX_ACTIONS: usize = 20;
pub const MAX_SHARED_ITEMS: usize = 100;
/// Thirty days: a share link is for an investigation, not a standing feed.
pub const MAX_SHARE_HOURS: u32 = 720;
/// How far back a date a person gives may lie, in days: a year.
pub const DAYS_BACK: i64 = 365;
/// How far ahead a due date may lie, in days: ten years.
pub const DAYS_AHEAD: i64 = 3653;
/// The longest a task may be due after it is created, in minutes: ten years.
pub const DUE_MINUTES_MAX: u32 = 3653 * 24 * 60;

/// What a date a person gives says, which decides the window it must fall in.
#[derive(Debug, Clone, Copy)]
enum When {
    /// When something is due: from a year back (a deadline already passed) to ten years ahead.
    Due,
    /// When something happened or became known: from a year back to now. Such a time starts
    /// regulatory clocks, so one long past would have them missed the moment it is recorded.
    Happened,
}

/// A date a person gave, refused outside its window around `now` (never before
/// [`Timestamp::EARLIEST`]), naming the field and the window.
fn date(field: &str, at: Timestamp, now: Timestamp, when: When) -> Result<Timestamp, Refusal> {
    const DAY: i64 = 24 * 3600;
    let back = now.plus_seconds(-DAYS_BACK * DAY);
    let (earliest, from) = if back > Timestamp::EARLIEST {
        (back, format!("{back} ({DAYS_BACK} days ago)"))
    } else {
        (Timestamp::EARLIEST, format!("{} (the earliest date sitrep takes)", Timestamp::EARLIEST))
    };
    let (latest, to, what, beyond) = match when {
        When::Due => {
            let ahead = now.plus_seconds(DAYS_AHEAD * DAY);
            (ahead, format!("{ahead} (ten years ahead)"), "a due date", "is more than ten years ahead")
        }
        When::Happened => (now, format!("now, {now}"), "a time something happened or became known", "is in the future"),
    };
    let why = if at > latest {
        beyond.to_owned()
    } else if at < Timestamp::EARLIEST {
        format!("is before {}", Timestamp::EARLIEST)
    } else if at < earliest {
        format!("is more than {DAYS_BACK} days ago")
    } else {
        return Ok(at);
    };
    Err(invalid(field, format!("{at} {why}; {what} is between {from} and {to}")))
}

/// Why a task's due offset is refused, if it is.
pub fn due_minutes_refusal(minutes: u32) -> Option<String> {
    (minutes > DUE_MINUTES_MAX).then(|| {
        format!("is {minutes} minutes; a task is due at most {DUE_MINUTES_MAX} minutes (ten years) after it is created")
    })
}

/// How deeply free-form JSON (a webhook's `payload`, a command's `input`) may nest arrays and
/// objects, the value itself counting as one level. serde_json stops reading at 128 levels; an
/// answer carries the value a few levels down, so a bound far below that keeps every answer
/// readable by any client. The API holds whole request bodies to the same bound.
pub const JSON_DEPTH_MAX: usize = 32;

/// How many levels of arrays and objects a value nests: 0 for a scalar, 1 for `[]` or `{}`.
/// Walked with a list rather than by recursion, so no value can exhaust the stack.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            serde_json::Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            serde_json::Value::Object(map) => pending.extend(map.values().map(|v| (v, depth + 1))),
            _ => continue,
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// The largest integer every JSON reader keeps exactly: I-JSON (RFC 7493), which RFC 8785's
/// canonical form assumes, reads numbers as IEEE 754 doubles.
pub const I_JSON_INTEGER_MAX: u64 = (1 << 53) - 1;

/// Whether a number lies where a double keeps integers exactly, within ±(2^53 − 1). Beyond it
/// 9007199254740993 would be stored, hashed and read back as 9007199254740992; and a number
/// read as a float cannot tell `18446744073709551616` (changed) from `1.8e19` (not), so every
/// number beyond it is refused, integer or not.
pub fn i_json_number(number: &serde_json::Number) -> bool {
    if let Some(n) = number.as_u64() {
        n <= I_JSON_INTEGER_MAX
    } else if let Some(n) = number.as_i64() {
        n.unsigned_abs() <= I_JSON_INTEGER_MAX
    } else {
        number.as_f64().is_some_and(|n| n.abs() <= I_JSON_INTEGER_MAX as f64)
    }
}

/// The message for a number outside I-JSON's safe range.
pub fn i_json_refusal(number: impl std::fmt::Display) -> String {
    format!(
        "holds {number}, which JSON readers do not keep exactly: numbers must lie within ±{I_JSON_INTEGER_MAX} (I-JSON, RFC 7493); send a larger one as a string"
    )
}

/// Why a free-form value (a webhook's `payload`, a command's `input`) cannot be kept as sent, if
/// it cannot: it nests too deeply, or holds a number outside I-JSON's range.
pub fn free_form_refusal(value: &serde_json::Value) -> Option<String> {
    let depth = json_depth(value);
    if depth > JSON_DEPTH_MAX {
        return Some(format!("nests {depth} levels of arrays and objects; the limit is {JSON_DEPTH_MAX}"));
    }
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Array(items) => pending.extend(items),
            serde_json::Value::Object(map) => pending.extend(map.values()),
            serde_json::Value::Number(number) if !i_json_number(number) => return Some(i_json_refusal(number)),
            _ => {}
        }
    }
    None
}

/// User-written text, the one rule for every field a person writes: kept verbatim, but never
/// empty, never over `max` characters, and free of the characters that change how text
/// displays without being seen ([`crate::text`]: controls other than line breaks and tabs,
/// bidirectional formatting, invisible characters).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Refusal> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let length = value.chars().count();
    if length > max {
        return Err(invalid(field, format!("is {length} characters; the limit is {max}")));
    }
    if let Some(refusal) = crate::text::refusal(value) {
        return Err(invalid(field, refusal));
    }
    Ok(value.to_owned())
}

/// The basis for stopping a clock unmet: it goes in the record, so it may not be empty.
fn required_basis(basis: &str) -> Result<String, Refusal> {
    text("basis", basis, SHORT_MAX).map_err(|refusal| {
        if basis.trim().is_empty() {
            invalid("basis", "say why; the record keeps the basis for stopping a clock")
        } else {
            refusal
        }
    })
}

/// Whether a decision of this class approves a statement's text (its audience's class).
pub fn is_statement_class(class: &DecisionClass) -> bool {
    Audience::ALL.iter().any(|audience| audience.class() == class.as_str())
}

fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<Option<String>, Refusal> {
    value.as_deref().map(|v| text(field, v, max)).transpose()
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

/// How long before its recording a time may lie without being a backfill: fifteen minutes, the
/// time it takes to notice, confirm and type. Earlier than that, a reason is required.
pub const BACKFILL_MARGIN_MINUTES: i64 = 15;

/// Whether a time something happened, recorded at `recorded`, is a backfill.
pub fn is_backfill(occurred: Timestamp, recorded: Timestamp) -> bool {
    occurred.plus_seconds(BACKFILL_MARGIN_MINUTES * 60) < recorded
}

/// An occurrence time checked: within the window of times that happened (a year back to now),
/// and with a reason when it is a backfill.
fn occurrence(
    field: &str,
    occurred: &Option<Occurred>,
    now: Timestamp,
) -> Result<(Option<Timestamp>, Option<String>), Refusal> {
    let Some(occurred) = occurred else { return Ok((None, None)) };
    let at = date(field, occurred.at, now, When::Happened)?;
    let reason = optional_text("backfill_reason", &occurred.backfill_reason, SHORT_MAX)?;
    if reason.is_none() && is_backfill(at, now) {
        return Err(backfill_needs_reason(field, at, now));
    }
    Ok((Some(at), reason))
}

fn backfill_needs_reason(field: &str, at: Timestamp, now: Timestamp) -> Refusal {
    invalid(
        "backfill_reason",
        format!(
            "{field} {at} is more than {BACKFILL_MARGIN_MINUTES} minutes before now ({now}); a backfilled time needs \
             a reason: who saw it when, from which source"
        ),
    )
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

/// The first entries of a new deployment's organisation record.
pub fn genesis(deployment: Uuid, name: &str, public_key: &str, admin: &UserName, token_sha256: &str) -> Vec<OrgEvent> {
    let policy = Policy::default_policy();
    let playbooks = crate::playbook::BUILT_IN_PLAYBOOKS.iter().filter_map(|source| {
        // The built-in playbooks load under the built-in policy; a test keeps it so.
        Playbook::parse(source, &policy).ok().map(|p| {
            OrgEvent::PlaybookAdded(PlaybookAdded {
                id: p.id,
                version: p.version,
                sha256: p.sha256,
                source: (*source).to_owned(),
            })
        })
    });
    let mut events = vec![
        OrgEvent::DeploymentCreated(DeploymentCreated {
            deployment,
            name: name.to_owned(),
            public_key: public_key.to_owned(),
        }),
        OrgEvent::PolicyReplaced(PolicyReplaced { sha256: policy.sha256.clone(), source: policy.source.clone() }),
    ];
    events.extend(playbooks);
    events.push(OrgEvent::UserAdded(UserAdded { user: admin.clone(), display_name: None, org_role: OrgRole::Admin }));
    events.push(OrgEvent::TokenIssued(TokenIssued {
        user: admin.clone(),
        sha256: token_sha256.to_owned(),
        expires_at: None,
        label: Some("created by sitrep init".into()),
        minted_by: None,
    }));
    events
}

fn acting_user<'a>(org: &'a OrgState, by: &UserName) -> Result<&'a User, Refusal> {
    let user = org.user(by).ok_or_else(|| forbidden("users", format!("'{by}' is not a user of this deployment")))?;
    if !user.active {
        return Err(forbidden("users", format!("the account '{by}' is disabled")));
    }
    Ok(user)
}

fn may_act(user: &User) -> Result<(), Refusal> {
    if user.may_act() {
        Ok(())
    } else {
        Err(forbidden(
            "org_roles",
            format!(
                "'{}' may read incidents but not act on them: acting needs the admin or member organisation role",
                user.name
            ),
        ))
    }
}

/// Checks that a staffed role goes to someone who may hold it.
fn check_staffing(org: &OrgState, policy: &Policy, role: &Role, user: &UserName) -> Result<(), Refusal> {
    if !policy.knows_role(role) {
        let roles: Vec<&str> = policy.all_roles().map(Role::as_str).collect();
        return Err(invalid("role", format!("unknown role '{role}'; roles are {}", roles.join(", "))));
    }
    let holder = org
        .user(user)
        .filter(|u| u.active)
        .ok_or_else(|| invalid("user", format!("there is no active user '{user}'")))?;
    if !holder.may_act() && !policy.is_read_only(role) {
        return Err(invalid(
            "user",
            format!(
                "'{user}' is a viewer or auditor and may hold only read-only roles ({})",
                policy.roles.read_only.iter().map(Role::as_str).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

/// A unit an incident's scope names must be one the policy defines (`[units]`), so a typo
/// ("emae") is refused instead of leaving the incident outside every unit's local roles.
fn check_scope_unit(policy: &Policy, unit: &str) -> Result<(), Refusal> {
    if policy.unit(unit).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = policy.units.iter().map(|(u, _)| u.as_str()).collect();
    let known = if known.is_empty() {
        "the policy defines none (add them under [units])".to_owned()
    } else {
        format!("units are {}", known.join(", "))
    };
    Err(invalid("scope", format!("unknown org unit '{unit}'; {known}")))
}

/// Declares an incident numbered `number`.
pub fn decide_declare(
    org: &OrgState,
    by: &UserName,
    command: &Declare,
    number: IncidentNumber,
    uuid: Uuid,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let user = acting_user(org, by)?;
    may_act(user)?;
    let title = text("title", &command.title, TITLE_MAX)?;
    let severity = command.severity.ok_or_else(|| invalid("severity", "is required: one of sev1, sev2, sev3, sev4"))?;
    if command.scope.len() > 20 {
        return Err(invalid("scope", "names more than 20 org units"));
    }
    let policy = &org.policy;
    for (index, unit) in command.scope.iter().enumerate() {
        text("scope", unit, 80)?;
        check_scope_unit(policy, unit)?;
        if command.scope[..index].contains(unit) {
            return Err(invalid("scope", format!("names {unit} twice")));
        }
    }
    let commander = Role::parse("commander").map_err(|e| invalid("role", e.to_string()))?;
    let mut staffing: Vec<(Role, UserName)> = Vec::new();
    if !command.roles.contains_key(&commander) {
        staffing.push((commander.clone(), by.clone()));
    }
    for (role, holder) in &command.roles {
        check_staffing(org, policy, role, holder)?;
        staffing.push((role.clone(), holder.clone()));
    }
    // The commander first, so the record reads in the order people would staff it.
    staffing.sort_by_key(|(role, _)| role != &commander);
    let mut events = vec![IncidentEvent::Declared(Declared {
        incident: uuid,
        number,
        title,
        severity,
        scope: command.scope.clone(),
        restricted: command.restricted,
        exercise: command.exercise,
        policy: policy.sha256.clone(),
    })];
    events.extend(
        staffing.iter().cloned().map(|(role, user)| IncidentEvent::RoleAssigned(RoleChange { role, user, unit: None })),
    );
    if let Some(playbook) = &command.playbook {
        let mut roles: BTreeMap<Role, Vec<UserName>> = BTreeMap::new();
        for (role, user) in staffing {
            roles.entry(role).or_default().push(user);
        }
        // Starting a playbook at declaration needs the same authority as starting it later.
        let allowed = match &policy.actions.run_playbooks {
            Who::Participants => roles.iter().any(|(role, users)| users.contains(by) && !policy.is_read_only(role)),
            Who::Roles(permitted) => {
                permitted.iter().any(|role| roles.get(role).is_some_and(|users| users.contains(by)))
            }
        };
        if !allowed {
            return Err(forbidden(
                "actions.run_playbooks",
                format!(
                    "starting a playbook needs the {} role; declare without it, or staff yourself so",
                    policy.actions.run_playbooks.describe()
                ),
            ));
        }
        events.extend(playbook_events(org, by, playbook, &command.inputs, &roles, &[], (0, 0, 0))?);
    } else if !command.inputs.is_empty() {
        return Err(invalid("inputs", "inputs are given only with a playbook"));
    }
    Ok(events)
}

/// The entries that start a playbook: the start itself, the pre-approved decisions (approved,
/// citing the playbook), a task per step for the holder of its role (else the commander), and
/// each step's decision as a proposal (bound to the statement the step drafts, if it carries one).
/// `counts` are the incident's tasks, decisions and statements so far.
fn playbook_events(
    org: &OrgState,
    by: &UserName,
    id: &str,
    inputs: &BTreeMap<String, String>,
    roles: &BTreeMap<Role, Vec<UserName>>,
    started: &[String],
    counts: (u64, u64, u64),
) -> Result<Vec<IncidentEvent>, Refusal> {
    let record = org.playbooks.get(id).ok_or_else(|| {
        let known: Vec<&str> = org.playbooks.keys().map(String::as_str).collect();
        invalid("playbook", format!("there is no playbook '{id}'; playbooks are {}", known.join(", ")))
    })?;
    if started.iter().any(|p| p == id) {
        return Err(conflict(format!("playbook '{id}' was already started on this incident")));
    }
    let playbook = crate::playbook::Playbook::parse(&record.source, &org.policy).map_err(|error| {
        invalid("playbook", format!("playbook '{id}' does not load under the policy in force: {error}"))
    })?;
    let filled = playbook.fill(inputs).map_err(|error| invalid(&error.field, error.message))?;
    let holder = |role: &Role| roles.get(role).and_then(|users| users.first()).cloned();
    let commander = Role::parse("commander").ok().and_then(|r| holder(&r));
    let holds: Vec<Role> = roles.iter().filter(|(_, users)| users.contains(by)).map(|(role, _)| role.clone()).collect();
    let citation = playbook.citation();
    let mut events = vec![IncidentEvent::PlaybookStarted(PlaybookStarted {
        playbook: playbook.id.clone(),
        version: playbook.version.clone(),
        sha256: playbook.sha256.clone(),
        approved_by: playbook.approved_by.clone(),
        inputs: inputs.clone(),
        required_roles: playbook.required_roles.clone(),
    })];
    let (mut tasks, mut decisions, mut statements) = counts;
    let decision = |template: &crate::playbook::DecisionTemplate,
                    number: u64,
                    preapproved: bool,
                    statement: Option<StatementRef>|
     -> Result<IncidentEvent, Refusal> {
        let class = org
            .policy
            .class(&template.class)
            .ok_or_else(|| invalid("playbook", format!("unknown class {}", template.class)))?;
        check_actions(&org.policy, &template.actions)?;
        let (role, state) = if preapproved {
            (None, DecisionState::Approved)
        } else {
            let role = class.rule.endorsement_role(&holds, &[]);
            let endorsement: Vec<Endorsement<'_>> =
                role.iter().map(|role| Endorsement { user: by, role, also: &[] }).collect();
            let state =
                if class.rule.is_met(by, &endorsement) { DecisionState::Approved } else { DecisionState::Proposed };
            (role, state)
        };
        Ok(IncidentEvent::DecisionProposed(DecisionProposed {
            decision: DecisionId(number),
            class: template.class.clone(),
            title: template.title.chars().take(TITLE_MAX).collect(),
            rationale: template.rationale.clone(),
            actions: template.actions.clone(),
            rule: class.rule.clone(),
            role,
            also: Vec::new(),
            state,
            playbook: preapproved.then(|| citation.clone()),
            path: class.path.clone(),
            statement,
            clocks: Vec::new(),
        }))
    };
    for template in &filled.preapproved {
        decisions += 1;
        events.push(decision(template, decisions, true, None)?);
    }
    for (index, step) in filled.steps.iter().enumerate() {
        tasks += 1;
        events.push(IncidentEvent::TaskCreated(TaskCreated {
            task: TaskId(tasks),
            title: step.title.chars().take(TITLE_MAX).collect(),
            owner: holder(&step.role).or_else(|| commander.clone()),
            due: None,
            due_in_minutes: step.due_minutes,
            origin: TaskOrigin::Playbook {
                playbook: playbook.id.clone(),
                version: playbook.version.clone(),
                step: index as u32 + 1,
            },
        }));
        if let Some(template) = &step.decision {
            let bound = match &template.statement {
                Some(draft) => {
                    statements += 1;
                    let body = text("statement.text", &draft.text, TEXT_MAX)?;
                    let sha256 = sha256_hex(body.as_bytes());
                    events.push(IncidentEvent::StatementDrafted(StatementDrafted {
                        statement: StatementId(statements),
                        audience: draft.audience,
                        title: draft.title.chars().take(TITLE_MAX).collect(),
                        text: body,
                        sha256: sha256.clone(),
                    }));
                    Some(StatementRef { statement: StatementId(statements), version: 1, sha256 })
                }
                None => None,
            };
            decisions += 1;
            events.push(decision(template, decisions, false, bound)?);
        }
    }
    Ok(events)
}

/// Whether `by` may see this incident at all.
pub fn can_see(state: &IncidentState, by: &UserName) -> bool {
    !state.restricted || state.is_participant(by)
}

/// Whether `by` may list and download this incident's evidence (`[actions] evidence`). Those
/// who may not see evidence do not learn its names either.
pub fn may_read_evidence(state: &IncidentState, policy: &Policy, by: &UserName) -> bool {
    can_see(state, by) && Judge { state, policy, by }.allowed(&policy.actions.evidence)
}

/// Whether `by` may see share links: the evidence readers and those who manage third parties.
pub fn may_see_share_links(state: &IncidentState, policy: &Policy, by: &UserName) -> bool {
    let judge = Judge { state, policy, by };
    can_see(state, by) && (judge.allowed(&policy.actions.evidence) || judge.allowed(&policy.actions.third_parties))
}

struct Judge<'a> {
    state: &'a IncidentState,
    policy: &'a Policy,
    by: &'a UserName,
}

impl Judge<'_> {
    fn holds(&self) -> Vec<Role> {
        self.state.roles_of(self.by)
    }

    /// The roles this person may decide with under a rule of this scope (local roles count
    /// for `local` classes).
    fn holds_for(&self, scope: crate::policy::Scope) -> Vec<Role> {
        self.state.deciding_roles_of(self.by, scope)
    }

    /// For a `local` class, why a person with no role of it cannot decide: which units decide.
    fn local_words(&self, rule: &Rule, class: &DecisionClass) -> String {
        let units: Vec<&str> = self.state.scope.iter().filter_map(|u| self.policy.unit(u)).collect();
        if rule.scope != crate::policy::Scope::Local || units.is_empty() {
            return String::new();
        }
        let held_there = self.state.unit_roles.values().any(|roles| roles.values().any(|h| h.contains(self.by)));
        format!(
            "{class} is local to {}{}; ",
            units.join(", "),
            if held_there { String::new() } else { format!("; you hold no role in {}", units.join(" or ")) }
        )
    }

    fn unit_in_scope(&self, unit: &str) -> Result<(), Refusal> {
        if self.policy.unit(unit).is_none() {
            let known: Vec<&str> = self.policy.units.iter().map(|(u, _)| u.as_str()).collect();
            return Err(invalid("unit", format!("unknown unit '{unit}'; units are {}", list_or_none(&known))));
        }
        if !self.state.scope.iter().any(|s| s == unit) {
            return Err(invalid("unit", format!("{unit} is not in the scope of {}", self.state.id)));
        }
        Ok(())
    }

    /// Who currently holds any of these roles, for messages that say who could act.
    fn holders(&self, roles: &[Role]) -> String {
        let named: Vec<String> = roles
            .iter()
            .map(|role| match self.state.roles.get(role) {
                Some(users) if !users.is_empty() => {
                    format!("{role}: {}", users.iter().map(UserName::as_str).collect::<Vec<_>>().join(", "))
                }
                _ => format!("{role}: unfilled"),
            })
            .collect();
        named.join("; ")
    }

    fn held_words(&self) -> String {
        let held = self.holds();
        if held.is_empty() {
            "you hold no role on this incident".to_owned()
        } else {
            format!("you hold {}", held.iter().map(Role::as_str).collect::<Vec<_>>().join(", "))
        }
    }

    fn allowed(&self, who: &Who) -> bool {
        match who {
            Who::Participants => self.holds().iter().any(|r| !self.policy.is_read_only(r)),
            Who::Roles(roles) => roles.iter().any(|r| self.state.holds(self.by, r.as_str())),
        }
    }

    /// Checks a non-decision action against `[actions]` in the policy.
    fn permit(&self, rule: &str, who: &Who, doing: &str) -> Result<(), Refusal> {
        if self.allowed(who) {
            return Ok(());
        }
        let message = match who {
            Who::Participants => {
                format!("{doing} needs a role on {} other than a read-only one; {}", self.state.id, self.held_words())
            }
            Who::Roles(roles) => {
                format!("{doing} needs the {} role; {} ({})", join_or(roles), self.held_words(), self.holders(roles))
            }
        };
        Err(forbidden(format!("actions.{rule}"), message))
    }

    fn decision(&self, id: DecisionId) -> Result<&Decision, Refusal> {
        self.state.decision(id).ok_or_else(|| Refusal::NotFound(format!("{} has no decision {id}", self.state.id)))
    }

    fn open_decision(&self, id: DecisionId, doing: &str) -> Result<&Decision, Refusal> {
        let decision = self.decision(id)?;
        if decision.state != DecisionState::Proposed {
            return Err(conflict(format!("{id} is {}; it can no longer be {doing}", decision.state.as_str())));
        }
        Ok(decision)
    }

    fn participant(&self, field: &str, user: &UserName) -> Result<(), Refusal> {
        if self.state.is_participant(user) {
            Ok(())
        } else {
            Err(invalid(field, format!("'{user}' holds no role on {}; assign them a role first", self.state.id)))
        }
    }

    fn fact(&self, id: FactId) -> Result<FactStatus, Refusal> {
        self.state
            .fact(id)
            .map(|f| f.status)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no fact {id}", self.state.id)))
    }

    fn task(&self, id: TaskId) -> Result<TaskState, Refusal> {
        self.state
            .task(id)
            .map(|t| t.state)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no task {id}", self.state.id)))
    }

    /// When a decision approves a `close`, the incident closes in the same step.
    fn closing(&self, class: &DecisionClass, decision: DecisionId) -> Option<IncidentEvent> {
        (class == "close").then_some(IncidentEvent::PhaseChanged(PhaseChanged {
            from: self.state.phase,
            to: Phase::Closed,
            decision: Some(decision),
        }))
    }
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

/// Checks the channels a failed `notify` attempt reports as told: channels of the decision's
/// path, not told before, each once. A success or another kind of action reports none.
fn channels_told(
    decision: &Decision,
    action: &Action,
    told: &[String],
    succeeded: bool,
) -> Result<Vec<String>, Refusal> {
    if told.is_empty() {
        return Ok(Vec::new());
    }
    if succeeded || !matches!(action.spec, ActionSpec::Notify { .. }) {
        return Err(invalid("told", "only a failed notify action reports channels told"));
    }
    let mut checked: Vec<String> = Vec::with_capacity(told.len());
    for channel in told {
        if !decision.path.contains(channel) || action.told.contains(channel) || checked.contains(channel) {
            return Err(invalid(
                "told",
                format!("'{channel}' is not a channel of the path of {} still to be told", decision.id),
            ));
        }
        checked.push(channel.clone());
    }
    Ok(checked)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() { "none yet".to_owned() } else { items.join(", ") }
}

/// The longest evidence name kept, in characters.
pub const EVIDENCE_NAME_MAX: usize = 255;

/// An uploaded file's name as the record keeps it: metadata only, never a path. The characters
/// user text may not hold ([`crate::text`]), and line breaks and tabs, are written out as
/// `<U+XXXX>` rather than refused (the name comes from a file system, not from a person typing),
/// so nothing is silently dropped and nothing displays as something else; an empty name becomes
/// "unnamed"; a very long one is cut.
pub fn evidence_name(raw: &str) -> String {
    written_out(raw, |c| c.is_control() || crate::text::hidden(c).is_some())
}

/// Whether a stored evidence name is one sitrep could have written. Versions before the rule of
/// [`crate::text`] wrote out only controls, the zero-width and bidirectional marks and U+FEFF,
/// so the fold holds names to that narrower set: records they wrote still fold.
pub fn is_kept_name(name: &str) -> bool {
    let first_written_out = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
            )
    };
    written_out(name, first_written_out) == name
}

fn written_out(raw: &str, hidden: impl Fn(char) -> bool) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        if hidden(c) {
            name.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            name.push(c);
        }
    }
    if name.trim().is_empty() {
        return "unnamed".to_owned();
    }
    if name.chars().count() > EVIDENCE_NAME_MAX {
        name = name.chars().take(EVIDENCE_NAME_MAX - 1).collect();
        name.push('…');
    }
    name
}

fn join_or(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
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

/// The rule's roles this person holds, in the rule's order.
fn held_rule_roles(rule: &Rule, holds: &[Role]) -> Vec<Role> {
    rule.approve.roles().iter().filter(|r| holds.contains(r)).cloned().collect()
}

/// Decides what connectors report: the action worker's attempts and outcomes, and the
/// notifier's deliveries. They are refused only when they contradict the record (an action
/// that is not waiting to run, a notification nobody owes), which would be a defect.
///
/// `now` is the time the entries will carry, which decides whether a share link still works.
pub fn decide_system(
    state: &IncidentState,
    command: &SystemCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let action = |decision: DecisionId, index: u32| -> Result<(&Decision, &crate::incident::Action), Refusal> {
        let found = state
            .decision(decision)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no decision {decision}", state.id)))?;
        if found.state != DecisionState::Approved {
            return Err(conflict(format!("{decision} is not approved, so its actions do not run")));
        }
        let action = found
            .actions
            .get(index as usize)
            .ok_or_else(|| Refusal::NotFound(format!("{decision} has no action {}", index + 1)))?;
        Ok((found, action))
    };
    let startable = |action: &crate::incident::Action| match action.status {
        ActionStatus::Pending | ActionStatus::Running => true,
        ActionStatus::Failed => action.retryable,
        ActionStatus::Succeeded => false,
    };
    let events = match command {
        SystemCommand::StartAction { decision, action: index } => {
            let (_, current) = action(*decision, *index)?;
            let internal = match current.spec {
                ActionSpec::Task { .. } => Some("creates a task; run it as a task action"),
                ActionSpec::Share { .. } => Some("creates a share link; run it as a share action"),
                _ => None,
            };
            if let Some(what) = internal {
                return Err(invalid("action", format!("action {} of {decision} {what}", index + 1)));
            }
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            vec![IncidentEvent::ActionStarted(ActionStarted {
                decision: *decision,
                action: *index,
                attempt: current.attempts + 1,
            })]
        }
        SystemCommand::FinishAction { decision, action: index, outcome, told } => {
            let (found, current) = action(*decision, *index)?;
            if current.status != ActionStatus::Running {
                return Err(conflict(format!("action {} of {decision} is not running", index + 1)));
            }
            let attempt = current.attempts;
            let told = channels_told(found, current, told, outcome.is_ok())?;
            vec![match outcome {
                Ok(detail) => IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: *decision,
                    action: *index,
                    attempt,
                    detail: detail.clone(),
                }),
                Err(failure) => IncidentEvent::ActionFailed(ActionFailed {
                    decision: *decision,
                    action: *index,
                    attempt,
                    reason: failure.reason.chars().take(SHORT_MAX).collect(),
                    retryable: failure.retryable,
                    told,
                }),
            }]
        }
        SystemCommand::RunTaskAction { decision, action: index } => {
            let (found, current) = action(*decision, *index)?;
            let ActionSpec::Task { title, owner_role, due_in_minutes } = &current.spec else {
                return Err(invalid("action", format!("action {} of {decision} is not a task action", index + 1)));
            };
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            let holder = |role: &Role| state.roles.get(role).and_then(|users| users.first()).cloned();
            let owner =
                owner_role.as_ref().and_then(holder).or_else(|| Role::parse("commander").ok().and_then(|r| holder(&r)));
            let task = TaskId(state.tasks.len() as u64 + 1);
            let attempt = current.attempts + 1;
            vec![
                IncidentEvent::ActionStarted(ActionStarted { decision: found.id, action: *index, attempt }),
                IncidentEvent::TaskCreated(TaskCreated {
                    task,
                    title: title.clone(),
                    owner,
                    due: None,
                    due_in_minutes: *due_in_minutes,
                    origin: TaskOrigin::Decision { decision: found.id, action: *index },
                }),
                IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: found.id,
                    action: *index,
                    attempt,
                    detail: Some(format!("created {task}")),
                }),
            ]
        }
        SystemCommand::RunShareAction { decision, action: index } => {
            let (found, current) = action(*decision, *index)?;
            let ActionSpec::Share { party, items, expires_in_hours } = &current.spec else {
                return Err(invalid("action", format!("action {} of {decision} is not a share action", index + 1)));
            };
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            let share = ShareId(state.shares.len() as u64 + 1);
            let attempt = current.attempts + 1;
            let expires_at = now.plus_seconds(i64::from(*expires_in_hours) * 3600);
            vec![
                IncidentEvent::ActionStarted(ActionStarted { decision: found.id, action: *index, attempt }),
                IncidentEvent::ShareCreated(ShareCreated {
                    share,
                    decision: found.id,
                    action: *index,
                    party: party.clone(),
                    items: items.clone(),
                    expires_in_hours: *expires_in_hours,
                }),
                IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: found.id,
                    action: *index,
                    attempt,
                    detail: Some(format!("created {share} for {party}, live until {expires_at}")),
                }),
            ]
        }
        SystemCommand::ShareUsed { share, sha256 } => {
            if state.phase == Phase::Closed {
                return Err(conflict(format!("{} is closed; its share links no longer work", state.id)));
            }
            let found = state
                .share(*share)
                .filter(|s| s.items.contains(sha256))
                .ok_or_else(|| Refusal::NotFound("this link does not reach that item".to_owned()))?;
            if let Some(revoked) = &found.revoked {
                return Err(conflict(format!("this link was revoked at {}", revoked.at)));
            }
            if now >= found.expires_at {
                return Err(conflict(format!("this link expired at {}", found.expires_at)));
            }
            vec![IncidentEvent::EvidenceAccessed(EvidenceAccessed {
                sha256: sha256.clone(),
                purpose: format!("fetched by {} through {share}", found.party),
                share: Some(*share),
            })]
        }
        SystemCommand::ClockWarned { clock, told, failed } => {
            let found = running_clock(state, clock)?;
            if found.warned.is_some() || now < found.warn_at {
                return Err(conflict(format!("the clock '{clock}' is not due a warning")));
            }
            vec![IncidentEvent::ClockWarned(ClockWarned {
                clock: clock.clone(),
                told: told.clone(),
                failed: failed.iter().map(|f| f.chars().take(SHORT_MAX).collect()).collect(),
            })]
        }
        SystemCommand::ClockMissed { clock } => {
            let found = running_clock(state, clock)?;
            if found.missed_at.is_some() || now < found.deadline {
                return Err(conflict(format!("the clock '{clock}' has not run out")));
            }
            vec![IncidentEvent::ClockMissed(ClockRef { clock: clock.clone() })]
        }
        SystemCommand::IntegrityFailed { sha256, detail } => {
            if state.evidence_item(sha256).is_none() {
                return Err(Refusal::NotFound(format!("{} has no evidence {sha256}", state.id)));
            }
            vec![IncidentEvent::EvidenceIntegrityFailed(EvidenceIntegrityFailed {
                sha256: sha256.clone(),
                detail: detail.chars().take(SHORT_MAX).collect(),
            })]
        }
        SystemCommand::Notified { decision, moment, channel, outcome } => {
            let found = state
                .decision(*decision)
                .ok_or_else(|| Refusal::NotFound(format!("{} has no decision {decision}", state.id)))?;
            let owed = found
                .notices
                .iter()
                .any(|n| n.moment == *moment && &n.channel == channel && n.status == NoticeStatus::Pending);
            if !owed {
                return Err(conflict(format!(
                    "no {} notification of {decision} is owed to {channel}",
                    moment.as_str()
                )));
            }
            vec![match outcome {
                Ok(detail) => IncidentEvent::NotificationDelivered(NotificationDelivered {
                    decision: *decision,
                    moment: *moment,
                    channel: channel.clone(),
                    detail: detail.clone(),
                }),
                Err(failure) => IncidentEvent::NotificationFailed(NotificationFailed {
                    decision: *decision,
                    moment: *moment,
                    channel: channel.clone(),
                    reason: failure.reason.chars().take(SHORT_MAX).collect(),
                    retryable: failure.retryable,
                }),
            }]
        }
    };
    Ok(events)
}

fn running_clock<'a>(state: &'a IncidentState, clock: &str) -> Result<&'a crate::incident::Clock, Refusal> {
    // A closed record is final. An incident closed before submissions existed may hold a clock
    // its approval once stopped, which now reads as owed: it is neither warned of nor missed.
    if state.phase == Phase::Closed {
        return Err(conflict(format!("{} is closed; its clocks are not warned of or missed", state.id)));
    }
    let found = state
        .clocks
        .iter()
        .find(|c| c.clock == clock)
        .ok_or_else(|| Refusal::NotFound(format!("{} has no clock '{clock}'", state.id)))?;
    if !found.is_running() {
        return Err(conflict(format!("the clock '{clock}' has stopped")));
    }
    Ok(found)
}

fn task_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "open",
        TaskState::Done => "done",
        TaskState::Blocked => "blocked",
        TaskState::Cancelled => "cancelled",
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_actions(policy: &Policy, actions: &[ActionSpec]) -> Result<(), Refusal> {
    if actions.len() > MAX_ACTIONS {
        return Err(invalid("actions", format!("a decision may carry at most {MAX_ACTIONS} actions")));
    }
    for (index, action) in actions.iter().enumerate() {
        let field = format!("actions[{index}]");
        match action {
            ActionSpec::Task { title, owner_role, due_in_minutes } => {
                text(&format!("{field}.title"), title, TITLE_MAX)?;
                if let Some(message) = due_in_minutes.and_then(due_minutes_refusal) {
                    return Err(invalid(&format!("{field}.due_in_minutes"), message));
                }
                if let Some(role) = owner_role.as_ref().filter(|r| !policy.knows_role(r)) {
                    return Err(invalid(&format!("{field}.owner_role"), format!("unknown role '{role}'")));
                }
            }
            ActionSpec::Webhook { destination: name, .. } | ActionSpec::Command { command: name, .. } => {
                if !is_name(name) {
                    return Err(invalid(
                        &field,
                        format!("'{name}' is not the name of a configured {} (a-z, 0-9, '-', '_')", action.connector()),
                    ));
                }
                if let Some((name, value)) = action.free_form()
                    && let Some(message) = free_form_refusal(value)
                {
                    return Err(invalid(&format!("{field}.{name}"), message));
                }
            }
            ActionSpec::Notify { message } => {
                optional_text(&format!("{field}.message"), message, SHORT_MAX)?;
            }
            ActionSpec::Share { party, items, expires_in_hours } => {
                if !is_name(party) {
                    return Err(invalid(&format!("{field}.party"), format!("'{party}' is not a party id")));
                }
                if items.is_empty() || items.len() > MAX_SHARED_ITEMS {
                    return Err(invalid(
                        &format!("{field}.items"),
                        format!("name between 1 and {MAX_SHARED_ITEMS} evidence items by SHA-256"),
                    ));
                }
                if let Some(bad) = items.iter().find(|item| !is_sha256(item)) {
                    return Err(invalid(&format!("{field}.items"), format!("'{bad}' is not a SHA-256")));
                }
                if items.iter().enumerate().any(|(i, item)| items[..i].contains(item)) {
                    return Err(invalid(&format!("{field}.items"), "names an item twice"));
                }
                if !(1..=MAX_SHARE_HOURS).contains(expires_in_hours) {
                    return Err(invalid(
                        &format!("{field}.expires_in_hours"),
                        format!("a share link lives between 1 and {MAX_SHARE_HOURS} hours"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Decides one change to the organisation.
pub fn decide_org(
    org: &OrgState,
    by: &UserName,
    command: &OrgCommand,
    now: Timestamp,
) -> Result<Vec<OrgEvent>, Refusal> {
    let actor = acting_user(org, by)?;
    let is_admin = actor.has(OrgRole::Admin);
    let admin_only = |what: &str| -> Result<(), Refusal> {
        if is_admin { Ok(()) } else { Err(forbidden("org_roles", format!("{what} needs the admin organisation role"))) }
    };
    let existing =
        |user: &UserName| org.user(user).ok_or_else(|| Refusal::NotFound(format!("there is no user '{user}'")));
    let active_admins = || org.users.values().filter(|u| u.active && u.has(OrgRole::Admin)).count();
    use OrgCommand as C;
    let events = match command {
        C::AddUser { user, display_name, org_role } => {
            admin_only("adding users")?;
            if org.user(user).is_some() {
                return Err(conflict(format!("the user '{user}' already exists")));
            }
            vec![OrgEvent::UserAdded(UserAdded {
                user: user.clone(),
                display_name: optional_text("display_name", display_name, 100)?,
                org_role: *org_role,
            })]
        }
        C::DisableUser { user, reason } => {
            admin_only("disabling users")?;
            let target = existing(user)?;
            if !target.active {
                return Err(conflict(format!("the user '{user}' is already disabled")));
            }
            if target.has(OrgRole::Admin) && active_admins() == 1 {
                return Err(conflict("the last active admin cannot be disabled; make someone else admin first"));
            }
            vec![OrgEvent::UserDisabled(UserDisabled {
                user: user.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::GrantOrgRole { user, role } => {
            admin_only("granting organisation roles")?;
            if existing(user)?.has(*role) {
                return Err(conflict(format!("'{user}' already has the {role} organisation role")));
            }
            vec![OrgEvent::OrgRoleGranted(OrgRoleChange { user: user.clone(), role: *role })]
        }
        C::RevokeOrgRole { user, role } => {
            admin_only("revoking organisation roles")?;
            let target = existing(user)?;
            if !target.has(*role) {
                return Err(conflict(format!("'{user}' does not have the {role} organisation role")));
            }
            if *role == OrgRole::Admin && target.active && active_admins() == 1 {
                return Err(conflict("the last active admin keeps the admin role; make someone else admin first"));
            }
            vec![OrgEvent::OrgRoleRevoked(OrgRoleChange { user: user.clone(), role: *role })]
        }
        C::SetPassword { user } => {
            if user != by {
                admin_only("setting someone else's password")?;
            }
            if !existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is disabled")));
            }
            vec![OrgEvent::UserPasswordSet(UserPasswordSet { user: user.clone() })]
        }
        C::IssueToken { user, sha256, expires_at, label, minted_by } => {
            if user != by {
                admin_only("issuing tokens for someone else")?;
            }
            if expires_at.is_none() {
                admin_only("a token that never expires")?;
            }
            // A stolen token must not buy a credential that survives it: a token made with a
            // token expires no later than it, and the fold revokes it with it.
            if let Some(parent) = minted_by {
                let parent = org.tokens.get(parent).filter(|t| t.user == *by && t.is_valid(now)).ok_or_else(|| {
                    forbidden("tokens", "the token this request came with is not a valid token of yours")
                })?;
                if let Some(limit) = parent.expires_at
                    && expires_at.is_none_or(|expiry| expiry > limit)
                {
                    return Err(invalid(
                        "expires_at",
                        format!("a token created with another token cannot outlive it; that token expires at {limit}"),
                    ));
                }
            }
            if !existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is disabled")));
            }
            if !is_sha256(sha256) {
                return Err(invalid("sha256", "must be 64 lower-case hex digits"));
            }
            if org.tokens.contains_key(sha256) {
                return Err(conflict("that token is already issued"));
            }
            if expires_at.is_some_and(|expiry| expiry <= now) {
                return Err(invalid("expires_at", "must be in the future"));
            }
            if let Some(expiry) = expires_at {
                date("expires_at", *expiry, now, When::Due)?;
            }
            vec![OrgEvent::TokenIssued(TokenIssued {
                user: user.clone(),
                sha256: sha256.clone(),
                expires_at: *expires_at,
                label: optional_text("label", label, 100)?,
                minted_by: minted_by.clone(),
            })]
        }
        C::RevokeToken { user, token } => {
            if user != by {
                admin_only("revoking someone else's tokens")?;
            }
            let found = org
                .tokens
                .values()
                .find(|t| &t.id == token && &t.user == user)
                .ok_or_else(|| Refusal::NotFound(format!("'{user}' has no token {token}")))?;
            if found.revoked {
                return Err(conflict(format!("token {token} is already revoked")));
            }
            vec![OrgEvent::TokenRevoked(TokenRevoked { user: user.clone(), token: token.clone() })]
        }
        C::ReplacePolicy { source } => {
            admin_only("replacing the policy")?;
            let policy = Policy::parse(source).map_err(|error| invalid("policy", error.to_string()))?;
            if policy.sha256 == org.policy.sha256 {
                return Err(conflict("that policy is already in force"));
            }
            vec![OrgEvent::PolicyReplaced(PolicyReplaced { sha256: policy.sha256, source: policy.source })]
        }
        C::AddPlaybook { source } => {
            admin_only("adding playbooks")?;
            if source.len() > 256 * 1024 {
                return Err(invalid("source", "a playbook file is at most 256 KiB"));
            }
            let playbook =
                Playbook::parse(source, &org.policy).map_err(|error| invalid("playbook", error.to_string()))?;
            if org.playbooks.get(&playbook.id).is_some_and(|p| p.sha256 == playbook.sha256) {
                return Err(conflict(format!("playbook '{}' is already this file", playbook.id)));
            }
            vec![OrgEvent::PlaybookAdded(PlaybookAdded {
                id: playbook.id,
                version: playbook.version,
                sha256: playbook.sha256,
                source: source.clone(),
            })]
        }
        C::RegisterParty(party) => {
            admin_only("registering third parties")?;
            let party = checked_party(party)?;
            if org.parties.contains_key(&party.party) {
                return Err(conflict(format!("the party '{}' is already registered; update it instead", party.party)));
            }
            vec![OrgEvent::PartyRegistered(party)]
        }
        C::UpdateParty(party) => {
            admin_only("changing third parties")?;
            let party = checked_party(party)?;
            let Some(current) = org.parties.get(&party.party) else {
                return Err(Refusal::NotFound(format!("there is no registered party '{}'", party.party)));
            };
            if current.party == party {
                return Err(conflict(format!("the party '{}' already reads exactly so", party.party)));
            }
            vec![OrgEvent::PartyUpdated(party)]
        }
    };
    Ok(events)
}

/// A party entry with every field checked.
fn checked_party(party: &Party) -> Result<Party, Refusal> {
    if !is_name(&party.party) {
        return Err(invalid("party", "a party id is 1-64 characters of a-z, 0-9, '-' and '_'"));
    }
    if party.contacts.len() > 20 || party.authority.len() > 20 {
        return Err(invalid("contacts", "a party has at most 20 contacts and 20 authority lines"));
    }
    let contacts = party
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |name: &str| format!("contacts[{i}].{name}");
            Ok(Contact {
                name: text(&field("name"), &c.name, 100)?,
                role: optional_text(&field("role"), &c.role, 100)?,
                email: optional_text(&field("email"), &c.email, 254)?,
                phone: optional_text(&field("phone"), &c.phone, 50)?,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    let authority = party
        .authority
        .iter()
        .enumerate()
        .map(|(i, line)| text(&format!("authority[{i}]"), line, SHORT_MAX))
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(Party {
        party: party.party.clone(),
        name: text("name", &party.name, TITLE_MAX)?,
        kind: party.kind,
        contacts,
        operates: optional_text("operates", &party.operates, SHORT_MAX)?,
        authority,
        sharing_rule: optional_text("sharing_rule", &party.sharing_rule, SHORT_MAX)?,
    })
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
