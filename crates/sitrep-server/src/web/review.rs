//! The post-incident review and the organisation-wide list of control changes.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use sitrep_core::UserName;
use sitrep_core::decide::IncidentCommand;

use super::view::Me;
use super::{Fields, Path1, Path2, Viewer, act, local_utc, render, sections};
use crate::state::AppState;

pub(super) async fn record_lesson(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::RecordLesson {
        what_happened: fields.get("what_happened").to_owned(),
        why: fields.get("why").to_owned(),
        change: fields.get("change").to_owned(),
    };
    act(&app, &viewer, &id, &fields, "review", Ok(command)).await
}

pub(super) async fn plan_change(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        fields.get("lesson").parse::<sitrep_core::ids::LessonId>().map_err(|e| e.to_string()).and_then(|lesson| {
            let owner = UserName::parse(fields.get("owner")).map_err(|e| e.to_string())?;
            let due = local_utc(fields.get("due"))?;
            Ok(IncidentCommand::PlanControlChange {
                lesson,
                title: fields.get("title").to_owned(),
                owner,
                due,
                csf: fields.get("csf").trim().to_owned(),
            })
        });
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
        .map_err(|e| e.to_string())
        .map(|change| IncidentCommand::CompleteControlChange { change, note: fields.optional("note") });
    act(&app, &viewer, &id, &fields, "review", command).await
}

pub(super) async fn complete_review(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::CompleteReview { summary: fields.get("summary").to_owned() };
    act(&app, &viewer, &id, &fields, "review", Ok(command)).await
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
