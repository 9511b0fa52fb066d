//! Who is calling: API tokens (expiring, revocable), browser sessions with CSRF protection,
//! sign-in throttling, and text that comes back exactly as it was written.

use std::collections::BTreeSet;

use reqwest::header::{AUTHORIZATION, COOKIE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sitrep_core::Refusal;
use sitrep_core::decide::OrgCommand;
use sitrep_store::datadir::new_token;
use sitrep_store::{LedgerError, Request};

use crate::helpers::*;

/// Asserts a 401 that tells the client how to authenticate.
async fn unauthorized(response: Response) -> Value {
    let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(
        challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")),
        "401 carries WWW-Authenticate: {challenge:?}"
    );
    problem(response, StatusCode::UNAUTHORIZED).await
}

async fn whoami(app: &TestApp, token: &str) -> Response {
    app.client.get(app.url("/api/v1/session")).bearer_auth(token).send().await.expect("the server answers")
}

#[tokio::test]
async fn an_expired_token_is_refused_with_401() {
    let app = spawn_app().await;
    // A token cannot be issued already expired.
    let (_, sha256) = new_token().expect("a token");
    let past = app.clock.now().plus_seconds(-60);
    let issue =
        OrgCommand::IssueToken { minted_by: None, user: user(OUTSIDER), sha256, expires_at: Some(past), label: None };
    let refused = app.ledger.execute(&user(ADMIN), Request::Org(issue)).await.expect_err("refused");
    assert!(
        matches!(&refused, LedgerError::Refused(Refusal::Invalid { field, .. }) if field == "expires_at"),
        "{refused}"
    );

    // One that expires in a minute works until the server's clock passes it.
    let (token, sha256) = new_token().expect("a token");
    let soon = app.clock.now().plus_seconds(60);
    let issue =
        OrgCommand::IssueToken { minted_by: None, user: user(OUTSIDER), sha256, expires_at: Some(soon), label: None };
    app.ledger.execute(&user(ADMIN), Request::Org(issue)).await.expect("issued");
    assert_eq!(json_of(whoami(&app, &token).await, StatusCode::OK).await["name"], OUTSIDER);

    // A token from the API, expiring in a day.
    let body = json!({"expires_in_days": 1, "label": "laptop"});
    let issued = app.post_ok(OUTSIDER, "/api/v1/users/otto/tokens", body, StatusCode::CREATED).await;
    let daily = issued["token"].as_str().expect("the token is shown once").to_owned();
    assert!(issued["expires_at"].as_str().is_some(), "{issued}");
    json_of(whoami(&app, &daily).await, StatusCode::OK).await;

    app.clock.advance(120);
    let problem = unauthorized(whoami(&app, &token).await).await;
    assert!(problem["detail"].as_str().expect("detail").contains("expired"), "{problem}");
    json_of(whoami(&app, &daily).await, StatusCode::OK).await;
    app.clock.advance(86_400);
    unauthorized(whoami(&app, &daily).await).await;
    // Tokens without an expiry keep working.
    json_of(whoami(&app, app.token(OUTSIDER)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_with_401() {
    let app = spawn_app().await;
    let first = app.post_ok(OUTSIDER, "/api/v1/users/otto/tokens", json!({"label": "one"}), StatusCode::CREATED).await;
    let second = app.post_ok(ADMIN, "/api/v1/users/otto/tokens", json!({"label": "two"}), StatusCode::CREATED).await;
    let (first_token, first_id) = (first["token"].as_str().expect("token"), first["id"].as_str().expect("id"));
    let (second_token, second_id) = (second["token"].as_str().expect("token"), second["id"].as_str().expect("id"));

    let listed = app.get_json(OUTSIDER, "/api/v1/users/otto/tokens").await;
    let text = listed.to_string();
    assert!(text.contains(first_id) && text.contains(second_id), "the tokens are listed by id: {listed}");
    assert!(!text.contains(first_token) && !text.contains(second_token), "never with their secrets: {listed}");

    // The user revokes their own token; the admin revokes another.
    json_of(app.delete(OUTSIDER, &format!("/api/v1/users/otto/tokens/{first_id}")).await, StatusCode::OK).await;
    unauthorized(whoami(&app, first_token).await).await;
    json_of(whoami(&app, second_token).await, StatusCode::OK).await;
    json_of(app.delete(ADMIN, &format!("/api/v1/users/otto/tokens/{second_id}")).await, StatusCode::OK).await;
    unauthorized(whoami(&app, second_token).await).await;
    problem(app.delete(ADMIN, &format!("/api/v1/users/otto/tokens/{second_id}")).await, StatusCode::CONFLICT).await;

    // Disabling a user stops all their tokens.
    app.post_ok(ADMIN, "/api/v1/users/otto/disable", json!({"reason": "left"}), StatusCode::OK).await;
    unauthorized(whoami(&app, app.token(OUTSIDER)).await).await;
}

#[tokio::test]
async fn malformed_credentials_are_refused_with_401() {
    let app = spawn_app().await;
    let valid = app.token(COMMANDER).to_owned();
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer    ".to_owned(),
        "Basic Y21kOnBhc3N3b3Jk".to_owned(),
        "Token abc".to_owned(),
        "Bearer not-a-token".to_owned(),
        format!("Bearer {valid}x"),
        format!("Bearer {}", &valid[..valid.len() - 1]),
        valid.clone(),
    ] {
        let response = app
            .client
            .get(app.url("/api/v1/incidents"))
            .header(AUTHORIZATION, &header)
            .send()
            .await
            .expect("the server answers");
        unauthorized(response).await;
    }
    // No credentials at all.
    unauthorized(app.client.get(app.url("/api/v1/incidents")).send().await.expect("the server answers")).await;
    // A session cookie the server never issued.
    let response = app
        .client
        .get(app.url("/api/v1/incidents"))
        .header(COOKIE, "sitrep_session=made-up")
        .send()
        .await
        .expect("the server answers");
    unauthorized(response).await;
}

fn cookie_request(app: &TestApp, method: Method, path: &str, session: &Session) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).header(COOKIE, &session.cookie)
}

#[tokio::test]
async fn a_cookie_session_changes_nothing_without_its_csrf_token() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Sessions", false).await;
    // The admin sets the commander's password through the API.
    app.set_password(COMMANDER, PASSWORD).await;
    let session = app.sign_in(COMMANDER, PASSWORD).await;
    let other = app.sign_in(COMMANDER, PASSWORD).await;
    let notes = format!("/api/v1/incidents/{incident}/notes");
    let before = app.record(COMMANDER, &incident).await.len();

    // Reading needs only the cookie.
    let response = cookie_request(&app, Method::GET, &format!("/api/v1/incidents/{incident}"), &session)
        .send()
        .await
        .expect("the server answers");
    json_of(response, StatusCode::OK).await;
    let me = json_of(
        cookie_request(&app, Method::GET, "/api/v1/session", &session).send().await.expect("the server answers"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["name"], COMMANDER);
    assert_eq!(me["csrf_token"], json!(session.csrf), "a page can fetch its CSRF token again");

    // A change needs the session's own CSRF token.
    for csrf in [None, Some("wrong"), Some(""), Some(other.csrf.as_str())] {
        let mut request = cookie_request(&app, Method::POST, &notes, &session).json(&json!({"text": "via cookie"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        let problem = problem(request.send().await.expect("the server answers"), StatusCode::FORBIDDEN).await;
        assert!(problem["detail"].as_str().expect("detail").contains("x-csrf-token"), "{problem}");
    }
    let response =
        cookie_request(&app, Method::DELETE, &format!("/api/v1/incidents/{incident}/roles/scribe/resp"), &session)
            .send()
            .await
            .expect("the server answers");
    problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(app.record(COMMANDER, &incident).await.len(), before, "nothing was written without the token");

    let response = cookie_request(&app, Method::POST, &notes, &session)
        .header("x-csrf-token", &session.csrf)
        .json(&json!({"text": "via cookie"}))
        .send()
        .await
        .expect("the server answers");
    let note = json_of(response, StatusCode::CREATED).await;
    assert_eq!(note["by"], COMMANDER, "the session acts as its user");
    assert_eq!(app.record(COMMANDER, &incident).await.len(), before + 1);
}

#[tokio::test]
async fn session_cookies_are_http_only_and_same_site_strict() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    let session = app.sign_in(COMMANDER, PASSWORD).await;
    let flags: BTreeSet<String> = session.set_cookie.split(';').skip(1).map(|f| f.trim().to_lowercase()).collect();
    assert!(session.cookie.starts_with("sitrep_session="), "{}", session.set_cookie);
    assert!(flags.contains("httponly"), "scripts cannot read the session: {}", session.set_cookie);
    assert!(flags.contains("samesite=strict"), "other sites cannot send it: {}", session.set_cookie);
    assert!(flags.contains("path=/"), "{}", session.set_cookie);
    assert!(!flags.contains("secure"), "plain HTTP cannot carry a Secure cookie: {}", session.set_cookie);

    // Behind TLS the cookie is Secure too.
    let tls = spawn_app_with(|config| config.public_url = Some("https://sitrep.example.org".into())).await;
    tls.give_password(COMMANDER).await;
    let session = tls.sign_in(COMMANDER, PASSWORD).await;
    let flags: BTreeSet<String> = session.set_cookie.split(';').skip(1).map(|f| f.trim().to_lowercase()).collect();
    assert!(flags.contains("secure") && flags.contains("httponly") && flags.contains("samesite=strict"), "{flags:?}");
}

#[tokio::test]
async fn every_sign_in_starts_a_new_session_and_signing_out_really_ends_it() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    let first = app.sign_in(COMMANDER, PASSWORD).await;
    // Signing in again, even while presenting the old cookie, gives a new session id.
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .header(COOKIE, &first.cookie)
        .json(&json!({"name": COMMANDER, "password": PASSWORD}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let second_cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a new cookie")
        .to_owned();
    let second_csrf = response.json::<Value>().await.expect("JSON")["csrf_token"].as_str().expect("csrf").to_owned();
    assert_ne!(second_cookie, first.cookie, "a new session id at every sign-in");
    assert_ne!(second_csrf, first.csrf, "and a new CSRF token");

    // Signing out needs the CSRF token, and ends the session on the server.
    let response = cookie_request(&app, Method::DELETE, "/api/v1/session", &first).send().await.expect("answers");
    problem(response, StatusCode::FORBIDDEN).await;
    let response = cookie_request(&app, Method::DELETE, "/api/v1/session", &first)
        .header("x-csrf-token", &first.csrf)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cleared.contains("Max-Age=0"), "the browser is told to forget the cookie: {cleared}");
    // The old cookie, replayed, no longer works for reading or writing.
    let response = cookie_request(&app, Method::GET, "/api/v1/session", &first).send().await.expect("answers");
    unauthorized(response).await;
    let response = cookie_request(&app, Method::POST, "/api/v1/incidents", &first)
        .header("x-csrf-token", &first.csrf)
        .json(&json!({"title": "x", "severity": "sev4"}))
        .send()
        .await
        .expect("the server answers");
    unauthorized(response).await;
    // The other session is unaffected.
    let response = app
        .client
        .get(app.url("/api/v1/session"))
        .header(COOKIE, &second_cookie)
        .send()
        .await
        .expect("the server answers");
    json_of(response, StatusCode::OK).await;
}

async fn sign_in_raw(app: &TestApp, path: &str, name: &str, password: &str) -> Response {
    app.client
        .post(app.url(path))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn sign_in_is_throttled_after_five_failures_even_for_the_right_password() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    app.give_password(LEGAL).await;
    for attempt in 1..=5 {
        let response = sign_in_raw(&app, "/api/v1/session", COMMANDER, &format!("guess number {attempt}")).await;
        unauthorized(response).await;
    }
    for path in ["/api/v1/session", "/api/v1/tokens"] {
        let response = sign_in_raw(&app, path, COMMANDER, PASSWORD).await;
        let retry_after: u64 = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("429 says when to try again, in seconds");
        assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
        let problem = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(problem["detail"].as_str().expect("detail").contains("try again"), "{problem}");
    }
    // Another account is not locked by the first one's failures.
    let response = sign_in_raw(&app, "/api/v1/session", LEGAL, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Fires `attempts` sign-ins at once; the statuses, in no particular order.
async fn sign_in_flood(app: &TestApp, attempts: impl IntoIterator<Item = (String, String)>) -> Vec<StatusCode> {
    let requests = attempts.into_iter().map(|(name, password)| {
        let request = app.client.post(app.url("/api/v1/session")).json(&json!({"name": name, "password": password}));
        async move { request.send().await.expect("the server answers").status() }
    });
    futures_util::future::join_all(requests).await
}

/// How many passwords the server has evaluated, from `/metrics`.
async fn password_checks(app: &TestApp) -> u64 {
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("the server answers");
    let text = metrics.text().await.expect("a body");
    text.lines()
        .find_map(|line| line.strip_prefix("sitrep_sign_in_checks_total "))
        .and_then(|value| value.parse().ok())
        .expect("/metrics counts password checks")
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn forty_guesses_at_once_are_checked_at_most_five_times_and_the_account_locks() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    // Waves of forty parallel guesses until the account is locked: however they are timed,
    // no more guesses are evaluated than five sequential ones would be.
    let mut checked = 0;
    for wave in 0..30 {
        let guesses = (0..40).map(|i| (COMMANDER.to_owned(), format!("guess {wave}/{i} is wrong")));
        let statuses = sign_in_flood(&app, guesses).await;
        checked += count(&statuses, StatusCode::UNAUTHORIZED);
        assert_eq!(
            count(&statuses, StatusCode::UNAUTHORIZED) + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
            40,
            "every guess not checked is refused at once with 429: {statuses:?}"
        );
        if checked >= 5 {
            break;
        }
    }
    assert_eq!(checked, 5, "five guesses were checked, no more");
    assert!(password_checks(&app).await <= 5, "the server evaluated at most five passwords");
    let response = sign_in_raw(&app, "/api/v1/session", COMMANDER, PASSWORD).await;
    let retry_after: u64 = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("429 says when to try again");
    assert!(retry_after > 60, "the account is locked, not merely busy: {retry_after}");
    problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(password_checks(&app).await <= 5, "the right password was not even checked while locked");
}

#[tokio::test]
async fn a_flood_of_sign_ins_is_bounded_per_address_and_in_flight() {
    let app = spawn_app().await;
    // 120 different accounts from one address: the address's limit (20 failures) holds, and
    // no more than a few checks run at once; the rest are refused at once.
    let attempts = (0..120).map(|i| (format!("user{i}"), "a wrong password for sure".to_owned()));
    let statuses = sign_in_flood(&app, attempts).await;
    assert!(count(&statuses, StatusCode::UNAUTHORIZED) <= 20, "the address's limit holds: {statuses:?}");
    assert!(password_checks(&app).await <= 20, "the server evaluated at most twenty passwords");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS) + count(&statuses, StatusCode::UNAUTHORIZED), 120);
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    for path in ["/api/v1/session", "/api/v1/tokens"] {
        let mut answers = Vec::new();
        // A wrong password, an unknown user, a user without a password, a name that cannot exist.
        for (name, password) in [
            (COMMANDER, "not the password at all"),
            ("nobody", "not the password at all"),
            (TECH_LEAD, "not the password at all"),
            ("No Such Name!", "not the password at all"),
        ] {
            let response = sign_in_raw(&app, path, name, password).await;
            let status = response.status();
            let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
            let content_type = content_type(response.headers());
            let body = response.text().await.expect("a body");
            answers.push((status, challenge, content_type, body));
        }
        assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
        for answer in &answers[1..] {
            assert_eq!(answer, &answers[0], "{path}: the answers are identical, byte for byte");
        }
    }
}

/// Text that a browser would run if it were ever rendered unescaped.
fn hostile(field: &str) -> String {
    format!(r#"{field}: <img src=x onerror=alert(1)><script>alert("x")</script>&'"#)
}

/// Every string in a JSON value.
fn strings(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => {
            out.insert(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn html_and_script_in_every_text_field_come_back_verbatim_in_json() {
    let app = spawn_app().await;
    let body = json!({
        "title": hostile("title"),
        "severity": "sev2",
        "roles": {"tech_lead": TECH_LEAD, "legal": LEGAL, "comms": COMMS, "executive": EXECUTIVE},
    });
    let state = app.post_ok(COMMANDER, "/api/v1/incidents", body, StatusCode::CREATED).await;
    let id = state["id"].as_str().expect("id").to_owned();
    let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
    let steps: Vec<(&str, String, Value)> = vec![
        (COMMANDER, at("/severity"), json!({"severity": "sev1", "reason": hostile("severity reason")})),
        (TECH_LEAD, at("/facts"), json!({"text": hostile("fact text"), "source": hostile("fact source")})),
        (TECH_LEAD, at("/facts"), json!({"text": "second"})),
        (TECH_LEAD, at("/facts/F-1/verify"), json!({"basis": hostile("verify basis")})),
        (TECH_LEAD, at("/facts/F-2/disprove"), json!({"basis": hostile("disprove basis")})),
        (COMMANDER, at("/tasks"), json!({"title": hostile("task title")})),
        (COMMANDER, at("/tasks"), json!({"title": "second"})),
        (COMMANDER, at("/tasks"), json!({"title": "third"})),
        (COMMANDER, at("/tasks/T-1/block"), json!({"reason": hostile("block reason")})),
        (COMMANDER, at("/tasks/T-2/done"), json!({"note": hostile("done note")})),
        (COMMANDER, at("/tasks/T-3/cancel"), json!({"note": hostile("cancel note")})),
        (COMMS, at("/statements"), json!({"audience": "press", "title": "Holding", "text": "We are investigating."})),
        (
            COMMS,
            at("/decisions"),
            json!({
                "class": "external_statement", "title": hostile("decision title"), "rationale": hostile("rationale"),
                "actions": [{"connector": "task", "title": hostile("action title")}], "statement": "ST-1",
            }),
        ),
        (LEGAL, at("/decisions/D-1/approve"), json!({"note": hostile("approve note")})),
        (COMMS, at("/decisions"), json!({"class": "external_statement", "title": "second"})),
        (LEGAL, at("/decisions/D-2/reject"), json!({"note": hostile("reject note")})),
        (COMMS, at("/decisions"), json!({"class": "external_statement", "title": "third"})),
        (COMMS, at("/decisions/D-3/withdraw"), json!({"note": hostile("withdraw note")})),
        (COMMANDER, at("/notes"), json!({"text": hostile("note")})),
    ];
    for (who, path, body) in steps {
        let response = app.post(who, &path, body.clone()).await;
        assert!(response.status().is_success(), "{who} POST {path} {body}: {}", response.status());
    }
    let added = json!({"name": "mallory", "display_name": hostile("display name"), "org_role": "viewer"});
    app.post_ok(ADMIN, "/api/v1/users", added, StatusCode::CREATED).await;

    let fields = [
        "title",
        "severity reason",
        "fact text",
        "fact source",
        "verify basis",
        "disprove basis",
        "task title",
        "block reason",
        "done note",
        "cancel note",
        "decision title",
        "rationale",
        "action title",
        "approve note",
        "reject note",
        "withdraw note",
        "note",
    ];
    let mut served = BTreeSet::new();
    for path in [at(""), at("/record"), at("/sitrep")] {
        let response = app.get(COMMANDER, &path).await;
        assert_eq!(content_type(response.headers()), "application/json", "{path} is served as JSON");
        let nosniff = response.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(nosniff.as_deref(), Some("nosniff"), "browsers must not sniff JSON into HTML");
        let text = response.text().await.expect("a body");
        assert!(text.contains("<script>alert("), "{path}: JSON carries the text as written, not HTML-escaped");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        if path.ends_with("/record") {
            for entry in value["entries"].as_array().expect("entries") {
                strings(&entry["body"], &mut served);
            }
        }
        strings(&value, &mut served);
    }
    for field in fields {
        assert!(served.contains(&hostile(field)), "the {field} comes back exactly as written");
    }
    let users = app.get_json(ADMIN, "/api/v1/users").await;
    let mut names = BTreeSet::new();
    strings(&users, &mut names);
    assert!(names.contains(&hostile("display name")), "the display name comes back exactly as written");

    // Where text is rendered (the Markdown SITREP), it is escaped.
    let markdown = app
        .request(Method::GET, Some(COMMANDER), &at("/sitrep"))
        .header(reqwest::header::ACCEPT, "text/markdown")
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a body");
    assert!(markdown.contains("script"), "the text is in the report: {markdown}");
    let unescaped = markdown.match_indices('<').filter(|(at, _)| !markdown[..*at].ends_with('\\')).count();
    assert_eq!(unescaped, 0, "every < of user text is escaped in Markdown: {markdown}");
}

#[tokio::test]
async fn a_retried_post_with_an_idempotency_key_is_answered_from_the_first_time() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Retries", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let before = app.record(COMMANDER, &incident).await.len();
    let post = |who: &'static str, path: String, key: &'static str, body: Value| {
        let request = app.request(Method::POST, Some(who), &path).header("Idempotency-Key", key).json(&body);
        async move { request.send().await.expect("the server answers") }
    };
    let replayed = |response: &Response| {
        response.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()).map(str::to_owned)
    };

    for (n, (who, path, body, changed, id_field)) in [
        (TECH_LEAD, at("/facts"), json!({"text": "the key was used"}), json!({"text": "changed"}), "id"),
        (
            TECH_LEAD,
            at("/decisions"),
            json!({"class": "containment", "title": "Deactivate the key"}),
            json!({"class": "containment", "title": "Delete the key"}),
            "id",
        ),
        (COMMANDER, at("/tasks"), json!({"title": "Rotate"}), json!({"title": "Rotate now"}), "id"),
        (COMMANDER, at("/notes"), json!({"text": "bridge at 4"}), json!({"text": "bridge at 5"}), "seq"),
    ]
    .into_iter()
    .enumerate()
    {
        let key: &'static str = ["retry-1", "retry-2", "retry-3", "retry-4"][n];
        let first = post(who, path.clone(), key, body.clone()).await;
        assert_eq!(replayed(&first), None, "the first answer is not a replay");
        let first_seq = first.headers().get("x-sitrep-seq").cloned();
        let first = json_of(first, StatusCode::CREATED).await;
        let length = app.record(COMMANDER, &incident).await.len();
        let retry = post(who, path.clone(), key, body.clone()).await;
        assert_eq!(replayed(&retry).as_deref(), Some("true"), "{path}: the retry says it is a replay");
        assert_eq!(retry.headers().get("x-sitrep-seq").cloned(), first_seq, "{path}: the same entry");
        let retry = json_of(retry, StatusCode::CREATED).await;
        assert_eq!(retry[id_field], first[id_field], "{path}: the same id");
        assert_eq!(app.record(COMMANDER, &incident).await.len(), length, "{path}: the retry wrote nothing");

        // The same key with a different body is refused, naming the header.
        let response = post(who, path.clone(), key, changed).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["field"], "Idempotency-Key", "{problem}");
    }
    assert_eq!(app.record(COMMANDER, &incident).await.len(), before + 4, "one entry per distinct request");

    // Declaring is answered once too.
    let declare = json!({"title": "Declared once", "severity": "sev3"});
    let first =
        json_of(post(COMMANDER, "/api/v1/incidents".into(), "declare-1", declare.clone()).await, StatusCode::CREATED)
            .await;
    let retry = post(COMMANDER, "/api/v1/incidents".into(), "declare-1", declare).await;
    assert_eq!(replayed(&retry).as_deref(), Some("true"));
    assert_eq!(json_of(retry, StatusCode::CREATED).await["id"], first["id"]);
    let listed = app.get_json(COMMANDER, "/api/v1/incidents").await;
    assert_eq!(listed["incidents"].as_array().map(Vec::len), Some(2), "a single incident was declared");

    // Concurrent retries of one request write it once.
    let body = json!({"text": "sent five times at once"});
    let length = app.record(COMMANDER, &incident).await.len();
    let answers =
        futures_util::future::join_all((0..5).map(|_| post(TECH_LEAD, at("/facts"), "burst-1", body.clone()))).await;
    let mut ids = BTreeSet::new();
    for answer in answers {
        ids.insert(json_of(answer, StatusCode::CREATED).await["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1, "every retry names the same fact: {ids:?}");
    assert_eq!(app.record(COMMANDER, &incident).await.len(), length + 1, "one entry for five sends");

    // Keys belong to their user: another person's request with the same key is their own.
    let response = post(COMMANDER, at("/facts"), "burst-1", json!({"text": "sent five times at once"})).await;
    assert_eq!(replayed(&response), None);
    json_of(response, StatusCode::CREATED).await;

    // A key must be printable ASCII of at most 200 characters.
    let long = "k".repeat(201);
    for key in ["", long.as_str(), "has space"] {
        let request = app.request(Method::POST, Some(TECH_LEAD), &at("/facts")).header("Idempotency-Key", key);
        let response = request.json(&json!({"text": "x"})).send().await.expect("the server answers");
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["field"], "Idempotency-Key");
    }
}

async fn put_password(app: &TestApp, token: &str, name: &str, body: Value) -> Response {
    app.client
        .put(app.url(&format!("/api/v1/users/{name}/password")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn a_token_alone_cannot_set_its_users_password() {
    let app = spawn_app().await;
    app.give_password(RESPONDER).await;
    let token = app.token(RESPONDER).to_owned();
    let new = "a brand new passphrase for resp";

    let missing = put_password(&app, &token, RESPONDER, json!({"password": new})).await;
    assert_eq!(problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "current_password");
    let wrong = put_password(&app, &token, RESPONDER, json!({"password": new, "current_password": "not it at all"}));
    assert_eq!(problem(wrong.await, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "current_password");
    app.sign_in(RESPONDER, PASSWORD).await; // the old password still works: nothing changed

    let right = put_password(&app, &token, RESPONDER, json!({"password": new, "current_password": PASSWORD})).await;
    assert_eq!(right.status(), StatusCode::OK);
    app.sign_in(RESPONDER, new).await;

    // A token-only account is given its first password by an admin, and an admin needs no
    // current password for anyone.
    let first = put_password(&app, app.token(TECH_LEAD), TECH_LEAD, json!({"password": new})).await;
    problem(first, StatusCode::FORBIDDEN).await;
    let by_admin = put_password(&app, app.token(ADMIN), TECH_LEAD, json!({"password": new})).await;
    assert_eq!(by_admin.status(), StatusCode::OK);
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_a_sign_in() {
    let app = spawn_app().await;
    app.give_password(RESPONDER).await;
    let token = app.token(RESPONDER).to_owned();
    for attempt in 0..5 {
        let body = json!({"password": "a brand new passphrase", "current_password": format!("guess {attempt}")});
        let response = put_password(&app, &token, RESPONDER, body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let body = json!({"password": "a brand new passphrase", "current_password": PASSWORD});
    problem(put_password(&app, &token, RESPONDER, body).await, StatusCode::TOO_MANY_REQUESTS).await;
}

/// Mints a token for `name` with `token`; the answer's status and body.
async fn mint(app: &TestApp, token: &str, name: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/users/{name}/tokens")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn a_token_made_with_a_token_never_outlives_it() {
    let app = spawn_app().await;
    let base = app.token(RESPONDER).to_owned();
    let (status, never) = mint(&app, &base, RESPONDER, json!({"expires_in_days": 0})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a never-expiring token needs an admin: {never}");

    let (status, day) = mint(&app, &base, RESPONDER, json!({"expires_in_days": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{day}");
    let day_token = day["token"].as_str().expect("a token").to_owned();
    let (status, longer) = mint(&app, &day_token, RESPONDER, json!({"expires_in_days": 30})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{longer}");
    assert_eq!(longer["field"], "expires_in_days");
    let (status, child) = mint(&app, &day_token, RESPONDER, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "by default the child fits inside its parent: {child}");
    assert!(child["expires_at"].as_str() <= day["expires_at"].as_str(), "{child} {day}");
    let child_token = child["token"].as_str().expect("a token").to_owned();
    let (status, grandchild) = mint(&app, &child_token, RESPONDER, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let grandchild_token = grandchild["token"].as_str().expect("a token").to_owned();

    // Revoking the day token revokes what was made with it, all the way down.
    let path = format!("/api/v1/users/resp/tokens/{}", day["id"].as_str().expect("an id"));
    let revoked = app.request(Method::DELETE, Some(RESPONDER), &path).send().await.expect("the server answers");
    assert_eq!(revoked.status(), StatusCode::OK);
    for token in [&day_token, &child_token, &grandchild_token] {
        unauthorized(whoami(&app, token).await).await;
    }
    assert_eq!(whoami(&app, &base).await.status(), StatusCode::OK, "the token above is untouched");
    let listed = app.get_json(RESPONDER, "/api/v1/users/resp/tokens").await;
    let revoked: Vec<bool> = listed["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter(|t| t["minted_by"].is_string())
        .map(|t| t["revoked"].as_bool().expect("a flag"))
        .collect();
    assert_eq!(revoked, [true, true, true], "the list shows all three revoked");

    // An admin may still make a token that never expires.
    let (status, _) = mint(&app, app.token(ADMIN), RESPONDER, json!({"expires_in_days": 0})).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Posts the sign-in form as a browser would, without following the redirect.
async fn sign_in_form(app: &TestApp, headers: &[(&str, &str)], next: &str) -> Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("name", COMMANDER), ("password", PASSWORD), ("next", next)])
        .finish();
    let mut request = client
        .post(app.url("/login"))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the server answers")
}

#[tokio::test]
async fn after_sign_in_only_a_local_path_is_followed() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    for (next, expected) in [
        ("/incidents/INC-1?tab=facts", "/incidents/INC-1?tab=facts"),
        ("/\t/evil.example/", "/incidents"),
        ("//evil.example/", "/incidents"),
        ("/\\evil.example/", "/incidents"),
        ("https://evil.example/", "/incidents"),
        ("/a\nb", "/incidents"),
        ("/a\r\nSet-Cookie: stolen=1", "/incidents"),
        ("/a\u{7f}", "/incidents"),
    ] {
        let response = sign_in_form(&app, &[], next).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}: signed in and sent on");
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(location.as_deref(), Some(expected), "{next:?}");
    }
}

#[tokio::test]
async fn a_sign_in_form_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")],
        vec![("origin", "null")],
    ] {
        let response = sign_in_form(&app, &headers, "/incidents").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "{headers:?}: no session is started");
    }
    let own_origin = format!("http://{host}");
    let same = sign_in_form(&app, &[("origin", &own_origin), ("sec-fetch-site", "same-origin")], "/incidents").await;
    assert_eq!(same.status(), StatusCode::SEE_OTHER, "sitrep's own form signs in");
    assert!(same.headers().get(SET_COOKIE).is_some());

    let api = app
        .client
        .post(app.url("/api/v1/session"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": COMMANDER, "password": PASSWORD}))
        .send()
        .await
        .expect("the server answers");
    problem(api, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn behind_one_proxy_the_sign_in_limit_counts_the_address_the_proxy_saw() {
    let app = spawn_app_with(|config| config.trusted_proxies = 1).await;
    // The client rotates the leftmost entry; our proxy appends the address it really saw.
    let mut statuses = Vec::new();
    for attempt in 0..25 {
        let forwarded = format!("198.51.100.{attempt}, 203.0.113.7");
        let response = app
            .client
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"name": format!("user{attempt}"), "password": "a wrong password"}))
            .send()
            .await
            .expect("the server answers");
        statuses.push(response.status());
    }
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 20, "twenty failures from one address: {statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 5, "then the address is locked: {statuses:?}");
}

/// Reads `GET /api/v1/session` with a session cookie: the status.
async fn session_status(app: &TestApp, session: &Session) -> StatusCode {
    cookie_request(app, Method::GET, "/api/v1/session", session).send().await.expect("the server answers").status()
}

#[tokio::test]
async fn sessions_are_listed_and_ended_by_their_owner_or_an_admin_and_recorded() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    let laptop = app.sign_in(COMMANDER, PASSWORD).await;
    let phone = app.sign_in(COMMANDER, PASSWORD).await;
    let path = format!("/api/v1/users/{COMMANDER}/sessions");

    // The owner sees both, and which one the request came with.
    let listed =
        json_of(cookie_request(&app, Method::GET, &path, &laptop).send().await.expect("answers"), StatusCode::OK).await;
    let sessions = listed["sessions"].as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 2, "{listed}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1, "{listed}");
    assert!(sessions.iter().all(|s| s["authentication"]["method"] == "password"), "{listed}");
    let phone_id = sessions.iter().find(|s| s["current"] == false).expect("the other one")["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Someone else may neither see nor end them; a made-up id is not found; nothing changes.
    problem(app.get(RESPONDER, &path).await, StatusCode::FORBIDDEN).await;
    problem(app.delete(RESPONDER, &format!("{path}/{phone_id}")).await, StatusCode::FORBIDDEN).await;
    problem(app.delete(ADMIN, &format!("{path}/0123456789ab")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(session_status(&app, &phone).await, StatusCode::OK);

    // An admin ends the phone's session: it stops at once, the laptop's goes on.
    let ended = json_of(app.delete(ADMIN, &format!("{path}/{phone_id}")).await, StatusCode::OK).await;
    assert_eq!(ended, json!({"id": phone_id, "ended": true}));
    assert_eq!(session_status(&app, &phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(session_status(&app, &laptop).await, StatusCode::OK);
    problem(app.delete(ADMIN, &format!("{path}/{phone_id}")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json(COMMANDER, &path).await["sessions"].as_array().map(Vec::len), Some(1));

    // The record names both sign-ins, how they were made, and who ended which.
    let record = app.get_json(AUDITOR, "/api/v1/org/record").await;
    let entries = record["entries"].as_array().expect("entries");
    let of = |kind: &str| entries.iter().filter(|e| e["kind"] == kind).cloned().collect::<Vec<_>>();
    let started = of("session.started");
    assert_eq!(started.len(), 2, "{record}");
    assert!(
        started.iter().all(|e| e["actor"] == COMMANDER && e["body"]["authentication"]["method"] == "password"),
        "{started:?}"
    );
    let ended = of("session.ended");
    assert_eq!(ended.len(), 1, "{record}");
    assert_eq!(ended[0]["actor"], ADMIN);
    assert_eq!(ended[0]["body"]["session"], phone_id.as_str());
    assert_eq!(ended[0]["body"]["user"], COMMANDER);
}

#[tokio::test]
async fn a_session_ends_when_idle_too_long_or_at_its_absolute_lifetime() {
    let app = spawn_app_with(|config| {
        config.session_idle_minutes = 30;
        config.session_hours = 1;
    })
    .await;
    app.give_password(COMMANDER).await;
    let idle = app.sign_in(COMMANDER, PASSWORD).await;
    let busy = app.sign_in(COMMANDER, PASSWORD).await;
    // Used every 20 minutes, a session lasts; unused for 31, it has ended.
    for _ in 0..2 {
        app.clock.advance(20 * 60);
        assert_eq!(session_status(&app, &busy).await, StatusCode::OK);
        // Listing sessions shows them; it does not count as using them.
        let listed = app.get_json(COMMANDER, &format!("/api/v1/users/{COMMANDER}/sessions")).await;
        assert!(!listed["sessions"].as_array().expect("a list").is_empty());
    }
    assert_eq!(session_status(&app, &idle).await, StatusCode::UNAUTHORIZED, "40 minutes idle");
    // However busy, it ends after its hour.
    app.clock.advance(19 * 60);
    assert_eq!(session_status(&app, &busy).await, StatusCode::OK, "59 minutes old");
    app.clock.advance(2 * 60);
    assert_eq!(session_status(&app, &busy).await, StatusCode::UNAUTHORIZED, "61 minutes old");
}

#[tokio::test]
async fn a_new_password_ends_every_session_of_its_user_in_the_same_commit() {
    let app = spawn_app().await;
    app.give_password(COMMANDER).await;
    let session = app.sign_in(COMMANDER, PASSWORD).await;
    app.set_password(COMMANDER, "another long passphrase").await;
    assert_eq!(session_status(&app, &session).await, StatusCode::UNAUTHORIZED);
    let stored = app.ledger.store().sessions_of(COMMANDER).expect("the store answers");
    assert!(stored.is_empty(), "the session rows are gone: {stored:?}");
}
