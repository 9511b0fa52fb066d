//! Tasks: created, done and blocked from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::TaskId;
use sitrep_core::decide::IncidentCommand;

use super::forms::FormError;
use super::{Fields, FormBody, Path1, Path2, Viewer, act};
use crate::api::tasks::{NoteBody, ReasonBody, TaskBody};
use crate::state::AppState;

pub(super) async fn add_task(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["title"], &["owner"])
        .local_time(&fields, "due")
        .and_then(FormBody::parse::<TaskBody>)
        .map(TaskBody::into_command);
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

/// A task command that takes an optional note (done, cancelled).
fn with_note(
    tid: &str,
    fields: &Fields,
    command: fn(NoteBody, TaskId) -> IncidentCommand,
) -> Result<IncidentCommand, FormError> {
    let task = tid.parse::<TaskId>().map_err(FormError::text)?;
    fields.body(&[], &["note"]).parse::<NoteBody>().map(|body| command(body, task))
}

pub(super) async fn task_done(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = with_note(&tid, &fields, NoteBody::done);
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

/// Cancels a task, with a note saying where it went (from the close checklist, usually the
/// control change that carries it on).
pub(super) async fn task_cancelled(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = with_note(&tid, &fields, NoteBody::cancel);
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

pub(super) async fn task_blocked(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = tid
        .parse::<TaskId>()
        .map_err(FormError::text)
        .and_then(|task| fields.body(&["reason"], &[]).parse::<ReasonBody>().map(|body| body.block(task)));
    act(&app, &viewer, &id, &fields, "tasks", command).await
}
