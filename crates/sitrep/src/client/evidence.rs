//! `sitrep evidence`: streamed uploads with a progress bar, the listing with each item's chain
//! of custody, and downloads that are kept only once what was written hashes to its name.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Client, Failure, Outcome, failure, incident_path, one_line, root_cause, text, urlencode};
use crate::cli::{EvidenceAddArgs, EvidenceCommand};
use crate::exit::Exit;

/// Bytes read from the file per chunk sent.
const CHUNK: usize = 256 * 1024;

pub(super) async fn run(client: &Client, command: EvidenceCommand) -> Outcome {
    match command {
        EvidenceCommand::Add(add) => add_file(client, add).await,
        EvidenceCommand::List { incident } => list(client, &incident).await,
        EvidenceCommand::Get { incident, sha256, purpose, output, force } => {
            download(client, &incident, &sha256, &purpose, output, force).await
        }
    }
}

/// A byte-counting progress bar on stderr, when a person is watching (a terminal, no `--json`).
pub(super) fn progress(client: &Client, length: u64, verb: &str) -> ProgressBar {
    if client.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    let template = format!("{verb} {{bar:40}} {{bytes}}/{{total_bytes}} ({{bytes_per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The media type to declare, from the extension; the server sniffs the content regardless.
fn guess_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "json" => "application/json",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "pcap" | "pcapng" => "application/vnd.tcpdump.pcap",
        "eml" => "message/rfc822",
        _ => "application/octet-stream",
    }
}

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |error| Failure::usage(format!("{}: {error}", path.display()))
}

/// `sitrep evidence add`: streams the file in a multipart form, hashing what it sends, and
/// checks that the server registered the same SHA-256.
async fn add_file(client: &Client, add: EvidenceAddArgs) -> Outcome {
    let path = add.file.as_path();
    let file = tokio::fs::File::open(path).await.map_err(local(path))?;
    let metadata = file.metadata().await.map_err(local(path))?;
    if !metadata.is_file() {
        return Err(Failure::usage(format!("{}: not a regular file", path.display())));
    }
    let length = metadata.len();
    let name = match add.name {
        Some(name) => name,
        None => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Failure::usage(format!("{}: the path names no file; pass --name", path.display())))?,
    };
    // Checked here so that a typo does not cost the whole upload before the server says so.
    if let Some(at) = &add.collected_at
        && at.trim().parse::<jiff::Timestamp>().is_err()
    {
        return Err(Failure::usage(format!(
            "--collected-at {at}: not a time like 2026-11-27T03:10:00Z (RFC 3339, with a zone)"
        )));
    }
    let media = add.content_type.unwrap_or_else(|| guess_type(&name).to_owned());

    let bar = progress(client, length, "uploading");
    let sent = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let (counted, shown) = (sent.clone(), bar.clone());
    // At most the length announced: a file that grows meanwhile is sent as it was.
    let chunks = tokio_util::io::ReaderStream::with_capacity(file.take(length), CHUNK).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            if let Ok(mut sent) = counted.lock() {
                sent.0.update(bytes);
                sent.1 += bytes.len() as u64;
            }
            shown.inc(bytes.len() as u64);
        }
        chunk
    });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(chunks), length)
        .file_name(name.clone())
        .mime_str(&media)
        .map_err(|e| Failure::usage(format!("--content-type {media}: {e}")))?;
    let mut form = Form::new();
    for (field, value) in
        [("source", add.source), ("collected_by", add.collected_by), ("collected_at", add.collected_at)]
    {
        if let Some(value) = value {
            form = form.text(field, value);
        }
    }
    let form = form.part("file", part);
    let path = format!("{}/evidence", incident_path(&add.incident));
    let request = client
        .request(Method::POST, &path)
        .multipart(form)
        .build()
        .map_err(|e| Failure::usage(format!("cannot make the upload request: {}", root_cause(&e))))?;
    let announced = (request.headers().get(CONTENT_TYPE).cloned(), request.headers().get(CONTENT_LENGTH).cloned());
    let response = client.http.execute(request).await;
    bar.finish_and_clear();
    let sent_so_far = || sent.lock().map(|sent| sent.1).unwrap_or_default();
    let item = match response {
        Ok(response) => client.answer(response).await?,
        Err(error) => {
            if let (Some(content_type), Some(content_length)) = announced
                && let Some(refusal) = refusal_by_length(client, &path, content_type, content_length).await
            {
                return Err(refusal);
            }
            return Err(Failure {
                code: Exit::Unavailable,
                message: one_line(&format!(
                    "the upload to {} broke off after {} of {length} bytes: {}; `sitrep evidence list {}` shows \
                     whether it was registered",
                    client.base,
                    sent_so_far(),
                    root_cause(&error),
                    add.incident
                )),
            });
        }
    };

    let (hasher, sent_bytes) = sent.lock().map(|sent| sent.clone()).unwrap_or_default();
    let ours = hex::encode(hasher.finalize());
    let theirs = text(&item, "sha256");
    if sent_bytes != length || ours != theirs {
        return Err(Failure {
            code: Exit::Unavailable,
            message: one_line(&format!(
                "the server registered sha256 {theirs}, but the {sent_bytes} bytes sent hash to {ours}; \
                 check the file and the path to the server"
            )),
        });
    }
    client.say(&item, |item| {
        format!(
            "Added {} to {}: {} bytes, sha256 {}.",
            one_line(&text(item, "name")),
            add.incident,
            text(item, "size"),
            text(item, "sha256")
        )
    })
}

/// Why a server hung up on an upload, when it refuses it by its announced length or by who is
/// asking: the same request head again, with a body that never comes, is answered before any
/// of it is read. (A server that refuses early and closes with the rest of the upload unread
/// makes the kernel reset the connection, which can lose the refusal it sent.) `None` when the
/// server does not refuse it that way.
async fn refusal_by_length(
    client: &Client,
    path: &str,
    content_type: HeaderValue,
    content_length: HeaderValue,
) -> Option<Failure> {
    let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let response = client
        .request(Method::POST, path)
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, content_length)
        .body(reqwest::Body::wrap_stream(never))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = response.status();
    if status.is_success() {
        return None;
    }
    Some(failure(status, &response.text().await.unwrap_or_default()))
}

/// `sitrep evidence list`: every item, then its provenance and chain of custody.
async fn list(client: &Client, incident: &str) -> Outcome {
    let listing = client.get(&format!("{}/evidence", incident_path(incident))).await?;
    client.say(&listing, |listing| {
        let items = listing["evidence"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return format!("No evidence on {incident}.");
        }
        items.iter().map(item_lines).collect::<Vec<_>>().join("\n")
    })
}

/// One item: `sha256  size  name  [type]`, its provenance, then a line per custody event.
fn item_lines(item: &Value) -> String {
    let shown = |key: &str| one_line(&text(item, key));
    let media = [shown("sniffed_type"), shown("declared_type")].into_iter().find(|t| !t.is_empty());
    let mut lines = vec![format!(
        "{}  {:>12} B  {}{}",
        shown("sha256"),
        shown("size"),
        shown("name"),
        media.map(|m| format!("  [{m}]")).unwrap_or_default()
    )];
    let mut provenance = Vec::new();
    if !shown("source").is_empty() {
        provenance.push(format!("source: {}", shown("source")));
    }
    match (shown("collected_by"), shown("collected_at")) {
        (by, at) if by.is_empty() && at.is_empty() => {}
        (by, at) if at.is_empty() => provenance.push(format!("collected by {by}")),
        (by, at) if by.is_empty() => provenance.push(format!("collected at {at}")),
        (by, at) => provenance.push(format!("collected by {by} at {at}")),
    }
    provenance.push(format!("registered by {} at {}", shown("registered_by"), shown("received_at")));
    lines.push(format!("    {}", provenance.join(" · ")));
    let custody = item["custody"].as_array().cloned().unwrap_or_default();
    if custody.is_empty() {
        lines.push("    custody: not accessed since it was registered".to_owned());
    }
    for event in &custody {
        let share = match text(event, "share") {
            share if share.is_empty() => String::new(),
            share => format!(" through {}", one_line(&share)),
        };
        lines.push(format!(
            "    custody: {} {}{share}: {}",
            one_line(&text(event, "at")),
            one_line(&text(event, "by")),
            one_line(&text(event, "purpose"))
        ));
    }
    for failure in item["integrity_failures"].as_array().into_iter().flatten() {
        lines.push(format!(
            "    INTEGRITY FAILURE {}: {}",
            one_line(&text(failure, "at")),
            one_line(&text(failure, "text"))
        ));
    }
    lines.join("\n")
}

/// A file name for `name` that is safe to create in the current directory: its last path
/// component, letters, digits, `.`, `-`, `_` and spaces only, never hidden, never empty.
fn safe_file_name(name: &str, sha256: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .take(120)
        .collect();
    let kept = kept.trim_start_matches(['.', ' ']).trim_end();
    if kept.is_empty() || kept.chars().all(|c| c == '_') { sha256.to_owned() } else { kept.to_owned() }
}

/// `sitrep evidence get`: asks for the item with a purpose (a custody entry), streams it to a
/// temporary file beside the target, re-reads what was written, and renames it into place only
/// when it hashes to the SHA-256 asked for.
async fn download(
    client: &Client,
    incident: &str,
    sha256: &str,
    purpose: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Outcome {
    let sha256 = sha256.to_ascii_lowercase();
    if !sitrep_core::entry::is_sha256(&sha256) {
        return Err(Failure::usage(format!("'{}' is not a SHA-256 (64 hex digits)", one_line(&sha256))));
    }
    if purpose.trim().is_empty() {
        return Err(Failure::usage("--purpose is empty: say why you need it; it is recorded"));
    }
    // Where it goes is settled before asking, so no download is recorded that cannot be kept.
    let target = match output {
        Some(path) => path,
        None => {
            let listing = client.get(&format!("{}/evidence", incident_path(incident))).await?;
            let item = listing["evidence"]
                .as_array()
                .and_then(|items| items.iter().find(|item| item["sha256"] == sha256.as_str()))
                .ok_or_else(|| Failure {
                    code: Exit::NotFound,
                    message: format!("{incident} has no evidence {sha256}; `sitrep evidence list {incident}` shows it"),
                })?;
            PathBuf::from(safe_file_name(&text(item, "name"), &sha256))
        }
    };
    if !force && std::fs::symlink_metadata(&target).is_ok() {
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
        .prefix(".sitrep-download-")
        .tempfile_in(&directory)
        .map_err(|e| Failure::usage(format!("cannot write in {}: {e}", directory.display())))?;

    let path = format!("{}/evidence/{}?purpose={}", incident_path(incident), urlencode(&sha256), urlencode(purpose));
    let response = client.request(Method::GET, &path).send().await.map_err(|e| Failure {
        code: Exit::Unavailable,
        message: one_line(&format!("cannot reach {}: {}", client.base, root_cause(&e))),
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(failure(status, &response.text().await.unwrap_or_default()));
    }
    let cut_off = |detail: String| Failure {
        code: Exit::Unavailable,
        message: one_line(&format!("the download of {sha256} was cut off: {detail}; nothing was kept")),
    };
    let bar = progress(client, response.content_length().unwrap_or(0), "downloading");
    let writing = temp.as_file().try_clone().map_err(local(temp.path()))?;
    let mut file = tokio::fs::File::from_std(writing);
    let mut received = Sha256::new();
    let mut size = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| cut_off(root_cause(&e)))?;
        received.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(local(temp.path()))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    file.flush().await.map_err(local(temp.path()))?;
    file.sync_all().await.map_err(local(temp.path()))?;
    drop(file);

    let received = hex::encode(received.finalize());
    let reread = temp.path().to_owned();
    let written = tokio::task::spawn_blocking(move || hash_file(&reread))
        .await
        .map_err(|e| Failure::usage(e.to_string()))?
        .map_err(local(temp.path()))?;
    if received != sha256 || written != sha256 {
        return Err(Failure {
            code: Exit::Unavailable,
            message: one_line(&format!(
                "the download does not match its hash: asked for {sha256}, received bytes hashing to {received}, \
                 wrote bytes hashing to {written}; nothing was kept"
            )),
        });
    }
    let kept = if force { temp.persist(&target) } else { temp.persist_noclobber(&target) };
    kept.map_err(|e| Failure::usage(format!("{}: {}", target.display(), e.error)))?;
    let answer = json!({
        "incident": incident, "sha256": sha256, "size": size, "path": target.display().to_string(), "verified": true,
    });
    client.say(&answer, |_| {
        format!("Saved {sha256} from {incident} to {}: {size} bytes, sha256 checked.", target.display())
    })
}

/// The SHA-256 of a file as it now is on disk.
fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloaded_names_cannot_leave_the_directory_or_hide() {
        let sha = "a".repeat(64);
        assert_eq!(safe_file_name("../../etc/passwd", &sha), "passwd");
        assert_eq!(safe_file_name("/etc/shadow", &sha), "shadow");
        assert_eq!(safe_file_name("C:\\Windows\\evil.bat", &sha), "evil.bat");
        assert_eq!(safe_file_name("..", &sha), sha);
        assert_eq!(safe_file_name(".bashrc", &sha), "bashrc");
        assert_eq!(safe_file_name("", &sha), sha);
        assert_eq!(safe_file_name("evil\u{202e}fdp.exe", &sha), "evil_fdp.exe");
        assert_eq!(safe_file_name("a\0b", &sha), "a_b");
        assert_eq!(safe_file_name(&"x".repeat(500), &sha).len(), 120);
    }

    #[test]
    fn media_types_come_from_the_extension() {
        assert_eq!(guess_type("cloudtrail.JSON"), "application/json");
        assert_eq!(guess_type("capture.pcap"), "application/vnd.tcpdump.pcap");
        assert_eq!(guess_type("noextension"), "application/octet-stream");
    }
}
