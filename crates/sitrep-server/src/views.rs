//! What the API shows of the folded state: the state itself, plus what is derived from it for
//! the person asking (blockers, who must act, what waits on them).

use serde_json::{Value, json};
use sitrep_core::decide::{can_see, may_read_evidence};
use sitrep_core::entry::Entry;
use sitrep_core::incident::{Decision, IncidentState, TaskState};
use sitrep_core::sitrep::age;
use sitrep_core::{OrgState, Timestamp, UserName};

use crate::state::AppState;

/// A decision with where it stands: what is missing and who can act.
pub fn decision(state: &IncidentState, decision: &Decision) -> Value {
    let mut view = serde_json::to_value(decision).unwrap_or(Value::Null);
    if let Some(object) = view.as_object_mut() {
        // What an approver approves: the bound version's exact text, and how it differs from
        // the last text approved for the same audience.
        object.insert("statement_text".into(), json!(sitrep_core::statement_text::bound_text(state, decision)));
    }
    if decision.state == sitrep_core::events::DecisionState::Proposed {
        let progress = decision.progress();
        let must_act: Vec<Value> = progress
            .awaiting
            .iter()
            .map(|role| {
                let holders: Vec<&UserName> = state
                    .roles
                    .get(role)
                    .map(|users| users.iter().filter(|u| !decision.endorsed_by(u)).collect())
                    .unwrap_or_default();
                json!({"role": role, "holders": holders})
            })
            .collect();
        if let Some(object) = view.as_object_mut() {
            object.insert("waiting_on".into(), json!(progress.waiting_on));
            object.insert("must_act".into(), json!(must_act));
        }
    }
    view
}

/// The incident as the state fold has it, for one viewer. Evidence is listed only for those the
/// policy lets read it; others see how many items there are, not what they are.
pub fn incident(app: &AppState, state: &IncidentState, org: &OrgState, viewer: &UserName) -> Value {
    let mut view = serde_json::to_value(state).unwrap_or(Value::Null);
    if let Some(object) = view.as_object_mut() {
        if !may_read_evidence(state, &org.policy, viewer) {
            object.insert("evidence".into(), json!({ "hidden": true, "count": state.evidence.len() }));
        }
        object.insert("parties".into(), json!(crate::api::parties::engaged(state, org)));
        object.insert("shares".into(), json!(crate::api::parties::shares(app, state, org, viewer)));
        object.insert(
            "statements".into(),
            json!(state.statements.iter().map(|s| crate::api::statements::view(state, s)).collect::<Vec<_>>()),
        );
        object.insert("decisions".into(), Value::Array(state.decisions.iter().map(|d| decision(state, d)).collect()));
        object.insert("blockers".into(), json!(state.unfilled(&org.policy.roles.required)));
        object.insert(
            "needs_your_decision".into(),
            json!(state.awaiting(viewer).iter().map(|d| d.id).collect::<Vec<_>>()),
        );
        object.insert("your_roles".into(), json!(state.roles_of(viewer)));
        object.insert("commander".into(), json!(state.commander()));
    }
    view
}

/// One line of the incident list.
pub fn summary(state: &IncidentState, viewer: &UserName, now: Timestamp) -> Value {
    json!({
        "id": state.id,
        "title": state.title,
        "severity": state.severity,
        "phase": state.phase,
        "restricted": state.restricted,
        "exercise": state.exercise,
        "declared_at": state.declared_at,
        "updated_at": state.updated_at,
        "age": age(state.declared_at, now),
        "commander": state.roles.iter().find(|(role, _)| *role == "commander").map(|(_, users)| users),
        "your_roles": state.roles_of(viewer),
        "waiting_on_you": state.awaiting(viewer).len(),
        "open_tasks": state.tasks.iter().filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked)).count(),
        "seq": state.seq,
    })
}

/// Whether a viewer may see this incident (restricted ones only by their participants).
pub fn visible(state: &IncidentState, viewer: &UserName) -> bool {
    can_see(state, viewer)
}

/// Whether an entry's body describes evidence (names, sources, purposes of downloads).
pub fn is_evidence_entry(entry: &Entry) -> bool {
    entry.kind.starts_with("evidence.")
}

/// An entry as the API shows it to one viewer. Evidence entries are shown whole only to those
/// who may read evidence; others get the entry with its body withheld (`redacted: true`) and
/// its hash intact, so the chain's links still check while the names stay private.
pub fn entry(entry: &Entry, evidence_reader: bool) -> Value {
    let mut view = serde_json::to_value(entry).unwrap_or(Value::Null);
    if !evidence_reader
        && is_evidence_entry(entry)
        && let Some(object) = view.as_object_mut()
    {
        object.insert("body".into(), json!({}));
        object.insert("redacted".into(), json!(true));
    }
    view
}
