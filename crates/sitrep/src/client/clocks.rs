//! `sitrep determine` and `sitrep clocks`: determinations that start regulatory clocks, and each
//! clock's time left in words, as the command view and the SITREP show it.

use serde_json::{Value, json};
use sitrep_core::sitrep::duration_words;

use super::{Client, Outcome, incident_path, one_line, text};
use crate::cli::{DetermineArgs, ReleaseArgs, SubmitArgs};

pub(super) async fn determine(client: &Client, args: DetermineArgs) -> Outcome {
    let DetermineArgs { incident, determination, basis, aware_at } = args;
    let body = json!({ "determination": determination, "basis": basis, "aware_at": aware_at });
    let answer = client.post(&format!("{}/determinations", incident_path(&incident)), body).await?;
    client.say(&answer, |a| {
        let started: Vec<String> =
            clocks(a).filter(|c| c["determination"] == determination.as_str()).map(clock_line).collect();
        let head = format!("Recorded {} on {incident}", one_line(&determination));
        if started.is_empty() {
            format!("{head}; it starts no regulatory clock.")
        } else {
            format!("{head}; it starts:\n{}", started.join("\n"))
        }
    })
}

pub(super) async fn submit(client: &Client, args: SubmitArgs) -> Outcome {
    let SubmitArgs { incident, clock, statement, version, authority, channel, reference, sent_at } = args;
    let sent_at = sent_at.unwrap_or_else(|| sitrep_store::time::now().to_string());
    let body = json!({ "sent_at": sent_at, "authority": authority, "channel": channel, "reference": reference,
        "statement": statement, "version": version });
    let answer = client.post(&format!("{}/clocks/{clock}/submission", incident_path(&incident)), body).await?;
    client.say(&answer, |a| {
        let lines: Vec<String> = clocks(a).filter(|c| c["clock"] == clock.as_str()).map(clock_line).collect();
        format!("Recorded the notification for {clock} on {incident}:\n{}", lines.join("\n"))
    })
}

pub(super) async fn not_required(client: &Client, args: ReleaseArgs) -> Outcome {
    let ReleaseArgs { incident, name, basis } = args;
    let answer = client
        .post(&format!("{}/clocks/{name}/not-required", incident_path(&incident)), json!({ "basis": basis }))
        .await?;
    client.say(&answer, |a| {
        let lines: Vec<String> = clocks(a).filter(|c| c["clock"] == name.as_str()).map(clock_line).collect();
        format!("Recorded that {name} is not required on {incident}:\n{}", lines.join("\n"))
    })
}

pub(super) async fn withdraw(client: &Client, args: ReleaseArgs) -> Outcome {
    let ReleaseArgs { incident, name, basis } = args;
    let path = format!("{}/determinations/{name}/withdraw", incident_path(&incident));
    let answer = client.post(&path, json!({ "basis": basis })).await?;
    client.say(&answer, |a| {
        let lines: Vec<String> = clocks(a).filter(|c| c["determination"] == name.as_str()).map(clock_line).collect();
        format!("Withdrew {} on {incident}; its clocks:\n{}", one_line(&name), lines.join("\n"))
    })
}

pub(super) async fn list(client: &Client, incident: &str) -> Outcome {
    let answer = client.get(&format!("{}/clocks", incident_path(incident))).await?;
    client.say(&answer, |a| {
        let mut lines: Vec<String> = clocks(a).map(clock_line).collect();
        if lines.is_empty() {
            lines.push(format!("No regulatory clocks on {incident}."));
        }
        for d in a["determinations"].as_array().into_iter().flatten() {
            let aware = match text(d, "aware_at") {
                at if at.is_empty() => String::new(),
                at => format!(", aware since {at}"),
            };
            let withdrawn = match &d["withdrawn"] {
                w if w.is_object() => {
                    format!("; WITHDRAWN by {} at {}: {}", text(w, "by"), text(w, "at"), one_line(&text(w, "text")))
                }
                _ => String::new(),
            };
            lines.push(format!(
                "Determined {} by {} at {}{aware}: {}{withdrawn}",
                text(d, "determination"),
                text(d, "by"),
                text(d, "at"),
                one_line(&text(d, "basis"))
            ));
        }
        lines.join("\n")
    })
}

fn clocks(answer: &Value) -> impl Iterator<Item = &Value> {
    answer["clocks"].as_array().into_iter().flatten()
}

/// `gdpr_art33           2 d 4 h left        due 2026-11-30T03:10:00.000000Z  GDPR Art. 33: …`
fn clock_line(clock: &Value) -> String {
    let due = match clock["waiting_for"].as_str() {
        Some(first) if clock["deadline"].is_null() => format!("starts when {first} is submitted"),
        _ => format!("due {}", text(clock, "deadline")),
    };
    format!("{:<20} {:<22} {due}  {}", text(clock, "clock"), status_words(clock), one_line(&text(clock, "title")))
}

/// Where a clock stands, in the words of the command view: "2 d 4 h left", "MISSED 3 h 0 min
/// ago", "met: sent … to CNIL, reference …", "late: sent …", "not required: …".
pub(super) fn status_words(clock: &Value) -> String {
    let sent = &clock["submission"];
    let released = &clock["released"];
    match clock["seconds_left"].as_i64() {
        Some(left) if clock["running"] != false && left < 0 => format!("MISSED {} ago", duration_words(-left)),
        Some(left) if clock["running"] != false => format!("{} left", duration_words(left)),
        _ if sent.is_object() => format!(
            "{}: sent {} to {}, reference {}",
            if sent["met"] == true { "met" } else { "late" },
            text(sent, "sent_at"),
            one_line(&text(sent, "authority")),
            one_line(&text(sent, "reference"))
        ),
        _ if released.is_object() => {
            format!("{} by {}: {}", text(clock, "outcome"), text(released, "by"), one_line(&text(released, "basis")))
        }
        _ if clock["waiting_for"].is_string() => format!("waits for {}", text(clock, "waiting_for")),
        _ => text(clock, "outcome"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::status_words;

    #[test]
    fn clocks_in_words() {
        let running = |left: i64| json!({ "running": true, "seconds_left": left, "stopped": null });
        assert_eq!(status_words(&running(2 * 86_400 + 4 * 3600 + 59)), "2 d 4 h left");
        assert_eq!(status_words(&running(3 * 3600 + 600)), "3 h 10 min left");
        assert_eq!(status_words(&running(-3 * 3600 - 5)), "MISSED 3 h 0 min ago");
        let sent = |met: bool| {
            json!({ "running": false, "seconds_left": null, "outcome": if met { "met" } else { "late" },
                "submission": { "met": met, "sent_at": "2026-11-28T09:40:00Z", "authority": "CNIL", "reference": "R-1" } })
        };
        assert_eq!(status_words(&sent(true)), "met: sent 2026-11-28T09:40:00Z to CNIL, reference R-1");
        assert_eq!(status_words(&sent(false)), "late: sent 2026-11-28T09:40:00Z to CNIL, reference R-1");
        let released = json!({ "running": false, "seconds_left": null, "outcome": "not required",
            "released": { "by": "lee", "basis": "CSIRT said no" } });
        assert_eq!(status_words(&released), "not required by lee: CSIRT said no");
        let waiting =
            json!({ "running": false, "seconds_left": null, "outcome": "waiting", "waiting_for": "nis2_notification" });
        assert_eq!(status_words(&waiting), "waits for nis2_notification");
    }
}
