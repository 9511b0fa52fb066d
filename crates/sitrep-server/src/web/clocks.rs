//! Regulatory clocks: determinations, submissions, notifications not required, withdrawals.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::decide::IncidentCommand;

use super::{Fields, Path1, Path2, Viewer, act, local_utc};
use crate::state::AppState;

pub(super) async fn record_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let aware_at = match fields.optional("aware_at") {
        None => Ok(None),
        Some(text) => local_utc(&text).map(Some),
    };
    let command = aware_at.map(|aware_at| IncidentCommand::RecordDetermination {
        determination: fields.get("determination").to_owned(),
        basis: fields.get("basis").to_owned(),
        aware_at,
    });
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
    let sent_at = match fields.optional("sent_at") {
        None => Ok(app.now()),
        Some(text) => local_utc(&text),
    };
    let text = fields.get("text").to_owned();
    let (statement, version) = text.split_once(':').unwrap_or((text.as_str(), ""));
    let statement = statement.parse().map_err(|_| format!("'{statement}' is not a statement"));
    let version = version.parse::<u32>().map_err(|_| format!("choose the approved text that was sent ({text})"));
    let command = sent_at.and_then(|sent_at| {
        Ok(IncidentCommand::SubmitNotification {
            clock,
            sent_at,
            authority: fields.get("authority").to_owned(),
            channel: fields.get("channel").to_owned(),
            reference: fields.get("reference").to_owned(),
            statement: statement?,
            version: version?,
        })
    });
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

pub(super) async fn notification_not_required(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, clock)): Path2,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::NotificationNotRequired { clock, basis: fields.get("basis").to_owned() };
    act(&app, &viewer, &id, &fields, "clocks", Ok(command)).await
}

pub(super) async fn withdraw_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, determination)): Path2,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::WithdrawDetermination { determination, basis: fields.get("basis").to_owned() };
    act(&app, &viewer, &id, &fields, "clocks", Ok(command)).await
}
