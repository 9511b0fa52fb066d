//! The JSON API under `/api/v1`. Every route is registered through utoipa's `OpenApiRouter`,
//! so the OpenAPI document at `/api/v1/openapi.json` is generated from the same code as the
//! router and cannot leave a route out.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sitrep_core::{IncidentNumber, IncidentState, IncidentView, RecordId};
use sitrep_store::Receipt;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views;

pub mod alerts;
pub mod clocks;
pub mod contract;
pub mod decisions;
pub mod events;
pub mod evidence;
pub mod export;
pub mod facts;
pub mod incidents;
pub mod org;
pub mod parties;
pub mod report;
pub mod review;
pub mod statements;
pub mod tasks;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sitrep",
        description = "One authoritative, tamper-evident record for running a security incident. \
                       Errors are RFC 9457 problem details (`application/problem+json`).",
    ),
    modifiers(&Security),
    tags(
        (name = "incidents", description = "Declare, read and run incidents"),
        (name = "facts", description = "What happened and what is known"),
        (name = "tasks", description = "Work and who owns it"),
        (name = "decisions", description = "Proposals, approvals, rejections"),
        (name = "evidence", description = "Evidence files and their chain of custody"),
        (name = "third parties", description = "The registry, engagement and share links"),
        (name = "statements", description = "Drafts, versions, approval and publishing"),
        (name = "review", description = "The post-incident review and its control changes"),
        (name = "organisation", description = "Users, tokens, sign-in, the policy"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Browser session; changes also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// Every API route, with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = documented_routes();
    crate::error::ProblemResponses.modify(router.get_openapi_mut());
    contract::NoNullParameters.modify(router.get_openapi_mut());
    contract::UniqueOperationIds.modify(router.get_openapi_mut());
    router
}

fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(incidents::declare, incidents::list))
        .routes(routes!(incidents::show))
        .routes(routes!(incidents::record))
        .routes(routes!(incidents::sitrep))
        .routes(routes!(report::report))
        .routes(routes!(report::decisions_csv))
        .routes(routes!(events::events))
        .routes(routes!(incidents::assign_role))
        .routes(routes!(incidents::release_role))
        .routes(routes!(incidents::hand_over))
        .routes(routes!(incidents::record_occurrence))
        .routes(routes!(incidents::set_phase))
        .routes(routes!(incidents::set_severity))
        .routes(routes!(incidents::add_note))
        .routes(routes!(incidents::run_playbook))
        .routes(routes!(incidents::retry_action))
        .routes(routes!(facts::log))
        .routes(routes!(facts::verify))
        .routes(routes!(facts::disprove))
        .routes(routes!(tasks::create))
        .routes(routes!(tasks::assign))
        .routes(routes!(tasks::done))
        .routes(routes!(tasks::block))
        .routes(routes!(tasks::cancel))
        .routes(routes!(decisions::propose))
        .routes(routes!(decisions::approve))
        .routes(routes!(decisions::reject))
        .routes(routes!(decisions::withdraw))
        .routes(routes!(evidence::upload, evidence::list))
        .routes(routes!(evidence::download))
        .routes(routes!(export::checkpoint))
        .routes(routes!(export::export))
        .routes(routes!(parties::register, parties::list))
        .routes(routes!(parties::update))
        .routes(routes!(parties::engage))
        .routes(routes!(parties::revoke_share))
        .routes(routes!(statements::draft, statements::list))
        .routes(routes!(statements::revise))
        .routes(routes!(statements::publish))
        .routes(routes!(statements::retry_delivery))
        .routes(routes!(clocks::determine))
        .routes(routes!(clocks::list))
        .routes(routes!(clocks::submit))
        .routes(routes!(clocks::not_required))
        .routes(routes!(clocks::withdraw))
        .routes(routes!(review::show))
        .routes(routes!(review::record_lesson))
        .routes(routes!(review::plan_change))
        .routes(routes!(review::change_done))
        .routes(routes!(review::change_cancelled))
        .routes(routes!(review::complete))
        .routes(routes!(review::list_changes))
        .routes(routes!(org::add_user, org::list_users))
        .routes(routes!(org::disable_user))
        .routes(routes!(org::grant_org_role))
        .routes(routes!(org::revoke_org_role))
        .routes(routes!(org::set_password))
        .routes(routes!(org::create_token, org::list_tokens))
        .routes(routes!(org::revoke_token))
        .routes(routes!(org::list_sessions))
        .routes(routes!(alerts::contact, alerts::set_contact))
        .routes(routes!(alerts::schedule_update))
        .routes(routes!(org::end_session))
        .routes(routes!(org::token_for_password))
        .routes(routes!(org::sign_in, org::sign_out, org::whoami))
        .routes(routes!(org::policy, org::replace_policy))
        .routes(routes!(org::org_record))
        .routes(routes!(org::playbooks))
        .routes(routes!(org::playbook, org::replace_playbook))
        .routes(routes!(crate::chat::create_link_code))
}

/// The incident named by `{id}`, if it exists and the caller may see it; otherwise 404, with
/// the same answer whether it does not exist or is restricted.
pub fn incident_number(app: &AppState, caller: &Caller, id: &str) -> Result<IncidentNumber, ApiError> {
    let missing = || ApiError::NotFound(format!("there is no incident {id}; incident ids look like INC-12"));
    let number: IncidentNumber = id.parse().map_err(|_| missing())?;
    let visible = app.ledger.with_incident(number, |state| views::visible(state, &caller.user)).unwrap_or(false);
    if visible { Ok(number) } else { Err(missing()) }
}

/// Reads the incident's current state, as a visible incident.
pub fn read<T>(app: &AppState, number: IncidentNumber, f: impl FnOnce(&IncidentState) -> T) -> Result<T, ApiError> {
    app.ledger.with_incident(number, f).ok_or_else(|| ApiError::NotFound(format!("there is no incident {number}")))
}

/// Reads what the caller may see of the incident now (404 if it is not theirs to see).
pub fn read_view<T>(
    app: &AppState,
    caller: &Caller,
    number: IncidentNumber,
    f: impl FnOnce(&IncidentView<'_>) -> T,
) -> Result<T, ApiError> {
    let org = app.ledger.org();
    let now = app.now();
    app.ledger
        .with_incident(number, |state| IncidentView::of(state, &org, &caller.user, now).map(|view| f(&view)))
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("there is no incident {number}")))
}

/// A response to a change: the status, the body, and headers saying which entries it wrote
/// and whether it repeats an earlier answer to the same `Idempotency-Key`.
/// A report as Markdown when the `Accept` header asks for `text/markdown`, else as JSON.
pub fn markdown_or_json<T: serde::Serialize>(
    headers: &HeaderMap,
    report: &T,
    markdown: impl FnOnce(&T) -> String,
) -> Response {
    let wants_markdown = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/markdown"));
    if wants_markdown {
        let mut response = markdown(report).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/markdown; charset=utf-8"));
        response
    } else {
        Json(report).into_response()
    }
}

pub fn written(status: StatusCode, receipt: &Receipt, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Some(last) = receipt.entries.last()
        && let Ok(value) = HeaderValue::from_str(&last.seq.to_string())
    {
        headers.insert("x-sitrep-seq", value);
    }
    if receipt.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let RecordId::Incident(number) = receipt.record
        && status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&format!("/api/v1/incidents/{number}"))
    {
        headers.insert(axum::http::header::LOCATION, value);
    }
    response
}

/// Runs one incident command and answers with `status` and the view of the thing it wrote,
/// found by the id in field `key` of its first entry (`fact`, `task`, `decision`).
#[allow(clippy::too_many_arguments)]
pub async fn answer_about<T: std::str::FromStr>(
    app: &AppState,
    caller: &Caller,
    id: &str,
    command: sitrep_core::IncidentCommand,
    idempotency: Option<sitrep_store::ledger::IdempotencyKey>,
    status: StatusCode,
    key: &str,
    view: impl FnOnce(&IncidentState, T) -> Value,
) -> Result<Response, ApiError> {
    let incident = incident_number(app, caller, id)?;
    let request = caller.incident_request(incident, command);
    let receipt = app.ledger.execute_once(&caller.user, request, idempotency).await?;
    let thing: T = created(&receipt, key)?;
    let body = read(app, incident, |state| view(state, thing))?;
    Ok(written(status, &receipt, body))
}

/// The id (`F-3`, `D-2`, `T-5`) named by field `key` of the first entry a command wrote.
pub fn created<T: std::str::FromStr>(receipt: &Receipt, key: &str) -> Result<T, ApiError> {
    receipt
        .entries
        .first()
        .and_then(|entry| serde_json::from_str::<Value>(&entry.body).ok())
        .and_then(|body| body.get(key).and_then(Value::as_str).and_then(|id| id.parse().ok()))
        .ok_or_else(|| ApiError::Internal(format!("the command's first entry names no {key}")))
}

/// An optional RFC 3339 time from a body field (`2026-11-27T03:10:00Z`, any offset), named in
/// the error when it does not read as one.
pub(crate) fn rfc3339(field: &str, text: Option<String>) -> Result<Option<sitrep_core::Timestamp>, ApiError> {
    text.map(|text| {
        text.trim().parse::<jiff::Timestamp>().map(sitrep_core::Timestamp::from_jiff).map_err(|_| {
            ApiError::invalid(field, format!("'{text}' is not a time like 2026-11-27T03:10:00Z (RFC 3339)"))
        })
    })
    .transpose()
}

/// An occurrence time and its backfill reason from a body; a reason without a time is refused.
pub(crate) fn occurred(
    occurred_at: Option<String>,
    backfill_reason: Option<String>,
) -> Result<Option<sitrep_core::decide::Occurred>, ApiError> {
    match rfc3339("occurred_at", occurred_at)? {
        Some(at) => Ok(Some(sitrep_core::decide::Occurred { at, backfill_reason })),
        None if backfill_reason.is_some() => {
            Err(ApiError::invalid("backfill_reason", "is given only with occurred_at, the time it explains"))
        }
        None => Ok(None),
    }
}
