//! The incident list, declaring, the command view and its SITREP page; roles, command
//! hand-over, phase, severity, notes, playbooks and retrying an action, as in `api/incidents.rs`.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use sitrep_core::decide::IncidentCommand;
use sitrep_core::sitrep::{Sitrep, age};
use sitrep_core::{DecisionId, Phase, RecordId, Severity};
use sitrep_store::Request as LedgerRequest;

use super::filters;
use super::forms::{self, FormError, PlaybookChoice, Refused};
use super::view::{self, Me};
use super::{
    Fields, FormBody, Path1, Path3, Viewer, act, csrf, error_page, render, render_command, said, visible_incident,
};
use crate::api::incidents::{DeclareBody, HandoverBody, NoteBody, PhaseBody, PlaybookBody, RoleBody, SeverityBody};
use crate::error::ApiError;
use crate::state::AppState;

struct ListRow {
    id: String,
    title: String,
    severity: String,
    phase: String,
    restricted: bool,
    exercise: bool,
    waiting: usize,
    age: String,
    open_tasks: usize,
}

/// What waits on the viewer in one open incident, for the top of the list.
struct WaitingRow {
    id: String,
    title: String,
    /// "Approve D-3 “Block the IP range”", "T-2 “Pull the logs”, due in 40 min".
    items: Vec<String>,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    me: Option<Me>,
    /// Each filter: its key, its label, and whether it is the one shown.
    filters: Vec<(&'static str, &'static str, bool)>,
    /// Everywhere something waits on the viewer, whatever the filter.
    waiting: Vec<WaitingRow>,
    rows: Vec<ListRow>,
}

/// What waits on the viewer in `state`, in words, or `None` if nothing does.
fn waiting_row(
    state: &sitrep_core::IncidentState,
    org: &sitrep_core::OrgState,
    viewer: &sitrep_core::UserName,
    now: sitrep_core::Timestamp,
) -> Option<WaitingRow> {
    let view = sitrep_core::IncidentView::of(state, org, viewer, now)?;
    let queue = view.queue();
    let decisions = queue.decisions.iter().map(|d| format!("Approve or reject {} “{}”", d.id, d.title));
    let tasks = queue.tasks.iter().map(|t| match t.due {
        Some(due) => format!("{} “{}”, {}", t.id, t.title, view::deadline_words(due, now)),
        None => format!("{} “{}”", t.id, t.title),
    });
    let items: Vec<String> = decisions.chain(tasks).collect();
    (!items.is_empty()).then(|| WaitingRow { id: state.id.to_string(), title: state.title.clone(), items })
}

pub(super) async fn incidents(State(app): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let filter = uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "filter").map(|(_, v)| v.into_owned()))
        .filter(|f| ["open", "closed", "mine", "all"].contains(&f.as_str()))
        .unwrap_or_else(|| "open".to_owned());
    let now = app.now();
    let org = app.ledger.org();
    let mut rows = Vec::new();
    let mut waiting = Vec::new();
    app.ledger.each_incident(|state| {
        waiting.extend(waiting_row(state, &org, &viewer.user, now));
        let closed = state.phase == Phase::Closed;
        let wanted = match filter.as_str() {
            "open" => !closed,
            "closed" => closed,
            "mine" => state.is_participant(&viewer.user),
            _ => true,
        };
        if wanted && crate::views::visible(state, &viewer.user) {
            rows.push(ListRow {
                id: state.id.to_string(),
                title: state.title.clone(),
                severity: state.severity.as_str().to_owned(),
                phase: state.phase.as_str().replace('_', " "),
                restricted: state.restricted,
                exercise: state.exercise,
                waiting: state.awaiting(&viewer.user).len(),
                age: age(state.declared_at, now),
                open_tasks: state
                    .tasks
                    .iter()
                    .filter(|t| {
                        matches!(
                            t.state,
                            sitrep_core::incident::TaskState::Open | sitrep_core::incident::TaskState::Blocked
                        )
                    })
                    .count(),
            });
        }
    });
    rows.reverse();
    waiting.reverse();
    let page = IncidentsPage {
        me: Some(viewer.me(&app)),
        filters: [("open", "Open"), ("mine", "Mine"), ("closed", "Closed"), ("all", "All")]
            .into_iter()
            .map(|(key, label)| (key, label, key == filter))
            .collect(),
        waiting,
        rows,
    };
    render(&page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "declare.html")]
struct DeclarePage {
    me: Option<Me>,
    csrf: String,
    refused: Option<Refused>,
    /// What was typed before a refusal (empty on a fresh page): the form shows it again.
    title: String,
    scope: String,
    restricted: bool,
    exercise: bool,
    /// Each severity, with whether it is selected.
    severities: Vec<(&'static str, bool)>,
    /// Each core role: its field, its name, what leaving it empty means, and each active
    /// user with whether they are chosen.
    core_roles: Vec<CoreRole>,
    playbooks: Vec<PlaybookChoice>,
    no_playbook: bool,
}

struct CoreRole {
    field: String,
    name: String,
    nobody: &'static str,
    users: Vec<(String, bool)>,
}

/// The declare page, filled with `fields` (what was typed, when a declaration was refused).
fn declare_form(
    app: &AppState,
    viewer: &Viewer,
    refused: Option<Refused>,
    fields: &Fields,
    status: StatusCode,
) -> Response {
    let org = app.ledger.org();
    let severity = Some(fields.get("severity")).filter(|s| !s.is_empty()).unwrap_or(Severity::Sev2.as_str());
    let users: Vec<String> = org.users.values().filter(|u| u.active).map(|u| u.name.to_string()).collect();
    let playbooks = forms::playbook_choices(&org, None, fields, false);
    let page = DeclarePage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        refused,
        title: fields.get("title").to_owned(),
        scope: fields.get("scope").to_owned(),
        restricted: fields.checked("restricted"),
        exercise: fields.checked("exercise"),
        severities: Severity::ALL.iter().map(|s| (s.as_str(), s.as_str() == severity)).collect(),
        core_roles: org
            .policy
            .roles
            .required
            .iter()
            .map(|r| {
                let field = format!("role_{r}");
                let chosen = fields.get(&field);
                CoreRole {
                    name: r.to_string(),
                    nobody: if r == "commander" { "me (you are the commander)" } else { "not yet" },
                    users: users.iter().map(|u| (u.clone(), u == chosen)).collect(),
                    field,
                }
            })
            .collect(),
        no_playbook: !playbooks.iter().any(|p| p.chosen),
        playbooks,
    };
    render(&page, status)
}

pub(super) async fn declare_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    declare_form(&app, &viewer, None, &Fields::default(), StatusCode::OK)
}

pub(super) async fn declare(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let refuse =
        |error: FormError, status| declare_form(&app, &viewer, Some(Refused::of(error, &fields)), &fields, status);
    let declare = match declare_body(&fields).parse::<DeclareBody>() {
        Ok(body) => body.into_declare(),
        Err(error) => return refuse(error, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match app.ledger.execute(&viewer.user, LedgerRequest::Declare(declare)).await {
        Ok(receipt) => match receipt.record {
            RecordId::Incident(number) => Redirect::to(&format!("/incidents/{number}")).into_response(),
            RecordId::Org => Redirect::to("/incidents").into_response(),
        },
        Err(error) => {
            let error = ApiError::from(error);
            let status = error.status();
            refuse(error.into(), status)
        }
    }
}

pub(super) async fn command_view(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): crate::extract::Segments<String>,
) -> Response {
    render_command(&app, &viewer, &id, None, StatusCode::OK).await
}

/// The declare form as the API's `DeclareBody`. Adapters: `scope` is comma-separated, the
/// checkboxes are ticked or absent, each core role is a `role_<name>` field, and each of the
/// chosen playbook's inputs is a field of its own.
fn declare_body(fields: &Fields) -> FormBody {
    let scope: Vec<&str> = fields.get("scope").split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let roles: serde_json::Map<String, serde_json::Value> = fields
        .0
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("role_")?, value.trim())))
        .filter(|(_, user)| !user.is_empty())
        .map(|(role, user)| (role.to_owned(), user.into()))
        .collect();
    fields
        .body(&["title", "severity"], &["playbook"])
        .with("scope", scope)
        .with("restricted", fields.checked("restricted"))
        .with("exercise", fields.checked("exercise"))
        .with("roles", roles)
        .with("inputs", forms::inputs_of(fields))
}

pub(super) async fn run_playbook(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let body = fields.body(&["playbook"], &[]).with("inputs", forms::inputs_of(&fields));
    let command = body.parse::<PlaybookBody>().map(PlaybookBody::into_command);
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

pub(super) async fn retry_action(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did, number)): Path3,
    fields: Fields,
) -> Response {
    let command = did.parse::<DecisionId>().map_err(FormError::text).and_then(|decision| {
        number
            .parse::<u32>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .map(|action| IncidentCommand::RetryAction { decision, action })
            .ok_or_else(|| FormError::text(format!("'{number}' is not an action number")))
    });
    let anchor = format!("decision-{did}");
    act(&app, &viewer, &id, &fields, &anchor, command).await
}

pub(super) async fn release_role(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    // The page asks why before it releases; the reason is kept in the release's entry.
    let command = match fields.optional("reason") {
        None => Err(FormError::at("reason", "say why the role is released: the record keeps the reason")),
        Some(reason) => {
            fields.body(&["role", "user"], &["unit"]).parse::<RoleBody>().map(|body| body.release(Some(reason)))
        }
    };
    act(&app, &viewer, &id, &fields, "roles", command).await
}

pub(super) async fn assign_role(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["role", "user"], &["unit"]).parse::<RoleBody>().map(RoleBody::assign);
    act(&app, &viewer, &id, &fields, "roles", command).await
}

pub(super) async fn hand_over(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["to", "reason"], &[]).parse::<HandoverBody>().map(HandoverBody::into_command);
    act(&app, &viewer, &id, &fields, "roles", command).await
}

pub(super) async fn set_phase(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["phase"], &[]).parse::<PhaseBody>().map(PhaseBody::into_command);
    act(&app, &viewer, &id, &fields, "summary", command).await
}

pub(super) async fn set_severity(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["severity"], &["reason"]).parse::<SeverityBody>().map(SeverityBody::into_command);
    act(&app, &viewer, &id, &fields, "summary", command).await
}

pub(super) async fn add_note(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["text"], &["backfill_reason"])
        .local_time(&fields, "occurred_at")
        .and_then(FormBody::parse::<NoteBody>)
        .and_then(|body| body.into_command().map_err(said));
    act(&app, &viewer, &id, &fields, "timeline", command).await
}

#[derive(Template)]
#[template(path = "sitrep.html")]
struct SitrepPage {
    me: Option<Me>,
    r: Sitrep,
    age: String,
    head: String,
    declared: String,
    generated: String,
    roles: Vec<(String, String)>,
}

pub(super) async fn sitrep_page(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
) -> Response {
    let number = match visible_incident(&app, &viewer, &id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let org = app.ledger.org();
    let Some(r) = app.ledger.with_incident(number, |state| Sitrep::of(state, &org, app.now())) else {
        return error_page(Some(viewer.me(&app)), StatusCode::NOT_FOUND, "Not found", "That incident is gone.");
    };
    let roles = r
        .roles
        .iter()
        .map(|(role, users)| {
            (role.as_str().replace('_', " "), users.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        })
        .collect();
    let page = SitrepPage {
        me: Some(viewer.me(&app)),
        age: age(r.declared_at, r.generated_at),
        head: r.as_of_hash.short(),
        declared: view::when(r.declared_at),
        generated: view::when(r.generated_at),
        roles,
        r,
    };
    render(&page, StatusCode::OK)
}
