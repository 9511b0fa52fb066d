//! Sign-in through a real OpenID provider (`tools/oidc/provider.mjs`, oidc-provider 8 on
//! Node) on loopback: a cookie-keeping client walks the whole code flow headlessly, as a
//! browser would, and the refusals are shown to change nothing.
//!
//! Skipped with a message when `node` or `tools/oidc/node_modules` is missing, unless
//! `SITREP_OIDC_TESTS=required` (CI), where that fails.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use sitrep_core::OrgRole;
use sitrep_server::config::OidcConfig;
use sitrep_testing::oidc::{CLIENT_ID, CLIENT_SECRET, OTP, PASSWORD as PROVIDER_PASSWORD, Provider, available};

use crate::helpers::*;

/// Asks the provider to sign with a new key from now on.
async fn rotate(provider: &Provider) {
    let answer = reqwest::Client::new().post(format!("{}/__rotate", provider.issuer)).send().await.expect("rotates");
    assert_eq!(answer.status(), StatusCode::OK);
}

/// The `[oidc]` table the tests use; `change` adjusts it.
fn oidc_config(issuer: &str, change: impl FnOnce(&mut OidcConfig)) -> OidcConfig {
    let mut config = OidcConfig {
        issuer: issuer.to_owned(),
        name: "Test IdP".into(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        client_secret_file: None,
        redirect_uri: None,
        scopes: vec!["profile".into()],
        username_claim: "preferred_username".into(),
        username_domain: None,
        groups_claim: "groups".into(),
        roles: BTreeMap::from([
            ("sitrep-admins".to_owned(), OrgRole::Admin),
            ("sitrep-legal".to_owned(), OrgRole::Member),
            ("sitrep-members".to_owned(), OrgRole::Member),
        ]),
        just_in_time: true,
        password_sign_in: true,
    };
    change(&mut config);
    config
}

/// A sitrep server with `[oidc]` pointing at a provider started for it.
async fn spawn_with_provider(change: impl FnOnce(&mut OidcConfig)) -> Option<(TestApp, Provider)> {
    if !available() {
        return None;
    }
    let mut provider = None;
    let app = spawn_app_with(|config| {
        let base = format!("http://{}", config.listen);
        let started = Provider::start(&format!("{base}/auth/oidc/callback"));
        config.public_url = Some(base);
        config.oidc = Some(oidc_config(&started.issuer, change));
        provider = Some(started);
    })
    .await;
    Some((app, provider.expect("the provider started")))
}

/// A browser: keeps cookies, follows nothing by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Follows redirects from `url` until the answer is not one, or the next hop is sitrep's
/// callback (returned unvisited, so a test can tamper with or replay it).
async fn follow(
    browser: &reqwest::Client,
    app: &TestApp,
    mut response: reqwest::Response,
) -> Result<reqwest::Response, String> {
    for _ in 0..20 {
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).expect("a Location").to_owned();
        let next = response.url().join(&location).expect("a URL").to_string();
        if next.starts_with(&app.url("/auth/oidc/callback")) {
            return Err(next);
        }
        response = browser.get(&next).send().await.expect("it answers");
    }
    panic!("too many redirects");
}

/// Starts a sign-in at sitrep (`start` is the query after `/auth/oidc/start?`), fills the
/// provider's form, and returns sitrep's callback URL the provider sends the browser to.
async fn to_callback(browser: &reqwest::Client, app: &TestApp, start: &str, username: &str, otp: &str) -> String {
    let first = browser.get(app.url(&format!("/auth/oidc/start?{start}"))).send().await.expect("sitrep answers");
    assert_eq!(first.status(), StatusCode::SEE_OTHER, "start redirects to the provider");
    let form = follow(browser, app, first).await.expect("the provider's login form");
    assert_eq!(form.status(), StatusCode::OK);
    let page_url = form.url().clone();
    let page = form.text().await.expect("a page");
    let action = page.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("the form's action");
    let posted = browser
        .post(page_url.join(action).expect("a URL"))
        .form(&[("username", username), ("password", PROVIDER_PASSWORD), ("otp", otp)])
        .send()
        .await
        .expect("the provider answers");
    match follow(browser, app, posted).await {
        Err(callback) => callback,
        Ok(other) => panic!("the provider did not send the browser back: {} {:?}", other.status(), other.text().await),
    }
}

/// Visits the callback; the answer (a redirect with the session cookie, or a refusal page).
async fn callback(browser: &reqwest::Client, url: &str) -> reqwest::Response {
    browser.get(url).send().await.expect("sitrep answers")
}

/// Signs `username` in through the provider; the browser then holds the session cookie.
async fn sign_in(app: &TestApp, username: &str) -> reqwest::Client {
    let browser = browser();
    let url = to_callback(&browser, app, "next=/incidents/INC-1", username, "").await;
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let page = answer.text().await.expect("a page");
    assert!(page.contains(r#"content="0; url=/incidents/INC-1""#), "on to where the person was going: {page}");
    browser
}

async fn whoami(browser: &reqwest::Client, app: &TestApp) -> Value {
    let answer = browser.get(app.url("/api/v1/session")).send().await.expect("sitrep answers");
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("JSON")
}

async fn org_entries(app: &TestApp) -> Vec<Value> {
    app.get_json(ADMIN, "/api/v1/org/record").await["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn a_new_person_signs_in_and_is_provisioned_with_their_groups_role() {
    let Some((app, provider)) = spawn_with_provider(|_| {}).await else { return };
    let browser = sign_in(&app, "alice").await;
    let me = whoami(&browser, &app).await;
    assert_eq!(me["name"], "alice", "{me}");
    assert_eq!(me["org_roles"], json!(["admin"]), "{me}");
    assert_eq!(me["display_name"], "Alice Admin");
    assert!(me["csrf_token"].is_string(), "a browser session");
    assert_eq!(me["authentication"]["method"], "oidc", "{me}");
    assert_eq!(me["authentication"]["issuer"], provider.issuer.as_str());
    assert_eq!(me["authentication"]["acr"], "urn:sitrep:pwd", "a password at the provider, no code");

    let entries = org_entries(&app).await;
    let started = entries.iter().find(|e| e["kind"] == "session.started").expect("the sign-in is recorded");
    assert_eq!(started["actor"], "alice");
    assert_eq!(started["body"]["authentication"]["amr"], json!(["pwd"]));
    let added = entries
        .iter()
        .find(|e| e["kind"] == "user.added" && e["body"]["user"] == "alice")
        .expect("alice was added to the organisation record");
    assert_eq!(added["actor"], "system:oidc");
    assert_eq!(added["body"]["org_role"], "admin");
    assert_eq!(added["body"]["identity"], json!({ "issuer": provider.issuer, "subject": "alice" }));

    // A second sign-in finds the user and adds nobody.
    let before = org_entries(&app).await.iter().filter(|e| e["kind"] == "user.added").count();
    let again = sign_in(&app, "alice").await;
    assert_eq!(whoami(&again, &app).await["name"], "alice");
    assert_eq!(org_entries(&app).await.iter().filter(|e| e["kind"] == "user.added").count(), before);
}

#[tokio::test]
async fn a_tampered_missing_or_used_state_is_refused() {
    let Some((app, _provider)) = spawn_with_provider(|_| {}).await else { return };
    let browser = browser();
    let url = to_callback(&browser, &app, "next=/incidents", "alice", "").await;
    let before = org_entries(&app).await.len();

    let tampered = url.replace("state=", "state=x");
    let answer = callback(&browser, &tampered).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.expect("a page").contains("unknown or was already used"));

    let without: String = {
        let mut parsed = reqwest::Url::parse(&url).expect("a URL");
        let kept: Vec<(String, String)> =
            parsed.query_pairs().filter(|(k, _)| k != "state").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        parsed.query_pairs_mut().clear().extend_pairs(kept);
        parsed.to_string()
    };
    let answer = callback(&browser, &without).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.expect("a page").contains("names no sign-in"));
    assert_eq!(org_entries(&app).await.len(), before, "refusals write nothing");
    assert!(app.ledger.org().user(&user("alice")).is_none());

    // Another browser (a victim sent the attacker's callback URL) is refused and uses it up.
    let attacker = self::browser();
    let other = to_callback(&attacker, &app, "next=/incidents", "mo", "").await;
    let answer = self::browser().get(&other).send().await.expect("sitrep answers");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.expect("a page").contains("started in another browser"));
    assert!(app.ledger.org().user(&user("mo")).is_none());

    // The real answer still works once (the tampered ones did not use it up) ...
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers().get(reqwest::header::SET_COOKIE).is_some(), "signed in");
    // ... and only once: the same code and state again are refused.
    let replay = self::browser().get(&url).send().await.expect("sitrep answers");
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get(reqwest::header::SET_COOKIE).is_none(), "no session from a replay");
}

#[tokio::test]
async fn a_person_in_no_mapped_group_is_refused_and_not_added() {
    let Some((app, _provider)) = spawn_with_provider(|_| {}).await else { return };
    let before = org_entries(&app).await.len();
    let browser = browser();
    let url = to_callback(&browser, &app, "next=/incidents", "ghost", "").await;
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let page = answer.text().await.expect("a page");
    assert!(page.contains("in no group that sitrep maps to a role"), "{page}");
    assert!(app.ledger.org().user(&user("ghost")).is_none(), "nobody was added");
    assert_eq!(org_entries(&app).await.len(), before);
    let me = browser.get(app.url("/api/v1/session")).send().await.expect("sitrep answers");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "no session");
}

#[tokio::test]
async fn without_just_in_time_only_known_people_sign_in() {
    let Some((app, _provider)) = spawn_with_provider(|oidc| oidc.just_in_time = false).await else { return };
    // `lee` is a user already (added by the admin): the provider's lee signs in as them.
    let browser = sign_in(&app, "lee").await;
    assert_eq!(whoami(&browser, &app).await["name"], "lee");
    // `mo` is not, and is not created.
    let browser = self::browser();
    let url = to_callback(&browser, &app, "", "mo", "").await;
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.text().await.expect("a page").contains("has no sitrep account"));
    assert!(app.ledger.org().user(&user("mo")).is_none());
}

#[tokio::test]
async fn a_disabled_user_is_refused() {
    let Some((app, _provider)) = spawn_with_provider(|_| {}).await else { return };
    app.post_ok(ADMIN, "/api/v1/users/lee/disable", json!({ "reason": "left" }), StatusCode::OK).await;
    let browser = browser();
    let url = to_callback(&browser, &app, "", "lee", "").await;
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.text().await.expect("a page").contains("disabled"));
}

#[tokio::test]
async fn a_step_up_needs_the_class_asked_for() {
    let Some((app, _provider)) = spawn_with_provider(|_| {}).await else { return };
    // Asked for MFA, signed in with a password only: refused.
    let browser = browser();
    let url = to_callback(&browser, &app, "acr=urn:sitrep:mfa&max_age=300", "alice", "").await;
    let answer = callback(&browser, &url).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.expect("a page").contains("authentication class"));
    // With the one-time code: signed in.
    let browser = self::browser();
    let url = to_callback(&browser, &app, "acr=urn:sitrep:mfa&max_age=300", "alice", OTP).await;
    assert_eq!(callback(&browser, &url).await.status(), StatusCode::OK);
    assert_eq!(whoami(&browser, &app).await["name"], "alice");
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched() {
    let Some((app, provider)) = spawn_with_provider(|_| {}).await else { return };
    sign_in(&app, "alice").await;
    rotate(&provider).await;
    // The new token names a key sitrep has not cached: it fetches the keys again.
    let browser = sign_in(&app, "alice").await;
    assert_eq!(whoami(&browser, &app).await["name"], "alice");
}

#[tokio::test]
async fn passwords_can_be_turned_off() {
    // Nothing is fetched from the provider until someone signs in with it, so none runs here.
    let app = spawn_app_with(|config| {
        config.public_url = Some(format!("http://{}", config.listen));
        config.oidc = Some(oidc_config("http://127.0.0.1:9/", |oidc| oidc.password_sign_in = false));
    })
    .await;
    app.give_password(COMMANDER).await;
    let credentials = json!({ "name": COMMANDER, "password": PASSWORD });
    for path in ["/api/v1/session", "/api/v1/tokens"] {
        let answer = app.client.post(app.url(path)).json(&credentials).send().await.expect("answers");
        let problem = problem(answer, StatusCode::FORBIDDEN).await;
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("identity provider")), "{problem}");
    }
    let form = app.client.post(app.url("/login")).form(&[("name", COMMANDER), ("password", PASSWORD)]).send().await;
    assert_eq!(form.expect("answers").status(), StatusCode::FORBIDDEN);
    let page =
        app.client.get(app.url("/login?next=/incidents")).send().await.expect("answers").text().await.expect("a page");
    assert!(page.contains("Sign in with Test IdP"), "{page}");
    assert!(page.contains("/auth/oidc/start?next=%2Fincidents"), "{page}");
    assert!(!page.contains("type=\"password\""), "no password form");
    // Tokens still work: scripts are not people signing in.
    assert_eq!(app.get(COMMANDER, "/api/v1/session").await.status(), StatusCode::OK);

    // No provider answers at that issuer: a clear 502 page, nothing remembered.
    let answer = app.client.get(app.url("/auth/oidc/start?next=/incidents")).send().await.expect("answers");
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(answer.text().await.expect("a page").contains("cannot reach the identity provider"));
    // An oversized link is refused before anything else.
    let acr = ["urn:x"; 9].join("%20");
    let answer = app.client.get(app.url(&format!("/auth/oidc/start?acr={acr}"))).send().await.expect("answers");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_oidc_the_routes_are_not_there_and_passwords_work() {
    let app = spawn_app().await;
    let answer = app.client.get(app.url("/auth/oidc/start")).send().await.expect("answers");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let page = app.client.get(app.url("/login")).send().await.expect("answers").text().await.expect("a page");
    assert!(!page.contains("/auth/oidc/start"));
    assert!(page.contains("type=\"password\""));
}
