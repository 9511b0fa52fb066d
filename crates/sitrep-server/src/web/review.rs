//! The post-incident review and the organisation-wide list of control changes.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::filters;
use super::forms::FormError;
use super::view::Me;
use super::{Fields, FormBody, Path1, Path2, Viewer, act, render, sections};
use crate::api::review::{ChangeNoteBody, CompleteBody, ControlChangeBody, LessonBody};
use crate::state::AppState;

pub(super) async fn record_lesson(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        fields.body(&["what_happened", "why", "change"], &[]).parse::<LessonBody>().map(LessonBody::into_command);
    act(&app, &viewer, &id, &fields, "review", command).await
}

pub(super) async fn plan_change(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["lesson", "title", "owner"], &[])
        .with("csf", fields.get("csf").trim())
        .local_time(&fields, "due")
        .and_then(FormBody::parse::<ControlChangeBody>)
        .map(ControlChangeBody::into_command);
    act(&app, &viewer, &id, &fields, "review", command).await
}

pub(super) async fn change_done(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, cc)): Path2,
    fields: Fields,
) -> Response {
    let command = cc
        .parse::<sitrep_core::ids::ControlChangeId>()
        .map_err(FormError::text)
        .and_then(|change| fields.body(&[], &["note"]).parse::<ChangeNoteBody>().map(|body| body.done(change)));
    act(&app, &viewer, &id, &fields, "review", command).await
}

pub(super) async fn complete_review(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["summary"], &[]).parse::<CompleteBody>().map(CompleteBody::into_command);
    act(&app, &viewer, &id, &fields, "review", command).await
}

#[derive(Template)]
#[template(path = "control_changes.html")]
struct ControlChangesPage {
    me: Option<Me>,
    csrf: String,
    rows: Vec<sections::ChangeRow>,
}

/// Every review's control changes, across the incidents the viewer may see.
pub(super) async fn control_changes_page(State(app): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let all = uri.query().is_some_and(|q| q.contains("state=all"));
    let org = app.ledger.org();
    let now = app.now();
    let mut rows: Vec<(sitrep_core::Timestamp, sections::ChangeRow)> = Vec::new();
    app.ledger.each_incident(|state| {
        if !crate::views::visible(state, &viewer.user) {
            return;
        }
        for change in &state.review.control_changes {
            if all || change.state == sitrep_core::incident::ControlChangeState::Open {
                rows.push((change.due, sections::change_row(state, &org, &viewer.user, change, now)));
            }
        }
    });
    rows.sort_by_key(|(due, _)| *due);
    let page = ControlChangesPage {
        me: Some(viewer.me(&app)),
        csrf: viewer.csrf.clone(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
    };
    render(&page, StatusCode::OK)
}
