//! The record itself: printed entry by entry, or followed live.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::{Client, Failure, Outcome, failure, incident_path, one_line, root_cause, text, unreadable};
use crate::exit::Exit;

/// `sitrep record`: every entry from `from` on, page by page.
pub(super) async fn print(client: &Client, incident: String, from: u64) -> Outcome {
    let mut next = Some(from);
    while let Some(from) = next {
        let page = client.get(&format!("{}/record?from={from}", incident_path(&incident))).await?;
        for entry in page["entries"].as_array().into_iter().flatten() {
            if client.json {
                println!("{entry}");
            } else {
                println!("{}", entry_line(entry));
            }
        }
        next = page["next"].as_u64();
    }
    Ok(Exit::Ok)
}

/// `seq 12  2026-11-27T17:00:13.809082Z  tom  fact.logged  {"fact":"F-3",...}`
fn entry_line(entry: &Value) -> String {
    format!(
        "seq {:<5} {}  {:<10} {:<26} {}",
        text(entry, "seq"),
        text(entry, "at"),
        text(entry, "actor"),
        text(entry, "kind"),
        entry["body"]
    )
}

/// Streams live entries, reconnecting with `Last-Event-ID` after a dropped connection so that
/// nothing is missed or printed twice.
pub(super) async fn watch(client: &Client, incident: &str, after: Option<u64>) -> Outcome {
    let mut last = after;
    let mut failures = 0;
    let mut connected = false;
    loop {
        let mut request = client
            .request(Method::GET, &format!("{}/events", incident_path(incident)))
            .header("accept", "text/event-stream");
        if let Some(seq) = last {
            request = request.header("last-event-id", seq.to_string());
        }
        let response = match request.send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => {
                let status = response.status();
                return Err(failure(status, &response.text().await.unwrap_or_default()));
            }
            Err(error) => {
                failures += 1;
                if !connected || failures > 5 {
                    return Err(Failure {
                        code: Exit::Unavailable,
                        message: one_line(&format!("cannot reach {}: {}", client.base, root_cause(&error))),
                    });
                }
                eprintln!(
                    "sitrep: lost the connection; reconnecting after seq {} (attempt {failures})",
                    last.unwrap_or(0)
                );
                tokio::time::sleep(Duration::from_secs(1 << failures.min(4))).await;
                continue;
            }
        };
        connected = true;
        failures = 0;
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut data = String::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                } else if let Some(id) = line.strip_prefix("id:") {
                    last = id.trim().parse().ok().or(last);
                } else if line.is_empty() && !data.is_empty() {
                    let entry: Value = serde_json::from_str(&data).map_err(|error| {
                        let which = last.map_or_else(|| "an event".to_owned(), |seq| format!("event {seq}"));
                        unreadable(&format!("{which} of {incident}"), &error)
                    })?;
                    if client.json {
                        println!("{entry}");
                    } else {
                        println!("{}", entry_line(&entry));
                    }
                    let _ = std::io::stdout().flush();
                    data.clear();
                }
            }
        }
    }
}
