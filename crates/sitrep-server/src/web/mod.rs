//! The web command centre: server-rendered pages with askama (escaping by default), plain CSS,
//! and small scripts for live updates and forgiving forms. Every form works without JavaScript: it posts,
//! the server decides through the same ledger as the API, and answers with a redirect (303) to
//! the updated page, or the page again with the refusal's reason and its status.
//!
//! Pages are served with a Content-Security-Policy that allows no inline script and nothing
//! from other origins, so the UI works on an isolated network.
//!
//! This module holds the shared plumbing (routes, the signed-in `Viewer`, form `Fields`,
//! rendering, CSRF, running a form's command); each page and its forms live in the file named
//! like the `api/` file for the same capability.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use sitrep_core::chain::{Break, BreakReason, ChainVerifier};
use sitrep_core::decide::{IncidentCommand, Refusal};
use sitrep_core::incident::Share;
use sitrep_core::{Entry, IncidentNumber, IncidentView, OrgRole, RecordId, UserName};
use sitrep_store::{LedgerError, Request as LedgerRequest, Store};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{SESSION_COOKIE, cookie, same_secret};
use crate::error::ApiError;
use crate::state::AppState;

mod alerts;
mod clocks;
mod close;
mod decisions;
mod evidence;
mod facts;
mod forms;
mod incidents;
mod login;

pub(crate) use login::{safe_next, session_cookie};
mod org;
mod parties;
pub mod report;
mod review;
pub mod sections;
mod statements;
mod tasks;
pub mod view;

use forms::{FormError, PlaybookChoice, Refused};
use view::{Chain, CommandView, Me};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every page and form route.
pub fn routes(app: &AppState) -> Router<AppState> {
    let _ = app;
    Router::new()
        .route("/", get(|| async { Redirect::to("/incidents") }))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/incidents", get(incidents::incidents).post(incidents::declare))
        .route("/incidents/new", get(incidents::declare_page))
        .route("/incidents/{id}", get(incidents::command_view))
        .route("/incidents/{id}/sitrep", get(incidents::sitrep_page))
        .route("/incidents/{id}/report", get(report::report_page))
        .route("/incidents/{id}/facts", post(facts::log_fact))
        .route("/incidents/{id}/facts/{fid}/judge", post(facts::judge_fact))
        .route("/incidents/{id}/decisions", post(decisions::propose))
        .route("/incidents/{id}/decisions/{did}", get(alerts::review_sheet))
        .route("/incidents/{id}/decisions/{did}/{verb}", post(decisions::decide))
        .route("/r/{token}", get(alerts::review_link))
        .route("/incidents/{id}/tasks", post(tasks::add_task))
        .route("/incidents/{id}/tasks/{tid}/done", post(tasks::task_done))
        .route("/incidents/{id}/tasks/{tid}/block", post(tasks::task_blocked))
        .route("/incidents/{id}/tasks/{tid}/cancel", post(tasks::task_cancelled))
        .route("/incidents/{id}/roles", post(incidents::assign_role))
        .route("/incidents/{id}/roles/release", post(incidents::release_role))
        .route("/incidents/{id}/handover", post(incidents::hand_over))
        .route("/incidents/{id}/phase", post(incidents::set_phase))
        .route("/incidents/{id}/severity", post(incidents::set_severity))
        .route("/incidents/{id}/notes", post(incidents::add_note))
        .route("/incidents/{id}/next-update", post(alerts::promise_update))
        .route("/incidents/{id}/playbooks", post(incidents::run_playbook))
        .route("/incidents/{id}/decisions/{did}/actions/{number}/retry", post(incidents::retry_action))
        .route("/incidents/{id}/evidence", post(evidence::upload_evidence))
        .route("/incidents/{id}/parties", post(parties::engage_party))
        .route("/incidents/{id}/shares", post(parties::propose_share))
        .route("/incidents/{id}/shares/{sid}/revoke", post(parties::revoke_share))
        .route("/incidents/{id}/statements", post(statements::draft_statement))
        .route("/incidents/{id}/statements/{sid}/{verb}", post(statements::statement_action))
        .route("/parties", get(parties::parties_page).post(parties::register_party))
        .route("/incidents/{id}/determinations", post(clocks::record_determination))
        .route("/incidents/{id}/determinations/{determination}/withdraw", post(clocks::withdraw_determination))
        .route("/incidents/{id}/clocks/{clock}/submission", post(clocks::submit_notification))
        .route("/incidents/{id}/clocks/{clock}/not-required", post(clocks::notification_not_required))
        .route("/incidents/{id}/review/lessons", post(review::record_lesson))
        .route("/incidents/{id}/review/changes", post(review::plan_change))
        .route("/incidents/{id}/review/changes/{cc}/done", post(review::change_done))
        .route("/incidents/{id}/review/complete", post(review::complete_review))
        .route("/incidents/{id}/close", post(close::propose_close))
        .route("/incidents/{id}/bundle", post(close::download_bundle))
        .route("/control-changes", get(review::control_changes_page))
        .route("/policy", get(org::policy_page))
        .route("/org/record", get(org::org_record_page))
        .route("/account/tokens", get(org::tokens_page).post(org::create_token))
        .route("/account/contact", get(alerts::contact_page).post(alerts::set_contact))
        .route("/account/tokens/{token}/revoke", post(org::revoke_token))
        .route("/account/chat-link", post(org::create_link_code))
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
        .route(
            "/static/keys.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/keys.js")) }),
        )
        .route(
            "/static/forms.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/forms.js")) }),
        )
        .route(
            "/static/time.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/time.js")) }),
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
    /// The session's id as the store keys it (the SHA-256 of the cookie).
    session: String,
    /// How the person signed in (judged against a class's step-up).
    pub authentication: sitrep_core::authn::Authentication,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let session = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|cookie| app.auth.session(app.ledger.store().as_ref(), cookie, app.now()));
        match session {
            Some(session) if app.ledger.org().user(&session.user).is_some_and(|u| u.active) => Ok(Viewer {
                user: session.user,
                csrf: session.csrf,
                session: session.id,
                authentication: session.authentication,
            }),
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

pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
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

pub(crate) fn error_page(me: Option<Me>, status: StatusCode, heading: &str, message: &str) -> Response {
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
#[template(path = "incident.html")]
struct IncidentPage {
    me: Option<Me>,
    csrf: String,
    refused: Option<Refused>,
    view: CommandView,
    s: sections::Sections,
    /// The playbooks the start form offers, each with a field per input.
    playbooks: Vec<PlaybookChoice>,
    close: close::CloseSection,
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
    refused: Option<Refused>,
    status: StatusCode,
) -> Response {
    let (view, sections, close) = match command_model(app, viewer, id).await {
        Ok(model) => model,
        Err(page) => return *page,
    };
    let org = app.ledger.org();
    let playbooks = forms::playbook_choices(&org, Some(&view.playbooks), &Fields::default(), true);
    let page = IncidentPage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        refused,
        view,
        s: sections,
        playbooks,
        close,
    };
    render(&page, status)
}

/// What the command view shows the viewer of the incident named `id`, its chain checked; the
/// error page when it is not theirs to see or the chain does not verify.
async fn command_model(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<(CommandView, sections::Sections, close::CloseSection), Box<Response>> {
    let number = visible_incident(app, viewer, id)?;
    let head = app.ledger.with_incident(number, |s| s.seq).unwrap_or(0);
    let (store, checks) = (app.ledger.store().clone(), app.chain_checks.clone());
    let checked = tokio::task::spawn_blocking(move || check_chain(store.as_ref(), &checks, number, head)).await;
    let (chain, recent) = match checked {
        Ok(Ok(checked)) => checked,
        Ok(Err(error)) => return Err(Box::new(error.into_response())),
        Err(error) => return Err(Box::new(ApiError::Internal(error.to_string()).into_response())),
    };
    let org = app.ledger.org();
    let now = app.now();
    let built = app.ledger.with_incident(number, |state| {
        let seen = IncidentView::of(state, &org, &viewer.user, now)?;
        let share_url = |share: &Share| crate::views::share_url(app, state, share);
        Some((
            CommandView::build(&seen, &recent, &chain),
            sections::build(&seen, &share_url),
            close::CloseSection::build(&seen),
        ))
    });
    built.flatten().ok_or_else(|| {
        Box::new(error_page(Some(viewer.me(app)), StatusCode::NOT_FOUND, "Not found", "That incident is gone."))
    })
}

/// Runs a command from a form: on success back to the page (at `anchor`), on refusal the
/// page again with the reason beside the form (named by its hidden `form` field) and the field
/// it concerns.
async fn act(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    fields: &Fields,
    anchor: &str,
    command: Result<IncidentCommand, impl Into<FormError>>,
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
        Err(error) => {
            let refused = Refused::of(error, fields);
            return render_command(app, viewer, id, Some(refused), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let request = LedgerRequest::IncidentInSession { incident, command, authentication: viewer.authentication.clone() };
    match app.ledger.execute(&viewer.user, request).await {
        Ok(_) => Redirect::to(&format!("/incidents/{incident}#{anchor}")).into_response(),
        // A sign-in too old or too weak for this class: sign in again, then come back to it.
        Err(LedgerError::Refused(Refusal::Forbidden { rule, .. })) if rule.ends_with(".step_up") => {
            Redirect::to(&login::sign_in_again(&format!("/incidents/{incident}#{anchor}"))).into_response()
        }
        Err(error) => {
            let error = ApiError::from(error);
            let status = error.status();
            render_command(app, viewer, id, Some(Refused::of(error, fields)), status).await
        }
    }
}

type Path1 = crate::extract::Segments<String>;
type Path2 = crate::extract::Segments<(String, String)>;
type Path3 = crate::extract::Segments<(String, String, String)>;

/// A form read as the JSON body the API takes for the same command, so that a command is
/// parsed and turned into an `IncidentCommand` once, by the body type in `api/`, for both.
/// Errors name the field as the API's do; `forms` turns them into the form's words.
#[derive(Debug, Default)]
struct FormBody(serde_json::Map<String, serde_json::Value>);

impl Fields {
    /// The `text` fields as typed (empty when missing, for the domain to refuse in words) and
    /// the `optional` ones trimmed, left out when blank.
    fn body(&self, text: &[&str], optional: &[&str]) -> FormBody {
        let mut body = FormBody::default();
        for name in text {
            body.0.insert((*name).to_owned(), self.get(name).into());
        }
        for name in optional {
            if let Some(value) = self.optional(name) {
                body.0.insert((*name).to_owned(), value.into());
            }
        }
        body
    }
}

impl FormBody {
    fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    /// Adapter for a `datetime-local` field, which has no offset. With JavaScript, `time.js`
    /// reads it in the person's zone and sends the instant beside it as `{name}_utc` (RFC 3339);
    /// without, the field alone is read as UTC, as its label then says. Either way the body gets
    /// the RFC 3339 time the API takes. Left out when blank.
    fn local_time(self, fields: &Fields, name: &str) -> Result<Self, FormError> {
        let Some(text) = fields.optional(name) else { return Ok(self) };
        let at = match fields.optional(&format!("{name}_utc")) {
            Some(instant) => zoned_utc(&text, &instant),
            None => local_utc(&text),
        };
        Ok(self.with(name, at.map_err(|e| FormError::at(name, e))?.to_string()))
    }

    /// The API's body type, read from the form as from a JSON body.
    fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, FormError> {
        let bytes = serde_json::to_vec(&serde_json::Value::Object(self.0)).map_err(FormError::text)?;
        crate::extract::parse_json(&bytes).map_err(FormError::from)
    }
}

/// Why a body's conversion refused, as the page shows it.
fn said(error: ApiError) -> FormError {
    error.into()
}

/// A `datetime-local` form value ("2026-11-27T18:00"), read as UTC.
fn local_utc(text: &str) -> Result<sitrep_core::Timestamp, String> {
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| format!("'{text}' is not a date and time"))?;
    civil
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|zoned| sitrep_core::Timestamp::from_jiff(zoned.timestamp()))
        .map_err(|e| e.to_string())
}

/// Template filters for times: a page writes `<time datetime="{{ t|rfc3339 }}">{{ t|when }}</time>`
/// for a `Timestamp` or for text [`view::when`] wrote, so every page has one format and a
/// machine-readable instant the viewer's script turns into their zone.
pub mod filters {
    use std::fmt::Display;

    /// The instant in text: RFC 3339, or "2026-11-27 17:27 UTC" as [`super::view::when`] writes it.
    pub fn instant(text: &str) -> Option<sitrep_core::Timestamp> {
        let text = text.trim();
        if let Ok(at) = text.parse::<jiff::Timestamp>() {
            return Some(sitrep_core::Timestamp::from_jiff(at));
        }
        let civil: jiff::civil::DateTime = text.strip_suffix(" UTC")?.replacen(' ', "T", 1).parse().ok()?;
        civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| sitrep_core::Timestamp::from_jiff(zoned.timestamp()))
    }

    /// `datetime` for a `<time>`: the instant in RFC 3339 (UTC), or empty when it is not a time.
    #[askama::filter_fn]
    pub fn rfc3339(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(instant(&value.to_string()).map(|at| at.to_string()).unwrap_or_default())
    }

    /// The page's one time format; text that is not a time is left as it is.
    #[askama::filter_fn]
    pub fn when(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string();
        Ok(instant(&text).map(super::view::when).unwrap_or(text))
    }
}

/// The instant `time.js` worked out for a `datetime-local` value in the person's zone.
fn zoned_utc(text: &str, instant: &str) -> Result<sitrep_core::Timestamp, String> {
    instant
        .trim()
        .parse::<jiff::Timestamp>()
        .map(sitrep_core::Timestamp::from_jiff)
        .map_err(|_| format!("'{text}' is not a date and time"))
}

/// Shared by the state: which record prefixes are already verified.
pub fn chain_checks() -> Arc<ChainChecks> {
    Arc::new(ChainChecks::default())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sitrep_core::decide::IncidentCommand;

    use super::{Fields, FormBody};
    use crate::api::facts::FactBody;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
    }

    fn fact(pairs: &[(&str, &str)]) -> Result<IncidentCommand, String> {
        fact_refused(pairs).map_err(|e| e.to_string())
    }

    fn fact_refused(pairs: &[(&str, &str)]) -> Result<IncidentCommand, super::FormError> {
        let fields = fields(pairs);
        fields
            .body(&["text"], &["source", "backfill_reason"])
            .local_time(&fields, "occurred_at")
            .and_then(FormBody::parse::<FactBody>)
            .and_then(|body| body.into_command().map_err(super::said))
    }

    #[test]
    fn a_form_becomes_the_api_body_and_its_command() {
        let command = fact(&[("text", "seen"), ("source", "  "), ("occurred_at", "2026-11-27T18:00")]);
        let Ok(IncidentCommand::LogFact { text, source, occurred: Some(occurred), .. }) = command else {
            panic!("not a fact: {command:?}");
        };
        assert_eq!((text.as_str(), source), ("seen", None), "a blank optional field is left out");
        assert_eq!(occurred.at.to_string(), "2026-11-27T18:00:00.000000Z", "datetime-local is read as UTC");
    }

    #[test]
    fn every_page_writes_a_time_one_way_to_the_minute_with_its_instant_beside() {
        let at: sitrep_core::Timestamp = "2026-12-03T19:25:24.123456Z".parse().expect("a time");
        assert_eq!(super::view::when(at), "2026-12-03 19:25 UTC", "no seconds, UTC named");
        // A template gets the same text from a Timestamp, from RFC 3339 text or from `when`'s own.
        for text in ["2026-12-03T19:25:24.123456Z", "2026-12-03T20:25:24.123456+01:00", "2026-12-03 19:25 UTC"] {
            let instant = super::filters::instant(text).expect(text);
            assert_eq!(super::view::when(instant), "2026-12-03 19:25 UTC", "{text}");
        }
        assert_eq!(
            super::filters::instant("2026-12-03 19:25 UTC").map(|t| t.to_string()).as_deref(),
            Some("2026-12-03T19:25:00.000000Z")
        );
        assert_eq!(super::filters::instant("not yet"), None, "words stay words");
    }

    #[test]
    fn a_time_field_is_the_instant_the_script_read_in_the_persons_zone_else_utc() {
        let zoned = fact(&[
            ("text", "seen"),
            ("occurred_at", "2026-11-27T19:00"),
            ("occurred_at_utc", "2026-11-27T18:00:00.000Z"),
        ]);
        let Ok(IncidentCommand::LogFact { occurred: Some(occurred), .. }) = zoned else { panic!("{zoned:?}") };
        assert_eq!(occurred.at.to_string(), "2026-11-27T18:00:00.000000Z", "19:00 in Berlin is 18:00 UTC");
        let bare = fact(&[("text", "seen"), ("occurred_at", "2026-11-27T19:00"), ("occurred_at_utc", "")]);
        let Ok(IncidentCommand::LogFact { occurred: Some(occurred), .. }) = bare else { panic!("{bare:?}") };
        assert_eq!(occurred.at.to_string(), "2026-11-27T19:00:00.000000Z", "without the script, read as UTC");
        let garbled = fact(&[("text", "seen"), ("occurred_at", "2026-11-27T19:00"), ("occurred_at_utc", "soon")]);
        assert_eq!(garbled, Err("occurred_at: '2026-11-27T19:00' is not a date and time".into()));
    }

    #[test]
    fn a_form_is_refused_as_the_api_refuses_its_body_or_as_its_adapter_does() {
        let reason_alone = fact(&[("text", "seen"), ("backfill_reason", "ticket")]);
        assert_eq!(reason_alone, Err("backfill_reason: is given only with occurred_at, the time it explains".into()));
        let not_a_time = fact(&[("text", "seen"), ("occurred_at", "yesterday")]);
        assert_eq!(not_a_time, Err("occurred_at: 'yesterday' is not a date and time".into()));
    }
}
