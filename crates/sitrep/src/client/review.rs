//! `sitrep review` and `sitrep control-changes`: lessons, the control changes they become (owner,
//! due date, NIST CSF 2.0 reference), completing the review that closing needs, and the
//! organisation-wide list of control changes that outlives the incidents.

use serde_json::{Value, json};

use super::{Client, Failure, Outcome, incident_path, one_line, text, urlencode};
use crate::cli::{ReviewArgs, ReviewCommand};

pub(super) async fn run(client: &Client, args: ReviewArgs) -> Outcome {
    let command = match (args.command, args.incident) {
        (Some(command), _) => command,
        (None, Some(incident)) => ReviewCommand::Show { incident },
        (None, None) => return Err(Failure::usage("name the incident: `sitrep review INC-n`")),
    };
    match command {
        ReviewCommand::Show { incident } => {
            let review = client.get(&format!("{}/review", incident_path(&incident))).await?;
            client.say(&review, |r| review_lines(&incident, r))
        }
        ReviewCommand::Lesson { incident, what, why, change } => {
            let body = json!({ "what_happened": what, "why": why, "change": change });
            let path = format!("{}/review/lessons", incident_path(&incident));
            let lesson = client.post(&path, body).await?;
            client.say(&lesson, |l| {
                let id = text(l, "id");
                format!(
                    "Recorded {id} on {incident}; turn it into a control change with `sitrep review change {incident} \
                     {id} --title … --owner USER --due DATE --csf PR.AA-05`."
                )
            })
        }
        ReviewCommand::Change { incident, lesson, title, owner, due, csf } => {
            let due = due_time(&due)?;
            let body = json!({ "lesson": lesson, "title": title, "owner": owner, "due": due, "csf": csf });
            let path = format!("{}/review/control-changes", incident_path(&incident));
            let change = client.post(&path, body).await?;
            client.say(&change, |c| {
                format!(
                    "Planned {} on {incident} for {}: owner {}, due {}, CSF {}.",
                    text(c, "id"),
                    text(c, "lesson"),
                    text(c, "owner"),
                    text(c, "due"),
                    one_line(&text(c, "csf"))
                )
            })
        }
        ReviewCommand::Done { incident, change, note } => {
            let path = format!("{}/review/control-changes/{}/done", incident_path(&incident), urlencode(&change));
            let answer = client.post(&path, json!({ "note": note })).await?;
            client.say(&answer, |c| format!("{} on {incident} is {}.", text(c, "id"), text(c, "state")))
        }
        ReviewCommand::Cancel { incident, change, note } => {
            let path = format!("{}/review/control-changes/{}/cancel", incident_path(&incident), urlencode(&change));
            let answer = client.post(&path, json!({ "note": note })).await?;
            client.say(&answer, |c| format!("{} on {incident} is {}.", text(c, "id"), text(c, "state")))
        }
        ReviewCommand::Complete { incident, summary } => {
            let path = format!("{}/review/complete", incident_path(&incident));
            let review = client.post(&path, json!({ "summary": summary })).await?;
            client.say(&review, |r| {
                format!(
                    "The review of {incident} is complete: {} lesson(s), {} control change(s).",
                    r["lessons"].as_array().map_or(0, Vec::len),
                    r["control_changes"].as_array().map_or(0, Vec::len)
                )
            })
        }
    }
}

pub(super) async fn control_changes(client: &Client, state: &str) -> Outcome {
    let answer = client.get(&format!("/api/v1/control-changes?state={}", urlencode(state))).await?;
    client.say(&answer, |a| {
        let rows: Vec<String> = a["control_changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{:<7} {:<5} {:<9} due {}  {:<12} {:<9} {}{}  ({})",
                    text(c, "incident"),
                    text(c, "id"),
                    text(c, "state"),
                    text(c, "due"),
                    text(c, "owner"),
                    one_line(&text(c, "csf")),
                    one_line(&text(c, "title")),
                    if c["overdue"] == true { " OVERDUE" } else { "" },
                    one_line(&text(c, "incident_title"))
                )
            })
            .collect();
        if rows.is_empty() {
            let which = if state == "all" { String::new() } else { format!("{state} ") };
            format!("No {which}control changes.")
        } else {
            rows.join("\n")
        }
    })
}

/// The review, lesson by lesson, each with its control changes.
fn review_lines(incident: &str, review: &Value) -> String {
    let changes: Vec<&Value> = review["control_changes"].as_array().into_iter().flatten().collect();
    let lessons: Vec<&Value> = review["lessons"].as_array().into_iter().flatten().collect();
    let completed = &review["completed"];
    let mut lines = vec![if completed.is_object() {
        format!(
            "The review of {incident} was completed by {} at {}: {}",
            text(completed, "by"),
            text(completed, "at"),
            one_line(&text(completed, "summary"))
        )
    } else {
        let unconverted: Vec<String> = lessons
            .iter()
            .map(|l| text(l, "id"))
            .filter(|id| !changes.iter().any(|c| text(c, "lesson") == *id))
            .collect();
        match (lessons.len(), unconverted.is_empty()) {
            (0, _) => format!("The review of {incident} is not complete: no lessons yet."),
            (_, true) => format!("The review of {incident} is not complete; every lesson has a control change."),
            (_, false) => format!(
                "The review of {incident} is not complete: {} {} no control change yet.",
                unconverted.join(", "),
                if unconverted.len() == 1 { "has" } else { "have" }
            ),
        }
    }];
    let now = sitrep_store::time::now().as_jiff();
    for lesson in lessons {
        let id = text(lesson, "id");
        lines.push(format!(
            "{id:<5} {} (by {} at {})",
            one_line(&text(lesson, "what_happened")),
            text(lesson, "by"),
            text(lesson, "at")
        ));
        lines.push(format!("      why: {}", one_line(&text(lesson, "why"))));
        lines.push(format!("      we change: {}", one_line(&text(lesson, "change"))));
        for change in changes.iter().filter(|c| text(c, "lesson") == id) {
            let state = text(change, "state");
            let overdue = state == "open" && text(change, "due").parse::<jiff::Timestamp>().is_ok_and(|due| due < now);
            let closed = &change["closed"];
            let note = match text(closed, "text") {
                note if note.is_empty() => String::new(),
                note => format!(": {}", one_line(&note)),
            };
            let closed = if closed.is_object() {
                format!(" (by {} at {}{note})", text(closed, "by"), text(closed, "at"))
            } else {
                String::new()
            };
            lines.push(format!(
                "      {} {} — owner {}, due {}, CSF {}, {state}{}{closed}",
                text(change, "id"),
                one_line(&text(change, "title")),
                text(change, "owner"),
                text(change, "due"),
                one_line(&text(change, "csf")),
                if overdue { " OVERDUE" } else { "" },
            ));
        }
    }
    lines.join("\n")
}

/// A due date as the record spells times (`2027-01-31T17:00:00.000000Z`), from what people type:
/// a date (`2027-01-31`: the end of that day, 23:59:59 UTC) or a time with its zone
/// (`2027-01-31T17:00Z`, `2027-01-31 17:00:00+01:00`).
pub(super) fn due_time(given: &str) -> Result<String, Failure> {
    let given = given.trim();
    let at = match given.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => match given.parse::<jiff::civil::Date>() {
            Ok(date) if given.len() == 10 => date
                .at(23, 59, 59, 0)
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map(|zoned| zoned.timestamp())
                .map_err(|e| Failure::usage(format!("--due {given}: {e}")))?,
            _ => {
                return Err(Failure::usage(format!(
                    "--due {}: not a date like 2027-01-31 or a time with its zone like 2027-01-31T17:00Z",
                    one_line(given)
                )));
            }
        },
    };
    Ok(sitrep_core::Timestamp::from_jiff(at).to_string())
}

#[cfg(test)]
mod tests {
    use super::due_time;

    #[test]
    fn due_dates_in_the_records_spelling() {
        for (given, expected) in [
            ("2027-01-31", "2027-01-31T23:59:59.000000Z"),
            ("2027-01-31T17:00Z", "2027-01-31T17:00:00.000000Z"),
            ("2027-01-31T17:00:00Z", "2027-01-31T17:00:00.000000Z"),
            ("2027-01-31 17:00:00+01:00", "2027-01-31T16:00:00.000000Z"),
            ("2027-01-31T17:00:00.000000Z", "2027-01-31T17:00:00.000000Z"),
            (" 2027-01-31T17:00:00.1234567Z ", "2027-01-31T17:00:00.123456Z"),
        ] {
            assert_eq!(due_time(given).map_err(|f| f.message), Ok(expected.to_owned()), "{given}");
        }
        for wrong in
            ["2027-01-31T17:00", "31/01/2027", "tomorrow", "2027-02-30", "", "2027-01-31T17:00:00[Europe/Paris]x"]
        {
            assert!(due_time(wrong).is_err(), "{wrong} was accepted");
        }
    }
}
