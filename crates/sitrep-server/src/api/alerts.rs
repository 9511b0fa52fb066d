//! Alerts: where a person is told it is their turn, and the promised next update.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sitrep_core::UserName;
use sitrep_core::decide::{IncidentCommand, OrgCommand};
use sitrep_core::incident::{AlertKind, UpdatePromise};
use sitrep_store::Request;
use utoipa::ToSchema;

use super::{incident_number, read, rfc3339, written};
use crate::auth::Caller;
use crate::connectors::alerts;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

/// Where a person is told it is their turn. Each field replaces what was set; leave one out
/// to remove it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    #[schema(schema_with = super::contract::optional_short)]
    email: Option<String>,
    /// An http(s) URL that receives each alert as a signed JSON POST.
    #[schema(schema_with = super::contract::optional_short)]
    webhook: Option<String>,
    /// Alerts not to send (escalations and clock warnings are sent anyway).
    #[serde(default)]
    mute: Vec<AlertKind>,
}

/// A person's contact routes as the server sees them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactAnswer {
    user: UserName,
    email: Option<String>,
    webhook: Option<String>,
    mute: Vec<AlertKind>,
    /// The routes this server can use now (`email` needs the server's `[smtp]`); none means
    /// the person is told nothing.
    routes: Vec<&'static str>,
    /// The secret their webhook's `X-Sitrep-Signature` is made with; shown to them alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

fn contact_answer(app: &AppState, caller: &Caller, user: &UserName) -> Result<ContactAnswer, ApiError> {
    let org = app.ledger.org();
    let found = org.user(user).ok_or_else(|| ApiError::NotFound(format!("there is no user '{user}'")))?;
    Ok(ContactAnswer {
        user: user.clone(),
        email: found.contact.email.clone(),
        webhook: found.contact.webhook.clone(),
        mute: found.contact.mute.clone(),
        routes: alerts::routes(&app.config, found),
        webhook_secret: (&caller.user == user && found.contact.webhook.is_some())
            .then(|| alerts::webhook_secret(&app.review_key, user)),
    })
}

/// A user's contact routes (the user, or an admin).
#[utoipa::path(get, path = "/api/v1/users/{name}/contact", tag = "organisation",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{user, email, webhook, mute, routes}`", body = ContactAnswer), (status = 403, description = "Someone else's, without the admin role", body = Problem), (status = 404, description = "No such user", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn contact(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = super::org::own_or_admin(&app, &caller, &name, "reading someone else's contact routes")?;
    Ok(Json(views::json(contact_answer(&app, &caller, &user)?)))
}

/// Set a user's contact routes (the user, or an admin). Recorded as `user.contact_set`.
#[utoipa::path(put, path = "/api/v1/users/{name}/contact", tag = "organisation", request_body = ContactBody,
    params(("name" = String, Path)),
    responses((status = 200, description = "The contact routes", body = ContactAnswer), (status = 409, description = "Exactly these routes are already set", body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn set_contact(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
    body: Body<ContactBody>,
) -> Result<Response, ApiError> {
    let user = super::org::existing_user(&app, &name)?;
    let ContactBody { email, webhook, mute } = body.value;
    let command = OrgCommand::SetContact { user: user.clone(), email, webhook, mute };
    let receipt = app.ledger.execute_once(&caller.user, Request::Org(command), body.idempotency).await?;
    Ok(written(StatusCode::OK, &receipt, views::json(contact_answer(&app, &caller, &user)?)))
}

/// The commander's promise of the next update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextUpdateBody {
    /// When the next update is due (RFC 3339), after now and within 7 days.
    #[schema(example = "2026-11-27T04:00:00Z")]
    next_at: String,
    /// Then every this many minutes (5 to 10080).
    #[schema(minimum = 5, maximum = 10080)]
    every_minutes: Option<u32>,
    /// Who receives the SITREP digest besides the incident's executives.
    #[serde(default)]
    subscribers: Vec<UserName>,
}

/// Promise the next update (the commander). The commander is reminded before it is due; the
/// subscribers and the incident's executives get the SITREP by e-mail at each promised time.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/next-update", tag = "incidents", request_body = NextUpdateBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The promise: `{next_at, every_minutes, subscribers, set_by, set_at}`", body = UpdatePromise), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn schedule_update(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<NextUpdateBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let NextUpdateBody { next_at, every_minutes, subscribers } = body.value;
    let next_at = rfc3339("next_at", Some(next_at))?
        .ok_or_else(|| ApiError::invalid("next_at", "a time such as 2026-11-27T04:00:00Z"))?;
    let command = IncidentCommand::ScheduleUpdate { next_at, every_minutes, subscribers };
    let receipt =
        app.ledger.execute_once(&caller.user, caller.incident_request(incident, command), body.idempotency).await?;
    let promise = read(&app, incident, |state| serde_json::to_value(&state.alerts.update).unwrap_or_default())?;
    Ok(written(StatusCode::OK, &receipt, promise))
}
