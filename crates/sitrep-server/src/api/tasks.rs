//! Tasks: created, assigned, done, blocked, cancelled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::incident::Task;
use sitrep_core::{TaskId, Timestamp, UserName};
use utoipa::ToSchema;

use super::answer_about;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    #[schema(schema_with = super::contract::title)]
    title: String,
    /// A participant of the incident.
    #[schema(schema_with = super::contract::optional_user_name)]
    owner: Option<UserName>,
    /// When it is due, UTC: `2026-11-27T18:00:00.000000Z`.
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")]
    due: Option<Timestamp>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    #[schema(schema_with = super::contract::user_name)]
    owner: UserName,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TaskNoteBody)]
pub struct NoteBody {
    #[schema(schema_with = super::contract::optional_short)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BlockBody)]
pub struct ReasonBody {
    #[schema(schema_with = super::contract::short)]
    reason: String,
}

fn task_id(tid: &str) -> Result<TaskId, ApiError> {
    tid.parse().map_err(|_| ApiError::NotFound(format!("there is no task {tid}; task ids look like T-5")))
}

async fn answer(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: IncidentCommand,
    key: Option<sitrep_store::ledger::IdempotencyKey>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    answer_about::<TaskId>(app, caller, id, command, key, status, "task", |state, task| {
        serde_json::to_value(state.task(task)).unwrap_or_default()
    })
    .await
}

/// Create a task.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks", tag = "tasks", request_body = TaskBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The task: `{id: \"T-n\", title, owner, state, ...}`", body = Task), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<TaskBody>,
) -> Result<Response, ApiError> {
    answer(&app, &caller, &id, body.value.into_command(), body.idempotency, StatusCode::CREATED).await
}

/// Give a task to someone.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks/{tid}/assign", tag = "tasks", request_body = OwnerBody,
    params(("id" = String, Path, description = "INC-<n>"), ("tid" = String, Path, description = "T-<n>")),
    responses((status = 200, description = "The task", body = Task), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn assign(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, tid)): Segments<(String, String)>,
    body: Body<OwnerBody>,
) -> Result<Response, ApiError> {
    let command = IncidentCommand::AssignTask { task: task_id(&tid)?, owner: body.value.owner };
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Mark a task done.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks/{tid}/done", tag = "tasks", request_body = NoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("tid" = String, Path, description = "T-<n>")),
    responses((status = 200, description = "The task", body = Task), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn done(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, tid)): Segments<(String, String)>,
    body: Body<NoteBody>,
) -> Result<Response, ApiError> {
    let command = body.value.done(task_id(&tid)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Mark a task blocked, with the reason.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks/{tid}/block", tag = "tasks", request_body = ReasonBody,
    params(("id" = String, Path, description = "INC-<n>"), ("tid" = String, Path, description = "T-<n>")),
    responses((status = 200, description = "The task", body = Task), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn block(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, tid)): Segments<(String, String)>,
    body: Body<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = body.value.block(task_id(&tid)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Cancel a task.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks/{tid}/cancel", tag = "tasks", request_body = NoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("tid" = String, Path, description = "T-<n>")),
    responses((status = 200, description = "The task", body = Task), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn cancel(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, tid)): Segments<(String, String)>,
    body: Body<NoteBody>,
) -> Result<Response, ApiError> {
    let command = body.value.cancel(task_id(&tid)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl TaskBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let TaskBody { title, owner, due } = self;
        IncidentCommand::CreateTask { title, owner, due }
    }
}

impl NoteBody {
    pub(crate) fn done(self, task: TaskId) -> IncidentCommand {
        IncidentCommand::CompleteTask { task, note: self.note }
    }

    pub(crate) fn cancel(self, task: TaskId) -> IncidentCommand {
        IncidentCommand::CancelTask { task, note: self.note }
    }
}

impl ReasonBody {
    pub(crate) fn block(self, task: TaskId) -> IncidentCommand {
        IncidentCommand::BlockTask { task, reason: self.reason }
    }
}
