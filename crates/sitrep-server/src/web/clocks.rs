//! Regulatory clocks: determinations, submissions, notifications not required, withdrawals.

use axum::extract::State;
use axum::response::Response;

use super::forms::FormError;
use super::{Fields, FormBody, Path1, Path2, Viewer, act, said};
use crate::api::clocks::{BasisBody, DeterminationBody, SubmissionBody};
use crate::state::AppState;

pub(super) async fn record_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["determination", "basis"], &[])
        .local_time(&fields, "aware_at")
        .and_then(FormBody::parse::<DeterminationBody>)
        .and_then(|body| body.into_command().map_err(said));
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

/// A notification sent to the authority: the form names the approved text as `ST-n:version`;
/// the time sent defaults to now.
pub(super) async fn submit_notification(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, clock)): Path2,
    fields: Fields,
) -> Response {
    // Adapter: the form names the approved text as one `ST-n:version` choice, and a blank
    // time sent is now.
    let text = fields.get("text").to_owned();
    let (statement, version) = text.split_once(':').unwrap_or((text.as_str(), ""));
    let version = version
        .parse::<u32>()
        .map_err(|_| FormError::at("text", format!("choose the approved text that was sent ({text})")));
    let body = fields.body(&["authority", "channel", "reference"], &[]).with("sent_at", app.now().to_string());
    let command = version
        .and_then(|version| body.with("statement", statement).with("version", version).local_time(&fields, "sent_at"))
        .and_then(FormBody::parse::<SubmissionBody>)
        .and_then(|body| body.into_command(clock).map_err(said));
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

pub(super) async fn notification_not_required(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, clock)): Path2,
    fields: Fields,
) -> Response {
    let command = fields.body(&["basis"], &[]).parse::<BasisBody>().map(|body| body.not_required(clock));
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

pub(super) async fn withdraw_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, determination)): Path2,
    fields: Fields,
) -> Response {
    let command = fields.body(&["basis"], &[]).parse::<BasisBody>().map(|body| body.withdraw(determination));
    act(&app, &viewer, &id, &fields, "clocks", command).await
}
