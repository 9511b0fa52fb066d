//! Facts: logged, verified or disproved from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::FactId;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::FactStatus;

use super::{Fields, Path1, Path2, Viewer, act, occurred_of};
use crate::state::AppState;

pub(super) async fn log_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = occurred_of(&fields).map(|occurred| IncidentCommand::LogFact {
        text: fields.get("text").to_owned(),
        source: fields.optional("source"),
        status: FactStatus::Unverified,
        basis: None,
        occurred,
    });
    act(&app, &viewer, &id, &fields, "facts", command).await
}

pub(super) async fn judge_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, fid)): Path2,
    fields: Fields,
) -> Response {
    let command = fid.parse::<FactId>().map_err(|e| e.to_string()).and_then(|fact| {
        let basis = fields.get("basis").to_owned();
        match fields.get("verdict") {
            "verify" => Ok(IncidentCommand::VerifyFact { fact, basis }),
            "disprove" => Ok(IncidentCommand::DisproveFact { fact, basis }),
            other => Err(format!("'{other}' is neither verify nor disprove")),
        }
    });
    act(&app, &viewer, &id, &fields, "facts", command).await
}
