//! The organisation's pages: the policy, the organisation record, and the viewer's tokens.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sitrep_core::RecordId;
use sitrep_store::Request as LedgerRequest;

use super::filters;
use super::view::{self, Me};
use super::{Fields, Path1, Viewer, csrf, error_page, render};
use crate::error::ApiError;
use crate::state::AppState;

/// One row of the policy matrix.
struct ClassRow {
    class: String,
    propose: String,
    approve: String,
    people: u32,
    scope: &'static str,
    path: String,
    csf: String,
    ai_rmf: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    me: Option<Me>,
    name: String,
    sha256: String,
    classes: Vec<ClassRow>,
    actions: Vec<(&'static str, String)>,
    required: String,
}

pub(super) async fn policy_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    let org = app.ledger.org();
    let policy = &org.policy;
    let dash = |list: &[String]| if list.is_empty() { "—".to_owned() } else { list.join(", ") };
    let a = &policy.actions;
    let page = PolicyPage {
        me: Some(viewer.me(&app)),
        name: policy.name.clone(),
        sha256: policy.sha256.clone(),
        classes: policy
            .classes
            .iter()
            .map(|c| ClassRow {
                class: c.class.to_string(),
                propose: c.propose.describe(),
                approve: c.rule.approve.describe(),
                people: c.rule.people,
                scope: c.rule.scope.as_str(),
                path: dash(&c.path),
                csf: dash(&c.csf),
                ai_rmf: dash(&c.ai_rmf),
            })
            .collect(),
        actions: vec![
            ("Set the phase", a.set_phase.describe()),
            ("Set the severity", a.set_severity.describe()),
            ("Assign and release roles", a.assign_roles.describe()),
            ("Log facts", a.log_facts.describe()),
            ("Verify and disprove facts", a.verify_facts.describe()),
            ("Tasks", a.tasks.describe()),
            ("Notes", a.notes.describe()),
        ],
        required: policy.roles.required.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    };
    render(&page, StatusCode::OK)
}

struct OrgRow {
    seq: u64,
    at: String,
    actor: String,
    kind: String,
    summary: String,
    hash: String,
}

#[derive(Template)]
#[template(path = "org_record.html")]
struct OrgRecordPage {
    me: Option<Me>,
    chain_ok: bool,
    chain_detail: String,
    entries: Vec<OrgRow>,
}

pub(super) async fn org_record_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    let me = viewer.me(&app);
    if !me.may_read_org_record {
        return error_page(
            Some(me),
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Reading the organisation record needs the admin or auditor organisation role.",
        );
    }
    let store = app.ledger.store().clone();
    let entries = match tokio::task::spawn_blocking(move || store.read(RecordId::Org, 1, usize::MAX)).await {
        Ok(Ok(entries)) => entries,
        Ok(Err(error)) => return ApiError::from(error).into_response(),
        Err(error) => return ApiError::Internal(error.to_string()).into_response(),
    };
    let (chain_ok, chain_detail) = match sitrep_core::chain::verify_entries(RecordId::Org, &entries) {
        Ok(()) => (true, format!("{} entries", entries.len())),
        Err(broken) => (false, broken.to_string()),
    };
    let rows = entries
        .iter()
        .rev()
        .map(|e| OrgRow {
            seq: e.seq,
            at: view::when(e.at),
            actor: e.actor.to_string(),
            kind: e.kind.clone(),
            // A replaced policy carries the whole file; show its hash, not the file.
            summary: if e.kind == "policy.replaced" || e.kind == "playbook.added" {
                serde_json::from_str::<serde_json::Value>(&e.body)
                    .ok()
                    .and_then(|b| b.get("sha256").cloned())
                    .map_or_else(String::new, |h| format!("sha256 {h}"))
            } else {
                e.body.clone()
            },
            hash: e.hash.short(),
        })
        .collect();
    render(&OrgRecordPage { me: Some(me), chain_ok, chain_detail, entries: rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    me: Option<Me>,
    csrf: String,
    created: Option<String>,
    error: Option<String>,
    tokens: Vec<(String, String, String, String, bool)>,
    /// Linked chat identities: (system, id).
    chat: Vec<(String, String)>,
    /// A link code just issued, and when it expires.
    link_code: Option<(String, String)>,
}

fn tokens_view(
    app: &AppState,
    viewer: &Viewer,
    created: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let org = app.ledger.org();
    let tokens = org
        .tokens
        .values()
        .filter(|t| t.user == viewer.user)
        .map(|t| {
            (
                t.id.clone(),
                t.label.clone().unwrap_or_default(),
                view::when(t.issued_at),
                t.expires_at.map(view::when).unwrap_or_default(),
                t.revoked,
            )
        })
        .collect();
    let chat = org.user(&viewer.user).map(|u| u.chat.clone().into_iter().collect()).unwrap_or_default();
    let page = TokensPage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        created,
        error,
        tokens,
        chat,
        link_code: None,
    };
    render(&page, status)
}

/// A one-time code linking the viewer's chat account (`docs/chat.md`), shown on the tokens page.
pub(super) async fn create_link_code(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let (code, expires_at) = match app.link_codes.issue(&viewer.user, app.now()) {
        Ok(issued) => issued,
        Err(error) => return ApiError::Internal(error).into_response(),
    };
    let org = app.ledger.org();
    let chat = org.user(&viewer.user).map(|u| u.chat.clone().into_iter().collect()).unwrap_or_default();
    let page = TokensPage {
        me: Some(viewer.me(&app)),
        csrf: viewer.csrf.clone(),
        created: None,
        error: None,
        tokens: Vec::new(),
        chat,
        link_code: Some((code, view::when(expires_at))),
    };
    render(&page, StatusCode::CREATED)
}

pub(super) async fn tokens_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    tokens_view(&app, &viewer, None, None, StatusCode::OK)
}

pub(super) async fn create_token(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let days: u64 = match fields.get("days").trim().parse() {
        Ok(days) if days <= 3650 => days,
        _ => {
            return tokens_view(
                &app,
                &viewer,
                None,
                Some("Expiry must be a number of days from 0 to 3650.".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let expires_at = (days > 0).then(|| app.now().plus_seconds(days as i64 * 86_400));
    let (token, sha256) = match sitrep_store::datadir::new_token() {
        Ok(pair) => pair,
        Err(error) => return ApiError::Internal(error.to_string()).into_response(),
    };
    let command = sitrep_core::decide::OrgCommand::IssueToken {
        minted_by: None,
        user: viewer.user.clone(),
        sha256,
        expires_at,
        label: fields.optional("label"),
    };
    match app.ledger.execute(&viewer.user, LedgerRequest::Org(command)).await {
        Ok(_) => tokens_view(&app, &viewer, Some(token), None, StatusCode::CREATED),
        Err(error) => {
            let error = ApiError::from(error);
            tokens_view(&app, &viewer, None, Some(error.to_string()), error.status())
        }
    }
}

pub(super) async fn revoke_token(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(token): Path1,
    fields: Fields,
) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let command = sitrep_core::decide::OrgCommand::RevokeToken { user: viewer.user.clone(), token };
    match app.ledger.execute(&viewer.user, LedgerRequest::Org(command)).await {
        Ok(_) => Redirect::to("/account/tokens").into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            tokens_view(&app, &viewer, None, Some(error.to_string()), error.status())
        }
    }
}
