//! Facts: logged, verified or disproved from the command view.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::FactId;

use super::forms::FormError;
use super::{Fields, FormBody, Path1, Path2, Viewer, act, said};
use crate::api::facts::{BasisBody, FactBody};
use crate::state::AppState;

pub(super) async fn log_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["text"], &["source", "backfill_reason"])
        .local_time(&fields, "occurred_at")
        .and_then(FormBody::parse::<FactBody>)
        .and_then(|body| body.into_command().map_err(said));
    act(&app, &viewer, &id, &fields, "facts", command).await
}

pub(super) async fn judge_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, fid)): Path2,
    fields: Fields,
) -> Response {
    // One form for two API routes: its `verdict` field says which.
    let command = fid.parse::<FactId>().map_err(FormError::text).and_then(|fact| {
        let body = fields.body(&["basis"], &[]).parse::<BasisBody>()?;
        match fields.get("verdict") {
            "verify" => Ok(body.verify(fact)),
            "disprove" => Ok(body.disprove(fact)),
            other => Err(FormError::text(format!("'{other}' is neither verify nor disprove"))),
        }
    });
    act(&app, &viewer, &id, &fields, "facts", command).await
}
