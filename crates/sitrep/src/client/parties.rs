//! `sitrep party` and `sitrep share`: the third-party registry, engaging a party on an incident,
//! and the share links approved evidence-sharing decisions create.

use serde_json::{Map, Value, json};

use super::{Client, Failure, Outcome, incident_path, one_line, text, urlencode};
use crate::cli::{PartyCommand, PartyDetails, ShareCommand};
use crate::exit::Exit;

pub(super) async fn party(client: &Client, command: PartyCommand) -> Outcome {
    match command {
        PartyCommand::Add(add) => {
            let mut body = json!({ "party": add.party, "name": add.name, "kind": add.kind });
            apply_details(&mut body, add.details, false, false)?;
            let party = client.post("/api/v1/parties", body).await?;
            client.say(&party, |p| {
                format!("Registered {}: {} ({}).", text(p, "party"), one_line(&text(p, "name")), text(p, "kind"))
            })
        }
        PartyCommand::Update(update) => {
            // The API replaces the whole entry: start from the one in force and change what was given.
            let registry = client.get("/api/v1/parties").await?;
            let current = registry["parties"]
                .as_array()
                .and_then(|all| all.iter().find(|p| p["party"] == update.party.as_str()))
                .ok_or_else(|| Failure {
                    code: Exit::NotFound,
                    message: format!(
                        "there is no party {}; `sitrep party list` shows the registry",
                        one_line(&update.party)
                    ),
                })?;
            let mut body = json!({});
            for key in ["name", "kind", "contacts", "operates", "authority", "sharing_rule"] {
                if let Some(value) = current.get(key) {
                    body[key] = value.clone();
                }
            }
            if let Some(name) = update.name {
                body["name"] = json!(name);
            }
            if let Some(kind) = update.kind {
                body["kind"] = json!(kind);
            }
            apply_details(&mut body, update.details, update.no_contacts, update.no_authority)?;
            let party = client.put(&format!("/api/v1/parties/{}", urlencode(&update.party)), body).await?;
            client.say(&party, |p| format!("Updated {}.", text(p, "party")))
        }
        PartyCommand::List => {
            let registry = client.get("/api/v1/parties").await?;
            client.say(&registry, |registry| {
                let parties = registry["parties"].as_array().cloned().unwrap_or_default();
                if parties.is_empty() {
                    return "No third parties are registered.".to_owned();
                }
                parties.iter().map(party_lines).collect::<Vec<_>>().join("\n")
            })
        }
        PartyCommand::Engage { incident, party, reason } => {
            let path = format!("{}/parties", incident_path(&incident));
            let answer = client.post(&path, json!({ "party": party, "reason": reason })).await?;
            client.say(&answer, |answer| {
                let engaged = answer["parties"].as_array().and_then(|all| all.iter().find(|p| p["party"] == party));
                let name = engaged.map(|p| one_line(&text(&p["registry"], "name"))).filter(|n| !n.is_empty());
                let mut lines = vec![format!(
                    "Engaged {party}{} on {incident}.",
                    name.map(|n| format!(" ({n})")).unwrap_or_default()
                )];
                if let Some(registry) = engaged.map(|p| &p["registry"]) {
                    lines.extend(registry["contacts"].as_array().into_iter().flatten().map(contact_line));
                    lines.extend(
                        registry["authority"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(|a| format!("    authority: {}", one_line(a))),
                    );
                }
                lines.join("\n")
            })
        }
    }
}

/// Sets the optional fields from the flags: contacts and authority lines replace the current
/// ones when any are given; an empty `--operates ""` or `--sharing-rule ""` removes the field.
fn apply_details(
    body: &mut Value,
    details: PartyDetails,
    no_contacts: bool,
    no_authority: bool,
) -> Result<(), Failure> {
    let Some(object) = body.as_object_mut() else { return Ok(()) };
    if !details.contacts.is_empty() || no_contacts {
        let contacts = details.contacts.iter().map(|c| parse_contact(c)).collect::<Result<Vec<_>, _>>()?;
        object.insert("contacts".into(), Value::Array(contacts));
    }
    if !details.authority.is_empty() || no_authority {
        let lines: Vec<&str> = details.authority.iter().map(|a| a.trim()).filter(|a| !a.is_empty()).collect();
        object.insert("authority".into(), json!(lines));
    }
    for (key, value) in [("operates", details.operates), ("sharing_rule", details.sharing_rule)] {
        match value.map(|v| v.trim().to_owned()) {
            Some(v) if v.is_empty() => {
                object.remove(key);
            }
            Some(v) => {
                object.insert(key.into(), json!(v));
            }
            None => {}
        }
    }
    Ok(())
}

/// Cuts the first `open … close` out of `rest`: its trimmed inside.
fn cut(rest: &mut String, open: char, close: char, flag: &str) -> Result<Option<String>, Failure> {
    let Some(start) = rest.find(open) else { return Ok(None) };
    let end = rest[start..]
        .find(close)
        .map(|offset| start + offset)
        .ok_or_else(|| Failure::usage(format!("--contact {flag}: '{open}' without '{close}'")))?;
    let inside = rest[start + open.len_utf8()..end].trim().to_owned();
    rest.replace_range(start..end + close.len_utf8(), " ");
    Ok(Some(inside).filter(|s| !s.is_empty()))
}

/// `NAME [(ROLE)] [<EMAIL>] [PHONE]`, or a JSON object, as the API's contact object. The phone
/// number is everything from the first word that starts with `+` or a digit.
pub(super) fn parse_contact(given: &str) -> Result<Value, Failure> {
    let trimmed = given.trim();
    if trimmed.starts_with('{') {
        let contact: Map<String, Value> = serde_json::from_str(trimmed)
            .map_err(|e| Failure::usage(format!("--contact {trimmed}: not a JSON object: {e}")))?;
        return Ok(Value::Object(contact));
    }
    let mut rest = trimmed.to_owned();
    let email = cut(&mut rest, '<', '>', trimmed)?;
    let role = cut(&mut rest, '(', ')', trimmed)?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let split = words
        .iter()
        .position(|w| w.starts_with('+') || w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(words.len());
    let name = words[..split].join(" ");
    let phone = Some(words[split..].join(" ")).filter(|p| !p.is_empty());
    if name.is_empty() {
        return Err(Failure::usage(format!(
            "--contact {trimmed}: start with a name, e.g. \"Dana Reyes (account manager) <dana@acme.example> +44 20 7946 0000\""
        )));
    }
    let mut contact = Map::new();
    contact.insert("name".into(), json!(name));
    for (key, value) in [("role", role), ("email", email), ("phone", phone)] {
        if let Some(value) = value {
            contact.insert(key.into(), json!(value));
        }
    }
    Ok(Value::Object(contact))
}

/// `    contact: Dana Reyes (account manager) <dana@acme.example> +44 20 7946 0000`
fn contact_line(contact: &Value) -> String {
    let mut line = format!("    contact: {}", one_line(&text(contact, "name")));
    for (key, open, close) in [("role", " (", ")"), ("email", " <", ">"), ("phone", " ", "")] {
        let value = text(contact, key);
        if !value.is_empty() {
            line.push_str(&format!("{open}{}{close}", one_line(&value)));
        }
    }
    line
}

fn party_lines(party: &Value) -> String {
    let mut lines =
        vec![format!("{:<20} {} ({})", text(party, "party"), one_line(&text(party, "name")), text(party, "kind"))];
    if !text(party, "operates").is_empty() {
        lines.push(format!("    operates: {}", one_line(&text(party, "operates"))));
    }
    lines.extend(party["contacts"].as_array().into_iter().flatten().map(contact_line));
    lines.extend(
        party["authority"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|a| format!("    authority: {}", one_line(a))),
    );
    if !text(party, "sharing_rule").is_empty() {
        lines.push(format!("    sharing rule: {}", one_line(&text(party, "sharing_rule"))));
    }
    lines.join("\n")
}

pub(super) async fn share(client: &Client, command: ShareCommand) -> Outcome {
    match command {
        ShareCommand::List { incident } => {
            let state = client.get(&incident_path(&incident)).await?;
            let shares = json!({ "shares": state.get("shares").cloned().unwrap_or_else(|| json!([])) });
            client.say(&shares, |shares| {
                let all = shares["shares"].as_array().cloned().unwrap_or_default();
                if all.is_empty() {
                    return format!("No share links on {incident}.");
                }
                all.iter().map(share_lines).collect::<Vec<_>>().join("\n")
            })
        }
        ShareCommand::Revoke { incident, share, reason } => {
            let path = format!("{}/shares/{}/revoke", incident_path(&incident), urlencode(&share));
            let answer = client.post(&path, json!({ "reason": reason })).await?;
            client.say(&answer, |_| format!("Revoked {share} on {incident}; its link no longer works."))
        }
    }
}

/// `SH-1  acme-msp  live  expires …  2 uses  D-4`, then the items, the revocation and the link.
fn share_lines(share: &Value) -> String {
    let state = if share["live"] == true {
        "live"
    } else if share["revoked"].is_object() {
        "revoked"
    } else {
        "expired"
    };
    let uses = share["uses"].as_u64().unwrap_or(0);
    let mut lines = vec![format!(
        "{:<6} {:<20} {:<8} expires {}  {uses} use{}  by {}",
        text(share, "id"),
        one_line(&text(share, "party")),
        state,
        text(share, "expires_at"),
        if uses == 1 { "" } else { "s" },
        text(share, "decision"),
    )];
    let items: Vec<&str> = share["items"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    lines.push(format!("    items: {}", items.join(", ")));
    if let Some(revoked) = share["revoked"].as_object() {
        let revoked = Value::Object(revoked.clone());
        lines.push(format!(
            "    revoked by {} at {}{}",
            text(&revoked, "by"),
            text(&revoked, "at"),
            Some(one_line(&text(&revoked, "text")))
                .filter(|t| !t.is_empty())
                .map(|t| format!(": {t}"))
                .unwrap_or_default()
        ));
    }
    if !text(share, "url").is_empty() {
        lines.push(format!("    url: {}", one_line(&text(share, "url"))));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_written_as_people_write_them() {
        let full = parse_contact("Dana Reyes (account manager) <dana@acme.example> +44 20 7946 0000").expect("parses");
        assert_eq!(
            full,
            json!({"name": "Dana Reyes", "role": "account manager", "email": "dana@acme.example", "phone": "+44 20 7946 0000"})
        );
        assert_eq!(
            parse_contact("SOC desk <soc@acme.example>").expect("parses"),
            json!({"name": "SOC desk", "email": "soc@acme.example"})
        );
        assert_eq!(
            parse_contact("Night line 020 7946 0001").expect("parses"),
            json!({"name": "Night line", "phone": "020 7946 0001"})
        );
        assert_eq!(parse_contact("  Pat  ").expect("parses"), json!({"name": "Pat"}));
        assert_eq!(
            parse_contact(r#"{"name": "Lee", "phone": "+1 555 0100"}"#).expect("parses"),
            json!({"name": "Lee", "phone": "+1 555 0100"})
        );
        assert!(parse_contact("<nobody@acme.example>").is_err(), "a contact has a name");
        assert!(parse_contact("Dana <dana@acme.example").is_err(), "an unclosed bracket is named");
    }
}
