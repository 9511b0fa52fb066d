//! Facts: logged, verified, disproved.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sitrep_core::FactId;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::FactStatus;
use sitrep_core::incident::Fact;
use utoipa::ToSchema;

use super::answer_about;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactBody {
    /// What happened or what is known.
    #[schema(schema_with = super::contract::long)]
    text: String,
    /// Where it comes from (a tool, a person, a ticket).
    #[schema(schema_with = super::contract::optional_title)]
    source: Option<String>,
    /// `unverified` (the default), `verified` or `disproved`; the last two need `basis`.
    #[schema(schema_with = super::contract::optional_fact_status)]
    status: Option<FactStatus>,
    #[schema(schema_with = super::contract::optional_short)]
    basis: Option<String>,
    /// When it happened, if before now (RFC 3339); without it, when it is logged. Within the
    /// last 365 days and not in the future.
    #[schema(example = "2026-11-27T02:47:00Z")]
    occurred_at: Option<String>,
    /// Required when `occurred_at` is more than 15 minutes before now (a backfill): who saw it
    /// when, from which source.
    #[schema(schema_with = super::contract::optional_short)]
    backfill_reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FactBasisBody)]
pub struct BasisBody {
    /// Why: the evidence or reasoning.
    #[schema(schema_with = super::contract::short)]
    basis: String,
}

fn fact_id(fid: &str) -> Result<FactId, ApiError> {
    fid.parse().map_err(|_| ApiError::NotFound(format!("there is no fact {fid}; fact ids look like F-3")))
}

async fn answer(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: IncidentCommand,
    key: Option<sitrep_store::ledger::IdempotencyKey>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    answer_about::<FactId>(app, caller, id, command, key, status, "fact", |state, fact| {
        serde_json::to_value(state.fact(fact)).unwrap_or_default()
    })
    .await
}

/// Log a fact.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/facts", tag = "facts", request_body = FactBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The fact: `{id: \"F-n\", text, status, ...}`", body = Fact), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn log(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<FactBody>,
) -> Result<Response, ApiError> {
    let command = body.value.into_command()?;
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED).await
}

/// Mark a fact verified, with the basis.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/facts/{fid}/verify", tag = "facts", request_body = BasisBody,
    params(("id" = String, Path, description = "INC-<n>"), ("fid" = String, Path, description = "F-<n>")),
    responses((status = 200, description = "The fact", body = Fact), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn verify(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    body: Body<BasisBody>,
) -> Result<Response, ApiError> {
    let command = body.value.verify(fact_id(&fid)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Mark a fact disproved, with the basis.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/facts/{fid}/disprove", tag = "facts", request_body = BasisBody,
    params(("id" = String, Path, description = "INC-<n>"), ("fid" = String, Path, description = "F-<n>")),
    responses((status = 200, description = "The fact", body = Fact), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn disprove(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    body: Body<BasisBody>,
) -> Result<Response, ApiError> {
    let command = body.value.disprove(fact_id(&fid)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl FactBody {
    pub(crate) fn into_command(self) -> Result<IncidentCommand, ApiError> {
        let FactBody { text, source, status, basis, occurred_at, backfill_reason } = self;
        let occurred = super::occurred(occurred_at, backfill_reason)?;
        let status = status.unwrap_or(FactStatus::Unverified);
        Ok(IncidentCommand::LogFact { text, source, status, basis, occurred })
    }
}

impl BasisBody {
    pub(crate) fn verify(self, fact: FactId) -> IncidentCommand {
        IncidentCommand::VerifyFact { fact, basis: self.basis }
    }

    pub(crate) fn disprove(self, fact: FactId) -> IncidentCommand {
        IncidentCommand::DisproveFact { fact, basis: self.basis }
    }
}
