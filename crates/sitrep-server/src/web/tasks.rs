//! Tasks: created, done and blocked from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::TaskId;

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

pub(super) async fn task_done(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = tid
        .parse::<TaskId>()
        .map_err(FormError::text)
        .and_then(|task| fields.body(&[], &["note"]).parse::<NoteBody>().map(|body| body.done(task)));
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
