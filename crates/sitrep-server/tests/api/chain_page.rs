//! The command view says whether the incident's record verifies, checking only what was written
//! since it last looked; an entry changed in the store behind the server's back is named there.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_command_view_names_an_entry_changed_in_the_store_behind_its_back() {
    let app = spawn_app().await;
    let id = app.standard_incident("Leaked deploy key", false).await;
    app.give_password(COMMANDER).await;
    let commander = app.sign_in(COMMANDER, PASSWORD).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let page = || {
        let request =
            client.get(app.url(&format!("/incidents/{id}"))).header(reqwest::header::COOKIE, &commander.cookie);
        async move { request.send().await.expect("answered").text().await.expect("html") }
    };

    let html = page().await;
    assert!(html.contains("✓ The chain verifies: "), "{html}");

    // A fact is logged, then its stored row is edited with the sqlite3 shell, as an insider with
    // the database file could; the hash no longer matches the contents.
    let fact = json!({ "text": "Key seen in a public gist" });
    app.post_ok(COMMANDER, &format!("/api/v1/incidents/{id}/facts"), fact, StatusCode::CREATED).await;
    let seq = app.record(COMMANDER, &id).await.len();
    let edit = Command::new("sqlite3")
        .arg(app.data.join("sitrep.db"))
        .arg(format!(
            "UPDATE entries SET body = replace(body, 'public gist', 'private gist') WHERE record = 1 AND seq = {seq}; \
             SELECT changes();"
        ))
        .output()
        .expect("the sqlite3 shell runs");
    assert_eq!(String::from_utf8_lossy(&edit.stdout).trim(), "1", "{edit:?}");

    let html = page().await;
    assert!(html.contains("✗ The chain does not verify: "), "{html}");
    assert!(html.contains(&format!("seq {seq}: the hash does not match the entry")), "{html}");
}
