//! What the pages show, prepared from the folded state so templates only lay it out.
//!
//! Which controls a person sees is not decided here: every form is offered only if the same
//! `decide_incident` that enforces the policy would accept it (a dry run against the current
//! state), so the page can never offer what the server would refuse, or hide what it allows.

use sitrep_core::decide::{IncidentCommand, decide_incident};
use sitrep_core::events::{ActionSpec, DecisionState, FactStatus};
use sitrep_core::incident::{ActionStatus, Decision, IncidentState, TaskState};
use sitrep_core::sitrep::age;
use sitrep_core::view::IncidentView;
use sitrep_core::{Entry, OrgState, Phase, Severity, Timestamp, UserName};

/// The signed-in person, for the page frame.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub display_name: String,
    pub csrf: String,
    pub may_read_org_record: bool,
}

#[derive(Debug, Clone)]
pub struct RoleRow {
    /// The role's name as the policy writes it (`tech_lead`), for forms.
    pub key: String,
    /// The role's name for people (`tech lead`).
    pub role: String,
    pub holders: Vec<String>,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct FactRow {
    pub id: String,
    pub text: String,
    pub source: String,
    pub logged_by: String,
    pub logged_at: String,
    /// When it happened, if it differs from when it was logged, with the backfill reason.
    pub occurred_at: String,
    pub backfill_reason: String,
    pub judged_by: String,
    pub judged_at: String,
    pub basis: String,
    pub can_verify: bool,
    pub can_disprove: bool,
}

#[derive(Debug, Clone)]
pub struct EndorsementRow {
    pub user: String,
    pub role: String,
    pub at: String,
    pub note: String,
    pub implied: bool,
}

#[derive(Debug, Clone)]
pub struct ActionRow {
    /// 1 for the first action.
    pub number: u32,
    pub can_retry: bool,
    pub connector: String,
    pub target: String,
    /// What it will send or do, in short: a webhook's payload, a command's input, a message.
    pub detail: String,
    pub status: String,
    pub failed: bool,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct DecisionCard {
    pub id: String,
    pub class: String,
    pub title: String,
    pub rationale: String,
    pub proposer: String,
    pub proposed_at: String,
    pub state: String,
    pub waiting_on: String,
    pub must_act: String,
    pub rule: String,
    pub approvals: Vec<EndorsementRow>,
    pub rejections: Vec<EndorsementRow>,
    pub withdrawn: String,
    /// "pre-approved by playbook leaked-secret v1.0.0 (approved by …)".
    pub citation: String,
    pub actions: Vec<ActionRow>,
    pub can_approve: bool,
    pub can_reject: bool,
    pub can_withdraw: bool,
    /// The exact statement text it approves, and its changes from the audience's last approved text.
    pub statement: Option<sitrep_core::statement_text::BoundText>,
    /// A statement class with no statement bound: there is nothing to approve.
    pub unbound_statement: bool,
    /// Who is told of it (the class's communications path when it was proposed).
    pub told: String,
    /// The regulatory clocks its execution stops, with their deadlines.
    pub clocks: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub title: String,
    pub due: String,
    pub overdue: bool,
    pub state: String,
    pub note: String,
    pub open: bool,
}

#[derive(Debug, Clone)]
pub struct TaskGroup {
    pub owner: String,
    pub tasks: Vec<TaskRow>,
}

#[derive(Debug, Clone)]
pub struct EntryRow {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub hash: String,
    pub summary: String,
    /// Which filter of the record shows it: decisions, facts, tasks, comms, roles or other.
    pub family: &'static str,
    /// A delivery notice or an evidence read: folded away unless asked for.
    pub notice: bool,
    /// For a fact or note that says when it happened (apart from when it was recorded): that
    /// time and the backfill reason, in words.
    pub occurred: String,
}

/// One of the viewer's own tasks, in the queue at the top of the page.
#[derive(Debug, Clone)]
pub struct QueueTask {
    pub id: String,
    pub title: String,
    pub due: String,
    /// "due in 1 h 40 min", "overdue by 12 min", or empty for an undated task.
    pub due_in: String,
    pub overdue: bool,
    pub blocked: bool,
    pub note: String,
}

/// One of the viewer's own proposals still waiting on someone else.
#[derive(Debug, Clone)]
pub struct StuckProposal {
    pub id: String,
    pub title: String,
    pub waiting_on: String,
    pub must_act: String,
}

/// A phase in the header's stepper.
#[derive(Debug, Clone)]
pub struct PhaseStep {
    pub phase: String,
    /// "done", "current" or "next".
    pub state: &'static str,
}

/// The phase the record says the incident has reached, offered to whoever may move it.
#[derive(Debug, Clone)]
pub struct PhaseOffer {
    /// The phase as the form sends it.
    pub phase: String,
    /// "Mark contained", "Move to triage".
    pub label: String,
    /// What in the record suggests it, or empty.
    pub why: String,
}

/// One incident's command view, for one person.
#[derive(Debug, Clone)]
pub struct CommandView {
    /// "Next update promised for …" and its cadence, or empty.
    pub next_update: String,
    /// The viewer may promise the next update (the commander).
    pub can_promise_update: bool,
    pub id: String,
    pub title: String,
    pub phase: String,
    pub severity: String,
    pub age: String,
    pub declared_at: String,
    pub declared_by: String,
    pub restricted: bool,
    pub exercise: bool,
    pub closed: bool,
    pub seq: u64,
    pub roles: Vec<RoleRow>,
    pub unfilled: Vec<String>,
    pub needs_you: Vec<DecisionCard>,
    /// The viewer's open and blocked tasks, soonest due first.
    pub my_tasks: Vec<QueueTask>,
    /// The viewer's proposals still waiting on others.
    pub stuck: Vec<StuckProposal>,
    /// The last few entries that changed something (delivery notices and reads left out).
    pub recent: Vec<EntryRow>,
    pub stepper: Vec<PhaseStep>,
    /// Open tasks, for the section bar's count.
    pub open_tasks: usize,
    pub phase_offer: Option<PhaseOffer>,
    pub verified: Vec<FactRow>,
    pub unverified: Vec<FactRow>,
    pub disproved: Vec<FactRow>,
    pub decisions: Vec<DecisionCard>,
    pub task_groups: Vec<TaskGroup>,
    pub timeline: Vec<EntryRow>,
    pub timeline_hidden: usize,
    /// How many of the timeline's entries are notices, folded away until asked for.
    pub timeline_notices: usize,
    pub chain_ok: bool,
    pub chain_detail: String,
    pub can_log_fact: bool,
    pub can_add_task: bool,
    pub can_note: bool,
    pub can_set_phase: bool,
    pub can_set_severity: bool,
    pub can_assign: bool,
    /// Who commands now, and every hand-over in words, oldest first.
    pub commander: String,
    pub handovers: Vec<String>,
    pub can_hand_over: bool,
    pub proposable: Vec<String>,
    /// The ids of the playbooks that may be started now (the form's fields are `forms.rs`'s).
    pub playbooks: Vec<String>,
    pub started_playbooks: Vec<String>,
    /// Each phase and severity, with whether it is the current one.
    pub phases: Vec<(String, bool)>,
    pub severities: Vec<(String, bool)>,
    pub role_names: Vec<String>,
    pub users: Vec<String>,
    /// Who command may be handed to: active people who may act (not viewers or auditors),
    /// other than the commander.
    pub commander_candidates: Vec<String>,
    pub participants: Vec<String>,
}

/// The newest entries shown in the timeline; older ones are in the record itself.
pub const TIMELINE: usize = 300;

/// "2026-11-27 17:27 UTC": the one way every page writes a time, to the minute people read.
/// Pages put it in `<time datetime>` (see [`super::filters`]); `static/time.js` then shows it
/// in the viewer's zone with UTC beside it. The record's exact instant stays in the record.
pub fn when(at: Timestamp) -> String {
    let text = at.to_string();
    match (text.get(..10), text.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

/// "happened 2026-11-27 02:41 UTC (backfilled: git log)" for a fact or note whose occurrence
/// time differs from its recording; empty otherwise.
fn occurred_words(entry: &sitrep_core::entry::Entry) -> String {
    use sitrep_core::events::IncidentEvent;
    let (occurred, reason) = match IncidentEvent::parse(&entry.kind, &entry.body) {
        Ok(IncidentEvent::FactLogged(f)) => (f.occurred_at, f.backfill_reason),
        Ok(IncidentEvent::NoteAdded(n)) => (n.occurred_at, n.backfill_reason),
        _ => (None, None),
    };
    match occurred.filter(|at| *at != entry.at) {
        Some(at) => {
            format!("happened {}{}", when(at), reason.map(|r| format!(" (backfilled: {r})")).unwrap_or_default())
        }
        None => String::new(),
    }
}

/// Whether a record verifies, in words.
#[derive(Debug, Clone)]
pub struct Chain {
    pub ok: bool,
    pub detail: String,
}

fn words(snake: &str) -> String {
    snake.replace('_', " ")
}

/// Whether the policy lets `user` start playbooks here: only the permission is probed (a
/// playbook that does not exist is the one objection that does not matter).
fn probe_playbook(state: &IncidentState, org: &OrgState, user: &UserName) -> bool {
    let command = IncidentCommand::RunPlaybook { playbook: String::new(), inputs: Default::default() };
    matches!(
        decide_incident(state, org, user, &command, state.updated_at),
        Ok(_) | Err(sitrep_core::Refusal::Invalid { .. })
    )
}

/// Whether the policy would let `user` do this now: the real decision, run dry (judged at the
/// time of the record's head; no offered control depends on the clock). A class's step-up
/// does not hide a control: using it leads through signing in again.
fn allowed(state: &IncidentState, org: &OrgState, user: &UserName, command: IncidentCommand) -> bool {
    match decide_incident(state, org, user, &command, state.updated_at) {
        Ok(_) => true,
        Err(sitrep_core::Refusal::Forbidden { rule, .. }) => rule.ends_with(".step_up"),
        Err(_) => false,
    }
}

/// The longest action detail shown on a card; the record holds the whole.
const DETAIL: usize = 400;

/// What an action will send or do, as an approver reads it before approving.
fn action_detail(spec: &ActionSpec) -> String {
    let text = match spec {
        ActionSpec::Task { owner_role, due_in_minutes, .. } => format!(
            "a task for the {}{}",
            owner_role.as_ref().map_or_else(|| "commander".to_owned(), |r| words(r.as_str())),
            due_in_minutes.map(|m| format!(", due {m} min after approval")).unwrap_or_default()
        ),
        ActionSpec::Webhook { payload, .. } if !payload.is_null() => format!("sends {payload}"),
        ActionSpec::Command { input, .. } if !input.is_null() => format!("with input {input}"),
        ActionSpec::Notify { message: Some(message) } => format!("says “{message}”"),
        ActionSpec::Share { items, .. } => {
            let short: Vec<&str> = items.iter().map(|i| i.get(..12).unwrap_or(i)).collect();
            format!("evidence {}", short.join(", "))
        }
        _ => String::new(),
    };
    match text.char_indices().nth(DETAIL) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// "commander (maria); legal (lena)": who can move a proposed decision forward.
fn must_act_words(seen: &sitrep_core::view::DecisionView<'_>) -> String {
    seen.must_act
        .iter()
        .flatten()
        .map(|must| {
            let holders: Vec<String> = must.holders.iter().map(ToString::to_string).collect();
            format!(
                "{} ({})",
                words(must.role.as_str()),
                if holders.is_empty() { "unfilled".into() } else { holders.join(", ") }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The promised update as the header says it: when, how soon, and the cadence after it.
fn next_update_words(state: &sitrep_core::IncidentState, now: Timestamp) -> String {
    let Some(promise) = &state.alerts.update else { return String::new() };
    let Some(next) = promise.upcoming(now).or(promise.last_due(now)) else { return String::new() };
    let cadence = promise.every_minutes.map(|m| format!(", then every {m} minutes")).unwrap_or_default();
    if next > now {
        format!("Next update promised for {} (in {}){cadence}", when(next), age(now, next))
    } else {
        format!("The update promised for {} is due{cadence}", when(next))
    }
}

fn decision_card(view: &IncidentView<'_>, decision: &Decision) -> DecisionCard {
    let (state, org, user) = (view.state(), view.org(), view.viewer());
    let seen = view.decision(decision);
    let open = decision.state == DecisionState::Proposed;
    let must_act = must_act_words(&seen);
    let endorsement = |a: &sitrep_core::incident::Approval| EndorsementRow {
        user: a.user.to_string(),
        role: a.role.as_ref().map(|r| words(r.as_str())).unwrap_or_default(),
        at: when(a.at),
        note: a.note.clone().unwrap_or_default(),
        implied: a.implied,
    };
    DecisionCard {
        id: decision.id.to_string(),
        class: words(decision.class.as_str()),
        title: decision.title.clone(),
        rationale: decision.rationale.clone().unwrap_or_default(),
        proposer: decision.proposer.to_string(),
        proposed_at: when(decision.proposed_at),
        state: decision.state.as_str().to_owned(),
        waiting_on: seen.waiting_on.clone().unwrap_or_default(),
        must_act,
        rule: format!("needs {}; {} people", decision.rule.approve.describe(), decision.rule.people),
        approvals: decision.approvals.iter().map(endorsement).collect(),
        rejections: decision.rejections.iter().map(endorsement).collect(),
        withdrawn: decision
            .withdrawn
            .as_ref()
            .map(|w| format!("withdrawn by {} at {}", w.user, when(w.at)))
            .unwrap_or_default(),
        citation: decision
            .playbook
            .as_ref()
            .map(|c| {
                format!(
                    "pre-approved by playbook {} v{} (approved by {}; file sha256 {})",
                    c.playbook,
                    c.version,
                    c.approved_by,
                    &c.sha256[..12]
                )
            })
            .unwrap_or_default(),
        actions: decision
            .actions
            .iter()
            .enumerate()
            .map(|(index, action)| ActionRow {
                number: index as u32 + 1,
                can_retry: action.status == ActionStatus::Failed
                    && allowed(
                        state,
                        org,
                        user,
                        IncidentCommand::RetryAction { decision: decision.id, action: index as u32 },
                    ),
                connector: action.spec.connector().to_owned(),
                target: match &action.spec {
                    ActionSpec::Task { title, .. } => title.clone(),
                    ActionSpec::Webhook { destination, .. } => destination.clone(),
                    ActionSpec::Command { command, .. } => command.clone(),
                    ActionSpec::Notify { .. } => "communications path".into(),
                    ActionSpec::Share { party, items, expires_in_hours } => {
                        format!("{} item(s) with {party} for {expires_in_hours} h", items.len())
                    }
                },
                detail: action_detail(&action.spec),
                status: match action.status {
                    ActionStatus::Pending if decision.state != DecisionState::Approved => "runs when approved".into(),
                    ActionStatus::Pending => "pending".into(),
                    ActionStatus::Running => "running".into(),
                    ActionStatus::Succeeded => "succeeded".into(),
                    ActionStatus::Failed => "failed".into(),
                },
                failed: action.status == ActionStatus::Failed,
                error: action.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        can_approve: open && allowed(state, org, user, IncidentCommand::Approve { decision: decision.id, note: None }),
        can_reject: open
            && allowed(state, org, user, IncidentCommand::Reject { decision: decision.id, note: "reason".into() }),
        can_withdraw: open
            && allowed(state, org, user, IncidentCommand::Withdraw { decision: decision.id, note: None }),
        statement: seen.statement_text,
        unbound_statement: decision.statement.is_none() && sitrep_core::decide::is_statement_class(&decision.class),
        told: decision.path.join(", "),
        clocks: decision
            .clocks
            .iter()
            .map(|name| match state.clocks.iter().find(|c| &c.clock == name) {
                Some(clock) => format!("{} (deadline {})", clock.title, when(clock.deadline)),
                None => name.clone(),
            })
            .collect(),
    }
}

impl CommandView {
    /// `recent` are the newest entries of the record (oldest first); `chain` says whether the
    /// whole record verifies.
    pub fn build(view: &IncidentView<'_>, recent: &[Entry], chain: &Chain) -> CommandView {
        let (state, org, user, now) = (view.state(), view.org(), view.viewer(), view.now());
        let policy = &org.policy;
        let probe = |command: IncidentCommand| allowed(state, org, user, command);
        let other_phase = if state.phase == Phase::Triage { Phase::Containment } else { Phase::Triage };
        let other_severity = if state.severity == Severity::Sev4 { Severity::Sev3 } else { Severity::Sev4 };
        let queue = view.queue();
        let timeline = timeline(view, recent);
        let promise = IncidentCommand::ScheduleUpdate {
            next_at: now.plus_seconds(3600),
            every_minutes: None,
            subscribers: Vec::new(),
        };
        CommandView {
            next_update: next_update_words(state, now),
            can_promise_update: probe(promise),
            id: state.id.to_string(),
            title: state.title.clone(),
            phase: state.phase.as_str().to_owned(),
            severity: state.severity.as_str().to_owned(),
            age: age(state.declared_at, now),
            declared_at: when(state.declared_at),
            declared_by: state.declared_by.to_string(),
            restricted: state.restricted,
            exercise: state.exercise,
            closed: state.phase == Phase::Closed,
            seq: state.seq,
            roles: role_rows(state, org),
            unfilled: state
                .vacant(&policy.roles.required, |user| org.is_active(user))
                .into_iter()
                .map(|r| words(r.as_str()))
                .collect(),
            needs_you: queue.decisions.iter().map(|d| decision_card(view, d)).collect(),
            my_tasks: queue.tasks.iter().map(|t| queue_task(t, now)).collect(),
            stuck: queue
                .stuck
                .iter()
                .map(|d| StuckProposal {
                    id: d.decision.id.to_string(),
                    title: d.decision.title.clone(),
                    waiting_on: d.waiting_on.clone().unwrap_or_default(),
                    must_act: must_act_words(d),
                })
                .collect(),
            recent: timeline.iter().filter(|e| !e.notice).take(RECENT).cloned().collect(),
            stepper: stepper(state.phase),
            open_tasks: state.tasks.iter().filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked)).count(),
            phase_offer: if probe(IncidentCommand::SetPhase { phase: other_phase }) {
                phase_offer(state)
            } else {
                None
            },
            verified: fact_rows(state, org, user, FactStatus::Verified),
            unverified: fact_rows(state, org, user, FactStatus::Unverified),
            disproved: fact_rows(state, org, user, FactStatus::Disproved),
            decisions: state.decisions.iter().rev().map(|d| decision_card(view, d)).collect(),
            task_groups: task_groups(state, now),
            timeline_notices: timeline.iter().filter(|e| e.notice).count(),
            timeline,
            timeline_hidden: (state.seq as usize).saturating_sub(recent.len()),
            chain_ok: chain.ok,
            chain_detail: chain.detail.clone(),
            can_log_fact: probe(IncidentCommand::LogFact {
                text: "probe".into(),
                source: None,
                status: FactStatus::Unverified,
                basis: None,
                occurred: None,
            }),
            can_add_task: probe(IncidentCommand::CreateTask { title: "probe".into(), owner: None, due: None }),
            can_note: probe(IncidentCommand::AddNote { text: "probe".into(), occurred: None }),
            can_set_phase: probe(IncidentCommand::SetPhase { phase: other_phase }),
            can_set_severity: probe(IncidentCommand::SetSeverity { severity: other_severity, reason: None }),
            can_assign: can_assign(state, org, user),
            commander: state.commander().map(ToString::to_string).unwrap_or_default(),
            handovers: state
                .handovers
                .iter()
                .map(|h| {
                    format!(
                        "{}: {} handed command to {} (recorded by {}): {}",
                        when(h.at),
                        h.from,
                        h.to,
                        h.by,
                        h.reason
                    )
                })
                .collect(),
            can_hand_over: can_hand_over(state, org, user),
            proposable: proposable(state, org, user),
            playbooks: offered_playbooks(state, org, user),
            started_playbooks: state
                .playbooks
                .iter()
                .map(|p| format!("{} v{} (started by {} at {})", p.id, p.version, p.started_by, when(p.started_at)))
                .collect(),
            phases: Phase::ALL
                .iter()
                .filter(|p| **p != Phase::Closed)
                .map(|p| (p.as_str().to_owned(), *p == state.phase))
                .collect(),
            severities: Severity::ALL.iter().map(|s| (s.as_str().to_owned(), *s == state.severity)).collect(),
            role_names: policy.all_roles().map(ToString::to_string).collect(),
            users: org.users.values().filter(|u| u.active).map(|u| u.name.to_string()).collect(),
            commander_candidates: org
                .users
                .values()
                .filter(|u| u.may_act() && Some(&u.name) != state.commander())
                .map(|u| u.name.to_string())
                .collect(),
            participants: {
                let mut people: Vec<String> = state.roles.values().flatten().map(ToString::to_string).collect();
                people.sort();
                people.dedup();
                people
            },
        }
    }
}

/// The facts of one status, in the order things happened (a backfilled fact sits where it
/// happened).
fn fact_rows(state: &IncidentState, org: &OrgState, user: &UserName, status: FactStatus) -> Vec<FactRow> {
    let fact_row = |fact: &sitrep_core::incident::Fact| FactRow {
        id: fact.id.to_string(),
        text: fact.text.clone(),
        source: fact.source.clone().unwrap_or_default(),
        logged_by: fact.logged_by.to_string(),
        logged_at: when(fact.logged_at),
        occurred_at: if fact.occurred_at == fact.logged_at { String::new() } else { when(fact.occurred_at) },
        backfill_reason: fact.backfill_reason.clone().unwrap_or_default(),
        judged_by: fact.judged.as_ref().map(|j| j.by.to_string()).unwrap_or_default(),
        judged_at: fact.judged.as_ref().map(|j| when(j.at)).unwrap_or_default(),
        basis: fact.judged.as_ref().map(|j| j.basis.clone()).unwrap_or_default(),
        can_verify: fact.status != FactStatus::Verified
            && allowed(state, org, user, IncidentCommand::VerifyFact { fact: fact.id, basis: "basis".into() }),
        can_disprove: fact.status != FactStatus::Disproved
            && allowed(state, org, user, IncidentCommand::DisproveFact { fact: fact.id, basis: "basis".into() }),
    };
    let mut chosen: Vec<&sitrep_core::incident::Fact> = state.facts.iter().filter(|f| f.status == status).collect();
    chosen.sort_by_key(|f| (f.occurred_at, f.id));
    chosen.into_iter().map(fact_row).collect()
}

/// The required roles and any other role held, required first.
fn role_rows(state: &IncidentState, org: &OrgState) -> Vec<RoleRow> {
    let policy = &org.policy;
    let mut roles: Vec<RoleRow> = policy
        .all_roles()
        .filter_map(|role| {
            let holders: Vec<String> =
                state.roles.get(role).map(|u| u.iter().map(ToString::to_string).collect()).unwrap_or_default();
            let required = policy.roles.required.contains(role);
            (required || !holders.is_empty()).then(|| RoleRow {
                key: role.to_string(),
                role: words(role.as_str()),
                holders,
                required,
            })
        })
        .collect();
    roles.sort_by_key(|r| !r.required);
    roles
}

/// Tasks grouped by owner, open ones first within each owner.
fn task_groups(state: &IncidentState, now: Timestamp) -> Vec<TaskGroup> {
    let mut groups: Vec<TaskGroup> = Vec::new();
    let mut tasks: Vec<&sitrep_core::incident::Task> = state.tasks.iter().collect();
    tasks.sort_by_key(|t| (t.owner.clone(), !matches!(t.state, TaskState::Open | TaskState::Blocked), t.due));
    for task in tasks {
        let owner = task.owner.as_ref().map_or_else(|| "unassigned".to_owned(), ToString::to_string);
        let open = matches!(task.state, TaskState::Open | TaskState::Blocked);
        let row = TaskRow {
            id: task.id.to_string(),
            title: task.title.clone(),
            due: task.due.map(when).unwrap_or_default(),
            overdue: open && task.due.is_some_and(|d| d < now),
            state: match task.state {
                TaskState::Open => "open",
                TaskState::Done => "done",
                TaskState::Blocked => "blocked",
                TaskState::Cancelled => "cancelled",
            }
            .to_owned(),
            note: task.note.clone().unwrap_or_default(),
            open,
        };
        match groups.last_mut() {
            Some(group) if group.owner == owner => group.tasks.push(row),
            _ => groups.push(TaskGroup { owner, tasks: vec![row] }),
        }
    }
    groups
}

/// The newest entries, newest first; evidence entries described only to evidence readers.
fn timeline(view: &IncidentView<'_>, recent: &[Entry]) -> Vec<EntryRow> {
    recent
        .iter()
        .rev()
        .map(|entry| EntryRow {
            seq: entry.seq,
            at: when(entry.at),
            actor: entry.actor.to_string(),
            kind: entry.kind.clone(),
            hash: entry.hash.short(),
            summary: if view.entry(entry).is_redacted() {
                "an evidence entry (shown to those who may read evidence)".to_owned()
            } else {
                sitrep_core::post_report::describe(entry, true)
            },
            family: family(&entry.kind),
            notice: NOTICES.contains(&entry.kind.as_str()),
            occurred: occurred_words(entry),
        })
        .collect()
}

/// The record filter an entry kind belongs to.
fn family(kind: &str) -> &'static str {
    match kind.split('.').next().unwrap_or_default() {
        "decision" | "action" => "decisions",
        "fact" | "note" | "determination" | "incident" => "facts",
        "task" | "control_change" | "lesson" | "review" => "tasks",
        "statement" | "share" | "party" | "notification" | "clock" => "comms",
        "role" | "commander" | "playbook" => "roles",
        _ => "other",
    }
}

/// The decision classes `user` may propose now.
fn proposable(state: &IncidentState, org: &OrgState, user: &UserName) -> Vec<String> {
    org.policy
        .classes
        .iter()
        .filter(|c| {
            allowed(
                state,
                org,
                user,
                IncidentCommand::Propose {
                    class: c.class.clone(),
                    title: "probe".into(),
                    rationale: None,
                    actions: Vec::new(),
                    statement: None,
                    clocks: Vec::new(),
                },
            )
        })
        .map(|c| c.class.to_string())
        .collect()
}

/// Assigning is allowed when the only objection is to the particular role or person.
fn can_assign(state: &IncidentState, org: &OrgState, user: &UserName) -> bool {
    state.phase != Phase::Closed
        && org.policy.all_roles().next().is_some_and(|role| {
            let command = IncidentCommand::AssignRole { role: role.clone(), user: user.clone(), unit: None };
            !matches!(
                decide_incident(state, org, user, &command, state.updated_at),
                Err(sitrep_core::Refusal::Forbidden { .. } | sitrep_core::Refusal::NotFound(_))
            )
        })
}

/// Handing over is offered when the only objection is to the person it would go to.
fn can_hand_over(state: &IncidentState, org: &OrgState, user: &UserName) -> bool {
    state.phase != Phase::Closed
        && state.commander().is_some_and(|current| {
            let command = IncidentCommand::HandOverCommand { to: current.clone(), reason: "probe".into() };
            !matches!(
                decide_incident(state, org, user, &command, state.updated_at),
                Err(sitrep_core::Refusal::Forbidden { .. } | sitrep_core::Refusal::NotFound(_))
            )
        })
}

/// The ids of the playbooks `user` may start that are not started yet (and that load under
/// the policy in force).
fn offered_playbooks(state: &IncidentState, org: &OrgState, user: &UserName) -> Vec<String> {
    if !probe_playbook(state, org, user) {
        return Vec::new();
    }
    org.playbooks
        .values()
        .filter(|p| !state.playbooks.iter().any(|s| s.id == p.id))
        .filter(|p| sitrep_core::playbook::Playbook::parse(&p.source, &org.policy).is_ok())
        .map(|p| p.id.clone())
        .collect()
}

fn queue_task(task: &sitrep_core::incident::Task, now: Timestamp) -> QueueTask {
    let due_in = task.due.map(|due| deadline_words(due, now)).unwrap_or_default();
    QueueTask {
        id: task.id.to_string(),
        title: task.title.clone(),
        due: task.due.map(when).unwrap_or_default(),
        due_in,
        overdue: task.due.is_some_and(|due| due < now),
        blocked: task.state == TaskState::Blocked,
        note: task.note.clone().unwrap_or_default(),
    }
}

/// "due in 1 h 40 min" or "overdue by 12 min".
pub fn deadline_words(due: Timestamp, now: Timestamp) -> String {
    let seconds = (due.unix_micros() - now.unix_micros()) / 1_000_000;
    if seconds >= 0 {
        format!("due in {}", sitrep_core::sitrep::duration_words(seconds))
    } else {
        format!("overdue by {}", sitrep_core::sitrep::duration_words(-seconds))
    }
}

/// Entry kinds that report rather than change: delivery notices, evidence reads, an action's
/// start (its outcome is the change). They stay in the record; the "latest" list leaves them out
/// and the record shows them when asked. A failed delivery is not one of them.
const NOTICES: &[&str] = &["notification.delivered", "evidence.accessed", "action.started"];

/// How many changes the queue's "latest" list shows.
const RECENT: usize = 5;

/// Every phase but `closed` (closing is a decision), marked done, current or next.
fn stepper(current: Phase) -> Vec<PhaseStep> {
    let position = Phase::ALL.iter().position(|p| *p == current).unwrap_or(0);
    Phase::ALL
        .iter()
        .enumerate()
        .filter(|(_, p)| **p != Phase::Closed)
        .map(|(i, p)| PhaseStep {
            phase: words(p.as_str()),
            state: match i.cmp(&position) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "next",
            },
        })
        .collect()
}

/// Decision classes whose executed approval means the threat is contained.
const CONTAINING: &[&str] = &["containment", "credential_revocation"];

/// The next phase, named as the record suggests it: an approved containment or revocation whose
/// every action succeeded offers "Mark contained" (on to eradication); otherwise the next step.
/// `None` from post-incident on: what follows is the close decision.
fn phase_offer(state: &IncidentState) -> Option<PhaseOffer> {
    let executed = state.decisions.iter().find(|d| {
        d.state == DecisionState::Approved
            && CONTAINING.contains(&d.class.as_str())
            && d.actions.iter().all(|a| a.status == ActionStatus::Succeeded)
    });
    let before_eradication = matches!(state.phase, Phase::Declared | Phase::Triage | Phase::Containment);
    if let (Some(decision), true) = (executed, before_eradication) {
        return Some(PhaseOffer {
            phase: Phase::Eradication.as_str().to_owned(),
            label: "Mark contained".into(),
            why: format!("{} {} was approved and carried out", decision.id, words(decision.class.as_str())),
        });
    }
    let position = Phase::ALL.iter().position(|p| *p == state.phase)?;
    let next = *Phase::ALL.get(position + 1).filter(|p| **p != Phase::Closed)?;
    Some(PhaseOffer {
        phase: next.as_str().to_owned(),
        label: format!("Move to {}", words(next.as_str())),
        why: String::new(),
    })
}
