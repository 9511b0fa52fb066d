//! Decisions: proposed, approved, rejected and withdrawn from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::DecisionId;

use super::forms::FormError;
use super::{Fields, Path1, Path3, Viewer, act};
use crate::api::decisions::{NoteBody, ProposeBody, ReasonBody};
use crate::state::AppState;

pub(super) async fn propose(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        fields.body(&["class", "title"], &["rationale"]).parse::<ProposeBody>().map(ProposeBody::into_command);
    act(&app, &viewer, &id, &fields, "decisions", command).await
}

pub(super) async fn decide(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did, verb)): Path3,
    fields: Fields,
) -> Response {
    let command = did.parse::<DecisionId>().map_err(FormError::text).and_then(|decision| match verb.as_str() {
        "approve" => fields.body(&[], &["note"]).parse::<NoteBody>().map(|body| body.approve(decision)),
        "reject" => fields.body(&["note"], &[]).parse::<ReasonBody>().map(|body| body.reject(decision)),
        // The page asks why before it withdraws; the reason is the withdrawal's note.
        "withdraw" => match fields.optional("note") {
            Some(_) => fields.body(&[], &["note"]).parse::<NoteBody>().map(|body| body.withdraw(decision)),
            None => Err(FormError::at("note", "say why it is withdrawn: the record keeps the reason")),
        },
        other => Err(FormError::text(format!("'{other}' is not something a decision can be"))),
    });
    let anchor = format!("decision-{did}");
    act(&app, &viewer, &id, &fields, &anchor, command).await
}
