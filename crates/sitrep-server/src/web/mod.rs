//! The web command centre: server-rendered pages with askama (escaping by default), plain CSS,
//! and one small script for live updates. Every form works without JavaScript: it posts,
//! the server decides through the same ledger as the API, and answers with a redirect (303) to
//! the updated page, or the page again with the refusal's reason and its status.
//!
//! Pages are served with a Content-Security-Policy that allows no inline script and nothing
//! from other origins, so the UI works on an isolated network.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use sitrep_core::chain::{Break, BreakReason, ChainVerifier};
use sitrep_core::decide::{Declare, IncidentCommand};
use sitrep_core::events::{Audience, FactStatus};
use sitrep_core::sitrep::{Sitrep, age};
use sitrep_core::{
    DecisionId, Entry, FactId, IncidentNumber, OrgRole, Phase, RecordId, Role, Severity, TaskId, UserName,
};
use sitrep_store::{Request as LedgerRequest, Store};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{self, SESSION_COOKIE, cookie, same_secret};
use crate::error::ApiError;
use crate::state::AppState;

pub mod report;
pub mod sections;
pub mod view;

use view::{Chain, CommandView, Me};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every page and form route.
pub fn routes(app: &AppState) -> Router<AppState> {
    let _ = app;
    Router::new()
        .route("/", get(|| async { Redirect::to("/incidents") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/incidents", get(incidents).post(declare))
        .route("/incidents/new", get(declare_page))
        .route("/incidents/{id}", get(command_view))
        .route("/incidents/{id}/sitrep", get(sitrep_page))
        .route("/incidents/{id}/report", get(report::report_page))
        .route("/incidents/{id}/facts", post(log_fact))
        .route("/incidents/{id}/facts/{fid}/judge", post(judge_fact))
        .route("/incidents/{id}/decisions", post(propose))
        .route("/incidents/{id}/decisions/{did}/{verb}", post(decide))
        .route("/incidents/{id}/tasks", post(add_task))
        .route("/incidents/{id}/tasks/{tid}/done", post(task_done))
        .route("/incidents/{id}/tasks/{tid}/block", post(task_blocked))
        .route("/incidents/{id}/roles", post(assign_role))
        .route("/incidents/{id}/roles/release", post(release_role))
        .route("/incidents/{id}/handover", post(hand_over))
        .route("/incidents/{id}/phase", post(set_phase))
        .route("/incidents/{id}/severity", post(set_severity))
        .route("/incidents/{id}/notes", post(add_note))
        .route("/incidents/{id}/playbooks", post(run_playbook))
        .route("/incidents/{id}/decisions/{did}/actions/{number}/retry", post(retry_action))
        .route("/incidents/{id}/evidence", post(upload_evidence))
        .route("/incidents/{id}/parties", post(engage_party))
        .route("/incidents/{id}/shares", post(propose_share))
        .route("/incidents/{id}/shares/{sid}/revoke", post(revoke_share))
        .route("/incidents/{id}/statements", post(draft_statement))
        .route("/incidents/{id}/statements/{sid}/{verb}", post(statement_action))
        .route("/parties", get(parties_page).post(register_party))
        .route("/incidents/{id}/determinations", post(record_determination))
        .route("/incidents/{id}/determinations/{determination}/withdraw", post(withdraw_determination))
        .route("/incidents/{id}/clocks/{clock}/submission", post(submit_notification))
        .route("/incidents/{id}/clocks/{clock}/not-required", post(notification_not_required))
        .route("/incidents/{id}/review/lessons", post(record_lesson))
        .route("/incidents/{id}/review/changes", post(plan_change))
        .route("/incidents/{id}/review/changes/{cc}/done", post(change_done))
        .route("/incidents/{id}/review/complete", post(complete_review))
        .route("/control-changes", get(control_changes_page))
        .route("/policy", get(policy_page))
        .route("/org/record", get(org_record_page))
        .route("/account/tokens", get(tokens_page).post(create_token))
        .route("/account/tokens/{token}/revoke", post(revoke_token))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(CSP),
        ))
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../../static/app.css")) }),
        )
        .route(
            "/static/live.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/live.js")) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// The signed-in person of a page request. Without a session, pages redirect to sign-in.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: UserName,
    pub csrf: String,
    session: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let session =
            cookie(&parts.headers, SESSION_COOKIE).and_then(|id| app.auth.session(id).map(|s| (id.to_owned(), s)));
        match session {
            Some((id, session)) if app.ledger.org().user(&session.user).is_some_and(|u| u.active) => {
                Ok(Viewer { user: session.user, csrf: session.csrf, session: id })
            }
            _ => {
                let next = parts.uri.path_and_query().map_or("/incidents", |p| p.as_str());
                Err(Redirect::to(&format!("/login?next={}", encode(next))).into_response())
            }
        }
    }
}

impl Viewer {
    fn me(&self, app: &AppState) -> Me {
        let org = app.ledger.org();
        let user = org.user(&self.user);
        Me {
            name: self.user.to_string(),
            display_name: user.and_then(|u| u.display_name.clone()).unwrap_or_else(|| self.user.to_string()),
            csrf: self.csrf.clone(),
            may_read_org_record: user.is_some_and(|u| u.has(OrgRole::Admin) || u.has(OrgRole::Auditor)),
        }
    }
}

/// A form's fields, read leniently (a missing field is empty) so that every mistake is
/// answered by the domain's own validation, in words, on the page.
#[derive(Debug, Default)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

impl axum::extract::FromRequest<AppState> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let limit = app.config.max_body_bytes;
        let refused = |error: ApiError| match error {
            ApiError::TooLarge { .. } => error_page(
                None,
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "The form is larger than the server accepts.",
            ),
            other => error_page(None, other.status(), "The form did not arrive", &other.to_string()),
        };
        if let Some(too_large) = ApiError::announced_too_large(request.headers(), limit as u64) {
            return Err(refused(too_large));
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|error| refused(ApiError::body(&error, limit)))?;
        // A repeated field (ticked checkboxes) arrives as its values joined by commas.
        let mut fields: HashMap<String, String> = HashMap::new();
        for (name, value) in form_urlencoded::parse(&bytes).into_owned() {
            fields.entry(name).and_modify(|v| *v = format!("{v},{value}")).or_insert(value);
        }
        Ok(Fields(fields))
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => ApiError::Internal(format!("rendering a page: {error}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    me: Option<Me>,
    heading: &'a str,
    message: &'a str,
}

fn error_page(me: Option<Me>, status: StatusCode, heading: &str, message: &str) -> Response {
    render(&ErrorPage { me, heading, message }, status)
}

/// Checks the form's CSRF token against the session's; the refusal page when it does not match.
fn csrf(app: &AppState, viewer: &Viewer, fields: &Fields) -> Option<Response> {
    if same_secret(fields.get("csrf"), &viewer.csrf) {
        None
    } else {
        Some(error_page(
            Some(viewer.me(app)),
            StatusCode::FORBIDDEN,
            "The form has expired",
            "This form did not carry your session's security token (it may be from an older sign-in). Reload the page and try again.",
        ))
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    me: Option<Me>,
    error: Option<String>,
    next: String,
    name: String,
}

/// Only a path on this site is followed after sign-in: `/`, then only characters a path and
/// query may hold unescaped (RFC 3986: unreserved, sub-delimiters, `:@/?%`). Whitespace,
/// controls, `\\` and a leading `//` are what browsers read as another host (`/\t/evil.example`
/// is followed off-site) or what a `Location` header cannot carry, so anything else goes to the
/// incident list.
fn safe_next(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
    if local { next.to_owned() } else { "/incidents".to_owned() }
}

async fn login_page(uri: Uri) -> Response {
    let next = uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "next").map(|(_, v)| v.into_owned()))
        .unwrap_or_default();
    render(&LoginPage { me: None, error: None, next: safe_next(&next), name: String::new() }, StatusCode::OK)
}

async fn login(
    State(app): State<AppState>,
    address: crate::api::org::ClientAddr,
    headers: axum::http::HeaderMap,
    fields: Fields,
) -> Response {
    if auth::cross_site(&headers, app.config.public_url.as_deref()) {
        return error_page(
            None,
            StatusCode::FORBIDDEN,
            "Sign in on sitrep's own page",
            "This sign-in came from another site's form, so it was refused. Open sitrep's sign-in page and sign in there.",
        );
    }
    let next = safe_next(fields.get("next"));
    match auth::sign_in(&app, fields.get("name").trim(), fields.get("password"), address.0).await {
        Ok(user) => match app.auth.start_session(&user) {
            Ok((id, _)) => {
                let mut response = Redirect::to(&next).into_response();
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, session_cookie(&app, &id, app.config.session_hours * 3600));
                response
            }
            Err(error) => error.into_response(),
        },
        Err(error) => {
            let page =
                LoginPage { me: None, error: Some(error.to_string()), next, name: fields.get("name").to_owned() };
            render(&page, error.status())
        }
    }
}

fn session_cookie(app: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.config.behind_tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sitrep_session=; Path=/; Max-Age=0"))
}

async fn logout(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    app.auth.end_session(&viewer.session);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    response
}

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

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    me: Option<Me>,
    /// Each filter: its key, its label, and whether it is the one shown.
    filters: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<ListRow>,
}

async fn incidents(State(app): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let filter = uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "filter").map(|(_, v)| v.into_owned()))
        .filter(|f| ["open", "closed", "mine", "all"].contains(&f.as_str()))
        .unwrap_or_else(|| "open".to_owned());
    let now = app.now();
    let mut rows = Vec::new();
    app.ledger.each_incident(|state| {
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
    let page = IncidentsPage {
        me: Some(viewer.me(&app)),
        filters: [("open", "Open"), ("mine", "Mine"), ("closed", "Closed"), ("all", "All")]
            .into_iter()
            .map(|(key, label)| (key, label, key == filter))
            .collect(),
        rows,
    };
    render(&page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "declare.html")]
struct DeclarePage {
    me: Option<Me>,
    csrf: String,
    error: Option<String>,
    title: String,
    /// Each severity, with whether it is preselected.
    severities: Vec<(&'static str, bool)>,
    /// Each core role, with what leaving it empty means.
    core_roles: Vec<(String, &'static str)>,
    users: Vec<String>,
    /// Each playbook: id, title, its inputs as `name=example` lines.
    playbooks: Vec<(String, String, String)>,
}

fn declare_form(app: &AppState, viewer: &Viewer, error: Option<String>, title: String, status: StatusCode) -> Response {
    let org = app.ledger.org();
    let page = DeclarePage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        error,
        title,
        severities: Severity::ALL.iter().map(|s| (s.as_str(), *s == Severity::Sev2)).collect(),
        core_roles: org
            .policy
            .roles
            .required
            .iter()
            .map(|r| (r.to_string(), if r == "commander" { "me (you are the commander)" } else { "not yet" }))
            .collect(),
        users: org.users.values().filter(|u| u.active).map(|u| u.name.to_string()).collect(),
        playbooks: org
            .playbooks
            .values()
            .filter_map(|p| sitrep_core::playbook::Playbook::parse(&p.source, &org.policy).ok())
            .map(|p| {
                let hint = view::input_hint(&p);
                (p.id, p.title, hint)
            })
            .collect(),
    };
    render(&page, status)
}

async fn declare_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    declare_form(&app, &viewer, None, String::new(), StatusCode::OK)
}

async fn declare(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let title = fields.get("title").to_owned();
    let refuse = |message: String, status| declare_form(&app, &viewer, Some(message), title.clone(), status);
    let Ok(severity) = fields.get("severity").parse::<Severity>() else {
        return refuse("Choose a severity.".into(), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let inputs = match inputs_of(&fields) {
        Ok(inputs) => inputs,
        Err(message) => return refuse(message, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let mut roles = std::collections::BTreeMap::new();
    for (key, value) in &fields.0 {
        let (Some(role), false) = (key.strip_prefix("role_"), value.trim().is_empty()) else { continue };
        match (Role::parse(role), UserName::parse(value.trim())) {
            (Ok(role), Ok(user)) => {
                roles.insert(role, user);
            }
            _ => return refuse(format!("'{value}' cannot hold {role}."), StatusCode::UNPROCESSABLE_ENTITY),
        }
    }
    let declare = Declare {
        title: title.clone(),
        severity: Some(severity),
        scope: fields.get("scope").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        restricted: fields.checked("restricted"),
        exercise: fields.checked("exercise"),
        roles,
        playbook: fields.optional("playbook"),
        inputs,
    };
    match app.ledger.execute(&viewer.user, LedgerRequest::Declare(declare)).await {
        Ok(receipt) => match receipt.record {
            RecordId::Incident(number) => Redirect::to(&format!("/incidents/{number}")).into_response(),
            RecordId::Org => Redirect::to("/incidents").into_response(),
        },
        Err(error) => {
            let error = ApiError::from(error);
            refuse(error.to_string(), error.status())
        }
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    me: Option<Me>,
    csrf: String,
    error: Option<String>,
    view: CommandView,
    s: sections::Sections,
}

/// The incident named in the path, if it exists and the viewer may see it.
fn visible_incident(app: &AppState, viewer: &Viewer, id: &str) -> Result<IncidentNumber, Box<Response>> {
    let missing = || {
        Box::new(error_page(
            Some(viewer.me(app)),
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no incident {id} that you can see."),
        ))
    };
    let number: IncidentNumber = id.parse().map_err(|_| missing())?;
    let visible = app.ledger.with_incident(number, |state| crate::views::visible(state, &viewer.user)).unwrap_or(false);
    if visible { Ok(number) } else { Err(missing()) }
}

/// How far each record has been verified, so a page re-verifies only what is new.
#[derive(Debug, Default)]
pub struct ChainChecks(Mutex<HashMap<IncidentNumber, ChainVerifier>>);

/// Verifies the record from where it was last verified to its end, and returns the newest
/// entries for the timeline.
fn check_chain(
    store: &dyn Store,
    checks: &ChainChecks,
    number: IncidentNumber,
    head: u64,
) -> Result<(Chain, Vec<Entry>), ApiError> {
    let record = RecordId::Incident(number);
    let mut verifier = checks.0.lock().get(&number).cloned().unwrap_or_else(|| ChainVerifier::new(record));
    let mut broken = None;
    while verifier.verified() < head && broken.is_none() {
        let last = verifier.verified();
        let chunk = store.read(record, last + 1, 10_000)?;
        if chunk.is_empty() {
            broken = Some(Break { record, seq: last, reason: BreakReason::Truncated { last, head } }.to_string());
        }
        broken =
            broken.or_else(|| chunk.iter().find_map(|entry| verifier.check_entry(entry).err()).map(|b| b.to_string()));
    }
    let chain = match broken {
        Some(detail) => Chain { ok: false, detail },
        None => {
            let (seq, head) = (verifier.verified(), verifier.head());
            checks.0.lock().insert(number, verifier);
            Chain { ok: true, detail: format!("{seq} entries, head {}", head.short()) }
        }
    };
    let from = head.saturating_sub(view::TIMELINE as u64 - 1).max(1);
    Ok((chain, store.read(record, from, view::TIMELINE)?))
}

async fn render_command(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let number = match visible_incident(app, viewer, id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let head = app.ledger.with_incident(number, |s| s.seq).unwrap_or(0);
    let (store, checks) = (app.ledger.store().clone(), app.chain_checks.clone());
    let checked = tokio::task::spawn_blocking(move || check_chain(store.as_ref(), &checks, number, head)).await;
    let (chain, recent) = match checked {
        Ok(Ok(checked)) => checked,
        Ok(Err(error)) => return error.into_response(),
        Err(error) => return ApiError::Internal(error.to_string()).into_response(),
    };
    let org = app.ledger.org();
    let now = app.now();
    let base = app.config.base_url();
    let Some((view, sections)) = app.ledger.with_incident(number, |state| {
        let share_url = |share| format!("{base}{}", crate::shares::link(&app.share_key, state, share));
        (
            CommandView::build(state, &org, &viewer.user, &recent, &chain, now),
            sections::build(state, &org, &viewer.user, now, &share_url),
        )
    }) else {
        return error_page(Some(viewer.me(app)), StatusCode::NOT_FOUND, "Not found", "That incident is gone.");
    };
    render(&IncidentPage { me: Some(viewer.me(app)), csrf: viewer.csrf.clone(), error, view, s: sections }, status)
}

async fn command_view(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): crate::extract::Segments<String>,
) -> Response {
    render_command(&app, &viewer, &id, None, StatusCode::OK).await
}

/// Runs a command from a form: on success back to the page (at `anchor`), on refusal the
/// page again with the reason.
async fn act(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    fields: &Fields,
    anchor: &str,
    command: Result<IncidentCommand, String>,
) -> Response {
    if let Some(refused) = csrf(app, viewer, fields) {
        return refused;
    }
    let incident = match visible_incident(app, viewer, id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let command = match command {
        Ok(command) => command,
        Err(message) => return render_command(app, viewer, id, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    match app.ledger.execute(&viewer.user, LedgerRequest::Incident { incident, command }).await {
        Ok(_) => Redirect::to(&format!("/incidents/{incident}#{anchor}")).into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            render_command(app, viewer, id, Some(error.to_string()), error.status()).await
        }
    }
}

type Path1 = crate::extract::Segments<String>;
type Path2 = crate::extract::Segments<(String, String)>;
type Path3 = crate::extract::Segments<(String, String, String)>;

async fn log_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = occurred_of(&fields).map(|occurred| IncidentCommand::LogFact {
        text: fields.get("text").to_owned(),
        source: fields.optional("source"),
        status: FactStatus::Unverified,
        basis: None,
        occurred,
    });
    act(&app, &viewer, &id, &fields, "facts", command).await
}

/// The optional `occurred_at` (a `datetime-local` value, read as UTC) and `backfill_reason`
/// fields of a fact or note form.
fn occurred_of(fields: &Fields) -> Result<Option<sitrep_core::decide::Occurred>, String> {
    let reason = fields.optional("backfill_reason");
    match fields.optional("occurred_at") {
        Some(text) => Ok(Some(sitrep_core::decide::Occurred { at: local_utc(&text)?, backfill_reason: reason })),
        None if reason.is_some() => Err("a backfill reason explains a time it happened; give that time too".into()),
        None => Ok(None),
    }
}

async fn judge_fact(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, fid)): Path2,
    fields: Fields,
) -> Response {
    let command = fid.parse::<FactId>().map_err(|e| e.to_string()).and_then(|fact| {
        let basis = fields.get("basis").to_owned();
        match fields.get("verdict") {
            "verify" => Ok(IncidentCommand::VerifyFact { fact, basis }),
            "disprove" => Ok(IncidentCommand::DisproveFact { fact, basis }),
            other => Err(format!("'{other}' is neither verify nor disprove")),
        }
    });
    act(&app, &viewer, &id, &fields, "facts", command).await
}

async fn propose(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = sitrep_core::DecisionClass::parse(fields.get("class")).map_err(|e| e.to_string()).map(|class| {
        IncidentCommand::Propose {
            class,
            title: fields.get("title").to_owned(),
            rationale: fields.optional("rationale"),
            actions: Vec::new(),
            statement: None,
            clocks: Vec::new(),
        }
    });
    act(&app, &viewer, &id, &fields, "decisions", command).await
}

async fn decide(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did, verb)): Path3,
    fields: Fields,
) -> Response {
    let command = did.parse::<DecisionId>().map_err(|e| e.to_string()).and_then(|decision| match verb.as_str() {
        "approve" => Ok(IncidentCommand::Approve { decision, note: fields.optional("note") }),
        "reject" => Ok(IncidentCommand::Reject { decision, note: fields.get("note").to_owned() }),
        "withdraw" => Ok(IncidentCommand::Withdraw { decision, note: fields.optional("note") }),
        other => Err(format!("'{other}' is not something a decision can be")),
    });
    let anchor = format!("decision-{did}");
    act(&app, &viewer, &id, &fields, &anchor, command).await
}

async fn add_task(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let owner = match fields.optional("owner").map(|o| UserName::parse(&o)) {
        Some(Err(error)) => Err(error.to_string()),
        Some(Ok(owner)) => Ok(Some(owner)),
        None => Ok(None),
    };
    let due = match fields.optional("due") {
        None => Ok(None),
        Some(text) => local_utc(&text).map(Some),
    };
    let command = owner.and_then(|owner| {
        due.map(|due| IncidentCommand::CreateTask { title: fields.get("title").to_owned(), owner, due })
    });
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

async fn task_done(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = tid
        .parse::<TaskId>()
        .map_err(|e| e.to_string())
        .map(|task| IncidentCommand::CompleteTask { task, note: fields.optional("note") });
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

/// The `inputs` field: one `name=value` per line.
fn inputs_of(fields: &Fields) -> Result<std::collections::BTreeMap<String, String>, String> {
    fields
        .get("inputs")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| format!("'{line}' is not name=value"))
        })
        .collect()
}

async fn run_playbook(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = inputs_of(&fields)
        .map(|inputs| IncidentCommand::RunPlaybook { playbook: fields.get("playbook").to_owned(), inputs });
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

async fn retry_action(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, did, number)): Path3,
    fields: Fields,
) -> Response {
    let command = did.parse::<DecisionId>().map_err(|e| e.to_string()).and_then(|decision| {
        number
            .parse::<u32>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .map(|action| IncidentCommand::RetryAction { decision, action })
            .ok_or_else(|| format!("'{number}' is not an action number"))
    });
    let anchor = format!("decision-{did}");
    act(&app, &viewer, &id, &fields, &anchor, command).await
}

/// A `datetime-local` form value ("2026-11-27T18:00"), read as UTC.
fn local_utc(text: &str) -> Result<sitrep_core::Timestamp, String> {
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| format!("'{text}' is not a date and time"))?;
    civil
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|zoned| sitrep_core::Timestamp::from_jiff(zoned.timestamp()))
        .map_err(|e| e.to_string())
}

async fn task_blocked(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, tid)): Path2,
    fields: Fields,
) -> Response {
    let command = tid
        .parse::<TaskId>()
        .map_err(|e| e.to_string())
        .map(|task| IncidentCommand::BlockTask { task, reason: fields.get("reason").to_owned() });
    act(&app, &viewer, &id, &fields, "tasks", command).await
}

/// The `role` and `user` fields of a roles form.
fn role_and_user(fields: &Fields) -> Result<(Role, UserName), String> {
    let role = Role::parse(fields.get("role")).map_err(|e| e.to_string())?;
    let user = UserName::parse(fields.get("user")).map_err(|e| e.to_string())?;
    Ok((role, user))
}

async fn release_role(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let unit = fields.optional("unit");
    let command = role_and_user(&fields).map(|(role, user)| IncidentCommand::ReleaseRole { role, user, unit });
    act(&app, &viewer, &id, &fields, "roles", command).await
}

async fn assign_role(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let unit = fields.optional("unit");
    let command = role_and_user(&fields).map(|(role, user)| IncidentCommand::AssignRole { role, user, unit });
    act(&app, &viewer, &id, &fields, "roles", command).await
}

async fn hand_over(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = UserName::parse(fields.get("to"))
        .map_err(|e| e.to_string())
        .map(|to| IncidentCommand::HandOverCommand { to, reason: fields.get("reason").to_owned() });
    act(&app, &viewer, &id, &fields, "roles", command).await
}

async fn set_phase(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .get("phase")
        .parse::<Phase>()
        .map_err(|e| e.to_string())
        .map(|phase| IncidentCommand::SetPhase { phase });
    act(&app, &viewer, &id, &fields, "summary", command).await
}

async fn set_severity(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .get("severity")
        .parse::<Severity>()
        .map_err(|e| e.to_string())
        .map(|severity| IncidentCommand::SetSeverity { severity, reason: fields.optional("reason") });
    act(&app, &viewer, &id, &fields, "summary", command).await
}

async fn add_note(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        occurred_of(&fields).map(|occurred| IncidentCommand::AddNote { text: fields.get("text").to_owned(), occurred });
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

async fn sitrep_page(State(app): State<AppState>, viewer: Viewer, crate::extract::Segments(id): Path1) -> Response {
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

async fn policy_page(State(app): State<AppState>, viewer: Viewer) -> Response {
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

async fn org_record_page(State(app): State<AppState>, viewer: Viewer) -> Response {
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
    render(&TokensPage { me: Some(viewer.me(app)), csrf: viewer.csrf.clone(), created, error, tokens }, status)
}

async fn tokens_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    tokens_view(&app, &viewer, None, None, StatusCode::OK)
}

async fn create_token(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
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

async fn revoke_token(
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

/// Shared by the state: which record prefixes are already verified.
pub fn chain_checks() -> Arc<ChainChecks> {
    Arc::new(ChainChecks::default())
}

/// A browser upload: the form's CSRF part is checked before the file is read.
async fn upload_evidence(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    request: Request,
) -> Response {
    let incident = match visible_incident(&app, &viewer, &id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let (parts, body) = request.into_parts();
    let received =
        crate::api::evidence::receive(&app, &viewer.user, incident, &parts.headers, body, Some(&viewer.csrf)).await;
    match received {
        Ok(_) => Redirect::to(&format!("/incidents/{incident}#evidence")).into_response(),
        Err(error) => render_command(&app, &viewer, &id, Some(error.to_string()), error.status()).await,
    }
}

async fn engage_party(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        IncidentCommand::EngageParty { party: fields.get("party").to_owned(), reason: fields.optional("reason") };
    act(&app, &viewer, &id, &fields, "parties", Ok(command)).await
}

/// Proposes an evidence_sharing decision whose action shares the ticked items.
async fn propose_share(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let items: Vec<String> =
        fields.get("items").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let command = fields
        .get("hours")
        .trim()
        .parse::<u32>()
        .map_err(|_| "hours: give the link's lifetime in whole hours".to_owned())
        .and_then(|hours| {
            let title = fields
                .optional("title")
                .unwrap_or_else(|| format!("Share {} evidence item(s) with {}", items.len(), fields.get("party")));
            sections::share_proposal(fields.get("party").to_owned(), items.clone(), hours, title)
        });
    act(&app, &viewer, &id, &fields, "decisions", command).await
}

async fn revoke_share(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, sid)): Path2,
    fields: Fields,
) -> Response {
    let command = sid
        .parse::<sitrep_core::ids::ShareId>()
        .map_err(|e| e.to_string())
        .map(|share| IncidentCommand::RevokeShare { share, reason: fields.optional("reason") });
    act(&app, &viewer, &id, &fields, "parties", command).await
}

async fn draft_statement(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let audience = Audience::ALL.iter().find(|a| a.as_str() == fields.get("audience")).copied();
    let command = audience.ok_or_else(|| format!("'{}' is not an audience", fields.get("audience"))).map(|audience| {
        IncidentCommand::DraftStatement {
            audience,
            title: fields.get("title").to_owned(),
            text: fields.get("text").to_owned(),
        }
    });
    act(&app, &viewer, &id, &fields, "statements", command).await
}

/// `revise`, `propose` (for approval through the audience's class) or `publish`.
async fn statement_action(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, sid, verb)): Path3,
    fields: Fields,
) -> Response {
    let number: Option<IncidentNumber> = id.parse().ok();
    let command = sid.parse::<sitrep_core::ids::StatementId>().map_err(|e| e.to_string()).and_then(|statement| {
        match verb.as_str() {
            "revise" => Ok(IncidentCommand::ReviseStatement { statement, text: fields.get("text").to_owned() }),
            "publish" => Ok(IncidentCommand::PublishStatement {
                statement,
                channel: fields.get("channel").to_owned(),
                sha256: fields.optional("sha256"),
            }),
            "propose" => {
                let found = number.and_then(|n| {
                    app.ledger.with_incident(n, |state| {
                        state.statement(statement).map(|s| {
                            (s.audience.class(), format!("Approve {statement} v{}: {}", s.latest().version, s.title))
                        })
                    })
                });
                let (class, title) = found.flatten().ok_or_else(|| format!("there is no statement {statement}"))?;
                let class = sitrep_core::DecisionClass::parse(class).map_err(|e| e.to_string())?;
                Ok(IncidentCommand::Propose {
                    class,
                    title: fields.optional("title").unwrap_or(title),
                    rationale: fields.optional("rationale"),
                    actions: Vec::new(),
                    statement: Some(statement),
                    clocks: Vec::new(),
                })
            }
            other => Err(format!("'{other}' is not something a statement can be")),
        }
    });
    act(&app, &viewer, &id, &fields, "statements", command).await
}

#[derive(Template)]
#[template(path = "parties.html")]
struct PartiesPage {
    me: Option<Me>,
    csrf: String,
    error: Option<String>,
    parties: Vec<sitrep_core::org::PartyRecord>,
    is_admin: bool,
    kinds: Vec<(String, String)>,
}

fn party_kinds() -> Vec<(String, String)> {
    use sitrep_core::events::PartyKind as K;
    [K::Msp, K::CloudOperator, K::Vendor, K::Regulator, K::LawEnforcement, K::Counsel]
        .iter()
        .map(|k| {
            let key = serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            (key, k.as_str().to_owned())
        })
        .collect()
}

async fn parties_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    render_parties(&app, &viewer, None, StatusCode::OK)
}

fn render_parties(app: &AppState, viewer: &Viewer, error: Option<String>, status: StatusCode) -> Response {
    let org = app.ledger.org();
    let page = PartiesPage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        error,
        parties: org.parties.values().cloned().collect(),
        is_admin: org.user(&viewer.user).is_some_and(|u| u.has(OrgRole::Admin)),
        kinds: party_kinds(),
    };
    render(&page, status)
}

/// Registers a party from the registry page's form: contacts one per line as
/// `name | role | email | phone`, authority one per line.
async fn register_party(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let kind = serde_json::from_value::<sitrep_core::events::PartyKind>(serde_json::json!(fields.get("kind")));
    let Ok(kind) = kind else {
        let message = format!("'{}' is not a kind of third party", fields.get("kind"));
        return render_parties(&app, &viewer, Some(message), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let lines = |name: &str| -> Vec<String> {
        fields.get(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    };
    let contacts = lines("contacts")
        .iter()
        .map(|line| {
            let mut cells = line.split('|').map(str::trim).map(|c| Some(c.to_owned()).filter(|c| !c.is_empty()));
            sitrep_core::events::Contact {
                name: cells.next().flatten().unwrap_or_default(),
                role: cells.next().flatten(),
                email: cells.next().flatten(),
                phone: cells.next().flatten(),
            }
        })
        .collect();
    let party = sitrep_core::events::Party {
        party: fields.get("party").trim().to_owned(),
        name: fields.get("name").to_owned(),
        kind,
        contacts,
        operates: fields.optional("operates"),
        authority: lines("authority"),
        sharing_rule: fields.optional("sharing_rule"),
    };
    let command = sitrep_core::decide::OrgCommand::RegisterParty(party);
    match app.ledger.execute(&viewer.user, LedgerRequest::Org(command)).await {
        Ok(_) => Redirect::to("/parties").into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            render_parties(&app, &viewer, Some(error.to_string()), error.status())
        }
    }
}

async fn record_lesson(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::RecordLesson {
        what_happened: fields.get("what_happened").to_owned(),
        why: fields.get("why").to_owned(),
        change: fields.get("change").to_owned(),
    };
    act(&app, &viewer, &id, &fields, "review", Ok(command)).await
}

async fn plan_change(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command =
        fields.get("lesson").parse::<sitrep_core::ids::LessonId>().map_err(|e| e.to_string()).and_then(|lesson| {
            let owner = UserName::parse(fields.get("owner")).map_err(|e| e.to_string())?;
            let due = local_utc(fields.get("due"))?;
            Ok(IncidentCommand::PlanControlChange {
                lesson,
                title: fields.get("title").to_owned(),
                owner,
                due,
                csf: fields.get("csf").trim().to_owned(),
            })
        });
    act(&app, &viewer, &id, &fields, "review", command).await
}

async fn change_done(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, cc)): Path2,
    fields: Fields,
) -> Response {
    let command = cc
        .parse::<sitrep_core::ids::ControlChangeId>()
        .map_err(|e| e.to_string())
        .map(|change| IncidentCommand::CompleteControlChange { change, note: fields.optional("note") });
    act(&app, &viewer, &id, &fields, "review", command).await
}

async fn complete_review(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::CompleteReview { summary: fields.get("summary").to_owned() };
    act(&app, &viewer, &id, &fields, "review", Ok(command)).await
}

#[derive(Template)]
#[template(path = "control_changes.html")]
struct ControlChangesPage {
    me: Option<Me>,
    csrf: String,
    rows: Vec<sections::ChangeRow>,
}

/// Every review's control changes, across the incidents the viewer may see.
async fn control_changes_page(State(app): State<AppState>, viewer: Viewer, uri: Uri) -> Response {
    let all = uri.query().is_some_and(|q| q.contains("state=all"));
    let org = app.ledger.org();
    let now = app.now();
    let mut rows: Vec<(sitrep_core::Timestamp, sections::ChangeRow)> = Vec::new();
    app.ledger.each_incident(|state| {
        if !crate::views::visible(state, &viewer.user) {
            return;
        }
        for change in &state.review.control_changes {
            if all || change.state == sitrep_core::incident::ControlChangeState::Open {
                rows.push((change.due, sections::change_row(state, &org, &viewer.user, change, now)));
            }
        }
    });
    rows.sort_by_key(|(due, _)| *due);
    let page = ControlChangesPage {
        me: Some(viewer.me(&app)),
        csrf: viewer.csrf.clone(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
    };
    render(&page, StatusCode::OK)
}

async fn record_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let aware_at = match fields.optional("aware_at") {
        None => Ok(None),
        Some(text) => local_utc(&text).map(Some),
    };
    let command = aware_at.map(|aware_at| IncidentCommand::RecordDetermination {
        determination: fields.get("determination").to_owned(),
        basis: fields.get("basis").to_owned(),
        aware_at,
    });
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

/// A notification sent to the authority: the form names the approved text as `ST-n:version`;
/// the time sent defaults to now.
async fn submit_notification(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, clock)): Path2,
    fields: Fields,
) -> Response {
    let sent_at = match fields.optional("sent_at") {
        None => Ok(app.now()),
        Some(text) => local_utc(&text),
    };
    let text = fields.get("text").to_owned();
    let (statement, version) = text.split_once(':').unwrap_or((text.as_str(), ""));
    let statement = statement.parse().map_err(|_| format!("'{statement}' is not a statement"));
    let version = version.parse::<u32>().map_err(|_| format!("choose the approved text that was sent ({text})"));
    let command = sent_at.and_then(|sent_at| {
        Ok(IncidentCommand::SubmitNotification {
            clock,
            sent_at,
            authority: fields.get("authority").to_owned(),
            channel: fields.get("channel").to_owned(),
            reference: fields.get("reference").to_owned(),
            statement: statement?,
            version: version?,
        })
    });
    act(&app, &viewer, &id, &fields, "clocks", command).await
}

async fn notification_not_required(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, clock)): Path2,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::NotificationNotRequired { clock, basis: fields.get("basis").to_owned() };
    act(&app, &viewer, &id, &fields, "clocks", Ok(command)).await
}

async fn withdraw_determination(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, determination)): Path2,
    fields: Fields,
) -> Response {
    let command = IncidentCommand::WithdrawDetermination { determination, basis: fields.get("basis").to_owned() };
    act(&app, &viewer, &id, &fields, "clocks", Ok(command)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for kept in ["/incidents", "/incidents/INC-3?tab=facts", "/incidents/INC-3/report", "/policy"] {
            assert_eq!(super::safe_next(kept), kept);
        }
        for refused in [
            "/\t/evil.example/",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a\nb",
            "/a\r\nSet-Cookie: x=y",
            "/a\u{7f}",
            "/a b",
            "",
            "incidents",
            "/é",
        ] {
            assert_eq!(super::safe_next(refused), "/incidents", "{refused:?}");
        }
    }
}
