//! Asking for a link code: only a signed-in person, from the API or the tokens page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn a_link_code_is_given_only_to_a_signed_in_person() {
    let app = spawn_app().await;
    let anonymous = app.client.post(app.url("/api/v1/chat/link-codes")).json(&json!({})).send().await.expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let answer = app.post("lee", "/api/v1/chat/link-codes", json!({})).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.expect("JSON");
    let code = body["code"].as_str().expect("a code");
    assert_eq!(code.len(), 11);
    assert!(body["instructions"].as_str().expect("words").contains(&format!("!sitrep link {code}")));

    // The tokens page has a button for it, which needs the form's CSRF token.
    app.set_password("lee", PASSWORD).await;
    let session = app.sign_in("lee", PASSWORD).await;
    let page = |csrf: &str| {
        app.client.post(app.url("/account/chat-link")).header("cookie", &session.cookie).form(&[("csrf", csrf)]).send()
    };
    let forged = page("not-the-token").await.expect("answer");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let shown = page(&session.csrf).await.expect("answer");
    assert_eq!(shown.status(), StatusCode::CREATED);
    assert!(shown.text().await.expect("a page").contains("!sitrep link "));
}
