//! Decisions: proposed, approved, rejected and withdrawn from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::DecisionId;
use sitrep_core::decide::IncidentCommand;

use super::{Fields, Path1, Path3, Viewer, act};
use crate::state::AppState;

pub(super) async fn propose(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = sitrep_core::DecisionClass::parse(fields.get("class")).map_err(|e| e.to_string()).map(|class| {
        IncidentCommand::Propose {
            class,
            title: fields.get("title").to_owned(),
            rationale: fields.optional("rationale"),
            actions: Vec::new(),
            statement: None,
            clocks: Vec::new(),
        }
    });
    act(&app, &viewer, &id, &fields, "decisions", command).await
}

pub(super) async fn decide(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did, verb)): Path3,
    fields: Fields,
) -> Response {
    let command = did.parse::<DecisionId>().map_err(|e| e.to_string()).and_then(|decision| match verb.as_str() {
        "approve" => Ok(IncidentCommand::Approve { decision, note: fields.optional("note") }),
        "reject" => Ok(IncidentCommand::Reject { decision, note: fields.get("note").to_owned() }),
        "withdraw" => Ok(IncidentCommand::Withdraw { decision, note: fields.optional("note") }),
        other => Err(format!("'{other}' is not something a decision can be")),
    });
    let anchor = format!("decision-{did}");
    act(&app, &viewer, &id, &fields, &anchor, command).await
}
