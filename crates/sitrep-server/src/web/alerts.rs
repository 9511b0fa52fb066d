//! Alerts in the browser: how a person is told (their contact routes), a review link from an
//! alert e-mail, and the decision's review sheet it leads to.
//!
//! A review link never approves anything. Opening it needs the person's own sign-in (the
//! `Viewer` extractor sends anyone else to the sign-in page first, and back here after), then
//! it is recorded as `review_link.opened` and works no more; the sheet's forms are the command
//! view's, so the policy (people, step-up) applies unchanged.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sitrep_core::decide::{IncidentCommand, OrgCommand, Refusal};
use sitrep_core::incident::AlertKind;
use sitrep_core::{DecisionId, UserName};
use sitrep_store::LedgerError;

use super::filters;
use super::forms::FormError;
use super::view::{CommandView, DecisionCard, Me};
use super::{Fields, csrf};
use super::{Path1, Viewer, command_model, error_page, render};
use crate::connectors::alerts::{self, decision_content, open_review_link};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "review_sheet.html")]
struct ReviewSheet {
    me: Option<Me>,
    csrf: String,
    view: CommandView,
    d: DecisionCard,
}

pub(super) async fn review_link(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(token): Path1,
) -> Response {
    let page = |status, heading: &str, message: &str| error_page(Some(viewer.me(&app)), status, heading, message);
    let Some(link) = open_review_link(&app.review_key, &token) else {
        return page(
            StatusCode::NOT_FOUND,
            "Not a valid link",
            "This review link is not valid. Open the incident from the list instead.",
        );
    };
    if link.person != viewer.user {
        let message = format!(
            "This link was sent to {}. You are signed in as {}: sign out and sign in as {} to use it.",
            link.person, viewer.user, link.person
        );
        return page(StatusCode::FORBIDDEN, "This link is someone else's", &message);
    }
    if app.now() >= link.expires {
        let message =
            format!("This review link expired at {}. Open {} from the incident list.", link.expires, link.decision);
        return page(StatusCode::GONE, "This link has expired", &message);
    }
    let content = app.ledger.with_incident(link.incident, |state| decision_content(state, link.decision)).flatten();
    match content {
        None => return page(StatusCode::NOT_FOUND, "Not found", "That incident or decision is gone."),
        Some(now) if now != link.content => {
            let message = format!("{} is not what this link was sent for. Open it from the incident.", link.decision);
            return page(StatusCode::CONFLICT, "The decision changed", &message);
        }
        Some(_) => {}
    }
    let command = IncidentCommand::OpenReviewLink { decision: link.decision, link: link.nonce.clone() };
    let request = sitrep_store::Request::IncidentInSession {
        incident: link.incident,
        command,
        authentication: viewer.authentication.clone(),
    };
    match app.ledger.execute(&viewer.user, request).await {
        Ok(_) => Redirect::to(&format!("/incidents/{}/decisions/{}", link.incident, link.decision)).into_response(),
        Err(LedgerError::Refused(Refusal::Conflict(reason))) => {
            page(StatusCode::GONE, "This link was already used", &reason)
        }
        Err(LedgerError::Refused(Refusal::NotFound(_))) => {
            page(StatusCode::NOT_FOUND, "Not found", "That incident or decision is gone.")
        }
        Err(error) => crate::error::ApiError::from(error).into_response(),
    }
}

/// One decision on a page of its own: what it decides, where it stands, and the controls the
/// viewer may use.
pub(super) async fn review_sheet(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did)): crate::extract::Segments<(String, String)>,
) -> Response {
    let (view, _, _) = match command_model(&app, &viewer, &id).await {
        Ok(model) => model,
        Err(page) => return *page,
    };
    let wanted = did.parse::<DecisionId>().ok().map(|d| d.to_string());
    let Some(d) = view.decisions.iter().find(|d| Some(&d.id) == wanted.as_ref()).cloned() else {
        let message = format!("{id} has no decision {did}; decision ids look like D-2.");
        return error_page(Some(viewer.me(&app)), StatusCode::NOT_FOUND, "Not found", &message);
    };
    render(&ReviewSheet { me: Some(viewer.me(&app)), csrf: viewer.csrf.clone(), view, d }, StatusCode::OK)
}

/// What a person may mute: everything but escalations and clock warnings.
const MUTABLE: [(AlertKind, &str); 6] = [
    (AlertKind::Role, "roles given to me"),
    (AlertKind::Decision, "decisions waiting on me"),
    (AlertKind::Reminder, "reminders of approvals I owe"),
    (AlertKind::Task, "my tasks, due soon and overdue"),
    (AlertKind::Update, "the update I promised"),
    (AlertKind::Digest, "SITREP digests"),
];

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    me: Option<Me>,
    csrf: String,
    email: String,
    webhook: String,
    webhook_secret: Option<String>,
    mutable: Vec<(&'static str, &'static str, bool)>,
    routes: Vec<&'static str>,
    smtp: bool,
    saved: bool,
    error: Option<String>,
}

fn contact_view(app: &AppState, viewer: &Viewer, saved: bool, error: Option<String>, status: StatusCode) -> Response {
    let org = app.ledger.org();
    let Some(user) = org.user(&viewer.user) else {
        return error_page(None, StatusCode::NOT_FOUND, "Not found", "Your account is gone.");
    };
    let contact = &user.contact;
    let page = ContactPage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        email: contact.email.clone().unwrap_or_default(),
        webhook: contact.webhook.clone().unwrap_or_default(),
        webhook_secret: contact.webhook.is_some().then(|| alerts::webhook_secret(&app.review_key, &viewer.user)),
        mutable: MUTABLE.iter().map(|(kind, label)| (kind.as_str(), *label, contact.mute.contains(kind))).collect(),
        routes: alerts::routes(&app.config, user),
        smtp: app.config.smtp.is_some(),
        saved,
        error,
    };
    render(&page, status)
}

pub(super) async fn contact_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    contact_view(&app, &viewer, false, None, StatusCode::OK)
}

/// Saves the form as the API's `PUT …/contact` would: the whole set replaced.
pub(super) async fn set_contact(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let command = OrgCommand::SetContact {
        user: viewer.user.clone(),
        email: fields.optional("email"),
        webhook: fields.optional("webhook"),
        mute: MUTABLE
            .iter()
            .filter(|(kind, _)| fields.checked(&format!("mute_{}", kind.as_str())))
            .map(|k| k.0)
            .collect(),
    };
    match app.ledger.execute(&viewer.user, sitrep_store::Request::Org(command)).await {
        // Saving what is already set changes nothing, which is what the person wanted.
        Ok(_) | Err(LedgerError::Refused(Refusal::Conflict(_))) => {
            contact_view(&app, &viewer, true, None, StatusCode::OK)
        }
        Err(error) => {
            let error = ApiError::from(error);
            contact_view(&app, &viewer, false, Some(error.to_string()), error.status())
        }
    }
}

/// The commander's promise from the command view: "in N minutes", then every M.
pub(super) async fn promise_update(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let minutes = |name: &str| -> Result<Option<u32>, FormError> {
        match fields.optional(name) {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| FormError::at(name, "a whole number of minutes")),
        }
    };
    let command = (|| {
        let within = minutes("in_minutes")?.ok_or_else(|| FormError::at("in_minutes", "say in how many minutes"))?;
        let subscribers = fields
            .get("subscribers")
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| name.parse().map_err(|_| FormError::at("subscribers", format!("'{name}' is not a user name"))))
            .collect::<Result<Vec<UserName>, FormError>>()?;
        Ok::<_, FormError>(IncidentCommand::ScheduleUpdate {
            next_at: app.now().plus_seconds(i64::from(within) * 60),
            every_minutes: minutes("every_minutes")?,
            subscribers,
        })
    })();
    super::act(&app, &viewer, &id, &fields, "summary", command).await
}
