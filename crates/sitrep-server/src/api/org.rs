//! The organisation: users, org roles, passwords, API tokens, sign-in, the policy, the
//! organisation record and playbooks. Every change is an organisation-record entry.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_core::authn::Authentication;
use sitrep_core::decide::OrgCommand;
use sitrep_core::org::{Token, User};
use sitrep_core::playbook::Playbook;
use sitrep_core::policy::Rule;
use sitrep_core::{DecisionClass, Entry, OrgRole, RecordId, Timestamp, UserName};
use sitrep_store::Request;
use sitrep_store::datadir::new_token;
use utoipa::ToSchema;

use super::written;
use crate::auth::{self, Caller, SESSION_COOKIE, Via};
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

/// The client's address, for throttling sign-ins: the connection's, or behind
/// `trusted_proxies` proxies the `X-Forwarded-For` entry that many places from the right.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        Ok(ClientAddr(forwarded_client(&parts.headers, app.config.trusted_proxies).or(peer)))
    }
}

/// The address the outermost trusted proxy saw. Each proxy appends to the list (several
/// headers are one list, in order), so only the last `proxies` entries were written by
/// proxies; anything left of them came from the client and could say anything. With fewer
/// entries than proxies, the first entry was still written by one of them.
pub fn forwarded_client(headers: &axum::http::HeaderMap, proxies: usize) -> Option<IpAddr> {
    if proxies == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().saturating_sub(proxies);
    entries.get(index)?.parse().ok()
}

fn user_name(field: &str, name: &str) -> Result<UserName, ApiError> {
    UserName::parse(name).map_err(|e| ApiError::invalid(field, e.to_string()))
}

pub(super) fn existing_user(app: &AppState, name: &str) -> Result<UserName, ApiError> {
    UserName::parse(name)
        .ok()
        .filter(|user| app.ledger.org().user(user).is_some())
        .ok_or_else(|| ApiError::NotFound(format!("there is no user '{name}'")))
}

/// The user `name` names, when the caller is that user or an admin.
pub(super) fn own_or_admin(app: &AppState, caller: &Caller, name: &str, doing: &str) -> Result<UserName, ApiError> {
    let user = existing_user(app, name)?;
    if user != caller.user {
        require(app, caller, &[OrgRole::Admin], doing)?;
    }
    Ok(user)
}

fn require(app: &AppState, caller: &Caller, roles: &[OrgRole], doing: &str) -> Result<(), ApiError> {
    let org = app.ledger.org();
    let allowed = org.user(&caller.user).is_some_and(|u| roles.iter().any(|r| u.has(*r)));
    if allowed {
        Ok(())
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden {
            rule: "org_roles".into(),
            message: format!("{doing} needs the {} organisation role", names.join(" or ")),
        })
    }
}

fn user_view(app: &AppState, user: &UserName) -> Value {
    let org = app.ledger.org();
    org.user(user).map(|u| serde_json::to_value(u).unwrap_or_default()).unwrap_or_default()
}

async fn org_change(
    app: &AppState,
    caller: &Caller,
    command: OrgCommand,
    key: Option<sitrep_store::ledger::IdempotencyKey>,
) -> Result<sitrep_store::Receipt, ApiError> {
    Ok(app.ledger.execute_once(&caller.user, Request::Org(command), key).await?)
}

async fn hashed(app: &AppState, password: String) -> Result<String, ApiError> {
    auth::check_new_password(&password)?;
    app.auth.hashing(move || auth::hash_password(&password)).await?
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(schema_with = super::contract::user_name)]
    name: String,
    display_name: Option<String>,
    #[schema(schema_with = super::contract::org_role)]
    org_role: OrgRole,
    /// At least 12 characters; without one the user signs in with tokens only.
    #[schema(min_length = 12, max_length = 128)]
    password: Option<String>,
}

/// Add a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "organisation", request_body = NewUser,
    responses((status = 201, description = "The user", body = User), (status = "4XX", body = Problem)), security(("token" = []), ("session" = [])))]
pub async fn add_user(State(app): State<AppState>, caller: Caller, body: Body<NewUser>) -> Result<Response, ApiError> {
    let NewUser { name, display_name, org_role, password } = body.value;
    let user = user_name("name", &name)?;
    // Authority first, so nobody can make the server spend an argon2 hash only to be refused.
    require(&app, &caller, &[OrgRole::Admin], "adding users")?;
    let phc = match password {
        Some(password) => Some(hashed(&app, password).await?),
        None => None,
    };
    let request = Request::AddUser { user: user.clone(), display_name, org_role, phc };
    let receipt = app.ledger.execute_once(&caller.user, request, body.idempotency).await?;
    Ok(written(StatusCode::CREATED, &receipt, user_view(&app, &user)))
}

/// The organisation's users.
#[utoipa::path(get, path = "/api/v1/users", tag = "organisation",
    responses((status = 200, description = "`{users: [{name, display_name, org_roles, active, ...}]}`", body = UserList)), security(("token" = []), ("session" = [])))]
pub async fn list_users(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    let org = app.ledger.org();
    Json(views::json(UserList { users: org.users.values().collect() }))
}

/// The organisation's users.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserList<'a> {
    users: Vec<&'a User>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DisableBody)]
pub struct ReasonBody {
    #[schema(schema_with = super::contract::optional_short)]
    reason: Option<String>,
}

/// Disable a user: their tokens stop working and their sessions end (admin).
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "organisation", request_body = ReasonBody,
    params(("name" = String, Path)), responses((status = 200, description = "The user", body = User), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn disable_user(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
    body: Body<ReasonBody>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let receipt = org_change(
        &app,
        &caller,
        OrgCommand::DisableUser { user: user.clone(), reason: body.value.reason },
        body.idempotency,
    )
    .await?;
    app.auth.end_sessions_of(&user);
    Ok(written(StatusCode::OK, &receipt, user_view(&app, &user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgRoleBody {
    #[schema(schema_with = super::contract::org_role)]
    role: OrgRole,
}

/// Grant an organisation role (admin).
#[utoipa::path(post, path = "/api/v1/users/{name}/org-roles", tag = "organisation", request_body = OrgRoleBody,
    params(("name" = String, Path)), responses((status = 200, description = "The user", body = User), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn grant_org_role(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
    body: Body<OrgRoleBody>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let receipt = org_change(
        &app,
        &caller,
        OrgCommand::GrantOrgRole { user: user.clone(), role: body.value.role },
        body.idempotency,
    )
    .await?;
    Ok(written(StatusCode::OK, &receipt, user_view(&app, &user)))
}

/// Revoke an organisation role (admin).
#[utoipa::path(delete, path = "/api/v1/users/{name}/org-roles/{role}", tag = "organisation",
    params(("name" = String, Path), ("role" = String, Path)), responses((status = 200, description = "The user", body = User), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn revoke_org_role(
    State(app): State<AppState>,
    caller: Caller,
    Segments((name, role)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let role: OrgRole =
        role.parse().map_err(|e: sitrep_core::ids::ParseIdError| ApiError::invalid("role", e.to_string()))?;
    let receipt = org_change(&app, &caller, OrgCommand::RevokeOrgRole { user: user.clone(), role }, None).await?;
    Ok(written(StatusCode::OK, &receipt, user_view(&app, &user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 128)]
    password: String,
    /// The password being replaced: required unless an admin sets it.
    current_password: Option<String>,
}

/// Set a password (the user themself, giving the current one, or an admin); the user's
/// sessions end.
#[utoipa::path(put, path = "/api/v1/users/{name}/password", tag = "organisation", request_body = PasswordBody,
    params(("name" = String, Path)), responses((status = 200, description = "The user, with `password_set_at`", body = User), (status = 429, description = "Too many wrong current passwords; `Retry-After` says when to try again", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn set_password(
    State(app): State<AppState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    Segments(name): Segments<String>,
    body: Body<PasswordBody>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let PasswordBody { password, current_password } = body.value;
    auth::check_new_password(&password)?;
    let admin = app.ledger.org().user(&caller.user).is_some_and(|u| u.has(OrgRole::Admin));
    if user != caller.user {
        require(&app, &caller, &[OrgRole::Admin], "setting someone else's password")?;
    } else if !admin {
        // Whoever holds only a token or a session must not turn it into a password that
        // outlives it: they prove they know the current one, throttled like a sign-in.
        if app.ledger.org().user(&user).is_none_or(|u| u.password_set_at.is_none()) {
            return Err(ApiError::Forbidden {
                rule: "org_roles".into(),
                message: "an account without a password is given its first one by an admin".into(),
            });
        }
        let current = current_password
            .ok_or_else(|| ApiError::invalid("current_password", "give the current password to set a new one"))?;
        auth::sign_in(&app, user.as_str(), &current, address).await.map_err(|error| match error {
            ApiError::Unauthorized(_) => ApiError::invalid("current_password", "is not this account's password"),
            other => other,
        })?;
    }
    let phc = hashed(&app, password).await?;
    let receipt = app
        .ledger
        .execute_once(&caller.user, Request::SetPassword { user: user.clone(), phc }, body.idempotency)
        .await?;
    app.auth.end_sessions_of(&user);
    Ok(written(StatusCode::OK, &receipt, user_view(&app, &user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Days until it expires; `0` for never (admins only). Defaults to the server's
    /// `token_days`; a token created with a token never outlives it.
    #[schema(maximum = 3650)]
    expires_in_days: Option<u64>,
    label: Option<String>,
}

/// Issues a token for `user`. With `minted_by` (the request came with an API token), the new
/// token expires no later than that one: by default the server's `token_days` cut to fit, and a
/// longer explicit request is refused by the policy engine.
async fn issue_token(
    app: &AppState,
    by: &UserName,
    user: &UserName,
    request: TokenBody,
    minted_by: Option<&str>,
    key: Option<sitrep_store::ledger::IdempotencyKey>,
) -> Result<Response, ApiError> {
    let TokenBody { expires_in_days, label } = request;
    let days = expires_in_days.unwrap_or(app.config.token_days);
    if days > 3650 {
        return Err(ApiError::invalid("expires_in_days", "must be at most 3650"));
    }
    let mut expires_at = (days > 0).then(|| app.now().plus_seconds(days as i64 * 86_400));
    let parent_expiry = minted_by.and_then(|sha256| app.ledger.org().tokens.get(sha256).and_then(|t| t.expires_at));
    if expires_in_days.is_none()
        && let Some(limit) = parent_expiry
    {
        expires_at = Some(expires_at.map_or(limit, |wanted| wanted.min(limit)));
    }
    let (token, sha256) = new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let command = OrgCommand::IssueToken {
        user: user.clone(),
        sha256: sha256.clone(),
        expires_at,
        label: label.clone(),
        minted_by: minted_by.map(str::to_owned),
    };
    let receipt = app.ledger.execute_once(by, Request::Org(command), key).await.map_err(|error| {
        // The engine names its own field; the client sent days.
        match ApiError::from(error) {
            ApiError::Invalid { field, message } if field == "expires_at" => {
                ApiError::Invalid { field: "expires_in_days".into(), message }
            }
            other => other,
        }
    })?;
    if receipt.replayed {
        return Err(ApiError::Conflict(
            "this token request was already answered, and a token is shown only once; request a new one".into(),
        ));
    }
    let body = NewToken { token, id: &sha256[..12], user, expires_at, label };
    Ok(written(StatusCode::CREATED, &receipt, views::json(body)))
}

/// A new token: the secret is shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewToken<'a> {
    /// The secret, for `Authorization: Bearer`.
    token: String,
    /// The token's id: the first 12 hex digits of its SHA-256.
    id: &'a str,
    user: &'a UserName,
    expires_at: Option<Timestamp>,
    label: Option<String>,
}

/// Create an API token (an admin for anyone, or a user for themself). It is shown once.
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", tag = "organisation", request_body = TokenBody,
    params(("name" = String, Path)), responses((status = 201, description = "`{token, id, expires_at}`: the token is shown only now", body = NewToken), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
    body: Body<TokenBody>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let minted_by = match &caller.via {
        Via::Token { sha256 } => Some(sha256.as_str()),
        Via::Session { .. } => None,
    };
    issue_token(&app, &caller.user, &user, body.value, minted_by, body.idempotency).await
}

/// A user's tokens, without their secrets (an admin, or the user).
#[utoipa::path(get, path = "/api/v1/users/{name}/tokens", tag = "organisation",
    params(("name" = String, Path)), responses((status = 200, description = "`{tokens: [{id, label, issued_at, expires_at, revoked}]}`", body = TokenList), (status = 403, description = "Someone else's tokens, without the admin role", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let user = own_or_admin(&app, &caller, &name, "listing someone else's tokens")?;
    let org = app.ledger.org();
    let tokens: Vec<&sitrep_core::org::Token> = org.tokens.values().filter(|t| t.user == user).collect();
    Ok(Json(views::json(TokenList { tokens })))
}

/// A user's tokens, without their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenList<'a> {
    tokens: Vec<&'a Token>,
}

/// Revoke a token (an admin, or its user); it stops working at once.
#[utoipa::path(delete, path = "/api/v1/users/{name}/tokens/{token}", tag = "organisation",
    params(("name" = String, Path), ("token" = String, Path, description = "The token's id")),
    responses((status = 200, description = "`{id, revoked: true}`", body = RevokedToken), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    Segments((name, token)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let user = existing_user(&app, &name)?;
    let receipt = org_change(&app, &caller, OrgCommand::RevokeToken { user, token: token.clone() }, None).await?;
    Ok(written(StatusCode::OK, &receipt, views::json(RevokedToken { id: token, revoked: true })))
}

/// A revoked token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevokedToken {
    id: String,
    /// Always `true`.
    revoked: bool,
}

/// A user's open browser sessions, newest first (an admin, or the user).
#[utoipa::path(get, path = "/api/v1/users/{name}/sessions", tag = "organisation",
    params(("name" = String, Path)), responses((status = 200, description = "`{sessions: [{id, started_at, seen_at, expires_at, authentication, current}]}`", body = SessionList), (status = 403, description = "Someone else's sessions, without the admin role", body = Problem), (status = 404, description = "No such user", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list_sessions(
    State(app): State<AppState>,
    caller: Caller,
    Segments(name): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let user = own_or_admin(&app, &caller, &name, "listing someone else's sessions")?;
    let now = app.now();
    let current = match &caller.via {
        Via::Session { id, .. } => Some(id.as_str()),
        Via::Token { .. } => None,
    };
    let sessions = app
        .ledger
        .store()
        .sessions_of(user.as_str())?
        .into_iter()
        .filter(|row| app.auth.is_open(row.seen_at, row.expires_at, now))
        .map(|row| SessionSummary {
            id: row.public_id().to_owned(),
            current: current == Some(row.id.as_str()),
            started_at: row.started_at,
            seen_at: row.seen_at,
            expires_at: row.expires_at,
            authentication: row.authentication,
        })
        .collect();
    Ok(Json(views::json(SessionList { sessions })))
}

/// A user's open browser sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    sessions: Vec<SessionSummary>,
}

/// A browser session, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionSummary {
    /// The first 12 hex digits of the session's SHA-256, as `session.started` names it.
    id: String,
    /// Whether this is the session the request came with.
    current: bool,
    started_at: Timestamp,
    /// Its last use, noted at most once a minute.
    seen_at: Timestamp,
    /// When it ends however active it is.
    expires_at: Timestamp,
    authentication: Authentication,
}

/// End a browser session (an admin, or its user): it stops working at once, recorded as
/// `session.ended`.
#[utoipa::path(delete, path = "/api/v1/users/{name}/sessions/{session}", tag = "organisation",
    params(("name" = String, Path), ("session" = String, Path, description = "The session's id")),
    responses((status = 200, description = "`{id, ended: true}`", body = EndedSession), (status = 403, description = "Someone else's session, without the admin role", body = Problem), (status = 404, description = "No such user or open session", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn end_session(
    State(app): State<AppState>,
    caller: Caller,
    Segments((name, session)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let user = own_or_admin(&app, &caller, &name, "ending someone else's session")?;
    let row = app
        .ledger
        .store()
        .sessions_of(user.as_str())?
        .into_iter()
        .find(|row| row.public_id() == session)
        .ok_or_else(|| ApiError::NotFound(format!("{user} has no open session {session}")))?;
    let reason = (user != caller.user).then(|| format!("ended by {}", caller.user));
    let receipt = auth::end_session(&app, &caller.user, &user, &row.id, reason).await?;
    Ok(written(StatusCode::OK, &receipt, views::json(EndedSession { id: session, ended: true })))
}

/// An ended session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndedSession {
    id: String,
    /// Always `true`.
    ended: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(values: &[&str], proxies: usize) -> Option<IpAddr> {
        let mut headers = axum::http::HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).expect("a header value"));
        }
        forwarded_client(&headers, proxies)
    }

    #[test]
    fn the_client_is_counted_from_the_right() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().expect("an address"));
        assert_eq!(client(&["198.51.100.1, 203.0.113.7"], 1), ip("203.0.113.7"), "what our proxy saw");
        assert_eq!(client(&["198.51.100.1", "203.0.113.7"], 1), ip("203.0.113.7"), "headers are one list");
        assert_eq!(client(&["1.1.1.1, 198.51.100.1, 10.0.0.2"], 2), ip("198.51.100.1"), "two proxies");
        assert_eq!(client(&["203.0.113.7"], 2), ip("203.0.113.7"), "fewer entries than proxies");
        assert_eq!(client(&["198.51.100.1, 203.0.113.7"], 0), None, "no proxies: the header is ignored");
        assert_eq!(client(&["198.51.100.1, not an address"], 1), None, "a bad entry is no address");
        assert_eq!(client(&[], 1), None);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    name: String,
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    password: String,
    #[schema(maximum = 3650)]
    expires_in_days: Option<u64>,
    label: Option<String>,
}

/// Exchange a name and password for an API token (for `sitrep login`). Throttled like sign-in.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "organisation", request_body = TokenRequest,
    responses((status = 201, description = "`{token, id, expires_at}`", body = NewToken), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn token_for_password(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    body: Body<TokenRequest>,
) -> Result<Response, ApiError> {
    let TokenRequest { name, password, expires_in_days, label } = body.value;
    let user = auth::sign_in(&app, &name, &password, address).await?;
    let request = TokenBody { expires_in_days, label: label.or_else(|| Some("sitrep login".into())) };
    issue_token(&app, &user, &user, request, None, None).await
}

fn session_cookie(app: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.config.behind_tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sitrep_session=; Path=/; Max-Age=0"))
}

/// Sign in with a name and password: starts a browser session (a new session id every time).
#[utoipa::path(post, path = "/api/v1/session", tag = "organisation", request_body = Credentials,
    responses((status = 200, description = "`{user, csrf_token}` and the session cookie", body = SessionStarted), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn sign_in(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: axum::http::HeaderMap,
    body: Body<Credentials>,
) -> Result<Response, ApiError> {
    if auth::cross_site(&headers, app.config.public_url.as_deref()) {
        return Err(ApiError::Forbidden {
            rule: "same_origin".into(),
            message: "a browser session is started from sitrep's own pages, not another site".into(),
        });
    }
    let user = auth::sign_in(&app, &body.value.name, &body.value.password, address).await?;
    let (id, csrf) = auth::begin_session(&app, &user, Authentication::password(app.now())).await?;
    let mut response = Json(views::json(SessionStarted { user, csrf_token: csrf })).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &id, app.config.session_hours * 3600));
    Ok(response)
}

/// A browser session, started.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionStarted {
    user: UserName,
    /// Sent back as `X-CSRF-Token` with every change the session makes.
    csrf_token: String,
}

/// Sign out: the session ends on the server at once.
#[utoipa::path(delete, path = "/api/v1/session", tag = "organisation",
    responses((status = 204, description = "Signed out"), (status = 400, description = "Not a browser session: a token is revoked instead", body = Problem)),
    security(("session" = [])))]
pub async fn sign_out(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let Via::Session { id, .. } = &caller.via else {
        return Err(ApiError::BadRequest(
            "sign-out ends a browser session; revoke a token with DELETE /api/v1/users/{name}/tokens/{id}".into(),
        ));
    };
    auth::end_session(&app, &caller.user, &caller.user, id, None).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(response)
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/session", tag = "organisation",
    responses((status = 200, description = "`{user, display_name, org_roles, csrf_token?}`", body = WhoAmI), (status = 401, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn whoami(State(app): State<AppState>, caller: Caller) -> Json<Value> {
    let org = app.ledger.org();
    let (csrf_token, authentication) = match &caller.via {
        Via::Session { csrf, authentication, .. } => (Some(csrf.as_str()), Some(authentication.as_ref())),
        Via::Token { .. } => (None, None),
    };
    Json(
        org.user(&caller.user).map(|user| views::json(WhoAmI { user, csrf_token, authentication })).unwrap_or_default(),
    )
}

/// The caller, and with a browser session its CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WhoAmI<'a> {
    #[serde(flatten)]
    user: &'a User,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<&'a str>,
    /// How a browser session's person signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<&'a Authentication>,
}

/// The authority policy in force: the file, its hash, and the readable matrix.
#[utoipa::path(get, path = "/api/v1/policy", tag = "organisation",
    responses((status = 200, description = "`{name, sha256, source, matrix, classes}`", body = PolicyView)), security(("token" = []), ("session" = [])))]
pub async fn policy(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    let org = app.ledger.org();
    let policy = &org.policy;
    let classes = policy
        .classes
        .iter()
        .map(|c| ClassView {
            class: &c.class,
            title: &c.title,
            propose: c.propose.describe(),
            approve: c.rule.approve.describe(),
            rule: &c.rule,
            path: &c.path,
            csf: &c.csf,
            ai_rmf: &c.ai_rmf,
        })
        .collect();
    Json(views::json(PolicyView {
        name: &policy.name,
        sha256: &policy.sha256,
        source: &policy.source,
        matrix: policy.matrix(),
        classes,
    }))
}

/// The policy in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PolicyView<'a> {
    name: &'a str,
    sha256: &'a str,
    /// The policy file (TOML).
    source: &'a str,
    /// Who may do what, as readable text.
    matrix: String,
    classes: Vec<ClassView<'a>>,
}

/// A decision class of the policy, with its rule in words.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClassView<'a> {
    class: &'a DecisionClass,
    title: &'a str,
    /// Who may propose, in words.
    propose: String,
    /// Who must approve, in words.
    approve: String,
    rule: &'a Rule,
    path: &'a [String],
    csf: &'a [String],
    ai_rmf: &'a [String],
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// The whole policy file (TOML).
    source: String,
}

/// Replace the authority policy (admin). Decisions already proposed keep the rule they were
/// proposed under.
#[utoipa::path(put, path = "/api/v1/policy", tag = "organisation", request_body = PolicyBody,
    responses((status = 200, description = "`{name, sha256}`", body = PolicyInForce), (status = 422, description = "The file's error, with line and column", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn replace_policy(
    State(app): State<AppState>,
    caller: Caller,
    body: Body<PolicyBody>,
) -> Result<Response, ApiError> {
    let receipt =
        org_change(&app, &caller, OrgCommand::ReplacePolicy { source: body.value.source }, body.idempotency).await?;
    let org = app.ledger.org();
    let body = PolicyInForce { name: &org.policy.name, sha256: &org.policy.sha256 };
    Ok(written(StatusCode::OK, &receipt, views::json(body)))
}

/// The policy now in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PolicyInForce<'a> {
    name: &'a str,
    sha256: &'a str,
}

/// The organisation record: every user, role, token, policy and playbook change (admins and
/// auditors).
#[utoipa::path(get, path = "/api/v1/org/record", tag = "organisation",
    responses((status = 200, description = "`{entries: [...]}`", body = OrgRecord), (status = 403, body = Problem)), security(("token" = []), ("session" = [])))]
pub async fn org_record(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    require(&app, &caller, &[OrgRole::Admin, OrgRole::Auditor], "reading the organisation record")?;
    let store = app.ledger.store().clone();
    let entries = tokio::task::spawn_blocking(move || store.read(RecordId::Org, 1, usize::MAX))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(views::json(OrgRecord { entries })))
}

/// The organisation record's entries, as hashed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrgRecord {
    entries: Vec<Entry>,
}

/// The playbooks: id, version, title and what they need.
#[utoipa::path(get, path = "/api/v1/playbooks", tag = "organisation",
    responses((status = 200, description = "Every playbook, each with `error` instead of its contents if it does not load under the policy in force", body = PlaybookList)), security(("token" = []), ("session" = [])))]
pub async fn playbooks(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    let org = app.ledger.org();
    let playbooks = org.playbooks.values().map(|record| PlaybookSummary::of(&org, record, false)).collect();
    Json(views::json(PlaybookList { playbooks }))
}

/// Every playbook the organisation holds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybookList {
    playbooks: Vec<PlaybookSummary>,
}

/// A playbook as stored and, when it loads under the policy in force, what it needs and does.
/// A playbook the policy has outgrown (a role or class it names was removed) is still listed,
/// with `error` saying why, so an admin can see and fix it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybookSummary {
    id: String,
    version: String,
    sha256: String,
    #[schema(value_type = String, example = "2026-11-27T03:10:00Z")]
    added_at: Timestamp,
    #[serde(flatten)]
    #[schema(inline)]
    contents: Option<PlaybookContents>,
    /// Why the playbook does not load under the policy in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The whole file (TOML); only when one playbook is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// What a loaded playbook needs and does.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybookContents {
    title: String,
    summary: String,
    approved_by: String,
    approved_at: String,
    required_roles: Vec<sitrep_core::Role>,
    inputs: Vec<PlaybookInput>,
    /// How many steps it runs.
    steps: usize,
    preapproved: Vec<PreapprovedDecision>,
}

/// An input the playbook asks for when it starts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybookInput {
    name: String,
    description: String,
    required: bool,
    example: Option<String>,
}

/// A decision the playbook's approval covers in advance.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreapprovedDecision {
    class: DecisionClass,
    title: String,
}

impl PlaybookSummary {
    fn of(org: &sitrep_core::OrgState, record: &sitrep_core::org::PlaybookRecord, with_source: bool) -> Self {
        let (contents, error) = match Playbook::parse(&record.source, &org.policy) {
            Ok(playbook) => (Some(PlaybookContents::of(playbook)), None),
            Err(error) => (None, Some(format!("does not load under the policy in force: {error}"))),
        };
        PlaybookSummary {
            id: record.id.clone(),
            version: record.version.clone(),
            sha256: record.sha256.clone(),
            added_at: record.added_at,
            contents,
            error,
            source: with_source.then(|| record.source.clone()),
        }
    }
}

impl PlaybookContents {
    fn of(playbook: Playbook) -> Self {
        let inputs = playbook
            .inputs
            .into_iter()
            .map(|i| PlaybookInput {
                name: i.name,
                description: i.description,
                required: i.required,
                example: i.example,
            })
            .collect();
        let preapproved =
            playbook.preapproved.into_iter().map(|d| PreapprovedDecision { class: d.class, title: d.title }).collect();
        PlaybookContents {
            title: playbook.title,
            summary: playbook.summary,
            approved_by: playbook.approved_by,
            approved_at: playbook.approved_at,
            required_roles: playbook.required_roles,
            inputs,
            steps: playbook.steps.len(),
            preapproved,
        }
    }
}

/// One playbook, with its file.
#[utoipa::path(get, path = "/api/v1/playbooks/{playbook}", tag = "organisation",
    params(("playbook" = String, Path)),
    responses((status = 200, description = "The playbook and its `source`", body = PlaybookSummary), (status = 404, body = Problem)), security(("token" = []), ("session" = [])))]
pub async fn playbook(
    State(app): State<AppState>,
    _caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    let org = app.ledger.org();
    let record = org.playbooks.get(&id).ok_or_else(|| ApiError::NotFound(format!("there is no playbook '{id}'")))?;
    Ok(Json(views::json(PlaybookSummary::of(&org, record, true))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookFile {
    /// The whole playbook file (TOML); its `id` must be the one in the path.
    source: String,
}

/// Add or replace a playbook (admin). The file is checked against the policy in force; an
/// error names its line and column.
#[utoipa::path(put, path = "/api/v1/playbooks/{playbook}", tag = "organisation", request_body = PlaybookFile,
    params(("playbook" = String, Path)),
    responses((status = 200, description = "`{id, version, sha256}`", body = PlaybookInForce), (status = 422, description = "The file's error, located", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn replace_playbook(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<PlaybookFile>,
) -> Result<Response, ApiError> {
    require(&app, &caller, &[OrgRole::Admin], "adding playbooks")?;
    let org = app.ledger.org();
    let parsed = Playbook::parse(&body.value.source, &org.policy)
        .map_err(|error| ApiError::invalid("source", error.to_string()))?;
    if parsed.id != id {
        return Err(ApiError::invalid("source", format!("the file's id is '{}', not '{id}'", parsed.id)));
    }
    let receipt =
        org_change(&app, &caller, OrgCommand::AddPlaybook { source: body.value.source }, body.idempotency).await?;
    let added = PlaybookInForce { id: &parsed.id, version: &parsed.version, sha256: &parsed.sha256 };
    Ok(written(StatusCode::OK, &receipt, views::json(added)))
}

/// The playbook now in force under its id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybookInForce<'a> {
    id: &'a str,
    version: &'a str,
    sha256: &'a str,
}
