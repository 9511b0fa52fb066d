//! Decisions: proposed, approved, rejected, withdrawn.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::ActionSpec;
use sitrep_core::ids::StatementId;
use sitrep_core::view::DecisionView;
use sitrep_core::{DecisionClass, DecisionId};
use utoipa::ToSchema;

use super::answer_about;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    /// A decision class of the policy, e.g. `containment`.
    #[schema(schema_with = super::contract::decision_class)]
    class: DecisionClass,
    #[schema(schema_with = super::contract::title)]
    title: String,
    #[schema(schema_with = super::contract::optional_long)]
    rationale: Option<String>,
    /// What it executes once approved: `{connector: task|webhook|command|notify, ...}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    actions: Vec<ActionSpec>,
    /// `ST-<n>`: approve that statement's latest version (its text's hash is bound to the
    /// decision); the class must be the one its audience requires.
    #[schema(value_type = Option<String>, example = "ST-1")]
    statement: Option<StatementId>,
    /// Running regulatory clocks its execution stops (without any, it stops the one of its
    /// class due first).
    #[serde(default)]
    clocks: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecisionNoteBody)]
pub struct NoteBody {
    #[schema(schema_with = super::contract::optional_short)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RejectBody)]
pub struct ReasonBody {
    /// Why it is rejected: required.
    #[schema(schema_with = super::contract::short)]
    note: String,
}

fn decision_id(did: &str) -> Result<DecisionId, ApiError> {
    did.parse().map_err(|_| ApiError::NotFound(format!("there is no decision {did}; decision ids look like D-2")))
}

async fn answer(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: IncidentCommand,
    key: Option<sitrep_store::ledger::IdempotencyKey>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    answer_about::<DecisionId>(app, caller, id, command, key, status, "decision", |state, decision| {
        state.decision(decision).map(|d| views::json(DecisionView::of(state, d))).unwrap_or_default()
    })
    .await
}

/// Propose a decision. If the proposer alone satisfies the rule, it is approved at once.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/decisions", tag = "decisions", request_body = ProposeBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The decision: `{id: \"D-n\", class, state, approvals, waiting_on, must_act, ...}`", body = DecisionView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn propose(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<ProposeBody>,
) -> Result<Response, ApiError> {
    answer(&app, &caller, &id, body.value.into_command(), body.idempotency, StatusCode::CREATED).await
}

/// Approve a decision, as a holder of a role its rule requires.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/decisions/{did}/approve", tag = "decisions", request_body = NoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("did" = String, Path, description = "D-<n>")),
    responses((status = 200, description = "The decision", body = DecisionView), (status = 403, description = "The policy refuses: names the rule and who can act", body = Problem), (status = 409, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn approve(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, did)): Segments<(String, String)>,
    body: Body<NoteBody>,
) -> Result<Response, ApiError> {
    let command = body.value.approve(decision_id(&did)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Reject a decision, with the reason.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/decisions/{did}/reject", tag = "decisions", request_body = ReasonBody,
    params(("id" = String, Path, description = "INC-<n>"), ("did" = String, Path, description = "D-<n>")),
    responses((status = 200, description = "The decision", body = DecisionView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, did)): Segments<(String, String)>,
    body: Body<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = body.value.reject(decision_id(&did)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

/// Withdraw a decision (its proposer or the commander).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/decisions/{did}/withdraw", tag = "decisions", request_body = NoteBody,
    params(("id" = String, Path, description = "INC-<n>"), ("did" = String, Path, description = "D-<n>")),
    responses((status = 200, description = "The decision", body = DecisionView), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn withdraw(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, did)): Segments<(String, String)>,
    body: Body<NoteBody>,
) -> Result<Response, ApiError> {
    let command = body.value.withdraw(decision_id(&did)?);
    answer(&app, &caller, &id, command, body.idempotency, StatusCode::OK).await
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl ProposeBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let ProposeBody { class, title, rationale, actions, statement, clocks } = self;
        IncidentCommand::Propose { class, title, rationale, actions, statement, clocks }
    }
}

impl NoteBody {
    pub(crate) fn approve(self, decision: DecisionId) -> IncidentCommand {
        IncidentCommand::Approve { decision, note: self.note }
    }

    pub(crate) fn withdraw(self, decision: DecisionId) -> IncidentCommand {
        IncidentCommand::Withdraw { decision, note: self.note }
    }
}

impl ReasonBody {
    pub(crate) fn reject(self, decision: DecisionId) -> IncidentCommand {
        IncidentCommand::Reject { decision, note: self.note }
    }
}
