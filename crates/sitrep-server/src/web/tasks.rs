//! Tasks: created, done and blocked from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::{TaskId, UserName};

use super::{Fields, Path1, Path2, Viewer, act, local_utc};
use crate::state::AppState;

pub(super) async fn add_task(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let owner = match fields.optional("owner").map(|o| UserName::parse(&o)) {
        Some(Err(error)) => Err(error.to_string()),
        Some(Ok(owner)) => Ok(Some(owner)),
        None => Ok(None),
    };
    let due = match fields.optional("due") {
        None => Ok(None),
        Some(text) => local_utc(&text).map(Some),
    };
    let command = owner.and_then(|owner| {
        due.map(|due| IncidentCommand::CreateTask { title: fields.get("title").to_owned(), owner, due })
    });
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
        .map_err(|e| e.to_string())
        .map(|task| IncidentCommand::CompleteTask { task, note: fields.optional("note") });
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
        .map_err(|e| e.to_string())
        .map(|task| IncidentCommand::BlockTask { task, reason: fields.get("reason").to_owned() });
    act(&app, &viewer, &id, &fields, "tasks", command).await
}
