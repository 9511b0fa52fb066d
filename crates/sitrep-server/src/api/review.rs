//! The post-incident review: lessons, the control changes they become, and completing it (which
//! closing needs). Control changes stay tracked after the incident closes, organisation-wide.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::ids::{ControlChangeId, LessonId};
use sitrep_core::incident::{ControlChange, ControlChangeState, Lesson, Review};
use sitrep_core::{IncidentNumber, IncidentState, Timestamp, UserName};
use utoipa::{IntoParams, ToSchema};

use super::{answer_about, incident_number, read};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Params, Segments};
use crate::state::AppState;
use crate::views;

fn review_view(state: &IncidentState) -> Value {
    serde_json::to_value(&state.review).unwrap_or(Value::Null)
}

fn lesson_view(state: &IncidentState, id: LessonId) -> Value {
    state.review.lesson(id).map(|l| serde_json::to_value(l).unwrap_or_default()).unwrap_or_default()
}

fn change_view(state: &IncidentState, id: ControlChangeId) -> Value {
    state.review.control_change(id).map(|c| serde_json::to_value(c).unwrap_or_default()).unwrap_or_default()
}

/// The incident's review.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/review", tag = "review",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`{lessons: [...], control_changes: [...], completed}`", body = Review), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    Ok(Json(read(&app, number, review_view)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonBody {
    #[schema(schema_with = super::contract::long)]
    what_happened: String,
    #[schema(schema_with = super::contract::long)]
    why: String,
    /// What we change because of it.
    #[schema(schema_with = super::contract::long)]
    change: String,
}

/// Record a lesson.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/review/lessons", tag = "review", request_body = LessonBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The lesson: `{id: \"L-n\", …}`", body = Lesson), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn record_lesson(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<LessonBody>,
) -> Result<Response, ApiError> {
    let command = body.value.into_command();
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED, "lesson", lesson_view).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlChangeBody {
    #[schema(value_type = String, example = "L-1")]
    lesson: LessonId,
    #[schema(schema_with = super::contract::title)]
    title: String,
    #[schema(schema_with = super::contract::user_name)]
    owner: UserName,
    #[schema(value_type = String, example = "2026-12-31T17:00:00.000000Z")]
    due: Timestamp,
    /// A NIST CSF 2.0 subcategory, e.g. `PR.AA-05`.
    #[schema(example = "PR.AA-05")]
    csf: String,
}

/// Turn a lesson into a control change (owner, due date, NIST CSF 2.0 reference).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/review/control-changes", tag = "review", request_body = ControlChangeBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The control change: `{id: \"CC-n\", …}`", body = ControlChange), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn plan_change(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<ControlChangeBody>,
) -> Result<Response, ApiError> {
    let command = body.value.into_command();
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED, "change", change_view).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeNoteBody {
    #[schema(schema_with = super::contract::optional_short)]
    note: Option<String>,
}

/// Mark a control change done (its owner, or a holder of the review rule); works after close.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/review/control-changes/{cc}/done", tag = "review", request_body = ChangeNoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("cc" = String, Path, description = "CC-<n>")),
    responses((status = 200, description = "The control change", body = ControlChange), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn change_done(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, cc)): Segments<(String, String)>,
    body: Body<ChangeNoteBody>,
) -> Result<Response, ApiError> {
    let change = change_id(&cc)?;
    let command = body.value.done(change);
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::OK, "change", change_view).await
}

/// Cancel a control change, with a reason; works after close.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/review/control-changes/{cc}/cancel", tag = "review", request_body = ChangeNoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("cc" = String, Path, description = "CC-<n>")),
    responses((status = 200, description = "The control change", body = ControlChange), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn change_cancelled(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, cc)): Segments<(String, String)>,
    body: Body<ChangeNoteBody>,
) -> Result<Response, ApiError> {
    let change = change_id(&cc)?;
    let command = IncidentCommand::CancelControlChange { change, note: body.value.note.unwrap_or_default() };
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::OK, "change", change_view).await
}

fn change_id(cc: &str) -> Result<ControlChangeId, ApiError> {
    cc.parse().map_err(|_| ApiError::NotFound(format!("there is no control change {cc}; ids look like CC-2")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    #[schema(schema_with = super::contract::long)]
    summary: String,
}

/// Complete the review: every lesson must have a control change. Closing needs it.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/review/complete", tag = "review", request_body = CompleteBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The review", body = Review), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn complete(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<CompleteBody>,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let command = body.value.into_command();
    let request = sitrep_store::Request::Incident { incident: number, command };
    let receipt = app.ledger.execute_once(&caller.user, request, body.idempotency).await?;
    let view = read(&app, number, review_view)?;
    Ok(super::written(StatusCode::OK, &receipt, view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// `open` (the default), `done`, `cancelled` or `all`.
    #[param(pattern = "^(open|done|cancelled|all)$")]
    state: Option<String>,
}

/// Every control change across the incidents the caller may see, soonest due first: the
/// follow-up of all reviews, open or closed incidents alike.
#[utoipa::path(get, path = "/api/v1/control-changes", tag = "review", params(ChangesQuery),
    responses((status = 200, description = "`{control_changes: [{incident, id, lesson, title, owner, due, csf, state, overdue}]}`", body = ControlChangeList)),
    security(("token" = []), ("session" = [])))]
pub async fn list_changes(
    State(app): State<AppState>,
    caller: Caller,
    Params(query): Params<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = match query.state.as_deref() {
        None | Some("open") => Some(ControlChangeState::Open),
        Some("done") => Some(ControlChangeState::Done),
        Some("cancelled") => Some(ControlChangeState::Cancelled),
        Some("all") => None,
        Some(other) => {
            return Err(ApiError::invalid("state", format!("'{other}' is not one of open, done, cancelled, all")));
        }
    };
    let changes = all_changes(&app, &caller.user, wanted);
    Ok(Json(views::json(ControlChangeList { control_changes: changes })))
}

/// Control changes across incidents.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ControlChangeList {
    #[schema(value_type = Vec<ControlChangeRow>)]
    control_changes: Vec<Value>,
}

/// A control change with its incident, and whether it is open past its due date.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ControlChangeRow<'a> {
    #[serde(flatten)]
    change: &'a ControlChange,
    incident: IncidentNumber,
    incident_title: &'a str,
    overdue: bool,
}

/// Control changes of the incidents `viewer` may see, in the state wanted, soonest due first.
pub fn all_changes(app: &AppState, viewer: &UserName, wanted: Option<ControlChangeState>) -> Vec<Value> {
    let now = app.now();
    let mut rows: Vec<(Timestamp, Value)> = Vec::new();
    app.ledger.each_incident(|state| {
        if !views::visible(state, viewer) {
            return;
        }
        for change in &state.review.control_changes {
            if wanted.is_some_and(|w| w != change.state) {
                continue;
            }
            let overdue = change.state == ControlChangeState::Open && change.due < now;
            let row = ControlChangeRow { change, incident: state.id, incident_title: &state.title, overdue };
            rows.push((change.due, views::json(row)));
        }
    });
    rows.sort_by_key(|(due, _)| *due);
    rows.into_iter().map(|(_, view)| view).collect()
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl LessonBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let LessonBody { what_happened, why, change } = self;
        IncidentCommand::RecordLesson { what_happened, why, change }
    }
}

impl ControlChangeBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let ControlChangeBody { lesson, title, owner, due, csf } = self;
        IncidentCommand::PlanControlChange { lesson, title, owner, due, csf }
    }
}

impl ChangeNoteBody {
    pub(crate) fn done(self, change: ControlChangeId) -> IncidentCommand {
        IncidentCommand::CompleteControlChange { change, note: self.note }
    }
}

impl CompleteBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        IncidentCommand::CompleteReview { summary: self.summary }
    }
}
