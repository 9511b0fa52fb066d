//! Signing in and out: the sign-in page, its form, and ending the session.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::view::Me;
use super::{Fields, Viewer, csrf, error_page, render};
use sitrep_core::authn::Authentication;

use crate::auth::{self, SESSION_COOKIE};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    me: Option<Me>,
    error: Option<String>,
    next: String,
    name: String,
    /// Signing in again because a decision's class asks for a fresher sign-in.
    again: bool,
    /// The `acr` values the policy counts as multi-factor, asked of the provider when signing
    /// in again.
    mfa_acr: Vec<String>,
    /// The identity provider's name, when `[oidc]` is configured.
    provider: Option<String>,
    /// Whether the password form is offered.
    passwords: bool,
}

impl LoginPage {
    fn new(app: &AppState, error: Option<String>, next: String, name: String) -> LoginPage {
        let provider = app.oidc.as_ref().map(|oidc| oidc.name().to_owned());
        let passwords = app.config.password_sign_in();
        let mfa_acr = app.ledger.org().policy.mfa_acr.clone();
        LoginPage { me: None, error, next, name, provider, passwords, again: false, mfa_acr }
    }

    /// The provider's sign-in link, carrying where to go next. Signing in again, the provider
    /// is asked to authenticate the person afresh (`max_age=0`) at an `acr` the policy counts
    /// as multi-factor.
    fn provider_link(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("next", &self.next);
        if self.again {
            query.append_pair("max_age", "0");
            if !self.mfa_acr.is_empty() {
                query.append_pair("acr", &self.mfa_acr.join(" "));
            }
        }
        format!("/auth/oidc/start?{}", query.finish())
    }
}

/// Only a path on this site is followed after sign-in: `/`, then only characters a path and
/// query may hold unescaped (RFC 3986: unreserved, sub-delimiters, `:@/?%`), and a fragment
/// (`#decision-D-2`, to land back on the decision a fresh sign-in was needed for). Whitespace,
/// controls, `\\` and a leading `//` are what browsers read as another host (`/\t/evil.example`
/// is followed off-site) or what a `Location` header cannot carry, so anything else goes to the
/// incident list.
pub(crate) fn safe_next(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%#".contains(&b));
    if local { next.to_owned() } else { "/incidents".to_owned() }
}

pub(super) async fn login_page(State(app): State<AppState>, uri: Uri) -> Response {
    let query = |key: &str| {
        uri.query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned()))
    };
    let page = LoginPage {
        again: query("again").is_some(),
        ..LoginPage::new(&app, None, safe_next(&query("next").unwrap_or_default()), String::new())
    };
    render(&page, StatusCode::OK)
}

pub(super) async fn login(
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
        Ok(user) => match auth::begin_session(&app, &user, Authentication::password(app.now())).await {
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
            let page = LoginPage::new(&app, Some(error.to_string()), next, fields.get("name").to_owned());
            render(&page, error.status())
        }
    }
}

/// Where a person goes to sign in again for a decision whose class asks for a fresher or
/// stronger sign-in; afterwards they land on `next`. Always sitrep's own sign-in page: a page's
/// form is sent with fetch, which can follow a redirect on this site but not to the provider's;
/// the page offers the provider (asked to authenticate afresh) and the password.
pub(super) fn sign_in_again(next: &str) -> String {
    format!("/login?again=1&next={}", super::encode(next))
}

pub(crate) fn session_cookie(app: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.config.behind_tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sitrep_session=; Path=/; Max-Age=0"))
}

pub(super) async fn logout(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    if let Err(error) = auth::end_session(&app, &viewer.user, &viewer.user, &viewer.session, None).await {
        return error.into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for kept in [
            "/incidents",
            "/incidents/INC-3?tab=facts",
            "/incidents/INC-3/report",
            "/policy",
            "/incidents/INC-3#decision-D-2",
        ] {
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
