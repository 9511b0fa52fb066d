//! Alerts in the browser: a review link from an alert e-mail, and the decision's review sheet
//! it leads to.
//!
//! A review link never approves anything. Opening it needs the person's own sign-in (the
//! `Viewer` extractor sends anyone else to the sign-in page first, and back here after), then
//! it is recorded as `review_link.opened` and works no more; the sheet's forms are the command
//! view's, so the policy (people, step-up) applies unchanged.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sitrep_core::DecisionId;
use sitrep_core::decide::{IncidentCommand, Refusal};
use sitrep_store::LedgerError;

use super::filters;
use super::view::{CommandView, DecisionCard, Me};
use super::{Path1, Viewer, command_model, error_page, render};
use crate::connectors::alerts::{decision_content, open_review_link};
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
