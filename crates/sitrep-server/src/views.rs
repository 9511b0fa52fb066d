//! The API's JSON for the read model (`sitrep_core::view`): what one person may see of an
//! incident is decided there; this module only adds what needs the server (share-link URLs).

use serde::Serialize;
use serde_json::Value;
use sitrep_core::decide::can_see;
use sitrep_core::incident::{IncidentState, TaskState};
use sitrep_core::sitrep::age;
use sitrep_core::view::IncidentView;
use sitrep_core::{IncidentNumber, Phase, Role, Severity, Timestamp, UserName};

use crate::state::AppState;

/// A view as a JSON value. Going through `Value` keeps every object's keys in one order
/// (sorted), as answers have always had them.
pub fn json(view: impl Serialize) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// The incident as the API answers it to the view's viewer.
pub fn incident(app: &AppState, view: &IncidentView<'_>) -> Value {
    json(view.answer(|share| share_url(app, view.state(), share)))
}

/// The URL a share link is fetched at.
pub fn share_url(app: &AppState, state: &IncidentState, share: &sitrep_core::incident::Share) -> String {
    format!("{}{}", app.config.base_url(), crate::shares::link(&app.share_key, state, share.id))
}

/// One line of the incident list.
pub fn summary(state: &IncidentState, viewer: &UserName, now: Timestamp) -> Value {
    json(IncidentSummary {
        id: state.id,
        title: &state.title,
        severity: state.severity,
        phase: state.phase,
        restricted: state.restricted,
        exercise: state.exercise,
        declared_at: state.declared_at,
        updated_at: state.updated_at,
        age: age(state.declared_at, now),
        commander: state.roles.iter().find(|(role, _)| *role == "commander").map(|(_, users)| users),
        your_roles: state.roles_of(viewer),
        waiting_on_you: state.awaiting(viewer).len(),
        open_tasks: state.tasks.iter().filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked)).count(),
        seq: state.seq,
    })
}

/// One line of the incident list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentSummary<'a> {
    pub id: IncidentNumber,
    pub title: &'a str,
    pub severity: Severity,
    pub phase: Phase,
    pub restricted: bool,
    pub exercise: bool,
    pub declared_at: Timestamp,
    pub updated_at: Timestamp,
    /// Since declaration, in words: `42m`, `3h 5m`, `2d 4h`.
    pub age: String,
    /// Who holds `commander` (`null` when the role was never staffed).
    pub commander: Option<&'a Vec<UserName>>,
    pub your_roles: Vec<Role>,
    /// How many decisions wait on the viewer.
    pub waiting_on_you: usize,
    /// Open or blocked tasks.
    pub open_tasks: usize,
    pub seq: u64,
}

/// Whether a viewer may see this incident (restricted ones only by their participants).
pub fn visible(state: &IncidentState, viewer: &UserName) -> bool {
    can_see(state, viewer)
}

/// What a change that can take the incident out of the caller's sight answers when it did:
/// the change is acknowledged without showing what they no longer see.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoLongerVisible {
    pub id: sitrep_core::IncidentNumber,
    /// Always `false`.
    pub visible: bool,
}

/// The answer of a change to the incident: the incident, or that the caller no longer sees it.
#[derive(Debug, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ChangedIncident<'a> {
    Visible(Box<sitrep_core::view::IncidentAnswer<'a>>),
    NoLongerVisible(NoLongerVisible),
}
