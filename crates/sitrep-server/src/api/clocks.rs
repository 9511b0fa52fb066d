//! Regulatory clocks: a recorded determination starts the policy's clocks; a recorded
//! submission of an approved text to the authority meets one; legal may withdraw the
//! determination or record a notification not required (each with a basis), which stops it
//! unmet; the worker warns their path before the deadline and records a miss.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::incident::{Clock, Determination};
use sitrep_core::{IncidentState, Timestamp};
use sitrep_store::Request;
use utoipa::ToSchema;

use super::{incident_number, read, written};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

/// The incident's clocks, each with the seconds left at `now`.
pub fn clocks_view(state: &IncidentState, now: Timestamp) -> Value {
    let clocks = state
        .clocks
        .iter()
        .map(|clock| ClockView {
            clock,
            running: clock.is_running(),
            seconds_left: clock.is_running().then(|| clock.seconds_left(now)),
            outcome: clock.outcome(now).as_str(),
        })
        .collect();
    views::json(ClocksView { determinations: &state.determinations, clocks })
}

/// The incident's determinations and regulatory clocks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClocksView<'a> {
    determinations: &'a [Determination],
    clocks: Vec<ClockView<'a>>,
}

/// A clock with where it stands now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClockView<'a> {
    #[serde(flatten)]
    clock: &'a Clock,
    running: bool,
    /// While running: seconds to the deadline (negative past it).
    seconds_left: Option<i64>,
    /// `waiting`, `running`, `missed`, `met`, `late`, `determination withdrawn` or `not required`.
    outcome: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeterminationBody {
    /// A determination of the policy, e.g. `personal_data_breach`, `significant_incident`, `material`.
    #[schema(example = "personal_data_breach")]
    determination: String,
    #[schema(schema_with = super::contract::short)]
    basis: String,
    /// When we became aware, if before now (RFC 3339); the clocks run from it.
    #[schema(value_type = Option<String>, example = "2026-11-27T03:10:00Z")]
    aware_at: Option<String>,
}

/// Record a determination; it starts the policy's clocks that start on it.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/determinations", tag = "incidents", request_body = DeterminationBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "`{determinations, clocks: [{clock, title, deadline, seconds_left, …}]}`", body = ClocksView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn determine(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<DeterminationBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let command = body.value.into_command()?;
    let receipt =
        app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body.idempotency).await?;
    let view = read(&app, incident, |state| clocks_view(state, app.now()))?;
    Ok(written(StatusCode::CREATED, &receipt, view))
}

/// The incident's determinations and regulatory clocks, with the time left on each.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/clocks", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`{determinations, clocks}`", body = ClocksView), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    Ok(Json(read(&app, number, |state| clocks_view(state, app.now()))?))
}

/// When a time a person gave was, or why it is not one.
fn time_field(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(Timestamp::from_jiff)
        .map_err(|_| ApiError::invalid(field, format!("'{text}' is not a time like 2026-11-27T03:10:00Z (RFC 3339)")))
}

async fn clocks_after(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: IncidentCommand,
    idempotency: Option<sitrep_store::ledger::IdempotencyKey>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let incident = incident_number(app, caller, id)?;
    let receipt = app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, idempotency).await?;
    let view = read(app, incident, |state| clocks_view(state, app.now()))?;
    Ok(written(status, &receipt, view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    /// When it was sent (RFC 3339): after its approval, not in the future.
    #[schema(value_type = String, example = "2026-11-28T09:40:00Z")]
    sent_at: String,
    /// To whom: the supervisory authority, CSIRT or regulator.
    #[schema(schema_with = super::contract::title)]
    authority: String,
    /// Through what: a portal, an address, a form.
    #[schema(schema_with = super::contract::title)]
    channel: String,
    /// The authority's reference for the submission.
    #[schema(schema_with = super::contract::title)]
    reference: String,
    /// The statement sent, `ST-<n>`, and its version: approved through the clock's class.
    #[schema(example = "ST-2")]
    statement: String,
    #[schema(example = 1)]
    version: u32,
}

/// Record that a notification was sent to the authority: this, not an approval, meets the clock.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/clocks/{clock}/submission", tag = "incidents", request_body = SubmissionBody,
    params(("id" = String, Path, description = "INC-<n>"), ("clock" = String, Path, description = "a clock of the incident, e.g. `gdpr_art33`")),
    responses((status = 201, description = "`{determinations, clocks}`, the clock with its `submission`", body = ClocksView), (status = 409, description = "Already submitted or stopped, or waiting for the submission it runs from", body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn submit(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, clock)): Segments<(String, String)>,
    body: Body<SubmissionBody>,
) -> Result<Response, ApiError> {
    let command = body.value.into_command(clock)?;
    clocks_after(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClockBasisBody)]
pub struct BasisBody {
    /// Why: it goes in the record.
    #[schema(schema_with = super::contract::short)]
    basis: String,
}

/// Record that a clock's notification is not required, with the basis; the clock stops unmet.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/clocks/{clock}/not-required", tag = "incidents", request_body = BasisBody,
    params(("id" = String, Path, description = "INC-<n>"), ("clock" = String, Path, description = "a clock of the incident")),
    responses((status = 200, description = "`{determinations, clocks}`, the clock with its `released` reason", body = ClocksView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn not_required(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, clock)): Segments<(String, String)>,
    body: Body<BasisBody>,
) -> Result<Response, ApiError> {
    let command = body.value.not_required(clock);
    clocks_after(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Withdraw a determination, with the basis; every clock it started that is still open stops unmet.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/determinations/{determination}/withdraw", tag = "incidents", request_body = BasisBody,
    params(("id" = String, Path, description = "INC-<n>"), ("determination" = String, Path, description = "e.g. `personal_data_breach`")),
    responses((status = 200, description = "`{determinations, clocks}`", body = ClocksView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn withdraw(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, determination)): Segments<(String, String)>,
    body: Body<BasisBody>,
) -> Result<Response, ApiError> {
    let command = body.value.withdraw(determination);
    clocks_after(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl DeterminationBody {
    pub(crate) fn into_command(self) -> Result<IncidentCommand, ApiError> {
        let DeterminationBody { determination, basis, aware_at } = self;
        let aware_at = aware_at
            .map(|text| {
                text.trim().parse::<jiff::Timestamp>().map(Timestamp::from_jiff).map_err(|_| {
                    ApiError::invalid(
                        "aware_at",
                        format!("'{text}' is not a time like 2026-11-27T03:10:00Z (RFC 3339)"),
                    )
                })
            })
            .transpose()?;
        Ok(IncidentCommand::RecordDetermination { determination, basis, aware_at })
    }
}

impl SubmissionBody {
    pub(crate) fn into_command(self, clock: String) -> Result<IncidentCommand, ApiError> {
        let SubmissionBody { sent_at, authority, channel, reference, statement, version } = self;
        let sent_at = time_field("sent_at", &sent_at)?;
        let statement = statement.trim().parse().map_err(|_| {
            ApiError::invalid("statement", format!("'{statement}' is not a statement id; statement ids look like ST-1"))
        })?;
        Ok(IncidentCommand::SubmitNotification { clock, sent_at, authority, channel, reference, statement, version })
    }
}

impl BasisBody {
    pub(crate) fn not_required(self, clock: String) -> IncidentCommand {
        IncidentCommand::NotificationNotRequired { clock, basis: self.basis }
    }

    pub(crate) fn withdraw(self, determination: String) -> IncidentCommand {
        IncidentCommand::WithdrawDetermination { determination, basis: self.basis }
    }
}
