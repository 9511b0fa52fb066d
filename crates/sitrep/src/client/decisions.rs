//! Facts, decisions, their actions, tasks and playbooks.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, Failure, Outcome, decision_words, incident_path, pairs, text, urlencode};
use crate::cli::{FactCommand, LogArgs, PlaybookCommand, ProposeArgs, TaskCommand};

/// `sitrep log`.
pub(super) async fn log(client: &Client, log: LogArgs) -> Outcome {
    let body = json!({
        "text": log.text, "source": log.source, "status": log.status, "basis": log.basis,
        "occurred_at": log.occurred_at, "backfill_reason": log.backfill_reason,
    });
    let fact = client.post(&format!("{}/facts", incident_path(&log.incident)), body).await?;
    client.say(&fact, |f| format!("Logged {} on {} as {}.", text(f, "id"), log.incident, text(f, "status")))
}

/// `sitrep fact verify|disprove`.
pub(super) async fn fact(client: &Client, command: FactCommand) -> Outcome {
    let (incident, fact, basis, verb) = match command {
        FactCommand::Verify { incident, fact, basis } => (incident, fact, basis, "verify"),
        FactCommand::Disprove { incident, fact, basis } => (incident, fact, basis, "disprove"),
    };
    let path = format!("{}/facts/{}/{verb}", incident_path(&incident), urlencode(&fact));
    let answer = client.post(&path, json!({ "basis": basis })).await?;
    client.say(&answer, |f| format!("{} is now {}.", text(f, "id"), text(f, "status")))
}

/// `sitrep propose`.
pub(super) async fn propose(client: &Client, propose: ProposeArgs) -> Outcome {
    let actions = propose
        .actions
        .iter()
        .map(|a| serde_json::from_str::<Value>(a).map_err(|e| Failure::usage(format!("--action {a}: not JSON: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let body = json!({
        "class": propose.class, "title": propose.title, "rationale": propose.rationale, "actions": actions,
        "clocks": propose.clocks,
    });
    let decision = client.post(&format!("{}/decisions", incident_path(&propose.incident)), body).await?;
    client.say(&decision, |d| {
        let clocks: Vec<&str> = d["clocks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let stops = if clocks.is_empty() { String::new() } else { format!(" for {}", clocks.join(", ")) };
        format!("Proposed {} ({}){stops}: {}.", text(d, "id"), text(d, "class"), decision_words(d))
    })
}

/// `sitrep approve`.
pub(super) async fn approve(client: &Client, incident: String, decision: String, note: Option<String>) -> Outcome {
    let path = format!("{}/decisions/{}/approve", incident_path(&incident), urlencode(&decision));
    let answer = client.post(&path, json!({ "note": note })).await?;
    client.say(&answer, |d| format!("Approved {}; it is {}.", text(d, "id"), decision_words(d)))
}

/// `sitrep reject`.
pub(super) async fn reject(client: &Client, incident: String, decision: String, note: String) -> Outcome {
    let path = format!("{}/decisions/{}/reject", incident_path(&incident), urlencode(&decision));
    let answer = client.post(&path, json!({ "note": note })).await?;
    client.say(&answer, |d| format!("Rejected {}.", text(d, "id")))
}

/// `sitrep withdraw`.
pub(super) async fn withdraw(client: &Client, incident: String, decision: String, note: Option<String>) -> Outcome {
    let path = format!("{}/decisions/{}/withdraw", incident_path(&incident), urlencode(&decision));
    let answer = client.post(&path, json!({ "note": note })).await?;
    client.say(&answer, |d| format!("Withdrew {}.", text(d, "id")))
}

/// `sitrep retry`.
pub(super) async fn retry(client: &Client, incident: String, decision: String, action: u32) -> Outcome {
    let path = format!("{}/decisions/{}/actions/{action}/retry", incident_path(&incident), urlencode(&decision));
    let state = client.post(&path, json!({})).await?;
    client.say(&state, |_| format!("Action {action} of {decision} will run again."))
}

/// `sitrep playbook list|show|add|run`.
pub(super) async fn playbook(client: &Client, command: PlaybookCommand) -> Outcome {
    match command {
        PlaybookCommand::List => {
            let list = client.get("/api/v1/playbooks").await?;
            client.say(&list, |all| {
                all["playbooks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let inputs: Vec<String> =
                            p["inputs"].as_array().into_iter().flatten().map(|i| text(i, "name")).collect();
                        format!(
                            "{:<28} v{:<7} {}{}",
                            text(p, "id"),
                            text(p, "version"),
                            text(p, "title"),
                            if inputs.is_empty() { String::new() } else { format!(" (inputs: {})", inputs.join(", ")) }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        PlaybookCommand::Show { playbook } => {
            let found = client.get(&format!("/api/v1/playbooks/{}", urlencode(&playbook))).await?;
            client.say(&found, |p| text(p, "source"))
        }
        PlaybookCommand::Add { file } => {
            let source =
                std::fs::read_to_string(&file).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let id = source
                .lines()
                .find_map(|line| line.trim().strip_prefix("id").map(str::trim).and_then(|rest| rest.strip_prefix('=')))
                .map(|value| value.trim().trim_matches('"').to_owned())
                .ok_or_else(|| Failure::usage(format!("{}: the file has no `id = \"...\"` line", file.display())))?;
            let path = format!("/api/v1/playbooks/{}", urlencode(&id));
            let answer = client.send(client.request(Method::PUT, &path).json(&json!({ "source": source }))).await?;
            client.say(&answer, |a| {
                format!(
                    "Playbook {} v{} is in place (sha256 {}).",
                    text(a, "id"),
                    text(a, "version"),
                    text(a, "sha256")
                )
            })
        }
        PlaybookCommand::Run { incident, playbook, inputs } => {
            let body = json!({ "playbook": playbook, "inputs": pairs("--input", &inputs)? });
            let state = client.post(&format!("{}/playbooks", incident_path(&incident)), body).await?;
            client.say(&state, |s| {
                format!(
                    "Started {playbook} on {}: {} tasks, {} decisions.",
                    text(s, "id"),
                    s["tasks"].as_array().map_or(0, Vec::len),
                    s["decisions"].as_array().map_or(0, Vec::len)
                )
            })
        }
    }
}

/// `sitrep task add|assign|done|block|cancel`.
pub(super) async fn task(client: &Client, command: TaskCommand) -> Outcome {
    let (incident, path, body, created) = match command {
        TaskCommand::Add { incident, title, owner, due } => {
            let path = format!("{}/tasks", incident_path(&incident));
            (incident, path, json!({ "title": title, "owner": owner, "due": due }), true)
        }
        TaskCommand::Assign { incident, task, owner } => {
            let path = format!("{}/tasks/{}/assign", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "owner": owner }), false)
        }
        TaskCommand::Done { incident, task, note } => {
            let path = format!("{}/tasks/{}/done", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "note": note }), false)
        }
        TaskCommand::Block { incident, task, reason } => {
            let path = format!("{}/tasks/{}/block", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "reason": reason }), false)
        }
        TaskCommand::Cancel { incident, task, note } => {
            let path = format!("{}/tasks/{}/cancel", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "note": note }), false)
        }
    };
    let answer = client.post(&path, body).await?;
    client.say(&answer, |t| {
        let owner = t.get("owner").and_then(Value::as_str).map(|o| format!(", owner {o}")).unwrap_or_default();
        if created {
            format!("Created {} on {incident}{owner}.", text(t, "id"))
        } else {
            format!("{} is {}{owner}.", text(t, "id"), text(t, "state"))
        }
    })
}
