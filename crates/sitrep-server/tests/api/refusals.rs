//! Refused web forms without JavaScript: the page again, with the reason in the form's words
//! beside the form that was sent and naming the field at fault.

use reqwest::StatusCode;

use crate::helpers::*;

/// Without JavaScript a refused form gets the page again: the reason, in the form's words, both
/// at the top and inside the form that was sent, naming the field at fault.
#[tokio::test]
async fn a_refused_form_without_javascript_has_its_reason_beside_it_naming_the_field() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    app.give_password(COMMANDER).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", commander.csrf.as_str()),
            ("form", "fact"),
            ("text", "seen in a gist"),
            ("backfill_reason", "the alert was late"),
        ])
        .finish();
    let response = client
        .post(app.url(&format!("/incidents/{id}/facts")))
        .header(reqwest::header::COOKIE, &commander.cookie)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    let said = "Why only now: is given only with “When it happened”, the time it explains";
    assert!(
        html.contains(&format!("id=\"refusal\" data-refusal data-field=\"backfill_reason\">{said}</p>")),
        "the reason names the field, in words: {html}"
    );
    let fact_form = html.split(&format!("action=\"/incidents/{id}/facts\"")).nth(1).expect("the fact form");
    let fact_form = fact_form.split("</form>").next().unwrap_or_default();
    assert!(fact_form.contains(said), "the reason is inside the form that was sent: {fact_form}");
    assert!(!html.contains("occurred_at:") && !html.contains("backfill_reason:"), "no API field names");
}
