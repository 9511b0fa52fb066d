//! Statements: drafted, revised as new versions, approved through the class their audience
//! needs (bound to one version's hash), and published only as exactly that text.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_core::IncidentState;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::Audience;
use sitrep_core::ids::StatementId;
use sitrep_core::view::StatementView;
use utoipa::ToSchema;

use super::{answer_about, incident_number, read};
use crate::auth::Caller;
use crate::config::Config;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

pub(crate) fn statement_id(sid: &str) -> Result<StatementId, ApiError> {
    sid.parse().map_err(|_| ApiError::NotFound(format!("there is no statement {sid}; statement ids look like ST-1")))
}

fn about(state: &IncidentState, id: StatementId) -> Value {
    state.statement(id).map(|s| views::json(StatementView::of(state, s))).unwrap_or(Value::Null)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// `internal`, `customers`, `regulator`, `press` or `partners`.
    #[schema(schema_with = super::contract::audience)]
    audience: Audience,
    #[schema(schema_with = super::contract::title)]
    title: String,
    #[schema(schema_with = super::contract::long)]
    text: String,
}

/// Draft a statement (version 1).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/statements", tag = "statements", request_body = DraftBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The statement: `{id: \"ST-n\", audience, versions: [{version, text, sha256, approved_by}], publications, needs_class}`", body = StatementView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn draft(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<DraftBody>,
) -> Result<Response, ApiError> {
    let command = body.value.into_command();
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED, "statement", about).await
}

/// The incident's statements.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/statements", tag = "statements",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`{statements: [...]}`", body = StatementList), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let statements = read(&app, number, |state| {
        views::json(StatementList {
            statements: state.statements.iter().map(|s| StatementView::of(state, s)).collect(),
        })
    })?;
    Ok(Json(statements))
}

/// The incident's statements.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatementList<'a> {
    statements: Vec<StatementView<'a>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseBody {
    #[schema(schema_with = super::contract::long)]
    text: String,
}

/// Revise a statement: a new version, which needs its own approval.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/statements/{sid}/revisions", tag = "statements", request_body = ReviseBody,
    params(("id" = String, Path, description = "INC-<n>"), ("sid" = String, Path, description = "ST-<n>")),
    responses((status = 201, description = "The statement", body = StatementView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn revise(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, sid)): Segments<(String, String)>,
    body: Body<ReviseBody>,
) -> Result<Response, ApiError> {
    let statement = statement_id(&sid)?;
    let command = body.value.into_command(statement);
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::CREATED, "statement", about).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// Where it goes out. A channel configured in `[outlets]` for the statement's audience
    /// gets the approved bytes delivered by sitrep (see `deliveries` on each publication); any
    /// other name (`regulator portal`…) records that a person published it there.
    #[schema(schema_with = super::contract::title)]
    channel: String,
    /// The SHA-256 of the text you reviewed; refused if the latest version is another text.
    sha256: Option<String>,
}

/// Publish a statement's latest version: only when an approved decision is bound to exactly
/// that text.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/statements/{sid}/publish", tag = "statements", request_body = PublishBody,
    params(("id" = String, Path, description = "INC-<n>"), ("sid" = String, Path, description = "ST-<n>")),
    responses((status = 200, description = "The statement", body = StatementView), (status = 403, description = "Not approved, or changed since approval", body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn publish(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, sid)): Segments<(String, String)>,
    body: Body<PublishBody>,
) -> Result<Response, ApiError> {
    let statement = statement_id(&sid)?;
    let command = body.value.into_command(statement, &app.config);
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::OK, "statement", about).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDeliveryBody {
    /// The published version whose delivery failed.
    version: u32,
    /// The outlet it failed on (the publication's channel).
    #[schema(schema_with = super::contract::title)]
    channel: String,
}

/// Ask for a delivery that failed for good to be tried again (needs `publish_statements`).
/// The same approved bytes go out again, with the same idempotency key.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/statements/{sid}/deliveries/retry", tag = "statements", request_body = RetryDeliveryBody,
    params(("id" = String, Path, description = "INC-<n>"), ("sid" = String, Path, description = "ST-<n>")),
    responses((status = 200, description = "The statement", body = StatementView), (status = 409, description = "The delivery has not failed for good", body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn retry_delivery(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, sid)): Segments<(String, String)>,
    body: Body<RetryDeliveryBody>,
) -> Result<Response, ApiError> {
    let statement = statement_id(&sid)?;
    let command = body.value.into_command(statement);
    answer_about(&app, &caller, &id, command, body.idempotency, StatusCode::OK, "statement", about).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl DraftBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let DraftBody { audience, title, text } = self;
        IncidentCommand::DraftStatement { audience, title, text }
    }
}

impl ReviseBody {
    pub(crate) fn into_command(self, statement: StatementId) -> IncidentCommand {
        IncidentCommand::ReviseStatement { statement, text: self.text }
    }
}

impl PublishBody {
    /// The command, saying which audiences have `channel` as a configured outlet.
    pub(crate) fn into_command(self, statement: StatementId, config: &Config) -> IncidentCommand {
        let PublishBody { channel, sha256 } = self;
        let outlet_for = config.outlet_for(&channel);
        IncidentCommand::PublishStatement { statement, channel, sha256, outlet_for }
    }
}

impl RetryDeliveryBody {
    pub(crate) fn into_command(self, statement: StatementId) -> IncidentCommand {
        let RetryDeliveryBody { version, channel } = self;
        IncidentCommand::RetryDelivery { statement, version, channel }
    }
}
