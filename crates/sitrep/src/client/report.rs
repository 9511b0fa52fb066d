//! `sitrep report` and `sitrep decisions`: the post-incident report the server generates from the
//! record (Markdown for people, JSON for scripts), and the decision register, one line per
//! decision or as the server's formula-safe CSV.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Client, Failure, Outcome, decision_words, incident_path, one_line, text};
use crate::cli::DecisionsArgs;
use crate::exit::Exit;

pub(super) async fn report(client: &Client, incident: &str, markdown: bool) -> Outcome {
    let path = format!("{}/report", incident_path(incident));
    if client.json && !markdown {
        let report = client.get(&path).await?;
        return client.say(&report, |_| String::new());
    }
    let text = client.get_text(&path, "text/markdown").await?;
    print_raw(&text)
}

pub(super) async fn decisions(client: &Client, args: DecisionsArgs) -> Outcome {
    let DecisionsArgs { incident, csv, output, force } = args;
    if !csv {
        let path = incident_path(&incident);
        let state = client.get(&path).await?;
        if !state["decisions"].is_array() {
            return Err(Failure {
                code: Exit::Unavailable,
                message: format!("the answer to {path} has no list of decisions; is this a sitrep server?"),
            });
        }
        let answer = json!({ "incident": state["id"], "decisions": state["decisions"] });
        let closed = state["phase"] == "closed";
        return client.say(&answer, |a| {
            let rows: Vec<String> = a["decisions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    format!(
                        "{:<5} {:<24} {}  {}",
                        text(d, "id"),
                        text(d, "class"),
                        one_line(&text(d, "title")),
                        if closed && d["state"] == "proposed" {
                            "left open at close".to_owned()
                        } else {
                            decision_words(d)
                        }
                    )
                })
                .collect();
            if rows.is_empty() { format!("No decisions on {incident}.") } else { rows.join("\n") }
        });
    }
    if client.json && output.is_none() {
        return Err(Failure::usage("--csv prints CSV; leave out --json, or write it to a file with -o FILE"));
    }
    if let Some(target) = &output
        && !force
        && std::fs::symlink_metadata(target).is_ok()
    {
        return Err(Failure::usage(format!(
            "{} exists; pass --force to overwrite it, or -o another file",
            target.display()
        )));
    }
    let body = client.get_text(&format!("{}/decisions.csv", incident_path(&incident)), "text/csv").await?;
    let Some(target) = output else { return print_raw(&body) };
    write_file(&target, body.as_bytes(), force)?;
    let answer = json!({ "incident": incident, "path": target.display().to_string(), "bytes": body.len() });
    client.say(&answer, |_| {
        format!("Wrote the decision register of {incident} to {} ({} bytes of CSV).", target.display(), body.len())
    })
}

/// Text from the server as it is (Markdown, CSV), ending with a newline.
pub(super) fn print_raw(text: &str) -> Outcome {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| if text.ends_with('\n') || text.is_empty() { Ok(()) } else { out.write_all(b"\n") });
    written.and_then(|()| out.flush()).map_err(|e| Failure::usage(format!("standard output: {e}")))?;
    Ok(Exit::Ok)
}

/// Writes a temporary file beside `target` and renames it into place, so that a failure leaves
/// no half-written file; an existing file is replaced only with `force`.
fn write_file(target: &Path, bytes: &[u8], force: bool) -> Result<(), Failure> {
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".sitrep-decisions-")
        .tempfile_in(&directory)
        .map_err(|e| Failure::usage(format!("cannot write in {}: {e}", directory.display())))?;
    let local = |e: std::io::Error| Failure::usage(format!("{}: {e}", target.display()));
    temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(local)?;
    let kept = if force { temp.persist(target) } else { temp.persist_noclobber(target) };
    kept.map_err(|e| Failure::usage(format!("{}: {}", target.display(), e.error)))?;
    Ok(())
}
