//! Regulatory clocks: a recorded determination starts the policy's clocks; a decision of their
//! class stops them; the worker warns their path before the deadline and records a miss.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use sitrep_core::decide::IncidentCommand;
use sitrep_core::{IncidentState, Timestamp};
use sitrep_store::Request;
use utoipa::ToSchema;

use super::{incident_number, read, written};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;

/// The incident's clocks, each with the seconds left at `now`.
pub fn clocks_view(state: &IncidentState, now: Timestamp) -> Value {
    let clocks: Vec<Value> = state
        .clocks
        .iter()
        .map(|clock| {
            let mut view = serde_json::to_value(clock).unwrap_or_default();
            if let Some(object) = view.as_object_mut() {
                object.insert("running".into(), json!(clock.is_running()));
                object.insert("seconds_left".into(), json!(clock.is_running().then(|| clock.seconds_left(now))));
            }
            view
        })
        .collect();
    json!({ "determinations": state.determinations, "clocks": clocks })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeterminationBody {
    /// A determination of the policy, e.g. `personal_data_breach`, `significant_incident`, `material`.
    #[schema(example = "personal_data_breach")]
    determination: String,
    basis: String,
    /// When we became aware, if before now (RFC 3339); the clocks run from it.
    #[schema(value_type = Option<String>, example = "2026-11-27T03:10:00Z")]
    aware_at: Option<String>,
}

/// Record a determination; it starts the policy's clocks that start on it.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/determinations", tag = "incidents", request_body = DeterminationBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "`{determinations, clocks: [{clock, title, deadline, seconds_left, …}]}`"), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn determine(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<DeterminationBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let DeterminationBody { determination, basis, aware_at } = body.value;
    let aware_at = aware_at
        .map(|text| {
            text.trim().parse::<jiff::Timestamp>().map(Timestamp::from_jiff).map_err(|_| {
                ApiError::invalid("aware_at", format!("'{text}' is not a time like 2026-11-27T03:10:00Z (RFC 3339)"))
            })
        })
        .transpose()?;
    let command = IncidentCommand::RecordDetermination { determination, basis, aware_at };
    let receipt =
        app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body.idempotency).await?;
    let view = read(&app, incident, |state| clocks_view(state, app.now()))?;
    Ok(written(StatusCode::CREATED, &receipt, view))
}

/// The incident's determinations and regulatory clocks, with the time left on each.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/clocks", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`{determinations, clocks}`"), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    Ok(Json(read(&app, number, |state| clocks_view(state, app.now()))?))
}
