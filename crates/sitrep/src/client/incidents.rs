//! An incident's own state: listing, declaring, the SITREP, phase, severity, roles, command,
//! notes and when it happened.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, Failure, Outcome, incident_path, one_line, pairs, report, seq, text, urlencode};
use crate::cli::DeclareArgs;

/// `sitrep incidents`: one line per incident.
pub(super) async fn list(client: &Client, state: String, mine: bool) -> Outcome {
    let list = client.get(&format!("/api/v1/incidents?state={}&mine={mine}", urlencode(&state))).await?;
    client.say(&list, |list| {
        let rows: Vec<String> = list
            .get("incidents")
            .and_then(Value::as_array)
            .map(|all| {
                all.iter()
                    .map(|i| {
                        let waiting = i.get("waiting_on_you").and_then(Value::as_u64).unwrap_or(0);
                        format!(
                            "{:<7} {:<5} {:<14} {:>8}  {}{}{}{}",
                            text(i, "id"),
                            text(i, "severity"),
                            text(i, "phase"),
                            text(i, "age"),
                            text(i, "title"),
                            if i["restricted"] == true { " [restricted]" } else { "" },
                            if i["exercise"] == true { " [exercise]" } else { "" },
                            if waiting > 0 { format!(" — {waiting} waiting on you") } else { String::new() }
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if rows.is_empty() { "No incidents.".to_owned() } else { rows.join("\n") }
    })
}

/// `sitrep declare`.
pub(super) async fn declare(client: &Client, declare: DeclareArgs) -> Outcome {
    let mut roles = serde_json::Map::new();
    for pair in &declare.roles {
        let (role, user) =
            pair.split_once('=').ok_or_else(|| Failure::usage(format!("--role {pair}: write role=user")))?;
        roles.insert(role.to_owned(), json!(user));
    }
    let body = json!({
        "title": declare.title, "severity": declare.severity, "restricted": declare.restricted,
        "exercise": declare.exercise, "scope": declare.scope, "roles": roles,
        "playbook": declare.playbook, "inputs": pairs("--input", &declare.inputs)?,
    });
    let state = client.post("/api/v1/incidents", body).await?;
    client.say(&state, |s| {
        let commander = s["roles"]["commander"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
        format!(
            "Declared {}: {} ({}). Commander: {}.",
            text(s, "id"),
            text(s, "title"),
            text(s, "severity"),
            commander.unwrap_or_default()
        )
    })
}

/// `sitrep show`: the SITREP as Markdown, or JSON with `--json`.
pub(super) async fn show(client: &Client, incident: String) -> Outcome {
    let path = format!("{}/sitrep", incident_path(&incident));
    if client.json {
        let report = client.get(&path).await?;
        return client.say(&report, |_| String::new());
    }
    let markdown = client.get_text(&path, "text/markdown").await?;
    report::print_raw(&markdown)
}

/// `sitrep status INC-n`: the phase in one line.
pub(super) async fn status(client: &Client, incident: String) -> Outcome {
    let state = client.get(&incident_path(&incident)).await?;
    client.say(&state, |s| {
        let pending = if s["phase"] == "closed" {
            0
        } else {
            s["decisions"].as_array().map_or(0, |d| d.iter().filter(|d| d["state"] == "proposed").count())
        };
        let blockers =
            s["blockers"].as_array().map(|b| b.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
        format!(
            "{} {}: {} · phase {} · {} decision(s) waiting{}",
            text(s, "id"),
            text(s, "title"),
            text(s, "severity"),
            text(s, "phase"),
            pending,
            blockers.filter(|b| !b.is_empty()).map(|b| format!(" · unfilled: {b}")).unwrap_or_default()
        )
    })
}

/// `sitrep status INC-n PHASE`.
pub(super) async fn set_phase(client: &Client, incident: String, phase: String) -> Outcome {
    let state = client.post(&format!("{}/phase", incident_path(&incident)), json!({ "phase": phase })).await?;
    client.say(&state, |s| format!("{} is now in {}.", text(s, "id"), text(s, "phase")))
}

/// `sitrep severity`.
pub(super) async fn severity(client: &Client, incident: String, severity: String, reason: Option<String>) -> Outcome {
    let state = client
        .post(&format!("{}/severity", incident_path(&incident)), json!({ "severity": severity, "reason": reason }))
        .await?;
    client.say(&state, |s| format!("{} is now {}.", text(s, "id"), text(s, "severity")))
}

/// `sitrep assign`, or with `--release` take the role away.
pub(super) async fn assign(
    client: &Client,
    incident: String,
    role: String,
    user: String,
    release: bool,
    unit: Option<String>,
) -> Outcome {
    let state = if release {
        let mut path = format!("{}/roles/{}/{}", incident_path(&incident), urlencode(&role), urlencode(&user));
        if let Some(unit) = &unit {
            path.push_str(&format!("?unit={}", urlencode(unit)));
        }
        client.send(client.request(Method::DELETE, &path)).await?
    } else {
        let body = json!({ "role": role, "user": user, "unit": unit });
        client.post(&format!("{}/roles", incident_path(&incident)), body).await?
    };
    let place = unit.as_deref().map(|u| format!(" in {}", one_line(u))).unwrap_or_default();
    client.say(&state, |s| {
        if release {
            format!("{user} no longer holds {role}{place} on {}.", text(s, "id"))
        } else {
            format!("{user} holds {role}{place} on {}.", text(s, "id"))
        }
    })
}

/// `sitrep handover`.
pub(super) async fn handover(client: &Client, incident: String, user: String, reason: String) -> Outcome {
    let body = json!({ "to": user, "reason": reason });
    let state = client.post(&format!("{}/handover", incident_path(&incident)), body).await?;
    client.say(&state, |s| {
        let from = s["handovers"].as_array().and_then(|h| h.last()).map(|h| text(h, "from")).unwrap_or_default();
        format!("{} now commands {} (handed over by {from}).", text(s, "commander"), text(s, "id"))
    })
}

/// `sitrep note`.
pub(super) async fn note(
    client: &Client,
    incident: String,
    note: String,
    occurred_at: Option<String>,
    backfill_reason: Option<String>,
) -> Outcome {
    let body = json!({ "text": note, "occurred_at": occurred_at, "backfill_reason": backfill_reason });
    let answer = client.post(&format!("{}/notes", incident_path(&incident)), body).await?;
    client.say(&answer, |n| format!("Noted on {incident}{}.", seq(n)))
}

/// `sitrep occurrence`: record the times, or without any, show them.
pub(super) async fn occurrence(
    client: &Client,
    incident: String,
    started: Option<String>,
    first_seen: Option<String>,
    detected: Option<String>,
    backfill_reason: Option<String>,
) -> Outcome {
    let state = if started.is_none() && first_seen.is_none() && detected.is_none() && backfill_reason.is_none() {
        client.get(&incident_path(&incident)).await?
    } else {
        let body = json!({
            "started_at": started, "first_seen_at": first_seen, "detected_at": detected,
            "backfill_reason": backfill_reason,
        });
        client.post(&format!("{}/occurrence", incident_path(&incident)), body).await?
    };
    client.say(&state, |s| {
        let o = &s["occurrence"];
        let times: Vec<String> =
            [("started", "started_at"), ("first seen", "first_seen_at"), ("detected", "detected_at")]
                .into_iter()
                .filter_map(|(what, key)| o[key].as_str().map(|at| format!("{what} {at}")))
                .collect();
        let times = if times.is_empty() { "no occurrence times recorded".to_owned() } else { times.join(", ") };
        format!("{}: {times}; declared {}.", text(s, "id"), text(s, "declared_at"))
    })
}
