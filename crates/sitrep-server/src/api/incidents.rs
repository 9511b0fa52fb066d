//! Declaring, listing and reading incidents; roles, phase, severity and notes.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sitrep_core::decide::{Declare, IncidentCommand};
use sitrep_core::sitrep::Sitrep;
use sitrep_core::view::EntryView;
use sitrep_core::{Actor, IncidentNumber, Phase, RecordId, Role, Severity, Timestamp, UserName};
use sitrep_store::Request;
use utoipa::{IntoParams, ToSchema};

use super::{incident_number, read, read_view, written};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Params, Segments};
use crate::state::AppState;
use crate::views::{self, ChangedIncident};
use sitrep_core::view::IncidentAnswer;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareBody {
    /// What happened, in a line.
    #[schema(schema_with = super::contract::title)]
    title: String,
    #[schema(schema_with = super::contract::severity)]
    severity: Severity,
    /// Need-to-know: only participants see it.
    #[serde(default)]
    restricted: bool,
    /// A tabletop drill: connectors run dry and reports say so.
    #[serde(default)]
    exercise: bool,
    /// Org units in scope.
    #[serde(default)]
    scope: Vec<String>,
    /// A playbook to run at declaration.
    playbook: Option<String>,
    /// The playbook's inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    inputs: BTreeMap<String, String>,
    /// Roles staffed at once, `{role: user}`; the declarer is commander unless this names one.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"tech_lead": "tom", "legal": "lee"}))]
    roles: BTreeMap<Role, UserName>,
}

/// Declare an incident.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = DeclareBody,
    responses((status = 201, description = "The declared incident's state", body = IncidentAnswer), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn declare(
    State(app): State<AppState>,
    caller: Caller,
    body: Body<DeclareBody>,
) -> Result<Response, ApiError> {
    let declare = body.value.into_declare();
    let receipt = app.ledger.execute_once(&caller.user, Request::Declare(declare), body.idempotency).await?;
    let RecordId::Incident(number) = receipt.record else {
        return Err(ApiError::Internal("declaring wrote to the organisation record".into()));
    };
    let view = read_view(&app, &caller, number, |view| views::incident(&app, view))?;
    Ok(written(StatusCode::CREATED, &receipt, view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `open` (not closed), `closed`, or `all` (the default).
    #[param(pattern = "^(open|closed|all)$")]
    state: Option<String>,
    /// Only incidents where the caller holds a role.
    #[serde(default)]
    mine: bool,
}

/// List the incidents the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(ListQuery),
    responses((status = 200, description = "`{incidents: [...]}`", body = IncidentList)), security(("token" = []), ("session" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = match query.state.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(other) => return Err(ApiError::invalid("state", format!("'{other}' is not one of open, closed, all"))),
    };
    let now = app.now();
    let mut incidents = Vec::new();
    app.ledger.each_incident(|state| {
        let closed = state.phase == Phase::Closed;
        if views::visible(state, &caller.user)
            && wanted.is_none_or(|w| w == closed)
            && (!query.mine || state.is_participant(&caller.user))
        {
            incidents.push(views::summary(state, &caller.user, now));
        }
    });
    incidents.reverse();
    Ok(Json(views::json(IncidentList { incidents })))
}

/// The incidents the caller may see, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentList {
    #[schema(value_type = Vec<views::IncidentSummary>)]
    incidents: Vec<Value>,
}

/// The incident's folded state.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The state: roles, facts, decisions, tasks, notes, blockers", body = IncidentAnswer), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    Ok(Json(read_view(&app, &caller, number, |view| views::incident(&app, view))?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// The first seq to return (default 1).
    #[serde(default, deserialize_with = "crate::extract::int64")]
    from: Option<u64>,
    /// At most this many entries (default and maximum 10000).
    #[serde(default, deserialize_with = "crate::extract::int64")]
    limit: Option<u64>,
}

/// The incident's record: its entries, as hashed.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/record", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>"), RecordQuery),
    responses((status = 200, description = "`{entries: [{v, seq, at, actor, kind, body, prev, hash}], next}`", body = RecordPage)),
    security(("token" = []), ("session" = [])))]
pub async fn record(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    Params(query): Params<RecordQuery>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let from = query.from.unwrap_or(1).max(1);
    let limit = query.limit.unwrap_or(10_000).clamp(1, 10_000) as usize;
    let store = app.ledger.store().clone();
    let entries = tokio::task::spawn_blocking(move || store.read(RecordId::Incident(number), from, limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let next = (entries.len() == limit).then(|| entries.last().map(|e| e.seq + 1)).flatten();
    let entries = read_view(&app, &caller, number, |view| entries.iter().map(|entry| view.entry(entry)).collect())?;
    Ok(Json(views::json(RecordPage { incident: number, entries, next })))
}

/// A page of an incident's record.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordPage<'e> {
    incident: IncidentNumber,
    entries: Vec<EntryView<'e>>,
    /// The seq to ask `from` for the next page; `null` when this page is the last.
    next: Option<u64>,
}

/// The situation report, generated from the record: JSON, or Markdown with
/// `Accept: text/markdown`.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/sitrep", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The SITREP as JSON, or as Markdown (`text/markdown`) when the Accept header asks for it",
        content((sitrep_core::sitrep::Sitrep = "application/json"), (String = "text/markdown")))),
    security(("token" = []), ("session" = [])))]
pub async fn sitrep(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let org = app.ledger.org();
    let report = read(&app, number, |state| Sitrep::of(state, &org, app.now()))?;
    Ok(super::markdown_or_json(&headers, &report, |report| report.to_markdown()))
}

/// Runs one incident command for the caller and answers with the incident's state.
async fn change(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: IncidentCommand,
    body_key: Option<sitrep_store::ledger::IdempotencyKey>,
) -> Result<Response, ApiError> {
    let incident = incident_number(app, caller, id)?;
    let receipt = app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body_key).await?;
    // Handing over command or releasing one's own role can take a restricted incident out of
    // the caller's sight: the change is still acknowledged, without showing what they no longer see.
    let view = match read_view(app, caller, incident, |view| views::incident(app, view)) {
        Err(ApiError::NotFound(_)) => views::json(views::NoLongerVisible { id: incident, visible: false }),
        view => view?,
    };
    Ok(written(StatusCode::OK, &receipt, view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    #[schema(schema_with = super::contract::role)]
    role: Role,
    #[schema(schema_with = super::contract::user_name)]
    user: UserName,
    /// An org unit in the incident's scope: a local role there, for `local` decision classes.
    #[schema(example = "emea")]
    unit: Option<String>,
}

/// Assign a role to a user.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/roles", tag = "incidents", request_body = RoleBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn assign_role(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<RoleBody>,
) -> Result<Response, ApiError> {
    change(&app, &caller, &id, body.value.assign(), body.idempotency).await
}

/// Release a user from a role.
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/roles/{role}/{user}", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>"), ("role" = String, Path, pattern = "^[a-z][a-z0-9_]{0,39}$"),
        ("user" = String, Path, pattern = "^[a-z][a-z0-9._-]{0,63}$"), UnitQuery),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn release_role(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, role, user)): Segments<(String, String, String)>,
    Params(query): Params<UnitQuery>,
) -> Result<Response, ApiError> {
    let role = Role::parse(&role).map_err(|e| ApiError::invalid("role", e.to_string()))?;
    let user = UserName::parse(&user).map_err(|e| ApiError::invalid("user", e.to_string()))?;
    change(&app, &caller, &id, IncidentCommand::ReleaseRole { role, user, unit: query.unit, reason: None }, None).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    /// Who takes command.
    #[schema(schema_with = super::contract::user_name)]
    to: UserName,
    /// Why command changes hands; it goes in the record.
    #[schema(schema_with = super::contract::short)]
    reason: String,
}

/// Hand command over: the commander role moves to `to` in one entry (`commander.handed_over`:
/// from, to, reason; the entry's time). One person commands at a time, so assigning
/// `commander` while someone holds it is refused; this is how command changes hands. The
/// commander hands over their own command; whoever `[actions] assign_roles` allows may hand
/// over an absent commander's.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/handover", tag = "incidents", request_body = HandoverBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state, with `commander` and `handovers`; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn hand_over(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<HandoverBody>,
) -> Result<Response, ApiError> {
    change(&app, &caller, &id, body.value.into_command(), body.idempotency).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OccurrenceBody {
    /// When the incident began (RFC 3339).
    #[schema(example = "2026-11-27T02:40:00Z")]
    started_at: Option<String>,
    /// When a first sign of it was seen.
    #[schema(example = "2026-11-27T02:47:00Z")]
    first_seen_at: Option<String>,
    /// When we knew it was an incident.
    #[schema(example = "2026-11-27T03:05:00Z")]
    detected_at: Option<String>,
    /// Required when a time given is more than 15 minutes before now.
    #[schema(schema_with = super::contract::optional_short)]
    backfill_reason: Option<String>,
}

/// Record when the incident started, was first seen and was detected, apart from when it was
/// declared. Each time given replaces the one recorded; the others stay. They must read
/// started ≤ first seen ≤ detected, lie within the last 365 days, and a time more than 15
/// minutes before now needs `backfill_reason`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/occurrence", tag = "incidents", request_body = OccurrenceBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state, with `occurrence`; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn record_occurrence(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<OccurrenceBody>,
) -> Result<Response, ApiError> {
    let OccurrenceBody { started_at, first_seen_at, detected_at, backfill_reason } = body.value;
    let command = IncidentCommand::RecordOccurrence {
        started_at: super::rfc3339("started_at", started_at)?,
        first_seen_at: super::rfc3339("first_seen_at", first_seen_at)?,
        detected_at: super::rfc3339("detected_at", detected_at)?,
        backfill_reason,
    };
    change(&app, &caller, &id, command, body.idempotency).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnitQuery {
    /// The org unit of a local role.
    unit: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseBody {
    #[schema(schema_with = super::contract::phase)]
    phase: Phase,
}

/// Move the incident to another phase (closing takes an approved `close` decision).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/phase", tag = "incidents", request_body = PhaseBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn set_phase(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<PhaseBody>,
) -> Result<Response, ApiError> {
    change(&app, &caller, &id, body.value.into_command(), body.idempotency).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityBody {
    #[schema(schema_with = super::contract::severity)]
    severity: Severity,
    #[schema(schema_with = super::contract::optional_short)]
    reason: Option<String>,
}

/// Change the incident's severity.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/severity", tag = "incidents", request_body = SeverityBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn set_severity(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<SeverityBody>,
) -> Result<Response, ApiError> {
    change(&app, &caller, &id, body.value.into_command(), body.idempotency).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IncidentNoteBody)]
pub struct NoteBody {
    #[schema(schema_with = super::contract::long)]
    text: String,
    /// When what it says happened, if before now (RFC 3339).
    #[schema(example = "2026-11-27T03:40:00Z")]
    occurred_at: Option<String>,
    /// Required when `occurred_at` is more than 15 minutes before now.
    #[schema(schema_with = super::contract::optional_short)]
    backfill_reason: Option<String>,
}

/// Add a note to the record.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", request_body = NoteBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The note: `{seq, at, by, text, occurred_at, backfill_reason}`", body = NoteAnswer), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn add_note(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<NoteBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let command = body.value.into_command()?;
    let receipt =
        app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body.idempotency).await?;
    let entry = receipt.entries.first().ok_or_else(|| ApiError::Internal("a note wrote no entry".into()))?;
    let text =
        serde_json::from_str::<Value>(&entry.body).ok().and_then(|b| b.get("text").cloned()).unwrap_or(Value::Null);
    let body: Value = serde_json::from_str(&entry.body).unwrap_or(Value::Null);
    let view = NoteAnswer {
        seq: entry.seq,
        at: entry.at,
        by: entry.actor.clone(),
        text,
        occurred_at: body.get("occurred_at").cloned().unwrap_or_else(|| json!(entry.at)),
        backfill_reason: body.get("backfill_reason").cloned().unwrap_or(Value::Null),
    };
    Ok(written(StatusCode::CREATED, &receipt, views::json(view)))
}

/// A note as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NoteAnswer {
    seq: u64,
    at: Timestamp,
    by: Actor,
    #[schema(value_type = String)]
    text: Value,
    /// When what it says happened: the note's own time unless it named one.
    #[schema(value_type = String)]
    occurred_at: Value,
    #[schema(value_type = Option<String>)]
    backfill_reason: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookBody {
    /// A playbook id, e.g. `leaked-secret`.
    playbook: String,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"key_id": "AKIA…7QXZ", "provider": "AWS"}))]
    inputs: BTreeMap<String, String>,
}

/// Start a playbook on the incident: its tasks, its step decisions as proposals, and its
/// pre-approved decisions, approved at once citing the playbook.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/playbooks", tag = "incidents", request_body = PlaybookBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn run_playbook(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<PlaybookBody>,
) -> Result<Response, ApiError> {
    change(&app, &caller, &id, body.value.into_command(), body.idempotency).await
}

/// Run a failed action of an approved decision again (`action` counts from 1).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/decisions/{did}/actions/{action}/retry", tag = "decisions",
    params(("id" = String, Path, description = "INC-<n>"), ("did" = String, Path, description = "D-<n>"), ("action" = u32, Path, description = "1 for the first action")),
    responses((status = 200, description = "The incident's state; `{id, visible: false}` when the change took it out of the caller\'s sight", body = ChangedIncident), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn retry_action(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, did, action)): Segments<(String, String, u32)>,
) -> Result<Response, ApiError> {
    let decision: sitrep_core::DecisionId = did
        .parse()
        .map_err(|_| ApiError::NotFound(format!("there is no decision {did}; decision ids look like D-2")))?;
    let Some(action) = action.checked_sub(1) else {
        return Err(ApiError::NotFound("actions are numbered from 1".into()));
    };
    change(&app, &caller, &id, IncidentCommand::RetryAction { decision, action }, None).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl DeclareBody {
    pub(crate) fn into_declare(self) -> Declare {
        let DeclareBody { title, severity, restricted, exercise, scope, playbook, inputs, roles } = self;
        Declare { title, severity: Some(severity), scope, restricted, exercise, roles, playbook, inputs }
    }
}

impl RoleBody {
    pub(crate) fn assign(self) -> IncidentCommand {
        let RoleBody { role, user, unit } = self;
        IncidentCommand::AssignRole { role, user, unit }
    }

    /// The web form releases with this body; the API's route takes the same fields in its path.
    pub(crate) fn release(self, reason: Option<String>) -> IncidentCommand {
        let RoleBody { role, user, unit } = self;
        IncidentCommand::ReleaseRole { role, user, unit, reason }
    }
}

impl HandoverBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let HandoverBody { to, reason } = self;
        IncidentCommand::HandOverCommand { to, reason }
    }
}

impl PhaseBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        IncidentCommand::SetPhase { phase: self.phase }
    }
}

impl SeverityBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let SeverityBody { severity, reason } = self;
        IncidentCommand::SetSeverity { severity, reason }
    }
}

impl NoteBody {
    pub(crate) fn into_command(self) -> Result<IncidentCommand, ApiError> {
        let NoteBody { text, occurred_at, backfill_reason } = self;
        Ok(IncidentCommand::AddNote { text, occurred: super::occurred(occurred_at, backfill_reason)? })
    }
}

impl PlaybookBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let PlaybookBody { playbook, inputs } = self;
        IncidentCommand::RunPlaybook { playbook, inputs }
    }
}
