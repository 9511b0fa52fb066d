//! `sitrep export`: asks the server for a signed bundle, streams it into a temporary file beside
//! the target, verifies what was written exactly as `sitrep verify-bundle` would, and keeps it
//! only then.

use std::path::PathBuf;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sitrep_core::bundle::Options;
use tokio::io::AsyncWriteExt;

use super::evidence::progress;
use super::{Client, Failure, Outcome, failure, incident_path, one_line, root_cause};
use crate::cli::ExportArgs;
use crate::exit::Exit;

pub(super) async fn run(client: &Client, args: ExportArgs) -> Outcome {
    let purpose = args.purpose.as_deref().map(str::trim).unwrap_or_default();
    if args.blobs && purpose.is_empty() {
        return Err(Failure::usage(
            "--blobs needs --purpose WHY: each evidence file's export is recorded in its chain of custody",
        ));
    }
    let target = args.output;
    if !args.force && std::fs::symlink_metadata(&target).is_ok() {
        return Err(Failure::usage(format!(
            "{} exists; pass --force to overwrite it, or -o another file",
            target.display()
        )));
    }
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".sitrep-export-")
        .tempfile_in(&directory)
        .map_err(|e| Failure::usage(format!("cannot write in {}: {e}", directory.display())))?;
    let local = |e: std::io::Error| Failure::usage(format!("{}: {e}", temp.path().display()));

    let mut body = json!({ "blobs": args.blobs });
    if args.blobs {
        body["purpose"] = json!(purpose);
    }
    if !args.entries.is_empty() {
        body["entries"] = json!(args.entries);
    }
    if let Some(since) = args.since {
        body["since"] = json!(since);
    }
    let path = format!("{}/export", incident_path(&args.incident));
    let response = client.request(Method::POST, &path).json(&body).send().await.map_err(|e| client.unreachable(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failure(status, &response.text().await.unwrap_or_default()));
    }
    let expected = response.content_length();
    let bar = progress(client, expected.unwrap_or(0), "exporting");
    let mut file = tokio::fs::File::from_std(temp.as_file().try_clone().map_err(local)?);
    let mut received = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure {
            code: Exit::Unavailable,
            message: one_line(&format!(
                "the export was cut off after {received} bytes: {}; nothing was kept",
                root_cause(&e)
            )),
        })?;
        file.write_all(&chunk).await.map_err(local)?;
        received += chunk.len() as u64;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    file.flush().await.map_err(local)?;
    file.sync_all().await.map_err(local)?;
    drop(file);

    // What was written is checked as an auditor would check it, before it is kept.
    let written = temp.path().to_owned();
    let verdict =
        tokio::task::spawn_blocking(move || crate::bundle::verify_file(&written, &Options::default(), |_| {}))
            .await
            .map_err(|e| Failure::usage(e.to_string()))?
            .map_err(|e| Failure::usage(format!("{e:#}")))?;
    let verified = verdict.map_err(|broken| Failure {
        code: Exit::Unavailable,
        message: one_line(&format!("the bundle received does not verify ({broken}); nothing was kept")),
    })?;
    let kept = if args.force { temp.persist(&target) } else { temp.persist_noclobber(&target) };
    kept.map_err(|e| Failure::usage(format!("{}: {}", target.display(), e.error)))?;

    let mut answer = serde_json::to_value(&verified).unwrap_or(Value::Null);
    answer["path"] = json!(target.display().to_string());
    answer["bytes"] = json!(received);
    client.say(&answer, |_| {
        let what = if verified.excerpt {
            format!("{} of {} entries with inclusion proofs", verified.entries, verified.size)
        } else {
            format!("{} entries", verified.entries)
        };
        let files = match verified.blobs {
            0 => String::new(),
            1 => ", 1 evidence file".to_owned(),
            n => format!(", {n} evidence files"),
        };
        // The key to check with is the deployment's, from somewhere other than the bundle: the
        // key the bundle carries shows only that the bundle is intact, not whose it is.
        format!(
            "Exported {} to {}: {what}{files}, {received} bytes, signed at size {} by {}; it verifies. Check it \
             anywhere with `sitrep verify-bundle {} --key deployment.pub`, the deployment's public key from \
             its data directory (`sitrep init` prints it too), not the key the bundle carries.",
            verified.incident,
            target.display(),
            verified.size,
            verified.key_name,
            target.display(),
        )
    })
}

/// `sitrep checkpoint`: the signed checkpoint at the record's head, printed or written to a file.
pub(super) async fn checkpoint(client: &Client, incident: &str, output: Option<PathBuf>) -> Outcome {
    let path = format!("{}/checkpoint", incident_path(incident));
    let response = client
        .request(Method::GET, &path)
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| client.unreachable(&e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| client.unreachable(&e))?;
    if !status.is_success() {
        return Err(failure(status, &text));
    }
    let parsed = sitrep_core::checkpoint::parse(&text).map_err(|e| Failure {
        code: Exit::Unavailable,
        message: one_line(&format!("the server's answer is not a checkpoint: {e}")),
    })?;
    if let Some(target) = &output {
        std::fs::write(target, &text).map_err(|e| Failure::usage(format!("{}: {e}", target.display())))?;
    }
    let answer = json!({
        "incident": incident,
        "origin": parsed.checkpoint.origin,
        "size": parsed.checkpoint.size,
        "checkpoint": text,
        "path": output.as_ref().map(|p| p.display().to_string()),
    });
    client.say(&answer, |_| match &output {
        Some(target) => format!(
            "Saved the checkpoint of {incident} at size {} to {}; check later bundles against it with \
             `sitrep verify-bundle BUNDLE --checkpoint {}`.",
            parsed.checkpoint.size,
            target.display(),
            target.display()
        ),
        None => text.trim_end().to_owned(),
    })
}
