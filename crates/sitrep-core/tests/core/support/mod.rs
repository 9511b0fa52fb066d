//! Test harness: an organisation and one incident, changed only through `decide_*`, sealed with
//! `events::seal` and folded, exactly as the server does it.
//!
//! Every accepted command goes through decide AND fold, and after each one the whole record is
//! folded again from scratch and must give the same state, so a test can never pass on a state
//! that the record alone would not reproduce.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde_json::{Value, json};
use sitrep_core::decide::{self, ActionFailure, Declare, IncidentCommand, OrgCommand, Refusal, SystemCommand};
use sitrep_core::entry::{Entry, EntryHash};
use sitrep_core::events::{
    ActionSpec, Audience, Contact, EvidenceRegistered, FactStatus, IncidentEvent, Moment, Party, PartyKind, seal,
};
use sitrep_core::incident::{Decision, FoldError, Task};
use sitrep_core::{
    Actor, DecisionClass, DecisionId, FactId, IncidentNumber, IncidentState, OrgRole, OrgState, Role, Severity, TaskId,
    Timestamp, UserName,
};
use uuid::Uuid;

/// The admin created with the deployment.
pub(crate) const ADMIN: &str = "admin";
/// The default incident's staff: one person per role.
pub(crate) const STAFF: &[(&str, &str)] = &[
    ("cmd", "commander"),
    ("tech", "tech_lead"),
    ("lee", "legal"),
    ("cora", "comms"),
    ("exec", "executive"),
    ("resp", "responder"),
    ("obs", "observer"),
];
/// A user with the viewer organisation role.
pub(crate) const VIEWER: &str = "vic";
/// A member of the organisation who holds no role on the incident.
pub(crate) const OUTSIDER: &str = "out";

pub(crate) fn user(name: &str) -> UserName {
    UserName::parse(name).expect("a valid user name")
}

/// A person as the actor of an entry.
pub(crate) fn by(name: &str) -> Actor {
    Actor::User(user(name))
}

pub(crate) fn role(name: &str) -> Role {
    Role::parse(name).expect("a valid role")
}

pub(crate) fn class(name: &str) -> DecisionClass {
    DecisionClass::parse(name).expect("a valid decision class")
}

/// A fixed instant, `n` seconds after the harness's epoch.
pub(crate) fn at(n: i64) -> Timestamp {
    Timestamp::from_unix_micros(1_795_796_802_000_000 + n * 1_000_000).expect("in range")
}

/// A token hash (64 lower-case hex digits) that differs for each `n`.
pub(crate) fn token(n: u64) -> String {
    format!("{n:012x}{}", "a".repeat(52))
}

/// The organisation: its state, its record and the clock every entry is stamped with.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub state: OrgState,
    pub record: Vec<Entry>,
    pub clock: i64,
}

impl Org {
    /// A deployment with only its admin, from `decide::genesis`.
    pub(crate) fn genesis() -> Org {
        let events = decide::genesis(Uuid::from_u128(7), "Example Corp", "cHVibGljLWtleQ==", &user(ADMIN), &token(0));
        let record = seal((0, EntryHash::ZERO), at(0), &Actor::system("init").expect("actor"), &events);
        let (first, rest) = record.split_first().expect("genesis has entries");
        let mut state = OrgState::create(first, &events[0]).expect("deployment.created starts the record");
        for (entry, event) in rest.iter().zip(&events[1..]) {
            state.apply(entry, event).expect("genesis folds");
        }
        let org = Org { state, record, clock: 0 };
        org.check_refold();
        org
    }

    pub(crate) fn now(&self) -> Timestamp {
        at(self.clock)
    }

    /// The next instant: every append is one second after the one before.
    pub(crate) fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        at(self.clock)
    }

    /// Decides an organisation command, seals it, folds it and checks the refold.
    pub(crate) fn act(&mut self, by: &str, command: OrgCommand) -> Result<Vec<Entry>, Refusal> {
        let events = decide::decide_org(&self.state, &user(by), &command, self.now())?;
        let entries = seal((self.state.seq, self.state.head), self.tick(), &Actor::User(user(by)), &events);
        for (entry, event) in entries.iter().zip(&events) {
            self.state.apply(entry, event).expect("a decided org entry folds");
        }
        self.record.extend(entries.iter().cloned());
        self.check_refold();
        Ok(entries)
    }

    /// As [`OrgWorld::act`], for an identity connector (`system:<connector>`).
    pub(crate) fn act_system(&mut self, connector: &str, command: OrgCommand) -> Result<Vec<Entry>, Refusal> {
        let events = decide::decide_org_system(&self.state, &command, self.now())?;
        let actor = Actor::system(connector).expect("a connector name");
        let entries = seal((self.state.seq, self.state.head), self.tick(), &actor, &events);
        for (entry, event) in entries.iter().zip(&events) {
            self.state.apply(entry, event).expect("a decided org entry folds");
        }
        self.record.extend(entries.iter().cloned());
        self.check_refold();
        Ok(entries)
    }

    /// Adds a user as the admin.
    pub(crate) fn add(&mut self, name: &str, org_role: OrgRole) {
        self.act(ADMIN, OrgCommand::AddUser { user: user(name), display_name: None, org_role })
            .expect("the admin adds users");
    }

    /// Folding the whole organisation record again gives the same state.
    pub(crate) fn check_refold(&self) {
        let refolded = OrgState::fold(&self.record).expect("the organisation record folds from scratch");
        assert_eq!(
            org_snapshot(&refolded),
            org_snapshot(&self.state),
            "refolding the organisation record gives another state"
        );
    }
}

/// Everything in an `OrgState`, as JSON.
pub(crate) fn org_snapshot(org: &OrgState) -> Value {
    json!({
        "deployment": org.deployment,
        "name": org.name,
        "public_key": org.public_key,
        "users": org.users,
        "tokens": org.tokens,
        "policy": { "name": org.policy.name, "sha256": org.policy.sha256, "source": org.policy.source },
        "playbooks": org.playbooks,
        "parties": org.parties,
        "seq": org.seq,
        "head": org.head,
    })
}

/// The organisation with the default incident's staff (members), a viewer and an outsider.
pub(crate) fn org() -> Org {
    let mut org = Org::genesis();
    for (name, _) in STAFF {
        org.add(name, OrgRole::Member);
    }
    org.add(VIEWER, OrgRole::Viewer);
    org.add(OUTSIDER, OrgRole::Member);
    org
}

/// An organisation and one incident in it.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub org: Org,
    pub incident: IncidentState,
    pub record: Vec<Entry>,
}

/// Declares INC-1 through `decide_declare`.
pub(crate) fn declare(mut org: Org, by: &str, command: &Declare) -> Result<World, Refusal> {
    let events = decide::decide_declare(&org.state, &user(by), command, IncidentNumber(1), Uuid::from_u128(1))?;
    let record = seal((0, EntryHash::ZERO), org.tick(), &Actor::User(user(by)), &events);
    let (first, rest) = record.split_first().expect("a declaration has entries");
    let mut incident = IncidentState::declare(first, &events[0]).expect("incident.declared starts the record");
    for entry in rest {
        incident.apply_entry(entry).expect("a declaration folds");
    }
    let world = World { org, incident, record };
    world.check_refold();
    Ok(world)
}

/// A declaration staffing `roles`, declared at sev2.
pub(crate) fn declaration(title: &str, roles: &[(&str, &str)]) -> Declare {
    Declare {
        title: title.to_owned(),
        severity: Some(Severity::Sev2),
        roles: roles.iter().map(|(name, r)| (role(r), user(name))).collect::<BTreeMap<_, _>>(),
        ..Declare::default()
    }
}

/// INC-1, declared by `cmd` with every role of [`STAFF`] filled.
pub(crate) fn world() -> World {
    declare(org(), "cmd", &declaration("Leaked deploy key", &STAFF[1..])).expect("cmd declares")
}

/// INC-1 as [`world`], but need-to-know.
pub(crate) fn restricted_world() -> World {
    let command = Declare { restricted: true, ..declaration("Insider access", &STAFF[1..]) };
    declare(org(), "cmd", &command).expect("cmd declares")
}

/// Decides an incident command as `by`, seals it after the head, folds it with `apply_entry`
/// and checks that refolding the whole record gives the same state.
pub(crate) fn act(world: &mut World, by: &str, command: IncidentCommand) -> Result<Vec<Entry>, Refusal> {
    act_signed_in(world, by, None, command)
}

/// As [`act`], by a person whose sign-in is known (a browser session).
pub(crate) fn act_signed_in(
    world: &mut World,
    by: &str,
    authentication: Option<&sitrep_core::authn::Authentication>,
    command: IncidentCommand,
) -> Result<Vec<Entry>, Refusal> {
    let now = at(world.org.clock + 1);
    let events =
        decide::decide_incident_as(&world.incident, &world.org.state, &user(by), authentication, &command, now)?;
    assert!(!events.is_empty(), "an accepted command writes at least one entry");
    let entries = seal((world.incident.seq, world.incident.head), world.org.tick(), &Actor::User(user(by)), &events);
    for entry in &entries {
        world.incident.apply_entry(entry).expect("a decided entry folds");
    }
    world.record.extend(entries.iter().cloned());
    world.check_refold();
    Ok(entries)
}

/// The connector every system entry of the harness is sealed as, as the store seals the action
/// worker's and the notifier's.
pub(crate) fn worker() -> Actor {
    Actor::system("worker").expect("a connector name")
}

/// Decides what a connector reports with `decide_system`, seals it as [`worker`] after the head,
/// folds it with `apply_entry` and checks that refolding the whole record gives the same state.
pub(crate) fn system(world: &mut World, command: SystemCommand) -> Result<Vec<Entry>, Refusal> {
    // Decided at the instant the entries will carry, as the store does.
    let events = decide::decide_system(&world.incident, &command, at(world.org.clock + 1))?;
    assert!(!events.is_empty(), "an accepted system command writes at least one entry");
    let entries = seal((world.incident.seq, world.incident.head), world.org.tick(), &worker(), &events);
    for entry in &entries {
        world.incident.apply_entry(entry).expect("a decided system entry folds");
    }
    world.record.extend(entries.iter().cloned());
    world.check_refold();
    Ok(entries)
}

/// Appends events that no decide function produces (forgeries), as `actor`. Nothing changes
/// when the fold refuses one of them.
pub(crate) fn append(world: &mut World, actor: &Actor, events: &[IncidentEvent]) -> Result<Vec<Entry>, FoldError> {
    let entries = seal((world.incident.seq, world.incident.head), world.org.tick(), actor, events);
    let mut next = world.incident.clone();
    for entry in &entries {
        next.apply_entry(entry)?;
    }
    world.incident = next;
    world.record.extend(entries.iter().cloned());
    world.check_refold();
    Ok(entries)
}

impl World {
    pub(crate) fn check_refold(&self) {
        let refolded = IncidentState::fold(&self.record).expect("the record folds from scratch");
        assert_eq!(state_json(&refolded), state_json(&self.incident), "refolding the record gives another state");
    }

    pub(crate) fn decision(&self, n: u64) -> &Decision {
        self.incident.decision(DecisionId(n)).expect("the decision exists")
    }

    pub(crate) fn task(&self, n: u64) -> &Task {
        self.incident.task(TaskId(n)).expect("the task exists")
    }

    pub(crate) fn head(&self) -> (u64, EntryHash) {
        (self.incident.seq, self.incident.head)
    }

    /// The incident's record kinds, in order.
    pub(crate) fn kinds(&self) -> Vec<&str> {
        self.record.iter().map(|e| e.kind.as_str()).collect()
    }
}

pub(crate) fn state_json(state: &IncidentState) -> Value {
    serde_json::to_value(state).expect("the state serialises")
}

// Commands, so that cases read as one line.

pub(crate) fn note(text: &str) -> IncidentCommand {
    IncidentCommand::AddNote { text: text.to_owned(), occurred: None }
}

pub(crate) fn fact(text: &str) -> IncidentCommand {
    IncidentCommand::LogFact {
        text: text.to_owned(),
        source: None,
        status: FactStatus::Unverified,
        basis: None,
        occurred: None,
    }
}

pub(crate) fn verify(n: u64, basis: &str) -> IncidentCommand {
    IncidentCommand::VerifyFact { fact: FactId(n), basis: basis.to_owned() }
}

pub(crate) fn disprove(n: u64, basis: &str) -> IncidentCommand {
    IncidentCommand::DisproveFact { fact: FactId(n), basis: basis.to_owned() }
}

pub(crate) fn task(title: &str) -> IncidentCommand {
    IncidentCommand::CreateTask { title: title.to_owned(), owner: None, due: None }
}

pub(crate) fn assign_task(n: u64, owner: &str) -> IncidentCommand {
    IncidentCommand::AssignTask { task: TaskId(n), owner: user(owner) }
}

pub(crate) fn complete(n: u64) -> IncidentCommand {
    IncidentCommand::CompleteTask { task: TaskId(n), note: None }
}

pub(crate) fn cancel(n: u64) -> IncidentCommand {
    IncidentCommand::CancelTask { task: TaskId(n), note: None }
}

pub(crate) fn block(n: u64, reason: &str) -> IncidentCommand {
    IncidentCommand::BlockTask { task: TaskId(n), reason: reason.to_owned() }
}

pub(crate) fn assign(r: &str, name: &str) -> IncidentCommand {
    IncidentCommand::AssignRole { role: role(r), user: user(name), unit: None }
}

pub(crate) fn hand_over(to: &str, reason: &str) -> IncidentCommand {
    IncidentCommand::HandOverCommand { to: user(to), reason: reason.to_owned() }
}

pub(crate) fn release(r: &str, name: &str) -> IncidentCommand {
    IncidentCommand::ReleaseRole { role: role(r), user: user(name), unit: None, reason: None }
}

pub(crate) fn propose(c: &str, title: &str) -> IncidentCommand {
    IncidentCommand::Propose {
        class: class(c),
        title: title.to_owned(),
        rationale: None,
        actions: Vec::new(),
        statement: None,
        clocks: Vec::new(),
    }
}

pub(crate) fn approve(n: u64) -> IncidentCommand {
    IncidentCommand::Approve { decision: DecisionId(n), note: None }
}

pub(crate) fn reject(n: u64, why: &str) -> IncidentCommand {
    IncidentCommand::Reject { decision: DecisionId(n), note: why.to_owned() }
}

pub(crate) fn withdraw(n: u64) -> IncidentCommand {
    IncidentCommand::Withdraw { decision: DecisionId(n), note: None }
}

pub(crate) fn with_actions(c: &str, title: &str, actions: Vec<ActionSpec>) -> IncidentCommand {
    IncidentCommand::Propose {
        class: class(c),
        title: title.to_owned(),
        rationale: None,
        actions,
        statement: None,
        clocks: Vec::new(),
    }
}

pub(crate) fn webhook(destination: &str) -> ActionSpec {
    ActionSpec::Webhook { destination: destination.to_owned(), payload: json!({"key": "deploy-1"}) }
}

pub(crate) fn notify() -> ActionSpec {
    ActionSpec::Notify { message: None }
}

/// A playbook's inputs from `(name, value)` pairs.
pub(crate) fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

pub(crate) fn run_playbook(id: &str, given: &[(&str, &str)]) -> IncidentCommand {
    IncidentCommand::RunPlaybook { playbook: id.to_owned(), inputs: inputs(given) }
}

pub(crate) fn retry(decision: u64, action: u32) -> IncidentCommand {
    IncidentCommand::RetryAction { decision: DecisionId(decision), action }
}

// What connectors report, for `system`.

pub(crate) fn start(decision: u64, action: u32) -> SystemCommand {
    SystemCommand::StartAction { decision: DecisionId(decision), action }
}

pub(crate) fn succeed(decision: u64, action: u32, detail: Option<&str>) -> SystemCommand {
    SystemCommand::FinishAction {
        decision: DecisionId(decision),
        action,
        outcome: Ok(detail.map(str::to_owned)),
        told: Vec::new(),
    }
}

pub(crate) fn fail(decision: u64, action: u32, reason: &str, retryable: bool) -> SystemCommand {
    SystemCommand::FinishAction {
        decision: DecisionId(decision),
        action,
        outcome: Err(ActionFailure { reason: reason.to_owned(), retryable }),
        told: Vec::new(),
    }
}

/// A `notify` action that told `told` and then failed on the next channel.
pub(crate) fn fail_after_telling(decision: u64, action: u32, told: &[&str], reason: &str) -> SystemCommand {
    SystemCommand::FinishAction {
        decision: DecisionId(decision),
        action,
        outcome: Err(ActionFailure { reason: reason.to_owned(), retryable: true }),
        told: told.iter().map(|c| (*c).to_owned()).collect(),
    }
}

pub(crate) fn run_task(decision: u64, action: u32) -> SystemCommand {
    SystemCommand::RunTaskAction { decision: DecisionId(decision), action }
}

pub(crate) fn delivered(decision: u64, moment: Moment, channel: &str) -> SystemCommand {
    SystemCommand::Notified {
        decision: DecisionId(decision),
        moment,
        channel: channel.to_owned(),
        outcome: Ok(Some("HTTP 200".to_owned())),
    }
}

pub(crate) fn undelivered(
    decision: u64,
    moment: Moment,
    channel: &str,
    reason: &str,
    retryable: bool,
) -> SystemCommand {
    SystemCommand::Notified {
        decision: DecisionId(decision),
        moment,
        channel: channel.to_owned(),
        outcome: Err(ActionFailure { reason: reason.to_owned(), retryable }),
    }
}

// Refusals: each returns the message, for assertions on what it tells the person.

#[track_caller]
pub(crate) fn forbidden<T: Debug>(result: Result<T, Refusal>, rule: &str) -> String {
    match result {
        Err(Refusal::Forbidden { rule: got, message }) if got == rule => message,
        other => panic!("expected Forbidden by rule '{rule}', got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn invalid<T: Debug>(result: Result<T, Refusal>, field: &str) -> String {
    match result {
        Err(Refusal::Invalid { field: got, message }) if got == field => message,
        other => panic!("expected Invalid field '{field}', got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn conflict<T: Debug>(result: Result<T, Refusal>) -> String {
    match result {
        Err(Refusal::Conflict(message)) => message,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn not_found<T: Debug>(result: Result<T, Refusal>) -> String {
    match result {
        Err(Refusal::NotFound(message)) => message,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Seals `event` after `after` as `actor`: applying it to the state and refolding the record with
/// it must both refuse it, naming its seq.
#[track_caller]
pub(crate) fn fold_refuses(w: &World, after: (u64, EntryHash), actor: &Actor, event: IncidentEvent) -> FoldError {
    let entry = seal(after, at(9_999), actor, &[event]).remove(0);
    let error = w.incident.clone().apply_entry(&entry).expect_err("the fold refuses the entry");
    assert_eq!((error.seq, error.kind.as_str()), (entry.seq, entry.kind.as_str()));
    assert!(error.to_string().starts_with(&format!("seq {} ({})", entry.seq, entry.kind)), "{error}");
    let mut record = w.record.clone();
    record.push(entry);
    assert_eq!(IncidentState::fold(&record).expect_err("refolding refuses it too"), error);
    error
}

/// Asserts that `text` contains every one of `parts`.
#[track_caller]
pub(crate) fn says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "'{text}' does not say '{part}'");
    }
}

// Evidence, third parties and statements.

/// A SHA-256 (64 lower-case hex digits) that differs for each `n`; the core never sees blobs.
pub(crate) fn blob(n: u64) -> String {
    format!("{n:016x}{}", "b".repeat(48))
}

pub(crate) fn register(sha256: &str, name: &str) -> IncidentCommand {
    IncidentCommand::RegisterEvidence(EvidenceRegistered {
        sha256: sha256.to_owned(),
        size: 1234,
        name: name.to_owned(),
        declared_type: Some("text/plain".into()),
        sniffed_type: None,
        source: Some("CloudTrail export".into()),
        collected_by: Some("tech".into()),
        collected_at: Some(at(-60)),
    })
}

pub(crate) fn access(sha256: &str, purpose: &str) -> IncidentCommand {
    IncidentCommand::AccessEvidence { sha256: sha256.to_owned(), purpose: purpose.to_owned() }
}

/// A registry entry for a managed-service provider.
pub(crate) fn msp(id: &str) -> Party {
    Party {
        party: id.to_owned(),
        name: "Acme Managed Services".into(),
        kind: PartyKind::Msp,
        contacts: vec![Contact {
            name: "Pat Duty".into(),
            role: Some("SOC lead".into()),
            email: Some("soc@acme.example".into()),
            phone: Some("+44 20 7946 0000".into()),
        }],
        operates: Some("our CI runners".into()),
        authority: vec!["may suspend their integration".into(), "may revoke their access".into()],
        sharing_rule: Some("logs only, through an approved share".into()),
    }
}

/// Registers `id` in the world's organisation as the admin.
pub(crate) fn register_party(world: &mut World, id: &str) {
    world.org.act(ADMIN, OrgCommand::RegisterParty(msp(id))).expect("the admin registers a party");
}

pub(crate) fn engage(party: &str) -> IncidentCommand {
    IncidentCommand::EngageParty { party: party.to_owned(), reason: Some("they run the CI runners".into()) }
}

pub(crate) fn share(party: &str, items: &[&str], hours: u32) -> ActionSpec {
    ActionSpec::Share {
        party: party.to_owned(),
        items: items.iter().map(|s| (*s).to_owned()).collect(),
        expires_in_hours: hours,
    }
}

pub(crate) fn run_share(decision: u64, action: u32) -> SystemCommand {
    SystemCommand::RunShareAction { decision: DecisionId(decision), action }
}

pub(crate) fn share_used(share: u64, sha256: &str) -> SystemCommand {
    SystemCommand::ShareUsed { share: sitrep_core::ids::ShareId(share), sha256: sha256.to_owned() }
}

pub(crate) fn draft(audience: Audience, text: &str) -> IncidentCommand {
    IncidentCommand::DraftStatement { audience, title: "Security notice".into(), text: text.to_owned() }
}

pub(crate) fn revise(statement: u64, text: &str) -> IncidentCommand {
    IncidentCommand::ReviseStatement { statement: sitrep_core::ids::StatementId(statement), text: text.to_owned() }
}

/// Proposes approving statement `statement`'s latest version through `c`.
pub(crate) fn propose_statement(c: &str, statement: u64) -> IncidentCommand {
    IncidentCommand::Propose {
        class: class(c),
        title: format!("Approve ST-{statement}"),
        rationale: None,
        actions: Vec::new(),
        statement: Some(sitrep_core::ids::StatementId(statement)),
        clocks: Vec::new(),
    }
}

pub(crate) fn publish(statement: u64, channel: &str) -> IncidentCommand {
    IncidentCommand::PublishStatement {
        statement: sitrep_core::ids::StatementId(statement),
        channel: channel.to_owned(),
        sha256: None,
        outlet_for: Vec::new(),
    }
}

/// Publishes statement `statement` on `channel`, a configured outlet of `audience`.
pub(crate) fn publish_to_outlet(statement: u64, channel: &str, audience: Audience) -> IncidentCommand {
    IncidentCommand::PublishStatement {
        statement: sitrep_core::ids::StatementId(statement),
        channel: channel.to_owned(),
        sha256: None,
        outlet_for: vec![audience],
    }
}

/// The publisher's report of one delivery of statement `statement` v`version` to `channel`.
pub(crate) fn delivery(
    statement: u64,
    version: u32,
    channel: &str,
    text: &str,
    outcome: Result<Option<String>, sitrep_core::decide::ActionFailure>,
) -> SystemCommand {
    SystemCommand::StatementDelivered {
        statement: sitrep_core::ids::StatementId(statement),
        version,
        channel: channel.to_owned(),
        sha256: sitrep_core::entry::sha256_hex(text.as_bytes()),
        outcome,
    }
}

// The post-incident review.

pub(crate) fn lesson(what: &str) -> IncidentCommand {
    IncidentCommand::RecordLesson {
        what_happened: what.to_owned(),
        why: "the key was long-lived and unscanned".into(),
        change: "short-lived credentials and pre-commit scanning".into(),
    }
}

pub(crate) fn control_change(lesson: u64, owner: &str, csf: &str) -> IncidentCommand {
    IncidentCommand::PlanControlChange {
        lesson: sitrep_core::ids::LessonId(lesson),
        title: "Enforce secret scanning on every repository".into(),
        owner: user(owner),
        due: at(30 * 24 * 3600),
        csf: csf.to_owned(),
    }
}

pub(crate) fn complete_review(summary: &str) -> IncidentCommand {
    IncidentCommand::CompleteReview { summary: summary.to_owned() }
}

/// Records one lesson with one control change and completes the review, as the commander `cmd`,
/// so the incident may close.
pub(crate) fn review(world: &mut World) {
    review_by(world, "cmd");
}

/// [`review`], as `by` (who also owns the control change).
pub(crate) fn review_by(world: &mut World, by: &str) {
    let lesson_id = world.incident.review.lessons.len() as u64 + 1;
    act(world, by, lesson("A deploy key was committed to a public repository")).expect("a lesson");
    act(world, by, control_change(lesson_id, by, "PR.AA-05")).expect("a control change");
    act(world, by, complete_review("Contained in 40 minutes; no customer data read.")).expect("the review");
}

// Regulatory clocks.

pub(crate) fn determine(determination: &str, aware_at: Option<Timestamp>) -> IncidentCommand {
    IncidentCommand::RecordDetermination {
        determination: determination.to_owned(),
        basis: "confirmed by the data inventory".into(),
        aware_at,
    }
}

/// Moves the harness clock so the next entry is stamped `at(n)`.
pub(crate) fn jump_to(world: &mut World, n: i64) {
    world.org.clock = n - 1;
}

/// The post-incident report of `state` (as of its seq) from `record`, as `viewer` may read it.
pub(crate) fn report_of(
    record: &[sitrep_core::Entry],
    state: &sitrep_core::IncidentState,
    w: &World,
    viewer: &str,
) -> sitrep_core::post_report::PostIncidentReport {
    let viewer = user(viewer);
    let view = sitrep_core::IncidentView::of(state, &w.org.state, &viewer, w.org.now()).expect("the viewer sees it");
    sitrep_core::post_report::PostIncidentReport::of(record, &view)
}
