//! `sitrep statement`: drafts and versions, the approval asked for through the class the
//! audience needs (bound to one version's text), and publishing exactly the approved text.

use std::io::Read;

use serde_json::{Value, json};

use super::{Client, Failure, Outcome, decision_words, incident_path, one_line, text, urlencode};
use crate::cli::{StatementCommand, StatementText};
use crate::exit::Exit;

pub(super) async fn run(client: &Client, command: StatementCommand) -> Outcome {
    match command {
        StatementCommand::Draft { incident, audience, title, text: given } => {
            let body = json!({ "audience": audience, "title": title, "text": read_text(given)? });
            let statement = client.post(&format!("{}/statements", incident_path(&incident)), body).await?;
            client.say(&statement, |s| {
                let latest = latest(s);
                format!(
                    "Drafted {} for {} on {incident}: version {}, sha256 {}; it needs an approved {} decision \
                     (`sitrep statement propose {incident} {}`).",
                    text(s, "id"),
                    text(s, "audience"),
                    text(latest, "version"),
                    text(latest, "sha256"),
                    text(s, "needs_class"),
                    text(s, "id"),
                )
            })
        }
        StatementCommand::Revise { incident, statement, text: given } => {
            let path = format!("{}/statements/{}/revisions", incident_path(&incident), urlencode(&statement));
            let answer = client.post(&path, json!({ "text": read_text(given)? })).await?;
            client.say(&answer, |s| {
                let latest = latest(s);
                format!(
                    "{} is now at version {}, sha256 {}; it needs a new approved {} decision.",
                    text(s, "id"),
                    text(latest, "version"),
                    text(latest, "sha256"),
                    text(s, "needs_class")
                )
            })
        }
        StatementCommand::List { incident, text: with_text } => {
            let listing = client.get(&format!("{}/statements", incident_path(&incident))).await?;
            client.say(&listing, |listing| {
                let all = listing["statements"].as_array().cloned().unwrap_or_default();
                if all.is_empty() {
                    return format!("No statements on {incident}.");
                }
                all.iter().map(|s| statement_lines(s, with_text)).collect::<Vec<_>>().join("\n")
            })
        }
        StatementCommand::Propose { incident, statement, title, rationale } => {
            let found = find(client, &incident, &statement).await?;
            let latest = latest(&found).clone();
            let title = title.unwrap_or_else(|| {
                format!(
                    "{} ({}, version {})",
                    text(&found, "title"),
                    text(&found, "audience"),
                    text(&latest, "version")
                )
            });
            let body = json!({
                "class": text(&found, "needs_class"), "title": title, "rationale": rationale,
                "statement": text(&found, "id"),
            });
            let decision = client.post(&format!("{}/decisions", incident_path(&incident)), body).await?;
            client.say(&decision, |d| {
                let bound = &d["statement"];
                format!(
                    "Proposed {} ({}) to approve {} version {} (sha256 {}): {}.",
                    text(d, "id"),
                    text(d, "class"),
                    text(&found, "id"),
                    text(bound, "version"),
                    text(bound, "sha256"),
                    decision_words(d)
                )
            })
        }
        StatementCommand::Publish { incident, statement, channel } => {
            // The hash of the text read here goes with the request: a revision that lands in
            // between makes the server refuse rather than publish a text nobody here has seen.
            let found = find(client, &incident, &statement).await?;
            let sha256 = text(latest(&found), "sha256");
            let path = format!("{}/statements/{}/publish", incident_path(&incident), urlencode(&text(&found, "id")));
            let answer = client.post(&path, json!({ "channel": channel, "sha256": sha256 })).await?;
            client.say(&answer, |s| {
                let publication = s["publications"].as_array().and_then(|p| p.last()).cloned().unwrap_or_default();
                format!(
                    "Published {} version {} to {} (sha256 {}, approved by {}).",
                    text(s, "id"),
                    text(&publication, "version"),
                    one_line(&text(&publication, "channel")),
                    text(&publication, "sha256"),
                    text(&publication, "decision")
                )
            })
        }
    }
}

/// The text as given, or a file's exact content (`-` is standard input).
fn read_text(given: StatementText) -> Result<String, Failure> {
    match (given.text, given.file) {
        (Some(text), _) => Ok(text),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::usage(format!("standard input: {e}")))?;
            Ok(text)
        }
        (None, Some(path)) => {
            std::fs::read_to_string(&path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
        }
        (None, None) => Err(Failure::usage("give the text with --text TEXT or --file FILE")),
    }
}

/// A statement's latest version.
fn latest(statement: &Value) -> &Value {
    statement["versions"].as_array().and_then(|v| v.last()).unwrap_or(&Value::Null)
}

/// One statement as the server has it now.
async fn find(client: &Client, incident: &str, statement: &str) -> Result<Value, Failure> {
    let listing = client.get(&format!("{}/statements", incident_path(incident))).await?;
    listing["statements"]
        .as_array()
        .and_then(|all| all.iter().find(|s| text(s, "id").eq_ignore_ascii_case(statement)))
        .cloned()
        .ok_or_else(|| Failure {
            code: Exit::NotFound,
            message: format!(
                "{incident} has no statement {}; `sitrep statement list {incident}` shows them",
                one_line(statement)
            ),
        })
}

/// `ST-1  customers  version 2  approved by D-3  published: status page (v2)  "Title"`
fn statement_lines(statement: &Value, with_text: bool) -> String {
    let latest = latest(statement);
    let approval = match text(latest, "approved_by") {
        approved if approved.is_empty() => format!("not approved (needs {})", text(statement, "needs_class")),
        approved => format!("approved by {approved}"),
    };
    let publications: Vec<String> = statement["publications"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} (v{})", one_line(&text(p, "channel")), text(p, "version")))
        .collect();
    let mut lines = vec![
        format!(
            "{:<6} {:<10} version {}  {approval}  {}",
            text(statement, "id"),
            text(statement, "audience"),
            text(latest, "version"),
            one_line(&text(statement, "title"))
        ),
        format!("    sha256 {}", text(latest, "sha256")),
    ];
    if !publications.is_empty() {
        lines.push(format!("    published: {}", publications.join(", ")));
    }
    if with_text {
        lines.extend(text(latest, "text").lines().map(|line| format!("    > {}", one_line(line))));
    }
    lines.join("\n")
}
