//! `sitrep determine` and `sitrep clocks`: determinations that start regulatory clocks, and each
//! clock's time left in words, as the command view and the SITREP show it.

use serde_json::{Value, json};
use sitrep_core::report::duration_words;

use super::{Client, Outcome, incident_path, one_line, text};
use crate::cli::DetermineArgs;

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
            lines.push(format!(
                "Determined {} by {} at {}{aware}: {}",
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
    format!(
        "{:<20} {:<22} due {}  {}",
        text(clock, "clock"),
        status_words(clock),
        text(clock, "deadline"),
        one_line(&text(clock, "title"))
    )
}

/// Where a clock stands, in the words of the command view: "2 d 4 h left", "MISSED 3 h 0 min
/// ago", "met by D-4", "late, stopped by D-4".
pub(super) fn status_words(clock: &Value) -> String {
    let stopped = &clock["stopped"];
    match clock["seconds_left"].as_i64() {
        Some(left) if clock["running"] != false && left < 0 => format!("MISSED {} ago", duration_words(-left)),
        Some(left) if clock["running"] != false => format!("{} left", duration_words(left)),
        _ if stopped.is_object() && stopped["met"] == true => format!("met by {}", text(stopped, "decision")),
        _ if stopped.is_object() => format!("late, stopped by {}", text(stopped, "decision")),
        _ => "stopped".to_owned(),
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
        let stopped =
            |met: bool| json!({ "running": false, "seconds_left": null, "stopped": { "decision": "D-4", "met": met } });
        assert_eq!(status_words(&stopped(true)), "met by D-4");
        assert_eq!(status_words(&stopped(false)), "late, stopped by D-4");
    }
}
